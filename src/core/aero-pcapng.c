/* aero-pcapng.c — pcapng block encoding (see aero-pcapng.h). Every block
 * is `type | total length | body | total length`, with options as
 * `code:u16 | length:u16 | value` padded to 32 bits, ended by opt_endofopt. */
#include <string.h>

#include "aero-pcapng.h"

#define BLOCK_SHB 0x0A0D0D0Au
#define BLOCK_IDB 0x00000001u
#define BLOCK_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_DESCRIPTION 3
#define OPT_IF_TSRESOL 9
#define OPT_EPB_FLAGS 2

static gsize
pad4 (gsize n)
{
  return (n + 3) & ~(gsize) 3;
}

static void
put_u16 (GByteArray *out, guint16 v)
{
  g_byte_array_append (out, (const guint8 *) &v, 2);
}

static void
put_u32 (GByteArray *out, guint32 v)
{
  g_byte_array_append (out, (const guint8 *) &v, 4);
}

static void
put_padding (GByteArray *out, gsize n)
{
  static const guint8 zeros[4] = { 0 };

  g_byte_array_append (out, zeros, pad4 (n) - n);
}

static void
put_option (GByteArray *out, guint16 code, const void *value, gsize len)
{
  put_u16 (out, code);
  put_u16 (out, (guint16) len);
  g_byte_array_append (out, value, len);
  put_padding (out, len);
}

static gsize
option_size (gsize len)
{
  return 4 + pad4 (len);
}

/* Options hold at most 65535 bytes; longer text is cut at a character. */
static gsize
text_len (const char *text)
{
  gsize len = strlen (text);
  const char *end;

  if (len <= 1024)
    return len;
  end = g_utf8_find_prev_char (text, text + 1024);
  return end ? (gsize) (end - text) : 0;
}

/* Begins a block; returns the offset of its length field. */
static guint
begin_block (GByteArray *out, guint32 type)
{
  guint at;

  put_u32 (out, type);
  at = out->len;
  put_u32 (out, 0);
  return at;
}

static void
end_block (GByteArray *out, guint length_at)
{
  guint32 total = out->len - (length_at - 4) + 4;

  memcpy (out->data + length_at, &total, 4);
  put_u32 (out, total);
}

void
aero_pcapng_append_section_header (GByteArray *out, const char *application)
{
  guint at = begin_block (out, BLOCK_SHB);
  guint64 section_length = G_MAXUINT64; /* not known in advance */

  put_u32 (out, BYTE_ORDER_MAGIC);
  put_u16 (out, 1);
  put_u16 (out, 0);
  g_byte_array_append (out, (const guint8 *) &section_length, 8);
  if (application)
    put_option (out, OPT_SHB_USERAPPL, application, text_len (application));
  put_u32 (out, OPT_ENDOFOPT);
  end_block (out, at);
}

void
aero_pcapng_append_interface (GByteArray *out, guint16 linktype, guint32 snaplen,
                              const char *name, const char *description)
{
  guint at = begin_block (out, BLOCK_IDB);
  guint8 tsresol = 6;

  put_u16 (out, linktype);
  put_u16 (out, 0);
  put_u32 (out, snaplen);
  if (name)
    put_option (out, OPT_IF_NAME, name, text_len (name));
  if (description)
    put_option (out, OPT_IF_DESCRIPTION, description, text_len (description));
  put_option (out, OPT_IF_TSRESOL, &tsresol, 1);
  put_u32 (out, OPT_ENDOFOPT);
  end_block (out, at);
}

gsize
aero_pcapng_packet_size (gsize captured)
{
  /* header 8, interface 4, timestamp 8, lengths 8, data, flags option,
   * end of options 4, trailing length 4 */
  return 8 + 4 + 8 + 8 + pad4 (captured) + option_size (4) + 4 + 4;
}

void
aero_pcapng_append_packet (GByteArray *out, gint64 timestamp_us, const guint8 *data,
                           gsize captured, gsize original, guint32 flags)
{
  guint at = begin_block (out, BLOCK_EPB);
  guint64 ts = (guint64) timestamp_us;

  put_u32 (out, 0);
  put_u32 (out, (guint32) (ts >> 32));
  put_u32 (out, (guint32) ts);
  put_u32 (out, (guint32) captured);
  put_u32 (out, (guint32) original);
  g_byte_array_append (out, data, captured);
  put_padding (out, captured);
  put_option (out, OPT_EPB_FLAGS, &flags, 4);
  put_u32 (out, OPT_ENDOFOPT);
  end_block (out, at);
}
