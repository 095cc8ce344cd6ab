/* Vectorised exp, log, log1p and pow, written once against xent_simd.h.
 *
 * exp: Cody-Waite reduction x = n ln2 + r (|r| <= ln2/2) with ln2 split so that
 * n * LN2_HI is exact, a near-minimax polynomial for exp(r) (Chebyshev fit in
 * mpmath, max error 8e-9 (float32) / 2e-19 (float64) relative), and 2^n applied
 * as two exact powers of two so that subnormal results are rounded once.
 * log: reduction to m in [sqrt(1/2), sqrt(2)), then log1p(m - 1) by a degree-8
 * polynomial (float32, Chebyshev fit) or fdlibm's s = f / (2 + f) series
 * (float64). log1p(z) = log(1 + z) + c / (1 + z) with c the exact rounding error
 * of 1 + z. Accuracy is checked in tests/test_kernels.py against mpmath. */

#if !XENT_F64
#define EXP_LO -104.0f /* below: exp rounds to 0 */
#define EXP_HI 89.0f   /* above: inf */
#define LOG2E 1.44269502162933349609375f
#define LN2_HI 0.693145751953125f /* 16 significant bits: n * LN2_HI is exact */
#define LN2_LO 1.428606765330187045e-06f
#define LOG_LN2_HI 0.693359375f
#define LOG_LN2_LO -2.12194440e-4f
#define SQRT2 1.41421353816986083984375f
#else
#define EXP_LO -745.2
#define EXP_HI 710.0
#define LOG2E 1.4426950408889634074
#define LN2_HI 6.93147180369123816490e-01 /* fdlibm: 32 significant bits */
#define LN2_LO 1.90821492927058770002e-10
#define LOG_LN2_HI 6.93147180369123816490e-01
#define LOG_LN2_LO 1.90821492927058770002e-10
#define SQRT2 1.41421356237309514547
#endif

/* exp(a) for any a (nan propagates; overflow gives inf, underflow 0 or subnormal);
 * nonpositive: the caller knows a <= 0 or nan (no overflow test). */
XENT_INLINE V SFX(vexp_)(V a, int nonpositive) {
    a = VMAX(VSET1(EXP_LO), a); /* operand order keeps a nan a */
    if (!nonpositive) a = VMIN(VSET1(EXP_HI), a);
    V magic = VSET1(T_MAGIC);
    V t = VFMA(a, VSET1(LOG2E), magic);
    V n = VSUB(t, magic);
    V r = VFNMA(n, VSET1(LN2_HI), a);
    r = VFNMA(n, VSET1(LN2_LO), r);
#if !XENT_F64
    V p = VSET1(0.001392691805594798160633699f);
    p = VFMA(p, r, VSET1(0.008363767023287036965733158f));
    p = VFMA(p, r, VSET1(0.04166655016272030050937203f));
    p = VFMA(p, r, VSET1(0.166665734238597413911894f));
    p = VFMA(p, r, VSET1(0.5f));
    /* 1 + r (1 + r q(r)), Horner to the end: one operation fewer than float64's
     * r + r^2 q(r), + 1 below, and within 0.951 ulp of exp over all float32
     * inputs, against 1.07 (tools/exp_ulp.c checks every input) */
    p = VFMA(p, r, VSET1(1));
    p = VFMA(p, r, VSET1(1));
#else
    V p = VSET1(2.09154335980760045114e-9);
    p = VFMA(p, r, VSET1(2.510626255087907866511e-8));
    p = VFMA(p, r, VSET1(2.755727183153612967124e-7));
    p = VFMA(p, r, VSET1(2.755725286336732036959e-6));
    p = VFMA(p, r, VSET1(2.480158732699004882583e-5));
    p = VFMA(p, r, VSET1(1.984126987684035586366e-4));
    p = VFMA(p, r, VSET1(1.388888888888333167335e-3));
    p = VFMA(p, r, VSET1(8.333333333325551699858e-3));
    p = VFMA(p, r, VSET1(4.166666666666667007055e-2));
    p = VFMA(p, r, VSET1(1.666666666666667143306e-1));
    p = VFMA(p, r, VSET1(0.5));
    p = VFMA(VMUL(p, r), r, r); /* r + r^2 q(r) */
    p = VADD(p, VSET1(1));
#endif
#ifdef VSCALEF
    return VSCALEF(p, n); /* p 2^n, subnormal results rounded once */
#else
    /* n = n1 + n2 with both halves in the normal exponent range: p 2^n1 is exact
     * and the second product rounds once, also to a subnormal */
    V t1 = VFMA(n, VSET1(0.5), magic);
    V n1 = VSUB(t1, magic);
    V t2 = VADD(VSUB(n, n1), magic);
    VI k = VISET1(T_BIAS - T_MAGIC_BITS);
    V s1 = VI_AS(VISHL(VIADD(VAS_I(t1), k), T_MBITS));
    V s2 = VI_AS(VISHL(VIADD(VAS_I(t2), k), T_MBITS));
    return VMUL(VMUL(p, s1), s2);
#endif
}

XENT_INLINE V SFX(vexp)(V a) { return SFX(vexp_)(a, 0); }
XENT_INLINE V SFX(vexp_nonpos)(V a) { return SFX(vexp_)(a, 1); }

/* log(m) + k ln2 for m in [sqrt(1/2), sqrt(2)] and a small integer k (as T). */
XENT_INLINE V SFX(vlog_core)(V m, V k) {
    V f = VSUB(m, VSET1(1));
#if !XENT_F64
    V z = VMUL(f, f);
    V p = VSET1(0.06971611471451177831673929f);
    p = VFMA(p, f, VSET1(-0.1147973384663763555589416f));
    p = VFMA(p, f, VSET1(0.1168541992348673930784973f));
    p = VFMA(p, f, VSET1(-0.1242568733145110611342452f));
    p = VFMA(p, f, VSET1(0.1424905764569748040361473f));
    p = VFMA(p, f, VSET1(-0.1666780231950125407375513f));
    p = VFMA(p, f, VSET1(0.2000071574889210174265465f));
    p = VFMA(p, f, VSET1(-0.2499999695795088204476565f));
    p = VFMA(p, f, VSET1(0.3333333118003004805203011f));
    V y = VMUL(VMUL(f, z), p);
    y = VFMA(k, VSET1(LOG_LN2_LO), y);
    y = VFNMA(VSET1(0.5f), z, y);
    V x = VADD(f, y);
    return VFMA(k, VSET1(LOG_LN2_HI), x);
#else
    V s = VDIV(f, VADD(VSET1(2.0), f));
    V z = VMUL(s, s);
    V w = VMUL(z, z);
    V t1 = VFMA(w, VSET1(1.531383769920937332e-01), VSET1(2.222219843214978396e-01));
    t1 = VFMA(w, t1, VSET1(3.999999999940941908e-01));
    t1 = VMUL(w, t1);
    V t2 = VFMA(w, VSET1(1.479819860511658591e-01), VSET1(1.818357216161805012e-01));
    t2 = VFMA(w, t2, VSET1(2.857142874366239149e-01));
    t2 = VFMA(w, t2, VSET1(6.666666666666735130e-01));
    t2 = VMUL(z, t2);
    V R = VADD(t2, t1);
    V hfsq = VMUL(VMUL(VSET1(0.5), f), f);
    /* k ln2_hi - ((hfsq - (s (hfsq + R) + k ln2_lo)) - f) */
    V inner = VFMA(s, VADD(hfsq, R), VMUL(k, VSET1(LOG_LN2_LO)));
    V res = VSUB(VSUB(hfsq, inner), f);
    return VFNMA(VSET1(1), res, VMUL(k, VSET1(LOG_LN2_HI)));
#endif
}

/* log(u) for u in [1, 2]. */
XENT_INLINE V SFX(vlog_1to2)(V u) {
    VM big = VCMP(u, VSET1(SQRT2), C_GT);
    V m = VBLEND(big, u, VMUL(u, VSET1(0.5)));
    V k = VSELZERO(big, VSET1(1));
    return SFX(vlog_core)(m, k);
}

/* log1p(e) for e in [0, 1], given u = 1 + e (rounded) and inv = 1 / u.
 * float32: e + e (e q(e)) with q a degree-9 Chebyshev fit of (log1p(e) / e - 1) / e
 * on [0, 1] (max error 5e-9); u and inv are not used.
 * float64: log(u) + c / u, c the exact rounding error of u; c / u is the whole
 * result when e < ulp(1), so inv must be exact. */
XENT_INLINE V SFX(vlog1p_unit)(V e, V u, V inv) {
#if !XENT_F64
    (void)u;
    (void)inv;
    /* Estrin: shorter dependency chains than Horner */
    V e2 = VMUL(e, e), e4 = VMUL(e2, e2);
    V p98 = VFMA(VSET1(0.0028016419928f), e, VSET1(-0.0171842669824f));
    V p76 = VFMA(VSET1(0.0493099734345f), e, VSET1(-0.0913941377401f));
    V p54 = VFMA(VSET1(0.130333642382f), e, VSET1(-0.163651528692f));
    V p32 = VFMA(VSET1(0.199567079523f), e, VSET1(-0.249967599083f));
    V p10 = VFMA(VSET1(0.333332373462f), e, VSET1(-0.499999995222f));
    V p96 = VFMA(p98, e2, p76);
    V p52 = VFMA(p54, e2, p32);
    V p = VFMA(VFMA(p96, e4, p52), e2, p10);
    return VFMA(e, VMUL(e, p), e);
#else
    V c = VSUB(e, VSUB(u, VSET1(1))); /* exact: 1 >= e */
    return VFMA(c, inv, SFX(vlog_1to2)(u));
#endif
}

/* log(a) for any a: -inf at 0, nan below 0 and at nan, inf at inf; subnormals ok. */
XENT_INLINE V SFX(vlog)(V a) {
    VM sub = VCMP(a, VSET1(T_MIN_NORMAL), C_LT);
#if !XENT_F64
    V scaled = VBLEND(sub, a, VMUL(a, VSET1(8388608.0f))); /* 2^23 */
#else
    V scaled = VBLEND(sub, a, VMUL(a, VSET1(4503599627370496.0))); /* 2^52 */
#endif
    VI bits = VAS_I(scaled);
    VI one = VAS_I(VSET1(1));
    VI mant_mask = VISHR(VISET1(-1), T_EBITS + 1);
    V m = VI_AS(VIOR(VIAND(bits, mant_mask), one)); /* [1, 2) */
    /* biased exponent as a float: 2^MBITS + e - 2^MBITS (positive a: no sign bit) */
    V two_m = VI_AS(VISHL(VISET1(T_BIAS + T_MBITS), T_MBITS));
    V e = VSUB(VI_AS(VIOR(VISHR(bits, T_MBITS), VAS_I(two_m))), two_m);
    V k = VSUB(e, VSET1(T_BIAS));
    k = VBLEND(sub, k, VSUB(k, VSET1(T_MBITS)));
    VM big = VCMP(m, VSET1(SQRT2), C_GT);
    m = VBLEND(big, m, VMUL(m, VSET1(0.5)));
    k = VBLEND(big, k, VADD(k, VSET1(1)));
    V r = SFX(vlog_core)(m, k);
    V inf = VSET1(INFINITY);
    r = VBLEND(VCMP(a, VZERO(), C_EQ), r, VNEG(inf));
    r = VBLEND(VCMP(a, inf, C_EQ), r, inf);
    r = VBLEND(VM_OR(VCMP(a, VZERO(), C_LT), VCMP(a, a, C_UNORD)), r, VSET1(NAN));
    return r;
}

/* log1p(-p) for p in [0, 1) (p = 1 gives -inf). */
XENT_INLINE V SFX(vlog1m)(V p) {
    V u = VSUB(VSET1(1), p);
    V c = VSUB(VNEG(p), VSUB(u, VSET1(1))); /* exact: 1 >= p */
    V corr = VSELZERO(VCMP(c, VZERO(), C_NE), VDIV(c, u)); /* all of it when p < ulp(1) */
    return VADD(SFX(vlog)(u), corr);
}

/* ------------------------------------------------------------------ pow(m, g) */

enum { POW_ONE, POW_ID, POW_SQUARE, POW_SQRT, POW_INT, POW_GENERAL };

typedef struct {
    int mode;
    int n; /* POW_INT: the exponent */
    T g;
} SFX(pow_spec);

/* NumPy's fast paths for array ** scalar (0, 1, 2, 0.5, -1), repeated squaring for
 * other small integers, and the C library's pow (powf for float32) otherwise. */
static inline SFX(pow_spec) SFX(pow_plan)(T g) {
    SFX(pow_spec) s;
    s.g = g;
    s.n = 0;
    if (g == 0) s.mode = POW_ONE;
    else if (g == 1) s.mode = POW_ID;
    else if (g == 2) s.mode = POW_SQUARE;
    else if (g == (T)0.5) s.mode = POW_SQRT;
    else if (g >= 3 && g <= 64 && g == (T)(int)g) {
        s.mode = POW_INT;
        s.n = (int)g;
    } else s.mode = POW_GENERAL;
    return s;
}

XENT_INLINE V SFX(vpow)(V m, const SFX(pow_spec) * s) {
    switch (s->mode) {
    case POW_ONE: return VSET1(1);
    case POW_ID: return m;
    case POW_SQUARE: return VMUL(m, m);
    case POW_SQRT: return VSQRT(m);
    case POW_INT: {
        V result = VSET1(1), base = m;
        int first = 1;
        for (int n = s->n; n; n >>= 1) {
            if (n & 1) {
                result = first ? base : VMUL(result, base);
                first = 0;
            }
            if (n > 1) base = VMUL(base, base);
        }
        return result;
    }
    default: {
        T buf[W];
        VSTORE(buf, m);
        for (int i = 0; i < W; i++) {
#if !XENT_F64
            buf[i] = powf(buf[i], s->g); /* as NumPy's float32 power */
#else
            buf[i] = pow(buf[i], s->g);
#endif
        }
        return VLOAD(buf);
    }
    }
}
