"""Argument checks shared by every loss. Each raises with what is wrong and what to pass."""

from __future__ import annotations

import math
import operator
import warnings
from typing import Any

from ._array import Array, broadcasts_to, is_floating

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


def check_unit_interval(xp: Any, array: Array, name: str, valid: Array | None = None) -> None:
    """Every element (where `valid`) in [0, 1]; NaN fails too, as in PyTorch."""
    inside = (array >= 0) & (array <= 1)
    if valid is not None:
        inside = inside | ~valid
    if not bool(xp.all(inside)):
        bad = xp.reshape(array[~inside], (-1,))
        raise ValueError(
            f"all elements of {name} should be between 0 and 1, found {float(bad[0])}; "
            + (
                "pass probabilities (apply a sigmoid to logits, or use "
                "binary_cross_entropy_with_logits)"
                if name == "input"
                else "pass targets in [0, 1]"
            )
        )


# --------------------------------------------------------------------------- class indices


def check_ignore_index(value: Any, name: str = "ignore_index") -> int:
    """An integer (NumPy integers too), as PyTorch requires; bool and float are refused."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(
            f"{name} must be an int, got {type(value).__name__} {value!r}; pass the integer "
            "class index to skip"
        )
    return operator.index(value)


def check_integer(xp: Any, array: Array, name: str, hint: str) -> None:
    """Class indices: an integer dtype (bool is not one)."""
    if not xp.isdtype(array.dtype, "integral"):
        raise TypeError(f"{name} must hold integer class indices, got dtype {array.dtype}; {hint}")


def check_class_indices(
    xp: Any,
    target: Array,
    n_classes: int,
    valid: Array | None,
    ignore_index: int | None,
    ignore_name: str = "ignore_index",
) -> None:
    """Every index (where `valid`) in [0, n_classes); IndexError naming the first that is not.

    `target` may be floating (Keras labels): compared before any cast to integers.
    """
    inside = (target >= 0) & (target < n_classes)
    if valid is not None:
        inside = inside | ~valid
    if bool(xp.all(inside)):
        return
    outside = xp.reshape(xp.astype(~inside, xp.int32), (-1,))
    first = int(xp.argmax(outside))
    value = xp.reshape(target, (-1,))[first]
    value = int(value) if xp.isdtype(value.dtype, "integral") else float(value)
    skip = "" if ignore_index is None else f", or {ignore_index} ({ignore_name}) to skip one"
    raise IndexError(
        f"Target {value} is out of bounds for {n_classes} classes; pass class indices in "
        f"[0, {n_classes}){skip}"
    )


def check_class_weight(array: Array, n_classes: int, name: str = "weight") -> None:
    if tuple(array.shape) != (n_classes,):
        raise ValueError(
            f"{name} should be defined either for all {n_classes} classes or no classes but got "
            f"a {name} of shape {tuple(array.shape)}; pass a 1-D {name} of shape ({n_classes},) "
            "or None"
        )
