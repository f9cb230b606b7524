/* rtc-udp-relay.h — the `udp` DataChannel: guest datagrams to real UDP sockets.
 *
 * Each message is one datagram in the relay framing of PROTOCOLS.md §4
 * (v1 or v2, rtc-udp-codec.h). A guest port gets one host socket per
 * address family (a binding) the first time it sends; the datagram goes
 * out from that socket to the remote address and port. Replies arriving
 * on the socket go back to the guest in the version it last used on that
 * binding, but only from remote address+port pairs the guest has sent to
 * (address- and port-restricted), unless udp-full-cone is set.
 *
 * Policy: the first datagram of each (guest port, remote address, remote
 * port) is a new UDP flow for aero_policy_check_flow(), asked with the
 * session of the peer connection's `l2` channel; every datagram is also
 * put to aero_policy_check_traffic() (a DROP verdict drops it, CLOSE
 * closes that session). With udp-relay = policy and no policy configured,
 * or with no l2 session open, datagrams are dropped and counted. A flow the
 * policy allowed is reported closed when its binding closes.
 *
 * Bounds: udp-max-bindings per channel (least recently used binding
 * evicted), udp-max-remotes pairs per binding, udp-max-payload per
 * datagram, a binding idle for udp-idle-timeout is closed, and messages to
 * the peer are dropped above send-queue of buffered amount. */
#pragma once

#include <aero-net/aero-net.h>

#include "rtc-config.h"
#include "rtc-data-channel.h"
#include "rtc-metrics.h"

G_BEGIN_DECLS

/* Returns the session whose policy applies now, or NULL. */
typedef AeroSession *(*RtcUdpSessionFunc) (gpointer user_data);

#define RTC_TYPE_UDP_RELAY (rtc_udp_relay_get_type ())
G_DECLARE_FINAL_TYPE (RtcUdpRelay, rtc_udp_relay, RTC, UDP_RELAY, GObject)

RtcUdpRelay *rtc_udp_relay_new (const char *component, const char *client, RtcMetrics *metrics,
                                const RtcUdpOptions *options, RtcDataChannel *dc,
                                AeroPolicy *policy, RtcUdpSessionFunc session_func,
                                gpointer session_data);
void rtc_udp_relay_start (RtcUdpRelay *self);
void rtc_udp_relay_stop (RtcUdpRelay *self, const char *why);
void rtc_udp_relay_session_ended (RtcUdpRelay *self);
guint64 rtc_udp_relay_get_backlog (RtcUdpRelay *self);

G_END_DECLS
