/* aero-flow-table.h — the policy filter's per-session table of flows.
 * Internal to libaero-net.
 *
 * A flow is keyed by family, protocol, guest address and port, remote
 * address and port (ICMP echo: the identifier as both ports), always in
 * the guest's orientation. The table is bounded: inserting into a full
 * table evicts the least recently used entry. An entry the policy allowed
 * ("counted") is reported through the closed callback exactly once: when
 * it closes (TCP FIN both ways or a reset), expires or is evicted; never
 * when the table is freed, which happens when the session is gone. Closed
 * TCP entries linger a few seconds so that trailing segments still pass. */
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
  gint64 last_us;       /* last packet, or when it closed */
  GList link;           /* in the LRU list; data points to the entry */
} AeroFlowEntry;

typedef void (*AeroFlowClosedFunc) (const AeroFlow *flow, gpointer user_data);

typedef struct _AeroFlowTable AeroFlowTable;

AeroFlowTable *aero_flow_table_new (guint max_entries, guint64 tcp_idle_ms, guint64 udp_idle_ms,
                                    AeroFlowClosedFunc closed, gpointer user_data);

void aero_flow_table_free (AeroFlowTable *table);

AeroFlowEntry *aero_flow_table_lookup (AeroFlowTable *table, const AeroFlowKey *key);

/* Adds an entry for KEY (which must not be there), evicting the least
 * recently used entry when the table is full. */
AeroFlowEntry *aero_flow_table_insert (AeroFlowTable *table, const AeroFlowKey *key,
                                       const AeroFlow *flow, AeroFlowState state,
                                       gboolean counted, gint64 now_us);

/* A packet of ENTRY passed: it becomes the most recently used. */
void aero_flow_table_touch (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us);

/* ENTRY ends (reported once if counted); it lingers as CLOSED. */
void aero_flow_table_close (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us);

/* Removes ENTRY (reporting it first if it was still open). */
void aero_flow_table_remove (AeroFlowTable *table, AeroFlowEntry *entry);

/* Removes idle and lingering entries; returns how many are left. */
guint aero_flow_table_expire (AeroFlowTable *table, gint64 now_us);

guint aero_flow_table_size (AeroFlowTable *table);

G_END_DECLS
