/* probe-tcp.h — a minimal TCP client over the probe's interface: active
 * open with the MSS option, in-order delivery with ACKs (segments that
 * arrive early are answered with a duplicate ACK and kept in a small
 * bounded queue until the gap is filled), sending within a fixed window
 * that also respects the peer's advertised window (zero-window probes
 * included), RFC 6298 retransmission timeout with go-back-N, fast
 * retransmit on three duplicate ACKs with NewReno-style partial-ACK
 * recovery, FIN in both directions, RST.
 *
 * One connection per ProbeTcp. Received bytes go straight to a callback
 * (so the receive window is constant); the send buffer is bounded and a
 * callback says when it has room again. */
#pragma once

#include "probe-netif.h"

G_BEGIN_DECLS

typedef struct _ProbeTcp ProbeTcp;

typedef enum {
  PROBE_TCP_CLOSED,
  PROBE_TCP_SYN_SENT,
  PROBE_TCP_ESTABLISHED,
  PROBE_TCP_FIN_WAIT_1,
  PROBE_TCP_FIN_WAIT_2,
  PROBE_TCP_CLOSING,
  PROBE_TCP_TIME_WAIT,
  PROBE_TCP_CLOSE_WAIT,
  PROBE_TCP_LAST_ACK,
} ProbeTcpState;

typedef void (*ProbeTcpRecvFunc) (ProbeTcp *tcp, const guint8 *data, gsize len, gpointer user_data);
typedef void (*ProbeTcpWritableFunc) (ProbeTcp *tcp, gpointer user_data);

typedef struct {
  guint64 segments_sent;
  guint64 segments_received;
  guint64 retransmits;      /* segments sent again after a timeout */
  guint64 timeouts;         /* retransmission timer expiries */
  guint64 fast_retransmits;
  guint64 dup_acks;
  guint64 out_of_order;     /* segments that arrived early */
  guint64 out_of_order_dropped; /* ... and did not fit the queue */
  guint64 bytes_sent;       /* new payload bytes, without retransmissions */
  guint64 bytes_received;   /* payload delivered in order */
} ProbeTcpStats;

/* NEXT_HOP is the MAC frames are sent to. */
ProbeTcp *probe_tcp_new (ProbeNetif *netif, const ProbeMac *next_hop, guint32 dst, guint16 port);
void probe_tcp_free (ProbeTcp *tcp);

void probe_tcp_set_callbacks (ProbeTcp *tcp, ProbeTcpRecvFunc recv, ProbeTcpWritableFunc writable,
                              gpointer user_data);

/* Three-way handshake; *HANDSHAKE_MS is SYN to SYN-ACK. */
gboolean probe_tcp_connect (ProbeTcp *tcp, gint64 deadline, double *handshake_ms, GError **error);

/* Queues up to LEN bytes; returns how many fit in the send buffer. */
gsize probe_tcp_write (ProbeTcp *tcp, const guint8 *data, gsize len);
gsize probe_tcp_send_space (ProbeTcp *tcp);
/* Everything written has been acknowledged. */
gboolean probe_tcp_all_acked (ProbeTcp *tcp);
/* Sends FIN once everything written has been sent. */
void probe_tcp_shutdown (ProbeTcp *tcp);
/* Sends RST and forgets the connection. */
void probe_tcp_abort (ProbeTcp *tcp);

/* Runs the main context until COND, the deadline, a reset or the tunnel
 * closing. */
gboolean probe_tcp_wait (ProbeTcp *tcp, ProbeCondFunc cond, gpointer user_data, gint64 deadline,
                         GError **error);

ProbeTcpState probe_tcp_get_state (ProbeTcp *tcp);
const char *probe_tcp_state_name (ProbeTcpState state);
gboolean probe_tcp_fin_received (ProbeTcp *tcp);
gboolean probe_tcp_fin_acked (ProbeTcp *tcp);
/* Set once the peer reset the connection (or it failed); NULL otherwise. */
const GError *probe_tcp_get_error (ProbeTcp *tcp);
guint16 probe_tcp_get_local_port (ProbeTcp *tcp);
guint probe_tcp_get_mss (ProbeTcp *tcp);
guint probe_tcp_get_peer_window (ProbeTcp *tcp);
double probe_tcp_get_srtt_ms (ProbeTcp *tcp);
const ProbeTcpStats *probe_tcp_get_stats (ProbeTcp *tcp);

G_END_DECLS
