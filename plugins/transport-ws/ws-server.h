/* ws-server.h — server mode: aero-l2-tunnel-v1 upgrades on the core HTTP server.
 *
 * WsServer registers the configured paths (/l2 and /eth by default) on the
 * core's SoupServer and takes each upgrade over by hand: it checks the
 * request (a valid WebSocket upgrade offering the aero-l2-tunnel-v1
 * subprotocol, else 400), asks the admission checks, opens the session
 * (refusing with 503 while shutting down, 429 at the session limit), and
 * only then answers 101 selecting exactly aero-l2-tunnel-v1. Once the 101
 * is written it steals the connection from libsoup and hands it to the
 * tunnel. */
#pragma once

#include <aero-net/aero-net.h>

#include "ws-config.h"
#include "ws-metrics.h"

G_BEGIN_DECLS

#define WS_TYPE_SERVER (ws_server_get_type ())
G_DECLARE_FINAL_TYPE (WsServer, ws_server, WS, SERVER, GObject)

WsServer *ws_server_new (AeroComponent *component, const char *name, const WsConfig *config);
gboolean ws_server_start (WsServer *self, AeroHost *host, WsMetrics *metrics, GError **error);
void ws_server_stop_accepting (WsServer *self);
void ws_server_stop (WsServer *self);
guint64 ws_server_get_backlog (WsServer *self);

G_END_DECLS
