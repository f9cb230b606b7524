/* probe-echo.h — the checks run over one TCP connection to an echo
 * service: a short round trip, a bulk transfer of a deterministic
 * pseudo-random pattern sent and received concurrently and verified byte
 * for byte, and an orderly close in both directions. */
#pragma once

#include "probe-tcp.h"

G_BEGIN_DECLS

typedef struct _ProbeEcho ProbeEcho;

typedef struct {
  gsize bytes;
  double rtt_ms;
} ProbeEchoResult;

typedef struct {
  guint64 bytes;       /* requested */
  guint64 sent;        /* accepted by the TCP client */
  guint64 received;    /* echoed back */
  gboolean verified;   /* every byte received, every byte matched */
  gboolean mismatch;   /* a received byte differed */
  guint64 mismatch_at; /* its offset */
  double ms;
  double mbit_s;       /* bytes × 8 / ms, in each direction */
} ProbeBulkResult;

typedef struct {
  gboolean fin_acked;    /* our FIN was acknowledged */
  gboolean fin_received; /* the peer's FIN arrived */
  guint64 extra_bytes;   /* bytes that arrived after the checks */
} ProbeCloseResult;

ProbeEcho *probe_echo_new (ProbeTcp *tcp);
void probe_echo_free (ProbeEcho *echo);

gboolean probe_echo_roundtrip (ProbeEcho *echo, gint64 deadline, ProbeEchoResult *result,
                               GError **error);
gboolean probe_echo_bulk (ProbeEcho *echo, guint64 bytes, gint64 deadline, ProbeBulkResult *result,
                          GError **error);
gboolean probe_echo_close (ProbeEcho *echo, gint64 deadline, ProbeCloseResult *result,
                           GError **error);

/* The pattern: LEN bytes starting at stream offset OFFSET. */
void probe_pattern_fill (guint64 seed, guint64 offset, guint8 *buf, gsize len);

G_END_DECLS
