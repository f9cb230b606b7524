/* rtc-server.c — registers the signalling paths, admits clients and keeps
 * the peer connections within max-peers. See the header. */
#include "rtc-server.h"
#include "rtc-signal-http.h"
#include "rtc-signal-ws.h"

struct _RtcServer
{
  GObject parent_instance;

  AeroComponent *component;     /* unowned: the transport owns the server */
  char *name;
  const RtcConfig *config;      /* owned by the transport */

  AeroHost *host;               /* set between start and stop */
  RtcMetrics *metrics;
  AeroPolicy *policy;
  GMainContext *context;
  gboolean accepting;
  GPtrArray *registered;        /* paths added to the HTTP server */
  RtcSignalHttp *http;
  RtcSignalWs *ws;

  GHashTable *peers;            /* RtcPeer* (owned) until "closed" */
  guint places;                 /* places in max-peers held by signalling WebSockets */
  GVariant *limits;             /* listed with the endpoints */
};

G_DEFINE_FINAL_TYPE (RtcServer, rtc_server, G_TYPE_OBJECT)

/**
 * rtc_server_peer_of:
 * @msg: a request
 *
 * Returns: (transfer full) (nullable): the client's address as "ip:port".
 */
char *
rtc_server_peer_of (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return remote ? g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote)) : NULL;
}

static void
early_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
               gpointer user_data)
{
  RtcServer *self = user_data;

  if (self->host != NULL && self->http != NULL && g_strcmp0 (path, self->config->offer_path) == 0)
    rtc_signal_http_early (self->http, msg);
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  RtcServer *self = user_data;

  if (soup_server_message_get_status (msg) != 0)
    return;
  /* libsoup also routes sub-paths here; only the exact paths are ours. */
  if (self->host != NULL && self->http && g_strcmp0 (path, self->config->offer_path) == 0)
    rtc_signal_http_handle (self->http, msg, path);
  else if (self->host != NULL && self->ws && g_strcmp0 (path, self->config->signal_path) == 0)
    rtc_signal_ws_handle (self->ws, msg, path);
  else
    soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
}

/* ---- for the endpoints ------------------------------------------------------------ */

const char *
rtc_server_get_name (RtcServer *self)
{
  return self->name;
}

const RtcConfig *
rtc_server_get_config (RtcServer *self)
{
  return self->config;
}

RtcMetrics *
rtc_server_get_metrics (RtcServer *self)
{
  return self->metrics;
}

gboolean
rtc_server_is_accepting (RtcServer *self)
{
  return self->accepting && self->host != NULL && !aero_host_is_shutting_down (self->host);
}

/**
 * rtc_server_is_full:
 * @self: a server
 *
 * Whether max-peers is reached: it counts every peer connection until it
 * has closed and its webrtcbin has stopped (a closed one lingers 500 ms),
 * and every place a signalling WebSocket holds (rtc_server_hold_place()).
 *
 * Returns: %TRUE when no new peer connection or signalling WebSocket fits.
 */
gboolean
rtc_server_is_full (RtcServer *self)
{
  guint64 lingering = self->metrics ? (guint64) aero_metric_get (self->metrics->peers_lingering)
                                    : 0;

  return (guint64) g_hash_table_size (self->peers) + self->places + lingering
         >= self->config->max_peers;
}

/**
 * rtc_server_hold_place:
 * @self: a server
 *
 * Takes a place in max-peers for a signalling WebSocket that has no peer
 * connection (yet, or any more). The caller checked rtc_server_is_full()
 * first, or hands the place of a peer that has just closed back to its
 * socket.
 */
void
rtc_server_hold_place (RtcServer *self)
{
  self->places++;
}

/**
 * rtc_server_release_place:
 * @self: a server
 *
 * Gives back a place taken with rtc_server_hold_place().
 */
void
rtc_server_release_place (RtcServer *self)
{
  g_return_if_fail (self->places > 0);
  self->places--;
}

/**
 * rtc_server_admit:
 * @self: a server
 * @kind: which request
 * @msg: the request
 * @tokens: (nullable): credentials offered as subprotocol entries
 * @verdict: (out caller-allocates): the answer
 *
 * Runs the core's admission checks.
 */
void
rtc_server_admit (RtcServer *self, RtcAdmissionKind kind, SoupServerMessage *msg,
                  const char *const *tokens, RtcAdmissionVerdict *verdict)
{
  RtcAdmissionRequest request = { kind, self->host, msg, tokens };

  rtc_admission_check (&request, verdict);
}

/**
 * rtc_server_log_access:
 * @self: a server
 * @msg: a signalling request
 * @admission: (nullable): its admission, when the checks ran
 * @status: the answer's status (101 for an accepted upgrade)
 * @reason: (nullable): why, in snake_case
 *
 * Writes the core's access-log line for the request.
 */
void
rtc_server_log_access (RtcServer *self, SoupServerMessage *msg, const AeroAdmission *admission,
                       guint status, const char *reason)
{
  if (self->host != NULL)
    aero_host_log_access (self->host, msg, admission, status, reason);
}

static void
on_peer_closed (RtcPeer *peer, gpointer user_data)
{
  RtcServer *self = user_data;

  g_signal_handlers_disconnect_by_data (peer, self);
  g_hash_table_remove (self->peers, peer);
}

/**
 * rtc_server_new_peer:
 * @self: a server
 * @client: (nullable): the admitted client's address
 * @admission: (transfer full) (nullable): its admission, which the peer
 *   keeps until it closes (freed here on failure)
 * @placed: whether the caller holds a place in max-peers for it (a
 *   signalling WebSocket's, rtc_server_hold_place()); the caller gives it
 *   back once the peer exists, since the peer then counts
 * @refusal: (out): why, on failure
 * @error: return location for a #GError
 *
 * Creates and starts a peer connection, within max-peers. The server
 * keeps it until it closes.
 *
 * Returns: (transfer none) (nullable): the peer.
 */
RtcPeer *
rtc_server_new_peer (RtcServer *self, const char *client, AeroAdmission *admission,
                     gboolean placed, RtcRefuseReason *refusal, GError **error)
{
  g_autoptr (RtcPeer) peer = NULL;
  RtcPeerEnv env;

  if (!rtc_server_is_accepting (self))
    {
      *refusal = RTC_REFUSE_SHUTTING_DOWN;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "server shutting down");
      rtc_admission_free (admission);
      return NULL;
    }
  if (!placed && rtc_server_is_full (self))
    {
      *refusal = RTC_REFUSE_MAX_PEERS;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY,
                   "too many peer connections (max-peers = %" G_GUINT64_FORMAT ")",
                   self->config->max_peers);
      rtc_admission_free (admission);
      return NULL;
    }

  env.component = self->component;
  env.host = self->host;
  env.name = self->name;
  env.config = self->config;
  env.metrics = self->metrics;
  env.policy = self->policy;
  env.context = self->context;
  peer = rtc_peer_new (&env, client, admission);
  if (!rtc_peer_start (peer, error))
    {
      *refusal = RTC_REFUSE_NEGOTIATION;
      return NULL;
    }
  g_hash_table_add (self->peers, g_object_ref (peer));
  g_signal_connect (peer, "closed", G_CALLBACK (on_peer_closed), self);
  return peer;
}

/* ---- life cycle ------------------------------------------------------------------- */

RtcServer *
rtc_server_new (AeroComponent *component, const char *name, const RtcConfig *config)
{
  RtcServer *self = g_object_new (RTC_TYPE_SERVER, NULL);

  self->component = component;
  self->name = g_strdup (name);
  self->config = config;
  return self;
}

/**
 * rtc_server_start:
 * @self: a server
 * @host: the core
 * @metrics: the instance's series
 * @policy: (nullable): the policy of the udp relay
 * @error: return location for a #GError
 *
 * Registers the signalling paths and starts accepting.
 *
 * Returns: %TRUE on success.
 */
gboolean
rtc_server_start (RtcServer *self, AeroHost *host, RtcMetrics *metrics, AeroPolicy *policy,
                  GError **error)
{
  SoupServer *server = aero_host_get_http_server (host);
  g_autoptr (GString) paths = g_string_new (NULL);

  if (server == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                           "the core HTTP server is not running");
      return FALSE;
    }
  self->host = host;
  self->metrics = rtc_metrics_ref (metrics);
  self->policy = policy ? g_object_ref (policy) : NULL;
  self->context = g_main_context_ref_thread_default ();
  if (self->config->offer_path)
    {
      self->http = rtc_signal_http_new (self);
      soup_server_add_early_handler (server, self->config->offer_path, early_handler, self, NULL);
      soup_server_add_handler (server, self->config->offer_path, server_handler, self, NULL);
      g_ptr_array_add (self->registered, g_strdup (self->config->offer_path));
      g_string_append_printf (paths, "POST %s", self->config->offer_path);
    }
  if (self->config->signal_path)
    {
      self->ws = rtc_signal_ws_new (self);
      soup_server_add_handler (server, self->config->signal_path, server_handler, self, NULL);
      g_ptr_array_add (self->registered, g_strdup (self->config->signal_path));
      g_string_append_printf (paths, "%sGET %s (WebSocket)", paths->len ? ", " : "",
                              self->config->signal_path);
    }
  /* POST /session tells browsers where the endpoints are and what they take. */
  {
    GVariantDict limits;

    g_variant_dict_init (&limits, NULL);
    g_variant_dict_insert (&limits, "maxMessageSize", "x",
                           (gint64) self->config->l2.max_message_size);
    g_variant_dict_insert (&limits, "maxFramePayloadBytes", "x",
                           (gint64) self->config->l2.limits.max_frame_payload);
    g_variant_dict_insert (&limits, "maxControlPayloadBytes", "x",
                           (gint64) self->config->l2.limits.max_control_payload);
    g_variant_dict_insert (&limits, "maxUdpPayloadBytes", "x",
                           (gint64) self->config->udp.max_payload);
    g_variant_ref_sink (self->limits = g_variant_dict_end (&limits));
  }
  if (self->config->offer_path)
    aero_host_add_endpoint (host, "webrtc-offer", self->config->offer_path, self->limits);
  if (self->config->signal_path)
    aero_host_add_endpoint (host, "webrtc-signal", self->config->signal_path, self->limits);
  self->accepting = TRUE;
  AERO_LOG_INFO (self->name, "paths", paths->str, "MESSAGE",
                 "accepting WebRTC offers: %s; max %" G_GUINT64_FORMAT " peers", paths->str,
                 self->config->max_peers);
  return TRUE;
}

void
rtc_server_stop_accepting (RtcServer *self)
{
  self->accepting = FALSE;
}

/**
 * rtc_server_stop:
 * @self: a server
 *
 * Unregisters the paths, ends pending signalling and closes every peer.
 */
void
rtc_server_stop (RtcServer *self)
{
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  self->accepting = FALSE;
  if (self->host != NULL)
    {
      SoupServer *server = aero_host_get_http_server (self->host);

      for (guint i = 0; server && i < self->registered->len; i++)
        soup_server_remove_handler (server, g_ptr_array_index (self->registered, i));
      if (self->config->offer_path)
        aero_host_remove_endpoint (self->host, "webrtc-offer");
      if (self->config->signal_path)
        aero_host_remove_endpoint (self->host, "webrtc-signal");
    }
  g_clear_pointer (&self->limits, g_variant_unref);
  g_ptr_array_set_size (self->registered, 0);
  if (self->http)
    rtc_signal_http_stop (self->http);
  if (self->ws)
    rtc_signal_ws_stop (self->ws);

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (left, g_object_ref (key));
  for (guint i = 0; i < left->len; i++)
    rtc_peer_close (left->pdata[i], RTC_PEER_END_STOPPED, "transport stopped");
  g_hash_table_remove_all (self->peers);
  rtc_peer_reap_lingering ();

  g_clear_pointer (&self->http, rtc_signal_http_free);
  g_clear_pointer (&self->ws, rtc_signal_ws_free);
  g_clear_object (&self->policy);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_clear_pointer (&self->metrics, rtc_metrics_unref);
  self->host = NULL;
}

/**
 * rtc_server_get_backlog:
 * @self: a server
 *
 * Returns: the buffered amount of every channel, in bytes.
 */
guint64
rtc_server_get_backlog (RtcServer *self)
{
  GHashTableIter iter;
  gpointer key;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, self->peers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    total += rtc_peer_get_backlog (key);
  return total;
}

static void
rtc_server_dispose (GObject *object)
{
  RtcServer *self = RTC_SERVER (object);

  if (self->host != NULL || g_hash_table_size (self->peers) > 0)
    rtc_server_stop (self);
  G_OBJECT_CLASS (rtc_server_parent_class)->dispose (object);
}

static void
rtc_server_finalize (GObject *object)
{
  RtcServer *self = RTC_SERVER (object);

  g_hash_table_unref (self->peers);
  g_ptr_array_unref (self->registered);
  g_free (self->name);
  G_OBJECT_CLASS (rtc_server_parent_class)->finalize (object);
}

static void
rtc_server_class_init (RtcServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rtc_server_dispose;
  object_class->finalize = rtc_server_finalize;
}

static void
rtc_server_init (RtcServer *self)
{
  self->registered = g_ptr_array_new_with_free_func (g_free);
  self->peers = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
}
