/* ws-admission.h — who may open a tunnel: transport-ws asks the core.
 *
 * The server calls ws_admission_check() for every request that is a valid
 * aero-l2-tunnel-v1 upgrade, before it opens a session. The check is the
 * core's (aero_host_admit_request(): Origin 403, credentials 401, tunnel quotas
 * 429, as the [admission] group says), so that every transport applies
 * the same rules. An admitted tunnel keeps its AeroAdmission until it
 * ends; ws_admission_free() then gives its place in the quotas back. */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

/**
 * WsAdmissionRequest:
 * @host: the core
 * @request: the upgrade request (headers, remote address, query)
 * @tokens: credentials offered as aero-l2-token.<credential> subprotocol
 *   entries, without the prefix (never log them)
 *
 * What the admission check looks at.
 */
typedef struct {
  AeroHost *host;
  const AeroHttpRequest *request;
  const char *const *tokens;
} WsAdmissionRequest;

/**
 * WsAdmissionVerdict:
 * @status: 0 to admit, otherwise the HTTP status to refuse with (401, 403, 429)
 * @text: (nullable): the refusal's body text (static)
 * @admission: (transfer full): the core's answer; free it with
 *   ws_admission_free() once the tunnel has ended (or right away after a
 *   refusal)
 *
 * The answer of ws_admission_check().
 */
typedef struct {
  guint status;
  const char *text;
  AeroAdmission *admission;
} WsAdmissionVerdict;

void ws_admission_check (const WsAdmissionRequest *request, WsAdmissionVerdict *verdict);
void ws_admission_free (AeroAdmission *admission);

G_END_DECLS
