/* test-checksum.c — aero_inet_sum, aero_inet_pseudo_sum and
 * aero_inet_checksum against a deliberately plain RFC 1071 sum written
 * here (16-bit big-endian words taken byte by byte into a 32-bit
 * accumulator, an odd tail padded with zero, folded at the end):
 *   - random buffers of every length 0..1500 and larger ones up to 65,535
 *     bytes, at every alignment 0..7, with random and edge initial sums,
 *     and all-0x00 and all-0xff data;
 *   - the example of RFC 1071 section 3;
 *   - sums of consecutive pieces chain into the sum of the whole;
 *   - the IPv4 and IPv6 pseudo-header sums equal the sum of pseudo-headers
 *     built here byte by byte;
 *   - a real IPv4 header and a real UDP/IPv4 datagram (a DNS query, of odd
 *     length) verify, and their checksums come out as sent.
 * Random data comes from a GRand with a fixed seed, so runs repeat. */
#include <aero-net/aero-net.h>

#include <string.h>

#define SEED 0x5eed1071
#define ALIGNMENTS 8
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58

/* RFC 1071: INITIAL plus every 16-bit big-endian word in a 32-bit
 * accumulator, the carries folded back in at the end. LEN is at most
 * 65,535, so the accumulator cannot overflow. */
static guint16
ref_sum (const guint8 *data, gsize len, guint16 initial)
{
  guint32 sum = initial;

  g_assert_cmpuint (len, <=, 65535);
  for (gsize i = 0; i < len; i += 2)
    {
      guint32 word = (guint32) data[i] << 8;

      if (i + 1 < len)
        word |= data[i + 1];
      sum += word;
    }
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) sum;
}

static void
fill_random (GRand *rng, guint8 *p, gsize len)
{
  for (gsize i = 0; i < len; i++)
    p[i] = (guint8) g_rand_int_range (rng, 0, 256);
}

static guint16
random_initial (GRand *rng)
{
  return (guint16) g_rand_int_range (rng, 0, 0x10000);
}

static void
check_sum (const guint8 *data, gsize len, guint16 initial)
{
  guint16 want = ref_sum (data, len, initial);
  guint16 got = aero_inet_sum (data, len, initial);

  if (got != want)
    g_test_message ("len %" G_GSIZE_FORMAT ", alignment %u, initial 0x%04x", len,
                    (guint) (GPOINTER_TO_SIZE (data) % ALIGNMENTS), initial);
  g_assert_cmphex (got, ==, want);
  g_assert_cmphex (aero_inet_checksum (data, len, initial), ==, (guint16) ~want);
}

static void
test_rfc1071_example (void)
{
  static const guint8 example[8] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
  static const guint8 odd[3] = { 0x12, 0x34, 0x56 };

  g_assert_cmphex (ref_sum (example, 8, 0), ==, 0xddf2);
  g_assert_cmphex (aero_inet_sum (example, 8, 0), ==, 0xddf2);
  g_assert_cmphex (aero_inet_checksum (example, 8, 0), ==, 0x220d);
  g_assert_cmphex (ref_sum (odd, 3, 0), ==, 0x1234 + 0x5600);
  g_assert_cmphex (aero_inet_sum (odd, 3, 0), ==, 0x6834);
  g_assert_cmphex (aero_inet_sum (NULL, 0, 0), ==, 0);
  g_assert_cmphex (aero_inet_sum (NULL, 0, 0x1234), ==, 0x1234);
}

static void
test_random (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED);
  static const guint16 edges[] = { 0, 1, 0x8000, 0xfffe, 0xffff };
  static const gsize large[] = { 1501, 2047, 4096, 9000, 16385, 32768, 65534, 65535 };
  gsize size = 65535 + ALIGNMENTS;
  g_autofree guint8 *buf = g_malloc (size);

  /* Every length 0..1500 at every alignment, with a random initial sum and
   * every edge one. */
  for (gsize len = 0; len <= 1500; len++)
    for (gsize align = 0; align < ALIGNMENTS; align++)
      {
        fill_random (rng, buf, len + align);
        check_sum (buf + align, len, random_initial (rng));
        for (gsize k = 0; k < G_N_ELEMENTS (edges); k++)
          check_sum (buf + align, len, edges[k]);
      }

  /* Larger buffers, up to 65,535 bytes. */
  for (gsize i = 0; i < G_N_ELEMENTS (large); i++)
    for (gsize align = 0; align < ALIGNMENTS; align++)
      {
        fill_random (rng, buf, large[i] + align);
        check_sum (buf + align, large[i], random_initial (rng));
        check_sum (buf + align, large[i], 0xffff);
      }

  /* All-0xff data, where the carries pile up, and all-zero data, the one
   * case whose sum is 0 rather than 0xffff. */
  for (gsize i = 0; i < G_N_ELEMENTS (large); i++)
    for (gsize align = 0; align < ALIGNMENTS; align++)
      {
        memset (buf, 0xff, size);
        check_sum (buf + align, large[i], 0);
        check_sum (buf + align, large[i], 0xffff);
        memset (buf, 0, size);
        check_sum (buf + align, large[i], 0);
        check_sum (buf + align, large[i], random_initial (rng));
      }
  memset (buf, 0, size);
  g_assert_cmphex (aero_inet_sum (buf, 65535, 0), ==, 0);
  memset (buf, 0xff, size);
  g_assert_cmphex (aero_inet_sum (buf + 1, 65534, 0), ==, 0xffff);
}

static void
test_chain (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + 1);
  guint8 buf[1500 + ALIGNMENTS];

  for (guint round = 0; round < 20; round++)
    {
      gsize len = (gsize) g_rand_int_range (rng, 0, 1501);
      gsize align = (gsize) g_rand_int_range (rng, 0, ALIGNMENTS);
      guint8 *data = buf + align;
      guint16 initial = round < 2 ? 0 : random_initial (rng);
      guint16 whole;

      fill_random (rng, buf, len + align);
      if (round == 1)
        memset (data, 0, len);
      whole = aero_inet_sum (data, len, initial);
      g_assert_cmphex (whole, ==, ref_sum (data, len, initial));
      for (gsize cut = 0; cut <= len; cut += 2)
        {
          guint16 first = aero_inet_sum (data, cut, initial);

          g_assert_cmphex (aero_inet_sum (data + cut, len - cut, first), ==, whole);
        }
      /* Three pieces: an even one, an even one, the rest. */
      for (gsize cut = 0; cut + 6 <= len; cut += 6)
        {
          guint16 sum = aero_inet_sum (data, cut, initial);

          sum = aero_inet_sum (data + cut, 4, sum);
          g_assert_cmphex (aero_inet_sum (data + cut + 4, len - cut - 4, sum), ==, whole);
        }
    }
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
  wr16 (p, v >> 16);
  wr16 (p + 2, v & 0xffff);
}

/* The addresses of round @round: all zero, all ones, then random. */
static void
pick_addresses (GRand *rng, guint round, guint8 *src, guint8 *dst, gsize len)
{
  if (round < 2)
    {
      memset (src, round == 0 ? 0 : 0xff, len);
      memset (dst, round == 0 ? 0 : 0xff, len);
      return;
    }
  fill_random (rng, src, len);
  fill_random (rng, dst, len);
}

static void
test_pseudo_ipv4 (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + 2);
  static const guint8 protocols[] = { 0, PROTO_TCP, PROTO_UDP, 0xff };
  static const gsize lens[] = { 0, 1, 8, 20, 1480, 0x8000, 0xfffe, 0xffff };

  for (guint round = 0; round < 200; round++)
    for (gsize p = 0; p < G_N_ELEMENTS (protocols); p++)
      for (gsize l = 0; l < G_N_ELEMENTS (lens); l++)
        {
          guint8 ph[12 + 1] = { 0 }, *at = ph + (round & 1); /* both alignments */
          guint8 src[4], dst[4];

          pick_addresses (rng, round, src, dst, 4);
          memcpy (at, src, 4);
          memcpy (at + 4, dst, 4);
          at[8] = 0;
          at[9] = protocols[p];
          wr16 (at + 10, (guint) lens[l]);
          g_assert_cmphex (aero_inet_pseudo_sum (4, at, at + 4, protocols[p], lens[l]), ==,
                           ref_sum (at, 12, 0));
          g_assert_cmphex (aero_inet_pseudo_sum (4, src, dst, protocols[p], lens[l]), ==,
                           ref_sum (at, 12, 0));
        }
}

static void
test_pseudo_ipv6 (void)
{
  g_autoptr (GRand) rng = g_rand_new_with_seed (SEED + 3);
  static const guint8 protocols[] = { 0, PROTO_TCP, PROTO_UDP, PROTO_ICMPV6, 0xff };
  static const gsize lens[] = { 0, 1, 8, 20, 1460, 0xffff, 0x10000, 0x12345, G_MAXUINT32 };

  for (guint round = 0; round < 200; round++)
    for (gsize p = 0; p < G_N_ELEMENTS (protocols); p++)
      for (gsize l = 0; l < G_N_ELEMENTS (lens); l++)
        {
          guint8 ph[40 + 1] = { 0 }, *at = ph + (round & 1);
          guint8 src[16], dst[16];

          pick_addresses (rng, round, src, dst, 16);
          memcpy (at, src, 16);
          memcpy (at + 16, dst, 16);
          wr32 (at + 32, (guint32) lens[l]);
          at[36] = at[37] = at[38] = 0;
          at[39] = protocols[p];
          g_assert_cmphex (aero_inet_pseudo_sum (6, at, at + 16, protocols[p], lens[l]), ==,
                           ref_sum (at, 40, 0));
          g_assert_cmphex (aero_inet_pseudo_sum (6, src, dst, protocols[p], lens[l]), ==,
                           ref_sum (at, 40, 0));
        }
}

/* An IPv4 header (192.168.0.1 to 192.168.0.199, UDP, checksum 0xb861). */
static const guint8 ipv4_header[20] = {
  0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
  0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
};

static void
test_ipv4_header (void)
{
  guint8 copy[20 + 1], *h = copy + 1;

  g_assert_cmphex (ref_sum (ipv4_header, 20, 0), ==, 0xffff);
  g_assert_cmphex (aero_inet_sum (ipv4_header, 20, 0), ==, 0xffff);

  /* Recomputed with the field zeroed, at an odd address too. */
  memcpy (h, ipv4_header, 20);
  wr16 (h + 10, 0);
  g_assert_cmphex (aero_inet_checksum (h, 20, 0), ==, 0xb861);

  /* A changed TTL no longer verifies. */
  memcpy (h, ipv4_header, 20);
  h[8] = 0x3f;
  g_assert_cmphex (aero_inet_sum (h, 20, 0), !=, 0xffff);
}

/* A DNS query for example.com A from 10.0.2.15:53211 to 10.0.2.3:53: IPv4
 * header checksum 0xe481, UDP length 37 (odd), UDP checksum 0x2be9. */
static const guint8 udp_packet[57] = {
  0x45, 0x00, 0x00, 0x39, 0x3e, 0x21, 0x40, 0x00, 0x40, 0x11, 0xe4, 0x81,
  0x0a, 0x00, 0x02, 0x0f, 0x0a, 0x00, 0x02, 0x03, 0xcf, 0xdb, 0x00, 0x35,
  0x00, 0x25, 0x2b, 0xe9, 0x1c, 0x2b, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
  0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
};

static void
test_udp_ipv4 (void)
{
  const guint8 *ip = udp_packet, *udp = udp_packet + 20;
  gsize udp_len = sizeof udp_packet - 20;
  guint8 copy[sizeof udp_packet + 1], *c = copy + 1;
  guint16 pseudo;

  g_assert_cmpuint (udp_len, ==, 37);
  g_assert_cmphex (aero_inet_sum (ip, 20, 0), ==, 0xffff);
  pseudo = aero_inet_pseudo_sum (4, ip + 12, ip + 16, PROTO_UDP, udp_len);
  g_assert_cmphex (aero_inet_sum (udp, udp_len, pseudo), ==, 0xffff);
  g_assert_cmphex (ref_sum (udp, udp_len, pseudo), ==, 0xffff);

  /* Both checksums recomputed with their fields zeroed, at an odd address. */
  memcpy (c, udp_packet, sizeof udp_packet);
  wr16 (c + 10, 0);
  wr16 (c + 20 + 6, 0);
  g_assert_cmphex (aero_inet_checksum (c, 20, 0), ==, 0xe481);
  g_assert_cmphex (aero_inet_checksum (c + 20, udp_len,
                                       aero_inet_pseudo_sum (4, c + 12, c + 16, PROTO_UDP,
                                                             udp_len)),
                   ==, 0x2be9);

  /* The wrong protocol or length in the pseudo-header does not verify. */
  g_assert_cmphex (aero_inet_sum (udp, udp_len,
                                  aero_inet_pseudo_sum (4, ip + 12, ip + 16, PROTO_TCP, udp_len)),
                   !=, 0xffff);
  g_assert_cmphex (aero_inet_sum (udp, udp_len,
                                  aero_inet_pseudo_sum (4, ip + 12, ip + 16, PROTO_UDP,
                                                        udp_len + 1)),
                   !=, 0xffff);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/checksum/rfc1071-example", test_rfc1071_example);
  g_test_add_func ("/checksum/random", test_random);
  g_test_add_func ("/checksum/chain", test_chain);
  g_test_add_func ("/checksum/pseudo-ipv4", test_pseudo_ipv4);
  g_test_add_func ("/checksum/pseudo-ipv6", test_pseudo_ipv6);
  g_test_add_func ("/checksum/ipv4-header", test_ipv4_header);
  g_test_add_func ("/checksum/udp-ipv4", test_udp_ipv4);
  return g_test_run ();
}
