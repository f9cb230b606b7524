/* aero-config.h — validated access to one group of the configuration file.
 *
 * aero-netd reads an ini file (GKeyFile). Each plugin instance owns one
 * group and validates it in its configure() method through an AeroConfigGroup.
 * Every getter records the key as known; when configure() returns, the core
 * reports any key that nobody asked for as unknown. Errors carry the file,
 * the group, the key and what was expected, and stop start-up with exit
 * status 2. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/** AERO_CONFIG_ERROR: error domain for configuration errors. */
#define AERO_CONFIG_ERROR (aero_config_error_quark ())

/**
 * AeroConfigError:
 * @AERO_CONFIG_ERROR_PARSE: the file is not a valid ini file.
 * @AERO_CONFIG_ERROR_UNKNOWN_GROUP: a group nobody knows.
 * @AERO_CONFIG_ERROR_UNKNOWN_KEY: a key nobody knows.
 * @AERO_CONFIG_ERROR_MISSING_KEY: a required key is absent.
 * @AERO_CONFIG_ERROR_INVALID_VALUE: a value is malformed or out of range.
 * @AERO_CONFIG_ERROR_PLUGIN: a plugin could not be found or loaded.
 */
typedef enum {
  AERO_CONFIG_ERROR_PARSE,
  AERO_CONFIG_ERROR_UNKNOWN_GROUP,
  AERO_CONFIG_ERROR_UNKNOWN_KEY,
  AERO_CONFIG_ERROR_MISSING_KEY,
  AERO_CONFIG_ERROR_INVALID_VALUE,
  AERO_CONFIG_ERROR_PLUGIN,
} AeroConfigError;

/**
 * aero_config_error_quark:
 *
 * Returns: the #GQuark of %AERO_CONFIG_ERROR.
 */
GQuark aero_config_error_quark (void);

typedef struct _AeroConfigGroup AeroConfigGroup;

/**
 * aero_config_group_new:
 * @keyfile: (transfer none): the parsed file
 * @file: name of the file, for messages
 * @group: the group name
 *
 * Creates a validating view of one group. Used by the core and by tests.
 *
 * Returns: (transfer full): a new group view; free with aero_config_group_free().
 */
AeroConfigGroup *aero_config_group_new (GKeyFile *keyfile, const char *file, const char *group);

/**
 * aero_config_group_free:
 * @group: (nullable): a group view
 *
 * Frees the view (not the key file).
 */
void aero_config_group_free (AeroConfigGroup *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroConfigGroup, aero_config_group_free)

/**
 * aero_config_group_get_name:
 * @group: a group view
 *
 * Returns: (transfer none): the group's name (the plugin instance name).
 */
const char *aero_config_group_get_name (AeroConfigGroup *group);

/**
 * aero_config_group_get_file:
 * @group: a group view
 *
 * Returns: (transfer none): the configuration file name.
 */
const char *aero_config_group_get_file (AeroConfigGroup *group);

/**
 * aero_config_group_has_key:
 * @group: a group view
 * @key: a key
 *
 * Marks @key as known.
 *
 * Returns: whether the key is present.
 */
gboolean aero_config_group_has_key (AeroConfigGroup *group, const char *key);

/**
 * aero_config_group_get_string:
 * @group: a group view
 * @key: the key
 * @default_value: (nullable): value when absent
 * @required: whether absence is an error
 * @error: return location for a #GError
 *
 * Reads a string. An empty value counts as present and empty.
 *
 * Returns: (transfer full) (nullable): the value or a copy of
 *   @default_value; %NULL with @error set on failure, or %NULL when absent
 *   and @default_value is %NULL.
 */
char *aero_config_group_get_string (AeroConfigGroup *group, const char *key,
                                    const char *default_value, gboolean required,
                                    GError **error);

/**
 * aero_config_group_get_string_list:
 * @group: a group view
 * @key: the key
 * @required: whether absence is an error
 * @error: return location for a #GError
 *
 * Reads a list separated by ',' or ';', items trimmed, empty items dropped.
 * With @required, only a missing key is an error; an empty value gives an
 * empty list.
 *
 * Returns: (transfer full) (nullable): a %NULL-terminated array (empty when
 *   absent), or %NULL with @error set.
 */
char **aero_config_group_get_string_list (AeroConfigGroup *group, const char *key,
                                          gboolean required, GError **error);

/**
 * aero_config_group_get_int:
 * @group: a group view
 * @key: the key
 * @min: smallest accepted value
 * @max: largest accepted value
 * @default_value: value when absent
 * @out: (out): where the value goes
 * @error: return location for a #GError
 *
 * Reads a decimal integer in [@min, @max].
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_int (AeroConfigGroup *group, const char *key,
                                    gint64 min, gint64 max, gint64 default_value,
                                    gint64 *out, GError **error);

/**
 * aero_config_group_get_size:
 * @group: a group view
 * @key: the key
 * @min: smallest accepted value in bytes
 * @max: largest accepted value in bytes
 * @default_value: value when absent
 * @out: (out): where the value goes, in bytes
 * @error: return location for a #GError
 *
 * Reads a byte size: an integer with an optional suffix k, M or G (powers
 * of 1024, also written KiB, MiB, GiB).
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_size (AeroConfigGroup *group, const char *key,
                                     guint64 min, guint64 max, guint64 default_value,
                                     guint64 *out, GError **error);

/**
 * aero_config_group_get_duration:
 * @group: a group view
 * @key: the key
 * @min_ms: smallest accepted value in milliseconds
 * @max_ms: largest accepted value in milliseconds
 * @default_ms: value when absent
 * @out_ms: (out): where the value goes, in milliseconds
 * @error: return location for a #GError
 *
 * Reads a duration: a number with a unit, ms, s, min or h (a bare number
 * means seconds).
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_duration (AeroConfigGroup *group, const char *key,
                                         guint64 min_ms, guint64 max_ms, guint64 default_ms,
                                         guint64 *out_ms, GError **error);

/**
 * aero_config_group_get_bool:
 * @group: a group view
 * @key: the key
 * @default_value: value when absent
 * @out: (out): where the value goes
 * @error: return location for a #GError
 *
 * Reads true/false (also yes/no, on/off, 1/0).
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_bool (AeroConfigGroup *group, const char *key,
                                     gboolean default_value, gboolean *out, GError **error);

/**
 * aero_config_group_get_enum:
 * @group: a group view
 * @key: the key
 * @choices: %NULL-terminated list of accepted values
 * @default_index: index into @choices when absent
 * @out: (out): index of the value in @choices
 * @error: return location for a #GError
 *
 * Reads one of a fixed set of words.
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_enum (AeroConfigGroup *group, const char *key,
                                     const char *const *choices, guint default_index,
                                     guint *out, GError **error);

/**
 * aero_config_group_get_socket_address:
 * @group: a group view
 * @key: the key
 * @default_port: port when the value has none (0: a port is required)
 * @default_value: (nullable): value when absent
 * @required: whether absence is an error
 * @out: (out) (transfer full) (nullable): the address, %NULL when absent
 * @error: return location for a #GError
 *
 * Reads `ADDRESS[:PORT]` where ADDRESS is a numeric IPv4 address or a
 * bracketed IPv6 address (`[::1]:8090`). Host names are refused.
 *
 * Returns: %TRUE on success.
 */
gboolean aero_config_group_get_socket_address (AeroConfigGroup *group, const char *key,
                                               guint16 default_port, const char *default_value,
                                               gboolean required, GInetSocketAddress **out,
                                               GError **error);

/**
 * aero_config_group_error:
 * @group: a group view
 * @error: return location for a #GError
 * @code: an #AeroConfigError
 * @key: (nullable): the key concerned, or %NULL for the whole group
 * @format: printf-style text saying what was expected
 * @...: arguments
 *
 * Sets @error to a message of the standard shape
 * `FILE: [GROUP] KEY: TEXT`, for plugins that validate beyond the getters.
 */
void aero_config_group_error (AeroConfigGroup *group, GError **error, AeroConfigError code,
                              const char *key, const char *format, ...) G_GNUC_PRINTF (5, 6);

/**
 * aero_config_group_get_subgroup:
 * @group: a group view
 * @sub: a section name (no dots)
 *
 * Claims the section `[GROUP.SUB]` of this group (for free-form tables
 * such as static DNS entries or rules) and returns a view of it. The
 * section may be absent: the view then has no keys. Sections of the form
 * `[GROUP.X]` that the owner never claims are reported as unknown groups.
 *
 * Returns: (transfer none): the view, owned by @group.
 */
AeroConfigGroup *aero_config_group_get_subgroup (AeroConfigGroup *group, const char *sub);

/**
 * aero_config_group_get_keys:
 * @group: a group view
 *
 * Lists every key of the group in file order and marks them all as known
 * (for free-form `name = value` tables).
 *
 * Returns: (transfer full): a %NULL-terminated array, empty when absent.
 */
char **aero_config_group_get_keys (AeroConfigGroup *group);

/**
 * aero_config_group_check_unknown_keys:
 * @group: a group view
 * @error: return location for a #GError
 *
 * Fails on the first key of the group that no getter asked for, on the
 * first `[GROUP.SUB]` section that was not claimed with
 * aero_config_group_get_subgroup(), and on unknown keys of claimed ones.
 *
 * Returns: %TRUE when every key is known.
 */
gboolean aero_config_group_check_unknown_keys (AeroConfigGroup *group, GError **error);

/**
 * aero_parse_socket_address:
 * @text: `ADDRESS[:PORT]`, IPv6 in brackets
 * @default_port: port when @text has none (0: a port is required)
 * @error: return location for a #GError
 *
 * Parses a numeric socket address.
 *
 * Returns: (transfer full) (nullable): the address, or %NULL with @error set.
 */
GInetSocketAddress *aero_parse_socket_address (const char *text, guint16 default_port,
                                               GError **error);

G_END_DECLS
