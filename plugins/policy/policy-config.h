/* policy-config.h — the validated configuration of one policy instance.
 * plugins/policy/README.md documents every key; policy_config_parse()
 * reads them all and fails with `FILE: [GROUP] KEY: expected ...`. */
#pragma once

#include <aero-net/aero-net.h>

#include "policy-rules.h"

G_BEGIN_DECLS

/* How long after its last datagram a UDP flow must keep counting:
 * stack-slirp's libslirp 4.7 keeps the host socket of a guest UDP address
 * and port open 240 s after the last datagram through it, either way
 * (SO_EXPIRE: udp_attach() in udp.c, sosendto() and sorecvfrom() in
 * socket.c), plus a margin for its timer. */
#define POLICY_UDP_SOCKET_HOLD_MS (245 * 1000)
/* The least and the default udp-idle-timeout: a flow the filter forgets
 * later than POLICY_UDP_SOCKET_HOLD_MS after its last datagram has no
 * socket left in the stack, whatever reaches the socket's port since.
 * (The filter forgets an answered DNS lookup sooner, as libslirp closes
 * its socket 10 s after the answer: aero-flow-table.c.) */
#define POLICY_MIN_UDP_IDLE_MS (250 * 1000)

typedef enum {
  POLICY_MODE_SAFE,
  POLICY_MODE_OPEN,
} PolicyMode;

typedef struct {
  GSocketFamily family;
  guint8 addr[16];
} PolicyAddress;

typedef struct {
  PolicyMode mode;
  gboolean allow_open_on_public;

  GArray *allow;        /* PolicyAddrRule */
  GArray *deny;         /* PolicyAddrRule */
  GArray *ports;        /* PolicyPortRange; empty: any port */
  GArray *allow_names;  /* PolicyNamePattern; empty: any name */
  GArray *deny_names;   /* PolicyNamePattern */
  AeroDnsRefusal deny_name_answer;
  gboolean require_resolved_names;
  AeroRebindingAction rebinding;
  gboolean udp_refusal_icmp;

  guint64 max_tcp_flows;      /* 0: no limit */
  guint64 max_udp_flows;
  double new_flows_per_second;/* 0: no limit */
  double new_flows_burst;
  guint64 bytes_quota_up;     /* 0: no quota */
  guint64 bytes_quota_down;
  double frames_per_second;   /* 0: no limit */
  double frames_burst;
  double bytes_per_second;    /* 0: no limit */
  double bytes_burst;
  double log_rate;            /* denial log lines per second */
  double log_burst;

  GArray *dns_addresses;      /* PolicyAddress */
  GArray *gateways;           /* PolicyAddress */
  guint64 tcp_idle_ms;
  guint64 udp_idle_ms;
} PolicyConfig;

PolicyConfig *policy_config_new_default (void);

PolicyConfig *policy_config_parse (AeroConfigGroup *group, GError **error);

void policy_config_free (PolicyConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PolicyConfig, policy_config_free)

/* Reads `N/s`, `N/min` or `N/h` into a rate per second and a burst of N. */
gboolean policy_parse_log_rate (const char *text, double *rate, double *burst);

/* Whether every [http] listen address of the file GROUP came from is a
 * loopback address (the core's default, 127.0.0.1:8090, is). When it is
 * not, *public_address names the first one that is not. When the file
 * cannot be read again, answers TRUE: start() checks the running host. */
gboolean policy_config_listen_is_loopback (AeroConfigGroup *group, char **public_address);

G_END_DECLS
