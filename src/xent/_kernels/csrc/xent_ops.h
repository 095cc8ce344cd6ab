/* The binary losses: one row each, from which the op enum (XENT_OP_<NAME>,
 * XENT_OP_COUNT), the kernels' dispatch (xent_binary.h, xent_eval.h), the module's
 * range checks and its BINARY_OPS dict (name -> op number) are generated.
 *
 *   X(NAME, fn, "python name")
 *
 * NAME: the enum's suffix; fn: the per-vector function SFX(fn_one) of
 * xent_binary.h (its signature is SFX(binary_fn) there); the Python name is the
 * key of _xentc.BINARY_OPS. A row's position is its op number: append new rows at
 * the end. */
#ifndef XENT_OPS_H
#define XENT_OPS_H

#define XENT_BINARY_OPS(X)                                                                      \
    X(BCE_LOGITS, logits, "bce_with_logits")                                                    \
    X(BCE_PROBS, probs, "bce_probs")                                                            \
    X(FOCAL, focal, "sigmoid_focal")

#define XENT_OP_ENUM_(NAME, fn, pyname) XENT_OP_##NAME,
enum { XENT_BINARY_OPS(XENT_OP_ENUM_) XENT_OP_COUNT };
#undef XENT_OP_ENUM_

#endif
