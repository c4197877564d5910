/* Unit tests for the seccomp sandbox: each case runs in a forked child
 * that installs the filter and then does one thing; the parent checks the
 * child's fate. A forbidden call must kill the child with SIGSYS; what the
 * server needs must keep working. */
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "server/sandbox.h"
#include "unit.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

#define CHILD_OK 0
#define CHILD_SANDBOX_FAILED 3
#define CHILD_CALL_FAILED 4

static void *thread_main(void *arg)
{
    return arg;
}

/* What a worker does: threads, big allocations, epoll, eventfd, time. */
static int allowed_ops(void)
{
    static int token;
    pthread_t t;
    void *ret = NULL;
    char *big = malloc(8 << 20);
    struct timespec ts;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int ev = eventfd(0, EFD_NONBLOCK);
    uint64_t one = 1;

    if (big == NULL || ep < 0 || ev < 0)
        return -1;
    big[0] = big[(8 << 20) - 1] = 1;
    free(big);
    if (write(ev, &one, sizeof(one)) != sizeof(one))
        return -1;
    if (pthread_create(&t, NULL, thread_main, &token) != 0 ||
        pthread_join(t, &ret) != 0 || ret != &token)
        return -1;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        return -1;
    close(ev);
    close(ep);
    return 0;
}

static int forbidden_execve(void)
{
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)"exit 0", NULL };
    char *envp[] = { NULL };
    execve("/bin/sh", argv, envp);
    return -1;
}

static int forbidden_open_write(void)
{
    return open("/tmp/hardcached-sandbox-test", O_WRONLY | O_CREAT, 0600) >= 0 ? 0 : -1;
}

static int forbidden_open_read(void)
{
    return open("/etc/passwd", O_RDONLY) >= 0 ? 0 : -1;
}

static int forbidden_socket(void)
{
    return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : -1;
}

static int forbidden_exec_memory(void)
{
    char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -1;
    return mprotect(p, 4096, PROT_READ | PROT_EXEC);
}

static int forbidden_fork(void)
{
    pid_t p = fork();
    if (p == 0)
        _exit(0);
    return p > 0 ? 0 : -1;
}

/* The flash tier's I/O on a file opened before the filter; other_fd is
 * another descriptor the process holds (/dev/null), not named to it. */
static int flash_fd = -1, other_fd = -1;

static int flash_io(void)
{
    char b[8] = "flashio";
    struct iovec iov = { b, sizeof(b) };

    if (pwrite(flash_fd, b, sizeof(b), 0) != sizeof(b) ||
        pwritev(flash_fd, &iov, 1, 8) != sizeof(b) ||
        pread(flash_fd, b, sizeof(b), 0) != sizeof(b))
        return -1;
    return 0;
}

/* Each first does the flash I/O (allowed), then one call on other_fd. */
static int forbidden_pread_other(void)
{
    char b[8];

    return flash_io() < 0 ? -1 : pread(other_fd, b, sizeof(b), 0) >= 0 ? 0 : -1;
}

static int forbidden_pwrite_other(void)
{
    char b[8] = "other";

    return flash_io() < 0 ? -1 : pwrite(other_fd, b, sizeof(b), 0) >= 0 ? 0 : -1;
}

static int forbidden_pwritev_other(void)
{
    char b[8] = "other";
    struct iovec iov = { b, sizeof(b) };

    return flash_io() < 0 ? -1 : pwritev(other_fd, &iov, 1, 0) >= 0 ? 0 : -1;
}

/* The flash tier's io_uring: a ring made before the filter, used after. */
static struct io_uring ring;

static int uring_read(void)
{
    char b[8];
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    struct io_uring_cqe *cqe;
    int ev = eventfd(0, EFD_NONBLOCK), res;

    if (sqe == NULL || ev < 0 || io_uring_register_eventfd(&ring, ev) < 0)
        return -1;
    io_uring_prep_read(sqe, flash_fd, b, sizeof(b), 0);
    if (io_uring_submit_and_wait(&ring, 1) != 1 || io_uring_peek_cqe(&ring, &cqe) != 0)
        return -1;
    res = cqe->res;
    io_uring_cqe_seen(&ring, cqe);
    return res == (int)sizeof(b) ? 0 : -1;
}

/* A new ring would not be restricted to reads: never, even with a tier. */
static int forbidden_uring_setup(void)
{
    struct io_uring r;

    return io_uring_queue_init(4, &r, 0) == 0 ? 0 : -1;
}

/* Run fn in a child sandboxed with `extra` and nfiles files (pread and
 * pwrite allowed on them); return its wait status. */
static int run_sandboxed_files(unsigned extra, const int *files, unsigned nfiles,
                               int (*fn)(void))
{
    pid_t pid = fork();
    int status = 0;

    if (pid == 0) {
        struct rlimit no_core = { 0, 0 };
        setrlimit(RLIMIT_CORE, &no_core);
        if (sandbox_apply(extra, files, nfiles) < 0)
            _exit(CHILD_SANDBOX_FAILED);
        _exit(fn() == 0 ? CHILD_OK : CHILD_CALL_FAILED);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return status;
}

static int run_sandboxed_with(unsigned extra, int (*fn)(void))
{
    return run_sandboxed_files(extra, NULL, 0, fn);
}

static int run_sandboxed(int (*fn)(void))
{
    return run_sandboxed_with(0, fn);
}

#define CHECK_KILLED(fn) do { \
    int st_ = run_sandboxed(fn); \
    CHECK(WIFSIGNALED(st_) && WTERMSIG(st_) == SIGSYS); \
} while (0)

/* With the flash file named to the filter: its I/O works, the same calls
 * on any other descriptor kill (release build; the sanitizer build's
 * deny-list lets them through). */
static void check_file_io(void)
{
    int files[] = { other_fd, flash_fd }, bad = -1;
    int st = run_sandboxed_files(0, &flash_fd, 1, flash_io);

    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK);
    st = run_sandboxed_files(0, &bad, 1, flash_io);   /* refused, not installed */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_SANDBOX_FAILED);
    st = run_sandboxed_files(0, files, 2, forbidden_pread_other);   /* both named */
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK);
    if (SANITIZER_BUILD)
        return;
    CHECK_KILLED(flash_io);   /* no file named: none */
    st = run_sandboxed_files(0, &flash_fd, 1, forbidden_pread_other);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
    st = run_sandboxed_files(0, &flash_fd, 1, forbidden_pwrite_other);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
    st = run_sandboxed_files(0, &flash_fd, 1, forbidden_pwritev_other);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
}

int main(void)
{
    int st = run_sandboxed(allowed_ops);
    CHECK(WIFEXITED(st));
    CHECK_EQ_INT(WEXITSTATUS(st), CHILD_OK);

    CHECK_KILLED(forbidden_execve);
    if (SANITIZER_BUILD) {
        CHECK_KILLED(forbidden_open_write);
    } else {
        st = run_sandboxed(forbidden_open_write);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_CALL_FAILED);
    }
    CHECK_KILLED(forbidden_socket);
    /* sanitizer builds let their runtime read files and clone a tracer */
    if (!SANITIZER_BUILD) {
        CHECK_KILLED(forbidden_fork);
        CHECK_KILLED(forbidden_exec_memory);
        /* opening fails (glibc opens files internally; must not kill) */
        st = run_sandboxed(forbidden_open_read);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_CALL_FAILED);
    }
    /* -Y: the password file can be re-read, nothing can be written */
    st = run_sandboxed_with(SANDBOX_READ_FILES, forbidden_open_read);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK);
    if (!SANITIZER_BUILD) {
        st = run_sandboxed_with(SANDBOX_READ_FILES, forbidden_open_write);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_CALL_FAILED);
    }
    /* ext_path: pread/pwrite/pwritev on the files named only */
    char path[64];
    snprintf(path, sizeof(path), "/tmp/hc-sandbox-flash-%d", (int)getpid());
    flash_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    other_fd = open("/dev/null", O_RDWR);
    CHECK(flash_fd >= 0 && other_fd >= 0);
    check_file_io();
    /* io_uring_enter and an eventfd's registration only with SANDBOX_URING,
     * io_uring_setup never */
    CHECK_EQ_INT(io_uring_queue_init(4, &ring, 0), 0);
    st = run_sandboxed_files(SANDBOX_URING, &flash_fd, 1, uring_read);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == CHILD_OK);
    st = run_sandboxed_files(SANDBOX_URING, &flash_fd, 1, forbidden_uring_setup);
    CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
    if (!SANITIZER_BUILD) {
        st = run_sandboxed_files(0, &flash_fd, 1, uring_read);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS);
    }
    io_uring_queue_exit(&ring);
    close(other_fd);
    close(flash_fd);
    unlink(path);
    CHECK_KILLED(forbidden_execve);
    return unit_report("sandbox");
}
