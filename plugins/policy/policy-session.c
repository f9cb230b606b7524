/* policy-session.c — the per-session state of the policy (see
 * policy-session.h). */
#include <string.h>

#include "policy-session.h"

static guint
address_hash (gconstpointer p)
{
  const PolicyAddress *a = p;
  guint h = (guint) a->family;

  for (gsize i = 0; i < 16; i++)
    h = h * 31 + a->addr[i];
  return h;
}

static gboolean
address_equal (gconstpointer a, gconstpointer b)
{
  const PolicyAddress *x = a, *y = b;

  return x->family == y->family && memcmp (x->addr, y->addr, 16) == 0;
}


PolicySession *
policy_session_new (const char *id, const PolicyConfig *config, gint64 now_us)
{
  PolicySession *s = g_new0 (PolicySession, 1);

  s->id = g_strdup (id);
  if (config->new_flows_per_second > 0)
    s->new_flows = aero_rate_limit_new (config->new_flows_per_second, config->new_flows_burst, 0,
                                        now_us);
  if (config->frames_per_second > 0)
    s->frames = aero_rate_limit_new (config->frames_per_second, config->frames_burst, 0, now_us);
  s->up = aero_rate_limit_new (config->bytes_per_second, config->bytes_burst,
                               config->bytes_quota_up, now_us);
  s->down = aero_rate_limit_new (config->bytes_per_second, config->bytes_burst,
                                 config->bytes_quota_down, now_us);
  s->resolved = g_hash_table_new_full (address_hash, address_equal, g_free, g_free);
  g_queue_init (&s->resolved_order);
  return s;
}

void
policy_session_free (PolicySession *s)
{
  if (s == NULL)
    return;
  g_free (s->id);
  g_clear_pointer (&s->new_flows, aero_rate_limit_free);
  g_clear_pointer (&s->frames, aero_rate_limit_free);
  g_clear_pointer (&s->up, aero_rate_limit_free);
  g_clear_pointer (&s->down, aero_rate_limit_free);
  g_queue_clear (&s->resolved_order);
  g_hash_table_unref (s->resolved);
  g_free (s);
}

guint
policy_session_remember (PolicySession *s, GSocketFamily family, const guint8 *addr,
                         const char *name)
{
  PolicyAddress key = { 0 }, *stored;
  guint evicted = 0;

  key.family = family;
  memcpy (key.addr, addr, family == G_SOCKET_FAMILY_IPV4 ? 4 : 16);
  if (g_hash_table_contains (s->resolved, &key))
    {
      /* insert() keeps the stored key (which the queue points to) and
       * frees the one passed in. */
      g_hash_table_insert (s->resolved, g_memdup2 (&key, sizeof key), g_strdup (name));
      return 0;
    }
  while (g_queue_get_length (&s->resolved_order) >= POLICY_SESSION_MAX_RESOLVED)
    {
      g_hash_table_remove (s->resolved, g_queue_pop_head (&s->resolved_order));
      evicted++;
    }
  stored = g_memdup2 (&key, sizeof key);
  g_hash_table_insert (s->resolved, stored, g_strdup (name));
  g_queue_push_tail (&s->resolved_order, stored);
  return evicted;
}

const char *
policy_session_lookup (PolicySession *s, GSocketFamily family, const guint8 *addr)
{
  PolicyAddress key = { 0 };

  key.family = family;
  memcpy (key.addr, addr, family == G_SOCKET_FAMILY_IPV4 ? 4 : 16);
  return g_hash_table_lookup (s->resolved, &key);
}

