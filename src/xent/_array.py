"""Array-API plumbing shared by every family: namespaces, dtypes, stable primitives.

Everything here is written against the Python array API standard (through
array-api-compat), so the same code serves NumPy today and the other
backends later. Nothing here knows about a loss.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import importlib
import math
from collections.abc import Iterator
from typing import Any

import array_api_compat

Array = Any  # any array-API array (numpy.ndarray, torch.Tensor, jax.Array, ...)


# --------------------------------------------------------------------------- namespaces


def library(value: Any) -> str | None:
    """The library an array belongs to ('numpy', 'torch', 'jax', 'dask', ...), None for
    anything that is not an array (lists, Python scalars). Duck-typed and cheap, so that
    torch.compile traces through it."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        return None
    return type(value).__module__.partition(".")[0]


def is_array(value: Any) -> bool:
    return library(value) is not None


_COMPAT: dict[str, Any] = {}


def _compat(name: str) -> Any:
    """array-api-compat's namespace module for NumPy or torch (imported once; a dict,
    not functools.lru_cache, which torch.compile warns about when it traces a call)."""
    module = _COMPAT.get(name)
    if module is None:
        module = _COMPAT[name] = importlib.import_module(f"array_api_compat.{name}")
    return module


def namespace(*values: Any) -> Any:
    """The array namespace of the array arguments; NumPy's when none is an array.

    NumPy arrays mixed with the arrays of one other library (a NumPy target with a torch
    or JAX input, say) take that library's namespace, and `as_array` converts them.
    """
    arrays, libraries = [], set()
    for value in values:
        name = library(value)
        if name is not None:
            arrays.append(value)
            libraries.add(name)
    if len(libraries) > 1 and "numpy" in libraries:
        arrays = [a for a in arrays if library(a) != "numpy"]
        libraries.discard("numpy")
    if len(libraries) <= 1 and (not libraries or "numpy" in libraries or "torch" in libraries):
        return _compat(libraries.pop() if libraries else "numpy")
    return array_api_compat.array_namespace(*arrays)


def is_numpy_namespace(xp: Any) -> bool:
    return xp.__name__ in ("numpy", "array_api_compat.numpy")


def zero_d(xp: Any, value: Array) -> Array:
    """A reduction's result as a 0-d array: NumPy's are NumPy scalars, made arrays here;
    others are arrays already, and pass as they are (torch.asarray on a tensor that
    requires grad warns)."""
    return xp.asarray(value) if is_numpy_namespace(xp) else value


def device_of(array: Array) -> Any:
    return array.device if library(array) == "torch" else array_api_compat.device(array)


def as_array(xp: Any, value: Any, *, like: Array | None = None, dtype: Any = None) -> Array:
    """`value` as an array of namespace `xp` (lists and scalars are converted)."""
    name = library(value)
    if name is not None and (name != "numpy" or is_numpy_namespace(xp)):
        return value if dtype is None else astype(xp, value, dtype)
    device = None if like is None else device_of(like)
    return xp.asarray(value, dtype=dtype, device=device)


def to_numpy(array: Array) -> Any:
    """A NumPy copy or view of any array-API array (for messages and the CLI, not the math)."""
    import numpy as np

    if library(array) == "torch":
        return array.detach().cpu().numpy()
    try:
        return np.asarray(array)
    except (TypeError, ValueError, RuntimeError):  # e.g. array-api-strict: via DLPack
        return np.from_dlpack(array)


def host_view(array: Array) -> Any:
    """A NumPy view (no copy) of a NumPy array or of a CPU torch tensor NumPy can view;
    None for anything else (other devices and libraries, bfloat16)."""
    name = library(array)
    if name == "numpy":
        return array
    if name != "torch" or not array.is_cpu:
        return None
    try:
        return array.numpy()
    except (TypeError, RuntimeError):  # requires grad, bfloat16, conjugate bits, torch.func
        return None


def index_dtype(xp: Any) -> Any:
    """The integer dtype class indices are cast to: int64, except on JAX without 64-bit
    mode (the default), whose int64 is int32 and where asking for int64 warns."""
    if xp.__name__.startswith("jax"):
        import jax

        if not jax.config.jax_enable_x64:
            return xp.int32
    return xp.int64


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def is_traced(array: Array) -> bool:
    """A JAX tracer (under jit, grad, vmap): no value can be read from it."""
    if library(array) != "jax":
        return False
    import jax

    return isinstance(array, jax.core.Tracer)


def is_meta(array: Array) -> bool:
    """A torch tensor on the meta device: a shape and a dtype, no values."""
    return getattr(getattr(array, "device", None), "type", None) == "meta"


def is_lazy(array: Array) -> bool:
    """Values not available without computing (Dask) or not at all (JAX tracers)."""
    return library(array) == "dask" or is_traced(array)


def watched_by_autodiff(xp: Any, array: Array) -> bool:
    """Whether an autodiff system may differentiate through `array`."""
    if library(array) == "torch":
        import torch

        return bool(array.requires_grad) and torch.is_grad_enabled()
    return is_traced(array)


def stop_gradient(xp: Any, array: Array) -> Array:
    if library(array) == "torch":
        return array.detach()
    if library(array) == "jax":
        import jax

        return jax.lax.stop_gradient(array)
    return array


_DERIVATIVE_SUPPLIED = contextvars.ContextVar("xent_derivative_supplied", default=False)


@contextlib.contextmanager
def derivative_supplied() -> Iterator[None]:
    """Within: the caller hands autodiff the analytic gradient itself (a JAX custom JVP,
    a torch autograd Function), so :func:`analytic_gradient` computes as for arrays no
    autodiff watches (no second evaluation at the midpoint)."""
    token = _DERIVATIVE_SUPPLIED.set(True)
    try:
        yield
    finally:
        _DERIVATIVE_SUPPLIED.reset(token)


def analytic_gradient(fn: Any) -> Any:
    """Make autodiff backends use an elementwise loss's own analytic gradient.

    For ``fn(xp, x, *args, need_grad=...) -> (loss, dloss/dx)``. Where a backend
    (torch autograd, JAX) watches x, the returned loss is rebuilt as
    ``loss(x0) + (x - x0) * grad(x0 + (x - x0) / 2)`` with x0 = stop_gradient(x):
    the same value, first derivative ``grad`` and second derivative ``grad'``
    (the midpoint makes the second order exact), so torch's ``backward``,
    double backward and ``jax.grad`` see PyTorch's gradient formulas (clamps and
    all) rather than the derivative of the clamped forward expression.
    Derivatives with respect to the other arguments flow through ``loss(x0)``.
    """

    @functools.wraps(fn)
    def wrapped(xp: Any, x: Array, *args: Any, need_grad: bool = False) -> Any:
        if _DERIVATIVE_SUPPLIED.get() or not watched_by_autodiff(xp, x):
            return fn(xp, x, *args, need_grad=need_grad)
        x0 = stop_gradient(xp, x)
        loss, grad = fn(xp, x0, *args, need_grad=need_grad)
        delta = xp.where(xp.isfinite(x0), x - x0, xp.zeros_like(x0))
        _, slope = fn(xp, x0 + delta / 2, *args, need_grad=True)
        return loss + delta * slope, grad

    return wrapped


# --------------------------------------------------------------------------- dtypes


def is_floating(xp: Any, dtype: Any) -> bool:
    if getattr(dtype, "kind", None) == "f" or getattr(dtype, "is_floating_point", None) is True:
        return True  # NumPy's (and JAX's) float dtypes, torch's: the common case, fast
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except (TypeError, ValueError):  # dtypes the namespace does not know (e.g. ml_dtypes)
        return False


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """The dtype the math runs in: float64 stays, everything else (halves) is float32."""
    return xp.float64 if dtype == xp.float64 else xp.float32


def astype(xp: Any, array: Array, dtype: Any) -> Array:
    """``xp.astype(array, dtype, copy=False)``: `array` itself when it has the dtype
    (without the call, which costs a few us on small arrays)."""
    return array if array.dtype == dtype else xp.astype(array, dtype, copy=False)


def result_float_dtype(xp: Any, *dtypes: Any) -> Any:
    """Promotion of the floating dtypes among `dtypes` (integer ones are ignored)."""
    if all(d == dtypes[0] for d in dtypes[1:]) and is_floating(xp, dtypes[0]):
        return dtypes[0]  # one floating dtype: the common case, without a list
    floats = [d for d in dtypes if is_floating(xp, d)]
    same = all(d == floats[0] for d in floats[1:])
    return floats[0] if floats and same else xp.result_type(*floats)


def broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...] | None:
    """NumPy's broadcast of two shapes, or None when they do not broadcast."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    if any(x != y and 1 not in (x, y) for x, y in zip(a, b, strict=True)):
        return None
    return tuple(y if x == 1 else x for x, y in zip(a, b, strict=True))


def sum_to_shape(xp: Any, array: Array, shape: tuple[int, ...]) -> Array:
    """Sum `array` over the axes a broadcast to its shape added to `shape` (leading axes,
    and axes where `shape` has 1): the gradient of a broadcast input, in the input's shape."""
    shape = tuple(shape)
    lead = array.ndim - len(shape)
    if lead:
        array = xp.sum(array, axis=tuple(range(lead)))
    grown = tuple(i for i, n in enumerate(shape) if n == 1 and array.shape[i] != 1)
    if grown:
        array = xp.sum(array, axis=grown, keepdims=True)
    return array


def broadcast_shapes(*arrays: Array) -> tuple[int, ...]:
    """The broadcast shape of `arrays` (which the caller has checked do broadcast)."""
    shape: tuple[int, ...] | None = ()
    for array in arrays:
        shape = broadcast_shape(shape, tuple(array.shape))
        if shape is None:
            raise ValueError(f"shapes {[tuple(a.shape) for a in arrays]} do not broadcast")
    return shape


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True when an array of `shape` broadcasts to exactly `target` (never grows it)."""
    return broadcast_shape(shape, target) == target


# --------------------------------------------------------------------------- primitives


def times_or_zero(xp: Any, coef: Array, value: Array) -> Array:
    """coef * value, with 0 where coef == 0 even if value is infinite (no 0*inf = nan).

    A nan value stays nan: 0 * nan is not made 0, so a nan input is never hidden. The
    test is also outermost, so that a compiler (XLA) sums the products as one array.
    """
    skip = (coef == 0) & xp.isinf(value)
    product = coef * xp.where(skip, xp.zeros_like(value), value)
    return xp.where(skip, xp.zeros_like(product), product)


class SigmoidParts:
    """softplus(±x) and sigmoid(±x) from one exp, stable for any x (±inf included).

    With e = exp(-|x|) in (0, 1], never overflowing:
      softplus(x)  = log(1 + exp(x))  = max(x, 0)  + log1p(e)
      softplus(-x) = log(1 + exp(-x)) = max(-x, 0) + log1p(e)
      sigmoid(x)   = 1 / (1 + e) for x >= 0, e / (1 + e) for x < 0, sigmoid(-x) the other one.
    Both softplus terms are non-negative sums, so neither tail cancels.

    Every branch is chosen by the same test x >= 0, so that the derivatives an
    autodiff backend (torch, JAX) takes through these expressions are exact, at
    x = 0 too, and no unselected branch overflows (no nan gradients through where).
    """

    def __init__(self, xp: Any, x: Array) -> None:
        self.xp, self.x = xp, x
        self.nonneg = x >= 0
        self.e = xp.exp(xp.where(self.nonneg, -x, x))

    @functools.cached_property
    def log1p_e(self) -> Array:  # only the softplus terms need it (not sigmoid alone)
        return self.xp.log1p(self.e)

    def softplus(self) -> Array:
        xp = self.xp
        return xp.where(self.nonneg, self.x, xp.zeros_like(self.x)) + self.log1p_e

    def softplus_neg(self) -> Array:
        xp = self.xp
        return xp.where(self.nonneg, xp.zeros_like(self.x), -self.x) + self.log1p_e

    def sigmoids(self) -> tuple[Array, Array]:
        """(sigmoid(x), sigmoid(-x))."""
        xp = self.xp
        big = 1.0 / (1.0 + self.e)
        small = self.e * big
        return xp.where(self.nonneg, big, small), xp.where(self.nonneg, small, big)


def torch_in_place(xp: Any, *arrays: Any) -> bool:
    """Whether the torch forms of the helpers below may run: torch tensors (all of
    `arrays`), grad mode off (no autograd recording), no torch.compile tracing, no torch.func
    transform. Those forms
    write into temporaries of their own (in-place ops, fewer allocations and passes);
    under autograd (double backward differentiates the reference) the array-API forms
    run, whose derivatives autograd takes."""
    if xp.__name__ != "array_api_compat.torch":
        return False
    import torch

    if not all(isinstance(a, torch.Tensor) for a in arrays):
        return False
    if torch.is_grad_enabled():
        # autograd may record: a tensor it saved for another operation of the same call
        # (one not among `arrays`, say a sigmoid multiplied by a target that requires
        # grad) must not be written to. The analytic path runs under no_grad.
        return False
    wrapped = torch._C._functorch.is_functorch_wrapped_tensor  # torch.func: vmap, grad
    return not (torch.compiler.is_compiling() or any(wrapped(a) for a in arrays))


def logistic_terms(
    xp: Any, a: Array, b: Array, x: Array, need_grad: bool
) -> tuple[Array, Array | None]:
    """(a softplus(x) + b softplus(-x), a sigmoid(x) - b sigmoid(-x) when `need_grad`),
    elementwise, a and b of x's shape; a term whose coefficient is 0 is 0 even where its
    softplus is infinite (x = +-inf), a nan in x, a or b gives nan.

    torch (:func:`torch_in_place`): the loss as a relu(x) + b relu(-x) (0 * inf taken
    as 0) + (a + b) log1p(exp(-|x|)), a sum of the same non-negative terms (for
    a, b >= 0) without a select, and torch.sigmoid; four allocations in all."""
    if torch_in_place(xp, a, b, x) and a.shape == x.shape == b.shape:
        return _torch_logistic_terms(a, b, x, need_grad)
    # softplus(+-x) = max(+-x, 0) + log1p(e), e = exp(-|x|): one of the two is log1p(e)
    # itself, finite; the loss is taken as a softplus(x) + b log1p(e) for x >= 0 and
    # a log1p(e) + b softplus(-x) below (the same values), chosen by one test whose
    # result is the whole elementwise loss, so that a compiler (XLA) reduces one array
    # rather than each term. log1p(e) where its branch is taken, 1 in the other (so that
    # no coefficient there, an infinite pos_weight say, meets a log1p(e) that underflowed)
    parts = SigmoidParts(xp, x)
    one, nonneg = xp.ones_like(x), parts.nonneg
    above, below = xp.where(nonneg, parts.log1p_e, one), xp.where(nonneg, one, parts.log1p_e)
    loss = xp.where(
        nonneg,
        times_or_zero(xp, a, parts.softplus()) + b * above,
        a * below + times_or_zero(xp, b, parts.softplus_neg()),
    )
    if not need_grad:
        return loss, None
    sig, sig_neg = parts.sigmoids()
    return loss, a * sig - b * sig_neg


def _torch_logistic_terms(a: Any, b: Any, x: Any, need_grad: bool) -> tuple[Any, Any]:
    import torch

    loss = torch.clamp(x, min=0).mul_(a)
    scratch = torch.clamp(x, max=0)
    loss.addcmul_(scratch, b, value=-1.0)  # a relu(x) + b relu(-x)
    # nan here is 0 * inf (or a nan of x, a, b: the log1p term below carries those)
    loss.nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    log1p_e = torch.abs(x, out=scratch).neg_().exp_().log1p_()
    loss.addcmul_(log1p_e, a).addcmul_(log1p_e, b)
    if not need_grad:
        return loss, None
    grad = torch.sigmoid(x).mul_(a)
    sig_neg = torch.neg(x, out=scratch).sigmoid_()
    return loss, grad.addcmul_(sig_neg, b, value=-1.0)


def log_floored(xp: Any, p: Array, floor: float, *, complement: bool = False) -> Array:
    """max(log(p), floor), or max(log(1 - p), floor) (as log1p(-p)) with `complement`,
    `floor` where p is 0 (1), without evaluating log(0) (no divide warning), for p in
    [0, 1]. torch: the log (log 0 = -inf there, silently) clamped in place."""
    if torch_in_place(xp, p):
        import torch

        log = torch.neg(p).log1p_() if complement else torch.log(p)
        return log.clamp_(min=floor)
    positive, value, log = (p < 1, -p, xp.log1p) if complement else (p > 0, p, xp.log)
    safe = xp.where(positive, value, xp.ones_like(value))
    return xp.where(positive, xp.clip(log(safe), min=floor), xp.full_like(value, floor))


def plus_product_owned(
    xp: Any, owned: Array, a: Array | float, b: Array, *, scale: float = 1.0
) -> Array:
    """owned + scale (a * b) (scale 1 or -1), `owned` a temporary of the caller's (torch:
    add_ or addcmul_ in place, where a * b broadcasts to its shape)."""
    if isinstance(a, int | float):
        if torch_in_place(xp, owned, b) and b.shape == owned.shape:
            return owned.add_(b, alpha=scale * a)
    elif torch_in_place(xp, owned, a, b) and broadcast_shape(tuple(a.shape), tuple(b.shape)) in (
        tuple(owned.shape),
        tuple(owned.shape)[1:],
    ):
        return owned.addcmul_(a, b, value=scale)
    return owned + a * b if scale == 1 else owned - a * b


def exp_owned(xp: Any, owned: Array) -> Array:
    """exp(owned), `owned` a temporary of the caller's (torch: exp_ in place)."""
    return owned.exp_() if torch_in_place(xp, owned) else xp.exp(owned)


def class_sum(
    xp: Any, coef: Array, logp: Array, coef_total: Array, *, whole_rows: bool = False
) -> Array:
    """sum_c coef_c logp_c over the last axis, a term 0 where its coefficient is (a -inf
    log-probability with coefficient 0 gives 0, :func:`times_or_zero`); coef broadcasts
    to logp's shape, `coef_total` is its sum over the classes. torch: the products with
    zero coefficients taken as 0 (in place), then a row that held a nan made nan again: one of
    coef (its total is nan) or of logp (its maximum is; with `whole_rows`, logp's rows
    are nan throughout or nowhere, as log_softmax's, and its first class tells)."""
    if logp.shape[-1] == 0 or not torch_in_place(xp, coef, logp, coef_total):
        return xp.sum(times_or_zero(xp, coef, logp), axis=-1)
    import torch

    # 0 where the coefficient is (0 * -inf = 0); every other nan stays (inf * 0 too)
    products = torch.mul(logp, coef).masked_fill_(coef == 0, 0.0)
    total = products.sum(dim=-1)
    probe = logp[..., 0] if whole_rows else torch.amax(logp, dim=-1)
    return torch.where(torch.isnan(probe) | torch.isnan(coef_total), math.nan, total)


def zero_rows(xp: Any, grad: Array, keep: Array) -> Array:
    """where(keep[..., None], grad, 0), for a gradient `grad` that is a temporary of the
    caller's (torch: filled in place, one pass, no allocation of the size of grad)."""
    if not torch_in_place(xp, grad, keep):
        return xp.where(xp.expand_dims(keep, axis=-1), grad, xp.zeros_like(grad))
    return grad.masked_fill_(~keep[..., None], 0.0)


def product_or_zero(xp: Any, coef: Array, value: Array) -> Array:
    """coef * value with 0 where coef is 0 and value infinite (:func:`times_or_zero`), for a
    term added to one that carries any nan of the inputs: torch takes every nan of the
    product as 0 (one multiply and nan_to_num in place, no select)."""
    if torch_in_place(xp, coef, value):
        import torch

        return torch.mul(coef, value).nan_to_num_(nan=0.0, posinf=math.inf, neginf=-math.inf)
    return times_or_zero(xp, coef, value)


def add_at_last(xp: Any, array: Array, index: Array, values: Array) -> Array:
    """array[..., index] + values along the last axis (index and values of shape
    array.shape[:-1]): torch scatters into `array` (which must be a temporary of the
    caller's), others add a one-hot selection."""
    if torch_in_place(xp, array, values):
        return array.scatter_add_(-1, index[..., None], values[..., None])
    hot = one_hot(xp, index, array.shape[-1])
    return array + xp.where(hot, xp.expand_dims(values, axis=-1), xp.zeros_like(array))


def times_owned(xp: Any, owned: Array, factor: Array | float) -> Array:
    """owned * factor, where `owned` is a temporary of the caller's (torch multiplies it
    in place when `factor`, an array or a number, broadcasts to its shape)."""
    if isinstance(factor, int | float) and torch_in_place(xp, owned):
        return owned.mul_(factor)
    if torch_in_place(xp, owned, factor) and broadcasts_to(tuple(factor.shape), owned.shape):
        return owned.mul_(factor)
    return owned * factor


def clip_owned(xp: Any, owned: Array, minimum: float) -> Array:
    """max(owned, minimum) (nan stays nan), `owned` a temporary of the caller's."""
    if torch_in_place(xp, owned):
        return owned.clamp_(min=minimum)
    return xp.clip(owned, min=minimum)


def divide_owned(xp: Any, owned: Array, other: Array) -> Array:
    """owned / other, `owned` a temporary of the caller's (other of its shape)."""
    if torch_in_place(xp, owned, other) and broadcasts_to(tuple(other.shape), owned.shape):
        return owned.div_(other)
    return owned / other


def minus_owned(xp: Any, owned: Array, other: Array) -> Array:
    """owned - other, `owned` a temporary of the caller's (as :func:`times_owned`)."""
    if torch_in_place(xp, owned, other) and broadcasts_to(tuple(other.shape), owned.shape):
        return owned.sub_(other)
    return owned - other


def sigmoids(xp: Any, x: Array) -> tuple[Array, Array]:
    """(sigmoid(x), sigmoid(-x)), each accurate in its tail (torch: torch.sigmoid)."""
    if torch_in_place(xp, x):
        import torch

        return torch.sigmoid(x), torch.neg(x).sigmoid_()
    return SigmoidParts(xp, x).sigmoids()


def sigmoid(xp: Any, x: Array) -> Array:
    return SigmoidParts(xp, x).sigmoids()[0]


def log_softmax(xp: Any, x: Array) -> Array:
    """log(softmax(x)) over the last axis: x - max - log(sum(exp(x - max))).

    With the row maximum subtracted no exp overflows (|x| = 1e4 is fine), the
    sum is at least 1 so its log never sees 0, and a -inf logit gives exactly
    -inf. A row whose maximum is not finite (a +inf or nan logit, or all -inf)
    has no softmax: it gives nan, as in PyTorch, without a RuntimeWarning.
    """
    if x.shape[-1] == 0:
        return xp.zeros_like(x)  # not x itself: callers may own (write into) the result
    if torch_in_place(xp, x):  # torch's fused kernel: the same rule, nan rows included
        import torch

        return torch.log_softmax(x, dim=-1)
    offset, _, norm = softmax_parts(xp, x)
    return (x - offset) - xp.log(norm)


def softmax_parts(xp: Any, x: Array) -> tuple[Array, Array, Array]:
    """(offset, exps, norm) over the last axis, offset and norm of shape (..., 1), with
    log_softmax(x) = (x - offset) - log(norm) (see :func:`log_softmax`) and softmax(x) =
    exps / norm: the row maximum (nan where it is not finite, so that the whole row is
    nan), exp(x - offset) and its sum. A caller that needs
    log_softmax at a few classes only takes them from x (no array of log-probabilities),
    and the softmax from exps (no second exp).

    The offset is a constant to autodiff: log_softmax does not depend on it, and its
    derivative (through a maximum) would cost passes over x that add zero.
    """
    top = xp.max(x, axis=-1, keepdims=True)
    offset = stop_gradient(xp, xp.where(xp.isfinite(top), top, xp.full_like(top, math.nan)))
    exps = xp.exp(x - offset)
    return offset, exps, xp.sum(exps, axis=-1, keepdims=True)


def one_hot(xp: Any, index: Array, n: int) -> Array:
    """Boolean one-hot along a new last axis: integer (...) -> (..., n)."""
    classes = xp.arange(n, device=device_of(index))
    return classes == xp.expand_dims(index, axis=-1)


def take_last(xp: Any, x: Array, index: Array) -> Array:
    """x[..., index] along the last axis: x (..., C), integer index (...) in [0, C).

    ``take_along_axis`` where the namespace has it (array API 2024.12), else a
    one-hot selection (dask), which never multiplies, so an infinite value in
    another class cannot leak in as 0 * inf.
    """
    if x.shape[-1] == 0:  # no class to take: only reached for positions masked out
        return xp.zeros(tuple(index.shape), dtype=x.dtype, device=device_of(x))
    take_along_axis = getattr(xp, "take_along_axis", None)
    if take_along_axis is None:
        return take_last_one_hot(xp, x, index)
    return take_along_axis(x, xp.expand_dims(index, axis=-1), axis=-1)[..., 0]


def take_last_one_hot(xp: Any, x: Array, index: Array) -> Array:
    """`take_last` by a one-hot mask (for namespaces without take_along_axis)."""
    hot = one_hot(xp, index, x.shape[-1])
    return xp.sum(xp.where(hot, x, xp.zeros_like(x)), axis=-1)


def take_1d(xp: Any, values: Array, index: Array) -> Array:
    """values[index] for a 1-D `values` and an integer `index` of any shape."""
    flat = xp.take(values, xp.reshape(index, (-1,)), axis=0)
    return xp.reshape(flat, tuple(index.shape))


def log_or_minus_inf(xp: Any, a: Array) -> Array:
    """log(a) for a >= 0: -inf at 0, nan below 0 (and at nan), without a RuntimeWarning.
    The values where a is not positive are constants, so autodiff gives them gradient 0
    (not the nan of an `a * nan`)."""
    positive = a > 0
    logs = xp.log(xp.where(positive, a, xp.ones_like(a)))
    undefined = xp.where(a == 0, xp.full_like(a, -math.inf), xp.full_like(a, math.nan))
    return xp.where(positive, logs, undefined)


def divide_or_nan(xp: Any, numerator: Array, denominator: Array | int | float) -> Array:
    """numerator / denominator, nan (without a warning) where the denominator is 0.

    The nan is ``numerator * nan``, so that autodiff carries it to whatever the
    numerator depends on, as the frameworks' plain 0 / 0 does (PyTorch's gradient of a
    'mean' over zero total weight is nan), where a constant nan would give gradient 0.
    """
    if not is_array(denominator):
        return numerator * math.nan if denominator == 0 else numerator / denominator
    zero = denominator == 0
    safe = xp.where(zero, xp.ones_like(denominator), denominator)
    # nan only where selected: an unselected numerator * nan would poison the gradient
    # of the other branch (autodiff takes 0 * nan there)
    nan_or_one = xp.where(zero, xp.full_like(safe, math.nan), xp.ones_like(safe))
    return xp.where(zero, numerator * nan_or_one, numerator / safe)


def divide_or_zero(xp: Any, numerator: Array, denominator: Array | int | float) -> Array:
    """numerator / denominator, 0 where the denominator is 0 (Keras' divide_no_nan)."""
    if not is_array(denominator):
        return xp.zeros_like(numerator) if denominator == 0 else numerator / denominator
    zero = denominator == 0
    safe = xp.where(zero, xp.ones_like(denominator), denominator)
    return xp.where(zero, xp.zeros_like(numerator), numerator / safe)
