/* test-admission-unit.c — the building blocks of admission that the
 * vectors do not cover: strict base64url, the strict JSON check,
 * comparisons in constant time, issuing and verifying the aero_session
 * cookie, JWT edge cases, and the pcapng block layout. */
#include <glib/gstdio.h>
#include <string.h>

#include "aero-base64url.h"
#include "aero-json-strict.h"
#include "aero-pcapng.h"
#include "aero-secret.h"
#include "aero-token.h"

/* ---- base64url ------------------------------------------------------------- */

static void
test_base64url_roundtrip (void)
{
  for (gsize len = 0; len < 70; len++)
    {
      guint8 data[70];
      g_autofree char *text = NULL;
      g_autofree guint8 *back = NULL;
      gsize back_len = 0;

      for (gsize i = 0; i < len; i++)
        data[i] = (guint8) g_test_rand_int ();
      text = aero_base64url_encode (data, len);
      g_assert_cmpuint (strlen (text), ==, (len * 4 + 2) / 3);
      g_assert_null (strchr (text, '='));
      g_assert_null (strchr (text, '+'));
      g_assert_null (strchr (text, '/'));
      back = aero_base64url_decode (text, strlen (text), len, &back_len);
      g_assert_nonnull (back);
      g_assert_cmpmem (back, back_len, data, len);
      if (len > 0)
        g_assert_null (aero_base64url_decode (text, strlen (text), len - 1, &back_len));
    }
}

static void
test_base64url_strict (void)
{
  static const char *const bad[] = {
    "a",          /* len % 4 == 1 */
    "abcde",      /* len % 4 == 1 */
    "QQ==",       /* padding */
    "QR",         /* non-zero unused bits (2 chars: 4 bits left) */
    "QUF",        /* non-zero unused bits (3 chars: 2 bits left) */
    "ab+c",       /* standard alphabet */
    "ab/c",
    "ab c",
    "ab.c",
    "ab\x80" "c",
  };
  gsize len;

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      guint8 *out = aero_base64url_decode (bad[i], strlen (bad[i]), 1024, &len);

      if (out)
        g_error ("'%s' decoded", bad[i]);
    }
  {
    g_autofree guint8 *a = aero_base64url_decode ("QQ", 2, 16, &len);

    g_assert_nonnull (a);
    g_assert_cmpmem (a, len, "A", 1);
  }
  {
    g_autofree guint8 *e = aero_base64url_decode ("", 0, 16, &len);

    g_assert_nonnull (e);
    g_assert_cmpuint (len, ==, 0);
  }
}

/* ---- strict JSON ---------------------------------------------------------- */

static void
test_json_strict (void)
{
  static const char *const good[] = {
    "{}", " {\"a\":1} \n", "{\"a\":[1,2.5,-3e2,true,false,null,{\"b\":\"\\u00e9\\n\"}]}",
    "{\"a\":9223372036854775807}", "{\"a\":\"é\"}",
  };
  static const char *const bad[] = {
    "", "[]", "1", "\"a\"", "{\"a\":1}{\"b\":2}", "{\"a\":1} x", "{'a':1}", "{\"a\":1,}",
    "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":NaN}",
    "{\"a\":9223372036854775808}", "{\"a\":\"\\x\"}", "{\"a\":\"\t\"}", "{\"a\":1,\"a\":2}",
    "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "{\"a\":tru}", "{a:1}", "{\"a\" 1}",
  };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    if (!aero_json_is_strict_object (good[i], strlen (good[i]), 8))
      g_error ("refused: %s", good[i]);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    if (aero_json_is_strict_object (bad[i], strlen (bad[i]), 8))
      g_error ("accepted: %s", bad[i]);
  /* An embedded NUL and invalid UTF-8 are refused. */
  g_assert_false (aero_json_is_strict_object ("{\"a\":\"\0\"}", 9, 8));
  g_assert_false (aero_json_is_strict_object ("{\"a\":\"\xff\"}", 9, 8));
}

/* ---- secrets ------------------------------------------------------------------ */

static void
test_constant_time (void)
{
  g_autoptr (AeroSecret) secret = aero_secret_new ("s3cret-token", 12);
  guint8 a[32], b[32];

  memset (a, 0x5a, sizeof a);
  memcpy (b, a, sizeof b);
  g_assert_true (aero_memeq_constant_time (a, b, sizeof a));
  for (gsize i = 0; i < sizeof a; i++)
    {
      b[i] ^= 1;
      g_assert_false (aero_memeq_constant_time (a, b, sizeof a));
      b[i] ^= 1;
    }
  g_assert_true (aero_memeq_constant_time (a, b, 0));

  g_assert_true (aero_secret_equals (secret, "s3cret-token", 12));
  g_assert_false (aero_secret_equals (secret, "s3cret-tokeN", 12));
  g_assert_false (aero_secret_equals (secret, "s3cret-token!", 13));
  g_assert_false (aero_secret_equals (secret, "s3cret-toke", 11));
  g_assert_false (aero_secret_equals (secret, "", 0));
  g_assert_false (aero_secret_equals (NULL, "x", 1));
}

/* HMAC-SHA256 test case 2 of RFC 4231. */
static void
test_hmac (void)
{
  static const guint8 want[] = {
    0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95, 0x75, 0xc7,
    0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43,
  };
  g_autoptr (AeroSecret) key = aero_secret_new ("Jefe", 4);
  const char *data = "what do ya want for nothing?";
  guint8 mac[AERO_HMAC_SHA256_LEN];

  aero_hmac_sha256 (key, data, strlen (data), mac);
  g_assert_cmpmem (mac, sizeof mac, want, sizeof want);
}

static void
test_secret_file (void)
{
  g_autofree char *dir = g_dir_make_tmp ("aero-secret-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "secret", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing", NULL);
  g_autoptr (GError) error = NULL;
  AeroSecret *s;

  g_assert_true (g_file_set_contents (path, "hunter2-top-secret\r\n", -1, NULL));
  s = aero_secret_read_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (s->data, s->len, "hunter2-top-secret", 18);
  aero_secret_free (s);

  g_assert_true (g_file_set_contents (path, "\n", -1, NULL));
  s = aero_secret_read_file (path, &error);
  g_assert_null (s);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  s = aero_secret_read_file (missing, &error);
  g_assert_null (s);
  g_assert_nonnull (strstr (error->message, "missing"));
  g_clear_error (&error);

  g_assert_true (g_file_set_contents (path, "never-shown-in-errors", -1, NULL));
  g_assert_cmpint (g_chmod (path, 0), ==, 0);
  s = aero_secret_read_file (path, &error);
  if (s == NULL)
    g_assert_null (strstr (error->message, "never-shown"));
  aero_secret_free (s);
  g_clear_error (&error);

  g_remove (path);
  g_rmdir (dir);
}

/* ---- the aero_session cookie ---------------------------------------------------- */

static void
test_session_token_issue (void)
{
  g_autoptr (AeroSecret) secret = aero_secret_new ("test-session-secret", 19);
  g_autoptr (AeroSecret) other = aero_secret_new ("another-secret", 14);
  g_autofree char *token = aero_session_token_issue ("sid-1234567890", 1700000060, secret);
  g_autofree char *sid = NULL;
  gint64 exp = 0;

  /* The same claims and secret as the "valid" vector give its exact bytes. */
  g_assert_cmpstr (token, ==,
                   "eyJ2IjoxLCJzaWQiOiJzaWQtMTIzNDU2Nzg5MCIsImV4cCI6MTcwMDAwMDA2MH0."
                   "zcesNltUxXmW1SpDGWoATMZj1GLX1LMz0TIdVRzO8l8");
  g_assert_cmpint (aero_session_token_verify (token, secret, 1700000000000, &sid, &exp), ==,
                   AERO_TOKEN_OK);
  g_assert_cmpstr (sid, ==, "sid-1234567890");
  g_assert_cmpint (exp, ==, 1700000060);
  g_assert_cmpint (aero_session_token_verify (token, other, 1700000000000, NULL, NULL), ==,
                   AERO_TOKEN_BAD_SIGNATURE);
  g_assert_cmpint (aero_session_token_verify (token, secret, 1700000060000, NULL, NULL), ==,
                   AERO_TOKEN_EXPIRED);
  g_assert_cmpint (aero_session_token_verify (token, secret, 1700000059999, NULL, NULL), ==,
                   AERO_TOKEN_OK);
}

static void
test_session_token_bounds (void)
{
  g_autoptr (AeroSecret) secret = aero_secret_new ("k", 1);
  g_autoptr (GString) big = g_string_new ("{\"v\":1,\"sid\":\"x\",\"exp\":4000000000,\"pad\":\"");
  g_autofree char *payload = NULL;
  g_autofree char *token = NULL;
  g_autofree char *sig = NULL;
  guint8 mac[AERO_HMAC_SHA256_LEN];
  char long_sid[AERO_TOKEN_MAX_SID + 2];

  /* A payload over 16 KiB is refused even when it is signed. */
  while (big->len < AERO_TOKEN_MAX_PAYLOAD + 10)
    g_string_append_c (big, 'a');
  g_string_append (big, "\"}");
  payload = aero_base64url_encode ((const guint8 *) big->str, big->len);
  aero_hmac_sha256 (secret, payload, strlen (payload), mac);
  sig = aero_base64url_encode (mac, sizeof mac);
  token = g_strconcat (payload, ".", sig, NULL);
  g_assert_cmpint (aero_session_token_verify (token, secret, 0, NULL, NULL), ==,
                   AERO_TOKEN_MALFORMED);

  g_assert_false (aero_token_sid_is_valid (""));
  g_assert_false (aero_token_sid_is_valid ("a b"));
  g_assert_false (aero_token_sid_is_valid ("é"));
  memset (long_sid, 'a', sizeof long_sid - 1);
  long_sid[sizeof long_sid - 1] = '\0';
  g_assert_false (aero_token_sid_is_valid (long_sid));
  long_sid[AERO_TOKEN_MAX_SID] = '\0';
  g_assert_true (aero_token_sid_is_valid (long_sid));
}

/* ---- JWT ---------------------------------------------------------------------------- */

static char *
make_jwt (const char *header, const char *claims, const AeroSecret *secret)
{
  g_autofree char *h = aero_base64url_encode ((const guint8 *) header, strlen (header));
  g_autofree char *p = aero_base64url_encode ((const guint8 *) claims, strlen (claims));
  g_autofree char *signing = g_strconcat (h, ".", p, NULL);
  g_autofree char *s = NULL;
  guint8 mac[AERO_HMAC_SHA256_LEN];

  aero_hmac_sha256 (secret, signing, strlen (signing), mac);
  s = aero_base64url_encode (mac, sizeof mac);
  return g_strconcat (signing, ".", s, NULL);
}

static void
test_jwt_cases (void)
{
  g_autoptr (AeroSecret) secret = aero_secret_new ("test-jwt-secret", 15);
  static const struct {
    const char *header;
    const char *claims;
    const char *aud;
    AeroTokenResult want;
  } cases[] = {
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100}", NULL, AERO_TOKEN_OK },
    { "{\"alg\":\"none\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100}", NULL, AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100}", NULL,
      AERO_TOKEN_MALFORMED },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"aud\":[\"x\",\"y\"]}", "y",
      AERO_TOKEN_OK },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"aud\":[\"x\"]}", "y",
      AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"aud\":[]}", NULL,
      AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"aud\":5}", NULL,
      AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"nbf\":151}", NULL,
      AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"nbf\":150.0}", NULL,
      AERO_TOKEN_INVALID },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100,\"nbf\":149}", NULL,
      AERO_TOKEN_OK },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":150,\"iat\":100}", NULL, AERO_TOKEN_EXPIRED },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":99999999999999999999,\"iat\":1}", NULL,
      AERO_TOKEN_MALFORMED },
    { "{\"alg\":\"HS256\"}", "{\"sid\":\"a\",\"exp\":200,\"iat\":100}{}", NULL,
      AERO_TOKEN_MALFORMED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *token = make_jwt (cases[i].header, cases[i].claims, secret);
      AeroTokenResult r = aero_jwt_verify (token, secret, 150, cases[i].aud, NULL, NULL);

      if (r != cases[i].want)
        g_error ("case %u (%s %s): got %d, want %d", i, cases[i].header, cases[i].claims, r,
                 cases[i].want);
    }
}

/* ---- pcapng ------------------------------------------------------------------------ */

static guint32
u32_at (GByteArray *b, gsize at)
{
  guint32 v;

  memcpy (&v, b->data + at, 4);
  return v;
}

static void
test_pcapng_layout (void)
{
  g_autoptr (GByteArray) out = g_byte_array_new ();
  guint8 frame[61];
  gsize at;

  memset (frame, 0xab, sizeof frame);
  aero_pcapng_append_section_header (out, "aero-netd test");
  g_assert_cmpuint (u32_at (out, 0), ==, 0x0A0D0D0A);
  g_assert_cmpuint (u32_at (out, 8), ==, 0x1A2B3C4D);
  g_assert_cmpuint (u32_at (out, 4), ==, out->len);
  g_assert_cmpuint (u32_at (out, out->len - 4), ==, out->len);

  at = out->len;
  aero_pcapng_append_interface (out, AERO_PCAPNG_LINKTYPE_ETHERNET, 65535, "aero-x", "session x");
  g_assert_cmpuint (u32_at (out, at), ==, 1);
  g_assert_cmpuint (u32_at (out, at + 4), ==, out->len - at);
  g_assert_cmpuint ((out->len - at) % 4, ==, 0);

  at = out->len;
  aero_pcapng_append_packet (out, G_GINT64_CONSTANT (1700000000123456), frame, sizeof frame, 1514,
                             AERO_PCAPNG_FLAG_OUTBOUND);
  g_assert_cmpuint (u32_at (out, at), ==, 6);
  g_assert_cmpuint (out->len - at, ==, aero_pcapng_packet_size (sizeof frame));
  g_assert_cmpuint (u32_at (out, at + 4), ==, out->len - at);
  g_assert_cmpuint (((guint64) u32_at (out, at + 12) << 32 | u32_at (out, at + 16)), ==,
                    G_GUINT64_CONSTANT (1700000000123456));
  g_assert_cmpuint (u32_at (out, at + 20), ==, sizeof frame);
  g_assert_cmpuint (u32_at (out, at + 24), ==, 1514);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/base64url/roundtrip", test_base64url_roundtrip);
  g_test_add_func ("/base64url/strict", test_base64url_strict);
  g_test_add_func ("/json/strict", test_json_strict);
  g_test_add_func ("/secret/constant-time", test_constant_time);
  g_test_add_func ("/secret/hmac-sha256", test_hmac);
  g_test_add_func ("/secret/file", test_secret_file);
  g_test_add_func ("/session-token/issue", test_session_token_issue);
  g_test_add_func ("/session-token/bounds", test_session_token_bounds);
  g_test_add_func ("/jwt/cases", test_jwt_cases);
  g_test_add_func ("/pcapng/layout", test_pcapng_layout);
  return g_test_run ();
}
