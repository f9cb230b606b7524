/* rr.c — TCP request/response round trips for bench/run.
 *
 *   rr server ADDRESS PORT [SIZE]
 *       Echoes SIZE-byte messages (default 64) on every connection, one
 *       connection at a time, until killed.
 *   rr client ADDRESS PORT COUNT [SIZE [WARMUP [TIMEOUT_S]]]
 *       Connects, sends WARMUP untimed round trips (default 1000), then
 *       COUNT timed ones, each a SIZE-byte request answered by a SIZE-byte
 *       response, strictly sequential. Prints one JSON object: count, p50,
 *       p90, p99, mean, min, max in microseconds. The whole run is bounded
 *       by TIMEOUT_S seconds (default 60): past it, the client exits 3.
 *   rr relay ADDRESS PORT TARGET_ADDRESS TARGET_PORT
 *       Accepts one connection at a time and relays it, both ways, to a new
 *       connection to the target, until killed: the least one more process
 *       and one more TCP hop can add to a path (a floor for tunnels).
 *
 * Both ends set TCP_NODELAY. Times come from CLOCK_MONOTONIC around each
 * write+read pair. Exit status: 0 ok, 1 I/O error, 2 usage, 3 timeout. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIZE 65536

static int
parse_addr (const char *host, const char *port, struct sockaddr_in *sa)
{
  memset (sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons ((unsigned short) atoi (port));
  return inet_pton (AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int
full_io (int fd, char *buf, size_t len, int writing)
{
  size_t done = 0;

  while (done < len)
    {
      ssize_t n = writing ? write (fd, buf + done, len - done) : read (fd, buf + done, len - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return -1;
      done += (size_t) n;
    }
  return 0;
}

static void
nodelay (int fd)
{
  int one = 1;

  setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* A listening socket on SA (SIGPIPE ignored from now on); -1 with a
 * message on failure. */
static int
listen_on (const struct sockaddr_in *sa, const char *who)
{
  int one = 1, lfd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

  setsockopt (lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind (lfd, (const struct sockaddr *) sa, sizeof *sa) < 0 || listen (lfd, 16) < 0)
    {
      fprintf (stderr, "rr %s: bind/listen: %s\n", who, strerror (errno));
      return -1;
    }
  signal (SIGPIPE, SIG_IGN);
  return lfd;
}

static int
server (const char *host, const char *port, size_t size)
{
  struct sockaddr_in sa;
  int lfd;
  static char buf[MAX_SIZE];

  if (parse_addr (host, port, &sa) < 0)
    return 2;
  if ((lfd = listen_on (&sa, "server")) < 0)
    return 1;
  for (;;)
    {
      int fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);

      if (fd < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("rr server: accept");
          return 1;
        }
      nodelay (fd);
      while (full_io (fd, buf, size, 0) == 0 && full_io (fd, buf, size, 1) == 0)
        ;
      close (fd);
    }
}

/* Copies what is readable on FROM to TO; -1 at the end or on error. */
static int
forward (int from, int to)
{
  static char buf[MAX_SIZE];
  ssize_t n = read (from, buf, sizeof buf);

  if (n < 0 && errno == EINTR)
    return 0;
  if (n <= 0)
    return -1;
  return full_io (to, buf, (size_t) n, 1);
}

static int
relay (const char *host, const char *port, const char *thost, const char *tport)
{
  struct sockaddr_in sa, ta;
  int lfd;

  if (parse_addr (host, port, &sa) < 0 || parse_addr (thost, tport, &ta) < 0)
    return 2;
  if ((lfd = listen_on (&sa, "relay")) < 0)
    return 1;
  for (;;)
    {
      int fd = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC), out;

      if (fd < 0)
        {
          if (errno == EINTR)
            continue;
          perror ("rr relay: accept");
          return 1;
        }
      out = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (connect (out, (struct sockaddr *) &ta, sizeof ta) < 0)
        {
          perror ("rr relay: connect");
          close (fd);
          close (out);
          continue;
        }
      nodelay (fd);
      nodelay (out);
      for (;;)
        {
          struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = out, .events = POLLIN } };

          if (poll (p, 2, -1) < 0)
            {
              if (errno == EINTR)
                continue;
              break;
            }
          if ((p[0].revents && forward (fd, out) < 0) || (p[1].revents && forward (out, fd) < 0))
            break;
        }
      close (fd);
      close (out);
    }
}

static int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static double
pct (const double *v, long n, double p)
{
  long i = (long) (p / 100.0 * (double) (n - 1) + 0.5);

  return v[i < n ? i : n - 1];
}

static void
on_alarm (int sig)
{
  static const char msg[] = "rr client: timed out\n";

  (void) sig;
  (void) !write (2, msg, sizeof msg - 1);
  _exit (3);
}

static int
client (const char *host, const char *port, long count, size_t size, long warmup, int timeout_s)
{
  struct sockaddr_in sa;
  struct timespec t0, t1;
  static char buf[MAX_SIZE];
  double *v, sum = 0;
  int fd;

  if (parse_addr (host, port, &sa) < 0 || count < 1)
    return 2;
  signal (SIGALRM, on_alarm);
  alarm ((unsigned) timeout_s);
  v = calloc ((size_t) count, sizeof *v);
  fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (connect (fd, (struct sockaddr *) &sa, sizeof sa) < 0)
    {
      perror ("rr client: connect");
      return 1;
    }
  nodelay (fd);
  memset (buf, 'x', size);
  for (long i = 0; i < warmup + count; i++)
    {
      clock_gettime (CLOCK_MONOTONIC, &t0);
      if (full_io (fd, buf, size, 1) < 0 || full_io (fd, buf, size, 0) < 0)
        {
          fprintf (stderr, "rr client: I/O error after %ld round trips: %s\n", i, strerror (errno));
          return 1;
        }
      clock_gettime (CLOCK_MONOTONIC, &t1);
      if (i >= warmup)
        {
          double us = (double) (t1.tv_sec - t0.tv_sec) * 1e6 + (double) (t1.tv_nsec - t0.tv_nsec) / 1e3;

          v[i - warmup] = us;
          sum += us;
        }
    }
  close (fd);
  qsort (v, (size_t) count, sizeof *v, cmp_double);
  printf ("{\"count\": %ld, \"size\": %zu, \"p50_us\": %.2f, \"p90_us\": %.2f, \"p99_us\": %.2f, "
          "\"mean_us\": %.2f, \"min_us\": %.2f, \"max_us\": %.2f}\n",
          count, size, pct (v, count, 50), pct (v, count, 90), pct (v, count, 99), sum / (double) count,
          v[0], v[count - 1]);
  free (v);
  return 0;
}

int
main (int argc, char **argv)
{
  size_t size = 64;

  if (argc >= 4 && strcmp (argv[1], "server") == 0)
    {
      if (argc >= 5)
        size = (size_t) atol (argv[4]);
      if (size < 1 || size > MAX_SIZE)
        return 2;
      return server (argv[2], argv[3], size);
    }
  if (argc >= 5 && strcmp (argv[1], "client") == 0)
    {
      long warmup = argc >= 7 ? atol (argv[6]) : 1000;
      int timeout_s = argc >= 8 ? atoi (argv[7]) : 60;

      if (argc >= 6)
        size = (size_t) atol (argv[5]);
      if (size < 1 || size > MAX_SIZE || timeout_s < 1)
        return 2;
      return client (argv[2], argv[3], atol (argv[4]), size, warmup, timeout_s);
    }
  if (argc == 6 && strcmp (argv[1], "relay") == 0)
    return relay (argv[2], argv[3], argv[4], argv[5]);
  fprintf (stderr, "usage: rr server ADDRESS PORT [SIZE]\n"
                   "       rr client ADDRESS PORT COUNT [SIZE [WARMUP [TIMEOUT_S]]]\n"
                   "       rr relay ADDRESS PORT TARGET_ADDRESS TARGET_PORT\n");
  return 2;
}
