/* aero-http-upgrade.h — upgrade requests taken off the core's HTTP
 * listeners before they reach libsoup's server.
 *
 * Every connection to the core's HTTP server is accepted by the core. When
 * its first bytes are a complete request head for a path a plugin
 * registered here (aero_host_add_upgrade_handler()), the core parses the
 * head with libsoup's own request parser (soup_headers_parse_request())
 * and hands it to the plugin's handler, without a SoupServerMessage,
 * libsoup's connection objects and their signals — about half of what a
 * WebSocket set-up costs otherwise (bench/README.md, *Session set-up*).
 *
 * The handler either answers: aero_http_upgrade_switch() (a 101, the
 * connection is the plugin's from then on) or aero_http_upgrade_respond()
 * (a refusal; the connection is closed), and returns %TRUE; or it answers
 * nothing and returns %FALSE, and the request goes to libsoup's server
 * exactly as it arrived (nothing of it has been read). A handler declines
 * whatever it would not answer the way libsoup's handler for the same path
 * does, before it has changed anything (counted, reserved, opened).
 *
 * Only these go to a handler; everything else goes to libsoup's server:
 * a plain-TCP connection (not TLS) whose request head arrives whole in the
 * first read (at most 8 KiB; the core waits for the first bytes within the
 * server's request timeout), an HTTP/1.1 `GET` with a `Host` header and
 * no body, for an origin-form target whose path is registered, with
 * `[http] direct-upgrades = true` (the default). */
#pragma once

#include <libsoup/soup.h>
#include <aero-net/aero-host.h>

G_BEGIN_DECLS

/**
 * AeroHttpRequest:
 * @method: the method, e.g. "GET" (interned, as libsoup's)
 * @path: the path of the target, as sent (percent-encoded)
 * @query: (nullable): the query of the target, as sent, without its `?`
 * @headers: the request headers
 * @remote: (nullable): the peer's address
 * @tls: whether the request came over TLS
 * @peer: (nullable): @remote as text ("203.0.113.7:51234"), when the
 *   caller has it already; the access log formats @remote otherwise
 *
 * A view of an HTTP request: what the admission checks and the access log
 * read (aero_host_admit_request(), aero_host_log_access_request()). The
 * fields are borrowed from the request they were taken from.
 */
typedef struct {
  const char *method;
  const char *path;
  const char *query;
  SoupMessageHeaders *headers;
  GSocketAddress *remote;
  gboolean tls;
  const char *peer;
  /*< private >*/
  gpointer reserved[4];
} AeroHttpRequest;

/**
 * aero_http_request_init_from_message:
 * @request: (out caller-allocates): the view to fill
 * @msg: a request on the core's HTTP server
 *
 * Fills @request from @msg; it is valid while @msg is.
 */
void aero_http_request_init_from_message (AeroHttpRequest *request, SoupServerMessage *msg);

/**
 * AeroHttpUpgrade:
 *
 * An upgrade request taken off a listener, valid only during the call of
 * its handler.
 */
typedef struct _AeroHttpUpgrade AeroHttpUpgrade;

/**
 * AeroHttpUpgradeFunc:
 * @upgrade: the request
 * @path: the registered path it was sent to
 * @user_data: the data given to aero_host_add_upgrade_handler()
 *
 * Answers @upgrade with aero_http_upgrade_switch() or
 * aero_http_upgrade_respond() and returns %TRUE, or answers nothing and
 * returns %FALSE to leave the request to libsoup's server.
 *
 * Returns: whether @upgrade was answered.
 */
typedef gboolean (*AeroHttpUpgradeFunc) (AeroHttpUpgrade *upgrade, const char *path,
                                         gpointer user_data);

/**
 * aero_host_add_upgrade_handler:
 * @host: a host
 * @path: an exact path, e.g. "/l2"
 * @func: the handler
 * @user_data: its data
 *
 * Takes requests for @path off the core's listeners (see the header's
 * comment). The same path must also have a libsoup handler
 * (soup_server_add_handler()) for the requests that are not taken, and for
 * those the handler declines. A second handler for @path replaces the
 * first.
 */
void aero_host_add_upgrade_handler (AeroHost *host, const char *path, AeroHttpUpgradeFunc func,
                                    gpointer user_data);

/**
 * aero_host_remove_upgrade_handler:
 * @host: a host
 * @path: a path given to aero_host_add_upgrade_handler()
 *
 * Requests for @path go to libsoup's server again.
 */
void aero_host_remove_upgrade_handler (AeroHost *host, const char *path);

/**
 * aero_http_upgrade_get_request:
 * @upgrade: an upgrade request
 *
 * Returns: (transfer none): the request.
 */
const AeroHttpRequest *aero_http_upgrade_get_request (AeroHttpUpgrade *upgrade);

/**
 * aero_http_upgrade_respond:
 * @upgrade: an upgrade request not answered yet
 * @status: the HTTP status, 400 or more
 * @headers: (nullable): more response headers
 * @content_type: the body's media type
 * @body: the body
 * @len: its length in bytes
 *
 * Answers @upgrade with @status, @headers, `Content-Type`,
 * `Content-Length` and `Connection: close`, then closes the connection.
 */
void aero_http_upgrade_respond (AeroHttpUpgrade *upgrade, guint status,
                                SoupMessageHeaders *headers, const char *content_type,
                                const char *body, gsize len);

/**
 * aero_http_upgrade_switch:
 * @upgrade: an upgrade request not answered yet
 * @headers: the 101's headers (`Upgrade`, `Connection`, …)
 * @socket: (out) (transfer full) (optional): the connection's socket
 * @error: return location for a #GError
 *
 * Answers @upgrade with `101 Switching Protocols` and @headers, and hands
 * over the connection: the bytes after the request head (frames the
 * client sent behind it) are the stream's first.
 *
 * Returns: (transfer full): the connection, or %NULL when the 101 could
 *   not be written (the connection is closed then).
 */
GIOStream *aero_http_upgrade_switch (AeroHttpUpgrade *upgrade, SoupMessageHeaders *headers,
                                     GSocket **socket, GError **error);

G_END_DECLS
