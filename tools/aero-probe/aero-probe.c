/* aero-probe.c — command line and step sequence of aero-probe, a client
 * that connects to an aero-l2-tunnel-v1 endpoint (`GET /l2`) and checks
 * the minimum viable LAN behind it: WebSocket upgrade, tunnel PING, DHCP,
 * ARP for the router, DNS, ICMP echo, a TCP echo round trip and a verified
 * bulk transfer, orderly TCP close, WebSocket close. Every step has a
 * deadline; the report (text or JSON) gives each step's outcome and
 * timings. Exit status: 0 all passed, 1 something failed, 2 usage. */
#include "probe-dhcp.h"
#include "probe-dns.h"
#include "probe-echo.h"
#include "probe-icmp.h"
#include "probe-netif.h"
#include "probe-report.h"
#include "probe-tcp.h"
#include "probe-tunnel.h"

#include <aero-net/aero-l2-tunnel.h>
#include <aero-net/aero-version.h>
#include <errno.h>
#include <locale.h>
#include <string.h>

#define EXIT_USAGE 2
#define DEFAULT_TIMEOUT_S 5.0
#define DEFAULT_BULK (1024u * 1024u)
#define MAX_BULK (G_GUINT64_CONSTANT (1) << 40)
/* Needs no Internet: the stack's DNS server asks the host resolver, which
 * answers it from /etc/hosts. Any name can be given with --dns-name. */
#define DEFAULT_DNS_NAME "localhost"

typedef struct {
  /* Options. */
  const char *url;
  char *token;
  char *origin;
  double timeout_s;
  char *dns_name;
  char *tcp_arg;
  char *tcp_host;
  guint16 tcp_port;
  gboolean tcp_host_is_name;
  guint32 tcp_addr;
  guint64 bulk;
  gboolean have_ping;
  guint32 ping_addr;
  ProbeMac mac;
  gboolean insecure;
  gboolean verbose;
  gboolean json;
  gboolean version;
  char *usage; /* the usage error, when parsing failed */

  /* Run state. */
  ProbeReport *report;
  ProbeTunnel *tunnel;
  ProbeNetif *netif;
  ProbeDhcpLease lease;
  ProbeMac router_mac;
  ProbeTcp *tcp;
  ProbeEcho *echo;
} Probe;

/* ---- options ------------------------------------------------------------------------- */

/* Records a usage error for main() to print; returns FALSE. */
static G_GNUC_PRINTF (2, 3) gboolean
usage_error (Probe *p, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_free (p->usage);
  p->usage = g_strdup_vprintf (format, ap);
  va_end (ap);
  return FALSE;
}

static gboolean
is_tchar (char c)
{
  return g_ascii_isalnum (c) || (c != '\0' && strchr ("!#$%&'*+-.^_`|~", c) != NULL);
}

static gboolean
parse_bulk (const char *text, guint64 *out)
{
  char *end = NULL;
  guint64 v, mult = 1;

  if (text == NULL || !g_ascii_isdigit (text[0]))
    return FALSE;
  errno = 0;
  v = g_ascii_strtoull (text, &end, 10);
  if (errno != 0)
    return FALSE;
  if (*end)
    {
      if (g_ascii_strcasecmp (end, "k") == 0 || g_ascii_strcasecmp (end, "kib") == 0)
        mult = 1024;
      else if (g_ascii_strcasecmp (end, "m") == 0 || g_ascii_strcasecmp (end, "mib") == 0)
        mult = 1024 * 1024;
      else if (g_ascii_strcasecmp (end, "g") == 0 || g_ascii_strcasecmp (end, "gib") == 0)
        mult = 1024 * 1024 * 1024;
      else
        return FALSE;
    }
  if (v > MAX_BULK / mult)
    return FALSE;
  *out = v * mult;
  return TRUE;
}

static gboolean
parse_tcp_target (Probe *p)
{
  const char *colon = strrchr (p->tcp_arg, ':');
  guint64 port;

  if (colon == NULL || colon == p->tcp_arg)
    return usage_error (p, "--tcp wants HOST:PORT, got \"%s\"", p->tcp_arg);
  if (!g_ascii_string_to_unsigned (colon + 1, 10, 1, 65535, &port, NULL))
    return usage_error (p, "--tcp: invalid port in \"%s\"", p->tcp_arg);
  p->tcp_port = (guint16) port;
  p->tcp_host = g_strndup (p->tcp_arg, (gsize) (colon - p->tcp_arg));
  if (probe_ipv4_from_string (p->tcp_host, &p->tcp_addr))
    p->tcp_host_is_name = FALSE;
  else if (probe_dns_name_valid (p->tcp_host))
    p->tcp_host_is_name = TRUE;
  else
    return usage_error (p, "--tcp: \"%s\" is neither an IPv4 address nor a host name",
                        p->tcp_host);
  return TRUE;
}

/* FALSE with p->usage set on a usage error. */
static gboolean
parse_options (Probe *p, int argc, char **argv)
{
  g_autofree char *bulk = NULL;
  g_autofree char *ping = NULL;
  g_autofree char *mac = NULL;
  GOptionEntry entries[] = {
    { "token", 0, 0, G_OPTION_ARG_STRING, &p->token,
      "Credential, offered as subprotocol " AERO_L2_TOKEN_PREFIX "T", "T" },
    { "origin", 0, 0, G_OPTION_ARG_STRING, &p->origin, "Origin header of the upgrade", "O" },
    { "timeout", 0, 0, G_OPTION_ARG_DOUBLE, &p->timeout_s, "Deadline of each step (default 5)",
      "SECONDS" },
    { "dns-name", 0, 0, G_OPTION_ARG_STRING, &p->dns_name,
      "Name to look up (default " DEFAULT_DNS_NAME ")", "NAME" },
    { "tcp", 0, 0, G_OPTION_ARG_STRING, &p->tcp_arg,
      "TCP echo service for the echo and bulk checks (default: skip them)", "HOST:PORT" },
    { "bulk", 0, 0, G_OPTION_ARG_STRING, &bulk,
      "Bytes for the bulk echo, K/M/G suffixes allowed (default 1M; 0 disables)", "BYTES" },
    { "ping", 0, 0, G_OPTION_ARG_STRING, &ping, "ICMP echo target (default: the router)",
      "ADDRESS" },
    { "mac", 0, 0, G_OPTION_ARG_STRING, &mac,
      "Guest MAC (default: random, locally administered)", "MAC" },
    { "insecure", 0, 0, G_OPTION_ARG_NONE, &p->insecure,
      "Accept any TLS certificate (wss:// with self-signed certificates)", NULL },
    { "json", 0, 0, G_OPTION_ARG_NONE, &p->json, "Print the report as one JSON object", NULL },
    { "verbose", 'v', 0, G_OPTION_ARG_NONE, &p->verbose, "Log every frame and message to stderr",
      NULL },
    { "version", 0, 0, G_OPTION_ARG_NONE, &p->version, "Print the version and exit", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("URL");
  g_autoptr (GError) error = NULL;
  g_autoptr (GUri) uri = NULL;
  const char *scheme;

  g_option_context_set_summary (ctx,
    "Checks the LAN behind an aero-l2-tunnel-v1 endpoint (ws:// or wss://, e.g.\n"
    "ws://127.0.0.1:8090/l2): WebSocket upgrade, tunnel PING, DHCP, ARP, DNS,\n"
    "ICMP echo, and with --tcp a TCP echo and a verified bulk transfer.");
  g_option_context_set_description (ctx,
    "Exit status: 0 when every step passed, 1 when one failed (or did not run\n"
    "because an earlier one failed), 2 for usage errors.");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    return usage_error (p, "%s", error->message);
  if (p->version)
    return TRUE;
  if (argc != 2)
    return usage_error (p, "%s", argc < 2 ? "missing URL" : "too many arguments");
  p->url = argv[1];

  uri = g_uri_parse (p->url, G_URI_FLAGS_NONE, &error);
  if (uri == NULL)
    return usage_error (p, "invalid URL \"%s\": %s", p->url, error->message);
  scheme = g_uri_get_scheme (uri);
  if (g_ascii_strcasecmp (scheme, "ws") != 0 && g_ascii_strcasecmp (scheme, "wss") != 0)
    return usage_error (p, "the URL must start with ws:// or wss://");
  if (g_uri_get_host (uri) == NULL || *g_uri_get_host (uri) == '\0')
    return usage_error (p, "the URL has no host");

  if (p->token)
    {
      if (*p->token == '\0')
        return usage_error (p, "--token must not be empty");
      for (const char *c = p->token; *c; c++)
        if (!is_tchar (*c))
          return usage_error (p, "--token may only contain HTTP token characters "
                              "(it is sent as a subprotocol name)");
    }
  if (p->origin)
    {
      if (*p->origin == '\0')
        return usage_error (p, "--origin must not be empty");
      for (const char *c = p->origin; *c; c++)
        if ((guchar) *c < 0x20 || *c == 0x7f)
          return usage_error (p, "--origin contains control characters");
    }
  if (!(p->timeout_s > 0 && p->timeout_s <= 3600))
    return usage_error (p, "--timeout must be more than 0 and at most 3600 seconds");
  if (p->dns_name == NULL)
    p->dns_name = g_strdup (DEFAULT_DNS_NAME);
  else if (!probe_dns_name_valid (p->dns_name))
    return usage_error (p, "--dns-name: \"%s\" is not a valid host name", p->dns_name);
  if (p->tcp_arg && !parse_tcp_target (p))
    return FALSE;
  p->bulk = DEFAULT_BULK;
  if (bulk && !parse_bulk (bulk, &p->bulk))
    return usage_error (p, "--bulk: \"%s\" is not a byte count (e.g. 65536, 64K, 8M)", bulk);
  if (ping)
    {
      if (!probe_ipv4_from_string (ping, &p->ping_addr))
        return usage_error (p, "--ping: \"%s\" is not an IPv4 address", ping);
      p->have_ping = TRUE;
    }
  if (mac)
    {
      static const ProbeMac zero = { { 0 } };

      if (!probe_mac_parse (mac, &p->mac))
        return usage_error (p, "--mac: \"%s\" is not a MAC address (aa:bb:cc:dd:ee:ff)", mac);
      if ((p->mac.b[0] & 1) || probe_mac_equal (&p->mac, &zero))
        return usage_error (p, "--mac: %s is not a unicast address", mac);
    }
  else
    probe_mac_random (&p->mac);
  return TRUE;
}

/* ---- steps ----------------------------------------------------------------------------- */

static gint64
step_deadline (Probe *p)
{
  return g_get_monotonic_time () + (gint64) (p->timeout_s * G_USEC_PER_SEC);
}

/* Adds NAME as skipped (a failure) unless every named prerequisite is ok. */
static G_GNUC_NULL_TERMINATED gboolean
requires (Probe *p, const char *name, ...)
{
  va_list ap;
  const char *dep;
  gboolean ok = TRUE;

  va_start (ap, name);
  while ((dep = va_arg (ap, const char *)) != NULL)
    {
      if (!probe_report_step_ok (p->report, dep))
        {
          probe_report_skip (p->report, name, TRUE, "not run: %s did not pass", dep);
          ok = FALSE;
          break;
        }
    }
  va_end (ap);
  return ok;
}

static void
step_connect (Probe *p)
{
  ProbeStep *s = probe_report_begin (p->report, "connect");
  ProbeTunnelOptions opts = { p->url, p->origin, p->token, p->insecure, p->verbose };
  g_autoptr (GError) error = NULL;
  guint status = 0;

  p->tunnel = probe_tunnel_new (&opts);
  p->netif = probe_netif_new (p->tunnel, &p->mac, p->verbose);
  if (!probe_tunnel_connect (p->tunnel, step_deadline (p), &status, &error))
    {
      if (status)
        probe_step_set_int (s, "http_status", status);
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_int (s, "http_status", status);
  probe_step_set_string (s, "protocol", probe_tunnel_get_protocol (p->tunnel));
  probe_step_pass (s, "HTTP %u, subprotocol %s", status, probe_tunnel_get_protocol (p->tunnel));
}

static void
step_tunnel_ping (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  double rtt = 0;

  if (!requires (p, "tunnel-ping", "connect", NULL))
    return;
  s = probe_report_begin (p->report, "tunnel-ping");
  if (!probe_tunnel_ping (p->tunnel, step_deadline (p), &rtt, &error))
    {
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_double (s, "rtt_ms", rtt);
  probe_step_pass (s, "PONG after %.2f ms", rtt);
}

static void
step_dhcp (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) dns = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GString) summary = g_string_new (NULL);
  ProbeDhcpLease *l = &p->lease;
  char a[16], b[16];

  if (!requires (p, "dhcp", "connect", NULL))
    return;
  s = probe_report_begin (p->report, "dhcp");
  if (!probe_dhcp_run (p->netif, step_deadline (p), l, &error))
    {
      probe_step_set_int (s, "discovers", l->discovers);
      probe_step_set_int (s, "requests", l->requests);
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_netif_configure (p->netif, l->ip, l->netmask, l->router, l->mtu);

  for (guint i = 0; i < l->n_dns; i++)
    g_ptr_array_add (dns, g_strdup (probe_ipv4_to_string (l->dns[i], a)));
  g_ptr_array_add (dns, NULL);
  probe_step_set_string (s, "ip", probe_ipv4_to_string (l->ip, a));
  probe_step_set_string (s, "netmask", probe_ipv4_to_string (l->netmask, a));
  probe_step_set_int (s, "prefix", probe_netmask_prefix (l->netmask));
  probe_step_set_string (s, "router", probe_ipv4_to_string (l->router, a));
  probe_step_set_strv (s, "dns", (const char *const *) dns->pdata);
  probe_step_set_string (s, "domain", l->domain);
  if (l->has_lease_time)
    probe_step_set_int (s, "lease_time_s", l->lease_time);
  else
    probe_step_set_string (s, "lease_time_s", NULL);
  if (l->mtu)
    probe_step_set_int (s, "mtu", l->mtu);
  else
    probe_step_set_string (s, "mtu", NULL);
  probe_step_set_string (s, "server", probe_ipv4_to_string (l->server_id, a));
  probe_step_set_double (s, "offer_ms", l->offer_ms);
  probe_step_set_double (s, "ack_ms", l->ack_ms);
  probe_step_set_int (s, "discovers", l->discovers);
  probe_step_set_int (s, "requests", l->requests);

  g_string_append_printf (summary, "%s/%d router %s", probe_ipv4_to_string (l->ip, a),
                          probe_netmask_prefix (l->netmask), probe_ipv4_to_string (l->router, b));
  g_string_append (summary, " dns");
  if (l->n_dns == 0)
    g_string_append (summary, " (none)");
  for (guint i = 0; i < l->n_dns; i++)
    g_string_append_printf (summary, "%s%s", i ? "," : " ", probe_ipv4_to_string (l->dns[i], a));
  if (l->domain && *l->domain)
    g_string_append_printf (summary, " domain %s", l->domain);
  if (l->has_lease_time)
    g_string_append_printf (summary, " lease %u s", l->lease_time);
  if (l->mtu)
    g_string_append_printf (summary, " mtu %u", l->mtu);
  probe_step_pass (s, "%s", summary->str);
}

static void
step_arp (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  char a[16], m[18];

  if (!requires (p, "arp", "dhcp", NULL))
    return;
  s = probe_report_begin (p->report, "arp");
  probe_step_set_string (s, "address", probe_ipv4_to_string (p->lease.router, a));
  if (!probe_netif_arp_resolve (p->netif, p->lease.router, step_deadline (p), &p->router_mac,
                                &error))
    {
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_string (s, "mac", probe_mac_to_string (&p->router_mac, m));
  probe_step_pass (s, "router %s is at %s", a, m);
}

static void
set_addresses (ProbeStep *s, const char *key, const ProbeDnsAnswer *ans, GString *text)
{
  g_autoptr (GPtrArray) list = g_ptr_array_new_with_free_func (g_free);
  char a[16];

  for (guint i = 0; i < ans->n_addrs; i++)
    {
      probe_ipv4_to_string (ans->addrs[i], a);
      g_ptr_array_add (list, g_strdup (a));
      if (text)
        g_string_append_printf (text, "%s%s", i ? "," : "", a);
    }
  g_ptr_array_add (list, NULL);
  probe_step_set_strv (s, key, (const char *const *) list->pdata);
}

static void
step_dns (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  g_autoptr (GString) addrs = g_string_new (NULL);
  ProbeDnsAnswer ans = { 0 };
  gboolean ok;
  char a[16];

  if (!requires (p, "dns", "dhcp", "arp", NULL))
    return;
  s = probe_report_begin (p->report, "dns");
  probe_step_set_string (s, "name", p->dns_name);
  if (p->lease.n_dns == 0)
    {
      probe_step_fail (s, "the lease names no DNS server");
      return;
    }
  probe_step_set_string (s, "server", probe_ipv4_to_string (p->lease.dns[0], a));
  ok = probe_dns_resolve (p->netif, p->lease.dns[0], p->dns_name, step_deadline (p), &ans, &error);
  probe_step_set_int (s, "queries", ans.attempts);
  if (ans.attempts && (ok || ans.rcode != 0))
    {
      probe_step_set_string (s, "rcode", probe_dns_rcode_name (ans.rcode));
      probe_step_set_double (s, "rtt_ms", ans.rtt_ms);
    }
  set_addresses (s, "addresses", &ans, addrs);
  if (!ok)
    {
      probe_step_fail (s, "%s", error->message);
      probe_dns_answer_clear (&ans);
      return;
    }
  probe_step_set_int (s, "ttl", ans.ttl);
  probe_step_set_string (s, "cname", ans.cname);
  probe_step_pass (s, "%s A %s (via %s, %.2f ms)", p->dns_name, addrs->str, a, ans.rtt_ms);
  probe_dns_answer_clear (&ans);
}

static void
step_icmp (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  ProbeIcmpResult r;
  guint32 target;
  char a[16];

  if (!requires (p, "icmp", "dhcp", "arp", NULL))
    return;
  s = probe_report_begin (p->report, "icmp");
  target = p->have_ping ? p->ping_addr : p->lease.router;
  probe_step_set_string (s, "target", probe_ipv4_to_string (target, a));
  if (!probe_icmp_ping (p->netif, target, step_deadline (p), &r, &error))
    {
      probe_step_set_int (s, "requests", r.sent);
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_double (s, "rtt_ms", r.rtt_ms);
  probe_step_set_int (s, "seq", r.seq);
  probe_step_set_int (s, "ttl", r.ttl);
  probe_step_set_int (s, "requests", r.sent);
  probe_step_pass (s, "echo reply from %s in %.2f ms (ttl %u)", a, r.rtt_ms, r.ttl);
}

static void
step_tcp_connect (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  ProbeMac next_hop;
  gint64 deadline;
  double handshake_ms = 0;
  char a[16];

  if (!requires (p, "tcp-connect", "dhcp", "arp", NULL))
    return;
  if (p->tcp_host_is_name && !requires (p, "tcp-connect", "dns", NULL))
    return;
  s = probe_report_begin (p->report, "tcp-connect");
  deadline = step_deadline (p);
  probe_step_set_string (s, "host", p->tcp_host);
  probe_step_set_int (s, "port", p->tcp_port);
  if (p->tcp_host_is_name)
    {
      ProbeDnsAnswer ans = { 0 };
      gint64 t0 = g_get_monotonic_time ();

      if (!probe_dns_resolve (p->netif, p->lease.dns[0], p->tcp_host, deadline, &ans, &error))
        {
          probe_step_fail (s, "resolving %s: %s", p->tcp_host, error->message);
          probe_dns_answer_clear (&ans);
          return;
        }
      p->tcp_addr = ans.addrs[0];
      probe_step_set_double (s, "resolve_ms", (double) (g_get_monotonic_time () - t0) / 1000.0);
      probe_dns_answer_clear (&ans);
    }
  probe_ipv4_to_string (p->tcp_addr, a);
  probe_step_set_string (s, "address", a);
  if (!probe_netif_next_hop (p->netif, p->tcp_addr, deadline, &next_hop, &error))
    {
      probe_step_fail (s, "%s", error->message);
      return;
    }
  p->tcp = probe_tcp_new (p->netif, &next_hop, p->tcp_addr, p->tcp_port);
  p->echo = probe_echo_new (p->tcp);
  probe_step_set_int (s, "local_port", probe_tcp_get_local_port (p->tcp));
  if (!probe_tcp_connect (p->tcp, deadline, &handshake_ms, &error))
    {
      probe_step_fail (s, "%s:%u: %s", a, p->tcp_port, error->message);
      return;
    }
  probe_step_set_double (s, "handshake_ms", handshake_ms);
  probe_step_set_int (s, "mss", probe_tcp_get_mss (p->tcp));
  probe_step_set_int (s, "peer_window", probe_tcp_get_peer_window (p->tcp));
  probe_step_pass (s, "%s:%u%s%s%s established in %.2f ms, mss %u, peer window %u", a,
                   p->tcp_port, p->tcp_host_is_name ? " (" : "",
                   p->tcp_host_is_name ? p->tcp_host : "", p->tcp_host_is_name ? ")" : "",
                   handshake_ms, probe_tcp_get_mss (p->tcp), probe_tcp_get_peer_window (p->tcp));
}

static void
step_tcp_echo (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  ProbeEchoResult r;

  if (!requires (p, "tcp-echo", "tcp-connect", NULL))
    return;
  s = probe_report_begin (p->report, "tcp-echo");
  if (!probe_echo_roundtrip (p->echo, step_deadline (p), &r, &error))
    {
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_int (s, "bytes", (gint64) r.bytes);
  probe_step_set_double (s, "rtt_ms", r.rtt_ms);
  probe_step_pass (s, "%" G_GSIZE_FORMAT " bytes echoed in %.2f ms", r.bytes, r.rtt_ms);
}

static void
step_tcp_bulk (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  ProbeBulkResult r;
  ProbeTcpStats before, after;
  gboolean ok;

  if (p->bulk == 0)
    {
      probe_report_skip (p->report, "tcp-bulk", FALSE, "skipped (--bulk 0)");
      return;
    }
  if (!requires (p, "tcp-bulk", "tcp-echo", NULL))
    return;
  s = probe_report_begin (p->report, "tcp-bulk");
  before = *probe_tcp_get_stats (p->tcp);
  ok = probe_echo_bulk (p->echo, p->bulk, step_deadline (p), &r, &error);
  after = *probe_tcp_get_stats (p->tcp);
  probe_step_set_int (s, "bytes", (gint64) r.bytes);
  probe_step_set_int (s, "sent", (gint64) r.sent);
  probe_step_set_int (s, "received", (gint64) r.received);
  probe_step_set_bool (s, "verified", r.verified);
  if (r.mismatch)
    probe_step_set_int (s, "mismatch_offset", (gint64) r.mismatch_at);
  probe_step_set_double (s, "transfer_ms", r.ms);
  probe_step_set_double (s, "mbit_s", r.mbit_s);
  probe_step_set_int (s, "segments_sent", (gint64) (after.segments_sent - before.segments_sent));
  probe_step_set_int (s, "segments_received",
                      (gint64) (after.segments_received - before.segments_received));
  probe_step_set_int (s, "retransmits", (gint64) (after.retransmits - before.retransmits));
  probe_step_set_int (s, "timeouts", (gint64) (after.timeouts - before.timeouts));
  probe_step_set_int (s, "fast_retransmits",
                      (gint64) (after.fast_retransmits - before.fast_retransmits));
  probe_step_set_int (s, "out_of_order", (gint64) (after.out_of_order - before.out_of_order));
  if (!ok)
    {
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_pass (s, "%" G_GUINT64_FORMAT " bytes echoed and verified in %.1f ms, %.1f Mbit/s",
                   r.bytes, r.ms, r.mbit_s);
}

static void
step_tcp_close (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  ProbeCloseResult r;

  if (!requires (p, "tcp-close", "tcp-echo", "tcp-bulk", NULL))
    {
      if (p->tcp)
        probe_tcp_abort (p->tcp);
      return;
    }
  s = probe_report_begin (p->report, "tcp-close");
  if (!probe_echo_close (p->echo, step_deadline (p), &r, &error))
    {
      probe_step_set_bool (s, "fin_acked", r.fin_acked);
      probe_step_set_bool (s, "fin_received", r.fin_received);
      probe_step_fail (s, "%s", error->message);
      probe_tcp_abort (p->tcp);
      return;
    }
  probe_step_set_bool (s, "fin_acked", r.fin_acked);
  probe_step_set_bool (s, "fin_received", r.fin_received);
  probe_step_set_string (s, "state", probe_tcp_state_name (probe_tcp_get_state (p->tcp)));
  probe_step_pass (s, "FIN sent and acknowledged, FIN received (%s)",
                   probe_tcp_state_name (probe_tcp_get_state (p->tcp)));
}

static void
step_close (Probe *p)
{
  ProbeStep *s;
  g_autoptr (GError) error = NULL;
  guint code = 0;

  if (!requires (p, "close", "connect", NULL))
    return;
  s = probe_report_begin (p->report, "close");
  if (!probe_tunnel_close (p->tunnel, step_deadline (p), &code, &error))
    {
      if (code)
        probe_step_set_int (s, "code", code);
      probe_step_fail (s, "%s", error->message);
      return;
    }
  probe_step_set_int (s, "code", code);
  probe_step_pass (s, "closed, server answered %u", code);
}

/* ---- report sections ------------------------------------------------------------------- */

static JsonNode *
options_node (Probe *p)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  char m[18], a[16];

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "mac");
  json_builder_add_string_value (b, probe_mac_to_string (&p->mac, m));
  json_builder_set_member_name (b, "timeout_s");
  json_builder_add_double_value (b, p->timeout_s);
  json_builder_set_member_name (b, "dns_name");
  json_builder_add_string_value (b, p->dns_name);
  json_builder_set_member_name (b, "tcp");
  if (p->tcp_arg)
    json_builder_add_string_value (b, p->tcp_arg);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "bulk");
  json_builder_add_int_value (b, (gint64) p->bulk);
  json_builder_set_member_name (b, "ping");
  if (p->have_ping)
    json_builder_add_string_value (b, probe_ipv4_to_string (p->ping_addr, a));
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "origin");
  if (p->origin)
    json_builder_add_string_value (b, p->origin);
  else
    json_builder_add_null_value (b);
  /* Never the credential itself. */
  json_builder_set_member_name (b, "token");
  json_builder_add_boolean_value (b, p->token != NULL);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
add_counter (JsonBuilder *b, const char *name, guint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, (gint64) value);
}

static JsonNode *
tunnel_node (Probe *p)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const ProbeTunnelStats *st = probe_tunnel_get_stats (p->tunnel);
  GPtrArray *errors = probe_tunnel_get_errors (p->tunnel);
  guint code;

  json_builder_begin_object (b);
  add_counter (b, "frames_sent", st->frames_sent);
  add_counter (b, "frames_received", st->frames_received);
  add_counter (b, "bytes_sent", st->bytes_sent);
  add_counter (b, "bytes_received", st->bytes_received);
  add_counter (b, "pings_answered", st->pings_answered);
  add_counter (b, "messages_dropped", st->messages_dropped);
  add_counter (b, "unknown_types", st->unknown_types);
  add_counter (b, "frames_ignored", p->netif->stats.frames_ignored);
  add_counter (b, "packets_invalid", p->netif->stats.packets_invalid);
  add_counter (b, "fragments_dropped", p->netif->stats.fragments);
  add_counter (b, "arp_requests_answered", p->netif->stats.arp_answered);
  json_builder_set_member_name (b, "server_errors");
  json_builder_begin_array (b);
  for (guint i = 0; i < errors->len; i++)
    {
      ProbeTunnelError *e = g_ptr_array_index (errors, i);

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_int_value (b, e->code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, e->message);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "server_close_code");
  if (probe_tunnel_get_server_close (p->tunnel, &code))
    json_builder_add_int_value (b, code);
  else
    json_builder_add_null_value (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static JsonNode *
tcp_node (Probe *p)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  const ProbeTcpStats *st = probe_tcp_get_stats (p->tcp);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, probe_tcp_state_name (probe_tcp_get_state (p->tcp)));
  json_builder_set_member_name (b, "srtt_ms");
  json_builder_add_double_value (b, (double) (gint64) (probe_tcp_get_srtt_ms (p->tcp) * 1000.0) / 1000.0);
  add_counter (b, "segments_sent", st->segments_sent);
  add_counter (b, "segments_received", st->segments_received);
  add_counter (b, "bytes_sent", st->bytes_sent);
  add_counter (b, "bytes_received", st->bytes_received);
  add_counter (b, "retransmits", st->retransmits);
  add_counter (b, "timeouts", st->timeouts);
  add_counter (b, "fast_retransmits", st->fast_retransmits);
  add_counter (b, "dup_acks", st->dup_acks);
  add_counter (b, "out_of_order", st->out_of_order);
  add_counter (b, "out_of_order_dropped", st->out_of_order_dropped);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

/* ---- main ---------------------------------------------------------------------------------- */

static void
probe_free_options (Probe *p)
{
  g_free (p->token);
  g_free (p->origin);
  g_free (p->dns_name);
  g_free (p->tcp_arg);
  g_free (p->tcp_host);
  g_free (p->usage);
}

static void
run (Probe *p)
{
  step_connect (p);
  step_tunnel_ping (p);
  step_dhcp (p);
  step_arp (p);
  step_dns (p);
  step_icmp (p);
  if (p->tcp_arg)
    {
      step_tcp_connect (p);
      step_tcp_echo (p);
      step_tcp_bulk (p);
      step_tcp_close (p);
    }
  else
    {
      static const char *const tcp_steps[] = { "tcp-connect", "tcp-echo", "tcp-bulk", "tcp-close" };

      for (guint i = 0; i < G_N_ELEMENTS (tcp_steps); i++)
        probe_report_skip (p->report, tcp_steps[i], FALSE, "skipped (no --tcp given)");
    }
  step_close (p);
}

int
main (int argc, char **argv)
{
  Probe p = { 0 };
  gboolean ok;

  setlocale (LC_ALL, "");
  p.timeout_s = DEFAULT_TIMEOUT_S;
  if (!parse_options (&p, argc, argv) || p.version)
    {
      int status = 0;

      if (p.usage)
        {
          g_printerr ("aero-probe: %s\nTry 'aero-probe --help' for more information.\n", p.usage);
          status = EXIT_USAGE;
        }
      else
        g_print ("aero-probe %s\n", AERO_NET_VERSION);
      probe_free_options (&p);
      return status;
    }

  p.report = probe_report_new (p.url);
  run (&p);

  probe_report_set_member (p.report, "options", options_node (&p));
  probe_report_set_member (p.report, "tunnel", tunnel_node (&p));
  if (p.tcp)
    probe_report_set_member (p.report, "tcp", tcp_node (&p));
  ok = probe_report_ok (p.report);
  if (p.json)
    {
      g_autofree char *json = probe_report_to_json (p.report);
      g_print ("%s\n", json);
    }
  else
    probe_report_print_text (p.report, stdout);

  probe_echo_free (p.echo);
  probe_tcp_free (p.tcp);
  probe_netif_free (p.netif);
  probe_tunnel_free (p.tunnel);
  probe_report_free (p.report);
  probe_dhcp_lease_clear (&p.lease);
  probe_free_options (&p);
  return ok ? 0 : 1;
}
