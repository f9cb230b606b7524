/* test-ws-streams.c — unit tests of the two stream filters under the
 * WebSocket connection: the guard (frame headers followed across any read
 * boundaries, messages bounded across fragments, control frames let
 * through after a trip, pings reported, prefix delivered first; in message
 * mode, reading a real socket itself: binary messages taken out and
 * unmasked, everything else left to the reader byte for byte, the end of
 * the stream, closing from the func) and the counting output stream
 * (batches, back-pressure, close; write_message() framing and its order
 * with libsoup's whole-or-nothing writes). */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ws-counting-output-stream.h"
#include "ws-guard-input-stream.h"

/* ---- a pollable input stream that hands out a few bytes per read ----------- */

#define TEST_TYPE_TRICKLE (test_trickle_get_type ())
G_DECLARE_FINAL_TYPE (TestTrickle, test_trickle, TEST, TRICKLE, GInputStream)

struct _TestTrickle
{
  GInputStream parent_instance;
  GBytes *data;
  gsize pos;
  gsize chunk;
};

static void test_trickle_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (TestTrickle, test_trickle, G_TYPE_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      test_trickle_pollable_init))

static gssize
trickle_take (TestTrickle *self, void *buffer, gsize count)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (self->data, &len);
  gsize n = MIN (MIN (count, self->chunk), len - self->pos);

  memcpy (buffer, data + self->pos, n);
  self->pos += n;
  return (gssize) n;
}

static gssize
test_trickle_read (GInputStream *stream, void *buffer, gsize count, GCancellable *cancellable,
                   GError **error)
{
  return trickle_take (TEST_TRICKLE (stream), buffer, count);
}

static gboolean
test_trickle_is_readable (GPollableInputStream *stream)
{
  return TRUE;
}

static GSource *
test_trickle_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  g_autoptr (GSource) child = g_timeout_source_new (0);

  return g_pollable_source_new_full (stream, child, cancellable);
}

static gssize
test_trickle_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                               GError **error)
{
  return trickle_take (TEST_TRICKLE (stream), buffer, count);
}

static void
test_trickle_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->is_readable = test_trickle_is_readable;
  iface->create_source = test_trickle_create_source;
  iface->read_nonblocking = test_trickle_read_nonblocking;
}

static void
test_trickle_finalize (GObject *object)
{
  g_bytes_unref (TEST_TRICKLE (object)->data);
  G_OBJECT_CLASS (test_trickle_parent_class)->finalize (object);
}

static void
test_trickle_class_init (TestTrickleClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_trickle_finalize;
  G_INPUT_STREAM_CLASS (klass)->read_fn = test_trickle_read;
}

static void
test_trickle_init (TestTrickle *self)
{
}

static GInputStream *
trickle_new (GBytes *data, gsize chunk)
{
  TestTrickle *self = g_object_new (TEST_TYPE_TRICKLE, NULL);

  self->data = g_bytes_ref (data);
  self->chunk = chunk;
  return G_INPUT_STREAM (self);
}

/* ---- frames -------------------------------------------------------------- */

/* Appends one WebSocket frame; masked frames use a fixed key. */
static void
add_frame (GByteArray *out, gboolean fin, guint8 opcode, gsize len, gboolean masked)
{
  guint8 head[14];
  gsize h = 0;
  static const guint8 key[4] = { 1, 2, 3, 4 };

  head[h++] = (guint8) ((fin ? 0x80 : 0) | opcode);
  if (len < 126)
    head[h++] = (guint8) ((masked ? 0x80 : 0) | len);
  else if (len < 65536)
    {
      head[h++] = (guint8) ((masked ? 0x80 : 0) | 126);
      head[h++] = (guint8) (len >> 8);
      head[h++] = (guint8) len;
    }
  else
    {
      head[h++] = (guint8) ((masked ? 0x80 : 0) | 127);
      for (int i = 7; i >= 0; i--)
        head[h++] = (guint8) ((guint64) len >> (8 * i));
    }
  if (masked)
    {
      memcpy (head + h, key, 4);
      h += 4;
    }
  g_byte_array_append (out, head, (guint) h);
  for (gsize i = 0; i < len; i++)
    {
      guint8 b = (guint8) (opcode + i);

      g_byte_array_append (out, &b, 1);
    }
}

typedef struct {
  guint trips;
  WsGuardTrip why;
  guint64 size;
  guint pings;
  gsize ping_bytes;
} Seen;

static void
on_trip (WsGuardInputStream *guard, WsGuardTrip why, guint64 size, gpointer user_data)
{
  Seen *seen = user_data;

  seen->trips++;
  seen->why = why;
  seen->size = size;
}

static void
on_ping (WsGuardInputStream *guard, gsize len, gpointer user_data)
{
  Seen *seen = user_data;

  seen->pings++;
  seen->ping_bytes += len;
}

/* Runs @input through a guard reading @chunk bytes at a time from the base
 * and @out_chunk at a time from the guard, non-blocking when asked. */
static GBytes *
run_guard (GBytes *input, GBytes *prefix, guint64 max, gsize chunk, gsize out_chunk,
           gboolean nonblocking, Seen *seen)
{
  g_autoptr (GInputStream) base = trickle_new (input, chunk);
  g_autoptr (WsGuardInputStream) guard = ws_guard_input_stream_new (base, max, prefix);
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 buffer[64];

  g_assert_cmpuint (out_chunk, <=, sizeof buffer);
  ws_guard_input_stream_set_funcs (guard, on_trip, on_ping, seen);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n;

      if (nonblocking)
        n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard), buffer,
                                                      out_chunk, NULL, &error);
      else
        n = g_input_stream_read (G_INPUT_STREAM (guard), buffer, out_chunk, NULL, &error);
      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        continue;
      g_assert_no_error (error);
      if (n == 0)
        break;
      g_byte_array_append (out, buffer, (guint) n);
    }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

static void
test_guard_passes_everything_under_the_bound (void)
{
  static const gsize chunks[] = { 1, 2, 3, 7, 13, 4096 };
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;

  add_frame (in, TRUE, 0x2, 10, TRUE);
  add_frame (in, TRUE, 0x2, 300, TRUE);         /* 16-bit length */
  add_frame (in, FALSE, 0x2, 100, TRUE);        /* fragmented: 100 + 100 + 52 = 252 */
  add_frame (in, TRUE, 0x9, 5, TRUE);           /* a ping between fragments */
  add_frame (in, FALSE, 0x0, 100, TRUE);
  add_frame (in, TRUE, 0x0, 52, TRUE);
  add_frame (in, TRUE, 0x1, 0, FALSE);          /* empty, unmasked */
  add_frame (in, TRUE, 0x2, 300, FALSE);
  add_frame (in, TRUE, 0x8, 2, TRUE);           /* close */
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));

  for (guint i = 0; i < G_N_ELEMENTS (chunks); i++)
    for (int nb = 0; nb < 2; nb++)
      {
        Seen seen = { 0 };
        g_autoptr (GBytes) out = run_guard (input, NULL, 300, chunks[i], 1 + i * 9, nb, &seen);

        g_assert_true (g_bytes_equal (out, input));
        g_assert_cmpuint (seen.trips, ==, 0);
        g_assert_cmpuint (seen.pings, ==, 1);
        g_assert_cmpuint (seen.ping_bytes, ==, 5);
      }
}

static void
test_guard_bounds_fragmented_messages (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GByteArray) expect = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GBytes) expected = NULL;
  Seen seen = { 0 };
  g_autoptr (GBytes) out = NULL;

  /* Fragments of 90 bytes under a bound of 200: the third takes the
   * message to 270 and is dropped, with every data frame after it; the
   * ping and the close still pass. */
  add_frame (in, FALSE, 0x2, 90, TRUE);
  add_frame (in, FALSE, 0x0, 90, TRUE);
  g_byte_array_append (expect, in->data, in->len);
  add_frame (in, FALSE, 0x0, 90, TRUE);
  add_frame (in, FALSE, 0x0, 90, TRUE);
  add_frame (in, TRUE, 0x2, 10, TRUE);
  {
    guint start = in->len;

    add_frame (in, TRUE, 0x9, 4, TRUE);
    g_byte_array_append (expect, in->data + start, in->len - start);
    add_frame (in, TRUE, 0x0, 90, TRUE);
    start = in->len;
    add_frame (in, TRUE, 0x8, 2, TRUE);
    g_byte_array_append (expect, in->data + start, in->len - start);
  }
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));
  expected = g_byte_array_free_to_bytes (g_steal_pointer (&expect));

  out = run_guard (input, NULL, 200, 3, 17, TRUE, &seen);
  g_assert_true (g_bytes_equal (out, expected));
  g_assert_cmpuint (seen.trips, ==, 1);
  g_assert_cmpint (seen.why, ==, WS_GUARD_TRIP_MESSAGE_TOO_BIG);
  g_assert_cmpuint (seen.size, ==, 270);
  g_assert_cmpuint (seen.pings, ==, 1);
}

static void
test_guard_refuses_one_big_frame (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GByteArray) expect = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GBytes) out = NULL;
  Seen seen = { 0 };

  add_frame (in, TRUE, 0x2, 200, TRUE);         /* exactly the bound: passes */
  g_byte_array_append (expect, in->data, in->len);
  add_frame (in, TRUE, 0x2, 70000, TRUE);       /* 64-bit length, dropped */
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));

  out = run_guard (input, NULL, 200, 4096, 64, TRUE, &seen);
  g_assert_cmpmem (g_bytes_get_data (out, NULL), g_bytes_get_size (out), expect->data, expect->len);
  g_assert_cmpuint (seen.trips, ==, 1);
  g_assert_cmpuint (seen.size, ==, 70000);
}

static void
test_guard_refuses_bad_control_frames (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GBytes) out = NULL;
  Seen seen = { 0 };

  add_frame (in, TRUE, 0x9, 126, TRUE);         /* a ping above 125 bytes */
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));
  out = run_guard (input, NULL, 1000, 5, 64, FALSE, &seen);
  g_assert_cmpuint (g_bytes_get_size (out), ==, 0);
  g_assert_cmpuint (seen.trips, ==, 1);
  g_assert_cmpint (seen.why, ==, WS_GUARD_TRIP_BAD_CONTROL);
  g_assert_cmpuint (seen.pings, ==, 0);
}

static void
test_guard_delivers_prefix_first (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GBytes) all = NULL;
  g_autoptr (GBytes) prefix = NULL;
  g_autoptr (GBytes) rest = NULL;
  g_autoptr (GBytes) out = NULL;
  Seen seen = { 0 };

  add_frame (in, TRUE, 0x2, 40, FALSE);
  add_frame (in, TRUE, 0x2, 40, FALSE);
  all = g_byte_array_free_to_bytes (g_steal_pointer (&in));
  /* The prefix ends in the middle of the second frame's header. */
  prefix = g_bytes_new_from_bytes (all, 0, 43);
  rest = g_bytes_new_from_bytes (all, 43, g_bytes_get_size (all) - 43);
  out = run_guard (rest, prefix, 100, 7, 11, TRUE, &seen);
  g_assert_true (g_bytes_equal (out, all));
}

static void
test_guard_gives_way_while_discarding (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GInputStream) base = NULL;
  g_autoptr (WsGuardInputStream) guard = NULL;
  g_autoptr (GError) error = NULL;
  guint8 buffer[64];
  gssize n;

  /* 1 MiB to drop: one non-blocking read must not swallow it all. */
  add_frame (in, TRUE, 0x2, 1 << 20, TRUE);
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));
  base = trickle_new (input, 4096);
  guard = ws_guard_input_stream_new (base, 100, NULL);
  n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard), buffer,
                                                sizeof buffer, NULL, &error);
  g_assert_cmpint (n, ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
  g_assert_true (ws_guard_input_stream_is_tripped (guard));
  g_assert_cmpuint (ws_guard_input_stream_get_discarded (guard), <, 1 << 20);
  g_assert_cmpuint (ws_guard_input_stream_get_discarded (guard), >, 0);
}

static void
test_guard_gives_way_under_a_flood (void)
{
  g_autoptr (GByteArray) in = g_byte_array_new ();
  g_autoptr (GBytes) input = NULL;
  g_autoptr (GInputStream) base = NULL;
  g_autoptr (WsGuardInputStream) guard = NULL;
  guint8 buffer[1024];
  gsize total = 0, in_a_row = 0, longest = 0;
  guint yields = 0;

  /* 256 KiB of valid small frames, always readable: reads must still stop
   * now and then. */
  while (in->len < 256 * 1024)
    add_frame (in, TRUE, 0x2, 200, TRUE);
  input = g_byte_array_free_to_bytes (g_steal_pointer (&in));
  base = trickle_new (input, 4096);
  guard = ws_guard_input_stream_new (base, 1000, NULL);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (guard), buffer,
                                                           sizeof buffer, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          yields++;
          longest = MAX (longest, in_a_row);
          in_a_row = 0;
          continue;
        }
      if (n == 0)
        break;
      total += (gsize) n;
      in_a_row += (gsize) n;
    }
  g_assert_cmpuint (total, ==, g_bytes_get_size (input));
  g_assert_cmpuint (yields, >=, 15);
  g_assert_cmpuint (longest, <=, 16 * 1024 + sizeof buffer);
}

static void
on_written (WsCountingOutputStream *stream, guint64 total, gpointer user_data)
{
  *(guint64 *) user_data = total;
}

static void
test_counting_stream (void)
{
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (WsCountingOutputStream) counter = ws_counting_output_stream_new (memory);
  g_autoptr (GError) error = NULL;
  guint64 seen = 0;
  gsize written;

  ws_counting_output_stream_set_written_func (counter, on_written, &seen);
  g_assert_true (g_pollable_output_stream_can_poll (G_POLLABLE_OUTPUT_STREAM (counter)));
  /* Blocking writes go straight through. */
  g_assert_true (g_output_stream_write_all (G_OUTPUT_STREAM (counter), "hello", 5, &written, NULL,
                                            &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seen, ==, 5);
  /* Non-blocking ones are batched until the main loop's next iteration. */
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               " world", 6, NULL, &error),
                   ==, 6);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, 5);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 6);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, 11);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 0);
  g_assert_cmpuint (seen, ==, 11);
  g_assert_true (g_output_stream_close (G_OUTPUT_STREAM (counter), NULL, &error));
  /* The base stream is the connection owner's to close. */
  g_assert_false (g_output_stream_is_closed (memory));
  g_assert_cmpmem (g_memory_output_stream_get_data (G_MEMORY_OUTPUT_STREAM (memory)), 11,
                   "hello world", 11);
}

/* A connected stream socket pair: a GSocketConnection on one end (what the
 * tunnel writes to), a plain non-blocking fd on the other (the peer). */
typedef struct
{
  GIOStream *conn;
  int peer;
} Pair;

static void
pair_open (Pair *pair, int sndbuf)
{
  int fds[2];
  g_autoptr (GSocket) socket = NULL;
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), ==, 0);
  if (sndbuf > 0)
    {
      g_assert_cmpint (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), ==, 0);
      g_assert_cmpint (setsockopt (fds[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf), ==, 0);
    }
  socket = g_socket_new_from_fd (fds[0], &error);
  g_assert_no_error (error);
  pair->conn = G_IO_STREAM (g_socket_connection_factory_create_connection (socket));
  pair->peer = fds[1];
}

static void
pair_close (Pair *pair)
{
  g_io_stream_close (pair->conn, NULL, NULL);
  g_clear_object (&pair->conn);
  if (pair->peer >= 0)
    close (pair->peer);
}

/* Reads what the peer has now (non-blocking) and appends it to @into. */
static gsize
peer_read (Pair *pair, GByteArray *into)
{
  guint8 buf[65536];
  gsize total = 0;
  ssize_t n;

  while ((n = recv (pair->peer, buf, sizeof buf, MSG_DONTWAIT)) > 0)
    {
      g_byte_array_append (into, buf, (guint) n);
      total += (gsize) n;
    }
  return total;
}

static void
fill_pattern (guint8 *buf, gsize len, gsize offset)
{
  for (gsize i = 0; i < len; i++)
    buf[i] = (guint8) ((offset + i) * 7 + 3);
}

static void
assert_pattern (const GByteArray *got)
{
  for (gsize i = 0; i < got->len; i++)
    if (got->data[i] != (guint8) (i * 7 + 3))
      g_error ("byte %" G_GSIZE_FORMAT " out of order", i);
}

/* Many small frames written during one iteration leave together, once the
 * iteration is over, in order. */
static void
test_counting_batches_per_iteration (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  guint8 frame[100];

  pair_open (&pair, 0);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  for (int i = 0; i < 100; i++)
    {
      fill_pattern (frame, sizeof frame, (gsize) i * sizeof frame);
      g_assert_cmpint (g_pollable_output_stream_write_nonblocking (
                           G_POLLABLE_OUTPUT_STREAM (counter), frame, sizeof frame, NULL, &error),
                       ==, sizeof frame);
      g_assert_no_error (error);
    }
  /* Nothing on the wire before the main loop runs. */
  g_assert_cmpuint (peer_read (&pair, got), ==, 0);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, 0);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (peer_read (&pair, got), ==, 100 * sizeof frame);
  assert_pattern (got);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, 100 * sizeof frame);

  /* A write of at least the limit on an empty batch goes straight out. */
  ws_counting_output_stream_set_batch_limit (counter, 1000);
  {
    g_autofree guint8 *big = g_malloc (4000);

    fill_pattern (big, 4000, got->len);
    g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                                 big, 4000, NULL, &error),
                     ==, 4000);
    g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 0);
    g_assert_cmpuint (peer_read (&pair, got), ==, 4000);
    assert_pattern (got);
  }
  g_clear_object (&counter);
  pair_close (&pair);
}

/* A peer that reads slowly: the batch fills, writes report would-block,
 * the stream's source fires once there is room again, nothing is lost or
 * reordered, and the count ends at what the peer received. */
static void
test_counting_would_block (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  guint8 chunk[1500];
  gsize accepted = 0;
  gboolean blocked = FALSE;
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  pair_open (&pair, 4096);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  ws_counting_output_stream_set_batch_limit (counter, 8192);

  /* Write (iterating, so that batches go out) until the socket is full and
   * the batch has no room for another chunk. */
  while (!blocked)
    {
      gssize n;

      fill_pattern (chunk, sizeof chunk, accepted);
      n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter), chunk,
                                                      sizeof chunk, NULL, &error);
      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_clear_error (&error);
          blocked = TRUE;
          break;
        }
      /* Writes are taken whole or refused, never cut (libsoup would keep
       * the rest of a frame while other frames went ahead of it). */
      g_assert_cmpint (n, ==, sizeof chunk);
      accepted += (gsize) n;
      if (accepted % (10 * sizeof chunk) == 0)
        g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  /* Refused because the chunk did not fit in what is left of the batch. */
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), <=, 8192);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter) + sizeof chunk, >, 8192);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter)
                        + ws_counting_output_stream_get_batched (counter),
                    ==, accepted);

  /* The peer reads everything; the batch drains through the main loop. */
  while (got->len < accepted)
    {
      peer_read (&pair, got);
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  g_assert_cmpuint (got->len, ==, accepted);
  assert_pattern (got);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, accepted);
  g_assert_true (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter)));
  g_clear_object (&counter);
  pair_close (&pair);
}

static void
closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  gboolean *done = user_data;

  g_assert_true (g_output_stream_close_finish (G_OUTPUT_STREAM (source), result, NULL));
  *done = TRUE;
}

/* What was batched last (libsoup's close frame) still goes out when the
 * stream is closed right after; a peer that never reads does not hold the
 * close for more than the bound. */
static void
test_counting_close_writes_batch (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  guint8 chunk[1000];
  gboolean done = FALSE;
  gint64 start;

  pair_open (&pair, 0);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  fill_pattern (chunk, sizeof chunk, 0);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               chunk, sizeof chunk, NULL, &error),
                   ==, sizeof chunk);
  g_output_stream_close_async (G_OUTPUT_STREAM (counter), G_PRIORITY_DEFAULT, NULL, closed_cb,
                               &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (peer_read (&pair, got), ==, sizeof chunk);
  assert_pattern (got);
  g_assert_false (g_io_stream_is_closed (pair.conn));
  g_clear_object (&counter);
  pair_close (&pair);

  /* A peer that reads nothing: the close completes after its bound. */
  pair_open (&pair, 4096);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  for (gsize sent = 0; sent < 1024 * 1024;)
    {
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                             chunk, sizeof chunk, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          g_clear_error (&error);
          break;
        }
      sent += (gsize) n;
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), >, 0);
  done = FALSE;
  start = g_get_monotonic_time ();
  g_output_stream_close_async (G_OUTPUT_STREAM (counter), G_PRIORITY_DEFAULT, NULL, closed_cb,
                               &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 1900 * 1000);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 0);
  g_clear_object (&counter);
  pair_close (&pair);
}

/* The peer went away: the batch cannot be written, and every later write
 * reports the error (no SIGPIPE, no growth). */
static void
test_counting_peer_gone (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GError) error = NULL;
  guint8 chunk[100] = { 0 };

  pair_open (&pair, 0);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  close (pair.peer);
  pair.peer = -1;
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               chunk, sizeof chunk, NULL, &error),
                   ==, sizeof chunk);
  g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 0);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               chunk, sizeof chunk, NULL, &error),
                   ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BROKEN_PIPE);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, 0);
  g_clear_object (&counter);
  pair_close (&pair);
}

/* ---- the guard reading the connection itself (start_messages) --------------- */

/* How long any wait below may take before the test fails. */
#define WAIT_SECONDS 10

static gboolean
tick_cb (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until @cond holds, and fails the test
 * after WAIT_SECONDS. A 10 ms tick keeps each blocking iteration short, so
 * that the deadline is checked even when nothing else happens. */
#define WAIT_UNTIL(cond, what)                                                                 \
  G_STMT_START                                                                                 \
  {                                                                                            \
    gint64 wait_deadline_ = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;           \
    guint wait_tick_ = g_timeout_add (10, tick_cb, NULL);                                      \
                                                                                               \
    while (!(cond))                                                                            \
      {                                                                                        \
        if (g_get_monotonic_time () > wait_deadline_)                                          \
          g_error ("%s:%d: timed out after %d s waiting for %s", __FILE__, __LINE__,           \
                   WAIT_SECONDS, what);                                                        \
        g_main_context_iteration (NULL, TRUE);                                                 \
      }                                                                                        \
    g_source_remove (wait_tick_);                                                              \
  }                                                                                            \
  G_STMT_END

/* Iterates the default main context for @ms milliseconds: long enough for
 * anything already on the socket to be processed. */
static void
spin_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;
  guint tick = g_timeout_add (5, tick_cb, NULL);

  while (g_get_monotonic_time () < end)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
}

/* @len bytes of payload from the test's (seeded, --seed) generator. */
static GBytes *
random_payload (gsize len)
{
  guint8 *data = g_malloc (MAX (len, 1));

  for (gsize i = 0; i < len; i++)
    data[i] = (guint8) g_test_rand_int_range (0, 256);
  return g_bytes_new_take (data, len);
}

/* A masking key that changes at least one byte in four. */
static void
random_key (guint8 key[4])
{
  guint32 r = (guint32) g_test_rand_int ();

  memcpy (key, &r, 4);
  if (r == 0)
    key[0] = 0x5a;
}

/* Appends one frame carrying @payload: @b0 is its first byte (FIN, RSV
 * bits, opcode); with @key the payload is masked as a client masks it. */
static void
put_frame (GByteArray *out, guint8 b0, const void *payload, gsize len, const guint8 *key)
{
  guint8 head[14];
  gsize h = 0;
  guint8 mask_bit = key ? 0x80 : 0;
  guint start;

  head[h++] = b0;
  if (len < 126)
    head[h++] = (guint8) (mask_bit | len);
  else if (len < 65536)
    {
      head[h++] = (guint8) (mask_bit | 126);
      head[h++] = (guint8) (len >> 8);
      head[h++] = (guint8) len;
    }
  else
    {
      head[h++] = (guint8) (mask_bit | 127);
      for (int i = 7; i >= 0; i--)
        head[h++] = (guint8) ((guint64) len >> (8 * i));
    }
  if (key)
    {
      memcpy (head + h, key, 4);
      h += 4;
    }
  g_byte_array_append (out, head, (guint) h);
  start = out->len;
  if (len > 0)
    g_byte_array_append (out, payload, (guint) len);
  if (key)
    for (gsize i = 0; i < len; i++)
      out->data[start + i] ^= key[i % 4];
}

/* Bytes on the wire of an unfragmented frame of @len payload bytes. */
static gsize
frame_size (gsize len, gboolean masked)
{
  return 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + (masked ? 4 : 0) + len;
}

/* Appends a binary message in one frame (masked with a fresh key, or not),
 * and its payload to @expected when the func should get it. */
static void
add_message (GByteArray *wire, GPtrArray *expected, gsize len, gboolean masked)
{
  g_autoptr (GBytes) payload = random_payload (len);
  guint8 key[4];

  random_key (key);
  put_frame (wire, 0x82, g_bytes_get_data (payload, NULL), len, masked ? key : NULL);
  if (expected)
    g_ptr_array_add (expected, g_bytes_ref (payload));
}

/* Appends a frame the guard must hand on as it is: to @wire, and the same
 * bytes to @expect_passed. */
static void
add_passed (GByteArray *wire, GByteArray *expect_passed, guint8 b0, const void *payload,
            gsize len, gboolean masked)
{
  guint start = wire->len;
  guint8 key[4];

  random_key (key);
  put_frame (wire, b0, payload, len, masked ? key : NULL);
  g_byte_array_append (expect_passed, wire->data + start, wire->len - start);
}

/* 200 bytes of filler payload for frames whose content does not matter. */
static const guint8 filler[200] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

/* A guard in message mode over one end of a socket pair, and what it gave
 * out: messages to the func, bytes to a reader that reads it as libsoup 3
 * does (non-blocking until WOULD_BLOCK, from a source of the guard's, a new
 * source for each read). */
typedef struct
{
  Seen seen;                  /* first: on_trip and on_ping take the Rx as a Seen */
  Pair pair;
  WsGuardInputStream *guard;
  GPtrArray *messages;        /* GBytes, in the order the func got them */
  GByteArray *passed;         /* what non-blocking reads of the guard returned */
  GSource *reader;            /* the reader's source on the guard, while it waits */
  guint reader_dispatches;
  guint passes;               /* calls of the pass function */
  gboolean eof;               /* a read returned 0 */
  GError *error;              /* a read failed */
  guint close_after;          /* the func closes the guard at this message (0: never) */
  gboolean close_async;       /* ... with g_input_stream_close_async(), else close() */
  gboolean unset_after;       /* the func unsets the funcs at close_after instead */
  gboolean closed;            /* that close completed */
  GByteArray *wire;          /* what the peer sends */
  GPtrArray *expected;       /* the messages the func should get */
  GByteArray *expect_passed; /* what the reader should get */
} Rx;

static void
input_closed_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_assert_true (g_input_stream_close_finish (G_INPUT_STREAM (source), result, NULL));
  *(gboolean *) user_data = TRUE;
}

static void
on_message (WsGuardInputStream *guard, GBytes *message, gpointer user_data)
{
  Rx *rx = user_data;

  g_assert_true (guard == rx->guard);
  g_ptr_array_add (rx->messages, g_bytes_ref (message));
  if (rx->close_after == 0 || rx->messages->len != rx->close_after)
    return;
  if (rx->unset_after)
    ws_guard_input_stream_set_funcs (guard, NULL, NULL, NULL);
  else if (rx->close_async)
    g_input_stream_close_async (G_INPUT_STREAM (guard), G_PRIORITY_DEFAULT, NULL,
                                input_closed_cb, &rx->closed);
  else
    {
      g_assert_true (g_input_stream_close (G_INPUT_STREAM (guard), NULL, NULL));
      rx->closed = TRUE;
    }
}

/* Reads the guard like libsoup: non-blocking, until it would block. */
static void
rx_read (Rx *rx)
{
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      guint8 buffer[777]; /* odd-sized, so that frames straddle reads */
      gssize n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (rx->guard),
                                                           buffer, sizeof buffer, NULL, &error);

      if (n > 0)
        {
          g_byte_array_append (rx->passed, buffer, (guint) n);
          continue;
        }
      if (n == 0)
        rx->eof = TRUE;
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        rx->error = g_steal_pointer (&error);
      return;
    }
}

static void rx_watch (Rx *rx);

static gboolean
rx_reader_cb (GObject *stream, gpointer user_data)
{
  Rx *rx = user_data;

  rx->reader_dispatches++;
  rx_read (rx);
  /* As libsoup 3 does: this source goes, the next read gets a new one. */
  g_clear_pointer (&rx->reader, g_source_unref);
  if (!rx->eof && rx->error == NULL)
    rx_watch (rx);
  return G_SOURCE_REMOVE;
}

static void
rx_watch (Rx *rx)
{
  rx->reader = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (rx->guard), NULL);
  g_source_set_callback (rx->reader, (GSourceFunc) (void (*) (void)) rx_reader_cb, rx, NULL);
  g_source_attach (rx->reader, NULL);
}

/* Stops the reader (some tests read by hand). */
static void
rx_unwatch (Rx *rx)
{
  if (rx->reader == NULL)
    return;
  g_source_destroy (rx->reader);
  g_clear_pointer (&rx->reader, g_source_unref);
}

/* Which driver the message-mode tests use: the base stream's pollable
 * source (as over TLS), or the socket's own source. */
static gboolean rx_socket_driver;

static void
rx_open (Rx *rx, guint64 max_message, gboolean expect_masked)
{
  memset (rx, 0, sizeof *rx);
  pair_open (&rx->pair, 0);
  rx->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  rx->passed = g_byte_array_new ();
  rx->wire = g_byte_array_new ();
  rx->expected = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  rx->expect_passed = g_byte_array_new ();
  rx->guard = ws_guard_input_stream_new (g_io_stream_get_input_stream (rx->pair.conn),
                                         max_message, NULL);
  ws_guard_input_stream_set_funcs (rx->guard, on_trip, on_ping, rx);
  ws_guard_input_stream_start_messages (
      rx->guard, on_message, expect_masked,
      rx_socket_driver ? g_socket_connection_get_socket (G_SOCKET_CONNECTION (rx->pair.conn))
                       : NULL);
  rx_watch (rx);
}

/* Stops the reader, closes the guard as libsoup does (asynchronously),
 * then the socket pair. */
static void
rx_close (Rx *rx)
{
  rx_unwatch (rx);
  if (!g_input_stream_is_closed (G_INPUT_STREAM (rx->guard)))
    {
      gboolean done = FALSE;

      g_input_stream_close_async (G_INPUT_STREAM (rx->guard), G_PRIORITY_DEFAULT, NULL,
                                  input_closed_cb, &done);
      WAIT_UNTIL (done, "the guard to close");
    }
  g_clear_object (&rx->guard);
  pair_close (&rx->pair);
  g_ptr_array_unref (rx->messages);
  g_byte_array_unref (rx->passed);
  g_byte_array_unref (rx->wire);
  g_ptr_array_unref (rx->expected);
  g_byte_array_unref (rx->expect_passed);
  g_clear_error (&rx->error);
}

/* The peer writes @data in chunks of random sizes up to @max_chunk (half
 * of them under 16 bytes, so that headers, lengths and masking keys are
 * cut everywhere), the main context running after each. */
static void
peer_send (Pair *pair, const GByteArray *data, gsize max_chunk)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  gsize pos = 0;

  while (pos < data->len)
    {
      gsize chunk = (gsize) g_test_rand_int_range (1, (gint32) max_chunk + 1);
      ssize_t n;

      if (g_test_rand_bit ())
        chunk = MIN (chunk, (gsize) g_test_rand_int_range (1, 16));
      n = send (pair->peer, data->data + pos, MIN (chunk, data->len - pos),
                MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0)
        g_assert_cmpint (errno, ==, EAGAIN);
      else
        pos += (gsize) n;
      g_main_context_iteration (NULL, FALSE);
      if (g_get_monotonic_time () > deadline)
        g_error ("the peer could not write %u bytes in %d s", data->len, WAIT_SECONDS);
    }
}

/* The peer writes all of @data at once, the main context not running. */
static void
peer_send_now (Pair *pair, const GByteArray *data)
{
  gsize pos = 0;

  while (pos < data->len)
    {
      ssize_t n = send (pair->peer, data->data + pos, data->len - pos,
                        MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0)
        g_error ("the peer's socket took %" G_GSIZE_FORMAT " of %u bytes: %s", pos, data->len,
                 g_strerror (errno));
      pos += (gsize) n;
    }
}

/* The func got exactly @expected, in order. */
static void
assert_messages (GPtrArray *got, GPtrArray *expected)
{
  g_assert_cmpuint (got->len, ==, expected->len);
  for (guint i = 0; i < got->len; i++)
    if (!g_bytes_equal (got->pdata[i], expected->pdata[i]))
      g_error ("message %u: %" G_GSIZE_FORMAT " bytes, not the %" G_GSIZE_FORMAT
               " bytes expected, or different ones", i, g_bytes_get_size (got->pdata[i]),
               g_bytes_get_size (expected->pdata[i]));
}

/* Waits until the reader has @expect_passed (and the func @expected), then
 * runs the main loop a little longer, so that anything extra would show,
 * and checks both exactly. */
static void
rx_expect (Rx *rx, GPtrArray *expected, GByteArray *expect_passed)
{
  WAIT_UNTIL (rx->passed->len >= expect_passed->len && rx->messages->len >= expected->len,
              "the messages and the bytes for the reader");
  spin_for (30);
  assert_messages (rx->messages, expected);
  g_assert_cmpmem (rx->passed->data, rx->passed->len, expect_passed->data, expect_passed->len);
  g_assert_no_error (rx->error);
  g_assert_false (rx->eof);
}

/* The point of message mode: masked binary messages of every length
 * encoding, whole or in three fragments with a ping and a pong between
 * them, reach the func unmasked, whole and in order, however the peer's
 * writes cut them; the reader gets the ping and the pong byte for byte and
 * nothing else, and the ping is reported. Blocking reads are refused. */
static void
test_guard_messages_masked (void)
{
  static const gsize sizes[] = { 0, 1, 125, 126, 65535, 70000 };
  g_autoptr (GError) error = NULL;
  guint8 buffer[16];
  guint8 key[4];
  Rx rx;

  /* The bound (1 MiB) is above every message here. */
  rx_open (&rx, 1024 * 1024, TRUE);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    add_message (rx.wire, rx.expected, sizes[i], TRUE);
  {
    /* 300 + 5000 + 7 bytes, each fragment with its own key. */
    g_autoptr (GBytes) message = random_payload (5307);
    const guint8 *p = g_bytes_get_data (message, NULL);

    random_key (key);
    put_frame (rx.wire, 0x02, p, 300, key);
    add_passed (rx.wire, rx.expect_passed, 0x89, "ping!", 5, TRUE);
    random_key (key);
    put_frame (rx.wire, 0x00, p + 300, 5000, key);
    add_passed (rx.wire, rx.expect_passed, 0x8a, "pong", 4, TRUE);
    random_key (key);
    put_frame (rx.wire, 0x80, p + 5300, 7, key);
    g_ptr_array_add (rx.expected, g_bytes_ref (message));
  }
  {
    /* Empty first and last fragments around one byte. */
    static const guint8 one = 0xa5;

    random_key (key);
    put_frame (rx.wire, 0x02, NULL, 0, key);
    put_frame (rx.wire, 0x00, &one, 1, key);
    put_frame (rx.wire, 0x80, NULL, 0, key);
    g_ptr_array_add (rx.expected, g_bytes_new_static (&one, 1));
  }
  /* A whole message after them: the fragmented ones ended cleanly. */
  add_message (rx.wire, rx.expected, 2, TRUE);

  peer_send (&rx.pair, rx.wire, 4096);
  rx_expect (&rx, rx.expected, rx.expect_passed);
  g_assert_cmpuint (rx.seen.trips, ==, 0);
  g_assert_cmpuint (rx.seen.pings, ==, 1);
  g_assert_cmpuint (rx.seen.ping_bytes, ==, 5);
  g_assert_cmpuint (rx.reader_dispatches, >, 0);
  g_assert_false (ws_guard_input_stream_is_tripped (rx.guard));

  g_assert_cmpint (g_input_stream_read (G_INPUT_STREAM (rx.guard), buffer, sizeof buffer, NULL,
                                        &error),
                   ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  rx_close (&rx);
}

/* Binary messages with a text message and a fragmented text message (a
 * ping between its fragments) among them: the binary ones for the func,
 * the rest for the reader. */
static void
add_text_among_messages (Rx *rx)
{
  add_message (rx->wire, rx->expected, 10, TRUE);
  add_passed (rx->wire, rx->expect_passed, 0x81, "hello, text", 11, TRUE);
  add_message (rx->wire, rx->expected, 200, TRUE);
  add_passed (rx->wire, rx->expect_passed, 0x01, "frag", 4, TRUE);
  add_passed (rx->wire, rx->expect_passed, 0x89, "p", 1, TRUE);
  add_passed (rx->wire, rx->expect_passed, 0x00, "ment", 4, TRUE);
  add_passed (rx->wire, rx->expect_passed, 0x80, "ed", 2, TRUE);
}

/* Text messages are libsoup's: a whole one, a fragmented one with a ping
 * inside, an empty one and a long one reach the reader byte for byte (not
 * the func), and the binary messages around them still go to the func, in
 * order. */
static void
test_guard_messages_text_passes (void)
{
  char text[3000];
  Rx rx;

  for (gsize i = 0; i < sizeof text; i++)
    text[i] = (char) ('a' + i % 26);
  rx_open (&rx, 1024 * 1024, TRUE);
  add_text_among_messages (&rx);
  add_message (rx.wire, rx.expected, 0, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x81, NULL, 0, TRUE);
  add_message (rx.wire, rx.expected, 1000, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x81, text, sizeof text, TRUE);
  add_message (rx.wire, rx.expected, 3, TRUE);

  peer_send (&rx.pair, rx.wire, 1024);
  rx_expect (&rx, rx.expected, rx.expect_passed);
  g_assert_cmpuint (rx.seen.trips, ==, 0);
  g_assert_cmpuint (rx.seen.pings, ==, 1);
  rx_close (&rx);
}

static void
rx_pass_cb (WsGuardInputStream *guard, gpointer user_data)
{
  Rx *rx = user_data;

  g_assert_true (guard == rx->guard);
  rx->passes++;
  rx_read (rx);
}

/* With a pass function (the tunnel's way), what the guard leaves is
 * announced by a call at the end of its read, not by a reader's source:
 * the same bytes arrive, in order, with no source made for them, and the
 * end of the stream is announced the same way. */
static void
test_guard_messages_pass_func (void)
{
  Rx rx;

  rx_open (&rx, 1024 * 1024, TRUE);
  rx_unwatch (&rx);
  ws_guard_input_stream_set_pass_func (rx.guard, rx_pass_cb, &rx);
  add_text_among_messages (&rx);
  add_message (rx.wire, rx.expected, 3, TRUE);

  peer_send (&rx.pair, rx.wire, 1024);
  rx_expect (&rx, rx.expected, rx.expect_passed);
  g_assert_cmpuint (rx.passes, >, 0);
  g_assert_cmpuint (rx.reader_dispatches, ==, 0);
  g_assert_null (rx.reader);

  g_assert_cmpint (shutdown (rx.pair.peer, SHUT_WR), ==, 0);
  WAIT_UNTIL (rx.eof, "the end of the stream to be announced");
  g_assert_no_error (rx.error);
  g_assert_cmpuint (rx.reader_dispatches, ==, 0);
  rx_close (&rx);
}

/* Frames libsoup must refuse — unmasked from a client, RSV1 set, a
 * continuation with nothing to continue, a reserved data opcode, an
 * unmasked continuation of a binary message being gathered — reach the
 * reader unchanged (libsoup then fails the connection), and the guard
 * takes nothing out after them: the binary messages that follow reach the
 * reader too, not the func. */
static void
test_guard_messages_rule_breakers_pass (void)
{
  for (guint c = 0; c < 5; c++)
    {
      guint8 key[4];
      Rx rx;

      g_test_message ("case %u", c);
      rx_open (&rx, 1024 * 1024, TRUE);
      add_message (rx.wire, rx.expected, 50, TRUE); /* before it: taken out */
      switch (c)
        {
        case 0:
          add_passed (rx.wire, rx.expect_passed, 0x82, filler, 20, FALSE);
          break;
        case 1:
          add_passed (rx.wire, rx.expect_passed, 0xc2, filler, 20, TRUE);
          break;
        case 2:
          add_passed (rx.wire, rx.expect_passed, 0x80, filler, 20, TRUE);
          break;
        case 3:
          add_passed (rx.wire, rx.expect_passed, 0x83, filler, 20, TRUE);
          break;
        default:
          /* The first fragment was taken out; libsoup never sees it. */
          random_key (key);
          put_frame (rx.wire, 0x02, filler, 30, key);
          add_passed (rx.wire, rx.expect_passed, 0x80, filler, 20, FALSE);
          break;
        }
      add_passed (rx.wire, rx.expect_passed, 0x82, filler, 40, TRUE);
      add_passed (rx.wire, rx.expect_passed, 0x02, filler, 10, TRUE);
      add_passed (rx.wire, rx.expect_passed, 0x80, filler, 10, TRUE);
      add_passed (rx.wire, rx.expect_passed, 0x82, filler, 200, TRUE);

      peer_send (&rx.pair, rx.wire, 64);
      rx_expect (&rx, rx.expected, rx.expect_passed);
      g_assert_cmpuint (rx.seen.trips, ==, 0);
      rx_close (&rx);
    }
}

/* libsoup takes nothing after a close frame, and neither may the owner:
 * the close frame and every frame after it, binary ones included, go to
 * the reader. */
static void
test_guard_messages_close_frame (void)
{
  Rx rx;

  rx_open (&rx, 1024 * 1024, TRUE);
  add_message (rx.wire, rx.expected, 30, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x88, "\x03\xe8" "bye", 5, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x82, filler, 100, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x02, filler, 10, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x80, filler, 10, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x89, "x", 1, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x82, filler, 0, TRUE);

  peer_send (&rx.pair, rx.wire, 32);
  rx_expect (&rx, rx.expected, rx.expect_passed);
  g_assert_cmpuint (rx.seen.trips, ==, 0);
  rx_close (&rx);
}

/* A new data message (binary, text, or the start of a fragmented one)
 * while a binary one is half gathered cannot be shown to libsoup, which
 * never saw the first fragment: the guard trips with
 * WS_GUARD_TRIP_BAD_FRAME, once, delivers neither message and drops every
 * data frame after; control frames still reach the reader. */
static void
test_guard_messages_bad_frame_trips (void)
{
  static const guint8 intruders[] = { 0x82, 0x81, 0x02 };

  for (guint c = 0; c < G_N_ELEMENTS (intruders); c++)
    {
      guint8 key[4];
      Rx rx;

      g_test_message ("intruder 0x%02x", intruders[c]);
      rx_open (&rx, 1024 * 1024, TRUE);
      add_message (rx.wire, rx.expected, 10, TRUE);
      random_key (key);
      put_frame (rx.wire, 0x02, filler, 50, key);
      put_frame (rx.wire, intruders[c], filler, 20, key);
      put_frame (rx.wire, 0x82, filler, 30, key);
      put_frame (rx.wire, 0x80, filler, 5, key);
      add_passed (rx.wire, rx.expect_passed, 0x89, "end", 3, TRUE);

      peer_send (&rx.pair, rx.wire, 16);
      rx_expect (&rx, rx.expected, rx.expect_passed);
      g_assert_cmpuint (rx.seen.trips, ==, 1);
      g_assert_cmpint (rx.seen.why, ==, WS_GUARD_TRIP_BAD_FRAME);
      g_assert_cmpuint (rx.seen.size, ==, 20);
      g_assert_true (ws_guard_input_stream_is_tripped (rx.guard));
      g_assert_cmpuint (rx.seen.pings, ==, 1);
      rx_close (&rx);
    }
}

static gboolean
flag_source_cb (GObject *stream, gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Waits (bounded) for a new source of the guard's to dispatch. */
static void
wait_readable (WsGuardInputStream *guard)
{
  gboolean ready = FALSE;
  g_autoptr (GSource) source
      = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (guard), NULL);

  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) flag_source_cb, &ready, NULL);
  g_source_attach (source, NULL);
  WAIT_UNTIL (ready, "the guard's source to dispatch");
  g_source_destroy (source);
}

/* The peer ends the connection (shutdown, or close): a reader's source
 * made while there was nothing to read dispatches, and non-blocking reads
 * return first the control frame still waiting (in pieces if the reader
 * asks for little), then 0, and 0 again; the messages before the end were
 * all delivered. */
static void
test_guard_messages_eof (void)
{
  for (int how = 0; how < 2; how++)
    {
      g_autoptr (GByteArray) last = g_byte_array_new ();
      g_autoptr (GByteArray) expect_last = g_byte_array_new ();
      g_autoptr (GSource) source = NULL;
      g_autoptr (GError) error = NULL;
      GPollableInputStream *guard;
      gboolean ready = FALSE;
      guint8 buffer[256];
      gssize n;
      Rx rx;

      rx_open (&rx, 1024 * 1024, TRUE);
      rx_unwatch (&rx); /* this test reads by hand */
      guard = G_POLLABLE_INPUT_STREAM (rx.guard);
      add_message (rx.wire, rx.expected, 1000, TRUE);
      add_passed (rx.wire, rx.expect_passed, 0x89, "ping", 4, TRUE);
      peer_send (&rx.pair, rx.wire, 512);
      wait_readable (rx.guard);
      n = g_pollable_input_stream_read_nonblocking (guard, buffer, sizeof buffer, NULL, NULL);
      g_assert_cmpmem (buffer, n, rx.expect_passed->data, rx.expect_passed->len);
      g_assert_cmpint (g_pollable_input_stream_read_nonblocking (guard, buffer, sizeof buffer,
                                                                 NULL, &error),
                       ==, -1);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
      g_assert_false (g_pollable_input_stream_is_readable (guard));

      /* A source made now waits: nothing to read, no end yet. */
      source = g_pollable_input_stream_create_source (guard, NULL);
      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) flag_source_cb, &ready,
                             NULL);
      g_source_attach (source, NULL);
      spin_for (20);
      g_assert_false (ready);

      /* The last message and a ping, then the end, in one go. */
      add_message (last, rx.expected, 7, TRUE);
      add_passed (last, expect_last, 0x89, "bye?", 4, TRUE);
      peer_send_now (&rx.pair, last);
      if (how == 0)
        g_assert_cmpint (shutdown (rx.pair.peer, SHUT_WR), ==, 0);
      else
        {
          close (rx.pair.peer);
          rx.pair.peer = -1;
        }
      WAIT_UNTIL (ready, "the reader's source at the end");
      g_source_destroy (source);
      g_assert_true (g_pollable_input_stream_is_readable (guard));
      n = g_pollable_input_stream_read_nonblocking (guard, buffer, 3, NULL, NULL);
      g_assert_cmpint (n, ==, 3);
      n = g_pollable_input_stream_read_nonblocking (guard, buffer + 3, sizeof buffer - 3, NULL,
                                                    NULL);
      g_assert_cmpint (n, ==, (gssize) expect_last->len - 3);
      g_assert_cmpmem (buffer, expect_last->len, expect_last->data, expect_last->len);
      /* Then the end (once the guard has seen it, if it has not yet). */
      for (;;)
        {
          g_clear_error (&error);
          n = g_pollable_input_stream_read_nonblocking (guard, buffer, sizeof buffer, NULL, &error);
          if (n == 0)
            break;
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          wait_readable (rx.guard);
        }
      g_assert_cmpint (g_pollable_input_stream_read_nonblocking (guard, buffer, sizeof buffer,
                                                                 NULL, NULL),
                       ==, 0);
      /* At the end a source is ready at once. */
      g_assert_true (g_pollable_input_stream_is_readable (guard));
      wait_readable (rx.guard);
      assert_messages (rx.messages, rx.expected);
      g_assert_cmpuint (rx.seen.pings, ==, 2);
      rx_close (&rx);
    }
}

/* The bound still holds in message mode: a message above it, alone or
 * reached by its fragments, trips the guard (MESSAGE_TOO_BIG, once) and is
 * dropped as it arrives; nothing above the bound reaches the func, data
 * frames after it are dropped, control frames still reach the reader. */
static void
test_guard_messages_too_big (void)
{
  for (int fragmented = 0; fragmented < 2; fragmented++)
    {
      g_autoptr (GBytes) big = random_payload (1200);
      guint8 key[4];
      Rx rx;

      rx_open (&rx, 1000, TRUE);
      add_message (rx.wire, rx.expected, 1000, TRUE); /* exactly the bound: delivered */
      random_key (key);
      if (fragmented)
        {
          put_frame (rx.wire, 0x02, g_bytes_get_data (big, NULL), 600, key);
          put_frame (rx.wire, 0x80, g_bytes_get_data (big, NULL), 600, key);
        }
      else
        put_frame (rx.wire, 0x82, g_bytes_get_data (big, NULL), 1001, key);
      put_frame (rx.wire, 0x82, filler, 10, key); /* after the trip: dropped */
      add_passed (rx.wire, rx.expect_passed, 0x89, "still", 5, TRUE);

      peer_send (&rx.pair, rx.wire, 700);
      rx_expect (&rx, rx.expected, rx.expect_passed);
      g_assert_cmpuint (rx.seen.trips, ==, 1);
      g_assert_cmpint (rx.seen.why, ==, WS_GUARD_TRIP_MESSAGE_TOO_BIG);
      g_assert_cmpuint (rx.seen.size, ==, fragmented ? 1200 : 1001);
      g_assert_cmpuint (ws_guard_input_stream_get_discarded (rx.guard), ==,
                        fragmented ? 600 + 10 : 1001 + 10);
      for (guint i = 0; i < rx.messages->len; i++)
        g_assert_cmpuint (g_bytes_get_size (rx.messages->pdata[i]), <=, 1000);
      rx_close (&rx);
    }
}

/* The client side: a server's frames are not masked. Unmasked binary
 * messages, whole or fragmented around a ping, are delivered; a masked one
 * (a server must not mask) reaches the reader and ends the taking out. */
static void
test_guard_messages_client_side (void)
{
  static const gsize sizes[] = { 0, 1, 126, 65536, 70000 };
  g_autoptr (GBytes) message = random_payload (4000);
  const guint8 *p = g_bytes_get_data (message, NULL);
  Rx rx;

  rx_open (&rx, 1024 * 1024, FALSE);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    add_message (rx.wire, rx.expected, sizes[i], FALSE);
  put_frame (rx.wire, 0x02, p, 1000, NULL);
  add_passed (rx.wire, rx.expect_passed, 0x89, "ping", 4, FALSE);
  put_frame (rx.wire, 0x00, p + 1000, 2999, NULL);
  put_frame (rx.wire, 0x80, p + 3999, 1, NULL);
  g_ptr_array_add (rx.expected, g_bytes_ref (message));
  add_passed (rx.wire, rx.expect_passed, 0x82, filler, 10, TRUE);
  add_passed (rx.wire, rx.expect_passed, 0x82, filler, 10, FALSE);

  peer_send (&rx.pair, rx.wire, 8192);
  rx_expect (&rx, rx.expected, rx.expect_passed);
  g_assert_cmpuint (rx.seen.trips, ==, 0);
  g_assert_cmpuint (rx.seen.pings, ==, 1);
  rx_close (&rx);
}

/* The owner may close the guard from the func (the tunnel ends on a bad
 * message): no message is delivered after it, though more were read in
 * the same buffer and more keep coming, and nothing freed is touched
 * (ASan). @how: 0 close(), 1 close_async(), 2 unsetting the funcs, which
 * stops the delivery too while control frames still reach the reader. */
static void
close_from_func (int how)
{
  g_autoptr (GByteArray) more = g_byte_array_new ();
  Rx rx;

  rx_open (&rx, 1024 * 1024, TRUE);
  rx.close_after = 2;
  rx.close_async = how == 1;
  rx.unset_after = how == 2;
  for (int i = 0; i < 5; i++)
    add_message (rx.wire, i < 2 ? rx.expected : NULL, 100, TRUE);
  /* In one write: the messages after the second are in the buffer that the
   * guard is working on when the func closes it. */
  peer_send_now (&rx.pair, rx.wire);
  WAIT_UNTIL (rx.messages->len >= 2 && (how == 2 || rx.closed), "the close from the func");
  for (int i = 0; i < 3; i++)
    add_message (more, NULL, 100, TRUE);
  if (how == 2)
    add_passed (more, rx.expect_passed, 0x89, "after", 5, TRUE);
  peer_send (&rx.pair, more, 64);
  if (how == 2)
    WAIT_UNTIL (rx.passed->len >= rx.expect_passed->len, "the ping after the funcs went");
  spin_for (50);
  assert_messages (rx.messages, rx.expected);
  if (how == 2)
    {
      g_assert_cmpmem (rx.passed->data, rx.passed->len, rx.expect_passed->data, rx.expect_passed->len);
      g_assert_cmpuint (rx.seen.pings, ==, 0); /* the ping func went too */
    }
  rx_close (&rx);
}

static void
test_guard_messages_close_from_func (void)
{
  close_from_func (0);
}

static void
test_guard_messages_close_async_from_func (void)
{
  close_from_func (1);
}

static void
test_guard_messages_unset_funcs_from_func (void)
{
  close_from_func (2);
}

static gboolean
kept_reader_cb (GObject *stream, gpointer user_data)
{
  Rx *rx = user_data;

  rx->reader_dispatches++;
  rx_read (rx);
  return G_SOURCE_CONTINUE;
}

/* A reader's source is ready while there is something to read, not after:
 * one kept attached (as any GPollableInputStream user may keep it) must
 * not dispatch on every iteration once the reader has drained the guard,
 * or the main loop spins. */
static void
test_guard_messages_reader_source_quiet (void)
{
  g_autoptr (GSource) source = NULL;
  guint dispatches;
  Rx rx;

  rx_open (&rx, 1024 * 1024, TRUE);
  rx_unwatch (&rx);
  source = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (rx.guard), NULL);
  g_source_set_callback (source, (GSourceFunc) (void (*) (void)) kept_reader_cb, &rx, NULL);
  g_source_attach (source, NULL);
  add_passed (rx.wire, rx.expect_passed, 0x89, "once", 4, TRUE);
  peer_send (&rx.pair, rx.wire, 64);
  WAIT_UNTIL (rx.passed->len >= rx.expect_passed->len, "the ping at the reader");
  dispatches = rx.reader_dispatches;
  spin_for (100);
  g_test_message ("%u dispatches with nothing to read", rx.reader_dispatches - dispatches);
  g_assert_cmpuint (rx.reader_dispatches - dispatches, <=, 2);
  g_assert_cmpmem (rx.passed->data, rx.passed->len, rx.expect_passed->data, rx.expect_passed->len);
  g_source_destroy (source);
  rx_close (&rx);
}

/* The guard is freed once its owner lets go of it: a reader's source, once
 * destroyed, must not keep it (and the connection's input stream) alive.
 * Without any reader source it is freed (the control case). */
static void
test_guard_messages_freed (void)
{
  for (int with_source = 0; with_source < 2; with_source++)
    {
      Pair pair;
      Rx rx = { 0 };
      WsGuardInputStream *guard;
      gpointer weak;
      gboolean closed = FALSE;

      pair_open (&pair, 0);
      guard = ws_guard_input_stream_new (g_io_stream_get_input_stream (pair.conn), 1000, NULL);
      weak = guard;
      g_object_add_weak_pointer (G_OBJECT (guard), &weak);
      ws_guard_input_stream_set_funcs (guard, on_trip, on_ping, &rx);
      ws_guard_input_stream_start_messages (guard, on_message, TRUE, NULL);
      if (with_source)
        {
          GSource *source
              = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (guard), NULL);

          g_source_attach (source, NULL);
          g_main_context_iteration (NULL, FALSE);
          g_source_destroy (source);
          g_source_unref (source);
        }
      g_input_stream_close_async (G_INPUT_STREAM (guard), G_PRIORITY_DEFAULT, NULL,
                                  input_closed_cb, &closed);
      WAIT_UNTIL (closed, "the guard to close");
      g_object_unref (guard);
      g_assert_null (weak);
      pair_close (&pair);
    }
}

/* The guard's source gives way after about 16 KiB: with 128 KiB of small
 * messages waiting on the socket, one main-loop iteration takes 16 KiB of
 * them (a little more: up to a frame past it), not everything it can
 * read, so that one busy connection cannot stall the others; the rest
 * follows in later iterations, in order. */
static void
test_guard_messages_gives_way (void)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  int sndbuf = 1024 * 1024;
  guint before;
  gsize taken;
  Rx rx;

  rx_open (&rx, 1024 * 1024, TRUE);
  g_assert_cmpint (setsockopt (rx.pair.peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), ==,
                   0);
  while (rx.wire->len < 128 * 1024)
    add_message (rx.wire, rx.expected, 100, TRUE);
  peer_send_now (&rx.pair, rx.wire);
  do
    {
      before = rx.messages->len;
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  while (rx.messages->len == before);
  taken = (rx.messages->len - before) * frame_size (100, TRUE);
  g_test_message ("one iteration took %" G_GSIZE_FORMAT " bytes of %u", taken, rx.wire->len);
  g_assert_cmpuint (taken, <=, 16 * 1024 + frame_size (100, TRUE));
  WAIT_UNTIL (rx.messages->len >= rx.expected->len, "every message");
  assert_messages (rx.messages, rx.expected);
  rx_close (&rx);
}

/* A message larger than the share is taken whole in one dispatch (not in a
 * slice per main-loop iteration), and the share holds after it: the next
 * one waits for the next dispatch. */
static void
test_guard_messages_large_in_one_dispatch (void)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  int sndbuf = 1024 * 1024;
  guint dispatches = 0;
  Rx rx;

  rx_open (&rx, 65535, TRUE);
  g_assert_cmpint (setsockopt (rx.pair.peer, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), ==,
                   0);
  for (int i = 0; i < 3; i++)
    add_message (rx.wire, rx.expected, 40 * 1024, TRUE);
  peer_send_now (&rx.pair, rx.wire);
  while (rx.messages->len < rx.expected->len)
    {
      guint before = rx.messages->len;

      if (g_main_context_iteration (NULL, FALSE))
        {
          dispatches++;
          g_assert_cmpuint (rx.messages->len, ==, before + 1);
        }
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  g_assert_cmpuint (dispatches, ==, 3);
  assert_messages (rx.messages, rx.expected);
  rx_close (&rx);
}

/* ---- write_message --------------------------------------------------------------- */

/* One frame as the peer sees it; also what a test expects. */
typedef struct
{
  guint8 b0;
  gboolean masked;
  guint8 key[4];
  GBytes *payload; /* unmasked */
} Frame;

static void
frame_free (Frame *frame)
{
  g_bytes_unref (frame->payload);
  g_free (frame);
}

static Frame *
frame_new (guint8 b0, const guint8 *key, GBytes *payload)
{
  Frame *frame = g_new0 (Frame, 1);

  frame->b0 = b0;
  frame->masked = key != NULL;
  if (key)
    memcpy (frame->key, key, 4);
  frame->payload = g_bytes_ref (payload);
  return frame;
}

/* Splits what the peer received into frames, checking each header against
 * RFC 6455 §5.2: the length in its shortest form, the 64-bit form with its
 * top bit clear; no partial frame at the end. */
static GPtrArray *
parse_frames (const GByteArray *wire)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) frame_free);
  gsize pos = 0;

  while (pos < wire->len)
    {
      const guint8 *h = wire->data + pos;
      gsize avail = wire->len - pos;
      gsize head = 2;
      guint64 len;
      guint8 key[4] = { 0 };
      guint8 *payload;
      g_autoptr (GBytes) bytes = NULL;

      g_assert_cmpuint (avail, >=, 2);
      len = h[1] & 0x7f;
      if (len == 126)
        {
          g_assert_cmpuint (avail, >=, 4);
          len = (guint64) h[2] << 8 | h[3];
          g_assert_cmpuint (len, >=, 126);
          head = 4;
        }
      else if (len == 127)
        {
          g_assert_cmpuint (avail, >=, 10);
          len = 0;
          for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
          g_assert_cmpuint (len, >=, 65536);
          g_assert_cmpuint (len >> 63, ==, 0);
          head = 10;
        }
      if (h[1] & 0x80)
        {
          g_assert_cmpuint (avail, >=, head + 4);
          memcpy (key, h + head, 4);
          head += 4;
        }
      g_assert_cmpuint (avail - head, >=, len);
      payload = g_malloc (MAX (len, 1));
      for (gsize i = 0; i < len; i++)
        payload[i] = h[head + i] ^ key[i % 4];
      bytes = g_bytes_new_take (payload, len);
      g_ptr_array_add (frames, frame_new (h[0], (h[1] & 0x80) ? key : NULL, bytes));
      pos += head + len;
    }
  return frames;
}

static void
assert_frames (GPtrArray *got, GPtrArray *expected)
{
  g_assert_cmpuint (got->len, ==, expected->len);
  for (guint i = 0; i < got->len; i++)
    {
      const Frame *g = got->pdata[i];
      const Frame *e = expected->pdata[i];

      if (g->b0 != e->b0 || g->masked != e->masked
          || (e->masked && memcmp (g->key, e->key, 4) != 0)
          || !g_bytes_equal (g->payload, e->payload))
        g_error ("frame %u: 0x%02x%s, %" G_GSIZE_FORMAT " bytes; expected 0x%02x%s, %"
                 G_GSIZE_FORMAT " bytes (or other bytes, or another key)", i, g->b0,
                 g->masked ? " masked" : "", g_bytes_get_size (g->payload), e->b0,
                 e->masked ? " masked" : "", g_bytes_get_size (e->payload));
    }
}

/* Reads at most @max bytes of what the peer has now. */
static gsize
peer_read_some (Pair *pair, GByteArray *into, gsize max)
{
  guint8 buf[8192];
  ssize_t n = recv (pair->peer, buf, MIN (max, sizeof buf), MSG_DONTWAIT);

  if (n <= 0)
    return 0;
  g_byte_array_append (into, buf, (guint) n);
  return (gsize) n;
}

/* write_message() frames one binary message as RFC 6455 says, for every
 * length encoding, masked (a client's) or not (a server's): the peer
 * parses exactly one frame per message, in order, FIN and binary, mask
 * bit and key as given, the payload unmasked back to the input. A message
 * that leaves the batch under its limit waits for the main loop; one that
 * takes it past the limit goes out at once. write_frame_parts() does the
 * same for a message given as head and body, split anywhere (the body's
 * key bytes continue where the head's stopped). */
static void
test_counting_write_message_frames (void)
{
  static const gsize sizes[] = { 0, 1, 4, 7, 125, 126, 1518, 65535, 65536, 70000 };
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) frame_free);
  gsize total = 0;

  pair_open (&pair, 0);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  for (int masked = 0; masked < 2; masked++)
    for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
      {
        g_autoptr (GBytes) payload = random_payload (sizes[i]);
        const guint8 *data = g_bytes_get_data (payload, NULL);
        gsize wire = frame_size (sizes[i], masked);
        /* G_MAXSIZE: write_message(); else the head's length. */
        const gsize splits[] = { G_MAXSIZE, 0, 1, 2, 3, 5, sizes[i] / 2, sizes[i] };

        for (guint k = 0; k < G_N_ELEMENTS (splits); k++)
          {
            guint64 written = ws_counting_output_stream_get_written (counter);
            gsize batched = ws_counting_output_stream_get_batched (counter);
            gsize head = MIN (splits[k], sizes[i]);
            guint8 key[4];

            random_key (key);
            if (splits[k] == G_MAXSIZE)
              ws_counting_output_stream_write_message (counter, data, sizes[i],
                                                       masked ? key : NULL);
            else
              ws_counting_output_stream_write_frame_parts (counter, 0x2, data, head, data + head,
                                                           sizes[i] - head, masked ? key : NULL);
            g_ptr_array_add (expected, frame_new (0x82, masked ? key : NULL, payload));
            total += wire;
            if (batched + wire < WS_COUNTING_BATCH_MAX)
              {
                g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, written);
                g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==,
                                  batched + wire);
                g_assert_cmpuint (peer_read (&pair, got), ==, 0);
              }
            else
              {
                g_assert_cmpuint (ws_counting_output_stream_get_written (counter), >, written);
                WAIT_UNTIL ((peer_read (&pair, got),
                             ws_counting_output_stream_get_batched (counter) == 0),
                            "the batch to go out");
              }
          }
      }
  WAIT_UNTIL ((peer_read (&pair, got), got->len >= total), "every frame at the peer");
  g_assert_cmpuint (got->len, ==, total);
  {
    g_autoptr (GPtrArray) frames = parse_frames (got);

    assert_frames (frames, expected);
  }
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, total);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 0);
  g_clear_object (&counter);
  pair_close (&pair);
}

/* libsoup's own frames (pongs, the close frame, a long text message now
 * and then) go through write_nonblocking() between write_message() calls:
 * each is taken whole or refused with WOULD_BLOCK, never cut, and the peer
 * gets every frame in the order written. A small socket buffer, a slow
 * peer and a batch limit under the control frames' size (so that they also
 * take the path that bypasses an empty batch, where the socket may take a
 * long frame only in part) make the stream refuse often. */
static void
test_counting_write_message_keeps_order (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) frame_free);
  g_autoptr (GPtrArray) frames = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  guint would_block = 0;
  gsize total = 0;

  pair_open (&pair, 4096);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  ws_counting_output_stream_set_batch_limit (counter, 64);
  for (guint turn = 0; turn <= 300; turn++)
    {
      gsize len = (gsize) g_test_rand_int_range (0, 3000);
      gboolean masked = turn % 2;
      g_autoptr (GBytes) payload = random_payload (len);
      g_autoptr (GBytes) control_payload = NULL;
      g_autoptr (GByteArray) control = g_byte_array_new ();
      guint8 opcode = turn == 300 ? 0x88 : turn % 3 ? 0x8a : 0x89;
      guint8 key[4];
      gssize n;

      random_key (key);
      ws_counting_output_stream_write_message (counter, g_bytes_get_data (payload, NULL), len,
                                               masked ? key : NULL);
      g_ptr_array_add (expected, frame_new (0x82, masked ? key : NULL, payload));
      total += frame_size (len, masked);

      /* Mostly control frames; every tenth a long text message (libsoup
       * may send those), which the socket can take only in part. */
      if (turn % 10 == 5)
        {
          opcode = 0x81;
          control_payload = random_payload ((gsize) g_test_rand_int_range (4000, 20000));
        }
      else
        control_payload = random_payload ((gsize) g_test_rand_int_range (0, 126));
      random_key (key);
      put_frame (control, opcode, g_bytes_get_data (control_payload, NULL),
                 g_bytes_get_size (control_payload), masked ? key : NULL);
      for (;;)
        {
          g_autoptr (GError) error = NULL;

          n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                          control->data, control->len, NULL,
                                                          &error);
          if (n >= 0)
            break;
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          would_block++;
          /* As libsoup would, wait for the stream: the peer reads a little. */
          peer_read_some (&pair, got, (gsize) g_test_rand_int_range (1, 8192));
          g_main_context_iteration (NULL, FALSE);
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        }
      g_assert_cmpint (n, ==, control->len);
      g_ptr_array_add (expected, frame_new (opcode, masked ? key : NULL, control_payload));
      total += control->len;
      /* A slow peer: it reads a little now and then. */
      if (g_test_rand_int_range (0, 4) == 0)
        peer_read_some (&pair, got, (gsize) g_test_rand_int_range (1, 4096));
      g_main_context_iteration (NULL, FALSE);
    }
  WAIT_UNTIL ((peer_read (&pair, got), got->len >= total), "every frame at the peer");
  g_assert_cmpuint (got->len, ==, total);
  frames = parse_frames (got);
  assert_frames (frames, expected);
  g_test_message ("%u writes refused with WOULD_BLOCK", would_block);
  g_assert_cmpuint (would_block, >, 0);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, total);
  g_clear_object (&counter);
  pair_close (&pair);
}

/* A peer that reads nothing: write_message() keeps taking messages far
 * past the batch limit (the caller bounds its own queue), the stream says
 * it is not writable so that libsoup's frames wait their turn (a pong is
 * refused, not cut or put ahead), and everything arrives, in order, once
 * the peer reads. */
static void
test_counting_write_message_peer_not_reading (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  g_autoptr (GByteArray) pong = g_byte_array_new ();
  g_autoptr (GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) frame_free);
  g_autoptr (GPtrArray) frames = NULL;
  g_autoptr (GBytes) pong_payload = g_bytes_new_static ("pong", 4);
  g_autoptr (GError) error = NULL;
  gsize total = 0;

  pair_open (&pair, 4096);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  ws_counting_output_stream_set_batch_limit (counter, 8192);
  for (guint i = 0; i < 200; i++)
    {
      g_autoptr (GBytes) payload = random_payload (5000);
      guint8 key[4];

      random_key (key);
      ws_counting_output_stream_write_message (counter, g_bytes_get_data (payload, NULL), 5000,
                                               i % 2 ? key : NULL);
      g_ptr_array_add (expected, frame_new (0x82, i % 2 ? key : NULL, payload));
      total += frame_size (5000, i % 2);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter)
                        + ws_counting_output_stream_get_batched (counter),
                    ==, total);
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), >, 8192);
  g_assert_false (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter)));

  put_frame (pong, 0x8a, "pong", 4, NULL);
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               pong->data, pong->len, NULL,
                                                               &error),
                   ==, -1);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);

  WAIT_UNTIL ((peer_read (&pair, got), got->len >= total), "the messages at the peer");
  g_assert_true (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter)));
  g_assert_cmpint (g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                               pong->data, pong->len, NULL,
                                                               NULL),
                   ==, pong->len);
  g_ptr_array_add (expected, frame_new (0x8a, NULL, pong_payload));
  total += pong->len;
  WAIT_UNTIL ((peer_read (&pair, got), got->len >= total), "the pong at the peer");
  g_assert_cmpuint (got->len, ==, total);
  frames = parse_frames (got);
  assert_frames (frames, expected);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter), ==, total);
  g_clear_object (&counter);
  pair_close (&pair);
}

/* A write refused for want of room in the batch must not leave the
 * stream writable: libsoup then waits on the stream's source before it
 * tries again, and a source that fires at once while the peer reads
 * nothing makes the main loop spin (try, refuse, wait, fire, try...). */
static void
test_counting_refused_write_waits (void)
{
  Pair pair;
  g_autoptr (WsCountingOutputStream) counter = NULL;
  g_autoptr (GByteArray) got = g_byte_array_new ();
  guint8 chunk[1500] = { 0 };
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  gint64 end;
  guint attempts = 0;
  guint tick;

  pair_open (&pair, 4096);
  counter = ws_counting_output_stream_new (g_io_stream_get_output_stream (pair.conn));
  ws_counting_output_stream_set_batch_limit (counter, 8192);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      gssize n = g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (counter),
                                                             chunk, sizeof chunk, NULL, &error);

      if (n < 0)
        {
          g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
          break;
        }
      g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }

  /* What libsoup does next, for 100 ms of a peer that reads nothing. */
  tick = g_timeout_add (10, tick_cb, NULL);
  end = g_get_monotonic_time () + 100 * 1000;
  while (g_get_monotonic_time () < end)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GSource) source
          = g_pollable_output_stream_create_source (G_POLLABLE_OUTPUT_STREAM (counter), NULL);
      gboolean ready = FALSE;

      g_source_set_callback (source, (GSourceFunc) (void (*) (void)) flag_source_cb, &ready,
                             NULL);
      g_source_attach (source, NULL);
      while (!ready && g_get_monotonic_time () < end)
        g_main_context_iteration (NULL, TRUE);
      g_source_destroy (source);
      if (!ready)
        break;
      attempts++;
      g_assert_cmpint (g_pollable_output_stream_write_nonblocking (
                           G_POLLABLE_OUTPUT_STREAM (counter), chunk, sizeof chunk, NULL, &error),
                       ==, -1);
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
    }
  g_source_remove (tick);
  g_test_message ("%u refused attempts in 100 ms", attempts);
  g_assert_cmpuint (attempts, <=, 2);
  g_assert_false (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter)));

  /* Once the peer reads, the writer's source fires and the chunk goes. */
  WAIT_UNTIL ((peer_read (&pair, got),
               g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter))),
              "room in the batch");
  g_clear_object (&counter);
  pair_close (&pair);
}

typedef struct
{
  const char *path;
  void (*func) (void);
} SocketDriverTest;

static const SocketDriverTest socket_driver_tests[] = {
  { "/guard/messages-socket/masked-client-frames", test_guard_messages_masked },
  { "/guard/messages-socket/text-passes-through", test_guard_messages_text_passes },
  { "/guard/messages-socket/eof", test_guard_messages_eof },
  { "/guard/messages-socket/close-from-func", test_guard_messages_close_from_func },
  { "/guard/messages-socket/gives-way-per-dispatch", test_guard_messages_gives_way },
  { "/guard/messages-socket/large-message-in-one-dispatch",
    test_guard_messages_large_in_one_dispatch },
};

static void
with_socket_driver (gconstpointer data)
{
  const SocketDriverTest *test = data;

  rx_socket_driver = TRUE;
  test->func ();
  rx_socket_driver = FALSE;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/guard/passes-everything-under-the-bound",
                   test_guard_passes_everything_under_the_bound);
  g_test_add_func ("/guard/bounds-fragmented-messages", test_guard_bounds_fragmented_messages);
  g_test_add_func ("/guard/refuses-one-big-frame", test_guard_refuses_one_big_frame);
  g_test_add_func ("/guard/refuses-bad-control-frames", test_guard_refuses_bad_control_frames);
  g_test_add_func ("/guard/delivers-prefix-first", test_guard_delivers_prefix_first);
  g_test_add_func ("/guard/gives-way-while-discarding", test_guard_gives_way_while_discarding);
  g_test_add_func ("/guard/gives-way-under-a-flood", test_guard_gives_way_under_a_flood);
  g_test_add_func ("/counting/counts-and-leaves-base-open", test_counting_stream);
  g_test_add_func ("/counting/batches-per-iteration", test_counting_batches_per_iteration);
  g_test_add_func ("/counting/would-block", test_counting_would_block);
  g_test_add_func ("/counting/close-writes-batch", test_counting_close_writes_batch);
  g_test_add_func ("/counting/peer-gone", test_counting_peer_gone);
  g_test_add_func ("/guard/messages/masked-client-frames", test_guard_messages_masked);
  g_test_add_func ("/guard/messages/text-passes-through", test_guard_messages_text_passes);
  g_test_add_func ("/guard/messages/pass-func", test_guard_messages_pass_func);
  g_test_add_func ("/guard/messages/rule-breakers-pass-through",
                   test_guard_messages_rule_breakers_pass);
  g_test_add_func ("/guard/messages/nothing-taken-after-close", test_guard_messages_close_frame);
  g_test_add_func ("/guard/messages/new-message-in-fragments-trips",
                   test_guard_messages_bad_frame_trips);
  g_test_add_func ("/guard/messages/eof", test_guard_messages_eof);
  g_test_add_func ("/guard/messages/too-big-trips", test_guard_messages_too_big);
  g_test_add_func ("/guard/messages/client-side-unmasked", test_guard_messages_client_side);
  g_test_add_func ("/guard/messages/close-async-from-func",
                   test_guard_messages_close_async_from_func);
  g_test_add_func ("/guard/messages/unset-funcs-from-func",
                   test_guard_messages_unset_funcs_from_func);
  g_test_add_func ("/guard/messages/close-from-func", test_guard_messages_close_from_func);
  g_test_add_func ("/guard/messages/reader-source-quiet-when-drained",
                   test_guard_messages_reader_source_quiet);
  g_test_add_func ("/guard/messages/freed-after-reader-source", test_guard_messages_freed);
  g_test_add_func ("/guard/messages/gives-way-per-dispatch", test_guard_messages_gives_way);
  /* The same with the socket's own source as the driver. */
  for (gsize i = 0; i < G_N_ELEMENTS (socket_driver_tests); i++)
    g_test_add_data_func (socket_driver_tests[i].path, &socket_driver_tests[i], with_socket_driver);
  g_test_add_func ("/counting/write-message-frames", test_counting_write_message_frames);
  g_test_add_func ("/counting/write-message-keeps-order", test_counting_write_message_keeps_order);
  g_test_add_func ("/counting/write-message-peer-not-reading",
                   test_counting_write_message_peer_not_reading);
  g_test_add_func ("/counting/refused-write-waits-for-room", test_counting_refused_write_waits);
  return g_test_run ();
}
