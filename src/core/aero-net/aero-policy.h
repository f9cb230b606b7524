/* aero-policy.h — verdicts on where a session may go and how much it may send.
 *
 * A policy plugin's component implements AeroPolicy. Naming a policy
 * instance in a transport's `filters` list puts the core's policy filter
 * (see aero_policy_filter_new()) into every session of that transport: the
 * filter parses frames and asks the policy
 *   - check_flow:      may the guest open this flow (protocol, address, port)?
 *   - check_name:      may the guest resolve this name?
 *   - note_resolution: may this address, which a name resolved to, reach
 *                      the guest (DNS rebinding)? The policy may remember it.
 *   - check_traffic:   may these bytes pass now (rates, quotas)?
 * tells it when a flow it allowed has ended (flow_closed), and turns
 * refusals into answers on the wire: a TCP reset, an ICMP
 * administratively-prohibited error, a DNS NXDOMAIN or REFUSED answer, or
 * the end of the session. The policy decides; the filter does the wire
 * work (see aero_policy_filter_new() for exactly what it does). */
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
 * AeroDnsRefusal:
 * @AERO_DNS_REFUSAL_NXDOMAIN: answer NXDOMAIN (rcode 3): the name does not exist.
 * @AERO_DNS_REFUSAL_REFUSED: answer REFUSED (rcode 5).
 *
 * How the filter answers a query for a name the policy refused.
 */
typedef enum {
  AERO_DNS_REFUSAL_NXDOMAIN,
  AERO_DNS_REFUSAL_REFUSED,
} AeroDnsRefusal;

/**
 * AeroRebindingAction:
 * @AERO_REBINDING_STRIP: remove the refused addresses from the answer and
 *   pass the rest.
 * @AERO_REBINDING_REFUSE: replace the whole answer by a REFUSED answer.
 *
 * What the filter does with a DNS answer holding an address that
 * note_resolution refused.
 */
typedef enum {
  AERO_REBINDING_STRIP,
  AERO_REBINDING_REFUSE,
} AeroRebindingAction;

/**
 * AeroPolicyOptions:
 * @dns_refusal: the answer to a query for a refused name
 * @rebinding: what to do with an answer holding a refused address
 * @udp_refusal_icmp: %TRUE: a refused UDP datagram or ICMP echo request
 *   is answered with an ICMP/ICMPv6 administratively-prohibited error;
 *   %FALSE: it is dropped silently. (Refused TCP always gets a reset.)
 * @max_flows: bound of the filter's flow table per session
 * @tcp_idle_timeout_ms: an established TCP flow without traffic for this
 *   long is reset in the stack and at the guest, and reported closed
 * @udp_idle_timeout_ms: a UDP flow whose guest address and port have seen
 *   no datagram, either way, for this long (the stack's socket is per
 *   guest address and port), or an ICMP echo flow without traffic for this
 *   long, is forgotten (and reported closed)
 * @reserved: for future options; zero
 *
 * How the filter acts on the policy's refusals. aero_policy_get_options()
 * fills in the defaults before the policy's get_options sees the struct.
 */
typedef struct {
  AeroDnsRefusal dns_refusal;
  AeroRebindingAction rebinding;
  gboolean udp_refusal_icmp;
  guint max_flows;
  guint64 tcp_idle_timeout_ms;
  guint64 udp_idle_timeout_ms;
  gpointer reserved[4];
} AeroPolicyOptions;

/** AERO_POLICY_DEFAULT_MAX_FLOWS: default flow table bound per session. */
#define AERO_POLICY_DEFAULT_MAX_FLOWS 4096
/** AERO_POLICY_DEFAULT_TCP_IDLE_MS: default TCP idle timeout (1 hour). */
#define AERO_POLICY_DEFAULT_TCP_IDLE_MS (3600 * 1000)
/** AERO_POLICY_DEFAULT_UDP_IDLE_MS: default UDP idle timeout (60 s). */
#define AERO_POLICY_DEFAULT_UDP_IDLE_MS (60 * 1000)

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
 *   static snake_case string naming why (for metrics and logs). Called
 *   once per new flow: a TCP SYN, the first UDP datagram between two
 *   endpoints, the first ICMP echo request of an identifier; and for every
 *   packet of other IP protocols (port 0). An allowed TCP, UDP or ICMP
 *   flow is later reported to @flow_closed exactly once, unless the
 *   session closes first.
 * @check_name: optional; %TRUE to allow resolving @name (lower case, no
 *   trailing dot, every byte of a label other than a letter, a digit, '-'
 *   or '_' escaped as `\DDD`). Also asked about CNAME targets in answers.
 * @check_traffic: optional; rate and quota decision for @bytes in
 *   direction @dir. On %AERO_TRAFFIC_CLOSE set *@close_reason.
 * @flow_closed: optional; a flow @check_flow allowed has ended (FIN both
 *   ways, a reset, an idle timeout or eviction from the flow table).
 * @note_resolution: optional; @name, which @check_name allowed, resolved to
 *   @address (a DNS answer on its way to the guest). %TRUE lets the
 *   address reach the guest; %FALSE (with *@reason set) makes the filter
 *   strip or refuse it as the options say.
 * @get_options: optional; adjust the filter's options, already holding the
 *   defaults. Called once per session, when its filter is created.
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
  void (*flow_closed) (AeroPolicy *self, AeroSession *session, const AeroFlow *flow);
  gboolean (*note_resolution) (AeroPolicy *self, AeroSession *session, const char *name,
                               GSocketFamily family, const guint8 *address, const char **reason);
  void (*get_options) (AeroPolicy *self, AeroPolicyOptions *options);

  gpointer padding[5];
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
 * aero_policy_flow_closed:
 * @self: a policy
 * @session: the session
 * @flow: a flow aero_policy_check_flow() allowed
 *
 * Tells the policy that @flow has ended.
 */
void aero_policy_flow_closed (AeroPolicy *self, AeroSession *session, const AeroFlow *flow);

/**
 * aero_policy_note_resolution:
 * @self: a policy
 * @session: the session
 * @name: the name the guest asked for
 * @family: %G_SOCKET_FAMILY_IPV4 or %G_SOCKET_FAMILY_IPV6
 * @address: (array): the address, 4 or 16 bytes in network order
 * @reason: (out) (transfer none) (optional): why it was refused
 *
 * Tells the policy that @name resolved to @address, and asks whether the
 * address may be handed to the guest.
 *
 * Returns: %TRUE when the address may reach the guest (also when
 *   unimplemented).
 */
gboolean aero_policy_note_resolution (AeroPolicy *self, AeroSession *session, const char *name,
                                      GSocketFamily family, const guint8 *address,
                                      const char **reason);

/**
 * aero_policy_get_options:
 * @self: a policy
 * @options: (out caller-allocates): where the options go
 *
 * Fills @options with the defaults (NXDOMAIN, strip, ICMP on refused UDP,
 * %AERO_POLICY_DEFAULT_MAX_FLOWS, the default idle timeouts) and lets the
 * policy adjust them.
 */
void aero_policy_get_options (AeroPolicy *self, AeroPolicyOptions *options);

/**
 * aero_policy_filter_new:
 * @policy: a policy
 * @session: the session
 *
 * Creates the core's generic policy filter for one session. For every
 * frame it asks check_traffic first (a DROP verdict drops the frame; a
 * CLOSE verdict closes the session with the given reason). Then it parses
 * Ethernet (one 802.1Q tag), IPv4 and IPv6 and:
 *
 *   - tracks flows in a table bounded by the options' max_flows, for as
 *     long as a NAT stack such as libslirp may hold their host socket: TCP
 *     from the guest's SYN through the stack's SYN-ACK to a reset (from the
 *     guest: only once the stack has answered, at its next sequence number
 *     inside the stack's window, which the stack certainly takes), or to
 *     FIN both ways with the stack's FIN acknowledged by the guest (and the
 *     stack's TIME_WAIT when it closed first); an established TCP flow
 *     idle for the idle timeout is reset in the stack and at the guest. UDP
 *     until idle, on the clock of the guest's address and port (any
 *     datagram through them, either way, from any remote; 15 s once a
 *     lookup the guest sent to port 53 is answered, as libslirp then
 *     closes the socket after 10 s); ICMP echo until idle. At most 64
 *     IPv4 echo requests of a session wait for their reply at once (245 s
 *     at most): libslirp holds a host socket for each; more are dropped. When the table is full, closed and ICMP entries
 *     are evicted least recently used first; open TCP and UDP flows the
 *     policy allowed never are (their count is what its limits are
 *     about): a new flow is then refused (TCP with a reset) and a warning
 *     logged once per session. Only a flow's first packet is checked;
 *     segments of unknown TCP flows other than a SYN are dropped and
 *     answered with a reset;
 *   - on a refused TCP SYN sends the guest a reset (RST|ACK, ACK = SYN
 *     sequence + 1 + data length); on a refused UDP datagram or ICMP echo
 *     request an ICMP type 3 code 13 / ICMPv6 type 1 code 1 error quoting
 *     the packet (or nothing, as the options say; never for broadcast or
 *     multicast destinations); other refused packets are dropped;
 *   - reads every UDP datagram from the guest to port 53 as a DNS query
 *     and asks check_name about its question; a refused name is answered
 *     with NXDOMAIN or REFUSED built from the query. Queries it cannot
 *     parse (no or several questions, not a query, fragmented) are dropped;
 *   - reads every UDP datagram from port 53 to the guest as a DNS answer
 *     and passes each A and AAAA record to note_resolution and each CNAME
 *     target of the answer section to check_name; refused addresses are
 *     stripped (the answer is rebuilt with correct lengths and checksums)
 *     or the whole answer is replaced by REFUSED; a refused CNAME target
 *     turns it into the answer for a refused name. An answer that cannot
 *     be read (one without a question passes only if it holds no records)
 *     or a fragmented one is dropped;
 *   - drops fragmented TCP, IPv4 packets with source-route options and
 *     IPv6 packets with a routing header that still has segments left.
 *
 * A query or answer the filter answers or rewrites itself is consumed;
 * every other refused frame counts as a drop of the session. The core
 * calls this for policies named in a transport's `filters` key; embedders
 * may call it themselves.
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
