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
from typing import Any

from ._ops import DECLINED, Declined, Result


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
        converted = cls.arguments_to_numpy(
            {name: arguments[name] for name in (*kernel.arrays, *kernel.options)}
        )
        if converted is DECLINED:
            return DECLINED
        first, second = (converted.pop(name) for name in kernel.arrays)
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
            return DECLINED
        try:
            return value.numpy()
        except (TypeError, RuntimeError):  # dtypes NumPy has not (bfloat16), torch.func
            return DECLINED

    @staticmethod
    def from_numpy(value: Any) -> Any:
        import numpy as np
        import torch

        return None if value is None else torch.from_numpy(np.asarray(value))

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
            if g.ndim == 0 and g.item() == 1.0:  # backward() of a reduced loss
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


def jax_analytic(reference: Callable[..., Any], arguments: dict[str, Any]) -> Result | Declined:
    """JAX arrays (no kernel: XLA compiles the reference): under a JAX transformation,
    the reference as a custom JVP whose derivative is its own analytic gradient
    (``_jax.analytic``); DECLINED otherwise."""
    from . import _jax

    return _jax.analytic(reference, arguments)


# namespace -> how autodiff gets the reference's analytic gradient, where the kernels
# decline (or a family function has none): ``fn(reference, arguments)`` returns the
# Result (the loss differentiable by that framework) or DECLINED
ANALYTIC: dict[str, Callable[..., Result | Declined]] = {
    "jax.numpy": jax_analytic,
}

BACKENDS: dict[str, Any] = {
    "numpy": NumPyBridge,
    "array_api_compat.numpy": NumPyBridge,
    "array_api_compat.torch": TorchBridge,
    "array_api_compat.dask.array": DaskBridge,
}
