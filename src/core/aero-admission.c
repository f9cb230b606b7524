/* aero-admission.c — the admission checks every transport asks for: the
 * Origin allow list, credentials as the `auth` mode says, and the tunnel
 * quotas (see aero-admission.h). Credentials are read from the places of
 * ../shared/PROTOCOLS.md §5 only; shared secrets are compared in constant
 * time; nothing secret is copied into the answer or logged. */
#include <string.h>

#include "aero-admitter.h"
#include "aero-host-private.h"
#include "aero-net/aero-l2-tunnel.h"
#include "aero-net/aero-log.h"
#include "aero-origin.h"
#include "aero-token.h"

#define COMPONENT "admission"

/* More credentials than this in one request are refused as malformed: a
 * client gets a bounded number of guesses per request. */
#define MAX_CREDENTIALS 8
#define MAX_CREDENTIAL_LEN (32 * 1024)

#define N_VERDICTS (AERO_ADMISSION_QUOTA_SESSION_TUNNELS + 1)

static const struct {
  const char *name;
  guint status;
  guint16 error_code;
  const char *message;
} verdicts[N_VERDICTS] = {
  [AERO_ADMISSION_ADMITTED] = { "admitted", 0, 0, "admitted" },
  [AERO_ADMISSION_ORIGIN_MISSING] = { "origin_missing", 403, AERO_L2_ERROR_ORIGIN_MISSING,
                                      "Origin header required" },
  [AERO_ADMISSION_ORIGIN_INVALID] = { "origin_invalid", 403, AERO_L2_ERROR_ORIGIN_DENIED,
                                      "Origin header is not a valid origin" },
  [AERO_ADMISSION_ORIGIN_DENIED] = { "origin_denied", 403, AERO_L2_ERROR_ORIGIN_DENIED,
                                     "Origin not allowed" },
  [AERO_ADMISSION_AUTH_MISSING] = { "auth_missing", 401, AERO_L2_ERROR_AUTH_REQUIRED,
                                    "authentication required" },
  [AERO_ADMISSION_AUTH_MALFORMED] = { "auth_malformed", 401, AERO_L2_ERROR_AUTH_INVALID,
                                      "malformed credentials" },
  [AERO_ADMISSION_AUTH_INVALID] = { "auth_invalid", 401, AERO_L2_ERROR_AUTH_INVALID,
                                    "invalid credentials" },
  [AERO_ADMISSION_AUTH_EXPIRED] = { "auth_expired", 401, AERO_L2_ERROR_AUTH_INVALID,
                                    "expired credentials" },
  [AERO_ADMISSION_QUOTA_TUNNELS] = { "quota_tunnels", 429, AERO_L2_ERROR_QUOTA_CONNECTIONS,
                                     "too many tunnels" },
  [AERO_ADMISSION_QUOTA_SESSION_TUNNELS] = { "quota_session_tunnels", 429,
                                             AERO_L2_ERROR_QUOTA_CONNECTIONS,
                                             "too many tunnels for this session" },
};

static const char *const limit_names[] = {
  "max_tunnels", "max_tunnels_per_session", "bytes_per_second", "bytes_burst",
  "frames_per_second", "frames_burst", "session_lifetime_seconds",
};

struct _AeroAdmitter
{
  AeroAdmissionConfig *config;
  guint active;
  GHashTable *per_session; /* session id -> tunnels (GUINT_TO_POINTER) */

  AeroMetric *admitted;
  AeroMetric *refused[N_VERDICTS];
  AeroMetric *active_gauge;
  AeroMetric *limits[G_N_ELEMENTS (limit_names)];
};

/* ---- the admitter ---------------------------------------------------------- */

AeroAdmitter *
aero_admitter_new (AeroMetrics *metrics)
{
  static const char *const reason_labels[] = { "reason", NULL };
  static const char *const limit_labels[] = { "limit", NULL };
  AeroAdmitter *self = g_new0 (AeroAdmitter, 1);
  AeroMetricFamily *refused, *limits;

  self->per_session = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->admitted = aero_metrics_counter (metrics, "aero_admission_admitted_total",
                                         "Tunnel requests that passed the admission checks.");
  refused = aero_metrics_family (metrics, "aero_admission_refused_total", AERO_METRIC_COUNTER,
                                 "Tunnel requests refused by the admission checks, by reason "
                                 "(origin_*: 403, auth_*: 401, quota_*: 429).",
                                 reason_labels);
  for (guint v = 1; v < N_VERDICTS; v++)
    {
      const char *values[] = { verdicts[v].name, NULL };

      self->refused[v] = aero_metric_family_series (refused, values);
    }
  self->active_gauge = aero_metrics_gauge (metrics, "aero_admission_tunnels_active",
                                           "Admitted tunnels holding a place in the quotas.");
  limits = aero_metrics_family (metrics, "aero_admission_limit", AERO_METRIC_GAUGE,
                                "Configured admission quotas and per-tunnel rate limits "
                                "(0: no limit).",
                                limit_labels);
  for (guint i = 0; i < G_N_ELEMENTS (limit_names); i++)
    {
      const char *values[] = { limit_names[i], NULL };

      self->limits[i] = aero_metric_family_series (limits, values);
    }
  aero_admitter_set_config (self, aero_admission_config_new ());
  return self;
}

void
aero_admitter_free (AeroAdmitter *admitter)
{
  if (admitter == NULL)
    return;
  aero_admission_config_free (admitter->config);
  g_hash_table_unref (admitter->per_session);
  g_free (admitter);
}

void
aero_admitter_set_config (AeroAdmitter *admitter, AeroAdmissionConfig *config)
{
  const AeroTunnelLimits *l = &config->limits;
  const double values[] = {
    config->max_tunnels, config->max_tunnels_per_session,
    l->bytes_per_second, l->bytes_per_second > 0 ? l->bytes_burst : 0,
    l->frames_per_second, l->frames_per_second > 0 ? l->frames_burst : 0,
    aero_auth_mode_uses_session (config->auth) ? (double) config->session_lifetime : 0,
  };

  aero_admission_config_free (admitter->config);
  admitter->config = config;
  for (guint i = 0; i < G_N_ELEMENTS (limit_names); i++)
    aero_metric_set (admitter->limits[i], values[i]);
}

const AeroAdmissionConfig *
aero_admitter_get_config (AeroAdmitter *admitter)
{
  return admitter->config;
}

void
aero_admitter_log_config (AeroAdmitter *admitter)
{
  const AeroAdmissionConfig *c = admitter->config;
  g_autofree char *origins = c->origins[0] ? g_strjoinv (" ", c->origins)
                                           : g_strdup ("(the request's own host)");
  char tunnels[64];

  g_snprintf (tunnels, sizeof tunnels, "%u/%u", c->max_tunnels, c->max_tunnels_per_session);
  AERO_LOG_INFO (COMPONENT, "auth", aero_auth_mode_to_string (c->auth), "origins",
                 c->open ? "(open mode)" : origins, "max_tunnels", tunnels, "MESSAGE",
                 "admission: auth %s, origins %s", aero_auth_mode_to_string (c->auth),
                 c->open ? "not checked (open mode)" : origins);
  if (c->open)
    AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                      "OPEN MODE: the Origin of tunnel requests is not checked; development "
                      "only ([admission] open = true)");
  if (c->auth == AERO_AUTH_NONE)
    AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                      "NO AUTHENTICATION: anyone who reaches this server may open tunnels; "
                      "development only ([admission] auth = none)");
}

AeroAdmissionVerdict
aero_admitter_check_origin (AeroAdmitter *admitter, SoupMessageHeaders *headers,
                            char **normalized)
{
  /* A repeated Origin or Host header reads as a list, which is never a
   * valid origin or host. */
  const char *origin = soup_message_headers_get_list (headers, "Origin");
  const char *host = soup_message_headers_get_list (headers, "Host");
  AeroOriginResult result;

  result = aero_origin_check (origin, (const char *const *) admitter->config->origins, host,
                              normalized);
  if (admitter->config->open)
    return AERO_ADMISSION_ADMITTED;
  switch (result)
    {
    case AERO_ORIGIN_ALLOWED: return AERO_ADMISSION_ADMITTED;
    case AERO_ORIGIN_MISSING: return AERO_ADMISSION_ORIGIN_MISSING;
    case AERO_ORIGIN_INVALID: return AERO_ADMISSION_ORIGIN_INVALID;
    case AERO_ORIGIN_DENIED:
    default: return AERO_ADMISSION_ORIGIN_DENIED;
    }
}

/* ---- credentials ------------------------------------------------------------ */

/* Where the credentials of one request are. */
typedef struct {
  GPtrArray *bearer;  /* subprotocol entries, ?token=, ?apiKey=, Authorization: Bearer */
  GPtrArray *cookies; /* aero_session values */
  guint n_token;      /* the first n_token of bearer are token-mode places */
  gboolean too_many;
} Credentials;

static void
add_credential (Credentials *creds, GPtrArray *list, const char *value, gsize len)
{
  if (creds->bearer->len + creds->cookies->len >= MAX_CREDENTIALS || len > MAX_CREDENTIAL_LEN)
    {
      creds->too_many = TRUE;
      return;
    }
  g_ptr_array_add (list, g_strndup (value, len));
}

static void
collect_cookies (Credentials *creds, SoupMessageHeaders *headers)
{
  const char *value = soup_message_headers_get_list (headers, "Cookie");
  const char *p = value;

  while (p && *p)
    {
      const char *end = p + strcspn (p, ";,");
      const char *name = p, *eq;

      while (name < end && (*name == ' ' || *name == '\t'))
        name++;
      eq = memchr (name, '=', end - name);
      if (eq && eq - name == 12 && memcmp (name, "aero_session", 12) == 0)
        {
          const char *v = eq + 1, *v_end = end;

          while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
          if (v_end - v >= 2 && *v == '"' && v_end[-1] == '"')
            {
              v++;
              v_end--;
            }
          add_credential (creds, creds->cookies, v, v_end - v);
        }
      p = *end ? end + 1 : end;
    }
}

static void
collect (Credentials *creds, const AeroHttpRequest *request, const char *const *offered)
{
  SoupMessageHeaders *headers = request->headers;
  const char *query = request->query;
  const char *authorization = soup_message_headers_get_list (headers, "Authorization");

  creds->bearer = g_ptr_array_new_with_free_func (g_free);
  creds->cookies = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; offered && offered[i]; i++)
    add_credential (creds, creds->bearer, offered[i], strlen (offered[i]));
  if (query)
    {
      g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&", G_URI_PARAMS_NONE, NULL);
      const char *token = params ? g_hash_table_lookup (params, "token") : NULL;
      const char *api_key = params ? g_hash_table_lookup (params, "apiKey") : NULL;

      if (params == NULL)
        creds->too_many = TRUE; /* a query that cannot be decoded */
      if (token)
        add_credential (creds, creds->bearer, token, strlen (token));
      if (api_key)
        add_credential (creds, creds->bearer, api_key, strlen (api_key));
    }
  creds->n_token = creds->bearer->len;
  if (authorization && g_ascii_strncasecmp (authorization, "Bearer ", 7) == 0)
    {
      const char *v = authorization + 7;

      while (*v == ' ')
        v++;
      add_credential (creds, creds->bearer, v, strlen (v));
    }
  collect_cookies (creds, headers);
}

static void
credentials_clear (Credentials *creds)
{
  g_clear_pointer (&creds->bearer, g_ptr_array_unref);
  g_clear_pointer (&creds->cookies, g_ptr_array_unref);
}

static AeroAdmissionVerdict
verdict_of_token_result (AeroTokenResult result)
{
  switch (result)
    {
    case AERO_TOKEN_OK: return AERO_ADMISSION_ADMITTED;
    case AERO_TOKEN_MALFORMED: return AERO_ADMISSION_AUTH_MALFORMED;
    case AERO_TOKEN_EXPIRED: return AERO_ADMISSION_AUTH_EXPIRED;
    case AERO_TOKEN_BAD_SIGNATURE:
    case AERO_TOKEN_INVALID:
    default: return AERO_ADMISSION_AUTH_INVALID;
    }
}

/* The shared token, from the token-mode places only. */
static AeroAdmissionVerdict
check_token (const AeroAdmissionConfig *c, const Credentials *creds)
{
  gboolean match = FALSE;

  if (creds->n_token == 0)
    return AERO_ADMISSION_AUTH_MISSING;
  /* Every candidate is compared, so the time does not say which matched. */
  for (guint i = 0; i < creds->n_token; i++)
    {
      const char *candidate = g_ptr_array_index (creds->bearer, i);

      match |= aero_secret_equals (c->token, candidate, strlen (candidate));
    }
  return match ? AERO_ADMISSION_ADMITTED : AERO_ADMISSION_AUTH_INVALID;
}

static AeroAdmissionVerdict
check_session (const AeroAdmissionConfig *c, const Credentials *creds, char **sid)
{
  AeroAdmissionVerdict first = AERO_ADMISSION_AUTH_MISSING;
  gint64 now_ms = g_get_real_time () / 1000;

  for (guint i = 0; i < creds->cookies->len; i++)
    {
      AeroTokenResult r = aero_session_token_verify (g_ptr_array_index (creds->cookies, i),
                                                     c->session_secret, now_ms, sid, NULL);

      if (r == AERO_TOKEN_OK)
        return AERO_ADMISSION_ADMITTED;
      if (first == AERO_ADMISSION_AUTH_MISSING)
        first = verdict_of_token_result (r);
    }
  return first;
}

static AeroAdmissionVerdict
check_jwt (const AeroAdmissionConfig *c, const Credentials *creds, const char *origin,
           char **sid)
{
  AeroAdmissionVerdict first = AERO_ADMISSION_AUTH_MISSING;
  gint64 now = g_get_real_time () / G_USEC_PER_SEC;

  /* Any bearer place may hold the JWT. */
  for (guint i = 0; i < creds->bearer->len; i++)
    {
      const char *candidate = g_ptr_array_index (creds->bearer, i);
      AeroJwtClaims claims = { 0 };
      AeroTokenResult r;

      r = aero_jwt_verify (candidate, c->jwt_secret, now, c->jwt_audience, c->jwt_issuer, &claims);
      if (r == AERO_TOKEN_OK && claims.origin && origin)
        {
          /* A token bound to an origin is valid only from that origin. */
          g_autofree char *bound = aero_origin_normalize (claims.origin);

          if (g_strcmp0 (bound, origin) != 0)
            r = AERO_TOKEN_INVALID;
        }
      if (r == AERO_TOKEN_OK)
        {
          *sid = g_steal_pointer (&claims.sid);
          aero_jwt_claims_clear (&claims);
          return AERO_ADMISSION_ADMITTED;
        }
      aero_jwt_claims_clear (&claims);
      if (first == AERO_ADMISSION_AUTH_MISSING)
        first = verdict_of_token_result (r);
    }
  return first;
}

/* Combines two checks of an "or" mode: either passing admits; otherwise
 * the first failure that is not a missing credential is reported. */
static AeroAdmissionVerdict
either (AeroAdmissionVerdict a, AeroAdmissionVerdict b)
{
  if (a == AERO_ADMISSION_ADMITTED || b == AERO_ADMISSION_ADMITTED)
    return AERO_ADMISSION_ADMITTED;
  return a != AERO_ADMISSION_AUTH_MISSING ? a : b;
}

static AeroAdmissionVerdict
check_credentials (const AeroAdmissionConfig *c, const AeroHttpRequest *request,
                   const char *const *offered, AeroAdmission *out)
{
  Credentials creds = { 0 };
  AeroAdmissionVerdict v, s;
  g_autofree char *sid = NULL;
  const char *kind = NULL;

  if (c->auth == AERO_AUTH_NONE)
    return AERO_ADMISSION_ADMITTED;
  collect (&creds, request, offered);
  if (creds.too_many)
    {
      credentials_clear (&creds);
      return AERO_ADMISSION_AUTH_MALFORMED;
    }

  switch (c->auth)
    {
    case AERO_AUTH_TOKEN:
      v = check_token (c, &creds);
      kind = "token";
      break;
    case AERO_AUTH_SESSION:
      v = check_session (c, &creds, &sid);
      kind = "session";
      break;
    case AERO_AUTH_JWT:
      v = check_jwt (c, &creds, out->origin, &sid);
      kind = "jwt";
      break;
    case AERO_AUTH_SESSION_OR_TOKEN:
      s = check_session (c, &creds, &sid);
      v = either (s, s == AERO_ADMISSION_ADMITTED ? s : check_token (c, &creds));
      kind = s == AERO_ADMISSION_ADMITTED ? "session" : "token";
      break;
    case AERO_AUTH_SESSION_AND_TOKEN:
      s = check_session (c, &creds, &sid);
      v = s != AERO_ADMISSION_ADMITTED ? s : check_token (c, &creds);
      kind = "session";
      break;
    case AERO_AUTH_SESSION_OR_JWT:
      s = check_session (c, &creds, &sid);
      v = either (s, s == AERO_ADMISSION_ADMITTED ? s : check_jwt (c, &creds, out->origin, &sid));
      kind = s == AERO_ADMISSION_ADMITTED ? "session" : "jwt";
      break;
    case AERO_AUTH_NONE:
    default:
      v = AERO_ADMISSION_ADMITTED;
      break;
    }
  credentials_clear (&creds);
  if (v == AERO_ADMISSION_ADMITTED && kind)
    {
      out->principal = sid ? g_strdup_printf ("%s:%s", kind, sid) : g_strdup (kind);
      out->session_id = g_steal_pointer (&sid);
    }
  return v;
}

/* ---- quotas -------------------------------------------------------------------- */

static AeroAdmissionVerdict
reserve (AeroAdmitter *admitter, AeroAdmission *out)
{
  const AeroAdmissionConfig *c = admitter->config;
  guint per_session = 0;

  if (c->max_tunnels > 0 && admitter->active >= c->max_tunnels)
    return AERO_ADMISSION_QUOTA_TUNNELS;
  if (out->session_id)
    {
      per_session = GPOINTER_TO_UINT (g_hash_table_lookup (admitter->per_session, out->session_id));
      if (c->max_tunnels_per_session > 0 && per_session >= c->max_tunnels_per_session)
        return AERO_ADMISSION_QUOTA_SESSION_TUNNELS;
      g_hash_table_insert (admitter->per_session, g_strdup (out->session_id),
                           GUINT_TO_POINTER (per_session + 1));
    }
  admitter->active++;
  aero_metric_set (admitter->active_gauge, admitter->active);
  out->held = TRUE;
  return AERO_ADMISSION_ADMITTED;
}

void
aero_admission_release (AeroAdmission *admission)
{
  AeroAdmitter *admitter;

  g_return_if_fail (admission != NULL);
  if (!admission->held || admission->host == NULL)
    return;
  admission->held = FALSE;
  admitter = aero_host_get_admitter (admission->host);
  if (admitter->active > 0)
    admitter->active--;
  aero_metric_set (admitter->active_gauge, admitter->active);
  if (admission->session_id)
    {
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (admitter->per_session,
                                                       admission->session_id));

      if (n <= 1)
        g_hash_table_remove (admitter->per_session, admission->session_id);
      else
        g_hash_table_insert (admitter->per_session, g_strdup (admission->session_id),
                             GUINT_TO_POINTER (n - 1));
    }
}

void
aero_admission_clear (AeroAdmission *admission)
{
  g_return_if_fail (admission != NULL);
  aero_admission_release (admission);
  g_clear_pointer (&admission->principal, g_free);
  g_clear_pointer (&admission->session_id, g_free);
  g_clear_pointer (&admission->origin, g_free);
  memset (admission, 0, sizeof *admission);
}

/* ---- the public check ------------------------------------------------------------ */

const char *
aero_admission_verdict_to_string (AeroAdmissionVerdict verdict)
{
  return (guint) verdict < N_VERDICTS ? verdicts[verdict].name : "unknown";
}

AeroAdmissionVerdict
aero_host_admit (AeroHost *host, SoupServerMessage *msg, const char *const *offered_credentials,
                 AeroAdmission *out)
{
  AeroHttpRequest request;

  g_return_val_if_fail (SOUP_IS_SERVER_MESSAGE (msg), AERO_ADMISSION_AUTH_INVALID);
  aero_http_request_init_from_message (&request, msg);
  return aero_host_admit_request (host, &request, offered_credentials, out);
}

AeroAdmissionVerdict
aero_host_admit_request (AeroHost *host, const AeroHttpRequest *request,
                         const char *const *offered_credentials, AeroAdmission *out)
{
  AeroAdmitter *admitter;
  AeroAdmissionVerdict v;

  g_return_val_if_fail (out != NULL, AERO_ADMISSION_AUTH_INVALID);
  memset (out, 0, sizeof *out);
  out->verdict = AERO_ADMISSION_AUTH_INVALID;
  out->status = verdicts[out->verdict].status;
  out->reason = verdicts[out->verdict].name;
  out->message = verdicts[out->verdict].message;
  g_return_val_if_fail (AERO_IS_HOST (host), AERO_ADMISSION_AUTH_INVALID);
  g_return_val_if_fail (request != NULL && request->headers != NULL, AERO_ADMISSION_AUTH_INVALID);

  admitter = aero_host_get_admitter (host);
  out->host = host;
  v = aero_admitter_check_origin (admitter, request->headers, &out->origin);
  if (v == AERO_ADMISSION_ADMITTED)
    v = check_credentials (admitter->config, request, offered_credentials, out);
  if (v == AERO_ADMISSION_ADMITTED)
    v = reserve (admitter, out);
  if (v != AERO_ADMISSION_ADMITTED)
    {
      g_clear_pointer (&out->principal, g_free);
      g_clear_pointer (&out->session_id, g_free);
    }

  out->verdict = v;
  out->status = verdicts[v].status;
  out->reason = verdicts[v].name;
  out->message = verdicts[v].message;
  out->error_code = verdicts[v].error_code;
  if (v == AERO_ADMISSION_ADMITTED)
    aero_metric_inc (admitter->admitted);
  else
    aero_metric_inc (admitter->refused[v]);
  return v;
}
