/* aero-frame.h — Ethernet frames and the sink/source interfaces that move them.
 *
 * A frame is one Ethernet frame without FCS, carried as an immutable,
 * refcounted GBytes. Elements pass frames by reference; nobody copies a
 * frame on the hot path.
 *
 * A sink accepts frames with aero_frame_sink_push(). Backpressure is
 * explicit: every sink has a bounded queue (or none), and push answers
 * AERO_FLOW_DROPPED when the frame could not be taken. The caller counts the
 * drop; the frame is simply lost, as on a real wire. A sink that dropped may
 * later emit "ready" when it has room again, so that a producer able to
 * pause (a stack reading host sockets, say) can resume.
 *
 * A source emits frames into the one sink it is linked to. Bidirectional
 * elements (channels, stacks, NICs) implement both interfaces. */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/** AERO_ETH_HEADER_LEN: length of an Ethernet II header (no VLAN tag). */
#define AERO_ETH_HEADER_LEN 14
/** AERO_FRAME_MAX_LEN: largest frame any aero-net element accepts. */
#define AERO_FRAME_MAX_LEN 65535

/**
 * AeroFlowReturn:
 * @AERO_FLOW_OK: the sink took the frame.
 * @AERO_FLOW_DROPPED: the sink was full or refused the frame; it is lost.
 * @AERO_FLOW_CLOSED: the sink is closed (or nothing is linked); lost.
 *
 * What happened to a frame handed to a sink.
 */
typedef enum {
  AERO_FLOW_OK = 0,
  AERO_FLOW_DROPPED = 1,
  AERO_FLOW_CLOSED = 2,
} AeroFlowReturn;

#define AERO_TYPE_FRAME_SINK (aero_frame_sink_get_type ())
G_DECLARE_INTERFACE (AeroFrameSink, aero_frame_sink, AERO, FRAME_SINK, GObject)

/**
 * AeroFrameSinkInterface:
 * @push: take one frame (transfer none: ref it to keep it). Must not block.
 * @is_ready: optional; whether a push now would be accepted. Default: TRUE.
 */
struct _AeroFrameSinkInterface
{
  GTypeInterface g_iface;

  AeroFlowReturn (*push) (AeroFrameSink *self, GBytes *frame);
  gboolean (*is_ready) (AeroFrameSink *self);

  gpointer padding[6];
};

/**
 * aero_frame_sink_push:
 * @self: a sink
 * @frame: (transfer none): one Ethernet frame
 *
 * Hands one frame to the sink. Never blocks.
 *
 * Returns: whether the frame was taken, dropped, or the sink is closed.
 */
AeroFlowReturn aero_frame_sink_push (AeroFrameSink *self, GBytes *frame);

/**
 * aero_frame_sink_is_ready:
 * @self: a sink
 *
 * Returns: %TRUE if a push now would be accepted rather than dropped.
 */
gboolean aero_frame_sink_is_ready (AeroFrameSink *self);

/**
 * aero_frame_sink_notify_ready:
 * @self: a sink
 *
 * Emits the "ready" signal. Sinks call this when room becomes available
 * after they answered %AERO_FLOW_DROPPED or reported not ready.
 */
void aero_frame_sink_notify_ready (AeroFrameSink *self);

#define AERO_TYPE_FRAME_SOURCE (aero_frame_source_get_type ())
G_DECLARE_INTERFACE (AeroFrameSource, aero_frame_source, AERO, FRAME_SOURCE, GObject)

/**
 * AeroFrameSourceInterface:
 * @set_sink: optional; link to @sink (or unlink with %NULL). The default
 *   implementation stores an unowned pointer on the object.
 * @get_sink: optional; counterpart of @set_sink.
 */
struct _AeroFrameSourceInterface
{
  GTypeInterface g_iface;

  void (*set_sink) (AeroFrameSource *self, AeroFrameSink *sink);
  AeroFrameSink *(*get_sink) (AeroFrameSource *self);

  gpointer padding[6];
};

/**
 * aero_frame_source_set_sink:
 * @self: a source
 * @sink: (nullable) (transfer none): where emitted frames go, or %NULL
 *
 * Links the source to a sink. The link does not hold a reference: whoever
 * links two elements (normally the session) owns both and unlinks them
 * before either is finalized.
 */
void aero_frame_source_set_sink (AeroFrameSource *self, AeroFrameSink *sink);

/**
 * aero_frame_source_get_sink:
 * @self: a source
 *
 * Returns: (nullable) (transfer none): the linked sink.
 */
AeroFrameSink *aero_frame_source_get_sink (AeroFrameSource *self);

/**
 * aero_frame_source_emit:
 * @self: a source
 * @frame: (transfer none): one Ethernet frame
 *
 * Pushes @frame into the linked sink.
 *
 * Returns: the sink's answer, or %AERO_FLOW_CLOSED when nothing is linked.
 */
AeroFlowReturn aero_frame_source_emit (AeroFrameSource *self, GBytes *frame);

G_END_DECLS
