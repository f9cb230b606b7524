/* slirp-guard.h — what happens to each frame from the guest before
 * libslirp sees it.
 *
 * libslirp 4.7 connects to whatever address the guest names: a loopback or
 * unspecified address reaches the host itself, an address of the virtual
 * network other than the gateway reaches the real host of that address
 * (DNS included, once its own forwarder is off), and every address of the
 * IPv6 prefix maps to the host's ::1. The guard lets through only what the
 * virtual LAN is meant to offer:
 *
 *   - loopback and unspecified destinations (127/8, 0/8, ::1, ::,
 *     ::ffff:0:0/96) are refused;
 *   - the gateway takes ICMP and DHCP; other traffic to it reaches the
 *     host's loopback only with host-loopback = true;
 *   - the DNS address takes ICMP and UDP port 53, which goes to our DNS
 *     server instead of libslirp;
 *   - a virtual service address takes TCP/UDP to its configured ports
 *     (rewritten to the host endpoint) and nothing else;
 *   - any other address of the virtual network or IPv6 prefix is refused;
 *   - the host endpoints of virtual services are reachable only through
 *     their virtual addresses (which keeps the reverse rewrite exact);
 *   - on IPv6, link-local and multicast destinations take ICMPv6 (NDP) and
 *     DHCPv6 only, and ICMPv6 echo requests are for the gateway and DNS
 *     addresses only (libslirp cannot relay others).
 *
 * A refused TCP segment is answered with a reset; anything else refused is
 * dropped. */
#pragma once

#include "packet.h"
#include "slirp-settings.h"

G_BEGIN_DECLS

typedef enum {
  AERO_SLIRP_GUARD_PASS,
  AERO_SLIRP_GUARD_DNS,
  AERO_SLIRP_GUARD_SERVICE,
  AERO_SLIRP_GUARD_ARP_SERVICE,
  AERO_SLIRP_GUARD_REFUSE,
} AeroSlirpGuardVerdict;

AeroSlirpGuardVerdict aero_slirp_guard_classify (const AeroSlirpSettings *settings,
                                                 const AeroPacket *pkt,
                                                 const AeroSlirpService **service,
                                                 const char **reason);

G_END_DECLS
