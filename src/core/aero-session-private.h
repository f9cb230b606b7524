/* aero-session-private.h — what the host needs from sessions. */
#pragma once

#include "aero-net/aero-session.h"
#include "aero-net/aero-stack.h"
#include "aero-net/aero-metrics.h"
#include "aero-capture.h"

G_BEGIN_DECLS

/* Aggregate traffic series, owned by the host's registry. Index 0 is
 * from_guest, 1 is to_guest. */
typedef struct {
  AeroMetric *frames[2];
  AeroMetric *bytes[2];
  AeroMetric *drops[2];
  AeroMetric *rate_limit_drops[2]; /* frames over bytes-per-second */
  AeroMetric *rate_limit_closes;   /* sessions closed over frames-per-second */
} AeroSessionMetrics;

/* Per-tunnel rate limits ([admission] bytes-per-second, frames-per-second
 * and their bursts); a rate of 0 means no limit. */
typedef struct {
  double bytes_per_second;
  double bytes_burst;
  double frames_per_second;
  double frames_burst;
} AeroTunnelLimits;

AeroSession *aero_session_new (AeroHost *host, const char *id, AeroChannel *channel,
                               const AeroSessionMetrics *metrics);

/* Applies the rate limits to the session's frames: frames from the guest
 * beyond frames-per-second close it (AERO_CLOSE_QUOTA_FPS); frames beyond
 * bytes-per-second (a bucket per direction) are dropped and counted. Call
 * before aero_session_setup(). */
void aero_session_set_limits (AeroSession *self, const AeroTunnelLimits *limits);

/* Hands the session a capture writer (transfer full): every frame from
 * the guest as it arrives, and every frame the channel accepts towards the
 * guest, is written to it. The writer is closed with the session. */
void aero_session_set_capture (AeroSession *self, AeroCaptureWriter *writer);

/* Creates the stack and the filters and links everything. @filters holds
 * AeroComponent instances that are filter factories or policies. */
gboolean aero_session_setup (AeroSession *self, AeroStackFactory *factory, GPtrArray *filters,
                             GError **error);

/* Releases the stack and filters at once (used when the host goes away). */
void aero_session_teardown (AeroSession *self);

AeroCloseReason aero_session_get_close_reason (AeroSession *self);

G_END_DECLS
