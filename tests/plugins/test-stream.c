/* test-stream.c — a transport plugin for tests: length-prefixed Ethernet
 * frames over plain TCP, as QEMU's `-netdev stream` sends them.
 *
 * Configuration:
 *   [NAME]
 *   plugin = test-stream
 *   listen = 127.0.0.1:PORT   ; required
 *   close-delay = 0ms         ; a polite close waits this long (0..60s)
 *                             ; before closing the socket
 *   queue-frames = 256        ; frames waiting to be sent to the client
 *
 * Wire format, both ways: a 4-byte big-endian length, then that many bytes
 * of one Ethernet frame. A length below 14 or above 65535 is a protocol
 * error and ends the connection. Each accepted connection becomes one
 * channel, and so one session. Reads go into a buffer that holds exactly one
 * largest frame; writes come from a queue of at most queue-frames frames, and
 * a frame pushed into a full queue is dropped. */
#include <string.h>

#include <aero-net/aero-net.h>

/* Largest message on the wire: the length prefix and a maximal frame. */
#define WIRE_HEADER_LEN 4
#define READ_BUFFER_LEN (WIRE_HEADER_LEN + AERO_FRAME_MAX_LEN)

#define TEST_TYPE_STREAM_TRANSPORT (test_stream_transport_get_type ())
G_DECLARE_FINAL_TYPE (TestStreamTransport, test_stream_transport, TEST, STREAM_TRANSPORT, GObject)

#define TEST_TYPE_STREAM_CHANNEL (test_stream_channel_get_type ())
G_DECLARE_FINAL_TYPE (TestStreamChannel, test_stream_channel, TEST, STREAM_CHANNEL, AeroChannel)

/* ---- one client connection ------------------------------------------------ */

struct _TestStreamChannel
{
  AeroChannel parent_instance;

  char *component;               /* transport instance name, for logs */
  GSocketConnection *connection;
  GCancellable *cancellable;
  gboolean socket_closed;

  guint8 *read_buffer;           /* READ_BUFFER_LEN bytes */
  gsize read_start;              /* first unparsed byte */
  gsize read_end;                /* end of the data read so far */

  GQueue send_queue;             /* GBytes frames; the head is being written */
  guint send_queue_max;
  gboolean writing;
  gboolean dropped;              /* a push was refused since the queue last had room */
  guint8 write_header[WIRE_HEADER_LEN];
  GOutputVector write_vectors[2];

  guint64 close_delay_ms;
  guint close_timer;
  AeroCloseReason close_reason;
};

G_DEFINE_TYPE (TestStreamChannel, test_stream_channel, AERO_TYPE_CHANNEL)

static void channel_read_next (TestStreamChannel *self);
static void channel_write_next (TestStreamChannel *self);

/* Closes the connection now. Frames still queued are discarded; the frame
 * being written stays queued until its write callback has run, because the
 * pending write still points at it. */
static void
channel_close_socket (TestStreamChannel *self)
{
  GSocket *socket;

  if (self->socket_closed)
    return;
  self->socket_closed = TRUE;

  g_clear_handle_id (&self->close_timer, g_source_remove);
  g_cancellable_cancel (self->cancellable);
  while (g_queue_get_length (&self->send_queue) > (self->writing ? 1u : 0u))
    g_bytes_unref (g_queue_pop_tail (&self->send_queue));

  socket = g_socket_connection_get_socket (self->connection);
  g_socket_shutdown (socket, TRUE, TRUE, NULL);
  g_io_stream_close (G_IO_STREAM (self->connection), NULL, NULL);
}

/* The connection is gone (or must go now): close it and tell the core. */
static void
channel_end (TestStreamChannel *self, AeroCloseReason reason, const char *why)
{
  const char *peer = aero_channel_get_peer (AERO_CHANNEL (self));

  if (aero_channel_is_closed (AERO_CHANNEL (self)))
    return;
  /* A polite close was already under way: report the reason it was asked for. */
  if (aero_channel_is_closing (AERO_CHANNEL (self)))
    reason = self->close_reason;

  AERO_LOG_INFO (self->component, "peer", peer ? peer : "?",
                 "reason", aero_close_reason_to_string (reason),
                 "MESSAGE", "connection closed: %s", why);
  channel_close_socket (self);
  aero_channel_closed (AERO_CHANNEL (self), reason);
}

/* Hands every complete frame in the read buffer to the session. Returns
 * FALSE when the connection was ended (protocol error, or the session
 * closed it while taking a frame). */
static gboolean
channel_parse (TestStreamChannel *self)
{
  while (self->read_end - self->read_start >= WIRE_HEADER_LEN)
    {
      const guint8 *p = self->read_buffer + self->read_start;
      guint32 len = (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | p[3];
      g_autoptr (GBytes) frame = NULL;

      if (len < AERO_ETH_HEADER_LEN || len > AERO_FRAME_MAX_LEN)
        {
          g_autofree char *why = g_strdup_printf ("invalid frame length %u", len);

          channel_end (self, AERO_CLOSE_PROTOCOL_ERROR, why);
          return FALSE;
        }
      if (self->read_end - self->read_start < WIRE_HEADER_LEN + len)
        break;

      frame = g_bytes_new (p + WIRE_HEADER_LEN, len);
      self->read_start += WIRE_HEADER_LEN + len;

      /* Once a polite close has begun the session no longer wants frames. */
      if (!aero_channel_is_closing (AERO_CHANNEL (self)))
        aero_channel_receive (AERO_CHANNEL (self), frame);
      if (self->socket_closed)
        return FALSE;
    }
  return TRUE;
}

static void
channel_read_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (TestStreamChannel) self = user_data;
  g_autoptr (GError) error = NULL;
  gssize n;

  n = g_input_stream_read_finish (G_INPUT_STREAM (source), result, &error);
  if (self->socket_closed)
    return;
  if (n < 0)
    {
      channel_end (self, AERO_CLOSE_INTERNAL_ERROR, error->message);
      return;
    }
  if (n == 0)
    {
      channel_end (self, AERO_CLOSE_NORMAL, "end of stream from the peer");
      return;
    }

  self->read_end += (gsize) n;
  if (channel_parse (self))
    channel_read_next (self);
}

static void
channel_read_next (TestStreamChannel *self)
{
  GInputStream *input = g_io_stream_get_input_stream (G_IO_STREAM (self->connection));

  /* Keep the unparsed tail at the start so a whole frame always fits. */
  if (self->read_start > 0)
    {
      memmove (self->read_buffer, self->read_buffer + self->read_start,
               self->read_end - self->read_start);
      self->read_end -= self->read_start;
      self->read_start = 0;
    }
  g_input_stream_read_async (input, self->read_buffer + self->read_end,
                             READ_BUFFER_LEN - self->read_end, G_PRIORITY_DEFAULT,
                             self->cancellable, channel_read_done, g_object_ref (self));
}

static void
channel_write_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr (TestStreamChannel) self = user_data;
  g_autoptr (GError) error = NULL;
  gboolean ok;

  ok = g_output_stream_writev_all_finish (G_OUTPUT_STREAM (source), result, NULL, &error);
  self->writing = FALSE;
  g_bytes_unref (g_queue_pop_head (&self->send_queue));
  if (self->socket_closed)
    return;
  if (!ok)
    {
      channel_end (self, AERO_CLOSE_INTERNAL_ERROR, error->message);
      return;
    }

  if (self->dropped)
    {
      self->dropped = FALSE;
      aero_frame_sink_notify_ready (AERO_FRAME_SINK (self));
      if (self->socket_closed)
        return;
    }
  channel_write_next (self);
}

static void
channel_write_next (TestStreamChannel *self)
{
  GOutputStream *output;
  GBytes *frame;
  gsize len;

  if (self->writing || self->socket_closed || g_queue_is_empty (&self->send_queue))
    return;

  frame = g_queue_peek_head (&self->send_queue);
  self->write_vectors[1].buffer = g_bytes_get_data (frame, &len);
  self->write_vectors[1].size = len;
  self->write_header[0] = (guint8) (len >> 24);
  self->write_header[1] = (guint8) (len >> 16);
  self->write_header[2] = (guint8) (len >> 8);
  self->write_header[3] = (guint8) len;
  self->write_vectors[0].buffer = self->write_header;
  self->write_vectors[0].size = WIRE_HEADER_LEN;

  self->writing = TRUE;
  output = g_io_stream_get_output_stream (G_IO_STREAM (self->connection));
  g_output_stream_writev_all_async (output, self->write_vectors, G_N_ELEMENTS (self->write_vectors),
                                    G_PRIORITY_DEFAULT, self->cancellable, channel_write_done,
                                    g_object_ref (self));
}

static AeroFlowReturn
test_stream_channel_push (AeroChannel *channel, GBytes *frame)
{
  TestStreamChannel *self = TEST_STREAM_CHANNEL (channel);
  gsize len = g_bytes_get_size (frame);

  if (self->socket_closed)
    return AERO_FLOW_CLOSED;
  if (len < AERO_ETH_HEADER_LEN || len > AERO_FRAME_MAX_LEN
      || g_queue_get_length (&self->send_queue) >= self->send_queue_max)
    {
      self->dropped = TRUE;
      return AERO_FLOW_DROPPED;
    }

  g_queue_push_tail (&self->send_queue, g_bytes_ref (frame));
  channel_write_next (self);
  return AERO_FLOW_OK;
}

static gboolean
test_stream_channel_is_ready (AeroChannel *channel)
{
  TestStreamChannel *self = TEST_STREAM_CHANNEL (channel);

  return !self->socket_closed && g_queue_get_length (&self->send_queue) < self->send_queue_max;
}

static gboolean
channel_close_delay_done (gpointer user_data)
{
  TestStreamChannel *self = user_data;

  self->close_timer = 0;
  channel_end (self, self->close_reason, "closed by the server");
  return G_SOURCE_REMOVE;
}

static void
test_stream_channel_close (AeroChannel *channel, AeroCloseReason reason, const char *message)
{
  TestStreamChannel *self = TEST_STREAM_CHANNEL (channel);
  const char *peer = aero_channel_get_peer (channel);

  self->close_reason = reason;
  AERO_LOG_DEBUG (self->component, "peer", peer ? peer : "?",
                  "reason", aero_close_reason_to_string (reason),
                  "MESSAGE", "closing connection in %" G_GUINT64_FORMAT " ms: %s",
                  self->close_delay_ms, message ? message : "");

  if (self->socket_closed)
    {
      aero_channel_closed (channel, reason);
      return;
    }
  if (self->close_delay_ms == 0)
    {
      channel_end (self, reason, message ? message : "closed by the server");
      return;
    }
  /* The timer holds a reference: the channel lives until it fires or the
   * connection ends first and removes it. */
  self->close_timer = g_timeout_add_full (G_PRIORITY_DEFAULT, (guint) self->close_delay_ms,
                                          channel_close_delay_done, g_object_ref (self),
                                          g_object_unref);
}

static void
test_stream_channel_dispose (GObject *object)
{
  TestStreamChannel *self = TEST_STREAM_CHANNEL (object);

  if (self->connection != NULL)
    channel_close_socket (self);
  G_OBJECT_CLASS (test_stream_channel_parent_class)->dispose (object);
}

static void
test_stream_channel_finalize (GObject *object)
{
  TestStreamChannel *self = TEST_STREAM_CHANNEL (object);

  g_queue_clear_full (&self->send_queue, (GDestroyNotify) g_bytes_unref);
  g_clear_object (&self->connection);
  g_clear_object (&self->cancellable);
  g_free (self->read_buffer);
  g_free (self->component);
  G_OBJECT_CLASS (test_stream_channel_parent_class)->finalize (object);
}

static void
test_stream_channel_class_init (TestStreamChannelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AeroChannelClass *channel_class = AERO_CHANNEL_CLASS (klass);

  object_class->dispose = test_stream_channel_dispose;
  object_class->finalize = test_stream_channel_finalize;
  channel_class->push = test_stream_channel_push;
  channel_class->is_ready = test_stream_channel_is_ready;
  channel_class->close = test_stream_channel_close;
}

static void
test_stream_channel_init (TestStreamChannel *self)
{
  g_queue_init (&self->send_queue);
  self->cancellable = g_cancellable_new ();
  self->read_buffer = g_malloc (READ_BUFFER_LEN);
}

static TestStreamChannel *
test_stream_channel_new (const char *component, GSocketConnection *connection,
                         guint queue_max, guint64 close_delay_ms)
{
  TestStreamChannel *self = g_object_new (TEST_TYPE_STREAM_CHANNEL, NULL);
  g_autoptr (GSocketAddress) remote = NULL;

  self->component = g_strdup (component);
  self->connection = g_object_ref (connection);
  self->send_queue_max = queue_max;
  self->close_delay_ms = close_delay_ms;

  remote = g_socket_connection_get_remote_address (connection, NULL);
  if (remote != NULL)
    {
      g_autofree char *peer = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (remote));

      aero_channel_set_peer (AERO_CHANNEL (self), peer);
    }
  return self;
}

/* ---- the component: listener and configuration ---------------------------- */

struct _TestStreamTransport
{
  GObject parent_instance;

  GInetSocketAddress *listen;
  guint64 close_delay_ms;
  guint queue_frames;

  AeroHost *host;               /* set between start() and stop() */
  GSocketService *service;
  gboolean accepting;
  AeroMetric *connections;
  GHashTable *channels;         /* TestStreamChannel* → itself, owned */
};

static void test_stream_transport_component_init (AeroComponentInterface *iface);
static void test_stream_transport_transport_init (AeroTransportInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestStreamTransport, test_stream_transport, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                test_stream_transport_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_TRANSPORT,
                                                test_stream_transport_transport_init))

static const char *
transport_name (TestStreamTransport *self)
{
  const char *name = aero_component_get_name (AERO_COMPONENT (self));

  return name ? name : "test-stream";
}

static void
on_channel_closed (AeroChannel *channel, int reason, gpointer user_data)
{
  TestStreamTransport *self = user_data;

  g_signal_handlers_disconnect_by_data (channel, self);
  g_hash_table_remove (self->channels, channel);
}

static gboolean
on_incoming (GSocketService *service, GSocketConnection *connection, GObject *source_object,
             gpointer user_data)
{
  TestStreamTransport *self = user_data;
  g_autoptr (TestStreamChannel) channel = NULL;
  g_autoptr (GError) error = NULL;
  const char *peer, *session_id;

  if (!self->accepting || self->host == NULL)
    {
      g_io_stream_close (G_IO_STREAM (connection), NULL, NULL);
      return TRUE;
    }

  aero_metric_inc (self->connections);
  channel = test_stream_channel_new (transport_name (self), connection, self->queue_frames,
                                     self->close_delay_ms);
  peer = aero_channel_get_peer (AERO_CHANNEL (channel));

  if (aero_host_open_session (self->host, AERO_COMPONENT (self), AERO_CHANNEL (channel),
                              &error) == NULL)
    {
      AERO_LOG_WARNING (transport_name (self), "peer", peer ? peer : "?",
                        "MESSAGE", "refusing connection: %s", error->message);
      channel_close_socket (channel);
      return TRUE;
    }
  if (aero_channel_is_closed (AERO_CHANNEL (channel)))
    return TRUE;

  session_id = aero_channel_get_session_id (AERO_CHANNEL (channel));
  AERO_LOG_INFO (transport_name (self), "peer", peer ? peer : "?",
                 "session", session_id ? session_id : "?",
                 "MESSAGE", "connection accepted");
  g_hash_table_add (self->channels, g_object_ref (channel));
  g_signal_connect (channel, "closed", G_CALLBACK (on_channel_closed), self);
  channel_read_next (channel);
  return TRUE;
}

static gboolean
test_stream_transport_configure (AeroComponent *component, AeroConfigGroup *group,
                                 GError **error)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (component);
  gint64 queue_frames;

  g_clear_object (&self->listen);
  if (!aero_config_group_get_socket_address (group, "listen", 0, NULL, TRUE, &self->listen,
                                             error))
    return FALSE;
  if (!aero_config_group_get_duration (group, "close-delay", 0, 60 * 1000, 0,
                                       &self->close_delay_ms, error))
    return FALSE;
  if (!aero_config_group_get_int (group, "queue-frames", 1, 65536, 256, &queue_frames, error))
    return FALSE;
  self->queue_frames = (guint) queue_frames;
  return TRUE;
}

static gboolean
test_stream_transport_start (AeroComponent *component, AeroHost *host, GError **error)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (component);
  static const char *const labels[] = { "instance", NULL };
  const char *values[] = { transport_name (self), NULL };
  g_autoptr (GSocketService) service = g_socket_service_new ();
  g_autoptr (GError) local_error = NULL;
  g_autofree char *address = NULL;
  AeroMetricFamily *family;

  address = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (self->listen));
  if (!g_socket_listener_add_address (G_SOCKET_LISTENER (service), G_SOCKET_ADDRESS (self->listen),
                                      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, NULL,
                                      &local_error))
    {
      g_set_error (error, local_error->domain, local_error->code, "%s: cannot listen on %s: %s",
                   transport_name (self), address, local_error->message);
      return FALSE;
    }

  family = aero_metrics_family (aero_host_get_metrics (host), "aero_test_stream_connections_total",
                                AERO_METRIC_COUNTER, "Connections accepted by test-stream",
                                labels);
  self->connections = family ? aero_metric_family_series (family, values) : NULL;

  self->host = host;
  self->service = g_steal_pointer (&service);
  self->accepting = TRUE;
  g_signal_connect (self->service, "incoming", G_CALLBACK (on_incoming), self);
  g_socket_service_start (self->service);

  AERO_LOG_INFO (transport_name (self), "listen", address, "MESSAGE", "listening on %s", address);
  return TRUE;
}

/* New connections are refused from now on: the listening socket is closed
 * rather than only paused, so a client trying to connect during a shutdown
 * gets an immediate refusal instead of waiting in the accept backlog. */
static void
test_stream_transport_stop_accepting (AeroTransport *transport)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (transport);

  self->accepting = FALSE;
  if (self->service != NULL)
    {
      g_socket_service_stop (self->service);
      g_socket_listener_close (G_SOCKET_LISTENER (self->service));
    }
}

static void
test_stream_transport_stop (AeroComponent *component)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (component);
  g_autoptr (GPtrArray) left = g_ptr_array_new_with_free_func (g_object_unref);
  GHashTableIter iter;
  gpointer channel;

  test_stream_transport_stop_accepting (AERO_TRANSPORT (self));
  if (self->service != NULL)
    {
      g_signal_handlers_disconnect_by_data (self->service, self);
      g_clear_object (&self->service);
    }

  /* Connections still waiting out their close delay end now. */
  g_hash_table_iter_init (&iter, self->channels);
  while (g_hash_table_iter_next (&iter, &channel, NULL))
    g_ptr_array_add (left, g_object_ref (channel));
  for (guint i = 0; i < left->len; i++)
    channel_end (left->pdata[i], AERO_CLOSE_SHUTDOWN, "transport stopped");
  g_hash_table_remove_all (self->channels);

  self->host = NULL;
  self->connections = NULL;
}

static void
test_stream_transport_component_init (AeroComponentInterface *iface)
{
  iface->configure = test_stream_transport_configure;
  iface->start = test_stream_transport_start;
  iface->stop = test_stream_transport_stop;
}

static void
test_stream_transport_transport_init (AeroTransportInterface *iface)
{
  iface->stop_accepting = test_stream_transport_stop_accepting;
}

static void
test_stream_transport_dispose (GObject *object)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (object);

  if (self->service != NULL || g_hash_table_size (self->channels) > 0)
    test_stream_transport_stop (AERO_COMPONENT (self));
  G_OBJECT_CLASS (test_stream_transport_parent_class)->dispose (object);
}

static void
test_stream_transport_finalize (GObject *object)
{
  TestStreamTransport *self = TEST_STREAM_TRANSPORT (object);

  g_clear_object (&self->listen);
  g_hash_table_unref (self->channels);
  G_OBJECT_CLASS (test_stream_transport_parent_class)->finalize (object);
}

static void
test_stream_transport_class_init (TestStreamTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = test_stream_transport_dispose;
  object_class->finalize = test_stream_transport_finalize;
}

static void
test_stream_transport_init (TestStreamTransport *self)
{
  self->queue_frames = 256;
  self->channels = g_hash_table_new_full (g_direct_hash, g_direct_equal, g_object_unref, NULL);
}

/* ---- plugin entry point --------------------------------------------------- */

static gboolean
test_stream_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, TEST_TYPE_STREAM_TRANSPORT);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("test-stream", "1.2.0",
                    "Test transport: length-prefixed Ethernet frames over TCP",
                    test_stream_register)
