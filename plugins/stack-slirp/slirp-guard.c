/* slirp-guard.c — deciding, per guest frame, between libslirp, our DNS
 * server, a virtual service rewrite and a refusal (see slirp-guard.h). */
#include <string.h>

#include "slirp-guard.h"

#define DNS_PORT 53
#define DHCP_SERVER_PORT 67
#define DHCPV6_SERVER_PORT 547
#define ICMPV6_ECHO_REQUEST 128

static const guint8 ipv6_loopback[16] = { [15] = 1 };
static const guint8 ipv6_unspecified[16] = { 0 };
static const guint8 ipv6_mapped_prefix[12] = { [10] = 0xff, [11] = 0xff };
static const guint8 ipv6_all_dhcp[16] = { 0xff, 0x02, [13] = 1, [15] = 2 };

static gboolean
is_udp_to (const AeroPacket *pkt, guint16 port)
{
  return pkt->protocol == AERO_IPPROTO_UDP && pkt->has_ports && !pkt->fragment
         && pkt->dport == port;
}

static gboolean
is_icmp (const AeroPacket *pkt)
{
  return pkt->protocol == (pkt->ip_version == 4 ? AERO_IPPROTO_ICMP : AERO_IPPROTO_ICMPV6);
}

static AeroSlirpGuardVerdict
refuse (const char **reason, const char *why)
{
  *reason = why;
  return AERO_SLIRP_GUARD_REFUSE;
}

static AeroSlirpGuardVerdict
classify_ipv4 (const AeroSlirpSettings *s, const AeroPacket *pkt,
               const AeroSlirpService **service, const char **reason)
{
  const guint8 *dst = pkt->dst;
  gboolean transport = (pkt->protocol == AERO_IPPROTO_TCP || pkt->protocol == AERO_IPPROTO_UDP)
                       && pkt->has_ports;

  if (dst[0] == 127 || dst[0] == 0)
    return refuse (reason, "loopback");

  if (aero_slirp_settings_in_network (s, dst))
    {
      if (memcmp (dst, s->broadcast, 4) == 0)
        return AERO_SLIRP_GUARD_PASS;
      if (memcmp (dst, s->gateway, 4) == 0)
        {
          if (s->host_loopback || is_icmp (pkt) || is_udp_to (pkt, DHCP_SERVER_PORT))
            return AERO_SLIRP_GUARD_PASS;
          return refuse (reason, "host_loopback");
        }
      if (memcmp (dst, s->dns, 4) == 0)
        {
          if (is_icmp (pkt))
            return AERO_SLIRP_GUARD_PASS;
          if (is_udp_to (pkt, DNS_PORT))
            return AERO_SLIRP_GUARD_DNS;
          return refuse (reason, "dns_address");
        }
      if (transport && !pkt->fragment)
        {
          *service = aero_slirp_settings_find_service (s, pkt->protocol, dst, pkt->dport, FALSE);
          if (*service != NULL)
            return AERO_SLIRP_GUARD_SERVICE;
        }
      return refuse (reason, "local_address");
    }

  if (transport && aero_slirp_settings_find_service (s, pkt->protocol, dst, pkt->dport, TRUE))
    return refuse (reason, "service_host");
  return AERO_SLIRP_GUARD_PASS;
}

/* Whether @addr is one libslirp answers for itself: the gateway or DNS
 * address, or their link-local twins. */
static gboolean
is_slirp_host6 (const AeroSlirpSettings *s, const guint8 addr[16])
{
  gboolean local = addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80;

  if (!local && !aero_slirp_settings_in_ipv6_prefix (s, addr))
    return FALSE;
  return memcmp (addr + 8, s->ipv6_gateway + 8, 8) == 0 || memcmp (addr + 8, s->ipv6_dns + 8, 8) == 0;
}

static AeroSlirpGuardVerdict
classify_ipv6 (const AeroSlirpSettings *s, const AeroPacket *pkt, const char **reason)
{
  const guint8 *dst = pkt->dst;

  if (!s->ipv6)
    return AERO_SLIRP_GUARD_PASS;

  if (memcmp (dst, ipv6_loopback, 16) == 0 || memcmp (dst, ipv6_unspecified, 16) == 0
      || memcmp (dst, ipv6_mapped_prefix, 12) == 0)
    return refuse (reason, "loopback");

  if (is_icmp (pkt) && pkt->icmp_type == ICMPV6_ECHO_REQUEST && !is_slirp_host6 (s, dst))
    return refuse (reason, "icmpv6_echo");

  if (aero_slirp_settings_in_ipv6_prefix (s, dst))
    {
      if (memcmp (dst, s->ipv6_gateway, 16) == 0)
        {
          if (s->host_loopback || is_icmp (pkt))
            return AERO_SLIRP_GUARD_PASS;
          return refuse (reason, "host_loopback");
        }
      if (memcmp (dst, s->ipv6_dns, 16) == 0)
        {
          if (is_icmp (pkt))
            return AERO_SLIRP_GUARD_PASS;
          if (is_udp_to (pkt, DNS_PORT))
            return AERO_SLIRP_GUARD_DNS;
          return refuse (reason, "dns_address");
        }
      return refuse (reason, "local_address");
    }

  if (dst[0] == 0xff || (dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80))
    {
      if (is_icmp (pkt))
        return AERO_SLIRP_GUARD_PASS;
      if (memcmp (dst, ipv6_all_dhcp, 16) == 0 && is_udp_to (pkt, DHCPV6_SERVER_PORT))
        return AERO_SLIRP_GUARD_PASS;
      return refuse (reason, "link_local");
    }
  return AERO_SLIRP_GUARD_PASS;
}

AeroSlirpGuardVerdict
aero_slirp_guard_classify (const AeroSlirpSettings *settings, const AeroPacket *pkt,
                           const AeroSlirpService **service, const char **reason)
{
  guint8 target[4];

  *service = NULL;
  *reason = NULL;
  if (pkt->ip_version == 4)
    return classify_ipv4 (settings, pkt, service, reason);
  if (pkt->ip_version == 6)
    return classify_ipv6 (settings, pkt, reason);
  if (aero_packet_is_arp_request (pkt->frame, pkt->len, target)
      && aero_slirp_settings_is_service_address (settings, target))
    return AERO_SLIRP_GUARD_ARP_SERVICE;
  return AERO_SLIRP_GUARD_PASS;
}
