/* aero-plugin.h — the plugin entry point.
 *
 * A plugin is a shared module exporting one symbol, `aero_plugin_descriptor`,
 * an AeroPluginDescriptor whose first field is the ABI version the plugin
 * was built against. The loader reads that field before anything else in
 * the plugin runs and refuses the module when it differs from the running
 * library's. Then it calls the descriptor's register function, which names
 * the component type the plugin provides:
 *
 *   static gboolean
 *   register_echo (AeroPluginRegistry *registry, GError **error)
 *   {
 *     aero_plugin_registry_add (registry, ECHO_TYPE_STACK);
 *     return TRUE;
 *   }
 *   AERO_PLUGIN_DEFINE ("echo", "1.0.0", "Reflects every frame", register_echo)
 *
 * The module is made resident: types registered with G_DEFINE_TYPE stay
 * valid for the life of the process. */
#pragma once

#include <glib-object.h>
#include <gmodule.h>
#include <aero-net/aero-version.h>

G_BEGIN_DECLS

/**
 * AeroPluginKind:
 * @AERO_PLUGIN_KIND_TRANSPORT: implements #AeroTransport.
 * @AERO_PLUGIN_KIND_STACK: implements #AeroStackFactory.
 * @AERO_PLUGIN_KIND_FILTER: implements #AeroFilterFactory.
 * @AERO_PLUGIN_KIND_POLICY: implements #AeroPolicy.
 * @AERO_PLUGIN_KIND_NIC: implements #AeroNicFactory.
 *
 * The kind of a plugin, derived from the interfaces its type implements.
 */
typedef enum {
  AERO_PLUGIN_KIND_TRANSPORT,
  AERO_PLUGIN_KIND_STACK,
  AERO_PLUGIN_KIND_FILTER,
  AERO_PLUGIN_KIND_POLICY,
  AERO_PLUGIN_KIND_NIC,
} AeroPluginKind;

/**
 * aero_plugin_kind_to_string:
 * @kind: a kind
 *
 * Returns: (transfer none): "transport", "stack", "filter", "policy" or "nic".
 */
const char *aero_plugin_kind_to_string (AeroPluginKind kind);

typedef struct _AeroPluginRegistry AeroPluginRegistry;

/**
 * AeroPluginRegisterFunc:
 * @registry: where to register
 * @error: return location for a #GError
 *
 * Registers the plugin's component type. Called once per process.
 *
 * Returns: %TRUE on success.
 */
typedef gboolean (*AeroPluginRegisterFunc) (AeroPluginRegistry *registry, GError **error);

/**
 * AeroPluginDescriptor:
 * @abi_version: %AERO_NET_ABI_VERSION at build time; must stay first.
 * @struct_size: sizeof (AeroPluginDescriptor) at build time.
 * @name: the plugin name, as configs write it (`plugin = NAME`).
 * @version: the plugin's own version.
 * @description: one line saying what it does.
 * @register_func: registers the component type.
 *
 * The exported entry point of a plugin. Define it with AERO_PLUGIN_DEFINE.
 */
typedef struct {
  guint32 abi_version;
  guint32 struct_size;
  const char *name;
  const char *version;
  const char *description;
  AeroPluginRegisterFunc register_func;
  gpointer reserved[4];
} AeroPluginDescriptor;

/** AERO_PLUGIN_SYMBOL: name of the exported descriptor symbol. */
#define AERO_PLUGIN_SYMBOL "aero_plugin_descriptor"

/**
 * AERO_PLUGIN_DEFINE:
 * @name: plugin name (string literal)
 * @version: plugin version (string literal)
 * @description: one-line description (string literal)
 * @register_func: an #AeroPluginRegisterFunc
 *
 * Defines and exports the plugin's descriptor.
 */
#define AERO_PLUGIN_DEFINE(name, version, description, register_func)                   \
  G_MODULE_EXPORT const AeroPluginDescriptor aero_plugin_descriptor = {                 \
    AERO_NET_ABI_VERSION, sizeof (AeroPluginDescriptor), (name), (version), (description), \
    (register_func), { NULL, NULL, NULL, NULL }                                          \
  };

/**
 * aero_plugin_registry_add:
 * @registry: the registry passed to the register function
 * @type: a #GType implementing #AeroComponent and exactly one kind interface
 *
 * Names the component type the plugin provides. A plugin provides one.
 */
void aero_plugin_registry_add (AeroPluginRegistry *registry, GType type);

G_END_DECLS
