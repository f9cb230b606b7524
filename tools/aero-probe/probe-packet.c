/* probe-packet.c — Ethernet, ARP, IPv4, UDP, ICMP and TCP: byte-level
 * builders and bounds-checked parsers, plus the Internet checksum. No
 * state lives here; see probe-packet.h. */
#include "probe-packet.h"

#include <arpa/inet.h>
#include <string.h>

const ProbeMac probe_mac_broadcast = { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff } };

/* ---- byte helpers ---------------------------------------------------------- */

static guint16
rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static guint32
rd32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
wr16 (guint8 *p, guint16 v)
{
  p[0] = v >> 8;
  p[1] = v & 0xff;
}

static void
wr32 (guint8 *p, guint32 v)
{
  p[0] = v >> 24;
  p[1] = (v >> 16) & 0xff;
  p[2] = (v >> 8) & 0xff;
  p[3] = v & 0xff;
}

/* ---- addresses ------------------------------------------------------------- */

gboolean
probe_mac_equal (const ProbeMac *a, const ProbeMac *b)
{
  return memcmp (a->b, b->b, 6) == 0;
}

gboolean
probe_mac_parse (const char *text, ProbeMac *out)
{
  if (text == NULL || strlen (text) != 17)
    return FALSE;
  for (int i = 0; i < 6; i++)
    {
      const char *p = text + 3 * i;

      if (!g_ascii_isxdigit (p[0]) || !g_ascii_isxdigit (p[1]))
        return FALSE;
      if (i < 5 && p[2] != ':' && p[2] != '-')
        return FALSE;
      out->b[i] = (guint8) ((g_ascii_xdigit_value (p[0]) << 4) | g_ascii_xdigit_value (p[1]));
    }
  return TRUE;
}

const char *
probe_mac_to_string (const ProbeMac *mac, char *buf)
{
  g_snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac->b[0], mac->b[1], mac->b[2],
              mac->b[3], mac->b[4], mac->b[5]);
  return buf;
}

void
probe_mac_random (ProbeMac *out)
{
  for (int i = 0; i < 6; i++)
    out->b[i] = (guint8) g_random_int_range (0, 256);
  /* Unicast, locally administered. */
  out->b[0] = (guint8) ((out->b[0] & 0xfc) | 0x02);
}

gboolean
probe_ipv4_from_string (const char *text, guint32 *out)
{
  struct in_addr a;

  if (text == NULL || inet_pton (AF_INET, text, &a) != 1)
    return FALSE;
  *out = ntohl (a.s_addr);
  return TRUE;
}

const char *
probe_ipv4_to_string (guint32 addr, char *buf)
{
  g_snprintf (buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
              addr & 0xff);
  return buf;
}

int
probe_netmask_prefix (guint32 mask)
{
  int n = 0;

  while (n < 32 && (mask & (0x80000000u >> n)))
    n++;
  /* Not contiguous: no prefix length. */
  if (n < 32 && (mask << n) != 0)
    return -1;
  return n;
}

/* ---- checksum ----------------------------------------------------------------- */

guint32
probe_csum_add (guint32 sum, const guint8 *data, gsize len)
{
  gsize i;

  for (i = 0; i + 1 < len; i += 2)
    sum += rd16 (data + i);
  if (len & 1)
    sum += (guint32) data[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

guint16
probe_csum_finish (guint32 sum)
{
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) (~sum & 0xffff);
}

guint32
probe_csum_pseudo (guint32 src, guint32 dst, guint8 proto, gsize l4_len)
{
  guint8 ph[12];

  wr32 (ph, src);
  wr32 (ph + 4, dst);
  ph[8] = 0;
  ph[9] = proto;
  wr16 (ph + 10, (guint16) l4_len);
  return probe_csum_add (0, ph, sizeof ph);
}

/* ---- parsers -------------------------------------------------------------------- */

gboolean
probe_eth_parse (const guint8 *frame, gsize len, ProbeEth *out)
{
  if (frame == NULL || len < PROBE_ETH_HLEN)
    return FALSE;
  memcpy (out->dst.b, frame, 6);
  memcpy (out->src.b, frame + 6, 6);
  out->ethertype = rd16 (frame + 12);
  out->payload = frame + PROBE_ETH_HLEN;
  out->payload_len = len - PROBE_ETH_HLEN;
  return TRUE;
}

gboolean
probe_arp_parse (const guint8 *data, gsize len, ProbeArp *out)
{
  if (len < 28)
    return FALSE;
  /* htype Ethernet, ptype IPv4, hlen 6, plen 4. */
  if (rd16 (data) != 1 || rd16 (data + 2) != PROBE_ETHERTYPE_IPV4 || data[4] != 6 || data[5] != 4)
    return FALSE;
  out->op = rd16 (data + 6);
  memcpy (out->sha.b, data + 8, 6);
  out->spa = rd32 (data + 14);
  memcpy (out->tha.b, data + 18, 6);
  out->tpa = rd32 (data + 24);
  return TRUE;
}

gboolean
probe_ipv4_parse (const guint8 *data, gsize len, ProbeIpv4 *out)
{
  gsize ihl, total;

  if (len < PROBE_IPV4_HLEN || (data[0] >> 4) != 4)
    return FALSE;
  ihl = (gsize) (data[0] & 0x0f) * 4;
  total = rd16 (data + 2);
  if (ihl < PROBE_IPV4_HLEN || total < ihl || total > len)
    return FALSE;
  if (probe_csum_finish (probe_csum_add (0, data, ihl)) != 0)
    return FALSE;
  out->id = rd16 (data + 4);
  out->frag = rd16 (data + 6);
  out->ttl = data[8];
  out->proto = data[9];
  out->src = rd32 (data + 12);
  out->dst = rd32 (data + 16);
  out->payload = data + ihl;
  out->payload_len = total - ihl;
  return TRUE;
}

gboolean
probe_ipv4_is_fragment (const ProbeIpv4 *ip)
{
  /* More-fragments set or a non-zero offset. */
  return (ip->frag & 0x3fff) != 0;
}

static gboolean
l4_checksum_ok (const ProbeIpv4 *ip)
{
  guint32 sum = probe_csum_pseudo (ip->src, ip->dst, ip->proto, ip->payload_len);

  return probe_csum_finish (probe_csum_add (sum, ip->payload, ip->payload_len)) == 0;
}

gboolean
probe_udp_parse (const ProbeIpv4 *ip, ProbeUdp *out)
{
  gsize ulen;

  if (ip->proto != PROBE_IPPROTO_UDP || ip->payload_len < PROBE_UDP_HLEN)
    return FALSE;
  ulen = rd16 (ip->payload + 4);
  if (ulen < PROBE_UDP_HLEN || ulen > ip->payload_len)
    return FALSE;
  /* A zero checksum means "none" for UDP over IPv4. */
  if (rd16 (ip->payload + 6) != 0)
    {
      guint32 sum = probe_csum_pseudo (ip->src, ip->dst, PROBE_IPPROTO_UDP, ulen);
      if (probe_csum_finish (probe_csum_add (sum, ip->payload, ulen)) != 0)
        return FALSE;
    }
  out->sport = rd16 (ip->payload);
  out->dport = rd16 (ip->payload + 2);
  out->payload = ip->payload + PROBE_UDP_HLEN;
  out->payload_len = ulen - PROBE_UDP_HLEN;
  return TRUE;
}

gboolean
probe_icmp_parse (const ProbeIpv4 *ip, ProbeIcmp *out)
{
  const guint8 *p = ip->payload;

  if (ip->proto != PROBE_IPPROTO_ICMP || ip->payload_len < 8)
    return FALSE;
  if (probe_csum_finish (probe_csum_add (0, p, ip->payload_len)) != 0)
    return FALSE;
  out->type = p[0];
  out->code = p[1];
  out->id = rd16 (p + 4);
  out->seq = rd16 (p + 6);
  out->payload = p + 8;
  out->payload_len = ip->payload_len - 8;
  return TRUE;
}

gboolean
probe_tcp_parse (const ProbeIpv4 *ip, ProbeTcpSeg *out)
{
  const guint8 *p = ip->payload;
  gsize doff, i;

  if (ip->proto != PROBE_IPPROTO_TCP || ip->payload_len < PROBE_TCP_HLEN)
    return FALSE;
  doff = (gsize) (p[12] >> 4) * 4;
  if (doff < PROBE_TCP_HLEN || doff > ip->payload_len)
    return FALSE;
  if (!l4_checksum_ok (ip))
    return FALSE;
  out->sport = rd16 (p);
  out->dport = rd16 (p + 2);
  out->seq = rd32 (p + 4);
  out->ack = rd32 (p + 8);
  out->flags = p[13] & 0x3f;
  out->window = rd16 (p + 14);
  out->mss = 0;
  /* Options: only MSS matters; the walk is bounded by the header length. */
  i = PROBE_TCP_HLEN;
  while (i < doff)
    {
      guint8 kind = p[i];
      gsize olen;

      if (kind == 0)
        break;
      if (kind == 1)
        {
          i++;
          continue;
        }
      if (i + 1 >= doff)
        break;
      olen = p[i + 1];
      if (olen < 2 || i + olen > doff)
        break;
      if (kind == 2 && olen == 4)
        out->mss = rd16 (p + i + 2);
      i += olen;
    }
  out->payload = p + doff;
  out->payload_len = ip->payload_len - doff;
  return TRUE;
}

/* ---- builders ----------------------------------------------------------------- */

static guint8 *
eth_header (GByteArray *a, const ProbeMac *dst, const ProbeMac *src, guint16 ethertype)
{
  g_byte_array_set_size (a, PROBE_ETH_HLEN);
  memcpy (a->data, dst->b, 6);
  memcpy (a->data + 6, src->b, 6);
  wr16 (a->data + 12, ethertype);
  return a->data;
}

static GBytes *
finish_frame (GByteArray *a)
{
  /* Pad to the Ethernet minimum, as a NIC would. */
  if (a->len < PROBE_ETH_MIN_FRAME)
    {
      guint old = a->len;
      g_byte_array_set_size (a, PROBE_ETH_MIN_FRAME);
      memset (a->data + old, 0, PROBE_ETH_MIN_FRAME - old);
    }
  return g_byte_array_free_to_bytes (a);
}

GBytes *
probe_arp_frame (const ProbeMac *eth_dst, guint16 op, const ProbeMac *sha, guint32 spa,
                 const ProbeMac *tha, guint32 tpa)
{
  GByteArray *a = g_byte_array_sized_new (PROBE_ETH_MIN_FRAME);
  guint8 *p;

  eth_header (a, eth_dst, sha, PROBE_ETHERTYPE_ARP);
  g_byte_array_set_size (a, PROBE_ETH_HLEN + 28);
  p = a->data + PROBE_ETH_HLEN;
  wr16 (p, 1);
  wr16 (p + 2, PROBE_ETHERTYPE_IPV4);
  p[4] = 6;
  p[5] = 4;
  wr16 (p + 6, op);
  memcpy (p + 8, sha->b, 6);
  wr32 (p + 14, spa);
  memcpy (p + 18, tha->b, 6);
  wr32 (p + 24, tpa);
  return finish_frame (a);
}

GBytes *
probe_ipv4_frame (const ProbeMac *dst_mac, const ProbeMac *src_mac, guint32 src, guint32 dst,
                  guint8 proto, guint16 ip_id, const guint8 *l4, gsize l4_len)
{
  GByteArray *a = g_byte_array_sized_new (PROBE_ETH_HLEN + PROBE_IPV4_HLEN + l4_len);
  guint8 *ip;

  g_return_val_if_fail (l4_len <= 65535 - PROBE_IPV4_HLEN, NULL);
  eth_header (a, dst_mac, src_mac, PROBE_ETHERTYPE_IPV4);
  g_byte_array_set_size (a, PROBE_ETH_HLEN + PROBE_IPV4_HLEN);
  ip = a->data + PROBE_ETH_HLEN;
  memset (ip, 0, PROBE_IPV4_HLEN);
  ip[0] = 0x45;
  wr16 (ip + 2, (guint16) (PROBE_IPV4_HLEN + l4_len));
  wr16 (ip + 4, ip_id);
  wr16 (ip + 6, 0x4000); /* don't fragment */
  ip[8] = 64;
  ip[9] = proto;
  wr32 (ip + 12, src);
  wr32 (ip + 16, dst);
  wr16 (ip + 10, probe_csum_finish (probe_csum_add (0, ip, PROBE_IPV4_HLEN)));
  if (l4_len)
    g_byte_array_append (a, l4, (guint) l4_len);
  return finish_frame (a);
}

GByteArray *
probe_udp_build (guint32 src, guint32 dst, guint16 sport, guint16 dport, const guint8 *payload,
                 gsize len)
{
  GByteArray *a = g_byte_array_sized_new (PROBE_UDP_HLEN + len);
  guint16 csum;

  g_byte_array_set_size (a, PROBE_UDP_HLEN);
  wr16 (a->data, sport);
  wr16 (a->data + 2, dport);
  wr16 (a->data + 4, (guint16) (PROBE_UDP_HLEN + len));
  wr16 (a->data + 6, 0);
  if (len)
    g_byte_array_append (a, payload, (guint) len);
  csum = probe_csum_finish (probe_csum_add (probe_csum_pseudo (src, dst, PROBE_IPPROTO_UDP, a->len),
                                            a->data, a->len));
  wr16 (a->data + 6, csum ? csum : 0xffff);
  return a;
}

GByteArray *
probe_icmp_echo_build (guint16 id, guint16 seq, const guint8 *payload, gsize len)
{
  GByteArray *a = g_byte_array_sized_new (8 + len);

  g_byte_array_set_size (a, 8);
  memset (a->data, 0, 8);
  a->data[0] = 8; /* echo request */
  wr16 (a->data + 4, id);
  wr16 (a->data + 6, seq);
  if (len)
    g_byte_array_append (a, payload, (guint) len);
  wr16 (a->data + 2, probe_csum_finish (probe_csum_add (0, a->data, a->len)));
  return a;
}

GByteArray *
probe_tcp_build (guint32 src, guint32 dst, guint16 sport, guint16 dport, guint32 seq, guint32 ack,
                 guint8 flags, guint16 window, guint16 mss, const guint8 *payload, gsize len)
{
  gsize hlen = PROBE_TCP_HLEN + (mss ? 4 : 0);
  GByteArray *a = g_byte_array_sized_new (hlen + len);
  guint8 *p;

  g_byte_array_set_size (a, hlen);
  p = a->data;
  memset (p, 0, hlen);
  wr16 (p, sport);
  wr16 (p + 2, dport);
  wr32 (p + 4, seq);
  wr32 (p + 8, ack);
  p[12] = (guint8) ((hlen / 4) << 4);
  p[13] = flags;
  wr16 (p + 14, window);
  if (mss)
    {
      p[20] = 2;
      p[21] = 4;
      wr16 (p + 22, mss);
    }
  if (len)
    g_byte_array_append (a, payload, (guint) len);
  wr16 (a->data + 16,
        probe_csum_finish (probe_csum_add (probe_csum_pseudo (src, dst, PROBE_IPPROTO_TCP, a->len),
                                           a->data, a->len)));
  return a;
}

/* ---- descriptions ------------------------------------------------------------ */

char *
probe_sanitize (const guint8 *data, gsize len)
{
  char *s = g_malloc (len + 1);

  for (gsize i = 0; i < len; i++)
    s[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? (char) data[i] : '?';
  s[len] = '\0';
  return s;
}

static void
describe_ipv4 (GString *s, const ProbeIpv4 *ip)
{
  char a[16], b[16];
  ProbeUdp udp;
  ProbeIcmp icmp;
  ProbeTcpSeg tcp;

  probe_ipv4_to_string (ip->src, a);
  probe_ipv4_to_string (ip->dst, b);
  if (probe_ipv4_is_fragment (ip))
    {
      g_string_append_printf (s, "IPv4 fragment %s > %s proto %u", a, b, ip->proto);
      return;
    }
  switch (ip->proto)
    {
    case PROBE_IPPROTO_UDP:
      if (probe_udp_parse (ip, &udp))
        g_string_append_printf (s, "UDP %s:%u > %s:%u len %" G_GSIZE_FORMAT, a, udp.sport, b,
                                udp.dport, udp.payload_len);
      else
        g_string_append_printf (s, "UDP %s > %s (malformed)", a, b);
      break;
    case PROBE_IPPROTO_ICMP:
      if (probe_icmp_parse (ip, &icmp))
        g_string_append_printf (s, "ICMP %s > %s type %u code %u id %u seq %u", a, b, icmp.type,
                                icmp.code, icmp.id, icmp.seq);
      else
        g_string_append_printf (s, "ICMP %s > %s (malformed)", a, b);
      break;
    case PROBE_IPPROTO_TCP:
      if (probe_tcp_parse (ip, &tcp))
        g_string_append_printf (s,
                                "TCP %s:%u > %s:%u [%s%s%s%s%s] seq %u ack %u win %u len %"
                                G_GSIZE_FORMAT,
                                a, tcp.sport, b, tcp.dport, tcp.flags & PROBE_TCP_SYN ? "S" : "",
                                tcp.flags & PROBE_TCP_FIN ? "F" : "",
                                tcp.flags & PROBE_TCP_RST ? "R" : "",
                                tcp.flags & PROBE_TCP_PSH ? "P" : "",
                                tcp.flags & PROBE_TCP_ACK ? "." : "", tcp.seq, tcp.ack, tcp.window,
                                tcp.payload_len);
      else
        g_string_append_printf (s, "TCP %s > %s (malformed)", a, b);
      break;
    default:
      g_string_append_printf (s, "IPv4 %s > %s proto %u", a, b, ip->proto);
      break;
    }
}

char *
probe_frame_describe (const guint8 *frame, gsize len)
{
  GString *s = g_string_new (NULL);
  ProbeEth eth;
  ProbeArp arp;
  ProbeIpv4 ip;
  char m1[18], m2[18], a[16], b[16];

  if (!probe_eth_parse (frame, len, &eth))
    {
      g_string_append_printf (s, "runt frame (%" G_GSIZE_FORMAT " bytes)", len);
      return g_string_free (s, FALSE);
    }
  g_string_append_printf (s, "%s > %s ", probe_mac_to_string (&eth.src, m1),
                          probe_mac_to_string (&eth.dst, m2));
  switch (eth.ethertype)
    {
    case PROBE_ETHERTYPE_ARP:
      if (probe_arp_parse (eth.payload, eth.payload_len, &arp))
        {
          if (arp.op == 1)
            g_string_append_printf (s, "ARP who-has %s tell %s", probe_ipv4_to_string (arp.tpa, a),
                                    probe_ipv4_to_string (arp.spa, b));
          else
            g_string_append_printf (s, "ARP op %u %s is-at %s", arp.op,
                                    probe_ipv4_to_string (arp.spa, a),
                                    probe_mac_to_string (&arp.sha, m1));
        }
      else
        g_string_append (s, "ARP (malformed)");
      break;
    case PROBE_ETHERTYPE_IPV4:
      if (probe_ipv4_parse (eth.payload, eth.payload_len, &ip))
        describe_ipv4 (s, &ip);
      else
        g_string_append (s, "IPv4 (malformed)");
      break;
    default:
      g_string_append_printf (s, "ethertype 0x%04x", eth.ethertype);
      break;
    }
  g_string_append_printf (s, " (%" G_GSIZE_FORMAT " bytes)", len);
  return g_string_free (s, FALSE);
}
