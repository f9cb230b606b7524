/* ws-dial.c — connects, writes the WebSocket upgrade request and checks the
 * answer. See the header for why this is not SoupSession. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include <libsoup/soup.h>

#include "ws-dial.h"
#include "ws-frame.h"
#include "ws-guard-input-stream.h"

/* Largest answer head accepted (status line and headers). */
#define MAX_RESPONSE_HEAD 8192
/* Bytes asked for per read; what follows the head is at most this much,
 * which the guard stream can take as its prefix. */
#define READ_CHUNK 1024

G_STATIC_ASSERT (READ_CHUNK <= WS_GUARD_BUFFER_LEN);

G_DEFINE_QUARK (ws-dial-error-quark, ws_dial_error)

typedef struct {
  GUri *url;
  char *expected_protocol;
  char *key;                    /* our Sec-WebSocket-Key */
  GIOStream *stream;
  char *peer;
  char *request;
  GByteArray *response;
  gsize head_len;               /* bytes of the answer head, blank line included */
  GCancellable *cancellable;    /* ours: cancelled by the deadline or the caller */
  GCancellable *caller_cancellable;
  gulong caller_handler;
  guint deadline;
  gboolean timed_out;
} Dial;

typedef struct {
  GIOStream *stream;
  GBytes *leftover;
  char *peer;
} DialResult;

static void
dial_free (Dial *d)
{
  g_clear_handle_id (&d->deadline, g_source_remove);
  if (d->caller_cancellable)
    g_cancellable_disconnect (d->caller_cancellable, d->caller_handler);
  g_clear_object (&d->caller_cancellable);
  g_clear_object (&d->cancellable);
  g_clear_pointer (&d->url, g_uri_unref);
  g_clear_object (&d->stream);
  g_clear_pointer (&d->response, g_byte_array_unref);
  g_free (d->expected_protocol);
  g_free (d->key);
  g_free (d->peer);
  g_free (d->request);
  g_free (d);
}

static void
dial_result_free (DialResult *r)
{
  g_clear_object (&r->stream);
  g_clear_pointer (&r->leftover, g_bytes_unref);
  g_free (r->peer);
  g_free (r);
}

/* Fails the task; a cancellation caused by the deadline reads as a timeout. */
static void
dial_fail (GTask *task, GError *error)
{
  Dial *d = g_task_get_task_data (task);

  if (d->timed_out && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_error_free (error);
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                               "no WebSocket connection within the connect timeout");
      return;
    }
  g_task_return_error (task, error);
}

static gboolean
deadline_cb (gpointer user_data)
{
  Dial *d = user_data;

  d->deadline = 0;
  d->timed_out = TRUE;
  g_cancellable_cancel (d->cancellable);
  return G_SOURCE_REMOVE;
}

static void
caller_cancelled (GCancellable *caller, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Checks a complete answer head. */
static gboolean
check_answer (Dial *d, GError **error)
{
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_RESPONSE);
  g_autofree char *reason = NULL;
  g_autofree char *accept = NULL;
  const char *value;
  guint status;

  /* The parser takes the head without its final blank line. */
  if (!soup_headers_parse_response ((const char *) d->response->data, (int) d->head_len - 2,
                                    headers, NULL, &status, &reason))
    {
      g_set_error_literal (error, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                           "malformed HTTP answer to the upgrade");
      return FALSE;
    }
  if (status != SOUP_STATUS_SWITCHING_PROTOCOLS)
    {
      g_set_error (error, WS_DIAL_ERROR, WS_DIAL_ERROR_STATUS, "server answered %u %s", status,
                   reason ? reason : "");
      return FALSE;
    }
  value = soup_message_headers_get_one (headers, "Upgrade");
  if (value == NULL || g_ascii_strcasecmp (value, "websocket") != 0 ||
      !soup_message_headers_header_contains (headers, "Connection", "upgrade"))
    {
      g_set_error_literal (error, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                           "101 answer without Upgrade: websocket");
      return FALSE;
    }
  accept = ws_accept_for_key (d->key);
  value = soup_message_headers_get_one (headers, "Sec-WebSocket-Accept");
  if (value == NULL || strcmp (value, accept) != 0)
    {
      g_set_error_literal (error, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                           "wrong Sec-WebSocket-Accept in the 101 answer");
      return FALSE;
    }
  value = soup_message_headers_get_one (headers, "Sec-WebSocket-Protocol");
  if (value == NULL || strcmp (value, d->expected_protocol) != 0)
    {
      g_set_error (error, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                   "the server selected subprotocol '%s', expected '%s'", value ? value : "",
                   d->expected_protocol);
      return FALSE;
    }
  if (soup_message_headers_get_one (headers, "Sec-WebSocket-Extensions") != NULL)
    {
      g_set_error_literal (error, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                           "the server selected an extension that was not offered");
      return FALSE;
    }
  return TRUE;
}

static void read_more (GTask *task);

static void
read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Dial *d = g_task_get_task_data (task);
  GError *error = NULL;
  gssize n;
  guint old_len = d->response->len - READ_CHUNK;
  const guint8 *end;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (n < 0)
    {
      dial_fail (task, error);
      return;
    }
  g_byte_array_set_size (d->response, old_len + (guint) n);
  if (n == 0)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
                               "connection closed before the upgrade was answered");
      return;
    }

  /* Look for the blank line, starting a little before the new bytes. */
  end = NULL;
  for (guint i = old_len >= 3 ? old_len - 3 : 0; i + 4 <= d->response->len; i++)
    if (memcmp (d->response->data + i, "\r\n\r\n", 4) == 0)
      {
        end = d->response->data + i + 4;
        break;
      }
  if (end == NULL)
    {
      if (d->response->len >= MAX_RESPONSE_HEAD)
        {
          g_task_return_new_error (task, WS_DIAL_ERROR, WS_DIAL_ERROR_HANDSHAKE,
                                   "answer head longer than %u bytes", MAX_RESPONSE_HEAD);
          return;
        }
      read_more (g_steal_pointer (&task));
      return;
    }

  d->head_len = (gsize) (end - d->response->data);
  if (!check_answer (d, &error))
    {
      g_task_return_error (task, error);
      return;
    }
  {
    DialResult *r = g_new0 (DialResult, 1);

    r->stream = g_steal_pointer (&d->stream);
    r->peer = g_steal_pointer (&d->peer);
    r->leftover = g_bytes_new (d->response->data + d->head_len, d->response->len - d->head_len);
    g_task_return_pointer (task, r, (GDestroyNotify) dial_result_free);
  }
}

static void
read_more (GTask *task)
{
  Dial *d = g_task_get_task_data (task);
  guint len = d->response->len;

  g_byte_array_set_size (d->response, len + READ_CHUNK);
  g_input_stream_read_async (g_io_stream_get_input_stream (d->stream), d->response->data + len,
                             READ_CHUNK, G_PRIORITY_DEFAULT, d->cancellable, read_done, task);
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  GError *error = NULL;

  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error))
    {
      dial_fail (task, error);
      return;
    }
  read_more (g_steal_pointer (&task));
}

/* Puts the configured trust store on the TLS connection before its handshake. */
static void
on_client_event (GSocketClient *client, GSocketClientEvent event, GSocketConnectable *connectable,
                 GIOStream *connection, gpointer user_data)
{
  if (event == G_SOCKET_CLIENT_TLS_HANDSHAKING && G_IS_TLS_CONNECTION (connection))
    g_tls_connection_set_database (G_TLS_CONNECTION (connection), G_TLS_DATABASE (user_data));
}

static void
append_header (const char *name, const char *value, gpointer user_data)
{
  g_string_append_printf (user_data, "%s: %s\r\n", name, value);
}

/* The request: request line, Host, and libsoup's upgrade headers. */
static char *
build_request (Dial *d, const char *const *protocols, const char *origin)
{
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GUri) http_uri = NULL;
  GString *request = g_string_new (NULL);
  const char *path = g_uri_get_path (d->url);
  const char *query = g_uri_get_query (d->url);
  const char *host = g_uri_get_host (d->url);
  gboolean tls = g_ascii_strcasecmp (g_uri_get_scheme (d->url), "wss") == 0;
  int port = g_uri_get_port (d->url);

  http_uri = g_uri_build (G_URI_FLAGS_ENCODED, tls ? "https" : "http", NULL, host, port,
                          *path ? path : "/", query, NULL);
  msg = soup_message_new_from_uri (SOUP_METHOD_GET, http_uri);
  soup_websocket_client_prepare_handshake (msg, origin, (char **) protocols, NULL);
  d->key = g_strdup (soup_message_headers_get_one (soup_message_get_request_headers (msg),
                                                   "Sec-WebSocket-Key"));

  g_string_append_printf (request, "GET %s%s%s HTTP/1.1\r\n", *path ? path : "/",
                          query ? "?" : "", query ? query : "");
  if (strchr (host, ':') != NULL)
    g_string_append_printf (request, "Host: [%s]", host);
  else
    g_string_append_printf (request, "Host: %s", host);
  if (port > 0 && port != (tls ? 443 : 80))
    g_string_append_printf (request, ":%d", port);
  g_string_append (request, "\r\n");
  soup_message_headers_foreach (soup_message_get_request_headers (msg), append_header, request);
  g_string_append (request, "\r\n");
  return g_string_free (request, FALSE);
}

static void
connect_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (GTask) task = user_data;
  Dial *d = g_task_get_task_data (task);
  GSocketConnection *connection;
  g_autoptr (GSocketAddress) remote = NULL;
  GError *error = NULL;

  connection = g_socket_client_connect_to_uri_finish (G_SOCKET_CLIENT (source), result, &error);
  if (connection == NULL)
    {
      dial_fail (task, error);
      return;
    }
  d->stream = G_IO_STREAM (connection);
  /* Tunnel messages are latency-sensitive frames: no Nagle delay. */
  g_socket_set_option (g_socket_connection_get_socket (connection), IPPROTO_TCP, TCP_NODELAY, 1,
                       NULL);
  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (remote)
    d->peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));

  g_output_stream_write_all_async (g_io_stream_get_output_stream (d->stream), d->request,
                                   strlen (d->request), G_PRIORITY_DEFAULT, d->cancellable,
                                   write_done, g_steal_pointer (&task));
}

/**
 * ws_dial_async:
 * @url: a ws:// or wss:// URL
 * @protocols: subprotocols to offer; the first is the one the server must select
 * @origin: (nullable): the Origin header
 * @tls_ca: (nullable): certificates to trust for wss:// instead of the system's
 * @timeout_ms: deadline of the whole exchange
 * @cancellable: (nullable): a #GCancellable
 * @callback: called when done
 * @user_data: passed to @callback
 *
 * Connects and upgrades.
 */
void
ws_dial_async (GUri *url, const char *const *protocols, const char *origin, GTlsDatabase *tls_ca,
               guint64 timeout_ms, GCancellable *cancellable, GAsyncReadyCallback callback,
               gpointer user_data)
{
  g_autoptr (GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  g_autoptr (GSocketClient) client = g_socket_client_new ();
  g_autofree char *uri_text = NULL;
  Dial *d = g_new0 (Dial, 1);
  gboolean tls = g_ascii_strcasecmp (g_uri_get_scheme (url), "wss") == 0;

  g_task_set_source_tag (task, ws_dial_async);
  g_task_set_task_data (task, d, (GDestroyNotify) dial_free);
  /* The task reports cancellation itself only through our errors. */
  g_task_set_check_cancellable (task, FALSE);

  d->url = g_uri_ref (url);
  d->expected_protocol = g_strdup (protocols[0]);
  d->response = g_byte_array_new ();
  d->cancellable = g_cancellable_new ();
  if (cancellable)
    {
      d->caller_cancellable = g_object_ref (cancellable);
      d->caller_handler = g_cancellable_connect (cancellable, G_CALLBACK (caller_cancelled),
                                                 d->cancellable, NULL);
    }
  d->deadline = g_timeout_add ((guint) MIN (timeout_ms, G_MAXUINT), deadline_cb, d);
  d->request = build_request (d, protocols, origin);

  g_socket_client_set_tls (client, tls);
  if (tls && tls_ca != NULL)
    g_signal_connect_object (client, "event", G_CALLBACK (on_client_event), tls_ca, 0);
  uri_text = g_uri_to_string (url);
  g_socket_client_connect_to_uri_async (client, uri_text, tls ? 443 : 80, d->cancellable,
                                        connect_done, g_steal_pointer (&task));
}

/**
 * ws_dial_finish:
 * @result: the result given to the callback
 * @leftover: (out) (transfer full): bytes the server sent after its answer
 * @peer: (out) (transfer full) (nullable): the server's address as text
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the upgraded connection, or %NULL
 *   with @error set.
 */
GIOStream *
ws_dial_finish (GAsyncResult *result, GBytes **leftover, char **peer, GError **error)
{
  DialResult *r = g_task_propagate_pointer (G_TASK (result), error);
  GIOStream *stream;

  if (r == NULL)
    return NULL;
  stream = g_steal_pointer (&r->stream);
  *leftover = g_steal_pointer (&r->leftover);
  *peer = g_steal_pointer (&r->peer);
  dial_result_free (r);
  return stream;
}
