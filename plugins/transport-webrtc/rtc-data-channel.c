/* rtc-data-channel.c — marshals a DataChannel's events to the main context
 * through a bounded queue (see the header). */
#include <string.h>

#include "rtc-data-channel.h"

typedef enum {
  EVENT_MESSAGE,
  EVENT_LOW,
  EVENT_CLOSED,
  EVENT_ERROR,
} EventType;

typedef struct {
  EventType type;
  GBytes *data;                  /* MESSAGE */
  gboolean is_text;              /* MESSAGE */
  char *text;                    /* ERROR */
} Event;

struct _RtcDataChannel
{
  GObject parent_instance;

  GstWebRTCDataChannel *channel; /* owned */
  GMainContext *context;         /* owned */
  gsize max_queued;
  char *label;
  gboolean ordered;
  gint max_retransmits;
  gint max_packet_lifetime;
  gint id;

  GMutex lock;                   /* guards everything below */
  GQueue events;                 /* Event* */
  gsize queued_bytes;
  guint64 dropped;               /* messages dropped on a full queue, not yet taken */
  gboolean started;
  gboolean detached;
  GSource *drain;                /* the pending idle, if any */
  GPtrArray *handlers;           /* signal handler ids on the channel */
};

G_DEFINE_FINAL_TYPE (RtcDataChannel, rtc_data_channel, G_TYPE_OBJECT)

enum { SIGNAL_MESSAGE, SIGNAL_LOW, SIGNAL_CLOSED, SIGNAL_ERROR, N_SIGNALS };
static guint signals[N_SIGNALS];

static void
event_free (Event *e)
{
  g_clear_pointer (&e->data, g_bytes_unref);
  g_free (e->text);
  g_free (e);
}

static gboolean drain_cb (gpointer user_data);

/* With the lock held: makes sure one idle will drain the queue. */
static void
schedule_drain_locked (RtcDataChannel *self)
{
  if (self->drain != NULL || !self->started || self->detached || self->events.length == 0)
    return;
  self->drain = g_idle_source_new ();
  g_source_set_priority (self->drain, G_PRIORITY_DEFAULT);
  g_source_set_callback (self->drain, drain_cb, g_object_ref (self), g_object_unref);
  g_source_set_static_name (self->drain, "rtc-data-channel");
  g_source_attach (self->drain, self->context);
}

/* Any thread. Takes ownership of @e. */
static void
push_event (RtcDataChannel *self, Event *e)
{
  gsize size = e->data ? g_bytes_get_size (e->data) : 0;

  g_mutex_lock (&self->lock);
  if (self->detached)
    {
      g_mutex_unlock (&self->lock);
      event_free (e);
      return;
    }
  if (e->type == EVENT_MESSAGE && self->queued_bytes + size > self->max_queued)
    {
      self->dropped++;
      g_mutex_unlock (&self->lock);
      event_free (e);
      return;
    }
  self->queued_bytes += size;
  g_queue_push_tail (&self->events, e);
  schedule_drain_locked (self);
  g_mutex_unlock (&self->lock);
}

static gboolean
drain_cb (gpointer user_data)
{
  RtcDataChannel *self = user_data;
  GQueue batch = G_QUEUE_INIT;
  Event *e;

  g_mutex_lock (&self->lock);
  g_clear_pointer (&self->drain, g_source_unref);
  batch = self->events;
  g_queue_init (&self->events);
  self->queued_bytes = 0;
  g_mutex_unlock (&self->lock);

  while ((e = g_queue_pop_head (&batch)) != NULL)
    {
      gboolean detached;

      g_mutex_lock (&self->lock);
      detached = self->detached;
      g_mutex_unlock (&self->lock);
      if (!detached)
        switch (e->type)
          {
          case EVENT_MESSAGE:
            g_signal_emit (self, signals[SIGNAL_MESSAGE], 0, e->data, e->is_text);
            break;
          case EVENT_LOW:
            g_signal_emit (self, signals[SIGNAL_LOW], 0);
            break;
          case EVENT_CLOSED:
            g_signal_emit (self, signals[SIGNAL_CLOSED], 0);
            break;
          case EVENT_ERROR:
            g_signal_emit (self, signals[SIGNAL_ERROR], 0, e->text);
            break;
          }
      event_free (e);
    }
  return G_SOURCE_REMOVE;
}

/* ---- webrtcbin's threads ------------------------------------------------------ */

static void
on_message_data (GstWebRTCDataChannel *channel, GBytes *data, gpointer user_data)
{
  Event *e = g_new0 (Event, 1);

  e->type = EVENT_MESSAGE;
  e->data = data ? g_bytes_ref (data) : g_bytes_new (NULL, 0);
  push_event (user_data, e);
}

static void
on_message_string (GstWebRTCDataChannel *channel, const char *str, gpointer user_data)
{
  Event *e = g_new0 (Event, 1);

  e->type = EVENT_MESSAGE;
  e->is_text = TRUE;
  e->data = str ? g_bytes_new (str, strlen (str)) : g_bytes_new (NULL, 0);
  push_event (user_data, e);
}

static void
on_close (GstWebRTCDataChannel *channel, gpointer user_data)
{
  Event *e = g_new0 (Event, 1);

  e->type = EVENT_CLOSED;
  push_event (user_data, e);
}

static void
on_error (GstWebRTCDataChannel *channel, GError *error, gpointer user_data)
{
  Event *e = g_new0 (Event, 1);

  e->type = EVENT_ERROR;
  e->text = g_strdup (error ? error->message : "unknown error");
  push_event (user_data, e);
}

static void
on_buffered_amount_low (GstWebRTCDataChannel *channel, gpointer user_data)
{
  Event *e = g_new0 (Event, 1);

  e->type = EVENT_LOW;
  push_event (user_data, e);
}

static void
connect_one (RtcDataChannel *self, const char *signal, GCallback callback)
{
  gulong id = g_signal_connect_data (self->channel, signal, callback, g_object_ref (self),
                                     (GClosureNotify) g_object_unref, 0);

  g_ptr_array_add (self->handlers, GSIZE_TO_POINTER ((gsize) id));
}

/**
 * rtc_data_channel_new:
 * @channel: a DataChannel of webrtcbin (any thread: typically called from
 *   on-data-channel, so that no message is missed)
 * @context: where the events are delivered
 * @max_queued_bytes: bound of the event queue
 *
 * Returns: (transfer full): the wrapper, not started.
 */
RtcDataChannel *
rtc_data_channel_new (GstWebRTCDataChannel *channel, GMainContext *context,
                      gsize max_queued_bytes)
{
  RtcDataChannel *self = g_object_new (RTC_TYPE_DATA_CHANNEL, NULL);

  self->channel = g_object_ref (channel);
  self->context = g_main_context_ref (context);
  self->max_queued = max_queued_bytes;
  g_object_get (channel, "label", &self->label, "ordered", &self->ordered, "max-retransmits",
                &self->max_retransmits, "max-packet-lifetime", &self->max_packet_lifetime, "id",
                &self->id, NULL);
  g_mutex_lock (&self->lock);
  connect_one (self, "on-message-data", G_CALLBACK (on_message_data));
  connect_one (self, "on-message-string", G_CALLBACK (on_message_string));
  connect_one (self, "on-close", G_CALLBACK (on_close));
  connect_one (self, "on-error", G_CALLBACK (on_error));
  connect_one (self, "on-buffered-amount-low", G_CALLBACK (on_buffered_amount_low));
  g_mutex_unlock (&self->lock);
  return self;
}

/* ---- the main context ---------------------------------------------------------- */

/**
 * rtc_data_channel_start:
 * @self: a wrapper
 *
 * Starts delivering events (those queued meanwhile first).
 */
void
rtc_data_channel_start (RtcDataChannel *self)
{
  g_mutex_lock (&self->lock);
  self->started = TRUE;
  schedule_drain_locked (self);
  g_mutex_unlock (&self->lock);
}

/**
 * rtc_data_channel_is_started:
 * @self: a wrapper
 *
 * Returns: whether rtc_data_channel_start() has been called (an owner has
 *   taken the channel).
 */
gboolean
rtc_data_channel_is_started (RtcDataChannel *self)
{
  gboolean started;

  g_mutex_lock (&self->lock);
  started = self->started;
  g_mutex_unlock (&self->lock);
  return started;
}

/**
 * rtc_data_channel_detach:
 * @self: a wrapper
 *
 * Disconnects from the DataChannel: no event is delivered from now on.
 * Idempotent.
 */
void
rtc_data_channel_detach (RtcDataChannel *self)
{
  g_autoptr (GPtrArray) handlers = NULL;
  GSource *drain;

  g_mutex_lock (&self->lock);
  if (self->detached)
    {
      g_mutex_unlock (&self->lock);
      return;
    }
  self->detached = TRUE;
  handlers = g_steal_pointer (&self->handlers);
  drain = g_steal_pointer (&self->drain);
  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  self->queued_bytes = 0;
  g_mutex_unlock (&self->lock);

  if (drain)
    {
      g_source_destroy (drain);
      g_source_unref (drain);
    }
  for (guint i = 0; i < handlers->len; i++)
    g_signal_handler_disconnect (self->channel,
                                 (gulong) GPOINTER_TO_SIZE (g_ptr_array_index (handlers, i)));
}

const char *
rtc_data_channel_get_label (RtcDataChannel *self)
{
  return self->label ? self->label : "";
}

gboolean
rtc_data_channel_get_ordered (RtcDataChannel *self)
{
  return self->ordered;
}

gint
rtc_data_channel_get_max_retransmits (RtcDataChannel *self)
{
  return self->max_retransmits;
}

gint
rtc_data_channel_get_max_packet_lifetime (RtcDataChannel *self)
{
  return self->max_packet_lifetime;
}

gint
rtc_data_channel_get_id (RtcDataChannel *self)
{
  return self->id;
}

gboolean
rtc_data_channel_is_open (RtcDataChannel *self)
{
  GstWebRTCDataChannelState state = GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED;

  g_object_get (self->channel, "ready-state", &state, NULL);
  return state == GST_WEBRTC_DATA_CHANNEL_STATE_OPEN;
}

/**
 * rtc_data_channel_send:
 * @self: a wrapper
 * @data: one binary message
 * @error: return location for a #GError
 *
 * Returns: %TRUE when the channel took the message.
 */
gboolean
rtc_data_channel_send (RtcDataChannel *self, GBytes *data, GError **error)
{
  if (self->detached)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "channel detached");
      return FALSE;
    }
  return gst_webrtc_data_channel_send_data_full (self->channel, data, error);
}

guint64
rtc_data_channel_get_buffered_amount (RtcDataChannel *self)
{
  guint64 amount = 0;

  g_object_get (self->channel, "buffered-amount", &amount, NULL);
  return amount;
}

void
rtc_data_channel_set_low_threshold (RtcDataChannel *self, guint64 threshold)
{
  g_object_set (self->channel, "buffered-amount-low-threshold", threshold, NULL);
}

/**
 * rtc_data_channel_close:
 * @self: a wrapper
 *
 * Begins closing the DataChannel ("closed" follows unless detached first).
 */
void
rtc_data_channel_close (RtcDataChannel *self)
{
  gst_webrtc_data_channel_close (self->channel);
}

/**
 * rtc_data_channel_take_dropped:
 * @self: a wrapper
 *
 * Returns: the messages dropped on a full queue since the last call.
 */
guint64
rtc_data_channel_take_dropped (RtcDataChannel *self)
{
  guint64 n;

  g_mutex_lock (&self->lock);
  n = self->dropped;
  self->dropped = 0;
  g_mutex_unlock (&self->lock);
  return n;
}

static void
rtc_data_channel_finalize (GObject *object)
{
  RtcDataChannel *self = RTC_DATA_CHANNEL (object);

  g_queue_clear_full (&self->events, (GDestroyNotify) event_free);
  if (self->drain)
    g_source_unref (self->drain);
  g_clear_pointer (&self->handlers, g_ptr_array_unref);
  g_clear_object (&self->channel);
  g_main_context_unref (self->context);
  g_free (self->label);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (rtc_data_channel_parent_class)->finalize (object);
}

static void
rtc_data_channel_class_init (RtcDataChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = rtc_data_channel_finalize;
  signals[SIGNAL_MESSAGE] = g_signal_new ("message", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_BYTES,
                                          G_TYPE_BOOLEAN);
  signals[SIGNAL_LOW] = g_signal_new ("buffered-amount-low", G_TYPE_FROM_CLASS (klass),
                                      G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ERROR] = g_signal_new ("error", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
rtc_data_channel_init (RtcDataChannel *self)
{
  g_mutex_init (&self->lock);
  g_queue_init (&self->events);
  self->handlers = g_ptr_array_new ();
}
