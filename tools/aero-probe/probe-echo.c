/* probe-echo.c — echo round trip, verified bulk transfer and close over a
 * ProbeTcp. The bulk pattern is generated from (seed, offset), so neither
 * side of the comparison needs the whole transfer in memory. */
#include "probe-echo.h"

#include <string.h>

#define CHUNK 16384

typedef enum {
  MODE_IDLE,
  MODE_ECHO,
  MODE_BULK,
} EchoMode;

struct _ProbeEcho {
  ProbeTcp *tcp;
  EchoMode mode;

  /* Round trip. */
  guint8 message[64];
  gsize message_len;
  gsize echo_received;
  gboolean echo_mismatch;

  /* Bulk. */
  guint64 seed;
  guint64 total;
  guint64 written;
  guint64 received;
  gboolean mismatch;
  guint64 mismatch_at;

  guint64 extra;
};

static guint64
splitmix64 (guint64 x)
{
  x += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return x ^ (x >> 31);
}

void
probe_pattern_fill (guint64 seed, guint64 offset, guint8 *buf, gsize len)
{
  gsize i = 0;

  while (i < len)
    {
      guint64 block = (offset + i) / 8;
      guint64 v = splitmix64 (seed ^ (block * G_GUINT64_CONSTANT (0x2545f4914f6cdd1d)));
      guint k = (guint) ((offset + i) % 8);

      for (; k < 8 && i < len; k++, i++)
        buf[i] = (guint8) (v >> (8 * k));
    }
}

static void
on_recv (ProbeTcp *tcp, const guint8 *data, gsize len, gpointer user_data)
{
  ProbeEcho *e = user_data;

  switch (e->mode)
    {
    case MODE_ECHO:
      {
        gsize room = e->message_len - MIN (e->echo_received, e->message_len);
        gsize n = MIN (len, room);

        if (memcmp (data, e->message + e->echo_received, n) != 0 || n < len)
          e->echo_mismatch = TRUE;
        e->echo_received += len;
      }
      break;
    case MODE_BULK:
      {
        guint8 expect[CHUNK];
        gsize done = 0;

        while (done < len && !e->mismatch)
          {
            gsize n = MIN (len - done, (gsize) CHUNK);

            if (e->received + n > e->total)
              {
                e->mismatch = TRUE; /* more than was sent */
                e->mismatch_at = e->total;
                break;
              }
            probe_pattern_fill (e->seed, e->received, expect, n);
            if (memcmp (expect, data + done, n) != 0)
              {
                gsize k = 0;

                while (k < n && expect[k] == data[done + k])
                  k++;
                e->mismatch = TRUE;
                e->mismatch_at = e->received + k;
              }
            e->received += n;
            done += n;
          }
      }
      break;
    default:
      e->extra += len;
      break;
    }
}

static void
bulk_write (ProbeEcho *e)
{
  guint8 buf[CHUNK];

  while (e->written < e->total)
    {
      gsize n = (gsize) MIN ((guint64) CHUNK, e->total - e->written);
      gsize accepted;

      n = MIN (n, probe_tcp_send_space (e->tcp));
      if (n == 0)
        break;
      probe_pattern_fill (e->seed, e->written, buf, n);
      accepted = probe_tcp_write (e->tcp, buf, n);
      e->written += accepted;
      if (accepted < n)
        break;
    }
}

static void
on_writable (ProbeTcp *tcp, gpointer user_data)
{
  ProbeEcho *e = user_data;

  if (e->mode == MODE_BULK)
    bulk_write (e);
}

ProbeEcho *
probe_echo_new (ProbeTcp *tcp)
{
  ProbeEcho *e = g_new0 (ProbeEcho, 1);

  e->tcp = tcp;
  probe_tcp_set_callbacks (tcp, on_recv, on_writable, e);
  return e;
}

void
probe_echo_free (ProbeEcho *e)
{
  if (e == NULL)
    return;
  probe_tcp_set_callbacks (e->tcp, NULL, NULL, NULL);
  g_free (e);
}

static gboolean
echo_done (gpointer user_data)
{
  ProbeEcho *e = user_data;

  return e->echo_mismatch || e->echo_received >= e->message_len;
}

gboolean
probe_echo_roundtrip (ProbeEcho *e, gint64 deadline, ProbeEchoResult *result, GError **error)
{
  g_autoptr (GError) local = NULL;
  gint64 t0;
  int n;

  memset (result, 0, sizeof *result);
  n = g_snprintf ((char *) e->message, sizeof e->message, "aero-probe echo %08x%08x\n",
                  g_random_int (), g_random_int ());
  e->message_len = (gsize) n;
  e->echo_received = 0;
  e->echo_mismatch = FALSE;
  e->mode = MODE_ECHO;
  t0 = g_get_monotonic_time ();
  if (probe_tcp_write (e->tcp, e->message, e->message_len) != e->message_len)
    {
      e->mode = MODE_IDLE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
                           "the connection does not accept data");
      return FALSE;
    }
  if (!probe_tcp_wait (e->tcp, echo_done, e, deadline, &local))
    {
      e->mode = MODE_IDLE;
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes echoed before the deadline",
                     e->echo_received, e->message_len);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  e->mode = MODE_IDLE;
  result->bytes = e->message_len;
  result->rtt_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;
  if (e->echo_mismatch)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "the echo differs from what was sent (%" G_GSIZE_FORMAT " bytes back for %"
                   G_GSIZE_FORMAT ")",
                   e->echo_received, e->message_len);
      return FALSE;
    }
  return TRUE;
}

static gboolean
bulk_done (gpointer user_data)
{
  ProbeEcho *e = user_data;

  return e->mismatch || e->received >= e->total;
}

gboolean
probe_echo_bulk (ProbeEcho *e, guint64 bytes, gint64 deadline, ProbeBulkResult *result,
                 GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean ok;
  gint64 t0;

  memset (result, 0, sizeof *result);
  result->bytes = bytes;
  e->seed = ((guint64) g_random_int () << 32) | g_random_int ();
  e->total = bytes;
  e->written = 0;
  e->received = 0;
  e->mismatch = FALSE;
  e->mode = MODE_BULK;
  t0 = g_get_monotonic_time ();
  bulk_write (e);
  ok = probe_tcp_wait (e->tcp, bulk_done, e, deadline, &local);
  e->mode = MODE_IDLE;
  result->ms = (double) (g_get_monotonic_time () - t0) / 1000.0;
  result->sent = e->written;
  result->received = e->received;
  result->mismatch = e->mismatch;
  result->mismatch_at = e->mismatch_at;
  if (result->ms > 0)
    result->mbit_s = (double) e->received * 8.0 / (result->ms * 1000.0);
  if (!ok)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
                     " bytes echoed before the deadline (%" G_GUINT64_FORMAT " sent)",
                     e->received, bytes, e->written);
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (e->mismatch)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "echoed data differs from what was sent at offset %" G_GUINT64_FORMAT,
                   e->mismatch_at);
      return FALSE;
    }
  result->verified = TRUE;
  return TRUE;
}

static gboolean
closed_both_ways (gpointer user_data)
{
  ProbeEcho *e = user_data;

  return probe_tcp_fin_acked (e->tcp) && probe_tcp_fin_received (e->tcp);
}

gboolean
probe_echo_close (ProbeEcho *e, gint64 deadline, ProbeCloseResult *result, GError **error)
{
  g_autoptr (GError) local = NULL;
  gboolean ok;

  memset (result, 0, sizeof *result);
  e->mode = MODE_IDLE;
  probe_tcp_shutdown (e->tcp);
  ok = probe_tcp_wait (e->tcp, closed_both_ways, e, deadline, &local);
  result->fin_acked = probe_tcp_fin_acked (e->tcp);
  result->fin_received = probe_tcp_fin_received (e->tcp);
  result->extra_bytes = e->extra;
  if (!ok)
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "not closed before the deadline (our FIN %s, peer FIN %s, state %s)",
                     result->fin_acked ? "acknowledged" : "unacknowledged",
                     result->fin_received ? "received" : "not received",
                     probe_tcp_state_name (probe_tcp_get_state (e->tcp)));
      else
        g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (e->extra)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%" G_GUINT64_FORMAT " unexpected bytes arrived before the peer's FIN", e->extra);
      return FALSE;
    }
  return TRUE;
}
