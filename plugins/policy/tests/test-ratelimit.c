/* test-ratelimit.c — the core's token bucket with a burst and a total
 * quota (aero-ratelimit.h), driven with explicit times. */
#include <math.h>

#include <aero-net/aero-net.h>

#define S G_USEC_PER_SEC

static void
test_burst_then_rate (void)
{
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (10, 5, 0, 0);

  for (int i = 0; i < 5; i++)
    g_assert_cmpint (aero_rate_limit_take (l, 1, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 0), ==, AERO_RATE_LIMIT_RATE);
  /* 10 tokens per second: one more every 100 ms. */
  g_assert_cmpint (aero_rate_limit_take (l, 1, S / 20), ==, AERO_RATE_LIMIT_RATE);
  g_assert_cmpint (aero_rate_limit_take (l, 1, S / 10), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 1, S / 10), ==, AERO_RATE_LIMIT_RATE);
  /* A long pause refills to the burst, never beyond. */
  g_assert_cmpfloat (aero_rate_limit_get_tokens (l, 100 * S), ==, 5);
  g_assert_cmpuint (aero_rate_limit_get_used (l), ==, 6);
}

static void
test_amounts (void)
{
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (1000, 1500, 0, 0);

  g_assert_cmpint (aero_rate_limit_take (l, 1000, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 600, 0), ==, AERO_RATE_LIMIT_RATE);
  /* A refusal takes nothing. */
  g_assert_cmpint (aero_rate_limit_take (l, 500, 0), ==, AERO_RATE_LIMIT_OK);
  /* More than the burst never passes. */
  g_assert_cmpint (aero_rate_limit_take (l, 1501, 100 * S), ==, AERO_RATE_LIMIT_RATE);
  g_assert_cmpint (aero_rate_limit_take (l, 1500, 100 * S), ==, AERO_RATE_LIMIT_OK);
}

static void
test_quota (void)
{
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (0, 0, 100, 0);

  g_assert_cmpfloat (aero_rate_limit_get_tokens (l, 0), ==, INFINITY);
  g_assert_cmpint (aero_rate_limit_take (l, 60, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 41, 0), ==, AERO_RATE_LIMIT_QUOTA);
  g_assert_cmpint (aero_rate_limit_take (l, 40, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 1000 * S), ==, AERO_RATE_LIMIT_QUOTA);
  g_assert_cmpint (aero_rate_limit_take (l, 0, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpuint (aero_rate_limit_get_used (l), ==, 100);
  g_assert_cmpuint (aero_rate_limit_get_quota (l), ==, 100);
  g_assert_cmpint (aero_rate_limit_take (l, G_MAXUINT64, 0), ==, AERO_RATE_LIMIT_QUOTA);
}

static void
test_quota_before_rate (void)
{
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (1, 10, 15, 0);

  g_assert_cmpint (aero_rate_limit_take (l, 10, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 6, 0), ==, AERO_RATE_LIMIT_QUOTA);
  g_assert_cmpint (aero_rate_limit_take (l, 5, 0), ==, AERO_RATE_LIMIT_RATE);
  g_assert_cmpint (aero_rate_limit_take (l, 5, 5 * S), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 100 * S), ==, AERO_RATE_LIMIT_QUOTA);
}

static void
test_unlimited_and_clock (void)
{
  g_autoptr (AeroRateLimit) none = aero_rate_limit_new (0, 0, 0, 0);
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (2, 0.1, 0, 10 * S);

  for (int i = 0; i < 1000; i++)
    g_assert_cmpint (aero_rate_limit_take (none, G_MAXUINT32, 0), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpfloat (aero_rate_limit_get_rate (none), ==, 0);
  /* A burst below 1 is raised to 1; time going backwards adds nothing. */
  g_assert_cmpfloat (aero_rate_limit_get_burst (l), ==, 1);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 10 * S), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 5 * S), ==, AERO_RATE_LIMIT_RATE);
  g_assert_cmpint (aero_rate_limit_take (l, 1, 10 * S + S / 2), ==, AERO_RATE_LIMIT_OK);
  g_assert_cmpfloat (aero_rate_limit_get_rate (l), ==, 2);
}

static void
test_steady_rate (void)
{
  g_autoptr (AeroRateLimit) l = aero_rate_limit_new (100, 10, 0, 0);
  guint passed = 0;

  /* Offered 1000/s for 10 s: about burst + 10 s × 100/s pass. */
  for (gint64 t = 0; t < 10 * S; t += S / 1000)
    if (aero_rate_limit_take (l, 1, t) == AERO_RATE_LIMIT_OK)
      passed++;
  g_assert_cmpuint (passed, >=, 1005);
  g_assert_cmpuint (passed, <=, 1011);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ratelimit/burst-then-rate", test_burst_then_rate);
  g_test_add_func ("/ratelimit/amounts", test_amounts);
  g_test_add_func ("/ratelimit/quota", test_quota);
  g_test_add_func ("/ratelimit/quota-before-rate", test_quota_before_rate);
  g_test_add_func ("/ratelimit/unlimited-and-clock", test_unlimited_and_clock);
  g_test_add_func ("/ratelimit/steady-rate", test_steady_rate);
  return g_test_run ();
}
