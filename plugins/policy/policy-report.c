/* policy-report.c — metrics and the rate-limited denial log of a policy
 * instance (see policy-report.h). */
#include <string.h>

#include "policy-report.h"
#include "policy-session.h"

static const char *const instance_label[] = { "instance", NULL };

static AeroMetricFamily *
family (AeroMetrics *registry, const char *name, AeroMetricType type, const char *help,
        const char *label)
{
  const char *labels[] = { "instance", label, NULL };

  return aero_metrics_family (registry, name, type, help, label ? labels : instance_label);
}

static AeroMetric *
series (PolicyReport *report, AeroMetricFamily *fam, const char *value)
{
  const char *values[] = { report->instance, value, NULL };

  return fam ? aero_metric_family_series (fam, values) : NULL;
}

void
policy_report_init (PolicyReport *report, const char *instance, double log_rate, double log_burst)
{
  memset (report, 0, sizeof *report);
  report->instance = g_strdup (instance ? instance : "policy");
  report->log_limit = aero_rate_limit_new (log_rate, log_burst, 0, g_get_monotonic_time ());
}

void
policy_report_attach (PolicyReport *report, AeroMetrics *registry)
{
  const char *values[] = { report->instance, NULL };

  report->denials = family (registry, "aero_policy_denials_total", AERO_METRIC_COUNTER,
                            "Refused flows, names and resolved addresses, by reason", "reason");
  report->flows = family (registry, "aero_policy_flows_total", AERO_METRIC_COUNTER,
                          "Flows the policy allowed, by protocol", "protocol");
  {
    AeroMetricFamily *active = family (registry, "aero_policy_flows_active", AERO_METRIC_GAUGE,
                                       "Open TCP and UDP flows counted against the limits",
                                       "protocol");

    report->flows_active_tcp = active ? aero_metric_family_series (
                                          active, (const char *const[]){ report->instance, "tcp", NULL })
                                      : NULL;
    report->flows_active_udp = active ? aero_metric_family_series (
                                          active, (const char *const[]){ report->instance, "udp", NULL })
                                      : NULL;
  }
  report->dns_answers = family (registry, "aero_policy_dns_answers_total", AERO_METRIC_COUNTER,
                                "DNS answers the policy changed, by action", "action");
  report->quota_closes = family (registry, "aero_policy_quota_closes_total", AERO_METRIC_COUNTER,
                                 "Sessions ended by a quota or the frame rate, by kind", "kind");
  report->rate_drops = family (registry, "aero_policy_rate_drops_total", AERO_METRIC_COUNTER,
                               "Frames dropped by bytes-per-second, by direction", "direction");
  {
    AeroMetricFamily *sup = family (registry, "aero_policy_log_suppressed_total",
                                    AERO_METRIC_COUNTER,
                                    "Denial log lines not written because of log-rate", NULL);

    report->log_suppressed = sup ? aero_metric_family_series (sup, values) : NULL;
  }
  {
    AeroMetricFamily *ev = family (registry, "aero_policy_resolved_evictions_total",
                                   AERO_METRIC_COUNTER,
                                   "Resolved addresses forgotten to keep the most recent of a "
                                   "session", NULL);

    report->resolved_evictions = ev ? aero_metric_family_series (ev, values) : NULL;
  }
  /* Every reason shows up at zero from the start, so that rates work. */
  series (report, report->quota_closes, "bytes_up");
  series (report, report->quota_closes, "bytes_down");
  series (report, report->quota_closes, "fps");
}

void
policy_report_clear (PolicyReport *report)
{
  g_clear_pointer (&report->instance, g_free);
  g_clear_pointer (&report->log_limit, aero_rate_limit_free);
}

/* Whether a denial line may be written now; writes the count of the
 * suppressed ones first. */
static gboolean
may_log (PolicyReport *report)
{
  if (aero_rate_limit_take (report->log_limit, 1, g_get_monotonic_time ()) != AERO_RATE_LIMIT_OK)
    {
      report->suppressed++;
      aero_metric_inc (report->log_suppressed);
      return FALSE;
    }
  if (report->suppressed > 0)
    {
      char count[24];

      /* Field values are strings: the count is formatted first. */
      g_snprintf (count, sizeof count, "%" G_GUINT64_FORMAT, report->suppressed);
      AERO_LOG_MESSAGE (report->instance, "suppressed", count, "MESSAGE",
                        "%s denial log lines suppressed (log-rate)", count);
      report->suppressed = 0;
    }
  return TRUE;
}

static const char *
protocol_name (guint8 protocol)
{
  switch (protocol)
    {
    case 6: return "tcp";
    case 17: return "udp";
    case 1: return "icmp";
    case 58: return "icmpv6";
    default: return "other";
    }
}

char *
policy_address_to_string (GSocketFamily family, const guint8 *addr)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_bytes (addr, family);

  return g_inet_address_to_string (inet);
}

void
policy_report_flow_denial (PolicyReport *report, const char *session, const AeroFlow *flow,
                           const char *reason, const char *action)
{
  g_autofree char *dest = NULL;
  char port[8];

  aero_metric_inc (series (report, report->denials, reason));
  if (!may_log (report))
    return;
  dest = policy_address_to_string (flow->family, flow->destination);
  g_snprintf (port, sizeof port, "%u", flow->port);
  AERO_LOG_MESSAGE (report->instance, "session", session, "protocol", protocol_name (flow->protocol),
                    "destination", dest, "port", port, "reason", reason, "action", action,
                    "MESSAGE", "refused %s to %s port %s: %s", protocol_name (flow->protocol), dest,
                    port, reason);
}

void
policy_report_name_denial (PolicyReport *report, const char *session, const char *name,
                           const char *reason, const char *action)
{
  aero_metric_inc (series (report, report->denials, reason));
  aero_metric_inc (series (report, report->dns_answers, action));
  if (!may_log (report))
    return;
  AERO_LOG_MESSAGE (report->instance, "session", session, "protocol", "dns", "destination", name,
                    "port", "53", "reason", reason, "action", action,
                    "MESSAGE", "refused name %s: %s", name, reason);
}

void
policy_report_answer_denial (PolicyReport *report, const char *session, const char *name,
                             GSocketFamily family, const guint8 *addr, const char *range,
                             const char *action)
{
  g_autofree char *dest = NULL;

  aero_metric_inc (series (report, report->denials, "rebinding"));
  aero_metric_inc (series (report, report->dns_answers, action));
  if (!may_log (report))
    return;
  dest = policy_address_to_string (family, addr);
  AERO_LOG_MESSAGE (report->instance, "session", session, "protocol", "dns", "destination", dest,
                    "port", "0", "name", name, "reason", "rebinding", "range", range, "action",
                    action, "MESSAGE", "%s resolved to %s (%s): answer %s", name, dest, range,
                    action);
}

void
policy_report_flow_opened (PolicyReport *report, guint8 protocol)
{
  const char *p = protocol == 6 ? "tcp" : protocol == 17 ? "udp" : "icmp";

  aero_metric_inc (series (report, report->flows, p));
}

void
policy_report_flows_active (PolicyReport *report, guint64 tcp, guint64 udp)
{
  aero_metric_set (report->flows_active_tcp, (double) tcp);
  aero_metric_set (report->flows_active_udp, (double) udp);
}

void
policy_report_quota_close (PolicyReport *report, const char *session, const char *kind)
{
  aero_metric_inc (series (report, report->quota_closes, kind));
  AERO_LOG_MESSAGE (report->instance, "session", session, "reason", kind,
                    "MESSAGE", "session ended: %s limit reached", kind);
}

void
policy_report_rate_drop (PolicyReport *report, AeroDirection direction)
{
  aero_metric_inc (series (report, report->rate_drops,
                           direction == AERO_DIRECTION_FROM_GUEST ? "from_guest" : "to_guest"));
}

void
policy_report_resolved_evictions (PolicyReport *report, const char *session, guint n,
                                  gboolean first)
{
  char max[16];

  aero_metric_add (report->resolved_evictions, n);
  if (!first)
    return;
  g_snprintf (max, sizeof max, "%u", POLICY_SESSION_MAX_RESOLVED);
  AERO_LOG_MESSAGE (report->instance, "session", session, "reason", "resolved_evicted",
                    "max_resolved", max, "MESSAGE",
                    "this session resolved more than %s addresses: the oldest are forgotten from "
                    "now on (require-resolved-names refuses them until they are resolved again)",
                    max);
}
