/* ws-counting-output-stream.c — batches writes per main-loop iteration and
 * counts what reached the base stream. See the header. */
#include <string.h>

#include "ws-counting-output-stream.h"
#include "ws-frame.h"
#include "ws-source.h"

/* How long close_async() waits for the base stream to take the batch. */
#define CLOSE_FLUSH_TIMEOUT_MS 2000

/* One per GMainContext: its prepare step writes out every stream that
 * batched something during the iteration that just ended. */
typedef struct
{
  GSource source;
  GMainContext *context;
  guint users;        /* streams created on this context */
  GPtrArray *pending; /* WsCountingOutputStream, one reference each */
} Flusher;

struct _WsCountingOutputStream
{
  GFilterOutputStream parent_instance;

  guint64 written;
  WsWrittenFunc written_func;
  gpointer written_data;

  Flusher *flusher;
  GByteArray *batch;       /* accepted, not yet written; NULL while empty */
  gsize batch_start;       /* first byte of @batch not yet written */
  gsize batch_limit;
  gsize refused;           /* size of the last write refused for want of room */
  gboolean queued;         /* in flusher->pending */
  GSource *writable;       /* waits for the base stream to take more */
  GError *error;           /* a base write failed: later writes fail too */

  GTask *close_task;       /* close_async() waiting for the batch to go out */
  GSource *close_timeout;
};

static void ws_counting_output_stream_pollable_init (GPollableOutputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WsCountingOutputStream, ws_counting_output_stream,
                               G_TYPE_FILTER_OUTPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_OUTPUT_STREAM,
                                                      ws_counting_output_stream_pollable_init))

static GOutputStream *
base_of (gpointer self)
{
  return g_filter_output_stream_get_base_stream (G_FILTER_OUTPUT_STREAM (self));
}

static gsize
batched (WsCountingOutputStream *self)
{
  return self->batch ? self->batch->len - self->batch_start : 0;
}

static void
count (WsCountingOutputStream *self, gssize n)
{
  if (n <= 0)
    return;
  self->written += (guint64) n;
  if (self->written_func)
    self->written_func (self, self->written, self->written_data);
}

/* ---- the per-context flusher ----------------------------------------------- */

static GMutex flushers_lock;
static GHashTable *flushers; /* GMainContext → Flusher */

static void flush_batch (WsCountingOutputStream *self);

static gboolean
flusher_prepare (GSource *source, gint *timeout)
{
  Flusher *flusher = (Flusher *) source;

  *timeout = -1;
  if (flusher->pending->len > 0)
    {
      /* Writes made while flushing (none expected) land in a fresh array,
       * taken by the next iteration, which then does not wait. */
      g_autoptr (GPtrArray) round = flusher->pending;

      flusher->pending = g_ptr_array_new_with_free_func (g_object_unref);
      for (guint i = 0; i < round->len; i++)
        {
          WsCountingOutputStream *stream = g_ptr_array_index (round, i);

          stream->queued = FALSE;
          flush_batch (stream);
        }
      if (flusher->pending->len > 0)
        *timeout = 0;
    }
  return FALSE;
}

static gboolean
flusher_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
flusher_finalize (GSource *source)
{
  Flusher *flusher = (Flusher *) source;

  g_ptr_array_unref (flusher->pending);
}

static GSourceFuncs flusher_funcs = {
  .prepare = flusher_prepare,
  .dispatch = flusher_dispatch,
  .finalize = flusher_finalize,
};

static Flusher *
flusher_acquire (GMainContext *context)
{
  Flusher *flusher;

  g_mutex_lock (&flushers_lock);
  if (flushers == NULL)
    flushers = g_hash_table_new (NULL, NULL);
  flusher = g_hash_table_lookup (flushers, context);
  if (flusher == NULL)
    {
      flusher = (Flusher *) g_source_new (&flusher_funcs, sizeof (Flusher));
      flusher->context = context;
      flusher->pending = g_ptr_array_new_with_free_func (g_object_unref);
      g_source_set_static_name (&flusher->source, "WebSocket write batches");
      /* Before every other source, so that its prepare always runs. */
      g_source_set_priority (&flusher->source, G_PRIORITY_HIGH - 1);
      g_source_attach (&flusher->source, context);
      g_hash_table_insert (flushers, context, flusher);
    }
  flusher->users++;
  g_mutex_unlock (&flushers_lock);
  return flusher;
}

static void
flusher_release (Flusher *flusher)
{
  g_mutex_lock (&flushers_lock);
  if (--flusher->users == 0)
    {
      g_hash_table_remove (flushers, flusher->context);
      g_source_destroy (&flusher->source);
      g_source_unref (&flusher->source);
    }
  g_mutex_unlock (&flushers_lock);
}

/* Destroys and drops a source this stream attached, if any. */
static void
stop_source (GSource **source)
{
  if (*source == NULL)
    return;
  g_source_destroy (*source);
  g_clear_pointer (source, g_source_unref);
}

static void
queue_flush (WsCountingOutputStream *self)
{
  if (self->queued || self->writable != NULL)
    return;
  self->queued = TRUE;
  g_ptr_array_add (self->flusher->pending, g_object_ref (self));
}

/* ---- writing the batch ------------------------------------------------------- */

static void close_complete (WsCountingOutputStream *self);

static gboolean
writable_cb (GObject *base, gpointer user_data)
{
  WsCountingOutputStream *self = user_data;

  g_clear_pointer (&self->writable, g_source_unref);
  flush_batch (self);
  return G_SOURCE_REMOVE;
}

static void
drop_batch (WsCountingOutputStream *self)
{
  g_clear_pointer (&self->batch, g_byte_array_unref);
  self->batch_start = 0;
}

/* Writes as much of the batch as the base stream takes now; waits for it
 * to become writable if it takes less. */
static void
flush_batch (WsCountingOutputStream *self)
{
  while (batched (self) > 0 && self->error == NULL)
    {
      GError *error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (
          G_POLLABLE_OUTPUT_STREAM (base_of (self)), self->batch->data + self->batch_start,
          batched (self), NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_error_free (error);
          if (self->writable == NULL)
            {
              self->writable = g_pollable_output_stream_create_source (
                  G_POLLABLE_OUTPUT_STREAM (base_of (self)), NULL);
              g_source_set_static_name (self->writable, "WebSocket batch writable");
              g_source_set_callback (self->writable, (GSourceFunc) (void (*) (void)) writable_cb,
                                     g_object_ref (self), g_object_unref);
              g_source_attach (self->writable, self->flusher->context);
            }
          return;
        }
      if (n < 0)
        {
          self->error = error;
          break;
        }
      self->batch_start += (gsize) n;
      count (self, n);
    }
  drop_batch (self);
  stop_source (&self->writable);
  if (self->close_task)
    close_complete (self);
}

/* ---- GOutputStream ------------------------------------------------------------ */

static gssize
ws_counting_output_stream_write (GOutputStream *stream, const void *buffer, gsize size,
                                 GCancellable *cancellable, GError **error)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);
  gssize n;

  /* Blocking writes (not libsoup's) keep the order: the batch goes first. */
  if (batched (self) > 0 && self->error == NULL)
    {
      gsize done = 0;
      gboolean ok = g_output_stream_write_all (base_of (self), self->batch->data + self->batch_start,
                                               batched (self), &done, cancellable, error);

      self->batch_start += done;
      count (self, (gssize) done);
      if (!ok)
        return -1;
      drop_batch (self);
    }
  if (self->error)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  n = g_output_stream_write (base_of (self), buffer, size, cancellable, error);
  count (self, n);
  return n;
}

static gboolean
ws_counting_output_stream_close (GOutputStream *stream, GCancellable *cancellable, GError **error)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);

  /* Whatever the base stream takes without blocking; the rest is lost. */
  flush_batch (self);
  drop_batch (self);
  return G_OUTPUT_STREAM_CLASS (ws_counting_output_stream_parent_class)
      ->close_fn (stream, cancellable, error);
}

static void
close_complete (WsCountingOutputStream *self)
{
  g_autoptr (GTask) task = g_steal_pointer (&self->close_task);
  GError *error = NULL;

  stop_source (&self->close_timeout);
  drop_batch (self);
  if (G_OUTPUT_STREAM_CLASS (ws_counting_output_stream_parent_class)
          ->close_fn (G_OUTPUT_STREAM (self), NULL, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
close_timeout_cb (gpointer user_data)
{
  WsCountingOutputStream *self = user_data;

  g_clear_pointer (&self->close_timeout, g_source_unref);
  stop_source (&self->writable);
  close_complete (self);
  return G_SOURCE_REMOVE;
}

/* Runs in the caller's thread (not in a worker thread as GOutputStream's
 * default would), writes the batch out, and completes once it is gone or
 * after CLOSE_FLUSH_TIMEOUT_MS. */
static void
ws_counting_output_stream_close_async (GOutputStream *stream, int io_priority,
                                       GCancellable *cancellable, GAsyncReadyCallback callback,
                                       gpointer user_data)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);
  GTask *task = g_task_new (stream, cancellable, callback, user_data);

  g_task_set_source_tag (task, ws_counting_output_stream_close_async);
  g_return_if_fail (self->close_task == NULL);
  self->close_task = task;
  flush_batch (self); /* completes the task when the batch is gone */
  if (self->close_task != NULL && self->close_timeout == NULL)
    {
      self->close_timeout = g_timeout_source_new (CLOSE_FLUSH_TIMEOUT_MS);
      g_source_set_static_name (self->close_timeout, "WebSocket close flush timeout");
      g_source_set_callback (self->close_timeout, close_timeout_cb, g_object_ref (self),
                             g_object_unref);
      g_source_attach (self->close_timeout, self->flusher->context);
    }
}

static gboolean
ws_counting_output_stream_close_finish (GOutputStream *stream, GAsyncResult *result,
                                        GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* ---- GPollableOutputStream ---------------------------------------------------- */

static gboolean
ws_counting_output_stream_can_poll (GPollableOutputStream *stream)
{
  GOutputStream *base = base_of (stream);

  return G_IS_POLLABLE_OUTPUT_STREAM (base)
         && g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (base));
}

static gboolean
ws_counting_output_stream_is_writable (GPollableOutputStream *stream)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);

  /* After a refusal, writable when that write would fit. */
  if (self->refused > 0)
    return self->error != NULL || batched (self) == 0
           || batched (self) + self->refused <= self->batch_limit;
  return self->error != NULL || batched (self) < self->batch_limit;
}

static GSource *
ws_counting_output_stream_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);
  g_autoptr (GSource) child = NULL;

  /* Room in the batch: ready now. Otherwise when the base stream is. */
  if (ws_counting_output_stream_is_writable (stream))
    child = g_timeout_source_new (0);
  else
    child = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (base_of (self)),
                                                    NULL);
  return ws_source_recursable (g_pollable_source_new_full (stream, child, cancellable), child);
}

/* Room for @len more bytes at the end of the batch; returns where they go. */
static guint8 *
batch_grow (WsCountingOutputStream *self, gsize len)
{
  guint old;

  if (self->batch == NULL)
    self->batch = g_byte_array_sized_new ((guint) MAX (len, 4096));
  else if (self->batch_start > 0 && self->batch_start >= self->batch->len / 2)
    {
      g_byte_array_remove_range (self->batch, 0, (guint) self->batch_start);
      self->batch_start = 0;
    }
  old = self->batch->len;
  g_byte_array_set_size (self->batch, old + (guint) len);
  return self->batch->data + old;
}

/* Writes from libsoup are taken whole or not at all: a frame it wrote in
 * part would stay pending inside libsoup, and a message written with
 * ws_counting_output_stream_write_message() meanwhile would cut it. */
static gssize
ws_counting_output_stream_write_nonblocking (GPollableOutputStream *stream, const void *buffer,
                                             gsize size, GError **error)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);

  if (batched (self) > 0 && batched (self) + size > self->batch_limit)
    flush_batch (self);
  if (self->error)
    {
      g_propagate_error (error, g_error_copy (self->error));
      return -1;
    }
  if (batched (self) == 0 && size >= self->batch_limit)
    {
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (base_of (self)),
                                                             buffer, size, NULL, error);

      if (n <= 0)
        return n;
      self->refused = 0;
      count (self, n);
      if ((gsize) n < size)
        {
          memcpy (batch_grow (self, size - (gsize) n), (const guint8 *) buffer + n,
                  size - (gsize) n);
          queue_flush (self);
        }
      return (gssize) size;
    }
  if (batched (self) + size > self->batch_limit)
    {
      self->refused = size;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "batch full");
      return -1;
    }
  self->refused = 0;
  memcpy (batch_grow (self, size), buffer, size);
  queue_flush (self);
  return (gssize) size;
}

static void
ws_counting_output_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = ws_counting_output_stream_can_poll;
  iface->is_writable = ws_counting_output_stream_is_writable;
  iface->create_source = ws_counting_output_stream_create_source;
  iface->write_nonblocking = ws_counting_output_stream_write_nonblocking;
}

/* ---- GObject ------------------------------------------------------------------ */

static void
ws_counting_output_stream_dispose (GObject *object)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (object);

  stop_source (&self->writable);
  G_OBJECT_CLASS (ws_counting_output_stream_parent_class)->dispose (object);
}

static void
ws_counting_output_stream_finalize (GObject *object)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (object);

  drop_batch (self);
  g_clear_error (&self->error);
  flusher_release (self->flusher);
  G_OBJECT_CLASS (ws_counting_output_stream_parent_class)->finalize (object);
}

static void
ws_counting_output_stream_class_init (WsCountingOutputStreamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  object_class->dispose = ws_counting_output_stream_dispose;
  object_class->finalize = ws_counting_output_stream_finalize;
  stream_class->write_fn = ws_counting_output_stream_write;
  stream_class->close_fn = ws_counting_output_stream_close;
  stream_class->close_async = ws_counting_output_stream_close_async;
  stream_class->close_finish = ws_counting_output_stream_close_finish;
  /* No flush step: GOutputStream would run it in a worker thread before
   * close_async(); the batch is written out by close itself. */
  stream_class->flush = NULL;
  stream_class->flush_async = NULL;
  stream_class->flush_finish = NULL;
}

static void
ws_counting_output_stream_init (WsCountingOutputStream *self)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();

  self->batch_limit = WS_COUNTING_BATCH_MAX;
  self->flusher = flusher_acquire (context);
}

/**
 * ws_counting_output_stream_new:
 * @base: a pollable output stream
 *
 * The base stream is not closed with this one: whoever owns the
 * connection closes it. Batches are written out from the thread-default
 * main context of the caller.
 *
 * Returns: (transfer full): a counting stream over @base.
 */
WsCountingOutputStream *
ws_counting_output_stream_new (GOutputStream *base)
{
  return g_object_new (WS_TYPE_COUNTING_OUTPUT_STREAM, "base-stream", base, "close-base-stream",
                       FALSE, NULL);
}

/**
 * ws_counting_output_stream_get_written:
 * @self: a counting stream
 *
 * Returns: the bytes the base stream has accepted so far.
 */
guint64
ws_counting_output_stream_get_written (WsCountingOutputStream *self)
{
  g_return_val_if_fail (WS_IS_COUNTING_OUTPUT_STREAM (self), 0);
  return self->written;
}

/**
 * ws_counting_output_stream_get_batched:
 * @self: a counting stream
 *
 * Returns: the bytes accepted and not yet written to the base stream.
 */
gsize
ws_counting_output_stream_get_batched (WsCountingOutputStream *self)
{
  g_return_val_if_fail (WS_IS_COUNTING_OUTPUT_STREAM (self), 0);
  return batched (self);
}

/**
 * ws_counting_output_stream_set_batch_limit:
 * @self: a counting stream
 * @limit: bytes a batch may hold, 1 to %WS_COUNTING_BATCH_MAX
 *
 * Sets how much is accepted before writes report would-block (and how
 * large a write must be to bypass the batch).
 */
void
ws_counting_output_stream_set_batch_limit (WsCountingOutputStream *self, gsize limit)
{
  g_return_if_fail (WS_IS_COUNTING_OUTPUT_STREAM (self));
  self->batch_limit = CLAMP (limit, 1, WS_COUNTING_BATCH_MAX);
}

/**
 * ws_counting_output_stream_write_frame_parts:
 * @self: a counting stream
 * @opcode: the frame's opcode (binary, close, ping, pong)
 * @head: (nullable): the start of the payload (a protocol header), or %NULL
 * @head_len: its length
 * @body: the rest of the payload
 * @body_len: its length
 * @mask: (nullable): the 4-byte masking key (client side), or %NULL
 *
 * Writes one unfragmented WebSocket frame whose payload is @head followed
 * by @body, without joining them first: the frame header and the (masked)
 * payload are added to the batch whatever its limit, so the caller bounds
 * what it sends (the tunnel's send queue); a batch past the limit is
 * written out at once. Nothing is written after a write error or once
 * closing has begun.
 */
void
ws_counting_output_stream_write_frame_parts (WsCountingOutputStream *self, guint8 opcode,
                                             const guint8 *head, gsize head_len,
                                             const guint8 *body, gsize body_len,
                                             const guint8 *mask)
{
  gsize len = head_len + body_len;
  gsize header_len;
  guint8 *out;

  g_return_if_fail (WS_IS_COUNTING_OUTPUT_STREAM (self));
  if (self->error || self->close_task || g_output_stream_is_closed (G_OUTPUT_STREAM (self)))
    return;
  out = batch_grow (self, ws_frame_header_size (len, mask != NULL) + len);
  header_len = ws_frame_write_header (out, opcode, len, mask);
  out += header_len;
  if (mask)
    {
      ws_mask_copy (out, head, head_len, mask, 0);
      ws_mask_copy (out + head_len, body, body_len, mask, head_len);
    }
  else
    {
      if (head_len > 0)
        memcpy (out, head, head_len);
      if (body_len > 0)
        memcpy (out + head_len, body, body_len);
    }
  if (batched (self) >= self->batch_limit)
    flush_batch (self);
  else
    queue_flush (self);
}

/**
 * ws_counting_output_stream_write_frame:
 * @self: a counting stream
 * @opcode: the frame's opcode
 * @payload: the payload
 * @len: its length
 * @mask: (nullable): the 4-byte masking key (client side), or %NULL
 *
 * ws_counting_output_stream_write_frame_parts() with the whole payload in
 * one piece.
 */
void
ws_counting_output_stream_write_frame (WsCountingOutputStream *self, guint8 opcode,
                                       const guint8 *payload, gsize len, const guint8 *mask)
{
  ws_counting_output_stream_write_frame_parts (self, opcode, NULL, 0, payload, len, mask);
}

/**
 * ws_counting_output_stream_write_message:
 * @self: a counting stream
 * @payload: the message
 * @len: its length
 * @mask: (nullable): the 4-byte masking key (client side), or %NULL
 *
 * Writes one unfragmented binary message (ws_counting_output_stream_write_frame()).
 */
void
ws_counting_output_stream_write_message (WsCountingOutputStream *self, const guint8 *payload,
                                         gsize len, const guint8 *mask)
{
  ws_counting_output_stream_write_frame (self, 0x2, payload, len, mask);
}

/**
 * ws_counting_output_stream_set_written_func:
 * @self: a counting stream
 * @func: (nullable): called after each write that made progress
 * @user_data: passed to @func
 *
 * Installs (or removes, with %NULL) the progress callback.
 */
void
ws_counting_output_stream_set_written_func (WsCountingOutputStream *self, WsWrittenFunc func,
                                            gpointer user_data)
{
  g_return_if_fail (WS_IS_COUNTING_OUTPUT_STREAM (self));
  self->written_func = func;
  self->written_data = user_data;
}
