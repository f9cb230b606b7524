/* aero-host-private.h — what the core's own files need from the host. */
#pragma once

#include "aero-net/aero-host.h"
#include "aero-admitter.h"
#include "aero-session-endpoint.h"

G_BEGIN_DECLS

AeroAdmitter *aero_host_get_admitter (AeroHost *self);
AeroSessionEndpoint *aero_host_get_session_endpoint (AeroHost *self);

G_END_DECLS
