/* rtc-l2-channel.h — one aero-l2-tunnel-v1 tunnel over an `l2` DataChannel.
 *
 * RtcL2Channel is the AeroChannel transport-webrtc hands to the core: one
 * per `l2` DataChannel, and so one session. It speaks the tunnel exactly
 * as transport-ws does: FRAME messages go to the session, PING is answered
 * with PONG at once, PONG and ERROR are counted, unknown types are ignored
 * and counted; text messages and messages that fail to decode are
 * violations, dropped and counted, and the max-violations'th closes the
 * channel after an ERROR protocol_error. A message above max-message-size
 * (which the answer advertised) is dropped, counted and closes the channel.
 *
 * Sending is bounded by the DataChannel's buffered amount: a frame that
 * would take it past send-queue is dropped (AERO_FLOW_DROPPED); when the
 * amount falls below half after drops the channel emits "ready"; drops past
 * backpressure-limit without it falling below half close the channel
 * after an ERROR backpressure. PONGs share the bound: a PONG that would
 * pass it is dropped and counted the same way (a peer that pings without
 * reading cannot grow the buffered amount). Only the ERROR of a close is
 * sent whatever the bound says: one message, then the end.
 *
 * Closing: a polite close (from the core) sends the ERROR the reason calls
 * for, closes the DataChannel and reports the channel closed when the
 * DataChannel says so or after close-timeout. The peer closing the
 * DataChannel, or the peer connection ending, ends it at once. "finished"
 * is emitted once, after the channel is reported closed. */
#pragma once

#include <aero-net/aero-net.h>

#include "rtc-config.h"
#include "rtc-data-channel.h"
#include "rtc-metrics.h"

G_BEGIN_DECLS

#define RTC_TYPE_L2_CHANNEL (rtc_l2_channel_get_type ())
G_DECLARE_FINAL_TYPE (RtcL2Channel, rtc_l2_channel, RTC, L2_CHANNEL, AeroChannel)

RtcL2Channel *rtc_l2_channel_new (const char *component, RtcMetrics *metrics,
                                  const RtcL2Options *options, RtcDataChannel *dc);
gboolean rtc_l2_channel_open (RtcL2Channel *self, AeroHost *host, AeroComponent *transport,
                              GError **error);
AeroSession *rtc_l2_channel_get_session (RtcL2Channel *self);
void rtc_l2_channel_abort (RtcL2Channel *self, AeroCloseReason reason, const char *why);
gboolean rtc_l2_channel_is_finished (RtcL2Channel *self);
guint64 rtc_l2_channel_get_backlog (RtcL2Channel *self);

G_END_DECLS
