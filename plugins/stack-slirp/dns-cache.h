/* dns-cache.h — a bounded cache of host resolver answers.
 *
 * One cache per stack instance, shared by its sessions (it holds names and
 * addresses, nothing about a session). Entries are keyed by lower-case
 * name and address family, expire after their time to live, and the least
 * recently used entry is evicted when the cache is full. A cache of size 0
 * stores nothing. */
#pragma once

#include "dns-message.h"

G_BEGIN_DECLS

typedef struct _AeroDnsCache AeroDnsCache;

/**
 * AeroDnsCacheEntry:
 * @negative: the name does not exist
 * @n_addresses: number of addresses
 * @addresses: the addresses
 * @ttl: seconds left before it expires (at least 1)
 *
 * A copy of a cached answer.
 */
typedef struct {
  gboolean negative;
  guint n_addresses;
  AeroDnsAddress addresses[AERO_DNS_MAX_ADDRESSES];
  guint32 ttl;
} AeroDnsCacheEntry;

AeroDnsCache *aero_dns_cache_new (guint max_entries);

void aero_dns_cache_free (AeroDnsCache *cache);

gboolean aero_dns_cache_lookup (AeroDnsCache *cache, const char *name, guint family, gint64 now,
                                AeroDnsCacheEntry *out);

void aero_dns_cache_insert (AeroDnsCache *cache, const char *name, guint family,
                            const AeroDnsCacheEntry *entry, gint64 expires);

guint aero_dns_cache_size (AeroDnsCache *cache);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (AeroDnsCache, aero_dns_cache_free)

G_END_DECLS
