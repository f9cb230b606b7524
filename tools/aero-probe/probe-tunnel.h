/* probe-tunnel.h — the client side of one aero-l2-tunnel-v1 WebSocket:
 * the upgrade (subprotocol, token, Origin, TLS), FRAME messages in and out
 * through the core's codec, answering the server's PINGs, timing our own
 * PING, collecting ERROR messages, and the closing handshake.
 *
 * aero-probe is sequential: each step sends something and then waits, on
 * the default main context, until a condition holds or its deadline
 * passes (probe_tunnel_wait). Received frames are handed to one frame
 * handler while waiting. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _ProbeTunnel ProbeTunnel;

typedef struct {
  const char *url;
  const char *origin; /* nullable */
  const char *token;  /* nullable: offered as aero-l2-token.<token> */
  gboolean insecure;  /* accept any TLS certificate */
  gboolean verbose;
} ProbeTunnelOptions;

typedef void (*ProbeFrameFunc) (const guint8 *frame, gsize len, gpointer user_data);
typedef gboolean (*ProbeCondFunc) (gpointer user_data);

typedef struct {
  guint64 frames_sent;
  guint64 frames_received;
  guint64 bytes_sent;     /* frame bytes, without the tunnel header */
  guint64 bytes_received; /* frame bytes, without the tunnel header */
  guint64 pings_answered;
  guint64 messages_dropped; /* undecodable, oversized or text messages */
  guint64 unknown_types;
} ProbeTunnelStats;

typedef struct {
  guint16 code; /* 0 for a text-only ERROR */
  char *message;
} ProbeTunnelError;

ProbeTunnel *probe_tunnel_new (const ProbeTunnelOptions *options);
void probe_tunnel_free (ProbeTunnel *tunnel);

/* The WebSocket upgrade. *HTTP_STATUS is the response status (0 when no
 * response arrived). Fails unless the server selected exactly
 * aero-l2-tunnel-v1. */
gboolean probe_tunnel_connect (ProbeTunnel *tunnel, gint64 deadline, guint *http_status,
                               GError **error);
const char *probe_tunnel_get_protocol (ProbeTunnel *tunnel);
gboolean probe_tunnel_is_open (ProbeTunnel *tunnel);

void probe_tunnel_set_frame_handler (ProbeTunnel *tunnel, ProbeFrameFunc func, gpointer user_data);
gboolean probe_tunnel_send_frame (ProbeTunnel *tunnel, GBytes *frame, GError **error);

/* Runs the main context until COND returns TRUE (checked before each
 * iteration), the deadline (monotonic µs) passes (G_IO_ERROR_TIMED_OUT)
 * or the tunnel closes (G_IO_ERROR_CLOSED). */
gboolean probe_tunnel_wait (ProbeTunnel *tunnel, ProbeCondFunc cond, gpointer user_data,
                            gint64 deadline, GError **error);
/* Runs the main context until the deadline; FALSE if the tunnel closed. */
gboolean probe_tunnel_sleep_until (ProbeTunnel *tunnel, gint64 deadline, GError **error);

/* Sends a tunnel PING (an 8-byte timestamp) and waits for its PONG. */
gboolean probe_tunnel_ping (ProbeTunnel *tunnel, gint64 deadline, double *rtt_ms, GError **error);

/* Closes with 1000 and waits for the server's close frame. *PEER_CODE is
 * the code the server answered with. */
gboolean probe_tunnel_close (ProbeTunnel *tunnel, gint64 deadline, guint *peer_code,
                             GError **error);

const ProbeTunnelStats *probe_tunnel_get_stats (ProbeTunnel *tunnel);
/* ERROR messages received so far (ProbeTunnelError), oldest first. */
GPtrArray *probe_tunnel_get_errors (ProbeTunnel *tunnel);
/* The code of the server's close frame, once one arrived (0 when the
 * connection ended without one). */
gboolean probe_tunnel_get_server_close (ProbeTunnel *tunnel, guint *code);

G_END_DECLS
