/* ws-counting-output-stream.h — an output stream that counts what it wrote.
 *
 * WsCountingOutputStream passes every write through to its base stream and
 * adds the number of bytes the base stream accepted to a running total. It
 * is pollable whenever the base stream is, which SoupWebsocketConnection
 * requires. The WebSocket tunnel compares the total with the bytes it handed
 * to libsoup to know how much libsoup still holds in its send queue, for
 * which libsoup has no public API. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WS_TYPE_COUNTING_OUTPUT_STREAM (ws_counting_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (WsCountingOutputStream, ws_counting_output_stream, WS,
                      COUNTING_OUTPUT_STREAM, GFilterOutputStream)

/**
 * WsWrittenFunc:
 * @stream: the stream
 * @total: bytes written so far
 * @user_data: data given to ws_counting_output_stream_set_written_func()
 *
 * Called after each write that made progress. It runs inside the writer's
 * call (libsoup's), so it must not write to the stream or send on the
 * connection itself: defer such work to the main loop.
 */
typedef void (*WsWrittenFunc) (WsCountingOutputStream *stream, guint64 total, gpointer user_data);

WsCountingOutputStream *ws_counting_output_stream_new (GOutputStream *base);
guint64 ws_counting_output_stream_get_written (WsCountingOutputStream *self);
void ws_counting_output_stream_set_written_func (WsCountingOutputStream *self, WsWrittenFunc func,
                                                 gpointer user_data);

G_END_DECLS
