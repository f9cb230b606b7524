/* aero-log.h — structured logging.
 *
 * aero-net logs through GLib's structured logging. Every record carries a
 * component ("core", a plugin instance name, ...) in the AERO_COMPONENT
 * field and may carry any other fields (session, peer, reason, ...). The
 * daemon installs a writer that prints one line per record to stderr, as
 * text or as JSON. Never log payload bytes: only metadata.
 *
 *   AERO_LOG_INFO ("ws", "session", id, "peer", addr, "MESSAGE", "tunnel %s opened", path);
 *
 * The variable part is (field, value) string pairs, then "MESSAGE" followed
 * by the printf-style format and its arguments, exactly as
 * g_log_structured() takes them; "MESSAGE" must come last. A record the
 * writer would not print (below its level) is skipped before its
 * arguments are evaluated: keep side effects out of them. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * AeroLogFormat:
 * @AERO_LOG_FORMAT_TEXT: `TIME LEVEL component: message key=value ...`
 * @AERO_LOG_FORMAT_JSON: one JSON object per line with time, level,
 *   component, message and every structured field.
 */
typedef enum {
  AERO_LOG_FORMAT_TEXT,
  AERO_LOG_FORMAT_JSON,
} AeroLogFormat;

/**
 * aero_log_setup:
 * @format: line format
 * @min_level: least severe level printed (G_LOG_LEVEL_DEBUG ... G_LOG_LEVEL_ERROR)
 *
 * Installs aero-net's writer for all GLib logging in the process. Writes
 * to stderr. May be called again to change the settings.
 */
void aero_log_setup (AeroLogFormat format, GLogLevelFlags min_level);

/**
 * aero_log_format_line:
 * @format: line format
 * @log_level: the record's level
 * @fields: (array length=n_fields): the record's fields
 * @n_fields: number of fields
 *
 * Formats one record as the writer would, without the trailing newline.
 * Exposed for embedders that route lines elsewhere, and for tests.
 *
 * Returns: (transfer full): the line.
 */
char *aero_log_format_line (AeroLogFormat format, GLogLevelFlags log_level,
                            const GLogField *fields, gsize n_fields);

/**
 * aero_log_enabled:
 * @log_level: a record's level
 *
 * Whether a record at @log_level would be printed: %FALSE only when
 * aero-net's writer is installed (aero_log_setup()) and set to a less
 * verbose level, so that such records need not even be formatted. The
 * AERO_LOG_* macros check it first.
 *
 * Returns: whether to log at @log_level.
 */
gboolean aero_log_enabled (GLogLevelFlags log_level);

/* One record, skipped without formatting its message when
 * aero_log_enabled() says it would not be printed. */
#define AERO_LOG_AT(level, component, ...)                                                \
  G_STMT_START                                                                            \
  {                                                                                       \
    if (aero_log_enabled (level))                                                         \
      g_log_structured (G_LOG_DOMAIN, (level), "AERO_COMPONENT", (component), __VA_ARGS__); \
  }                                                                                       \
  G_STMT_END

/** AERO_LOG_DEBUG: log at debug level; see the file comment. */
#define AERO_LOG_DEBUG(component, ...) AERO_LOG_AT (G_LOG_LEVEL_DEBUG, component, __VA_ARGS__)
/** AERO_LOG_INFO: log at info level; see the file comment. */
#define AERO_LOG_INFO(component, ...) AERO_LOG_AT (G_LOG_LEVEL_INFO, component, __VA_ARGS__)
/** AERO_LOG_MESSAGE: log at notice level; see the file comment. */
#define AERO_LOG_MESSAGE(component, ...) AERO_LOG_AT (G_LOG_LEVEL_MESSAGE, component, __VA_ARGS__)
/** AERO_LOG_WARNING: log at warning level; see the file comment. */
#define AERO_LOG_WARNING(component, ...) AERO_LOG_AT (G_LOG_LEVEL_WARNING, component, __VA_ARGS__)
G_END_DECLS
