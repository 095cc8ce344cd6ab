"""Keras 3 metric classes (``keras.metrics``): streaming means of the per-sample losses.

Each metric holds Keras' ``Mean`` state, ``total`` (sum of w * loss) and ``count``
(sum of w), in the metric's ``dtype`` (Keras' floatx, float32, when None): every
update adds to them in that dtype, as Keras' variables do, and ``result()`` is
``total / count`` (0 while count is 0, Keras' divide_no_nan). The per-sample
losses are those of :mod:`xent.keras` (in y_pred's dtype, then cast to the
metric's), weighted and reduced by Keras' rule (:func:`xent._reduce.keras_metric_update`):

* no ``sample_weight``: each sample (first axis) counts 1, its loss averaged over
  the other axes; a 0-d loss (a 1-D input) is one sample;
* a ``sample_weight`` of the per-sample losses' shape (or one that broadcasts to
  it, with Keras' squeeze of a trailing 1): total += sum w l, count += sum w;
* a scalar ``sample_weight`` w makes the whole batch ONE sample of weight w:
  total += w mean(l), count += w (Keras' rule, not w times the batch size).

``result()`` has the metric's dtype, except for float64, where it is float32 as
Keras' is (see :meth:`Mean.result`). Keras' torch backend also takes the means over
the axes after the first in float32 for a float64 metric; xent keeps them in float64.

The state lives in the array library (and on the device) of the first update after
construction or ``reset_state()``; later NumPy inputs are converted to it, inputs
of another library raise TypeError. Nothing here imports Keras or a framework.
Unlike Keras, there is no ``stateless_update_state`` (for JAX's jit): call the
metrics eagerly.

>>> import numpy as np
>>> from xent.keras.metrics import BinaryCrossentropy
>>> m = BinaryCrossentropy()
>>> m.update_state(np.array([[0., 1.], [0., 0.]]), np.array([[.6, .4], [.4, .6]]))
>>> float(m.result())  # (0.9163 + 0.7136) / 2
0.81492
"""

from __future__ import annotations

from typing import Any

from .._array import (
    Array,
    as_array,
    device_of,
    divide_or_zero,
    is_numpy_namespace,
    library,
    namespace,
    stop_gradient,
    to_numpy,
    zero_d,
)
from .._checks import check_ignore_index, check_label_smoothing
from .._reduce import keras_metric_update
from . import FLOATX, Loss, _sparse_losses, binary_crossentropy, categorical_crossentropy

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]


class Mean:
    """Keras' ``MeanMetricWrapper`` protocol over a per-sample loss.

    ``update_state(y_true, y_pred, sample_weight=None)`` adds a batch;
    ``result()`` is the weighted mean so far, a 0-d array of the metric's dtype in
    the state's library; ``reset_state()`` forgets everything; calling the metric
    updates it and returns ``result()``. ``variables`` is ``[total, count]`` (0-d
    arrays, copies of the state: assigning to them changes nothing); ``get_config``
    and ``from_config`` are Keras'.
    """

    def __init__(self, name: str, dtype: Any = None) -> None:
        self.name = name
        self.dtype = FLOATX if dtype is None else dtype
        self._xp: Any = None
        self._total: Array | None = None
        self._count: Array | None = None

    _xp_dtype = Loss._xp_dtype  # the metric's dtype in a namespace, bfloat16 included

    def _losses(self, y_true: Any, y_pred: Any) -> tuple[Array, Array | None]:
        """(per-sample losses in y_pred's dtype, mask of the valid ones or None)."""
        raise NotImplementedError

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add ``sum(w * loss)`` to ``total`` and ``sum(w)`` to ``count`` (see the module)."""
        xp = namespace(y_true, y_pred, sample_weight)
        if self._xp is not None and not self._joins_state(xp):
            raise TypeError(
                f"the state of metric {self.name!r} is held as {library(self._total)} arrays; "
                "pass arrays of that library (or NumPy arrays), or call reset_state() first"
            )
        losses, mask = self._losses(y_true, y_pred)
        dtype = self._xp_dtype(xp)
        values = stop_gradient(xp, as_array(xp, losses, dtype=dtype))
        if sample_weight is not None:
            sample_weight = stop_gradient(xp, as_array(xp, sample_weight, like=values, dtype=dtype))
        total, count = keras_metric_update(xp, values, sample_weight, mask)
        if self._xp is None:
            self._xp, self._total, self._count = xp, total, count
            return
        if not is_numpy_namespace(self._xp) and is_numpy_namespace(xp):
            device = device_of(self._total)
            total = self._xp.asarray(to_numpy(total), device=device)
            count = self._xp.asarray(to_numpy(count), device=device)
        self._total = self._total + total
        self._count = self._count + count

    def _joins_state(self, xp: Any) -> bool:
        """Whether arrays of namespace ``xp`` may update the state: its own library's,
        and NumPy's (lists too), converted."""
        return xp.__name__ == self._xp.__name__ or is_numpy_namespace(xp)

    def _state(self) -> tuple[Any, Array, Array]:
        if self._xp is None:
            import array_api_compat.numpy as np_compat

            zero = np_compat.zeros((), dtype=self._xp_dtype(np_compat))
            return np_compat, zero, zero
        return self._xp, self._total, self._count

    def result(self) -> Array:
        """``total / count``, 0 while count is 0 (Keras' divide_no_nan).

        In the metric's dtype, except float64: Keras' result is then float32 (its
        divide_no_nan promotes float64 with a Python float to float32), and so is
        xent's, total and count being rounded to float32 before the division as
        there; ``variables`` keep the float64 state.
        """
        xp, total, count = self._state()
        if total.dtype == xp.float64:
            total, count = xp.astype(total, xp.float32), xp.astype(count, xp.float32)
        return zero_d(xp, divide_or_zero(xp, total, count))

    def reset_state(self) -> None:
        """Forget the state: total and count are 0, and the next update chooses the
        array library the state is held in."""
        self._xp = self._total = self._count = None

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Array:
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def _copies(self) -> tuple[Array, Array]:
        """total and count as new 0-d arrays: writing to them leaves the state alone."""
        xp, total, count = self._state()
        return xp.asarray(total, copy=True), xp.asarray(count, copy=True)

    @property
    def total(self) -> Array:
        return self._copies()[0]

    @property
    def count(self) -> Array:
        return self._copies()[1]

    @property
    def variables(self) -> list[Array]:
        """``[total, count]``, as Keras' ``Mean.variables`` (copies)."""
        return list(self._copies())

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Mean:
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class BinaryCrossentropy(Mean):
    """Keras' ``keras.metrics.BinaryCrossentropy``: the streaming mean of
    :func:`xent.keras.binary_crossentropy` (the mean over the last axis per sample).

    >>> import numpy as np
    >>> m = BinaryCrossentropy()
    >>> m.update_state(np.array([[0., 1.]]), np.array([[.6, .4]]))
    >>> m.update_state(np.array([[0., 0.]]), np.array([[.4, .6]]), sample_weight=[3.])
    >>> float(m.result())  # (0.9163 + 3 * 0.7136) / 4
    0.76424
    """

    def __init__(
        self,
        name: str = "binary_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        check_label_smoothing(label_smoothing)

    def _losses(self, y_true: Any, y_pred: Any) -> tuple[Array, Array | None]:
        losses = binary_crossentropy(
            y_true, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )
        return losses, None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
        }


class CategoricalCrossentropy(Mean):
    """Keras' ``keras.metrics.CategoricalCrossentropy``: the streaming mean of
    :func:`xent.keras.categorical_crossentropy` (one-hot or soft targets).

    >>> import numpy as np
    >>> m = CategoricalCrossentropy()
    >>> m.update_state(np.array([[0., 1., 0.], [0., 0., 1.]]),
    ...                np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]]))
    >>> float(m.result())  # (-log .95 - log .1) / 2
    1.1769
    """

    def __init__(
        self,
        name: str = "categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        label_smoothing: float = 0,
        axis: int = -1,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis
        check_label_smoothing(label_smoothing)

    def _losses(self, y_true: Any, y_pred: Any) -> tuple[Array, Array | None]:
        losses = categorical_crossentropy(
            y_true,
            y_pred,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )
        return losses, None

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class SparseCategoricalCrossentropy(Mean):
    """Keras' ``keras.metrics.SparseCategoricalCrossentropy``: the streaming mean of
    :func:`xent.keras.sparse_categorical_crossentropy` (integer labels).

    Samples labelled ``ignore_class`` have loss 0; as in Keras they still count 1
    each when no ``sample_weight`` is given, and weigh 0 when one is.

    >>> import numpy as np
    >>> m = SparseCategoricalCrossentropy()
    >>> m.update_state(np.array([1, 2]), np.array([[0.05, 0.95, 0.], [0.1, 0.8, 0.1]]))
    >>> float(m.result())  # (-log .95 - log .1) / 2
    1.1769
    """

    def __init__(
        self,
        name: str = "sparse_categorical_crossentropy",
        dtype: Any = None,
        from_logits: bool = False,
        ignore_class: int | None = None,
        axis: int = -1,
    ) -> None:
        super().__init__(name=name, dtype=dtype)
        self.from_logits = from_logits
        if ignore_class is not None:
            ignore_class = check_ignore_index(ignore_class, "ignore_class")
        self.ignore_class = ignore_class
        self.axis = axis

    def _losses(self, y_true: Any, y_pred: Any) -> tuple[Array, Array | None]:
        xp, losses, dtype, mask = _sparse_losses(
            y_true, y_pred, self.from_logits, self.ignore_class, self.axis
        )
        return xp.astype(losses, dtype, copy=False), mask

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "ignore_class": self.ignore_class,
            "axis": self.axis,
        }
