/* aero-http-sentinel.h — keeps the HTTP server's listening sockets
 * accepting. Internal to libaero-net.
 *
 * libsoup 3.2's listener gives up for good on the first accept() that
 * fails (G_SOURCE_REMOVE in its listen_watch): out of file descriptors
 * once, and the server never accepts again. The sentinel watches each
 * listening socket at low priority: while libsoup's listener (default
 * priority) lives, a waiting connection makes it ready first and GLib never
 * dispatches the sentinel, so the sentinel costs nothing, idle or busy.
 * When it fires, it stops, and a second later, if connections still wait
 * and none was accepted meanwhile, the socket is handed to the server
 * again, once there are descriptors to accept with (a dup() of it
 * succeeds); counted and logged (at most once per 10 s). */
#pragma once

#include <libsoup/soup.h>

#include "aero-net/aero-metrics.h"

G_BEGIN_DECLS

typedef struct _AeroHttpSentinel AeroHttpSentinel;

/* A sentinel for SERVER's sockets listened on with OPTIONS; REARMED counts
 * the sockets handed back. */
AeroHttpSentinel *aero_http_sentinel_new (SoupServer *server, SoupServerListenOptions options,
                                          AeroMetric *rearmed);

/* Watches SOCKET, which SERVER listens on. */
void aero_http_sentinel_watch (AeroHttpSentinel *sentinel, GSocket *socket);

/* The server accepted a connection (or began a request on one). */
void aero_http_sentinel_saw_connection (AeroHttpSentinel *sentinel);

void aero_http_sentinel_free (AeroHttpSentinel *sentinel);

G_END_DECLS
