/* rtc-data-channel.h — a GstWebRTCDataChannel as the main context sees it.
 *
 * webrtcbin emits a DataChannel's signals (on-message-data, on-close,
 * on-buffered-amount-low, on-error) on its own threads, where calling back
 * into webrtcbin can deadlock and where nothing of aero-net may be
 * touched. RtcDataChannel connects to those signals on whatever thread
 * the channel appears on, and turns each into an event in a queue bounded
 * in bytes; one idle source on the main context drains the queue and
 * re-emits the events there, in order, as its own signals:
 *
 *   "message"              (GBytes *data, gboolean is_text)
 *   "buffered-amount-low"
 *   "closed"
 *   "error"                (const char *text)
 *
 * Nothing is delivered before rtc_data_channel_start(), so the owner can
 * be set up first; nothing after rtc_data_channel_detach(). A message that
 * would take the queue past its bound is dropped and counted (a lost
 * frame, as on a wire). Sending, closing and reading the buffered amount
 * are called on the main context. */
#pragma once

#include <gio/gio.h>
#include <gst/webrtc/webrtc.h>

G_BEGIN_DECLS

#define RTC_TYPE_DATA_CHANNEL (rtc_data_channel_get_type ())
G_DECLARE_FINAL_TYPE (RtcDataChannel, rtc_data_channel, RTC, DATA_CHANNEL, GObject)

RtcDataChannel *rtc_data_channel_new (GstWebRTCDataChannel *channel, GMainContext *context,
                                      gsize max_queued_bytes);
void rtc_data_channel_start (RtcDataChannel *self);
gboolean rtc_data_channel_is_started (RtcDataChannel *self);
void rtc_data_channel_detach (RtcDataChannel *self);
const char *rtc_data_channel_get_label (RtcDataChannel *self);
gboolean rtc_data_channel_get_ordered (RtcDataChannel *self);
gint rtc_data_channel_get_max_retransmits (RtcDataChannel *self);
gint rtc_data_channel_get_max_packet_lifetime (RtcDataChannel *self);
gint rtc_data_channel_get_id (RtcDataChannel *self);
gboolean rtc_data_channel_is_open (RtcDataChannel *self);
gboolean rtc_data_channel_send (RtcDataChannel *self, GBytes *data, GError **error);
guint64 rtc_data_channel_get_buffered_amount (RtcDataChannel *self);
void rtc_data_channel_set_low_threshold (RtcDataChannel *self, guint64 threshold);
void rtc_data_channel_close (RtcDataChannel *self);
guint64 rtc_data_channel_take_dropped (RtcDataChannel *self);

G_END_DECLS
