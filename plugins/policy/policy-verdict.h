/* policy-verdict.h — the policy's decisions as pure functions of the
 * configuration, the host's own addresses and what the session resolved:
 * may this flow be opened, may this name be resolved, may this resolved
 * address be handed to the guest. No state, no I/O: the table-driven
 * verdict test drives these directly.
 *
 * A flow, in order:
 *   1. IP protocols other than TCP, UDP, ICMP, ICMPv6: allowed in open
 *      mode only ("protocol");
 *   2. the stack's virtual services are allowed and are not flows that
 *      count against limits: DNS (TCP/UDP 53, ICMP) at a dns-address,
 *      DHCP (UDP 67) and ICMP at a gateway, DHCP to 255.255.255.255:67,
 *      DHCPv6 to ff02::1:2 port 547;
 *   3. a deny rule covering the destination (or the IPv4 address it
 *      embeds) and port refuses it ("deny_rule"), in either mode;
 *   4. open mode allows everything else;
 *   5. unless an allow rule naming addresses (not `*`) covers the
 *      destination and port: a special-use range refuses it (the range's
 *      name), so do a gateway ("gateway": the host-loopback path), any
 *      other port at a dns-address ("virtual_address") and the host's own
 *      addresses ("host_address");
 *   6. unless an allow rule (`*` included) covers it: a port outside a
 *      non-empty `ports` list refuses TCP and UDP ("port"), and with
 *      require-resolved-names a destination no permitted name resolved to
 *      is refused ("not_resolved").
 */
#pragma once

#include "policy-config.h"

G_BEGIN_DECLS

typedef enum {
  POLICY_VERDICT_DENY,
  POLICY_VERDICT_ALLOW,
  POLICY_VERDICT_SERVICE, /* a virtual service of the stack: allowed, never counted */
} PolicyVerdict;

/* Whether ADDR was handed to the guest for a permitted name. */
typedef gboolean (*PolicyResolvedFunc) (GSocketFamily family, const guint8 *addr, gpointer data);

PolicyVerdict policy_verdict_flow (const PolicyConfig *config, const GArray *host_addresses,
                                   const AeroFlow *flow, PolicyResolvedFunc resolved,
                                   gpointer resolved_data, const char **reason);

/* Step 2 alone: whether FLOW goes to a virtual service of the stack. */
gboolean policy_verdict_is_service (const PolicyConfig *config, const AeroFlow *flow);

/* NULL when NAME may be resolved, or the reason: "name_invalid",
 * "name_denied" (a deny-names pattern), "name_not_allowed" (allow-names is
 * not empty and none matches). Open mode applies deny-names only. */
const char *policy_verdict_name (const PolicyConfig *config, const char *name);

/* NULL when ADDR may be handed to the guest in a DNS answer, or why not:
 * a deny rule for every port covers it ("deny_rule"), or, in safe mode
 * and with no allow rule naming it, it is special-use (the range's name),
 * a gateway, a dns-address or a host address. */
const char *policy_verdict_answer (const PolicyConfig *config, const GArray *host_addresses,
                                   GSocketFamily family, const guint8 *addr);

/* Whether ADDR (or the IPv4 address it embeds) is in ADDRESSES. */
gboolean policy_address_in (const GArray *addresses, GSocketFamily family, const guint8 *addr);

G_END_DECLS
