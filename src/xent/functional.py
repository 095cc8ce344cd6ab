"""PyTorch convention: ``torch.nn.functional`` names, argument names and orders.

These are re-exported at the top level (``xent.binary_cross_entropy`` ...). They
check and convert arguments (``xent._prepare``), then call the family math in
``xent._binary`` and ``xent._categorical``.
"""

from __future__ import annotations

from . import _binary, _categorical
from ._array import Array
from ._autodiff import loss_function
from ._checks import (
    check_bool,
    check_choice,
    check_class_indices,
    check_gamma,
    check_ignore_index,
    check_label_smoothing,
    check_unit_intervals,
    kl_div_reduction,
    legacy_reduction,
    torch_reduction,
)
from ._prepare import prepare_binary, prepare_broadcasting, prepare_categorical

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "kl_div",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "sigmoid_focal_loss",
    "soft_margin_loss",
]


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
    non-floating input. The range check reads one bool back from the arrays' device per
    call (input and target together), as PyTorch checks its input.

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
    valid = None if ignore_index is None else b.y != ignore_index
    x, y = check_unit_intervals(xp, [(b.x, "input", None), (b.y, "target", valid)])
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
    ignore_index with probability targets, an ignore_index outside int64 or an
    unknown reduction; TypeError for a non-floating input, float index targets,
    integer probability targets, a non-integer ignore_index or, with index
    targets, a weight array of another dtype than the input's (as PyTorch).
    Unlike PyTorch, any integer dtype is accepted for indices (PyTorch wants int64
    or uint8).

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
        loss, grad = _categorical.probability_targets(
            c.xp,
            c.x,
            c.target,
            class_axis=c.class_axis,
            weight=w,
            label_smoothing=label_smoothing,
            reduction=reduction,
            need_grad=need_grad,
        )
        return c.result(loss, grad)
    c.target = check_class_indices(
        c.xp, c.target, c.n_classes, lambda m, t: t != ignore_index, ignore_index
    )
    loss, grad = _categorical.index_targets(
        c.xp,
        c.x,
        c.target,
        class_axis=c.class_axis,
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
        c.xp, c.target, c.n_classes, lambda m, t: t != ignore_index, ignore_index
    )
    loss, grad = _categorical.index_targets(
        c.xp,
        c.x,
        c.target,
        class_axis=c.class_axis,
        weight=w,
        ignore_index=ignore_index,
        log_input=True,
        reduction=reduction,
        need_grad=need_grad,
    )
    return c.result(loss, grad)


# --------------------------------------------------------------------------- soft margins


@loss_function
def multilabel_soft_margin_loss(
    input: Array,
    target: Array,
    weight: Array | None = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Multi-label one-versus-all loss on logits ``input``, a mean over the classes.

    As ``torch.nn.functional.multilabel_soft_margin_loss``: with the classes on the
    last axis (C of them), each sample n gives

    .. math:: \ell_n = \frac{1}{C} \sum_c w_c \,[\,(1 - y_{n,c})\,\mathrm{softplus}(x_{n,c})
              + y_{n,c}\,\mathrm{softplus}(-x_{n,c})\,]

    which is PyTorch's ``-(y log sigmoid(x) + (1 - y) log sigmoid(-x))``, stable in both
    tails (no nan at an infinite logit whose term has a zero coefficient, where PyTorch
    gives nan).

    Args:
        input: logits of shape (C,) or (N, C) (more dimensions: the last holds the
            classes), floating; not 0-d.
        target: the input's shape (0/1 labels or soft ones, not range-checked); floating
            or integer, not bool (as PyTorch). Like PyTorch, target and weight broadcast
            with the input, and the class axis is ``input.ndim - 1`` of the broadcast
            shape, C = ``input.shape[-1]``.
        weight: a weight per class, shape (C,) (anything broadcasting with the input
            works, as in PyTorch); multiplies each term before the mean over C.
        size_average, reduce: PyTorch's deprecated arguments; when given they override
            ``reduction`` (with PyTorch's warning).
        reduction: 'none' (one loss per sample: shape (N,), or () for a (C,) input) |
            'mean' | 'sum'. **'mean' divides the sum of the per-sample losses by the
            number of samples N** (each already divided by C, never by the weights);
            empty gives nan, and so does C = 0.

    The result has the promoted dtype of the floating operands (input, target, weight).

    Raises ValueError for a 0-d input, operands that do not broadcast, or a reduction
    other than 'none', 'mean', 'sum' (PyTorch refuses 'elementwise_mean' here too);
    TypeError for a non-floating input or a bool target.

    Gradient (``xent.value_and_grad``): :math:`w\,(\sigma(x) - y) / C`, divided by the
    'mean' denominator N.

    >>> import numpy as np, xent
    >>> float(xent.multilabel_soft_margin_loss(
    ...     np.array([[0.0, 2.0], [1.0, -1.0]]), np.array([[1.0, 0.0], [1.0, 1.0]])))
    1.1116
    """
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce)
    reduction = check_choice("reduction", reduction, ("none", "mean", "sum"))
    b = prepare_broadcasting(
        input,
        target,
        weight,
        name="multilabel_soft_margin_loss",
        target_kinds=("floating", "integral"),
        promote=True,
        target_to_input=False,
    )
    if b.x.ndim == 0:
        raise ValueError(
            "multilabel_soft_margin_loss: the input is 0-d, and has no class dimension; pass "
            "logits of shape (C,) or (N, C)"
        )
    loss, grad = _binary.multilabel_soft_margin(
        b.xp, b.x, b.y, weight=b.weight, reduction=reduction, need_grad=need_grad
    )
    return b.result(loss, grad)


@loss_function
def soft_margin_loss(
    input: Array,
    target: Array,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Two-class logistic loss between ``input`` and targets of -1 or 1.

    As ``torch.nn.functional.soft_margin_loss``, elementwise:

    .. math:: \ell = \log(1 + e^{-y x}) = \mathrm{softplus}(-y x)

    taken in the stable form: exact for large :math:`|x|` (-y x = 1e4 gives 1e4 and
    gradient -y, where PyTorch overflows to inf and a nan gradient). y x is taken as 0
    where y = 0, at x = +-inf too (xent's rule for a zero coefficient; PyTorch gives
    nan), so that element gives log 2.

    Args:
        input: any shape, floating.
        target: -1/1 by convention, any value accepted (as PyTorch); floating, integer
            or bool; broadcasts to the input's shape (PyTorch's rule: the result has the
            input's shape, so the target may not grow it).
        size_average, reduce: deprecated; override ``reduction`` when given.
        reduction: 'none' | 'mean' | 'sum'. **'mean' divides by the number of
            elements of the input**; empty gives nan.

    The result has the input's dtype (as PyTorch, whatever the target's).

    Raises ValueError for a target that does not broadcast to the input's shape or an
    unknown reduction; TypeError for a non-floating input.

    Gradient (``xent.value_and_grad``): :math:`-y\,\sigma(-y x)`, PyTorch's
    :math:`-y e^{-yx} / (1 + e^{-yx})`, divided by the number of elements for 'mean'.

    >>> import numpy as np, xent
    >>> print(xent.soft_margin_loss(np.array([0.0, 2.0, 1e4]), np.array([1.0, -1.0, -1.0]),
    ...                             reduction="none"))
    [6.9315e-01 2.1269e+00 1.0000e+04]
    """
    reduction = torch_reduction(size_average, reduce, reduction)
    b = prepare_broadcasting(
        input,
        target,
        name="soft_margin_loss",
        target_kinds=("floating", "integral", "bool"),
        promote=False,
        target_to_input=True,
    )
    xp = b.xp
    y = xp.broadcast_to(b.y, tuple(b.x.shape))
    loss, grad = _binary.soft_margin(xp, b.x, y, reduction=reduction, need_grad=need_grad)
    return b.result(loss, grad)


# --------------------------------------------------------------------------- divergence


@loss_function
def kl_div(
    input: Array,
    target: Array,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
    *,
    need_grad: bool,
) -> tuple[Array, Array | None]:
    r"""Kullback-Leibler divergence of ``target`` from log-probabilities ``input``.

    As ``torch.nn.functional.kl_div``, elementwise (``input`` holds log q):

    .. math:: \ell = t\,(\log t - \log q) \quad\text{or, with log\_target,}\quad
              \ell = e^{t}\,(t - \log q)

    A zero target probability contributes 0, even where log q = -inf (xent's rule;
    PyTorch gives nan there); a negative target gives nan, as in PyTorch. Nothing is
    checked to be a distribution.

    Args:
        input: log-probabilities, any shape, floating.
        target: probabilities (log-probabilities with ``log_target``), floating.
            Input and target broadcast together, as in PyTorch (the result has the
            broadcast shape).
        size_average, reduce: PyTorch's deprecated arguments; when given they override
            ``reduction`` (with PyTorch's warning); a ``reduction='batchmean'`` given
            with them still divides their result by the batch size, as in PyTorch.
        reduction: 'none' | 'batchmean' | 'sum' | 'mean'. **'mean' divides by the
            number of elements** (of the broadcast result) and warns, as PyTorch, that
            this is not the KL divergence; **'batchmean' divides the sum by**
            ``input.shape[0]`` (not at all for a 0-d input): the mean KL divergence of
            the rows. An empty input gives nan for 'mean' and 'batchmean', 0 for 'sum'.
        log_target: whether ``target`` holds log-probabilities (a bool).

    The result has the promoted dtype of input and target.

    Raises ValueError for shapes that do not broadcast or an unknown reduction;
    TypeError for a non-floating input or target (PyTorch refuses integral ones) or a
    non-bool ``log_target``.

    Gradient (``xent.value_and_grad``): :math:`-t` (:math:`-e^{t}` with log_target),
    divided by the reduction's denominator.

    >>> import numpy as np, xent
    >>> logq = np.log(np.array([[0.5, 0.5], [0.9, 0.1]]))
    >>> float(xent.kl_div(logq, np.array([[0.25, 0.75], [1.0, 0.0]]), reduction="batchmean"))
    0.1181
    """
    reduction, batchmean = kl_div_reduction(size_average, reduce, reduction)
    log_target = check_bool(log_target, "log_target")
    b = prepare_broadcasting(
        input,
        target,
        name="kl_div",
        target_kinds=("floating",),
        promote=True,
        target_to_input=False,
    )
    divisor = b.x.shape[0] if batchmean and b.x.ndim else None
    loss, grad = _categorical.kl_div(
        b.xp,
        b.x,
        b.y,
        log_target=log_target,
        reduction=reduction,
        divisor=divisor,
        need_grad=need_grad,
    )
    return b.result(loss, grad)
