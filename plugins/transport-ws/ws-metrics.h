/* ws-metrics.h — the metric series of one transport-ws instance.
 *
 * Every series carries the label instance=<config group>. The families are
 * declared once per registry; each instance asks for its own series. The
 * struct is reference-counted because tunnels may outlive a stopped
 * transport by a main-loop iteration. */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

/** Why a received message was dropped (label reason of aero_ws_rx_dropped_total). */
typedef enum {
  WS_RX_DROP_TOO_SHORT,
  WS_RX_DROP_BAD_MAGIC,
  WS_RX_DROP_BAD_VERSION,
  WS_RX_DROP_OVERSIZE,
  WS_RX_DROP_TEXT,
  WS_RX_DROP_UNKNOWN_TYPE,
  WS_RX_DROP_MESSAGE_TOO_BIG,
  WS_RX_DROP_BAD_CONTROL,
  WS_RX_DROP_N_REASONS
} WsRxDropReason;

/** Why a frame to the peer was dropped (label reason of aero_ws_tx_dropped_total). */
typedef enum {
  WS_TX_DROP_QUEUE_FULL,
  WS_TX_DROP_OVERSIZE,
  WS_TX_DROP_N_REASONS
} WsTxDropReason;

/** Why an upgrade was refused (label reason of aero_ws_tunnels_refused_total). */
typedef enum {
  WS_REFUSE_BAD_METHOD,
  WS_REFUSE_NO_SUBPROTOCOL,
  WS_REFUSE_BAD_HANDSHAKE,
  WS_REFUSE_ADMISSION,
  WS_REFUSE_SHUTTING_DOWN,
  WS_REFUSE_SESSION_LIMIT,
  WS_REFUSE_SESSION_ERROR,
  WS_REFUSE_N_REASONS
} WsRefuseReason;

typedef struct {
  /* both modes */
  AeroMetric *active;
  AeroMetric *rx_messages;
  AeroMetric *rx_bytes;
  AeroMetric *rx_dropped[WS_RX_DROP_N_REASONS];
  AeroMetric *rx_errors;
  AeroMetric *tx_messages;
  AeroMetric *tx_bytes;
  AeroMetric *tx_dropped[WS_TX_DROP_N_REASONS];
  AeroMetric *pings_answered;
  AeroMetric *pongs_received;
  AeroMetric *backpressure_closes;
  AeroMetric *idle_closes;
  AeroMetric *violation_closes;
  AeroMetric *too_big_closes;
  AeroMetricFamily *closed;     /* by close reason */
  /* server mode */
  AeroMetric *accepted;
  AeroMetric *refused[WS_REFUSE_N_REASONS];
  /* client mode */
  AeroMetric *connects_ok;
  AeroMetric *connects_failed;
  AeroMetric *reconnects;
  AeroMetric *keepalive_timeouts;
  AeroMetric *pings_sent;
  char *instance;
} WsMetrics;

WsMetrics *ws_metrics_new (AeroMetrics *registry, const char *instance, gboolean client);
WsMetrics *ws_metrics_ref (WsMetrics *metrics);
void ws_metrics_unref (WsMetrics *metrics);
void ws_metrics_count_close (WsMetrics *metrics, AeroCloseReason reason);
const char *ws_rx_drop_reason_to_string (WsRxDropReason reason);
const char *ws_refuse_reason_to_string (WsRefuseReason reason);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (WsMetrics, ws_metrics_unref)

G_END_DECLS
