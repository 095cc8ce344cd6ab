/* Sums of losses: float32 values are widened and added in float64 lanes,
 * float64 values are added with a per-lane compensated (TwoSum) accumulator.
 * The binary kernels add two vectors of losses (elements j and j + W) in T
 * before they come here: one more rounding of half an ulp per pair, for half the
 * widening work, and no error that grows with the length. The lanes are combined
 * in a fixed order, so a block's sum depends only on the block's data. The
 * double vectors (VD, WD lanes) come from xent_simd.h. */

typedef struct {
    VD a, b; /* float32: the two widened halves; float64: sum and compensation */
    int64_t count;
} SFX(acc_t);

XENT_INLINE void SFX(acc_init)(SFX(acc_t) * acc) {
    acc->a = VD_ZERO();
    acc->b = VD_ZERO();
    acc->count = 0;
}

XENT_INLINE void SFX(acc_add)(SFX(acc_t) * acc, V v) {
#if !XENT_F64
    acc->a = VD_ADD(acc->a, VD_LO(v));
#if W > 1
    acc->b = VD_ADD(acc->b, VD_HI(v));
#endif
#else
    /* TwoSum: s + e == acc->a + v exactly */
    VD s = VD_ADD(acc->a, v);
    VD bp = VD_SUB(s, acc->a);
    VD e = VD_ADD(VD_SUB(acc->a, VD_SUB(s, bp)), VD_SUB(v, bp));
    acc->a = s;
    acc->b = VD_ADD(acc->b, e);
#endif
}

/* (hi, lo) += v, compensated. An infinite (or nan) sum ends the compensation: its
 * error term would be inf - inf = nan, and hi alone carries the result. */
static inline void SFX(two_sum_into)(double *hi, double *lo, double v) {
    double s = *hi + v;
    if (!isfinite(s)) {
        *hi = s;
        return;
    }
    double bp = s - *hi;
    *lo += (*hi - (s - bp)) + (v - bp);
    *hi = s;
}

static inline void SFX(acc_finish)(SFX(acc_t) * acc, xent_partial *out) {
    double a[WD], b[WD];
    VD_STORE(a, acc->a);
    VD_STORE(b, acc->b);
    double hi = 0, lo = 0, plain = 0;
    for (int i = 0; i < WD; i++) plain += a[i];
#if !XENT_F64
    for (int i = 0; i < WD; i++) plain += b[i];
#endif
    if (!isfinite(plain)) {
        /* an infinite loss: the float64 compensation lanes hold inf - inf = nan */
        out->hi = plain;
        out->lo = 0;
        out->count = acc->count;
        return;
    }
    for (int i = 0; i < WD; i++) SFX(two_sum_into)(&hi, &lo, a[i]);
    for (int i = 0; i < WD; i++) SFX(two_sum_into)(&hi, &lo, b[i]);
    out->hi = hi;
    out->lo = lo;
    out->count = acc->count;
}
