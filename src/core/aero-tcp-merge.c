/* aero-tcp-merge.c — see aero-net/aero-tcp-merge.h. */
#include <string.h>

#include "aero-ip-packet.h"
#include "aero-net/aero-checksum.h"
#include "aero-net/aero-tcp-merge.h"

#define IP_PACKET_MAX 65535
/* An IP packet of at most 65,535 bytes behind Ethernet and a VLAN tag. */
#define FRAME_MAX (14 + 4 + IP_PACKET_MAX)
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct _AeroTcpMerge
{
  AeroTcpMergeFlags flags;
  guint8 *buf; /* FRAME_MAX bytes, allocated on first use */
  gsize len;   /* 0: nothing pending */
  guint segments;
  guint version;
  gsize l3, l4, hl;
  gsize segment_size;
  guint32 next_seq;
  guint16 payload_sum; /* of every payload in the burst, in order */
  gsize frame_bytes;
  gboolean sealed;
};

static inline guint16
add16 (guint16 a, guint16 b)
{
  guint32 s = (guint32) a + b;

  return (guint16) ((s & 0xffff) + (s >> 16));
}

static guint16
pseudo_sum (const guint8 *frame, guint version, gsize l3, gsize l4_len)
{
  const guint8 *ip = frame + l3;

  if (version == 4)
    return aero_inet_pseudo_sum (4, ip + 12, ip + 16, AERO_IPPROTO_TCP, l4_len);
  return aero_inet_pseudo_sum (6, ip + 8, ip + 24, AERO_IPPROTO_TCP, l4_len);
}

AeroTcpMerge *
aero_tcp_merge_new (AeroTcpMergeFlags flags)
{
  AeroTcpMerge *merge = g_new0 (AeroTcpMerge, 1);

  merge->flags = flags;
  return merge;
}

void
aero_tcp_merge_free (AeroTcpMerge *merge)
{
  if (merge == NULL)
    return;
  g_free (merge->buf);
  g_free (merge);
}

gboolean
aero_tcp_merge_pending (const AeroTcpMerge *merge)
{
  return merge->len > 0;
}

gboolean
aero_tcp_merge_sealed (const AeroTcpMerge *merge)
{
  return merge->len > 0 && merge->sealed;
}

/* Whether PKT's IP and TCP checksums verify; stores the sum of its payload. */
static gboolean
checksums_valid (const AeroIpPacket *pkt, gsize hl, guint16 *payload_sum)
{
  const guint8 *frame = pkt->frame;
  guint16 sum;

  if (pkt->version == 4 && aero_inet_sum (frame + pkt->l3, pkt->l4 - pkt->l3, 0) != 0xffff)
    return FALSE;
  *payload_sum = aero_inet_sum (frame + hl, pkt->end - hl, 0);
  /* The TCP header's length is a multiple of 4: the sums chain. */
  sum = aero_inet_sum (frame + pkt->l4, hl - pkt->l4,
                       aero_inet_pseudo_sum (pkt->version, pkt->src, pkt->dst, AERO_IPPROTO_TCP,
                                             pkt->end - pkt->l4));
  return add16 (sum, *payload_sum) == 0xffff;
}

static gboolean
same_bytes (const guint8 *a, const guint8 *b, gsize from, gsize to)
{
  return memcmp (a + from, b + from, to - from) == 0;
}

/* Whether FRAME has the pending burst's headers, but for what differs
 * between the pieces of one segment: IPv4's total length, ID and header
 * checksum, IPv6's payload length, and TCP's sequence number, PSH and
 * checksum (flags are checked by the caller). */
static gboolean
same_headers (const AeroTcpMerge *m, const AeroIpPacket *pkt, gsize hl)
{
  const guint8 *a = m->buf, *b = pkt->frame;
  gsize ip = m->l3, tcp = m->l4;

  if (pkt->version != m->version || pkt->l3 != m->l3 || pkt->l4 != m->l4 || hl != m->hl)
    return FALSE;
  if (!same_bytes (a, b, 0, ip))
    return FALSE;
  if (m->version == 4)
    {
      if (!same_bytes (a, b, ip, ip + 2) || !same_bytes (a, b, ip + 6, ip + 10) ||
          !same_bytes (a, b, ip + 12, tcp))
        return FALSE;
    }
  else if (!same_bytes (a, b, ip, ip + 4) || !same_bytes (a, b, ip + 6, tcp))
    return FALSE;
  /* Ports; acknowledgement and data offset; window; urgent pointer and
   * options. */
  return same_bytes (a, b, tcp, tcp + 4) && same_bytes (a, b, tcp + 8, tcp + 13) &&
         same_bytes (a, b, tcp + 14, tcp + 16) && same_bytes (a, b, tcp + 18, hl);
}

AeroTcpMergeResult
aero_tcp_merge_add (AeroTcpMerge *m, const guint8 *frame, gsize len)
{
  AeroIpPacket pkt;
  gsize hl, payload;
  guint16 payload_sum;

  if (aero_ip_packet_parse (frame, len, &pkt) != AERO_IP_PACKET_OK ||
      pkt.protocol != AERO_IPPROTO_TCP || pkt.fragment || !pkt.has_l4 || pkt.end != len ||
      !(m->flags & (pkt.version == 4 ? AERO_TCP_MERGE_IPV4 : AERO_TCP_MERGE_IPV6)))
    return AERO_TCP_MERGE_REFUSED;
  hl = pkt.l4 + pkt.l4_header_len;
  payload = pkt.end - hl;
  if (payload == 0 || (pkt.tcp_flags & ~TCP_PSH) != TCP_ACK ||
      aero_ip_rd16 (frame + pkt.l4 + 18) != 0)
    return AERO_TCP_MERGE_REFUSED;

  if (m->len > 0)
    {
      if (m->sealed || !same_headers (m, &pkt, hl) || pkt.tcp_seq != m->next_seq ||
          payload > m->segment_size || m->len - m->l3 + payload > IP_PACKET_MAX)
        return AERO_TCP_MERGE_FLUSH;
      if (!checksums_valid (&pkt, hl, &payload_sum))
        return AERO_TCP_MERGE_REFUSED;
      /* A payload that starts at an odd offset adds its sum byte-swapped. */
      if ((m->len - m->hl) % 2 != 0)
        payload_sum = (guint16) (payload_sum << 8 | payload_sum >> 8);
      m->payload_sum = add16 (m->payload_sum, payload_sum);
      memcpy (m->buf + m->len, frame + hl, payload);
      m->len += payload;
      m->frame_bytes += len;
      m->segments++;
      m->next_seq += (guint32) payload;
      if (pkt.tcp_flags & TCP_PSH)
        m->buf[m->l4 + 13] |= TCP_PSH;
      m->sealed = (pkt.tcp_flags & TCP_PSH) || payload < m->segment_size;
      return AERO_TCP_MERGE_TAKEN;
    }

  /* Nothing can follow a PSH, nor a segment too large for a second one as
   * large (a jumbo frame): such a segment goes as it is. */
  if ((pkt.tcp_flags & TCP_PSH) || 2 * payload + (hl - pkt.l3) > IP_PACKET_MAX ||
      !checksums_valid (&pkt, hl, &payload_sum))
    return AERO_TCP_MERGE_REFUSED;
  if (m->buf == NULL)
    m->buf = g_malloc (FRAME_MAX);
  memcpy (m->buf, frame, len);
  m->len = len;
  m->frame_bytes = len;
  m->segments = 1;
  m->version = pkt.version;
  m->l3 = pkt.l3;
  m->l4 = pkt.l4;
  m->hl = hl;
  m->segment_size = payload;
  m->next_seq = pkt.tcp_seq + (guint32) payload;
  m->payload_sum = payload_sum;
  m->sealed = FALSE;
  return AERO_TCP_MERGE_TAKEN;
}

gboolean
aero_tcp_merge_offer (AeroTcpMerge *m, const guint8 *frame, gsize len,
                      AeroTcpMergeFlushFunc flush, gpointer user_data)
{
  AeroTcpMergeResult r = aero_tcp_merge_add (m, frame, len);

  if (r == AERO_TCP_MERGE_FLUSH)
    {
      flush (user_data);
      r = aero_tcp_merge_add (m, frame, len);
    }
  if (r == AERO_TCP_MERGE_REFUSED)
    {
      if (m->len > 0)
        flush (user_data);
      return FALSE;
    }
  if (aero_tcp_merge_sealed (m))
    flush (user_data);
  return TRUE;
}

guint8 *
aero_tcp_merge_take (AeroTcpMerge *m, AeroTcpMergeChecksum checksum, AeroTcpMergeInfo *info,
                     gsize *len)
{
  guint8 *ip = m->buf + m->l3;
  guint8 *tcp = m->buf + m->l4;
  gsize end = m->len;
  guint16 sum;

  memset (info, 0, sizeof *info);
  *len = 0;
  if (m->len == 0)
    return NULL;
  *info = (AeroTcpMergeInfo){ m->segments, m->version,      m->l3,         m->l4,
                              m->hl,       m->segment_size, m->frame_bytes };
  *len = end;
  m->len = 0;
  if (m->segments == 1)
    return m->buf;
  if (m->version == 4)
    {
      aero_ip_wr16 (ip + 2, (guint16) (end - m->l3));
      aero_ip_wr16 (ip + 10, 0);
      aero_ip_wr16 (ip + 10, aero_inet_checksum (ip, m->l4 - m->l3, 0));
    }
  else
    aero_ip_wr16 (ip + 4, (guint16) (end - m->l3 - 40));
  sum = pseudo_sum (m->buf, m->version, m->l3, end - m->l4);
  if (checksum == AERO_TCP_MERGE_CHECKSUM_PARTIAL)
    {
      aero_ip_wr16 (tcp + 16, sum);
      return m->buf;
    }
  aero_ip_wr16 (tcp + 16, 0);
  sum = add16 (aero_inet_sum (tcp, m->hl - m->l4, sum), m->payload_sum);
  aero_ip_wr16 (tcp + 16, (guint16) ~sum);
  return m->buf;
}
