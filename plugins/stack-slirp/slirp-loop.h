/* slirp-loop.h — runs one libslirp instance from a GMainContext.
 *
 * A custom GSource polls the instance's sockets. It has no prepare() and
 * no check(): its unix fds and its ready time are only changed when
 * libslirp's wishes change, and GLib's own checks of the fds and of the
 * ready time decide when it is dispatched, so an idle session costs
 * nothing per main-loop iteration. A refill asks slirp_pollfds_fill() for
 * the descriptors and the timeout, adds, modifies or removes the source's
 * fds where they differ, and sets the ready time to the timeout (an
 * earlier pending one is kept). libslirp caps its timeout at one second
 * even when nothing is pending and lowers it itself when something
 * time-driven is (TCP delayed ACKs and slow timers, IP fragment
 * reassembly, UDP/ICMP socket expiry), so a capped timeout with no socket
 * to poll means no ready time at all: such a session wakes the daemon
 * only when a frame, a socket event or one of its timers arrives.
 *
 * A refill follows every call into libslirp that can change sockets or
 * timeouts: dispatch() hands this iteration's revents to
 * slirp_pollfds_poll() and then refills, a timer's dispatch refills after
 * slirp_handle_timer(), and aero_slirp_loop_start() refills once.
 * aero_slirp_loop_notify() asks for a dispatch at the next iteration
 * (ready time 0, kept by refills until that dispatch); the stack calls it
 * after every slirp_input(), so that several frames of one iteration share
 * one slirp_pollfds_poll() and refill, sockets libslirp opened for them are
 * polled, and frames libslirp queued while resolving the guest's address
 * (ARP, NDP) leave at once rather than expire. slirp_pollfds_poll() reads
 * revents only from dispatch(), so they are the current iteration's;
 * sockets created since the last fill are skipped by libslirp (no poll
 * index yet). The poll source may recurse (GLib then leaves its fds in
 * place around dispatch); nothing it calls iterates the context.
 *
 * libslirp keeps its clock in a process-wide variable that only
 * slirp_pollfds_poll() updates, and stamps new UDP and ICMP sockets'
 * expiry with it. As idle sessions no longer poll once a second,
 * aero_slirp_loop_enter() first updates that clock when no poll has run
 * in this process for 100 ms, with slirp_pollfds_poll() in its
 * "select error" mode, which reads no revents.
 *
 * libslirp's timers (timer_new_opaque, timer_mod, timer_free) are GSources
 * with a ready time on the same context, calling slirp_handle_timer(). The
 * clock is g_get_monotonic_time(), so libslirp's expiry times and GLib's
 * ready times share one time base. Ready times are only set when they
 * change (GLib wakes the context on every call).
 *
 * The loop owns the Slirp. Every call into libslirp goes between
 * aero_slirp_loop_enter() and aero_slirp_loop_leave(), which keep the
 * owner alive; aero_slirp_loop_destroy() stops all polling and timers at
 * once (no refill runs after it), and frees the Slirp (closing its
 * sockets) now, or when the outermost call into libslirp returns if it is
 * called from inside one. */
#pragma once

#include <glib-object.h>
#include <slirp/libslirp.h>

G_BEGIN_DECLS

typedef struct _AeroSlirpLoop AeroSlirpLoop;

AeroSlirpLoop *aero_slirp_loop_new (GMainContext *context, GObject *owner);

void aero_slirp_loop_start (AeroSlirpLoop *loop, Slirp *slirp);

Slirp *aero_slirp_loop_enter (AeroSlirpLoop *loop);

void aero_slirp_loop_leave (AeroSlirpLoop *loop);

void aero_slirp_loop_destroy (AeroSlirpLoop *loop);

void aero_slirp_loop_notify (AeroSlirpLoop *loop);

void *aero_slirp_loop_timer_new (AeroSlirpLoop *loop, SlirpTimerId id, void *cb_opaque);

void aero_slirp_loop_timer_mod (void *timer, int64_t expire_ms);

void aero_slirp_loop_timer_free (void *timer);

int64_t aero_slirp_loop_clock_ns (void);

G_END_DECLS
