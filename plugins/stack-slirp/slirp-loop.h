/* slirp-loop.h — runs one libslirp instance from a GMainContext.
 *
 * A custom GSource polls the instance's sockets: prepare() asks
 * slirp_pollfds_fill() for the descriptors and the timeout and keeps the
 * source's unix fds in step with them; dispatch() hands the revents to
 * slirp_pollfds_poll(). aero_slirp_loop_notify() asks for a dispatch at
 * the next iteration; the stack calls it after every slirp_input(), so that
 * frames libslirp queued while resolving the guest's address (ARP, NDP)
 * leave at once rather than at the next one-second tick, by which time
 * they would have expired. libslirp's timers (timer_new_opaque, timer_mod,
 * timer_free) are GSources with a ready time on the same context, calling
 * slirp_handle_timer(). The clock is g_get_monotonic_time(), so libslirp's
 * expiry times and GLib's ready times share one time base.
 *
 * The loop owns the Slirp. Every call into libslirp goes between
 * aero_slirp_loop_enter() and aero_slirp_loop_leave(), which keep the
 * owner alive; aero_slirp_loop_destroy() stops all polling and timers at
 * once, and frees the Slirp (closing its sockets) now, or when the
 * outermost call into libslirp returns if it is called from inside one. */
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
