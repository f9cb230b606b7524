/* aero-l2-tunnel.h — the aero-l2-tunnel-v1 message codec.
 *
 * One transport message (a WebSocket binary message, a DataChannel
 * message) is one tunnel message: a 4-byte header — magic 0xA2, version
 * 0x03, type, flags — then the payload. FRAME carries one Ethernet frame,
 * PING/PONG carry opaque bytes (PONG echoes PING), ERROR carries UTF-8
 * text or a structured `code:u16 | len:u16 | msg[len]`. Every transport
 * and client of the project uses this one codec. */
#pragma once

#include <glib.h>
#include <aero-net/aero-channel.h>

G_BEGIN_DECLS

/** AERO_L2_SUBPROTOCOL: the WebSocket subprotocol a client must offer. */
#define AERO_L2_SUBPROTOCOL "aero-l2-tunnel-v1"
/** AERO_L2_TOKEN_PREFIX: prefix of the subprotocol entry carrying a credential. */
#define AERO_L2_TOKEN_PREFIX "aero-l2-token."
/** AERO_L2_MAGIC: first header byte. */
#define AERO_L2_MAGIC 0xA2
/** AERO_L2_VERSION: second header byte. */
#define AERO_L2_VERSION 0x03
/** AERO_L2_HEADER_LEN: header length in bytes. */
#define AERO_L2_HEADER_LEN 4
/** AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD: default FRAME payload limit. */
#define AERO_L2_DEFAULT_MAX_FRAME_PAYLOAD 2048
/** AERO_L2_DEFAULT_MAX_CONTROL_PAYLOAD: default PING/PONG/ERROR payload limit. */
#define AERO_L2_DEFAULT_MAX_CONTROL_PAYLOAD 256

/**
 * AeroL2Type:
 * @AERO_L2_FRAME: one Ethernet frame.
 * @AERO_L2_PING: keepalive request.
 * @AERO_L2_PONG: keepalive answer, echoing the PING payload.
 * @AERO_L2_ERROR: an error report.
 *
 * Message types.
 */
typedef enum {
  AERO_L2_FRAME = 0x00,
  AERO_L2_PING = 0x01,
  AERO_L2_PONG = 0x02,
  AERO_L2_ERROR = 0x7f,
} AeroL2Type;

/**
 * AeroL2ErrorCode:
 * @AERO_L2_ERROR_PROTOCOL: protocol_error
 * @AERO_L2_ERROR_AUTH_REQUIRED: auth_required
 * @AERO_L2_ERROR_AUTH_INVALID: auth_invalid
 * @AERO_L2_ERROR_ORIGIN_MISSING: origin_missing
 * @AERO_L2_ERROR_ORIGIN_DENIED: origin_denied
 * @AERO_L2_ERROR_QUOTA_BYTES: quota_bytes
 * @AERO_L2_ERROR_QUOTA_FPS: quota_fps
 * @AERO_L2_ERROR_QUOTA_CONNECTIONS: quota_connections
 * @AERO_L2_ERROR_BACKPRESSURE: backpressure
 *
 * Codes of structured ERROR messages.
 */
typedef enum {
  AERO_L2_ERROR_PROTOCOL = 1,
  AERO_L2_ERROR_AUTH_REQUIRED = 2,
  AERO_L2_ERROR_AUTH_INVALID = 3,
  AERO_L2_ERROR_ORIGIN_MISSING = 4,
  AERO_L2_ERROR_ORIGIN_DENIED = 5,
  AERO_L2_ERROR_QUOTA_BYTES = 6,
  AERO_L2_ERROR_QUOTA_FPS = 7,
  AERO_L2_ERROR_QUOTA_CONNECTIONS = 8,
  AERO_L2_ERROR_BACKPRESSURE = 9,
} AeroL2ErrorCode;

/**
 * AeroL2DecodeResult:
 * @AERO_L2_DECODE_OK: a valid message.
 * @AERO_L2_DECODE_TOO_SHORT: shorter than the header.
 * @AERO_L2_DECODE_INVALID_MAGIC: first byte is not 0xA2.
 * @AERO_L2_DECODE_UNSUPPORTED_VERSION: second byte is not 0x03.
 * @AERO_L2_DECODE_PAYLOAD_TOO_LARGE: payload above the configured limit.
 *
 * Outcome of decoding one message. Unknown types decode as OK (receivers
 * ignore them).
 */
typedef enum {
  AERO_L2_DECODE_OK,
  AERO_L2_DECODE_TOO_SHORT,
  AERO_L2_DECODE_INVALID_MAGIC,
  AERO_L2_DECODE_UNSUPPORTED_VERSION,
  AERO_L2_DECODE_PAYLOAD_TOO_LARGE,
} AeroL2DecodeResult;

/**
 * AeroL2Limits:
 * @max_frame_payload: FRAME payload limit in bytes
 * @max_control_payload: PING, PONG and ERROR payload limit in bytes
 *
 * Receive limits. Unknown types are bounded by the larger of the two.
 */
typedef struct {
  gsize max_frame_payload;
  gsize max_control_payload;
} AeroL2Limits;

/**
 * AeroL2Message:
 * @type: the message type (may be unknown)
 * @flags: the flags byte (unknown bits are ignored)
 * @payload: points into the decoded buffer
 * @payload_len: payload length
 *
 * A decoded message; it borrows the buffer it was decoded from.
 */
typedef struct {
  guint8 type;
  guint8 flags;
  const guint8 *payload;
  gsize payload_len;
} AeroL2Message;

/**
 * aero_l2_decode:
 * @data: (array length=len): one transport message
 * @len: its length
 * @limits: (nullable): receive limits, %NULL for the defaults
 * @out: (out caller-allocates): the message, valid when OK is returned
 *
 * Decodes one message, bounds-checked.
 *
 * Returns: the outcome.
 */
AeroL2DecodeResult aero_l2_decode (const guint8 *data, gsize len, const AeroL2Limits *limits,
                                   AeroL2Message *out);

/**
 * aero_l2_decode_result_to_string:
 * @result: an outcome
 *
 * Returns: (transfer none): a short English description, e.g. "invalid magic".
 */
const char *aero_l2_decode_result_to_string (AeroL2DecodeResult result);

/**
 * aero_l2_max_message_size:
 * @limits: (nullable): receive limits, %NULL for the defaults
 *
 * Returns: the largest acceptable transport message: header plus the larger
 *   payload limit. Transports refuse bigger messages before buffering them.
 */
gsize aero_l2_max_message_size (const AeroL2Limits *limits);

/**
 * aero_l2_write_header:
 * @out: (out caller-allocates) (array fixed-size=4): where to write
 * @type: message type
 *
 * Writes the header of a message of @type with flags 0, for senders that
 * put the payload after it themselves (aero_l2_encode() does both).
 */
void aero_l2_write_header (guint8 out[AERO_L2_HEADER_LEN], guint8 type);

/**
 * aero_l2_encode:
 * @type: message type
 * @payload: (array length=len) (nullable): payload bytes
 * @len: payload length
 *
 * Builds one message with flags 0.
 *
 * Returns: (transfer full): the message.
 */
GBytes *aero_l2_encode (guint8 type, const guint8 *payload, gsize len);

/**
 * aero_l2_encode_frame:
 * @frame: an Ethernet frame
 *
 * Builds a FRAME message around @frame.
 *
 * Returns: (transfer full): the message.
 */
GBytes *aero_l2_encode_frame (GBytes *frame);

/**
 * aero_l2_encode_error:
 * @code: an #AeroL2ErrorCode
 * @message: UTF-8 text (truncated to fit 65535 bytes)
 *
 * Builds a structured ERROR message.
 *
 * Returns: (transfer full): the message.
 */
GBytes *aero_l2_encode_error (guint16 code, const char *message);

/**
 * aero_l2_parse_error:
 * @payload: (array length=len): an ERROR payload
 * @len: its length
 * @code: (out): the code, 0 for an unstructured error
 * @message: (out) (transfer full): the text (invalid UTF-8 replaced)
 *
 * Reads an ERROR payload: structured when `4 + len` matches exactly,
 * otherwise UTF-8 text.
 *
 * Returns: %TRUE when the payload was structured.
 */
gboolean aero_l2_parse_error (const guint8 *payload, gsize len, guint16 *code, char **message);

/**
 * aero_l2_error_code_for_close:
 * @reason: a close reason
 *
 * Returns: the ERROR code a tunnel sends before closing for @reason, or 0
 *   when none is sent (normal close, shutdown, idle).
 */
guint16 aero_l2_error_code_for_close (AeroCloseReason reason);

/**
 * aero_l2_websocket_close_code:
 * @reason: a close reason
 *
 * Returns: the WebSocket close code for @reason: 1000 normal, 1001
 *   shutdown, 1002 protocol error, 1008 policy and quotas, 1011 internal
 *   error.
 */
guint16 aero_l2_websocket_close_code (AeroCloseReason reason);

G_END_DECLS
