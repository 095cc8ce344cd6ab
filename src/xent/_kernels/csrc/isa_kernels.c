/* The kernels for one instruction set and one storage dtype. setup.py compiles this
 * file once per row of xent_isas.h and dtype, with
 *   -DXENT_ISA_NAME=<name> -DXENT_ISA_<name>=1 -DXENT_F64=<0|1> -DXENT_HALF=<0|1|2>
 * (XENT_HALF 1: bfloat16, 2: float16 storage, computed in float32) and the row's
 * target flags (-mavx2 -mfma ... for avx2); its entry points,
 * xent_{binary,eval,softmax}_block_<name>_<f32|f64|bf16|f16> (no eval for the halves),
 * are called only after the row's CPU check passed. */
#if !defined(XENT_ISA_NAME) || !defined(XENT_F64)
#error "compile with -DXENT_ISA_NAME=<name> -DXENT_ISA_<name>=1 -DXENT_F64=<0|1> (setup.py)"
#endif
#include "xent_kernels.h"
#include "xent_simd.h"
#include "xent_store.h"
#include "xent_math.h"
#include "xent_acc.h"
#include "xent_binary.h"
#if !XENT_HALF
#include "xent_eval.h"
#endif
#include "xent_softmax.h"
