/* aero-base64url.h — strict base64url (RFC 4648 §5) without padding, as the
 * aero_session cookie and JWTs use it. Private to libaero-net. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The largest encoded length whose decoding is at most @decoded bytes. */
#define AERO_BASE64URL_ENCODED_LEN(decoded) (((gsize) (decoded) * 4 + 2) / 3)

/* Decodes the @len characters at @text. Refuses anything but the
 * canonical form: characters outside A-Z a-z 0-9 '-' '_' (padding
 * included), a length with len % 4 == 1, non-zero unused bits in the last
 * character, and results longer than @max_decoded bytes.
 *
 * Returns: (transfer full) (nullable): the bytes (NUL-terminated for
 *   convenience, the terminator not counted in @out_len), or %NULL. */
guint8 *aero_base64url_decode (const char *text, gsize len, gsize max_decoded, gsize *out_len);

/* Encodes @len bytes without padding. */
char *aero_base64url_encode (const guint8 *data, gsize len);

G_END_DECLS
