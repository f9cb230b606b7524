/* rtc-signal-http.c — the non-trickle offer endpoint and its CORS preflight
 * (see the header). */
#include <string.h>

#include <json-glib/json-glib.h>

#include "rtc-json.h"
#include "rtc-signal-http.h"

/* RFC 6585; libsoup 3.2 has no name for it. */
#define HTTP_TOO_MANY_REQUESTS 429

struct _RtcSignalHttp
{
  RtcServer *server;            /* unowned: the server owns this */
  GHashTable *pending;          /* Pending*: requests waiting for their answer */
};

/* A paused request waiting for its peer's answer. */
typedef struct {
  RtcSignalHttp *http;
  SoupServerMessage *msg;       /* owned */
  RtcPeer *peer;                /* owned */
  gulong answer_handler;
  gulong finished_handler;
} Pending;

static void
pending_free (Pending *p)
{
  g_clear_signal_handler (&p->answer_handler, p->peer);
  g_clear_signal_handler (&p->finished_handler, p->msg);
  g_object_unref (p->peer);
  g_object_unref (p->msg);
  g_free (p);
}

/* ---- answers ---------------------------------------------------------------------- */

static void
reply_json (SoupServerMessage *msg, guint status, JsonBuilder *builder)
{
  g_autoptr (JsonNode) root = json_builder_get_root (builder);
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  gsize len = 0;
  char *body;

  json_generator_set_root (generator, root);
  body = json_generator_to_data (generator, &len);
  soup_message_headers_replace (headers, "Cache-Control", "no-store");
  soup_server_message_set_status (msg, status, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_TAKE, body, len);
}

static void
reply_error (SoupServerMessage *msg, guint status, const char *text)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_add_string_value (b, text);
  json_builder_end_object (b);
  reply_json (msg, status, b);
}

/* Answers @msg with a refusal and writes the access log. @admission
 * (nullable) is the admission check's answer when it ran. */
static void
refuse (RtcSignalHttp *self, SoupServerMessage *msg, guint status, RtcRefuseReason reason,
        const char *text, const AeroAdmission *admission)
{
  RtcMetrics *metrics = rtc_server_get_metrics (self->server);
  const char *why = reason == RTC_REFUSE_ADMISSION && admission ? admission->reason
                                                                : rtc_refuse_reason_to_string (reason);

  if (metrics)
    aero_metric_inc (metrics->peers_refused[reason]);
  if (status == SOUP_STATUS_METHOD_NOT_ALLOWED)
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
                                  "POST, OPTIONS");
  AERO_LOG_DEBUG (rtc_server_get_name (self->server), "reason",
                  rtc_refuse_reason_to_string (reason), "MESSAGE", "offer refused with %u: %s",
                  status, text);
  reply_error (msg, status, text);
  rtc_server_log_access (self->server, msg, admission, status, why);
}

/* Lets the admitted Origin read the answer (CORS). */
static void
allow_origin (SoupServerMessage *msg)
{
  const char *origin = soup_message_headers_get_one (soup_server_message_get_request_headers (msg),
                                                     "Origin");
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);

  if (origin == NULL)
    return;
  soup_message_headers_replace (headers, "Access-Control-Allow-Origin", origin);
  soup_message_headers_append (headers, "Vary", "Origin");
}

/* Runs the admission checks; on a refusal answers @msg and returns FALSE. */
static gboolean
admit (RtcSignalHttp *self, SoupServerMessage *msg, RtcAdmissionKind kind,
       AeroAdmission **admission)
{
  RtcAdmissionVerdict verdict;

  rtc_server_admit (self->server, kind, msg, NULL, &verdict);
  if (verdict.status != 0)
    {
      refuse (self, msg, verdict.status, RTC_REFUSE_ADMISSION,
              verdict.text ? verdict.text : "not admitted", verdict.admission);
      rtc_admission_free (verdict.admission);
      return FALSE;
    }
  *admission = verdict.admission;
  return TRUE;
}

static void
preflight (RtcSignalHttp *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  AeroAdmission *admission = NULL;

  if (!admit (self, msg, RTC_ADMISSION_PREFLIGHT, &admission))
    return;
  rtc_admission_free (admission);
  allow_origin (msg);
  soup_message_headers_replace (headers, "Access-Control-Allow-Methods", "POST");
  soup_message_headers_replace (headers, "Access-Control-Allow-Headers",
                                "Content-Type, Authorization");
  soup_message_headers_replace (headers, "Access-Control-Max-Age", "600");
  soup_message_headers_replace (headers, "Allow", "POST, OPTIONS");
  soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, NULL);
  rtc_server_log_access (self->server, msg, NULL, SOUP_STATUS_NO_CONTENT, "preflight");
}

/* ---- the answer ----------------------------------------------------------------- */

static void
on_answer (RtcPeer *peer, const char *sdp, const char *error, gpointer user_data)
{
  Pending *p = user_data;
  RtcSignalHttp *self = p->http;
  SoupServerMessage *msg = p->msg;

  if (sdp != NULL)
    {
      g_autoptr (JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "type");
      json_builder_add_string_value (b, "answer");
      json_builder_set_member_name (b, "sdp");
      json_builder_add_string_value (b, sdp);
      json_builder_end_object (b);
      reply_json (msg, SOUP_STATUS_OK, b);
      rtc_server_log_access (self->server, msg, NULL, SOUP_STATUS_OK, "admitted");
    }
  else
    {
      reply_error (msg, SOUP_STATUS_INTERNAL_SERVER_ERROR, error ? error : "negotiation failed");
      rtc_server_log_access (self->server, msg, NULL, SOUP_STATUS_INTERNAL_SERVER_ERROR,
                             "negotiation_failed");
    }
  soup_server_message_unpause (msg);
  g_hash_table_remove (self->pending, p);
}

/* The client went away before its answer: nobody will ever use the peer. */
static void
on_finished (SoupServerMessage *msg, gpointer user_data)
{
  Pending *p = user_data;
  g_autoptr (RtcPeer) peer = g_object_ref (p->peer);

  g_hash_table_remove (p->http->pending, p);
  rtc_peer_close (peer, RTC_PEER_END_SIGNALLING_GONE, "the offer's request ended before its answer");
}

static gboolean
parse_offer (GBytes *body, char **sdp, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  JsonNode *root;
  JsonObject *object;
  const char *type, *text;
  gsize len = 0;
  const char *data = g_bytes_get_data (body, &len);

  if (len == 0 || !json_parser_load_from_data (parser, data, (gssize) len, NULL) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "expected a JSON object {\"type\":\"offer\",\"sdp\":\"…\"}");
      return FALSE;
    }
  object = json_node_get_object (root);
  /* A member of another type (a number, an object…) is as bad as none. */
  type = rtc_json_get_string (object, "type");
  text = rtc_json_get_string (object, "sdp");
  if (g_strcmp0 (type, "offer") != 0 || text == NULL)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "expected {\"type\":\"offer\",\"sdp\":\"…\"}");
      return FALSE;
    }
  *sdp = g_strdup (text);
  return TRUE;
}

/* ---- entry points ------------------------------------------------------------- */

RtcSignalHttp *
rtc_signal_http_new (RtcServer *server)
{
  RtcSignalHttp *self = g_new0 (RtcSignalHttp, 1);

  self->server = server;
  self->pending = g_hash_table_new_full (g_direct_hash, g_direct_equal,
                                         (GDestroyNotify) pending_free, NULL);
  return self;
}

/**
 * rtc_signal_http_early:
 * @self: the endpoint
 * @msg: a request whose headers have been read, not its body
 *
 * Refuses a POST body that would be too big before libsoup reads it.
 */
void
rtc_signal_http_early (RtcSignalHttp *self, SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  guint64 limit = rtc_server_get_config (self->server)->signal_max_message;

  if (soup_server_message_get_method (msg) != SOUP_METHOD_POST)
    return;
  if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH ||
      (guint64) soup_message_headers_get_content_length (headers) > limit)
    {
      /* libsoup still reads the body before it answers: let it read it
       * into nothing. */
      soup_message_body_set_accumulate (soup_server_message_get_request_body (msg), FALSE);
    }
  if (soup_message_headers_get_encoding (headers) != SOUP_ENCODING_CONTENT_LENGTH)
    {
      refuse (self, msg, SOUP_STATUS_LENGTH_REQUIRED, RTC_REFUSE_TOO_LARGE,
              "an offer needs a Content-Length", NULL);
      return;
    }
  if ((guint64) soup_message_headers_get_content_length (headers) > limit)
    {
      g_autofree char *text = g_strdup_printf ("the offer is larger than %" G_GUINT64_FORMAT
                                               " bytes (signal-max-message)", limit);

      refuse (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, RTC_REFUSE_TOO_LARGE, text, NULL);
    }
}

/**
 * rtc_signal_http_handle:
 * @self: the endpoint
 * @msg: a request with its body
 * @path: its path
 */
void
rtc_signal_http_handle (RtcSignalHttp *self, SoupServerMessage *msg, const char *path)
{
  const RtcConfig *config = rtc_server_get_config (self->server);
  const char *method = soup_server_message_get_method (msg);
  g_autofree char *client = rtc_server_peer_of (msg);
  g_autofree char *sdp = NULL;
  g_autoptr (GBytes) body = NULL;
  g_autoptr (GError) error = NULL;
  AeroAdmission *admission = NULL;
  RtcRefuseReason refusal;
  RtcPeer *peer;
  Pending *p;

  if (method == SOUP_METHOD_OPTIONS)
    {
      preflight (self, msg);
      return;
    }
  if (method != SOUP_METHOD_POST)
    {
      refuse (self, msg, SOUP_STATUS_METHOD_NOT_ALLOWED, RTC_REFUSE_BAD_METHOD,
              "an offer is POSTed as {\"type\":\"offer\",\"sdp\":\"…\"}", NULL);
      return;
    }
  if (!rtc_server_is_accepting (self->server))
    {
      refuse (self, msg, SOUP_STATUS_SERVICE_UNAVAILABLE, RTC_REFUSE_SHUTTING_DOWN,
              "server shutting down", NULL);
      return;
    }
  if (!admit (self, msg, RTC_ADMISSION_OFFER, &admission))
    return;
  allow_origin (msg);

  body = soup_message_body_flatten (soup_server_message_get_request_body (msg));
  if (g_bytes_get_size (body) > config->signal_max_message)
    {
      refuse (self, msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, RTC_REFUSE_TOO_LARGE,
              "the offer is too large", admission);
      rtc_admission_free (admission);
      return;
    }
  if (!parse_offer (body, &sdp, &error))
    {
      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, RTC_REFUSE_BAD_REQUEST, error->message,
              admission);
      rtc_admission_free (admission);
      return;
    }

  /* The peer takes the admission over (and gives it back on failure). */
  peer = rtc_server_new_peer (self->server, client, admission, FALSE, &refusal, &error);
  if (peer == NULL)
    {
      guint status = refusal == RTC_REFUSE_MAX_PEERS ? HTTP_TOO_MANY_REQUESTS
                     : refusal == RTC_REFUSE_SHUTTING_DOWN ? SOUP_STATUS_SERVICE_UNAVAILABLE
                     : SOUP_STATUS_INTERNAL_SERVER_ERROR;

      refuse (self, msg, status, refusal, error->message, NULL);
      return;
    }
  p = g_new0 (Pending, 1);
  p->http = self;
  p->msg = g_object_ref (msg);
  p->peer = g_object_ref (peer);
  p->answer_handler = g_signal_connect (peer, "answer", G_CALLBACK (on_answer), p);
  if (!rtc_peer_answer (peer, sdp, FALSE, &error))
    {
      pending_free (p);
      refuse (self, msg, SOUP_STATUS_BAD_REQUEST, RTC_REFUSE_BAD_REQUEST, error->message, NULL);
      rtc_peer_close (peer, RTC_PEER_END_NEGOTIATION, error->message);
      return;
    }
  p->finished_handler = g_signal_connect (msg, "finished", G_CALLBACK (on_finished), p);
  g_hash_table_add (self->pending, p);
  soup_server_message_pause (msg);
}

/**
 * rtc_signal_http_stop:
 * @self: the endpoint
 *
 * Answers every waiting request with 503 (their peers are closed by the server).
 */
void
rtc_signal_http_stop (RtcSignalHttp *self)
{
  GHashTableIter iter;
  gpointer key;

  g_hash_table_iter_init (&iter, self->pending);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      Pending *p = key;

      g_clear_signal_handler (&p->answer_handler, p->peer);
      g_clear_signal_handler (&p->finished_handler, p->msg);
      reply_error (p->msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "server shutting down");
      soup_server_message_unpause (p->msg);
      g_hash_table_iter_remove (&iter);
    }
}

void
rtc_signal_http_free (RtcSignalHttp *self)
{
  if (self == NULL)
    return;
  rtc_signal_http_stop (self);
  g_hash_table_unref (self->pending);
  g_free (self);
}
