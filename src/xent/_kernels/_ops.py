"""The compiled kernels on NumPy arrays: validated arrays in, ``(loss, grad)`` out.

Each function returns ``None`` when the kernels cannot take the arguments (a
dtype or a broadcast pattern they do not handle); the caller then runs the
array-API reference. Non-contiguous arrays are copied first. Reductions come
back as NumPy scalars of the compute dtype, like ``numpy.sum``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _state

BINARY_OPS = {"bce_with_logits": 0, "bce_probs": 1, "sigmoid_focal": 2}

# A periodic operand shorter than this (weight of shape (C,) with a small C) is
# tiled so that the kernel walks long contiguous runs.
MIN_PERIOD = 4096

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


PAGE = 4096


def _empty(ext: Any, shape: tuple[int, ...], dtype: np.dtype, input: np.ndarray) -> np.ndarray:
    """An output array; large ones on memory recycled by the extension (already
    mapped: no page faults), released back to it when the array is gone.

    A large one starts half a page from `input` in address modulo 4096 (64-byte
    aligned): a load 4096 bytes from a pending store looks like its address to the
    CPU (4K aliasing) and waits, which a gradient written in step with its input at
    the same offset in the page cost the binary kernels about 10%.
    """
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < ext.CACHE_MIN_BYTES:
        return np.empty(shape, dtype)
    raw = np.frombuffer(ext.empty(nbytes + PAGE), np.uint8)
    want = (input.ctypes.data // 64 * 64 + PAGE // 2) % PAGE
    start = (want - raw.ctypes.data) % PAGE
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def _contiguous(a: np.ndarray) -> np.ndarray:
    return a if a.flags.c_contiguous else np.array(a, order="C")


def _supported_float(a: Any, dtype: np.dtype) -> bool:
    return isinstance(a, np.ndarray) and a.dtype == dtype and a.dtype.isnative


def _float_pair(x: Any, y: Any) -> Any:
    """The extension, when it is there and x and y are NumPy arrays of one float dtype
    it takes (float32, float64, native byte order) and of one shape; else None."""
    ext = _state.extension()
    if ext is None or not isinstance(x, np.ndarray) or x.dtype not in FLOATS:
        return None
    ok = _supported_float(x, x.dtype) and _supported_float(y, x.dtype) and y.shape == x.shape
    return ext if ok else None


def _periodic(operand: np.ndarray, shape: tuple[int, ...], n: int) -> tuple[np.ndarray, int] | None:
    """(values, period) such that the operand broadcast to `shape` has, at flat
    index i, values[i % period]: true when its shape (leading 1s dropped) is a
    suffix of `shape` (a scalar, (C,) along the last axis, the full shape...).
    None for other broadcasts (e.g. (C, 1, 1)), which the kernels do not take."""
    dims = tuple(operand.shape)
    while dims and dims[0] == 1:
        dims = dims[1:]
    if dims and tuple(shape[len(shape) - len(dims) :]) != dims:
        return None
    values = _contiguous(operand).reshape(-1)
    period = values.size
    if period < MIN_PERIOD and n > period:
        values = np.tile(values, min(-(-MIN_PERIOD // period), -(-n // period)))
        period = values.size
    return values, period


def _reduced(dtype: np.dtype, reduction: str, loss: Any, total: float, denominator: float) -> Any:
    if reduction == "none":
        return loss
    if reduction == "sum":
        return dtype.type(total)
    return dtype.type(total / denominator if denominator else math.nan)


def binary(
    op: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    pos_weight: np.ndarray | None = None,
    label_smoothing: float = 0.0,
    ignore_index: float | None = None,
    alpha: float = 0.25,
    gamma: float = 2.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Any, np.ndarray | None] | None:
    """One fused pass of a binary-family loss (see xent._binary for the math).

    'mean' divides by the number of elements, or of non-ignored elements with
    `ignore_index` (nan when there are none); the gradient is that of the
    returned loss (of its sum for 'none'). alpha and gamma (torchvision's
    defaults) are used by the focal loss only.
    """
    ext = _float_pair(x, y)
    if ext is None:
        return None
    dtype = x.dtype
    shape, n = tuple(x.shape), x.size
    operands = []
    for operand in (weight, pos_weight):
        if operand is None or n == 0:
            operands.append((None, 0))
            continue
        if not _supported_float(operand, dtype):
            return None
        periodic = _periodic(operand, shape, n)
        if periodic is None:
            return None
        operands.append(periodic)
    (w, w_period), (pw, pw_period) = operands
    x, y = _contiguous(x), _contiguous(y)
    loss = _empty(ext, shape, dtype, x) if reduction == "none" else None
    grad = _empty(ext, shape, dtype, x) if need_grad else None
    total, count = ext.binary(
        BINARY_OPS[op],
        x,
        y,
        w,
        w_period,
        pw,
        pw_period,
        loss,
        grad,
        ignore_index is not None,
        0.0 if ignore_index is None else float(ignore_index),
        float(label_smoothing),
        float(alpha),
        float(gamma),
        reduction == "mean",
        _state.get_num_threads(),
    )
    return _reduced(dtype, reduction, loss, total, count), grad


class BinaryTotals(NamedTuple):
    """The float64 sums of :func:`binary_totals` (w = 1 without a weight)."""

    loss: float  # sum of w l
    weight: float  # sum of w: the number of elements without a weight
    weighted_labels: float  # sum of w y
    labels: float  # sum of y
    weighted_predictions: float  # sum of w p


def binary_totals(
    op: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    pos_weight: float | None = None,
    label_smoothing: float = 0.0,
    alpha: float = 0.25,
    gamma: float = 2.0,
    per_row: bool = False,
) -> tuple[BinaryTotals, np.ndarray | None] | None:
    """The sums that score predictions, in one pass: what ``xent eval`` reports.

    With l each element's loss (unweighted; `pos_weight` a number, logits only;
    `label_smoothing` applied to the targets of every op, focal included; the
    focal loss takes `alpha` and `gamma`), p the predicted probability (sigmoid(x)
    for 'bce_with_logits' and 'sigmoid_focal', x for 'bce_probs'), y the target as
    given and w the weight (same shape as x; 1 without it): the float64 sums of w l,
    w, w y, y and w p. Each product is rounded to x's dtype, then added in float64
    (with compensation for float64) in fixed blocks whose sums are combined with
    compensation in block order: bitwise the same for any number of threads. With
    `per_row`, also w l for each element (x's shape and dtype), else None.

    Returns None when the kernels are not built or disabled, or for dtypes they
    do not take (the caller then computes the sums with the reference).
    """
    ext = _float_pair(x, y)
    if ext is None:
        return None
    dtype = x.dtype
    if weight is not None and (not _supported_float(weight, dtype) or weight.shape != x.shape):
        return None
    shape, n = tuple(x.shape), x.size
    pw = None if pos_weight is None or n == 0 else np.full(min(n, MIN_PERIOD), pos_weight, dtype)
    x, y = _contiguous(x), _contiguous(y)
    weight = None if weight is None else _contiguous(weight)
    loss = _empty(ext, shape, dtype, x) if per_row else None
    sums = ext.eval(
        BINARY_OPS[op],
        x,
        y,
        weight,
        pw,
        0 if pw is None else pw.size,
        loss,
        float(label_smoothing),
        float(alpha),
        float(gamma),
        _state.get_num_threads(),
    )
    return BinaryTotals(*sums), loss


def softmax_cross_entropy(
    input: np.ndarray,
    target: np.ndarray,
    *,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> tuple[Any, np.ndarray | None] | None:
    r"""Softmax cross-entropy with class-index targets, as ``torch.nn.functional.cross_entropy``,
    in one pass over the logits (loss and, with `need_grad`, its gradient).

    input: logits (C,), (N, C) or (N, C, d1, ..., dK), float32 or float64; the
    class axis is 1 (0 for a 1-D input). target: integer class indices of shape
    (), (N,) or (N, d1, ..., dK). weight: (C,) or None. With ls = label_smoothing,
    W = sum_c w_c and logp = log_softmax(input) along the class axis:

    .. math:: \ell = (1 - ls)\,(-w_t \log p_t) + \frac{ls}{C}\,(-\sum_c w_c \log p_c)

    and 0 where target == ignore_index. 'mean' divides the sum by
    sum of w_t over the non-ignored targets (their number without weight; nan
    when there are none), 'sum' sums, 'none' returns one loss per target. The
    gradient (with `need_grad`) is d(loss)/d(input) (of the sum for 'none'); it is
    0 on ignored rows, and nan on the others when the 'mean' denominator is 0 (as
    PyTorch's).

    Raises IndexError("Target 7 is out of bounds.") for a target outside
    [0, C) other than ignore_index. Returns None when the kernels are not built,
    or for dtypes or layouts they do not take (the caller then runs the
    reference).
    """
    ext = _state.extension()
    dtype = input.dtype
    if ext is None or dtype not in FLOATS or not _supported_float(input, dtype):
        return None
    if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
        return None
    if weight is not None and (not _supported_float(weight, dtype) or weight.ndim != 1):
        return None
    shape = tuple(input.shape)
    if len(shape) == 0:
        return None
    n, c = (1, shape[0]) if len(shape) == 1 else (shape[0], shape[1])
    target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    if tuple(target.shape) != target_shape or (weight is not None and weight.shape != (c,)):
        return None
    s = math.prod(shape[2:])
    if target.dtype not in (np.dtype(np.int32), np.dtype(np.int64)) or not target.dtype.isnative:
        target = target.astype(np.int64)
    input, target = _contiguous(input), _contiguous(target)
    weight = None if weight is None else _contiguous(weight)
    loss = _empty(ext, target_shape, dtype, input) if reduction == "none" else None
    grad = _empty(ext, shape, dtype, input) if need_grad else None
    total, denominator = ext.softmax(
        input,
        target,
        weight,
        loss,
        grad,
        n,
        c,
        s,
        int(ignore_index),
        float(label_smoothing),
        reduction == "mean",
        _state.get_num_threads(),
    )
    return _reduced(dtype, reduction, loss, total, denominator), grad
