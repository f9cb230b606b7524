/* slirp-stack.c — the per-session stack: frames in and out of libslirp,
 * with the guard, DNS and virtual services in front (see slirp-stack.h). */
#include <string.h>

#include "packet.h"
#include "slirp-dns.h"
#include "slirp-guard.h"
#include "slirp-loop.h"
#include "slirp-stack.h"

#define VLAN_TAG_LEN 4
#define MAX_LOGGED_GUEST_ERRORS 10
#define RDNSS_LIFETIME 1200 /* seconds: twice the longest RA interval */
#define MTU_OFFLOAD 65520   /* libslirp's largest; its TCP MSS then reaches 65,480 */

struct _AeroSlirpStack
{
  GObject parent_instance;

  AeroSlirpFactory *factory;
  AeroSlirpSettings *settings;
  AeroSlirpMetrics *metrics; /* the factory's */
  char *component;
  char *session_id;
  gsize max_frame;

  AeroSlirpLoop *loop; /* owns the Slirp */
  AeroSlirpBurst *burst; /* the factory's, or NULL (merge = false) */
  AeroSlirpDns *dns;
  guint guest_errors;
  gboolean closed;
};

static void aero_slirp_stack_sink_init (AeroFrameSinkInterface *iface);
static void aero_slirp_stack_source_init (AeroFrameSourceInterface *iface);
static void aero_slirp_stack_stack_init (AeroStackInterface *iface);

G_DEFINE_TYPE_WITH_CODE (AeroSlirpStack, aero_slirp_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, aero_slirp_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE,
                                                aero_slirp_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, aero_slirp_stack_stack_init))

/* ---- to the guest ------------------------------------------------------------ */

static void
emit_to_guest (AeroSlirpStack *self, GBytes *frame)
{
  aero_metric_inc (self->metrics->frames_to_guest);
  if (aero_frame_source_emit (AERO_FRAME_SOURCE (self), frame) != AERO_FLOW_OK)
    aero_metric_inc (self->metrics->dropped[AERO_SLIRP_DROP_TO_GUEST]);
}

/* A frame from libslirp, as the guest gets it: a service's host endpoint
 * becomes its guest-visible address again, DHCP answers get the interface
 * MTU option and router advertisements the DNS option (libslirp adds it
 * only when the host itself has an IPv6 name server). */
static GBytes *
frame_from_slirp (AeroSlirpStack *self, const guint8 *buf, gsize len)
{
  const AeroSlirpService *service;
  guint8 *frame = g_memdup2 (buf, len);
  AeroPacket pkt;

  if (!aero_packet_parse (frame, len, &pkt) || pkt.fragment)
    return g_bytes_new_take (frame, len);

  if (pkt.ip_version == 6 && self->settings->ipv6)
    {
      gsize new_len;
      guint8 *with_dns = aero_packet_ra_add_rdnss (&pkt, self->settings->ipv6_dns,
                                                   RDNSS_LIFETIME, &new_len);

      if (with_dns != NULL)
        {
          g_free (frame);
          return g_bytes_new_take (with_dns, new_len);
        }
    }
  if (pkt.ip_version != 4 || !pkt.has_ports)
    return g_bytes_new_take (frame, len);

  service = aero_slirp_settings_find_service (self->settings, pkt.protocol, pkt.src, pkt.sport,
                                              TRUE);
  if (service != NULL && aero_slirp_settings_in_network (self->settings, pkt.dst))
    {
      aero_packet_rewrite_ipv4 (frame, &pkt, TRUE, service->guest_addr, service->guest_port);
      aero_packet_mac_for_ipv4 (service->guest_addr, frame + 6);
    }
  else
    aero_packet_dhcp_add_mtu (frame, &pkt, (guint16) self->settings->mtu);
  return g_bytes_new_take (frame, len);
}

static ssize_t
slirp_send_packet_cb (const void *buf, size_t len, void *opaque)
{
  AeroSlirpStack *self = opaque;
  g_autoptr (GBytes) frame = NULL;

  if (self->closed)
    return (ssize_t) len;
  if (len < AERO_ETH_HEADER_LEN || len > AERO_FRAME_MAX_LEN)
    {
      aero_metric_inc (self->metrics->dropped[AERO_SLIRP_DROP_OVERSIZE]);
      return (ssize_t) len;
    }
  frame = frame_from_slirp (self, buf, len);
  emit_to_guest (self, frame);
  return (ssize_t) len;
}

static void
dns_reply_cb (const AeroSlirpDnsClient *client, const guint8 *message, gsize len,
              gpointer user_data)
{
  AeroSlirpStack *self = user_data;
  g_autoptr (GBytes) frame = NULL;

  if (self->closed)
    return;
  frame = aero_packet_build_udp (client->ip_version, client->server_mac, client->guest_mac,
                                 client->server_ip, client->guest_ip, 53, client->guest_port,
                                 message, len);
  if (frame != NULL)
    emit_to_guest (self, frame);
}

/* ---- libslirp's other callbacks ------------------------------------------------- */

static void
slirp_guest_error_cb (const char *msg, void *opaque)
{
  AeroSlirpStack *self = opaque;

  aero_metric_inc (self->metrics->guest_errors);
  if (self->guest_errors++ < MAX_LOGGED_GUEST_ERRORS)
    AERO_LOG_INFO (self->component, "session", self->session_id, "MESSAGE",
                   "guest error: %s%s", msg,
                   self->guest_errors == MAX_LOGGED_GUEST_ERRORS
                     ? " (further guest errors of this session are only counted)"
                     : "");
}

static int64_t
slirp_clock_get_ns_cb (void *opaque)
{
  return aero_slirp_loop_clock_ns ();
}

static void *
slirp_timer_new_opaque_cb (SlirpTimerId id, void *cb_opaque, void *opaque)
{
  AeroSlirpStack *self = opaque;

  return aero_slirp_loop_timer_new (self->loop, id, cb_opaque);
}

static void
slirp_timer_free_cb (void *timer, void *opaque)
{
  aero_slirp_loop_timer_free (timer);
}

static void
slirp_timer_mod_cb (void *timer, int64_t expire_time, void *opaque)
{
  aero_slirp_loop_timer_mod (timer, expire_time);
}

/* A socket libslirp created or is about to close: whatever the loop
 * watched under that number is stale. */
static void
slirp_poll_fd_cb (int fd, void *opaque)
{
  AeroSlirpStack *self = opaque;

  if (self->loop != NULL)
    aero_slirp_loop_forget_fd (self->loop, fd);
}

static void
slirp_notify_cb (void *opaque)
{
  AeroSlirpStack *self = opaque;

  if (self->loop != NULL)
    aero_slirp_loop_notify (self->loop);
}

static const SlirpCb slirp_callbacks = {
  .send_packet = slirp_send_packet_cb,
  .guest_error = slirp_guest_error_cb,
  .clock_get_ns = slirp_clock_get_ns_cb,
  .timer_free = slirp_timer_free_cb,
  .timer_mod = slirp_timer_mod_cb,
  .register_poll_fd = slirp_poll_fd_cb,
  .unregister_poll_fd = slirp_poll_fd_cb,
  .notify = slirp_notify_cb,
  .timer_new_opaque = slirp_timer_new_opaque_cb,
};

/* ---- from the guest ------------------------------------------------------------------ */

/* The loop is held in a local: a close() from inside libslirp clears
 * self->loop, and the loop then lives until aero_slirp_loop_leave(). */
static AeroFlowReturn
input_to_slirp (AeroSlirpStack *self, const guint8 *frame, gsize len)
{
  AeroSlirpLoop *loop = self->loop;
  Slirp *slirp = loop ? aero_slirp_loop_enter (loop) : NULL;

  if (slirp == NULL)
    return AERO_FLOW_CLOSED;
  slirp_input (slirp, frame, (int) len);
  aero_slirp_loop_notify (loop);
  aero_slirp_loop_leave (loop);
  return AERO_FLOW_OK;
}

/* ---- the burst ---------------------------------------------------------------- */

struct _AeroSlirpBurst
{
  AeroTcpMerge *merge;
  AeroSlirpStack *owner; /* whose segments are pending; NULL when none */
  AeroWatch *flush;      /* hands the burst on at the end of the dispatch */
};

/* Gives the pending burst, SELF's, to SELF's libslirp. */
static void
burst_hand_on (gpointer data)
{
  AeroSlirpStack *self = data;
  AeroSlirpBurst *b = self->burst;
  AeroTcpMergeInfo info;
  gsize len;
  guint8 *frame = aero_tcp_merge_take (b->merge, AERO_TCP_MERGE_CHECKSUM_FULL, &info, &len);

  b->owner = NULL;
  if (frame == NULL)
    return;
  if (info.segments > 1)
    aero_metric_add (self->metrics->merged_frames, (double) info.segments);
  input_to_slirp (self, frame, len);
}

/* Gives the pending burst, if any, to its owner's libslirp. */
static void
burst_flush (AeroSlirpBurst *b)
{
  if (b->owner)
    burst_hand_on (b->owner);
}

static void
burst_flush_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  burst_flush (data);
}

AeroSlirpBurst *
aero_slirp_burst_new (gboolean ipv6)
{
  AeroSlirpBurst *b = g_new0 (AeroSlirpBurst, 1);

  b->merge = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | (ipv6 ? AERO_TCP_MERGE_IPV6 : 0));
  b->flush = aero_watch_new (NULL, burst_flush_cb, b);
  return b;
}

void
aero_slirp_burst_free (AeroSlirpBurst *b)
{
  if (b == NULL)
    return;
  aero_watch_free (b->flush);
  aero_tcp_merge_free (b->merge);
  g_free (b);
}

/* Hands on SELF's pending segments, if any, before a frame of SELF that
 * does not join them, so that libslirp sees the guest's frames in order. */
static void
burst_flush_own (AeroSlirpStack *self)
{
  if (self->burst && self->burst->owner == self)
    burst_flush (self->burst);
}

/* A TCP segment (or any frame) the guard passed, for libslirp. */
static AeroFlowReturn
merge_to_slirp (AeroSlirpStack *self, const guint8 *frame, gsize len)
{
  AeroSlirpBurst *b = self->burst;

  /* Another session's burst goes first: what is pending is then SELF's. */
  if (b->owner != self)
    burst_flush (b);
  if (!aero_tcp_merge_offer (b->merge, frame, len, burst_hand_on, self))
    return input_to_slirp (self, frame, len);
  if (aero_tcp_merge_pending (b->merge))
    {
      b->owner = self;
      if (aero_watch_get_ready_time (b->flush) < 0)
        aero_watch_set_ready_time (b->flush, 0);
    }
  return AERO_FLOW_OK;
}

/* A frame for libslirp: through the burst with merge. */
static AeroFlowReturn
to_slirp (AeroSlirpStack *self, const guint8 *frame, gsize len)
{
  return self->burst ? merge_to_slirp (self, frame, len) : input_to_slirp (self, frame, len);
}

/* ---- DNS and services -------------------------------------------------------- */

static void
handle_dns_query (AeroSlirpStack *self, const AeroPacket *pkt)
{
  const guint8 *udp = pkt->frame + pkt->l4_offset;
  gsize udp_len = aero_read_be16 (udp + 4);
  gsize addr_len = pkt->ip_version == 4 ? 4 : 16;
  AeroSlirpDnsClient client = { 0 };

  if (udp_len < 8 || udp_len > pkt->l4_len)
    {
      aero_metric_inc (self->metrics->dns_dropped);
      return;
    }

  client.ip_version = pkt->ip_version;
  memcpy (client.guest_mac, pkt->frame + 6, 6);
  memcpy (client.server_mac, pkt->frame, 6);
  if (client.server_mac[0] & 1)
    {
      if (pkt->ip_version == 4)
        aero_packet_mac_for_ipv4 (pkt->dst, client.server_mac);
      else
        {
          client.server_mac[0] = 0x52;
          client.server_mac[1] = 0x56;
          memcpy (client.server_mac + 2, pkt->dst + 12, 4);
        }
    }
  memcpy (client.guest_ip, pkt->src, addr_len);
  memcpy (client.server_ip, pkt->dst, addr_len);
  client.guest_port = pkt->sport;
  aero_slirp_dns_handle_query (self->dns, &client, udp + 8, udp_len - 8);
}

static AeroFlowReturn
input_to_service (AeroSlirpStack *self, const AeroPacket *pkt, const AeroSlirpService *service)
{
  g_autofree guint8 *copy = g_memdup2 (pkt->frame, pkt->len);

  if (service->protocol == AERO_IPPROTO_UDP
      || (pkt->tcp_flags & (AERO_TCP_SYN | AERO_TCP_ACK)) == AERO_TCP_SYN)
    aero_metric_inc (aero_slirp_metrics_service (self->metrics, service));
  aero_packet_rewrite_ipv4 (copy, pkt, FALSE, service->host_addr, service->host_port);
  return to_slirp (self, copy, pkt->len);
}

static AeroFlowReturn
refuse (AeroSlirpStack *self, const AeroPacket *pkt, const char *reason)
{
  g_autoptr (GBytes) reset = NULL;

  aero_metric_inc (self->metrics->dropped[AERO_SLIRP_DROP_REFUSED]);
  AERO_LOG_DEBUG (self->component, "session", self->session_id, "reason", reason, "MESSAGE",
                  "refused an IPv%u packet of protocol %u from the guest", pkt->ip_version,
                  pkt->protocol);
  reset = aero_packet_build_tcp_reset (pkt);
  if (reset != NULL)
    emit_to_guest (self, reset);
  return AERO_FLOW_DROPPED;
}

static AeroFlowReturn
aero_slirp_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  AeroSlirpStack *self = AERO_SLIRP_STACK (sink);
  const AeroSlirpService *service;
  const char *reason;
  const guint8 *data;
  AeroPacket pkt;
  AeroSlirpGuardVerdict verdict;
  gsize len;

  if (self->closed)
    return AERO_FLOW_CLOSED;

  aero_metric_inc (self->metrics->frames_from_guest);
  data = g_bytes_get_data (frame, &len);
  if (len > self->max_frame)
    {
      aero_metric_inc (self->metrics->dropped[AERO_SLIRP_DROP_OVERSIZE]);
      return AERO_FLOW_DROPPED;
    }
  if (!aero_packet_parse (data, len, &pkt))
    {
      aero_metric_inc (self->metrics->dropped[AERO_SLIRP_DROP_MALFORMED]);
      return AERO_FLOW_DROPPED;
    }

  verdict = aero_slirp_guard_classify (self->settings, &pkt, &service, &reason);
  if (verdict != AERO_SLIRP_GUARD_PASS && verdict != AERO_SLIRP_GUARD_SERVICE)
    burst_flush_own (self);
  switch (verdict)
    {
    case AERO_SLIRP_GUARD_PASS:
      return to_slirp (self, data, len);

    case AERO_SLIRP_GUARD_DNS:
      handle_dns_query (self, &pkt);
      return AERO_FLOW_OK;

    case AERO_SLIRP_GUARD_SERVICE:
      return input_to_service (self, &pkt, service);

    case AERO_SLIRP_GUARD_ARP_SERVICE:
      {
        g_autoptr (GBytes) reply = NULL;
        guint8 mac[6];

        aero_packet_mac_for_ipv4 (data + AERO_ETH_HEADER_LEN + 24, mac);
        reply = aero_packet_build_arp_reply (data, mac);
        emit_to_guest (self, reply);
        return AERO_FLOW_OK;
      }

    case AERO_SLIRP_GUARD_REFUSE:
    default:
      return refuse (self, &pkt, reason);
    }
}

static void
aero_slirp_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = aero_slirp_stack_push;
}

static void
aero_slirp_stack_source_init (AeroFrameSourceInterface *iface)
{
}

/* ---- lifetime ---------------------------------------------------------------------------- */

static void
aero_slirp_stack_close (AeroStack *stack)
{
  AeroSlirpStack *self = AERO_SLIRP_STACK (stack);

  if (self->closed)
    return;
  self->closed = TRUE;
  if (self->burst && self->burst->owner == self)
    {
      /* The session is over: what it had pending goes nowhere. */
      AeroTcpMergeInfo info;
      gsize len;

      aero_tcp_merge_take (self->burst->merge, AERO_TCP_MERGE_CHECKSUM_FULL, &info, &len);
      self->burst->owner = NULL;
    }
  g_clear_pointer (&self->dns, aero_slirp_dns_free);
  g_clear_pointer (&self->loop, aero_slirp_loop_destroy);
  aero_metric_add (self->metrics->sessions, -1);
  AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE", "stack closed");
}

static void
aero_slirp_stack_stack_init (AeroStackInterface *iface)
{
  iface->close = aero_slirp_stack_close;
}

static void
aero_slirp_stack_finalize (GObject *object)
{
  AeroSlirpStack *self = AERO_SLIRP_STACK (object);

  aero_slirp_stack_close (AERO_STACK (self));
  aero_slirp_settings_unref (self->settings);
  g_object_unref (self->factory);
  g_free (self->component);
  g_free (self->session_id);
  G_OBJECT_CLASS (aero_slirp_stack_parent_class)->finalize (object);
}

static void
aero_slirp_stack_class_init (AeroSlirpStackClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = aero_slirp_stack_finalize;
}

static void
aero_slirp_stack_init (AeroSlirpStack *self)
{
}

static void
fill_config (const AeroSlirpSettings *s, SlirpConfig *cfg)
{
  memset (cfg, 0, sizeof *cfg);
  cfg->version = 4;
  cfg->restricted = 0;
  cfg->in_enabled = true;
  memcpy (&cfg->vnetwork, s->network, 4);
  memcpy (&cfg->vnetmask, s->netmask, 4);
  memcpy (&cfg->vhost, s->gateway, 4);
  cfg->in6_enabled = s->ipv6;
  memcpy (&cfg->vprefix_addr6, s->ipv6_prefix, 16);
  cfg->vprefix_len = (uint8_t) s->ipv6_prefix_len;
  memcpy (&cfg->vhost6, s->ipv6_gateway, 16);
  cfg->vhostname = s->hostname;
  memcpy (&cfg->vdhcp_start, s->dhcp_start, 4);
  memcpy (&cfg->vnameserver, s->dns, 4);
  memcpy (&cfg->vnameserver6, s->ipv6_dns, 16);
  cfg->vdnssearch = (const char **) s->search;
  cfg->vdomainname = s->domain;
  /* With offload the client splits what is larger than the guest's MTU
   * (tap with offload = true). libslirp 4.7 then sends TCP segments of up
   * to 32 KiB (TCP_MAXSEG_MAX) to the guest: it honours the MSS of a
   * guest's SYN only on connections from the host side, not on the NAT
   * connections it completes after its own connect() (tcp_input.c,
   * cont_conn: the options are not parsed again). So every client of such
   * a stack must take frames that large. */
  cfg->if_mtu = s->offload ? MTU_OFFLOAD : s->mtu;
  cfg->if_mru = cfg->if_mtu;
  cfg->disable_host_loopback = !s->host_loopback;
  cfg->enable_emu = false;
  cfg->disable_dns = true;
  cfg->disable_dhcp = false;
}

AeroSlirpStack *
aero_slirp_stack_new (AeroSlirpFactory *factory, const char *session_id, GError **error)
{
  g_autoptr (AeroSlirpStack) self = g_object_new (AERO_TYPE_SLIRP_STACK, NULL);
  g_autoptr (GMainContext) context = g_main_context_ref_thread_default ();
  SlirpConfig cfg;
  Slirp *slirp;

  self->factory = g_object_ref (factory);
  self->settings = aero_slirp_settings_ref (aero_slirp_factory_get_settings (factory));
  self->metrics = aero_slirp_factory_get_metrics (factory);
  self->burst = aero_slirp_factory_get_burst (factory);
  self->component = g_strdup (aero_slirp_factory_get_instance (factory));
  self->session_id = g_strdup (session_id ? session_id : "?");
  self->max_frame = self->settings->offload
                      ? AERO_FRAME_MAX_LEN
                      : MIN ((gsize) self->settings->mtu + AERO_ETH_HEADER_LEN + VLAN_TAG_LEN,
                             (gsize) AERO_FRAME_MAX_LEN);
  self->dns = aero_slirp_dns_new (self->settings, aero_slirp_factory_get_dns_cache (factory),
                                  aero_slirp_factory_get_dns_limit (factory), self->metrics,
                                  self->component, self->session_id, dns_reply_cb, self);
  self->loop = aero_slirp_loop_new (context, G_OBJECT (self));

  fill_config (self->settings, &cfg);
  slirp = slirp_new (&cfg, &slirp_callbacks, self);
  if (slirp == NULL)
    {
      self->closed = TRUE;
      g_clear_pointer (&self->dns, aero_slirp_dns_free);
      g_clear_pointer (&self->loop, aero_slirp_loop_destroy);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: libslirp refused the configuration",
                   self->component);
      return NULL;
    }
  aero_slirp_loop_start (self->loop, slirp);

  aero_metric_add (self->metrics->sessions, 1);
  aero_metric_inc (self->metrics->sessions_total);
  AERO_LOG_DEBUG (self->component, "session", self->session_id, "MESSAGE", "stack created");
  return g_steal_pointer (&self);
}
