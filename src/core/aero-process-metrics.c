/* aero-process-metrics.c — the standard Prometheus process metrics, with the
 * names and help texts of the Prometheus client libraries, refreshed from
 * /proc/self by a collector before each rendering. Linux only; where /proc
 * cannot be read, values stay as they were. */

#include "aero-process-metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define CPU_SECONDS "process_cpu_seconds_total"
#define CPU_SECONDS_HELP "Total user and system CPU time spent in seconds."
#define RESIDENT "process_resident_memory_bytes"
#define RESIDENT_HELP "Resident memory size in bytes."
#define VIRTUAL "process_virtual_memory_bytes"
#define VIRTUAL_HELP "Virtual memory size in bytes."
#define START_TIME "process_start_time_seconds"
#define START_TIME_HELP "Start time of the process since unix epoch in seconds."
#define OPEN_FDS "process_open_fds"
#define OPEN_FDS_HELP "Number of open file descriptors."
#define MAX_FDS "process_max_fds"
#define MAX_FDS_HELP "Maximum number of open file descriptors."

/* Fields of /proc/self/stat, numbered as in proc(5). */
#define STAT_UTIME 14
#define STAT_STIME 15
#define STAT_STARTTIME 22

/* Reads /proc/self/stat and returns its fields from field 3 on (after the
 * command name, which may hold spaces and parentheses). */
static char **
read_stat_fields (void)
{
  g_autofree char *contents = NULL;
  char *after_comm;

  if (!g_file_get_contents ("/proc/self/stat", &contents, NULL, NULL))
    return NULL;
  after_comm = strrchr (contents, ')');
  if (after_comm == NULL)
    return NULL;
  return g_strsplit_set (g_strstrip (after_comm + 1), " ", -1);
}

/* proc(5) field @number from the array read_stat_fields() returns. */
static gboolean
stat_field (char **fields, guint number, guint64 *out)
{
  guint index = number - 3;
  char *end = NULL;

  if (fields == NULL || g_strv_length (fields) <= index)
    return FALSE;
  *out = g_ascii_strtoull (fields[index], &end, 10);
  return end != fields[index] && *end == '\0';
}

static gboolean
read_boot_time (guint64 *out)
{
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/stat", &contents, NULL, NULL))
    return FALSE;
  lines = g_strsplit (contents, "\n", -1);
  for (char **line = lines; *line != NULL; line++)
    {
      char *end = NULL;

      if (!g_str_has_prefix (*line, "btime "))
        continue;
      *out = g_ascii_strtoull (*line + strlen ("btime "), &end, 10);
      return end != *line + strlen ("btime ");
    }
  return FALSE;
}

static void
collect_process_metrics (AeroMetrics *metrics, gpointer user_data)
{
  long ticks = sysconf (_SC_CLK_TCK);
  long page_size = sysconf (_SC_PAGESIZE);
  g_auto (GStrv) stat_fields = read_stat_fields ();
  g_autofree char *statm = NULL;
  g_autoptr (GDir) fd_dir = NULL;
  guint64 utime, stime;
  struct rlimit limit;

  if (ticks > 0
      && stat_field (stat_fields, STAT_UTIME, &utime)
      && stat_field (stat_fields, STAT_STIME, &stime))
    aero_metric_set (aero_metrics_counter (metrics, CPU_SECONDS, CPU_SECONDS_HELP),
                     (double) (utime + stime) / ticks);

  if (page_size > 0 && g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL))
    {
      guint64 size, resident;

      if (sscanf (statm, "%" G_GUINT64_FORMAT " %" G_GUINT64_FORMAT, &size, &resident) == 2)
        {
          aero_metric_set (aero_metrics_gauge (metrics, VIRTUAL, VIRTUAL_HELP),
                           (double) size * page_size);
          aero_metric_set (aero_metrics_gauge (metrics, RESIDENT, RESIDENT_HELP),
                           (double) resident * page_size);
        }
    }

  fd_dir = g_dir_open ("/proc/self/fd", 0, NULL);
  if (fd_dir != NULL)
    {
      guint n_fds = 0;

      while (g_dir_read_name (fd_dir) != NULL)
        n_fds++;
      aero_metric_set (aero_metrics_gauge (metrics, OPEN_FDS, OPEN_FDS_HELP), n_fds);
    }

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0)
    aero_metric_set (aero_metrics_gauge (metrics, MAX_FDS, MAX_FDS_HELP),
                     limit.rlim_cur == RLIM_INFINITY ? INFINITY : (double) limit.rlim_cur);
}

void
aero_process_metrics_register (AeroMetrics *metrics)
{
  long ticks = sysconf (_SC_CLK_TCK);
  g_auto (GStrv) stat_fields = NULL;
  AeroMetric *start_time;
  guint64 boot_time, start_ticks;

  g_return_if_fail (metrics != NULL);

  aero_metrics_counter (metrics, CPU_SECONDS, CPU_SECONDS_HELP);
  aero_metrics_gauge (metrics, RESIDENT, RESIDENT_HELP);
  aero_metrics_gauge (metrics, VIRTUAL, VIRTUAL_HELP);
  aero_metrics_gauge (metrics, OPEN_FDS, OPEN_FDS_HELP);
  aero_metrics_gauge (metrics, MAX_FDS, MAX_FDS_HELP);

  /* The start time does not change: read it once. */
  start_time = aero_metrics_gauge (metrics, START_TIME, START_TIME_HELP);
  stat_fields = read_stat_fields ();
  if (ticks > 0 && read_boot_time (&boot_time)
      && stat_field (stat_fields, STAT_STARTTIME, &start_ticks))
    aero_metric_set (start_time, boot_time + (double) start_ticks / ticks);

  aero_metrics_add_collector (metrics, collect_process_metrics, NULL);
}
