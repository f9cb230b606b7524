/* rtc-udp-codec.c — encodes and decodes UDP relay messages (see the header). */
#include <string.h>

#include "rtc-udp-codec.h"

/**
 * rtc_udp_decode:
 * @data: (array length=len): one DataChannel message
 * @len: its length
 * @out: (out caller-allocates): the datagram, valid when OK is returned
 *
 * Returns: the outcome.
 */
RtcUdpDecodeResult
rtc_udp_decode (const guint8 *data, gsize len, RtcUdpDatagram *out)
{
  gsize addr_len, off;

  memset (out, 0, sizeof *out);
  if (len >= 2 && data[0] == RTC_UDP_V2_MAGIC && data[1] == RTC_UDP_V2_VERSION)
    {
      if (len < 4)
        return RTC_UDP_DECODE_TOO_SHORT;
      if (data[2] == 0x04)
        {
          out->family = G_SOCKET_FAMILY_IPV4;
          addr_len = 4;
        }
      else if (data[2] == 0x06)
        {
          out->family = G_SOCKET_FAMILY_IPV6;
          addr_len = 16;
        }
      else
        return RTC_UDP_DECODE_BAD_FAMILY;
      if (data[3] != 0x00)
        return RTC_UDP_DECODE_BAD_TYPE;
      if (len < 4 + 2 + addr_len + 2)
        return RTC_UDP_DECODE_TOO_SHORT;
      out->version = 2;
      out->guest_port = (guint16) (data[4] << 8 | data[5]);
      memcpy (out->remote, data + 6, addr_len);
      off = 6 + addr_len;
      out->remote_port = (guint16) (data[off] << 8 | data[off + 1]);
      out->payload = data + off + 2;
      out->payload_len = len - off - 2;
      return RTC_UDP_DECODE_OK;
    }

  if (len < RTC_UDP_V1_HEADER_LEN)
    return RTC_UDP_DECODE_TOO_SHORT;
  out->version = 1;
  out->family = G_SOCKET_FAMILY_IPV4;
  out->guest_port = (guint16) (data[0] << 8 | data[1]);
  memcpy (out->remote, data + 2, 4);
  out->remote_port = (guint16) (data[6] << 8 | data[7]);
  out->payload = data + RTC_UDP_V1_HEADER_LEN;
  out->payload_len = len - RTC_UDP_V1_HEADER_LEN;
  return RTC_UDP_DECODE_OK;
}

const char *
rtc_udp_decode_result_to_string (RtcUdpDecodeResult result)
{
  switch (result)
    {
    case RTC_UDP_DECODE_OK: return "ok";
    case RTC_UDP_DECODE_TOO_SHORT: return "too short";
    case RTC_UDP_DECODE_BAD_TYPE: return "unsupported message type";
    case RTC_UDP_DECODE_BAD_FAMILY: return "unknown address family";
    default: return "unknown";
    }
}

/**
 * rtc_udp_header_len:
 * @version: 1 or 2
 * @family: the remote address family
 *
 * Returns: the header length of a message of this shape.
 */
gsize
rtc_udp_header_len (guint version, GSocketFamily family)
{
  if (version == 1)
    return RTC_UDP_V1_HEADER_LEN;
  return 4 + 2 + (family == G_SOCKET_FAMILY_IPV6 ? 16 : 4) + 2;
}

/**
 * rtc_udp_encode:
 * @version: 1 (IPv4 only) or 2
 * @family: the remote address family
 * @guest_port: the guest's port
 * @remote: (array): the remote address, 4 or 16 bytes in network order
 * @remote_port: the remote port
 * @payload: (array length=payload_len) (nullable): the datagram
 * @payload_len: its length
 *
 * Returns: (transfer full): one relay message.
 */
GBytes *
rtc_udp_encode (guint version, GSocketFamily family, guint16 guest_port, const guint8 *remote,
                guint16 remote_port, const guint8 *payload, gsize payload_len)
{
  gsize addr_len = family == G_SOCKET_FAMILY_IPV6 ? 16 : 4;
  gsize header = rtc_udp_header_len (version, family);
  guint8 *buf;
  gsize off;

  g_return_val_if_fail (version == 1 || version == 2, NULL);
  g_return_val_if_fail (version == 2 || family == G_SOCKET_FAMILY_IPV4, NULL);

  buf = g_malloc (header + payload_len);
  if (version == 1)
    {
      buf[0] = (guint8) (guest_port >> 8);
      buf[1] = (guint8) guest_port;
      memcpy (buf + 2, remote, 4);
      off = 6;
    }
  else
    {
      buf[0] = RTC_UDP_V2_MAGIC;
      buf[1] = RTC_UDP_V2_VERSION;
      buf[2] = family == G_SOCKET_FAMILY_IPV6 ? 0x06 : 0x04;
      buf[3] = 0x00;
      buf[4] = (guint8) (guest_port >> 8);
      buf[5] = (guint8) guest_port;
      memcpy (buf + 6, remote, addr_len);
      off = 6 + addr_len;
    }
  buf[off] = (guint8) (remote_port >> 8);
  buf[off + 1] = (guint8) remote_port;
  if (payload_len > 0)
    memcpy (buf + header, payload, payload_len);
  return g_bytes_new_take (buf, header + payload_len);
}
