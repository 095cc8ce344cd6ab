"""Compiled kernels, and the switch between them and the array-API reference.

The family functions of xent (``xent._binary``) are wrapped by
``accelerated(op)``: when the arrays are NumPy arrays (or CPU torch tensors that
need no autograd, viewed zero-copy as NumPy arrays), of a dtype and layout the
kernels take, and ``XENT_DISABLE_KERNELS`` is not set, one fused C pass computes
the loss and gradient; otherwise the reference runs. The reference stays
reachable as ``fn.reference`` and is the oracle of the kernel tests.

Both tables below are data: ``_OPS`` maps a family function to its NumPy kernel,
``_BACKENDS`` maps an array namespace to the conversions to and from NumPy.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from . import _ops, _state
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
    """``_categorical.torch_index_targets`` takes classes on the last axis: for (C,) and
    (N, C) logits that is the kernel's class axis too. nll_loss (log_input) and
    K-dimensional inputs (whose classes were moved last, not contiguous) run the reference.
    """
    if log_input or x.ndim not in (1, 2):
        return None
    return _ops.softmax_cross_entropy(x, y, **options)


# family function -> the kernel taking the same arrays and options, on NumPy arrays
_OPS: dict[str, Callable[..., Any]] = {
    "binary_cross_entropy_with_logits": functools.partial(_ops.binary, "bce_with_logits"),
    "binary_cross_entropy": functools.partial(_ops.binary, "bce_probs"),
    "sigmoid_focal_loss": functools.partial(_ops.binary, "sigmoid_focal"),
    "softmax_cross_entropy": _ops.softmax_cross_entropy,
    "torch_index_targets": _torch_index_targets,
}


# --------------------------------------------------------------------------- backends


class _NumPy:
    @staticmethod
    def to_numpy(value: Any) -> Any:
        return value

    @staticmethod
    def from_numpy(value: Any) -> Any:
        import numpy as np

        # a reduced loss is a 0-d array, as on the reference path (not a NumPy scalar)
        return np.asarray(value) if isinstance(value, np.generic) else value


class _Torch:
    """CPU tensors without autograd, shared with NumPy (no copy either way)."""

    @staticmethod
    def to_numpy(value: Any) -> Any:
        import torch

        if not isinstance(value, torch.Tensor):
            return value
        if (
            value.device.type != "cpu"
            or value.requires_grad
            or value.is_conj()
            or value.is_neg()
            or value.layout != torch.strided
        ):
            return _UNSUPPORTED
        try:
            return value.numpy()
        except (TypeError, RuntimeError):  # dtypes NumPy has not (bfloat16)
            return _UNSUPPORTED

    @staticmethod
    def from_numpy(value: Any) -> Any:
        import numpy as np
        import torch

        return None if value is None else torch.from_numpy(np.asarray(value))


_UNSUPPORTED = object()

_BACKENDS: dict[str, Any] = {
    "numpy": _NumPy,
    "array_api_compat.numpy": _NumPy,
    "array_api_compat.torch": _Torch,
}


def available() -> bool:
    """True when the compiled kernels are built and enabled."""
    return _state.extension() is not None


def isa() -> str | None:
    """The instruction set the kernels use (avx512, avx2, baseline), None without them."""
    ext = _state.extension()
    return None if ext is None else ext.isa()


def _run_kernel(op: str, arguments: dict[str, Any], arrays: list[str]) -> Any:
    """The kernel's (loss, grad) in xp's array type, or None to run the reference.
    `arrays` names the two array arguments, passed first; the others by name."""
    backend = _BACKENDS.get(getattr(arguments.pop("xp"), "__name__", ""))
    if backend is None:
        return None
    converted = {}
    for name, value in arguments.items():
        value = backend.to_numpy(value)
        if value is _UNSUPPORTED:
            return None
        converted[name] = value
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
                result = _run_kernel(op, arguments_of(args, kwargs), positional[1:3])
                if result is not None:
                    return result
            return reference(*args, **kwargs)

        dispatch.reference = reference  # type: ignore[attr-defined]
        return dispatch

    return decorate
