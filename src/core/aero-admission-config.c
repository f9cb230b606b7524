/* aero-admission-config.c — reading and checking the [admission] group
 * (see aero-admission-config.h and README.md, "[admission]"). Keys that
 * the chosen `auth` mode does not use are refused, like unknown keys, so
 * that a secret meant for another mode cannot be silently ignored. */
#include <string.h>

#include "aero-admission-config.h"
#include "aero-origin.h"

static const char *const auth_modes[] = {
  "none", "token", "session", "jwt", "session_or_token", "session_and_token", "session_or_jwt",
  NULL
};

#define DEFAULT_SESSION_LIFETIME_MS (24 * 3600 * 1000ull)
#define MAX_SESSION_LIFETIME_MS (30 * 24 * 3600 * 1000ull)
#define DEFAULT_BYTES_BURST (64 * 1024)
#define MIN_BYTES_BURST 2048

const char *
aero_auth_mode_to_string (AeroAuthMode mode)
{
  return mode <= AERO_AUTH_SESSION_OR_JWT ? auth_modes[mode] : "unknown";
}

gboolean
aero_auth_mode_uses_token (AeroAuthMode mode)
{
  return mode == AERO_AUTH_TOKEN || mode == AERO_AUTH_SESSION_OR_TOKEN ||
         mode == AERO_AUTH_SESSION_AND_TOKEN;
}

gboolean
aero_auth_mode_uses_session (AeroAuthMode mode)
{
  return mode == AERO_AUTH_SESSION || mode == AERO_AUTH_SESSION_OR_TOKEN ||
         mode == AERO_AUTH_SESSION_AND_TOKEN || mode == AERO_AUTH_SESSION_OR_JWT;
}

gboolean
aero_auth_mode_uses_jwt (AeroAuthMode mode)
{
  return mode == AERO_AUTH_JWT || mode == AERO_AUTH_SESSION_OR_JWT;
}

AeroAdmissionConfig *
aero_admission_config_new (void)
{
  AeroAdmissionConfig *config = g_new0 (AeroAdmissionConfig, 1);

  config->origins = g_new0 (char *, 1);
  config->auth = AERO_AUTH_NONE;
  config->session_lifetime = DEFAULT_SESSION_LIFETIME_MS / 1000;
  config->same_site = AERO_SAME_SITE_LAX;
  return config;
}

void
aero_admission_config_free (AeroAdmissionConfig *config)
{
  if (config == NULL)
    return;
  g_strfreev (config->origins);
  aero_secret_free (config->token);
  aero_secret_free (config->session_secret);
  aero_secret_free (config->jwt_secret);
  g_free (config->jwt_audience);
  g_free (config->jwt_issuer);
  g_free (config);
}

/* Refuses @key when it is present but @mode does not use it. */
static gboolean
refuse_unused (AeroConfigGroup *group, const char *key, gboolean used, const char *modes,
               GError **error)
{
  if (used || !aero_config_group_has_key (group, key))
    return TRUE;
  aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                           "only used with auth = %s", modes);
  return FALSE;
}

/* A secret from KEY or from KEY-file (one of them, not both). The value
 * never appears in a message. */
static gboolean
read_secret (AeroConfigGroup *group, const char *key, const char *base_dir, gboolean required,
             const char *modes, AeroSecret **out, GError **error)
{
  g_autofree char *file_key = g_strconcat (key, "-file", NULL);
  g_autofree char *value = NULL;
  g_autofree char *path = NULL;
  gboolean has_value = aero_config_group_has_key (group, key);
  gboolean has_file = aero_config_group_has_key (group, file_key);

  if (!required)
    return refuse_unused (group, key, FALSE, modes, error) &&
           refuse_unused (group, file_key, FALSE, modes, error);
  if (has_value && has_file)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, file_key,
                               "set only one of %s and %s", key, file_key);
      return FALSE;
    }
  if (!has_value && !has_file)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_MISSING_KEY, key,
                               "required with auth = %s (or %s: a file holding it)", modes,
                               file_key);
      return FALSE;
    }
  if (has_value)
    {
      value = aero_config_group_get_string (group, key, NULL, TRUE, error);
      if (value == NULL)
        return FALSE;
      if (*value == '\0')
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                                   "expected a secret, got an empty value");
          return FALSE;
        }
      *out = aero_secret_new (value, strlen (value));
      memset (value, 0, strlen (value));
      return TRUE;
    }
  value = aero_config_group_get_string (group, file_key, NULL, TRUE, error);
  if (value == NULL)
    return FALSE;
  path = g_path_is_absolute (value) ? g_strdup (value)
                                    : g_build_filename (base_dir ? base_dir : ".", value, NULL);
  {
    g_autoptr (GError) local = NULL;

    *out = aero_secret_read_file (path, &local);
    if (*out == NULL)
      {
        aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, file_key, "%s",
                                 local->message);
        return FALSE;
      }
  }
  return TRUE;
}

/* The token travels as a subprotocol entry and in query strings: it must
 * be printable ASCII without spaces. */
static gboolean
check_token_text (AeroConfigGroup *group, const AeroSecret *token, GError **error)
{
  for (gsize i = 0; i < token->len; i++)
    if (token->data[i] < 0x21 || token->data[i] > 0x7e)
      {
        aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                 aero_config_group_has_key (group, "token") ? "token"
                                                                           : "token-file",
                                 "the token must be printable ASCII without spaces "
                                 "(its character %" G_GSIZE_FORMAT " is not)",
                                 i + 1);
        return FALSE;
      }
  return TRUE;
}

static gboolean
load_origins (AeroAdmissionConfig *config, AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) entries = aero_config_group_get_string_list (group, "origins", FALSE, error);
  g_autoptr (GPtrArray) patterns = g_ptr_array_new_with_free_func (g_free);
  gboolean allow_null = FALSE;

  if (entries == NULL)
    return FALSE;
  if (!aero_config_group_get_bool (group, "allow-null-origin", FALSE, &allow_null, error))
    return FALSE;
  for (guint i = 0; entries[i]; i++)
    {
      char *pattern = aero_origin_normalize_pattern (entries[i]);

      if (pattern == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "origins",
                                   "expected origins such as https://app.example.com, '*' or "
                                   "'null', got '%s'",
                                   entries[i]);
          return FALSE;
        }
      g_ptr_array_add (patterns, pattern);
    }
  if (allow_null)
    g_ptr_array_add (patterns, g_strdup ("null"));
  g_ptr_array_add (patterns, NULL);
  g_strfreev (config->origins);
  config->origins = (char **) g_ptr_array_free (g_steal_pointer (&patterns), FALSE);
  return TRUE;
}

static gboolean
load_limits (AeroAdmissionConfig *config, AeroConfigGroup *group, GError **error)
{
  AeroTunnelLimits *l = &config->limits;
  guint64 bytes = 0, bytes_burst = 0;
  gint64 frames = 0, frames_burst = 0, tunnels = 0, per_session = 0;

  if (!aero_config_group_get_int (group, "max-tunnels", 0, 1000000, 0, &tunnels, error) ||
      !aero_config_group_get_int (group, "max-tunnels-per-session", 0, 1000000, 0, &per_session,
                                  error) ||
      !aero_config_group_get_size (group, "bytes-per-second", 0, G_GUINT64_CONSTANT (1) << 40, 0,
                                   &bytes, error) ||
      !aero_config_group_get_size (group, "bytes-burst", MIN_BYTES_BURST,
                                   G_GUINT64_CONSTANT (1) << 40,
                                   MAX (bytes, DEFAULT_BYTES_BURST), &bytes_burst, error) ||
      !aero_config_group_get_int (group, "frames-per-second", 0, 10000000, 0, &frames, error) ||
      !aero_config_group_get_int (group, "frames-burst", 1, 100000000, MAX (frames, 1),
                                  &frames_burst, error))
    return FALSE;
  if (bytes == 0 && aero_config_group_has_key (group, "bytes-burst"))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "bytes-burst",
                               "only used with bytes-per-second");
      return FALSE;
    }
  if (frames == 0 && aero_config_group_has_key (group, "frames-burst"))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "frames-burst",
                               "only used with frames-per-second");
      return FALSE;
    }
  config->max_tunnels = (guint) tunnels;
  config->max_tunnels_per_session = (guint) per_session;
  l->bytes_per_second = (double) bytes;
  l->bytes_burst = (double) bytes_burst;
  l->frames_per_second = (double) frames;
  l->frames_burst = (double) frames_burst;
  return TRUE;
}

static gboolean
load_session (AeroAdmissionConfig *config, AeroConfigGroup *group, const char *base_dir,
              gboolean tls, GError **error)
{
  static const char *const same_sites[] = { "strict", "lax", "none", NULL };
  static const char *const modes = "session, session_or_token, session_and_token or "
                                   "session_or_jwt";
  gboolean used = aero_auth_mode_uses_session (config->auth);
  guint64 lifetime_ms = 0;
  guint same_site = AERO_SAME_SITE_LAX;

  if (!read_secret (group, "session-secret", base_dir, used, modes, &config->session_secret,
                    error) ||
      !refuse_unused (group, "session-lifetime", used, modes, error) ||
      !refuse_unused (group, "session-cookie-samesite", used, modes, error) ||
      !refuse_unused (group, "session-cookie-secure", used, modes, error))
    return FALSE;
  if (!used)
    return TRUE;
  if (!aero_config_group_get_duration (group, "session-lifetime", 1000, MAX_SESSION_LIFETIME_MS,
                                       DEFAULT_SESSION_LIFETIME_MS, &lifetime_ms, error) ||
      !aero_config_group_get_enum (group, "session-cookie-samesite", same_sites,
                                   AERO_SAME_SITE_LAX, &same_site, error) ||
      !aero_config_group_get_bool (group, "session-cookie-secure", tls, &config->cookie_secure,
                                   error))
    return FALSE;
  if (lifetime_ms % 1000 != 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "session-lifetime",
                               "expected whole seconds, got %" G_GUINT64_FORMAT " ms",
                               lifetime_ms);
      return FALSE;
    }
  config->session_lifetime = lifetime_ms / 1000;
  config->same_site = same_site;
  if (config->same_site == AERO_SAME_SITE_NONE && !config->cookie_secure)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                               "session-cookie-samesite",
                               "'none' needs a Secure cookie: serve TLS or set "
                               "session-cookie-secure = true");
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_jwt (AeroAdmissionConfig *config, AeroConfigGroup *group, const char *base_dir,
          GError **error)
{
  static const char *const modes = "jwt or session_or_jwt";
  gboolean used = aero_auth_mode_uses_jwt (config->auth);

  if (!read_secret (group, "jwt-secret", base_dir, used, modes, &config->jwt_secret, error) ||
      !refuse_unused (group, "jwt-audience", used, modes, error) ||
      !refuse_unused (group, "jwt-issuer", used, modes, error))
    return FALSE;
  if (!used)
    return TRUE;
  config->jwt_audience = aero_config_group_get_string (group, "jwt-audience", NULL, FALSE, error);
  if (error && *error)
    return FALSE;
  config->jwt_issuer = aero_config_group_get_string (group, "jwt-issuer", NULL, FALSE, error);
  return !(error && *error);
}

gboolean
aero_admission_config_load (AeroAdmissionConfig *config, AeroConfigGroup *group,
                            const char *base_dir, gboolean loopback_only, gboolean tls,
                            GError **error)
{
  gboolean allow_open = FALSE, allow_none = FALSE;
  guint auth = AERO_AUTH_NONE;

  if (!aero_config_group_get_bool (group, "open", FALSE, &config->open, error) ||
      !aero_config_group_get_bool (group, "allow-open-on-public", FALSE, &allow_open, error) ||
      !load_origins (config, group, error) ||
      !aero_config_group_get_enum (group, "auth", auth_modes, AERO_AUTH_NONE, &auth, error) ||
      !aero_config_group_get_bool (group, "allow-none-on-public", FALSE, &allow_none, error))
    return FALSE;
  config->auth = auth;

  if (config->open && !loopback_only && !allow_open)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "open",
                               "open mode admits any Origin and is for development: refused "
                               "while [http] listen has a non-loopback address (set "
                               "allow-open-on-public = true to insist)");
      return FALSE;
    }
  if (config->auth == AERO_AUTH_NONE && !loopback_only && !allow_none)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "auth",
                               "'none' (the default) admits anyone and is for development: "
                               "refused while [http] listen has a non-loopback address (choose "
                               "token, session, jwt, session_or_token, session_and_token or "
                               "session_or_jwt, or set allow-none-on-public = true to insist)");
      return FALSE;
    }

  if (!read_secret (group, "token", base_dir, aero_auth_mode_uses_token (config->auth),
                    "token, session_or_token or session_and_token", &config->token, error))
    return FALSE;
  if (config->token && !check_token_text (group, config->token, error))
    return FALSE;
  if (!load_session (config, group, base_dir, tls, error) ||
      !load_jwt (config, group, base_dir, error) || !load_limits (config, group, error))
    return FALSE;
  return aero_config_group_check_unknown_keys (group, error);
}
