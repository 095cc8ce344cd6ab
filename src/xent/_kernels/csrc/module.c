/* xent._kernels._xentc: the Python face of the compiled kernels.
 *
 * Arrays come in through the buffer protocol (no NumPy headers needed to build);
 * the Python layer (xent/_kernels/_ops.py) has already checked shapes, dtypes and
 * layout. The instruction set is chosen once, at import, from what the CPU
 * running us offers. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "xent_half.h"
#include "xent_kernels.h"
#include "xent_pool.h"

/* ------------------------------------------------------------------ instruction sets */

/* The rows of xent_isas.h this build has (those of the architecture it targets),
 * best first: the CPU check and the entry points of each. */
#define XENT_ISA_CHECK(name, arch, target, check)                                              \
    XENT_IF_##arch(static int cpu_supports_##name(void) { return (check); })
XENT_ISAS(XENT_ISA_CHECK)
#undef XENT_ISA_CHECK

#define XENT_ISA_ROW(name, arch, target, check)                                                \
    XENT_IF_##arch({#name, cpu_supports_##name, XENT_ISA_SYMBOL(binary, name, f32),            \
                    XENT_ISA_SYMBOL(binary, name, f64), XENT_ISA_SYMBOL(binary, name, bf16),    \
                    XENT_ISA_SYMBOL(binary, name, f16), XENT_ISA_SYMBOL(eval, name, f32),       \
                    XENT_ISA_SYMBOL(eval, name, f64), XENT_ISA_SYMBOL(softmax, name, f32),      \
                    XENT_ISA_SYMBOL(softmax, name, f64), XENT_ISA_SYMBOL(softmax, name, bf16),  \
                    XENT_ISA_SYMBOL(softmax, name, f16)}, )
static const xent_isa_table isas[] = {XENT_ISAS(XENT_ISA_ROW)};
#undef XENT_ISA_ROW
#define XENT_NISAS (sizeof isas / sizeof *isas)

/* the last row (the portable one) until select_best_isa() runs */
static const xent_isa_table *isa_current = &isas[XENT_NISAS - 1];

/* The row of that name that this CPU can run, or NULL. */
static const xent_isa_table *isa_by_name(const char *name) {
    for (size_t i = 0; i < XENT_NISAS; i++)
        if (strcmp(name, isas[i].name) == 0) return isas[i].cpu_supports() ? &isas[i] : NULL;
    return NULL;
}

static void select_best_isa(void) {
    for (size_t i = 0; i < XENT_NISAS; i++)
        if (isas[i].cpu_supports()) {
            isa_current = &isas[i];
            return;
        }
}

/* ------------------------------------------------------------------ buffers */

typedef struct {
    Py_buffer view;
    int held;
} buffer;

static void release(buffer *b) {
    if (b->held) PyBuffer_Release(&b->view);
    b->held = 0;
}

/* A C-contiguous buffer whose items are floats (kind 'f') or signed integers
 * (kind 'i') of 4 or 8 bytes, or (kind 'h') 16-bit halves (NumPy's float16 'e', or
 * bfloat16 / float16 bits as 'H' or 'h'); None gives an empty buffer when allowed.
 * Returns the item size, 0 for None, -1 with an exception set. */
static int get_buffer(PyObject *obj, const char *name, char kind, int writable, int allow_none,
                      buffer *b) {
    b->held = 0;
    if (obj == Py_None) {
        if (allow_none) return 0;
        PyErr_Format(PyExc_TypeError, "%s must be an array, not None", name);
        return -1;
    }
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, &b->view, flags) != 0) return -1;
    b->held = 1;
    const char *f = b->view.format ? b->view.format : "B";
    if (*f == '@' || *f == '=' || *f == '<') f++;
    int ok = f[1] == '\0' && (b->view.itemsize == 4 || b->view.itemsize == 8);
    if (kind == 'h') ok = f[1] == '\0' && b->view.itemsize == 2 && strchr("eHh", f[0]) != NULL;
    else if (kind == 'f') ok = ok && ((f[0] == 'f' && b->view.itemsize == 4) ||
                                 (f[0] == 'd' && b->view.itemsize == 8));
    else ok = ok && strchr("ilq", f[0]) != NULL;
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s: unsupported item format '%s' (itemsize %zd)", name,
                     b->view.format ? b->view.format : "B", b->view.itemsize);
        release(b);
        return -1;
    }
    return (int)b->view.itemsize;
}

static int64_t items_of(const buffer *b) {
    return b->held ? (int64_t)(b->view.len / b->view.itemsize) : 0;
}

/* ------------------------------------------------------------------ reductions */

/* Fixed decomposition: at least `min_block` items per block and at most
 * XENT_MAX_BLOCKS blocks, whatever the number of threads. */
#define XENT_MAX_BLOCKS 4096

static int64_t block_size(int64_t n, int64_t min_block, int64_t multiple) {
    int64_t block = (n + XENT_MAX_BLOCKS - 1) / XENT_MAX_BLOCKS;
    if (block < min_block) block = min_block;
    return (block + multiple - 1) / multiple * multiple;
}

/* Sum of the blocks' partial sums p[0], p[stride], ..., in block order, compensated. */
static double combine_strided(const xent_partial *p, int64_t nblocks, int64_t stride,
                              int64_t *count) {
    double hi = 0, lo = 0;
    int64_t c = 0;
    for (int64_t b = 0; b < nblocks; b++) {
        const xent_partial *q = &p[b * stride];
        double s = hi + q->hi;
        c += q->count;
        if (!isfinite(s)) { /* an infinite loss: no compensation (it would be nan) */
            hi = s;
            continue;
        }
        double bp = s - hi;
        lo += (hi - (s - bp)) + (q->hi - bp) + q->lo;
        hi = s;
    }
    if (count) *count = c;
    return hi + lo;
}

static double combine(const xent_partial *p, int64_t nblocks, int64_t *count) {
    return combine_strided(p, nblocks, 1, count);
}

/* Zeroed room for the partial sums of `items` work items cut into blocks of `block`,
 * `per_block` partials per block; *nblocks is set to the number of blocks. NULL,
 * with MemoryError set, when memory runs out. */
static xent_partial *new_partials(int64_t items, int64_t block, int64_t per_block,
                                  int64_t *nblocks) {
    *nblocks = items == 0 ? 0 : (items + block - 1) / block;
    size_t count = *nblocks ? (size_t)(*nblocks * per_block) : 1; /* calloc(0) may be NULL */
    xent_partial *p = (xent_partial *)calloc(count, sizeof(xent_partial));
    if (!p) PyErr_NoMemory();
    return p;
}

/* ------------------------------------------------------------------ binary family */

typedef struct {
    xent_binary_args args;
    xent_binary_block_fn fn;
    xent_partial *partials;
    int f64;
    int half; /* XENT_STORE_* */
} binary_job;

/* The buffers after x all hold x's item size (those passed at all). */
static int same_itemsize(const buffer *const *all, size_t k, Py_ssize_t size) {
    for (size_t i = 0; i < k; i++)
        if (all[i]->held && all[i]->view.itemsize != size) {
            PyErr_SetString(PyExc_TypeError, "all arrays must have the same dtype");
            return 0;
        }
    return 1;
}

/* What the binary kernels and the evaluation sums share: n elements of x and y, a
 * weight and pos_weight of the given periods (or none), an elementwise loss output
 * (or none), the options; the gradient and its scale are the caller's. */
static void binary_job_init(binary_job *job, int op, int64_t n, int size, const buffer *bx,
                            const buffer *by, const buffer *bw, int64_t w_period,
                            const buffer *bpw, int64_t pw_period, const buffer *bl, double ls,
                            double alpha, double gamma) {
    memset(job, 0, sizeof *job);
    xent_binary_args *a = &job->args;
    a->op = op;
    a->n = n;
    a->block = block_size(n, 32768, 64);
    a->x = bx->view.buf;
    a->y = by->view.buf;
    a->w = bw->held ? bw->view.buf : NULL;
    a->w_period = w_period;
    a->pw = bpw->held ? bpw->view.buf : NULL;
    a->pw_period = pw_period;
    a->loss = bl->held ? bl->view.buf : NULL;
    a->ls = ls;
    a->alpha = alpha;
    a->gamma = gamma;
    a->gscale = 1.0;
    job->f64 = size == 8;
}

static void binary_task(void *ctx, int64_t b) {
    binary_job *job = (binary_job *)ctx;
    job->fn(&job->args, b, &job->partials[b]);
}

static void count_task(void *ctx, int64_t b) {
    binary_job *job = (binary_job *)ctx;
    const xent_binary_args *a = &job->args;
    int64_t i = b * a->block, end = i + a->block < a->n ? i + a->block : a->n, c = 0;
    if (job->half) {
        const uint16_t *y = (const uint16_t *)a->y;
        const float ig = (float)a->ignore;
        if (job->half == XENT_STORE_BF16)
            for (; i < end; i++) c += !(xent_bf16_to_f32(y[i]) == ig);
        else
            for (; i < end; i++) c += !(xent_f16_to_f32(y[i]) == ig);
    } else if (job->f64) {
        const double *y = (const double *)a->y, ig = a->ignore;
        for (; i < end; i++) c += !(y[i] == ig);
    } else {
        const float *y = (const float *)a->y, ig = (float)a->ignore;
        for (; i < end; i++) c += !(y[i] == ig);
    }
    job->partials[b].count = c;
    job->partials[b].hi = job->partials[b].lo = 0;
}

static PyObject *py_binary(PyObject *self, PyObject *args) {
    (void)self;
    int op, has_ignore, mean, nthreads, half = XENT_STORE_FLOAT;
    PyObject *ox, *oy, *ow, *opw, *oloss, *ograd;
    Py_ssize_t w_period, pw_period;
    double ignore, ls, alpha, gamma;
    if (!PyArg_ParseTuple(args, "iOOOnOnOOpddddpi|i", &op, &ox, &oy, &ow, &w_period, &opw,
                          &pw_period, &oloss, &ograd, &has_ignore, &ignore, &ls, &alpha, &gamma,
                          &mean, &nthreads, &half))
        return NULL;
    if (op < 0 || op >= XENT_OP_COUNT)
        return PyErr_Format(PyExc_ValueError, "unknown binary kernel %d", op);
    if (half < XENT_STORE_FLOAT || half > XENT_STORE_F16)
        return PyErr_Format(PyExc_ValueError, "unknown storage dtype %d", half);
    const char kind = half ? 'h' : 'f';
    buffer bx, by, bw, bpw, bl, bg;
    bx.held = by.held = bw.held = bpw.held = bl.held = bg.held = 0;
    PyObject *result = NULL;
    int size = get_buffer(ox, "x", kind, 0, 0, &bx);
    if (size < 0 || get_buffer(oy, "y", kind, 0, 0, &by) < 0 ||
        get_buffer(ow, "weight", kind, 0, 1, &bw) < 0 ||
        get_buffer(opw, "pos_weight", kind, 0, 1, &bpw) < 0 ||
        get_buffer(oloss, "loss", kind, 1, 1, &bl) < 0 || get_buffer(ograd, "grad", kind, 1, 1, &bg) < 0)
        goto done;
    int64_t n = items_of(&bx);
    const buffer *all[] = {&by, &bw, &bpw, &bl, &bg};
    if (!same_itemsize(all, sizeof all / sizeof *all, size)) goto done;
    if (items_of(&by) != n || (bl.held && items_of(&bl) != n) || (bg.held && items_of(&bg) != n) ||
        (bw.held && (w_period < 1 || items_of(&bw) != w_period)) ||
        (bpw.held && (pw_period < 1 || items_of(&bpw) != pw_period))) {
        PyErr_SetString(PyExc_ValueError, "array sizes do not match");
        goto done;
    }
    binary_job job;
    binary_job_init(&job, op, n, size, &bx, &by, &bw, w_period, &bpw, pw_period, &bl, ls, alpha,
                    gamma);
    xent_binary_args *a = &job.args;
    a->grad = bg.held ? bg.view.buf : NULL;
    a->has_ignore = has_ignore;
    a->ignore = ignore;
    job.half = half;
    job.fn = half == XENT_STORE_BF16  ? isa_current->binary_bf16
             : half == XENT_STORE_F16 ? isa_current->binary_f16
             : job.f64                ? isa_current->binary_f64
                                      : isa_current->binary_f32;
    int64_t nblocks;
    job.partials = new_partials(n, a->block, 1, &nblocks);
    if (!job.partials) goto done;
    int64_t count = n;
    Py_BEGIN_ALLOW_THREADS;
    if (mean && a->grad) {
        /* the gradient of a mean needs its denominator before the pass */
        if (has_ignore) {
            xent_parallel_for(nblocks, nthreads, count_task, &job);
            combine(job.partials, nblocks, &count);
        }
        a->gscale = count > 0 ? 1.0 / (double)count : 0.0;
    }
    xent_parallel_for(nblocks, nthreads, binary_task, &job);
    Py_END_ALLOW_THREADS;
    int64_t valid;
    double total = combine(job.partials, nblocks, &valid);
    free(job.partials);
    result = Py_BuildValue("(dL)", total, (long long)(has_ignore ? valid : n));
done:
    release(&bx);
    release(&by);
    release(&bw);
    release(&bpw);
    release(&bl);
    release(&bg);
    return result;
}

/* ------------------------------------------------------------------ evaluation sums */

static void eval_task(void *ctx, int64_t b) {
    binary_job *job = (binary_job *)ctx;
    job->fn(&job->args, b, &job->partials[b * XENT_EVAL_SUMS]);
}

static PyObject *py_eval(PyObject *self, PyObject *args) {
    (void)self;
    int op, nthreads;
    PyObject *ox, *oy, *ow, *opw, *oloss;
    Py_ssize_t pw_period;
    double ls, alpha, gamma;
    if (!PyArg_ParseTuple(args, "iOOOOnOdddi", &op, &ox, &oy, &ow, &opw, &pw_period, &oloss, &ls,
                          &alpha, &gamma, &nthreads))
        return NULL;
    if (op < 0 || op >= XENT_OP_COUNT)
        return PyErr_Format(PyExc_ValueError, "unknown binary kernel %d", op);
    buffer bx, by, bw, bpw, bl;
    bx.held = by.held = bw.held = bpw.held = bl.held = 0;
    PyObject *result = NULL;
    int size = get_buffer(ox, "x", 'f', 0, 0, &bx);
    if (size < 0 || get_buffer(oy, "y", 'f', 0, 0, &by) < 0 ||
        get_buffer(ow, "weight", 'f', 0, 1, &bw) < 0 ||
        get_buffer(opw, "pos_weight", 'f', 0, 1, &bpw) < 0 ||
        get_buffer(oloss, "loss", 'f', 1, 1, &bl) < 0)
        goto done;
    int64_t n = items_of(&bx);
    const buffer *all[] = {&by, &bw, &bpw, &bl};
    if (!same_itemsize(all, sizeof all / sizeof *all, size)) goto done;
    if (items_of(&by) != n || (bw.held && items_of(&bw) != n) || (bl.held && items_of(&bl) != n) ||
        (bpw.held && (pw_period < 1 || items_of(&bpw) != pw_period))) {
        PyErr_SetString(PyExc_ValueError, "array sizes do not match");
        goto done;
    }
    binary_job job;
    binary_job_init(&job, op, n, size, &bx, &by, &bw, n, &bpw, pw_period, &bl, ls, alpha, gamma);
    xent_binary_args *a = &job.args;
    job.fn = job.f64 ? isa_current->eval_f64 : isa_current->eval_f32;
    int64_t nblocks;
    job.partials = new_partials(n, a->block, XENT_EVAL_SUMS, &nblocks);
    if (!job.partials) goto done;
    Py_BEGIN_ALLOW_THREADS;
    xent_parallel_for(nblocks, nthreads, eval_task, &job);
    Py_END_ALLOW_THREADS;
    double sums[XENT_EVAL_SUMS];
    for (int s = 0; s < XENT_EVAL_SUMS; s++)
        sums[s] = combine_strided(job.partials + s, nblocks, XENT_EVAL_SUMS, NULL);
    free(job.partials);
    if (!bw.held) { /* w = 1 */
        sums[XENT_SUM_WEIGHT] = (double)n;
        sums[XENT_SUM_WLABELS] = sums[XENT_SUM_LABELS];
    }
    result = Py_BuildValue("(ddddd)", sums[XENT_SUM_LOSS], sums[XENT_SUM_WEIGHT],
                           sums[XENT_SUM_WLABELS], sums[XENT_SUM_LABELS], sums[XENT_SUM_WPREDS]);
done:
    release(&bx);
    release(&by);
    release(&bw);
    release(&bpw);
    release(&bl);
    return result;
}

/* ------------------------------------------------------------------ softmax cross-entropy */

typedef struct {
    xent_softmax_args args;
    xent_softmax_block_fn fn;
    xent_partial *partials;
} softmax_job;

static void softmax_task(void *ctx, int64_t b) {
    softmax_job *job = (softmax_job *)ctx;
    job->fn(&job->args, b, &job->partials[b]);
}

/* w[i] of a class weight in its storage dtype */
static double weight_at(const void *w, int64_t i, int f64, int half) {
    if (half == XENT_STORE_BF16) return xent_bf16_to_f32(((const uint16_t *)w)[i]);
    if (half == XENT_STORE_F16) return xent_f16_to_f32(((const uint16_t *)w)[i]);
    return f64 ? ((const double *)w)[i] : (double)((const float *)w)[i];
}

static PyObject *py_softmax(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *ox, *ot, *ow, *oloss, *ograd;
    long long N, C, S, ignore;
    double eps;
    int mean, nthreads, half = XENT_STORE_FLOAT;
    if (!PyArg_ParseTuple(args, "OOOOOLLLLdpi|i", &ox, &ot, &ow, &oloss, &ograd, &N, &C, &S,
                          &ignore, &eps, &mean, &nthreads, &half))
        return NULL;
    if (half < XENT_STORE_FLOAT || half > XENT_STORE_F16)
        return PyErr_Format(PyExc_ValueError, "unknown storage dtype %d", half);
    const char kind = half ? 'h' : 'f';
    buffer bx, bt, bw, bl, bg;
    bx.held = bt.held = bw.held = bl.held = bg.held = 0;
    PyObject *result = NULL;
    int size = get_buffer(ox, "logits", kind, 0, 0, &bx);
    int tsize = size < 0 ? -1 : get_buffer(ot, "target", 'i', 0, 0, &bt);
    if (size < 0 || tsize < 0 || get_buffer(ow, "weight", kind, 0, 1, &bw) < 0 ||
        get_buffer(oloss, "loss", kind, 1, 1, &bl) < 0 || get_buffer(ograd, "grad", kind, 1, 1, &bg) < 0)
        goto done;
    if ((bw.held && bw.view.itemsize != size) || (bl.held && bl.view.itemsize != size) ||
        (bg.held && bg.view.itemsize != size)) {
        PyErr_SetString(PyExc_TypeError, "logits, weight, loss and grad must have one dtype");
        goto done;
    }
    if (N < 0 || C < 0 || S < 1 || items_of(&bx) != N * C * S || items_of(&bt) != N * S ||
        (bw.held && items_of(&bw) != C) || (bl.held && items_of(&bl) != N * S) ||
        (bg.held && items_of(&bg) != N * C * S)) {
        PyErr_SetString(PyExc_ValueError, "array sizes do not match (N, C, S)");
        goto done;
    }
    softmax_job job;
    memset(&job, 0, sizeof job);
    xent_softmax_args *a = &job.args;
    a->N = N;
    a->C = C;
    a->S = S;
    a->x = bx.view.buf;
    a->t = bt.view.buf;
    a->t64 = tsize == 8;
    a->w = bw.held ? bw.view.buf : NULL;
    a->loss = bl.held ? bl.view.buf : NULL;
    a->grad = bg.held ? bg.view.buf : NULL;
    a->ignore = ignore;
    a->eps = eps;
    const int f64 = size == 8;
    job.fn = half == XENT_STORE_BF16  ? isa_current->softmax_bf16
             : half == XENT_STORE_F16 ? isa_current->softmax_f16
             : f64                    ? isa_current->softmax_f64
                                      : isa_current->softmax_f32;

    /* targets: check the range, and the 'mean' denominator sum_n w[t_n] */
    int64_t bad_index = -1, bad_value = 0;
    double denom = 0, wsum = 0;
    Py_BEGIN_ALLOW_THREADS;
    for (int64_t i = 0; i < N * S; i++) {
        int64_t t = a->t64 ? ((const int64_t *)a->t)[i] : ((const int32_t *)a->t)[i];
        if (t == ignore) continue;
        if (t < 0 || t >= C) {
            bad_index = i;
            bad_value = t;
            break;
        }
        denom += !a->w ? 1.0 : weight_at(a->w, t, f64, half);
    }
    for (int64_t c = 0; c < C; c++) wsum += !a->w ? 1.0 : weight_at(a->w, c, f64, half);
    Py_END_ALLOW_THREADS;
    if (bad_index >= 0) {
        PyErr_Format(PyExc_IndexError, "Target %lld is out of bounds.", (long long)bad_value);
        goto done;
    }
    a->wsum = wsum;
    /* a 'mean' over zero total weight: PyTorch's gradient is nan on every non-ignored
     * row (0 / 0 through log_softmax); ignored rows stay 0 */
    a->gscale = mean ? (denom != 0 ? 1.0 / denom : NAN) : 1.0;
    if (S == 1) {
        a->tile = 1;
        a->ntiles = 1;
        a->items = N;
        a->block = block_size(N, C > 0 && C < 16384 ? 16384 / C : 1, 1);
    } else {
        a->tile = 256; /* a multiple of every vector width */
        a->ntiles = (S + a->tile - 1) / a->tile;
        a->items = N * a->ntiles;
        int64_t per_item = a->tile * (C > 0 ? C : 1);
        a->block = block_size(a->items, per_item < 16384 ? 16384 / per_item : 1, 1);
    }
    int64_t nblocks;
    job.partials = new_partials(a->items, a->block, 1, &nblocks);
    if (!job.partials) goto done;
    Py_BEGIN_ALLOW_THREADS;
    xent_parallel_for(nblocks, nthreads, softmax_task, &job);
    Py_END_ALLOW_THREADS;
    int64_t failed = 0; /* a block that had no memory for its scratch row (half storage) */
    for (int64_t b = 0; b < nblocks; b++) failed |= job.partials[b].count < 0;
    double total = combine(job.partials, nblocks, NULL);
    free(job.partials);
    if (failed) {
        PyErr_NoMemory();
        goto done;
    }
    result = Py_BuildValue("(dd)", total, denom);
done:
    release(&bx);
    release(&bt);
    release(&bw);
    release(&bl);
    release(&bg);
    return result;
}

/* ------------------------------------------------------------------ output buffers */

/* Large outputs (gradients, elementwise losses) come from a small cache of
 * blocks whose pages are already mapped: a fresh 64 MB array costs more in page
 * faults (the kernel zeroing it) than the fused pass that fills it. A block goes
 * back to the cache when the last array using it dies; at most CACHE_SLOTS
 * blocks and cache_limit bytes are kept (XENT_BUFFER_CACHE_MB, 0 disables). When
 * the slots are full, the block returned longest ago makes room: a block of a
 * size no longer in use must not stay while the blocks of the current size take
 * turns being evicted (every call would then fault a fresh block in). */

#define CACHE_SLOTS 2
#define CACHE_MIN_BYTES (1 << 20)

typedef struct {
    void *ptr;
    Py_ssize_t size;
    uint64_t returned; /* when it came back to the cache (a counter) */
} block;

static block cache[CACHE_SLOTS];
static uint64_t cache_clock;
static Py_ssize_t cache_limit = (Py_ssize_t)1 << 30;
static PyThread_type_lock cache_lock;

typedef struct {
    PyObject_HEAD void *ptr;
    Py_ssize_t size;
} BufferObject;

static void *block_alloc(Py_ssize_t size) {
    void *ptr = NULL;
    PyThread_acquire_lock(cache_lock, WAIT_LOCK);
    int best = -1;
    for (int i = 0; i < CACHE_SLOTS; i++) /* the smallest block that fits, at most 2x */
        if (cache[i].ptr && cache[i].size >= size && cache[i].size / 2 <= size &&
            (best < 0 || cache[i].size < cache[best].size))
            best = i;
    if (best >= 0) {
        ptr = cache[best].ptr;
        cache[best].ptr = NULL;
    }
    PyThread_release_lock(cache_lock);
    if (ptr) return ptr;
#if defined(_WIN32)
    ptr = malloc((size_t)size);
#else
    if (posix_memalign(&ptr, 64, (size_t)size) != 0) return NULL;
#endif
#ifdef MADV_HUGEPAGE /* as NumPy does for large arrays: fewer, larger page faults */
    uintptr_t start = ((uintptr_t)ptr + 4095) & ~(uintptr_t)4095;
    uintptr_t end = ((uintptr_t)ptr + (uintptr_t)size) & ~(uintptr_t)4095;
    if (size >= (4 << 20) && end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#endif
    return ptr;
}

/* size: the usable size of the block (what it was allocated with) */
static void block_free(void *ptr, Py_ssize_t size) {
    void *dropped[CACHE_SLOTS];
    int ndropped = 0;
    PyThread_acquire_lock(cache_lock, WAIT_LOCK);
    while (size >= CACHE_MIN_BYTES && size <= cache_limit) {
        Py_ssize_t held = 0;
        int slot = -1, oldest = -1;
        for (int i = 0; i < CACHE_SLOTS; i++) {
            if (!cache[i].ptr) {
                if (slot < 0) slot = i;
                continue;
            }
            held += cache[i].size;
            if (oldest < 0 || cache[i].returned < cache[oldest].returned) oldest = i;
        }
        if (slot >= 0 && held + size <= cache_limit) {
            cache[slot].ptr = ptr;
            cache[slot].size = size;
            cache[slot].returned = ++cache_clock;
            ptr = NULL;
            break;
        }
        /* no room: drop the block returned longest ago (ends with an empty cache,
           which the block fits, at the latest) */
        dropped[ndropped++] = cache[oldest].ptr;
        cache[oldest].ptr = NULL;
    }
    PyThread_release_lock(cache_lock);
    for (int i = 0; i < ndropped; i++) free(dropped[i]);
    free(ptr);
}

static void buffer_dealloc(BufferObject *self) {
    if (self->ptr) block_free(self->ptr, self->size);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int buffer_getbuffer(BufferObject *self, Py_buffer *view, int flags) {
    return PyBuffer_FillInfo(view, (PyObject *)self, self->ptr, self->size, 0, flags);
}

static PyBufferProcs buffer_as_buffer = {(getbufferproc)buffer_getbuffer, NULL};

static PyTypeObject BufferType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "xent._kernels._xentc.Buffer",
    .tp_basicsize = sizeof(BufferObject),
    .tp_dealloc = (destructor)buffer_dealloc,
    .tp_as_buffer = &buffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Uninitialised memory for an output array, recycled through a small cache.",
};

static PyObject *py_empty(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, "n", &size)) return NULL;
    if (size < 1) return PyErr_Format(PyExc_ValueError, "size must be positive, got %zd", size);
    BufferObject *buf = PyObject_New(BufferObject, &BufferType);
    if (!buf) return NULL;
    buf->size = size;
    buf->ptr = block_alloc(size);
    if (!buf->ptr) {
        buf->size = 0;
        Py_DECREF(buf);
        return PyErr_NoMemory();
    }
    return (PyObject *)buf;
}

static PyObject *py_set_cache_limit(PyObject *self, PyObject *args) {
    (void)self;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "n", &limit)) return NULL;
    PyThread_acquire_lock(cache_lock, WAIT_LOCK);
    cache_limit = limit < 0 ? 0 : limit;
    void *drop[CACHE_SLOTS] = {NULL};
    for (int i = 0; i < CACHE_SLOTS; i++) { /* drop every cached block */
        drop[i] = cache[i].ptr;
        cache[i].ptr = NULL;
    }
    PyThread_release_lock(cache_lock);
    for (int i = 0; i < CACHE_SLOTS; i++) free(drop[i]);
    Py_RETURN_NONE;
}

static PyObject *py_cache_bytes(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    Py_ssize_t held = 0;
    PyThread_acquire_lock(cache_lock, WAIT_LOCK);
    for (int i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].ptr) held += cache[i].size;
    PyThread_release_lock(cache_lock);
    return PyLong_FromSsize_t(held);
}

/* ------------------------------------------------------------------ module */

static PyObject *py_isa(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    return PyUnicode_FromString(isa_current->name);
}

static PyObject *py_supported_isas(PyObject *self, PyObject *noargs) {
    (void)self;
    (void)noargs;
    PyObject *list = PyList_New(0);
    if (!list) return NULL;
    for (size_t i = 0; i < XENT_NISAS; i++) {
        if (!isas[i].cpu_supports()) continue;
        PyObject *s = PyUnicode_FromString(isas[i].name);
        if (!s || PyList_Append(list, s) != 0) {
            Py_XDECREF(s);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(s);
    }
    return list;
}

static PyObject *py_set_isa(PyObject *self, PyObject *args) {
    (void)self;
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name)) return NULL;
    if (strcmp(name, "best") == 0) {
        select_best_isa();
        Py_RETURN_NONE;
    }
    const xent_isa_table *t = isa_by_name(name);
    if (!t)
        return PyErr_Format(PyExc_ValueError,
                            "instruction set %R is not available on this CPU or build; pass one "
                            "of supported_isas() or 'best'",
                            PyTuple_GET_ITEM(args, 0));
    isa_current = t;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"binary", py_binary, METH_VARARGS,
     "binary(op, x, y, w, w_period, pw, pw_period, loss, grad, has_ignore, ignore, ls, alpha, "
     "gamma, mean, nthreads, half=0) -> (sum, count); half: 0 float32/float64 (by item size), "
     "1 bfloat16, 2 float16 (16-bit items, every array)"},
    {"eval", py_eval, METH_VARARGS,
     "eval(op, x, y, w, pw, pw_period, loss, ls, alpha, gamma, nthreads) -> "
     "(sum w l, sum w, sum w y, sum y, sum w p)"},
    {"softmax", py_softmax, METH_VARARGS,
     "softmax(x, t, w, loss, grad, N, C, S, ignore, eps, mean, nthreads, half=0) -> (sum, "
     "denominator); half as binary()'s (logits, weight, loss and grad)"},
    {"isa", py_isa, METH_NOARGS, "The instruction set in use."},
    {"supported_isas", py_supported_isas, METH_NOARGS, "Instruction sets this CPU can run."},
    {"set_isa", py_set_isa, METH_VARARGS, "Use another instruction set ('best' to reset)."},
    {"empty", py_empty, METH_VARARGS, "empty(nbytes) -> Buffer: memory for an output array."},
    {"set_cache_limit", py_set_cache_limit, METH_VARARGS,
     "set_cache_limit(nbytes): bytes of output blocks kept for reuse (0: none); empties it."},
    {"cache_bytes", py_cache_bytes, METH_NOARGS, "Bytes of output blocks held for reuse."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_xentc",
                                    "xent's compiled loss kernels.", -1, methods,
                                    NULL, NULL, NULL, NULL};

/* BINARY_OPS: {python name: op number} from xent_ops.h, the first argument of
 * binary() and eval(). */
static int add_binary_ops(PyObject *m) {
    PyObject *ops = PyDict_New();
    if (!ops) return -1;
#define XENT_OP_ITEM(NAME, fn, pyname)                                                          \
    {                                                                                           \
        PyObject *number = PyLong_FromLong(XENT_OP_##NAME);                                     \
        if (!number || PyDict_SetItemString(ops, pyname, number) < 0) {                         \
            Py_XDECREF(number);                                                                 \
            Py_DECREF(ops);                                                                     \
            return -1;                                                                          \
        }                                                                                       \
        Py_DECREF(number);                                                                      \
    }
    XENT_BINARY_OPS(XENT_OP_ITEM)
#undef XENT_OP_ITEM
    if (PyModule_AddObject(m, "BINARY_OPS", ops) < 0) {
        Py_DECREF(ops);
        return -1;
    }
    return 0;
}

PyMODINIT_FUNC PyInit__xentc(void) {
    select_best_isa();
    cache_lock = PyThread_allocate_lock();
    if (!cache_lock || PyType_Ready(&BufferType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "CACHE_MIN_BYTES", CACHE_MIN_BYTES) < 0 ||
        add_binary_ops(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
