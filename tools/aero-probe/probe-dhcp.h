/* probe-dhcp.h — a DHCPv4 client for one lease: DISCOVER, OFFER,
 * REQUEST, ACK (RFC 2131), with retransmission and bounds-checked option
 * parsing. */
#pragma once

#include "probe-netif.h"

G_BEGIN_DECLS

#define PROBE_DHCP_MAX_DNS 4

typedef struct {
  guint32 ip;
  guint32 netmask;
  guint32 router;
  guint32 server_id;
  guint32 dns[PROBE_DHCP_MAX_DNS];
  guint n_dns;
  char *domain;        /* nullable, printable ASCII */
  gboolean has_lease_time;
  guint32 lease_time;  /* seconds */
  guint mtu;           /* 0 when not given */
  double offer_ms;     /* first DISCOVER to OFFER */
  double ack_ms;       /* first REQUEST to ACK */
  guint discovers;     /* DISCOVERs sent */
  guint requests;      /* REQUESTs sent */
} ProbeDhcpLease;

void probe_dhcp_lease_clear (ProbeDhcpLease *lease);

/* Obtains a lease before DEADLINE. Does not configure NETIF. */
gboolean probe_dhcp_run (ProbeNetif *netif, gint64 deadline, ProbeDhcpLease *lease,
                         GError **error);

G_END_DECLS
