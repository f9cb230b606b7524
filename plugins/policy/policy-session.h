/* policy-session.h — what the policy keeps for one session: its open
 * flows by protocol, its limiters (new flows, frames, bytes each way with
 * the byte quota) and the addresses its permitted names resolved to.
 *
 * The resolved addresses are bounded: past POLICY_SESSION_MAX_RESOLVED
 * the oldest is forgotten.
 * */
#pragma once

#include "policy-config.h"

G_BEGIN_DECLS

#define POLICY_SESSION_MAX_RESOLVED 4096

typedef struct {
  char *id;
  guint64 tcp_flows;
  guint64 udp_flows;
  AeroRateLimit *new_flows; /* NULL: no limit */
  AeroRateLimit *frames;    /* frames from the guest; NULL: no limit */
  AeroRateLimit *up;        /* bytes from the guest: rate and quota */
  AeroRateLimit *down;      /* bytes to the guest: rate and quota */
  gboolean closing;         /* a quota ended it; every frame now answers CLOSE */
  AeroCloseReason close_reason;
  GHashTable *resolved;     /* PolicyAddress* → name */
  GQueue resolved_order;    /* PolicyAddress*, oldest first (owned by the table) */
  gboolean resolved_full;   /* resolved addresses were forgotten: logged once */
} PolicySession;

PolicySession *policy_session_new (const char *id, const PolicyConfig *config, gint64 now_us);

void policy_session_free (PolicySession *session);

/* Returns how many older addresses were forgotten to make room. */
guint policy_session_remember (PolicySession *session, GSocketFamily family, const guint8 *addr,
                               const char *name);

/* The name ADDR was resolved from, or NULL. */
const char *policy_session_lookup (PolicySession *session, GSocketFamily family,
                                   const guint8 *addr);

G_END_DECLS
