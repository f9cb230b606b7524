/* aero-host.c — the core: reads the configuration, loads and wires plugin
 * instances, owns the HTTP server with /healthz, /readyz and /metrics, owns
 * the sessions (with their admission rules, rate limits and capture), and
 * runs the graceful shutdown. */
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "aero-net/aero-host.h"
#include "aero-net/aero-filter.h"
#include "aero-net/aero-log.h"
#include "aero-net/aero-nic.h"
#include "aero-net/aero-policy.h"
#include "aero-net/aero-stack.h"
#include "aero-net/aero-transport.h"
#include "aero-admission-config.h"
#include "aero-capture.h"
#include "aero-host-private.h"
#include "aero-http-accept.h"
#include "aero-plugin-loader.h"
#include "aero-process-metrics.h"
#include "aero-session-private.h"

/* The largest request body the server reads (see on_got_headers()). */
#define HTTP_MAX_BODY_KIB 1024
/* [http] defaults: connections held from one address, and the request
 * and idle timeouts (see aero-http-accept.h). */
#define HTTP_DEFAULT_MAX_PER_ADDRESS 256
#define HTTP_DEFAULT_TIMEOUT_S 20
#define COMPONENT "core"

typedef struct {
  char *name;
  AeroComponent *component;
  const AeroPluginInfo *info; /* owned by the loader */
  AeroStackFactory *stack;    /* transports only; unowned */
  GPtrArray *filters;         /* transports only; unowned components */
  gboolean started;
} Instance;

struct _AeroHost
{
  GObject parent_instance;

  char *config_file;
  GKeyFile *keyfile;
  char **search_path;
  AeroPluginLoader *loader;

  guint64 shutdown_timeout_ms;
  gint64 max_sessions;
  GPtrArray *listen; /* GInetSocketAddress */
  GTlsCertificate *tls_certificate;
  AeroHttpAcceptConfig http_limits; /* its tls_certificate is set at start */

  GPtrArray *instances; /* Instance */
  GHashTable *by_name;  /* name -> Instance */

  SoupServer *server;
  AeroMetrics *metrics;
  AeroMetric *m_ready;
  AeroMetric *m_sessions_active;
  AeroMetric *m_sessions_opened;
  AeroMetric *m_sessions_refused;
  AeroMetric *m_bodies_refused;

  AeroHttpAcceptor *acceptor;
  AeroMetricFamily *m_sessions_closed;
  AeroMetricFamily *m_plugin_info;
  AeroSessionMetrics session_metrics;

  AeroAdmitter *admitter;
  AeroSessionEndpoint *session_endpoint;
  AeroCapture *capture;

  GHashTable *sessions; /* id -> AeroSession (owned) */
  guint32 session_prefix;
  guint64 session_counter;

  gboolean configured;
  gboolean started;
  gboolean shutting_down;
  gboolean finished;
  guint shutdown_timer;
  guint finish_idle;
};

G_DEFINE_TYPE (AeroHost, aero_host, G_TYPE_OBJECT)

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static const char *const core_groups[] = { "core", "http", "log", "admission", "capture", NULL };

static void
instance_free (gpointer data)
{
  Instance *inst = data;

  g_free (inst->name);
  g_clear_object (&inst->component);
  g_clear_pointer (&inst->filters, g_ptr_array_unref);
  g_free (inst);
}

/* ---- construction ------------------------------------------------------- */

static void
aero_host_dispose (GObject *object)
{
  AeroHost *self = AERO_HOST (object);

  g_clear_handle_id (&self->shutdown_timer, g_source_remove);
  g_clear_handle_id (&self->finish_idle, g_source_remove);
  if (self->sessions)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->sessions);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          g_signal_handlers_disconnect_by_data (value, self);
          aero_session_teardown (value);
        }
      g_hash_table_remove_all (self->sessions);
    }
  if (self->instances)
    for (guint i = self->instances->len; i > 0; i--)
      {
        Instance *inst = g_ptr_array_index (self->instances, i - 1);

        if (inst->started)
          aero_component_stop (inst->component);
        inst->started = FALSE;
      }
  g_clear_pointer (&self->acceptor, aero_http_acceptor_free);
  if (self->server)
    soup_server_disconnect (self->server);
  g_clear_object (&self->server);
  G_OBJECT_CLASS (aero_host_parent_class)->dispose (object);
}

static void
aero_host_finalize (GObject *object)
{
  AeroHost *self = AERO_HOST (object);

  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->capture, aero_capture_free);
  g_clear_pointer (&self->session_endpoint, aero_session_endpoint_free);
  g_clear_pointer (&self->admitter, aero_admitter_free);
  g_clear_pointer (&self->by_name, g_hash_table_unref);
  g_clear_pointer (&self->instances, g_ptr_array_unref);
  g_clear_pointer (&self->listen, g_ptr_array_unref);
  g_clear_object (&self->tls_certificate);
  g_clear_pointer (&self->loader, aero_plugin_loader_free);
  g_clear_pointer (&self->search_path, g_strfreev);
  g_clear_pointer (&self->keyfile, g_key_file_unref);
  g_clear_pointer (&self->metrics, aero_metrics_free);
  g_clear_pointer (&self->http_limits.upgrade_handlers, g_hash_table_unref);
  g_free (self->config_file);
  G_OBJECT_CLASS (aero_host_parent_class)->finalize (object);
}

static void
aero_host_class_init (AeroHostClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = aero_host_dispose;
  object_class->finalize = aero_host_finalize;

  /**
   * AeroHost::finished:
   *
   * Emitted when a shutdown has completed: sessions closed (or the
   * shutdown timeout passed) and components stopped.
   */
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
register_core_metrics (AeroHost *self)
{
  static const char *const closed_labels[] = { "reason", NULL };
  static const char *const info_labels[] = { "instance", "plugin", "kind", "version", NULL };
  static const char *const dir_labels[] = { "direction", NULL };
  static const char *const build_labels[] = { "version", NULL };
  static const char *const dirs[2][2] = { { "from_guest", NULL }, { "to_guest", NULL } };
  const char *version[] = { AERO_NET_VERSION, NULL };
  AeroMetricFamily *frames, *bytes, *drops, *rate_drops;

  aero_metric_set (aero_metric_family_series (
                     aero_metrics_family (self->metrics, "aero_build_info", AERO_METRIC_GAUGE,
                                          "aero-net build information; the value is always 1.",
                                          build_labels),
                     version),
                   1);
  self->m_ready = aero_metrics_gauge (self->metrics, "aero_ready",
                                      "1 when every component has started and no shutdown is under way.");
  self->m_sessions_active = aero_metrics_gauge (self->metrics, "aero_sessions_active",
                                                "Sessions currently open.");
  self->m_sessions_opened = aero_metrics_counter (self->metrics, "aero_sessions_opened_total",
                                                  "Sessions opened since start.");
  self->m_sessions_refused = aero_metrics_counter (
    self->metrics, "aero_sessions_refused_total",
    "Channels refused a session (shutting down, session limit, stack failure).");
  self->m_bodies_refused = aero_metrics_counter (
    self->metrics, "aero_http_bodies_refused_total",
    "HTTP requests refused (413) for a body above " G_STRINGIFY (HTTP_MAX_BODY_KIB)
    " KiB or of unknown length; read into nothing.");
  self->m_sessions_closed = aero_metrics_family (self->metrics, "aero_sessions_closed_total",
                                                 AERO_METRIC_COUNTER,
                                                 "Sessions closed since start, by close reason.",
                                                 closed_labels);
  self->m_plugin_info = aero_metrics_family (self->metrics, "aero_plugin_info", AERO_METRIC_GAUGE,
                                             "Configured plugin instances; the value is always 1.",
                                             info_labels);
  frames = aero_metrics_family (self->metrics, "aero_session_frames_total", AERO_METRIC_COUNTER,
                                "Frames passed by sessions, by direction.", dir_labels);
  bytes = aero_metrics_family (self->metrics, "aero_session_bytes_total", AERO_METRIC_COUNTER,
                               "Frame bytes passed by sessions, by direction.", dir_labels);
  drops = aero_metrics_family (self->metrics, "aero_session_drops_total", AERO_METRIC_COUNTER,
                               "Frames dropped by sessions (filters, full queues), by direction.",
                               dir_labels);
  rate_drops = aero_metrics_family (self->metrics, "aero_session_rate_limit_drops_total",
                                    AERO_METRIC_COUNTER,
                                    "Frames dropped over the per-tunnel bytes-per-second limit, "
                                    "by direction.",
                                    dir_labels);
  for (int d = 0; d < 2; d++)
    {
      self->session_metrics.frames[d] = aero_metric_family_series (frames, dirs[d]);
      self->session_metrics.bytes[d] = aero_metric_family_series (bytes, dirs[d]);
      self->session_metrics.drops[d] = aero_metric_family_series (drops, dirs[d]);
      self->session_metrics.rate_limit_drops[d] = aero_metric_family_series (rate_drops, dirs[d]);
    }
  self->session_metrics.rate_limit_closes = aero_metrics_counter (
    self->metrics, "aero_session_rate_limit_closes_total",
    "Sessions closed for going over the per-tunnel frames-per-second limit.");
  aero_process_metrics_register (self->metrics);
}

static void
aero_host_init (AeroHost *self)
{
  self->shutdown_timeout_ms = 10000;
  self->max_sessions = 10000;
  self->http_limits.max_per_address = HTTP_DEFAULT_MAX_PER_ADDRESS;
  self->http_limits.request_timeout_ms = HTTP_DEFAULT_TIMEOUT_S * 1000;
  self->http_limits.idle_timeout_s = HTTP_DEFAULT_TIMEOUT_S;
  self->http_limits.direct_upgrades = TRUE;
  self->http_limits.upgrade_handlers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                                              g_free);
  self->listen = g_ptr_array_new_with_free_func (g_object_unref);
  self->instances = g_ptr_array_new_with_free_func (instance_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, g_object_unref);
  self->session_prefix = g_random_int ();
  self->metrics = aero_metrics_new ();
  register_core_metrics (self);
  self->admitter = aero_admitter_new (self->metrics);
  self->session_endpoint = aero_session_endpoint_new (self->metrics);
  self->capture = aero_capture_new (self->metrics);
}

AeroHost *
aero_host_new (void)
{
  return g_object_new (AERO_TYPE_HOST, NULL);
}

/* ---- configuration ------------------------------------------------------ */

static gboolean
load_core_group (AeroHost *self, AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) dirs = NULL;
  g_autoptr (GPtrArray) resolved = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *base = g_path_get_dirname (self->config_file);

  dirs = aero_config_group_get_string_list (group, "plugin-path", FALSE, error);
  if (dirs == NULL)
    return FALSE;
  for (guint i = 0; dirs[i]; i++)
    g_ptr_array_add (resolved, g_path_is_absolute (dirs[i]) ? g_strdup (dirs[i])
                                                            : g_build_filename (base, dirs[i], NULL));
  g_ptr_array_add (resolved, NULL);
  g_strfreev (self->search_path);
  self->search_path = aero_plugin_search_path_build ((const char *const *) resolved->pdata);

  if (!aero_config_group_get_duration (group, "shutdown-timeout", 0, 600000, 10000,
                                       &self->shutdown_timeout_ms, error))
    return FALSE;
  if (!aero_config_group_get_int (group, "max-sessions", 1, 1000000, 10000, &self->max_sessions,
                                  error))
    return FALSE;
  return aero_config_group_check_unknown_keys (group, error);
}

static gboolean
load_http_group (AeroHost *self, AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) listen = NULL;
  g_autofree char *cert = NULL;
  g_autofree char *key = NULL;
  gint64 per_address;
  guint64 idle_ms;

  listen = aero_config_group_get_string_list (group, "listen", FALSE, error);
  if (listen == NULL)
    return FALSE;
  g_ptr_array_set_size (self->listen, 0);
  for (guint i = 0; listen[i]; i++)
    {
      g_autoptr (GError) local = NULL;
      GInetSocketAddress *addr = aero_parse_socket_address (listen[i], 0, &local);

      if (addr == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "listen", "%s",
                                   local->message);
          return FALSE;
        }
      g_ptr_array_add (self->listen, addr);
    }
  if (self->listen->len == 0)
    g_ptr_array_add (self->listen, aero_parse_socket_address ("127.0.0.1:8090", 0, NULL));

  if (!aero_config_group_get_int (group, "max-connections-per-address", 0, 1000000,
                                  HTTP_DEFAULT_MAX_PER_ADDRESS, &per_address, error) ||
      !aero_config_group_get_duration (group, "request-timeout", 0, 3600000,
                                       HTTP_DEFAULT_TIMEOUT_S * 1000,
                                       &self->http_limits.request_timeout_ms, error) ||
      !aero_config_group_get_duration (group, "idle-timeout", 0, 3600000,
                                       HTTP_DEFAULT_TIMEOUT_S * 1000, &idle_ms, error) ||
      !aero_config_group_get_bool (group, "direct-upgrades", TRUE,
                                   &self->http_limits.direct_upgrades, error))
    return FALSE;
  self->http_limits.max_per_address = per_address;
  /* A socket's timeout is in whole seconds. */
  self->http_limits.idle_timeout_s = (idle_ms + 999) / 1000;

  cert = aero_config_group_get_string (group, "tls-certificate", NULL, FALSE, error);
  if (error && *error)
    return FALSE;
  key = aero_config_group_get_string (group, "tls-key", NULL, FALSE, error);
  if (error && *error)
    return FALSE;
  if (key && !cert)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_MISSING_KEY, "tls-certificate",
                               "required when tls-key is set");
      return FALSE;
    }
  if (cert)
    {
      g_autoptr (GError) local = NULL;

      g_clear_object (&self->tls_certificate);
      self->tls_certificate = g_tls_certificate_new_from_files (cert, key ? key : cert, &local);
      if (self->tls_certificate == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE,
                                   "tls-certificate",
                                   "cannot load certificate '%s' and key '%s': %s", cert,
                                   key ? key : cert, local->message);
          return FALSE;
        }
    }
  return aero_config_group_check_unknown_keys (group, error);
}

static gboolean
load_log_group (AeroHost *self, AeroConfigGroup *group, GError **error)
{
  static const char *const formats[] = { "text", "json", NULL };
  static const char *const levels[] = { "debug", "info", "message", "warning", NULL };
  static const GLogLevelFlags level_flags[] = { G_LOG_LEVEL_DEBUG, G_LOG_LEVEL_INFO,
                                                G_LOG_LEVEL_MESSAGE, G_LOG_LEVEL_WARNING };
  guint format = 0, level = 1;

  if (!aero_config_group_get_enum (group, "format", formats, 0, &format, error) ||
      !aero_config_group_get_enum (group, "level", levels, 1, &level, error) ||
      !aero_config_group_check_unknown_keys (group, error))
    return FALSE;
  aero_log_setup (format == 1 ? AERO_LOG_FORMAT_JSON : AERO_LOG_FORMAT_TEXT, level_flags[level]);
  return TRUE;
}

static gboolean
load_admission_group (AeroHost *self, AeroConfigGroup *group, GError **error)
{
  g_autoptr (AeroAdmissionConfig) config = aero_admission_config_new ();
  g_autofree char *base = g_path_get_dirname (self->config_file);

  if (!aero_admission_config_load (config, group, base, aero_host_is_loopback_only (self),
                                   self->tls_certificate != NULL, error))
    return FALSE;
  aero_admitter_set_config (self->admitter, g_steal_pointer (&config));
  return TRUE;
}

static gboolean
load_capture_group (AeroHost *self, AeroConfigGroup *group, GError **error)
{
  g_autofree char *base = g_path_get_dirname (self->config_file);

  return aero_capture_configure (self->capture, group, base, error);
}

static gboolean
valid_instance_name (const char *name)
{
  if (*name == '\0' || strlen (name) > 64)
    return FALSE;
  for (const char *p = name; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static gboolean
load_instance (AeroHost *self, const char *name, GError **error)
{
  g_autoptr (AeroConfigGroup) group = aero_config_group_new (self->keyfile, self->config_file, name);
  g_autofree char *plugin = NULL;
  g_autoptr (GError) local = NULL;
  const AeroPluginInfo *info;
  Instance *inst;

  if (!aero_config_group_has_key (group, "plugin"))
    {
      g_autofree char *known = g_strjoinv (", ", (char **) core_groups);

      aero_config_group_error (group, error, AERO_CONFIG_ERROR_UNKNOWN_GROUP, NULL,
                               "unknown group (core groups are %s; a plugin instance group needs "
                               "a 'plugin' key)",
                               known);
      return FALSE;
    }
  if (!valid_instance_name (name))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, NULL,
                               "instance names may only use letters, digits, '-' and '_'");
      return FALSE;
    }
  plugin = aero_config_group_get_string (group, "plugin", NULL, TRUE, error);
  if (plugin == NULL)
    return FALSE;
  info = aero_plugin_loader_load (self->loader, plugin, &local);
  if (info == NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_PLUGIN, "plugin", "%s",
                               local->message);
      return FALSE;
    }

  inst = g_new0 (Instance, 1);
  inst->name = g_strdup (name);
  inst->info = info;
  inst->component = g_object_new (info->type, NULL);
  g_ptr_array_add (self->instances, inst);
  g_hash_table_insert (self->by_name, inst->name, inst);

  /* Wiring keys are the core's; the transport never sees them. */
  if (info->kind == AERO_PLUGIN_KIND_TRANSPORT)
    {
      aero_config_group_has_key (group, "stack");
      aero_config_group_has_key (group, "filters");
    }

  return aero_component_configure (inst->component, group, error);
}

static gboolean
wire_transport (AeroHost *self, Instance *transport, Instance *only_stack, GError **error)
{
  g_autoptr (AeroConfigGroup) group = aero_config_group_new (self->keyfile, self->config_file,
                                                             transport->name);
  g_autofree char *stack = NULL;
  g_auto (GStrv) filters = NULL;
  Instance *target;

  stack = aero_config_group_get_string (group, "stack", NULL, FALSE, error);
  if (error && *error)
    return FALSE;
  if (stack == NULL)
    {
      if (only_stack == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_MISSING_KEY, "stack",
                                   "required key is missing: name the stack instance this "
                                   "transport's sessions use (there is not exactly one)");
          return FALSE;
        }
      target = only_stack;
    }
  else
    {
      target = g_hash_table_lookup (self->by_name, stack);
      if (target == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "stack",
                                   "expected the name of a stack instance, got '%s', which is "
                                   "not a group of this file",
                                   stack);
          return FALSE;
        }
      if (target->info->kind != AERO_PLUGIN_KIND_STACK)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "stack",
                                   "expected the name of a stack instance, got '%s', which is a "
                                   "%s",
                                   stack, aero_plugin_kind_to_string (target->info->kind));
          return FALSE;
        }
    }
  transport->stack = AERO_STACK_FACTORY (target->component);

  filters = aero_config_group_get_string_list (group, "filters", FALSE, error);
  if (filters == NULL)
    return FALSE;
  transport->filters = g_ptr_array_new ();
  for (guint i = 0; filters[i]; i++)
    {
      Instance *f = g_hash_table_lookup (self->by_name, filters[i]);

      if (f == NULL || (f->info->kind != AERO_PLUGIN_KIND_FILTER &&
                        f->info->kind != AERO_PLUGIN_KIND_POLICY))
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "filters",
                                   "expected names of filter or policy instances, got '%s', "
                                   "which is %s%s",
                                   filters[i], f ? "a " : "",
                                   f ? aero_plugin_kind_to_string (f->info->kind)
                                     : "not a group of this file");
          return FALSE;
        }
      g_ptr_array_add (transport->filters, f->component);
    }
  return TRUE;
}

gboolean
aero_host_load_config (AeroHost *self, const char *file, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_auto (GStrv) groups = NULL;
  Instance *only_stack = NULL;
  guint n_stacks = 0;

  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  g_return_val_if_fail (!self->configured, FALSE);

  self->config_file = g_strdup (file);
  self->keyfile = g_key_file_new ();
  if (!g_key_file_load_from_file (self->keyfile, file, G_KEY_FILE_NONE, &local))
    {
      g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PARSE, "%s: %s", file,
                   local->message);
      return FALSE;
    }

  /* Core groups first (an absent group means defaults), so that logging
   * and the plugin path are set before any plugin loads, and [http]
   * before [admission], which looks at the listen addresses. */
  for (guint i = 0; core_groups[i]; i++)
    {
      static gboolean (*const loaders[]) (AeroHost *, AeroConfigGroup *, GError **) = {
        load_core_group, load_http_group, load_log_group, load_admission_group,
        load_capture_group,
      };
      g_autoptr (AeroConfigGroup) group = aero_config_group_new (self->keyfile, file, core_groups[i]);

      if (!loaders[i] (self, group, error))
        return FALSE;
    }
  self->loader = aero_plugin_loader_new ((const char *const *) self->search_path);

  groups = g_key_file_get_groups (self->keyfile, NULL);
  for (guint i = 0; groups[i]; i++)
    {
      if (g_strv_contains (core_groups, groups[i]) || strchr (groups[i], '.'))
        continue;
      if (!load_instance (self, groups[i], error))
        return FALSE;
    }
  /* [OWNER.SECTION] belongs to a core group or an instance, which checked
   * it when it validated its own group. */
  for (guint i = 0; groups[i]; i++)
    {
      g_autofree char *owner = NULL;

      if (strchr (groups[i], '.') == NULL)
        continue;
      owner = g_strndup (groups[i], strchr (groups[i], '.') - groups[i]);
      if (!g_strv_contains (core_groups, owner) && !g_hash_table_contains (self->by_name, owner))
        {
          g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_UNKNOWN_GROUP,
                       "%s: [%s]: unknown group (no instance called '%s')", file, groups[i],
                       owner);
          return FALSE;
        }
    }

  for (guint i = 0; i < self->instances->len; i++)
    {
      Instance *inst = g_ptr_array_index (self->instances, i);

      if (inst->info->kind == AERO_PLUGIN_KIND_STACK)
        {
          only_stack = inst;
          n_stacks++;
        }
    }
  if (n_stacks != 1)
    only_stack = NULL;
  for (guint i = 0; i < self->instances->len; i++)
    {
      Instance *inst = g_ptr_array_index (self->instances, i);
      const char *labels[] = { inst->name, inst->info->name,
                               aero_plugin_kind_to_string (inst->info->kind), inst->info->version,
                               NULL };

      if (inst->info->kind == AERO_PLUGIN_KIND_TRANSPORT &&
          !wire_transport (self, inst, only_stack, error))
        return FALSE;
      aero_metric_set (aero_metric_family_series (self->m_plugin_info, labels), 1);
    }

  self->configured = TRUE;
  return TRUE;
}

const char *const *
aero_host_get_plugin_search_path (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  if (self->search_path == NULL)
    self->search_path = aero_plugin_search_path_build (NULL);
  return (const char *const *) self->search_path;
}

GPtrArray *
aero_host_list_plugins (AeroHost *self, GPtrArray **problems)
{
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *result;

  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  if (self->loader == NULL)
    self->loader = aero_plugin_loader_new (aero_host_get_plugin_search_path (self));
  result = aero_plugin_loader_scan (self->loader, found);
  if (problems)
    *problems = g_steal_pointer (&found);
  return result;
}

/* ---- HTTP: /healthz, /readyz, /metrics ---------------------------------- */

static gboolean
only_get (SoupServerMessage *msg)
{
  const char *method = soup_server_message_get_method (msg);

  if (method == SOUP_METHOD_GET || method == SOUP_METHOD_HEAD)
    return TRUE;
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                "GET, HEAD");
  soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, NULL);
  return FALSE;
}

static void
reply_text (SoupServerMessage *msg, guint status, const char *content_type, char *body, gsize len)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, content_type, SOUP_MEMORY_TAKE, body, len);
}

static void
healthz_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  if (only_get (msg))
    reply_text (msg, SOUP_STATUS_OK, "text/plain; charset=utf-8", g_strdup ("ok\n"), 3);
}

static void
readyz_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
           gpointer data)
{
  AeroHost *self = data;
  const char *body;

  if (!only_get (msg))
    return;
  if (aero_host_is_ready (self))
    body = "ready\n";
  else if (self->shutting_down)
    body = "shutting down\n";
  else
    body = "starting\n";
  reply_text (msg, aero_host_is_ready (self) ? SOUP_STATUS_OK : SOUP_STATUS_SERVICE_UNAVAILABLE,
              "text/plain; charset=utf-8", g_strdup (body), strlen (body));
}

static void
metrics_cb (SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
            gpointer data)
{
  AeroHost *self = data;
  GString *text;
  gsize len;

  if (!only_get (msg))
    return;
  aero_metric_set (self->m_ready, aero_host_is_ready (self) ? 1 : 0);
  aero_metric_set (self->m_sessions_active, g_hash_table_size (self->sessions));
  text = aero_metrics_render (self->metrics);
  len = text->len;
  reply_text (msg, SOUP_STATUS_OK, "text/plain; version=0.0.4; charset=utf-8",
              g_string_free (text, FALSE), len);
}

/* Request bodies: libsoup reads a request's whole body into memory before
 * any handler runs, and nothing of ours needs more than a WebRTC offer
 * (signal-max-message, at most 1 MiB). A larger body, or one of unknown
 * length (chunked), is read into nothing and answered 413; the connection
 * is closed after it. A plugin's early handler that answers first (411,
 * 413) keeps its answer. */
static void
on_got_headers (SoupServerMessage *msg, gpointer user_data)
{
  AeroHost *self = user_data;
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  SoupEncoding encoding = soup_message_headers_get_encoding (headers);

  if (encoding == SOUP_ENCODING_NONE
      || (encoding == SOUP_ENCODING_CONTENT_LENGTH
          && soup_message_headers_get_content_length (headers) <= HTTP_MAX_BODY_KIB * 1024))
    return;
  soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
  soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
                                "close");
  if (soup_server_message_get_status (msg) == SOUP_STATUS_NONE)
    {
      static const char text[] = "request body too large\n";

      aero_metric_inc (self->m_bodies_refused);
      reply_text (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "text/plain; charset=utf-8",
                  g_strdup (text), sizeof text - 1);
    }
}

static void
on_request_started (SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
  g_signal_connect (msg, "got-headers", G_CALLBACK (on_got_headers), user_data);
}

/* A listening TCP socket with a deep accept queue: libsoup's own listen()
 * uses a backlog of 10, which makes bursts of tunnel set-ups wait for SYN
 * retransmissions (seconds) instead of being accepted. */
#define HTTP_LISTEN_BACKLOG 4096

static GSocket *
listen_socket_new (GSocketAddress *addr, GError **error)
{
  g_autoptr (GSocket) socket = g_socket_new (g_socket_address_get_family (addr),
                                             G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error);

  if (socket == NULL)
    return NULL;
  g_socket_set_listen_backlog (socket, HTTP_LISTEN_BACKLOG);
  if (!g_socket_bind (socket, addr, TRUE, error) || !g_socket_listen (socket, error))
    return NULL;
  return g_steal_pointer (&socket);
}

/* The server listens through the core's acceptor (aero-http-accept.h):
 * libsoup never sees the listening sockets, and TLS is set up by the
 * acceptor. */
static gboolean
start_http (AeroHost *self, GError **error)
{
  self->server = g_object_new (SOUP_TYPE_SERVER, "server-header", "aero-netd/" AERO_NET_VERSION " ",
                               NULL);
  self->http_limits.tls_certificate = self->tls_certificate;
  self->acceptor = aero_http_acceptor_new (self->server, &self->http_limits, self->metrics);
  g_signal_connect (self->server, "request-started", G_CALLBACK (on_request_started), self);
  soup_server_add_handler (self->server, "/healthz", healthz_cb, self, NULL);
  soup_server_add_handler (self->server, "/readyz", readyz_cb, self, NULL);
  soup_server_add_handler (self->server, "/metrics", metrics_cb, self, NULL);
  aero_session_endpoint_serve (self->session_endpoint, self->server, self, self->admitter);

  for (guint i = 0; i < self->listen->len; i++)
    {
      GSocketAddress *addr = g_ptr_array_index (self->listen, i);
      g_autoptr (GError) local = NULL;

      g_autoptr (GSocket) socket = listen_socket_new (addr, &local);

      if (socket == NULL || !aero_http_acceptor_add (self->acceptor, socket, &local))
        {
          g_autofree char *text = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (addr));

          g_set_error (error, local->domain, local->code, "cannot listen on %s: %s", text,
                       local->message);
          return FALSE;
        }
    }
  return TRUE;
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The process's descriptor table, grown once at start to what the
 * configured capacity needs: two descriptors per session (its connection
 * and a socket of its guest's) and 1,024 for the rest, within the open
 * files limit. Linux grows the table by doubling as descriptors are
 * opened, and in a process with more than one thread (GLib's worker
 * thread is one) every doubling waits for an RCU grace period: 10-25 ms
 * on a VM, during which the main loop, and every session on it, stands
 * still. Grown here, the table does not grow under a burst of new
 * sessions. The kernel never shrinks it; it costs about 8 bytes of kernel
 * memory per slot (256 KiB for the default 10,000 sessions). */
static void
reserve_descriptors (AeroHost *self)
{
  struct rlimit limit;
  gint64 want = MIN (self->max_sessions * 2 + 1024, 1 << 20);
  int probe, high;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0)
    return;
  if (limit.rlim_cur != RLIM_INFINITY && (rlim_t) want > limit.rlim_cur)
    want = (gint64) limit.rlim_cur;
  probe = open ("/dev/null", O_RDONLY | O_CLOEXEC);
  if (probe < 0)
    return;
  high = fcntl (probe, F_DUPFD_CLOEXEC, (int) want - 1);
  if (high >= 0)
    close (high);
  close (probe);
  AERO_LOG_DEBUG (COMPONENT, "MESSAGE", "descriptor table %s for %" G_GINT64_FORMAT " descriptors",
                  high >= 0 ? "reserved" : "not reserved (it grows as needed)", want);
}

gboolean
aero_host_start (AeroHost *self, GError **error)
{
  g_autofree char *urls = NULL;

  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  g_return_val_if_fail (!self->started, FALSE);

  if (!self->configured)
    {
      /* An embedder that did not load a file gets the defaults. */
      g_ptr_array_add (self->listen, aero_parse_socket_address ("127.0.0.1:8090", 0, NULL));
      self->configured = TRUE;
    }
  reserve_descriptors (self);
  if (!aero_capture_start (self->capture, error) || !start_http (self, error))
    return FALSE;
  aero_admitter_log_config (self->admitter);

  for (guint i = 0; i < self->instances->len; i++)
    {
      Instance *inst = g_ptr_array_index (self->instances, i);
      g_autoptr (GError) local = NULL;

      if (!aero_component_start (inst->component, self, &local))
        {
          g_set_error (error, local->domain, local->code, "[%s] (plugin %s) failed to start: %s",
                       inst->name, inst->info->name, local->message);
          return FALSE;
        }
      inst->started = TRUE;
      AERO_LOG_INFO (COMPONENT, "instance", inst->name, "plugin", inst->info->name, "kind",
                     aero_plugin_kind_to_string (inst->info->kind), "version", inst->info->version,
                     "MESSAGE", "started %s", inst->name);
    }
  self->started = TRUE;

  urls = aero_http_acceptor_describe (self->acceptor);
  AERO_LOG_INFO (COMPONENT, "listen", urls, "MESSAGE", "aero-netd %s ready with %u instance(s)",
                 AERO_NET_VERSION, self->instances->len);
  return TRUE;
}

gboolean
aero_host_is_ready (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  return self->started && !self->shutting_down;
}

gboolean
aero_host_is_shutting_down (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  return self->shutting_down;
}

/* The last step of a shutdown, once capture files are written out. */
static gboolean
finished_cb (gpointer data)
{
  AeroHost *self = data;

  AERO_LOG_INFO (COMPONENT, "MESSAGE", "shutdown complete");
  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  return G_SOURCE_REMOVE;
}

static gboolean
finish_cb (gpointer data)
{
  AeroHost *self = data;
  guint left = g_hash_table_size (self->sessions);

  self->finish_idle = 0;
  g_clear_handle_id (&self->shutdown_timer, g_source_remove);
  if (self->finished)
    return G_SOURCE_REMOVE;
  self->finished = TRUE;

  if (left > 0)
    AERO_LOG_WARNING (COMPONENT, "MESSAGE",
                      "shutdown timeout: %u session(s) did not close in time; dropping them",
                      left);
  for (guint i = self->instances->len; i > 0; i--)
    {
      Instance *inst = g_ptr_array_index (self->instances, i - 1);

      if (inst->started)
        aero_component_stop (inst->component);
      inst->started = FALSE;
    }
  aero_capture_when_idle (self->capture, 2000, finished_cb, self);
  return G_SOURCE_REMOVE;
}

static void
schedule_finish (AeroHost *self)
{
  if (self->finish_idle == 0 && !self->finished)
    self->finish_idle = g_idle_add (finish_cb, self);
}

static gboolean
shutdown_timeout_cb (gpointer data)
{
  AeroHost *self = data;

  self->shutdown_timer = 0;
  schedule_finish (self);
  return G_SOURCE_REMOVE;
}

void
aero_host_shutdown (AeroHost *self)
{
  g_autoptr (GPtrArray) sessions = NULL;
  GHashTableIter iter;
  gpointer value;

  g_return_if_fail (AERO_IS_HOST (self));
  if (self->shutting_down)
    return;
  self->shutting_down = TRUE;
  AERO_LOG_INFO (COMPONENT, "MESSAGE", "shutting down: %u session(s) to close within %" G_GUINT64_FORMAT " ms",
                 g_hash_table_size (self->sessions), self->shutdown_timeout_ms);

  for (guint i = 0; i < self->instances->len; i++)
    {
      Instance *inst = g_ptr_array_index (self->instances, i);

      if (inst->started && inst->info->kind == AERO_PLUGIN_KIND_TRANSPORT)
        aero_transport_stop_accepting (AERO_TRANSPORT (inst->component));
    }

  sessions = g_ptr_array_new_with_free_func (g_object_unref);
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sessions, g_object_ref (value));
  for (guint i = 0; i < sessions->len; i++)
    aero_session_close (g_ptr_array_index (sessions, i), AERO_CLOSE_SHUTDOWN,
                        "server shutting down");

  if (g_hash_table_size (self->sessions) == 0)
    schedule_finish (self);
  else
    self->shutdown_timer = g_timeout_add (self->shutdown_timeout_ms, shutdown_timeout_cb, self);
}

/* ---- sessions ----------------------------------------------------------- */

static Instance *
instance_of (AeroHost *self, AeroComponent *component)
{
  for (guint i = 0; i < self->instances->len; i++)
    {
      Instance *inst = g_ptr_array_index (self->instances, i);

      if (inst->component == component)
        return inst;
    }
  return NULL;
}

static void
on_session_closed (AeroSession *session, gpointer data)
{
  AeroHost *self = data;
  AeroCloseReason reason = aero_session_get_close_reason (session);
  const char *labels[] = { aero_close_reason_to_string (reason), NULL };
  AeroSessionCounters c;
  char from[64], to[64], drops[64];

  aero_session_get_counters (session, &c);
  g_snprintf (from, sizeof from, "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, c.frames_from_guest,
              c.bytes_from_guest);
  g_snprintf (to, sizeof to, "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, c.frames_to_guest,
              c.bytes_to_guest);
  g_snprintf (drops, sizeof drops, "%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT, c.drops_from_guest,
              c.drops_to_guest);
  AERO_LOG_INFO (COMPONENT, "session", aero_session_get_id (session), "reason", labels[0],
                 "from_guest", from, "to_guest", to, "drops", drops, "MESSAGE", "session closed");

  aero_metric_inc (aero_metric_family_series (self->m_sessions_closed, labels));
  g_signal_handlers_disconnect_by_data (session, self);
  g_hash_table_remove (self->sessions, aero_session_get_id (session));
  aero_metric_set (self->m_sessions_active, g_hash_table_size (self->sessions));
  if (self->shutting_down && g_hash_table_size (self->sessions) == 0)
    schedule_finish (self);
}

AeroSession *
aero_host_open_session (AeroHost *self, AeroComponent *transport, AeroChannel *channel,
                        GError **error)
{
  g_autoptr (AeroSession) session = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *id = NULL;
  Instance *inst;

  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  g_return_val_if_fail (AERO_IS_CHANNEL (channel), NULL);

  inst = instance_of (self, transport);
  if (inst == NULL || inst->stack == NULL)
    {
      aero_metric_inc (self->m_sessions_refused);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "the transport is not a configured transport instance");
      return NULL;
    }
  if (self->shutting_down || !self->started)
    {
      aero_metric_inc (self->m_sessions_refused);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "the server is %s",
                   self->shutting_down ? "shutting down" : "not started");
      return NULL;
    }
  if ((gint64) g_hash_table_size (self->sessions) >= self->max_sessions)
    {
      aero_metric_inc (self->m_sessions_refused);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "session limit (%" G_GINT64_FORMAT ") reached",
                   self->max_sessions);
      return NULL;
    }

  id = g_strdup_printf ("%08x%08" G_GINT64_MODIFIER "x", self->session_prefix,
                        ++self->session_counter);
  session = aero_session_new (self, id, channel, &self->session_metrics);
  aero_session_set_limits (session, &aero_admitter_get_config (self->admitter)->limits);
  if (aero_capture_is_enabled (self->capture))
    {
      g_autofree char *description = g_strdup_printf (
        "aero-netd session %s (transport %s, peer %s, principal %s)", id, inst->name,
        aero_channel_get_peer (channel) ? aero_channel_get_peer (channel) : "-",
        aero_channel_get_principal (channel) ? aero_channel_get_principal (channel) : "-");

      aero_session_set_capture (session, aero_capture_open (self->capture, id, description));
    }
  if (!aero_session_setup (session, inst->stack, inst->filters, &local))
    {
      aero_metric_inc (self->m_sessions_refused);
      AERO_LOG_WARNING (COMPONENT, "session", id, "transport", inst->name, "MESSAGE",
                        "cannot open session: %s", local->message);
      aero_session_teardown (session);
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }

  g_hash_table_insert (self->sessions, (gpointer) aero_session_get_id (session),
                       g_object_ref (session));
  g_signal_connect (session, "closed", G_CALLBACK (on_session_closed), self);
  aero_metric_inc (self->m_sessions_opened);
  aero_metric_set (self->m_sessions_active, g_hash_table_size (self->sessions));
  AERO_LOG_INFO (COMPONENT, "session", id, "transport", inst->name, "peer",
                 aero_channel_get_peer (channel) ? aero_channel_get_peer (channel) : "-",
                 "principal",
                 aero_channel_get_principal (channel) ? aero_channel_get_principal (channel) : "-",
                 "MESSAGE", "session opened");
  return session;
}

guint
aero_host_get_session_count (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), 0);
  return g_hash_table_size (self->sessions);
}

/* ---- accessors ---------------------------------------------------------- */

void
aero_host_add_upgrade_handler (AeroHost *self, const char *path, AeroHttpUpgradeFunc func,
                               gpointer user_data)
{
  AeroHttpUpgradeHandler *handler;

  g_return_if_fail (AERO_IS_HOST (self));
  g_return_if_fail (path != NULL && path[0] == '/');
  g_return_if_fail (func != NULL);
  handler = g_new (AeroHttpUpgradeHandler, 1);
  handler->func = func;
  handler->user_data = user_data;
  g_hash_table_replace (self->http_limits.upgrade_handlers, g_strdup (path), handler);
}

void
aero_host_remove_upgrade_handler (AeroHost *self, const char *path)
{
  g_return_if_fail (AERO_IS_HOST (self));
  g_return_if_fail (path != NULL);
  g_hash_table_remove (self->http_limits.upgrade_handlers, path);
}

SoupServer *
aero_host_get_http_server (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  return self->server;
}

gboolean
aero_host_is_loopback_only (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  for (guint i = 0; i < self->listen->len; i++)
    {
      GInetAddress *addr = g_inet_socket_address_get_address (g_ptr_array_index (self->listen, i));

      if (!g_inet_address_get_is_loopback (addr))
        return FALSE;
    }
  return TRUE;
}

gboolean
aero_host_is_tls (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), FALSE);
  return self->tls_certificate != NULL;
}

AeroMetrics *
aero_host_get_metrics (AeroHost *self)
{
  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  return self->metrics;
}

AeroComponent *
aero_host_get_component (AeroHost *self, const char *name)
{
  Instance *inst;

  g_return_val_if_fail (AERO_IS_HOST (self), NULL);
  inst = g_hash_table_lookup (self->by_name, name);
  return inst ? inst->component : NULL;
}

AeroAdmitter *
aero_host_get_admitter (AeroHost *self)
{
  return self->admitter;
}

AeroSessionEndpoint *
aero_host_get_session_endpoint (AeroHost *self)
{
  return self->session_endpoint;
}
