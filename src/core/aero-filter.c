/* aero-filter.c — the filter and filter factory interfaces. */
#include "aero-net/aero-filter.h"

G_DEFINE_INTERFACE (AeroFilter, aero_filter, G_TYPE_OBJECT)

static void
aero_filter_default_init (AeroFilterInterface *iface)
{
}

AeroFilterVerdict
aero_filter_from_guest (AeroFilter *self, GBytes *frame)
{
  AeroFilterInterface *iface = AERO_FILTER_GET_IFACE (self);

  return iface->from_guest ? iface->from_guest (self, frame) : AERO_FILTER_PASS;
}

AeroFilterVerdict
aero_filter_to_guest (AeroFilter *self, GBytes *frame)
{
  AeroFilterInterface *iface = AERO_FILTER_GET_IFACE (self);

  return iface->to_guest ? iface->to_guest (self, frame) : AERO_FILTER_PASS;
}

G_DEFINE_INTERFACE (AeroFilterFactory, aero_filter_factory, AERO_TYPE_COMPONENT)

static void
aero_filter_factory_default_init (AeroFilterFactoryInterface *iface)
{
}

AeroFilter *
aero_filter_factory_create_filter (AeroFilterFactory *self, AeroSession *session, GError **error)
{
  AeroFilterFactoryInterface *iface;

  g_return_val_if_fail (AERO_IS_FILTER_FACTORY (self), NULL);
  iface = AERO_FILTER_FACTORY_GET_IFACE (self);
  g_return_val_if_fail (iface->create_filter != NULL, NULL);
  return iface->create_filter (self, session, error);
}
