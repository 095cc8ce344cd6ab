"""The compiled kernels on NumPy arrays: validated arrays in, a :class:`Result` out.

Each function returns ``DECLINED`` when the kernels cannot take the arguments (not
built or disabled, a dtype, layout or broadcast pattern they do not handle); the
caller then runs the array-API reference. Non-contiguous arrays are copied first.
Reductions come back as NumPy scalars of the compute dtype, like ``numpy.sum``.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from . import _state


class Result(NamedTuple):
    """What a kernel computed: the (reduced) loss, and its gradient or None."""

    loss: Any
    grad: Any


class Declined:
    """The kernels do not take these arguments: the reference runs instead."""

    _instance: Declined | None = None

    def __new__(cls) -> Declined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "DECLINED"

    def __bool__(self) -> bool:
        raise TypeError("compare a kernel outcome with `is DECLINED`, not by its truth")


DECLINED = Declined()

# The reduction of one chunk of a larger array (the Dask bridge's): the loss comes back
# as (float64 sum, float64 'mean' denominator), unrounded, and the gradient is that of
# the sum; the caller adds the chunks' pairs and divides once.
PARTIAL = "partial"

# A periodic operand shorter than this (weight of shape (C,) with a small C) is
# tiled so that the kernel walks long contiguous runs.
MIN_PERIOD = 4096

FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# NumPy has no bfloat16: a bfloat16 array (a torch tensor's memory, from the torch
# bridge) is its 16-bit patterns under this one-field dtype, which no other array has.
BFLOAT16 = np.dtype([("bfloat16", np.uint16)])
# the half dtypes the kernels read and write as they are (computed in float32), and
# the extension's code for each (its `half` argument)
HALVES = {BFLOAT16: 1, np.dtype(np.float16): 2}
KERNEL_DTYPES = (*FLOATS, *HALVES)


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


def _half_code(dtype: np.dtype) -> int:
    """The extension's storage code: 0 for float32/float64, 1 bfloat16, 2 float16."""
    return HALVES.get(dtype, 0)


def _raw(a: np.ndarray | None) -> np.ndarray | None:
    """What the extension reads: a bfloat16 array as its uint16 bits (the buffer
    protocol has no format for it), the rest as they are."""
    return a.view(np.uint16) if a is not None and a.dtype == BFLOAT16 else a


def bfloat16_bits(value: float) -> int:
    """The bfloat16 nearest to `value` (ties to even), as its 16 bits: rounded once,
    through float32 rounded to odd."""
    with np.errstate(over="ignore"):
        f = np.float32(value)
    bits = int(f.view(np.uint32))
    if np.isnan(f):
        return (bits >> 16) | 0x40
    if np.isfinite(f) and float(f) != value:  # round to odd: toward zero, last bit set
        bits = (bits - 1 if abs(float(f)) > abs(value) else bits) | 1
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def _float_values(a: np.ndarray) -> np.ndarray:
    """A small array's values as floats (bfloat16 widened to float32)."""
    if a.dtype != BFLOAT16:
        return a
    return (a.view(np.uint16).astype(np.uint32) << 16).view(np.float32)


def _binary_op(ext: Any, op: str) -> int:
    """The extension's number for a binary loss (its table: csrc/xent_ops.h)."""
    return ext.BINARY_OPS[op]


def _float_pair(x: Any, y: Any) -> Any:
    """The extension, when it is there and x and y are NumPy arrays of one float dtype
    it takes (float32, float64, native byte order; bfloat16 and float16, read as they
    are) and of one shape; else None."""
    ext = _state.extension()
    if ext is None or not isinstance(x, np.ndarray) or x.dtype not in KERNEL_DTYPES:
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
    """The loss as the caller gets it: rounded once from the float64 sum (or mean) to
    the dtype (a 0-d array for bfloat16, a NumPy scalar otherwise)."""
    if reduction == "none":
        return loss
    if reduction == PARTIAL:
        return float(total), float(denominator)
    value = total if reduction == "sum" else total / denominator if denominator else math.nan
    if dtype == BFLOAT16:
        return np.array(bfloat16_bits(value), np.uint16).view(BFLOAT16)
    return dtype.type(value)


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
) -> Result | Declined:
    """One fused pass of a binary-family loss (see xent._binary for the math).

    'mean' divides by the number of elements, or of non-ignored elements with
    `ignore_index` (nan when there are none); the gradient is that of the
    returned loss (of its sum for 'none'). alpha and gamma (torchvision's
    defaults) are used by the focal loss only. ``reduction=PARTIAL`` returns
    (float64 sum, that denominator) and the gradient of the sum (one chunk of a
    Dask array).
    """
    ext = _float_pair(x, y)
    if ext is None:
        return DECLINED
    dtype = x.dtype
    shape, n = tuple(x.shape), x.size
    operands = [(None, 0), (None, 0)]
    for i, operand in enumerate((weight, pos_weight)):
        if operand is None or n == 0:
            continue
        if not _supported_float(operand, dtype):
            return DECLINED
        periodic = _periodic(operand, shape, n)
        if periodic is None:
            return DECLINED
        operands[i] = periodic
    (w, w_period), (pw, pw_period) = operands
    x, y = _contiguous(x), _contiguous(y)
    loss = _empty(ext, shape, dtype, x) if reduction == "none" else None
    grad = _empty(ext, shape, dtype, x) if need_grad else None
    total, count = ext.binary(
        _binary_op(ext, op),
        _raw(x),
        _raw(y),
        _raw(w),
        w_period,
        _raw(pw),
        pw_period,
        _raw(loss),
        _raw(grad),
        ignore_index is not None,
        0.0 if ignore_index is None else float(ignore_index),
        float(label_smoothing),
        float(alpha),
        float(gamma),
        reduction == "mean",
        _state.get_num_threads(),
        _half_code(dtype),
    )
    return Result(_reduced(dtype, reduction, loss, total, count), grad)


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
) -> tuple[BinaryTotals, np.ndarray | None] | Declined:
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

    Returns DECLINED when the kernels are not built or disabled, or for dtypes they
    do not take (the caller then computes the sums with the reference).
    """
    ext = _float_pair(x, y)
    if ext is None or x.dtype not in FLOATS:  # no evaluation kernels for the halves
        return DECLINED
    dtype = x.dtype
    if weight is not None and (not _supported_float(weight, dtype) or weight.shape != x.shape):
        return DECLINED
    shape, n = tuple(x.shape), x.size
    pw = None if pos_weight is None or n == 0 else np.full(min(n, MIN_PERIOD), pos_weight, dtype)
    x, y = _contiguous(x), _contiguous(y)
    weight = None if weight is None else _contiguous(weight)
    loss = _empty(ext, shape, dtype, x) if per_row else None
    sums = ext.eval(
        _binary_op(ext, op),
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
    class_axis: int = 1,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
    need_grad: bool = False,
) -> Result | Declined:
    r"""Softmax cross-entropy with class-index targets, as ``torch.nn.functional.cross_entropy``,
    in one pass over the logits (loss and, with `need_grad`, its gradient).

    input: logits, float32 or float64 (or bfloat16 / float16, read and written as they
    are, computed in float32), classes on ``class_axis`` (PyTorch's axis 1
    by default; 0 for a 1-D input): (C,), (N, C) or (N, C, d1, ..., dK), or any
    layout, such as Keras' and tf.nn's classes last. target: integer class indices
    of the input's shape without the class axis. weight: (C,) or None. With ls =
    label_smoothing, W = sum_c w_c and logp = log_softmax(input) along the class axis:

    .. math:: \ell = (1 - ls)\,(-w_t \log p_t) + \frac{ls}{C}\,(-\sum_c w_c \log p_c)

    and 0 where target == ignore_index. 'mean' divides the sum by
    sum of w_t over the non-ignored targets (their number without weight; nan
    when there are none), 'sum' sums, 'none' returns one loss per target, and
    ``PARTIAL`` the float64 pair (sum, that denominator) with the gradient of the sum. The
    gradient (with `need_grad`) is d(loss)/d(input) in the input's layout (of the
    sum for 'none'); it is 0 on ignored rows, and nan on the others when the 'mean'
    denominator is 0 (as PyTorch's).

    The kernel walks (N, C, S) blocks: PyTorch's layout is one as it is, classes
    last is (positions, C) rows (no copy when contiguous), any other class axis is
    moved to 1 (a copy) and the gradient moved back.

    Raises IndexError("Target 7 is out of bounds.") for a target outside
    [0, C) other than ignore_index. Returns DECLINED when the kernels are not built,
    for dtypes they do not take, or for a weight with an infinite or nan value (the
    caller then runs the reference).
    """
    ext = _state.extension()
    dtype = input.dtype
    if ext is None or dtype not in KERNEL_DTYPES or not _supported_float(input, dtype):
        return DECLINED
    if not isinstance(target, np.ndarray) or target.dtype.kind not in "iu":
        return DECLINED
    if weight is not None and (not _supported_float(weight, dtype) or weight.ndim != 1):
        return DECLINED
    if weight is not None and not np.isfinite(_float_values(weight)).all():
        # the kernel's one pass sums w_c (x_c - max) and W lse apart: an infinite
        # weight gives inf - inf there, where the reference's w_c log p_c is inf
        return DECLINED
    shape = tuple(input.shape)
    if len(shape) == 0:
        return DECLINED
    axis = class_axis % len(shape)
    c = shape[axis]
    target_shape = shape[:axis] + shape[axis + 1 :]
    if tuple(target.shape) != target_shape or (weight is not None and weight.shape != (c,)):
        return DECLINED
    if axis == min(1, len(shape) - 1):  # PyTorch's (C,), (N, C, d1, ..., dK)
        blocks, restore = input, None
    elif axis == len(shape) - 1:  # classes last: rows
        blocks, restore = _contiguous(input).reshape(math.prod(shape[:-1]), c), "rows"
    else:
        blocks, restore = np.moveaxis(input, axis, 1), "moved"
    n = 1 if blocks.ndim == 1 else blocks.shape[0]
    s = math.prod(blocks.shape[2:])
    if target.dtype not in (np.dtype(np.int32), np.dtype(np.int64)) or not target.dtype.isnative:
        target = target.astype(np.int64)
    blocks, target = _contiguous(blocks), _contiguous(target)
    weight = None if weight is None else _contiguous(weight)
    loss = _empty(ext, target_shape, dtype, blocks) if reduction == "none" else None
    grad = _empty(ext, blocks.shape, dtype, blocks) if need_grad else None
    total, denominator = ext.softmax(
        _raw(blocks),
        target,
        _raw(weight),
        _raw(loss),
        _raw(grad),
        n,
        c,
        s,
        int(ignore_index),
        float(label_smoothing),
        reduction == "mean",
        _state.get_num_threads(),
        _half_code(dtype),
    )
    if grad is not None and restore == "rows":
        grad = grad.reshape(shape)
    elif grad is not None and restore == "moved":
        grad = np.moveaxis(grad, 1, axis)
    return Result(_reduced(dtype, reduction, loss, total, denominator), grad)
