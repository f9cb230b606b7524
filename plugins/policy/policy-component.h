/* policy-component.h — the `policy` plugin's component: an AeroPolicy
 * that applies one policy instance's configuration to every session of
 * the transports that name it in their `filters`. */
#pragma once

#include <aero-net/aero-net.h>

G_BEGIN_DECLS

#define POLICY_TYPE_COMPONENT (policy_component_get_type ())
G_DECLARE_FINAL_TYPE (PolicyComponent, policy_component, POLICY, COMPONENT, GObject)

G_END_DECLS
