/* slirp-stack.h — one session's network: a libslirp instance behind the
 * guard, the DNS server and the virtual service rewrites.
 *
 * Frames from the guest (push) are bounds-checked (14 bytes up to the MTU
 * plus an Ethernet header and a VLAN tag), classified by the guard, and
 * then given to libslirp, answered by the DNS server, rewritten toward a
 * virtual service's host endpoint, or refused. Frames from libslirp are
 * copied, get the service address back in place of the host endpoint (and
 * the MTU option in DHCP answers), and are emitted to the guest. With
 * merge, TCP segments bound for libslirp wait in the instance's burst
 * (below) until the end of the dispatch. close()
 * cancels DNS lookups and frees the Slirp with all its sockets and timers. */
#pragma once

#include <aero-net/aero-net.h>

#include "slirp-factory.h"

G_BEGIN_DECLS

#define AERO_TYPE_SLIRP_STACK (aero_slirp_stack_get_type ())
G_DECLARE_FINAL_TYPE (AeroSlirpStack, aero_slirp_stack, AERO, SLIRP_STACK, GObject)

AeroSlirpStack *aero_slirp_stack_new (AeroSlirpFactory *factory, const char *session_id,
                                      GError **error);

/* The burst of TCP segments a stack-slirp instance's sessions share
 * (merge = true): consecutive segments of one flow from one guest that
 * arrive together are given to libslirp as one segment, so that libslirp
 * runs its TCP input, acknowledges and writes to its host socket once per
 * burst instead of once per frame. One buffer serves every session: a
 * burst is handed on when another session's frame arrives and at the end
 * of the main-loop dispatch, so it never outlives the dispatch that
 * delivered it. */
typedef struct _AeroSlirpBurst AeroSlirpBurst;

/* IPV6: whether TCP over IPv6 is merged too. libslirp 4.7 answers an
 * IPv6 packet longer than its interface MTU with "packet too big"
 * (ip6_input()) instead of taking it, so only a stack with offload (MTU
 * 65520) can take merged IPv6 segments; IPv4 has no such check. */
AeroSlirpBurst *aero_slirp_burst_new (gboolean ipv6);
void aero_slirp_burst_free (AeroSlirpBurst *burst);

G_END_DECLS
