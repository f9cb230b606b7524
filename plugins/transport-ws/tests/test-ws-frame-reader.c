/* test-ws-frame-reader.c — the reader of what the guard leaves (control
 * frames, text messages, broken frames) against hand-built RFC 6455 frames,
 * fed whole and a byte at a time. */
#include <string.h>

#include "ws-frame-reader.h"
#include "ws-frame.h"

static const guint8 KEY[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* Appends one frame: @b0 is the first byte (FIN, RSV, opcode) as sent;
 * the length is encoded in @len_form bytes (1, 3 or 9: 7-bit, 16-bit,
 * 64-bit), masked with KEY when @masked. */
static void
put_raw (GByteArray *wire, guint8 b0, const void *payload, gsize len, gboolean masked,
         int len_form)
{
  guint8 h[14];
  gsize n = 0;
  guint8 mbit = masked ? 0x80 : 0;

  h[n++] = b0;
  if (len_form == 1)
    h[n++] = (guint8) (mbit | len);
  else if (len_form == 3)
    {
      h[n++] = mbit | 126;
      h[n++] = (guint8) (len >> 8);
      h[n++] = (guint8) len;
    }
  else
    {
      h[n++] = mbit | 127;
      for (int i = 0; i < 8; i++)
        h[n++] = (guint8) ((guint64) len >> (56 - 8 * i));
    }
  if (masked)
    {
      memcpy (h + n, KEY, 4);
      n += 4;
    }
  g_byte_array_append (wire, h, (guint) n);
  if (len > 0)
    {
      guint8 *m = g_malloc (len);

      if (masked)
        ws_mask_copy (m, payload, len, KEY, 0);
      else
        memcpy (m, payload, len);
      g_byte_array_append (wire, m, (guint) len);
      g_free (m);
    }
}

static void
put (GByteArray *wire, guint8 b0, const void *payload, gsize len, gboolean masked)
{
  put_raw (wire, b0, payload, len, masked, len < 126 ? 1 : len < 65536 ? 3 : 9);
}

/* What the reader made of @wire: one line per event ("control 9 3",
 * "message 1 5", "error 1002"), then "need-more". */
static char *
read_all (const GByteArray *wire, gboolean expect_masked, guint64 max_message, gboolean bytewise,
          GPtrArray *payloads)
{
  WsFrameReader r;
  GString *out = g_string_new (NULL);
  gsize step = bytewise ? 1 : wire->len;

  ws_frame_reader_init (&r, expect_masked, max_message);
  for (gsize at = 0; at < wire->len || at == 0; at += step)
    {
      WsFrameEvent ev;
      WsFrameResult res;

      ws_frame_reader_push (&r, wire->data + at, MIN (step, wire->len - at));
      while ((res = ws_frame_reader_next (&r, &ev)) != WS_FRAME_NEED_MORE)
        {
          if (res == WS_FRAME_ERROR)
            g_string_append_printf (out, "error %u\n", ev.error_code);
          else
            {
              g_string_append_printf (out, "%s %u %" G_GSIZE_FORMAT "\n",
                                      res == WS_FRAME_CONTROL ? "control" : "message", ev.opcode,
                                      g_bytes_get_size (ev.payload));
              if (payloads)
                g_ptr_array_add (payloads, g_bytes_ref (ev.payload));
            }
          ws_frame_event_clear (&ev);
        }
      if (wire->len == 0)
        break;
    }
  ws_frame_reader_clear (&r);
  g_string_append (out, "need-more");
  return g_string_free (out, FALSE);
}

/* Checks @wire both ways (whole, byte by byte) against @expected. */
static void
check (GByteArray *wire, gboolean expect_masked, guint64 max_message, const char *expected)
{
  for (int bytewise = 0; bytewise < 2; bytewise++)
    {
      g_autofree char *got = read_all (wire, expect_masked, max_message, bytewise, NULL);

      g_assert_cmpstr (got, ==, expected);
    }
}

static void
test_control (void)
{
  g_autoptr (GByteArray) wire = g_byte_array_new ();
  g_autoptr (GPtrArray) payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree char *got = NULL;
  const guint8 close[] = { 0x03, 0xe8, 'b', 'y', 'e' };

  put (wire, 0x89, "abc", 3, TRUE);
  put (wire, 0x8a, "", 0, TRUE);
  put (wire, 0x89, NULL, 0, TRUE);
  put (wire, 0x88, close, sizeof close, TRUE);
  put (wire, 0x89, "after", 5, TRUE); /* after the close: not read */
  check (wire, TRUE, 1000, "control 9 3\ncontrol 10 0\ncontrol 9 0\ncontrol 8 5\nneed-more");

  got = read_all (wire, TRUE, 1000, FALSE, payloads);
  g_assert_cmpmem (g_bytes_get_data (payloads->pdata[0], NULL), 3, "abc", 3);
  g_assert_cmpuint (ws_frame_close_code (payloads->pdata[3]), ==, 1000);
}

static void
test_close_payloads (void)
{
  struct { const guint8 *p; gsize len; const char *expected; guint16 code; } cases[] = {
    { NULL, 0, "control 8 0\nneed-more", WS_CLOSE_NO_STATUS },
    { (const guint8 *) "\x03", 1, "error 1002\nneed-more", 0 },
    { (const guint8 *) "\x03\xed", 2, "error 1002\nneed-more", 0 },         /* 1005: reserved */
    { (const guint8 *) "\x03\xee", 2, "error 1002\nneed-more", 0 },         /* 1006: reserved */
    { (const guint8 *) "\x03\xe7", 2, "error 1002\nneed-more", 0 },         /* 999 */
    { (const guint8 *) "\x13\x88", 2, "error 1002\nneed-more", 0 },         /* 5000 */
    { (const guint8 *) "\x0b\xb8ok", 4, "control 8 4\nneed-more", 3000 },
    { (const guint8 *) "\x03\xf1\xff", 3, "error 1002\nneed-more", 0 },     /* reason not UTF-8 */
    { (const guint8 *) "\x03\xf3", 2, "control 8 2\nneed-more", 1011 },
    { (const guint8 *) "\x0b\xb8o\0k", 5, "control 8 5\nneed-more", 3000 }, /* U+0000 is UTF-8 */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) wire = g_byte_array_new ();
      g_autoptr (GPtrArray) payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
      g_autofree char *got = NULL;

      put (wire, 0x88, cases[i].p, cases[i].len, TRUE);
      check (wire, TRUE, 1000, cases[i].expected);
      got = read_all (wire, TRUE, 1000, FALSE, payloads);
      if (cases[i].code)
        g_assert_cmpuint (ws_frame_close_code (payloads->pdata[0]), ==, cases[i].code);
    }
}

static void
test_messages (void)
{
  g_autoptr (GByteArray) wire = g_byte_array_new ();
  g_autoptr (GPtrArray) payloads = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autofree char *got = NULL;
  g_autofree guint8 *big = g_malloc (300);

  memset (big, 'x', 300);
  /* A text message in three fragments with a ping between them, then a
   * binary one of 300 bytes (16-bit length). */
  put (wire, 0x01, "h\xc3", 2, TRUE);
  put (wire, 0x89, "p", 1, TRUE);
  put (wire, 0x00, "\xa9l", 2, TRUE);
  put (wire, 0x80, "lo", 2, TRUE);
  put (wire, 0x82, big, 300, TRUE);
  put (wire, 0x81, "a\0b", 3, TRUE); /* U+0000 is UTF-8 */
  check (wire, TRUE, 1000, "control 9 1\nmessage 1 6\nmessage 2 300\nmessage 1 3\nneed-more");
  got = read_all (wire, TRUE, 1000, FALSE, payloads);
  g_assert_cmpmem (g_bytes_get_data (payloads->pdata[1], NULL), 6, "h\xc3\xa9llo", 6);
  g_assert_cmpmem (g_bytes_get_data (payloads->pdata[2], NULL), 300, big, 300);
}

static void
test_broken (void)
{
  static const guint8 bad_utf8[] = { 'a', 0xc3, 0x28 };
  struct { guint8 b0; const char *payload; gsize len; gboolean masked; int form;
           const char *expected; } cases[] = {
    { 0xc2, "x", 1, TRUE, 1, "error 1002\nneed-more" },  /* RSV1 */
    { 0x83, "x", 1, TRUE, 1, "error 1002\nneed-more" },  /* opcode 3 */
    { 0x8b, "x", 1, TRUE, 1, "error 1002\nneed-more" },  /* opcode 0xB */
    { 0x82, "x", 1, FALSE, 1, "error 1002\nneed-more" }, /* unmasked from a client */
    { 0x09, "x", 1, TRUE, 1, "error 1002\nneed-more" },  /* fragmented ping */
    { 0x80, "x", 1, TRUE, 1, "error 1002\nneed-more" },  /* continuation without a message */
    { 0x82, "x", 1, TRUE, 3, "error 1002\nneed-more" },  /* 16-bit length for 1 byte */
    { 0x82, "x", 1, TRUE, 9, "error 1002\nneed-more" },  /* 64-bit length for 1 byte */
    { 0x81, (const char *) bad_utf8, 3, TRUE, 1, "error 1007\nneed-more" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GByteArray) wire = g_byte_array_new ();

      put_raw (wire, cases[i].b0, cases[i].payload, cases[i].len, cases[i].masked, cases[i].form);
      put (wire, 0x89, "after", 5, TRUE); /* nothing after an error */
      check (wire, TRUE, 1000, cases[i].expected);
    }
}

static void
test_broken_sequences (void)
{
  g_autoptr (GByteArray) ping = g_byte_array_new ();
  g_autoptr (GByteArray) inside = g_byte_array_new ();
  g_autoptr (GByteArray) masked = g_byte_array_new ();
  guint8 h[10] = { 0x82, 127, 0, 0, 0, 0, 0x40, 0, 0, 0 }; /* 1 GiB, unmasked */
  g_autoptr (GByteArray) huge = g_byte_array_new ();
  g_autofree guint8 *p126 = g_malloc0 (126);

  /* A ping of 126 bytes (16-bit length). */
  put (ping, 0x89, p126, 126, TRUE);
  check (ping, TRUE, 1000, "error 1002\nneed-more");
  /* A new message while a fragmented one is open. */
  put (inside, 0x01, "a", 1, TRUE);
  put (inside, 0x82, "b", 1, TRUE);
  check (inside, TRUE, 1000, "error 1002\nneed-more");
  /* The client's side: a masked frame from the server. */
  put (masked, 0x89, "x", 1, TRUE);
  check (masked, FALSE, 1000, "error 1002\nneed-more");
  /* Above the largest message: refused from the header alone, and a
   * message that grows past it fragment by fragment. */
  g_byte_array_append (huge, h, sizeof h);
  check (huge, FALSE, 1000, "error 1009\nneed-more");
  g_byte_array_set_size (huge, 0);
  put (huge, 0x02, p126, 126, FALSE);
  put (huge, 0x00, p126, 126, FALSE);
  check (huge, FALSE, 200, "error 1009\nneed-more");
  /* Out of order is refused as such, however large the frame says it is:
   * a continuation with no message, and a new message inside one. */
  g_byte_array_set_size (huge, 0);
  h[0] = 0x80;
  g_byte_array_append (huge, h, sizeof h);
  check (huge, FALSE, 1000, "error 1002\nneed-more");
  g_byte_array_set_size (huge, 0);
  put (huge, 0x02, "a", 1, FALSE);
  h[0] = 0x82;
  g_byte_array_append (huge, h, sizeof h);
  check (huge, FALSE, 1000, "error 1002\nneed-more");
}

static void
test_close_codes (void)
{
  g_assert_true (ws_frame_close_code_is_valid (1000));
  g_assert_true (ws_frame_close_code_is_valid (1003));
  g_assert_false (ws_frame_close_code_is_valid (1004));
  g_assert_false (ws_frame_close_code_is_valid (1005));
  g_assert_false (ws_frame_close_code_is_valid (1006));
  g_assert_true (ws_frame_close_code_is_valid (1007));
  g_assert_true (ws_frame_close_code_is_valid (1011));
  g_assert_true (ws_frame_close_code_is_valid (1012)); /* service restart */
  g_assert_true (ws_frame_close_code_is_valid (1013)); /* try again later */
  g_assert_true (ws_frame_close_code_is_valid (1014)); /* bad gateway */
  g_assert_false (ws_frame_close_code_is_valid (1015));
  g_assert_false (ws_frame_close_code_is_valid (2999));
  g_assert_true (ws_frame_close_code_is_valid (4999));
  g_assert_false (ws_frame_close_code_is_valid (5000));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/frame-reader/control", test_control);
  g_test_add_func ("/frame-reader/close-payloads", test_close_payloads);
  g_test_add_func ("/frame-reader/messages", test_messages);
  g_test_add_func ("/frame-reader/broken", test_broken);
  g_test_add_func ("/frame-reader/broken-sequences", test_broken_sequences);
  g_test_add_func ("/frame-reader/close-codes", test_close_codes);
  return g_test_run ();
}
