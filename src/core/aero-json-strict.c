/* aero-json-strict.c — a recursive-descent check of the JSON grammar (see
 * aero-json-strict.h). It builds nothing but the set of top-level member
 * names. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aero-json-strict.h"

typedef struct {
  const char *p;
  const char *end;
  guint depth;
  guint max_depth;
} Reader;

static gboolean read_value (Reader *r);

static void
skip_ws (Reader *r)
{
  while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
    r->p++;
}

static gboolean
hex4 (const char *p)
{
  for (int i = 0; i < 4; i++)
    if (!g_ascii_isxdigit (p[i]))
      return FALSE;
  return TRUE;
}

/* A string; with @out, its raw text (between the quotes) is copied out. */
static gboolean
read_string (Reader *r, char **out)
{
  const char *start;

  if (r->p >= r->end || *r->p != '"')
    return FALSE;
  start = ++r->p;
  while (r->p < r->end)
    {
      guchar c = (guchar) *r->p;

      if (c == '"')
        {
          if (out)
            *out = g_strndup (start, r->p - start);
          r->p++;
          return TRUE;
        }
      if (c < 0x20)
        return FALSE;
      if (c == '\\')
        {
          if (r->end - r->p < 2)
            return FALSE;
          switch (r->p[1])
            {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
              r->p += 2;
              break;
            case 'u':
              if (r->end - r->p < 6 || !hex4 (r->p + 2))
                return FALSE;
              r->p += 6;
              break;
            default:
              return FALSE;
            }
          continue;
        }
      r->p++;
    }
  return FALSE;
}

static gboolean
read_number (Reader *r)
{
  const char *start = r->p;
  gboolean integer = TRUE;

  if (r->p < r->end && *r->p == '-')
    r->p++;
  if (r->p >= r->end || !g_ascii_isdigit (*r->p))
    return FALSE;
  if (*r->p == '0')
    r->p++;
  else
    while (r->p < r->end && g_ascii_isdigit (*r->p))
      r->p++;
  if (r->p < r->end && *r->p == '.')
    {
      integer = FALSE;
      r->p++;
      if (r->p >= r->end || !g_ascii_isdigit (*r->p))
        return FALSE;
      while (r->p < r->end && g_ascii_isdigit (*r->p))
        r->p++;
    }
  if (r->p < r->end && (*r->p == 'e' || *r->p == 'E'))
    {
      integer = FALSE;
      r->p++;
      if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
        r->p++;
      if (r->p >= r->end || !g_ascii_isdigit (*r->p))
        return FALSE;
      while (r->p < r->end && g_ascii_isdigit (*r->p))
        r->p++;
    }
  if (integer)
    {
      /* json-glib would clamp an integer beyond 64 bits without a word. */
      char buf[32];
      gsize n = r->p - start;

      if (n >= sizeof buf)
        return FALSE;
      memcpy (buf, start, n);
      buf[n] = '\0';
      errno = 0;
      (void) g_ascii_strtoll (buf, NULL, 10);
      if (errno == ERANGE)
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_literal (Reader *r, const char *word)
{
  gsize n = strlen (word);

  if ((gsize) (r->end - r->p) < n || memcmp (r->p, word, n) != 0)
    return FALSE;
  r->p += n;
  return TRUE;
}

/* An object; with @names, member names are collected and a repeated one
 * is refused. */
static gboolean
read_object (Reader *r, GHashTable *names)
{
  r->p++; /* '{' */
  skip_ws (r);
  if (r->p < r->end && *r->p == '}')
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      char *name = NULL;

      skip_ws (r);
      if (!read_string (r, names ? &name : NULL))
        return FALSE;
      if (names && !g_hash_table_add (names, name))
        return FALSE;
      skip_ws (r);
      if (r->p >= r->end || *r->p != ':')
        return FALSE;
      r->p++;
      skip_ws (r);
      if (!read_value (r))
        return FALSE;
      skip_ws (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == '}')
        {
          r->p++;
          return TRUE;
        }
      return FALSE;
    }
}

static gboolean
read_array (Reader *r)
{
  r->p++; /* '[' */
  skip_ws (r);
  if (r->p < r->end && *r->p == ']')
    {
      r->p++;
      return TRUE;
    }
  for (;;)
    {
      skip_ws (r);
      if (!read_value (r))
        return FALSE;
      skip_ws (r);
      if (r->p < r->end && *r->p == ',')
        {
          r->p++;
          continue;
        }
      if (r->p < r->end && *r->p == ']')
        {
          r->p++;
          return TRUE;
        }
      return FALSE;
    }
}

static gboolean
read_value (Reader *r)
{
  gboolean ok;

  if (r->p >= r->end)
    return FALSE;
  switch (*r->p)
    {
    case '{':
    case '[':
      if (++r->depth > r->max_depth)
        return FALSE;
      ok = *r->p == '{' ? read_object (r, NULL) : read_array (r);
      r->depth--;
      return ok;
    case '"':
      return read_string (r, NULL);
    case 't':
      return read_literal (r, "true");
    case 'f':
      return read_literal (r, "false");
    case 'n':
      return read_literal (r, "null");
    default:
      return read_number (r);
    }
}

gboolean
aero_json_is_strict_object (const char *data, gsize len, guint max_depth)
{
  g_autoptr (GHashTable) names = NULL;
  Reader r = { data, data + len, 1, max_depth };

  if (data == NULL || !g_utf8_validate_len (data, len, NULL))
    return FALSE;
  skip_ws (&r);
  if (r.p >= r.end || *r.p != '{' || max_depth < 1)
    return FALSE;
  names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (!read_object (&r, names))
    return FALSE;
  skip_ws (&r);
  return r.p == r.end;
}
