"""`value_and_grad`: loss and gradient in one call, with no autodiff framework.

Each differentiable loss is written once as ``impl(..., need_grad) -> (loss, grad)``;
`loss_function` turns it into the public loss (which returns the loss only) and
remembers the implementation for `value_and_grad`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from ._array import Array

_IMPL = "__xent_value_and_grad__"


def loss_function(impl: Callable[..., tuple[Array, Array | None]]) -> Callable[..., Array]:
    """Public loss from ``impl``: same name, docs and signature, minus ``need_grad``."""
    signature = inspect.signature(impl)
    params = [p for p in signature.parameters.values() if p.name != "need_grad"]

    @functools.wraps(impl)
    def loss(*args: Any, **kwargs: Any) -> Array:
        return impl(*args, **kwargs, need_grad=False)[0]

    @functools.wraps(impl)
    def loss_and_grad(*args: Any, **kwargs: Any) -> tuple[Array, Array]:
        return impl(*args, **kwargs, need_grad=True)

    loss.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    loss_and_grad.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=params, return_annotation="tuple[Array, Array]"
    )
    setattr(loss, _IMPL, loss_and_grad)
    return loss


def value_and_grad(loss_fn: Callable[..., Array]) -> Callable[..., tuple[Array, Array]]:
    """A function with ``loss_fn``'s signature returning ``(loss, gradient)``.

    The gradient is taken with respect to ``loss_fn``'s first argument (the input,
    in PyTorch's argument order) and has that argument's shape and dtype. With
    ``reduction='none'`` it is the gradient of the sum of the returned losses:
    for these elementwise losses, each element's own derivative.

    Works on NumPy arrays with no autodiff framework installed.

    >>> import numpy as np, xent
    >>> loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(
    ...     np.array([0.0, 2.0]), np.array([1.0, 0.0]), reduction="sum")
    >>> print(grad)  # sigmoid(x) - y
    [-0.5     0.8808]
    """
    impl = getattr(loss_fn, _IMPL, None)
    if impl is None:
        raise TypeError(
            f"value_and_grad needs one of xent's top-level losses (PyTorch argument order, "
            f"input first), got {getattr(loss_fn, '__qualname__', loss_fn)!r}; "
            "pass e.g. xent.binary_cross_entropy_with_logits"
        )
    return impl
