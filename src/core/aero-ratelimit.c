/* aero-ratelimit.c — a token bucket with a burst, plus a total quota (see
 * aero-ratelimit.h). */
#include <math.h>

#include "aero-net/aero-ratelimit.h"

struct _AeroRateLimit
{
  double rate;   /* tokens per second; 0: no bucket */
  double burst;  /* capacity */
  double tokens; /* in the bucket at `last_us` */
  gint64 last_us;
  guint64 quota; /* 0: no total */
  guint64 used;
};

AeroRateLimit *
aero_rate_limit_new (double rate, double burst, guint64 quota, gint64 now_us)
{
  AeroRateLimit *self = g_new0 (AeroRateLimit, 1);

  self->rate = (rate > 0 && isfinite (rate)) ? rate : 0;
  self->burst = (burst >= 1 && isfinite (burst)) ? burst : 1;
  self->tokens = self->burst;
  self->last_us = now_us;
  self->quota = quota;
  return self;
}

void
aero_rate_limit_free (AeroRateLimit *limit)
{
  g_free (limit);
}

static void
refill (AeroRateLimit *self, gint64 now_us)
{
  if (now_us <= self->last_us)
    return;
  self->tokens += self->rate * (double) (now_us - self->last_us) / G_USEC_PER_SEC;
  if (self->tokens > self->burst)
    self->tokens = self->burst;
  self->last_us = now_us;
}

AeroRateLimitResult
aero_rate_limit_take (AeroRateLimit *limit, guint64 amount, gint64 now_us)
{
  g_return_val_if_fail (limit != NULL, AERO_RATE_LIMIT_RATE);

  if (limit->quota > 0 && (amount > limit->quota || limit->used > limit->quota - amount))
    return AERO_RATE_LIMIT_QUOTA;
  if (limit->rate > 0)
    {
      refill (limit, now_us);
      if (limit->tokens < (double) amount)
        return AERO_RATE_LIMIT_RATE;
      limit->tokens -= (double) amount;
    }
  limit->used += amount;
  return AERO_RATE_LIMIT_OK;
}

double
aero_rate_limit_get_tokens (AeroRateLimit *limit, gint64 now_us)
{
  g_return_val_if_fail (limit != NULL, 0);
  if (limit->rate <= 0)
    return INFINITY;
  refill (limit, now_us);
  return limit->tokens;
}

guint64
aero_rate_limit_get_used (AeroRateLimit *limit)
{
  g_return_val_if_fail (limit != NULL, 0);
  return limit->used;
}

guint64
aero_rate_limit_get_quota (AeroRateLimit *limit)
{
  g_return_val_if_fail (limit != NULL, 0);
  return limit->quota;
}

double
aero_rate_limit_get_rate (AeroRateLimit *limit)
{
  g_return_val_if_fail (limit != NULL, 0);
  return limit->rate;
}

double
aero_rate_limit_get_burst (AeroRateLimit *limit)
{
  g_return_val_if_fail (limit != NULL, 0);
  return limit->burst;
}
