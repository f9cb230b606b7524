/* rtc-test-harness.c — aero-netd under test, HTTP, the webrtcbin client and
 * test frames (see the header). */
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <gst/webrtc/nice/nice.h>
#include <nice/agent.h>

#include "rtc-test-harness.h"

/* ---- the daemon ---------------------------------------------------------------- */

static guint16
free_port (void)
{
  g_autoptr (GSocket) s = g_socket_new (G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM,
                                        G_SOCKET_PROTOCOL_TCP, NULL);
  g_autoptr (GInetAddress) lo = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr (GSocketAddress) addr = g_inet_socket_address_new (lo, 0);
  g_autoptr (GSocketAddress) bound = NULL;

  g_assert_true (g_socket_bind (s, addr, FALSE, NULL));
  bound = g_socket_get_local_address (s, NULL);
  return g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
}

guint
test_http (TestDaemon *d, const char *method, const char *path, const char *content_type,
           const char *body, char **response, SoupMessageHeaders **headers)
{
  g_autoptr (SoupSession) session = soup_session_new_with_options ("timeout", TEST_TIMEOUT_S, NULL);
  g_autofree char *url = g_strconcat (d->base, path, NULL);
  g_autoptr (SoupMessage) msg = soup_message_new (method, url);
  g_autoptr (GBytes) reply = NULL;
  g_autoptr (GError) error = NULL;

  if (body)
    {
      g_autoptr (GBytes) b = g_bytes_new (body, strlen (body));

      soup_message_set_request_body_from_bytes (msg, content_type, b);
    }
  reply = soup_session_send_and_read (session, msg, NULL, &error);
  if (reply == NULL)
    return 0;
  if (response)
    *response = g_strndup (g_bytes_get_data (reply, NULL), g_bytes_get_size (reply));
  if (headers)
    *headers = soup_message_headers_ref (soup_message_get_response_headers (msg));
  return soup_message_get_status (msg);
}

/* In the daemon, before exec: it dies with the test, even when an
 * assertion aborts the test. */
static void
child_setup (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

TestDaemon *
test_daemon_start (const char *webrtc_keys, const char *extra_groups)
{
  TestDaemon *d = g_new0 (TestDaemon, 1);
  const char *netd = g_getenv ("AERO_NETD");
  g_autoptr (GSubprocessLauncher) launcher = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gint64 deadline;

  g_assert_nonnull (netd);
  d->dir = g_dir_make_tmp ("rtc-test-XXXXXX", NULL);
  d->port = free_port ();
  d->base = g_strdup_printf ("http://127.0.0.1:%u", d->port);
  d->config = g_build_filename (d->dir, "aero.ini", NULL);
  d->log = g_build_filename (d->dir, "aero-netd.log", NULL);
  text = g_strdup_printf ("[core]\nshutdown-timeout = 3s\n\n[http]\nlisten = 127.0.0.1:%u\n\n"
                          "[log]\nlevel = debug\n\n%s\n[lan]\nplugin = stack-slirp\n\n"
                          "[rtc]\nplugin = transport-webrtc\nstack = lan\n%s\n",
                          d->port, extra_groups && strstr (extra_groups, "[admission]")
                                     ? "" : "[admission]\nopen = true\n",
                          webrtc_keys ? webrtc_keys : "");
  if (extra_groups)
    {
      g_autofree char *all = g_strconcat (text, "\n", extra_groups, "\n", NULL);

      g_free (text);
      text = g_steal_pointer (&all);
    }
  g_assert_true (g_file_set_contents (d->config, text, -1, NULL));

  launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDIN_INHERIT);
  g_subprocess_launcher_set_stdout_file_path (launcher, d->log);
  g_subprocess_launcher_set_stderr_file_path (launcher, d->log);
  g_subprocess_launcher_setenv (launcher, "LC_ALL", "C.UTF-8", TRUE);
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  d->process = g_subprocess_launcher_spawn (launcher, &error, netd, "--config", d->config, NULL);
  g_assert_no_error (error);

  deadline = g_get_monotonic_time () + TEST_TIMEOUT_S * G_USEC_PER_SEC;
  while (g_get_monotonic_time () < deadline)
    {
      if (g_subprocess_get_identifier (d->process) == NULL)
        break;
      if (test_http (d, "GET", "/readyz", NULL, NULL, NULL, NULL) == 200)
        return d;
      g_usleep (50 * 1000);
    }
  {
    g_autofree char *log = test_daemon_log (d);

    g_printerr ("aero-netd did not get ready:\n%s\n", log);
  }
  g_assert_not_reached ();
  return NULL;
}

char *
test_daemon_log (TestDaemon *d)
{
  char *text = NULL;

  g_file_get_contents (d->log, &text, NULL, NULL);
  return text ? text : g_strdup ("");
}

void
test_daemon_stop (TestDaemon *d)
{
  gint64 deadline;
  g_autofree char *log = NULL;

  if (d == NULL)
    return;
  g_subprocess_send_signal (d->process, SIGTERM);
  deadline = g_get_monotonic_time () + TEST_TIMEOUT_S * G_USEC_PER_SEC;
  /* The identifier goes away once GLib has reaped the process. */
  while (g_get_monotonic_time () < deadline && g_subprocess_get_identifier (d->process) != NULL)
    g_usleep (20 * 1000);
  if (g_subprocess_get_identifier (d->process) != NULL)
    {
      g_subprocess_force_exit (d->process);
      g_subprocess_wait (d->process, NULL, NULL);
      g_printerr ("aero-netd did not stop after SIGTERM\n");
    }
  log = test_daemon_log (d);
  if (g_getenv ("RTC_TEST_VERBOSE"))
    g_printerr ("%s\n", log);
  /* A GLib critical or a crash in the daemon is a failure of the test. */
  if (strstr (log, "CRITICAL") || strstr (log, "ERROR **") || strstr (log, "AddressSanitizer") ||
      strstr (log, "runtime error:"))
    {
      g_printerr ("aero-netd log:\n%s\n", log);
      g_assert_not_reached ();
    }
  g_assert_true (g_subprocess_get_if_exited (d->process));
  g_assert_cmpint (g_subprocess_get_exit_status (d->process), ==, 0);
  g_object_unref (d->process);
  g_unlink (d->config);
  g_unlink (d->log);
  g_rmdir (d->dir);
  g_free (d->dir);
  g_free (d->config);
  g_free (d->log);
  g_free (d->base);
  g_free (d);
}

/* The value of one series, written as in the exposition format
 * (`name{label="v",…}`), or -1 when absent. */
double
test_daemon_metric (TestDaemon *d, const char *series)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;

  if (test_http (d, "GET", "/metrics", NULL, NULL, &text, NULL) != 200)
    return -1;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i]; i++)
    if (g_str_has_prefix (lines[i], series) && lines[i][strlen (series)] == ' ')
      return g_ascii_strtod (lines[i] + strlen (series) + 1, NULL);
  return -1;
}

static gboolean
wait_metric (TestDaemon *d, const char *series, double value, guint timeout_s, gboolean spin)
{
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;
  double last = -1;

  while (g_get_monotonic_time () < deadline)
    {
      last = test_daemon_metric (d, series);
      if (last == value)
        return TRUE;
      if (!spin)
        g_usleep (50 * 1000);
      else
        for (guint i = 0; i < 10; i++)
          g_main_context_iteration (NULL, FALSE) || (g_usleep (5000), TRUE);
    }
  g_printerr ("%s is %g, expected %g\n", series, last, value);
  return FALSE;
}

gboolean
test_daemon_wait_metric (TestDaemon *d, const char *series, double value, guint timeout_s)
{
  return wait_metric (d, series, value, timeout_s, FALSE);
}

/* The same, iterating the test's main context meanwhile (so that its
 * WebSockets answer the daemon's close frames). */
gboolean
test_daemon_wait_metric_spinning (TestDaemon *d, const char *series, double value,
                                  guint timeout_s)
{
  return wait_metric (d, series, value, timeout_s, TRUE);
}

/* ---- the webrtcbin client ------------------------------------------------------- */

typedef struct {
  GstWebRTCDataChannel *dc;
  GAsyncQueue *messages;        /* GBytes* */
  gint open;                    /* atomic */
  gint closed;                  /* atomic */
} ChannelState;

struct _TestClient
{
  GstElement *pipeline;
  GstElement *webrtc;
  GPtrArray *channels;          /* ChannelState* */
  GMutex lock;
  void (*candidate_func) (guint mline, const char *candidate, gpointer data);
  gpointer candidate_data;
  gboolean ignore_max_message_size;
};

static void
channel_state_free (ChannelState *s)
{
  g_async_queue_unref (s->messages);
  g_object_unref (s->dc);
  g_free (s);
}

static ChannelState *
state_of (TestClient *c, GstWebRTCDataChannel *dc)
{
  ChannelState *found = NULL;

  g_mutex_lock (&c->lock);
  for (guint i = 0; i < c->channels->len; i++)
    if (((ChannelState *) c->channels->pdata[i])->dc == dc)
      found = c->channels->pdata[i];
  g_mutex_unlock (&c->lock);
  return found;
}

static void
on_ice_candidate (GstElement *webrtc, guint mline, const char *candidate, gpointer user_data)
{
  TestClient *c = user_data;

  if (c->candidate_func)
    c->candidate_func (mline, candidate, c->candidate_data);
}

TestClient *
test_client_new (void)
{
  TestClient *c = g_new0 (TestClient, 1);
  GstWebRTCICE *ice = NULL;
  NiceAgent *agent = NULL;
  NiceAddress address;

  g_mutex_init (&c->lock);
  c->channels = g_ptr_array_new_with_free_func ((GDestroyNotify) channel_state_free);
  c->pipeline = gst_pipeline_new (NULL);
  c->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  g_assert_nonnull (c->webrtc);
  gst_bin_add (GST_BIN (c->pipeline), c->webrtc);
  g_object_set (c->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  g_object_get (c->webrtc, "ice-agent", &ice, NULL);
  g_object_get (ice, "agent", &agent, NULL);
  g_object_set (agent, "upnp", FALSE, NULL);
  nice_address_init (&address);
  nice_address_set_from_string (&address, "127.0.0.1");
  nice_agent_add_local_address (agent, &address);
  g_object_unref (agent);
  gst_object_unref (ice);
  g_signal_connect (c->webrtc, "on-ice-candidate", G_CALLBACK (on_ice_candidate), c);
  g_assert_cmpint (gst_element_set_state (c->pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  return c;
}

void
test_client_on_candidate (TestClient *c, void (*func) (guint, const char *, gpointer),
                          gpointer data)
{
  c->candidate_func = func;
  c->candidate_data = data;
}

void
test_client_add_candidate (TestClient *c, guint mline, const char *candidate)
{
  g_signal_emit_by_name (c->webrtc, "add-ice-candidate", mline, candidate);
}

/* Tears the client down at once, whatever state it is in. */
void
test_client_kill (TestClient *c)
{
  if (c->pipeline)
    {
      gst_element_set_state (c->pipeline, GST_STATE_NULL);
      gst_clear_object (&c->pipeline);
    }
}

void
test_client_free (TestClient *c)
{
  if (c == NULL)
    return;
  test_client_kill (c);
  g_ptr_array_unref (c->channels);
  g_mutex_clear (&c->lock);
  g_free (c);
}

static void
on_open (GstWebRTCDataChannel *dc, gpointer user_data)
{
  g_atomic_int_set (&((ChannelState *) user_data)->open, 1);
}

static void
on_close (GstWebRTCDataChannel *dc, gpointer user_data)
{
  g_atomic_int_set (&((ChannelState *) user_data)->closed, 1);
}

static void
on_message_data (GstWebRTCDataChannel *dc, GBytes *data, gpointer user_data)
{
  ChannelState *s = user_data;

  g_async_queue_push (s->messages, data ? g_bytes_ref (data) : g_bytes_new (NULL, 0));
}

GstWebRTCDataChannel *
test_client_channel (TestClient *c, const char *label, gboolean ordered, gint max_retransmits,
                     gint max_lifetime)
{
  GstStructure *opts = gst_structure_new ("options", "ordered", G_TYPE_BOOLEAN, ordered, NULL);
  GstWebRTCDataChannel *dc = NULL;
  ChannelState *s = g_new0 (ChannelState, 1);

  if (max_retransmits >= 0)
    gst_structure_set (opts, "max-retransmits", G_TYPE_INT, max_retransmits, NULL);
  if (max_lifetime >= 0)
    gst_structure_set (opts, "max-packet-lifetime", G_TYPE_INT, max_lifetime, NULL);
  g_signal_emit_by_name (c->webrtc, "create-data-channel", label, opts, &dc);
  gst_structure_free (opts);
  g_assert_nonnull (dc);
  s->dc = dc;
  s->messages = g_async_queue_new_full ((GDestroyNotify) g_bytes_unref);
  g_signal_connect (dc, "on-open", G_CALLBACK (on_open), s);
  g_signal_connect (dc, "on-close", G_CALLBACK (on_close), s);
  g_signal_connect (dc, "on-message-data", G_CALLBACK (on_message_data), s);
  g_mutex_lock (&c->lock);
  g_ptr_array_add (c->channels, s);
  g_mutex_unlock (&c->lock);
  return dc;
}

static const GstStructure *
wait_promise (GstPromise *promise)
{
  g_assert_cmpint (gst_promise_wait (promise), ==, GST_PROMISE_RESULT_REPLIED);
  return gst_promise_get_reply (promise);
}

/* Creates and sets the offer; with @gather, waits for ICE gathering to
 * complete (bounded) and returns the SDP with the candidates. */
char *
test_client_offer (TestClient *c, gboolean gather)
{
  GstPromise *promise = gst_promise_new ();
  GstWebRTCSessionDescription *offer = NULL;
  GstWebRTCSessionDescription *local = NULL;
  gint64 deadline;
  char *text;

  g_signal_emit_by_name (c->webrtc, "create-offer", NULL, promise);
  gst_structure_get (wait_promise (promise), "offer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &offer,
                     NULL);
  gst_promise_unref (promise);
  g_assert_nonnull (offer);
  promise = gst_promise_new ();
  g_signal_emit_by_name (c->webrtc, "set-local-description", offer, promise);
  wait_promise (promise);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (offer);

  deadline = g_get_monotonic_time () + TEST_TIMEOUT_S * G_USEC_PER_SEC;
  while (gather && g_get_monotonic_time () < deadline)
    {
      GstWebRTCICEGatheringState state;

      g_object_get (c->webrtc, "ice-gathering-state", &state, NULL);
      if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
        break;
      g_usleep (20 * 1000);
    }
  g_object_get (c->webrtc, "local-description", &local, NULL);
  text = gst_sdp_message_as_text (local->sdp);
  gst_webrtc_session_description_free (local);
  return text;
}

/* Makes the client drop a=max-message-size from answers, so that it sends
 * what the server advertised it would not take. */
void
test_client_ignore_max_message_size (TestClient *c)
{
  c->ignore_max_message_size = TRUE;
}

gboolean
test_client_set_answer (TestClient *c, const char *sdp)
{
  GstSDPMessage *msg = NULL;
  GstWebRTCSessionDescription *answer;
  GstPromise *promise = gst_promise_new ();
  const GstStructure *reply;
  gboolean ok;

  if (gst_sdp_message_new_from_text (sdp, &msg) != GST_SDP_OK)
    return FALSE;
  for (guint i = 0; c->ignore_max_message_size && i < gst_sdp_message_medias_len (msg); i++)
    {
      GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (msg, i);

      for (guint j = gst_sdp_media_attributes_len (media); j > 0; j--)
        if (g_strcmp0 (gst_sdp_media_get_attribute (media, j - 1)->key, "max-message-size") == 0)
          gst_sdp_media_remove_attribute (media, j - 1);
    }
  answer = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, msg);
  g_signal_emit_by_name (c->webrtc, "set-remote-description", answer, promise);
  reply = wait_promise (promise);
  ok = reply == NULL || !gst_structure_has_field (reply, "error");
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (answer);
  return ok;
}

/* POSTs {"type": "offer", "sdp": SDP} to /webrtc/offer; returns the
 * status, and the response body in REPLY when not NULL. */
guint
test_post_offer_sdp (TestDaemon *d, const char *sdp, char **reply)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *body = NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, "offer");
  json_builder_set_member_name (b, "sdp");
  json_builder_add_string_value (b, sdp);
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  body = json_generator_to_data (gen, NULL);
  return test_http (d, "POST", "/webrtc/offer", "application/json", body, reply, NULL);
}

/* POSTs a gathered offer; on 200 sets the answer. Returns the status. */
guint
test_client_post_offer (TestClient *c, TestDaemon *d, char **answer_sdp)
{
  g_autofree char *offer = test_client_offer (c, TRUE);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *reply = NULL;
  const char *sdp;
  guint status;

  status = test_post_offer_sdp (d, offer, &reply);
  if (status != 200)
    return status;
  g_assert_true (json_parser_load_from_data (parser, reply, -1, NULL));
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)),
                                                  "type"), ==, "answer");
  sdp = json_object_get_string_member (json_node_get_object (json_parser_get_root (parser)), "sdp");
  g_assert_true (test_client_set_answer (c, sdp));
  if (answer_sdp)
    *answer_sdp = g_strdup (sdp);
  return status;
}

gboolean
test_client_wait_open (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_s)
{
  ChannelState *s = state_of (c, dc);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  do
    {
      if (g_atomic_int_get (&s->open))
        return TRUE;
      if (timeout_s > 0)
        g_usleep (10 * 1000);
    }
  while (g_get_monotonic_time () < deadline);
  return FALSE;
}

gboolean
test_client_wait_closed (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_s)
{
  ChannelState *s = state_of (c, dc);
  gint64 deadline = g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC;

  while (g_get_monotonic_time () < deadline)
    {
      GstWebRTCDataChannelState state;

      g_object_get (dc, "ready-state", &state, NULL);
      if (g_atomic_int_get (&s->closed) || state == GST_WEBRTC_DATA_CHANNEL_STATE_CLOSED)
        return TRUE;
      g_usleep (10 * 1000);
    }
  return FALSE;
}

gboolean
test_client_send (TestClient *c, GstWebRTCDataChannel *dc, GBytes *data)
{
  return gst_webrtc_data_channel_send_data_full (dc, data, NULL);
}

GBytes *
test_client_recv (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_ms)
{
  return g_async_queue_timeout_pop (state_of (c, dc)->messages, (guint64) timeout_ms * 1000);
}

/* The payload of the next tunnel FRAME whose frame @match accepts;
 * other messages are skipped. */
GBytes *
test_client_recv_frame (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_ms,
                        gboolean (*match) (GBytes *frame))
{
  gint64 deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      gint64 left = (deadline - g_get_monotonic_time ()) / 1000;
      g_autoptr (GBytes) m = test_client_recv (c, dc, (guint) MAX (left, 1));
      const guint8 *p;
      g_autoptr (GBytes) frame = NULL;

      if (m == NULL)
        return NULL;
      p = g_bytes_get_data (m, NULL);
      if (g_bytes_get_size (m) < 4 || p[0] != 0xA2 || p[1] != 0x03 || p[2] != 0x00)
        continue;
      frame = g_bytes_new_from_bytes (m, 4, g_bytes_get_size (m) - 4);
      if (match == NULL || match (frame))
        return g_steal_pointer (&frame);
    }
  return NULL;
}

/* ---- a client that stops reading -------------------------------------------------- */

/* CRC32c (Castagnoli), as SCTP computes it over a packet (RFC 4960, B). */
static guint32
crc32c (const guint8 *p, gsize len)
{
  guint32 crc = 0xffffffff;

  for (gsize i = 0; i < len; i++)
    {
      crc ^= p[i];
      for (int k = 0; k < 8; k++)
        crc = crc & 1 ? (crc >> 1) ^ 0x82f63b78 : crc >> 1;
    }
  return ~crc;
}

/* On the SCTP packets the client sends (before DTLS): every SACK
 * advertises a receive window of 0, so the server may not send it more
 * data, as with a peer whose application never reads. */
static GstPadProbeReturn
zero_window_probe (GstPad *pad, GstPadProbeInfo *info, gpointer user_data)
{
  GstBuffer *buffer = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;
  gboolean changed = FALSE;
  gsize off = 12;

  if (buffer == NULL)
    return GST_PAD_PROBE_OK;
  buffer = gst_buffer_make_writable (buffer);
  GST_PAD_PROBE_INFO_DATA (info) = buffer;
  if (!gst_buffer_map (buffer, &map, GST_MAP_READWRITE))
    return GST_PAD_PROBE_OK;
  while (off + 4 <= map.size)
    {
      guint8 type = map.data[off];
      gsize len = (gsize) map.data[off + 2] << 8 | map.data[off + 3];

      if (len < 4)
        break;
      /* SACK: type 3, cumulative TSN ack (4 bytes), then a_rwnd (4 bytes). */
      if (type == 3 && len >= 12 && off + 12 <= map.size)
        {
          memset (map.data + off + 8, 0, 4);
          changed = TRUE;
        }
      off += (len + 3) & ~(gsize) 3;
    }
  if (changed && map.size >= 12)
    {
      guint32 crc;

      memset (map.data + 8, 0, 4);
      crc = GUINT32_TO_LE (crc32c (map.data, map.size));
      memcpy (map.data + 8, &crc, 4);
    }
  gst_buffer_unmap (buffer, &map);
  return GST_PAD_PROBE_OK;
}

/* From now on the client advertises a zero receive window (see above):
 * it still receives what the server has sent, and still sends. */
void
test_client_stop_reading (TestClient *c)
{
  g_autoptr (GstIterator) it = gst_bin_iterate_recurse (GST_BIN (c->webrtc));
  GValue item = G_VALUE_INIT;
  gboolean found = FALSE;

  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK)
    {
      GstElement *e = g_value_get_object (&item);
      GstElementFactory *f = gst_element_get_factory (e);

      if (f && g_strcmp0 (GST_OBJECT_NAME (f), "sctpenc") == 0)
        {
          g_autoptr (GstPad) src = gst_element_get_static_pad (e, "src");

          gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER, zero_window_probe, NULL, NULL);
          found = TRUE;
        }
      g_value_reset (&item);
    }
  g_value_unset (&item);
  g_assert_true (found);
}

/* ---- frames ----------------------------------------------------------------- */

static const guint8 guest_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

GBytes *
test_tunnel (guint8 type, const guint8 *payload, gsize len)
{
  guint8 *buf = g_malloc (4 + len);

  buf[0] = 0xA2;
  buf[1] = 0x03;
  buf[2] = type;
  buf[3] = 0;
  if (len)
    memcpy (buf + 4, payload, len);
  return g_bytes_new_take (buf, 4 + len);
}

static guint16
ip_checksum (const guint8 *p, gsize len)
{
  guint32 sum = 0;

  for (gsize i = 0; i + 1 < len; i += 2)
    sum += (guint32) (p[i] << 8 | p[i + 1]);
  while (sum >> 16)
    sum = (sum & 0xffff) + (sum >> 16);
  return (guint16) ~sum;
}

GBytes *
test_frame_dhcp_discover (guint32 xid)
{
  guint8 f[14 + 20 + 8 + 300] = { 0 };
  guint8 *ip = f + 14, *udp = ip + 20, *bootp = udp + 8;
  guint16 csum;
  static const guint8 options[] = { 0x63, 0x82, 0x53, 0x63, 53, 1, 1, 55, 3, 1, 3, 6, 255 };

  memset (f, 0xff, 6);
  memcpy (f + 6, guest_mac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  ip[0] = 0x45;
  ip[2] = (20 + 8 + 300) >> 8;
  ip[3] = (20 + 8 + 300) & 0xff;
  ip[8] = 64;
  ip[9] = 17;
  memset (ip + 16, 0xff, 4);
  csum = ip_checksum (ip, 20);
  ip[10] = csum >> 8;
  ip[11] = csum & 0xff;
  udp[1] = 68;
  udp[3] = 67;
  udp[4] = (8 + 300) >> 8;
  udp[5] = (8 + 300) & 0xff;
  bootp[0] = 1;
  bootp[1] = 1;
  bootp[2] = 6;
  bootp[4] = xid >> 24;
  bootp[5] = (xid >> 16) & 0xff;
  bootp[6] = (xid >> 8) & 0xff;
  bootp[7] = xid & 0xff;
  bootp[10] = 0x80;
  memcpy (bootp + 28, guest_mac, 6);
  memcpy (bootp + 236, options, sizeof options);
  return g_bytes_new (f, sizeof f);
}

GBytes *
test_frame_arp_request (const char *target)
{
  guint8 f[42] = { 0 };
  g_autoptr (GInetAddress) t = g_inet_address_new_from_string (target);
  static const guint8 sender_ip[4] = { 10, 0, 2, 15 };

  memset (f, 0xff, 6);
  memcpy (f + 6, guest_mac, 6);
  f[12] = 0x08;
  f[13] = 0x06;
  f[15] = 1;
  f[16] = 0x08;
  f[18] = 6;
  f[19] = 4;
  f[21] = 1;
  memcpy (f + 22, guest_mac, 6);
  memcpy (f + 28, sender_ip, 4);
  memcpy (f + 38, g_inet_address_to_bytes (t), 4);
  return g_bytes_new (f, sizeof f);
}

gboolean
test_is_dhcp_offer (GBytes *frame)
{
  gsize len;
  const guint8 *f = g_bytes_get_data (frame, &len);
  const guint8 *udp, *bootp;

  if (len < 14 + 20 + 8 + 240 || f[12] != 0x08 || f[13] != 0x00 || f[14 + 9] != 17)
    return FALSE;
  udp = f + 14 + (f[14] & 0x0f) * 4;
  bootp = udp + 8;
  if (udp[1] != 67 || udp[3] != 68 || bootp[0] != 2)
    return FALSE;
  /* yiaddr 10.0.2.15 and option 53 = 2 (offer) */
  if (bootp[16] != 10 || bootp[17] != 0 || bootp[18] != 2 || bootp[19] != 15)
    return FALSE;
  for (const guint8 *o = bootp + 240; o + 2 < f + len && *o != 255; o += o[0] ? 2 + o[1] : 1)
    if (o[0] == 53)
      return o[2] == 2;
  return FALSE;
}

gboolean
test_is_arp_reply_from_gateway (GBytes *frame)
{
  gsize len;
  const guint8 *f = g_bytes_get_data (frame, &len);

  return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && f[28] == 10 && f[29] == 0 &&
         f[30] == 2 && f[31] == 2;
}

/* Whether plugin NAME is in AERO_NETD_PLUGIN_PATH. */
gboolean
test_have_plugin (const char *name)
{
  g_auto (GStrv) dirs = g_strsplit (g_getenv ("AERO_NETD_PLUGIN_PATH") ?: "", ":", -1);
  g_autofree char *file = g_strconcat (name, ".so", NULL);

  for (guint i = 0; dirs[i]; i++)
    {
      g_autofree char *path = g_build_filename (dirs[i], file, NULL);

      if (*dirs[i] && g_file_test (path, G_FILE_TEST_EXISTS))
        return TRUE;
    }
  return FALSE;
}
