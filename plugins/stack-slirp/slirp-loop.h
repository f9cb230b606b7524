/* slirp-loop.h — runs one libslirp instance from a GMainContext.
 *
 * Everything the loop waits for is an #AeroWatch on the context's shared
 * watch source (core, aero-watch.h): one watch per socket libslirp polls,
 * one "main" watch whose ready time carries libslirp's timeout, one per
 * libslirp timer. An idle session therefore costs a main-loop iteration
 * nothing: no GSource of its own to walk, no fd in the context's poll().
 * A refill asks slirp_pollfds_fill() for the descriptors and the timeout,
 * adds, changes or removes socket watches where they differ, and sets the
 * main watch's ready time to the timeout (an earlier pending one is kept).
 * libslirp caps its timeout at one second even when nothing is pending and
 * lowers it itself when something time-driven is (TCP delayed ACKs and
 * slow timers, IP fragment reassembly, UDP/ICMP socket expiry), so a
 * capped timeout with no socket to poll means no ready time at all: such a
 * session wakes the daemon only when a frame, a socket event or one of its
 * timers arrives.
 *
 * A ready socket's watch records its revents and asks for the main watch
 * (ready time 0), which the shared source runs later in the same dispatch:
 * one slirp_pollfds_poll() for all of this Slirp's ready sockets, then a
 * refill. A timer's watch refills after slirp_handle_timer(), and
 * aero_slirp_loop_start() refills once. aero_slirp_loop_notify() asks for
 * the main watch too (kept by refills until it runs); the stack calls it
 * after every slirp_input(), so that several frames of one dispatch share
 * one slirp_pollfds_poll() and refill, sockets libslirp opened for them are
 * polled, and frames libslirp queued while resolving the guest's address
 * (ARP, NDP) leave at once rather than expire. slirp_pollfds_poll() sees
 * only the revents gathered since the previous one; sockets created since
 * the last fill are skipped by libslirp (no poll index yet).
 *
 * The kernel drops a closed fd from the epoll set, and libslirp may close
 * a socket and open the next one, with the same number, between two
 * refills (a guest's RST and SYN in one burst). libslirp reports both
 * (register_poll_fd, unregister_poll_fd): the stack passes them to
 * aero_slirp_loop_forget_fd(), and the next refill watches that number
 * afresh.
 *
 * libslirp keeps its clock in a process-wide variable that only
 * slirp_pollfds_poll() updates, and stamps new UDP and ICMP sockets'
 * expiry with it. As idle sessions no longer poll once a second,
 * aero_slirp_loop_enter() first updates that clock when no poll has run
 * in this process for 100 ms, with slirp_pollfds_poll() in its
 * "select error" mode, which reads no revents.
 *
 * The clock is g_get_monotonic_time(), so libslirp's expiry times and the
 * watches' ready times share one time base.
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

void aero_slirp_loop_forget_fd (AeroSlirpLoop *loop, int fd);

void *aero_slirp_loop_timer_new (AeroSlirpLoop *loop, SlirpTimerId id, void *cb_opaque);

void aero_slirp_loop_timer_mod (void *timer, int64_t expire_ms);

void aero_slirp_loop_timer_free (void *timer);

int64_t aero_slirp_loop_clock_ns (void);

G_END_DECLS
