/* aero-watch.h — fds and deadlines that cost nothing until they are ready.
 *
 * A GSource per session (its socket, its timers) makes every main-loop
 * iteration walk every session and poll() every fd, busy or not: with a
 * few thousand idle sessions each iteration costs milliseconds. All the
 * watches of one GMainContext share one GSource instead, which holds an
 * epoll set of their fds and a heap of their deadlines, so an iteration
 * costs only what is ready. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * AeroWatch:
 *
 * One callback on a main context, run when its fd is ready and/or when its
 * ready time has come. A watch is used from the thread that runs its
 * context, and is not thread-safe.
 */
typedef struct _AeroWatch AeroWatch;

/**
 * AeroWatchFunc:
 * @watch: the watch
 * @revents: the fd's conditions (G_IO_IN, G_IO_OUT, G_IO_PRI, G_IO_ERR,
 *   G_IO_HUP), or 0 when the ready time has come
 * @user_data: as given to aero_watch_new()
 *
 * Runs from the context's dispatch. It may change or free any watch,
 * @watch included.
 */
typedef void (*AeroWatchFunc) (AeroWatch *watch, GIOCondition revents, gpointer user_data);

/**
 * aero_watch_new:
 * @context: (nullable): the main context, or %NULL for the thread-default one
 * @func: the callback
 * @user_data: passed to @func
 *
 * Creates a watch with no fd and no ready time: @func does not run until
 * one is set.
 *
 * Returns: (transfer full): the watch; free it with aero_watch_free().
 */
AeroWatch *aero_watch_new (GMainContext *context, AeroWatchFunc func, gpointer user_data);

/**
 * aero_watch_set_fd:
 * @watch: a watch
 * @fd: a pollable fd (a socket, a pipe, a TAP device), or -1 for none
 * @events: what to wait for (G_IO_IN, G_IO_OUT, G_IO_PRI); 0 keeps the fd
 *   but stops waiting (G_IO_ERR and G_IO_HUP are reported whenever
 *   @events is not 0)
 *
 * Sets, changes or removes the watch's fd. Readiness is level-triggered,
 * as with poll(): @func runs on every dispatch while a condition holds.
 * Set the fd to -1 (or free the watch) before closing it: the kernel drops
 * a closed fd from the epoll set, and a new file that gets the same number
 * is not watched until aero_watch_set_fd() is called for it.
 *
 * Returns: %TRUE, or %FALSE with @error set when the fd cannot be watched
 *   (not pollable, or already watched by another watch of the context).
 */
gboolean aero_watch_set_fd (AeroWatch *watch, int fd, GIOCondition events, GError **error);

/**
 * aero_watch_set_ready_time:
 * @watch: a watch
 * @ready_time: monotonic time in µs (g_get_monotonic_time()) at which
 *   @func runs with @revents 0; 0 for the next dispatch; -1 for none
 *
 * Sets or clears the watch's ready time. It is one-shot: it is back to -1
 * when @func runs for it. A ready time set from a callback to a time that
 * has already passed runs at the next dispatch, not in the current one
 * (unless it is set while the dispatch is still delivering fd events), and
 * setting it replaces a run that was due in the current dispatch and has
 * not happened yet.
 */
void aero_watch_set_ready_time (AeroWatch *watch, gint64 ready_time);

/**
 * aero_watch_get_ready_time:
 * @watch: a watch
 *
 * Returns: the pending ready time, or -1.
 */
gint64 aero_watch_get_ready_time (AeroWatch *watch);

/**
 * aero_watch_free:
 * @watch: (nullable): a watch
 *
 * Stops the watch (@func does not run again, even later in the current
 * dispatch) and frees it. The fd is not closed. Safe from @func.
 */
void aero_watch_free (AeroWatch *watch);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroWatch, aero_watch_free)

G_END_DECLS
