/* aero-session-endpoint.h — POST /session: issues the aero_session cookie
 * and tells a browser where the endpoints are and what the limits are, so
 * that it can start without any other service. Also the directory of
 * endpoints transports register with aero_host_add_endpoint(). Private
 * to libaero-net. */
#pragma once

#include <libsoup/soup.h>

#include "aero-admitter.h"

G_BEGIN_DECLS

typedef struct _AeroSessionEndpoint AeroSessionEndpoint;

AeroSessionEndpoint *aero_session_endpoint_new (AeroMetrics *metrics);
void aero_session_endpoint_free (AeroSessionEndpoint *self);

void aero_session_endpoint_add (AeroSessionEndpoint *self, const char *name, const char *path,
                                GVariant *limits);
void aero_session_endpoint_remove (AeroSessionEndpoint *self, const char *name);

/* Registers POST /session on @server when the auth mode uses sessions.
 * @admitter gives the configuration and the Origin check. */
void aero_session_endpoint_serve (AeroSessionEndpoint *self, SoupServer *server, AeroHost *host,
                                  AeroAdmitter *admitter);

G_END_DECLS
