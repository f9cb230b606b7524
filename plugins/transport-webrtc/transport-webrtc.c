/* transport-webrtc.c — the transport-webrtc plugin: aero-l2-tunnel-v1 over
 * a reliable WebRTC DataChannel, and the UDP relay over a `udp` channel.
 *
 * One component per configuration group. It starts GStreamer, finds the
 * policy among the transport's filters, and runs an RtcServer: the
 * signalling endpoints on the core HTTP server and the peer connections
 * (rtc-peer.c), each `l2` channel being one session exactly as a
 * transport-ws tunnel is. The keys are listed in rtc-config.h. */
#include <gst/gst.h>

#include <aero-net/aero-net.h>

#include "rtc-config.h"
#include "rtc-metrics.h"
#include "rtc-server.h"

#define RTC_TYPE_TRANSPORT (rtc_transport_get_type ())
G_DECLARE_FINAL_TYPE (RtcTransport, rtc_transport, RTC, TRANSPORT, GObject)

struct _RtcTransport
{
  GObject parent_instance;

  RtcConfig *config;
  AeroHost *host;               /* set between start() and stop() */
  RtcMetrics *metrics;
  AeroMetric *backlog;          /* gauge, refreshed by a collector */
  guint collector;
  RtcServer *server;
};

static void rtc_transport_component_init (AeroComponentInterface *iface);
static void rtc_transport_transport_init (AeroTransportInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (RtcTransport, rtc_transport, G_TYPE_OBJECT,
                               G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                      rtc_transport_component_init)
                               G_IMPLEMENT_INTERFACE (AERO_TYPE_TRANSPORT,
                                                      rtc_transport_transport_init))

static const char *
instance_name (RtcTransport *self)
{
  const char *name = aero_component_get_name (AERO_COMPONENT (self));

  return name ? name : "transport-webrtc";
}

static void
collect_backlog (AeroMetrics *metrics, gpointer user_data)
{
  RtcTransport *self = user_data;

  aero_metric_set (self->backlog, self->server ? (double) rtc_server_get_backlog (self->server) : 0);
}

static gboolean
rtc_transport_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  RtcTransport *self = RTC_TRANSPORT (component);
  g_autoptr (RtcConfig) config = rtc_config_new ();

  if (!rtc_config_load (config, group, error))
    return FALSE;
  g_clear_pointer (&self->config, rtc_config_free);
  self->config = g_steal_pointer (&config);
  return TRUE;
}

/* GStreamer, and the elements a peer connection is made of. */
static gboolean
start_gstreamer (GError **error)
{
  static const char *const elements[] = { "webrtcbin", "nicesrc", "nicesink", "dtlsenc",
                                          "dtlsdec", "sctpenc", "sctpdec", NULL };

  if (!gst_init_check (NULL, NULL, error))
    return FALSE;
  for (guint i = 0; elements[i]; i++)
    {
      GstElementFactory *factory = gst_element_factory_find (elements[i]);

      if (factory == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                       "GStreamer element '%s' is missing (Debian packages: "
                       "gstreamer1.0-plugins-bad, gstreamer1.0-nice)", elements[i]);
          return FALSE;
        }
      gst_object_unref (factory);
    }
  return TRUE;
}

/* The first policy instance named in the transport's filters. */
static AeroPolicy *
find_policy (RtcTransport *self, AeroHost *host)
{
  for (guint i = 0; self->config->filters && self->config->filters[i]; i++)
    {
      AeroComponent *c = aero_host_get_component (host, self->config->filters[i]);

      if (c != NULL && AERO_IS_POLICY (c))
        return AERO_POLICY (c);
    }
  return NULL;
}

static gboolean
rtc_transport_start (AeroComponent *component, AeroHost *host, GError **error)
{
  RtcTransport *self = RTC_TRANSPORT (component);
  AeroMetrics *registry = aero_host_get_metrics (host);
  static const char *const labels[] = { "instance", NULL };
  const char *values[] = { instance_name (self), NULL };
  AeroMetricFamily *family;
  AeroPolicy *policy;

  if (!start_gstreamer (error))
    return FALSE;
  policy = find_policy (self, host);
  if (self->config->udp.mode == RTC_UDP_RELAY_OPEN && !aero_host_is_loopback_only (host))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "[%s] udp-relay = open relays datagrams anywhere without a policy: it is "
                   "refused unless every [http] listen address is a loopback address",
                   instance_name (self));
      return FALSE;
    }
  if (self->config->udp.mode == RTC_UDP_RELAY_OPEN)
    AERO_LOG_WARNING (instance_name (self), "MESSAGE",
                      "udp-relay = open: udp channels reach any destination without a policy "
                      "(development only)");
  else if (self->config->udp.mode == RTC_UDP_RELAY_POLICY && policy == NULL)
    AERO_LOG_INFO (instance_name (self), "MESSAGE",
                   "no policy instance in filters: udp channels will be refused");

  self->host = host;
  self->metrics = rtc_metrics_new (registry, instance_name (self));
  family = aero_metrics_family (registry, "aero_webrtc_send_backlog_bytes", AERO_METRIC_GAUGE,
                                "Bytes buffered in DataChannels toward peers.", labels);
  self->backlog = family ? aero_metric_family_series (family, values) : NULL;
  self->collector = aero_metrics_add_collector (registry, collect_backlog, self);
  self->server = rtc_server_new (component, instance_name (self), self->config);
  return rtc_server_start (self->server, host, self->metrics, policy, error);
}

static void
rtc_transport_stop_accepting (AeroTransport *transport)
{
  RtcTransport *self = RTC_TRANSPORT (transport);

  if (self->server)
    rtc_server_stop_accepting (self->server);
}

static void
rtc_transport_stop (AeroComponent *component)
{
  RtcTransport *self = RTC_TRANSPORT (component);

  if (self->server)
    rtc_server_stop (self->server);
  g_clear_object (&self->server);
  if (self->host && self->collector)
    aero_metrics_remove_collector (aero_host_get_metrics (self->host), self->collector);
  self->collector = 0;
  self->backlog = NULL;
  g_clear_pointer (&self->metrics, rtc_metrics_unref);
  self->host = NULL;
}

static void
rtc_transport_component_init (AeroComponentInterface *iface)
{
  iface->configure = rtc_transport_configure;
  iface->start = rtc_transport_start;
  iface->stop = rtc_transport_stop;
}

static void
rtc_transport_transport_init (AeroTransportInterface *iface)
{
  iface->stop_accepting = rtc_transport_stop_accepting;
}

static void
rtc_transport_dispose (GObject *object)
{
  RtcTransport *self = RTC_TRANSPORT (object);

  if (self->host != NULL)
    rtc_transport_stop (AERO_COMPONENT (self));
  G_OBJECT_CLASS (rtc_transport_parent_class)->dispose (object);
}

static void
rtc_transport_finalize (GObject *object)
{
  RtcTransport *self = RTC_TRANSPORT (object);

  g_clear_pointer (&self->config, rtc_config_free);
  G_OBJECT_CLASS (rtc_transport_parent_class)->finalize (object);
}

static void
rtc_transport_class_init (RtcTransportClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rtc_transport_dispose;
  object_class->finalize = rtc_transport_finalize;
}

static void
rtc_transport_init (RtcTransport *self)
{
}

/* ---- plugin entry point ----------------------------------------------------- */

static gboolean
rtc_transport_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, RTC_TYPE_TRANSPORT);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("transport-webrtc", "1.0.0",
                    "aero-l2-tunnel-v1 over a reliable WebRTC DataChannel (webrtcbin, libnice), "
                    "with offer/answer and trickle-ICE signalling on the core HTTP server and a "
                    "policed UDP relay channel",
                    rtc_transport_register)
