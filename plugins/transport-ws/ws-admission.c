/* ws-admission.c — admission checks for tunnel upgrades: the core's
 * aero_host_admit_request() on the upgrade request and the offered
 * aero-l2-token.<credential> entries (see ws-admission.h). */
#include "ws-admission.h"

/**
 * ws_admission_check:
 * @request: the upgrade request
 * @verdict: (out caller-allocates): the answer
 *
 * Decides whether @request may open a tunnel.
 */
void
ws_admission_check (const WsAdmissionRequest *request, WsAdmissionVerdict *verdict)
{
  AeroAdmission *admission = g_new0 (AeroAdmission, 1);

  aero_host_admit_request (request->host, request->request, request->tokens, admission);
  verdict->status = admission->status;
  verdict->text = admission->status ? admission->message : NULL;
  verdict->admission = admission;
}

/**
 * ws_admission_free:
 * @admission: (nullable): what ws_admission_check() returned
 *
 * Gives back the tunnel's place in the quotas and frees @admission.
 */
void
ws_admission_free (AeroAdmission *admission)
{
  if (admission == NULL)
    return;
  aero_admission_clear (admission);
  g_free (admission);
}
