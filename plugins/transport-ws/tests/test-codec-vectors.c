/* test-codec-vectors.c — the core's aero-l2-tunnel-v1 codec against the
 * golden vectors of the public Aero clients.
 *
 * Reads vectors/l2-tunnel-v1.json (base64 fields) and the aero-l2-tunnel-v1
 * section of vectors/aero-vectors-v2.json (hex fields) from
 * $AERO_VECTORS_DIR. Every valid vector must decode to its type, flags and
 * payload and re-encode to exactly its wire bytes (structured ERRORs also
 * through aero_l2_encode_error()); every invalid one must fail with the
 * expected error. Exits 77 (skipped) when the vectors are not there. */
#include <string.h>

#include <json-glib/json-glib.h>
#include <aero-net/aero-net.h>

typedef struct {
  char *name;
  GBytes *wire;
  gboolean valid;
  gint64 type;
  gint64 flags;
  GBytes *payload;
  gboolean structured;
  gint64 code;
  char *message;
  char *error_contains;             /* l2-tunnel-v1.json */
  char *error_code;                 /* aero-vectors-v2.json */
} Vector;

static GPtrArray *vectors;

static void
vector_free (Vector *v)
{
  g_free (v->name);
  g_clear_pointer (&v->wire, g_bytes_unref);
  g_clear_pointer (&v->payload, g_bytes_unref);
  g_free (v->message);
  g_free (v->error_contains);
  g_free (v->error_code);
  g_free (v);
}

static GBytes *
from_b64 (const char *text)
{
  gsize len;
  guchar *data = g_base64_decode (text, &len);

  return g_bytes_new_take (data, len);
}

static GBytes *
from_hex (const char *text)
{
  gsize n = strlen (text) / 2;
  guint8 *data = g_malloc (n ? n : 1);

  g_assert_cmpuint (strlen (text) % 2, ==, 0);
  for (gsize i = 0; i < n; i++)
    {
      int hi = g_ascii_xdigit_value (text[2 * i]), lo = g_ascii_xdigit_value (text[2 * i + 1]);

      g_assert_true (hi >= 0 && lo >= 0);
      data[i] = (guint8) (hi << 4 | lo);
    }
  return g_bytes_new_take (data, n);
}

static JsonNode *
load_json (const char *dir, const char *file)
{
  g_autofree char *path = g_build_filename (dir, file, NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;

  if (!json_parser_load_from_file (parser, path, &error))
    g_error ("%s: %s", path, error->message);
  return json_node_copy (json_parser_get_root (parser));
}

static void
collect_v1 (JsonNode *root)
{
  JsonArray *list = json_object_get_array_member (json_node_get_object (root), "vectors");

  for (guint i = 0; i < json_array_get_length (list); i++)
    {
      JsonObject *o = json_array_get_object_element (list, i);
      Vector *v = g_new0 (Vector, 1);

      v->name = g_strdup_printf ("/l2-tunnel-v1/%s", json_object_get_string_member (o, "name"));
      v->wire = from_b64 (json_object_get_string_member (o, "wire_b64"));
      /* frame_b64 is the same message under its older name. */
      if (json_object_has_member (o, "frame_b64"))
        {
          g_autoptr (GBytes) frame = from_b64 (json_object_get_string_member (o, "frame_b64"));

          g_assert_true (g_bytes_equal (frame, v->wire));
        }
      v->valid = !json_object_get_boolean_member_with_default (o, "expectError", FALSE);
      if (v->valid)
        {
          v->type = json_object_get_int_member (o, "type");
          v->flags = json_object_get_int_member (o, "flags");
          v->payload = from_b64 (json_object_get_string_member (o, "payload_b64"));
          if (json_object_has_member (o, "code"))
            {
              v->structured = TRUE;
              v->code = json_object_get_int_member (o, "code");
              v->message = g_strdup (json_object_get_string_member (o, "message"));
            }
        }
      else
        v->error_contains = g_strdup (json_object_get_string_member (o, "errorContains"));
      g_ptr_array_add (vectors, v);
    }
}

static void
collect_v2 (JsonNode *root)
{
  JsonObject *section = json_object_get_object_member (json_node_get_object (root),
                                                       "aero-l2-tunnel-v1");
  JsonArray *valid = json_object_get_array_member (section, "valid");
  JsonArray *invalid = json_object_get_array_member (section, "invalid");

  for (guint i = 0; i < json_array_get_length (valid); i++)
    {
      JsonObject *o = json_array_get_object_element (valid, i);
      Vector *v = g_new0 (Vector, 1);

      v->name = g_strdup_printf ("/aero-vectors-v2/valid/%s",
                                 json_object_get_string_member (o, "name"));
      v->valid = TRUE;
      v->wire = from_hex (json_object_get_string_member (o, "wireHex"));
      v->type = json_object_get_int_member (o, "msgType");
      v->flags = json_object_get_int_member (o, "flags");
      v->payload = from_hex (json_object_get_string_member (o, "payloadHex"));
      if (json_object_has_member (o, "structured"))
        {
          JsonObject *s = json_object_get_object_member (o, "structured");

          v->structured = TRUE;
          v->code = json_object_get_int_member (s, "code");
          v->message = g_strdup (json_object_get_string_member (s, "message"));
        }
      g_ptr_array_add (vectors, v);
    }
  for (guint i = 0; i < json_array_get_length (invalid); i++)
    {
      JsonObject *o = json_array_get_object_element (invalid, i);
      Vector *v = g_new0 (Vector, 1);

      v->name = g_strdup_printf ("/aero-vectors-v2/invalid/%s",
                                 json_object_get_string_member (o, "name"));
      v->wire = from_hex (json_object_get_string_member (o, "wireHex"));
      v->error_code = g_strdup (json_object_get_string_member (o, "errorCode"));
      g_ptr_array_add (vectors, v);
    }
}

/* The vectors' errorCode names for the codec's outcomes. */
static const char *
error_code_name (AeroL2DecodeResult result)
{
  switch (result)
    {
    case AERO_L2_DECODE_TOO_SHORT: return "too_short";
    case AERO_L2_DECODE_INVALID_MAGIC: return "invalid_magic";
    case AERO_L2_DECODE_UNSUPPORTED_VERSION: return "unsupported_version";
    case AERO_L2_DECODE_PAYLOAD_TOO_LARGE: return "payload_too_large";
    case AERO_L2_DECODE_OK:
    default: return "ok";
    }
}

static void
test_vector (gconstpointer data)
{
  const Vector *v = data;
  gsize wire_len;
  const guint8 *wire = g_bytes_get_data (v->wire, &wire_len);
  AeroL2Message m;
  AeroL2DecodeResult result = aero_l2_decode (wire, wire_len, NULL, &m);

  if (!v->valid)
    {
      g_assert_cmpint (result, !=, AERO_L2_DECODE_OK);
      if (v->error_contains)
        g_assert_nonnull (strstr (aero_l2_decode_result_to_string (result), v->error_contains));
      if (v->error_code)
        g_assert_cmpstr (error_code_name (result), ==, v->error_code);
      return;
    }

  g_assert_cmpint (result, ==, AERO_L2_DECODE_OK);
  g_assert_cmpint (m.type, ==, v->type);
  g_assert_cmpint (m.flags, ==, v->flags);
  g_assert_cmpmem (m.payload, m.payload_len, g_bytes_get_data (v->payload, NULL),
                   g_bytes_get_size (v->payload));

  {
    g_autoptr (GBytes) again = aero_l2_encode ((guint8) v->type, m.payload, m.payload_len);

    g_assert_true (g_bytes_equal (again, v->wire));
  }
  if (v->type == AERO_L2_FRAME)
    {
      g_autoptr (GBytes) frame = g_bytes_new (m.payload, m.payload_len);
      g_autoptr (GBytes) again = aero_l2_encode_frame (frame);

      g_assert_true (g_bytes_equal (again, v->wire));
    }
  if (v->type == AERO_L2_ERROR)
    {
      g_autofree char *text = NULL;
      guint16 code;
      gboolean structured = aero_l2_parse_error (m.payload, m.payload_len, &code, &text);

      g_assert_cmpint (structured, ==, v->structured);
      if (v->structured)
        {
          g_autoptr (GBytes) again = aero_l2_encode_error ((guint16) v->code, v->message);

          g_assert_cmpint (code, ==, v->code);
          g_assert_cmpstr (text, ==, v->message);
          g_assert_true (g_bytes_equal (again, v->wire));
        }
      else
        {
          g_assert_cmpint (code, ==, 0);
          g_assert_cmpmem (text, strlen (text), m.payload, m.payload_len);
        }
    }
}

int
main (int argc, char **argv)
{
  const char *dir = g_getenv ("AERO_VECTORS_DIR");
  g_autofree char *v1 = NULL;
  g_autofree char *v2 = NULL;
  JsonNode *root;
  int status;

  g_test_init (&argc, &argv, NULL);
  if (dir == NULL)
    dir = "../shared/vectors";
  v1 = g_build_filename (dir, "l2-tunnel-v1.json", NULL);
  v2 = g_build_filename (dir, "aero-vectors-v2.json", NULL);
  if (!g_file_test (v1, G_FILE_TEST_IS_REGULAR) || !g_file_test (v2, G_FILE_TEST_IS_REGULAR))
    {
      g_print ("SKIP: golden vectors not found in %s (set AERO_VECTORS_DIR to the shared "
               "vectors/ directory)\n", dir);
      return 77;
    }

  vectors = g_ptr_array_new_with_free_func ((GDestroyNotify) vector_free);
  root = load_json (dir, "l2-tunnel-v1.json");
  collect_v1 (root);
  json_node_unref (root);
  root = load_json (dir, "aero-vectors-v2.json");
  collect_v2 (root);
  json_node_unref (root);
  g_assert_cmpuint (vectors->len, >, 0);

  for (guint i = 0; i < vectors->len; i++)
    {
      Vector *v = g_ptr_array_index (vectors, i);

      g_test_add_data_func (v->name, v, test_vector);
    }
  status = g_test_run ();
  g_ptr_array_unref (vectors);
  return status;
}
