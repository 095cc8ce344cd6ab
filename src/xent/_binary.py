r"""The binary cross-entropy family: its math, written once.

Every convention (PyTorch at the top level, ``xent.keras``, ``xent.tf``) is a
thin front end over these functions. They take validated arrays already in the
compute dtype and return ``(loss, grad)``, where ``grad`` (only when
``need_grad``) is the derivative of the returned loss with respect to the
first array (of the sum of the losses for reduction 'none').

Numerics. With s(x) = softplus(x) = log(1 + e^x), the loss on logits is
written as a sum of two terms that are both non-negative for targets in [0, 1],

    l(x, y) = (1 - y) s(x) + p y s(-x)        dl/dx = (1 - y) sigmoid(x) - p y sigmoid(-x)

(equal to PyTorch's ``(1 - y) x + (1 + (p - 1) y) s(-x)``), so neither tail
cancels: x = -40, y = 0 gives 4.25e-18 where PyTorch's form gives 0, and
x = +-inf with a zero coefficient gives 0 where PyTorch gives nan.
"""

from __future__ import annotations

import math
from typing import Any

from ._array import (
    Array,
    SigmoidParts,
    analytic_gradient,
    broadcast_shapes,
    divide_or_nan,
    divide_or_zero,
    log_or_minus_inf,
    stop_gradient,
    sum_to_shape,
    times_or_zero,
)
from ._kernels import DECLINED, BinaryTotals, accelerated, binary_totals
from ._reduce import torch_reduce

LOG_FLOOR = -100.0  # PyTorch clamps each log in binary_cross_entropy at -100
# ... and the denominator x (1 - x) of its gradient at a C++ `float` 1e-12, which is
# 9.99999996e-13 even for float64 inputs
GRAD_EPS = 9.999999960041972e-13
KERAS_EPSILON = 1e-7  # keras.backend.epsilon()


def smooth_targets(y: Array, label_smoothing: float) -> Array:
    """Binary label smoothing (Keras' rule): y (1 - ls) + 0.5 ls."""
    if not label_smoothing:
        return y
    return y * (1.0 - label_smoothing) + 0.5 * label_smoothing


# --------------------------------------------------------------------------- elementwise


def logits_elementwise(
    xp: Any, x: Array, y: Array, pos_weight: Array | None, need_grad: bool
) -> tuple[Array, Array | None]:
    """(1 - y) softplus(x) + p y softplus(-x) and its derivative in x.

    With softplus(+-x) = max(+-x, 0) + log1p(e), e = exp(-|x|), one of the two is
    log1p(e) itself, finite: the loss is taken as (1 - y) softplus(x) + p y log1p(e) for
    x >= 0 and (1 - y) log1p(e) + p y softplus(-x) below (the same values), chosen by
    one test whose result is the whole elementwise loss, so that a compiler (XLA)
    reduces one array rather than each term.
    """
    parts = SigmoidParts(xp, x)
    neg = 1.0 - y
    pos = y if pos_weight is None else pos_weight * y
    # log1p(e) where its branch is taken, 1 in the other (so that no coefficient there,
    # an infinite pos_weight say, meets a log1p(e) that underflowed to 0)
    one, nonneg = xp.ones_like(x), parts.nonneg
    above, below = xp.where(nonneg, parts.log1p_e, one), xp.where(nonneg, one, parts.log1p_e)
    loss = xp.where(
        nonneg,
        times_or_zero(xp, neg, parts.softplus()) + pos * above,
        neg * below + times_or_zero(xp, pos, parts.softplus_neg()),
    )
    if not need_grad:
        return loss, None
    sig, sig_neg = parts.sigmoids()
    return loss, neg * sig - pos * sig_neg


def _floored_log(xp: Any, positive: Array, value: Array, log: Any) -> Array:
    """max(log(value), -100) without evaluating log(0) (so no divide warning)."""
    safe = xp.where(positive, value, xp.ones_like(value))
    return xp.where(positive, xp.clip(log(safe), min=LOG_FLOOR), xp.full_like(value, LOG_FLOOR))


@analytic_gradient
def probs_elementwise(
    xp: Any, p: Array, y: Array, *, need_grad: bool
) -> tuple[Array, Array | None]:
    """PyTorch's -(y max(log p, -100) + (1 - y) max(log1p(-p), -100)) and its gradient
    (p - y) / max(p (1 - p), 1e-12), as PyTorch's backward defines it."""
    log_p = _floored_log(xp, p > 0, p, xp.log)
    log_1mp = _floored_log(xp, p < 1, -p, xp.log1p)
    loss = -(y * log_p + (1.0 - y) * log_1mp)
    if not need_grad:
        return loss, None
    return loss, (p - y) / xp.clip(p * (1.0 - p), min=GRAD_EPS)


@analytic_gradient
def focal_elementwise(
    xp: Any, x: Array, y: Array, alpha: float, gamma: float, *, need_grad: bool
) -> tuple[Array, Array | None]:
    """torchvision's sigmoid focal loss: ce(x, y) (1 - p_t)^gamma, times
    alpha_t = alpha y + (1 - alpha)(1 - y) when alpha >= 0.

    1 - p_t is computed as y sigmoid(-x) + (1 - y) sigmoid(x) (no cancellation),
    and the gradient stays finite at gamma < 1 where 1 - p_t = 0.
    """
    parts = SigmoidParts(xp, x)
    sig, sig_neg = parts.sigmoids()
    neg = 1.0 - y
    ce = times_or_zero(xp, neg, parts.softplus()) + times_or_zero(xp, y, parts.softplus_neg())
    m = y * sig_neg + neg * sig
    modulator = m**gamma
    loss = ce * modulator
    balance = None
    if alpha >= 0:
        balance = alpha * y + (1.0 - alpha) * neg
        loss = balance * loss
    if not need_grad:
        return loss, None
    dce = neg * sig - y * sig_neg
    dm = (1.0 - 2.0 * y) * (sig * sig_neg)
    # d(m^gamma) = gamma m^gamma (dm / m): no negative power, so no overflow at tiny m,
    # and dm / m is bounded (|dm| <= m for 0/1 targets); at m = 0 the limit is 0
    positive = m > 0
    ratio = xp.where(positive, dm / xp.where(positive, m, xp.ones_like(m)), xp.zeros_like(m))
    dmod = gamma * modulator * ratio
    grad = dce * modulator + times_or_zero(xp, dmod, ce)  # dmod = 0 at x = +-inf: no inf * 0
    if balance is not None:
        grad = balance * grad
    return loss, grad


def optax_focal_elementwise(
    xp: Any, x: Array, y: Array, alpha: Array | float | None, gamma: Array | float
) -> Array:
    """optax's sigmoid focal loss: ce(x, y) (1 - p_t)^gamma, times
    alpha_t = alpha y + (1 - alpha)(1 - y) when alpha is not None (any alpha, negative
    too: None, not alpha < 0 as in torchvision, means no balancing).

    The modulating factor is exp(gamma log(1 - p_t)) with 1 - p_t = (1 - y) sigmoid(x) +
    y sigmoid(-x) summed in log space (JAX's logsumexp with coefficients: the terms of
    zero coefficient left out, shifted by the larger log-sigmoid), so it neither
    underflows (x = 800, y = 1) nor gives a nan gradient at gamma < 1; 1 - p_t < 0 (a
    label outside [0, 1]) gives nan, as optax. gamma log(1 - p_t) is 0 where gamma = 0
    (0^0 = 1, where optax takes 0 * -inf = nan), and ce is the family's, 0 where its
    coefficient is (x = +-inf with a hard label: optax gives nan there).
    """
    parts = SigmoidParts(xp, x)
    neg = 1.0 - y
    log_p, log_q = -parts.softplus_neg(), -parts.softplus()  # log sigmoid(+-x)
    ce = times_or_zero(xp, neg, parts.softplus()) + times_or_zero(xp, y, parts.softplus_neg())
    minus_inf = xp.full_like(log_p, -math.inf)
    a = xp.where(neg != 0, log_p, minus_inf)
    b = xp.where(y != 0, log_q, minus_inf)
    top = xp.where(a >= b, a, b)
    top = stop_gradient(xp, xp.where(xp.isfinite(top), top, xp.zeros_like(top)))
    total = neg * xp.exp(a - top) + y * xp.exp(b - top)
    log_m = top + log_or_minus_inf(xp, total)
    loss = ce * xp.exp(times_or_zero(xp, gamma, log_m))
    if alpha is None:
        return loss
    return (alpha * y + (1.0 - alpha) * neg) * loss


def clipped_probs_elementwise(xp: Any, p: Array, y: Array) -> Array:
    """Keras: clip p to [eps, 1 - eps], then the binary cross-entropy of the clipped p."""
    clipped = xp.clip(p, min=KERAS_EPSILON, max=1.0 - KERAS_EPSILON)
    return binary_cross_entropy(xp, clipped, y, reduction="none")[0]


def keras_binary(
    xp: Any, y: Array, y_pred: Array, *, from_logits: bool, label_smoothing: float
) -> Array:
    """Keras' elementwise binary cross-entropy: targets smoothed, then the exact sigmoid
    cross-entropy on logits, or the cross-entropy of probabilities clipped to
    [1e-7, 1 - 1e-7]."""
    y = smooth_targets(y, label_smoothing)
    if from_logits:
        return binary_cross_entropy_with_logits(xp, y_pred, y, reduction="none")[0]
    return clipped_probs_elementwise(xp, y_pred, y)


def keras_binary_focal(
    xp: Any,
    y: Array,
    y_pred: Array,
    *,
    apply_class_balancing: bool,
    alpha: float,
    gamma: float,
    from_logits: bool,
    label_smoothing: float,
) -> Array:
    """Keras' elementwise binary focal cross-entropy: (1 - p_t)^gamma bce(y, clip(p)),
    times alpha_t with class balancing. On logits p = sigmoid(x) and 1 - p =
    sigmoid(-x) (exact in the tail); the cross-entropy is still that of the clipped
    p, as Keras computes it."""
    y = smooth_targets(y, label_smoothing)
    if from_logits:
        p, one_minus_p = SigmoidParts(xp, y_pred).sigmoids()
    else:
        p, one_minus_p = y_pred, 1.0 - y_pred
    bce = clipped_probs_elementwise(xp, p, y)
    focal = (y * one_minus_p + (1.0 - y) * p) ** gamma * bce
    if apply_class_balancing:
        focal = (y * alpha + (1.0 - y) * (1.0 - alpha)) * focal
    return focal


def epsilon_log_loss(xp: Any, p: Array, y: Array, epsilon: float) -> Array:
    """TensorFlow 1's log_loss elementwise: -y log(p + eps) - (1 - y) log(1 - p + eps),
    in the arrays' dtype, unclipped (a log of a negative number is nan). A zero
    coefficient times an infinite log (only with epsilon 0) is 0, the family's rule."""
    on = log_or_minus_inf(xp, p + epsilon)
    off = log_or_minus_inf(xp, (1.0 - p) + epsilon)
    return -times_or_zero(xp, y, on) - times_or_zero(xp, 1.0 - y, off)


# --------------------------------------------------------------------------- losses


def _mask_ignored(xp: Any, y: Array, ignore_index: float | None) -> tuple[Array, Array | None]:
    """(targets with the ignored ones set to 0 so they reach no log, mask of the others)."""
    if ignore_index is None:
        return y, None
    valid = y != ignore_index
    return xp.where(valid, y, xp.zeros_like(y)), valid


def _weigh_mask_reduce(
    xp: Any,
    loss: Array,
    grad: Array | None,
    weight: Array | None,
    valid: Array | None,
    reduction: str,
) -> tuple[Array, Array | None]:
    """Multiply in `weight`, zero the positions not `valid`, reduce.

    'mean' divides by the number of elements, or by the number of valid
    (non-ignored) elements when `valid` is given; never by the sum of weights.
    """
    if weight is not None:
        loss = loss * weight
        grad = None if grad is None else grad * weight
    denominator = None
    if valid is not None:
        zeros = xp.zeros_like(loss)
        loss = xp.where(valid, loss, zeros)
        grad = None if grad is None else xp.where(valid, grad, zeros)
        denominator = xp.sum(xp.astype(valid, loss.dtype, copy=False))
    return torch_reduce(xp, loss, grad, reduction, denominator)


@accelerated("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(
    xp: Any,
    x: Array,
    y: Array,
    *,
    weight: Array | None = None,
    pos_weight: Array | None = None,
    label_smoothing: float = 0.0,
    ignore_index: float | None = None,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """Sigmoid cross-entropy on logits with PyTorch's weight, pos_weight and reductions,
    plus label smoothing and ignore_index."""
    y, valid = _mask_ignored(xp, y, ignore_index)
    y = smooth_targets(y, label_smoothing)
    loss, grad = logits_elementwise(xp, x, y, pos_weight, need_grad)
    return _weigh_mask_reduce(xp, loss, grad, weight, valid, reduction)


@accelerated("binary_cross_entropy")
def binary_cross_entropy(
    xp: Any,
    p: Array,
    y: Array,
    *,
    weight: Array | None = None,
    label_smoothing: float = 0.0,
    ignore_index: float | None = None,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """Binary cross-entropy on probabilities with PyTorch's clamps, weight and reductions,
    plus label smoothing and ignore_index."""
    y, valid = _mask_ignored(xp, y, ignore_index)
    loss, grad = probs_elementwise(xp, p, smooth_targets(y, label_smoothing), need_grad=need_grad)
    return _weigh_mask_reduce(xp, loss, grad, weight, valid, reduction)


@accelerated("sigmoid_focal_loss")
def sigmoid_focal_loss(
    xp: Any,
    x: Array,
    y: Array,
    *,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """torchvision's sigmoid focal loss; 'mean' divides by the number of elements."""
    loss, grad = focal_elementwise(xp, x, y, alpha, gamma, need_grad=need_grad)
    return torch_reduce(xp, loss, grad, reduction)


def multilabel_soft_margin(
    xp: Any,
    x: Array,
    y: Array,
    *,
    weight: Array | None = None,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """PyTorch's multilabel soft margin loss: per sample, the mean over the class axis of
    w [(1 - y) softplus(x) + y softplus(-x)], then reduced ('mean' over the samples).

    x, y and the weight broadcast together, as in PyTorch; the class axis is
    ``x.ndim - 1`` of that broadcast shape and C = x.shape[-1] (PyTorch's rule, even
    where a target of higher rank makes the two differ). C = 0 gives nan per sample.
    The gradient, w ((1 - y) sigmoid(x) - y sigmoid(-x)) / C / (the 'mean'
    denominator), is summed back to x's shape.
    """
    shape = broadcast_shapes(x, y, *(() if weight is None else (weight,)))
    xb, yb = xp.broadcast_to(x, shape), xp.broadcast_to(y, shape)
    loss, grad = logits_elementwise(xp, xb, yb, None, need_grad)
    if weight is not None:
        loss = loss * weight
        grad = None if grad is None else grad * weight
    class_axis, n_classes = x.ndim - 1, x.shape[-1]
    per_sample = divide_or_nan(xp, xp.sum(loss, axis=class_axis), n_classes)
    if grad is not None:
        grad = divide_or_zero(xp, grad, n_classes)
    loss, grad = torch_reduce(xp, per_sample, grad, reduction)
    return loss, None if grad is None else sum_to_shape(xp, grad, tuple(x.shape))


def soft_margin(
    xp: Any, x: Array, y: Array, *, reduction: str = "mean", need_grad: bool = False
) -> tuple[Array, Array | None]:
    """PyTorch's soft margin loss log(1 + exp(-y x)) = softplus(-y x), elementwise (y of
    x's shape), reduced; its gradient -y sigmoid(-y x).

    softplus is taken in the stable form (no overflow: -y x = 1e4 gives 1e4, where
    PyTorch's log1p(exp(.)) gives inf and a nan gradient); y x is 0 where y = 0 even
    at x = +-inf (the family's rule), so such an element gives log 2.
    """
    z = -times_or_zero(xp, y, x)
    parts = SigmoidParts(xp, z)
    loss = parts.softplus()
    grad = -y * parts.sigmoids()[0] if need_grad else None
    return torch_reduce(xp, loss, grad, reduction)


# --------------------------------------------------------------------------- evaluation


def totals(
    op: str,
    x: Array,
    y: Array,
    *,
    weight: Array | None = None,
    pos_weight: float | None = None,
    label_smoothing: float = 0.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
    per_row: bool = False,
) -> tuple[BinaryTotals, Array | None] | None:
    """The sums that score predictions (``xent eval``) in one fused kernel pass.

    ``op`` is 'bce_with_logits', 'bce_probs' or 'sigmoid_focal'; with l each
    element's unweighted loss (this module's elementwise functions, `pos_weight` a
    number, the targets smoothed for every op), p the predicted probability and w
    the weight (1 without it): the float64 sums of w l, w, w y, y and w p, and with
    `per_row` each element's w l (see ``xent._kernels._ops.binary_totals``).

    None where the kernels cannot take the arrays (not built or disabled, dtypes
    they do not take): the caller then sums this module's elementwise losses.
    """
    result = binary_totals(
        op,
        x,
        y,
        weight=weight,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        alpha=alpha,
        gamma=gamma,
        per_row=per_row,
    )
    return None if result is DECLINED else result
