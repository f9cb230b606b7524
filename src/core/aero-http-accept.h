/* aero-http-accept.h — the HTTP server's accept loop. Internal to
 * libaero-net.
 *
 * The core accepts its HTTP connections itself and hands each to libsoup
 * with soup_server_accept_iostream(), instead of letting libsoup listen:
 *
 * - a cap on the connections held open from one address (an IPv4 address,
 *   or an IPv6 /64), checked before anything is allocated for the
 *   connection;
 * - one request per connection ("Connection: close"; see
 *   on_request_started());
 * - a deadline for the request: its headers and body must have arrived
 *   within request-timeout of the accept (a peer that trickles a byte now
 *   and then is not held for ever);
 * - an idle timeout on every connection (libsoup has none);
 * - accept() failures (out of file descriptors) pause the listener for
 *   100 ms instead of stopping it for good, as libsoup 3.2's listener does;
 * - upgrade requests for the paths of aero_host_add_upgrade_handler()
 *   answered without libsoup's server (aero-http-upgrade.h).
 *
 * The listening sockets are AeroWatches of the thread-default context.
 *
 * The remote address libsoup reports for such a connection
 * (soup_server_message_get_remote_address()) is the acceptor's own
 * GInetSocketAddress subclass, which carries the connection's GSocket:
 * aero_http_message_get_socket() reads it, since libsoup has no GSocket
 * for a connection it did not accept. */
#pragma once

#include <libsoup/soup.h>

#include "aero-net/aero-http-upgrade.h"
#include "aero-net/aero-metrics.h"

G_BEGIN_DECLS

typedef struct
{
  guint max_per_address;      /* connections open at once from one address; 0: no cap */
  guint64 request_timeout_ms; /* 0: none */
  guint idle_timeout_s;       /* silence before a connection is closed; 0: none */
  GTlsCertificate *tls_certificate; /* nullable: serve TLS on every listener */
  gboolean direct_upgrades;   /* offer request heads to the upgrade handlers */
  GHashTable *upgrade_handlers; /* path -> AeroHttpUpgradeHandler; owned by the host */
} AeroHttpAcceptConfig;

/* A handler of aero_host_add_upgrade_handler(). */
typedef struct
{
  AeroHttpUpgradeFunc func;
  gpointer user_data;
} AeroHttpUpgradeHandler;

typedef struct _AeroHttpAcceptor AeroHttpAcceptor;

AeroHttpAcceptor *aero_http_acceptor_new (SoupServer *server, const AeroHttpAcceptConfig *config,
                                          AeroMetrics *metrics);

/* Listens on SOCKET (bound, listening) and accepts its connections for the
 * server. */
gboolean aero_http_acceptor_add (AeroHttpAcceptor *acceptor, GSocket *socket, GError **error);

/* The listeners as URLs ("http://127.0.0.1:8090/"), separated by spaces. */
char *aero_http_acceptor_describe (AeroHttpAcceptor *acceptor);

/* Stops listening. Connections already handed to the server stay there. */
void aero_http_acceptor_free (AeroHttpAcceptor *acceptor);

G_END_DECLS
