"""Keras 3 convention: ``keras.losses`` names, ``(y_true, y_pred)`` order, loss classes.

Functions return one loss per sample (the mean over ``axis``); classes add
Keras' sample weights and reductions. Nothing here imports Keras.

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
from typing import Any

from . import _binary
from ._array import (
    Array,
    SigmoidParts,
    as_array,
    broadcast_shape,
    compute_dtype,
    is_array,
    is_floating,
    namespace,
)
from ._checks import check_choice, check_gamma, check_label_smoothing, check_real
from ._reduce import KERAS_REDUCTIONS, keras_reduce, squeeze_or_expand_to_same_rank

__all__ = [
    "BinaryCrossentropy",
    "BinaryFocalCrossentropy",
    "binary_crossentropy",
    "binary_focal_crossentropy",
]

FLOATX = "float32"  # keras.backend.floatx(): lists and the loss classes compute in it


# --------------------------------------------------------------------------- plumbing


def _prepare(y_true: Any, y_pred: Any, axis: int) -> tuple[Any, Array, Array, Any]:
    """(xp, y_true, y_pred in the compute dtype, y_pred's dtype); y_true is cast to
    y_pred's dtype as Keras does."""
    xp = namespace(y_true, y_pred)
    y_pred = as_array(xp, y_pred, dtype=None if is_array(y_pred) else xp.float32)
    if not is_floating(xp, y_pred.dtype):
        raise TypeError(
            f"y_pred must be a floating-point array, got dtype {y_pred.dtype}; "
            "pass probabilities or logits as floats"
        )
    y_true = as_array(xp, y_true, like=y_pred)
    check_real(xp, y_true, "y_true")
    if tuple(y_true.shape) != tuple(y_pred.shape):
        raise ValueError(
            "Arguments `target` and `output` must have the same shape. Received: "
            f"target.shape={tuple(y_true.shape)}, output.shape={tuple(y_pred.shape)}; "
            "pass y_true of y_pred's shape"
        )
    if not -y_pred.ndim <= axis < y_pred.ndim:
        raise ValueError(
            f"axis={axis} is out of range for y_pred of shape {tuple(y_pred.shape)}; "
            "pass an axis of y_pred (the default -1 needs at least one dimension)"
        )
    ct = compute_dtype(xp, y_pred.dtype)
    y_true = xp.astype(xp.astype(y_true, y_pred.dtype), ct)
    return xp, y_true, xp.astype(y_pred, ct), y_pred.dtype


def _per_sample(
    values: Callable[..., Array], y_true: Any, y_pred: Any, axis: int, *args: Any
) -> tuple[Any, Array, Any]:
    """(xp, per-sample losses in the compute dtype, y_pred's dtype): the mean over
    ``axis`` of the elementwise ``values(xp, y_true, y_pred, *args)``."""
    xp, yt, yp, dtype = _prepare(y_true, y_pred, axis)
    return xp, xp.mean(values(xp, yt, yp, *args), axis=axis), dtype


def _bce_values(
    xp: Any, y_true: Array, y_pred: Array, from_logits: bool, label_smoothing: float
) -> Array:
    y = _binary.smooth_targets(y_true, check_label_smoothing(label_smoothing))
    if from_logits:
        return _binary.logits_elementwise(xp, y_pred, y, None, need_grad=False)[0]
    return _binary.clipped_probs_elementwise(xp, y_pred, y)


def _focal_values(
    xp: Any,
    y_true: Array,
    y_pred: Array,
    apply_class_balancing: bool,
    alpha: float,
    gamma: float,
    from_logits: bool,
    label_smoothing: float,
) -> Array:
    gamma = check_gamma(gamma)
    y = _binary.smooth_targets(y_true, check_label_smoothing(label_smoothing))
    if from_logits:
        p, one_minus_p = SigmoidParts(xp, y_pred).sigmoids()
    else:
        p, one_minus_p = y_pred, 1.0 - y_pred
    return _binary.keras_focal_elementwise(
        xp, p, one_minus_p, y, bool(apply_class_balancing), float(alpha), gamma
    )


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
    xp, losses, dtype = _per_sample(_bce_values, y_true, y_pred, axis, from_logits, label_smoothing)
    return xp.astype(losses, dtype)


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
        _focal_values,
        y_true,
        y_pred,
        axis,
        apply_class_balancing,
        alpha,
        gamma,
        from_logits,
        label_smoothing,
    )
    return xp.astype(losses, dtype)


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

    def _elementwise(self) -> tuple[Callable[..., Array], tuple[Any, ...]]:
        """(the elementwise values function, its extra arguments)."""
        raise NotImplementedError

    def _xp_dtype(self, xp: Any) -> Any:
        if not isinstance(self.dtype, str):
            return self.dtype
        dtype = getattr(xp, self.dtype, None)
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
        y_true, y_pred = squeeze_or_expand_to_same_rank(xp, y_true, y_pred)
        values, args = self._elementwise()
        xp, losses, _ = _per_sample(values, y_true, y_pred, self.axis, *args)
        ct = losses.dtype  # the compute dtype
        if sample_weight is not None:
            sample_weight = xp.astype(as_array(xp, sample_weight, like=y_pred, dtype=dtype), ct)
            shapes = squeeze_or_expand_to_same_rank(xp, losses, sample_weight)
            if broadcast_shape(tuple(shapes[0].shape), tuple(shapes[1].shape)) is None:
                raise ValueError(
                    f"sample_weight of shape {tuple(sample_weight.shape)} does not broadcast "
                    f"to the per-sample losses of shape {tuple(losses.shape)}; pass one "
                    "weight per sample"
                )
        return xp.astype(keras_reduce(xp, losses, sample_weight, self.reduction), dtype)

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

    def _elementwise(self) -> tuple[Callable[..., Array], tuple[Any, ...]]:
        return _bce_values, (self.from_logits, self.label_smoothing)

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

    def _elementwise(self) -> tuple[Callable[..., Array], tuple[Any, ...]]:
        return _focal_values, (
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
