/* slirp-metrics.h — the series a stack-slirp instance updates.
 *
 * Families (all labelled with the instance name):
 *   aero_slirp_sessions                      gauge: open sessions
 *   aero_slirp_sessions_total                sessions created
 *   aero_slirp_frames_total{direction}       frames from_guest / to_guest
 *   aero_slirp_dropped_total{reason}         frames dropped: malformed, oversize,
 *                                            refused (destination not allowed),
 *                                            to_guest (the session did not take one)
 *   aero_slirp_dns_queries_total{answer}     static, cached, resolved, nxdomain,
 *                                            servfail, formerr, refused, notimp,
 *                                            nodata
 *   aero_slirp_dns_dropped_total             DNS datagrams too broken to answer
 *   aero_slirp_dns_cache_entries             gauge: entries in the cache
 *   aero_slirp_dns_pending                   gauge: lookups the open sessions hold
 *                                            (timed-out ones until the resolver returns)
 *   aero_slirp_dns_lookups_refused_total{limit}
 *                                            queries answered REFUSED, without a
 *                                            lookup, because too many were in
 *                                            progress: session (dns-max-pending),
 *                                            instance (dns-max-lookups)
 *   aero_slirp_guest_errors_total            guest misbehaviour reported by libslirp
 *   aero_slirp_merged_frames_total           frames from guests given to libslirp as
 *                                            part of a larger TCP segment (merge)
 *   aero_slirp_service_connections_total{service}
 *                                            TCP connection attempts (SYN) to each
 *                                            virtual TCP service, datagrams to each
 *                                            virtual UDP service
 *
 * Before start() (or without a host) every series is NULL, which the
 * aero_metric_* functions ignore. */
#pragma once

#include <aero-net/aero-net.h>

#include "slirp-settings.h"

G_BEGIN_DECLS

typedef enum {
  AERO_SLIRP_DROP_MALFORMED,
  AERO_SLIRP_DROP_OVERSIZE,
  AERO_SLIRP_DROP_REFUSED,
  AERO_SLIRP_DROP_TO_GUEST,
  AERO_SLIRP_N_DROPS,
} AeroSlirpDrop;

typedef enum {
  AERO_SLIRP_DNS_STATIC,
  AERO_SLIRP_DNS_CACHED,
  AERO_SLIRP_DNS_RESOLVED,
  AERO_SLIRP_DNS_NXDOMAIN,
  AERO_SLIRP_DNS_SERVFAIL,
  AERO_SLIRP_DNS_FORMERR,
  AERO_SLIRP_DNS_REFUSED,
  AERO_SLIRP_DNS_NOTIMP,
  AERO_SLIRP_DNS_NODATA,
  AERO_SLIRP_N_DNS_ANSWERS,
} AeroSlirpDnsAnswer;

typedef enum {
  AERO_SLIRP_DNS_LIMIT_SESSION,
  AERO_SLIRP_DNS_LIMIT_INSTANCE,
  AERO_SLIRP_N_DNS_LIMITS,
} AeroSlirpDnsLimitKind;

typedef struct {
  AeroMetric *sessions;
  AeroMetric *sessions_total;
  AeroMetric *frames_from_guest;
  AeroMetric *frames_to_guest;
  AeroMetric *dropped[AERO_SLIRP_N_DROPS];
  AeroMetric *dns_queries[AERO_SLIRP_N_DNS_ANSWERS];
  AeroMetric *dns_dropped;
  AeroMetric *dns_cache_entries;
  AeroMetric *dns_pending;
  AeroMetric *dns_lookups_refused[AERO_SLIRP_N_DNS_LIMITS];
  AeroMetric *guest_errors;
  AeroMetric *merged_frames;
  GHashTable *service_connections; /* AeroSlirpService* → AeroMetric* */
} AeroSlirpMetrics;

void aero_slirp_metrics_init (AeroSlirpMetrics *metrics, AeroMetrics *registry,
                              const char *instance, const AeroSlirpSettings *settings);

void aero_slirp_metrics_clear (AeroSlirpMetrics *metrics);

AeroMetric *aero_slirp_metrics_service (AeroSlirpMetrics *metrics,
                                        const AeroSlirpService *service);

G_END_DECLS
