/* ws-tunnel.c — one aero-l2-tunnel-v1 tunnel over a WebSocket connection:
 * decoding, PING/PONG, violations, idle and keepalive timers, the bounded
 * send queue and the close handshake. See the header for the behaviour. */
#include <string.h>

#include "ws-counting-output-stream.h"
#include "ws-guard-input-stream.h"
#include "ws-tunnel.h"
#include "ws-frame.h"
#include "ws-frame-reader.h"

/* ERROR messages from one peer that are logged; later ones are only counted. */
#define MAX_ERRORS_LOGGED 4
/* Longest close reason: a close frame's payload is at most 125 bytes, two
 * of which are the code. */
#define MAX_CLOSE_REASON 123
/* WebSocket close code for a message above the maximum message size. */
#define CLOSE_TOO_BIG WS_CLOSE_TOO_BIG
/* What one read of the frames the guard leaves takes at most. */
#define PASS_READ_LEN 4096

struct _WsTunnel
{
  AeroChannel parent_instance;

  char *component;                 /* transport instance name, for logs */
  WsMetrics *metrics;
  WsTunnelOptions opts;
  gboolean client;                 /* client side: frames are masked, PINGs are sent */
  guint64 max_message;

  GIOStream *stream;               /* the connection */
  WsGuardInputStream *guard;
  WsCountingOutputStream *counter;
  gboolean attached;               /* the connection exists */
  gboolean plain;                  /* over a socket without TLS: closing cannot block */
  WsFrameReader reader;            /* control frames, text and broken frames */
  gboolean close_sent;             /* our close frame is written: no frame after it */
  gboolean close_received;         /* the peer's close frame arrived */
  guint16 peer_close_code;         /* its code (1005: none); 0 before it */
  gboolean io_closing;             /* the connection is being closed */
  gboolean counted_active;

  GQueue pending;                  /* encoded messages waiting for the connection */
  guint64 pending_bytes;           /* their size on the wire */

  guint64 handed;                  /* wire bytes written into the batch */
  guint64 drops_since_drain;       /* drops since the backlog was last below half */
  gboolean want_ready;             /* a push was refused: emit "ready" on drain */
  guint ready_idle;

  guint64 violations;
  guint errors_logged;
  AeroIdleTimer *idle;             /* closes the tunnel after idle-timeout */
  guint keepalive_timer;
  gboolean pong_due;               /* a PING is unanswered */
  gboolean io_error;               /* reading the connection failed */
  gboolean peer_protocol_error;    /* the peer broke the WebSocket framing */

  gboolean close_started;          /* ERROR and close frame sent (or due at attach) */
  AeroCloseReason close_reason;
  guint16 close_code;              /* WebSocket close code of our close */
  guint16 close_code_override;     /* set just before an internal aero_channel_close() */
  char *close_message;
  guint close_timer;

  guint deferred_idle;             /* a close requested from inside a read or a write */
  AeroCloseReason deferred_reason;
  guint16 deferred_code;
  const char *deferred_message;

  gboolean ended;                  /* aero_channel_closed() has run */
  gboolean finished;               /* the connection is gone */
};

G_DEFINE_FINAL_TYPE (WsTunnel, ws_tunnel, AERO_TYPE_CHANNEL)

enum { SIGNAL_FINISHED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void tunnel_start_close (WsTunnel *self);

/**
 * ws_tunnel_wire_size:
 * @payload_len: a WebSocket message's payload length
 * @masked: whether the frame is masked (sent by a client)
 *
 * Returns: the bytes on the wire of one unfragmented message.
 */
gsize
ws_tunnel_wire_size (gsize payload_len, gboolean masked)
{
  return ws_frame_header_size (payload_len, masked) + payload_len;
}

static const char *
peer_text (WsTunnel *self)
{
  const char *peer = aero_channel_get_peer (AERO_CHANNEL (self));

  return peer ? peer : "-";
}

static const char *
session_text (WsTunnel *self)
{
  const char *id = aero_channel_get_session_id (AERO_CHANNEL (self));

  return id ? id : "-";
}

/**
 * ws_tunnel_get_backlog:
 * @self: a tunnel
 *
 * Returns: bytes written into the batch (or queued before the connection
 *   existed) that have not reached the socket yet.
 */
guint64
ws_tunnel_get_backlog (WsTunnel *self)
{
  guint64 owed, written;

  if (self->counter == NULL)
    return self->pending_bytes;
  owed = self->handed;
  written = ws_counting_output_stream_get_written (self->counter);
  return owed > written ? owed - written : 0;
}

guint64
ws_tunnels_get_backlog (GHashTable *tunnels)
{
  GHashTableIter iter;
  gpointer key;
  guint64 total = 0;

  g_hash_table_iter_init (&iter, tunnels);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    total += ws_tunnel_get_backlog (key);
  return total;
}

/* ---- ending ---------------------------------------------------------------- */

static void
stream_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_io_stream_close_finish (G_IO_STREAM (source), result, NULL);
  g_object_unref (source);
}

/* Reports the channel closed (once): the session is torn down from here. */
static void
tunnel_end (WsTunnel *self, AeroCloseReason reason, const char *detail)
{
  if (self->ended)
    return;
  self->ended = TRUE;
  g_object_ref (self);

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  g_clear_handle_id (&self->keepalive_timer, g_source_remove);
  g_clear_handle_id (&self->close_timer, g_source_remove);
  g_clear_handle_id (&self->ready_idle, g_source_remove);
  g_clear_handle_id (&self->deferred_idle, g_source_remove);
  g_queue_clear_full (&self->pending, (GDestroyNotify) g_bytes_unref);
  self->pending_bytes = 0;

  if (self->counted_active)
    {
      aero_metric_add (self->metrics->active, -1);
      self->counted_active = FALSE;
    }
  ws_metrics_count_close (self->metrics, reason);
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "reason", aero_close_reason_to_string (reason), "MESSAGE", "tunnel closed: %s",
                 detail ? detail : aero_close_reason_to_string (reason));
  aero_channel_closed (AERO_CHANNEL (self), reason);
  g_object_unref (self);
}

/* Lets go of the connection and emits "finished" (once). Unless a polite
 * close has already closed the filters, the connection is closed now. */
static void
tunnel_release (WsTunnel *self)
{
  if (self->finished)
    return;
  self->finished = TRUE;
  g_object_ref (self);

  if (self->counter)
    ws_counting_output_stream_set_written_func (self->counter, NULL, NULL);
  if (self->guard)
    {
      ws_guard_input_stream_set_funcs (self->guard, NULL, NULL, NULL);
      ws_guard_input_stream_set_pass_func (self->guard, NULL, NULL);
    }
  /* No polite close under way: the filters close now, and the batch goes
   * out as far as the socket takes it without blocking. A close under way
   * finishes by itself (the tunnel is finished by then). */
  if (self->attached && !self->io_closing)
    {
      self->io_closing = TRUE;
      g_output_stream_close (G_OUTPUT_STREAM (self->counter), NULL, NULL);
      g_input_stream_close (G_INPUT_STREAM (self->guard), NULL, NULL);
    }
  /* The filters never close the connection under them: do it here. A
   * plain socket closes at once; TLS may have a close_notify to send. */
  if (self->stream && self->plain)
    {
      g_autoptr (GIOStream) stream = g_steal_pointer (&self->stream);

      g_io_stream_close (stream, NULL, NULL);
    }
  else if (self->stream)
    g_io_stream_close_async (g_steal_pointer (&self->stream), G_PRIORITY_DEFAULT, NULL,
                             stream_closed_cb, NULL);

  g_signal_emit (self, signals[SIGNAL_FINISHED], 0);
  g_object_unref (self);
}

/* ---- sending --------------------------------------------------------------- */

/* Whether frames may still be written: attached, no close frame written,
 * not closing. */
static gboolean
tunnel_is_open (WsTunnel *self)
{
  return self->attached && !self->close_sent && !self->io_closing && !self->finished;
}

/* Writes one WebSocket frame whose payload is @head followed by @body
 * into the batch (masked on the client side). */
static void
tunnel_write_frame (WsTunnel *self, guint8 opcode, const guint8 *head, gsize head_len,
                    const guint8 *body, gsize body_len)
{
  guint32 key = self->client ? g_random_int () : 0;

  self->handed += ws_tunnel_wire_size (head_len + body_len, self->client);
  ws_counting_output_stream_write_frame_parts (self->counter, opcode, head, head_len, body,
                                               body_len,
                                               self->client ? (const guint8 *) &key : NULL);
}

/* Hands one binary message, @head followed by @body, to the batch, or
 * joined to the queue that waits for the connection. No bound is checked
 * here. */
static void
tunnel_send_parts (WsTunnel *self, const guint8 *head, gsize head_len, const guint8 *body,
                   gsize body_len)
{
  gsize len = head_len + body_len;

  if (!self->attached)
    {
      guint8 *joined = g_malloc (MAX (len, 1));

      if (head_len > 0)
        memcpy (joined, head, head_len);
      if (body_len > 0)
        memcpy (joined + head_len, body, body_len);
      g_queue_push_tail (&self->pending, g_bytes_new_take (joined, len));
      self->pending_bytes += ws_tunnel_wire_size (len, self->client);
      return;
    }
  if (!tunnel_is_open (self))
    return;
  aero_metric_inc (self->metrics->tx_messages);
  aero_metric_add (self->metrics->tx_bytes, (double) len);
  tunnel_write_frame (self, WS_OPCODE_BINARY, head, head_len, body, body_len);
}

/* Hands one encoded message on (tunnel_send_parts()). */
static void
tunnel_send (WsTunnel *self, GBytes *message)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (message, &len);

  tunnel_send_parts (self, NULL, 0, data, len);
}

/* Sends one Ethernet frame as a FRAME message: its header and the frame
 * go into the batch, one copy of each, without building the message. */
static void
tunnel_send_frame (WsTunnel *self, GBytes *frame)
{
  guint8 header[AERO_L2_HEADER_LEN];
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  aero_l2_write_header (header, AERO_L2_FRAME);
  tunnel_send_parts (self, header, sizeof header, data, len);
}

/* Writes our close frame: @code (none when 0) and @reason. */
static void
tunnel_write_close (WsTunnel *self, guint16 code, const char *reason)
{
  guint8 payload[2 + MAX_CLOSE_REASON];
  gsize len = 0;

  if (code != 0)
    {
      gsize rlen = reason ? MIN (strlen (reason), sizeof payload - 2) : 0;

      payload[0] = (guint8) (code >> 8);
      payload[1] = (guint8) code;
      if (rlen > 0)
        memcpy (payload + 2, reason, rlen);
      len = 2 + rlen;
    }
  tunnel_write_frame (self, WS_OPCODE_CLOSE, NULL, 0, payload, len);
  self->close_sent = TRUE;
}

static gboolean
deferred_close_cb (gpointer user_data)
{
  WsTunnel *self = user_data;

  self->deferred_idle = 0;
  if (self->ended || aero_channel_is_closing (AERO_CHANNEL (self)))
    return G_SOURCE_REMOVE;
  self->close_code_override = self->deferred_code;
  aero_channel_close (AERO_CHANNEL (self), self->deferred_reason, self->deferred_message);
  return G_SOURCE_REMOVE;
}

/* Requests a close from a place where a read, a write or the session is on
 * the stack: it runs from the main loop. */
static void
tunnel_defer_close (WsTunnel *self, AeroCloseReason reason, guint16 code, const char *message)
{
  if (self->deferred_idle || self->ended || aero_channel_is_closing (AERO_CHANNEL (self)))
    return;
  self->deferred_reason = reason;
  self->deferred_code = code;
  self->deferred_message = message;
  self->deferred_idle = g_idle_add_full (G_PRIORITY_DEFAULT, deferred_close_cb,
                                         g_object_ref (self), g_object_unref);
}

/* A message could not be queued. Past the backpressure limit, the peer is
 * told and the tunnel closed. */
static void
tunnel_note_drop (WsTunnel *self, WsTxDropReason reason)
{
  aero_metric_inc (self->metrics->tx_dropped[reason]);
  if (reason != WS_TX_DROP_QUEUE_FULL)
    return;
  self->want_ready = TRUE;
  self->drops_since_drain++;
  if (self->drops_since_drain == self->opts.backpressure_limit + 1)
    {
      aero_metric_inc (self->metrics->backpressure_closes);
      tunnel_defer_close (self, AERO_CLOSE_BACKPRESSURE, 0, "peer does not read fast enough");
    }
}

/* Whether a message of @len bytes fits in the send queue now. */
static gboolean
tunnel_has_room (WsTunnel *self, gsize len)
{
  return ws_tunnel_get_backlog (self) + ws_tunnel_wire_size (len, self->client)
         <= self->opts.send_queue;
}

static gboolean
ready_cb (gpointer user_data)
{
  WsTunnel *self = user_data;

  self->ready_idle = 0;
  if (self->ended || aero_channel_is_closing (AERO_CHANNEL (self)))
    return G_SOURCE_REMOVE;
  self->want_ready = FALSE;
  aero_frame_sink_notify_ready (AERO_FRAME_SINK (self));
  return G_SOURCE_REMOVE;
}

/* Runs inside a write: only bookkeeping here, the rest is deferred. */
static void
on_written (WsCountingOutputStream *counter, guint64 total, gpointer user_data)
{
  WsTunnel *self = user_data;

  if (ws_tunnel_get_backlog (self) * 2 >= self->opts.send_queue)
    return;
  self->drops_since_drain = 0;
  if (self->want_ready && self->ready_idle == 0 && !self->ended)
    self->ready_idle = g_idle_add (ready_cb, self);
}

static AeroFlowReturn
ws_tunnel_push (AeroChannel *channel, GBytes *frame)
{
  WsTunnel *self = WS_TUNNEL (channel);
  gsize len = g_bytes_get_size (frame);

  if (self->ended || self->close_started || aero_channel_is_closing (channel))
    return AERO_FLOW_CLOSED;
  if (len > self->opts.limits.max_frame_payload)
    {
      tunnel_note_drop (self, WS_TX_DROP_OVERSIZE);
      return AERO_FLOW_DROPPED;
    }
  if (!tunnel_has_room (self, AERO_L2_HEADER_LEN + len))
    {
      tunnel_note_drop (self, WS_TX_DROP_QUEUE_FULL);
      return AERO_FLOW_DROPPED;
    }

  tunnel_send_frame (self, frame);
  return AERO_FLOW_OK;
}

static gboolean
ws_tunnel_is_ready (AeroChannel *channel)
{
  WsTunnel *self = WS_TUNNEL (channel);

  if (self->ended || self->close_started)
    return FALSE;
  if (tunnel_has_room (self, AERO_L2_HEADER_LEN + self->opts.limits.max_frame_payload))
    return TRUE;
  /* A producer that sees "not ready" pauses until "ready" (aero-frame.h). */
  self->want_ready = TRUE;
  return FALSE;
}

/* ---- receiving ------------------------------------------------------------- */

static void
tunnel_violation (WsTunnel *self, WsRxDropReason reason)
{
  aero_metric_inc (self->metrics->rx_dropped[reason]);
  self->violations++;
  if (self->violations == self->opts.max_violations)
    {
      aero_metric_inc (self->metrics->violation_closes);
      aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_PROTOCOL_ERROR,
                          "too many protocol violations");
    }
}

static WsRxDropReason
drop_reason_for (AeroL2DecodeResult result)
{
  switch (result)
    {
    case AERO_L2_DECODE_TOO_SHORT: return WS_RX_DROP_TOO_SHORT;
    case AERO_L2_DECODE_INVALID_MAGIC: return WS_RX_DROP_BAD_MAGIC;
    case AERO_L2_DECODE_UNSUPPORTED_VERSION: return WS_RX_DROP_BAD_VERSION;
    case AERO_L2_DECODE_PAYLOAD_TOO_LARGE:
    default: return WS_RX_DROP_OVERSIZE;
    }
}

static void
tunnel_answer_ping (WsTunnel *self, const AeroL2Message *m)
{
  g_autoptr (GBytes) pong = NULL;

  /* PONGs share the send bound: a peer that pings without reading must
   * not grow the queue. */
  if (!tunnel_has_room (self, AERO_L2_HEADER_LEN + m->payload_len))
    {
      tunnel_note_drop (self, WS_TX_DROP_QUEUE_FULL);
      return;
    }
  pong = aero_l2_encode (AERO_L2_PONG, m->payload, m->payload_len);
  tunnel_send (self, pong);
  aero_metric_inc (self->metrics->pings_answered);
}

static void
tunnel_peer_error (WsTunnel *self, const AeroL2Message *m)
{
  g_autofree char *text = NULL;
  guint16 code;
  gboolean structured;

  aero_metric_inc (self->metrics->rx_errors);
  if (self->errors_logged >= MAX_ERRORS_LOGGED)
    return;
  self->errors_logged++;
  /* Metadata only: the text is the peer's and stays out of the log. */
  structured = aero_l2_parse_error (m->payload, m->payload_len, &code, &text);
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "MESSAGE", "peer sent ERROR (%s, code %u, %" G_GSIZE_FORMAT " bytes)",
                 structured ? "structured" : "text", code, m->payload_len);
}

static void
tunnel_receive (WsTunnel *self, int type, GBytes *message)
{
  AeroL2DecodeResult result;
  AeroL2Message m;
  const guint8 *data;
  gsize size;

  /* Once our close has begun the session no longer wants anything. */
  if (self->ended || self->close_started)
    return;

  if (self->idle)
    aero_idle_timer_touch (self->idle);
  data = g_bytes_get_data (message, &size);
  aero_metric_inc (self->metrics->rx_messages);
  aero_metric_add (self->metrics->rx_bytes, (double) size);

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      tunnel_violation (self, WS_RX_DROP_TEXT);
      return;
    }
  result = aero_l2_decode (data, size, &self->opts.limits, &m);
  if (result != AERO_L2_DECODE_OK)
    {
      tunnel_violation (self, drop_reason_for (result));
      return;
    }

  switch (m.type)
    {
    case AERO_L2_FRAME:
      {
        /* The payload stays in the message's buffer; the frame refers to it. */
        g_autoptr (GBytes) frame = g_bytes_new_from_bytes (message, AERO_L2_HEADER_LEN,
                                                           m.payload_len);

        aero_channel_receive (AERO_CHANNEL (self), frame);
        break;
      }
    case AERO_L2_PING:
      tunnel_answer_ping (self, &m);
      break;
    case AERO_L2_PONG:
      self->pong_due = FALSE;
      aero_metric_inc (self->metrics->pongs_received);
      break;
    case AERO_L2_ERROR:
      tunnel_peer_error (self, &m);
      break;
    default:
      aero_metric_inc (self->metrics->rx_dropped[WS_RX_DROP_UNKNOWN_TYPE]);
      break;
    }
}

/* Binary messages come from the guard, which reads the connection itself;
 * it runs from the guard's source. */
static void
on_guard_message (WsGuardInputStream *guard, GBytes *message, gpointer user_data)
{
  WsTunnel *self = g_object_ref (user_data);

  tunnel_receive (self, SOUP_WEBSOCKET_DATA_BINARY, message);
  g_object_unref (self);
}

/* Runs inside the guard's read of the connection. */
static void
on_guard_trip (WsGuardInputStream *guard, WsGuardTrip why, guint64 size, gpointer user_data)
{
  WsTunnel *self = user_data;
  gboolean too_big = why == WS_GUARD_TRIP_MESSAGE_TOO_BIG;

  aero_metric_inc (self->metrics->rx_dropped[too_big ? WS_RX_DROP_MESSAGE_TOO_BIG
                                                     : WS_RX_DROP_BAD_CONTROL]);
  aero_metric_inc (self->metrics->too_big_closes);
  AERO_LOG_INFO (self->component, "peer", peer_text (self), "session", session_text (self),
                 "MESSAGE", "%s of %" G_GUINT64_FORMAT " bytes refused before buffering "
                 "(largest message %" G_GUINT64_FORMAT ")",
                 too_big                             ? "message"
                 : why == WS_GUARD_TRIP_BAD_FRAME ? "out-of-order data frame"
                                                  : "control frame",
                 size, self->max_message);
  if (too_big)
    tunnel_defer_close (self, AERO_CLOSE_PROTOCOL_ERROR, CLOSE_TOO_BIG, "message too big");
  else if (why == WS_GUARD_TRIP_BAD_FRAME)
    tunnel_defer_close (self, AERO_CLOSE_PROTOCOL_ERROR, 0, "data frame out of order");
  else
    tunnel_defer_close (self, AERO_CLOSE_PROTOCOL_ERROR, 0, "invalid control frame");
}

/* Runs inside the guard's read: a pong of this size is about to be
 * written (tunnel_control()). */
static void
on_guard_ping (WsGuardInputStream *guard, gsize payload_len, gpointer user_data)
{
  WsTunnel *self = user_data;

  if (self->close_started || self->ended)
    return;
  /* Pongs are written whatever our bound says; a peer that floods pings
   * without reading is cut off at twice the bound. */
  if (ws_tunnel_get_backlog (self) + ws_tunnel_wire_size (payload_len, self->client)
          > 2 * self->opts.send_queue
      && self->deferred_idle == 0)
    {
      aero_metric_inc (self->metrics->backpressure_closes);
      tunnel_defer_close (self, AERO_CLOSE_BACKPRESSURE, 0, "peer does not read its pongs");
    }
}

/* The connection is closed (both filters): the channel ends, the socket goes. */
static void
tunnel_connection_closed (WsTunnel *self)
{
  AeroCloseReason reason;
  g_autofree char *detail = NULL;

  if (self->close_started)
    {
      reason = self->close_reason;
      detail = g_strdup_printf ("closed by the server (%u %s)", self->close_code,
                                self->close_message ? self->close_message : "");
    }
  else if (self->peer_protocol_error)
    {
      reason = AERO_CLOSE_PROTOCOL_ERROR;
      detail = g_strdup ("WebSocket protocol error");
    }
  else if (self->io_error)
    {
      reason = AERO_CLOSE_INTERNAL_ERROR;
      detail = g_strdup ("connection error");
    }
  else
    {
      reason = AERO_CLOSE_NORMAL;
      detail = self->peer_close_code ? g_strdup_printf ("closed by the peer (%u)",
                                                        self->peer_close_code)
                                     : g_strdup ("connection closed by the peer");
    }
  g_object_ref (self);
  tunnel_end (self, reason, detail);
  tunnel_release (self);
  g_object_unref (self);
}

static void
io_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  WsTunnel *self = user_data;

  g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL);
  if (self->guard)
    g_input_stream_close (G_INPUT_STREAM (self->guard), NULL, NULL);
  if (!self->finished)
    tunnel_connection_closed (self);
  g_object_unref (self);
}

/* Ends the connection politely: what is batched (our close frame last)
 * is written out, within a bounded wait, then the connection is closed. */
static void
tunnel_close_io (WsTunnel *self)
{
  if (self->io_closing || !self->attached)
    return;
  self->io_closing = TRUE;
  /* Nothing more is read: what a peer sends while the batch goes out
   * (up to the counter's bounded wait) stays in the socket. */
  ws_guard_input_stream_set_pass_func (self->guard, NULL, NULL);
  g_input_stream_close (G_INPUT_STREAM (self->guard), NULL, NULL);
  g_output_stream_close_async (G_OUTPUT_STREAM (self->counter), G_PRIORITY_DEFAULT, NULL,
                               io_closed_cb, g_object_ref (self));
}

/* The peer broke the WebSocket framing: it gets a close frame with the
 * code for it (1002, 1007 or 1009) and the connection ends. */
static void
tunnel_peer_broke_framing (WsTunnel *self, const WsFrameEvent *ev)
{
  AERO_LOG_DEBUG (self->component, "peer", peer_text (self), "session", session_text (self),
                  "MESSAGE", "WebSocket protocol error: %s", ev->error);
  self->peer_protocol_error = TRUE;
  if (!self->close_sent)
    tunnel_write_close (self, ev->error_code, NULL);
  tunnel_close_io (self);
}

static void
tunnel_control (WsTunnel *self, const WsFrameEvent *ev)
{
  gsize len;
  const guint8 *payload = g_bytes_get_data (ev->payload, &len);

  switch (ev->opcode)
    {
    case WS_OPCODE_PING:
      if (tunnel_is_open (self))
        tunnel_write_frame (self, WS_OPCODE_PONG, NULL, 0, payload, len);
      break;
    case WS_OPCODE_CLOSE:
      self->close_received = TRUE;
      self->peer_close_code = ws_frame_close_code (ev->payload);
      /* Our close answered: done. Theirs first: answered with its code
       * (1000 for one without), and done. */
      if (!self->close_sent)
        tunnel_write_close (self,
                            self->peer_close_code == WS_CLOSE_NO_STATUS ? WS_CLOSE_NORMAL
                                                                        : self->peer_close_code,
                            NULL);
      tunnel_close_io (self);
      break;
    default: /* pong: nothing to do */
      break;
    }
}

/* The guard left something: control frames, text messages, frames that
 * break the rules, or the end of the connection. Runs at the end of the
 * guard's read, from its source. */
static void
on_guard_pass (WsGuardInputStream *guard, gpointer user_data)
{
  WsTunnel *self = g_object_ref (user_data);

  while (!self->io_closing && !self->finished)
    {
      guint8 buf[PASS_READ_LEN];
      GError *error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard), buf,
                                                           sizeof buf, NULL, &error);
      WsFrameEvent ev;
      WsFrameResult r;

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          g_error_free (error);
          break;
        }
      if (n < 0)
        {
          AERO_LOG_DEBUG (self->component, "peer", peer_text (self), "session",
                          session_text (self), "MESSAGE", "connection error: %s", error->message);
          g_error_free (error);
          self->io_error = TRUE;
        }
      if (n <= 0)
        {
          /* The end (or an error): nothing more can be said on it. */
          tunnel_close_io (self);
          break;
        }
      ws_frame_reader_push (&self->reader, buf, (gsize) n);
      while (!self->io_closing && (r = ws_frame_reader_next (&self->reader, &ev)) != WS_FRAME_NEED_MORE)
        {
          if (r == WS_FRAME_MESSAGE)
            tunnel_receive (self, ev.opcode == WS_OPCODE_TEXT ? SOUP_WEBSOCKET_DATA_TEXT
                                                              : SOUP_WEBSOCKET_DATA_BINARY,
                            ev.payload);
          else if (r == WS_FRAME_CONTROL)
            tunnel_control (self, &ev);
          else
            tunnel_peer_broke_framing (self, &ev);
          ws_frame_event_clear (&ev);
        }
    }
  g_object_unref (self);
}

/* ---- timers ---------------------------------------------------------------- */

static gboolean
idle_timer_cb (gpointer user_data)
{
  WsTunnel *self = user_data;

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  if (self->ended || self->close_started)
    return G_SOURCE_REMOVE;
  aero_metric_inc (self->metrics->idle_closes);
  aero_channel_close (AERO_CHANNEL (self), AERO_CLOSE_IDLE, "idle timeout");
  return G_SOURCE_REMOVE;
}

static gboolean
keepalive_cb (gpointer user_data)
{
  WsTunnel *self = user_data;
  guint8 payload[8];
  guint64 now_ms = (guint64) g_get_real_time () / 1000;
  g_autoptr (GBytes) ping = NULL;

  if (self->ended || self->close_started)
    {
      self->keepalive_timer = 0;
      return G_SOURCE_REMOVE;
    }
  if (self->pong_due)
    {
      self->keepalive_timer = 0;
      aero_metric_inc (self->metrics->keepalive_timeouts);
      ws_tunnel_abort (self, AERO_CLOSE_IDLE, "no PONG within the keepalive interval");
      return G_SOURCE_REMOVE;
    }
  for (int i = 7; i >= 0; i--, now_ms >>= 8)
    payload[i] = (guint8) (now_ms & 0xff);
  ping = aero_l2_encode (AERO_L2_PING, payload, sizeof payload);
  tunnel_send (self, ping);
  self->pong_due = TRUE;
  aero_metric_inc (self->metrics->pings_sent);
  return G_SOURCE_CONTINUE;
}

static gboolean
close_timeout_cb (gpointer user_data)
{
  WsTunnel *self = user_data;

  self->close_timer = 0;
  /* The session ends, and the connection with it. */
  g_object_ref (self);
  tunnel_end (self, self->close_reason, "close handshake timed out");
  tunnel_release (self);
  g_object_unref (self);
  return G_SOURCE_REMOVE;
}

/* ---- closing --------------------------------------------------------------- */

/* Copies at most MAX_CLOSE_REASON bytes of @text, cut at a character boundary. */
static char *
close_reason_text (const char *text)
{
  const char *end = text;

  while (*end && (gsize) (g_utf8_next_char (end) - text) <= MAX_CLOSE_REASON)
    end = g_utf8_next_char (end);
  return g_strndup (text, (gsize) (end - text));
}

/* Sends the ERROR the reason calls for and the close frame. */
static void
tunnel_start_close (WsTunnel *self)
{
  guint16 error_code;
  g_autofree char *reason_text = NULL;

  self->close_started = TRUE;
  g_clear_pointer (&self->idle, aero_idle_timer_free);
  g_clear_handle_id (&self->keepalive_timer, g_source_remove);

  if (!tunnel_is_open (self))
    return;

  error_code = self->close_code == CLOSE_TOO_BIG ? AERO_L2_ERROR_PROTOCOL
                                                 : aero_l2_error_code_for_close (self->close_reason);
  if (error_code != 0)
    {
      g_autoptr (GBytes) error = aero_l2_encode_error (error_code, self->close_message);

      /* Sent even when the queue is full: it is one message, then the end. */
      tunnel_send (self, error);
    }

  reason_text = close_reason_text (self->close_message);
  tunnel_write_close (self, self->close_code, reason_text);
  if (self->close_timer == 0 && !self->ended)
    self->close_timer = g_timeout_add ((guint) self->opts.close_timeout_ms, close_timeout_cb, self);
}

static void
ws_tunnel_close (AeroChannel *channel, AeroCloseReason reason, const char *message)
{
  WsTunnel *self = WS_TUNNEL (channel);

  self->close_reason = reason;
  self->close_code = self->close_code_override ? self->close_code_override
                                               : aero_l2_websocket_close_code (reason);
  self->close_code_override = 0;
  g_free (self->close_message);
  self->close_message = g_strdup (message ? message : aero_close_reason_to_string (reason));
  AERO_LOG_DEBUG (self->component, "peer", peer_text (self), "session", session_text (self),
                  "reason", aero_close_reason_to_string (reason), "MESSAGE",
                  "closing tunnel with code %u: %s", self->close_code, self->close_message);

  if (self->finished)
    {
      tunnel_end (self, reason, self->close_message);
      return;
    }
  /* Before the connection exists, the close is carried out at attach time
   * (or the upgrade fails and ws_tunnel_fail() ends the channel). */
  tunnel_start_close (self);
}

/* ---- life cycle -------------------------------------------------------------- */

static void
ws_tunnel_dispose (GObject *object)
{
  WsTunnel *self = WS_TUNNEL (object);

  g_clear_pointer (&self->idle, aero_idle_timer_free);
  g_clear_handle_id (&self->keepalive_timer, g_source_remove);
  g_clear_handle_id (&self->close_timer, g_source_remove);
  g_clear_handle_id (&self->ready_idle, g_source_remove);
  g_clear_handle_id (&self->deferred_idle, g_source_remove);
  if (!self->finished && (self->attached || self->stream))
    tunnel_release (self);
  g_queue_clear_full (&self->pending, (GDestroyNotify) g_bytes_unref);
  G_OBJECT_CLASS (ws_tunnel_parent_class)->dispose (object);
}

static void
ws_tunnel_finalize (GObject *object)
{
  WsTunnel *self = WS_TUNNEL (object);

  ws_frame_reader_clear (&self->reader);
  g_clear_object (&self->guard);
  g_clear_object (&self->counter);
  g_clear_object (&self->stream);
  g_clear_pointer (&self->metrics, ws_metrics_unref);
  g_free (self->close_message);
  g_free (self->component);
  G_OBJECT_CLASS (ws_tunnel_parent_class)->finalize (object);
}

static void
ws_tunnel_class_init (WsTunnelClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  AeroChannelClass *channel_class = AERO_CHANNEL_CLASS (klass);

  object_class->dispose = ws_tunnel_dispose;
  object_class->finalize = ws_tunnel_finalize;
  channel_class->push = ws_tunnel_push;
  channel_class->is_ready = ws_tunnel_is_ready;
  channel_class->close = ws_tunnel_close;

  /**
   * WsTunnel::finished:
   *
   * Emitted once, when the connection is gone (after "closed").
   */
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
ws_tunnel_init (WsTunnel *self)
{
  g_queue_init (&self->pending);
}

/**
 * ws_tunnel_new:
 * @component: the transport instance name, for logs
 * @metrics: the instance's series
 * @options: settings (copied)
 * @client: whether this is the client end (masks frames, sends PINGs)
 *
 * Returns: (transfer full): a tunnel with no connection yet.
 */
WsTunnel *
ws_tunnel_new (const char *component, WsMetrics *metrics, const WsTunnelOptions *options,
               gboolean client)
{
  WsTunnel *self = g_object_new (WS_TYPE_TUNNEL, NULL);

  self->component = g_strdup (component);
  self->metrics = ws_metrics_ref (metrics);
  self->opts = *options;
  self->client = client;
  self->max_message = aero_l2_max_message_size (&self->opts.limits);
  return self;
}

/**
 * ws_tunnel_attach:
 * @self: a tunnel without a connection
 * @stream: the upgraded connection (the tunnel closes it when done)
 * @socket: (nullable): its socket, when @stream reads straight from it (no
 *   TLS); the tunnel then waits on the socket itself
 * @prefix: (nullable): bytes already read from @stream past the handshake
 *
 * Runs the WebSocket connection over @stream and starts the tunnel:
 * queued messages are sent, timers start, and a close requested
 * meanwhile is carried out.
 */
void
ws_tunnel_attach (WsTunnel *self, GIOStream *stream, GSocket *socket, GBytes *prefix)
{
  g_autoptr (GQueue) queued = NULL;
  GBytes *message;

  g_return_if_fail (WS_IS_TUNNEL (self));
  g_return_if_fail (!self->attached && !self->finished);

  self->stream = g_object_ref (stream);
  self->plain = socket != NULL;
  self->guard = ws_guard_input_stream_new (g_io_stream_get_input_stream (stream), self->max_message,
                                           prefix);
  self->counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (stream));
  ws_guard_input_stream_set_funcs (self->guard, on_guard_trip, on_guard_ping, self);
  ws_guard_input_stream_set_pass_func (self->guard, on_guard_pass, self);
  ws_frame_reader_init (&self->reader, !self->client, self->max_message);
  self->attached = TRUE;
  ws_guard_input_stream_start_messages (self->guard, on_guard_message, !self->client, socket);
  ws_counting_output_stream_set_written_func (self->counter, on_written, self);
  /* Frames are written out once per main-loop iteration; a batch of half
   * the send queue at most, so that the queue bound keeps its meaning. */
  ws_counting_output_stream_set_batch_limit (self->counter, self->opts.send_queue / 2);
  aero_metric_add (self->metrics->active, 1);
  self->counted_active = TRUE;

  /* What the session sent before the connection existed goes first. */
  queued = g_queue_copy (&self->pending);
  g_queue_clear (&self->pending);
  self->pending_bytes = 0;
  while ((message = g_queue_pop_head (queued)) != NULL)
    {
      tunnel_send (self, message);
      g_bytes_unref (message);
    }

  if (aero_channel_is_closing (AERO_CHANNEL (self)))
    {
      tunnel_start_close (self);
      return;
    }
  if (self->opts.idle_timeout_ms > 0)
    self->idle = aero_idle_timer_new (self->opts.idle_timeout_ms, idle_timer_cb, self);
  if (self->client && self->opts.keepalive_ms > 0)
    self->keepalive_timer = g_timeout_add ((guint) self->opts.keepalive_ms, keepalive_cb, self);
}

/**
 * ws_tunnel_fail:
 * @self: a tunnel that never got its connection
 * @reason: why
 * @why: text for the log
 *
 * Ends the channel (its session closes) and emits "finished".
 */
void
ws_tunnel_fail (WsTunnel *self, AeroCloseReason reason, const char *why)
{
  g_return_if_fail (WS_IS_TUNNEL (self));
  g_object_ref (self);
  tunnel_end (self, reason, why);
  tunnel_release (self);
  g_object_unref (self);
}

/**
 * ws_tunnel_abort:
 * @self: a tunnel
 * @reason: why
 * @why: text for the log
 *
 * Ends the channel and drops the connection at once, without a close
 * handshake (dead peer, transport stopping).
 */
void
ws_tunnel_abort (WsTunnel *self, AeroCloseReason reason, const char *why)
{
  g_return_if_fail (WS_IS_TUNNEL (self));
  g_object_ref (self);
  if (aero_channel_is_closing (AERO_CHANNEL (self)) && !self->ended)
    reason = self->close_reason;
  tunnel_end (self, reason, why);
  tunnel_release (self);
  g_object_unref (self);
}

/**
 * ws_tunnel_is_finished:
 * @self: a tunnel
 *
 * Returns: whether the connection is gone ("finished" was emitted).
 */
gboolean
ws_tunnel_is_finished (WsTunnel *self)
{
  g_return_val_if_fail (WS_IS_TUNNEL (self), TRUE);
  return self->finished;
}
