/* Vector abstraction: one set of names, one block per instruction set, two dtypes.
 *
 * Included by isa_kernels.c, compiled with XENT_ISA_NAME (a row of xent_isas.h),
 * XENT_ISA_<name> defined, and XENT_F64 set to 0 (float32) or 1 (float64). The
 * kernel bodies (xent_math.h, xent_acc.h, xent_binary.h, xent_eval.h,
 * xent_softmax.h) are written once against these names. Every operation is
 * explicit: no operation is fused unless written as VFMA/VFNMA (the extension is
 * compiled with -ffp-contract=off).
 *
 *   T  element type, V vector of W elements, VM lane mask, VI same-width integers
 *   VBLEND(m, a, b) = m ? b : a (per lane)
 *   VMAX(a, b) / VMIN(a, b) return b when either is nan (x86 semantics, kept in
 *   the baseline too): VMAX(c, x) propagates a nan x.
 *   VD is the double vector of WD lanes used to accumulate sums (float32 values
 *   are widened: VD_LO / VD_HI, the first and second half of a V).
 *   VALIGN: the alignment (bytes) at which a vector load splits no cache line;
 *   VSHIFT2(a, b, VSHIFT_INDEX(k)): lanes k .. k + W - 1 of the concatenation (a, b),
 *   0 <= k < W: a vector at an unaligned address from two aligned loads.
 *   Optional: VSCALEF(p, n) = p 2^n, VRECIP(a) ~ 1 / a, VMULZ(m, a, b) = m ? a b : 0.
 *
 * An instruction set is one block below, #if defined(XENT_ISA_<name>), defining
 * all of these; SFX(name) appends _<name>_<f32|f64|bf16|f16> to the kernels' names.
 * How arrays are read and written in their storage dtype is xent_store.h's.
 */

#include <math.h>
#include <stdint.h>
#include <string.h>

#ifndef XENT_HALF
#define XENT_HALF 0 /* the storage: 0, T itself; 1, bfloat16; 2, float16 (xent_store.h) */
#endif
#if XENT_HALF && XENT_F64
#error "half storage computes in float32: XENT_HALF needs XENT_F64=0"
#endif
#if XENT_HALF == 1
#define XENT_DT bf16
#elif XENT_HALF == 2
#define XENT_DT f16
#elif XENT_F64
#define XENT_DT f64
#else
#define XENT_DT f32
#endif
#define XENT_SFX_(name, isa, dt) name##_##isa##_##dt
#define XENT_SFX(name, isa, dt) XENT_SFX_(name, isa, dt)
#define SFX(name) XENT_SFX(name, XENT_ISA_NAME, XENT_DT)

/* ------------------------------------------------------------------ AVX-512 */
#if defined(XENT_ISA_avx512) || defined(XENT_ISA_avx512bf16)
#include <immintrin.h>
#if !XENT_F64
#define T float
#define V __m512
#define VM __mmask16
#define VI __m512i
#define W 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VLOADN(p, r) _mm512_maskz_loadu_ps(VMASK_FIRST(r), (p))
#define VSTOREN(p, v, r) _mm512_mask_storeu_ps((p), VMASK_FIRST(r), (v))
#define VSET1(s) _mm512_set1_ps((float)(s))
#define VADD _mm512_add_ps
#define VSUB _mm512_sub_ps
#define VMUL _mm512_mul_ps
#define VDIV _mm512_div_ps
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VFNMA(a, b, c) _mm512_fnmadd_ps((a), (b), (c))
#define VMAX _mm512_max_ps
#define VMIN _mm512_min_ps
#define VSQRT _mm512_sqrt_ps
#define VCMP(a, b, op) _mm512_cmp_ps_mask((a), (b), (op))
#define VBLEND(m, a, b) _mm512_mask_blend_ps((m), (a), (b))
#define VAS_I(v) _mm512_castps_si512(v)
#define VI_AS(i) _mm512_castsi512_ps(i)
#define VIADD _mm512_add_epi32
#define VISET1(s) _mm512_set1_epi32((int32_t)(s))
#define VISHL(i, n) _mm512_slli_epi32((i), (n))
#define VISHR(i, n) _mm512_srli_epi32((i), (n))
#define VIAND _mm512_and_si512
#define VIOR _mm512_or_si512
#define VIXOR _mm512_xor_si512
#define VMASK_FIRST(k) ((__mmask16)((1u << (k)) - 1u))
#define VSCALEF(p, n) _mm512_scalef_ps((p), (n))
#define VRECIP(a) xent_recip_avx512_f32(a)
static inline __m512 xent_recip_avx512_f32(__m512 a) {
    __m512 r = _mm512_rcp14_ps(a);
    return _mm512_fmadd_ps(r, _mm512_fnmadd_ps(a, r, _mm512_set1_ps(1.0f)), r);
}
#define VMULZ(m, a, b) _mm512_maskz_mul_ps((m), (a), (b))
#define VMASK_COUNT(m) __builtin_popcount((unsigned)(m))
#define VMASK_ANY(m) ((m) != 0)
#define VSHIFT_INDEX(k)                                                                         \
    _mm512_add_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),   \
                     _mm512_set1_epi32(k))
#define VSHIFT2(a, b, idx) _mm512_permutex2var_ps((a), (idx), (b))
#else
#define T double
#define V __m512d
#define VM __mmask8
#define VI __m512i
#define W 8
#define VLOAD(p) _mm512_loadu_pd(p)
#define VSTORE(p, v) _mm512_storeu_pd((p), (v))
#define VLOADN(p, r) _mm512_maskz_loadu_pd(VMASK_FIRST(r), (p))
#define VSTOREN(p, v, r) _mm512_mask_storeu_pd((p), VMASK_FIRST(r), (v))
#define VSET1(s) _mm512_set1_pd((double)(s))
#define VADD _mm512_add_pd
#define VSUB _mm512_sub_pd
#define VMUL _mm512_mul_pd
#define VDIV _mm512_div_pd
#define VFMA(a, b, c) _mm512_fmadd_pd((a), (b), (c))
#define VFNMA(a, b, c) _mm512_fnmadd_pd((a), (b), (c))
#define VMAX _mm512_max_pd
#define VMIN _mm512_min_pd
#define VSQRT _mm512_sqrt_pd
#define VCMP(a, b, op) _mm512_cmp_pd_mask((a), (b), (op))
#define VBLEND(m, a, b) _mm512_mask_blend_pd((m), (a), (b))
#define VAS_I(v) _mm512_castpd_si512(v)
#define VI_AS(i) _mm512_castsi512_pd(i)
#define VIADD _mm512_add_epi64
#define VISET1(s) _mm512_set1_epi64((int64_t)(s))
#define VISHL(i, n) _mm512_slli_epi64((i), (n))
#define VISHR(i, n) _mm512_srli_epi64((i), (n))
#define VIAND _mm512_and_si512
#define VIOR _mm512_or_si512
#define VIXOR _mm512_xor_si512
#define VMASK_FIRST(k) ((__mmask8)((1u << (k)) - 1u))
#define VSCALEF(p, n) _mm512_scalef_pd((p), (n))
#define VMULZ(m, a, b) _mm512_maskz_mul_pd((m), (a), (b))
#define VMASK_COUNT(m) __builtin_popcount((unsigned)(m))
#define VMASK_ANY(m) ((m) != 0)
#define VSHIFT_INDEX(k)                                                                         \
    _mm512_add_epi64(_mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7), _mm512_set1_epi64(k))
#define VSHIFT2(a, b, idx) _mm512_permutex2var_pd((a), (idx), (b))
#endif
#define VALIGN 64
#define VD __m512d
#define WD 8
#define VD_ZERO() _mm512_setzero_pd()
#define VD_ADD _mm512_add_pd
#define VD_SUB _mm512_sub_pd
#define VD_STORE(p, v) _mm512_storeu_pd((p), (v))
#if !XENT_F64
#define VD_LO(v) _mm512_cvtps_pd(_mm512_castps512_ps256(v))
#define VD_HI(v) _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)))
#endif
#define VM_AND(a, b) ((a) & (b))
#define VM_OR(a, b) ((a) | (b))
#define VM_ANDNOT(a, b) ((VM)(~(a) & (b))) /* !a && b */
#define VM_ALL ((VM)((1u << W) - 1u))
#define C_LT _CMP_LT_OQ
#define C_LE _CMP_LE_OQ
#define C_GT _CMP_GT_OQ
#define C_GE _CMP_GE_OQ
#define C_EQ _CMP_EQ_OQ
#define C_NE _CMP_NEQ_UQ
#define C_UNORD _CMP_UNORD_Q

/* ------------------------------------------------------------------ AVX2 + FMA */
#elif defined(XENT_ISA_avx2)
#include <immintrin.h>
#if !XENT_F64
#define T float
#define V __m256
#define VI __m256i
#define W 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VLOADN(p, r) _mm256_maskload_ps((p), _mm256_castps_si256(VMASK_FIRST(r)))
#define VSTOREN(p, v, r) _mm256_maskstore_ps((p), _mm256_castps_si256(VMASK_FIRST(r)), (v))
#define VSET1(s) _mm256_set1_ps((float)(s))
#define VADD _mm256_add_ps
#define VSUB _mm256_sub_ps
#define VMUL _mm256_mul_ps
#define VDIV _mm256_div_ps
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VFNMA(a, b, c) _mm256_fnmadd_ps((a), (b), (c))
#define VMAX _mm256_max_ps
#define VMIN _mm256_min_ps
#define VSQRT _mm256_sqrt_ps
#define VCMP(a, b, op) _mm256_cmp_ps((a), (b), (op))
#define VBLEND(m, a, b) _mm256_blendv_ps((a), (b), (m))
#define VAS_I(v) _mm256_castps_si256(v)
#define VI_AS(i) _mm256_castsi256_ps(i)
#define VIADD _mm256_add_epi32
#define VISET1(s) _mm256_set1_epi32((int32_t)(s))
#define VISHL(i, n) _mm256_slli_epi32((i), (n))
#define VISHR(i, n) _mm256_srli_epi32((i), (n))
#define VIAND _mm256_and_si256
#define VIOR _mm256_or_si256
#define VIXOR _mm256_xor_si256
#define VM_AND _mm256_and_ps
#define VM_OR _mm256_or_ps
#define VM_ANDNOT _mm256_andnot_ps
#define VMASK_BITS(m) _mm256_movemask_ps(m)
#define VM_FIRST_IOTA _mm256_setr_ps(0, 1, 2, 3, 4, 5, 6, 7)
#define VSHIFT_INDEX(k)                                                                         \
    _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(k))
#define VSHIFT2(a, b, idx) xent_shift2_avx2((a), (b), (idx))
#else
#define T double
#define V __m256d
#define VI __m256i
#define W 4
#define VLOAD(p) _mm256_loadu_pd(p)
#define VSTORE(p, v) _mm256_storeu_pd((p), (v))
#define VLOADN(p, r) _mm256_maskload_pd((p), _mm256_castpd_si256(VMASK_FIRST(r)))
#define VSTOREN(p, v, r) _mm256_maskstore_pd((p), _mm256_castpd_si256(VMASK_FIRST(r)), (v))
#define VSET1(s) _mm256_set1_pd((double)(s))
#define VADD _mm256_add_pd
#define VSUB _mm256_sub_pd
#define VMUL _mm256_mul_pd
#define VDIV _mm256_div_pd
#define VFMA(a, b, c) _mm256_fmadd_pd((a), (b), (c))
#define VFNMA(a, b, c) _mm256_fnmadd_pd((a), (b), (c))
#define VMAX _mm256_max_pd
#define VMIN _mm256_min_pd
#define VSQRT _mm256_sqrt_pd
#define VCMP(a, b, op) _mm256_cmp_pd((a), (b), (op))
#define VBLEND(m, a, b) _mm256_blendv_pd((a), (b), (m))
#define VAS_I(v) _mm256_castpd_si256(v)
#define VI_AS(i) _mm256_castsi256_pd(i)
#define VIADD _mm256_add_epi64
#define VISET1(s) _mm256_set1_epi64x((int64_t)(s))
#define VISHL(i, n) _mm256_slli_epi64((i), (n))
#define VISHR(i, n) _mm256_srli_epi64((i), (n))
#define VIAND _mm256_and_si256
#define VIOR _mm256_or_si256
#define VIXOR _mm256_xor_si256
#define VM_AND _mm256_and_pd
#define VM_OR _mm256_or_pd
#define VM_ANDNOT _mm256_andnot_pd
#define VMASK_BITS(m) _mm256_movemask_pd(m)
#define VM_FIRST_IOTA _mm256_setr_pd(0, 1, 2, 3)
/* the doubles' 32-bit halves: index pairs 2(k + q), 2(k + q) + 1 */
#define VSHIFT_INDEX(k)                                                                         \
    _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(2 * (k)))
#define VSHIFT2(a, b, idx)                                                                      \
    _mm256_castps_pd(xent_shift2_avx2(_mm256_castpd_ps(a), _mm256_castpd_ps(b), (idx)))
#endif
#define VM V
#define VM_ALL VCMP(VSET1(0), VSET1(0), C_EQ)
#define VMASK_FIRST(k) VCMP(VM_FIRST_IOTA, VSET1((double)(k)), C_LT)
#define VMASK_COUNT(m) __builtin_popcount((unsigned)VMASK_BITS(m))
#define VMASK_ANY(m) (VMASK_BITS(m) != 0)
#define VALIGN 32
#define VD __m256d
#define WD 4
#define VD_ZERO() _mm256_setzero_pd()
#define VD_ADD _mm256_add_pd
#define VD_SUB _mm256_sub_pd
#define VD_STORE(p, v) _mm256_storeu_pd((p), (v))
#if !XENT_F64
#define VD_LO(v) _mm256_cvtps_pd(_mm256_castps256_ps128(v))
#define VD_HI(v) _mm256_cvtps_pd(_mm256_extractf128_ps((v), 1))
#endif
#ifndef XENT_SHIFT2_AVX2
#define XENT_SHIFT2_AVX2
/* 32-bit lanes idx[q] (0..15) of the concatenation (a, b) */
static inline __m256 xent_shift2_avx2(__m256 a, __m256 b, __m256i idx) {
    __m256 from_b = _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(a, idx), _mm256_permutevar8x32_ps(b, idx),
                            from_b);
}
#endif
#define C_LT _CMP_LT_OQ
#define C_LE _CMP_LE_OQ
#define C_GT _CMP_GT_OQ
#define C_GE _CMP_GE_OQ
#define C_EQ _CMP_EQ_OQ
#define C_NE _CMP_NEQ_UQ
#define C_UNORD _CMP_UNORD_Q

/* ------------------------------------------------------------------ portable baseline */
#elif defined(XENT_ISA_baseline)
#if defined(__GNUC__) || defined(__clang__)
/* 16-byte GCC/Clang vectors (4 floats, 2 doubles): SSE2 on x86-64, NEON on arm64,
 * whatever the compiler makes of them elsewhere. C has no vector ?:, so blends are
 * bitwise on the comparisons' all-ones/all-zeros integer lanes. */
#if !XENT_F64
#define T float
#define W 4
typedef float xent_gv_f32 __attribute__((vector_size(16)));
typedef int32_t xent_gm_f32 __attribute__((vector_size(16)));
typedef uint32_t xent_gi_f32 __attribute__((vector_size(16)));
#define V xent_gv_f32
#define VM xent_gm_f32
#define VI xent_gi_f32
#define XENT_IOTA ((VM){0, 1, 2, 3})
#define XENT_GU uint32_t
#define VSQRT_1 sqrtf
#else
#define T double
#define W 2
typedef double xent_gv_f64 __attribute__((vector_size(16)));
typedef int64_t xent_gm_f64 __attribute__((vector_size(16)));
typedef uint64_t xent_gi_f64 __attribute__((vector_size(16)));
#define V xent_gv_f64
#define VM xent_gm_f64
#define VI xent_gi_f64
#define XENT_IOTA ((VM){0, 1})
#define XENT_GU uint64_t
#define VSQRT_1 sqrt
#endif
typedef double xent_gvd __attribute__((vector_size(16)));
static inline V SFX(gload)(const T *p) {
    V v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void SFX(gstore)(T *p, V v) { memcpy(p, &v, sizeof v); }
static inline V SFX(gloadn)(const T *p, int r) { /* r < W elements, the rest 0 */
    T b[W] = {0};
    memcpy(b, p, (size_t)r * sizeof(T));
    return SFX(gload)(b);
}
static inline void SFX(gstoren)(T *p, V v, int r) { memcpy(p, &v, (size_t)r * sizeof(T)); }
#define VLOAD(p) SFX(gload)(p)
#define VSTORE(p, v) SFX(gstore)((p), (v))
#define VLOADN(p, r) SFX(gloadn)((p), (r))
#define VSTOREN(p, v, r) SFX(gstoren)((p), (v), (r))
#define VSET1(s) ((V){0} + (T)(s))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
/* unfused, as the -ffp-contract=off build keeps it (a libm fma() would be slow) */
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VFNMA(a, b, c) ((c) - (a) * (b))
#define C_LT 1
#define C_LE 2
#define C_GT 3
#define C_GE 4
#define C_EQ 5
#define C_NE 6
#define C_UNORD 7
static inline VM SFX(gcmp)(V a, V b, int op) { /* op is a constant once inlined */
    switch (op) {
    case C_LT: return (VM)(a < b);
    case C_LE: return (VM)(a <= b);
    case C_GT: return (VM)(a > b);
    case C_GE: return (VM)(a >= b);
    case C_EQ: return (VM)(a == b);
    case C_NE: return ~(VM)(a == b);
    default: return (VM)(a != a) | (VM)(b != b);
    }
}
#define VCMP(a, b, op) SFX(gcmp)((a), (b), (op))
static inline V SFX(gblend)(VM m, V a, V b) {
    VI mi = (VI)m;
    return (V)(((VI)a & ~mi) | ((VI)b & mi));
}
#define VBLEND(m, a, b) SFX(gblend)((m), (a), (b))
/* x86's rule: b unless a > b (a < b), so b when either is nan */
static inline V SFX(gmax)(V a, V b) { return SFX(gblend)((VM)(a > b), b, a); }
static inline V SFX(gmin)(V a, V b) { return SFX(gblend)((VM)(a < b), b, a); }
#define VMAX(a, b) SFX(gmax)((a), (b))
#define VMIN(a, b) SFX(gmin)((a), (b))
static inline V SFX(gsqrt)(V a) {
    for (int q = 0; q < W; q++) a[q] = VSQRT_1(a[q]);
    return a;
}
#define VSQRT(a) SFX(gsqrt)(a)
#define VAS_I(v) ((VI)(v))
#define VI_AS(i) ((V)(i))
#define VIADD(a, b) ((a) + (b))
#define VISET1(s) ((VI){0} + (XENT_GU)(s))
#define VISHL(i, n) ((i) << (n))
#define VISHR(i, n) ((i) >> (n)) /* unsigned lanes: a logical shift */
#define VIAND(a, b) ((a) & (b))
#define VIOR(a, b) ((a) | (b))
#define VIXOR(a, b) ((a) ^ (b))
#define VM_AND(a, b) ((a) & (b))
#define VM_OR(a, b) ((a) | (b))
#define VM_ANDNOT(a, b) (~(a) & (b)) /* !a && b */
#define VM_ALL ((VM){0} - 1)
#define VMASK_FIRST(k) ((VM)(XENT_IOTA < (k)))
static inline int SFX(gcount)(VM m) { /* lanes are 0 or -1 */
    int c = 0;
    for (int q = 0; q < W; q++) c -= (int)m[q];
    return c;
}
#define VMASK_COUNT(m) SFX(gcount)(m)
#define VMASK_ANY(m) (SFX(gcount)(m) != 0)
#define VALIGN ((int)sizeof(T)) /* every element-aligned vector counts as aligned: */
#define VSHIFT_INDEX(k) VISET1(k) /* the stream's shift is 0 (plain loads) */
#define VSHIFT2(a, b, idx) ((void)(b), (void)(idx), (a))
#define VD xent_gvd
#define WD 2
#define VD_ZERO() ((VD){0})
#define VD_ADD(a, b) ((a) + (b))
#define VD_SUB(a, b) ((a) - (b))
static inline void SFX(gdstore)(double *p, VD v) { memcpy(p, &v, sizeof v); }
#define VD_STORE(p, v) SFX(gdstore)((p), (v))
#if !XENT_F64
static inline VD xent_glo_f32(V v) { return (VD){(double)v[0], (double)v[1]}; }
static inline VD xent_ghi_f32(V v) { return (VD){(double)v[2], (double)v[3]}; }
#define VD_LO(v) xent_glo_f32(v)
#define VD_HI(v) xent_ghi_f32(v)
#endif
#else
/* other compilers (MSVC): scalar code, one element per "vector" */
#if !XENT_F64
#define T float
#define VI uint32_t
#else
#define T double
#define VI uint64_t
#endif
#define V T
#define VM int
#define W 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define VLOADN(p, r) (*(p))
#define VSTOREN(p, v, r) (*(p) = (v))
#define VSET1(s) ((T)(s))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VDIV(a, b) ((a) / (b))
/* no fused multiply-add in the baseline (a libm fma() would be a slow software one) */
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VFNMA(a, b, c) ((c) - (a) * (b))
#define VMAX(a, b) ((a) > (b) ? (a) : (b))
#define VMIN(a, b) ((a) < (b) ? (a) : (b))
#if !XENT_F64
#define VSQRT(a) sqrtf(a)
#else
#define VSQRT(a) sqrt(a)
#endif
#define C_LT 1
#define C_LE 2
#define C_GT 3
#define C_GE 4
#define C_EQ 5
#define C_NE 6
#define C_UNORD 7
static inline int SFX(xent_cmp)(T a, T b, int op) {
    switch (op) {
    case C_LT: return a < b;
    case C_LE: return a <= b;
    case C_GT: return a > b;
    case C_GE: return a >= b;
    case C_EQ: return a == b;
    case C_NE: return !(a == b);
    default: return a != a || b != b;
    }
}
#define VCMP(a, b, op) SFX(xent_cmp)((a), (b), (op))
#define VBLEND(m, a, b) ((m) ? (b) : (a))
static inline VI SFX(xent_as_i)(T v) {
    VI i;
    memcpy(&i, &v, sizeof i);
    return i;
}
static inline T SFX(xent_i_as)(VI i) {
    T v;
    memcpy(&v, &i, sizeof v);
    return v;
}
#define VAS_I(v) SFX(xent_as_i)(v)
#define VI_AS(i) SFX(xent_i_as)(i)
#define VIADD(a, b) ((VI)((a) + (b)))
#define VISET1(s) ((VI)(s))
#define VISHL(i, n) ((VI)((i) << (n)))
#define VISHR(i, n) ((VI)((i) >> (n)))
#define VIAND(a, b) ((VI)((a) & (b)))
#define VIOR(a, b) ((VI)((a) | (b)))
#define VIXOR(a, b) ((VI)((a) ^ (b)))
#define VM_AND(a, b) ((a) && (b))
#define VM_OR(a, b) ((a) || (b))
#define VM_ANDNOT(a, b) (!(a) && (b))
#define VM_ALL 1
#define VMASK_FIRST(k) ((k) > 0)
#define VMASK_COUNT(m) ((m) ? 1 : 0)
#define VMASK_ANY(m) (m)
#define VALIGN ((int)sizeof(T)) /* one element: every vector is aligned */
#define VSHIFT_INDEX(k) ((VI)(k))
#define VSHIFT2(a, b, idx) ((void)(b), (a))
#define VD double
#define WD 1
#define VD_ZERO() 0.0
#define VD_ADD(a, b) ((a) + (b))
#define VD_SUB(a, b) ((a) - (b))
#define VD_STORE(p, v) (*(p) = (v))
#if !XENT_F64
#define VD_LO(v) ((double)(v))
#endif
#endif
#else
#error "XENT_ISA_<name>: no vector vocabulary for this instruction set in xent_simd.h"
#endif

/* ------------------------------------------------------------------ derived */
#define VZERO() VSET1(0)
#define VSELZERO(m, a) VBLEND((m), VZERO(), (a)) /* m ? a : 0 */
#ifndef VRECIP
#define VRECIP(a) VDIV(VSET1(1), (a)) /* 1 / a, within an ulp */
#endif
#ifndef VMULZ
#define VMULZ(m, a, b) VSELZERO((m), VMUL((a), (b))) /* m ? a * b : 0 */
#endif
#define VABS(a) VI_AS(VISHR(VISHL(VAS_I(a), 1), 1))
#define VSIGN VISHL(VISET1(1), T_MBITS + T_EBITS)
#define VNEG(a) VI_AS(VIXOR(VAS_I(a), VSIGN))
#define VNABS(a) VI_AS(VIOR(VAS_I(a), VSIGN)) /* -|a| */

#if !XENT_F64
#define T_MBITS 23
#define T_EBITS 8
#define T_MIN_NORMAL 1.17549435082228750797e-38
#define T_BIAS 127
#define T_MAGIC 12582912.0f /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
#define T_MAGIC_BITS 0x4B400000u
#else
#define T_MBITS 52
#define T_EBITS 11
#define T_MIN_NORMAL 2.22507385850720138309e-308
#define T_BIAS 1023
#define T_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define T_MAGIC_BITS 0x4338000000000000ull
#endif
