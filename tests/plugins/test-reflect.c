/* test-reflect.c — a stack plugin for tests: every frame from the guest
 * comes straight back with its source and destination MAC swapped.
 *
 * Configuration:
 *   [NAME]
 *   plugin = test-reflect
 *   drop-every = 0     ; N > 0: answer AERO_FLOW_DROPPED to every Nth frame
 *
 * It gives the integration tests a stack whose output is fully predictable,
 * so they can check the core's wiring, counters and isolation. */
#include <string.h>

#include <aero-net/aero-net.h>

#define TEST_TYPE_REFLECT_FACTORY (test_reflect_factory_get_type ())
G_DECLARE_FINAL_TYPE (TestReflectFactory, test_reflect_factory, TEST, REFLECT_FACTORY, GObject)

#define TEST_TYPE_REFLECT_STACK (test_reflect_stack_get_type ())
G_DECLARE_FINAL_TYPE (TestReflectStack, test_reflect_stack, TEST, REFLECT_STACK, GObject)

/* ---- the per-session stack ---------------------------------------------- */

struct _TestReflectStack
{
  GObject parent_instance;

  guint64 drop_every;
  guint64 n_frames;
  gboolean closed;
};

static void test_reflect_stack_sink_init (AeroFrameSinkInterface *iface);
static void test_reflect_stack_source_init (AeroFrameSourceInterface *iface);
static void test_reflect_stack_stack_init (AeroStackInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestReflectStack, test_reflect_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, test_reflect_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, test_reflect_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, test_reflect_stack_stack_init))

static AeroFlowReturn
test_reflect_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  TestReflectStack *self = TEST_REFLECT_STACK (sink);
  g_autoptr (GBytes) reply = NULL;
  const guint8 *data;
  guint8 *copy;
  gsize len;

  if (self->closed)
    return AERO_FLOW_CLOSED;

  self->n_frames++;
  if (self->drop_every > 0 && self->n_frames % self->drop_every == 0)
    return AERO_FLOW_DROPPED;

  data = g_bytes_get_data (frame, &len);
  if (len < AERO_ETH_HEADER_LEN)
    return AERO_FLOW_DROPPED;

  /* Frames are immutable: the swapped frame is a new one. */
  copy = g_memdup2 (data, len);
  memcpy (copy, data + 6, 6);
  memcpy (copy + 6, data, 6);
  reply = g_bytes_new_take (copy, len);

  /* What the channel does with the reply (taken, dropped because its queue
   * is full) is counted by the session; the guest's frame was taken. */
  aero_frame_source_emit (AERO_FRAME_SOURCE (self), reply);
  return AERO_FLOW_OK;
}

static void
test_reflect_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = test_reflect_stack_push;
}

static void
test_reflect_stack_source_init (AeroFrameSourceInterface *iface)
{
  /* The default set_sink/get_sink are enough. */
}

static void
test_reflect_stack_close (AeroStack *stack)
{
  TEST_REFLECT_STACK (stack)->closed = TRUE;
}

static void
test_reflect_stack_stack_init (AeroStackInterface *iface)
{
  iface->close = test_reflect_stack_close;
}

static void
test_reflect_stack_class_init (TestReflectStackClass *klass)
{
}

static void
test_reflect_stack_init (TestReflectStack *self)
{
}

/* ---- the component: configuration and stack factory ---------------------- */

struct _TestReflectFactory
{
  GObject parent_instance;

  guint64 drop_every;
};

static void test_reflect_factory_component_init (AeroComponentInterface *iface);
static void test_reflect_factory_stack_factory_init (AeroStackFactoryInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestReflectFactory, test_reflect_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                test_reflect_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY,
                                                test_reflect_factory_stack_factory_init))

static gboolean
test_reflect_factory_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  TestReflectFactory *self = TEST_REFLECT_FACTORY (component);
  gint64 drop_every;

  if (!aero_config_group_get_int (group, "drop-every", 0, G_MAXINT32, 0, &drop_every, error))
    return FALSE;
  self->drop_every = (guint64) drop_every;
  return TRUE;
}

static void
test_reflect_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = test_reflect_factory_configure;
}

static AeroStack *
test_reflect_factory_create_stack (AeroStackFactory *factory, AeroSession *session,
                                   GError **error)
{
  TestReflectFactory *self = TEST_REFLECT_FACTORY (factory);
  TestReflectStack *stack = g_object_new (TEST_TYPE_REFLECT_STACK, NULL);

  stack->drop_every = self->drop_every;
  return AERO_STACK (stack);
}

static void
test_reflect_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = test_reflect_factory_create_stack;
}

static void
test_reflect_factory_class_init (TestReflectFactoryClass *klass)
{
}

static void
test_reflect_factory_init (TestReflectFactory *self)
{
}

/* ---- plugin entry point --------------------------------------------------- */

static gboolean
test_reflect_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, TEST_TYPE_REFLECT_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("test-reflect", "1.0.0",
                    "Test stack: reflects every frame with the MAC addresses swapped",
                    test_reflect_register)
