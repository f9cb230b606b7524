/* test-badabi.c — a plugin built for a plugin ABI that does not exist.
 *
 * Its descriptor is written out by hand (instead of with
 * AERO_PLUGIN_DEFINE) so that it can claim ABI version 999. The loader must
 * refuse it after reading that field and before calling anything in it: the
 * register function aborts the process, so a loader that calls it fails the
 * tests loudly. */
#include <stdlib.h>

#include <aero-net/aero-net.h>

static gboolean
test_badabi_register (AeroPluginRegistry *registry, GError **error)
{
  abort ();
}

G_MODULE_EXPORT const AeroPluginDescriptor aero_plugin_descriptor = {
  999,                                   /* abi_version: never a real one */
  sizeof (AeroPluginDescriptor),
  "test-badabi",
  "0.0.1",
  "Test plugin with a wrong ABI version; must never be registered",
  test_badabi_register,
  { NULL, NULL, NULL, NULL },
};
