/*
 * stratus-init: pid 1 of a Stratus sandbox.
 *
 *   stratus-init <tcp-host> <tcp-port> <unix-socket> -- <runtime> [args...]
 *
 * 1. Listens on <tcp-host>:<tcp-port> inside the sandbox's own network namespace, so that any
 *    runtime finds the Runtime API at AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 as on Lambda.
 * 2. Starts the runtime as its child, then relays each TCP connection to the worker's Runtime
 *    API on <unix-socket> (the sandbox's only route to Stratus).
 * 3. Reaps every orphan (it is init), and exits with the runtime's status when the runtime
 *    exits (128 + signal number when it was killed by a signal). The kernel then ends every
 *    other process of the sandbox.
 *
 * Options, before <tcp-host>:
 *   --user <uid> <gid>      init starts as root of the sandbox's user namespace: the runtime runs
 *                           as <uid>:<gid> with no supplementary groups, and init itself then
 *                           drops to nobody (65534) and every capability.
 *   --environ <path>        the runtime's environment: NUL-separated NAME=value entries read from
 *                           <path> (the function's variables never reach a process outside the
 *                           sandbox, nor init's own environment).
 *   --checkpoint <stdio-path>   the SnapStart layout, below.
 *
 * Extensions (not with --checkpoint): before the runtime, every executable file of /opt/extensions
 * (a name of [A-Za-z0-9._-] only, at most MAX_EXTENSIONS, in name order) is started the same way as
 * the runtime (same user, same environment). When one exits, init tells the worker
 * (POST /2020-01-01/stratus/extension-exited, Lambda-Extension-Name, X-Stratus-Exit-Status) and
 * goes on; the worker decides what that means (Extension.Crash, or a normal exit after SHUTDOWN).
 *
 * Telemetry dial-back (not with --checkpoint): the worker never connects into a sandbox. Init keeps
 * one idle connection open to <dir of unix-socket>/telemetry.sock; the worker writes "<port>\n" on
 * it, init connects to 127.0.0.1:<port> in the sandbox's own network namespace and relays the rest
 * of that connection both ways, then dials a new idle one. Nothing else is reachable through it.
 *
 * With --checkpoint (a sandbox CRIU can dump): stdio are opened inside the sandbox (/dev/null
 * and <stdio-path>, a FIFO the worker reads), inherited descriptors are closed, the runtime runs
 * in its own session. The runtime's first GET .../invocation/next or
 * .../restore/next is held: stratus-init closes every connection to the worker, asks the worker
 * to checkpoint (POST /2018-06-01/stratus/checkpoint) and waits. In a restored clone the worker
 * has created <dir of unix-socket>/restored; stratus-init then forwards the held request over a
 * new connection to the clone's worker socket and relays as usual.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <grp.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/capability.h>

#define MAX_PAIRS 64
#define BUF_SIZE 65536

/* One runtime connection (TCP, or the abstract Unix socket) and its connection to the worker. */
struct pair { int runtime_fd, unix_fd; int runtime_open, unix_open; };
static struct pair pairs[MAX_PAIRS];
static int npairs;
static const char *socket_path;
static int checkpoint_mode, checkpointed;
#define LOCAL_SOCKET "/run/rapid/runtime.sock"
static char restored_path[4096];

static int listen_tcp(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port) };
  if (fd < 0 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) return -1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 64) < 0) return -1;
  return fd;
}

/* The checkpoint layout's second listener: a Unix socket on the sandbox's own tmpfs at
 * <path>. A runtime connected through it holds no TCP connection at the checkpoint (which CRIU
 * can only dump and restore the slow way, with TCP repair and firewall locks). */
static int listen_local(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  if (fd < 0 || strlen(path) >= sizeof addr.sun_path) return -1;
  strcpy(addr.sun_path, path);
  unlink(path);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || chmod(path, 0666) < 0 || listen(fd, 64) < 0) return -1;
  return fd;
}

static int connect_path(const char *path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
  if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) return fd;
  if (fd >= 0) close(fd);
  return -1;
}

static int connect_unix(void) { return connect_path(socket_path); }

static void accept_one(int listener) {
  int runtime_fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
  if (runtime_fd < 0) return;
  int unix_fd = npairs < MAX_PAIRS ? connect_unix() : -1;
  if (unix_fd < 0) { close(runtime_fd); return; }
  pairs[npairs++] = (struct pair){ runtime_fd, unix_fd, 1, 1 };
}

static int write_all(int fd, const char *buf, size_t n) {
  for (size_t off = 0; off < n;) {
    ssize_t w = write(fd, buf + off, n - off);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    off += w;
  }
  return 0;
}

static int is_first_next(const char *buf, ssize_t n) {
  static const char *next[] = { "GET /2018-06-01/runtime/invocation/next ", "GET /2018-06-01/runtime/restore/next " };
  for (int i = 0; i < 2; i++) {
    size_t len = strlen(next[i]);
    if ((size_t)n >= len && memcmp(buf, next[i], len) == 0) return 1;
  }
  return 0;
}

/* Sends `req` (a whole HTTP request) to the worker and waits for the head of its answer; -1 if it could not be sent. */
static int worker_request(const char *req) {
  int fd = connect_unix();
  if (fd < 0 || write_all(fd, req, strlen(req)) < 0) { if (fd >= 0) close(fd); return -1; }
  char buf[1024];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
    if (n <= 0) break;
    got += n;
    buf[got] = 0;
    if (strstr(buf, "\r\n\r\n")) break;
  }
  close(fd);
  return 0;
}

/* Asks the worker for the checkpoint and waits until the connection is closed on our side. */
static void request_checkpoint(void) {
  if (worker_request("POST /2018-06-01/stratus/checkpoint HTTP/1.1\r\nHost: stratus\r\nContent-Length: 0\r\n\r\n") < 0) {
    fprintf(stderr, "stratus-init: checkpoint request failed\n");
    _exit(2);
  }
}

/* Holds the runtime's first /next on `p` across the checkpoint, then sends it to the clone's worker. */
static int hold_across_checkpoint(struct pair *p, const char *buf, ssize_t n) {
  for (int i = 0; i < npairs; i++) {
    if (pairs[i].unix_open) shutdown(pairs[i].unix_fd, SHUT_RDWR);
    close(pairs[i].unix_fd);
    pairs[i].unix_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (&pairs[i] != p) { pairs[i].unix_open = 0; shutdown(pairs[i].runtime_fd, SHUT_WR); }
  }
  request_checkpoint();
  struct timespec ms = { 0, 1000000 };
  while (access(restored_path, F_OK) != 0) nanosleep(&ms, NULL);
  checkpointed = 1;
  close(p->unix_fd);
  p->unix_fd = connect_unix();
  if (p->unix_fd < 0 || write_all(p->unix_fd, buf, n) < 0) return 0;
  return 1;
}

/* Copies what is readable on `from` to `to`; returns 0 once `from` reached end of stream. */
static int pump(int from, int to) {
  static char buf[BUF_SIZE];
  ssize_t n = read(from, buf, sizeof buf);
  if (n <= 0) return n < 0 && errno == EINTR;
  if (checkpoint_mode && !checkpointed && is_first_next(buf, n)) {
    for (int i = 0; i < npairs; i++) if (pairs[i].runtime_fd == from) return hold_across_checkpoint(&pairs[i], buf, n);
  }
  return write_all(to, buf, n) == 0;
}

static void drop_closed(void) {
  for (int i = 0; i < npairs;) {
    if (!pairs[i].runtime_open && !pairs[i].unix_open) {
      close(pairs[i].runtime_fd); close(pairs[i].unix_fd);
      pairs[i] = pairs[--npairs];
    } else i++;
  }
}

static int exit_status(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The SnapStart layout: stdio from inside the sandbox, nothing inherited, own session. */
static void enter_checkpoint_layout(const char *stdio_path) {
  int in = open("/dev/null", O_RDONLY), out = open(stdio_path, O_WRONLY);
  if (in < 0 || out < 0) { perror("stratus-init: stdio"); _exit(2); }
  dup2(in, 0); dup2(out, 1); dup2(out, 2);
  for (int fd = 3; fd < 1024; fd++) close(fd);
  setsid();
}

static void drop_privileges(uid_t uid, gid_t gid) {
  if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0) { perror("stratus-init: drop privileges"); _exit(126); }
  /* Leaving uid 0 cleared the permitted and effective sets; clear the inheritable one too. */
  struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct none[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
  if (syscall(SYS_capset, &hdr, none) < 0) { perror("stratus-init: capset"); _exit(126); }
}

#define MAX_ENV 512
/* NUL-separated NAME=value entries of <path>, as an envp (the buffer lives as long as init). */
static char **read_environ(const char *path) {
  static char *envp[MAX_ENV + 1];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > (1 << 20)) { perror("stratus-init: environ"); _exit(2); }
  char *buf = calloc(1, st.st_size + 1);
  ssize_t got = 0;
  while (buf && got < st.st_size) {
    ssize_t n = read(fd, buf + got, st.st_size - got);
    if (n <= 0) break;
    got += n;
  }
  close(fd);
  if (!buf || got != st.st_size) { fprintf(stderr, "stratus-init: cannot read %s\n", path); _exit(2); }
  int n = 0;
  for (char *p = buf; p < buf + got && n < MAX_ENV; p += strlen(p) + 1) if (*p) envp[n++] = p;
  envp[n] = NULL;
  return envp;
}

/* Extensions and the telemetry dial-back (they use the relay above). */
#include "stratus-init-extensions.h"

int main(int argc, char **argv) {
  int drop = 0;
  uid_t run_uid = 0;
  gid_t run_gid = 0;
  char **run_env = environ;
  const char *stdio_path = NULL;
  for (;;) {
    if (argc > 3 && strcmp(argv[1], "--user") == 0) {
      drop = 1;
      run_uid = (uid_t)atoi(argv[2]);
      run_gid = (gid_t)atoi(argv[3]);
      argv[3] = argv[0]; argv += 3; argc -= 3;
    } else if (argc > 2 && strcmp(argv[1], "--environ") == 0) {
      run_env = read_environ(argv[2]);
      argv[2] = argv[0]; argv += 2; argc -= 2;
    } else if (argc > 2 && strcmp(argv[1], "--checkpoint") == 0) {
      checkpoint_mode = 1;
      stdio_path = argv[2];
      argv[2] = argv[0]; argv += 2; argc -= 2;
    } else break;
  }
  if (checkpoint_mode) enter_checkpoint_layout(stdio_path);
  if (argc < 6 || strcmp(argv[4], "--") != 0) {
    fprintf(stderr, "usage: stratus-init [--user uid gid] [--environ path] [--checkpoint stdio-path] <tcp-host> <tcp-port> <unix-socket> -- <runtime> [args...]\n");
    return 2;
  }
  socket_path = argv[3];
  snprintf(restored_path, sizeof restored_path, "%s", socket_path);
  char *slash = strrchr(restored_path, '/');
  snprintf(slash ? slash + 1 : restored_path, sizeof restored_path - (slash ? (size_t)(slash + 1 - restored_path) : 0), "restored");
  snprintf(telemetry_path, sizeof telemetry_path, "%.*stelemetry.sock", slash ? (int)(slash + 1 - restored_path) : 0, restored_path);
  int listener = listen_tcp(argv[1], atoi(argv[2]));
  if (listener < 0) { perror("stratus-init: listen"); return 2; }
  int local = checkpoint_mode ? listen_local(LOCAL_SOCKET) : -1;
  if (checkpoint_mode && local < 0) { perror("stratus-init: listen (unix)"); return 2; }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sigfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);

  if (!checkpoint_mode) start_extensions(&mask, drop, run_uid, run_gid, run_env);
  pid_t runtime = fork();
  if (runtime == 0) {
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    if (drop) drop_privileges(run_uid, run_gid);
    environ = run_env;
    execvp(argv[5], &argv[5]);
    fprintf(stderr, "stratus-init: cannot run %s: %s\n", argv[5], strerror(errno));
    _exit(127);
  }
  if (runtime < 0) { perror("stratus-init: fork"); return 2; }
  /* Init needs no privilege to relay: nobody, with every capability gone (a uid change away from root clears them). */
  if (drop) drop_privileges(65534, 65534);
  int dial = checkpoint_mode ? -1 : connect_path(telemetry_path);

  for (;;) {
    struct pollfd fds[4 + 2 * MAX_PAIRS + MAX_EXTENSIONS];
    int n = 0;
    fds[n++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
    fds[n++] = (struct pollfd){ .fd = listener, .events = POLLIN };
    fds[n++] = (struct pollfd){ .fd = local, .events = POLLIN };
    fds[n++] = (struct pollfd){ .fd = dial, .events = POLLIN };
    for (int i = 0; i < npairs; i++) {
      fds[n++] = (struct pollfd){ .fd = pairs[i].runtime_open ? pairs[i].runtime_fd : -1, .events = POLLIN };
      fds[n++] = (struct pollfd){ .fd = pairs[i].unix_open ? pairs[i].unix_fd : -1, .events = POLLIN };
    }
    int polled = npairs; /* pairs accepted below were not part of this poll */
    for (int i = 0; i < nextensions; i++) fds[n++] = (struct pollfd){ .fd = extensions[i].out, .events = POLLIN };
    if (poll(fds, n, -1) < 0 && errno != EINTR) return 2;

    if (fds[0].revents & POLLIN) {
      struct signalfd_siginfo info;
      while (read(sigfd, &info, sizeof info) > 0) {}
      int status;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == runtime) return exit_status(status);
        for (int i = 0; i < nextensions; i++) if (extensions[i].pid == pid) report_extension_exit(i, status);
      }
    }
    if (fds[1].revents & POLLIN) accept_one(listener);
    if (fds[2].revents & POLLIN) accept_one(local);
    if (fds[3].revents & (POLLIN | POLLHUP | POLLERR)) dial = answer_dial(dial);
    for (int i = 0; i < polled; i++) {
      struct pair *p = &pairs[i];
      if (fds[4 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR) && p->runtime_open && !pump(p->runtime_fd, p->unix_fd)) {
        p->runtime_open = 0; shutdown(p->unix_fd, SHUT_WR);
      }
      if (fds[5 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR) && p->unix_open && !pump(p->unix_fd, p->runtime_fd)) {
        p->unix_open = 0; shutdown(p->runtime_fd, SHUT_WR);
      }
    }
    for (int i = 0; i < nextensions; i++) {
      if (fds[4 + 2 * polled + i].revents & (POLLIN | POLLHUP | POLLERR) && extensions[i].out >= 0) relay_extension_output(i);
    }
    drop_closed();
  }
}
