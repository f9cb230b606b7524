/* aero-version.c — run-time version queries. */
#include "aero-net/aero-version.h"

guint
aero_net_get_abi_version (void)
{
  return AERO_NET_ABI_VERSION;
}

const char *
aero_net_get_version (void)
{
  return AERO_NET_VERSION;
}
