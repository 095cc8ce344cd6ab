"""Keras 3 convention: ``keras.losses`` names, ``(y_true, y_pred)`` order, loss classes.

Functions return one loss per sample (the mean over ``axis``); classes add
Keras' sample weights and reductions. Arguments are prepared by ``xent._prepare``
and the math is the families' (``xent._binary``, ``xent._categorical``). Nothing
here imports Keras.

>>> import numpy as np
>>> from xent.keras import BinaryCrossentropy
>>> y_true = np.array([[1, 0, 1, 1, 0, 0], [1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0]])
>>> y_pred = np.array([[.2, .1, .8, .7, .1, .2], [.3, .4, .5, .6, .7, .7],
...                    [.1, .2, .3, .4, .5, .6]])
>>> float(BinaryCrossentropy()(y_true, y_pred))
0.81171
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from .. import _binary, _categorical
from .._array import (
    Array,
    as_array,
    broadcast_shape,
    compute_dtype,
    index_dtype,
    is_floating,
    is_numpy_namespace,
    namespace,
    zero_d,
)
from .._checks import (
    check_broadcasts_to,
    check_choice,
    check_class_indices,
    check_gamma,
    check_ignore_index,
    check_label_smoothing,
    check_real,
    check_values,
    warn,
)
from .._prepare import check_axis, convert, same_shape_pair
from .._reduce import KERAS_REDUCTIONS, keras_reduce, squeeze_or_expand_to_same_rank

__all__ = [  # and the submodule `metrics`
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "CategoricalCrossentropy",
    "CategoricalFocalCrossentropy",
    "KLDivergence",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "kl_divergence",
    "sparse_categorical_crossentropy",
]

FLOATX = "float32"  # keras.backend.floatx(): lists and the loss classes compute in it


# --------------------------------------------------------------------------- plumbing

_SAME_SHAPE = (
    "Arguments `target` and `output` must have the same shape. Received: "
    "target.shape={target}, output.shape={input}; pass y_true of y_pred's shape"
)


def _prepare(y_true: Any, y_pred: Any, axis: int) -> tuple[Any, Array, Array, Any, int]:
    """(xp, y_true, y_pred in the compute dtype, y_pred's dtype, axis); y_true is cast
    to y_pred's dtype as Keras does."""
    xp, y_true, y_pred, dtype = same_shape_pair(
        y_pred,
        y_true,
        names=("y_pred", "y_true"),
        shape_message=_SAME_SHAPE,
        target_through_prediction_dtype=True,
    )
    return xp, y_true, y_pred, dtype, check_axis(axis, tuple(y_pred.shape), "y_pred")


def _per_sample(
    values: Callable[..., Array], y_true: Any, y_pred: Any, axis: int, **options: Any
) -> tuple[Any, Array, Any]:
    """(xp, per-sample losses in the compute dtype, y_pred's dtype): the mean over
    ``axis`` of the elementwise ``values(xp, y_true, y_pred, **options)``."""
    xp, yt, yp, dtype, axis = _prepare(y_true, y_pred, axis)
    # zero_d: NumPy's 0-d mean is a scalar; torch.asarray of a tensor that requires grad warns
    return xp, zero_d(xp, xp.mean(values(xp, yt, yp, **options), axis=axis)), dtype


def _bce_options(from_logits: bool, label_smoothing: float) -> dict[str, Any]:
    return {
        "from_logits": bool(from_logits),
        "label_smoothing": check_label_smoothing(label_smoothing),
    }


def _focal_options(
    apply_class_balancing: bool,
    alpha: float,
    gamma: float,
    from_logits: bool,
    label_smoothing: float,
) -> dict[str, Any]:
    return {
        "apply_class_balancing": bool(apply_class_balancing),
        "alpha": float(alpha),
        "gamma": check_gamma(gamma),
        **_bce_options(from_logits, label_smoothing),
    }


def _warn_one_class(name: str, y_pred: Array) -> None:
    if y_pred.shape[-1] == 1:
        warn(
            f"In loss {name}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={tuple(y_pred.shape)}. Consider using "
            "'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
        )


def _categorical_inputs(
    name: str, y_true: Any, y_pred: Any, label_smoothing: float, axis: int
) -> tuple[Any, Array, Array, Any, int]:
    """(xp, smoothed y_true, y_pred, y_pred's dtype, axis): compute dtype, axes as given.

    Smoothing takes C from y_true's LAST axis whatever ``axis`` is, as Keras does.
    """
    label_smoothing = check_label_smoothing(label_smoothing)
    xp, y_true, y_pred, dtype, axis = _prepare(y_true, y_pred, axis)
    _warn_one_class(name, y_pred)
    y_true = _categorical.smooth_targets(y_true, label_smoothing, y_true.shape[-1])
    return xp, y_true, y_pred, dtype, axis


def _categorical_losses(
    y_true: Any, y_pred: Any, from_logits: bool, label_smoothing: float, axis: int
) -> tuple[Any, Array, Any, Array | None]:
    """(xp, per-sample losses in the compute dtype, y_pred's dtype, mask)."""
    xp, t, x, dtype, axis = _categorical_inputs(
        "categorical_crossentropy", y_true, y_pred, label_smoothing, axis
    )
    losses = _categorical.keras_categorical(xp, t, x, from_logits=from_logits, class_axis=axis)
    return xp, losses, dtype, None


def _focal_categorical_losses(
    y_true: Any,
    y_pred: Any,
    alpha: Any,
    gamma: float,
    from_logits: bool,
    label_smoothing: float,
    axis: int,
) -> tuple[Any, Array, Any, Array | None]:
    gamma = check_gamma(gamma)
    xp, t, x, dtype, axis = _categorical_inputs(
        "categorical_focal_crossentropy", y_true, y_pred, label_smoothing, axis
    )
    if not isinstance(alpha, int | float):  # one value per class, or any array that
        alpha = as_array(xp, alpha, like=x)  # broadcasts to y_pred
        check_real(xp, alpha, "alpha")
        check_broadcasts_to(alpha, tuple(x.shape), "alpha")
        alpha = xp.astype(alpha, x.dtype, copy=False)
    losses = _categorical.keras_categorical_focal(
        xp, t, x, alpha=alpha, gamma=gamma, from_logits=from_logits, class_axis=axis
    )
    return xp, losses, dtype, None


def _sparse_losses(
    y_true: Any, y_pred: Any, from_logits: bool, ignore_class: int | None, axis: int
) -> tuple[Any, Array, Any, Array | None]:
    """(xp, per-sample losses in the compute dtype, y_pred's dtype, mask of the labels
    that are not ``ignore_class``, or None)."""
    if ignore_class is not None:
        ignore_class = check_ignore_index(ignore_class, "ignore_class")
    xp, y_pred, labels = convert(y_pred, y_true, names=("y_pred", "y_true"), lists_as_float32=True)
    shape = tuple(y_pred.shape)
    if not shape:
        raise ValueError(
            f"Argument `output` must be at least rank 1. Received: output.shape={shape}; "
            "pass y_pred with a class axis"
        )
    axis = check_axis(axis, shape, "y_pred")
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = xp.squeeze(labels, axis=axis)
    if tuple(labels.shape) != shape[:axis] + shape[axis + 1 :]:
        raise ValueError(
            "Arguments `target` and `output` must have the same shape up until the last "
            f"dimension: target.shape={tuple(labels.shape)}, output.shape={shape}; pass one "
            "integer label per sample (y_pred's shape without the class axis)"
        )
    n_classes = shape[axis]
    mask = None if ignore_class is None else labels != ignore_class
    labels = check_class_indices(xp, labels, n_classes, mask, ignore_class, "ignore_class")
    if not xp.isdtype(labels.dtype, ("integral", "bool")):

        def fail(values: Any, good: Any) -> NoReturn:
            raise ValueError(
                "y_true must hold class indices (whole numbers) for sparse categorical "
                f"cross-entropy, found {values[~good].flat[0]}; pass integer labels"
            )

        labels = check_values(xp, labels, lambda m, a: m.floor(a) == a, fail, mask)
    # ignored labels become -1, never a class: the index-target loss gives them 0
    labels = xp.astype(labels, index_dtype(xp), copy=False)
    if mask is not None:
        labels = xp.where(mask, labels, xp.full_like(labels, -1))
    dtype = y_pred.dtype
    x = xp.astype(y_pred, compute_dtype(xp, dtype), copy=False)
    losses = _categorical.keras_sparse(xp, labels, x, from_logits=from_logits, class_axis=axis)
    return xp, losses, dtype, mask


def _kl_losses(y_true: Any, y_pred: Any) -> tuple[Any, Array, Any]:
    """(xp, per-sample KL divergences in the compute dtype, y_pred's dtype): y_true and
    y_pred broadcast together, as Keras' ops do."""
    xp, y_pred, y_true = convert(y_pred, y_true, names=("y_pred", "y_true"), lists_as_float32=True)
    shape = broadcast_shape(tuple(y_true.shape), tuple(y_pred.shape))
    if shape is None:
        raise ValueError(
            f"y_true of shape {tuple(y_true.shape)} and y_pred of shape "
            f"{tuple(y_pred.shape)} do not broadcast together; pass arrays of one shape"
        )
    check_axis(-1, shape, "y_pred")
    dtype = y_pred.dtype
    ct = compute_dtype(xp, dtype)
    y_true = xp.astype(xp.astype(y_true, dtype, copy=False), ct, copy=False)
    y_pred = xp.astype(y_pred, ct, copy=False)
    return xp, _categorical.keras_kl_divergence(xp, y_true, y_pred), dtype


# --------------------------------------------------------------------------- functions


def binary_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    r"""Keras' binary cross-entropy: one value per sample, the mean over ``axis``.

    Targets are smoothed to ``y (1 - ls) + 0.5 ls``. On logits it is the exact
    sigmoid cross-entropy; on probabilities ``p`` is first clipped to
    [1e-7, 1 - 1e-7]: :math:`-[y \log p + (1 - y) \log(1 - p)]`.

    A 1-D input of shape (k,) is one sample of k outputs: the result is a scalar.

    >>> import numpy as np
    >>> print(binary_crossentropy(np.array([[0., 1.], [0., 0.]]), np.array([[.6, .4], [.4, .6]])))
    [0.9163 0.7136]
    """
    xp, losses, dtype = _per_sample(
        _binary.keras_binary, y_true, y_pred, axis, **_bce_options(from_logits, label_smoothing)
    )
    return xp.astype(losses, dtype, copy=False)


def binary_focal_crossentropy(
    y_true: Array,
    y_pred: Array,
    apply_class_balancing: bool = False,
    alpha: float = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    r"""Keras' binary focal cross-entropy: one value per sample, the mean over ``axis``.

    With smoothed targets y and probabilities p (``sigmoid(y_pred)`` on logits),
    :math:`(1 - p_t)^\gamma\, \mathrm{bce}(y, \mathrm{clip}(p))` with
    :math:`p_t = y p + (1 - y)(1 - p)`; the binary cross-entropy is taken on p
    clipped to [1e-7, 1 - 1e-7] even for logits, as Keras does. With
    ``apply_class_balancing`` it is multiplied by ``alpha y + (1 - alpha)(1 - y)``.

    >>> import numpy as np
    >>> print(binary_focal_crossentropy(np.array([[0., 1.], [0., 0.]]),
    ...                                 np.array([[.6, .4], [.4, .6]]), gamma=2.0))
    [0.3299 0.2058]
    """
    xp, losses, dtype = _per_sample(
        _binary.keras_binary_focal,
        y_true,
        y_pred,
        axis,
        **_focal_options(apply_class_balancing, alpha, gamma, from_logits, label_smoothing),
    )
    return xp.astype(losses, dtype, copy=False)


def categorical_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    r"""Keras' categorical cross-entropy: one value per sample, the sum over ``axis``.

    Targets (one-hot or any distribution) are smoothed to ``y (1 - ls) + ls / C``,
    C being the size of y_true's **last** axis (Keras' rule, even for another
    ``axis``). On logits :math:`-\sum_c y_c \log\mathrm{softmax}(x)_c` (a class
    with logit -inf and y = 0 gives 0); on probabilities p is first normalised to
    sum 1 over ``axis`` and clipped to [1e-7, 1 - 1e-7]:
    :math:`-\sum_c y_c \log p_c`. A y_pred with one class warns, as in Keras.
    No batch reduction (the classes add one: 'sum_over_batch_size' and the others).

    >>> import numpy as np
    >>> y_true = np.array([[0., 1., 0.], [0., 0., 1.]])
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> print(categorical_crossentropy(y_true, y_pred))  # -log .95, -log .1
    [0.0513 2.3026]
    """
    xp, losses, dtype, _ = _categorical_losses(y_true, y_pred, from_logits, label_smoothing, axis)
    return xp.astype(losses, dtype, copy=False)


def sparse_categorical_crossentropy(
    y_true: Array,
    y_pred: Array,
    from_logits: bool = False,
    ignore_class: int | None = None,
    axis: int = -1,
) -> Array:
    r"""Keras' sparse categorical cross-entropy: one value per sample.

    ``y_true`` holds class indices of y_pred's shape without ``axis`` (a trailing
    axis of size 1 is squeezed). On logits :math:`-\log\mathrm{softmax}(x)_y`; on
    probabilities :math:`-\log p_y` with p normalised over ``axis`` and clipped to
    [1e-7, 1 - 1e-7]. Labels equal to ``ignore_class`` give 0; the loss classes
    leave them out of the 'sum_over_batch_size' denominator. No batch reduction.

    Labels may be integers or floats holding whole numbers (Keras casts floats,
    truncating a fraction; xent refuses one). A label outside [0, C) raises
    IndexError (Keras' torch backend silently gives 0 for -100 and its jax
    backend for every out-of-range label).

    >>> import numpy as np
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> print(sparse_categorical_crossentropy(np.array([1, 2]), y_pred))  # -log .95, -log .1
    [0.0513 2.3026]
    """
    xp, losses, dtype, _ = _sparse_losses(y_true, y_pred, from_logits, ignore_class, axis)
    return xp.astype(losses, dtype, copy=False)


def categorical_focal_crossentropy(
    y_true: Array,
    y_pred: Array,
    alpha: float | Array = 0.25,
    gamma: float = 2.0,
    from_logits: bool = False,
    label_smoothing: float = 0.0,
    axis: int = -1,
) -> Array:
    r"""Keras' categorical focal cross-entropy: one value per sample, summed over ``axis``.

    With y smoothed as in :func:`categorical_crossentropy`, p = ``softmax(y_pred)``
    on logits (else y_pred), normalised over ``axis`` and clipped to
    [1e-7, 1 - 1e-7]:
    :math:`\sum_c \alpha_c (1 - p_c)^\gamma (-y_c \log p_c)`.
    ``alpha`` is a scalar or an array that broadcasts to y_pred's shape (e.g. one
    value per class for classes on the last axis). No batch reduction.

    >>> import numpy as np
    >>> y_true = np.array([[0., 1., 0.], [0., 0., 1.]])
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> print(categorical_focal_crossentropy(y_true, y_pred))  # .25 (1 - p)^2 (-log p)
    [3.2058e-05 4.6627e-01]
    """
    xp, losses, dtype, _ = _focal_categorical_losses(
        y_true, y_pred, alpha, gamma, from_logits, label_smoothing, axis
    )
    return xp.astype(losses, dtype, copy=False)


def kl_divergence(y_true: Array, y_pred: Array) -> Array:
    r"""Keras' Kullback-Leibler divergence: one value per sample, the sum over the last axis.

    Both arrays are clipped to [1e-7, 1] (so a zero target counts as 1e-7), then
    :math:`\sum_c t_c \log t_c - t_c \log p_c` over the last axis (Keras writes
    :math:`t \log(t / p)`; the two agree to rounding). y_true is cast to y_pred's
    dtype; the two broadcast together, as in Keras. No batch reduction (the class
    adds one). The result has y_pred's dtype.

    >>> import numpy as np
    >>> y_true = np.array([[0., 1.], [1., 0.]])
    >>> print(kl_divergence(y_true, np.array([[.2, .8], [.6, .4]])))  # -log .8, -log .6
    [0.2231 0.5108]
    """
    xp, losses, dtype = _kl_losses(y_true, y_pred)
    return xp.astype(losses, dtype, copy=False)


# --------------------------------------------------------------------------- classes


class Loss:
    """Keras' loss-class protocol: ``loss(y_true, y_pred, sample_weight=None)``.

    Inputs are converted to ``dtype`` (Keras' floatx, float32, when None), the
    per-sample loss is computed, then:

    * ``sample_weight``: Keras' rule for ranks (a trailing dimension of 1 is
      squeezed or added), then multiplied in by broadcasting;
    * ``reduction``: 'sum_over_batch_size' (default) and 'mean' divide the
      weighted sum by the number of per-sample losses; 'mean_with_sample_weight'
      by the sum of the sample weights; 'sum'; 'none' or None return them all.
      A zero divisor gives 0, as in Keras.
    """

    def __init__(
        self,
        name: str | None = None,
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        self.name = name
        self.reduction = check_choice("reduction", reduction, KERAS_REDUCTIONS)
        self.dtype = FLOATX if dtype is None else dtype

    axis: int = -1

    def _elementwise(self) -> tuple[Callable[..., Array], dict[str, Any]]:
        """(the family's elementwise values function, its options)."""
        raise NotImplementedError

    def _losses(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        """(per-sample losses in the compute dtype, mask of the valid ones or None).

        The default takes the mean over ``axis`` of `_elementwise`'s values.
        """
        values, options = self._elementwise()
        return _per_sample(values, y_true, y_pred, self.axis, **options)[1], None

    def _xp_dtype(self, xp: Any) -> Any:
        if not isinstance(self.dtype, str):
            return self.dtype
        dtype = getattr(xp, self.dtype, None)
        if dtype is None and self.dtype == "bfloat16" and is_numpy_namespace(xp):
            try:  # NumPy has no bfloat16; ml_dtypes' (JAX's, TensorFlow's) is the common one
                import ml_dtypes
            except ImportError:
                raise ValueError(
                    "dtype='bfloat16' on NumPy arrays needs the ml_dtypes package (pip "
                    "install ml-dtypes); pass 'float32' or 'float64', or torch/JAX arrays"
                ) from None
            import numpy as np

            return np.dtype(ml_dtypes.bfloat16)
        if dtype is None or not is_floating(xp, dtype):
            raise ValueError(
                f"dtype={self.dtype!r} is not a floating dtype of {xp.__name__}; "
                "pass 'float32' or 'float64'"
            )
        return dtype

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Array:
        xp = namespace(y_true, y_pred, sample_weight)
        dtype = self._xp_dtype(xp)
        y_pred = as_array(xp, y_pred, dtype=dtype)
        y_true = as_array(xp, y_true, like=y_pred, dtype=dtype)
        if not is_floating(xp, dtype):  # ml_dtypes' bfloat16: rounded to it, computed in
            # float32 (as torch's and JAX's bfloat16 are), returned in it
            y_pred = xp.astype(y_pred, xp.float32)
            y_true = xp.astype(y_true, xp.float32)
        y_true, y_pred = squeeze_or_expand_to_same_rank(xp, y_true, y_pred)
        losses, mask = self._losses(y_true, y_pred)
        ct = losses.dtype  # the compute dtype
        if sample_weight is not None:
            sample_weight = xp.astype(
                as_array(xp, sample_weight, like=y_pred, dtype=dtype), ct, copy=False
            )
            shapes = squeeze_or_expand_to_same_rank(xp, losses, sample_weight)
            if broadcast_shape(tuple(shapes[0].shape), tuple(shapes[1].shape)) is None:
                raise ValueError(
                    f"sample_weight of shape {tuple(sample_weight.shape)} does not broadcast "
                    f"to the per-sample losses of shape {tuple(losses.shape)}; pass one "
                    "weight per sample"
                )
        return xp.astype(
            keras_reduce(xp, losses, sample_weight, self.reduction, mask), dtype, copy=False
        )

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction, "dtype": self.dtype}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class BinaryCrossentropy(Loss):
    """Keras' ``BinaryCrossentropy`` class over :func:`binary_crossentropy`."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.axis = axis

    def _elementwise(self) -> tuple[Callable[..., Array], dict[str, Any]]:
        return _binary.keras_binary, _bce_options(self.from_logits, self.label_smoothing)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryFocalCrossentropy(Loss):
    """Keras' ``BinaryFocalCrossentropy`` class over :func:`binary_focal_crossentropy`."""

    def __init__(
        self,
        apply_class_balancing: bool = False,
        alpha: float = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "binary_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.apply_class_balancing = apply_class_balancing
        self.alpha = alpha
        self.gamma = check_gamma(gamma)
        self.from_logits = from_logits
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.axis = axis

    def _elementwise(self) -> tuple[Callable[..., Array], dict[str, Any]]:
        return _binary.keras_binary_focal, _focal_options(
            self.apply_class_balancing,
            self.alpha,
            self.gamma,
            self.from_logits,
            self.label_smoothing,
        )

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "apply_class_balancing": self.apply_class_balancing,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class CategoricalCrossentropy(Loss):
    """Keras' ``CategoricalCrossentropy`` class over :func:`categorical_crossentropy`.

    'sum_over_batch_size' (default) and 'mean' divide the (sample-weighted) sum of
    the per-sample losses by their number; 'mean_with_sample_weight' by the sum of
    the sample weights; 'sum'; 'none' or None.

    >>> import numpy as np
    >>> y_true = np.array([[0., 1., 0.], [0., 0., 1.]])
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> float(CategoricalCrossentropy()(y_true, y_pred))  # (-log .95 - log .1) / 2
    1.1769
    """

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.axis = axis

    def _losses(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        return _categorical_losses(
            y_true, y_pred, self.from_logits, self.label_smoothing, self.axis
        )[1::2]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class CategoricalFocalCrossentropy(Loss):
    """Keras' ``CategoricalFocalCrossentropy`` class over
    :func:`categorical_focal_crossentropy`.

    'sum_over_batch_size' (default) and 'mean' divide the (sample-weighted) sum of
    the per-sample losses by their number; 'mean_with_sample_weight' by the sum of
    the sample weights; 'sum'; 'none' or None.

    >>> import numpy as np
    >>> y_true = np.array([[0., 1., 0.], [0., 0., 1.]])
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> float(CategoricalFocalCrossentropy()(y_true, y_pred))  # Keras' documented value
    0.23315
    """

    def __init__(
        self,
        alpha: float | Array = 0.25,
        gamma: float = 2.0,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
        name: str = "categorical_focal_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.alpha = alpha
        self.gamma = check_gamma(gamma)
        self.from_logits = from_logits
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.axis = axis

    def _losses(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        return _focal_categorical_losses(
            y_true,
            y_pred,
            self.alpha,
            self.gamma,
            self.from_logits,
            self.label_smoothing,
            self.axis,
        )[1::2]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "alpha": self.alpha,
            "gamma": self.gamma,
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(Loss):
    """Keras' ``SparseCategoricalCrossentropy`` class over
    :func:`sparse_categorical_crossentropy`.

    'sum_over_batch_size' (default) and 'mean' divide the (sample-weighted) sum of
    the per-sample losses by the number of those whose label is not
    ``ignore_class`` (all ignored gives 0); 'mean_with_sample_weight' by the sum of
    the sample weights of those (their number without sample weights); 'sum';
    'none' or None (ignored samples give 0).

    >>> import numpy as np
    >>> y_pred = np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]])
    >>> loss = SparseCategoricalCrossentropy(ignore_class=2)
    >>> float(loss(np.array([1, 2]), y_pred))  # -log .95 / 1
    0.05129
    """

    def __init__(
        self,
        from_logits: bool = False,
        ignore_class: int | None = None,
        reduction: str | None = "sum_over_batch_size",
        axis: int = -1,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = from_logits
        if ignore_class is not None:
            ignore_class = check_ignore_index(ignore_class, "ignore_class")
        self.ignore_class = ignore_class
        self.axis = axis

    def _losses(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        return _sparse_losses(y_true, y_pred, self.from_logits, self.ignore_class, self.axis)[1::2]

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }


class KLDivergence(Loss):
    """Keras' ``KLDivergence`` class over :func:`kl_divergence`.

    'sum_over_batch_size' (default) and 'mean' divide the (sample-weighted) sum of
    the per-sample divergences by their number; 'mean_with_sample_weight' by the
    sum of the sample weights; 'sum'; 'none' or None. As Keras', its config holds
    only ``name`` and ``reduction``.

    >>> import numpy as np
    >>> y_true = np.array([[0., 1.], [1., 0.]])
    >>> float(KLDivergence()(y_true, np.array([[.2, .8], [.6, .4]])))  # (-log .8 - log .6) / 2
    0.36698
    """

    def __init__(
        self,
        reduction: str | None = "sum_over_batch_size",
        name: str = "kl_divergence",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _losses(self, y_true: Array, y_pred: Array) -> tuple[Array, Array | None]:
        return _kl_losses(y_true, y_pred)[1], None

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}


from . import metrics  # noqa: E402, F401  (it builds on the functions above)
