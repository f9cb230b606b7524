/* aero-config.c — validated access to one group of the configuration file.
 *
 * Values are read raw from the GKeyFile and parsed here, so that every error
 * names the file, the group and the key, says what was expected and shows
 * what was found. Every key a getter asks for is remembered, so that the
 * keys nobody asked for can be reported as unknown. */

#include <aero-net/aero-config.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

G_DEFINE_QUARK (aero-config-error-quark, aero_config_error)

struct _AeroConfigGroup
{
  GKeyFile *keyfile;
  char *file;
  char *group;
  GHashTable *known;  /* key name → itself: every key asked for */
  GHashTable *subgroups; /* sub name → AeroConfigGroup: sections claimed */
};

#define KIB G_GUINT64_CONSTANT (1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

#define MS_PER_S G_GUINT64_CONSTANT (1000)
#define MS_PER_MIN (MS_PER_S * 60)
#define MS_PER_H (MS_PER_MIN * 60)

AeroConfigGroup *
aero_config_group_new (GKeyFile *keyfile, const char *file, const char *group)
{
  AeroConfigGroup *self;

  g_return_val_if_fail (keyfile != NULL, NULL);
  g_return_val_if_fail (group != NULL, NULL);

  self = g_new0 (AeroConfigGroup, 1);
  self->keyfile = g_key_file_ref (keyfile);
  self->file = g_strdup (file != NULL ? file : "(config)");
  self->group = g_strdup (group);
  self->known = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->subgroups = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                           (GDestroyNotify) aero_config_group_free);
  return self;
}

void
aero_config_group_free (AeroConfigGroup *group)
{
  if (group == NULL)
    return;

  g_key_file_unref (group->keyfile);
  g_free (group->file);
  g_free (group->group);
  g_hash_table_unref (group->known);
  g_hash_table_unref (group->subgroups);
  g_free (group);
}

const char *
aero_config_group_get_name (AeroConfigGroup *group)
{
  g_return_val_if_fail (group != NULL, NULL);
  return group->group;
}

const char *
aero_config_group_get_file (AeroConfigGroup *group)
{
  g_return_val_if_fail (group != NULL, NULL);
  return group->file;
}

static void
mark_known (AeroConfigGroup *group, const char *key)
{
  if (!g_hash_table_contains (group->known, key))
    g_hash_table_add (group->known, g_strdup (key));
}

gboolean
aero_config_group_has_key (AeroConfigGroup *group, const char *key)
{
  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);

  mark_known (group, key);
  return g_key_file_has_key (group->keyfile, group->group, key, NULL);
}

static void
set_error_valist (AeroConfigGroup *group, GError **error, AeroConfigError code,
                  const char *key, const char *format, va_list args)
  G_GNUC_PRINTF (5, 0);

static void
set_error_valist (AeroConfigGroup *group, GError **error, AeroConfigError code,
                  const char *key, const char *format, va_list args)
{
  g_autofree char *text = g_strdup_vprintf (format, args);

  if (key != NULL)
    g_set_error (error, AERO_CONFIG_ERROR, code, "%s: [%s] %s: %s",
                 group->file, group->group, key, text);
  else
    g_set_error (error, AERO_CONFIG_ERROR, code, "%s: [%s]: %s",
                 group->file, group->group, text);
}

void
aero_config_group_error (AeroConfigGroup *group, GError **error, AeroConfigError code,
                         const char *key, const char *format, ...)
{
  va_list args;

  g_return_if_fail (group != NULL);
  g_return_if_fail (format != NULL);

  va_start (args, format);
  set_error_valist (group, error, code, key, format, args);
  va_end (args);
}

static gboolean
missing_key_error (AeroConfigGroup *group, const char *key, GError **error)
{
  aero_config_group_error (group, error, AERO_CONFIG_ERROR_MISSING_KEY, key,
                           "required key is missing");
  return FALSE;
}

/* Marks @key as known and returns its raw value, trimmed, or %NULL when
 * the key is absent. */
static char *
lookup_value (AeroConfigGroup *group, const char *key)
{
  char *value;

  mark_known (group, key);
  value = g_key_file_get_value (group->keyfile, group->group, key, NULL);
  if (value == NULL)
    return NULL;
  return g_strstrip (value);
}

char *
aero_config_group_get_string (AeroConfigGroup *group, const char *key,
                              const char *default_value, gboolean required,
                              GError **error)
{
  char *value;

  g_return_val_if_fail (group != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  value = lookup_value (group, key);
  if (value != NULL)
    return value;
  if (required)
    {
      missing_key_error (group, key, error);
      return NULL;
    }
  return g_strdup (default_value);
}

char **
aero_config_group_get_string_list (AeroConfigGroup *group, const char *key,
                                   gboolean required, GError **error)
{
  g_autofree char *value = NULL;
  g_auto (GStrv) items = NULL;
  g_autoptr (GPtrArray) result = NULL;

  g_return_val_if_fail (group != NULL, NULL);
  g_return_val_if_fail (key != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  value = lookup_value (group, key);
  if (value == NULL)
    {
      if (required)
        {
          missing_key_error (group, key, error);
          return NULL;
        }
      return g_new0 (char *, 1);
    }

  result = g_ptr_array_new_with_free_func (g_free);
  items = g_strsplit_set (value, ",;", -1);
  for (char **item = items; *item != NULL; item++)
    {
      g_strstrip (*item);
      if (**item != '\0')
        g_ptr_array_add (result, g_strdup (*item));
    }
  g_ptr_array_add (result, NULL);
  return (char **) g_ptr_array_free (g_steal_pointer (&result), FALSE);
}

/* Describes the range [min, max] of integers, leaving out the sides that
 * are the limits of the type. */
static char *
describe_int_range (gint64 min, gint64 max)
{
  if (min == G_MININT64 && max == G_MAXINT64)
    return g_strdup ("an integer");
  if (max == G_MAXINT64)
    return g_strdup_printf ("an integer of at least %" G_GINT64_FORMAT, min);
  if (min == G_MININT64)
    return g_strdup_printf ("an integer of at most %" G_GINT64_FORMAT, max);
  return g_strdup_printf ("an integer between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT,
                          min, max);
}

static gboolean
parse_int (const char *text, gint64 *out)
{
  char *end = NULL;
  gint64 value;

  /* strtoll() would skip leading white space and accept an empty string. */
  if (*text == '\0' || g_ascii_isspace (*text))
    return FALSE;

  errno = 0;
  value = g_ascii_strtoll (text, &end, 10);
  if (errno != 0 || end == text || *end != '\0')
    return FALSE;

  *out = value;
  return TRUE;
}

gboolean
aero_config_group_get_int (AeroConfigGroup *group, const char *key,
                           gint64 min, gint64 max, gint64 default_value,
                           gint64 *out, GError **error)
{
  g_autofree char *value = NULL;
  gint64 parsed;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  value = lookup_value (group, key);
  if (value == NULL)
    {
      *out = default_value;
      return TRUE;
    }

  if (!parse_int (value, &parsed) || parsed < min || parsed > max)
    {
      g_autofree char *expected = describe_int_range (min, max);

      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected %s, got '%s'", expected, value);
      return FALSE;
    }

  *out = parsed;
  return TRUE;
}

/* "@what between @min and @max", leaving out the sides that are no limit. */
static char *
describe_range (const char *what, const char *min, const char *max,
                gboolean no_min, gboolean no_max)
{
  if (no_min && no_max)
    return g_strdup (what);
  if (no_max)
    return g_strdup_printf ("%s of at least %s", what, min);
  if (no_min)
    return g_strdup_printf ("%s of at most %s", what, max);
  return g_strdup_printf ("%s between %s and %s", what, min, max);
}

/* Writes @bytes the way a user would: with the largest suffix that divides it. */
static char *
format_size (guint64 bytes)
{
  if (bytes != 0 && bytes % GIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "GiB", bytes / GIB);
  if (bytes != 0 && bytes % MIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "MiB", bytes / MIB);
  if (bytes != 0 && bytes % KIB == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "KiB", bytes / KIB);
  return g_strdup_printf ("%" G_GUINT64_FORMAT, bytes);
}

/* Parses leading decimal digits into @out, with overflow checking. Returns
 * the position after them, or %NULL when there are none or on overflow. */
static const char *
parse_digits (const char *text, guint64 *out, guint *n_digits)
{
  guint64 value = 0;
  const char *p;

  for (p = text; g_ascii_isdigit (*p); p++)
    {
      guint digit = *p - '0';

      if (value > (G_MAXUINT64 - digit) / 10)
        return NULL;
      value = value * 10 + digit;
    }
  if (p == text)
    return NULL;

  *out = value;
  if (n_digits != NULL)
    *n_digits = p - text;
  return p;
}

static gboolean
parse_size (const char *text, guint64 *out)
{
  static const struct {
    const char *suffix;
    guint64 factor;
  } suffixes[] = {
    { "", 1 },
    { "k", KIB }, { "K", KIB }, { "KiB", KIB },
    { "M", MIB }, { "MiB", MIB },
    { "G", GIB }, { "GiB", GIB },
  };
  guint64 number;
  const char *p;

  p = parse_digits (text, &number, NULL);
  if (p == NULL)
    return FALSE;
  while (g_ascii_isspace (*p))
    p++;

  for (gsize i = 0; i < G_N_ELEMENTS (suffixes); i++)
    {
      if (strcmp (p, suffixes[i].suffix) != 0)
        continue;
      if (number > G_MAXUINT64 / suffixes[i].factor)
        return FALSE;
      *out = number * suffixes[i].factor;
      return TRUE;
    }
  return FALSE;
}

/* A quantity with a unit (a size, a duration): what it is called, how it
 * is read and written, and what the error message says of its syntax. */
typedef struct
{
  const char *what;
  const char *syntax;
  gboolean (*parse) (const char *text, guint64 *out);
  char *(*format) (guint64 value);
} Quantity;

/* @key of @group as @q, within [@min, @max]; @default_value when absent. */
static gboolean
get_quantity (AeroConfigGroup *group, const char *key, const Quantity *q, guint64 min,
              guint64 max, guint64 default_value, guint64 *out, GError **error)
{
  g_autofree char *value = NULL;
  guint64 parsed;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  value = lookup_value (group, key);
  if (value == NULL)
    {
      *out = default_value;
      return TRUE;
    }

  if (!q->parse (value, &parsed) || parsed < min || parsed > max)
    {
      g_autofree char *min_text = q->format (min);
      g_autofree char *max_text = q->format (max);
      g_autofree char *expected = describe_range (q->what, min_text, max_text, min == 0,
                                                  max == G_MAXUINT64);

      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected %s (%s), got '%s'", expected, q->syntax, value);
      return FALSE;
    }

  *out = parsed;
  return TRUE;
}

gboolean
aero_config_group_get_size (AeroConfigGroup *group, const char *key,
                            guint64 min, guint64 max, guint64 default_value,
                            guint64 *out, GError **error)
{
  static const Quantity size = {
    "a size", "bytes, with an optional suffix k, M or G", parse_size, format_size,
  };

  return get_quantity (group, key, &size, min, max, default_value, out, error);
}

/* Writes @ms with the largest unit that divides it. */
static char *
format_duration (guint64 ms)
{
  if (ms == 0)
    return g_strdup ("0s");
  if (ms % MS_PER_H == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "h", ms / MS_PER_H);
  if (ms % MS_PER_MIN == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "min", ms / MS_PER_MIN);
  if (ms % MS_PER_S == 0)
    return g_strdup_printf ("%" G_GUINT64_FORMAT "s", ms / MS_PER_S);
  return g_strdup_printf ("%" G_GUINT64_FORMAT "ms", ms);
}

/* A duration is a decimal number (with an optional fraction) and an
 * optional unit; the result must be a whole number of milliseconds. */
static gboolean
parse_duration (const char *text, guint64 *out_ms)
{
  static const struct {
    const char *unit;
    guint64 factor;
  } units[] = {
    { "", MS_PER_S },
    { "ms", 1 },
    { "s", MS_PER_S },
    { "min", MS_PER_MIN },
    { "h", MS_PER_H },
  };
  guint64 whole, fraction = 0, scale = 1;
  guint n_fraction_digits = 0;
  const char *p;

  p = parse_digits (text, &whole, NULL);
  if (p == NULL)
    return FALSE;
  if (*p == '.')
    {
      p = parse_digits (p + 1, &fraction, &n_fraction_digits);
      if (p == NULL || n_fraction_digits > 9)
        return FALSE;
      for (guint i = 0; i < n_fraction_digits; i++)
        scale *= 10;
    }
  while (g_ascii_isspace (*p))
    p++;

  for (gsize i = 0; i < G_N_ELEMENTS (units); i++)
    {
      guint64 factor = units[i].factor;
      guint64 fraction_ms;

      if (g_ascii_strcasecmp (p, units[i].unit) != 0)
        continue;

      /* fraction < scale ≤ 10^9 and factor ≤ 3.6·10^6: no overflow. */
      if ((fraction * factor) % scale != 0)
        return FALSE;
      fraction_ms = fraction * factor / scale;
      if (whole > (G_MAXUINT64 - fraction_ms) / factor)
        return FALSE;
      *out_ms = whole * factor + fraction_ms;
      return TRUE;
    }
  return FALSE;
}

gboolean
aero_config_group_get_duration (AeroConfigGroup *group, const char *key,
                                guint64 min_ms, guint64 max_ms, guint64 default_ms,
                                guint64 *out_ms, GError **error)
{
  static const Quantity duration = {
    "a duration", "a number with a unit ms, s, min or h", parse_duration, format_duration,
  };

  return get_quantity (group, key, &duration, min_ms, max_ms, default_ms, out_ms, error);
}

gboolean
aero_config_group_get_bool (AeroConfigGroup *group, const char *key,
                            gboolean default_value, gboolean *out, GError **error)
{
  static const char *const true_words[] = { "true", "yes", "on", "1" };
  static const char *const false_words[] = { "false", "no", "off", "0" };
  g_autofree char *value = NULL;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  value = lookup_value (group, key);
  if (value == NULL)
    {
      *out = default_value;
      return TRUE;
    }

  for (gsize i = 0; i < G_N_ELEMENTS (true_words); i++)
    {
      if (g_ascii_strcasecmp (value, true_words[i]) == 0)
        {
          *out = TRUE;
          return TRUE;
        }
      if (g_ascii_strcasecmp (value, false_words[i]) == 0)
        {
          *out = FALSE;
          return TRUE;
        }
    }

  aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                           "expected a boolean (true/false, yes/no, on/off, 1/0), got '%s'",
                           value);
  return FALSE;
}

gboolean
aero_config_group_get_enum (AeroConfigGroup *group, const char *key,
                            const char *const *choices, guint default_index,
                            guint *out, GError **error)
{
  g_autofree char *value = NULL;
  g_autofree char *expected = NULL;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (choices != NULL && choices[0] != NULL, FALSE);
  g_return_val_if_fail (default_index < g_strv_length ((char **) choices), FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  value = lookup_value (group, key);
  if (value == NULL)
    {
      *out = default_index;
      return TRUE;
    }

  for (guint i = 0; choices[i] != NULL; i++)
    {
      if (strcmp (value, choices[i]) == 0)
        {
          *out = i;
          return TRUE;
        }
    }

  expected = g_strjoinv (", ", (char **) choices);
  aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                           "expected one of %s, got '%s'", expected, value);
  return FALSE;
}

static GInetSocketAddress *
address_error (GError **error, const char *text, const char *expected)
{
  g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_INVALID_VALUE,
               "expected %s, got '%s'", expected, text);
  return NULL;
}

/* Parses a port written as 1 to 5 decimal digits, 0 to 65535. */
static gboolean
parse_port (const char *text, guint16 *out)
{
  guint64 value;
  guint n_digits;
  const char *end;

  end = parse_digits (text, &value, &n_digits);
  if (end == NULL || *end != '\0' || n_digits > 5 || value > G_MAXUINT16)
    return FALSE;
  *out = value;
  return TRUE;
}

GInetSocketAddress *
aero_parse_socket_address (const char *text, guint16 default_port, GError **error)
{
  g_autofree char *copy = NULL;
  g_autoptr (GInetAddress) address = NULL;
  const char *host;
  const char *port_text = NULL;
  GSocketFamily family;
  guint16 port = default_port;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  copy = g_strstrip (g_strdup (text));
  if (*copy == '\0')
    return address_error (error, text, "an address such as 127.0.0.1:8080 or [::1]:8080");

  if (copy[0] == '[')
    {
      char *close = strchr (copy, ']');

      if (close == NULL)
        return address_error (error, text, "a ']' closing the IPv6 address");
      *close = '\0';
      host = copy + 1;
      if (close[1] == ':')
        port_text = close + 2;
      else if (close[1] != '\0')
        return address_error (error, text, "nothing but ':PORT' after ']'");
      family = G_SOCKET_FAMILY_IPV6;
    }
  else
    {
      char *colon = strchr (copy, ':');

      if (colon != NULL && strchr (colon + 1, ':') != NULL)
        return address_error (error, text,
                              "an IPv6 address in brackets, such as [::1]:8080");
      if (colon != NULL)
        {
          *colon = '\0';
          port_text = colon + 1;
        }
      host = copy;
      family = G_SOCKET_FAMILY_IPV4;
    }

  address = g_inet_address_new_from_string (host);
  if (address == NULL || g_inet_address_get_family (address) != family)
    {
      if (family == G_SOCKET_FAMILY_IPV6)
        return address_error (error, text, "a numeric IPv6 address inside the brackets");

      for (const char *p = host; *p != '\0'; p++)
        {
          if (g_ascii_isalpha (*p))
            return address_error (error, text,
                                  "a numeric IPv4 address or a bracketed IPv6 address "
                                  "(host names are not accepted)");
        }
      return address_error (error, text, "a numeric IPv4 address such as 127.0.0.1");
    }

  if (port_text != NULL)
    {
      if (!parse_port (port_text, &port))
        return address_error (error, text, "a port between 0 and 65535");
    }
  else if (default_port == 0)
    {
      return address_error (error, text,
                            family == G_SOCKET_FAMILY_IPV6 ? "[ADDRESS]:PORT (a port is required)"
                                                           : "ADDRESS:PORT (a port is required)");
    }

  return G_INET_SOCKET_ADDRESS (g_inet_socket_address_new (address, port));
}

gboolean
aero_config_group_get_socket_address (AeroConfigGroup *group, const char *key,
                                      guint16 default_port, const char *default_value,
                                      gboolean required, GInetSocketAddress **out,
                                      GError **error)
{
  g_autofree char *value = NULL;
  g_autoptr (GError) local_error = NULL;
  GInetSocketAddress *address;
  const char *text;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (key != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  *out = NULL;
  value = lookup_value (group, key);
  if (value == NULL)
    {
      if (required)
        return missing_key_error (group, key, error);
      if (default_value == NULL)
        return TRUE;
    }

  text = value != NULL ? value : default_value;
  address = aero_parse_socket_address (text, default_port, &local_error);
  if (address == NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "%s", local_error->message);
      return FALSE;
    }

  *out = address;
  return TRUE;
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

AeroConfigGroup *
aero_config_group_get_subgroup (AeroConfigGroup *group, const char *sub)
{
  AeroConfigGroup *child;

  g_return_val_if_fail (group != NULL, NULL);
  g_return_val_if_fail (sub != NULL && *sub != '\0', NULL);

  child = g_hash_table_lookup (group->subgroups, sub);
  if (child == NULL)
    {
      g_autofree char *name = g_strconcat (group->group, ".", sub, NULL);

      child = aero_config_group_new (group->keyfile, group->file, name);
      g_hash_table_insert (group->subgroups, g_strdup (sub), child);
    }
  return child;
}

char **
aero_config_group_get_keys (AeroConfigGroup *group)
{
  g_auto (GStrv) keys = NULL;

  g_return_val_if_fail (group != NULL, NULL);
  keys = g_key_file_get_keys (group->keyfile, group->group, NULL, NULL);
  if (keys == NULL)
    return g_new0 (char *, 1);
  for (char **key = keys; *key != NULL; key++)
    mark_known (group, *key);
  return g_steal_pointer (&keys);
}

/* Sections [GROUP.SUB] that the owner of GROUP never asked for are unknown;
 * claimed ones are checked for unknown keys in turn. */
static gboolean
check_unclaimed_subgroups (AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) groups = g_key_file_get_groups (group->keyfile, NULL);
  gsize prefix_len = strlen (group->group);

  for (char **g = groups; *g != NULL; g++)
    {
      AeroConfigGroup *child;

      if (strncmp (*g, group->group, prefix_len) != 0 || (*g)[prefix_len] != '.')
        continue;
      child = g_hash_table_lookup (group->subgroups, *g + prefix_len + 1);
      if (child == NULL)
        {
          g_set_error (error, AERO_CONFIG_ERROR, AERO_CONFIG_ERROR_UNKNOWN_GROUP,
                       "%s: [%s]: unknown group ([%s] has no section called '%s')", group->file,
                       *g, group->group, *g + prefix_len + 1);
          return FALSE;
        }
      if (!aero_config_group_check_unknown_keys (child, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
aero_config_group_check_unknown_keys (AeroConfigGroup *group, GError **error)
{
  g_auto (GStrv) keys = NULL;

  g_return_val_if_fail (group != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_unclaimed_subgroups (group, error))
    return FALSE;

  keys = g_key_file_get_keys (group->keyfile, group->group, NULL, NULL);
  if (keys == NULL)
    return TRUE;

  for (char **key = keys; *key != NULL; key++)
    {
      g_autofree const char **known = NULL;
      g_autofree char *known_text = NULL;
      guint n_known;

      if (g_hash_table_contains (group->known, *key))
        continue;

      known = (const char **) g_hash_table_get_keys_as_array (group->known, &n_known);
      if (n_known == 0)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_UNKNOWN_KEY, *key,
                                   "unknown key");
          return FALSE;
        }

      qsort (known, n_known, sizeof (char *), compare_strings);
      known_text = g_strjoinv (", ", (char **) known);
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_UNKNOWN_KEY, *key,
                               "unknown key (known keys: %s)", known_text);
      return FALSE;
    }

  return TRUE;
}
