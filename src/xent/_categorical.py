r"""The multi-class (softmax) cross-entropy family: its math, written once.

Every convention (PyTorch at the top level, ``xent.keras``, ``xent.tf``) is a
thin front end over these functions. They take validated arrays in the compute
dtype **in the caller's layout**, the classes on ``class_axis`` (PyTorch's 1,
Keras' ``axis``, tf.nn's last), and return ``(loss, grad)``, where ``grad`` (only
when ``need_grad``) is the derivative of the returned loss with respect to the
first array, in its layout (of the sum of the losses for reduction 'none'). The
formula below works with the classes last: the reference moves them there and
the gradient back; the kernel takes the caller's layout as it is.

The one formula. With l = log_softmax(x) over the classes (or l = x when the
input already holds log-probabilities, as for ``nll_loss``) and a target
measure q over the classes, each position's loss and gradient are

    loss = -sum_c q_c l_c        dloss/dx_j = (sum_c q_c) softmax(x)_j - q_j   (logits)
                                 dloss/dx_j = -q_j                             (log-probabilities)

and every convention is a choice of q (w = class weights, eps = label
smoothing, C = number of classes, y = class index, t = class probabilities):

    PyTorch, probability targets   q = w (t (1 - eps) + eps / C)
    PyTorch, index targets         q = (1 - eps) w_y onehot(y) + (eps / C) w;  0 where ignored
    nll_loss                       q = w_y onehot(y);                          0 where ignored
    Keras, tf.nn                   q = t (smoothed), or onehot(y)

q is passed in two parts, a dense one (broadcast to x's shape) and an index one
(a coefficient at one class per position), so index targets build no one-hot
array unless a gradient is asked for.

Numerics: log_softmax subtracts the row maximum (no overflow at |x| = 1e4);
each term q_c l_c is taken as 0 where q_c = 0, so a class with logit -inf and
target probability (or weight) 0 contributes 0, not 0 * -inf = nan (PyTorch
gives nan there).
"""

from __future__ import annotations

import math
from typing import Any

from ._array import (
    Array,
    add_at_last,
    broadcast_shapes,
    class_sum,
    device_of,
    divide_or_nan,
    divide_or_zero,
    exp_owned,
    log_or_minus_inf,
    log_softmax,
    minus_owned,
    numel,
    plus_product_owned,
    softmax_parts,
    stop_gradient,
    sum_to_shape,
    take_1d,
    take_last,
    times_or_zero,
    times_owned,
    torch_in_place,
    zero_d,
    zero_rows,
)
from ._binary import KERAS_EPSILON
from ._kernels import accelerated, analytic
from ._reduce import torch_reduce

# --------------------------------------------------------------------------- the formula


def cross_entropy(
    xp: Any,
    x: Array,
    *,
    dense: Array | None = None,
    index: Array | None = None,
    index_weight: Array | None = None,
    mask: Array | None = None,
    log_input: bool = False,
    need_grad: bool = False,
    grad_scale: Array | float | None = None,
) -> tuple[Array, Array | None]:
    """-sum_c q_c l_c per position (shape x.shape[:-1]) and its gradient in x (times
    ``grad_scale``, a number or a 0-d array, when given: a 'mean' folded into q's
    coefficients).

    Args:
        x: logits (log-probabilities when ``log_input``), classes on the last axis.
        dense: the dense part of q, broadcasting to x's shape (None: 0).
        index: integer class indices of shape x.shape[:-1], each in [0, C): the
            index part of q puts ``index_weight`` (1 when None) at that class.
        mask: boolean, shape x.shape[:-1]; where False the loss and its gradient
            are 0 whatever x holds (ignored positions).
    """
    # torch: its fused log_softmax, then the softmax as exp of it in place (the gradient);
    # elsewhere (XLA) log_softmax as an expression of softmax_parts: the index part takes
    # its class from x and the gradient the softmax from the exps (no second exp, no
    # array of log-probabilities unless the dense part needs one)
    parts = None
    if not (log_input or torch_in_place(xp, x) or x.shape[-1] == 0):
        parts = softmax_parts(xp, x)
    if parts is None:
        logp = x if log_input else log_softmax(xp, x)
    else:
        lse = xp.log(parts[2])
        logp = (x - parts[0]) - lse
    shape = tuple(x.shape)
    # per position: sum_c of the dense part (its nan rows, and the gradient's mass)
    dense_mass = None if dense is None else xp.sum(xp.broadcast_to(dense, shape), axis=-1)
    loss = None
    if dense is not None:
        loss = -class_sum(xp, dense, logp, dense_mass, whole_rows=not log_input)
    if index is not None:
        if parts is None:
            picked = take_last(xp, logp, index)
        else:
            picked = (take_last(xp, x, index) - parts[0][..., 0]) - lse[..., 0]
        term = -picked if index_weight is None else -times_or_zero(xp, index_weight, picked)
        loss = term if loss is None else loss + term
    if loss is None:
        raise ValueError("cross_entropy needs a dense or an index target")
    loss = zero_d(xp, loss)  # one position: a 0-d array
    if mask is not None:
        loss = xp.where(mask, loss, xp.zeros_like(loss))
    if not need_grad:
        return loss, None
    grad = _gradient(
        xp, x, logp, parts, dense, dense_mass, index, index_weight, mask, log_input, grad_scale
    )
    if mask is not None:  # 0 there already, but for rows without a softmax (nan)
        grad = zero_rows(xp, grad, mask)
    return loss, grad


def _gradient(
    xp: Any,
    x: Array,
    logp: Array,
    parts: tuple[Array, Array, Array] | None,
    dense: Array | None,
    dense_mass: Array | None,
    index: Array | None,
    index_weight: Array | None,
    mask: Array | None,
    log_input: bool,
    scale: Array | float | None,
) -> Array:
    """scale ((sum_c q_c) softmax(x) - q), or -scale q on log-probabilities, with no mass
    where not `mask` (rows without a softmax aside: the caller zeroes them): the dense
    part subtracted as it broadcasts, the index part added at its classes (no one-hot
    array on torch); the first term's row scale is a per-position array."""
    shape = tuple(x.shape)
    at_index = None
    if index is not None:
        at_index = xp.ones(shape[:-1], dtype=x.dtype, device=device_of(x))
        if index_weight is not None:
            at_index = index_weight
        if mask is not None:  # ignored positions: no mass, no index term
            at_index = xp.where(mask, at_index, xp.zeros_like(at_index))
        if scale is not None:
            at_index = at_index * scale
    if log_input:
        grad = xp.zeros(shape, dtype=x.dtype, device=device_of(x))
    else:
        mass = dense_mass
        if mass is not None and scale is not None:
            mass = mass * scale
        if at_index is not None:
            mass = at_index if mass is None else mass + at_index
        if mask is not None:
            mass = xp.where(mask, mass, xp.zeros_like(mass))
        mass = xp.expand_dims(mass, axis=-1)
        if parts is None:  # softmax(x) = exp(logp), logp being ours (log_softmax's)
            grad = times_owned(xp, exp_owned(xp, logp), mass)
        else:  # softmax(x) = exps / norm
            grad = parts[1] * (mass / parts[2])
    if dense is not None and mask is None and scale is None:
        grad = minus_owned(xp, grad, dense)
    elif dense is not None and mask is None:
        grad = plus_product_owned(xp, grad, scale, dense, scale=-1.0)
    elif dense is not None:  # the dense part of the positions kept only
        keep = xp.expand_dims(xp.astype(mask, x.dtype, copy=False), axis=-1)
        grad = plus_product_owned(
            xp, grad, keep, dense if scale is None else dense * scale, scale=-1.0
        )
    if at_index is not None:
        grad = add_at_last(xp, grad, index, -at_index)
    return grad


# --------------------------------------------------------------------------- layouts


def _classes_last(xp: Any, array: Array, class_axis: int) -> Array:
    axis = class_axis % array.ndim
    return array if axis == array.ndim - 1 else xp.moveaxis(array, axis, -1)


def _classes_back(xp: Any, grad: Array | None, class_axis: int) -> Array | None:
    """A gradient computed with the classes last, in the caller's layout again."""
    if grad is None:
        return None
    axis = class_axis % grad.ndim
    return grad if axis == grad.ndim - 1 else xp.moveaxis(grad, -1, axis)


# --------------------------------------------------------------------------- index and
# probability targets (PyTorch's definitions; Keras and tf.nn use them too)


def smooth_targets(t: Array, label_smoothing: float, n_classes: int) -> Array:
    """Multi-class label smoothing (PyTorch's and Keras'): t (1 - eps) + eps / C."""
    if not label_smoothing:
        return t
    return t * (1.0 - label_smoothing) + label_smoothing / n_classes


@accelerated("index_targets")
def index_targets(
    xp: Any,
    x: Array,
    y: Array,
    *,
    class_axis: int = -1,
    weight: Array | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    log_input: bool = False,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """Cross entropy (nll_loss when ``log_input``) with class-index targets, PyTorch's.

    x has its classes on ``class_axis`` (the caller's layout: PyTorch's axis 1,
    Keras' and tf.nn's last); y has x's shape without that axis. Position n gives
    (1 - eps) w_y nll_n + (eps / C) s_n with nll_n = -l_y and s_n = -sum_c w_c l_c,
    both 0 where y == ignore_index. 'mean' divides by sum_n w_{y_n} over the
    non-ignored positions (0 gives nan, as in PyTorch). ``y`` must be in range
    where not ignored (the front end checks it). The gradient has x's layout.
    """
    x = _classes_last(xp, x, class_axis)
    valid = y != ignore_index
    safe = xp.where(valid, y, xp.zeros_like(y))
    zeros = xp.zeros(tuple(y.shape), dtype=x.dtype, device=device_of(x))
    if weight is None:
        w_y = xp.where(valid, xp.ones_like(zeros), zeros)
    else:
        w_y = xp.where(valid, take_1d(xp, weight, safe), zeros)
    dense, index_weight = None, w_y
    if label_smoothing:
        n_classes = x.shape[-1]
        if weight is None:
            weight = xp.ones((n_classes,), dtype=x.dtype, device=device_of(x))
        dense = (label_smoothing / n_classes) * weight
        index_weight = (1.0 - label_smoothing) * w_y
    denominator = xp.sum(w_y)
    # torch, on logits: the 'mean' scales the gradient's coefficients (one pass fewer;
    # 1 / 0 = inf gives nan rows, which zero_rows makes nan throughout, or 0 if ignored)
    folded = need_grad and reduction == "mean" and not log_input and torch_in_place(xp, x)
    scale = None
    if folded:
        zero = denominator == 0
        safe_denominator = xp.where(zero, xp.ones_like(denominator), denominator)
        scale = xp.where(zero, xp.full_like(denominator, math.inf), 1.0 / safe_denominator)
    loss, grad = cross_entropy(
        xp,
        x,
        dense=dense,
        index=safe,
        index_weight=index_weight,
        mask=valid,
        log_input=log_input,
        need_grad=need_grad,
        grad_scale=scale,
    )
    loss, unfolded = torch_reduce(xp, loss, None if folded else grad, reduction, denominator)
    grad = grad if folded else unfolded
    if grad is not None and reduction == "mean" and not folded:
        grad = _undefined_where_torch_divides_by_zero(xp, grad, valid, safe, denominator, log_input)
    return loss, _classes_back(xp, grad, class_axis)


def _undefined_where_torch_divides_by_zero(
    xp: Any, grad: Array, valid: Array, index: Array, denominator: Array, log_input: bool
) -> Array:
    """PyTorch's gradient of a 'mean' whose denominator (sum of w_y) is 0: nan on every
    non-ignored position, over all its classes (through log_softmax), or only at its
    target class for nll_loss; 0 on ignored positions."""
    undefined = valid & (denominator == 0)
    zeros = xp.zeros(tuple(undefined.shape), dtype=grad.dtype, device=device_of(grad))
    nan_or_zero = xp.where(undefined, xp.full_like(zeros, math.nan), zeros)  # per position
    if log_input:
        return add_at_last(xp, grad, index, nan_or_zero)
    return minus_owned(xp, grad, xp.expand_dims(nan_or_zero, axis=-1))


@analytic
def probability_targets(
    xp: Any,
    x: Array,
    t: Array,
    *,
    class_axis: int = -1,
    weight: Array | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """PyTorch's cross_entropy with class-probability targets t (x's shape and layout).

    Position n gives -sum_c w_c t'_c l_c with t' = t (1 - eps) + eps / C.
    'mean' divides by the number of positions, numel / C (never by weights).
    """
    x, t = _classes_last(xp, x, class_axis), _classes_last(xp, t, class_axis)
    n_classes = x.shape[-1]
    t = smooth_targets(t, label_smoothing, n_classes)
    dense = t if weight is None else t * weight
    positions = numel(tuple(x.shape)) // n_classes if n_classes else 0  # 0 gives nan
    # torch: the 'mean' scales the gradient's coefficients (one pass fewer)
    folded = need_grad and reduction == "mean" and positions and torch_in_place(xp, x)
    scale = 1.0 / positions if folded else None
    loss, grad = cross_entropy(xp, x, dense=dense, need_grad=need_grad, grad_scale=scale)
    loss, unfolded = torch_reduce(xp, loss, None if folded else grad, reduction, positions)
    return loss, _classes_back(xp, grad if folded else unfolded, class_axis)


# --------------------------------------------------------------------------- Keras


def keras_log_probs(xp: Any, p: Array) -> Array:
    """Keras' log of probabilities (classes last): p normalised to sum 1, clipped to
    [1e-7, 1 - 1e-7]. A row summing to 0 gives nan (Keras' 0 / 0) without a
    RuntimeWarning."""
    return xp.log(keras_probs(xp, p))


def keras_probs(xp: Any, p: Array) -> Array:
    normalised = divide_or_nan(xp, p, xp.sum(p, axis=-1, keepdims=True))
    return xp.clip(normalised, min=KERAS_EPSILON, max=1.0 - KERAS_EPSILON)


def dense_targets(xp: Any, x: Array, t: Array, *, class_axis: int) -> Array:
    """-sum_c t_c log softmax(x)_c per position (tf.nn's and Keras' on logits), for
    targets t of x's shape, the classes on ``class_axis``; no reduction."""
    t, x = _classes_last(xp, t, class_axis), _classes_last(xp, x, class_axis)
    return softmax_dense(xp, x, t)[0]


@analytic
def softmax_dense(xp: Any, x: Array, t: Array, *, need_grad: bool = False) -> tuple[Array, Array]:
    """-sum_c t_c log softmax(x)_c per position (classes last, t broadcasting to x's
    shape) and its gradient in x: :func:`cross_entropy` with a dense target, as a family
    function (autodiff takes its analytic gradient: ``xent._kernels.analytic``)."""
    return cross_entropy(xp, x, dense=t, need_grad=need_grad)


def keras_categorical(xp: Any, t: Array, x: Array, *, from_logits: bool, class_axis: int) -> Array:
    """Keras' categorical cross-entropy per sample: -sum_c t_c log softmax(x)_c on
    logits, -sum_c t_c log p_c on probabilities (normalised and clipped, as Keras)."""
    if from_logits:
        return dense_targets(xp, x, t, class_axis=class_axis)
    t, x = _classes_last(xp, t, class_axis), _classes_last(xp, x, class_axis)
    return cross_entropy(xp, keras_log_probs(xp, x), dense=t, log_input=True)[0]


def keras_categorical_focal(
    xp: Any,
    t: Array,
    x: Array,
    *,
    alpha: Array | float,
    gamma: float,
    from_logits: bool,
    class_axis: int,
) -> Array:
    """Keras' categorical focal cross-entropy per sample, on clipped probabilities
    (softmax(x) on logits): sum_c alpha_c (1 - p_c)^gamma (-t_c log p_c). ``alpha`` is
    a number or an array that broadcasts to x's shape in the caller's layout."""
    if not isinstance(alpha, int | float):
        alpha = _classes_last(xp, xp.broadcast_to(alpha, tuple(x.shape)), class_axis)
    t, x = _classes_last(xp, t, class_axis), _classes_last(xp, x, class_axis)
    probs = keras_probs(xp, xp.exp(log_softmax(xp, x)) if from_logits else x)
    return xp.sum(alpha * (1.0 - probs) ** gamma * (-t * xp.log(probs)), axis=-1)


def keras_sparse(xp: Any, labels: Array, x: Array, *, from_logits: bool, class_axis: int) -> Array:
    """Keras' sparse categorical cross-entropy per sample: -log softmax(x)_y on logits,
    -log p_y on probabilities (normalised and clipped); labels of -1 give 0."""
    if from_logits:
        loss, _ = index_targets(
            xp, x, labels, class_axis=class_axis, ignore_index=-1, reduction="none"
        )
        return loss
    logp = keras_log_probs(xp, _classes_last(xp, x, class_axis))
    loss, _ = index_targets(xp, logp, labels, ignore_index=-1, log_input=True, reduction="none")
    return loss


# --------------------------------------------------------------------------- KL divergence
# Cross entropy and KL divergence differ by the target's entropy: with l the
# log-probabilities and t the target, KL(t || q) = sum_c t_c log t_c - sum_c t_c l_c,
# the second sum being `cross_entropy` with dense=t. The divergences below are that
# difference, elementwise, as PyTorch's kl_div (and optax's, Keras') define it.


def xlogy_self(xp: Any, t: Array) -> Array:
    """t log t with 0 at t = 0 (PyTorch's ``xlogy(t, t)``): nan for t < 0 (and nan),
    without a RuntimeWarning; +inf at t = +inf."""
    zero = t == 0
    negative = t < 0
    safe = xp.where(zero | negative, xp.ones_like(t), t)
    value = xp.where(zero, xp.zeros_like(t), t * xp.log(safe))
    return xp.where(negative, xp.full_like(t, math.nan), value)


def kl_pointwise(
    xp: Any, logq: Array, t: Array, *, log_target: bool = False, need_grad: bool = False
) -> tuple[Array, Array | None]:
    """PyTorch's ``kl_div`` elementwise and its gradient in ``logq``.

    ``t log t - t logq`` (t log t = 0 at t = 0, see :func:`xlogy_self`), or with
    ``log_target`` (t holds log-probabilities) ``exp(t) (t - logq)``. The gradient in
    logq is -t (-exp(t) with log_target), as PyTorch's backward. A zero target
    contributes 0 even where logq is -inf (the rule of this family, see the module's
    docstring: PyTorch gives 0 * inf = nan there), with log_target also where both are
    -inf (PyTorch: nan, and NumPy would warn); a nan stays nan; nothing is checked.
    """
    if log_target:
        p = xp.exp(t)
        # t = logq = -inf: a zero target, contributing 0, without computing -inf - -inf
        both = (t == -math.inf) & (logq == -math.inf)
        zeros = xp.zeros_like(t)
        loss = times_or_zero(xp, p, xp.where(both, zeros, t) - xp.where(both, zeros, logq))
        return loss, (-p if need_grad else None)
    loss = xlogy_self(xp, t) - times_or_zero(xp, t, logq)
    return loss, (-t if need_grad else None)


def kl_div(
    xp: Any,
    logq: Array,
    t: Array,
    *,
    log_target: bool = False,
    reduction: str = "mean",
    divisor: int | None = None,
    need_grad: bool = False,
) -> tuple[Array, Array | None]:
    """PyTorch's ``kl_div``: :func:`kl_pointwise` on logq and t broadcast together,
    reduced by `reduction` ('none', 'sum', or 'mean' over the broadcast numel), then
    divided by `divisor` when given ('batchmean': the input's first dimension; 0
    gives nan). The gradient, -t (-exp(t) with log_target) over the denominators,
    is summed back to logq's shape.
    """
    shape = broadcast_shapes(logq, t)
    loss, grad = kl_pointwise(
        xp,
        xp.broadcast_to(logq, shape),
        xp.broadcast_to(t, shape),
        log_target=log_target,
        need_grad=need_grad,
    )
    loss, grad = torch_reduce(xp, loss, grad, reduction)
    if divisor is not None:
        loss = divide_or_nan(xp, loss, divisor)
        loss = loss if reduction == "none" else zero_d(xp, loss)
        grad = None if grad is None else divide_or_zero(xp, grad, divisor)
    return loss, None if grad is None else sum_to_shape(xp, grad, tuple(logq.shape))


def keras_kl_divergence(xp: Any, t: Array, q: Array) -> Array:
    """Keras' ``kl_divergence`` per sample (classes last, t and q broadcast together):
    both clipped to [1e-7, 1], then sum_c (t_c log t_c - t_c log q_c) by
    :func:`kl_pointwise` (Keras writes t log(t / q); the two agree to rounding)."""
    t = xp.clip(t, min=KERAS_EPSILON, max=1.0)
    q = xp.clip(q, min=KERAS_EPSILON, max=1.0)
    loss, _ = kl_pointwise(xp, xp.log(q), t)
    return xp.sum(loss, axis=-1)


# --------------------------------------------------------------------------- optax
# optax's softmax losses mask CLASSES (``where``): a masked logit leaves the softmax.
# The functions below take the classes last and ``mask`` (None: every class) of x's
# shape; optax's axes and broadcasts are the front end's business (xent.optax).


def masked_log_softmax(xp: Any, x: Array, mask: Array | None) -> Array:
    """log_softmax over the classes in ``mask`` (last axis), -inf at the others (JAX's
    ``log_softmax(x, where=mask)``); a row with no class in the mask is -inf throughout.
    Without a mask, :func:`xent._array.log_softmax` (nan for a row with no softmax)."""
    if mask is None:
        return log_softmax(xp, x)
    minus_inf = xp.full_like(x, -math.inf)
    logp = log_softmax(xp, xp.where(mask, x, minus_inf))
    return xp.where(mask, logp, minus_inf)


def logsumexp(xp: Any, x: Array, mask: Array | None = None) -> Array:
    """log sum_c exp(x_c) over the classes in ``mask`` (last axis), JAX's rule: shifted by
    the row maximum where it is finite (by 0 elsewhere, so a +inf logit gives +inf and a
    row of -inf, or with no class in the mask, gives -inf); the shift is a constant to
    autodiff."""
    if mask is not None:
        x = xp.where(mask, x, xp.full_like(x, -math.inf))
    if x.shape[-1] == 0:
        return xp.full(tuple(x.shape[:-1]), -math.inf, dtype=x.dtype, device=device_of(x))
    top = xp.max(x, axis=-1, keepdims=True)
    top = stop_gradient(xp, xp.where(xp.isfinite(top), top, xp.zeros_like(top)))
    total = xp.sum(xp.exp(x - top), axis=-1)
    return log_or_minus_inf(xp, total) + top[..., 0]


def optax_dense_targets(xp: Any, x: Array, t: Array, mask: Array | None = None) -> Array:
    """optax's softmax cross entropy per row: -sum_{c in mask} t_c l_c with l the
    log_softmax over the classes in the mask. A class outside the mask contributes
    nothing (whatever t holds); t_c l_c is 0 where t_c = 0 (the rule of this family,
    where optax's ``softmax_cross_entropy`` gives 0 * -inf = nan; its
    ``safe_softmax_cross_entropy`` gives 0 too). A row with no class in the mask gives 0."""
    if mask is None:
        return softmax_dense(xp, x, t)[0]
    t = xp.where(mask, t, xp.zeros_like(t))
    return cross_entropy(xp, masked_log_softmax(xp, x, mask), dense=t, log_input=True)[0]


def optax_index_targets(xp: Any, x: Array, labels: Array, mask: Array | None = None) -> Array:
    """optax's softmax cross entropy with integer labels per row: logsumexp over the
    classes in the mask minus x_y, x_y taken whether y is in the mask or not (a masked
    label class gives the unmasked x_y, as optax). Labels in [-C, 0) count from the end
    (as JAX's indexing); other labels outside [0, C) give nan (JAX's fill value). A row
    with no class in the mask gives 0. ``labels`` has x's shape without the classes."""
    n = x.shape[-1]
    wrapped = xp.where(labels < 0, labels + n, labels)
    valid = (wrapped >= 0) & (wrapped < n)
    picked = take_last(xp, x, xp.where(valid, wrapped, xp.zeros_like(wrapped)))
    if n:
        picked = xp.where(valid, picked, xp.full_like(picked, math.nan))
    lse = logsumexp(xp, x, mask)
    # inf - inf (a +inf logit at the label's class, or only -inf logits) is nan, and
    # taken as such, without a RuntimeWarning
    undefined = xp.isinf(lse) & (lse == picked)
    safe = xp.where(undefined, xp.zeros_like(picked), picked)
    loss = xp.where(undefined, xp.full_like(lse, math.nan), lse - safe)
    if mask is not None:
        loss = xp.where(xp.any(mask, axis=-1), loss, xp.zeros_like(loss))
    return zero_d(xp, loss)


def optax_poly1(
    xp: Any, x: Array, t: Array, epsilon: Array | float, mask: Array | None = None
) -> Array:
    """optax's PolyLoss (Poly-1) per row: the cross entropy of
    :func:`optax_dense_targets` plus epsilon sum_{c in mask} t_c (1 - p_c), p the softmax
    over the classes in the mask; 1 - p_c is taken as -expm1(l_c) (exact where p_c is
    near 1)."""
    if mask is not None:
        t = xp.where(mask, t, xp.zeros_like(t))
    logp = masked_log_softmax(xp, x, mask)
    ce = cross_entropy(xp, logp, dense=t, log_input=True)[0]
    return zero_d(xp, ce + epsilon * xp.sum(t * -xp.expm1(logp), axis=-1))
