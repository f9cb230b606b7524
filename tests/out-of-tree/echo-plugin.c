/* echo-plugin.c — a complete aero-net stack plugin: every frame the guest
 * sends comes straight back to it. Build it against an installed aero-net:
 *
 *   cc -shared -fPIC -o echo.so echo-plugin.c $(pkg-config --cflags --libs aero-net)
 *
 * then put echo.so in a plugin directory and name it in the configuration:
 *
 *   [lan]
 *   plugin = echo
 */
#include <aero-net/aero-net.h>

/* The per-session stack: a frame sink (frames from the guest) and a frame
 * source (frames to the guest). One object serves one session. */
#define ECHO_TYPE_STACK (echo_stack_get_type ())
G_DECLARE_FINAL_TYPE (EchoStack, echo_stack, ECHO, STACK, GObject)
struct _EchoStack { GObject parent_instance; };

static AeroFlowReturn
echo_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  /* Frames are immutable and refcounted: send the same one back. */
  aero_frame_source_emit (AERO_FRAME_SOURCE (sink), frame);
  return AERO_FLOW_OK;
}

static void
echo_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = echo_stack_push;
}

static void echo_stack_source_init (AeroFrameSourceInterface *iface) { }
static void echo_stack_stack_init (AeroStackInterface *iface) { }

G_DEFINE_TYPE_WITH_CODE (EchoStack, echo_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, echo_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, echo_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, echo_stack_stack_init))
static void echo_stack_class_init (EchoStackClass *klass) { }
static void echo_stack_init (EchoStack *self) { }

/* The component: one per configuration group. It validates the group and
 * makes a stack for every new session. */
#define ECHO_TYPE_FACTORY (echo_factory_get_type ())
G_DECLARE_FINAL_TYPE (EchoFactory, echo_factory, ECHO, FACTORY, GObject)
struct _EchoFactory { GObject parent_instance; };

static gboolean
echo_factory_configure (AeroComponent *self, AeroConfigGroup *group, GError **error)
{
  return TRUE; /* no keys: any key in the group is reported as unknown */
}

static AeroStack *
echo_factory_create_stack (AeroStackFactory *self, AeroSession *session, GError **error)
{
  return g_object_new (ECHO_TYPE_STACK, NULL);
}

static void
echo_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = echo_factory_configure;
}

static void
echo_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = echo_factory_create_stack;
}

G_DEFINE_TYPE_WITH_CODE (EchoFactory, echo_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT, echo_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY, echo_factory_stack_factory_init))
static void echo_factory_class_init (EchoFactoryClass *klass) { }
static void echo_factory_init (EchoFactory *self) { }

/* The entry point: the loader checks the ABI version in the descriptor,
 * then calls this to learn the plugin's component type. */
static gboolean
echo_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, ECHO_TYPE_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("echo", "1.0.0", "Reflects every frame back to the guest", echo_register)
