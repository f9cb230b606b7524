/* policy-ranges.h — the special-use address ranges the policy denies by
 * default (PROTOCOLS.md §8 and the IANA special-purpose registries), and
 * the IPv4 address an IPv6 address embeds.
 *
 * policy_range_classify() names the range a destination falls in, or
 * returns NULL for an ordinary global address. IPv6 forms that carry an
 * IPv4 address (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) are judged by the IPv4 address they embed;
 * IPv6 outside the global unicast block 2000::/3 is denied as reserved. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Range names (also the denial reasons of metrics and logs). */
#define POLICY_RANGE_UNSPECIFIED "unspecified"
#define POLICY_RANGE_LOOPBACK "loopback"
#define POLICY_RANGE_PRIVATE "private"
#define POLICY_RANGE_CGNAT "cgnat"
#define POLICY_RANGE_LINK_LOCAL "link_local"
#define POLICY_RANGE_MULTICAST "multicast"
#define POLICY_RANGE_BROADCAST "broadcast"
#define POLICY_RANGE_DOCUMENTATION "documentation"
#define POLICY_RANGE_RESERVED "reserved"

/* The range ADDR (4 bytes for IPv4, 16 for IPv6) is in, or NULL. */
const char *policy_range_classify (GSocketFamily family, const guint8 *addr);

/* Whether the IPv6 address ADDR embeds an IPv4 address (mapped,
 * compatible, NAT64 well-known prefix, 6to4); the address goes to OUT. */
gboolean policy_ipv6_embedded_ipv4 (const guint8 addr[16], guint8 out[4]);

G_END_DECLS
