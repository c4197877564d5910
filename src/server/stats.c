/* stats: aggregation across worker threads; see stats.h. */
#include "server/stats.h"

#include <pthread.h>
#include <string.h>

#include "storage/class_count.h"
#include "storage/store.h"

#define STATS_THREADS_MAX 256

struct global_stats global_stats;

static struct thread_stats *threads[STATS_THREADS_MAX];
static int nthreads;
static struct thread_stats baseline;
static struct store_stats store_baseline;
static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

void stats_register_thread(struct thread_stats *ts)
{
    pthread_mutex_lock(&stats_lock);
    if (nthreads < STATS_THREADS_MAX)
        threads[nthreads++] = ts;
    pthread_mutex_unlock(&stats_lock);
}

/* out->field op= from->field, for the counters of one table. */
#define COMBINE(out, from, op, name) \
    atomic_store_explicit(&(out)->name, \
        atomic_load_explicit(&(out)->name, memory_order_relaxed) op \
        atomic_load_explicit(&(from)->name, memory_order_relaxed), \
        memory_order_relaxed);

static void sum_threads(struct thread_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < nthreads; i++) {
#define X(name) COMBINE(out, threads[i], +, name)
        THREAD_STATS(X)
#undef X
        for (unsigned c = 0; c < SIZE_CLASS_MAX; c++) {
#define X(name) COMBINE(&out->cls[c], &threads[i]->cls[c], +, name)
            CLASS_STATS(X)
#undef X
        }
    }
}

void stats_aggregate(struct thread_stats *out)
{
    pthread_mutex_lock(&stats_lock);
    sum_threads(out);
#define X(name) COMBINE(out, &baseline, -, name)
    THREAD_STATS(X)
#undef X
    for (unsigned c = 0; c < SIZE_CLASS_MAX; c++) {
#define X(name) COMBINE(&out->cls[c], &baseline.cls[c], -, name)
        CLASS_STATS(X)
#undef X
    }
    pthread_mutex_unlock(&stats_lock);
}

void stats_store_since_reset(struct store_stats *ss)
{
    store_stats_get(ss);
    pthread_mutex_lock(&stats_lock);
    ss->total_items -= store_baseline.total_items;
    ss->evictions -= store_baseline.evictions;
    ss->reclaimed -= store_baseline.reclaimed;
    ss->expired_unfetched -= store_baseline.expired_unfetched;
    ss->evicted_unfetched -= store_baseline.evicted_unfetched;
    pthread_mutex_unlock(&stats_lock);
}

void stats_reset(void)
{
    pthread_mutex_lock(&stats_lock);
    sum_threads(&baseline);
    store_stats_get(&store_baseline);
    class_count_reset();
    atomic_store(&global_stats.total_connections, 0);
    atomic_store(&global_stats.rejected_connections, 0);
    atomic_store(&global_stats.acl_rejected_connections, 0);
    atomic_store(&global_stats.udp_max_amplification_milli, 0);
    atomic_store(&global_stats.udp_max_amplification_unvalidated_milli, 0);
    pthread_mutex_unlock(&stats_lock);
}
