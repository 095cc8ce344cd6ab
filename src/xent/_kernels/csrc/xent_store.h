/* How the kernels read and write arrays: in their storage dtype ST, computed in T.
 *
 * Included after xent_simd.h. With XENT_HALF = 0 the storage is T itself and these
 * are xent_simd.h's loads and stores. With XENT_HALF = 1 (bfloat16) or 2 (float16)
 * an element is 16 bits, T is float32: W of them are converted to a V in registers
 * on load and rounded back (to nearest even) on store, so the kernels are written
 * once for every dtype:
 *
 *   ST              the storage type (T, or uint16_t bits)
 *   SLOAD(p)        W elements at p as a V;  SLOADN(p, r): the first r < W, the rest 0
 *   SSTORE(p, v)    v rounded to ST at p;    SSTOREN(p, v, r): its first r lanes
 *   S2T(s), T2S(t)  one element, to T and back (a double t is rounded once, to nearest
 *                   even)
 *
 * bfloat16 -> float32 is a 16-bit shift; float32 -> bfloat16 is AVX512-BF16's
 * vcvtneps2bf16 on avx512bf16 (its flush of subnormal results is undone: such a
 * vector takes the integer rounding) and integer operations elsewhere. float16 uses
 * vcvtph2ps / vcvtps2ph (AVX-512F, F16C); the baseline converts lane by lane
 * (xent_half.h). */
#include <stdlib.h>

#include "xent_half.h"

#if !XENT_HALF
#define ST T
#define SLOAD(p) VLOAD(p)
#define SLOADN(p, r) VLOADN((p), (r))
#define SSTORE(p, v) VSTORE((p), (v))
#define SSTOREN(p, v, r) VSTOREN((p), (v), (r))
#define S2T(s) (s)
#define T2S(t) ((T)(t))
#else
#define ST uint16_t
#if XENT_HALF == 1
#define S2T(s) xent_bf16_to_f32(s)
#define T2S(t) xent_f32_to_bf16(xent_f64_to_f32_odd((double)(t)))
#else
#define S2T(s) xent_f16_to_f32(s)
#define T2S(t) xent_f32_to_f16(xent_f64_to_f32_odd((double)(t)))
#endif

#if defined(XENT_ISA_avx512) || defined(XENT_ISA_avx512bf16)
XENT_INLINE __m512 SFX(hload)(const uint16_t *p) {
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
#if XENT_HALF == 1
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
#else
    return _mm512_cvtph_ps(h);
#endif
}
#if XENT_HALF == 1
/* to nearest even in the integers: u + 0x7fff + (bit 16 of u), the upper half; nan quiet */
XENT_INLINE __m256i SFX(bf16_round_int)(__m512 v) {
    __m512i u = _mm512_castps_si512(v);
    __m512i odd = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff))), 16);
    __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    r = _mm512_mask_mov_epi32(r, nan, _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40)));
    return _mm512_cvtepi32_epi16(r);
}
#endif
XENT_INLINE __m256i SFX(hpack)(__m512 v) {
#if XENT_HALF == 2
    return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(XENT_ISA_avx512bf16)
    /* vcvtneps2bf16 flushes subnormal inputs and results to zero: vectors with a
     * nonzero |v| < 2^-126 take the integer rounding */
    if (_mm512_fpclass_ps_mask(v, 0x20)) return SFX(bf16_round_int)(v); /* 0x20: subnormal */
    return (__m256i)_mm512_cvtneps_pbh(v);
#else
    return SFX(bf16_round_int)(v);
#endif
}
XENT_INLINE void SFX(hstore)(uint16_t *p, __m512 v) {
    _mm256_storeu_si256((__m256i *)p, SFX(hpack)(v));
}

#elif defined(XENT_ISA_avx2)
XENT_INLINE __m256 SFX(hload)(const uint16_t *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
#if XENT_HALF == 1
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
#else
    return _mm256_cvtph_ps(h);
#endif
}
XENT_INLINE void SFX(hstore)(uint16_t *p, __m256 v) {
#if XENT_HALF == 1
    __m256i u = _mm256_castps_si256(v);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
    __m256i r = _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    __m256i q = _mm256_or_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x40));
    r = _mm256_blendv_epi8(r, q, _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)));
    /* 32 -> 16 bits: packus within 128-bit lanes, then qwords 0 and 2 */
    __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
    _mm_storeu_si128((__m128i *)p, _mm256_castsi256_si128(packed));
#else
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#endif
}

#else /* the portable baseline: lane by lane */
XENT_INLINE V SFX(hload)(const uint16_t *p) {
    T b[W];
    for (int q = 0; q < W; q++) b[q] = S2T(p[q]);
    return VLOAD(b);
}
XENT_INLINE void SFX(hstore)(uint16_t *p, V v) {
    T b[W];
    VSTORE(b, v);
    for (int q = 0; q < W; q++) p[q] = T2S(b[q]);
}
#endif

XENT_INLINE V SFX(hloadn)(const uint16_t *p, int r) { /* r < W elements, the rest 0 */
    uint16_t b[W] = {0};
    memcpy(b, p, (size_t)r * sizeof *p);
    return SFX(hload)(b);
}
XENT_INLINE void SFX(hstoren)(uint16_t *p, V v, int r) {
    uint16_t b[W];
    SFX(hstore)(b, v);
    memcpy(p, b, (size_t)r * sizeof *p);
}
#define SLOAD(p) SFX(hload)(p)
#define SLOADN(p, r) SFX(hloadn)((p), (r))
#define SSTORE(p, v) SFX(hstore)((p), (v))
#define SSTOREN(p, v, r) SFX(hstoren)((p), (v), (r))
#endif
