/* Compile the rest of this translation unit for AVX-512 (F + DQ) with FMA; the
 * functions are only called after the CPU was checked at import. */
#define XENT_ISA 3
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx2,fma,bmi2,popcnt"))), \
                             apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx512f,avx512dq,avx2,fma,bmi2,popcnt")
#endif
