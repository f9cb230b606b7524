/* ws-counting-output-stream.h — the output stream under a WebSocket tunnel:
 * it batches writes and counts what reached the base stream.
 *
 * Batching: a WsCountingOutputStream accepts writes (whole WebSocket
 * frames, ws_counting_output_stream_write_frame(), or a GIO writer's
 * buffers) into a batch (up to a limit,
 * 64 KiB unless set lower) and writes the whole batch to the base stream
 * once per main-loop iteration, from the prepare step of one GSource per
 * GMainContext (the "flusher"), i.e. after the iteration's dispatches and
 * before the context polls again. A burst of frames (the acks libslirp
 * sends for a burst of segments, the frames a TAP read loop pushes) then
 * costs one send() and one wakeup of the peer instead of one each. Writes
 * report G_IO_ERROR_WOULD_BLOCK only while the batch is full and the base
 * stream does not take it; a batch the base stream refuses is retried when
 * the base stream becomes writable. A write of at least the limit on an
 * empty batch goes straight to the base stream. close_async() writes out
 * the batch (waiting a bounded time for the base stream) before it
 * completes, so a close frame queued last is not lost; the synchronous
 * close writes what the base stream takes without blocking.
 *
 * Frames: ws_counting_output_stream_write_frame() frames a payload (a
 * binary message, a pong, a close frame) and adds it to the batch
 * directly, whole; ws_counting_output_stream_write_frame_parts() does
 * the same for a payload given as a header and a body, so that the
 * caller need not join them first. A GIO writer's own writes are taken
 * whole or not at all, so the two never interleave within a frame.
 *
 * Counting: the stream adds the bytes the BASE stream accepted to a running
 * total. The WebSocket tunnel compares it with the bytes it wrote to know
 * how much is still queued.
 *
 * The stream is pollable whenever the base stream is. It must be created
 * and used from the thread that runs the thread-default main context at
 * creation time. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define WS_TYPE_COUNTING_OUTPUT_STREAM (ws_counting_output_stream_get_type ())
G_DECLARE_FINAL_TYPE (WsCountingOutputStream, ws_counting_output_stream, WS,
                      COUNTING_OUTPUT_STREAM, GFilterOutputStream)

/* The default (and largest) batch. */
#define WS_COUNTING_BATCH_MAX (64 * 1024)

/**
 * WsWrittenFunc:
 * @stream: the stream
 * @total: bytes written to the base stream so far
 * @user_data: data given to ws_counting_output_stream_set_written_func()
 *
 * Called after each write to the base stream that made progress. It runs
 * inside a write or inside the main loop's prepare step, so it
 * must not write to the stream, send on the connection or iterate the
 * main context itself: defer such work to the main loop.
 */
typedef void (*WsWrittenFunc) (WsCountingOutputStream *stream, guint64 total, gpointer user_data);

WsCountingOutputStream *ws_counting_output_stream_new (GOutputStream *base);
guint64 ws_counting_output_stream_get_written (WsCountingOutputStream *self);
gsize ws_counting_output_stream_get_batched (WsCountingOutputStream *self);
void ws_counting_output_stream_set_batch_limit (WsCountingOutputStream *self, gsize limit);
void ws_counting_output_stream_set_written_func (WsCountingOutputStream *self, WsWrittenFunc func,
                                                 gpointer user_data);
void ws_counting_output_stream_write_frame (WsCountingOutputStream *self, guint8 opcode,
                                            const guint8 *payload, gsize len, const guint8 *mask);
void ws_counting_output_stream_write_message (WsCountingOutputStream *self, const guint8 *payload,
                                              gsize len, const guint8 *mask);
void ws_counting_output_stream_write_frame_parts (WsCountingOutputStream *self, guint8 opcode,
                                                  const guint8 *head, gsize head_len,
                                                  const guint8 *body, gsize body_len,
                                                  const guint8 *mask);

G_END_DECLS
