r"""optax convention: ``optax.losses`` names, logits first, one loss per example, no reduction.

The names, argument orders, keyword-only markers and defaults of optax 0.2.8, on any
array-API array (NumPy, torch, JAX, ...): the result is an array of the same kind,
never reduced over the batch (optax has no ``reduction``: take ``.mean()`` yourself;
every loss here is per example, so the mean of the result divides by the number of
examples). Arguments are checked here and the math is the families'
(``xent._binary``, ``xent._categorical``). Nothing here imports JAX or optax; the
gradients are the autodiff of the array backend (``jax.grad``, ``jax.jit``,
``jax.vmap`` and torch autograd work through every function).

``where`` masks **classes**, as in optax: a masked logit leaves the softmax, and a
masked class contributes nothing to the sum (whatever its label holds).

Where xent's value differs from optax's (each also said in the function's docstring):

- A zero coefficient times an infinite log is 0 (the rule of the whole library),
  where optax takes 0 * inf = nan: ``softmax_cross_entropy`` and
  ``poly_loss_cross_entropy`` with a -inf logit and label 0 (as
  ``safe_softmax_cross_entropy`` does); ``sigmoid_binary_cross_entropy`` and
  ``sigmoid_focal_loss`` at logits +-inf with a hard label of the same sign;
  ``kl_divergence`` with a zero target against a -inf log-prediction;
  ``kl_divergence_with_log_targets`` with a -inf log-target against a finite
  log-prediction. A nan input stays nan.
- ``safe_softmax_cross_entropy``: a row with no softmax (a +inf logit, or only -inf
  logits) gives nan, where optax gives 0 when every label of the row is 0.
- Half-precision inputs (float16, bfloat16) are computed in float32 and rounded once
  to their dtype; optax computes in the half dtype (the results agree to its
  rounding).
- Lists are accepted (as float32 arrays, like JAX's default dtype), where optax
  raises.
- Broadcasts that optax accepts only by accident are refused with a ValueError: labels
  of higher rank than the logits with a non-negative (or None) ``axis`` in the
  softmax losses (optax then sums over another axis than its softmax's), and a
  ``where`` of another rank than the logits in ``poly_loss_cross_entropy``.

>>> import numpy as np
>>> from xent import optax
>>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
>>> print(optax.softmax_cross_entropy_with_integer_labels(logits, np.array([0, 1])))
[0.2761 2.9518 ]
"""

from __future__ import annotations

import operator
from typing import Any

from . import _binary, _categorical
from ._array import (
    Array,
    as_array,
    broadcast_shape,
    broadcasts_to,
    compute_dtype,
    index_dtype,
    is_array,
    namespace,
    numel,
    result_float_dtype,
)
from ._checks import check_floating
from ._prepare import convert
from ._reduce import masked_sum

__all__ = [
    "kl_divergence",
    "kl_divergence_with_log_targets",
    "poly_loss_cross_entropy",
    "safe_softmax_cross_entropy",
    "sigmoid_binary_cross_entropy",
    "sigmoid_focal_loss",
    "softmax_cross_entropy",
    "softmax_cross_entropy_with_integer_labels",
]

Axis = int | tuple[int, ...] | None


# --------------------------------------------------------------------------- plumbing


def _convert(
    first: Any, second: Any, names: tuple[str, str], *others: Any, floating: bool = False
) -> tuple[Any, Array, Array]:
    """(xp, first, second) as arrays of one namespace; the first floating (TypeError, as
    optax), the second real, or floating too when ``floating``."""
    xp = namespace(first, second, *others)
    xp, a, b = convert(first, second, names=names, lists_as_float32=True, xp=xp)
    if floating:
        check_floating(xp, b, names[1])
    return xp, a, b


def _broadcast(a: tuple[int, ...], b: tuple[int, ...], names: tuple[str, str]) -> tuple[int, ...]:
    """The broadcast of two shapes; JAX's error where they do not broadcast: a TypeError
    between arrays of one rank, a ValueError between ranks."""
    shape = broadcast_shape(a, b)
    if shape is None:
        error = TypeError if len(a) == len(b) else ValueError
        raise error(
            f"{names[0]} of shape {a} and {names[1]} of shape {b} do not broadcast; pass "
            f"{names[1]} of {names[0]}'s shape (or one that broadcasts to it)"
        )
    return shape


def _mask(xp: Any, where: Any, like: Array) -> Array | None:
    if where is None:
        return None
    where = as_array(xp, where, like=like)
    if where.dtype != xp.bool:
        raise ValueError(
            f"where must be None or a boolean array; got where.dtype={where.dtype}; pass a "
            "boolean mask (e.g. where != 0)"
        )
    return where


def _mask_to(xp: Any, where: Array | None, shape: tuple[int, ...]) -> Array | None:
    if where is None:
        return None
    if not broadcasts_to(tuple(where.shape), shape):
        raise ValueError(
            f"where of shape {tuple(where.shape)} does not broadcast to the shape {shape} of "
            "the logits; pass a mask of that shape, or of its shape without the class axes"
        )
    return xp.broadcast_to(where, shape)


def _normalize(axis: Any, ndim: int) -> int:
    index = operator.index(axis)
    if not -ndim <= index < ndim:
        raise ValueError(
            f"axis {index} is out of bounds for array of dimension {ndim}; pass an axis in "
            f"[{-ndim}, {ndim})"
        )
    return index % ndim


def _axes(axis: Any, ndim: int, *, lists: bool = False) -> tuple[int, ...]:
    """``axis`` (an int, a tuple of ints, None for all; a list too where ``lists``, as
    jnp.sum takes one) as a tuple of non-negative axes, checked as JAX checks them."""
    if axis is None:
        return tuple(range(ndim))
    if lists and isinstance(axis, list):
        axis = tuple(axis)
    if not (isinstance(axis, tuple) or hasattr(axis, "__index__")):
        raise ValueError(
            f"axis must be an int, a tuple of ints or None, got {axis!r} of type "
            f"{type(axis).__name__}; pass e.g. axis=-1 or axis=(1, 2)"
        )
    items = axis if isinstance(axis, tuple) else (axis,)
    axes = tuple(_normalize(a, ndim) for a in items)
    if len(set(axes)) != len(axes):
        raise ValueError(f"duplicate value in 'axis': {axis}; pass each axis once")
    return axes


def _expand_where(where: Array | None, axis: Any, ndim: int, xp: Any) -> Array | None:
    """optax's rule: a ``where`` of another rank than the logits gets size-1 axes
    inserted at ``axis`` (jnp.expand_dims), so that a per-example mask masks a row."""
    if where is None or where.ndim == ndim:
        return where
    if axis is None:
        raise TypeError(
            f"where of shape {tuple(where.shape)} (not the logits' rank {ndim}) cannot be "
            "expanded along axis=None; pass a mask of the logits' shape"
        )
    items = axis if isinstance(axis, tuple) else (axis,)
    rank = where.ndim + len(items)
    positions = _axes(tuple(items), rank)
    sizes = iter(where.shape)
    shape = tuple(1 if i in positions else next(sizes) for i in range(rank))
    return xp.reshape(where, shape)


def _classes_last(xp: Any, array: Array, axes: tuple[int, ...]) -> Array:
    """``array`` with the ``axes`` moved last, in their order, and flattened into one
    (optax's layout for a tuple ``axis``); the other axes keep their order."""
    batch = tuple(i for i in range(array.ndim) if i not in axes)
    order = batch + axes
    if order != tuple(range(array.ndim)):
        array = xp.permute_dims(array, order)
    shape = tuple(array.shape)
    return xp.reshape(array, (*shape[: len(batch)], numel(shape[len(batch) :])))


def _softmax_inputs(
    logits: Any,
    labels: Any,
    axis: Any,
    where: Any,
    name: str,
    *,
    floating_labels: bool,
    expand_where: bool,
) -> tuple[Any, Array, Array, Array | None, Any]:
    """(xp, logits, labels, mask, result dtype) for the softmax losses with dense labels:
    broadcast to one shape, the classes (``axis``) last and flattened, in the compute
    dtype."""
    xp, x, t = _convert(logits, labels, ("logits", "labels"), where, floating=floating_labels)
    mask = _mask(xp, where, x)
    ndim = x.ndim
    if expand_where:
        mask = _expand_where(mask, axis, ndim, xp)
    elif mask is not None and mask.ndim != ndim:
        raise ValueError(
            f"where of shape {tuple(mask.shape)} has not the rank of the logits "
            f"{tuple(x.shape)} in {name} (optax masks its softmax and its sum differently "
            "then); pass a mask of the logits' shape"
        )
    if isinstance(axis, list):
        raise ValueError(f"axis must be an int, a tuple of ints or None, got the list {axis}")
    _axes(axis, ndim)  # checked against the logits, as JAX's softmax checks it
    mask = _mask_to(xp, mask, tuple(x.shape))
    shape = _broadcast(tuple(x.shape), tuple(t.shape), ("logits", "labels"))
    items = axis if isinstance(axis, tuple) else (axis,)
    if len(shape) > ndim and (axis is None or any(operator.index(a) >= 0 for a in items)):
        raise ValueError(
            f"labels of shape {tuple(t.shape)} have a higher rank than the logits "
            f"{tuple(x.shape)} and axis={axis!r} counts from the front (optax then sums over "
            "another axis than its softmax's); pass a negative axis, or labels of the "
            "logits' rank"
        )
    axes = _axes(axis, len(shape))  # negative where the rank grew: the same classes
    dtype = result_float_dtype(xp, x.dtype, t.dtype)
    ct = compute_dtype(xp, dtype)
    x = _classes_last(xp, xp.broadcast_to(xp.astype(x, ct, copy=False), shape), axes)
    t = _classes_last(xp, xp.broadcast_to(xp.astype(t, ct, copy=False), shape), axes)
    if mask is not None:
        mask = _classes_last(xp, xp.broadcast_to(mask, shape), axes)
    return xp, x, t, mask, dtype


def _sigmoid_inputs(logits: Any, labels: Any) -> tuple[Any, Array, Array, Any]:
    """(xp, logits, labels, logits' dtype): labels cast to the logits' dtype (as optax),
    both broadcast to one shape and in the compute dtype."""
    xp, x, y = _convert(logits, labels, ("logits", "labels"))
    shape = _broadcast(tuple(x.shape), tuple(y.shape), ("logits", "labels"))
    dtype = x.dtype
    ct = compute_dtype(xp, dtype)
    y = xp.astype(xp.astype(y, dtype, copy=False), ct, copy=False)
    x = xp.astype(x, ct, copy=False)
    return xp, xp.broadcast_to(x, shape), xp.broadcast_to(y, shape), dtype


def _coefficient(xp: Any, value: Any, like: Array) -> Any:
    """A number, or an array in ``like``'s namespace and dtype."""
    if is_array(value):
        return xp.astype(as_array(xp, value, like=like), like.dtype, copy=False)
    return float(value)


# --------------------------------------------------------------------------- sigmoid


def sigmoid_binary_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""``optax.losses.sigmoid_binary_cross_entropy``: elementwise, unreduced.

    :math:`-y \log\sigma(x) - (1 - y) \log\sigma(-x)`, computed as
    ``(1 - y) softplus(x) + y softplus(-x)``; labels (any real dtype, not
    range-checked) are cast to the logits' dtype and broadcast with the logits (the
    result has the broadcast shape and the logits' dtype).

    Differs from optax at x = +-inf with the label of the same sign (y = 1 at
    +inf, y = 0 at -inf): 0, where optax gives 0 * inf = nan.

    Raises TypeError for non-floating logits; TypeError (same rank) or ValueError
    (ranks differ) for shapes that do not broadcast, as JAX does.

    >>> import numpy as np
    >>> print(sigmoid_binary_cross_entropy(np.array([2.0, 2.0]), np.array([1.0, 0.0])))
    [0.1269 2.1269]
    """
    xp, x, y, dtype = _sigmoid_inputs(logits, labels)
    loss, _ = _binary.binary_cross_entropy_with_logits(xp, x, y, reduction="none")
    return xp.astype(loss, dtype, copy=False)


def sigmoid_focal_loss(
    logits: Array,
    labels: Array,
    *,
    alpha: Array | float | None = None,
    gamma: Array | float = 2.0,
) -> Array:
    r"""``optax.losses.sigmoid_focal_loss``: elementwise, unreduced.

    :math:`\alpha_t (1 - p_t)^\gamma \mathrm{ce}(x, y)`, ce as
    :func:`sigmoid_binary_cross_entropy`, :math:`1 - p_t = (1 - y)\sigma(x) +
    y\sigma(-x)` (soft labels allowed), the factor taken as
    :math:`\exp(\gamma \log(1 - p_t))` in log space (finite gradients at gamma < 1,
    no underflow at large logits); :math:`\alpha_t = \alpha y + (1 - \alpha)(1 - y)`,
    or 1 when ``alpha`` is None (the default: no balancing, whatever its sign
    otherwise). ``alpha`` and ``gamma`` may be arrays that broadcast with the
    result; neither is range-checked (as optax). A label outside [0, 1] that makes
    1 - p_t negative gives nan, as optax.

    Differs from optax at x = +-inf with the hard label of the same sign: 0 (and
    gamma = 0 takes (1 - p_t)^0 = 1 even at 1 - p_t = 0), where optax gives nan.

    >>> import numpy as np
    >>> print(sigmoid_focal_loss(np.array([2.0, -1.0]), np.array([1.0, 1.0]), alpha=0.25))
    [0.0005 0.1755]
    """
    xp, x, y, dtype = _sigmoid_inputs(logits, labels)
    alpha = None if alpha is None else _coefficient(xp, alpha, x)
    loss = _binary.optax_focal_elementwise(xp, x, y, alpha, _coefficient(xp, gamma, x))
    return xp.astype(loss, dtype, copy=False)


# --------------------------------------------------------------------------- softmax


def softmax_cross_entropy(
    logits: Array, labels: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""``optax.losses.softmax_cross_entropy``: one value per example, unreduced.

    :math:`-\sum_{c \in \mathrm{where}} y_c \log\mathrm{softmax}_{\mathrm{where}}(x)_c`
    over ``axis`` (an int, a tuple of ints, or None for all), the softmax taken over
    the classes that ``where`` keeps (a boolean mask of the logits' shape, or of their
    shape without ``axis``: then it masks whole examples). The result has the
    broadcast shape of logits and labels without ``axis``, and their promoted dtype;
    an example with no class kept gives 0.

    Differs from optax where a -inf logit has label 0: that class contributes 0 (as
    optax's ``safe_softmax_cross_entropy``), where optax gives nan. A row with a
    +inf logit (or only -inf logits) gives nan, as optax.

    Raises TypeError for non-floating logits; ValueError for an axis out of bounds
    or repeated, or a non-boolean ``where``; TypeError or ValueError (as JAX) for
    labels that do not broadcast.

    >>> import numpy as np
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> labels = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> print(softmax_cross_entropy(logits, labels))
    [0.2761 2.9518 ]
    """
    xp, x, t, mask, dtype = _softmax_inputs(
        logits,
        labels,
        axis,
        where,
        "softmax_cross_entropy",
        floating_labels=False,
        expand_where=True,
    )
    return xp.astype(_categorical.optax_dense_targets(xp, x, t, mask), dtype, copy=False)


def safe_softmax_cross_entropy(logits: Array, labels: Array) -> Array:
    r"""``optax.losses.safe_softmax_cross_entropy``: one value per example, unreduced.

    :math:`-\sum_c y_c \log\mathrm{softmax}(x)_c` over the last axis, with
    :math:`y_c \log\mathrm{softmax}(x)_c = 0` where :math:`y_c = 0` (so a -inf logit
    with label 0 contributes 0). Labels broadcast with the logits; the result has
    their promoted dtype.

    Differs from optax on a row with no softmax (a +inf logit, or only -inf
    logits): nan, where optax gives 0 when every label of that row is 0.

    >>> import numpy as np
    >>> print(safe_softmax_cross_entropy(np.array([[1.0, -np.inf, 0.0]]),
    ...                                  np.array([[1.0, 0.0, 0.0]])))
    [0.3133]
    """
    xp, x, t, _, dtype = _softmax_inputs(
        logits,
        labels,
        -1,
        None,
        "safe_softmax_cross_entropy",
        floating_labels=False,
        expand_where=False,
    )
    return xp.astype(_categorical.optax_dense_targets(xp, x, t), dtype, copy=False)


def poly_loss_cross_entropy(
    logits: Array,
    labels: Array,
    *,
    epsilon: Array | float = 2.0,
    axis: Axis = -1,
    where: Array | None = None,
) -> Array:
    r"""``optax.losses.poly_loss_cross_entropy`` (Poly-1): one value per example.

    :func:`softmax_cross_entropy` plus
    :math:`\epsilon \sum_{c \in \mathrm{where}} y_c (1 - p_c)`, p the softmax over the
    kept classes (1 - p_c taken as -expm1(log p_c)). Labels must be floating (as
    optax); ``where`` must have the logits' rank (optax's softmax and its sum treat
    a mask of another rank differently: xent raises ValueError); ``epsilon`` may be
    an array that broadcasts with the result.

    Differs from optax where a -inf logit has label 0: that class contributes 0,
    where optax gives nan.

    >>> import numpy as np
    >>> logits = np.array([[1.2, -0.8, -0.5], [0.9, -1.2, 1.1]])
    >>> labels = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    >>> print(poly_loss_cross_entropy(logits, labels))
    [0.7587 4.8473]
    """
    xp, x, t, mask, dtype = _softmax_inputs(
        logits,
        labels,
        axis,
        where,
        "poly_loss_cross_entropy",
        floating_labels=True,
        expand_where=False,
    )
    loss = _categorical.optax_poly1(xp, x, t, _coefficient(xp, epsilon, x), mask)
    return xp.astype(loss, dtype, copy=False)


def _integer_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """optax's ``axis`` for integer labels: an int (bool included, as isinstance takes
    it) or a tuple of ints; anything else (None, a NumPy integer, a list) ValueError."""
    if isinstance(axis, int):
        return (_normalize(axis, ndim),)
    if isinstance(axis, tuple):
        axes = tuple(_normalize(a, ndim) for a in axis)
        if len(set(axes)) != len(axes):
            raise TypeError(
                f"axis={axis} repeats an axis, so it is not a permutation of the logits' "
                f"dimensions; pass each axis once"
            )
        return axes
    raise ValueError(
        "Keyword argument 'axis' must be of type 'int' or 'tuple[int, ...]' but actual type "
        f"is {type(axis)}; pass e.g. axis=-1 or axis=(1, 2)"
    )


def softmax_cross_entropy_with_integer_labels(
    logits: Array, labels: Array, axis: int | tuple[int, ...] = -1, where: Array | None = None
) -> Array:
    r"""``optax.losses.softmax_cross_entropy_with_integer_labels``: one value per example.

    :math:`\log\sum_{c \in \mathrm{where}} e^{x_c} - x_y` over ``axis``: an int, or a
    tuple of ints whose dimensions are flattened (in the tuple's order) into one class
    axis, a label being a flat index into them. The log-sum-exp runs over the classes
    ``where`` keeps (a boolean mask of the logits' shape, or of their shape without
    ``axis``); x_y is the label's logit whether its class is kept or not (as optax:
    a masked label class gives a finite or -inf value, not +inf); an example with no
    class kept gives 0. Labels (integers, of the logits' shape without ``axis``,
    broadcasting with it) in [-C, 0) count from the end; others outside [0, C) give
    nan, as JAX's indexing (no error). A +inf logit gives +inf (nan at the label's
    class), only -inf logits nan, as optax. The result has the logits' dtype.

    Raises TypeError for non-floating logits or non-integer labels (bool included);
    ValueError for an ``axis`` that is not an int or a tuple (None, NumPy integers and
    lists included, as optax), out of bounds, or labels of the wrong rank or shape;
    TypeError for a repeated axis in a tuple.

    >>> import numpy as np
    >>> logits = np.arange(24.0).reshape(1, 2, 3, 4)
    >>> labels = np.array([[5, 11]])  # flat indices in the (3, 4) slice
    >>> print(softmax_cross_entropy_with_integer_labels(logits, labels, axis=(2, 3)))
    [[6.4587 0.4587]]
    """
    xp, x, y = _convert(logits, labels, ("logits", "labels"), where)
    if not xp.isdtype(y.dtype, "integral"):
        raise TypeError(
            f"labels must hold integers (class indices), got dtype {y.dtype}; pass int32 or "
            "int64 labels"
        )
    mask = _expand_where(_mask(xp, where, x), axis, x.ndim, xp)
    axes = _integer_axes(axis, x.ndim)
    mask = _mask_to(xp, mask, tuple(x.shape))
    batch = tuple(s for i, s in enumerate(x.shape) if i not in axes)
    if y.ndim != len(batch):
        raise ValueError(
            f"labels of shape {tuple(y.shape)} do not fit logits of shape {tuple(x.shape)} "
            f"with axis={axis}: pass integer labels of rank {len(batch)}, the logits' shape "
            f"{batch} without the class axes"
        )
    shape = broadcast_shape(batch, tuple(y.shape))
    if shape is None:
        raise ValueError(
            f"labels of shape {tuple(y.shape)} do not broadcast to the logits' shape without "
            f"the class axes {batch}; pass labels of that shape"
        )
    dtype = x.dtype
    x = _classes_last(xp, xp.astype(x, compute_dtype(xp, dtype), copy=False), axes)
    classes = (x.shape[-1],)
    x = xp.broadcast_to(x, shape + classes)
    if mask is not None:
        mask = xp.broadcast_to(_classes_last(xp, mask, axes), shape + classes)
    y = xp.broadcast_to(xp.astype(y, index_dtype(xp)), shape)
    loss = _categorical.optax_index_targets(xp, x, y, mask)
    return xp.astype(loss, dtype, copy=False)


# --------------------------------------------------------------------------- KL


def _kl_inputs(
    log_predictions: Any, targets: Any, axis: Any, where: Any, target_name: str
) -> tuple[Any, Array, Array, tuple[int, ...], Array | None, Any]:
    names = ("log_predictions", target_name)
    xp, logq, t = _convert(log_predictions, targets, names, where, floating=True)
    shape = _broadcast(tuple(logq.shape), tuple(t.shape), names)
    axes = _axes(axis, len(shape), lists=True)
    mask = _mask(xp, where, logq)
    if mask is not None and not broadcasts_to(tuple(mask.shape), shape):
        raise ValueError(
            f"where of shape {tuple(mask.shape)} does not broadcast to the shape {shape} of "
            f"log_predictions and {target_name}; pass a mask of that shape"
        )
    dtype = result_float_dtype(xp, logq.dtype, t.dtype)
    ct = compute_dtype(xp, dtype)
    logq = xp.broadcast_to(xp.astype(logq, ct, copy=False), shape)
    t = xp.broadcast_to(xp.astype(t, ct, copy=False), shape)
    mask = None if mask is None else xp.broadcast_to(mask, shape)
    return xp, logq, t, axes, mask, dtype


def kl_divergence(
    log_predictions: Array, targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""``optax.losses.kl_divergence``: one value per example, unreduced.

    :math:`\sum_{c \in \mathrm{where}} t_c (\log t_c - \log q_c)` over ``axis`` (an int,
    a tuple or a list of ints, None for all), :math:`t \log t = 0` at t = 0;
    ``where`` (boolean) broadcasts to the elementwise terms (from the right, not
    expanded at ``axis``). Both arrays must be floating; they broadcast together and
    the result has their promoted dtype. A negative target gives nan (as optax).

    Differs from optax where a zero target meets a -inf log-prediction: 0, where
    optax gives 0 * inf = nan.

    >>> import numpy as np
    >>> print(kl_divergence(np.log(np.array([[0.5, 0.5]])), np.array([[0.25, 0.75]])))
    [0.1308]
    """
    xp, logq, t, axes, mask, dtype = _kl_inputs(log_predictions, targets, axis, where, "targets")
    loss, _ = _categorical.kl_pointwise(xp, logq, t)
    return xp.astype(masked_sum(xp, loss, axes, mask), dtype, copy=False)


def kl_divergence_with_log_targets(
    log_predictions: Array, log_targets: Array, axis: Axis = -1, where: Array | None = None
) -> Array:
    r"""``optax.losses.kl_divergence_with_log_targets``: one value per example.

    :math:`\sum_{c \in \mathrm{where}} e^{l_c} (l_c - \log q_c)` for log-targets l,
    otherwise as :func:`kl_divergence`.

    Differs from optax where a -inf log-target (a zero target) meets a finite or
    -inf log-prediction: 0, the family's rule, where optax gives 0 * inf = nan (or
    -inf - -inf = nan).

    >>> import numpy as np
    >>> print(kl_divergence_with_log_targets(np.log(np.array([[0.5, 0.5]])),
    ...                                      np.log(np.array([[0.25, 0.75]]))))
    [0.1308]
    """
    xp, logq, t, axes, mask, dtype = _kl_inputs(
        log_predictions, log_targets, axis, where, "log_targets"
    )
    loss, _ = _categorical.kl_pointwise(xp, logq, t, log_target=True)
    return xp.astype(masked_sum(xp, loss, axes, mask), dtype, copy=False)
