/* aero-session.h — one VM's LAN: channel ⇄ filters ⇄ stack.
 *
 * The core creates a session for every channel a transport opens, wires
 * the channel through the filters configured for that transport to a fresh
 * stack, and tears it all down (stack sockets, timers, filters, memory)
 * when the channel closes. Frames from the guest run through the filters in
 * configuration order, frames to the guest in reverse order. Each session
 * has an id and counters. */
#pragma once

#include <aero-net/aero-channel.h>

G_BEGIN_DECLS

typedef struct _AeroHost AeroHost;

#define AERO_TYPE_SESSION (aero_session_get_type ())
G_DECLARE_FINAL_TYPE (AeroSession, aero_session, AERO, SESSION, GObject)

/**
 * AeroSessionCounters:
 * @frames_from_guest: frames received from the channel
 * @bytes_from_guest: bytes received from the channel
 * @frames_to_guest: frames the channel accepted
 * @bytes_to_guest: bytes the channel accepted
 * @drops_from_guest: frames from the guest dropped (filter or full stack)
 * @drops_to_guest: frames to the guest dropped (filter or full channel)
 *
 * A session's traffic figures.
 */
typedef struct {
  guint64 frames_from_guest;
  guint64 bytes_from_guest;
  guint64 frames_to_guest;
  guint64 bytes_to_guest;
  guint64 drops_from_guest;
  guint64 drops_to_guest;
} AeroSessionCounters;

/**
 * aero_session_get_id:
 * @self: a session
 *
 * Returns: (transfer none): the session id (unique in the process).
 */
const char *aero_session_get_id (AeroSession *self);

/**
 * aero_session_get_channel:
 * @self: a session
 *
 * Returns: (transfer none): the session's channel.
 */
AeroChannel *aero_session_get_channel (AeroSession *self);

/**
 * aero_session_get_host:
 * @self: a session
 *
 * Returns: (transfer none): the core that owns the session.
 */
AeroHost *aero_session_get_host (AeroSession *self);

/**
 * aero_session_get_counters:
 * @self: a session
 * @out: (out caller-allocates): where the figures go
 *
 * Copies the session's counters.
 */
void aero_session_get_counters (AeroSession *self, AeroSessionCounters *out);

/**
 * aero_session_send_to_guest:
 * @self: a session
 * @frame: (transfer none): a frame
 *
 * Sends a frame straight to the channel, skipping the filters. Filters
 * use it to answer the guest themselves (a TCP RST for a refused flow).
 *
 * Returns: the channel's answer.
 */
AeroFlowReturn aero_session_send_to_guest (AeroSession *self, GBytes *frame);

/**
 * aero_session_send_to_stack:
 * @self: a session
 * @frame: (transfer none): a frame
 *
 * Sends a frame straight to the stack, skipping the filters.
 *
 * Returns: the stack's answer.
 */
AeroFlowReturn aero_session_send_to_stack (AeroSession *self, GBytes *frame);

/**
 * aero_session_close:
 * @self: a session
 * @reason: why
 * @message: (nullable): short text for the peer and the log
 *
 * Closes the session's channel politely; the session is torn down when the
 * channel reports closed.
 */
void aero_session_close (AeroSession *self, AeroCloseReason reason, const char *message);

/**
 * aero_session_is_closed:
 * @self: a session
 *
 * Returns: whether the session has been torn down.
 */
gboolean aero_session_is_closed (AeroSession *self);

G_END_DECLS
