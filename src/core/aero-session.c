/* aero-session.c — one VM's LAN: the channel, its filters and its stack.
 *
 * Frames from the guest enter through the channel, which is linked to the
 * session's guest port; they run through the filters in order and go to
 * the stack. Frames from the stack enter through the host port, run
 * through the filters in reverse order and go to the channel. When the
 * channel reports closed, every link is cut at once, so no frame moves
 * afterwards, and the stack and filters are released from an idle
 * callback (never from inside one of their own calls).
 *
 * On the way in, before the filters, a session hands each frame to its
 * capture writer, if any, and applies its per-tunnel rate limits (frames
 * per second: over it the session closes; bytes per second, each way: over
 * it the frame is dropped) with the same limiter the policies use; the
 * limits cost a clock read and never allocate. Frames to the guest are
 * limited before the channel and captured once it took them. */
#include "aero-session-private.h"
#include "aero-net/aero-filter.h"
#include "aero-net/aero-policy.h"
#include "aero-net/aero-ratelimit.h"

/* ---- ports: the two sinks a session exposes ---------------------------- */

#define AERO_TYPE_SESSION_PORT (aero_session_port_get_type ())
G_DECLARE_FINAL_TYPE (AeroSessionPort, aero_session_port, AERO, SESSION_PORT, GObject)

struct _AeroSessionPort
{
  GObject parent_instance;
  AeroSession *session; /* unowned */
  gboolean to_guest;
};

static AeroFlowReturn session_from_guest (AeroSession *self, GBytes *frame);
static AeroFlowReturn session_to_guest (AeroSession *self, GBytes *frame);
static gboolean session_downstream_ready (AeroSession *self, gboolean to_guest);

static AeroFlowReturn
port_push (AeroFrameSink *sink, GBytes *frame)
{
  AeroSessionPort *port = AERO_SESSION_PORT (sink);

  if (port->session == NULL)
    return AERO_FLOW_CLOSED;
  return port->to_guest ? session_to_guest (port->session, frame)
                        : session_from_guest (port->session, frame);
}

/* A port is ready when the element behind it is: readiness passes through
 * the session so that a producer can pause instead of dropping. */
static gboolean
port_is_ready (AeroFrameSink *sink)
{
  AeroSessionPort *port = AERO_SESSION_PORT (sink);

  if (port->session == NULL)
    return FALSE;
  return session_downstream_ready (port->session, port->to_guest);
}

static void
port_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = port_push;
  iface->is_ready = port_is_ready;
}

G_DEFINE_TYPE_WITH_CODE (AeroSessionPort, aero_session_port, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, port_sink_init))

static void
aero_session_port_class_init (AeroSessionPortClass *klass)
{
}

static void
aero_session_port_init (AeroSessionPort *self)
{
}

/* ---- the session -------------------------------------------------------- */

struct _AeroSession
{
  GObject parent_instance;

  AeroHost *host; /* unowned: the host owns the session */
  char *id;
  AeroChannel *channel;
  AeroStack *stack;
  GPtrArray *filters; /* AeroFilter */
  AeroSessionPort *guest_port;
  AeroSessionPort *host_port;
  gulong closed_handler;
  gulong channel_ready_handler;
  gulong stack_ready_handler;
  AeroSessionCounters counters;
  AeroSessionMetrics metrics;
  AeroRateLimit *frame_limit;     /* from the guest; nullable */
  AeroRateLimit *byte_limit[2];   /* per direction; nullable */
  gboolean frame_limit_tripped;
  AeroCaptureWriter *capture;     /* nullable */
  AeroCloseReason close_reason;
  gboolean closed;
  guint teardown_idle;
};

G_DEFINE_TYPE (AeroSession, aero_session, G_TYPE_OBJECT)

enum { SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static AeroFlowReturn
drop_from_guest (AeroSession *self)
{
  self->counters.drops_from_guest++;
  aero_metric_inc (self->metrics.drops[0]);
  return AERO_FLOW_DROPPED;
}

/* The per-tunnel limits on a frame from the guest. */
static gboolean
limits_pass_from_guest (AeroSession *self, gsize len)
{
  gint64 now = g_get_monotonic_time ();

  if (self->frame_limit &&
      aero_rate_limit_take (self->frame_limit, 1, now) != AERO_RATE_LIMIT_OK)
    {
      if (!self->frame_limit_tripped)
        {
          self->frame_limit_tripped = TRUE;
          aero_metric_inc (self->metrics.rate_limit_closes);
          aero_session_close (self, AERO_CLOSE_QUOTA_FPS, "frame rate limit exceeded");
        }
      return FALSE;
    }
  if (self->byte_limit[0] &&
      aero_rate_limit_take (self->byte_limit[0], len, now) != AERO_RATE_LIMIT_OK)
    {
      aero_metric_inc (self->metrics.rate_limit_drops[0]);
      return FALSE;
    }
  return TRUE;
}

static AeroFlowReturn
session_from_guest (AeroSession *self, GBytes *frame)
{
  gsize len = g_bytes_get_size (frame);
  AeroFlowReturn ret;

  if (self->closed)
    return AERO_FLOW_CLOSED;

  self->counters.frames_from_guest++;
  self->counters.bytes_from_guest += len;
  aero_metric_inc (self->metrics.frames[0]);
  aero_metric_add (self->metrics.bytes[0], (double) len);
  if (self->capture)
    aero_capture_write (self->capture, FALSE, frame);
  if ((self->frame_limit || self->byte_limit[0]) && !limits_pass_from_guest (self, len))
    return self->closed ? AERO_FLOW_CLOSED : drop_from_guest (self);

  for (guint i = 0; i < self->filters->len; i++)
    {
      AeroFilterVerdict v = aero_filter_from_guest (g_ptr_array_index (self->filters, i), frame);

      if (v == AERO_FILTER_CONSUMED)
        return AERO_FLOW_OK;
      if (v == AERO_FILTER_DROP || self->closed)
        {
          self->counters.drops_from_guest++;
          aero_metric_inc (self->metrics.drops[0]);
          return self->closed ? AERO_FLOW_CLOSED : AERO_FLOW_DROPPED;
        }
    }

  ret = aero_frame_sink_push (AERO_FRAME_SINK (self->stack), frame);
  if (ret != AERO_FLOW_OK)
    {
      self->counters.drops_from_guest++;
      aero_metric_inc (self->metrics.drops[0]);
    }
  return ret;
}

static AeroFlowReturn
deliver_to_guest (AeroSession *self, GBytes *frame)
{
  AeroFlowReturn ret;

  if (self->byte_limit[1] &&
      aero_rate_limit_take (self->byte_limit[1], g_bytes_get_size (frame),
                            g_get_monotonic_time ()) != AERO_RATE_LIMIT_OK)
    {
      aero_metric_inc (self->metrics.rate_limit_drops[1]);
      self->counters.drops_to_guest++;
      aero_metric_inc (self->metrics.drops[1]);
      return AERO_FLOW_DROPPED;
    }
  ret = aero_frame_sink_push (AERO_FRAME_SINK (self->channel), frame);
  if (ret == AERO_FLOW_OK)
    {
      gsize len = g_bytes_get_size (frame);

      if (self->capture)
        aero_capture_write (self->capture, TRUE, frame);
      self->counters.frames_to_guest++;
      self->counters.bytes_to_guest += len;
      aero_metric_inc (self->metrics.frames[1]);
      aero_metric_add (self->metrics.bytes[1], (double) len);
    }
  else
    {
      self->counters.drops_to_guest++;
      aero_metric_inc (self->metrics.drops[1]);
    }
  return ret;
}

static AeroFlowReturn
session_to_guest (AeroSession *self, GBytes *frame)
{
  if (self->closed)
    return AERO_FLOW_CLOSED;

  for (guint i = self->filters->len; i > 0; i--)
    {
      AeroFilterVerdict v = aero_filter_to_guest (g_ptr_array_index (self->filters, i - 1), frame);

      if (v == AERO_FILTER_CONSUMED)
        return AERO_FLOW_OK;
      if (v == AERO_FILTER_DROP || self->closed)
        {
          self->counters.drops_to_guest++;
          aero_metric_inc (self->metrics.drops[1]);
          return self->closed ? AERO_FLOW_CLOSED : AERO_FLOW_DROPPED;
        }
    }
  return deliver_to_guest (self, frame);
}

AeroFlowReturn
aero_session_send_to_guest (AeroSession *self, GBytes *frame)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), AERO_FLOW_CLOSED);
  if (self->closed)
    return AERO_FLOW_CLOSED;
  return deliver_to_guest (self, frame);
}

AeroFlowReturn
aero_session_send_to_stack (AeroSession *self, GBytes *frame)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), AERO_FLOW_CLOSED);
  if (self->closed || self->stack == NULL)
    return AERO_FLOW_CLOSED;
  return aero_frame_sink_push (AERO_FRAME_SINK (self->stack), frame);
}

static gboolean
session_downstream_ready (AeroSession *self, gboolean to_guest)
{
  if (self->closed)
    return FALSE;
  if (to_guest)
    return aero_frame_sink_is_ready (AERO_FRAME_SINK (self->channel));
  return self->stack != NULL && aero_frame_sink_is_ready (AERO_FRAME_SINK (self->stack));
}

/* The channel has room again: tell the stack, which sends to the guest. */
static void
on_channel_ready (AeroFrameSink *sink, gpointer data)
{
  AeroSession *self = data;

  if (!self->closed && self->host_port)
    aero_frame_sink_notify_ready (AERO_FRAME_SINK (self->host_port));
}

/* The stack has room again: tell the channel, which sends to the stack. */
static void
on_stack_ready (AeroFrameSink *sink, gpointer data)
{
  AeroSession *self = data;

  if (!self->closed && self->guest_port)
    aero_frame_sink_notify_ready (AERO_FRAME_SINK (self->guest_port));
}

static void
unlink_all (AeroSession *self)
{
  if (self->channel)
    aero_frame_source_set_sink (AERO_FRAME_SOURCE (self->channel), NULL);
  if (self->stack)
    aero_frame_source_set_sink (AERO_FRAME_SOURCE (self->stack), NULL);
  if (self->guest_port)
    self->guest_port->session = NULL;
  if (self->host_port)
    self->host_port->session = NULL;
}

void
aero_session_teardown (AeroSession *self)
{
  g_return_if_fail (AERO_IS_SESSION (self));

  unlink_all (self);
  g_clear_handle_id (&self->teardown_idle, g_source_remove);
  if (self->channel)
    g_clear_signal_handler (&self->channel_ready_handler, self->channel);
  if (self->stack)
    g_clear_signal_handler (&self->stack_ready_handler, self->stack);
  if (self->stack)
    aero_stack_close (self->stack);
  g_clear_object (&self->stack);
  if (self->filters)
    g_ptr_array_set_size (self->filters, 0);
  g_clear_pointer (&self->capture, aero_capture_writer_close);
}

static gboolean
teardown_idle_cb (gpointer data)
{
  AeroSession *self = data;

  self->teardown_idle = 0;
  aero_session_teardown (self);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
  return G_SOURCE_REMOVE;
}

static void
on_channel_closed (AeroChannel *channel, int reason, gpointer data)
{
  AeroSession *self = data;

  if (self->closed)
    return;
  self->closed = TRUE;
  self->close_reason = (AeroCloseReason) reason;
  unlink_all (self);
  self->teardown_idle = g_idle_add_full (G_PRIORITY_DEFAULT, teardown_idle_cb,
                                         g_object_ref (self), g_object_unref);
}

static void
aero_session_dispose (GObject *object)
{
  AeroSession *self = AERO_SESSION (object);

  aero_session_teardown (self);
  if (self->channel && self->closed_handler)
    g_clear_signal_handler (&self->closed_handler, self->channel);
  g_clear_object (&self->channel);
  g_clear_object (&self->guest_port);
  g_clear_object (&self->host_port);
  G_OBJECT_CLASS (aero_session_parent_class)->dispose (object);
}

static void
aero_session_finalize (GObject *object)
{
  AeroSession *self = AERO_SESSION (object);

  g_free (self->id);
  g_ptr_array_unref (self->filters);
  g_clear_pointer (&self->frame_limit, aero_rate_limit_free);
  g_clear_pointer (&self->byte_limit[0], aero_rate_limit_free);
  g_clear_pointer (&self->byte_limit[1], aero_rate_limit_free);
  G_OBJECT_CLASS (aero_session_parent_class)->finalize (object);
}

static void
aero_session_class_init (AeroSessionClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = aero_session_dispose;
  object_class->finalize = aero_session_finalize;

  /**
   * AeroSession::closed:
   *
   * Emitted once the session has been torn down.
   */
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
aero_session_init (AeroSession *self)
{
  self->filters = g_ptr_array_new_with_free_func (g_object_unref);
}

AeroSession *
aero_session_new (AeroHost *host, const char *id, AeroChannel *channel,
                  const AeroSessionMetrics *metrics)
{
  AeroSession *self = g_object_new (AERO_TYPE_SESSION, NULL);

  self->host = host;
  self->id = g_strdup (id);
  self->channel = g_object_ref (channel);
  if (metrics)
    self->metrics = *metrics;
  self->guest_port = g_object_new (AERO_TYPE_SESSION_PORT, NULL);
  self->guest_port->session = self;
  self->host_port = g_object_new (AERO_TYPE_SESSION_PORT, NULL);
  self->host_port->session = self;
  self->host_port->to_guest = TRUE;
  aero_channel_set_session_id (channel, id);
  return self;
}

void
aero_session_set_limits (AeroSession *self, const AeroTunnelLimits *limits)
{
  gint64 now = g_get_monotonic_time ();

  g_return_if_fail (AERO_IS_SESSION (self));
  g_clear_pointer (&self->frame_limit, aero_rate_limit_free);
  g_clear_pointer (&self->byte_limit[0], aero_rate_limit_free);
  g_clear_pointer (&self->byte_limit[1], aero_rate_limit_free);
  if (limits == NULL)
    return;
  if (limits->frames_per_second > 0)
    self->frame_limit = aero_rate_limit_new (limits->frames_per_second, limits->frames_burst, 0,
                                             now);
  if (limits->bytes_per_second > 0)
    for (int d = 0; d < 2; d++)
      self->byte_limit[d] = aero_rate_limit_new (limits->bytes_per_second, limits->bytes_burst, 0,
                                                 now);
}

void
aero_session_set_capture (AeroSession *self, AeroCaptureWriter *writer)
{
  g_return_if_fail (AERO_IS_SESSION (self));
  g_clear_pointer (&self->capture, aero_capture_writer_close);
  self->capture = writer;
}

gboolean
aero_session_setup (AeroSession *self, AeroStackFactory *factory, GPtrArray *filters,
                    GError **error)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), FALSE);

  for (guint i = 0; filters && i < filters->len; i++)
    {
      GObject *component = g_ptr_array_index (filters, i);
      AeroFilter *filter;

      if (AERO_IS_POLICY (component))
        filter = aero_policy_filter_new (AERO_POLICY (component), self);
      else
        filter = aero_filter_factory_create_filter (AERO_FILTER_FACTORY (component), self, error);
      if (filter == NULL)
        return FALSE;
      g_ptr_array_add (self->filters, filter);
    }

  self->stack = aero_stack_factory_create_stack (factory, self, error);
  if (self->stack == NULL)
    return FALSE;

  aero_frame_source_set_sink (AERO_FRAME_SOURCE (self->stack), AERO_FRAME_SINK (self->host_port));
  aero_frame_source_set_sink (AERO_FRAME_SOURCE (self->channel), AERO_FRAME_SINK (self->guest_port));
  self->closed_handler = g_signal_connect (self->channel, "closed", G_CALLBACK (on_channel_closed),
                                           self);
  self->channel_ready_handler = g_signal_connect (self->channel, "ready",
                                                  G_CALLBACK (on_channel_ready), self);
  self->stack_ready_handler = g_signal_connect (self->stack, "ready", G_CALLBACK (on_stack_ready),
                                                self);
  if (aero_channel_is_closed (self->channel))
    on_channel_closed (self->channel, AERO_CLOSE_NORMAL, self);
  return TRUE;
}

const char *
aero_session_get_id (AeroSession *self)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), NULL);
  return self->id;
}

AeroChannel *
aero_session_get_channel (AeroSession *self)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), NULL);
  return self->channel;
}

AeroHost *
aero_session_get_host (AeroSession *self)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), NULL);
  return self->host;
}

void
aero_session_get_counters (AeroSession *self, AeroSessionCounters *out)
{
  g_return_if_fail (AERO_IS_SESSION (self));
  g_return_if_fail (out != NULL);
  *out = self->counters;
}

void
aero_session_close (AeroSession *self, AeroCloseReason reason, const char *message)
{
  g_return_if_fail (AERO_IS_SESSION (self));
  if (self->closed || self->channel == NULL)
    return;
  aero_channel_close (self->channel, reason, message);
}

gboolean
aero_session_is_closed (AeroSession *self)
{
  g_return_val_if_fail (AERO_IS_SESSION (self), TRUE);
  return self->closed;
}

AeroCloseReason
aero_session_get_close_reason (AeroSession *self)
{
  return self->close_reason;
}
