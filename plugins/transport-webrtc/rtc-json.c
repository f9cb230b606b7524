/* rtc-json.c — type-checked reads of client JSON (see the header). */
#include "rtc-json.h"

/* The member's node when it is a scalar of @type, else NULL. */
static JsonNode *
value_of_type (JsonObject *object, const char *member, GType type)
{
  JsonNode *node = object ? json_object_get_member (object, member) : NULL;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != type)
    return NULL;
  return node;
}

/**
 * rtc_json_get_string:
 * @object: (nullable): a JSON object from a client
 * @member: a member name
 *
 * Returns: (transfer none) (nullable): the member's string; %NULL when it
 * is absent or not a string.
 */
const char *
rtc_json_get_string (JsonObject *object, const char *member)
{
  JsonNode *node = value_of_type (object, member, G_TYPE_STRING);

  return node ? json_node_get_string (node) : NULL;
}

/**
 * rtc_json_get_int:
 * @object: (nullable): a JSON object from a client
 * @member: a member name
 * @value: (out): the member's value
 *
 * Returns: whether the member is present and an integer (not a fraction,
 * a string or a boolean); @value is left alone otherwise.
 */
gboolean
rtc_json_get_int (JsonObject *object, const char *member, gint64 *value)
{
  JsonNode *node = value_of_type (object, member, G_TYPE_INT64);

  if (node == NULL)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}
