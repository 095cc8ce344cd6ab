/* The portable kernels (any C99 compiler, no SIMD assumptions), float64. */
#define XENT_ISA 1
#define XENT_F64 1
#include "xent_impl.h"
