/* aero-jwt.c — HS256 JSON Web Tokens `<header>.<payload>.<signature>`
 * (see aero-token.h). Only HS256 is accepted, whatever the header asks
 * for, so no "alg": "none" or algorithm confusion is possible. */
#include <json-glib/json-glib.h>
#include <string.h>

#include "aero-base64url.h"
#include "aero-json-strict.h"
#include "aero-token.h"

void
aero_jwt_claims_clear (AeroJwtClaims *claims)
{
  g_clear_pointer (&claims->sid, g_free);
  g_clear_pointer (&claims->origin, g_free);
  g_clear_pointer (&claims->aud, g_free);
  g_clear_pointer (&claims->iss, g_free);
  claims->exp = claims->iat = 0;
}

/* Parses @len bytes of strict JSON holding one object. */
static JsonParser *
parse_object (const guint8 *data, gsize len, gsize max_depth)
{
  g_autoptr (JsonParser) parser = NULL;
  JsonNode *root;

  if (!aero_json_is_strict_object ((const char *) data, len, max_depth))
    return NULL;
  parser = json_parser_new ();
  if (!json_parser_load_from_data (parser, (const char *) data, (gssize) len, NULL))
    return NULL;
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    return NULL;
  return g_steal_pointer (&parser);
}

static gboolean
member_is_type (JsonObject *object, const char *name, GType type)
{
  JsonNode *node = json_object_get_member (object, name);

  return node != NULL && JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == type;
}

/* An optional string claim: absent is fine, anything but a string is not. */
static gboolean
optional_string (JsonObject *object, const char *name, const char **out)
{
  *out = NULL;
  if (!json_object_has_member (object, name))
    return TRUE;
  if (!member_is_type (object, name, G_TYPE_STRING))
    return FALSE;
  *out = json_object_get_string_member (object, name);
  return TRUE;
}

/* `aud`: a string or a non-empty list of strings. Sets *@first to the
 * first and *@found to whether @wanted is among them. */
static gboolean
read_audience (JsonObject *object, const char *wanted, const char **first, gboolean *found)
{
  JsonNode *node = json_object_get_member (object, "aud");
  JsonArray *list;

  *first = NULL;
  *found = FALSE;
  if (node == NULL)
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING)
    {
      *first = json_node_get_string (node);
      *found = wanted && strcmp (*first, wanted) == 0;
      return TRUE;
    }
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return FALSE;
  list = json_node_get_array (node);
  if (json_array_get_length (list) == 0)
    return FALSE;
  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonNode *item = json_array_get_element (list, i);
      const char *value;

      if (!JSON_NODE_HOLDS_VALUE (item) || json_node_get_value_type (item) != G_TYPE_STRING)
        return FALSE;
      value = json_node_get_string (item);
      if (i == 0)
        *first = value;
      if (wanted && strcmp (value, wanted) == 0)
        *found = TRUE;
    }
  return TRUE;
}

AeroTokenResult
aero_jwt_verify (const char *token, const AeroSecret *secret, gint64 now, const char *audience,
                 const char *issuer, AeroJwtClaims *claims)
{
  g_autoptr (JsonParser) header_parser = NULL;
  g_autoptr (JsonParser) payload_parser = NULL;
  g_autofree guint8 *header = NULL;
  g_autofree guint8 *payload = NULL;
  g_autofree guint8 *signature = NULL;
  guint8 expected[AERO_HMAC_SHA256_LEN];
  const char *dot1, *dot2, *sig_text;
  gsize header_chars, payload_chars, header_len = 0, payload_len = 0, sig_len = 0;
  JsonObject *h, *p;
  const char *sid, *origin, *aud, *iss;
  gboolean aud_found;
  gint64 exp, iat;

  if (token == NULL || secret == NULL)
    return AERO_TOKEN_MALFORMED;
  dot1 = strchr (token, '.');
  dot2 = dot1 ? strchr (dot1 + 1, '.') : NULL;
  if (dot2 == NULL || strchr (dot2 + 1, '.') != NULL)
    return AERO_TOKEN_MALFORMED;
  header_chars = dot1 - token;
  payload_chars = dot2 - dot1 - 1;
  sig_text = dot2 + 1;
  if (header_chars == 0 || payload_chars == 0 ||
      strlen (sig_text) != AERO_TOKEN_SIGNATURE_CHARS)
    return AERO_TOKEN_MALFORMED;

  header = aero_base64url_decode (token, header_chars, AERO_TOKEN_MAX_HEADER, &header_len);
  payload = aero_base64url_decode (dot1 + 1, payload_chars, AERO_TOKEN_MAX_PAYLOAD, &payload_len);
  signature = aero_base64url_decode (sig_text, AERO_TOKEN_SIGNATURE_CHARS, AERO_HMAC_SHA256_LEN,
                                     &sig_len);
  if (header == NULL || payload == NULL || signature == NULL || sig_len != AERO_HMAC_SHA256_LEN)
    return AERO_TOKEN_MALFORMED;

  aero_hmac_sha256 (secret, token, dot2 - token, expected);
  if (!aero_memeq_constant_time (expected, signature, AERO_HMAC_SHA256_LEN))
    return AERO_TOKEN_BAD_SIGNATURE;

  header_parser = parse_object (header, header_len, 4);
  payload_parser = parse_object (payload, payload_len, 8);
  if (header_parser == NULL || payload_parser == NULL)
    return AERO_TOKEN_MALFORMED;
  h = json_node_get_object (json_parser_get_root (header_parser));
  p = json_node_get_object (json_parser_get_root (payload_parser));

  if (!member_is_type (h, "alg", G_TYPE_STRING) ||
      strcmp (json_object_get_string_member (h, "alg"), "HS256") != 0)
    return AERO_TOKEN_INVALID;
  if (json_object_has_member (h, "typ") && !member_is_type (h, "typ", G_TYPE_STRING))
    return AERO_TOKEN_INVALID;

  if (!member_is_type (p, "sid", G_TYPE_STRING) || !member_is_type (p, "exp", G_TYPE_INT64) ||
      !member_is_type (p, "iat", G_TYPE_INT64))
    return AERO_TOKEN_INVALID;
  sid = json_object_get_string_member (p, "sid");
  exp = json_object_get_int_member (p, "exp");
  iat = json_object_get_int_member (p, "iat");
  if (!aero_token_sid_is_valid (sid))
    return AERO_TOKEN_INVALID;
  if (json_object_has_member (p, "nbf") && !member_is_type (p, "nbf", G_TYPE_INT64))
    return AERO_TOKEN_INVALID;
  if (!optional_string (p, "origin", &origin) || !optional_string (p, "iss", &iss) ||
      !read_audience (p, audience, &aud, &aud_found))
    return AERO_TOKEN_INVALID;
  if (exp <= now)
    return AERO_TOKEN_EXPIRED;
  if (json_object_has_member (p, "nbf") && json_object_get_int_member (p, "nbf") > now)
    return AERO_TOKEN_INVALID;
  if (audience && !aud_found)
    return AERO_TOKEN_INVALID;
  if (issuer && g_strcmp0 (iss, issuer) != 0)
    return AERO_TOKEN_INVALID;

  if (claims)
    {
      claims->sid = g_strdup (sid);
      claims->exp = exp;
      claims->iat = iat;
      claims->origin = g_strdup (origin);
      claims->aud = g_strdup (aud);
      claims->iss = g_strdup (iss);
    }
  return AERO_TOKEN_OK;
}
