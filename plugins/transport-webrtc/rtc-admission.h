/* rtc-admission.h — who may signal a peer connection: transport-webrtc asks the core.
 *
 * Both signalling endpoints call rtc_admission_check() for every request
 * before any peer connection exists: the POST of an offer, its CORS
 * preflight, and the signalling WebSocket's upgrade. The check is the
 * core's aero_host_admit() (Origin 403, credentials 401, tunnel quotas
 * 429, as the [admission] group says), called exactly as transport-ws
 * calls it, so that both transports apply the same rules. An admitted
 * peer connection keeps its AeroAdmission until it closes;
 * rtc_admission_free() then gives its place in the quotas back.
 *
 * A CORS preflight carries no credentials: it is refused only for its
 * Origin, and its admission is given back at once. */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

typedef enum {
  RTC_ADMISSION_OFFER,           /* POST offer-path */
  RTC_ADMISSION_PREFLIGHT,       /* OPTIONS offer-path */
  RTC_ADMISSION_SIGNAL,          /* GET signal-path, a WebSocket upgrade */
} RtcAdmissionKind;

/**
 * RtcAdmissionRequest:
 * @kind: which request
 * @host: the core
 * @msg: the request (headers, remote address, URI)
 * @tokens: (nullable): credentials offered as aero-l2-token.<credential>
 *   subprotocol entries on the signalling WebSocket, without the prefix
 *   (never log them)
 */
typedef struct {
  RtcAdmissionKind kind;
  AeroHost *host;
  SoupServerMessage *msg;
  const char *const *tokens;
} RtcAdmissionRequest;

/**
 * RtcAdmissionVerdict:
 * @status: 0 to admit, otherwise the HTTP status to refuse with (401, 403, 429)
 * @text: (nullable): the refusal's text (static)
 * @admission: (transfer full): the core's answer; free it with
 *   rtc_admission_free() when the peer connection has ended (or right
 *   away after a refusal). %NULL for an admitted preflight.
 */
typedef struct {
  guint status;
  const char *text;
  AeroAdmission *admission;
} RtcAdmissionVerdict;

void rtc_admission_check (const RtcAdmissionRequest *request, RtcAdmissionVerdict *verdict);
void rtc_admission_free (AeroAdmission *admission);

G_END_DECLS
