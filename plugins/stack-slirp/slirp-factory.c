/* slirp-factory.c — the stack-slirp component (see slirp-factory.h). */
#include <slirp/libslirp.h>

#include "slirp-factory.h"
#include "slirp-stack.h"

struct _AeroSlirpFactory
{
  GObject parent_instance;

  AeroSlirpSettings *settings;
  AeroDnsCache *dns_cache;
  AeroSlirpDnsLimit *dns_limit;
  AeroSlirpMetrics metrics;
  AeroSlirpBurst *burst; /* until finalize: the stacks that use it hold a ref */
};

static void aero_slirp_factory_component_init (AeroComponentInterface *iface);
static void aero_slirp_factory_stack_factory_init (AeroStackFactoryInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AeroSlirpFactory, aero_slirp_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT,
                                                aero_slirp_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY,
                                                aero_slirp_factory_stack_factory_init))

const char *
aero_slirp_factory_get_instance (AeroSlirpFactory *self)
{
  const char *name = aero_component_get_name (AERO_COMPONENT (self));

  return name ? name : "stack-slirp";
}

AeroSlirpSettings *
aero_slirp_factory_get_settings (AeroSlirpFactory *self)
{
  return self->settings;
}

AeroDnsCache *
aero_slirp_factory_get_dns_cache (AeroSlirpFactory *self)
{
  return self->dns_cache;
}

AeroSlirpDnsLimit *
aero_slirp_factory_get_dns_limit (AeroSlirpFactory *self)
{
  return self->dns_limit;
}

AeroSlirpMetrics *
aero_slirp_factory_get_metrics (AeroSlirpFactory *self)
{
  return &self->metrics;
}

AeroSlirpBurst *
aero_slirp_factory_get_burst (AeroSlirpFactory *self)
{
  return self->burst;
}

static gboolean
aero_slirp_factory_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  AeroSlirpFactory *self = AERO_SLIRP_FACTORY (component);
  AeroSlirpSettings *settings = aero_slirp_settings_parse (group, error);

  if (settings == NULL)
    return FALSE;
  g_clear_pointer (&self->settings, aero_slirp_settings_unref);
  g_clear_pointer (&self->dns_cache, aero_dns_cache_free);
  g_clear_pointer (&self->dns_limit, aero_slirp_dns_limit_unref);
  self->settings = settings;
  self->dns_cache = aero_dns_cache_new (settings->dns_cache_entries);
  self->dns_limit = aero_slirp_dns_limit_new (settings->dns_max_lookups);
  return TRUE;
}

static gboolean
aero_slirp_factory_start (AeroComponent *component, AeroHost *host, GError **error)
{
  AeroSlirpFactory *self = AERO_SLIRP_FACTORY (component);
  AeroSlirpSettings *s = self->settings;
  const char *instance = aero_slirp_factory_get_instance (self);
  g_autofree char *network = g_strdup_printf ("%u.%u.%u.%u/%u", s->network[0], s->network[1],
                                              s->network[2], s->network[3], s->prefix_len);

  aero_slirp_metrics_init (&self->metrics, host ? aero_host_get_metrics (host) : NULL, instance,
                           s);
  if (s->merge && self->burst == NULL)
    self->burst = aero_slirp_burst_new (s->offload);
  AERO_LOG_INFO (instance, "network", network, "MESSAGE",
                 "libslirp %s stack on %s%s, %u static names, %u services",
                 slirp_version_string (), network, s->ipv6 ? " with IPv6" : "",
                 g_hash_table_size (s->static_names), s->services->len);
  if (s->host_loopback)
    AERO_LOG_WARNING (instance, "MESSAGE",
                      "host-loopback = true: guests reach this host's loopback services through "
                      "the gateway address");
  return TRUE;
}

static void
aero_slirp_factory_stop (AeroComponent *component)
{
  AeroSlirpFactory *self = AERO_SLIRP_FACTORY (component);

  aero_slirp_metrics_clear (&self->metrics);
}

static void
aero_slirp_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = aero_slirp_factory_configure;
  iface->start = aero_slirp_factory_start;
  iface->stop = aero_slirp_factory_stop;
}

static AeroStack *
aero_slirp_factory_create_stack (AeroStackFactory *factory, AeroSession *session, GError **error)
{
  AeroSlirpFactory *self = AERO_SLIRP_FACTORY (factory);

  if (self->settings == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_INITIALIZED, "%s: not configured",
                   aero_slirp_factory_get_instance (self));
      return NULL;
    }
  return AERO_STACK (aero_slirp_stack_new (self, aero_session_get_id (session), error));
}

static void
aero_slirp_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = aero_slirp_factory_create_stack;
}

static void
aero_slirp_factory_finalize (GObject *object)
{
  AeroSlirpFactory *self = AERO_SLIRP_FACTORY (object);

  g_clear_pointer (&self->burst, aero_slirp_burst_free);
  aero_slirp_metrics_clear (&self->metrics);
  g_clear_pointer (&self->settings, aero_slirp_settings_unref);
  g_clear_pointer (&self->dns_cache, aero_dns_cache_free);
  g_clear_pointer (&self->dns_limit, aero_slirp_dns_limit_unref);
  G_OBJECT_CLASS (aero_slirp_factory_parent_class)->finalize (object);
}

static void
aero_slirp_factory_class_init (AeroSlirpFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = aero_slirp_factory_finalize;
}

static void
aero_slirp_factory_init (AeroSlirpFactory *self)
{
}
