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

void
tap_offload_merged_to_kernel (guint8 *frame, gsize len, const AeroTcpMergeInfo *info, guint mtu,
                              struct virtio_net_hdr *hdr)
{
  gsize headers = info->hl - info->l3;
  guint8 partial[2];

  memset (hdr, 0, sizeof *hdr);
  if (info->segments <= 1)
    {
      if (tap_offload_to_kernel (frame, len, mtu, hdr, partial))
        memcpy (frame + hdr->csum_start + hdr->csum_offset, partial, 2);
      return;
    }
  hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr->gso_type = info->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  hdr->hdr_len = (guint16) info->hl;
  hdr->gso_size =
    (guint16) (mtu > headers ? MIN (info->segment_size, mtu - headers) : info->segment_size);
  hdr->csum_start = (guint16) info->l4;
  hdr->csum_offset = 16;
}
