/* aero-ip-packet.h — reading the IP and transport headers of an Ethernet
 * frame, and building the packets the policy filter answers the guest
 * with: a TCP reset, an ICMP/ICMPv6 administratively-prohibited error, a
 * UDP datagram with a new payload. Internal to libaero-net.
 *
 * The parser trusts nothing: every offset is checked against the frame
 * and the IP length fields, and anything that does not add up is reported
 * as malformed (to be dropped), never passed on half-read. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AERO_IPPROTO_ICMP 1
#define AERO_IPPROTO_TCP 6
#define AERO_IPPROTO_UDP 17
#define AERO_IPPROTO_ICMPV6 58

#define AERO_TCP_FIN 0x01
#define AERO_TCP_SYN 0x02
#define AERO_TCP_RST 0x04
#define AERO_TCP_ACK 0x10

/* A 16-bit big-endian field, read and written. */
static inline guint16
aero_ip_rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static inline void
aero_ip_wr16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) v;
}

typedef enum {
  AERO_IP_PACKET_NOT_IP,    /* not IPv4/IPv6 (ARP, ...): not ours to judge */
  AERO_IP_PACKET_MALFORMED, /* IP, but lengths or headers do not add up */
  AERO_IP_PACKET_OK,
} AeroIpPacketResult;

typedef struct {
  const guint8 *frame;
  gsize len;
  gsize l3;               /* offset of the IP header (after Ethernet and VLAN) */
  gsize l4;               /* offset of the transport header */
  gsize end;              /* end of the IP packet (frames may carry padding) */
  guint version;          /* 4 or 6 */
  guint8 protocol;        /* transport protocol, after IPv6 extension headers */
  const guint8 *src;      /* 4 or 16 bytes inside frame */
  const guint8 *dst;
  gboolean fragment;      /* one fragment of a larger packet */
  gboolean first_fragment;/* not a fragment, or the one at offset 0 */
  gboolean source_route;  /* IPv4 LSRR/SSRR option, IPv6 routing header with segments left */
  gboolean has_l4;        /* the transport header is complete (first fragments only) */
  guint16 sport;          /* TCP/UDP ports; ICMP echo: the identifier in both */
  guint16 dport;
  guint8 tcp_flags;
  guint32 tcp_seq;
  guint32 tcp_ack;
  guint16 tcp_window;
  gsize l4_header_len;    /* TCP: data offset; UDP/ICMP: 8 */
  guint8 icmp_type;
  guint8 icmp_code;
} AeroIpPacket;

AeroIpPacketResult aero_ip_packet_parse (const guint8 *frame, gsize len, AeroIpPacket *pkt);

/* Whether ADDR (4 or 16 bytes) is a broadcast, multicast or unspecified
 * address, to which no error is ever sent back. */
gboolean aero_ip_packet_is_group_address (guint version, const guint8 *addr);

/* A reset answering the TCP segment PKT (normally a SYN), sent from its
 * destination to its source, MAC addresses swapped. */
GBytes *aero_ip_packet_build_rst (const AeroIpPacket *pkt);

/* A TCP segment without payload or options, window 0: FLAGS, SEQ and
 * ACK, from SRC:SPORT to DST:DPORT (4 or 16 bytes each, as VERSION says).
 * The link header LINK (LINK_LEN bytes: Ethernet and an 802.1Q tag, as
 * aero_ip_packet_parse() found it) is copied, MAC addresses swapped when
 * SWAP_MACS. */
GBytes *aero_ip_packet_build_tcp (const guint8 *link, gsize link_len, gboolean swap_macs,
                                  guint version, const guint8 *src, const guint8 *dst,
                                  guint16 sport, guint16 dport, guint32 seq, guint32 ack,
                                  guint8 flags);

/* An ICMP destination unreachable, code 13 (IPv4), or ICMPv6 destination
 * unreachable, code 1 (IPv6), quoting PKT as far as RFC 1812 (576 bytes)
 * and RFC 4443 (1280 bytes) allow. NULL when PKT must not be answered
 * (group or unspecified addresses, ICMP errors). */
GBytes *aero_ip_packet_build_prohibited (const AeroIpPacket *pkt);

/* The UDP datagram PKT with PAYLOAD instead of its own; REPLY swaps the
 * MAC addresses, IP addresses and ports (an answer to PKT), otherwise
 * they are kept. New IP and UDP headers, lengths and checksums. */
GBytes *aero_ip_packet_build_udp (const AeroIpPacket *pkt, gboolean reply, const guint8 *payload,
                                  gsize payload_len);

G_END_DECLS
