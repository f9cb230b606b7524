/* test-log.c — unit tests for the aero-net log line formats and writer. */

#include <aero-net/aero-log.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>

#define TIME_RE "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z"

#define FIELD(k, v) { (k), (v), -1 }

static void
assert_matches (const char *line, const char *pattern)
{
  if (!g_regex_match_simple (pattern, line, 0, 0))
    g_error ("line '%s' does not match /%s/", line, pattern);
}

static JsonObject *
parse_json_line (const char *line, JsonParser **parser_out)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonNode *root;

  g_assert_null (strchr (line, '\n'));
  json_parser_load_from_data (parser, line, -1, &error);
  g_assert_no_error (error);
  root = json_parser_get_root (parser);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (root));
  *parser_out = g_steal_pointer (&parser);
  return json_node_get_object (root);
}

static void
test_text_basic (void)
{
  const GLogField fields[] = {
    FIELD ("GLIB_DOMAIN", "aero-net"),
    FIELD ("PRIORITY", "6"),
    FIELD ("CODE_FILE", "x.c"),
    FIELD ("CODE_LINE", "12"),
    FIELD ("CODE_FUNC", "f"),
    FIELD ("AERO_COMPONENT", "ws"),
    FIELD ("SESSION", "42"),
    FIELD ("peer", "1.2.3.4:5"),
    FIELD ("Reason", "peer closed"),
    FIELD ("MESSAGE", "tunnel /a opened"),
  };
  g_autofree char *line = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO,
                                                fields, G_N_ELEMENTS (fields));

  assert_matches (line, "^" TIME_RE " INFO ws: tunnel /a opened session=42 peer=1\\.2\\.3\\.4:5 "
                        "reason=\"peer closed\"$");
}

/* The time of a text line, parsed. */
static GDateTime *
line_time (const char *line)
{
  g_autofree char *text = g_strndup (line, strlen ("2026-01-01T00:00:00.000Z"));
  GDateTime *time = g_date_time_new_from_iso8601 (text, NULL);

  g_assert_nonnull (time);
  return time;
}

/* A text line carries the current time to the millisecond, also after the
 * second it was formatted in has passed (the writer formats the date and
 * time of day once per second). */
static void
test_text_time (void)
{
  const GLogField fields[] = { FIELD ("AERO_COMPONENT", "t"), FIELD ("MESSAGE", "m") };

  for (int i = 0; i < 3; i++)
    {
      g_autoptr (GDateTime) before = g_date_time_new_now_utc ();
      g_autofree char *line = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO,
                                                    fields, G_N_ELEMENTS (fields));
      g_autoptr (GDateTime) after = g_date_time_new_now_utc ();
      g_autoptr (GDateTime) time = line_time (line);

      assert_matches (line, "^" TIME_RE " INFO t: m$");
      /* The line's time is truncated to the millisecond. */
      g_assert_cmpint (g_date_time_difference (time, before), >, -G_TIME_SPAN_MILLISECOND);
      g_assert_cmpint (g_date_time_difference (after, time), >=, 0);
      /* Into the next second. */
      g_usleep (G_USEC_PER_SEC - g_get_real_time () % G_USEC_PER_SEC + 50000);
    }
}

static void
test_levels (void)
{
  const struct {
    GLogLevelFlags level;
    const char *text;
    const char *json;
  } levels[] = {
    { G_LOG_LEVEL_DEBUG, "DEBUG", "debug" },
    { G_LOG_LEVEL_INFO, "INFO", "info" },
    { G_LOG_LEVEL_MESSAGE, "NOTICE", "notice" },
    { G_LOG_LEVEL_WARNING, "WARNING", "warning" },
    { G_LOG_LEVEL_CRITICAL, "CRITICAL", "critical" },
    { G_LOG_LEVEL_ERROR | G_LOG_FLAG_FATAL, "ERROR", "error" },
    { G_LOG_LEVEL_CRITICAL | G_LOG_FLAG_FATAL, "CRITICAL", "critical" },
  };
  const GLogField fields[] = { FIELD ("MESSAGE", "m"), FIELD ("AERO_COMPONENT", "c") };

  for (gsize i = 0; i < G_N_ELEMENTS (levels); i++)
    {
      g_autofree char *text = aero_log_format_line (AERO_LOG_FORMAT_TEXT, levels[i].level, fields, 2);
      g_autofree char *json = aero_log_format_line (AERO_LOG_FORMAT_JSON, levels[i].level, fields, 2);
      g_autofree char *expected = g_strdup_printf (" %s c: m", levels[i].text);
      g_autoptr (JsonParser) parser = NULL;
      JsonObject *object;

      g_assert_true (g_str_has_suffix (text, expected));
      object = parse_json_line (json, &parser);
      g_assert_cmpstr (json_object_get_string_member (object, "level"), ==, levels[i].json);
    }
}

static void
test_component_fallback (void)
{
  const GLogField with_domain[] = { FIELD ("GLIB_DOMAIN", "dom"), FIELD ("MESSAGE", "m") };
  const GLogField without[] = { FIELD ("MESSAGE", "m") };
  g_autofree char *a = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO, with_domain, 2);
  g_autofree char *b = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO, without, 1);
  g_autofree char *c = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO, NULL, 0);
  g_autofree char *d = aero_log_format_line (AERO_LOG_FORMAT_JSON, G_LOG_LEVEL_INFO, without, 1);
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *object;

  assert_matches (a, "^" TIME_RE " INFO dom: m$");
  assert_matches (b, "^" TIME_RE " INFO -: m$");
  assert_matches (c, "^" TIME_RE " INFO -: $");

  object = parse_json_line (d, &parser);
  g_assert_cmpstr (json_object_get_string_member (object, "component"), ==, "-");
}

static void
test_text_escaping (void)
{
  const char invalid[] = "ab\xff" "cd";
  const char buffer[] = { 'h', 'i', ' ', '\0', 'x' };
  const GLogField fields[] = {
    FIELD ("AERO_COMPONENT", "core"),
    FIELD ("MESSAGE", "line one\nline \"two\"\t\\end"),
    FIELD ("EMPTY", ""),
    FIELD ("QUOTED", "say \"hi\""),
    FIELD ("EQ", "a=b"),
    FIELD ("CTRL", "x\x01y"),
    FIELD ("UNICODE", "caf\xc3\xa9"),
    FIELD ("INVALID", invalid),
    { "BUF", "hello", 5 },
    { "BUFSP", "two words", 9 },
    { "BIN", "\xff\xfe\x00", 3 },
    { "NUL", buffer, sizeof buffer },
  };
  g_autofree char *line = aero_log_format_line (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_WARNING,
                                                fields, G_N_ELEMENTS (fields));
  const char *rest;

  g_assert_null (strchr (line, '\n'));
  rest = strstr (line, " WARNING ");
  g_assert_nonnull (rest);
  g_assert_cmpstr (rest, ==,
                   " WARNING core: line one\\nline \"two\"\\t\\end"
                   " empty=\"\""
                   " quoted=\"say \\\"hi\\\"\""
                   " eq=\"a=b\""
                   " ctrl=\"x\\u0001y\""
                   " unicode=caf\xc3\xa9"
                   " invalid=\"ab\xef\xbf\xbd" "cd\""
                   " buf=hello"
                   " bufsp=\"two words\""
                   " bin=<binary>"
                   " nul=<binary>");
}

static void
test_json (void)
{
  const GLogField fields[] = {
    FIELD ("GLIB_DOMAIN", "aero-net"),
    FIELD ("PRIORITY", "4"),
    FIELD ("CODE_FILE", "x.c"),
    FIELD ("CODE_LINE", "12"),
    FIELD ("CODE_FUNC", "f"),
    FIELD ("GLIB_OLD_LOG_API", "1"),
    FIELD ("AERO_COMPONENT", "ws \"main\""),
    FIELD ("SESSION", "42"),
    FIELD ("Peer", "[::1]:80"),
    FIELD ("PEER", "again"),
    FIELD ("CTRL", "a\x01\x1f\x7f\b\f\r\n\tz"),
    FIELD ("SLASH", "back\\slash"),
    FIELD ("UNICODE", "\xe2\x82\xac \xf0\x9f\x98\x80"),
    FIELD ("TIME", "not the time"),
    FIELD ("FIELD_TIME", "nor this"),
    { "BUF", "hello", 5 },
    { "BIN", "\xc3\x28", 2 },
    FIELD ("MESSAGE", "said \"hi\"\n"),
  };
  g_autofree char *line = aero_log_format_line (AERO_LOG_FORMAT_JSON, G_LOG_LEVEL_MESSAGE,
                                                fields, G_N_ELEMENTS (fields));
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GList) members = NULL;
  g_autoptr (GDateTime) time = NULL;
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  JsonObject *object;
  const char *time_text;

  g_assert_true (g_str_has_prefix (line, "{\"time\":\""));
  object = parse_json_line (line, &parser);

  time_text = json_object_get_string_member (object, "time");
  assert_matches (time_text, "^" TIME_RE "$");
  time = g_date_time_new_from_iso8601 (time_text, NULL);
  g_assert_nonnull (time);
  g_assert_cmpint (ABS (g_date_time_difference (now, time)), <, 60 * G_TIME_SPAN_SECOND);

  g_assert_cmpstr (json_object_get_string_member (object, "level"), ==, "notice");
  g_assert_cmpstr (json_object_get_string_member (object, "component"), ==, "ws \"main\"");
  g_assert_cmpstr (json_object_get_string_member (object, "message"), ==, "said \"hi\"\n");
  g_assert_cmpstr (json_object_get_string_member (object, "session"), ==, "42");
  g_assert_cmpstr (json_object_get_string_member (object, "peer"), ==, "[::1]:80");
  g_assert_cmpstr (json_object_get_string_member (object, "field_peer"), ==, "again");
  g_assert_cmpstr (json_object_get_string_member (object, "ctrl"), ==, "a\x01\x1f\x7f\b\f\r\n\tz");
  g_assert_cmpstr (json_object_get_string_member (object, "slash"), ==, "back\\slash");
  g_assert_cmpstr (json_object_get_string_member (object, "unicode"), ==,
                   "\xe2\x82\xac \xf0\x9f\x98\x80");
  g_assert_cmpstr (json_object_get_string_member (object, "field_time"), ==, "not the time");
  g_assert_cmpstr (json_object_get_string_member (object, "field_field_time"), ==, "nor this");
  g_assert_cmpstr (json_object_get_string_member (object, "buf"), ==, "hello");
  g_assert_cmpstr (json_object_get_string_member (object, "bin"), ==, "<binary>");

  /* Control characters are escaped in the line itself. */
  g_assert_nonnull (strstr (line, "\"a\\u0001\\u001f\\u007f\\b\\f\\r\\n\\tz\""));

  /* GLib's own fields are left out; nothing else is added. */
  members = json_object_get_members (object);
  g_assert_cmpuint (g_list_length (members), ==, 14);
  g_assert_false (json_object_has_member (object, "priority"));
  g_assert_false (json_object_has_member (object, "glib_domain"));
  g_assert_false (json_object_has_member (object, "code_file"));
  g_assert_false (json_object_has_member (object, "code_line"));
  g_assert_false (json_object_has_member (object, "code_func"));
  g_assert_false (json_object_has_member (object, "glib_old_log_api"));
  g_assert_false (json_object_has_member (object, "aero_component"));
}

static void
test_json_invalid_utf8 (void)
{
  const GLogField fields[] = {
    FIELD ("MESSAGE", "bad \xff\xfe bytes \xe2\x82"),
    FIELD ("AERO_COMPONENT", "c\xc0"),
    FIELD ("OK", "\xe2\x82\xac"),
  };
  g_autofree char *line = aero_log_format_line (AERO_LOG_FORMAT_JSON, G_LOG_LEVEL_INFO,
                                                fields, G_N_ELEMENTS (fields));
  g_autoptr (JsonParser) parser = NULL;
  JsonObject *object;

  g_assert_true (g_utf8_validate (line, -1, NULL));
  object = parse_json_line (line, &parser);
  g_assert_cmpstr (json_object_get_string_member (object, "message"), ==,
                   "bad \xef\xbf\xbd\xef\xbf\xbd bytes \xef\xbf\xbd\xef\xbf\xbd");
  g_assert_cmpstr (json_object_get_string_member (object, "component"), ==, "c\xef\xbf\xbd");
  g_assert_cmpstr (json_object_get_string_member (object, "ok"), ==, "\xe2\x82\xac");
}

/* Runs in a subprocess: logs through the installed writer. */
static int formatted;

static const char *
count_formatting (void)
{
  formatted++;
  return "formatted";
}

static void
log_through_writer (void)
{
  g_unsetenv ("G_MESSAGES_DEBUG");
  g_log_set_always_fatal (0);

  aero_log_setup (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_DEBUG);
  g_debug ("old api debug %d", 1);
  AERO_LOG_DEBUG ("core", "SESSION", "7", "MESSAGE", "structured debug %s", "x");
  AERO_LOG_INFO ("ws", "PEER", "1.2.3.4:5", "MESSAGE", "hello %d", 5);

  /* Called again: only the settings change. */
  aero_log_setup (AERO_LOG_FORMAT_JSON, G_LOG_LEVEL_WARNING);
  g_info ("dropped info");
  AERO_LOG_MESSAGE ("ws", "MESSAGE", "dropped notice");
  /* A record that would be dropped is not even formatted. */
  g_assert_false (aero_log_enabled (G_LOG_LEVEL_INFO));
  g_assert_true (aero_log_enabled (G_LOG_LEVEL_WARNING));
  AERO_LOG_INFO ("ws", "MESSAGE", "dropped %s", count_formatting ());
  g_assert_cmpint (formatted, ==, 0);
  AERO_LOG_WARNING ("ws", "MESSAGE", "%s", count_formatting ());
  g_assert_cmpint (formatted, ==, 1);
  AERO_LOG_WARNING ("ws", "REASON", "bad thing", "MESSAGE", "json %s", "warning");
  g_log_structured ("dom", G_LOG_LEVEL_CRITICAL, "MESSAGE", "json critical");
}

static void
test_writer (void)
{
  if (g_test_subprocess ())
    {
      log_through_writer ();
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stdout ("");
  g_test_trap_assert_stderr ("*Z DEBUG aero-test: old api debug 1\n"
                             "*Z DEBUG core: structured debug x session=7\n"
                             "*Z INFO ws: hello 5 peer=1.2.3.4:5\n"
                             "{\"time\":\"*\",\"level\":\"warning\",\"component\":\"ws\","
                             "\"message\":\"formatted\"}\n"
                             "{\"time\":\"*\",\"level\":\"warning\",\"component\":\"ws\","
                             "\"message\":\"json warning\",\"reason\":\"bad thing\"}\n"
                             "{\"time\":\"*\",\"level\":\"critical\",\"component\":\"dom\","
                             "\"message\":\"json critical\"}\n");
  g_test_trap_assert_stderr_unmatched ("*dropped*");
}

#define N_THREADS 4
#define N_LINES 300

static gpointer
log_lines (gpointer data)
{
  g_autofree char *padding = g_strnfill (500, 'a' + GPOINTER_TO_INT (data));

  for (int i = 0; i < N_LINES; i++)
    AERO_LOG_INFO ("t", "PAD", padding, "MESSAGE", "line %d", i);
  return NULL;
}

/* Runs in a subprocess: lines logged from several threads at once. */
static void
log_from_threads (void)
{
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_auto (GStrv) lines = NULL;
  GThread *threads[N_THREADS];
  int saved_stderr;
  int fd;

  fd = g_file_open_tmp ("test-log-XXXXXX", &path, NULL);
  g_assert_cmpint (fd, >=, 0);
  saved_stderr = dup (STDERR_FILENO);
  g_assert_cmpint (dup2 (fd, STDERR_FILENO), ==, STDERR_FILENO);
  close (fd);

  aero_log_setup (AERO_LOG_FORMAT_TEXT, G_LOG_LEVEL_INFO);
  for (int i = 0; i < N_THREADS; i++)
    threads[i] = g_thread_new ("log", log_lines, GINT_TO_POINTER (i));
  for (int i = 0; i < N_THREADS; i++)
    g_thread_join (threads[i]);

  dup2 (saved_stderr, STDERR_FILENO);
  close (saved_stderr);

  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_unlink (path);
  lines = g_strsplit (contents, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, N_THREADS * N_LINES + 1);
  g_assert_cmpstr (lines[N_THREADS * N_LINES], ==, "");
  for (int i = 0; i < N_THREADS * N_LINES; i++)
    assert_matches (lines[i], "^" TIME_RE " INFO t: line \\d+ pad=(a{500}|b{500}|c{500}|d{500})$");
}

static void
test_threads (void)
{
  if (g_test_subprocess ())
    {
      log_from_threads ();
      return;
    }

  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/log/text/basic", test_text_basic);
  g_test_add_func ("/log/text/escaping", test_text_escaping);
  g_test_add_func ("/log/text/time", test_text_time);
  g_test_add_func ("/log/levels", test_levels);
  g_test_add_func ("/log/component-fallback", test_component_fallback);
  g_test_add_func ("/log/json/fields", test_json);
  g_test_add_func ("/log/json/invalid-utf8", test_json_invalid_utf8);
  g_test_add_func ("/log/writer/settings", test_writer);
  g_test_add_func ("/log/writer/threads", test_threads);

  return g_test_run ();
}
