/* Everything one instruction set compiles, for the dtype chosen by XENT_F64. */
#include "xent_kernels.h"
#include "xent_simd.h"
#include "xent_math.h"
#include "xent_acc.h"
#include "xent_binary.h"
#include "xent_eval.h"
#include "xent_softmax.h"
