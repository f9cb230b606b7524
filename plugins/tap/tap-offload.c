/* tap-offload.c — see tap-offload.h. */
#include <string.h>

#include <aero-net/aero-checksum.h>

#include "tap-offload.h"

#define ETH_LEN 14
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100 /* 802.1Q */
#define ETH_QINQ 0x88a8 /* 802.1ad */
#define PROTO_TCP 6
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_CWR 0x80
#define TCP_OPT_MSS 2

typedef struct {
  guint version;
  gsize l3;     /* offset of the IP header (after up to two VLAN tags) */
  gsize l4;     /* offset of the TCP header */
  gsize hl;     /* offset of the TCP payload */
  gsize end;    /* end of the IP packet */
} TcpFrame;

static inline guint16
get16 (const guint8 *p)
{
  return (guint16) (p[0] << 8 | p[1]);
}

static inline void
put16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static inline guint32
get32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static inline void
put32 (guint8 *p, guint32 v)
{
  put16 (p, (guint16) (v >> 16));
  put16 (p + 2, (guint16) v);
}

static inline guint16
fold32 (guint32 s)
{
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (guint16) s;
}

/* The pseudo-header sum for a TCP segment of L4_LEN bytes. */
static guint16
pseudo_sum (const guint8 *frame, const TcpFrame *t, gsize l4_len)
{
  const guint8 *ip = frame + t->l3;

  if (t->version == 4)
    return aero_inet_pseudo_sum (4, ip + 12, ip + 16, PROTO_TCP, l4_len);
  return aero_inet_pseudo_sum (6, ip + 8, ip + 24, PROTO_TCP, l4_len);
}

/* Whether FRAME is an unfragmented IPv4, or IPv6 without extension
 * headers, TCP segment whose lengths add up, after up to two VLAN tags
 * (the TAP's VLAN features include TSO: a VLAN device on it hands over
 * tagged large segments); fills T. */
static gboolean
parse_tcp (const guint8 *frame, gsize len, TcpFrame *t)
{
  gsize l3 = ETH_LEN, doff;
  guint16 type;

  if (len < ETH_LEN)
    return FALSE;
  type = get16 (frame + 12);
  for (int tags = 0; tags < 2 && (type == ETH_VLAN || type == ETH_QINQ); tags++)
    {
      if (len < l3 + 4)
        return FALSE;
      type = get16 (frame + l3 + 2);
      l3 += 4;
    }
  if (len < l3 + 40)
    return FALSE;
  t->l3 = l3;
  switch (type)
    {
    case ETH_IPV4:
      {
        const guint8 *ip = frame + l3;
        gsize ihl = (gsize) (ip[0] & 0x0f) * 4;
        gsize total = get16 (ip + 2);

        if ((ip[0] >> 4) != 4 || ihl < 20 || ip[9] != PROTO_TCP || (get16 (ip + 6) & 0x3fff) != 0 ||
            total < ihl + 20 || l3 + total > len)
          return FALSE;
        t->version = 4;
        t->l4 = l3 + ihl;
        t->end = l3 + total;
        break;
      }
    case ETH_IPV6:
      {
        const guint8 *ip = frame + l3;

        if (len < l3 + 60 || (ip[0] >> 4) != 6 || ip[6] != PROTO_TCP ||
            l3 + 40 + (gsize) get16 (ip + 4) > len)
          return FALSE;
        t->version = 6;
        t->l4 = l3 + 40;
        t->end = l3 + 40 + get16 (ip + 4);
        break;
      }
    default:
      return FALSE;
    }
  if (t->end < t->l4 + 20)
    return FALSE;
  doff = (gsize) (frame[t->l4 + 12] >> 4) * 4;
  if (doff < 20 || t->l4 + doff > t->end)
    return FALSE;
  t->hl = t->l4 + doff;
  return TRUE;
}

static void
set_tcp_checksum (guint8 *frame, const TcpFrame *t)
{
  guint16 sum;

  put16 (frame + t->l4 + 16, 0);
  sum = aero_inet_checksum (frame + t->l4, t->end - t->l4, pseudo_sum (frame, t, t->end - t->l4));
  put16 (frame + t->l4 + 16, sum);
}

/* Raises the MSS option of a SYN to MSS (never lowers it), keeping the
 * checksum right (RFC 1624). */
static void
raise_mss (guint8 *frame, gsize len, guint mss)
{
  TcpFrame t;
  gsize i;

  if (!parse_tcp (frame, len, &t) || !(frame[t.l4 + 13] & TCP_SYN))
    return;
  for (i = t.l4 + 20; i < t.hl;)
    {
      guint8 kind = frame[i];
      guint8 olen;

      if (kind == 0)
        break;
      if (kind == 1)
        {
          i++;
          continue;
        }
      if (i + 1 >= t.hl || (olen = frame[i + 1]) < 2 || i + olen > t.hl)
        break;
      if (kind == TCP_OPT_MSS && olen == 4)
        {
          guint16 old = get16 (frame + i + 2);
          guint16 check = get16 (frame + t.l4 + 16);

          if (old >= mss)
            return;
          put16 (frame + i + 2, (guint16) mss);
          /* The incremental update needs the option 16-bit aligned in
           * the header; after an odd number of NOPs it is not. */
          if ((i - t.l4) % 2 == 0)
            put16 (frame + t.l4 + 16,
                   (guint16) ~fold32 ((guint32) (guint16) ~check + (guint16) ~old + mss));
          else
            set_tcp_checksum (frame, &t);
          return;
        }
      i += olen;
    }
}

static gboolean
complete_checksum (guint8 *frame, gsize len, guint start, guint offset)
{
  guint16 sum;

  if (start < ETH_LEN || start % 2 != 0 || (gsize) start + offset + 2 > len)
    return FALSE;
  /* The field holds the pseudo-header sum; the sum runs over it. */
  sum = aero_inet_checksum (frame + start, len - start, 0);
  put16 (frame + start + offset, sum == 0 ? 0xffff : sum);
  return TRUE;
}

static void
emit_piece (const guint8 *frame, const TcpFrame *t, gsize off, gsize n, guint index, gboolean last,
            TapOffloadEmit emit, gpointer data)
{
  gsize head = t->hl;
  guint8 *buf = g_malloc (head + n);
  TcpFrame p = *t;
  guint8 *tcp = buf + t->l4;

  memcpy (buf, frame, head);
  memcpy (buf + head, frame + head + off, n);
  p.end = head + n;
  if (t->version == 4)
    {
      guint8 *ip = buf + t->l3;

      put16 (ip + 2, (guint16) (p.end - t->l3));
      put16 (ip + 4, (guint16) (get16 (frame + t->l3 + 4) + index));
      put16 (ip + 10, 0);
      put16 (ip + 10, aero_inet_checksum (ip, t->l4 - t->l3, 0));
    }
  else
    put16 (buf + t->l3 + 4, (guint16) (p.end - t->l3 - 40));
  put32 (tcp + 4, get32 (frame + t->l4 + 4) + (guint32) off);
  if (!last)
    tcp[13] &= (guint8) ~(TCP_FIN | TCP_PSH);
  if (index > 0)
    tcp[13] &= (guint8) ~TCP_CWR;
  set_tcp_checksum (buf, &p);
  emit (g_bytes_new_take (buf, p.end), data);
}

TapOffloadResult
tap_offload_from_kernel (const struct virtio_net_hdr *hdr, guint8 *frame, gsize len,
                         guint segment, TapOffloadEmit emit, gpointer data, guint *pieces)
{
  guint gso = hdr->gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
  gsize payload, piece, off;
  TcpFrame t;
  guint i;

  *pieces = 0;
  if (gso == VIRTIO_NET_HDR_GSO_NONE)
    {
      if ((hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
          !complete_checksum (frame, len, hdr->csum_start, hdr->csum_offset))
        return TAP_OFFLOAD_MALFORMED;
      raise_mss (frame, len, segment);
      emit (g_bytes_new (frame, len), data);
      *pieces = 1;
      return TAP_OFFLOAD_OK;
    }
  if (gso != VIRTIO_NET_HDR_GSO_TCPV4 && gso != VIRTIO_NET_HDR_GSO_TCPV6)
    return TAP_OFFLOAD_UNSUPPORTED;
  if (!parse_tcp (frame, len, &t) || t.version != (gso == VIRTIO_NET_HDR_GSO_TCPV4 ? 4u : 6u) ||
      hdr->gso_size == 0)
    return TAP_OFFLOAD_MALFORMED;

  /* Pieces are whole multiples of the sender's MSS where they can be. */
  payload = t.end - t.hl;
  if (payload == 0)
    return TAP_OFFLOAD_MALFORMED;
  piece = segment;
  if (piece == 0)
    return TAP_OFFLOAD_MALFORMED;
  if (hdr->gso_size <= segment)
    piece = segment / hdr->gso_size * hdr->gso_size;
  for (off = 0, i = 0; off < payload; off += piece, i++)
    {
      gsize n = MIN (piece, payload - off);

      emit_piece (frame, &t, off, n, i, off + n == payload, emit, data);
    }
  *pieces = i;
  return TAP_OFFLOAD_OK;
}

gboolean
tap_offload_to_kernel (const guint8 *frame, gsize len, guint mtu, struct virtio_net_hdr *hdr,
                       guint8 partial[2])
{
  TcpFrame t;
  gsize headers;

  memset (hdr, 0, sizeof *hdr);
  if (!parse_tcp (frame, len, &t))
    return FALSE;
  headers = t.hl - t.l3;
  if (mtu <= headers || t.end - t.hl <= mtu - headers)
    return FALSE;
  hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr->gso_type = t.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  hdr->hdr_len = (guint16) t.hl;
  hdr->gso_size = (guint16) (mtu - headers);
  hdr->csum_start = (guint16) t.l4;
  hdr->csum_offset = 16;
  put16 (partial, pseudo_sum (frame, &t, t.end - t.l4));
  return TRUE;
}

/* ---- merging ------------------------------------------------------------ */

static gboolean
checksums_valid (const guint8 *frame, const TcpFrame *t)
{
  if (t->version == 4 && aero_inet_checksum (frame + t->l3, t->l4 - t->l3, 0) != 0)
    return FALSE;
  return aero_inet_checksum (frame + t->l4, t->end - t->l4,
                             pseudo_sum (frame, t, t->end - t->l4)) == 0;
}

static gboolean
same_bytes (const guint8 *a, const guint8 *b, gsize from, gsize to)
{
  return memcmp (a + from, b + from, to - from) == 0;
}

/* Whether FRAME (parsed into T) has the pending burst's headers, but for
 * what differs between the pieces of one segment: IPv4's total length,
 * ID and header checksum, and TCP's sequence number, PSH and checksum. */
static gboolean
same_headers (const TapMerge *m, const guint8 *frame, const TcpFrame *t)
{
  const guint8 *a = m->buf, *b = frame;
  gsize ip = m->l3, tcp = m->l4;

  if (t->version != m->version || t->l3 != m->l3 || t->l4 != m->l4 || t->hl != m->hl)
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
  /* Ports; acknowledgement, offset and window; urgent pointer and options. */
  return same_bytes (a, b, tcp, tcp + 4) && same_bytes (a, b, tcp + 8, tcp + 13) &&
         same_bytes (a, b, tcp + 14, tcp + 16) && same_bytes (a, b, tcp + 18, m->hl);
}

TapMergeResult
tap_merge_add (TapMerge *m, const guint8 *frame, gsize len)
{
  TcpFrame t;
  gsize payload;
  guint8 flags;

  /* An Ethernet frame padded to 60 bytes (t.end < len) is not merged. */
  if (!parse_tcp (frame, len, &t) || t.end != len)
    return TAP_MERGE_REFUSED;
  payload = t.end - t.hl;
  flags = frame[t.l4 + 13];
  if (payload == 0 || (flags & ~TCP_PSH) != TCP_ACK || get16 (frame + t.l4 + 18) != 0)
    return TAP_MERGE_REFUSED;

  if (m->len > 0)
    {
      if (m->sealed || !same_headers (m, frame, &t) || get32 (frame + t.l4 + 4) != m->next_seq ||
          payload > m->gso_size || m->len - m->l3 + payload > 65535)
        return TAP_MERGE_FLUSH;
      if (!checksums_valid (frame, &t))
        return TAP_MERGE_REFUSED;
      memcpy (m->buf + m->len, frame + t.hl, payload);
      m->len += payload;
      m->segments++;
      m->next_seq += (guint32) payload;
      if (flags & TCP_PSH)
        m->buf[m->l4 + 13] |= TCP_PSH;
      m->sealed = (flags & TCP_PSH) || payload < m->gso_size;
      return TAP_MERGE_TAKEN;
    }

  /* Nothing can follow a PSH, nor a segment too large for a second one
   * as large (a jumbo frame): such a segment goes as it is. */
  if ((flags & TCP_PSH) || 2 * payload + (t.hl - t.l3) > 65535 || !checksums_valid (frame, &t))
    return TAP_MERGE_REFUSED;
  if (m->buf == NULL)
    m->buf = g_malloc (TAP_MERGE_FRAME_MAX);
  memcpy (m->buf, frame, len);
  m->len = len;
  m->segments = 1;
  m->version = t.version;
  m->l3 = t.l3;
  m->l4 = t.l4;
  m->hl = t.hl;
  m->gso_size = payload;
  m->next_seq = get32 (frame + t.l4 + 4) + (guint32) payload;
  m->sealed = FALSE;
  return TAP_MERGE_TAKEN;
}

const guint8 *
tap_merge_take (TapMerge *m, guint mtu, struct virtio_net_hdr *hdr, gsize *len, guint *segments)
{
  TcpFrame t = { m->version, m->l3, m->l4, m->hl, m->len };
  guint8 *ip = m->buf + m->l3;
  gsize headers = m->hl - m->l3;

  memset (hdr, 0, sizeof *hdr);
  *len = m->len;
  *segments = m->segments;
  if (m->len == 0)
    return NULL;
  m->len = 0;
  if (m->segments == 1)
    {
      guint8 partial[2];

      if (tap_offload_to_kernel (m->buf, t.end, mtu, hdr, partial))
        memcpy (m->buf + hdr->csum_start + hdr->csum_offset, partial, 2);
      return m->buf;
    }
  if (t.version == 4)
    {
      put16 (ip + 2, (guint16) (t.end - t.l3));
      put16 (ip + 10, 0);
      put16 (ip + 10, aero_inet_checksum (ip, t.l4 - t.l3, 0));
    }
  else
    put16 (ip + 4, (guint16) (t.end - t.l3 - 40));
  hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr->gso_type = t.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  hdr->hdr_len = (guint16) t.hl;
  hdr->gso_size = (guint16) (mtu > headers ? MIN (m->gso_size, mtu - headers) : m->gso_size);
  hdr->csum_start = (guint16) t.l4;
  hdr->csum_offset = 16;
  put16 (m->buf + t.l4 + 16, pseudo_sum (m->buf, &t, t.end - t.l4));
  return m->buf;
}

void
tap_merge_clear (TapMerge *m)
{
  g_free (m->buf);
  memset (m, 0, sizeof *m);
}
