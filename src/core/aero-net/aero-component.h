/* aero-component.h — what every plugin instance is.
 *
 * Each group of the configuration file that names a plugin becomes one
 * component: an object of the GType the plugin registered. The core calls,
 * in order:
 *
 *   configure()  validate and take the group's keys (no sockets, no threads:
 *                `aero-netd --check-config` stops after this step);
 *   start()      open sockets, register HTTP paths, start timers;
 *   stop()       stop accepting work; sessions have been closed already.
 *
 * A component also implements the interface of its kind: AeroTransport,
 * AeroStackFactory, AeroFilterFactory, AeroPolicy or AeroNicFactory. */
#pragma once

#include <glib-object.h>
#include <aero-net/aero-config.h>

G_BEGIN_DECLS

typedef struct _AeroHost AeroHost;

#define AERO_TYPE_COMPONENT (aero_component_get_type ())
G_DECLARE_INTERFACE (AeroComponent, aero_component, AERO, COMPONENT, GObject)

/**
 * AeroComponentInterface:
 * @configure: read and validate the component's group; every key not
 *   read through @group is reported as unknown afterwards. Must not open
 *   sockets or start anything.
 * @start: optional; begin work. @host gives the core services.
 * @stop: optional; stop accepting new work and release listeners.
 */
struct _AeroComponentInterface
{
  GTypeInterface g_iface;

  gboolean (*configure) (AeroComponent *self, AeroConfigGroup *group, GError **error);
  gboolean (*start) (AeroComponent *self, AeroHost *host, GError **error);
  void (*stop) (AeroComponent *self);

  gpointer padding[8];
};

/**
 * aero_component_configure:
 * @self: a component
 * @group: its configuration group
 * @error: return location for a #GError (domain %AERO_CONFIG_ERROR)
 *
 * Runs the component's configure() and then rejects unknown keys. Also
 * records the group name as the component's instance name.
 *
 * Returns: %TRUE when the group is valid.
 */
gboolean aero_component_configure (AeroComponent *self, AeroConfigGroup *group, GError **error);

/**
 * aero_component_start:
 * @self: a component
 * @host: the core
 * @error: return location for a #GError
 *
 * Starts the component.
 *
 * Returns: %TRUE on success.
 */
gboolean aero_component_start (AeroComponent *self, AeroHost *host, GError **error);

/**
 * aero_component_stop:
 * @self: a component
 *
 * Stops the component. Safe to call on a component that never started.
 */
void aero_component_stop (AeroComponent *self);

/**
 * aero_component_get_name:
 * @self: a component
 *
 * Returns: (transfer none) (nullable): the instance name (its config group).
 */
const char *aero_component_get_name (AeroComponent *self);

/**
 * aero_component_set_name:
 * @self: a component
 * @name: the instance name
 *
 * Sets the instance name. The core does this before configure().
 */
void aero_component_set_name (AeroComponent *self, const char *name);

G_END_DECLS
