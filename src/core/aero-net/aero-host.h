/* aero-host.h — the core: configuration, plugins, HTTP server, sessions.
 *
 * AeroHost is what aero-netd runs and what an embedder creates. It reads
 * the configuration, loads and configures the plugin instances it names,
 * owns the HTTP server (with /healthz, /readyz and /metrics), the metrics
 * registry and the sessions, and runs the shutdown sequence.
 *
 * Core groups of the configuration file: [core], [http], [log],
 * [admission] (who may open a tunnel: see aero-admission.h) and [capture]
 * (per-session pcapng files). Every other group is a plugin instance and
 * must have a `plugin` key. Transport
 * instances also take `stack` (the stack instance their sessions use) and
 * `filters` (filter and policy instances, in order). */
#pragma once

#include <libsoup/soup.h>
#include <aero-net/aero-component.h>
#include <aero-net/aero-metrics.h>
#include <aero-net/aero-plugin.h>
#include <aero-net/aero-session.h>

G_BEGIN_DECLS

#define AERO_TYPE_HOST (aero_host_get_type ())
G_DECLARE_FINAL_TYPE (AeroHost, aero_host, AERO, HOST, GObject)

/**
 * AeroPluginInfo:
 * @name: plugin name
 * @version: plugin version
 * @description: one-line description
 * @file: the module file it was loaded from
 * @kind: its kind
 * @type: the component type it registered
 *
 * What the loader knows about one plugin.
 */
typedef struct {
  char *name;
  char *version;
  char *description;
  char *file;
  AeroPluginKind kind;
  GType type;
} AeroPluginInfo;

/**
 * aero_host_new:
 *
 * Returns: (transfer full): a core with no configuration.
 */
AeroHost *aero_host_new (void);

/**
 * aero_host_load_config:
 * @self: a host
 * @file: path of an ini file
 * @error: return location for a #GError (domain %AERO_CONFIG_ERROR)
 *
 * Reads and validates the whole configuration: core groups, then each
 * plugin instance (loading its plugin and running its configure()), then
 * the wiring between instances. Opens no sockets.
 *
 * Returns: %TRUE when the configuration is valid.
 */
gboolean aero_host_load_config (AeroHost *self, const char *file, GError **error);

/**
 * aero_host_get_plugin_search_path:
 * @self: a host
 *
 * The directories searched for plugins, in order: the config's
 * `[core] plugin-path`, `AERO_NETD_PLUGIN_PATH`, and the built-in directory.
 *
 * Returns: (transfer none): %NULL-terminated list.
 */
const char *const *aero_host_get_plugin_search_path (AeroHost *self);

/**
 * aero_host_list_plugins:
 * @self: a host
 * @problems: (out) (optional) (transfer full): messages about files that
 *   look like plugins but could not be loaded
 *
 * Loads every module found on the search path (first one of each name).
 *
 * Returns: (transfer container) (element-type AeroPluginInfo): the plugins,
 *   sorted by name; the infos belong to the host.
 */
GPtrArray *aero_host_list_plugins (AeroHost *self, GPtrArray **problems);

/**
 * aero_host_start:
 * @self: a host with a loaded configuration
 * @error: return location for a #GError
 *
 * Opens the HTTP listeners and starts every component. /readyz answers 200
 * once this returns %TRUE. First it grows the process's descriptor table
 * to 2 × `[core] max-sessions` + 1024 slots (within RLIMIT_NOFILE), so
 * that the table does not grow, stalling every thread of the process for
 * an RCU grace period, while sessions are being opened.
 *
 * Returns: %TRUE on success.
 */
gboolean aero_host_start (AeroHost *self, GError **error);

/**
 * aero_host_shutdown:
 * @self: a started host
 *
 * Begins a graceful shutdown: /readyz answers 503, transports stop
 * accepting, every session is asked to close. "finished" is emitted once
 * no session is left or `[core] shutdown-timeout` has passed, after the
 * components have been stopped. Idempotent.
 */
void aero_host_shutdown (AeroHost *self);

/**
 * aero_host_is_ready:
 * @self: a host
 *
 * Returns: whether every component has started and shutdown has not begun.
 */
gboolean aero_host_is_ready (AeroHost *self);

/**
 * aero_host_is_shutting_down:
 * @self: a host
 *
 * Returns: whether aero_host_shutdown() has been called.
 */
gboolean aero_host_is_shutting_down (AeroHost *self);

/**
 * aero_host_get_http_server:
 * @self: a host
 *
 * The core's HTTP server. Plugins add their paths in start() with
 * soup_server_add_handler() or soup_server_add_websocket_handler().
 *
 * Returns: (transfer none): the server.
 */
SoupServer *aero_host_get_http_server (AeroHost *self);

/**
 * aero_http_message_get_socket:
 * @msg: a request on the core's HTTP server (aero_host_get_http_server())
 *
 * The core accepts the HTTP server's connections itself, so libsoup's
 * soup_server_message_get_socket() returns %NULL for them; this returns
 * the connection's TCP socket. A plugin that takes over the connection
 * (soup_server_message_steal_connection()) clears the HTTP idle timeout
 * with g_socket_set_timeout (socket, 0) before keeping it open longer.
 *
 * Returns: (transfer none) (nullable): the TCP socket under the request's
 *   connection (under its TLS when aero_http_message_is_tls()), or %NULL
 *   when the connection is unknown.
 */
GSocket *aero_http_message_get_socket (SoupServerMessage *msg);

/**
 * aero_http_message_is_tls:
 * @msg: a request on the core's HTTP server
 *
 * Returns: whether the request's connection is TLS: then its bytes are not
 *   the socket's.
 */
gboolean aero_http_message_is_tls (SoupServerMessage *msg);

/**
 * aero_host_is_loopback_only:
 * @self: a host
 *
 * Returns: whether every HTTP listen address is a loopback address. Used
 * by plugins that refuse permissive modes on public addresses.
 */
gboolean aero_host_is_loopback_only (AeroHost *self);

/**
 * aero_host_is_tls:
 * @self: a host
 *
 * Returns: whether the HTTP server serves TLS.
 */
gboolean aero_host_is_tls (AeroHost *self);

/**
 * aero_host_get_metrics:
 * @self: a host
 *
 * Returns: (transfer none): the registry served on /metrics.
 */
AeroMetrics *aero_host_get_metrics (AeroHost *self);

/**
 * aero_host_get_component:
 * @self: a host
 * @name: an instance name (config group)
 *
 * Returns: (transfer none) (nullable): the component.
 */
AeroComponent *aero_host_get_component (AeroHost *self, const char *name);

/**
 * aero_host_open_session:
 * @self: a host
 * @transport: the transport component the channel came from
 * @channel: (transfer none): the new channel
 * @error: return location for a #GError
 *
 * Creates a session for @channel, wired as @transport's configuration
 * says. The host keeps the session until the channel is closed. Fails
 * when shutting down or when the stack cannot be created; the transport
 * then refuses the client.
 *
 * Returns: (transfer none) (nullable): the session.
 */
AeroSession *aero_host_open_session (AeroHost *self, AeroComponent *transport,
                                     AeroChannel *channel, GError **error);

/**
 * aero_host_get_session_count:
 * @self: a host
 *
 * Returns: the number of open sessions.
 */
guint aero_host_get_session_count (AeroHost *self);

G_END_DECLS
