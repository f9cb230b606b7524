/* slirp-settings.c — reading and validating a stack-slirp group (see
 * slirp-settings.h for the keys). Every error names the key and says what
 * was expected. */
#include <string.h>

#include "packet.h"
#include "slirp-settings.h"

#define DHCP_POOL_SIZE 16
#define MAX_SERVICES 256
#define MAX_SEARCH_DOMAINS 8
#define MTU_MIN 68
#define MTU_MIN_IPV6 1280
#define MTU_MAX 65520

/* ---- small helpers on addresses ------------------------------------------- */

static guint32
ipv4_to_host (const guint8 addr[4])
{
  return aero_read_be32 (addr);
}

static void
ipv4_from_host (guint32 v, guint8 addr[4])
{
  aero_write_be32 (addr, v);
}

static char *
ipv4_to_string (const guint8 addr[4])
{
  return g_strdup_printf ("%u.%u.%u.%u", addr[0], addr[1], addr[2], addr[3]);
}

static gboolean
parse_ipv4 (const char *text, guint8 out[4])
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (text);

  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV4)
    return FALSE;
  memcpy (out, g_inet_address_to_bytes (inet), 4);
  return TRUE;
}

static gboolean
parse_ipv6 (const char *text, guint8 out[16])
{
  g_autoptr (GInetAddress) inet = g_inet_address_new_from_string (text);

  if (inet == NULL || g_inet_address_get_family (inet) != G_SOCKET_FAMILY_IPV6)
    return FALSE;
  memcpy (out, g_inet_address_to_bytes (inet), 16);
  return TRUE;
}

static gboolean
ipv6_in_prefix (const guint8 addr[16], const guint8 prefix[16], guint len)
{
  guint bytes = len / 8, bits = len % 8;

  if (memcmp (addr, prefix, bytes) != 0)
    return FALSE;
  if (bits == 0)
    return TRUE;
  return ((addr[bytes] ^ prefix[bytes]) & (0xff << (8 - bits))) == 0;
}

gboolean
aero_slirp_settings_in_network (const AeroSlirpSettings *settings, const guint8 addr[4])
{
  return (ipv4_to_host (addr) & ipv4_to_host (settings->netmask)) == ipv4_to_host (settings->network);
}

gboolean
aero_slirp_settings_in_ipv6_prefix (const AeroSlirpSettings *settings, const guint8 addr[16])
{
  return ipv6_in_prefix (addr, settings->ipv6_prefix, settings->ipv6_prefix_len);
}

/* ---- lifetime ---------------------------------------------------------------- */

static void
service_free (gpointer data)
{
  AeroSlirpService *service = data;

  g_free (service->label);
  g_free (service);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroSlirpService, service_free)

static void
settings_clear (gpointer data)
{
  AeroSlirpSettings *settings = data;

  g_free (settings->hostname);
  g_free (settings->domain);
  g_strfreev (settings->search);
  g_clear_pointer (&settings->static_names, g_hash_table_unref);
  g_clear_pointer (&settings->services, g_ptr_array_unref);
}

AeroSlirpSettings *
aero_slirp_settings_ref (AeroSlirpSettings *settings)
{
  return g_atomic_rc_box_acquire (settings);
}

void
aero_slirp_settings_unref (AeroSlirpSettings *settings)
{
  g_atomic_rc_box_release_full (settings, settings_clear);
}

/* ---- the IPv4 network ------------------------------------------------------------ */

static gboolean
get_network (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GInetAddressMask) mask = NULL;
  g_autoptr (GError) local_error = NULL;
  guint32 net, netmask;

  text = aero_config_group_get_string (group, "network", "10.0.2.0/24", FALSE, error);
  if (text == NULL)
    return FALSE;
  mask = g_inet_address_mask_new_from_string (text, &local_error);
  if (mask == NULL || g_inet_address_mask_get_family (mask) != G_SOCKET_FAMILY_IPV4
      || strchr (text, '/') == NULL)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "network",
                               "expected an IPv4 network with its prefix length such as "
                               "10.0.2.0/24 (no host bits set), got '%s'", text);
      return FALSE;
    }
  s->prefix_len = g_inet_address_mask_get_length (mask);
  if (s->prefix_len < 8 || s->prefix_len > 27)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "network",
                               "the prefix length must be between 8 and 27 (room for the "
                               "gateway, DNS and 16 DHCP leases), got /%u", s->prefix_len);
      return FALSE;
    }
  memcpy (s->network, g_inet_address_to_bytes (g_inet_address_mask_get_address (mask)), 4);
  net = ipv4_to_host (s->network);
  netmask = s->prefix_len == 0 ? 0 : 0xffffffffu << (32 - s->prefix_len);
  ipv4_from_host (netmask, s->netmask);
  ipv4_from_host (net | ~netmask, s->broadcast);
  return TRUE;
}

/* Reads an IPv4 address of the network (not the network or broadcast
 * address); @offset gives the default, relative to the network address. */
static gboolean
get_host_address (AeroConfigGroup *group, AeroSlirpSettings *s, const char *key, guint offset,
                  guint8 out[4], GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *fallback = NULL;
  g_autofree char *net = ipv4_to_string (s->network);
  guint8 def[4];

  ipv4_from_host (ipv4_to_host (s->network) + offset, def);
  fallback = ipv4_to_string (def);
  text = aero_config_group_get_string (group, key, fallback, FALSE, error);
  if (text == NULL)
    return FALSE;
  if (!parse_ipv4 (text, out))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected a numeric IPv4 address such as %s, got '%s'", fallback,
                               text);
      return FALSE;
    }
  if (!aero_slirp_settings_in_network (s, out))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "%s is outside the network %s/%u", text, net, s->prefix_len);
      return FALSE;
    }
  if (memcmp (out, s->network, 4) == 0 || memcmp (out, s->broadcast, 4) == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "%s is the %s address of %s/%u; a host address is required", text,
                               memcmp (out, s->network, 4) == 0 ? "network" : "broadcast", net,
                               s->prefix_len);
      return FALSE;
    }
  return TRUE;
}

static gboolean
in_dhcp_pool (const AeroSlirpSettings *s, const guint8 addr[4])
{
  guint32 a = ipv4_to_host (addr), start = ipv4_to_host (s->dhcp_start);

  return a >= start && a < start + DHCP_POOL_SIZE;
}

static gboolean
get_addresses (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  guint32 last_lease;

  if (!get_host_address (group, s, "gateway", 2, s->gateway, error)
      || !get_host_address (group, s, "dns", 3, s->dns, error)
      || !get_host_address (group, s, "dhcp-start", 15, s->dhcp_start, error))
    return FALSE;

  if (memcmp (s->gateway, s->dns, 4) == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "dns",
                               "the DNS address must differ from the gateway address");
      return FALSE;
    }
  last_lease = ipv4_to_host (s->dhcp_start) + DHCP_POOL_SIZE - 1;
  if (last_lease >= ipv4_to_host (s->broadcast))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "dhcp-start",
                               "the %u DHCP leases starting here must end before the broadcast "
                               "address", DHCP_POOL_SIZE);
      return FALSE;
    }
  if (in_dhcp_pool (s, s->gateway) || in_dhcp_pool (s, s->dns))
    {
      g_autofree char *first = ipv4_to_string (s->dhcp_start);
      g_autofree char *last = NULL;
      guint8 last_addr[4];

      ipv4_from_host (last_lease, last_addr);
      last = ipv4_to_string (last_addr);
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "dhcp-start",
                               "the %u DHCP leases %s to %s include the %s address",
                               DHCP_POOL_SIZE, first, last,
                               in_dhcp_pool (s, s->gateway) ? "gateway" : "DNS");
      return FALSE;
    }
  return TRUE;
}

/* ---- names ------------------------------------------------------------------------ */

/* Lower-cases @name and drops one final dot; NULL when it is not a valid name. */
static char *
normalize_name (const char *name)
{
  g_autofree char *lower = g_ascii_strdown (name, -1);
  gsize len = strlen (lower);

  if (len > 1 && lower[len - 1] == '.')
    lower[len - 1] = '\0';
  if (!aero_dns_name_is_valid (lower))
    return NULL;
  return g_steal_pointer (&lower);
}

static gboolean
get_dhcp_names (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  g_autofree char *hostname = NULL;
  g_autofree char *domain = NULL;
  g_auto (GStrv) search = NULL;
  gsize search_len = 0;

  hostname = aero_config_group_get_string (group, "hostname", "", FALSE, error);
  if (hostname == NULL)
    return FALSE;
  if (*hostname != '\0' && (!aero_dns_name_is_valid (hostname) || strchr (hostname, '.')))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "hostname",
                               "expected one DNS label (letters, digits, '-', at most 63), "
                               "got '%s'", hostname);
      return FALSE;
    }

  domain = aero_config_group_get_string (group, "domain", "", FALSE, error);
  if (domain == NULL)
    return FALSE;
  if (*domain != '\0')
    {
      char *normal = normalize_name (domain);

      if (normal == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "domain",
                                   "'%s' is not a valid domain name", domain);
          return FALSE;
        }
      s->domain = normal;
    }

  search = aero_config_group_get_string_list (group, "search", FALSE, error);
  if (search == NULL)
    return FALSE;
  if (g_strv_length (search) > MAX_SEARCH_DOMAINS)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "search",
                               "at most %u search domains fit in a DHCP answer, got %u",
                               MAX_SEARCH_DOMAINS, g_strv_length (search));
      return FALSE;
    }
  for (char **d = search; *d != NULL; d++)
    {
      char *normal = normalize_name (*d);

      if (normal == NULL)
        {
          aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "search",
                                   "'%s' is not a valid domain name", *d);
          return FALSE;
        }
      g_free (*d);
      *d = normal;
      search_len += strlen (normal) + 2;
    }
  if (search_len > 200)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "search",
                               "the search domains take %" G_GSIZE_FORMAT " bytes; at most 200 "
                               "fit in a DHCP answer", search_len);
      return FALSE;
    }
  if (search[0] != NULL)
    s->search = g_steal_pointer (&search);
  s->hostname = *hostname != '\0' ? g_steal_pointer (&hostname) : NULL;
  return TRUE;
}

/* ---- IPv6 ---------------------------------------------------------------------------- */

static gboolean
get_ipv6_address (AeroConfigGroup *group, AeroSlirpSettings *s, const char *key, guint8 last,
                  guint8 out[16], GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *fallback = NULL;
  g_autoptr (GInetAddress) def_inet = NULL;
  guint8 def[16];

  memcpy (def, s->ipv6_prefix, 16);
  def[15] = last;
  def_inet = g_inet_address_new_from_bytes (def, G_SOCKET_FAMILY_IPV6);
  fallback = g_inet_address_to_string (def_inet);
  text = aero_config_group_get_string (group, key, fallback, FALSE, error);
  if (text == NULL)
    return FALSE;
  if (!parse_ipv6 (text, out))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "expected a numeric IPv6 address such as %s, got '%s'", fallback,
                               text);
      return FALSE;
    }
  if (!aero_slirp_settings_in_ipv6_prefix (s, out) || memcmp (out, s->ipv6_prefix, 16) == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "%s must be a host address inside ipv6-prefix", text);
      return FALSE;
    }
  return TRUE;
}

static gboolean
get_ipv6 (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  g_autofree char *text = NULL;
  g_autoptr (GInetAddressMask) mask = NULL;

  if (!aero_config_group_get_bool (group, "ipv6", FALSE, &s->ipv6, error))
    return FALSE;

  text = aero_config_group_get_string (group, "ipv6-prefix", "fd00::/64", FALSE, error);
  if (text == NULL)
    return FALSE;
  mask = g_inet_address_mask_new_from_string (text, NULL);
  if (mask == NULL || g_inet_address_mask_get_family (mask) != G_SOCKET_FAMILY_IPV6
      || g_inet_address_mask_get_length (mask) != 64)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "ipv6-prefix",
                               "expected an IPv6 /64 prefix such as fd00::/64 (guests configure "
                               "themselves with SLAAC), got '%s'", text);
      return FALSE;
    }
  s->ipv6_prefix_len = 64;
  memcpy (s->ipv6_prefix, g_inet_address_to_bytes (g_inet_address_mask_get_address (mask)), 16);

  if (!get_ipv6_address (group, s, "ipv6-gateway", 2, s->ipv6_gateway, error)
      || !get_ipv6_address (group, s, "ipv6-dns", 3, s->ipv6_dns, error))
    return FALSE;
  if (memcmp (s->ipv6_gateway, s->ipv6_dns, 16) == 0)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "ipv6-dns",
                               "the IPv6 DNS address must differ from the IPv6 gateway address");
      return FALSE;
    }
  return TRUE;
}

/* ---- [GROUP.dns]: static names ----------------------------------------------------------- */

static gboolean
get_static_names (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  AeroConfigGroup *table = aero_config_group_get_subgroup (group, "dns");
  g_auto (GStrv) keys = aero_config_group_get_keys (table);

  for (char **key = keys; *key != NULL; key++)
    {
      g_autofree char *name = normalize_name (*key);
      g_auto (GStrv) values = NULL;
      AeroSlirpStaticName *entry;

      if (name == NULL)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "'%s' is not a valid host name (dot-separated labels of "
                                   "letters, digits, '-' and '_')", *key);
          return FALSE;
        }
      if (g_hash_table_contains (s->static_names, name))
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "the name %s is listed twice (names are case-insensitive)",
                                   name);
          return FALSE;
        }
      values = aero_config_group_get_string_list (table, *key, TRUE, error);
      if (values == NULL)
        return FALSE;
      if (values[0] == NULL || g_strv_length (values) > AERO_DNS_MAX_ADDRESSES)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "expected 1 to %u IPv4 or IPv6 addresses",
                                   AERO_DNS_MAX_ADDRESSES);
          return FALSE;
        }

      entry = g_new0 (AeroSlirpStaticName, 1);
      g_hash_table_insert (s->static_names, g_steal_pointer (&name), entry);
      for (char **v = values; *v != NULL; v++)
        {
          AeroDnsAddress *a = &entry->addresses[entry->n_addresses++];

          if (parse_ipv4 (*v, a->bytes))
            a->family = 4;
          else if (parse_ipv6 (*v, a->bytes))
            a->family = 6;
          else
            {
              aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                       "expected a numeric IPv4 or IPv6 address, got '%s'", *v);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* ---- [GROUP.services]: virtual services ------------------------------------------------- */

static gboolean
parse_service_key (const char *key, guint8 *protocol, guint8 addr[4], guint16 *port)
{
  g_auto (GStrv) parts = g_strsplit (key, ":", -1);
  guint64 value;

  if (g_strv_length (parts) != 3)
    return FALSE;
  if (g_str_equal (parts[0], "tcp"))
    *protocol = AERO_IPPROTO_TCP;
  else if (g_str_equal (parts[0], "udp"))
    *protocol = AERO_IPPROTO_UDP;
  else
    return FALSE;
  if (!parse_ipv4 (parts[1], addr))
    return FALSE;
  if (!g_ascii_string_to_unsigned (parts[2], 10, 1, 65535, &value, NULL))
    return FALSE;
  *port = (guint16) value;
  return TRUE;
}

static gboolean
check_service (AeroConfigGroup *table, const AeroSlirpSettings *s, const char *key,
               const AeroSlirpService *service, GError **error)
{
  const guint8 *ga = service->guest_addr;
  const guint8 *ha = service->host_addr;

  if (!aero_slirp_settings_in_network (s, ga) || memcmp (ga, s->network, 4) == 0
      || memcmp (ga, s->broadcast, 4) == 0)
    {
      aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "the guest-visible address must be a host address inside "
                               "the network");
      return FALSE;
    }
  if (memcmp (ga, s->gateway, 4) == 0 || memcmp (ga, s->dns, 4) == 0 || in_dhcp_pool (s, ga))
    {
      aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "the guest-visible address must not be the gateway, the DNS "
                               "address or one of the DHCP leases");
      return FALSE;
    }
  if (aero_slirp_settings_in_network (s, ha) || ha[0] == 0 || ha[0] >= 224)
    {
      aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                               "the host address must be a unicast address outside the "
                               "virtual network");
      return FALSE;
    }
  for (guint i = 0; i < s->services->len; i++)
    {
      const AeroSlirpService *other = g_ptr_array_index (s->services, i);

      if (other->protocol != service->protocol)
        continue;
      if (memcmp (other->guest_addr, ga, 4) == 0 && other->guest_port == service->guest_port)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                                   "the same guest address and port as %s", other->label);
          return FALSE;
        }
      if (memcmp (other->host_addr, ha, 4) == 0 && other->host_port == service->host_port)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, key,
                                   "the same host address and port as %s; each host endpoint "
                                   "may serve one service", other->label);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
get_services (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  AeroConfigGroup *table = aero_config_group_get_subgroup (group, "services");
  g_auto (GStrv) keys = aero_config_group_get_keys (table);

  if (g_strv_length (keys) > MAX_SERVICES)
    {
      aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, NULL,
                               "at most %u services, got %u", MAX_SERVICES,
                               g_strv_length (keys));
      return FALSE;
    }

  for (char **key = keys; *key != NULL; key++)
    {
      g_autoptr (GInetSocketAddress) host = NULL;
      g_autofree char *value = NULL;
      g_autoptr (GError) local_error = NULL;
      g_autoptr (AeroSlirpService) service = g_new0 (AeroSlirpService, 1);
      GInetAddress *host_inet;

      if (!parse_service_key (*key, &service->protocol, service->guest_addr,
                              &service->guest_port))
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "expected a key of the form tcp:ADDRESS:PORT or "
                                   "udp:ADDRESS:PORT with a numeric IPv4 address, such as "
                                   "tcp:10.0.2.100:80");
          return FALSE;
        }
      service->label = g_strdup_printf ("%s:%u.%u.%u.%u:%u",
                                        service->protocol == AERO_IPPROTO_TCP ? "tcp" : "udp",
                                        service->guest_addr[0], service->guest_addr[1],
                                        service->guest_addr[2], service->guest_addr[3],
                                        service->guest_port);

      value = aero_config_group_get_string (table, *key, NULL, TRUE, error);
      if (value == NULL)
        return FALSE;
      host = aero_parse_socket_address (value, 0, &local_error);
      if (host == NULL)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "expected a host IPv4 ADDRESS:PORT such as 127.0.0.1:8080: %s",
                                   local_error->message);
          return FALSE;
        }
      host_inet = g_inet_socket_address_get_address (host);
      if (g_inet_address_get_family (host_inet) != G_SOCKET_FAMILY_IPV4
          || g_inet_socket_address_get_port (host) == 0)
        {
          aero_config_group_error (table, error, AERO_CONFIG_ERROR_INVALID_VALUE, *key,
                                   "expected a host IPv4 ADDRESS:PORT such as 127.0.0.1:8080, "
                                   "got '%s'", value);
          return FALSE;
        }
      memcpy (service->host_addr, g_inet_address_to_bytes (host_inet), 4);
      service->host_port = g_inet_socket_address_get_port (host);

      if (!check_service (table, s, *key, service, error))
        return FALSE;
      g_ptr_array_add (s->services, g_steal_pointer (&service));
    }
  return TRUE;
}

/* ---- the whole group ------------------------------------------------------------------ */

static gboolean
get_limits (AeroConfigGroup *group, AeroSlirpSettings *s, GError **error)
{
  gint64 value;

  if (!aero_config_group_get_int (group, "mtu", MTU_MIN, MTU_MAX, 1500, &value, error))
    return FALSE;
  s->mtu = (guint) value;
  if (s->ipv6 && s->mtu < MTU_MIN_IPV6)
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "mtu",
                               "IPv6 needs an MTU of at least %u, got %u", MTU_MIN_IPV6, s->mtu);
      return FALSE;
    }
  if (!aero_config_group_get_bool (group, "offload", FALSE, &s->offload, error))
    return FALSE;
  if (!aero_config_group_get_bool (group, "merge", TRUE, &s->merge, error))
    return FALSE;
  if (!aero_config_group_get_bool (group, "host-loopback", FALSE, &s->host_loopback, error))
    return FALSE;
  if (!aero_config_group_get_int (group, "dns-cache-entries", 0, 65536, 256, &value, error))
    return FALSE;
  s->dns_cache_entries = (guint) value;
  if (!aero_config_group_get_duration (group, "dns-cache-ttl", 1000, 24 * 3600 * 1000, 60 * 1000,
                                       &s->dns_cache_ttl_ms, error))
    return FALSE;
  if (!aero_config_group_get_duration (group, "dns-timeout", 100, 60 * 1000, 5 * 1000,
                                       &s->dns_timeout_ms, error))
    return FALSE;
  if (!aero_config_group_get_int (group, "dns-max-pending", 1, 4096, 64, &value, error))
    return FALSE;
  s->dns_max_pending = (guint) value;
  if (!aero_config_group_get_int (group, "dns-max-lookups", 1, 4096, 128, &value, error))
    return FALSE;
  s->dns_max_lookups = (guint) value;
  return TRUE;
}

AeroSlirpSettings *
aero_slirp_settings_parse (AeroConfigGroup *group, GError **error)
{
  g_autoptr (AeroSlirpSettings) s = g_atomic_rc_box_new0 (AeroSlirpSettings);

  s->static_names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  s->services = g_ptr_array_new_with_free_func (service_free);

  if (!get_network (group, s, error) || !get_addresses (group, s, error)
      || !get_dhcp_names (group, s, error) || !get_ipv6 (group, s, error)
      || !get_limits (group, s, error) || !get_static_names (group, s, error)
      || !get_services (group, s, error))
    return NULL;
  return g_steal_pointer (&s);
}

/* ---- queries ---------------------------------------------------------------------------- */

/* The service whose guest-visible (or, with @host_side, host) address and
 * port are @addr and @port, or NULL. */
const AeroSlirpService *
aero_slirp_settings_find_service (const AeroSlirpSettings *settings, guint8 protocol,
                                  const guint8 addr[4], guint16 port, gboolean host_side)
{
  for (guint i = 0; i < settings->services->len; i++)
    {
      const AeroSlirpService *service = g_ptr_array_index (settings->services, i);

      if (service->protocol != protocol)
        continue;
      if (host_side ? (service->host_port == port && memcmp (service->host_addr, addr, 4) == 0)
                    : (service->guest_port == port && memcmp (service->guest_addr, addr, 4) == 0))
        return service;
    }
  return NULL;
}

gboolean
aero_slirp_settings_is_service_address (const AeroSlirpSettings *settings, const guint8 addr[4])
{
  for (guint i = 0; i < settings->services->len; i++)
    {
      const AeroSlirpService *service = g_ptr_array_index (settings->services, i);

      if (memcmp (service->guest_addr, addr, 4) == 0)
        return TRUE;
    }
  return FALSE;
}

const AeroSlirpStaticName *
aero_slirp_settings_lookup_static (const AeroSlirpSettings *settings, const char *name)
{
  return g_hash_table_lookup (settings->static_names, name);
}
