/* aero-frame.c — the frame sink and frame source interfaces. */
#include "aero-net/aero-frame.h"

G_DEFINE_INTERFACE (AeroFrameSink, aero_frame_sink, G_TYPE_OBJECT)

static guint sink_ready_signal;

static gboolean
sink_default_is_ready (AeroFrameSink *self)
{
  return TRUE;
}

static void
aero_frame_sink_default_init (AeroFrameSinkInterface *iface)
{
  iface->is_ready = sink_default_is_ready;

  /**
   * AeroFrameSink::ready:
   *
   * Emitted when a sink that dropped frames or reported not ready has room
   * again.
   */
  sink_ready_signal = g_signal_new ("ready", G_TYPE_FROM_INTERFACE (iface), G_SIGNAL_RUN_LAST,
                                    0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

AeroFlowReturn
aero_frame_sink_push (AeroFrameSink *self, GBytes *frame)
{
  AeroFrameSinkInterface *iface;

  g_return_val_if_fail (AERO_IS_FRAME_SINK (self), AERO_FLOW_CLOSED);
  g_return_val_if_fail (frame != NULL, AERO_FLOW_DROPPED);

  iface = AERO_FRAME_SINK_GET_IFACE (self);
  g_return_val_if_fail (iface->push != NULL, AERO_FLOW_CLOSED);
  return iface->push (self, frame);
}

gboolean
aero_frame_sink_is_ready (AeroFrameSink *self)
{
  AeroFrameSinkInterface *iface;

  g_return_val_if_fail (AERO_IS_FRAME_SINK (self), FALSE);
  iface = AERO_FRAME_SINK_GET_IFACE (self);
  return iface->is_ready ? iface->is_ready (self) : TRUE;
}

void
aero_frame_sink_notify_ready (AeroFrameSink *self)
{
  g_return_if_fail (AERO_IS_FRAME_SINK (self));
  g_signal_emit (self, sink_ready_signal, 0);
}

G_DEFINE_INTERFACE (AeroFrameSource, aero_frame_source, G_TYPE_OBJECT)

static GQuark
linked_sink_quark (void)
{
  static GQuark q;

  if (G_UNLIKELY (q == 0))
    q = g_quark_from_static_string ("aero-linked-sink");
  return q;
}

static void
source_default_set_sink (AeroFrameSource *self, AeroFrameSink *sink)
{
  g_object_set_qdata (G_OBJECT (self), linked_sink_quark (), sink);
}

static AeroFrameSink *
source_default_get_sink (AeroFrameSource *self)
{
  return g_object_get_qdata (G_OBJECT (self), linked_sink_quark ());
}

static void
aero_frame_source_default_init (AeroFrameSourceInterface *iface)
{
  iface->set_sink = source_default_set_sink;
  iface->get_sink = source_default_get_sink;
}

void
aero_frame_source_set_sink (AeroFrameSource *self, AeroFrameSink *sink)
{
  g_return_if_fail (AERO_IS_FRAME_SOURCE (self));
  g_return_if_fail (sink == NULL || AERO_IS_FRAME_SINK (sink));
  AERO_FRAME_SOURCE_GET_IFACE (self)->set_sink (self, sink);
}

AeroFrameSink *
aero_frame_source_get_sink (AeroFrameSource *self)
{
  g_return_val_if_fail (AERO_IS_FRAME_SOURCE (self), NULL);
  return AERO_FRAME_SOURCE_GET_IFACE (self)->get_sink (self);
}

AeroFlowReturn
aero_frame_source_emit (AeroFrameSource *self, GBytes *frame)
{
  AeroFrameSink *sink = aero_frame_source_get_sink (self);

  if (sink == NULL)
    return AERO_FLOW_CLOSED;
  return aero_frame_sink_push (sink, frame);
}
