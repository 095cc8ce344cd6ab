"""TensorFlow convention: ``tf.nn`` names and keyword arguments; unreduced losses.

Arguments are prepared by ``xent._prepare`` and the math is the families'
(``xent._binary``, ``xent._categorical``). Nothing here imports TensorFlow.

TensorFlow 1's reduced losses (``tf.compat.v1.losses``: sigmoid_cross_entropy,
softmax_cross_entropy, sparse_softmax_cross_entropy, log_loss, Reduction) are in
``xent.tf.compat.v1.losses``, also reachable as ``xent.tf.losses`` (TensorFlow 1's
``tf.losses``; TensorFlow 2's ``tf.losses`` is Keras', see ``xent.keras``).
"""

from __future__ import annotations

from typing import Any

from .. import _binary, _categorical
from .._array import Array, as_array, broadcasts_to, compute_dtype, index_dtype
from .._checks import check_class_indices, check_integer, check_real
from .._prepare import check_axis, convert, same_shape_pair

__all__ = [
    "compat",
    "losses",
    "sigmoid_cross_entropy_with_logits",
    "softmax_cross_entropy_with_logits",
    "sparse_softmax_cross_entropy_with_logits",
    "weighted_cross_entropy_with_logits",
]


_NAMES = ("logits", "labels")
_SAME_SHAPE = (
    "logits and labels must have the same shape ({input} vs {target}); pass labels of the "
    "logits' shape"
)


def _provided(labels: Any, logits: Any, name: str) -> None:
    if labels is None or logits is None:
        raise ValueError(f"Both labels= and logits= must be provided to {name}.")


def _prepare(labels: Any, logits: Any, name: str) -> tuple[Any, Array, Array, Any]:
    """(xp, labels, logits in the compute dtype, the logits' dtype), of one shape."""
    _provided(labels, logits, name)
    return same_shape_pair(logits, labels, names=_NAMES, shape_message=_SAME_SHAPE)


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
    loss, _ = _binary.binary_cross_entropy_with_logits(xp, x, z, reduction="none")
    return xp.astype(loss, dtype, copy=False)


def weighted_cross_entropy_with_logits(labels: Array, logits: Array, pos_weight: Any) -> Array:
    r"""``tf.nn.weighted_cross_entropy_with_logits``: elementwise, unreduced.

    :math:`(1 - z) x + (1 + (q - 1) z)(\log(1 + e^{-|x|}) + \max(-x, 0))` with
    q = ``pos_weight`` (a scalar or an array that broadcasts to the logits' shape).
    Where autodiff differentiates it (torch, JAX), the gradient is the derivative,
    :math:`(1 - z)\sigma(x) - q z \sigma(-x)`, at x = 0 too (TensorFlow's autodiff of the
    form above gives 1 - z there, not the derivative).

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
    q = xp.astype(q, x.dtype, copy=False)
    loss, _ = _binary.binary_cross_entropy_with_logits(xp, x, z, pos_weight=q, reduction="none")
    return xp.astype(loss, dtype, copy=False)


def softmax_cross_entropy_with_logits(
    labels: Array = None, logits: Array = None, axis: int = -1
) -> Array:
    r"""``tf.nn.softmax_cross_entropy_with_logits``: one value per row, unreduced.

    :math:`-\sum_c z_c \log\mathrm{softmax}(x)_c` over ``axis``, for labels z of
    the logits' shape (each row a distribution, not checked); the result has the
    logits' shape without ``axis``. Labels are cast to the logits' dtype. A class
    with logit -inf and label 0 contributes 0. Any axis in [-rank, rank) is taken
    (TensorFlow 2.21 refuses negative axes other than -1). Where autodiff
    differentiates it (torch, JAX), the gradient is the derivative of this loss,
    :math:`(\sum_c z_c) \mathrm{softmax}(x) - z`; TensorFlow's is
    :math:`\mathrm{softmax}(x) - z`, the same only where each row of labels sums to 1.

    >>> import numpy as np
    >>> labels = np.array([[0., 1.], [0.5, 0.5]])
    >>> logits = np.array([[1., 2.], [1., 4.]])
    >>> print(softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    [0.3133 1.5486]
    """
    xp, z, x, dtype = _prepare(labels, logits, "softmax_cross_entropy_with_logits")
    axis = check_axis(axis, tuple(x.shape), "logits")
    loss = _categorical.dense_targets(xp, x, z, class_axis=axis)
    return xp.astype(loss, dtype, copy=False)


def sparse_softmax_cross_entropy_with_logits(labels: Array = None, logits: Array = None) -> Array:
    r"""``tf.nn.sparse_softmax_cross_entropy_with_logits``: one value per row, unreduced.

    :math:`-\log\mathrm{softmax}(x)_y` over the last axis, for integer labels y of
    the logits' shape without the last axis, each in [0, C) (else IndexError, as
    TensorFlow's CPU kernel raises; its GPU kernel gives nan).

    >>> import numpy as np
    >>> logits = np.array([[1., 2.], [1., 4.]])
    >>> print(sparse_softmax_cross_entropy_with_logits(labels=np.array([0, 1]), logits=logits))
    [1.3133 0.0486]
    """
    _provided(labels, logits, "sparse_softmax_cross_entropy_with_logits")
    xp, x, y = convert(logits, labels, names=_NAMES, lists_as_float32=True)
    if x.ndim == 0 or tuple(y.shape) != tuple(x.shape[:-1]):
        raise ValueError(
            f"labels of shape {tuple(y.shape)} do not fit logits of shape {tuple(x.shape)}: "
            "the rank of labels should equal the rank of logits minus 1; pass one label per "
            "row, of the logits' shape without the last (class) axis"
        )
    check_integer(xp, y, "labels", "pass int32 or int64 labels")
    check_class_indices(xp, y, x.shape[-1], None, None)
    dtype = x.dtype
    x = xp.astype(x, compute_dtype(xp, dtype), copy=False)
    # ignore_index=-1 is never a label here (they are checked to be in [0, C))
    loss, _ = _categorical.index_targets(
        xp, x, xp.astype(y, index_dtype(xp)), class_axis=-1, ignore_index=-1, reduction="none"
    )
    return xp.astype(loss, dtype, copy=False)


# TensorFlow 1's losses are built on the functions above: imported once they exist
from . import compat  # noqa: E402
from .compat.v1 import losses  # noqa: E402
