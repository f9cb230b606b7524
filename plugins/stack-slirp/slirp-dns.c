/* slirp-dns.c — answering a session's DNS queries: static names, the
 * shared cache, and bounded asynchronous lookups through GResolver (see
 * slirp-dns.h for the answers given). */
#include <string.h>

#include <gio/gio.h>

#include "slirp-dns.h"

#define STATIC_TTL 60
#define NEGATIVE_TTL_MAX_MS (10 * 1000)
#define REFUSAL_LOG_INTERVAL_S 10 /* at most one "refusing" warning per instance */

struct _AeroSlirpDnsLimit
{
  guint max_calls;
  guint calls;                /* resolver calls that have not returned yet */
  AeroRateLimit *log_limit;   /* of the "refusing" warnings */
  guint refused_since_logged; /* refusals not logged */
};

typedef struct {
  AeroSlirpDns *dns;        /* NULL once the server is gone */
  AeroSlirpDnsLimit *limit; /* a reference: the call's place in the instance */
  GSource *timeout;         /* NULL once fired or detached */
  gboolean timed_out;       /* answered SERVFAIL; the resolver still runs */
  AeroSlirpDnsClient client;
  AeroDnsQuery query;
  guint family;
  GList link;
} Lookup;

struct _AeroSlirpDns
{
  AeroSlirpSettings *settings;
  AeroDnsCache *cache;       /* the instance's, outlives every session */
  AeroSlirpDnsLimit *limit;  /* the instance's */
  AeroSlirpMetrics *metrics; /* the instance's */
  GMainContext *context;
  char *component;
  char *session_id;
  AeroSlirpDnsReplyFunc reply;
  gpointer user_data;
  GQueue pending; /* Lookup, through their links, until their calls return */
};

AeroSlirpDnsLimit *
aero_slirp_dns_limit_new (guint max_calls)
{
  AeroSlirpDnsLimit *limit = g_rc_box_new0 (AeroSlirpDnsLimit);

  limit->max_calls = max_calls;
  limit->log_limit = aero_rate_limit_new (1.0 / REFUSAL_LOG_INTERVAL_S, 1, 0,
                                          g_get_monotonic_time ());
  return limit;
}

AeroSlirpDnsLimit *
aero_slirp_dns_limit_ref (AeroSlirpDnsLimit *limit)
{
  return g_rc_box_acquire (limit);
}

static void
limit_clear (gpointer data)
{
  AeroSlirpDnsLimit *limit = data;

  aero_rate_limit_free (limit->log_limit);
}

void
aero_slirp_dns_limit_unref (AeroSlirpDnsLimit *limit)
{
  g_rc_box_release_full (limit, limit_clear);
}

guint
aero_slirp_dns_limit_get_calls (AeroSlirpDnsLimit *limit)
{
  return limit->calls;
}

AeroSlirpDns *
aero_slirp_dns_new (AeroSlirpSettings *settings, AeroDnsCache *cache, AeroSlirpDnsLimit *limit,
                    AeroSlirpMetrics *metrics, const char *component, const char *session_id,
                    AeroSlirpDnsReplyFunc reply, gpointer user_data)
{
  AeroSlirpDns *self = g_new0 (AeroSlirpDns, 1);

  self->settings = aero_slirp_settings_ref (settings);
  self->cache = cache;
  self->limit = aero_slirp_dns_limit_ref (limit);
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

/* The resolver call has returned: its place in the instance is free. */
static void
lookup_free (Lookup *lookup)
{
  lookup->limit->calls--;
  aero_slirp_dns_limit_unref (lookup->limit);
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

/* GResolver cannot stop a getaddrinfo() that is under way (cancelling only
 * makes the callback come early), so the guest gets its SERVFAIL now and the
 * lookup keeps its place until the call returns. */
static gboolean
lookup_timeout_cb (gpointer user_data)
{
  Lookup *lookup = user_data;
  AeroSlirpDns *self = lookup->dns;

  AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                  "DNS lookup timed out after %" G_GUINT64_FORMAT " ms",
                  self->settings->dns_timeout_ms);
  g_clear_pointer (&lookup->timeout, g_source_unref);
  lookup->timed_out = TRUE;
  respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_SERVFAIL, NULL, 0, 0,
           AERO_SLIRP_DNS_SERVFAIL);
  return G_SOURCE_REMOVE;
}

static void
lookup_done_cb (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Lookup *lookup = user_data;
  AeroSlirpDns *self = lookup->dns;
  gboolean answer = !lookup->timed_out;
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

  /* A late answer still goes to the cache, for the guest's next try. */
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
      if (answer)
        respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_NOERROR,
                 entry.addresses, entry.n_addresses, (guint32) (ttl_ms / 1000),
                 AERO_SLIRP_DNS_RESOLVED);
    }
  else if (g_error_matches (error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
    {
      entry.negative = TRUE;
      ttl_ms = MIN (ttl_ms, NEGATIVE_TTL_MAX_MS);
      if (answer)
        respond (self, &lookup->client, &lookup->query, AERO_DNS_RCODE_NXDOMAIN, NULL, 0, 0,
                 AERO_SLIRP_DNS_NXDOMAIN);
    }
  else
    {
      AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE",
                      "DNS lookup failed: %s", error->message);
      if (answer)
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

/* Too many lookups in progress: REFUSED, counted, and logged at most once
 * per REFUSAL_LOG_INTERVAL_S for the whole instance. */
static void
refuse (AeroSlirpDns *self, const AeroSlirpDnsClient *client, const AeroDnsQuery *query,
        AeroSlirpDnsLimitKind kind)
{
  AeroSlirpDnsLimit *limit = self->limit;

  aero_metric_inc (self->metrics->dns_lookups_refused[kind]);
  limit->refused_since_logged++;
  if (aero_rate_limit_take (limit->log_limit, 1, g_get_monotonic_time ()) == AERO_RATE_LIMIT_OK)
    {
      if (kind == AERO_SLIRP_DNS_LIMIT_SESSION)
        AERO_LOG_WARNING (self->component, "session", self->session_id, "MESSAGE",
                          "%u DNS lookups in progress in this session (dns-max-pending); "
                          "refusing more queries (%u refused since the last message)",
                          self->settings->dns_max_pending, limit->refused_since_logged);
      else
        AERO_LOG_WARNING (self->component, "session", self->session_id, "MESSAGE",
                          "%u DNS lookups in progress across sessions (dns-max-lookups); "
                          "refusing more queries (%u refused since the last message)",
                          limit->max_calls, limit->refused_since_logged);
      limit->refused_since_logged = 0;
    }
  respond (self, client, query, AERO_DNS_RCODE_REFUSED, NULL, 0, 0, AERO_SLIRP_DNS_REFUSED);
}

static void
lookup_start (AeroSlirpDns *self, const AeroSlirpDnsClient *client, const AeroDnsQuery *query,
              guint family)
{
  g_autoptr (GResolver) resolver = NULL;
  Lookup *lookup;

  if (g_queue_get_length (&self->pending) >= self->settings->dns_max_pending)
    {
      refuse (self, client, query, AERO_SLIRP_DNS_LIMIT_SESSION);
      return;
    }
  if (self->limit->calls >= self->limit->max_calls)
    {
      refuse (self, client, query, AERO_SLIRP_DNS_LIMIT_INSTANCE);
      return;
    }

  lookup = g_new0 (Lookup, 1);
  lookup->dns = self;
  lookup->limit = aero_slirp_dns_limit_ref (self->limit);
  lookup->limit->calls++;
  lookup->client = *client;
  lookup->query = *query;
  lookup->family = family;
  lookup->link.data = lookup;
  g_queue_push_tail_link (&self->pending, &lookup->link);
  aero_metric_add (self->metrics->dns_pending, 1);

  lookup->timeout = g_timeout_source_new ((guint) self->settings->dns_timeout_ms);
  g_source_set_callback (lookup->timeout, lookup_timeout_cb, lookup, NULL);
  g_source_attach (lookup->timeout, self->context);

  /* No cancellable: the callback must mean that the call has returned. */
  resolver = g_resolver_get_default ();
  g_resolver_lookup_by_name_with_flags_async (resolver, query->name,
                                              family == 4
                                                ? G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY
                                                : G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY,
                                              NULL, lookup_done_cb, lookup);
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
    lookup_detach (g_queue_peek_head (&self->pending));
  aero_slirp_settings_unref (self->settings);
  aero_slirp_dns_limit_unref (self->limit);
  g_main_context_unref (self->context);
  g_free (self->component);
  g_free (self->session_id);
  g_free (self);
}
