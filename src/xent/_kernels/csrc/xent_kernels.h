/* The kernels' interface: job descriptions shared by the module and every
 * instruction-set variant. Nothing here depends on Python. */
#ifndef XENT_KERNELS_H
#define XENT_KERNELS_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define XENT_INLINE static inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define XENT_INLINE static __forceinline
#else
#define XENT_INLINE static inline
#endif

#include "xent_isas.h"
#include "xent_ops.h" /* the op numbers: XENT_OP_<NAME>, XENT_OP_COUNT */

/* One block's share of a reduction: a compensated sum (hi + lo) and, with an
 * ignore_index, the number of elements that were not ignored. Blocks are a
 * fixed decomposition of the input and are combined in block order, so the
 * result does not depend on the number of threads. */
typedef struct {
    double hi, lo;
    int64_t count;
} xent_partial;

/* Elementwise binary losses over n elements (all arrays contiguous, same dtype:
 * float32, float64, or bfloat16 / float16 bits, which are computed in float32).
 * w and pw (may be NULL) are periodic: element i uses w[i % w_period]. */
typedef struct {
    int op; /* XENT_OP_<NAME>, a row of xent_ops.h */
    int64_t n, block;
    const void *x, *y, *w, *pw;
    int64_t w_period, pw_period;
    void *loss; /* elementwise loss (reduction 'none') or NULL */
    void *grad; /* gradient or NULL */
    int has_ignore;
    double ignore;
    double ls; /* label smoothing, 0 for none */
    double alpha, gamma;
    double gscale; /* the gradient is multiplied by it (1 / 'mean' denominator) */
} xent_binary_args;

typedef void (*xent_binary_block_fn)(const xent_binary_args *, int64_t, xent_partial *);

/* The sums of an evaluation (xent_eval.h), over the same arguments as the binary
 * losses (w: one weight per element, no ignore_index, no gradient); a block writes
 * XENT_EVAL_SUMS partials, in this order. */
enum {
    XENT_SUM_LOSS,    /* sum w l */
    XENT_SUM_WEIGHT,  /* sum w */
    XENT_SUM_WLABELS, /* sum w y */
    XENT_SUM_LABELS,  /* sum y */
    XENT_SUM_WPREDS,  /* sum w p */
    XENT_EVAL_SUMS
};

/* Softmax cross-entropy with class-index targets: logits (N, C, S) contiguous
 * (S = 1 for the usual (N, C)), targets (N, S) int32 or int64, weight (C,) or
 * NULL. Work items are rows (S = 1) or tiles of `tile` positions of one n;
 * `block` work items make a block. */
typedef struct {
    int64_t N, C, S;
    const void *x;
    const void *t;
    int t64;
    const void *w;
    void *loss; /* (N, S) elementwise or NULL */
    void *grad; /* (N, C, S) or NULL */
    int64_t ignore;
    double eps;    /* label smoothing */
    double wsum;   /* sum of all class weights (C without weights) */
    double gscale; /* 1 / 'mean' denominator, 1 otherwise */
    int64_t tile, ntiles, items, block;
} xent_softmax_args;

typedef void (*xent_softmax_block_fn)(const xent_softmax_args *, int64_t, xent_partial *);

/* One row of xent_isas.h as the module sees it. */
typedef struct {
    const char *name;
    int (*cpu_supports)(void);
    xent_binary_block_fn binary_f32, binary_f64, binary_bf16, binary_f16;
    xent_binary_block_fn eval_f32, eval_f64; /* xent eval: float32 and float64 only */
    xent_softmax_block_fn softmax_f32, softmax_f64, softmax_bf16, softmax_f16;
} xent_isa_table;

/* The storage dtypes of the kernels (the module's `half` argument): 0, float32 or
 * float64 by item size; 1, bfloat16; 2, float16 (both computed in float32). */
enum { XENT_STORE_FLOAT, XENT_STORE_BF16, XENT_STORE_F16 };

/* The entry points of one (ISA, dtype) build of isa_kernels.c. */
#define XENT_ISA_SYMBOL(kind, isa, dt) xent_##kind##_block_##isa##_##dt
#define XENT_DECLARE_ISA_(isa)                                                                  \
    void XENT_ISA_SYMBOL(binary, isa, f32)(const xent_binary_args *, int64_t, xent_partial *);  \
    void XENT_ISA_SYMBOL(binary, isa, f64)(const xent_binary_args *, int64_t, xent_partial *);  \
    void XENT_ISA_SYMBOL(eval, isa, f32)(const xent_binary_args *, int64_t, xent_partial *);    \
    void XENT_ISA_SYMBOL(eval, isa, f64)(const xent_binary_args *, int64_t, xent_partial *);    \
    void XENT_ISA_SYMBOL(binary, isa, bf16)(const xent_binary_args *, int64_t, xent_partial *); \
    void XENT_ISA_SYMBOL(binary, isa, f16)(const xent_binary_args *, int64_t, xent_partial *);  \
    void XENT_ISA_SYMBOL(softmax, isa, f32)(const xent_softmax_args *, int64_t, xent_partial *); \
    void XENT_ISA_SYMBOL(softmax, isa, f64)(const xent_softmax_args *, int64_t, xent_partial *); \
    void XENT_ISA_SYMBOL(softmax, isa, bf16)(const xent_softmax_args *, int64_t, xent_partial *); \
    void XENT_ISA_SYMBOL(softmax, isa, f16)(const xent_softmax_args *, int64_t, xent_partial *);
#define XENT_DECLARE_ISA(name, arch, target, check) XENT_IF_##arch(XENT_DECLARE_ISA_(name))
XENT_ISAS(XENT_DECLARE_ISA)
#undef XENT_DECLARE_ISA

#endif
