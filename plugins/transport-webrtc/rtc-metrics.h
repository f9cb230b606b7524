/* rtc-metrics.h — the metric series of one transport-webrtc instance.
 *
 * Every series carries instance=<config group>; families are declared once
 * per registry. Reference-counted: peers and channels may outlive a stopped
 * transport by a main-loop iteration. */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

/* Why an offer (a new peer connection) was refused. */
typedef enum {
  RTC_REFUSE_BAD_METHOD,
  RTC_REFUSE_BAD_REQUEST,
  RTC_REFUSE_TOO_LARGE,
  RTC_REFUSE_ADMISSION,
  RTC_REFUSE_SHUTTING_DOWN,
  RTC_REFUSE_MAX_PEERS,
  RTC_REFUSE_NEGOTIATION,
  RTC_REFUSE_N_REASONS
} RtcRefuseReason;

/* Why a peer connection ended. */
typedef enum {
  RTC_PEER_END_CHANNELS_CLOSED,
  RTC_PEER_END_CONNECT_TIMEOUT,
  RTC_PEER_END_FAILED,
  RTC_PEER_END_SIGNALLING_GONE,
  RTC_PEER_END_NEGOTIATION,
  RTC_PEER_END_STOPPED,
  RTC_PEER_END_TOO_MANY_CHANNELS,
  RTC_PEER_END_N_REASONS
} RtcPeerEndReason;

/* Why a DataChannel was refused (closed as soon as it opened). */
typedef enum {
  RTC_CHANNEL_REFUSE_PARTIAL_RELIABILITY,
  RTC_CHANNEL_REFUSE_UNKNOWN_LABEL,
  RTC_CHANNEL_REFUSE_DUPLICATE,
  RTC_CHANNEL_REFUSE_UDP_OFF,
  RTC_CHANNEL_REFUSE_NO_POLICY,
  RTC_CHANNEL_REFUSE_SESSION,
  RTC_CHANNEL_REFUSE_TOO_MANY,
  RTC_CHANNEL_REFUSE_N_REASONS
} RtcChannelRefuseReason;

/* Why a received l2 message was dropped. */
typedef enum {
  RTC_RX_DROP_TOO_SHORT,
  RTC_RX_DROP_BAD_MAGIC,
  RTC_RX_DROP_BAD_VERSION,
  RTC_RX_DROP_OVERSIZE,
  RTC_RX_DROP_TEXT,
  RTC_RX_DROP_UNKNOWN_TYPE,
  RTC_RX_DROP_MESSAGE_TOO_BIG,
  RTC_RX_DROP_QUEUE_FULL,
  RTC_RX_DROP_N_REASONS
} RtcRxDropReason;

/* Why a message to the peer was dropped. */
typedef enum {
  RTC_TX_DROP_QUEUE_FULL,
  RTC_TX_DROP_OVERSIZE,
  RTC_TX_DROP_SEND_FAILED,
  RTC_TX_DROP_N_REASONS
} RtcTxDropReason;

/* Why a datagram of the udp relay was dropped. */
typedef enum {
  RTC_UDP_DROP_MALFORMED,
  RTC_UDP_DROP_OVERSIZE,
  RTC_UDP_DROP_POLICY,
  RTC_UDP_DROP_NO_SESSION,
  RTC_UDP_DROP_BINDING_LIMIT,
  RTC_UDP_DROP_UNSOLICITED,
  RTC_UDP_DROP_SEND_ERROR,
  RTC_UDP_DROP_QUEUE_FULL,
  RTC_UDP_DROP_REMOTE_LIMIT,       /* a remote forgotten, not a datagram */
  RTC_UDP_DROP_N_REASONS
} RtcUdpDropReason;

typedef enum {
  RTC_LABEL_L2,
  RTC_LABEL_UDP,
  RTC_LABEL_N
} RtcLabel;

typedef struct {
  AeroMetric *peers_active;
  AeroMetric *peers_lingering;
  AeroMetric *peers_created;
  AeroMetric *peers_refused[RTC_REFUSE_N_REASONS];
  AeroMetric *peers_closed[RTC_PEER_END_N_REASONS];
  AeroMetric *connect_timeouts;
  AeroMetric *signal_sockets_active;
  AeroMetric *signal_offer_timeouts;
  AeroMetric *channels_active[RTC_LABEL_N];
  AeroMetric *channels_opened[RTC_LABEL_N];
  AeroMetric *channels_refused[RTC_CHANNEL_REFUSE_N_REASONS];
  AeroMetric *rx_messages[RTC_LABEL_N];
  AeroMetric *rx_bytes[RTC_LABEL_N];
  AeroMetric *tx_messages[RTC_LABEL_N];
  AeroMetric *tx_bytes[RTC_LABEL_N];
  AeroMetric *rx_dropped[RTC_RX_DROP_N_REASONS];
  AeroMetric *tx_dropped[RTC_TX_DROP_N_REASONS];
  AeroMetric *rx_errors;
  AeroMetric *pings_answered;
  AeroMetric *pongs_received;
  AeroMetric *message_too_big_closes;
  AeroMetric *violation_closes;
  AeroMetric *idle_closes;
  AeroMetric *backpressure_closes;
  AeroMetricFamily *l2_closed;   /* by close reason */
  AeroMetric *udp_datagrams_out;
  AeroMetric *udp_datagrams_in;
  AeroMetric *udp_dropped[RTC_UDP_DROP_N_REASONS];
  AeroMetric *udp_bindings_active;
  char *instance;
} RtcMetrics;

RtcMetrics *rtc_metrics_new (AeroMetrics *registry, const char *instance);
RtcMetrics *rtc_metrics_ref (RtcMetrics *metrics);
void rtc_metrics_unref (RtcMetrics *metrics);
void rtc_metrics_count_l2_close (RtcMetrics *metrics, AeroCloseReason reason);
const char *rtc_refuse_reason_to_string (RtcRefuseReason reason);
const char *rtc_peer_end_reason_to_string (RtcPeerEndReason reason);
const char *rtc_channel_refuse_reason_to_string (RtcChannelRefuseReason reason);
const char *rtc_udp_drop_reason_to_string (RtcUdpDropReason reason);
const char *rtc_label_to_string (RtcLabel label);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RtcMetrics, rtc_metrics_unref)

G_END_DECLS
