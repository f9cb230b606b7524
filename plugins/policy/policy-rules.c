/* policy-rules.c — parsing and matching address rules, port ranges and
 * name patterns (see policy-rules.h). */
#include <stdlib.h>
#include <string.h>

#include "policy-ranges.h"
#include "policy-rules.h"

static gboolean
in_prefix (const guint8 *addr, const guint8 *prefix, guint len)
{
  guint bytes = len / 8, bits = len % 8;

  if (memcmp (addr, prefix, bytes) != 0)
    return FALSE;
  if (bits == 0)
    return TRUE;
  return ((addr[bytes] ^ prefix[bytes]) & (0xff << (8 - bits)) & 0xff) == 0;
}

/* A decimal number in [min, max], nothing else. */
static gboolean
parse_number (const char *text, guint64 min, guint64 max, guint64 *out)
{
  guint64 v = 0;

  if (*text == '\0')
    return FALSE;
  for (const char *p = text; *p; p++)
    {
      if (!g_ascii_isdigit (*p))
        return FALSE;
      v = v * 10 + (guint64) (*p - '0');
      if (v > max)
        return FALSE;
    }
  if (v < min)
    return FALSE;
  *out = v;
  return TRUE;
}

gboolean
policy_port_range_parse (const char *text, PolicyPortRange *range, char **message)
{
  g_auto (GStrv) parts = NULL;
  guint64 lo, hi;

  if (g_strcmp0 (text, "*") == 0)
    {
      range->min = 0;
      range->max = 65535;
      return TRUE;
    }
  parts = g_strsplit (text, "-", 3);
  if (parts[0] == NULL || (parts[1] && parts[2]))
    {
      *message = g_strdup_printf ("'%s' is not a port or a PORT-PORT range", text);
      return FALSE;
    }
  if (!parse_number (parts[0], 1, 65535, &lo))
    {
      *message = g_strdup_printf ("'%s' is not a port number from 1 to 65535", parts[0]);
      return FALSE;
    }
  hi = lo;
  if (parts[1] && !parse_number (parts[1], 1, 65535, &hi))
    {
      *message = g_strdup_printf ("'%s' is not a port number from 1 to 65535", parts[1]);
      return FALSE;
    }
  if (hi < lo)
    {
      *message = g_strdup_printf ("the range %s is empty: its first port is above its last", text);
      return FALSE;
    }
  range->min = (guint16) lo;
  range->max = (guint16) hi;
  return TRUE;
}

/* ADDR or ADDR/LEN, of either family. */
static gboolean
parse_address_part (const char *text, PolicyAddrRule *rule, char **message)
{
  g_autofree char *addr_text = g_strdup (text);
  g_autoptr (GInetAddress) inet = NULL;
  char *slash = strchr (addr_text, '/');
  guint max_len;
  guint64 len;
  const guint8 *bytes;

  if (slash)
    *slash++ = '\0';
  inet = g_inet_address_new_from_string (addr_text);
  if (inet == NULL)
    {
      *message = g_strdup_printf ("'%s' is not a numeric IPv4 or IPv6 address", addr_text);
      return FALSE;
    }
  rule->family = g_inet_address_get_family (inet);
  max_len = rule->family == G_SOCKET_FAMILY_IPV4 ? 32 : 128;
  bytes = g_inet_address_to_bytes (inet);
  memset (rule->addr, 0, sizeof rule->addr);
  memcpy (rule->addr, bytes, max_len / 8);
  len = max_len;
  if (slash && !parse_number (slash, 0, max_len, &len))
    {
      *message = g_strdup_printf ("'/%s' is not a prefix length from 0 to %u", slash, max_len);
      return FALSE;
    }
  rule->prefix_len = (guint) len;
  for (guint bit = rule->prefix_len; bit < max_len; bit++)
    if (rule->addr[bit / 8] & (0x80 >> (bit % 8)))
      {
        guint8 masked[16];
        g_autoptr (GInetAddress) m = NULL;
        g_autofree char *mtext = NULL;

        memcpy (masked, rule->addr, sizeof masked);
        for (guint b = rule->prefix_len; b < max_len; b++)
          masked[b / 8] &= (guint8) ~(0x80 >> (b % 8));
        m = g_inet_address_new_from_bytes (masked, rule->family);
        mtext = g_inet_address_to_string (m);
        *message = g_strdup_printf ("%s/%u has address bits set beyond the prefix "
                                    "(the network is %s/%u)",
                                    addr_text, rule->prefix_len, mtext, rule->prefix_len);
        return FALSE;
      }
  return TRUE;
}

gboolean
policy_addr_rule_parse (const char *text, PolicyAddrRule *rule, char **message)
{
  g_autofree char *addr_part = NULL;
  const char *port_part = NULL;
  PolicyPortRange ports = { 0, 65535 };

  memset (rule, 0, sizeof *rule);
  if (text[0] == '[')
    {
      const char *close = strchr (text, ']');

      if (close == NULL)
        {
          *message = g_strdup_printf ("'%s' opens a bracket it does not close", text);
          return FALSE;
        }
      addr_part = g_strndup (text + 1, (gsize) (close - text - 1));
      if (close[1] == ':')
        port_part = close + 2;
      else if (close[1] != '\0')
        {
          *message = g_strdup_printf ("'%s': only ':PORT' may follow ']'", text);
          return FALSE;
        }
      if (strchr (addr_part, ':') == NULL)
        {
          *message = g_strdup_printf ("'%s': brackets are for IPv6 addresses", text);
          return FALSE;
        }
    }
  else
    {
      const char *colon = strchr (text, ':');

      if (colon && strchr (colon + 1, ':'))
        addr_part = g_strdup (text); /* a bare IPv6 address: no port */
      else if (colon)
        {
          addr_part = g_strndup (text, (gsize) (colon - text));
          port_part = colon + 1;
        }
      else
        addr_part = g_strdup (text);
    }

  if (port_part && *port_part == '\0')
    {
      *message = g_strdup_printf ("'%s' ends with ':' but has no port", text);
      return FALSE;
    }
  if (port_part && !policy_port_range_parse (port_part, &ports, message))
    return FALSE;
  rule->port_min = ports.min;
  rule->port_max = ports.max;

  if (strcmp (addr_part, "*") == 0)
    rule->family = G_SOCKET_FAMILY_INVALID;
  else if (*addr_part == '\0')
    {
      *message = g_strdup_printf ("'%s' has no address (write * for any address)", text);
      return FALSE;
    }
  else if (!parse_address_part (addr_part, rule, message))
    return FALSE;
  rule->text = g_strdup (text);
  return TRUE;
}

void
policy_addr_rule_clear (PolicyAddrRule *rule)
{
  g_clear_pointer (&rule->text, g_free);
}

gboolean
policy_addr_rule_covers_address (const PolicyAddrRule *rule, GSocketFamily family,
                                 const guint8 *addr, gboolean embedded)
{
  guint8 v4[4];

  if (rule->family == G_SOCKET_FAMILY_INVALID)
    return TRUE;
  if (rule->family == family)
    return in_prefix (addr, rule->addr, rule->prefix_len);
  if (embedded && rule->family == G_SOCKET_FAMILY_IPV4 && family == G_SOCKET_FAMILY_IPV6 &&
      policy_ipv6_embedded_ipv4 (addr, v4))
    return in_prefix (v4, rule->addr, rule->prefix_len);
  return FALSE;
}

gboolean
policy_addr_rule_any_port (const PolicyAddrRule *rule)
{
  return rule->port_min == 0 && rule->port_max == 65535;
}

gboolean
policy_addr_rule_matches (const PolicyAddrRule *rule, GSocketFamily family, const guint8 *addr,
                          guint16 port, gboolean embedded)
{
  if (!policy_addr_rule_any_port (rule) && (port < rule->port_min || port > rule->port_max))
    return FALSE;
  return policy_addr_rule_covers_address (rule, family, addr, embedded);
}

gboolean
policy_name_is_valid (const char *name)
{
  gsize label = 0, total = 0;

  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *p = name; *p; p++, total++)
    {
      if (*p == '.')
        {
          if (label == 0)
            return FALSE;
          label = 0;
          continue;
        }
      if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
        return FALSE;
      if (++label > 63)
        return FALSE;
    }
  return label > 0 && total <= 253;
}

gboolean
policy_name_pattern_parse (const char *text, PolicyNamePattern *pattern, char **message)
{
  g_autofree char *lower = g_ascii_strdown (text, -1);
  gsize n = strlen (lower);
  const char *body = lower;

  memset (pattern, 0, sizeof *pattern);
  if (n > 0 && lower[n - 1] == '.')
    lower[--n] = '\0';
  if (strcmp (lower, "*") == 0)
    {
      pattern->any = TRUE;
      pattern->suffix = g_strdup ("*");
      return TRUE;
    }
  if (g_str_has_prefix (lower, "*."))
    {
      pattern->subdomains = TRUE;
      body = lower + 2;
    }
  if (strchr (body, '*'))
    {
      *message = g_strdup_printf ("'%s': a wildcard is only allowed as a leading '*.' "
                                  "(as in *.example.com)", text);
      return FALSE;
    }
  if (!policy_name_is_valid (body))
    {
      *message = g_strdup_printf ("'%s' is not a host name (labels of letters, digits, '-' and "
                                  "'_', at most 63 characters each)", text);
      return FALSE;
    }
  pattern->suffix = g_strdup (body);
  return TRUE;
}

void
policy_name_pattern_clear (PolicyNamePattern *pattern)
{
  g_clear_pointer (&pattern->suffix, g_free);
}

gboolean
policy_name_pattern_matches (const PolicyNamePattern *pattern, const char *name)
{
  gsize n, s;

  if (pattern->any)
    return TRUE;
  if (!pattern->subdomains)
    return g_ascii_strcasecmp (pattern->suffix, name) == 0;
  n = strlen (name);
  s = strlen (pattern->suffix);
  return n > s + 1 && name[n - s - 1] == '.' && g_ascii_strcasecmp (name + n - s, pattern->suffix) == 0;
}
