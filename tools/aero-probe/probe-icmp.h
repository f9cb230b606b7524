/* probe-icmp.h — ICMP echo ("ping") over the tunnel: one echo request a
 * second until a matching reply or the deadline. */
#pragma once

#include "probe-netif.h"

G_BEGIN_DECLS

typedef struct {
  double rtt_ms;
  guint16 seq;  /* sequence number that was answered */
  guint sent;   /* requests sent */
  guint8 ttl;   /* of the reply */
} ProbeIcmpResult;

gboolean probe_icmp_ping (ProbeNetif *netif, guint32 dst, gint64 deadline, ProbeIcmpResult *result,
                          GError **error);

G_END_DECLS
