"""PyTorch convention: ``torch.nn.functional`` names, argument names and orders.

These are re-exported at the top level (``xent.binary_cross_entropy`` ...). They
check and convert arguments, then call the family math in ``xent._binary``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import _binary, _categorical
from ._array import (
    Array,
    as_array,
    compute_dtype,
    is_floating,
    namespace,
    result_float_dtype,
)
from ._autodiff import loss_function
from ._checks import (
    check_broadcasts_to,
    check_choice,
    check_class_indices,
    check_class_weight,
    check_floating,
    check_gamma,
    check_ignore_index,
    check_integer,
    check_label_smoothing,
    check_real,
    check_same_shape,
    check_unit_interval,
    torch_reduction,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "sigmoid_focal_loss",
]


@dataclass
class _Prepared:
    """Input (and target) converted and checked, in the compute dtype."""

    xp: Any
    x: Array
    input_dtype: Any
    out_dtype: Any
    compute_dtype: Any

    def _operand(self, value: Any, name: str, check: Any) -> Array | None:
        """weight-like argument: converted, `check(array)`-ed, in the compute dtype."""
        if value is None:
            return None
        array = as_array(self.xp, value, like=self.x)
        check_real(self.xp, array, name)
        check(array)
        return self.xp.astype(array, self.compute_dtype, copy=False)

    def result(self, loss: Array, grad: Array | None) -> tuple[Array, Array | None]:
        """The loss in the output dtype, the gradient in the input's."""
        xp = self.xp
        loss = xp.astype(loss, self.out_dtype, copy=False)
        return loss, None if grad is None else xp.astype(grad, self.input_dtype, copy=False)


@dataclass
class _Binary(_Prepared):
    y: Array = None

    def operand(self, value: Any, name: str) -> Array | None:
        """weight / pos_weight: an array that broadcasts to the input's shape."""
        shape = tuple(self.x.shape)
        return self._operand(value, name, lambda a: check_broadcasts_to(a, shape, name))


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
    return _Binary(xp, x, input.dtype, out_dtype, ct, y=y)


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
    x = check_unit_interval(xp, b.x, "input")
    valid = None if ignore_index is None else b.y != ignore_index
    y = check_unit_interval(xp, b.y, "target", valid)
    loss, grad = _binary.binary_cross_entropy(
        xp,
        x,
        y,
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


# --------------------------------------------------------------------------- multi-class


@dataclass
class _Categorical(_Prepared):
    """Input (classes moved to the last axis) and target, checked, in the compute dtype.

    ``target`` holds int64 class indices (``is_index``) or class probabilities of
    the input's shape (classes last too).
    """

    target: Array = None
    is_index: bool = True
    class_axis: int = 1

    @property
    def n_classes(self) -> int:
        return self.x.shape[-1]

    def weight(self, value: Any) -> Array | None:
        """A 1-D weight with one value per class."""
        return self._operand(value, "weight", lambda a: check_class_weight(a, self.n_classes))

    def result(self, loss: Array, grad: Array | None) -> tuple[Array, Array | None]:
        """As `_Prepared.result`, with the class axis of the gradient put back."""
        if grad is not None and self.class_axis != grad.ndim - 1:
            grad = self.xp.moveaxis(grad, -1, self.class_axis)
        return super().result(loss, grad)


def prepare_categorical(
    input: Any, target: Any, weight: Any, *, probabilities: bool, name: str
) -> _Categorical:
    """Convert (lists too) and check input and target; decide the target's form.

    The class axis is 1 (0 for an unbatched (C,) input). A target of the input's
    shape holds class probabilities (when ``probabilities``, else it is refused);
    one of the input's shape without the class axis holds class indices (for a
    (C,) input: shape () or (1,)). Index targets give the input's dtype, probability
    targets the promotion of both; halves compute in float32.
    """
    xp = namespace(input, target, weight)
    input = as_array(xp, input)
    target = as_array(xp, target, like=input)
    check_floating(xp, input, "input")
    if input.ndim == 0:
        raise ValueError(
            "Expected 1 or more dimensions (got 0) for the input; pass logits of shape (C,), "
            "(N, C) or (N, C, d1, ..., dK)"
        )
    class_axis = 0 if input.ndim == 1 else 1
    shape, target_shape = tuple(input.shape), tuple(target.shape)
    index_shape = shape[:class_axis] + shape[class_axis + 1 :]
    index_forms = ((), (1,)) if input.ndim == 1 else (index_shape,)
    if probabilities and target_shape == shape:
        if not is_floating(xp, target.dtype):
            raise TypeError(
                f"a target of the input's shape {shape} holds class probabilities and must be "
                f"floating, got dtype {target.dtype}; pass float probabilities, or class "
                f"indices of shape {index_shape}"
            )
        out_dtype = result_float_dtype(xp, input.dtype, target.dtype)
        is_index = False
    elif target_shape in index_forms:
        check_integer(
            xp,
            target,
            "target",
            "pass them as integers (e.g. target.astype(int64))"
            + (f", or class probabilities of the input's shape {shape}" if probabilities else ""),
        )
        target = xp.reshape(xp.astype(target, xp.int64, copy=False), index_shape)
        out_dtype = input.dtype
        is_index = True
    else:
        expected = f"class indices of shape {index_shape}"
        if probabilities:
            expected += f" or class probabilities of the input's shape {shape}"
        raise ValueError(
            f"{name}: a target of shape {target_shape} does not fit an input of shape {shape} "
            f"(classes on axis {class_axis}); pass {expected}"
        )
    ct = compute_dtype(xp, out_dtype)
    x = xp.astype(input, ct, copy=False)
    if not is_index:
        target = xp.astype(target, ct, copy=False)
    if class_axis != input.ndim - 1:
        x = xp.moveaxis(x, class_axis, -1)
        if not is_index:
            target = xp.moveaxis(target, class_axis, -1)
    return _Categorical(
        xp, x, input.dtype, out_dtype, ct, target=target, is_index=is_index, class_axis=class_axis
    )


@loss_function
def cross_entropy(
    input: Array,
    target: Array,
    weight: Array | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Softmax cross-entropy between logits ``input`` and ``target``.

    As ``torch.nn.functional.cross_entropy``. With :math:`l = \log\mathrm{softmax}(x)`
    over the class axis (axis 1; axis 0 for an unbatched ``(C,)`` input) and
    :math:`\varepsilon` = ``label_smoothing``, each position n gives

    * class-index targets y:
      :math:`\ell_n = (1 - \varepsilon)\, w_{y_n} (-l_{n,y_n})
      + \frac{\varepsilon}{C} \sum_c w_c (-l_{n,c})`, and 0 where
      ``y_n == ignore_index``;
    * class-probability targets t (the input's shape):
      :math:`\ell_n = -\sum_c w_c\, t'_{n,c}\, l_{n,c}` with
      :math:`t' = t (1 - \varepsilon) + \varepsilon / C`.

    Args:
        input: logits of shape (C,), (N, C) or (N, C, d1, ..., dK), floating.
        target: integer class indices of shape (), (N) or (N, d1, ..., dK) with
            values in [0, C) (or ``ignore_index``); or float class probabilities
            of the input's shape.
        weight: shape (C,), a weight per class.
        size_average, reduce: PyTorch's deprecated arguments; when given they
            override ``reduction`` (with PyTorch's warning).
        ignore_index: index targets equal to it give 0 and leave the 'mean'
            denominator. Probability targets refuse a non-negative one.
        reduction: 'none' (one loss per position, shape (N, d1, ..., dK)) |
            'mean' | 'sum'. **'mean' denominators**: index targets divide by the
            sum of the weights of the non-ignored targets,
            :math:`\sum_n w_{y_n} [y_n \ne \text{ignore\_index}]` (the count of
            non-ignored targets without weight; 0, e.g. all ignored, gives nan
            like PyTorch); probability targets divide by the number of positions,
            numel / C (never by the weights).
        label_smoothing: in [0, 1].

    Raises IndexError for a class index outside [0, C); ValueError for a target
    shape that fits neither form, a weight not of shape (C,), a label_smoothing
    outside [0, 1] (PyTorch silently ignores a negative one), a non-negative
    ignore_index with probability targets or an unknown reduction; TypeError for
    a non-floating input, float index targets, integer probability targets or a
    non-integer ignore_index. Unlike PyTorch, any integer dtype is accepted for
    indices (PyTorch wants int64 or uint8).

    Gradient (``xent.value_and_grad``) with respect to the input:
    :math:`(\sum_c q_c)\,\mathrm{softmax}(x) - q` per position, q the target
    measure above (e.g. :math:`w_y (\mathrm{softmax}(x) - \mathrm{onehot}(y))`),
    divided by the 'mean' denominator.

    A class whose logit is -inf and whose target probability is 0 contributes 0
    (PyTorch gives nan).

    >>> import xent
    >>> float(xent.cross_entropy([[1., 2.], [1., 4.]], [0, 1]))
    0.6809
    """
    reduction = torch_reduction(size_average, reduce, reduction)
    label_smoothing = check_label_smoothing(label_smoothing)
    ignore_index = check_ignore_index(ignore_index)
    c = prepare_categorical(input, target, weight, probabilities=True, name="cross_entropy")
    w = c.weight(weight)
    if not c.is_index:
        if ignore_index >= 0:
            raise ValueError(
                f"ignore_index={ignore_index} is not supported with class-probability targets "
                "(a target of the input's shape); leave ignore_index at -100, or pass class "
                "indices"
            )
        loss, grad = _categorical.torch_probability_targets(
            c.xp,
            c.x,
            c.target,
            weight=w,
            label_smoothing=label_smoothing,
            reduction=reduction,
            need_grad=need_grad,
        )
        return c.result(loss, grad)
    c.target = check_class_indices(
        c.xp, c.target, c.n_classes, c.target != ignore_index, ignore_index
    )
    loss, grad = _categorical.torch_index_targets(
        c.xp,
        c.x,
        c.target,
        weight=w,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        reduction=reduction,
        need_grad=need_grad,
    )
    return c.result(loss, grad)


@loss_function
def nll_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Negative log-likelihood of class indices under log-probabilities ``input``.

    As ``torch.nn.functional.nll_loss``: :math:`\ell_n = -w_{y_n}\, x_{n, y_n}`,
    0 where ``y_n == ignore_index``; classes on axis 1 (axis 0 for an unbatched
    ``(C,)`` input). ``input`` is not checked to hold log-probabilities (use
    :func:`cross_entropy` on logits).

    Args:
        input: log-probabilities of shape (C,), (N, C) or (N, C, d1, ..., dK).
        target: integer class indices of shape (), (N) or (N, d1, ..., dK).
        weight: shape (C,), a weight per class.
        size_average, reduce: deprecated; override ``reduction`` when given.
        ignore_index: targets equal to it give 0 and leave the 'mean' denominator.
        reduction: 'none' | 'mean' | 'sum'. **'mean' divides by the sum of the
            weights of the non-ignored targets**, :math:`\sum_n w_{y_n}` (their
            count without weight; 0, e.g. all ignored, gives nan like PyTorch).

    Raises as :func:`cross_entropy` does for index targets.

    Gradient: :math:`-w_{y_n}` at the target class, 0 elsewhere, divided by the
    'mean' denominator.

    >>> import numpy as np, xent
    >>> logp = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    >>> float(xent.nll_loss(logp, np.array([0, 2]), weight=np.array([1., 1., 3.])))
    0.3406
    """
    reduction = torch_reduction(size_average, reduce, reduction)
    ignore_index = check_ignore_index(ignore_index)
    c = prepare_categorical(input, target, weight, probabilities=False, name="nll_loss")
    w = c.weight(weight)
    c.target = check_class_indices(
        c.xp, c.target, c.n_classes, c.target != ignore_index, ignore_index
    )
    loss, grad = _categorical.torch_index_targets(
        c.xp,
        c.x,
        c.target,
        weight=w,
        ignore_index=ignore_index,
        log_input=True,
        reduction=reduction,
        need_grad=need_grad,
    )
    return c.result(loss, grad)
