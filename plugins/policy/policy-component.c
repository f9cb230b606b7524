/* policy-component.c — the policy instance: configuration, start-up
 * checks (open mode), the host's addresses, per-session state, and the
 * AeroPolicy verdicts built from policy-verdict.c and the session's
 * limiters. */
#include <string.h>

#include "policy-component.h"
#include "policy-config.h"
#include "policy-host.h"
#include "policy-report.h"
#include "policy-session.h"
#include "policy-verdict.h"

/* How often the host's own addresses are listed again. */
#define HOST_REFRESH_S 30

struct _PolicyComponent
{
  GObject parent_instance;

  char *name;
  PolicyConfig *config;
  GArray *host_addresses; /* PolicyAddress */
  GHashTable *sessions;   /* AeroSession* → PolicySession* */
  PolicyReport report;
  guint host_timer;
  guint64 tcp_flows;      /* over every session, for the gauge */
  guint64 udp_flows;
};

static void policy_component_component_init (AeroComponentInterface *iface);
static void policy_component_policy_init (AeroPolicyInterface *iface);

G_DEFINE_TYPE_WITH_CODE (PolicyComponent, policy_component, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT, policy_component_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_POLICY, policy_component_policy_init))

/* ---- configuration and life cycle ------------------------------------------ */

static gboolean
policy_component_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  PolicyComponent *self = POLICY_COMPONENT (component);
  g_autoptr (PolicyConfig) config = policy_config_parse (group, error);
  g_autofree char *public_address = NULL;

  if (config == NULL)
    return FALSE;
  if (config->mode == POLICY_MODE_OPEN && !config->allow_open_on_public &&
      !policy_config_listen_is_loopback (group, &public_address))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "mode",
                               "open mode allows every destination, but [http] listen has the "
                               "non-loopback address %s: listen on loopback only, use mode = "
                               "safe, or also set allow-open-on-public = true",
                               public_address);
      return FALSE;
    }
  g_free (self->name);
  self->name = g_strdup (aero_config_group_get_name (group));
  g_clear_pointer (&self->config, policy_config_free);
  self->config = g_steal_pointer (&config);
  policy_report_clear (&self->report);
  policy_report_init (&self->report, self->name, self->config->log_rate, self->config->log_burst);
  return TRUE;
}

static gboolean
refresh_host_addresses (gpointer data)
{
  PolicyComponent *self = data;

  g_clear_pointer (&self->host_addresses, g_array_unref);
  self->host_addresses = policy_host_addresses ();
  return G_SOURCE_CONTINUE;
}

static gboolean
policy_component_start (AeroComponent *component, AeroHost *host, GError **error)
{
  PolicyComponent *self = POLICY_COMPONENT (component);
  PolicyConfig *c = self->config;

  if (c->mode == POLICY_MODE_OPEN && !c->allow_open_on_public && !aero_host_is_loopback_only (host))
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE,
                   "[%s] mode: open mode allows every destination, but the HTTP server listens "
                   "on a non-loopback address: use mode = safe, or also set "
                   "allow-open-on-public = true",
                   self->name);
      return FALSE;
    }
  policy_report_attach (&self->report, aero_host_get_metrics (host));
  refresh_host_addresses (self);
  self->host_timer = g_timeout_add_seconds (HOST_REFRESH_S, refresh_host_addresses, self);

  if (c->mode == POLICY_MODE_OPEN)
    AERO_LOG_WARNING (self->name, "mode", "open", "MESSAGE",
                      "OPEN MODE: guests may reach every destination, including this host's "
                      "loopback and private networks%s. For development only.",
                      c->allow_open_on_public ? ", and the server listens on a public address"
                                              : "");
  else
    AERO_LOG_INFO (self->name, "mode", "safe", "MESSAGE",
                   "safe mode: %u allow and %u deny rules, %u host addresses denied",
                   c->allow->len, c->deny->len, self->host_addresses->len);
  return TRUE;
}

static void
policy_component_stop (AeroComponent *component)
{
  PolicyComponent *self = POLICY_COMPONENT (component);

  g_clear_handle_id (&self->host_timer, g_source_remove);
}

static void
policy_component_component_init (AeroComponentInterface *iface)
{
  iface->configure = policy_component_configure;
  iface->start = policy_component_start;
  iface->stop = policy_component_stop;
}

/* ---- sessions --------------------------------------------------------------- */

static PolicySession *
session_of (PolicyComponent *self, AeroSession *session)
{
  PolicySession *s = g_hash_table_lookup (self->sessions, session);

  if (s == NULL)
    {
      s = policy_session_new (aero_session_get_id (session), self->config, g_get_monotonic_time ());
      g_hash_table_insert (self->sessions, session, s);
    }
  return s;
}

static void
policy_session_opened (AeroPolicy *policy, AeroSession *session)
{
  session_of (POLICY_COMPONENT (policy), session);
}

static void
policy_session_closed (AeroPolicy *policy, AeroSession *session)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicySession *s = g_hash_table_lookup (self->sessions, session);

  if (s == NULL)
    return;
  self->tcp_flows -= MIN (self->tcp_flows, s->tcp_flows);
  self->udp_flows -= MIN (self->udp_flows, s->udp_flows);
  policy_report_flows_active (&self->report, self->tcp_flows, self->udp_flows);
  g_hash_table_remove (self->sessions, session);
}


/* ---- verdicts --------------------------------------------------------------- */

static gboolean
resolved_cb (GSocketFamily family, const guint8 *addr, gpointer data)
{
  return policy_session_lookup (data, family, addr) != NULL;
}

static const char *
refusal_action (PolicyComponent *self, const AeroFlow *flow)
{
  static const guint8 bcast[4] = { 255, 255, 255, 255 };
  gboolean group = flow->family == G_SOCKET_FAMILY_IPV4
                     ? (flow->destination[0] >= 224 || memcmp (flow->destination, bcast, 4) == 0)
                     : flow->destination[0] == 0xff;

  if (group)
    return "drop";
  if (flow->protocol == 6)
    return "rst";
  if (flow->protocol == 17 || flow->protocol == 1 || flow->protocol == 58)
    return self->config->udp_refusal_icmp ? "icmp" : "drop";
  return "drop";
}

static gboolean
policy_check_flow (AeroPolicy *policy, AeroSession *session, const AeroFlow *flow,
                   const char **reason)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicySession *s = session_of (self, session);
  PolicyConfig *c = self->config;
  const char *why = NULL;

  switch (policy_verdict_flow (c, self->host_addresses, flow, resolved_cb, s, &why))
    {
    case POLICY_VERDICT_SERVICE:
      return TRUE;
    case POLICY_VERDICT_DENY:
      goto refuse;
    case POLICY_VERDICT_ALLOW:
    default:
      break;
    }

  if (flow->protocol == 6 && c->max_tcp_flows > 0 && s->tcp_flows >= c->max_tcp_flows)
    {
      why = "tcp_flow_limit";
      goto refuse;
    }
  if (flow->protocol == 17 && c->max_udp_flows > 0 && s->udp_flows >= c->max_udp_flows)
    {
      why = "udp_flow_limit";
      goto refuse;
    }
  if ((flow->protocol == 6 || flow->protocol == 17 || flow->protocol == 1 || flow->protocol == 58) &&
      s->new_flows &&
      aero_rate_limit_take (s->new_flows, 1, g_get_monotonic_time ()) != AERO_RATE_LIMIT_OK)
    {
      why = "new_flow_rate";
      goto refuse;
    }
  if (flow->protocol == 6)
    {
      s->tcp_flows++;
      self->tcp_flows++;
    }
  else if (flow->protocol == 17)
    {
      s->udp_flows++;
      self->udp_flows++;
    }
  if (flow->protocol == 6 || flow->protocol == 17 || flow->protocol == 1 || flow->protocol == 58)
    {
      policy_report_flow_opened (&self->report, flow->protocol);
      policy_report_flows_active (&self->report, self->tcp_flows, self->udp_flows);
    }
  return TRUE;

refuse:
  policy_report_flow_denial (&self->report, s->id, flow, why, refusal_action (self, flow));
  *reason = why;
  return FALSE;
}


static void
policy_flow_closed (AeroPolicy *policy, AeroSession *session, const AeroFlow *flow)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicySession *s = g_hash_table_lookup (self->sessions, session);

  if (s == NULL || policy_verdict_is_service (self->config, flow))
    return;
  if (flow->protocol == 6 && s->tcp_flows > 0)
    {
      s->tcp_flows--;
      self->tcp_flows -= MIN (self->tcp_flows, 1);
    }
  else if (flow->protocol == 17 && s->udp_flows > 0)
    {
      s->udp_flows--;
      self->udp_flows -= MIN (self->udp_flows, 1);
    }
  policy_report_flows_active (&self->report, self->tcp_flows, self->udp_flows);
}

static const char *
name_action (PolicyComponent *self)
{
  return self->config->deny_name_answer == AERO_DNS_REFUSAL_REFUSED ? "refused" : "nxdomain";
}

static gboolean
policy_check_name (AeroPolicy *policy, AeroSession *session, const char *name, const char **reason)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  const char *why = policy_verdict_name (self->config, name);

  if (why == NULL)
    return TRUE;
  policy_report_name_denial (&self->report, session_of (self, session)->id, name, why,
                             name_action (self));
  *reason = why;
  return FALSE;
}

static gboolean
policy_note_resolution (AeroPolicy *policy, AeroSession *session, const char *name,
                        GSocketFamily family, const guint8 *address, const char **reason)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicySession *s = session_of (self, session);
  const char *why = policy_verdict_name (self->config, name);
  guint evicted;

  if (why)
    {
      *reason = why;
      return FALSE;
    }
  why = policy_verdict_answer (self->config, self->host_addresses, family, address);
  if (why)
    {
      policy_report_answer_denial (&self->report, s->id, name, family, address, why,
                                   self->config->rebinding == AERO_REBINDING_STRIP ? "stripped"
                                                                                   : "refused");
      *reason = "rebinding";
      return FALSE;
    }
  evicted = policy_session_remember (s, family, address, name);
  if (evicted > 0)
    {
      policy_report_resolved_evictions (&self->report, s->id, evicted, !s->resolved_full);
      s->resolved_full = TRUE;
    }
  return TRUE;
}

static AeroTrafficVerdict
policy_check_traffic (AeroPolicy *policy, AeroSession *session, AeroDirection dir, gsize bytes,
                      AeroCloseReason *close_reason)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicySession *s = session_of (self, session);
  gint64 now;
  const char *kind = NULL;

  if (s->closing)
    {
      *close_reason = s->close_reason;
      return AERO_TRAFFIC_CLOSE;
    }
  now = g_get_monotonic_time ();
  if (dir == AERO_DIRECTION_FROM_GUEST && s->frames &&
      aero_rate_limit_take (s->frames, 1, now) != AERO_RATE_LIMIT_OK)
    {
      kind = "fps";
      s->close_reason = AERO_CLOSE_QUOTA_FPS;
    }
  else
    {
      AeroRateLimit *lim = dir == AERO_DIRECTION_FROM_GUEST ? s->up : s->down;

      switch (aero_rate_limit_take (lim, bytes, now))
        {
        case AERO_RATE_LIMIT_OK:
          return AERO_TRAFFIC_PASS;
        case AERO_RATE_LIMIT_RATE:
          policy_report_rate_drop (&self->report, dir);
          return AERO_TRAFFIC_DROP;
        case AERO_RATE_LIMIT_QUOTA:
        default:
          kind = dir == AERO_DIRECTION_FROM_GUEST ? "bytes_up" : "bytes_down";
          s->close_reason = AERO_CLOSE_QUOTA_BYTES;
          break;
        }
    }
  s->closing = TRUE;
  policy_report_quota_close (&self->report, s->id, kind);
  *close_reason = s->close_reason;
  return AERO_TRAFFIC_CLOSE;
}

static void
policy_get_options (AeroPolicy *policy, AeroPolicyOptions *options)
{
  PolicyComponent *self = POLICY_COMPONENT (policy);
  PolicyConfig *c = self->config;
  guint64 flows = c->max_tcp_flows + c->max_udp_flows + 1024;

  options->dns_refusal = c->deny_name_answer;
  options->rebinding = c->rebinding;
  options->udp_refusal_icmp = c->udp_refusal_icmp;
  /* Room for every flow the limits allow, plus lingering ones. */
  if (c->max_tcp_flows > 0 && c->max_udp_flows > 0)
    options->max_flows = (guint) CLAMP (flows, AERO_POLICY_DEFAULT_MAX_FLOWS, 1u << 20);
  options->tcp_idle_timeout_ms = c->tcp_idle_ms;
  options->udp_idle_timeout_ms = c->udp_idle_ms;
}

static void
policy_component_policy_init (AeroPolicyInterface *iface)
{
  iface->session_opened = policy_session_opened;
  iface->session_closed = policy_session_closed;
  iface->check_flow = policy_check_flow;
  iface->check_name = policy_check_name;
  iface->check_traffic = policy_check_traffic;
  iface->flow_closed = policy_flow_closed;
  iface->note_resolution = policy_note_resolution;
  iface->get_options = policy_get_options;
}

/* ---- the object --------------------------------------------------------------- */

static void
policy_component_finalize (GObject *object)
{
  PolicyComponent *self = POLICY_COMPONENT (object);

  g_clear_handle_id (&self->host_timer, g_source_remove);
  g_hash_table_unref (self->sessions);
  g_clear_pointer (&self->host_addresses, g_array_unref);
  g_clear_pointer (&self->config, policy_config_free);
  policy_report_clear (&self->report);
  g_free (self->name);
  G_OBJECT_CLASS (policy_component_parent_class)->finalize (object);
}

static void
policy_component_class_init (PolicyComponentClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = policy_component_finalize;
}

static void
policy_component_init (PolicyComponent *self)
{
  self->sessions = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                          (GDestroyNotify) policy_session_free);
  self->config = policy_config_new_default ();
  self->host_addresses = g_array_new (FALSE, TRUE, sizeof (PolicyAddress));
  policy_report_init (&self->report, NULL, self->config->log_rate, self->config->log_burst);
}
