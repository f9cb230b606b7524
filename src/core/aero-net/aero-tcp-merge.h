/* aero-tcp-merge.h — merging consecutive TCP segments of one flow into one
 * large segment, as a NIC's receive offload (GRO) does before a stack sees
 * them.
 *
 * A receiver that takes one large segment instead of many small ones runs
 * its TCP input, sends its acknowledgement and hands data on once per
 * burst rather than once per segment: a guest's kernel behind a TAP (the
 * tap plugin writes the merged segment with GSO fields), or libslirp
 * (stack-slirp feeds it the merged segment, and libslirp writes the data
 * to its host socket in one send()).
 *
 * Only segments that a receiver could not tell apart from pieces of one
 * segment are merged, with the rules of Linux's tcp_gro_receive(): see
 * aero_tcp_merge_add(). Every merged segment's IP and TCP checksums are
 * verified first; a segment with a bad one is never merged, so that its
 * receiver drops it as it would have. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * AeroTcpMerge:
 *
 * A burst of segments being merged, with its buffer (up to 65,535 bytes of
 * IP packet, allocated on first use). Not thread-safe.
 */
typedef struct _AeroTcpMerge AeroTcpMerge;

/**
 * AeroTcpMergeResult:
 * @AERO_TCP_MERGE_TAKEN: the frame joined the pending burst, or started one
 * @AERO_TCP_MERGE_FLUSH: the frame could start a burst but cannot join the
 *   pending one: take the pending burst, then offer the frame again
 * @AERO_TCP_MERGE_REFUSED: the frame is not merged: take the pending burst
 *   (to keep the order), then pass the frame on as it is
 */
typedef enum {
  AERO_TCP_MERGE_TAKEN,
  AERO_TCP_MERGE_FLUSH,
  AERO_TCP_MERGE_REFUSED,
} AeroTcpMergeResult;

/**
 * AeroTcpMergeChecksum:
 * @AERO_TCP_MERGE_CHECKSUM_FULL: the merged segment's TCP checksum is
 *   complete (for a receiver that verifies it, such as libslirp)
 * @AERO_TCP_MERGE_CHECKSUM_PARTIAL: the TCP checksum field holds the
 *   pseudo-header sum, for a device that completes it (a virtio-net
 *   header with NEEDS_CSUM at the TCP header's offset 16)
 */
typedef enum {
  AERO_TCP_MERGE_CHECKSUM_FULL,
  AERO_TCP_MERGE_CHECKSUM_PARTIAL,
} AeroTcpMergeChecksum;

/**
 * AeroTcpMergeInfo:
 * @segments: how many segments the burst holds (1: the frame as it came)
 * @version: 4 or 6
 * @l3: offset of the IP header
 * @l4: offset of the TCP header
 * @hl: offset of the payload
 * @segment_size: the payload of the first segment, which every segment
 *   but the last has
 * @frame_bytes: the lengths of the frames that went in, added up
 *
 * What aero_tcp_merge_take() returns besides the frame.
 */
typedef struct {
  guint segments;
  guint version;
  gsize l3;
  gsize l4;
  gsize hl;
  gsize segment_size;
  gsize frame_bytes;
} AeroTcpMergeInfo;

/**
 * AeroTcpMergeFlushFunc:
 * @user_data: as given to aero_tcp_merge_offer()
 *
 * Hands on the pending burst: takes it with aero_tcp_merge_take() and
 * passes it to the receiver.
 */
typedef void (*AeroTcpMergeFlushFunc) (gpointer user_data);

/**
 * AeroTcpMergeFlags:
 * @AERO_TCP_MERGE_IPV4: merge TCP over IPv4
 * @AERO_TCP_MERGE_IPV6: merge TCP over IPv6 (not for a receiver that
 *   refuses IPv6 packets larger than its MTU, as libslirp does)
 *
 * Which segments a burst merges; others are refused.
 */
typedef enum {
  AERO_TCP_MERGE_IPV4 = 1 << 0,
  AERO_TCP_MERGE_IPV6 = 1 << 1,
} AeroTcpMergeFlags;

/**
 * aero_tcp_merge_new:
 * @flags: which segments to merge
 *
 * Returns: (transfer full): an empty burst; free it with aero_tcp_merge_free().
 */
AeroTcpMerge *aero_tcp_merge_new (AeroTcpMergeFlags flags);

/**
 * aero_tcp_merge_free:
 * @merge: (nullable): a burst; what is pending is dropped
 */
void aero_tcp_merge_free (AeroTcpMerge *merge);

/**
 * aero_tcp_merge_add:
 * @merge: a burst
 * @frame: (array length=len): an Ethernet frame
 * @len: its length
 *
 * Offers @frame to the burst. A frame can start a burst when it is an
 * unfragmented TCP segment over IPv4 or IPv6, as the burst's flags allow,
 * (up to one VLAN tag) with
 * payload and without padding after the IP packet, whose flags are ACK
 * alone, whose urgent pointer is 0, whose IP and TCP checksums verify, and
 * whose payload is small enough for a second as large to fit in 65,535
 * bytes of IP packet. It joins the pending burst when it also follows it
 * in sequence and has the same headers but for IPv4's total length, ID and
 * checksum and TCP's sequence number, PSH and checksum, a payload no larger
 * than the first segment's, and the total stays within 65,535 bytes of IP
 * packet. A PSH, or a payload smaller than the first, joins and ends the
 * burst (see aero_tcp_merge_sealed()); a PSH cannot start one.
 *
 * Returns: what to do with @frame
 */
AeroTcpMergeResult aero_tcp_merge_add (AeroTcpMerge *merge, const guint8 *frame, gsize len);

/**
 * aero_tcp_merge_offer:
 * @merge: a burst
 * @frame: (array length=len): an Ethernet frame
 * @len: its length
 * @flush: hands on the pending burst
 * @user_data: passed to @flush
 *
 * aero_tcp_merge_add() with what its answer asks for: @flush runs for a
 * pending burst that @frame cannot join (before @frame is added) or must
 * not overtake (before it is refused), and for a burst that @frame seals.
 * What stays pending is for the caller to hand on by the end of the
 * main-loop dispatch (an #AeroWatch with ready time 0), so that no frame
 * waits for a later one.
 *
 * Returns: %TRUE when @frame was taken into the burst; %FALSE when the
 *   caller passes it on as it is (what was pending before it has been
 *   handed on)
 */
gboolean aero_tcp_merge_offer (AeroTcpMerge *merge, const guint8 *frame, gsize len,
                               AeroTcpMergeFlushFunc flush, gpointer user_data);

/**
 * aero_tcp_merge_pending:
 * @merge: a burst
 *
 * Returns: whether a burst is pending
 */
gboolean aero_tcp_merge_pending (const AeroTcpMerge *merge);

/**
 * aero_tcp_merge_sealed:
 * @merge: a burst
 *
 * Returns: whether a burst is pending that nothing more can join: it may
 *   as well be taken now
 */
gboolean aero_tcp_merge_sealed (const AeroTcpMerge *merge);

/**
 * aero_tcp_merge_take:
 * @merge: a burst
 * @checksum: how the TCP checksum of a burst of several segments is left
 * @info: (out): what the burst holds
 * @len: (out): the length of the frame
 *
 * Finishes the pending burst and empties it. A burst of one segment is the
 * frame as it came. A burst of several is the first segment's frame with
 * every payload after it, PSH when its last segment had it, IPv4 total
 * length and header checksum (or IPv6 payload length) for the whole, and
 * its TCP checksum as @checksum says.
 *
 * Returns: (nullable): the frame, which the caller may change, valid until
 *   the next call of aero_tcp_merge_add(); %NULL when nothing is pending
 */
guint8 *aero_tcp_merge_take (AeroTcpMerge *merge, AeroTcpMergeChecksum checksum,
                             AeroTcpMergeInfo *info, gsize *len);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroTcpMerge, aero_tcp_merge_free)

G_END_DECLS
