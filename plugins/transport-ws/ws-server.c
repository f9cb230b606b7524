/* ws-server.c — server mode: checks upgrade requests (with the core's
 * admission checks), opens sessions before answering 101, steals upgraded
 * connections, and writes one access-log line per upgrade attempt. See
 * the header. */
#include <string.h>

#include "ws-admission.h"
#include "ws-frame.h"
#include "ws-server.h"
#include "ws-tunnel.h"

/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429

struct _WsServer
{
  GObject parent_instance;

  AeroComponent *component;     /* unowned: the transport owns the server */
  char *name;
  const WsConfig *config;       /* owned by the transport */

  AeroHost *host;               /* set between start and stop */
  WsMetrics *metrics;
  GPtrArray *registered;        /* paths added to the HTTP server */
  gboolean accepting;

  GHashTable *upgrades;         /* Upgrade* waiting for their 101 to be written */
  GHashTable *tunnels;          /* WsTunnel* (owned) -> its AeroAdmission (owned), until
                                 * "finished" */
};

G_DEFINE_FINAL_TYPE (WsServer, ws_server, G_TYPE_OBJECT)

/* An accepted request whose 101 has not been written yet. */
typedef struct {
  WsServer *server;             /* unowned */
  WsTunnel *tunnel;             /* owned */
  SoupServerMessage *msg;       /* unowned: libsoup owns it until it is done */
  gulong wrote_handler;
  gulong finished_handler;
} Upgrade;

static void on_msg_gone (gpointer data, GObject *where_the_object_was);

static void
upgrade_free (Upgrade *up)
{
  if (up->msg)
    {
      g_clear_signal_handler (&up->wrote_handler, up->msg);
      g_clear_signal_handler (&up->finished_handler, up->msg);
      g_object_weak_unref (G_OBJECT (up->msg), on_msg_gone, up);
    }
  g_clear_object (&up->tunnel);
  g_free (up);
}

/* One upgrade request: libsoup's, or one the core took off a listener
 * (aero-http-upgrade.h). */
typedef struct {
  SoupServerMessage *msg;       /* or */
  AeroHttpUpgrade *direct;
  AeroHttpRequest request;
  char *peer_text;              /* owned: request.peer, once formatted */
} WsRequest;

static void
ws_request_clear (WsRequest *req)
{
  g_clear_pointer (&req->peer_text, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (WsRequest, ws_request_clear)

/* The peer's address as text, formatted once per request. */
static const char *
peer_of (WsRequest *req)
{
  GSocketAddress *remote = req->request.remote;

  if (req->request.peer == NULL && remote)
    req->request.peer = req->peer_text =
      g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));
  return req->request.peer;
}

/* ---- answers ------------------------------------------------------------- */

/* Answers @req with a refusal. @admission (nullable) is the admission
 * check's answer when it ran; its reason is logged for admission refusals. */
static void
refuse (WsServer *self, WsRequest *req, guint status, WsRefuseReason reason, const char *text,
        const AeroAdmission *admission)
{
  g_autoptr (SoupMessageHeaders) direct_headers = NULL;
  SoupMessageHeaders *headers;
  char *body = g_strdup_printf ("%s\n", text);
  const char *why = reason == WS_REFUSE_ADMISSION && admission ? admission->reason
                                                               : ws_refuse_reason_to_string (reason);

  if (req->msg)
    headers = soup_server_message_get_response_headers (req->msg);
  else
    headers = direct_headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  aero_metric_inc (self->metrics->refused[reason]);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    soup_message_headers_replace (headers, "Allow", "GET");
  if (status == SOUP_STATUS_UNAUTHORIZED)
    soup_message_headers_replace (headers, "WWW-Authenticate", "Bearer realm=\"aero-netd\"");
  /* Logged first: a direct answer closes the connection. */
  peer_of (req);
  aero_host_log_access_request (self->host, &req->request, admission, status, why);
  if (req->msg)
    {
      soup_server_message_set_status (req->msg, status, NULL);
      soup_server_message_set_response (req->msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE,
                                        body, strlen (body));
    }
  else
    {
      aero_http_upgrade_respond (req->direct, status, headers, "text/plain; charset=utf-8", body,
                                 strlen (body));
      g_free (body);
    }
}

/* Reads the offered subprotocols: whether aero-l2-tunnel-v1 is among them,
 * and the credentials offered as aero-l2-token.<credential>. */
static gboolean
parse_offer (SoupMessageHeaders *headers, GPtrArray *tokens)
{
  const char *value = soup_message_headers_get_list (headers, "Sec-WebSocket-Protocol");
  GSList *list, *l;
  gboolean offered = FALSE;

  if (value == NULL)
    return FALSE;
  list = soup_header_parse_list (value);
  for (l = list; l; l = l->next)
    {
      const char *entry = l->data;

      if (strcmp (entry, AERO_L2_SUBPROTOCOL) == 0)
        offered = TRUE;
      else if (g_str_has_prefix (entry, AERO_L2_TOKEN_PREFIX) &&
               entry[strlen (AERO_L2_TOKEN_PREFIX)] != '\0')
        g_ptr_array_add (tokens, g_strdup (entry + strlen (AERO_L2_TOKEN_PREFIX)));
    }
  soup_header_free_list (list);
  return offered;
}

static gboolean
is_our_path (WsServer *self, const char *path)
{
  for (guint i = 0; self->config->paths[i]; i++)
    if (strcmp (self->config->paths[i], path) == 0)
      return TRUE;
  return FALSE;
}

/* ---- the upgrade ---------------------------------------------------------- */

static void
on_tunnel_finished (WsTunnel *tunnel, gpointer user_data)
{
  WsServer *self = user_data;
  AeroChannel *channel = AERO_CHANNEL (tunnel);

  g_signal_handlers_disconnect_by_data (tunnel, self);
  AERO_LOG_DEBUG (self->name, "session", aero_channel_get_session_id (channel), "MESSAGE",
                  "tunnel finished; its admission is released");
  /* Removing the tunnel frees its admission, which gives back its place
   * in the quotas. */
  g_hash_table_remove (self->tunnels, tunnel);
}

/* The 101 is on the wire: from here on the connection is ours. */
static void
on_wrote_informational (SoupServerMessage *msg, gpointer user_data)
{
  Upgrade *up = user_data;
  WsServer *self = up->server;
  g_autoptr (WsTunnel) tunnel = g_steal_pointer (&up->tunnel);
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocket) socket = NULL;

  g_hash_table_remove (self->upgrades, up);
  if (ws_tunnel_is_finished (tunnel))
    return;
  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      ws_tunnel_fail (tunnel, AERO_CLOSE_INTERNAL_ERROR, "the upgrade was not answered with 101");
      return;
    }
  /* The HTTP server's idle timeout is not the tunnel's (it has its own),
   * over TLS as well. (The core's connections have no Nagle delay.) */
  if (aero_http_message_get_socket (msg))
    g_socket_set_timeout (aero_http_message_get_socket (msg), 0);
  /* Over TLS the stream does not read straight from the socket. */
  if (!aero_http_message_is_tls (msg) && aero_http_message_get_socket (msg))
    socket = g_object_ref (aero_http_message_get_socket (msg));
  stream = soup_server_message_steal_connection (msg);
  if (stream == NULL)
    {
      ws_tunnel_fail (tunnel, AERO_CLOSE_INTERNAL_ERROR, "could not take over the connection");
      return;
    }
  ws_tunnel_attach (tunnel, stream, socket, NULL);
}

/* The request was dropped without "finished" (libsoup tearing down). */
static void
on_msg_gone (gpointer data, GObject *where_the_object_was)
{
  Upgrade *up = data;
  WsServer *self = up->server;
  g_autoptr (WsTunnel) tunnel = g_steal_pointer (&up->tunnel);

  up->msg = NULL;
  g_hash_table_remove (self->upgrades, up);
  if (tunnel)
    ws_tunnel_fail (tunnel, AERO_CLOSE_NORMAL, "client went away during the upgrade");
}

/* The request ended before its 101 was written: the client went away. */
static void
on_upgrade_finished (SoupServerMessage *msg, gpointer user_data)
{
  Upgrade *up = user_data;
  WsServer *self = up->server;
  g_autoptr (WsTunnel) tunnel = g_steal_pointer (&up->tunnel);

  g_hash_table_remove (self->upgrades, up);
  if (tunnel)
    ws_tunnel_fail (tunnel, AERO_CLOSE_NORMAL, "client went away during the upgrade");
}

/* Admits a checked upgrade request and opens its session. Returns the
 * tunnel, tracked with its admission until it finishes, or NULL after
 * answering a refusal. */
static WsTunnel *
open_tunnel (WsServer *self, WsRequest *req, GPtrArray *tokens)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (WsTunnel) tunnel = NULL;
  const char *peer = peer_of (req);
  WsAdmissionRequest request;
  WsAdmissionVerdict verdict;
  AeroAdmission *admission;

  g_ptr_array_add (tokens, NULL);
  request.host = self->host;
  request.request = &req->request;
  request.tokens = (const char *const *) tokens->pdata;
  ws_admission_check (&request, &verdict);
  admission = verdict.admission;
  if (verdict.status != 0)
    {
      refuse (self, req, verdict.status, WS_REFUSE_ADMISSION,
              verdict.text ? verdict.text : "not admitted", admission);
      ws_admission_free (admission);
      return NULL;
    }

  /* The session opens before the 101, so that a refusal is still an HTTP
   * status the client can read. */
  tunnel = ws_tunnel_new (self->name, self->metrics, &self->config->tunnel, FALSE);
  aero_channel_set_peer (AERO_CHANNEL (tunnel), peer);
  aero_channel_set_principal (AERO_CHANNEL (tunnel), admission->principal);
  if (aero_host_open_session (self->host, self->component, AERO_CHANNEL (tunnel), &error) == NULL)
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY))
        refuse (self, req, HTTP_TOO_MANY_REQUESTS, WS_REFUSE_SESSION_LIMIT,
                "too many tunnels: session limit reached", admission);
      else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
        refuse (self, req, SOUP_STATUS_SERVICE_UNAVAILABLE, WS_REFUSE_SHUTTING_DOWN,
                "server shutting down", admission);
      else
        {
          AERO_LOG_WARNING (self->name, "peer", peer ? peer : "-", "MESSAGE",
                            "cannot open a session: %s", error->message);
          refuse (self, req, SOUP_STATUS_SERVICE_UNAVAILABLE, WS_REFUSE_SESSION_ERROR,
                  "cannot open a session", admission);
        }
      ws_admission_free (admission);
      return NULL;
    }
  /* From here the tunnel is tracked, with its admission, until its
   * connection is gone, whatever happens to the upgrade. */
  g_hash_table_insert (self->tunnels, g_object_ref (tunnel), admission);
  g_signal_connect (tunnel, "finished", G_CALLBACK (on_tunnel_finished), self);
  return g_steal_pointer (&tunnel);
}

static void
log_opened (WsServer *self, WsRequest *req, WsTunnel *tunnel, const char *path)
{
  const char *peer = peer_of (req);

  aero_metric_inc (self->metrics->accepted);
  aero_host_log_access_request (self->host, &req->request,
                                g_hash_table_lookup (self->tunnels, tunnel),
                                SOUP_STATUS_SWITCHING_PROTOCOLS, "admitted");
  AERO_LOG_INFO (self->name, "peer", peer ? peer : "-", "session",
                 aero_channel_get_session_id (AERO_CHANNEL (tunnel)), "path", path, "MESSAGE",
                 "tunnel opened on %s", path);
}

static void
handle_upgrade (WsServer *self, SoupServerMessage *msg, const char *path)
{
  const char *protocols[] = { AERO_L2_SUBPROTOCOL, NULL };
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autoptr (WsTunnel) tunnel = NULL;
  g_auto (WsRequest) req = { .msg = msg };
  Upgrade *up;

  aero_http_request_init_from_message (&req.request, msg);
  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      refuse (self, &req, SOUP_STATUS_METHOD_NOT_ALLOWED, WS_REFUSE_BAD_METHOD,
              "a tunnel is opened with a GET WebSocket upgrade", NULL);
      return;
    }
  if (!self->accepting || aero_host_is_shutting_down (self->host))
    {
      refuse (self, &req, SOUP_STATUS_SERVICE_UNAVAILABLE, WS_REFUSE_SHUTTING_DOWN,
              "server shutting down", NULL);
      return;
    }
  /* Without protocols libsoup checks only the upgrade itself. */
  if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error))
    {
      g_autofree char *text = g_strdup_printf ("bad WebSocket upgrade: %s", error->message);

      refuse (self, &req, SOUP_STATUS_BAD_REQUEST, WS_REFUSE_BAD_HANDSHAKE, text, NULL);
      return;
    }
  if (!parse_offer (req.request.headers, tokens))
    {
      refuse (self, &req, SOUP_STATUS_BAD_REQUEST, WS_REFUSE_NO_SUBPROTOCOL,
              "missing WebSocket subprotocol: offer Sec-WebSocket-Protocol: " AERO_L2_SUBPROTOCOL,
              NULL);
      return;
    }
  /* libsoup reads the offer its own way when it answers (one header, split
   * at ", "): an offer it will not find ours in (repeated headers, a tab
   * after a comma) is refused here, before anything is opened for it. */
  g_clear_error (&error);
  if (!soup_websocket_server_check_handshake (msg, NULL, (char **) protocols, NULL, &error))
    {
      g_autofree char *text = g_strdup_printf ("bad WebSocket upgrade: %s (offer the subprotocols "
                                               "in one Sec-WebSocket-Protocol header, separated "
                                               "by \", \")", error->message);

      refuse (self, &req, SOUP_STATUS_BAD_REQUEST, WS_REFUSE_BAD_HANDSHAKE, text, NULL);
      return;
    }

  tunnel = open_tunnel (self, &req, tokens);
  if (tunnel == NULL)
    return;
  if (!soup_websocket_server_process_handshake (msg, NULL, (char **) protocols, NULL, NULL))
    {
      /* libsoup has set the refusal (400) itself. */
      aero_metric_inc (self->metrics->refused[WS_REFUSE_BAD_HANDSHAKE]);
      aero_host_log_access_request (self->host, &req.request,
                                    g_hash_table_lookup (self->tunnels, tunnel),
                                    soup_server_message_get_status (msg),
                                    ws_refuse_reason_to_string (WS_REFUSE_BAD_HANDSHAKE));
      ws_tunnel_fail (tunnel, AERO_CLOSE_INTERNAL_ERROR, "upgrade refused by libsoup");
      return;
    }
  log_opened (self, &req, tunnel, path);

  up = g_new0 (Upgrade, 1);
  up->server = self;
  up->tunnel = g_steal_pointer (&tunnel);
  up->msg = msg;
  up->wrote_handler = g_signal_connect (msg, "wrote-informational",
                                        G_CALLBACK (on_wrote_informational), up);
  up->finished_handler = g_signal_connect (msg, "finished", G_CALLBACK (on_upgrade_finished), up);
  g_object_weak_ref (G_OBJECT (msg), on_msg_gone, up);
  g_hash_table_add (self->upgrades, up);
}

static void
server_handler (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
                gpointer user_data)
{
  WsServer *self = user_data;

  /* libsoup also routes sub-paths (/l2/x) here; only exact paths are ours. */
  if (self->host == NULL || !is_our_path (self, path))
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  handle_upgrade (self, msg, path);
}

/* Whether libsoup's checks above would pass @headers: the handshake
 * (soup_websocket_server_check_handshake() with and without our
 * subprotocol) with the same header functions, our subprotocol offered in
 * one header. */
static gboolean
direct_handshake_ok (SoupMessageHeaders *headers, GPtrArray *tokens)
{
  const char *key = soup_message_headers_get_one (headers, "Sec-WebSocket-Key");
  const char *offer = soup_message_headers_get_one (headers, "Sec-WebSocket-Protocol");
  g_auto (GStrv) entries = NULL;
  guint8 decoded[18];
  gint state = 0;
  guint save = 0;

  if (!soup_message_headers_header_equals (headers, "Upgrade", "websocket") ||
      !soup_message_headers_header_contains (headers, "Connection", "upgrade") ||
      !soup_message_headers_header_equals (headers, "Sec-WebSocket-Version", "13"))
    return FALSE;
  if (key == NULL || strlen (key) != 24 ||
      g_base64_decode_step (key, 24, decoded, &state, &save) != 16)
    return FALSE;
  if (offer == NULL || offer != soup_message_headers_get_list (headers, "Sec-WebSocket-Protocol"))
    return FALSE;
  entries = g_strsplit (offer, ", ", -1);
  if (!g_strv_contains ((const char *const *) entries, AERO_L2_SUBPROTOCOL))
    return FALSE;
  return parse_offer (headers, tokens);
}

/* An upgrade request the core took off a listener. What libsoup's handler
 * refuses before anything is counted or opened is left to it, so that
 * every refusal reads the same; from the admission on, the request is
 * answered here. */
static gboolean
direct_upgrade (AeroHttpUpgrade *upgrade, const char *path, gpointer user_data)
{
  WsServer *self = user_data;
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (SoupMessageHeaders) answer = NULL;
  g_autoptr (WsTunnel) tunnel = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *accept = NULL;
  g_auto (WsRequest) req = { .direct = upgrade };

  req.request = *aero_http_upgrade_get_request (upgrade);
  if (self->host == NULL || !self->accepting || aero_host_is_shutting_down (self->host) ||
      !direct_handshake_ok (req.request.headers, tokens))
    return FALSE;

  tunnel = open_tunnel (self, &req, tokens);
  if (tunnel == NULL)
    return TRUE;
  accept = ws_accept_for_key (soup_message_headers_get_one (req.request.headers,
                                                            "Sec-WebSocket-Key"));
  answer = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  soup_message_headers_append (answer, "Upgrade", "websocket");
  soup_message_headers_append (answer, "Connection", "Upgrade");
  soup_message_headers_append (answer, "Sec-WebSocket-Accept", accept);
  soup_message_headers_append (answer, "Sec-WebSocket-Protocol", AERO_L2_SUBPROTOCOL);
  /* Logged before the 101 goes, as libsoup's path does. */
  log_opened (self, &req, tunnel, path);
  stream = aero_http_upgrade_switch (upgrade, answer, &socket, &error);
  if (stream == NULL)
    {
      ws_tunnel_fail (tunnel, AERO_CLOSE_NORMAL, error->message);
      return TRUE;
    }
  ws_tunnel_attach (tunnel, stream, socket, NULL);
  return TRUE;
}

/* ---- life cycle ------------------------------------------------------------ */

/**
 * ws_server_new:
 * @component: the transport component (sessions are opened for it)
 * @name: its instance name
 * @config: its configuration; must outlive the server
 *
 * Returns: (transfer full): a server that is not started.
 */
WsServer *
ws_server_new (AeroComponent *component, const char *name, const WsConfig *config)
{
  WsServer *self = g_object_new (WS_TYPE_SERVER, NULL);

  self->component = component;
  self->name = g_strdup (name);
  self->config = config;
  return self;
}

/**
 * ws_server_start:
 * @self: a server
 * @host: the core
 * @metrics: the instance's series
 * @error: return location for a #GError
 *
 * Registers the paths and starts accepting.
 *
 * Returns: %TRUE on success.
 */
gboolean
ws_server_start (WsServer *self, AeroHost *host, WsMetrics *metrics, GError **error)
{
  SoupServer *server = aero_host_get_http_server (host);

  if (server == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED,
                           "the core HTTP server is not running");
      return FALSE;
    }
  self->host = host;
  self->metrics = ws_metrics_ref (metrics);
  for (guint i = 0; self->config->paths[i]; i++)
    {
      soup_server_add_handler (server, self->config->paths[i], server_handler, self, NULL);
      aero_host_add_upgrade_handler (host, self->config->paths[i], direct_upgrade, self);
      g_ptr_array_add (self->registered, g_strdup (self->config->paths[i]));
    }
  /* POST /session tells browsers where the tunnel is and what it takes. */
  if (self->config->paths[0])
    {
      GVariantDict limits;

      g_variant_dict_init (&limits, NULL);
      g_variant_dict_insert (&limits, "maxFramePayloadBytes", "x",
                             (gint64) self->config->tunnel.limits.max_frame_payload);
      g_variant_dict_insert (&limits, "maxControlPayloadBytes", "x",
                             (gint64) self->config->tunnel.limits.max_control_payload);
      aero_host_add_endpoint (host, "l2", self->config->paths[0], g_variant_dict_end (&limits));
    }
  self->accepting = TRUE;
  {
    g_autofree char *list = g_strjoinv (" ", self->config->paths);

    AERO_LOG_INFO (self->name, "paths", list, "MESSAGE", "accepting aero-l2-tunnel-v1 on %s",
                   list);
  }
  return TRUE;
}

/**
 * ws_server_stop_accepting:
 * @self: a server
 *
 * New upgrades are refused with 503 from now on.
 */
void
ws_server_stop_accepting (WsServer *self)
{
  self->accepting = FALSE;
}

/**
 * ws_server_stop:
 * @self: a server
 *
 * Unregisters the paths and drops every connection still open.
 */
void
ws_server_stop (WsServer *self)
{
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer key;

  self->accepting = FALSE;
  if (self->host != NULL)
    {
      SoupServer *server = aero_host_get_http_server (self->host);

      for (guint i = 0; i < self->registered->len; i++)
        {
          const char *path = g_ptr_array_index (self->registered, i);

          if (server)
            soup_server_remove_handler (server, path);
          aero_host_remove_upgrade_handler (self->host, path);
        }
      if (self->registered->len > 0)
        aero_host_remove_endpoint (self->host, "l2");
    }
  g_ptr_array_set_size (self->registered, 0);

  /* Upgrades still waiting for their 101 let go of the requests; their
   * tunnels are in the table below and end with the others. */
  g_hash_table_remove_all (self->upgrades);

  g_hash_table_iter_init (&iter, self->tunnels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (left, g_object_ref (key));
  for (guint i = 0; i < left->len; i++)
    ws_tunnel_abort (left->pdata[i], AERO_CLOSE_SHUTDOWN, "transport stopped");
  g_hash_table_remove_all (self->tunnels);

  self->host = NULL;
  g_clear_pointer (&self->metrics, ws_metrics_unref);
}

/**
 * ws_server_get_backlog:
 * @self: a server
 *
 * Returns: the send backlog of all tunnels, in bytes.
 */
guint64
ws_server_get_backlog (WsServer *self)
{
  return ws_tunnels_get_backlog (self->tunnels);
}

static void
ws_server_dispose (GObject *object)
{
  WsServer *self = WS_SERVER (object);

  if (self->host != NULL || g_hash_table_size (self->tunnels) > 0 ||
      g_hash_table_size (self->upgrades) > 0)
    ws_server_stop (self);
  G_OBJECT_CLASS (ws_server_parent_class)->dispose (object);
}

static void
ws_server_finalize (GObject *object)
{
  WsServer *self = WS_SERVER (object);

  g_hash_table_unref (self->upgrades);
  g_hash_table_unref (self->tunnels);
  g_ptr_array_unref (self->registered);
  g_free (self->name);
  G_OBJECT_CLASS (ws_server_parent_class)->finalize (object);
}

static void
ws_server_class_init (WsServerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ws_server_dispose;
  object_class->finalize = ws_server_finalize;
}

static void
ws_server_init (WsServer *self)
{
  self->registered = g_ptr_array_new_with_free_func (g_free);
  self->upgrades = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                          (GDestroyNotify) upgrade_free, NULL);
  self->tunnels = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref,
                                         (GDestroyNotify) ws_admission_free);
}
