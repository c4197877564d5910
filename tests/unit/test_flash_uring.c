/* Unit tests for the io_uring backend (storage/flash_uring.c): reads
 * submitted from a thread complete on that thread, when it reaps after
 * its eventfd fired, with the verified value; a read of another key's
 * record completes as FLASH_BAD and one of a reused page at once as
 * FLASH_STALE; past ext_io_depth reads wait and go in as others finish;
 * past that a submit is refused; a second thread finds no ring left;
 * teardown finishes every read. Skips where io_uring cannot be had. */
#include "storage/flash_uring.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "unit.h"

#define N     6u
#define VLEN  300u

static char path[64], err[256];
static struct flash_io_req req[N + 1];
static unsigned char scratch[N + 1][512], out[N + 1][VLEN];
static unsigned completed, wrong_thread;
static pthread_t main_thread;

static void fill(unsigned char *v, unsigned seed)
{
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (unsigned char)(seed * 7 + i);
}

static void done(struct flash_io_req *r)
{
    (void)r;
    if (!pthread_equal(pthread_self(), main_thread))
        wrong_thread++;
    completed++;
}

/* Wait for the eventfd (a hang guard, not a timing), then reap. */
static bool reap_once(struct flash_uring *u, int ev)
{
    struct pollfd p = { .fd = ev, .events = POLLIN };
    uint64_t v;

    if (poll(&p, 1, 30000) != 1 || read(ev, &v, sizeof(v)) != sizeof(v))
        return false;
    flash_uring_reap(u);
    return true;
}

static void *other_thread(void *arg)
{
    struct flash_io_req r = req[0];

    r.done = done;
    return flash_uring_submit(arg, &r) ? arg : NULL;
}

static void test_reads_on_the_submitting_thread(struct flash_dev *d, int ev)
{
    struct flash_uring *u = flash_uring_setup(1, 2, N - 2, 1, err, sizeof(err));
    unsigned char v[VLEN];
    pthread_t t;
    void *got = &t;

    CHECK(u != NULL);
    for (unsigned i = 0; i <= N; i++) {
        fill(v, i);
        req[i] = (struct flash_io_req){ .dev = d, .key_hash = i, .scratch = scratch[i],
                                        .out = out[i], .done = done, .result = -1,
                                        .notify_fd = ev };
        CHECK_EQ_INT(flash_dev_append(d, i, v, VLEN, &req[i].loc), FLASH_OK);
    }
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    req[3].key_hash = 4;        /* not the key written there: never served */
    req[5].loc.version++;       /* its page was reused since: no read at all */
    for (unsigned i = 0; i < N; i++)
        CHECK(flash_uring_submit(u, &req[i]));
    CHECK(!flash_uring_submit(u, &req[N]));   /* 2 in the kernel, 4 waiting: full */
    CHECK_EQ_INT(flash_uring_queued(u), 4);
    /* another thread: the only ring is taken */
    CHECK(pthread_create(&t, NULL, other_thread, u) == 0 && pthread_join(t, &got) == 0);
    CHECK(got == NULL);
    for (unsigned rounds = 0; completed < N && rounds < 2 * N; rounds++)
        CHECK(reap_once(u, ev));
    CHECK_EQ_INT(completed, N);
    CHECK_EQ_INT(wrong_thread, 0);
    CHECK_EQ_INT(flash_uring_queued(u), 0);
    for (unsigned i = 0; i < N; i++) {
        fill(v, i);
        if (i == 3 || i == 5) {
            CHECK_EQ_INT(req[i].result, i == 3 ? FLASH_BAD : FLASH_STALE);
            continue;
        }
        CHECK_EQ_INT(req[i].result, FLASH_OK);
        CHECK(memcmp(out[i], v, VLEN) == 0);
    }
    flash_uring_teardown(&u);
    CHECK(u == NULL);
}

/* reads still in the kernel or waiting, reused from the test above */
static void test_teardown_finishes_every_read(void)
{
    struct flash_uring *u = flash_uring_setup(1, 1, N, 1, err, sizeof(err));

    CHECK(u != NULL);
    completed = 0;
    for (unsigned i = 0; i < N; i++) {
        req[i].result = -1;
        req[i].loc.version = req[0].loc.version;
        CHECK(flash_uring_submit(u, &req[i]));
    }
    flash_uring_teardown(&u);
    CHECK_EQ_INT(completed, N);
    for (unsigned i = 0; i < N; i++)
        CHECK((int)req[i].result != -1);
}

int main(void)
{
    struct flash_uring *probe;
    struct flash_dev *d;
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    main_thread = pthread_self();
    probe = flash_uring_setup(1, 1, 1, 1, err, sizeof(err));
    if (probe == NULL) {
        printf("flash_uring: skipped (%s)\n", err);
        return 0;
    }
    flash_uring_teardown(&probe);
    CHECK(flash_uring_setup(0, 1, 1, 1, err, sizeof(err)) == NULL);
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-uring-%d", (int)getpid());
    unlink(path);
    d = flash_dev_open(path, 1 << 20, 64 << 10, err, sizeof(err));
    CHECK(d != NULL && ev >= 0);
    CHECK(flash_dev_tune(d, 64 << 10, false) == 0);
    test_reads_on_the_submitting_thread(d, ev);
    test_teardown_finishes_every_read();
    flash_dev_close(&d);
    close(ev);
    unlink(path);
    return unit_report("flash_uring");
}
