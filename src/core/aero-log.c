/* aero-log.c — the log writer: one line per record on stderr, as text or JSON.
 *
 * Text:  2026-11-25T18:40:00.123Z INFO component: message key=value key2="a b"
 * JSON:  {"time":"...","level":"info","component":"...","message":"...","key":"value"}
 *
 * Each line is written with a single write(2) so that records logged from
 * different threads do not interleave. */

#include <aero-net/aero-log.h>

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Settings of the installed writer; aero_log_setup() may change them at any
 * time, and the writer may run on any thread. */
static gint log_format = AERO_LOG_FORMAT_TEXT;
static gint log_min_rank = 1;  /* info */
static gsize writer_installed = 0;

/* Fields GLib adds or that have their own place in the line. */
static const char *const hidden_fields[] = {
  "PRIORITY",
  "GLIB_DOMAIN",
  "CODE_FILE",
  "CODE_LINE",
  "CODE_FUNC",
  "GLIB_OLD_LOG_API",
  "MESSAGE",
  "AERO_COMPONENT",
};

/* Severity rank of the most severe level in @log_level: debug 0 ... error 5. */
static int
level_rank (GLogLevelFlags log_level)
{
  if (log_level & G_LOG_LEVEL_ERROR)
    return 5;
  if (log_level & G_LOG_LEVEL_CRITICAL)
    return 4;
  if (log_level & G_LOG_LEVEL_WARNING)
    return 3;
  if (log_level & G_LOG_LEVEL_MESSAGE)
    return 2;
  if (log_level & G_LOG_LEVEL_INFO)
    return 1;
  return 0;
}

static const char *
level_name (GLogLevelFlags log_level, gboolean upper)
{
  static const char *const upper_names[] = {
    "DEBUG", "INFO", "NOTICE", "WARNING", "CRITICAL", "ERROR"
  };
  static const char *const lower_names[] = {
    "debug", "info", "notice", "warning", "critical", "error"
  };
  int rank = level_rank (log_level);

  return upper ? upper_names[rank] : lower_names[rank];
}

static gboolean
is_hidden_field (const char *key)
{
  /* Every hidden field is upper case; the fields aero-net code adds are not. */
  if (!g_ascii_isupper (key[0]))
    return FALSE;
  for (gsize i = 0; i < G_N_ELEMENTS (hidden_fields); i++)
    {
      if (key[0] == hidden_fields[i][0] && strcmp (key, hidden_fields[i]) == 0)
        return TRUE;
    }
  return FALSE;
}

/* The current second as "YYYY-MM-DDTHH:MM:SS", formatted once per second
 * per thread. */
typedef struct
{
  time_t seconds;
  char text[32];
  gsize len;
} TimeCache;

static void
append_time (GString *out)
{
  static __thread TimeCache cache = { .seconds = -1 };
  gint64 now = g_get_real_time ();
  time_t seconds = now / G_USEC_PER_SEC;
  int ms = (int) ((now % G_USEC_PER_SEC) / 1000);
  char frac[6] = { '.', (char) ('0' + ms / 100), (char) ('0' + ms / 10 % 10),
                   (char) ('0' + ms % 10), 'Z', '\0' };

  if (seconds != cache.seconds)
    {
      struct tm tm;

      if (gmtime_r (&seconds, &tm) == NULL
          || (cache.len = strftime (cache.text, sizeof cache.text, "%Y-%m-%dT%H:%M:%S", &tm)) == 0)
        {
          g_string_append (out, "1970-01-01T00:00:00.000Z");
          cache.seconds = -1;
          return;
        }
      cache.seconds = seconds;
    }
  g_string_append_len (out, cache.text, (gssize) cache.len);
  g_string_append_len (out, frac, 5);
}

/* Appends @text (@len bytes, or NUL-terminated when @len is -1) escaped for
 * the inside of a JSON string: quotes, backslashes and control characters
 * are escaped, valid UTF-8 is copied, each invalid byte becomes U+FFFD.
 * With @quotes FALSE, quotes and backslashes are left as they are (for the
 * message of a text line, which only must stay on one line). */
static void
append_escaped (GString *out, const char *text, gssize len, gboolean quotes)
{
  const char *p = text;
  const char *end;

  if (len < 0)
    len = strlen (text);
  end = text + len;

  while (p < end)
    {
      const char *valid_end;

      g_utf8_validate_len (p, end - p, &valid_end);
      while (p < valid_end)
        {
          const char *run = p;
          guchar c;

          /* Copy what needs no escape in one go. */
          while (p < valid_end && (guchar) *p >= 0x20 && *p != 0x7f
                 && !(quotes && (*p == '"' || *p == '\\')))
            p++;
          if (p > run)
            g_string_append_len (out, run, p - run);
          if (p == valid_end)
            break;

          c = *p++;
          switch (c)
            {
            case '"':
            case '\\':
              g_string_append_c (out, '\\');
              g_string_append_c (out, c);
              break;
            case '\n':
              g_string_append (out, "\\n");
              break;
            case '\r':
              g_string_append (out, "\\r");
              break;
            case '\t':
              g_string_append (out, "\\t");
              break;
            case '\b':
              g_string_append (out, "\\b");
              break;
            case '\f':
              g_string_append (out, "\\f");
              break;
            default:
              g_string_append_printf (out, "\\u%04x", c);
              break;
            }
        }

      if (p < end)
        {
          /* g_utf8_validate_len() stops at NUL bytes too. */
          if (*p == '\0')
            g_string_append (out, "\\u0000");
          else
            g_string_append (out, "\xef\xbf\xbd");
          p++;
        }
    }
}

/* Whether a text-format value must be quoted to be read back unambiguously. */
static gboolean
text_value_needs_quotes (const char *value, gsize len)
{
  if (len == 0 || !g_utf8_validate_len (value, len, NULL))
    return TRUE;
  for (gsize i = 0; i < len; i++)
    {
      guchar c = value[i];

      if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
        return TRUE;
    }
  return FALSE;
}

/* A field's value as a string, or %NULL when it is binary. Values of length
 * -1 are C strings; others are byte buffers, shown only when valid UTF-8. */
static gboolean
field_text (const GLogField *field, const char **text, gsize *len)
{
  if (field->value == NULL)
    {
      *text = "";
      *len = 0;
      return TRUE;
    }
  if (field->length < 0)
    {
      *text = field->value;
      *len = strlen (field->value);
      return TRUE;
    }
  if (!g_utf8_validate_len (field->value, field->length, NULL))
    return FALSE;
  *text = field->value;
  *len = field->length;
  return TRUE;
}

static void
append_lower (GString *out, const char *key)
{
  const char *p = key;

  /* Keys are mostly lower case already: copy up to the first capital. */
  while (*p != '\0' && !(*p >= 'A' && *p <= 'Z'))
    p++;
  g_string_append_len (out, key, p - key);
  for (; *p != '\0'; p++)
    g_string_append_c (out, g_ascii_tolower (*p));
}

/* Whether a JSON line already has @key (compared without case, as keys
 * are written lower-cased): one of its own four, the key of a field before
 * @fields[@i] (written as it is, or renamed because it was taken), or a
 * name in @renamed. */
static gboolean
json_key_taken (const GLogField *fields, gsize i, const char *key, GPtrArray *renamed)
{
  static const char *const own[] = { "time", "level", "component", "message" };

  for (gsize k = 0; k < G_N_ELEMENTS (own); k++)
    if (g_ascii_strcasecmp (key, own[k]) == 0)
      return TRUE;
  for (gsize j = 0; j < i; j++)
    if (fields[j].key != NULL && !is_hidden_field (fields[j].key)
        && g_ascii_strcasecmp (key, fields[j].key) == 0)
      return TRUE;
  for (guint k = 0; renamed != NULL && k < renamed->len; k++)
    if (g_ascii_strcasecmp (key, g_ptr_array_index (renamed, k)) == 0)
      return TRUE;
  return FALSE;
}

static void
append_line (GString *out, AeroLogFormat format, GLogLevelFlags log_level,
             const GLogField *fields, gsize n_fields)
{
  const GLogField *message = NULL;
  const GLogField *component = NULL;
  const GLogField *domain = NULL;
  const char *text;
  gsize len;

  for (gsize i = 0; i < n_fields; i++)
    {
      const char *key = fields[i].key;

      if (key == NULL)
        continue;
      if (key[0] == 'M' && strcmp (key, "MESSAGE") == 0)
        message = &fields[i];
      else if (key[0] == 'A' && strcmp (key, "AERO_COMPONENT") == 0)
        component = &fields[i];
      else if (key[0] == 'G' && strcmp (key, "GLIB_DOMAIN") == 0)
        domain = &fields[i];
    }
  if (component == NULL || component->value == NULL)
    component = domain;
  if (component != NULL && component->value == NULL)
    component = NULL;

  if (format == AERO_LOG_FORMAT_JSON)
    {
      /* Names given to fields whose own key was taken (rare). */
      g_autoptr (GPtrArray) renamed = NULL;

      g_string_append (out, "{\"time\":\"");
      append_time (out);
      g_string_append (out, "\",\"level\":\"");
      g_string_append (out, level_name (log_level, FALSE));
      g_string_append (out, "\",\"component\":\"");
      if (component == NULL)
        g_string_append_c (out, '-');
      else if (field_text (component, &text, &len))
        append_escaped (out, text, len, TRUE);
      else
        g_string_append (out, "<binary>");
      g_string_append (out, "\",\"message\":\"");
      if (message != NULL)
        {
          if (field_text (message, &text, &len))
            append_escaped (out, text, len, TRUE);
          else
            g_string_append (out, "<binary>");
        }
      g_string_append_c (out, '"');

      for (gsize i = 0; i < n_fields; i++)
        {
          g_autofree char *renamed_key = NULL;
          const char *key;
          gsize at;

          if (fields[i].key == NULL || is_hidden_field (fields[i].key))
            continue;

          /* Keep keys unique, so that no field hides another; keys are
           * written lower-cased. */
          key = fields[i].key;
          while (json_key_taken (fields, i, key, renamed))
            {
              char *longer = g_strconcat ("field_", key, NULL);

              g_free (renamed_key);
              key = renamed_key = longer;
            }
          g_string_append (out, ",\"");
          at = out->len;
          append_escaped (out, key, -1, TRUE);
          for (gsize k = at; k < out->len; k++)
            out->str[k] = g_ascii_tolower (out->str[k]);
          if (renamed_key != NULL)
            {
              if (renamed == NULL)
                renamed = g_ptr_array_new_with_free_func (g_free);
              g_ptr_array_add (renamed, g_steal_pointer (&renamed_key));
            }
          g_string_append (out, "\":\"");
          if (field_text (&fields[i], &text, &len))
            append_escaped (out, text, len, TRUE);
          else
            g_string_append (out, "<binary>");
          g_string_append_c (out, '"');
        }
      g_string_append_c (out, '}');
    }
  else
    {
      append_time (out);
      g_string_append_c (out, ' ');
      g_string_append (out, level_name (log_level, TRUE));
      g_string_append_c (out, ' ');
      if (component == NULL)
        g_string_append_c (out, '-');
      else if (field_text (component, &text, &len))
        append_escaped (out, text, len, FALSE);
      else
        g_string_append (out, "<binary>");
      g_string_append (out, ": ");
      if (message != NULL)
        {
          if (field_text (message, &text, &len))
            append_escaped (out, text, len, FALSE);
          else
            g_string_append (out, "<binary>");
        }

      for (gsize i = 0; i < n_fields; i++)
        {
          if (fields[i].key == NULL || is_hidden_field (fields[i].key))
            continue;

          g_string_append_c (out, ' ');
          append_lower (out, fields[i].key);
          g_string_append_c (out, '=');
          if (!field_text (&fields[i], &text, &len))
            {
              g_string_append (out, "<binary>");
            }
          else if (text_value_needs_quotes (text, len))
            {
              g_string_append_c (out, '"');
              append_escaped (out, text, len, TRUE);
              g_string_append_c (out, '"');
            }
          else
            {
              g_string_append_len (out, text, len);
            }
        }
    }
}

char *
aero_log_format_line (AeroLogFormat format, GLogLevelFlags log_level,
                      const GLogField *fields, gsize n_fields)
{
  GString *out;

  g_return_val_if_fail (fields != NULL || n_fields == 0, NULL);

  out = g_string_sized_new (256);
  append_line (out, format, log_level, fields, n_fields);
  return g_string_free (out, FALSE);
}

static void
write_all (int fd, const char *data, gsize len)
{
  while (len > 0)
    {
      gssize written = write (fd, data, len);

      if (written < 0)
        {
          if (errno == EINTR)
            continue;
          return;
        }
      data += written;
      len -= written;
    }
}

gboolean
aero_log_enabled (GLogLevelFlags log_level)
{
  /* Without our writer, GLib's (or an embedder's) decides. */
  if (!g_atomic_pointer_get (&writer_installed))
    return TRUE;
  return level_rank (log_level) >= g_atomic_int_get (&log_min_rank);
}

static GLogWriterOutput
aero_log_writer (GLogLevelFlags log_level, const GLogField *fields, gsize n_fields,
                 gpointer user_data)
{
  g_autoptr (GString) line = NULL;

  if (level_rank (log_level) < g_atomic_int_get (&log_min_rank))
    return G_LOG_WRITER_HANDLED;

  line = g_string_sized_new (256);
  append_line (line, g_atomic_int_get (&log_format), log_level, fields, n_fields);
  g_string_append_c (line, '\n');
  write_all (STDERR_FILENO, line->str, line->len);

  return G_LOG_WRITER_HANDLED;
}

void
aero_log_setup (AeroLogFormat format, GLogLevelFlags min_level)
{
  g_return_if_fail (format == AERO_LOG_FORMAT_TEXT || format == AERO_LOG_FORMAT_JSON);

  g_atomic_int_set (&log_format, format);
  g_atomic_int_set (&log_min_rank, level_rank (min_level));

  /* GLib accepts only one writer per process. */
  if (g_once_init_enter (&writer_installed))
    {
      g_log_set_writer_func (aero_log_writer, NULL, NULL);
      g_once_init_leave (&writer_installed, 1);
    }
}
