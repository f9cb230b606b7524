/* wsdhcp.c — opens many aero-l2-tunnel-v1 WebSocket tunnels and takes a
 * DHCP lease on each, for bench/run's scale benchmark.
 *
 *   wsdhcp --port PORT [--host 127.0.0.1] [--path /l2] --count N
 *          [--concurrency C] [--timeout SECONDS] [--hold]
 *
 * Each tunnel: TCP connect, HTTP/1.1 upgrade offering the subprotocol
 * aero-l2-tunnel-v1, then DHCPDISCOVER → DHCPOFFER → DHCPREQUEST →
 * DHCPACK carried as FRAME messages (0xA2 0x03 0x00 0x00 + Ethernet frame)
 * in masked binary WebSocket messages. At most C set-ups are in flight at
 * once; a finished one starts the next, until N have been started. ARP
 * requests for the offered address are answered, WebSocket pings ponged.
 *
 * Set-up time runs from just before connect() to the DHCPACK; the upgrade
 * time from just before connect() to the 101 response; the lease time from
 * the 101 to the DHCPACK.
 *
 * When every set-up has ended (or the timeout has passed) one JSON line
 * goes to stdout ({"event": "ready", ...}). With --hold the tunnels then
 * stay open (their input is read and discarded) until stdin reaches EOF
 * or gets a line; a second JSON line ({"event": "closed", "lost": K})
 * reports how many tunnels the server closed meanwhile. One process, one
 * thread, epoll. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF_SIZE 8192
#define BOOTP_LEN 548 /* 236 fixed + 312 options, what most clients send */

enum state {
  ST_FREE,
  ST_CONNECTING,
  ST_UPGRADING,
  ST_WAIT_OFFER,
  ST_WAIT_ACK,
  ST_IDLE,
  ST_FAILED,
  ST_CLOSED,
};

struct conn {
  int fd;
  enum state state;
  uint32_t xid;
  uint8_t mac[6];
  uint8_t offered[4];
  uint8_t server_id[4];
  int have_offer;
  double t_start, t_101, t_ack;
  uint8_t *buf; /* set-up only */
  size_t len;
};

static const char *host = "127.0.0.1";
static const char *path = "/l2";
static int port;
static long count;
static long concurrency = 100;
static double timeout_s = 120;
static int hold;

static struct conn *conns;
static int ep;
static long started, finished_ok, finished_fail, in_flight;
static char fail_reason[256];

static double
now_s (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static uint16_t
ip_checksum (const uint8_t *p, size_t len)
{
  uint32_t sum = 0;

  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t) (p[i] << 8 | p[i + 1]);
  if (len & 1)
    sum += (uint32_t) p[len - 1] << 8;
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) ~sum;
}

static void
put16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

/* Sends PAYLOAD as one masked binary WebSocket message (opcode OP). */
static int
ws_send (struct conn *c, int op, const uint8_t *payload, size_t len)
{
  uint8_t frame[BUF_SIZE];
  size_t h = 0;
  uint32_t key = (uint32_t) random ();
  uint8_t *mask;

  if (len + 14 > sizeof frame)
    return -1;
  frame[h++] = (uint8_t) (0x80 | op);
  if (len < 126)
    frame[h++] = (uint8_t) (0x80 | len);
  else
    {
      frame[h++] = 0x80 | 126;
      put16 (frame + h, (uint16_t) len);
      h += 2;
    }
  mask = frame + h;
  memcpy (mask, &key, 4);
  h += 4;
  for (size_t i = 0; i < len; i++)
    frame[h + i] = payload[i] ^ mask[i & 3];
  return write (c->fd, frame, h + len) == (ssize_t) (h + len) ? 0 : -1;
}

/* A FRAME message carrying a DHCP message of type TYPE (1 discover, 3 request). */
static int
send_dhcp (struct conn *c, int type)
{
  uint8_t msg[4 + 14 + 20 + 8 + BOOTP_LEN];
  uint8_t *eth = msg + 4, *ip = eth + 14, *udp = ip + 20, *bp = udp + 8, *o;

  memset (msg, 0, sizeof msg);
  msg[0] = 0xA2;
  msg[1] = 0x03;
  memset (eth, 0xff, 6);
  memcpy (eth + 6, c->mac, 6);
  put16 (eth + 12, 0x0800);
  ip[0] = 0x45;
  put16 (ip + 2, 20 + 8 + BOOTP_LEN);
  put16 (ip + 4, (uint16_t) c->xid);
  ip[8] = 64;
  ip[9] = 17;
  memset (ip + 16, 0xff, 4);
  put16 (ip + 10, ip_checksum (ip, 20));
  put16 (udp, 68);
  put16 (udp + 2, 67);
  put16 (udp + 4, 8 + BOOTP_LEN);
  bp[0] = 1;
  bp[1] = 1;
  bp[2] = 6;
  memcpy (bp + 4, &c->xid, 4);
  memcpy (bp + 28, c->mac, 6);
  o = bp + 236;
  *o++ = 99, *o++ = 130, *o++ = 83, *o++ = 99;
  *o++ = 53, *o++ = 1, *o++ = (uint8_t) type;
  if (type == 3)
    {
      *o++ = 50, *o++ = 4;
      memcpy (o, c->offered, 4), o += 4;
      *o++ = 54, *o++ = 4;
      memcpy (o, c->server_id, 4), o += 4;
    }
  *o++ = 55, *o++ = 3, *o++ = 1, *o++ = 3, *o++ = 6;
  *o++ = 255;
  return ws_send (c, 2, msg, sizeof msg);
}

static void
answer_arp (struct conn *c, const uint8_t *eth, size_t len)
{
  uint8_t msg[4 + 42];
  const uint8_t *arp = eth + 14;
  uint8_t *r;

  if (len < 42 || arp[7] != 1 || !c->have_offer || memcmp (arp + 24, c->offered, 4) != 0)
    return;
  memset (msg, 0, sizeof msg);
  msg[0] = 0xA2;
  msg[1] = 0x03;
  r = msg + 4;
  memcpy (r, eth + 6, 6);
  memcpy (r + 6, c->mac, 6);
  put16 (r + 12, 0x0806);
  memcpy (r + 14, arp, 6);
  r[21] = 2;
  memcpy (r + 22, c->mac, 6);
  memcpy (r + 28, c->offered, 4);
  memcpy (r + 32, arp + 8, 10);
  ws_send (c, 2, msg, sizeof msg);
}

static void start_next (void);

static void
end_setup (struct conn *c, int ok, const char *why)
{
  free (c->buf);
  c->buf = NULL;
  in_flight--;
  if (ok)
    {
      c->state = ST_IDLE;
      finished_ok++;
    }
  else
    {
      if (fail_reason[0] == '\0' && why)
        snprintf (fail_reason, sizeof fail_reason, "%s", why);
      c->state = ST_FAILED;
      finished_fail++;
      epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
      close (c->fd);
      c->fd = -1;
    }
  start_next ();
}

/* One Ethernet frame from the server during set-up. */
static void
on_frame (struct conn *c, const uint8_t *eth, size_t len)
{
  const uint8_t *ip, *udp, *bp, *o, *end;
  int type = 0;
  size_t ihl;

  if (len < 14)
    return;
  if (eth[12] == 0x08 && eth[13] == 0x06)
    {
      answer_arp (c, eth, len);
      return;
    }
  if (eth[12] != 0x08 || eth[13] != 0x00 || len < 14 + 20)
    return;
  ip = eth + 14;
  ihl = (size_t) (ip[0] & 0x0f) * 4;
  if (ip[9] != 17 || len < 14 + ihl + 8 + 240)
    return;
  udp = ip + ihl;
  if (udp[0] != 0 || udp[1] != 67 || udp[2] != 0 || udp[3] != 68)
    return;
  bp = udp + 8;
  if (bp[0] != 2 || memcmp (bp + 4, &c->xid, 4) != 0)
    return;
  end = eth + len;
  for (o = bp + 240; o < end && *o != 255;)
    {
      if (*o == 0)
        {
          o++;
          continue;
        }
      if (o + 2 > end || o + 2 + o[1] > end)
        break;
      if (o[0] == 53 && o[1] == 1)
        type = o[2];
      if (o[0] == 54 && o[1] == 4)
        memcpy (c->server_id, o + 2, 4);
      o += 2 + o[1];
    }
  if (c->state == ST_WAIT_OFFER && type == 2)
    {
      memcpy (c->offered, bp + 16, 4);
      c->have_offer = 1;
      if (send_dhcp (c, 3) < 0)
        end_setup (c, 0, "write DHCPREQUEST failed");
      else
        c->state = ST_WAIT_ACK;
    }
  else if (c->state == ST_WAIT_ACK && type == 5)
    {
      c->t_ack = now_s ();
      end_setup (c, 1, NULL);
    }
  else if (c->state == ST_WAIT_ACK && type == 6)
    end_setup (c, 0, "DHCPNAK");
}

/* Parses whole WebSocket frames out of the set-up buffer. */
static void
parse_ws (struct conn *c)
{
  size_t off = 0;

  while (c->buf && c->len - off >= 2)
    {
      uint8_t *p = c->buf + off;
      int op = p[0] & 0x0f;
      uint64_t plen = p[1] & 0x7f;
      size_t h = 2;

      if (plen == 126)
        {
          if (c->len - off < 4)
            break;
          plen = (uint64_t) (p[2] << 8 | p[3]);
          h = 4;
        }
      else if (plen == 127)
        {
          end_setup (c, 0, "unexpected 64-bit frame length");
          return;
        }
      if (p[1] & 0x80)
        {
          end_setup (c, 0, "server frame is masked");
          return;
        }
      if (h + plen > BUF_SIZE)
        {
          end_setup (c, 0, "frame larger than the client buffer");
          return;
        }
      if (c->len - off < h + plen)
        break;
      if (op == 0x8)
        {
          end_setup (c, 0, "server closed the WebSocket during set-up");
          return;
        }
      if (op == 0x9)
        ws_send (c, 0xA, p + h, (size_t) plen);
      else if (op == 0x2 && plen >= 4 && p[h] == 0xA2 && p[h + 1] == 0x03 && p[h + 2] == 0x00)
        on_frame (c, p + h + 4, (size_t) plen - 4);
      if (c->state != ST_WAIT_OFFER && c->state != ST_WAIT_ACK)
        return;
      off += h + (size_t) plen;
    }
  if (c->buf && off > 0)
    {
      memmove (c->buf, c->buf + off, c->len - off);
      c->len -= off;
    }
}

static void
on_readable (struct conn *c)
{
  uint8_t sink[16384];
  ssize_t n;

  if (c->state == ST_IDLE)
    {
      do
        n = read (c->fd, sink, sizeof sink);
      while (n > 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        {
          epoll_ctl (ep, EPOLL_CTL_DEL, c->fd, NULL);
          close (c->fd);
          c->fd = -1;
          c->state = ST_CLOSED;
        }
      return;
    }
  n = read (c->fd, c->buf + c->len, BUF_SIZE - c->len);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      end_setup (c, 0, n == 0 ? "server closed the connection during set-up"
                              : "read error during set-up");
      return;
    }
  c->len += (size_t) n;
  if (c->state == ST_UPGRADING)
    {
      uint8_t *end = memmem (c->buf, c->len, "\r\n\r\n", 4);
      size_t hlen;

      if (end == NULL)
        {
          if (c->len == BUF_SIZE)
            end_setup (c, 0, "response headers too long");
          return;
        }
      if (c->len < 12 || memcmp (c->buf + 9, "101", 3) != 0)
        {
          char line[128];
          size_t l = 0;

          while (l < c->len && l < sizeof line - 1 && c->buf[l] != '\r')
            line[l] = (char) c->buf[l], l++;
          line[l] = '\0';
          end_setup (c, 0, line);
          return;
        }
      c->t_101 = now_s ();
      hlen = (size_t) (end - c->buf) + 4;
      memmove (c->buf, c->buf + hlen, c->len - hlen);
      c->len -= hlen;
      c->state = ST_WAIT_OFFER;
      if (send_dhcp (c, 1) < 0)
        {
          end_setup (c, 0, "write DHCPDISCOVER failed");
          return;
        }
    }
  parse_ws (c);
}

static void
on_connected (struct conn *c)
{
  char req[512];
  int err = 0, n;
  socklen_t elen = sizeof err;
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

  getsockopt (c->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
  if (err != 0)
    {
      end_setup (c, 0, strerror (err));
      return;
    }
  n = snprintf (req, sizeof req,
                "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: aero-l2-tunnel-v1\r\n\r\n",
                path, host, port);
  if (write (c->fd, req, (size_t) n) != n)
    {
      end_setup (c, 0, "write upgrade failed");
      return;
    }
  c->state = ST_UPGRADING;
  epoll_ctl (ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
start_next (void)
{
  while (in_flight < concurrency && started < count)
    {
      struct conn *c = &conns[started];
      struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
      struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
      int one = 1;

      started++;
      in_flight++;
      c->xid = (uint32_t) random ();
      c->mac[0] = 0x52, c->mac[1] = 0x54, c->mac[2] = 0x00;
      c->mac[3] = (uint8_t) (started >> 16), c->mac[4] = (uint8_t) (started >> 8);
      c->mac[5] = (uint8_t) started;
      c->buf = malloc (BUF_SIZE);
      c->len = 0;
      inet_pton (AF_INET, host, &sa.sin_addr);
      c->t_start = now_s ();
      c->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c->fd < 0)
        {
          c->state = ST_CONNECTING;
          end_setup (c, 0, strerror (errno));
          continue;
        }
      setsockopt (c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      c->state = ST_CONNECTING;
      if (connect (c->fd, (struct sockaddr *) &sa, sizeof sa) < 0 && errno != EINPROGRESS)
        {
          end_setup (c, 0, strerror (errno));
          continue;
        }
      epoll_ctl (ep, EPOLL_CTL_ADD, c->fd, &ev);
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static void
print_stats (const char *name, double *v, long n)
{
  if (n == 0)
    {
      printf ("\"%s\": null", name);
      return;
    }
  qsort (v, (size_t) n, sizeof *v, cmp_double);
#define P(p) v[(long) ((p) / 100.0 * (double) (n - 1) + 0.5)]
  printf ("\"%s\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}", name, P (50),
          P (90), P (99), v[n - 1]);
#undef P
}

static void
run_loop (double deadline, int until_setups_done)
{
  struct epoll_event evs[256];

  for (;;)
    {
      int timeout_ms, n;

      if (until_setups_done && finished_ok + finished_fail >= count)
        return;
      timeout_ms = deadline > 0 ? (int) ((deadline - now_s ()) * 1000) : -1;
      if (deadline > 0 && timeout_ms <= 0)
        return;
      n = epoll_wait (ep, evs, 256, timeout_ms);
      if (n < 0 && errno != EINTR)
        return;
      for (int i = 0; i < n; i++)
        {
          struct conn *c = evs[i].data.ptr;

          if (c == NULL)
            return; /* stdin */
          if (c->fd < 0)
            continue;
          if (c->state == ST_CONNECTING)
            on_connected (c);
          else
            on_readable (c);
        }
    }
}

int
main (int argc, char **argv)
{
  static const struct option opts[] = {
    { "host", required_argument, NULL, 'H' },   { "port", required_argument, NULL, 'p' },
    { "path", required_argument, NULL, 'P' },   { "count", required_argument, NULL, 'n' },
    { "concurrency", required_argument, NULL, 'c' }, { "timeout", required_argument, NULL, 't' },
    { "hold", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
  };
  struct rlimit rl;
  double t0, elapsed, *setup, *upgrade, *lease;
  long ns = 0, lost = 0;
  int o;

  while ((o = getopt_long (argc, argv, "", opts, NULL)) != -1)
    switch (o)
      {
      case 'H': host = optarg; break;
      case 'p': port = atoi (optarg); break;
      case 'P': path = optarg; break;
      case 'n': count = atol (optarg); break;
      case 'c': concurrency = atol (optarg); break;
      case 't': timeout_s = atof (optarg); break;
      case 'h': hold = 1; break;
      default:
        fprintf (stderr, "usage: wsdhcp --port PORT --count N [--concurrency C] [--timeout S] "
                         "[--hold] [--host H] [--path P]\n");
        return 2;
      }
  if (port <= 0 || count <= 0 || concurrency <= 0)
    {
      fprintf (stderr, "wsdhcp: --port and --count are required\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  getrlimit (RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < (rlim_t) count + 64)
    {
      rl.rlim_cur = (rlim_t) count + 64;
      if (rl.rlim_max < rl.rlim_cur)
        rl.rlim_max = rl.rlim_cur;
      if (setrlimit (RLIMIT_NOFILE, &rl) < 0)
        fprintf (stderr, "wsdhcp: cannot raise RLIMIT_NOFILE to %ld: %s\n", count + 64,
                 strerror (errno));
    }
  srandom ((unsigned) getpid () ^ (unsigned) time (NULL));
  conns = calloc ((size_t) count, sizeof *conns);
  for (long i = 0; i < count; i++)
    conns[i].fd = -1;
  ep = epoll_create1 (EPOLL_CLOEXEC);

  t0 = now_s ();
  start_next ();
  run_loop (t0 + timeout_s, 1);
  elapsed = now_s () - t0;

  setup = calloc ((size_t) count, sizeof *setup);
  upgrade = calloc ((size_t) count, sizeof *upgrade);
  lease = calloc ((size_t) count, sizeof *lease);
  {
    long nu = 0, nl = 0;

    for (long i = 0; i < count; i++)
      {
        if (conns[i].t_101 > 0)
          upgrade[nu++] = (conns[i].t_101 - conns[i].t_start) * 1000;
        if (conns[i].state == ST_IDLE)
          {
            setup[ns++] = (conns[i].t_ack - conns[i].t_start) * 1000;
            lease[nl++] = (conns[i].t_ack - conns[i].t_101) * 1000;
          }
      }
    printf ("{\"event\": \"ready\", \"requested\": %ld, \"opened\": %ld, \"failed\": %ld, "
            "\"unfinished\": %ld, \"concurrency\": %ld, \"elapsed_s\": %.3f, \"rate_per_s\": %.1f, ",
            count, finished_ok, finished_fail, count - finished_ok - finished_fail, concurrency,
            elapsed, (double) finished_ok / elapsed);
    print_stats ("setup_ms", setup, ns);
    printf (", ");
    print_stats ("upgrade_ms", upgrade, nu);
    printf (", ");
    print_stats ("lease_ms", lease, nl);
    printf (", \"first_failure\": \"");
    for (const char *p = fail_reason; *p; p++)
      if (*p != '"' && *p != '\\' && (unsigned char) *p >= 0x20)
        putchar (*p);
    printf ("\"}\n");
    fflush (stdout);
  }

  if (hold)
    {
      struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

      epoll_ctl (ep, EPOLL_CTL_ADD, 0, &ev);
      run_loop (-1, 0);
      for (long i = 0; i < count; i++)
        if (conns[i].state == ST_CLOSED)
          lost++;
      printf ("{\"event\": \"closed\", \"lost\": %ld}\n", lost);
      fflush (stdout);
    }
  return 0;
}
