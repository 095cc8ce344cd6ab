"""Dask arrays through the NumPy kernels: a lazy graph of one kernel call per chunk.

For Dask arrays whose chunks are NumPy arrays, a family function with a kernel
(``KERNELS``) builds, without computing anything, a graph whose tasks run the
record's NumPy entry point on matching chunks of its arrays and options:

* ``'none'``: the chunks of the kernel's elementwise loss (and gradient).
* ``'sum'`` and ``'mean'``: each chunk's float64 sum and 'mean' denominator (the
  number of non-ignored elements; for the categorical kernel the sum of w_y over
  the non-ignored targets), reduced as float64 pairs, then one division (0 gives
  nan, as PyTorch and the reference). The gradient is the chunks' gradients of the
  sum divided by that global denominator (0 where it is 0 for the binary family,
  where every element is ignored; nan on every non-ignored position for the
  categorical one, PyTorch's).

The chunks are cut by the record's ``layout``: ``"elementwise"`` arrays are aligned
chunk by chunk (a weight or pos_weight broadcast along trailing axes, leading 1s
dropped, gets the chunks of those axes); ``"classes"`` arrays are rechunked so that
each chunk holds every class (one chunk along ``class_axis``), the targets follow
the positions' chunks, and a class weight goes whole to every task.

Whatever the kernels do not take is decided when the graph is built and runs the
reference: chunks that are not NumPy arrays (CuPy, masked arrays, sparse), dtypes,
shapes or broadcasts the NumPy kernel declines, unknown chunk sizes, empty arrays.
What can only be seen in the values (a non-finite class weight), or kernels turned
off between building and computing, runs the reference on that chunk instead.
The front ends' lazy value checks are in the graphs of the arrays handed in, so
they still raise when the result is computed.
"""

from __future__ import annotations

import functools
import importlib
import math
import operator
from typing import Any

import numpy as np

from ._ops import DECLINED, FLOATS, PARTIAL, Declined, Result


def _numpy_chunks(value: Any) -> bool:
    """A Dask array of plain NumPy chunks, of known size."""
    import dask.array as da

    return (
        isinstance(value, da.Array)
        and type(value._meta) is np.ndarray
        and not any(math.isnan(size) for size in value.shape)
    )


class _Reference:
    """The family function's reference, found by name when a task runs (picklable
    for distributed schedulers, which the undecorated function is not)."""

    def __init__(self, function: Any) -> None:
        self.module, self.name = function.__module__, function.__name__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(self.module), self.name).reference(*args, **kwargs)


def run(
    kernel: Any, reference: Any, arguments: dict[str, Any], need_grad: bool
) -> Result | Declined:
    """The lazy Result of ``kernel`` on Dask arrays, or DECLINED."""
    import dask.array as da

    reduction = arguments["reduction"]
    a, b = (arguments[name] for name in kernel.arrays)
    if reduction not in ("none", "sum", "mean") or not (_numpy_chunks(a) and _numpy_chunks(b)):
        return DECLINED
    if a.dtype not in FLOATS or a.size == 0:
        return DECLINED
    operands, constants = {}, {}
    for name in kernel.options:
        value = arguments[name]
        if name == "reduction":
            continue
        if isinstance(value, da.Array):
            if not _numpy_chunks(value) or value.dtype != a.dtype:
                return DECLINED
            operands[name] = value
        elif hasattr(value, "shape"):  # an array of another library
            return DECLINED
        else:
            constants[name] = value
    layout = _elementwise if kernel.layout == "elementwise" else _classes
    plan = layout(a, b, operands, constants)
    if plan is DECLINED:
        return DECLINED
    return _graph(kernel, _Reference(reference), plan, constants, reduction, need_grad)


class _Plan:
    """The blockwise arguments of one call: arrays with their index tuples, the
    loop (output) index, and the class axis to put back in the gradient's keys."""

    def __init__(
        self,
        arrays: list[tuple[str, Any, tuple[int, ...]]],
        loop: tuple[int, ...],
        class_axis: int | None,
    ) -> None:
        self.arrays, self.loop, self.class_axis = arrays, loop, class_axis


def _elementwise(a: Any, b: Any, operands: dict[str, Any], constants: dict[str, Any]) -> Any:
    if b.dtype != a.dtype or tuple(b.shape) != tuple(a.shape):
        return DECLINED
    index = tuple(range(a.ndim))
    arrays = [("", a, index), ("", b, index)]
    for name, operand in operands.items():
        dims = tuple(operand.shape)
        while dims and dims[0] == 1:
            dims = dims[1:]
        if len(dims) > a.ndim or (dims and tuple(a.shape[a.ndim - len(dims) :]) != dims):
            return DECLINED  # e.g. (C, 1, 1): the NumPy kernel declines it too
        operand = operand.reshape(dims) if dims != tuple(operand.shape) else operand
        arrays.append((name, operand, index[a.ndim - len(dims) :]))
    return _Plan(arrays, index, None)


def _classes(a: Any, b: Any, operands: dict[str, Any], constants: dict[str, Any]) -> Any:
    if a.ndim == 0 or b.dtype.kind not in "iu":
        return DECLINED
    axis = constants["class_axis"] % a.ndim
    c = a.shape[axis]
    if tuple(b.shape) != tuple(a.shape[:axis] + a.shape[axis + 1 :]):
        return DECLINED
    if any(operand.shape != (c,) for operand in operands.values()):
        return DECLINED
    index = tuple(range(a.ndim))
    loop = index[:axis] + index[axis + 1 :]
    arrays = [("", a.rechunk({axis: -1}), index), ("", b, loop)]
    arrays += [(name, operand.rechunk(-1), (axis,)) for name, operand in operands.items()]
    return _Plan(arrays, loop, axis)


def _block(
    kernel_run: Any,
    reference: Any,
    only_when: dict[str, Any],
    names: tuple[str, ...],
    constants: dict[str, Any],
    reduction: str,
    need_grad: bool,
    lead: int,
    a: np.ndarray,
    b: np.ndarray,
    *operands: np.ndarray,
) -> tuple[Any, Any]:
    """One task: the kernel on one chunk; (loss chunk or the float64 pair (sum,
    denominator) shaped (1,) * lead + (2,), gradient chunk or None)."""
    options = {**constants, **dict(zip(names, operands, strict=True))}
    wanted = "none" if reduction == "none" else PARTIAL
    result = kernel_run(a, b, **options, reduction=wanted, need_grad=need_grad)
    if result is DECLINED:  # values the kernel does not take: the reference, on this chunk
        import array_api_compat.numpy as xp

        loss, grad = reference(
            xp,
            a,
            b,
            **options,
            **only_when,
            reduction="none" if reduction == "none" else "sum",
            need_grad=need_grad,
        )
        if reduction != "none":
            loss = (float(loss), _denominator(b, options))
        result = Result(loss, grad)
    loss, grad = result
    if reduction != "none":
        loss = np.array(loss, np.float64).reshape((1,) * lead + (2,))
    return loss, grad


def _denominator(b: np.ndarray, options: dict[str, Any]) -> float:
    """A chunk's 'mean' denominator, for the reference's chunks: its non-ignored
    elements, or with a class weight the sum of w_y over them."""
    ignore = options.get("ignore_index")
    valid = np.ones(b.shape, bool) if ignore is None else b != ignore
    weight = options.get("weight") if "class_axis" in options else None
    if weight is None:
        return float(np.count_nonzero(valid))
    return float(np.sum(np.asarray(weight, np.float64)[b[valid]]))


def _finish(reduction: str, dtype: np.dtype, total: np.ndarray, denominator: np.ndarray) -> Any:
    total, denominator = float(total), float(denominator)
    if reduction == "sum":
        return np.asarray(total, dtype)
    return np.asarray(total / denominator if denominator else math.nan, dtype)


def _scale(
    class_axis: int | None, ignore_index: Any, grad: np.ndarray, denominator: Any, *target: Any
) -> Any:
    """A chunk's gradient of the sum as that of the mean (in place: the chunk is this
    graph's own). A zero denominator gives 0 (the binary family: everything is
    ignored) or, for the categorical family, nan on every non-ignored position."""
    denominator = float(denominator)
    if denominator:
        return np.divide(grad, denominator, out=grad)
    if class_axis is None:
        grad[...] = 0
        return grad
    (target,) = target  # with a length-1 class axis: broadcast along the classes
    grad[...] = np.where(target != ignore_index, math.nan, 0.0)
    return grad


def _leaf(tmp: Any, item: int, chunks: tuple[tuple[int, ...], ...], key: Any, meta: Any) -> Any:
    """Item `item` of each chunk of `tmp` (whose chunks are tuples) as a Dask array."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph

    name = f"{tmp.name}-{item}"
    layer = {(name, *key(k[1:])): (operator.getitem, k, item) for k in _keys(tmp)}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[tmp])
    return da.Array(graph, name, chunks=chunks, meta=meta)


def _keys(array: Any) -> list[Any]:
    from dask.core import flatten

    return list(flatten(array.__dask_keys__())) if array.ndim else [(array.name,)]


def _graph(
    kernel: Any,
    reference: Any,
    plan: _Plan,
    constants: dict[str, Any],
    reduction: str,
    need_grad: bool,
) -> Result:
    import dask.array as da

    a = plan.arrays[0][1]
    dtype = a.dtype
    names = tuple(name for name, _, _ in plan.arrays[2:])
    lead = len(plan.loop)
    block = functools.partial(
        _block,
        kernel.run,
        reference,
        dict(kernel.only_when),
        names,
        constants,
        reduction,
        need_grad,
        lead,
    )
    loss_meta = np.empty((0,) * lead, dtype if reduction == "none" else np.float64)
    grad_meta = np.empty((0,) * a.ndim, dtype)
    args = [item for _, array, index in plan.arrays for item in (array, index)]
    tmp = da.blockwise(
        block, plan.loop, *args, concatenate=True, meta=(loss_meta, grad_meta), token="xent-kernel"
    )
    axis = plan.class_axis
    if axis is None:
        grad_chunks, grad_key = tmp.chunks, tuple
    else:
        c = a.shape[axis]
        grad_chunks = (*tmp.chunks[:axis], (c,), *tmp.chunks[axis:])

        def grad_key(k: tuple[int, ...]) -> tuple[int, ...]:
            return (*k[:axis], 0, *k[axis:])

    grad = _leaf(tmp, 1, grad_chunks, grad_key, grad_meta) if need_grad else None
    if reduction == "none":
        return Result(_leaf(tmp, 0, tmp.chunks, tuple, loss_meta), grad)
    parts_chunks = (*((1,) * len(c) for c in tmp.chunks), (2,))
    parts = _leaf(tmp, 0, parts_chunks, lambda k: (*k, 0), np.empty((0,) * (lead + 1)))
    sums = parts.sum(axis=tuple(range(lead)), dtype=np.float64)
    total, denominator = sums[0], sums[1]
    meta = np.empty((), dtype)
    loss = da.map_blocks(
        functools.partial(_finish, reduction, dtype), total, denominator, dtype=dtype, meta=meta
    )
    if grad is not None and reduction == "mean":
        target = ()
        if axis is not None:
            b = plan.arrays[1][1].rechunk(tmp.chunks)
            target = (da.expand_dims(b, axis),)
        scale = functools.partial(_scale, axis, constants.get("ignore_index"))
        grad = da.map_blocks(scale, grad, denominator, *target, dtype=dtype, meta=grad_meta)
    return Result(loss, grad)
