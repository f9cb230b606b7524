/* test-flow-lifetime.c — how long a flow counts against the policy's
 * limits, driven with explicit times: the core's flow table (compiled in)
 * and the policy's held UDP flows. A flow must count as long as
 * stack-slirp's libslirp 4.7 can hold its host socket:
 *   - UDP: one socket per guest address and port, kept 240 s after the
 *     last datagram through it, either way, from any remote;
 *   - TCP: a connection still connecting ignores the guest's segments and
 *     lives 75 s; an established one has no keep-alive (the idle timeout
 *     resets it in the stack); FIN both ways closes it only once the guest
 *     has acknowledged the stack's FIN, and after TIME_WAIT (10 s) when the
 *     stack closed first. */
#include <string.h>

#include "aero-flow-table.h"
#include "aero-ip-packet.h"
#include "policy-config.h"
#include "policy-session.h"

#define S ((gint64) G_USEC_PER_SEC)

typedef struct {
  AeroFlowTable *table;
  GPtrArray *closed;  /* AeroFlow* reported closed (copies) */
  GArray *resets;     /* AeroFlowEntry handed to the idle reset */
} Seen;

static void
on_closed (const AeroFlow *flow, gpointer data)
{
  Seen *seen = data;

  g_ptr_array_add (seen->closed, g_memdup2 (flow, sizeof *flow));
}

static void
on_idle (const AeroFlowEntry *entry, gpointer data)
{
  Seen *seen = data;

  g_array_append_val (seen->resets, *entry);
}

/* A flow table of 64 entries with the given TCP idle timeout and UDP
 * flows held 250 s (the policy's default), reporting into @seen;
 * returns the table. */
static AeroFlowTable *
seen_init (Seen *seen, guint64 tcp_idle_ms)
{
  seen->closed = g_ptr_array_new_with_free_func (g_free);
  seen->resets = g_array_new (FALSE, TRUE, sizeof (AeroFlowEntry));
  seen->table = aero_flow_table_new (64, tcp_idle_ms, 250 * 1000, on_closed, seen);
  return seen->table;
}

static void
seen_clear (Seen *seen)
{
  aero_flow_table_free (seen->table);
  g_ptr_array_unref (seen->closed);
  g_array_unref (seen->resets);
}

/* A flow from 10.0.2.15:GPORT to 93.184.216.R:RPORT. */
static void
make_flow (guint8 protocol, guint16 gport, guint8 r, guint16 rport, AeroFlowKey *key,
           AeroFlow *flow)
{
  static const guint8 guest[4] = { 10, 0, 2, 15 };
  const guint8 remote[4] = { 93, 184, 216, r };

  memset (key, 0, sizeof *key);
  memset (flow, 0, sizeof *flow);
  key->family = 4;
  key->protocol = protocol;
  key->guest_port = gport;
  key->remote_port = rport;
  memcpy (key->guest, guest, 4);
  memcpy (key->remote, remote, 4);
  flow->family = G_SOCKET_FAMILY_IPV4;
  flow->protocol = protocol;
  flow->port = rport;
  flow->source_port = gport;
  memcpy (flow->source, guest, 4);
  memcpy (flow->destination, remote, 4);
}

static AeroFlowEntry *
add (AeroFlowTable *t, guint8 protocol, guint16 gport, guint8 r, guint16 rport,
     AeroFlowState state, gint64 now)
{
  AeroFlowKey key;
  AeroFlow flow;

  make_flow (protocol, gport, r, rport, &key, &flow);
  return aero_flow_table_insert (t, &key, &flow, state, TRUE, now);
}

static gboolean
present (AeroFlowTable *t, guint8 protocol, guint16 gport, guint8 r, guint16 rport)
{
  AeroFlowKey key;
  AeroFlow flow;

  make_flow (protocol, gport, r, rport, &key, &flow);
  return aero_flow_table_lookup (t, &key) != NULL;
}

/* ---- UDP --------------------------------------------------------------------- */

static void
test_udp_default_outlives_the_socket (void)
{
  g_autoptr (PolicyConfig) c = policy_config_new_default ();

  /* libslirp: SO_EXPIRE = 240 s after the last datagram. */
  g_assert_cmpuint (c->udp_idle_ms, >=, 240 * 1000 + 5000);
  g_assert_cmpuint (POLICY_UDP_SOCKET_HOLD_MS, >=, 240 * 1000 + 5000);
}

static void
test_udp_endpoint_shared (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowKey key;
  AeroFlow flow;

  t = seen_init (&seen, 3600 * 1000);
  /* Two flows of one guest port: one socket in the stack. */
  add (t, AERO_IPPROTO_UDP, 5000, 1, 1000, AERO_FLOW_STATE_OPEN, 0);
  add (t, AERO_IPPROTO_UDP, 5000, 2, 2000, AERO_FLOW_STATE_OPEN, 0);
  /* Another guest port: a socket of its own. */
  add (t, AERO_IPPROTO_UDP, 5001, 1, 1000, AERO_FLOW_STATE_OPEN, 0);

  /* The second flow is busy; the first one idles, but its socket does not. */
  make_flow (AERO_IPPROTO_UDP, 5000, 2, 2000, &key, &flow);
  g_assert_nonnull (aero_flow_table_udp_passed (t, &key, FALSE, 200 * S));
  aero_flow_table_expire (t, 260 * S);
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5000, 1, 1000));
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5000, 2, 2000));
  g_assert_false (present (t, AERO_IPPROTO_UDP, 5001, 1, 1000));
  g_assert_cmpuint (seen.closed->len, ==, 1);

  aero_flow_table_expire (t, 449 * S);
  g_assert_cmpuint (seen.closed->len, ==, 1);
  aero_flow_table_expire (t, 450 * S);
  g_assert_cmpuint (seen.closed->len, ==, 3);
  g_assert_cmpuint (aero_flow_table_size (t), ==, 0);
  seen_clear (&seen);
}

static void
test_udp_third_party (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowKey key;
  AeroFlow flow;

  t = seen_init (&seen, 3600 * 1000);
  add (t, AERO_IPPROTO_UDP, 5000, 1, 1000, AERO_FLOW_STATE_OPEN, 0);
  /* A datagram to the guest's port from a host it never wrote to: the
   * stack's socket received it, which keeps the socket open. */
  make_flow (AERO_IPPROTO_UDP, 5000, 9, 4444, &key, &flow);
  g_assert_null (aero_flow_table_udp_passed (t, &key, TRUE, 100 * S));
  aero_flow_table_expire (t, 300 * S);
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5000, 1, 1000));
  aero_flow_table_expire (t, 350 * S);
  g_assert_false (present (t, AERO_IPPROTO_UDP, 5000, 1, 1000));
  g_assert_cmpuint (seen.closed->len, ==, 1);
  seen_clear (&seen);
}

/* DNS through the stack's socket: libslirp closes it 10 s after an answer
 * to a datagram sent to port 53, but keeps an unanswered one (or one the
 * guest wrote to again since) the full 240 s. */
static void
test_udp_dns_lookups (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowKey answered, unanswered, retried;
  AeroFlow flow;

  t = seen_init (&seen, 3600 * 1000);
  make_flow (AERO_IPPROTO_UDP, 5002, 1, 53, &answered, &flow);
  make_flow (AERO_IPPROTO_UDP, 5003, 1, 53, &unanswered, &flow);
  make_flow (AERO_IPPROTO_UDP, 5004, 1, 53, &retried, &flow);
  add (t, AERO_IPPROTO_UDP, 5002, 1, 53, AERO_FLOW_STATE_OPEN, 0);
  add (t, AERO_IPPROTO_UDP, 5003, 1, 53, AERO_FLOW_STATE_OPEN, 0);
  add (t, AERO_IPPROTO_UDP, 5004, 1, 53, AERO_FLOW_STATE_OPEN, 0);
  aero_flow_table_udp_passed (t, &answered, FALSE, 0);
  aero_flow_table_udp_passed (t, &unanswered, FALSE, 0);
  aero_flow_table_udp_passed (t, &retried, FALSE, 0);
  /* The answers (a reply to the guest's address and port). */
  aero_flow_table_udp_passed (t, &answered, TRUE, 1 * S);
  aero_flow_table_udp_passed (t, &retried, TRUE, 1 * S);
  /* The guest asks again on 5004: the socket is back on 240 s. */
  aero_flow_table_udp_passed (t, &retried, FALSE, 2 * S);

  aero_flow_table_expire (t, 15 * S);
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5002, 1, 53));
  aero_flow_table_expire (t, 17 * S);
  g_assert_false (present (t, AERO_IPPROTO_UDP, 5002, 1, 53));
  g_assert_cmpuint (seen.closed->len, ==, 1);
  aero_flow_table_expire (t, 245 * S);
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5003, 1, 53));
  g_assert_true (present (t, AERO_IPPROTO_UDP, 5004, 1, 53));
  aero_flow_table_expire (t, 253 * S);
  g_assert_cmpuint (seen.closed->len, ==, 3);
  seen_clear (&seen);
}

/* ---- TCP --------------------------------------------------------------------- */

static void
test_tcp_connecting (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowEntry *e;

  /* The shortest idle timeout the policy accepts. */
  t = seen_init (&seen, 10 * 1000);
  e = add (t, AERO_IPPROTO_TCP, 40000, 1, 80, AERO_FLOW_STATE_OPENING, 0);
  aero_flow_entry_sent_by_guest (e, 100, 1);
  /* The stack has not answered: it ignores a reset, even at the next
   * sequence number, and keeps connecting for 75 s. */
  g_assert_false (aero_flow_entry_reset_is_valid (e, 101));
  aero_flow_table_expire (t, 80 * S);
  g_assert_cmpuint (seen.closed->len, ==, 0);
  aero_flow_table_expire (t, 120 * S);
  g_assert_cmpuint (seen.closed->len, ==, 1);
  g_assert_cmpuint (seen.resets->len, ==, 0);

  e = add (t, AERO_IPPROTO_TCP, 40001, 1, 80, AERO_FLOW_STATE_OPENING, 200 * S);
  aero_flow_entry_sent_by_guest (e, 100, 1);
  aero_flow_entry_acked_by_stack (e, 101, 65535);
  g_assert_true (aero_flow_entry_reset_is_valid (e, 101));
  g_assert_false (aero_flow_entry_reset_is_valid (e, 102));
  seen_clear (&seen);
}

static void
test_tcp_idle_reset (void)
{
  static const guint8 l2[14] = { 0x52, 0x55, 10, 0, 2, 2, 0x52, 0x54, 0, 0x12, 0x34, 0x56, 8, 0 };
  Seen seen;
  AeroFlowTable *t;
  AeroFlowEntry *e;
  const AeroFlowEntry *r;

  t = seen_init (&seen, 3600 * 1000);
  aero_flow_table_set_idle_reset (t, on_idle);
  e = add (t, AERO_IPPROTO_TCP, 40000, 1, 22, AERO_FLOW_STATE_OPEN, 0);
  aero_flow_entry_note_link (e, l2, sizeof l2);
  aero_flow_entry_sent_by_guest (e, 100, 10);
  aero_flow_entry_acked_by_stack (e, 110, 65535);
  aero_flow_entry_acked_by_guest (e, 7000);
  aero_flow_entry_acked_by_guest (e, 6000); /* an old one does not go back */

  aero_flow_table_expire (t, 3599 * S);
  g_assert_cmpuint (seen.resets->len, ==, 0);
  g_assert_cmpuint (seen.closed->len, ==, 0);
  /* Idle for an hour: libslirp, without keep-alive, would keep the host
   * connection for ever. It is reset, then it stops counting. */
  aero_flow_table_expire (t, 3600 * S);
  g_assert_cmpuint (seen.resets->len, ==, 1);
  g_assert_cmpuint (seen.closed->len, ==, 1);
  r = &g_array_index (seen.resets, AeroFlowEntry, 0);
  g_assert_true (r->stack_ack_known);
  g_assert_cmpuint (r->stack_ack, ==, 110);
  g_assert_true (r->guest_ack_known);
  g_assert_cmpuint (r->guest_ack, ==, 7000);
  g_assert_cmpuint (r->l2_len, ==, sizeof l2);
  g_assert_cmpmem (r->l2, r->l2_len, l2, sizeof l2);
  g_assert_cmpuint (r->key.guest_port, ==, 40000);
  g_assert_cmpuint (r->key.remote_port, ==, 22);
  seen_clear (&seen);
}

static void
test_tcp_fin_needs_ack (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowEntry *e;

  t = seen_init (&seen, 3600 * 1000);
  e = add (t, AERO_IPPROTO_TCP, 40000, 1, 80, AERO_FLOW_STATE_OPEN, 0);
  /* The guest closes first (libslirp: CLOSE_WAIT, then LAST_ACK). */
  aero_flow_entry_sent_by_guest (e, 100, 1);
  e->fin_from_guest = TRUE;
  aero_flow_entry_fin_by_stack (e, 5000, 1);
  g_assert_false (e->stack_closed_first);
  /* FIN both ways, but until the guest acknowledges the stack's FIN
   * libslirp retransmits it and keeps its socket. */
  g_assert_false (aero_flow_entry_fin_done (e));
  aero_flow_entry_acked_by_guest (e, 5000);
  g_assert_false (aero_flow_entry_fin_done (e));
  aero_flow_entry_acked_by_guest (e, 5001);
  g_assert_true (aero_flow_entry_fin_done (e));
  aero_flow_table_close_fin (t, e, 10 * S);
  g_assert_cmpuint (seen.closed->len, ==, 1);
  seen_clear (&seen);
}

static void
test_tcp_time_wait (void)
{
  Seen seen;
  AeroFlowTable *t;
  AeroFlowEntry *e;

  t = seen_init (&seen, 3600 * 1000);
  e = add (t, AERO_IPPROTO_TCP, 40000, 1, 80, AERO_FLOW_STATE_OPEN, 0);
  /* The stack closes first: after the guest's FIN libslirp sits in
   * TIME_WAIT for 10 s, its socket still open. */
  aero_flow_entry_fin_by_stack (e, 5000, 101);
  g_assert_true (e->stack_closed_first);
  aero_flow_entry_acked_by_guest (e, 5101);
  g_assert_false (aero_flow_entry_fin_done (e));
  e->fin_from_guest = TRUE;
  g_assert_true (aero_flow_entry_fin_done (e));
  aero_flow_table_close_fin (t, e, 100 * S);
  g_assert_cmpuint (seen.closed->len, ==, 0);
  aero_flow_table_expire (t, 110 * S);
  g_assert_cmpuint (seen.closed->len, ==, 0);
  aero_flow_table_expire (t, 115 * S);
  g_assert_cmpuint (seen.closed->len, ==, 1);
  g_assert_cmpuint (seen.resets->len, ==, 0);
  seen_clear (&seen);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/flow-lifetime/udp/default-outlives-the-socket",
                   test_udp_default_outlives_the_socket);
  g_test_add_func ("/flow-lifetime/udp/endpoint-shared", test_udp_endpoint_shared);
  g_test_add_func ("/flow-lifetime/udp/third-party", test_udp_third_party);
  g_test_add_func ("/flow-lifetime/udp/dns-lookups", test_udp_dns_lookups);
  g_test_add_func ("/flow-lifetime/tcp/connecting", test_tcp_connecting);
  g_test_add_func ("/flow-lifetime/tcp/idle-reset", test_tcp_idle_reset);
  g_test_add_func ("/flow-lifetime/tcp/fin-needs-ack", test_tcp_fin_needs_ack);
  g_test_add_func ("/flow-lifetime/tcp/time-wait", test_tcp_time_wait);
  return g_test_run ();
}
