"""PyTorch convention: ``torch.nn.functional`` names, argument names and orders.

These are re-exported at the top level (``xent.binary_cross_entropy`` ...). They
check and convert arguments, then call the family math in ``xent._binary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _binary
from ._array import (
    Array,
    as_array,
    compute_dtype,
    namespace,
    result_float_dtype,
)
from ._autodiff import loss_function
from ._checks import (
    check_broadcasts_to,
    check_choice,
    check_floating,
    check_gamma,
    check_label_smoothing,
    check_real,
    check_same_shape,
    check_unit_interval,
    torch_reduction,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "sigmoid_focal_loss",
]


@dataclass
class _Binary:
    """Input and target converted and checked, in the compute dtype."""

    xp: Any
    x: Array
    y: Array
    input_dtype: Any
    out_dtype: Any
    compute_dtype: Any

    def operand(self, value: Any, name: str) -> Array | None:
        """weight / pos_weight: an array that broadcasts to the input's shape."""
        if value is None:
            return None
        array = as_array(self.xp, value, like=self.x)
        check_real(self.xp, array, name)
        check_broadcasts_to(array, tuple(self.x.shape), name)
        return self.xp.astype(array, self.compute_dtype, copy=False)

    def result(self, loss: Array, grad: Array | None) -> tuple[Array, Array | None]:
        xp = self.xp
        loss = xp.astype(loss, self.out_dtype, copy=False)
        return loss, None if grad is None else xp.astype(grad, self.input_dtype, copy=False)


def prepare_binary(input: Any, target: Any, shape_message: str, *others: Any) -> _Binary:
    """Convert (lists too), check dtypes and shapes, cast to the compute dtype.

    The input must be floating; the target may be floating, integer or bool. The
    result has the promoted floating dtype of the two; float16/bfloat16 are
    computed in float32 and returned in their own dtype.
    """
    xp = namespace(input, target, *others)
    input = as_array(xp, input)
    target = as_array(xp, target, like=input)
    check_floating(xp, input, "input")
    check_real(xp, target, "target")
    check_same_shape(input, target, shape_message)
    out_dtype = result_float_dtype(xp, input.dtype, target.dtype)
    ct = compute_dtype(xp, out_dtype)
    # copy=False: no copy of arrays already in the compute dtype (none is written to)
    x, y = xp.astype(input, ct, copy=False), xp.astype(target, ct, copy=False)
    return _Binary(xp, x, y, input.dtype, out_dtype, ct)


@loss_function
def binary_cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    label_smoothing: float = 0.0,
    ignore_index: float | None = None,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Binary cross-entropy between probabilities ``input`` and ``target``.

    As ``torch.nn.functional.binary_cross_entropy``: each log is clamped at -100,

    .. math:: \ell = -w \,[\,y \max(\log x, -100) + (1 - y) \max(\log(1 - x), -100)\,]

    Args:
        input: probabilities in [0, 1], any shape, floating.
        target: same shape, values in [0, 1].
        weight: broadcasts to the input's shape; multiplies each element's loss.
        size_average, reduce: PyTorch's deprecated arguments; when given they
            override ``reduction`` (with PyTorch's warning).
        reduction: 'none' | 'mean' | 'sum'. **'mean' divides by the number of
            elements** (not by the sum of weights); with ``ignore_index``, by the
            number of non-ignored elements. Empty (or all ignored) gives nan.
        label_smoothing: extension (off by default): targets become
            ``y (1 - ls) + 0.5 ls``, as in Keras.
        ignore_index: extension (off by default): elements whose target equals it
            contribute 0 and leave the 'mean' denominator.

    Raises ValueError for a target of another shape, an input or target outside
    [0, 1] (NaN included), a weight that does not broadcast to the input, an
    unknown reduction or a label_smoothing outside [0, 1]; TypeError for a
    non-floating input.

    Gradient (``xent.value_and_grad``): PyTorch's
    ``w (x - y) / max(x (1 - x), 1e-12)``, divided by the 'mean' denominator.

    >>> import numpy as np, xent
    >>> float(xent.binary_cross_entropy(np.full((3, 2), 0.8), np.full((3, 2), 0.4)))
    1.0549
    """
    reduction = torch_reduction(size_average, reduce, reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    b = prepare_binary(
        input,
        target,
        "Using a target size ({target}) that is different to the input size ({input}) "
        "is deprecated. Please ensure they have the same size.",
        weight,
    )
    w = b.operand(weight, "weight")
    xp = b.xp
    check_unit_interval(xp, b.x, "input")
    valid = None if ignore_index is None else b.y != ignore_index
    check_unit_interval(xp, b.y, "target", valid)
    loss, grad = _binary.binary_cross_entropy(
        xp,
        b.x,
        b.y,
        weight=w,
        label_smoothing=label_smoothing,
        ignore_index=ignore_index,
        reduction=reduction,
        need_grad=need_grad,
    )
    return b.result(loss, grad)


@loss_function
def binary_cross_entropy_with_logits(
    input: Array,
    target: Array,
    weight: Array | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Array | None = None,
    *,
    label_smoothing: float = 0.0,
    ignore_index: float | None = None,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Sigmoid cross-entropy between logits ``input`` and ``target``.

    As ``torch.nn.functional.binary_cross_entropy_with_logits``:

    .. math:: \ell = w \,[\,(1 - y)\,\mathrm{softplus}(x) + p\,y\,\mathrm{softplus}(-x)\,]

    which equals PyTorch's ``w [(1 - y) x - (1 + (p - 1) y) log sigmoid(x)]`` but is
    accurate in both tails (x = -40, y = 0 gives 4.25e-18, not 0) and gives no
    nan at infinite logits whose term has a zero coefficient.

    Args:
        input: logits, any shape, floating.
        target: same shape; not range-checked (PyTorch accepts y = 2).
        weight: broadcasts to the input's shape; multiplies each element's loss.
        size_average, reduce: deprecated; override ``reduction`` when given.
        reduction: 'none' | 'mean' | 'sum'. **'mean' divides by the number of
            elements** (not by the sum of weights); with ``ignore_index``, by the
            number of non-ignored elements. Empty (or all ignored) gives nan.
        pos_weight: weight of the positive term, broadcast to the input's shape
            (shape (C,) for input (N, C); (C, 1, 1) for input (N, C, H, W)).
        label_smoothing: extension (off by default): ``y (1 - ls) + 0.5 ls``.
        ignore_index: extension (off by default): elements whose target equals it
            contribute 0 and leave the 'mean' denominator.

    Gradient: ``w [(1 - y) sigmoid(x) - p y sigmoid(-x)]``, divided by the 'mean'
    denominator.

    >>> import numpy as np, xent
    >>> float(xent.binary_cross_entropy_with_logits(
    ...     np.full((3, 2), 0.8), np.full((3, 2), 0.4), reduction="sum"))
    5.1066
    """
    reduction = torch_reduction(size_average, reduce, reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    b = prepare_binary(
        input,
        target,
        "Target size ({target}) must be the same as input size ({input})",
        weight,
        pos_weight,
    )
    loss, grad = _binary.binary_cross_entropy_with_logits(
        b.xp,
        b.x,
        b.y,
        weight=b.operand(weight, "weight"),
        pos_weight=b.operand(pos_weight, "pos_weight"),
        label_smoothing=label_smoothing,
        ignore_index=ignore_index,
        reduction=reduction,
        need_grad=need_grad,
    )
    return b.result(loss, grad)


@loss_function
def sigmoid_focal_loss(
    inputs: Array,
    targets: Array,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "none",
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""torchvision's ``sigmoid_focal_loss`` (RetinaNet), on logits.

    .. math:: \ell = \alpha_t\,(1 - p_t)^\gamma\,\mathrm{ce}(x, y),\quad
              p_t = p y + (1 - p)(1 - y),\ p = \sigma(x),\
              \alpha_t = \alpha y + (1 - \alpha)(1 - y)

    where ce is the sigmoid cross-entropy; a negative ``alpha`` switches the
    alpha_t factor off (torchvision's rule). With gamma = 0 and alpha < 0 it is
    the plain sigmoid cross-entropy.

    Args:
        inputs: logits, any shape, floating.
        targets: same shape (0/1 labels, or soft labels).
        alpha: balance of positives; negative to disable.
        gamma: focusing exponent, >= 0.
        reduction: 'none' (the default, as in torchvision) | 'mean' (divides by
            the number of elements) | 'sum'.

    The gradient stays finite at gamma < 1 where torch autograd gives nan.

    >>> import numpy as np, xent
    >>> print(xent.sigmoid_focal_loss(np.array([0.0, 3.0]), np.array([1.0, 1.0]), gamma=0.0))
    [0.1733 0.0121]
    """
    reduction = check_choice("reduction", reduction, ("none", "mean", "sum"))
    gamma = check_gamma(gamma)
    alpha = float(alpha)
    b = prepare_binary(
        inputs, targets, "targets of shape {target} do not match inputs of shape {input}"
    )
    loss, grad = _binary.sigmoid_focal_loss(
        b.xp, b.x, b.y, alpha=alpha, gamma=gamma, reduction=reduction, need_grad=need_grad
    )
    return b.result(loss, grad)
