/* aero-capture.c — per-session pcapng capture with rotation and a total
 * cap (see aero-capture.h).
 *
 * A writer keeps a queue of segments, one per file it has started: the
 * encoded blocks waiting for the disk, and the file's output stream. Only
 * the head segment is ever being written (one asynchronous write or close
 * at a time, on GIO's worker threads); a finished segment is closed once
 * its blocks are out. The capture keeps the list of files of this process,
 * oldest first, for the total cap. */
#include <errno.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "aero-capture.h"
#include "aero-net/aero-log.h"
#include "aero-net/aero-version.h"
#include "aero-pcapng.h"

#define COMPONENT "capture"

#define DEFAULT_FILE_SIZE (16 * 1024 * 1024)
#define DEFAULT_TOTAL_SIZE (G_GUINT64_CONSTANT (1024) * 1024 * 1024)
#define DEFAULT_BUFFER_SIZE (1024 * 1024)
#define DEFAULT_SNAPLEN 65535

typedef enum {
  DROP_BUFFER_FULL,
  DROP_TOTAL_SIZE,
  DROP_WRITE_ERROR,
  N_DROPS
} DropReason;

static const char *const drop_names[N_DROPS] = { "buffer_full", "total_size", "write_error" };

typedef struct {
  char *path;
  guint64 size; /* bytes queued or written */
  gboolean open; /* its writer has not closed it yet */
} CaptureFile;

typedef struct {
  CaptureFile *file; /* owned by the capture's list */
  GOutputStream *stream;
  GByteArray *pending;
  guint packets;
  gboolean finished; /* nothing more is appended; close once written */
} Segment;

struct _AeroCaptureWriter
{
  AeroCapture *capture; /* NULL once the capture is gone */
  char *session_id;
  char *description;
  guint n_files;
  GQueue segments; /* Segment*, oldest first */
  guint64 queued;  /* bytes in pending buffers or being written */
  GBytes *inflight;
  GCancellable *cancellable;
  gboolean busy;
  gboolean closing;
  gboolean failed;
};

struct _AeroCapture
{
  gboolean enabled;
  char *directory;
  guint64 file_size;
  guint64 total_size;
  guint64 buffer_size;
  guint snaplen;
  gboolean stop_when_full;

  GQueue files;   /* CaptureFile*, oldest first */
  guint64 total;  /* bytes of those files */
  gboolean stopped;
  GList *writers; /* AeroCaptureWriter*, open or still writing */

  GSourceFunc idle_func;
  gpointer idle_data;
  guint idle_timeout;
  guint idle_source;

  AeroMetric *packets[2];
  AeroMetric *bytes_written;
  AeroMetric *dropped[N_DROPS];
  AeroMetric *files_created;
  AeroMetric *files_deleted;
  AeroMetric *disk_bytes;
};

static void writer_kick (AeroCaptureWriter *w);

/* ---- the capture ---------------------------------------------------------- */

AeroCapture *
aero_capture_new (AeroMetrics *metrics)
{
  static const char *const dir_labels[] = { "direction", NULL };
  static const char *const reason_labels[] = { "reason", NULL };
  static const char *const dirs[2][2] = { { "from_guest", NULL }, { "to_guest", NULL } };
  AeroCapture *self = g_new0 (AeroCapture, 1);
  AeroMetricFamily *packets, *dropped;

  self->file_size = DEFAULT_FILE_SIZE;
  self->total_size = DEFAULT_TOTAL_SIZE;
  self->buffer_size = DEFAULT_BUFFER_SIZE;
  self->snaplen = DEFAULT_SNAPLEN;
  g_queue_init (&self->files);

  packets = aero_metrics_family (metrics, "aero_capture_packets_total", AERO_METRIC_COUNTER,
                                 "Frames queued for the capture files, by direction.",
                                 dir_labels);
  dropped = aero_metrics_family (metrics, "aero_capture_dropped_total", AERO_METRIC_COUNTER,
                                 "Frames not captured: buffer_full (the disk is behind), "
                                 "total_size (the total cap is reached), write_error.",
                                 reason_labels);
  for (int d = 0; d < 2; d++)
    self->packets[d] = aero_metric_family_series (packets, dirs[d]);
  for (int r = 0; r < N_DROPS; r++)
    {
      const char *values[] = { drop_names[r], NULL };

      self->dropped[r] = aero_metric_family_series (dropped, values);
    }
  self->bytes_written = aero_metrics_counter (metrics, "aero_capture_bytes_written_total",
                                              "Bytes written to capture files.");
  self->files_created = aero_metrics_counter (metrics, "aero_capture_files_created_total",
                                              "Capture files started (a session's first "
                                              "file and each rotation).");
  self->files_deleted = aero_metrics_counter (metrics, "aero_capture_files_deleted_total",
                                              "Finished capture files deleted to stay under "
                                              "total-size.");
  self->disk_bytes = aero_metrics_gauge (metrics, "aero_capture_disk_bytes",
                                         "Bytes in the capture files this process has kept.");
  return self;
}

static void
capture_file_free (CaptureFile *file)
{
  g_free (file->path);
  g_free (file);
}

static void segment_free (Segment *seg);
static void writer_free (AeroCaptureWriter *w);

void
aero_capture_free (AeroCapture *capture)
{
  if (capture == NULL)
    return;
  g_clear_handle_id (&capture->idle_timeout, g_source_remove);
  g_clear_handle_id (&capture->idle_source, g_source_remove);
  for (GList *l = capture->writers; l; l = l->next)
    {
      AeroCaptureWriter *w = l->data;

      /* A writer with an operation under way frees itself when it ends. */
      w->capture = NULL;
      g_cancellable_cancel (w->cancellable);
      if (!w->busy)
        writer_free (w);
    }
  g_list_free (capture->writers);
  g_queue_clear_full (&capture->files, (GDestroyNotify) capture_file_free);
  g_free (capture->directory);
  g_free (capture);
}

gboolean
aero_capture_configure (AeroCapture *capture, AeroConfigGroup *group, const char *base_dir,
                        GError **error)
{
  static const char *const when_full[] = { "delete-oldest", "stop", NULL };
  g_autofree char *directory = NULL;
  gint64 snaplen;
  guint action = 0;

  if (!aero_config_group_get_bool (group, "enabled", FALSE, &capture->enabled, error))
    return FALSE;
  directory = aero_config_group_get_string (group, "directory", NULL, capture->enabled, error);
  if (directory == NULL && capture->enabled)
    return FALSE;
  if (directory && *directory == '\0')
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "directory",
                               "expected a directory, got an empty value");
      return FALSE;
    }
  if (!aero_config_group_get_size (group, "file-size", 4 * 1024, G_GUINT64_CONSTANT (4) << 30,
                                   DEFAULT_FILE_SIZE, &capture->file_size, error) ||
      !aero_config_group_get_size (group, "total-size", 4 * 1024, G_GUINT64_CONSTANT (1) << 40,
                                   MAX (DEFAULT_TOTAL_SIZE, capture->file_size),
                                   &capture->total_size, error) ||
      !aero_config_group_get_size (group, "buffer-size", 64 * 1024, 256 * 1024 * 1024,
                                   DEFAULT_BUFFER_SIZE, &capture->buffer_size, error) ||
      !aero_config_group_get_int (group, "snaplen", 64, 262144, DEFAULT_SNAPLEN, &snaplen, error) ||
      !aero_config_group_get_enum (group, "on-total-size", when_full, 0, &action, error))
    return FALSE;
  if (capture->total_size < capture->file_size)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "total-size",
                               "expected at least file-size (%" G_GUINT64_FORMAT " bytes), got %"
                               G_GUINT64_FORMAT " bytes",
                               capture->file_size, capture->total_size);
      return FALSE;
    }
  capture->snaplen = (guint) snaplen;
  capture->stop_when_full = action == 1;
  g_free (capture->directory);
  capture->directory = NULL;
  if (directory)
    capture->directory = g_path_is_absolute (directory)
                           ? g_steal_pointer (&directory)
                           : g_build_filename (base_dir ? base_dir : ".", directory, NULL);
  return aero_config_group_check_unknown_keys (group, error);
}

gboolean
aero_capture_is_enabled (AeroCapture *capture)
{
  return capture != NULL && capture->enabled;
}

gboolean
aero_capture_start (AeroCapture *capture, GError **error)
{
  if (!aero_capture_is_enabled (capture))
    return TRUE;
  if (g_mkdir_with_parents (capture->directory, 0700) != 0)
    {
      int saved = errno;

      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "[capture] directory: cannot create '%s': %s", capture->directory,
                   g_strerror (saved));
      return FALSE;
    }
  AERO_LOG_INFO (COMPONENT, "directory", capture->directory, "MESSAGE",
                 "capturing every session to %s (pcapng; %" G_GUINT64_FORMAT
                 " bytes per file, %" G_GUINT64_FORMAT " in total)",
                 capture->directory, capture->file_size, capture->total_size);
  return TRUE;
}

static void
set_disk_gauge (AeroCapture *capture)
{
  aero_metric_set (capture->disk_bytes, (double) capture->total);
}

/* Deletes the oldest file that is closed. */
static gboolean
delete_oldest (AeroCapture *capture)
{
  for (GList *l = capture->files.head; l; l = l->next)
    {
      CaptureFile *file = l->data;

      if (file->open)
        continue;
      if (g_unlink (file->path) != 0 && errno != ENOENT)
        AERO_LOG_WARNING (COMPONENT, "file", file->path, "MESSAGE",
                          "cannot delete capture file: %s", g_strerror (errno));
      else
        AERO_LOG_DEBUG (COMPONENT, "file", file->path, "MESSAGE",
                        "deleted capture file to stay under total-size");
      capture->total -= file->size;
      aero_metric_inc (capture->files_deleted);
      g_queue_delete_link (&capture->files, l);
      capture_file_free (file);
      set_disk_gauge (capture);
      return TRUE;
    }
  return FALSE;
}

/* Makes room for @bytes under total-size. */
static gboolean
reserve_total (AeroCapture *capture, guint64 bytes)
{
  if (capture->stopped)
    return FALSE;
  while (capture->total + bytes > capture->total_size)
    {
      if (capture->stop_when_full)
        {
          capture->stopped = TRUE;
          AERO_LOG_WARNING (COMPONENT, "directory", capture->directory, "MESSAGE",
                            "capture stopped: the files reached total-size (%" G_GUINT64_FORMAT
                            " bytes)",
                            capture->total_size);
          return FALSE;
        }
      if (!delete_oldest (capture))
        return FALSE;
    }
  return TRUE;
}

static gboolean
idle_call_cb (gpointer data)
{
  AeroCapture *capture = data;
  GSourceFunc func = capture->idle_func;

  capture->idle_source = 0;
  capture->idle_func = NULL;
  g_clear_handle_id (&capture->idle_timeout, g_source_remove);
  if (func)
    func (capture->idle_data);
  return G_SOURCE_REMOVE;
}

static gboolean
idle_timeout_cb (gpointer data)
{
  AeroCapture *capture = data;

  capture->idle_timeout = 0;
  if (capture->writers)
    AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                      "%u capture writer(s) still busy; their last frames may be lost",
                      g_list_length (capture->writers));
  idle_call_cb (capture);
  return G_SOURCE_REMOVE;
}

void
aero_capture_when_idle (AeroCapture *capture, guint timeout_ms, GSourceFunc func, gpointer data)
{
  gboolean busy = FALSE;

  for (GList *l = capture->writers; l; l = l->next)
    {
      AeroCaptureWriter *w = l->data;

      if (w->busy || w->queued > 0 || w->segments.length > 0)
        busy = TRUE;
    }
  if (!busy)
    {
      func (data);
      return;
    }
  capture->idle_func = func;
  capture->idle_data = data;
  g_clear_handle_id (&capture->idle_timeout, g_source_remove);
  capture->idle_timeout = g_timeout_add (timeout_ms, idle_timeout_cb, capture);
}

/* ---- writers ---------------------------------------------------------------- */

static void
segment_free (Segment *seg)
{
  g_clear_object (&seg->stream);
  if (seg->pending)
    g_byte_array_unref (seg->pending);
  g_free (seg);
}

static void
writer_free (AeroCaptureWriter *w)
{
  Segment *seg;

  while ((seg = g_queue_pop_head (&w->segments)))
    {
      if (seg->file)
        seg->file->open = FALSE;
      segment_free (seg);
    }
  g_clear_pointer (&w->inflight, g_bytes_unref);
  g_clear_object (&w->cancellable);
  g_free (w->session_id);
  g_free (w->description);
  g_free (w);
}

/* The writer has written and closed everything after its session ended. */
static void
writer_done (AeroCaptureWriter *w)
{
  AeroCapture *capture = w->capture;

  if (capture)
    {
      capture->writers = g_list_remove (capture->writers, w);
      if (capture->idle_func && capture->writers == NULL && capture->idle_source == 0)
        capture->idle_source = g_idle_add (idle_call_cb, capture);
    }
  writer_free (w);
}

AeroCaptureWriter *
aero_capture_open (AeroCapture *capture, const char *session_id, const char *description)
{
  AeroCaptureWriter *w;

  if (!aero_capture_is_enabled (capture) || capture->stopped)
    return NULL;
  w = g_new0 (AeroCaptureWriter, 1);
  w->capture = capture;
  w->session_id = g_strdup (session_id);
  w->description = g_strdup (description);
  w->cancellable = g_cancellable_new ();
  g_queue_init (&w->segments);
  capture->writers = g_list_prepend (capture->writers, w);
  return w;
}

static void
drop (AeroCaptureWriter *w, DropReason reason)
{
  if (w->capture)
    aero_metric_inc (w->capture->dropped[reason]);
}

static Segment *
current_segment (AeroCaptureWriter *w)
{
  Segment *seg = g_queue_peek_tail (&w->segments);

  return seg && !seg->finished ? seg : NULL;
}

/* Starts the next file: the current segment is finished, a new one made
 * with the file's header blocks queued. */
static gboolean
start_file (AeroCaptureWriter *w, const GByteArray *header)
{
  AeroCapture *capture = w->capture;
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autoptr (GFile) file = NULL;
  GFileOutputStream *stream;
  Segment *seg = current_segment (w);
  CaptureFile *entry;

  if (seg)
    seg->finished = TRUE;
  name = g_strdup_printf ("%s-%04u.pcapng", w->session_id, ++w->n_files);
  entry = g_new0 (CaptureFile, 1);
  entry->path = g_build_filename (capture->directory, name, NULL);
  file = g_file_new_for_path (entry->path);
  stream = g_file_replace (file, NULL, FALSE, G_FILE_CREATE_PRIVATE, NULL, &error);
  if (stream == NULL)
    {
      AERO_LOG_WARNING (COMPONENT, "session", w->session_id, "file", entry->path, "MESSAGE",
                        "cannot create capture file: %s; capture of this session stops",
                        error->message);
      capture_file_free (entry);
      w->failed = TRUE;
      return FALSE;
    }
  entry->open = TRUE;
  entry->size = header->len;
  g_queue_push_tail (&capture->files, entry);
  capture->total += header->len;
  set_disk_gauge (capture);
  aero_metric_inc (capture->files_created);

  seg = g_new0 (Segment, 1);
  seg->file = entry;
  seg->stream = G_OUTPUT_STREAM (stream);
  seg->pending = g_byte_array_sized_new (MAX (header->len, 4096));
  g_byte_array_append (seg->pending, header->data, header->len);
  w->queued += header->len;
  g_queue_push_tail (&w->segments, seg);
  AERO_LOG_DEBUG (COMPONENT, "session", w->session_id, "file", entry->path, "MESSAGE",
                  "capture file started");
  return TRUE;
}

static GByteArray *
make_header (AeroCaptureWriter *w)
{
  GByteArray *header = g_byte_array_new ();
  g_autofree char *name = g_strdup_printf ("aero-%s", w->session_id);

  aero_pcapng_append_section_header (header, "aero-netd " AERO_NET_VERSION);
  aero_pcapng_append_interface (header, AERO_PCAPNG_LINKTYPE_ETHERNET, w->capture->snaplen, name,
                                w->description);
  return header;
}

void
aero_capture_write (AeroCaptureWriter *w, gboolean to_guest, GBytes *frame)
{
  AeroCapture *capture;
  g_autoptr (GByteArray) header = NULL;
  gsize len, captured, block;
  guint64 needed;
  Segment *seg;

  if (w == NULL || w->capture == NULL || w->closing)
    return;
  capture = w->capture;
  if (w->failed)
    {
      drop (w, DROP_WRITE_ERROR);
      return;
    }
  len = g_bytes_get_size (frame);
  captured = MIN (len, capture->snaplen);
  block = aero_pcapng_packet_size (captured);

  seg = current_segment (w);
  /* A new file when there is none, or when this block would take the
   * current one past file-size (a file holds at least one packet). */
  if (seg == NULL ||
      (seg->file->size + block > capture->file_size && seg->packets > 0))
    header = make_header (w);
  needed = block + (header ? header->len : 0);

  if (w->queued + needed > capture->buffer_size)
    {
      drop (w, DROP_BUFFER_FULL);
      return;
    }
  if (!reserve_total (capture, needed))
    {
      drop (w, DROP_TOTAL_SIZE);
      return;
    }
  if (header && !start_file (w, header))
    {
      drop (w, DROP_WRITE_ERROR);
      return;
    }
  seg = current_segment (w);
  aero_pcapng_append_packet (seg->pending, g_get_real_time (), g_bytes_get_data (frame, NULL),
                             captured, len,
                             to_guest ? AERO_PCAPNG_FLAG_OUTBOUND : AERO_PCAPNG_FLAG_INBOUND);
  seg->packets++;
  seg->file->size += block;
  capture->total += block;
  w->queued += block;
  set_disk_gauge (capture);
  aero_metric_inc (capture->packets[to_guest ? 1 : 0]);
  writer_kick (w);
}

/* After a write error nothing more is written: pending blocks are
 * dropped and the files closed. */
static void
writer_fail (AeroCaptureWriter *w, const GError *error)
{
  if (!w->failed && w->capture)
    AERO_LOG_WARNING (COMPONENT, "session", w->session_id, "MESSAGE",
                      "cannot write capture file: %s; capture of this session stops",
                      error ? error->message : "unknown error");
  w->failed = TRUE;
  for (GList *l = w->segments.head; l; l = l->next)
    {
      Segment *seg = l->data;

      w->queued -= seg->pending->len;
      g_byte_array_set_size (seg->pending, 0);
      seg->finished = TRUE;
    }
}

static void
write_done (GObject *source, GAsyncResult *result, gpointer data)
{
  AeroCaptureWriter *w = data;
  g_autoptr (GError) error = NULL;
  gsize size = g_bytes_get_size (w->inflight);
  gsize written = 0;

  w->busy = FALSE;
  g_clear_pointer (&w->inflight, g_bytes_unref);
  w->queued -= size;
  if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), result, &written, &error))
    writer_fail (w, error);
  else if (w->capture)
    aero_metric_add (w->capture->bytes_written, (double) written);
  if (w->capture == NULL)
    {
      writer_free (w);
      return;
    }
  writer_kick (w);
}

static void
close_done (GObject *source, GAsyncResult *result, gpointer data)
{
  AeroCaptureWriter *w = data;
  g_autoptr (GError) error = NULL;
  Segment *seg = g_queue_pop_head (&w->segments);

  w->busy = FALSE;
  if (!g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, &error) && w->capture &&
      !w->failed)
    AERO_LOG_WARNING (COMPONENT, "session", w->session_id, "MESSAGE",
                      "cannot close capture file: %s", error->message);
  if (seg->file)
    seg->file->open = FALSE;
  segment_free (seg);
  if (w->capture == NULL)
    {
      writer_free (w);
      return;
    }
  writer_kick (w);
}

/* Starts the next write or close of the head segment, if any; ends the
 * writer when its session is gone and everything is out. */
static void
writer_kick (AeroCaptureWriter *w)
{
  Segment *seg;

  if (w->busy)
    return;
  seg = g_queue_peek_head (&w->segments);
  if (seg == NULL)
    {
      if (w->closing)
        writer_done (w);
      return;
    }
  if (seg->pending->len > 0)
    {
      w->inflight = g_byte_array_free_to_bytes (seg->pending);
      seg->pending = g_byte_array_new ();
      w->busy = TRUE;
      g_output_stream_write_all_async (seg->stream, g_bytes_get_data (w->inflight, NULL),
                                       g_bytes_get_size (w->inflight), G_PRIORITY_DEFAULT,
                                       w->cancellable, write_done, w);
      return;
    }
  if (seg->finished)
    {
      w->busy = TRUE;
      g_output_stream_close_async (seg->stream, G_PRIORITY_DEFAULT, w->cancellable, close_done,
                                   w);
    }
}

void
aero_capture_writer_close (AeroCaptureWriter *w)
{
  Segment *seg;

  if (w == NULL)
    return;
  w->closing = TRUE;
  seg = current_segment (w);
  if (seg)
    seg->finished = TRUE;
  writer_kick (w);
}
