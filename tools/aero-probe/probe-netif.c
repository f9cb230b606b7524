/* probe-netif.c — the probe's guest interface: address filter, ARP cache
 * and responder, IPv4 demultiplexing, IPv4/UDP output. See probe-netif.h. */
#include "probe-netif.h"

#define ARP_RETRY_US (1 * G_USEC_PER_SEC)

static void
arp_learn (ProbeNetif *n, guint32 ip, const ProbeMac *mac)
{
  guint i;

  if (ip == 0 || ip == PROBE_IPV4_BROADCAST || (mac->b[0] & 1))
    return;
  for (i = 0; i < PROBE_NETIF_ARP_CACHE; i++)
    {
      if (n->arp_cache[i].valid && n->arp_cache[i].ip == ip)
        {
          n->arp_cache[i].mac = *mac;
          return;
        }
    }
  i = n->arp_next;
  n->arp_next = (n->arp_next + 1) % PROBE_NETIF_ARP_CACHE;
  n->arp_cache[i].ip = ip;
  n->arp_cache[i].mac = *mac;
  n->arp_cache[i].valid = TRUE;
}

gboolean
probe_netif_arp_lookup (ProbeNetif *n, guint32 addr, ProbeMac *out)
{
  for (guint i = 0; i < PROBE_NETIF_ARP_CACHE; i++)
    {
      if (n->arp_cache[i].valid && n->arp_cache[i].ip == addr)
        {
          *out = n->arp_cache[i].mac;
          return TRUE;
        }
    }
  return FALSE;
}

static void
handle_arp (ProbeNetif *n, const ProbeEth *eth)
{
  ProbeArp arp;

  if (!probe_arp_parse (eth->payload, eth->payload_len, &arp))
    {
      n->stats.packets_invalid++;
      return;
    }
  if (arp.op == 1 && n->ip != 0 && arp.tpa == n->ip)
    {
      g_autoptr (GBytes) reply = NULL;

      arp_learn (n, arp.spa, &arp.sha);
      reply = probe_arp_frame (&arp.sha, 2, &n->mac, n->ip, &arp.sha, arp.spa);
      if (probe_tunnel_send_frame (n->tunnel, reply, NULL))
        n->stats.arp_answered++;
    }
  else if (arp.op == 2)
    arp_learn (n, arp.spa, &arp.sha);
  else
    n->stats.frames_ignored++;
}

static gboolean
ip_is_for_us (ProbeNetif *n, const ProbeIpv4 *ip)
{
  if (ip->dst == PROBE_IPV4_BROADCAST)
    return TRUE;
  if (n->ip == 0)
    return ip->proto == PROBE_IPPROTO_UDP; /* DHCP before the lease */
  if (ip->dst == n->ip)
    return TRUE;
  return n->netmask != 0 && n->netmask != PROBE_IPV4_BROADCAST
         && ip->dst == (n->ip | ~n->netmask);
}

static void
handle_ipv4 (ProbeNetif *n, const ProbeEth *eth)
{
  ProbeIpv4 ip;

  if (!probe_ipv4_parse (eth->payload, eth->payload_len, &ip))
    {
      n->stats.packets_invalid++;
      return;
    }
  if (!ip_is_for_us (n, &ip))
    {
      n->stats.frames_ignored++;
      return;
    }
  if (probe_ipv4_is_fragment (&ip))
    {
      n->stats.fragments++;
      return;
    }
  switch (ip.proto)
    {
    case PROBE_IPPROTO_UDP:
      {
        ProbeUdp udp;

        if (!probe_udp_parse (&ip, &udp))
          {
            n->stats.packets_invalid++;
            return;
          }
        for (guint i = 0; i < PROBE_NETIF_MAX_UDP; i++)
          {
            if (n->udp[i].func && n->udp[i].port == udp.dport)
              {
                n->udp[i].func (&ip, &udp, n->udp[i].data);
                return;
              }
          }
        n->stats.frames_ignored++;
      }
      break;
    case PROBE_IPPROTO_ICMP:
      {
        ProbeIcmp icmp;

        if (!probe_icmp_parse (&ip, &icmp))
          {
            n->stats.packets_invalid++;
            return;
          }
        if (n->icmp_func)
          n->icmp_func (&ip, &icmp, n->icmp_data);
        else
          n->stats.frames_ignored++;
      }
      break;
    case PROBE_IPPROTO_TCP:
      {
        ProbeTcpSeg seg;

        if (!probe_tcp_parse (&ip, &seg))
          {
            n->stats.packets_invalid++;
            return;
          }
        if (n->tcp_func)
          n->tcp_func (&ip, &seg, n->tcp_data);
        else
          n->stats.frames_ignored++;
      }
      break;
    default:
      n->stats.frames_ignored++;
      break;
    }
}

static void
on_frame (const guint8 *frame, gsize len, gpointer user_data)
{
  ProbeNetif *n = user_data;
  ProbeEth eth;

  if (!probe_eth_parse (frame, len, &eth))
    {
      n->stats.packets_invalid++;
      return;
    }
  if (!probe_mac_equal (&eth.dst, &n->mac) && !probe_mac_equal (&eth.dst, &probe_mac_broadcast))
    {
      n->stats.frames_ignored++;
      return;
    }
  switch (eth.ethertype)
    {
    case PROBE_ETHERTYPE_ARP:
      handle_arp (n, &eth);
      break;
    case PROBE_ETHERTYPE_IPV4:
      handle_ipv4 (n, &eth);
      break;
    default:
      n->stats.frames_ignored++;
      break;
    }
}

ProbeNetif *
probe_netif_new (ProbeTunnel *tunnel, const ProbeMac *mac, gboolean verbose)
{
  ProbeNetif *n = g_new0 (ProbeNetif, 1);

  n->tunnel = tunnel;
  n->mac = *mac;
  n->verbose = verbose;
  n->mtu = 1500;
  n->ip_id = (guint16) g_random_int ();
  probe_tunnel_set_frame_handler (tunnel, on_frame, n);
  return n;
}

void
probe_netif_free (ProbeNetif *n)
{
  if (n == NULL)
    return;
  probe_tunnel_set_frame_handler (n->tunnel, NULL, NULL);
  g_free (n);
}

void
probe_netif_configure (ProbeNetif *n, guint32 ip, guint32 netmask, guint32 router, guint mtu)
{
  n->ip = ip;
  n->netmask = netmask;
  n->router = router;
  /* Never above what the tunnel's default frame limit carries. */
  n->mtu = (mtu >= 576 && mtu <= 1500) ? mtu : 1500;
}

gboolean
probe_netif_set_udp_handler (ProbeNetif *n, guint16 port, ProbeUdpFunc func, gpointer user_data)
{
  for (guint i = 0; i < PROBE_NETIF_MAX_UDP; i++)
    {
      if (n->udp[i].func && n->udp[i].port == port)
        {
          n->udp[i].func = func;
          n->udp[i].data = user_data;
          return TRUE;
        }
    }
  if (func == NULL)
    return TRUE;
  for (guint i = 0; i < PROBE_NETIF_MAX_UDP; i++)
    {
      if (n->udp[i].func == NULL)
        {
          n->udp[i].port = port;
          n->udp[i].func = func;
          n->udp[i].data = user_data;
          return TRUE;
        }
    }
  return FALSE;
}

void
probe_netif_set_icmp_handler (ProbeNetif *n, ProbeIcmpFunc func, gpointer user_data)
{
  n->icmp_func = func;
  n->icmp_data = user_data;
}

void
probe_netif_set_tcp_handler (ProbeNetif *n, ProbeTcpFunc func, gpointer user_data)
{
  n->tcp_func = func;
  n->tcp_data = user_data;
}

gboolean
probe_netif_send_ipv4 (ProbeNetif *n, const ProbeMac *dst_mac, guint32 src, guint32 dst,
                       guint8 proto, const guint8 *l4, gsize l4_len, GError **error)
{
  g_autoptr (GBytes) frame = NULL;

  if (l4_len + PROBE_IPV4_HLEN > n->mtu)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "packet of %" G_GSIZE_FORMAT " bytes exceeds the MTU %u",
                   l4_len + PROBE_IPV4_HLEN, n->mtu);
      return FALSE;
    }
  frame = probe_ipv4_frame (dst_mac, &n->mac, src, dst, proto, n->ip_id++, l4, l4_len);
  return probe_tunnel_send_frame (n->tunnel, frame, error);
}

gboolean
probe_netif_send_udp (ProbeNetif *n, const ProbeMac *dst_mac, guint32 src, guint32 dst,
                      guint16 sport, guint16 dport, const guint8 *payload, gsize len,
                      GError **error)
{
  g_autoptr (GByteArray) udp = probe_udp_build (src, dst, sport, dport, payload, len);

  return probe_netif_send_ipv4 (n, dst_mac, src, dst, PROBE_IPPROTO_UDP, udp->data, udp->len,
                                error);
}

gboolean
probe_netif_on_link (ProbeNetif *n, guint32 addr)
{
  if (n->netmask == 0)
    return FALSE;
  return (addr & n->netmask) == (n->ip & n->netmask);
}

typedef struct {
  ProbeNetif *netif;
  guint32 addr;
  ProbeMac *out;
} ArpWait;

static gboolean
arp_resolved (gpointer user_data)
{
  ArpWait *w = user_data;

  return probe_netif_arp_lookup (w->netif, w->addr, w->out);
}

gboolean
probe_netif_arp_resolve (ProbeNetif *n, guint32 addr, gint64 deadline, ProbeMac *out,
                         GError **error)
{
  ArpWait w = { n, addr, out };
  static const ProbeMac zero = { { 0 } };
  char a[16];

  if (probe_netif_arp_lookup (n, addr, out))
    return TRUE;
  for (;;)
    {
      g_autoptr (GBytes) req = probe_arp_frame (&probe_mac_broadcast, 1, &n->mac, n->ip, &zero, addr);
      g_autoptr (GError) local = NULL;
      gint64 retry = MIN (g_get_monotonic_time () + ARP_RETRY_US, deadline);

      if (!probe_tunnel_send_frame (n->tunnel, req, error))
        return FALSE;
      if (probe_tunnel_wait (n->tunnel, arp_resolved, &w, retry, &local))
        return TRUE;
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      if (retry >= deadline)
        break;
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no ARP reply for %s",
               probe_ipv4_to_string (addr, a));
  return FALSE;
}

gboolean
probe_netif_next_hop (ProbeNetif *n, guint32 dst, gint64 deadline, ProbeMac *out, GError **error)
{
  if (probe_netif_on_link (n, dst) || n->router == 0)
    return probe_netif_arp_resolve (n, dst, deadline, out, error);
  return probe_netif_arp_resolve (n, n->router, deadline, out, error);
}
