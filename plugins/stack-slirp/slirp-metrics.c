/* slirp-metrics.c — declaring the aero_slirp_* metric families and
 * fetching their series once per instance (see slirp-metrics.h). */
#include "slirp-metrics.h"

static const char *const drop_reasons[AERO_SLIRP_N_DROPS] = {
  "malformed", "oversize", "refused", "to_guest",
};

static const char *const dns_limits[AERO_SLIRP_N_DNS_LIMITS] = {
  "session", "instance",
};

static const char *const dns_answers[AERO_SLIRP_N_DNS_ANSWERS] = {
  "static", "cached", "resolved", "nxdomain", "servfail", "formerr", "refused", "notimp", "nodata",
};

void
aero_slirp_metrics_init (AeroSlirpMetrics *m, AeroMetrics *registry, const char *instance,
                         const AeroSlirpSettings *settings)
{
  aero_slirp_metrics_clear (m);
  m->service_connections = g_hash_table_new (NULL, NULL);
  if (registry == NULL)
    return;

  m->sessions
      = aero_metrics_instance_series (registry, "aero_slirp_sessions", AERO_METRIC_GAUGE,
                                      "Open sessions of the slirp stack", instance, NULL, NULL);
  m->sessions_total
      = aero_metrics_instance_series (registry, "aero_slirp_sessions_total", AERO_METRIC_COUNTER,
                                      "Sessions created by the slirp stack", instance, NULL, NULL);
  m->frames_from_guest = aero_metrics_instance_series (
      registry, "aero_slirp_frames_total", AERO_METRIC_COUNTER, "Frames through the slirp stack",
      instance, "direction", "from_guest");
  m->frames_to_guest = aero_metrics_instance_series (
      registry, "aero_slirp_frames_total", AERO_METRIC_COUNTER, "Frames through the slirp stack",
      instance, "direction", "to_guest");
  for (guint i = 0; i < AERO_SLIRP_N_DROPS; i++)
    m->dropped[i] = aero_metrics_instance_series (
        registry, "aero_slirp_dropped_total", AERO_METRIC_COUNTER,
        "Frames the slirp stack dropped, by reason", instance, "reason", drop_reasons[i]);
  for (guint i = 0; i < AERO_SLIRP_N_DNS_ANSWERS; i++)
    m->dns_queries[i] = aero_metrics_instance_series (
        registry, "aero_slirp_dns_queries_total", AERO_METRIC_COUNTER,
        "DNS queries answered by the slirp stack, by kind of answer", instance, "answer",
        dns_answers[i]);
  m->dns_dropped
      = aero_metrics_instance_series (registry, "aero_slirp_dns_dropped_total", AERO_METRIC_COUNTER,
                                      "DNS datagrams too broken to answer", instance, NULL, NULL);
  m->dns_cache_entries
      = aero_metrics_instance_series (registry, "aero_slirp_dns_cache_entries", AERO_METRIC_GAUGE,
                                      "Entries in the DNS cache", instance, NULL, NULL);
  m->dns_pending
      = aero_metrics_instance_series (registry, "aero_slirp_dns_pending", AERO_METRIC_GAUGE,
                                      "DNS lookups in progress", instance, NULL, NULL);
  for (guint i = 0; i < AERO_SLIRP_N_DNS_LIMITS; i++)
    m->dns_lookups_refused[i] = aero_metrics_instance_series (
        registry, "aero_slirp_dns_lookups_refused_total", AERO_METRIC_COUNTER,
        "DNS queries refused because too many lookups were in progress, by limit", instance,
        "limit", dns_limits[i]);
  m->guest_errors = aero_metrics_instance_series (
      registry, "aero_slirp_guest_errors_total", AERO_METRIC_COUNTER,
      "Guest misbehaviour reported by libslirp", instance, NULL, NULL);
  m->merged_frames = aero_metrics_instance_series (
      registry, "aero_slirp_merged_frames_total", AERO_METRIC_COUNTER,
      "Frames from guests given to libslirp as part of a larger TCP segment", instance, NULL,
      NULL);
  for (guint i = 0; i < settings->services->len; i++)
    {
      const AeroSlirpService *service = g_ptr_array_index (settings->services, i);

      g_hash_table_insert (
          m->service_connections, (gpointer)service,
          aero_metrics_instance_series (registry, "aero_slirp_service_connections_total",
                                        AERO_METRIC_COUNTER, "New flows to each virtual service",
                                        instance, "service", service->label));
    }
}

void
aero_slirp_metrics_clear (AeroSlirpMetrics *m)
{
  g_clear_pointer (&m->service_connections, g_hash_table_unref);
  *m = (AeroSlirpMetrics) { 0 };
}

AeroMetric *
aero_slirp_metrics_service (AeroSlirpMetrics *m, const AeroSlirpService *service)
{
  return m->service_connections ? g_hash_table_lookup (m->service_connections, service) : NULL;
}
