/* ws-client.h — client mode: one tunnel to a remote aero-netd, kept up.
 *
 * WsClient dials the configured url (ws-dial.c), offering the subprotocol
 * aero-l2-tunnel-v1 and, when a token is configured, an
 * aero-l2-token.<token> entry. Each successful connection becomes one
 * channel and so one session on this side; the tunnel pings every
 * `keepalive` and drops a connection whose PONG does not come in time.
 * When the connection ends, the session closes and the client dials again
 * after an exponential backoff with full jitter: the n-th retry waits a
 * uniformly drawn time in [reconnect-min, min(reconnect-max,
 * reconnect-min * 2^n)]. A connection that lived for RESET_AFTER (or two
 * keepalive intervals, if longer) resets the backoff. Nothing is dialled
 * once stop_accepting() has been called. */
#pragma once

#include <aero-net/aero-net.h>

#include "ws-config.h"
#include "ws-metrics.h"

G_BEGIN_DECLS

#define WS_TYPE_CLIENT (ws_client_get_type ())
G_DECLARE_FINAL_TYPE (WsClient, ws_client, WS, CLIENT, GObject)

WsClient *ws_client_new (AeroComponent *component, const char *name, const WsConfig *config);
gboolean ws_client_start (WsClient *self, AeroHost *host, WsMetrics *metrics, GError **error);
void ws_client_stop_accepting (WsClient *self);
void ws_client_stop (WsClient *self);
guint64 ws_client_get_backlog (WsClient *self);

G_END_DECLS
