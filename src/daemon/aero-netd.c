/* aero-netd.c — the daemon: command line, signals and the main loop around
 * an AeroHost.
 *
 * Exit status: 0 after a clean run or a successful check, 1 when start-up
 * fails at run time (a port already in use), 2 for usage and configuration
 * errors. */
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <glib-unix.h>

#include <aero-net/aero-net.h>

#define EXIT_CONFIG 2

typedef struct {
  AeroHost *host;
  GMainLoop *loop;
  guint signals;
} Daemon;

static gboolean
on_signal (gpointer data)
{
  Daemon *d = data;

  d->signals++;
  if (d->signals == 1)
    {
      AERO_LOG_INFO ("core", "MESSAGE", "signal received: starting graceful shutdown");
      aero_host_shutdown (d->host);
    }
  else
    {
      AERO_LOG_WARNING ("core", "MESSAGE", "second signal: exiting without waiting for sessions");
      g_main_loop_quit (d->loop);
    }
  return G_SOURCE_CONTINUE;
}

static void
on_finished (AeroHost *host, gpointer data)
{
  Daemon *d = data;

  g_main_loop_quit (d->loop);
}

static int
list_plugins (AeroHost *host)
{
  g_autoptr (GPtrArray) problems = NULL;
  g_autoptr (GPtrArray) plugins = aero_host_list_plugins (host, &problems);
  g_autofree char *path = g_strjoinv (":", (char **) aero_host_get_plugin_search_path (host));

  for (guint i = 0; i < plugins->len; i++)
    {
      const AeroPluginInfo *info = g_ptr_array_index (plugins, i);

      printf ("%-9s %-20s %-10s %s\n", aero_plugin_kind_to_string (info->kind), info->name,
              info->version, info->file);
    }
  for (guint i = 0; problems && i < problems->len; i++)
    fprintf (stderr, "aero-netd: warning: %s\n", (const char *) g_ptr_array_index (problems, i));
  fprintf (stderr, "aero-netd: %u plugin(s) found; search path: %s\n", plugins->len, path);
  return EXIT_SUCCESS;
}

/* Every session holds sockets: the soft limit on open files (often 1024)
 * goes up to the hard one, as a service manager would set it. */
static void
raise_fd_limit (void)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= limit.rlim_max)
    return;
  limit.rlim_cur = limit.rlim_max;
  if (setrlimit (RLIMIT_NOFILE, &limit) != 0)
    fprintf (stderr, "aero-netd: warning: cannot raise the open files limit: %s\n",
             g_strerror (errno));
}

int
main (int argc, char **argv)
{
  g_autofree char *config = NULL;
  gboolean check_only = FALSE, list = FALSE, version = FALSE;
  GOptionEntry entries[] = {
    { "config", 'c', 0, G_OPTION_ARG_FILENAME, &config, "Configuration file (ini)", "FILE" },
    { "check-config", 0, 0, G_OPTION_ARG_NONE, &check_only,
      "Validate the configuration (loading every plugin) and exit 0 or 2; opens no socket", NULL },
    { "list-plugins", 0, 0, G_OPTION_ARG_NONE, &list,
      "List the plugins on the search path (kind, name, version, file)", NULL },
    { "version", 'V', 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (AeroHost) host = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  Daemon d = { 0 };

  ctx = g_option_context_new ("- browser and emulator VM networking service");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_set_description (
    ctx, "Plugins are searched in [core] plugin-path, then $AERO_NETD_PLUGIN_PATH, then " AERO_PLUGINDIR
         ".\nExit status: 0 success, 1 run-time failure, 2 usage or configuration error.\n");
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      fprintf (stderr, "aero-netd: %s (try --help)\n", error->message);
      return EXIT_CONFIG;
    }
  if (argc > 1)
    {
      fprintf (stderr, "aero-netd: unexpected argument '%s' (try --help)\n", argv[1]);
      return EXIT_CONFIG;
    }
  if (version)
    {
      printf ("aero-netd %s (plugin ABI %u)\n", aero_net_get_version (), aero_net_get_abi_version ());
      return EXIT_SUCCESS;
    }

  aero_log_setup (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO);
  raise_fd_limit ();
  host = aero_host_new ();

  if (config == NULL && !list)
    {
      fprintf (stderr, "aero-netd: --config FILE is required (try --help)\n");
      return EXIT_CONFIG;
    }
  if (config && !aero_host_load_config (host, config, &error))
    {
      fprintf (stderr, "aero-netd: %s\n", error->message);
      return EXIT_CONFIG;
    }
  if (list)
    return list_plugins (host);
  if (check_only)
    {
      printf ("aero-netd: %s: configuration is valid\n", config);
      return EXIT_SUCCESS;
    }

  signal (SIGPIPE, SIG_IGN);
  loop = g_main_loop_new (NULL, FALSE);
  d.host = host;
  d.loop = loop;
  g_unix_signal_add (SIGINT, on_signal, &d);
  g_unix_signal_add (SIGTERM, on_signal, &d);
  g_signal_connect (host, "finished", G_CALLBACK (on_finished), &d);

  if (!aero_host_start (host, &error))
    {
      fprintf (stderr, "aero-netd: %s\n", error->message);
      return EXIT_FAILURE;
    }
  g_main_loop_run (loop);
  return EXIT_SUCCESS;
}
