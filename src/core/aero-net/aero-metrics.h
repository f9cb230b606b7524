/* aero-metrics.h — counters and gauges served on /metrics.
 *
 * The core owns one registry and renders it in the Prometheus text
 * exposition format (version 0.0.4). A plugin declares a metric family once
 * at start-up (name, type, help, label names) and then asks for one series
 * per set of label values; updating a series is a plain add on a double.
 * Metrics are updated from the main context only.
 *
 * Names follow Prometheus rules ([a-zA-Z_:][a-zA-Z0-9_:]*); counters end in
 * _total. Plugins prefix their metrics with aero_<plugin>_. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * AeroMetricType:
 * @AERO_METRIC_COUNTER: a value that only goes up.
 * @AERO_METRIC_GAUGE: a value that goes up and down.
 */
typedef enum {
  AERO_METRIC_COUNTER,
  AERO_METRIC_GAUGE,
} AeroMetricType;

typedef struct _AeroMetrics AeroMetrics;
typedef struct _AeroMetricFamily AeroMetricFamily;
typedef struct _AeroMetric AeroMetric;

/**
 * AeroMetricsCollectFunc:
 * @metrics: the registry being rendered
 * @user_data: data given at registration
 *
 * Called just before /metrics is rendered, to refresh gauges whose value is
 * computed (process figures, queue depths).
 */
typedef void (*AeroMetricsCollectFunc) (AeroMetrics *metrics, gpointer user_data);

/**
 * aero_metrics_new:
 *
 * Creates an empty registry. The daemon has one; embedders may make their own.
 *
 * Returns: (transfer full): a registry; free with aero_metrics_free().
 */
AeroMetrics *aero_metrics_new (void);

/**
 * aero_metrics_free:
 * @metrics: (nullable): a registry
 *
 * Frees the registry and every family and series in it.
 */
void aero_metrics_free (AeroMetrics *metrics);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroMetrics, aero_metrics_free)

/**
 * aero_metrics_family:
 * @metrics: a registry
 * @name: metric name
 * @type: counter or gauge
 * @help: one line of help text
 * @label_names: (nullable): %NULL-terminated label names, or %NULL
 *
 * Declares a family, or returns the existing one with the same name. A
 * second declaration with a different type or label set is a programming
 * error (g_critical) and returns %NULL.
 *
 * Returns: (transfer none) (nullable): the family, owned by the registry.
 */
AeroMetricFamily *aero_metrics_family (AeroMetrics *metrics, const char *name, AeroMetricType type,
                                       const char *help, const char *const *label_names);

/**
 * aero_metric_family_series:
 * @family: a family
 * @label_values: (nullable): values matching the family's label names
 *
 * Returns the series with these label values, creating it at zero. Label
 * values are escaped on output and may be any UTF-8.
 *
 * Returns: (transfer none): the series, owned by the family.
 */
AeroMetric *aero_metric_family_series (AeroMetricFamily *family, const char *const *label_values);

/**
 * aero_metrics_counter:
 * @metrics: a registry
 * @name: metric name, ending in _total
 * @help: help text
 *
 * Shorthand for a counter without labels.
 *
 * Returns: (transfer none): the single series.
 */
AeroMetric *aero_metrics_counter (AeroMetrics *metrics, const char *name, const char *help);

/**
 * aero_metrics_gauge:
 * @metrics: a registry
 * @name: metric name
 * @help: help text
 *
 * Shorthand for a gauge without labels.
 *
 * Returns: (transfer none): the single series.
 */
AeroMetric *aero_metrics_gauge (AeroMetrics *metrics, const char *name, const char *help);

/**
 * aero_metrics_instance_series:
 * @metrics: a registry
 * @name: metric name
 * @type: counter or gauge
 * @help: help text
 * @instance: the instance name (value of the "instance" label)
 * @label: (nullable): a second label name, or %NULL for "instance" only
 * @value: (nullable): the value of @label (ignored without @label)
 *
 * Shorthand for a plugin instance's series: declares (or finds) the family
 * labelled "instance" (and @label) and returns the series for @instance
 * (and @value).
 *
 * Returns: (transfer none) (nullable): the series, or %NULL if the family
 *   was declared before with another type or label set.
 */
AeroMetric *aero_metrics_instance_series (AeroMetrics *metrics, const char *name,
                                          AeroMetricType type, const char *help,
                                          const char *instance, const char *label,
                                          const char *value);

/**
 * aero_metrics_instance_series_all:
 * @metrics: a registry
 * @name: metric name
 * @type: counter or gauge
 * @help: help text
 * @instance: the instance name
 * @label: the second label's name
 * @values: (array length=n): every value the label takes
 * @n: number of @values
 * @out: (out caller-allocates) (array length=n): the series, one per value
 *
 * Like aero_metrics_instance_series() for every value of @label at once,
 * so that a scrape shows the zeros before anything happened.
 */
void aero_metrics_instance_series_all (AeroMetrics *metrics, const char *name, AeroMetricType type,
                                       const char *help, const char *instance, const char *label,
                                       const char *const *values, guint n, AeroMetric **out);

/**
 * aero_metric_add:
 * @metric: (nullable): a series
 * @value: amount to add (counters: must be ≥ 0)
 *
 * Adds to a series. %NULL is ignored so callers need not check.
 */
void aero_metric_add (AeroMetric *metric, double value);

/**
 * aero_metric_inc:
 * @metric: (nullable): a series
 *
 * Adds one.
 */
void aero_metric_inc (AeroMetric *metric);

/**
 * aero_metric_set:
 * @metric: (nullable): a series
 * @value: the new value
 *
 * Sets a gauge, or a counter that mirrors a count kept elsewhere (from a
 * collector; the value must never go down).
 */
void aero_metric_set (AeroMetric *metric, double value);

/**
 * aero_metric_get:
 * @metric: a series
 *
 * Returns: the current value.
 */
double aero_metric_get (AeroMetric *metric);

/**
 * aero_metrics_add_collector:
 * @metrics: a registry
 * @func: called before each rendering
 * @user_data: passed to @func
 *
 * Registers a callback that refreshes computed gauges.
 *
 * Returns: an id for aero_metrics_remove_collector().
 */
guint aero_metrics_add_collector (AeroMetrics *metrics, AeroMetricsCollectFunc func,
                                  gpointer user_data);

/**
 * aero_metrics_remove_collector:
 * @metrics: a registry
 * @id: from aero_metrics_add_collector()
 *
 * Unregisters a collector.
 */
void aero_metrics_remove_collector (AeroMetrics *metrics, guint id);

/**
 * aero_metrics_render:
 * @metrics: a registry
 *
 * Runs the collectors and renders every family, sorted by name, in the
 * Prometheus text format, each with its HELP and TYPE lines.
 *
 * Returns: (transfer full): the text.
 */
GString *aero_metrics_render (AeroMetrics *metrics);

G_END_DECLS
