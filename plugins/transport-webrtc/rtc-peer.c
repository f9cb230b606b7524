/* rtc-peer.c — one peer connection around a webrtcbin: negotiation, ICE,
 * the connect timeout, and the DataChannels it accepts. See the header. */
#include <string.h>

#include <gst/gst.h>
#include <gst/webrtc/webrtc.h>
#include <gst/webrtc/nice/nice.h>
#include <nice/agent.h>

#include "rtc-admission.h"
#include "rtc-data-channel.h"
#include "rtc-l2-channel.h"
#include "rtc-peer.h"
#include "rtc-sdp.h"
#include "rtc-udp-relay.h"

/* Receive queue of one DataChannel wrapper, in bytes: 256 largest messages. */
#define RX_QUEUE_MESSAGES 256
/* How long a closed peer's webrtcbin keeps running, so that the closing of
 * its DataChannels reaches the client (it would otherwise only notice
 * when ICE consent fails, tens of seconds later). */
#define LINGER_MS 500
/* DataChannels one peer connection may announce: a client needs two (l2,
 * udp). Each one stays held until the pipeline has stopped (ChannelKeep),
 * so a client that kept opening channels would grow the daemon; past this
 * the peer connection is closed and its webrtcbin stopped at once. */
#define MAX_CHANNELS 8

/* Pipelines of closed peers, lingering: GstElement* → Linger. Main
 * context only. */
static GHashTable *lingering;

/* Every DataChannel a webrtcbin has announced, held until its pipeline is
 * finalized (so after it reached NULL: no streaming thread is left).
 * webrtcbin 1.22.0 drops its own reference when a channel turns closed,
 * yet the channel's appsrc, appsink and SCTP signal handlers stay in the
 * running webrtcbin with plain pointers to it; were ours the last
 * reference, a streaming thread could use the freed channel (seen as
 * criticals from g_object_notify and gst_object_unref on close while
 * sending). Shared by the pipeline (qdata) and the on-data-channel
 * handler, which runs on webrtcbin's thread. */
typedef struct {
  GMutex lock;
  GPtrArray *channels;          /* GstWebRTCDataChannel*, owned */
} ChannelKeep;

static void
channel_keep_clear (gpointer data)
{
  ChannelKeep *keep = data;

  g_ptr_array_unref (keep->channels);
  g_mutex_clear (&keep->lock);
}

static void
channel_keep_release (gpointer data)
{
  g_atomic_rc_box_release_full (data, channel_keep_clear);
}

static void
channel_keep_closure_notify (gpointer data, GClosure *closure)
{
  channel_keep_release (data);
}

/* webrtcbin's thread. */
static void
on_data_channel_keep (GstElement *webrtc, GstWebRTCDataChannel *channel, gpointer user_data)
{
  ChannelKeep *keep = user_data;

  g_mutex_lock (&keep->lock);
  g_ptr_array_add (keep->channels, gst_object_ref (channel));
  g_mutex_unlock (&keep->lock);
}

/* Makes @pipeline keep the DataChannels of @webrtc (see ChannelKeep). */
static void
pipeline_keep_channels (GstElement *pipeline, GstElement *webrtc)
{
  ChannelKeep *keep = g_atomic_rc_box_new0 (ChannelKeep);

  g_mutex_init (&keep->lock);
  keep->channels = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_object_unref);
  g_object_set_data_full (G_OBJECT (pipeline), "rtc-peer-channels", keep, channel_keep_release);
  g_signal_connect_data (webrtc, "on-data-channel", G_CALLBACK (on_data_channel_keep),
                         g_atomic_rc_box_acquire (keep), channel_keep_closure_notify, 0);
}

struct _RtcPeer
{
  GObject parent_instance;

  /* The environment; main-context only, released when the peer closes. */
  AeroComponent *component;
  AeroHost *host;
  const RtcConfig *config;
  RtcMetrics *metrics;
  AeroPolicy *policy;
  GMainContext *context;
  char *name;

  char *id;
  char *client;
  char *principal;
  AeroAdmission *admission;     /* held until the peer closes */

  GstElement *pipeline;
  GstElement *webrtc;
  GPtrArray *handlers;          /* signal handler ids on webrtc */
  GSource *bus_watch;
  guint connect_timer;
  guint gather_timer;

  gboolean trickle;
  gboolean negotiating;         /* rtc_peer_answer() was called */
  gboolean local_set;           /* the answer is the local description */
  gboolean answered;            /* "answer" was emitted */
  GPtrArray *candidates;        /* LocalCandidate*, gathered locally */

  RtcL2Channel *l2;
  RtcUdpRelay *udp;
  gboolean had_channel;
  guint channels;               /* DataChannels announced (MAX_CHANNELS) */
  gboolean counted;             /* started: counted in peers_active */
  gboolean closed;
};

G_DEFINE_FINAL_TYPE (RtcPeer, rtc_peer, G_TYPE_OBJECT)

enum { SIGNAL_ANSWER, SIGNAL_LOCAL_CANDIDATE, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

typedef struct {
  guint mline;
  char *candidate;
} LocalCandidate;

static void
local_candidate_free (LocalCandidate *c)
{
  g_free (c->candidate);
  g_free (c);
}

/* ---- running work on the main context ------------------------------------------ */

typedef void (*PeerTask) (RtcPeer *self, gpointer data);

typedef struct {
  RtcPeer *peer;
  PeerTask func;
  gpointer data;
  GDestroyNotify destroy;
} Invocation;

static gboolean
invocation_cb (gpointer user_data)
{
  Invocation *inv = user_data;

  if (!inv->peer->closed)
    inv->func (inv->peer, inv->data);
  return G_SOURCE_REMOVE;
}

static void
invocation_free (gpointer user_data)
{
  Invocation *inv = user_data;

  if (inv->destroy && inv->data)
    inv->destroy (inv->data);
  g_object_unref (inv->peer);
  g_free (inv);
}

/* Any thread: runs @func on the peer's main context later (never now),
 * unless the peer has closed by then. @destroy frees @data either way. */
static void
peer_invoke (RtcPeer *self, PeerTask func, gpointer data, GDestroyNotify destroy)
{
  Invocation *inv = g_new0 (Invocation, 1);
  GSource *source = g_idle_source_new ();

  inv->peer = g_object_ref (self);
  inv->func = func;
  inv->data = data;
  inv->destroy = destroy;
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, invocation_cb, inv, invocation_free);
  g_source_set_static_name (source, "rtc-peer");
  g_source_attach (source, self->context);
  g_source_unref (source);
}

/* ---- logging helpers --------------------------------------------------------- */

static const char *
client_text (RtcPeer *self)
{
  return self->client ? self->client : "-";
}

/* ---- answering ---------------------------------------------------------------- */

static void
peer_fail_negotiation (RtcPeer *self, const char *what, const GError *error)
{
  g_autofree char *text = g_strdup_printf ("%s: %s", what,
                                           error ? error->message : "no answer from webrtcbin");

  AERO_LOG_INFO (self->name, "peer", self->id, "client", client_text (self), "MESSAGE",
                 "negotiation failed: %s", text);
  if (!self->answered)
    {
      self->answered = TRUE;
      aero_metric_inc (self->metrics->peers_refused[RTC_REFUSE_NEGOTIATION]);
      g_signal_emit (self, signals[SIGNAL_ANSWER], 0, NULL, text);
    }
  rtc_peer_close (self, RTC_PEER_END_NEGOTIATION, text);
}

/* Reads a promise's reply: its @field, or the error it carries. */
static gboolean
promise_result (GstPromise *promise, const char *field, GType type, gpointer out, GError **error)
{
  const GstStructure *reply;

  if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "the operation was interrupted");
      return FALSE;
    }
  reply = gst_promise_get_reply (promise);
  if (reply && gst_structure_has_field_typed (reply, "error", G_TYPE_ERROR))
    {
      gst_structure_get (reply, "error", G_TYPE_ERROR, error, NULL);
      return FALSE;
    }
  if (field == NULL)
    return TRUE;
  if (reply == NULL || !gst_structure_get (reply, field, type, out, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no %s in the reply", field);
      return FALSE;
    }
  return TRUE;
}

/* webrtcbin's thread: hands a promise's completion to the main context. */
static void
promise_changed (GstPromise *promise, gpointer user_data)
{
  Invocation *inv = user_data;

  peer_invoke (inv->peer, inv->func, gst_promise_ref (promise), (GDestroyNotify) gst_promise_unref);
}

static void
promise_invocation_free (gpointer user_data)
{
  Invocation *inv = user_data;

  g_object_unref (inv->peer);
  g_free (inv);
}

static GstPromise *
peer_promise (RtcPeer *self, PeerTask func)
{
  Invocation *inv = g_new0 (Invocation, 1);

  inv->peer = g_object_ref (self);
  inv->func = func;
  return gst_promise_new_with_change_func (promise_changed, inv, promise_invocation_free);
}

/* The local description as text, with every gathered candidate in it
 * (added here when webrtcbin has not put it there itself). */
static char *
peer_local_sdp (RtcPeer *self, gboolean with_candidates)
{
  GstWebRTCSessionDescription *desc = NULL;
  GstSDPMessage *copy = NULL;
  char *text;

  g_object_get (self->webrtc, "local-description", &desc, NULL);
  if (desc == NULL)
    return NULL;
  gst_sdp_message_copy (desc->sdp, &copy);
  gst_webrtc_session_description_free (desc);

  for (guint i = 0; with_candidates && i < self->candidates->len; i++)
    {
      LocalCandidate *c = g_ptr_array_index (self->candidates, i);
      const char *value = g_str_has_prefix (c->candidate, "candidate:")
                            ? c->candidate + strlen ("candidate:") : c->candidate;
      GstSDPMedia *media;
      gboolean present = FALSE;

      if (c->mline >= gst_sdp_message_medias_len (copy))
        continue;
      media = (GstSDPMedia *) gst_sdp_message_get_media (copy, c->mline);
      for (guint j = 0; j < gst_sdp_media_attributes_len (media); j++)
        {
          const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, j);

          if (g_strcmp0 (a->key, "candidate") == 0 && g_strcmp0 (a->value, value) == 0)
            present = TRUE;
        }
      if (!present)
        gst_sdp_media_add_attribute (media, "candidate", value);
    }
  if (with_candidates)
    for (guint i = 0; i < gst_sdp_message_medias_len (copy); i++)
      {
        GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (copy, i);

        if (gst_sdp_media_get_attribute_val (media, "end-of-candidates") == NULL)
          gst_sdp_media_add_attribute (media, "end-of-candidates", NULL);
      }
  text = gst_sdp_message_as_text (copy);
  gst_sdp_message_free (copy);
  return text;
}

static void
peer_emit_candidate (RtcPeer *self, const LocalCandidate *c)
{
  GstWebRTCSessionDescription *desc = NULL;
  g_autofree char *mid = NULL;

  g_object_get (self->webrtc, "local-description", &desc, NULL);
  if (desc)
    {
      mid = rtc_sdp_get_mid (desc->sdp, c->mline);
      gst_webrtc_session_description_free (desc);
    }
  g_signal_emit (self, signals[SIGNAL_LOCAL_CANDIDATE], 0, c->mline, mid, c->candidate);
}

static gboolean connect_timeout_cb (gpointer user_data);

static void
peer_deliver_answer (RtcPeer *self)
{
  g_autofree char *sdp = NULL;

  if (self->answered || self->closed)
    return;
  g_clear_handle_id (&self->gather_timer, g_source_remove);
  sdp = peer_local_sdp (self, !self->trickle);
  if (sdp == NULL)
    {
      peer_fail_negotiation (self, "creating the answer", NULL);
      return;
    }
  self->answered = TRUE;
  /* connect-timeout counts from the answer: the client has all it needs. */
  if (self->connect_timer != 0)
    {
      g_clear_handle_id (&self->connect_timer, g_source_remove);
      self->connect_timer = g_timeout_add ((guint) self->config->connect_timeout_ms,
                                           connect_timeout_cb, self);
    }
  AERO_LOG_DEBUG (self->name, "peer", self->id, "client", client_text (self), "MESSAGE",
                  "answer ready (%s, %u local candidates)", self->trickle ? "trickle" : "complete",
                  self->candidates->len);
  g_signal_emit (self, signals[SIGNAL_ANSWER], 0, sdp, NULL);
  /* With trickle, the candidates gathered so far follow the answer. */
  for (guint i = 0; self->trickle && !self->closed && i < self->candidates->len; i++)
    peer_emit_candidate (self, g_ptr_array_index (self->candidates, i));
}

static gboolean
gather_timeout_cb (gpointer user_data)
{
  RtcPeer *self = user_data;

  self->gather_timer = 0;
  AERO_LOG_DEBUG (self->name, "peer", self->id, "MESSAGE",
                  "ICE gathering not complete after %" G_GUINT64_FORMAT " ms: answering with %u "
                  "candidates", self->config->ice_gather_timeout_ms, self->candidates->len);
  peer_deliver_answer (self);
  return G_SOURCE_REMOVE;
}

static gboolean
gathering_complete (RtcPeer *self)
{
  GstWebRTCICEGatheringState state = GST_WEBRTC_ICE_GATHERING_STATE_NEW;

  g_object_get (self->webrtc, "ice-gathering-state", &state, NULL);
  return state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE;
}

static void
on_local_set (RtcPeer *self, gpointer data)
{
  g_autoptr (GError) error = NULL;

  if (!promise_result (data, NULL, G_TYPE_NONE, NULL, &error))
    {
      peer_fail_negotiation (self, "setting the answer", error);
      return;
    }
  self->local_set = TRUE;
  if (self->trickle || gathering_complete (self))
    peer_deliver_answer (self);
  else
    self->gather_timer = g_timeout_add ((guint) self->config->ice_gather_timeout_ms,
                                        gather_timeout_cb, self);
}

static void
on_answer_created (RtcPeer *self, gpointer data)
{
  g_autoptr (GError) error = NULL;
  GstWebRTCSessionDescription *answer = NULL;
  GstPromise *promise;

  if (!promise_result (data, "answer", GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, &error))
    {
      peer_fail_negotiation (self, "creating the answer", error);
      return;
    }
  /* webrtcbin never advertises a=max-message-size; browsers read it to
   * refuse larger sends. */
  rtc_sdp_set_max_message_size (answer->sdp, self->config->l2.max_message_size);
  promise = peer_promise (self, on_local_set);
  g_signal_emit_by_name (self->webrtc, "set-local-description", answer, promise);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (answer);
}

static void
on_remote_set (RtcPeer *self, gpointer data)
{
  g_autoptr (GError) error = NULL;
  GstPromise *promise;

  if (!promise_result (data, NULL, G_TYPE_NONE, NULL, &error))
    {
      peer_fail_negotiation (self, "setting the offer", error);
      return;
    }
  promise = peer_promise (self, on_answer_created);
  g_signal_emit_by_name (self->webrtc, "create-answer", NULL, promise);
  gst_promise_unref (promise);
}

/* ---- webrtcbin's events ----------------------------------------------------------- */

static void
on_local_candidate (RtcPeer *self, gpointer data)
{
  LocalCandidate *c = data;

  /* Only the wrapper is freed by the invocation: the candidate is kept. */
  g_ptr_array_add (self->candidates, g_memdup2 (c, sizeof *c));
  c->candidate = NULL;
  if (self->answered && self->trickle)
    peer_emit_candidate (self, g_ptr_array_index (self->candidates, self->candidates->len - 1));
}

static void
on_ice_candidate_thread (GstElement *webrtc, guint mline, const char *candidate, gpointer user_data)
{
  LocalCandidate *c = g_new0 (LocalCandidate, 1);

  c->mline = mline;
  c->candidate = g_strdup (candidate);
  peer_invoke (user_data, on_local_candidate, c, (GDestroyNotify) local_candidate_free);
}

static void
on_gathering_state (RtcPeer *self, gpointer data)
{
  if (self->local_set && !self->answered && gathering_complete (self))
    peer_deliver_answer (self);
}

static void
on_gathering_state_thread (GObject *webrtc, GParamSpec *pspec, gpointer user_data)
{
  peer_invoke (user_data, on_gathering_state, NULL, NULL);
}

static void
on_connection_state (RtcPeer *self, gpointer data)
{
  GstWebRTCPeerConnectionState state = GST_WEBRTC_PEER_CONNECTION_STATE_NEW;

  g_object_get (self->webrtc, "connection-state", &state, NULL);
  switch (state)
    {
    case GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED:
      AERO_LOG_DEBUG (self->name, "peer", self->id, "client", client_text (self), "MESSAGE",
                      "peer connection connected");
      break;
    case GST_WEBRTC_PEER_CONNECTION_STATE_FAILED:
      rtc_peer_close (self, RTC_PEER_END_FAILED, "the peer connection failed (ICE or DTLS)");
      break;
    case GST_WEBRTC_PEER_CONNECTION_STATE_CLOSED:
      rtc_peer_close (self, RTC_PEER_END_FAILED, "the peer connection closed");
      break;
    default:
      break;
    }
}

static void
on_connection_state_thread (GObject *webrtc, GParamSpec *pspec, gpointer user_data)
{
  peer_invoke (user_data, on_connection_state, NULL, NULL);
}

/* ---- DataChannels --------------------------------------------------------------- */

static void peer_channel_finished (RtcPeer *self);

/* The tunnel is the peer connection's reason to be: when it ends, so does
 * the peer (its udp channel was policed through the tunnel's session). */
static void
on_l2_finished (RtcL2Channel *l2, gpointer user_data)
{
  RtcPeer *self = user_data;

  if (self->udp)
    rtc_udp_relay_session_ended (self->udp);
  g_signal_handlers_disconnect_by_data (l2, self);
  g_clear_object (&self->l2);
  rtc_peer_close (self, RTC_PEER_END_CHANNELS_CLOSED, "its l2 channel closed");
}

static void
on_udp_finished (RtcUdpRelay *udp, gpointer user_data)
{
  RtcPeer *self = user_data;

  g_signal_handlers_disconnect_by_data (udp, self);
  g_clear_object (&self->udp);
  peer_channel_finished (self);
}

static void
peer_channel_finished (RtcPeer *self)
{
  if (!self->closed && self->l2 == NULL && self->udp == NULL)
    rtc_peer_close (self, RTC_PEER_END_CHANNELS_CLOSED, "its last DataChannel closed");
}

static void
peer_refuse_channel (RtcPeer *self, RtcDataChannel *dc, RtcChannelRefuseReason reason,
                     const char *why)
{
  aero_metric_inc (self->metrics->channels_refused[reason]);
  AERO_LOG_INFO (self->name, "peer", self->id, "client", client_text (self), "label",
                 rtc_data_channel_get_label (dc), "reason",
                 rtc_channel_refuse_reason_to_string (reason), "MESSAGE",
                 "DataChannel '%s' refused: %s", rtc_data_channel_get_label (dc), why);
  rtc_data_channel_detach (dc);
  rtc_data_channel_close (dc);
}

static AeroSession *
peer_session (gpointer user_data)
{
  RtcPeer *self = user_data;

  return self->closed || self->l2 == NULL ? NULL : rtc_l2_channel_get_session (self->l2);
}

static void
peer_accept_l2 (RtcPeer *self, RtcDataChannel *dc)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (RtcL2Channel) l2 = NULL;
  gint rexmit = rtc_data_channel_get_max_retransmits (dc);
  gint lifetime = rtc_data_channel_get_max_packet_lifetime (dc);

  if (rexmit != -1 || lifetime != -1)
    {
      g_autofree char *why = g_strdup_printf ("the tunnel needs a reliable channel, this one has "
                                              "%s=%d", rexmit != -1 ? "maxRetransmits"
                                                                    : "maxPacketLifeTime",
                                              rexmit != -1 ? rexmit : lifetime);

      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_PARTIAL_RELIABILITY, why);
      return;
    }
  if (self->l2 != NULL)
    {
      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_DUPLICATE,
                           "one l2 channel per peer connection");
      return;
    }
  l2 = rtc_l2_channel_new (self->name, self->metrics, &self->config->l2, dc);
  aero_channel_set_peer (AERO_CHANNEL (l2), self->client);
  aero_channel_set_principal (AERO_CHANNEL (l2), self->principal);
  if (!rtc_l2_channel_open (l2, self->host, self->component, &error))
    {
      g_autoptr (GBytes) refusal = NULL;
      guint16 code = g_error_matches (error, G_IO_ERROR, G_IO_ERROR_BUSY)
                       ? AERO_L2_ERROR_QUOTA_CONNECTIONS : AERO_L2_ERROR_PROTOCOL;

      /* The client learns why, as a WebSocket client would from the HTTP status. */
      refusal = aero_l2_encode_error (code, error->message);
      rtc_data_channel_send (dc, refusal, NULL);
      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_SESSION, error->message);
      return;
    }
  self->l2 = g_steal_pointer (&l2);
  g_signal_connect (self->l2, "finished", G_CALLBACK (on_l2_finished), self);
  self->had_channel = TRUE;
  g_clear_handle_id (&self->connect_timer, g_source_remove);
}

static void
peer_accept_udp (RtcPeer *self, RtcDataChannel *dc)
{
  if (self->config->udp.mode == RTC_UDP_RELAY_OFF)
    {
      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_UDP_OFF, "udp-relay = off");
      return;
    }
  if (self->config->udp.mode == RTC_UDP_RELAY_POLICY && self->policy == NULL)
    {
      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_NO_POLICY,
                           "udp-relay = policy, but no policy instance is named in filters "
                           "(udp-relay = open relays without one, on loopback only)");
      return;
    }
  if (self->udp != NULL)
    {
      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_DUPLICATE,
                           "one udp channel per peer connection");
      return;
    }
  self->udp = rtc_udp_relay_new (self->name, self->client, self->metrics, &self->config->udp, dc,
                                 self->policy, peer_session, self);
  g_signal_connect (self->udp, "finished", G_CALLBACK (on_udp_finished), self);
  self->had_channel = TRUE;
  g_clear_handle_id (&self->connect_timer, g_source_remove);
  rtc_udp_relay_start (self->udp);
}

static void
on_data_channel (RtcPeer *self, gpointer data)
{
  RtcDataChannel *dc = data;
  const char *label = rtc_data_channel_get_label (dc);

  if (self->closed)
    return;
  if (++self->channels > MAX_CHANNELS)
    {
      g_autofree char *why = g_strdup_printf ("more than %d DataChannels on one peer connection",
                                              MAX_CHANNELS);

      peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_TOO_MANY, why);
      rtc_peer_close (self, RTC_PEER_END_TOO_MANY_CHANNELS, why);
      return;
    }
  if (strcmp (label, "l2") == 0)
    peer_accept_l2 (self, dc);
  else if (strcmp (label, "udp") == 0)
    peer_accept_udp (self, dc);
  else
    peer_refuse_channel (self, dc, RTC_CHANNEL_REFUSE_UNKNOWN_LABEL,
                         "only 'l2' and 'udp' channels are served");
}

/* Drops the invocation's reference; a wrapper nobody took (the peer
 * closed first) is detached from its channel too. */
static void
data_channel_discard (gpointer data)
{
  RtcDataChannel *dc = data;

  if (!rtc_data_channel_is_started (dc))
    rtc_data_channel_detach (dc);
  g_object_unref (dc);
}

/* webrtcbin's thread: the wrapper is made here, so that no message sent
 * right after the channel opened is missed. */
static void
on_data_channel_thread (GstElement *webrtc, GstWebRTCDataChannel *channel, gpointer user_data)
{
  RtcPeer *self = user_data;
  gsize queue = RX_QUEUE_MESSAGES * (gsize) self->config->l2.max_message_size;

  peer_invoke (self, on_data_channel, rtc_data_channel_new (channel, self->context, queue),
               data_channel_discard);
}

/* ---- the bus and timers ------------------------------------------------------------ */

static gboolean
bus_cb (GstBus *bus, GstMessage *message, gpointer user_data)
{
  RtcPeer *self = user_data;
  g_autoptr (GError) error = NULL;
  g_autofree char *debug = NULL;

  if (self->closed)
    return G_SOURCE_REMOVE;
  switch (GST_MESSAGE_TYPE (message))
    {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (message, &error, &debug);
      {
        g_autofree char *why = g_strdup_printf ("webrtcbin error: %s", error->message);

        rtc_peer_close (self, RTC_PEER_END_FAILED, why);
      }
      return G_SOURCE_REMOVE;
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (message, &error, &debug);
      AERO_LOG_DEBUG (self->name, "peer", self->id, "MESSAGE", "webrtcbin warning: %s",
                      error->message);
      break;
    default:
      break;
    }
  return G_SOURCE_CONTINUE;
}

static gboolean
connect_timeout_cb (gpointer user_data)
{
  RtcPeer *self = user_data;
  g_autofree char *why = NULL;

  self->connect_timer = 0;
  aero_metric_inc (self->metrics->connect_timeouts);
  why = g_strdup_printf ("no DataChannel opened within connect-timeout (%" G_GUINT64_FORMAT " ms)",
                         self->config->connect_timeout_ms);
  rtc_peer_close (self, RTC_PEER_END_CONNECT_TIMEOUT, why);
  return G_SOURCE_REMOVE;
}

/* ---- tearing webrtcbin down --------------------------------------------------------- */

static void
pipeline_stop (GstElement *pipeline)
{
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
}

/* A pipeline lingering after its peer closed: counted in its instance's
 * peers_lingering, which max-peers counts too (rtc_server_is_full()). */
typedef struct {
  guint timer;
  RtcMetrics *metrics;
} Linger;

static void
linger_free (gpointer data)
{
  Linger *linger = data;

  aero_metric_add (linger->metrics->peers_lingering, -1);
  rtc_metrics_unref (linger->metrics);
  g_free (linger);
}

static gboolean
linger_done_cb (gpointer user_data)
{
  GstElement *pipeline = user_data;
  Linger *linger = g_hash_table_lookup (lingering, pipeline);

  linger->timer = 0;
  g_hash_table_remove (lingering, pipeline);
  pipeline_stop (pipeline);
  return G_SOURCE_REMOVE;
}

/* Lets @pipeline (owned) run for LINGER_MS more, then stops it. */
static void
pipeline_linger (GstElement *pipeline, RtcMetrics *metrics)
{
  Linger *linger = g_new0 (Linger, 1);

  if (lingering == NULL)
    lingering = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, linger_free);
  linger->metrics = rtc_metrics_ref (metrics);
  aero_metric_add (metrics->peers_lingering, 1);
  linger->timer = g_timeout_add (LINGER_MS, linger_done_cb, pipeline);
  g_hash_table_insert (lingering, pipeline, linger);
}

/**
 * rtc_peer_reap_lingering:
 *
 * Stops at once every webrtcbin still lingering after its peer closed
 * (the transport is stopping).
 */
void
rtc_peer_reap_lingering (void)
{
  GHashTableIter iter;
  gpointer key, value;

  if (lingering == NULL)
    return;
  g_hash_table_iter_init (&iter, lingering);
  while (g_hash_table_iter_next (&iter, &key, &value))
    {
      Linger *linger = value;

      g_clear_handle_id (&linger->timer, g_source_remove);
      g_hash_table_iter_remove (&iter);
      pipeline_stop (key);
    }
}

/* ---- life cycle --------------------------------------------------------------- */

static void
connect_webrtc (RtcPeer *self, const char *signal, GCallback callback)
{
  gulong id = g_signal_connect_data (self->webrtc, signal, callback, g_object_ref (self),
                                     (GClosureNotify) g_object_unref, 0);

  g_ptr_array_add (self->handlers, GSIZE_TO_POINTER ((gsize) id));
}

/* Sets up libnice behind webrtcbin: no UPnP port mapping (it would send
 * SSDP multicast on every interface), the port range, and the addresses
 * ICE gathers on: the configured ones; without any, loopback when the HTTP
 * server is loopback only (libnice never gathers it by itself), and
 * otherwise libnice's own choice of interfaces. */
static gboolean
peer_setup_ice (RtcPeer *self, GError **error)
{
  const char *const loopback[] = { "127.0.0.1", NULL };
  const char *const *addresses = (const char *const *) self->config->ice_local_addresses;
  GstWebRTCICE *ice = NULL;
  NiceAgent *agent = NULL;

  if (addresses == NULL && aero_host_is_loopback_only (self->host))
    addresses = loopback;
  g_object_get (self->webrtc, "ice-agent", &ice, NULL);
  if (ice == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin has no ICE agent");
      return FALSE;
    }
  if (self->config->ice_port_min != 0)
    g_object_set (ice, "min-rtp-port", self->config->ice_port_min, "max-rtp-port",
                  self->config->ice_port_max, NULL);
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
    g_object_get (ice, "agent", &agent, NULL);
  if (agent == NULL)
    {
      gst_object_unref (ice);
      if (addresses == NULL)
        return TRUE;
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "webrtcbin's ICE agent is not libnice: cannot set local addresses");
      return FALSE;
    }
  g_object_set (agent, "upnp", FALSE, NULL);
  for (guint i = 0; addresses && addresses[i]; i++)
    {
      NiceAddress address;

      nice_address_init (&address);
      if (!nice_address_set_from_string (&address, addresses[i]) ||
          !nice_agent_add_local_address (agent, &address))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot gather ICE on %s",
                       addresses[i]);
          g_object_unref (agent);
          gst_object_unref (ice);
          return FALSE;
        }
    }
  g_object_unref (agent);
  gst_object_unref (ice);
  return TRUE;
}

/**
 * rtc_peer_new:
 * @env: the transport's environment (borrowed; see #RtcPeerEnv)
 * @client: (nullable): the client's address, for logs and channels
 * @admission: (transfer full) (nullable): the client's admission (its
 *   principal goes on the channels; its place in the quotas is given back
 *   when the peer closes)
 *
 * Returns: (transfer full): a peer without a pipeline yet.
 */
RtcPeer *
rtc_peer_new (const RtcPeerEnv *env, const char *client, AeroAdmission *admission)
{
  static guint counter;
  RtcPeer *self = g_object_new (RTC_TYPE_PEER, NULL);

  self->component = g_object_ref (env->component);
  self->host = env->host;
  self->config = env->config;
  self->metrics = rtc_metrics_ref (env->metrics);
  self->policy = env->policy ? g_object_ref (env->policy) : NULL;
  self->context = g_main_context_ref (env->context);
  self->name = g_strdup (env->name);
  self->id = g_strdup_printf ("p%u", ++counter);
  self->client = g_strdup (client);
  self->admission = admission;
  self->principal = g_strdup (admission ? admission->principal : NULL);
  return self;
}

/**
 * rtc_peer_start:
 * @self: a new peer
 * @error: return location for a #GError
 *
 * Builds the pipeline (webrtcbin, ICE servers and local addresses) and
 * starts the connect timer.
 *
 * Returns: %TRUE on success; on failure the peer is closed.
 */
gboolean
rtc_peer_start (RtcPeer *self, GError **error)
{
  g_autoptr (GstBus) bus = NULL;

  self->pipeline = gst_pipeline_new (NULL);
  self->webrtc = gst_element_factory_make ("webrtcbin", NULL);
  if (self->webrtc == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                           "GStreamer has no webrtcbin element (Debian: gstreamer1.0-plugins-bad, "
                           "gstreamer1.0-nice)");
      rtc_peer_close (self, RTC_PEER_END_NEGOTIATION, "no webrtcbin");
      return FALSE;
    }
  gst_bin_add (GST_BIN (self->pipeline), self->webrtc);
  /* Before our own on-data-channel handler: the channel is held first. */
  pipeline_keep_channels (self->pipeline, self->webrtc);
  g_object_set (self->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
  if (self->config->stun_server)
    g_object_set (self->webrtc, "stun-server", self->config->stun_server, NULL);
  for (guint i = 0; self->config->turn_servers && self->config->turn_servers[i]; i++)
    {
      gboolean ok = FALSE;

      g_signal_emit_by_name (self->webrtc, "add-turn-server", self->config->turn_servers[i], &ok);
      if (!ok)
        AERO_LOG_WARNING (self->name, "peer", self->id, "MESSAGE",
                          "webrtcbin refused TURN server #%u", i + 1);
    }
  if (!peer_setup_ice (self, error))
    {
      rtc_peer_close (self, RTC_PEER_END_NEGOTIATION, "ICE set-up failed");
      return FALSE;
    }

  connect_webrtc (self, "on-ice-candidate", G_CALLBACK (on_ice_candidate_thread));
  connect_webrtc (self, "on-data-channel", G_CALLBACK (on_data_channel_thread));
  connect_webrtc (self, "notify::ice-gathering-state", G_CALLBACK (on_gathering_state_thread));
  connect_webrtc (self, "notify::connection-state", G_CALLBACK (on_connection_state_thread));

  bus = gst_pipeline_get_bus (GST_PIPELINE (self->pipeline));
  self->bus_watch = gst_bus_create_watch (bus);
  g_source_set_callback (self->bus_watch, (GSourceFunc) (void (*) (void)) bus_cb, self, NULL);
  g_source_attach (self->bus_watch, self->context);

  if (gst_element_set_state (self->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "webrtcbin did not start");
      rtc_peer_close (self, RTC_PEER_END_NEGOTIATION, "webrtcbin did not start");
      return FALSE;
    }
  /* Until the answer is out, gathering may take ice-gather-timeout more. */
  self->connect_timer = g_timeout_add ((guint) (self->config->connect_timeout_ms +
                                                self->config->ice_gather_timeout_ms),
                                       connect_timeout_cb, self);
  aero_metric_inc (self->metrics->peers_created);
  aero_metric_add (self->metrics->peers_active, 1);
  self->counted = TRUE;
  AERO_LOG_INFO (self->name, "peer", self->id, "client", client_text (self), "MESSAGE",
                 "peer connection created");
  return TRUE;
}

/**
 * rtc_peer_answer:
 * @self: a started peer
 * @offer: the client's SDP offer
 * @trickle: whether candidates are trickled ("local-candidate") rather
 *   than gathered into the answer
 * @error: return location for a #GError
 *
 * Starts answering; "answer" follows (with the SDP or an error text).
 *
 * Returns: %FALSE, with @error set, when the offer is unusable.
 */
gboolean
rtc_peer_answer (RtcPeer *self, const char *offer, gboolean trickle, GError **error)
{
  GstSDPMessage *sdp;
  GstWebRTCSessionDescription *desc;
  GstPromise *promise;

  if (self->negotiating)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                           "renegotiation is not supported: open a new peer connection");
      return FALSE;
    }
  sdp = rtc_sdp_parse_offer (offer, error);
  if (sdp == NULL)
    return FALSE;
  self->negotiating = TRUE;
  self->trickle = trickle;
  desc = gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  promise = peer_promise (self, on_remote_set);
  g_signal_emit_by_name (self->webrtc, "set-remote-description", desc, promise);
  gst_promise_unref (promise);
  gst_webrtc_session_description_free (desc);
  return TRUE;
}

/**
 * rtc_peer_add_candidate:
 * @self: a peer
 * @mline: the m-line index the candidate belongs to
 * @candidate: a `candidate:…` attribute value from the client
 */
void
rtc_peer_add_candidate (RtcPeer *self, guint mline, const char *candidate)
{
  if (self->closed || self->webrtc == NULL)
    return;
  g_signal_emit_by_name (self->webrtc, "add-ice-candidate", mline, candidate);
}

/**
 * rtc_peer_close:
 * @self: a peer
 * @reason: why (metrics)
 * @detail: text for the log
 *
 * Tears the peer connection down: its channels end (their sessions close),
 * webrtcbin stops, "closed" is emitted. Idempotent.
 */
void
rtc_peer_close (RtcPeer *self, RtcPeerEndReason reason, const char *detail)
{
  AeroCloseReason channel_reason = reason == RTC_PEER_END_STOPPED ? AERO_CLOSE_SHUTDOWN
                                                                  : AERO_CLOSE_NORMAL;
  if (self->closed)
    return;
  g_object_ref (self);
  g_clear_handle_id (&self->connect_timer, g_source_remove);
  g_clear_handle_id (&self->gather_timer, g_source_remove);

  if (self->l2)
    {
      g_autoptr (RtcL2Channel) l2 = g_steal_pointer (&self->l2);

      g_signal_handlers_disconnect_by_data (l2, self);
      rtc_l2_channel_abort (l2, channel_reason, detail);
    }
  if (self->udp)
    {
      g_autoptr (RtcUdpRelay) udp = g_steal_pointer (&self->udp);

      g_signal_handlers_disconnect_by_data (udp, self);
      rtc_udp_relay_stop (udp, detail);
    }
  self->closed = TRUE;

  if (self->negotiating && !self->answered)
    {
      self->answered = TRUE;
      g_signal_emit (self, signals[SIGNAL_ANSWER], 0, NULL, detail);
    }

  if (self->bus_watch)
    {
      g_source_destroy (self->bus_watch);
      g_clear_pointer (&self->bus_watch, g_source_unref);
    }
  if (self->webrtc)
    for (guint i = 0; i < self->handlers->len; i++)
      g_signal_handler_disconnect (self->webrtc,
                                   (gulong) GPOINTER_TO_SIZE (g_ptr_array_index (self->handlers, i)));
  g_ptr_array_set_size (self->handlers, 0);
  if (self->pipeline)
    {
      /* Nothing calls back into the peer from here on. While the transport
       * runs, webrtcbin lingers a little so that the channel closes go out;
       * not for a client that opened too many channels, which could go on
       * opening more (each held until the pipeline stops). */
      self->webrtc = NULL;
      if (reason == RTC_PEER_END_STOPPED || reason == RTC_PEER_END_TOO_MANY_CHANNELS)
        pipeline_stop (g_steal_pointer (&self->pipeline));
      else
        pipeline_linger (g_steal_pointer (&self->pipeline), self->metrics);
    }
  else
    gst_clear_object (&self->webrtc);

  if (self->counted)
    {
      aero_metric_add (self->metrics->peers_active, -1);
      aero_metric_inc (self->metrics->peers_closed[reason]);
      AERO_LOG_INFO (self->name, "peer", self->id, "client", client_text (self), "reason",
                     rtc_peer_end_reason_to_string (reason), "MESSAGE",
                     "peer connection closed: %s", detail ? detail : "-");
    }
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0);

  /* What belongs to the main context goes now: a callback still running
   * on a webrtcbin thread may hold the last reference. */
  g_clear_pointer (&self->metrics, rtc_metrics_unref);
  g_clear_object (&self->component);
  g_clear_object (&self->policy);
  g_clear_pointer (&self->admission, rtc_admission_free);
  self->host = NULL;
  g_object_unref (self);
}

gboolean
rtc_peer_is_closed (RtcPeer *self)
{
  return self->closed;
}

const char *
rtc_peer_get_id (RtcPeer *self)
{
  return self->id;
}

const char *
rtc_peer_get_client (RtcPeer *self)
{
  return self->client;
}

const char *
rtc_peer_get_principal (RtcPeer *self)
{
  return self->principal;
}

/**
 * rtc_peer_get_backlog:
 * @self: a peer
 *
 * Returns: the buffered amount of its channels, in bytes.
 */
guint64
rtc_peer_get_backlog (RtcPeer *self)
{
  guint64 total = 0;

  if (self->l2)
    total += rtc_l2_channel_get_backlog (self->l2);
  if (self->udp)
    total += rtc_udp_relay_get_backlog (self->udp);
  return total;
}

static void
rtc_peer_dispose (GObject *object)
{
  RtcPeer *self = RTC_PEER (object);

  if (!self->closed && self->metrics != NULL)
    rtc_peer_close (self, RTC_PEER_END_STOPPED, "released");
  G_OBJECT_CLASS (rtc_peer_parent_class)->dispose (object);
}

static void
rtc_peer_finalize (GObject *object)
{
  RtcPeer *self = RTC_PEER (object);

  /* Plain memory only: this may run on a webrtcbin thread. */
  g_ptr_array_unref (self->handlers);
  g_ptr_array_unref (self->candidates);
  if (self->context)
    g_main_context_unref (self->context);
  g_free (self->name);
  g_free (self->id);
  g_free (self->client);
  g_free (self->principal);
  G_OBJECT_CLASS (rtc_peer_parent_class)->finalize (object);
}

static void
rtc_peer_class_init (RtcPeerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = rtc_peer_dispose;
  object_class->finalize = rtc_peer_finalize;

  /**
   * RtcPeer::answer:
   * @sdp: (nullable): the answer's SDP, or %NULL on failure
   * @error: (nullable): why negotiation failed
   *
   * Emitted once after rtc_peer_answer().
   */
  signals[SIGNAL_ANSWER] = g_signal_new ("answer", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING,
                                         G_TYPE_STRING);
  /**
   * RtcPeer::local-candidate:
   * @mline: m-line index
   * @mid: (nullable): its mid
   * @candidate: the `candidate:…` value
   *
   * With trickle, emitted for each local candidate after "answer".
   */
  signals[SIGNAL_LOCAL_CANDIDATE] = g_signal_new ("local-candidate", G_TYPE_FROM_CLASS (klass),
                                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                  G_TYPE_NONE, 3, G_TYPE_UINT, G_TYPE_STRING,
                                                  G_TYPE_STRING);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                         NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
rtc_peer_init (RtcPeer *self)
{
  self->handlers = g_ptr_array_new ();
  self->candidates = g_ptr_array_new_with_free_func ((GDestroyNotify) local_candidate_free);
}

/**
 * rtc_peer_has_channel:
 * @self: a peer
 *
 * Returns: whether a DataChannel of the peer has ever been accepted.
 */
gboolean
rtc_peer_has_channel (RtcPeer *self)
{
  return self->had_channel;
}
