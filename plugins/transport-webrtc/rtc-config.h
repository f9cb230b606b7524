/* rtc-config.h — the configuration of one transport-webrtc instance.
 *
 *   [NAME]
 *   plugin = transport-webrtc
 *   stack = STACK                   ; core wiring keys, as for every transport
 *   filters = POLICY                ; the first policy here also polices the udp relay
 *   ; signalling on the core HTTP server ("" turns an endpoint off)
 *   offer-path = /webrtc/offer      ; POST {"type":"offer","sdp":…} → answer (non-trickle)
 *   signal-path = /webrtc/signal    ; WebSocket: offer, answer, candidates (trickle ICE)
 *   signal-max-message = 64KiB      ; largest POST body or signalling message
 *   signal-max-bytes = 1MiB         ; everything one signalling WebSocket may send
 *   ; ICE
 *   ice-servers = stun://HOST:PORT; turn://USER:PASS@HOST:PORT; turns://…
 *   ice-local-addresses = 127.0.0.1 ; addresses ICE gathers on (default: auto, see README)
 *   ice-port-range = 40000-40100    ; UDP ports for ICE (default: any)
 *   ice-gather-timeout = 2s         ; longest wait for candidates before a POST answer
 *   ; peer connections
 *   max-peers = 100                 ; peer connections + signalling sockets without one
 *   connect-timeout = 10s           ; a peer without an open channel by then is torn down
 *   max-message-size = 64KiB        ; advertised in answers (a=max-message-size), enforced
 *   ; the l2 channel (the same keys and defaults as transport-ws)
 *   max-frame-payload = 2048
 *   max-control-payload = 256
 *   max-violations = 16
 *   idle-timeout = 60s
 *   send-queue = 256KiB             ; bound on a channel's buffered amount
 *   backpressure-limit = 1024
 *   close-timeout = 2s
 *   ; the udp channel
 *   udp-relay = policy              ; off | policy | open
 *   udp-full-cone = false           ; accept datagrams from any remote, not only those sent to
 *   udp-max-payload = 1200
 *   udp-max-bindings = 64           ; guest ports with a host socket, per channel
 *   udp-max-remotes = 256           ; remote address+port pairs remembered per binding
 *   udp-idle-timeout = 60s          ; a binding without traffic is closed
 */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

typedef enum {
  RTC_UDP_RELAY_OFF,
  RTC_UDP_RELAY_POLICY,
  RTC_UDP_RELAY_OPEN,
} RtcUdpRelayMode;

/* Settings of the l2 channels (mirrors transport-ws's tunnel options). */
typedef struct {
  AeroL2Limits limits;
  guint64 max_violations;
  guint64 idle_timeout_ms;
  guint64 send_queue;
  guint64 backpressure_limit;
  guint64 close_timeout_ms;
  guint64 max_message_size;
} RtcL2Options;

/* Settings of the udp channels. */
typedef struct {
  RtcUdpRelayMode mode;
  gboolean full_cone;
  guint64 max_payload;
  guint64 max_bindings;
  guint64 max_remotes;
  guint64 idle_timeout_ms;       /* a binding */
  guint64 channel_idle_ms;       /* the channel: idle-timeout, 0: never */
  guint64 send_queue;
  guint64 max_message_size;
} RtcUdpOptions;

typedef struct {
  char *offer_path;              /* NULL: off */
  char *signal_path;             /* NULL: off */
  guint64 signal_max_message;
  guint64 signal_max_bytes;

  char *stun_server;             /* stun://host:port, or NULL */
  char **turn_servers;           /* turn(s)://user:pass@host:port */
  char **ice_local_addresses;    /* NULL: auto */
  guint ice_port_min;            /* 0: any */
  guint ice_port_max;
  guint64 ice_gather_timeout_ms;

  guint64 max_peers;
  guint64 connect_timeout_ms;

  char **filters;                /* the transport's filters key, to find the policy */

  RtcL2Options l2;
  RtcUdpOptions udp;
} RtcConfig;

RtcConfig *rtc_config_new (void);
void rtc_config_free (RtcConfig *config);
gboolean rtc_config_load (RtcConfig *config, AeroConfigGroup *group, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RtcConfig, rtc_config_free)

G_END_DECLS
