/* probe-report.c — step bookkeeping and the two output formats (aligned
 * text for people, one JSON object for programs). */
#include "probe-report.h"

#include <aero-net/aero-version.h>
#include <string.h>

struct _ProbeStep {
  char *name;
  ProbeStepStatus status;
  gboolean ok;
  gint64 start_us;
  double ms; /* < 0 when the step did not run */
  char *summary;
  JsonObject *details;
};

struct _ProbeReport {
  char *url;
  gint64 start_us;
  GPtrArray *steps;
  JsonObject *extra;
};

static void
step_free (gpointer p)
{
  ProbeStep *s = p;

  g_free (s->name);
  g_free (s->summary);
  json_object_unref (s->details);
  g_free (s);
}

ProbeReport *
probe_report_new (const char *url)
{
  ProbeReport *r = g_new0 (ProbeReport, 1);

  r->url = g_strdup (url);
  r->start_us = g_get_monotonic_time ();
  r->steps = g_ptr_array_new_with_free_func (step_free);
  r->extra = json_object_new ();
  return r;
}

void
probe_report_free (ProbeReport *r)
{
  if (r == NULL)
    return;
  g_ptr_array_unref (r->steps);
  json_object_unref (r->extra);
  g_free (r->url);
  g_free (r);
}

static ProbeStep *
add_step (ProbeReport *r, const char *name)
{
  ProbeStep *s = g_new0 (ProbeStep, 1);

  s->name = g_strdup (name);
  s->status = PROBE_STEP_RUNNING;
  s->start_us = g_get_monotonic_time ();
  s->ms = -1;
  s->details = json_object_new ();
  g_ptr_array_add (r->steps, s);
  return s;
}

ProbeStep *
probe_report_begin (ProbeReport *r, const char *name)
{
  return add_step (r, name);
}

static G_GNUC_PRINTF (3, 0) void
finish (ProbeStep *s, ProbeStepStatus status, const char *format, va_list ap)
{
  s->ms = (double) (g_get_monotonic_time () - s->start_us) / 1000.0;
  s->status = status;
  s->ok = status == PROBE_STEP_PASSED;
  g_free (s->summary);
  s->summary = g_strdup_vprintf (format, ap);
}

void
probe_step_pass (ProbeStep *s, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  finish (s, PROBE_STEP_PASSED, format, ap);
  va_end (ap);
}

void
probe_step_fail (ProbeStep *s, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  finish (s, PROBE_STEP_FAILED, format, ap);
  va_end (ap);
}

void
probe_report_skip (ProbeReport *r, const char *name, gboolean counts_as_failure,
                   const char *format, ...)
{
  ProbeStep *s = add_step (r, name);
  va_list ap;

  va_start (ap, format);
  s->status = PROBE_STEP_SKIPPED;
  s->ok = !counts_as_failure;
  s->summary = g_strdup_vprintf (format, ap);
  va_end (ap);
}

static double
round3 (double v)
{
  return (double) (gint64) (v * 1000.0 + (v >= 0 ? 0.5 : -0.5)) / 1000.0;
}

void
probe_step_set_int (ProbeStep *s, const char *key, gint64 value)
{
  json_object_set_int_member (s->details, key, value);
}

void
probe_step_set_double (ProbeStep *s, const char *key, double value)
{
  json_object_set_double_member (s->details, key, round3 (value));
}

void
probe_step_set_bool (ProbeStep *s, const char *key, gboolean value)
{
  json_object_set_boolean_member (s->details, key, value);
}

void
probe_step_set_string (ProbeStep *s, const char *key, const char *value)
{
  if (value)
    json_object_set_string_member (s->details, key, value);
  else
    json_object_set_null_member (s->details, key);
}

void
probe_step_set_strv (ProbeStep *s, const char *key, const char *const *values)
{
  JsonArray *a = json_array_new ();

  for (guint i = 0; values && values[i]; i++)
    json_array_add_string_element (a, values[i]);
  json_object_set_array_member (s->details, key, a);
}

gboolean
probe_report_step_ok (ProbeReport *r, const char *name)
{
  for (guint i = 0; i < r->steps->len; i++)
    {
      ProbeStep *s = g_ptr_array_index (r->steps, i);
      if (g_strcmp0 (s->name, name) == 0)
        return s->ok;
    }
  return FALSE;
}

gboolean
probe_report_ok (ProbeReport *r)
{
  for (guint i = 0; i < r->steps->len; i++)
    {
      ProbeStep *s = g_ptr_array_index (r->steps, i);
      if (!s->ok)
        return FALSE;
    }
  return TRUE;
}

void
probe_report_set_member (ProbeReport *r, const char *name, JsonNode *node)
{
  json_object_set_member (r->extra, name, node);
}

static const char *
status_name (ProbeStepStatus status)
{
  switch (status)
    {
    case PROBE_STEP_PASSED: return "passed";
    case PROBE_STEP_FAILED: return "failed";
    case PROBE_STEP_SKIPPED: return "skipped";
    default: return "running";
    }
}

typedef struct {
  guint passed, failed, skipped_failing, skipped_ok;
} Counts;

static Counts
count (ProbeReport *r)
{
  Counts c = { 0 };

  for (guint i = 0; i < r->steps->len; i++)
    {
      ProbeStep *s = g_ptr_array_index (r->steps, i);

      if (s->status == PROBE_STEP_PASSED)
        c.passed++;
      else if (s->status == PROBE_STEP_SKIPPED)
        {
          if (s->ok)
            c.skipped_ok++;
          else
            c.skipped_failing++;
        }
      else
        c.failed++;
    }
  return c;
}

void
probe_report_print_text (ProbeReport *r, FILE *out)
{
  Counts c = count (r);
  gboolean ok = probe_report_ok (r);

  fprintf (out, "aero-probe %s\n", r->url);
  for (guint i = 0; i < r->steps->len; i++)
    {
      ProbeStep *s = g_ptr_array_index (r->steps, i);
      const char *tag;
      char ms[32];

      switch (s->status)
        {
        case PROBE_STEP_PASSED: tag = "ok"; break;
        case PROBE_STEP_FAILED: tag = "FAIL"; break;
        case PROBE_STEP_SKIPPED: tag = s->ok ? "skip" : "SKIP"; break;
        default: tag = "?"; break;
        }
      if (s->ms >= 0)
        g_snprintf (ms, sizeof ms, "%.1f ms", s->ms);
      else
        g_snprintf (ms, sizeof ms, "-");
      fprintf (out, "  %-4s  %-12s %11s  %s\n", tag, s->name, ms, s->summary ? s->summary : "");
    }
  fprintf (out, "result: %s (%u passed, %u failed", ok ? "PASS" : "FAIL", c.passed, c.failed);
  if (c.skipped_failing)
    fprintf (out, ", %u not run after a failure", c.skipped_failing);
  if (c.skipped_ok)
    fprintf (out, ", %u skipped", c.skipped_ok);
  fprintf (out, ") in %.1f ms\n", (double) (g_get_monotonic_time () - r->start_us) / 1000.0);
}

/* JSON text with readable numbers: json-glib prints doubles with 17
 * significant digits, so the tree is serialised here (2-space indent). */
static void
write_string (GString *out, const char *str)
{
  g_string_append_c (out, '"');
  for (const guchar *c = (const guchar *) str; *c; c++)
    {
      switch (*c)
        {
        case '"': g_string_append (out, "\\\""); break;
        case '\\': g_string_append (out, "\\\\"); break;
        case '\n': g_string_append (out, "\\n"); break;
        case '\r': g_string_append (out, "\\r"); break;
        case '\t': g_string_append (out, "\\t"); break;
        default:
          if (*c < 0x20 || *c == 0x7f)
            g_string_append_printf (out, "\\u%04x", *c);
          else
            g_string_append_c (out, (char) *c);
          break;
        }
    }
  g_string_append_c (out, '"');
}

static void
write_double (GString *out, double v)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  gsize len;

  if (v != v || v > 1e300 || v < -1e300)
    {
      g_string_append (out, "null");
      return;
    }
  g_ascii_formatd (buf, sizeof buf, "%.3f", v);
  len = strlen (buf);
  while (len > 1 && buf[len - 1] == '0' && strchr (buf, '.'))
    buf[--len] = '\0';
  if (len > 0 && buf[len - 1] == '.')
    buf[--len] = '\0';
  g_string_append (out, buf);
}

static void
indent (GString *out, int level)
{
  g_string_append_c (out, '\n');
  for (int i = 0; i < level; i++)
    g_string_append (out, "  ");
}

static void
write_node (GString *out, JsonNode *node, int level)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *o = json_node_get_object (node);
        GList *members = json_object_get_members (o);

        if (members == NULL)
          {
            g_string_append (out, "{}");
            break;
          }
        g_string_append_c (out, '{');
        for (GList *l = members; l; l = l->next)
          {
            indent (out, level + 1);
            write_string (out, l->data);
            g_string_append (out, ": ");
            write_node (out, json_object_get_member (o, l->data), level + 1);
            if (l->next)
              g_string_append_c (out, ',');
          }
        g_list_free (members);
        indent (out, level);
        g_string_append_c (out, '}');
      }
      break;
    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (node);
        guint n = json_array_get_length (a);

        if (n == 0)
          {
            g_string_append (out, "[]");
            break;
          }
        g_string_append_c (out, '[');
        for (guint i = 0; i < n; i++)
          {
            indent (out, level + 1);
            write_node (out, json_array_get_element (a, i), level + 1);
            if (i + 1 < n)
              g_string_append_c (out, ',');
          }
        indent (out, level);
        g_string_append_c (out, ']');
      }
      break;
    case JSON_NODE_NULL:
      g_string_append (out, "null");
      break;
    case JSON_NODE_VALUE:
      switch (json_node_get_value_type (node))
        {
        case G_TYPE_INT64:
          g_string_append_printf (out, "%" G_GINT64_FORMAT, json_node_get_int (node));
          break;
        case G_TYPE_DOUBLE:
          write_double (out, json_node_get_double (node));
          break;
        case G_TYPE_BOOLEAN:
          g_string_append (out, json_node_get_boolean (node) ? "true" : "false");
          break;
        case G_TYPE_STRING:
          write_string (out, json_node_get_string (node));
          break;
        default:
          g_string_append (out, "null");
          break;
        }
      break;
    default:
      g_string_append (out, "null");
      break;
    }
}

char *
probe_report_to_json (ProbeReport *r)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonNode) root = NULL;
  GList *members;
  Counts c = count (r);
  gboolean ok = probe_report_ok (r);
  GString *out;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "tool");
  json_builder_add_string_value (b, "aero-probe");
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, AERO_NET_VERSION);
  json_builder_set_member_name (b, "url");
  json_builder_add_string_value (b, r->url);
  json_builder_set_member_name (b, "ok");
  json_builder_add_boolean_value (b, ok);
  json_builder_set_member_name (b, "exit_code");
  json_builder_add_int_value (b, ok ? 0 : 1);
  json_builder_set_member_name (b, "total_ms");
  json_builder_add_double_value (b, round3 ((double) (g_get_monotonic_time () - r->start_us) / 1000.0));
  json_builder_set_member_name (b, "counts");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "passed");
  json_builder_add_int_value (b, c.passed);
  json_builder_set_member_name (b, "failed");
  json_builder_add_int_value (b, c.failed);
  json_builder_set_member_name (b, "skipped_after_failure");
  json_builder_add_int_value (b, c.skipped_failing);
  json_builder_set_member_name (b, "skipped");
  json_builder_add_int_value (b, c.skipped_ok);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "steps");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->steps->len; i++)
    {
      ProbeStep *s = g_ptr_array_index (r->steps, i);
      JsonNode *details = json_node_new (JSON_NODE_OBJECT);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "name");
      json_builder_add_string_value (b, s->name);
      json_builder_set_member_name (b, "status");
      json_builder_add_string_value (b, status_name (s->status));
      json_builder_set_member_name (b, "ok");
      json_builder_add_boolean_value (b, s->ok);
      json_builder_set_member_name (b, "ms");
      if (s->ms >= 0)
        json_builder_add_double_value (b, round3 (s->ms));
      else
        json_builder_add_null_value (b);
      json_builder_set_member_name (b, "summary");
      json_builder_add_string_value (b, s->summary ? s->summary : "");
      json_builder_set_member_name (b, "details");
      json_node_set_object (details, s->details);
      json_builder_add_value (b, details);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);

  members = json_object_get_members (r->extra);
  for (GList *l = members; l; l = l->next)
    {
      json_builder_set_member_name (b, l->data);
      json_builder_add_value (b, json_node_copy (json_object_get_member (r->extra, l->data)));
    }
  g_list_free (members);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  out = g_string_new (NULL);
  write_node (out, root, 0);
  return g_string_free (out, FALSE);
}
