/* The sums that score a set of predictions (xent eval), in one pass.
 *
 * Per element, with the loss l computed by the binary family's per-vector
 * functions (xent_binary.h: pos_weight and label smoothing included, no weight,
 * no ignore_index), the predicted probability p (sigmoid(x) for logits and the
 * focal loss, x itself for probabilities), the label y as given (not smoothed)
 * and the weight w (a->w, one per element; w = 1 without it), a block adds up
 *   XENT_SUM_LOSS: w l   XENT_SUM_WEIGHT: w   XENT_SUM_WLABELS: w y
 *   XENT_SUM_LABELS: y   XENT_SUM_WPREDS: w p
 * in the accumulators of xent_acc.h (the weight sums only with a weight: the
 * module derives them from the count and the label sum otherwise), and writes
 * w l to a->loss when it is not NULL. Each product is rounded to T before it is
 * added, as the NumPy reference of the command line does. */

typedef struct {
    SFX(acc_t) s[XENT_EVAL_SUMS];
} SFX(eval_acc);

/* l for one vector (no weight, no ignore_index, no gradient) and p in r.prob.
 * OP and X are constants once inlined. */
#define XENT_EVAL_ONE(NAME, fn, pyname)                                                         \
    case XENT_OP_##NAME: return SFX(fn##_one)(k, in, f);
XENT_INLINE SFX(result) SFX(eval_one)(const SFX(bconst) * k, int OP, V x, V y, V pw, int X,
                                      int has_pw) {
    const xent_want f = {0, X, 0, has_pw, 1};
    SFX(operands) in = {x, y, VSET1(1), pw};
    switch (OP) {
        XENT_BINARY_OPS(XENT_EVAL_ONE)
    default: return SFX(result_init)();
    }
}
#undef XENT_EVAL_ONE

/* Adds one vector's terms; returns w l (l without a weight). */
XENT_INLINE V SFX(eval_add)(SFX(eval_acc) * acc, V l, V y, V w, V p, int has_w) {
    if (has_w) {
        l = VMUL(w, l);
        SFX(acc_add)(&acc->s[XENT_SUM_WEIGHT], w);
        SFX(acc_add)(&acc->s[XENT_SUM_WLABELS], VMUL(w, y));
        p = VMUL(w, p);
    }
    SFX(acc_add)(&acc->s[XENT_SUM_LOSS], l);
    SFX(acc_add)(&acc->s[XENT_SUM_LABELS], y);
    SFX(acc_add)(&acc->s[XENT_SUM_WPREDS], p);
    return l;
}

/* One segment [i, i + len) in which w and pw are contiguous (see xent_binary.h's
 * XENT_SEGMENT: locals, not pointers, and two vectors per iteration). */
XENT_INLINE void SFX(eval_seg)(const SFX(bconst) * kp, const xent_binary_args *a, int64_t i,
                               int64_t len, const T *w, const T *pw, SFX(eval_acc) * accp,
                               int OP, int L, int X, int has_w, int has_pw) {
    const SFX(bconst) kc = *kp;
    const SFX(bconst) *k = &kc;
    SFX(eval_acc) ac = *accp;
    const T *x = (const T *)a->x + i, *y = (const T *)a->y + i;
    T *lo = L ? (T *)a->loss + i : NULL;
    V one = VSET1(1);
    int64_t j = 0;
    for (; j + 2 * W <= len; j += 2 * W) {
        V y0 = VLOAD(y + j), y1 = VLOAD(y + j + W);
        SFX(result) r0 = SFX(eval_one)(k, OP, VLOAD(x + j), y0, has_pw ? VLOAD(pw + j) : one, X,
                                       has_pw);
        SFX(result) r1 = SFX(eval_one)(k, OP, VLOAD(x + j + W), y1,
                                       has_pw ? VLOAD(pw + j + W) : one, X, has_pw);
        V l0 = SFX(eval_add)(&ac, r0.loss, y0, has_w ? VLOAD(w + j) : one, r0.prob, has_w);
        V l1 = SFX(eval_add)(&ac, r1.loss, y1, has_w ? VLOAD(w + j + W) : one, r1.prob, has_w);
        if (L) {
            VSTORE(lo + j, l0);
            VSTORE(lo + j + W, l1);
        }
    }
    for (; j < len; j += W) { /* a last whole vector, then a zero-padded partial one */
        int r = len - j < W ? (int)(len - j) : W;
        T bx[W], by[W], bw[W], bp[W], bl[W];
        for (int q = 0; q < W; q++) bx[q] = by[q] = bw[q] = bp[q] = 0;
        memcpy(bx, x + j, r * sizeof(T));
        memcpy(by, y + j, r * sizeof(T));
        if (has_w) memcpy(bw, w + j, r * sizeof(T));
        if (has_pw) memcpy(bp, pw + j, r * sizeof(T));
        VM lanes = VMASK_FIRST(r);
        V yv = VLOAD(by);
        SFX(result) res = SFX(eval_one)(k, OP, VLOAD(bx), yv, has_pw ? VLOAD(bp) : one, X, has_pw);
        /* padding lanes add zeros: their w and y are 0, l and p are cleared */
        V l = SFX(eval_add)(&ac, VSELZERO(lanes, res.loss), yv, has_w ? VLOAD(bw) : one,
                            VSELZERO(lanes, res.prob), has_w);
        if (L) {
            VSTORE(bl, l);
            memcpy(lo + j, bl, r * sizeof(T));
        }
    }
    *accp = ac;
}

/* Specialised on the loss (OP), the elementwise output (L), pos_weight or label
 * smoothing (X) and the weight. */
#define XENT_EVAL_CASE(OP, L, X, HW)                                                            \
    case ((OP) * 2 + (L)) * 4 + (X) * 2 + (HW):                                                 \
        SFX(eval_seg)(&k, a, i, len, w, pw, &acc, OP, L, X, HW, X && pw != NULL);               \
        break;
#define XENT_EVAL_CASES_L(OP, L)                                                                \
    XENT_EVAL_CASE(OP, L, 0, 0)                                                                 \
    XENT_EVAL_CASE(OP, L, 0, 1)                                                                 \
    XENT_EVAL_CASE(OP, L, 1, 0)                                                                 \
    XENT_EVAL_CASE(OP, L, 1, 1)
#define XENT_EVAL_CASES(NAME, fn, pyname)                                                       \
    XENT_EVAL_CASES_L(XENT_OP_##NAME, 0)                                                        \
    XENT_EVAL_CASES_L(XENT_OP_##NAME, 1)

void SFX(xent_eval_block)(const xent_binary_args *a, int64_t b, xent_partial *out) {
    SFX(bconst) k;
    SFX(bconst_init)(&k, a);
    SFX(eval_acc) acc;
    for (int s = 0; s < XENT_EVAL_SUMS; s++) SFX(acc_init)(&acc.s[s]);
    int64_t i = b * a->block, end = i + a->block;
    if (end > a->n) end = a->n;
    int L = a->loss != NULL, X = a->pw != NULL || a->ls != 0, HW = a->w != NULL;
    int variant = ((a->op * 2 + L) * 4) + X * 2 + HW;
    while (i < end) {
        const T *w, *pw;
        int64_t len = SFX(segment)(a, i, end, &w, &pw);
        switch (variant) {
            XENT_BINARY_OPS(XENT_EVAL_CASES)
        default: break;
        }
        i += len;
    }
    for (int s = 0; s < XENT_EVAL_SUMS; s++) SFX(acc_finish)(&acc.s[s], &out[s]);
}
