/* probe-packet.h — building and parsing the packets aero-probe exchanges:
 * Ethernet, ARP, IPv4, UDP, ICMP echo and TCP segments, and the Internet
 * checksum. Builders return complete Ethernet frames; parsers borrow the
 * buffer they are given and check every length and checksum, because
 * frames come from a server that may be hostile.
 *
 * IPv4 addresses are guint32 in host byte order throughout. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define PROBE_ETH_HLEN 14
#define PROBE_ETH_MIN_FRAME 60
#define PROBE_ETHERTYPE_IPV4 0x0800
#define PROBE_ETHERTYPE_ARP 0x0806
#define PROBE_IPPROTO_ICMP 1
#define PROBE_IPPROTO_TCP 6
#define PROBE_IPPROTO_UDP 17
#define PROBE_IPV4_HLEN 20
#define PROBE_UDP_HLEN 8
#define PROBE_TCP_HLEN 20
#define PROBE_IPV4_BROADCAST 0xffffffffu

#define PROBE_TCP_FIN 0x01
#define PROBE_TCP_SYN 0x02
#define PROBE_TCP_RST 0x04
#define PROBE_TCP_PSH 0x08
#define PROBE_TCP_ACK 0x10

typedef struct {
  guint8 b[6];
} ProbeMac;

extern const ProbeMac probe_mac_broadcast;

/* ---- addresses ---------------------------------------------------------- */

gboolean probe_mac_equal (const ProbeMac *a, const ProbeMac *b);
gboolean probe_mac_parse (const char *text, ProbeMac *out);
/* Formats as "aa:bb:cc:dd:ee:ff" into BUF (at least 18 bytes). */
const char *probe_mac_to_string (const ProbeMac *mac, char *buf);
void probe_mac_random (ProbeMac *out);

gboolean probe_ipv4_from_string (const char *text, guint32 *out);
/* Formats as dotted quad into BUF (at least 16 bytes). */
const char *probe_ipv4_to_string (guint32 addr, char *buf);
int probe_netmask_prefix (guint32 mask);

/* ---- checksum ------------------------------------------------------------ */

/* Adds LEN bytes to a running one's-complement sum. Only the last chunk
 * of a sum may have an odd length. */
guint32 probe_csum_add (guint32 sum, const guint8 *data, gsize len);
guint16 probe_csum_finish (guint32 sum);
/* The pseudo-header part of a UDP or TCP checksum. */
guint32 probe_csum_pseudo (guint32 src, guint32 dst, guint8 proto, gsize l4_len);

/* ---- parsed views --------------------------------------------------------- */

typedef struct {
  ProbeMac dst;
  ProbeMac src;
  guint16 ethertype;
  const guint8 *payload;
  gsize payload_len;
} ProbeEth;

typedef struct {
  guint16 op;
  ProbeMac sha;
  guint32 spa;
  ProbeMac tha;
  guint32 tpa;
} ProbeArp;

typedef struct {
  guint8 ttl;
  guint8 proto;
  guint16 id;
  guint16 frag; /* flags and fragment offset as on the wire */
  guint32 src;
  guint32 dst;
  const guint8 *payload;
  gsize payload_len;
} ProbeIpv4;

typedef struct {
  guint16 sport;
  guint16 dport;
  const guint8 *payload;
  gsize payload_len;
} ProbeUdp;

typedef struct {
  guint8 type;
  guint8 code;
  guint16 id;  /* echo only */
  guint16 seq; /* echo only */
  const guint8 *payload;
  gsize payload_len;
} ProbeIcmp;

typedef struct {
  guint16 sport;
  guint16 dport;
  guint32 seq;
  guint32 ack;
  guint8 flags;
  guint16 window;
  guint16 mss; /* from the MSS option, 0 when absent */
  const guint8 *payload;
  gsize payload_len;
} ProbeTcpSeg;

/* ---- parsers: FALSE when malformed or the checksum is wrong -------------- */

gboolean probe_eth_parse (const guint8 *frame, gsize len, ProbeEth *out);
/* Ethernet/IPv4 ARP only. */
gboolean probe_arp_parse (const guint8 *data, gsize len, ProbeArp *out);
/* Trims link-layer padding; verifies the header checksum. */
gboolean probe_ipv4_parse (const guint8 *data, gsize len, ProbeIpv4 *out);
gboolean probe_ipv4_is_fragment (const ProbeIpv4 *ip);
gboolean probe_udp_parse (const ProbeIpv4 *ip, ProbeUdp *out);
gboolean probe_icmp_parse (const ProbeIpv4 *ip, ProbeIcmp *out);
gboolean probe_tcp_parse (const ProbeIpv4 *ip, ProbeTcpSeg *out);

/* ---- builders: complete Ethernet frames ------------------------------------ */

GBytes *probe_arp_frame (const ProbeMac *eth_dst, guint16 op, const ProbeMac *sha, guint32 spa,
                         const ProbeMac *tha, guint32 tpa);
GBytes *probe_ipv4_frame (const ProbeMac *dst_mac, const ProbeMac *src_mac, guint32 src,
                          guint32 dst, guint8 proto, guint16 ip_id, const guint8 *l4, gsize l4_len);

/* Transport payloads (to wrap with probe_ipv4_frame). */
GByteArray *probe_udp_build (guint32 src, guint32 dst, guint16 sport, guint16 dport,
                             const guint8 *payload, gsize len);
GByteArray *probe_icmp_echo_build (guint16 id, guint16 seq, const guint8 *payload, gsize len);
/* MSS is added as an option when non-zero. */
GByteArray *probe_tcp_build (guint32 src, guint32 dst, guint16 sport, guint16 dport, guint32 seq,
                             guint32 ack, guint8 flags, guint16 window, guint16 mss,
                             const guint8 *payload, gsize len);

/* A one-line summary of a frame, for --verbose. */
char *probe_frame_describe (const guint8 *frame, gsize len);

/* Printable ASCII copy of untrusted bytes (others become '?'). */
char *probe_sanitize (const guint8 *data, gsize len);

G_END_DECLS
