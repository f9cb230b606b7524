/* probe-icmp.c — ICMP echo request/reply through the tunnel: requests
 * carry a fixed pattern the reply must echo; replies are matched on
 * source, identifier, sequence number and payload. */
#include "probe-icmp.h"

#include <string.h>

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_RETRY_US (1 * G_USEC_PER_SEC)
#define ICMP_PAYLOAD_LEN 56
#define ICMP_MAX_TRIES 64

typedef struct {
  guint32 dst;
  guint16 id;
  guint8 payload[ICMP_PAYLOAD_LEN];
  gint64 sent_us[ICMP_MAX_TRIES + 1];
  guint16 next_seq;
  gboolean got;
  guint16 got_seq;
  guint8 got_ttl;
  gint64 got_us;
  guint8 error_type; /* an ICMP error about our request, 0 when none */
  guint8 error_code;
} PingState;

static void
on_icmp (const ProbeIpv4 *ip, const ProbeIcmp *icmp, gpointer user_data)
{
  PingState *s = user_data;

  if (s->got)
    return;
  if (icmp->type == ICMP_ECHO_REPLY && ip->src == s->dst && icmp->code == 0 && icmp->id == s->id
      && icmp->seq >= 1 && icmp->seq < s->next_seq && icmp->payload_len == ICMP_PAYLOAD_LEN
      && memcmp (icmp->payload, s->payload, ICMP_PAYLOAD_LEN) == 0)
    {
      s->got = TRUE;
      s->got_seq = icmp->seq;
      s->got_ttl = ip->ttl;
      s->got_us = g_get_monotonic_time ();
      return;
    }
  /* An error quoting our request: its IP header, then 8 bytes of ICMP. */
  if ((icmp->type == ICMP_DEST_UNREACH || icmp->type == ICMP_TIME_EXCEEDED)
      && icmp->payload_len >= 28)
    {
      const guint8 *p = icmp->payload;
      gsize ihl = (gsize) (p[0] & 0x0f) * 4;
      guint32 inner_dst;

      if ((p[0] >> 4) != 4 || ihl < 20 || ihl + 8 > icmp->payload_len
          || p[9] != PROBE_IPPROTO_ICMP)
        return;
      inner_dst = ((guint32) p[16] << 24) | ((guint32) p[17] << 16) | ((guint32) p[18] << 8) | p[19];
      if (inner_dst == s->dst && p[ihl] == 8 && ((p[ihl + 4] << 8) | p[ihl + 5]) == s->id)
        {
          s->error_type = icmp->type;
          s->error_code = icmp->code;
        }
    }
}

static gboolean
got_reply (gpointer user_data)
{
  PingState *s = user_data;

  return s->got || s->error_type != 0;
}

gboolean
probe_icmp_ping (ProbeNetif *netif, guint32 dst, gint64 deadline, ProbeIcmpResult *result,
                 GError **error)
{
  PingState s = { 0 };
  ProbeMac next_hop;
  gboolean ok = FALSE;
  char a[16];

  memset (result, 0, sizeof *result);
  probe_ipv4_to_string (dst, a);
  if (!probe_netif_next_hop (netif, dst, deadline, &next_hop, error))
    return FALSE;
  s.dst = dst;
  s.id = (guint16) g_random_int ();
  s.next_seq = 1;
  for (guint i = 0; i < ICMP_PAYLOAD_LEN; i++)
    s.payload[i] = (guint8) (0x20 + i);
  probe_netif_set_icmp_handler (netif, on_icmp, &s);

  while (s.next_seq <= ICMP_MAX_TRIES)
    {
      g_autoptr (GByteArray) echo = probe_icmp_echo_build (s.id, s.next_seq, s.payload,
                                                           ICMP_PAYLOAD_LEN);
      g_autoptr (GError) local = NULL;
      gint64 retry = MIN (g_get_monotonic_time () + ICMP_RETRY_US, deadline);

      s.sent_us[s.next_seq] = g_get_monotonic_time ();
      if (!probe_netif_send_ipv4 (netif, &next_hop, netif->ip, dst, PROBE_IPPROTO_ICMP, echo->data,
                                  echo->len, error))
        goto out;
      s.next_seq++;
      result->sent++;
      if (probe_tunnel_wait (netif->tunnel, got_reply, &s, retry, &local))
        break;
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          goto out;
        }
      if (retry >= deadline)
        break;
    }
  if (s.got)
    {
      result->seq = s.got_seq;
      result->ttl = s.got_ttl;
      result->rtt_ms = (double) (s.got_us - s.sent_us[s.got_seq]) / 1000.0;
      ok = TRUE;
    }
  else if (s.error_type != 0)
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE,
                 "ICMP %s (code %u) for the echo to %s",
                 s.error_type == ICMP_DEST_UNREACH ? "destination unreachable" : "time exceeded",
                 s.error_code, a);
  else
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "no echo reply from %s after %u requests",
                 a, result->sent);

out:
  probe_netif_set_icmp_handler (netif, NULL, NULL);
  return ok;
}
