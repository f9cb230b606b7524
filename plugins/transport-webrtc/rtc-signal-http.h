/* rtc-signal-http.h — POST offer-path: one offer in, one answer out.
 *
 *   POST /webrtc/offer   {"type":"offer","sdp":"…"}
 *   200                  {"type":"answer","sdp":"…"}   (candidates in the SDP)
 *
 * Non-trickle: the client gathers its candidates into the offer, the
 * server answers once its own gathering is complete (or ice-gather-timeout
 * has passed). The body is bounded before it is read (Content-Length is
 * required, at most signal-max-message: 411 and 413 otherwise). Refusals:
 * 405 (not POST), 400 (not JSON, not an offer, an SDP without a
 * DataChannel section), the admission checks' status (401, 403, 429), 429
 * at max-peers, 503 while shutting down, 500 when negotiation fails.
 * Refusals carry {"error":"…"}. A request with an admitted Origin gets
 * Access-Control-Allow-Origin for it, and OPTIONS answers the CORS
 * preflight, so that a page on another origin can post its offer. */
#pragma once

#include "rtc-server.h"

G_BEGIN_DECLS

typedef struct _RtcSignalHttp RtcSignalHttp;

RtcSignalHttp *rtc_signal_http_new (RtcServer *server);
void rtc_signal_http_early (RtcSignalHttp *self, SoupServerMessage *msg);
void rtc_signal_http_handle (RtcSignalHttp *self, SoupServerMessage *msg, const char *path);
void rtc_signal_http_stop (RtcSignalHttp *self);
void rtc_signal_http_free (RtcSignalHttp *self);

G_END_DECLS
