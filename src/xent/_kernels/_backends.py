"""How arrays of each library reach the NumPy kernels, and how results go back.

``BACKENDS`` maps an array namespace to its bridge. A bridge converts arguments to
NumPy without copying (``to_numpy``, ``DECLINED`` when it cannot) and results
back (``from_numpy``). The torch bridge also serves autograd: when the input
requires a gradient, the kernel computes loss and gradient in its one pass, the
loss is handed to autograd through :class:`KernelLoss`, and ``backward`` returns
the saved gradient. Double backward (``create_graph=True``) differentiates the
array-API reference instead, so every order of derivative is the reference's.
The Dask bridge converts nothing: it builds a lazy graph of one kernel call per
chunk (``_dask``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

from ._ops import BFLOAT16, DECLINED, Declined, Result


class Bridge:
    """Conversions between one library's arrays and NumPy's, for the kernels."""

    @staticmethod
    def usable() -> bool:
        """Whether the kernels may run now."""
        return True

    @staticmethod
    def watched(value: Any) -> bool:
        """Whether an autodiff system records operations on `value`."""
        return False

    @classmethod
    def any_watched(cls, values: Any) -> bool:
        """Whether `watched` holds for one of `values`."""
        return any(cls.watched(value) for value in values)

    @staticmethod
    def to_numpy(value: Any) -> Any:
        """`value` as a NumPy array sharing its memory (non-arrays as they are), or
        DECLINED."""
        raise NotImplementedError

    @classmethod
    def arguments_to_numpy(cls, arguments: dict[str, Any]) -> dict[str, Any] | Declined:
        """Every argument through `to_numpy`; DECLINED if one cannot be converted."""
        converted = {}
        for name, value in arguments.items():
            value = cls.to_numpy(value)
            if value is DECLINED:
                return DECLINED
            converted[name] = value
        return converted

    @classmethod
    def run(
        cls,
        kernel: Any,
        reference: Callable[..., Any],
        arguments: dict[str, Any],
        need_grad: bool,
    ) -> Result | Declined:
        """The kernel's Result in this library's array type, or DECLINED (the reference
        then runs): the record's arrays and options converted to NumPy, ``kernel.run``,
        and its loss and gradient converted back."""
        converted = cls.arguments_to_numpy({name: arguments[name] for name in kernel.arguments})
        if converted is DECLINED:
            return DECLINED
        first, second = converted.pop(kernel.arrays[0]), converted.pop(kernel.arrays[1])
        result = kernel.run(first, second, **converted, need_grad=need_grad)
        if result is DECLINED:
            return DECLINED
        return Result(cls.from_numpy(result.loss), cls.from_numpy(result.grad))

    @staticmethod
    def from_numpy(value: Any) -> Any:
        raise NotImplementedError


class NumPyBridge(Bridge):
    @staticmethod
    def to_numpy(value: Any) -> Any:
        return value

    @classmethod
    def arguments_to_numpy(cls, arguments: dict[str, Any]) -> dict[str, Any] | Declined:
        return dict(arguments)

    @staticmethod
    def from_numpy(value: Any) -> Any:
        import numpy as np

        # a reduced loss is a 0-d array, as on the reference path (not a NumPy scalar)
        return np.asarray(value) if isinstance(value, np.generic) else value


class TorchBridge(Bridge):
    """CPU tensors, shared with NumPy (no copy either way)."""

    @staticmethod
    def usable() -> bool:
        """Not while torch.compile traces: the reference is what it compiles."""
        import torch

        return not torch.compiler.is_compiling()

    @staticmethod
    def watched(value: Any) -> bool:
        """Whether autograd records operations on `value` (so the kernel must tell it)."""
        import torch

        return isinstance(value, torch.Tensor) and value.requires_grad and torch.is_grad_enabled()

    @staticmethod
    def any_watched(values: Any) -> bool:
        import torch

        if torch.is_grad_enabled():
            for value in values:
                if isinstance(value, torch.Tensor) and value.requires_grad:
                    return True
        return False

    @classmethod
    def arguments_to_numpy(cls, arguments: dict[str, Any]) -> dict[str, Any] | Declined:
        """The tensors through `to_numpy`, the other arguments as they are."""
        import torch

        converted = dict(arguments)
        for name, value in arguments.items():
            if isinstance(value, torch.Tensor):
                value = cls.to_numpy(value)
                if value is DECLINED:
                    return DECLINED
                converted[name] = value
        return converted

    @staticmethod
    def to_numpy(value: Any) -> Any:
        import torch

        if not isinstance(value, torch.Tensor):
            return value
        if (
            not value.is_cpu
            or value.requires_grad
            or value.is_conj()
            or value.is_neg()
            or value.layout != torch.strided
        ):
            return DECLINED
        try:
            return value.numpy()
        except (TypeError, RuntimeError):  # dtypes NumPy has not (bfloat16), torch.func
            return _bfloat16_to_numpy(value)

    @staticmethod
    def from_numpy(value: Any) -> Any:
        import numpy as np
        import torch

        if value is None:
            return None
        if not isinstance(value, np.ndarray):
            value = np.asarray(value)
        if value.dtype == BFLOAT16:
            return torch.from_numpy(value.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(value)

    @staticmethod
    def with_autograd(
        kernel: Callable[[Any], Result | Declined],
        reference: Callable[..., Any],
        arguments: dict[str, Any],
        name: str,
    ) -> Result | Declined:
        """Result(loss, None), the loss recorded by autograd as a function of
        ``arguments[name]``.

        ``kernel(x)`` runs the kernel on a detached x and returns the Result (loss
        and gradient as tensors) or DECLINED; ``reference(**arguments)`` is the
        array-API implementation, differentiated for double backward.
        """
        x = arguments[name]
        result = kernel(x.detach())
        if result is DECLINED:
            return DECLINED
        saved = _Saved(kernel, reference, arguments, name, *result)
        return Result(_kernel_loss().apply(x, saved), None)

    @classmethod
    def reference_with_autograd(
        cls, reference: Callable[..., Any], arguments: dict[str, Any], name: str
    ) -> Result | Declined:
        """The reference's loss and analytic gradient in one call (``need_grad=True``,
        under no_grad, on any device), the loss handed to autograd through
        :class:`KernelLoss` as the kernels' is: backward returns the saved gradient
        (scaled), double backward differentiates the reference. DECLINED (autograd then
        differentiates the reference op by op) where a gradient is asked for too
        (value_and_grad), another argument needs one, torch.compile traces, or a
        torch.func transform or forward-mode AD wraps the input."""
        import torch

        x = arguments[name]
        if arguments["need_grad"] or not cls.usable():
            return DECLINED
        if any(cls.watched(value) for key, value in arguments.items() if key != name):
            return DECLINED
        if torch._C._functorch.is_functorch_wrapped_tensor(x) or _is_dual(x):
            return DECLINED

        def run(x: Any) -> Result:
            with torch.no_grad():
                return Result(*reference(**{**arguments, name: x, "need_grad": True}))

        return cls.with_autograd(run, reference, arguments, name)


def _is_dual(x: Any) -> bool:
    """Whether forward-mode AD carries a tangent on x (KernelLoss has no jvp)."""
    import torch.autograd.forward_ad as fwad

    return fwad._current_level >= 0 and fwad.unpack_dual(x).tangent is not None


def _bfloat16_to_numpy(value: Any) -> Any:
    """A bfloat16 tensor as the NumPy array of its bits under ``_ops.BFLOAT16`` (no
    copy), which the kernels read as bfloat16; DECLINED for anything else."""
    import torch

    if value.dtype != torch.bfloat16:
        return DECLINED
    try:
        return value.view(torch.int16).numpy().view(BFLOAT16)
    except (TypeError, RuntimeError, ValueError):  # torch.func's tensors
        return DECLINED


class _Saved:
    """What the backward of one kernel call needs (not tensors autograd must track)."""

    def __init__(
        self,
        kernel: Callable[[Any], Result | Declined],
        reference: Callable[..., Any],
        arguments: dict[str, Any],
        name: str,
        loss: Any,
        grad: Any,
    ) -> None:
        self.kernel, self.reference, self.name = kernel, reference, name
        self.arguments = {k: v for k, v in arguments.items() if k != name}
        self.loss, self.grad = loss, grad

    def take_grad(self, x: Any) -> Any:
        """The kernel's gradient, ours to scale in place: the saved one the first time
        (then forgotten, so autograd can adopt it without a copy), recomputed after
        (a graph kept with retain_graph=True)."""
        grad, self.grad = self.grad, None
        return grad if grad is not None else self.kernel(x.detach()).grad

    def differentiable_grad(self, x: Any, g: Any) -> Any:
        """g times d(loss)/dx as a function autograd can differentiate again: the
        reference's, through autograd, at the same x (with its history)."""
        import torch

        with torch.enable_grad():
            loss, _ = self.reference(**{**self.arguments, self.name: x, "need_grad": False})
            (grad,) = torch.autograd.grad(loss, x, g, create_graph=True)
        return grad


@functools.cache
def _kernel_loss() -> Any:
    import torch

    class KernelLoss(torch.autograd.Function):
        """The kernel's loss, with the kernel's gradient as its backward."""

        @staticmethod
        def forward(ctx: Any, x: Any, saved: _Saved) -> Any:
            ctx.save_for_backward(x)
            ctx.saved = saved
            loss, saved.loss = saved.loss, None  # ctx must not hold its output (a cycle)
            return loss

        @staticmethod
        def backward(ctx: Any, g: Any) -> tuple[Any, None]:
            (x,) = ctx.saved_tensors
            saved: _Saved = ctx.saved
            if torch.is_grad_enabled():  # create_graph=True: a gradient with a history
                return saved.differentiable_grad(x, g), None
            grad = saved.take_grad(x)
            # backward() of a reduced loss: g is 1 (read only on the CPU, no device sync)
            if g.ndim == 0 and g.device.type == "cpu" and g.item() == 1.0:
                return grad, None
            if 0 < g.ndim < grad.ndim:  # one loss per position: broadcast along the classes
                g = g.unsqueeze(saved.arguments.get("class_axis", -1) % grad.ndim)
            return grad.mul_(g), None

    return KernelLoss


class DaskBridge(Bridge):
    """Dask arrays of NumPy chunks: a lazy graph of one kernel call per chunk."""

    @classmethod
    def run(
        cls,
        kernel: Any,
        reference: Callable[..., Any],
        arguments: dict[str, Any],
        need_grad: bool,
    ) -> Result | Declined:
        from . import _dask

        return _dask.run(kernel, reference, arguments, need_grad)


class Analytic(NamedTuple):
    """How one namespace's autodiff differentiates a family function with its own
    analytic gradient. ``wants(x)``: whether autodiff watches x, the differentiated
    array (cheap: asked before the arguments are bound); ``run(reference, arguments,
    first)``: the Result whose loss that autodiff differentiates with the reference's
    gradient in ``arguments[first]``, or DECLINED (the reference then runs as it is)."""

    wants: Callable[[Any], bool]
    run: Callable[[Callable[..., Any], dict[str, Any], str], Result | Declined]


def _jax_traced(x: Any) -> bool:
    import jax

    return isinstance(x, jax.core.Tracer)


def _jax_analytic(
    reference: Callable[..., Any], arguments: dict[str, Any], first: str
) -> Result | Declined:
    """JAX arrays (no kernel: XLA compiles the reference): the reference as a custom
    JVP whose derivative is its own analytic gradient (``_jax.analytic``)."""
    from . import _jax

    return _jax.analytic(reference, arguments, first)


# namespace -> how its autodiff gets a family function's analytic gradient where the
# kernels decline (or the function has none)
ANALYTIC: dict[str, Analytic] = {
    "array_api_compat.torch": Analytic(TorchBridge.watched, TorchBridge.reference_with_autograd),
    "jax.numpy": Analytic(_jax_traced, _jax_analytic),
}

BACKENDS: dict[str, Any] = {
    "numpy": NumPyBridge,
    "array_api_compat.numpy": NumPyBridge,
    "array_api_compat.torch": TorchBridge,
    "array_api_compat.dask.array": DaskBridge,
}
