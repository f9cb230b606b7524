/* aero-dns-wire.c — reading DNS questions, building error answers and
 * filtering the addresses of answers for the policy filter (see
 * aero-dns-wire.h). */
#include <string.h>

#include "aero-dns-wire.h"
#include "aero-ip-packet.h"

#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_OPCODE(flags) (((flags) >> 11) & 0x0f)
#define NAME_WIRE_MAX 255
#define MAX_POINTER_HOPS 64
#define MAX_RECORDS 512
#define TYPE_A 1
#define TYPE_CNAME 5
#define TYPE_AAAA 28
/* Largest DNS message a rebuilt UDP answer may hold. */
#define UDP_MESSAGE_MAX (65535 - 40 - 8)

/* Appends one label to TEXT in presentation form: lower case; letters,
 * digits, '-' and '_' as they are, anything else as \DDD. */
static gboolean
append_label_text (GString *text, const guint8 *label, gsize len)
{
  if (text->len > 0)
    g_string_append_c (text, '.');
  for (gsize i = 0; i < len; i++)
    {
      guint8 c = label[i];

      if (g_ascii_isalnum (c) || c == '-' || c == '_')
        g_string_append_c (text, g_ascii_tolower ((char) c));
      else
        g_string_append_printf (text, "\\%03u", c);
    }
  return text->len < AERO_DNS_NAME_TEXT_MAX;
}

/* Reads the name at *off. Writes its uncompressed wire form into WIRE
 * (when not NULL; *wire_len bytes, root label included) and its
 * presentation form into TEXT (when not NULL). Advances *off past the name
 * as it is stored. Compression pointers are followed only when
 * ALLOW_POINTERS, and only backwards. */
static gboolean
read_name (const guint8 *msg, gsize len, gsize *off, gboolean allow_pointers, guint8 *wire,
           gsize *wire_len, GString *text)
{
  gsize pos = *off, out = 0, end_of_stored = 0;
  guint hops = 0;

  for (;;)
    {
      guint8 l;

      if (pos >= len)
        return FALSE;
      l = msg[pos];
      if ((l & 0xc0) == 0xc0)
        {
          gsize target;

          if (!allow_pointers || pos + 1 >= len || ++hops > MAX_POINTER_HOPS)
            return FALSE;
          target = ((gsize) (l & 0x3f) << 8) | msg[pos + 1];
          if (target >= pos)
            return FALSE;
          if (end_of_stored == 0)
            end_of_stored = pos + 2;
          pos = target;
          continue;
        }
      if ((l & 0xc0) != 0)
        return FALSE; /* extended label types */
      if (pos + 1 + l > len || out + 1 + l > NAME_WIRE_MAX)
        return FALSE;
      if (wire)
        memcpy (wire + out, msg + pos, 1 + (gsize) l);
      out += 1 + (gsize) l;
      if (l == 0)
        {
          if (end_of_stored == 0)
            end_of_stored = pos + 1;
          break;
        }
      if (text && !append_label_text (text, msg + pos + 1, l))
        return FALSE;
      pos += 1 + (gsize) l;
    }
  if (wire_len)
    *wire_len = out;
  *off = end_of_stored;
  return TRUE;
}

gboolean
aero_dns_wire_parse_question (const guint8 *msg, gsize len, gboolean response, AeroDnsQuestion *q)
{
  g_autoptr (GString) text = NULL;
  gsize off = AERO_DNS_HEADER_LEN;

  memset (q, 0, sizeof *q);
  if (msg == NULL || len < AERO_DNS_HEADER_LEN)
    return FALSE;
  q->id = aero_ip_rd16 (msg);
  q->flags = aero_ip_rd16 (msg + 2);
  if (((q->flags & DNS_FLAG_QR) != 0) != (response != FALSE) || DNS_OPCODE (q->flags) != 0)
    return FALSE;
  if (aero_ip_rd16 (msg + 4) != 1)
    return FALSE;
  text = g_string_sized_new (64);
  if (!read_name (msg, len, &off, FALSE, NULL, NULL, text))
    return FALSE;
  if (off + 4 > len)
    return FALSE;
  q->qtype = aero_ip_rd16 (msg + off);
  q->qclass = aero_ip_rd16 (msg + off + 2);
  q->question_end = off + 4;
  g_strlcpy (q->name, text->str, sizeof q->name);
  return TRUE;
}

GBytes *
aero_dns_wire_build_error (const guint8 *msg, const AeroDnsQuestion *q, guint rcode)
{
  gsize qlen = q->question_end - AERO_DNS_HEADER_LEN;
  guint8 *out = g_malloc0 (AERO_DNS_HEADER_LEN + qlen);
  guint16 flags = DNS_FLAG_QR | (q->flags & DNS_FLAG_RD) | DNS_FLAG_RA | (rcode & 0x0f);

  aero_ip_wr16 (out, q->id);
  aero_ip_wr16 (out + 2, flags);
  aero_ip_wr16 (out + 4, 1);
  memcpy (out + AERO_DNS_HEADER_LEN, msg + AERO_DNS_HEADER_LEN, qlen);
  return g_bytes_new_take (out, AERO_DNS_HEADER_LEN + qlen);
}

/* Types of RFC 1035 whose RDATA may hold compressed names (RFC 3597 4),
 * and how: the number of bytes before the first name, the number of
 * names, and the bytes of other data after them. */
static gboolean
rdata_names (guint16 type, gsize *prefix, guint *names)
{
  switch (type)
    {
    case 2: case 3: case 4: case 5: case 7: case 8: case 9: case 12: /* NS MD MF CNAME MB MG MR PTR */
      *prefix = 0;
      *names = 1;
      return TRUE;
    case 6:  /* SOA: mname rname + 20 bytes */
    case 14: /* MINFO: rmailbx emailbx */
      *prefix = 0;
      *names = 2;
      return TRUE;
    case 15: /* MX: preference name */
      *prefix = 2;
      *names = 1;
      return TRUE;
    default:
      return FALSE;
    }
}

typedef struct {
  gsize start;    /* offset of the record's owner name */
  gsize rdata;    /* offset of its RDATA */
  gsize end;      /* offset just past it */
  guint16 type;
  gboolean keep;
} Record;

/* Appends record R of MSG to OUT with every name uncompressed. */
static gboolean
write_record (const guint8 *msg, gsize len, const Record *r, GByteArray *out)
{
  guint8 wire[NAME_WIRE_MAX];
  gsize wire_len, off = r->start, prefix, rdlen_at;
  guint names;

  if (!read_name (msg, len, &off, TRUE, wire, &wire_len, NULL))
    return FALSE;
  g_byte_array_append (out, wire, (guint) wire_len);
  g_byte_array_append (out, msg + off, 10); /* type class ttl rdlength */
  rdlen_at = out->len - 2;
  if (!rdata_names (r->type, &prefix, &names))
    {
      g_byte_array_append (out, msg + r->rdata, (guint) (r->end - r->rdata));
      return TRUE;
    }
  off = r->rdata;
  if (off + prefix > r->end)
    return FALSE;
  g_byte_array_append (out, msg + off, (guint) prefix);
  off += prefix;
  for (guint i = 0; i < names; i++)
    {
      if (off >= r->end || !read_name (msg, r->end, &off, TRUE, wire, &wire_len, NULL))
        return FALSE;
      g_byte_array_append (out, wire, (guint) wire_len);
    }
  if (off > r->end)
    return FALSE;
  g_byte_array_append (out, msg + off, (guint) (r->end - off));
  {
    gsize rdlen = out->len - rdlen_at - 2;

    if (rdlen > 0xffff)
      return FALSE;
    aero_ip_wr16 (out->data + rdlen_at, (guint16) rdlen);
  }
  return TRUE;
}

AeroDnsAnswerResult
aero_dns_wire_filter_answer (const guint8 *msg, gsize len, const AeroDnsQuestion *q,
                             gboolean strip, const AeroDnsAnswerChecks *checks,
                             GBytes **rewritten)
{
  g_autoptr (GArray) records = NULL;
  g_autoptr (GByteArray) out = NULL;
  guint counts[3], removed[3] = { 0, 0, 0 }, total;
  gsize off = q->question_end;
  gboolean any_removed = FALSE;

  if (rewritten)
    *rewritten = NULL;
  if (len < AERO_DNS_HEADER_LEN)
    return AERO_DNS_ANSWER_MALFORMED;
  counts[0] = aero_ip_rd16 (msg + 6);
  counts[1] = aero_ip_rd16 (msg + 8);
  counts[2] = aero_ip_rd16 (msg + 10);
  total = counts[0] + counts[1] + counts[2];
  if (total > MAX_RECORDS)
    return AERO_DNS_ANSWER_MALFORMED;

  records = g_array_sized_new (FALSE, TRUE, sizeof (Record), total);
  for (guint section = 0; section < 3; section++)
    for (guint i = 0; i < counts[section]; i++)
      {
        Record r = { 0 };
        guint16 rdlen;

        r.start = off;
        if (!read_name (msg, len, &off, TRUE, NULL, NULL, NULL) || off + 10 > len)
          return AERO_DNS_ANSWER_MALFORMED;
        r.type = aero_ip_rd16 (msg + off);
        rdlen = aero_ip_rd16 (msg + off + 8);
        r.rdata = off + 10;
        r.end = r.rdata + rdlen;
        if (r.end > len)
          return AERO_DNS_ANSWER_MALFORMED;
        off = r.end;
        r.keep = TRUE;

        /* Every class: a resolver that keeps a record of an odd class
         * must not get a blocked address through it either. */
        if ((r.type == TYPE_A && rdlen == 4) || (r.type == TYPE_AAAA && rdlen == 16))
          {
            GSocketFamily family = r.type == TYPE_A ? G_SOCKET_FAMILY_IPV4 : G_SOCKET_FAMILY_IPV6;

            if (checks->check_address &&
                !checks->check_address (q->name, family, msg + r.rdata, checks->data))
              {
                if (!strip)
                  return AERO_DNS_ANSWER_REFUSE;
                r.keep = FALSE;
                removed[section]++;
                any_removed = TRUE;
              }
          }
        else if (section == 0 && r.type == TYPE_CNAME && checks->check_name)
          {
            g_autoptr (GString) target = g_string_sized_new (64);
            gsize noff = r.rdata;

            if (!read_name (msg, r.end, &noff, TRUE, NULL, NULL, target) || noff != r.end)
              return AERO_DNS_ANSWER_MALFORMED;
            if (!checks->check_name (target->str, checks->data))
              return AERO_DNS_ANSWER_DENIED_NAME;
          }
        g_array_append_val (records, r);
      }

  if (!any_removed)
    return AERO_DNS_ANSWER_PASS;

  out = g_byte_array_sized_new ((guint) len);
  g_byte_array_append (out, msg, (guint) q->question_end);
  for (guint s = 0; s < 3; s++)
    aero_ip_wr16 (out->data + 6 + 2 * s, (guint16) (counts[s] - removed[s]));
  for (guint i = 0; i < records->len; i++)
    {
      const Record *r = &g_array_index (records, Record, i);

      if (!r->keep)
        continue;
      if (!write_record (msg, len, r, out))
        return AERO_DNS_ANSWER_MALFORMED;
      if (out->len > UDP_MESSAGE_MAX)
        return AERO_DNS_ANSWER_REFUSE;
    }
  if (rewritten)
    *rewritten = g_byte_array_free_to_bytes (g_steal_pointer (&out));
  return AERO_DNS_ANSWER_STRIPPED;
}
