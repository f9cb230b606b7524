/* rtc-sdp.c — SDP helpers for answers (see the header). */
#include <string.h>

#include "rtc-sdp.h"

static gboolean
is_data_media (const GstSDPMedia *media)
{
  const char *type = gst_sdp_media_get_media (media);
  const char *proto = gst_sdp_media_get_proto (media);

  return type && strcmp (type, "application") == 0 && proto && strstr (proto, "SCTP") != NULL;
}

/**
 * rtc_sdp_parse_offer:
 * @text: SDP text from a client
 * @error: return location for a #GError
 *
 * Parses an offer and checks that it negotiates an SCTP association (an
 * `m=application … SCTP` section): without one no DataChannel can open.
 *
 * Returns: (transfer full) (nullable): the parsed offer.
 */
GstSDPMessage *
rtc_sdp_parse_offer (const char *text, GError **error)
{
  GstSDPMessage *sdp = NULL;
  gboolean data = FALSE;

  if (gst_sdp_message_new_from_text (text, &sdp) != GST_SDP_OK || sdp == NULL ||
      gst_sdp_message_medias_len (sdp) == 0)
    {
      if (sdp)
        gst_sdp_message_free (sdp);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the offer is not a valid SDP description");
      return NULL;
    }
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    if (is_data_media (gst_sdp_message_get_media (sdp, i)))
      data = TRUE;
  if (!data)
    {
      gst_sdp_message_free (sdp);
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "the offer has no DataChannel section (m=application … SCTP): "
                           "create a DataChannel before the offer");
      return NULL;
    }
  return sdp;
}

/**
 * rtc_sdp_set_max_message_size:
 * @sdp: an answer about to be set as the local description
 * @size: the largest message accepted
 *
 * Writes `a=max-message-size:SIZE` (RFC 8841) into every SCTP section,
 * replacing any value already there.
 */
void
rtc_sdp_set_max_message_size (GstSDPMessage *sdp, guint64 size)
{
  g_autofree char *value = g_strdup_printf ("%" G_GUINT64_FORMAT, size);

  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      GstSDPMedia *media = (GstSDPMedia *) gst_sdp_message_get_media (sdp, i);

      if (!is_data_media (media))
        continue;
      for (guint j = gst_sdp_media_attributes_len (media); j > 0; j--)
        {
          const GstSDPAttribute *a = gst_sdp_media_get_attribute (media, j - 1);

          if (g_strcmp0 (a->key, "max-message-size") == 0)
            gst_sdp_media_remove_attribute (media, j - 1);
        }
      gst_sdp_media_add_attribute (media, "max-message-size", value);
    }
}

/**
 * rtc_sdp_get_max_message_size:
 * @sdp: a description
 *
 * Returns: the first `a=max-message-size` of an SCTP section, 0 when absent.
 */
guint64
rtc_sdp_get_max_message_size (const GstSDPMessage *sdp)
{
  for (guint i = 0; i < gst_sdp_message_medias_len (sdp); i++)
    {
      const GstSDPMedia *media = gst_sdp_message_get_media (sdp, i);
      const char *v;

      if (!is_data_media (media))
        continue;
      v = gst_sdp_media_get_attribute_val (media, "max-message-size");
      if (v)
        return g_ascii_strtoull (v, NULL, 10);
    }
  return 0;
}

/**
 * rtc_sdp_get_mid:
 * @sdp: a description
 * @mline: an m-line index
 *
 * Returns: (transfer full) (nullable): the `a=mid` of that section.
 */
char *
rtc_sdp_get_mid (const GstSDPMessage *sdp, guint mline)
{
  if (sdp == NULL || mline >= gst_sdp_message_medias_len (sdp))
    return NULL;
  return g_strdup (gst_sdp_media_get_attribute_val (gst_sdp_message_get_media (sdp, mline),
                                                     "mid"));
}
