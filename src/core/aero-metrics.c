/* aero-metrics.c — the metrics registry and its Prometheus text rendering
 * (exposition format 0.0.4).
 *
 * A registry holds families by name; a family holds its series in creation
 * order and indexes them by their label values. Rendering runs the
 * collectors, then prints the families sorted by name. */

#include <aero-net/aero-metrics.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct _AeroMetric
{
  AeroMetricFamily *family;
  char **label_values;
  double value;
};

struct _AeroMetricFamily
{
  char *name;
  char *help;
  AeroMetricType type;
  char **label_names;
  guint n_labels;
  GPtrArray *series;       /* AeroMetric*, in creation order; owns them */
  GHashTable *series_map;  /* series key → AeroMetric* */
};

typedef struct
{
  guint id;
  AeroMetricsCollectFunc func;  /* NULL once removed during a rendering */
  gpointer user_data;
} Collector;

struct _AeroMetrics
{
  GHashTable *families;  /* name → AeroMetricFamily*; owns them */
  GArray *collectors;    /* Collector, in registration order */
  guint next_collector_id;
  gboolean rendering;
};

static void
metric_free (gpointer data)
{
  AeroMetric *metric = data;

  g_strfreev (metric->label_values);
  g_free (metric);
}

static void
family_free (gpointer data)
{
  AeroMetricFamily *family = data;

  g_hash_table_unref (family->series_map);
  g_ptr_array_unref (family->series);
  g_strfreev (family->label_names);
  g_free (family->help);
  g_free (family->name);
  g_free (family);
}

AeroMetrics *
aero_metrics_new (void)
{
  AeroMetrics *metrics = g_new0 (AeroMetrics, 1);

  metrics->families = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, family_free);
  metrics->collectors = g_array_new (FALSE, FALSE, sizeof (Collector));
  metrics->next_collector_id = 1;
  return metrics;
}

void
aero_metrics_free (AeroMetrics *metrics)
{
  if (metrics == NULL)
    return;

  g_hash_table_unref (metrics->families);
  g_array_unref (metrics->collectors);
  g_free (metrics);
}

static gboolean
is_valid_metric_name (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_' || name[0] == ':'))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    {
      if (!(g_ascii_isalnum (*p) || *p == '_' || *p == ':'))
        return FALSE;
    }
  return TRUE;
}

static gboolean
is_valid_label_name (const char *name)
{
  if (name == NULL || !(g_ascii_isalpha (name[0]) || name[0] == '_'))
    return FALSE;
  if (g_str_has_prefix (name, "__"))
    return FALSE;
  for (const char *p = name + 1; *p != '\0'; p++)
    {
      if (!(g_ascii_isalnum (*p) || *p == '_'))
        return FALSE;
    }
  return TRUE;
}

static gboolean
same_labels (const char *const *a, const char *const *b)
{
  gsize i;

  if (a == NULL || b == NULL)
    return (a == NULL || a[0] == NULL) && (b == NULL || b[0] == NULL);
  for (i = 0; a[i] != NULL && b[i] != NULL; i++)
    {
      if (strcmp (a[i], b[i]) != 0)
        return FALSE;
    }
  return a[i] == NULL && b[i] == NULL;
}

static const char *
type_name (AeroMetricType type)
{
  return type == AERO_METRIC_COUNTER ? "counter" : "gauge";
}

/* A key that identifies a list of label values without ambiguity: each value
 * preceded by its length. */
static char *
series_key (const char *const *label_values, guint n_values)
{
  GString *key = g_string_new (NULL);

  for (guint i = 0; i < n_values; i++)
    g_string_append_printf (key, "%zu:%s", strlen (label_values[i]), label_values[i]);
  return g_string_free (key, FALSE);
}

static AeroMetric *
family_add_series (AeroMetricFamily *family, const char *const *label_values, char *key)
{
  AeroMetric *metric = g_new0 (AeroMetric, 1);

  metric->family = family;
  metric->label_values = g_new0 (char *, family->n_labels + 1);
  for (guint i = 0; i < family->n_labels; i++)
    metric->label_values[i] = g_utf8_make_valid (label_values[i], -1);
  g_ptr_array_add (family->series, metric);
  g_hash_table_insert (family->series_map, key, metric);
  return metric;
}

AeroMetricFamily *
aero_metrics_family (AeroMetrics *metrics, const char *name, AeroMetricType type,
                     const char *help, const char *const *label_names)
{
  AeroMetricFamily *family;

  g_return_val_if_fail (metrics != NULL, NULL);
  g_return_val_if_fail (type == AERO_METRIC_COUNTER || type == AERO_METRIC_GAUGE, NULL);

  if (!is_valid_metric_name (name))
    {
      g_critical ("Invalid metric name '%s'", name != NULL ? name : "(null)");
      return NULL;
    }

  family = g_hash_table_lookup (metrics->families, name);
  if (family != NULL)
    {
      if (family->type != type
          || !same_labels ((const char *const *) family->label_names, label_names))
        {
          g_critical ("Metric %s declared again with a different type or label set", name);
          return NULL;
        }
      return family;
    }

  for (guint i = 0; label_names != NULL && label_names[i] != NULL; i++)
    {
      if (!is_valid_label_name (label_names[i]))
        {
          g_critical ("Metric %s: invalid label name '%s'", name, label_names[i]);
          return NULL;
        }
      for (guint j = 0; j < i; j++)
        {
          if (strcmp (label_names[i], label_names[j]) == 0)
            {
              g_critical ("Metric %s: label '%s' given twice", name, label_names[i]);
              return NULL;
            }
        }
    }

  family = g_new0 (AeroMetricFamily, 1);
  family->name = g_strdup (name);
  family->help = g_strdup (help != NULL ? help : "");
  family->type = type;
  family->label_names = label_names != NULL ? g_strdupv ((char **) label_names) : g_new0 (char *, 1);
  family->n_labels = g_strv_length (family->label_names);
  family->series = g_ptr_array_new_with_free_func (metric_free);
  family->series_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_hash_table_insert (metrics->families, family->name, family);

  /* A family without labels has exactly one series, there from the start. */
  if (family->n_labels == 0)
    family_add_series (family, NULL, g_strdup (""));

  return family;
}

AeroMetric *
aero_metric_family_series (AeroMetricFamily *family, const char *const *label_values)
{
  g_autofree char *key = NULL;
  AeroMetric *metric;
  guint n_values;

  g_return_val_if_fail (family != NULL, NULL);

  n_values = label_values != NULL ? g_strv_length ((char **) label_values) : 0;
  if (n_values != family->n_labels)
    {
      g_critical ("Metric %s: %u label values given for %u labels",
                  family->name, n_values, family->n_labels);
      return NULL;
    }

  key = series_key (label_values, n_values);
  metric = g_hash_table_lookup (family->series_map, key);
  if (metric != NULL)
    return metric;

  return family_add_series (family, label_values, g_steal_pointer (&key));
}

AeroMetric *
aero_metrics_counter (AeroMetrics *metrics, const char *name, const char *help)
{
  AeroMetricFamily *family = aero_metrics_family (metrics, name, AERO_METRIC_COUNTER, help, NULL);

  return family != NULL ? aero_metric_family_series (family, NULL) : NULL;
}

AeroMetric *
aero_metrics_gauge (AeroMetrics *metrics, const char *name, const char *help)
{
  AeroMetricFamily *family = aero_metrics_family (metrics, name, AERO_METRIC_GAUGE, help, NULL);

  return family != NULL ? aero_metric_family_series (family, NULL) : NULL;
}

AeroMetric *
aero_metrics_instance_series (AeroMetrics *metrics, const char *name, AeroMetricType type,
                              const char *help, const char *instance, const char *label,
                              const char *value)
{
  const char *names[] = { "instance", label, NULL };
  const char *values[] = { instance, label != NULL ? value : NULL, NULL };
  AeroMetricFamily *family = aero_metrics_family (metrics, name, type, help, names);

  return family != NULL ? aero_metric_family_series (family, values) : NULL;
}

void
aero_metrics_instance_series_all (AeroMetrics *metrics, const char *name, AeroMetricType type,
                                  const char *help, const char *instance, const char *label,
                                  const char *const *values, guint n, AeroMetric **out)
{
  const char *names[] = { "instance", label, NULL };
  AeroMetricFamily *family = aero_metrics_family (metrics, name, type, help, names);

  for (guint i = 0; i < n; i++)
    {
      const char *v[] = { instance, values[i], NULL };

      out[i] = family != NULL ? aero_metric_family_series (family, v) : NULL;
    }
}

void
aero_metric_add (AeroMetric *metric, double value)
{
  if (metric == NULL)
    return;

  if (metric->family->type == AERO_METRIC_COUNTER && !(value >= 0))
    {
      g_critical ("Counter %s: cannot add %g", metric->family->name, value);
      return;
    }
  metric->value += value;
}

void
aero_metric_inc (AeroMetric *metric)
{
  aero_metric_add (metric, 1);
}

void
aero_metric_set (AeroMetric *metric, double value)
{
  /* Counters may be set too: collectors mirror counters kept elsewhere. */
  if (metric == NULL)
    return;
  metric->value = value;
}

double
aero_metric_get (AeroMetric *metric)
{
  g_return_val_if_fail (metric != NULL, 0);
  return metric->value;
}

guint
aero_metrics_add_collector (AeroMetrics *metrics, AeroMetricsCollectFunc func,
                            gpointer user_data)
{
  Collector collector;

  g_return_val_if_fail (metrics != NULL, 0);
  g_return_val_if_fail (func != NULL, 0);

  collector.id = metrics->next_collector_id++;
  collector.func = func;
  collector.user_data = user_data;
  g_array_append_val (metrics->collectors, collector);
  return collector.id;
}

void
aero_metrics_remove_collector (AeroMetrics *metrics, guint id)
{
  g_return_if_fail (metrics != NULL);

  for (guint i = 0; i < metrics->collectors->len; i++)
    {
      Collector *collector = &g_array_index (metrics->collectors, Collector, i);

      if (collector->id != id || collector->func == NULL)
        continue;
      /* During a rendering the array is being walked: only disable. */
      if (metrics->rendering)
        collector->func = NULL;
      else
        g_array_remove_index (metrics->collectors, i);
      return;
    }
  g_critical ("No metrics collector with id %u", id);
}

static void
run_collectors (AeroMetrics *metrics)
{
  metrics->rendering = TRUE;
  for (guint i = 0; i < metrics->collectors->len; i++)
    {
      Collector collector = g_array_index (metrics->collectors, Collector, i);

      if (collector.func != NULL)
        collector.func (metrics, collector.user_data);
    }
  metrics->rendering = FALSE;

  for (guint i = metrics->collectors->len; i > 0; i--)
    {
      if (g_array_index (metrics->collectors, Collector, i - 1).func == NULL)
        g_array_remove_index (metrics->collectors, i - 1);
    }
}

static void
append_help (GString *out, const char *help)
{
  for (const char *p = help; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

static void
append_label_value (GString *out, const char *value)
{
  for (const char *p = value; *p != '\0'; p++)
    {
      if (*p == '\\')
        g_string_append (out, "\\\\");
      else if (*p == '"')
        g_string_append (out, "\\\"");
      else if (*p == '\n')
        g_string_append (out, "\\n");
      else
        g_string_append_c (out, *p);
    }
}

/* Integral values below 2^53 without a decimal point or exponent; others
 * with the fewest digits that read back as the same double. */
static void
append_value (GString *out, double value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  if (isnan (value))
    {
      g_string_append (out, "NaN");
      return;
    }
  if (isinf (value))
    {
      g_string_append (out, value > 0 ? "+Inf" : "-Inf");
      return;
    }
  if (value == floor (value) && fabs (value) < 9007199254740992.0)
    {
      g_string_append_printf (out, "%" G_GINT64_FORMAT, (gint64) value);
      return;
    }
  for (int precision = 15; precision <= 17; precision++)
    {
      char format[8];

      g_snprintf (format, sizeof format, "%%.%dg", precision);
      g_ascii_formatd (buffer, sizeof buffer, format, value);
      if (precision == 17 || g_ascii_strtod (buffer, NULL) == value)
        break;
    }
  g_string_append (out, buffer);
}

static void
render_family (GString *out, AeroMetricFamily *family)
{
  g_string_append_printf (out, "# HELP %s ", family->name);
  append_help (out, family->help);
  g_string_append_printf (out, "\n# TYPE %s %s\n", family->name, type_name (family->type));

  for (guint i = 0; i < family->series->len; i++)
    {
      AeroMetric *metric = g_ptr_array_index (family->series, i);

      g_string_append (out, family->name);
      if (family->n_labels > 0)
        {
          g_string_append_c (out, '{');
          for (guint l = 0; l < family->n_labels; l++)
            {
              if (l > 0)
                g_string_append_c (out, ',');
              g_string_append_printf (out, "%s=\"", family->label_names[l]);
              append_label_value (out, metric->label_values[l]);
              g_string_append_c (out, '"');
            }
          g_string_append_c (out, '}');
        }
      g_string_append_c (out, ' ');
      append_value (out, metric->value);
      g_string_append_c (out, '\n');
    }
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GString *
aero_metrics_render (AeroMetrics *metrics)
{
  g_autofree const char **names = NULL;
  GString *out;
  guint n_names;

  g_return_val_if_fail (metrics != NULL, NULL);

  run_collectors (metrics);

  out = g_string_sized_new (4096);
  names = (const char **) g_hash_table_get_keys_as_array (metrics->families, &n_names);
  qsort (names, n_names, sizeof (char *), compare_names);
  for (guint i = 0; i < n_names; i++)
    render_family (out, g_hash_table_lookup (metrics->families, names[i]));
  return out;
}
