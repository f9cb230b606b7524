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
 * Merged, to the kernel (merge = true): a burst of consecutive TCP
 * segments of one flow (aero-tcp-merge.h) is written as one large segment
 * with GSO fields and a partial checksum.
 *
 * Pure functions on buffers, no I/O: tested in tests/test-offload.c. */
#pragma once

#include <glib.h>
#include <linux/virtio_net.h>
#include <aero-net/aero-tcp-merge.h>

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

/* Fills HDR for writing FRAME (LEN bytes), a burst that
 * aero_tcp_merge_take() returned with INFO and a partial checksum, to a
 * device of MTU: GSO fields for a burst of several segments, in pieces the
 * size of its first segment or of one MTU if smaller; for a burst of one,
 * what tap_offload_to_kernel() makes of it, its partial sum written into
 * FRAME. */
void tap_offload_merged_to_kernel (guint8 *frame, gsize len, const AeroTcpMergeInfo *info,
                                   guint mtu, struct virtio_net_hdr *hdr);

G_END_DECLS
