"""Argument checks shared by every loss. Each raises with what is wrong and what to pass."""

from __future__ import annotations

import math
import warnings
from typing import Any

from ._array import Array, broadcasts_to, is_floating, is_traced, library, to_numpy

TORCH_REDUCTIONS = ("none", "mean", "sum")


def torch_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's reduction, legacy `size_average`/`reduce` included (they override it)."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        legacy = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(
            "size_average and reduce args will be deprecated, "
            f"please use reduction='{legacy}' instead.",
            UserWarning,
            stacklevel=3,
        )
        return legacy
    if reduction == "elementwise_mean":
        warnings.warn(
            "reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.",
            UserWarning,
            stacklevel=3,
        )
        return "mean"
    return check_choice("reduction", reduction, TORCH_REDUCTIONS)


def check_choice(name: str, value: Any, allowed: tuple[Any, ...]) -> Any:
    if not isinstance(value, str | type(None)) or value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{value!r} is not a valid value for {name}; pass one of {shown}")
    return value


def check_floating(xp: Any, array: Array, name: str) -> None:
    if not is_floating(xp, array.dtype):
        raise TypeError(
            f"{name} must be a floating-point array, got dtype {array.dtype}; "
            f"convert it first, e.g. {name}.astype(float32)"
        )


def check_real(xp: Any, array: Array, name: str) -> None:
    if not (is_floating(xp, array.dtype) or xp.isdtype(array.dtype, ("integral", "bool"))):
        raise TypeError(
            f"{name} must hold real numbers (floating, integer or bool), got dtype {array.dtype}"
        )


def check_same_shape(input: Array, target: Array, message: str) -> None:
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            message.format(target=tuple(target.shape), input=tuple(input.shape))
            + "; pass a target of the input's shape"
        )


def check_broadcasts_to(array: Array, shape: tuple[int, ...], name: str) -> None:
    if not broadcasts_to(tuple(array.shape), tuple(shape)):
        raise ValueError(
            f"{name} of shape {tuple(array.shape)} does not broadcast to the input's shape "
            f"{tuple(shape)}; pass a {name} whose trailing dimensions are 1 or equal to the "
            "input's (e.g. shape (C,) for input (N, C), (C, 1, 1) for input (N, C, H, W))"
        )


def check_label_smoothing(value: float) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:  # also rejects nan
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {value}")
    return value


def check_gamma(value: float) -> float:
    value = float(value)
    if not value >= 0.0:  # also rejects nan
        raise ValueError(f"gamma must be non-negative, got {value}; pass gamma >= 0")
    return value


def check_finite_number(value: float, name: str) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    return value


def _raise_outside_unit_interval(array: Any, name: str, valid: Any = None) -> None:
    """Raise (naming the first offending value) if any element where `valid` is outside [0, 1].

    Works on any array that converts to NumPy (a NumPy, torch or JAX array, a Dask block).
    """
    import numpy as np

    values = np.asarray(array)
    inside = (values >= 0) & (values <= 1)
    if valid is not None:
        inside |= ~np.asarray(valid)
    if not inside.all():
        bad = values[~inside].flat[0]
        hint = (
            "pass probabilities (apply a sigmoid to logits, or use "
            "binary_cross_entropy_with_logits)"
            if name == "input"
            else "pass targets in [0, 1]"
        )
        raise ValueError(f"all elements of {name} should be between 0 and 1, found {bad}; {hint}")


def check_unit_interval(xp: Any, array: Array, name: str, valid: Array | None = None) -> Array:
    """Every element (where `valid`) in [0, 1]; NaN fails too, as in PyTorch.

    Returns the array to use from here on: for Dask, the same array with the check
    inserted into its graph (it raises when computed: xent computes nothing); a JAX
    tracer (under jit) has no values to check and is returned as is.
    """
    if library(array) == "dask":
        import dask.array as da

        def checked(block: Any, *mask: Any) -> Any:
            _raise_outside_unit_interval(block, name, mask[0] if mask else None)
            return block

        extra = () if valid is None else (valid,)
        return da.map_blocks(checked, array, *extra, dtype=array.dtype, meta=array._meta)
    inside = (array >= 0) & (array <= 1)
    if valid is not None:
        inside = inside | ~valid
    all_inside = xp.all(inside)
    if is_traced(all_inside):  # under jax.jit even a concrete array gives a tracer here
        return array
    if not bool(all_inside):  # only now move values to the host, to name the offender
        _raise_outside_unit_interval(
            to_numpy(array), name, None if valid is None else to_numpy(valid)
        )
    return array
