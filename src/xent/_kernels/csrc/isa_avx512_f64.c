/* The kernels for avx512, float64. */
#include "xent_kernels.h"
#ifdef XENT_HAVE_X86_SIMD
#define XENT_F64 1
#include "target_avx512.h"
#include "xent_impl.h"
#if defined(__clang__)
#pragma clang attribute pop
#endif
#else
typedef int xent_empty_translation_unit;
#endif
