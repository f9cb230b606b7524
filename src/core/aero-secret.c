/* aero-secret.c — HMAC-SHA256, constant-time comparison, random bytes and
 * secret files (see aero-secret.h). */
#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "aero-secret.h"

#define MAX_SECRET_FILE (64 * 1024)

static void
wipe (void *data, gsize len)
{
  volatile guint8 *p = data;

  while (len--)
    *p++ = 0;
}

AeroSecret *
aero_secret_new (const void *data, gsize len)
{
  AeroSecret *secret = g_new0 (AeroSecret, 1);

  secret->data = g_malloc (len + 1);
  if (len)
    memcpy (secret->data, data, len);
  secret->data[len] = 0;
  secret->len = len;
  return secret;
}

void
aero_secret_free (AeroSecret *secret)
{
  if (secret == NULL)
    return;
  wipe (secret->data, secret->len);
  g_free (secret->data);
  g_free (secret);
}

AeroSecret *
aero_secret_read_file (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  char *text = NULL;
  gsize len = 0;
  AeroSecret *secret;
  GStatBuf st;

  if (g_stat (path, &st) == 0 && S_ISREG (st.st_mode) && st.st_size > MAX_SECRET_FILE)
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "the file '%s' is larger than %d bytes", path, MAX_SECRET_FILE);
      return NULL;
    }
  /* GLib's message names the file and the reason, never the content. */
  if (!g_file_get_contents (path, &text, &len, &local))
    {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED, "%s", local->message);
      return NULL;
    }
  if (len > MAX_SECRET_FILE)
    {
      wipe (text, len);
      g_free (text);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                   "the file '%s' is larger than %d bytes", path, MAX_SECRET_FILE);
      return NULL;
    }
  secret = aero_secret_new (text, len);
  wipe (text, len);
  g_free (text);
  if (secret->len > 0 && secret->data[secret->len - 1] == '\n')
    secret->len--;
  if (secret->len > 0 && secret->data[secret->len - 1] == '\r')
    secret->len--;
  if (secret->len == 0)
    {
      aero_secret_free (secret);
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "the file '%s' is empty", path);
      return NULL;
    }
  return secret;
}

void
aero_hmac_sha256 (const AeroSecret *key, const void *data, gsize len,
                  guint8 out[AERO_HMAC_SHA256_LEN])
{
  GHmac *hmac = g_hmac_new (G_CHECKSUM_SHA256, key->data, key->len);
  gsize out_len = AERO_HMAC_SHA256_LEN;

  g_hmac_update (hmac, data, len);
  g_hmac_get_digest (hmac, out, &out_len);
  g_hmac_unref (hmac);
}

gboolean
aero_memeq_constant_time (const guint8 *a, const guint8 *b, gsize len)
{
  volatile guint8 diff = 0;

  for (gsize i = 0; i < len; i++)
    diff |= a[i] ^ b[i];
  return diff == 0;
}

static gpointer
make_blinding_key (gpointer data)
{
  guint8 key[32];
  AeroSecret *secret;

  aero_random_bytes (key, sizeof key);
  secret = aero_secret_new (key, sizeof key);
  wipe (key, sizeof key);
  return secret;
}

gboolean
aero_secret_equals (const AeroSecret *secret, const char *candidate, gsize len)
{
  static GOnce once = G_ONCE_INIT;
  const AeroSecret *key = g_once (&once, make_blinding_key, NULL);
  guint8 a[AERO_HMAC_SHA256_LEN], b[AERO_HMAC_SHA256_LEN];
  gboolean equal;

  if (secret == NULL || candidate == NULL)
    return FALSE;
  aero_hmac_sha256 (key, secret->data, secret->len, a);
  aero_hmac_sha256 (key, candidate, len, b);
  equal = aero_memeq_constant_time (a, b, sizeof a);
  wipe (a, sizeof a);
  wipe (b, sizeof b);
  return equal;
}

void
aero_random_bytes (guint8 *buf, gsize len)
{
  gsize done = 0;

  while (done < len)
    {
      gssize n = getrandom (buf + done, len - done, 0);

      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          g_error ("getrandom() failed: %s", g_strerror (errno));
        }
      done += (gsize) n;
    }
}
