/*
 * criu-getsockopt-shim: preloaded into criu 4.1 on Linux >= 6.16 (through the loader's
 * --preload), where getsockopt(SO_PASSCRED / SO_PASSSEC) on an inet socket fails and makes
 * criu abort the dump. Answers 0 (the option is off) for inet sockets, as older kernels did.
 * Fixed upstream in criu 4.2.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include <sys/socket.h>

typedef int (*getsockopt_fn)(int, int, int, void *, socklen_t *);

int getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  static getsockopt_fn real;
  if (!real) real = (getsockopt_fn)dlsym(RTLD_NEXT, "getsockopt");
  if (level == SOL_SOCKET && (name == SO_PASSCRED || name == SO_PASSSEC) && value && len && *len >= sizeof(int)) {
    int domain = 0;
    socklen_t dlen = sizeof domain;
    if (real(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) == 0 && (domain == AF_INET || domain == AF_INET6)) {
      memset(value, 0, sizeof(int));
      *len = sizeof(int);
      return 0;
    }
  }
  return real(fd, level, name, value, len);
}
