/* dns-message.c — parsing DNS queries and building answers (see
 * dns-message.h). */
#include <string.h>

#include "dns-message.h"
#include "packet.h"

#define HEADER_LEN 12
#define FLAG_QR 0x8000
#define FLAG_OPCODE 0x7800
#define FLAG_RD 0x0100
#define FLAG_RA 0x0080
#define ANSWER_FIXED_LEN 12 /* name pointer, type, class, ttl, rdlength */

static gboolean
is_name_char (guint8 c)
{
  return g_ascii_isalnum (c) || c == '-' || c == '_';
}

AeroDnsParse
aero_dns_query_parse (const guint8 *msg, gsize len, AeroDnsQuery *query)
{
  gsize pos = HEADER_LEN, wire_len = 0, name_len = 0;
  guint16 qdcount, ancount, nscount, arcount;
  gboolean refuse = FALSE;

  memset (query, 0, sizeof *query);
  if (len < HEADER_LEN)
    return AERO_DNS_PARSE_DROP;

  query->id = aero_read_be16 (msg);
  query->flags = aero_read_be16 (msg + 2);
  if (query->flags & FLAG_QR)
    return AERO_DNS_PARSE_DROP;
  if (query->flags & FLAG_OPCODE)
    return AERO_DNS_PARSE_NOTIMP;

  qdcount = aero_read_be16 (msg + 4);
  ancount = aero_read_be16 (msg + 6);
  nscount = aero_read_be16 (msg + 8);
  arcount = aero_read_be16 (msg + 10);
  if (qdcount != 1 || ancount != 0 || nscount != 0 || arcount > 1)
    return AERO_DNS_PARSE_FORMERR;

  for (;;)
    {
      guint8 label_len;

      if (pos >= len)
        return AERO_DNS_PARSE_FORMERR;
      label_len = msg[pos];
      if (label_len & 0xc0)
        return AERO_DNS_PARSE_FORMERR;
      wire_len += 1 + (gsize) label_len;
      if (wire_len > AERO_DNS_MAX_NAME)
        return AERO_DNS_PARSE_FORMERR;
      pos++;
      if (label_len == 0)
        break;
      if (pos + label_len > len)
        return AERO_DNS_PARSE_FORMERR;

      if (name_len > 0)
        query->name[name_len++] = '.';
      for (guint i = 0; i < label_len; i++)
        {
          guint8 c = msg[pos + i];

          if (!is_name_char (c))
            refuse = TRUE;
          query->name[name_len++] = g_ascii_tolower ((char) c);
        }
      pos += label_len;
    }
  query->name[name_len] = '\0';

  if (pos + 4 > len)
    return AERO_DNS_PARSE_FORMERR;
  query->qtype = aero_read_be16 (msg + pos);
  query->qclass = aero_read_be16 (msg + pos + 2);
  pos += 4;
  if (arcount == 0 && pos != len)
    return AERO_DNS_PARSE_FORMERR;

  query->question_len = pos - HEADER_LEN;
  memcpy (query->question, msg + HEADER_LEN, query->question_len);
  query->has_question = TRUE;

  if (refuse || query->qclass != AERO_DNS_CLASS_IN)
    return AERO_DNS_PARSE_REFUSED;
  return AERO_DNS_PARSE_OK;
}

/* Writes the answer to @query into @out. Addresses are included only with
 * NOERROR and only those matching the question type, as many as fit in
 * one unextended message. Returns the message length, 0 if @out is too
 * small for the header and question. */
gsize
aero_dns_build_response (const AeroDnsQuery *query, AeroDnsRcode rcode,
                         const AeroDnsAddress *addresses, guint n_addresses, guint32 ttl,
                         guint8 *out, gsize out_size)
{
  gsize limit = MIN (out_size, (gsize) AERO_DNS_MAX_MESSAGE);
  gsize pos = HEADER_LEN;
  guint16 answers = 0;

  if (limit < HEADER_LEN + (query->has_question ? query->question_len : 0))
    return 0;

  memset (out, 0, HEADER_LEN);
  aero_write_be16 (out, query->id);
  aero_write_be16 (out + 2, (guint16) (FLAG_QR | (query->flags & (FLAG_OPCODE | FLAG_RD)) | FLAG_RA
                                       | (rcode & 0x0f)));
  if (query->has_question)
    {
      aero_write_be16 (out + 4, 1);
      memcpy (out + pos, query->question, query->question_len);
      pos += query->question_len;
    }

  for (guint i = 0; rcode == AERO_DNS_RCODE_NOERROR && query->has_question && i < n_addresses
                    && answers < AERO_DNS_MAX_ADDRESSES;
       i++)
    {
      const AeroDnsAddress *a = &addresses[i];
      guint16 type = a->family == 4 ? AERO_DNS_TYPE_A : AERO_DNS_TYPE_AAAA;
      gsize rdlen = a->family == 4 ? 4 : 16;

      if (type != query->qtype)
        continue;
      if (pos + ANSWER_FIXED_LEN + rdlen > limit)
        break;
      aero_write_be16 (out + pos, 0xc000 | HEADER_LEN);
      aero_write_be16 (out + pos + 2, type);
      aero_write_be16 (out + pos + 4, AERO_DNS_CLASS_IN);
      aero_write_be32 (out + pos + 6, ttl);
      aero_write_be16 (out + pos + 10, (guint16) rdlen);
      memcpy (out + pos + ANSWER_FIXED_LEN, a->bytes, rdlen);
      pos += ANSWER_FIXED_LEN + rdlen;
      answers++;
    }
  aero_write_be16 (out + 6, answers);
  return pos;
}

/* A host name we accept in the configuration: 1..253 characters, dot
 * separated labels of 1..63 letters, digits, '-' or '_', no label starting
 * or ending with '-'. */
gboolean
aero_dns_name_is_valid (const char *name)
{
  gsize len = strlen (name), label = 0;

  if (len == 0 || len > 253)
    return FALSE;
  for (gsize i = 0; i <= len; i++)
    {
      char c = name[i];

      if (c == '.' || c == '\0')
        {
          if (label == 0 || label > 63 || name[i - 1] == '-')
            return FALSE;
          label = 0;
          continue;
        }
      if (!is_name_char ((guint8) c) || (label == 0 && c == '-'))
        return FALSE;
      label++;
    }
  return TRUE;
}

/* Names under the special-use top-level domain "invalid" (RFC 6761, 6.4)
 * never exist; they are answered without asking any resolver. */
gboolean
aero_dns_name_is_special_invalid (const char *name)
{
  return g_str_equal (name, "invalid") || g_str_has_suffix (name, ".invalid");
}
