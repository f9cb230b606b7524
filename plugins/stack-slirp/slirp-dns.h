/* slirp-dns.h — the DNS server each session's guest talks to.
 *
 * libslirp's own DNS forwarder is disabled; the stack hands every UDP
 * datagram sent to the virtual DNS address, port 53, to this server. It
 * answers A and AAAA questions from the static names first, then from the
 * instance's cache, then through the host resolver (asynchronously, one
 * address family per lookup, bounded in number per session and across the
 * instance's sessions, and in time).
 *
 * Answers:
 *   static name               its addresses of the asked family (possibly none)
 *   *.invalid                 NXDOMAIN without asking anyone (RFC 6761)
 *   resolved / cached         the addresses, TTL = what is left of dns-cache-ttl
 *   resolver: not found       NXDOMAIN
 *   resolver: other error     SERVFAIL; no answer within dns-timeout: SERVFAIL
 *   AAAA with ipv6 = false    NOERROR without answers (the guest has no IPv6)
 *   other types (MX, TXT...)  NOERROR without answers ("nodata")
 *   opcode other than QUERY   NOTIMP
 *   class other than IN, names with characters outside letters, digits,
 *   '-' and '_', or too many lookups in progress (dns-max-pending in the
 *   session, dns-max-lookups in the instance): REFUSED
 *   malformed query           FORMERR; no header or a response: dropped
 *
 * The host resolver cannot abandon a call: a lookup that timed out was
 * answered SERVFAIL but keeps its place, in the session and in the
 * instance, until the resolver returns (its answer then only goes to the
 * cache). Freeing the server detaches its lookups: their callbacks find no
 * server and only give back their place in the instance. */
#pragma once

#include "dns-cache.h"
#include "slirp-metrics.h"
#include "slirp-settings.h"

G_BEGIN_DECLS

/**
 * AeroSlirpDnsClient:
 * @ip_version: 4 or 6
 * @guest_mac: the guest's MAC address
 * @server_mac: the MAC address the query was sent to
 * @guest_ip: the guest's address (4 or 16 bytes)
 * @server_ip: the DNS address the query was sent to
 * @guest_port: the guest's UDP port
 *
 * Where a query came from, so that the answer can be sent back.
 */
typedef struct {
  guint ip_version;
  guint8 guest_mac[6];
  guint8 server_mac[6];
  guint8 guest_ip[16];
  guint8 server_ip[16];
  guint16 guest_port;
} AeroSlirpDnsClient;

typedef void (*AeroSlirpDnsReplyFunc) (const AeroSlirpDnsClient *client, const guint8 *message,
                                       gsize len, gpointer user_data);

/**
 * AeroSlirpDnsLimit:
 *
 * The host resolver calls in flight across the sessions of one instance,
 * and their bound (dns-max-lookups). Every call holds a reference until
 * the resolver returns, which may be after its session and its instance
 * are gone. Used from the thread that runs the sessions only.
 */
typedef struct _AeroSlirpDnsLimit AeroSlirpDnsLimit;

AeroSlirpDnsLimit *aero_slirp_dns_limit_new (guint max_calls);

AeroSlirpDnsLimit *aero_slirp_dns_limit_ref (AeroSlirpDnsLimit *limit);

void aero_slirp_dns_limit_unref (AeroSlirpDnsLimit *limit);

guint aero_slirp_dns_limit_get_calls (AeroSlirpDnsLimit *limit);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroSlirpDnsLimit, aero_slirp_dns_limit_unref)

typedef struct _AeroSlirpDns AeroSlirpDns;

AeroSlirpDns *aero_slirp_dns_new (AeroSlirpSettings *settings, AeroDnsCache *cache,
                                  AeroSlirpDnsLimit *limit, AeroSlirpMetrics *metrics,
                                  const char *component, const char *session_id,
                                  AeroSlirpDnsReplyFunc reply, gpointer user_data);

void aero_slirp_dns_handle_query (AeroSlirpDns *dns, const AeroSlirpDnsClient *client,
                                  const guint8 *message, gsize len);

guint aero_slirp_dns_get_pending (AeroSlirpDns *dns);

void aero_slirp_dns_free (AeroSlirpDns *dns);

G_END_DECLS
