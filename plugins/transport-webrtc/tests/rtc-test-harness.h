/* rtc-test-harness.h — what the transport-webrtc C tests share: an
 * aero-netd process on loopback with a configuration of the test's
 * choosing, HTTP helpers, a webrtcbin client in the test process, and the
 * Ethernet frames the tests send (ARP, DHCP). Every wait has a deadline. */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

#define TEST_TIMEOUT_S 10

/* ---- the daemon ---------------------------------------------------------------- */

typedef struct {
  GSubprocess *process;
  char *dir;
  char *config;
  char *log;
  guint16 port;
  char *base;                   /* http://127.0.0.1:PORT */
} TestDaemon;

TestDaemon *test_daemon_start (const char *webrtc_keys, const char *extra_groups);
gboolean test_have_plugin (const char *name);
void test_daemon_stop (TestDaemon *d);
char *test_daemon_log (TestDaemon *d);
double test_daemon_metric (TestDaemon *d, const char *series);
gboolean test_daemon_wait_metric (TestDaemon *d, const char *series, double value, guint timeout_s);
gboolean test_daemon_wait_metric_spinning (TestDaemon *d, const char *series, double value,
                                           guint timeout_s);
guint test_post_offer_sdp (TestDaemon *d, const char *sdp, char **reply);
guint test_http (TestDaemon *d, const char *method, const char *path, const char *content_type,
                 const char *body, char **response, SoupMessageHeaders **headers);

/* ---- the webrtcbin client ------------------------------------------------------- */

typedef struct _TestClient TestClient;

TestClient *test_client_new (void);
void test_client_free (TestClient *c);
GstWebRTCDataChannel *test_client_channel (TestClient *c, const char *label, gboolean ordered,
                                           gint max_retransmits, gint max_lifetime);
char *test_client_offer (TestClient *c, gboolean gather);
gboolean test_client_set_answer (TestClient *c, const char *sdp);
void test_client_ignore_max_message_size (TestClient *c);
guint test_client_post_offer (TestClient *c, TestDaemon *d, char **answer_sdp);
gboolean test_client_wait_open (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_s);
gboolean test_client_wait_closed (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_s);
gboolean test_client_send (TestClient *c, GstWebRTCDataChannel *dc, GBytes *data);
GBytes *test_client_recv (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_ms);
GBytes *test_client_recv_frame (TestClient *c, GstWebRTCDataChannel *dc, guint timeout_ms,
                                gboolean (*match) (GBytes *frame));
void test_client_on_candidate (TestClient *c, void (*func) (guint mline, const char *candidate,
                                                            gpointer data), gpointer data);
void test_client_add_candidate (TestClient *c, guint mline, const char *candidate);
void test_client_kill (TestClient *c);
void test_client_stop_reading (TestClient *c);

/* ---- frames ----------------------------------------------------------------- */

GBytes *test_tunnel (guint8 type, const guint8 *payload, gsize len);
GBytes *test_frame_dhcp_discover (guint32 xid);
GBytes *test_frame_arp_request (const char *target);
gboolean test_is_dhcp_offer (GBytes *frame);
gboolean test_is_arp_reply_from_gateway (GBytes *frame);

G_END_DECLS
