/* test-libsoup-limits.c — what the installed libsoup's WebSocket connection
 * does with oversized input: the facts why transport-ws bounds messages in
 * its own guard and runs the connection after the upgrade itself.
 *
 * A server-side SoupWebsocketConnection over one end of a socket pair; the
 * test writes raw frames into the other end. Checked facts (libsoup 3.2):
 *   - max-incoming-payload-size refuses a frame whose payload is above
 *     the limit and takes one of exactly the limit (older libsoup refused
 *     that one too);
 *   - the refusal emits "error" (SOUP_WEBSOCKET_ERROR, 1009) and drops the
 *     connection without sending a close frame: the peer sees the TCP
 *     connection end (close code 1006 in a browser);
 *   - a message fragmented into frames under the limit is reassembled
 *     whatever its total size (no total-message limit before 3.8);
 *   - with the guard stream in front, the same fragments are cut off at
 *     the bound, and the peer's close frame still completes the closing
 *     handshake.
 * If a libsoup update changes one of these, this test says which. */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <poll.h>

#include <libsoup/soup.h>

#include "ws-guard-input-stream.h"

#define LIMIT 100

typedef struct {
  SoupWebsocketConnection *ws;
  GSocketConnection *connection;
  int peer;                     /* the test's end of the pair */
  GPtrArray *messages;          /* GBytes */
  GError *error;
  gboolean closed;
  guint trips;
} Fixture;

static void
on_message (SoupWebsocketConnection *ws, int type, GBytes *message, gpointer user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->messages, g_bytes_ref (message));
}

static void
on_error (SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  Fixture *f = user_data;

  if (f->error == NULL)
    f->error = g_error_copy (error);
}

static void
on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  Fixture *f = user_data;

  f->closed = TRUE;
  /* The filters under a guarded connection never close the socket. */
  g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
}

static void
on_trip (WsGuardInputStream *guard, WsGuardTrip why, guint64 size, gpointer user_data)
{
  Fixture *f = user_data;

  f->trips++;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  gboolean guarded = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GIOStream) io = NULL;
  g_autoptr (GUri) uri = g_uri_parse ("http://127.0.0.1/l2", G_URI_FLAGS_NONE, NULL);
  int sv[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
  socket = g_socket_new_from_fd (sv[0], &error);
  g_assert_no_error (error);
  f->connection = g_socket_connection_factory_create_connection (socket);
  f->peer = sv[1];
  f->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);

  if (guarded)
    {
      g_autoptr (WsGuardInputStream) guard = NULL;

      guard = ws_guard_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (f->connection)),
                                         LIMIT, NULL);
      ws_guard_input_stream_set_funcs (guard, on_trip, NULL, f);
      io = g_simple_io_stream_new (G_INPUT_STREAM (guard),
                                   g_io_stream_get_output_stream (G_IO_STREAM (f->connection)));
    }
  else
    io = g_object_ref (G_IO_STREAM (f->connection));

  f->ws = g_object_new (SOUP_TYPE_WEBSOCKET_CONNECTION, "io-stream", io, "connection-type",
                        SOUP_WEBSOCKET_CONNECTION_SERVER, "uri", uri,
                        "max-incoming-payload-size", (guint64) LIMIT, NULL);
  g_signal_connect (f->ws, "message", G_CALLBACK (on_message), f);
  g_signal_connect (f->ws, "error", G_CALLBACK (on_error), f);
  g_signal_connect (f->ws, "closed", G_CALLBACK (on_closed), f);
}

static gboolean
spin_until (gboolean *flag, guint *count, guint want, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      if ((flag && *flag) || (count && *count >= want))
        return TRUE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  return (flag && *flag) || (count && *count >= want);
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_signal_handlers_disconnect_by_data (f->ws, f);
  g_clear_object (&f->ws);
  /* Let libsoup's asynchronous close finish before the socket goes. */
  for (int i = 0; i < 50; i++)
    g_main_context_iteration (NULL, FALSE);
  g_io_stream_close (G_IO_STREAM (f->connection), NULL, NULL);
  g_clear_object (&f->connection);
  close (f->peer);
  g_ptr_array_unref (f->messages);
  g_clear_error (&f->error);
}

static void
send_frame (Fixture *f, gboolean fin, guint8 opcode, gsize len)
{
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  guint8 head[8] = { (guint8) ((fin ? 0x80 : 0) | opcode) };
  gsize h = 2;
  static const guint8 key[4] = { 9, 8, 7, 6 };

  if (len < 126)
    head[1] = (guint8) (0x80 | len);
  else
    {
      head[1] = 0x80 | 126;
      head[2] = (guint8) (len >> 8);
      head[3] = (guint8) len;
      h = 4;
    }
  g_byte_array_append (frame, head, (guint) h);
  g_byte_array_append (frame, key, 4);
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = (guint8) ('a' ^ key[i & 3]);

      g_byte_array_append (frame, &b, 1);
    }
  g_assert_cmpint (write (f->peer, frame->data, frame->len), ==, (gssize) frame->len);
}

/* Reads what the server sent until EOF or @timeout_ms; returns the bytes. */
static GByteArray *
drain_peer (Fixture *f, guint timeout_ms, gboolean *eof)
{
  GByteArray *got = g_byte_array_new ();
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  *eof = FALSE;
  while (g_get_monotonic_time () < deadline)
    {
      struct pollfd p = { f->peer, POLLIN, 0 };
      guint8 buf[512];
      ssize_t n;

      g_main_context_iteration (NULL, FALSE);
      if (poll (&p, 1, 5) <= 0)
        continue;
      n = read (f->peer, buf, sizeof buf);
      if (n <= 0)
        {
          *eof = TRUE;
          break;
        }
      g_byte_array_append (got, buf, (guint) n);
    }
  return got;
}

static void
test_frame_limit_is_inclusive (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) got = NULL;
  gboolean eof;
  guint n_messages;

  send_frame (f, TRUE, 0x2, LIMIT);
  n_messages = 0;
  for (int i = 0; i < 2000 && f->messages->len == 0; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (500);
    }
  n_messages = f->messages->len;
  g_assert_cmpuint (n_messages, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (f->messages->pdata[0]), ==, LIMIT);

  send_frame (f, TRUE, 0x2, LIMIT + 1);
  g_assert_true (spin_until (&f->closed, NULL, 0, 5000));
  g_assert_error (f->error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG);
  g_assert_cmpuint (f->messages->len, ==, 1);

  /* No close frame: the connection just ends. */
  got = drain_peer (f, 2000, &eof);
  g_assert_true (eof);
  g_assert_cmpuint (got->len, ==, 0);
}

static void
test_fragments_are_not_bounded (Fixture *f, gconstpointer data)
{
  guint want = 1;

  send_frame (f, FALSE, 0x2, 90);
  for (int i = 0; i < 20; i++)
    send_frame (f, FALSE, 0x0, 90);
  send_frame (f, TRUE, 0x0, 90);
  g_assert_true (spin_until (NULL, &f->messages->len, want, 5000));
  g_test_message ("libsoup delivered a message of %" G_GSIZE_FORMAT " bytes with "
                  "max-incoming-payload-size %d",
                  g_bytes_get_size (f->messages->pdata[0]), LIMIT);
  g_assert_cmpuint (g_bytes_get_size (f->messages->pdata[0]), ==, 22 * 90);
  g_assert_null (f->error);
}

static void
test_guard_bounds_fragments (Fixture *f, gconstpointer data)
{
  g_autoptr (GByteArray) got = NULL;
  gboolean eof;
  guint8 close_frame[8] = { 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xf1 }; /* 1009, zero mask */

  send_frame (f, FALSE, 0x2, 90);
  for (int i = 0; i < 20; i++)
    send_frame (f, FALSE, 0x0, 90);
  send_frame (f, TRUE, 0x0, 90);
  g_assert_true (spin_until (NULL, &f->trips, 1, 5000));
  for (int i = 0; i < 100; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->messages->len, ==, 0);
  g_assert_cmpuint (f->trips, ==, 1);

  /* The peer's close frame still gets through: libsoup answers it and
   * closes cleanly. */
  g_assert_cmpint (write (f->peer, close_frame, sizeof close_frame), ==, sizeof close_frame);
  got = drain_peer (f, 3000, &eof);
  g_assert_true (eof);
  g_assert_cmpuint (got->len, >=, 4);
  g_assert_cmpuint (got->data[0], ==, 0x88);
  g_assert_cmpuint ((guint) got->data[2] << 8 | got->data[3], ==, 1009);
  g_assert_true (spin_until (&f->closed, NULL, 0, 2000));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/libsoup/frame-limit-is-inclusive", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_frame_limit_is_inclusive, fixture_tear_down);
  g_test_add ("/libsoup/fragments-are-not-bounded", Fixture, GINT_TO_POINTER (FALSE),
              fixture_set_up, test_fragments_are_not_bounded, fixture_tear_down);
  g_test_add ("/libsoup/guard-bounds-fragments", Fixture, GINT_TO_POINTER (TRUE),
              fixture_set_up, test_guard_bounds_fragments, fixture_tear_down);
  return g_test_run ();
}
