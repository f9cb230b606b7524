/* test-webrtc-hostile.c — clients that do what a browser would not: UDP
 * relay traffic without a tunnel, more remotes than a binding keeps, quota
 * spent while the tunnel closes, offers with odd m-line sets, PINGs from a
 * client that never reads. Every case runs a real aero-netd on loopback
 * (see rtc-test-harness.h). */
#include <string.h>

#include <json-glib/json-glib.h>

#include "rtc-test-harness.h"

#define M(name) "aero_webrtc_" name "{instance=\"rtc\"}"
#define UDP_DROPPED(reason) "aero_webrtc_udp_dropped_total{instance=\"rtc\",reason=\"" reason "\"}"
#define UDP_FROM_GUEST "aero_webrtc_udp_datagrams_total{instance=\"rtc\",direction=\"from_guest\"}"
#define QUOTA_CLOSES "aero_policy_quota_closes_total{instance=\"egress\",kind=\"bytes_up\"}"

/* A v1 relay message from @guest_port to 127.0.0.1:@remote_port with @len
 * zero bytes of payload. */
static GBytes *
relay_v1_to (guint16 guest_port, guint16 remote_port, gsize len)
{
  guint8 *buf = g_malloc0 (8 + len);

  buf[0] = guest_port >> 8;
  buf[1] = guest_port & 0xff;
  buf[2] = 127;
  buf[5] = 1;
  buf[6] = remote_port >> 8;
  buf[7] = remote_port & 0xff;
  return g_bytes_new_take (buf, 8 + len);
}

static guint
count_lines_with (const char *text, const char *needle)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  guint n = 0;

  for (guint i = 0; lines[i]; i++)
    if (strstr (lines[i], needle))
      n++;
  return n;
}

/* udp-relay = policy and a peer with only a `udp` channel: no l2 session,
 * so every datagram is dropped as no_session — and none may cost a host
 * socket, or one peer could hold udp-max-bindings sockets for nothing. */
static void
test_udp_no_session_no_socket (void)
{
  TestDaemon *d;
  TestClient *c;
  GstWebRTCDataChannel *udp;

  if (!test_have_plugin ("policy"))
    {
      g_test_skip ("the policy plugin is not built");
      return;
    }
  d = test_daemon_start ("filters = egress\n", "[egress]\nplugin = policy\nmode = open\n");
  c = test_client_new ();
  udp = test_client_channel (c, "udp", FALSE, 0, -1);
  g_assert_cmpuint (test_client_post_offer (c, d, NULL), ==, 200);
  g_assert_true (test_client_wait_open (c, udp, TEST_TIMEOUT_S));
  for (guint i = 0; i < 64; i++)
    {
      g_autoptr (GBytes) m = relay_v1_to (10000 + i, 9, 4);

      g_assert_true (test_client_send (c, udp, m));
    }
  g_assert_true (test_daemon_wait_metric (d, UDP_DROPPED ("no_session"), 64, TEST_TIMEOUT_S));
  g_assert_cmpfloat (test_daemon_metric (d, M ("udp_bindings_active")), ==, 0);
  g_assert_cmpfloat (test_daemon_metric (d, UDP_FROM_GUEST), ==, 0);
  test_client_free (c);
  test_daemon_stop (d);
}

/* udp-max-remotes = 2 and five remotes from one guest port: all five go
 * out, three remotes are forgotten, each counted, and the log says so once
 * (the line is rate-limited). */
static void
test_udp_remote_eviction_counted (void)
{
  TestDaemon *d = test_daemon_start ("udp-relay = open\nudp-max-remotes = 2\n", NULL);
  TestClient *c = test_client_new ();
  GstWebRTCDataChannel *l2 = test_client_channel (c, "l2", TRUE, -1, -1);
  GstWebRTCDataChannel *udp = test_client_channel (c, "udp", FALSE, 0, -1);
  g_autofree char *log = NULL;

  g_assert_cmpuint (test_client_post_offer (c, d, NULL), ==, 200);
  g_assert_true (test_client_wait_open (c, l2, TEST_TIMEOUT_S));
  g_assert_true (test_client_wait_open (c, udp, TEST_TIMEOUT_S));
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (GBytes) m = relay_v1_to (5000, 20000 + i, 4);

      g_assert_true (test_client_send (c, udp, m));
    }
  g_assert_true (test_daemon_wait_metric (d, UDP_FROM_GUEST, 5, TEST_TIMEOUT_S));
  g_assert_cmpfloat (test_daemon_metric (d, UDP_DROPPED ("remote_limit")), ==, 3);
  g_assert_cmpfloat (test_daemon_metric (d, M ("udp_bindings_active")), ==, 1);
  log = test_daemon_log (d);
  g_assert_cmpuint (count_lines_with (log, "udp-max-remotes"), ==, 1);
  test_client_free (c);
  test_daemon_stop (d);
}

/* bytes-quota-up = 100 and 500-byte datagrams sent right after the client
 * closed its l2 channel: the quota close meets an l2 channel that is
 * already closing, which ends the tunnel, the peer and its udp channel at
 * once. The relay must not touch itself afterwards (AddressSanitizer, and
 * G_SLICE=always-malloc, see a use after free); the timing varies per
 * attempt to hit the window. */
static void
test_udp_quota_close_while_l2_closes (void)
{
  TestDaemon *d;
  double before;
  gboolean closed;

  if (!test_have_plugin ("policy"))
    {
      g_test_skip ("the policy plugin is not built");
      return;
    }
  /* A peer whose race was lost (its datagrams never came) idles out in
   * 2 s, not the default 60. */
  d = test_daemon_start ("filters = egress\nidle-timeout = 2s\n",
                         "[egress]\nplugin = policy\nmode = open\nbytes-quota-up = 100\n");
  for (guint attempt = 0; attempt < 20; attempt++)
    {
      TestClient *c = test_client_new ();
      GstWebRTCDataChannel *l2 = test_client_channel (c, "l2", TRUE, -1, -1);
      GstWebRTCDataChannel *udp = test_client_channel (c, "udp", FALSE, 0, -1);
      g_autoptr (GBytes) big = relay_v1_to (5000, 9, 500);
      g_autoptr (GBytes) big2 = relay_v1_to (30000 + attempt, 9, 500);

      g_assert_cmpuint (test_client_post_offer (c, d, NULL), ==, 200);
      g_assert_true (test_client_wait_open (c, l2, TEST_TIMEOUT_S));
      g_assert_true (test_client_wait_open (c, udp, TEST_TIMEOUT_S));
      gst_webrtc_data_channel_close (l2);
      g_usleep (attempt * 200);
      /* The channel may already be closing under the client. */
      test_client_send (c, udp, big);
      test_client_send (c, udp, big2);
      g_usleep (200 * 1000);
      test_client_free (c);
      if (test_http (d, "GET", "/readyz", NULL, NULL, NULL, NULL) != 200)
        {
          g_autofree char *log = test_daemon_log (d);

          g_printerr ("aero-netd stopped answering (attempt %u):\n%s\n", attempt, log);
          g_assert_not_reached ();
        }
    }
  /* The quota is spent (else this tested nothing): the racing attempts
   * above may all have lost the race, so one more with l2 left open, which
   * must end in a quota close of its own. The client stays until its peer
   * has gone: torn down earlier, before its datagram arrived, it would
   * leave the peer to idle-timeout. Then every peer went away. */
  {
    TestClient *c = test_client_new ();
    GstWebRTCDataChannel *l2 = test_client_channel (c, "l2", TRUE, -1, -1);
    GstWebRTCDataChannel *udp = test_client_channel (c, "udp", FALSE, 0, -1);
    g_autoptr (GBytes) big = relay_v1_to (5001, 9, 500);

    g_assert_cmpuint (test_client_post_offer (c, d, NULL), ==, 200);
    g_assert_true (test_client_wait_open (c, l2, TEST_TIMEOUT_S));
    g_assert_true (test_client_wait_open (c, udp, TEST_TIMEOUT_S));
    before = MAX (test_daemon_metric (d, QUOTA_CLOSES), 0);
    test_client_send (c, udp, big);
    closed = test_daemon_wait_metric (d, QUOTA_CLOSES, before + 1, TEST_TIMEOUT_S);
    test_client_free (c);
  }
  g_assert_true (closed);
  g_assert_true (test_daemon_wait_metric (d, M ("peers_active"), 0, TEST_TIMEOUT_S));
  g_assert_true (test_daemon_wait_metric (d, M ("udp_bindings_active"), 0, TEST_TIMEOUT_S));
  test_daemon_stop (d);
}

/* A client that sends PINGs and never reads: its SACKs advertise a zero
 * window, so nothing the daemon sends it leaves the daemon's SCTP stack.
 * Once that is full, PONGs pile up in the DataChannel's buffered amount:
 * they must stay within send-queue like frames, the rest dropped, counted
 * (queue_full) and logged, and backpressure-limit such drops close the
 * channel. 4 KiB PINGs get there in a few hundred messages. */
static void
test_ping_flood_without_reading (void)
{
  TestDaemon *d = test_daemon_start ("send-queue = 16KiB\nmax-control-payload = 4096\n"
                                     "backpressure-limit = 64\n", NULL);
  TestClient *c = test_client_new ();
  GstWebRTCDataChannel *l2 = test_client_channel (c, "l2", TRUE, -1, -1);
  g_autofree guint8 *payload = g_malloc0 (4096);
  g_autoptr (GBytes) ping = test_tunnel (0x01, payload, 4096);
  g_autofree char *log = NULL;
  double backlog, most = 0, answered, received;

  g_assert_cmpuint (test_client_post_offer (c, d, NULL), ==, 200);
  g_assert_true (test_client_wait_open (c, l2, TEST_TIMEOUT_S));
  test_client_stop_reading (c);
  for (guint batch = 0; batch < 40; batch++)
    {
      for (guint i = 0; i < 20; i++)
        test_client_send (c, l2, ping);
      g_usleep (50 * 1000);
      backlog = test_daemon_metric (d, M ("send_backlog_bytes"));
      most = MAX (most, backlog);
      if (test_daemon_metric (d, M ("backpressure_closes_total")) >= 1)
        break;
    }
  g_test_message ("largest backlog seen: %g bytes", most);
  g_assert_cmpfloat (most, <=, 16 * 1024);
  g_assert_true (test_daemon_wait_metric (d, M ("backpressure_closes_total"), 1, TEST_TIMEOUT_S));
  g_assert_cmpfloat (test_daemon_metric (d, "aero_webrtc_tx_dropped_total{instance=\"rtc\","
                                            "reason=\"queue_full\"}"), >=, 65);
  answered = test_daemon_metric (d, M ("pings_answered_total"));
  received = test_daemon_metric (d, "aero_webrtc_rx_messages_total{instance=\"rtc\",label=\"l2\"}");
  g_assert_cmpfloat (answered, >, 0);
  g_assert_cmpfloat (answered, <, received);
  g_assert_true (test_daemon_wait_metric (d, "aero_sessions_active", 0, TEST_TIMEOUT_S));
  g_assert_true (test_daemon_wait_metric (d, M ("peers_active"), 0, TEST_TIMEOUT_S));
  log = test_daemon_log (d);
  g_assert_nonnull (strstr (log, "PONGs dropped"));
  g_assert_cmpuint (count_lines_with (log, "PONGs dropped"), ==, 1);
  test_client_free (c);
  test_daemon_stop (d);
}

/* Offers a browser could never make but a script can: the application
 * section twice, and hundreds of extra m-lines. Each gets an answer or a
 * refusal (400, or 500 when webrtcbin gives up), and no peer outlives
 * connect-timeout. */
static void
test_sdp_odd_offers (void)
{
  TestDaemon *d = test_daemon_start ("connect-timeout = 2s\n", NULL);
  TestClient *c = test_client_new ();
  g_autofree char *offer = NULL;
  const char *m;
  g_autoptr (GString) twice = NULL;
  g_autoptr (GString) many = NULL;
  guint st;

  test_client_channel (c, "l2", TRUE, -1, -1);
  offer = test_client_offer (c, TRUE);
  m = strstr (offer, "m=application");
  g_assert_nonnull (m);
  twice = g_string_new (offer);
  g_string_append (twice, m);
  st = test_post_offer_sdp (d, twice->str, NULL);
  g_test_message ("two application sections: %u", st);
  g_assert_true (st == 200 || st == 400 || st == 500);
  many = g_string_new (offer);
  for (guint i = 0; many->len < 45000; i++)
    g_string_append_printf (many, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
                            "a=mid:x%u\r\na=rtpmap:111 OPUS/48000/2\r\na=recvonly\r\n", i);
  st = test_post_offer_sdp (d, many->str, NULL);
  g_test_message ("many m-lines: %u", st);
  g_assert_true (st == 200 || st == 400 || st == 500);
  g_assert_cmpuint (test_http (d, "GET", "/readyz", NULL, NULL, NULL, NULL), ==, 200);
  g_assert_true (test_daemon_wait_metric (d, M ("peers_active"), 0, TEST_TIMEOUT_S));
  test_client_free (c);
  test_daemon_stop (d);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  if (g_getenv ("AERO_NETD") == NULL)
    {
      g_printerr ("AERO_NETD is not set\n");
      return 77;
    }
  g_test_add_func ("/webrtc-hostile/udp-no-session-no-socket", test_udp_no_session_no_socket);
  g_test_add_func ("/webrtc-hostile/udp-remote-eviction-counted", test_udp_remote_eviction_counted);
  g_test_add_func ("/webrtc-hostile/udp-quota-close-while-l2-closes",
                   test_udp_quota_close_while_l2_closes);
  g_test_add_func ("/webrtc-hostile/sdp-odd-offers", test_sdp_odd_offers);
  g_test_add_func ("/webrtc-hostile/ping-flood-without-reading",
                   test_ping_flood_without_reading);
  return g_test_run ();
}
