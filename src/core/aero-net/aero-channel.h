/* aero-channel.h — one client's tunnel, as the core sees it.
 *
 * A transport creates one AeroChannel per connected client and hands it to
 * the core (aero_host_open_session()). The channel is a frame source
 * (frames from the guest, which the transport feeds in with
 * aero_channel_receive()) and a frame sink (frames to the guest, which the
 * transport's push() implementation sends). It carries an identity: the
 * peer address, the authenticated principal and the session id.
 *
 * Closing: aero_channel_close() asks the transport to close politely (for
 * example an ERROR message and a WebSocket close code); when the
 * underlying connection is gone the transport calls aero_channel_closed(),
 * which emits "closed" exactly once and makes further pushes answer
 * AERO_FLOW_CLOSED. */
#pragma once

#include <aero-net/aero-frame.h>

G_BEGIN_DECLS

/**
 * AeroCloseReason:
 * @AERO_CLOSE_NORMAL: the peer or the server ended the tunnel normally.
 * @AERO_CLOSE_SHUTDOWN: the server is shutting down.
 * @AERO_CLOSE_PROTOCOL_ERROR: the peer broke the protocol.
 * @AERO_CLOSE_POLICY: a policy refused the peer.
 * @AERO_CLOSE_QUOTA_BYTES: the byte quota is spent.
 * @AERO_CLOSE_QUOTA_FPS: the frame rate limit was exceeded.
 * @AERO_CLOSE_QUOTA_CONNECTIONS: too many flows or tunnels.
 * @AERO_CLOSE_BACKPRESSURE: the peer does not read fast enough.
 * @AERO_CLOSE_IDLE: nothing was received for too long.
 * @AERO_CLOSE_INTERNAL_ERROR: the server failed.
 *
 * Why a channel is closed; transports map it onto their wire (ERROR codes
 * and WebSocket close codes of aero-l2-tunnel-v1).
 */
typedef enum {
  AERO_CLOSE_NORMAL,
  AERO_CLOSE_SHUTDOWN,
  AERO_CLOSE_PROTOCOL_ERROR,
  AERO_CLOSE_POLICY,
  AERO_CLOSE_QUOTA_BYTES,
  AERO_CLOSE_QUOTA_FPS,
  AERO_CLOSE_QUOTA_CONNECTIONS,
  AERO_CLOSE_BACKPRESSURE,
  AERO_CLOSE_IDLE,
  AERO_CLOSE_INTERNAL_ERROR,
} AeroCloseReason;

/**
 * aero_close_reason_to_string:
 * @reason: a reason
 *
 * Returns: (transfer none): a short snake_case name, e.g. "quota_bytes".
 */
const char *aero_close_reason_to_string (AeroCloseReason reason);

#define AERO_TYPE_CHANNEL (aero_channel_get_type ())
G_DECLARE_DERIVABLE_TYPE (AeroChannel, aero_channel, AERO, CHANNEL, GObject)

/**
 * AeroChannelClass:
 * @push: send one frame to the guest (the sink side). Never blocks;
 *   answer %AERO_FLOW_DROPPED when the send queue is full.
 * @is_ready: optional; whether a push now would be accepted.
 * @close: begin a polite close; call aero_channel_closed() when done (it
 *   may be called from inside close()).
 */
struct _AeroChannelClass
{
  GObjectClass parent_class;

  AeroFlowReturn (*push) (AeroChannel *self, GBytes *frame);
  gboolean (*is_ready) (AeroChannel *self);
  void (*close) (AeroChannel *self, AeroCloseReason reason, const char *message);

  gpointer padding[8];
};

/**
 * aero_channel_receive:
 * @self: a channel
 * @frame: (transfer none): a frame from the guest
 *
 * Called by the transport for each frame the client sent; forwards it into
 * the session.
 *
 * Returns: the session's answer (a drop is counted by the session).
 */
AeroFlowReturn aero_channel_receive (AeroChannel *self, GBytes *frame);

/**
 * aero_channel_close:
 * @self: a channel
 * @reason: why
 * @message: (nullable): a short human-readable text for the peer and the log
 *
 * Asks the transport to close the channel politely. Idempotent.
 */
void aero_channel_close (AeroChannel *self, AeroCloseReason reason, const char *message);

/**
 * aero_channel_closed:
 * @self: a channel
 * @reason: why it ended
 *
 * Called by the transport when the connection is gone. Emits "closed" once.
 */
void aero_channel_closed (AeroChannel *self, AeroCloseReason reason);

/**
 * aero_channel_is_closed:
 * @self: a channel
 *
 * Returns: whether aero_channel_closed() has run.
 */
gboolean aero_channel_is_closed (AeroChannel *self);

/**
 * aero_channel_is_closing:
 * @self: a channel
 *
 * Returns: whether aero_channel_close() or aero_channel_closed() has run.
 */
gboolean aero_channel_is_closing (AeroChannel *self);

/**
 * aero_channel_get_peer:
 * @self: a channel
 *
 * Returns: (transfer none) (nullable): the peer's address as text.
 */
const char *aero_channel_get_peer (AeroChannel *self);

/**
 * aero_channel_set_peer:
 * @self: a channel
 * @peer: (nullable): the peer's address as text
 *
 * Sets the peer address (transports do this before opening the session).
 */
void aero_channel_set_peer (AeroChannel *self, const char *peer);

/**
 * aero_channel_get_principal:
 * @self: a channel
 *
 * Returns: (transfer none) (nullable): the authenticated principal, if any.
 */
const char *aero_channel_get_principal (AeroChannel *self);

/**
 * aero_channel_set_principal:
 * @self: a channel
 * @principal: (nullable): who authenticated
 *
 * Sets the principal.
 */
void aero_channel_set_principal (AeroChannel *self, const char *principal);

/**
 * aero_channel_get_session_id:
 * @self: a channel
 *
 * Returns: (transfer none) (nullable): the id of the session it belongs to.
 */
const char *aero_channel_get_session_id (AeroChannel *self);

/**
 * aero_channel_set_session_id:
 * @self: a channel
 * @session_id: (nullable): the id
 *
 * Sets the session id. The core does this when it opens the session;
 * transports need not.
 */
void aero_channel_set_session_id (AeroChannel *self, const char *session_id);

/**
 * AeroIdleTimer:
 *
 * Calls a function once a given time has passed without activity, for
 * transports that close quiet channels. Marking activity costs no timer
 * work: the timer's #AeroWatch is re-armed for the remainder when it comes
 * due early.
 */
typedef struct _AeroIdleTimer AeroIdleTimer;

/**
 * aero_idle_timer_new:
 * @timeout_ms: quiet time after which @func runs; 0 for never
 * @func: called once, from the thread-default main context, when the time
 *   has passed (its return value is ignored)
 * @user_data: passed to @func
 *
 * Starts the timer, counting from now.
 *
 * Returns: (transfer full): the timer; stop it with aero_idle_timer_free().
 */
AeroIdleTimer *aero_idle_timer_new (guint timeout_ms, GSourceFunc func, gpointer user_data);

/**
 * aero_idle_timer_touch:
 * @timer: a timer
 *
 * Records activity now: the quiet time starts again.
 */
void aero_idle_timer_touch (AeroIdleTimer *timer);

/**
 * aero_idle_timer_free:
 * @timer: (nullable): a timer
 *
 * Stops the timer (@func will not run) and frees it.
 */
void aero_idle_timer_free (AeroIdleTimer *timer);

G_END_DECLS
