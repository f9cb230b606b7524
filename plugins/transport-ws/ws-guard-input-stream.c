/* ws-guard-input-stream.c — follows WebSocket frame headers on the way in
 * and drops data frames that would make a message too big. See the header. */
#include <string.h>

#include "ws-guard-input-stream.h"
#include "ws-source.h"

/* Longest frame header: 2 bytes, 8 bytes of extended length, 4 of mask. */
#define MAX_HEADER_LEN 14
#define MAX_CONTROL_PAYLOAD 125
#define OPCODE_PING 0x9
/* Reads from the base stream in one non-blocking call that yield nothing to
 * hand on (all dropped) before the guard gives way to the main loop. */
#define MAX_READS_PER_CALL 16
/* Bytes handed on in a row before a non-blocking read answers WOULD_BLOCK.
 * libsoup reads until the stream would block, so without this a peer that
 * sends faster than the daemon processes would keep the main loop inside
 * one connection; with it, every other source runs between two slices.
 * The slice also sets how much the tunnel processes before the frames it
 * answered with (libslirp's acks, mostly) are written out: the batch goes
 * when the main loop iterates. 16 KiB (about 11 full-size frames) lets the
 * peer's TCP see acks while the rest of its window is still being
 * processed; 64 KiB measured ~20 % less upload throughput (bench/). */
#define YIELD_AFTER_BYTES (16 * 1024)

struct _WsGuardInputStream
{
  GFilterInputStream parent_instance;

  guint64 max_message;          /* bound on a data message, in payload bytes */

  guint8 *buffer;               /* WS_GUARD_BUFFER_LEN bytes while it holds any, else NULL */
  gsize start;                  /* first byte not yet looked at */
  gsize end;                    /* end of the bytes read */

  guint8 header[MAX_HEADER_LEN];
  gsize header_len;             /* header bytes gathered so far */
  gsize emit_pos;               /* header bytes already handed on, when passing */
  gsize emit_len;               /* header bytes to hand on (0: none) */

  guint64 payload_left;         /* payload bytes of the current frame still to come */
  gboolean passing;             /* whether the current frame is handed on */

  gsize since_yield;            /* bytes handed on since the last WOULD_BLOCK */

  guint64 message_len;          /* payload of the data message being fragmented */
  gboolean tripped;
  guint64 discarded;            /* payload bytes dropped */

  WsGuardTripFunc trip_func;
  WsGuardPingFunc ping_func;
  gpointer func_data;
};

static void ws_guard_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WsGuardInputStream, ws_guard_input_stream, G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      ws_guard_input_stream_pollable_init))

static GInputStream *
base_of (gpointer self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* How long the header is, once its first two bytes are known. */
static gsize
header_length (const guint8 *h)
{
  gsize len = 2;

  if ((h[1] & 0x7f) == 126)
    len += 2;
  else if ((h[1] & 0x7f) == 127)
    len += 8;
  if (h[1] & 0x80)
    len += 4;
  return len;
}

static guint64
payload_length (const guint8 *h)
{
  guint64 len = h[1] & 0x7f;

  if (len == 126)
    return (guint64) h[2] << 8 | h[3];
  if (len == 127)
    {
      len = 0;
      for (int i = 2; i < 10; i++)
        len = len << 8 | h[i];
    }
  return len;
}

static void
trip (WsGuardInputStream *self, WsGuardTrip why, guint64 size)
{
  if (self->tripped)
    return;
  self->tripped = TRUE;
  if (self->trip_func)
    self->trip_func (self, why, size, self->func_data);
}

/* A whole header has been gathered: decide whether its frame goes on. */
static void
header_complete (WsGuardInputStream *self)
{
  const guint8 *h = self->header;
  gboolean fin = (h[0] & 0x80) != 0;
  guint8 opcode = h[0] & 0x0f;
  guint64 len = payload_length (h);

  self->payload_left = len;
  if (opcode & 0x8)
    {
      /* Control frame: close, ping, pong (and reserved ones, which libsoup
       * refuses itself). */
      if (!fin || len > MAX_CONTROL_PAYLOAD)
        {
          trip (self, WS_GUARD_TRIP_BAD_CONTROL, len);
          self->passing = FALSE;
        }
      else
        {
          self->passing = TRUE;
          if (opcode == OPCODE_PING && self->ping_func)
            self->ping_func (self, (gsize) len, self->func_data);
        }
    }
  else if (self->tripped)
    self->passing = FALSE;
  else
    {
      /* Data frame: opcode 0 continues the message, others start one. */
      guint64 before = opcode == 0 ? self->message_len : 0;

      if (self->max_message > 0 && len > self->max_message - MIN (before, self->max_message))
        {
          trip (self, WS_GUARD_TRIP_MESSAGE_TOO_BIG, before + MIN (len, G_MAXUINT64 - before));
          self->passing = FALSE;
        }
      else
        {
          self->passing = TRUE;
          self->message_len = fin ? 0 : before + len;
        }
    }

  if (self->passing)
    {
      self->emit_len = self->header_len;
      self->emit_pos = 0;
    }
  self->header_len = 0;
}

/* Moves what can be handed on from the read buffer into @out. */
static gsize
produce (WsGuardInputStream *self, guint8 *out, gsize count)
{
  gsize produced = 0;

  while (produced < count)
    {
      if (self->emit_pos < self->emit_len)
        {
          gsize n = MIN (self->emit_len - self->emit_pos, count - produced);

          memcpy (out + produced, self->header + self->emit_pos, n);
          self->emit_pos += n;
          produced += n;
          if (self->emit_pos == self->emit_len)
            self->emit_pos = self->emit_len = 0;
          continue;
        }
      if (self->start == self->end)
        break;

      if (self->payload_left > 0)
        {
          gsize avail = self->end - self->start;
          gsize n = (gsize) MIN (self->payload_left, (guint64) avail);

          if (self->passing)
            {
              n = MIN (n, count - produced);
              memcpy (out + produced, self->buffer + self->start, n);
              produced += n;
            }
          else
            self->discarded += n;
          self->start += n;
          self->payload_left -= n;
          continue;
        }

      self->header[self->header_len++] = self->buffer[self->start++];
      if (self->header_len >= 2 && self->header_len == header_length (self->header))
        header_complete (self);
    }
  return produced;
}

static gboolean
has_output (WsGuardInputStream *self)
{
  /* Unprocessed bytes may all be dropped, in which case the reader gets
   * WOULD_BLOCK and polls again: harmless. */
  return self->emit_pos < self->emit_len || self->start < self->end;
}

static gssize
guard_read (WsGuardInputStream *self, void *buffer, gsize count, gboolean blocking,
            GCancellable *cancellable, GError **error)
{
  gsize produced;

  if (count == 0)
    return 0;
  if (!blocking && self->since_yield >= YIELD_AFTER_BYTES)
    {
      self->since_yield = 0;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                           "giving way to the main loop");
      return -1;
    }
  produced = produce (self, buffer, count);
  for (guint reads = 0; produced == 0; reads++)
    {
      gssize n;

      /* Dropping a long frame must not keep the main loop here: give way
       * after a few buffers and let the poll source call again. */
      if (!blocking && reads == MAX_READS_PER_CALL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                               "discarding an oversized frame");
          return -1;
        }

      self->start = self->end = 0;
      if (self->buffer == NULL)
        self->buffer = g_malloc (WS_GUARD_BUFFER_LEN);
      if (blocking)
        n = g_input_stream_read (base_of (self), self->buffer, WS_GUARD_BUFFER_LEN, cancellable,
                                 error);
      else
        n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)),
                                                      self->buffer, WS_GUARD_BUFFER_LEN,
                                                      cancellable, error);
      if (n <= 0)
        {
          g_clear_pointer (&self->buffer, g_free);
          if (n < 0)
            self->since_yield = 0;
          return n;
        }
      self->end = (gsize) n;
      produced = produce (self, buffer, count);
    }
  /* An idle connection holds no read buffer. */
  if (self->start == self->end)
    g_clear_pointer (&self->buffer, g_free);
  self->since_yield += produced;
  return (gssize) produced;
}

static gssize
ws_guard_input_stream_read (GInputStream *stream, void *buffer, gsize count,
                            GCancellable *cancellable, GError **error)
{
  return guard_read (WS_GUARD_INPUT_STREAM (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
ws_guard_input_stream_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                                        GError **error)
{
  return guard_read (WS_GUARD_INPUT_STREAM (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
ws_guard_input_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_of (stream);

  return G_IS_POLLABLE_INPUT_STREAM (base)
         && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
ws_guard_input_stream_is_readable (GPollableInputStream *stream)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);

  return has_output (self)
         || g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self)));
}

static GSource *
ws_guard_input_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);
  g_autoptr (GSource) child = NULL;

  /* Buffered bytes make the stream readable now, whatever the socket says. */
  if (has_output (self))
    child = g_timeout_source_new (0);
  else
    child = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of (self)), NULL);
  return ws_source_recursable (g_pollable_source_new_full (stream, child, cancellable), child);
}

static void
ws_guard_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = ws_guard_input_stream_can_poll;
  iface->is_readable = ws_guard_input_stream_is_readable;
  iface->create_source = ws_guard_input_stream_create_source;
  iface->read_nonblocking = ws_guard_input_stream_read_nonblocking;
}

/* Closing the guard touches no file descriptor (the base stream stays open
 * for its owner): done in the caller's thread, where GInputStream's default
 * would hand it to a worker thread for every connection that ends. */
static void
ws_guard_input_stream_close_async (GInputStream *stream, int io_priority,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, ws_guard_input_stream_close_async);
  self->start = self->end = 0;
  g_clear_pointer (&self->buffer, g_free);
  if (G_INPUT_STREAM_CLASS (ws_guard_input_stream_parent_class)
          ->close_fn (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
ws_guard_input_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
ws_guard_input_stream_finalize (GObject *object)
{
  g_free (WS_GUARD_INPUT_STREAM (object)->buffer);
  G_OBJECT_CLASS (ws_guard_input_stream_parent_class)->finalize (object);
}

static void
ws_guard_input_stream_class_init (WsGuardInputStreamClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->finalize = ws_guard_input_stream_finalize;
  stream_class->read_fn = ws_guard_input_stream_read;
  stream_class->close_async = ws_guard_input_stream_close_async;
  stream_class->close_finish = ws_guard_input_stream_close_finish;
}

static void
ws_guard_input_stream_init (WsGuardInputStream *self)
{
}

/**
 * ws_guard_input_stream_new:
 * @base: a pollable input stream
 * @max_message: largest data message in payload bytes (0: no bound)
 * @prefix: (nullable): bytes to deliver before any read from @base (at
 *   most %WS_GUARD_BUFFER_LEN)
 *
 * The base stream is not closed with the guard.
 *
 * Returns: (transfer full): a guard over @base.
 */
WsGuardInputStream *
ws_guard_input_stream_new (GInputStream *base, guint64 max_message, GBytes *prefix)
{
  WsGuardInputStream *self = g_object_new (WS_TYPE_GUARD_INPUT_STREAM, "base-stream", base,
                                           "close-base-stream", FALSE, NULL);

  self->max_message = max_message;
  if (prefix != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (prefix, &len);

      g_return_val_if_fail (len <= WS_GUARD_BUFFER_LEN, self);
      if (len > 0)
        {
          self->buffer = g_malloc (WS_GUARD_BUFFER_LEN);
          memcpy (self->buffer, data, len);
        }
      self->end = len;
    }
  return self;
}

/**
 * ws_guard_input_stream_set_funcs:
 * @self: a guard
 * @trip_func: (nullable): called once when the guard trips
 * @ping_func: (nullable): called for each ping frame
 * @user_data: passed to both
 *
 * Installs (or removes) the callbacks.
 */
void
ws_guard_input_stream_set_funcs (WsGuardInputStream *self, WsGuardTripFunc trip_func,
                                 WsGuardPingFunc ping_func, gpointer user_data)
{
  g_return_if_fail (WS_IS_GUARD_INPUT_STREAM (self));
  self->trip_func = trip_func;
  self->ping_func = ping_func;
  self->func_data = user_data;
}

/**
 * ws_guard_input_stream_is_tripped:
 * @self: a guard
 *
 * Returns: whether a message was refused.
 */
gboolean
ws_guard_input_stream_is_tripped (WsGuardInputStream *self)
{
  g_return_val_if_fail (WS_IS_GUARD_INPUT_STREAM (self), FALSE);
  return self->tripped;
}

/**
 * ws_guard_input_stream_get_discarded:
 * @self: a guard
 *
 * Returns: payload bytes dropped since the guard tripped.
 */
guint64
ws_guard_input_stream_get_discarded (WsGuardInputStream *self)
{
  g_return_val_if_fail (WS_IS_GUARD_INPUT_STREAM (self), 0);
  return self->discarded;
}
