/* ws-frame-reader.h — reads the WebSocket frames the guard does not take
 * out itself: control frames, text messages, and frames that break the
 * rules of RFC 6455.
 *
 * The guard (ws-guard-input-stream.h) hands binary messages straight to the
 * tunnel and leaves the rest of the stream, in order, to a reader. This is
 * that reader. Bytes go in with ws_frame_reader_push(); events come out of
 * ws_frame_reader_next() one at a time:
 *
 *  - WS_FRAME_CONTROL: a close, ping or pong frame, its payload unmasked.
 *    A close frame's payload has been checked: empty, or a code a peer may
 *    send (RFC 6455 §7.4: 1000–1003, 1007–1011, 3000–4999) followed by
 *    UTF-8 text;
 *  - WS_FRAME_MESSAGE: a whole text (valid UTF-8) or binary message,
 *    reassembled from its fragments;
 *  - WS_FRAME_ERROR: the peer broke the protocol; the event carries the
 *    close code to answer with (1002 protocol error, 1007 text that is not
 *    UTF-8, 1009 a message above the bound). Nothing is read after it,
 *    nor after a close frame.
 *
 * What it checks: the reserved bits, masking (a client's frames are masked,
 * a server's are not), the shortest length encoding, control frames
 * unfragmented and at most 125 bytes, known opcodes, fragments in order.
 * Memory: at most one frame is buffered (the guard bounds data messages
 * before they get here; a control frame is at most 139 bytes) and one
 * message under reassembly, at most @max_message bytes. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define WS_OPCODE_CONTINUATION 0x0
#define WS_OPCODE_TEXT 0x1
#define WS_OPCODE_BINARY 0x2
#define WS_OPCODE_CLOSE 0x8
#define WS_OPCODE_PING 0x9
#define WS_OPCODE_PONG 0xA

/* Close codes (RFC 6455 §7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_PROTOCOL_ERROR 1002
#define WS_CLOSE_NO_STATUS 1005
#define WS_CLOSE_BAD_DATA 1007
#define WS_CLOSE_TOO_BIG 1009

typedef enum {
  WS_FRAME_NEED_MORE,
  WS_FRAME_CONTROL,
  WS_FRAME_MESSAGE,
  WS_FRAME_ERROR,
} WsFrameResult;

typedef struct {
  guint8 opcode;      /* control: close, ping or pong; message: text or binary */
  GBytes *payload;    /* unmasked; owned by the event (ws_frame_event_clear()) */
  guint16 error_code; /* WS_FRAME_ERROR: the close code to answer with */
  const char *error;  /* WS_FRAME_ERROR: what was wrong, for logs */
} WsFrameEvent;

typedef struct {
  gboolean expect_masked;
  guint64 max_message;  /* bound on a reassembled data message (0: none) */
  GByteArray *buf;      /* bytes not yet parsed (at most one frame) */
  GByteArray *message;  /* data message under reassembly */
  guint8 message_opcode;
  gboolean done;        /* a close frame or an error was returned */
} WsFrameReader;

void ws_frame_reader_init (WsFrameReader *reader, gboolean expect_masked, guint64 max_message);
void ws_frame_reader_clear (WsFrameReader *reader);
void ws_frame_reader_push (WsFrameReader *reader, const guint8 *data, gsize len);
WsFrameResult ws_frame_reader_next (WsFrameReader *reader, WsFrameEvent *event);
void ws_frame_event_clear (WsFrameEvent *event);

guint16 ws_frame_close_code (GBytes *payload);
gboolean ws_frame_close_code_is_valid (guint16 code);

G_END_DECLS
