/* policy-report.h — the policy's metrics and its denial log.
 *
 * Families (all labelled with the instance name):
 *   aero_policy_denials_total{reason}      refusals: flows, names, resolved
 *                                          addresses ("rebinding")
 *   aero_policy_flows_total{protocol}      flows allowed (tcp, udp, icmp)
 *   aero_policy_flows_active{protocol}     gauge: open TCP and UDP flows
 *   aero_policy_dns_answers_total{action}  answers to refused names (nxdomain,
 *                                          refused) and resolved addresses
 *                                          removed (stripped) or answers
 *                                          refused for one (refused)
 *   aero_policy_quota_closes_total{kind}   sessions ended: bytes_up,
 *                                          bytes_down, fps
 *   aero_policy_rate_drops_total{direction} frames dropped by
 *                                          bytes-per-second
 *   aero_policy_log_suppressed_total       denial log lines not written
 *                                          because of log-rate
 *   aero_policy_resolved_evictions_total   resolved addresses forgotten to
 *                                          keep a session's most recent
 *                                          POLICY_SESSION_MAX_RESOLVED
 *
 * Each denial is logged at notice level with the session, protocol,
 * destination, port, reason and action (never payload), at most
 * `log-rate` lines for the whole instance; when lines were suppressed the
 * next line written is preceded by a count of them. Before start() every
 * series is NULL (which the aero_metric_* functions ignore). */
#pragma once

#include "policy-config.h"

G_BEGIN_DECLS

typedef struct {
  char *instance;
  AeroMetricFamily *denials;
  AeroMetricFamily *flows;
  AeroMetricFamily *dns_answers;
  AeroMetricFamily *quota_closes;
  AeroMetricFamily *rate_drops;
  AeroMetric *flows_active_tcp;
  AeroMetric *flows_active_udp;
  AeroMetric *log_suppressed;
  AeroMetric *resolved_evictions;
  AeroRateLimit *log_limit;
  guint64 suppressed;
} PolicyReport;

void policy_report_init (PolicyReport *report, const char *instance, double log_rate,
                         double log_burst);

void policy_report_attach (PolicyReport *report, AeroMetrics *registry);

void policy_report_clear (PolicyReport *report);

/* A refused flow: ACTION is what the guest gets (rst, icmp, drop). */
void policy_report_flow_denial (PolicyReport *report, const char *session, const AeroFlow *flow,
                                const char *reason, const char *action);

/* A refused name (a query, or a CNAME target in an answer). */
void policy_report_name_denial (PolicyReport *report, const char *session, const char *name,
                                const char *reason, const char *action);

/* A resolved address kept from the guest; RANGE says why it is blocked. */
void policy_report_answer_denial (PolicyReport *report, const char *session, const char *name,
                                  GSocketFamily family, const guint8 *addr, const char *range,
                                  const char *action);

void policy_report_flow_opened (PolicyReport *report, guint8 protocol);

void policy_report_flows_active (PolicyReport *report, guint64 tcp, guint64 udp);

void policy_report_quota_close (PolicyReport *report, const char *session, const char *kind);

void policy_report_rate_drop (PolicyReport *report, AeroDirection direction);

/* A session's N oldest resolved addresses were forgotten; FIRST: the first
 * time for that session, which is logged. */
void policy_report_resolved_evictions (PolicyReport *report, const char *session, guint n,
                                       gboolean first);

/* Text form of an address. */
char *policy_address_to_string (GSocketFamily family, const guint8 *addr);

G_END_DECLS
