/* aero-session-private.h — what the host needs from sessions. */
#pragma once

#include "aero-net/aero-session.h"
#include "aero-net/aero-stack.h"
#include "aero-net/aero-metrics.h"

G_BEGIN_DECLS

/* Aggregate traffic series, owned by the host's registry. Index 0 is
 * from_guest, 1 is to_guest. */
typedef struct {
  AeroMetric *frames[2];
  AeroMetric *bytes[2];
  AeroMetric *drops[2];
} AeroSessionMetrics;

AeroSession *aero_session_new (AeroHost *host, const char *id, AeroChannel *channel,
                               const AeroSessionMetrics *metrics);

/* Creates the stack and the filters and links everything. @filters holds
 * AeroComponent instances that are filter factories or policies. */
gboolean aero_session_setup (AeroSession *self, AeroStackFactory *factory, GPtrArray *filters,
                             GError **error);

/* Releases the stack and filters at once (used when the host goes away). */
void aero_session_teardown (AeroSession *self);

AeroCloseReason aero_session_get_close_reason (AeroSession *self);

G_END_DECLS
