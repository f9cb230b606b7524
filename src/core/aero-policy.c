/* aero-policy.c — the policy interface, the flow parser and the core's
 * generic policy filter that applies a policy to one session's frames. */
#include <string.h>

#include "aero-net/aero-policy.h"
#include "aero-net/aero-session.h"

G_DEFINE_INTERFACE (AeroPolicy, aero_policy, AERO_TYPE_COMPONENT)

static void
aero_policy_default_init (AeroPolicyInterface *iface)
{
}

gboolean
aero_policy_check_flow (AeroPolicy *self, AeroSession *session, const AeroFlow *flow,
                        const char **reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  const char *why = NULL;
  gboolean ok;

  ok = iface->check_flow ? iface->check_flow (self, session, flow, &why) : TRUE;
  if (reason)
    *reason = ok ? NULL : (why ? why : "denied");
  return ok;
}

gboolean
aero_policy_check_name (AeroPolicy *self, AeroSession *session, const char *name,
                        const char **reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  const char *why = NULL;
  gboolean ok;

  ok = iface->check_name ? iface->check_name (self, session, name, &why) : TRUE;
  if (reason)
    *reason = ok ? NULL : (why ? why : "denied");
  return ok;
}

AeroTrafficVerdict
aero_policy_check_traffic (AeroPolicy *self, AeroSession *session, AeroDirection dir,
                           gsize bytes, AeroCloseReason *close_reason)
{
  AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self);
  AeroCloseReason why = AERO_CLOSE_POLICY;
  AeroTrafficVerdict v;

  v = iface->check_traffic ? iface->check_traffic (self, session, dir, bytes, &why)
                           : AERO_TRAFFIC_PASS;
  if (close_reason)
    *close_reason = why;
  return v;
}

/* ---- flow parsing ------------------------------------------------------ */

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd
#define ETHERTYPE_VLAN 0x8100

static inline guint16
rd16 (const guint8 *p)
{
  return (guint16) ((p[0] << 8) | p[1]);
}

static gboolean
parse_l4 (const guint8 *l4, gsize l4_len, gboolean first_fragment, AeroFlow *flow,
          gboolean *is_new)
{
  gboolean fresh = FALSE;

  switch (flow->protocol)
    {
    case 6: /* TCP */
      if (!first_fragment || l4_len < 14)
        return FALSE;
      flow->source_port = rd16 (l4);
      flow->port = rd16 (l4 + 2);
      /* SYN set, ACK clear */
      fresh = (l4[13] & 0x12) == 0x02;
      break;
    case 17: /* UDP */
      if (!first_fragment || l4_len < 8)
        return FALSE;
      flow->source_port = rd16 (l4);
      flow->port = rd16 (l4 + 2);
      fresh = TRUE;
      break;
    case 1:  /* ICMP */
    case 58: /* ICMPv6 */
      if (!first_fragment || l4_len < 4)
        return FALSE;
      fresh = (flow->protocol == 1 && l4[0] == 8) || (flow->protocol == 58 && l4[0] == 128);
      break;
    default:
      return FALSE;
    }
  if (is_new)
    *is_new = fresh;
  return TRUE;
}

gboolean
aero_flow_parse (const guint8 *frame, gsize len, AeroFlow *flow, gboolean *is_new)
{
  gsize off = 12;
  guint16 ethertype;

  g_return_val_if_fail (flow != NULL, FALSE);
  memset (flow, 0, sizeof *flow);
  if (is_new)
    *is_new = FALSE;
  if (frame == NULL || len < 14)
    return FALSE;

  ethertype = rd16 (frame + off);
  off += 2;
  if (ethertype == ETHERTYPE_VLAN)
    {
      if (len < 18)
        return FALSE;
      ethertype = rd16 (frame + off + 2);
      off += 4;
    }

  if (ethertype == ETHERTYPE_IPV4)
    {
      const guint8 *ip = frame + off;
      gsize avail = len - off, ihl, total;
      gboolean first;

      if (avail < 20 || (ip[0] >> 4) != 4)
        return FALSE;
      ihl = (gsize) (ip[0] & 0x0f) * 4;
      total = rd16 (ip + 2);
      if (ihl < 20 || total < ihl || total > avail)
        return FALSE;
      flow->family = G_SOCKET_FAMILY_IPV4;
      flow->protocol = ip[9];
      memcpy (flow->source, ip + 12, 4);
      memcpy (flow->destination, ip + 16, 4);
      first = (rd16 (ip + 6) & 0x1fff) == 0;
      return parse_l4 (ip + ihl, total - ihl, first, flow, is_new);
    }

  if (ethertype == ETHERTYPE_IPV6)
    {
      const guint8 *ip = frame + off;
      gsize avail = len - off, payload, pos = 40;
      guint8 next;
      gboolean first = TRUE;

      if (avail < 40 || (ip[0] >> 4) != 6)
        return FALSE;
      payload = rd16 (ip + 4);
      if (40 + payload > avail)
        return FALSE;
      avail = 40 + payload;
      flow->family = G_SOCKET_FAMILY_IPV6;
      memcpy (flow->source, ip + 8, 16);
      memcpy (flow->destination, ip + 24, 16);
      next = ip[6];
      for (int i = 0; i < 8; i++)
        {
          gsize ext;

          if (next != 0 && next != 43 && next != 60 && next != 44)
            break;
          if (pos + 8 > avail)
            return FALSE;
          if (next == 44)
            {
              ext = 8;
              if ((rd16 (ip + pos + 2) & 0xfff8) != 0)
                first = FALSE;
            }
          else
            ext = ((gsize) ip[pos + 1] + 1) * 8;
          next = ip[pos];
          pos += ext;
          if (pos > avail)
            return FALSE;
        }
      flow->protocol = next;
      return parse_l4 (ip + pos, avail - pos, first, flow, is_new);
    }

  return FALSE;
}

/* ---- the generic policy filter ----------------------------------------- */

#define AERO_TYPE_POLICY_FILTER (aero_policy_filter_get_type ())
G_DECLARE_FINAL_TYPE (AeroPolicyFilter, aero_policy_filter, AERO, POLICY_FILTER, GObject)

struct _AeroPolicyFilter
{
  GObject parent_instance;
  AeroPolicy *policy;
  AeroSession *session; /* unowned: the session owns the filter */
};

static void aero_policy_filter_iface_init (AeroFilterInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AeroPolicyFilter, aero_policy_filter, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FILTER, aero_policy_filter_iface_init))

static AeroFilterVerdict
traffic_verdict (AeroPolicyFilter *self, AeroDirection dir, gsize len)
{
  AeroCloseReason why = AERO_CLOSE_POLICY;

  switch (aero_policy_check_traffic (self->policy, self->session, dir, len, &why))
    {
    case AERO_TRAFFIC_PASS:
      return AERO_FILTER_PASS;
    case AERO_TRAFFIC_CLOSE:
      aero_session_close (self->session, why, aero_close_reason_to_string (why));
      return AERO_FILTER_DROP;
    case AERO_TRAFFIC_DROP:
    default:
      return AERO_FILTER_DROP;
    }
}

static AeroFilterVerdict
policy_filter_from_guest (AeroFilter *filter, GBytes *frame)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (filter);
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  AeroFlow flow;
  gboolean is_new = FALSE;

  if (traffic_verdict (self, AERO_DIRECTION_FROM_GUEST, len) != AERO_FILTER_PASS)
    return AERO_FILTER_DROP;
  if (aero_flow_parse (data, len, &flow, &is_new) && is_new &&
      !aero_policy_check_flow (self->policy, self->session, &flow, NULL))
    return AERO_FILTER_DROP;
  return AERO_FILTER_PASS;
}

static AeroFilterVerdict
policy_filter_to_guest (AeroFilter *filter, GBytes *frame)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (filter);

  return traffic_verdict (self, AERO_DIRECTION_TO_GUEST, g_bytes_get_size (frame));
}

static void
aero_policy_filter_iface_init (AeroFilterInterface *iface)
{
  iface->from_guest = policy_filter_from_guest;
  iface->to_guest = policy_filter_to_guest;
}

static void
aero_policy_filter_dispose (GObject *object)
{
  AeroPolicyFilter *self = AERO_POLICY_FILTER (object);

  if (self->policy)
    {
      AeroPolicyInterface *iface = AERO_POLICY_GET_IFACE (self->policy);

      if (iface->session_closed)
        iface->session_closed (self->policy, self->session);
      g_clear_object (&self->policy);
    }
  G_OBJECT_CLASS (aero_policy_filter_parent_class)->dispose (object);
}

static void
aero_policy_filter_class_init (AeroPolicyFilterClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = aero_policy_filter_dispose;
}

static void
aero_policy_filter_init (AeroPolicyFilter *self)
{
}

AeroFilter *
aero_policy_filter_new (AeroPolicy *policy, AeroSession *session)
{
  AeroPolicyFilter *self;
  AeroPolicyInterface *iface;

  g_return_val_if_fail (AERO_IS_POLICY (policy), NULL);
  g_return_val_if_fail (AERO_IS_SESSION (session), NULL);

  self = g_object_new (AERO_TYPE_POLICY_FILTER, NULL);
  self->policy = g_object_ref (policy);
  self->session = session;
  iface = AERO_POLICY_GET_IFACE (policy);
  if (iface->session_opened)
    iface->session_opened (policy, session);
  return AERO_FILTER (self);
}
