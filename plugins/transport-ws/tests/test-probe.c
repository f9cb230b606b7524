/* test-probe.c — a stack plugin for the transport-ws tests: a guest that
 * keeps asking for one address and counts the answers.
 *
 * Configuration:
 *   [NAME]
 *   plugin = test-probe
 *   target = 10.0.2.2        ; required: the IPv4 address it ARPs for
 *   interval = 200ms         ; time between ARP requests (10ms..60s)
 *
 * Every session's stack sends an ARP request for `target` (from
 * 52:54:00:12:34:56, 10.0.2.15) every `interval`, and counts what comes
 * back in /metrics: aero_test_probe_requests_total{result} (what the
 * channel did with each request), aero_test_probe_frames_total (every
 * frame received) and aero_test_probe_replies_total (ARP replies from
 * `target`). Behind a transport-ws client whose server runs test-arp, the
 * replies prove that frames cross the tunnel both ways. */
#include <string.h>

#include <aero-net/aero-net.h>

#define ARP_FRAME_LEN (AERO_ETH_HEADER_LEN + 28)

static const guint8 probe_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const guint8 probe_ip[4] = { 10, 0, 2, 15 };

#define TEST_TYPE_PROBE_FACTORY (test_probe_factory_get_type ())
G_DECLARE_FINAL_TYPE (TestProbeFactory, test_probe_factory, TEST, PROBE_FACTORY, GObject)

#define TEST_TYPE_PROBE_STACK (test_probe_stack_get_type ())
G_DECLARE_FINAL_TYPE (TestProbeStack, test_probe_stack, TEST, PROBE_STACK, GObject)

typedef struct {
  AeroMetric *requests[3];      /* by AeroFlowReturn */
  AeroMetric *frames;
  AeroMetric *replies;
} ProbeMetrics;

/* ---- the per-session stack ---------------------------------------------- */

struct _TestProbeStack
{
  GObject parent_instance;

  guint8 target[4];
  ProbeMetrics *metrics;        /* owned by the factory, which outlives sessions */
  guint timer;
  gboolean closed;
};

static void test_probe_stack_sink_init (AeroFrameSinkInterface *iface);
static void test_probe_stack_source_init (AeroFrameSourceInterface *iface);
static void test_probe_stack_stack_init (AeroStackInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestProbeStack, test_probe_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, test_probe_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, test_probe_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, test_probe_stack_stack_init))

static gboolean
send_request (gpointer user_data)
{
  TestProbeStack *self = user_data;
  guint8 f[ARP_FRAME_LEN];
  g_autoptr (GBytes) frame = NULL;
  AeroFlowReturn ret;

  memset (f, 0xff, 6);
  memcpy (f + 6, probe_mac, 6);
  f[12] = 0x08, f[13] = 0x06;
  f[14] = 0, f[15] = 1;               /* htype Ethernet */
  f[16] = 0x08, f[17] = 0x00;         /* ptype IPv4 */
  f[18] = 6, f[19] = 4;
  f[20] = 0, f[21] = 1;               /* request */
  memcpy (f + 22, probe_mac, 6);
  memcpy (f + 28, probe_ip, 4);
  memset (f + 32, 0, 6);
  memcpy (f + 38, self->target, 4);
  frame = g_bytes_new (f, sizeof f);

  ret = aero_frame_source_emit (AERO_FRAME_SOURCE (self), frame);
  aero_metric_inc (self->metrics->requests[ret]);
  return G_SOURCE_CONTINUE;
}

static AeroFlowReturn
test_probe_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  TestProbeStack *self = TEST_PROBE_STACK (sink);
  gsize len;
  const guint8 *f = g_bytes_get_data (frame, &len);

  if (self->closed)
    return AERO_FLOW_CLOSED;
  aero_metric_inc (self->metrics->frames);
  if (len >= ARP_FRAME_LEN && f[12] == 0x08 && f[13] == 0x06 && f[20] == 0 && f[21] == 2 &&
      memcmp (f + 28, self->target, 4) == 0 && memcmp (f + 32, probe_mac, 6) == 0)
    aero_metric_inc (self->metrics->replies);
  return AERO_FLOW_OK;
}

static void
test_probe_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = test_probe_stack_push;
}

static void
test_probe_stack_source_init (AeroFrameSourceInterface *iface)
{
}

static void
test_probe_stack_close (AeroStack *stack)
{
  TestProbeStack *self = TEST_PROBE_STACK (stack);

  self->closed = TRUE;
  g_clear_handle_id (&self->timer, g_source_remove);
}

static void
test_probe_stack_stack_init (AeroStackInterface *iface)
{
  iface->close = test_probe_stack_close;
}

static void
test_probe_stack_dispose (GObject *object)
{
  g_clear_handle_id (&TEST_PROBE_STACK (object)->timer, g_source_remove);
  G_OBJECT_CLASS (test_probe_stack_parent_class)->dispose (object);
}

static void
test_probe_stack_class_init (TestProbeStackClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = test_probe_stack_dispose;
}

static void
test_probe_stack_init (TestProbeStack *self)
{
}

/* ---- the component ---------------------------------------------------------- */

struct _TestProbeFactory
{
  GObject parent_instance;

  guint8 target[4];
  guint64 interval_ms;
  ProbeMetrics metrics;
};

static void test_probe_factory_component_init (AeroComponentInterface *iface);
static void test_probe_factory_stack_factory_init (AeroStackFactoryInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestProbeFactory, test_probe_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                test_probe_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY,
                                                test_probe_factory_stack_factory_init))

static gboolean
test_probe_factory_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  TestProbeFactory *self = TEST_PROBE_FACTORY (component);
  g_autofree char *target = NULL;
  g_autoptr (GInetAddress) address = NULL;

  target = aero_config_group_get_string (group, "target", NULL, TRUE, error);
  if (target == NULL)
    return FALSE;
  address = g_inet_address_new_from_string (target);
  if (address == NULL || g_inet_address_get_family (address) != G_SOCKET_FAMILY_IPV4)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "target",
                               "expected an IPv4 address, got '%s'", target);
      return FALSE;
    }
  memcpy (self->target, g_inet_address_to_bytes (address), 4);
  return aero_config_group_get_duration (group, "interval", 10, 60 * 1000, 200,
                                         &self->interval_ms, error);
}

static gboolean
test_probe_factory_start (AeroComponent *component, AeroHost *host, GError **error)
{
  TestProbeFactory *self = TEST_PROBE_FACTORY (component);
  AeroMetrics *registry = aero_host_get_metrics (host);
  static const char *const labels[] = { "result", NULL };
  static const char *const results[] = { "ok", "dropped", "closed" };
  AeroMetricFamily *requests;

  requests = aero_metrics_family (registry, "aero_test_probe_requests_total", AERO_METRIC_COUNTER,
                                  "ARP requests sent by test-probe, by what the channel did.",
                                  labels);
  for (guint i = 0; i < G_N_ELEMENTS (results); i++)
    {
      const char *values[] = { results[i], NULL };

      self->metrics.requests[i] = aero_metric_family_series (requests, values);
    }
  self->metrics.frames = aero_metrics_counter (registry, "aero_test_probe_frames_total",
                                               "Frames received by test-probe.");
  self->metrics.replies = aero_metrics_counter (registry, "aero_test_probe_replies_total",
                                                "ARP replies from the target received by "
                                                "test-probe.");
  return TRUE;
}

static void
test_probe_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = test_probe_factory_configure;
  iface->start = test_probe_factory_start;
}

static AeroStack *
test_probe_factory_create_stack (AeroStackFactory *factory, AeroSession *session, GError **error)
{
  TestProbeFactory *self = TEST_PROBE_FACTORY (factory);
  TestProbeStack *stack = g_object_new (TEST_TYPE_PROBE_STACK, NULL);

  memcpy (stack->target, self->target, 4);
  stack->metrics = &self->metrics;
  /* The first request waits one interval: the session links the stack
   * after this returns. */
  stack->timer = g_timeout_add ((guint) self->interval_ms, send_request, stack);
  return AERO_STACK (stack);
}

static void
test_probe_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = test_probe_factory_create_stack;
}

static void
test_probe_factory_class_init (TestProbeFactoryClass *klass)
{
}

static void
test_probe_factory_init (TestProbeFactory *self)
{
  self->interval_ms = 200;
}

/* ---- plugin entry point ----------------------------------------------------- */

static gboolean
test_probe_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, TEST_TYPE_PROBE_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("test-probe", "1.0.0",
                    "Test stack: ARPs for one address every interval and counts the replies",
                    test_probe_register)
