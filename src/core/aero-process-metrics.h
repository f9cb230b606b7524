/* aero-process-metrics.h — the standard Prometheus process metrics
 * (CPU time, memory, file descriptors, start time), read from /proc.
 * Private to libaero-net; not installed. */
#pragma once

#include <aero-net/aero-metrics.h>

G_BEGIN_DECLS

/**
 * aero_process_metrics_register:
 * @metrics: a registry
 *
 * Declares process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_start_time_seconds,
 * process_open_fds and process_max_fds in @metrics and adds a collector
 * that refreshes them from /proc/self before each rendering. Where /proc
 * cannot be read the values stay as they were.
 */
void aero_process_metrics_register (AeroMetrics *metrics);

G_END_DECLS
