/*
 * flash_recover: the flash tier across a warm restart (see
 * flash_recover.h). Why the page table is rebuilt from the stubs rather
 * than kept in a file of its own: the stubs are in the restart file
 * already, sealed and checked with the items that hold them, so they are
 * exactly the values a restart can be asked for; a second table would
 * have to be kept in step with them through every kill -9. What is
 * rebuilt, per device:
 *  - a page is in use iff a kept stub names it; its version is the
 *    highest met, its live count the stubs of that version, its end the
 *    end of their last record. It comes back full: no page is open, the
 *    next write takes a free one (the rest of the page open at the stop
 *    waits for the page's reuse);
 *  - versions are one count per device (flash_dev.c), so the page order
 *    for reuse (oldest first) is the version order, and every version
 *    given after the restart is above every one a stub holds: a stub that
 *    survived can never name a record written since;
 *  - every other page is free, whatever its bytes: no stub points there.
 * A device is matched with the last run's only if its path, size, page
 * size and label id are the entry's in the restart file; the label gets a
 * new id at every open (flash_dev_open), so a file written meanwhile by
 * another run (without -e, another -e file), replaced, truncated or
 * resized is told apart, and its stubs are dropped as misses, never read.
 * A device in another place in the ext_path list counts as another.
 */
#include "storage/flash_recover.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/clock.h"
#include "core/log.h"
#include "storage/flash_tier.h"
#include "storage/store.h"

_Static_assert(FLASH_DEVICES_MAX <= PERSIST_FLASH_MAX, "every device has an entry");

int flash_rebuild_init(struct flash_rebuild *r, uint32_t npages, uint32_t page_size)
{
    memset(r, 0, sizeof(*r));
    r->page = calloc(npages ? npages : 1, sizeof(r->page[0]));
    if (r->page == NULL)
        return -1;
    r->npages = npages;
    r->page_size = page_size;
    return 0;
}

void flash_rebuild_free(struct flash_rebuild *r)
{
    free(r->page);
    r->page = NULL;
}

bool flash_rebuild_note(struct flash_rebuild *r, const struct flash_loc *loc)
{
    size_t need = flash_dev_read_size(loc);
    struct flash_page_use *p;
    uint32_t end;

    if (loc->page >= r->npages || loc->version == 0 || loc->offset % FLASH_REC_ALIGN ||
        loc->len > r->page_size || loc->offset > r->page_size - need)
        return false;
    p = &r->page[loc->page];
    if (loc->version < p->version)
        return false;
    if (loc->version > p->version) {   /* the page was reused: those met are stale */
        r->stale += p->live;
        *p = (struct flash_page_use){ .version = loc->version };
    }
    end = (uint32_t)((loc->offset + need + FLASH_REC_ALIGN - 1) & ~(size_t)(FLASH_REC_ALIGN - 1));
    if (end > p->used)
        p->used = end;
    p->live++;
    p->live_bytes += end - loc->offset;
    return true;
}

uint64_t flash_rebuild_live(const struct flash_rebuild *r)
{
    uint64_t n = 0;

    for (uint32_t i = 0; i < r->npages; i++)
        n += r->page[i].live;
    return n;
}

static uint64_t entry_sum(const struct persist_flash *e)
{
    return XXH3_64bits(e, offsetof(struct persist_flash, sum));
}

static uint64_t path_hash(const char *path)
{
    return XXH3_64bits(path, strlen(path));
}

const char *flash_recover_mismatch(const struct persist_flash *was,
                                   const struct flash_ident *now)
{
    if (was->id == 0)
        return "not in the restart file (a device added)";
    if (was->sum != entry_sum(was))
        return "a damaged entry in the restart file";
    if (was->path_hash != path_hash(now->path))
        return "another file than the last run's in this place of the ext_path list";
    if (was->size != now->size || was->page_size != now->page_size)
        return "another size or ext_page_size than the last run's";
    if (now->found_id == 0)
        return "a new file, or one truncated or resized";
    if (now->found_id != was->id)
        return "another file, or one written since by a run without this restart file";
    return NULL;
}

void flash_recover_record(struct persist_flash *e, const struct flash_ident *now, uint64_t id)
{
    memset(e, 0, sizeof(*e));
    e->id = id;
    e->size = now->size;
    e->page_size = now->page_size;
    e->path_hash = path_hash(now->path);
    e->sum = entry_sum(e);
}

struct walk {
    struct flash_rebuild rb[FLASH_DEVICES_MAX];
    bool     matched[FLASH_DEVICES_MAX];
    unsigned ndev;
    uint64_t lost, stale;   /* dropped: device not matched; page reused since */
};

/* Keep a stub of a matched device that names a page's current version. */
static bool keep_stub(const unsigned char *stub, void *arg)
{
    struct walk *w = arg;
    struct flash_loc loc;
    unsigned dev = flash_stub_loc(stub, &loc);

    if (dev >= w->ndev || !w->matched[dev]) {
        w->lost++;
        return false;
    }
    if (flash_rebuild_note(&w->rb[dev], &loc))
        return true;
    w->stale++;
    return false;
}

static struct flash_ident ident_of(struct flash_dev *d, const struct flash_conf *c, unsigned i)
{
    return (struct flash_ident){
        .path = c->dev[i].path, .size = c->dev[i].size / c->page_size * c->page_size,
        .page_size = c->page_size, .found_id = flash_dev_found_id(d),
    };
}

void flash_recover_run(const struct flash_conf *c)
{
    struct flash_dev *dev[FLASH_DEVICES_MAX];
    struct walk *w;
    bool any = false;   /* stubs may exist: the last run had a device */
    uint64_t t0 = clock_mono_ms();
    unsigned i;

    for (i = 0; i < c->ndev; i++)
        dev[i] = flash_tier_device(i);
    if (persist_flash(0) == NULL)
        return;   /* no -e: nothing to find (each open has relabelled its file) */
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        abort();   /* start-up */
    w->ndev = c->ndev;
    for (i = 0; i < PERSIST_FLASH_MAX; i++) {
        const struct persist_flash *e = persist_flash(i);
        any |= e->id != 0;
        if (i >= c->ndev) {
            if (e->id != 0)
                log_warn("hardcached: the last run's ext_path number %u is not given: "
                         "the values it held are dropped (misses)", i + 1);
            continue;
        }
        struct flash_ident now = ident_of(dev[i], c, i);
        const char *why = flash_recover_mismatch(e, &now);
        if (why == NULL) {
            w->matched[i] = flash_rebuild_init(&w->rb[i], (uint32_t)(now.size / c->page_size),
                                               c->page_size) == 0;
        } else if (e->id != 0) {
            log_warn("hardcached: ext_path %s: %s: the values the last run put there "
                     "are dropped (misses)", now.path, why);
        }
    }
    if (any)
        store_flash_check(keep_stub, w);
    for (i = 0; i < c->ndev; i++) {
        struct flash_ident now = ident_of(dev[i], c, i);
        if (w->matched[i]) {
            flash_dev_restore(dev[i], w->rb[i].page);
            log_warn("hardcached: ext_path %s: %llu values found again on flash (%llu stale, "
                     "read as misses) in %llu ms", now.path,
                     (unsigned long long)flash_rebuild_live(&w->rb[i]),
                     (unsigned long long)w->rb[i].stale,
                     (unsigned long long)(clock_mono_ms() - t0));
            flash_rebuild_free(&w->rb[i]);
        }
        flash_recover_record(persist_flash(i), &now, flash_dev_id(dev[i]));
    }
    for (; i < PERSIST_FLASH_MAX; i++)
        memset(persist_flash(i), 0, sizeof(struct persist_flash));
    if (w->lost + w->stale > 0)
        log_warn("hardcached: -e: %llu items dropped whose values were on a flash file not "
                 "found again, %llu whose flash page was reused since (misses already)",
                 (unsigned long long)w->lost, (unsigned long long)w->stale);
    free(w);
}
