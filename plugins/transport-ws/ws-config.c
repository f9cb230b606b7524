/* ws-config.c — reads and validates a transport-ws group (keys in the header). */
#include <string.h>

#include "ws-config.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define HOUR_MS (3600u * 1000u)

static const char *const server_only_keys[] = { "paths", NULL };
static const char *const client_only_keys[] = {
  "url", "token", "origin", "tls-ca", "keepalive", "reconnect-min", "reconnect-max",
  "connect-timeout", NULL
};

WsConfig *
ws_config_new (void)
{
  WsConfig *config = g_new0 (WsConfig, 1);

  config->mode = WS_MODE_SERVER;
  return config;
}

void
ws_config_free (WsConfig *config)
{
  if (config == NULL)
    return;
  g_strfreev (config->paths);
  g_clear_pointer (&config->url, g_uri_unref);
  g_free (config->token);
  g_free (config->origin);
  g_clear_object (&config->tls_ca);
  g_free (config);
}

static gboolean
refuse_other_mode_keys (AeroConfigGroup *group, const char *const *keys, const char *mode,
                        GError **error)
{
  for (guint i = 0; keys[i]; i++)
    if (aero_config_group_has_key (group, keys[i]))
      {
        aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, keys[i],
                                 "only valid with mode = %s", mode);
        return FALSE;
      }
  return TRUE;
}

/* An RFC 7230 token character (what a subprotocol entry may contain). */
static gboolean
is_token_char (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Reads an optional string; *out stays NULL when the key is absent. */
static gboolean
get_optional_string (AeroConfigGroup *group, const char *key, char **out, GError **error)
{
  g_autoptr (GError) local = NULL;

  *out = aero_config_group_get_string (group, key, NULL, FALSE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_common (WsConfig *c, AeroConfigGroup *group, GError **error)
{
  guint64 frame, control, send_queue;
  gint64 violations, backpressure;

  if (!aero_config_group_get_size (group, "max-frame-payload", 64, 65535,
                                   AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD, &frame, error) ||
      !aero_config_group_get_size (group, "max-control-payload", 8, 4096,
                                   AERO_L2_DEFAULT_MAX_CONTROL_PAYLOAD, &control, error) ||
      !aero_config_group_get_int (group, "max-violations", 1, 1000000, 16, &violations, error) ||
      !aero_config_group_get_duration (group, "idle-timeout", 0, 24 * HOUR_MS, 60 * 1000,
                                       &c->tunnel.idle_timeout_ms, error) ||
      !aero_config_group_get_size (group, "send-queue", 4 * KIB, 64 * MIB, 256 * KIB, &send_queue,
                                   error) ||
      !aero_config_group_get_int (group, "backpressure-limit", 1, 100000000, 1024, &backpressure,
                                  error) ||
      !aero_config_group_get_duration (group, "close-timeout", 100, 60 * 1000, 2000,
                                       &c->tunnel.close_timeout_ms, error))
    return FALSE;

  c->tunnel.limits.max_frame_payload = (gsize) frame;
  c->tunnel.limits.max_control_payload = (gsize) control;
  c->tunnel.max_violations = (guint64) violations;
  c->tunnel.send_queue = send_queue;
  c->tunnel.backpressure_limit = (guint64) backpressure;

  /* A queue that cannot hold one largest frame would drop them all. */
  if (send_queue < ws_tunnel_wire_size (AERO_L2_HEADER_LEN + frame, TRUE))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "send-queue",
                               "must hold at least one largest frame (%" G_GSIZE_FORMAT " bytes "
                               "with max-frame-payload = %" G_GUINT64_FORMAT ")",
                               ws_tunnel_wire_size (AERO_L2_HEADER_LEN + frame, TRUE), frame);
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_server (WsConfig *c, AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) paths = NULL;

  if (!refuse_other_mode_keys (group, client_only_keys, "client", error))
    return FALSE;
  if (aero_config_group_has_key (group, "paths"))
    {
      paths = aero_config_group_get_string_list (group, "paths", FALSE, error);
      if (paths == NULL)
        return FALSE;
    }
  else
    {
      paths = g_new0 (char *, 3);
      paths[0] = g_strdup ("/l2");
      paths[1] = g_strdup ("/eth");
    }
  if (paths[0] == NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "paths",
                               "expected at least one path");
      return FALSE;
    }
  for (guint i = 0; paths[i]; i++)
    {
      const char *p = paths[i];

      if (p[0] != '/' || strcmp (p, "/") == 0 || strpbrk (p, "?#%* \t") != NULL ||
          g_str_has_suffix (p, "/") || !g_utf8_validate (p, -1, NULL))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "paths",
                                   "expected absolute paths such as /l2 (no query, no trailing "
                                   "'/'), got '%s'", p);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (strcmp (paths[j], p) == 0)
          {
            aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "paths",
                                     "path '%s' is listed twice", p);
            return FALSE;
          }
      if (strcmp (p, "/healthz") == 0 || strcmp (p, "/readyz") == 0 || strcmp (p, "/metrics") == 0)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "paths",
                                   "'%s' belongs to the core", p);
          return FALSE;
        }
    }
  c->paths = g_steal_pointer (&paths);
  return TRUE;
}

static gboolean
load_client (WsConfig *c, AeroConfigGroup *group, GError **error)
{
  g_autofree char *url = NULL;
  g_autofree char *ca_file = NULL;
  g_autoptr (GError) local = NULL;
  const char *scheme;

  if (!refuse_other_mode_keys (group, server_only_keys, "server", error))
    return FALSE;

  url = aero_config_group_get_string (group, "url", NULL, TRUE, error);
  if (url == NULL)
    return FALSE;
  c->url = g_uri_parse (url, G_URI_FLAGS_ENCODED, &local);
  scheme = c->url ? g_uri_get_scheme (c->url) : NULL;
  if (c->url == NULL || scheme == NULL ||
      (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0) ||
      g_uri_get_host (c->url) == NULL || *g_uri_get_host (c->url) == '\0' ||
      g_uri_get_userinfo (c->url) != NULL || g_uri_get_fragment (c->url) != NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "url",
                               "expected ws://HOST[:PORT]/PATH or wss://..., got '%s'%s%s", url,
                               local ? ": " : "", local ? local->message : "");
      return FALSE;
    }

  if (!get_optional_string (group, "token", &c->token, error))
    return FALSE;
  if (c->token != NULL)
    {
      gboolean valid = *c->token != '\0';

      for (const char *p = c->token; *p && valid; p++)
        valid = is_token_char (*p);
      if (!valid)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "token",
                                   "expected a non-empty HTTP token (letters, digits and "
                                   "!#$%%&'*+-.^_`|~), since it travels as a subprotocol name");
          return FALSE;
        }
    }

  if (!get_optional_string (group, "origin", &c->origin, error))
    return FALSE;
  if (c->origin != NULL)
    {
      g_autoptr (GUri) origin = g_uri_parse (c->origin, G_URI_FLAGS_NONE, NULL);

      if (strcmp (c->origin, "null") != 0 &&
          (origin == NULL || g_uri_get_host (origin) == NULL ||
           (g_strcmp0 (g_uri_get_scheme (origin), "http") != 0 &&
            g_strcmp0 (g_uri_get_scheme (origin), "https") != 0)))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "origin",
                                   "expected an origin such as https://example.com, got '%s'",
                                   c->origin);
          return FALSE;
        }
    }

  if (!get_optional_string (group, "tls-ca", &ca_file, error))
    return FALSE;
  if (ca_file != NULL)
    {
      g_autoptr (GError) local_ca = NULL;

      if (g_ascii_strcasecmp (g_uri_get_scheme (c->url), "wss") != 0)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "tls-ca",
                                   "only used with a wss:// url");
          return FALSE;
        }
      c->tls_ca = g_tls_file_database_new (ca_file, &local_ca);
      if (c->tls_ca == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "tls-ca",
                                   "cannot load certificates from '%s': %s", ca_file,
                                   local_ca->message);
          return FALSE;
        }
    }

  if (!aero_config_group_get_duration (group, "keepalive", 0, HOUR_MS, 10 * 1000,
                                       &c->tunnel.keepalive_ms, error) ||
      !aero_config_group_get_duration (group, "reconnect-min", 10, HOUR_MS, 500,
                                       &c->reconnect_min_ms, error) ||
      !aero_config_group_get_duration (group, "reconnect-max", 10, 24 * HOUR_MS, 30 * 1000,
                                       &c->reconnect_max_ms, error) ||
      !aero_config_group_get_duration (group, "connect-timeout", 100, 5 * 60 * 1000, 10 * 1000,
                                       &c->connect_timeout_ms, error))
    return FALSE;
  if (c->tunnel.keepalive_ms != 0 && c->tunnel.keepalive_ms < 100)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "keepalive",
                               "expected 0 (off) or at least 100ms");
      return FALSE;
    }
  if (c->reconnect_max_ms < c->reconnect_min_ms)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "reconnect-max",
                               "must not be below reconnect-min");
      return FALSE;
    }
  return TRUE;
}

/**
 * ws_config_load:
 * @config: where the settings go
 * @group: the instance's group
 * @error: return location for a #GError (domain %AERO_CONFIG_ERROR)
 *
 * Returns: %TRUE when the group is valid.
 */
gboolean
ws_config_load (WsConfig *config, AeroConfigGroup *group, GError **error)
{
  static const char *const modes[] = { "server", "client", NULL };
  guint mode;

  if (!aero_config_group_get_enum (group, "mode", modes, 0, &mode, error))
    return FALSE;
  config->mode = mode == 1 ? WS_MODE_CLIENT : WS_MODE_SERVER;
  if (!load_common (config, group, error))
    return FALSE;
  return config->mode == WS_MODE_SERVER ? load_server (config, group, error)
                                        : load_client (config, group, error);
}
