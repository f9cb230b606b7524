/* test-wire-fuzz.c — hostile frames against the policy filter's parsers
 * and builders (the core's aero-ip-packet.c and aero-dns-wire.c, compiled
 * in): valid frames, then many truncated and randomly mutated copies. Each
 * must parse or be refused without reading out of bounds (run it under
 * AddressSanitizer to see that), and whatever is built from a packet that
 * parsed must itself parse back with consistent lengths. The random seed
 * comes from GTest (--seed) so a failure can be replayed. */
#include <string.h>

#include "aero-dns-wire.h"
#include "aero-ip-packet.h"

#define ROUNDS 100000

static guint n_stripped, n_answers;

static guint8 *
frame_ipv4 (guint8 proto, const guint8 *l4, gsize l4_len, gsize *len)
{
  guint8 *f = g_malloc0 (14 + 20 + l4_len);

  memcpy (f, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56\x08\x00", 14);
  f[14] = 0x45;
  f[16] = (guint8) ((20 + l4_len) >> 8);
  f[17] = (guint8) (20 + l4_len);
  f[22] = 64;
  f[23] = proto;
  memcpy (f + 26, "\x0a\x00\x02\x0f", 4);
  memcpy (f + 30, "\x5d\xb8\xd8\x22", 4);
  memcpy (f + 34, l4, l4_len);
  *len = 14 + 20 + l4_len;
  return f;
}

static guint8 *
frame_ipv6 (guint8 proto, const guint8 *l4, gsize l4_len, gsize *len)
{
  guint8 *f = g_malloc0 (14 + 40 + l4_len);

  memcpy (f, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56\x86\xdd", 14);
  f[14] = 0x60;
  f[18] = (guint8) (l4_len >> 8);
  f[19] = (guint8) l4_len;
  f[20] = proto;
  f[21] = 64;
  f[22] = 0xfd;
  f[37] = 0x15;
  f[38] = 0x26;
  f[39] = 0x06;
  f[53] = 1;
  memcpy (f + 54, l4, l4_len);
  *len = 14 + 40 + l4_len;
  return f;
}

static const guint8 dns_answer[] = {
  0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x03, 0x00, 0x01, 0x00, 0x01,
  /* question: www.example.test A IN */
  3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1,
  /* CNAME → a.example.test (compressed) */
  0xc0, 0x0c, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 'a', 0xc0, 0x10,
  /* a.example.test A 127.0.0.1 */
  0xc0, 0x2e, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1,
  /* a.example.test A 93.184.216.34 */
  0xc0, 0x2e, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34,
  /* authority: example.test NS ns.example.test */
  0xc0, 0x10, 0, 2, 0, 1, 0, 0, 0, 60, 0, 5, 2, 'n', 's', 0xc0, 0x10,
  /* additional: ns.example.test AAAA ::1 */
  0xc0, 0x5e, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

static gboolean
random_name (const char *name, gpointer data)
{
  return g_test_rand_bit ();
}

static gboolean
random_address (const char *qname, GSocketFamily family, const guint8 *address, gpointer data)
{
  g_assert_true (family == G_SOCKET_FAMILY_IPV4 || family == G_SOCKET_FAMILY_IPV6);
  return g_test_rand_bit ();
}

/* Whatever a builder made must parse back with its lengths consistent. */
static void
check_built (GBytes *built, guint8 expect_protocol)
{
  AeroIpPacket back;
  gsize len;
  const guint8 *data;

  if (built == NULL)
    return;
  data = g_bytes_get_data (built, &len);
  g_assert_cmpint (aero_ip_packet_parse (data, len, &back), ==, AERO_IP_PACKET_OK);
  g_assert_cmpuint (back.end, ==, len);
  g_assert_cmpuint (back.protocol, ==, expect_protocol);
  g_assert_true (back.has_l4);
  g_bytes_unref (built);
}

static void
exercise (const guint8 *frame, gsize len)
{
  AeroIpPacket pkt;
  AeroDnsQuestion q;
  AeroDnsAnswerChecks checks = { random_name, random_address, NULL };

  if (aero_ip_packet_parse (frame, len, &pkt) != AERO_IP_PACKET_OK)
    return;
  g_assert_cmpuint (pkt.end, <=, len);
  g_assert_cmpuint (pkt.l4, <=, pkt.end);
  if (pkt.protocol == AERO_IPPROTO_TCP && pkt.has_l4)
    check_built (aero_ip_packet_build_rst (&pkt), AERO_IPPROTO_TCP);
  check_built (aero_ip_packet_build_prohibited (&pkt),
               pkt.version == 4 ? AERO_IPPROTO_ICMP : AERO_IPPROTO_ICMPV6);
  if (pkt.protocol == AERO_IPPROTO_UDP && pkt.has_l4 && !pkt.fragment)
    {
      const guint8 *msg = frame + pkt.l4 + 8;
      gsize mlen = pkt.end - pkt.l4 - 8;
      GBytes *rewritten = NULL;

      for (int response = 0; response < 2; response++)
        if (aero_dns_wire_parse_question (msg, mlen, response, &q))
          {
            GBytes *err = aero_dns_wire_build_error (msg, &q, AERO_DNS_RCODE_REFUSED);

            check_built (aero_ip_packet_build_udp (&pkt, TRUE, g_bytes_get_data (err, NULL),
                                                   g_bytes_get_size (err)),
                         AERO_IPPROTO_UDP);
            g_bytes_unref (err);
            n_answers += response;
            if (response && aero_dns_wire_filter_answer (msg, mlen, &q, g_test_rand_bit (),
                                                          &checks, &rewritten) ==
                              AERO_DNS_ANSWER_STRIPPED)
              {
                n_stripped++;
                AeroDnsQuestion again;
                AeroDnsAnswerChecks keep = { NULL, NULL, NULL };
                gsize rlen;
                const guint8 *r = g_bytes_get_data (rewritten, &rlen);

                /* A rebuilt answer reads back and holds nothing to strip. */
                g_assert_true (aero_dns_wire_parse_question (r, rlen, TRUE, &again));
                g_assert_cmpstr (again.name, ==, q.name);
                g_assert_cmpint (aero_dns_wire_filter_answer (r, rlen, &again, TRUE, &keep, NULL),
                                 ==, AERO_DNS_ANSWER_PASS);
                check_built (aero_ip_packet_build_udp (&pkt, FALSE, r, rlen), AERO_IPPROTO_UDP);
              }
            g_clear_pointer (&rewritten, g_bytes_unref);
          }
    }
}

static void
fuzz (const guint8 *seed, gsize seed_len)
{
  guint8 *buf = g_malloc (seed_len + 64);

  /* Every truncation. */
  for (gsize n = 0; n <= seed_len; n++)
    {
      guint8 *copy = g_memdup2 (seed, n ? n : 1);

      exercise (copy, n);
      g_free (copy);
    }
  /* Random mutations: a few bytes changed, sometimes a new length. */
  for (guint round = 0; round < ROUNDS; round++)
    {
      gsize len = seed_len;
      guint flips = (guint) g_test_rand_int_range (1, 8);
      guint8 *copy;

      memcpy (buf, seed, seed_len);
      for (guint i = 0; i < flips; i++)
        buf[g_test_rand_int_range (0, (gint32) seed_len)] = (guint8) g_test_rand_int_range (0, 256);
      if (g_test_rand_int_range (0, 4) == 0)
        len = (gsize) g_test_rand_int_range (0, (gint32) seed_len + 64);
      if (len > seed_len)
        for (gsize i = seed_len; i < len; i++)
          buf[i] = (guint8) g_test_rand_int_range (0, 256);
      /* An exact-size heap copy, so that ASan sees any read past the end. */
      copy = g_memdup2 (buf, len ? len : 1);
      exercise (copy, len);
      g_free (copy);
    }
  g_free (buf);
}

static void
test_tcp (void)
{
  static const guint8 syn[24] = { 0x9c, 0x40, 0x00, 0x50, 1, 2, 3, 4, 0, 0, 0, 0, 0x60, 0x02,
                                  0xff, 0xff, 0, 0, 0, 0, 2, 4, 5, 0xb4 };
  gsize len;
  g_autofree guint8 *f4 = frame_ipv4 (AERO_IPPROTO_TCP, syn, sizeof syn, &len);
  g_autofree guint8 *f6 = NULL;

  fuzz (f4, len);
  f6 = frame_ipv6 (AERO_IPPROTO_TCP, syn, sizeof syn, &len);
  fuzz (f6, len);
}

static void
test_udp_dns (void)
{
  guint8 udp[8 + sizeof dns_answer];
  gsize len;
  g_autofree guint8 *f4 = NULL;
  g_autofree guint8 *f6 = NULL;

  udp[0] = 0;
  udp[1] = 53;
  udp[2] = 0x9c;
  udp[3] = 0x40;
  udp[4] = (guint8) (sizeof udp >> 8);
  udp[5] = (guint8) sizeof udp;
  udp[6] = udp[7] = 0;
  memcpy (udp + 8, dns_answer, sizeof dns_answer);
  f4 = frame_ipv4 (AERO_IPPROTO_UDP, udp, sizeof udp, &len);
  fuzz (f4, len);
  f6 = frame_ipv6 (AERO_IPPROTO_UDP, udp, sizeof udp, &len);
  fuzz (f6, len);
  /* The mutations must reach the rebuilding code, not only the parsers. */
  g_test_message ("%u answers read, %u rebuilt", n_answers, n_stripped);
  g_assert_cmpuint (n_stripped, >, 1000);
}

static void
test_icmp_and_ext (void)
{
  static const guint8 echo[12] = { 8, 0, 0, 0, 0, 7, 0, 1, 'p', 'i', 'n', 'g' };
  /* IPv6: hop-by-hop, routing (segments left 1), fragment, then ICMPv6. */
  static const guint8 ext[] = { 43, 0, 1, 0, 0, 0, 0, 0,           /* hop-by-hop → routing */
                                44, 0, 0, 1, 0, 0, 0, 0,           /* routing → fragment */
                                58, 0, 0, 1, 0, 0, 0, 9,           /* fragment (M) → ICMPv6 */
                                128, 0, 0, 0, 0, 7, 0, 1, 'x', 'y' };
  gsize len;
  g_autofree guint8 *f4 = frame_ipv4 (AERO_IPPROTO_ICMP, echo, sizeof echo, &len);
  g_autofree guint8 *f6 = NULL;
  AeroIpPacket pkt;

  fuzz (f4, len);
  f6 = frame_ipv6 (0, ext, sizeof ext, &len);
  g_assert_cmpint (aero_ip_packet_parse (f6, len, &pkt), ==, AERO_IP_PACKET_OK);
  g_assert_true (pkt.source_route && pkt.fragment && pkt.first_fragment);
  g_assert_cmpuint (pkt.protocol, ==, AERO_IPPROTO_ICMPV6);
  g_assert_cmpuint (pkt.icmp_type, ==, 128);
  fuzz (f6, len);
}

static void
test_dns_known (void)
{
  AeroDnsQuestion q;
  AeroDnsAnswerChecks strip_loopback = { NULL, NULL, NULL };
  GBytes *out = NULL;

  g_assert_true (aero_dns_wire_parse_question (dns_answer, sizeof dns_answer, TRUE, &q));
  g_assert_cmpstr (q.name, ==, "www.example.test");
  g_assert_false (aero_dns_wire_parse_question (dns_answer, sizeof dns_answer, FALSE, &q));
  g_assert_true (aero_dns_wire_parse_question (dns_answer, sizeof dns_answer, TRUE, &q));
  g_assert_cmpint (aero_dns_wire_filter_answer (dns_answer, sizeof dns_answer, &q, TRUE,
                                                &strip_loopback, &out),
                   ==, AERO_DNS_ANSWER_PASS);
  g_assert_null (out);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/wire/dns-known", test_dns_known);
  g_test_add_func ("/wire/fuzz-tcp", test_tcp);
  g_test_add_func ("/wire/fuzz-udp-dns", test_udp_dns);
  g_test_add_func ("/wire/fuzz-icmp-ipv6-extensions", test_icmp_and_ext);
  return g_test_run ();
}
