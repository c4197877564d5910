/* Unit tests for the flash I/O backends. The I/O threads
 * (storage/flash_io.c): every submitted read completes once, from another
 * thread, with the verified value; a read of a torn record completes as
 * FLASH_BAD; the queue is bounded (a submit past threads * depth is
 * refused, not buffered). io_uring (storage/flash_uring.c): below. */
#include "storage/flash_io.h"
#include "storage/flash_uring.h"

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"

#define N     256
#define VLEN  300u

static char path[64], err[256];
static struct flash_io_req req[N];
static unsigned char scratch[N][512], out[N][VLEN];
static atomic_uint completed, wrong_thread;
static sem_t all_done;
static pthread_t main_thread;

static void fill(unsigned char *v, unsigned seed)
{
    for (unsigned i = 0; i < VLEN; i++)
        v[i] = (unsigned char)(seed * 7 + i);
}

static void done(struct flash_io_req *r)
{
    (void)r;
    if (pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&wrong_thread, 1);
    if (atomic_fetch_add(&completed, 1) + 1 == N)
        sem_post(&all_done);
}

static bool wait_sem(sem_t *s)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += 30;    /* a hang guard, not a timing */
    return sem_timedwait(s, &t) == 0;
}

static void test_reads_complete(void)
{
    struct flash_dev *d;
    struct flash_io_pool *p;
    unsigned char v[VLEN];

    unlink(path);
    d = flash_dev_open(path, 1 << 20, 64 << 10, err, sizeof(err));
    p = flash_io_start(3, N, err, sizeof(err));
    CHECK(d != NULL && p != NULL);
    for (unsigned i = 0; i < N; i++) {
        fill(v, i);
        req[i] = (struct flash_io_req){ .dev = d, .key_hash = i, .scratch = scratch[i],
                                        .out = out[i], .done = done, .result = -1 };
        CHECK_EQ_INT(flash_dev_append(d, i, v, VLEN, &req[i].loc), FLASH_OK);
    }
    req[7].key_hash = 8;   /* not the key written there: never served */
    for (unsigned i = 0; i < N; i++)
        CHECK(flash_io_submit(p, &req[i]));
    CHECK(wait_sem(&all_done));
    flash_io_stop(&p);
    CHECK(p == NULL);
    CHECK_EQ_INT(atomic_load(&completed), N);
    CHECK_EQ_INT(atomic_load(&wrong_thread), 0);
    for (unsigned i = 0; i < N; i++) {
        fill(v, i);
        if (i == 7) {
            CHECK_EQ_INT(req[i].result, FLASH_BAD);
            continue;
        }
        CHECK_EQ_INT(req[i].result, FLASH_OK);
        CHECK(memcmp(out[i], v, VLEN) == 0);
    }
    flash_dev_close(&d);
}

static sem_t started, release;

static void done_blocking(struct flash_io_req *r)
{
    (void)r;
    sem_post(&started);
    sem_wait(&release);
}

static void test_bounded(void)
{
    struct flash_dev *d;
    struct flash_io_pool *p;
    unsigned char v[VLEN];
    struct flash_io_req r[3];

    unlink(path);
    d = flash_dev_open(path, 1 << 20, 64 << 10, err, sizeof(err));
    p = flash_io_start(1, 1, err, sizeof(err));
    CHECK(d != NULL && p != NULL);
    fill(v, 1);
    for (unsigned i = 0; i < 3; i++) {
        r[i] = (struct flash_io_req){ .dev = d, .key_hash = 1, .scratch = scratch[i],
                                      .out = out[i], .done = done_blocking };
        CHECK_EQ_INT(flash_dev_append(d, 1, v, VLEN, &r[i].loc), FLASH_OK);
    }
    CHECK(flash_io_submit(p, &r[0]));
    CHECK(wait_sem(&started));          /* the thread holds r[0] */
    CHECK(flash_io_submit(p, &r[1]));   /* one queued */
    CHECK(!flash_io_submit(p, &r[2]));  /* full: refused */
    sem_post(&release);
    CHECK(wait_sem(&started));
    sem_post(&release);
    flash_io_stop(&p);
    CHECK_EQ_INT(r[0].result, FLASH_OK);
    CHECK_EQ_INT(r[1].result, FLASH_OK);
    CHECK(flash_io_start(0, 1, err, sizeof(err)) == NULL);
    flash_dev_close(&d);
}

/* io_uring (storage/flash_uring.c), the other backend behind the same
 * request: reads submitted from a thread complete on that thread, when it
 * reaps after its eventfd fired; a read of another key's record completes
 * as FLASH_BAD and one of a reused page at once as FLASH_STALE; past
 * ext_io_depth reads wait and go in as others finish; past that a submit
 * is refused; a second thread finds no ring left; teardown finishes every
 * read. */

#define UN 6u   /* reads of the io_uring tests (req[0..UN]) */

static unsigned here_done, here_wrong_thread;

static void done_here(struct flash_io_req *r)
{
    (void)r;
    if (!pthread_equal(pthread_self(), main_thread))
        here_wrong_thread++;
    here_done++;
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

    r.done = done_here;
    return flash_uring_submit(arg, &r) ? arg : NULL;
}

static void test_reads_on_the_submitting_thread(struct flash_dev *d, int ev)
{
    struct flash_uring *u = flash_uring_setup(1, 2, UN - 2, 1, err, sizeof(err));
    unsigned char v[VLEN];
    pthread_t t;
    void *got = &t;

    CHECK(u != NULL);
    for (unsigned i = 0; i <= UN; i++) {
        fill(v, i);
        req[i] = (struct flash_io_req){ .dev = d, .key_hash = i, .scratch = scratch[i],
                                        .out = out[i], .done = done_here, .result = -1,
                                        .notify_fd = ev };
        CHECK_EQ_INT(flash_dev_append(d, i, v, VLEN, &req[i].loc), FLASH_OK);
    }
    CHECK_EQ_INT(flash_dev_flush(d), FLASH_OK);
    req[3].key_hash = 4;        /* not the key written there: never served */
    req[5].loc.version++;       /* its page was reused since: no read at all */
    for (unsigned i = 0; i < UN; i++)
        CHECK(flash_uring_submit(u, &req[i]));
    CHECK(!flash_uring_submit(u, &req[UN]));   /* 2 in the kernel, 4 waiting: full */
    CHECK_EQ_INT(flash_uring_queued(u), 4);
    /* another thread: the only ring is taken */
    CHECK(pthread_create(&t, NULL, other_thread, u) == 0 && pthread_join(t, &got) == 0);
    CHECK(got == NULL);
    for (unsigned rounds = 0; here_done < UN && rounds < 2 * UN; rounds++)
        CHECK(reap_once(u, ev));
    CHECK_EQ_INT(here_done, UN);
    CHECK_EQ_INT(here_wrong_thread, 0);
    CHECK_EQ_INT(flash_uring_queued(u), 0);
    for (unsigned i = 0; i < UN; i++) {
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
    struct flash_uring *u = flash_uring_setup(1, 1, UN, 1, err, sizeof(err));

    CHECK(u != NULL);
    here_done = 0;
    for (unsigned i = 0; i < UN; i++) {
        req[i].result = -1;
        req[i].loc.version = req[0].loc.version;
        CHECK(flash_uring_submit(u, &req[i]));
    }
    flash_uring_teardown(&u);
    CHECK_EQ_INT(here_done, UN);
    for (unsigned i = 0; i < UN; i++)
        CHECK((int)req[i].result != -1);
}

/* The io_uring tests, where io_uring can be had. */
static void test_uring(void)
{
    struct flash_uring *probe = flash_uring_setup(1, 1, 1, 1, err, sizeof(err));
    struct flash_dev *d;
    int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

    if (probe == NULL) {
        printf("flash_io: io_uring tests skipped (%s)\n", err);
        close(ev);
        return;
    }
    flash_uring_teardown(&probe);
    CHECK(flash_uring_setup(0, 1, 1, 1, err, sizeof(err)) == NULL);
    unlink(path);
    d = flash_dev_open(path, 1 << 20, 64 << 10, err, sizeof(err));
    CHECK(d != NULL && ev >= 0);
    CHECK(flash_dev_tune(d, 64 << 10, false) == 0);
    test_reads_on_the_submitting_thread(d, ev);
    test_teardown_finishes_every_read();
    flash_dev_close(&d);
    close(ev);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-io-%d", (int)getpid());
    main_thread = pthread_self();
    sem_init(&all_done, 0, 0);
    sem_init(&started, 0, 0);
    sem_init(&release, 0, 0);
    RUN(test_reads_complete);
    RUN(test_bounded);
    RUN(test_uring);
    unlink(path);
    return unit_report("flash_io");
}
