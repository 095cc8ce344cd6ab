"""What the tests share: tolerances tied to the dtype, an ulp-bounded comparison,
central differences, conversions from and to the oracles' tensors, and PyTorch's value
and gradient by autograd.

Imported by the tests (``from helpers import tol``); the fixtures are in conftest.py.
"""

from __future__ import annotations

import numpy as np


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def largest(a) -> float:
    """The largest finite |a| (0 for None, an empty array or one without finite values)."""
    if a is None:
        return 0.0
    a = np.abs(np.asarray(a, dtype=np.float64))
    finite = a[np.isfinite(a)]
    return float(finite.max()) if finite.size else 0.0


def tol(dtype, ulps: float = 64, scale: float = 1.0) -> dict[str, float]:
    """`ulps` machine epsilons of the dtype, relative; absolute, times `scale`, the size of
    the terms the value is computed from."""
    e = ulps * eps(dtype)
    return {"rtol": e, "atol": e * scale}


def conditioned_tol(
    dtype,
    x,
    *weights,
    reduction: str = "none",
    classes: int = 1,
    offset: float = 1.0,
    summed: int = 1,
    ulps: float = 64,
) -> dict[str, float]:
    """`tol` with the conditioning of a loss of the inputs `x` as its scale: rounding in the
    stable forms (log-sum-exp, the logits loss) is absolute, ~ eps (offset + |x|) per
    term, not relative to a loss that may be tiny. The scale is
    (offset + largest |x|) * classes * prod(max(1, largest |w|) for w in weights),
    times the terms added: `summed`, and x.size for reduction='sum'."""
    scale = (offset + largest(x)) * classes
    for weight in weights:
        scale *= max(1.0, largest(weight))
    if reduction == "sum":
        scale *= max(1, np.size(x))
    return tol(dtype, ulps, scale * max(1, summed))


def assert_close(actual, expected, dtype, ulps: float, scale=None) -> None:
    """|actual - expected| <= ulps * eps(dtype) * (|expected| + scale), elementwise,
    with nan where the other has nan. `scale` bounds the magnitude of the terms the
    value is a difference of (0 when none cancels)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg="nan positions differ")
    same = (actual == expected) | nan  # infinities included
    bound = np.abs(expected) + (0.0 if scale is None else np.abs(np.asarray(scale, np.float64)))
    with np.errstate(invalid="ignore"):
        error = np.where(same, 0.0, np.abs(actual - expected))
        ok = same | (error <= ulps * eps(dtype) * bound + np.finfo(dtype).smallest_subnormal)
    if not np.all(ok):
        i = np.unravel_index(np.argmax(~ok), ok.shape) if ok.ndim else ()
        raise AssertionError(
            f"{np.count_nonzero(~ok)} of {ok.size} elements differ by more than {ulps} ulp; "
            f"first at {i}: actual {actual[i]!r}, expected {expected[i]!r}"
        )


def central_difference(f, x, h: float = eps(np.float64) ** (1 / 3), relative: bool = False):
    """d sum(f) / d x by central differences, one element at a time: a step of h
    (h * max(1, |x_i|) with `relative`); the default step eps^(1/3) makes the error
    ~ eps^(2/3) for a smooth f of order 1."""
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        step = h * max(1.0, abs(x[i])) if relative else h
        up, down = x.copy(), x.copy()
        up[i] += step
        down[i] -= step
        grad[i] = (np.sum(f(up)) - np.sum(f(down))) / (2 * step)
    return grad


def as_numpy(value):
    """A result of Keras' torch backend (or anything array-like) as NumPy
    (keras.ops.convert_to_numpy warns under NumPy 2)."""
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)


def to_torch(torch, value):
    """NumPy arrays as tensors; anything else (None, numbers, strings) as it is."""
    return torch.from_numpy(np.asarray(value)) if isinstance(value, np.ndarray) else value


def torch_value_and_grad(torch, fn, x, *args, **kwargs):
    """(fn(x, *args, **kwargs), d sum(fn) / d x) by PyTorch's autograd, as NumPy arrays.
    `fn` is a callable of tensors or the name of a torch.nn.functional loss; array
    arguments become tensors (`args` may hold None, and lists as targets)."""
    if isinstance(fn, str):
        fn = getattr(torch.nn.functional, fn)
    tx = torch.from_numpy(np.array(x)).requires_grad_(True)
    args = [None if a is None else torch.from_numpy(np.array(a)) for a in args]
    out = fn(tx, *args, **{k: to_torch(torch, v) for k, v in kwargs.items()})
    out.sum().backward()
    return out.detach().numpy(), tx.grad.numpy()
