/* aero-admitter.h — the host's admission state: the [admission]
 * configuration, the tunnel counts behind the quotas, and the metrics.
 * aero_host_admit() (aero-admission.c) is its public face. Private to
 * libaero-net. */
#pragma once

#include <libsoup/soup.h>

#include "aero-admission-config.h"
#include "aero-net/aero-admission.h"
#include "aero-net/aero-metrics.h"

G_BEGIN_DECLS

typedef struct _AeroAdmitter AeroAdmitter;

/* An admitter with the default configuration and its metrics declared. */
AeroAdmitter *aero_admitter_new (AeroMetrics *metrics);
void aero_admitter_free (AeroAdmitter *admitter);

/* Replaces the configuration (transfer full). */
void aero_admitter_set_config (AeroAdmitter *admitter, AeroAdmissionConfig *config);
const AeroAdmissionConfig *aero_admitter_get_config (AeroAdmitter *admitter);

/* Logs the admission rules at start; open mode and auth none loudly. */
void aero_admitter_log_config (AeroAdmitter *admitter);

/* The Origin check alone (also for POST /session): ADMITTED or one of the
 * ORIGIN_* verdicts; open mode admits everything. *@normalized (optional)
 * receives the normalised origin when it is valid. */
AeroAdmissionVerdict aero_admitter_check_origin (AeroAdmitter *admitter, SoupMessageHeaders *headers,
                                                 char **normalized);

G_END_DECLS
