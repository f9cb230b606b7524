/* aero-json-strict.h — a strict RFC 8259 check for the small JSON documents
 * inside credentials. json-glib accepts more than JSON (single quotes,
 * trailing documents, silently clamped integers), and a signed token must
 * mean exactly one thing, so every document is checked here before
 * json-glib reads it. Private to libaero-net. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Whether the @len bytes at @data are one JSON object and nothing else
 * (surrounding whitespace aside): valid UTF-8, no control characters or
 * bad escapes in strings, numbers in the JSON grammar with integers that
 * fit in 64 bits, nesting at most @max_depth deep, and no member name
 * twice in the top-level object. */
gboolean aero_json_is_strict_object (const char *data, gsize len, guint max_depth);

G_END_DECLS
