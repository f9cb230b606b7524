/* probe-dhcp.c — DHCPv4 client: builds DISCOVER and REQUEST, parses OFFER,
 * ACK and NAK (options walked with explicit bounds), retransmits every
 * second until the step's deadline. */
#include "probe-dhcp.h"

#include <string.h>

#define DHCP_CLIENT_PORT 68
#define DHCP_SERVER_PORT 67
#define DHCP_RETRY_US (1 * G_USEC_PER_SEC)
#define BOOTP_FIXED_LEN 236
#define DHCP_MAGIC 0x63825363u
#define DHCP_OPTIONS_OFFSET (BOOTP_FIXED_LEN + 4)
#define BOOTP_MIN_LEN 300

enum {
  DHCPDISCOVER = 1,
  DHCPOFFER = 2,
  DHCPREQUEST = 3,
  DHCPACK = 5,
  DHCPNAK = 6,
};

enum {
  OPT_PAD = 0,
  OPT_SUBNET_MASK = 1,
  OPT_ROUTER = 3,
  OPT_DNS = 6,
  OPT_HOSTNAME = 12,
  OPT_DOMAIN = 15,
  OPT_MTU = 26,
  OPT_BROADCAST = 28,
  OPT_REQUESTED_IP = 50,
  OPT_LEASE_TIME = 51,
  OPT_MSG_TYPE = 53,
  OPT_SERVER_ID = 54,
  OPT_PARAM_LIST = 55,
  OPT_MESSAGE = 56,
  OPT_MAX_SIZE = 57,
  OPT_CLIENT_ID = 61,
  OPT_END = 255,
};

/* One parsed server message. */
typedef struct {
  guint8 type;
  guint32 yiaddr;
  guint32 src;
  gboolean has_server_id;
  guint32 server_id;
  gboolean has_mask;
  guint32 mask;
  guint32 router;
  guint32 dns[PROBE_DHCP_MAX_DNS];
  guint n_dns;
  char *domain;
  char *message;
  gboolean has_lease_time;
  guint32 lease_time;
  guint mtu;
} DhcpMsg;

typedef struct {
  ProbeNetif *netif;
  guint32 xid;
  guint8 want; /* DHCPOFFER, then DHCPACK (or DHCPNAK) */
  guint32 server_id;
  gboolean got;
  DhcpMsg msg;
  guint64 ignored;
} DhcpClient;

static guint32
rd32 (const guint8 *p)
{
  return ((guint32) p[0] << 24) | ((guint32) p[1] << 16) | ((guint32) p[2] << 8) | p[3];
}

static void
dhcp_msg_clear (DhcpMsg *m)
{
  g_free (m->domain);
  g_free (m->message);
  memset (m, 0, sizeof *m);
}

void
probe_dhcp_lease_clear (ProbeDhcpLease *lease)
{
  g_free (lease->domain);
  memset (lease, 0, sizeof *lease);
}

/* ---- building ---------------------------------------------------------------- */

static void
opt (GByteArray *a, guint8 code, const guint8 *data, guint8 len)
{
  guint8 hdr[2] = { code, len };

  g_byte_array_append (a, hdr, 2);
  if (len)
    g_byte_array_append (a, data, len);
}

static void
opt_u32 (GByteArray *a, guint8 code, guint32 v)
{
  guint8 b[4] = { v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff };

  opt (a, code, b, 4);
}

static GByteArray *
build_message (DhcpClient *c, guint8 type, guint32 requested, guint32 server_id)
{
  static const guint8 params[] = { OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_DOMAIN, OPT_MTU,
                                   OPT_BROADCAST, OPT_LEASE_TIME, OPT_SERVER_ID };
  static const guint8 max_size[2] = { 1500 >> 8, 1500 & 0xff };
  static const char hostname[] = "aero-probe";
  GByteArray *a = g_byte_array_sized_new (BOOTP_MIN_LEN);
  guint8 *p, client_id[7];
  guint8 end = OPT_END;

  g_byte_array_set_size (a, DHCP_OPTIONS_OFFSET);
  p = a->data;
  memset (p, 0, DHCP_OPTIONS_OFFSET);
  p[0] = 1; /* BOOTREQUEST */
  p[1] = 1; /* Ethernet */
  p[2] = 6;
  p[4] = c->xid >> 24;
  p[5] = (c->xid >> 16) & 0xff;
  p[6] = (c->xid >> 8) & 0xff;
  p[7] = c->xid & 0xff;
  p[10] = 0x80; /* broadcast: we cannot receive unicast before the lease */
  memcpy (p + 28, c->netif->mac.b, 6);
  p[236] = DHCP_MAGIC >> 24;
  p[237] = (DHCP_MAGIC >> 16) & 0xff;
  p[238] = (DHCP_MAGIC >> 8) & 0xff;
  p[239] = DHCP_MAGIC & 0xff;

  opt (a, OPT_MSG_TYPE, &type, 1);
  client_id[0] = 1;
  memcpy (client_id + 1, c->netif->mac.b, 6);
  opt (a, OPT_CLIENT_ID, client_id, sizeof client_id);
  if (requested)
    opt_u32 (a, OPT_REQUESTED_IP, requested);
  if (server_id)
    opt_u32 (a, OPT_SERVER_ID, server_id);
  opt (a, OPT_HOSTNAME, (const guint8 *) hostname, sizeof hostname - 1);
  opt (a, OPT_MAX_SIZE, max_size, sizeof max_size);
  opt (a, OPT_PARAM_LIST, params, sizeof params);
  g_byte_array_append (a, &end, 1);
  if (a->len < BOOTP_MIN_LEN)
    {
      guint old = a->len;
      g_byte_array_set_size (a, BOOTP_MIN_LEN);
      memset (a->data + old, 0, BOOTP_MIN_LEN - old);
    }
  return a;
}

static gboolean
send_message (DhcpClient *c, guint8 type, guint32 requested, guint32 server_id, GError **error)
{
  g_autoptr (GByteArray) m = build_message (c, type, requested, server_id);

  return probe_netif_send_udp (c->netif, &probe_mac_broadcast, 0, PROBE_IPV4_BROADCAST,
                               DHCP_CLIENT_PORT, DHCP_SERVER_PORT, m->data, m->len, error);
}

/* ---- parsing ----------------------------------------------------------------- */

static gboolean
parse_options (const guint8 *o, gsize len, DhcpMsg *m)
{
  gsize i = 0;

  while (i < len)
    {
      guint8 code = o[i], olen;
      const guint8 *v;

      if (code == OPT_PAD)
        {
          i++;
          continue;
        }
      if (code == OPT_END)
        return TRUE;
      if (i + 2 > len)
        return FALSE;
      olen = o[i + 1];
      if (i + 2 + olen > len)
        return FALSE;
      v = o + i + 2;
      switch (code)
        {
        case OPT_MSG_TYPE:
          if (olen == 1)
            m->type = v[0];
          break;
        case OPT_SUBNET_MASK:
          if (olen == 4)
            {
              m->has_mask = TRUE;
              m->mask = rd32 (v);
            }
          break;
        case OPT_ROUTER:
          if (olen >= 4)
            m->router = rd32 (v);
          break;
        case OPT_DNS:
          for (guint k = 0; k + 4 <= olen && m->n_dns < PROBE_DHCP_MAX_DNS; k += 4)
            m->dns[m->n_dns++] = rd32 (v + k);
          break;
        case OPT_DOMAIN:
          g_free (m->domain);
          m->domain = probe_sanitize (v, olen);
          break;
        case OPT_MESSAGE:
          g_free (m->message);
          m->message = probe_sanitize (v, olen);
          break;
        case OPT_MTU:
          if (olen == 2)
            m->mtu = (guint) ((v[0] << 8) | v[1]);
          break;
        case OPT_LEASE_TIME:
          if (olen == 4)
            {
              m->has_lease_time = TRUE;
              m->lease_time = rd32 (v);
            }
          break;
        case OPT_SERVER_ID:
          if (olen == 4)
            {
              m->has_server_id = TRUE;
              m->server_id = rd32 (v);
            }
          break;
        default:
          break;
        }
      i += 2 + (gsize) olen;
    }
  /* Options ended without END: accept what was read. */
  return TRUE;
}

static void
on_udp (const ProbeIpv4 *ip, const ProbeUdp *udp, gpointer user_data)
{
  DhcpClient *c = user_data;
  const guint8 *p = udp->payload;
  DhcpMsg m = { 0 };

  if (udp->sport != DHCP_SERVER_PORT || udp->payload_len < DHCP_OPTIONS_OFFSET)
    goto ignore;
  if (p[0] != 2 || p[1] != 1 || p[2] != 6 || rd32 (p + 4) != c->xid
      || memcmp (p + 28, c->netif->mac.b, 6) != 0 || rd32 (p + 236) != DHCP_MAGIC)
    goto ignore;
  if (!parse_options (p + DHCP_OPTIONS_OFFSET, udp->payload_len - DHCP_OPTIONS_OFFSET, &m))
    goto ignore;
  m.yiaddr = rd32 (p + 16);
  m.src = ip->src;
  if (!m.has_server_id)
    m.server_id = ip->src;

  if (c->got)
    goto ignore;
  if (c->want == DHCPOFFER && m.type == DHCPOFFER)
    {
      if (m.yiaddr == 0 || m.yiaddr == PROBE_IPV4_BROADCAST)
        goto ignore;
    }
  else if (c->want == DHCPACK && (m.type == DHCPACK || m.type == DHCPNAK))
    {
      /* Only the server we asked. */
      if (m.server_id != c->server_id)
        goto ignore;
    }
  else
    goto ignore;
  c->msg = m;
  c->got = TRUE;
  return;

ignore:
  dhcp_msg_clear (&m);
  c->ignored++;
}

static gboolean
got_reply (gpointer user_data)
{
  return ((DhcpClient *) user_data)->got;
}

/* Sends TYPE every second until a reply of the wanted kind or DEADLINE. */
static gboolean
exchange (DhcpClient *c, guint8 type, guint32 requested, gint64 deadline, guint *sent,
          GError **error)
{
  c->got = FALSE;
  for (;;)
    {
      g_autoptr (GError) local = NULL;
      gint64 retry = MIN (g_get_monotonic_time () + DHCP_RETRY_US, deadline);

      if (!send_message (c, type, requested, c->want == DHCPACK ? c->server_id : 0, error))
        return FALSE;
      (*sent)++;
      if (probe_tunnel_wait (c->netif->tunnel, got_reply, c, retry, &local))
        return TRUE;
      if (!g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) || retry >= deadline)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
    }
}

gboolean
probe_dhcp_run (ProbeNetif *netif, gint64 deadline, ProbeDhcpLease *lease, GError **error)
{
  DhcpClient c = { 0 };
  g_autoptr (GError) local = NULL;
  gboolean ok = FALSE;
  gint64 t0;
  guint32 offered;
  char a[16];

  memset (lease, 0, sizeof *lease);
  c.netif = netif;
  c.xid = g_random_int ();
  if (!probe_netif_set_udp_handler (netif, DHCP_CLIENT_PORT, on_udp, &c))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_FAILED, "no free UDP handler slot");
      return FALSE;
    }

  c.want = DHCPOFFER;
  t0 = g_get_monotonic_time ();
  if (!exchange (&c, DHCPDISCOVER, 0, deadline, &lease->discovers, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "no DHCPOFFER after %u DISCOVER(s)", lease->discovers);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&local), "DHCP DISCOVER: ");
      goto out;
    }
  lease->offer_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;
  offered = c.msg.yiaddr;
  c.server_id = c.msg.server_id;
  dhcp_msg_clear (&c.msg);

  c.want = DHCPACK;
  t0 = g_get_monotonic_time ();
  if (!exchange (&c, DHCPREQUEST, offered, deadline, &lease->requests, &local))
    {
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT,
                     "offered %s, but no DHCPACK after %u REQUEST(s)",
                     probe_ipv4_to_string (offered, a), lease->requests);
      else
        g_propagate_prefixed_error (error, g_steal_pointer (&local), "DHCP REQUEST: ");
      goto out;
    }
  lease->ack_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;
  if (c.msg.type == DHCPNAK)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "DHCPNAK for %s%s%s",
                   probe_ipv4_to_string (offered, a), c.msg.message ? ": " : "",
                   c.msg.message ? c.msg.message : "");
      goto out;
    }
  if (c.msg.yiaddr == 0 || c.msg.yiaddr == PROBE_IPV4_BROADCAST)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "DHCPACK without an address");
      goto out;
    }
  if (!c.msg.has_mask || probe_netmask_prefix (c.msg.mask) <= 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           c.msg.has_mask ? "DHCPACK with an invalid subnet mask"
                                          : "DHCPACK without a subnet mask");
      goto out;
    }
  if (c.msg.router == 0)
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "DHCPACK without a router");
      goto out;
    }

  lease->ip = c.msg.yiaddr;
  lease->netmask = c.msg.mask;
  lease->router = c.msg.router;
  lease->server_id = c.msg.server_id;
  memcpy (lease->dns, c.msg.dns, sizeof lease->dns);
  lease->n_dns = c.msg.n_dns;
  lease->domain = g_steal_pointer (&c.msg.domain);
  lease->has_lease_time = c.msg.has_lease_time;
  lease->lease_time = c.msg.lease_time;
  lease->mtu = c.msg.mtu;
  ok = TRUE;

out:
  dhcp_msg_clear (&c.msg);
  probe_netif_set_udp_handler (netif, DHCP_CLIENT_PORT, NULL, NULL);
  return ok;
}
