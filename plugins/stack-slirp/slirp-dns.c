/* slirp-dns.c — answering a session's DNS queries: static names, the
 * shared cache, and bounded asynchronous lookups through GResolver (see
 * slirp-dns.h for the answers given). */
#include <string.h>

#include <gio/gio.h>

#include "slirp-dns.h"

#define STATIC_TTL 60
#define NEGATIVE_TTL_MAX_MS (10 * 1000)

typedef struct {
  AeroSlirpDns *dns; /* NULL once answered, timed out or cancelled */
  GCancellable *cancellable;
  GSource *timeout;
  AeroSlirpDnsClient client;
  AeroDnsQuery query;
  guint family;
  GList link;
} Lookup;

struct _AeroSlirpDns
{
  AeroSlirpSettings *settings;
  AeroDnsCache *cache;       /* the instance's, outlives every session */
  AeroSlirpMetrics *metrics; /* the instance's */
  GMainContext *context;
  char *component;
  char *session_id;
  AeroSlirpDnsReplyFunc reply;
  gpointer user_data;
  GQueue pending; /* Lookup, through their links */
  gboolean limit_logged;
};

AeroSlirpDns *
aero_slirp_dns_new (AeroSlirpSettings *settings, AeroDnsCache *cache, AeroSlirpMetrics *metrics,
                    const char *component, const char *session_id, AeroSlirpDnsReplyFunc reply,
                    gpointer user_data)
{
  AeroSlirpDns *self = g_new0 (AeroSlirpDns, 1);

  self->settings = aero_slirp_settings_ref (settings);
  self->cache = cache;
  self->metrics = metrics;
  self->context = g_main_context_ref_thread_default ();
  self->component = g_strdup (component);
  self->session_id = g_strdup (session_id);
  self->reply = reply;
  self->user_data = user_data;
  g_queue_init (&self->pending);
  return self;
}

static void
respond (AeroSlirpDns *self, const AeroSlirpDnsClient *client, const AeroDnsQuery *query,
         AeroDnsRcode rcode, const AeroDnsAddress *addresses, guint n_addresses, guint32 ttl,
         AeroSlirpDnsAnswer kind)
{
  guint8 message[AERO_DNS_MAX_MESSAGE];
  gsize len;

  aero_metric_inc (self->metrics->dns_queries[kind]);
  len = aero_dns_build_response (query, rcode, addresses, n_addresses, ttl, message,
                                 sizeof message);
  if (len > 0)
    self->reply (client, message, len, self->user_data);
}

/* ---- lookups through the host resolver ---------------------------------------- */

static void
lookup_free (Lookup *lookup)
{
  g_object_unref (lookup->cancellable);
  g_free (lookup);
}

/* The lookup no longer belongs to the server: its callback will only free it. */
static void
lookup_detach (Lookup *lookup)
{
  AeroSlirpDns *self = lookup->dns;

  if (self == NULL)
    return;
  g_queue_unlink (&self->pending, &lookup->link);
  aero_metric_add (self->metrics->dns_pending, -1);
  if (lookup->timeout != NULL)
    {
      g_source_destroy (lookup->timeout);
      g_clear_pointer (&lookup->timeout, g_source_unref);
    }
  lookup->dns = NULL;
}

static gboolean
lookup_timeout_cb (gpointer user_data)
{
  Lookup *lookup = user_data;
  AeroSlirpDns *self = lookup->dns;

  AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                  "DNS lookup timed out after %" G_GUINT64_FORMAT " ms",
                  self->settings->dns_timeout_ms);
  respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_SERVFAIL, NULL, 0, 0,
           AERO_SLIRP_DNS_SERVFAIL);
  g_cancellable_cancel (lookup->cancellable);
  lookup_detach (lookup);
  return G_SOURCE_REMOVE;
}

static void
lookup_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  AeroSlirpDns *self = lookup->dns;
  g_autoptr (GError) error = NULL;
  AeroDnsCacheEntry entry = { 0 };
  GList *addresses;
  guint64 ttl_ms;

  addresses = g_resolver_lookup_by_name_with_flags_finish (G_RESOLVER (source), result, &error);
  if (self == NULL)
    {
      g_resolver_free_addresses (addresses);
      lookup_free (lookup);
      return;
    }
  lookup_detach (lookup);

  ttl_ms = self->settings->dns_cache_ttl_ms;
  if (addresses != NULL)
    {
      for (GList *l = addresses; l != NULL && entry.n_addresses < AERO_DNS_MAX_ADDRESSES;
           l = l->next)
        {
          GInetAddress *inet = l->data;
          gsize size = g_inet_address_get_native_size (inet);
          AeroDnsAddress *a;

          if (size != (lookup->family == 4 ? 4u : 16u))
            continue;
          a = &entry.addresses[entry.n_addresses++];
          a->family = lookup->family;
          memcpy (a->bytes, g_inet_address_to_bytes (inet), size);
        }
      g_resolver_free_addresses (addresses);
      respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_NOERROR, entry.addresses,
               entry.n_addresses, (guint32) (ttl_ms / 1000), AERO_SLIRP_DNS_RESOLVED);
    }
  else if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    {
      entry.negative = TRUE;
      ttl_ms = MIN (ttl_ms, NEGATIVE_TTL_MAX_MS);
      respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_NXDOMAIN, NULL, 0, 0,
               AERO_SLIRP_DNS_NXDOMAIN);
    }
  else
    {
      AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                      "DNS lookup failed: %s", error->message);
      respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_SERVFAIL, NULL, 0, 0,
               AERO_SLIRP_DNS_SERVFAIL);
      lookup_free (lookup);
      return;
    }

  aero_dns_cache_insert (self->cache, lookup->query.name, lookup->family, &entry,
                         g_get_monotonic_time () + (gint64) ttl_ms * 1000);
  aero_metric_set (self->metrics->dns_cache_entries, aero_dns_cache_size (self->cache));
  lookup_free (lookup);
}

static void
lookup_start (AeroSlirpDns *self, const AeroSlirpDnsClient *client, const AeroDnsQuery *query,
              guint family)
{
  g_autoptr (GResolver) resolver = NULL;
  Lookup *lookup;

  if (g_queue_get_length (&self->pending) >= self->settings->dns_max_pending)
    {
      if (!self->limit_logged)
        AERO_LOG_WARNING (self->component, "session", self->session_id, "MESSAGE",
                          "%u DNS lookups in progress; refusing more queries",
                          self->settings->dns_max_pending);
      self->limit_logged = TRUE;
      respond (self, client, query, AERO_DNS_RCODE_REFUSED, NULL, 0, 0, AERO_SLIRP_DNS_REFUSED);
      return;
    }

  lookup = g_new0 (Lookup, 1);
  lookup->dns = self;
  lookup->cancellable = g_cancellable_new ();
  lookup->client = *client;
  lookup->query = *query;
  lookup->family = family;
  lookup->link.data = lookup;
  g_queue_push_tail_link (&self->pending, &lookup->link);
  aero_metric_add (self->metrics->dns_pending, 1);

  lookup->timeout = g_timeout_source_new ((guint) self->settings->dns_timeout_ms);
  g_source_set_callback (lookup->timeout, lookup_timeout_cb, lookup, NULL);
  g_source_attach (lookup->timeout, self->context);

  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_with_flags_async (resolver, query->name,
                                              family == 4
                                                ? G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY
                                                : G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY,
                                              lookup->cancellable, lookup_done_cb, lookup);
}

/* ---- answering ------------------------------------------------------------------------- */

static void
answer_query (AeroSlirpDns *self, const AeroSlirpDnsClient *client, const AeroDnsQuery *query)
{
  const AeroSlirpStaticName *entry;
  AeroDnsCacheEntry cached;
  guint family;

  if (query->qtype != AERO_DNS_TYPE_A && query->qtype != AERO_DNS_TYPE_AAAA)
    {
      respond (self, client, query, AERO_DNS_RCODE_NOERROR, NULL, 0, 0, AERO_SLIRP_DNS_NODATA);
      return;
    }
  family = query->qtype == AERO_DNS_TYPE_A ? 4 : 6;

  entry = aero_slirp_settings_lookup_static (self->settings, query->name);
  if (entry != NULL)
    {
      respond (self, client, query, AERO_DNS_RCODE_NOERROR, entry->addresses, entry->n_addresses,
               STATIC_TTL, AERO_SLIRP_DNS_STATIC);
      return;
    }
  if (aero_dns_name_is_special_invalid (query->name))
    {
      respond (self, client, query, AERO_DNS_RCODE_NXDOMAIN, NULL, 0, 0, AERO_SLIRP_DNS_NXDOMAIN);
      return;
    }
  if (query->name[0] == '\0' || (family == 6 && !self->settings->ipv6))
    {
      respond (self, client, query, AERO_DNS_RCODE_NOERROR, NULL, 0, 0, AERO_SLIRP_DNS_NODATA);
      return;
    }

  if (aero_dns_cache_lookup (self->cache, query->name, family, g_get_monotonic_time (), &cached))
    {
      if (cached.negative)
        respond (self, client, query, AERO_DNS_RCODE_NXDOMAIN, NULL, 0, 0,
                 AERO_SLIRP_DNS_NXDOMAIN);
      else
        respond (self, client, query, AERO_DNS_RCODE_NOERROR, cached.addresses,
                 cached.n_addresses, cached.ttl, AERO_SLIRP_DNS_CACHED);
      return;
    }

  lookup_start (self, client, query, family);
}

void
aero_slirp_dns_handle_query (AeroSlirpDns *self, const AeroSlirpDnsClient *client,
                             const guint8 *message, gsize len)
{
  AeroDnsQuery query;

  switch (aero_dns_query_parse (message, len, &query))
    {
    case AERO_DNS_PARSE_OK:
      answer_query (self, client, &query);
      break;
    case AERO_DNS_PARSE_DROP:
      aero_metric_inc (self->metrics->dns_dropped);
      AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                      "dropped a %" G_GSIZE_FORMAT "-byte DNS datagram that is not a query",
                      len);
      break;
    case AERO_DNS_PARSE_FORMERR:
      query.has_question = FALSE;
      AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                      "malformed %" G_GSIZE_FORMAT "-byte DNS query", len);
      respond (self, client, &query, AERO_DNS_RCODE_FORMERR, NULL, 0, 0, AERO_SLIRP_DNS_FORMERR);
      break;
    case AERO_DNS_PARSE_NOTIMP:
      respond (self, client, &query, AERO_DNS_RCODE_NOTIMP, NULL, 0, 0, AERO_SLIRP_DNS_NOTIMP);
      break;
    case AERO_DNS_PARSE_REFUSED:
      respond (self, client, &query, AERO_DNS_RCODE_REFUSED, NULL, 0, 0, AERO_SLIRP_DNS_REFUSED);
      break;
    }
}

guint
aero_slirp_dns_get_pending (AeroSlirpDns *self)
{
  return g_queue_get_length (&self->pending);
}

void
aero_slirp_dns_free (AeroSlirpDns *self)
{
  if (self == NULL)
    return;
  while (!g_queue_is_empty (&self->pending))
    {
      Lookup *lookup = g_queue_peek_head (&self->pending);

      g_cancellable_cancel (lookup->cancellable);
      lookup_detach (lookup);
    }
  aero_slirp_settings_unref (self->settings);
  g_main_context_unref (self->context);
  g_free (self->component);
  g_free (self->session_id);
  g_free (self);
}
