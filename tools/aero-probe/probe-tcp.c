/* probe-tcp.c — the probe's TCP client (RFC 793/9293 subset, RFC 6298
 * timers, RFC 5961 reset checks). Deliberately simple: no window scaling,
 * no SACK, no congestion control beyond the fixed window; enough to test
 * a NAT stack from the guest side. See probe-tcp.h. */
#include "probe-tcp.h"

#include <string.h>

#define TCP_RCV_WINDOW 65535u
#define TCP_SND_WINDOW 65535u /* fixed sending window, the peer's may be smaller */
#define TCP_SNDBUF_MAX (256u * 1024u)
#define TCP_COMPACT_AT (64u * 1024u)
#define TCP_DEFAULT_MSS 536u
#define TCP_MIN_MSS 64u
#define TCP_RTO_INITIAL_MS 1000u
#define TCP_RTO_MIN_MS 200u
#define TCP_RTO_MAX_MS 60000u
#define TCP_DUPACK_THRESHOLD 3u
#define TCP_OOO_MAX_SEGMENTS 128u

#define SEQ_LT(a, b) ((gint32) ((guint32) (a) - (guint32) (b)) < 0)
#define SEQ_LEQ(a, b) ((gint32) ((guint32) (a) - (guint32) (b)) <= 0)
#define SEQ_GT(a, b) ((gint32) ((guint32) (a) - (guint32) (b)) > 0)
#define SEQ_GEQ(a, b) ((gint32) ((guint32) (a) - (guint32) (b)) >= 0)

struct _ProbeTcp {
  ProbeNetif *netif;
  ProbeMac next_hop;
  guint32 src;
  guint32 dst;
  guint16 sport;
  guint16 dport;
  ProbeTcpState state;

  /* Send sequence space. */
  guint32 iss;
  guint32 snd_una;
  guint32 snd_nxt;
  guint32 snd_max; /* highest sequence number sent so far, plus one */
  guint32 snd_wnd;
  guint32 snd_wl1;
  guint32 snd_wl2;
  guint mss;

  /* Unacknowledged and unsent data; sndbuf[head] has sequence buf_seq. */
  GByteArray *sndbuf;
  guint head;
  guint32 buf_seq;
  gboolean fin_queued;
  gboolean fin_sent;
  guint32 fin_seq;
  gboolean fin_acked;

  /* Receive sequence space. */
  guint32 irs;
  guint32 rcv_nxt;
  gboolean fin_received;
  guint rcv_unacked; /* bytes received since our last ACK */
  guint ack_idle;
  /* Segments that arrived early (OooSeg), sorted by sequence number;
   * their payloads never exceed the receive window in total. */
  GQueue ooo;
  gsize ooo_bytes;

  /* Round-trip time and the retransmission timer. */
  gboolean timing;
  guint32 timed_seq;
  gint64 timed_at;
  gboolean have_rtt;
  double srtt_ms;
  double rttvar_ms;
  guint rto_ms;
  guint rexmt_timer;
  guint dupacks;
  gboolean in_recovery;
  guint32 recover; /* snd_max when fast retransmit started */
  gint64 syn_sent_at;
  gint64 synack_at;
  gboolean syn_retransmitted;

  GError *error;
  ProbeTcpRecvFunc recv_func;
  ProbeTcpWritableFunc writable_func;
  gpointer user_data;
  ProbeTcpStats stats;
};

typedef struct {
  guint32 seq;
  GBytes *data;
} OooSeg;

static void tcp_output (ProbeTcp *t);

static void
ooo_seg_free (gpointer p)
{
  OooSeg *o = p;

  g_bytes_unref (o->data);
  g_free (o);
}

const char *
probe_tcp_state_name (ProbeTcpState state)
{
  static const char *const names[] = { "CLOSED",     "SYN-SENT", "ESTABLISHED",
                                       "FIN-WAIT-1", "FIN-WAIT-2", "CLOSING",
                                       "TIME-WAIT",  "CLOSE-WAIT", "LAST-ACK" };

  return (guint) state < G_N_ELEMENTS (names) ? names[state] : "?";
}

static guint
buffered (ProbeTcp *t)
{
  return t->sndbuf->len - t->head;
}

static gboolean
synchronized (ProbeTcp *t)
{
  return t->state != PROBE_TCP_CLOSED && t->state != PROBE_TCP_SYN_SENT;
}

/* ---- output ------------------------------------------------------------------------ */

static void
send_segment (ProbeTcp *t, guint32 seq, guint8 flags, const guint8 *data, guint len)
{
  g_autoptr (GByteArray) seg = NULL;
  guint16 mss_opt = 0;

  if (flags & PROBE_TCP_SYN)
    mss_opt = (guint16) (t->netif->mtu - PROBE_IPV4_HLEN - PROBE_TCP_HLEN);
  seg = probe_tcp_build (t->src, t->dst, t->sport, t->dport, seq,
                         (flags & PROBE_TCP_ACK) ? t->rcv_nxt : 0, flags, TCP_RCV_WINDOW, mss_opt,
                         data, len);
  /* A failure means the tunnel closed; the next wait reports that. */
  probe_netif_send_ipv4 (t->netif, &t->next_hop, t->src, t->dst, PROBE_IPPROTO_TCP, seg->data,
                         seg->len, NULL);
  t->stats.segments_sent++;
  if (flags & PROBE_TCP_ACK)
    {
      t->rcv_unacked = 0;
      if (t->ack_idle)
        {
          g_source_remove (t->ack_idle);
          t->ack_idle = 0;
        }
    }
}

static void
send_ack (ProbeTcp *t)
{
  send_segment (t, t->snd_nxt, PROBE_TCP_ACK, NULL, 0);
}

static gboolean
delayed_ack (gpointer user_data)
{
  ProbeTcp *t = user_data;

  t->ack_idle = 0;
  if (synchronized (t))
    send_ack (t);
  return G_SOURCE_REMOVE;
}

/* ACKs at once every two full segments, otherwise once the main loop has
 * drained the frames that are already waiting (so ACKs coalesce). */
static void
schedule_ack (ProbeTcp *t, gboolean now)
{
  if (now || t->rcv_unacked >= 2 * t->mss)
    {
      send_ack (t);
      return;
    }
  if (t->ack_idle == 0)
    t->ack_idle = g_idle_add (delayed_ack, t);
}

static gboolean rexmt_timeout (gpointer user_data);

static void
stop_timer (ProbeTcp *t)
{
  if (t->rexmt_timer)
    {
      g_source_remove (t->rexmt_timer);
      t->rexmt_timer = 0;
    }
}

static void
restart_timer (ProbeTcp *t)
{
  stop_timer (t);
  t->rexmt_timer = g_timeout_add (t->rto_ms, rexmt_timeout, t);
}

static void
fail (ProbeTcp *t, gint code, const char *message)
{
  if (t->error == NULL)
    t->error = g_error_new_literal (G_IO_ERROR, code, message);
  t->state = PROBE_TCP_CLOSED;
  stop_timer (t);
}

/* Sends one data segment at SEQ of at most LEN bytes (from the buffer). */
static void
send_data (ProbeTcp *t, guint32 seq, guint len)
{
  guint offset = (guint) (seq - t->buf_seq);
  guint8 flags = PROBE_TCP_ACK;
  guint32 end = seq + len;

  if (offset + len == buffered (t))
    flags |= PROBE_TCP_PSH;
  if (SEQ_LT (seq, t->snd_max))
    t->stats.retransmits++;
  if (SEQ_GT (end, t->snd_max))
    t->stats.bytes_sent += (guint32) (end - (SEQ_GT (seq, t->snd_max) ? seq : t->snd_max));
  send_segment (t, seq, flags, t->sndbuf->data + t->head + offset, len);
}

static void
tcp_output (ProbeTcp *t)
{
  if (!synchronized (t) || t->state == PROBE_TCP_TIME_WAIT)
    return;

  for (;;)
    {
      guint32 data_end = t->buf_seq + buffered (t);

      if (SEQ_LT (t->snd_nxt, data_end))
        {
          guint32 in_flight = t->snd_nxt - t->snd_una;
          guint32 wnd = MIN (TCP_SND_WINDOW, t->snd_wnd);
          guint32 remaining = data_end - t->snd_nxt;
          guint32 want = MIN (t->mss, remaining);
          guint32 allow, len;

          if (wnd == 0)
            {
              if (in_flight > 0)
                break; /* the timer probes the zero window */
              allow = 1;
            }
          else
            {
              if (in_flight >= wnd)
                break;
              allow = wnd - in_flight;
            }
          /* Silly-window avoidance: wait for room for a whole segment. */
          if (allow < want && in_flight > 0)
            break;
          len = MIN (want, allow);
          if (!t->timing && SEQ_GEQ (t->snd_nxt, t->snd_max))
            {
              t->timing = TRUE;
              t->timed_seq = t->snd_nxt + len;
              t->timed_at = g_get_monotonic_time ();
            }
          send_data (t, t->snd_nxt, len);
          t->snd_nxt += len;
          if (SEQ_GT (t->snd_nxt, t->snd_max))
            t->snd_max = t->snd_nxt;
          if (t->rexmt_timer == 0)
            restart_timer (t);
          continue;
        }
      if (t->fin_queued && !t->fin_acked && t->snd_nxt == data_end)
        {
          t->fin_seq = data_end;
          t->fin_sent = TRUE;
          if (SEQ_LT (t->snd_nxt, t->snd_max))
            t->stats.retransmits++;
          send_segment (t, t->snd_nxt, PROBE_TCP_FIN | PROBE_TCP_ACK, NULL, 0);
          t->snd_nxt++;
          if (SEQ_GT (t->snd_nxt, t->snd_max))
            t->snd_max = t->snd_nxt;
          if (t->state == PROBE_TCP_ESTABLISHED)
            t->state = PROBE_TCP_FIN_WAIT_1;
          else if (t->state == PROBE_TCP_CLOSE_WAIT)
            t->state = PROBE_TCP_LAST_ACK;
          if (t->rexmt_timer == 0)
            restart_timer (t);
        }
      break;
    }
}

static gboolean
rexmt_timeout (gpointer user_data)
{
  ProbeTcp *t = user_data;

  t->rexmt_timer = 0;
  t->stats.timeouts++;
  t->timing = FALSE; /* Karn: no samples from retransmitted data */
  t->dupacks = 0;
  t->in_recovery = FALSE;
  t->rto_ms = MIN (t->rto_ms * 2, TCP_RTO_MAX_MS);
  if (t->state == PROBE_TCP_SYN_SENT)
    {
      t->syn_retransmitted = TRUE;
      t->stats.retransmits++;
      send_segment (t, t->iss, PROBE_TCP_SYN, NULL, 0);
      restart_timer (t);
    }
  else if (synchronized (t) && t->snd_una != t->snd_max)
    {
      /* Go back to the oldest unacknowledged byte. */
      t->snd_nxt = t->snd_una;
      tcp_output (t);
      if (t->rexmt_timer == 0)
        restart_timer (t);
    }
  return G_SOURCE_REMOVE;
}

/* ---- input -------------------------------------------------------------------------- */

static void
update_rto (ProbeTcp *t)
{
  t->rto_ms = (guint) CLAMP (t->srtt_ms + MAX (1.0, 4 * t->rttvar_ms), TCP_RTO_MIN_MS,
                             TCP_RTO_MAX_MS);
}

static void
rtt_sample (ProbeTcp *t, double r)
{
  if (!t->have_rtt)
    {
      t->srtt_ms = r;
      t->rttvar_ms = r / 2;
      t->have_rtt = TRUE;
    }
  else
    {
      t->rttvar_ms = 0.75 * t->rttvar_ms + 0.25 * ABS (t->srtt_ms - r);
      t->srtt_ms = 0.875 * t->srtt_ms + 0.125 * r;
    }
  update_rto (t);
}

static void
syn_sent_input (ProbeTcp *t, const ProbeTcpSeg *seg)
{
  gboolean ack_ok = (seg->flags & PROBE_TCP_ACK) && seg->ack == t->iss + 1;
  guint our_mss = t->netif->mtu - PROBE_IPV4_HLEN - PROBE_TCP_HLEN;

  if ((seg->flags & PROBE_TCP_ACK) && !ack_ok)
    {
      if (!(seg->flags & PROBE_TCP_RST))
        send_segment (t, seg->ack, PROBE_TCP_RST, NULL, 0);
      return;
    }
  if (seg->flags & PROBE_TCP_RST)
    {
      if (ack_ok)
        fail (t, G_IO_ERROR_CONNECTION_REFUSED, "connection refused (RST in answer to SYN)");
      return;
    }
  if (!(seg->flags & PROBE_TCP_SYN) || !ack_ok)
    return; /* simultaneous open is not supported */

  t->irs = seg->seq;
  t->rcv_nxt = seg->seq + 1;
  t->snd_una = t->iss + 1;
  t->buf_seq = t->snd_una;
  t->mss = seg->mss ? CLAMP (seg->mss, TCP_MIN_MSS, our_mss) : MIN (TCP_DEFAULT_MSS, our_mss);
  t->snd_wnd = seg->window;
  t->snd_wl1 = seg->seq;
  t->snd_wl2 = seg->ack;
  t->synack_at = g_get_monotonic_time ();
  if (!t->syn_retransmitted)
    rtt_sample (t, (double) (t->synack_at - t->syn_sent_at) / 1000.0);
  else
    t->rto_ms = TCP_RTO_INITIAL_MS;
  stop_timer (t);
  t->state = PROBE_TCP_ESTABLISHED;
  send_ack (t);
}

static gboolean
seq_acceptable (ProbeTcp *t, const ProbeTcpSeg *seg, guint32 seg_len)
{
  guint32 wnd_end = t->rcv_nxt + TCP_RCV_WINDOW;

  if (seg_len == 0)
    return seg->seq == t->rcv_nxt || (SEQ_GEQ (seg->seq, t->rcv_nxt) && SEQ_LT (seg->seq, wnd_end));
  return (SEQ_GEQ (seg->seq, t->rcv_nxt) && SEQ_LT (seg->seq, wnd_end))
         || (SEQ_GEQ (seg->seq + seg_len - 1, t->rcv_nxt) && SEQ_LT (seg->seq + seg_len - 1, wnd_end));
}

/* Processes the ACK field; returns TRUE when buffer space was freed. */
static gboolean
ack_input (ProbeTcp *t, const ProbeTcpSeg *seg)
{
  gboolean freed = FALSE;

  if (SEQ_GT (seg->ack, t->snd_max))
    {
      send_ack (t); /* acknowledges something never sent */
      return FALSE;
    }
  if (SEQ_GT (seg->ack, t->snd_una))
    {
      if (SEQ_GT (seg->ack, t->buf_seq))
        {
          guint32 data_acked = MIN ((guint32) (seg->ack - t->buf_seq), (guint32) buffered (t));
          t->head += data_acked;
          t->buf_seq += data_acked;
          freed = data_acked > 0;
          if (t->head >= TCP_COMPACT_AT)
            {
              g_byte_array_remove_range (t->sndbuf, 0, t->head);
              t->head = 0;
            }
        }
      if (t->fin_sent && SEQ_GT (seg->ack, t->fin_seq))
        t->fin_acked = TRUE;
      t->snd_una = seg->ack;
      if (SEQ_LT (t->snd_nxt, t->snd_una))
        t->snd_nxt = t->snd_una;
      t->dupacks = 0;
      if (t->in_recovery)
        {
          guint32 data_end = t->buf_seq + buffered (t);

          /* A partial ACK shows the next hole: fill it at once. */
          if (SEQ_LT (seg->ack, t->recover) && SEQ_LT (t->snd_una, data_end))
            {
              t->stats.fast_retransmits++;
              send_data (t, t->snd_una, MIN (t->mss, (guint32) (data_end - t->snd_una)));
            }
          else
            t->in_recovery = FALSE;
        }
      if (t->timing && SEQ_GEQ (seg->ack, t->timed_seq))
        {
          t->timing = FALSE;
          rtt_sample (t, (double) (g_get_monotonic_time () - t->timed_at) / 1000.0);
        }
      else if (t->have_rtt)
        update_rto (t); /* new data acknowledged: drop any backoff */
      if (t->snd_una == t->snd_max)
        stop_timer (t);
      else
        restart_timer (t);
    }
  else if (seg->ack == t->snd_una && seg->payload_len == 0 && !(seg->flags & PROBE_TCP_FIN)
           && seg->window == t->snd_wnd && t->snd_una != t->snd_max)
    {
      t->stats.dup_acks++;
      if (++t->dupacks == TCP_DUPACK_THRESHOLD && !t->in_recovery)
        {
          guint32 data_end = t->buf_seq + buffered (t);

          t->stats.fast_retransmits++;
          t->timing = FALSE;
          t->in_recovery = TRUE;
          t->recover = t->snd_max;
          if (SEQ_LT (t->snd_una, data_end))
            send_data (t, t->snd_una, MIN (t->mss, (guint32) (data_end - t->snd_una)));
          else if (t->fin_sent && !t->fin_acked)
            send_segment (t, t->fin_seq, PROBE_TCP_FIN | PROBE_TCP_ACK, NULL, 0);
          restart_timer (t);
        }
    }

  /* Window update (RFC 9293 3.10.7.4), never from an old ACK. */
  if (SEQ_GEQ (seg->ack, t->snd_una)
      && (SEQ_LT (t->snd_wl1, seg->seq)
          || (t->snd_wl1 == seg->seq && SEQ_LEQ (t->snd_wl2, seg->ack))))
    {
      t->snd_wnd = seg->window;
      t->snd_wl1 = seg->seq;
      t->snd_wl2 = seg->ack;
    }

  if (t->fin_acked)
    {
      if (t->state == PROBE_TCP_FIN_WAIT_1)
        t->state = PROBE_TCP_FIN_WAIT_2;
      else if (t->state == PROBE_TCP_CLOSING)
        t->state = PROBE_TCP_TIME_WAIT;
      else if (t->state == PROBE_TCP_LAST_ACK)
        {
          t->state = PROBE_TCP_CLOSED;
          stop_timer (t);
        }
    }
  return freed;
}

/* Keeps an early segment until the gap before it is filled. */
static void
ooo_insert (ProbeTcp *t, guint32 seq, const guint8 *data, guint32 len)
{
  GList *l;
  OooSeg *o;

  if (SEQ_GT (seq + len, t->rcv_nxt + TCP_RCV_WINDOW) || t->ooo_bytes + len > TCP_RCV_WINDOW
      || t->ooo.length >= TCP_OOO_MAX_SEGMENTS)
    {
      t->stats.out_of_order_dropped++;
      return;
    }
  for (l = t->ooo.head; l; l = l->next)
    {
      OooSeg *cur = l->data;

      if (cur->seq == seq && g_bytes_get_size (cur->data) >= len)
        return; /* already held */
      if (SEQ_GT (cur->seq, seq))
        break;
    }
  o = g_new0 (OooSeg, 1);
  o->seq = seq;
  o->data = g_bytes_new (data, len);
  t->ooo_bytes += len;
  if (l)
    g_queue_insert_before (&t->ooo, l, o);
  else
    g_queue_push_tail (&t->ooo, o);
}

static void
deliver (ProbeTcp *t, const guint8 *data, guint32 len)
{
  t->rcv_nxt += len;
  t->rcv_unacked += len;
  t->stats.bytes_received += len;
  if (t->recv_func)
    t->recv_func (t, data, len, t->user_data);
}

/* Delivers held segments that the in-order data has reached. */
static void
ooo_drain (ProbeTcp *t)
{
  OooSeg *o;

  while ((o = g_queue_peek_head (&t->ooo)) != NULL && SEQ_LEQ (o->seq, t->rcv_nxt))
    {
      gsize len;
      const guint8 *data = g_bytes_get_data (o->data, &len);
      guint32 skip = t->rcv_nxt - o->seq;

      g_queue_pop_head (&t->ooo);
      t->ooo_bytes -= len;
      if (skip < len && synchronized (t))
        deliver (t, data + skip, (guint32) len - skip);
      ooo_seg_free (o);
    }
}

static void
data_input (ProbeTcp *t, const ProbeTcpSeg *seg)
{
  guint32 offset;
  guint32 len;

  if (t->state != PROBE_TCP_ESTABLISHED && t->state != PROBE_TCP_FIN_WAIT_1
      && t->state != PROBE_TCP_FIN_WAIT_2)
    {
      schedule_ack (t, TRUE);
      return;
    }
  if (SEQ_GT (seg->seq, t->rcv_nxt))
    {
      /* Early: held back; the duplicate ACK asks for the gap. */
      t->stats.out_of_order++;
      ooo_insert (t, seg->seq, seg->payload, (guint32) seg->payload_len);
      schedule_ack (t, TRUE);
      return;
    }
  offset = t->rcv_nxt - seg->seq;
  if (offset >= seg->payload_len)
    {
      schedule_ack (t, TRUE); /* an old duplicate */
      return;
    }
  len = MIN ((guint32) seg->payload_len - offset, TCP_RCV_WINDOW);
  deliver (t, seg->payload + offset, len);
  if (!g_queue_is_empty (&t->ooo))
    {
      ooo_drain (t);
      schedule_ack (t, TRUE); /* a filled gap is acknowledged at once */
      return;
    }
  schedule_ack (t, FALSE);
}

static void
established_input (ProbeTcp *t, const ProbeTcpSeg *seg)
{
  guint32 seg_len = (guint32) seg->payload_len + ((seg->flags & PROBE_TCP_SYN) ? 1 : 0)
                    + ((seg->flags & PROBE_TCP_FIN) ? 1 : 0);
  gboolean freed;

  if (!seq_acceptable (t, seg, seg_len))
    {
      if (!(seg->flags & PROBE_TCP_RST))
        send_ack (t);
      return;
    }
  if (seg->flags & PROBE_TCP_RST)
    {
      if (seg->seq != t->rcv_nxt)
        {
          send_ack (t); /* RFC 5961 challenge ACK */
          return;
        }
      if (t->state == PROBE_TCP_TIME_WAIT)
        t->state = PROBE_TCP_CLOSED;
      else
        fail (t, G_IO_ERROR_CONNECTION_CLOSED, "connection reset by peer");
      return;
    }
  if (seg->flags & PROBE_TCP_SYN)
    {
      send_ack (t); /* a repeated SYN-ACK: our ACK was lost */
      return;
    }
  if (!(seg->flags & PROBE_TCP_ACK))
    return;

  freed = ack_input (t, seg);
  if (t->state == PROBE_TCP_CLOSED)
    return;
  if (seg->payload_len > 0)
    data_input (t, seg);

  if ((seg->flags & PROBE_TCP_FIN) && seg->seq + (guint32) seg->payload_len == t->rcv_nxt
      && !t->fin_received)
    {
      t->fin_received = TRUE;
      t->rcv_nxt++;
      if (t->state == PROBE_TCP_ESTABLISHED)
        t->state = PROBE_TCP_CLOSE_WAIT;
      else if (t->state == PROBE_TCP_FIN_WAIT_1)
        t->state = t->fin_acked ? PROBE_TCP_TIME_WAIT : PROBE_TCP_CLOSING;
      else if (t->state == PROBE_TCP_FIN_WAIT_2)
        t->state = PROBE_TCP_TIME_WAIT;
      schedule_ack (t, TRUE);
    }
  else if ((seg->flags & PROBE_TCP_FIN) && t->fin_received)
    schedule_ack (t, TRUE); /* a repeated FIN */

  tcp_output (t);
  if (freed && t->writable_func)
    t->writable_func (t, t->user_data);
}

static void
on_segment (const ProbeIpv4 *ip, const ProbeTcpSeg *seg, gpointer user_data)
{
  ProbeTcp *t = user_data;

  if (ip->src != t->dst || ip->dst != t->src || seg->sport != t->dport || seg->dport != t->sport)
    {
      t->netif->stats.frames_ignored++;
      return;
    }
  t->stats.segments_received++;
  switch (t->state)
    {
    case PROBE_TCP_CLOSED:
      break;
    case PROBE_TCP_SYN_SENT:
      syn_sent_input (t, seg);
      break;
    default:
      established_input (t, seg);
      break;
    }
}

/* ---- public ---------------------------------------------------------------------------- */

ProbeTcp *
probe_tcp_new (ProbeNetif *netif, const ProbeMac *next_hop, guint32 dst, guint16 port)
{
  ProbeTcp *t = g_new0 (ProbeTcp, 1);

  t->netif = netif;
  t->next_hop = *next_hop;
  t->src = netif->ip;
  t->dst = dst;
  t->dport = port;
  t->sport = (guint16) g_random_int_range (49152, 65536);
  t->state = PROBE_TCP_CLOSED;
  t->sndbuf = g_byte_array_new ();
  g_queue_init (&t->ooo);
  t->rto_ms = TCP_RTO_INITIAL_MS;
  t->mss = TCP_DEFAULT_MSS;
  probe_netif_set_tcp_handler (netif, on_segment, t);
  return t;
}

void
probe_tcp_free (ProbeTcp *t)
{
  if (t == NULL)
    return;
  stop_timer (t);
  if (t->ack_idle)
    g_source_remove (t->ack_idle);
  if (t->netif->tcp_data == t)
    probe_netif_set_tcp_handler (t->netif, NULL, NULL);
  g_byte_array_unref (t->sndbuf);
  g_queue_clear_full (&t->ooo, ooo_seg_free);
  g_clear_error (&t->error);
  g_free (t);
}

void
probe_tcp_set_callbacks (ProbeTcp *t, ProbeTcpRecvFunc recv, ProbeTcpWritableFunc writable,
                         gpointer user_data)
{
  t->recv_func = recv;
  t->writable_func = writable;
  t->user_data = user_data;
}

typedef struct {
  ProbeTcp *tcp;
  ProbeCondFunc cond;
  gpointer data;
} TcpWait;

static gboolean
tcp_wait_cond (gpointer user_data)
{
  TcpWait *w = user_data;

  return w->tcp->error != NULL || (w->cond && w->cond (w->data));
}

gboolean
probe_tcp_wait (ProbeTcp *t, ProbeCondFunc cond, gpointer user_data, gint64 deadline,
                GError **error)
{
  TcpWait w = { t, cond, user_data };

  if (!probe_tunnel_wait (t->netif->tunnel, tcp_wait_cond, &w, deadline, error))
    return FALSE;
  if (cond && cond (user_data))
    return TRUE;
  g_set_error_literal (error, t->error->domain, t->error->code, t->error->message);
  return FALSE;
}

static gboolean
not_syn_sent (gpointer user_data)
{
  return ((ProbeTcp *) user_data)->state != PROBE_TCP_SYN_SENT;
}

gboolean
probe_tcp_connect (ProbeTcp *t, gint64 deadline, double *handshake_ms, GError **error)
{
  g_return_val_if_fail (t->state == PROBE_TCP_CLOSED && t->error == NULL, FALSE);

  t->iss = g_random_int ();
  t->snd_una = t->iss;
  t->snd_nxt = t->iss + 1;
  t->snd_max = t->snd_nxt;
  t->state = PROBE_TCP_SYN_SENT;
  t->syn_sent_at = g_get_monotonic_time ();
  send_segment (t, t->iss, PROBE_TCP_SYN, NULL, 0);
  restart_timer (t);
  if (!probe_tcp_wait (t, not_syn_sent, t, deadline, error))
    {
      if (t->state == PROBE_TCP_SYN_SENT)
        {
          stop_timer (t);
          t->state = PROBE_TCP_CLOSED;
        }
      return FALSE;
    }
  if (t->state != PROBE_TCP_ESTABLISHED)
    {
      if (t->error)
        {
          g_set_error_literal (error, t->error->domain, t->error->code, t->error->message);
          return FALSE;
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "handshake ended in state %s",
                   probe_tcp_state_name (t->state));
      return FALSE;
    }
  *handshake_ms = (double) (t->synack_at - t->syn_sent_at) / 1000.0;
  return TRUE;
}

gsize
probe_tcp_send_space (ProbeTcp *t)
{
  if ((t->state != PROBE_TCP_ESTABLISHED && t->state != PROBE_TCP_CLOSE_WAIT) || t->fin_queued)
    return 0;
  return TCP_SNDBUF_MAX - MIN (buffered (t), TCP_SNDBUF_MAX);
}

gsize
probe_tcp_write (ProbeTcp *t, const guint8 *data, gsize len)
{
  gsize n = MIN (len, probe_tcp_send_space (t));

  if (n == 0)
    return 0;
  g_byte_array_append (t->sndbuf, data, (guint) n);
  tcp_output (t);
  return n;
}

gboolean
probe_tcp_all_acked (ProbeTcp *t)
{
  return buffered (t) == 0;
}

void
probe_tcp_shutdown (ProbeTcp *t)
{
  if (t->fin_queued || (t->state != PROBE_TCP_ESTABLISHED && t->state != PROBE_TCP_CLOSE_WAIT))
    return;
  t->fin_queued = TRUE;
  tcp_output (t);
}

void
probe_tcp_abort (ProbeTcp *t)
{
  if (synchronized (t) && t->state != PROBE_TCP_TIME_WAIT)
    send_segment (t, t->snd_nxt, PROBE_TCP_RST | PROBE_TCP_ACK, NULL, 0);
  else if (t->state == PROBE_TCP_SYN_SENT)
    send_segment (t, t->snd_nxt, PROBE_TCP_RST, NULL, 0);
  t->state = PROBE_TCP_CLOSED;
  stop_timer (t);
}

ProbeTcpState
probe_tcp_get_state (ProbeTcp *t)
{
  return t->state;
}

gboolean
probe_tcp_fin_received (ProbeTcp *t)
{
  return t->fin_received;
}

gboolean
probe_tcp_fin_acked (ProbeTcp *t)
{
  return t->fin_acked;
}

const GError *
probe_tcp_get_error (ProbeTcp *t)
{
  return t->error;
}

guint16
probe_tcp_get_local_port (ProbeTcp *t)
{
  return t->sport;
}

guint
probe_tcp_get_mss (ProbeTcp *t)
{
  return t->mss;
}

guint
probe_tcp_get_peer_window (ProbeTcp *t)
{
  return t->snd_wnd;
}

double
probe_tcp_get_srtt_ms (ProbeTcp *t)
{
  return t->have_rtt ? t->srtt_ms : 0.0;
}

const ProbeTcpStats *
probe_tcp_get_stats (ProbeTcp *t)
{
  return &t->stats;
}
