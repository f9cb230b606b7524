/* aero-session-token.c — the aero_session cookie: `<payload>.<signature>`,
 * both base64url, the signature an HMAC-SHA256 over the base64url payload
 * string (see aero-token.h). */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "aero-base64url.h"
#include "aero-json-strict.h"
#include "aero-token.h"

gboolean
aero_token_sid_is_valid (const char *sid)
{
  gsize n;

  if (sid == NULL)
    return FALSE;
  n = strlen (sid);
  if (n == 0 || n > AERO_TOKEN_MAX_SID)
    return FALSE;
  for (gsize i = 0; i < n; i++)
    if (sid[i] < 0x21 || sid[i] > 0x7e)
      return FALSE;
  return TRUE;
}

/* Whether @node is a JSON number, and its value. */
static gboolean
json_number (JsonNode *node, double *out)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64)
    *out = (double) json_node_get_int (node);
  else if (type == G_TYPE_DOUBLE)
    *out = json_node_get_double (node);
  else
    return FALSE;
  return isfinite (*out);
}

AeroTokenResult
aero_session_token_verify (const char *token, const AeroSecret *secret, gint64 now_ms,
                           char **sid, gint64 *exp)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autofree guint8 *payload = NULL;
  g_autofree guint8 *signature = NULL;
  guint8 expected[AERO_HMAC_SHA256_LEN];
  const char *dot, *sig_text;
  gsize payload_chars, payload_len = 0, sig_len = 0;
  JsonObject *claims;
  JsonNode *node;
  double version, expiry;
  const char *id;

  if (token == NULL || secret == NULL)
    return AERO_TOKEN_MALFORMED;
  dot = strchr (token, '.');
  if (dot == NULL || strchr (dot + 1, '.') != NULL)
    return AERO_TOKEN_MALFORMED;
  payload_chars = dot - token;
  sig_text = dot + 1;
  if (payload_chars == 0 || strlen (sig_text) != AERO_TOKEN_SIGNATURE_CHARS)
    return AERO_TOKEN_MALFORMED;

  payload = aero_base64url_decode (token, payload_chars, AERO_TOKEN_MAX_PAYLOAD, &payload_len);
  signature = aero_base64url_decode (sig_text, AERO_TOKEN_SIGNATURE_CHARS, AERO_HMAC_SHA256_LEN,
                                     &sig_len);
  if (payload == NULL || payload_len == 0 || signature == NULL || sig_len != AERO_HMAC_SHA256_LEN)
    return AERO_TOKEN_MALFORMED;

  /* The signature covers the base64url text, and is checked before the
   * JSON is read. */
  aero_hmac_sha256 (secret, token, payload_chars, expected);
  if (!aero_memeq_constant_time (expected, signature, AERO_HMAC_SHA256_LEN))
    return AERO_TOKEN_BAD_SIGNATURE;

  if (!aero_json_is_strict_object ((const char *) payload, payload_len, 8))
    return AERO_TOKEN_MALFORMED;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) payload, (gssize) payload_len, NULL))
    return AERO_TOKEN_MALFORMED;
  node = json_parser_get_root (parser);
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return AERO_TOKEN_MALFORMED;
  claims = json_node_get_object (node);

  if (!json_number (json_object_get_member (claims, "v"), &version) || version != 1.0)
    return AERO_TOKEN_INVALID;
  node = json_object_get_member (claims, "sid");
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return AERO_TOKEN_INVALID;
  id = json_node_get_string (node);
  if (!aero_token_sid_is_valid (id))
    return AERO_TOKEN_INVALID;
  if (!json_number (json_object_get_member (claims, "exp"), &expiry) || expiry < 0 ||
      expiry > (double) G_MAXINT64 / 1000)
    return AERO_TOKEN_INVALID;
  if (expiry * 1000.0 <= (double) now_ms)
    return AERO_TOKEN_EXPIRED;

  if (sid)
    *sid = g_strdup (id);
  if (exp)
    *exp = (gint64) expiry;
  return AERO_TOKEN_OK;
}

char *
aero_session_token_issue (const char *sid, gint64 exp, const AeroSecret *secret)
{
  g_autoptr (JsonBuilder) builder = json_builder_new ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *json = NULL;
  g_autofree char *payload = NULL;
  g_autofree char *signature = NULL;
  guint8 mac[AERO_HMAC_SHA256_LEN];
  gsize len = 0;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "v");
  json_builder_add_int_value (builder, 1);
  json_builder_set_member_name (builder, "sid");
  json_builder_add_string_value (builder, sid);
  json_builder_set_member_name (builder, "exp");
  json_builder_add_int_value (builder, exp);
  json_builder_end_object (builder);
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  json = json_generator_to_data (generator, &len);

  payload = aero_base64url_encode ((const guint8 *) json, len);
  aero_hmac_sha256 (secret, payload, strlen (payload), mac);
  signature = aero_base64url_encode (mac, sizeof mac);
  return g_strconcat (payload, ".", signature, NULL);
}
