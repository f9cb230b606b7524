/* wsfloor.c — the least a tunnel server can do per set-up, for bench/run's
 * set-up benchmark: what wsdhcp measures against it is the floor of the
 * set-up time on this machine, with the same load generator on the same
 * cores.
 *
 *   wsfloor PORT
 *
 * Listens on 127.0.0.1:PORT (backlog 4096, as aero-netd). Each connection:
 * read the HTTP request up to its blank line, answer 101 with the
 * Sec-WebSocket-Accept of its key and the aero-l2-tunnel-v1 subprotocol,
 * then read masked WebSocket frames and answer a DHCPDISCOVER carried in a
 * FRAME message with a DHCPOFFER and a DHCPREQUEST with a DHCPACK (always
 * 10.0.2.15 from 10.0.2.2), pings with pongs; close at the peer's end of
 * stream. No policy, no NAT stack, no logging, no checks beyond bounds:
 * a real server does more. One process, one thread, epoll; runs until
 * SIGTERM or SIGINT. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <glib.h>
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
#include <unistd.h>

#define BUF_SIZE 8192
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct conn {
  int fd;
  int upgraded;
  size_t len;
  uint8_t buf[BUF_SIZE];
};

static const uint8_t server_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const uint8_t server_ip[4] = { 10, 0, 2, 2 };
static const uint8_t guest_ip[4] = { 10, 0, 2, 15 };
static int ep;
static volatile sig_atomic_t stop;

static void
on_signal (int sig)
{
  (void) sig;
  stop = 1;
}

static void
put16 (uint8_t *p, uint16_t v)
{
  p[0] = (uint8_t) (v >> 8);
  p[1] = (uint8_t) v;
}

static uint16_t
ip_checksum (const uint8_t *p, size_t len)
{
  uint32_t sum = 0;

  for (size_t i = 0; i + 1 < len; i += 2)
    sum += (uint32_t) (p[i] << 8 | p[i + 1]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t) ~sum;
}

static void
drop (struct conn *c)
{
  close (c->fd); /* leaves the epoll set with it */
  free (c);
}

/* One unmasked binary WebSocket message. */
static int
ws_send (struct conn *c, int op, const uint8_t *payload, size_t len)
{
  uint8_t frame[BUF_SIZE];
  size_t h = 0;

  if (len + 4 > sizeof frame)
    return -1;
  frame[h++] = (uint8_t) (0x80 | op);
  if (len < 126)
    frame[h++] = (uint8_t) len;
  else
    {
      frame[h++] = 126;
      put16 (frame + h, (uint16_t) len);
      h += 2;
    }
  memcpy (frame + h, payload, len);
  return send (c->fd, frame, h + len, MSG_NOSIGNAL) == (ssize_t) (h + len) ? 0 : -1;
}

/* Answers a DHCP message of type TYPE (1 or 3) from the BOOTP payload BP. */
static int
answer_dhcp (struct conn *c, const uint8_t *bp, int type)
{
  uint8_t msg[4 + 14 + 20 + 8 + 300];
  uint8_t *eth = msg + 4, *ip = eth + 14, *udp = ip + 20, *r = udp + 8, *o;

  memset (msg, 0, sizeof msg);
  msg[0] = 0xA2;
  msg[1] = 0x03;
  memcpy (eth, bp + 28, 6);
  memcpy (eth + 6, server_mac, 6);
  put16 (eth + 12, 0x0800);
  ip[0] = 0x45;
  put16 (ip + 2, 20 + 8 + 300);
  ip[8] = 64;
  ip[9] = 17;
  memcpy (ip + 12, server_ip, 4);
  memset (ip + 16, 0xff, 4);
  put16 (ip + 10, ip_checksum (ip, 20));
  put16 (udp, 67);
  put16 (udp + 2, 68);
  put16 (udp + 4, 8 + 300);
  r[0] = 2;
  r[1] = 1;
  r[2] = 6;
  memcpy (r + 4, bp + 4, 4);   /* xid */
  memcpy (r + 16, guest_ip, 4); /* yiaddr */
  memcpy (r + 20, server_ip, 4);
  memcpy (r + 28, bp + 28, 16); /* chaddr */
  o = r + 236;
  *o++ = 99, *o++ = 130, *o++ = 83, *o++ = 99;
  *o++ = 53, *o++ = 1, *o++ = (uint8_t) (type == 1 ? 2 : 5);
  *o++ = 54, *o++ = 4, memcpy (o, server_ip, 4), o += 4;
  *o++ = 51, *o++ = 4, *o++ = 0, *o++ = 1, *o++ = 0x51, *o++ = 0x80;
  *o++ = 1, *o++ = 4, *o++ = 255, *o++ = 255, *o++ = 255, *o++ = 0;
  *o++ = 3, *o++ = 4, memcpy (o, server_ip, 4), o += 4;
  *o++ = 255;
  return ws_send (c, 2, msg, sizeof msg);
}

/* One FRAME message's Ethernet frame. */
static int
on_frame (struct conn *c, const uint8_t *eth, size_t len)
{
  const uint8_t *ip, *udp, *bp, *o, *end = eth + len;
  size_t ihl;

  if (len < 14 + 20 || eth[12] != 0x08 || eth[13] != 0x00)
    return 0;
  ip = eth + 14;
  ihl = (size_t) (ip[0] & 0x0f) * 4;
  if (ip[9] != 17 || len < 14 + ihl + 8 + 240)
    return 0;
  udp = ip + ihl;
  bp = udp + 8;
  if (udp[3] != 67 || bp[0] != 1)
    return 0;
  for (o = bp + 240; o + 2 < end && *o != 255; o += (*o == 0) ? 1 : 2 + o[1])
    if (o[0] == 53 && o[1] == 1 && (o[2] == 1 || o[2] == 3))
      return answer_dhcp (c, bp, o[2]);
  return 0;
}

/* Whole masked frames out of the buffer; -1 to drop the connection. */
static int
parse_ws (struct conn *c)
{
  size_t off = 0;

  while (c->len - off >= 6)
    {
      uint8_t *p = c->buf + off;
      int op = p[0] & 0x0f;
      size_t plen = p[1] & 0x7f, h = 2;

      if (!(p[1] & 0x80) || plen == 127)
        return -1;
      if (plen == 126)
        {
          if (c->len - off < 8)
            break;
          plen = (size_t) (p[2] << 8 | p[3]);
          h = 4;
        }
      if (h + 4 + plen > BUF_SIZE)
        return -1;
      if (c->len - off < h + 4 + plen)
        break;
      for (size_t i = 0; i < plen; i++)
        p[h + 4 + i] ^= p[h + (i & 3)];
      if (op == 0x8)
        return -1;
      if (op == 0x9 && ws_send (c, 0xA, p + h + 4, plen) < 0)
        return -1;
      if (op == 0x2 && plen >= 4 && p[h + 4] == 0xA2 && p[h + 5] == 0x03
          && on_frame (c, p + h + 8, plen - 4) < 0)
        return -1;
      off += h + 4 + plen;
    }
  memmove (c->buf, c->buf + off, c->len - off);
  c->len -= off;
  return 0;
}

static int
upgrade (struct conn *c)
{
  uint8_t *end = memmem (c->buf, c->len, "\r\n\r\n", 4);
  char *key, *key_end, resp[512];
  size_t hlen;
  int n;

  if (end == NULL)
    return c->len == BUF_SIZE ? -1 : 0;
  *end = '\0';
  key = strcasestr ((char *) c->buf, "\r\nSec-WebSocket-Key:");
  if (strncmp ((char *) c->buf, "GET ", 4) != 0 || key == NULL)
    return -1;
  key += 20;
  while (*key == ' ')
    key++;
  key_end = strstr (key, "\r\n");
  if (key_end != NULL)
    *key_end = '\0';
  {
    GChecksum *sha1 = g_checksum_new (G_CHECKSUM_SHA1);
    guint8 digest[20];
    gsize dlen = sizeof digest;
    gchar *accept;

    g_checksum_update (sha1, (const guchar *) key, -1);
    g_checksum_update (sha1, (const guchar *) WS_GUID, -1);
    g_checksum_get_digest (sha1, digest, &dlen);
    g_checksum_free (sha1);
    accept = g_base64_encode (digest, dlen);
    n = snprintf (resp, sizeof resp,
                  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n"
                  "Sec-WebSocket-Protocol: aero-l2-tunnel-v1\r\n\r\n",
                  accept);
    g_free (accept);
  }
  if (send (c->fd, resp, (size_t) n, MSG_NOSIGNAL) != n)
    return -1;
  hlen = (size_t) (end - c->buf) + 4;
  memmove (c->buf, c->buf + hlen, c->len - hlen);
  c->len -= hlen;
  c->upgraded = 1;
  return parse_ws (c);
}

static void
on_readable (struct conn *c)
{
  ssize_t n = recv (c->fd, c->buf + c->len, BUF_SIZE - c->len, 0);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      drop (c);
      return;
    }
  c->len += (size_t) n;
  if ((c->upgraded ? parse_ws (c) : upgrade (c)) < 0)
    drop (c);
}

int
main (int argc, char **argv)
{
  struct sockaddr_in sa = { .sin_family = AF_INET };
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
  struct rlimit rl;
  int lfd, one = 1;

  if (argc != 2 || atoi (argv[1]) <= 0)
    {
      fprintf (stderr, "usage: wsfloor PORT\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);
  signal (SIGTERM, on_signal);
  signal (SIGINT, on_signal);
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max)
    {
      rl.rlim_cur = rl.rlim_max;
      setrlimit (RLIMIT_NOFILE, &rl);
    }
  sa.sin_port = htons ((uint16_t) atoi (argv[1]));
  inet_pton (AF_INET, "127.0.0.1", &sa.sin_addr);
  lfd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || bind (lfd, (struct sockaddr *) &sa, sizeof sa) < 0 || listen (lfd, 4096) < 0)
    {
      perror ("wsfloor: listen");
      return 1;
    }
  ep = epoll_create1 (EPOLL_CLOEXEC);
  epoll_ctl (ep, EPOLL_CTL_ADD, lfd, &ev);
  while (!stop)
    {
      int n = epoll_wait (ep, evs, 256, 1000);

      for (int i = 0; i < n; i++)
        {
          struct conn *c = evs[i].data.ptr;

          if (c != NULL)
            {
              on_readable (c);
              continue;
            }
          for (;;)
            {
              int fd = accept4 (lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
              struct epoll_event cev = { .events = EPOLLIN };

              if (fd < 0)
                break;
              setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
              c = calloc (1, sizeof *c);
              c->fd = fd;
              cev.data.ptr = c;
              epoll_ctl (ep, EPOLL_CTL_ADD, fd, &cev);
            }
        }
    }
  return 0;
}
