/* aero-session-endpoint.c — POST /session (see aero-session-endpoint.h).
 *
 * The answer is 201 with
 *   Set-Cookie: aero_session=<token>; Path=/; Max-Age=<lifetime>; HttpOnly;
 *               SameSite=<…>[; Secure]
 * and a JSON body
 *   {"session": {"expiresAt": "<RFC 3339>"},
 *    "endpoints": {"l2": "/l2", …},
 *    "limits": {"l2": {…}, "session": {"maxTunnels": N, "bytesPerSecond": N,
 *                                       "framesPerSecond": N, "lifetimeSeconds": N}}}
 * The request's Origin is checked like a tunnel's; an allowed origin gets
 * the CORS headers that let a page read the answer and keep the cookie. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "aero-net/aero-admission.h"
#include "aero-base64url.h"
#include "aero-host-private.h"
#include "aero-secret.h"
#include "aero-session-endpoint.h"
#include "aero-token.h"

typedef struct {
  char *name;
  char *path;
  GVariant *limits; /* a{sv}, nullable */
} Endpoint;

struct _AeroSessionEndpoint
{
  GPtrArray *endpoints; /* Endpoint, in registration order */
  AeroHost *host;
  AeroAdmitter *admitter;
  AeroMetric *issued;
  AeroMetricFamily *refused;
};

static void
endpoint_free (gpointer data)
{
  Endpoint *e = data;

  g_free (e->name);
  g_free (e->path);
  g_clear_pointer (&e->limits, g_variant_unref);
  g_free (e);
}

AeroSessionEndpoint *
aero_session_endpoint_new (AeroMetrics *metrics)
{
  static const char *const reason_labels[] = { "reason", NULL };
  static const char *const reasons[] = { "origin_missing", "origin_invalid", "origin_denied",
                                         "method", NULL };
  AeroSessionEndpoint *self = g_new0 (AeroSessionEndpoint, 1);

  self->endpoints = g_ptr_array_new_with_free_func (endpoint_free);
  self->issued = aero_metrics_counter (metrics, "aero_session_cookies_issued_total",
                                       "aero_session cookies issued by POST /session.");
  self->refused = aero_metrics_family (metrics, "aero_session_requests_refused_total",
                                       AERO_METRIC_COUNTER,
                                       "POST /session requests refused, by reason.",
                                       reason_labels);
  for (guint i = 0; reasons[i]; i++)
    {
      const char *values[] = { reasons[i], NULL };

      aero_metric_family_series (self->refused, values);
    }
  return self;
}

void
aero_session_endpoint_free (AeroSessionEndpoint *self)
{
  if (self == NULL)
    return;
  g_ptr_array_unref (self->endpoints);
  g_free (self);
}

static Endpoint *
find (AeroSessionEndpoint *self, const char *name, guint *index)
{
  for (guint i = 0; i < self->endpoints->len; i++)
    {
      Endpoint *e = g_ptr_array_index (self->endpoints, i);

      if (strcmp (e->name, name) == 0)
        {
          if (index)
            *index = i;
          return e;
        }
    }
  return NULL;
}

void
aero_session_endpoint_add (AeroSessionEndpoint *self, const char *name, const char *path,
                           GVariant *limits)
{
  Endpoint *e;

  if (limits)
    g_variant_ref_sink (limits);
  if (find (self, name, NULL))
    {
      g_clear_pointer (&limits, g_variant_unref);
      return;
    }
  e = g_new0 (Endpoint, 1);
  e->name = g_strdup (name);
  e->path = g_strdup (path);
  e->limits = limits;
  g_ptr_array_add (self->endpoints, e);
}

void
aero_session_endpoint_remove (AeroSessionEndpoint *self, const char *name)
{
  guint index;

  if (find (self, name, &index))
    g_ptr_array_remove_index (self->endpoints, index);
}

/* ---- the answer ----------------------------------------------------------------- */

static void
add_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

/* An a{sv} of integers (other values are skipped) as a JSON object. */
static void
add_limits (JsonBuilder *b, GVariant *limits)
{
  GVariantIter iter;
  const char *key;
  GVariant *value;

  json_builder_begin_object (b);
  g_variant_iter_init (&iter, limits);
  while (g_variant_iter_next (&iter, "{&sv}", &key, &value))
    {
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT64))
        add_int (b, key, g_variant_get_int64 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT64))
        add_int (b, key, (gint64) MIN (g_variant_get_uint64 (value), (guint64) G_MAXINT64));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_INT32))
        add_int (b, key, g_variant_get_int32 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_UINT32))
        add_int (b, key, g_variant_get_uint32 (value));
      else if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        {
          json_builder_set_member_name (b, key);
          json_builder_add_boolean_value (b, g_variant_get_boolean (value));
        }
      g_variant_unref (value);
    }
  json_builder_end_object (b);
}

static char *
build_body (AeroSessionEndpoint *self, gint64 exp, gsize *len)
{
  const AeroAdmissionConfig *c = aero_admitter_get_config (self->admitter);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (GDateTime) expires = g_date_time_new_from_unix_utc (exp);
  g_autofree char *expires_text = g_date_time_format (expires, "%Y-%m-%dT%H:%M:%SZ");

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "expiresAt");
  json_builder_add_string_value (b, expires_text);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "endpoints");
  json_builder_begin_object (b);
  for (guint i = 0; i < self->endpoints->len; i++)
    {
      Endpoint *e = g_ptr_array_index (self->endpoints, i);

      json_builder_set_member_name (b, e->name);
      json_builder_add_string_value (b, e->path);
    }
  json_builder_end_object (b);

  json_builder_set_member_name (b, "limits");
  json_builder_begin_object (b);
  for (guint i = 0; i < self->endpoints->len; i++)
    {
      Endpoint *e = g_ptr_array_index (self->endpoints, i);

      if (e->limits == NULL || strcmp (e->name, "session") == 0)
        continue;
      json_builder_set_member_name (b, e->name);
      add_limits (b, e->limits);
    }
  json_builder_set_member_name (b, "session");
  json_builder_begin_object (b);
  add_int (b, "maxTunnels", c->max_tunnels_per_session);
  add_int (b, "bytesPerSecond", (gint64) c->limits.bytes_per_second);
  add_int (b, "framesPerSecond", (gint64) c->limits.frames_per_second);
  add_int (b, "lifetimeSeconds", (gint64) c->session_lifetime);
  json_builder_end_object (b);
  json_builder_end_object (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

static void
set_cors (SoupMessageHeaders *headers, const char *origin)
{
  soup_message_headers_replace (headers, "Vary", "Origin");
  if (origin == NULL || strcmp (origin, "null") == 0)
    return;
  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
  soup_message_headers_replace (headers, "Access-Control-Allow-Credentials", "true");
}

static void
refuse (AeroSessionEndpoint *self, SoupServerMessage *msg, guint status, const char *reason,
        const char *text)
{
  const char *values[] = { reason, NULL };
  char *body = g_strdup_printf ("%s\n", text);

  aero_metric_inc (aero_metric_family_series (self->refused, values));
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Cache-Control",
                                "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_TAKE, body,
                                    strlen (body));
  aero_host_log_access (self->host, msg, NULL, status, reason);
}

static void
session_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  AeroSessionEndpoint *self = data;
  const AeroAdmissionConfig *c = aero_admitter_get_config (self->admitter);
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  const char *method = soup_server_message_get_method (msg);
  static const char *const same_site[] = { "Strict", "Lax", "None" };
  g_autofree char *origin = NULL;
  g_autofree char *sid = NULL;
  g_autofree char *token = NULL;
  g_autofree char *cookie = NULL;
  AeroAdmissionVerdict v;
  guint8 raw[16];
  gint64 exp;
  char *body;
  gsize len = 0;

  if (strcmp (path, "/session") != 0)
    {
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, NULL);
      return;
    }
  if (method != SOUP_METHOD_POST && method != SOUP_METHOD_OPTIONS)
    {
      soup_message_headers_replace (headers, "Allow", "POST, OPTIONS");
      refuse (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, "method",
              "a session is created with POST /session");
      return;
    }
  v = aero_admitter_check_origin (self->admitter, soup_server_message_get_request_headers (msg),
                                  &origin);
  if (v != AERO_ADMISSION_ADMITTED)
    {
      refuse (self, msg, SOUP_STATUS_FORBIDDEN, aero_admission_verdict_to_string (v),
              v == AERO_ADMISSION_ORIGIN_MISSING ? "Origin header required"
                                                 : "Origin not allowed");
      return;
    }
  set_cors (headers, origin);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  if (method == SOUP_METHOD_OPTIONS)
    {
      /* A CORS preflight from an allowed origin. */
      soup_message_headers_replace (headers, "Access-Control-Allow-Methods", "POST");
      soup_message_headers_replace (headers, "Access-Control-Allow-Headers", "Content-Type");
      soup_message_headers_replace (headers, "Access-Control-Max-Age", "600");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
      return;
    }

  aero_random_bytes (raw, sizeof raw);
  sid = aero_base64url_encode (raw, sizeof raw);
  exp = g_get_real_time () / G_USEC_PER_SEC + (gint64) c->session_lifetime;
  token = aero_session_token_issue (sid, exp, c->session_secret);
  cookie = g_strdup_printf ("aero_session=%s; Path=/; Max-Age=%" G_GUINT64_FORMAT
                            "; HttpOnly; SameSite=%s%s",
                            token, c->session_lifetime, same_site[c->same_site],
                            c->cookie_secure ? "; Secure" : "");
  soup_message_headers_append (headers, "Set-Cookie", cookie);
  body = build_body (self, exp, &len);
  soup_server_message_set_status (msg, SOUP_STATUS_CREATED, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, len);
  aero_metric_inc (self->issued);
  {
    AeroAdmission logged = { 0 };

    logged.origin = origin;
    logged.session_id = sid;
    aero_host_log_access (self->host, msg, &logged, SOUP_STATUS_CREATED, "session_issued");
  }
}

void
aero_session_endpoint_serve (AeroSessionEndpoint *self, SoupServer *server, AeroHost *host,
                             AeroAdmitter *admitter)
{
  self->host = host;
  self->admitter = admitter;
  if (aero_auth_mode_uses_session (aero_admitter_get_config (admitter)->auth))
    soup_server_add_handler (server, "/session", session_cb, self, NULL);
}

/* ---- the public directory ---------------------------------------------------------- */

void
aero_host_add_endpoint (AeroHost *host, const char *name, const char *path, GVariant *limits)
{
  g_return_if_fail (AERO_IS_HOST (host));
  g_return_if_fail (name != NULL && path != NULL);
  g_return_if_fail (limits == NULL || g_variant_is_of_type (limits, G_VARIANT_TYPE_VARDICT));
  aero_session_endpoint_add (aero_host_get_session_endpoint (host), name, path, limits);
}

void
aero_host_remove_endpoint (AeroHost *host, const char *name)
{
  g_return_if_fail (AERO_IS_HOST (host));
  g_return_if_fail (name != NULL);
  aero_session_endpoint_remove (aero_host_get_session_endpoint (host), name);
}
