/* ws-config.h — the configuration of one transport-ws instance.
 *
 *   [NAME]
 *   plugin = transport-ws
 *   stack = STACK                 ; core wiring key
 *   mode = server                 ; server | client
 *   ; both modes
 *   max-frame-payload = 2048      ; FRAME payload limit (64..65535)
 *   max-control-payload = 256     ; PING/PONG/ERROR payload limit (8..4096)
 *   max-violations = 16           ; protocol violations that close a tunnel
 *   idle-timeout = 60s            ; close after this long without a message (0: off)
 *   send-queue = 256KiB           ; send backlog bound per tunnel
 *   backpressure-limit = 1024     ; drops tolerated without the backlog draining
 *   close-timeout = 2s            ; longest wait for a close handshake
 *   ; server mode
 *   paths = /l2;/eth              ; paths registered on the core HTTP server
 *   ; client mode
 *   url = ws://HOST:PORT/l2       ; required; ws:// or wss://
 *   token = SECRET                ; sent as subprotocol aero-l2-token.SECRET
 *   origin = https://example.com  ; Origin header
 *   tls-ca = FILE                 ; PEM certificates trusted for wss:// instead
 *                                 ; of the system's (e.g. a self-signed server)
 *   keepalive = 10s               ; PING interval (0: off); a PONG must come
 *                                 ; before the next PING is due
 *   reconnect-min = 500ms         ; backoff bounds (exponential, full jitter)
 *   reconnect-max = 30s
 *   connect-timeout = 10s         ; TCP + TLS + upgrade
 *
 * Keys of the other mode are refused, so a typo in `mode` cannot go
 * unnoticed. */
#pragma once

#include <aero-net/aero-net.h>

#include "ws-tunnel.h"

G_BEGIN_DECLS

typedef enum {
  WS_MODE_SERVER,
  WS_MODE_CLIENT,
} WsMode;

typedef struct {
  WsMode mode;
  WsTunnelOptions tunnel;
  /* server */
  char **paths;
  /* client */
  GUri *url;
  char *token;
  char *origin;
  GTlsDatabase *tls_ca;
  guint64 reconnect_min_ms;
  guint64 reconnect_max_ms;
  guint64 connect_timeout_ms;
} WsConfig;

WsConfig *ws_config_new (void);
void ws_config_free (WsConfig *config);
gboolean ws_config_load (WsConfig *config, AeroConfigGroup *group, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WsConfig, ws_config_free)

G_END_DECLS
