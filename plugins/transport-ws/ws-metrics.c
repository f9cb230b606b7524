/* ws-metrics.c — declares the aero_ws_* families and one instance's series. */
#include "ws-metrics.h"

static const char *const rx_drop_names[WS_RX_DROP_N_REASONS] = {
  [WS_RX_DROP_TOO_SHORT] = "too_short",
  [WS_RX_DROP_BAD_MAGIC] = "bad_magic",
  [WS_RX_DROP_BAD_VERSION] = "bad_version",
  [WS_RX_DROP_OVERSIZE] = "oversize",
  [WS_RX_DROP_TEXT] = "text",
  [WS_RX_DROP_UNKNOWN_TYPE] = "unknown_type",
  [WS_RX_DROP_MESSAGE_TOO_BIG] = "message_too_big",
  [WS_RX_DROP_BAD_CONTROL] = "bad_control_frame",
};

static const char *const tx_drop_names[WS_TX_DROP_N_REASONS] = {
  [WS_TX_DROP_QUEUE_FULL] = "queue_full",
  [WS_TX_DROP_OVERSIZE] = "oversize",
};

static const char *const refuse_names[WS_REFUSE_N_REASONS] = {
  [WS_REFUSE_BAD_METHOD] = "bad_method",
  [WS_REFUSE_NO_SUBPROTOCOL] = "no_subprotocol",
  [WS_REFUSE_BAD_HANDSHAKE] = "bad_handshake",
  [WS_REFUSE_ADMISSION] = "admission",
  [WS_REFUSE_SHUTTING_DOWN] = "shutting_down",
  [WS_REFUSE_SESSION_LIMIT] = "session_limit",
  [WS_REFUSE_SESSION_ERROR] = "session_error",
};

const char *
ws_rx_drop_reason_to_string (WsRxDropReason reason)
{
  return reason < WS_RX_DROP_N_REASONS ? rx_drop_names[reason] : "unknown";
}

const char *
ws_refuse_reason_to_string (WsRefuseReason reason)
{
  return reason < WS_REFUSE_N_REASONS ? refuse_names[reason] : "unknown";
}

/**
 * ws_metrics_new:
 * @registry: the host's registry
 * @instance: the instance name
 * @client: whether the instance runs in client mode
 *
 * Declares the families (once per registry) and creates the instance's series.
 *
 * Returns: (transfer full): the series; release with ws_metrics_unref().
 */
WsMetrics *
ws_metrics_new (AeroMetrics *registry, const char *instance, gboolean client)
{
  static const char *const closed_labels[] = { "instance", "reason", NULL };
  WsMetrics *m = g_rc_box_new0 (WsMetrics);
  const char *i = instance;

  m->instance = g_strdup (instance);
  m->active = aero_metrics_instance_series (registry, "aero_ws_tunnels_active", AERO_METRIC_GAUGE,
                                            "WebSocket tunnels currently open.", i, NULL, NULL);
  m->rx_messages
      = aero_metrics_instance_series (registry, "aero_ws_rx_messages_total", AERO_METRIC_COUNTER,
                                      "WebSocket messages received from peers.", i, NULL, NULL);
  m->rx_bytes = aero_metrics_instance_series (
      registry, "aero_ws_rx_bytes_total", AERO_METRIC_COUNTER,
      "Bytes of WebSocket messages received from peers.", i, NULL, NULL);
  aero_metrics_instance_series_all (
      registry, "aero_ws_rx_dropped_total", AERO_METRIC_COUNTER,
      "Received messages dropped, by reason (protocol violations, unknown "
      "types, refused oversized messages).",
      i, "reason", rx_drop_names, WS_RX_DROP_N_REASONS, m->rx_dropped);
  m->rx_errors
      = aero_metrics_instance_series (registry, "aero_ws_rx_errors_total", AERO_METRIC_COUNTER,
                                      "ERROR messages received from peers.", i, NULL, NULL);
  m->tx_messages = aero_metrics_instance_series (
      registry, "aero_ws_tx_messages_total", AERO_METRIC_COUNTER,
      "Tunnel messages handed to the WebSocket connection.", i, NULL, NULL);
  m->tx_bytes = aero_metrics_instance_series (
      registry, "aero_ws_tx_bytes_total", AERO_METRIC_COUNTER,
      "Bytes of tunnel messages handed to the WebSocket connection.", i, NULL, NULL);
  aero_metrics_instance_series_all (
      registry, "aero_ws_tx_dropped_total", AERO_METRIC_COUNTER,
      "Frames to peers dropped, by reason (send queue full, oversized).", i, "reason",
      tx_drop_names, WS_TX_DROP_N_REASONS, m->tx_dropped);
  m->pings_answered
      = aero_metrics_instance_series (registry, "aero_ws_pings_answered_total", AERO_METRIC_COUNTER,
                                      "Tunnel PING messages answered with a PONG.", i, NULL, NULL);
  m->pongs_received
      = aero_metrics_instance_series (registry, "aero_ws_pongs_received_total", AERO_METRIC_COUNTER,
                                      "Tunnel PONG messages received.", i, NULL, NULL);
  m->backpressure_closes = aero_metrics_instance_series (
      registry, "aero_ws_backpressure_closes_total", AERO_METRIC_COUNTER,
      "Tunnels closed because the peer did not read fast enough.", i, NULL, NULL);
  m->idle_closes
      = aero_metrics_instance_series (registry, "aero_ws_idle_closes_total", AERO_METRIC_COUNTER,
                                      "Tunnels closed after the idle timeout.", i, NULL, NULL);
  m->violation_closes = aero_metrics_instance_series (
      registry, "aero_ws_violation_closes_total", AERO_METRIC_COUNTER,
      "Tunnels closed after repeated protocol violations.", i, NULL, NULL);
  m->too_big_closes
      = aero_metrics_instance_series (registry, "aero_ws_too_big_closes_total", AERO_METRIC_COUNTER,
                                      "Tunnels closed because the peer sent a message above the "
                                      "maximum message size (or a bad control frame).",
                                      i, NULL, NULL);
  m->closed = aero_metrics_family (registry, "aero_ws_tunnels_closed_total", AERO_METRIC_COUNTER,
                                   "Tunnels closed, by close reason.", closed_labels);

  if (!client)
    {
      m->accepted = aero_metrics_instance_series (registry, "aero_ws_tunnels_accepted_total",
                                                  AERO_METRIC_COUNTER,
                                                  "WebSocket upgrades accepted.", i, NULL, NULL);
      aero_metrics_instance_series_all (registry, "aero_ws_tunnels_refused_total",
                                        AERO_METRIC_COUNTER,
                                        "WebSocket upgrades refused, by reason.", i, "reason",
                                        refuse_names, WS_REFUSE_N_REASONS, m->refused);
    }
  else
    {
      static const char *const result_labels[] = { "instance", "result", NULL };
      const char *ok[] = { i, "ok", NULL };
      const char *failed[] = { i, "failed", NULL };
      AeroMetricFamily *connects;

      connects = aero_metrics_family (registry, "aero_ws_client_connects_total",
                                      AERO_METRIC_COUNTER,
                                      "Client connection attempts, by result.", result_labels);
      m->connects_ok = connects ? aero_metric_family_series (connects, ok) : NULL;
      m->connects_failed = connects ? aero_metric_family_series (connects, failed) : NULL;
      m->reconnects = aero_metrics_instance_series (
          registry, "aero_ws_client_reconnects_total", AERO_METRIC_COUNTER,
          "Client connections made after an earlier one ended.", i, NULL, NULL);
      m->keepalive_timeouts = aero_metrics_instance_series (
          registry, "aero_ws_client_keepalive_timeouts_total", AERO_METRIC_COUNTER,
          "Client connections dropped because no PONG arrived in "
          "time.",
          i, NULL, NULL);
      m->pings_sent = aero_metrics_instance_series (
          registry, "aero_ws_client_pings_sent_total", AERO_METRIC_COUNTER,
          "Keepalive PING messages sent by the client.", i, NULL, NULL);
    }
  return m;
}

WsMetrics *
ws_metrics_ref (WsMetrics *metrics)
{
  return g_rc_box_acquire (metrics);
}

static void
ws_metrics_clear (gpointer data)
{
  WsMetrics *m = data;

  g_free (m->instance);
}

void
ws_metrics_unref (WsMetrics *metrics)
{
  g_rc_box_release_full (metrics, ws_metrics_clear);
}

/**
 * ws_metrics_count_close:
 * @metrics: an instance's series
 * @reason: why a tunnel closed
 *
 * Counts one closed tunnel.
 */
void
ws_metrics_count_close (WsMetrics *metrics, AeroCloseReason reason)
{
  const char *values[] = { metrics->instance, aero_close_reason_to_string (reason), NULL };

  if (metrics->closed)
    aero_metric_inc (aero_metric_family_series (metrics->closed, values));
}
