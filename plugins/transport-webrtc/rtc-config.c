/* rtc-config.c — reads and validates a transport-webrtc group (keys in the header). */
#include <string.h>

#include "rtc-config.h"
#include "rtc-udp-codec.h"

#define KIB 1024u
#define MIB (1024u * 1024u)
#define HOUR_MS (3600u * 1000u)
/* webrtcbin assumes 65536 and delivers bigger messages in pieces. */
#define MAX_MESSAGE_SIZE_LIMIT 65536u

RtcConfig *
rtc_config_new (void)
{
  return g_new0 (RtcConfig, 1);
}

void
rtc_config_free (RtcConfig *config)
{
  if (config == NULL)
    return;
  g_free (config->offer_path);
  g_free (config->signal_path);
  g_free (config->stun_server);
  g_strfreev (config->turn_servers);
  g_strfreev (config->ice_local_addresses);
  g_strfreev (config->filters);
  g_free (config);
}

static gboolean
is_core_path (const char *p)
{
  return strcmp (p, "/healthz") == 0 || strcmp (p, "/readyz") == 0 || strcmp (p, "/metrics") == 0;
}

/* Reads an endpoint path; "" turns the endpoint off (*out stays NULL). */
static gboolean
load_path (AeroConfigGroup *group, const char *key, const char *default_value, char **out,
           GError **error)
{
  g_autofree char *p = aero_config_group_get_string (group, key, default_value, FALSE, error);

  if (p == NULL)
    return FALSE;
  if (*p == '\0')
    return TRUE;
  if (p[0] != '/' || strcmp (p, "/") == 0 || strpbrk (p, "?#%* \t") != NULL ||
      g_str_has_suffix (p, "/") || !g_utf8_validate (p, -1, NULL))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected an absolute path such as %s (no query, no trailing "
                               "'/'), or \"\" to turn it off, got '%s'", default_value, p);
      return FALSE;
    }
  if (is_core_path (p))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "'%s' belongs to the core", p);
      return FALSE;
    }
  *out = g_steal_pointer (&p);
  return TRUE;
}

static gboolean
load_signalling (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  if (!load_path (group, "offer-path", "/webrtc/offer", &c->offer_path, error) ||
      !load_path (group, "signal-path", "/webrtc/signal", &c->signal_path, error))
    return FALSE;
  if (c->offer_path == NULL && c->signal_path == NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "signal-path",
                               "offer-path and signal-path are both off: no client could "
                               "ever connect");
      return FALSE;
    }
  if (c->offer_path && c->signal_path && strcmp (c->offer_path, c->signal_path) == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "signal-path",
                               "must differ from offer-path ('%s')", c->offer_path);
      return FALSE;
    }
  if (!aero_config_group_get_size (group, "signal-max-message", 4 * KIB, 1 * MIB, 64 * KIB,
                                   &c->signal_max_message, error) ||
      !aero_config_group_get_size (group, "signal-max-bytes", 4 * KIB, 64 * MIB, 1 * MIB,
                                   &c->signal_max_bytes, error))
    return FALSE;
  if (c->signal_max_bytes < c->signal_max_message)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "signal-max-bytes",
                               "must not be below signal-max-message");
      return FALSE;
    }
  return TRUE;
}

/* stun://HOST[:PORT], turn://USER:PASS@HOST[:PORT], turns://… as webrtcbin takes them. */
static gboolean
load_ice_servers (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) servers = aero_config_group_get_string_list (group, "ice-servers", FALSE, error);
  g_autoptr (GPtrArray) turn = g_ptr_array_new_with_free_func (g_free);

  if (servers == NULL)
    return FALSE;
  for (guint i = 0; servers[i]; i++)
    {
      const char *s = servers[i];
      g_autoptr (GUri) uri = g_uri_parse (s, G_URI_FLAGS_HAS_PASSWORD, NULL);
      const char *scheme = uri ? g_uri_get_scheme (uri) : NULL;
      const char *host = uri ? g_uri_get_host (uri) : NULL;
      gboolean stun = scheme && g_ascii_strcasecmp (scheme, "stun") == 0;
      gboolean turn_scheme = scheme && (g_ascii_strcasecmp (scheme, "turn") == 0 ||
                                        g_ascii_strcasecmp (scheme, "turns") == 0);

      if (uri == NULL || host == NULL || *host == '\0' || (!stun && !turn_scheme) ||
          (g_uri_get_path (uri) && *g_uri_get_path (uri) && strcmp (g_uri_get_path (uri), "/") != 0))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "ice-servers",
                                   "expected stun://HOST[:PORT], turn://USER:PASS@HOST[:PORT] "
                                   "or turns://USER:PASS@HOST[:PORT], got '%s'", s);
          return FALSE;
        }
      if (stun)
        {
          if (c->stun_server != NULL)
            {
              aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                       "ice-servers", "at most one stun:// server (webrtcbin "
                                       "uses one), got '%s' and '%s'", c->stun_server, s);
              return FALSE;
            }
          c->stun_server = g_strdup (s);
        }
      else
        {
          const char *user = g_uri_get_user (uri);
          const char *password = g_uri_get_password (uri);

          if (user == NULL || *user == '\0' || password == NULL)
            {
              aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                       "ice-servers", "a TURN server needs credentials: "
                                       "turn://USER:PASS@HOST[:PORT], got '%s://%s…'", scheme,
                                       host);
              return FALSE;
            }
          g_ptr_array_add (turn, g_strdup (s));
        }
    }
  g_ptr_array_add (turn, NULL);
  c->turn_servers = (char **) g_ptr_array_free (g_steal_pointer (&turn), FALSE);
  return TRUE;
}

static gboolean
load_ice (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  g_autofree char *range = NULL;
  g_autoptr (GError) local = NULL;

  if (!load_ice_servers (c, group, error))
    return FALSE;

  if (aero_config_group_has_key (group, "ice-local-addresses"))
    {
      g_auto (GStrv) addresses = aero_config_group_get_string_list (group, "ice-local-addresses",
                                                                    FALSE, error);

      if (addresses == NULL)
        return FALSE;
      if (addresses[0] == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                   "ice-local-addresses",
                                   "expected numeric addresses such as 127.0.0.1 (leave the key "
                                   "out for the automatic choice)");
          return FALSE;
        }
      for (guint i = 0; addresses[i]; i++)
        {
          g_autoptr (GInetAddress) a = g_inet_address_new_from_string (addresses[i]);

          if (a == NULL)
            {
              aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                       "ice-local-addresses",
                                       "expected numeric IPv4 or IPv6 addresses, got '%s'",
                                       addresses[i]);
              return FALSE;
            }
        }
      c->ice_local_addresses = g_steal_pointer (&addresses);
    }

  range = aero_config_group_get_string (group, "ice-port-range", NULL, FALSE, &local);
  if (local != NULL)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (range != NULL)
    {
      guint64 lo = 0, hi = 0;
      g_auto (GStrv) parts = g_strsplit (range, "-", 2);

      if (g_strv_length (parts) != 2 ||
          !g_ascii_string_to_unsigned (g_strstrip (parts[0]), 10, 1024, 65535, &lo, NULL) ||
          !g_ascii_string_to_unsigned (g_strstrip (parts[1]), 10, 1024, 65535, &hi, NULL) ||
          hi < lo)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "ice-port-range",
                                   "expected MIN-MAX with 1024 <= MIN <= MAX <= 65535, got '%s'",
                                   range);
          return FALSE;
        }
      c->ice_port_min = (guint) lo;
      c->ice_port_max = (guint) hi;
    }

  return aero_config_group_get_duration (group, "ice-gather-timeout", 100, 60 * 1000, 2000,
                                         &c->ice_gather_timeout_ms, error);
}

static gboolean
load_l2 (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  guint64 frame, control;
  gint64 violations, backpressure;
  RtcL2Options *o = &c->l2;

  if (!aero_config_group_get_size (group, "max-frame-payload", 64, 65535,
                                   AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD, &frame, error) ||
      !aero_config_group_get_size (group, "max-control-payload", 8, 4096,
                                   AERO_L2_DEFAULT_MAX_CONTROL_PAYLOAD, &control, error) ||
      !aero_config_group_get_int (group, "max-violations", 1, 1000000, 16, &violations, error) ||
      !aero_config_group_get_duration (group, "idle-timeout", 0, 24 * HOUR_MS, 60 * 1000,
                                       &o->idle_timeout_ms, error) ||
      !aero_config_group_get_size (group, "send-queue", 4 * KIB, 64 * MIB, 256 * KIB,
                                   &o->send_queue, error) ||
      !aero_config_group_get_int (group, "backpressure-limit", 1, 100000000, 1024, &backpressure,
                                  error) ||
      !aero_config_group_get_duration (group, "close-timeout", 100, 60 * 1000, 2000,
                                       &o->close_timeout_ms, error))
    return FALSE;
  o->limits.max_frame_payload = (gsize) frame;
  o->limits.max_control_payload = (gsize) control;
  o->max_violations = (guint64) violations;
  o->backpressure_limit = (guint64) backpressure;
  if (o->send_queue < aero_l2_max_message_size (&o->limits))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "send-queue",
                               "must hold at least one largest message (%" G_GSIZE_FORMAT
                               " bytes)", aero_l2_max_message_size (&o->limits));
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_udp (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  static const char *const modes[] = { "off", "policy", "open", NULL };
  guint mode;
  gint64 bindings, remotes;
  RtcUdpOptions *o = &c->udp;

  if (!aero_config_group_get_enum (group, "udp-relay", modes, 1, &mode, error) ||
      !aero_config_group_get_bool (group, "udp-full-cone", FALSE, &o->full_cone, error) ||
      !aero_config_group_get_size (group, "udp-max-payload", 1, 65507, 1200, &o->max_payload,
                                   error) ||
      !aero_config_group_get_int (group, "udp-max-bindings", 1, 65536, 64, &bindings, error) ||
      !aero_config_group_get_int (group, "udp-max-remotes", 1, 65536, 256, &remotes, error) ||
      !aero_config_group_get_duration (group, "udp-idle-timeout", 1000, 24 * HOUR_MS, 60 * 1000,
                                       &o->idle_timeout_ms, error))
    return FALSE;
  o->mode = (RtcUdpRelayMode) mode;
  o->max_bindings = (guint64) bindings;
  o->max_remotes = (guint64) remotes;
  o->send_queue = c->l2.send_queue;
  o->channel_idle_ms = c->l2.idle_timeout_ms;
  return TRUE;
}

/**
 * rtc_config_load:
 * @config: where the settings go
 * @group: the instance's group
 * @error: return location for a #GError (domain %AERO_CONFIG_ERROR)
 *
 * Returns: %TRUE when the group is valid.
 */
gboolean
rtc_config_load (RtcConfig *c, AeroConfigGroup *group, GError **error)
{
  gint64 peers;
  guint64 max_message, l2_message, udp_message;

  /* The core owns `filters`; it is read here only to find the policy. */
  c->filters = aero_config_group_get_string_list (group, "filters", FALSE, error);
  if (c->filters == NULL)
    return FALSE;

  if (!load_signalling (c, group, error) || !load_ice (c, group, error) ||
      !aero_config_group_get_int (group, "max-peers", 1, 100000, 100, &peers, error) ||
      !aero_config_group_get_duration (group, "connect-timeout", 500, 10 * 60 * 1000, 10 * 1000,
                                       &c->connect_timeout_ms, error) ||
      !aero_config_group_get_size (group, "max-message-size", 1 * KIB, MAX_MESSAGE_SIZE_LIMIT,
                                   MAX_MESSAGE_SIZE_LIMIT, &max_message, error) ||
      !load_l2 (c, group, error) || !load_udp (c, group, error))
    return FALSE;
  c->max_peers = (guint64) peers;

  l2_message = aero_l2_max_message_size (&c->l2.limits);
  if (max_message < l2_message)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "max-message-size",
                               "must hold the largest tunnel message, %" G_GUINT64_FORMAT
                               " bytes with these max-frame-payload and max-control-payload",
                               l2_message);
      return FALSE;
    }
  udp_message = RTC_UDP_MAX_HEADER_LEN + c->udp.max_payload;
  if (c->udp.mode != RTC_UDP_RELAY_OFF && max_message < udp_message)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "udp-max-payload",
                               "with its %u-byte header a datagram must fit max-message-size "
                               "(%" G_GUINT64_FORMAT "): at most %" G_GUINT64_FORMAT,
                               RTC_UDP_MAX_HEADER_LEN, max_message,
                               max_message - RTC_UDP_MAX_HEADER_LEN);
      return FALSE;
    }
  c->l2.max_message_size = max_message;
  c->udp.max_message_size = max_message;
  return TRUE;
}
