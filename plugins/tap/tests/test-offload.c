/* test-offload.c — unit tests of tap-offload.c, every result checked
 * against a deliberately plain RFC 1071 checksum written here (16-bit
 * big-endian words taken byte by byte, an odd tail padded with zero) and
 * against frames built here byte by byte:
 *   - aero_inet_sum (the sum tap-offload.c uses) equals that reference on
 *     random buffers of every length 0..300 and large ones (65,535 bytes),
 *     at every alignment, with various initial sums, on all-0x00 and
 *     all-0xff data, and on data built so that the 32-bit accumulator
 *     needs its second fold;
 *   - a TSO segment from the kernel (TCP over IPv4, with and without IPv4
 *     options, and over IPv6; TCP timestamps; 60,000 bytes of payload) is
 *     split into pieces of the segment size rounded down to whole gso_size
 *     multiples: count, lengths, payloads, sequence numbers, IPv4 ids and
 *     lengths, IPv6 payload lengths, both checksums, FIN/PSH only on the
 *     last piece and CWR only on the first, every other header byte as it
 *     was;
 *   - a partial checksum (NEEDS_CSUM, the field holding the pseudo-header
 *     sum as Linux leaves it) of a UDP/IPv4 datagram and a TCP/IPv6 segment
 *     is completed, a UDP checksum computing to 0 is sent as 0xffff;
 *   - the MSS option of a SYN is raised to the segment size with the
 *     checksum kept right (at an even and at an odd offset), and left alone
 *     when already as large, on a segment that is no SYN and on a SYN
 *     without MSS option;
 *   - malformed headers and packets are dropped without emitting anything,
 *     UDP GSO is unsupported;
 *   - tap_offload_to_kernel asks the kernel to split exactly the TCP
 *     segments larger than one MTU, with the right GSO fields and partial
 *     pseudo-header sum, and leaves the header empty for every other frame;
 *     what it produces, fed back through tap_offload_from_kernel, gives
 *     valid pieces;
 *   - merging (aero-tcp-merge.h, as the tap plugin and stack-slirp use
 *     it): a run of consecutive segments (IPv4 and IPv6,
 *     with TCP timestamps) becomes one segment with the right lengths, IPv4
 *     header checksum, GSO fields and pseudo-header sum, whose completed
 *     checksum verifies, and which tap_offload_from_kernel splits back
 *     into exactly the frames that went in; the burst stops at 65,535
 *     bytes of IP packet, after a PSH and after a short segment; a frame
 *     of another flow or with any other header difference asks for the
 *     burst to be written first; frames that must not be merged (no
 *     payload, SYN, FIN, RST, URG, ECE, CWR, a PSH with nothing pending,
 *     bad checksums, padding, fragments, UDP, ARP, IPv6 for a burst that
 *     merges IPv4 only) are refused; a burst of
 *     one segment is written as it came, or with GSO fields when it is
 *     larger than the MTU; the kernel's pieces never exceed the MTU; taken
 *     with a complete checksum, a burst verifies whatever the parity of
 *     its segment size; aero_tcp_merge_offer() hands a burst on before a
 *     frame that cannot join it or is refused, and when sealed, and the
 *     frames handed on add up to those offered.
 * Random data comes from a GRand with a fixed seed, so runs repeat. */
#include <string.h>

#include <aero-net/aero-checksum.h>

#include "tap-offload.h"

#define ETH_LEN 14
#define PROTO_TCP 6
#define PROTO_UDP 17
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10
#define TCP_ECE 0x40
#define TCP_CWR 0x80
#define SEED 0x0ff10ad

static const guint8 mac_dst[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const guint8 mac_src[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const guint8 ip4_src[4] = { 10, 0, 2, 15 };
static const guint8 ip4_dst[4] = { 93, 184, 216, 34 };
static const guint8 ip6_src[16] = { 0xfd, 0x00, 0xae, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15 };
static const guint8 ip6_dst[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0xab, 0xcd,
                                    0x00, 0x00, 0xfe, 0xdc, 0x98, 0x76, 0x54, 0x32 };

/* ---- bytes and the reference checksum -------------------------------------- */

static guint16
rd16 (const guint8 *p)
{
  return (guint16) ((guint) p[0] << 8 | p[1]);
}

static guint32
rd32 (const guint8 *p)
{
  return (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
}

static void
wr16 (guint8 *p, guint v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

static void
wr32 (guint8 *p, guint32 v)
{
  p[0] = (guint8) (v >> 24);
  p[1] = (guint8) (v >> 16);
  p[2] = (guint8) (v >> 8);
  p[3] = (guint8) v;
}

/* RFC 1071, as plainly as it can be written: INITIAL plus every 16-bit
 * big-endian word, with the carry out of bit 15 added back in at once. */
static guint16
ref_sum (const guint8 *data, gsize len, guint16 initial)
{
  guint32 sum = initial;

  for (gsize i = 0; i < len; i += 2)
    {
      guint32 word = (guint32) data[i] << 8;

      if (i + 1 < len)
        word |= data[i + 1];
      sum += word;
      if (sum > 0xffff)
        sum = (sum & 0xffff) + 1;
    }
  return (guint16) sum;
}

/* The pseudo-header sum (folded, not complemented) for an L4 packet of
 * L4_LEN bytes between this file's addresses. */
static guint16
ref_pseudo (guint version, guint8 proto, gsize l4_len)
{
  guint8 ph[40] = { 0 };

  if (version == 4)
    {
      memcpy (ph, ip4_src, 4);
      memcpy (ph + 4, ip4_dst, 4);
      ph[9] = proto;
      wr16 (ph + 10, (guint) l4_len);
      return ref_sum (ph, 12, 0);
    }
  memcpy (ph, ip6_src, 16);
  memcpy (ph + 16, ip6_dst, 16);
  wr32 (ph + 32, (guint32) l4_len);
  ph[39] = proto;
  return ref_sum (ph, 40, 0);
}

/* Whether the L4 checksum of the packet at FRAME + L4 up to END verifies. */
static gboolean
ref_l4_ok (const guint8 *frame, guint version, guint8 proto, gsize l4, gsize end)
{
  return ref_sum (frame + l4, end - l4, ref_pseudo (version, proto, end - l4)) == 0xffff;
}

static void
fill_random (GRand *rng, guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    p[i] = (guint8) g_rand_int_range (rng, 0, 256);
}

/* ---- frames ----------------------------------------------------------------------- */

/* NOP, NOP, timestamps: what Linux sends on an established connection. */
static const guint8 opt_timestamps[12] = { 1,    1,    8,    10,   0x12, 0x34,
                                           0x56, 0x78, 0x9a, 0xbc, 0xde, 0xf0 };

typedef struct
{
  guint version;        /* 4 or 6 */
  gsize ip_opt;         /* bytes of IPv4 options, a multiple of 4 */
  const guint8 *opt;    /* TCP options, or NULL for opt_timestamps */
  gsize opt_len;        /* a multiple of 4 */
  guint8 flags;
  guint32 seq;
  guint32 ack;
  guint16 id;
  guint16 frag;         /* IPv4 flags and fragment offset */
  const guint8 *payload;
  gsize payload_len;
} TcpSpec;

typedef struct
{
  guint8 *data;
  gsize len;
  gsize l4;             /* offset of the TCP (or UDP) header */
  gsize hl;             /* offset of the payload */
} Frame;

static void
put_eth (guint8 *p, guint type)
{
  memcpy (p, mac_dst, 6);
  memcpy (p + 6, mac_src, 6);
  wr16 (p + 12, type);
}

/* An IPv4 header of 20 + IP_OPT bytes at P with a valid checksum, or an
 * IPv6 header, for an L4 packet of L4_LEN bytes. */
static void
put_ip (guint8 *p, guint version, gsize ip_opt, guint8 proto, gsize l4_len, guint16 id,
        guint16 frag)
{
  if (version == 4)
    {
      p[0] = (guint8) (0x40 | (20 + ip_opt) / 4);
      p[1] = 0x02; /* ECT(0) */
      wr16 (p + 2, (guint) (20 + ip_opt + l4_len));
      wr16 (p + 4, id);
      wr16 (p + 6, frag);
      p[8] = 64;
      p[9] = proto;
      memcpy (p + 12, ip4_src, 4);
      memcpy (p + 16, ip4_dst, 4);
      if (ip_opt >= 4)
        {
          static const guint8 router_alert[4] = { 0x94, 0x04, 0x00, 0x00 };

          memcpy (p + 20, router_alert, 4);
          memset (p + 24, 1, ip_opt - 4); /* NOPs */
        }
      wr16 (p + 10, 0);
      wr16 (p + 10, (guint16) ~ref_sum (p, 20 + ip_opt, 0));
      return;
    }
  p[0] = 0x60;
  p[1] = 0x0a;
  p[2] = 0xbc;
  p[3] = 0xde;
  wr16 (p + 4, (guint) l4_len);
  p[6] = proto;
  p[7] = 64;
  memcpy (p + 8, ip6_src, 16);
  memcpy (p + 24, ip6_dst, 16);
}

/* Sets the TCP checksum of F from scratch with the reference. */
static void
fix_tcp_checksum (Frame *f, guint version)
{
  wr16 (f->data + f->l4 + 16, 0);
  wr16 (f->data + f->l4 + 16,
        (guint16) ~ref_sum (f->data + f->l4, f->len - f->l4,
                            ref_pseudo (version, PROTO_TCP, f->len - f->l4)));
}

/* An Ethernet frame holding the TCP segment S, with valid checksums. */
static Frame
build_tcp (const TcpSpec *s)
{
  const guint8 *opt = s->opt ? s->opt : opt_timestamps;
  gsize opt_len = s->opt ? s->opt_len : sizeof opt_timestamps;
  gsize iphl = s->version == 4 ? 20 + s->ip_opt : 40;
  gsize tcphl = 20 + opt_len;
  Frame f;
  guint8 *tcp;

  g_assert_cmpuint (opt_len % 4, ==, 0);
  g_assert_cmpuint (s->ip_opt % 4, ==, 0);
  f.l4 = ETH_LEN + iphl;
  f.hl = f.l4 + tcphl;
  f.len = f.hl + s->payload_len;
  f.data = g_malloc0 (f.len);
  put_eth (f.data, s->version == 4 ? 0x0800 : 0x86dd);
  put_ip (f.data + ETH_LEN, s->version, s->ip_opt, PROTO_TCP, tcphl + s->payload_len, s->id,
          s->frag);
  tcp = f.data + f.l4;
  wr16 (tcp, 50123);
  wr16 (tcp + 2, 443);
  wr32 (tcp + 4, s->seq);
  wr32 (tcp + 8, s->ack);
  tcp[12] = (guint8) (tcphl / 4 << 4);
  tcp[13] = s->flags;
  wr16 (tcp + 14, 0xfaf0);
  wr16 (tcp + 18, 0);
  memcpy (tcp + 20, opt, opt_len);
  if (s->payload_len > 0)
    memcpy (f.data + f.hl, s->payload, s->payload_len);
  fix_tcp_checksum (&f, s->version);
  return f;
}

/* An Ethernet frame holding a UDP/IPv4 datagram with PAYLOAD and a valid
 * checksum. */
static Frame
build_udp4 (const guint8 *payload, gsize payload_len)
{
  Frame f;
  guint8 *udp;

  f.l4 = ETH_LEN + 20;
  f.hl = f.l4 + 8;
  f.len = f.hl + payload_len;
  f.data = g_malloc0 (f.len);
  put_eth (f.data, 0x0800);
  put_ip (f.data + ETH_LEN, 4, 0, PROTO_UDP, 8 + payload_len, 0x1234, 0x4000);
  udp = f.data + f.l4;
  wr16 (udp, 5353);
  wr16 (udp + 2, 53);
  wr16 (udp + 4, (guint) (8 + payload_len));
  memcpy (f.data + f.hl, payload, payload_len);
  wr16 (udp + 6,
        (guint16) ~ref_sum (udp, 8 + payload_len, ref_pseudo (4, PROTO_UDP, 8 + payload_len)));
  return f;
}

/* ---- emitting ------------------------------------------------------------------- */

static void
collect (GBytes *frame, gpointer data)
{
  g_ptr_array_add (data, frame);
}

static GPtrArray *
new_sink (void)
{
  return g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
}

/* ---- aero_inet_sum -------------------------------------------------------------- */

static const guint16 initials[] = { 0, 1, 0x00ff, 0x1234, 0x8000, 0xfffe, 0xffff };

static void
check_sum (const guint8 *data, gsize len)
{
  for (gsize k = 0; k < G_N_ELEMENTS (initials); k++)
    {
      guint16 want = ref_sum (data, len, initials[k]);
      guint16 got = aero_inet_sum (data, len, initials[k]);

      if (got != want)
        g_test_message ("len %" G_GSIZE_FORMAT ", initial 0x%04x", len, initials[k]);
      g_assert_cmphex (got, ==, want);
    }
}

static void
test_sum_reference (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED);
  gsize big = 65535 + 8;
  g_autofree guint8 *buf = g_malloc (big);

  /* The reference itself, on textbook values: RFC 1071's example
   * (00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2) and an odd tail. */
  {
    static const guint8 rfc[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
    static const guint8 odd[3] = { 0x12, 0x34, 0x56 };

    g_assert_cmphex (ref_sum (rfc, 8, 0), ==, 0xddf2);
    g_assert_cmphex (ref_sum (odd, 3, 0), ==, 0x1234 + 0x5600);
    g_assert_cmphex (aero_inet_sum (rfc, 8, 0), ==, 0xddf2);
    g_assert_cmphex (aero_inet_sum (odd, 3, 0), ==, 0x6834);
  }

  /* Every length 0..300 at every alignment 0..3. */
  for (gsize len = 0; len <= 300; len++)
    for (gsize align = 0; align < 4; align++)
      {
        fill_random (rng, buf, len + align);
        check_sum (buf + align, len);
      }

  /* Large buffers: 65,535 bytes (odd) and around it. */
  {
    static const gsize lens[] = { 1500, 9000, 65534, 65535 };

    for (gsize i = 0; i < G_N_ELEMENTS (lens); i++)
      for (gsize align = 0; align < 2; align++)
        {
          fill_random (rng, buf, big);
          check_sum (buf + align, lens[i]);
        }
  }

  /* All-0xff and all-zero data, where the carries pile up or a result of
   * 0x0000 rather than 0xffff is possible. */
  for (gsize len = 0; len <= 300; len++)
    {
      memset (buf, 0xff, len);
      check_sum (buf, len);
      memset (buf, 0, len);
      check_sum (buf, len);
    }
  memset (buf, 0xff, 65535);
  check_sum (buf, 65535);
  check_sum (buf + 1, 65534);
  memset (buf, 0, 65535);
  check_sum (buf, 65535);
  g_assert_cmphex (aero_inet_sum (buf, 65535, 0), ==, 0);

  /* Data whose sum is 0xffff, one's complement minus zero. */
  memset (buf, 0, 64);
  wr16 (buf, 0x1234);
  wr16 (buf + 40, 0xedcb);
  check_sum (buf, 64);
  g_assert_cmphex (aero_inet_sum (buf, 64, 0), ==, 0xffff);

  /* Carries that only a second fold catches: 0xff bytes but for one
   * aligned group of four holding a small value, in either byte order
   * (ff ff ff ff ff ff ff ff 01 00 00 00 sums to 0x0100). */
  memset (buf, 0xff, 8);
  memset (buf + 8, 0, 4);
  buf[8] = 1;
  check_sum (buf, 12);
  g_assert_cmphex (aero_inet_sum (buf, 12, 0), ==, 0x0100);
  for (gsize len = 8; len <= 300; len++)
    for (gsize at = 0; at + 4 <= len; at += 4)
      for (gsize byte = 0; byte < 4; byte += 3)
        {
          memset (buf, 0xff, len);
          memset (buf + at, 0, 4);
          buf[at + byte] = (guint8) g_rand_int_range (rng, 1, 4);
          check_sum (buf, len);
        }
}

/* ---- TSO segments from the kernel ------------------------------------------- */

typedef struct
{
  guint version;
  gsize ip_opt;
  guint8 flags;
  gboolean ecn;         /* VIRTIO_NET_HDR_GSO_ECN in gso_type */
  gboolean partial;     /* TCP checksum field: pseudo-header sum, else garbage */
  guint gso_size;
  guint segment;
  gsize payload_len;
} GsoCase;

/* Runs tap_offload_from_kernel on the segment C describes and checks every
 * piece against the input. */
static void
check_gso (GRand *rng, const GsoCase *c)
{
  g_autofree guint8 *payload = g_malloc (MAX (c->payload_len, 1));
  g_autoptr (GPtrArray) out = new_sink ();
  g_autofree guint8 *joined = g_malloc (MAX (c->payload_len, 1));
  TcpSpec s = { 0 };
  struct virtio_net_hdr hdr = { 0 };
  g_autofree guint8 *orig = NULL;
  Frame f;
  gsize piece, npieces, off = 0, tcphl;
  guint pieces = 12345;

  g_test_message ("IPv%u, %" G_GSIZE_FORMAT " bytes of IP options, flags 0x%02x, "
                  "gso_size %u, segment %u, payload %" G_GSIZE_FORMAT,
                  c->version, c->ip_opt, c->flags, c->gso_size, c->segment, c->payload_len);
  fill_random (rng, payload, c->payload_len);
  s.version = c->version;
  s.ip_opt = c->ip_opt;
  s.flags = c->flags;
  s.seq = 0xffff8000u + (guint32) g_rand_int_range (rng, 0, 0x4000); /* wraps */
  s.ack = g_rand_int (rng);
  s.id = 0xfffd; /* wraps too */
  s.frag = 0x4000; /* DF */
  s.payload = payload;
  s.payload_len = c->payload_len;
  f = build_tcp (&s);
  tcphl = f.hl - f.l4;
  if (c->partial)
    wr16 (f.data + f.l4 + 16, ref_pseudo (c->version, PROTO_TCP, f.len - f.l4));
  else
    wr16 (f.data + f.l4 + 16, 0xdead);
  orig = g_memdup2 (f.data, f.len);

  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = (guint8) ((c->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6) |
                           (c->ecn ? VIRTIO_NET_HDR_GSO_ECN : 0));
  hdr.hdr_len = (guint16) f.hl;
  hdr.gso_size = (guint16) c->gso_size;
  hdr.csum_start = (guint16) f.l4;
  hdr.csum_offset = 16;

  g_assert_cmpint (tap_offload_from_kernel (&hdr, f.data, f.len, c->segment, collect, out, &pieces),
                   ==, TAP_OFFLOAD_OK);

  piece = c->gso_size <= c->segment ? c->segment / c->gso_size * c->gso_size : c->segment;
  npieces = (c->payload_len + piece - 1) / piece;
  g_assert_cmpuint (out->len, ==, npieces);
  g_assert_cmpuint (pieces, ==, npieces);

  for (guint k = 0; k < out->len; k++)
    {
      gsize len;
      const guint8 *p = g_bytes_get_data (out->pdata[k], &len);
      gsize n = MIN (piece, c->payload_len - off);
      gboolean last = k + 1 == out->len;
      g_autofree guint8 *want = NULL;
      g_autofree guint8 *got = NULL;
      guint8 flags = c->flags;

      g_assert_cmpuint (len, ==, f.hl + n);
      memcpy (joined + off, p + f.hl, n);

      /* Checksums, with the reference. */
      if (c->version == 4)
        g_assert_cmphex (ref_sum (p + ETH_LEN, 20 + c->ip_opt, 0), ==, 0xffff);
      g_assert_true (ref_l4_ok (p, c->version, PROTO_TCP, f.l4, len));

      /* The fields each piece has its own of, read directly. */
      if (!last)
        flags &= (guint8) ~(TCP_FIN | TCP_PSH);
      if (k > 0)
        flags &= (guint8) ~TCP_CWR;
      g_assert_cmpuint (rd32 (p + f.l4 + 4), ==, (guint32) (s.seq + off));
      g_assert_cmphex (p[f.l4 + 13], ==, flags);
      if (c->version == 4)
        {
          g_assert_cmpuint (rd16 (p + ETH_LEN + 2), ==, 20 + c->ip_opt + tcphl + n);
          g_assert_cmpuint (rd16 (p + ETH_LEN + 4), ==, (guint16) (0xfffd + k));
        }
      else
        g_assert_cmpuint (rd16 (p + ETH_LEN + 4), ==, tcphl + n);

      /* Every other header byte: the input's (the checksums, verified
       * above, left out). */
      want = g_memdup2 (orig, f.hl);
      got = g_memdup2 (p, f.hl);
      if (c->version == 4)
        {
          wr16 (want + ETH_LEN + 2, (guint) (20 + c->ip_opt + tcphl + n));
          wr16 (want + ETH_LEN + 4, (guint16) (0xfffd + k));
          wr16 (want + ETH_LEN + 10, 0);
          wr16 (got + ETH_LEN + 10, 0);
        }
      else
        wr16 (want + ETH_LEN + 4, (guint) (tcphl + n));
      wr32 (want + f.l4 + 4, s.seq + (guint32) off);
      want[f.l4 + 13] = flags;
      wr16 (want + f.l4 + 16, 0);
      wr16 (got + f.l4 + 16, 0);
      g_assert_cmpmem (got, f.hl, want, f.hl);
      off += n;
    }
  g_assert_cmpmem (joined, c->payload_len, payload, c->payload_len);
  g_free (f.data);
}

static void
run_gso (guint version, gsize ip_opt)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + version + (guint32) ip_opt);
  static const guint segments[] = { 16384, 1448, 536, 65000, TAP_OFFLOAD_SEGMENT_MAX };

  /* The brief's cases: 60,000 bytes, MSS 1448, all flags that change. */
  for (gsize i = 0; i < G_N_ELEMENTS (segments); i++)
    for (int partial = 0; partial < 2; partial++)
      {
        GsoCase c = { version, ip_opt, TCP_ACK | TCP_PSH | TCP_FIN | TCP_CWR | TCP_ECE, TRUE,
                      partial, 1448, segments[i], 60000 };

        check_gso (rng, &c);
      }

  /* Lengths around piece boundaries, other MSS, no flags to clear. */
  {
    static const GsoCase more[] = {
      { 0, 0, TCP_ACK, FALSE, TRUE, 1448, 16384, 1 },
      { 0, 0, TCP_ACK, FALSE, TRUE, 1448, 16384, 15927 },
      { 0, 0, TCP_ACK, FALSE, TRUE, 1448, 16384, 15928 },
      { 0, 0, TCP_ACK, FALSE, TRUE, 1448, 16384, 15929 },
      { 0, 0, TCP_ACK | TCP_PSH, FALSE, FALSE, 1448, 16384, 31856 },
      { 0, 0, TCP_ACK | TCP_PSH, FALSE, FALSE, 1448, 1448, 2897 },
      { 0, 0, TCP_ACK | TCP_FIN, FALSE, TRUE, 536, 1448, 10000 },
      { 0, 0, TCP_ACK, FALSE, TRUE, 1000, 1448, 4321 },
      { 0, 0, TCP_ACK | TCP_PSH, FALSE, TRUE, 20000, 16384, 40000 },
      { 0, 0, TCP_ACK | TCP_CWR, TRUE, TRUE, 1220, 4096, 9000 },
      { 0, 0, TCP_ACK | TCP_PSH, FALSE, TRUE, 1, 536, 1073 },
    };

    for (gsize i = 0; i < G_N_ELEMENTS (more); i++)
      {
        GsoCase c = more[i];

        c.version = version;
        c.ip_opt = ip_opt;
        check_gso (rng, &c);
      }
  }
}

static void
test_gso_ipv4 (void)
{
  run_gso (4, 0);
}

static void
test_gso_ipv4_options (void)
{
  run_gso (4, 4);
  run_gso (4, 12);
}

static void
test_gso_ipv6 (void)
{
  run_gso (6, 0);
}

/* ---- partial checksums ------------------------------------------------------------ */

/* Runs a non-GSO frame with NEEDS_CSUM through and returns the one frame
 * emitted (checked to be as long as the input). */
/* A large segment behind an 802.1Q tag (a VLAN device on the TAP: its VLAN
 * features include TSO) is split as the same segment without the tag, and
 * every piece keeps the tag. */
static void
test_gso_vlan (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (0x7a9);

  for (guint version = 4; version <= 6; version += 2)
    {
      g_autofree guint8 *payload = g_malloc (20000);
      g_autoptr (GPtrArray) plain = new_sink ();
      g_autoptr (GPtrArray) tagged = new_sink ();
      static const guint8 tag[4] = { 0x81, 0x00, 0x00, 0x64 }; /* VLAN 100 */
      TcpSpec s = { 0 };
      struct virtio_net_hdr hdr = { 0 }, thdr;
      g_autofree guint8 *vlan = NULL;
      Frame f;
      guint pieces = 0, tpieces = 0;

      fill_random (rng, payload, 20000);
      s.version = version;
      s.flags = 0x18;
      s.seq = 1000;
      s.id = 7;
      s.frag = 0x4000;
      s.payload = payload;
      s.payload_len = 20000;
      f = build_tcp (&s);
      wr16 (f.data + f.l4 + 16, ref_pseudo (version, PROTO_TCP, f.len - f.l4));
      hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      hdr.gso_type = version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
      hdr.hdr_len = (guint16) f.hl;
      hdr.gso_size = 1448;
      hdr.csum_start = (guint16) f.l4;
      hdr.csum_offset = 16;
      thdr = hdr;
      thdr.hdr_len += 4;
      thdr.csum_start += 4;
      vlan = g_malloc (f.len + 4);
      memcpy (vlan, f.data, 12);
      memcpy (vlan + 12, tag, 4);
      memcpy (vlan + 16, f.data + 12, f.len - 12);

      g_assert_cmpint (tap_offload_from_kernel (&thdr, vlan, f.len + 4, 16384, collect, tagged,
                                                &tpieces), ==, TAP_OFFLOAD_OK);
      g_assert_cmpint (tap_offload_from_kernel (&hdr, f.data, f.len, 16384, collect, plain,
                                                &pieces), ==, TAP_OFFLOAD_OK);
      g_assert_cmpuint (tpieces, ==, pieces);
      g_assert_cmpuint (tagged->len, ==, plain->len);
      g_assert_cmpuint (pieces, >, 1);
      for (guint k = 0; k < plain->len; k++)
        {
          gsize plen, tlen;
          const guint8 *p = g_bytes_get_data (plain->pdata[k], &plen);
          const guint8 *t = g_bytes_get_data (tagged->pdata[k], &tlen);

          g_assert_cmpuint (tlen, ==, plen + 4);
          g_assert_cmpmem (t, 12, p, 12);
          g_assert_cmpmem (t + 12, 4, tag, 4);
          g_assert_cmpmem (t + 16, tlen - 16, p + 12, plen - 12);
        }
      g_free (f.data);
    }
}

static GBytes *
run_csum (guint8 *frame, gsize len, gsize start, gsize offset, guint segment)
{
  g_autoptr (GPtrArray) out = new_sink ();
  struct virtio_net_hdr hdr = { 0 };
  guint pieces = 12345;
  GBytes *b;

  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
  hdr.csum_start = (guint16) start;
  hdr.csum_offset = (guint16) offset;
  g_assert_cmpint (tap_offload_from_kernel (&hdr, frame, len, segment, collect, out, &pieces), ==,
                   TAP_OFFLOAD_OK);
  g_assert_cmpuint (out->len, ==, 1);
  g_assert_cmpuint (pieces, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (out->pdata[0]), ==, len);
  b = g_bytes_ref (out->pdata[0]);
  return b;
}

/* Checks that OUT is IN but for the two bytes at AT. */
static void
assert_same_but (GBytes *out, const guint8 *in, gsize len, gsize at)
{
  gsize n;
  const guint8 *p = g_bytes_get_data (out, &n);

  g_assert_cmpuint (n, ==, len);
  g_assert_cmpmem (p, at, in, at);
  g_assert_cmpmem (p + at + 2, len - at - 2, in + at + 2, len - at - 2);
}

static void
test_csum_udp4 (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + 40);
  static const gsize lens[] = { 0, 1, 2, 17, 100, 1472, 8000, 65507 };

  for (gsize i = 0; i < G_N_ELEMENTS (lens); i++)
    {
      g_autofree guint8 *payload = g_malloc (MAX (lens[i], 1));
      g_autofree guint8 *orig = NULL;
      g_autoptr (GBytes) out = NULL;
      const guint8 *p;
      Frame f;

      fill_random (rng, payload, lens[i]);
      f = build_udp4 (payload, lens[i]);
      orig = g_memdup2 (f.data, f.len);
      /* As Linux leaves it: the pseudo-header sum, folded. */
      wr16 (f.data + f.l4 + 6, ref_pseudo (4, PROTO_UDP, f.len - f.l4));
      out = run_csum (f.data, f.len, f.l4, 6, 16384);
      p = g_bytes_get_data (out, NULL);
      g_assert_true (ref_l4_ok (p, 4, PROTO_UDP, f.l4, f.len));
      g_assert_cmphex (rd16 (p + f.l4 + 6), !=, 0);
      /* The value the reference computed when building. */
      if (rd16 (orig + f.l4 + 6) != 0)
        g_assert_cmphex (rd16 (p + f.l4 + 6), ==, rd16 (orig + f.l4 + 6));
      assert_same_but (out, orig, f.len, f.l4 + 6);
      g_free (f.data);
    }
}

/* A UDP datagram whose checksum computes to 0 is sent with 0xffff (RFC 768:
 * 0 means no checksum). */
static void
test_csum_udp4_zero (void)
{
  guint8 payload[64] = { 0 };
  g_autoptr (GBytes) out = NULL;
  const guint8 *p;
  guint16 rest;
  Frame f;

  for (gsize i = 0; i < sizeof payload; i++)
    payload[i] = (guint8) (i * 7 + 3);
  /* With the first payload word 0 and the checksum field 0, the sum over
   * pseudo header and datagram is REST; a first word of ~REST makes it
   * 0xffff, so that the checksum, its complement, computes to 0. */
  payload[0] = payload[1] = 0;
  f = build_udp4 (payload, sizeof payload);
  wr16 (f.data + f.l4 + 6, 0);
  rest = ref_sum (f.data + f.l4, f.len - f.l4, ref_pseudo (4, PROTO_UDP, f.len - f.l4));
  wr16 (f.data + f.hl, (guint16) ~rest);
  g_assert_cmphex (ref_sum (f.data + f.l4, f.len - f.l4, ref_pseudo (4, PROTO_UDP, f.len - f.l4)),
                   ==, 0xffff);
  wr16 (f.data + f.l4 + 6, ref_pseudo (4, PROTO_UDP, f.len - f.l4));

  out = run_csum (f.data, f.len, f.l4, 6, 16384);
  p = g_bytes_get_data (out, NULL);
  g_assert_cmphex (rd16 (p + f.l4 + 6), ==, 0xffff);
  g_assert_true (ref_l4_ok (p, 4, PROTO_UDP, f.l4, f.len));
  g_free (f.data);
}

static void
test_csum_tcp6 (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + 60);
  static const gsize lens[] = { 0, 1, 2, 3, 1208, 1428, 9000 };

  for (gsize i = 0; i < G_N_ELEMENTS (lens); i++)
    {
      g_autofree guint8 *payload = g_malloc (MAX (lens[i], 1));
      g_autofree guint8 *orig = NULL;
      g_autoptr (GBytes) out = NULL;
      TcpSpec s = { 0 };
      const guint8 *p;
      Frame f;

      fill_random (rng, payload, lens[i]);
      s.version = 6;
      s.flags = TCP_ACK | TCP_PSH;
      s.seq = g_rand_int (rng);
      s.ack = g_rand_int (rng);
      s.payload = payload;
      s.payload_len = lens[i];
      f = build_tcp (&s);
      orig = g_memdup2 (f.data, f.len);
      wr16 (f.data + f.l4 + 16, ref_pseudo (6, PROTO_TCP, f.len - f.l4));
      out = run_csum (f.data, f.len, f.l4, 16, 16384);
      p = g_bytes_get_data (out, NULL);
      g_assert_true (ref_l4_ok (p, 6, PROTO_TCP, f.l4, f.len));
      assert_same_but (out, orig, f.len, f.l4 + 16);
      g_free (f.data);
    }
}

/* ---- the MSS of SYNs ------------------------------------------------------------ */

/* MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
static const guint8 syn_opt[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12, 0x34,
                                    0, 0, 0, 0, 1, 3, 3, 7 };
/* The same with a NOP first: the MSS at an odd offset. */
static const guint8 syn_opt_odd[20] = { 1, 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0x12,
                                        0x34, 0, 0, 0, 0, 3, 3, 7 };
/* No MSS. */
static const guint8 syn_opt_no_mss[20] = { 4, 2, 8, 10, 0, 0, 0x12, 0x34, 0, 0,
                                           0, 0, 1, 3, 3, 7, 1, 1, 1, 0 };

/* Builds a segment with OPT (20 bytes), runs it through with SEGMENT and
 * returns the frame emitted; *F gets the input, its checksum valid. With
 * CSUM_PARTIAL the input's checksum field holds the pseudo-header sum and
 * NEEDS_CSUM is set. */
static GBytes *
run_syn (guint version, const guint8 *opt, guint8 flags, guint16 mss, gsize mss_at, guint segment,
         gboolean csum_partial, Frame *f)
{
  g_autoptr (GPtrArray) out = new_sink ();
  guint8 payload[3] = { 0xaa, 0xbb, 0xcc };
  g_autofree guint8 *in = NULL;
  struct virtio_net_hdr hdr = { 0 };
  TcpSpec s = { 0 };
  guint pieces = 12345;

  s.version = version;
  s.opt = in = g_memdup2 (opt, 20);
  s.opt_len = 20;
  s.flags = flags;
  s.seq = 0x01020304;
  s.ack = flags & TCP_ACK ? 0x0a0b0c0d : 0;
  s.id = 77;
  s.payload = payload;
  s.payload_len = flags & TCP_SYN ? 0 : sizeof payload;
  if (mss_at > 0)
    wr16 (in + mss_at, mss);
  *f = build_tcp (&s);
  if (csum_partial)
    {
      g_autofree guint8 *copy = g_memdup2 (f->data, f->len);

      hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
      hdr.csum_start = (guint16) f->l4;
      hdr.csum_offset = 16;
      wr16 (copy + f->l4 + 16, ref_pseudo (version, PROTO_TCP, f->len - f->l4));
      g_assert_cmpint (tap_offload_from_kernel (&hdr, copy, f->len, segment, collect, out, &pieces),
                       ==, TAP_OFFLOAD_OK);
    }
  else
    {
      g_autofree guint8 *copy = g_memdup2 (f->data, f->len);

      g_assert_cmpint (tap_offload_from_kernel (&hdr, copy, f->len, segment, collect, out, &pieces),
                       ==, TAP_OFFLOAD_OK);
    }
  g_assert_cmpuint (out->len, ==, 1);
  g_assert_cmpuint (pieces, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (out->pdata[0]), ==, f->len);
  return g_bytes_ref (out->pdata[0]);
}

/* Checks that OUT is F with the MSS at MSS_AT (offset in the options)
 * reading MSS and a checksum that verifies. */
static void
assert_mss (GBytes *out, const Frame *f, guint version, gsize mss_at, guint mss)
{
  const guint8 *p = g_bytes_get_data (out, NULL);
  gsize at = f->l4 + 20 + mss_at;
  g_autofree guint8 *want = g_memdup2 (f->data, f->len);
  g_autofree guint8 *got = g_memdup2 (p, f->len);

  g_assert_cmpuint (rd16 (p + at), ==, mss);
  g_assert_true (ref_l4_ok (p, version, PROTO_TCP, f->l4, f->len));
  wr16 (want + at, mss);
  wr16 (want + f->l4 + 16, 0);
  wr16 (got + f->l4 + 16, 0);
  g_assert_cmpmem (got, f->len, want, f->len);
}

static void
test_mss_raised (void)
{
  for (guint version = 4; version <= 6; version += 2)
    for (int partial = 0; partial < 2; partial++)
      {
        static const guint16 old_mss[] = { 536, 1220, 1440, 1460, 16383 };

        for (gsize i = 0; i < G_N_ELEMENTS (old_mss); i++)
          {
            Frame f;
            g_autoptr (GBytes) out = NULL;
            g_autoptr (GBytes) out_ack = NULL;
            g_autoptr (GBytes) out_odd = NULL;
            g_autoptr (GBytes) out_big = NULL;

            /* SYN, and SYN-ACK. */
            out = run_syn (version, syn_opt, TCP_SYN, old_mss[i], 2, 16384, partial, &f);
            assert_mss (out, &f, version, 2, 16384);
            g_free (f.data);
            out_ack = run_syn (version, syn_opt, TCP_SYN | TCP_ACK, old_mss[i], 2, 16384, partial,
                               &f);
            assert_mss (out_ack, &f, version, 2, 16384);
            g_free (f.data);
            /* The MSS at an odd offset. */
            out_odd = run_syn (version, syn_opt_odd, TCP_SYN, old_mss[i], 3, 16384, partial, &f);
            assert_mss (out_odd, &f, version, 3, 16384);
            g_free (f.data);
            /* The largest segment. */
            out_big = run_syn (version, syn_opt, TCP_SYN, old_mss[i], 2, TAP_OFFLOAD_SEGMENT_MAX,
                               partial, &f);
            assert_mss (out_big, &f, version, 2, TAP_OFFLOAD_SEGMENT_MAX);
            g_free (f.data);
          }
      }
}

/* Frames that must come out exactly as they went in. */
static void
test_mss_unchanged (void)
{
  for (guint version = 4; version <= 6; version += 2)
    {
      struct
      {
        const guint8 *opt;
        guint8 flags;
        guint16 mss;
        gsize mss_at;
      } cases[] = {
        { syn_opt, TCP_SYN, 16384, 2 },          /* as large already */
        { syn_opt, TCP_SYN, 16385, 2 },          /* larger */
        { syn_opt, TCP_SYN, 65000, 2 },
        { syn_opt_odd, TCP_SYN | TCP_ACK, 16384, 3 },
        { syn_opt, TCP_ACK, 1460, 2 },           /* not a SYN */
        { syn_opt, TCP_ACK | TCP_PSH, 536, 2 },
        { syn_opt_no_mss, TCP_SYN, 0, 0 },       /* no MSS option */
      };

      for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          g_autoptr (GBytes) out = NULL;
          Frame f;

          out = run_syn (version, cases[i].opt, cases[i].flags, cases[i].mss, cases[i].mss_at,
                         16384, FALSE, &f);
          g_assert_cmpmem (g_bytes_get_data (out, NULL), f.len, f.data, f.len);
          g_free (f.data);
        }
    }
}

/* ---- malformed input ---------------------------------------------------------- */

static void
assert_result (const struct virtio_net_hdr *hdr, guint8 *frame, gsize len, guint segment,
               TapOffloadResult want)
{
  g_autoptr (GPtrArray) out = new_sink ();
  guint pieces = 12345;

  g_assert_cmpint (tap_offload_from_kernel (hdr, frame, len, segment, collect, out, &pieces), ==,
                   want);
  g_assert_cmpuint (out->len, ==, 0);
  g_assert_cmpuint (pieces, ==, 0);
}

static Frame
gso_frame (guint version, gsize payload_len, struct virtio_net_hdr *hdr)
{
  g_autofree guint8 *payload = g_malloc0 (payload_len);
  TcpSpec s = { 0 };
  Frame f;

  for (gsize i = 0; i < payload_len; i++)
    payload[i] = (guint8) i;
  s.version = version;
  s.flags = TCP_ACK;
  s.seq = 1000;
  s.ack = 2000;
  s.id = 5;
  s.frag = 0x4000;
  s.payload = payload;
  s.payload_len = payload_len;
  f = build_tcp (&s);
  memset (hdr, 0, sizeof *hdr);
  hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr->gso_type = version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6;
  hdr->hdr_len = (guint16) f.hl;
  hdr->gso_size = 1448;
  hdr->csum_start = (guint16) f.l4;
  hdr->csum_offset = 16;
  return f;
}

static void
test_malformed (void)
{
  struct virtio_net_hdr hdr;
  Frame f;

  for (guint version = 4; version <= 6; version += 2)
    {
      /* The frame itself is fine. */
      f = gso_frame (version, 20000, &hdr);
      {
        g_autoptr (GPtrArray) out = new_sink ();
        guint pieces = 0;

        g_assert_cmpint (tap_offload_from_kernel (&hdr, f.data, f.len, 16384, collect, out,
                                                  &pieces), ==, TAP_OFFLOAD_OK);
        g_assert_cmpuint (pieces, ==, 2);
      }
      g_free (f.data);

      /* Truncated: the IP length says more than was read. */
      f = gso_frame (version, 20000, &hdr);
      assert_result (&hdr, f.data, f.len - 1, 16384, TAP_OFFLOAD_MALFORMED);
      assert_result (&hdr, f.data, f.hl, 16384, TAP_OFFLOAD_MALFORMED);
      assert_result (&hdr, f.data, ETH_LEN + 20, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* gso_size 0. */
      f = gso_frame (version, 20000, &hdr);
      hdr.gso_size = 0;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* The other IP version's GSO type. */
      f = gso_frame (version, 20000, &hdr);
      hdr.gso_type = version == 4 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* A TCP data offset below 5 words, and beyond the packet. */
      f = gso_frame (version, 20000, &hdr);
      f.data[f.l4 + 12] = 4 << 4;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      f.data[f.l4 + 12] = 0;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);
      f = gso_frame (version, 10, &hdr);
      f.data[f.l4 + 12] = 15 << 4; /* 60 bytes, 42 there */
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* No payload to split. */
      f = gso_frame (version, 0, &hdr);
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* Not TCP. */
      f = gso_frame (version, 20000, &hdr);
      f.data[ETH_LEN + (version == 4 ? 9 : 6)] = PROTO_UDP;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);

      /* UDP GSO (UFO), and a GSO type this header does not know (UDP_L4). */
      f = gso_frame (version, 20000, &hdr);
      hdr.gso_type = VIRTIO_NET_HDR_GSO_UDP;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_UNSUPPORTED);
      hdr.gso_type = 5;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_UNSUPPORTED);
      g_free (f.data);

      /* A partial checksum whose field lies beyond the frame, or that
       * starts inside the Ethernet header. */
      f = gso_frame (version, 100, &hdr);
      hdr.gso_type = VIRTIO_NET_HDR_GSO_NONE;
      hdr.gso_size = 0;
      hdr.csum_start = (guint16) f.l4;
      hdr.csum_offset = (guint16) (f.len - f.l4 - 1);
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      hdr.csum_offset = 16;
      hdr.csum_start = (guint16) (f.len - 16);
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      hdr.csum_start = (guint16) (f.len + 2);
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      hdr.csum_start = 0xfffe;
      hdr.csum_offset = 0xfffe;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      hdr.csum_start = 4;
      hdr.csum_offset = 16;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      /* The field's last two bytes are the frame's last: accepted. */
      hdr.csum_start = (guint16) f.l4;
      hdr.csum_offset = (guint16) (f.len - f.l4 - 2);
      {
        g_autoptr (GPtrArray) out = new_sink ();
        guint pieces = 0;

        g_assert_cmpint (tap_offload_from_kernel (&hdr, f.data, f.len, 16384, collect, out,
                                                  &pieces), ==, TAP_OFFLOAD_OK);
        g_assert_cmpuint (pieces, ==, 1);
      }
      g_free (f.data);
    }

  /* An IPv4 fragment. */
  f = gso_frame (4, 20000, &hdr);
  wr16 (f.data + ETH_LEN + 6, 0x2000); /* MF */
  assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
  wr16 (f.data + ETH_LEN + 6, 0x0010);  /* offset 128 */
  assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
  g_free (f.data);

  /* IPv4: IHL below 5, a total length shorter than the headers. With
   * IHL 4 the TCP header would start 4 bytes early, where byte 12 is the
   * acknowledgment number's first: 0x50 makes that a plausible data offset,
   * so only the IHL is wrong. */
  for (guint8 ihl = 0; ihl < 5; ihl++)
    {
      f = gso_frame (4, 20000, &hdr);
      f.data[ETH_LEN] = (guint8) (0x40 | ihl);
      f.data[f.l4 + 8] = 0x50;
      assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
      g_free (f.data);
    }
  f = gso_frame (4, 20000, &hdr);
  wr16 (f.data + ETH_LEN + 2, 20 + 19);
  assert_result (&hdr, f.data, f.len, 16384, TAP_OFFLOAD_MALFORMED);
  g_free (f.data);

  /* An ARP frame with a TCP GSO header. */
  {
    guint8 arp[60] = { 0 };

    put_eth (arp, 0x0806);
    f = gso_frame (4, 1, &hdr);
    assert_result (&hdr, arp, sizeof arp, 16384, TAP_OFFLOAD_MALFORMED);
    g_free (f.data);
  }
}

/* ---- tap_offload_to_kernel ---------------------------------------------------- */

static Frame
plain_tcp (guint version, gsize opt_len, gsize payload_len)
{
  static const guint8 opt[40] = { 1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8,
                                  1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
  g_autofree guint8 *payload = g_malloc (MAX (payload_len, 1));
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + (guint32) payload_len);
  TcpSpec s = { 0 };

  fill_random (rng, payload, payload_len);
  s.version = version;
  s.opt = opt;
  s.opt_len = opt_len;
  s.flags = TCP_ACK | TCP_PSH;
  s.seq = 0x11223344;
  s.ack = 0x55667788;
  s.id = 0x4242;
  s.frag = 0x4000;
  s.payload = payload;
  s.payload_len = payload_len;
  return build_tcp (&s);
}

static void
assert_no_gso (const guint8 *frame, gsize len, guint mtu)
{
  struct virtio_net_hdr hdr;
  struct virtio_net_hdr zero;
  guint8 partial[2] = { 0x5a, 0xa5 };

  memset (&hdr, 0xaa, sizeof hdr);
  memset (&zero, 0, sizeof zero);
  g_assert_false (tap_offload_to_kernel (frame, len, mtu, &hdr, partial));
  g_assert_cmpmem (&hdr, sizeof hdr, &zero, sizeof zero);
}

static void
assert_gso (const Frame *f, guint version, guint mtu, guint gso_size)
{
  struct virtio_net_hdr hdr;
  guint8 partial[2] = { 0, 0 };
  guint16 want = ref_pseudo (version, PROTO_TCP, f->len - f->l4);

  memset (&hdr, 0xaa, sizeof hdr);
  g_assert_true (tap_offload_to_kernel (f->data, f->len, mtu, &hdr, partial));
  g_assert_cmphex (hdr.flags, ==, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  g_assert_cmphex (hdr.gso_type, ==,
                   version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
  g_assert_cmpuint (hdr.gso_size, ==, gso_size);
  g_assert_cmpuint (hdr.hdr_len, ==, f->hl);
  g_assert_cmpuint (hdr.csum_start, ==, f->l4);
  g_assert_cmpuint (hdr.csum_offset, ==, 16);
  g_assert_cmphex (rd16 (partial), ==, want);
}

static void
test_to_kernel (void)
{
  Frame f;

  /* The brief's numbers: IPv4, 20 bytes of TCP header, 10,000 of payload. */
  f = plain_tcp (4, 0, 10000);
  {
    struct virtio_net_hdr hdr;
    guint8 partial[2];
    /* Addresses, zero, protocol 6, TCP length 10,020 (0x2724). */
    static const guint8 ph[12] = { 10, 0, 2, 15, 93, 184, 216, 34, 0, 6, 0x27, 0x24 };

    g_assert_true (tap_offload_to_kernel (f.data, f.len, 1500, &hdr, partial));
    g_assert_cmphex (hdr.flags, ==, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    g_assert_cmphex (hdr.gso_type, ==, VIRTIO_NET_HDR_GSO_TCPV4);
    g_assert_cmpuint (hdr.gso_size, ==, 1460);
    g_assert_cmpuint (hdr.hdr_len, ==, 54);
    g_assert_cmpuint (hdr.csum_start, ==, 34);
    g_assert_cmpuint (hdr.csum_offset, ==, 16);
    g_assert_cmphex (rd16 (partial), ==, ref_sum (ph, sizeof ph, 0));
  }
  assert_gso (&f, 4, 9000, 8960);
  assert_gso (&f, 4, 576, 536);
  g_free (f.data);

  /* 32 bytes of TCP header. */
  f = plain_tcp (4, 12, 10000);
  assert_gso (&f, 4, 1500, 1448);
  g_free (f.data);
  f = plain_tcp (4, 40, 30000);
  assert_gso (&f, 4, 1500, 1420);
  g_free (f.data);

  /* IPv6. */
  f = plain_tcp (6, 0, 10000);
  assert_gso (&f, 6, 1500, 1500 - 40 - 20);
  g_free (f.data);
  f = plain_tcp (6, 12, 60000);
  assert_gso (&f, 6, 1500, 1500 - 40 - 32);
  g_free (f.data);

  /* Payload that fits one MTU, by a byte and exactly; then one more. */
  f = plain_tcp (4, 0, 1459);
  assert_no_gso (f.data, f.len, 1500);
  g_free (f.data);
  f = plain_tcp (4, 0, 1460);
  assert_no_gso (f.data, f.len, 1500);
  g_free (f.data);
  f = plain_tcp (4, 0, 1461);
  assert_gso (&f, 4, 1500, 1460);
  g_free (f.data);
  f = plain_tcp (6, 12, 1428);
  assert_no_gso (f.data, f.len, 1500);
  g_free (f.data);
  f = plain_tcp (6, 12, 1429);
  assert_gso (&f, 6, 1500, 1428);
  g_free (f.data);
  f = plain_tcp (4, 0, 0);
  assert_no_gso (f.data, f.len, 1500);
  g_free (f.data);

  /* UDP. */
  {
    g_autofree guint8 *payload = g_malloc0 (8000);

    f = build_udp4 (payload, 8000);
    assert_no_gso (f.data, f.len, 1500);
    g_free (f.data);
  }

  /* ARP (a request, padded to 60 bytes, and unpadded). */
  {
    guint8 arp[60] = { 0 };
    static const guint8 body[28] = { 0, 1, 8, 0, 6, 4, 0, 1, 0x52, 0x54, 0, 0x12, 0x34, 0x56,
                                     10, 0, 2, 15, 0, 0, 0, 0, 0, 0, 10, 0, 2, 2 };

    put_eth (arp, 0x0806);
    memcpy (arp + ETH_LEN, body, sizeof body);
    assert_no_gso (arp, sizeof arp, 1500);
    assert_no_gso (arp, 42, 1500);
    assert_no_gso (arp, 42, 68);
  }

  /* An IPv4 fragment of a large TCP segment: first (MF) and a later one. */
  f = plain_tcp (4, 0, 10000);
  wr16 (f.data + ETH_LEN + 6, 0x2000);
  assert_no_gso (f.data, f.len, 1500);
  wr16 (f.data + ETH_LEN + 6, 0x00b9);
  assert_no_gso (f.data, f.len, 1500);
  g_free (f.data);

  /* A frame cut short of its IP length, and an MTU no larger than the
   * headers. */
  f = plain_tcp (4, 0, 10000);
  assert_no_gso (f.data, f.len - 1, 1500);
  assert_no_gso (f.data, f.len, 40);
  assert_no_gso (f.data, f.len, 20);
  g_free (f.data);
}

/* What tap_offload_to_kernel produces, read back as the kernel would hand
 * over such a segment: valid pieces. */
static void
test_round_trip (void)
{
  for (guint version = 4; version <= 6; version += 2)
    {
      Frame f = plain_tcp (version, 12, 50000);
      g_autofree guint8 *orig = g_memdup2 (f.data, f.len);
      g_autoptr (GPtrArray) out = new_sink ();
      struct virtio_net_hdr hdr;
      guint8 partial[2];
      guint pieces = 0;
      gsize off = 0;

      g_assert_true (tap_offload_to_kernel (f.data, f.len, 1500, &hdr, partial));
      memcpy (f.data + hdr.csum_start + hdr.csum_offset, partial, 2);
      g_assert_cmpint (tap_offload_from_kernel (&hdr, f.data, f.len, hdr.gso_size, collect, out,
                                                &pieces), ==, TAP_OFFLOAD_OK);
      g_assert_cmpuint (pieces, ==, (50000 + hdr.gso_size - 1) / hdr.gso_size);
      g_assert_cmpuint (out->len, ==, pieces);
      for (guint k = 0; k < out->len; k++)
        {
          gsize len;
          const guint8 *p = g_bytes_get_data (out->pdata[k], &len);

          g_assert_cmpuint (len - f.hl, ==, MIN (hdr.gso_size, 50000 - off));
          /* No larger than the MTU. */
          g_assert_cmpuint (len - ETH_LEN, <=, 1500);
          g_assert_true (ref_l4_ok (p, version, PROTO_TCP, f.l4, len));
          if (version == 4)
            g_assert_cmphex (ref_sum (p + ETH_LEN, 20, 0), ==, 0xffff);
          g_assert_cmpmem (p + f.hl, len - f.hl, orig + f.hl + off, len - f.hl);
          off += len - f.hl;
        }
      g_free (f.data);
    }
}

/* ---- merging ------------------------------------------------------------------ */

/* What the tap plugin does with a burst: takes it with a partial checksum
 * and fills the virtio-net header for a device of MTU. */
static const guint8 *
take (AeroTcpMerge *m, guint mtu, struct virtio_net_hdr *hdr, gsize *len, guint *segments)
{
  AeroTcpMergeInfo info;
  guint8 *frame = aero_tcp_merge_take (m, AERO_TCP_MERGE_CHECKSUM_PARTIAL, &info, len);

  *segments = info.segments;
  memset (hdr, 0, sizeof *hdr);
  if (frame)
    tap_offload_merged_to_kernel (frame, *len, &info, mtu, hdr);
  return frame;
}

/* Segment K of a run of payload SEG bytes long, starting at sequence
 * 0x10000000, with IPv4 id 0x3000 + K, as libslirp or Linux send them. */
static Frame
run_segment (guint version, const guint8 *payload, gsize seg, guint k, guint8 flags)
{
  TcpSpec s = { 0 };

  s.version = version;
  s.flags = flags;
  s.seq = 0x10000000 + (guint32) (k * seg);
  s.ack = 0x20000000;
  s.id = (guint16) (0x3000 + k);
  s.frag = 0x4000;
  s.payload = payload + k * seg;
  s.payload_len = seg;
  return build_tcp (&s);
}

static void
test_merge_run (void)
{
  for (guint version = 4; version <= 6; version += 2)
    {
      const gsize seg = 1448;
      const guint n = 50;
      g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + version);
      g_autofree guint8 *payload = g_malloc (seg * n);
      Frame f[50];
      g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
      struct virtio_net_hdr hdr;
      const guint8 *out;
      g_autofree guint8 *copy = NULL;
      gsize len, hl, l4;
      guint segments, taken = 0, pieces = 0;
      g_autoptr (GPtrArray) split = new_sink ();
      /* 65,535 bytes of IP packet: headers of 40 or 60 + 32 bytes. */
      guint fit = (guint) ((65535 - (version == 4 ? 20 : 40) - 32) / seg);

      fill_random (rng, payload, seg * n);
      for (guint k = 0; k < n; k++)
        f[k] = run_segment (version, payload, seg, k, TCP_ACK);
      l4 = f[0].l4;
      hl = f[0].hl;
      g_assert_null (take (m, 1500, &hdr, &len, &segments));
      for (guint k = 0; k < n; k++)
        {
          AeroTcpMergeResult r = aero_tcp_merge_add (m, f[k].data, f[k].len);

          if (r == AERO_TCP_MERGE_FLUSH)
            break;
          g_assert_cmpint (r, ==, AERO_TCP_MERGE_TAKEN);
          g_assert_false (aero_tcp_merge_sealed (m));
          taken++;
        }
      g_assert_cmpuint (taken, ==, fit);
      /* An MTU that takes the segments whole: 1500 for IPv4 (52 bytes of
       * headers), more for IPv6 (72). */
      out = take (m, version == 4 ? 1500 : 9000, &hdr, &len, &segments);
      g_assert_nonnull (out);
      g_assert_cmpuint (segments, ==, fit);
      g_assert_cmpuint (len, ==, hl + fit * seg);
      copy = g_memdup2 (out, len);
      {
        struct virtio_net_hdr again;
        gsize again_len;

        g_assert_null (take (m, 1500, &again, &again_len, &segments));
      }

      /* The headers of the first segment, but for the lengths and checksums. */
      g_assert_cmpmem (copy, ETH_LEN, f[0].data, ETH_LEN);
      if (version == 4)
        {
          g_assert_cmpuint (rd16 (copy + ETH_LEN + 2), ==, len - ETH_LEN);
          g_assert_cmphex (rd16 (copy + ETH_LEN + 4), ==, 0x3000);
          g_assert_cmphex (ref_sum (copy + ETH_LEN, 20, 0), ==, 0xffff);
          g_assert_cmphex (hdr.gso_type, ==, VIRTIO_NET_HDR_GSO_TCPV4);
        }
      else
        {
          g_assert_cmpuint (rd16 (copy + ETH_LEN + 4), ==, len - ETH_LEN - 40);
          g_assert_cmpmem (copy + ETH_LEN + 6, 34, f[0].data + ETH_LEN + 6, 34);
          g_assert_cmphex (hdr.gso_type, ==, VIRTIO_NET_HDR_GSO_TCPV6);
        }
      g_assert_cmpmem (copy + l4, 16, f[0].data + l4, 16);
      g_assert_cmpmem (copy + l4 + 18, hl - l4 - 18, f[0].data + l4 + 18, hl - l4 - 18);
      g_assert_cmphex (hdr.flags, ==, VIRTIO_NET_HDR_F_NEEDS_CSUM);
      g_assert_cmpuint (hdr.gso_size, ==, seg);
      g_assert_cmpuint (hdr.hdr_len, ==, hl);
      g_assert_cmpuint (hdr.csum_start, ==, l4);
      g_assert_cmpuint (hdr.csum_offset, ==, 16);
      g_assert_cmphex (rd16 (copy + l4 + 16), ==, ref_pseudo (version, PROTO_TCP, len - l4));
      g_assert_cmpmem (copy + hl, fit * seg, payload, fit * seg);
      {
        /* Completed as the kernel would, the checksum verifies. */
        g_autofree guint8 *done = g_memdup2 (copy, len);

        wr16 (done + l4 + 16, (guint16) ~ref_sum (done + l4, len - l4, 0));
        g_assert_true (ref_l4_ok (done, version, PROTO_TCP, l4, len));
      }

      /* Split again at the same size: the very frames that went in. */
      g_assert_cmpint (tap_offload_from_kernel (&hdr, copy, len, (guint) seg, collect, split,
                                                &pieces), ==, TAP_OFFLOAD_OK);
      g_assert_cmpuint (pieces, ==, fit);
      for (guint k = 0; k < fit; k++)
        {
          gsize plen;
          const guint8 *p = g_bytes_get_data (split->pdata[k], &plen);

          g_assert_cmpmem (p, plen, f[k].data, f[k].len);
        }

      /* The frame that did not fit starts the next burst, and the run
       * ends with a PSH, which seals it. */
      for (guint k = fit; k < n - 1; k++)
        g_assert_cmpint (aero_tcp_merge_add (m, f[k].data, f[k].len), ==, AERO_TCP_MERGE_TAKEN);
      g_free (f[n - 1].data);
      f[n - 1] = run_segment (version, payload, seg, n - 1, TCP_ACK | TCP_PSH);
      g_assert_cmpint (aero_tcp_merge_add (m, f[n - 1].data, f[n - 1].len), ==,
                       AERO_TCP_MERGE_TAKEN);
      g_assert_true (aero_tcp_merge_sealed (m));
      g_assert_cmpint (aero_tcp_merge_add (m, f[0].data, f[0].len), ==, AERO_TCP_MERGE_FLUSH);
      out = take (m, 1500, &hdr, &len, &segments);
      g_assert_cmpuint (segments, ==, n - fit);
      g_assert_cmpuint (len, ==, hl + (n - fit) * seg);
      g_assert_cmphex (out[l4 + 13], ==, TCP_ACK | TCP_PSH);
      g_assert_cmpuint (rd32 (out + l4 + 4), ==, 0x10000000 + fit * seg);
      g_assert_cmpmem (out + hl, (n - fit) * seg, payload + fit * seg, (n - fit) * seg);

      for (guint k = 0; k < n; k++)
        g_free (f[k].data);
    }
}

/* A burst of one segment goes as it came, with an empty header; a shorter
 * segment ends a burst; the payload may not grow; pieces fit the MTU. */
static void
test_merge_short (void)
{
  guint8 payload[4000];
  struct virtio_net_hdr hdr, zero;
  g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
  Frame a, b, c;
  const guint8 *out;
  gsize len;
  guint segments;

  memset (payload, 0x5c, sizeof payload);
  memset (&zero, 0, sizeof zero);
  a = run_segment (4, payload, 1000, 0, TCP_ACK);
  g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
  out = take (m, 1500, &hdr, &len, &segments);
  g_assert_cmpuint (segments, ==, 1);
  g_assert_cmpmem (out, len, a.data, a.len);
  g_assert_cmpmem (&hdr, sizeof hdr, &zero, sizeof zero);

  /* 1000, then 600 (seq 1000): sealed. */
  {
    TcpSpec s = { 0 };

    s.version = 4;
    s.flags = TCP_ACK;
    s.seq = 0x10000000 + 1000;
    s.ack = 0x20000000;
    s.id = 0x3001;
    s.frag = 0x4000;
    s.payload = payload;
    s.payload_len = 600;
    b = build_tcp (&s);
    s.payload_len = 1200;
    c = build_tcp (&s);
  }
  g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
  g_assert_cmpint (aero_tcp_merge_add (m, c.data, c.len), ==, AERO_TCP_MERGE_FLUSH);
  g_assert_cmpint (aero_tcp_merge_add (m, b.data, b.len), ==, AERO_TCP_MERGE_TAKEN);
  g_assert_true (aero_tcp_merge_sealed (m));
  out = take (m, 1500, &hdr, &len, &segments);
  g_assert_cmpuint (segments, ==, 2);
  g_assert_cmpuint (len, ==, a.hl + 1600);
  g_assert_cmpuint (hdr.gso_size, ==, 1000);
  g_free (a.data);
  g_free (b.data);
  g_free (c.data);

  /* Segments larger than fit the device's MTU (IPv6, 1448 bytes; 1428 fit
   * in 1500): the kernel is asked for pieces that fit. */
  a = run_segment (6, payload, 1448, 0, TCP_ACK);
  b = run_segment (6, payload, 1448, 1, TCP_ACK);
  g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
  g_assert_cmpint (aero_tcp_merge_add (m, b.data, b.len), ==, AERO_TCP_MERGE_TAKEN);
  out = take (m, 1500, &hdr, &len, &segments);
  g_assert_cmpuint (segments, ==, 2);
  g_assert_cmpuint (hdr.gso_size, ==, 1428);
  g_free (a.data);
  g_free (b.data);

  /* A burst of one segment larger than the MTU (from a stack with
   * offload): what tap_offload_to_kernel makes of it, the partial sum in
   * the frame. */
  a = run_segment (4, payload, 3000, 0, TCP_ACK);
  g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
  out = take (m, 1500, &hdr, &len, &segments);
  g_assert_cmpuint (segments, ==, 1);
  g_assert_cmpuint (len, ==, a.len);
  g_assert_cmphex (hdr.gso_type, ==, VIRTIO_NET_HDR_GSO_TCPV4);
  g_assert_cmpuint (hdr.gso_size, ==, 1448);
  g_assert_cmphex (rd16 (out + a.l4 + 16), ==, ref_pseudo (4, PROTO_TCP, a.len - a.l4));
  g_assert_cmpmem (out, a.l4 + 16, a.data, a.l4 + 16);
  g_assert_cmpmem (out + a.l4 + 18, a.len - a.l4 - 18, a.data + a.l4 + 18, a.len - a.l4 - 18);
  g_free (a.data);
}

typedef void (*Mutate) (Frame *f);

static void mut_port (Frame *f) { f->data[f->l4 + 1] ^= 1; }
static void mut_seq (Frame *f) { wr32 (f->data + f->l4 + 4, rd32 (f->data + f->l4 + 4) + 1); }
static void mut_ack (Frame *f) { wr32 (f->data + f->l4 + 8, rd32 (f->data + f->l4 + 8) + 1); }
static void mut_window (Frame *f) { f->data[f->l4 + 15] ^= 1; }
static void mut_tsval (Frame *f) { f->data[f->l4 + 20 + 7] ^= 1; }
static void mut_tos (Frame *f) { f->data[ETH_LEN + 1] ^= 0x03; }
static void mut_ttl (Frame *f) { f->data[ETH_LEN + 8]--; }
static void mut_df (Frame *f) { f->data[ETH_LEN + 6] ^= 0x40; }
static void mut_src (Frame *f) { f->data[ETH_LEN + 15] ^= 1; }
static void mut_mac (Frame *f) { f->data[3] ^= 1; }

/* The next segment of a run with one header field changed (checksums made
 * right again): the burst must be written first. */
static void
test_merge_flush (void)
{
  static const struct { const char *what; Mutate mutate; } cases[] = {
    { "port", mut_port },     { "sequence", mut_seq }, { "ack", mut_ack },
    { "window", mut_window }, { "timestamp", mut_tsval }, { "tos", mut_tos },
    { "ttl", mut_ttl },       { "DF", mut_df },        { "address", mut_src },
    { "MAC", mut_mac },
  };
  guint8 payload[3000];

  memset (payload, 0xa7, sizeof payload);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
      Frame a = run_segment (4, payload, 1000, 0, TCP_ACK);
      Frame b = run_segment (4, payload, 1000, 1, TCP_ACK);
      Frame c = run_segment (4, payload, 1000, 1, TCP_ACK);

      g_test_message ("%s", cases[i].what);
      cases[i].mutate (&b);
      wr16 (b.data + ETH_LEN + 10, 0);
      wr16 (b.data + ETH_LEN + 10, (guint16) ~ref_sum (b.data + ETH_LEN, 20, 0));
      fix_tcp_checksum (&b, 4);
      g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
      g_assert_cmpint (aero_tcp_merge_add (m, b.data, b.len), ==, AERO_TCP_MERGE_FLUSH);
      /* Unchanged, it would have joined. */
      g_assert_cmpint (aero_tcp_merge_add (m, c.data, c.len), ==, AERO_TCP_MERGE_TAKEN);
      g_free (a.data);
      g_free (b.data);
      g_free (c.data);
    }

  /* IPv6 after IPv4. */
  {
    g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
    Frame a = run_segment (4, payload, 1000, 0, TCP_ACK);
    Frame b = run_segment (6, payload, 1000, 1, TCP_ACK);

    g_assert_cmpint (aero_tcp_merge_add (m, a.data, a.len), ==, AERO_TCP_MERGE_TAKEN);
    g_assert_cmpint (aero_tcp_merge_add (m, b.data, b.len), ==, AERO_TCP_MERGE_FLUSH);
    g_free (a.data);
    g_free (b.data);
  }
}

/* Frames that are never merged, first or following. */
static void
test_merge_refused (void)
{
  static const guint8 flag_cases[] = {
    TCP_ACK | TCP_SYN, TCP_ACK | TCP_FIN, TCP_ACK | 0x04 /* RST */, TCP_ACK | 0x20 /* URG */,
    TCP_ACK | TCP_ECE, TCP_ACK | TCP_CWR,  0 /* no ACK */,
  };
  guint8 payload[3000];
  g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
  Frame first, f;
  struct virtio_net_hdr hdr;
  gsize len;
  guint segments;

  memset (payload, 0x3e, sizeof payload);
  first = run_segment (4, payload, 1000, 0, TCP_ACK);
  for (int following = 0; following < 2; following++)
    {
      if (following)
        g_assert_cmpint (aero_tcp_merge_add (m, first.data, first.len), ==, AERO_TCP_MERGE_TAKEN);

      for (gsize i = 0; i < G_N_ELEMENTS (flag_cases); i++)
        {
          f = run_segment (4, payload, 1000, (guint) following, flag_cases[i]);
          g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
          g_free (f.data);
        }
      /* No payload. */
      {
        TcpSpec s = { 0 };

        s.version = 4;
        s.flags = TCP_ACK;
        s.seq = 0x10000000 + (guint32) (following * 1000);
        s.ack = 0x20000000;
        s.frag = 0x4000;
        f = build_tcp (&s);
        g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
        g_free (f.data);
      }
      /* An urgent pointer without URG. */
      f = run_segment (4, payload, 1000, (guint) following, TCP_ACK);
      wr16 (f.data + f.l4 + 18, 1);
      fix_tcp_checksum (&f, 4);
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
      /* A bad TCP checksum, a bad IPv4 header checksum. */
      f = run_segment (4, payload, 1000, (guint) following, TCP_ACK);
      f.data[f.hl + 10] ^= 0x40;
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
      f = run_segment (4, payload, 1000, (guint) following, TCP_ACK);
      f.data[ETH_LEN + 10] ^= 0x01;
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
      /* Padding after the IP packet. */
      f = run_segment (4, payload, 1000, (guint) following, TCP_ACK);
      f.data = g_realloc (f.data, f.len + 6);
      memset (f.data + f.len, 0, 6);
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len + 6), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
      /* A fragment (MF). */
      f = run_segment (4, payload, 1000, (guint) following, TCP_ACK);
      wr16 (f.data + ETH_LEN + 6, 0x2000);
      wr16 (f.data + ETH_LEN + 10, 0);
      wr16 (f.data + ETH_LEN + 10, (guint16) ~ref_sum (f.data + ETH_LEN, 20, 0));
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
      /* UDP. */
      f = build_udp4 (payload, 1000);
      g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
      g_free (f.data);
    }
  /* What was pending is still there, whole. */
  g_assert_nonnull (take (m, 1500, &hdr, &len, &segments));
  g_assert_cmpuint (segments, ==, 1);

  /* A PSH with nothing pending: nothing can follow it. */
  f = run_segment (4, payload, 1000, 0, TCP_ACK | TCP_PSH);
  g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
  g_assert_null (take (m, 1500, &hdr, &len, &segments));
  g_free (f.data);
  /* IPv6 for a burst that merges IPv4 only. */
  {
    g_autoptr (AeroTcpMerge) v4 = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4);

    f = run_segment (6, payload, 1000, 0, TCP_ACK);
    g_assert_cmpint (aero_tcp_merge_add (v4, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
    g_free (f.data);
    f = run_segment (4, payload, 1000, 0, TCP_ACK);
    g_assert_cmpint (aero_tcp_merge_add (v4, f.data, f.len), ==, AERO_TCP_MERGE_TAKEN);
    g_free (f.data);
  }
  /* A segment too large for a second one as large to fit (jumbo frames):
   * 32,741 bytes of payload fit twice in 65,535 bytes of IP packet with 52
   * bytes of headers, 32,742 do not. */
  {
    g_autofree guint8 *big = g_malloc0 (32742);

    f = run_segment (4, big, 32742, 0, TCP_ACK);
    g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_REFUSED);
    g_free (f.data);
    f = run_segment (4, big, 32741, 0, TCP_ACK);
    g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_TAKEN);
    g_assert_nonnull (take (m, 1500, &hdr, &len, &segments));
    g_free (f.data);
  }
  /* ARP. */
  {
    guint8 arp[60] = { 0 };

    put_eth (arp, 0x0806);
    g_assert_cmpint (aero_tcp_merge_add (m, arp, sizeof arp), ==, AERO_TCP_MERGE_REFUSED);
  }
  g_free (first.data);
}

/* A burst taken with a complete checksum (what stack-slirp hands
 * libslirp, which verifies it): valid, whatever the parity of the
 * segment size, which makes every other payload start at an odd offset. */
static void
test_merge_full_checksum (void)
{
  static const gsize sizes[] = { 1448, 1447, 1, 3 };

  for (guint version = 4; version <= 6; version += 2)
    for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        const guint n = 7;
        gsize seg = sizes[i];
        g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + (guint32) seg);
        g_autofree guint8 *payload = g_malloc (seg * n);
        g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
        AeroTcpMergeInfo info;
        Frame f = { 0 };
        guint8 *out;
        gsize len;

        fill_random (rng, payload, seg * n);
        for (guint k = 0; k < n; k++)
          {
            g_free (f.data);
            f = run_segment (version, payload, seg, k, TCP_ACK);
            g_assert_cmpint (aero_tcp_merge_add (m, f.data, f.len), ==, AERO_TCP_MERGE_TAKEN);
          }
        out = aero_tcp_merge_take (m, AERO_TCP_MERGE_CHECKSUM_FULL, &info, &len);
        g_assert_nonnull (out);
        g_assert_cmpuint (info.segments, ==, n);
        g_assert_cmpuint (info.segment_size, ==, seg);
        g_assert_cmpuint (len, ==, f.hl + n * seg);
        g_assert_cmpmem (out + f.hl, n * seg, payload, n * seg);
        g_assert_true (ref_l4_ok (out, version, PROTO_TCP, f.l4, len));
        if (version == 4)
          g_assert_cmphex (ref_sum (out + ETH_LEN, 20, 0), ==, 0xffff);
        g_free (f.data);
      }
}

/* aero_tcp_merge_offer() hands on what it must, when it must: a burst a
 * frame cannot join (before the frame goes in), a burst before a refused
 * frame, a sealed burst; and what it hands on adds up to the frames that
 * went in. */
typedef struct
{
  AeroTcpMerge *m;
  guint flushes;
  guint segments;
  gsize frame_bytes;
} Offered;

static void
offered_flush (gpointer data)
{
  Offered *o = data;
  AeroTcpMergeInfo info;
  gsize len;

  g_assert_nonnull (aero_tcp_merge_take (o->m, AERO_TCP_MERGE_CHECKSUM_FULL, &info, &len));
  o->flushes++;
  o->segments += info.segments;
  o->frame_bytes += info.frame_bytes;
}

static void
test_merge_offer (void)
{
  guint8 payload[10000];
  g_autoptr (AeroTcpMerge) m = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
  Offered o = { m, 0, 0, 0 };
  Frame f[6], other, syn;
  gsize sent = 0;

  memset (payload, 0x6b, sizeof payload);
  for (guint k = 0; k < 6; k++)
    f[k] = run_segment (4, payload, 1000, k, k == 5 ? TCP_ACK | TCP_PSH : TCP_ACK);
  other = run_segment (6, payload, 1000, 0, TCP_ACK);
  syn = run_segment (4, payload, 1000, 9, TCP_ACK | TCP_SYN);

  /* Two taken, nothing handed on. */
  for (guint k = 0; k < 2; k++)
    {
      g_assert_true (aero_tcp_merge_offer (m, f[k].data, f[k].len, offered_flush, &o));
      sent += f[k].len;
    }
  g_assert_cmpuint (o.flushes, ==, 0);
  g_assert_true (aero_tcp_merge_pending (m));
  /* Another flow: the two go first, then it is pending alone. */
  g_assert_true (aero_tcp_merge_offer (m, other.data, other.len, offered_flush, &o));
  g_assert_cmpuint (o.flushes, ==, 1);
  g_assert_cmpuint (o.segments, ==, 2);
  g_assert_cmpuint (o.frame_bytes, ==, sent);
  /* A refused frame: the pending one goes first, the frame is the caller's. */
  g_assert_false (aero_tcp_merge_offer (m, syn.data, syn.len, offered_flush, &o));
  g_assert_cmpuint (o.flushes, ==, 2);
  g_assert_false (aero_tcp_merge_pending (m));
  /* Refused with nothing pending: nothing to hand on. */
  g_assert_false (aero_tcp_merge_offer (m, syn.data, syn.len, offered_flush, &o));
  g_assert_cmpuint (o.flushes, ==, 2);
  /* The rest of the run, sealed by its PSH: handed on at once. */
  for (guint k = 2; k < 6; k++)
    g_assert_true (aero_tcp_merge_offer (m, f[k].data, f[k].len, offered_flush, &o));
  g_assert_cmpuint (o.flushes, ==, 3);
  g_assert_cmpuint (o.segments, ==, 2 + 1 + 4);
  g_assert_false (aero_tcp_merge_pending (m));
  for (guint k = 0; k < 6; k++)
    g_free (f[k].data);
  g_free (other.data);
  g_free (syn.data);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tap/offload/sum", test_sum_reference);
  g_test_add_func ("/tap/offload/gso/ipv4", test_gso_ipv4);
  g_test_add_func ("/tap/offload/gso/ipv4-options", test_gso_ipv4_options);
  g_test_add_func ("/tap/offload/gso/ipv6", test_gso_ipv6);
  g_test_add_func ("/tap/offload/gso/vlan", test_gso_vlan);
  g_test_add_func ("/tap/offload/csum/udp4", test_csum_udp4);
  g_test_add_func ("/tap/offload/csum/udp4-zero", test_csum_udp4_zero);
  g_test_add_func ("/tap/offload/csum/tcp6", test_csum_tcp6);
  g_test_add_func ("/tap/offload/mss/raised", test_mss_raised);
  g_test_add_func ("/tap/offload/mss/unchanged", test_mss_unchanged);
  g_test_add_func ("/tap/offload/malformed", test_malformed);
  g_test_add_func ("/tap/offload/to-kernel", test_to_kernel);
  g_test_add_func ("/tap/offload/round-trip", test_round_trip);
  g_test_add_func ("/tap/merge/run", test_merge_run);
  g_test_add_func ("/tap/merge/short", test_merge_short);
  g_test_add_func ("/tap/merge/flush", test_merge_flush);
  g_test_add_func ("/tap/merge/refused", test_merge_refused);
  g_test_add_func ("/tap/merge/full-checksum", test_merge_full_checksum);
  g_test_add_func ("/tap/merge/offer", test_merge_offer);
  return g_test_run ();
}
