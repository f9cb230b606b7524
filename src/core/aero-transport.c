/* aero-transport.c — the transport interface. */
#include "aero-net/aero-transport.h"

G_DEFINE_INTERFACE (AeroTransport, aero_transport, AERO_TYPE_COMPONENT)

static void
aero_transport_default_init (AeroTransportInterface *iface)
{
}

void
aero_transport_stop_accepting (AeroTransport *self)
{
  AeroTransportInterface *iface;

  g_return_if_fail (AERO_IS_TRANSPORT (self));
  iface = AERO_TRANSPORT_GET_IFACE (self);
  if (iface->stop_accepting)
    iface->stop_accepting (self);
}
