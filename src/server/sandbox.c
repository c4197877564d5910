/*
 * sandbox: the allow-list below is what the server does after start-up, found
 * by running the whole test suite under it: event loop, socket I/O on
 * descriptors it already has or accepts, memory for the store and
 * buffers, threads, time, signals, exit. pread64/pwrite64/pwritev only on
 * the descriptors the caller names (the flash tier's files), one rule per
 * descriptor. open/openat fail with EACCES;
 * everything else (execve, socket, connect, fork, ptrace, unlink, ...) is
 * SCMP_ACT_KILL_PROCESS, and so is mapping memory executable. To find a
 * missing call, run with -o no_sandbox under strace -f.
 */
#include "server/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

/* System calls allowed without conditions. */
#define SANDBOX_ALLOW(X)                                                      \
    /* descriptors it already has, accepted sockets, UDP */                   \
    X(read) X(write) X(readv) X(writev) X(close)                              \
    X(recvfrom) X(recvmsg) X(recvmmsg) X(sendto) X(sendmsg) X(sendmmsg)       \
    X(accept4) X(accept) X(shutdown) X(setsockopt) X(getsockopt)              \
    X(getsockname) X(getpeername) X(fstat) X(newfstatat) X(fcntl) X(lseek)    \
    /* event loop (workers create theirs when they start) */                  \
    X(epoll_create1) X(epoll_ctl) X(epoll_wait) X(epoll_pwait) X(epoll_pwait2) \
    X(eventfd2) X(poll) X(ppoll)                                              \
    /* memory: the allocator, store segments, thread stacks (mmap and      \
     * mprotect below, never executable) */                                   \
    X(munmap) X(mremap) X(madvise) X(brk)                                     \
    /* threads and locks */                                                   \
    X(futex) X(set_robust_list) X(rseq) X(sched_yield) X(sched_getaffinity)   \
    X(gettid) X(getpid)                                                       \
    /* time */                                                                \
    X(clock_gettime) X(clock_getres) X(gettimeofday) X(time)                  \
    X(clock_nanosleep) X(nanosleep)                                           \
    /* signals: the main thread waits for them */                             \
    X(rt_sigtimedwait) X(rt_sigprocmask) X(rt_sigaction) X(rt_sigreturn)      \
    X(sigaltstack) X(restart_syscall)                                         \
    /* stats, randomness for libsodium, exit */                               \
    X(getrusage) X(getrandom) X(exit) X(exit_group)

/* Sanitizer builds (test builds, never shipped) cannot use the allow-list:
 * LeakSanitizer's check at exit stops the world from a tracer process
 * (clone without CLONE_THREAD, ptrace, /proc/self/task) that dies silently
 * on a forbidden call and leaves the process spinning. They get a deny-list
 * instead, so the integration suite still runs sandboxed in both builds and
 * what matters most is killed in both: running programs, new sockets,
 * writing or changing files. */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_SANITIZER 1
#endif
#endif
#ifndef SANDBOX_SANITIZER
#define SANDBOX_SANITIZER 0
#endif
#define SANDBOX_DENY_SANITIZER(X)                                             \
    X(execve) X(execveat) X(fork) X(vfork) X(socket) X(socketpair)           \
    X(connect) X(bind) X(listen) X(creat) X(unlinkat) X(rename) X(renameat)   \
    X(renameat2) X(link) X(linkat) X(symlink) X(symlinkat) X(mkdir)          \
    X(mkdirat) X(rmdir) X(chmod) X(fchmod) X(fchmodat) X(chown) X(fchown)     \
    X(lchown) X(fchownat) X(truncate) X(ftruncate) X(mount) X(umount2)       \
    X(setuid) X(setgid) X(setreuid) X(setregid) X(setresuid) X(setresgid)    \
    X(setgroups) X(chroot) X(pivot_root) X(init_module) X(finit_module)      \
    X(kexec_load) X(bpf) X(process_vm_writev) X(memfd_create)              \
    X(io_uring_setup)

static int deny(scmp_filter_ctx ctx, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);

    if (nr == __NR_SCMP_ERROR)
        return 0;
    return seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
}

/* open/openat for writing or creating: killed (reading is the sanitizer's). */
static int deny_open_write(scmp_filter_ctx ctx)
{
    static const scmp_datum_t bits[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC };
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(bits) / sizeof(*bits); i++) {
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(openat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
    }
    return rc;
}

static int sanitizer_rules(scmp_filter_ctx ctx, unsigned extra)
{
    int rc = 0;

#define X(name) rc = rc < 0 ? rc : deny(ctx, #name);
    SANDBOX_DENY_SANITIZER(X)
#undef X
    if (rc == 0 && !(extra & SANDBOX_UNLINK))
        rc = deny(ctx, "unlink");
    if (rc == 0)
        rc = deny_open_write(ctx);
    return rc;
}

static int allow(scmp_filter_ctx ctx, const char *name)
{
    int nr = seccomp_syscall_resolve_name(name);

    if (nr == __NR_SCMP_ERROR)
        return 0;   /* not a system call on this architecture */
    return seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
}

/* pread64, pwrite64, pwritev: on these descriptors only (one rule each,
 * the descriptor compared), so a bug cannot read or write at an offset
 * whatever else the process holds open. */
static int allow_file_io(scmp_filter_ctx ctx, const int *files, unsigned nfiles)
{
    static const int calls[] = { SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(pwritev) };
    int rc = 0;

    for (unsigned i = 0; rc == 0 && i < nfiles; i++) {
        for (size_t c = 0; rc == 0 && c < sizeof(calls) / sizeof(*calls); c++)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[c], 1,
                                  SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)files[i]));
    }
    return rc;
}

static int open_refused(scmp_filter_ctx ctx)
{
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 0);

    return rc < 0 ? rc : seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0);
}

/* open/openat: allowed with none of these flags, EACCES with any. */
static int open_read_only(scmp_filter_ctx ctx)
{
    static const scmp_datum_t bits[] = { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND };
    scmp_datum_t all = 0;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < sizeof(bits) / sizeof(*bits); i++) {
        all |= bits[i];
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
        if (rc == 0)
            rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
                                  SCMP_A2(SCMP_CMP_MASKED_EQ, bits[i], bits[i]));
    }
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                              SCMP_A1(SCMP_CMP_MASKED_EQ, all, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, all, 0));
    return rc;
}

static int release_rules(scmp_filter_ctx ctx, unsigned extra,
                         const int *files, unsigned nfiles)
{
    scmp_datum_t self = (scmp_datum_t)getpid();
    int rc = 0;

#define X(name) rc = rc < 0 ? rc : allow(ctx, #name);
    SANDBOX_ALLOW(X)
#undef X
    if (rc == 0 && (extra & SANDBOX_UNLINK))
        rc = allow(ctx, "unlink");
    if (rc == 0)
        rc = allow_file_io(ctx, files, nfiles);
    /* io_uring: the rings exist already and are restricted to reads; a
     * new ring (io_uring_setup) would not be, so it stays killed */
    if (rc == 0 && (extra & SANDBOX_URING))
        rc = allow(ctx, "io_uring_enter");
    if (rc == 0 && (extra & SANDBOX_URING))
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(io_uring_register), 1,
                              SCMP_A1(SCMP_CMP_EQ, IORING_REGISTER_EVENTFD));
    /* Memory may be mapped or re-protected, but never made executable: an
     * exploit cannot turn the data it sent into code. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mmap), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(mprotect), 1,
                              SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    /* New threads only: clone with CLONE_THREAD (fork has not got it).
     * clone3 passes its flags in memory the filter cannot read, so it
     * fails with ENOSYS and glibc falls back to clone. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* Opening files fails instead of killing: glibc opens a file or two
     * on its own (malloc reads /sys/devices/system/cpu/online when threads
     * first contend), and a cache must not die for that. Nothing can be
     * opened either way. */
    if (rc == 0)
        rc = (extra & SANDBOX_READ_FILES) ? open_read_only(ctx)
                                          : open_refused(ctx);
    /* Signals to itself only: the `shutdown` command, abort(). */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
                              SCMP_A0(SCMP_CMP_EQ, self));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
                              SCMP_A0(SCMP_CMP_EQ, self));
    return rc;
}

int sandbox_apply(unsigned extra, const int *files, unsigned nfiles)
{
    scmp_filter_ctx ctx;
    int rc;

    for (unsigned i = 0; i < nfiles; i++)
        if (files[i] < 0) {
            errno = EBADF;
            return -1;
        }
    ctx = seccomp_init(SANDBOX_SANITIZER ? SCMP_ACT_ALLOW : SCMP_ACT_KILL_PROCESS);
    if (ctx == NULL) {
        errno = ENOMEM;
        return -1;
    }
    rc = SANDBOX_SANITIZER ? sanitizer_rules(ctx, extra)
                           : release_rules(ctx, extra, files, nfiles);
    /* no_new_privs is set by seccomp_load (SCMP_FLTATR_CTL_NNP default). */
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc < 0) {
        errno = -rc;
        return -1;
    }
    return 0;
}
