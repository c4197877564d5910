/* Unit tests for the flash I/O threads (storage/flash_io.c): every
 * submitted read completes once, from another thread, with the verified
 * value; a read of a torn record completes as FLASH_BAD; the queue is
 * bounded (a submit past threads * depth is refused, not buffered). */
#include "storage/flash_io.h"

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
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

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-io-%d", (int)getpid());
    main_thread = pthread_self();
    sem_init(&all_done, 0, 0);
    sem_init(&started, 0, 0);
    sem_init(&release, 0, 0);
    RUN(test_reads_complete);
    RUN(test_bounded);
    unlink(path);
    return unit_report("flash_io");
}
