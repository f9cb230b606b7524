/* policy-config.c — reading and validating a policy group (keys in
 * README.md). Every error names the key and says what was expected. */
#include <math.h>
#include <string.h>

#include "policy-config.h"

#define MAX_RULES 4096
#define MAX_FLOWS_LIMIT 1000000
#define MAX_RATE 1000000000
#define MIN_BYTES_BURST 65535

static const char *const mode_choices[] = { "safe", "open", NULL };
static const char *const name_answer_choices[] = { "nxdomain", "refused", NULL };
static const char *const rebinding_choices[] = { "strip", "refuse", NULL };
static const char *const udp_refusal_choices[] = { "icmp", "drop", NULL };

static void
clear_rule (gpointer p)
{
  policy_addr_rule_clear (p);
}

static void
clear_pattern (gpointer p)
{
  policy_name_pattern_clear (p);
}

static gboolean
parse_addresses (const char *text, GArray *out)
{
  g_auto (GStrv) items = g_strsplit_set (text, ",;", -1);

  for (guint i = 0; items[i]; i++)
    {
      g_autoptr (GInetAddress) inet = NULL;
      PolicyAddress a = { 0 };

      g_strstrip (items[i]);
      if (items[i][0] == '\0')
        continue;
      inet = g_inet_address_new_from_string (items[i]);
      if (inet == NULL)
        return FALSE;
      a.family = g_inet_address_get_family (inet);
      memcpy (a.addr, g_inet_address_to_bytes (inet), g_inet_address_get_native_size (inet));
      g_array_append_val (out, a);
    }
  return TRUE;
}

PolicyConfig *
policy_config_new_default (void)
{
  PolicyConfig *c = g_new0 (PolicyConfig, 1);

  c->mode = POLICY_MODE_SAFE;
  c->allow = g_array_new (FALSE, TRUE, sizeof (PolicyAddrRule));
  g_array_set_clear_func (c->allow, clear_rule);
  c->deny = g_array_new (FALSE, TRUE, sizeof (PolicyAddrRule));
  g_array_set_clear_func (c->deny, clear_rule);
  c->ports = g_array_new (FALSE, TRUE, sizeof (PolicyPortRange));
  c->allow_names = g_array_new (FALSE, TRUE, sizeof (PolicyNamePattern));
  g_array_set_clear_func (c->allow_names, clear_pattern);
  c->deny_names = g_array_new (FALSE, TRUE, sizeof (PolicyNamePattern));
  g_array_set_clear_func (c->deny_names, clear_pattern);
  c->deny_name_answer = AERO_DNS_REFUSAL_NXDOMAIN;
  c->rebinding = AERO_REBINDING_STRIP;
  c->udp_refusal_icmp = TRUE;
  c->max_tcp_flows = 256;
  c->max_udp_flows = 128;
  c->new_flows_per_second = 50;
  c->new_flows_burst = 100;
  c->log_rate = 10;
  c->log_burst = 10;
  c->dns_addresses = g_array_new (FALSE, TRUE, sizeof (PolicyAddress));
  c->gateways = g_array_new (FALSE, TRUE, sizeof (PolicyAddress));
  parse_addresses ("10.0.2.3, fd00::3", c->dns_addresses);
  parse_addresses ("10.0.2.2, fd00::2", c->gateways);
  c->tcp_idle_ms = AERO_POLICY_DEFAULT_TCP_IDLE_MS;
  c->udp_idle_ms = POLICY_MIN_UDP_IDLE_MS;
  return c;
}

void
policy_config_free (PolicyConfig *c)
{
  if (c == NULL)
    return;
  g_array_unref (c->allow);
  g_array_unref (c->deny);
  g_array_unref (c->ports);
  g_array_unref (c->allow_names);
  g_array_unref (c->deny_names);
  g_array_unref (c->dns_addresses);
  g_array_unref (c->gateways);
  g_free (c);
}

gboolean
policy_parse_log_rate (const char *text, double *rate, double *burst)
{
  g_auto (GStrv) parts = g_strsplit (text, "/", 3);
  guint64 n = 0;
  double per;
  char *end = NULL;

  if (parts[0] == NULL || parts[1] == NULL || parts[2] != NULL)
    return FALSE;
  g_strstrip (parts[0]);
  g_strstrip (parts[1]);
  if (parts[0][0] == '\0' || !g_ascii_isdigit (parts[0][0]))
    return FALSE;
  n = g_ascii_strtoull (parts[0], &end, 10);
  if (*end != '\0' || n < 1 || n > 1000000)
    return FALSE;
  if (strcmp (parts[1], "s") == 0)
    per = 1;
  else if (strcmp (parts[1], "min") == 0)
    per = 60;
  else if (strcmp (parts[1], "h") == 0)
    per = 3600;
  else
    return FALSE;
  *rate = (double) n / per;
  *burst = (double) n;
  return TRUE;
}

static gboolean
read_rules (AeroConfigGroup *group, const char *key, GArray *out, GError **error)
{
  g_auto (GStrv) items = aero_config_group_get_string_list (group, key, FALSE, error);

  if (items == NULL)
    return FALSE;
  if (g_strv_length (items) > MAX_RULES)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected at most %u rules", MAX_RULES);
      return FALSE;
    }
  for (guint i = 0; items[i]; i++)
    {
      PolicyAddrRule rule;
      g_autofree char *message = NULL;

      if (!policy_addr_rule_parse (items[i], &rule, &message))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                                   "expected ADDRESS, CIDR or * with an optional :PORT or "
                                   ":PORT-PORT (IPv6 in brackets before a port), got '%s': %s",
                                   items[i], message);
          return FALSE;
        }
      g_array_append_val (out, rule);
    }
  return TRUE;
}

static gboolean
read_ports (AeroConfigGroup *group, GArray *out, GError **error)
{
  g_auto (GStrv) items = aero_config_group_get_string_list (group, "ports", FALSE, error);

  if (items == NULL)
    return FALSE;
  for (guint i = 0; items[i]; i++)
    {
      PolicyPortRange range;
      g_autofree char *message = NULL;

      if (strcmp (items[i], "*") == 0 || !policy_port_range_parse (items[i], &range, &message))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "ports",
                                   "expected a list of ports and PORT-PORT ranges (1 to 65535), "
                                   "empty for any port, got '%s': %s",
                                   items[i], message ? message : "write nothing for any port");
          return FALSE;
        }
      g_array_append_val (out, range);
    }
  return TRUE;
}

static gboolean
read_names (AeroConfigGroup *group, const char *key, GArray *out, GError **error)
{
  g_auto (GStrv) items = aero_config_group_get_string_list (group, key, FALSE, error);

  if (items == NULL)
    return FALSE;
  if (g_strv_length (items) > MAX_RULES)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected at most %u names", MAX_RULES);
      return FALSE;
    }
  for (guint i = 0; items[i]; i++)
    {
      PolicyNamePattern pattern;
      g_autofree char *message = NULL;

      if (!policy_name_pattern_parse (items[i], &pattern, &message))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                                   "expected host names, *.DOMAIN wildcards or *, got '%s': %s",
                                   items[i], message);
          return FALSE;
        }
      g_array_append_val (out, pattern);
    }
  return TRUE;
}

static gboolean
read_address_list (AeroConfigGroup *group, const char *key, const char *default_value,
                   GArray *out, GError **error)
{
  g_autofree char *value = aero_config_group_get_string (group, key, default_value, FALSE, error);

  if (value == NULL)
    return FALSE;
  g_array_set_size (out, 0);
  if (!parse_addresses (value, out))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected a list of numeric IPv4 or IPv6 addresses, got '%s'",
                               value);
      return FALSE;
    }
  return TRUE;
}

/* A rate key with its burst key: the burst defaults to DEFAULT_FACTOR ×
 * the rate (at least MIN_BURST) and may not be given without the rate. */
static gboolean
read_rate (AeroConfigGroup *group, const char *key, const char *burst_key, gboolean sizes,
           double default_rate, double default_factor, double min_burst, double *rate,
           double *burst, GError **error)
{
  guint64 r = 0, b = 0;
  gint64 ri = 0, bi = 0;
  double def_burst;

  if (sizes)
    {
      if (!aero_config_group_get_size (group, key, 0, MAX_RATE, (guint64) default_rate, &r, error))
        return FALSE;
    }
  else
    {
      if (!aero_config_group_get_int (group, key, 0, MAX_RATE, (gint64) default_rate, &ri, error))
        return FALSE;
      r = (guint64) ri;
    }
  *rate = (double) r;
  def_burst = MAX (ceil (*rate * default_factor), min_burst);
  if (!aero_config_group_has_key (group, burst_key))
    {
      *burst = def_burst;
      return TRUE;
    }
  if (r == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, burst_key,
                               "expected no value: the burst only applies when %s is set above 0",
                               key);
      return FALSE;
    }
  if (sizes)
    {
      if (!aero_config_group_get_size (group, burst_key, (guint64) min_burst, MAX_RATE,
                                       (guint64) def_burst, &b, error))
        return FALSE;
    }
  else
    {
      if (!aero_config_group_get_int (group, burst_key, (gint64) min_burst, MAX_RATE,
                                      (gint64) def_burst, &bi, error))
        return FALSE;
      b = (guint64) bi;
    }
  *burst = (double) b;
  return TRUE;
}

PolicyConfig *
policy_config_parse (AeroConfigGroup *group, GError **error)
{
  g_autoptr (PolicyConfig) c = policy_config_new_default ();
  g_autofree char *log_rate = NULL;
  guint choice;
  gint64 v;

  if (!aero_config_group_get_enum (group, "mode", mode_choices, 0, &choice, error))
    return NULL;
  c->mode = choice == 1 ? POLICY_MODE_OPEN : POLICY_MODE_SAFE;
  if (!aero_config_group_get_bool (group, "allow-open-on-public", FALSE, &c->allow_open_on_public,
                                   error))
    return NULL;

  if (!read_rules (group, "allow", c->allow, error) || !read_rules (group, "deny", c->deny, error) ||
      !read_ports (group, c->ports, error) ||
      !read_names (group, "allow-names", c->allow_names, error) ||
      !read_names (group, "deny-names", c->deny_names, error))
    return NULL;

  if (!aero_config_group_get_enum (group, "deny-name-answer", name_answer_choices, 0, &choice,
                                   error))
    return NULL;
  c->deny_name_answer = choice == 1 ? AERO_DNS_REFUSAL_REFUSED : AERO_DNS_REFUSAL_NXDOMAIN;
  if (!aero_config_group_get_bool (group, "require-resolved-names", FALSE,
                                   &c->require_resolved_names, error))
    return NULL;
  if (!aero_config_group_get_enum (group, "rebinding", rebinding_choices, 0, &choice, error))
    return NULL;
  c->rebinding = choice == 1 ? AERO_REBINDING_REFUSE : AERO_REBINDING_STRIP;
  if (!aero_config_group_get_enum (group, "udp-refusal", udp_refusal_choices, 0, &choice, error))
    return NULL;
  c->udp_refusal_icmp = choice == 0;

  if (!aero_config_group_get_int (group, "max-tcp-flows", 0, MAX_FLOWS_LIMIT, 256, &v, error))
    return NULL;
  c->max_tcp_flows = (guint64) v;
  if (!aero_config_group_get_int (group, "max-udp-flows", 0, MAX_FLOWS_LIMIT, 128, &v, error))
    return NULL;
  c->max_udp_flows = (guint64) v;
  if (!read_rate (group, "new-flows-per-second", "new-flows-burst", FALSE, 50, 2, 1,
                  &c->new_flows_per_second, &c->new_flows_burst, error))
    return NULL;
  if (!aero_config_group_get_size (group, "bytes-quota-up", 0, G_MAXUINT64, 0, &c->bytes_quota_up,
                                   error) ||
      !aero_config_group_get_size (group, "bytes-quota-down", 0, G_MAXUINT64, 0,
                                   &c->bytes_quota_down, error))
    return NULL;
  if (!read_rate (group, "frames-per-second", "frames-burst", FALSE, 0, 2, 1,
                  &c->frames_per_second, &c->frames_burst, error))
    return NULL;
  if (!read_rate (group, "bytes-per-second", "bytes-burst", TRUE, 0, 1, MIN_BYTES_BURST,
                  &c->bytes_per_second, &c->bytes_burst, error))
    return NULL;

  log_rate = aero_config_group_get_string (group, "log-rate", "10/s", FALSE, error);
  if (log_rate == NULL)
    return NULL;
  if (!policy_parse_log_rate (log_rate, &c->log_rate, &c->log_burst))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "log-rate",
                               "expected N/s, N/min or N/h with N from 1 to 1000000, got '%s'",
                               log_rate);
      return NULL;
    }

  if (!read_address_list (group, "dns-address", "10.0.2.3, fd00::3", c->dns_addresses, error) ||
      !read_address_list (group, "gateway", "10.0.2.2, fd00::2", c->gateways, error))
    return NULL;
  if (!aero_config_group_get_duration (group, "tcp-idle-timeout", 10 * 1000,
                                       7 * 24 * 3600 * (guint64) 1000,
                                       AERO_POLICY_DEFAULT_TCP_IDLE_MS, &c->tcp_idle_ms, error) ||
      !aero_config_group_get_duration (group, "udp-idle-timeout", 5 * 1000, 3600 * 1000,
                                       POLICY_MIN_UDP_IDLE_MS, &c->udp_idle_ms, error))
    return NULL;
  if (c->udp_idle_ms < POLICY_MIN_UDP_IDLE_MS)
    {
      g_autofree char *value = aero_config_group_get_string (group, "udp-idle-timeout", "", FALSE,
                                                             NULL);

      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "udp-idle-timeout",
                               "expected at least %us: the stack keeps the host socket of a UDP "
                               "flow open 240 s after its last datagram, and the flow must count "
                               "as long as the socket can be open; got '%s'",
                               POLICY_MIN_UDP_IDLE_MS / 1000, value ? value : "");
      return NULL;
    }
  return g_steal_pointer (&c);
}

gboolean
policy_config_listen_is_loopback (AeroConfigGroup *group, char **public_address)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (AeroConfigGroup) http = NULL;
  g_auto (GStrv) listen = NULL;
  const char *file = aero_config_group_get_file (group);

  *public_address = NULL;
  if (file == NULL || !g_key_file_load_from_file (keyfile, file, G_KEY_FILE_NONE, NULL))
    return TRUE;
  http = aero_config_group_new (keyfile, file, "http");
  listen = aero_config_group_get_string_list (http, "listen", FALSE, NULL);
  for (guint i = 0; listen && listen[i]; i++)
    {
      g_autoptr (GInetSocketAddress) addr = aero_parse_socket_address (listen[i], 0, NULL);

      /* An address the core cannot parse is the core's error to report. */
      if (addr && !g_inet_address_get_is_loopback (g_inet_socket_address_get_address (addr)))
        {
          *public_address = g_strdup (listen[i]);
          return FALSE;
        }
    }
  return TRUE;
}
