/* listen-backlog.c — LD_PRELOAD shim for bench/run's set-up "what-if":
 * raises every listen() backlog to at least 4096 (the kernel still caps it
 * at net.core.somaxconn). It shows what aero-netd's set-up times would be
 * if the core's HTTP listener asked for a real backlog instead of GLib's
 * default of 10. Benchmark use only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/socket.h>

int
listen (int fd, int backlog)
{
  static int (*real_listen) (int, int);

  if (real_listen == NULL)
    real_listen = (int (*) (int, int)) dlsym (RTLD_NEXT, "listen");
  return real_listen (fd, backlog < 4096 ? 4096 : backlog);
}
