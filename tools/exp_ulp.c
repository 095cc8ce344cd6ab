/* The float32 AVX-512 exp of the kernels against the C library's double exp, over
 * every float32 input whose exp is finite: the largest error in ulps of the
 * result (ulps of the smallest subnormal below the normal range).
 *
 *   S=src/xent/_kernels/csrc
 *   gcc -O2 -std=c11 -ffp-contract=off -mavx512f -mavx512dq -mavx2 -mfma -I$S tools/exp_ulp.c \
 *       -lm -o /tmp/exp_ulp
 *   /tmp/exp_ulp      # needs an AVX-512 CPU; about 30 s
 */
#define XENT_ISA_NAME avx512 /* as setup.py compiles the avx512 row of xent_isas.h */
#define XENT_ISA_avx512 1
#define XENT_F64 0
#include "xent_kernels.h"
#include "xent_simd.h"
#include "xent_math.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    double worst = 0;
    float worst_at = 0, in[16], out[16];
    long over_one = 0, count = 0;
    for (uint64_t bits = 0; bits <= 0xFFFFFFFFu; bits++) {
        uint32_t b = (uint32_t)bits;
        float a;
        memcpy(&a, &b, 4);
        if (!(a >= -104.f && a <= 89.f)) continue;
        in[count++ % 16] = a;
        if (count % 16) continue;
        _mm512_storeu_ps(out, vexp_avx512_f32(_mm512_loadu_ps(in)));
        for (int i = 0; i < 16; i++) {
            double exact = exp((double)in[i]);
            if (exact > 3.4028234663852886e38) continue; /* float32 overflow: inf is right */
            int e;
            frexp(exact, &e);
            double ulp = exact < 1.1754943508222875e-38 ? 0x1p-149 : ldexp(1.0, e - 24);
            double err = fabs((double)out[i] - exact) / ulp;
            if (err > worst) worst = err, worst_at = in[i];
            over_one += err > 1;
        }
    }
    printf("max %.4f ulp (at %.9g); %ld of %ld inputs above 1 ulp\n", worst, worst_at, over_one,
           count);
    return 0;
}
