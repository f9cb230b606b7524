/* aero-flow-table.h — the policy filter's per-session table of flows.
 * Internal to libaero-net.
 *
 * A flow is keyed by family, protocol, guest address and port, remote
 * address and port (ICMP echo: the identifier as both ports), always in
 * the guest's orientation. The table is bounded. An open TCP or UDP flow
 * the policy allowed ("counted") holds a socket in the stack, and its
 * count is what the policy's limits are about: it is never evicted, only
 * closed or expired. Other entries (closed, not counted, ICMP echo) are
 * evicted least recently used first to make room; when only held flows
 * are left there is no room (aero_flow_table_make_room()). A counted entry
 * is reported through the closed callback exactly once: when it closes,
 * expires or is evicted; never when the table is freed, which happens when
 * the session is gone. Closed TCP entries linger a few seconds so that
 * trailing segments still pass.
 *
 * The timeouts follow what a NAT stack such as libslirp 4.7 does with the
 * host socket behind a flow, so that a flow stops counting only once that
 * socket can be gone:
 *   - TCP closes on a reset the stack certainly takes, or on FIN both ways
 *     once the guest has acknowledged the stack's FIN (until then the stack
 *     retransmits it, for minutes); when the stack closed first it still
 *     counts for its TIME_WAIT (FLOW_TIME_WAIT_US). A connection the stack
 *     has not answered yet counts for OPENING_TIMEOUT_US whatever the idle
 *     timeout (libslirp ignores every segment of a connection it is still
 *     connecting and drops it after 75 s). An established connection idle
 *     for the TCP idle timeout is handed to the idle-reset callback, which
 *     resets it in the stack and at the guest, and then stops counting:
 *     libslirp has no keep-alive and would keep it open for ever.
 *   - UDP: the stack keeps one socket per guest address and port (its
 *     "endpoint"), whatever the remote, and any datagram through it, in
 *     either direction and from any remote, keeps it open. Every UDP flow
 *     of an endpoint therefore idles on the endpoint's clock
 *     (aero_flow_table_udp_passed()): the UDP idle timeout, or 15 s once
 *     an answer came to a datagram the guest sent to port 53 (libslirp
 *     then closes the socket 10 s after the answer; an unanswered lookup
 *     keeps it the full 240 s). */
#pragma once

#include "aero-net/aero-policy.h"

G_BEGIN_DECLS

typedef enum {
  AERO_FLOW_STATE_OPENING,     /* TCP: SYN seen, no SYN-ACK yet */
  AERO_FLOW_STATE_OPEN,        /* TCP established; UDP and ICMP flows */
  AERO_FLOW_STATE_CLOSED,      /* TCP: FIN both ways or a reset; lingering */
} AeroFlowState;

typedef struct {
  guint8 family;
  guint8 protocol;
  guint16 guest_port;
  guint16 remote_port;
  guint8 guest[16];
  guint8 remote[16];
} AeroFlowKey;

typedef struct {
  AeroFlowKey key;
  AeroFlow flow;        /* as the policy was asked about it */
  AeroFlowState state;
  gboolean counted;     /* allowed by the policy: report when closed */
  gboolean fin_from_guest;
  gboolean fin_to_guest;
  /* TCP: what a reset from the guest must match for the stack to take it
   * (aero_flow_entry_reset_is_valid()). */
  gboolean guest_seq_known;
  gboolean stack_ack_known;
  guint32 guest_next;   /* the guest's next sequence number */
  guint32 stack_ack;    /* the stack's last acknowledgement to the guest */
  guint32 stack_right;  /* ... plus its window */
  /* TCP: how it closes (see the top of this file). */
  gboolean guest_ack_known;
  guint32 guest_ack;    /* the guest's furthest acknowledgement */
  gboolean stack_fin_known;
  guint32 stack_fin_next; /* the stack's sequence number after its FIN */
  gboolean stack_closed_first; /* the stack's FIN came before the guest's */
  /* The link header (Ethernet, 802.1Q) of the guest's frames, to build
   * segments of this flow (the idle reset). */
  guint8 l2[18];
  guint8 l2_len;
  gint64 last_us;       /* last packet, or when it closed */
  struct _AeroFlowEndpoint *endpoint; /* UDP: the guest's address and port */
  gboolean held;        /* in the held list (never evicted), else in the evictable one */
  GList link;           /* in its LRU list; data points to the entry */
} AeroFlowEntry;

typedef void (*AeroFlowClosedFunc) (const AeroFlow *flow, gpointer user_data);

/* An established TCP flow has been idle for the TCP idle timeout: reset it
 * in the stack and at the guest. ENTRY is a copy of the entry, which has
 * already been removed (and reported); ENTRY->stack_ack_known is TRUE. */
typedef void (*AeroFlowIdleResetFunc) (const AeroFlowEntry *entry, gpointer user_data);

typedef struct _AeroFlowTable AeroFlowTable;

AeroFlowTable *aero_flow_table_new (guint max_entries, guint64 tcp_idle_ms, guint64 udp_idle_ms,
                                    AeroFlowClosedFunc closed, gpointer user_data);

void aero_flow_table_free (AeroFlowTable *table);

void aero_flow_table_set_idle_reset (AeroFlowTable *table, AeroFlowIdleResetFunc reset);

AeroFlowEntry *aero_flow_table_lookup (AeroFlowTable *table, const AeroFlowKey *key);

/* Evicts least recently used entries that are not held until the table
 * has room for one more; FALSE when it is full of held flows. */
gboolean aero_flow_table_make_room (AeroFlowTable *table);

/* Adds an entry for KEY (which must not be there), after
 * aero_flow_table_make_room() (which it calls again). */
AeroFlowEntry *aero_flow_table_insert (AeroFlowTable *table, const AeroFlowKey *key,
                                       const AeroFlow *flow, AeroFlowState state,
                                       gboolean counted, gint64 now_us);

/* A packet of ENTRY passed: it becomes the most recently used. */
void aero_flow_table_touch (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us);

/* A UDP datagram between the guest's address and port in KEY and anyone
 * went through the stack (from the guest, or TO_GUEST: also one the filter
 * then drops, which the stack's socket did receive). Restarts the idle
 * clock of every flow of that guest endpoint; touches and returns the
 * entry of KEY itself, if there is one. */
AeroFlowEntry *aero_flow_table_udp_passed (AeroFlowTable *table, const AeroFlowKey *key,
                                           gboolean to_guest, gint64 now_us);

/* ENTRY ends (reported once if counted); it lingers as CLOSED. */
void aero_flow_table_close (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us);

/* TCP: ENTRY ended with FIN both ways and the stack's FIN acknowledged.
 * When the stack closed first it keeps its socket for its TIME_WAIT, and
 * the entry stays counted until then; otherwise as aero_flow_table_close(). */
void aero_flow_table_close_fin (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us);

/* Removes ENTRY (reporting it first if it was still open). */
void aero_flow_table_remove (AeroFlowTable *table, AeroFlowEntry *entry);

/* TCP: the guest sent a segment at SEQ taking SEG_LEN of sequence space
 * (payload, SYN and FIN) on ENTRY. */
void aero_flow_entry_sent_by_guest (AeroFlowEntry *entry, guint32 seq, guint32 seg_len);

/* TCP: the stack acknowledged ACK with window WINDOW on ENTRY. */
void aero_flow_entry_acked_by_stack (AeroFlowEntry *entry, guint32 ack, guint16 window);

/* TCP: the guest acknowledged ACK on ENTRY. */
void aero_flow_entry_acked_by_guest (AeroFlowEntry *entry, guint32 ack);

/* TCP: the stack sent its FIN on ENTRY at SEQ, after SEG_LEN - 1 bytes of
 * payload (SEG_LEN counts the FIN). */
void aero_flow_entry_fin_by_stack (AeroFlowEntry *entry, guint32 seq, guint32 seg_len);

/* TCP: whether FIN went both ways and the guest acknowledged the stack's. */
gboolean aero_flow_entry_fin_done (const AeroFlowEntry *entry);

/* Keeps the link header of FRAME (L3 bytes of Ethernet and 802.1Q) once. */
void aero_flow_entry_note_link (AeroFlowEntry *entry, const guint8 *frame, gsize l3);

/* Whether a reset from the guest with sequence number SEQ is one the stack
 * certainly takes (it closes its connection): once the stack has answered
 * (libslirp drops every segment of a connection it is still connecting),
 * at the guest's next sequence number, inside the window the stack last
 * advertised. A reset the stack may ignore must not make the flow stop
 * counting. */
gboolean aero_flow_entry_reset_is_valid (const AeroFlowEntry *entry, guint32 seq);

/* Removes idle and lingering entries; returns how many are left. */
guint aero_flow_table_expire (AeroFlowTable *table, gint64 now_us);

guint aero_flow_table_size (AeroFlowTable *table);

G_END_DECLS
