/* tap-offload.h — what the tap plugin does to frames when its TAP device
 * carries a virtio-net header (IFF_VNET_HDR) and the kernel may hand it
 * large TCP segments (TSO) and partial checksums.
 *
 * From the kernel: partial checksums are completed, TCP segments larger
 * than the configured segment size are split into pieces of at most that
 * many payload bytes (each a valid TCP/IP packet with its own checksums),
 * and the MSS a SYN offers is raised to the segment size, so that the far
 * side sends segments that large back; the plugin splits them again on the
 * way in (see below). Nothing else is touched.
 *
 * To the kernel: a TCP segment whose payload is larger than one packet of
 * the device's MTU carries GSO fields, so the kernel splits it for
 * the guest; every other frame goes with an empty header.
 *
 * Merging, to the kernel (merge = true): consecutive TCP segments of one
 * flow that the tunnel delivers together are written as one large segment
 * with GSO fields, as a NIC's receive offload (GRO) would hand them to the
 * guest's stack: the guest's TCP runs, acknowledges and wakes its reader
 * once per burst instead of once per frame. Only segments that a receiver
 * could not tell apart from the burst's pieces are merged (the rules of
 * Linux's tcp_gro_receive(); see tap_merge_add()), and only with valid
 * checksums: the merged segment's checksum is left for the kernel to treat
 * as verified.
 *
 * Pure functions on buffers, no I/O: tested in tests/test-offload.c. */
#pragma once

#include <glib.h>
#include <linux/virtio_net.h>

G_BEGIN_DECLS

/* Smallest and largest TCP payload per piece (the largest keeps an IPv6
 * frame with 60 bytes of TCP header within 65,535 bytes). */
#define TAP_OFFLOAD_SEGMENT_MIN 536
#define TAP_OFFLOAD_SEGMENT_MAX 65401

typedef enum {
  TAP_OFFLOAD_OK,
  TAP_OFFLOAD_MALFORMED, /* header or packet that does not add up: dropped */
  TAP_OFFLOAD_UNSUPPORTED, /* GSO of a kind the plugin does not ask for (UDP): dropped */
} TapOffloadResult;

typedef void (*TapOffloadEmit) (GBytes *frame, gpointer data);

/* FRAME (LEN bytes, modified in place) was read from the device with HDR.
 * Calls EMIT once per resulting frame. *PIECES is set to the number of
 * frames emitted. */
TapOffloadResult tap_offload_from_kernel (const struct virtio_net_hdr *hdr, guint8 *frame,
                                          gsize len, guint segment, TapOffloadEmit emit,
                                          gpointer data, guint *pieces);

/* Fills HDR for writing FRAME (LEN bytes) to a device of MTU. Returns TRUE
 * when the frame needs GSO: its TCP checksum field (at csum_start +
 * csum_offset) must then be written as PARTIAL, the pseudo-header sum the
 * kernel expects, instead of the frame's own. */
gboolean tap_offload_to_kernel (const guint8 *frame, gsize len, guint mtu,
                                struct virtio_net_hdr *hdr, guint8 partial[2]);

/* Largest frame a merge builds: an IP packet of at most 65,535 bytes
 * behind an Ethernet header and two VLAN tags. */
#define TAP_MERGE_FRAME_MAX (14 + 8 + 65535)

/* A burst being merged. Zero-initialised (or after tap_merge_take()) it
 * holds nothing. */
typedef struct {
  guint8 *buf; /* TAP_MERGE_FRAME_MAX bytes, allocated on first use */
  gsize len;   /* 0: nothing pending */
  guint segments;
  guint version;
  gsize l3, l4, hl;
  gsize gso_size; /* payload of the first segment */
  guint32 next_seq;
  gboolean sealed; /* nothing more may follow (PSH, or a short segment) */
} TapMerge;

typedef enum {
  TAP_MERGE_TAKEN,   /* FRAME was added to the pending burst (or started one) */
  TAP_MERGE_FLUSH,   /* take the pending burst first, then add FRAME again */
  TAP_MERGE_REFUSED, /* FRAME cannot be merged: write it as it is */
} TapMergeResult;

/* Offers FRAME (LEN bytes, as it would be written to the device) to the
 * burst. A frame is merged when it is an unfragmented TCP segment with
 * payload and valid IP and TCP checksums, flags ACK (PSH allowed, which
 * ends the burst), and, after the first, follows the pending segment in
 * sequence with the same headers but for IPv4's length, ID and checksum,
 * a payload no larger than the first's (a smaller one ends the burst),
 * and the total within 65,535 bytes of IP packet. A segment with PSH, or
 * one so large that a second as large would not fit, does not start a
 * burst. A frame that cannot start a burst is REFUSED whether or not one
 * is pending: the caller takes the pending burst first to keep the
 * order. */
TapMergeResult tap_merge_add (TapMerge *m, const guint8 *frame, gsize len);

/* Whether nothing more can join the pending burst. */
static inline gboolean
tap_merge_sealed (const TapMerge *m)
{
  return m->len > 0 && m->sealed;
}

/* Finishes the pending burst for writing to a device of MTU and empties
 * it: fills HDR and returns the frame, valid until the next
 * tap_merge_add(), with its length in *LEN and the number of segments in
 * it in *SEGMENTS. NULL when nothing is pending. A burst of several
 * segments gets GSO fields (pieces the size of its first segment, or of
 * one MTU if smaller) and a partial checksum; a burst of one is what
 * tap_offload_to_kernel() makes of that segment. */
const guint8 *tap_merge_take (TapMerge *m, guint mtu, struct virtio_net_hdr *hdr, gsize *len,
                              guint *segments);

void tap_merge_clear (TapMerge *m);

G_END_DECLS
