#include "xent_pool.h"

#if defined(_WIN32)

void xent_parallel_for(int64_t count, int nthreads, xent_task_fn fn, void *ctx) {
    (void)nthreads;
    for (int64_t i = 0; i < count; i++) fn(ctx, i);
}

#else

#include <pthread.h>

#define XENT_MAX_THREADS 1024

static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER; /* one job at a time */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int nworkers;             /* started so far (they never exit) */
static uint64_t generation;      /* bumped for each job */
static int wanted;               /* workers allowed to take part in the current job */
static int open_job;             /* the current job still accepts workers */
static int active;               /* workers that joined it and are still running */
static xent_task_fn job_fn;
static void *job_ctx;
static int64_t job_count;
static int64_t job_next; /* next task index (atomic) */
static uint64_t start_generation[XENT_MAX_THREADS]; /* generation when each worker was made */

static void run_tasks(xent_task_fn fn, void *ctx, int64_t count) {
    for (;;) {
        int64_t i = __atomic_fetch_add(&job_next, 1, __ATOMIC_RELAXED);
        if (i >= count) break;
        fn(ctx, i);
    }
}

static void *worker(void *arg) {
    int index = (int)(intptr_t)arg;
    pthread_mutex_lock(&mu);
    uint64_t seen = start_generation[index]; /* the job posted after its creation is its first */
    for (;;) {
        while (generation == seen) pthread_cond_wait(&work_cv, &mu);
        seen = generation;
        /* a worker waking after the caller has done every task stays out of it */
        if (index >= wanted || !open_job) continue;
        active++;
        xent_task_fn fn = job_fn;
        void *ctx = job_ctx;
        int64_t count = job_count;
        pthread_mutex_unlock(&mu);
        run_tasks(fn, ctx, count);
        pthread_mutex_lock(&mu);
        if (--active == 0) pthread_cond_signal(&done_cv);
    }
    return NULL;
}

/* In a forked child only the forking thread exists: forget the workers. */
static void after_fork_child(void) {
    pthread_mutex_init(&pool_owner, NULL);
    pthread_mutex_init(&mu, NULL);
    pthread_cond_init(&work_cv, NULL);
    pthread_cond_init(&done_cv, NULL);
    nworkers = 0;
    wanted = 0;
    open_job = 0;
    active = 0;
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

void xent_parallel_for(int64_t count, int nthreads, xent_task_fn fn, void *ctx) {
    if (nthreads > XENT_MAX_THREADS) nthreads = XENT_MAX_THREADS;
    /* at least two blocks per thread: waking a sleeping worker costs about as much
     * as one block (tens of microseconds), so fewer blocks run on the caller alone */
    if (nthreads > count / 2) nthreads = (int)(count / 2);
    if (nthreads <= 1 || pthread_mutex_trylock(&pool_owner) != 0) {
        for (int64_t i = 0; i < count; i++) fn(ctx, i);
        return;
    }
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&mu);
    while (nworkers < nthreads - 1) {
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        start_generation[nworkers] = generation;
        int failed = pthread_create(&thread, &attr, worker, (void *)(intptr_t)nworkers);
        pthread_attr_destroy(&attr);
        if (failed) break;
        nworkers++;
    }
    int helpers = nthreads - 1 < nworkers ? nthreads - 1 : nworkers;
    job_fn = fn;
    job_ctx = ctx;
    job_count = count;
    __atomic_store_n(&job_next, 0, __ATOMIC_RELAXED);
    wanted = helpers;
    open_job = 1;
    active = 0;
    generation++;
    pthread_cond_broadcast(&work_cv);
    pthread_mutex_unlock(&mu);

    run_tasks(fn, ctx, count);

    /* every task is taken: close the job (so that no sleeper joins late) and wait
     * only for the workers still running one */
    pthread_mutex_lock(&mu);
    open_job = 0;
    while (active > 0) pthread_cond_wait(&done_cv, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&pool_owner);
}

#endif
