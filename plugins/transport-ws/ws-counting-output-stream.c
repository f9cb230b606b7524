/* ws-counting-output-stream.c — an output stream that counts what it wrote.
 * See the header for why the WebSocket tunnel needs it. */
#include "ws-counting-output-stream.h"

struct _WsCountingOutputStream
{
  GFilterOutputStream parent_instance;

  guint64 written;
  WsWrittenFunc written_func;
  gpointer written_data;
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

static void
count (WsCountingOutputStream *self, gssize n)
{
  if (n <= 0)
    return;
  self->written += (guint64) n;
  if (self->written_func)
    self->written_func (self, self->written, self->written_data);
}

static gssize
ws_counting_output_stream_write (GOutputStream *stream, const void *buffer, gsize size,
                                 GCancellable *cancellable, GError **error)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);
  gssize n = g_output_stream_write (base_of (self), buffer, size, cancellable, error);

  count (self, n);
  return n;
}

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
  return g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (base_of (stream)));
}

static GSource *
ws_counting_output_stream_create_source (GPollableOutputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) base_source = NULL;

  /* The base stream's source, wrapped so that callbacks see this stream. */
  base_source = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (base_of (stream)),
                                                        NULL);
  return g_pollable_source_new_full (stream, base_source, cancellable);
}

static gssize
ws_counting_output_stream_write_nonblocking (GPollableOutputStream *stream, const void *buffer,
                                             gsize size, GError **error)
{
  WsCountingOutputStream *self = WS_COUNTING_OUTPUT_STREAM (stream);
  gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (base_of (self)),
                                                         buffer, size, NULL, error);

  count (self, n);
  return n;
}

static void
ws_counting_output_stream_pollable_init (GPollableOutputStreamInterface *iface)
{
  iface->can_poll = ws_counting_output_stream_can_poll;
  iface->is_writable = ws_counting_output_stream_is_writable;
  iface->create_source = ws_counting_output_stream_create_source;
  iface->write_nonblocking = ws_counting_output_stream_write_nonblocking;
}

static void
ws_counting_output_stream_class_init (WsCountingOutputStreamClass *klass)
{
  GOutputStreamClass *stream_class = G_OUTPUT_STREAM_CLASS (klass);

  stream_class->write_fn = ws_counting_output_stream_write;
}

static void
ws_counting_output_stream_init (WsCountingOutputStream *self)
{
}

/**
 * ws_counting_output_stream_new:
 * @base: a pollable output stream
 *
 * The base stream is not closed with this one: whoever owns the
 * connection closes it.
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
