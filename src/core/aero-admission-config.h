/* aero-admission-config.h — the [admission] group: Origin rules,
 * authentication mode and secrets, tunnel quotas and per-tunnel rate
 * limits. Private to libaero-net. */
#pragma once

#include "aero-net/aero-config.h"
#include "aero-secret.h"
#include "aero-session-private.h"

G_BEGIN_DECLS

typedef enum {
  AERO_AUTH_NONE,
  AERO_AUTH_TOKEN,
  AERO_AUTH_SESSION,
  AERO_AUTH_JWT,
  AERO_AUTH_SESSION_OR_TOKEN,
  AERO_AUTH_SESSION_AND_TOKEN,
  AERO_AUTH_SESSION_OR_JWT,
} AeroAuthMode;

typedef enum {
  AERO_SAME_SITE_STRICT,
  AERO_SAME_SITE_LAX,
  AERO_SAME_SITE_NONE,
} AeroSameSite;

typedef struct {
  gboolean open;
  char **origins; /* normalised patterns ("*", "null", origins) */
  AeroAuthMode auth;
  AeroSecret *token;
  AeroSecret *session_secret;
  guint64 session_lifetime; /* seconds */
  AeroSameSite same_site;
  gboolean cookie_secure;
  AeroSecret *jwt_secret;
  char *jwt_audience;
  char *jwt_issuer;
  guint max_tunnels;             /* 0: no limit */
  guint max_tunnels_per_session; /* 0: no limit */
  AeroTunnelLimits limits;
} AeroAdmissionConfig;

/* The defaults: closed (Origin checked), auth none, no quotas. */
AeroAdmissionConfig *aero_admission_config_new (void);
void aero_admission_config_free (AeroAdmissionConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroAdmissionConfig, aero_admission_config_free)

/* Reads [admission]. @loopback_only: whether every listen address is a
 * loopback one (open mode and auth none need a second key otherwise);
 * @tls: whether the HTTP server serves TLS (the cookie's Secure default).
 * Secret files are read relative to @base_dir. Errors never contain a
 * secret. */
gboolean aero_admission_config_load (AeroAdmissionConfig *config, AeroConfigGroup *group,
                                     const char *base_dir, gboolean loopback_only, gboolean tls,
                                     GError **error);

const char *aero_auth_mode_to_string (AeroAuthMode mode);
gboolean aero_auth_mode_uses_token (AeroAuthMode mode);
gboolean aero_auth_mode_uses_session (AeroAuthMode mode);
gboolean aero_auth_mode_uses_jwt (AeroAuthMode mode);

G_END_DECLS
