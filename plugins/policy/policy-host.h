/* policy-host.h — the host's own addresses (every interface, via
 * getifaddrs), which a guest must never reach through the stack. */
#pragma once

#include "policy-config.h"

G_BEGIN_DECLS

/* A new array of PolicyAddress; empty when they cannot be listed. */
GArray *policy_host_addresses (void);

G_END_DECLS
