/* test-metrics.c — unit tests for the metrics registry, its Prometheus text
 * rendering and the process metrics. */

#include <aero-net/aero-metrics.h>
#include "aero-process-metrics.h"

#include <math.h>
#include <string.h>

/* The domain the library logs its criticals in. */
#define LIB_DOMAIN "aero-net"

/* aero-metrics.h declares no g_autoptr() cleanup for AeroMetrics. */

static char *
render (AeroMetrics *metrics)
{
  return g_string_free (aero_metrics_render (metrics), FALSE);
}

static void
test_render_registry (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const labels[] = { "method", "code", NULL };
  const char *const get_200[] = { "GET", "200", NULL };
  const char *const post_500[] = { "POST", "500", NULL };
  const char *const transport[] = { "transport", NULL };
  AeroMetricFamily *responses;
  AeroMetricFamily *sessions;
  g_autofree char *text = NULL;

  aero_metric_add (aero_metrics_counter (metrics, "aero_requests_total", "Requests handled."), 42);
  aero_metrics_gauge (metrics, "aero_a_zero", "Never set.");
  aero_metric_set (aero_metrics_gauge (metrics, "aero_queue_depth", "Queue depth."), -3.5);

  responses = aero_metrics_family (metrics, "aero_http_responses_total", AERO_METRIC_COUNTER,
                                   "HTTP responses\nby method \\ code.", labels);
  g_assert_nonnull (responses);
  /* Series are rendered in creation order, not sorted. */
  aero_metric_inc (aero_metric_family_series (responses, post_500));
  aero_metric_inc (aero_metric_family_series (responses, get_200));
  aero_metric_inc (aero_metric_family_series (responses, get_200));
  aero_metric_add (aero_metric_family_series (responses, get_200), 2);
  g_assert_true (aero_metric_family_series (responses, get_200)
                 == aero_metric_family_series (responses, get_200));
  g_assert_cmpfloat (aero_metric_get (aero_metric_family_series (responses, get_200)), ==, 4);

  sessions = aero_metrics_family (metrics, "aero_sessions", AERO_METRIC_GAUGE, "Open sessions.",
                                  transport);
  g_assert_nonnull (sessions);

  text = render (metrics);
  g_assert_cmpstr (text, ==,
                   "# HELP aero_a_zero Never set.\n"
                   "# TYPE aero_a_zero gauge\n"
                   "aero_a_zero 0\n"
                   "# HELP aero_http_responses_total HTTP responses\\nby method \\\\ code.\n"
                   "# TYPE aero_http_responses_total counter\n"
                   "aero_http_responses_total{method=\"POST\",code=\"500\"} 1\n"
                   "aero_http_responses_total{method=\"GET\",code=\"200\"} 4\n"
                   "# HELP aero_queue_depth Queue depth.\n"
                   "# TYPE aero_queue_depth gauge\n"
                   "aero_queue_depth -3.5\n"
                   "# HELP aero_requests_total Requests handled.\n"
                   "# TYPE aero_requests_total counter\n"
                   "aero_requests_total 42\n"
                   "# HELP aero_sessions Open sessions.\n"
                   "# TYPE aero_sessions gauge\n");
}

static void
test_empty_registry (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  g_autofree char *text = render (metrics);

  g_assert_cmpstr (text, ==, "");
  aero_metrics_free (NULL);
}

static void
test_same_family (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const labels[] = { "a", "b", NULL };
  const char *const same_labels[] = { "a", "b", NULL };
  AeroMetricFamily *family;
  AeroMetric *counter;

  family = aero_metrics_family (metrics, "x_total", AERO_METRIC_COUNTER, "X.", labels);
  g_assert_true (aero_metrics_family (metrics, "x_total", AERO_METRIC_COUNTER, "Other help.",
                                      same_labels) == family);

  counter = aero_metrics_counter (metrics, "c_total", "C.");
  g_assert_true (aero_metrics_counter (metrics, "c_total", "C.") == counter);
  g_assert_true (aero_metric_family_series (aero_metrics_family (metrics, "c_total",
                                                                 AERO_METRIC_COUNTER, "C.", NULL),
                                            NULL) == counter);
}

static void
test_label_escaping (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const labels[] = { "path", NULL };
  const char *const value[] = { "a\\b\"c\nd \xc3\xa9", NULL };
  const char *const empty[] = { "", NULL };
  AeroMetricFamily *family;
  g_autofree char *text = NULL;

  family = aero_metrics_family (metrics, "esc", AERO_METRIC_GAUGE, "", labels);
  aero_metric_set (aero_metric_family_series (family, value), 1);
  aero_metric_set (aero_metric_family_series (family, empty), 2);

  text = render (metrics);
  g_assert_cmpstr (text, ==,
                   "# HELP esc \n"
                   "# TYPE esc gauge\n"
                   "esc{path=\"a\\\\b\\\"c\\nd \xc3\xa9\"} 1\n"
                   "esc{path=\"\"} 2\n");
}

static void
test_series_keys (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const labels[] = { "a", "b", NULL };
  const char *const v1[] = { "x\x1f", "y", NULL };
  const char *const v2[] = { "x", "\x1fy", NULL };
  const char *const v3[] = { "1:x", "", NULL };
  const char *const v4[] = { "1", "x", NULL };
  AeroMetricFamily *family;
  AeroMetric *series[4];

  family = aero_metrics_family (metrics, "keys", AERO_METRIC_GAUGE, "Keys.", labels);
  series[0] = aero_metric_family_series (family, v1);
  series[1] = aero_metric_family_series (family, v2);
  series[2] = aero_metric_family_series (family, v3);
  series[3] = aero_metric_family_series (family, v4);
  for (int i = 0; i < 4; i++)
    {
      g_assert_nonnull (series[i]);
      for (int j = 0; j < i; j++)
        g_assert_true (series[i] != series[j]);
    }
}

static void
assert_value (double value, const char *expected)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  g_autofree char *text = NULL;
  g_autofree char *line = NULL;

  aero_metric_set (aero_metrics_gauge (metrics, "v", "V."), value);
  text = render (metrics);
  line = g_strdup_printf ("# HELP v V.\n# TYPE v gauge\nv %s\n", expected);
  g_assert_cmpstr (text, ==, line);
}

static void
test_values (void)
{
  assert_value (0, "0");
  assert_value (-0.0, "0");
  assert_value (42, "42");
  assert_value (-7, "-7");
  assert_value (1e15, "1000000000000000");
  assert_value (9007199254740991.0, "9007199254740991");
  assert_value (-9007199254740991.0, "-9007199254740991");
  assert_value (9007199254740992.0, "9007199254740992");
  assert_value (1e300, "1e+300");
  assert_value (1.5, "1.5");
  assert_value (0.1, "0.1");
  assert_value (1.0 / 3, "0.3333333333333333");
  assert_value (1e-7, "1e-07");
  assert_value (NAN, "NaN");
  assert_value (INFINITY, "+Inf");
  assert_value (-INFINITY, "-Inf");

  /* Every non-integral rendering reads back as the same double. */
  for (double v = 0.001; v < 1000; v *= 1.37)
    {
      g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
      g_autofree char *text = NULL;
      const char *number;

      aero_metric_set (aero_metrics_gauge (metrics, "v", "V."), v);
      text = render (metrics);
      number = strstr (text, "\nv ") + 3;
      g_assert_cmpfloat (g_ascii_strtod (number, NULL), ==, v);
    }
}

static void
test_updates (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  AeroMetric *counter = aero_metrics_counter (metrics, "u_total", "U.");
  AeroMetric *gauge = aero_metrics_gauge (metrics, "g", "G.");

  aero_metric_inc (counter);
  aero_metric_add (counter, 2.5);
  aero_metric_add (counter, 0);
  g_assert_cmpfloat (aero_metric_get (counter), ==, 3.5);

  aero_metric_add (gauge, 5);
  aero_metric_add (gauge, -7);
  g_assert_cmpfloat (aero_metric_get (gauge), ==, -2);
  aero_metric_set (gauge, 10);
  g_assert_cmpfloat (aero_metric_get (gauge), ==, 10);

  /* A counter may be set to mirror a count kept elsewhere. */
  aero_metric_set (counter, 100);
  g_assert_cmpfloat (aero_metric_get (counter), ==, 100);

  /* NULL series are ignored. */
  aero_metric_add (NULL, 1);
  aero_metric_inc (NULL);
  aero_metric_set (NULL, 1);
}

static void
test_counter_negative (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  AeroMetric *counter = aero_metrics_counter (metrics, "n_total", "N.");

  aero_metric_add (counter, 5);

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*n_total*-1*");
  aero_metric_add (counter, -1);
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*n_total*");
  aero_metric_add (counter, NAN);
  g_test_assert_expected_messages ();

  g_assert_cmpfloat (aero_metric_get (counter), ==, 5);
}

static void
test_invalid_names (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const bad_metric_names[] = { "", "1abc", "a-b", "a b", "a.b", "é" };
  const char *const good_metric_names[] = { "a", "_a", ":a", "a:b_c1", "Abc_total" };
  const char *const bad_label_names[] = { "", "1x", "a:b", "a-b", "__reserved", "é" };
  const char *const good_label_names[] = { "a", "_a", "A1_b" };

  for (gsize i = 0; i < G_N_ELEMENTS (bad_metric_names); i++)
    {
      g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*Invalid metric name*");
      g_assert_null (aero_metrics_family (metrics, bad_metric_names[i], AERO_METRIC_GAUGE, "", NULL));
      g_test_assert_expected_messages ();

      g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*Invalid metric name*");
      g_assert_null (aero_metrics_counter (metrics, bad_metric_names[i], ""));
      g_test_assert_expected_messages ();

      g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*Invalid metric name*");
      g_assert_null (aero_metrics_gauge (metrics, bad_metric_names[i], ""));
      g_test_assert_expected_messages ();
    }
  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*Invalid metric name*");
  g_assert_null (aero_metrics_family (metrics, NULL, AERO_METRIC_GAUGE, "", NULL));
  g_test_assert_expected_messages ();

  for (gsize i = 0; i < G_N_ELEMENTS (good_metric_names); i++)
    g_assert_nonnull (aero_metrics_gauge (metrics, good_metric_names[i], ""));

  for (gsize i = 0; i < G_N_ELEMENTS (bad_label_names); i++)
    {
      const char *const labels[] = { "ok", bad_label_names[i], NULL };

      g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*invalid label name*");
      g_assert_null (aero_metrics_family (metrics, "labelled", AERO_METRIC_GAUGE, "", labels));
      g_test_assert_expected_messages ();
    }

  for (gsize i = 0; i < G_N_ELEMENTS (good_label_names); i++)
    {
      const char *const labels[] = { good_label_names[i], NULL };
      g_autofree char *name = g_strdup_printf ("good_%" G_GSIZE_FORMAT, i);

      g_assert_nonnull (aero_metrics_family (metrics, name, AERO_METRIC_GAUGE, "", labels));
    }

  {
    const char *const twice[] = { "a", "a", NULL };

    g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*label 'a' given twice*");
    g_assert_null (aero_metrics_family (metrics, "twice", AERO_METRIC_GAUGE, "", twice));
    g_test_assert_expected_messages ();
  }

  /* Nothing invalid was registered. */
  {
    g_autofree char *text = render (metrics);

    g_assert_null (strstr (text, "labelled"));
    g_assert_null (strstr (text, "twice"));
    g_assert_null (strstr (text, "a-b"));
  }
}

static void
test_redeclare_mismatch (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const char *const ab[] = { "a", "b", NULL };
  const char *const ba[] = { "b", "a", NULL };
  const char *const a[] = { "a", NULL };
  const char *const one_value[] = { "x", NULL };
  const char *const three_values[] = { "x", "y", "z", NULL };
  AeroMetricFamily *family;

  family = aero_metrics_family (metrics, "m", AERO_METRIC_GAUGE, "M.", ab);
  g_assert_nonnull (family);

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*m declared again*");
  g_assert_null (aero_metrics_family (metrics, "m", AERO_METRIC_COUNTER, "M.", ab));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*m declared again*");
  g_assert_null (aero_metrics_family (metrics, "m", AERO_METRIC_GAUGE, "M.", ba));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*m declared again*");
  g_assert_null (aero_metrics_family (metrics, "m", AERO_METRIC_GAUGE, "M.", a));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*m declared again*");
  g_assert_null (aero_metrics_family (metrics, "m", AERO_METRIC_GAUGE, "M.", NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*m declared again*");
  g_assert_null (aero_metrics_gauge (metrics, "m", "M."));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*1 label values given for 2 labels*");
  g_assert_null (aero_metric_family_series (family, one_value));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*3 label values given for 2 labels*");
  g_assert_null (aero_metric_family_series (family, three_values));
  g_test_assert_expected_messages ();

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*0 label values given for 2 labels*");
  g_assert_null (aero_metric_family_series (family, NULL));
  g_test_assert_expected_messages ();
}

typedef struct
{
  GString *calls;
  AeroMetrics *metrics;
  guint self_id;
} CollectorData;

static void
collector_a (AeroMetrics *metrics, gpointer user_data)
{
  CollectorData *data = user_data;

  g_string_append_c (data->calls, 'a');
  aero_metric_inc (aero_metrics_gauge (metrics, "collected", "Times collected."));
}

static void
collector_b (AeroMetrics *metrics, gpointer user_data)
{
  CollectorData *data = user_data;

  g_string_append_c (data->calls, 'b');
}

static void
collector_c (AeroMetrics *metrics, gpointer user_data)
{
  CollectorData *data = user_data;

  g_string_append_c (data->calls, 'c');
}

static void
collector_once (AeroMetrics *metrics, gpointer user_data)
{
  CollectorData *data = user_data;

  g_string_append_c (data->calls, 'o');
  aero_metrics_remove_collector (metrics, data->self_id);
}

static void
test_collectors (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  g_autoptr (GString) calls = g_string_new (NULL);
  CollectorData data = { calls, metrics, 0 };
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autofree char *third = NULL;
  guint id_a, id_b, id_c;

  id_a = aero_metrics_add_collector (metrics, collector_a, &data);
  id_b = aero_metrics_add_collector (metrics, collector_b, &data);
  data.self_id = aero_metrics_add_collector (metrics, collector_once, &data);
  id_c = aero_metrics_add_collector (metrics, collector_c, &data);
  g_assert_cmpuint (id_a, !=, 0);
  g_assert_cmpuint (id_a, !=, id_b);
  g_assert_cmpuint (id_b, !=, id_c);

  /* Collectors run before rendering, in registration order. */
  first = render (metrics);
  g_assert_cmpstr (calls->str, ==, "aboc");
  g_assert_cmpstr (first, ==,
                   "# HELP collected Times collected.\n"
                   "# TYPE collected gauge\n"
                   "collected 1\n");

  aero_metrics_remove_collector (metrics, id_b);
  g_string_truncate (calls, 0);
  second = render (metrics);
  g_assert_cmpstr (calls->str, ==, "ac");
  g_assert_nonnull (strstr (second, "collected 2\n"));

  g_test_expect_message (LIB_DOMAIN, G_LOG_LEVEL_CRITICAL, "*collector*");
  aero_metrics_remove_collector (metrics, id_b);
  g_test_assert_expected_messages ();

  aero_metrics_remove_collector (metrics, id_a);
  aero_metrics_remove_collector (metrics, id_c);
  g_string_truncate (calls, 0);
  third = render (metrics);
  g_assert_cmpstr (calls->str, ==, "");
  g_assert_nonnull (strstr (third, "collected 2\n"));
}

/* The value of the unlabelled series @name in @text, or NAN. */
static double
find_value (const char *text, const char *name)
{
  g_autofree char *prefix = g_strdup_printf ("\n%s ", name);
  const char *line = strstr (text, prefix);

  if (line == NULL)
    return NAN;
  return g_ascii_strtod (line + strlen (prefix), NULL);
}

static void
test_process_metrics (void)
{
  g_autoptr (AeroMetrics) metrics = aero_metrics_new ();
  const struct {
    const char *name;
    const char *type;
  } expected[] = {
    { "process_cpu_seconds_total", "counter" },
    { "process_max_fds", "gauge" },
    { "process_open_fds", "gauge" },
    { "process_resident_memory_bytes", "gauge" },
    { "process_start_time_seconds", "gauge" },
    { "process_virtual_memory_bytes", "gauge" },
  };
  g_autofree char *text = NULL;
  double now = g_get_real_time () / (double) G_USEC_PER_SEC;
  const char *previous = NULL;

  aero_process_metrics_register (metrics);
  text = render (metrics);

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *help = g_strdup_printf ("# HELP %s ", expected[i].name);
      g_autofree char *type = g_strdup_printf ("\n# TYPE %s %s\n", expected[i].name, expected[i].type);
      const char *position = strstr (text, help);

      g_assert_nonnull (position);
      g_assert_nonnull (strstr (text, type));
      g_assert_false (isnan (find_value (text, expected[i].name)));
      /* Sorted by name. */
      g_assert_true (previous == NULL || position > previous);
      previous = position;
    }

  g_assert_cmpfloat (find_value (text, "process_cpu_seconds_total"), >=, 0);
  g_assert_cmpfloat (find_value (text, "process_open_fds"), >=, 3);
  g_assert_cmpfloat (find_value (text, "process_max_fds"), >=, find_value (text, "process_open_fds"));
  g_assert_cmpfloat (find_value (text, "process_resident_memory_bytes"), >, 0);
  g_assert_cmpfloat (find_value (text, "process_virtual_memory_bytes"), >=,
                     find_value (text, "process_resident_memory_bytes"));
  g_assert_cmpfloat (fabs (find_value (text, "process_start_time_seconds") - now), <, 300);
  g_assert_nonnull (strstr (text, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/metrics/render/registry", test_render_registry);
  g_test_add_func ("/metrics/render/empty", test_empty_registry);
  g_test_add_func ("/metrics/render/label-escaping", test_label_escaping);
  g_test_add_func ("/metrics/render/values", test_values);
  g_test_add_func ("/metrics/same-family", test_same_family);
  g_test_add_func ("/metrics/series-keys", test_series_keys);
  g_test_add_func ("/metrics/updates", test_updates);
  g_test_add_func ("/metrics/counter-negative", test_counter_negative);
  g_test_add_func ("/metrics/invalid-names", test_invalid_names);
  g_test_add_func ("/metrics/redeclare-mismatch", test_redeclare_mismatch);
  g_test_add_func ("/metrics/collectors", test_collectors);
  g_test_add_func ("/metrics/process", test_process_metrics);

  return g_test_run ();
}
