/* aero-secret.h — secrets: HMAC-SHA256, comparison in constant time,
 * random bytes, and reading a secret from a file. Private to libaero-net.
 * A secret never reaches a log line or an error message. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AERO_HMAC_SHA256_LEN 32

/* Bytes held in memory that is wiped when freed. */
typedef struct {
  guint8 *data;
  gsize len;
} AeroSecret;

AeroSecret *aero_secret_new (const void *data, gsize len);
void aero_secret_free (AeroSecret *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroSecret, aero_secret_free)

/* Reads the secret in @path: the whole file, one trailing newline
 * ("\n" or "\r\n") removed, at most 64 KiB. The error names the file and
 * what is wrong, never the content. */
AeroSecret *aero_secret_read_file (const char *path, GError **error);

/* HMAC-SHA256 of @len bytes at @data under @key. */
void aero_hmac_sha256 (const AeroSecret *key, const void *data, gsize len,
                       guint8 out[AERO_HMAC_SHA256_LEN]);

/* Whether @len bytes at @a and @b are equal, in time that depends only on
 * @len. */
gboolean aero_memeq_constant_time (const guint8 *a, const guint8 *b, gsize len);

/* Whether @candidate equals @secret, in time that depends on neither the
 * content nor the length of either: both are first reduced to an HMAC
 * under a key drawn once per process, then compared in constant time. */
gboolean aero_secret_equals (const AeroSecret *secret, const char *candidate, gsize len);

/* Fills @buf with @len bytes from the kernel's random generator. */
void aero_random_bytes (guint8 *buf, gsize len);

G_END_DECLS
