/* tap-device.c — opening a Linux TAP device, optionally inside a named
 * network namespace (/var/run/netns/NAME, as `ip netns add` makes them).
 *
 * The namespace switch uses setns() on the calling thread only and is
 * undone before returning; the fd keeps working from any namespace. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <gio/gio.h>

#include "tap-device.h"

static gboolean
configure_link (const char *ifname, guint mtu, gboolean up, guint *out_mtu, GError **error)
{
  struct ifreq ifr;
  int sock = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

  if (sock < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "socket: %s",
                   g_strerror (errno));
      return FALSE;
    }
  memset (&ifr, 0, sizeof ifr);
  g_strlcpy (ifr.ifr_name, ifname, IFNAMSIZ);
  if (mtu > 0)
    {
      ifr.ifr_mtu = (int) mtu;
      if (ioctl (sock, SIOCSIFMTU, &ifr) < 0)
        {
          int e = errno;

          close (sock);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot set MTU %u on %s: %s",
                       mtu, ifname, g_strerror (e));
          return FALSE;
        }
    }
  if (up)
    {
      if (ioctl (sock, SIOCGIFFLAGS, &ifr) < 0 ||
          (ifr.ifr_flags |= IFF_UP, ioctl (sock, SIOCSIFFLAGS, &ifr) < 0))
        {
          int e = errno;

          close (sock);
          g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot bring %s up: %s",
                       ifname, g_strerror (e));
          return FALSE;
        }
    }
  if (ioctl (sock, SIOCGIFMTU, &ifr) < 0)
    {
      int e = errno;

      close (sock);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot read the MTU of %s: %s",
                   ifname, g_strerror (e));
      return FALSE;
    }
  *out_mtu = (guint) ifr.ifr_mtu;
  close (sock);
  return TRUE;
}

static gboolean
enable_vnet_hdr (int fd, const char *ifname, gboolean offload, GError **error)
{
  int hdr_len = sizeof (struct virtio_net_hdr);
  const char *what = "TUNSETVNETHDRSZ";

  if (ioctl (fd, TUNSETVNETHDRSZ, &hdr_len) == 0)
    {
      what = "TUNSETOFFLOAD";
      if (ioctl (fd, TUNSETOFFLOAD,
                 offload ? (unsigned long) (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) : 0ul) == 0)
        return TRUE;
    }
  g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno),
               "cannot set up the virtio-net header on %s (%s): %s", ifname, what,
               g_strerror (errno));
  return FALSE;
}

static int
open_here (const char *name, guint mtu, gboolean up, gboolean vnet_hdr, gboolean offload,
           char **out_name, guint *out_mtu, GError **error)
{
  struct ifreq ifr;
  int fd = open ("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

  if (fd < 0)
    {
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (errno), "cannot open /dev/net/tun: %s",
                   g_strerror (errno));
      return -1;
    }
  memset (&ifr, 0, sizeof ifr);
  vnet_hdr = vnet_hdr || offload;
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_hdr ? IFF_VNET_HDR : 0);
  g_strlcpy (ifr.ifr_name, name, IFNAMSIZ);
  if (ioctl (fd, TUNSETIFF, &ifr) < 0)
    {
      int e = errno;

      close (fd);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "cannot create TAP device %s: %s",
                   name, g_strerror (e));
      return -1;
    }
  if ((vnet_hdr && !enable_vnet_hdr (fd, ifr.ifr_name, offload, error)) ||
      !configure_link (ifr.ifr_name, mtu, up, out_mtu, error))
    {
      close (fd);
      return -1;
    }
  *out_name = g_strdup (ifr.ifr_name);
  return fd;
}

int
aero_tap_open (const char *name, const char *netns, guint mtu, gboolean up, gboolean vnet_hdr,
               gboolean offload, char **out_name, guint *out_mtu, GError **error)
{
  g_autofree char *ns_path = NULL;
  int here, there, fd;

  if (netns == NULL || *netns == '\0')
    return open_here (name, mtu, up, vnet_hdr, offload, out_name, out_mtu, error);

  ns_path = g_build_filename ("/var/run/netns", netns, NULL);
  here = open ("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  there = open (ns_path, O_RDONLY | O_CLOEXEC);
  if (here < 0 || there < 0)
    {
      int e = errno;

      if (here >= 0)
        close (here);
      if (there >= 0)
        close (there);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "cannot open network namespace %s: %s", ns_path, g_strerror (e));
      return -1;
    }
  if (setns (there, CLONE_NEWNET) < 0)
    {
      int e = errno;

      close (here);
      close (there);
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e),
                   "cannot enter network namespace %s: %s", netns, g_strerror (e));
      return -1;
    }
  fd = open_here (name, mtu, up, vnet_hdr, offload, out_name, out_mtu, error);
  if (setns (here, CLONE_NEWNET) < 0)
    g_error ("cannot return to the original network namespace: %s", g_strerror (errno));
  close (here);
  close (there);
  return fd;
}
