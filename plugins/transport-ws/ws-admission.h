/* ws-admission.h — who may open a tunnel: the place for admission checks.
 *
 * The server asks ws_admission_check() about every upgrade request that
 * is a valid aero-l2-tunnel-v1 upgrade, before it opens a session, and
 * tells ws_admission_release() when an admitted tunnel has ended. Today
 * everyone is admitted. Origin checks (403), authentication with the
 * offered aero-l2-token.<credential> entries, cookies or JWTs (401), and
 * per-IP or per-principal quotas (429) belong here; the verdict's status
 * and text become the HTTP answer, and its principal is recorded on the
 * channel. */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _WsAdmission WsAdmission;

/**
 * WsAdmissionRequest:
 * @msg: the upgrade request (headers, remote address, URI)
 * @path: the request path
 * @peer: the client's address as "ip:port"
 * @tokens: credentials offered as aero-l2-token.<credential> subprotocol
 *   entries (never log them)
 *
 * What an admission check may look at.
 */
typedef struct {
  SoupServerMessage *msg;
  const char *path;
  const char *peer;
  const char *const *tokens;
} WsAdmissionRequest;

/**
 * WsAdmissionVerdict:
 * @status: 0 to admit, otherwise the HTTP status to refuse with (401, 403, 429)
 * @text: (nullable): the refusal's body text
 * @principal: (nullable): who the client is, when known
 *
 * The answer of an admission check; free the strings with
 * ws_admission_verdict_clear().
 */
typedef struct {
  guint status;
  char *text;
  char *principal;
} WsAdmissionVerdict;

WsAdmission *ws_admission_new (void);
void ws_admission_free (WsAdmission *admission);
void ws_admission_check (WsAdmission *admission, const WsAdmissionRequest *request,
                         WsAdmissionVerdict *verdict);
void ws_admission_release (WsAdmission *admission, const char *peer, const char *principal);
void ws_admission_verdict_clear (WsAdmissionVerdict *verdict);

G_END_DECLS
