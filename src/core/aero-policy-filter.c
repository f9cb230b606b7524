/* aero-policy-filter.c — the core's generic policy filter: it applies one
 * AeroPolicy to one session's frames. The policy decides; this file does
 * the wire work: it tracks flows so that only their first packet is
 * judged, answers refused TCP with a reset and refused UDP/ICMP with an
 * ICMP administratively-prohibited error, answers DNS queries for refused
 * names itself, and rewrites DNS answers that point at refused addresses
 * (see aero_policy_filter_new() in aero-policy.h for the full list). */
#include <string.h>

#include "aero-dns-wire.h"
#include "aero-flow-table.h"
#include "aero-ip-packet.h"
#include "aero-net/aero-log.h"
#include "aero-net/aero-policy.h"
#include "aero-net/aero-session.h"

#define COMPONENT "policy-filter"
#define DNS_PORT 53
#define SWEEP_INTERVAL_S 5

#define AERO_TYPE_POLICY_FILTER (aero_policy_filter_get_type ())
G_DECLARE_FINAL_TYPE (AeroPolicyFilter, aero_policy_filter, AERO, POLICY_FILTER, GObject)

struct _AeroPolicyFilter
{
  GObject parent_instance;
  AeroPolicy *policy;
  AeroSession *session; /* unowned: the session owns the filter */
  AeroPolicyOptions options;
  AeroFlowTable *flows;
  guint sweep_timer;
  gboolean warned_full; /* the table was full once: said in the log */
  /* IPv4 echo requests passed and not answered yet, oldest first: a ring
   * of their times (allocated with the first one). */
  gint64 *echo_pending;
  guint echo_head;
  guint echo_count;
};

/* libslirp 4.7 opens a host ICMP socket for every IPv4 echo request to an
 * outside address (icmp_send() in ip_icmp.c) and closes it on the reply,
 * or 240 s later (SO_EXPIRE) when none comes: a guest pinging a silent
 * host would hold a socket per request. At most this many requests are
 * waiting for their reply in one session; more are dropped. (IPv6 echo
 * requests get no socket in libslirp 4.7: it answers its own addresses
 * only.) */
#define ECHO_PENDING_MAX 64
#define ECHO_PENDING_US (245 * G_USEC_PER_SEC)

static void aero_policy_filter_iface_init (AeroFilterInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AeroPolicyFilter, aero_policy_filter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FILTER, aero_policy_filter_iface_init))

/* ---- helpers -------------------------------------------------------------- */

static void
flow_from_packet (const AeroIpPacket *pkt, AeroFlow *flow)
{
  gsize alen = pkt->version == 4 ? 4 : 16;
  gboolean ports = pkt->protocol == AERO_IPPROTO_TCP || pkt->protocol == AERO_IPPROTO_UDP;

  memset (flow, 0, sizeof *flow);
  flow->family = pkt->version == 4 ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6;
  flow->protocol = pkt->protocol;
  memcpy (flow->destination, pkt->dst, alen);
  memcpy (flow->source, pkt->src, alen);
  flow->port = ports ? pkt->dport : 0;
  flow->source_port = ports ? pkt->sport : 0;
}

/* The table key of PKT, in the guest's orientation. */
static void
key_from_packet (const AeroIpPacket *pkt, gboolean from_guest, AeroFlowKey *key)
{
  gsize alen = pkt->version == 4 ? 4 : 16;

  memset (key, 0, sizeof *key);
  key->family = (guint8) pkt->version;
  key->protocol = pkt->protocol;
  memcpy (key->guest, from_guest ? pkt->src : pkt->dst, alen);
  memcpy (key->remote, from_guest ? pkt->dst : pkt->src, alen);
  key->guest_port = from_guest ? pkt->sport : pkt->dport;
  key->remote_port = from_guest ? pkt->dport : pkt->sport;
}

static void
send_to_guest (AeroPolicyFilter *self, GBytes *frame)
{
  if (frame == NULL)
    return;
  aero_session_send_to_guest (self->session, frame);
  g_bytes_unref (frame);
}

static gboolean
sweep_cb (gpointer data)
{
  AeroPolicyFilter *self = data;

  if (aero_flow_table_expire (self->flows, g_get_monotonic_time ()) > 0)
    return G_SOURCE_CONTINUE;
  self->sweep_timer = 0;
  return G_SOURCE_REMOVE;
}

static AeroFlowEntry *
add_flow (AeroPolicyFilter *self, const AeroFlowKey *key, const AeroFlow *flow,
          AeroFlowState state, gboolean counted, gint64 now)
{
  AeroFlowEntry *entry = aero_flow_table_insert (self->flows, key, flow, state, counted, now);

  if (self->sweep_timer == 0)
    self->sweep_timer = g_timeout_add_seconds (SWEEP_INTERVAL_S, sweep_cb, self);
  return entry;
}

static void
on_flow_closed (const AeroFlow *flow, gpointer data)
{
  AeroPolicyFilter *self = data;

  aero_policy_flow_closed (self->policy, self->session, flow);
}

/* An established TCP flow idle for the TCP idle timeout: the stack (libslirp
 * has no keep-alive) would keep its host connection open for ever, so the
 * flow is reset in the stack, at the stack's last acknowledgement (libslirp
 * takes a reset at or before the next sequence number it expects), and at
 * the guest, at the guest's last acknowledgement. */
static void
on_flow_idle (const AeroFlowEntry *entry, gpointer data)
{
  AeroPolicyFilter *self = data;
  const AeroFlowKey *key = &entry->key;
  g_autoptr (GBytes) rst = NULL;

  if (entry->l2_len == 0)
    return;
  rst = aero_ip_packet_build_tcp (entry->l2, entry->l2_len, FALSE, key->family, key->guest,
                                  key->remote, key->guest_port, key->remote_port, entry->stack_ack,
                                  0, AERO_TCP_RST);
  aero_session_send_to_stack (self->session, rst);
  if (entry->guest_ack_known)
    send_to_guest (self, aero_ip_packet_build_tcp (entry->l2, entry->l2_len, TRUE, key->family,
                                                   key->remote, key->guest, key->remote_port,
                                                   key->guest_port, entry->guest_ack, 0,
                                                   AERO_TCP_RST));
  AERO_LOG_DEBUG (COMPONENT, "session", aero_session_get_id (self->session), "reason",
                  "tcp_idle_reset", "MESSAGE", "idle TCP flow reset in the stack and at the guest");
}

/* Asks the policy about a new flow; on refusal answers the guest the way
 * the protocol and the options say. */
static gboolean
flow_allowed (AeroPolicyFilter *self, const AeroIpPacket *pkt, AeroFlow *flow)
{
  flow_from_packet (pkt, flow);
  if (aero_policy_check_flow (self->policy, self->session, flow, NULL))
    return TRUE;
  if (pkt->protocol == AERO_IPPROTO_TCP)
    {
      if (!aero_ip_packet_is_group_address (pkt->version, pkt->dst))
        send_to_guest (self, aero_ip_packet_build_rst (pkt));
    }
  else if ((pkt->protocol == AERO_IPPROTO_UDP || pkt->protocol == AERO_IPPROTO_ICMP ||
            pkt->protocol == AERO_IPPROTO_ICMPV6) &&
           self->options.udp_refusal_icmp)
    send_to_guest (self, aero_ip_packet_build_prohibited (pkt));
  return FALSE;
}

static AeroFilterVerdict
traffic_verdict (AeroPolicyFilter *self, AeroDirection dir, gsize len)
{
  AeroCloseReason why = AERO_CLOSE_POLICY;

  switch (aero_policy_check_traffic (self->policy, self->session, dir, len, &why))
    {
    case AERO_TRAFFIC_PASS:
      return AERO_FILTER_PASS;
    case AERO_TRAFFIC_CLOSE:
      aero_session_close (self->session, why, aero_close_reason_to_string (why));
      return AERO_FILTER_DROP;
    case AERO_TRAFFIC_DROP:
    default:
      return AERO_FILTER_DROP;
    }
}

static guint
refusal_rcode (AeroPolicyFilter *self)
{
  return self->options.dns_refusal == AERO_DNS_REFUSAL_REFUSED ? AERO_DNS_RCODE_REFUSED
                                                               : AERO_DNS_RCODE_NXDOMAIN;
}

static void
log_dropped (AeroPolicyFilter *self, const char *what)
{
  AERO_LOG_DEBUG (COMPONENT, "session", aero_session_get_id (self->session), "reason", what,
                  "MESSAGE", "frame dropped: %s", what);
}

/* Whether the flow table has room for a new flow: it may be full of open
 * flows that hold sockets in the stack, which are never forgotten to make
 * room (their count is what the policy's limits are about). */
static gboolean
room_for_flow (AeroPolicyFilter *self)
{
  if (aero_flow_table_make_room (self->flows))
    return TRUE;
  if (!self->warned_full)
    {
      char max[16];

      self->warned_full = TRUE;
      g_snprintf (max, sizeof max, "%u", self->options.max_flows);
      AERO_LOG_WARNING (COMPONENT, "session", aero_session_get_id (self->session), "reason",
                        "flow_table_full", "max_flows", max, "MESSAGE",
                        "flow table full (%u open flows): new flows of this session are refused "
                        "until some close",
                        self->options.max_flows);
    }
  log_dropped (self, "flow_table_full");
  return FALSE;
}

/* The sequence space a TCP segment takes: its payload, SYN and FIN. */
static guint32
tcp_segment_length (const AeroIpPacket *pkt)
{
  return (guint32) (pkt->end - pkt->l4 - pkt->l4_header_len)
         + ((pkt->tcp_flags & AERO_TCP_SYN) ? 1 : 0) + ((pkt->tcp_flags & AERO_TCP_FIN) ? 1 : 0);
}

/* ---- DNS ------------------------------------------------------------------ */

static AeroFilterVerdict
dns_query (AeroPolicyFilter *self, const AeroIpPacket *pkt)
{
  const guint8 *msg = pkt->frame + pkt->l4 + 8;
  gsize len = pkt->end - pkt->l4 - 8;
  AeroDnsQuestion q;
  g_autoptr (GBytes) answer = NULL;

  if (!aero_dns_wire_parse_question (msg, len, FALSE, &q))
    {
      log_dropped (self, "dns_query_unreadable");
      return AERO_FILTER_DROP;
    }
  if (aero_policy_check_name (self->policy, self->session, q.name, NULL))
    return AERO_FILTER_PASS;
  answer = aero_dns_wire_build_error (msg, &q, refusal_rcode (self));
  send_to_guest (self, aero_ip_packet_build_udp (pkt, TRUE, g_bytes_get_data (answer, NULL),
                                                 g_bytes_get_size (answer)));
  return AERO_FILTER_CONSUMED;
}

static gboolean
answer_check_name (const char *name, gpointer data)
{
  AeroPolicyFilter *self = data;

  return aero_policy_check_name (self->policy, self->session, name, NULL);
}

static gboolean
answer_check_address (const char *qname, GSocketFamily family, const guint8 *address,
                      gpointer data)
{
  AeroPolicyFilter *self = data;

  return aero_policy_note_resolution (self->policy, self->session, qname, family, address, NULL);
}

static AeroFilterVerdict
dns_answer (AeroPolicyFilter *self, const AeroIpPacket *pkt)
{
  const guint8 *msg = pkt->frame + pkt->l4 + 8;
  gsize len = pkt->end - pkt->l4 - 8;
  AeroDnsQuestion q;
  AeroDnsAnswerChecks checks = { answer_check_name, answer_check_address, self };
  g_autoptr (GBytes) rewritten = NULL;
  g_autoptr (GBytes) error = NULL;
  guint rcode;

  if (!aero_dns_wire_parse_question (msg, len, TRUE, &q))
    {
      /* Without a question there is no name to judge: only an answer
       * without records (FORMERR, say) may pass. */
      if (len >= AERO_DNS_HEADER_LEN && msg[6] == 0 && msg[7] == 0 && msg[8] == 0 && msg[9] == 0 &&
          msg[10] == 0 && msg[11] == 0)
        return AERO_FILTER_PASS;
      log_dropped (self, "dns_answer_unreadable");
      return AERO_FILTER_DROP;
    }
  switch (aero_dns_wire_filter_answer (msg, len, &q,
                                       self->options.rebinding == AERO_REBINDING_STRIP, &checks,
                                       &rewritten))
    {
    case AERO_DNS_ANSWER_PASS:
      return AERO_FILTER_PASS;
    case AERO_DNS_ANSWER_STRIPPED:
      send_to_guest (self, aero_ip_packet_build_udp (pkt, FALSE, g_bytes_get_data (rewritten, NULL),
                                                     g_bytes_get_size (rewritten)));
      return AERO_FILTER_CONSUMED;
    case AERO_DNS_ANSWER_REFUSE:
      rcode = AERO_DNS_RCODE_REFUSED;
      break;
    case AERO_DNS_ANSWER_DENIED_NAME:
      rcode = refusal_rcode (self);
      break;
    case AERO_DNS_ANSWER_MALFORMED:
    default:
      log_dropped (self, "dns_answer_unreadable");
      return AERO_FILTER_DROP;
    }
  /* The error answer goes out as the answer did: same addresses and ports. */
  error = aero_dns_wire_build_error (msg, &q, rcode);
  send_to_guest (self, aero_ip_packet_build_udp (pkt, FALSE, g_bytes_get_data (error, NULL),
                                                 g_bytes_get_size (error)));
  return AERO_FILTER_CONSUMED;
}

/* ---- from the guest ------------------------------------------------------- */

static AeroFilterVerdict
tcp_from_guest (AeroPolicyFilter *self, const AeroIpPacket *pkt, gint64 now)
{
  AeroFlowKey key;
  AeroFlowEntry *entry;
  gboolean opening = (pkt->tcp_flags & (AERO_TCP_SYN | AERO_TCP_ACK | AERO_TCP_RST)) == AERO_TCP_SYN;

  key_from_packet (pkt, TRUE, &key);
  entry = aero_flow_table_lookup (self->flows, &key);
  if (opening && (entry == NULL || entry->state == AERO_FLOW_STATE_CLOSED))
    {
      AeroFlow flow;

      if (entry)
        aero_flow_table_remove (self->flows, entry);
      if (!room_for_flow (self))
        {
          send_to_guest (self, aero_ip_packet_build_rst (pkt));
          return AERO_FILTER_DROP;
        }
      if (!flow_allowed (self, pkt, &flow))
        return AERO_FILTER_DROP;
      entry = add_flow (self, &key, &flow, AERO_FLOW_STATE_OPENING, TRUE, now);
      aero_flow_entry_note_link (entry, pkt->frame, pkt->l3);
      aero_flow_entry_sent_by_guest (entry, pkt->tcp_seq, tcp_segment_length (pkt));
      return AERO_FILTER_PASS;
    }
  if (entry == NULL)
    {
      /* Not a flow this session opened (it expired, was evicted, or
       * belongs to a session before a reconnect): reset it so the guest
       * gives up at once instead of retransmitting into nothing. */
      if (!(pkt->tcp_flags & AERO_TCP_RST) &&
          !aero_ip_packet_is_group_address (pkt->version, pkt->dst))
        send_to_guest (self, aero_ip_packet_build_rst (pkt));
      log_dropped (self, "tcp_unknown_flow");
      return AERO_FILTER_DROP;
    }
  aero_flow_table_touch (self->flows, entry, now);
  aero_flow_entry_note_link (entry, pkt->frame, pkt->l3);
  if (pkt->tcp_flags & AERO_TCP_RST)
    {
      /* Passed on either way; but one the stack may ignore (libslirp drops
       * a reset outside its window, and every segment of a connection it
       * is still connecting) would let the flow stop counting while its
       * socket stays open. */
      if (aero_flow_entry_reset_is_valid (entry, pkt->tcp_seq))
        aero_flow_table_close (self->flows, entry, now);
      else
        log_dropped (self, "tcp_reset_not_taken");
      return AERO_FILTER_PASS;
    }
  aero_flow_entry_sent_by_guest (entry, pkt->tcp_seq, tcp_segment_length (pkt));
  if (pkt->tcp_flags & AERO_TCP_ACK)
    aero_flow_entry_acked_by_guest (entry, pkt->tcp_ack);
  if (pkt->tcp_flags & AERO_TCP_FIN)
    entry->fin_from_guest = TRUE;
  /* FIN both ways is not enough: until the guest acknowledges the stack's
   * FIN, libslirp retransmits it (for minutes) and keeps its socket. */
  if (aero_flow_entry_fin_done (entry))
    aero_flow_table_close_fin (self->flows, entry, now);
  return AERO_FILTER_PASS;
}

static AeroFilterVerdict
udp_from_guest (AeroPolicyFilter *self, const AeroIpPacket *pkt, gint64 now)
{
  AeroFlowKey key;
  AeroFlowEntry *entry;

  if (!pkt->first_fragment)
    return AERO_FILTER_PASS; /* its first fragment was judged */
  if (pkt->fragment && pkt->dport == DNS_PORT)
    {
      log_dropped (self, "dns_fragmented");
      return AERO_FILTER_DROP;
    }
  key_from_packet (pkt, TRUE, &key);
  entry = aero_flow_table_lookup (self->flows, &key);
  if (entry == NULL)
    {
      AeroFlow flow;

      if (!room_for_flow (self) || !flow_allowed (self, pkt, &flow))
        return AERO_FILTER_DROP;
      add_flow (self, &key, &flow, AERO_FLOW_STATE_OPEN, TRUE, now);
    }
  aero_flow_table_udp_passed (self->flows, &key, FALSE, now);
  if (pkt->dport == DNS_PORT)
    return dns_query (self, pkt);
  return AERO_FILTER_PASS;
}

static gboolean
is_echo_request (const AeroIpPacket *pkt)
{
  return pkt->has_l4 && ((pkt->protocol == AERO_IPPROTO_ICMP && pkt->icmp_type == 8) ||
                         (pkt->protocol == AERO_IPPROTO_ICMPV6 && pkt->icmp_type == 128));
}

/* An IPv4 echo request may go on to the stack (one more socket there
 * until its reply) unless ECHO_PENDING_MAX are waiting already. */
static gboolean
echo_request_fits (AeroPolicyFilter *self, gint64 now)
{
  while (self->echo_count > 0 && self->echo_pending[self->echo_head] + ECHO_PENDING_US <= now)
    {
      self->echo_head = (self->echo_head + 1) % ECHO_PENDING_MAX;
      self->echo_count--;
    }
  if (self->echo_count >= ECHO_PENDING_MAX)
    {
      log_dropped (self, "icmp_echo_pending");
      return FALSE;
    }
  if (self->echo_pending == NULL)
    self->echo_pending = g_new (gint64, ECHO_PENDING_MAX);
  self->echo_pending[(self->echo_head + self->echo_count) % ECHO_PENDING_MAX] = now;
  self->echo_count++;
  return TRUE;
}

/* An echo reply on its way to the guest: the stack let one socket go. */
static void
echo_answered (AeroPolicyFilter *self)
{
  if (self->echo_count == 0)
    return;
  self->echo_head = (self->echo_head + 1) % ECHO_PENDING_MAX;
  self->echo_count--;
}

static AeroFilterVerdict
icmp_from_guest (AeroPolicyFilter *self, const AeroIpPacket *pkt, gint64 now)
{
  AeroFlowKey key;
  AeroFlowEntry *entry;
  AeroFlow flow;

  if (!is_echo_request (pkt))
    return AERO_FILTER_PASS;
  key_from_packet (pkt, TRUE, &key);
  entry = aero_flow_table_lookup (self->flows, &key);
  if (entry)
    aero_flow_table_touch (self->flows, entry, now);
  else if (!room_for_flow (self) || !flow_allowed (self, pkt, &flow))
    return AERO_FILTER_DROP;
  else
    add_flow (self, &key, &flow, AERO_FLOW_STATE_OPEN, TRUE, now);
  if (pkt->protocol == AERO_IPPROTO_ICMP && !echo_request_fits (self, now))
    return AERO_FILTER_DROP;
  return AERO_FILTER_PASS;
}

static AeroFilterVerdict
policy_filter_from_guest (AeroFilter *filter, GBytes *frame)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (filter);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  AeroIpPacket pkt;
  AeroFlow flow;
  gint64 now;

  if (traffic_verdict (self, AERO_DIRECTION_FROM_GUEST, len) != AERO_FILTER_PASS)
    return AERO_FILTER_DROP;

  switch (aero_ip_packet_parse (data, len, &pkt))
    {
    case AERO_IP_PACKET_NOT_IP:
      return AERO_FILTER_PASS;
    case AERO_IP_PACKET_MALFORMED:
      log_dropped (self, "malformed");
      return AERO_FILTER_DROP;
    case AERO_IP_PACKET_OK:
    default:
      break;
    }
  if (pkt.source_route)
    {
      log_dropped (self, "source_route");
      return AERO_FILTER_DROP;
    }

  now = g_get_monotonic_time ();
  switch (pkt.protocol)
    {
    case AERO_IPPROTO_TCP:
      if (pkt.fragment)
        {
          log_dropped (self, "tcp_fragment");
          return AERO_FILTER_DROP;
        }
      return tcp_from_guest (self, &pkt, now);
    case AERO_IPPROTO_UDP:
      return udp_from_guest (self, &pkt, now);
    case AERO_IPPROTO_ICMP:
    case AERO_IPPROTO_ICMPV6:
      return icmp_from_guest (self, &pkt, now);
    default:
      /* Other IP protocols are not tracked: every packet is judged. */
      return flow_allowed (self, &pkt, &flow) ? AERO_FILTER_PASS : AERO_FILTER_DROP;
    }
}

/* ---- to the guest --------------------------------------------------------- */

static void
tcp_to_guest (AeroPolicyFilter *self, const AeroIpPacket *pkt, gint64 now)
{
  AeroFlowKey key;
  AeroFlowEntry *entry;

  key_from_packet (pkt, FALSE, &key);
  entry = aero_flow_table_lookup (self->flows, &key);
  if (entry == NULL)
    {
      /* A connection the stack opens towards the guest is not judged, but
       * tracked so that the guest's answers pass. */
      if ((pkt->tcp_flags & (AERO_TCP_SYN | AERO_TCP_ACK | AERO_TCP_RST)) == AERO_TCP_SYN
          && aero_flow_table_make_room (self->flows))
        add_flow (self, &key, NULL, AERO_FLOW_STATE_OPENING, FALSE, now);
      return;
    }
  aero_flow_table_touch (self->flows, entry, now);
  if (pkt->tcp_flags & AERO_TCP_ACK)
    aero_flow_entry_acked_by_stack (entry, pkt->tcp_ack, pkt->tcp_window);
  if (pkt->tcp_flags & AERO_TCP_RST)
    aero_flow_table_close (self->flows, entry, now);
  else
    {
      if ((pkt->tcp_flags & (AERO_TCP_SYN | AERO_TCP_ACK)) == (AERO_TCP_SYN | AERO_TCP_ACK) &&
          entry->state == AERO_FLOW_STATE_OPENING)
        entry->state = AERO_FLOW_STATE_OPEN;
      if (pkt->tcp_flags & AERO_TCP_FIN)
        {
          entry->fin_to_guest = TRUE;
          aero_flow_entry_fin_by_stack (entry, pkt->tcp_seq, tcp_segment_length (pkt));
        }
    }
}

static AeroFilterVerdict
policy_filter_to_guest (AeroFilter *filter, GBytes *frame)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (filter);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  AeroIpPacket pkt;
  AeroFlowKey key;
  gboolean parsed;
  gint64 now;

  parsed = aero_ip_packet_parse (data, len, &pkt) == AERO_IP_PACKET_OK;
  now = g_get_monotonic_time ();
  /* The stack's UDP socket received this datagram whatever happens to it
   * here, and that keeps the socket open: so it keeps its flows counted,
   * even when a rate limit drops it now. */
  if (parsed && pkt.protocol == AERO_IPPROTO_UDP && pkt.has_l4)
    {
      key_from_packet (&pkt, FALSE, &key);
      aero_flow_table_udp_passed (self->flows, &key, TRUE, now);
    }
  if (traffic_verdict (self, AERO_DIRECTION_TO_GUEST, len) != AERO_FILTER_PASS)
    return AERO_FILTER_DROP;
  if (!parsed)
    return AERO_FILTER_PASS; /* the stack's own output: nothing to judge */

  switch (pkt.protocol)
    {
    case AERO_IPPROTO_TCP:
      if (pkt.has_l4)
        tcp_to_guest (self, &pkt, now);
      return AERO_FILTER_PASS;
    case AERO_IPPROTO_UDP:
      if (!pkt.has_l4)
        return AERO_FILTER_PASS;
      if (pkt.sport == DNS_PORT)
        {
          if (pkt.fragment)
            {
              log_dropped (self, "dns_fragmented");
              return AERO_FILTER_DROP;
            }
          return dns_answer (self, &pkt);
        }
      return AERO_FILTER_PASS;
    case AERO_IPPROTO_ICMP:
      if (pkt.has_l4 && pkt.icmp_type == 0)
        echo_answered (self);
      return AERO_FILTER_PASS;
    default:
      return AERO_FILTER_PASS;
    }
}

/* ---- the object ----------------------------------------------------------- */

static void
aero_policy_filter_iface_init (AeroFilterInterface *iface)
{
  iface->from_guest = policy_filter_from_guest;
  iface->to_guest = policy_filter_to_guest;
}

static void
aero_policy_filter_dispose (GObject *object)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (object);

  g_clear_handle_id (&self->sweep_timer, g_source_remove);
  /* Flows still open are not reported: session_closed drops them all. */
  g_clear_pointer (&self->flows, aero_flow_table_free);
  g_clear_pointer (&self->echo_pending, g_free);
  self->echo_count = 0;
  if (self->policy)
    {
      AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self->policy);

      if (iface->session_closed)
        iface->session_closed (self->policy, self->session);
      g_clear_object (&self->policy);
    }
  G_OBJECT_CLASS (aero_policy_filter_parent_class)->dispose (object);
}

static void
aero_policy_filter_class_init (AeroPolicyFilterClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = aero_policy_filter_dispose;
}

static void
aero_policy_filter_init (AeroPolicyFilter *self)
{
}

AeroFilter *
aero_policy_filter_new (AeroPolicy *policy, AeroSession *session)
{
  AeroPolicyFilter *self;
  AeroPolicyInterface *iface;

  g_return_val_if_fail (AERO_IS_POLICY (policy), NULL);
  g_return_val_if_fail (AERO_IS_SESSION (session), NULL);

  self = g_object_new (AERO_TYPE_POLICY_FILTER, NULL);
  self->policy = g_object_ref (policy);
  self->session = session;
  aero_policy_get_options (policy, &self->options);
  self->flows = aero_flow_table_new (self->options.max_flows, self->options.tcp_idle_timeout_ms,
                                     self->options.udp_idle_timeout_ms, on_flow_closed, self);
  aero_flow_table_set_idle_reset (self->flows, on_flow_idle);
  iface = AERO_POLICY_GET_IFACE (policy);
  if (iface->session_opened)
    iface->session_opened (policy, session);
  return AERO_FILTER (self);
}
