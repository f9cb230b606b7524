/* policy-ranges.c — classification of special-use IPv4 and IPv6
 * destinations (see policy-ranges.h). */
#include <string.h>

#include "policy-ranges.h"

typedef struct {
  guint8 prefix[16];
  guint len;
  const char *range;
} Range;

/* Checked in order: the first match wins. */
static const Range ipv4_ranges[] = {
  { { 255, 255, 255, 255 }, 32, POLICY_RANGE_BROADCAST },
  { { 0 }, 8, POLICY_RANGE_UNSPECIFIED },
  { { 10 }, 8, POLICY_RANGE_PRIVATE },
  { { 100, 64 }, 10, POLICY_RANGE_CGNAT },
  { { 127 }, 8, POLICY_RANGE_LOOPBACK },
  { { 169, 254 }, 16, POLICY_RANGE_LINK_LOCAL },
  { { 172, 16 }, 12, POLICY_RANGE_PRIVATE },
  { { 192, 0, 0 }, 24, POLICY_RANGE_RESERVED },        /* IETF protocol assignments */
  { { 192, 0, 2 }, 24, POLICY_RANGE_DOCUMENTATION },   /* TEST-NET-1 */
  { { 192, 88, 99 }, 24, POLICY_RANGE_RESERVED },      /* 6to4 relay anycast */
  { { 192, 168 }, 16, POLICY_RANGE_PRIVATE },
  { { 198, 18 }, 15, POLICY_RANGE_RESERVED },          /* benchmarking */
  { { 198, 51, 100 }, 24, POLICY_RANGE_DOCUMENTATION },/* TEST-NET-2 */
  { { 203, 0, 113 }, 24, POLICY_RANGE_DOCUMENTATION }, /* TEST-NET-3 */
  { { 224 }, 4, POLICY_RANGE_MULTICAST },
  { { 240 }, 4, POLICY_RANGE_RESERVED },
};

static const Range ipv6_ranges[] = {
  { { 0 }, 128, POLICY_RANGE_UNSPECIFIED },                            /* :: */
  { { [15] = 1 }, 128, POLICY_RANGE_LOOPBACK },                        /* ::1 */
  { { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, POLICY_RANGE_RESERVED },/* local-use NAT64 */
  { { 0x01, 0x00 }, 64, POLICY_RANGE_RESERVED },                       /* discard-only */
  { { 0x20, 0x01, 0x00, 0x00 }, 32, POLICY_RANGE_RESERVED },           /* Teredo */
  { { 0x20, 0x01, 0x00, 0x02, 0x00, 0x00 }, 48, POLICY_RANGE_RESERVED },/* benchmarking */
  { { 0x20, 0x01, 0x00, 0x10 }, 28, POLICY_RANGE_RESERVED },           /* ORCHID */
  { { 0x20, 0x01, 0x00, 0x20 }, 28, POLICY_RANGE_RESERVED },           /* ORCHIDv2 */
  { { 0x20, 0x01, 0x0d, 0xb8 }, 32, POLICY_RANGE_DOCUMENTATION },
  { { 0x3f, 0xff }, 20, POLICY_RANGE_DOCUMENTATION },                  /* RFC 9637 */
  { { 0x5f, 0x00 }, 16, POLICY_RANGE_RESERVED },                       /* SRv6 SIDs */
  { { 0xfc }, 7, POLICY_RANGE_PRIVATE },                               /* unique local */
  { { 0xfe, 0x80 }, 10, POLICY_RANGE_LINK_LOCAL },
  { { 0xfe, 0xc0 }, 10, POLICY_RANGE_PRIVATE },                        /* site-local */
  { { 0xff }, 8, POLICY_RANGE_MULTICAST },
};

static gboolean
in_prefix (const guint8 *addr, const guint8 *prefix, guint len)
{
  guint bytes = len / 8, bits = len % 8;

  if (memcmp (addr, prefix, bytes) != 0)
    return FALSE;
  if (bits == 0)
    return TRUE;
  return ((addr[bytes] ^ prefix[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

gboolean
policy_ipv6_embedded_ipv4 (const guint8 addr[16], guint8 out[4])
{
  static const guint8 mapped[12] = { [10] = 0xff, [11] = 0xff };
  static const guint8 compatible[12] = { 0 };
  static const guint8 nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

  if (memcmp (addr, mapped, 12) == 0 || memcmp (addr, compatible, 12) == 0 ||
      memcmp (addr, nat64, 12) == 0)
    {
      memcpy (out, addr + 12, 4);
      return TRUE;
    }
  if (addr[0] == 0x20 && addr[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
    {
      memcpy (out, addr + 2, 4);
      return TRUE;
    }
  return FALSE;
}

const char *
policy_range_classify (GSocketFamily family, const guint8 *addr)
{
  if (family == G_SOCKET_FAMILY_IPV4)
    {
      for (gsize i = 0; i < G_N_ELEMENTS (ipv4_ranges); i++)
        if (in_prefix (addr, ipv4_ranges[i].prefix, ipv4_ranges[i].len))
          return ipv4_ranges[i].range;
      return NULL;
    }
  if (family == G_SOCKET_FAMILY_IPV6)
    {
      guint8 v4[4];

      for (gsize i = 0; i < G_N_ELEMENTS (ipv6_ranges); i++)
        if (in_prefix (addr, ipv6_ranges[i].prefix, ipv6_ranges[i].len))
          return ipv6_ranges[i].range;
      if (policy_ipv6_embedded_ipv4 (addr, v4))
        return policy_range_classify (G_SOCKET_FAMILY_IPV4, v4);
      if ((addr[0] & 0xe0) != 0x20)
        return POLICY_RANGE_RESERVED; /* outside global unicast 2000::/3 */
      return NULL;
    }
  return POLICY_RANGE_RESERVED;
}
