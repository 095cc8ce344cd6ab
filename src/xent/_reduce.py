"""Reductions, written once: PyTorch's (with its denominators) and Keras' (with sample weights).

Every loss hands in its elementwise values (and, when a gradient is wanted, the
elementwise derivative of each value with respect to its own input element) and
gets back the reduced loss and the gradient of that reduced loss.
"""

from __future__ import annotations

from typing import Any

from ._array import Array, divide_or_nan, divide_or_zero, numel, zero_d


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
            grad = divide_or_zero(xp, grad, denominator)
    return zero_d(xp, value), grad


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


# --------------------------------------------------------------------------- optax


def masked_sum(xp: Any, values: Array, axes: tuple[int, ...], where: Array | None) -> Array:
    """``jnp.sum(values, axis=axes, where=where)``: the sum over ``axes`` of the elements
    where ``where`` (of values' shape) is True; the others, nan or inf included, are
    left out (an empty sum is 0)."""
    if where is not None:
        values = xp.where(where, values, xp.zeros_like(values))
    return zero_d(xp, xp.sum(values, axis=axes))
