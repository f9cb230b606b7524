/* tap-plugin.c — the `tap` plugin: a stack whose "network" is a Linux TAP
 * device. Behind a transport-ws client channel it bridges a real kernel
 * (a VM's tap backend, or a network namespace) to a remote aero-netd.
 *
 * The device is opened once, at start, and outlives sessions, so that a
 * client that reconnects finds the same interface. One session uses it at
 * a time. Reading pauses while the session cannot take more frames (the
 * tunnel's send queue is full) instead of dropping them.
 *
 * With offload = true the device carries virtio-net headers: the guest's
 * kernel hands over TCP segments of up to 64 KiB (TSO) and the far side's
 * large segments reach it in one write, which the kernel splits (GSO).
 * Fewer, larger frames cross the tunnel while the guest keeps its MTU; see
 * tap-offload.h for what is done to the frames.
 *
 * With merge = true (the default) the device carries virtio-net headers
 * too, and consecutive TCP segments of one flow that arrive from the
 * tunnel together are written as one large segment, as a NIC's receive
 * offload would hand them to the guest's stack: the guest's TCP runs,
 * acknowledges and wakes its reader once per burst rather than once per
 * frame. A burst is written when a frame that cannot join it arrives, when
 * it cannot grow, or at the end of the main-loop dispatch that delivered
 * it, so no frame waits for a later one. */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <glib-unix.h>
#include <aero-net/aero-net.h>

#include "tap-device.h"
#include "tap-offload.h"

#define TAP_READ_BUDGET 64
/* A frame of up to 65,535 bytes, or a TSO segment (at most 64 KiB of IP
 * packet) behind its virtio-net header. */
#define TAP_BUFFER_SIZE (sizeof (struct virtio_net_hdr) + 14 + 4 + 65536)
#define TAP_SEGMENT_DEFAULT 32768

#define TAP_TYPE_STACK (tap_stack_get_type ())
G_DECLARE_FINAL_TYPE (TapStack, tap_stack, TAP, STACK, GObject)
#define TAP_TYPE_FACTORY (tap_factory_get_type ())
G_DECLARE_FINAL_TYPE (TapFactory, tap_factory, TAP, FACTORY, GObject)

struct _TapFactory
{
  GObject parent_instance;

  char *device;
  char *netns;
  gint64 mtu;
  gboolean up;
  gboolean offload;
  gboolean merge;
  gint64 segment;

  char *ifname;
  guint dev_mtu;
  int fd;
  gboolean vnet; /* every read and write starts with a virtio-net header */
  guint watch;
  guint8 *buffer;
  AeroTcpMerge *burst; /* merge = true: segments waiting to be written as one */
  AeroWatch *flush;    /* writes the burst at the end of the dispatch */
  TapStack *active; /* unowned; cleared by the stack's close */

  AeroMetric *m_rx_frames;
  AeroMetric *m_rx_bytes;
  AeroMetric *m_tx_frames;
  AeroMetric *m_tx_bytes;
  AeroMetric *m_tx_dropped;
  AeroMetric *m_rx_discarded;
  AeroMetric *m_busy;
  AeroMetric *m_rx_tso;
  AeroMetric *m_rx_pieces;
  AeroMetric *m_rx_bad_offload;
  AeroMetric *m_tx_gso;
  AeroMetric *m_tx_merged;
  AeroMetric *m_rx_errors;
};

struct _TapStack
{
  GObject parent_instance;
  TapFactory *factory; /* unowned; the factory outlives its sessions */
  AeroFrameSink *sink;  /* unowned: the session links and unlinks */
  gulong ready_handler;
  gboolean closed;
};

static void tap_factory_resume (TapFactory *self);

/* ---- the stack ---------------------------------------------------------- */

/* Writes FRAME (LEN bytes) behind HDR (when the device takes one); the
 * TCP checksum field is replaced by PARTIAL when HDR asks for GSO. */
static gboolean
tap_write (TapFactory *f, const struct virtio_net_hdr *hdr, const guint8 *partial,
           const guint8 *frame, gsize len)
{
  struct iovec iov[4];
  int n = 0;
  gsize want = len;

  if (f->vnet)
    {
      iov[n++] = (struct iovec){ (void *) hdr, sizeof *hdr };
      want += sizeof *hdr;
    }
  if (f->vnet && hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE && partial)
    {
      /* The frame as it is, but for the checksum field. */
      gsize at = hdr->csum_start + hdr->csum_offset;

      iov[n++] = (struct iovec){ (void *) frame, at };
      iov[n++] = (struct iovec){ (void *) partial, 2 };
      iov[n++] = (struct iovec){ (void *) (frame + at + 2), len - at - 2 };
    }
  else
    iov[n++] = (struct iovec){ (void *) frame, len };
  if (f->vnet && hdr->gso_type != VIRTIO_NET_HDR_GSO_NONE)
    aero_metric_inc (f->m_tx_gso);
  return writev (f->fd, iov, n) == (gssize) want;
}

/* Writes the pending burst, if any. */
static void
tap_factory_flush (TapFactory *f)
{
  struct virtio_net_hdr hdr;
  AeroTcpMergeInfo info;
  gsize len;
  guint8 *frame = f->burst ? aero_tcp_merge_take (f->burst, AERO_TCP_MERGE_CHECKSUM_PARTIAL,
                                                  &info, &len)
                           : NULL;

  if (frame == NULL)
    return;
  tap_offload_merged_to_kernel (frame, len, &info, f->dev_mtu, &hdr);
  if (f->fd < 0 || !tap_write (f, &hdr, NULL, frame, len))
    {
      aero_metric_add (f->m_tx_dropped, (double) info.segments);
      return;
    }
  if (info.segments > 1)
    aero_metric_add (f->m_tx_merged, (double) info.segments);
  aero_metric_add (f->m_tx_frames, (double) info.segments);
  aero_metric_add (f->m_tx_bytes, (double) info.frame_bytes);
}

static void
flush_burst (gpointer data)
{
  tap_factory_flush (data);
}

static void
flush_cb (AeroWatch *watch, GIOCondition revents, gpointer data)
{
  tap_factory_flush (data);
}

/* Offers FRAME to the burst; FALSE when it must be written on its own
 * (the burst before it has been written). */
static gboolean
tap_factory_merge (TapFactory *f, const guint8 *frame, gsize len)
{
  if (!aero_tcp_merge_offer (f->burst, frame, len, flush_burst, f))
    return FALSE;
  if (aero_tcp_merge_pending (f->burst) && aero_watch_get_ready_time (f->flush) < 0)
    aero_watch_set_ready_time (f->flush, 0);
  return TRUE;
}

static AeroFlowReturn
tap_stack_push (AeroFrameSink *sink, GBytes *frame)
{
  TapStack *self = TAP_STACK (sink);
  TapFactory *f = self->factory;
  gsize len;
  const guint8 *data = g_bytes_get_data (frame, &len);
  gboolean written;

  if (self->closed || f->fd < 0)
    return AERO_FLOW_CLOSED;
  if (f->merge && tap_factory_merge (f, data, len))
    return AERO_FLOW_OK;
  if (f->vnet)
    {
      struct virtio_net_hdr hdr;
      guint8 partial[2];

      if (!(f->offload && tap_offload_to_kernel (data, len, f->dev_mtu, &hdr, partial)))
        memset (&hdr, 0, sizeof hdr);
      written = tap_write (f, &hdr, partial, data, len);
    }
  else
    written = write (f->fd, data, len) == (gssize) len;
  if (!written)
    {
      aero_metric_inc (f->m_tx_dropped);
      return AERO_FLOW_DROPPED;
    }
  aero_metric_inc (f->m_tx_frames);
  aero_metric_add (f->m_tx_bytes, (double) len);
  return AERO_FLOW_OK;
}

static void
tap_stack_sink_init (AeroFrameSinkInterface *iface)
{
  iface->push = tap_stack_push;
}

static void
on_sink_ready (AeroFrameSink *sink, gpointer data)
{
  TapStack *self = data;

  if (!self->closed)
    tap_factory_resume (self->factory);
}

static void
tap_stack_set_sink (AeroFrameSource *source, AeroFrameSink *sink)
{
  TapStack *self = TAP_STACK (source);

  if (self->sink)
    g_clear_signal_handler (&self->ready_handler, self->sink);
  self->sink = sink;
  if (sink)
    self->ready_handler = g_signal_connect (sink, "ready", G_CALLBACK (on_sink_ready), self);
}

static AeroFrameSink *
tap_stack_get_sink (AeroFrameSource *source)
{
  return TAP_STACK (source)->sink;
}

static void
tap_stack_source_init (AeroFrameSourceInterface *iface)
{
  iface->set_sink = tap_stack_set_sink;
  iface->get_sink = tap_stack_get_sink;
}

static void
tap_stack_close (AeroStack *stack)
{
  TapStack *self = TAP_STACK (stack);

  if (self->closed)
    return;
  self->closed = TRUE;
  /* What the session delivered before it closed still reaches the guest. */
  tap_factory_flush (self->factory);
  tap_stack_set_sink (AERO_FRAME_SOURCE (self), NULL);
  if (self->factory->active == self)
    self->factory->active = NULL;
  tap_factory_resume (self->factory);
}

static void
tap_stack_stack_init (AeroStackInterface *iface)
{
  iface->close = tap_stack_close;
}

G_DEFINE_TYPE_WITH_CODE (TapStack, tap_stack, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SINK, tap_stack_sink_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_FRAME_SOURCE, tap_stack_source_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK, tap_stack_stack_init))

static void
tap_stack_dispose (GObject *object)
{
  tap_stack_close (AERO_STACK (object));
  G_OBJECT_CLASS (tap_stack_parent_class)->dispose (object);
}

static void
tap_stack_class_init (TapStackClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = tap_stack_dispose;
}

static void
tap_stack_init (TapStack *self)
{
}

/* ---- the factory: the device and its reader ------------------------------ */

static void
emit_piece (GBytes *frame, gpointer data)
{
  TapStack *stack = data;

  aero_frame_source_emit (AERO_FRAME_SOURCE (stack), frame);
  g_bytes_unref (frame);
}

/* A frame of LEN bytes read behind its virtio-net header (offload = true). */
static void
read_offloaded (TapFactory *self, TapStack *stack, gsize len)
{
  struct virtio_net_hdr hdr;
  guint8 *frame = self->buffer + sizeof hdr;
  guint pieces = 0;

  memcpy (&hdr, self->buffer, sizeof hdr);
  if (hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
    aero_metric_inc (self->m_rx_tso);
  switch (tap_offload_from_kernel (&hdr, frame, len, (guint) self->segment, emit_piece, stack,
                                   &pieces))
    {
    case TAP_OFFLOAD_OK:
      aero_metric_add (self->m_rx_pieces, (double) pieces);
      break;
    case TAP_OFFLOAD_MALFORMED:
    case TAP_OFFLOAD_UNSUPPORTED:
      aero_metric_inc (self->m_rx_bad_offload);
      break;
    }
}

static gboolean
tap_readable (gint fd, GIOCondition condition, gpointer data)
{
  TapFactory *self = data;
  /* With offload or merge every read starts with a virtio-net header. */
  gssize vnet_len = self->vnet ? (gssize) sizeof (struct virtio_net_hdr) : 0;

  for (int i = 0; i < TAP_READ_BUDGET; i++)
    {
      TapStack *stack = self->active;
      g_autoptr (GBytes) frame = NULL;
      gssize n;

      if (stack && stack->sink && !aero_frame_sink_is_ready (stack->sink))
        {
          /* Pause until the session has room; "ready" resumes us. */
          self->watch = 0;
          return G_SOURCE_REMOVE;
        }
      n = read (fd, self->buffer, TAP_BUFFER_SIZE);
      if (n < 0)
        {
          int saved = errno;

          if (saved == EAGAIN || saved == EINTR)
            break;
          /* The device is gone (deleted, or its namespace): the fd stays
           * in error for good, and polling it again would spin. */
          aero_metric_inc (self->m_rx_errors);
          AERO_LOG_WARNING ("tap", "device", self->ifname, "MESSAGE",
                            "TAP device %s lost (read: %s): no longer bridged", self->ifname,
                            g_strerror (saved));
          self->watch = 0;
          close (self->fd);
          self->fd = -1;
          return G_SOURCE_REMOVE;
        }
      n -= vnet_len;
      if (n < 14)
        continue;
      aero_metric_inc (self->m_rx_frames);
      aero_metric_add (self->m_rx_bytes, (double) n);
      if (stack == NULL || stack->sink == NULL)
        {
          aero_metric_inc (self->m_rx_discarded);
          continue;
        }
      if (self->offload)
        {
          read_offloaded (self, stack, (gsize) n);
          continue;
        }
      if (vnet_len > 0)
        {
          /* Without offload features the kernel completes every checksum
           * and segments every packet itself: the header is empty. */
          static const struct virtio_net_hdr empty;

          if (memcmp (self->buffer, &empty, sizeof empty) != 0)
            {
              aero_metric_inc (self->m_rx_bad_offload);
              continue;
            }
        }
      frame = g_bytes_new (self->buffer + vnet_len, (gsize) n);
      aero_frame_source_emit (AERO_FRAME_SOURCE (stack), frame);
    }
  return G_SOURCE_CONTINUE;
}

static void
tap_factory_resume (TapFactory *self)
{
  GSource *source;

  if (self->fd < 0 || self->watch != 0)
    return;
  /* Recursable, so that GLib does not remove and re-add the fd (two
   * eventfd writes) around every dispatch; tap_readable() does not iterate
   * the context. */
  source = g_unix_fd_source_new (self->fd, G_IO_IN);
  g_source_set_can_recurse (source, TRUE);
  g_source_set_callback (source, G_SOURCE_FUNC (tap_readable), self, NULL);
  self->watch = g_source_attach (source, NULL);
  g_source_unref (source);
}

static gboolean
tap_factory_configure (AeroComponent *component, AeroConfigGroup *group, GError **error)
{
  TapFactory *self = TAP_FACTORY (component);

  g_free (self->device);
  self->device = aero_config_group_get_string (group, "device", "aerotap%d", FALSE, error);
  if (self->device == NULL)
    return FALSE;
  if (*self->device == '\0' || strlen (self->device) >= 16 || strchr (self->device, '/'))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "device",
                               "expected an interface name of 1 to 15 characters, got '%s'",
                               self->device);
      return FALSE;
    }
  g_free (self->netns);
  self->netns = aero_config_group_get_string (group, "netns", NULL, FALSE, error);
  if (error && *error)
    return FALSE;
  if (self->netns && (*self->netns == '\0' || strchr (self->netns, '/') || self->netns[0] == '.'))
    {
      aero_config_group_error (group, error, AERO_CONFIG_ERROR_INVALID_VALUE, "netns",
                               "expected the name of a network namespace (ip netns), got '%s'",
                               self->netns);
      return FALSE;
    }
  return aero_config_group_get_int (group, "mtu", 0, 65521, 0, &self->mtu, error) &&
         aero_config_group_get_bool (group, "up", TRUE, &self->up, error) &&
         aero_config_group_get_bool (group, "offload", FALSE, &self->offload, error) &&
         aero_config_group_get_bool (group, "merge", TRUE, &self->merge, error) &&
         aero_config_group_get_int (group, "segment-size", TAP_OFFLOAD_SEGMENT_MIN,
                                    TAP_OFFLOAD_SEGMENT_MAX, TAP_SEGMENT_DEFAULT, &self->segment,
                                    error);
}

static gboolean
tap_factory_start (AeroComponent *component, AeroHost *host, GError **error)
{
  TapFactory *self = TAP_FACTORY (component);
  AeroMetrics *m = aero_host_get_metrics (host);

  self->vnet = self->offload || self->merge;
  self->fd = aero_tap_open (self->device, self->netns, (guint) self->mtu, self->up, self->vnet,
                            self->offload, &self->ifname, &self->dev_mtu, error);
  if (self->fd < 0)
    return FALSE;
  if (self->merge)
    {
      self->burst = aero_tcp_merge_new (AERO_TCP_MERGE_IPV4 | AERO_TCP_MERGE_IPV6);
      self->flush = aero_watch_new (NULL, flush_cb, self);
    }
  self->buffer = g_malloc (TAP_BUFFER_SIZE);
  self->m_rx_frames = aero_metrics_counter (m, "aero_tap_rx_frames_total",
                                            "Frames read from the TAP device.");
  self->m_rx_bytes = aero_metrics_counter (m, "aero_tap_rx_bytes_total",
                                           "Bytes read from the TAP device.");
  self->m_tx_frames = aero_metrics_counter (m, "aero_tap_tx_frames_total",
                                            "Frames written to the TAP device.");
  self->m_tx_bytes = aero_metrics_counter (m, "aero_tap_tx_bytes_total",
                                           "Bytes written to the TAP device.");
  self->m_tx_dropped = aero_metrics_counter (
    m, "aero_tap_tx_dropped_total", "Frames not written because the device queue was full.");
  self->m_rx_discarded = aero_metrics_counter (
    m, "aero_tap_rx_discarded_total", "Frames read while no session was attached.");
  self->m_busy = aero_metrics_counter (
    m, "aero_tap_busy_refusals_total", "Sessions refused because the device was in use.");
  self->m_rx_tso = aero_metrics_counter (
    m, "aero_tap_rx_tso_frames_total", "TCP segments larger than the MTU read (offload = true).");
  self->m_rx_pieces = aero_metrics_counter (
    m, "aero_tap_rx_pieces_total",
    "Frames passed on from what was read (offload = true: large segments are split).");
  self->m_rx_bad_offload = aero_metrics_counter (
    m, "aero_tap_rx_offload_errors_total",
    "Frames read whose virtio-net header or packet did not add up (dropped).");
  self->m_tx_gso = aero_metrics_counter (
    m, "aero_tap_tx_gso_frames_total",
    "TCP segments larger than the MTU written for the kernel to split (offload = true, or "
    "merged).");
  self->m_tx_merged = aero_metrics_counter (
    m, "aero_tap_tx_merged_frames_total",
    "Frames from the tunnel written as part of a larger segment (merge = true).");
  self->m_rx_errors = aero_metrics_counter (
    m, "aero_tap_read_errors_total",
    "Reads from the TAP device that failed (the device is gone: reading stops).");
  tap_factory_resume (self);
  AERO_LOG_INFO ("tap", "device", self->ifname, "netns", self->netns ? self->netns : "-",
                 "MESSAGE", "TAP device %s open (MTU %u%s%s)", self->ifname, self->dev_mtu,
                 self->offload ? ", offload" : "", self->merge ? ", merge" : "");
  return TRUE;
}

static void
tap_factory_stop (AeroComponent *component)
{
  TapFactory *self = TAP_FACTORY (component);

  g_clear_handle_id (&self->watch, g_source_remove);
  tap_factory_flush (self);
  g_clear_pointer (&self->flush, aero_watch_free);
  g_clear_pointer (&self->burst, aero_tcp_merge_free);
  if (self->fd >= 0)
    close (self->fd);
  self->fd = -1;
}

static AeroStack *
tap_factory_create_stack (AeroStackFactory *factory, AeroSession *session, GError **error)
{
  TapFactory *self = TAP_FACTORY (factory);
  TapStack *stack;

  if (self->fd < 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED, "TAP device is not open");
      return NULL;
    }
  if (self->active)
    {
      aero_metric_inc (self->m_busy);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_BUSY, "TAP device %s is in use by another session",
                   self->ifname);
      return NULL;
    }
  stack = g_object_new (TAP_TYPE_STACK, NULL);
  stack->factory = self;
  self->active = stack;
  return AERO_STACK (stack);
}

static void
tap_factory_component_init (AeroComponentInterface *iface)
{
  iface->configure = tap_factory_configure;
  iface->start = tap_factory_start;
  iface->stop = tap_factory_stop;
}

static void
tap_factory_stack_factory_init (AeroStackFactoryInterface *iface)
{
  iface->create_stack = tap_factory_create_stack;
}

G_DEFINE_TYPE_WITH_CODE (TapFactory, tap_factory, G_TYPE_OBJECT,
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_COMPONENT, tap_factory_component_init)
                         G_IMPLEMENT_INTERFACE (AERO_TYPE_STACK_FACTORY,
                                                tap_factory_stack_factory_init))

static void
tap_factory_finalize (GObject *object)
{
  TapFactory *self = TAP_FACTORY (object);

  tap_factory_stop (AERO_COMPONENT (self));
  g_free (self->device);
  g_free (self->netns);
  g_free (self->ifname);
  g_free (self->buffer);
  G_OBJECT_CLASS (tap_factory_parent_class)->finalize (object);
}

static void
tap_factory_class_init (TapFactoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = tap_factory_finalize;
}

static void
tap_factory_init (TapFactory *self)
{
  self->fd = -1;
}

static gboolean
tap_register (AeroPluginRegistry *registry, GError **error)
{
  aero_plugin_registry_add (registry, TAP_TYPE_FACTORY);
  return TRUE;
}

AERO_PLUGIN_DEFINE ("tap", "0.1.0", "Bridges sessions to a Linux TAP device", tap_register)
