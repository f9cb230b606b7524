/* ws-tunnel.h — one aero-l2-tunnel-v1 tunnel over a WebSocket connection.
 *
 * WsTunnel is the channel transport-ws hands to the core, in both modes.
 * It is created before the WebSocket exists (the server opens the session
 * before it answers 101, so that it can still refuse with an HTTP status),
 * queues what the session sends meanwhile within the send-queue bound, and
 * is attached to the connection once there is one: a stolen server
 * connection or a dialled client connection. libsoup does the HTTP
 * upgrade; the WebSocket connection after it is the tunnel's own, over two
 * stream filters: a guard that reads the connection, bounds incoming
 * messages and hands binary messages straight to the tunnel, and a counter
 * that batches what the tunnel writes and counts what reached the socket,
 * from which the tunnel knows its send backlog. What the guard leaves
 * (control frames, text messages, frames that break RFC 6455) the tunnel
 * reads in stream order with a WsFrameReader: it answers pings, runs the
 * close handshake and answers a broken frame with the close code for it
 * (1002, 1007, 1009). Nothing of a tunnel sits in the main context's
 * source list while it is quiet.
 *
 * Receiving: FRAME messages go to the session without copying the payload;
 * PING is answered with PONG at once; PONG and ERROR are counted; unknown
 * types are ignored and counted. Text messages and messages that fail to
 * decode are violations: each is dropped and counted by reason, and the
 * max-violations'th closes the tunnel with ERROR protocol_error and close
 * code 1002. A message above the maximum message size closes it with 1009.
 *
 * Sending: a frame that would take the backlog past the send-queue bound is
 * dropped (AERO_FLOW_DROPPED). When the backlog falls below half the bound
 * after drops, the channel emits "ready". When drops go on past
 * backpressure-limit without the backlog ever falling below half, the
 * tunnel is closed with ERROR backpressure and close code 1008.
 *
 * Closing: a polite close sends the ERROR the reason calls for, then a
 * WebSocket close frame, and reports the channel closed when the peer's
 * close frame (or the end of the connection) has arrived and the batch is
 * written out, or after close-timeout, whichever comes first; on the
 * timeout the connection is dropped. A close frame from the peer is
 * answered with its code. "finished" is emitted once the connection
 * itself is gone. */
#pragma once

#include <libsoup/soup.h>
#include <aero-net/aero-net.h>

#include "ws-metrics.h"

G_BEGIN_DECLS

/**
 * WsTunnelOptions:
 * @limits: receive limits of the codec
 * @send_queue: send backlog bound in bytes (WebSocket framing included)
 * @backpressure_limit: drops tolerated without the backlog draining below half
 * @max_violations: violations that close the tunnel
 * @idle_timeout_ms: close after this long without a message (0: never)
 * @keepalive_ms: client only: PING interval (0: none); a PONG must arrive
 *   before the next one is due
 * @close_timeout_ms: longest wait for the close handshake
 *
 * Settings shared by every tunnel of one transport instance.
 */
typedef struct {
  AeroL2Limits limits;
  guint64 send_queue;
  guint64 backpressure_limit;
  guint64 max_violations;
  guint64 idle_timeout_ms;
  guint64 keepalive_ms;
  guint64 close_timeout_ms;
} WsTunnelOptions;

#define WS_TYPE_TUNNEL (ws_tunnel_get_type ())
G_DECLARE_FINAL_TYPE (WsTunnel, ws_tunnel, WS, TUNNEL, AeroChannel)

WsTunnel *ws_tunnel_new (const char *component, WsMetrics *metrics,
                         const WsTunnelOptions *options, gboolean client);
void ws_tunnel_attach (WsTunnel *self, GIOStream *stream, GSocket *socket, GBytes *prefix);
void ws_tunnel_fail (WsTunnel *self, AeroCloseReason reason, const char *why);
void ws_tunnel_abort (WsTunnel *self, AeroCloseReason reason, const char *why);
gboolean ws_tunnel_is_finished (WsTunnel *self);
guint64 ws_tunnel_get_backlog (WsTunnel *self);
/* The send backlog summed over a set of tunnels (a hash table keyed by
 * WsTunnel), in bytes. */
guint64 ws_tunnels_get_backlog (GHashTable *tunnels);
gsize ws_tunnel_wire_size (gsize payload_len, gboolean masked);

G_END_DECLS
