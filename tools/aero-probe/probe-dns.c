/* probe-dns.c — DNS A queries over UDP through the tunnel: query
 * encoding, a response parser that checks every length and bounds
 * compression-pointer chains, CNAME following, retransmission. */
#include "probe-dns.h"

#include <string.h>

#define DNS_PORT 53
#define DNS_RETRY_US (1 * G_USEC_PER_SEC)
#define DNS_HLEN 12
#define DNS_MAX_NAME 255
#define DNS_MAX_JUMPS 32
#define DNS_MAX_RECORDS 64
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_CLASS_IN 1

typedef struct {
  ProbeNetif *netif;
  guint32 server;
  guint16 port;
  guint16 id;
  const char *qname; /* normalised: lower case, no trailing dot */
  gboolean got;
  gint64 sent_us;
  gint64 got_us;
  ProbeDnsAnswer *answer;
  char *failure; /* a reply we could not use, reported on timeout */
} DnsQuery;

void
probe_dns_answer_clear (ProbeDnsAnswer *answer)
{
  g_free (answer->cname);
  memset (answer, 0, sizeof *answer);
}

const char *
probe_dns_rcode_name (guint rcode)
{
  static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
                                       "NOTIMP",  "REFUSED", "YXDOMAIN", "YXRRSET",
                                       "NXRRSET", "NOTAUTH", "NOTZONE" };

  return rcode < G_N_ELEMENTS (names) ? names[rcode] : "rcode";
}

gboolean
probe_dns_name_valid (const char *name)
{
  gsize len, label = 0;

  if (name == NULL)
    return FALSE;
  len = strlen (name);
  if (len > 0 && name[len - 1] == '.')
    len--;
  if (len == 0 || len > 253)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    {
      char ch = name[i];

      if (ch == '.')
        {
          if (label == 0)
            return FALSE;
          label = 0;
          continue;
        }
      if (!g_ascii_isalnum (ch) && ch != '-' && ch != '_')
        return FALSE;
      if (++label > 63)
        return FALSE;
    }
  return label > 0;
}

static char *
normalise (const char *name)
{
  gsize len = strlen (name);

  if (len > 0 && name[len - 1] == '.')
    len--;
  return g_ascii_strdown (name, (gssize) len);
}

static GByteArray *
build_query (guint16 id, const char *qname)
{
  GByteArray *a = g_byte_array_new ();
  guint8 hdr[DNS_HLEN] = { id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0 };
  static const guint8 tail[5] = { 0, 0, DNS_TYPE_A, 0, DNS_CLASS_IN };
  g_auto (GStrv) labels = g_strsplit (qname, ".", -1);

  g_byte_array_append (a, hdr, sizeof hdr);
  for (guint i = 0; labels[i]; i++)
    {
      guint8 l = (guint8) strlen (labels[i]);
      g_byte_array_append (a, &l, 1);
      g_byte_array_append (a, (const guint8 *) labels[i], l);
    }
  g_byte_array_append (a, tail, sizeof tail);
  return a;
}

/* Reads a (possibly compressed) name at *POS into OUT (lower case, dotted,
 * no trailing dot) and advances *POS past it. */
static gboolean
read_name (const guint8 *msg, gsize len, gsize *pos, char out[DNS_MAX_NAME + 1])
{
  gsize p = *pos, o = 0;
  gboolean jumped = FALSE;
  guint jumps = 0;

  for (;;)
    {
      guint8 l;

      if (p >= len)
        return FALSE;
      l = msg[p];
      if ((l & 0xc0) == 0xc0)
        {
          if (p + 1 >= len || ++jumps > DNS_MAX_JUMPS)
            return FALSE;
          if (!jumped)
            *pos = p + 2;
          jumped = TRUE;
          p = ((gsize) (l & 0x3f) << 8) | msg[p + 1];
          continue;
        }
      if (l & 0xc0)
        return FALSE; /* extended label types */
      if (l == 0)
        {
          if (!jumped)
            *pos = p + 1;
          break;
        }
      if (p + 1 + l > len || o + l + 1 > DNS_MAX_NAME)
        return FALSE;
      if (o > 0)
        out[o++] = '.';
      for (guint i = 0; i < l; i++)
        {
          guint8 ch = msg[p + 1 + i];
          out[o++] = (ch >= 0x20 && ch < 0x7f) ? g_ascii_tolower ((char) ch) : '?';
        }
      p += 1 + l;
    }
  out[o] = '\0';
  return TRUE;
}

static guint16
rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

/* Parses a response into Q->answer; returns an explanation when unusable. */
static char *
parse_response (DnsQuery *q, const guint8 *msg, gsize len)
{
  ProbeDnsAnswer *ans = q->answer;
  char name[DNS_MAX_NAME + 1];
  g_autofree char *target = g_strdup (q->qname);
  guint16 flags, qd, an;
  gsize pos = DNS_HLEN;

  if (len < DNS_HLEN)
    return g_strdup ("short DNS message");
  flags = rd16 (msg + 2);
  if (!(flags & 0x8000))
    return g_strdup ("DNS message is not a response");
  if (flags & 0x0200)
    return g_strdup ("truncated DNS response (TC set)");
  qd = rd16 (msg + 4);
  an = rd16 (msg + 6);
  if (qd != 1)
    return g_strdup_printf ("DNS response with %u questions", qd);
  if (!read_name (msg, len, &pos, name) || pos + 4 > len)
    return g_strdup ("malformed question in DNS response");
  if (g_ascii_strcasecmp (name, q->qname) != 0 || rd16 (msg + pos) != DNS_TYPE_A
      || rd16 (msg + pos + 2) != DNS_CLASS_IN)
    return g_strdup ("DNS response to a different question");
  pos += 4;

  {
    guint attempts = ans->attempts;

    probe_dns_answer_clear (ans);
    ans->attempts = attempts;
  }
  ans->rcode = flags & 0x0f;
  if (ans->rcode != 0)
    return NULL;

  for (guint i = 0; i < an && i < DNS_MAX_RECORDS; i++)
    {
      guint16 type, klass, rdlen;
      guint32 ttl;
      gsize rd;

      if (!read_name (msg, len, &pos, name) || pos + 10 > len)
        return g_strdup ("malformed answer record");
      type = rd16 (msg + pos);
      klass = rd16 (msg + pos + 2);
      ttl = ((guint32) rd16 (msg + pos + 4) << 16) | rd16 (msg + pos + 6);
      rdlen = rd16 (msg + pos + 8);
      rd = pos + 10;
      if (rd + rdlen > len)
        return g_strdup ("answer record overruns the message");
      pos = rd + rdlen;
      if (klass != DNS_CLASS_IN || g_ascii_strcasecmp (name, target) != 0)
        continue;
      if (type == DNS_TYPE_CNAME)
        {
          char cname[DNS_MAX_NAME + 1];
          gsize cpos = rd;

          if (!read_name (msg, len, &cpos, cname) || cpos > rd + rdlen)
            return g_strdup ("malformed CNAME record");
          g_free (target);
          target = g_strdup (cname);
          g_free (ans->cname);
          ans->cname = g_strdup (cname);
        }
      else if (type == DNS_TYPE_A && rdlen == 4 && ans->n_addrs < PROBE_DNS_MAX_ADDRS)
        {
          if (ans->n_addrs == 0)
            ans->ttl = ttl;
          ans->addrs[ans->n_addrs++] = ((guint32) rd16 (msg + rd) << 16) | rd16 (msg + rd + 2);
        }
    }
  return NULL;
}

static void
on_udp (const ProbeIpv4 *ip, const ProbeUdp *udp, gpointer user_data)
{
  DnsQuery *q = user_data;
  char *why;

  if (q->got || ip->src != q->server || udp->sport != DNS_PORT || udp->payload_len < 2
      || rd16 (udp->payload) != q->id)
    {
      q->netif->stats.frames_ignored++;
      return;
    }
  why = parse_response (q, udp->payload, udp->payload_len);
  if (why)
    {
      g_free (q->failure);
      q->failure = why;
      return;
    }
  q->got = TRUE;
  q->got_us = g_get_monotonic_time ();
}

static gboolean
got_answer (gpointer user_data)
{
  return ((DnsQuery *) user_data)->got;
}

gboolean
probe_dns_resolve (ProbeNetif *netif, guint32 server, const char *name, gint64 deadline,
                   ProbeDnsAnswer *answer, GError **error)
{
  g_autofree char *qname = NULL;
  g_autoptr (GByteArray) query = NULL;
  DnsQuery q = { 0 };
  ProbeMac next_hop;
  gboolean ok = FALSE;
  char a[16];

  memset (answer, 0, sizeof *answer);
  if (!probe_dns_name_valid (name))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, "invalid name \"%s\"", name);
      return FALSE;
    }
  if (!probe_netif_next_hop (netif, server, deadline, &next_hop, error))
    {
      g_prefix_error (error, "DNS server %s: ", probe_ipv4_to_string (server, a));
      return FALSE;
    }
  qname = normalise (name);
  q.netif = netif;
  q.server = server;
  q.port = (guint16) g_random_int_range (49152, 65536);
  q.id = (guint16) g_random_int ();
  q.qname = qname;
  q.answer = answer;
  query = build_query (q.id, qname);
  if (!probe_netif_set_udp_handler (netif, q.port, on_udp, &q))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no free UDP handler slot");
      return FALSE;
    }

  for (;;)
    {
      g_autoptr (GError) local = NULL;
      gint64 retry = MIN (g_get_monotonic_time () + DNS_RETRY_US, deadline);

      q.sent_us = g_get_monotonic_time ();
      if (!probe_netif_send_udp (netif, &next_hop, netif->ip, server, q.port, DNS_PORT,
                                 query->data, query->len, error))
        goto out;
      answer->attempts++;
      if (probe_tunnel_wait (netif->tunnel, got_answer, &q, retry, &local))
        break;
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          goto out;
        }
      if (retry >= deadline)
        {
          if (q.failure)
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s", q.failure);
          else
            g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                         "no answer from %s after %u queries", probe_ipv4_to_string (server, a),
                         answer->attempts);
          goto out;
        }
    }
  answer->rtt_ms = (double) (q.got_us - q.sent_us) / 1000.0;
  if (answer->rcode != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "%s for %s",
                   probe_dns_rcode_name (answer->rcode), name);
      goto out;
    }
  if (answer->n_addrs == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no A record for %s", name);
      goto out;
    }
  ok = TRUE;

out:
  g_free (q.failure);
  probe_netif_set_udp_handler (netif, q.port, NULL, NULL);
  return ok;
}
