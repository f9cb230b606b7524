/* aero-nic.c — the NIC device model and NIC factory interfaces. */
#include <string.h>

#include "aero-net/aero-nic.h"

G_DEFINE_INTERFACE (AeroNic, aero_nic, G_TYPE_OBJECT)

static void
aero_nic_default_init (AeroNicInterface *iface)
{
}

void
aero_nic_get_identity (AeroNic *self, AeroPciIdentity *out)
{
  AeroNicInterface *iface;

  g_return_if_fail (AERO_IS_NIC (self));
  g_return_if_fail (out != NULL);
  memset (out, 0, sizeof *out);
  iface = AERO_NIC_GET_IFACE (self);
  if (iface->get_identity)
    iface->get_identity (self, out);
}

void
aero_nic_set_host (AeroNic *self, const AeroNicHostOps *ops, gpointer opaque)
{
  AeroNicInterface *iface;

  g_return_if_fail (AERO_IS_NIC (self));
  iface = AERO_NIC_GET_IFACE (self);
  if (iface->set_host)
    iface->set_host (self, ops, opaque);
}

void
aero_nic_reset (AeroNic *self)
{
  AeroNicInterface *iface;

  g_return_if_fail (AERO_IS_NIC (self));
  iface = AERO_NIC_GET_IFACE (self);
  if (iface->reset)
    iface->reset (self);
}

guint64
aero_nic_read (AeroNic *self, guint bar, guint64 offset, guint size)
{
  AeroNicInterface *iface;

  g_return_val_if_fail (AERO_IS_NIC (self), G_MAXUINT64);
  iface = AERO_NIC_GET_IFACE (self);
  return iface->read ? iface->read (self, bar, offset, size) : G_MAXUINT64;
}

void
aero_nic_write (AeroNic *self, guint bar, guint64 offset, guint size, guint64 value)
{
  AeroNicInterface *iface;

  g_return_if_fail (AERO_IS_NIC (self));
  iface = AERO_NIC_GET_IFACE (self);
  if (iface->write)
    iface->write (self, bar, offset, size, value);
}

void
aero_nic_set_mac (AeroNic *self, const guint8 mac[6])
{
  AeroNicInterface *iface;

  g_return_if_fail (AERO_IS_NIC (self));
  iface = AERO_NIC_GET_IFACE (self);
  if (iface->set_mac)
    iface->set_mac (self, mac);
}

G_DEFINE_INTERFACE (AeroNicFactory, aero_nic_factory, AERO_TYPE_COMPONENT)

static void
aero_nic_factory_default_init (AeroNicFactoryInterface *iface)
{
}

AeroNic *
aero_nic_factory_create_nic (AeroNicFactory *self, GError **error)
{
  AeroNicFactoryInterface *iface;

  g_return_val_if_fail (AERO_IS_NIC_FACTORY (self), NULL);
  iface = AERO_NIC_FACTORY_GET_IFACE (self);
  g_return_val_if_fail (iface->create_nic != NULL, NULL);
  return iface->create_nic (self, error);
}
