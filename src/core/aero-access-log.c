/* aero-access-log.c — one line per tunnel or signalling request, through
 * the core logger with component `access` (see aero_host_log_access()).
 * The line names the peer, the principal, the origin, the verdict, the
 * status and the reason. The query string (which may hold a token) and
 * every credential stay out of it. */
#include <string.h>

#include "aero-net/aero-admission.h"
#include "aero-net/aero-log.h"

#define COMPONENT "access"
#define MAX_RAW_ORIGIN 128

void
aero_host_log_access (AeroHost *host, SoupServerMessage *msg, const AeroAdmission *admission,
                      guint status, const char *reason)
{
  AeroHttpRequest request;

  g_return_if_fail (SOUP_IS_SERVER_MESSAGE (msg));
  aero_http_request_init_from_message (&request, msg);
  aero_host_log_access_request (host, &request, admission, status, reason);
}

void
aero_host_log_access_request (AeroHost *host, const AeroHttpRequest *request,
                              const AeroAdmission *admission, guint status, const char *reason)
{
  g_autofree char *formatted = NULL;
  g_autofree char *origin = NULL;
  const char *peer;
  const char *raw_origin;
  const char *path;
  const char *method;
  const char *principal = "-";
  const char *session = "-";
  char status_text[8];

  g_return_if_fail (request != NULL && request->headers != NULL);

  if (request->peer)
    peer = request->peer;
  else if (request->remote)
    peer = formatted = g_socket_connectable_to_string (G_SOCKET_CONNECTABLE (request->remote));
  else
    peer = "-";
  path = request->path ? request->path : "-";
  method = request->method ? request->method : "-";

  /* The normalised origin when it was valid, else what the client sent
   * (shortened; the logger escapes control characters). */
  raw_origin = soup_message_headers_get_one (request->headers, "Origin");
  if (admission && admission->origin)
    origin = g_strdup (admission->origin);
  else if (raw_origin)
    origin = g_utf8_make_valid (raw_origin, MIN (strlen (raw_origin), MAX_RAW_ORIGIN));
  else
    origin = g_strdup ("-");

  if (admission && admission->principal)
    principal = admission->principal;
  if (admission && admission->session_id)
    session = admission->session_id;
  if (reason == NULL)
    reason = admission ? admission->reason : "-";
  g_snprintf (status_text, sizeof status_text, "%u", status);

  AERO_LOG_INFO (COMPONENT, "peer", peer, "principal", principal, "origin", origin, "verdict",
                 status < 400 ? "admitted" : "refused", "status", status_text, "reason", reason,
                 "method", method, "path", path, "credential_session", session, "MESSAGE",
                 "%s %s %u %s", method, path, status, reason);
}
