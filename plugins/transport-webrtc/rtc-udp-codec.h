/* rtc-udp-codec.h — the UDP relay framing (PROTOCOLS.md §4), v1 and v2.
 *
 *   v1 (IPv4 only): guest_port:u16 | remote_ipv4[4] | remote_port:u16 | payload
 *   v2: 0xA2 | 0x02 | af:u8 (0x04|0x06) | type:u8 (0x00) | guest_port:u16 |
 *       remote_ip[4|16] | remote_port:u16 | payload
 *
 * A message starting A2 02 is v2, anything else v1. All integers are
 * big-endian. The decoder is bounds-checked and borrows the buffer. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define RTC_UDP_V1_HEADER_LEN 8
#define RTC_UDP_V2_MAGIC 0xA2
#define RTC_UDP_V2_VERSION 0x02
/* The longest header: v2 with an IPv6 address. */
#define RTC_UDP_MAX_HEADER_LEN 24u

typedef enum {
  RTC_UDP_DECODE_OK,
  RTC_UDP_DECODE_TOO_SHORT,
  RTC_UDP_DECODE_BAD_TYPE,
  RTC_UDP_DECODE_BAD_FAMILY,
} RtcUdpDecodeResult;

/* One decoded datagram; payload points into the decoded buffer. */
typedef struct {
  guint8 version;                /* 1 or 2 */
  GSocketFamily family;          /* G_SOCKET_FAMILY_IPV4 or _IPV6 */
  guint16 guest_port;
  guint8 remote[16];             /* network order; IPv4 uses the first 4 bytes */
  guint16 remote_port;
  const guint8 *payload;
  gsize payload_len;
} RtcUdpDatagram;

RtcUdpDecodeResult rtc_udp_decode (const guint8 *data, gsize len, RtcUdpDatagram *out);
const char *rtc_udp_decode_result_to_string (RtcUdpDecodeResult result);
gsize rtc_udp_header_len (guint version, GSocketFamily family);
GBytes *rtc_udp_encode (guint version, GSocketFamily family, guint16 guest_port,
                        const guint8 *remote, guint16 remote_port, const guint8 *payload,
                        gsize payload_len);

G_END_DECLS
