/* aero-policy.h — verdicts on where a session may go and how much it may send.
 *
 * A policy plugin's component implements AeroPolicy. Naming a policy
 * instance in a transport's `filters` list puts the core's policy filter
 * (see aero_policy_filter_new()) into every session of that transport: the
 * filter parses frames and asks the policy
 *   - check_flow:    may the guest open this flow (protocol, address, port)?
 *   - check_name:    may the guest resolve this name?
 *   - check_traffic: may these bytes pass now (rates, quotas)?
 * and turns refusals into answers on the wire. */
#pragma once

#include <gio/gio.h>
#include <aero-net/aero-component.h>
#include <aero-net/aero-channel.h>
#include <aero-net/aero-filter.h>

G_BEGIN_DECLS

typedef struct _AeroSession AeroSession;

/**
 * AeroFlow:
 * @family: %G_SOCKET_FAMILY_IPV4 or %G_SOCKET_FAMILY_IPV6
 * @protocol: IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6)
 * @destination: destination address in network order (IPv4: first 4 bytes)
 * @port: destination port (0 for ICMP)
 * @source: source address in network order
 * @source_port: source port (0 for ICMP)
 *
 * A new flow the guest wants to open, as parsed from its first packet.
 */
typedef struct {
  GSocketFamily family;
  guint8 protocol;
  guint8 destination[16];
  guint16 port;
  guint8 source[16];
  guint16 source_port;
} AeroFlow;

/**
 * AeroDirection:
 * @AERO_DIRECTION_FROM_GUEST: guest to host.
 * @AERO_DIRECTION_TO_GUEST: host to guest.
 */
typedef enum {
  AERO_DIRECTION_FROM_GUEST,
  AERO_DIRECTION_TO_GUEST,
} AeroDirection;

/**
 * AeroTrafficVerdict:
 * @AERO_TRAFFIC_PASS: send it.
 * @AERO_TRAFFIC_DROP: drop this frame (a rate limit), keep the session.
 * @AERO_TRAFFIC_CLOSE: end the session (a quota is spent).
 */
typedef enum {
  AERO_TRAFFIC_PASS,
  AERO_TRAFFIC_DROP,
  AERO_TRAFFIC_CLOSE,
} AeroTrafficVerdict;

#define AERO_TYPE_POLICY (aero_policy_get_type ())
G_DECLARE_INTERFACE (AeroPolicy, aero_policy, AERO, POLICY, AeroComponent)

/**
 * AeroPolicyInterface:
 * @session_opened: optional; set up per-session state.
 * @session_closed: optional; drop per-session state.
 * @check_flow: optional; %TRUE to allow. On refusal set *@reason to a
 *   static snake_case string naming why (for metrics and logs).
 * @check_name: optional; %TRUE to allow resolving @name.
 * @check_traffic: optional; rate and quota decision for @bytes in
 *   direction @dir. On %AERO_TRAFFIC_CLOSE set *@close_reason.
 */
struct _AeroPolicyInterface
{
  GTypeInterface g_iface;

  void (*session_opened) (AeroPolicy *self, AeroSession *session);
  void (*session_closed) (AeroPolicy *self, AeroSession *session);
  gboolean (*check_flow) (AeroPolicy *self, AeroSession *session, const AeroFlow *flow,
                          const char **reason);
  gboolean (*check_name) (AeroPolicy *self, AeroSession *session, const char *name,
                          const char **reason);
  AeroTrafficVerdict (*check_traffic) (AeroPolicy *self, AeroSession *session, AeroDirection dir,
                                       gsize bytes, AeroCloseReason *close_reason);

  gpointer padding[8];
};

/**
 * aero_policy_check_flow:
 * @self: a policy
 * @session: the session
 * @flow: the new flow
 * @reason: (out) (transfer none) (optional): why it was refused
 *
 * Returns: %TRUE when the flow is allowed (also when unimplemented).
 */
gboolean aero_policy_check_flow (AeroPolicy *self, AeroSession *session, const AeroFlow *flow,
                                 const char **reason);

/**
 * aero_policy_check_name:
 * @self: a policy
 * @session: the session
 * @name: a DNS name
 * @reason: (out) (transfer none) (optional): why it was refused
 *
 * Returns: %TRUE when the name may be resolved (also when unimplemented).
 */
gboolean aero_policy_check_name (AeroPolicy *self, AeroSession *session, const char *name,
                                 const char **reason);

/**
 * aero_policy_check_traffic:
 * @self: a policy
 * @session: the session
 * @dir: direction
 * @bytes: frame length
 * @close_reason: (out) (optional): set when the verdict is CLOSE
 *
 * Returns: the verdict (PASS when unimplemented).
 */
AeroTrafficVerdict aero_policy_check_traffic (AeroPolicy *self, AeroSession *session,
                                              AeroDirection dir, gsize bytes,
                                              AeroCloseReason *close_reason);

/**
 * aero_policy_filter_new:
 * @policy: a policy
 * @session: the session
 *
 * Creates the core's generic policy filter for one session: it parses
 * Ethernet/IPv4/IPv6 frames, asks @policy about new TCP, UDP and ICMP
 * flows and about traffic, drops what is refused and closes the session
 * when a quota is spent. The core calls this for policies named in a
 * transport's `filters` key; embedders may call it themselves.
 *
 * Returns: (transfer full): the filter.
 */
AeroFilter *aero_policy_filter_new (AeroPolicy *policy, AeroSession *session);

/**
 * aero_flow_parse:
 * @frame: (array length=len): an Ethernet frame
 * @len: its length
 * @flow: (out caller-allocates): the parsed flow
 * @is_new: (out) (optional): whether the packet opens a flow (TCP SYN
 *   without ACK; always %TRUE for UDP and ICMP echo requests)
 *
 * Parses the IP header and the ports of an Ethernet frame (IPv4, IPv6 with
 * extension headers skipped, one 802.1Q tag allowed). Bounds-checked.
 *
 * Returns: %TRUE when the frame carries TCP, UDP, ICMP or ICMPv6 over IP.
 */
gboolean aero_flow_parse (const guint8 *frame, gsize len, AeroFlow *flow, gboolean *is_new);

G_END_DECLS
