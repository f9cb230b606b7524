/* ws-client.c — client mode: dial, open a session per connection, redial
 * with backoff. See the header. */
#include "ws-client.h"
#include "ws-dial.h"
#include "ws-tunnel.h"

/* A connection that lived this long resets the backoff. */
#define RESET_AFTER_MS (10 * 1000)
/* Doublings of the backoff, past which it has long reached its cap. */
#define MAX_DOUBLINGS 30

struct _WsClient
{
  GObject parent_instance;

  AeroComponent *component;     /* unowned: the transport owns the client */
  char *name;
  const WsConfig *config;       /* owned by the transport */
  char *url_text;

  AeroHost *host;               /* set between start and stop */
  WsMetrics *metrics;
  gboolean running;             /* dialling allowed */

  GCancellable *dialing;        /* the dial in flight, if any */
  guint retry_timer;
  guint attempt;                /* retries since the backoff was last reset */
  guint failures;               /* failed dials in a row, for the log */
  gboolean ever_connected;

  WsTunnel *current;            /* unowned: the tunnel whose session is open */
  gint64 connected_at;
  GHashTable *tunnels;          /* WsTunnel* (owned) until "finished" */
};

G_DEFINE_FINAL_TYPE (WsClient, ws_client, G_TYPE_OBJECT)

static void dial (WsClient *self);

static gboolean
retry_cb (gpointer user_data)
{
  WsClient *self = user_data;

  self->retry_timer = 0;
  dial (self);
  return G_SOURCE_REMOVE;
}

static guint64
backoff_delay (WsClient *self)
{
  guint64 min = self->config->reconnect_min_ms, max = self->config->reconnect_max_ms;
  guint64 cap = min;

  for (guint i = 0; i < MIN (self->attempt, MAX_DOUBLINGS) && cap < max; i++)
    cap *= 2;
  cap = MIN (cap, max);
  return min + (guint64) (g_random_double () * (double) (cap - min));
}

static void
schedule_retry (WsClient *self)
{
  guint64 delay;

  if (!self->running || self->retry_timer != 0)
    return;
  delay = backoff_delay (self);
  self->attempt++;
  AERO_LOG_DEBUG (self->name, "MESSAGE", "dialling %s again in %" G_GUINT64_FORMAT " ms",
                  self->url_text, delay);
  self->retry_timer = g_timeout_add ((guint) MIN (delay, G_MAXUINT), retry_cb, self);
}

static void
on_tunnel_closed (AeroChannel *channel, int reason, gpointer user_data)
{
  WsClient *self = user_data;
  guint64 lived_ms, stable_ms;

  if (channel != AERO_CHANNEL (self->current))
    return;
  self->current = NULL;
  lived_ms = (guint64) (g_get_monotonic_time () - self->connected_at) / 1000;
  stable_ms = MAX (RESET_AFTER_MS, 2 * self->config->tunnel.keepalive_ms);
  if (lived_ms >= stable_ms)
    self->attempt = 0;
  schedule_retry (self);
}

static void
on_tunnel_finished (WsTunnel *tunnel, gpointer user_data)
{
  WsClient *self = user_data;

  g_signal_handlers_disconnect_by_data (tunnel, self);
  if (self->current == tunnel)
    self->current = NULL;
  g_hash_table_remove (self->tunnels, tunnel);
}

static void
dial_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (WsClient) self = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) leftover = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (WsTunnel) tunnel = NULL;
  g_autofree char *peer = NULL;

  stream = ws_dial_finish (result, &leftover, &peer, &error);
  g_clear_object (&self->dialing);
  if (!self->running)
    {
      if (stream)
        g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      return;
    }
  if (stream == NULL)
    {
      aero_metric_inc (self->metrics->connects_failed);
      self->failures++;
      /* One warning per streak of failures; the rest at debug level. */
      if (self->failures == 1)
        AERO_LOG_WARNING (self->name, "url", self->url_text, "MESSAGE",
                          "cannot open the tunnel to %s: %s", self->url_text, error->message);
      else
        AERO_LOG_DEBUG (self->name, "url", self->url_text, "MESSAGE",
                        "attempt %u to open the tunnel failed: %s", self->failures,
                        error->message);
      schedule_retry (self);
      return;
    }

  tunnel = ws_tunnel_new (self->name, self->metrics, &self->config->tunnel, TRUE);
  aero_channel_set_peer (AERO_CHANNEL (tunnel), peer ? peer : self->url_text);
  if (aero_host_open_session (self->host, self->component, AERO_CHANNEL (tunnel), &error) == NULL)
    {
      aero_metric_inc (self->metrics->connects_failed);
      AERO_LOG_WARNING (self->name, "url", self->url_text, "MESSAGE",
                        "connected to %s but cannot open a session: %s", self->url_text,
                        error->message);
      g_io_stream_close_async (stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
      schedule_retry (self);
      return;
    }

  aero_metric_inc (self->metrics->connects_ok);
  if (self->ever_connected)
    aero_metric_inc (self->metrics->reconnects);
  self->ever_connected = TRUE;
  AERO_LOG_INFO (self->name, "peer", aero_channel_get_peer (AERO_CHANNEL (tunnel)), "session",
                 aero_channel_get_session_id (AERO_CHANNEL (tunnel)), "url", self->url_text,
                 "MESSAGE", "tunnel opened to %s (after %u failed attempt(s))", self->url_text,
                 self->failures);
  self->failures = 0;
  self->current = tunnel;
  self->connected_at = g_get_monotonic_time ();
  g_hash_table_add (self->tunnels, g_object_ref (tunnel));
  g_signal_connect (tunnel, "closed", G_CALLBACK (on_tunnel_closed), self);
  g_signal_connect (tunnel, "finished", G_CALLBACK (on_tunnel_finished), self);
  /* A TLS connection comes wrapped (GTcpWrapperConnection): not read
   * straight from its socket. */
  ws_tunnel_attach (tunnel, stream,
                    G_IS_TCP_CONNECTION (stream) && !G_IS_TCP_WRAPPER_CONNECTION (stream)
                        ? g_socket_connection_get_socket (G_SOCKET_CONNECTION (stream))
                        : NULL,
                    leftover);
}

static void
dial (WsClient *self)
{
  g_autofree char *token_entry = NULL;
  const char *protocols[3] = { AERO_L2_SUBPROTOCOL, NULL, NULL };

  if (!self->running || self->dialing != NULL || self->current != NULL)
    return;
  if (self->config->token)
    {
      token_entry = g_strconcat (AERO_L2_TOKEN_PREFIX, self->config->token, NULL);
      protocols[1] = token_entry;
    }
  self->dialing = g_cancellable_new ();
  ws_dial_async (self->config->url, protocols, self->config->origin, self->config->tls_ca,
                 self->config->connect_timeout_ms, self->dialing, dial_done, g_object_ref (self));
}

/**
 * ws_client_new:
 * @component: the transport component (sessions are opened for it)
 * @name: its instance name
 * @config: its configuration; must outlive the client
 *
 * Returns: (transfer full): a client that is not started.
 */
WsClient *
ws_client_new (AeroComponent *component, const char *name, const WsConfig *config)
{
  WsClient *self = g_object_new (WS_TYPE_CLIENT, NULL);
  g_autoptr (GUri) shown = NULL;

  self->component = component;
  self->name = g_strdup (name);
  self->config = config;
  /* Logged form: no query, which may carry credentials. */
  shown = g_uri_build (G_URI_FLAGS_ENCODED, g_uri_get_scheme (config->url), NULL,
                       g_uri_get_host (config->url), g_uri_get_port (config->url),
                       g_uri_get_path (config->url), NULL, NULL);
  self->url_text = g_uri_to_string (shown);
  return self;
}

/**
 * ws_client_start:
 * @self: a client
 * @host: the core
 * @metrics: the instance's series
 * @error: return location for a #GError
 *
 * Starts dialling.
 *
 * Returns: %TRUE.
 */
gboolean
ws_client_start (WsClient *self, AeroHost *host, WsMetrics *metrics, GError **error)
{
  self->host = host;
  self->metrics = ws_metrics_ref (metrics);
  self->running = TRUE;
  AERO_LOG_INFO (self->name, "url", self->url_text, "MESSAGE", "tunnel client for %s",
                 self->url_text);
  dial (self);
  return TRUE;
}

/**
 * ws_client_stop_accepting:
 * @self: a client
 *
 * Stops dialling; an open tunnel stays until the core closes its session.
 */
void
ws_client_stop_accepting (WsClient *self)
{
  self->running = FALSE;
  g_clear_handle_id (&self->retry_timer, g_source_remove);
  if (self->dialing)
    g_cancellable_cancel (self->dialing);
}

/**
 * ws_client_stop:
 * @self: a client
 *
 * Stops dialling and drops every connection.
 */
void
ws_client_stop (WsClient *self)
{
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  ws_client_stop_accepting (self);
  g_hash_table_iter_init (&iter, self->tunnels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (left, g_object_ref (key));
  for (guint i = 0; i < left->len; i++)
    {
      g_signal_handlers_disconnect_by_data (left->pdata[i], self);
      ws_tunnel_abort (left->pdata[i], AERO_CLOSE_SHUTDOWN, "transport stopped");
    }
  g_hash_table_remove_all (self->tunnels);
  self->current = NULL;
  self->host = NULL;
  g_clear_pointer (&self->metrics, ws_metrics_unref);
}

/**
 * ws_client_get_backlog:
 * @self: a client
 *
 * Returns: the send backlog of the client's tunnels, in bytes.
 */
guint64
ws_client_get_backlog (WsClient *self)
{
  return ws_tunnels_get_backlog (self->tunnels);
}

static void
ws_client_dispose (GObject *object)
{
  WsClient *self = WS_CLIENT (object);

  if (self->running || g_hash_table_size (self->tunnels) > 0)
    ws_client_stop (self);
  G_OBJECT_CLASS (ws_client_parent_class)->dispose (object);
}

static void
ws_client_finalize (GObject *object)
{
  WsClient *self = WS_CLIENT (object);

  g_hash_table_unref (self->tunnels);
  g_clear_object (&self->dialing);
  g_clear_pointer (&self->metrics, ws_metrics_unref);
  g_free (self->url_text);
  g_free (self->name);
  G_OBJECT_CLASS (ws_client_parent_class)->finalize (object);
}

static void
ws_client_class_init (WsClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ws_client_dispose;
  object_class->finalize = ws_client_finalize;
}

static void
ws_client_init (WsClient *self)
{
  self->tunnels = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
}
