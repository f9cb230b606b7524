/* test-config.c — unit tests for AeroConfigGroup and aero_parse_socket_address(). */

#include <aero-net/aero-config.h>

#include <string.h>

#define FILE_NAME "test.ini"

static AeroConfigGroup *
group_from_data (const char *data)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (GError) error = NULL;

  g_key_file_load_from_data (keyfile, data, -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  return aero_config_group_new (keyfile, FILE_NAME, "g");
}

static void
test_error_quark (void)
{
  g_assert_cmpstr (g_quark_to_string (AERO_CONFIG_ERROR), ==, "aero-config-error-quark");
}

static void
test_names (void)
{
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\n");

  g_assert_cmpstr (aero_config_group_get_name (group), ==, "g");
  g_assert_cmpstr (aero_config_group_get_file (group), ==, FILE_NAME);
  aero_config_group_free (NULL);
}

static void
test_group_error (void)
{
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) error2 = NULL;

  aero_config_group_error (group, &error, AERO_CONFIG_ERROR_INVALID_VALUE, "key",
                           "expected %d things, got '%s'", 3, "x");
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] key: expected 3 things, got 'x'");

  aero_config_group_error (group, &error2, AERO_CONFIG_ERROR_PLUGIN, NULL, "no such plugin");
  g_assert_error (error2, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_PLUGIN);
  g_assert_cmpstr (error2->message, ==, "test.ini: [g]: no such plugin");

  /* A NULL error location is fine. */
  aero_config_group_error (group, NULL, AERO_CONFIG_ERROR_PLUGIN, NULL, "ignored");
}

static void
test_string (void)
{
  g_autoptr (AeroConfigGroup) group =
    group_from_data ("[g]\nname =   hello world  \nempty =\nraw = a\\sb\n");
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL;
  g_autofree char *empty = NULL;
  g_autofree char *raw = NULL;
  g_autofree char *fallback = NULL;
  g_autofree char *absent = NULL;
  g_autofree char *missing = NULL;

  name = aero_config_group_get_string (group, "name", "x", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (name, ==, "hello world");

  empty = aero_config_group_get_string (group, "empty", "x", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (empty, ==, "");

  raw = aero_config_group_get_string (group, "raw", NULL, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (raw, ==, "a\\sb");

  fallback = aero_config_group_get_string (group, "other", "dflt", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (fallback, ==, "dflt");

  absent = aero_config_group_get_string (group, "other", NULL, FALSE, &error);
  g_assert_no_error (error);
  g_assert_null (absent);

  missing = aero_config_group_get_string (group, "needed", "ignored", TRUE, &error);
  g_assert_null (missing);
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_MISSING_KEY);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] needed: required key is missing");
}

static void
test_string_list (void)
{
  g_autoptr (AeroConfigGroup) group =
    group_from_data ("[g]\nlist = a, b;c ,, ; d e \nempty =\n");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) list = NULL;
  g_auto (GStrv) empty = NULL;
  g_auto (GStrv) absent = NULL;
  g_auto (GStrv) missing = NULL;
  const char *const expected[] = { "a", "b", "c", "d e", NULL };

  list = aero_config_group_get_string_list (group, "list", TRUE, &error);
  g_assert_no_error (error);
  g_assert_true (g_strv_equal ((const char *const *) list, expected));

  empty = aero_config_group_get_string_list (group, "empty", TRUE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (empty);
  g_assert_cmpuint (g_strv_length (empty), ==, 0);

  absent = aero_config_group_get_string_list (group, "other", FALSE, &error);
  g_assert_no_error (error);
  g_assert_nonnull (absent);
  g_assert_cmpuint (g_strv_length (absent), ==, 0);

  missing = aero_config_group_get_string_list (group, "other", TRUE, &error);
  g_assert_null (missing);
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_MISSING_KEY);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] other: required key is missing");
}

static void
assert_int_error (const char *value, gint64 min, gint64 max, const char *expected_message)
{
  g_autofree char *data = g_strdup_printf ("[g]\nn = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  gint64 out = 12345;

  g_assert_false (aero_config_group_get_int (group, "n", min, max, 7, &out, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==, expected_message);
  g_assert_cmpint (out, ==, 12345);
}

static void
assert_int_ok (const char *value, gint64 expected)
{
  g_autofree char *data = g_strdup_printf ("[g]\nn = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  gint64 out = 0;

  g_assert_true (aero_config_group_get_int (group, "n", G_MININT64, G_MAXINT64, 7, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out, ==, expected);
}

static void
test_int (void)
{
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\n");
  g_autoptr (GError) error = NULL;
  gint64 out = 0;

  assert_int_ok ("42", 42);
  assert_int_ok ("  -17 ", -17);
  assert_int_ok ("+3", 3);
  assert_int_ok ("9223372036854775807", G_MAXINT64);
  assert_int_ok ("-9223372036854775808", G_MININT64);

  g_assert_true (aero_config_group_get_int (group, "n", 0, 10, 7, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpint (out, ==, 7);

  assert_int_error ("abc", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got 'abc'");
  assert_int_error ("601", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got '601'");
  assert_int_error ("-1", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got '-1'");
  assert_int_error ("12abc", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got '12abc'");
  assert_int_error ("1.5", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got '1.5'");
  assert_int_error ("", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got ''");
  assert_int_error ("0x10", 0, 600, "test.ini: [g] n: expected an integer between 0 and 600, got '0x10'");
  assert_int_error ("9223372036854775808", G_MININT64, G_MAXINT64,
                    "test.ini: [g] n: expected an integer, got '9223372036854775808'");
  assert_int_error ("x", 1, G_MAXINT64, "test.ini: [g] n: expected an integer of at least 1, got 'x'");
  assert_int_error ("x", G_MININT64, 5, "test.ini: [g] n: expected an integer of at most 5, got 'x'");
}

static void
assert_size (const char *value, guint64 expected)
{
  g_autofree char *data = g_strdup_printf ("[g]\ns = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  guint64 out = 0;

  g_assert_true (aero_config_group_get_size (group, "s", 0, G_MAXUINT64, 1, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, expected);
}

static void
assert_size_error (const char *value, guint64 min, guint64 max, const char *expected_message)
{
  g_autofree char *data = g_strdup_printf ("[g]\ns = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  guint64 out = 99;

  g_assert_false (aero_config_group_get_size (group, "s", min, max, 1, &out, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  if (expected_message != NULL)
    g_assert_cmpstr (error->message, ==, expected_message);
  else
    g_assert_true (g_str_has_prefix (error->message, "test.ini: [g] s: expected a size"));
  g_assert_cmpuint (out, ==, 99);
}

static void
test_size (void)
{
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\n");
  g_autoptr (GError) error = NULL;
  guint64 out = 0;

  assert_size ("0", 0);
  assert_size ("512", 512);
  assert_size ("64k", 64 * 1024);
  assert_size ("64K", 64 * 1024);
  assert_size ("64KiB", 64 * 1024);
  assert_size ("64 KiB", 64 * 1024);
  assert_size ("2M", 2 * 1024 * 1024);
  assert_size ("2MiB", 2 * 1024 * 1024);
  assert_size ("3G", G_GUINT64_CONSTANT (3) << 30);
  assert_size ("3GiB", G_GUINT64_CONSTANT (3) << 30);
  assert_size ("17179869183G", G_GUINT64_CONSTANT (17179869183) << 30);
  assert_size ("18446744073709551615", G_MAXUINT64);

  g_assert_true (aero_config_group_get_size (group, "s", 0, 10, 5, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, 5);

  assert_size_error ("abc", 1024, 1024 * 1024,
                     "test.ini: [g] s: expected a size between 1KiB and 1MiB "
                     "(bytes, with an optional suffix k, M or G), got 'abc'");
  assert_size_error ("2M", 512, 1024 * 1024,
                     "test.ini: [g] s: expected a size between 512 and 1MiB "
                     "(bytes, with an optional suffix k, M or G), got '2M'");
  assert_size_error ("100", 1024, G_GUINT64_CONSTANT (4) << 30, NULL);
  assert_size_error ("100", 1024, G_MAXUINT64,
                     "test.ini: [g] s: expected a size of at least 1KiB "
                     "(bytes, with an optional suffix k, M or G), got '100'");
  assert_size_error ("2G", 0, 1024 * 1024 * 1024,
                     "test.ini: [g] s: expected a size of at most 1GiB "
                     "(bytes, with an optional suffix k, M or G), got '2G'");
  assert_size_error ("1T", 0, G_MAXUINT64,
                     "test.ini: [g] s: expected a size "
                     "(bytes, with an optional suffix k, M or G), got '1T'");
  /* Overflow, of the digits and of the multiplication. */
  assert_size_error ("18446744073709551616", 0, G_MAXUINT64, NULL);
  assert_size_error ("17179869184G", 0, G_MAXUINT64, NULL);
  assert_size_error ("-1", 0, G_MAXUINT64, NULL);
  assert_size_error ("1T", 0, G_MAXUINT64, NULL);
  assert_size_error ("1kb", 0, G_MAXUINT64, NULL);
  assert_size_error ("1.5M", 0, G_MAXUINT64, NULL);
  assert_size_error ("k", 0, G_MAXUINT64, NULL);
  assert_size_error ("", 0, G_MAXUINT64, NULL);
}

static void
assert_duration (const char *value, guint64 expected_ms)
{
  g_autofree char *data = g_strdup_printf ("[g]\nd = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  guint64 out = 0;

  g_assert_true (aero_config_group_get_duration (group, "d", 0, G_MAXUINT64, 1, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, expected_ms);
}

static void
assert_duration_error (const char *value, guint64 min, guint64 max, const char *expected_message)
{
  g_autofree char *data = g_strdup_printf ("[g]\nd = %s\n", value);
  g_autoptr (AeroConfigGroup) group = group_from_data (data);
  g_autoptr (GError) error = NULL;
  guint64 out = 99;

  g_assert_false (aero_config_group_get_duration (group, "d", min, max, 1, &out, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  if (expected_message != NULL)
    g_assert_cmpstr (error->message, ==, expected_message);
  else
    g_assert_true (g_str_has_prefix (error->message, "test.ini: [g] d: expected a duration"));
  g_assert_cmpuint (out, ==, 99);
}

static void
test_duration (void)
{
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\n");
  g_autoptr (GError) error = NULL;
  guint64 out = 0;

  assert_duration ("250ms", 250);
  assert_duration ("30", 30000);
  assert_duration ("2s", 2000);
  assert_duration ("2 s", 2000);
  assert_duration ("5min", 300000);
  assert_duration ("1h", 3600000);
  assert_duration ("1H", 3600000);
  assert_duration ("1.5s", 1500);
  assert_duration ("0.5min", 30000);
  assert_duration ("0.001", 1);
  assert_duration ("0", 0);

  g_assert_true (aero_config_group_get_duration (group, "d", 0, 10, 5, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, 5);

  assert_duration_error ("abc", 1000, 600000,
                         "test.ini: [g] d: expected a duration between 1s and 10min "
                         "(a number with a unit ms, s, min or h), got 'abc'");
  assert_duration_error ("11min", 1000, 600000,
                         "test.ini: [g] d: expected a duration between 1s and 10min "
                         "(a number with a unit ms, s, min or h), got '11min'");
  assert_duration_error ("999ms", 1000, 600000, NULL);
  assert_duration_error ("10ms", 100, G_MAXUINT64,
                         "test.ini: [g] d: expected a duration of at least 100ms "
                         "(a number with a unit ms, s, min or h), got '10ms'");
  assert_duration_error ("2h", 0, 90 * 60 * 1000,
                         "test.ini: [g] d: expected a duration of at most 90min "
                         "(a number with a unit ms, s, min or h), got '2h'");
  assert_duration_error ("3 days", 0, G_MAXUINT64,
                         "test.ini: [g] d: expected a duration "
                         "(a number with a unit ms, s, min or h), got '3 days'");
  assert_duration_error ("1.5ms", 0, G_MAXUINT64, NULL);
  assert_duration_error ("10d", 0, G_MAXUINT64, NULL);
  assert_duration_error ("1m", 0, G_MAXUINT64, NULL);
  assert_duration_error ("-1s", 0, G_MAXUINT64, NULL);
  assert_duration_error ("1.s", 0, G_MAXUINT64, NULL);
  assert_duration_error (".5s", 0, G_MAXUINT64, NULL);
  assert_duration_error ("s", 0, G_MAXUINT64, NULL);
  assert_duration_error ("", 0, G_MAXUINT64, NULL);
  assert_duration_error ("99999999999999999999h", 0, G_MAXUINT64, NULL);
  assert_duration_error ("5124095576030432h", 0, G_MAXUINT64, NULL);
}

static void
test_bool (void)
{
  const char *const true_words[] = { "true", "TRUE", "yes", "Yes", "on", "ON", "1" };
  const char *const false_words[] = { "false", "False", "no", "NO", "off", "Off", "0" };

  for (gsize i = 0; i < G_N_ELEMENTS (true_words); i++)
    {
      g_autofree char *data = g_strdup_printf ("[g]\nb = %s\n[h]\nb = %s\n",
                                               true_words[i], false_words[i]);
      g_autoptr (GKeyFile) keyfile = g_key_file_new ();
      g_autoptr (AeroConfigGroup) g = NULL;
      g_autoptr (AeroConfigGroup) h = NULL;
      g_autoptr (GError) error = NULL;
      gboolean out;

      g_assert_true (g_key_file_load_from_data (keyfile, data, -1, G_KEY_FILE_NONE, NULL));
      g = aero_config_group_new (keyfile, FILE_NAME, "g");
      h = aero_config_group_new (keyfile, FILE_NAME, "h");

      out = FALSE;
      g_assert_true (aero_config_group_get_bool (g, "b", FALSE, &out, &error));
      g_assert_no_error (error);
      g_assert_true (out);

      out = TRUE;
      g_assert_true (aero_config_group_get_bool (h, "b", TRUE, &out, &error));
      g_assert_no_error (error);
      g_assert_false (out);
    }

  {
    g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\nb = maybe\n");
    g_autoptr (GError) error = NULL;
    gboolean out = FALSE;

    g_assert_true (aero_config_group_get_bool (group, "other", TRUE, &out, &error));
    g_assert_no_error (error);
    g_assert_true (out);

    g_assert_false (aero_config_group_get_bool (group, "b", TRUE, &out, &error));
    g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
    g_assert_cmpstr (error->message, ==,
                     "test.ini: [g] b: expected a boolean (true/false, yes/no, on/off, 1/0), "
                     "got 'maybe'");
  }
}

static void
test_enum (void)
{
  const char *const choices[] = { "text", "json", NULL };
  g_autoptr (AeroConfigGroup) group = group_from_data ("[g]\nf = json\nbad = xml\nupper = JSON\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (GError) error2 = NULL;
  guint out = 99;

  g_assert_true (aero_config_group_get_enum (group, "f", choices, 0, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, 1);

  g_assert_true (aero_config_group_get_enum (group, "other", choices, 1, &out, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (out, ==, 1);

  out = 99;
  g_assert_false (aero_config_group_get_enum (group, "bad", choices, 0, &out, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] bad: expected one of text, json, got 'xml'");
  g_assert_cmpuint (out, ==, 99);

  g_assert_false (aero_config_group_get_enum (group, "upper", choices, 0, &out, &error2));
  g_assert_error (error2, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
}

static void
assert_address (const char *text, guint16 default_port, const char *expected_address,
                guint16 expected_port, GSocketFamily expected_family)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetSocketAddress) address = aero_parse_socket_address (text, default_port, &error);
  g_autofree char *host = NULL;

  g_assert_no_error (error);
  g_assert_nonnull (address);
  host = g_inet_address_to_string (g_inet_socket_address_get_address (address));
  g_assert_cmpstr (host, ==, expected_address);
  g_assert_cmpuint (g_inet_socket_address_get_port (address), ==, expected_port);
  g_assert_cmpint (g_socket_address_get_family (G_SOCKET_ADDRESS (address)), ==, expected_family);
}

static void
assert_address_error (const char *text, guint16 default_port, const char *expected_substring)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetSocketAddress) address = aero_parse_socket_address (text, default_port, &error);
  g_autofree char *quoted = g_strdup_printf ("got '%s'", text);

  g_assert_null (address);
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "expected "));
  g_assert_true (g_str_has_suffix (error->message, quoted));
  if (expected_substring != NULL && strstr (error->message, expected_substring) == NULL)
    g_error ("'%s' not in '%s'", expected_substring, error->message);
}

static void
test_parse_address (void)
{
  assert_address ("1.2.3.4:80", 0, "1.2.3.4", 80, G_SOCKET_FAMILY_IPV4);
  assert_address (" 127.0.0.1:8080 ", 0, "127.0.0.1", 8080, G_SOCKET_FAMILY_IPV4);
  assert_address ("1.2.3.4", 9000, "1.2.3.4", 9000, G_SOCKET_FAMILY_IPV4);
  assert_address ("0.0.0.0:0", 0, "0.0.0.0", 0, G_SOCKET_FAMILY_IPV4);
  assert_address ("1.2.3.4:65535", 0, "1.2.3.4", 65535, G_SOCKET_FAMILY_IPV4);
  assert_address ("[::1]:8090", 0, "::1", 8090, G_SOCKET_FAMILY_IPV6);
  assert_address ("[::1]", 8090, "::1", 8090, G_SOCKET_FAMILY_IPV6);
  assert_address ("[2001:db8::5]:443", 0, "2001:db8::5", 443, G_SOCKET_FAMILY_IPV6);
  assert_address ("[::ffff:1.2.3.4]:1", 0, "::ffff:1.2.3.4", 1, G_SOCKET_FAMILY_IPV6);

  assert_address_error ("1.2.3.4", 0, "a port is required");
  assert_address_error ("[::1]", 0, "a port is required");
  assert_address_error ("localhost:80", 0, "host names are not accepted");
  assert_address_error ("example.com", 80, "host names are not accepted");
  assert_address_error ("1.2.3.4:65536", 0, "a port between 0 and 65535");
  assert_address_error ("1.2.3.4:123456", 0, "a port between 0 and 65535");
  assert_address_error ("1.2.3.4:-1", 0, "a port between 0 and 65535");
  assert_address_error ("1.2.3.4:http", 0, "a port between 0 and 65535");
  assert_address_error ("1.2.3.4:", 0, "a port between 0 and 65535");
  assert_address_error ("1.2.3.4: 80", 0, "a port between 0 and 65535");
  assert_address_error ("::1", 80, "IPv6 address in brackets");
  assert_address_error ("::1:80", 0, "IPv6 address in brackets");
  assert_address_error ("2001:db8::1", 80, "IPv6 address in brackets");
  assert_address_error ("[::1", 80, "]");
  assert_address_error ("[::1]80", 0, NULL);
  assert_address_error ("[::1]:", 0, "a port between 0 and 65535");
  assert_address_error ("[1.2.3.4]:80", 0, "IPv6");
  assert_address_error ("[localhost]:80", 0, "IPv6");
  assert_address_error ("1.2.3", 80, "IPv4");
  assert_address_error ("1.2.3.256:80", 0, "IPv4");
  assert_address_error ("1.2.3.4.5:80", 0, NULL);
  assert_address_error ("", 80, NULL);
  assert_address_error ("   ", 80, NULL);
  assert_address_error (":80", 0, NULL);
}

static void
test_get_address (void)
{
  g_autoptr (AeroConfigGroup) group =
    group_from_data ("[g]\nlisten = [::1]:8090\nbad = localhost:80\n");
  g_autoptr (GError) error = NULL;
  g_autoptr (GInetSocketAddress) listen = NULL;
  g_autoptr (GInetSocketAddress) fallback = NULL;
  GInetSocketAddress *absent = (GInetSocketAddress *) 0x1;
  GInetSocketAddress *bad = (GInetSocketAddress *) 0x1;

  g_assert_true (aero_config_group_get_socket_address (group, "listen", 0, NULL, TRUE, &listen, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_inet_socket_address_get_port (listen), ==, 8090);

  g_assert_true (aero_config_group_get_socket_address (group, "other", 9100, "127.0.0.1", FALSE,
                                                       &fallback, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_inet_socket_address_get_port (fallback), ==, 9100);

  g_assert_true (aero_config_group_get_socket_address (group, "other", 0, NULL, FALSE, &absent, &error));
  g_assert_no_error (error);
  g_assert_null (absent);

  g_assert_false (aero_config_group_get_socket_address (group, "bad", 0, NULL, TRUE, &bad, &error));
  g_assert_null (bad);
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE);
  g_assert_cmpstr (error->message, ==,
                   "test.ini: [g] bad: expected a numeric IPv4 address or a bracketed IPv6 "
                   "address (host names are not accepted), got 'localhost:80'");
  g_clear_error (&error);

  g_assert_false (aero_config_group_get_socket_address (group, "needed", 0, "1.2.3.4:5", TRUE,
                                                        &bad, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_MISSING_KEY);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] needed: required key is missing");
}

static void
test_unknown_keys (void)
{
  g_autoptr (AeroConfigGroup) group =
    group_from_data ("[g]\nb = 1\na = 2\nc = 3\nd = 4\n[other]\nx = 1\n");
  g_autoptr (GError) error = NULL;
  g_autofree char *s = NULL;
  guint64 ms;
  gint64 n;

  /* Before anything was asked for, the first key is unknown. */
  g_assert_false (aero_config_group_check_unknown_keys (group, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_cmpstr (error->message, ==, "test.ini: [g] b: unknown key");
  g_clear_error (&error);

  g_assert_true (aero_config_group_has_key (group, "b"));
  g_assert_false (aero_config_group_has_key (group, "zz"));
  s = aero_config_group_get_string (group, "a", NULL, FALSE, &error);
  g_assert_no_error (error);
  /* A failing getter still marks its key. */
  g_assert_false (aero_config_group_get_duration (group, "d", 0, 10, 0, &ms, &error));
  g_clear_error (&error);

  g_assert_false (aero_config_group_check_unknown_keys (group, &error));
  g_assert_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_UNKNOWN_KEY);
  g_assert_true (g_str_has_prefix (error->message, "test.ini: [g] c: unknown key"));
  g_assert_cmpstr (error->message, ==, "test.ini: [g] c: unknown key (known keys: a, b, d, zz)");
  g_clear_error (&error);

  g_assert_true (aero_config_group_get_int (group, "c", 0, 10, 0, &n, &error));
  g_assert_no_error (error);
  g_assert_true (aero_config_group_check_unknown_keys (group, &error));
  g_assert_no_error (error);
}

static void
test_missing_group (void)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (AeroConfigGroup) group = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *s = NULL;
  gint64 n = 0;

  g_assert_true (g_key_file_load_from_data (keyfile, "[a]\nx = 1\n", -1, G_KEY_FILE_NONE, NULL));
  group = aero_config_group_new (keyfile, FILE_NAME, "nothere");

  g_assert_false (aero_config_group_has_key (group, "x"));
  s = aero_config_group_get_string (group, "x", "d", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "d");
  g_assert_true (aero_config_group_get_int (group, "x", 0, 10, 3, &n, &error));
  g_assert_cmpint (n, ==, 3);
  g_assert_true (aero_config_group_check_unknown_keys (group, &error));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/config/error-quark", test_error_quark);
  g_test_add_func ("/config/names", test_names);
  g_test_add_func ("/config/group-error", test_group_error);
  g_test_add_func ("/config/string", test_string);
  g_test_add_func ("/config/string-list", test_string_list);
  g_test_add_func ("/config/int", test_int);
  g_test_add_func ("/config/size", test_size);
  g_test_add_func ("/config/duration", test_duration);
  g_test_add_func ("/config/bool", test_bool);
  g_test_add_func ("/config/enum", test_enum);
  g_test_add_func ("/config/parse-address", test_parse_address);
  g_test_add_func ("/config/get-address", test_get_address);
  g_test_add_func ("/config/unknown-keys", test_unknown_keys);
  g_test_add_func ("/config/missing-group", test_missing_group);

  return g_test_run ();
}
