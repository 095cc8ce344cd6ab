/* bfloat16 and float16 <-> float32, one value at a time (portable C): the module's
 * scalar reads and the portable baseline's conversions. Both directions are exact
 * where they can be (half -> float32 always is) and round to nearest even
 * otherwise, subnormals included; a nan stays a (quiet) nan. */
#ifndef XENT_HALF_H
#define XENT_HALF_H

#include <stdint.h>
#include <string.h>

static inline float xent_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16; /* bfloat16 is float32's upper half */
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t xent_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet nan */
    u += 0x7fffu + ((u >> 16) & 1u); /* to nearest, ties to even (carries into the exponent) */
    return (uint16_t)(u >> 16);
}

static inline float xent_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, u;
    if (e == 0x1f) u = sign | 0x7f800000u | (m << 13); /* inf, nan */
    else if (e) u = sign | ((e + 112u) << 23) | (m << 13);
    else { /* zero or subnormal: m 2^-24, exact in float32 */
        float f = (float)m * 5.9604644775390625e-8f;
        memcpy(&u, &f, sizeof u);
        u |= sign;
    }
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint16_t xent_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu)); /* nan */
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
    if (a >= 0x38800000u) {                                  /* a normal float16: >= 2^-14 */
        uint32_t r = a - 0x38000000u;                        /* exponent rebiased, 127 -> 15 */
        r += 0xfffu + ((r >> 13) & 1u);                      /* to nearest, ties to even */
        return (uint16_t)(sign | (r >> 13));
    }
    /* subnormal or zero: |f| + 0.5 rounds |f| to a multiple of 2^-24 (float32's ulp at
     * 0.5), to nearest even, as float16 does; 2^-14 (0x0400) when it rounds up to it */
    float af, half = 0.5f;
    memcpy(&af, &a, sizeof af);
    volatile float s = af + half; /* not folded away */
    uint32_t sb, hb;
    float sv = s;
    memcpy(&sb, &sv, sizeof sb);
    memcpy(&hb, &half, sizeof hb);
    return (uint16_t)(sign | (sb - hb));
}

/* d rounded to float32 to odd (toward zero, the last bit set when inexact): rounding
 * that to bfloat16 or float16, which have at least two bits fewer, rounds d once. */
static inline float xent_f64_to_f32_odd(double d) {
    float f = (float)d;
    if ((double)f == d || f - f != 0) return f; /* exact, inf or nan */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((f < 0 ? -(double)f : (double)f) > (d < 0 ? -d : d)) u -= 1; /* toward zero */
    u |= 1u;
    memcpy(&f, &u, sizeof f);
    return f;
}

#endif
