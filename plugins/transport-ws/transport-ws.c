/* transport-ws.c — the transport-ws plugin: aero-l2-tunnel-v1 over WebSocket.
 *
 * One component per configuration group. In server mode (the default) it
 * takes tunnels on paths of the core HTTP server (ws-server.c); in client
 * mode it keeps one tunnel open to a remote aero-netd (ws-client.c). Either
 * way each tunnel is a channel (ws-tunnel.c) and so one session. The keys
 * are listed in ws-config.h. */
#include <aero-net/aero-net.h>

#include "ws-client.h"
#include "ws-config.h"
#include "ws-metrics.h"
#include "ws-server.h"

#define WS_TYPE_TRANSPORT (ws_transport_get_type ())
G_DECLARE_FINAL_TYPE (WsTransport, ws_transport, WS, TRANSPORT, GObject)

struct _WsTransport
{
  GObject parent_instance;

  WsConfig *config;
  AeroHost *host;               /* set between start() and stop() */
  WsMetrics *metrics;
  AeroMetric *backlog;          /* gauge, refreshed by a collector */
  guint collector;
  WsServer *server;             /* server mode */
  WsClient *client;             /* client mode */
};

static void ws_transport_component_init (AeroComponentInterface *iface);
static void ws_transport_transport_init (AeroTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WsTransport, ws_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                      ws_transport_component_init)
                               G_IMPLEMENT_INTERFACE (AERO_TYPE_TRANSPORT,
                                                      ws_transport_transport_init))

static const char *
instance_name (WsTransport *self)
{
  const char *name = aero_component_get_name (AERO_COMPONENT (self));

  return name ? name : "transport-ws";
}

static void
collect_backlog (AeroMetrics *metrics, gpointer user_data)
{
  WsTransport *self = user_data;
  guint64 total = 0;

  if (self->server)
    total = ws_server_get_backlog (self->server);
  else if (self->client)
    total = ws_client_get_backlog (self->client);
  aero_metric_set (self->backlog, (double) total);
}

static gboolean
ws_transport_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  WsTransport *self = WS_TRANSPORT (component);
  g_autoptr (WsConfig) config = ws_config_new ();

  if (!ws_config_load (config, group, error))
    return FALSE;
  g_clear_pointer (&self->config, ws_config_free);
  self->config = g_steal_pointer (&config);
  return TRUE;
}

static gboolean
ws_transport_start (AeroComponent *component, AeroHost *host, GError **error)
{
  WsTransport *self = WS_TRANSPORT (component);
  AeroMetrics *registry = aero_host_get_metrics (host);
  static const char *const labels[] = { "instance", NULL };
  const char *values[] = { instance_name (self), NULL };
  gboolean client = self->config->mode == WS_MODE_CLIENT;
  AeroMetricFamily *family;

  self->host = host;
  self->metrics = ws_metrics_new (registry, instance_name (self), client);
  family = aero_metrics_family (registry, "aero_ws_send_backlog_bytes", AERO_METRIC_GAUGE,
                                "Bytes handed to WebSocket connections and not yet written.",
                                labels);
  self->backlog = family ? aero_metric_family_series (family, values) : NULL;
  self->collector = aero_metrics_add_collector (registry, collect_backlog, self);

  if (client)
    {
      self->client = ws_client_new (component, instance_name (self), self->config);
      return ws_client_start (self->client, host, self->metrics, error);
    }
  self->server = ws_server_new (component, instance_name (self), self->config);
  return ws_server_start (self->server, host, self->metrics, error);
}

static void
ws_transport_stop_accepting (AeroTransport *transport)
{
  WsTransport *self = WS_TRANSPORT (transport);

  if (self->server)
    ws_server_stop_accepting (self->server);
  if (self->client)
    ws_client_stop_accepting (self->client);
}

static void
ws_transport_stop (AeroComponent *component)
{
  WsTransport *self = WS_TRANSPORT (component);

  if (self->server)
    ws_server_stop (self->server);
  if (self->client)
    ws_client_stop (self->client);
  g_clear_object (&self->server);
  g_clear_object (&self->client);
  if (self->host && self->collector)
    aero_metrics_remove_collector (aero_host_get_metrics (self->host), self->collector);
  self->collector = 0;
  self->backlog = NULL;
  g_clear_pointer (&self->metrics, ws_metrics_unref);
  self->host = NULL;
}

static void
ws_transport_component_init (AeroComponentInterface *iface)
{
  iface->configure = ws_transport_configure;
  iface->start = ws_transport_start;
  iface->stop = ws_transport_stop;
}

static void
ws_transport_transport_init (AeroTransportInterface *iface)
{
  iface->stop_accepting = ws_transport_stop_accepting;
}

static void
ws_transport_dispose (GObject *object)
{
  WsTransport *self = WS_TRANSPORT (object);

  if (self->host != NULL)
    ws_transport_stop (AERO_COMPONENT (self));
  G_OBJECT_CLASS (ws_transport_parent_class)->dispose (object);
}

static void
ws_transport_finalize (GObject *object)
{
  WsTransport *self = WS_TRANSPORT (object);

  g_clear_pointer (&self->config, ws_config_free);
  G_OBJECT_CLASS (ws_transport_parent_class)->finalize (object);
}

static void
ws_transport_class_init (WsTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = ws_transport_dispose;
  object_class->finalize = ws_transport_finalize;
}

static void
ws_transport_init (WsTransport *self)
{
}

/* ---- plugin entry point ----------------------------------------------------- */

static gboolean
ws_transport_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, WS_TYPE_TRANSPORT);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("transport-ws", "1.0.0",
                    "aero-l2-tunnel-v1 over WebSocket: server paths on the core HTTP server, or "
                    "a client that keeps a tunnel to a remote aero-netd",
                    ws_transport_register)
