/* A small persistent thread pool running `count` independent tasks. */
#ifndef XENT_POOL_H
#define XENT_POOL_H
#include <stdint.h>

typedef void (*xent_task_fn)(void *ctx, int64_t index);

/* Run fn(ctx, i) for i in [0, count) on up to `nthreads` threads (the caller is one
 * of them) and return when all are done. Tasks are handed out dynamically, so
 * they must not depend on which thread runs them. When the pool is busy with a
 * call from another thread, or threads cannot be started, the caller runs every
 * task itself. Call without holding the GIL. */
void xent_parallel_for(int64_t count, int nthreads, xent_task_fn fn, void *ctx);

#endif
