/* aero-http-sentinel.c — see aero-http-sentinel.h. */
#include <unistd.h>

#include "aero-http-sentinel.h"
#include "aero-net/aero-log.h"

#define COMPONENT "core"
#define REARM_LOG_INTERVAL_US (10 * G_USEC_PER_SEC)

struct _AeroHttpSentinel
{
  SoupServer *server; /* unowned: the host owns both */
  SoupServerListenOptions options;
  AeroMetric *rearmed;
  GPtrArray *sockets; /* GSocket */
  GPtrArray *sources; /* GSource, one per socket while watching */
  guint confirm;      /* the look a second after a source fired */
  guint64 connections;
  guint64 connections_at_suspect;
  gint64 logged_us;
};

static void
stop_sources (AeroHttpSentinel *self)
{
  for (guint i = 0; i < self->sources->len; i++)
    g_source_destroy (g_ptr_array_index (self->sources, i));
  g_ptr_array_set_size (self->sources, 0);
}

static gboolean sentinel_cb (GSocket *socket, GIOCondition condition, gpointer data);

static void
start_source (AeroHttpSentinel *self, GSocket *socket)
{
  GSource *source = g_socket_create_source (socket, G_IO_IN, NULL);

  g_source_set_priority (source, G_PRIORITY_LOW);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) sentinel_cb, self, NULL);
  g_source_set_static_name (source, "HTTP listener sentinel");
  g_source_attach (source, NULL);
  g_ptr_array_add (self->sources, source);
}

static void
rearm (AeroHttpSentinel *self, GSocket *socket)
{
  g_autoptr (GError) error = NULL;

  if (!soup_server_listen_socket (self->server, socket, self->options, &error))
    return;
  aero_metric_inc (self->rearmed);
  if (g_get_monotonic_time () - self->logged_us >= REARM_LOG_INTERVAL_US)
    {
      self->logged_us = g_get_monotonic_time ();
      AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                        "connections were waiting but none was accepted: the HTTP listener "
                        "stopped on an accept() error (out of file descriptors?) and listens "
                        "again");
    }
}

static gboolean
confirm_cb (gpointer data)
{
  AeroHttpSentinel *self = data;

  self->confirm = 0;
  if (self->connections == self->connections_at_suspect)
    for (guint i = 0; i < self->sockets->len; i++)
      {
        GSocket *socket = g_ptr_array_index (self->sockets, i);
        int probe;

        if (!(g_socket_condition_check (socket, G_IO_IN) & G_IO_IN))
          continue;
        probe = dup (g_socket_get_fd (socket));
        if (probe < 0)
          {
            /* Still out of descriptors: look again in a second. */
            self->confirm = g_timeout_add_seconds (1, confirm_cb, self);
            return G_SOURCE_REMOVE;
          }
        close (probe);
        rearm (self, socket);
      }
  for (guint i = 0; i < self->sockets->len; i++)
    start_source (self, g_ptr_array_index (self->sockets, i));
  return G_SOURCE_REMOVE;
}

static gboolean
sentinel_cb (GSocket *socket, GIOCondition condition, gpointer data)
{
  AeroHttpSentinel *self = data;

  /* Not again until the look a second from now (it would fire on every
   * iteration while the connection waits). */
  stop_sources (self);
  self->connections_at_suspect = self->connections;
  if (self->confirm == 0)
    self->confirm = g_timeout_add_seconds (1, confirm_cb, self);
  return G_SOURCE_REMOVE;
}

AeroHttpSentinel *
aero_http_sentinel_new (SoupServer *server, SoupServerListenOptions options, AeroMetric *rearmed)
{
  AeroHttpSentinel *self = g_new0 (AeroHttpSentinel, 1);

  self->server = server;
  self->options = options;
  self->rearmed = rearmed;
  self->sockets = g_ptr_array_new_with_free_func (g_object_unref);
  self->sources = g_ptr_array_new_with_free_func ((GDestroyNotify) g_source_unref);
  return self;
}

void
aero_http_sentinel_watch (AeroHttpSentinel *self, GSocket *socket)
{
  g_ptr_array_add (self->sockets, g_object_ref (socket));
  if (self->confirm == 0)
    start_source (self, socket);
}

void
aero_http_sentinel_saw_connection (AeroHttpSentinel *self)
{
  self->connections++;
}

void
aero_http_sentinel_free (AeroHttpSentinel *self)
{
  if (self == NULL)
    return;
  g_clear_handle_id (&self->confirm, g_source_remove);
  stop_sources (self);
  g_ptr_array_unref (self->sources);
  g_ptr_array_unref (self->sockets);
  g_free (self);
}
