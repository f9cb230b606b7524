/* aero-ratelimit.h — a token bucket with a burst, plus a total quota.
 *
 * One limiter answers "may AMOUNT units pass now?" for one thing that is
 * counted: frames, bytes, new flows, log lines, tunnel admissions. It
 * combines two independent, optional limits:
 *
 *   rate/burst  a token bucket: it holds at most `burst` tokens, refills
 *               at `rate` tokens per second and starts full; AMOUNT passes
 *               when that many tokens are there, and takes them;
 *   quota       a total: the sum of every AMOUNT that passed may never
 *               exceed `quota`.
 *
 * A rate of 0 disables the bucket and a quota of 0 disables the total.
 * Nothing is taken when a request is refused. Time is passed in by the
 * caller (g_get_monotonic_time() microseconds), so the limiter has no
 * clock, no timer and no thread of its own, and tests drive it exactly.
 * A limiter is not thread-safe; use it from one main context. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * AeroRateLimitResult:
 * @AERO_RATE_LIMIT_OK: the amount passed and was counted.
 * @AERO_RATE_LIMIT_RATE: the bucket has too few tokens now; try later.
 * @AERO_RATE_LIMIT_QUOTA: the total quota would be exceeded; it never
 *   recovers.
 *
 * The answer of aero_rate_limit_take().
 */
typedef enum {
  AERO_RATE_LIMIT_OK,
  AERO_RATE_LIMIT_RATE,
  AERO_RATE_LIMIT_QUOTA,
} AeroRateLimitResult;

typedef struct _AeroRateLimit AeroRateLimit;

/**
 * aero_rate_limit_new:
 * @rate: tokens added per second; 0 disables the bucket
 * @burst: capacity of the bucket (ignored when @rate is 0); values below
 *   1 are raised to 1
 * @quota: total that may ever pass; 0 means no total
 * @now_us: the current monotonic time in microseconds
 *
 * Creates a limiter whose bucket starts full.
 *
 * Returns: (transfer full): a limiter; free with aero_rate_limit_free().
 */
AeroRateLimit *aero_rate_limit_new (double rate, double burst, guint64 quota, gint64 now_us);

/**
 * aero_rate_limit_free:
 * @limit: (nullable): a limiter
 *
 * Frees the limiter.
 */
void aero_rate_limit_free (AeroRateLimit *limit);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroRateLimit, aero_rate_limit_free)

/**
 * aero_rate_limit_take:
 * @limit: a limiter
 * @amount: how much wants to pass (frames, bytes, ...)
 * @now_us: the current monotonic time in microseconds; a time earlier
 *   than a previous call counts as that previous time
 *
 * Asks whether @amount may pass now. The quota is checked first: when
 * it would be exceeded the answer is %AERO_RATE_LIMIT_QUOTA. Then the
 * bucket: when it holds fewer than @amount tokens the answer is
 * %AERO_RATE_LIMIT_RATE. An @amount larger than the burst can therefore
 * never pass. Only an %AERO_RATE_LIMIT_OK answer takes tokens and counts
 * towards the quota.
 *
 * Returns: the answer.
 */
AeroRateLimitResult aero_rate_limit_take (AeroRateLimit *limit, guint64 amount, gint64 now_us);

/**
 * aero_rate_limit_get_tokens:
 * @limit: a limiter
 * @now_us: the current monotonic time in microseconds
 *
 * Returns: the tokens in the bucket at @now_us (after refilling), or
 *   +infinity when the bucket is disabled.
 */
double aero_rate_limit_get_tokens (AeroRateLimit *limit, gint64 now_us);

/**
 * aero_rate_limit_get_used:
 * @limit: a limiter
 *
 * Returns: the sum of every amount that passed.
 */
guint64 aero_rate_limit_get_used (AeroRateLimit *limit);

/**
 * aero_rate_limit_get_quota:
 * @limit: a limiter
 *
 * Returns: the total quota, 0 when there is none.
 */
guint64 aero_rate_limit_get_quota (AeroRateLimit *limit);

/**
 * aero_rate_limit_get_rate:
 * @limit: a limiter
 *
 * Returns: the refill rate in tokens per second, 0 when the bucket is
 *   disabled.
 */
double aero_rate_limit_get_rate (AeroRateLimit *limit);

/**
 * aero_rate_limit_get_burst:
 * @limit: a limiter
 *
 * Returns: the capacity of the bucket.
 */
double aero_rate_limit_get_burst (AeroRateLimit *limit);

G_END_DECLS
