/* probe-report.h — the result of a probe run: an ordered list of steps,
 * each passed, failed or skipped, with its duration, a one-line summary
 * and structured details, printed as text or as one JSON object.
 *
 * A step skipped because an earlier one failed counts as a failure; a
 * step skipped because an option turned it off does not. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <stdio.h>

G_BEGIN_DECLS

typedef enum {
  PROBE_STEP_RUNNING,
  PROBE_STEP_PASSED,
  PROBE_STEP_FAILED,
  PROBE_STEP_SKIPPED,
} ProbeStepStatus;

typedef struct _ProbeReport ProbeReport;
typedef struct _ProbeStep ProbeStep;

ProbeReport *probe_report_new (const char *url);
void probe_report_free (ProbeReport *report);

/* Starts timing a step. */
ProbeStep *probe_report_begin (ProbeReport *report, const char *name);
void probe_step_pass (ProbeStep *step, const char *format, ...) G_GNUC_PRINTF (2, 3);
void probe_step_fail (ProbeStep *step, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* Adds a step that did not run; COUNTS_AS_FAILURE when a prerequisite
 * failed rather than an option switching it off. */
void probe_report_skip (ProbeReport *report, const char *name, gboolean counts_as_failure,
                        const char *format, ...) G_GNUC_PRINTF (4, 5);

void probe_step_set_int (ProbeStep *step, const char *key, gint64 value);
void probe_step_set_double (ProbeStep *step, const char *key, double value);
void probe_step_set_bool (ProbeStep *step, const char *key, gboolean value);
void probe_step_set_string (ProbeStep *step, const char *key, const char *value);
void probe_step_set_strv (ProbeStep *step, const char *key, const char *const *values);

/* The named step exists and is ok (passed, or skipped by an option). */
gboolean probe_report_step_ok (ProbeReport *report, const char *name);
gboolean probe_report_ok (ProbeReport *report);

/* Adds a top-level member (takes ownership of NODE). */
void probe_report_set_member (ProbeReport *report, const char *name, JsonNode *node);

void probe_report_print_text (ProbeReport *report, FILE *out);
char *probe_report_to_json (ProbeReport *report);

G_END_DECLS
