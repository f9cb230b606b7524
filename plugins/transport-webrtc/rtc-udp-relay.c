/* rtc-udp-relay.c — the UDP relay of one `udp` DataChannel: bindings of
 * guest ports to host sockets, the remote pairs each may hear from, the
 * policy and the bounds. See the header. */
#include <string.h>

#include "rtc-udp-codec.h"
#include "rtc-udp-relay.h"

/* Datagrams read from one socket per wake-up, so that one busy binding
 * cannot hold the main loop. */
#define READS_PER_DISPATCH 64
#define RECV_BUFFER 65536
/* Lines about remotes forgotten at udp-max-remotes: one per interval per
 * channel at most, each with the count since the previous one. */
#define EVICTION_LOG_INTERVAL_S 10

typedef struct _Binding Binding;

/* A remote address+port the guest has sent to from one binding. */
typedef struct {
  guint8 addr[16];
  guint16 port;
  gint64 last_used_us;
  char *allowed_in;                /* id of the session whose policy allowed it, or NULL */
} Remote;

struct _Binding
{
  RtcUdpRelay *relay;              /* unowned */
  GSocketFamily family;
  guint16 guest_port;
  guint version;                   /* the framing the guest last used here */
  GSocket *socket;
  GSource *source;
  GPtrArray *remotes;              /* Remote*, small: scanned linearly */
  gint64 last_used_us;
};

struct _RtcUdpRelay
{
  GObject parent_instance;

  char *component;
  char *client;
  RtcMetrics *metrics;
  RtcUdpOptions opts;
  RtcDataChannel *dc;
  gulong handlers[3];
  AeroPolicy *policy;              /* nullable */
  RtcUdpSessionFunc session_func;
  gpointer session_data;

  GHashTable *bindings;            /* key (family << 16 | port) → Binding* */
  guint sweep_timer;
  gint64 last_rx_us;
  guint8 *buffer;
  gboolean counted_active;
  gboolean stopped;

  guint close_idle;                /* a session close waiting for the main loop */
  char *close_session;             /* the id of the session to close */
  AeroCloseReason close_reason;

  AeroRateLimit *eviction_log;
  guint64 evictions_unlogged;
};

G_DEFINE_FINAL_TYPE (RtcUdpRelay, rtc_udp_relay, G_TYPE_OBJECT)

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static gsize
addr_len (GSocketFamily family)
{
  return family == G_SOCKET_FAMILY_IPV6 ? 16 : 4;
}

static gpointer
binding_key (GSocketFamily family, guint16 port)
{
  return GUINT_TO_POINTER (((guint) (family == G_SOCKET_FAMILY_IPV6 ? 6 : 4) << 16) | port);
}

static void
flow_init (AeroFlow *flow, GSocketFamily family, guint16 guest_port, const guint8 *addr,
           guint16 port)
{
  memset (flow, 0, sizeof *flow);
  flow->family = family;
  flow->protocol = 17;
  memcpy (flow->destination, addr, addr_len (family));
  flow->port = port;
  flow->source_port = guest_port;
}

static void
flow_of (const Binding *b, const Remote *r, AeroFlow *flow)
{
  flow_init (flow, b->family, b->guest_port, r->addr, r->port);
}

static AeroSession *
current_session (RtcUdpRelay *self)
{
  return self->session_func ? self->session_func (self->session_data) : NULL;
}

static gboolean
close_session_cb (gpointer user_data)
{
  RtcUdpRelay *self = user_data;
  g_autofree char *id = g_steal_pointer (&self->close_session);
  AeroSession *session = current_session (self);

  self->close_idle = 0;
  /* This may end the peer, and this relay with it: nothing after it. */
  if (session && strcmp (aero_session_get_id (session), id) == 0)
    aero_session_close (session, self->close_reason, "quota spent");
  return G_SOURCE_REMOVE;
}

/* The policy said CLOSE. Closing the session ends its l2 channel, at once
 * when that channel is already closing, and the peer connection and this
 * relay go with it: so the close waits for the main loop, never runs under
 * a datagram's handling. Until then the policy refuses the session's
 * traffic; if the relay stops first, the session's next frame closes it. */
static void
relay_close_session (RtcUdpRelay *self, AeroSession *session, AeroCloseReason reason)
{
  if (self->close_idle != 0 || self->stopped)
    return;
  self->close_session = g_strdup (aero_session_get_id (session));
  self->close_reason = reason;
  self->close_idle = g_idle_add (close_session_cb, self);
}

/* Counts a remote forgotten at udp-max-remotes, and says so in the log
 * (rate-limited: a guest can cause one per datagram). */
static void
relay_count_eviction (RtcUdpRelay *self)
{
  aero_metric_inc (self->metrics->udp_dropped[RTC_UDP_DROP_REMOTE_LIMIT]);
  self->evictions_unlogged++;
  if (aero_rate_limit_take (self->eviction_log, 1, g_get_monotonic_time ()) != AERO_RATE_LIMIT_OK)
    return;
  AERO_LOG_INFO (self->component, "client", self->client ? self->client : "-", "MESSAGE",
                 "udp relay: %" G_GUINT64_FORMAT " remote(s) forgotten at udp-max-remotes = %u "
                 "(least recently used first)", self->evictions_unlogged, self->opts.max_remotes);
  self->evictions_unlogged = 0;
}

/* Tells the policy that a flow it allowed has ended, if that session lives. */
static void
remote_forget (RtcUdpRelay *self, Binding *b, Remote *r)
{
  AeroSession *session;
  AeroFlow flow;

  if (r->allowed_in == NULL || self->policy == NULL)
    return;
  session = current_session (self);
  if (session && strcmp (aero_session_get_id (session), r->allowed_in) == 0)
    {
      flow_of (b, r, &flow);
      aero_policy_flow_closed (self->policy, session, &flow);
    }
  g_clear_pointer (&r->allowed_in, g_free);
}

static void
remote_free (Remote *r)
{
  g_free (r->allowed_in);
  g_free (r);
}

static void
binding_free (Binding *b)
{
  RtcUdpRelay *self = b->relay;

  for (guint i = 0; i < b->remotes->len; i++)
    remote_forget (self, b, g_ptr_array_index (b->remotes, i));
  g_ptr_array_unref (b->remotes);
  if (b->source)
    {
      g_source_destroy (b->source);
      g_source_unref (b->source);
    }
  if (b->socket)
    {
      g_socket_close (b->socket, NULL);
      g_object_unref (b->socket);
    }
  aero_metric_add (self->metrics->udp_bindings_active, -1);
  g_free (b);
}

static Remote *
binding_find_remote (Binding *b, const guint8 *addr, guint16 port)
{
  for (guint i = 0; i < b->remotes->len; i++)
    {
      Remote *r = g_ptr_array_index (b->remotes, i);

      if (r->port == port && memcmp (r->addr, addr, addr_len (b->family)) == 0)
        return r;
    }
  return NULL;
}

/* ---- to the guest ------------------------------------------------------------ */

static void
relay_drop (RtcUdpRelay *self, RtcUdpDropReason reason)
{
  aero_metric_inc (self->metrics->udp_dropped[reason]);
}

/* Sends one message to the peer within the buffered-amount bound. */
static gboolean
relay_send (RtcUdpRelay *self, GBytes *message)
{
  gsize len = g_bytes_get_size (message);

  if (rtc_data_channel_get_buffered_amount (self->dc) + len > self->opts.send_queue)
    {
      relay_drop (self, RTC_UDP_DROP_QUEUE_FULL);
      return FALSE;
    }
  if (!rtc_data_channel_send (self->dc, message, NULL))
    {
      relay_drop (self, RTC_UDP_DROP_SEND_ERROR);
      return FALSE;
    }
  aero_metric_inc (self->metrics->tx_messages[RTC_LABEL_UDP]);
  aero_metric_add (self->metrics->tx_bytes[RTC_LABEL_UDP], (double) len);
  return TRUE;
}

static void
binding_deliver (Binding *b, GInetSocketAddress *from, const guint8 *data, gsize len)
{
  RtcUdpRelay *self = b->relay;
  GInetAddress *inet = g_inet_socket_address_get_address (from);
  guint16 port = g_inet_socket_address_get_port (from);
  guint8 addr[16] = { 0 };
  Remote *r;
  g_autoptr (GBytes) message = NULL;

  if (g_inet_address_get_family (inet) != b->family)
    return;
  memcpy (addr, g_inet_address_to_bytes (inet), addr_len (b->family));
  r = binding_find_remote (b, addr, port);
  if (r == NULL && !self->opts.full_cone)
    {
      relay_drop (self, RTC_UDP_DROP_UNSOLICITED);
      return;
    }
  if (len > self->opts.max_payload)
    {
      relay_drop (self, RTC_UDP_DROP_OVERSIZE);
      return;
    }
  if (self->policy && self->opts.mode == RTC_UDP_RELAY_POLICY)
    {
      AeroSession *session = current_session (self);
      AeroCloseReason close_reason = AERO_CLOSE_POLICY;
      AeroTrafficVerdict verdict;

      if (session == NULL)
        {
          relay_drop (self, RTC_UDP_DROP_NO_SESSION);
          return;
        }
      verdict = aero_policy_check_traffic (self->policy, session, AERO_DIRECTION_TO_GUEST, len,
                                           &close_reason);
      if (verdict == AERO_TRAFFIC_CLOSE)
        relay_close_session (self, session, close_reason);
      if (verdict != AERO_TRAFFIC_PASS)
        {
          relay_drop (self, RTC_UDP_DROP_POLICY);
          return;
        }
    }
  if (r)
    r->last_used_us = g_get_monotonic_time ();
  b->last_used_us = g_get_monotonic_time ();
  message = rtc_udp_encode (b->family == G_SOCKET_FAMILY_IPV6 ? 2 : b->version, b->family,
                            b->guest_port, addr, port, data, len);
  if (relay_send (self, message))
    aero_metric_inc (self->metrics->udp_datagrams_in);
}

static gboolean
socket_readable_cb (GSocket *socket, GIOCondition condition, gpointer user_data)
{
  Binding *b = user_data;
  /* Stopping frees the binding (and may drop the last other reference):
   * nothing of either is touched once stopped. */
  g_autoptr (RtcUdpRelay) self = g_object_ref (b->relay);

  for (guint i = 0; i < READS_PER_DISPATCH && !self->stopped; i++)
    {
      g_autoptr (GSocketAddress) from = NULL;
      g_autoptr (GError) error = NULL;
      gssize n = g_socket_receive_from (socket, &from, (char *) self->buffer, RECV_BUFFER, NULL,
                                        &error);

      if (n < 0)
        break;
      if (G_IS_INET_SOCKET_ADDRESS (from))
        binding_deliver (b, G_INET_SOCKET_ADDRESS (from), self->buffer, (gsize) n);
    }
  return self->stopped ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* ---- from the guest ------------------------------------------------------------ */

static Binding *
relay_oldest_binding (RtcUdpRelay *self)
{
  GHashTableIter iter;
  gpointer value;
  Binding *oldest = NULL;

  g_hash_table_iter_init (&iter, self->bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Binding *b = value;

      if (oldest == NULL || b->last_used_us < oldest->last_used_us)
        oldest = b;
    }
  return oldest;
}

static Binding *
relay_binding (RtcUdpRelay *self, GSocketFamily family, guint16 guest_port)
{
  Binding *b = g_hash_table_lookup (self->bindings, binding_key (family, guest_port));
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetAddress) any = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  if (b != NULL)
    return b;
  if (g_hash_table_size (self->bindings) >= self->opts.max_bindings)
    {
      Binding *oldest = relay_oldest_binding (self);

      relay_drop (self, RTC_UDP_DROP_BINDING_LIMIT);
      g_hash_table_remove (self->bindings, binding_key (oldest->family, oldest->guest_port));
    }

  b = g_new0 (Binding, 1);
  b->relay = self;
  b->family = family;
  b->guest_port = guest_port;
  b->version = 1;
  b->remotes = g_ptr_array_new_with_free_func ((GDestroyNotify) remote_free);
  b->last_used_us = g_get_monotonic_time ();
  aero_metric_add (self->metrics->udp_bindings_active, 1);
  b->socket = g_socket_new (family, G_SOCKET_TYPE_DATAGRAM, G_SOCKET_PROTOCOL_UDP, &error);
  if (b->socket != NULL)
    {
      g_socket_set_blocking (b->socket, FALSE);
      any = g_inet_address_new_any (family);
      local = g_inet_socket_address_new (any, 0);
      if (!g_socket_bind (b->socket, local, FALSE, &error))
        g_clear_object (&b->socket);
    }
  if (b->socket == NULL)
    {
      AERO_LOG_WARNING (self->component, "client", self->client ? self->client : "-", "MESSAGE",
                        "udp relay: cannot open a socket: %s", error->message);
      binding_free (b);
      return NULL;
    }
  b->source = g_socket_create_source (b->socket, G_IO_IN, NULL);
  g_source_set_callback (b->source, (GSourceFunc) (void (*) (void)) socket_readable_cb, b, NULL);
  g_source_attach (b->source, g_main_context_get_thread_default ());
  g_hash_table_insert (self->bindings, binding_key (family, guest_port), b);
  return b;
}

/* Whether the policy lets the guest send @len bytes on @flow now. The flow
 * is put to the policy unless @allowed_in names the current session (the
 * policy allowed it there already). On a pass *@session is the session
 * that applies (NULL with udp-relay = open) and *@new_flow whether the
 * policy has just counted @flow as a new one. */
static gboolean
relay_police (RtcUdpRelay *self, const AeroFlow *flow, const char *allowed_in, gsize len,
              AeroSession **session, gboolean *new_flow)
{
  AeroCloseReason close_reason = AERO_CLOSE_POLICY;
  AeroTrafficVerdict verdict;

  *session = NULL;
  *new_flow = FALSE;
  if (self->opts.mode == RTC_UDP_RELAY_OPEN)
    return TRUE;
  *session = current_session (self);
  if (*session == NULL || self->policy == NULL)
    {
      relay_drop (self, RTC_UDP_DROP_NO_SESSION);
      return FALSE;
    }
  if (g_strcmp0 (allowed_in, aero_session_get_id (*session)) != 0)
    {
      const char *reason = NULL;

      if (!aero_policy_check_flow (self->policy, *session, flow, &reason))
        {
          relay_drop (self, RTC_UDP_DROP_POLICY);
          return FALSE;
        }
      *new_flow = TRUE;
    }
  verdict = aero_policy_check_traffic (self->policy, *session, AERO_DIRECTION_FROM_GUEST, len,
                                       &close_reason);
  if (verdict == AERO_TRAFFIC_CLOSE)
    relay_close_session (self, *session, close_reason);
  if (verdict != AERO_TRAFFIC_PASS)
    {
      /* The flow carried nothing: it was never opened. */
      if (*new_flow)
        aero_policy_flow_closed (self->policy, *session, flow);
      relay_drop (self, RTC_UDP_DROP_POLICY);
      return FALSE;
    }
  return TRUE;
}

/* Adds @d's remote to @b, forgetting the least recently used one at
 * udp-max-remotes. */
static Remote *
binding_add_remote (RtcUdpRelay *self, Binding *b, const RtcUdpDatagram *d)
{
  Remote *r;

  if (b->remotes->len >= self->opts.max_remotes)
    {
      guint oldest = 0;

      for (guint i = 1; i < b->remotes->len; i++)
        if (((Remote *) b->remotes->pdata[i])->last_used_us <
            ((Remote *) b->remotes->pdata[oldest])->last_used_us)
          oldest = i;
      remote_forget (self, b, b->remotes->pdata[oldest]);
      g_ptr_array_remove_index_fast (b->remotes, oldest);
      relay_count_eviction (self);
    }
  r = g_new0 (Remote, 1);
  memcpy (r->addr, d->remote, addr_len (d->family));
  r->port = d->remote_port;
  g_ptr_array_add (b->remotes, r);
  return r;
}

static void
relay_from_guest (RtcUdpRelay *self, const RtcUdpDatagram *d)
{
  Binding *b;
  Remote *r = NULL;
  AeroSession *session;
  AeroFlow flow;
  gboolean new_flow;
  g_autoptr (GInetAddress) inet = NULL;
  g_autoptr (GSocketAddress) to = NULL;
  g_autoptr (GError) error = NULL;

  if (d->payload_len > self->opts.max_payload)
    {
      relay_drop (self, RTC_UDP_DROP_OVERSIZE);
      return;
    }
  if (d->remote_port == 0)
    {
      relay_drop (self, RTC_UDP_DROP_MALFORMED);
      return;
    }
  /* The policy is asked before anything is opened for the datagram: a
   * refused one costs no host socket. */
  flow_init (&flow, d->family, d->guest_port, d->remote, d->remote_port);
  b = g_hash_table_lookup (self->bindings, binding_key (d->family, d->guest_port));
  if (b)
    r = binding_find_remote (b, d->remote, d->remote_port);
  if (!relay_police (self, &flow, r ? r->allowed_in : NULL, d->payload_len, &session, &new_flow) ||
      self->stopped)
    return;

  if (b == NULL)
    b = relay_binding (self, d->family, d->guest_port);
  if (b == NULL)
    {
      if (new_flow)
        aero_policy_flow_closed (self->policy, session, &flow);
      relay_drop (self, RTC_UDP_DROP_SEND_ERROR);
      return;
    }
  if (r == NULL)
    r = binding_add_remote (self, b, d);
  if (new_flow)
    {
      /* A flow allowed in an earlier session was dropped with it. */
      g_free (r->allowed_in);
      r->allowed_in = g_strdup (aero_session_get_id (session));
    }
  r->last_used_us = b->last_used_us = g_get_monotonic_time ();
  b->version = d->version;

  inet = g_inet_address_new_from_bytes (d->remote, d->family);
  to = g_inet_socket_address_new (inet, d->remote_port);
  if (g_socket_send_to (b->socket, to, (const char *) d->payload, d->payload_len, NULL, &error) < 0)
    {
      relay_drop (self, RTC_UDP_DROP_SEND_ERROR);
      return;
    }
  aero_metric_inc (self->metrics->udp_datagrams_out);
}

static void
on_message (RtcDataChannel *dc, GBytes *message, gboolean is_text, gpointer user_data)
{
  /* Held: nothing below may end the relay, but the peer owns it. */
  g_autoptr (RtcUdpRelay) self = g_object_ref (user_data);
  gsize len = g_bytes_get_size (message);
  guint64 lost = rtc_data_channel_take_dropped (dc);
  RtcUdpDatagram d;

  if (lost > 0)
    aero_metric_add (self->metrics->udp_dropped[RTC_UDP_DROP_QUEUE_FULL], (double) lost);
  if (self->stopped)
    return;
  self->last_rx_us = g_get_monotonic_time ();
  aero_metric_inc (self->metrics->rx_messages[RTC_LABEL_UDP]);
  aero_metric_add (self->metrics->rx_bytes[RTC_LABEL_UDP], (double) len);
  if (len > self->opts.max_message_size)
    {
      aero_metric_inc (self->metrics->message_too_big_closes);
      relay_drop (self, RTC_UDP_DROP_OVERSIZE);
      rtc_udp_relay_stop (self, "message above max-message-size");
      return;
    }
  if (is_text || rtc_udp_decode (g_bytes_get_data (message, NULL), len, &d) != RTC_UDP_DECODE_OK)
    {
      relay_drop (self, RTC_UDP_DROP_MALFORMED);
      return;
    }
  relay_from_guest (self, &d);
}

static void
on_closed (RtcDataChannel *dc, gpointer user_data)
{
  rtc_udp_relay_stop (user_data, "DataChannel closed by the peer");
}

static void
on_error (RtcDataChannel *dc, const char *text, gpointer user_data)
{
  rtc_udp_relay_stop (user_data, "DataChannel error");
}

static gboolean
sweep_cb (gpointer user_data)
{
  RtcUdpRelay *self = user_data;
  gint64 cutoff = g_get_monotonic_time () - (gint64) self->opts.idle_timeout_ms * 1000;
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Binding *) value)->last_used_us < cutoff)
      g_hash_table_iter_remove (&iter);
  /* A channel that has sent nothing for idle-timeout is closed. */
  if (self->opts.channel_idle_ms > 0 &&
      g_get_monotonic_time () - self->last_rx_us > (gint64) self->opts.channel_idle_ms * 1000)
    {
      self->sweep_timer = 0;
      rtc_udp_relay_stop (self, "idle timeout");
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

/* ---- life cycle ------------------------------------------------------------------ */

/**
 * rtc_udp_relay_new:
 * @component: the transport instance name, for logs
 * @client: (nullable): the client's address, for logs
 * @metrics: the instance's series
 * @options: settings (copied)
 * @dc: the `udp` DataChannel, not started
 * @policy: (nullable): the policy to ask
 * @session_func: returns the session whose policy applies
 * @session_data: its argument
 *
 * Returns: (transfer full): a relay, not started.
 */
RtcUdpRelay *
rtc_udp_relay_new (const char *component, const char *client, RtcMetrics *metrics,
                   const RtcUdpOptions *options, RtcDataChannel *dc, AeroPolicy *policy,
                   RtcUdpSessionFunc session_func, gpointer session_data)
{
  RtcUdpRelay *self = g_object_new (RTC_TYPE_UDP_RELAY, NULL);

  self->component = g_strdup (component);
  self->client = g_strdup (client);
  self->metrics = rtc_metrics_ref (metrics);
  self->opts = *options;
  self->dc = g_object_ref (dc);
  self->policy = policy ? g_object_ref (policy) : NULL;
  self->session_func = session_func;
  self->session_data = session_data;
  return self;
}

void
rtc_udp_relay_start (RtcUdpRelay *self)
{
  guint64 idle = self->opts.channel_idle_ms ? MIN (self->opts.idle_timeout_ms,
                                                    self->opts.channel_idle_ms)
                                             : self->opts.idle_timeout_ms;
  guint64 sweep_ms = CLAMP (idle / 4, 250, 10000);

  self->buffer = g_malloc (RECV_BUFFER);
  self->last_rx_us = g_get_monotonic_time ();
  self->handlers[0] = g_signal_connect (self->dc, "message", G_CALLBACK (on_message), self);
  self->handlers[1] = g_signal_connect (self->dc, "closed", G_CALLBACK (on_closed), self);
  self->handlers[2] = g_signal_connect (self->dc, "error", G_CALLBACK (on_error), self);
  self->sweep_timer = g_timeout_add ((guint) sweep_ms, sweep_cb, self);
  aero_metric_add (self->metrics->channels_active[RTC_LABEL_UDP], 1);
  aero_metric_inc (self->metrics->channels_opened[RTC_LABEL_UDP]);
  self->counted_active = TRUE;
  AERO_LOG_INFO (self->component, "client", self->client ? self->client : "-", "MESSAGE",
                 "udp channel opened (%s%s)",
                 self->opts.mode == RTC_UDP_RELAY_OPEN ? "no policy" : "policed",
                 self->opts.full_cone ? ", full cone" : "");
  rtc_data_channel_start (self->dc);
}

/**
 * rtc_udp_relay_session_ended:
 * @self: a relay
 *
 * The session whose policy applied has ended: the flows it allowed are
 * forgotten (the policy dropped them with the session).
 */
void
rtc_udp_relay_session_ended (RtcUdpRelay *self)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->bindings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Binding *b = value;

      for (guint i = 0; i < b->remotes->len; i++)
        g_clear_pointer (&((Remote *) b->remotes->pdata[i])->allowed_in, g_free);
    }
}

/**
 * rtc_udp_relay_stop:
 * @self: a relay
 * @why: text for the log
 *
 * Closes every binding and the DataChannel; emits "finished" once.
 */
void
rtc_udp_relay_stop (RtcUdpRelay *self, const char *why)
{
  if (self->stopped)
    return;
  self->stopped = TRUE;
  g_object_ref (self);
  g_clear_handle_id (&self->sweep_timer, g_source_remove);
  g_clear_handle_id (&self->close_idle, g_source_remove);
  g_clear_pointer (&self->close_session, g_free);
  g_hash_table_remove_all (self->bindings);
  for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
    g_clear_signal_handler (&self->handlers[i], self->dc);
  rtc_data_channel_detach (self->dc);
  if (rtc_data_channel_is_open (self->dc))
    rtc_data_channel_close (self->dc);
  if (self->counted_active)
    {
      aero_metric_add (self->metrics->channels_active[RTC_LABEL_UDP], -1);
      self->counted_active = FALSE;
    }
  AERO_LOG_INFO (self->component, "client", self->client ? self->client : "-", "MESSAGE",
                 "udp channel closed: %s", why ? why : "-");
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  g_object_unref (self);
}

guint64
rtc_udp_relay_get_backlog (RtcUdpRelay *self)
{
  return self->stopped ? 0 : rtc_data_channel_get_buffered_amount (self->dc);
}

static void
rtc_udp_relay_dispose (GObject *object)
{
  RtcUdpRelay *self = RTC_UDP_RELAY (object);

  if (!self->stopped && self->dc)
    rtc_udp_relay_stop (self, "released");
  G_OBJECT_CLASS (rtc_udp_relay_parent_class)->dispose (object);
}

static void
rtc_udp_relay_finalize (GObject *object)
{
  RtcUdpRelay *self = RTC_UDP_RELAY (object);

  g_clear_handle_id (&self->close_idle, g_source_remove);
  g_free (self->close_session);
  g_clear_pointer (&self->eviction_log, aero_rate_limit_free);
  g_hash_table_unref (self->bindings);
  g_clear_object (&self->dc);
  g_clear_object (&self->policy);
  g_clear_pointer (&self->metrics, rtc_metrics_unref);
  g_free (self->buffer);
  g_free (self->component);
  g_free (self->client);
  G_OBJECT_CLASS (rtc_udp_relay_parent_class)->finalize (object);
}

static void
rtc_udp_relay_class_init (RtcUdpRelayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rtc_udp_relay_dispose;
  object_class->finalize = rtc_udp_relay_finalize;
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
rtc_udp_relay_init (RtcUdpRelay *self)
{
  self->bindings = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                          (GDestroyNotify) binding_free);
  self->eviction_log = aero_rate_limit_new (1.0 / EVICTION_LOG_INTERVAL_S, 1, 0,
                                            g_get_monotonic_time ());
}
