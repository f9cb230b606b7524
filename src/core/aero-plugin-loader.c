/* aero-plugin-loader.c — finds plugin modules on the search path, checks
 * their descriptor (ABI version first) and registers their component type.
 *
 * A plugin named NAME is the file NAME.so in a plugin directory. Loading is
 * done once per name; modules are made resident because the GTypes they
 * register cannot be unregistered. */
#include <string.h>
#include <gmodule.h>

#include "aero-plugin-loader.h"
#include "aero-net/aero-config.h"
#include "aero-net/aero-filter.h"
#include "aero-net/aero-nic.h"
#include "aero-net/aero-policy.h"
#include "aero-net/aero-stack.h"
#include "aero-net/aero-transport.h"

struct _AeroPluginRegistry
{
  GType type;
  guint count;
};

struct _AeroPluginLoader
{
  char **search_path;
  GHashTable *loaded; /* name -> AeroPluginInfo */
};

const char *
aero_plugin_kind_to_string (AeroPluginKind kind)
{
  switch (kind)
    {
    case AERO_PLUGIN_KIND_TRANSPORT: return "transport";
    case AERO_PLUGIN_KIND_STACK: return "stack";
    case AERO_PLUGIN_KIND_FILTER: return "filter";
    case AERO_PLUGIN_KIND_POLICY: return "policy";
    case AERO_PLUGIN_KIND_NIC: return "nic";
    default: return "unknown";
    }
}

void
aero_plugin_registry_add (AeroPluginRegistry *registry, GType type)
{
  g_return_if_fail (registry != NULL);
  registry->type = type;
  registry->count++;
}

static void
plugin_info_free (gpointer data)
{
  AeroPluginInfo *info = data;

  g_free (info->name);
  g_free (info->version);
  g_free (info->description);
  g_free (info->file);
  g_free (info);
}

char **
aero_plugin_search_path_build (const char *const *config_dirs)
{
  g_autoptr (GStrvBuilder) builder = g_strv_builder_new ();
  const char *env = g_getenv ("AERO_NETD_PLUGIN_PATH");

  for (guint i = 0; config_dirs && config_dirs[i]; i++)
    if (*config_dirs[i])
      g_strv_builder_add (builder, config_dirs[i]);
  if (env && *env)
    {
      g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);

      for (guint i = 0; parts[i]; i++)
        if (*parts[i])
          g_strv_builder_add (builder, parts[i]);
    }
  g_strv_builder_add (builder, AERO_PLUGINDIR);
  return g_strv_builder_end (builder);
}

AeroPluginLoader *
aero_plugin_loader_new (const char *const *search_path)
{
  AeroPluginLoader *loader = g_new0 (AeroPluginLoader, 1);

  loader->search_path = g_strdupv ((char **) search_path);
  loader->loaded = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, plugin_info_free);
  return loader;
}

void
aero_plugin_loader_free (AeroPluginLoader *loader)
{
  if (loader == NULL)
    return;
  g_strfreev (loader->search_path);
  g_hash_table_unref (loader->loaded);
  g_free (loader);
}

const char *const *
aero_plugin_loader_get_search_path (AeroPluginLoader *loader)
{
  return (const char *const *) loader->search_path;
}

static gboolean
valid_plugin_name (const char *name)
{
  if (name == NULL || *name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_' && *p != '.')
      return FALSE;
  return name[0] != '.';
}

static gboolean
kind_of_type (GType type, AeroPluginKind *kind)
{
  struct { GType iface; AeroPluginKind kind; } table[] = {
    { AERO_TYPE_TRANSPORT, AERO_PLUGIN_KIND_TRANSPORT },
    { AERO_TYPE_STACK_FACTORY, AERO_PLUGIN_KIND_STACK },
    { AERO_TYPE_FILTER_FACTORY, AERO_PLUGIN_KIND_FILTER },
    { AERO_TYPE_POLICY, AERO_PLUGIN_KIND_POLICY },
    { AERO_TYPE_NIC_FACTORY, AERO_PLUGIN_KIND_NIC },
  };
  guint found = 0;

  for (guint i = 0; i < G_N_ELEMENTS (table); i++)
    if (g_type_is_a (type, table[i].iface))
      {
        *kind = table[i].kind;
        found++;
      }
  return found == 1;
}

/* Opens one file that should be plugin @name. */
static AeroPluginInfo *
load_file (const char *name, const char *file, GError **error)
{
  GModule *module;
  gpointer symbol = NULL;
  const AeroPluginDescriptor *desc;
  AeroPluginRegistry registry = { G_TYPE_INVALID, 0 };
  g_autoptr (GError) local = NULL;
  AeroPluginInfo *info;
  AeroPluginKind kind;

  module = g_module_open (file, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s is not an aero-net plugin: %s", name, file,
                   g_module_error ());
      return NULL;
    }
  if (!g_module_symbol (module, AERO_PLUGIN_SYMBOL, &symbol) || symbol == NULL)
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s is not an aero-net plugin: it exports no %s symbol", name,
                   file, AERO_PLUGIN_SYMBOL);
      g_module_close (module);
      return NULL;
    }

  /* The ABI version is read before anything else in the module is used. */
  desc = symbol;
  if (desc->abi_version != AERO_NET_ABI_VERSION)
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s was built for plugin ABI %u, this aero-netd has ABI %u; "
                   "rebuild the plugin against aero-net %s",
                   name, file, desc->abi_version, AERO_NET_ABI_VERSION, AERO_NET_VERSION);
      g_module_close (module);
      return NULL;
    }
  if (desc->struct_size < G_STRUCT_OFFSET (AeroPluginDescriptor, reserved) ||
      desc->name == NULL || desc->version == NULL || desc->register_func == NULL)
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s has an incomplete descriptor", name, file);
      g_module_close (module);
      return NULL;
    }
  if (g_strcmp0 (desc->name, name) != 0)
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s calls itself '%s'; the file must be named %s.so", name,
                   file, desc->name, desc->name);
      g_module_close (module);
      return NULL;
    }

  /* From here on the module's code runs: its types outlive any failure. */
  g_module_make_resident (module);
  if (!desc->register_func (&registry, &local))
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s failed to register: %s", name, file,
                   local ? local->message : "unknown error");
      return NULL;
    }
  if (registry.count != 1 || !g_type_is_a (registry.type, AERO_TYPE_COMPONENT) ||
      !G_TYPE_IS_INSTANTIATABLE (registry.type) || G_TYPE_IS_ABSTRACT (registry.type) ||
      !kind_of_type (registry.type, &kind))
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "plugin '%s': %s must register exactly one instantiable type implementing "
                   "AeroComponent and one of AeroTransport, AeroStackFactory, AeroFilterFactory, "
                   "AeroPolicy or AeroNicFactory",
                   name, file);
      return NULL;
    }

  info = g_new0 (AeroPluginInfo, 1);
  info->name = g_strdup (desc->name);
  info->version = g_strdup (desc->version);
  info->description = g_strdup (desc->description ? desc->description : "");
  info->file = g_strdup (file);
  info->kind = kind;
  info->type = registry.type;
  return info;
}

const AeroPluginInfo *
aero_plugin_loader_load (AeroPluginLoader *loader, const char *name, GError **error)
{
  AeroPluginInfo *info;
  g_autoptr (GString) tried = NULL;
  g_autofree char *path_text = NULL;

  info = g_hash_table_lookup (loader->loaded, name);
  if (info)
    return info;

  path_text = g_strjoinv (G_SEARCHPATH_SEPARATOR_S, loader->search_path);
  if (!valid_plugin_name (name))
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
                   "'%s' is not a valid plugin name (letters, digits, '-', '_' and '.')",
                   name ? name : "");
      return NULL;
    }

  tried = g_string_new (NULL);
  for (guint i = 0; loader->search_path[i]; i++)
    {
      g_autofree char *basename = g_strconcat (name, ".so", NULL);
      g_autofree char *file = g_build_filename (loader->search_path[i], basename, NULL);
      g_autoptr (GError) local = NULL;

      if (tried->len)
        g_string_append (tried, ", ");
      g_string_append (tried, file);
      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;

      info = load_file (name, file, &local);
      if (info == NULL)
        {
          g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN, "%s; search path: %s",
                       local->message, path_text);
          return NULL;
        }
      g_hash_table_insert (loader->loaded, info->name, info);
      return info;
    }

  g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN,
               "plugin '%s' not found; tried %s; search path: %s", name, tried->str, path_text);
  return NULL;
}

static int
compare_info (gconstpointer a, gconstpointer b)
{
  const AeroPluginInfo *ia = *(const AeroPluginInfo *const *) a;
  const AeroPluginInfo *ib = *(const AeroPluginInfo *const *) b;

  return strcmp (ia->name, ib->name);
}

GPtrArray *
aero_plugin_loader_scan (AeroPluginLoader *loader, GPtrArray *problems)
{
  GPtrArray *result = g_ptr_array_new ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; loader->search_path[i]; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (loader->search_path[i], 0, NULL);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *entry;

      if (dir == NULL)
        continue;
      while ((entry = g_dir_read_name (dir)) != NULL)
        if (g_str_has_suffix (entry, ".so") && strlen (entry) > 3)
          g_ptr_array_add (names, g_strndup (entry, strlen (entry) - 3));
      g_ptr_array_sort (names, (GCompareFunc) g_strcmp0);
      for (guint j = 0; j < names->len; j++)
        {
          const char *name = g_ptr_array_index (names, j);
          g_autofree char *basename = g_strconcat (name, ".so", NULL);
          g_autofree char *file = g_build_filename (loader->search_path[i], basename, NULL);
          g_autoptr (GError) error = NULL;
          AeroPluginInfo *info;

          if (g_hash_table_contains (seen, name) || !valid_plugin_name (name))
            continue;
          g_hash_table_add (seen, g_strdup (name));
          info = g_hash_table_lookup (loader->loaded, name);
          if (info == NULL)
            {
              info = load_file (name, file, &error);
              if (info == NULL)
                {
                  if (problems)
                    g_ptr_array_add (problems, g_strdup (error->message));
                  continue;
                }
              g_hash_table_insert (loader->loaded, info->name, info);
            }
          g_ptr_array_add (result, info);
        }
    }
  g_ptr_array_sort (result, compare_info);
  return result;
}
