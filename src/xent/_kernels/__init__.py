"""Compiled kernels, and the one seam between them and the family math.

The family functions of xent (``xent._binary``, ``xent._categorical``) are written
against the array API; those with a compiled kernel are decorated with
``@accelerated(name)``. ``KERNELS`` below is the table behind that decorator: one
typed :class:`Kernel` record per family function, saying which of its arguments
are the two arrays, which options the kernel takes, and when it applies at all.
At each call, when the arrays are NumPy arrays or CPU torch tensors (viewed
zero-copy as NumPy arrays, autograd included) and ``XENT_DISABLE_KERNELS`` is not
set, the record's ``run`` computes the loss and gradient in one fused C pass and
returns a :class:`Result` (for Dask arrays of NumPy chunks, a lazy graph of one
such pass per chunk); when it cannot take the arguments (a dtype, a layout,
a broadcast it does not handle) it returns ``DECLINED`` and the reference runs, as
``analytic`` runs it: where autodiff watches the input (torch's autograd, a JAX
transformation), with its own analytic gradient as the derivative
(``_backends.ANALYTIC``).
The reference stays reachable as ``fn.reference`` and is the oracle of the
kernel tests.

Adding a kernel for a family function is one row here (and the C side:
docs/kernels.md, "Adding a loss"). ``_backends.BACKENDS`` maps an array
namespace to the conversions to and from NumPy (and, for torch, to autograd; for
Dask, to a graph of kernel calls on its chunks).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _ops, _state
from ._backends import ANALYTIC, BACKENDS
from ._ops import DECLINED, BinaryTotals, Declined, Result, softmax_cross_entropy
from ._state import get_num_threads, set_num_threads

__all__ = [
    "DECLINED",
    "KERNELS",
    "BinaryTotals",
    "Declined",
    "Kernel",
    "Result",
    "accelerated",
    "analytic",
    "available",
    "binary_totals",
    "get_num_threads",
    "isa",
    "set_num_threads",
    "softmax_cross_entropy",
    "takes_halves",
]


@dataclass(frozen=True)
class Kernel:
    """How one family function reaches its compiled kernel.

    ``run(a, b, **options, need_grad=...)`` takes the family function's two
    ``arrays`` (as NumPy arrays, in this order; the gradient is with respect to
    the first) and the ``options`` named here (array-valued ones converted too),
    and returns a :class:`Result` or ``DECLINED``. ``only_when`` lists options
    whose values the kernel requires (others run the reference) and which are not
    passed to ``run``. Every name must be a parameter of the family function: the
    decorator checks it at import.

    ``layout`` says how a chunked array (Dask) is cut into kernel calls:
    ``"elementwise"``, the second array has the first's shape and array options
    broadcast to it along trailing axes (each chunk with the matching chunks of
    the others); ``"classes"``, the first array has its classes on the
    ``class_axis`` option, the second its shape without that axis, and array
    options are per class (whole in every chunk).
    """

    arrays: tuple[str, str]
    options: tuple[str, ...]
    run: Callable[..., Result | Declined]
    only_when: Mapping[str, Any] = field(default_factory=dict)
    layout: str = "elementwise"

    @functools.cached_property
    def arguments(self) -> tuple[str, ...]:
        """The names ``run`` is given: the two arrays, then the options."""
        return (*self.arrays, *self.options)


KERNELS: dict[str, Kernel] = {
    "binary_cross_entropy_with_logits": Kernel(
        arrays=("x", "y"),
        options=("weight", "pos_weight", "label_smoothing", "ignore_index", "reduction"),
        run=functools.partial(_ops.binary, "bce_with_logits"),
    ),
    "binary_cross_entropy": Kernel(
        arrays=("p", "y"),
        options=("weight", "label_smoothing", "ignore_index", "reduction"),
        run=functools.partial(_ops.binary, "bce_probs"),
    ),
    "sigmoid_focal_loss": Kernel(
        arrays=("x", "y"),
        options=("alpha", "gamma", "reduction"),
        run=functools.partial(_ops.binary, "sigmoid_focal"),
    ),
    # class-index targets on logits, in the caller's layout (class_axis); nll_loss
    # (log-probabilities) runs the reference
    "index_targets": Kernel(
        arrays=("x", "y"),
        options=("class_axis", "weight", "ignore_index", "label_smoothing", "reduction"),
        run=_ops.softmax_cross_entropy,
        only_when={"log_input": False},
        layout="classes",
    ),
}


def available() -> bool:
    """True when the compiled kernels are built and enabled."""
    return _state.extension() is not None


def isa() -> str | None:
    """The instruction set the kernels use (avx512bf16, avx512, avx2, baseline), None
    without them."""
    ext = _state.extension()
    return None if ext is None else ext.isa()


def binary_totals(
    op: str, x: Any, y: Any, **options: Any
) -> tuple[BinaryTotals, Any | None] | Declined:
    """The sums of ``xent eval`` in one fused pass (see ``_ops.binary_totals``), or
    ``DECLINED`` where the kernels cannot take the arrays."""
    return _ops.binary_totals(op, x, y, **options)


# the namespaces whose half-precision arrays the kernels read as they are (torch: CPU)
_HALF_NAMESPACES = ("numpy", "array_api_compat.numpy", "array_api_compat.torch")
_HALF_NAMES = frozenset({"float16", "bfloat16", "torch.float16", "torch.bfloat16"})


def _is_half(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)  # the itemsize first: str(dtype) costs a us
    return getattr(dtype, "itemsize", 0) == 2 and str(dtype) in _HALF_NAMES


def takes_halves(xp: Any, array: Any) -> bool:
    """Whether a float16 / bfloat16 `array` should reach the family functions in its own
    dtype (the kernels read and write it as it is) rather than as a float32 copy: the
    kernels are on and the array is NumPy's or a CPU torch tensor. If the kernel then
    declines, ``accelerated`` hands the reference float32 copies (``_widened``)."""
    if not _is_half(array) or _state.extension() is None:
        return False
    if getattr(xp, "__name__", "") not in _HALF_NAMESPACES:
        return False
    device = getattr(array, "device", "cpu")
    return getattr(device, "type", device) == "cpu"


def _widened(reference: Callable[..., Any]) -> Callable[..., Any]:
    """The reference on float32 copies of the half-precision arrays it is given (the
    family math computes halves in float32); what ``takes_halves`` let through."""

    @functools.wraps(reference)
    def run(*args: Any, **kwargs: Any) -> Any:
        xp = args[0] if args else kwargs["xp"]
        args = tuple(xp.astype(a, xp.float32) if _is_half(a) else a for a in args)
        kwargs = {k: xp.astype(v, xp.float32) if _is_half(v) else v for k, v in kwargs.items()}
        return reference(*args, **kwargs)

    return run


def _run_kernel(
    kernel: Kernel, reference: Callable[..., Any], arguments: dict[str, Any]
) -> Result | Declined:
    """The kernel's Result in xp's array type, or DECLINED to run the reference."""
    backend = BACKENDS.get(getattr(arguments["xp"], "__name__", ""))
    if backend is None or not backend.usable():
        return DECLINED
    if kernel.only_when and any(arguments[k] != v for k, v in kernel.only_when.items()):
        return DECLINED
    first = kernel.arrays[0]
    if not backend.watched(arguments[first]):
        return backend.run(kernel, reference, arguments, arguments["need_grad"])
    # autograd watches the input: the kernel's gradient becomes its backward, unless
    # a gradient is asked for too (value_and_grad then returns the reference's, which
    # has a history) or another argument needs one (a weight or target, say)
    if arguments["need_grad"] or backend.any_watched(
        [arguments[name] for name in kernel.arguments[1:]]
    ):
        return DECLINED
    return backend.with_autograd(
        lambda x: backend.run(kernel, reference, {**arguments, first: x}, True),
        reference,
        arguments,
        first,
    )


Binder = Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]


def _binder(reference: Callable[..., Any]) -> tuple[Binder, str]:
    """``arguments_of(args, kwargs)``: all arguments of ``reference`` by name, defaults
    included (inspect's bind is 10 us slower; it still raises the usual TypeError), and
    the name of the array the gradient is taken in (the first after ``xp``)."""
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
        arguments = {**defaults, **dict(zip(positional, args, strict=False)), **kwargs}
        if len(args) > len(positional) or arguments.keys() != names:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
        return arguments

    return arguments_of, positional[1]


def _differentiated(
    reference: Callable[..., Any],
    arguments_of: Binder,
    first: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    arguments: dict[str, Any] | None = None,
) -> Any:
    """``reference(*args, **kwargs)``, its loss differentiated by xp's autodiff with the
    reference's own analytic gradient where ``_backends.ANALYTIC`` has a bridge for xp
    that takes the call (torch: an autograd Function; JAX: a custom JVP); else the
    reference as it is, differentiated (if at all) operation by operation."""
    xp = args[0] if args else kwargs.get("xp")
    bridge = ANALYTIC.get(getattr(xp, "__name__", ""))
    if bridge is not None:
        x = args[1] if len(args) > 1 else kwargs.get(first)
        if bridge.wants(x):  # cheap: decided before the arguments are bound
            result = bridge.run(reference, arguments or arguments_of(args, kwargs), first)
            if result is not DECLINED:
                return result
    return reference(*args, **kwargs)


def analytic(reference: Callable[..., Any]) -> Callable[..., Any]:
    """The decorator of the family functions without a kernel: ``reference(xp, a, ...,
    need_grad)``, differentiated with its own analytic gradient where xp's autodiff has
    a bridge for it (see ``_differentiated``), kept as ``.reference``.
    :func:`accelerated` falls back on the same where the kernels decline."""
    arguments_of, first = _binder(reference)

    @functools.wraps(reference)
    def run(*args: Any, **kwargs: Any) -> Any:
        return _differentiated(reference, arguments_of, first, args, kwargs)

    run.reference = reference  # type: ignore[attr-defined]
    return run


def accelerated(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Run ``KERNELS[name]`` when it can take the arguments, else the decorated
    reference ``reference(xp, a, b, **options)`` (kept as ``.reference``).

    Where no kernel takes the call (none built, disabled or declined), the reference
    runs as :func:`analytic` runs it: where autodiff watches the first array (torch's
    autograd, a JAX transformation), with its own analytic gradient as the
    derivative (``_backends.ANALYTIC``)."""
    kernel = KERNELS[name]

    def decorate(reference: Callable[..., Any]) -> Callable[..., Any]:
        names = set(inspect.signature(reference).parameters)
        unknown = {*kernel.arrays, *kernel.options, *kernel.only_when} - names
        if unknown or not {"xp", "need_grad"} <= names:
            raise TypeError(f"KERNELS[{name!r}] names {sorted(unknown)}, not parameters of it")
        arguments_of, first = _binder(reference)
        widened = _widened(reference)

        @functools.wraps(reference)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            if _state.extension() is None:
                return _differentiated(reference, arguments_of, first, args, kwargs)
            arguments = arguments_of(args, kwargs)
            result = _run_kernel(KERNELS[name], widened, arguments)  # patchable by tests
            if result is not DECLINED:
                return result
            # halves (takes_halves) as float32
            return _differentiated(widened, arguments_of, first, args, kwargs, arguments)

        dispatch.reference = reference  # type: ignore[attr-defined]
        return dispatch

    return decorate
