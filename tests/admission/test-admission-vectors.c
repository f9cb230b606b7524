/* test-admission-vectors.c — Origin normalisation and the allow rules, the
 * aero_session cookie and HS256 JWTs, against the vectors of the public
 * Aero clients.
 *
 * Reads from $AERO_VECTORS_DIR: origin.json (every `normalize` and `allow`
 * case), auth-tokens.json (every `sessionTokens` and `jwtTokens` case) and
 * the `aero_session` and `aero-udp-relay-jwt-hs256` sections of
 * aero-vectors-v2.json. Each valid token must verify with its claims; each
 * invalid one must be refused. Exits 77 (skipped) when the vectors are not
 * there. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "aero-origin.h"
#include "aero-token.h"

static JsonObject *origin_json;
static JsonObject *auth_json;
static JsonObject *v2_json;

static JsonObject *
load (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("%s: %s", path, error->message);
  return json_object_ref (json_node_get_object (json_parser_get_root (parser)));
}

static const char *
opt_string (JsonObject *o, const char *name)
{
  return json_object_has_member (o, name) ? json_object_get_string_member (o, name) : NULL;
}

static gboolean
expects_error (JsonObject *o)
{
  return json_object_has_member (o, "expectError") &&
         json_object_get_boolean_member (o, "expectError");
}

/* ---- Origin ------------------------------------------------------------------ */

static void
test_origin_normalize (void)
{
  JsonArray *cases = json_object_get_array_member (origin_json, "normalize");
  guint n = json_array_get_length (cases);

  g_assert_cmpuint (n, >, 40);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *name = json_object_get_string_member (c, "name");
      const char *raw = json_object_get_string_member (c, "rawOriginHeader");
      g_autofree char *got = aero_origin_normalize (raw);

      g_test_message ("normalize %s: '%s' -> %s", name, raw, got ? got : "(refused)");
      if (expects_error (c))
        g_assert_null (got);
      else
        g_assert_cmpstr (got, ==, json_object_get_string_member (c, "normalizedOrigin"));
    }
}

static void
test_origin_allow (void)
{
  JsonArray *cases = json_object_get_array_member (origin_json, "allow");
  guint n = json_array_get_length (cases);

  g_assert_cmpuint (n, >, 20);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      const char *name = json_object_get_string_member (c, "name");
      JsonArray *allowed = json_object_get_array_member (c, "allowedOrigins");
      g_autoptr (GPtrArray) patterns = g_ptr_array_new_with_free_func (g_free);
      AeroOriginResult result;
      gboolean want = json_object_get_boolean_member (c, "expectAllowed");

      for (guint j = 0; j < json_array_get_length (allowed); j++)
        {
          char *pattern = aero_origin_normalize_pattern (json_array_get_string_element (allowed, j));

          g_assert_nonnull (pattern);
          g_ptr_array_add (patterns, pattern);
        }
      g_ptr_array_add (patterns, NULL);
      result = aero_origin_check (json_object_get_string_member (c, "rawOriginHeader"),
                                  (const char *const *) patterns->pdata,
                                  json_object_get_string_member (c, "requestHost"), NULL);
      g_test_message ("allow %s: %s (want %s)", name,
                      result == AERO_ORIGIN_ALLOWED ? "allowed" : "refused",
                      want ? "allowed" : "refused");
      g_assert_cmpint (result == AERO_ORIGIN_ALLOWED, ==, want);
    }
}

/* ---- aero_session ----------------------------------------------------------------- */

static void
check_session_vector (const char *name, const char *token, const char *secret_text,
                      gint64 now_ms, gboolean want_ok, const char *want_sid, gint64 want_exp)
{
  g_autoptr (AeroSecret) secret = aero_secret_new (secret_text, strlen (secret_text));
  g_autofree char *sid = NULL;
  gint64 exp = 0;
  AeroTokenResult r = aero_session_token_verify (token, secret, now_ms, &sid, &exp);

  g_test_message ("session %s: result %d (want %s)", name, r, want_ok ? "ok" : "refused");
  if (!want_ok)
    {
      g_assert_cmpint (r, !=, AERO_TOKEN_OK);
      g_assert_null (sid);
      return;
    }
  g_assert_cmpint (r, ==, AERO_TOKEN_OK);
  g_assert_cmpstr (sid, ==, want_sid);
  g_assert_cmpint (exp, ==, want_exp);
}

static void
test_session_tokens (void)
{
  JsonObject *section = json_object_get_object_member (auth_json, "sessionTokens");
  JsonArray *cases = json_object_get_array_member (section, "vectors");
  guint n = json_array_get_length (cases);

  g_assert_cmpuint (n, >, 20);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);
      gboolean ok = !expects_error (c);

      check_session_vector (json_object_get_string_member (c, "name"),
                            json_object_get_string_member (c, "token"),
                            json_object_get_string_member (c, "secret"),
                            json_object_get_int_member (c, "nowMs"), ok, opt_string (c, "sid"),
                            ok ? json_object_get_int_member (c, "exp") : 0);
    }
}

static void
test_session_tokens_v2 (void)
{
  JsonObject *section = json_object_get_object_member (v2_json, "aero_session");
  JsonObject *tokens = json_object_get_object_member (section, "tokens");
  const char *secret = json_object_get_string_member (section, "secret");
  gint64 now_ms = json_object_get_int_member (section, "nowMs");
  g_autoptr (GList) names = json_object_get_members (tokens);

  g_assert_cmpuint (g_list_length (names), >=, 3);
  for (GList *l = names; l; l = l->next)
    {
      JsonObject *t = json_object_get_object_member (tokens, l->data);
      JsonObject *claims = json_object_get_object_member (t, "claims");
      gboolean ok = strcmp (l->data, "valid") == 0;

      g_assert_true (ok || strcmp (l->data, "expired") == 0 ||
                     strcmp (l->data, "badSignature") == 0);
      check_session_vector (l->data, json_object_get_string_member (t, "token"), secret, now_ms,
                            ok, json_object_get_string_member (claims, "sid"),
                            json_object_get_int_member (claims, "exp"));
    }
}

/* ---- JWT ------------------------------------------------------------------------------ */

static void
check_jwt_vector (const char *name, const char *token, const char *secret_text, gint64 now,
                  gboolean want_ok, JsonObject *want)
{
  g_autoptr (AeroSecret) secret = aero_secret_new (secret_text, strlen (secret_text));
  AeroJwtClaims claims = { 0 };
  AeroTokenResult r = aero_jwt_verify (token, secret, now, NULL, NULL, &claims);

  g_test_message ("jwt %s: result %d (want %s)", name, r, want_ok ? "ok" : "refused");
  if (!want_ok)
    {
      g_assert_cmpint (r, !=, AERO_TOKEN_OK);
      g_assert_null (claims.sid);
      return;
    }
  g_assert_cmpint (r, ==, AERO_TOKEN_OK);
  g_assert_cmpstr (claims.sid, ==, json_object_get_string_member (want, "sid"));
  g_assert_cmpint (claims.exp, ==, json_object_get_int_member (want, "exp"));
  g_assert_cmpint (claims.iat, ==, json_object_get_int_member (want, "iat"));
  g_assert_cmpstr (claims.origin, ==, opt_string (want, "origin"));
  g_assert_cmpstr (claims.aud, ==, opt_string (want, "aud"));
  g_assert_cmpstr (claims.iss, ==, opt_string (want, "iss"));
  aero_jwt_claims_clear (&claims);

  /* A configured audience and issuer must be carried. */
  if (opt_string (want, "aud"))
    {
      g_assert_cmpint (aero_jwt_verify (token, secret, now, opt_string (want, "aud"),
                                        opt_string (want, "iss"), NULL), ==, AERO_TOKEN_OK);
      g_assert_cmpint (aero_jwt_verify (token, secret, now, "another-audience", NULL, NULL), ==,
                       AERO_TOKEN_INVALID);
    }
  else
    g_assert_cmpint (aero_jwt_verify (token, secret, now, "aero-udp-relay", NULL, NULL), ==,
                     AERO_TOKEN_INVALID);
  if (opt_string (want, "iss"))
    g_assert_cmpint (aero_jwt_verify (token, secret, now, NULL, "another-issuer", NULL), ==,
                     AERO_TOKEN_INVALID);
}

static void
test_jwt_tokens (void)
{
  JsonObject *section = json_object_get_object_member (auth_json, "jwtTokens");
  JsonArray *cases = json_object_get_array_member (section, "vectors");
  guint n = json_array_get_length (cases);

  g_assert_cmpuint (n, >, 30);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *c = json_array_get_object_element (cases, i);

      check_jwt_vector (json_object_get_string_member (c, "name"),
                        json_object_get_string_member (c, "token"),
                        json_object_get_string_member (c, "secret"),
                        json_object_get_int_member (c, "nowSec"), !expects_error (c), c);
    }
}

static void
test_jwt_tokens_v2 (void)
{
  JsonObject *section = json_object_get_object_member (v2_json, "aero-udp-relay-jwt-hs256");
  JsonObject *tokens = json_object_get_object_member (section, "tokens");
  const char *secret = json_object_get_string_member (section, "secret");
  gint64 now = json_object_get_int_member (section, "nowUnix");
  g_autoptr (GList) names = json_object_get_members (tokens);

  g_assert_cmpuint (g_list_length (names), >=, 3);
  for (GList *l = names; l; l = l->next)
    {
      JsonObject *t = json_object_get_object_member (tokens, l->data);

      check_jwt_vector (l->data, json_object_get_string_member (t, "token"), secret, now,
                        strcmp (l->data, "valid") == 0,
                        json_object_get_object_member (t, "claims"));
    }
}

int
main (int argc, char **argv)
{
  const char *dir = g_getenv ("AERO_VECTORS_DIR");
  g_autofree char *origin_path = NULL;
  int ret;

  if (dir == NULL)
    dir = "../shared/vectors";
  origin_path = g_build_filename (dir, "origin.json", NULL);
  if (!g_file_test (origin_path, G_FILE_TEST_EXISTS))
    {
      g_printerr ("skipped: the vectors are not in %s (set AERO_VECTORS_DIR)\n", dir);
      return 77;
    }
  g_test_init (&argc, &argv, NULL);
  origin_json = load (dir, "origin.json");
  auth_json = load (dir, "auth-tokens.json");
  v2_json = load (dir, "aero-vectors-v2.json");

  g_test_add_func ("/origin/normalize", test_origin_normalize);
  g_test_add_func ("/origin/allow", test_origin_allow);
  g_test_add_func ("/session-token/auth-tokens", test_session_tokens);
  g_test_add_func ("/session-token/vectors-v2", test_session_tokens_v2);
  g_test_add_func ("/jwt/auth-tokens", test_jwt_tokens);
  g_test_add_func ("/jwt/vectors-v2", test_jwt_tokens_v2);
  ret = g_test_run ();
  json_object_unref (origin_json);
  json_object_unref (auth_json);
  json_object_unref (v2_json);
  return ret;
}
