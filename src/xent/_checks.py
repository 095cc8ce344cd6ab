"""Argument checks shared by every loss. Each raises with what is wrong and what to pass."""

from __future__ import annotations

import math
import operator
import sys
import warnings
from collections.abc import Callable
from typing import Any, NoReturn

from ._array import (
    Array,
    broadcasts_to,
    host_view,
    is_floating,
    is_meta,
    is_traced,
    library,
    numel,
    to_numpy,
)

TORCH_REDUCTIONS = ("none", "mean", "sum")

# frames skipped when a warning names its caller: xent's own, and torch's Module.__call__
_INTERNAL_MODULES = ("xent.", "torch.nn.modules.module")


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn`` attributed to the user's line: the first frame outside xent
    (and outside torch's Module call machinery), however deep the call came from."""
    frame, level = sys._getframe(1), 2
    while frame is not None and (frame.f_globals.get("__name__", "") + ".").startswith(
        _INTERNAL_MODULES
    ):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def legacy_reduction(size_average: bool | None, reduce: bool | None) -> str:
    """PyTorch's reduction for its deprecated `size_average`/`reduce` (None counts as True),
    with its warning."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    legacy = "mean" if size_average and reduce else "sum" if reduce else "none"
    warn(
        f"size_average and reduce args will be deprecated, please use reduction='{legacy}' instead."
    )
    return legacy


def torch_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """PyTorch's reduction, legacy `size_average`/`reduce` included (they override it)."""
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce)
    if reduction == "elementwise_mean":
        warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead.")
        return "mean"
    return check_choice("reduction", reduction, TORCH_REDUCTIONS)


KL_DIV_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release."
)
KL_DIV_REDUCTIONS = ("none", "batchmean", "sum", "mean")


def kl_div_reduction(
    size_average: bool | None, reduce: bool | None, reduction: str
) -> tuple[str, bool]:
    """PyTorch's ``kl_div`` reductions: (the reduction to apply, whether to divide the
    result by the batch size).

    'batchmean' is 'sum' then the division. Legacy `size_average`/`reduce` override
    `reduction` (with their warning) but, as in PyTorch, a `reduction='batchmean'`
    passed with them still divides the legacy result by the batch size. 'mean' warns
    (PyTorch's UserWarning: it is not the KL divergence); 'elementwise_mean' is 'mean'
    with the deprecation warning, and not the KL one.
    """
    batchmean = isinstance(reduction, str) and reduction == "batchmean"
    if size_average is not None or reduce is not None:
        return legacy_reduction(size_average, reduce), batchmean
    if batchmean:
        return "sum", True
    if isinstance(reduction, str) and reduction == "mean":
        warn(KL_DIV_MEAN_WARNING)
        return "mean", False
    if not (isinstance(reduction, str) and reduction == "elementwise_mean"):
        check_choice("reduction", reduction, KL_DIV_REDUCTIONS)
    return torch_reduction(None, None, reduction), False


def check_bool(value: Any, name: str) -> bool:
    """A bool (NumPy's too), as PyTorch's argument parser wants: TypeError otherwise."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise TypeError(
            f"{name} must be a bool, got {type(value).__name__} {value!r}; pass True or False"
        )
    return bool(value)


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


def check_values(
    xp: Any,
    array: Array,
    ok: Callable[[Any, Any], Any],
    fail: Callable[[Any, Any], NoReturn],
    valid: Array | Callable[[Any, Any], Any] | None = None,
) -> Array:
    """A value-dependent check, on every backend: ``ok(module, values)`` is True where an
    element is fine (positions not ``valid`` are not checked); otherwise ``fail(values,
    good)`` raises, given NumPy copies, to name the first offender. ``valid`` is a mask
    of the array's shape, or a function ``valid(module, values)`` giving it (for NumPy
    arrays and CPU tensors, evaluated only when a value fails ``ok``).

    Returns the array to use from here on: for Dask, the same array with the check
    inserted into its graph (it raises when computed: xent computes nothing); under
    ``jax.jit`` and for torch meta tensors there are no values to check and the array
    is returned as is.
    """
    import numpy as np

    def numpy_check(values: Any, mask: Any = None) -> None:
        values = np.asarray(values)
        good = np.asarray(ok(np, values))
        if good.all():  # the common case: no need of the mask
            return
        if mask is not None:
            good = good | ~(mask(np, values) if callable(mask) else to_numpy(mask))
        if not good.all():
            fail(values, good)

    if library(array) == "dask":
        import dask.array as da

        if callable(valid):
            valid = valid(xp, array)

        def checked(block: Any, *mask: Any) -> Any:
            numpy_check(block, *mask)
            return block

        extra = () if valid is None else (valid,)
        return da.map_blocks(checked, array, *extra, dtype=array.dtype, meta=array._meta)
    if is_meta(array):  # torch meta tensors: shapes and dtypes only, no values
        return array
    host = host_view(array)
    if host is not None:
        # NumPy arrays and CPU tensors (through their NumPy views): a NumPy operation
        # on a small array costs a fraction of a torch one
        numpy_check(host, valid)
        return array
    if callable(valid):
        valid = valid(xp, array)
    good = ok(xp, array)
    if valid is not None:
        good = good | ~valid
    all_good = xp.all(good)
    if is_traced(all_good):  # under jax.jit even a concrete array gives a tracer here
        return array
    if not bool(all_good):  # only now move values to the host, to name the offender
        numpy_check(to_numpy(array), None if valid is None else to_numpy(valid))
    return array


def check_unit_interval(xp: Any, array: Array, name: str, valid: Array | None = None) -> Array:
    """Every element (where `valid`) in [0, 1]; NaN fails too, as in PyTorch."""

    def fail(values: Any, good: Any) -> NoReturn:
        hint = (
            "pass probabilities (apply a sigmoid to logits, or use "
            "binary_cross_entropy_with_logits)"
            if name == "input"
            else "pass targets in [0, 1]"
        )
        bad = values[~good].flat[0]
        raise ValueError(f"all elements of {name} should be between 0 and 1, found {bad}; {hint}")

    return check_values(xp, array, lambda m, a: (a >= 0) & (a <= 1), fail, valid)


def check_unit_intervals(xp: Any, checks: list[tuple[Array, str, Array | None]]) -> list[Array]:
    """:func:`check_unit_interval` of each ``(array, name, valid)``, reading one value back
    from the device for all of them (torch, NumPy: each array's min and max, or its
    masked test, reduced on the device to one bool): the one host synchronisation of
    ``binary_cross_entropy``, as PyTorch's own range check of the input. Where that
    bool is False (or another library), each array is checked on its own, to raise."""
    arrays = [array for array, _, _ in checks]
    if all(library(a) in ("torch", "numpy") and not is_meta(a) for a in arrays):
        good = None
        for array, _, valid in checks:
            if valid is None and numel(tuple(array.shape)):
                ok = (xp.min(array) >= 0) & (xp.max(array) <= 1)
            else:
                inside = (array >= 0) & (array <= 1)
                ok = xp.all(inside if valid is None else inside | ~valid)
            good = ok if good is None else good & ok
        if good is None or bool(good):  # the one read back
            return arrays
    return [check_unit_interval(xp, array, name, valid) for array, name, valid in checks]


# --------------------------------------------------------------------------- class indices


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def check_ignore_index(value: Any, name: str = "ignore_index") -> int:
    """An integer (NumPy integers too) in int64's range, as PyTorch requires; bool and
    float are refused (TypeError), as is a value outside int64 (ValueError: PyTorch
    raises an overflow there, the kernels could not take it)."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(
            f"{name} must be an int, got {type(value).__name__} {value!r}; pass the integer "
            "class index to skip"
        )
    index = operator.index(value)
    if not INT64_MIN <= index <= INT64_MAX:
        raise ValueError(
            f"{name}={index} is outside the range of int64 [{INT64_MIN}, {INT64_MAX}]; pass "
            "the class index to skip (e.g. -100)"
        )
    return index


def check_integer(xp: Any, array: Array, name: str, hint: str) -> None:
    """Class indices: an integer dtype (bool is not one)."""
    if not xp.isdtype(array.dtype, "integral"):
        raise TypeError(f"{name} must hold integer class indices, got dtype {array.dtype}; {hint}")


def check_class_indices(
    xp: Any,
    target: Array,
    n_classes: int,
    valid: Array | Callable[[Any, Any], Any] | None,
    ignore_index: int | None,
    ignore_name: str = "ignore_index",
) -> Array:
    """Every index (where `valid`, a mask or a function of (module, target) giving it: see
    `check_values`) in [0, n_classes); IndexError naming the first that is not.

    `target` may be floating (Keras labels): compared before any cast to integers.
    Returns the target to use from here on (see `check_values`).
    """

    def fail(values: Any, good: Any) -> NoReturn:
        bad = values[~good].flat[0]
        bad = bad.item() if values.dtype.kind in "iub" else float(bad)
        skip = "" if ignore_index is None else f", or {ignore_index} ({ignore_name}) to skip one"
        raise IndexError(
            f"Target {bad} is out of bounds for {n_classes} classes; pass class indices in "
            f"[0, {n_classes}){skip}"
        )

    return check_values(xp, target, lambda m, a: (a >= 0) & (a < n_classes), fail, valid)


def check_class_weight(array: Array, n_classes: int, name: str = "weight") -> None:
    if tuple(array.shape) != (n_classes,):
        raise ValueError(
            f"{name} should be defined either for all {n_classes} classes or no classes but got "
            f"a {name} of shape {tuple(array.shape)}; pass a 1-D {name} of shape ({n_classes},) "
            "or None"
        )
