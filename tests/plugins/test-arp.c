/* test-arp.c — a stack plugin for tests that answers ARP and nothing else.
 *
 * Configuration:
 *   [NAME]
 *   plugin = test-arp
 *   address = 10.0.2.2            ; required: the IPv4 address it owns
 *   mac = 52:55:0a:00:02:02       ; optional: its MAC address (unicast)
 *
 * An ARP request (Ethernet type 0x0806, htype 1, ptype 0x0800, op 1) for
 * `address` gets an ARP reply from `mac`; every other frame is taken and
 * silently discarded. Swapping it with test-reflect behind the same
 * transport shows that a stack is chosen by configuration alone. */
#include <string.h>

#include <aero-net/aero-net.h>

#define ETH_TYPE_ARP 0x0806
#define ARP_FRAME_LEN (AERO_ETH_HEADER_LEN + 28)
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

#define TEST_TYPE_ARP_FACTORY (test_arp_factory_get_type ())
G_DECLARE_FINAL_TYPE (TestArpFactory, test_arp_factory, TEST, ARP_FACTORY, GObject)

#define TEST_TYPE_ARP_STACK (test_arp_stack_get_type ())
G_DECLARE_FINAL_TYPE (TestArpStack, test_arp_stack, TEST, ARP_STACK, GObject)

static guint16
read_be16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static void
write_be16 (guint8 *p, guint16 v)
{
  p[0] = (guint8) (v >> 8);
  p[1] = (guint8) (v & 0xff);
}

/* ---- the per-session stack ---------------------------------------------- */

struct _TestArpStack
{
  GObject parent_instance;

  guint8 mac[6];
  guint8 address[4];
  gboolean closed;
};

static void test_arp_stack_sink_init (AeroFrameSinkInterface *iface);
static void test_arp_stack_source_init (AeroFrameSourceInterface *iface);
static void test_arp_stack_stack_init (AeroStackInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestArpStack, test_arp_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, test_arp_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, test_arp_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, test_arp_stack_stack_init))

/* Whether @frame is an Ethernet/IPv4 ARP request for our address. */
static gboolean
is_request_for_us (TestArpStack *self, const guint8 *frame, gsize len)
{
  const guint8 *arp = frame + AERO_ETH_HEADER_LEN;

  if (len < ARP_FRAME_LEN)
    return FALSE;
  return read_be16 (frame + 12) == ETH_TYPE_ARP
         && read_be16 (arp) == 1          /* htype: Ethernet */
         && read_be16 (arp + 2) == 0x0800 /* ptype: IPv4 */
         && arp[4] == 6 && arp[5] == 4    /* hlen, plen */
         && read_be16 (arp + 6) == ARP_OP_REQUEST
         && memcmp (arp + 24, self->address, 4) == 0;
}

static AeroFlowReturn
test_arp_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  TestArpStack *self = TEST_ARP_STACK (sink);
  g_autoptr (GBytes) reply = NULL;
  const guint8 *in, *arp_in;
  guint8 *out, *arp_out;
  gsize len;

  if (self->closed)
    return AERO_FLOW_CLOSED;

  in = g_bytes_get_data (frame, &len);
  if (!is_request_for_us (self, in, len))
    return AERO_FLOW_OK;

  arp_in = in + AERO_ETH_HEADER_LEN;
  out = g_malloc0 (ARP_FRAME_LEN);
  arp_out = out + AERO_ETH_HEADER_LEN;

  memcpy (out, arp_in + 8, 6);      /* to the requester's hardware address */
  memcpy (out + 6, self->mac, 6);
  write_be16 (out + 12, ETH_TYPE_ARP);

  write_be16 (arp_out, 1);
  write_be16 (arp_out + 2, 0x0800);
  arp_out[4] = 6;
  arp_out[5] = 4;
  write_be16 (arp_out + 6, ARP_OP_REPLY);
  memcpy (arp_out + 8, self->mac, 6);      /* sender hardware address */
  memcpy (arp_out + 14, self->address, 4); /* sender protocol address */
  memcpy (arp_out + 18, arp_in + 8, 6);    /* target: the requester */
  memcpy (arp_out + 24, arp_in + 14, 4);

  reply = g_bytes_new_take (out, ARP_FRAME_LEN);
  aero_frame_source_emit (AERO_FRAME_SOURCE (self), reply);
  return AERO_FLOW_OK;
}

static void
test_arp_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = test_arp_stack_push;
}

static void
test_arp_stack_source_init (AeroFrameSourceInterface *iface)
{
  /* The default set_sink/get_sink are enough. */
}

static void
test_arp_stack_close (AeroStack *stack)
{
  TEST_ARP_STACK (stack)->closed = TRUE;
}

static void
test_arp_stack_stack_init (AeroStackInterface *iface)
{
  iface->close = test_arp_stack_close;
}

static void
test_arp_stack_class_init (TestArpStackClass *klass)
{
}

static void
test_arp_stack_init (TestArpStack *self)
{
}

/* ---- the component: configuration and stack factory ---------------------- */

struct _TestArpFactory
{
  GObject parent_instance;

  guint8 mac[6];
  guint8 address[4];
};

static void test_arp_factory_component_init (AeroComponentInterface *iface);
static void test_arp_factory_stack_factory_init (AeroStackFactoryInterface *iface);

G_DEFINE_TYPE_WITH_CODE (TestArpFactory, test_arp_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                test_arp_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY,
                                                test_arp_factory_stack_factory_init))

/* Parses "xx:xx:xx:xx:xx:xx" (hex digits, either case). */
static gboolean
parse_mac (const char *text, guint8 mac[6])
{
  for (guint i = 0; i < 6; i++)
    {
      const char *p = text + i * 3;
      int hi, lo;

      if ((hi = g_ascii_xdigit_value (p[0])) < 0 || (lo = g_ascii_xdigit_value (p[1])) < 0)
        return FALSE;
      if (p[2] != (i == 5 ? '\0' : ':'))
        return FALSE;
      mac[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

static gboolean
test_arp_factory_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  TestArpFactory *self = TEST_ARP_FACTORY (component);
  g_autofree char *address = NULL;
  g_autofree char *mac = NULL;
  g_autoptr (GInetAddress) inet = NULL;

  address = aero_config_group_get_string (group, "address", NULL, TRUE, error);
  if (address == NULL)
    return FALSE;
  inet = g_inet_address_new_from_string (address);
  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "address",
                               "expected a numeric IPv4 address such as 10.0.2.2, got '%s'",
                               address);
      return FALSE;
    }
  memcpy (self->address, g_inet_address_to_bytes (inet), 4);

  mac = aero_config_group_get_string (group, "mac", "52:55:0a:00:02:02", FALSE, error);
  if (mac == NULL)
    return FALSE;
  if (!parse_mac (mac, self->mac))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "mac",
                               "expected a MAC address such as 52:55:0a:00:02:02, got '%s'",
                               mac);
      return FALSE;
    }
  if (self->mac[0] & 1)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "mac",
                               "'%s' is a multicast address; a unicast MAC is required", mac);
      return FALSE;
    }
  return TRUE;
}

static void
test_arp_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = test_arp_factory_configure;
}

static AeroStack *
test_arp_factory_create_stack (AeroStackFactory *factory, AeroSession *session, GError **error)
{
  TestArpFactory *self = TEST_ARP_FACTORY (factory);
  TestArpStack *stack = g_object_new (TEST_TYPE_ARP_STACK, NULL);

  memcpy (stack->mac, self->mac, sizeof stack->mac);
  memcpy (stack->address, self->address, sizeof stack->address);
  return AERO_STACK (stack);
}

static void
test_arp_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = test_arp_factory_create_stack;
}

static void
test_arp_factory_class_init (TestArpFactoryClass *klass)
{
}

static void
test_arp_factory_init (TestArpFactory *self)
{
}

/* ---- plugin entry point --------------------------------------------------- */

static gboolean
test_arp_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, TEST_TYPE_ARP_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("test-arp", "1.1.0",
                    "Test stack: answers ARP requests for one address, drops the rest",
                    test_arp_register)
