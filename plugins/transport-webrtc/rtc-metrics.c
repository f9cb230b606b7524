/* rtc-metrics.c — declares the aero_webrtc_* families and one instance's series. */
#include "rtc-metrics.h"

static const char *const refuse_names[RTC_REFUSE_N_REASONS] = {
  [RTC_REFUSE_BAD_METHOD] = "bad_method",
  [RTC_REFUSE_BAD_REQUEST] = "bad_request",
  [RTC_REFUSE_TOO_LARGE] = "too_large",
  [RTC_REFUSE_ADMISSION] = "admission",
  [RTC_REFUSE_SHUTTING_DOWN] = "shutting_down",
  [RTC_REFUSE_MAX_PEERS] = "max_peers",
  [RTC_REFUSE_NEGOTIATION] = "negotiation_failed",
};

static const char *const peer_end_names[RTC_PEER_END_N_REASONS] = {
  [RTC_PEER_END_CHANNELS_CLOSED] = "channels_closed",
  [RTC_PEER_END_CONNECT_TIMEOUT] = "connect_timeout",
  [RTC_PEER_END_FAILED] = "connection_failed",
  [RTC_PEER_END_SIGNALLING_GONE] = "signalling_gone",
  [RTC_PEER_END_NEGOTIATION] = "negotiation_failed",
  [RTC_PEER_END_STOPPED] = "stopped",
  [RTC_PEER_END_TOO_MANY_CHANNELS] = "too_many_channels",
};

static const char *const channel_refuse_names[RTC_CHANNEL_REFUSE_N_REASONS] = {
  [RTC_CHANNEL_REFUSE_PARTIAL_RELIABILITY] = "partial_reliability",
  [RTC_CHANNEL_REFUSE_UNKNOWN_LABEL] = "unknown_label",
  [RTC_CHANNEL_REFUSE_DUPLICATE] = "duplicate",
  [RTC_CHANNEL_REFUSE_UDP_OFF] = "udp_relay_off",
  [RTC_CHANNEL_REFUSE_NO_POLICY] = "no_policy",
  [RTC_CHANNEL_REFUSE_SESSION] = "session_refused",
  [RTC_CHANNEL_REFUSE_TOO_MANY] = "too_many",
};

static const char *const rx_drop_names[RTC_RX_DROP_N_REASONS] = {
  [RTC_RX_DROP_TOO_SHORT] = "too_short",
  [RTC_RX_DROP_BAD_MAGIC] = "bad_magic",
  [RTC_RX_DROP_BAD_VERSION] = "bad_version",
  [RTC_RX_DROP_OVERSIZE] = "oversize",
  [RTC_RX_DROP_TEXT] = "text",
  [RTC_RX_DROP_UNKNOWN_TYPE] = "unknown_type",
  [RTC_RX_DROP_MESSAGE_TOO_BIG] = "message_too_big",
  [RTC_RX_DROP_QUEUE_FULL] = "queue_full",
};

static const char *const tx_drop_names[RTC_TX_DROP_N_REASONS] = {
  [RTC_TX_DROP_QUEUE_FULL] = "queue_full",
  [RTC_TX_DROP_OVERSIZE] = "oversize",
  [RTC_TX_DROP_SEND_FAILED] = "send_failed",
};

static const char *const udp_drop_names[RTC_UDP_DROP_N_REASONS] = {
  [RTC_UDP_DROP_MALFORMED] = "malformed",
  [RTC_UDP_DROP_OVERSIZE] = "oversize",
  [RTC_UDP_DROP_POLICY] = "policy",
  [RTC_UDP_DROP_NO_SESSION] = "no_session",
  [RTC_UDP_DROP_BINDING_LIMIT] = "binding_limit",
  [RTC_UDP_DROP_UNSOLICITED] = "unsolicited",
  [RTC_UDP_DROP_SEND_ERROR] = "send_error",
  [RTC_UDP_DROP_QUEUE_FULL] = "queue_full",
  [RTC_UDP_DROP_REMOTE_LIMIT] = "remote_limit",
};

static const char *const label_names[RTC_LABEL_N] = {
  [RTC_LABEL_L2] = "l2",
  [RTC_LABEL_UDP] = "udp",
};

const char *
rtc_refuse_reason_to_string (RtcRefuseReason reason)
{
  return reason < RTC_REFUSE_N_REASONS ? refuse_names[reason] : "unknown";
}

const char *
rtc_peer_end_reason_to_string (RtcPeerEndReason reason)
{
  return reason < RTC_PEER_END_N_REASONS ? peer_end_names[reason] : "unknown";
}

const char *
rtc_channel_refuse_reason_to_string (RtcChannelRefuseReason reason)
{
  return reason < RTC_CHANNEL_REFUSE_N_REASONS ? channel_refuse_names[reason] : "unknown";
}

const char *
rtc_udp_drop_reason_to_string (RtcUdpDropReason reason)
{
  return reason < RTC_UDP_DROP_N_REASONS ? udp_drop_names[reason] : "unknown";
}

const char *
rtc_label_to_string (RtcLabel label)
{
  return label < RTC_LABEL_N ? label_names[label] : "unknown";
}

/**
 * rtc_metrics_new:
 * @registry: the host's registry
 * @instance: the instance name
 *
 * Returns: (transfer full): the instance's series.
 */
RtcMetrics *
rtc_metrics_new (AeroMetrics *registry, const char *instance)
{
  static const char *const closed_labels[] = { "instance", "reason", NULL };
  static const char *const direction_labels[] = { "instance", "direction", NULL };
  RtcMetrics *m = g_rc_box_new0 (RtcMetrics);
  const char *i = instance;
  AeroMetricFamily *dgrams;

  m->instance = g_strdup (instance);
  m->peers_active
      = aero_metrics_instance_series (registry, "aero_webrtc_peers_active", AERO_METRIC_GAUGE,
                                      "WebRTC peer connections currently open.", i, NULL, NULL);
  m->peers_lingering = aero_metrics_instance_series (
      registry, "aero_webrtc_peers_lingering", AERO_METRIC_GAUGE,
      "Closed WebRTC peer connections whose webrtcbin still runs (500 ms, so that the closes "
      "go out); counted in max-peers.", i, NULL, NULL);
  m->peers_created = aero_metrics_instance_series (
      registry, "aero_webrtc_peers_created_total", AERO_METRIC_COUNTER,
      "WebRTC peer connections created for an offer.", i, NULL, NULL);
  aero_metrics_instance_series_all (registry, "aero_webrtc_offers_refused_total",
                                    AERO_METRIC_COUNTER,
                                    "Offers refused before or during negotiation, by reason.", i,
                                    "reason", refuse_names, RTC_REFUSE_N_REASONS, m->peers_refused);
  aero_metrics_instance_series_all (registry, "aero_webrtc_peers_closed_total", AERO_METRIC_COUNTER,
                                    "WebRTC peer connections torn down, by reason.", i, "reason",
                                    peer_end_names, RTC_PEER_END_N_REASONS, m->peers_closed);
  m->connect_timeouts = aero_metrics_instance_series (
      registry, "aero_webrtc_connect_timeouts_total", AERO_METRIC_COUNTER,
      "Peer connections torn down because no channel opened within "
      "connect-timeout.",
      i, NULL, NULL);
  m->signal_sockets_active = aero_metrics_instance_series (
      registry, "aero_webrtc_signal_sockets_active", AERO_METRIC_GAUGE,
      "Signalling WebSockets open; one without a peer connection holds a place in max-peers.",
      i, NULL, NULL);
  m->signal_offer_timeouts = aero_metrics_instance_series (
      registry, "aero_webrtc_signal_offer_timeouts_total", AERO_METRIC_COUNTER,
      "Signalling WebSockets closed because no offer came within connect-timeout.", i, NULL,
      NULL);
  aero_metrics_instance_series_all (registry, "aero_webrtc_channels_active", AERO_METRIC_GAUGE,
                                    "DataChannels currently open, by label.", i, "label",
                                    label_names, RTC_LABEL_N, m->channels_active);
  aero_metrics_instance_series_all (registry, "aero_webrtc_channels_opened_total",
                                    AERO_METRIC_COUNTER, "DataChannels accepted, by label.", i,
                                    "label", label_names, RTC_LABEL_N, m->channels_opened);
  aero_metrics_instance_series_all (
      registry, "aero_webrtc_channels_refused_total", AERO_METRIC_COUNTER,
      "DataChannels closed as soon as they opened, by reason.", i, "reason", channel_refuse_names,
      RTC_CHANNEL_REFUSE_N_REASONS, m->channels_refused);
  aero_metrics_instance_series_all (registry, "aero_webrtc_rx_messages_total", AERO_METRIC_COUNTER,
                                    "DataChannel messages received, by label.", i, "label",
                                    label_names, RTC_LABEL_N, m->rx_messages);
  aero_metrics_instance_series_all (registry, "aero_webrtc_rx_bytes_total", AERO_METRIC_COUNTER,
                                    "Bytes of DataChannel messages received, by label.", i, "label",
                                    label_names, RTC_LABEL_N, m->rx_bytes);
  aero_metrics_instance_series_all (registry, "aero_webrtc_tx_messages_total", AERO_METRIC_COUNTER,
                                    "DataChannel messages sent, by label.", i, "label", label_names,
                                    RTC_LABEL_N, m->tx_messages);
  aero_metrics_instance_series_all (registry, "aero_webrtc_tx_bytes_total", AERO_METRIC_COUNTER,
                                    "Bytes of DataChannel messages sent, by label.", i, "label",
                                    label_names, RTC_LABEL_N, m->tx_bytes);
  aero_metrics_instance_series_all (
      registry, "aero_webrtc_rx_dropped_total", AERO_METRIC_COUNTER,
      "Received l2 messages dropped, by reason (protocol violations, unknown types, "
      "messages above max-message-size, a full receive queue).",
      i, "reason", rx_drop_names, RTC_RX_DROP_N_REASONS, m->rx_dropped);
  aero_metrics_instance_series_all (
      registry, "aero_webrtc_tx_dropped_total", AERO_METRIC_COUNTER,
      "Messages to peers dropped, by reason (buffered amount above send-queue, "
      "oversized, refused by the DataChannel).",
      i, "reason", tx_drop_names, RTC_TX_DROP_N_REASONS, m->tx_dropped);
  m->rx_errors
      = aero_metrics_instance_series (registry, "aero_webrtc_rx_errors_total", AERO_METRIC_COUNTER,
                                      "ERROR messages received on l2 channels.", i, NULL, NULL);
  m->pings_answered = aero_metrics_instance_series (
      registry, "aero_webrtc_pings_answered_total", AERO_METRIC_COUNTER,
      "Tunnel PING messages answered with a PONG.", i, NULL, NULL);
  m->pongs_received = aero_metrics_instance_series (
      registry, "aero_webrtc_pongs_received_total", AERO_METRIC_COUNTER,
      "Tunnel PONG messages received.", i, NULL, NULL);
  m->message_too_big_closes = aero_metrics_instance_series (
      registry, "aero_webrtc_message_too_big_closes_total", AERO_METRIC_COUNTER,
      "Channels closed because the peer sent a message above "
      "max-message-size.",
      i, NULL, NULL);
  m->violation_closes = aero_metrics_instance_series (
      registry, "aero_webrtc_violation_closes_total", AERO_METRIC_COUNTER,
      "l2 channels closed after repeated protocol violations.", i, NULL, NULL);
  m->idle_closes = aero_metrics_instance_series (
      registry, "aero_webrtc_idle_closes_total", AERO_METRIC_COUNTER,
      "l2 channels closed after the idle timeout.", i, NULL, NULL);
  m->backpressure_closes = aero_metrics_instance_series (
      registry, "aero_webrtc_backpressure_closes_total", AERO_METRIC_COUNTER,
      "l2 channels closed because the peer did not read fast "
      "enough.",
      i, NULL, NULL);
  m->l2_closed = aero_metrics_family (registry, "aero_webrtc_l2_closed_total",
                                      AERO_METRIC_COUNTER, "l2 channels closed, by close reason.",
                                      closed_labels);

  dgrams = aero_metrics_family (registry, "aero_webrtc_udp_datagrams_total", AERO_METRIC_COUNTER,
                                "Datagrams relayed by udp channels, by direction.",
                                direction_labels);
  if (dgrams)
    {
      const char *out[] = { i, "from_guest", NULL };
      const char *in[] = { i, "to_guest", NULL };

      m->udp_datagrams_out = aero_metric_family_series (dgrams, out);
      m->udp_datagrams_in = aero_metric_family_series (dgrams, in);
    }
  aero_metrics_instance_series_all (registry, "aero_webrtc_udp_dropped_total", AERO_METRIC_COUNTER,
                                    "Datagrams of udp channels dropped, by reason (binding_limit "
                                    "and remote_limit count bindings and remotes forgotten at "
                                    "their bound).", i, "reason",
                                    udp_drop_names, RTC_UDP_DROP_N_REASONS, m->udp_dropped);
  m->udp_bindings_active = aero_metrics_instance_series (
      registry, "aero_webrtc_udp_bindings_active", AERO_METRIC_GAUGE,
      "Host UDP sockets open for guest ports.", i, NULL, NULL);
  return m;
}

RtcMetrics *
rtc_metrics_ref (RtcMetrics *metrics)
{
  return g_rc_box_acquire (metrics);
}

static void
rtc_metrics_clear (gpointer data)
{
  RtcMetrics *m = data;

  g_free (m->instance);
}

void
rtc_metrics_unref (RtcMetrics *metrics)
{
  g_rc_box_release_full (metrics, rtc_metrics_clear);
}

/**
 * rtc_metrics_count_l2_close:
 * @metrics: an instance's series
 * @reason: why an l2 channel closed
 */
void
rtc_metrics_count_l2_close (RtcMetrics *metrics, AeroCloseReason reason)
{
  const char *values[] = { metrics->instance, aero_close_reason_to_string (reason), NULL };

  if (metrics->l2_closed)
    aero_metric_inc (aero_metric_family_series (metrics->l2_closed, values));
}
