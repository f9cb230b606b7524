/* ws-guard-input-stream.h — reads a WebSocket connection and bounds its
 * messages before anything buffers them.
 *
 * A peer can send any number of continuation frames, each under a frame
 * limit, for one message (libsoup 3.2, for one, appends them all to one
 * buffer). WsGuardInputStream sits on the connection, in front of whatever
 * reads the WebSocket frames, and follows the frame headers of the byte
 * stream (it never looks at payloads). A data frame that would take its message
 * past the bound — on its own or added to the fragments before it — is
 * discarded as it arrives, never buffered, and the guard "trips": from then
 * on it drops every data frame and lets only control frames (close, ping,
 * pong) through, so that the closing handshake still works, and tells its
 * owner, which closes the connection. A control frame that is fragmented or
 * longer than 125 bytes (RFC 6455 §5.5) trips it too.
 *
 * It also reports each WebSocket ping frame: a pong is owed for each, and
 * the tunnel counts those bytes in its send backlog.
 *
 * Non-blocking reads hand on at most 16 KiB in a row before answering
 * WOULD_BLOCK once: libsoup reads until a stream would block, and a peer
 * sending faster than the daemon can process would otherwise keep the main
 * loop in that one connection, stalling every other tunnel.
 *
 * It can also take the data plane away from its reader
 * (ws_guard_input_stream_start_messages()): it then reads the connection
 * itself and hands binary messages straight to its owner; the reader sees
 * only the control frames, text messages and whatever breaks the rules.
 * The tunnel is that reader (ws_guard_input_stream_set_pass_func(): no
 * GSource for it); a GIO reader such as libsoup's WebSocket connection,
 * which stops and restarts a GSource on every read, gets a source that
 * the guard makes ready.
 *
 * Bytes read from the base stream go through a small buffer of its own;
 * the buffer can be primed with bytes that were read past the end of a
 * handshake. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/** WS_GUARD_BUFFER_LEN: size of the guard's read buffer and largest prefix. */
#define WS_GUARD_BUFFER_LEN (32 * 1024)

/**
 * WsGuardTrip:
 * @WS_GUARD_TRIP_MESSAGE_TOO_BIG: a data message above the bound.
 * @WS_GUARD_TRIP_BAD_CONTROL: a fragmented or oversized control frame.
 * @WS_GUARD_TRIP_BAD_FRAME: a new data message while a binary one taken
 *   out (ws_guard_input_stream_start_messages()) was still in fragments.
 *
 * Why the guard tripped.
 */
typedef enum {
  WS_GUARD_TRIP_MESSAGE_TOO_BIG,
  WS_GUARD_TRIP_BAD_CONTROL,
  WS_GUARD_TRIP_BAD_FRAME,
} WsGuardTrip;

#define WS_TYPE_GUARD_INPUT_STREAM (ws_guard_input_stream_get_type ())
G_DECLARE_FINAL_TYPE (WsGuardInputStream, ws_guard_input_stream, WS, GUARD_INPUT_STREAM,
                      GFilterInputStream)

/**
 * WsGuardTripFunc:
 * @stream: the guard
 * @why: what tripped it
 * @size: the message size that was refused (data), or the frame length (control)
 * @user_data: data given to ws_guard_input_stream_set_funcs()
 *
 * Called once, when the guard trips. It runs inside a read, that is inside
 * libsoup: do not touch the WebSocket connection from here; defer.
 */
typedef void (*WsGuardTripFunc) (WsGuardInputStream *stream, WsGuardTrip why, guint64 size,
                                 gpointer user_data);

/**
 * WsGuardPingFunc:
 * @stream: the guard
 * @payload_len: length of the ping's payload (at most 125)
 * @user_data: data given to ws_guard_input_stream_set_funcs()
 *
 * Called for each WebSocket ping frame let through (inside a read, like
 * #WsGuardTripFunc).
 */
typedef void (*WsGuardPingFunc) (WsGuardInputStream *stream, gsize payload_len,
                                 gpointer user_data);

/**
 * WsGuardMessageFunc:
 * @stream: the guard
 * @message: a whole binary message, unmasked
 * @user_data: data given to ws_guard_input_stream_set_funcs()
 */
typedef void (*WsGuardMessageFunc) (WsGuardInputStream *stream, GBytes *message,
                                    gpointer user_data);

/**
 * WsGuardPassFunc:
 * @stream: the guard
 * @user_data: data given to ws_guard_input_stream_set_pass_func()
 *
 * The guard has left something to read (ws_guard_input_stream_set_pass_func()):
 * called at the end of the guard's read, and before a binary message that
 * follows what it left in the stream.
 */
typedef void (*WsGuardPassFunc) (WsGuardInputStream *stream, gpointer user_data);

WsGuardInputStream *ws_guard_input_stream_new (GInputStream *base, guint64 max_message,
                                               GBytes *prefix);
void ws_guard_input_stream_set_funcs (WsGuardInputStream *self, WsGuardTripFunc trip_func,
                                      WsGuardPingFunc ping_func, gpointer user_data);
void ws_guard_input_stream_start_messages (WsGuardInputStream *self, WsGuardMessageFunc func,
                                           gboolean expect_masked, GSocket *socket);
void ws_guard_input_stream_set_pass_func (WsGuardInputStream *self, WsGuardPassFunc func,
                                          gpointer user_data);
gboolean ws_guard_input_stream_is_tripped (WsGuardInputStream *self);
guint64 ws_guard_input_stream_get_discarded (WsGuardInputStream *self);

G_END_DECLS
