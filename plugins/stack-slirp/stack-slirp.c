/* stack-slirp.c — the plugin entry point of stack-slirp: a per-session
 * user-space network (libslirp) with DHCP, its own DNS server and virtual
 * services. See slirp-settings.h for its configuration. */
#include <aero-net/aero-net.h>

#include "slirp-factory.h"

static gboolean
stack_slirp_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, AERO_TYPE_SLIRP_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("stack-slirp", "1.0.0",
                    "User-space network per session (libslirp): DHCP, DNS, NAT, virtual services",
                    stack_slirp_register)
