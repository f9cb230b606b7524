/* dns-cache.c — a bounded LRU cache of resolver answers with expiry (see
 * dns-cache.h). Times are monotonic microseconds. */
#include "dns-cache.h"

typedef struct {
  char *key;
  AeroDnsCacheEntry entry;
  gint64 expires;
  GList link; /* in the LRU queue; data points back to this item */
} CacheItem;

struct _AeroDnsCache
{
  guint max_entries;
  GHashTable *items; /* key → CacheItem, owned */
  GQueue lru;        /* most recently used at the head */
};

static void
cache_item_free (gpointer data)
{
  CacheItem *item = data;

  g_free (item->key);
  g_free (item);
}

static char *
make_key (const char *name, guint family)
{
  return g_strdup_printf ("%u:%s", family, name);
}

AeroDnsCache *
aero_dns_cache_new (guint max_entries)
{
  AeroDnsCache *cache = g_new0 (AeroDnsCache, 1);

  cache->max_entries = max_entries;
  cache->items = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, cache_item_free);
  g_queue_init (&cache->lru);
  return cache;
}

void
aero_dns_cache_free (AeroDnsCache *cache)
{
  if (cache == NULL)
    return;
  g_hash_table_unref (cache->items);
  g_free (cache);
}

static void
remove_item (AeroDnsCache *cache, CacheItem *item)
{
  g_queue_unlink (&cache->lru, &item->link);
  g_hash_table_remove (cache->items, item->key);
}

gboolean
aero_dns_cache_lookup (AeroDnsCache *cache, const char *name, guint family, gint64 now,
                       AeroDnsCacheEntry *out)
{
  g_autofree char *key = make_key (name, family);
  CacheItem *item = g_hash_table_lookup (cache->items, key);
  gint64 left;

  if (item == NULL)
    return FALSE;
  left = item->expires - now;
  if (left <= 0)
    {
      remove_item (cache, item);
      return FALSE;
    }

  g_queue_unlink (&cache->lru, &item->link);
  g_queue_push_head_link (&cache->lru, &item->link);
  *out = item->entry;
  out->ttl = (guint32) MAX ((left + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC, 1);
  return TRUE;
}

void
aero_dns_cache_insert (AeroDnsCache *cache, const char *name, guint family,
                       const AeroDnsCacheEntry *entry, gint64 expires)
{
  CacheItem *item;
  char *key;

  if (cache->max_entries == 0)
    return;

  key = make_key (name, family);
  item = g_hash_table_lookup (cache->items, key);
  if (item != NULL)
    {
      g_free (key);
      g_queue_unlink (&cache->lru, &item->link);
    }
  else
    {
      while (g_hash_table_size (cache->items) >= cache->max_entries)
        remove_item (cache, g_queue_peek_tail_link (&cache->lru)->data);
      item = g_new0 (CacheItem, 1);
      item->key = key;
      item->link.data = item;
      g_hash_table_insert (cache->items, item->key, item);
    }
  item->entry = *entry;
  item->expires = expires;
  g_queue_push_head_link (&cache->lru, &item->link);
}

guint
aero_dns_cache_size (AeroDnsCache *cache)
{
  return g_hash_table_size (cache->items);
}
