/* rtc-l2-channel.c — the tunnel over an `l2` DataChannel: decoding,
 * PING/PONG, violations, the idle timer, the buffered-amount bound and
 * closing. See the header for the behaviour. */
#include <string.h>

#include "rtc-l2-channel.h"

/* ERROR messages from one peer that are logged; later ones are only counted. */
#define MAX_ERRORS_LOGGED 4
/* At most one log line per channel this often about PONGs dropped at the bound. */
#define PONG_DROP_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

struct _RtcL2Channel
{
  AeroChannel parent_instance;

  char *component;
  RtcMetrics *metrics;
  RtcL2Options opts;
  RtcDataChannel *dc;
  AeroSession *session;            /* unowned: valid until the channel is reported closed */
  gulong handlers[4];
  gboolean counted_active;

  guint64 drops_since_drain;
  gboolean want_ready;
  guint64 pongs_dropped;           /* PONGs dropped at the bound, not yet logged */
  gint64 pong_drop_logged_us;      /* when that was last logged */

  guint64 violations;
  guint errors_logged;
  AeroIdleTimer *idle; /* closes the channel after idle-timeout */

  gboolean close_started;
  AeroCloseReason close_reason;
  char *close_message;
  guint close_timer;

  gboolean ended;                  /* aero_channel_closed() has run */
  gboolean finished;               /* the DataChannel is let go */
};

G_DEFINE_FINAL_TYPE (RtcL2Channel, rtc_l2_channel, AERO_TYPE_CHANNEL)

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];


static const char *
peer_text (RtcL2Channel *self)
{
  const char *peer = aero_channel_get_peer (AERO_CHANNEL (self));

  return peer ? peer : "-";
}

static const char *
session_text (RtcL2Channel *self)
{
  const char *id = aero_channel_get_session_id (AERO_CHANNEL (self));

  return id ? id : "-";
}

/* Lets go of the DataChannel (closing it if it is still open) and emits
 * "finished" once. */
static void
channel_finish (RtcL2Channel *self)
{
  if (self->finished)
    return;
  self->finished = TRUE;
  g_object_ref (self);
  for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
    g_clear_signal_handler (&self->handlers[i], self->dc);
  rtc_data_channel_detach (self->dc);
  if (rtc_data_channel_is_open (self->dc))
    rtc_data_channel_close (self->dc);
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  g_object_unref (self);
}

/* Reports the channel closed (once), then lets go of the DataChannel. */
static void
channel_end (RtcL2Channel *self, AeroCloseReason reason, const char *detail)
{
  if (self->ended)
    return;
  self->ended = TRUE;
  g_object_ref (self);

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  g_clear_handle_id (&self->close_timer, g_source_remove);
  if (self->counted_active)
    {
      aero_metric_add (self->metrics->channels_active[RTC_LABEL_L2], -1);
      self->counted_active = FALSE;
    }
  rtc_metrics_count_l2_close (self->metrics, reason);
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "reason", aero_close_reason_to_string (reason), "MESSAGE",
                 "l2 channel closed: %s", detail ? detail : aero_close_reason_to_string (reason));
  self->session = NULL;
  aero_channel_closed (AERO_CHANNEL (self), reason);
  channel_finish (self);
  g_object_unref (self);
}

/* ---- sending --------------------------------------------------------------- */

/* Sends one encoded message; no bound is checked here. */
static gboolean
channel_send (RtcL2Channel *self, GBytes *message)
{
  g_autoptr (GError) error = NULL;

  if (!rtc_data_channel_send (self->dc, message, &error))
    {
      aero_metric_inc (self->metrics->tx_dropped[RTC_TX_DROP_SEND_FAILED]);
      AERO_LOG_DEBUG (self->component, "peer", peer_text (self), "session", session_text (self),
                      "MESSAGE", "DataChannel refused a message: %s", error->message);
      return FALSE;
    }
  aero_metric_inc (self->metrics->tx_messages[RTC_LABEL_L2]);
  aero_metric_add (self->metrics->tx_bytes[RTC_LABEL_L2], (double) g_bytes_get_size (message));
  return TRUE;
}

static gboolean
channel_has_room (RtcL2Channel *self, gsize len)
{
  return rtc_data_channel_get_buffered_amount (self->dc) + len <= self->opts.send_queue;
}

/* A message (a frame or a PONG) did not fit under send-queue and was
 * dropped. Past backpressure-limit drops without the buffered amount
 * falling below half, the peer is told and the channel closed. */
static void
channel_note_queue_full (RtcL2Channel *self)
{
  aero_metric_inc (self->metrics->tx_dropped[RTC_TX_DROP_QUEUE_FULL]);
  self->want_ready = TRUE;
  self->drops_since_drain++;
  if (self->drops_since_drain == self->opts.backpressure_limit + 1)
    {
      aero_metric_inc (self->metrics->backpressure_closes);
      aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_BACKPRESSURE,
                          "peer does not read fast enough");
    }
}

static AeroFlowReturn
rtc_l2_channel_push (AeroChannel *channel, GBytes *frame)
{
  RtcL2Channel *self = RTC_L2_CHANNEL (channel);
  gsize len = g_bytes_get_size (frame);
  g_autoptr (GBytes) message = NULL;

  if (self->ended || self->close_started || aero_channel_is_closing (channel))
    return AERO_FLOW_CLOSED;
  if (len > self->opts.limits.max_frame_payload)
    {
      aero_metric_inc (self->metrics->tx_dropped[RTC_TX_DROP_OVERSIZE]);
      return AERO_FLOW_DROPPED;
    }
  if (!channel_has_room (self, AERO_L2_HEADER_LEN + len))
    {
      channel_note_queue_full (self);
      return AERO_FLOW_DROPPED;
    }
  message = aero_l2_encode_frame (frame);
  return channel_send (self, message) ? AERO_FLOW_OK : AERO_FLOW_DROPPED;
}

static gboolean
rtc_l2_channel_is_ready (AeroChannel *channel)
{
  RtcL2Channel *self = RTC_L2_CHANNEL (channel);

  if (self->ended || self->close_started)
    return FALSE;
  if (channel_has_room (self, aero_l2_max_message_size (&self->opts.limits)))
    return TRUE;
  /* A producer that sees "not ready" pauses until "ready" (aero-frame.h). */
  self->want_ready = TRUE;
  return FALSE;
}

static void
on_buffered_amount_low (RtcDataChannel *dc, gpointer user_data)
{
  RtcL2Channel *self = user_data;

  self->drops_since_drain = 0;
  if (self->want_ready && !self->ended && !self->close_started)
    {
      self->want_ready = FALSE;
      aero_frame_sink_notify_ready (AERO_FRAME_SINK (self));
    }
}

/* ---- receiving ------------------------------------------------------------- */

static void
channel_violation (RtcL2Channel *self, RtcRxDropReason reason)
{
  aero_metric_inc (self->metrics->rx_dropped[reason]);
  self->violations++;
  if (self->violations == self->opts.max_violations)
    {
      aero_metric_inc (self->metrics->violation_closes);
      aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_PROTOCOL_ERROR,
                          "too many protocol violations");
    }
}

static RtcRxDropReason
drop_reason_for (AeroL2DecodeResult result)
{
  switch (result)
    {
    case AERO_L2_DECODE_TOO_SHORT: return RTC_RX_DROP_TOO_SHORT;
    case AERO_L2_DECODE_INVALID_MAGIC: return RTC_RX_DROP_BAD_MAGIC;
    case AERO_L2_DECODE_UNSUPPORTED_VERSION: return RTC_RX_DROP_BAD_VERSION;
    case AERO_L2_DECODE_PAYLOAD_TOO_LARGE:
    default: return RTC_RX_DROP_OVERSIZE;
    }
}

static void
channel_peer_error (RtcL2Channel *self, const AeroL2Message *m)
{
  guint16 code = 0;
  g_autofree char *text = NULL;

  aero_metric_inc (self->metrics->rx_errors);
  if (self->errors_logged >= MAX_ERRORS_LOGGED)
    return;
  self->errors_logged++;
  aero_l2_parse_error (m->payload, m->payload_len, &code, &text);
  /* The text is the peer's: only its code and length are logged. */
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "MESSAGE", "peer sent ERROR code %u (%" G_GSIZE_FORMAT " bytes of text)", code,
                 strlen (text));
}

/* PONGs share the send bound with frames, as on transport-ws: a peer that
 * pings without reading must not grow the buffered amount. A PONG that
 * does not fit is dropped and counted like a frame (queue_full, towards
 * backpressure-limit), and logged at most every 10 s per channel. */
static void
channel_answer_ping (RtcL2Channel *self, const AeroL2Message *m)
{
  g_autoptr (GBytes) pong = NULL;

  if (!channel_has_room (self, AERO_L2_HEADER_LEN + m->payload_len))
    {
      gint64 now = g_get_monotonic_time ();

      self->pongs_dropped++;
      if (self->pong_drop_logged_us == 0 ||
          now - self->pong_drop_logged_us >= PONG_DROP_LOG_INTERVAL_US)
        {
          AERO_LOG_INFO (self->component, "peer", peer_text (self), "session",
                         session_text (self), "MESSAGE",
                         "PONGs dropped: %" G_GUINT64_FORMAT " since the last such line; "
                         "the buffered amount is at send-queue (%" G_GUINT64_FORMAT " bytes), "
                         "the peer does not read (logged at most every 10 s)",
                         self->pongs_dropped, self->opts.send_queue);
          self->pong_drop_logged_us = now;
          self->pongs_dropped = 0;
        }
      channel_note_queue_full (self);
      return;
    }
  pong = aero_l2_encode (AERO_L2_PONG, m->payload, m->payload_len);
  if (channel_send (self, pong))
    aero_metric_inc (self->metrics->pings_answered);
}

static void
on_message (RtcDataChannel *dc, GBytes *message, gboolean is_text, gpointer user_data)
{
  RtcL2Channel *self = user_data;
  gsize len = g_bytes_get_size (message);
  const guint8 *data = g_bytes_get_data (message, NULL);
  guint64 lost = rtc_data_channel_take_dropped (dc);
  AeroL2DecodeResult result;
  AeroL2Message m;

  if (lost > 0)
    aero_metric_add (self->metrics->rx_dropped[RTC_RX_DROP_QUEUE_FULL], (double) lost);
  if (self->ended || self->close_started)
    return;
  aero_metric_inc (self->metrics->rx_messages[RTC_LABEL_L2]);
  aero_metric_add (self->metrics->rx_bytes[RTC_LABEL_L2], (double) len);
  if (self->idle)
    aero_idle_timer_touch (self->idle);

  if (len > self->opts.max_message_size)
    {
      aero_metric_inc (self->metrics->rx_dropped[RTC_RX_DROP_MESSAGE_TOO_BIG]);
      aero_metric_inc (self->metrics->message_too_big_closes);
      AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                     "MESSAGE", "message of %" G_GSIZE_FORMAT " bytes above max-message-size "
                     "(%" G_GUINT64_FORMAT "): closing the channel", len,
                     self->opts.max_message_size);
      aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_PROTOCOL_ERROR,
                          "message above max-message-size");
      return;
    }
  if (is_text)
    {
      channel_violation (self, RTC_RX_DROP_TEXT);
      return;
    }
  result = aero_l2_decode (data, len, &self->opts.limits, &m);
  if (result != AERO_L2_DECODE_OK)
    {
      channel_violation (self, drop_reason_for (result));
      return;
    }
  switch (m.type)
    {
    case AERO_L2_FRAME:
      {
        /* A slice of the received message: the payload is not copied. */
        g_autoptr (GBytes) frame = g_bytes_new_from_bytes (message, AERO_L2_HEADER_LEN,
                                                           m.payload_len);

        aero_channel_receive (AERO_CHANNEL (self), frame);
        break;
      }
    case AERO_L2_PING:
      channel_answer_ping (self, &m);
      break;
    case AERO_L2_PONG:
      aero_metric_inc (self->metrics->pongs_received);
      break;
    case AERO_L2_ERROR:
      channel_peer_error (self, &m);
      break;
    default:
      aero_metric_inc (self->metrics->rx_dropped[RTC_RX_DROP_UNKNOWN_TYPE]);
      break;
    }
}

static void
on_closed (RtcDataChannel *dc, gpointer user_data)
{
  RtcL2Channel *self = user_data;

  if (self->close_started)
    channel_end (self, self->close_reason, self->close_message);
  else
    channel_end (self, AERO_CLOSE_NORMAL, "DataChannel closed by the peer");
}

static void
on_error (RtcDataChannel *dc, const char *text, gpointer user_data)
{
  RtcL2Channel *self = user_data;
  g_autofree char *detail = g_strdup_printf ("DataChannel error: %s", text);

  channel_end (self, self->close_started ? self->close_reason : AERO_CLOSE_INTERNAL_ERROR, detail);
}

/* ---- timers and closing ------------------------------------------------------ */

static gboolean
idle_timer_cb (gpointer user_data)
{
  RtcL2Channel *self = user_data;

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  if (self->ended || self->close_started)
    return G_SOURCE_REMOVE;
  aero_metric_inc (self->metrics->idle_closes);
  aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_IDLE, "idle timeout");
  return G_SOURCE_REMOVE;
}

static gboolean
close_timeout_cb (gpointer user_data)
{
  RtcL2Channel *self = user_data;

  self->close_timer = 0;
  channel_end (self, self->close_reason, "DataChannel close timed out");
  return G_SOURCE_REMOVE;
}

static void
rtc_l2_channel_close (AeroChannel *channel, AeroCloseReason reason, const char *message)
{
  RtcL2Channel *self = RTC_L2_CHANNEL (channel);
  guint16 code = aero_l2_error_code_for_close (reason);

  if (self->ended || self->close_started)
    return;
  self->close_started = TRUE;
  self->close_reason = reason;
  g_free (self->close_message);
  self->close_message = g_strdup (message ? message : aero_close_reason_to_string (reason));
  g_clear_pointer (&self->idle, aero_idle_timer_free);
  AERO_LOG_DEBUG (self->component, "peer", peer_text (self), "session", session_text (self),
                  "reason", aero_close_reason_to_string (reason), "MESSAGE",
                  "closing l2 channel: %s", self->close_message);
  if (self->finished || !rtc_data_channel_is_open (self->dc))
    {
      channel_end (self, reason, self->close_message);
      return;
    }
  if (code != 0)
    {
      g_autoptr (GBytes) error = aero_l2_encode_error (code, self->close_message);

      /* Sent whatever the bound says: one message, then the end. */
      channel_send (self, error);
    }
  rtc_data_channel_close (self->dc);
  self->close_timer = g_timeout_add ((guint) self->opts.close_timeout_ms, close_timeout_cb, self);
}

/* ---- life cycle -------------------------------------------------------------- */

static void
rtc_l2_channel_dispose (GObject *object)
{
  RtcL2Channel *self = RTC_L2_CHANNEL (object);

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  g_clear_handle_id (&self->close_timer, g_source_remove);
  if (self->dc && !self->finished)
    {
      for (guint i = 0; i < G_N_ELEMENTS (self->handlers); i++)
        g_clear_signal_handler (&self->handlers[i], self->dc);
      rtc_data_channel_detach (self->dc);
    }
  G_OBJECT_CLASS (rtc_l2_channel_parent_class)->dispose (object);
}

static void
rtc_l2_channel_finalize (GObject *object)
{
  RtcL2Channel *self = RTC_L2_CHANNEL (object);

  g_clear_object (&self->dc);
  g_clear_pointer (&self->metrics, rtc_metrics_unref);
  g_free (self->close_message);
  g_free (self->component);
  G_OBJECT_CLASS (rtc_l2_channel_parent_class)->finalize (object);
}

static void
rtc_l2_channel_class_init (RtcL2ChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AeroChannelClass *channel_class = AERO_CHANNEL_CLASS (klass);

  object_class->dispose = rtc_l2_channel_dispose;
  object_class->finalize = rtc_l2_channel_finalize;
  channel_class->push = rtc_l2_channel_push;
  channel_class->is_ready = rtc_l2_channel_is_ready;
  channel_class->close = rtc_l2_channel_close;

  /**
   * RtcL2Channel::finished:
   *
   * Emitted once, when the channel has let go of its DataChannel.
   */
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
rtc_l2_channel_init (RtcL2Channel *self)
{
}

/**
 * rtc_l2_channel_new:
 * @component: the transport instance name, for logs
 * @metrics: the instance's series
 * @options: settings (copied)
 * @dc: the `l2` DataChannel, not started
 *
 * Returns: (transfer full): a channel without a session yet.
 */
RtcL2Channel *
rtc_l2_channel_new (const char *component, RtcMetrics *metrics, const RtcL2Options *options,
                    RtcDataChannel *dc)
{
  RtcL2Channel *self = g_object_new (RTC_TYPE_L2_CHANNEL, NULL);

  self->component = g_strdup (component);
  self->metrics = rtc_metrics_ref (metrics);
  self->opts = *options;
  self->dc = g_object_ref (dc);
  return self;
}

/**
 * rtc_l2_channel_open:
 * @self: a new channel (peer and principal already set)
 * @host: the core
 * @transport: the transport component
 * @error: return location for a #GError
 *
 * Opens the session and starts taking messages. On failure nothing is
 * started; the caller refuses the DataChannel.
 *
 * Returns: %TRUE when the session is open.
 */
gboolean
rtc_l2_channel_open (RtcL2Channel *self, AeroHost *host, AeroComponent *transport, GError **error)
{
  self->session = aero_host_open_session (host, transport, AERO_CHANNEL (self), error);
  if (self->session == NULL)
    return FALSE;

  aero_metric_add (self->metrics->channels_active[RTC_LABEL_L2], 1);
  aero_metric_inc (self->metrics->channels_opened[RTC_LABEL_L2]);
  self->counted_active = TRUE;
  rtc_data_channel_set_low_threshold (self->dc, self->opts.send_queue / 2);
  self->handlers[0] = g_signal_connect (self->dc, "message", G_CALLBACK (on_message), self);
  self->handlers[1] = g_signal_connect (self->dc, "closed", G_CALLBACK (on_closed), self);
  self->handlers[2] = g_signal_connect (self->dc, "error", G_CALLBACK (on_error), self);
  self->handlers[3] = g_signal_connect (self->dc, "buffered-amount-low",
                                        G_CALLBACK (on_buffered_amount_low), self);
  if (self->opts.idle_timeout_ms > 0)
    self->idle = aero_idle_timer_new (self->opts.idle_timeout_ms, idle_timer_cb, self);
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "MESSAGE", "l2 channel opened (%s, reliable)",
                 rtc_data_channel_get_ordered (self->dc) ? "ordered" : "unordered");
  rtc_data_channel_start (self->dc);
  return TRUE;
}

/**
 * rtc_l2_channel_get_session:
 * @self: a channel
 *
 * Returns: (transfer none) (nullable): its session, %NULL once closed.
 */
AeroSession *
rtc_l2_channel_get_session (RtcL2Channel *self)
{
  return self->ended ? NULL : self->session;
}

/**
 * rtc_l2_channel_abort:
 * @self: a channel
 * @reason: why
 * @why: text for the log
 *
 * Ends the channel now (the peer connection is gone or the transport stops).
 */
void
rtc_l2_channel_abort (RtcL2Channel *self, AeroCloseReason reason, const char *why)
{
  g_object_ref (self);
  if (self->close_started && !self->ended)
    reason = self->close_reason;
  channel_end (self, reason, why);
  g_object_unref (self);
}

gboolean
rtc_l2_channel_is_finished (RtcL2Channel *self)
{
  return self->finished;
}

/**
 * rtc_l2_channel_get_backlog:
 * @self: a channel
 *
 * Returns: the DataChannel's buffered amount.
 */
guint64
rtc_l2_channel_get_backlog (RtcL2Channel *self)
{
  return self->finished ? 0 : rtc_data_channel_get_buffered_amount (self->dc);
}
