/* test-dns.c — unit tests of stack-slirp's DNS parts: the wire format
 * parser and builder on hostile input, the cache, and the per-session
 * server against a scripted resolver (answers, NXDOMAIN, timeouts, the
 * per-session and instance-wide lookup limits, and lookups completing
 * after the server is gone). */
#include <string.h>

#include "dns-cache.h"
#include "dns-message.h"
#include "slirp-dns.h"
#include "slirp-settings.h"

/* ---- a resolver whose lookups complete when the test says so --------------- */

#define TEST_TYPE_RESOLVER (test_resolver_get_type ())
G_DECLARE_FINAL_TYPE (TestResolver, test_resolver, TEST, RESOLVER, GResolver)

struct _TestResolver
{
  GResolver parent_instance;
  GPtrArray *tasks; /* GTask, in call order */
};

G_DEFINE_TYPE (TestResolver, test_resolver, G_TYPE_RESOLVER)

static void
test_resolver_lookup_async (GResolver *resolver, const char *hostname,
                            GResolverNameLookupFlags flags, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (resolver, cancellable, callback, user_data);

  g_task_set_task_data (task, g_strdup (hostname), g_free);
  g_ptr_array_add (TEST_RESOLVER (resolver)->tasks, task);
}

static GList *
test_resolver_lookup_finish (GResolver *resolver, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
test_resolver_finalize (GObject *object)
{
  g_ptr_array_unref (TEST_RESOLVER (object)->tasks);
  G_OBJECT_CLASS (test_resolver_parent_class)->finalize (object);
}

static void
test_resolver_class_init (TestResolverClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = test_resolver_finalize;
  G_RESOLVER_CLASS (klass)->lookup_by_name_with_flags_async = test_resolver_lookup_async;
  G_RESOLVER_CLASS (klass)->lookup_by_name_with_flags_finish = test_resolver_lookup_finish;
}

static void
test_resolver_init (TestResolver *self)
{
  self->tasks = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
complete (GTask *task, const char *address)
{
  if (address == NULL)
    g_task_return_new_error (task, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND, "not found");
  else
    g_task_return_pointer (task, g_list_append (NULL, g_inet_address_new_from_string (address)),
                           (GDestroyNotify) g_resolver_free_addresses);
}

static void
iterate (guint ms)
{
  gint64 end = g_get_monotonic_time () + (gint64) ms * 1000;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* ---- helpers ---------------------------------------------------------------------- */

static gsize
make_query (guint8 *buf, guint16 id, const char *name, guint16 qtype)
{
  gsize pos = 12;
  g_auto (GStrv) labels = g_strsplit (name, ".", -1);

  memset (buf, 0, 12);
  buf[0] = (guint8) (id >> 8);
  buf[1] = (guint8) id;
  buf[2] = 0x01; /* RD */
  buf[5] = 1;    /* one question */
  for (char **l = labels; *l != NULL; l++)
    {
      gsize len = strlen (*l);

      buf[pos++] = (guint8) len;
      memcpy (buf + pos, *l, len);
      pos += len;
    }
  buf[pos++] = 0;
  buf[pos++] = (guint8) (qtype >> 8);
  buf[pos++] = (guint8) qtype;
  buf[pos++] = 0;
  buf[pos++] = 1;
  return pos;
}

static guint
rcode_of (GBytes *reply)
{
  return ((const guint8 *) g_bytes_get_data (reply, NULL))[3] & 0x0f;
}

static guint
answers_of (GBytes *reply)
{
  const guint8 *p = g_bytes_get_data (reply, NULL);

  return (guint) (p[6] << 8 | p[7]);
}

/* ---- the wire format ------------------------------------------------------------------- */

static void
test_parse (void)
{
  guint8 buf[600];
  AeroDnsQuery q;
  gsize len;

  len = make_query (buf, 0x1234, "WWW.Example.com", AERO_DNS_TYPE_A);
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_OK);
  g_assert_cmpstr (q.name, ==, "www.example.com");
  g_assert_cmpuint (q.id, ==, 0x1234);
  g_assert_cmpuint (q.qtype, ==, AERO_DNS_TYPE_A);

  g_assert_cmpint (aero_dns_query_parse (buf, 11, &q), ==, AERO_DNS_PARSE_DROP);
  g_assert_cmpint (aero_dns_query_parse (buf, len - 1, &q), ==, AERO_DNS_PARSE_FORMERR);
  g_assert_cmpint (aero_dns_query_parse (buf, 13, &q), ==, AERO_DNS_PARSE_FORMERR);

  buf[len] = 0xff; /* trailing byte without an additional record */
  g_assert_cmpint (aero_dns_query_parse (buf, len + 1, &q), ==, AERO_DNS_PARSE_FORMERR);

  buf[2] |= 0x80; /* a response */
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_DROP);
  buf[2] = 0x01 | (2 << 3); /* opcode STATUS */
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_NOTIMP);
  buf[2] = 0x01;

  buf[len - 1] = 3; /* class CHAOS */
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_REFUSED);
  g_assert_true (q.has_question);
  buf[len - 1] = 1;

  buf[5] = 2;
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_FORMERR);
  buf[5] = 1;

  /* A compression pointer in the question. */
  buf[12] = 0xc0;
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_FORMERR);
  /* Reserved label types. */
  buf[12] = 0x43;
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_FORMERR);
  buf[12] = 0x83;
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_FORMERR);
  buf[12] = 3;

  /* A dot inside a label is not a name we resolve. */
  buf[14] = '.';
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_REFUSED);

  /* Names longer than 255 bytes on the wire. */
  memset (buf, 0, sizeof buf);
  buf[5] = 1;
  len = 12;
  for (guint i = 0; i < 5; i++)
    {
      buf[len++] = 63;
      memset (buf + len, 'a', 63);
      len += 63;
    }
  buf[len++] = 0;
  len += 4;
  g_assert_cmpint (aero_dns_query_parse (buf, len, &q), ==, AERO_DNS_PARSE_FORMERR);
}

static void
test_build (void)
{
  guint8 query[300], out[AERO_DNS_MAX_MESSAGE];
  AeroDnsAddress addrs[AERO_DNS_MAX_ADDRESSES + 2] = { 0 };
  AeroDnsQuery q;
  gsize qlen, len;

  qlen = make_query (query, 7, "host.example", AERO_DNS_TYPE_A);
  g_assert_cmpint (aero_dns_query_parse (query, qlen, &q), ==, AERO_DNS_PARSE_OK);
  for (guint i = 0; i < G_N_ELEMENTS (addrs); i++)
    {
      addrs[i].family = i % 2 ? 6 : 4;
      addrs[i].bytes[0] = (guint8) i;
    }

  len = aero_dns_build_response (&q, AERO_DNS_RCODE_NOERROR, addrs, G_N_ELEMENTS (addrs), 30,
                                 out, sizeof out);
  g_assert_cmpuint (len, ==, qlen + 5 * 16);
  g_assert_cmpuint (out[2] & 0x80, ==, 0x80);
  g_assert_cmpuint (out[7], ==, 5); /* only the five IPv4 addresses */
  g_assert_cmpmem (out + 12, qlen - 12, query + 12, qlen - 12);

  len = aero_dns_build_response (&q, AERO_DNS_RCODE_NXDOMAIN, addrs, 2, 30, out, sizeof out);
  g_assert_cmpuint (len, ==, qlen);
  g_assert_cmpuint (out[3] & 0x0f, ==, AERO_DNS_RCODE_NXDOMAIN);
  g_assert_cmpuint (out[7], ==, 0);

  g_assert_cmpuint (aero_dns_build_response (&q, AERO_DNS_RCODE_NOERROR, addrs, 2, 30, out, 20),
                    ==, 0);
}

static void
test_names (void)
{
  g_assert_true (aero_dns_name_is_valid ("printer.example.lan"));
  g_assert_true (aero_dns_name_is_valid ("_srv.x-y.example"));
  g_assert_false (aero_dns_name_is_valid (""));
  g_assert_false (aero_dns_name_is_valid ("a..b"));
  g_assert_false (aero_dns_name_is_valid ("-a.b"));
  g_assert_false (aero_dns_name_is_valid ("a-.b"));
  g_assert_false (aero_dns_name_is_valid ("a b"));
  g_assert_true (aero_dns_name_is_special_invalid ("x.invalid"));
  g_assert_true (aero_dns_name_is_special_invalid ("invalid"));
  g_assert_false (aero_dns_name_is_special_invalid ("notinvalid"));
}

/* ---- the cache ------------------------------------------------------------------------- */

static void
test_cache (void)
{
  g_autoptr (AeroDnsCache) cache = aero_dns_cache_new (2);
  g_autoptr (AeroDnsCache) none = aero_dns_cache_new (0);
  AeroDnsCacheEntry entry = { .n_addresses = 1 }, out;
  gint64 now = 1000 * G_USEC_PER_SEC;

  entry.addresses[0].family = 4;
  aero_dns_cache_insert (cache, "a", 4, &entry, now + 10 * G_USEC_PER_SEC);
  aero_dns_cache_insert (cache, "b", 4, &entry, now + 10 * G_USEC_PER_SEC);
  g_assert_true (aero_dns_cache_lookup (cache, "a", 4, now, &out));
  g_assert_cmpuint (out.ttl, ==, 10);
  g_assert_false (aero_dns_cache_lookup (cache, "a", 6, now, &out));

  /* "b" is now the least recently used and goes first. */
  aero_dns_cache_insert (cache, "c", 4, &entry, now + 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (aero_dns_cache_size (cache), ==, 2);
  g_assert_false (aero_dns_cache_lookup (cache, "b", 4, now, &out));
  g_assert_true (aero_dns_cache_lookup (cache, "a", 4, now, &out));

  /* Expired entries are gone. */
  g_assert_false (aero_dns_cache_lookup (cache, "c", 4, now + 11 * G_USEC_PER_SEC, &out));
  g_assert_cmpuint (aero_dns_cache_size (cache), ==, 1);

  aero_dns_cache_insert (none, "a", 4, &entry, now + 10 * G_USEC_PER_SEC);
  g_assert_cmpuint (aero_dns_cache_size (none), ==, 0);
}

/* ---- the server ---------------------------------------------------------------------------- */

typedef struct {
  TestResolver *resolver;
  AeroSlirpSettings *settings;
  AeroDnsCache *cache;
  AeroSlirpDnsLimit *limit;
  AeroSlirpMetrics metrics;
  AeroSlirpDns *dns;
  GPtrArray *replies; /* GBytes */
  AeroSlirpDnsClient client;
} Fixture;

static void
on_reply (const AeroSlirpDnsClient *client, const guint8 *message, gsize len, gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->replies, g_bytes_new (message, len));
}

static void
fixture_setup (Fixture *f, gconstpointer data)
{
  g_autoptr (GKeyFile) keyfile = g_key_file_new ();
  g_autoptr (AeroConfigGroup) group = NULL;
  g_autoptr (GError) error = NULL;

  g_key_file_load_from_data (keyfile,
                             "[lan]\n"
                             "dns-timeout = 200ms\n"
                             "dns-max-pending = 2\n"
                             "dns-max-lookups = 3\n"
                             "[lan.dns]\n"
                             "static.example = 10.0.2.50\n",
                             -1, G_KEY_FILE_NONE, &error);
  g_assert_no_error (error);
  group = aero_config_group_new (keyfile, "test.ini", "lan");
  f->settings = aero_slirp_settings_parse (group, &error);
  g_assert_no_error (error);

  f->resolver = g_object_new (TEST_TYPE_RESOLVER, NULL);
  g_resolver_set_default (G_RESOLVER (f->resolver));
  f->cache = aero_dns_cache_new (16);
  f->limit = aero_slirp_dns_limit_new (f->settings->dns_max_lookups);
  f->replies = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  f->dns = aero_slirp_dns_new (f->settings, f->cache, f->limit, &f->metrics, "test", "s1",
                               on_reply, f);
  f->client.ip_version = 4;
}

static void
fixture_teardown (Fixture *f, gconstpointer data)
{
  aero_slirp_dns_free (f->dns);
  iterate (10);
  /* Every test lets its resolver calls return. */
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 0);
  aero_slirp_dns_limit_unref (f->limit);
  g_ptr_array_unref (f->replies);
  aero_dns_cache_free (f->cache);
  aero_slirp_settings_unref (f->settings);
  g_object_unref (f->resolver);
}

static void
query (Fixture *f, const char *name, guint16 qtype)
{
  guint8 buf[300];
  gsize len = make_query (buf, 42, name, qtype);

  aero_slirp_dns_handle_query (f->dns, &f->client, buf, len);
}

static void
test_server_resolves_and_caches (Fixture *f, gconstpointer data)
{
  query (f, "static.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->replies->len, ==, 1);
  g_assert_cmpuint (answers_of (f->replies->pdata[0]), ==, 1);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 0);

  query (f, "host.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 1);
  g_assert_cmpstr (g_task_get_task_data (f->resolver->tasks->pdata[0]), ==, "host.example");
  complete (f->resolver->tasks->pdata[0], "192.0.2.7");
  iterate (20);
  g_assert_cmpuint (f->replies->len, ==, 2);
  g_assert_cmpuint (rcode_of (f->replies->pdata[1]), ==, AERO_DNS_RCODE_NOERROR);
  g_assert_cmpuint (answers_of (f->replies->pdata[1]), ==, 1);

  query (f, "HOST.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 1);
  g_assert_cmpuint (f->replies->len, ==, 3);
  g_assert_cmpuint (answers_of (f->replies->pdata[2]), ==, 1);

  query (f, "gone.example", AERO_DNS_TYPE_A);
  complete (f->resolver->tasks->pdata[1], NULL);
  iterate (20);
  g_assert_cmpuint (rcode_of (f->replies->pdata[3]), ==, AERO_DNS_RCODE_NXDOMAIN);
  query (f, "gone.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 2);
  g_assert_cmpuint (rcode_of (f->replies->pdata[4]), ==, AERO_DNS_RCODE_NXDOMAIN);

  /* IPv6 is off: AAAA gets an empty answer without a lookup. */
  query (f, "host.example", AERO_DNS_TYPE_AAAA);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 2);
  g_assert_cmpuint (rcode_of (f->replies->pdata[5]), ==, AERO_DNS_RCODE_NOERROR);
  g_assert_cmpuint (answers_of (f->replies->pdata[5]), ==, 0);
}

/* A timed-out lookup is answered SERVFAIL at once but keeps its place
 * until the resolver returns; its late answer only goes to the cache. */
static void
test_server_timeout (Fixture *f, gconstpointer data)
{
  query (f, "slow.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (aero_slirp_dns_get_pending (f->dns), ==, 1);
  iterate (400);
  g_assert_cmpuint (f->replies->len, ==, 1);
  g_assert_cmpuint (rcode_of (f->replies->pdata[0]), ==, AERO_DNS_RCODE_SERVFAIL);
  g_assert_cmpuint (aero_slirp_dns_get_pending (f->dns), ==, 1);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 1);
  g_assert_null (g_task_get_cancellable (f->resolver->tasks->pdata[0]));

  /* It still counts against dns-max-pending. */
  query (f, "other.example", AERO_DNS_TYPE_A);
  query (f, "third.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 2);
  g_assert_cmpuint (f->replies->len, ==, 2);
  g_assert_cmpuint (rcode_of (f->replies->pdata[1]), ==, AERO_DNS_RCODE_REFUSED);

  /* The late answer is not sent, but cached. */
  complete (f->resolver->tasks->pdata[0], "192.0.2.8");
  iterate (20);
  g_assert_cmpuint (f->replies->len, ==, 2);
  g_assert_cmpuint (aero_slirp_dns_get_pending (f->dns), ==, 1);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 1);
  query (f, "slow.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->replies->len, ==, 3);
  g_assert_cmpuint (rcode_of (f->replies->pdata[2]), ==, AERO_DNS_RCODE_NOERROR);
  g_assert_cmpuint (answers_of (f->replies->pdata[2]), ==, 1);

  complete (f->resolver->tasks->pdata[1], NULL);
  iterate (20);
}

static void
test_server_pending_limit (Fixture *f, gconstpointer data)
{
  query (f, "one.example", AERO_DNS_TYPE_A);
  query (f, "two.example", AERO_DNS_TYPE_A);
  query (f, "three.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 2);
  g_assert_cmpuint (f->replies->len, ==, 1);
  g_assert_cmpuint (rcode_of (f->replies->pdata[0]), ==, AERO_DNS_RCODE_REFUSED);
  complete (f->resolver->tasks->pdata[0], "192.0.2.1");
  complete (f->resolver->tasks->pdata[1], "192.0.2.2");
  iterate (20);
  g_assert_cmpuint (f->replies->len, ==, 3);
}

/* dns-max-lookups bounds the calls of all servers sharing the limit, timed
 * out or detached ones included. */
static void
test_server_instance_limit (Fixture *f, gconstpointer data)
{
  g_autoptr (GPtrArray) replies2 = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  Fixture f2 = *f;
  guint8 buf[300];
  gsize len;

  f2.replies = replies2;
  f2.dns = aero_slirp_dns_new (f->settings, f->cache, f->limit, &f->metrics, "test", "s2",
                               on_reply, &f2);
  query (f, "one.example", AERO_DNS_TYPE_A);
  query (f, "two.example", AERO_DNS_TYPE_A);
  iterate (400);
  g_assert_cmpuint (f->replies->len, ==, 2);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 2);

  len = make_query (buf, 7, "three.example", AERO_DNS_TYPE_A);
  aero_slirp_dns_handle_query (f2.dns, &f2.client, buf, len);
  len = make_query (buf, 8, "four.example", AERO_DNS_TYPE_A);
  aero_slirp_dns_handle_query (f2.dns, &f2.client, buf, len);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 3);
  g_assert_cmpuint (replies2->len, ==, 1);
  g_assert_cmpuint (rcode_of (replies2->pdata[0]), ==, AERO_DNS_RCODE_REFUSED);

  /* A server freed with calls under way leaves them counted until they return. */
  g_clear_pointer (&f2.dns, aero_slirp_dns_free);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 3);
  complete (f->resolver->tasks->pdata[2], "192.0.2.3");
  iterate (20);
  g_assert_cmpuint (replies2->len, ==, 1);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 2);

  complete (f->resolver->tasks->pdata[0], "192.0.2.1");
  complete (f->resolver->tasks->pdata[1], NULL);
  iterate (20);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (f->limit), ==, 0);
  g_assert_cmpuint (aero_slirp_dns_get_pending (f->dns), ==, 0);
  g_assert_cmpuint (f->replies->len, ==, 2);
}

/* The session goes, the call does not: its callback must touch nothing of
 * the session, and it holds the limit alive (under ASan: no use after free). */
static void
test_server_freed_with_pending (Fixture *f, gconstpointer data)
{
  AeroSlirpDnsLimit *limit = f->limit;

  query (f, "pending.example", AERO_DNS_TYPE_A);
  g_assert_cmpuint (f->resolver->tasks->len, ==, 1);
  g_clear_pointer (&f->dns, aero_slirp_dns_free);
  f->limit = aero_slirp_dns_limit_new (1);
  aero_slirp_dns_limit_unref (limit);
  g_assert_cmpuint (aero_slirp_dns_limit_get_calls (limit), ==, 1);
  complete (f->resolver->tasks->pdata[0], "192.0.2.9");
  iterate (20);
  g_assert_cmpuint (f->replies->len, ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* The limit tests make the server log its warning. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);

  g_test_add_func ("/stack-slirp/dns/parse", test_parse);
  g_test_add_func ("/stack-slirp/dns/build", test_build);
  g_test_add_func ("/stack-slirp/dns/names", test_names);
  g_test_add_func ("/stack-slirp/dns/cache", test_cache);
  g_test_add ("/stack-slirp/dns/server/resolve", Fixture, NULL, fixture_setup,
              test_server_resolves_and_caches, fixture_teardown);
  g_test_add ("/stack-slirp/dns/server/timeout", Fixture, NULL, fixture_setup,
              test_server_timeout, fixture_teardown);
  g_test_add ("/stack-slirp/dns/server/pending-limit", Fixture, NULL, fixture_setup,
              test_server_pending_limit, fixture_teardown);
  g_test_add ("/stack-slirp/dns/server/instance-limit", Fixture, NULL, fixture_setup,
              test_server_instance_limit, fixture_teardown);
  g_test_add ("/stack-slirp/dns/server/freed-with-pending", Fixture, NULL, fixture_setup,
              test_server_freed_with_pending, fixture_teardown);
  return g_test_run ();
}
