/* rtc-sdp.h — the SDP work of the answering side: checking an offer,
 * advertising max-message-size (webrtcbin never writes it), and the mid of
 * an m-line for trickled candidates. */
#pragma once

#include <gio/gio.h>
#include <gst/sdp/sdp.h>

G_BEGIN_DECLS

GstSDPMessage *rtc_sdp_parse_offer (const char *text, GError **error);
void rtc_sdp_set_max_message_size (GstSDPMessage *sdp, guint64 size);
guint64 rtc_sdp_get_max_message_size (const GstSDPMessage *sdp);
char *rtc_sdp_get_mid (const GstSDPMessage *sdp, guint mline);

G_END_DECLS
