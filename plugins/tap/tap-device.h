/* tap-device.h — opening a Linux TAP device, optionally inside a named
 * network namespace. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Opens (creating if needed) the TAP device NAME (a template with %d is
 * allowed) in network namespace NETNS (NULL: the current one), non-blocking,
 * without packet information. Sets the MTU when mtu > 0 and brings the link
 * up when up is TRUE. With VNET_HDR every frame read or written carries a
 * struct virtio_net_hdr, so that large segments can be written for the
 * kernel to split (GSO); with OFFLOAD (which implies VNET_HDR) the kernel
 * may also pass TCP segments of up to 64 KiB and partial checksums (TSO4,
 * TSO6, CSUM). Returns the fd and stores the real device name and its
 * MTU. */
int aero_tap_open (const char *name, const char *netns, guint mtu, gboolean up, gboolean vnet_hdr,
                   gboolean offload, char **out_name, guint *out_mtu, GError **error);

G_END_DECLS
