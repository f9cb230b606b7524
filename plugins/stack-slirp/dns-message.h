/* dns-message.h — the DNS wire format, as far as a stub resolver's
 * queries and our answers need it (RFC 1035).
 *
 * Queries come from the guest and are hostile: the parser reads at most the
 * given length, takes exactly one question, refuses compression pointers
 * and label types other than plain labels, and bounds names to 255 bytes on
 * the wire and labels to 63. Names we resolve must consist of letters,
 * digits, '-' and '_'. Answers fit in 512 bytes (no EDNS). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define AERO_DNS_MAX_MESSAGE 512
#define AERO_DNS_MAX_NAME 255
#define AERO_DNS_MAX_ADDRESSES 8

#define AERO_DNS_TYPE_A 1
#define AERO_DNS_TYPE_AAAA 28
#define AERO_DNS_CLASS_IN 1

/**
 * AeroDnsRcode:
 * DNS response codes used here.
 */
typedef enum {
  AERO_DNS_RCODE_NOERROR = 0,
  AERO_DNS_RCODE_FORMERR = 1,
  AERO_DNS_RCODE_SERVFAIL = 2,
  AERO_DNS_RCODE_NXDOMAIN = 3,
  AERO_DNS_RCODE_NOTIMP = 4,
  AERO_DNS_RCODE_REFUSED = 5,
} AeroDnsRcode;

/**
 * AeroDnsParse:
 * @AERO_DNS_PARSE_OK: a query we can answer.
 * @AERO_DNS_PARSE_DROP: not even a header, or a response: no answer at all.
 * @AERO_DNS_PARSE_FORMERR: malformed; answer FORMERR.
 * @AERO_DNS_PARSE_NOTIMP: an opcode other than QUERY; answer NOTIMP.
 * @AERO_DNS_PARSE_REFUSED: a class other than IN, or a name we will not
 *   resolve; answer REFUSED.
 */
typedef enum {
  AERO_DNS_PARSE_OK,
  AERO_DNS_PARSE_DROP,
  AERO_DNS_PARSE_FORMERR,
  AERO_DNS_PARSE_NOTIMP,
  AERO_DNS_PARSE_REFUSED,
} AeroDnsParse;

/**
 * AeroDnsQuery:
 * @id: the query id
 * @flags: the query's flags word
 * @has_question: @question holds the question as received
 * @question: the question section (name, type, class) as received, for echo
 * @question_len: its length
 * @name: the name in lower case, dotted, without the final dot ("" = root)
 * @qtype: question type
 * @qclass: question class
 */
typedef struct {
  guint16 id;
  guint16 flags;
  gboolean has_question;
  guint8 question[AERO_DNS_MAX_NAME + 4];
  gsize question_len;
  char name[AERO_DNS_MAX_NAME + 1];
  guint16 qtype;
  guint16 qclass;
} AeroDnsQuery;

/**
 * AeroDnsAddress:
 * @family: 4 or 6
 * @bytes: the address in network order (first 4 bytes for IPv4)
 */
typedef struct {
  guint family;
  guint8 bytes[16];
} AeroDnsAddress;

AeroDnsParse aero_dns_query_parse (const guint8 *msg, gsize len, AeroDnsQuery *query);

gsize aero_dns_build_response (const AeroDnsQuery *query, AeroDnsRcode rcode,
                               const AeroDnsAddress *addresses, guint n_addresses, guint32 ttl,
                               guint8 *out, gsize out_size);

gboolean aero_dns_name_is_valid (const char *name);

gboolean aero_dns_name_is_special_invalid (const char *name);

G_END_DECLS
