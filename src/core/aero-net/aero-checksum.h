/* aero-checksum.h — the Internet checksum (RFC 1071) of IPv4 headers and
 * of TCP, UDP and ICMPv6 packets with their pseudo-headers.
 *
 * Sums are folded one's complement sums of 16-bit big-endian words, kept
 * in host order and not complemented, so that partial sums chain: the sum
 * of a pseudo-header is the initial value of the sum over the segment it
 * belongs to. The checksum field holds the complement of the final sum. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * aero_inet_sum:
 * @data: (array length=len): the bytes, in network order, at any alignment
 * @len: the number of bytes
 * @initial: a folded sum to add to, such as a pseudo-header sum, or 0
 *
 * Adds the 16-bit big-endian words of @data to @initial in one's complement
 * arithmetic. An odd trailing byte is taken as the high byte of a word
 * whose low byte is 0. Sums of consecutive pieces of a buffer chain when
 * every piece but the last has an even length.
 *
 * Returns: the folded, not complemented, sum in host order: 0 only when
 *   @initial is 0 and every byte is 0, otherwise 0x0001..0xffff.
 */
guint16 aero_inet_sum (const guint8 *data, gsize len, guint16 initial);

/**
 * aero_inet_pseudo_sum:
 * @ip_version: 4 or 6
 * @src: the source address: 4 bytes for IPv4, 16 for IPv6
 * @dst: the destination address, as long as @src
 * @protocol: the transport protocol (6 for TCP, 17 for UDP, 58 for
 *   ICMPv6)
 * @l4_len: the length of the transport header and payload (at most
 *   65,535 for IPv4, G_MAXUINT32 for IPv6)
 *
 * Sums the TCP/UDP pseudo-header of IPv4 (RFC 9293 section 3.1, RFC 768)
 * or of IPv6 (RFC 8200 section 8.1), to be passed as the initial value of
 * aero_inet_sum() over the transport segment.
 *
 * Returns: the folded, not complemented, sum in host order.
 */
guint16 aero_inet_pseudo_sum (guint ip_version, const guint8 *src, const guint8 *dst,
                              guint8 protocol, gsize l4_len);

/**
 * aero_inet_checksum:
 * @data: (array length=len): the bytes, in network order, with the
 *   checksum field set to 0
 * @len: the number of bytes
 * @initial: a folded sum to add to, such as a pseudo-header sum, or 0
 *
 * The value of a checksum field: the complement of aero_inet_sum(). UDP
 * takes a checksum field of 0 to mean "no checksum": a UDP caller writes
 * 0xffff when this returns 0.
 *
 * Returns: the checksum in host order.
 */
static inline guint16
aero_inet_checksum (const guint8 *data, gsize len, guint16 initial)
{
  return (guint16) ~aero_inet_sum (data, len, initial);
}

G_END_DECLS
