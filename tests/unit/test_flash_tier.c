/* Unit tests for the flash tier as the store sees it (storage/flash_tier.c)
 * and for flashed items in the store: which values qualify; a stub round
 * trips through a read on the I/O threads; items evicted under -m keep
 * their key in RAM and their value on flash (store_item.flash), at the
 * RAM per item flash_tier.h promises; a flashed item overwritten or
 * deleted forgets its record. */
#include "storage/flash_tier.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/hash.h"
#include "storage/store.h"
#include "unit.h"

static char path[64];

static void setup_tier(void)
{
    struct flash_conf c;
    char err[256];

    flash_conf_defaults(&c);
    c.dev[0].path = path;
    c.dev[0].size = 64u << 20;
    c.ndev = 1;
    c.page_size = 1u << 20;
    c.wbuf_size = 1u << 20;
    unlink(path);
    CHECK_EQ_INT(flash_tier_setup(&c, err, sizeof(err)), 0);
    CHECK_EQ_INT(flash_tier_start_io(err, sizeof(err)), 0);
}

static void test_wants(void)
{
    CHECK(!flash_tier_wants(511, 0, 100));       /* under ext_item_size */
    CHECK(flash_tier_wants(512, 0, 100));
    CHECK(flash_tier_wants(4000, 200, 100));     /* ext_low_ttl 0 */
    CHECK(!flash_tier_wants(4000, 100, 100));    /* expires now */
}

struct done_box {
    pthread_mutex_t lock;
    pthread_cond_t  cv;
    bool            done;
};

static void on_done(struct flash_io_req *req)
{
    struct done_box *b = req->ctx;
    pthread_mutex_lock(&b->lock);
    b->done = true;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->lock);
}

/* Read a stub's value on the I/O threads and wait: the result. */
static enum flash_io read_stub(const unsigned char *stub, uint64_t hv, void *out)
{
    struct done_box b = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };
    void *scratch = malloc(flash_tier_read_size(stub));
    struct flash_io_req req = { .scratch = scratch, .out = out, .done = on_done, .ctx = &b };

    CHECK(flash_tier_read(stub, hv, &req));
    pthread_mutex_lock(&b.lock);
    while (!b.done)
        pthread_cond_wait(&b.cv, &b.lock);
    pthread_mutex_unlock(&b.lock);
    free(scratch);
    return req.result;
}

static void test_put_and_read(void)
{
    unsigned char stub[FLASH_STUB_SIZE], other[FLASH_STUB_SIZE];
    char v[3000], out[3000];
    struct flash_tier_stats st;

    memset(v, 'v', sizeof(v));
    flash_tier_batch_begin();
    CHECK(flash_tier_put(42, v, sizeof(v), stub));
    CHECK(flash_tier_put(43, v, 100, other));
    flash_tier_batch_end();
    CHECK_EQ_INT(flash_stub_len(stub), sizeof(v));
    CHECK(!flash_stub_same(stub, other));
    CHECK_EQ_INT(read_stub(stub, 42, out), FLASH_OK);
    CHECK(memcmp(out, v, sizeof(v)) == 0);
    CHECK_EQ_INT(read_stub(stub, 41, out), FLASH_BAD);   /* another key's */
    flash_tier_forget(stub);
    flash_tier_forget(other);
    flash_tier_stats(&st);
    CHECK_EQ_INT(st.values_flashed, 2);
    CHECK_EQ_INT(st.objects_used, 0);
}

struct seen {
    const unsigned char *flash;
    unsigned char stub[FLASH_STUB_SIZE];
    size_t nvalue, nkey, size;
    char key[64];
};

static void visit(const struct store_item *it, void *ctx)
{
    struct seen *s = ctx;
    s->flash = it->flash;
    if (it->flash)
        memcpy(s->stub, it->flash, FLASH_STUB_SIZE);
    s->nvalue = it->nvalue;
    s->nkey = it->nkey;
    s->size = it->size;
    memcpy(s->key, it->key, it->nkey);
}

#define ITEMS 3000
#define VLEN  4000

static void test_store_evicts_to_flash(void)
{
    struct store_config cfg = { .mem_limit = 8u << 20, .item_size_max = 1u << 20,
                                .evict = true, .use_cas = true };
    struct store_stats ss;
    struct flash_tier_stats ft;
    char *v = malloc(VLEN), *out = malloc(VLEN), key[32];
    unsigned flashed = 0;
    uint64_t flashed_bytes = 0;

    CHECK_EQ_INT(store_setup(&cfg), 0);
    for (unsigned i = 0; i < ITEMS; i++) {
        int n = snprintf(key, sizeof(key), "key:%u", i);
        memset(v, (int)('a' + i % 26), VLEN);
        struct store_write w = { .mode = STORE_SET, .key = key, .nkey = (size_t)n,
                                 .value = v, .nvalue = VLEN };
        CHECK_EQ_INT(store_write(&w, NULL), STORE_OK);
    }
    store_stats_get(&ss);
    CHECK_EQ_INT(ss.curr_items, ITEMS);                  /* none lost */
    CHECK_EQ_INT(ss.evictions, 0);
    for (unsigned i = 0; i < ITEMS; i++) {
        struct seen s = { 0 };
        int n = snprintf(key, sizeof(key), "key:%u", i);
        struct store_read r = { .key = key, .nkey = (size_t)n, .no_bump = true };
        CHECK_EQ_INT(store_read(&r, visit, &s), STORE_FOUND);
        CHECK_EQ_INT(s.nvalue, VLEN);
        if (s.flash == NULL)
            continue;
        flashed++;
        flashed_bytes += s.size - s.nkey;   /* RAM besides the key */
        CHECK_EQ_INT(read_stub(s.stub, hash_key(key, (size_t)n), out), FLASH_OK);
        CHECK(out[0] == (char)('a' + i % 26) && out[VLEN - 1] == (char)('a' + i % 26));
    }
    CHECK(flashed > ITEMS / 4);      /* 12 MB of values in 8 MB */
    flash_tier_stats(&ft);
    CHECK_EQ_INT(ft.objects_used, flashed);
    /* RAM per flashed item besides its key: header (4), the CAS it kept
     * when it moved (8) and the stub (17), plus its index slot */
    uint64_t per = flashed_bytes / flashed;
    printf("flash: %u of %u items flashed, %llu bytes + key each in segments\n",
           flashed, ITEMS, (unsigned long long)per);
    CHECK(per <= 4 + 8 + FLASH_STUB_SIZE);
    /* overwriting and deleting flashed items forgets their records */
    for (unsigned i = 0; i < ITEMS; i++) {
        int n = snprintf(key, sizeof(key), "key:%u", i);
        struct store_delete d = { .key = key, .nkey = (size_t)n };
        store_delete(&d, NULL);
    }
    flash_tier_stats(&ft);
    CHECK_EQ_INT(ft.objects_used, 0);
    store_teardown();
    free(v);
    free(out);
}

int main(void)
{
    snprintf(path, sizeof(path), "/tmp/hc-test-flash-tier-%d", (int)getpid());
    clock_setup();
    hash_setup();
    setup_tier();
    RUN(test_wants);
    RUN(test_put_and_read);
    RUN(test_store_evicts_to_flash);
    flash_tier_teardown();
    unlink(path);
    return unit_report("flash_tier");
}
