/* policy-rules.h — the rule syntax of the policy's configuration:
 *
 *   address rules  `ADDR|CIDR|*[:PORT|:PORT-PORT|:*]`, IPv6 in brackets
 *                  when a port follows (`[2001:db8::/32]:443`); a bare IPv6
 *                  address or CIDR without a port needs no brackets;
 *   port lists     `80, 443, 8000-8100`;
 *   name patterns  `example.com` (that name only), `*.example.com` (every
 *                  name below it, not example.com itself), `*` (any name).
 *
 * Parsers return FALSE with a message saying what was wrong; matchers are
 * pure functions. An IPv4 rule also matches IPv6 addresses embedding a
 * matching IPv4 address when asked to (deny rules are, allow rules never:
 * an IPv4-mapped address is another path than the address it maps). */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct {
  GSocketFamily family; /* G_SOCKET_FAMILY_INVALID: any address ('*') */
  guint8 addr[16];
  guint prefix_len;
  guint16 port_min;
  guint16 port_max;     /* 0-65535: any port */
  char *text;           /* as written, for logs */
} PolicyAddrRule;

typedef struct {
  guint16 min;
  guint16 max;
} PolicyPortRange;

typedef struct {
  char *suffix;         /* lower case, no trailing dot */
  gboolean subdomains;  /* `*.suffix` */
  gboolean any;         /* `*` */
} PolicyNamePattern;

gboolean policy_addr_rule_parse (const char *text, PolicyAddrRule *rule, char **message);
void policy_addr_rule_clear (PolicyAddrRule *rule);

/* Whether RULE covers ADDR (family, 4 or 16 bytes), ignoring ports. */
gboolean policy_addr_rule_covers_address (const PolicyAddrRule *rule, GSocketFamily family,
                                          const guint8 *addr, gboolean embedded);

/* Whether RULE covers ADDR and PORT. */
gboolean policy_addr_rule_matches (const PolicyAddrRule *rule, GSocketFamily family,
                                   const guint8 *addr, guint16 port, gboolean embedded);

gboolean policy_addr_rule_any_port (const PolicyAddrRule *rule);

gboolean policy_port_range_parse (const char *text, PolicyPortRange *range, char **message);

gboolean policy_name_pattern_parse (const char *text, PolicyNamePattern *pattern, char **message);
void policy_name_pattern_clear (PolicyNamePattern *pattern);
gboolean policy_name_pattern_matches (const PolicyNamePattern *pattern, const char *name);

/* Whether NAME is a host name the policy can judge: labels of letters,
 * digits, '-' and '_', 1..63 bytes each, 253 bytes in all. */
gboolean policy_name_is_valid (const char *name);

G_END_DECLS
