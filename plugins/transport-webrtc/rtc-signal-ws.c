/* rtc-signal-ws.c — the trickle-ICE signalling WebSocket (see the header). */
#include <string.h>

#include <json-glib/json-glib.h>

#include "rtc-budget-input-stream.h"
#include "rtc-json.h"
#include "rtc-signal-ws.h"

#define HTTP_TOO_MANY_REQUESTS 429
#define CLOSE_NORMAL 1000
#define CLOSE_GOING_AWAY 1001
#define CLOSE_POLICY 1008
#define CLOSE_INTERNAL 1011
/* Messages a socket may have refused with an error while staying open;
 * the next such message closes it. Every error is an answer the client may
 * never read: without a bound, a 1 MiB budget of tiny messages queues
 * megabytes of answers in libsoup. */
#define MAX_REFUSED_MESSAGES 16

struct _RtcSignalWs
{
  RtcServer *server;            /* unowned: the server owns this */
  GHashTable *sockets;          /* Socket* (owned) */
};

typedef struct {
  RtcSignalWs *ws;
  char *name;
  char *client;
  AeroAdmission *admission;     /* until a peer takes it over */

  SoupServerMessage *msg;       /* the upgrade, until its 101 is written */
  gulong wrote_handler;
  gulong finished_handler;

  GIOStream *stream;            /* the stolen connection */
  SoupWebsocketConnection *conn;
  RtcPeer *peer;
  gulong peer_handlers[3];
  guint offer_timer;
  gboolean closing;
  guint refused;                /* messages answered with an error, socket left open */
  gboolean placed;              /* holds a place in max-peers (no open peer) */
} Socket;

static void socket_msg_gone (gpointer data, GObject *where_the_object_was);

static void
stream_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_object_unref (source);
}

/* A socket without an open peer connection holds a place in max-peers;
 * while its peer is open, the peer holds it (see rtc-server.h). */
static void
socket_hold_place (Socket *s)
{
  if (s->placed)
    return;
  s->placed = TRUE;
  rtc_server_hold_place (s->ws->server);
}

static void
socket_release_place (Socket *s)
{
  if (!s->placed)
    return;
  s->placed = FALSE;
  rtc_server_release_place (s->ws->server);
}

static void
socket_free (Socket *s)
{
  RtcMetrics *metrics = rtc_server_get_metrics (s->ws->server);

  g_clear_handle_id (&s->offer_timer, g_source_remove);
  if (s->msg)
    {
      g_clear_signal_handler (&s->wrote_handler, s->msg);
      g_clear_signal_handler (&s->finished_handler, s->msg);
      g_object_weak_unref (G_OBJECT (s->msg), socket_msg_gone, s);
      s->msg = NULL;
    }
  if (s->peer)
    {
      for (guint i = 0; i < G_N_ELEMENTS (s->peer_handlers); i++)
        g_clear_signal_handler (&s->peer_handlers[i], s->peer);
      /* Before a channel has opened, the peer cannot finish without its signalling. */
      if (!rtc_peer_has_channel (s->peer))
        rtc_peer_close (s->peer, RTC_PEER_END_SIGNALLING_GONE, "the signalling WebSocket closed");
      g_clear_object (&s->peer);
    }
  if (s->conn)
    {
      g_signal_handlers_disconnect_by_data (s->conn, s);
      /* Disposing stops libsoup's sources; not needed once it has closed. */
      if (soup_websocket_connection_get_state (s->conn) != SOUP_WEBSOCKET_STATE_CLOSED)
        g_object_run_dispose (G_OBJECT (s->conn));
      g_clear_object (&s->conn);
    }
  if (s->stream)
    g_io_stream_close_async (g_steal_pointer (&s->stream), G_PRIORITY_DEFAULT, NULL,
                             stream_closed_cb, NULL);
  rtc_admission_free (s->admission);
  socket_release_place (s);
  if (metrics)
    aero_metric_add (metrics->signal_sockets_active, -1);
  g_free (s->name);
  g_free (s->client);
  g_free (s);
}

static void
socket_remove (Socket *s)
{
  g_hash_table_remove (s->ws->sockets, s);
}

/* ---- sending ------------------------------------------------------------------- */

static void
socket_send (Socket *s, JsonBuilder *b)
{
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autofree char *text = NULL;

  if (s->conn == NULL || soup_websocket_connection_get_state (s->conn) != SOUP_WEBSOCKET_STATE_OPEN)
    return;
  json_generator_set_root (generator, root);
  text = json_generator_to_data (generator, NULL);
  soup_websocket_connection_send_text (s->conn, text);
}

static void
socket_send_error (Socket *s, const char *text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "error");
  json_builder_set_member_name (b, "message");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  socket_send (s, b);
}

static void
socket_close (Socket *s, gushort code, const char *reason)
{
  if (s->closing)
    return;
  s->closing = TRUE;
  g_clear_handle_id (&s->offer_timer, g_source_remove);
  if (s->conn && soup_websocket_connection_get_state (s->conn) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (s->conn, code, reason);
}

static void
socket_fail (Socket *s, gushort code, const char *text)
{
  socket_send_error (s, text);
  socket_close (s, code, code == CLOSE_POLICY ? "refused" : "failed");
}

/* Answers a message the socket cannot use with an error and leaves the
 * socket open, up to MAX_REFUSED_MESSAGES times; past that, the message
 * is refused as a bad request and the socket closed (1008). */
static void
socket_refuse_message (Socket *s, const char *text)
{
  RtcMetrics *metrics;

  if (++s->refused <= MAX_REFUSED_MESSAGES)
    {
      socket_send_error (s, text);
      return;
    }
  metrics = rtc_server_get_metrics (s->ws->server);
  if (metrics)
    aero_metric_inc (metrics->peers_refused[RTC_REFUSE_BAD_REQUEST]);
  AERO_LOG_DEBUG (s->name, "client", s->client ? s->client : "-", "MESSAGE",
                  "signalling WebSocket closed: more than %u unusable messages",
                  MAX_REFUSED_MESSAGES);
  socket_fail (s, CLOSE_POLICY, "too many unusable messages");
}

/* Refuses an unusable offer: counted as a bad request, then 1008. */
static void
socket_refuse_offer (Socket *s, const char *text)
{
  RtcMetrics *metrics = rtc_server_get_metrics (s->ws->server);

  if (metrics)
    aero_metric_inc (metrics->peers_refused[RTC_REFUSE_BAD_REQUEST]);
  socket_fail (s, CLOSE_POLICY, text);
}

/* ---- the peer's side ------------------------------------------------------------- */

static void
on_peer_answer (RtcPeer *peer, const char *sdp, const char *error, gpointer user_data)
{
  Socket *s = user_data;
  g_autoptr (JsonBuilder) b = NULL;

  if (sdp == NULL)
    {
      socket_fail (s, CLOSE_INTERNAL, error ? error : "negotiation failed");
      return;
    }
  b = json_builder_new ();
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "answer");
  json_builder_set_member_name (b, "sdp");
  json_builder_add_string_value (b, sdp);
  json_builder_end_object (b);
  socket_send (s, b);
}

static void
on_peer_candidate (RtcPeer *peer, guint mline, const char *mid, const char *candidate,
                   gpointer user_data)
{
  Socket *s = user_data;
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "candidate");
  json_builder_set_member_name (b, "candidate");
  json_builder_add_string_value (b, candidate);
  json_builder_set_member_name (b, "sdpMLineIndex");
  json_builder_add_int_value (b, mline);
  if (mid)
    {
      json_builder_set_member_name (b, "sdpMid");
      json_builder_add_string_value (b, mid);
    }
  json_builder_end_object (b);
  socket_send (s, b);
}

static void
on_peer_closed (RtcPeer *peer, gpointer user_data)
{
  Socket *s = user_data;

  for (guint i = 0; i < G_N_ELEMENTS (s->peer_handlers); i++)
    g_clear_signal_handler (&s->peer_handlers[i], s->peer);
  /* The peer's place comes back to the socket until it is gone. */
  socket_hold_place (s);
  socket_close (s, CLOSE_NORMAL, "peer connection closed");
}

/* ---- the client's side ---------------------------------------------------------- */

static void
handle_offer (Socket *s, JsonObject *object)
{
  const char *sdp = rtc_json_get_string (object, "sdp");
  g_autoptr (GError) error = NULL;
  RtcRefuseReason refusal;
  RtcPeer *peer;

  if (s->peer != NULL)
    {
      socket_refuse_message (s, "one offer per signalling connection (renegotiation is not "
                                "supported)");
      return;
    }
  if (sdp == NULL)
    {
      socket_refuse_offer (s, "an offer needs an \"sdp\" string");
      return;
    }
  g_clear_handle_id (&s->offer_timer, g_source_remove);
  /* The peer takes the admission over (or gives it back on failure), and
   * the socket's place in max-peers. */
  peer = rtc_server_new_peer (s->ws->server, s->client, g_steal_pointer (&s->admission),
                              s->placed, &refusal, &error);
  if (peer == NULL)
    {
      RtcMetrics *metrics = rtc_server_get_metrics (s->ws->server);

      if (metrics)
        aero_metric_inc (metrics->peers_refused[refusal]);
      socket_fail (s, refusal == RTC_REFUSE_SHUTTING_DOWN ? CLOSE_GOING_AWAY : CLOSE_POLICY,
                   error->message);
      return;
    }
  socket_release_place (s);
  s->peer = g_object_ref (peer);
  s->peer_handlers[0] = g_signal_connect (peer, "answer", G_CALLBACK (on_peer_answer), s);
  s->peer_handlers[1] = g_signal_connect (peer, "local-candidate", G_CALLBACK (on_peer_candidate),
                                          s);
  s->peer_handlers[2] = g_signal_connect (peer, "closed", G_CALLBACK (on_peer_closed), s);
  if (!rtc_peer_answer (peer, sdp, TRUE, &error))
    {
      socket_refuse_offer (s, error->message);
      rtc_peer_close (peer, RTC_PEER_END_NEGOTIATION, error->message);
    }
}

static void
handle_candidate (Socket *s, JsonObject *object)
{
  JsonNode *node = json_object_get_member (object, "candidate");
  JsonObject *fields = object;
  const char *candidate;
  gint64 mline = 0;

  if (node && JSON_NODE_HOLDS_OBJECT (node))
    {
      fields = json_node_get_object (node);
      node = json_object_get_member (fields, "candidate");
    }
  /* Absent, null or "": the end of candidates. */
  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return;
  candidate = rtc_json_get_string (fields, "candidate");
  if (candidate == NULL)
    {
      socket_refuse_message (s, "a candidate needs a \"candidate\" string");
      return;
    }
  if (*candidate == '\0')
    return;
  if (s->peer == NULL)
    {
      socket_refuse_message (s, "a candidate before the offer was ignored");
      return;
    }
  if (json_object_has_member (fields, "sdpMLineIndex") &&
      !JSON_NODE_HOLDS_NULL (json_object_get_member (fields, "sdpMLineIndex")) &&
      !rtc_json_get_int (fields, "sdpMLineIndex", &mline))
    {
      socket_refuse_message (s, "sdpMLineIndex must be an integer");
      return;
    }
  if (mline < 0 || mline > 64)
    {
      socket_refuse_message (s, "sdpMLineIndex out of range");
      return;
    }
  rtc_peer_add_candidate (s->peer, (guint) mline, candidate);
}

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *message, gpointer user_data)
{
  Socket *s = user_data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len = 0;
  const char *data = g_bytes_get_data (message, &len);
  JsonNode *root;
  JsonObject *object;
  const char *kind;

  if (s->closing)
    return;
  if (!json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      socket_fail (s, CLOSE_POLICY, "expected JSON objects");
      return;
    }
  object = json_node_get_object (root);
  kind = rtc_json_get_string (object, "type");
  if (kind == NULL && json_object_has_member (object, "type"))
    {
      /* Not a string: nothing this could be is usable. */
      socket_refuse_offer (s, "\"type\" must be a string");
      return;
    }
  if (g_strcmp0 (kind, "offer") == 0)
    handle_offer (s, object);
  else if (g_strcmp0 (kind, "candidate") == 0)
    handle_candidate (s, object);
  else
    socket_refuse_message (s, "unknown message type (expected offer or candidate)");
}

static void
on_conn_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  socket_remove (user_data);
}

static void
on_conn_error (SoupWebsocketConnection *conn, GError *error, gpointer user_data)
{
  Socket *s = user_data;

  AERO_LOG_DEBUG (s->name, "client", s->client ? s->client : "-", "MESSAGE",
                  "signalling WebSocket error: %s", error->message);
}

static gboolean
offer_timeout_cb (gpointer user_data)
{
  Socket *s = user_data;
  RtcMetrics *metrics = rtc_server_get_metrics (s->ws->server);

  s->offer_timer = 0;
  if (metrics)
    aero_metric_inc (metrics->signal_offer_timeouts);
  AERO_LOG_DEBUG (s->name, "client", s->client ? s->client : "-", "MESSAGE",
                  "signalling WebSocket closed: no offer within connect-timeout");
  socket_fail (s, CLOSE_POLICY, "no offer within connect-timeout");
  return G_SOURCE_REMOVE;
}

/* ---- the upgrade ---------------------------------------------------------------- */

static void
socket_msg_gone (gpointer data, GObject *where_the_object_was)
{
  Socket *s = data;

  s->msg = NULL;
  socket_remove (s);
}

static void
on_upgrade_finished (SoupServerMessage *msg, gpointer user_data)
{
  socket_remove (user_data);
}

static void
on_wrote_informational (SoupServerMessage *msg, gpointer user_data)
{
  Socket *s = user_data;
  const RtcConfig *config = rtc_server_get_config (s->ws->server);
  g_autoptr (RtcBudgetInputStream) budget = NULL;
  g_autoptr (GIOStream) io = NULL;
  const char *protocol;

  g_clear_signal_handler (&s->wrote_handler, msg);
  g_clear_signal_handler (&s->finished_handler, msg);
  g_object_weak_unref (G_OBJECT (msg), socket_msg_gone, s);
  s->msg = NULL;
  /* The HTTP server's idle timeout is not the signalling socket's (it has
   * its own connect-timeout). */
  if (aero_http_message_get_socket (msg))
    g_socket_set_timeout (aero_http_message_get_socket (msg), 0);
  if (soup_server_message_get_status (msg) != SOUP_STATUS_SWITCHING_PROTOCOLS ||
      (s->stream = soup_server_message_steal_connection (msg)) == NULL)
    {
      socket_remove (s);
      return;
    }
  protocol = soup_message_headers_get_one (soup_server_message_get_response_headers (msg),
                                           "Sec-WebSocket-Protocol");
  budget = rtc_budget_input_stream_new (g_io_stream_get_input_stream (s->stream),
                                        config->signal_max_bytes);
  io = g_simple_io_stream_new (G_INPUT_STREAM (budget), g_io_stream_get_output_stream (s->stream));
  s->conn = g_object_new (SOUP_TYPE_WEBSOCKET_CONNECTION,
                          "io-stream", io,
                          "connection-type", SOUP_WEBSOCKET_CONNECTION_SERVER,
                          "uri", soup_server_message_get_uri (msg),
                          "protocol", protocol,
                          "max-incoming-payload-size", config->signal_max_message,
                          "keepalive-interval", 0u,
                          NULL);
  g_signal_connect (s->conn, "message", G_CALLBACK (on_message), s);
  g_signal_connect (s->conn, "closed", G_CALLBACK (on_conn_closed), s);
  g_signal_connect (s->conn, "error", G_CALLBACK (on_conn_error), s);
  s->offer_timer = g_timeout_add ((guint) config->connect_timeout_ms, offer_timeout_cb, s);
}

static void
refuse (RtcSignalWs *self, SoupServerMessage *msg, guint status, RtcRefuseReason reason,
        const char *text, const AeroAdmission *admission)
{
  RtcMetrics *metrics = rtc_server_get_metrics (self->server);
  char *body = g_strdup_printf ("%s\n", text);
  const char *why = reason == RTC_REFUSE_ADMISSION && admission ? admission->reason
                                                                : rtc_refuse_reason_to_string (reason);

  if (metrics)
    aero_metric_inc (metrics->peers_refused[reason]);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow", "GET");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE, body,
                                    strlen (body));
  AERO_LOG_DEBUG (rtc_server_get_name (self->server), "reason",
                  rtc_refuse_reason_to_string (reason), "MESSAGE",
                  "signalling upgrade refused with %u: %s", status, text);
  rtc_server_log_access (self->server, msg, admission, status, why);
}

/* Reads the offered subprotocols: whether ours is among them (*offered),
 * whether any was offered, and the aero-l2-token.<credential> entries. */
static gboolean
parse_protocols (SoupServerMessage *msg, gboolean *offered, GPtrArray *tokens)
{
  const char *value = soup_message_headers_get_list (soup_server_message_get_request_headers (msg),
                                                     "Sec-WebSocket-Protocol");
  GSList *list;

  *offered = FALSE;
  if (value == NULL)
    return FALSE;
  list = soup_header_parse_list (value);
  for (GSList *l = list; l; l = l->next)
    {
      const char *entry = l->data;

      if (strcmp (entry, RTC_SIGNAL_SUBPROTOCOL) == 0)
        *offered = TRUE;
      else if (g_str_has_prefix (entry, AERO_L2_TOKEN_PREFIX) &&
               entry[strlen (AERO_L2_TOKEN_PREFIX)] != '\0')
        g_ptr_array_add (tokens, g_strdup (entry + strlen (AERO_L2_TOKEN_PREFIX)));
    }
  soup_header_free_list (list);
  return TRUE;
}

/**
 * rtc_signal_ws_handle:
 * @self: the endpoint
 * @msg: a request on signal-path
 * @path: its path
 */
void
rtc_signal_ws_handle (RtcSignalWs *self, SoupServerMessage *msg, const char *path)
{
  const char *ours[] = { RTC_SIGNAL_SUBPROTOCOL, NULL };
  g_autoptr (GPtrArray) tokens = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GError) error = NULL;
  g_autofree char *client = rtc_server_peer_of (msg);
  gboolean any, offered;
  RtcAdmissionVerdict verdict;
  Socket *s;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_GET)
    {
      refuse (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, RTC_REFUSE_BAD_METHOD,
              "signalling is a GET WebSocket upgrade", NULL);
      return;
    }
  if (!rtc_server_is_accepting (self->server))
    {
      refuse (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, RTC_REFUSE_SHUTTING_DOWN,
              "server shutting down", NULL);
      return;
    }
  if (!soup_websocket_server_check_handshake (msg, NULL, NULL, NULL, &error))
    {
      g_autofree char *text = g_strdup_printf ("bad WebSocket upgrade: %s", error->message);

      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, RTC_REFUSE_BAD_REQUEST, text, NULL);
      return;
    }
  any = parse_protocols (msg, &offered, tokens);
  if (any && !offered)
    {
      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, RTC_REFUSE_BAD_REQUEST,
              "offer the subprotocol " RTC_SIGNAL_SUBPROTOCOL " (or none)", NULL);
      return;
    }
  if (rtc_server_is_full (self->server))
    {
      refuse (self, msg, HTTP_TOO_MANY_REQUESTS, RTC_REFUSE_MAX_PEERS,
              "too many peer connections", NULL);
      return;
    }
  g_ptr_array_add (tokens, NULL);
  rtc_server_admit (self->server, RTC_ADMISSION_SIGNAL, msg, (const char *const *) tokens->pdata,
                    &verdict);
  if (verdict.status != 0)
    {
      refuse (self, msg, verdict.status, RTC_REFUSE_ADMISSION,
              verdict.text ? verdict.text : "not admitted", verdict.admission);
      rtc_admission_free (verdict.admission);
      return;
    }
  if (!soup_websocket_server_process_handshake (msg, NULL, offered ? (char **) ours : NULL, NULL,
                                                NULL))
    {
      RtcMetrics *metrics = rtc_server_get_metrics (self->server);

      if (metrics)
        aero_metric_inc (metrics->peers_refused[RTC_REFUSE_BAD_REQUEST]);
      rtc_server_log_access (self->server, msg, verdict.admission,
                             soup_server_message_get_status (msg), "bad_handshake");
      rtc_admission_free (verdict.admission);
      return;
    }
  rtc_server_log_access (self->server, msg, verdict.admission, SOUP_STATUS_SWITCHING_PROTOCOLS,
                         NULL);

  s = g_new0 (Socket, 1);
  s->ws = self;
  s->name = g_strdup (rtc_server_get_name (self->server));
  s->client = g_steal_pointer (&client);
  s->admission = verdict.admission;
  /* Until its offer has made a peer, the socket holds the place the
   * rtc_server_is_full() check above found free. */
  socket_hold_place (s);
  {
    RtcMetrics *metrics = rtc_server_get_metrics (self->server);

    if (metrics)
      aero_metric_add (metrics->signal_sockets_active, 1);
  }
  s->msg = msg;
  s->wrote_handler = g_signal_connect (msg, "wrote-informational",
                                       G_CALLBACK (on_wrote_informational), s);
  s->finished_handler = g_signal_connect (msg, "finished", G_CALLBACK (on_upgrade_finished), s);
  g_object_weak_ref (G_OBJECT (msg), socket_msg_gone, s);
  g_hash_table_add (self->sockets, s);
}

RtcSignalWs *
rtc_signal_ws_new (RtcServer *server)
{
  RtcSignalWs *self = g_new0 (RtcSignalWs, 1);

  self->server = server;
  self->sockets = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                         (GDestroyNotify) socket_free, NULL);
  return self;
}

/**
 * rtc_signal_ws_stop:
 * @self: the endpoint
 *
 * Closes every signalling WebSocket (1001) and drops it.
 */
void
rtc_signal_ws_stop (RtcSignalWs *self)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->sockets);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    socket_close (key, CLOSE_GOING_AWAY, "server shutting down");
  g_hash_table_remove_all (self->sockets);
}

void
rtc_signal_ws_free (RtcSignalWs *self)
{
  if (self == NULL)
    return;
  rtc_signal_ws_stop (self);
  g_hash_table_unref (self->sockets);
  g_free (self);
}
