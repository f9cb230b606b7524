/* test-loop.c — unit tests of slirp-loop.c with a real libslirp on a private
 * GMainContext:
 *   - an idle Slirp (after start, and after a DHCP exchange) leaves the
 *     context with no timeout and nothing polled but the context's shared
 *     watch source (its epoll fd, with no fd in it): GLib would sleep;
 *   - a UDP flow to a loopback echo server, opened when libslirp's clock
 *     has not been read for long (it only advances when a loop polls): the
 *     reply reaches the guest, and while libslirp holds the UDP socket the
 *     epoll set holds it and the context has a timeout for its expiry;
 *   - destroying the loop from inside a dispatch (from libslirp's
 *     send_packet while it delivers that reply) frees everything once the
 *     dispatch returns, and closes the socket: nothing is left on the
 *     context, not even the shared watch source. */
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>
#include <dirent.h>

#include "packet.h"
#include "slirp-loop.h"

static const guint8 guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const guint8 gateway_mac[6] = { 0x52, 0x55, 0x0a, 0x00, 0x02, 0x02 };
static const guint8 guest_ip[4] = { 10, 0, 2, 15 };
static const guint8 gateway_ip[4] = { 10, 0, 2, 2 };

typedef struct
{
  GMainContext *context;
  GObject *owner;
  AeroSlirpLoop *loop;
  guint frames;            /* from libslirp to the guest */
  guint udp_replies;       /* UDP frames from the gateway's address */
  gboolean destroy_on_udp; /* destroy the loop in send_packet */
} Fixture;

/* ---- libslirp's callbacks ------------------------------------------------------ */

static ssize_t
send_packet_cb (const void *buf, size_t len, void *opaque)
{
  Fixture *f = opaque;
  AeroPacket pkt;

  f->frames++;
  if (aero_packet_parse (buf, len, &pkt) && pkt.ip_version == 4
      && pkt.protocol == AERO_IPPROTO_UDP && memcmp (pkt.src, gateway_ip, 4) == 0
      && pkt.sport != 67)
    {
      f->udp_replies++;
      if (f->destroy_on_udp)
        g_clear_pointer (&f->loop, aero_slirp_loop_destroy);
    }
  return (ssize_t) len;
}

static void
guest_error_cb (const char *msg, void *opaque)
{
  g_test_message ("guest error: %s", msg);
}

static int64_t
clock_get_ns_cb (void *opaque)
{
  return aero_slirp_loop_clock_ns ();
}

static void *
timer_new_opaque_cb (SlirpTimerId id, void *cb_opaque, void *opaque)
{
  Fixture *f = opaque;

  return aero_slirp_loop_timer_new (f->loop, id, cb_opaque);
}

static void
timer_free_cb (void *timer, void *opaque)
{
  aero_slirp_loop_timer_free (timer);
}

static void
timer_mod_cb (void *timer, int64_t expire_time, void *opaque)
{
  aero_slirp_loop_timer_mod (timer, expire_time);
}

static void
poll_fd_cb (int fd, void *opaque)
{
}

static void
notify_cb (void *opaque)
{
  Fixture *f = opaque;

  if (f->loop != NULL)
    aero_slirp_loop_notify (f->loop);
}

static const SlirpCb callbacks = {
  .send_packet = send_packet_cb,
  .guest_error = guest_error_cb,
  .clock_get_ns = clock_get_ns_cb,
  .timer_free = timer_free_cb,
  .timer_mod = timer_mod_cb,
  .register_poll_fd = poll_fd_cb,
  .unregister_poll_fd = poll_fd_cb,
  .notify = notify_cb,
  .timer_new_opaque = timer_new_opaque_cb,
};

/* ---- fixture ----------------------------------------------------------------------- */

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  SlirpConfig cfg = { 0 };
  Slirp *slirp;

  f->context = g_main_context_new ();
  g_main_context_push_thread_default (f->context);
  f->owner = g_object_new (G_TYPE_OBJECT, NULL);
  f->loop = aero_slirp_loop_new (f->context, f->owner);

  cfg.version = 4;
  cfg.in_enabled = true;
  inet_pton (AF_INET, "10.0.2.0", &cfg.vnetwork);
  inet_pton (AF_INET, "255.255.255.0", &cfg.vnetmask);
  inet_pton (AF_INET, "10.0.2.2", &cfg.vhost);
  inet_pton (AF_INET, "10.0.2.15", &cfg.vdhcp_start);
  inet_pton (AF_INET, "10.0.2.3", &cfg.vnameserver);
  cfg.if_mtu = 1500;
  cfg.if_mru = 1500;
  cfg.disable_host_loopback = false; /* the gateway is the host's loopback */
  cfg.disable_dns = true;
  slirp = slirp_new (&cfg, &callbacks, f);
  g_assert_nonnull (slirp);
  aero_slirp_loop_start (f->loop, slirp);
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->loop, aero_slirp_loop_destroy);
  g_assert_cmpint (f->owner->ref_count, ==, 1);
  g_object_unref (f->owner);
  while (g_main_context_iteration (f->context, FALSE))
    ;
  g_main_context_pop_thread_default (f->context);
  g_main_context_unref (f->context);
}

/* Runs what is ready now, without blocking. */
static void
drain (Fixture *f)
{
  for (int i = 0; i < 100 && g_main_context_iteration (f->context, FALSE); i++)
    ;
}

/* Iterates (blocking) until *COUNTER is at least WANT or 5 s have passed. */
static gboolean
tick_cb (gpointer data)
{
  return G_SOURCE_CONTINUE;
}

static void
run_until (Fixture *f, const guint *counter, guint want)
{
  GSource *timeout = g_timeout_source_new (100); /* so that the deadline is seen */
  gint64 deadline = g_get_monotonic_time () + 5 * G_USEC_PER_SEC;

  g_source_set_callback (timeout, tick_cb, NULL, NULL);
  g_source_attach (timeout, f->context);
  while (*counter < want && g_get_monotonic_time () < deadline)
    g_main_context_iteration (f->context, TRUE);
  g_source_destroy (timeout);
  g_source_unref (timeout);
  g_assert_cmpuint (*counter, >=, want);
}

/* What the context would poll now: the timeout it would pass to poll()
 * (-1: sleep until an fd is ready) and the number of descriptors, the
 * context's own wakeup fd included. Runs a full iteration by hand, without
 * the poll() (no descriptor is reported ready). */
static gint
context_timeout (Fixture *f, gint *n_fds)
{
  GPollFD fds[64];
  gint max_priority;
  gint timeout;
  gint n;

  g_assert_true (g_main_context_acquire (f->context));
  g_main_context_prepare (f->context, &max_priority);
  n = g_main_context_query (f->context, max_priority, &timeout, fds, G_N_ELEMENTS (fds));
  g_assert_cmpint (n, <=, (gint) G_N_ELEMENTS (fds));
  for (gint i = 0; i < n; i++)
    fds[i].revents = 0;
  if (g_main_context_check (f->context, max_priority, fds, n))
    g_main_context_dispatch (f->context);
  g_main_context_release (f->context);
  *n_fds = n;
  return timeout;
}

/* A frame from the guest, the way slirp-stack.c hands it over. */
static void
input (Fixture *f, GBytes *frame)
{
  Slirp *slirp = aero_slirp_loop_enter (f->loop);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  g_assert_nonnull (slirp);
  slirp_input (slirp, data, (int) len);
  aero_slirp_loop_notify (f->loop);
  aero_slirp_loop_leave (f->loop);
  g_bytes_unref (frame);
}

static GBytes *
gratuitous_arp (void)
{
  guint8 frame[42] = { 0 };

  memset (frame, 0xff, 6);
  memcpy (frame + 6, guest_mac, 6);
  frame[12] = 0x08, frame[13] = 0x06;
  frame[14] = 0, frame[15] = 1, frame[16] = 0x08, frame[17] = 0, frame[18] = 6, frame[19] = 4;
  frame[20] = 0, frame[21] = 1;
  memcpy (frame + 22, guest_mac, 6);
  memcpy (frame + 28, guest_ip, 4);
  memcpy (frame + 38, guest_ip, 4);
  return g_bytes_new (frame, sizeof frame);
}

static GBytes *
dhcp_discover (void)
{
  static const guint8 any[4] = { 0, 0, 0, 0 };
  static const guint8 all[4] = { 255, 255, 255, 255 };
  static const guint8 broadcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
  guint8 msg[300] = { 0 };

  msg[0] = 1, msg[1] = 1, msg[2] = 6;
  msg[4] = 0x12, msg[5] = 0x34, msg[6] = 0x56, msg[7] = 0x78;
  msg[10] = 0x80;
  memcpy (msg + 28, guest_mac, 6);
  msg[236] = 99, msg[237] = 130, msg[238] = 83, msg[239] = 99;
  msg[240] = 53, msg[241] = 1, msg[242] = 1; /* DISCOVER */
  msg[243] = 255;
  return aero_packet_build_udp (4, guest_mac, broadcast, any, all, 68, 67, msg, sizeof msg);
}

static guint
count_fds (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  guint n = 0;

  g_assert_nonnull (dir);
  while (readdir (dir) != NULL)
    n++;
  closedir (dir);
  return n;
}

/* The fds in this process's epoll sets (the shared watch source's), from
 * /proc/self/fdinfo; -1 when there is no epoll fd at all. */
static gint
epoll_watched (void)
{
  DIR *dir = opendir ("/proc/self/fd");
  struct dirent *d;
  gint n = -1;

  g_assert_nonnull (dir);
  while ((d = readdir (dir)) != NULL)
    {
      g_autofree char *link = g_strdup_printf ("/proc/self/fd/%s", d->d_name);
      g_autofree char *target = g_file_read_link (link, NULL);
      g_autofree char *info = NULL;
      g_autofree char *info_path = NULL;

      if (target == NULL || strstr (target, "eventpoll") == NULL)
        continue;
      info_path = g_strdup_printf ("/proc/self/fdinfo/%s", d->d_name);
      g_assert_true (g_file_get_contents (info_path, &info, NULL, NULL));
      n = MAX (n, 0);
      for (const char *p = info; (p = strstr (p, "tfd:")) != NULL; p++)
        n++;
    }
  closedir (dir);
  return n;
}

/* A UDP socket on the host's loopback; returns its port. */
static int
echo_server (guint16 *port)
{
  struct sockaddr_in addr = { .sin_family = AF_INET };
  socklen_t len = sizeof addr;
  int s = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (s, >=, 0);
  addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  g_assert_cmpint (bind (s, (struct sockaddr *) &addr, sizeof addr), ==, 0);
  g_assert_cmpint (getsockname (s, (struct sockaddr *) &addr, &len), ==, 0);
  *port = ntohs (addr.sin_port);
  return s;
}

/* Sends a datagram from the guest to the gateway (the host's loopback) at
 * PORT and echoes it from the server once libslirp has sent it. */
static void
udp_round_trip (Fixture *f, int server, guint16 port)
{
  struct pollfd pfd = { .fd = server, .events = POLLIN };
  struct sockaddr_in from;
  socklen_t from_len = sizeof from;
  char buf[64];
  ssize_t n;

  input (f, gratuitous_arp ());
  input (f, aero_packet_build_udp (4, guest_mac, gateway_mac, guest_ip, gateway_ip, 40000, port,
                                   (const guint8 *) "ping", 4));
  drain (f);
  g_assert_cmpint (poll (&pfd, 1, 5000), ==, 1);
  n = recvfrom (server, buf, sizeof buf, 0, (struct sockaddr *) &from, &from_len);
  g_assert_cmpint (n, ==, 4);
  g_assert_cmpint (sendto (server, buf, (size_t) n, 0, (struct sockaddr *) &from, from_len), ==,
                   n);
}

/* ---- tests --------------------------------------------------------------------------- */

static void
test_idle (Fixture *f, gconstpointer data)
{
  gint n_fds;

  drain (f);
  g_assert_cmpint (context_timeout (f, &n_fds), ==, -1);
  g_assert_cmpint (n_fds, ==, 2); /* the context's wakeup fd, the epoll fd */
  g_assert_cmpint (epoll_watched (), ==, 0);

  input (f, dhcp_discover ());
  g_assert_cmpuint (f->frames, ==, 1); /* the OFFER, sent from slirp_input() */
  drain (f);
  g_assert_cmpint (context_timeout (f, &n_fds), ==, -1);
  g_assert_cmpint (n_fds, ==, 2);
  g_assert_cmpint (epoll_watched (), ==, 0);
}

static void
test_udp (Fixture *f, gconstpointer data)
{
  guint16 port;
  int server = echo_server (&port);
  gint timeout;
  gint n_fds;

  udp_round_trip (f, server, port);
  run_until (f, &f->udp_replies, 1);

  /* libslirp keeps the flow's socket: polled, and a timeout for its
   * expiry (libslirp's slow timer, 499 ms). */
  timeout = context_timeout (f, &n_fds);
  g_assert_cmpint (n_fds, ==, 2);
  g_assert_cmpint (epoll_watched (), ==, 1);
  g_assert_cmpint (timeout, >=, 0);
  g_assert_cmpint (timeout, <=, 500);
  close (server);
}

static void
test_destroy_in_dispatch (Fixture *f, gconstpointer data)
{
  guint16 port;
  int server = echo_server (&port);
  guint before = count_fds ();
  gint n_fds;

  f->destroy_on_udp = TRUE;
  udp_round_trip (f, server, port);
  g_assert_cmpuint (count_fds (), ==, before + 1); /* libslirp's socket */
  run_until (f, &f->udp_replies, 1);
  g_assert_null (f->loop);
  /* Freed when the dispatch returned: the socket is closed, and nothing of
   * the loop is left on the context (the shared watch source, whose epoll
   * fd was open before the flow, went with the loop's last watch). */
  g_assert_cmpint (epoll_watched (), ==, -1);
  g_assert_cmpuint (count_fds (), ==, before - 1);
  g_assert_cmpint (f->owner->ref_count, ==, 1);
  g_assert_cmpint (context_timeout (f, &n_fds), ==, -1);
  g_assert_cmpint (n_fds, ==, 1);
  g_assert_cmpint (epoll_watched (), ==, -1);
  close (server);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* First: libslirp's clock has never been read in this process yet, as
   * after a long quiet spell of the daemon. */
  g_test_add ("/stack-slirp/loop/udp", Fixture, NULL, fixture_setup, test_udp, fixture_teardown);
  g_test_add ("/stack-slirp/loop/idle", Fixture, NULL, fixture_setup, test_idle,
              fixture_teardown);
  g_test_add ("/stack-slirp/loop/destroy-in-dispatch", Fixture, NULL, fixture_setup,
              test_destroy_in_dispatch, fixture_teardown);
  return g_test_run ();
}
