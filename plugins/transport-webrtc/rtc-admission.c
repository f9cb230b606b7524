/* rtc-admission.c — admission checks for signalling requests: the core's
 * aero_host_admit() (see rtc-admission.h). */
#include "rtc-admission.h"

static gboolean
is_origin_refusal (AeroAdmissionVerdict verdict)
{
  return verdict == AERO_ADMISSION_ORIGIN_MISSING || verdict == AERO_ADMISSION_ORIGIN_INVALID ||
         verdict == AERO_ADMISSION_ORIGIN_DENIED;
}

/**
 * rtc_admission_check:
 * @request: the signalling request
 * @verdict: (out caller-allocates): the answer
 *
 * Decides whether @request may signal a peer connection.
 */
void
rtc_admission_check (const RtcAdmissionRequest *request, RtcAdmissionVerdict *verdict)
{
  AeroAdmission *admission = g_new0 (AeroAdmission, 1);

  aero_host_admit (request->host, request->msg, request->tokens, admission);
  verdict->status = admission->status;
  verdict->text = admission->status ? admission->message : NULL;
  verdict->admission = admission;

  if (request->kind == RTC_ADMISSION_PREFLIGHT)
    {
      /* Origin comes first among the checks: any other refusal means the
       * Origin passed, which is all a preflight can show. */
      if (!is_origin_refusal (admission->verdict))
        {
          verdict->status = 0;
          verdict->text = NULL;
        }
      if (verdict->status == 0)
        g_clear_pointer (&verdict->admission, rtc_admission_free);
    }
}

/**
 * rtc_admission_free:
 * @admission: (nullable): what rtc_admission_check() returned
 *
 * Gives back the peer connection's place in the quotas and frees @admission.
 */
void
rtc_admission_free (AeroAdmission *admission)
{
  if (admission == NULL)
    return;
  aero_admission_clear (admission);
  g_free (admission);
}
