/* aero-capture.h — per-session packet capture in pcapng ([capture]).
 *
 * The host owns one AeroCapture; each session gets an AeroCaptureWriter
 * that writes `DIRECTORY/SESSION-N.pcapng`: a Section Header Block, an
 * Interface Description Block naming the session (Ethernet, microsecond
 * timestamps), then one Enhanced Packet Block per frame with its
 * direction in epb_flags (inbound: from the guest; outbound: to it).
 *
 * Nothing here blocks the main loop for long: frames are encoded into a
 * per-session buffer bounded by `buffer-size` and written asynchronously;
 * a frame that does not fit is dropped and counted. A file that would grow
 * past `file-size` is finished and a new one started. When the files of
 * the process would exceed `total-size`, the oldest finished file is
 * deleted (`on-total-size = delete-oldest`) or capture stops for good
 * (`stop`). Private to libaero-net. */
#pragma once

#include "aero-net/aero-config.h"
#include "aero-net/aero-metrics.h"

G_BEGIN_DECLS

typedef struct _AeroCapture AeroCapture;
typedef struct _AeroCaptureWriter AeroCaptureWriter;

/* A disabled capture with its metrics declared in @metrics. */
AeroCapture *aero_capture_new (AeroMetrics *metrics);

/* Drops every writer (their unwritten frames are lost). */
void aero_capture_free (AeroCapture *capture);

/* Reads [capture]; relative directories are taken from @base_dir. */
gboolean aero_capture_configure (AeroCapture *capture, AeroConfigGroup *group,
                                 const char *base_dir, GError **error);

gboolean aero_capture_is_enabled (AeroCapture *capture);

/* Creates the directory (mode 0700). */
gboolean aero_capture_start (AeroCapture *capture, GError **error);

/* A writer for one session; %NULL when capture is disabled or stopped.
 * Files are created when the first frame arrives. */
AeroCaptureWriter *aero_capture_open (AeroCapture *capture, const char *session_id,
                                      const char *description);

/* Queues one frame; cheap, never blocks. */
void aero_capture_write (AeroCaptureWriter *writer, gboolean to_guest, GBytes *frame);

/* Ends the writer: what is queued is written, the file closed, and the
 * writer freed by the capture. */
void aero_capture_writer_close (AeroCaptureWriter *writer);

/* Calls @func(@data) once no writer has anything left to write, or after
 * @timeout_ms, whichever comes first (at once when idle). */
void aero_capture_when_idle (AeroCapture *capture, guint timeout_ms, GSourceFunc func,
                             gpointer data);

G_END_DECLS
