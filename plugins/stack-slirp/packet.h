/* packet.h — bounded parsing and building of the Ethernet/IP frames the
 * slirp stack inspects, answers or rewrites itself.
 *
 * The parser never reads outside the frame: every offset it returns has
 * been checked against the frame length and the IP length fields. The
 * builders make complete frames (Ethernet, IPv4 or IPv6, UDP or TCP) with
 * correct checksums. The rewriters change one address and port of a frame
 * in place and fix the checksums incrementally. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AERO_ETHERTYPE_IPV4 0x0800
#define AERO_ETHERTYPE_ARP 0x0806
#define AERO_ETHERTYPE_IPV6 0x86dd

#define AERO_IPPROTO_ICMP 1
#define AERO_IPPROTO_TCP 6
#define AERO_IPPROTO_UDP 17
#define AERO_IPPROTO_ICMPV6 58

#define AERO_TCP_FIN 0x01
#define AERO_TCP_SYN 0x02
#define AERO_TCP_RST 0x04
#define AERO_TCP_PSH 0x08
#define AERO_TCP_ACK 0x10

/**
 * AeroPacket:
 * @frame: the whole frame
 * @len: its length
 * @ethertype: Ethernet type of the (untagged) frame
 * @ip_version: 4, 6, or 0 when the frame carries no parsable IP packet
 * @src: source IP address (4 or 16 bytes, inside @frame)
 * @dst: destination IP address (4 or 16 bytes, inside @frame)
 * @l3_offset: where the IP header starts
 * @protocol: the transport protocol (after IPv6 extension headers)
 * @fragment: the packet is an IP fragment
 * @first_fragment: it is the fragment carrying the transport header (or
 *   not a fragment at all)
 * @l4_offset: where the transport header starts
 * @l4_len: length of the transport header and payload, from the IP header
 * @has_ports: @sport and @dport are valid (TCP or UDP header present)
 * @sport: transport source port
 * @dport: transport destination port
 * @tcp_flags: TCP flags (TCP only)
 * @tcp_seq: TCP sequence number
 * @tcp_ack: TCP acknowledgement number
 * @tcp_header_len: TCP header length in bytes
 * @icmp_type: ICMP or ICMPv6 type (0 when absent)
 *
 * What the parser found in a frame. Pointers point into @frame.
 */
typedef struct {
  const guint8 *frame;
  gsize len;
  guint16 ethertype;
  guint ip_version;
  const guint8 *src;
  const guint8 *dst;
  gsize l3_offset;
  guint8 protocol;
  gboolean fragment;
  gboolean first_fragment;
  gsize l4_offset;
  gsize l4_len;
  gboolean has_ports;
  guint16 sport;
  guint16 dport;
  guint8 tcp_flags;
  guint32 tcp_seq;
  guint32 tcp_ack;
  gsize tcp_header_len;
  guint8 icmp_type;
} AeroPacket;

guint16 aero_read_be16 (const guint8 *p);
guint32 aero_read_be32 (const guint8 *p);
void aero_write_be16 (guint8 *p, guint16 v);
void aero_write_be32 (guint8 *p, guint32 v);

gboolean aero_packet_parse (const guint8 *frame, gsize len, AeroPacket *pkt);

gboolean aero_packet_is_arp_request (const guint8 *frame, gsize len, guint8 target[4]);

GBytes *aero_packet_build_arp_reply (const guint8 *request, const guint8 mac[6]);

GBytes *aero_packet_build_udp (guint ip_version, const guint8 src_mac[6], const guint8 dst_mac[6],
                               const guint8 *src_ip, const guint8 *dst_ip, guint16 sport,
                               guint16 dport, const guint8 *payload, gsize payload_len);

GBytes *aero_packet_build_tcp_reset (const AeroPacket *in);

void aero_packet_mac_for_ipv4 (const guint8 ip[4], guint8 mac[6]);

void aero_packet_rewrite_ipv4 (guint8 *frame, const AeroPacket *pkt, gboolean source,
                               const guint8 addr[4], guint16 port);

gboolean aero_packet_dhcp_add_mtu (guint8 *frame, const AeroPacket *pkt, guint16 mtu);

guint8 *aero_packet_ra_add_rdnss (const AeroPacket *pkt, const guint8 dns[16], guint32 lifetime,
                                  gsize *out_len);

G_END_DECLS
