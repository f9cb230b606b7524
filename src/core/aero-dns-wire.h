/* aero-dns-wire.h — the DNS message work of the policy filter: reading
 * the question of a query or an answer, building an error answer
 * (NXDOMAIN, REFUSED) from it, and checking the A/AAAA records and CNAME
 * targets of an answer, rebuilding it without the refused records.
 * Internal to libaero-net.
 *
 * Every read is bounded by the message; compression pointers must point
 * backwards and are followed a bounded number of times; names are at most
 * 255 bytes on the wire. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define AERO_DNS_HEADER_LEN 12
#define AERO_DNS_RCODE_FORMERR 1
#define AERO_DNS_RCODE_NXDOMAIN 3
#define AERO_DNS_RCODE_REFUSED 5
/* The longest presentation form of a name: 255 wire bytes, each escaped. */
#define AERO_DNS_NAME_TEXT_MAX (255 * 4 + 1)

typedef struct {
  guint16 id;
  guint16 flags;
  guint16 qtype;
  guint16 qclass;
  gsize question_end; /* offset just past the question */
  char name[AERO_DNS_NAME_TEXT_MAX]; /* lower case, no trailing dot; "" is the root */
} AeroDnsQuestion;

/* Reads the header and the single question of MSG. RESPONSE says which
 * kind is expected (the QR bit); the opcode must be QUERY and there must
 * be exactly one question, its name without compression. */
gboolean aero_dns_wire_parse_question (const guint8 *msg, gsize len, gboolean response,
                                       AeroDnsQuestion *q);

/* An answer to the message MSG, whose question is Q: same id, RD copied,
 * RA set, RCODE, and the question copied; no records. */
GBytes *aero_dns_wire_build_error (const guint8 *msg, const AeroDnsQuestion *q, guint rcode);

typedef struct {
  /* A CNAME target in the answer section: may the guest be pointed there? */
  gboolean (*check_name) (const char *name, gpointer data);
  /* An A or AAAA record, in any section, for the question's name. */
  gboolean (*check_address) (const char *qname, GSocketFamily family, const guint8 *address,
                             gpointer data);
  gpointer data;
} AeroDnsAnswerChecks;

typedef enum {
  AERO_DNS_ANSWER_PASS,         /* nothing refused */
  AERO_DNS_ANSWER_STRIPPED,     /* *rewritten holds the answer without refused addresses */
  AERO_DNS_ANSWER_REFUSE,       /* an address was refused (and not stripped) */
  AERO_DNS_ANSWER_DENIED_NAME,  /* a CNAME target was refused */
  AERO_DNS_ANSWER_MALFORMED,    /* cannot be read */
} AeroDnsAnswerResult;

/* Walks every record of the answer MSG (question Q). With STRIP, refused
 * A/AAAA records are left out of a rebuilt message (names written without
 * compression); otherwise the first refused one ends the walk with
 * AERO_DNS_ANSWER_REFUSE. A rebuilt message that would not fit a UDP
 * datagram is also AERO_DNS_ANSWER_REFUSE. */
AeroDnsAnswerResult aero_dns_wire_filter_answer (const guint8 *msg, gsize len,
                                                 const AeroDnsQuestion *q, gboolean strip,
                                                 const AeroDnsAnswerChecks *checks,
                                                 GBytes **rewritten);

G_END_DECLS
