/* aero-component.c — the interface every plugin instance implements. */
#include "aero-net/aero-component.h"

G_DEFINE_INTERFACE (AeroComponent, aero_component, G_TYPE_OBJECT)

static void
aero_component_default_init (AeroComponentInterface *iface)
{
}

static GQuark
name_quark (void)
{
  static GQuark q;

  if (G_UNLIKELY (q == 0))
    q = g_quark_from_static_string ("aero-component-name");
  return q;
}

gboolean
aero_component_configure (AeroComponent *self, AeroConfigGroup *group, GError **error)
{
  AeroComponentInterface *iface;

  g_return_val_if_fail (AERO_IS_COMPONENT (self), FALSE);
  g_return_val_if_fail (group != NULL, FALSE);

  aero_component_set_name (self, aero_config_group_get_name (group));
  iface = AERO_COMPONENT_GET_IFACE (self);
  if (iface->configure && !iface->configure (self, group, error))
    return FALSE;
  return aero_config_group_check_unknown_keys (group, error);
}

gboolean
aero_component_start (AeroComponent *self, AeroHost *host, GError **error)
{
  AeroComponentInterface *iface;

  g_return_val_if_fail (AERO_IS_COMPONENT (self), FALSE);
  iface = AERO_COMPONENT_GET_IFACE (self);
  return iface->start ? iface->start (self, host, error) : TRUE;
}

void
aero_component_stop (AeroComponent *self)
{
  AeroComponentInterface *iface;

  g_return_if_fail (AERO_IS_COMPONENT (self));
  iface = AERO_COMPONENT_GET_IFACE (self);
  if (iface->stop)
    iface->stop (self);
}

const char *
aero_component_get_name (AeroComponent *self)
{
  g_return_val_if_fail (AERO_IS_COMPONENT (self), NULL);
  return g_object_get_qdata (G_OBJECT (self), name_quark ());
}

void
aero_component_set_name (AeroComponent *self, const char *name)
{
  g_return_if_fail (AERO_IS_COMPONENT (self));
  g_object_set_qdata_full (G_OBJECT (self), name_quark (), g_strdup (name), g_free);
}
