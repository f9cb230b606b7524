/* aero-admission.h — who may open a tunnel: Origin, credentials, quotas.
 *
 * Every transport asks the core the same questions before it accepts a
 * client (a WebSocket upgrade, a WebRTC signalling request), so that the
 * rules of the `[admission]` group hold whatever the transport:
 *
 *   AeroAdmission adm;
 *   if (aero_host_admit (host, msg, offered_tokens, &adm) != AERO_ADMISSION_ADMITTED)
 *     -> answer adm.status (401, 403 or 429), log, aero_admission_clear (&adm)
 *   else
 *     -> aero_channel_set_principal (channel, adm.principal), open the
 *        session, keep `adm` while the tunnel lives, and
 *        aero_admission_clear (&adm) when it ends (that gives the quota back)
 *
 * and every attempt, admitted or not, is written once to the access log
 * with aero_host_log_access().
 *
 * The checks, in order (../shared/PROTOCOLS.md §1, §5, §6):
 *   1. Origin (403): the normalised Origin header must be allowed by
 *      `origins` (empty: only the request's own host); a missing or
 *      invalid Origin is refused. Skipped in open mode.
 *   2. Credentials (401), as `auth` says: a shared token (from an
 *      `aero-l2-token.<token>` subprotocol entry, `?token=` or `?apiKey=`),
 *      the `aero_session` cookie, an HS256 JWT (`Authorization: Bearer`,
 *      a subprotocol entry or `?token=`), or a combination.
 *   3. Quotas (429): tunnels at once, process-wide and per session id.
 *
 * POST /session on the core's HTTP server issues the aero_session cookie
 * and lists the endpoints transports registered with
 * aero_host_add_endpoint(). */
#pragma once

#include <libsoup/soup.h>
#include <aero-net/aero-host.h>
#include <aero-net/aero-http-upgrade.h>

G_BEGIN_DECLS

/**
 * AeroAdmissionVerdict:
 * @AERO_ADMISSION_ADMITTED: the client may open a tunnel.
 * @AERO_ADMISSION_ORIGIN_MISSING: no Origin header (403).
 * @AERO_ADMISSION_ORIGIN_INVALID: an Origin header that is not a valid
 *   origin (403).
 * @AERO_ADMISSION_ORIGIN_DENIED: an origin that is not allowed (403).
 * @AERO_ADMISSION_AUTH_MISSING: no credential where one is required (401).
 * @AERO_ADMISSION_AUTH_MALFORMED: a credential that cannot be read (401).
 * @AERO_ADMISSION_AUTH_INVALID: a wrong token, a bad signature, or claims
 *   that are refused (401).
 * @AERO_ADMISSION_AUTH_EXPIRED: a signed credential past its expiry (401).
 * @AERO_ADMISSION_QUOTA_TUNNELS: `max-tunnels` reached (429).
 * @AERO_ADMISSION_QUOTA_SESSION_TUNNELS: `max-tunnels-per-session` reached
 *   for the credential's session id (429).
 *
 * The answer of aero_host_admit().
 */
typedef enum {
  AERO_ADMISSION_ADMITTED,
  AERO_ADMISSION_ORIGIN_MISSING,
  AERO_ADMISSION_ORIGIN_INVALID,
  AERO_ADMISSION_ORIGIN_DENIED,
  AERO_ADMISSION_AUTH_MISSING,
  AERO_ADMISSION_AUTH_MALFORMED,
  AERO_ADMISSION_AUTH_INVALID,
  AERO_ADMISSION_AUTH_EXPIRED,
  AERO_ADMISSION_QUOTA_TUNNELS,
  AERO_ADMISSION_QUOTA_SESSION_TUNNELS,
} AeroAdmissionVerdict;

/**
 * AeroAdmission:
 * @verdict: the verdict
 * @status: 0 when admitted, otherwise the HTTP status to refuse with
 *   (401, 403 or 429)
 * @reason: (transfer none): a static snake_case name of the verdict
 *   ("admitted", "origin_denied", "auth_expired", …), for logs and metrics
 * @message: (transfer none): a static short text for the refusal's body
 * @error_code: the aero-l2-tunnel-v1 ERROR code that matches a refusal
 *   (#AeroL2ErrorCode), 0 when admitted
 * @principal: (nullable): who the client is: "token", "session:SID" or
 *   "jwt:SID"; %NULL without authentication
 * @session_id: (nullable): the session id of the cookie or JWT
 * @origin: (nullable): the normalised Origin, when it was valid
 *
 * What aero_host_admit() found. The fields are read-only; clear the
 * struct with aero_admission_clear().
 */
typedef struct {
  AeroAdmissionVerdict verdict;
  guint status;
  const char *reason;
  const char *message;
  guint16 error_code;
  char *principal;
  char *session_id;
  char *origin;
  /*< private >*/
  AeroHost *host;
  gboolean held;
  gpointer reserved[4];
} AeroAdmission;

/**
 * aero_host_admit:
 * @host: a host
 * @msg: the request (headers, URI and remote address are read)
 * @offered_credentials: (nullable) (array zero-terminated=1): credentials
 *   offered as `aero-l2-token.<credential>` subprotocol entries, without
 *   the prefix
 * @out: (out caller-allocates): what was found
 *
 * Runs the admission checks of the `[admission]` group on @msg: Origin,
 * then credentials, then quotas. An admitted client holds one tunnel of
 * the quotas until aero_admission_clear() (or aero_admission_release()).
 * Counts the verdict in the `aero_admission_*` metrics; logs nothing (see
 * aero_host_log_access()). Secrets are compared in constant time and never
 * copied into @out.
 *
 * Returns: the verdict (also in @out).
 */
AeroAdmissionVerdict aero_host_admit (AeroHost *host, SoupServerMessage *msg,
                                      const char *const *offered_credentials, AeroAdmission *out);

/**
 * aero_host_admit_request:
 * @host: a host
 * @request: the request (headers, query and remote address are read)
 * @offered_credentials: (nullable) (array zero-terminated=1): as for
 *   aero_host_admit()
 * @out: (out caller-allocates): what was found
 *
 * aero_host_admit() for a request that is not a #SoupServerMessage (see
 * aero_http_upgrade_get_request()).
 *
 * Returns: the verdict (also in @out).
 */
AeroAdmissionVerdict aero_host_admit_request (AeroHost *host, const AeroHttpRequest *request,
                                              const char *const *offered_credentials,
                                              AeroAdmission *out);

/**
 * aero_admission_release:
 * @admission: an admission
 *
 * Gives back the tunnel an admitted client held in the quotas (the host
 * that admitted it must still exist). Idempotent; does nothing for a
 * refusal.
 */
void aero_admission_release (AeroAdmission *admission);

/**
 * aero_admission_clear:
 * @admission: an admission
 *
 * Releases the admission (aero_admission_release()) and frees its
 * strings. The struct may be reused afterwards.
 */
void aero_admission_clear (AeroAdmission *admission);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (AeroAdmission, aero_admission_clear)

/**
 * aero_admission_verdict_to_string:
 * @verdict: a verdict
 *
 * Returns: (transfer none): its snake_case name, e.g. "origin_missing".
 */
const char *aero_admission_verdict_to_string (AeroAdmissionVerdict verdict);

/**
 * aero_host_log_access:
 * @host: a host
 * @msg: the request
 * @admission: (nullable): the admission, when the checks ran
 * @status: the HTTP status the request was answered with (101 for an
 *   accepted upgrade)
 * @reason: (nullable): why, in snake_case ("admitted", "origin_denied",
 *   "no_subprotocol", …); the admission's reason when %NULL
 *
 * Writes one access-log line (component `access`) for an upgrade or
 * signalling request: the peer address, the principal, the origin, the
 * verdict (admitted when @status is below 400), the status and the reason.
 * Never credentials, never the query string.
 */
void aero_host_log_access (AeroHost *host, SoupServerMessage *msg, const AeroAdmission *admission,
                           guint status, const char *reason);

/**
 * aero_host_log_access_request:
 * @host: a host
 * @request: the request
 * @admission: (nullable): as for aero_host_log_access()
 * @status: as for aero_host_log_access()
 * @reason: (nullable): as for aero_host_log_access()
 *
 * aero_host_log_access() for a request that is not a #SoupServerMessage.
 */
void aero_host_log_access_request (AeroHost *host, const AeroHttpRequest *request,
                                   const AeroAdmission *admission, guint status,
                                   const char *reason);

/**
 * aero_host_add_endpoint:
 * @host: a host
 * @name: the endpoint's name in the POST /session answer, e.g. "l2"
 * @path: its path on the core's HTTP server, e.g. "/l2"
 * @limits: (nullable): an `a{sv}` dictionary of integer limits a client
 *   should know (e.g. "maxFramePayloadBytes"); a floating reference is
 *   sunk
 *
 * Lists an endpoint in the answer of POST /session (`endpoints.NAME` and
 * `limits.NAME`). Transports call this in start(). A name already listed
 * keeps its first path.
 */
void aero_host_add_endpoint (AeroHost *host, const char *name, const char *path,
                             GVariant *limits);

/**
 * aero_host_remove_endpoint:
 * @host: a host
 * @name: a name given to aero_host_add_endpoint()
 *
 * Removes the endpoint from the POST /session answer (transports call
 * this in stop()).
 */
void aero_host_remove_endpoint (AeroHost *host, const char *name);

G_END_DECLS
