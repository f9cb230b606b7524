/* test-udp-codec.c — the UDP relay framing against the golden vectors
 * (../shared/vectors/udp-relay.json and the aero-udp-relay-v1v2 part of
 * aero-vectors-v2.json): every valid vector decodes to its fields and
 * encodes back to its bytes; every error vector fails with its reason. */
#include <string.h>

#include <json-glib/json-glib.h>

#include "rtc-udp-codec.h"

static GBytes *
field_bytes (JsonObject *v, const char *b64_member, const char *hex_member)
{
  if (json_object_has_member (v, b64_member))
    {
      gsize len = 0;
      guchar *raw = g_base64_decode (json_object_get_string_member (v, b64_member), &len);

      return g_bytes_new_take (raw, len);
    }
  else
    {
      const char *hex = json_object_get_string_member (v, hex_member);
      gsize len = strlen (hex) / 2;
      guint8 *raw = g_malloc (len + 1);

      for (gsize i = 0; i < len; i++)
        raw[i] = (guint8) (g_ascii_xdigit_value (hex[2 * i]) << 4 |
                           g_ascii_xdigit_value (hex[2 * i + 1]));
      return g_bytes_new_take (raw, len);
    }
}

static void
check_vector (JsonObject *v)
{
  const char *name = json_object_get_string_member (v, "name");
  g_autoptr (GBytes) frame = field_bytes (v, "frame_b64", "frameHex");
  RtcUdpDatagram d;
  RtcUdpDecodeResult r = rtc_udp_decode (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame),
                                         &d);

  g_test_message ("vector %s", name);
  if (json_object_get_boolean_member_with_default (v, "expectError", FALSE))
    {
      const char *want = json_object_get_string_member (v, "errorContains");

      g_assert_cmpint (r, !=, RTC_UDP_DECODE_OK);
      g_assert_nonnull (strstr (rtc_udp_decode_result_to_string (r), want));
      return;
    }
  {
    g_autoptr (GBytes) payload = field_bytes (v, "payload_b64", "payloadHex");
    g_autoptr (GInetAddress) ip = g_inet_address_new_from_string (
      json_object_get_string_member (v, "remoteIp"));
    g_autoptr (GBytes) again = NULL;

    g_assert_cmpint (r, ==, RTC_UDP_DECODE_OK);
    g_assert_cmpint (d.version, ==, json_object_get_int_member (v, "version"));
    g_assert_cmpint (d.guest_port, ==, json_object_get_int_member (v, "guestPort"));
    g_assert_cmpint (d.remote_port, ==, json_object_get_int_member (v, "remotePort"));
    g_assert_cmpint (d.family, ==, g_inet_address_get_family (ip));
    g_assert_cmpmem (d.remote, g_inet_address_get_native_size (ip),
                     g_inet_address_to_bytes (ip), g_inet_address_get_native_size (ip));
    g_assert_cmpmem (d.payload, d.payload_len, g_bytes_get_data (payload, NULL),
                     g_bytes_get_size (payload));
    again = rtc_udp_encode (d.version, d.family, d.guest_port, d.remote, d.remote_port, d.payload,
                            d.payload_len);
    g_assert_true (g_bytes_equal (again, frame));
  }
}

static JsonArray *
load_vectors (JsonParser *parser, const char *file, const char *section)
{
  const char *dir = g_getenv ("AERO_VECTORS_DIR");
  g_autofree char *path = g_build_filename (dir ? dir : "../shared/vectors", file, NULL);
  JsonObject *root;

  if (!json_parser_load_from_file (parser, path, NULL))
    return NULL;
  root = json_node_get_object (json_parser_get_root (parser));
  if (section)
    root = json_object_get_object_member (root, section);
  return json_object_get_array_member (root, "vectors");
}

static void
test_vectors (gconstpointer data)
{
  const char *const *which = data;
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonArray *vectors = load_vectors (parser, which[0], which[1]);

  if (vectors == NULL)
    {
      g_test_skip ("vectors not found (set AERO_VECTORS_DIR)");
      return;
    }
  g_assert_cmpuint (json_array_get_length (vectors), >, 0);
  for (guint i = 0; i < json_array_get_length (vectors); i++)
    check_vector (json_array_get_object_element (vectors, i));
}

/* A v1 message whose guest port would start A2 02 cannot exist: it is v2. */
static void
test_ambiguity (void)
{
  static const guint8 msg[] = { 0xA2, 0x02, 0x04, 0x00, 0x00, 0x35, 1, 2, 3, 4, 0, 53, 'x' };
  RtcUdpDatagram d;

  g_assert_cmpint (rtc_udp_decode (msg, sizeof msg, &d), ==, RTC_UDP_DECODE_OK);
  g_assert_cmpint (d.version, ==, 2);
  g_assert_cmpuint (d.payload_len, ==, 1);
  g_assert_cmpint (rtc_udp_decode (msg, 1, &d), ==, RTC_UDP_DECODE_TOO_SHORT);
  g_assert_cmpint (rtc_udp_decode (msg, 0, &d), ==, RTC_UDP_DECODE_TOO_SHORT);
}

int
main (int argc, char **argv)
{
  static const char *const relay[] = { "udp-relay.json", NULL };
  static const char *const v2[] = { "aero-vectors-v2.json", "aero-udp-relay-v1v2" };
  const char *dir = g_getenv ("AERO_VECTORS_DIR");
  g_autofree char *probe = g_build_filename (dir ? dir : "../shared/vectors", "udp-relay.json",
                                             NULL);

  g_test_init (&argc, &argv, NULL);
  if (!g_file_test (probe, G_FILE_TEST_EXISTS))
    {
      g_printerr ("vectors not found at %s: skipped\n", probe);
      return 77;
    }
  g_test_add_data_func ("/udp-codec/udp-relay.json", relay, test_vectors);
  g_test_add_data_func ("/udp-codec/aero-vectors-v2.json", v2, test_vectors);
  g_test_add_func ("/udp-codec/v1-v2-ambiguity", test_ambiguity);
  return g_test_run ();
}
