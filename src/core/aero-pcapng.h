/* aero-pcapng.h — pcapng blocks (draft-ietf-opsawg-pcapng): a Section
 * Header Block, an Interface Description Block and Enhanced Packet
 * Blocks, in host byte order (readers use the byte-order magic). Private
 * to libaero-net. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AERO_PCAPNG_LINKTYPE_ETHERNET 1

/* epb_flags direction bits. */
#define AERO_PCAPNG_FLAG_INBOUND 0x1
#define AERO_PCAPNG_FLAG_OUTBOUND 0x2

/* A Section Header Block of unknown section length, naming @application
 * (shb_userappl). */
void aero_pcapng_append_section_header (GByteArray *out, const char *application);

/* An Interface Description Block: @linktype, @snaplen, if_name,
 * if_description and if_tsresol 6 (microseconds). */
void aero_pcapng_append_interface (GByteArray *out, guint16 linktype, guint32 snaplen,
                                   const char *name, const char *description);

/* The size of an Enhanced Packet Block holding @captured bytes. */
gsize aero_pcapng_packet_size (gsize captured);

/* An Enhanced Packet Block for interface 0: @captured of the packet's
 * @original bytes at @data, its time @timestamp_us (Unix microseconds) and
 * epb_flags @flags. */
void aero_pcapng_append_packet (GByteArray *out, gint64 timestamp_us, const guint8 *data,
                                gsize captured, gsize original, guint32 flags);

G_END_DECLS
