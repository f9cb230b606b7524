/* policy-host.c — listing the host's own IPv4 and IPv6 addresses. */
#include <ifaddrs.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "policy-host.h"

GArray *
policy_host_addresses (void)
{
  GArray *out = g_array_new (FALSE, TRUE, sizeof (PolicyAddress));
  struct ifaddrs *list = NULL;

  if (getifaddrs (&list) != 0)
    return out;
  for (struct ifaddrs *i = list; i; i = i->ifa_next)
    {
      PolicyAddress a = { 0 };

      if (i->ifa_addr == NULL)
        continue;
      if (i->ifa_addr->sa_family == AF_INET)
        {
          a.family = G_SOCKET_FAMILY_IPV4;
          memcpy (a.addr, &((struct sockaddr_in *) (void *) i->ifa_addr)->sin_addr, 4);
        }
      else if (i->ifa_addr->sa_family == AF_INET6)
        {
          a.family = G_SOCKET_FAMILY_IPV6;
          memcpy (a.addr, &((struct sockaddr_in6 *) (void *) i->ifa_addr)->sin6_addr, 16);
        }
      else
        continue;
      g_array_append_val (out, a);
    }
  freeifaddrs (list);
  return out;
}
