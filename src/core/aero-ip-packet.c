/* aero-ip-packet.c — bounds-checked parsing of IP headers in Ethernet
 * frames and the packets the policy filter answers with (see
 * aero-ip-packet.h). */
#include <string.h>

#include <aero-net/aero-checksum.h>

#include "aero-ip-packet.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100

#define IPV6_MAX_EXTENSIONS 8
#define ICMP_ERROR_MAX_IPV4 576  /* RFC 1812 4.3.2.3 */
#define ICMP_ERROR_MAX_IPV6 1280 /* RFC 4443 2.4 (c) */
#define REPLY_TTL 64

static inline guint32
rd32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static inline void
wr32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* ---- parsing ------------------------------------------------------------ */

/* Walks the IPv4 options; FALSE when they are malformed. */
static gboolean
scan_ipv4_options (const guint8 *opt, gsize len, gboolean *source_route)
{
  gsize i = 0;

  while (i < len)
    {
      guint8 type = opt[i];
      gsize olen;

      if (type == 0) /* end of list */
        break;
      if (type == 1) /* no-op */
        {
          i++;
          continue;
        }
      if (i + 1 >= len)
        return FALSE;
      olen = opt[i + 1];
      if (olen < 2 || i + olen > len)
        return FALSE;
      if (type == 131 || type == 137) /* loose / strict source route */
        *source_route = TRUE;
      i += olen;
    }
  return TRUE;
}

static AeroIpPacketResult
parse_l4 (AeroIpPacket *pkt)
{
  const guint8 *l4 = pkt->frame + pkt->l4;
  gsize avail = pkt->end - pkt->l4;

  if (!pkt->first_fragment)
    return AERO_IP_PACKET_OK;

  switch (pkt->protocol)
    {
    case AERO_IPPROTO_TCP:
      if (avail < 20)
        return AERO_IP_PACKET_MALFORMED;
      pkt->sport = aero_ip_rd16 (l4);
      pkt->dport = aero_ip_rd16 (l4 + 2);
      pkt->tcp_seq = rd32 (l4 + 4);
      pkt->tcp_ack = rd32 (l4 + 8);
      pkt->tcp_window = aero_ip_rd16 (l4 + 14);
      pkt->l4_header_len = (gsize) (l4[12] >> 4) * 4;
      pkt->tcp_flags = l4[13];
      if (pkt->l4_header_len < 20 || pkt->l4_header_len > avail)
        return AERO_IP_PACKET_MALFORMED;
      break;
    case AERO_IPPROTO_UDP:
      {
        guint16 ulen;

        if (avail < 8)
          return AERO_IP_PACKET_MALFORMED;
        pkt->sport = aero_ip_rd16 (l4);
        pkt->dport = aero_ip_rd16 (l4 + 2);
        ulen = aero_ip_rd16 (l4 + 4);
        /* A whole datagram must agree with the IP length; a first
         * fragment only carries the beginning of it. */
        if (ulen < 8 || (!pkt->fragment && ulen > avail))
          return AERO_IP_PACKET_MALFORMED;
        if (!pkt->fragment)
          pkt->end = pkt->l4 + ulen;
        pkt->l4_header_len = 8;
        break;
      }
    case AERO_IPPROTO_ICMP:
    case AERO_IPPROTO_ICMPV6:
      if (avail < 8)
        return AERO_IP_PACKET_MALFORMED;
      pkt->icmp_type = l4[0];
      pkt->icmp_code = l4[1];
      if ((pkt->protocol == AERO_IPPROTO_ICMP && (l4[0] == 8 || l4[0] == 0)) ||
          (pkt->protocol == AERO_IPPROTO_ICMPV6 && (l4[0] == 128 || l4[0] == 129)))
        pkt->sport = pkt->dport = aero_ip_rd16 (l4 + 4);
      pkt->l4_header_len = 8;
      break;
    default:
      return AERO_IP_PACKET_OK;
    }
  pkt->has_l4 = TRUE;
  return AERO_IP_PACKET_OK;
}

static AeroIpPacketResult
parse_ipv4 (AeroIpPacket *pkt)
{
  const guint8 *ip = pkt->frame + pkt->l3;
  gsize avail = pkt->len - pkt->l3, ihl, total;
  guint16 frag;

  if (avail < 20 || (ip[0] >> 4) != 4)
    return AERO_IP_PACKET_MALFORMED;
  ihl = (gsize) (ip[0] & 0x0f) * 4;
  total = aero_ip_rd16 (ip + 2);
  if (ihl < 20 || total < ihl || total > avail)
    return AERO_IP_PACKET_MALFORMED;
  if (!scan_ipv4_options (ip + 20, ihl - 20, &pkt->source_route))
    return AERO_IP_PACKET_MALFORMED;
  pkt->version = 4;
  pkt->protocol = ip[9];
  pkt->src = ip + 12;
  pkt->dst = ip + 16;
  frag = aero_ip_rd16 (ip + 6);
  pkt->fragment = (frag & 0x3fff) != 0; /* MF or an offset */
  pkt->first_fragment = (frag & 0x1fff) == 0;
  pkt->l4 = pkt->l3 + ihl;
  pkt->end = pkt->l3 + total;
  return parse_l4 (pkt);
}

static AeroIpPacketResult
parse_ipv6 (AeroIpPacket *pkt)
{
  const guint8 *ip = pkt->frame + pkt->l3;
  gsize avail = pkt->len - pkt->l3, payload, pos = 40, end;
  guint8 next;
  guint i;

  if (avail < 40 || (ip[0] >> 4) != 6)
    return AERO_IP_PACKET_MALFORMED;
  payload = aero_ip_rd16 (ip + 4);
  if (40 + payload > avail)
    return AERO_IP_PACKET_MALFORMED;
  end = 40 + payload;
  pkt->version = 6;
  pkt->src = ip + 8;
  pkt->dst = ip + 24;
  pkt->first_fragment = TRUE;
  next = ip[6];
  for (i = 0; i < IPV6_MAX_EXTENSIONS; i++)
    {
      gsize ext;

      if (next != 0 && next != 43 && next != 44 && next != 51 && next != 60)
        break;
      if (pos + 8 > end)
        return AERO_IP_PACKET_MALFORMED;
      switch (next)
        {
        case 44: /* fragment */
          ext = 8;
          pkt->fragment = TRUE;
          pkt->first_fragment = (aero_ip_rd16 (ip + pos + 2) & 0xfff8) == 0;
          break;
        case 51: /* authentication header */
          ext = ((gsize) ip[pos + 1] + 2) * 4;
          break;
        case 43: /* routing: segments left */
          if (ip[pos + 3] != 0)
            pkt->source_route = TRUE;
          ext = ((gsize) ip[pos + 1] + 1) * 8;
          break;
        default:
          ext = ((gsize) ip[pos + 1] + 1) * 8;
          break;
        }
      next = ip[pos];
      pos += ext;
      if (pos > end)
        return AERO_IP_PACKET_MALFORMED;
    }
  if (i == IPV6_MAX_EXTENSIONS)
    return AERO_IP_PACKET_MALFORMED;
  pkt->protocol = next;
  pkt->l4 = pkt->l3 + pos;
  pkt->end = pkt->l3 + end;
  return parse_l4 (pkt);
}

AeroIpPacketResult
aero_ip_packet_parse (const guint8 *frame, gsize len, AeroIpPacket *pkt)
{
  guint16 ethertype;

  memset (pkt, 0, sizeof *pkt);
  pkt->frame = frame;
  pkt->len = len;
  if (frame == NULL || len < 14)
    return AERO_IP_PACKET_NOT_IP;
  ethertype = aero_ip_rd16 (frame + 12);
  pkt->l3 = 14;
  if (ethertype == ETHERTYPE_VLAN)
    {
      if (len < 18)
        return AERO_IP_PACKET_MALFORMED;
      ethertype = aero_ip_rd16 (frame + 16);
      pkt->l3 = 18;
    }
  if (ethertype == ETHERTYPE_IPV4)
    return parse_ipv4 (pkt);
  if (ethertype == ETHERTYPE_IPV6)
    return parse_ipv6 (pkt);
  return AERO_IP_PACKET_NOT_IP;
}

gboolean
aero_ip_packet_is_group_address (guint version, const guint8 *addr)
{
  static const guint8 zero[16] = { 0 };

  if (version == 4)
    return addr[0] >= 224 || memcmp (addr, zero, 4) == 0; /* multicast, class E, broadcast */
  return addr[0] == 0xff || memcmp (addr, zero, 16) == 0;
}

/* ---- building ----------------------------------------------------------- */

/* Builds an Ethernet frame holding one IP packet: the link header comes
 * from PKT's frame (MAC addresses swapped when REPLY, VLAN tag kept), then
 * a fresh IPv4 (no options) or IPv6 (no extension headers) header from SRC
 * to DST, then L4 with its checksum filled in. */
static GBytes *
build_ip (const AeroIpPacket *pkt, gboolean reply, const guint8 *src, const guint8 *dst,
          guint8 protocol, const guint8 *l4, gsize l4_len)
{
  gsize l2 = pkt->l3, iph = pkt->version == 4 ? 20 : 40;
  gsize total = l2 + iph + l4_len;
  guint8 *out = g_malloc0 (total), *ip = out + l2, *seg = out + l2 + iph;
  gsize csum_off;
  guint16 pseudo = 0, c;

  memcpy (out, pkt->frame, l2);
  if (reply)
    {
      memcpy (out, pkt->frame + 6, 6);
      memcpy (out + 6, pkt->frame, 6);
    }
  memcpy (seg, l4, l4_len);

  if (pkt->version == 4)
    {
      ip[0] = 0x45;
      aero_ip_wr16 (ip + 2, (guint16) (iph + l4_len));
      aero_ip_wr16 (ip + 6, 0x4000); /* DF */
      ip[8] = REPLY_TTL;
      ip[9] = protocol;
      memcpy (ip + 12, src, 4);
      memcpy (ip + 16, dst, 4);
      aero_ip_wr16 (ip + 10, aero_inet_checksum (ip, 20, 0));
    }
  else
    {
      ip[0] = 0x60;
      aero_ip_wr16 (ip + 4, (guint16) l4_len);
      ip[6] = protocol;
      ip[7] = REPLY_TTL;
      memcpy (ip + 8, src, 16);
      memcpy (ip + 24, dst, 16);
    }

  switch (protocol)
    {
    case AERO_IPPROTO_TCP: csum_off = 16; break;
    case AERO_IPPROTO_UDP: csum_off = 6; break;
    default: csum_off = 2; break;
    }
  aero_ip_wr16 (seg + csum_off, 0);
  if (protocol != AERO_IPPROTO_ICMP) /* ICMP for IPv4 has no pseudo-header */
    pseudo = aero_inet_pseudo_sum (pkt->version, src, dst, protocol, l4_len);
  c = aero_inet_checksum (seg, l4_len, pseudo);
  if (c == 0 && protocol == AERO_IPPROTO_UDP)
    c = 0xffff; /* 0 means "no checksum" in UDP */
  aero_ip_wr16 (seg + csum_off, c);
  return g_bytes_new_take (out, total);
}

GBytes *
aero_ip_packet_build_tcp (const guint8 *link, gsize link_len, gboolean swap_macs, guint version,
                          const guint8 *src, const guint8 *dst, guint16 sport, guint16 dport,
                          guint32 seq, guint32 ack, guint8 flags)
{
  AeroIpPacket pkt = { 0 };
  guint8 tcp[20] = { 0 };

  g_return_val_if_fail (link_len >= 14 && (version == 4 || version == 6), NULL);

  pkt.frame = link;
  pkt.len = link_len;
  pkt.l3 = link_len;
  pkt.version = version;
  aero_ip_wr16 (tcp, sport);
  aero_ip_wr16 (tcp + 2, dport);
  wr32 (tcp + 4, seq);
  wr32 (tcp + 8, ack);
  tcp[12] = 5 << 4;
  tcp[13] = flags;
  return build_ip (&pkt, swap_macs, src, dst, AERO_IPPROTO_TCP, tcp, sizeof tcp);
}

GBytes *
aero_ip_packet_build_rst (const AeroIpPacket *pkt)
{
  guint32 seg_len;

  g_return_val_if_fail (pkt->protocol == AERO_IPPROTO_TCP && pkt->has_l4, NULL);

  seg_len = (guint32) (pkt->end - pkt->l4 - pkt->l4_header_len);
  if (pkt->tcp_flags & AERO_TCP_SYN)
    seg_len++;
  if (pkt->tcp_flags & AERO_TCP_FIN)
    seg_len++;
  /* RFC 9293 3.10.7.1: after an ACK, the reset takes its sequence number
   * from the ACK field; otherwise it acknowledges the segment. */
  if (pkt->tcp_flags & AERO_TCP_ACK)
    return aero_ip_packet_build_tcp (pkt->frame, pkt->l3, TRUE, pkt->version, pkt->dst, pkt->src,
                                     pkt->dport, pkt->sport, pkt->tcp_ack, 0, AERO_TCP_RST);
  return aero_ip_packet_build_tcp (pkt->frame, pkt->l3, TRUE, pkt->version, pkt->dst, pkt->src,
                                   pkt->dport, pkt->sport, 0, pkt->tcp_seq + seg_len,
                                   AERO_TCP_RST | AERO_TCP_ACK);
}

GBytes *
aero_ip_packet_build_prohibited (const AeroIpPacket *pkt)
{
  gsize quote, limit;
  g_autofree guint8 *icmp = NULL;
  GBytes *out;

  if (aero_ip_packet_is_group_address (pkt->version, pkt->dst) ||
      aero_ip_packet_is_group_address (pkt->version, pkt->src))
    return NULL;
  /* Never an error about an error (RFC 1122 3.2.2, RFC 4443 2.4 (e)). */
  if (pkt->protocol == AERO_IPPROTO_ICMP && pkt->has_l4 &&
      pkt->icmp_type != 8 && pkt->icmp_type != 13 && pkt->icmp_type != 15 && pkt->icmp_type != 17)
    return NULL;
  if (pkt->protocol == AERO_IPPROTO_ICMPV6 && pkt->has_l4 && pkt->icmp_type < 128)
    return NULL;

  limit = pkt->version == 4 ? ICMP_ERROR_MAX_IPV4 - 20 - 8 : ICMP_ERROR_MAX_IPV6 - 40 - 8;
  quote = MIN (pkt->end - pkt->l3, limit);
  icmp = g_malloc0 (8 + quote);
  if (pkt->version == 4)
    {
      icmp[0] = 3;  /* destination unreachable */
      icmp[1] = 13; /* communication administratively prohibited */
    }
  else
    {
      icmp[0] = 1; /* destination unreachable */
      icmp[1] = 1; /* communication with destination administratively prohibited */
    }
  memcpy (icmp + 8, pkt->frame + pkt->l3, quote);
  out = build_ip (pkt, TRUE, pkt->dst, pkt->src,
                  pkt->version == 4 ? AERO_IPPROTO_ICMP : AERO_IPPROTO_ICMPV6, icmp, 8 + quote);
  return out;
}

GBytes *
aero_ip_packet_build_udp (const AeroIpPacket *pkt, gboolean reply, const guint8 *payload,
                          gsize payload_len)
{
  gsize iph = pkt->version == 4 ? 20 : 40;
  g_autofree guint8 *udp = NULL;

  g_return_val_if_fail (pkt->protocol == AERO_IPPROTO_UDP && pkt->has_l4, NULL);
  if (payload_len > 65535 - 8 - iph)
    return NULL;

  udp = g_malloc (8 + payload_len);
  aero_ip_wr16 (udp, reply ? pkt->dport : pkt->sport);
  aero_ip_wr16 (udp + 2, reply ? pkt->sport : pkt->dport);
  aero_ip_wr16 (udp + 4, (guint16) (8 + payload_len));
  aero_ip_wr16 (udp + 6, 0);
  memcpy (udp + 8, payload, payload_len);
  return build_ip (pkt, reply, reply ? pkt->dst : pkt->src, reply ? pkt->src : pkt->dst,
                   AERO_IPPROTO_UDP, udp, 8 + payload_len);
}
