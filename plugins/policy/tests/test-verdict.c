/* test-verdict.c — the policy's decisions, table by table: every
 * special-use range with the addresses at and just beyond its edges, the
 * IPv6 forms that embed an IPv4 address, allow and deny rules with port
 * ranges (deny wins), the port list, the stack's virtual services,
 * require-resolved-names, name patterns, resolved addresses in DNS answers
 * (rebinding), and configuration errors with their messages. Each row is
 * one GTest case. The plugin's verdict sources are linked in directly. */
#include <string.h>

#include "policy-config.h"
#include "policy-ranges.h"
#include "policy-verdict.h"

#define FILE_NAME "test.ini"
#define GROUP "egress"

/* ---- configurations under test ------------------------------------------------ */

typedef struct {
  const char *id;
  const char *keys; /* the body of [egress] */
  const char *host; /* the host's own addresses, comma-separated */
  const char *resolved; /* addresses the session resolved, comma-separated */
} Setup;

static const Setup setups[] = {
  { "default", "", "", "" },
  { "rules",
    "allow = 10.0.2.100:80, 198.51.100.7:8000-9000, [2001:db8::1]:443, *:443, 172.20.0.0/16\n"
    "deny = 203.0.113.0/24, 8.8.4.4, *:25, 1.1.1.0/24:53, [2606:4700::/32]:22\n"
    "ports = 80, 8080-8090\n",
    "", "" },
  { "open", "mode = open\ndeny = 192.0.2.1, 6.6.6.0/24:6000-6010\n", "", "" },
  { "resolved",
    "require-resolved-names = true\nallow = 198.51.100.10:443, *:8443\n", "",
    "93.184.216.34, 2606:2800:220:1::1" },
  { "virtual",
    "gateway = 11.0.0.2\ndns-address = 11.0.0.3\nallow = 12.0.0.1:8080\n",
    "12.0.0.1, 2a00::1, 127.0.0.1", "" },
  { "names",
    "allow-names = *.example.com, example.org, *.Test.\n"
    "deny-names = bad.example.com, *.internal.example.com\n",
    "", "" },
  { "opennames", "mode = open\ndeny-names = *.blocked.test\n", "", "" },
};

typedef struct {
  PolicyConfig *config;
  GArray *host;
  GArray *resolved;
} Loaded;

static Loaded loaded[G_N_ELEMENTS (setups)];

static GArray *
address_list (const char *text)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (PolicyAddress));
  g_auto (GStrv) items = g_strsplit (text, ",", -1);

  for (guint i = 0; items[i]; i++)
    {
      g_autoptr (GInetAddress) inet = NULL;
      PolicyAddress a = { 0 };

      g_strstrip (items[i]);
      if (items[i][0] == '\0')
        continue;
      inet = g_inet_address_new_from_string (items[i]);
      g_assert_nonnull (inet);
      a.family = g_inet_address_get_family (inet);
      memcpy (a.addr, g_inet_address_to_bytes (inet), g_inet_address_get_native_size (inet));
      g_array_append_val (out, a);
    }
  return out;
}

static PolicyConfig *
parse_config (const char *keys, GError **error)
{
  g_autoptr (GKeyFile) kf = g_key_file_new ();
  g_autofree char *text = g_strdup_printf ("[" GROUP "]\nplugin = policy\n%s", keys);
  g_autoptr (AeroConfigGroup) group = NULL;
  PolicyConfig *config;

  g_assert_true (g_key_file_load_from_data (kf, text, -1, G_KEY_FILE_NONE, NULL));
  group = aero_config_group_new (kf, FILE_NAME, GROUP);
  aero_config_group_has_key (group, "plugin");
  config = policy_config_parse (group, error);
  if (config && !aero_config_group_check_unknown_keys (group, error))
    g_clear_pointer (&config, policy_config_free);
  return config;
}

static const Loaded *
setup (const char *id)
{
  for (guint i = 0; i < G_N_ELEMENTS (setups); i++)
    if (strcmp (setups[i].id, id) == 0)
      {
        if (loaded[i].config == NULL)
          {
            g_autoptr (GError) error = NULL;

            loaded[i].config = parse_config (setups[i].keys, &error);
            g_assert_no_error (error);
            loaded[i].host = address_list (setups[i].host);
            loaded[i].resolved = address_list (setups[i].resolved);
          }
        return &loaded[i];
      }
  g_assert_not_reached ();
}

static gboolean
resolved_in (GSocketFamily family, const guint8 *addr, gpointer data)
{
  return policy_address_in (data, family, addr);
}

/* ---- flows ------------------------------------------------------------------ */

typedef struct {
  const char *setup;
  const char *proto;
  const char *dst;
  guint16 port;
  const char *expect; /* "allow", "service" or the denial reason */
} FlowCase;

static const FlowCase flow_cases[] = {
  /* IPv4 special-use ranges: each edge and the addresses just outside. */
  { "default", "tcp", "0.0.0.0", 80, "unspecified" },
  { "default", "tcp", "0.255.255.255", 80, "unspecified" },
  { "default", "tcp", "1.0.0.0", 80, "allow" },
  { "default", "tcp", "9.255.255.255", 80, "allow" },
  { "default", "tcp", "10.0.0.0", 80, "private" },
  { "default", "tcp", "10.1.2.3", 80, "private" },
  { "default", "tcp", "10.255.255.255", 80, "private" },
  { "default", "tcp", "11.0.0.0", 80, "allow" },
  { "default", "tcp", "100.63.255.255", 80, "allow" },
  { "default", "tcp", "100.64.0.0", 80, "cgnat" },
  { "default", "tcp", "100.127.255.255", 80, "cgnat" },
  { "default", "tcp", "100.128.0.0", 80, "allow" },
  { "default", "tcp", "126.255.255.255", 80, "allow" },
  { "default", "tcp", "127.0.0.0", 80, "loopback" },
  { "default", "tcp", "127.0.0.1", 80, "loopback" },
  { "default", "tcp", "127.255.255.255", 80, "loopback" },
  { "default", "tcp", "128.0.0.0", 80, "allow" },
  { "default", "tcp", "169.253.255.255", 80, "allow" },
  { "default", "tcp", "169.254.0.0", 80, "link_local" },
  { "default", "tcp", "169.254.169.254", 80, "link_local" },
  { "default", "tcp", "169.254.255.255", 80, "link_local" },
  { "default", "tcp", "169.255.0.0", 80, "allow" },
  { "default", "tcp", "172.15.255.255", 80, "allow" },
  { "default", "tcp", "172.16.0.0", 80, "private" },
  { "default", "tcp", "172.31.255.255", 80, "private" },
  { "default", "tcp", "172.32.0.0", 80, "allow" },
  { "default", "tcp", "191.255.255.255", 80, "allow" },
  { "default", "tcp", "192.0.0.0", 80, "reserved" },
  { "default", "tcp", "192.0.0.255", 80, "reserved" },
  { "default", "tcp", "192.0.1.0", 80, "allow" },
  { "default", "tcp", "192.0.2.0", 80, "documentation" },
  { "default", "tcp", "192.0.2.255", 80, "documentation" },
  { "default", "tcp", "192.0.3.0", 80, "allow" },
  { "default", "tcp", "192.88.98.255", 80, "allow" },
  { "default", "tcp", "192.88.99.0", 80, "reserved" },
  { "default", "tcp", "192.88.99.255", 80, "reserved" },
  { "default", "tcp", "192.88.100.0", 80, "allow" },
  { "default", "tcp", "192.167.255.255", 80, "allow" },
  { "default", "tcp", "192.168.0.0", 80, "private" },
  { "default", "tcp", "192.168.1.1", 80, "private" },
  { "default", "tcp", "192.168.255.255", 80, "private" },
  { "default", "tcp", "192.169.0.0", 80, "allow" },
  { "default", "tcp", "198.17.255.255", 80, "allow" },
  { "default", "tcp", "198.18.0.0", 80, "reserved" },
  { "default", "tcp", "198.19.255.255", 80, "reserved" },
  { "default", "tcp", "198.20.0.0", 80, "allow" },
  { "default", "tcp", "198.51.99.255", 80, "allow" },
  { "default", "tcp", "198.51.100.0", 80, "documentation" },
  { "default", "tcp", "198.51.100.255", 80, "documentation" },
  { "default", "tcp", "198.51.101.0", 80, "allow" },
  { "default", "tcp", "203.0.112.255", 80, "allow" },
  { "default", "tcp", "203.0.113.0", 80, "documentation" },
  { "default", "tcp", "203.0.113.255", 80, "documentation" },
  { "default", "tcp", "203.0.114.0", 80, "allow" },
  { "default", "tcp", "223.255.255.255", 80, "allow" },
  { "default", "tcp", "224.0.0.0", 80, "multicast" },
  { "default", "udp", "224.0.0.251", 5353, "multicast" },
  { "default", "tcp", "239.255.255.255", 80, "multicast" },
  { "default", "tcp", "240.0.0.0", 80, "reserved" },
  { "default", "tcp", "255.255.255.254", 80, "reserved" },
  { "default", "udp", "255.255.255.255", 9999, "broadcast" },
  { "default", "tcp", "8.8.8.8", 443, "allow" },
  { "default", "udp", "8.8.8.8", 53, "allow" },
  { "default", "tcp", "93.184.216.34", 80, "allow" },
  { "default", "tcp", "1.1.1.1", 1, "allow" },
  { "default", "tcp", "1.1.1.1", 65535, "allow" },
  { "default", "icmp", "8.8.8.8", 0, "allow" },
  { "default", "icmp", "127.0.0.1", 0, "loopback" },
  { "default", "icmp", "169.254.169.254", 0, "link_local" },

  /* IPv6 special-use ranges and their edges. */
  { "default", "tcp", "::", 80, "unspecified" },
  { "default", "tcp", "::1", 80, "loopback" },
  { "default", "tcp", "::2", 80, "unspecified" },
  { "default", "tcp", "fe80::", 80, "link_local" },
  { "default", "tcp", "fe80::1", 80, "link_local" },
  { "default", "tcp", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "link_local" },
  { "default", "tcp", "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "reserved" },
  { "default", "tcp", "fec0::1", 80, "private" },
  { "default", "tcp", "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "reserved" },
  { "default", "tcp", "fc00::", 80, "private" },
  { "default", "tcp", "fd00::2", 80, "private" },
  { "default", "tcp", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "private" },
  { "default", "tcp", "ff00::", 80, "multicast" },
  { "default", "udp", "ff02::1", 9999, "multicast" },
  { "default", "udp", "ff02::fb", 5353, "multicast" },
  { "default", "tcp", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "multicast" },
  { "default", "tcp", "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", 80, "allow" },
  { "default", "tcp", "2001:db8::", 80, "documentation" },
  { "default", "tcp", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 80, "documentation" },
  { "default", "tcp", "2001:db9::", 80, "allow" },
  { "default", "tcp", "3fff::", 80, "documentation" },
  { "default", "tcp", "3fff:fff:ffff::", 80, "documentation" },
  { "default", "tcp", "3fff:1000::", 80, "allow" },
  { "default", "tcp", "2001::1", 80, "reserved" },
  { "default", "tcp", "2001:0:ffff:ffff::", 80, "reserved" },
  { "default", "tcp", "2001:1::5", 80, "allow" },
  { "default", "tcp", "2001:2::", 80, "reserved" },
  { "default", "tcp", "2001:2:0:ffff::", 80, "reserved" },
  { "default", "tcp", "2001:2:1::", 80, "allow" },
  { "default", "tcp", "2001:10::", 80, "reserved" },
  { "default", "tcp", "2001:1f:ffff::", 80, "reserved" },
  { "default", "tcp", "2001:20::", 80, "reserved" },
  { "default", "tcp", "2001:2f:ffff::", 80, "reserved" },
  { "default", "tcp", "2001:30::", 80, "allow" },
  { "default", "tcp", "5f00::1", 80, "reserved" },
  { "default", "tcp", "100::", 80, "reserved" },
  { "default", "tcp", "100::ffff", 80, "reserved" },
  { "default", "tcp", "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "reserved" },
  { "default", "tcp", "2000::", 80, "allow" },
  { "default", "tcp", "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 80, "allow" },
  { "default", "tcp", "4000::", 80, "reserved" },
  { "default", "tcp", "2001:4860:4860::8888", 443, "allow" },
  { "default", "tcp", "2606:4700:4700::1111", 443, "allow" },
  { "default", "icmpv6", "2606:4700:4700::1111", 0, "allow" },
  { "default", "icmpv6", "::1", 0, "loopback" },

  /* IPv6 forms embedding an IPv4 address. */
  { "default", "tcp", "::ffff:127.0.0.1", 80, "loopback" },
  { "default", "tcp", "::ffff:10.0.0.1", 80, "private" },
  { "default", "tcp", "::ffff:169.254.169.254", 80, "link_local" },
  { "default", "tcp", "::ffff:192.168.1.1", 80, "private" },
  { "default", "tcp", "::ffff:172.16.0.1", 80, "private" },
  { "default", "tcp", "::ffff:100.64.0.1", 80, "cgnat" },
  { "default", "tcp", "::ffff:224.0.0.1", 80, "multicast" },
  { "default", "tcp", "::ffff:0.0.0.0", 80, "unspecified" },
  { "default", "udp", "::ffff:255.255.255.255", 67, "broadcast" },
  { "default", "tcp", "::ffff:8.8.8.8", 80, "allow" },
  { "default", "tcp", "::127.0.0.1", 80, "loopback" },
  { "default", "tcp", "::10.1.2.3", 80, "private" },
  { "default", "tcp", "::169.254.169.254", 80, "link_local" },
  { "default", "tcp", "::8.8.8.8", 80, "allow" },
  { "default", "tcp", "64:ff9b::7f00:1", 80, "loopback" },
  { "default", "tcp", "64:ff9b::a00:1", 80, "private" },
  { "default", "tcp", "64:ff9b::a9fe:a9fe", 80, "link_local" },
  { "default", "tcp", "64:ff9b::c0a8:1", 80, "private" },
  { "default", "tcp", "64:ff9b::808:808", 80, "allow" },
  { "default", "tcp", "64:ff9b:1::1", 80, "reserved" },
  { "default", "tcp", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", 80, "reserved" },
  { "default", "tcp", "2002:7f00:1::", 80, "loopback" },
  { "default", "tcp", "2002:a9fe:a9fe::1", 80, "link_local" },
  { "default", "tcp", "2002:c0a8:101::", 80, "private" },
  { "default", "tcp", "2002:a00:1:1::1", 80, "private" },
  { "default", "tcp", "2002:c058:6301::", 80, "reserved" },
  { "default", "tcp", "2002:c000:201::", 80, "documentation" },
  { "default", "tcp", "2002:808:808::1", 80, "allow" },

  /* The stack's virtual services (default 10.0.2.2 / 10.0.2.3, fd00::2 / fd00::3). */
  { "default", "udp", "10.0.2.3", 53, "service" },
  { "default", "tcp", "10.0.2.3", 53, "service" },
  { "default", "icmp", "10.0.2.3", 0, "service" },
  { "default", "tcp", "10.0.2.3", 80, "private" },
  { "default", "udp", "10.0.2.3", 54, "private" },
  { "default", "udp", "10.0.2.2", 67, "service" },
  { "default", "icmp", "10.0.2.2", 0, "service" },
  { "default", "tcp", "10.0.2.2", 22, "private" },
  { "default", "tcp", "10.0.2.2", 80, "private" },
  { "default", "udp", "10.0.2.2", 53, "private" },
  /* DHCPv6 is the IPv6 gateway's, DHCPv4 the IPv4 one's: crossed, the stack
   * would pass the datagram on (to the host's loopback). */
  { "default", "udp", "10.0.2.2", 547, "private" },
  { "default", "udp", "fd00::2", 547, "service" },
  { "default", "udp", "fd00::2", 67, "private" },
  { "default", "udp", "255.255.255.255", 67, "service" },
  { "default", "udp", "255.255.255.255", 68, "broadcast" },
  { "default", "udp", "ff02::1:2", 547, "service" },
  { "default", "udp", "ff02::1:2", 546, "multicast" },
  { "default", "udp", "fd00::3", 53, "service" },
  { "default", "icmpv6", "fd00::2", 0, "service" },
  { "default", "tcp", "fd00::2", 80, "private" },
  { "default", "udp", "::ffff:10.0.2.3", 53, "private" },
  { "default", "tcp", "10.0.2.15", 22, "private" },
  { "default", "tcp", "10.0.2.100", 80, "private" },
  { "default", "gre", "8.8.8.8", 0, "protocol" },
  { "default", "sctp", "8.8.8.8", 0, "protocol" },

  /* Allow and deny rules, port ranges and the port list. */
  { "rules", "tcp", "10.0.2.100", 80, "allow" },
  { "rules", "tcp", "10.0.2.100", 81, "private" },
  { "rules", "tcp", "10.0.2.100", 79, "private" },
  { "rules", "tcp", "10.0.2.101", 80, "private" },
  { "rules", "udp", "10.0.2.100", 80, "allow" },
  { "rules", "tcp", "198.51.100.7", 7999, "documentation" },
  { "rules", "tcp", "198.51.100.7", 8000, "allow" },
  { "rules", "tcp", "198.51.100.7", 8500, "allow" },
  { "rules", "tcp", "198.51.100.7", 9000, "allow" },
  { "rules", "tcp", "198.51.100.7", 9001, "documentation" },
  { "rules", "tcp", "198.51.100.8", 8500, "documentation" },
  { "rules", "tcp", "2001:db8::1", 443, "allow" },
  { "rules", "tcp", "2001:db8::1", 444, "documentation" },
  { "rules", "tcp", "2001:db8::2", 443, "documentation" },
  { "rules", "tcp", "172.20.1.1", 22, "allow" },
  { "rules", "tcp", "172.21.0.1", 22, "private" },
  { "rules", "tcp", "::ffff:172.20.1.1", 22, "private" },
  { "rules", "tcp", "::ffff:10.0.2.100", 80, "private" },
  { "rules", "tcp", "8.8.8.8", 443, "allow" },
  { "rules", "tcp", "127.0.0.1", 443, "loopback" },
  { "rules", "tcp", "169.254.169.254", 443, "link_local" },
  { "rules", "tcp", "8.8.8.8", 80, "allow" },
  { "rules", "tcp", "8.8.8.8", 79, "port" },
  { "rules", "tcp", "8.8.8.8", 81, "port" },
  { "rules", "tcp", "8.8.8.8", 8079, "port" },
  { "rules", "tcp", "8.8.8.8", 8080, "allow" },
  { "rules", "tcp", "8.8.8.8", 8085, "allow" },
  { "rules", "tcp", "8.8.8.8", 8090, "allow" },
  { "rules", "tcp", "8.8.8.8", 8091, "port" },
  { "rules", "tcp", "8.8.8.8", 22, "port" },
  { "rules", "udp", "8.8.8.8", 123, "port" },
  { "rules", "udp", "8.8.8.8", 53, "port" },
  { "rules", "icmp", "8.8.8.8", 0, "allow" },
  { "rules", "icmp", "8.8.4.4", 0, "deny_rule" },
  { "rules", "tcp", "8.8.4.4", 80, "deny_rule" },
  { "rules", "tcp", "8.8.4.4", 443, "deny_rule" },
  { "rules", "tcp", "8.8.4.5", 443, "allow" },
  { "rules", "tcp", "203.0.113.5", 80, "deny_rule" },
  { "rules", "tcp", "203.0.114.5", 80, "allow" },
  { "rules", "tcp", "9.9.9.9", 25, "deny_rule" },
  { "rules", "tcp", "10.0.2.100", 25, "deny_rule" },
  { "rules", "tcp", "9.9.9.9", 24, "port" },
  { "rules", "tcp", "9.9.9.9", 26, "port" },
  { "rules", "udp", "1.1.1.1", 53, "deny_rule" },
  { "rules", "tcp", "1.1.1.255", 53, "deny_rule" },
  { "rules", "tcp", "1.1.2.1", 53, "port" },
  { "rules", "tcp", "1.1.1.1", 80, "allow" },
  { "rules", "tcp", "2606:4700::6810:84e5", 22, "deny_rule" },
  { "rules", "tcp", "2606:4700::6810:84e5", 80, "allow" },
  { "rules", "tcp", "2606:4701::1", 22, "port" },
  { "rules", "tcp", "::ffff:8.8.4.4", 80, "deny_rule" },
  { "rules", "tcp", "64:ff9b::808:404", 443, "deny_rule" },
  { "rules", "tcp", "2002:808:404::1", 80, "deny_rule" },
  { "rules", "tcp", "::ffff:203.0.113.9", 443, "deny_rule" },
  { "rules", "udp", "10.0.2.3", 53, "service" },
  { "rules", "udp", "10.0.2.2", 67, "service" },
  { "rules", "gre", "10.0.2.100", 0, "protocol" },

  /* Open mode: everything but explicit deny rules. */
  { "open", "tcp", "127.0.0.1", 80, "allow" },
  { "open", "tcp", "10.0.0.1", 22, "allow" },
  { "open", "tcp", "169.254.169.254", 80, "allow" },
  { "open", "tcp", "::1", 80, "allow" },
  { "open", "tcp", "10.0.2.2", 8080, "allow" },
  { "open", "tcp", "192.0.2.1", 80, "deny_rule" },
  { "open", "tcp", "192.0.2.2", 80, "allow" },
  { "open", "tcp", "6.6.6.6", 6005, "deny_rule" },
  { "open", "tcp", "6.6.6.6", 6011, "allow" },
  { "open", "tcp", "::ffff:192.0.2.1", 80, "deny_rule" },
  { "open", "gre", "8.8.8.8", 0, "allow" },
  { "open", "udp", "10.0.2.3", 53, "service" },

  /* require-resolved-names. */
  { "resolved", "tcp", "93.184.216.34", 80, "allow" },
  { "resolved", "tcp", "93.184.216.34", 22, "allow" },
  { "resolved", "tcp", "93.184.216.35", 80, "not_resolved" },
  { "resolved", "tcp", "2606:2800:220:1::1", 443, "allow" },
  { "resolved", "tcp", "2606:2800:220:1::2", 443, "not_resolved" },
  { "resolved", "udp", "8.8.8.8", 53, "not_resolved" },
  { "resolved", "icmp", "8.8.8.8", 0, "not_resolved" },
  { "resolved", "tcp", "198.51.100.10", 443, "allow" },
  { "resolved", "tcp", "198.51.100.10", 80, "documentation" },
  { "resolved", "tcp", "1.2.3.4", 8443, "allow" },
  { "resolved", "tcp", "127.0.0.1", 8443, "loopback" },
  { "resolved", "tcp", "127.0.0.1", 80, "loopback" },
  { "resolved", "udp", "10.0.2.3", 53, "service" },
  { "resolved", "udp", "255.255.255.255", 67, "service" },

  /* Virtual addresses outside the special-use ranges, and the host's own. */
  { "virtual", "tcp", "11.0.0.2", 22, "gateway" },
  { "virtual", "tcp", "11.0.0.2", 80, "gateway" },
  { "virtual", "udp", "11.0.0.2", 5000, "gateway" },
  { "virtual", "udp", "11.0.0.2", 67, "service" },
  { "virtual", "icmp", "11.0.0.2", 0, "service" },
  { "virtual", "tcp", "::ffff:11.0.0.2", 80, "gateway" },
  { "virtual", "tcp", "11.0.0.3", 80, "virtual_address" },
  { "virtual", "udp", "11.0.0.3", 53, "service" },
  { "virtual", "tcp", "11.0.0.3", 53, "service" },
  { "virtual", "udp", "10.0.2.3", 53, "private" },
  { "virtual", "tcp", "12.0.0.1", 80, "host_address" },
  { "virtual", "udp", "12.0.0.1", 53, "host_address" },
  { "virtual", "tcp", "::ffff:12.0.0.1", 80, "host_address" },
  { "virtual", "tcp", "64:ff9b::c00:1", 80, "host_address" },
  { "virtual", "tcp", "2a00::1", 80, "host_address" },
  { "virtual", "tcp", "2a00::2", 80, "allow" },
  { "virtual", "tcp", "12.0.0.1", 8080, "allow" },
  { "virtual", "tcp", "12.0.0.2", 80, "allow" },
  { "virtual", "tcp", "127.0.0.1", 80, "loopback" },
};

static guint8
protocol_of (const char *name)
{
  if (strcmp (name, "tcp") == 0)
    return 6;
  if (strcmp (name, "udp") == 0)
    return 17;
  if (strcmp (name, "icmp") == 0)
    return 1;
  if (strcmp (name, "icmpv6") == 0)
    return 58;
  if (strcmp (name, "gre") == 0)
    return 47;
  if (strcmp (name, "sctp") == 0)
    return 132;
  g_assert_not_reached ();
}

static void
make_flow (const char *proto, const char *dst, guint16 port, AeroFlow *flow)
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (dst);

  g_assert_nonnull (inet);
  memset (flow, 0, sizeof *flow);
  flow->family = g_inet_address_get_family (inet);
  flow->protocol = protocol_of (proto);
  memcpy (flow->destination, g_inet_address_to_bytes (inet), g_inet_address_get_native_size (inet));
  flow->port = port;
  flow->source_port = 40000;
}

static void
test_flow (gconstpointer data)
{
  const FlowCase *c = data;
  const Loaded *l = setup (c->setup);
  AeroFlow flow;
  const char *reason = NULL, *got;
  PolicyVerdict v;

  make_flow (c->proto, c->dst, c->port, &flow);
  v = policy_verdict_flow (l->config, l->host, &flow, resolved_in, l->resolved, &reason);
  got = v == POLICY_VERDICT_ALLOW ? "allow" : v == POLICY_VERDICT_SERVICE ? "service" : reason;
  g_assert_nonnull (got);
  if (strcmp (got, c->expect) != 0)
    g_error ("[%s] %s %s port %u: expected %s, got %s", c->setup, c->proto, c->dst, c->port,
             c->expect, got);
  g_assert_true ((v == POLICY_VERDICT_DENY) == (reason != NULL));
}

/* ---- names ---------------------------------------------------------------------- */

typedef struct {
  const char *setup;
  const char *name;
  const char *expect; /* "allow" or the reason */
} NameCase;

static const NameCase name_cases[] = {
  { "default", "example.com", "allow" },
  { "default", "a.b.c.d.example.co.uk", "allow" },
  { "default", "xn--bcher-kva.example", "allow" },
  { "default", "_dmarc.example.com", "allow" },
  { "default", "localhost", "allow" },
  { "default", "", "name_invalid" },
  { "default", "a..b", "name_invalid" },
  { "default", ".a", "name_invalid" },
  { "default", "a.", "name_invalid" },
  { "default", "a\\000b.com", "name_invalid" },
  { "default", "a\\046b.com", "name_invalid" },
  { "default", "has space.com", "name_invalid" },
  { "default", "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com", "allow" },
  { "default", "x.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
    "name_invalid" },
  { "names", "www.example.com", "allow" },
  { "names", "a.b.example.com", "allow" },
  { "names", "WWW.Example.COM", "allow" },
  { "names", "example.com", "name_not_allowed" },
  { "names", "notexample.com", "name_not_allowed" },
  { "names", "example.com.evil.net", "name_not_allowed" },
  { "names", "wwwexample.com", "name_not_allowed" },
  { "names", "example.org", "allow" },
  { "names", "www.example.org", "name_not_allowed" },
  { "names", "example.org.uk", "name_not_allowed" },
  { "names", "bad.example.com", "name_denied" },
  { "names", "x.bad.example.com", "allow" },
  { "names", "internal.example.com", "allow" },
  { "names", "x.internal.example.com", "name_denied" },
  { "names", "a.b.internal.example.com", "name_denied" },
  { "names", "host.test", "allow" },
  { "names", "test", "name_not_allowed" },
  { "names", "evil.com", "name_not_allowed" },
  { "names", "", "name_invalid" },
  { "opennames", "anything.example", "allow" },
  { "opennames", "a\\000b", "allow" },
  { "opennames", "x.blocked.test", "name_denied" },
  { "opennames", "blocked.test", "allow" },
};

static void
test_name (gconstpointer data)
{
  const NameCase *c = data;
  const Loaded *l = setup (c->setup);
  const char *got = policy_verdict_name (l->config, c->name);

  if (got == NULL)
    got = "allow";
  if (strcmp (got, c->expect) != 0)
    g_error ("[%s] name '%s': expected %s, got %s", c->setup, c->name, c->expect, got);
}

/* ---- resolved addresses in DNS answers (rebinding) ----------------------------------- */

static const NameCase answer_cases[] = {
  { "default", "8.8.8.8", "allow" },
  { "default", "93.184.216.34", "allow" },
  { "default", "127.0.0.1", "loopback" },
  { "default", "127.1.2.3", "loopback" },
  { "default", "169.254.169.254", "link_local" },
  { "default", "10.0.0.1", "private" },
  { "default", "192.168.0.10", "private" },
  { "default", "172.16.5.4", "private" },
  { "default", "100.64.1.1", "cgnat" },
  { "default", "0.0.0.0", "unspecified" },
  { "default", "224.0.0.1", "multicast" },
  { "default", "255.255.255.255", "broadcast" },
  { "default", "10.0.2.2", "private" },
  { "default", "::1", "loopback" },
  { "default", "fe80::1", "link_local" },
  { "default", "fd12::1", "private" },
  { "default", "::ffff:127.0.0.1", "loopback" },
  { "default", "::ffff:169.254.169.254", "link_local" },
  { "default", "64:ff9b::a9fe:a9fe", "link_local" },
  { "default", "2002:7f00:1::1", "loopback" },
  { "default", "2606:4700:4700::1111", "allow" },
  { "rules", "10.0.2.100", "allow" },
  { "rules", "172.20.9.9", "allow" },
  { "rules", "198.51.100.7", "allow" },
  { "rules", "198.51.100.8", "documentation" },
  { "rules", "203.0.113.5", "deny_rule" },
  { "rules", "8.8.4.4", "deny_rule" },
  { "rules", "::ffff:8.8.4.4", "deny_rule" },
  { "rules", "1.1.1.1", "allow" },
  { "rules", "2606:4700::1", "allow" },
  { "rules", "127.0.0.1", "loopback" },
  { "open", "127.0.0.1", "allow" },
  { "open", "10.0.0.1", "allow" },
  { "open", "192.0.2.1", "deny_rule" },
  { "open", "6.6.6.6", "allow" },
  { "virtual", "11.0.0.2", "gateway" },
  { "virtual", "11.0.0.3", "virtual_address" },
  { "virtual", "12.0.0.1", "allow" },
  { "virtual", "2a00::1", "host_address" },
  { "virtual", "12.0.0.9", "allow" },
};

static void
test_answer (gconstpointer data)
{
  const NameCase *c = data;
  const Loaded *l = setup (c->setup);
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (c->name);
  const char *got;

  g_assert_nonnull (inet);
  got = policy_verdict_answer (l->config, l->host, g_inet_address_get_family (inet),
                               g_inet_address_to_bytes (inet));
  if (got == NULL)
    got = "allow";
  if (strcmp (got, c->expect) != 0)
    g_error ("[%s] answer %s: expected %s, got %s", c->setup, c->name, c->expect, got);
}

/* ---- configuration errors ---------------------------------------------------------- */

typedef struct {
  const char *keys;
  const char *message; /* expected part of the message, after "test.ini: [egress] " */
} ErrorCase;

static const ErrorCase error_cases[] = {
  { "allow = 10.0.0.1/8", "allow: expected ADDRESS, CIDR or * with an optional :PORT or "
                          ":PORT-PORT (IPv6 in brackets before a port), got '10.0.0.1/8': "
                          "10.0.0.1/8 has address bits set beyond the prefix (the network is "
                          "10.0.0.0/8)" },
  { "allow = 10.0.0.0/33", "allow: expected ADDRESS" },
  { "allow = 10.0.0.0/33", "'/33' is not a prefix length from 0 to 32" },
  { "deny = 2001:db8::1/129", "'/129' is not a prefix length from 0 to 128" },
  { "deny = [2001:db8::1/64]:80", "2001:db8::1/64 has address bits set beyond the prefix "
                                  "(the network is 2001:db8::/64)" },
  { "allow = 300.1.2.3", "'300.1.2.3' is not a numeric IPv4 or IPv6 address" },
  { "allow = example.com:443", "'example.com' is not a numeric IPv4 or IPv6 address" },
  { "allow = 1.2.3.4:0", "'0' is not a port number from 1 to 65535" },
  { "allow = 1.2.3.4:70000", "'70000' is not a port number from 1 to 65535" },
  { "allow = 1.2.3.4:http", "'http' is not a port number from 1 to 65535" },
  { "allow = 1.2.3.4:90-80", "the range 90-80 is empty" },
  { "allow = 1.2.3.4:1-2-3", "'1-2-3' is not a port or a PORT-PORT range" },
  { "allow = 1.2.3.4:", "'1.2.3.4:' ends with ':' but has no port" },
  { "allow = [::1", "'[::1' opens a bracket it does not close" },
  { "allow = [1.2.3.4]:80", "'[1.2.3.4]:80': brackets are for IPv6 addresses" },
  { "allow = [::1]x", "'[::1]x': only ':PORT' may follow ']'" },
  { "allow = :80", "':80' has no address (write * for any address)" },
  { "allow = 8.8.8.8, 1.2.3.4/40", "got '1.2.3.4/40'" },
  { "deny = *:99999", "deny: expected ADDRESS" },
  { "ports = 0", "ports: expected a list of ports and PORT-PORT ranges (1 to 65535), empty "
                 "for any port, got '0'" },
  { "ports = 80, abc", "got 'abc': 'abc' is not a port number from 1 to 65535" },
  { "ports = *", "got '*': write nothing for any port" },
  { "ports = 443-80", "the range 443-80 is empty" },
  { "allow-names = *example.com", "allow-names: expected host names, *.DOMAIN wildcards or *, "
                                  "got '*example.com': '*example.com': a wildcard is only "
                                  "allowed as a leading '*.'" },
  { "allow-names = a.*.com", "a wildcard is only allowed as a leading '*.'" },
  { "deny-names = bad!name.com", "deny-names: expected host names" },
  { "deny-names = bad!name.com", "is not a host name" },
  { "deny-names = a..com", "'a..com' is not a host name" },
  { "mode = permissive", "mode:" },
  { "deny-name-answer = servfail", "deny-name-answer:" },
  { "rebinding = ignore", "rebinding:" },
  { "udp-refusal = reject", "udp-refusal:" },
  { "require-resolved-names = maybe", "require-resolved-names:" },
  { "allow-open-on-public = perhaps", "allow-open-on-public:" },
  { "max-tcp-flows = -1", "max-tcp-flows:" },
  { "max-udp-flows = many", "max-udp-flows:" },
  { "new-flows-per-second = 0\nnew-flows-burst = 5",
    "new-flows-burst: expected no value: the burst only applies when new-flows-per-second is "
    "set above 0" },
  { "frames-burst = 10", "frames-burst: expected no value: the burst only applies when "
                         "frames-per-second is set above 0" },
  { "frames-per-second = 100\nframes-burst = 0", "frames-burst:" },
  { "bytes-per-second = 1M\nbytes-burst = 1000", "bytes-burst:" },
  { "bytes-quota-up = lots", "bytes-quota-up:" },
  { "bytes-quota-down = -5", "bytes-quota-down:" },
  { "log-rate = 10", "log-rate: expected N/s, N/min or N/h with N from 1 to 1000000, got '10'" },
  { "log-rate = 0/s", "log-rate: expected N/s" },
  { "log-rate = 10/day", "got '10/day'" },
  { "dns-address = 10.0.2.300", "dns-address: expected a list of numeric IPv4 or IPv6 "
                                "addresses, got '10.0.2.300'" },
  { "gateway = gw.local", "gateway: expected a list of numeric IPv4 or IPv6 addresses" },
  { "tcp-idle-timeout = 1s", "tcp-idle-timeout:" },
  { "udp-idle-timeout = forever", "udp-idle-timeout:" },
  { "udp-idle-timeout = 60s", "udp-idle-timeout: expected at least 250s: the stack keeps the "
                              "host socket of a UDP flow open 240 s after its last datagram, and "
                              "the flow must count as long as the socket can be open; got '60s'" },
  { "allowed = 1.2.3.4", "allowed" },
};

static void
test_error (gconstpointer data)
{
  const ErrorCase *c = data;
  g_autoptr (GError) error = NULL;
  PolicyConfig *config = parse_config (c->keys, &error);

  g_assert_null (config);
  g_assert_error (error, AERO_CONFIG_ERROR, error->code);
  if (!g_str_has_prefix (error->message, FILE_NAME ": [" GROUP "] "))
    g_error ("message without FILE: [GROUP]: %s", error->message);
  if (strstr (error->message, c->message) == NULL)
    g_error ("for '%s' expected a message containing \"%s\", got \"%s\"", c->keys, c->message,
             error->message);
}

/* ---- parsing that succeeds ---------------------------------------------------------- */

static void
test_parse_good (void)
{
  static const char *const good[] = {
    "allow = *", "allow = *:*", "allow = *:443", "allow = *:1-65535", "allow = 0.0.0.0/0",
    "allow = ::/0", "allow = 2001:db8::/32", "allow = [2001:db8::]:80", "allow = [::1]",
    "allow = [2001:db8::/32]:1000-2000", "allow = 10.0.0.0/8:53; 192.168.0.0/16:22",
    "ports = 80,443", "ports =", "ports = 1-65535", "allow-names = *", "allow-names = *.a.b.",
    "deny-names = EXAMPLE.com", "log-rate = 5/min", "log-rate = 1/h",
    "bytes-per-second = 1M\nbytes-burst = 2M", "frames-per-second = 100",
    "new-flows-per-second = 0", "max-tcp-flows = 0", "dns-address = 10.0.2.3",
    "gateway = 10.0.2.2, fd00::2", "mode = open\nallow-open-on-public = true",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (PolicyConfig) config = parse_config (good[i], &error);

      if (config == NULL)
        g_error ("'%s' should parse: %s", good[i], error->message);
    }
}

static void
test_defaults (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PolicyConfig) c = parse_config ("", &error);

  g_assert_no_error (error);
  g_assert_cmpint (c->mode, ==, POLICY_MODE_SAFE);
  g_assert_false (c->allow_open_on_public);
  g_assert_cmpuint (c->max_tcp_flows, ==, 256);
  g_assert_cmpuint (c->max_udp_flows, ==, 128);
  g_assert_cmpfloat (c->new_flows_per_second, ==, 50);
  g_assert_cmpfloat (c->new_flows_burst, ==, 100);
  g_assert_cmpfloat (c->frames_per_second, ==, 0);
  g_assert_cmpfloat (c->bytes_per_second, ==, 0);
  g_assert_cmpuint (c->bytes_quota_up, ==, 0);
  g_assert_cmpfloat (c->log_rate, ==, 10);
  g_assert_cmpint (c->deny_name_answer, ==, AERO_DNS_REFUSAL_NXDOMAIN);
  g_assert_cmpint (c->rebinding, ==, AERO_REBINDING_STRIP);
  g_assert_true (c->udp_refusal_icmp);
  g_assert_cmpuint (c->dns_addresses->len, ==, 2);
  g_assert_cmpuint (c->gateways->len, ==, 2);
}

static void
test_bursts (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (PolicyConfig) c = parse_config ("bytes-per-second = 10k\nframes-per-second = 30\n"
                                             "new-flows-per-second = 7\nlog-rate = 30/min",
                                             &error);

  g_assert_no_error (error);
  g_assert_cmpfloat (c->bytes_per_second, ==, 10240);
  g_assert_cmpfloat (c->bytes_burst, ==, 65535);
  g_assert_cmpfloat (c->frames_burst, ==, 60);
  g_assert_cmpfloat (c->new_flows_burst, ==, 14);
  g_assert_cmpfloat (c->log_rate, ==, 0.5);
  g_assert_cmpfloat (c->log_burst, ==, 30);
}

/* ---- the embedded-IPv4 extractor on its own --------------------------------------------- */

static void
test_embedded (void)
{
  static const struct {
    const char *v6;
    const char *v4; /* NULL: none */
  } cases[] = {
    { "::ffff:1.2.3.4", "1.2.3.4" },   { "::1.2.3.4", "1.2.3.4" },
    { "64:ff9b::102:304", "1.2.3.4" }, { "2002:102:304::", "1.2.3.4" },
    { "2002:102:304:5::6", "1.2.3.4" },{ "::fffe:1.2.3.4", NULL },
    { "64:ff9b:0:0:0:1:102:304", NULL },{ "2003:102:304::", NULL },
    { "2001:db8::102:304", NULL },     { "1::1.2.3.4", NULL },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GInetAddress) a = g_inet_address_new_from_string (cases[i].v6);
      guint8 out[4];
      gboolean got = policy_ipv6_embedded_ipv4 (g_inet_address_to_bytes (a), out);

      g_assert_cmpint (got, ==, cases[i].v4 != NULL);
      if (got)
        {
          g_autoptr (GInetAddress) v4 = g_inet_address_new_from_bytes (out, G_SOCKET_FAMILY_IPV4);
          g_autofree char *text = g_inet_address_to_string (v4);

          g_assert_cmpstr (text, ==, cases[i].v4);
        }
    }
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  for (gsize i = 0; i < G_N_ELEMENTS (flow_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/verdict/flow/%03zu-%s-%s-%s-%u", i,
                                               flow_cases[i].setup, flow_cases[i].proto,
                                               flow_cases[i].dst, flow_cases[i].port);
      g_test_add_data_func (path, &flow_cases[i], test_flow);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (name_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/verdict/name/%03zu-%s", i, name_cases[i].setup);
      g_test_add_data_func (path, &name_cases[i], test_name);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (answer_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/verdict/answer/%03zu-%s-%s", i,
                                               answer_cases[i].setup, answer_cases[i].name);
      g_test_add_data_func (path, &answer_cases[i], test_answer);
    }
  for (gsize i = 0; i < G_N_ELEMENTS (error_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/config/error/%03zu", i);
      g_test_add_data_func (path, &error_cases[i], test_error);
    }
  g_test_add_func ("/config/good", test_parse_good);
  g_test_add_func ("/config/defaults", test_defaults);
  g_test_add_func ("/config/bursts", test_bursts);
  g_test_add_func ("/ranges/embedded", test_embedded);
  status = g_test_run ();
  for (gsize i = 0; i < G_N_ELEMENTS (loaded); i++)
    {
      g_clear_pointer (&loaded[i].config, policy_config_free);
      g_clear_pointer (&loaded[i].host, g_array_unref);
      g_clear_pointer (&loaded[i].resolved, g_array_unref);
    }
  return status;
}
