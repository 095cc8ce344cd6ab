"""Reductions, written once: PyTorch's (with its denominators), Keras' (with sample weights)
and TensorFlow 1's (``tf.compat.v1.losses``, with weights and nonzero-weight counts).

Every loss hands in its elementwise values (and, when a gradient is wanted, the
elementwise derivative of each value with respect to its own input element) and
gets back the reduced loss and the gradient of that reduced loss.
"""

from __future__ import annotations

import math
from typing import Any

from ._array import (
    Array,
    broadcasts_to,
    device_of,
    divide_or_nan,
    divide_or_zero,
    is_array,
    numel,
    torch_in_place,
    zero_d,
)


def torch_reduce(
    xp: Any,
    loss: Array,
    grad: Array | None,
    reduction: str,
    denominator: Array | int | None = None,
) -> tuple[Array, Array | None]:
    """Reduce elementwise `loss` as PyTorch does.

    'none' returns it as is, 'sum' sums it, 'mean' divides the sum by
    `denominator` (the number of elements when None); a zero denominator gives
    nan, as in PyTorch. `grad` is scaled to be the gradient of the result (of
    its sum for 'none').
    """
    if reduction == "none":
        return loss, grad
    value = xp.sum(loss)
    if reduction == "mean":
        if denominator is None:
            denominator = numel(tuple(loss.shape))
        value = divide_or_nan(xp, value, denominator)
        if grad is not None:
            grad = _divide_gradient(xp, grad, denominator)
    return zero_d(xp, value), grad


def _divide_gradient(xp: Any, grad: Array, denominator: Array | int) -> Array:
    """divide_or_zero(grad, denominator); torch divides `grad` (the loss's temporary) in
    place, by inf where the denominator is 0 (0 for a finite gradient)."""
    if not torch_in_place(xp, grad):
        return divide_or_zero(xp, grad, denominator)
    if not is_array(denominator):
        return grad.zero_() if denominator == 0 else grad.div_(denominator)
    return grad.div_(xp.where(denominator == 0, xp.full_like(denominator, math.inf), denominator))


# --------------------------------------------------------------------------- Keras

KERAS_REDUCTIONS = ("sum_over_batch_size", "sum", None, "none", "mean", "mean_with_sample_weight")


def squeeze_or_expand_to_same_rank(xp: Any, x1: Array, x2: Array) -> tuple[Array, Array]:
    """Keras' rule: where ranks differ by one and the longer ends in 1, squeeze it
    (or expand the shorter one when that one is rank 1)."""
    r1, r2 = x1.ndim, x2.ndim
    if r1 == r2 + 1 and x1.shape[-1] == 1:
        if r2 == 1:
            x2 = xp.expand_dims(x2, axis=-1)
        else:
            x1 = xp.squeeze(x1, axis=-1)
    elif r2 == r1 + 1 and x2.shape[-1] == 1:
        if r1 == 1:
            x1 = xp.expand_dims(x1, axis=-1)
        else:
            x2 = xp.squeeze(x2, axis=-1)
    return x1, x2


def keras_reduce(
    xp: Any,
    values: Array,
    sample_weight: Array | None,
    reduction: str | None,
    mask: Array | None = None,
) -> Array:
    """Keras 3's reduce_weighted_values: weights (and a mask) applied, then reduced.

    'sum_over_batch_size' and 'mean' divide the weighted sum by the number of
    elements of the per-sample loss (by the number of unmasked ones when there
    is a mask); 'mean_with_sample_weight' by the sum of the sample weights;
    a zero divisor gives 0. A scalar or a shape (0,) loss is returned unreduced.
    """
    if mask is not None:
        if reduction in ("mean", "sum_over_batch_size"):
            total = numel(tuple(mask.shape))
            valid = xp.sum(xp.astype(mask, values.dtype, copy=False))
            mask_weight = divide_or_zero(xp, xp.full_like(valid, total), valid)
            float_mask = xp.where(mask, mask_weight, xp.zeros_like(mask_weight))
        else:
            float_mask = xp.astype(mask, values.dtype, copy=False)
        if sample_weight is not None:
            float_mask, sample_weight = squeeze_or_expand_to_same_rank(
                xp, float_mask, sample_weight
            )
            sample_weight = sample_weight * float_mask
        else:
            sample_weight = float_mask
    if sample_weight is not None:
        values, sample_weight = squeeze_or_expand_to_same_rank(xp, values, sample_weight)
        values = values * sample_weight
    if reduction in (None, "none") or tuple(values.shape) in ((), (0,)):
        return values
    loss = xp.sum(values)
    if reduction != "sum":
        if reduction == "mean_with_sample_weight" and sample_weight is not None:
            divisor = xp.sum(sample_weight)
        else:
            divisor = numel(tuple(values.shape))
        loss = divide_or_zero(xp, loss, divisor)
    return zero_d(xp, loss)


def keras_metric_update(
    xp: Any, values: Array, sample_weight: Array | None, mask: Array | None = None
) -> tuple[Array, Array]:
    """(sum of w * value, sum of w): one update of Keras 3's ``Mean`` metric state
    (``reduce_to_samplewise_values`` with ops.mean, then ``Mean.update_state``), in
    values' dtype; ``sample_weight`` already in that dtype.

    Without weights each sample (first axis) weighs 1 and its value is the mean over
    the other axes (a 0-d value is one sample); the ``mask`` is then NOT applied, as
    in Keras. With weights: the mask (ignored samples) multiplies them; weights and
    values are squeezed or expanded to one rank (Keras' rule); values are averaged
    over their axes beyond the weights' rank (so a scalar weight w makes the whole
    batch ONE sample of weight w), weights broadcast to the values, the products
    and the weights are averaged over the axes after the first. A weight that does
    not broadcast raises ValueError.
    """
    if sample_weight is None:
        if values.ndim > 1:
            values = xp.mean(values, axis=tuple(range(1, values.ndim)))
        count = values.shape[0] if values.ndim else 1
        count = xp.asarray(count, dtype=values.dtype, device=device_of(values))
        return zero_d(xp, xp.sum(values)), count
    if mask is not None:
        float_mask = xp.astype(mask, values.dtype, copy=False)
        float_mask, sample_weight = squeeze_or_expand_to_same_rank(xp, float_mask, sample_weight)
        sample_weight = sample_weight * float_mask
    values, sample_weight = squeeze_or_expand_to_same_rank(xp, values, sample_weight)
    weight_ndim, values_ndim = sample_weight.ndim, values.ndim
    if values_ndim > weight_ndim:
        values = xp.mean(values, axis=tuple(range(weight_ndim, values_ndim)))
    if not broadcasts_to(tuple(sample_weight.shape), tuple(values.shape)):
        raise ValueError(
            f"sample_weight of shape {tuple(sample_weight.shape)} does not broadcast to the "
            f"per-sample values of shape {tuple(values.shape)}; pass one weight per sample "
            "(or a scalar)"
        )
    sample_weight = xp.broadcast_to(sample_weight, tuple(values.shape))
    values = values * sample_weight
    if weight_ndim > 1:
        sample_weight = xp.mean(sample_weight, axis=tuple(range(1, weight_ndim)))
    if values.ndim > 1:
        values = xp.mean(values, axis=tuple(range(1, values.ndim)))
    return zero_d(xp, xp.sum(values)), zero_d(xp, xp.sum(sample_weight))


# --------------------------------------------------------------------------- TensorFlow 1

TF_V1_REDUCTIONS = (
    "none",
    "weighted_sum",
    "weighted_mean",
    "weighted_sum_over_batch_size",
    "weighted_sum_by_nonzero_weights",
)


def tf_v1_reduce(xp: Any, losses: Array, weights: Array, reduction: str) -> Array:
    """TensorFlow 1's compute_weighted_loss: ``losses * weights``, then reduced.

    `weights` broadcasts to `losses` (the caller checks TensorFlow's rule: a scalar,
    or `losses`' rank with each dimension 1 or equal). 'none' returns the weighted
    losses; 'weighted_sum' their sum; the others divide that sum by the sum of the
    broadcast weights ('weighted_mean'), by the number of elements of `losses`
    ('weighted_sum_over_batch_size') or by the number of nonzero broadcast weights
    ('weighted_sum_by_nonzero_weights'); a zero divisor gives 0 (``div_no_nan``,
    whatever the sum).
    """
    weighted = losses * weights
    if reduction == "none":
        return weighted
    total = zero_d(xp, xp.sum(weighted))
    if reduction == "weighted_sum":
        return total
    shape = tuple(losses.shape)
    if reduction == "weighted_mean":
        divisor = xp.sum(xp.broadcast_to(weights, shape))
    elif reduction == "weighted_sum_over_batch_size":
        divisor = numel(shape)
    else:
        present = xp.astype(xp.broadcast_to(weights != 0, shape), losses.dtype, copy=False)
        divisor = xp.sum(present)
    return zero_d(xp, divide_or_zero(xp, total, divisor))


# --------------------------------------------------------------------------- optax


def masked_sum(xp: Any, values: Array, axes: tuple[int, ...], where: Array | None) -> Array:
    """``jnp.sum(values, axis=axes, where=where)``: the sum over ``axes`` of the elements
    where ``where`` (of values' shape) is True; the others, nan or inf included, are
    left out (an empty sum is 0)."""
    if where is not None:
        values = xp.where(where, values, xp.zeros_like(values))
    return zero_d(xp, xp.sum(values, axis=axes))
