/* aero-origin.h — the Origin header of ../shared/PROTOCOLS.md §6:
 * normalisation to `<scheme>://<host>[:port]` and the allow rules.
 * Private to libaero-net. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  AERO_ORIGIN_ALLOWED,
  AERO_ORIGIN_MISSING,
  AERO_ORIGIN_INVALID,
  AERO_ORIGIN_DENIED,
} AeroOriginResult;

/* Normalises an Origin header value: surrounding spaces trimmed; "null"
 * stays "null"; otherwise only http and https with a host, an optional
 * port 1-65535 and at most a "/" path, nothing else (no credentials,
 * query or fragment, no characters outside printable ASCII). Scheme and
 * host are lower-cased, default ports dropped, IPv4 addresses in any
 * WHATWG form (octal, hex, shorthand, one 32-bit number) written as four
 * decimals and IPv6 addresses in their canonical compressed form.
 *
 * Returns: (transfer full) (nullable): the normalised origin, or %NULL
 *   when @raw is not a valid origin. */
char *aero_origin_normalize (const char *raw);

/* Normalises an entry of an allow list: "*", "null" or an origin.
 * Returns %NULL for anything else. */
char *aero_origin_normalize_pattern (const char *entry);

/* Checks the raw Origin header @raw (nullable: missing) against
 * @allowed, a list of normalised patterns. An empty list allows only the
 * request's own host: the origin's host and port must be those of the
 * Host header @request_host (its port defaulting to the origin scheme's).
 * "*" allows any valid origin but not "null"; "null" must be listed.
 * *@normalized (optional) receives the normalised origin when @raw is
 * valid. */
AeroOriginResult aero_origin_check (const char *raw, const char *const *allowed,
                                    const char *request_host, char **normalized);

G_END_DECLS
