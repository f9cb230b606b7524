/* rtc-server.h — the signalling endpoints and the peer connections of one
 * transport-webrtc instance.
 *
 * RtcServer registers offer-path (rtc-signal-http.c) and signal-path
 * (rtc-signal-ws.c) on the core HTTP server, runs the admission checks
 * for both (the core's, through rtc-admission.c), creates peer connections
 * within max-peers, and keeps every peer until it has closed. stop()
 * closes them all.
 *
 * max-peers counts places: one for every peer connection, from its offer
 * until it has closed (negotiating, waiting for ICE, connected), and one
 * for every signalling WebSocket that has no peer connection, from its
 * upgrade until it is gone; a socket and the peer it signalled share one
 * place. So neither half-open peers nor idle signalling sockets can grow
 * past max-peers. */
#pragma once

#include <aero-net/aero-net.h>

#include "rtc-admission.h"
#include "rtc-config.h"
#include "rtc-metrics.h"
#include "rtc-peer.h"

G_BEGIN_DECLS

#define RTC_TYPE_SERVER (rtc_server_get_type ())
G_DECLARE_FINAL_TYPE (RtcServer, rtc_server, RTC, SERVER, GObject)

RtcServer *rtc_server_new (AeroComponent *component, const char *name, const RtcConfig *config);
gboolean rtc_server_start (RtcServer *self, AeroHost *host, RtcMetrics *metrics,
                           AeroPolicy *policy, GError **error);
void rtc_server_stop_accepting (RtcServer *self);
void rtc_server_stop (RtcServer *self);
guint64 rtc_server_get_backlog (RtcServer *self);

/* For the signalling endpoints. */
const char *rtc_server_get_name (RtcServer *self);
const RtcConfig *rtc_server_get_config (RtcServer *self);
RtcMetrics *rtc_server_get_metrics (RtcServer *self);
gboolean rtc_server_is_accepting (RtcServer *self);
gboolean rtc_server_is_full (RtcServer *self);
void rtc_server_hold_place (RtcServer *self);
void rtc_server_release_place (RtcServer *self);
void rtc_server_admit (RtcServer *self, RtcAdmissionKind kind, SoupServerMessage *msg,
                       const char *const *tokens, RtcAdmissionVerdict *verdict);
void rtc_server_log_access (RtcServer *self, SoupServerMessage *msg,
                            const AeroAdmission *admission, guint status, const char *reason);
RtcPeer *rtc_server_new_peer (RtcServer *self, const char *client, AeroAdmission *admission,
                              gboolean placed, RtcRefuseReason *refusal, GError **error);
char *rtc_server_peer_of (SoupServerMessage *msg);

G_END_DECLS
