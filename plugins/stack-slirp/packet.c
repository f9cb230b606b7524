/* packet.c — bounded parsing and building of Ethernet/IP frames, checksums
 * and in-place address rewriting (see packet.h). */
#include <string.h>

#include <aero-net/aero-checksum.h>

#include "packet.h"

#define ETH_LEN 14
#define ARP_FRAME_LEN (ETH_LEN + 28)
#define IPV4_HEADER_LEN 20
#define IPV6_HEADER_LEN 40
#define UDP_HEADER_LEN 8
#define TCP_HEADER_LEN 20
#define MAX_IPV6_EXTENSIONS 8
#define BOOTP_COOKIE_OFFSET 236
#define DHCP_OPTION_PAD 0
#define DHCP_OPTION_MTU 26
#define DHCP_OPTION_END 255
#define ICMPV6_ROUTER_ADVERTISEMENT 134
#define RA_HEADER_LEN 16
#define NDP_OPTION_RDNSS 25
#define RDNSS_OPTION_LEN 24

guint16
aero_read_be16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

guint32
aero_read_be32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

void
aero_write_be16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

void
aero_write_be32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* ---- checksums ---------------------------------------------------------- */

/* Updates the checksum at @field for @old (even length) replaced by @new
 * (RFC 1624, eqn. 3). */
static void
checksum_replace (guint8 *field, const guint8 *old, const guint8 *new, gsize len)
{
  guint32 sum = (guint16) ~aero_read_be16 (field);

  for (gsize i = 0; i < len; i += 2)
    {
      sum += (guint16) ~aero_read_be16 (old + i);
      sum += aero_read_be16 (new + i);
    }
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  aero_write_be16 (field, (guint16) ~sum);
}

/* ---- parsing ---------------------------------------------------------------- */

static gboolean
parse_transport (AeroPacket *pkt)
{
  const guint8 *l4 = pkt->frame + pkt->l4_offset;

  if (!pkt->first_fragment)
    return TRUE;

  switch (pkt->protocol)
    {
    case AERO_IPPROTO_TCP:
      if (pkt->l4_len < TCP_HEADER_LEN)
        return FALSE;
      pkt->tcp_header_len = (gsize) (l4[12] >> 4) * 4;
      if (pkt->tcp_header_len < TCP_HEADER_LEN || pkt->tcp_header_len > pkt->l4_len)
        return FALSE;
      pkt->has_ports = TRUE;
      pkt->sport = aero_read_be16 (l4);
      pkt->dport = aero_read_be16 (l4 + 2);
      pkt->tcp_seq = aero_read_be32 (l4 + 4);
      pkt->tcp_ack = aero_read_be32 (l4 + 8);
      pkt->tcp_flags = l4[13];
      return TRUE;

    case AERO_IPPROTO_UDP:
      if (pkt->l4_len < UDP_HEADER_LEN)
        return FALSE;
      pkt->has_ports = TRUE;
      pkt->sport = aero_read_be16 (l4);
      pkt->dport = aero_read_be16 (l4 + 2);
      return TRUE;

    case AERO_IPPROTO_ICMP:
    case AERO_IPPROTO_ICMPV6:
      if (pkt->l4_len < 4)
        return FALSE;
      pkt->icmp_type = l4[0];
      return TRUE;

    default:
      return TRUE;
    }
}

static gboolean
parse_ipv4 (AeroPacket *pkt)
{
  const guint8 *ip = pkt->frame + pkt->l3_offset;
  gsize avail = pkt->len - pkt->l3_offset;
  gsize header_len, total_len;
  guint16 fragment;

  if (avail < IPV4_HEADER_LEN || (ip[0] >> 4) != 4)
    return FALSE;
  header_len = (gsize) (ip[0] & 0x0f) * 4;
  total_len = aero_read_be16 (ip + 2);
  if (header_len < IPV4_HEADER_LEN || total_len < header_len || total_len > avail)
    return FALSE;

  fragment = aero_read_be16 (ip + 6);
  pkt->ip_version = 4;
  pkt->src = ip + 12;
  pkt->dst = ip + 16;
  pkt->protocol = ip[9];
  pkt->fragment = (fragment & 0x3fff) != 0;
  pkt->first_fragment = (fragment & 0x1fff) == 0;
  pkt->l4_offset = pkt->l3_offset + header_len;
  pkt->l4_len = total_len - header_len;
  return parse_transport (pkt);
}

static gboolean
parse_ipv6 (AeroPacket *pkt)
{
  const guint8 *ip = pkt->frame + pkt->l3_offset;
  gsize avail = pkt->len - pkt->l3_offset;
  gsize end, offset;
  guint8 next;

  if (avail < IPV6_HEADER_LEN || (ip[0] >> 4) != 6)
    return FALSE;
  end = IPV6_HEADER_LEN + aero_read_be16 (ip + 4);
  if (end > avail)
    return FALSE;

  pkt->ip_version = 6;
  pkt->src = ip + 8;
  pkt->dst = ip + 24;
  pkt->first_fragment = TRUE;
  next = ip[6];
  offset = IPV6_HEADER_LEN;

  for (guint i = 0;; i++)
    {
      const guint8 *ext = ip + offset;

      if (next != 0 && next != 43 && next != 44 && next != 60)
        break;
      if (i == MAX_IPV6_EXTENSIONS || offset + 8 > end)
        return FALSE;
      if (next == 44)
        {
          guint16 fragment = aero_read_be16 (ext + 2);

          pkt->fragment = TRUE;
          pkt->first_fragment = (fragment & 0xfff8) == 0;
          offset += 8;
        }
      else
        {
          gsize ext_len = ((gsize) ext[1] + 1) * 8;

          if (offset + ext_len > end)
            return FALSE;
          offset += ext_len;
        }
      next = ext[0];
    }

  pkt->protocol = next;
  pkt->l4_offset = pkt->l3_offset + offset;
  pkt->l4_len = end - offset;
  return parse_transport (pkt);
}

/* Returns FALSE for a frame that claims to carry IP but is malformed; a
 * frame of another type parses with ip_version 0. */
gboolean
aero_packet_parse (const guint8 *frame, gsize len, AeroPacket *pkt)
{
  memset (pkt, 0, sizeof *pkt);
  pkt->frame = frame;
  pkt->len = len;
  if (len < ETH_LEN)
    return FALSE;

  pkt->ethertype = aero_read_be16 (frame + 12);
  pkt->l3_offset = ETH_LEN;
  switch (pkt->ethertype)
    {
    case AERO_ETHERTYPE_IPV4:
      return parse_ipv4 (pkt);
    case AERO_ETHERTYPE_IPV6:
      return parse_ipv6 (pkt);
    default:
      return TRUE;
    }
}

gboolean
aero_packet_is_arp_request (const guint8 *frame, gsize len, guint8 target[4])
{
  const guint8 *arp = frame + ETH_LEN;

  if (len < ARP_FRAME_LEN || aero_read_be16 (frame + 12) != AERO_ETHERTYPE_ARP)
    return FALSE;
  if (aero_read_be16 (arp) != 1 || aero_read_be16 (arp + 2) != AERO_ETHERTYPE_IPV4
      || arp[4] != 6 || arp[5] != 4 || aero_read_be16 (arp + 6) != 1)
    return FALSE;
  memcpy (target, arp + 24, 4);
  return TRUE;
}

/* ---- building ----------------------------------------------------------------- */

void
aero_packet_mac_for_ipv4 (const guint8 ip[4], guint8 mac[6])
{
  mac[0] = 0x52;
  mac[1] = 0x55;
  memcpy (mac + 2, ip, 4);
}

GBytes *
aero_packet_build_arp_reply (const guint8 *request, const guint8 mac[6])
{
  const guint8 *arp_in = request + ETH_LEN;
  guint8 *out = g_malloc0 (ARP_FRAME_LEN);
  guint8 *arp = out + ETH_LEN;

  memcpy (out, arp_in + 8, 6);
  memcpy (out + 6, mac, 6);
  aero_write_be16 (out + 12, AERO_ETHERTYPE_ARP);
  aero_write_be16 (arp, 1);
  aero_write_be16 (arp + 2, AERO_ETHERTYPE_IPV4);
  arp[4] = 6;
  arp[5] = 4;
  aero_write_be16 (arp + 6, 2);
  memcpy (arp + 8, mac, 6);
  memcpy (arp + 14, arp_in + 24, 4);
  memcpy (arp + 18, arp_in + 8, 6);
  memcpy (arp + 24, arp_in + 14, 4);
  return g_bytes_new_take (out, ARP_FRAME_LEN);
}

/* Writes an IP header for @l4_len bytes of @protocol at @ip; returns its length. */
static gsize
write_ip_header (guint8 *ip, guint ip_version, const guint8 *src, const guint8 *dst,
                 guint8 protocol, gsize l4_len)
{
  static guint16 next_id;

  if (ip_version == 4)
    {
      ip[0] = 0x45;
      ip[1] = 0;
      aero_write_be16 (ip + 2, (guint16) (IPV4_HEADER_LEN + l4_len));
      aero_write_be16 (ip + 4, next_id++);
      aero_write_be16 (ip + 6, 0x4000);
      ip[8] = 64;
      ip[9] = protocol;
      aero_write_be16 (ip + 10, 0);
      memcpy (ip + 12, src, 4);
      memcpy (ip + 16, dst, 4);
      aero_write_be16 (ip + 10, aero_inet_checksum (ip, IPV4_HEADER_LEN, 0));
      return IPV4_HEADER_LEN;
    }

  aero_write_be32 (ip, 0x60000000u);
  aero_write_be16 (ip + 4, (guint16) l4_len);
  ip[6] = protocol;
  ip[7] = 64;
  memcpy (ip + 8, src, 16);
  memcpy (ip + 24, dst, 16);
  return IPV6_HEADER_LEN;
}

GBytes *
aero_packet_build_udp (guint ip_version, const guint8 src_mac[6], const guint8 dst_mac[6],
                       const guint8 *src_ip, const guint8 *dst_ip, guint16 sport, guint16 dport,
                       const guint8 *payload, gsize payload_len)
{
  gsize ip_len = ip_version == 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  gsize udp_len = UDP_HEADER_LEN + payload_len;
  gsize total = ETH_LEN + ip_len + udp_len;
  guint8 *out, *udp;
  guint16 sum;

  g_return_val_if_fail (ip_version == 4 || ip_version == 6, NULL);
  if (udp_len > 0xffff - ip_len)
    return NULL;

  out = g_malloc (total);
  memcpy (out, dst_mac, 6);
  memcpy (out + 6, src_mac, 6);
  aero_write_be16 (out + 12, ip_version == 4 ? AERO_ETHERTYPE_IPV4 : AERO_ETHERTYPE_IPV6);
  write_ip_header (out + ETH_LEN, ip_version, src_ip, dst_ip, AERO_IPPROTO_UDP, udp_len);

  udp = out + ETH_LEN + ip_len;
  aero_write_be16 (udp, sport);
  aero_write_be16 (udp + 2, dport);
  aero_write_be16 (udp + 4, (guint16) udp_len);
  aero_write_be16 (udp + 6, 0);
  if (payload_len > 0)
    memcpy (udp + UDP_HEADER_LEN, payload, payload_len);
  sum = aero_inet_checksum (udp, udp_len,
                            aero_inet_pseudo_sum (ip_version, src_ip, dst_ip, AERO_IPPROTO_UDP,
                                                  udp_len));
  aero_write_be16 (udp + 6, sum == 0 ? 0xffff : sum);
  return g_bytes_new_take (out, total);
}

/* The reset answering @in (RFC 9293, section 3.10.7.1), or NULL when @in
 * is itself a reset or carries no TCP header. */
GBytes *
aero_packet_build_tcp_reset (const AeroPacket *in)
{
  gsize ip_len = in->ip_version == 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
  gsize total = ETH_LEN + ip_len + TCP_HEADER_LEN;
  guint8 *out, *tcp;
  guint32 seq, ack;
  guint8 flags;

  if (in->protocol != AERO_IPPROTO_TCP || !in->has_ports || (in->tcp_flags & AERO_TCP_RST))
    return NULL;

  if (in->tcp_flags & AERO_TCP_ACK)
    {
      seq = in->tcp_ack;
      ack = 0;
      flags = AERO_TCP_RST;
    }
  else
    {
      gsize seg_len = in->l4_len - in->tcp_header_len;

      if (in->tcp_flags & AERO_TCP_SYN)
        seg_len++;
      if (in->tcp_flags & AERO_TCP_FIN)
        seg_len++;
      seq = 0;
      ack = in->tcp_seq + (guint32) seg_len;
      flags = AERO_TCP_RST | AERO_TCP_ACK;
    }

  out = g_malloc0 (total);
  memcpy (out, in->frame + 6, 6);
  memcpy (out + 6, in->frame, 6);
  aero_write_be16 (out + 12, in->ethertype);
  write_ip_header (out + ETH_LEN, in->ip_version, in->dst, in->src, AERO_IPPROTO_TCP,
                   TCP_HEADER_LEN);

  tcp = out + ETH_LEN + ip_len;
  aero_write_be16 (tcp, in->dport);
  aero_write_be16 (tcp + 2, in->sport);
  aero_write_be32 (tcp + 4, seq);
  aero_write_be32 (tcp + 8, ack);
  tcp[12] = (TCP_HEADER_LEN / 4) << 4;
  tcp[13] = flags;
  aero_write_be16 (tcp + 16,
                   aero_inet_checksum (tcp, TCP_HEADER_LEN,
                                       aero_inet_pseudo_sum (in->ip_version, in->dst, in->src,
                                                             AERO_IPPROTO_TCP, TCP_HEADER_LEN)));
  return g_bytes_new_take (out, total);
}

/* ---- rewriting ----------------------------------------------------------------- */

/* Replaces the source (or destination) address and port of the IPv4
 * TCP/UDP packet @pkt, parsed from the writable @frame, fixing the IP and
 * transport checksums incrementally. */
void
aero_packet_rewrite_ipv4 (guint8 *frame, const AeroPacket *pkt, gboolean source,
                          const guint8 addr[4], guint16 port)
{
  guint8 *ip = frame + pkt->l3_offset;
  guint8 *addr_field = ip + (source ? 12 : 16);
  guint8 *l4 = frame + pkt->l4_offset;
  guint8 *csum = NULL;
  guint8 new_port[2];

  g_return_if_fail (pkt->ip_version == 4 && pkt->has_ports);

  if (pkt->protocol == AERO_IPPROTO_TCP)
    csum = l4 + 16;
  else if (pkt->protocol == AERO_IPPROTO_UDP && aero_read_be16 (l4 + 6) != 0)
    csum = l4 + 6;

  aero_write_be16 (new_port, port);
  if (csum != NULL)
    {
      checksum_replace (csum, addr_field, addr, 4);
      checksum_replace (csum, l4 + (source ? 0 : 2), new_port, 2);
      if (pkt->protocol == AERO_IPPROTO_UDP && aero_read_be16 (csum) == 0)
        aero_write_be16 (csum, 0xffff);
    }
  checksum_replace (ip + 10, addr_field, addr, 4);
  memcpy (addr_field, addr, 4);
  memcpy (l4 + (source ? 0 : 2), new_port, 2);
}

/* Adds the interface MTU option (RFC 2132, 5.1) to a DHCP reply from the
 * server port, in the padding after the END option. Returns FALSE when the
 * frame is not such a reply, already has the option, or has no room. */
gboolean
aero_packet_dhcp_add_mtu (guint8 *frame, const AeroPacket *pkt, guint16 mtu)
{
  static const guint8 cookie[4] = { 99, 130, 83, 99 };
  guint8 *udp = frame + pkt->l4_offset;
  guint8 *bootp = udp + UDP_HEADER_LEN;
  gsize udp_len, bootp_len, i;

  if (pkt->ip_version != 4 || pkt->protocol != AERO_IPPROTO_UDP || pkt->fragment
      || !pkt->has_ports || pkt->sport != 67 || pkt->dport != 68)
    return FALSE;
  udp_len = aero_read_be16 (udp + 4);
  if (udp_len < UDP_HEADER_LEN || udp_len > pkt->l4_len)
    return FALSE;
  bootp_len = udp_len - UDP_HEADER_LEN;
  if (bootp_len < BOOTP_COOKIE_OFFSET + 4 || memcmp (bootp + BOOTP_COOKIE_OFFSET, cookie, 4) != 0)
    return FALSE;

  i = BOOTP_COOKIE_OFFSET + 4;
  while (i < bootp_len && bootp[i] != DHCP_OPTION_END)
    {
      if (bootp[i] == DHCP_OPTION_PAD)
        {
          i++;
          continue;
        }
      if (bootp[i] == DHCP_OPTION_MTU || i + 1 >= bootp_len)
        return FALSE;
      i += 2 + (gsize) bootp[i + 1];
    }
  if (i + 5 > bootp_len)
    return FALSE;
  for (gsize j = i + 1; j < i + 5; j++)
    if (bootp[j] != DHCP_OPTION_PAD)
      return FALSE;

  bootp[i] = DHCP_OPTION_MTU;
  bootp[i + 1] = 2;
  aero_write_be16 (bootp + i + 2, mtu);
  bootp[i + 4] = DHCP_OPTION_END;

  if (aero_read_be16 (udp + 6) != 0)
    {
      guint16 sum;

      aero_write_be16 (udp + 6, 0);
      sum = aero_inet_checksum (udp, udp_len,
                                aero_inet_pseudo_sum (4, pkt->src, pkt->dst, AERO_IPPROTO_UDP,
                                                      udp_len));
      aero_write_be16 (udp + 6, sum == 0 ? 0xffff : sum);
    }
  return TRUE;
}

/* A copy of the router advertisement @pkt with a recursive DNS server
 * option (RFC 8106) for @dns appended, or NULL when @pkt is not a plain
 * router advertisement or already has one. */
guint8 *
aero_packet_ra_add_rdnss (const AeroPacket *pkt, const guint8 dns[16], guint32 lifetime,
                          gsize *out_len)
{
  const guint8 *ra = pkt->frame + pkt->l4_offset;
  gsize new_l4_len = pkt->l4_len + RDNSS_OPTION_LEN;
  gsize new_len, i;
  guint8 *out, *opt, *icmp;

  if (pkt->ip_version != 6 || pkt->protocol != AERO_IPPROTO_ICMPV6
      || pkt->icmp_type != ICMPV6_ROUTER_ADVERTISEMENT
      || pkt->l4_offset != pkt->l3_offset + IPV6_HEADER_LEN || pkt->l4_len < RA_HEADER_LEN
      || new_l4_len > 0xffff)
    return NULL;
  for (i = RA_HEADER_LEN; i + 2 <= pkt->l4_len; i += (gsize) ra[i + 1] * 8)
    {
      if (ra[i] == NDP_OPTION_RDNSS)
        return NULL;
      if (ra[i + 1] == 0)
        return NULL;
    }

  new_len = pkt->l4_offset + new_l4_len;
  out = g_malloc (new_len);
  memcpy (out, pkt->frame, pkt->l4_offset + pkt->l4_len);
  aero_write_be16 (out + pkt->l3_offset + 4, (guint16) new_l4_len);

  opt = out + pkt->l4_offset + pkt->l4_len;
  opt[0] = NDP_OPTION_RDNSS;
  opt[1] = RDNSS_OPTION_LEN / 8;
  opt[2] = opt[3] = 0;
  aero_write_be32 (opt + 4, lifetime);
  memcpy (opt + 8, dns, 16);

  icmp = out + pkt->l4_offset;
  aero_write_be16 (icmp + 2, 0);
  aero_write_be16 (icmp + 2,
                   aero_inet_checksum (icmp, new_l4_len,
                                       aero_inet_pseudo_sum (6, pkt->src, pkt->dst,
                                                             AERO_IPPROTO_ICMPV6, new_l4_len)));
  *out_len = new_len;
  return out;
}
