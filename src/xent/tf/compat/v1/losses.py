r"""TensorFlow 1's losses: ``tf.compat.v1.losses`` (TF 1's ``tf.losses``), reduced.

Each loss computes TensorFlow's elementwise loss (``xent.tf``'s ``tf.nn`` functions, or
log_loss's own formula), multiplies it by ``weights`` and reduces it as
``compute_weighted_loss`` does (``xent._reduce.tf_v1_reduce``). Nothing here imports
TensorFlow. Also reachable as ``xent.tf.losses``: in TensorFlow 2 ``tf.losses`` is
Keras' losses module (see ``xent.keras``), not this one.

Weights follow TensorFlow's rule, stricter than NumPy's broadcasting: a scalar, or an
array of the losses' rank whose every dimension is 1 or the losses'. The losses have
the logits' shape for sigmoid_cross_entropy and log_loss, the logits' shape without
the last (class) axis for the softmax losses: for logits (N, C), weights (N, 1) or
(N, C) (not (N,) or (C,)) for the first two, (N,) for the softmax ones.

The reductions (``reduction=``, one of :class:`Reduction`'s constants), with l the
elementwise losses, w the weights broadcast to l's shape, and a zero divisor giving 0
(TensorFlow's ``div_no_nan``):

==================================  ============================================
``Reduction.NONE``                  w l, unreduced (l's shape)
``Reduction.SUM``                   sum(w l)
``Reduction.MEAN``                  sum(w l) / sum(w)
``Reduction.SUM_OVER_BATCH_SIZE``   sum(w l) / number of elements of l
``Reduction.SUM_BY_NONZERO_WEIGHTS``  sum(w l) / number of nonzero w (the default;
                                    ``SUM_OVER_NONZERO_WEIGHTS`` is the same string)
==================================  ============================================

Where xent differs. ``scope`` and ``loss_collection`` are accepted and ignored: xent
has no graphs, names or collections (TensorFlow ignores ``loss_collection`` when
executing eagerly too). TensorFlow casts the losses and the weights to float32 before
weighting and reducing, then casts the result back; xent reduces in the compute dtype
(float64 stays float64, halves are reduced in float32 as in TensorFlow), so a float64
result carries float64 rather than float32 rounding (and a float64 weight that float32
rounds to 0 still counts as nonzero). The result's dtype is TensorFlow's.
"""

from __future__ import annotations

from typing import Any

from .... import _binary, _categorical
from ...._array import Array, as_array, compute_dtype, is_array, namespace
from ...._checks import check_real
from ...._prepare import convert
from ...._reduce import TF_V1_REDUCTIONS, tf_v1_reduce
from ... import (
    sigmoid_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits,
    sparse_softmax_cross_entropy_with_logits,
)

__all__ = [
    "Reduction",
    "log_loss",
    "sigmoid_cross_entropy",
    "softmax_cross_entropy",
    "sparse_softmax_cross_entropy",
]

LOSSES = "losses"  # tf.compat.v1.GraphKeys.LOSSES, the default loss_collection


class Reduction:
    """Types of loss reduction, TensorFlow 1's constants (strings).

    ``NONE``: the weighted losses, unreduced. ``SUM``: their sum. ``MEAN``: the sum over
    the sum of the weights. ``SUM_OVER_BATCH_SIZE``: the sum over the number of
    elements of the losses. ``SUM_BY_NONZERO_WEIGHTS`` (the default of every loss) and
    ``SUM_OVER_NONZERO_WEIGHTS``, one value: the sum over the number of nonzero weights.

    >>> Reduction.SUM_OVER_NONZERO_WEIGHTS == Reduction.SUM_BY_NONZERO_WEIGHTS
    True
    >>> Reduction.MEAN
    'weighted_mean'
    """

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls) -> tuple[str, ...]:
        """Every constant, in TensorFlow's order (the last two are one value)."""
        return (
            cls.NONE,
            cls.SUM,
            cls.MEAN,
            cls.SUM_OVER_BATCH_SIZE,
            cls.SUM_OVER_NONZERO_WEIGHTS,
            cls.SUM_BY_NONZERO_WEIGHTS,
        )

    @classmethod
    def validate(cls, key: Any) -> None:
        """ValueError unless `key` is one of the constants."""
        if not isinstance(key, str) or key not in TF_V1_REDUCTIONS:
            raise ValueError(
                f"Invalid Reduction Key {key}. Key should be one of {cls.all()}; pass e.g. "
                "reduction=Reduction.SUM_OVER_BATCH_SIZE (a string such as "
                "'weighted_sum_over_batch_size')."
            )


# --------------------------------------------------------------------------- shared steps


def _not_none(value: Any, name: str) -> None:
    if value is None:
        raise ValueError(f"Argument `{name}` must not be None.")


def _compatible(first: Array, second: Array) -> None:
    """TensorFlow's ``assert_is_compatible_with``: for arrays, equal shapes."""
    if tuple(first.shape) != tuple(second.shape):
        raise ValueError(
            f"Shapes {tuple(first.shape)} and {tuple(second.shape)} are incompatible; pass "
            "labels of the logits' (predictions') shape"
        )


def _weights(xp: Any, weights: Any, like: Array) -> Array:
    if weights is None:
        raise ValueError(
            "weights must not be None (TensorFlow cannot convert None to a Tensor); pass "
            "1.0 for unweighted losses"
        )
    weights = as_array(xp, weights, like=like)
    check_real(xp, weights, "weights")
    return weights


def _check_broadcastable(weights: Array, losses: Array) -> None:
    """TensorFlow's assert_broadcastable: weights scalar, or of the losses' rank with each
    dimension 1 or the losses'."""
    w, v = tuple(weights.shape), tuple(losses.shape)
    prefix = "weights can not be broadcast to values."
    hint = (
        "pass a scalar or weights of the losses' rank, each dimension 1 or the losses' "
        f"(e.g. shape {v[:1] + (1,) * (len(v) - 1)})"
    )
    if not w:
        return
    if len(w) != len(v):
        raise ValueError(
            f"{prefix} values.rank={len(v)}. weights.rank={len(w)}. values.shape={v}. "
            f"weights.shape={w}; {hint}"
        )
    for i, (wd, vd) in enumerate(zip(w, v, strict=True)):
        if wd not in (1, vd):
            raise ValueError(
                f"{prefix} Mismatch at dim {i}. values.shape={v}, weights.shape={w}; {hint}"
            )


def _weighted_loss(xp: Any, losses: Array, weights: Array, reduction: str) -> Array:
    """compute_weighted_loss: checked, reduced in the compute dtype, in the losses' dtype."""
    _check_broadcastable(weights, losses)
    dtype = losses.dtype
    ct = compute_dtype(xp, dtype)
    losses = xp.astype(losses, ct, copy=False)
    weights = xp.astype(weights, ct, copy=False)
    return xp.astype(tf_v1_reduce(xp, losses, weights, reduction), dtype, copy=False)


def _smoothing(label_smoothing: Any) -> float:
    """TensorFlow smooths only when ``label_smoothing > 0`` (a negative value, or nan, is
    no smoothing; a value above 1 is taken as it is)."""
    value = float(label_smoothing)
    return value if value > 0 else 0.0


def _logits_and_labels(
    logits: Any, labels: Any, labels_name: str, weights: Any, reduction: str
) -> tuple[Any, Array, Array]:
    """(xp, logits, labels) of the logits losses: both given and the reduction known
    (else ValueError, as TensorFlow), converted (lists as float32) to one namespace,
    the weights' included."""
    _not_none(labels, labels_name)
    _not_none(logits, "logits")
    Reduction.validate(reduction)
    return convert(
        logits,
        labels,
        names=("logits", labels_name),
        lists_as_float32=True,
        xp=namespace(logits, labels, weights),
    )


# --------------------------------------------------------------------------- the losses


def sigmoid_cross_entropy(
    multi_class_labels: Array,
    logits: Array,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: Any = None,
    loss_collection: Any = LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Array:
    r"""``tf.compat.v1.losses.sigmoid_cross_entropy``: weighted, reduced.

    l = ``tf.nn.sigmoid_cross_entropy_with_logits`` of the labels z (cast to the
    logits' dtype; TensorFlow does not range-check them), smoothed when
    ``label_smoothing`` > 0 to :math:`z (1 - ls) + ls / 2`; then weighted and reduced
    (module docstring): the default divides :math:`\sum w l` by the number of nonzero
    weights, broadcast to the logits' shape. ``weights``: a scalar, or of the logits'
    rank, each dimension 1 or the logits' (e.g. (N, 1) for logits (N, C)). The result
    has the logits' dtype (lists are float32). ``scope`` and ``loss_collection`` are
    ignored (no graph collections in xent).

    Raises ValueError when an argument is None, the shapes differ, the weights do not
    broadcast (TensorFlow's rule) or the reduction is unknown; TypeError for
    non-floating logits.

    >>> import numpy as np
    >>> labels, logits = np.array([[1.0], [0.0]]), np.array([[2.0], [2.0]])
    >>> print(sigmoid_cross_entropy(labels, logits))  # (0.1269 + 2.1269) / 2
    1.1269
    >>> print(sigmoid_cross_entropy(labels, logits, weights=np.array([[1.0], [0.0]])))
    0.1269
    """
    xp, x, z = _logits_and_labels(
        logits, multi_class_labels, "multi_class_labels", weights, reduction
    )
    _compatible(x, z)
    z = xp.astype(z, x.dtype, copy=False)
    ls = _smoothing(label_smoothing)
    if ls:
        z = _binary.smooth_targets(z, ls)
    losses = sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    return _weighted_loss(xp, losses, _weights(xp, weights, x), reduction)


def softmax_cross_entropy(
    onehot_labels: Array,
    logits: Array,
    weights: Any = 1.0,
    label_smoothing: float = 0,
    scope: Any = None,
    loss_collection: Any = LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Array:
    r"""``tf.compat.v1.losses.softmax_cross_entropy``: weighted, reduced.

    l = :math:`-\sum_c t_c \log\mathrm{softmax}(x)_c` over the last axis
    (``tf.nn.softmax_cross_entropy_with_logits``), one value per row, for labels t of
    the logits' shape (cast to the logits' dtype; rows are not checked to sum to 1),
    smoothed when ``label_smoothing`` > 0 to :math:`t (1 - ls) + ls / C`; then weighted
    and reduced (module docstring): the default divides :math:`\sum w l` by the number
    of nonzero weights, broadcast to the rows. ``weights``: a scalar, or of the rows'
    shape rank, each dimension 1 or the rows' (e.g. (N,) for logits (N, C), not
    (N, 1)). Logits of shape (C,) are one row (the losses a scalar). The result has the
    logits' dtype. ``scope`` and ``loss_collection`` are ignored. Under autodiff the
    gradient is the loss's derivative, TensorFlow's only where rows of labels sum to 1
    (see ``xent.tf.softmax_cross_entropy_with_logits``).

    Raises ValueError when an argument is None, the shapes differ, the logits are a
    scalar, the weights do not broadcast or the reduction is unknown.

    >>> import numpy as np
    >>> labels = np.array([[0.0, 1.0], [0.5, 0.5]])
    >>> logits = np.array([[1.0, 2.0], [1.0, 4.0]])
    >>> print(softmax_cross_entropy(labels, logits, reduction=Reduction.NONE))
    [0.3133 1.5486]
    >>> print(softmax_cross_entropy(labels, logits, weights=np.array([1.0, 3.0]),
    ...                             reduction=Reduction.MEAN))  # (0.3133 + 3 * 1.5486) / 4
    1.2398
    """
    xp, x, t = _logits_and_labels(logits, onehot_labels, "onehot_labels", weights, reduction)
    _compatible(x, t)
    if x.ndim == 0:
        raise ValueError(
            "logits must have at least one dimension (the classes, last); got a scalar. Pass "
            "logits of shape (C,) or (N, C)"
        )
    t = xp.astype(t, x.dtype, copy=False)
    ls = _smoothing(label_smoothing)
    if ls:
        t = _categorical.smooth_targets(t, ls, x.shape[-1])
    losses = softmax_cross_entropy_with_logits(labels=t, logits=x)
    return _weighted_loss(xp, losses, _weights(xp, weights, x), reduction)


def _squeeze_last(xp: Any, array: Array) -> Array:
    return xp.reshape(array, tuple(array.shape[:-1]))


def sparse_softmax_cross_entropy(
    labels: Array,
    logits: Array,
    weights: Any = 1.0,
    scope: Any = None,
    loss_collection: Any = LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Array:
    r"""``tf.compat.v1.losses.sparse_softmax_cross_entropy``: weighted, reduced.

    l = :math:`-\log\mathrm{softmax}(x)_y` over the last axis
    (``tf.nn.sparse_softmax_cross_entropy_with_logits``) for integer labels y of the
    logits' shape without the last axis, each in [0, C) (else IndexError). As in
    TensorFlow, a trailing dimension of 1 is squeezed away where the ranks say so:
    labels of the logits' rank (e.g. (N, 1) for logits (N, C)), logits of the labels'
    rank + 2 ((N, C, 1) for labels (N,)), then weights of the labels' rank + 1 ((N, 1);
    ValueError if that last dimension is not 1). Then weighted and reduced (module
    docstring): the default divides :math:`\sum w l` by the number of nonzero weights,
    broadcast to the labels. The result has the logits' dtype. ``scope`` and
    ``loss_collection`` are ignored. Labels of any integer dtype are taken
    (TensorFlow takes int32 and int64 only).

    >>> import numpy as np
    >>> logits = np.array([[1.0, 2.0], [1.0, 4.0]])
    >>> print(sparse_softmax_cross_entropy(np.array([[0], [1]]), logits))
    0.6809
    >>> print(sparse_softmax_cross_entropy(np.array([0, 1]), logits,
    ...                                    weights=np.array([[2.0], [0.0]])))  # 2 * 1.3133 / 1
    2.6265
    """
    xp, x, y = _logits_and_labels(logits, labels, "labels", weights, reduction)
    rank_diff = x.ndim - y.ndim
    if rank_diff == 2 and x.shape[-1] == 1:
        x = _squeeze_last(xp, x)
    elif rank_diff == 0 and y.ndim > 0 and y.shape[-1] == 1:
        y = _squeeze_last(xp, y)
    w = _weights(xp, weights, x)
    if w.ndim == y.ndim + 1:
        if w.shape[-1] != 1:
            raise ValueError(
                f"Can not squeeze dim[{w.ndim - 1}], expected a dimension of 1, got "
                f"{w.shape[-1]}: weights of shape {tuple(w.shape)} have one dimension more "
                f"than the labels {tuple(y.shape)}; pass weights of the labels' shape"
            )
        w = _squeeze_last(xp, w)
    losses = sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    return _weighted_loss(xp, losses, w, reduction)


def log_loss(
    labels: Array,
    predictions: Array,
    weights: Any = 1.0,
    epsilon: float = 1e-7,
    scope: Any = None,
    loss_collection: Any = LOSSES,
    reduction: str = Reduction.SUM_BY_NONZERO_WEIGHTS,
) -> Array:
    r"""``tf.compat.v1.losses.log_loss``: weighted, reduced, always float32.

    l = :math:`-y \log(p + \epsilon) - (1 - y) \log(1 - p + \epsilon)`, with the
    predictions p and labels y cast to float32 first (as TensorFlow does: the result is
    float32 whatever the inputs, integers included), unclipped (p outside [0, 1] can
    give nan); then weighted and reduced (module docstring): the default divides
    :math:`\sum w l` by the number of nonzero weights, broadcast to the predictions'
    shape. ``weights``: a scalar, or of the predictions' rank, each dimension 1 or
    theirs. With ``epsilon=0`` a label equal to 0 (or 1) against a log of 0 contributes
    0, where TensorFlow gives nan (0 times -inf; xent's rule). ``scope`` and
    ``loss_collection`` are ignored.

    >>> import numpy as np
    >>> print(log_loss(np.array([1.0, 0.0]), np.array([0.9, 0.2]), reduction=Reduction.NONE))
    [0.1054 0.2231]
    """
    _not_none(labels, "labels")
    _not_none(predictions, "predictions")
    Reduction.validate(reduction)
    xp = namespace(predictions, labels, weights)
    p = as_array(xp, predictions, dtype=None if is_array(predictions) else xp.float32)
    check_real(xp, p, "predictions")
    y = as_array(xp, labels, like=p)
    check_real(xp, y, "labels")
    p, y = xp.astype(p, xp.float32, copy=False), xp.astype(y, xp.float32, copy=False)
    _compatible(p, y)
    losses = _binary.epsilon_log_loss(xp, p, y, float(epsilon))
    return _weighted_loss(xp, losses, _weights(xp, weights, p), reduction)
