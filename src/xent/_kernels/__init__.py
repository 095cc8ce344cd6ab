"""Compiled kernels, and the switch between them and the array-API reference.

The family functions of xent (``xent._binary``) are wrapped by
``accelerated(op)``: when the arrays are NumPy arrays (or CPU torch tensors,
viewed zero-copy as NumPy arrays, autograd included), of a dtype and layout the
kernels take, and ``XENT_DISABLE_KERNELS`` is not set, one fused C pass computes
the loss and gradient; otherwise the reference runs. The reference stays
reachable as ``fn.reference`` and is the oracle of the kernel tests.

Both tables are data: ``_OPS`` below maps a family function to its NumPy kernel,
``_backends.BACKENDS`` maps an array namespace to the conversions to and from
NumPy (and, for torch, to autograd).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _ops, _state
from ._backends import BACKENDS
from ._ops import softmax_cross_entropy
from ._state import get_num_threads, set_num_threads

__all__ = [
    "accelerated",
    "available",
    "get_num_threads",
    "isa",
    "set_num_threads",
    "softmax_cross_entropy",
]


def _torch_index_targets(x: Any, y: Any, *, log_input: bool, **options: Any) -> Any:
    """``_categorical.torch_index_targets`` takes classes on the last axis; the kernel
    takes (N, C) rows or PyTorch's (N, C, d1, ..., dK). Positions with their classes
    contiguous (any (..., C) array laid out classes last, as Keras and tf.nn have them)
    are (N, C) rows, without a copy. A K-dimensional PyTorch input arrives as a view
    with its classes moved last: moved back, it is the caller's array again (no copy
    when that was contiguous), and so is the gradient the kernel writes, returned as a
    view with the classes last. nll_loss (log_input) runs the reference.
    """
    if log_input:
        return None
    if x.ndim <= 2:
        result = _ops.softmax_cross_entropy(x, y, **options)
    elif x.flags.c_contiguous and isinstance(y, np.ndarray):
        positions = y.size
        result = _ops.softmax_cross_entropy(
            x.reshape(positions, x.shape[-1]), y.reshape(positions), **options
        )
        if result is not None:
            loss, grad = result
            loss = loss.reshape(y.shape) if loss.ndim else loss
            result = loss, None if grad is None else grad.reshape(x.shape)
    else:
        result = _ops.softmax_cross_entropy(np.moveaxis(x, -1, 1), y, **options)
        if result is not None:
            loss, grad = result
            result = loss, None if grad is None else np.moveaxis(grad, 1, -1)
    return result


# family function -> the kernel taking the same arrays and options, on NumPy arrays
_OPS: dict[str, Callable[..., Any]] = {
    "binary_cross_entropy_with_logits": functools.partial(_ops.binary, "bce_with_logits"),
    "binary_cross_entropy": functools.partial(_ops.binary, "bce_probs"),
    "sigmoid_focal_loss": functools.partial(_ops.binary, "sigmoid_focal"),
    "softmax_cross_entropy": _ops.softmax_cross_entropy,
    "torch_index_targets": _torch_index_targets,
}


def available() -> bool:
    """True when the compiled kernels are built and enabled."""
    return _state.extension() is not None


def isa() -> str | None:
    """The instruction set the kernels use (avx512, avx2, baseline), None without them."""
    ext = _state.extension()
    return None if ext is None else ext.isa()


def _run_kernel(
    op: str, reference: Callable[..., Any], arguments: dict[str, Any], arrays: list[str]
) -> Any:
    """The kernel's (loss, grad) in xp's array type, or None to run the reference.
    `arrays` names the two array arguments, passed first; the others by name."""
    backend = BACKENDS.get(getattr(arguments["xp"], "__name__", ""))
    if backend is None or not backend.usable():
        return None
    first = arrays[0]
    if not backend.watched(arguments[first]):
        return _compute(op, backend, arguments, arrays)
    # autograd watches the input: the kernel's gradient becomes its backward, unless
    # a gradient is asked for too (value_and_grad then returns the reference's, which
    # has a history) or another argument needs one (a weight or target, say)
    if arguments["need_grad"] or any(
        backend.watched(value) for name, value in arguments.items() if name != first
    ):
        return None
    return backend.with_autograd(
        lambda x: _compute(op, backend, {**arguments, first: x, "need_grad": True}, arrays),
        reference,
        arguments,
        first,
    )


def _compute(op: str, backend: Any, arguments: dict[str, Any], arrays: list[str]) -> Any:
    converted = backend.arguments_to_numpy(arguments)
    if converted is None:
        return None
    first, second = (converted.pop(name) for name in arrays)
    result = _OPS[op](first, second, **converted)
    if result is None:
        return None
    loss, grad = result
    return backend.from_numpy(loss), backend.from_numpy(grad)


def accelerated(op: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run `op`'s compiled kernel when it can take the arguments, else the decorated
    reference ``reference(xp, a, b, **options)`` (kept as ``.reference``)."""

    def decorate(reference: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(reference)
        names = set(signature.parameters)
        positional = [
            p.name
            for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        defaults = {
            p.name: p.default for p in signature.parameters.values() if p.default is not p.empty
        }

        def arguments_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            """All arguments by name, defaults included (inspect's bind is 10 us slower)."""
            arguments = {**defaults, **dict(zip(positional, args, strict=False)), **kwargs}
            if len(args) > len(positional) or arguments.keys() != names:
                bound = signature.bind(*args, **kwargs)  # raises the usual TypeError
                bound.apply_defaults()
                arguments = dict(bound.arguments)
            return arguments

        @functools.wraps(reference)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            if _state.extension() is not None:
                result = _run_kernel(op, reference, arguments_of(args, kwargs), positional[1:3])
                if result is not None:
                    return result
            return reference(*args, **kwargs)

        dispatch.reference = reference  # type: ignore[attr-defined]
        return dispatch

    return decorate
