/* probe-dns.h — a DNS stub resolver over the tunnel: one A query over
 * UDP to the leased DNS server, retransmitted every second, with a
 * bounds-checked response parser (compression pointers included). */
#pragma once

#include "probe-netif.h"

G_BEGIN_DECLS

#define PROBE_DNS_MAX_ADDRS 16

typedef struct {
  guint rcode;
  guint32 addrs[PROBE_DNS_MAX_ADDRS];
  guint n_addrs;
  guint32 ttl;      /* of the first A record */
  char *cname;      /* last CNAME followed, nullable */
  guint attempts;   /* queries sent */
  double rtt_ms;    /* last query to its answer */
} ProbeDnsAnswer;

void probe_dns_answer_clear (ProbeDnsAnswer *answer);

/* TRUE when NAME is a syntactically valid host name (a trailing dot is
 * allowed). */
gboolean probe_dns_name_valid (const char *name);

/* Resolves NAME to IPv4 addresses through SERVER. Fails on timeouts, on
 * NXDOMAIN or any other error rcode, and on answers without A records. */
gboolean probe_dns_resolve (ProbeNetif *netif, guint32 server, const char *name, gint64 deadline,
                            ProbeDnsAnswer *answer, GError **error);

const char *probe_dns_rcode_name (guint rcode);

G_END_DECLS
