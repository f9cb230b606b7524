/* aero-policy.c — the policy interface and the flow parser. The filter
 * that applies a policy to one session's frames is aero-policy-filter.c. */
#include <string.h>

#include "aero-net/aero-policy.h"
#include "aero-ip-packet.h"

G_DEFINE_INTERFACE (AeroPolicy, aero_policy, AERO_TYPE_COMPONENT)

static void
aero_policy_default_init (AeroPolicyInterface *iface)
{
}

gboolean
aero_policy_check_flow (AeroPolicy *self, AeroSession *session, const AeroFlow *flow,
                        const char **reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  const char *why = NULL;
  gboolean ok;

  ok = iface->check_flow ? iface->check_flow (self, session, flow, &why) : TRUE;
  if (reason)
    *reason = ok ? NULL : (why ? why : "denied");
  return ok;
}

gboolean
aero_policy_check_name (AeroPolicy *self, AeroSession *session, const char *name,
                        const char **reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  const char *why = NULL;
  gboolean ok;

  ok = iface->check_name ? iface->check_name (self, session, name, &why) : TRUE;
  if (reason)
    *reason = ok ? NULL : (why ? why : "denied");
  return ok;
}

AeroTrafficVerdict
aero_policy_check_traffic (AeroPolicy *self, AeroSession *session, AeroDirection dir,
                           gsize bytes, AeroCloseReason *close_reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  AeroCloseReason why = AERO_CLOSE_POLICY;
  AeroTrafficVerdict v;

  v = iface->check_traffic ? iface->check_traffic (self, session, dir, bytes, &why)
                           : AERO_TRAFFIC_PASS;
  if (close_reason)
    *close_reason = why;
  return v;
}

void
aero_policy_flow_closed (AeroPolicy *self, AeroSession *session, const AeroFlow *flow)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);

  if (iface->flow_closed)
    iface->flow_closed (self, session, flow);
}

gboolean
aero_policy_note_resolution (AeroPolicy *self, AeroSession *session, const char *name,
                             GSocketFamily family, const guint8 *address, const char **reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  const char *why = NULL;
  gboolean ok;

  ok = iface->note_resolution ? iface->note_resolution (self, session, name, family, address, &why)
                              : TRUE;
  if (reason)
    *reason = ok ? NULL : (why ? why : "denied");
  return ok;
}

void
aero_policy_get_options (AeroPolicy *self, AeroPolicyOptions *options)
{
  AeroPolicyInterface *iface;

  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof *options);
  options->dns_refusal = AERO_DNS_REFUSAL_NXDOMAIN;
  options->rebinding = AERO_REBINDING_STRIP;
  options->udp_refusal_icmp = TRUE;
  options->max_flows = AERO_POLICY_DEFAULT_MAX_FLOWS;
  options->tcp_idle_timeout_ms = AERO_POLICY_DEFAULT_TCP_IDLE_MS;
  options->udp_idle_timeout_ms = AERO_POLICY_DEFAULT_UDP_IDLE_MS;
  g_return_if_fail (AERO_IS_POLICY (self));
  iface = AERO_POLICY_GET_IFACE (self);
  if (iface->get_options)
    iface->get_options (self, options);
  if (options->max_flows == 0)
    options->max_flows = AERO_POLICY_DEFAULT_MAX_FLOWS;
  if (options->tcp_idle_timeout_ms == 0)
    options->tcp_idle_timeout_ms = AERO_POLICY_DEFAULT_TCP_IDLE_MS;
  if (options->udp_idle_timeout_ms == 0)
    options->udp_idle_timeout_ms = AERO_POLICY_DEFAULT_UDP_IDLE_MS;
}

/* ---- flow parsing ------------------------------------------------------ */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100

static gboolean
parse_l4 (const guint8 *l4, gsize l4_len, gboolean first_fragment, AeroFlow *flow,
          gboolean *is_new)
{
  gboolean fresh = FALSE;

  switch (flow->protocol)
    {
    case 6: /* TCP */
      if (!first_fragment || l4_len < 14)
        return FALSE;
      flow->source_port = aero_ip_rd16 (l4);
      flow->port = aero_ip_rd16 (l4 + 2);
      /* SYN set, ACK clear */
      fresh = (l4[13] & 0x12) == 0x02;
      break;
    case 17: /* UDP */
      if (!first_fragment || l4_len < 8)
        return FALSE;
      flow->source_port = aero_ip_rd16 (l4);
      flow->port = aero_ip_rd16 (l4 + 2);
      fresh = TRUE;
      break;
    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
      if (!first_fragment || l4_len < 4)
        return FALSE;
      fresh = (flow->protocol == 1 && l4[0] == 8) || (flow->protocol == 58 && l4[0] == 128);
      break;
    default:
      return FALSE;
    }
  if (is_new)
    *is_new = fresh;
  return TRUE;
}

gboolean
aero_flow_parse (const guint8 *frame, gsize len, AeroFlow *flow, gboolean *is_new)
{
  gsize off = 12;
  guint16 ethertype;

  g_return_val_if_fail (flow != NULL, FALSE);
  memset (flow, 0, sizeof *flow);
  if (is_new)
    *is_new = FALSE;
  if (frame == NULL || len < 14)
    return FALSE;

  ethertype = aero_ip_rd16 (frame + off);
  off += 2;
  if (ethertype == ETHERTYPE_VLAN)
    {
      if (len < 18)
        return FALSE;
      ethertype = aero_ip_rd16 (frame + off + 2);
      off += 4;
    }

  if (ethertype == ETHERTYPE_IPV4)
    {
      const guint8 *ip = frame + off;
      gsize avail = len - off, ihl, total;
      gboolean first;

      if (avail < 20 || (ip[0] >> 4) != 4)
        return FALSE;
      ihl = (gsize) (ip[0] & 0x0f) * 4;
      total = aero_ip_rd16 (ip + 2);
      if (ihl < 20 || total < ihl || total > avail)
        return FALSE;
      flow->family = G_SOCKET_FAMILY_IPV4;
      flow->protocol = ip[9];
      memcpy (flow->source, ip + 12, 4);
      memcpy (flow->destination, ip + 16, 4);
      first = (aero_ip_rd16 (ip + 6) & 0x1fff) == 0;
      return parse_l4 (ip + ihl, total - ihl, first, flow, is_new);
    }

  if (ethertype == ETHERTYPE_IPV6)
    {
      const guint8 *ip = frame + off;
      gsize avail = len - off, payload, pos = 40;
      guint8 next;
      gboolean first = TRUE;

      if (avail < 40 || (ip[0] >> 4) != 6)
        return FALSE;
      payload = aero_ip_rd16 (ip + 4);
      if (40 + payload > avail)
        return FALSE;
      avail = 40 + payload;
      flow->family = G_SOCKET_FAMILY_IPV6;
      memcpy (flow->source, ip + 8, 16);
      memcpy (flow->destination, ip + 24, 16);
      next = ip[6];
      for (int i = 0; i < 8; i++)
        {
          gsize ext;

          if (next != 0 && next != 43 && next != 60 && next != 44)
            break;
          if (pos + 8 > avail)
            return FALSE;
          if (next == 44)
            {
              ext = 8;
              if ((aero_ip_rd16 (ip + pos + 2) & 0xfff8) != 0)
                first = FALSE;
            }
          else
            ext = ((gsize) ip[pos + 1] + 1) * 8;
          next = ip[pos];
          pos += ext;
          if (pos > avail)
            return FALSE;
        }
      flow->protocol = next;
      return parse_l4 (ip + pos, avail - pos, first, flow, is_new);
    }

  return FALSE;
}
