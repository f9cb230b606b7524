/* ws-frame-reader.c — control frames, text messages and broken frames,
 * read from what the guard leaves. See the header. */
#include <string.h>

#include "ws-frame-reader.h"
#include "ws-frame.h"

#define MAX_CONTROL_PAYLOAD 125

void
ws_frame_reader_init (WsFrameReader *reader, gboolean expect_masked, guint64 max_message)
{
  memset (reader, 0, sizeof *reader);
  reader->expect_masked = expect_masked;
  reader->max_message = max_message;
  reader->buf = g_byte_array_new ();
}

void
ws_frame_reader_clear (WsFrameReader *reader)
{
  g_clear_pointer (&reader->buf, g_byte_array_unref);
  g_clear_pointer (&reader->message, g_byte_array_unref);
  reader->message_opcode = 0;
}

void
ws_frame_event_clear (WsFrameEvent *event)
{
  g_clear_pointer (&event->payload, g_bytes_unref);
}

/**
 * ws_frame_reader_push:
 * @reader: a reader
 * @data: bytes of the stream, in order
 * @len: their length
 *
 * Adds bytes to parse; after a close frame or an error they are dropped.
 * Call ws_frame_reader_next() until it needs more before pushing again,
 * so that at most one partial frame stays buffered.
 */
void
ws_frame_reader_push (WsFrameReader *reader, const guint8 *data, gsize len)
{
  if (reader->done || reader->buf == NULL || len == 0)
    return;
  g_byte_array_append (reader->buf, data, (guint) len);
}

static WsFrameResult
fail (WsFrameReader *reader, WsFrameEvent *event, guint16 code, const char *why)
{
  reader->done = TRUE;
  g_byte_array_set_size (reader->buf, 0);
  g_clear_pointer (&reader->message, g_byte_array_unref);
  reader->message_opcode = 0;
  event->error_code = code;
  event->error = why;
  return WS_FRAME_ERROR;
}

/**
 * ws_frame_close_code_is_valid:
 * @code: a close code
 *
 * Returns: whether a peer may send @code in a close frame (RFC 6455 §7.4,
 * and the codes IANA's registry added since: 1012 service restart, 1013 try
 * again later, 1014 bad gateway; 1015 is never sent).
 */
gboolean
ws_frame_close_code_is_valid (guint16 code)
{
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
         || (code >= 3000 && code <= 4999);
}

/**
 * ws_frame_close_code:
 * @payload: a checked close frame's payload
 *
 * Returns: its code, or %WS_CLOSE_NO_STATUS when it has none.
 */
guint16
ws_frame_close_code (GBytes *payload)
{
  gsize len;
  const guint8 *p = g_bytes_get_data (payload, &len);

  return len >= 2 ? (guint16) (p[0] << 8 | p[1]) : WS_CLOSE_NO_STATUS;
}

/* Whether @len bytes are UTF-8. U+0000 is UTF-8 too, which
 * g_utf8_validate_len() refuses: the parts between NUL bytes are checked
 * (a NUL byte cannot be inside a multi-byte sequence). */
static gboolean
utf8_valid (const guint8 *p, gsize len)
{
  while (len > 0)
    {
      const guint8 *nul = memchr (p, 0, len);
      gsize part = nul ? (gsize) (nul - p) : len;

      if (part > 0 && !g_utf8_validate_len ((const char *) p, part, NULL))
        return FALSE;
      if (nul == NULL)
        break;
      p += part + 1;
      len -= part + 1;
    }
  return TRUE;
}

/* A close frame's payload: empty, or a code and UTF-8 text. */
static const char *
check_close (const guint8 *p, gsize len)
{
  if (len == 0)
    return NULL;
  if (len == 1)
    return "close frame with a one-byte payload";
  if (!ws_frame_close_code_is_valid ((guint16) (p[0] << 8 | p[1])))
    return "close frame with a code a peer may not send";
  if (len > 2 && !utf8_valid (p + 2, len - 2))
    return "close reason is not UTF-8";
  return NULL;
}

/**
 * ws_frame_reader_next:
 * @reader: a reader
 * @event: (out caller-allocates): the event, when one is returned; clear
 *   it with ws_frame_event_clear()
 *
 * Returns: what came next, or %WS_FRAME_NEED_MORE.
 */
WsFrameResult
ws_frame_reader_next (WsFrameReader *reader, WsFrameEvent *event)
{
  memset (event, 0, sizeof *event);
  while (!reader->done && reader->buf != NULL)
    {
      guint8 *h = reader->buf->data;
      gsize avail = reader->buf->len;
      gboolean fin, masked, control;
      guint8 opcode;
      guint64 len;
      gsize at = 2;
      guint8 *payload;

      if (avail < 2)
        return WS_FRAME_NEED_MORE;
      fin = (h[0] & 0x80) != 0;
      opcode = h[0] & 0x0f;
      masked = (h[1] & 0x80) != 0;
      control = (opcode & 0x8) != 0;
      len = h[1] & 0x7f;

      if (h[0] & 0x70)
        return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "reserved bits set");
      if (masked != reader->expect_masked)
        return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR,
                     masked ? "masked frame from a server" : "unmasked frame from a client");
      if (control && opcode > WS_OPCODE_PONG)
        return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "unknown control opcode");
      if (!control && opcode > WS_OPCODE_BINARY)
        return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "unknown data opcode");
      if (control && (!fin || len > MAX_CONTROL_PAYLOAD))
        return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR,
                     !fin ? "fragmented control frame" : "control frame above 125 bytes");
      if (len == 126)
        {
          if (avail < 4)
            return WS_FRAME_NEED_MORE;
          len = (guint64) h[2] << 8 | h[3];
          at = 4;
          if (len < 126)
            return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "length not in its shortest form");
        }
      else if (len == 127)
        {
          if (avail < 10)
            return WS_FRAME_NEED_MORE;
          len = 0;
          for (int i = 2; i < 10; i++)
            len = len << 8 | h[i];
          at = 10;
          if (len <= G_MAXUINT16 || (len >> 63) != 0)
            return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "length not in its shortest form");
        }
      if (!control)
        {
          guint64 before = opcode == WS_OPCODE_CONTINUATION && reader->message
                               ? reader->message->len : 0;

          /* A frame out of order is refused as such, whatever its size. */
          if (opcode == WS_OPCODE_CONTINUATION && reader->message_opcode == 0)
            return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message");
          if (opcode != WS_OPCODE_CONTINUATION && reader->message_opcode != 0)
            return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR,
                         "new message inside a fragmented one");
          if (reader->max_message > 0 && len > reader->max_message - MIN (before, reader->max_message))
            return fail (reader, event, WS_CLOSE_TOO_BIG, "message above the largest message");
        }
      if (masked)
        at += 4;
      if (avail < at || avail - at < len)
        return WS_FRAME_NEED_MORE;

      payload = h + at;
      if (masked)
        ws_mask_copy (payload, payload, (gsize) len, h + at - 4, 0);

      if (control)
        {
          const char *bad = opcode == WS_OPCODE_CLOSE ? check_close (payload, (gsize) len) : NULL;

          if (bad)
            return fail (reader, event, WS_CLOSE_PROTOCOL_ERROR, bad);
          event->opcode = opcode;
          event->payload = g_bytes_new (payload, (gsize) len);
          g_byte_array_remove_range (reader->buf, 0, (guint) (at + len));
          if (opcode == WS_OPCODE_CLOSE)
            {
              reader->done = TRUE;
              g_byte_array_set_size (reader->buf, 0);
            }
          return WS_FRAME_CONTROL;
        }

      if (opcode != WS_OPCODE_CONTINUATION)
        {
          reader->message_opcode = opcode;
          reader->message = g_byte_array_sized_new ((guint) len);
        }
      g_byte_array_append (reader->message, payload, (guint) len);
      g_byte_array_remove_range (reader->buf, 0, (guint) (at + len));
      if (!fin)
        continue;

      if (reader->message_opcode == WS_OPCODE_TEXT
          && !utf8_valid (reader->message->data, reader->message->len))
        return fail (reader, event, WS_CLOSE_BAD_DATA, "text message is not UTF-8");
      event->opcode = reader->message_opcode;
      event->payload = g_byte_array_free_to_bytes (g_steal_pointer (&reader->message));
      reader->message_opcode = 0;
      return WS_FRAME_MESSAGE;
    }
  return WS_FRAME_NEED_MORE;
}
