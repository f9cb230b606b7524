/* policy-plugin.c — the entry point of the `policy` plugin: egress policy
 * and abuse limits for every session (see README.md). */
#include <aero-net/aero-net.h>

#include "policy-component.h"

static gboolean
policy_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, POLICY_TYPE_COMPONENT);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("policy", "1.0.0",
                    "Egress policy: special-use ranges, rules, names, DNS rebinding, abuse limits",
                    policy_register)
