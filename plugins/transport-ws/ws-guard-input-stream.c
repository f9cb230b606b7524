/* ws-guard-input-stream.c — follows WebSocket frame headers on the way in
 * and drops data frames that would make a message too big. See the header. */
#include <string.h>

#include "ws-guard-input-stream.h"

#include <aero-net/aero-watch.h>

#include "ws-frame.h"
#include "ws-source.h"

/* Longest frame header: 2 bytes, 8 bytes of extended length, 4 of mask. */
#define MAX_HEADER_LEN 14
#define MAX_CONTROL_PAYLOAD 125
#define OPCODE_CONTINUATION 0x0
#define OPCODE_TEXT 0x1
#define OPCODE_BINARY 0x2
#define OPCODE_CLOSE 0x8
#define OPCODE_PING 0x9
/* Reads from the base stream in one non-blocking call that yield nothing to
 * hand on (all dropped) before the guard gives way to the main loop. */
#define MAX_READS_PER_CALL 16
/* Bytes handed on in a row before a non-blocking read answers WOULD_BLOCK.
 * A GIO reader reads until the stream would block, so without this a peer that
 * sends faster than the daemon processes would keep the main loop inside
 * one connection; with it, every other source runs between two slices.
 * The slice also sets how much the tunnel processes before the frames it
 * answered with (libslirp's acks, mostly) are written out: the batch goes
 * when the main loop iterates. 16 KiB (about 11 full-size frames) lets the
 * peer's TCP see acks while the rest of its window is still being
 * processed; 64 KiB measured ~20 % less upload throughput (bench/). */
#define YIELD_AFTER_BYTES (16 * 1024)

struct _WsGuardInputStream
{
  GFilterInputStream parent_instance;

  guint64 max_message;          /* bound on a data message, in payload bytes */

  guint8 *buffer;               /* WS_GUARD_BUFFER_LEN bytes while it holds any, else NULL */
  gsize start;                  /* first byte not yet looked at */
  gsize end;                    /* end of the bytes read */

  guint8 header[MAX_HEADER_LEN];
  gsize header_len;             /* header bytes gathered so far */
  gsize emit_pos;               /* header bytes already handed on, when passing */
  gsize emit_len;               /* header bytes to hand on (0: none) */

  guint64 payload_left;         /* payload bytes of the current frame still to come */
  gboolean passing;             /* whether the current frame is handed on */

  gsize since_yield;            /* bytes handed on since the last WOULD_BLOCK */

  guint64 message_len;          /* payload of the data message being fragmented */
  gboolean tripped;
  guint64 discarded;            /* payload bytes dropped */

  WsGuardTripFunc trip_func;
  WsGuardPingFunc ping_func;
  gpointer func_data;

  /* Taking binary messages out (ws_guard_input_stream_start_messages). */
  WsGuardMessageFunc message_func;
  WsGuardPassFunc pass_func;    /* takes what is left instead of a reader's source */
  gpointer pass_data;
  gboolean extract;             /* still taking binary messages out */
  gboolean expect_masked;       /* the peer is a client */
  gboolean extracting;          /* the current frame's payload is taken out */
  gboolean fin;                 /* the current frame ends its message */
  guint8 mask[4];               /* the current frame's masking key */
  gboolean masked;
  gsize mask_pos;               /* payload bytes of the current frame unmasked so far */
  enum { MSG_NONE, MSG_BINARY, MSG_TEXT } msg_kind; /* fragmented message in progress */
  GByteArray *message;          /* binary message being gathered */
  guint64 messages;             /* binary messages delivered */
  AeroWatch *watch;             /* the socket's fd (no TLS), and the kick */
  GSource *driver;              /* reads a base stream with no plain socket (TLS) */
  GByteArray *pass;             /* bytes for the reader (control and text frames) */
  GPtrArray *readers;           /* ReaderSource: readers' sources, unowned */
  gboolean eof;
  GError *read_error;
  gboolean started;             /* the driver reads; the reader reads from @pass */
  gboolean pumping;
  gboolean stopped;             /* closed: no more reading or delivering */
};

static void ws_guard_input_stream_pollable_init (GPollableInputStreamInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (WsGuardInputStream, ws_guard_input_stream, G_TYPE_FILTER_INPUT_STREAM,
                               G_IMPLEMENT_INTERFACE (G_TYPE_POLLABLE_INPUT_STREAM,
                                                      ws_guard_input_stream_pollable_init))

static GInputStream *
base_of (gpointer self)
{
  return g_filter_input_stream_get_base_stream (G_FILTER_INPUT_STREAM (self));
}

/* How long the header is, once its first two bytes are known. */
static gsize
header_length (const guint8 *h)
{
  gsize len = 2;

  if ((h[1] & 0x7f) == 126)
    len += 2;
  else if ((h[1] & 0x7f) == 127)
    len += 8;
  if (h[1] & 0x80)
    len += 4;
  return len;
}

static guint64
payload_length (const guint8 *h)
{
  guint64 len = h[1] & 0x7f;

  if (len == 126)
    return (guint64) h[2] << 8 | h[3];
  if (len == 127)
    {
      len = 0;
      for (int i = 2; i < 10; i++)
        len = len << 8 | h[i];
    }
  return len;
}

static void
trip (WsGuardInputStream *self, WsGuardTrip why, guint64 size)
{
  if (self->tripped)
    return;
  self->tripped = TRUE;
  if (self->trip_func)
    self->trip_func (self, why, size, self->func_data);
}

/* Whether the header of a data frame breaks RFC 6455 in a way the reader
 * sees from the header alone (it refuses such a frame with 1002): reserved
 * bits, masking, a reserved opcode, a length not in its shortest form (or
 * with the top bit set), a continuation with no message begun, a new
 * message inside a fragmented text one. */
static gboolean
data_frame_broken (WsGuardInputStream *self, const guint8 *h, guint8 opcode, guint64 len)
{
  guint8 field = h[1] & 0x7f;
  gboolean masked = (h[1] & 0x80) != 0;

  return (h[0] & 0x70) != 0 || masked != self->expect_masked || opcode > OPCODE_BINARY
         || (field == 126 && len < 126)
         || (field == 127 && (len <= G_MAXUINT16 || (len >> 63) != 0))
         || (opcode == OPCODE_CONTINUATION && self->msg_kind == MSG_NONE)
         || (opcode != OPCODE_CONTINUATION && self->msg_kind == MSG_TEXT);
}

/* A well-formed data frame: a binary message (or a part of one) to take
 * out, or a text one for the reader. */
static void
decide_extract (WsGuardInputStream *self, const guint8 *h, guint8 opcode, gboolean fin,
                guint64 len)
{
  gboolean masked = (h[1] & 0x80) != 0;

  self->extracting = FALSE;
  if (opcode == OPCODE_TEXT || (opcode == OPCODE_CONTINUATION && self->msg_kind == MSG_TEXT))
    {
      self->msg_kind = fin ? MSG_NONE : MSG_TEXT;
      return;
    }
  /* A binary message starts or goes on. */
  self->extracting = TRUE;
  self->fin = fin;
  self->masked = masked;
  if (masked)
    memcpy (self->mask, h + header_length (h) - 4, 4);
  self->mask_pos = 0;
  self->msg_kind = fin ? MSG_NONE : MSG_BINARY;
  /* Grown as bytes arrive: a header alone reserves little. */
  if (self->message == NULL)
    self->message = g_byte_array_sized_new ((guint) MIN (len, 2048));
}

/* Unmasks @n payload bytes of the current frame onto the message. */
static void
extract_bytes (WsGuardInputStream *self, const guint8 *src, gsize n)
{
  guint old = self->message->len;
  guint8 *dst;

  g_byte_array_set_size (self->message, old + (guint) n);
  dst = self->message->data + old;
  if (!self->masked)
    {
      memcpy (dst, src, n);
      return;
    }
  ws_mask_copy (dst, src, n, self->mask, self->mask_pos);
  self->mask_pos += n;
}

/* The current frame's payload is complete. */
static void
frame_done (WsGuardInputStream *self)
{
  g_autoptr (GBytes) message = NULL;

  if (!self->extracting)
    return;
  self->extracting = FALSE;
  if (!self->fin)
    return;
  message = g_byte_array_free_to_bytes (g_steal_pointer (&self->message));
  self->messages++;
  /* In stream order: what the reader has yet to see came first, and may
   * end the connection (a broken frame: nothing after it counts). */
  if (self->pass_func && self->pass && self->pass->len > 0 && !self->stopped)
    self->pass_func (self, self->pass_data);
  if (self->message_func && !self->stopped)
    self->message_func (self, message, self->func_data);
}

/* A whole header has been gathered: decide whether its frame goes on. */
static void
header_complete (WsGuardInputStream *self)
{
  const guint8 *h = self->header;
  gboolean fin = (h[0] & 0x80) != 0;
  guint8 opcode = h[0] & 0x0f;
  guint64 len = payload_length (h);

  self->extracting = FALSE;
  self->payload_left = len;
  if (opcode & 0x8)
    {
      /* Control frame: close, ping, pong (and reserved ones, which the
       * reader refuses itself). */
      if (!fin || len > MAX_CONTROL_PAYLOAD)
        {
          trip (self, WS_GUARD_TRIP_BAD_CONTROL, len);
          self->passing = FALSE;
        }
      else
        {
          self->passing = TRUE;
          if (opcode == OPCODE_PING && self->ping_func)
            self->ping_func (self, (gsize) len, self->func_data);
        }
    }
  else if (self->tripped)
    self->passing = FALSE;
  else if (self->extract && self->msg_kind == MSG_BINARY && opcode != OPCODE_CONTINUATION)
    {
      /* A new message while a binary one is half gathered, which the
       * reader never saw: it could not tell. */
      self->passing = FALSE;
      trip (self, WS_GUARD_TRIP_BAD_FRAME, len);
    }
  else if (self->extract && data_frame_broken (self, h, opcode, len))
    {
      /* Before its size counts: the reader refuses it on its header, and
       * nothing more is taken out (the connection is closing). */
      self->extract = FALSE;
      self->passing = TRUE;
    }
  else
    {
      /* Data frame: opcode 0 continues the message, others start one. */
      guint64 before = opcode == 0 ? self->message_len : 0;

      if (self->max_message > 0 && len > self->max_message - MIN (before, self->max_message))
        {
          trip (self, WS_GUARD_TRIP_MESSAGE_TOO_BIG, before + MIN (len, G_MAXUINT64 - before));
          self->passing = FALSE;
        }
      else
        {
          self->passing = TRUE;
          self->message_len = fin ? 0 : before + len;
          if (self->extract)
            decide_extract (self, h, opcode, fin, len);
        }
    }
  if (self->extract && opcode == OPCODE_CLOSE && self->passing)
    /* Nothing counts after a close: the owner takes nothing more. */
    self->extract = FALSE;

  if (self->passing && !self->extracting)
    {
      self->emit_len = self->header_len;
      self->emit_pos = 0;
    }
  self->header_len = 0;
}

/* Hands @n bytes on: into @out, or with no @out onto self->pass. */
static void
hand_on (WsGuardInputStream *self, guint8 *out, gsize produced, const guint8 *src, gsize n)
{
  if (out != NULL)
    memcpy (out + produced, src, n);
  else
    {
      if (self->pass == NULL)
        self->pass = g_byte_array_new ();
      g_byte_array_append (self->pass, src, (guint) n);
    }
}

/* Moves what can be handed on from the read buffer into @out, or (@out
 * NULL) onto self->pass, where a binary message taken out meanwhile finds
 * it (frame_done()). */
static gsize
produce (WsGuardInputStream *self, guint8 *out, gsize count)
{
  gsize produced = 0;

  while (produced < count)
    {
      if (self->emit_pos < self->emit_len)
        {
          gsize n = MIN (self->emit_len - self->emit_pos, count - produced);

          hand_on (self, out, produced, self->header + self->emit_pos, n);
          self->emit_pos += n;
          produced += n;
          if (self->emit_pos == self->emit_len)
            self->emit_pos = self->emit_len = 0;
          continue;
        }
      if (self->start == self->end)
        break;

      if (self->payload_left > 0)
        {
          gsize avail = self->end - self->start;
          gsize n = (gsize) MIN (self->payload_left, (guint64) avail);

          if (self->extracting)
            extract_bytes (self, self->buffer + self->start, n);
          else if (self->passing)
            {
              n = MIN (n, count - produced);
              hand_on (self, out, produced, self->buffer + self->start, n);
              produced += n;
            }
          else
            self->discarded += n;
          self->start += n;
          self->payload_left -= n;
          if (self->payload_left == 0)
            {
              frame_done (self);
              if (self->stopped)
                break;
            }
          continue;
        }

      self->header[self->header_len++] = self->buffer[self->start++];
      if (self->header_len >= 2 && self->header_len == header_length (self->header))
        {
          header_complete (self);
          if (self->payload_left == 0)
            {
              frame_done (self);
              if (self->stopped)
                break;
            }
        }
    }
  return produced;
}

static gboolean
has_output (WsGuardInputStream *self)
{
  /* Unprocessed bytes may all be dropped, in which case the reader gets
   * WOULD_BLOCK and polls again: harmless. */
  return self->emit_pos < self->emit_len || self->start < self->end;
}

/* ---- with a driver: the guard reads, the reader gets what is left -------- */

/* A GIO reader's source (as libsoup's WebSocket connection makes one): ready when the driver left something to
 * read, or at the end. It does not own the guard (the guard forgets it when
 * it goes), so a reader that keeps it creates no cycle. */
typedef struct
{
  GSource source;
  WsGuardInputStream *guard; /* unowned; NULL once the guard is gone */
} ReaderSource;

static gboolean
reader_dispatch (GSource *source, GSourceFunc callback, gpointer user_data)
{
  ReaderSource *rs = (ReaderSource *) source;

  /* Fires once per wake-up. (GLib 2.74 wakes the context on every
   * g_source_set_ready_time(), even to the same value: only when set.) */
  if (g_source_get_ready_time (source) != -1)
    g_source_set_ready_time (source, -1);
  if (callback == NULL || rs->guard == NULL)
    return G_SOURCE_REMOVE;
  return ((GPollableSourceFunc) (void (*) (void)) callback) (G_OBJECT (rs->guard), user_data);
}

static void
reader_finalize (GSource *source)
{
  ReaderSource *rs = (ReaderSource *) source;

  if (rs->guard && rs->guard->readers)
    g_ptr_array_remove_fast (rs->guard->readers, rs);
}

static GSourceFuncs reader_funcs = {
  .dispatch = reader_dispatch,
  .finalize = reader_finalize,
};

static void
wake_soup (WsGuardInputStream *self)
{
  if (self->pass_func)
    {
      self->pass_func (self, self->pass_data);
      return;
    }
  if (self->readers == NULL)
    return;
  for (guint i = 0; i < self->readers->len; i++)
    {
      GSource *source = g_ptr_array_index (self->readers, i);

      if (!g_source_is_destroyed (source) && g_source_get_ready_time (source) != 0)
        g_source_set_ready_time (source, 0);
    }
}

static void
forget_readers (WsGuardInputStream *self)
{
  if (self->readers == NULL)
    return;
  for (guint i = 0; i < self->readers->len; i++)
    ((ReaderSource *) g_ptr_array_index (self->readers, i))->guard = NULL;
  g_clear_pointer (&self->readers, g_ptr_array_unref);
}

static gboolean
soup_has_input (WsGuardInputStream *self)
{
  return (self->pass && self->pass->len > 0) || self->eof || self->read_error;
}

static gssize
read_passed (WsGuardInputStream *self, guint8 *buffer, gsize count, GError **error)
{
  if (self->pass && self->pass->len > 0)
    {
      gsize n = MIN (count, (gsize) self->pass->len);

      memcpy (buffer, self->pass->data, n);
      g_byte_array_remove_range (self->pass, 0, (guint) n);
      return (gssize) n;
    }
  if (self->read_error)
    {
      g_propagate_error (error, g_steal_pointer (&self->read_error));
      self->eof = TRUE;
      return -1;
    }
  if (self->eof)
    return 0;
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK, "no control frame waiting");
  return -1;
}

/* Processes what the read buffer holds: binary messages go to the owner,
 * the rest of the stream to @pass. */
static void
pump_buffer (WsGuardInputStream *self)
{
  if (!self->stopped)
    produce (self, NULL, G_MAXSIZE);
}

static gboolean drive (WsGuardInputStream *self);
static void stop_driver (WsGuardInputStream *self);

static void
destroy_source (GSource *source)
{
  g_source_destroy (source);
  g_source_unref (source);
}

/* The socket is readable, or the kick: reads what there is. */
static void
watch_cb (AeroWatch *watch, GIOCondition revents, gpointer user_data)
{
  WsGuardInputStream *self = g_object_ref (user_data);

  /* The owner may drop the guard from inside drive(). */
  if (!drive (self))
    stop_driver (self);
  g_object_unref (self);
}

/* Bytes the base stream holds that the socket does not show (read ahead
 * by a buffering filter, or left over after a dispatch's share) are read
 * at the next dispatch, through the watch's ready time. */
static void
kick_driver (WsGuardInputStream *self)
{
  if (self->stopped || self->watch == NULL)
    return;
  aero_watch_set_ready_time (self->watch, 0);
}

/* Reads and processes YIELD_AFTER_BYTES, and the rest of a binary frame
 * begun; FALSE at the end of the stream (or once stopped). */
static gboolean
drive (WsGuardInputStream *self)
{
  gsize budget = YIELD_AFTER_BYTES;
  gboolean keep = TRUE;
  gboolean drained = FALSE;
  guint64 messages_before = self->messages;

  g_object_ref (self);
  self->pumping = TRUE;
  while (!self->stopped)
    {
      gsize before;

      if (self->start == self->end)
        {
          GError *error = NULL;
          gssize n;

          /* A short read from a watched socket emptied it: another read
           * would only say EAGAIN, and the watch fires again on more. */
          if (drained)
            break;
          /* A dispatch takes at least one whole message: a binary frame
           * begun before any message was delivered in this dispatch is
           * read to its end (it is bounded by the message limit). A large
           * frame cut into slices would cost a main-loop iteration each,
           * and nothing is answered before it is whole. After one message,
           * the share holds: the answers to it go out before the next. */
          if (self->extracting && self->messages == messages_before
              && self->payload_left > budget)
            budget = (gsize) self->payload_left;
          if (budget == 0)
            {
              /* A watched socket with more to read stays ready (level-
               * triggered): the next dispatch reads on. A stream that
               * buffers (TLS) may hold bytes its source does not show. */
              if (self->driver != NULL
                  && g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self))))
                kick_driver (self);
              break;
            }
          if (self->buffer == NULL)
            self->buffer = g_malloc (WS_GUARD_BUFFER_LEN);
          self->start = self->end = 0;
          /* At most the rest of this dispatch's share. */
          n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)),
                                                        self->buffer,
                                                        MIN (budget, WS_GUARD_BUFFER_LEN), NULL,
                                                        &error);
          if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            {
              g_error_free (error);
              break;
            }
          if (n <= 0)
            {
              if (n < 0)
                self->read_error = error;
              self->eof = TRUE;
              keep = FALSE;
              break;
            }
          self->end = (gsize) n;
          drained = self->driver == NULL && (gsize) n < MIN (budget, WS_GUARD_BUFFER_LEN);
        }
      before = self->start;
      pump_buffer (self);
      if (self->stopped)
        break;
      /* A prefix can be longer than the share: it is processed whole. */
      budget -= MIN (budget, self->start - before);
    }
  self->pumping = FALSE;
  if (self->start == self->end)
    g_clear_pointer (&self->buffer, g_free);
  if (soup_has_input (self))
    wake_soup (self);
  keep = keep && !self->stopped;
  g_object_unref (self);
  return keep;
}

static gboolean
driver_cb (GObject *base, gpointer user_data)
{
  WsGuardInputStream *self = g_object_ref (user_data);
  gboolean keep = drive (self);

  /* This source is removed by returning: only forget it, then stop. (The
   * owner may drop the guard from inside drive(): it is held till here.) */
  if (!keep)
    {
      g_clear_pointer (&self->driver, g_source_unref);
      stop_driver (self);
    }
  g_object_unref (self);
  return keep ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
stop_driver (WsGuardInputStream *self)
{
  self->stopped = TRUE;
  g_clear_pointer (&self->driver, destroy_source);
  g_clear_pointer (&self->watch, aero_watch_free);
}

/* ---- without a driver: the reader's reads pull through the guard --------- */

static gssize
guard_read (WsGuardInputStream *self, void *buffer, gsize count, gboolean blocking,
            GCancellable *cancellable, GError **error)
{
  gsize produced;

  if (count == 0)
    return 0;
  if (self->started)
    {
      if (blocking)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                               "the guard reads by itself: non-blocking reads only");
          return -1;
        }
      return read_passed (self, buffer, count, error);
    }
  if (!blocking && self->since_yield >= YIELD_AFTER_BYTES)
    {
      self->since_yield = 0;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                           "giving way to the main loop");
      return -1;
    }
  produced = produce (self, buffer, count);
  for (guint reads = 0; produced == 0; reads++)
    {
      gssize n;

      /* Dropping a long frame must not keep the main loop here: give way
       * after a few buffers and let the poll source call again. */
      if (!blocking && reads == MAX_READS_PER_CALL)
        {
          g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK,
                               "discarding an oversized frame");
          return -1;
        }

      self->start = self->end = 0;
      if (self->buffer == NULL)
        self->buffer = g_malloc (WS_GUARD_BUFFER_LEN);
      if (blocking)
        n = g_input_stream_read (base_of (self), self->buffer, WS_GUARD_BUFFER_LEN, cancellable,
                                 error);
      else
        n = g_pollable_input_stream_read_nonblocking (G_POLLABLE_INPUT_STREAM (base_of (self)),
                                                      self->buffer, WS_GUARD_BUFFER_LEN,
                                                      cancellable, error);
      if (n <= 0)
        {
          g_clear_pointer (&self->buffer, g_free);
          if (n < 0)
            self->since_yield = 0;
          return n;
        }
      self->end = (gsize) n;
      produced = produce (self, buffer, count);
    }
  /* An idle connection holds no read buffer. */
  if (self->start == self->end)
    g_clear_pointer (&self->buffer, g_free);
  self->since_yield += produced;
  return (gssize) produced;
}

static gssize
ws_guard_input_stream_read (GInputStream *stream, void *buffer, gsize count,
                            GCancellable *cancellable, GError **error)
{
  return guard_read (WS_GUARD_INPUT_STREAM (stream), buffer, count, TRUE, cancellable, error);
}

static gssize
ws_guard_input_stream_read_nonblocking (GPollableInputStream *stream, void *buffer, gsize count,
                                        GError **error)
{
  return guard_read (WS_GUARD_INPUT_STREAM (stream), buffer, count, FALSE, NULL, error);
}

static gboolean
ws_guard_input_stream_can_poll (GPollableInputStream *stream)
{
  GInputStream *base = base_of (stream);

  return G_IS_POLLABLE_INPUT_STREAM (base)
         && g_pollable_input_stream_can_poll (G_POLLABLE_INPUT_STREAM (base));
}

static gboolean
ws_guard_input_stream_is_readable (GPollableInputStream *stream)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);

  if (self->started)
    return soup_has_input (self);
  return has_output (self)
         || g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self)));
}

static GSource *
ws_guard_input_stream_create_source (GPollableInputStream *stream, GCancellable *cancellable)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);
  g_autoptr (GSource) child = NULL;

  if (self->started)
    {
      /* Ready when the driver has something for the reader (it wakes it). */
      GSource *source = g_source_new (&reader_funcs, sizeof (ReaderSource));

      ((ReaderSource *) source)->guard = self;
      g_source_set_static_name (source, "WebSocket guard reader wake-up");
      g_source_set_can_recurse (source, TRUE);
      if (cancellable)
        {
          g_autoptr (GSource) cancel = g_cancellable_source_new (cancellable);

          g_source_set_dummy_callback (cancel);
          g_source_add_child_source (source, cancel);
        }
      if (self->readers == NULL)
        self->readers = g_ptr_array_new ();
      g_ptr_array_add (self->readers, source);
      if (soup_has_input (self))
        g_source_set_ready_time (source, 0);
      return source;
    }
  /* Buffered bytes make the stream readable now, whatever the socket says. */
  if (has_output (self))
    child = g_timeout_source_new (0);
  else
    child = g_pollable_input_stream_create_source (G_POLLABLE_INPUT_STREAM (base_of (self)), NULL);
  return ws_source_recursable (g_pollable_source_new_full (stream, child, cancellable), child);
}

static void
ws_guard_input_stream_pollable_init (GPollableInputStreamInterface *iface)
{
  iface->can_poll = ws_guard_input_stream_can_poll;
  iface->is_readable = ws_guard_input_stream_is_readable;
  iface->create_source = ws_guard_input_stream_create_source;
  iface->read_nonblocking = ws_guard_input_stream_read_nonblocking;
}

/* Closing the guard touches no file descriptor (the base stream stays open
 * for its owner): done in the caller's thread, where GInputStream's default
 * would hand it to a worker thread for every connection that ends. */
static void
ws_guard_input_stream_close_async (GInputStream *stream, int io_priority,
                                   GCancellable *cancellable, GAsyncReadyCallback callback,
                                   gpointer user_data)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);
  g_autoptr (GTask) task = g_task_new (stream, cancellable, callback, user_data);
  GError *error = NULL;

  g_task_set_source_tag (task, ws_guard_input_stream_close_async);
  stop_driver (self);
  if (!self->pumping)
    {
      self->start = self->end = 0;
      g_clear_pointer (&self->buffer, g_free);
    }
  if (G_INPUT_STREAM_CLASS (ws_guard_input_stream_parent_class)
          ->close_fn (stream, cancellable, &error))
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}

static gboolean
ws_guard_input_stream_close_finish (GInputStream *stream, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

/* Synchronous close: the same, without the task. */
static gboolean
ws_guard_input_stream_close (GInputStream *stream, GCancellable *cancellable, GError **error)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (stream);

  stop_driver (self);
  if (!self->pumping)
    {
      self->start = self->end = 0;
      g_clear_pointer (&self->buffer, g_free);
    }
  return G_INPUT_STREAM_CLASS (ws_guard_input_stream_parent_class)
      ->close_fn (stream, cancellable, error);
}

static void
ws_guard_input_stream_dispose (GObject *object)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (object);

  stop_driver (self);
  forget_readers (self);
  G_OBJECT_CLASS (ws_guard_input_stream_parent_class)->dispose (object);
}

static void
ws_guard_input_stream_finalize (GObject *object)
{
  WsGuardInputStream *self = WS_GUARD_INPUT_STREAM (object);

  if (self->message)
    g_byte_array_unref (self->message);
  if (self->pass)
    g_byte_array_unref (self->pass);
  g_clear_error (&self->read_error);
  g_free (self->buffer);
  G_OBJECT_CLASS (ws_guard_input_stream_parent_class)->finalize (object);
}

static void
ws_guard_input_stream_class_init (WsGuardInputStreamClass *klass)
{
  GInputStreamClass *stream_class = G_INPUT_STREAM_CLASS (klass);

  G_OBJECT_CLASS (klass)->dispose = ws_guard_input_stream_dispose;
  G_OBJECT_CLASS (klass)->finalize = ws_guard_input_stream_finalize;
  stream_class->read_fn = ws_guard_input_stream_read;
  stream_class->close_fn = ws_guard_input_stream_close;
  stream_class->close_async = ws_guard_input_stream_close_async;
  stream_class->close_finish = ws_guard_input_stream_close_finish;
}

static void
ws_guard_input_stream_init (WsGuardInputStream *self)
{
}

/**
 * ws_guard_input_stream_new:
 * @base: a pollable input stream
 * @max_message: largest data message in payload bytes (0: no bound)
 * @prefix: (nullable): bytes to deliver before any read from @base (at
 *   most %WS_GUARD_BUFFER_LEN)
 *
 * The base stream is not closed with the guard.
 *
 * Returns: (transfer full): a guard over @base.
 */
WsGuardInputStream *
ws_guard_input_stream_new (GInputStream *base, guint64 max_message, GBytes *prefix)
{
  WsGuardInputStream *self = g_object_new (WS_TYPE_GUARD_INPUT_STREAM, "base-stream", base,
                                           "close-base-stream", FALSE, NULL);

  self->max_message = max_message;
  if (prefix != NULL)
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (prefix, &len);

      g_return_val_if_fail (len <= WS_GUARD_BUFFER_LEN, self);
      if (len > 0)
        {
          self->buffer = g_malloc (WS_GUARD_BUFFER_LEN);
          memcpy (self->buffer, data, len);
        }
      self->end = len;
    }
  return self;
}

/**
 * ws_guard_input_stream_set_funcs:
 * @self: a guard
 * @trip_func: (nullable): called once when the guard trips
 * @ping_func: (nullable): called for each ping frame
 * @user_data: passed to both
 *
 * Installs (or removes) the callbacks. Removing them (@user_data %NULL)
 * also ends the delivery of binary messages; the guard still reads and
 * hands control frames on.
 */
void
ws_guard_input_stream_set_funcs (WsGuardInputStream *self, WsGuardTripFunc trip_func,
                                 WsGuardPingFunc ping_func, gpointer user_data)
{
  g_return_if_fail (WS_IS_GUARD_INPUT_STREAM (self));
  self->trip_func = trip_func;
  self->ping_func = ping_func;
  self->func_data = user_data;
  if (user_data == NULL)
    self->message_func = NULL;
}

/**
 * ws_guard_input_stream_start_messages:
 * @self: a guard no one has read from yet
 * @func: called with each binary message, unmasked
 * @expect_masked: whether the peer is a client (its frames must be masked)
 * @socket: (nullable): the connection's socket, when reads from the base
 *   stream come from it without a layer that buffers on its own schedule
 *   (no TLS): the guard then waits on its fd with an #AeroWatch, which
 *   costs a main-loop iteration nothing while the connection is quiet
 *
 * From now on the guard reads the base stream itself, from the
 * thread-default main context, and takes binary messages out of the
 * stream: @func gets each one whole (it runs from that source, not inside
 * a reader, and may close the connection). The rest of the stream — control
 * frames, text messages, anything that breaks the rules — is what a reader
 * of the guard sees: announced by the pass function when there is one
 * (ws_guard_input_stream_set_pass_func()), else by the reader's sources,
 * which become ready when there is some, or at the end of the stream.
 * Reading stops when the guard is closed.
 */
void
ws_guard_input_stream_start_messages (WsGuardInputStream *self, WsGuardMessageFunc func,
                                      gboolean expect_masked, GSocket *socket)
{
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();

  g_return_if_fail (WS_IS_GUARD_INPUT_STREAM (self));
  g_return_if_fail (!self->started);
  self->started = TRUE;
  self->extract = TRUE;
  self->message_func = func;
  self->expect_masked = expect_masked;
  self->watch = aero_watch_new (context, watch_cb, self);
  if (socket == NULL
      || !aero_watch_set_fd (self->watch, g_socket_get_fd (socket), G_IO_IN, NULL))
    {
      /* A stream with its own buffering (TLS): its pollable source. */
      self->driver = g_pollable_input_stream_create_source (
          G_POLLABLE_INPUT_STREAM (base_of (self)), NULL);
      g_source_set_callback (self->driver, (GSourceFunc) (void (*) (void)) driver_cb, self, NULL);
      g_source_set_static_name (self->driver, "WebSocket guard reader");
      g_source_set_can_recurse (self->driver, TRUE);
      g_source_attach (self->driver, context);
    }
  /* Bytes already here (a prefix, or read ahead by a buffering base)
   * would not show on the socket. */
  if (self->start < self->end
      || g_pollable_input_stream_is_readable (G_POLLABLE_INPUT_STREAM (base_of (self))))
    kick_driver (self);
}

/**
 * ws_guard_input_stream_set_pass_func:
 * @self: a guard
 * @func: (nullable): called when the guard has left something to read
 * @user_data: passed to @func
 *
 * With a pass function, what the guard leaves after
 * ws_guard_input_stream_start_messages() (control frames, text messages,
 * frames that break the rules, the end of the stream or a read error)
 * is announced by a call to @func at the end of the guard's read, and
 * before a binary message that follows it in the stream (which is dropped
 * if @func closes the connection), instead of by a reader's source: @func
 * reads it with
 * g_pollable_input_stream_read_nonblocking() until that would block, and
 * may close the connection. No GSource is attached for it.
 */
void
ws_guard_input_stream_set_pass_func (WsGuardInputStream *self, WsGuardPassFunc func,
                                     gpointer user_data)
{
  g_return_if_fail (WS_IS_GUARD_INPUT_STREAM (self));
  self->pass_func = func;
  self->pass_data = user_data;
}

/**
 * ws_guard_input_stream_is_tripped:
 * @self: a guard
 *
 * Returns: whether a message was refused.
 */
gboolean
ws_guard_input_stream_is_tripped (WsGuardInputStream *self)
{
  g_return_val_if_fail (WS_IS_GUARD_INPUT_STREAM (self), FALSE);
  return self->tripped;
}

/**
 * ws_guard_input_stream_get_discarded:
 * @self: a guard
 *
 * Returns: payload bytes dropped since the guard tripped.
 */
guint64
ws_guard_input_stream_get_discarded (WsGuardInputStream *self)
{
  g_return_val_if_fail (WS_IS_GUARD_INPUT_STREAM (self), 0);
  return self->discarded;
}
