/* test-ws-streams.c — unit tests of the two stream filters under the
 * WebSocket connection: the guard (frame headers followed across any read
 * boundaries, messages bounded across fragments, control frames let
 * through after a trip, pings reported, prefix delivered first) and the
 * counting output stream. */
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
   * the batch too. */
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
      /* A partial write is as good as a full one: go on from there. */
      if ((gsize) n < sizeof chunk)
        {
          accepted += (gsize) n;
          continue;
        }
      accepted += (gsize) n;
      if (accepted % (10 * sizeof chunk) == 0)
        g_main_context_iteration (NULL, FALSE);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  g_assert_false (g_pollable_output_stream_is_writable (G_POLLABLE_OUTPUT_STREAM (counter)));
  g_assert_cmpuint (ws_counting_output_stream_get_batched (counter), ==, 8192);
  g_assert_cmpuint (ws_counting_output_stream_get_written (counter) + 8192, ==, accepted);

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
  return g_test_run ();
}
