"""TensorFlow convention: ``tf.nn`` names and keyword arguments; unreduced losses.

Nothing here imports TensorFlow.
"""

from __future__ import annotations

from typing import Any

from . import _binary
from ._array import Array, as_array, broadcasts_to, compute_dtype, is_array, is_floating, namespace
from ._checks import check_real

__all__ = ["sigmoid_cross_entropy_with_logits", "weighted_cross_entropy_with_logits"]


def _prepare(labels: Any, logits: Any, name: str) -> tuple[Any, Array, Array, Any]:
    if labels is None or logits is None:
        raise ValueError(f"Both labels= and logits= must be provided to {name}.")
    xp = namespace(labels, logits)
    logits = as_array(xp, logits, dtype=None if is_array(logits) else xp.float32)
    if not is_floating(xp, logits.dtype):
        raise TypeError(f"logits must be a floating-point array, got dtype {logits.dtype}")
    labels = as_array(xp, labels, like=logits)
    check_real(xp, labels, "labels")
    if tuple(labels.shape) != tuple(logits.shape):
        raise ValueError(
            f"logits and labels must have the same shape ({tuple(logits.shape)} vs "
            f"{tuple(labels.shape)}); pass labels of the logits' shape"
        )
    ct = compute_dtype(xp, logits.dtype)
    return xp, xp.astype(labels, ct), xp.astype(logits, ct), logits.dtype


def sigmoid_cross_entropy_with_logits(labels: Array = None, logits: Array = None) -> Array:
    r"""``tf.nn.sigmoid_cross_entropy_with_logits``: elementwise, unreduced.

    :math:`\max(x, 0) - x z + \log(1 + e^{-|x|})`, computed as
    ``(1 - z) softplus(x) + z softplus(-x)`` (the same for any z, exact in both
    tails). Labels are cast to the logits' dtype.

    >>> import numpy as np
    >>> labels, logits = np.array([1.0, 0.0]), np.array([2.0, 2.0])
    >>> print(sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
    [0.1269 2.1269]
    """
    xp, z, x, dtype = _prepare(labels, logits, "sigmoid_cross_entropy_with_logits")
    return xp.astype(_binary.logits_elementwise(xp, x, z, None, need_grad=False)[0], dtype)


def weighted_cross_entropy_with_logits(labels: Array, logits: Array, pos_weight: Any) -> Array:
    r"""``tf.nn.weighted_cross_entropy_with_logits``: elementwise, unreduced.

    :math:`(1 - z) x + (1 + (q - 1) z)(\log(1 + e^{-|x|}) + \max(-x, 0))` with
    q = ``pos_weight`` (a scalar or an array that broadcasts to the logits' shape).

    >>> import numpy as np
    >>> print(weighted_cross_entropy_with_logits(np.array([1., 0.]), np.array([2., 2.]), 3.0))
    [0.3808 2.1269]
    """
    xp, z, x, dtype = _prepare(labels, logits, "weighted_cross_entropy_with_logits")
    q = as_array(xp, pos_weight, like=x)
    check_real(xp, q, "pos_weight")
    if not broadcasts_to(tuple(q.shape), tuple(x.shape)):
        raise ValueError(
            f"pos_weight of shape {tuple(q.shape)} does not broadcast to the logits' shape "
            f"{tuple(x.shape)}; pass a scalar or one weight per class (last axis)"
        )
    q = xp.astype(q, x.dtype)
    return xp.astype(_binary.logits_elementwise(xp, x, z, q, need_grad=False)[0], dtype)
