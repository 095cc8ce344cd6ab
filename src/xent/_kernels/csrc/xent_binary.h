/* The binary family in one pass: loss (elementwise or summed) and gradient.
 *
 * Each formula is src/xent/_binary.py's stable form with its 0 * inf handling;
 * exp/log/log1p are ours (within an ulp or two), and the softplus pair is
 * rearranged into fewer operations (softplus_pair). Per element, with y' the
 * masked and smoothed target:
 *   logits: (1 - y') softplus(x) + p y' softplus(-x),  grad (1 - y') s(x) - p y' s(-x)
 *   probs:  -(y' max(log x, -100) + (1 - y') max(log1p(-x), -100)),
 *           grad (x - y') / max(x (1 - x), 1e-12)
 *   focal:  torchvision's, see _binary.focal_elementwise
 * then times the weight, zero where ignored, and the gradient times gscale. */

typedef struct {
    V ignore, keep, add, gscale, alpha, one_minus_alpha, gamma;
    int has_ignore, smooth, scale, use_alpha;
    SFX(pow_spec) pw_mod;
} SFX(bconst);

static void SFX(bconst_init)(SFX(bconst) * k, const xent_binary_args *a) {
    k->has_ignore = a->has_ignore;
    k->ignore = VSET1((T)a->ignore);
    k->smooth = a->ls != 0;
    k->keep = VSET1((T)(1.0 - a->ls));
    k->add = VSET1((T)(0.5 * a->ls));
    k->scale = a->gscale != 1.0;
    k->gscale = VSET1((T)a->gscale);
    k->use_alpha = a->alpha >= 0;
    k->alpha = VSET1((T)a->alpha);
    k->one_minus_alpha = VSET1((T)(1.0 - a->alpha));
    k->gamma = VSET1((T)a->gamma);
    k->pw_mod = SFX(pow_plan)((T)a->gamma);
}

/* coef * (coef == 0 ? 0 : value): no 0 * inf */
XENT_INLINE V SFX(times_or_zero)(V coef, V value) {
    return VMULZ(VCMP(coef, VZERO(), C_NE), coef, value);
}

/* neg softplus(x) + pos softplus(-x), given l1p = log1p(exp(-|x|)) and
 * a = x >= 0 ? neg : -pos. As softplus(+-x) = max(+-x, 0) + l1p, it is
 * a x + (neg + pos) l1p: three operations (four with pos_weight) where the
 * reference's form takes ten, with the same 0 * inf = 0 at infinite x. neg + pos
 * is 1, up to the rounding of 1 - y, without pos_weight (any_pw = 0). For targets
 * in [0, 1] and pos_weight >= 0, a x >= 0: the sum does not cancel. */
XENT_INLINE V SFX(softplus_pair)(V a, V x, V neg, V pos, V l1p, int any_pw) {
    V ax = SFX(times_or_zero)(a, x);
    if (!any_pw) return VADD(ax, l1p);
    /* l1p = 0 at x <= -104 (float32; -745 float64): an infinite pos_weight gives
     * inf * 0 there, where the reference's p y softplus(-x) = p y (-x) is inf */
    VM gone = VM_AND(VCMP(l1p, VZERO(), C_EQ), VCMP(x, VZERO(), C_LT));
    return VBLEND(gone, VFMA(VADD(neg, pos), l1p, ax), ax);
}

/* The per-vector functions of the losses (SFX(<fn>_one), a row of xent_ops.h each):
 *   SFX(result) SFX(<fn>_one)(const SFX(bconst) *k, SFX(operands) in, xent_want f)
 * in: one vector each of x, y, the weight and pos_weight (1 where absent); f: what
 * is wanted, constants once inlined. They return the loss, and as f asks the
 * gradient (f.G), the mask of the lanes not ignored (f.X with an ignore_index; all
 * lanes otherwise) and the probability (f.prob: sigmoid(x) or x, for xent eval). */
typedef struct {
    V x, y, w, pw;
} SFX(operands);

#ifndef XENT_WANT_DEFINED
#define XENT_WANT_DEFINED
typedef struct {
    int G;      /* the gradient */
    int X;      /* any of weight, pos_weight, ignore_index, label smoothing (0: none) */
    int has_w;  /* with X: a weight */
    int has_pw; /* with X: a pos_weight */
    int prob;   /* the probability */
} xent_want;
#endif

typedef struct {
    V loss, grad, prob;
    VM valid;
} SFX(result);

XENT_INLINE SFX(result) SFX(result_init)(void) {
    SFX(result) r;
    r.loss = r.grad = r.prob = VZERO();
    r.valid = VM_ALL;
    return r;
}

/* The target after ignore_index (-> 0) and label smoothing; r->valid: not ignored. */
XENT_INLINE V SFX(target)(const SFX(bconst) * k, V y, xent_want f, SFX(result) * r) {
    if (f.X && k->has_ignore) {
        r->valid = VCMP(y, k->ignore, C_NE);
        y = VSELZERO(r->valid, y);
    }
    if (f.X && k->smooth) y = VADD(VMUL(y, k->keep), k->add);
    return y;
}

/* weight, ignore mask and gradient scale, in the reference's order */
XENT_INLINE void SFX(finish)(const SFX(bconst) * k, SFX(result) * r, V w, xent_want f) {
    if (f.X && f.has_w) {
        r->loss = VMUL(r->loss, w);
        if (f.G) r->grad = VMUL(r->grad, w);
    }
    if (f.X && k->has_ignore) {
        r->loss = VSELZERO(r->valid, r->loss);
        if (f.G) r->grad = VSELZERO(r->valid, r->grad);
    }
    if (f.G && k->scale) r->grad = VMUL(r->grad, k->gscale);
}

XENT_INLINE SFX(result) SFX(logits_one)(const SFX(bconst) * k, SFX(operands) in, xent_want f) {
    SFX(result) r = SFX(result_init)();
    V x = in.x, y = SFX(target)(k, in.y, f, &r);
    V one = VSET1(1);
    V neg = VSUB(one, y);
    V pos = (f.X && f.has_pw) ? VMUL(in.pw, y) : y;
    V e = SFX(vexp_nonpos)(VNABS(x));
    V u = VADD(one, e);
    /* 1 / u: the sigmoid, and float64's log1p (which needs it exact) */
    V big = XENT_F64 ? VDIV(one, u) : (f.G || f.prob) ? VRECIP(u) : one;
    VM nonneg = VCMP(x, VZERO(), C_GE);
    if (f.prob) r.prob = VBLEND(nonneg, VMUL(e, big), big); /* sigmoid(x) */
    V l1p = SFX(vlog1p_unit)(e, u, big);
    V npos = VNEG(pos);
    V a = VBLEND(nonneg, npos, neg); /* x >= 0 ? 1 - y : -p y */
    r.loss = SFX(softplus_pair)(a, x, neg, pos, l1p, f.X && f.has_pw);
    if (f.G) {
        /* (1 - y) s(x) - p y s(-x) = big (a + b e): with s(|x|) = big, s(-|x|) = e big */
        V b = VBLEND(nonneg, neg, npos);
        r.grad = VMUL(big, VFMA(b, e, a));
    }
    SFX(finish)(k, &r, in.w, f);
    return r;
}

XENT_INLINE SFX(result) SFX(probs_one)(const SFX(bconst) * k, SFX(operands) in, xent_want f) {
    SFX(result) r = SFX(result_init)();
    V p = in.x;
    if (f.prob) r.prob = p;
    V y = SFX(target)(k, in.y, f, &r);
    V one = VSET1(1);
    V floor = VSET1(-100.0);
    VM positive = VCMP(p, VZERO(), C_GT);
    VM below_one = VCMP(p, one, C_LT);
    V log_p = SFX(vlog)(VBLEND(positive, one, p));
    log_p = VBLEND(positive, floor, VMAX(floor, log_p));
    V log_1mp = SFX(vlog1m)(VSELZERO(below_one, p));
    log_1mp = VBLEND(below_one, floor, VMAX(floor, log_1mp));
    r.loss = VNEG(VADD(VMUL(y, log_p), VMUL(VSUB(one, y), log_1mp)));
    if (f.G) {
        /* PyTorch clamps at a C++ float 1e-12 (9.99999996e-13), even for float64 */
        V denom = VMAX(VSET1((double)1e-12f), VMUL(p, VSUB(one, p)));
        r.grad = VDIV(VSUB(p, y), denom);
    }
    SFX(finish)(k, &r, in.w, f);
    return r;
}

/* no weight, pos_weight or ignore_index (the front end passes none) */
XENT_INLINE SFX(result) SFX(focal_one)(const SFX(bconst) * k, SFX(operands) in, xent_want f) {
    SFX(result) r = SFX(result_init)();
    V x = in.x, y = SFX(target)(k, in.y, f, &r); /* only xent eval smooths a focal target */
    V one = VSET1(1);
    V e = SFX(vexp_nonpos)(VNABS(x));
    V u = VADD(one, e);
    V big = XENT_F64 ? VDIV(one, u) : VRECIP(u);
    V small = VMUL(e, big);
    VM nonneg = VCMP(x, VZERO(), C_GE);
    V sig = VBLEND(nonneg, small, big);
    V sig_neg = VBLEND(nonneg, big, small);
    if (f.prob) r.prob = sig;
    V l1p = SFX(vlog1p_unit)(e, u, big);
    V neg = VSUB(one, y);
    V ce = SFX(softplus_pair)(VBLEND(nonneg, VNEG(y), neg), x, neg, y, l1p, 0);
    V m = VADD(VMUL(y, sig_neg), VMUL(neg, sig));
    V modulator = SFX(vpow)(m, &k->pw_mod);
    V loss = VMUL(ce, modulator);
    V balance = one;
    if (k->use_alpha) {
        balance = VADD(VMUL(k->alpha, y), VMUL(k->one_minus_alpha, neg));
        loss = VMUL(balance, loss);
    }
    if (f.G) {
        V dce = VSUB(VMUL(neg, sig), VMUL(y, sig_neg));
        V dm = VMUL(VSUB(one, VMUL(VSET1(2), y)), VMUL(sig, sig_neg));
        VM positive = VCMP(m, VZERO(), C_GT);
        V m_safe = VBLEND(positive, one, m);
        /* gamma m^gamma (dm / m), as the reference: m^(gamma - 1) would overflow at a
         * tiny m (gamma < 1) and give 0 * inf = nan; dm / m is bounded */
        V dmod = VMUL(VMUL(k->gamma, modulator), VDIV(dm, m_safe));
        dmod = VSELZERO(positive, dmod);
        /* dmod = 0 at x = +-inf where ce is infinite: 0, not inf * 0 = nan */
        V grad = VADD(VMUL(dce, modulator), SFX(times_or_zero)(dmod, ce));
        if (k->use_alpha) grad = VMUL(balance, grad);
        if (k->scale) grad = VMUL(grad, k->gscale);
        r.grad = grad;
    }
    r.loss = loss;
    return r;
}

/* An array read W elements at a time from its start p (p[j .. j + W) for j = 0, W,
 * 2W, ...) with loads at VALIGN-aligned addresses: NumPy's large arrays start 16
 * bytes into a page, where every unaligned AVX-512 load splits a cache line (about
 * a fifth of the binary kernels' time). Each vector is put together from two aligned
 * ones, so it holds the same elements in the same lanes as an unaligned load: the
 * results do not depend on the address. */
typedef struct {
    int shift; /* p's offset from the aligned address before it, in elements (0: aligned
                  already, or not a whole number of elements: plain loads) */
    VI index;
} SFX(stream);

XENT_INLINE SFX(stream) SFX(stream_of)(const ST *p) {
    SFX(stream) st;
    size_t bytes = (size_t)((uintptr_t)p % VALIGN);
    /* half storage: plain loads (a vector is half a cache line; torch's tensors are
     * 64-byte aligned) */
    st.shift = XENT_HALF || bytes % sizeof(T) ? 0 : (int)(bytes / sizeof(T));
    st.index = VSHIFT_INDEX(st.shift);
    return st;
}

/* p[j .. j + 2W) as two vectors. The aligned loads cover p[j - shift, j + 3W - shift):
 * taken where that stays inside [0, len) (not at j = 0, whose first aligned vector
 * starts before p), else two plain loads. */
XENT_INLINE void SFX(stream_load2)(const SFX(stream) * st, const ST *p, int64_t j, int64_t len,
                                   V *v0, V *v1) {
#if !XENT_HALF
    if (st->shift && j >= st->shift && j + 3 * W - st->shift <= len) {
        const T *q = p + j - st->shift;
        V a0 = VLOAD(q), a1 = VLOAD(q + W), a2 = VLOAD(q + 2 * W);
        *v0 = VSHIFT2(a0, a1, st->index);
        *v1 = VSHIFT2(a1, a2, st->index);
        return;
    }
#else
    (void)st;
    (void)len;
#endif
    *v0 = SLOAD(p + j);
    *v1 = SLOAD(p + j + W);
}

/* One segment [i, i + len) in which w and pw are contiguous. The constants and
 * the accumulator are copied to locals (vector types may alias the outputs, so
 * through pointers they would be reloaded at every store), and two vectors are
 * computed per iteration so that their long dependency chains overlap. */
#define XENT_SEGMENT(NAME, fn, pyname)                                                          \
    XENT_INLINE void SFX(seg_##fn)(const SFX(bconst) * kp, const xent_binary_args *a, int64_t i, \
                                   int64_t len, const ST *w, const ST *pw, SFX(acc_t) * accp,    \
                                   int G, int L, int X) {                                       \
        const SFX(bconst) kc = *kp;                                                             \
        const SFX(bconst) *k = &kc;                                                             \
        SFX(acc_t) ac = *accp;                                                                  \
        SFX(acc_t) *acc = &ac;                                                                  \
        const ST *x = (const ST *)a->x + i, *y = (const ST *)a->y + i;                            \
        ST *lo = L ? (ST *)a->loss + i : NULL;                                                    \
        ST *go = G ? (ST *)a->grad + i : NULL;                                                    \
        const xent_want f = {G, X, w != NULL, pw != NULL, 0};                                   \
        int count = X && k->has_ignore;                                                         \
        V one = VSET1(1);                                                                       \
        int64_t j = 0;                                                                          \
        const SFX(stream) sx = SFX(stream_of)(x), sy = SFX(stream_of)(y);                       \
        for (; j + 2 * W <= len; j += 2 * W) {                                                  \
            SFX(operands) in0, in1;                                                             \
            SFX(stream_load2)(&sx, x, j, len, &in0.x, &in1.x);                                  \
            SFX(stream_load2)(&sy, y, j, len, &in0.y, &in1.y);                                  \
            in0.w = f.has_w ? SLOAD(w + j) : one;                                               \
            in1.w = f.has_w ? SLOAD(w + j + W) : one;                                           \
            in0.pw = f.has_pw ? SLOAD(pw + j) : one;                                            \
            in1.pw = f.has_pw ? SLOAD(pw + j + W) : one;                                        \
            SFX(result) r0 = SFX(fn##_one)(k, in0, f);                                          \
            SFX(result) r1 = SFX(fn##_one)(k, in1, f);                                          \
            if (G) {                                                                            \
                SSTORE(go + j, r0.grad);                                                        \
                SSTORE(go + j + W, r1.grad);                                                    \
            }                                                                                   \
            if (L) {                                                                            \
                SSTORE(lo + j, r0.loss);                                                        \
                SSTORE(lo + j + W, r1.loss);                                                    \
            } else {                                                                            \
                SFX(acc_add)(acc, VADD(r0.loss, r1.loss)); /* pairs: see xent_acc.h */          \
            }                                                                                   \
            if (count) acc->count += VMASK_COUNT(r0.valid) + VMASK_COUNT(r1.valid);             \
        }                                                                                       \
        for (; j + W <= len; j += W) {                                                          \
            SFX(operands) in = {SLOAD(x + j), SLOAD(y + j), f.has_w ? SLOAD(w + j) : one,       \
                                f.has_pw ? SLOAD(pw + j) : one};                                \
            SFX(result) r = SFX(fn##_one)(k, in, f);                                            \
            if (G) SSTORE(go + j, r.grad);                                                      \
            if (L) SSTORE(lo + j, r.loss);                                                      \
            else SFX(acc_add)(acc, r.loss);                                                     \
            if (count) acc->count += VMASK_COUNT(r.valid);                                      \
        }                                                                                       \
        if (j < len) { /* the last partial vector, through zero-padded copies */                \
            int rem = (int)(len - j);                                                           \
            ST bx[W], by[W], bw[W], bp[W], bl[W], bg[W];                                         \
            for (int q = 0; q < W; q++) bx[q] = by[q] = bw[q] = bp[q] = 0;                      \
            memcpy(bx, x + j, rem * sizeof(ST));                                                 \
            memcpy(by, y + j, rem * sizeof(ST));                                                 \
            if (f.has_w) memcpy(bw, w + j, rem * sizeof(ST));                                    \
            if (f.has_pw) memcpy(bp, pw + j, rem * sizeof(ST));                                  \
            VM lanes = VMASK_FIRST(rem);                                                        \
            SFX(operands) in = {SLOAD(bx), SLOAD(by), f.has_w ? SLOAD(bw) : one,                \
                                f.has_pw ? SLOAD(bp) : one};                                    \
            SFX(result) r = SFX(fn##_one)(k, in, f);                                            \
            if (G) {                                                                            \
                SSTORE(bg, r.grad);                                                             \
                memcpy(go + j, bg, rem * sizeof(ST));                                            \
            }                                                                                   \
            if (L) {                                                                            \
                SSTORE(bl, r.loss);                                                             \
                memcpy(lo + j, bl, rem * sizeof(ST));                                            \
            } else                                                                              \
                SFX(acc_add)(acc, VSELZERO(lanes, r.loss));                                     \
            if (count) acc->count += VMASK_COUNT(VM_AND(r.valid, lanes));                       \
        }                                                                                       \
        *accp = ac;                                                                             \
    }

XENT_BINARY_OPS(XENT_SEGMENT)

/* Specialised on G (gradient), L (elementwise loss) and X (any of weight,
 * pos_weight, ignore_index, label smoothing): the plain case carries no tests.
 * Variant op * 8 + G * 4 + L * 2 + X. */
#define XENT_SEG_CASE(fn, op, G, L, X)                                                          \
    case (op) * 8 + (G) * 4 + (L) * 2 + (X):                                                    \
        SFX(seg_##fn)(&k, a, i, len, w, pw, &acc, G, L, X);                                     \
        break;
#define XENT_SEG_CASES(NAME, fn, pyname)                                                        \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 0, 0, 0)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 0, 0, 1)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 0, 1, 0)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 0, 1, 1)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 1, 0, 0)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 1, 0, 1)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 1, 1, 0)                                                  \
    XENT_SEG_CASE(fn, XENT_OP_##NAME, 1, 1, 1)

/* The segment starting at element i (< end): its length, at most end - i, such that
 * the periodic w and pw (NULL when absent) are contiguous over it from *w and *pw. */
XENT_INLINE int64_t SFX(segment)(const xent_binary_args *a, int64_t i, int64_t end, const ST **w,
                                 const ST **pw) {
    int64_t len = end - i;
    *w = *pw = NULL;
    if (a->w) {
        int64_t o = i % a->w_period;
        *w = (const ST *)a->w + o;
        if (a->w_period - o < len) len = a->w_period - o;
    }
    if (a->pw) {
        int64_t o = i % a->pw_period;
        *pw = (const ST *)a->pw + o;
        if (a->pw_period - o < len) len = a->pw_period - o;
    }
    return len;
}

void SFX(xent_binary_block)(const xent_binary_args *a, int64_t b, xent_partial *out) {
    SFX(bconst) k;
    SFX(bconst_init)(&k, a);
    SFX(acc_t) acc;
    SFX(acc_init)(&acc);
    int64_t i = b * a->block, end = i + a->block;
    if (end > a->n) end = a->n;
    int G = a->grad != NULL, L = a->loss != NULL;
    int X = a->w != NULL || a->pw != NULL || a->has_ignore || a->ls != 0;
    int variant = a->op * 8 + G * 4 + L * 2 + X;
    while (i < end) {
        const ST *w, *pw;
        int64_t len = SFX(segment)(a, i, end, &w, &pw);
        switch (variant) {
            XENT_BINARY_OPS(XENT_SEG_CASES)
        default: break;
        }
        i += len;
    }
    SFX(acc_finish)(&acc, out);
}
