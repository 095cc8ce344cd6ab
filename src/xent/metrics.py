"""scikit-learn's convention (``sklearn.metrics``): ``log_loss`` on any array of probabilities.

The labels (``y_true``, ``labels``: NumPy arrays, lists, strings or any hashable
values) are encoded in NumPy as scikit-learn's LabelBinarizer does; the
probabilities stay in their library (NumPy, torch, JAX...) and the loss is the
family's cross entropy on their clipped logarithms (``xent._categorical``, the
compiled kernels where they apply). Nothing here imports scikit-learn.

>>> log_loss(["spam", "ham", "ham", "spam"], [[.1, .9], [.9, .1], [.8, .2], [.35, .65]])
0.21616
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _categorical
from ._array import as_array, compute_dtype, is_array, is_floating, namespace, to_numpy
from ._checks import warn

__all__ = ["log_loss"]


def _fail_parameter(name: str, expected: str, value: Any) -> None:
    """scikit-learn's InvalidParameterError (a ValueError) message."""
    raise ValueError(
        f"The {name!r} parameter of log_loss must be {expected}. Got {value!r} instead."
    )


def _array_like(value: Any) -> bool:
    return (is_array(value) and getattr(value, "ndim", 1) > 0) or isinstance(value, list | tuple)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).rpartition(".")[2]


def _check_finite(values: Any, name: str, dtype: Any) -> None:
    """check_array's messages for nan and infinity (``values`` a NumPy array)."""
    where = f"Input {name} " if name else "Input "
    if np.isnan(values).any():
        raise ValueError(f"{where}contains NaN.")
    if np.isinf(values).any():
        raise ValueError(
            f"{where}contains infinity or a value too large for dtype('{_dtype_name(dtype)}')."
        )


def _num_samples(value: Any) -> int:
    shape = getattr(value, "shape", None)
    return int(shape[0]) if shape is not None else len(value)


def _unique_labels(y: np.ndarray, original: Any) -> np.ndarray:
    """The sorted classes of 1-D labels, with scikit-learn's refusals."""
    if y.dtype == object or isinstance(original, list | tuple):
        flat = list(np.asarray(original, dtype=object).ravel())
        if len({isinstance(v, str) for v in flat}) > 1:
            raise ValueError(
                "Mix of label input types (string and number); "
                f"Got {np.unique(np.asarray(flat, dtype=str))}."
            )
    if y.dtype.kind == "f":
        if np.isnan(y).any():
            raise ValueError("Input y contains NaN.")
        if np.any(y != np.floor(y)):
            raise ValueError(f"Unknown label type: {(original,)!r}")
    return np.unique(y)


def _encode_targets(y_true: Any, labels: Any) -> tuple[np.ndarray, bool, np.ndarray]:
    """(targets, dense, classes): class indices (dense=False) or the label-indicator
    matrix (dense=True) of y_true, as LabelBinarizer encodes it."""
    original = y_true
    y = np.asarray(to_numpy(y_true) if is_array(y_true) else y_true)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    multilabel = False
    if y.ndim == 2:
        values = np.unique(y)
        if y.dtype.kind in "biuf" and np.all(np.isin(values, [0, 1])) and y.shape[1] > 1:
            multilabel = True
        else:
            raise ValueError("Multioutput target data is not supported with label binarization")
    elif y.ndim != 1:
        raise ValueError(f"y_true should be a 1d array or a label indicator matrix, got {y.shape}")
    if labels is not None:
        given = np.asarray(to_numpy(labels) if is_array(labels) else labels)
        classes = _unique_labels(given.ravel(), labels)
        if classes.shape != given.shape or not np.all(classes == given):
            warn(
                f"Labels passed were {labels}. But this function assumes labels are ordered "
                f"lexicographically. Pass the ordered labels={classes.tolist()} and ensure "
                "that the columns of y_prob correspond to this ordering.",
                UserWarning,
            )
        if multilabel:
            raise ValueError("The object was not fitted with multilabel input.")
        if not np.all(np.isin(y, given)):
            values = original if isinstance(original, list | tuple) else y
            raise ValueError(
                f"y_true contains values {set(values) - set(labels)} not belonging to the "
                f"passed labels {labels}."
            )
    elif multilabel:
        classes = np.arange(y.shape[1])
    else:
        classes = _unique_labels(y, original)
    if classes.shape[0] == 1:
        if labels is None:
            raise ValueError(
                f"y_true contains only one label ({classes[0]}). Please provide the list of "
                "all expected class labels explicitly through the labels argument."
            )
        raise ValueError(f"The labels array needs to contain at least two labels, got {classes}.")
    if multilabel:
        return y, True, classes
    return np.searchsorted(classes, y), False, classes


def log_loss(
    y_true: Any,
    y_proba: Any = None,
    *,
    normalize: bool = True,
    sample_weight: Any = None,
    labels: Any = None,
    y_pred: Any = "deprecated",
) -> float:
    r"""scikit-learn's ``log_loss``: the mean (or sum) of -log p[true class] over samples.

    With p clipped to [eps, 1 - eps], eps the machine epsilon of y_proba's dtype
    (float64 for integer or bool inputs; float16 stays float16 and is computed in
    float32), and T the label-indicator matrix of y_true over the sorted classes
    (``labels``, else those of y_true):
    :math:`L_i = -\sum_c T_{ic} \log p_{ic}`. ``normalize`` gives
    :math:`\sum_i w_i L_i / \sum_i w_i` (the plain mean without ``sample_weight``),
    else :math:`\sum_i w_i L_i`. Returns a Python float.

    ``y_proba`` is (n_samples, n_classes), or (n_samples,) / (n_samples, 1): the
    probability of the positive (second) class. ``y_true`` holds labels of any type
    (a (n, k) 0/1 matrix is a multilabel indicator, its columns the classes).
    Warns (UserWarning) when rows do not sum to 1 within sqrt(eps) relative and
    when ``labels`` are not sorted. ``y_pred`` is scikit-learn 1.9's deprecated name
    of ``y_proba`` (FutureWarning). Raises ValueError with scikit-learn's messages:
    nan/inf or a value outside [0, 1] in y_proba, nan/inf weights, inconsistent
    numbers of samples, all-zero weights, one class, labels not covering y_true,
    class counts that differ; ZeroDivisionError when weights sum to 0.

    >>> import numpy as np
    >>> log_loss([0, 1, 1], np.array([.2, .8, .6]))  # P(class 1): -(log .8 + log .8 + log .6) / 3
    0.31903
    """
    if not (isinstance(y_pred, str) and y_pred == "deprecated"):
        if y_proba is not None:
            raise ValueError(
                "Cannot use both `y_pred` and `y_proba`. `y_pred` is deprecated, use "
                "`y_proba` instead."
            )
        warn(
            "`y_pred` was renamed to `y_proba` in version 1.9 and will be removed in 1.11. "
            "Use `y_proba` instead.",
            FutureWarning,
        )
        y_proba = y_pred
    if not _array_like(y_true):
        _fail_parameter("y_true", "an array-like", y_true)
    if y_proba is not None and not _array_like(y_proba):
        _fail_parameter("y_proba", "an array-like", y_proba)
    if not isinstance(normalize, bool | np.bool_):
        _fail_parameter(
            "normalize", "an instance of 'bool' or an instance of 'numpy.bool'", normalize
        )
    for name, value in (("sample_weight", sample_weight), ("labels", labels)):
        if value is not None and not _array_like(value):
            _fail_parameter(name, "an array-like or None", value)
    if y_proba is None:
        raise ValueError("Input contains NaN.")  # scikit-learn's check_array on None

    # y_proba: check_array (floating dtypes kept, others float64), then its range
    xp = namespace(y_proba)
    p = as_array(xp, y_proba)
    if not is_floating(xp, p.dtype):
        p = xp.astype(p, xp.float64)
    if p.ndim > 2:
        raise ValueError(f"Found array with dim {p.ndim}, while dim <= 2 is required.")
    shape = tuple(p.shape)
    if shape[0] == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required."
        )
    if p.ndim == 2 and shape[1] == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )
    host = to_numpy(p)
    _check_finite(host, "", p.dtype)
    if host.max() > 1:
        raise ValueError(f"y_prob contains values greater than 1: {host.max()}")
    if host.min() < 0:
        raise ValueError(f"y_prob contains values lower than 0: {host.min()}")
    lengths = [_num_samples(v) for v in (p, y_true, sample_weight) if v is not None]
    if len(set(lengths)) > 1:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: {lengths}")
    weight = None
    if sample_weight is not None:
        sw = np.asarray(to_numpy(sample_weight) if is_array(sample_weight) else sample_weight)
        if sw.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {sw.ndim}D array. Expected "
                f"either a scalar value or a 1D array of length {shape[0]}."
            )
        if sw.dtype.kind not in "fc":
            sw = sw.astype(np.float64)
        _check_finite(sw, "sample_weight", sw.dtype)
        if not np.any(sw):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        weight = sw

    targets, dense, classes = _encode_targets(y_true, labels)
    if p.ndim == 1:
        p = xp.reshape(p, (shape[0], 1))
    if p.shape[1] == 1:
        p = xp.concat([1 - p, p], axis=1)
    eps = float(np.finfo(_dtype_name(p.dtype)).eps)
    row_sums = to_numpy(xp.sum(p, axis=1))
    if not np.all(np.isclose(row_sums, 1, rtol=math.sqrt(eps))):
        warn(
            "The y_prob values do not sum to one. Make sure to pass probabilities.",
            UserWarning,
        )
    if classes.shape[0] != p.shape[1]:
        if labels is None:
            raise ValueError(
                "y_true and y_prob contain different number of classes: "
                f"{classes.shape[0]} vs {p.shape[1]}. Please provide the true labels "
                "explicitly through the labels argument. Classes found in y_true: "
                f"{classes}"
            )
        raise ValueError(
            "The number of classes in labels is different from that in y_prob. Classes "
            f"found in labels: {classes}"
        )

    # the loss: the family's cross entropy on the log of the clipped probabilities
    ct = compute_dtype(xp, p.dtype)
    logp = xp.log(xp.astype(xp.clip(p, min=eps, max=1 - eps), ct))
    if dense:
        t = xp.astype(as_array(xp, targets, like=logp), ct)
        losses, _ = _categorical.cross_entropy(xp, logp, dense=t, log_input=True)
    else:
        index = as_array(xp, targets.astype(np.int64), like=logp)
        losses, _ = _categorical.index_targets(xp, logp, index, log_input=True, reduction="none")
    if weight is None:
        total = xp.sum(losses)
        return float(total / losses.shape[0]) if normalize else float(total)
    w = xp.astype(as_array(xp, weight, like=logp), ct)
    total = xp.sum(losses * w)
    if not normalize:
        return float(total)
    scale = float(weight.sum())
    if scale == 0:
        raise ZeroDivisionError("Weights sum to zero, can't be normalized")
    return float(total) / scale
