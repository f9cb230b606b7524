/* aero-plugin-loader.h — finding, checking and loading plugin modules. */
#pragma once

#include "aero-net/aero-host.h"

G_BEGIN_DECLS

typedef struct _AeroPluginLoader AeroPluginLoader;

AeroPluginLoader *aero_plugin_loader_new (const char *const *search_path);
void aero_plugin_loader_free (AeroPluginLoader *loader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroPluginLoader, aero_plugin_loader_free)

const char *const *aero_plugin_loader_get_search_path (AeroPluginLoader *loader);

/* Loads (once) the plugin called @name. Errors are AERO_CONFIG_ERROR_PLUGIN
 * with a message naming the plugin, the files tried and the search path. */
const AeroPluginInfo *aero_plugin_loader_load (AeroPluginLoader *loader, const char *name,
                                               GError **error);

/* Loads every NAME.so on the search path (first of each name wins).
 * Returns the infos sorted by name; problems get one message per file that
 * could not be loaded. */
GPtrArray *aero_plugin_loader_scan (AeroPluginLoader *loader, GPtrArray *problems);

/* Builds the search path: @config_dirs, then AERO_NETD_PLUGIN_PATH, then
 * the built-in directory. Empty entries are skipped. */
char **aero_plugin_search_path_build (const char *const *config_dirs);

G_END_DECLS
