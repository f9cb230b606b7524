/* not-a-plugin.c — a valid shared library that is not an aero-net plugin:
 * it exports a function but no `aero_plugin_descriptor`. The loader must
 * say so instead of crashing. */

int not_a_plugin_answer (void);

int
not_a_plugin_answer (void)
{
  return 42;
}
