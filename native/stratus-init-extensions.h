/*
 * Part of stratus-init.c (included by it, after the relay's helpers it uses): the extensions of
 * /opt/extensions and the telemetry dial-back. See stratus-init.c's header comment.
 */
static char telemetry_path[4096];
#define MAX_EXTENSIONS 10
#define EXTENSIONS_DIR "/opt/extensions"
/* Each extension's output (stdout and stderr) is read from `out` and streamed to the worker on
 * `worker` (POST /2020-01-01/stratus/extension-output, chunked), so that it can tell it apart
 * from the function's: the log gets it as the function's output, the Telemetry API as
 * `extension` records. */
static struct { pid_t pid; char name[256]; int out, worker; } extensions[MAX_EXTENSIONS];
static int nextensions;

/* A name an extension may have (it travels in a header to the worker). */
static int valid_extension_name(const char *name) {
  if (!*name || *name == '.' || strlen(name) >= sizeof extensions[0].name) return 0;
  for (const char *c = name; *c; c++) if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || *c == '-')) return 0;
  return 1;
}

static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

/* Starts each executable of /opt/extensions as the runtime will be started. */
static void start_extensions(const sigset_t *mask, int drop, uid_t uid, gid_t gid, char **env) {
  struct dirent **names;
  int n = scandir(EXTENSIONS_DIR, &names, NULL, by_name);
  for (int i = 0; i < n; i++) {
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", EXTENSIONS_DIR, names[i]->d_name);
    if (nextensions < MAX_EXTENSIONS && valid_extension_name(names[i]->d_name) && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
      int out[2] = { -1, -1 };
      if (pipe2(out, O_CLOEXEC) < 0) out[0] = out[1] = -1;
      pid_t pid = fork();
      if (pid == 0) {
        if (out[1] >= 0) { dup2(out[1], 1); dup2(out[1], 2); }
        sigprocmask(SIG_UNBLOCK, mask, NULL);
        if (drop) drop_privileges(uid, gid);
        environ = env;
        execl(path, path, (char *)NULL);
        fprintf(stderr, "stratus-init: cannot run extension %s: %s\n", path, strerror(errno));
        _exit(127);
      }
      if (out[1] >= 0) close(out[1]);
      if (pid <= 0 && out[0] >= 0) close(out[0]);
      if (pid > 0) {
        extensions[nextensions].out = out[0];
        extensions[nextensions].worker = -1;
        extensions[nextensions].pid = pid;
        snprintf(extensions[nextensions++].name, sizeof extensions[0].name, "%s", names[i]->d_name);
      }
    }
    free(names[i]);
  }
  if (n >= 0) free(names);
}

/* Streams what extension `i` wrote to the worker (or to init's own stdout if the worker cannot be reached); closes at its end. */
static void relay_extension_output(int i) {
  char buf[BUF_SIZE], head[512];
  ssize_t n = read(extensions[i].out, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return;
  if (extensions[i].worker < 0 && n > 0) {
    extensions[i].worker = connect_unix();
    snprintf(head, sizeof head, "POST /2020-01-01/stratus/extension-output HTTP/1.1\r\nHost: stratus\r\nLambda-Extension-Name: %s\r\n"
             "Transfer-Encoding: chunked\r\n\r\n", extensions[i].name);
    if (extensions[i].worker >= 0 && write_all(extensions[i].worker, head, strlen(head)) < 0) { close(extensions[i].worker); extensions[i].worker = -1; }
  }
  if (n > 0) {
    snprintf(head, sizeof head, "%zx\r\n", (size_t)n);
    if (extensions[i].worker < 0) { write_all(1, buf, n); return; }
    if (write_all(extensions[i].worker, head, strlen(head)) == 0 && write_all(extensions[i].worker, buf, n) == 0 && write_all(extensions[i].worker, "\r\n", 2) == 0) return;
    close(extensions[i].worker);
    extensions[i].worker = -1;
    return;
  }
  if (extensions[i].worker >= 0) { write_all(extensions[i].worker, "0\r\n\r\n", 5); close(extensions[i].worker); }
  close(extensions[i].out);
  extensions[i].out = extensions[i].worker = -1;
}

/* Tells the worker that extension `i` exited. */
static void report_extension_exit(int i, int status) {
  char req[1024];
  snprintf(req, sizeof req, "POST /2020-01-01/stratus/extension-exited HTTP/1.1\r\nHost: stratus\r\nLambda-Extension-Name: %s\r\n"
           "X-Stratus-Exit-Status: %d\r\nContent-Length: 0\r\n\r\n", extensions[i].name, exit_status(status));
  worker_request(req);
  extensions[i].pid = 0;
}

/* A connection to 127.0.0.1:port in this sandbox (1 s to connect), blocking; -1 if none. */
static int connect_local_port(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
  if (fd < 0 || port <= 0 || port > 65535) goto fail;
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    struct pollfd p = { .fd = fd, .events = POLLOUT };
    int err = 0;
    socklen_t len = sizeof err;
    if (errno != EINPROGRESS || poll(&p, 1, 1000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) goto fail;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
fail:
  if (fd >= 0) close(fd);
  return -1;
}

/* The worker wrote "<port>\n" on the idle dial-back connection: relay it to that port; returns the next idle one. */
static int answer_dial(int dial) {
  char line[8];
  size_t got = 0;
  while (got < sizeof line - 1) {
    ssize_t n = read(dial, line + got, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || line[got] == '\n') break;
    got++;
  }
  line[got] = 0;
  int tcp = got > 0 && npairs < MAX_PAIRS ? connect_local_port(atoi(line)) : -1;
  if (tcp < 0) { close(dial); return got > 0 ? connect_path(telemetry_path) : -1; }
  pairs[npairs++] = (struct pair){ tcp, dial, 1, 1 };
  return connect_path(telemetry_path);
}

