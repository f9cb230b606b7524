/* probe-tunnel.c — the aero-l2-tunnel-v1 WebSocket client: libsoup's
 * client upgrade, the core's message codec (aero-l2-tunnel.h), PING/PONG,
 * ERROR collection and the bounded main-context waits every step uses. */
#include "probe-tunnel.h"
#include "probe-packet.h"

#include <aero-net/aero-l2-tunnel.h>
#include <aero-net/aero-version.h>
#include <libsoup/soup.h>
#include <stdio.h>
#include <string.h>

#define PING_PAYLOAD_LEN 8
/* After a cancelled upgrade, how long to wait for libsoup to report it. */
#define CANCEL_GRACE_US (2 * G_USEC_PER_SEC)

typedef struct {
  ProbeTunnel *tunnel; /* NULL once the tunnel gave up on this attempt */
} ConnectOp;

struct _ProbeTunnel {
  char *url;
  char *origin;
  char *token_entry;
  gboolean insecure;
  gboolean verbose;

  SoupSession *session;
  SoupMessage *msg;
  GCancellable *cancellable;
  ConnectOp *op;
  gboolean connect_done;
  GError *connect_error;
  SoupWebsocketConnection *conn;
  gulong handlers[3];

  ProbeFrameFunc frame_func;
  gpointer frame_data;

  guint8 ping_payload[PING_PAYLOAD_LEN];
  gboolean ping_outstanding;
  gint64 ping_sent_us;
  gint64 pong_received_us;

  gboolean closed;
  char *ws_error;

  ProbeTunnelStats stats;
  GPtrArray *errors;
  gint64 created_us;
};

static const char *
l2_error_name (guint16 code)
{
  switch (code)
    {
    case AERO_L2_ERROR_PROTOCOL: return "protocol_error";
    case AERO_L2_ERROR_AUTH_REQUIRED: return "auth_required";
    case AERO_L2_ERROR_AUTH_INVALID: return "auth_invalid";
    case AERO_L2_ERROR_ORIGIN_MISSING: return "origin_missing";
    case AERO_L2_ERROR_ORIGIN_DENIED: return "origin_denied";
    case AERO_L2_ERROR_QUOTA_BYTES: return "quota_bytes";
    case AERO_L2_ERROR_QUOTA_FPS: return "quota_fps";
    case AERO_L2_ERROR_QUOTA_CONNECTIONS: return "quota_connections";
    case AERO_L2_ERROR_BACKPRESSURE: return "backpressure";
    default: return "unknown";
    }
}

/* --verbose output: one line per event, stamped with the time since the
 * tunnel was created. */
static G_GNUC_PRINTF (2, 3) void
vlog (ProbeTunnel *t, const char *format, ...)
{
  va_list ap;
  g_autofree char *msg = NULL;

  va_start (ap, format);
  msg = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_printerr ("[%10.3f] %s", (double) (g_get_monotonic_time () - t->created_us) / 1000.0, msg);
}

static void
tunnel_error_free (gpointer p)
{
  ProbeTunnelError *e = p;

  g_free (e->message);
  g_free (e);
}

ProbeTunnel *
probe_tunnel_new (const ProbeTunnelOptions *options)
{
  ProbeTunnel *t = g_new0 (ProbeTunnel, 1);

  t->url = g_strdup (options->url);
  t->origin = g_strdup (options->origin);
  t->token_entry = options->token ? g_strconcat (AERO_L2_TOKEN_PREFIX, options->token, NULL) : NULL;
  t->insecure = options->insecure;
  t->verbose = options->verbose;
  t->errors = g_ptr_array_new_with_free_func (tunnel_error_free);
  t->created_us = g_get_monotonic_time ();
  return t;
}

void
probe_tunnel_free (ProbeTunnel *t)
{
  if (t == NULL)
    return;
  if (t->op)
    t->op->tunnel = NULL; /* the pending callback frees it */
  if (t->cancellable)
    g_cancellable_cancel (t->cancellable);
  if (t->conn)
    {
      for (guint i = 0; i < G_N_ELEMENTS (t->handlers); i++)
        if (t->handlers[i])
          g_signal_handler_disconnect (t->conn, t->handlers[i]);
      if (soup_websocket_connection_get_state (t->conn) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_close (t->conn, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, NULL);
      g_object_unref (t->conn);
    }
  g_clear_object (&t->msg);
  g_clear_object (&t->session);
  g_clear_object (&t->cancellable);
  g_clear_error (&t->connect_error);
  g_ptr_array_unref (t->errors);
  g_free (t->ws_error);
  g_free (t->url);
  g_free (t->origin);
  g_free (t->token_entry);
  g_free (t);
}

/* ---- receiving ---------------------------------------------------------------- */

static void
send_message (ProbeTunnel *t, GBytes *message)
{
  gsize len;
  gconstpointer data = g_bytes_get_data (message, &len);

  soup_websocket_connection_send_binary (t->conn, data, len);
}

static void
on_message (SoupWebsocketConnection *conn, gint type, GBytes *message, gpointer user_data)
{
  ProbeTunnel *t = user_data;
  AeroL2Message m;
  AeroL2DecodeResult r;
  gsize len;
  const guint8 *data;

  if (type != SOUP_WEBSOCKET_DATA_BINARY)
    {
      t->stats.messages_dropped++;
      if (t->verbose)
        vlog (t, "<- text message dropped\n");
      return;
    }
  data = g_bytes_get_data (message, &len);
  r = aero_l2_decode (data, len, NULL, &m);
  if (r != AERO_L2_DECODE_OK)
    {
      t->stats.messages_dropped++;
      if (t->verbose)
        vlog (t, "<- message dropped: %s\n", aero_l2_decode_result_to_string (r));
      return;
    }

  switch (m.type)
    {
    case AERO_L2_FRAME:
      t->stats.frames_received++;
      t->stats.bytes_received += m.payload_len;
      if (t->verbose)
        {
          g_autofree char *d = probe_frame_describe (m.payload, m.payload_len);
          vlog (t, "<- %s\n", d);
        }
      if (t->frame_func)
        t->frame_func (m.payload, m.payload_len, t->frame_data);
      break;
    case AERO_L2_PING:
      {
        g_autoptr (GBytes) pong = aero_l2_encode (AERO_L2_PONG, m.payload, m.payload_len);
        send_message (t, pong);
        t->stats.pings_answered++;
        if (t->verbose)
          vlog (t, "<- PING (%" G_GSIZE_FORMAT " bytes), answered\n", m.payload_len);
      }
      break;
    case AERO_L2_PONG:
      if (t->ping_outstanding && m.payload_len == PING_PAYLOAD_LEN
          && memcmp (m.payload, t->ping_payload, PING_PAYLOAD_LEN) == 0)
        {
          t->ping_outstanding = FALSE;
          t->pong_received_us = g_get_monotonic_time ();
        }
      if (t->verbose)
        vlog (t, "<- PONG (%" G_GSIZE_FORMAT " bytes)\n", m.payload_len);
      break;
    case AERO_L2_ERROR:
      {
        ProbeTunnelError *e = g_new0 (ProbeTunnelError, 1);
        char *text = NULL;

        aero_l2_parse_error (m.payload, m.payload_len, &e->code, &text);
        /* Printable only: the text ends up on a terminal and in JSON. */
        e->message = probe_sanitize ((const guint8 *) text, strlen (text));
        g_free (text);
        if (t->errors->len < 32)
          g_ptr_array_add (t->errors, e);
        else
          tunnel_error_free (e);
        if (t->verbose)
          vlog (t, "<- ERROR %u: %s\n", e->code, e->message);
      }
      break;
    default:
      t->stats.unknown_types++;
      break;
    }
}

static void
on_closed (SoupWebsocketConnection *conn, gpointer user_data)
{
  ProbeTunnel *t = user_data;

  t->closed = TRUE;
  if (t->verbose)
    vlog (t, "-- WebSocket closed (server code %u)\n", soup_websocket_connection_get_close_code (conn));
}

static void
on_error (SoupWebsocketConnection *conn, GError *error, gpointer user_data)
{
  ProbeTunnel *t = user_data;

  g_free (t->ws_error);
  t->ws_error = g_strdup (error->message);
  if (t->verbose)
    vlog (t, "-- WebSocket error: %s\n", error->message);
}

/* ---- connecting ----------------------------------------------------------------- */

static gboolean
accept_any_certificate (SoupMessage *msg, GTlsCertificate *cert, GTlsCertificateFlags errors,
                        gpointer user_data)
{
  return TRUE;
}

static void
connect_done (GObject *source, GAsyncResult *res, gpointer user_data)
{
  ConnectOp *op = user_data;
  GError *error = NULL;
  SoupWebsocketConnection *conn;

  conn = soup_session_websocket_connect_finish (SOUP_SESSION (source), res, &error);
  if (op->tunnel == NULL)
    {
      /* Abandoned: nobody waits for this any more. */
      g_clear_object (&conn);
      g_clear_error (&error);
      g_free (op);
      return;
    }
  op->tunnel->conn = conn;
  op->tunnel->connect_error = error;
  op->tunnel->connect_done = TRUE;
  op->tunnel->op = NULL;
  g_free (op);
}

static gboolean
connect_finished (gpointer user_data)
{
  return ((ProbeTunnel *) user_data)->connect_done;
}

static gboolean
timer_fired (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Iterates the default main context until COND or the deadline; the
 * building block of every wait. */
static gboolean
iterate_until (ProbeCondFunc cond, gpointer user_data, ProbeTunnel *t, gint64 deadline)
{
  GSource *timer = NULL;
  gboolean fired = FALSE;
  gboolean met = FALSE;

  for (;;)
    {
      gint64 now;

      if (cond && cond (user_data))
        {
          met = TRUE;
          break;
        }
      if (t && t->conn && !probe_tunnel_is_open (t))
        break;
      now = g_get_monotonic_time ();
      if (now >= deadline)
        break;
      if (timer == NULL || fired)
        {
          if (timer)
            {
              g_source_destroy (timer);
              g_source_unref (timer);
            }
          fired = FALSE;
          timer = g_timeout_source_new ((guint) MIN ((deadline - now + 999) / 1000, G_MAXINT));
          g_source_set_callback (timer, timer_fired, &fired, NULL);
          g_source_attach (timer, NULL);
        }
      g_main_context_iteration (NULL, TRUE);
    }
  if (timer)
    {
      g_source_destroy (timer);
      g_source_unref (timer);
    }
  return met;
}

gboolean
probe_tunnel_connect (ProbeTunnel *t, gint64 deadline, guint *http_status, GError **error)
{
  char *protocols[3] = { (char *) AERO_L2_SUBPROTOCOL, t->token_entry, NULL };
  const char *selected;

  *http_status = 0;
  g_return_val_if_fail (t->session == NULL, FALSE);

  t->session = soup_session_new_with_options ("user-agent", "aero-probe/" AERO_NET_VERSION,
                                              "timeout", 0, "idle-timeout", 0, NULL);
  t->msg = soup_message_new (SOUP_METHOD_GET, t->url);
  if (t->msg == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid URL %s", t->url);
      return FALSE;
    }
  if (t->insecure)
    g_signal_connect (t->msg, "accept-certificate", G_CALLBACK (accept_any_certificate), NULL);
  t->cancellable = g_cancellable_new ();
  t->op = g_new0 (ConnectOp, 1);
  t->op->tunnel = t;
  soup_session_websocket_connect_async (t->session, t->msg, t->origin, protocols,
                                        G_PRIORITY_DEFAULT, t->cancellable, connect_done, t->op);

  if (!iterate_until (connect_finished, t, NULL, deadline))
    {
      g_cancellable_cancel (t->cancellable);
      iterate_until (connect_finished, t, NULL, g_get_monotonic_time () + CANCEL_GRACE_US);
      *http_status = soup_message_get_status (t->msg);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                   "no WebSocket upgrade within the step timeout");
      return FALSE;
    }

  *http_status = soup_message_get_status (t->msg);
  if (t->connect_error)
    {
      guint status = *http_status;

      if (status >= 100 && status != SOUP_STATUS_SWITCHING_PROTOCOLS)
        {
          const char *phrase = soup_message_get_reason_phrase (t->msg);
          g_autofree char *clean =
            phrase ? probe_sanitize ((const guint8 *) phrase, strlen (phrase)) : g_strdup ("");
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "server refused the upgrade: HTTP %u %s (%s)", status, clean,
                       t->connect_error->message);
        }
      else
        g_set_error (error, t->connect_error->domain, t->connect_error->code, "%s",
                     t->connect_error->message);
      return FALSE;
    }

  selected = soup_websocket_connection_get_protocol (t->conn);
  if (g_strcmp0 (selected, AERO_L2_SUBPROTOCOL) != 0)
    {
      g_autofree char *clean =
        selected ? probe_sanitize ((const guint8 *) selected, strlen (selected)) : NULL;
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   selected ? "server selected subprotocol \"%s\", not " AERO_L2_SUBPROTOCOL
                            : "server selected no subprotocol%s (expected " AERO_L2_SUBPROTOCOL ")",
                   selected ? clean : "");
      soup_websocket_connection_close (t->conn, SOUP_WEBSOCKET_CLOSE_PROTOCOL_ERROR, NULL);
      return FALSE;
    }

  soup_websocket_connection_set_max_incoming_payload_size (t->conn,
                                                           aero_l2_max_message_size (NULL));
  soup_websocket_connection_set_keepalive_interval (t->conn, 0);
  t->handlers[0] = g_signal_connect (t->conn, "message", G_CALLBACK (on_message), t);
  t->handlers[1] = g_signal_connect (t->conn, "closed", G_CALLBACK (on_closed), t);
  t->handlers[2] = g_signal_connect (t->conn, "error", G_CALLBACK (on_error), t);
  return TRUE;
}

const char *
probe_tunnel_get_protocol (ProbeTunnel *t)
{
  return t->conn ? soup_websocket_connection_get_protocol (t->conn) : NULL;
}

gboolean
probe_tunnel_is_open (ProbeTunnel *t)
{
  return t->conn != NULL && !t->closed
         && soup_websocket_connection_get_state (t->conn) == SOUP_WEBSOCKET_STATE_OPEN;
}

/* ---- sending, waiting --------------------------------------------------------------- */

void
probe_tunnel_set_frame_handler (ProbeTunnel *t, ProbeFrameFunc func, gpointer user_data)
{
  t->frame_func = func;
  t->frame_data = user_data;
}

static void
set_closed_error (ProbeTunnel *t, GError **error)
{
  GString *s = g_string_new ("the tunnel is closed");

  if (t->conn)
    {
      guint code = soup_websocket_connection_get_close_code (t->conn);
      const char *reason = soup_websocket_connection_get_close_data (t->conn);

      if (code)
        {
          g_autofree char *clean =
            reason ? probe_sanitize ((const guint8 *) reason, strlen (reason)) : NULL;
          g_string_append_printf (s, " (server close code %u%s%s)", code, clean && *clean ? ": " : "",
                                  clean && *clean ? clean : "");
        }
      else if (t->ws_error)
        g_string_append_printf (s, " (%s)", t->ws_error);
    }
  if (t->errors->len > 0)
    {
      ProbeTunnelError *e = g_ptr_array_index (t->errors, t->errors->len - 1);
      g_string_append_printf (s, "; last server ERROR %u %s: %s", e->code, l2_error_name (e->code),
                              e->message);
    }
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_CLOSED, s->str);
  g_string_free (s, TRUE);
}

gboolean
probe_tunnel_send_frame (ProbeTunnel *t, GBytes *frame, GError **error)
{
  g_autoptr (GBytes) message = NULL;
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  if (!probe_tunnel_is_open (t))
    {
      set_closed_error (t, error);
      return FALSE;
    }
  if (len > AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_MESSAGE_TOO_LARGE,
                   "frame of %" G_GSIZE_FORMAT " bytes exceeds the tunnel's default limit", len);
      return FALSE;
    }
  if (t->verbose)
    {
      g_autofree char *d = probe_frame_describe (data, len);
      vlog (t, "-> %s\n", d);
    }
  message = aero_l2_encode_frame (frame);
  send_message (t, message);
  t->stats.frames_sent++;
  t->stats.bytes_sent += len;
  return TRUE;
}

gboolean
probe_tunnel_wait (ProbeTunnel *t, ProbeCondFunc cond, gpointer user_data, gint64 deadline,
                   GError **error)
{
  if (iterate_until (cond, user_data, t, deadline))
    return TRUE;
  if (!probe_tunnel_is_open (t))
    set_closed_error (t, error);
  else
    g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
  return FALSE;
}

gboolean
probe_tunnel_sleep_until (ProbeTunnel *t, gint64 deadline, GError **error)
{
  iterate_until (NULL, NULL, t, deadline);
  if (!probe_tunnel_is_open (t))
    {
      set_closed_error (t, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
pong_arrived (gpointer user_data)
{
  return !((ProbeTunnel *) user_data)->ping_outstanding;
}

gboolean
probe_tunnel_ping (ProbeTunnel *t, gint64 deadline, double *rtt_ms, GError **error)
{
  g_autoptr (GBytes) ping = NULL;
  guint64 stamp = (guint64) (g_get_real_time () / 1000);
  g_autoptr (GError) local = NULL;

  if (!probe_tunnel_is_open (t))
    {
      set_closed_error (t, error);
      return FALSE;
    }
  for (int i = 0; i < PING_PAYLOAD_LEN; i++)
    t->ping_payload[i] = (guint8) (stamp >> (8 * (PING_PAYLOAD_LEN - 1 - i)));
  ping = aero_l2_encode (AERO_L2_PING, t->ping_payload, PING_PAYLOAD_LEN);
  t->ping_outstanding = TRUE;
  t->ping_sent_us = g_get_monotonic_time ();
  send_message (t, ping);
  if (t->verbose)
    vlog (t, "-> PING (%d bytes)\n", PING_PAYLOAD_LEN);
  if (!probe_tunnel_wait (t, pong_arrived, t, deadline, &local))
    {
      t->ping_outstanding = FALSE;
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no PONG before the deadline");
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  *rtt_ms = (double) (t->pong_received_us - t->ping_sent_us) / 1000.0;
  return TRUE;
}

static gboolean
close_finished (gpointer user_data)
{
  ProbeTunnel *t = user_data;

  return t->closed
         || soup_websocket_connection_get_state (t->conn) == SOUP_WEBSOCKET_STATE_CLOSED;
}

gboolean
probe_tunnel_close (ProbeTunnel *t, gint64 deadline, guint *peer_code, GError **error)
{
  *peer_code = 0;
  if (t->conn == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "not connected");
      return FALSE;
    }
  if (!probe_tunnel_is_open (t))
    {
      *peer_code = soup_websocket_connection_get_close_code (t->conn);
      set_closed_error (t, error);
      g_prefix_error (error, "the server closed first: ");
      return FALSE;
    }
  soup_websocket_connection_close (t->conn, SOUP_WEBSOCKET_CLOSE_NORMAL, NULL);
  if (t->verbose)
    vlog (t, "-> WebSocket close 1000\n");
  if (!iterate_until (close_finished, t, NULL, deadline))
    {
      *peer_code = soup_websocket_connection_get_close_code (t->conn);
      if (*peer_code)
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "server answered %u but did not finish closing in time", *peer_code);
      else
        g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                             "no close frame from the server in time");
      return FALSE;
    }
  *peer_code = soup_websocket_connection_get_close_code (t->conn);
  if (*peer_code != SOUP_WEBSOCKET_CLOSE_NORMAL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                   "server answered the close with code %u, not 1000", *peer_code);
      return FALSE;
    }
  return TRUE;
}

const ProbeTunnelStats *
probe_tunnel_get_stats (ProbeTunnel *t)
{
  return &t->stats;
}

GPtrArray *
probe_tunnel_get_errors (ProbeTunnel *t)
{
  return t->errors;
}

gboolean
probe_tunnel_get_server_close (ProbeTunnel *t, guint *code)
{
  guint peer = t->conn ? soup_websocket_connection_get_close_code (t->conn) : 0;

  if (peer == 0 && !t->closed)
    return FALSE;
  *code = peer;
  return TRUE;
}
