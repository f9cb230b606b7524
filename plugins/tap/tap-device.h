/* tap-device.h — opening a Linux TAP device, optionally inside a named
 * network namespace. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Opens (creating if needed) the TAP device NAME (a template with %d is
 * allowed) in network namespace NETNS (NULL: the current one), non-blocking,
 * without packet information. Sets the MTU when mtu > 0 and brings the link
 * up when up is TRUE. Returns the fd and stores the real device name. */
int aero_tap_open (const char *name, const char *netns, guint mtu, gboolean up,
                   char **out_name, GError **error);

G_END_DECLS
