/* rtc-peer.h — one WebRTC peer connection: a webrtcbin of its own.
 *
 * RtcPeer answers one client's offer and carries its DataChannels. Each
 * peer has its own pipeline holding one webrtcbin, so that a failing
 * connection touches no other. webrtcbin calls back on its own threads;
 * every such callback only takes a reference and queues the work to the
 * main context (never calling back into webrtcbin), where the peer's
 * state lives.
 *
 * Negotiation: rtc_peer_answer() sets the offer, creates the answer,
 * writes `a=max-message-size` into it and sets it. Then "answer" is
 * emitted: at once with trickle (candidates follow as "local-candidate"),
 * or, without trickle, once ICE gathering is complete or after
 * ice-gather-timeout, with the gathered candidates in the SDP.
 *
 * Channels: an `l2` DataChannel that is reliable (no max-retransmits, no
 * max-packet-lifetime; ordered or not) becomes an RtcL2Channel and so a
 * session; a `udp` DataChannel becomes an RtcUdpRelay. One of each per
 * peer; anything else is closed at once with a logged reason.
 *
 * Ending: the peer is torn down when no channel has opened within
 * connect-timeout, when the connection fails, when its last channel
 * closes, or by rtc_peer_close(). "closed" is emitted once. */
#pragma once

#include <aero-net/aero-net.h>

#include "rtc-config.h"
#include "rtc-metrics.h"

G_BEGIN_DECLS

/* What a peer needs of its transport. Borrowed: the transport outlives
 * its peers' open life (it closes them all when it stops). */
typedef struct {
  AeroComponent *component;
  AeroHost *host;
  const char *name;
  const RtcConfig *config;
  RtcMetrics *metrics;
  AeroPolicy *policy;            /* nullable: the udp relay's policy */
  GMainContext *context;
} RtcPeerEnv;

#define RTC_TYPE_PEER (rtc_peer_get_type ())
G_DECLARE_FINAL_TYPE (RtcPeer, rtc_peer, RTC, PEER, GObject)

RtcPeer *rtc_peer_new (const RtcPeerEnv *env, const char *client, AeroAdmission *admission);
gboolean rtc_peer_start (RtcPeer *self, GError **error);
gboolean rtc_peer_answer (RtcPeer *self, const char *offer, gboolean trickle, GError **error);
void rtc_peer_add_candidate (RtcPeer *self, guint mline, const char *candidate);
void rtc_peer_close (RtcPeer *self, RtcPeerEndReason reason, const char *detail);
gboolean rtc_peer_is_closed (RtcPeer *self);
gboolean rtc_peer_has_channel (RtcPeer *self);
const char *rtc_peer_get_id (RtcPeer *self);
const char *rtc_peer_get_client (RtcPeer *self);
const char *rtc_peer_get_principal (RtcPeer *self);
guint64 rtc_peer_get_backlog (RtcPeer *self);
void rtc_peer_reap_lingering (void);

G_END_DECLS
