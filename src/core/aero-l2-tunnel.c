/* aero-l2-tunnel.c — encode and decode aero-l2-tunnel-v1 messages. */
#include <string.h>

#include "aero-net/aero-l2-tunnel.h"

static const AeroL2Limits default_limits = {
  AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD,
  AERO_L2_DEFAULT_MAX_CONTROL_PAYLOAD,
};

gsize
aero_l2_max_message_size (const AeroL2Limits *limits)
{
  if (limits == NULL)
    limits = &default_limits;
  return AERO_L2_HEADER_LEN + MAX (limits->max_frame_payload, limits->max_control_payload);
}

AeroL2DecodeResult
aero_l2_decode (const guint8 *data, gsize len, const AeroL2Limits *limits, AeroL2Message *out)
{
  gsize payload_len, limit;

  if (limits == NULL)
    limits = &default_limits;
  if (data == NULL || len < AERO_L2_HEADER_LEN)
    return AERO_L2_DECODE_TOO_SHORT;
  if (data[0] != AERO_L2_MAGIC)
    return AERO_L2_DECODE_INVALID_MAGIC;
  if (data[1] != AERO_L2_VERSION)
    return AERO_L2_DECODE_UNSUPPORTED_VERSION;

  payload_len = len - AERO_L2_HEADER_LEN;
  switch (data[2])
    {
    case AERO_L2_FRAME:
      limit = limits->max_frame_payload;
      break;
    case AERO_L2_PING:
    case AERO_L2_PONG:
    case AERO_L2_ERROR:
      limit = limits->max_control_payload;
      break;
    default:
      limit = MAX (limits->max_frame_payload, limits->max_control_payload);
      break;
    }
  if (payload_len > limit)
    return AERO_L2_DECODE_PAYLOAD_TOO_LARGE;

  out->type = data[2];
  out->flags = data[3];
  out->payload = data + AERO_L2_HEADER_LEN;
  out->payload_len = payload_len;
  return AERO_L2_DECODE_OK;
}

const char *
aero_l2_decode_result_to_string (AeroL2DecodeResult result)
{
  switch (result)
    {
    case AERO_L2_DECODE_OK: return "ok";
    case AERO_L2_DECODE_TOO_SHORT: return "message too short";
    case AERO_L2_DECODE_INVALID_MAGIC: return "invalid magic";
    case AERO_L2_DECODE_UNSUPPORTED_VERSION: return "unsupported version";
    case AERO_L2_DECODE_PAYLOAD_TOO_LARGE: return "payload too large";
    default: return "unknown";
    }
}

void
aero_l2_write_header (guint8 out[AERO_L2_HEADER_LEN], guint8 type)
{
  out[0] = AERO_L2_MAGIC;
  out[1] = AERO_L2_VERSION;
  out[2] = type;
  out[3] = 0;
}

GBytes *
aero_l2_encode (guint8 type, const guint8 *payload, gsize len)
{
  guint8 *buf = g_malloc (AERO_L2_HEADER_LEN + len);

  aero_l2_write_header (buf, type);
  if (len)
    memcpy (buf + AERO_L2_HEADER_LEN, payload, len);
  return g_bytes_new_take (buf, AERO_L2_HEADER_LEN + len);
}

GBytes *
aero_l2_encode_frame (GBytes *frame)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);

  return aero_l2_encode (AERO_L2_FRAME, data, len);
}

GBytes *
aero_l2_encode_error (guint16 code, const char *message)
{
  gsize mlen = message ? strlen (message) : 0;
  guint8 *buf;

  if (mlen > 65535)
    mlen = 65535;
  buf = g_malloc (AERO_L2_HEADER_LEN + 4 + mlen);
  buf[0] = AERO_L2_MAGIC;
  buf[1] = AERO_L2_VERSION;
  buf[2] = AERO_L2_ERROR;
  buf[3] = 0;
  buf[4] = code >> 8;
  buf[5] = code & 0xff;
  buf[6] = mlen >> 8;
  buf[7] = mlen & 0xff;
  if (mlen)
    memcpy (buf + 8, message, mlen);
  return g_bytes_new_take (buf, AERO_L2_HEADER_LEN + 4 + mlen);
}

gboolean
aero_l2_parse_error (const guint8 *payload, gsize len, guint16 *code, char **message)
{
  if (len >= 4 && (gsize) ((payload[2] << 8) | payload[3]) + 4 == len)
    {
      *code = (guint16) ((payload[0] << 8) | payload[1]);
      *message = g_utf8_make_valid ((const char *) payload + 4, (gssize) len - 4);
      return TRUE;
    }
  *code = 0;
  *message = g_utf8_make_valid ((const char *) payload, (gssize) len);
  return FALSE;
}

guint16
aero_l2_error_code_for_close (AeroCloseReason reason)
{
  switch (reason)
    {
    case AERO_CLOSE_PROTOCOL_ERROR: return AERO_L2_ERROR_PROTOCOL;
    case AERO_CLOSE_QUOTA_BYTES: return AERO_L2_ERROR_QUOTA_BYTES;
    case AERO_CLOSE_QUOTA_FPS: return AERO_L2_ERROR_QUOTA_FPS;
    case AERO_CLOSE_QUOTA_CONNECTIONS: return AERO_L2_ERROR_QUOTA_CONNECTIONS;
    case AERO_CLOSE_BACKPRESSURE: return AERO_L2_ERROR_BACKPRESSURE;
    case AERO_CLOSE_POLICY: return AERO_L2_ERROR_PROTOCOL;
    default: return 0;
    }
}

guint16
aero_l2_websocket_close_code (AeroCloseReason reason)
{
  switch (reason)
    {
    case AERO_CLOSE_NORMAL: return 1000;
    case AERO_CLOSE_SHUTDOWN: return 1001;
    case AERO_CLOSE_IDLE: return 1000;
    case AERO_CLOSE_PROTOCOL_ERROR: return 1002;
    case AERO_CLOSE_POLICY:
    case AERO_CLOSE_QUOTA_BYTES:
    case AERO_CLOSE_QUOTA_FPS:
    case AERO_CLOSE_QUOTA_CONNECTIONS:
    case AERO_CLOSE_BACKPRESSURE: return 1008;
    case AERO_CLOSE_INTERNAL_ERROR:
    default: return 1011;
    }
}
