/* policy-verdict.c — the policy's decisions on flows, names and resolved
 * addresses (see policy-verdict.h for the order of the checks). */
#include <string.h>

#include "policy-ranges.h"
#include "policy-verdict.h"

#define IPPROTO_ICMP_ 1
#define IPPROTO_TCP_ 6
#define IPPROTO_UDP_ 17
#define IPPROTO_ICMPV6_ 58

static gsize
addr_len (GSocketFamily family)
{
  return family == G_SOCKET_FAMILY_IPV4 ? 4 : 16;
}

static gboolean
address_equal (const PolicyAddress *a, GSocketFamily family, const guint8 *addr)
{
  return a->family == family && memcmp (a->addr, addr, addr_len (family)) == 0;
}

gboolean
policy_address_in (const GArray *addresses, GSocketFamily family, const guint8 *addr)
{
  guint8 v4[4];

  if (addresses == NULL)
    return FALSE;
  for (guint i = 0; i < addresses->len; i++)
    {
      const PolicyAddress *a = &g_array_index (addresses, PolicyAddress, i);

      if (address_equal (a, family, addr))
        return TRUE;
      if (family == G_SOCKET_FAMILY_IPV6 && a->family == G_SOCKET_FAMILY_IPV4 &&
          policy_ipv6_embedded_ipv4 (addr, v4) && memcmp (a->addr, v4, 4) == 0)
        return TRUE;
    }
  return FALSE;
}

static gboolean
address_in_exact (const GArray *addresses, GSocketFamily family, const guint8 *addr)
{
  for (guint i = 0; i < addresses->len; i++)
    if (address_equal (&g_array_index (addresses, PolicyAddress, i), family, addr))
      return TRUE;
  return FALSE;
}

static gboolean
is_limited_broadcast (const AeroFlow *flow)
{
  static const guint8 bcast[4] = { 255, 255, 255, 255 };

  return flow->family == G_SOCKET_FAMILY_IPV4 && memcmp (flow->destination, bcast, 4) == 0;
}

static gboolean
is_dhcpv6_multicast (const AeroFlow *flow)
{
  static const guint8 all_dhcp[16] = { 0xff, 0x02, [13] = 0x01, [15] = 0x02 };

  return flow->family == G_SOCKET_FAMILY_IPV6 && memcmp (flow->destination, all_dhcp, 16) == 0;
}

static gboolean
is_icmp (const AeroFlow *flow)
{
  return flow->protocol == IPPROTO_ICMP_ || flow->protocol == IPPROTO_ICMPV6_;
}

gboolean
policy_verdict_is_service (const PolicyConfig *config, const AeroFlow *flow)
{
  gboolean udp = flow->protocol == IPPROTO_UDP_, tcp = flow->protocol == IPPROTO_TCP_;

  if (address_in_exact (config->dns_addresses, flow->family, flow->destination))
    return is_icmp (flow) || ((udp || tcp) && flow->port == 53);
  /* The stack answers DHCP on the gateway itself, DHCPv4 on its IPv4
   * address and DHCPv6 on its IPv6 one; the other way round it would pass
   * the datagram on (to the host's loopback with host-loopback = true). */
  if (address_in_exact (config->gateways, flow->family, flow->destination))
    return is_icmp (flow)
           || (udp && flow->port == (flow->family == G_SOCKET_FAMILY_IPV4 ? 67 : 547));
  if (udp && flow->port == 67 && is_limited_broadcast (flow))
    return TRUE;
  if (udp && flow->port == 547 && is_dhcpv6_multicast (flow))
    return TRUE;
  return FALSE;
}

static gboolean
port_listed (const GArray *ports, guint16 port)
{
  for (guint i = 0; i < ports->len; i++)
    {
      const PolicyPortRange *r = &g_array_index (ports, PolicyPortRange, i);

      if (port >= r->min && port <= r->max)
        return TRUE;
    }
  return FALSE;
}

/* The first rule of RULES matching; NAMED_ONLY skips `*` rules. */
static const PolicyAddrRule *
find_rule (const GArray *rules, const AeroFlow *flow, gboolean named_only, gboolean embedded)
{
  for (guint i = 0; i < rules->len; i++)
    {
      const PolicyAddrRule *r = &g_array_index (rules, PolicyAddrRule, i);

      if (named_only && r->family == G_SOCKET_FAMILY_INVALID)
        continue;
      if (policy_addr_rule_matches (r, flow->family, flow->destination, flow->port, embedded))
        return r;
    }
  return NULL;
}

/* Step 5 of the header: why the destination itself is refused. */
static const char *
destination_refusal (const PolicyConfig *config, const GArray *host_addresses,
                     GSocketFamily family, const guint8 *addr)
{
  const char *range = policy_range_classify (family, addr);

  if (range)
    return range;
  if (policy_address_in (config->gateways, family, addr))
    return "gateway";
  if (policy_address_in (config->dns_addresses, family, addr))
    return "virtual_address";
  if (policy_address_in (host_addresses, family, addr))
    return "host_address";
  return NULL;
}

PolicyVerdict
policy_verdict_flow (const PolicyConfig *config, const GArray *host_addresses,
                     const AeroFlow *flow, PolicyResolvedFunc resolved, gpointer resolved_data,
                     const char **reason)
{
  const char *why;
  gboolean ports_apply;

  *reason = NULL;
  if (flow->protocol != IPPROTO_TCP_ && flow->protocol != IPPROTO_UDP_ && !is_icmp (flow))
    {
      if (config->mode == POLICY_MODE_OPEN)
        return POLICY_VERDICT_ALLOW;
      *reason = "protocol";
      return POLICY_VERDICT_DENY;
    }
  if (policy_verdict_is_service (config, flow))
    return POLICY_VERDICT_SERVICE;
  if (find_rule (config->deny, flow, FALSE, TRUE))
    {
      *reason = "deny_rule";
      return POLICY_VERDICT_DENY;
    }
  if (config->mode == POLICY_MODE_OPEN)
    return POLICY_VERDICT_ALLOW;
  if (find_rule (config->allow, flow, TRUE, FALSE))
    return POLICY_VERDICT_ALLOW;
  why = destination_refusal (config, host_addresses, flow->family, flow->destination);
  if (why)
    {
      *reason = why;
      return POLICY_VERDICT_DENY;
    }
  if (find_rule (config->allow, flow, FALSE, FALSE))
    return POLICY_VERDICT_ALLOW;
  ports_apply = flow->protocol == IPPROTO_TCP_ || flow->protocol == IPPROTO_UDP_;
  if (ports_apply && config->ports->len > 0 && !port_listed (config->ports, flow->port))
    {
      *reason = "port";
      return POLICY_VERDICT_DENY;
    }
  if (config->require_resolved_names &&
      (resolved == NULL || !resolved (flow->family, flow->destination, resolved_data)))
    {
      *reason = "not_resolved";
      return POLICY_VERDICT_DENY;
    }
  return POLICY_VERDICT_ALLOW;
}

const char *
policy_verdict_name (const PolicyConfig *config, const char *name)
{
  gboolean allowed;

  if (!policy_name_is_valid (name))
    return config->mode == POLICY_MODE_OPEN ? NULL : "name_invalid";
  for (guint i = 0; i < config->deny_names->len; i++)
    if (policy_name_pattern_matches (&g_array_index (config->deny_names, PolicyNamePattern, i),
                                     name))
      return "name_denied";
  if (config->mode == POLICY_MODE_OPEN || config->allow_names->len == 0)
    return NULL;
  allowed = FALSE;
  for (guint i = 0; i < config->allow_names->len && !allowed; i++)
    allowed = policy_name_pattern_matches (&g_array_index (config->allow_names, PolicyNamePattern, i),
                                           name);
  return allowed ? NULL : "name_not_allowed";
}

const char *
policy_verdict_answer (const PolicyConfig *config, const GArray *host_addresses,
                       GSocketFamily family, const guint8 *addr)
{
  for (guint i = 0; i < config->deny->len; i++)
    {
      const PolicyAddrRule *r = &g_array_index (config->deny, PolicyAddrRule, i);

      if (policy_addr_rule_any_port (r) && policy_addr_rule_covers_address (r, family, addr, TRUE))
        return "deny_rule";
    }
  if (config->mode == POLICY_MODE_OPEN)
    return NULL;
  for (guint i = 0; i < config->allow->len; i++)
    {
      const PolicyAddrRule *r = &g_array_index (config->allow, PolicyAddrRule, i);

      if (r->family != G_SOCKET_FAMILY_INVALID &&
          policy_addr_rule_covers_address (r, family, addr, FALSE))
        return NULL;
    }
  return destination_refusal (config, host_addresses, family, addr);
}
