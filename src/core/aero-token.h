/* aero-token.h — the two signed credentials of ../shared/PROTOCOLS.md §5:
 * the aero_session cookie (aero-session-token.c) and HS256 JWTs
 * (aero-jwt.c). Both are checked in the same order: shape and sizes,
 * strict base64url, the signature (in constant time), and only then the
 * JSON inside. Private to libaero-net. */
#pragma once

#include "aero-secret.h"

G_BEGIN_DECLS

/* Bounds of the parts, in decoded bytes. */
#define AERO_TOKEN_MAX_PAYLOAD (16 * 1024)
#define AERO_TOKEN_MAX_HEADER (4 * 1024)
/* A base64url HMAC-SHA256 is exactly this long. */
#define AERO_TOKEN_SIGNATURE_CHARS 43
/* Session ids are 1 to this many printable ASCII characters. */
#define AERO_TOKEN_MAX_SID 128

typedef enum {
  AERO_TOKEN_OK,
  AERO_TOKEN_MALFORMED,     /* shape, sizes, base64url or JSON */
  AERO_TOKEN_BAD_SIGNATURE, /* not signed with our secret */
  AERO_TOKEN_INVALID,       /* signed, but a claim is missing, mistyped or refused */
  AERO_TOKEN_EXPIRED,
} AeroTokenResult;

/* Checks an aero_session cookie value `<payload_b64url>.<sig_b64url>`
 * (payload `{"v":1,"sid":"…","exp":<unix s>}`) at @now_ms (Unix time in
 * milliseconds; exp * 1000 <= now is expired). On success *@sid and *@exp
 * (both optional) are set. */
AeroTokenResult aero_session_token_verify (const char *token, const AeroSecret *secret,
                                           gint64 now_ms, char **sid, gint64 *exp);

/* Makes a cookie value for @sid that expires at @exp (Unix seconds). */
char *aero_session_token_issue (const char *sid, gint64 exp, const AeroSecret *secret);

/* The claims of a verified JWT. */
typedef struct {
  char *sid;
  gint64 exp;
  gint64 iat;
  char *origin; /* nullable */
  char *aud;    /* nullable; the first audience when the claim is a list */
  char *iss;    /* nullable */
} AeroJwtClaims;

void aero_jwt_claims_clear (AeroJwtClaims *claims);

/* Checks an HS256 JWT at @now (Unix seconds): header `alg` HS256 (`typ`,
 * when present, a string); claims `sid` (non-empty string), `exp` and
 * `iat` (integers), optional `nbf` (integer, not in the future), `origin`,
 * `iss` (strings) and `aud` (a string or a list of strings). When
 * @audience or @issuer is given the token must carry it. exp <= now is
 * expired. On success fills @claims (optional; clear it afterwards). */
AeroTokenResult aero_jwt_verify (const char *token, const AeroSecret *secret, gint64 now,
                                 const char *audience, const char *issuer,
                                 AeroJwtClaims *claims);

/* Whether @sid is an acceptable session id. */
gboolean aero_token_sid_is_valid (const char *sid);

G_END_DECLS
