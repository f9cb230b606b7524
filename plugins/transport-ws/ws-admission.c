/* ws-admission.c — admission checks for tunnel upgrades. Everyone is
 * admitted for now; see the header for what goes here. */
#include "ws-admission.h"

struct _WsAdmission
{
  /* State for future checks: allowed origins, verifiers, per-IP counts. */
  guint admitted;
};

WsAdmission *
ws_admission_new (void)
{
  return g_new0 (WsAdmission, 1);
}

void
ws_admission_free (WsAdmission *admission)
{
  g_free (admission);
}

/**
 * ws_admission_check:
 * @admission: the admission state of one transport instance
 * @request: the upgrade request
 * @verdict: (out caller-allocates): the answer
 *
 * Decides whether @request may open a tunnel.
 */
void
ws_admission_check (WsAdmission *admission, const WsAdmissionRequest *request,
                    WsAdmissionVerdict *verdict)
{
  verdict->status = 0;
  verdict->text = NULL;
  verdict->principal = NULL;

  /* ==== ADMISSION CHECKS ====================================================
   * Add them here, each refusing with its own status and a short text:
   *   - Origin against an allow-list (403; a missing Origin is refused
   *     unless the deployment is open),
   *   - credentials: request->tokens, a session cookie or a JWT (401),
   *   - quotas: tunnels per IP or per principal (429), counted here and
   *     given back in ws_admission_release().
   * ======================================================================== */
  admission->admitted++;
}

/**
 * ws_admission_release:
 * @admission: the admission state
 * @peer: the peer of a tunnel that was admitted and has ended
 * @principal: (nullable): its principal
 *
 * Gives back what ws_admission_check() counted for the tunnel.
 */
void
ws_admission_release (WsAdmission *admission, const char *peer, const char *principal)
{
  if (admission->admitted > 0)
    admission->admitted--;
}

void
ws_admission_verdict_clear (WsAdmissionVerdict *verdict)
{
  g_clear_pointer (&verdict->text, g_free);
  g_clear_pointer (&verdict->principal, g_free);
}
