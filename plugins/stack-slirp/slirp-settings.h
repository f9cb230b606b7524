/* slirp-settings.h — the validated configuration of one stack-slirp
 * instance: the virtual network, DNS and virtual services.
 *
 *   [lan]
 *   plugin = stack-slirp
 *   network = 10.0.2.0/24       ; IPv4 network/prefix of the guest LAN
 *   gateway = 10.0.2.2          ; default: network + 2
 *   dns = 10.0.2.3              ; default: network + 3
 *   dhcp-start = 10.0.2.15      ; first of 16 DHCP leases; default: network + 15
 *   mtu = 1500                  ; 68..65520 (1280.. with IPv6)
 *   offload = false             ; clients segment: frames up to 64 KiB both ways
 *   merge = true                ; a guest's consecutive TCP segments reach libslirp as one
 *   hostname =                  ; optional DHCP host name option
 *   domain =                    ; optional DHCP domain name
 *   search =                    ; optional DHCP search domains (list)
 *   ipv6 = false
 *   ipv6-prefix = fd00::/64     ; a /64 (SLAAC)
 *   ipv6-gateway = fd00::2      ; default: prefix + 2
 *   ipv6-dns = fd00::3          ; default: prefix + 3
 *   host-loopback = false       ; may the gateway address reach the host's loopback?
 *   dns-cache-entries = 256     ; 0 disables the cache
 *   dns-cache-ttl = 60s         ; lifetime of a resolved answer
 *   dns-timeout = 5s            ; a lookup taking longer answers SERVFAIL
 *   dns-max-pending = 64        ; concurrent lookups per session
 *   dns-max-lookups = 128       ; concurrent lookups of all sessions together
 *                               ; (a timed-out lookup counts, in both limits,
 *                               ; until the host resolver returns)
 *
 *   [lan.dns]                   ; static names, answered first
 *   printer.lan = 10.0.2.50, fd00::50
 *
 *   [lan.services]              ; guest-visible address:port → host address:port
 *   tcp:10.0.2.100:80 = 127.0.0.1:8080
 *   udp:10.0.2.100:5353 = 127.0.0.1:5353
 *
 * Settings are immutable once parsed and shared, by reference, by every
 * session of the instance. */
#pragma once

#include <aero-net/aero-net.h>

#include "dns-message.h"

G_BEGIN_DECLS

/**
 * AeroSlirpService:
 * @protocol: AERO_IPPROTO_TCP or AERO_IPPROTO_UDP
 * @guest_addr: the guest-visible IPv4 address
 * @guest_port: the guest-visible port
 * @host_addr: the host IPv4 address it maps to
 * @host_port: the host port it maps to
 * @label: "tcp:10.0.2.100:80", for logs and metrics
 */
typedef struct {
  guint8 protocol;
  guint8 guest_addr[4];
  guint16 guest_port;
  guint8 host_addr[4];
  guint16 host_port;
  char *label;
} AeroSlirpService;

/**
 * AeroSlirpStaticName:
 * @n_addresses: number of addresses
 * @addresses: the addresses, IPv4 and IPv6 mixed
 */
typedef struct {
  guint n_addresses;
  AeroDnsAddress addresses[AERO_DNS_MAX_ADDRESSES];
} AeroSlirpStaticName;

typedef struct {
  guint8 network[4];
  guint8 netmask[4];
  guint8 broadcast[4];
  guint prefix_len;
  guint8 gateway[4];
  guint8 dns[4];
  guint8 dhcp_start[4];
  guint mtu;
  gboolean offload; /* frames up to 65,535 bytes; libslirp's MTU raised for TCP */
  gboolean merge;   /* consecutive TCP segments given to libslirp as one */
  char *hostname;
  char *domain;
  char **search;

  gboolean ipv6;
  guint8 ipv6_prefix[16];
  guint ipv6_prefix_len;
  guint8 ipv6_gateway[16];
  guint8 ipv6_dns[16];

  gboolean host_loopback;

  guint dns_cache_entries;
  guint64 dns_cache_ttl_ms;
  guint64 dns_timeout_ms;
  guint dns_max_pending;
  guint dns_max_lookups;

  GHashTable *static_names; /* lower-case name → AeroSlirpStaticName */
  GPtrArray *services;      /* AeroSlirpService */
} AeroSlirpSettings;

AeroSlirpSettings *aero_slirp_settings_parse (AeroConfigGroup *group, GError **error);

AeroSlirpSettings *aero_slirp_settings_ref (AeroSlirpSettings *settings);

void aero_slirp_settings_unref (AeroSlirpSettings *settings);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroSlirpSettings, aero_slirp_settings_unref)

gboolean aero_slirp_settings_in_network (const AeroSlirpSettings *settings, const guint8 addr[4]);

gboolean aero_slirp_settings_in_ipv6_prefix (const AeroSlirpSettings *settings,
                                             const guint8 addr[16]);

const AeroSlirpService *aero_slirp_settings_find_service (const AeroSlirpSettings *settings,
                                                          guint8 protocol, const guint8 addr[4],
                                                          guint16 port, gboolean host_side);

gboolean aero_slirp_settings_is_service_address (const AeroSlirpSettings *settings,
                                                 const guint8 addr[4]);

const AeroSlirpStaticName *aero_slirp_settings_lookup_static (const AeroSlirpSettings *settings,
                                                              const char *name);

G_END_DECLS
