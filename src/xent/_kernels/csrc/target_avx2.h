/* Compile the rest of this translation unit for AVX2 with FMA; the functions are
 * only called after the CPU was checked at import. */
#define XENT_ISA 2
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,popcnt"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,popcnt")
#endif
