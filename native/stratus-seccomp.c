/*
 * stratus-seccomp: the seccomp filter of every Stratus sandbox.
 *
 *   stratus-seccomp          prints the filter as a compiled BPF program (seccomp_export_bpf)
 *                            for this machine's architecture on stdout
 *   stratus-seccomp --pfc    prints it in libseccomp's readable form instead
 *
 * The worker runs it once at start and hands the program to bwrap (`--seccomp FD`), which loads
 * it just before it executes the sandbox's pid 1: bwrap's own setup (mounts, namespaces) is not
 * filtered, everything inside the sandbox is, and a forked or restored process inherits it.
 *
 * Policy: an allow-list. Its source is Docker's default profile (moby profiles/seccomp/default.json),
 * the syscalls it allows to a container without extra capabilities, with these changes:
 *   - refused although Docker allows them: adjtimex, clock_adjtime (time is not namespaced),
 *     io_uring_* (Docker refuses them too since 2023; a large attack surface; libuv and others
 *     fall back), modify_ldt (16-bit segments: old CVEs, no runtime needs them),
 *     name_to_handle_at (the first half of open_by_handle_at).
 *   - allowed as Docker does on kernels >= 4.8: ptrace, process_vm_readv/writev. Since 4.8 the
 *     kernel checks the filter again after a tracer changed a syscall, so ptrace cannot get
 *     around it; the tracees are the sandbox's own processes of the same uid (pid namespace),
 *     and debuggers and profilers (gdb, strace, py-spy) keep working.
 *   - clone only without CLONE_NEW* flags; clone3 answers ENOSYS (its flags are behind a
 *     pointer, so it cannot be filtered; glibc then falls back to clone), as Docker does.
 *   - socket: any family but AF_VSOCK; personality: only Docker's values.
 * Everything else gets EPERM, except syscall numbers this program knows nothing of (newer than
 * its tables, up to LAST_NR): those get ENOSYS so that a C library falls back as on an older kernel.
 * Other architectures' syscalls (i386 `int 0x80`, x32 on x86_64) kill the process.
 *
 * REFUSED lists what must never be allowed; the program fails if the allow-list names one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#define AF_VSOCK_FAMILY 40

static const char *const ALLOWED[] = {
  "accept", "accept4", "access", "alarm", "bind", "brk", "capget", "capset", "chdir", "chmod",
  "chown", "chown32", "clock_getres", "clock_getres_time64", "clock_gettime", "clock_gettime64",
  "clock_nanosleep", "clock_nanosleep_time64", "close", "close_range", "connect",
  "copy_file_range", "creat", "dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl",
  "epoll_ctl_old", "epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd",
  "eventfd2", "execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
  "fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchmodat2",
  "fchown", "fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
  "flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
  "fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
  "futex_wake", "futex_wait", "futex_requeue", "futimesat", "getcpu", "getcwd", "getdents",
  "getdents64", "getegid", "getegid32", "geteuid", "geteuid32", "getgid", "getgid32", "getgroups",
  "getgroups32", "getitimer", "getpeername", "getpgid", "getpgrp", "getpid", "getppid",
  "getpriority", "getrandom", "getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit",
  "get_robust_list", "getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area",
  "gettid", "gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
  "inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
  "io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup", "io_submit",
  "ipc", "kill", "landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self",
  "lchown", "lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr",
  "_llseek", "lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "map_shadow_stack",
  "membarrier", "memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
  "mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
  "mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
  "mq_unlink", "mremap", "mseal", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
  "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect", "open", "openat", "openat2",
  "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2", "pkey_alloc", "pkey_free",
  "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2",
  "prlimit64", "process_mrelease", "process_vm_readv", "process_vm_writev", "pselect6",
  "pselect6_time64", "ptrace", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
  "readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
  "remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall", "rmdir",
  "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn",
  "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64", "rt_tgsigqueueinfo",
  "sched_getaffinity", "sched_getattr", "sched_getparam", "sched_get_priority_max",
  "sched_get_priority_min", "sched_getscheduler", "sched_rr_get_interval",
  "sched_rr_get_interval_time64", "sched_setaffinity", "sched_setattr", "sched_setparam",
  "sched_setscheduler", "sched_yield", "seccomp", "select", "semctl", "semget", "semop",
  "semtimedop", "semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg",
  "sendto", "setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
  "setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32", "setresgid",
  "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit",
  "set_robust_list", "setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid",
  "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack",
  "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice",
  "stat", "stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync",
  "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
  "timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime", "timer_settime64",
  "timerfd_create", "timerfd_gettime", "timerfd_gettime64", "timerfd_settime",
  "timerfd_settime64", "times", "tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname",
  "unlink", "unlinkat", "utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice",
  "wait4", "waitid", "waitpid", "write", "writev",
  /* newer than libseccomp 2.5.4's tables: by number below */
  "setxattrat", "getxattrat", "listxattrat", "removexattrat", "file_getattr", "file_setattr",
  /* architecture-specific (skipped where they do not exist) */
  "arch_prctl", "sync_file_range2", "arm_fadvise64_64", "arm_sync_file_range", "breakpoint",
  "cacheflush", "set_tls", "riscv_flush_icache",
};

/* Never allowed unconditionally: namespaces, mounts, keyrings, bpf, modules, reboot-class,
 * host-wide state (clone, personality and socket only with the conditions below). */
static const char *const REFUSED[] = {
  "unshare", "setns", "mount", "umount", "umount2", "pivot_root", "chroot", "fsopen", "fsconfig",
  "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr", "statmount",
  "listmount", "keyctl", "add_key", "request_key", "bpf", "init_module", "finit_module",
  "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
  "quotactl", "quotactl_fd", "lookup_dcookie", "perf_event_open", "userfaultfd",
  "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "syslog", "settimeofday", "stime",
  "clock_settime", "clock_settime64", "clock_adjtime", "clock_adjtime64", "adjtimex",
  "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "sethostname",
  "setdomainname", "vhangup", "kcmp", "pidfd_getfd", "process_madvise", "modify_ldt", "uselib",
  "nfsservctl", "vm86", "vm86old", "clone", "clone3", "personality", "socket",
};

/* Syscalls newer than libseccomp's tables (the numbers from 424 on are the same on every
 * architecture but alpha). */
static const struct { const char *name; int nr; } NEWER[] = {
  { "statmount", 457 }, { "listmount", 458 }, { "lsm_get_self_attr", 459 }, { "lsm_set_self_attr", 460 },
  { "lsm_list_modules", 461 }, { "mseal", 462 }, { "setxattrat", 463 }, { "getxattrat", 464 },
  { "listxattrat", 465 }, { "removexattrat", 466 }, { "open_tree_attr", 467 }, { "file_getattr", 468 },
  { "file_setattr", 469 },
};
/* Numbers from FIRST_UNIFIED_NR to LAST_NR that no table names get ENOSYS. */
#define FIRST_UNIFIED_NR 424
#define LAST_NR 511
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int resolve(const char *name) {
  int nr = seccomp_syscall_resolve_name(name);
  if (nr != __NR_SCMP_ERROR) return nr;
  for (size_t i = 0; i < NELEM(NEWER); i++)
    if (strcmp(NEWER[i].name, name) == 0) return NEWER[i].nr;
  return __NR_SCMP_ERROR;
}

static int is_refused(const char *name) {
  for (size_t i = 0; i < NELEM(REFUSED); i++)
    if (strcmp(REFUSED[i], name) == 0) return 1;
  return 0;
}

static int fail(const char *what, int rc) {
  fprintf(stderr, "stratus-seccomp: %s: %s\n", what, strerror(-rc));
  return 1;
}

/* Allowed with conditions on their arguments. */
static int add_conditional(scmp_filter_ctx ctx) {
  const scmp_datum_t new_namespaces = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER |
    CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP | CLONE_NEWTIME;
  /* Docker's personality values: PER_LINUX, PER_LINUX32, UNAME26, both, and the query. */
  static const scmp_datum_t personalities[] = { 0x0, 0x8, 0x20000, 0x20008, 0xffffffff };
  int rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, new_namespaces, 0));
  if (rc < 0) return fail("clone", rc);
  rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc < 0) return fail("clone3", rc);
  rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_VSOCK_FAMILY));
  if (rc < 0) return fail("socket", rc);
  for (size_t i = 0; i < NELEM(personalities); i++) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(personality), 1, SCMP_A0(SCMP_CMP_EQ, personalities[i]));
    if (rc < 0) return fail("personality", rc);
  }
  return 0;
}

/* Numbers no table knows (syscalls newer than this program): ENOSYS, as on an older kernel. */
static int add_unknown_as_enosys(scmp_filter_ctx ctx) {
  for (int nr = FIRST_UNIFIED_NR; nr <= LAST_NR; nr++) {
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    int known = name != NULL;
    free(name);
    for (size_t i = 0; i < NELEM(NEWER) && !known; i++) known = NEWER[i].nr == nr;
    if (known) continue;
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    if (rc < 0) return fail("unknown syscall numbers", rc);
  }
  return 0;
}

int main(int argc, char **argv) {
  int pfc = argc > 1 && strcmp(argv[1], "--pfc") == 0;
  if (argc > 2 || (argc == 2 && !pfc)) {
    fprintf(stderr, "usage: stratus-seccomp [--pfc]\n");
    return 2;
  }
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) return fail("seccomp_init", -ENOMEM);
  int rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2); /* binary tree: ~8 jumps per syscall */
  if (rc < 0) return fail("seccomp_attr_set", rc);
  for (size_t i = 0; i < NELEM(ALLOWED); i++) {
    if (is_refused(ALLOWED[i])) {
      fprintf(stderr, "stratus-seccomp: %s is both allowed and refused\n", ALLOWED[i]);
      return 1;
    }
    int nr = resolve(ALLOWED[i]);
    if (nr < 0) continue; /* not a syscall of this architecture (or a libseccomp pseudo-syscall) */
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc < 0) return fail(ALLOWED[i], rc);
  }
  if (add_conditional(ctx) || add_unknown_as_enosys(ctx)) return 1;
  rc = pfc ? seccomp_export_pfc(ctx, STDOUT_FILENO) : seccomp_export_bpf(ctx, STDOUT_FILENO);
  seccomp_release(ctx);
  return rc < 0 ? fail("export", rc) : 0;
}
