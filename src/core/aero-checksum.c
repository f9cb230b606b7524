/* aero-checksum.c — the Internet checksum (see aero-checksum.h). */
#include <string.h>

#include <aero-net/aero-checksum.h>

/* Folds a 32-bit one's complement sum into 16 bits. */
static inline guint16
fold32 (guint32 s)
{
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (guint16) s;
}

guint16
aero_inet_sum (const guint8 *data, gsize len, guint16 initial)
{
  guint64 acc = 0;
  guint32 w;

  /* Native 32-bit words into a 64-bit accumulator: the one's complement sum
   * does not depend on byte order (RFC 1071), so the result is byte-swapped
   * into network order once at the end. */
  for (; len >= 8; data += 8, len -= 8)
    {
      guint32 a, b;

      memcpy (&a, data, 4);
      memcpy (&b, data + 4, 4);
      acc += a;
      acc += b;
    }
  if (len >= 4)
    {
      memcpy (&w, data, 4);
      acc += w;
      data += 4;
      len -= 4;
    }
  if (len > 0)
    {
      guint8 tail[4] = { 0 };

      memcpy (tail, data, len);
      memcpy (&w, tail, 4);
      acc += w;
    }
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  return fold32 ((guint32) g_ntohs (fold32 ((guint32) acc)) + initial);
}

guint16
aero_inet_pseudo_sum (guint ip_version, const guint8 *src, const guint8 *dst, guint8 protocol,
                      gsize l4_len)
{
  gsize addr_len;
  guint32 sum;

  g_return_val_if_fail (ip_version == 4 || ip_version == 6, 0);

  /* The addresses, then a zero byte and the protocol, then the length: a
   * 16-bit word for IPv4, a 32-bit one for IPv6, the same in a one's
   * complement sum for lengths below 65,536. */
  addr_len = ip_version == 4 ? 4 : 16;
  sum = aero_inet_sum (src, addr_len, 0);
  sum += aero_inet_sum (dst, addr_len, 0);
  sum += protocol;
  sum += ((guint32) l4_len >> 16) + ((guint32) l4_len & 0xffff);
  return fold32 (sum);
}
