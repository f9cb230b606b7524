/* ws-dial.h — opens a WebSocket connection to a ws:// or wss:// URL.
 *
 * libsoup 3 has no public way to take the connection of a client-side
 * upgrade (soup_session_steal_connection() is gone), and the tunnel needs
 * the raw connection to put its byte counter under SoupWebsocketConnection.
 * So the client side connects with GSocketClient (TCP, TLS for wss://, the
 * system proxy settings), writes the upgrade request itself — the headers
 * come from soup_websocket_client_prepare_handshake() — and checks the 101
 * answer the way RFC 6455 §4.2.2 says: Upgrade, Connection,
 * Sec-WebSocket-Accept, and the selected subprotocol, which must be the
 * first one offered. Bytes the server sent right after its answer are
 * returned so that nothing is lost. The whole exchange has a deadline. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/** WS_DIAL_ERROR: error domain of refusals by the server. */
#define WS_DIAL_ERROR (ws_dial_error_quark ())
GQuark ws_dial_error_quark (void);

/**
 * WsDialError:
 * @WS_DIAL_ERROR_STATUS: the server answered with an HTTP status other
 *   than 101; the error code is %WS_DIAL_ERROR_STATUS and the message
 *   names the status
 * @WS_DIAL_ERROR_HANDSHAKE: the 101 answer was not a valid upgrade to the
 *   offered subprotocol
 *
 * Why a dial failed at the HTTP level.
 */
typedef enum {
  WS_DIAL_ERROR_STATUS,
  WS_DIAL_ERROR_HANDSHAKE,
} WsDialError;

void ws_dial_async (GUri *url, const char *const *protocols, const char *origin,
                    GTlsDatabase *tls_ca, guint64 timeout_ms, GCancellable *cancellable,
                    GAsyncReadyCallback callback, gpointer user_data);
GIOStream *ws_dial_finish (GAsyncResult *result, GBytes **leftover, char **peer, GError **error);

G_END_DECLS
