/* ws-source.h — a helper for the sources the stream filters hand to libsoup. */
#pragma once

#include <glib.h>

/* Marks @source and its @child recursable and returns @source. GLib 2.74
 * removes every fd of a non-recursable source from the poll set before
 * dispatching it and adds them back afterwards, each change a write to the
 * context's wakeup eventfd and so an extra main-loop iteration; libsoup
 * never iterates the context from inside these callbacks, so nothing
 * re-enters them. */
static inline GSource *
ws_source_recursable (GSource *source, GSource *child)
{
  g_source_set_can_recurse (child, TRUE);
  g_source_set_can_recurse (source, TRUE);
  return source;
}
