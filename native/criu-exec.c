/*
 * criu-exec: starts criu for Stratus's SnapStart.
 *
 *   criu-exec <kdat-dir> -- <criu> [args...]
 *
 * 1. Dies with its parent (PR_SET_PDEATHSIG SIGKILL): a clone's criu, and so the clone, never
 *    outlives the worker that restored it.
 * 2. With a non-empty <kdat-dir>: enters a mount namespace of its own (receiving the host's
 *    mount events) in which <kdat-dir> is bound at /run. criu probes the kernel's features on
 *    every start (~80 ms here) unless it finds its cache at /run/criu.kdat, which it keeps only
 *    where /run is a tmpfs (it is not on every host). Stratus makes that cache once per start.
 * 3. Replaces itself with criu.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 4 || strcmp(argv[2], "--") != 0) {
    fprintf(stderr, "usage: criu-exec <kdat-dir> -- <criu> [args...]\n");
    return 2;
  }
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() == 1) return 2;
  if (argv[1][0]) {
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
        mount(argv[1], "/run", NULL, MS_BIND, NULL) < 0) {
      perror("criu-exec: kdat mount");
      return 2;
    }
  }
  execv(argv[3], &argv[3]);
  perror("criu-exec: exec");
  return 127;
}
