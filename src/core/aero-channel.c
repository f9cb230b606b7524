/* aero-channel.c — base class of the channels transports hand to the core. */
#include "aero-net/aero-channel.h"
#include "aero-net/aero-watch.h"

typedef struct {
  char *peer;
  char *principal;
  char *session_id;
  gboolean closing;
  gboolean closed;
} AeroChannelPrivate;

static void aero_channel_sink_init (AeroFrameSinkInterface *iface);
static void aero_channel_source_init (AeroFrameSourceInterface *iface);

G_DEFINE_ABSTRACT_TYPE_WITH_CODE (AeroChannel, aero_channel, G_TYPE_OBJECT,
                                  G_ADD_PRIVATE (AeroChannel)
                                  G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, aero_channel_sink_init)
                                  G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, aero_channel_source_init))

enum { SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

const char *
aero_close_reason_to_string (AeroCloseReason reason)
{
  switch (reason)
    {
    case AERO_CLOSE_NORMAL: return "normal";
    case AERO_CLOSE_SHUTDOWN: return "shutdown";
    case AERO_CLOSE_PROTOCOL_ERROR: return "protocol_error";
    case AERO_CLOSE_POLICY: return "policy";
    case AERO_CLOSE_QUOTA_BYTES: return "quota_bytes";
    case AERO_CLOSE_QUOTA_FPS: return "quota_fps";
    case AERO_CLOSE_QUOTA_CONNECTIONS: return "quota_connections";
    case AERO_CLOSE_BACKPRESSURE: return "backpressure";
    case AERO_CLOSE_IDLE: return "idle";
    case AERO_CLOSE_INTERNAL_ERROR: return "internal_error";
    default: return "unknown";
    }
}

static AeroFlowReturn
channel_sink_push (AeroFrameSink *sink, GBytes *frame)
{
  AeroChannel *self = AERO_CHANNEL (sink);
  AeroChannelPrivate *priv = aero_channel_get_instance_private (self);
  AeroChannelClass *klass = AERO_CHANNEL_GET_CLASS (self);

  if (priv->closed || klass->push == NULL)
    return AERO_FLOW_CLOSED;
  return klass->push (self, frame);
}

static gboolean
channel_sink_is_ready (AeroFrameSink *sink)
{
  AeroChannel *self = AERO_CHANNEL (sink);
  AeroChannelPrivate *priv = aero_channel_get_instance_private (self);
  AeroChannelClass *klass = AERO_CHANNEL_GET_CLASS (self);

  if (priv->closed)
    return FALSE;
  return klass->is_ready ? klass->is_ready (self) : TRUE;
}

static void
aero_channel_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = channel_sink_push;
  iface->is_ready = channel_sink_is_ready;
}

static void
aero_channel_source_init (AeroFrameSourceInterface *iface)
{
  /* The default (unowned qdata pointer) implementation is used. */
}

static void
aero_channel_finalize (GObject *object)
{
  AeroChannelPrivate *priv = aero_channel_get_instance_private (AERO_CHANNEL (object));

  g_free (priv->peer);
  g_free (priv->principal);
  g_free (priv->session_id);
  G_OBJECT_CLASS (aero_channel_parent_class)->finalize (object);
}

static void
aero_channel_class_init (AeroChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = aero_channel_finalize;

  /**
   * AeroChannel::closed:
   * @reason: an #AeroCloseReason (as int)
   *
   * Emitted once, when the transport reports the connection gone.
   */
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_INT);
}

static void
aero_channel_init (AeroChannel *self)
{
}

AeroFlowReturn
aero_channel_receive (AeroChannel *self, GBytes *frame)
{
  AeroChannelPrivate *priv;

  g_return_val_if_fail (AERO_IS_CHANNEL (self), AERO_FLOW_CLOSED);
  priv = aero_channel_get_instance_private (self);
  if (priv->closed)
    return AERO_FLOW_CLOSED;
  return aero_frame_source_emit (AERO_FRAME_SOURCE (self), frame);
}

void
aero_channel_close (AeroChannel *self, AeroCloseReason reason, const char *message)
{
  AeroChannelPrivate *priv;
  AeroChannelClass *klass;

  g_return_if_fail (AERO_IS_CHANNEL (self));
  priv = aero_channel_get_instance_private (self);
  if (priv->closing || priv->closed)
    return;
  priv->closing = TRUE;

  klass = AERO_CHANNEL_GET_CLASS (self);
  g_object_ref (self);
  if (klass->close)
    klass->close (self, reason, message);
  else
    aero_channel_closed (self, reason);
  g_object_unref (self);
}

void
aero_channel_closed (AeroChannel *self, AeroCloseReason reason)
{
  AeroChannelPrivate *priv;

  g_return_if_fail (AERO_IS_CHANNEL (self));
  priv = aero_channel_get_instance_private (self);
  if (priv->closed)
    return;
  priv->closing = TRUE;
  priv->closed = TRUE;
  g_object_ref (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, (int) reason);
  g_object_unref (self);
}

gboolean
aero_channel_is_closed (AeroChannel *self)
{
  AeroChannelPrivate *priv;

  g_return_val_if_fail (AERO_IS_CHANNEL (self), TRUE);
  priv = aero_channel_get_instance_private (self);
  return priv->closed;
}

gboolean
aero_channel_is_closing (AeroChannel *self)
{
  AeroChannelPrivate *priv;

  g_return_val_if_fail (AERO_IS_CHANNEL (self), TRUE);
  priv = aero_channel_get_instance_private (self);
  return priv->closing;
}

#define STRING_ACCESSORS(field)                                              \
  const char *aero_channel_get_##field (AeroChannel *self)                   \
  {                                                                          \
    AeroChannelPrivate *priv;                                                \
    g_return_val_if_fail (AERO_IS_CHANNEL (self), NULL);                     \
    priv = aero_channel_get_instance_private (self);                         \
    return priv->field;                                                      \
  }                                                                          \
  void aero_channel_set_##field (AeroChannel *self, const char *value)       \
  {                                                                          \
    AeroChannelPrivate *priv;                                                \
    g_return_if_fail (AERO_IS_CHANNEL (self));                               \
    priv = aero_channel_get_instance_private (self);                         \
    g_free (priv->field);                                                    \
    priv->field = g_strdup (value);                                          \
  }

STRING_ACCESSORS (peer)
STRING_ACCESSORS (principal)
STRING_ACCESSORS (session_id)

/* ---- idle timer ------------------------------------------------------------- */

struct _AeroIdleTimer
{
  gint64 timeout_us;
  gint64 last_us;   /* monotonic time of the last activity */
  AeroWatch *watch; /* its ready time is the pending check; NULL once fired */
  GSourceFunc func;
  gpointer user_data;
};

/* One heap entry on the context's shared watch source, not a GSource per
 * timer: thousands of quiet channels cost a main-loop iteration nothing. */
static void
idle_timer_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  AeroIdleTimer *timer = data;
  gint64 now = g_get_monotonic_time ();

  if (now - timer->last_us < timer->timeout_us)
    {
      aero_watch_set_ready_time (watch, timer->last_us + timer->timeout_us);
      return;
    }
  g_clear_pointer (&timer->watch, aero_watch_free);
  timer->func (timer->user_data);
}

AeroIdleTimer *
aero_idle_timer_new (guint timeout_ms, GSourceFunc func, gpointer user_data)
{
  AeroIdleTimer *timer = g_new0 (AeroIdleTimer, 1);

  g_return_val_if_fail (func != NULL, timer);
  timer->timeout_us = (gint64) timeout_ms * 1000;
  timer->last_us = g_get_monotonic_time ();
  timer->func = func;
  timer->user_data = user_data;
  if (timeout_ms > 0)
    {
      timer->watch = aero_watch_new (NULL, idle_timer_cb, timer);
      aero_watch_set_ready_time (timer->watch, timer->last_us + timer->timeout_us);
    }
  return timer;
}

void
aero_idle_timer_touch (AeroIdleTimer *timer)
{
  g_return_if_fail (timer != NULL);
  timer->last_us = g_get_monotonic_time ();
}

void
aero_idle_timer_free (AeroIdleTimer *timer)
{
  if (timer == NULL)
    return;
  g_clear_pointer (&timer->watch, aero_watch_free);
  g_free (timer);
}
