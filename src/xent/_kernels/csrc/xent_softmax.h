/* Softmax cross-entropy with class-index targets, PyTorch's definition:
 *   logp_c = x_c - max - log(sum_j exp(x_j - max))
 *   loss   = (1 - eps) (-w_t logp_t) + (eps / C) (-sum_c w_c logp_c), 0 where t is ignored
 *   grad_c = [sm_c ((1 - eps) w_t + (eps / C) W) - (1 - eps) w_t [c = t] - (eps / C) w_c] gscale
 * with sm = softmax(x), W = sum_c w_c and gscale = 1 / sum of w_t over non-ignored
 * targets for 'mean' (nan when that sum is 0, as PyTorch's gradient). A zero weight
 * times a -inf logit counts as 0, as in the reference (PyTorch gives nan). The
 * exponentials are written into the gradient row on the way and rescaled in place,
 * so each row is read from memory once and the gradient written once. Row sums are
 * accumulated in float64. */

XENT_INLINE int64_t SFX(target_at)(const xent_softmax_args *a, int64_t i) {
    return a->t64 ? ((const int64_t *)a->t)[i] : (int64_t)((const int32_t *)a->t)[i];
}

#if !XENT_F64
#define XENT_WIDEN_ADD(lo, hi, v)                                                             \
    do {                                                                                      \
        lo = VD_ADD(lo, VD_LO(v));                                                            \
        if (W > 1) hi = VD_ADD(hi, VD_HI_OR_ZERO(v));                                         \
    } while (0)
#if W > 1
#define VD_HI_OR_ZERO(v) VD_HI(v)
#else
#define VD_HI_OR_ZERO(v) VD_ZERO()
#endif
#define XENT_SUM_ADD XENT_WIDEN_ADD
#else
#define XENT_WIDEN_ADD(lo, hi, v)                                                             \
    do {                                                                                      \
        lo = VD_ADD(lo, v);                                                                   \
        (void)hi;                                                                             \
    } while (0)
/* float64 sums of exponentials: TwoSum, sum in s, compensation in c */
#define XENT_SUM_ADD(s, c, v)                                                                 \
    do {                                                                                      \
        VD s_ = VD_ADD(s, v);                                                                 \
        VD bp_ = VD_SUB(s_, s);                                                               \
        c = VD_ADD(c, VD_ADD(VD_SUB(s, VD_SUB(s_, bp_)), VD_SUB(v, bp_)));                    \
        s = s_;                                                                               \
    } while (0)
#endif

/* exp(x - m) for x <= m. float64: with the rounding error of x - m (TwoSum) put
 * back, exp(d + e) = exp(d) (1 + e); without it the relative error would grow
 * with |x - m| (8 ulp at x - m = -8, as in frameworks' log_softmax). */
XENT_INLINE V SFX(exp_diff)(V x, V m, V d) {
    V ex = SFX(vexp_nonpos)(d);
#if XENT_F64
    V bp = VSUB(d, x);
    V err = VADD(VSUB(x, VSUB(d, bp)), VSUB(VNEG(m), bp));
    /* where exp underflowed to 0 (a -inf logit: err is nan there) it stays 0 */
    ex = VSELZERO(VCMP(ex, VZERO(), C_NE), VFMA(ex, err, ex));
#else
    (void)x;
    (void)m;
#endif
    return ex;
}

/* The sum of exp(x_c - max) over the logits below the maximum, from the
 * accumulators of XENT_SUM_ADD. The maxima contribute exactly 1 each and are
 * counted apart, so log1p(sum + count - 1) is the log-sum-exp without the
 * cancellation of log(1 + small) when one class dominates. */
static double SFX(sum_lanes)(VD s, VD c) {
    double a[WD], b[WD], hi = 0, lo = 0;
    VD_STORE(a, s);
    VD_STORE(b, c);
    for (int i = 0; i < WD; i++) SFX(two_sum_into)(&hi, &lo, a[i]);
    for (int i = 0; i < WD; i++) SFX(two_sum_into)(&hi, &lo, b[i]);
    return hi + lo;
}

static double SFX(hsum)(VD lo, VD hi) {
    double a[WD], b[WD], s = 0;
    VD_STORE(a, lo);
    VD_STORE(b, hi);
    for (int i = 0; i < WD; i++) s += a[i];
    for (int i = 0; i < WD; i++) s += b[i];
    return s;
}

/* The epilogue of one position (a row, or one lane of a chunk), shared by both
 * layouts: from sum1 (the sum of exp(x_c - max) below the maximum, plus the count
 * of maxima minus 1), x_t - max and w_t (and, with label smoothing, dsum = sum_c
 * w_c (x_c - max)), the loss with its smoothing and, with grad, the gradient's
 * coefficients: grad_c = ex_c A - w_c B, and at the target class
 * SFX(softmax_target_grad) = ex_t A - w_t B - (1 - eps) w_t gscale. */
typedef struct {
    double loss, A, B;
} SFX(softmax_tail);

XENT_INLINE SFX(softmax_tail) SFX(softmax_epilogue)(const xent_softmax_args *a, double sum1,
                                                    double xt_minus_max, double wt, double dsum,
                                                    int grad) {
    SFX(softmax_tail) r;
    const double eps = a->eps, epsc = eps / (double)a->C;
    double sumexp = 1.0 + sum1, lse = log1p(sum1), lt = xt_minus_max - lse;
    /* a zero weight times an infinite log-probability is 0 (the reference's
     * times_or_zero); a nan stays nan */
    r.loss = wt == 0 && isinf(lt) ? 0.0 : -wt * lt;
    if (eps != 0) r.loss = (1.0 - eps) * r.loss + epsc * -(dsum - a->wsum * lse);
    r.A = r.B = 0;
    if (grad) {
        r.A = (1.0 / sumexp) * ((1.0 - eps) * wt + epsc * a->wsum) * a->gscale;
        r.B = epsc * a->gscale;
    }
    return r;
}

XENT_INLINE double SFX(softmax_target_grad)(const xent_softmax_args *a,
                                            const SFX(softmax_tail) * r, double ex_t, double wt) {
    return ex_t * r->A - wt * r->B - (1.0 - a->eps) * wt * a->gscale;
}

/* Where the exponentials wait for the rescale of pass 3: the gradient itself when it is
 * stored in T; for half storage a float32 row per thread (rounding them to 16 bits
 * there would round the gradient twice), kept for the thread's next calls. NULL when
 * memory runs out. */
#if XENT_HALF
static _Thread_local T *SFX(scratch_row);
static _Thread_local int64_t SFX(scratch_len);
static T *SFX(scratch)(int64_t n) {
    if (n < 1) n = 1;
    if (n > SFX(scratch_len)) {
        free(SFX(scratch_row));
        SFX(scratch_row) = (T *)malloc((size_t)n * sizeof(T));
        SFX(scratch_len) = SFX(scratch_row) ? n : 0;
    }
    return SFX(scratch_row);
}
#endif

/* One row of C logits (the (N, C) layout); returns its loss. */
static double SFX(softmax_row)(const xent_softmax_args *a, int64_t n, T *scratch) {
    const int64_t C = a->C;
    const ST *x = (const ST *)a->x + n * C;
    const ST *w = (const ST *)a->w;
    ST *g = a->grad ? (ST *)a->grad + n * C : NULL;
    int64_t t = SFX(target_at)(a, n);
    if (t == a->ignore) {
        if (g) memset(g, 0, (size_t)C * sizeof(ST));
        return 0.0;
    }
#if XENT_HALF
    T *e = g ? scratch : NULL; /* the exponentials, until pass 3 */
#else
    T *e = g;
    (void)scratch;
#endif
    const int64_t full = C - C % W;
    const int rem = (int)(C - full);
    int64_t c;
    /* pass 1: the maximum (a nan is caught by the sum below) */
    V vm = VSET1(-INFINITY);
    for (c = 0; c < full; c += W) vm = VMAX(SLOAD(x + c), vm);
    T lanes[W];
    VSTORE(lanes, vm);
    T mx = lanes[0];
    for (int q = 1; q < W; q++) mx = lanes[q] > mx ? lanes[q] : mx;
    for (c = full; c < C; c++) mx = S2T(x[c]) > mx ? S2T(x[c]) : mx;
    /* pass 2: exp(x - max) (kept in the gradient row), its sum, and sum w (x - max) */
    const int smooth = a->eps != 0;
    V vmx = VSET1(mx);
    VD s0 = VD_ZERO(), s1 = VD_ZERO(), d0 = VD_ZERO(), d1 = VD_ZERO();
    int64_t maxima = 0;
    for (c = 0; c < full; c += W) {
        V xc = SLOAD(x + c);
        V d = VSUB(xc, vmx);
        V ex = SFX(exp_diff)(xc, vmx, d);
        if (e) VSTORE(e + c, ex);
        VM below = VCMP(d, VZERO(), C_NE); /* nan included */
        maxima += W - VMASK_COUNT(below);
        V part = VSELZERO(below, ex);
        XENT_SUM_ADD(s0, s1, part);
        if (smooth) {
            V wd = w ? SFX(times_or_zero)(SLOAD(w + c), d) : d; /* 0 * -inf: 0 */
            XENT_WIDEN_ADD(d0, d1, wd);
        }
    }
    if (rem) {
        VM lane = VMASK_FIRST(rem);
        V xc = VBLEND(lane, vmx, SLOADN(x + full, rem));
        V d = VSUB(xc, vmx);
        V ex = VSELZERO(lane, SFX(exp_diff)(xc, vmx, d));
        if (e) VSTOREN(e + full, ex, rem);
        VM below = VCMP(d, VZERO(), C_NE);
        maxima += VMASK_COUNT(VM_AND(VCMP(d, VZERO(), C_EQ), lane));
        V part = VSELZERO(below, ex);
        XENT_SUM_ADD(s0, s1, part);
        if (smooth) {
            V wd = w ? SFX(times_or_zero)(SLOADN(w + full, rem), d) : d;
            XENT_WIDEN_ADD(d0, d1, wd);
        }
    }
    double sum1 = SFX(sum_lanes)(s0, s1) + (double)(maxima - 1);
    double wt = w ? (double)S2T(w[t]) : 1.0;
    SFX(softmax_tail) tail = SFX(softmax_epilogue)(a, sum1, (double)S2T(x[t]) - (double)mx, wt,
                                                   smooth ? SFX(hsum)(d0, d1) : 0.0, g != NULL);
    if (g) {
        /* pass 3: the gradient, in place (half storage: from the float32 row) */
        const double ex_t = (double)e[t];
        V vA = VSET1((T)tail.A), vB = VSET1((T)tail.B);
        for (c = 0; c < full; c += W) {
            V bc = w ? VMUL(SLOAD(w + c), vB) : vB;
            SSTORE(g + c, VFNMA(VSET1(1), bc, VMUL(VLOAD(e + c), vA)));
        }
        if (rem) {
            V bc = w ? VMUL(SLOADN(w + full, rem), vB) : vB;
            SSTOREN(g + full, VFNMA(VSET1(1), bc, VMUL(VLOADN(e + full, rem), vA)), rem);
        }
        g[t] = T2S(SFX(softmax_target_grad)(a, &tail, ex_t, wt));
    }
    return tail.loss;
}

/* W positions s .. s + r of sample n in the (N, C, S) layout, vectorised across
 * positions; losses are added to (hi, lo) or stored. */
static void SFX(softmax_chunk)(const xent_softmax_args *a, int64_t n, int64_t s, int r, double *hi,
                               double *lo, T *scratch) {
    const int64_t C = a->C, S = a->S;
    const ST *x = (const ST *)a->x + n * C * S + s;
    const ST *w = (const ST *)a->w;
    ST *g = a->grad ? (ST *)a->grad + n * C * S + s : NULL;
#if XENT_HALF
    /* the exponentials, until the rescale: W lanes per class, full vectors */
    T *e = g ? scratch : NULL;
    const int64_t es = W;
#define ELOAD(p) VLOAD(p)
#define ESTORE(p, v) VSTORE((p), (v))
#else
    T *e = g;
    const int64_t es = S;
    (void)scratch;
#define ELOAD(p) XLOAD(p)
#define ESTORE(p, v) (full ? VSTORE((p), (v)) : VSTOREN((p), (v), r))
#endif
    const int full = r == W;
    int64_t tl[W];
    T valid_f[W];
    int any = 0;
    for (int q = 0; q < W; q++) {
        tl[q] = q < r ? SFX(target_at)(a, n * S + s + q) : a->ignore;
        valid_f[q] = (T)(tl[q] != a->ignore);
        any |= tl[q] != a->ignore;
    }
    if (!any) {
        if (g)
            for (int64_t c = 0; c < C; c++) {
                if (full) SSTORE(g + c * S, VZERO());
                else SSTOREN(g + c * S, VZERO(), r);
            }
        if (a->loss) {
            ST *lo_out = (ST *)a->loss + n * S + s;
            for (int q = 0; q < r; q++) lo_out[q] = 0;
        }
        return;
    }
    VM valid = VCMP(VLOAD(valid_f), VZERO(), C_NE);
#define XLOAD(p) (full ? SLOAD(p) : SLOADN((p), r))
    V vm = VSET1(-INFINITY);
    for (int64_t c = 0; c < C; c++) vm = VMAX(XLOAD(x + c * S), vm);
    const int smooth = a->eps != 0;
    VD s0 = VD_ZERO(), s1 = VD_ZERO(), d0 = VD_ZERO(), d1 = VD_ZERO();
    V maxima = VZERO(); /* per lane: the logits equal to the maximum */
    for (int64_t c = 0; c < C; c++) {
        V xc = XLOAD(x + c * S);
        V d = VSUB(xc, vm);
        V ex = SFX(exp_diff)(xc, vm, d);
        if (e) ESTORE(e + c * es, ex);
        VM below = VCMP(d, VZERO(), C_NE);
        maxima = VADD(maxima, VSELZERO(VCMP(d, VZERO(), C_EQ), VSET1(1)));
        V part = VSELZERO(below, ex);
        XENT_SUM_ADD(s0, s1, part);
        if (smooth) {
            V wd = !w ? d : S2T(w[c]) != 0 ? VMUL(VSET1(S2T(w[c])), d) : VZERO(); /* 0 * -inf: 0 */
            XENT_WIDEN_ADD(d0, d1, wd);
        }
    }
    double sums[2 * WD], dsums[2 * WD];
    VD_STORE(sums, s0);
    VD_STORE(sums + WD, s1);
    VD_STORE(dsums, d0);
    VD_STORE(dsums + WD, d1);
    T mxl[W], Al[W] = {0}, Bl[W] = {0}, maxl[W]; /* zeroed again below; gcc cannot tell */
    VSTORE(mxl, vm);
    VSTORE(maxl, maxima);
    double ext[W];
    SFX(softmax_tail) tails[W];
    ST *lo_out = a->loss ? (ST *)a->loss + n * S + s : NULL;
    for (int q = 0; q < W; q++) {
        Al[q] = Bl[q] = 0;
        if (q >= r) continue;
        if (tl[q] == a->ignore) {
            if (lo_out) lo_out[q] = 0;
            continue;
        }
        int64_t t = tl[q];
#if !XENT_F64
        double sum1 = sums[q] + ((double)maxl[q] - 1.0);
#else
        double sum1 = (sums[q] + sums[WD + q]) + (maxl[q] - 1.0); /* sum, compensation */
#endif
        double wt = w ? (double)S2T(w[t]) : 1.0;
        tails[q] = SFX(softmax_epilogue)(a, sum1, (double)S2T(x[t * S + q]) - (double)mxl[q], wt,
                                         smooth ? dsums[q] : 0.0, g != NULL);
        if (lo_out) lo_out[q] = T2S(tails[q].loss);
        else SFX(two_sum_into)(hi, lo, tails[q].loss);
        if (g) {
            ext[q] = (double)e[t * es + q];
            Al[q] = (T)tails[q].A;
            Bl[q] = (T)tails[q].B;
        }
    }
    if (!g) return;
    V vA = VLOAD(Al), vB = VLOAD(Bl);
    for (int64_t c = 0; c < C; c++) {
        V bc = w ? VMUL(VSET1(S2T(w[c])), vB) : vB;
        V gc = VSELZERO(valid, VFNMA(VSET1(1), bc, VMUL(ELOAD(e + c * es), vA)));
        if (full) SSTORE(g + c * S, gc);
        else SSTOREN(g + c * S, gc, r);
    }
#undef XLOAD
#undef ELOAD
#undef ESTORE
    for (int q = 0; q < r; q++) {
        if (tl[q] == a->ignore) continue;
        int64_t t = tl[q];
        double wt = w ? (double)S2T(w[t]) : 1.0;
        g[t * S + q] = T2S(SFX(softmax_target_grad)(a, &tails[q], ext[q], wt));
    }
}

void SFX(xent_softmax_block)(const xent_softmax_args *a, int64_t b, xent_partial *out) {
    double hi = 0, lo = 0;
    int64_t first = b * a->block, last = first + a->block;
    if (last > a->items) last = a->items;
    T *scratch = NULL;
#if XENT_HALF
    if (a->grad && first < last) {
        scratch = SFX(scratch)(a->S == 1 ? a->C : a->C * W);
        if (!scratch) { /* the module raises MemoryError */
            out->hi = out->lo = 0;
            out->count = -1;
            return;
        }
    }
#endif
    for (int64_t item = first; item < last; item++) {
        if (a->S == 1) {
            double l = SFX(softmax_row)(a, item, scratch);
            if (a->loss) ((ST *)a->loss)[item] = T2S(l);
            else SFX(two_sum_into)(&hi, &lo, l);
        } else {
            int64_t n = item / a->ntiles, s = (item % a->ntiles) * a->tile;
            int64_t end = s + a->tile < a->S ? s + a->tile : a->S;
            for (; s < end; s += W) {
                int r = end - s < W ? (int)(end - s) : W;
                SFX(softmax_chunk)(a, n, s, r, &hi, &lo, scratch);
            }
        }
    }
    out->hi = hi;
    out->lo = lo;
    out->count = 0;
}
