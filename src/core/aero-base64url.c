/* aero-base64url.c — strict base64url decoding and encoding (see
 * aero-base64url.h). Strictness matters because the decoded bytes are
 * signed: two spellings of the same token must not both verify. */
#include "aero-base64url.h"

static const char alphabet[] =
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
sextet (char c)
{
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '-')
    return 62;
  if (c == '_')
    return 63;
  return -1;
}

guint8 *
aero_base64url_decode (const char *text, gsize len, gsize max_decoded, gsize *out_len)
{
  g_autofree guint8 *out = NULL;
  gsize n = 0;
  guint32 acc = 0;
  guint bits = 0;

  g_return_val_if_fail (text != NULL || len == 0, NULL);

  if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > max_decoded)
    return NULL;
  out = g_malloc (len / 4 * 3 + 3);
  for (gsize i = 0; i < len; i++)
    {
      int v = sextet (text[i]);

      if (v < 0)
        return NULL;
      acc = (acc << 6) | (guint32) v;
      bits += 6;
      if (bits >= 8)
        {
          bits -= 8;
          out[n++] = (guint8) (acc >> bits);
          acc &= (1u << bits) - 1;
        }
    }
  /* 2 or 4 bits are left over after a partial group: they must be zero. */
  if (acc != 0)
    return NULL;
  out[n] = 0;
  if (out_len)
    *out_len = n;
  return g_steal_pointer (&out);
}

char *
aero_base64url_encode (const guint8 *data, gsize len)
{
  GString *out = g_string_sized_new (AERO_BASE64URL_ENCODED_LEN (len) + 1);
  gsize i = 0;

  for (; i + 3 <= len; i += 3)
    {
      guint32 v = ((guint32) data[i] << 16) | ((guint32) data[i + 1] << 8) | data[i + 2];

      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
      g_string_append_c (out, alphabet[(v >> 6) & 63]);
      g_string_append_c (out, alphabet[v & 63]);
    }
  if (len - i == 1)
    {
      guint32 v = (guint32) data[i] << 16;

      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
    }
  else if (len - i == 2)
    {
      guint32 v = ((guint32) data[i] << 16) | ((guint32) data[i + 1] << 8);

      g_string_append_c (out, alphabet[(v >> 18) & 63]);
      g_string_append_c (out, alphabet[(v >> 12) & 63]);
      g_string_append_c (out, alphabet[(v >> 6) & 63]);
    }
  return g_string_free (out, FALSE);
}
