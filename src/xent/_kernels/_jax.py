"""JAX: the family functions' analytic gradient as their derivative, through a custom JVP.

On JAX arrays no kernel runs: XLA compiles the array-API reference. Left to itself, JAX
would differentiate the reference's loss expression operation by operation (through
its ``where`` branches, the row maximum of the softmax, a gather's transpose), where
the family function already knows the derivative in closed form (``need_grad=True``).
:func:`analytic` runs a family function as a ``jax.custom_jvp`` whose primal is the
reference's loss (``need_grad=False``) and whose JVP rule is

    tangent of the loss = sum of grad * x_dot   (over the axes the loss reduced; for
                                                 'none', along the class axis only)

with ``grad`` the reference's own gradient in x (the first array), computed with the
loss in one trace. The rule is itself JAX code, so ``jit``, ``vmap``, forward mode and
``grad`` of ``grad`` (the derivative of the gradient formula) keep working. A tangent
on any other array (a target, a weight, an optax ``gamma``) is served by ``jax.jvp`` of
the reference in those arrays, x held fixed: symbolic zeros tell which tangents are
present, so the common case (only x differentiated) pays nothing for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero

from .._array import derivative_supplied
from ._ops import DECLINED, Declined, Result


def _contract(grad: Any, x_dot: Any, loss: Any, class_axis: int) -> Any:
    """The loss's tangent from d(sum of losses)/dx and x's tangent: summed over every
    axis for a reduced loss, elementwise for one loss per element, over the class axis
    for one loss per position."""
    product = grad * x_dot
    if loss.ndim == 0:
        return jnp.sum(product)
    if loss.shape == product.shape:
        return product
    return jnp.sum(product, axis=class_axis)


def analytic(
    reference: Callable[..., Any], arguments: dict[str, Any], first: str
) -> Result | Declined:
    """``reference(**arguments)`` as Result(loss, None), the loss differentiable by JAX
    with the reference's analytic gradient; DECLINED (the reference then runs as it
    is) where no JAX transformation watches the arguments, or a gradient is asked for
    too (``need_grad``: the caller then gets the reference's own, differentiable).

    ``arguments`` are the family function's, by name; ``first`` names the
    differentiated array.
    """
    if arguments["need_grad"]:
        return DECLINED
    dynamic = {k: v for k, v in arguments.items() if isinstance(v, jax.Array)}
    if not any(isinstance(v, jax.core.Tracer) for v in dynamic.values()):
        return DECLINED  # concrete arrays, no transformation: nothing to differentiate
    if first not in dynamic:
        return DECLINED
    static = {k: v for k, v in arguments.items() if k not in dynamic and k != "need_grad"}
    class_axis = arguments.get("class_axis", -1)

    def run(arrays: dict[str, Any], need_grad: bool) -> tuple[Any, Any]:
        with derivative_supplied():
            return reference(**static, **arrays, need_grad=need_grad)

    @jax.custom_jvp
    def loss(arrays: dict[str, Any]) -> Any:
        return run(arrays, False)[0]

    def jvp(primals: tuple[Any, ...], tangents: tuple[Any, ...]) -> tuple[Any, Any]:
        (arrays,), (dots,) = primals, tangents
        value, grad = run(arrays, True)
        out = None
        x_dot = dots[first]
        if not isinstance(x_dot, SymbolicZero):
            out = _contract(grad, x_dot, value, class_axis)
        others = {k: d for k, d in dots.items() if k != first and not isinstance(d, SymbolicZero)}
        if others:  # x held fixed: the reference's own derivative in the others

            def of_others(moving: dict[str, Any]) -> Any:
                return run({**arrays, **moving}, False)[0]

            _, more = jax.jvp(of_others, ({k: arrays[k] for k in others},), (others,))
            out = more if out is None else out + more
        return value, jnp.zeros_like(value) if out is None else out

    loss.defjvp(jvp, symbolic_zeros=True)
    return Result(loss(dynamic), None)
