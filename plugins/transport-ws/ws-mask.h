/* ws-mask.h — WebSocket payload masking (RFC 6455 §5.3). */
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
