/* aero-http-accept.c — see aero-http-accept.h. */
#define _GNU_SOURCE /* accept4() */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aero-http-accept.h"
#include "aero-net/aero-host.h"
#include "aero-net/aero-log.h"
#include "aero-net/aero-watch.h"

#define COMPONENT "core"
/* Connections taken per wake-up; the rest wait for the next iteration, so
 * that a flood of connects does not starve the sessions. Taking a whole
 * burst at once makes each of its set-ups wait for all the others (100
 * tunnels at once with 64 per wake-up: p50 close to p99). */
#define ACCEPT_BATCH 4
/* How long a listener rests after accept() failed for want of resources. */
#define ACCEPT_PAUSE_US (100 * 1000)
#define LOG_INTERVAL_US (10 * G_USEC_PER_SEC)
/* The longest request head offered to an upgrade handler (a browser's
 * WebSocket upgrade, cookies included, is well under 2 KiB); a longer
 * one goes to libsoup's server. */
#define DIRECT_HEAD_MAX 8192

typedef struct _Conn Conn;

/* ---- the peer address -------------------------------------------------- */

#define AERO_TYPE_HTTP_PEER (aero_http_peer_get_type ())
G_DECLARE_FINAL_TYPE (AeroHttpPeer, aero_http_peer, AERO, HTTP_PEER, GInetSocketAddress)

struct _AeroHttpPeer
{
  GInetSocketAddress parent_instance;
  GSocket *socket; /* the connection's TCP socket */
  gboolean tls;
  Conn *conn; /* while the connection lives */
};

G_DEFINE_FINAL_TYPE (AeroHttpPeer, aero_http_peer, G_TYPE_INET_SOCKET_ADDRESS)

static void
aero_http_peer_finalize (GObject *object)
{
  AeroHttpPeer *self = AERO_HTTP_PEER (object);

  g_clear_object (&self->socket);
  G_OBJECT_CLASS (aero_http_peer_parent_class)->finalize (object);
}

static void
aero_http_peer_class_init (AeroHttpPeerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = aero_http_peer_finalize;
}

static void
aero_http_peer_init (AeroHttpPeer *self)
{
}

static AeroHttpPeer *
peer_from_native (const struct sockaddr_storage *ss)
{
  g_autoptr (GInetAddress) address = NULL;

  if (ss->ss_family == AF_INET)
    {
      const struct sockaddr_in *sin = (const struct sockaddr_in *) ss;

      address = g_inet_address_new_from_bytes ((const guint8 *) &sin->sin_addr,
                                               G_SOCKET_FAMILY_IPV4);
      return g_object_new (AERO_TYPE_HTTP_PEER, "address", address, "port",
                           (guint) g_ntohs (sin->sin_port), NULL);
    }
  if (ss->ss_family == AF_INET6)
    {
      const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) ss;

      address = g_inet_address_new_from_bytes ((const guint8 *) &sin6->sin6_addr,
                                               G_SOCKET_FAMILY_IPV6);
      return g_object_new (AERO_TYPE_HTTP_PEER, "address", address, "port",
                           (guint) g_ntohs (sin6->sin6_port), "flowinfo",
                           (guint) g_ntohl (sin6->sin6_flowinfo), "scope-id",
                           (guint) sin6->sin6_scope_id, NULL);
    }
  return NULL;
}

static AeroHttpPeer *
peer_of (SoupServerMessage *msg)
{
  GSocketAddress *remote = soup_server_message_get_remote_address (msg);

  return AERO_IS_HTTP_PEER (remote) ? AERO_HTTP_PEER (remote) : NULL;
}

GSocket *
aero_http_message_get_socket (SoupServerMessage *msg)
{
  AeroHttpPeer *peer;

  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), NULL);
  peer = peer_of (msg);
  return peer ? peer->socket : soup_server_message_get_socket (msg);
}

void
aero_http_request_init_from_message (AeroHttpRequest *request, SoupServerMessage *msg)
{
  GUri *uri;

  g_return_if_fail (request != NULL);
  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));
  memset (request, 0, sizeof *request);
  uri = soup_server_message_get_uri (msg);
  request->method = soup_server_message_get_method (msg);
  request->path = uri ? g_uri_get_path (uri) : NULL;
  request->query = uri ? g_uri_get_query (uri) : NULL;
  request->headers = soup_server_message_get_request_headers (msg);
  request->remote = soup_server_message_get_remote_address (msg);
  request->tls = aero_http_message_is_tls (msg);
}

gboolean
aero_http_message_is_tls (SoupServerMessage *msg)
{
  AeroHttpPeer *peer;

  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), FALSE);
  peer = peer_of (msg);
  if (peer)
    return peer->tls;
  return g_strcmp0 (g_uri_get_scheme (soup_server_message_get_uri (msg)), "https") == 0;
}

/* ---- the acceptor ------------------------------------------------------ */

typedef struct
{
  AeroHttpAcceptor *acceptor;
  GSocket *socket;
  GSocketAddress *local; /* NULL for a wildcard address: asked per connection */
  AeroWatch *watch;
} Listener;

struct _Conn
{
  AeroHttpAcceptor *acceptor; /* NULL once the acceptor is freed */
  AeroHttpPeer *peer;         /* owned */
  guint64 key;
  AeroWatch *deadline; /* the request timeout, until the request is read */
  /* While the core waits for the first bytes of a request (direct
   * upgrades): the connection, its local address and the watch. */
  GIOStream *stream;
  GSocketAddress *local;
  AeroWatch *first_bytes;
};

struct _AeroHttpUpgrade
{
  Conn *conn;
  AeroHttpRequest request;
  gsize head_len; /* bytes of the request head, still in the socket */
  gboolean answered;
};

struct _AeroHttpAcceptor
{
  SoupServer *server;
  AeroHttpAcceptConfig config;
  GPtrArray *listeners;     /* Listener */
  GHashTable *per_address;  /* guint64 key -> count */
  GHashTable *conns;        /* Conn set */
  gulong started_handler;
  gulong read_handler;

  AeroMetric *m_open;
  AeroMetric *m_accepted;
  AeroMetric *m_refused;
  AeroMetric *m_accept_errors;
  AeroMetric *m_timed_out;
  AeroMetric *m_direct;
  gint64 refused_logged_us;
  gint64 errors_logged_us;
};

/* The unit the per-address cap counts: an IPv4 address (also when mapped
 * into IPv6), or an IPv6 /64, the least a site is given. IPv4 keys are
 * ffffffff:AAAAAAAA, a /64 no IPv6 peer can come from (ffff::/16 is
 * reserved). */
static guint64
address_key (const struct sockaddr_storage *ss)
{
  if (ss->ss_family == AF_INET)
    return G_GUINT64_CONSTANT (0xffffffff00000000) |
           g_ntohl (((const struct sockaddr_in *) ss)->sin_addr.s_addr);
  if (ss->ss_family == AF_INET6)
    {
      const guint8 *b = ((const struct sockaddr_in6 *) ss)->sin6_addr.s6_addr;
      guint64 key = 0;

      if (IN6_IS_ADDR_V4MAPPED (&((const struct sockaddr_in6 *) ss)->sin6_addr))
        return G_GUINT64_CONSTANT (0xffffffff00000000) |
               ((guint64) b[12] << 24 | (guint64) b[13] << 16 | (guint64) b[14] << 8 | b[15]);
      for (int i = 0; i < 8; i++)
        key = key << 8 | b[i];
      return key;
    }
  return 0;
}

static void
address_count_add (AeroHttpAcceptor *self, guint64 key, int delta)
{
  guint count = GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, &key));

  count += delta;
  if (count == 0)
    g_hash_table_remove (self->per_address, &key);
  else
    g_hash_table_insert (self->per_address, g_memdup2 (&key, sizeof key), GUINT_TO_POINTER (count));
}

static void
conn_detach (Conn *conn)
{
  AeroHttpAcceptor *self = conn->acceptor;

  if (self == NULL)
    return;
  conn->acceptor = NULL;
  address_count_add (self, conn->key, -1);
  aero_metric_add (self->m_open, -1);
}

/* The connection's stream is gone (closed and released by libsoup, or by
 * the plugin that took it over). */
static void
conn_gone (gpointer data, GObject *where_the_object_was)
{
  Conn *conn = data;

  if (conn->acceptor)
    g_hash_table_remove (conn->acceptor->conns, conn);
  conn_detach (conn);
  g_clear_pointer (&conn->deadline, aero_watch_free);
  g_clear_pointer (&conn->first_bytes, aero_watch_free);
  conn->peer->conn = NULL;
  g_object_unref (conn->peer);
  g_free (conn);
}

static void
deadline_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Conn *conn = data;

  /* libsoup reads the end of the stream and drops the connection. */
  g_socket_shutdown (conn->peer->socket, TRUE, TRUE, NULL);
  if (conn->acceptor)
    {
      g_autofree char *peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (conn->peer));

      aero_metric_inc (conn->acceptor->m_timed_out);
      AERO_LOG_DEBUG (COMPONENT, "peer", peer, "MESSAGE",
                      "HTTP request not complete after %" G_GUINT64_FORMAT " ms: connection closed",
                      conn->acceptor->config.request_timeout_ms);
    }
}

/* One request per connection. libsoup 3.2 keeps a connection alive only
 * while it has listeners of its own, and the server has none; and where it
 * did keep one alive, it read the client's end of stream while waiting
 * for the next request but never closed the connection (a descriptor in
 * CLOSE_WAIT for ever, whatever the timeouts). The client is told, so
 * that it does not send a second request on the connection; a WebSocket
 * handshake replaces the header with its "Connection: Upgrade". */
static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  AeroHttpAcceptor *self = data;
  AeroHttpPeer *peer = peer_of (msg);
  Conn *conn = peer ? peer->conn : NULL;

  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  if (conn == NULL || conn->acceptor != self || self->config.request_timeout_ms == 0)
    return;
  if (conn->deadline == NULL)
    conn->deadline = aero_watch_new (NULL, deadline_cb, conn);
  aero_watch_set_ready_time (conn->deadline, g_get_monotonic_time () +
                                               (gint64) self->config.request_timeout_ms * 1000);
}

static void
on_request_read (SoupServer *server, SoupServerMessage *msg, gpointer data)
{
  AeroHttpPeer *peer = peer_of (msg);

  /* One request per connection: its deadline is over for good (a tunnel
   * holds its connection for hours without it). */
  if (peer && peer->conn)
    g_clear_pointer (&peer->conn->deadline, aero_watch_free);
}

static gboolean
should_log (gint64 *last_us)
{
  gint64 now = g_get_monotonic_time ();

  if (*last_us != 0 && now - *last_us < LOG_INTERVAL_US)
    return FALSE;
  *last_us = now;
  return TRUE;
}

static void
refuse (AeroHttpAcceptor *self, int fd, const struct sockaddr_storage *ss)
{
  close (fd);
  aero_metric_inc (self->m_refused);
  if (should_log (&self->refused_logged_us))
    {
      g_autoptr (AeroHttpPeer) peer = peer_from_native (ss);
      g_autofree char *text = peer ? g_inet_address_to_string (g_inet_socket_address_get_address (
                                       G_INET_SOCKET_ADDRESS (peer)))
                                   : g_strdup ("?");

      AERO_LOG_WARNING (COMPONENT, "peer", text, "MESSAGE",
                        "refused an HTTP connection from %s: it holds %u already "
                        "(max-connections-per-address; logged at most every 10 s)",
                        text, self->config.max_per_address);
    }
}

static void
hand_to_soup (AeroHttpAcceptor *self, Conn *conn, GIOStream *stream, GSocketAddress *local)
{
  g_autoptr (GError) error = NULL;

  if (!soup_server_accept_iostream (self->server, stream, local, G_SOCKET_ADDRESS (conn->peer),
                                    &error))
    {
      aero_metric_inc (self->m_accept_errors);
      AERO_LOG_WARNING (COMPONENT, "MESSAGE", "the HTTP server did not take a connection: %s",
                        error ? error->message : "?");
      g_io_stream_close (stream, NULL, NULL);
    }
}

/* ---- direct upgrades (aero-http-upgrade.h) ------------------------------ */

static void direct_try (AeroHttpAcceptor *self, Conn *conn, gboolean first);

/* The connection leaves the direct path: to libsoup, or nowhere. */
static void
direct_release (Conn *conn, GIOStream **stream, GSocketAddress **local)
{
  g_clear_pointer (&conn->first_bytes, aero_watch_free);
  *stream = g_steal_pointer (&conn->stream);
  *local = g_steal_pointer (&conn->local);
}

static void
direct_to_soup (AeroHttpAcceptor *self, Conn *conn)
{
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  direct_release (conn, &stream, &local);
  hand_to_soup (self, conn, stream, local);
}

static void
direct_close (Conn *conn)
{
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;

  direct_release (conn, &stream, &local);
  if (stream)
    g_io_stream_close (stream, NULL, NULL);
}

static void
first_bytes_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Conn *conn = data;
  AeroHttpAcceptor *self = conn->acceptor;

  if (revents == 0)
    {
      /* Nothing within the request timeout. */
      if (self)
        aero_metric_inc (self->m_timed_out);
      direct_close (conn);
      return;
    }
  direct_try (self, conn, FALSE);
}

/* Whether libsoup's server reads the same path and query from the
 * request: it refuses a Host with a '/' and one that does not make a URI
 * with the target, and a Host can swallow the target ("example.com?"). */
static gboolean
direct_uri_ok (const char *host, const char *target, const char *path, const char *query)
{
  g_autofree char *text = NULL;
  g_autoptr (GUri) uri = NULL;

  if (strchr (host, '/') != NULL)
    return FALSE;
  text = g_strconcat ("http://", host, target, NULL);
  uri = g_uri_parse (text, SOUP_HTTP_URI_FLAGS, NULL);
  return uri != NULL && g_uri_get_host (uri) != NULL && *g_uri_get_host (uri) != '\0' &&
         g_strcmp0 (g_uri_get_path (uri), path) == 0 &&
         g_strcmp0 (g_uri_get_query (uri), query ? query + 1 : NULL) == 0 &&
         g_uri_get_fragment (uri) == NULL;
}

/* Offers the complete head of HEAD_LEN bytes in BUF to the handler of its
 * path. Returns whether it was answered. */
static gboolean
direct_offer (AeroHttpAcceptor *self, Conn *conn, const char *buf, gsize head_len)
{
  g_autoptr (SoupMessageHeaders) headers = soup_message_headers_new (SOUP_MESSAGE_HEADERS_REQUEST);
  g_autofree char *method = NULL;
  g_autofree char *target = NULL;
  g_autofree char *path = NULL;
  g_autoptr (AeroHttpPeer) peer = NULL;
  AeroHttpUpgradeHandler *handler;
  SoupHTTPVersion version;
  AeroHttpUpgrade up = { 0 };
  const char *query;
  gboolean answered;

  /* libsoup's server parses its requests with the same function; the
   * head goes without its final blank line. */
  if (soup_headers_parse_request (buf, (int) head_len - 2, headers, &method, &target, &version) !=
        SOUP_STATUS_OK ||
      version != SOUP_HTTP_1_1 || strcmp (method, "GET") != 0 || target[0] != '/' ||
      strchr (target, '#') != NULL)
    return FALSE;
  /* What libsoup's server would refuse or treat specially: a request
   * without its Host, with a body, or expecting a 100 Continue. */
  if (soup_message_headers_get_one (headers, "Host") == NULL ||
      soup_message_headers_get_list (headers, "Expect") != NULL ||
      soup_message_headers_get_list (headers, "Host") != soup_message_headers_get_one (headers,
                                                                                        "Host") ||
      soup_message_headers_get_encoding (headers) != SOUP_ENCODING_NONE)
    return FALSE;
  query = strchr (target, '?');
  path = query ? g_strndup (target, query - target) : g_strdup (target);
  handler = g_hash_table_lookup (self->config.upgrade_handlers, path);
  if (handler == NULL || !direct_uri_ok (soup_message_headers_get_one (headers, "Host"), target,
                                         path, query))
    return FALSE;

  up.conn = conn;
  up.head_len = head_len;
  up.request.method = SOUP_METHOD_GET;
  up.request.path = path;
  up.request.query = query ? query + 1 : NULL;
  up.request.headers = headers;
  /* A refusal closes the connection, which lets go of its peer. */
  peer = g_object_ref (conn->peer);
  up.request.remote = G_SOCKET_ADDRESS (peer);
  up.request.tls = FALSE;
  answered = handler->func (&up, path, handler->user_data);
  if (answered && !up.answered)
    {
      g_critical ("an upgrade handler for %s returned TRUE without an answer", path);
      direct_close (conn);
      return TRUE;
    }
  g_return_val_if_fail (answered || !up.answered, TRUE);
  if (answered)
    aero_metric_inc (self->m_direct);
  return answered;
}

/* Looks at the connection's first bytes without taking them: a complete
 * request head for a registered path goes to its handler; anything else,
 * as it is, to libsoup. FIRST: whether the core may still wait for bytes. */
static void
direct_try (AeroHttpAcceptor *self, Conn *conn, gboolean first)
{
  char buf[DIRECT_HEAD_MAX];
  int fd = g_socket_get_fd (conn->peer->socket);
  gssize n;
  const char *end;

  if (self == NULL)
    {
      direct_close (conn);
      return;
    }
  do
    n = recv (fd, buf, sizeof buf, MSG_PEEK);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && first)
    {
      g_autoptr (GError) error = NULL;
      guint64 wait_ms;

      /* Nothing yet (on a real network the request follows the
       * handshake's last ACK): wait once for the first bytes. */
      conn->first_bytes = aero_watch_new (NULL, first_bytes_cb, conn);
      if (!aero_watch_set_fd (conn->first_bytes, fd, G_IO_IN, &error))
        {
          direct_to_soup (self, conn);
          return;
        }
      /* The request timeout, or the idle timeout that libsoup's reads
       * would keep, whichever comes first. */
      wait_ms = self->config.request_timeout_ms;
      if (self->config.idle_timeout_s > 0 &&
          (wait_ms == 0 || (guint64) self->config.idle_timeout_s * 1000 < wait_ms))
        wait_ms = (guint64) self->config.idle_timeout_s * 1000;
      if (wait_ms > 0)
        aero_watch_set_ready_time (conn->first_bytes,
                                   g_get_monotonic_time () + (gint64) wait_ms * 1000);
      return;
    }
  g_clear_pointer (&conn->first_bytes, aero_watch_free);
  if (n > 0 && (end = g_strstr_len (buf, n, "\r\n\r\n")) != NULL &&
      direct_offer (self, conn, buf, end + 4 - buf))
    return;
  direct_to_soup (self, conn);
}

const AeroHttpRequest *
aero_http_upgrade_get_request (AeroHttpUpgrade *upgrade)
{
  g_return_val_if_fail (upgrade != NULL, NULL);
  return &upgrade->request;
}

/* Takes the request head out of the socket and writes ANSWER. */
static gboolean
direct_answer (AeroHttpUpgrade *upgrade, GString *answer, GError **error)
{
  int fd = g_socket_get_fd (upgrade->conn->peer->socket);
  gssize n;

  upgrade->answered = TRUE;
  g_clear_pointer (&upgrade->conn->deadline, aero_watch_free);
  /* TCP discards the bytes without copying them (tcp(7), MSG_TRUNC). */
  do
    n = recv (fd, NULL, upgrade->head_len, MSG_TRUNC);
  while (n < 0 && errno == EINTR);
  if (n != (gssize) upgrade->head_len)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE,
                           "the request head could not be read again");
      return FALSE;
    }
  /* A fresh connection's send buffer holds a head many times over. */
  do
    n = send (fd, answer->str, answer->len, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != (gssize) answer->len)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (n < 0 ? errno : EAGAIN),
                   "cannot write the answer: %s", n < 0 ? g_strerror (errno) : "short write");
      return FALSE;
    }
  return TRUE;
}

static void
append_headers (GString *answer, SoupMessageHeaders *headers)
{
  SoupMessageHeadersIter iter;
  const char *name, *value;

  if (headers == NULL)
    return;
  soup_message_headers_iter_init (&iter, headers);
  while (soup_message_headers_iter_next (&iter, &name, &value))
    {
      g_string_append (answer, name);
      g_string_append (answer, ": ");
      g_string_append (answer, value);
      g_string_append (answer, "\r\n");
    }
}

void
aero_http_upgrade_respond (AeroHttpUpgrade *upgrade, guint status, SoupMessageHeaders *headers,
                           const char *content_type, const char *body, gsize len)
{
  g_autoptr (GString) answer = g_string_sized_new (256 + len);

  g_return_if_fail (upgrade != NULL && !upgrade->answered);
  g_return_if_fail (status >= 400 && status <= 599);
  g_string_append_printf (answer, "HTTP/1.1 %u %s\r\n", status, soup_status_get_phrase (status));
  append_headers (answer, headers);
  g_string_append_printf (answer,
                          "Content-Type: %s\r\nContent-Length: %" G_GSIZE_FORMAT
                          "\r\nConnection: close\r\n\r\n",
                          content_type, len);
  g_string_append_len (answer, body, len);
  direct_answer (upgrade, answer, NULL);
  direct_close (upgrade->conn);
}

GIOStream *
aero_http_upgrade_switch (AeroHttpUpgrade *upgrade, SoupMessageHeaders *headers, GSocket **socket,
                          GError **error)
{
  g_autoptr (GString) answer = g_string_sized_new (256);
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  Conn *conn;

  g_return_val_if_fail (upgrade != NULL && !upgrade->answered, NULL);
  conn = upgrade->conn;
  g_string_append (answer, "HTTP/1.1 101 Switching Protocols\r\n");
  append_headers (answer, headers);
  g_string_append (answer, "\r\n");
  if (!direct_answer (upgrade, answer, error))
    {
      direct_close (conn);
      return NULL;
    }
  direct_release (conn, &stream, &local);
  /* The HTTP server's idle timeout is not the connection's any more. */
  g_socket_set_timeout (conn->peer->socket, 0);
  if (socket)
    *socket = g_object_ref (conn->peer->socket);
  return g_steal_pointer (&stream);
}

static void
take (AeroHttpAcceptor *self, Listener *l, int fd, const struct sockaddr_storage *ss)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GIOStream) base = NULL;
  g_autoptr (GIOStream) stream = NULL;
  g_autoptr (GSocketAddress) local = NULL;
  AeroHttpPeer *peer;
  guint64 key = address_key (ss);
  Conn *conn;
  int one = 1;

  if (self->config.max_per_address != 0 &&
      GPOINTER_TO_UINT (g_hash_table_lookup (self->per_address, &key)) >=
        self->config.max_per_address)
    {
      refuse (self, fd, ss);
      return;
    }
  socket = g_socket_new_from_fd (fd, &error);
  if (socket == NULL)
    {
      close (fd);
      aero_metric_inc (self->m_accept_errors);
      AERO_LOG_WARNING (COMPONENT, "MESSAGE", "cannot use an accepted connection: %s",
                        error->message);
      return;
    }
  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  g_socket_set_timeout (socket, self->config.idle_timeout_s);
  local = l->local ? g_object_ref (l->local) : g_socket_get_local_address (socket, &error);
  if (local == NULL)
    {
      aero_metric_inc (self->m_accept_errors);
      return; /* the peer is gone already */
    }
  base = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  if (self->config.tls_certificate)
    {
      stream = G_IO_STREAM (g_tls_server_connection_new (base, self->config.tls_certificate,
                                                        &error));
      if (stream == NULL)
        {
          aero_metric_inc (self->m_accept_errors);
          AERO_LOG_WARNING (COMPONENT, "MESSAGE", "cannot start TLS on a connection: %s",
                            error->message);
          return;
        }
      g_object_set (stream, "require-close-notify", FALSE, NULL);
    }
  else
    stream = g_object_ref (base);

  peer = peer_from_native (ss);
  if (peer == NULL)
    return;
  peer->socket = g_object_ref (socket);
  peer->tls = self->config.tls_certificate != NULL;
  conn = g_new0 (Conn, 1);
  conn->acceptor = self;
  conn->peer = peer;
  conn->key = key;
  peer->conn = conn;
  g_hash_table_add (self->conns, conn);
  address_count_add (self, key, +1);
  aero_metric_inc (self->m_accepted);
  aero_metric_add (self->m_open, 1);
  g_object_weak_ref (G_OBJECT (base), conn_gone, conn);

  if (self->config.direct_upgrades && stream == base && self->config.upgrade_handlers &&
      g_hash_table_size (self->config.upgrade_handlers) > 0)
    {
      conn->stream = g_steal_pointer (&stream);
      conn->local = g_steal_pointer (&local);
      direct_try (self, conn, TRUE);
      return;
    }
  hand_to_soup (self, conn, stream, local);
}

static void
accept_failed (AeroHttpAcceptor *self, Listener *l, int err)
{
  aero_metric_inc (self->m_accept_errors);
  if (should_log (&self->errors_logged_us))
    AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                      "accept() failed: %s; the listener rests for 100 ms "
                      "(logged at most every 10 s)",
                      g_strerror (err));
  aero_watch_set_fd (l->watch, g_socket_get_fd (l->socket), 0, NULL);
  aero_watch_set_ready_time (l->watch, g_get_monotonic_time () + ACCEPT_PAUSE_US);
}

static void
listener_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  Listener *l = data;
  AeroHttpAcceptor *self = l->acceptor;
  int lfd = g_socket_get_fd (l->socket);

  if (revents == 0)
    {
      /* The rest after a failure is over. */
      aero_watch_set_fd (watch, lfd, G_IO_IN, NULL);
      return;
    }
  for (int i = 0; i < ACCEPT_BATCH; i++)
    {
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int fd = accept4 (lfd, (struct sockaddr *) &ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

      if (fd >= 0)
        {
          take (self, l, fd, &ss);
          continue;
        }
      switch (errno)
        {
        case EAGAIN:
          return;
        /* The connection failed before it was accepted (accept(2) lists
         * what Linux passes on): the next one may be fine. */
        case EINTR:
        case ECONNABORTED:
        case EPROTO:
        case EPERM:
        case ENETDOWN:
        case ENOPROTOOPT:
        case EHOSTDOWN:
        case ENONET:
        case EHOSTUNREACH:
        case EOPNOTSUPP:
        case ENETUNREACH:
          continue;
        default:
          /* EMFILE, ENFILE, ENOBUFS, ENOMEM, or worse: the queue stays,
           * and is taken from again in a moment. */
          accept_failed (self, l, errno);
          return;
        }
    }
}

static void
listener_free (gpointer data)
{
  Listener *l = data;

  aero_watch_free (l->watch);
  g_socket_close (l->socket, NULL);
  g_object_unref (l->socket);
  g_clear_object (&l->local);
  g_free (l);
}

AeroHttpAcceptor *
aero_http_acceptor_new (SoupServer *server, const AeroHttpAcceptConfig *config,
                        AeroMetrics *metrics)
{
  AeroHttpAcceptor *self = g_new0 (AeroHttpAcceptor, 1);

  self->server = g_object_ref (server);
  self->config = *config;
  if (config->tls_certificate)
    g_object_ref (config->tls_certificate);
  self->listeners = g_ptr_array_new_with_free_func (listener_free);
  self->per_address = g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  self->conns = g_hash_table_new (NULL, NULL);
  self->started_handler =
    g_signal_connect (server, "request-started", G_CALLBACK (on_request_started), self);
  self->read_handler = g_signal_connect (server, "request-read", G_CALLBACK (on_request_read), self);

  self->m_open = aero_metrics_gauge (metrics, "aero_http_connections_open",
                                     "HTTP connections open, WebSocket tunnels included.");
  self->m_accepted = aero_metrics_counter (metrics, "aero_http_connections_accepted_total",
                                           "HTTP connections accepted.");
  self->m_refused = aero_metrics_counter (
    metrics, "aero_http_connections_refused_total",
    "HTTP connections closed at once: their address held max-connections-per-address.");
  self->m_accept_errors = aero_metrics_counter (
    metrics, "aero_http_accept_errors_total",
    "accept() failures that paused a listener (out of file descriptors or memory), and "
    "accepted connections that could not be set up.");
  self->m_timed_out = aero_metrics_counter (
    metrics, "aero_http_requests_timed_out_total",
    "HTTP connections closed because a request was not complete within request-timeout.");
  self->m_direct = aero_metrics_counter (
    metrics, "aero_http_upgrades_direct_total",
    "Upgrade requests answered by a plugin's upgrade handler without libsoup's server "
    "([http] direct-upgrades).");
  return self;
}

gboolean
aero_http_acceptor_add (AeroHttpAcceptor *self, GSocket *socket, GError **error)
{
  Listener *l = g_new0 (Listener, 1);
  g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket, error);

  if (local == NULL)
    {
      g_free (l);
      return FALSE;
    }
  l->acceptor = self;
  l->socket = g_object_ref (socket);
  if (!g_inet_address_get_is_any (
        g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (local))))
    l->local = g_steal_pointer (&local);
  g_socket_set_blocking (socket, FALSE);
  l->watch = aero_watch_new (NULL, listener_cb, l);
  g_ptr_array_add (self->listeners, l);
  return aero_watch_set_fd (l->watch, g_socket_get_fd (socket), G_IO_IN, error);
}

char *
aero_http_acceptor_describe (AeroHttpAcceptor *self)
{
  GString *text = g_string_new (NULL);
  const char *scheme = self->config.tls_certificate ? "https" : "http";

  for (guint i = 0; i < self->listeners->len; i++)
    {
      Listener *l = g_ptr_array_index (self->listeners, i);
      g_autoptr (GSocketAddress) local = g_socket_get_local_address (l->socket, NULL);
      GInetSocketAddress *inet = G_INET_SOCKET_ADDRESS (local);
      g_autofree char *host = NULL;

      if (local == NULL)
        continue;
      host = g_inet_address_to_string (g_inet_socket_address_get_address (inet));
      g_string_append_printf (text, "%s%s://%s%s%s:%u/", text->len ? " " : "", scheme,
                              strchr (host, ':') ? "[" : "", host, strchr (host, ':') ? "]" : "",
                              g_inet_socket_address_get_port (inet));
    }
  return g_string_free (text, FALSE);
}

void
aero_http_acceptor_free (AeroHttpAcceptor *self)
{
  g_autoptr (GPtrArray) waiting = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer conn;

  if (self == NULL)
    return;
  g_clear_signal_handler (&self->started_handler, self->server);
  g_clear_signal_handler (&self->read_handler, self->server);
  g_ptr_array_unref (self->listeners);
  /* Connections still open (tunnels, requests under way) keep running;
   * they only stop being counted. */
  g_hash_table_iter_init (&iter, self->conns);
  while (g_hash_table_iter_next (&iter, &conn, NULL))
    {
      conn_detach (conn);
      g_clear_pointer (&((Conn *) conn)->deadline, aero_watch_free);
      if (((Conn *) conn)->stream)
        g_ptr_array_add (waiting, conn);
    }
  /* Connections still waiting for their first bytes have no one else. */
  for (guint i = 0; i < waiting->len; i++)
    direct_close (waiting->pdata[i]);
  g_hash_table_unref (self->conns);
  g_hash_table_unref (self->per_address);
  g_clear_object (&self->config.tls_certificate);
  g_object_unref (self->server);
  g_free (self);
}
