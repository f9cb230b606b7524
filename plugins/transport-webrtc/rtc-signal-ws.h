/* rtc-signal-ws.h — GET signal-path: signalling over a WebSocket, with trickle ICE.
 *
 * One WebSocket signals one peer connection. Text messages, JSON:
 *
 *   client → server   {"type":"offer","sdp":"…"}                  (exactly one)
 *                     {"type":"candidate","candidate":"candidate:…",
 *                      "sdpMid":"0","sdpMLineIndex":0}             (any number;
 *                      the fields may also sit in a "candidate" object,
 *                      as RTCIceCandidate.toJSON() gives them; an empty
 *                      candidate marks the end and is ignored)
 *   server → client   {"type":"answer","sdp":"…"}
 *                     {"type":"candidate",…}                       (as above)
 *                     {"type":"error","message":"…"}              (then close 1008/1011)
 *
 * An error that does not close the socket (an unknown type, a candidate
 * before the offer, a second offer…) is sent 16 times at most: the 17th
 * unusable message closes it (1008), so the answers queued for a client
 * that never reads stay bounded.
 *
 * A client may offer the subprotocol aero-webrtc-signal-v1 (it is then
 * selected), together with aero-l2-token.<credential> entries for the
 * admission checks. Refusals before the upgrade are HTTP: 405, 400, the
 * admission checks' status, 429 at max-peers, 503 while shutting down.
 * From its upgrade until it is gone, a socket holds a place in max-peers
 * (rtc-server.h): its peer connection takes the place over while it is
 * open, and hands it back if it closes before the socket.
 * Each message is bounded by signal-max-message and the whole connection
 * by signal-max-bytes. A socket that sends no offer within connect-timeout
 * is closed. Closing the socket before the peer connection has an open
 * channel tears the peer down; afterwards the peer lives on. When the peer
 * closes, so does the socket (1000). */
#pragma once

#include "rtc-server.h"

G_BEGIN_DECLS

#define RTC_SIGNAL_SUBPROTOCOL "aero-webrtc-signal-v1"

typedef struct _RtcSignalWs RtcSignalWs;

RtcSignalWs *rtc_signal_ws_new (RtcServer *server);
void rtc_signal_ws_handle (RtcSignalWs *self, SoupServerMessage *msg, const char *path);
void rtc_signal_ws_stop (RtcSignalWs *self);
void rtc_signal_ws_free (RtcSignalWs *self);

G_END_DECLS
