/* rtc-json.h — members of a client's JSON read with their types checked.
 *
 * json-glib's own getters assert the node type (a GLib critical for every
 * request that puts an object where a string belongs) and answer NULL or 0
 * for a value of another type; these answer "absent or wrong" instead, for
 * the caller to refuse. */
#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

const char *rtc_json_get_string (JsonObject *object, const char *member);
gboolean rtc_json_get_int (JsonObject *object, const char *member, gint64 *value);

G_END_DECLS
