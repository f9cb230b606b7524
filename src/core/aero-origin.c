/* aero-origin.c — Origin normalisation and allow rules (see aero-origin.h).
 *
 * Hosts are parsed the way browsers serialise them (the WHATWG URL host
 * parser), but more strictly: a domain may only hold letters, digits, '-',
 * '_' and '.', so nothing that needs percent-decoding or IDNA mapping is
 * accepted. A host whose last label is a number must be an IPv4 address. */
#include <arpa/inet.h>
#include <string.h>

#include "aero-origin.h"

#define MAX_ORIGIN_LEN 2048

static gboolean
is_trim_space (char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

/* One part of a WHATWG IPv4 address: decimal, 0x-hex or 0-octal. */
static gboolean
parse_ipv4_number (const char *s, gsize len, guint64 *out)
{
  guint base = 10;
  guint64 v = 0;

  if (len == 0)
    return FALSE;
  if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    {
      base = 16;
      s += 2;
      len -= 2;
    }
  else if (len >= 2 && s[0] == '0')
    {
      base = 8;
      s++;
      len--;
    }
  for (gsize i = 0; i < len; i++)
    {
      int d;

      if (g_ascii_isdigit (s[i]))
        d = s[i] - '0';
      else if (base == 16 && g_ascii_isxdigit (s[i]))
        d = g_ascii_xdigit_value (s[i]);
      else
        return FALSE;
      if (d >= (int) base)
        return FALSE;
      v = v * base + (guint) d;
      if (v > G_MAXUINT32 * 2ull)
        return FALSE; /* far too big already; stop before overflowing */
    }
  *out = v;
  return TRUE;
}

/* Whether the last label of @host (a trailing dot aside) is a number,
 * which makes the host an IPv4 address or nothing. */
static gboolean
ends_in_number (const char *host)
{
  gsize len = strlen (host);
  const char *last;
  guint64 ignored;

  if (len > 0 && host[len - 1] == '.')
    len--;
  if (len == 0)
    return FALSE;
  last = g_strrstr_len (host, len, ".");
  last = last ? last + 1 : host;
  if (last == host + len)
    return FALSE;
  for (const char *p = last; p < host + len; p++)
    if (!g_ascii_isdigit (*p))
      return parse_ipv4_number (last, host + len - last, &ignored);
  return TRUE;
}

/* The WHATWG IPv4 parser; writes dotted decimal into @out. */
static gboolean
parse_ipv4 (const char *host, char out[16])
{
  g_auto (GStrv) parts = g_strsplit (host, ".", -1);
  guint n = g_strv_length (parts);
  guint64 numbers[4], value;

  if (n > 1 && parts[n - 1][0] == '\0')
    n--;
  if (n == 0 || n > 4)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (!parse_ipv4_number (parts[i], strlen (parts[i]), &numbers[i]))
      return FALSE;
  for (guint i = 0; i + 1 < n; i++)
    if (numbers[i] > 255)
      return FALSE;
  if (numbers[n - 1] >= (1ull << (8 * (5 - n))))
    return FALSE;
  value = numbers[n - 1];
  for (guint i = 0; i + 1 < n; i++)
    value += numbers[i] << (8 * (3 - i));
  g_snprintf (out, 16, "%u.%u.%u.%u", (guint) (value >> 24) & 255, (guint) (value >> 16) & 255,
              (guint) (value >> 8) & 255, (guint) value & 255);
  return TRUE;
}

/* The canonical IPv6 text: lower-case hex, no leading zeros, the first
 * longest run of two or more zero pieces written "::", no dotted quad. */
static gboolean
parse_ipv6 (const char *text, GString *out)
{
  struct in6_addr addr;
  guint16 pieces[8];
  int best = -1, best_len = 0;

  if (inet_pton (AF_INET6, text, &addr) != 1)
    return FALSE;
  for (int i = 0; i < 8; i++)
    pieces[i] = (guint16) (addr.s6_addr[2 * i] << 8 | addr.s6_addr[2 * i + 1]);
  for (int i = 0; i < 8;)
    {
      int j = i;

      while (j < 8 && pieces[j] == 0)
        j++;
      if (j - i > best_len && j - i >= 2)
        {
          best = i;
          best_len = j - i;
        }
      i = j > i ? j : i + 1;
    }
  g_string_append_c (out, '[');
  for (int i = 0; i < 8; i++)
    {
      if (i == best)
        {
          g_string_append (out, i == 0 ? "::" : ":");
          i += best_len - 1;
          continue;
        }
      g_string_append_printf (out, "%x", pieces[i]);
      if (i < 7)
        g_string_append_c (out, ':');
    }
  g_string_append_c (out, ']');
  return TRUE;
}

/* Parses `host[:port]` (the authority of an origin, or a Host header).
 * Appends the normalised host to @host_out; *@port is -1 when absent. */
static gboolean
parse_authority (const char *text, gsize len, GString *host_out, int *port)
{
  g_autofree char *host = NULL;
  const char *port_text = NULL;
  gsize host_len;

  *port = -1;
  if (len == 0)
    return FALSE;
  if (text[0] == '[')
    {
      const char *close = memchr (text, ']', len);

      if (close == NULL)
        return FALSE;
      host = g_strndup (text + 1, close - text - 1);
      if (!parse_ipv6 (host, host_out))
        return FALSE;
      if (close + 1 < text + len)
        {
          if (close[1] != ':')
            return FALSE;
          port_text = close + 2;
        }
    }
  else
    {
      const char *colon = memchr (text, ':', len);
      char v4[16];

      host_len = colon ? (gsize) (colon - text) : len;
      if (colon)
        port_text = colon + 1;
      if (host_len == 0)
        return FALSE;
      host = g_ascii_strdown (text, host_len);
      for (const char *p = host; *p; p++)
        if (!g_ascii_isalnum (*p) && *p != '-' && *p != '.' && *p != '_')
          return FALSE;
      if (ends_in_number (host))
        {
          if (!parse_ipv4 (host, v4))
            return FALSE;
          g_string_append (host_out, v4);
        }
      else
        g_string_append (host_out, host);
    }
  if (port_text)
    {
      gsize n = text + len - port_text;
      guint value = 0;

      if (n == 0 || n > 5)
        return FALSE;
      for (gsize i = 0; i < n; i++)
        {
          if (!g_ascii_isdigit (port_text[i]))
            return FALSE;
          value = value * 10 + (guint) (port_text[i] - '0');
        }
      if (value == 0 || value > 65535)
        return FALSE;
      *port = (int) value;
    }
  return TRUE;
}

/* Splits a normalised origin into host and effective port. */
typedef struct {
  GString *host;
  int port;
} Parsed;

static char *
normalize (const char *raw, Parsed *parsed)
{
  g_autoptr (GString) out = NULL;
  const char *start, *end, *sep, *auth, *auth_end;
  gboolean https;
  int port, default_port;
  gsize host_at;

  if (raw == NULL)
    return NULL;
  start = raw;
  end = raw + strlen (raw);
  while (start < end && is_trim_space (*start))
    start++;
  while (end > start && is_trim_space (end[-1]))
    end--;
  if (end - start > MAX_ORIGIN_LEN || start == end)
    return NULL;
  for (const char *p = start; p < end; p++)
    if ((guchar) *p < 0x21 || (guchar) *p > 0x7e)
      return NULL;
  if (end - start == 4 && memcmp (start, "null", 4) == 0)
    {
      if (parsed)
        parsed->host = NULL;
      return g_strdup ("null");
    }

  sep = g_strstr_len (start, end - start, "://");
  if (sep == NULL)
    return NULL;
  if (sep - start == 4 && g_ascii_strncasecmp (start, "http", 4) == 0)
    https = FALSE;
  else if (sep - start == 5 && g_ascii_strncasecmp (start, "https", 5) == 0)
    https = TRUE;
  else
    return NULL;

  auth = sep + 3;
  auth_end = auth;
  while (auth_end < end && *auth_end != '/' && *auth_end != '?' && *auth_end != '#')
    auth_end++;
  /* Only an empty path or "/" may follow; no query or fragment at all. */
  if (!(auth_end == end || (auth_end + 1 == end && *auth_end == '/')))
    return NULL;
  if (memchr (auth, '@', auth_end - auth) != NULL)
    return NULL;

  out = g_string_new (https ? "https://" : "http://");
  host_at = out->len;
  if (!parse_authority (auth, auth_end - auth, out, &port))
    return NULL;
  default_port = https ? 443 : 80;
  if (parsed)
    {
      parsed->host = g_string_new_len (out->str + host_at, out->len - host_at);
      parsed->port = port < 0 ? default_port : port;
    }
  if (port >= 0 && port != default_port)
    g_string_append_printf (out, ":%d", port);
  return g_string_free (g_steal_pointer (&out), FALSE);
}

char *
aero_origin_normalize (const char *raw)
{
  return normalize (raw, NULL);
}

char *
aero_origin_normalize_pattern (const char *entry)
{
  if (entry && strcmp (entry, "*") == 0)
    return g_strdup ("*");
  return aero_origin_normalize (entry);
}

static gboolean
same_host (const Parsed *origin, const char *request_host)
{
  g_autoptr (GString) host = g_string_new (NULL);
  int port;

  if (request_host == NULL || origin->host == NULL)
    return FALSE;
  for (const char *p = request_host; *p; p++)
    if ((guchar) *p < 0x21 || (guchar) *p > 0x7e || *p == '/' || *p == '?' || *p == '#' ||
        *p == '@')
      return FALSE;
  if (!parse_authority (request_host, strlen (request_host), host, &port))
    return FALSE;
  if (port < 0)
    port = origin->port;
  return port == origin->port && g_string_equal (host, origin->host);
}

AeroOriginResult
aero_origin_check (const char *raw, const char *const *allowed, const char *request_host,
                   char **normalized)
{
  Parsed parsed = { NULL, -1 };
  g_autofree char *origin = NULL;
  AeroOriginResult result = AERO_ORIGIN_DENIED;
  gboolean any = FALSE;

  if (normalized)
    *normalized = NULL;
  if (raw == NULL)
    return AERO_ORIGIN_MISSING;
  origin = normalize (raw, &parsed);
  if (origin == NULL)
    return AERO_ORIGIN_INVALID;

  for (guint i = 0; allowed && allowed[i]; i++)
    {
      any = TRUE;
      if (strcmp (allowed[i], origin) == 0 ||
          (strcmp (allowed[i], "*") == 0 && strcmp (origin, "null") != 0))
        result = AERO_ORIGIN_ALLOWED;
    }
  if (!any && same_host (&parsed, request_host))
    result = AERO_ORIGIN_ALLOWED;

  if (parsed.host)
    g_string_free (parsed.host, TRUE);
  if (normalized)
    *normalized = g_steal_pointer (&origin);
  return result;
}
