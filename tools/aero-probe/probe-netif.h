/* probe-netif.h — the probe's guest network interface on the tunnel: its
 * MAC and (once leased) IPv4 configuration, a small ARP cache, answers to
 * ARP requests for its address, and the demultiplexing of received IPv4
 * packets to the UDP, ICMP and TCP handlers of the steps. Frames that are
 * not for this interface are counted and ignored. */
#pragma once

#include "probe-packet.h"
#include "probe-tunnel.h"

G_BEGIN_DECLS

#define PROBE_NETIF_MAX_UDP 4
#define PROBE_NETIF_ARP_CACHE 16

typedef struct _ProbeNetif ProbeNetif;

typedef void (*ProbeUdpFunc) (const ProbeIpv4 *ip, const ProbeUdp *udp, gpointer user_data);
typedef void (*ProbeIcmpFunc) (const ProbeIpv4 *ip, const ProbeIcmp *icmp, gpointer user_data);
typedef void (*ProbeTcpFunc) (const ProbeIpv4 *ip, const ProbeTcpSeg *seg, gpointer user_data);

typedef struct {
  guint64 frames_ignored;  /* not addressed to us, or not IPv4/ARP */
  guint64 packets_invalid; /* malformed or bad checksum */
  guint64 fragments;       /* IPv4 fragments (not reassembled) */
  guint64 arp_answered;    /* ARP requests for our address we answered */
} ProbeNetifStats;

struct _ProbeNetif {
  ProbeTunnel *tunnel;
  ProbeMac mac;
  gboolean verbose;

  /* Zero until the DHCP lease is applied. */
  guint32 ip;
  guint32 netmask;
  guint32 router;
  guint mtu;

  guint16 ip_id;
  ProbeNetifStats stats;

  struct {
    guint32 ip;
    ProbeMac mac;
    gboolean valid;
  } arp_cache[PROBE_NETIF_ARP_CACHE];
  guint arp_next;

  struct {
    guint16 port;
    ProbeUdpFunc func;
    gpointer data;
  } udp[PROBE_NETIF_MAX_UDP];
  ProbeIcmpFunc icmp_func;
  gpointer icmp_data;
  ProbeTcpFunc tcp_func;
  gpointer tcp_data;
};

ProbeNetif *probe_netif_new (ProbeTunnel *tunnel, const ProbeMac *mac, gboolean verbose);
void probe_netif_free (ProbeNetif *netif);

void probe_netif_configure (ProbeNetif *netif, guint32 ip, guint32 netmask, guint32 router,
                            guint mtu);

/* FUNC NULL removes the handler for PORT. FALSE when the table is full. */
gboolean probe_netif_set_udp_handler (ProbeNetif *netif, guint16 port, ProbeUdpFunc func,
                                      gpointer user_data);
void probe_netif_set_icmp_handler (ProbeNetif *netif, ProbeIcmpFunc func, gpointer user_data);
void probe_netif_set_tcp_handler (ProbeNetif *netif, ProbeTcpFunc func, gpointer user_data);

gboolean probe_netif_send_ipv4 (ProbeNetif *netif, const ProbeMac *dst_mac, guint32 src,
                                guint32 dst, guint8 proto, const guint8 *l4, gsize l4_len,
                                GError **error);
gboolean probe_netif_send_udp (ProbeNetif *netif, const ProbeMac *dst_mac, guint32 src,
                               guint32 dst, guint16 sport, guint16 dport, const guint8 *payload,
                               gsize len, GError **error);

gboolean probe_netif_on_link (ProbeNetif *netif, guint32 addr);
gboolean probe_netif_arp_lookup (ProbeNetif *netif, guint32 addr, ProbeMac *out);
/* Asks for ADDR's MAC (again every second) until a reply or the deadline. */
gboolean probe_netif_arp_resolve (ProbeNetif *netif, guint32 addr, gint64 deadline, ProbeMac *out,
                                  GError **error);
/* The MAC to send to for DST: DST itself when on-link, else the router. */
gboolean probe_netif_next_hop (ProbeNetif *netif, guint32 dst, gint64 deadline, ProbeMac *out,
                               GError **error);

G_END_DECLS
