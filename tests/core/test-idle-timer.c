/* test-idle-timer.c — AeroIdleTimer: fires once after the quiet time,
 * activity postpones it, freeing stops it, 0 never fires. */
#include <aero-net/aero-net.h>

typedef struct
{
  guint fired;
  gint64 at;
} Seen;

static gboolean
on_idle (gpointer data)
{
  Seen *seen = data;

  seen->fired++;
  seen->at = g_get_monotonic_time ();
  return G_SOURCE_CONTINUE; /* ignored: the timer fires once */
}

/* Runs the default context for MS milliseconds. */
static void
run_for (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

static void
test_fires_once (void)
{
  Seen seen = { 0 };
  gint64 start = g_get_monotonic_time ();
  AeroIdleTimer *timer = aero_idle_timer_new (50, on_idle, &seen);

  run_for (300);
  g_assert_cmpuint (seen.fired, ==, 1);
  g_assert_cmpint (seen.at - start, >=, 50 * 1000);
  aero_idle_timer_free (timer);
}

static void
test_touch_postpones (void)
{
  Seen seen = { 0 };
  gint64 last_touch;
  AeroIdleTimer *timer = aero_idle_timer_new (100, on_idle, &seen);

  /* Activity every 30 ms for 300 ms: never quiet for 100 ms. */
  for (int i = 0; i < 10; i++)
    {
      run_for (30);
      aero_idle_timer_touch (timer);
    }
  last_touch = g_get_monotonic_time ();
  g_assert_cmpuint (seen.fired, ==, 0);
  run_for (300);
  g_assert_cmpuint (seen.fired, ==, 1);
  g_assert_cmpint (seen.at - last_touch, >=, 100 * 1000);
  aero_idle_timer_free (timer);
}

static void
test_free_and_zero (void)
{
  Seen seen = { 0 };
  AeroIdleTimer *never = aero_idle_timer_new (0, on_idle, &seen);
  AeroIdleTimer *stopped = aero_idle_timer_new (20, on_idle, &seen);

  aero_idle_timer_free (stopped);
  aero_idle_timer_free (NULL);
  run_for (100);
  g_assert_cmpuint (seen.fired, ==, 0);
  aero_idle_timer_free (never);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/idle-timer/fires-once", test_fires_once);
  g_test_add_func ("/idle-timer/touch-postpones", test_touch_postpones);
  g_test_add_func ("/idle-timer/free-and-zero", test_free_and_zero);
  return g_test_run ();
}
