/* aero-flow-table.c — the bounded per-session flow table of the policy
 * filter (see aero-flow-table.h). */
#include <string.h>

#include "aero-flow-table.h"
#include "aero-ip-packet.h"

/* A TCP flow that never got its SYN-ACK is forgotten after this long,
 * whatever the idle timeout: libslirp 4.7 gives up a connection it cannot
 * complete after 75 s (TCPTV_KEEP_INIT) and ignores the guest's segments
 * until then, a reset included. */
#define OPENING_TIMEOUT_US (120 * G_USEC_PER_SEC)
/* How long a closed TCP flow lingers for its trailing segments. */
#define CLOSED_LINGER_US (10 * G_USEC_PER_SEC)
/* How long a TCP flow the stack closed first keeps counting after the
 * last FIN: libslirp's TIME_WAIT is 2 × TCPTV_MSL = 10 s, plus margin. */
#define FLOW_TIME_WAIT_US (15 * G_USEC_PER_SEC)
/* A UDP endpoint whose last datagram from the guest went to port 53 and
 * which has received since (an answered DNS lookup): libslirp closes its
 * socket 10 s after that (SO_EXPIREFAST in sorecvfrom()); plus margin. */
#define DNS_TIMEOUT_US (15 * G_USEC_PER_SEC)

/* A guest UDP endpoint: the stack's socket for that address and port. */
typedef struct _AeroFlowEndpoint
{
  guint8 family;
  guint8 zero;
  guint16 port;
  guint8 addr[16];
  gint64 last_us; /* the last datagram through it, either way */
  guint refs;     /* entries of the table */
  guint16 sent_port; /* destination port of the guest's last datagram */
  gboolean fast;  /* received since a datagram to port 53: DNS_TIMEOUT_US */
} AeroFlowEndpoint;

#define ENDPOINT_KEY_LEN G_STRUCT_OFFSET (AeroFlowEndpoint, last_us)

struct _AeroFlowTable
{
  GHashTable *entries; /* AeroFlowKey* (inside the entry) → AeroFlowEntry* */
  GQueue held;         /* open counted TCP/UDP flows; head: least recently used */
  GQueue evictable;    /* the rest; head: least recently used */
  guint max_entries;
  gint64 tcp_idle_us;
  gint64 udp_idle_us;
  AeroFlowClosedFunc closed;
  AeroFlowIdleResetFunc idle_reset;
  gpointer user_data;
  GHashTable *endpoints; /* AeroFlowEndpoint* → itself; owns them */
};

/* FNV-1a over LEN bytes: the keys are plain bytes, padding zeroed. */
static guint
bytes_hash (const guint8 *b, gsize len)
{
  guint32 h = 2166136261u;

  for (gsize i = 0; i < len; i++)
    h = (h ^ b[i]) * 16777619u;
  return h;
}

static guint
key_hash (gconstpointer p)
{
  return bytes_hash (p, sizeof (AeroFlowKey));
}

static gboolean
key_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, sizeof (AeroFlowKey)) == 0;
}

static guint
endpoint_hash (gconstpointer p)
{
  return bytes_hash (p, ENDPOINT_KEY_LEN);
}

static gboolean
endpoint_equal (gconstpointer a, gconstpointer b)
{
  return memcmp (a, b, ENDPOINT_KEY_LEN) == 0;
}

static void
endpoint_key (const AeroFlowKey *key, AeroFlowEndpoint *out)
{
  memset (out, 0, sizeof *out);
  out->family = key->family;
  out->port = key->guest_port;
  memcpy (out->addr, key->guest, sizeof out->addr);
}

AeroFlowTable *
aero_flow_table_new (guint max_entries, guint64 tcp_idle_ms, guint64 udp_idle_ms,
                     AeroFlowClosedFunc closed, gpointer user_data)
{
  AeroFlowTable *self = g_new0 (AeroFlowTable, 1);

  self->entries = g_hash_table_new (key_hash, key_equal);
  g_queue_init (&self->held);
  g_queue_init (&self->evictable);
  self->max_entries = MAX (max_entries, 1);
  self->tcp_idle_us = (gint64) MIN (tcp_idle_ms, G_MAXINT64 / 1000 / 2) * 1000;
  self->udp_idle_us = (gint64) MIN (udp_idle_ms, G_MAXINT64 / 1000 / 2) * 1000;
  self->closed = closed;
  self->user_data = user_data;
  self->endpoints = g_hash_table_new_full (endpoint_hash, endpoint_equal, NULL, g_free);
  return self;
}

void
aero_flow_table_set_idle_reset (AeroFlowTable *table, AeroFlowIdleResetFunc reset)
{
  table->idle_reset = reset;
}

void
aero_flow_table_free (AeroFlowTable *table)
{
  GList *l, *next;

  if (table == NULL)
    return;
  for (l = table->held.head; l; l = next)
    {
      next = l->next;
      g_free (l->data);
    }
  for (l = table->evictable.head; l; l = next)
    {
      next = l->next;
      g_free (l->data);
    }
  g_hash_table_unref (table->entries);
  g_hash_table_unref (table->endpoints);
  g_free (table);
}

AeroFlowEntry *
aero_flow_table_lookup (AeroFlowTable *table, const AeroFlowKey *key)
{
  return g_hash_table_lookup (table->entries, key);
}

static GQueue *
list_of (AeroFlowTable *table, AeroFlowEntry *entry)
{
  return entry->held ? &table->held : &table->evictable;
}

/* Puts ENTRY at the tail of the list its state calls for. */
static void
place (AeroFlowTable *table, AeroFlowEntry *entry)
{
  /* A counted CLOSED entry is a TCP flow in the stack's TIME_WAIT. */
  gboolean held = entry->counted && (entry->key.protocol == AERO_IPPROTO_TCP
                                     || entry->key.protocol == AERO_IPPROTO_UDP);

  if (entry->link.data != NULL)
    g_queue_unlink (list_of (table, entry), &entry->link);
  entry->held = held;
  entry->link.data = entry;
  g_queue_push_tail_link (list_of (table, entry), &entry->link);
}

static void
report (AeroFlowTable *table, AeroFlowEntry *entry)
{
  if (entry->counted)
    {
      entry->counted = FALSE;
      if (table->closed)
        table->closed (&entry->flow, table->user_data);
    }
}

void
aero_flow_table_remove (AeroFlowTable *table, AeroFlowEntry *entry)
{
  g_hash_table_remove (table->entries, &entry->key);
  g_queue_unlink (list_of (table, entry), &entry->link);
  report (table, entry);
  if (entry->endpoint && --entry->endpoint->refs == 0)
    g_hash_table_remove (table->endpoints, entry->endpoint);
  g_free (entry);
}

gboolean
aero_flow_table_make_room (AeroFlowTable *table)
{
  while (g_hash_table_size (table->entries) >= table->max_entries && table->evictable.head)
    aero_flow_table_remove (table, table->evictable.head->data);
  return g_hash_table_size (table->entries) < table->max_entries;
}

AeroFlowEntry *
aero_flow_table_insert (AeroFlowTable *table, const AeroFlowKey *key, const AeroFlow *flow,
                        AeroFlowState state, gboolean counted, gint64 now_us)
{
  AeroFlowEntry *entry;

  aero_flow_table_make_room (table);
  entry = g_new0 (AeroFlowEntry, 1);
  entry->key = *key;
  if (flow)
    entry->flow = *flow;
  entry->state = state;
  entry->counted = counted;
  entry->last_us = now_us;
  if (key->protocol == AERO_IPPROTO_UDP)
    {
      AeroFlowEndpoint probe, *ep;

      endpoint_key (key, &probe);
      ep = g_hash_table_lookup (table->endpoints, &probe);
      if (ep == NULL)
        {
          ep = g_memdup2 (&probe, sizeof probe);
          g_hash_table_add (table->endpoints, ep);
        }
      ep->refs++;
      ep->last_us = MAX (ep->last_us, now_us);
      entry->endpoint = ep;
    }
  place (table, entry);
  g_hash_table_insert (table->entries, &entry->key, entry);
  return entry;
}

void
aero_flow_table_touch (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us)
{
  if (entry->state != AERO_FLOW_STATE_CLOSED)
    entry->last_us = now_us;
  if (list_of (table, entry)->tail != &entry->link)
    place (table, entry);
}

AeroFlowEntry *
aero_flow_table_udp_passed (AeroFlowTable *table, const AeroFlowKey *key, gboolean to_guest,
                            gint64 now_us)
{
  AeroFlowEndpoint probe, *ep;
  AeroFlowEntry *entry;

  endpoint_key (key, &probe);
  ep = g_hash_table_lookup (table->endpoints, &probe);
  if (ep)
    {
      ep->last_us = MAX (ep->last_us, now_us);
      /* libslirp: a datagram sent sets the socket's expiry to 240 s; one
       * received sets it to 10 s when the last one sent went to port 53
       * (sosendto(), sorecvfrom()). */
      if (!to_guest)
        {
          ep->sent_port = key->remote_port;
          ep->fast = FALSE;
        }
      else
        ep->fast = ep->sent_port == 53;
    }
  entry = g_hash_table_lookup (table->entries, key);
  if (entry)
    aero_flow_table_touch (table, entry, now_us);
  return entry;
}

void
aero_flow_table_close (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us)
{
  if (entry->state == AERO_FLOW_STATE_CLOSED)
    return;
  entry->state = AERO_FLOW_STATE_CLOSED;
  entry->last_us = now_us;
  report (table, entry);
  place (table, entry);
}

void
aero_flow_table_close_fin (AeroFlowTable *table, AeroFlowEntry *entry, gint64 now_us)
{
  if (entry->state == AERO_FLOW_STATE_CLOSED)
    return;
  if (!entry->stack_closed_first || !entry->counted)
    {
      aero_flow_table_close (table, entry, now_us);
      return;
    }
  /* Still counted, and held, until its TIME_WAIT is over (expire()). */
  entry->state = AERO_FLOW_STATE_CLOSED;
  entry->last_us = now_us;
  place (table, entry);
}

void
aero_flow_entry_sent_by_guest (AeroFlowEntry *entry, guint32 seq, guint32 seg_len)
{
  /* The furthest the guest has sent (a retransmission does not go back). */
  if (!entry->guest_seq_known || (gint32) (seq + seg_len - entry->guest_next) > 0)
    entry->guest_next = seq + seg_len;
  entry->guest_seq_known = TRUE;
}

void
aero_flow_entry_acked_by_stack (AeroFlowEntry *entry, guint32 ack, guint16 window)
{
  entry->stack_ack = ack;
  entry->stack_right = ack + window;
  entry->stack_ack_known = TRUE;
}

void
aero_flow_entry_acked_by_guest (AeroFlowEntry *entry, guint32 ack)
{
  if (!entry->guest_ack_known || (gint32) (ack - entry->guest_ack) > 0)
    entry->guest_ack = ack;
  entry->guest_ack_known = TRUE;
}

void
aero_flow_entry_fin_by_stack (AeroFlowEntry *entry, guint32 seq, guint32 seg_len)
{
  if (!entry->stack_fin_known)
    entry->stack_closed_first = !entry->fin_from_guest;
  entry->stack_fin_next = seq + seg_len;
  entry->stack_fin_known = TRUE;
}

gboolean
aero_flow_entry_fin_done (const AeroFlowEntry *entry)
{
  return entry->fin_from_guest && entry->stack_fin_known && entry->guest_ack_known &&
         (gint32) (entry->guest_ack - entry->stack_fin_next) >= 0;
}

void
aero_flow_entry_note_link (AeroFlowEntry *entry, const guint8 *frame, gsize l3)
{
  if (entry->l2_len == 0 && l3 <= sizeof entry->l2)
    {
      memcpy (entry->l2, frame, l3);
      entry->l2_len = (guint8) l3;
    }
}

gboolean
aero_flow_entry_reset_is_valid (const AeroFlowEntry *entry, guint32 seq)
{
  if (!entry->stack_ack_known || !entry->guest_seq_known || seq != entry->guest_next)
    return FALSE;
  /* The reset must fall inside the window the stack last advertised
   * (whose right edge never moves back). */
  return (guint32) (seq - entry->stack_ack) <= (guint32) (entry->stack_right - entry->stack_ack);
}

static gint64
timeout_of (AeroFlowTable *table, const AeroFlowEntry *entry)
{
  if (entry->key.protocol == AERO_IPPROTO_TCP)
    {
      switch (entry->state)
        {
        case AERO_FLOW_STATE_OPENING: return OPENING_TIMEOUT_US;
        case AERO_FLOW_STATE_CLOSED:
          return entry->counted ? MAX (FLOW_TIME_WAIT_US, CLOSED_LINGER_US) : CLOSED_LINGER_US;
        case AERO_FLOW_STATE_OPEN:
        default: return table->tcp_idle_us;
        }
    }
  if (entry->endpoint && entry->endpoint->fast)
    return MIN (table->udp_idle_us, DNS_TIMEOUT_US);
  return table->udp_idle_us;
}

/* When ENTRY was last active: a UDP flow idles on its endpoint's clock. */
static gint64
last_of (const AeroFlowEntry *entry)
{
  return entry->endpoint ? MAX (entry->last_us, entry->endpoint->last_us) : entry->last_us;
}

guint
aero_flow_table_expire (AeroFlowTable *table, gint64 now_us)
{
  GQueue *lists[] = { &table->held, &table->evictable };
  g_autoptr (GArray) resets = g_array_new (FALSE, FALSE, sizeof (AeroFlowEntry));

  for (guint i = 0; i < G_N_ELEMENTS (lists); i++)
    {
      GList *l, *next;

      for (l = lists[i]->head; l; l = next)
        {
          AeroFlowEntry *entry = l->data;

          next = l->next;
          if (now_us - last_of (entry) < timeout_of (table, entry))
            continue;
          if (entry->key.protocol == AERO_IPPROTO_TCP && entry->state == AERO_FLOW_STATE_OPEN &&
              entry->stack_ack_known && table->idle_reset)
            {
              g_array_append_val (resets, *entry);
              g_array_index (resets, AeroFlowEntry, resets->len - 1).endpoint = NULL;
            }
          aero_flow_table_remove (table, entry);
        }
    }
  /* After the walk: a reset handed to the stack may bring frames back
   * through the filter, which change the table. */
  for (guint i = 0; i < resets->len; i++)
    table->idle_reset (&g_array_index (resets, AeroFlowEntry, i), table->user_data);
  return g_hash_table_size (table->entries);
}

guint
aero_flow_table_size (AeroFlowTable *table)
{
  return g_hash_table_size (table->entries);
}
