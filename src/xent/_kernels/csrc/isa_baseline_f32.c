/* The portable kernels (any C99 compiler, no SIMD assumptions), float32. */
#define XENT_ISA 1
#define XENT_F64 0
#include "xent_impl.h"
