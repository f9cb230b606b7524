/* ws-frame.h — the parts of RFC 6455 framing the tunnel does itself: the
 * header of an unfragmented frame (§5.2) and masking (§5.3). */
#pragma once

#include <string.h>
#include <glib.h>

/* XORs @len bytes of @src with the masking key @mask into @dst, starting
 * at key byte @offset % 4 (the payload bytes of the frame already done), a
 * 32-bit word at a time. Masking and unmasking are the same operation. */
static inline void
ws_mask_copy (guint8 *dst, const guint8 *src, gsize len, const guint8 mask[4], gsize offset)
{
  guint8 rotated[4];
  guint32 m;
  gsize i = 0;

  for (int k = 0; k < 4; k++)
    rotated[k] = mask[(offset + (gsize) k) % 4];
  memcpy (&m, rotated, 4);
  for (; i + 4 <= len; i += 4)
    {
      guint32 w;

      memcpy (&w, src + i, 4);
      w ^= m;
      memcpy (dst + i, &w, 4);
    }
  for (; i < len; i++)
    dst[i] = src[i] ^ rotated[i % 4];
}

/* Bytes of the header of one unfragmented frame with a @len-byte payload. */
static inline gsize
ws_frame_header_size (gsize len, gboolean masked)
{
  return (len < 126 ? 2 : len < 65536 ? 4 : 10) + (masked ? 4 : 0);
}

/* Writes the header of an unfragmented frame with opcode @opcode and @len
 * bytes of payload into @out (14 bytes at most), with @mask's key when it
 * is not %NULL; returns its size, ws_frame_header_size(). */
static inline gsize
ws_frame_write_header (guint8 out[14], guint8 opcode, gsize len, const guint8 *mask)
{
  gsize size = ws_frame_header_size (len, mask != NULL) - (mask ? 4 : 0);

  out[0] = (guint8) (0x80 | (opcode & 0x0f)); /* FIN */
  if (size == 2)
    out[1] = (guint8) len;
  else if (size == 4)
    {
      out[1] = 126;
      out[2] = (guint8) (len >> 8);
      out[3] = (guint8) len;
    }
  else
    {
      out[1] = 127;
      for (int i = 0; i < 8; i++)
        out[2 + i] = (guint8) ((guint64) len >> (56 - 8 * i));
    }
  if (mask)
    {
      out[1] |= 0x80;
      memcpy (out + size, mask, 4);
      size += 4;
    }
  return size;
}

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* The Sec-WebSocket-Accept value for a Sec-WebSocket-Key (RFC 6455 §4.2.2). */
static inline char *
ws_accept_for_key (const char *key)
{
  GChecksum *sha1 = g_checksum_new (G_CHECKSUM_SHA1);
  guint8 digest[20];
  gsize len = sizeof digest;

  g_checksum_update (sha1, (const guchar *) key, -1);
  g_checksum_update (sha1, (const guchar *) WS_GUID, sizeof WS_GUID - 1);
  g_checksum_get_digest (sha1, digest, &len);
  g_checksum_free (sha1);
  return g_base64_encode (digest, len);
}
