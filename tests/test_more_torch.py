"""multilabel_soft_margin_loss, soft_margin_loss and kl_div (PyTorch convention, top level
and xent.nn): values and gradients against torch.nn.functional and torch.nn on
hypothesis-generated cases, the reductions and legacy arguments with their warnings,
broadcasting, dtypes, the errors, extreme values against mpmath, torch autograd (double
backward included) through xent, and jax.grad."""

from __future__ import annotations

import math
import pickle
import warnings

import hypothesis.extra.numpy as hnp
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent
from helpers import assert_close, conditioned_tol, largest, to_torch, tol, torch_value_and_grad

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]
KL_REDUCTIONS = ["none", "mean", "sum", "batchmean"]
mpmath.mp.dps = 50


def no_warnings_of(fn, *args, **kwargs):
    """fn(...) with its warnings recorded: (result, [messages])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(*args, **kwargs)
    return result, [str(w.message) for w in caught]


def quiet(fn):
    """fn with kl_div's 'mean' warning (checked in its own tests) silenced."""

    def call(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "reduction: 'mean' divides", UserWarning)
            return fn(*args, **kwargs)

    return call


# --------------------------------------------------------------------------- strategies


@st.composite
def broadcast_variant(draw, shape):
    """A shape that broadcasts to `shape`: a suffix of it with some sides 1."""
    k = draw(st.integers(0, len(shape)))
    return tuple(draw(st.sampled_from([1, s])) for s in shape[len(shape) - k :])


def uniform(rng, shape, low=0.0, high=1.0):
    return rng.uniform(low, high, size=shape)


@st.composite
def multilabel_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.normal(size=shape) * draw(st.sampled_from([1.0, 10.0, 50.0]))
    target_shape = draw(st.one_of(st.just(shape), broadcast_variant(shape)))
    kind = draw(st.sampled_from(["hard", "soft", "int"]))
    y = rng.integers(0, 2, size=target_shape) if kind != "soft" else uniform(rng, target_shape)
    y = y if kind == "int" else y.astype(dtype)
    weight = None
    if draw(st.booleans()):
        weight_shape = draw(st.one_of(st.just(shape[-1:]), broadcast_variant(shape)))
        weight = uniform(rng, weight_shape, 0.0, 3.0).astype(dtype)
    return x.astype(dtype), y, weight, draw(st.sampled_from(REDUCTIONS))


@st.composite
def soft_margin_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # torch's log1p(exp(-y x)) overflows float32 beyond 88: stay below it here
    x = (rng.normal(size=shape) * draw(st.sampled_from([1.0, 5.0, 20.0]))).astype(dtype)
    target_shape = draw(st.one_of(st.just(shape), broadcast_variant(shape)))
    kind = draw(st.sampled_from(["sign", "int", "bool", "any"]))
    sign = rng.integers(0, 2, size=target_shape)
    y = {
        "sign": (2.0 * sign - 1.0).astype(dtype),
        "int": 2 * sign - 1,
        "bool": sign.astype(bool),
        "any": rng.normal(size=target_shape).astype(dtype),
    }[kind]
    # |y x| < 80 with the targets of any size too (the extremes: the mpmath test)
    largest_y = max(1.0, float(np.abs(np.asarray(y, dtype=float)).max(initial=0.0)))
    x = np.clip(x, -80 / largest_y, 80 / largest_y).astype(dtype)
    return x, y, draw(st.sampled_from(REDUCTIONS))


@st.composite
def kl_case(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    input_shape = draw(st.one_of(st.just(shape), broadcast_variant(shape)))
    target_shape = draw(st.one_of(st.just(shape), broadcast_variant(shape)))
    logits = rng.normal(size=input_shape) * draw(st.sampled_from([1.0, 5.0]))
    x = logits
    if logits.ndim:
        with np.errstate(divide="ignore"):  # no classes: log 0 = -inf, broadcast over nothing
            x = logits - np.log(np.sum(np.exp(logits), axis=-1, keepdims=True))
    t = rng.dirichlet(np.ones(target_shape[-1]), size=target_shape[:-1]) if target_shape else 0.3
    t = np.asarray(t, dtype=np.float64).reshape(target_shape)
    t = np.where(rng.uniform(size=target_shape) < 0.2, 0.0, t)  # zeros: t log t = 0
    log_target = draw(st.booleans())
    if log_target:  # a zero target as log 0 = -inf: torch's 0 * inf = nan, tested apart
        t = np.log(np.maximum(t, 1e-30))
    reduction = draw(st.sampled_from(KL_REDUCTIONS))
    return x.astype(dtype), t.astype(dtype), log_target, reduction


def sum_scale(reduction, *shapes):
    """How many terms a reduced value adds up (1 for 'none' and 'mean')."""
    if reduction in ("sum", "batchmean"):
        return max(1, math.prod(np.broadcast_shapes(*shapes)))
    return 1


# --------------------------------------------------------------------------- parity


@given(multilabel_case())
def test_multilabel_soft_margin_matches_torch(torch, case):
    x, y, weight, reduction = case
    want, want_grad = torch_value_and_grad(
        torch, "multilabel_soft_margin_loss", x, y, weight, reduction=reduction
    )
    got = xent.multilabel_soft_margin_loss(x, y, weight, reduction=reduction)
    loss, grad = xent.value_and_grad(xent.multilabel_soft_margin_loss)(
        x, y, weight, reduction=reduction
    )
    assert got.dtype == want.dtype and got.shape == want.shape
    t = conditioned_tol(x.dtype, x, weight, reduction="none")
    t["atol"] *= sum_scale(reduction, x.shape, y.shape, np.shape(weight))
    # torch's nan (x = +-inf cannot occur here; C = 0 gives 0/0) is reproduced
    np.testing.assert_allclose(got, want, **t)
    np.testing.assert_array_equal(loss, got)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    gtol = conditioned_tol(x.dtype, np.ones(1), weight)
    gtol["atol"] *= sum_scale("sum", y.shape, np.shape(weight))  # summed over broadcasting
    np.testing.assert_allclose(grad, want_grad, **gtol)


@given(soft_margin_case())
def test_soft_margin_matches_torch(torch, case):
    x, y, reduction = case
    # torch's backward refuses bool targets (its forward takes them as 0/1: see the dtype test)
    ty = y.astype(x.dtype) if y.dtype == bool else y
    want, want_grad = torch_value_and_grad(torch, "soft_margin_loss", x, ty, reduction=reduction)
    loss, grad = xent.value_and_grad(xent.soft_margin_loss)(x, y, reduction=reduction)
    assert loss.dtype == want.dtype == x.dtype and loss.shape == want.shape
    np.testing.assert_array_equal(xent.soft_margin_loss(x, y, reduction=reduction), loss)
    # -y x is rounded once: absolute error ~ eps |y x| per term
    t = conditioned_tol(x.dtype, x * np.abs(np.asarray(y, dtype=x.dtype)), reduction=reduction)
    np.testing.assert_allclose(loss, want, **t)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    gtol = conditioned_tol(x.dtype, np.ones(1), np.asarray(y, dtype=float) * (1 + largest(x)))
    np.testing.assert_allclose(grad, want_grad, **gtol)


@given(kl_case())
def test_kl_div_matches_torch(torch, case):
    x, t, log_target, reduction = case
    want, want_grad = quiet(torch_value_and_grad)(
        torch, "kl_div", x, t, reduction=reduction, log_target=log_target
    )
    loss, grad = quiet(xent.value_and_grad(xent.kl_div))(
        x, t, reduction=reduction, log_target=log_target
    )
    assert loss.dtype == want.dtype and loss.shape == want.shape
    scale = (1.0 + largest(x) + largest(t)) * sum_scale(reduction, x.shape, t.shape)
    np.testing.assert_allclose(loss, want, **tol(x.dtype, 64, scale))
    np.testing.assert_array_equal(
        quiet(xent.kl_div)(x, t, reduction=reduction, log_target=log_target), loss
    )
    assert grad.dtype == x.dtype and grad.shape == x.shape
    summed = sum_scale("sum", x.shape, t.shape)
    np.testing.assert_allclose(grad, want_grad, **tol(x.dtype, 64, summed))


@pytest.mark.parametrize(
    ("input_shape", "target_shape", "weight_shape"),
    [
        ((3, 4), (3, 4), (4,)),
        ((3, 4), (3, 4), (3, 1)),
        ((3, 4), (3, 4), ()),
        ((3, 4), (4,), None),
        ((3, 4), (3, 1), None),
        ((4,), (3, 4), None),  # the class axis (0) of the broadcast (3, 4) sums over 3
        ((1, 4), (3, 4), None),
        ((3, 4), (3, 4), (2, 3, 4)),  # a weight that grows the result, as in torch
        ((2, 3, 4), (2, 3, 4), (4,)),
        ((4,), (4,), (4,)),
    ],
    ids=str,
)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_multilabel_broadcasting_matches_torch(
    torch, input_shape, target_shape, weight_shape, reduction
):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=input_shape), rng.uniform(size=target_shape)
    w = None if weight_shape is None else rng.uniform(0.5, 2.0, size=weight_shape)
    want, want_grad = torch_value_and_grad(
        torch, "multilabel_soft_margin_loss", x, y, w, reduction=reduction
    )
    loss, grad = xent.value_and_grad(xent.multilabel_soft_margin_loss)(x, y, w, reduction=reduction)
    assert loss.shape == want.shape
    np.testing.assert_allclose(loss, want, rtol=1e-13)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize(
    ("input_shape", "target_shape"),
    [((3, 4), (4,)), ((4,), (3, 4)), ((3, 1), (1, 4)), ((), (3,)), ((2, 3), ())],
    ids=str,
)
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
def test_kl_div_broadcasting_matches_torch(torch, input_shape, target_shape, reduction):
    """PyTorch broadcasts input and target silently; 'batchmean' divides by the input's
    first dimension, not the broadcast one."""
    rng = np.random.default_rng(1)
    x, t = -rng.uniform(0.1, 3.0, size=input_shape), rng.uniform(size=target_shape)
    want, want_grad = quiet(torch_value_and_grad)(torch, "kl_div", x, t, reduction=reduction)
    loss, grad = quiet(xent.value_and_grad(xent.kl_div))(x, t, reduction=reduction)
    assert loss.shape == want.shape
    np.testing.assert_allclose(loss, want, rtol=1e-13)
    np.testing.assert_allclose(grad, want_grad, rtol=1e-13)


def test_soft_margin_target_broadcasts_to_the_input_only(torch):
    x, y = np.array([0.5, -1.0, 2.0]), np.array([1.0])
    want = torch.nn.functional.soft_margin_loss(torch.tensor(x), torch.tensor(y), reduction="none")
    np.testing.assert_allclose(xent.soft_margin_loss(x, y, reduction="none"), want, rtol=1e-15)
    with pytest.raises(RuntimeError):  # the input may not grow
        torch.nn.functional.soft_margin_loss(torch.tensor(y), torch.tensor(x))
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not broadcast"):
        xent.soft_margin_loss(y, x)


# --------------------------------------------------------------------------- dtypes


@pytest.mark.parametrize(
    ("fn", "input_dtype", "target_dtype", "weight_dtype"),
    [
        ("kl_div", "float16", "float64", None),
        ("kl_div", "float64", "float32", None),
        ("soft_margin_loss", "float32", "float64", None),
        ("soft_margin_loss", "float16", "float32", None),
        ("soft_margin_loss", "float32", "int64", None),
        ("soft_margin_loss", "float32", "bool", None),
        ("multilabel_soft_margin_loss", "float32", "float64", None),
        ("multilabel_soft_margin_loss", "float32", "float32", "float64"),
        ("multilabel_soft_margin_loss", "float16", "int64", None),
        ("multilabel_soft_margin_loss", "float32", "float32", "int64"),
        ("multilabel_soft_margin_loss", "float32", "float32", "bool"),
    ],
    ids=str,
)
def test_result_dtype_matches_torch(torch, fn, input_dtype, target_dtype, weight_dtype):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(3, 4)).astype(input_dtype)
    y = rng.integers(0, 2, size=(3, 4)).astype(target_dtype)
    args = (x, y) if weight_dtype is None else (x, y, np.ones(4, dtype=weight_dtype))
    want = getattr(torch.nn.functional, fn)(*(torch.from_numpy(a) for a in args), reduction="sum")
    got = getattr(xent, fn)(*args, reduction="sum")
    assert got.dtype == np.dtype(str(want.dtype).removeprefix("torch."))
    rtol = 4e-3 if "float16" in (input_dtype, target_dtype) else 1e-5
    np.testing.assert_allclose(got.astype(float), want.double().numpy(), rtol=rtol)


@pytest.mark.parametrize("fn", ["kl_div", "soft_margin_loss", "multilabel_soft_margin_loss"])
def test_float16_is_computed_in_float32(torch, fn):
    """torch CPU computes all three in float16 too; xent in float32, rounded once."""
    rng = np.random.default_rng(3)
    x = -rng.uniform(0.01, 4.0, size=(6, 5)).astype(np.float16)
    y = rng.uniform(size=(6, 5)).astype(np.float16)
    got, grad = xent.value_and_grad(getattr(xent, fn))(x, y, reduction="none")
    assert got.dtype == grad.dtype == np.float16
    want, want_grad = xent.value_and_grad(getattr(xent, fn))(
        x.astype(np.float32), y.astype(np.float32), reduction="none"
    )
    np.testing.assert_array_equal(got, want.astype(np.float16))
    np.testing.assert_array_equal(grad, want_grad.astype(np.float16))
    theirs, their_grad = torch_value_and_grad(torch, fn, x, y, reduction="none")
    np.testing.assert_allclose(got.astype(float), theirs.astype(float), rtol=4e-3, atol=4e-3)
    np.testing.assert_allclose(grad.astype(float), their_grad.astype(float), rtol=4e-3, atol=1e-3)


# --------------------------------------------------------------------------- reductions


LEGACY = [(None, None), (True, None), (False, None), (None, False), (True, True), (False, True)]


@pytest.mark.parametrize(("size_average", "reduce"), LEGACY, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("fn", ["kl_div", "soft_margin_loss", "multilabel_soft_margin_loss"])
def test_legacy_arguments_and_warnings_match_torch(torch, fn, size_average, reduce, reduction):
    """Values and the exact warnings, kl_div's quirks included: a 'batchmean' given with
    the legacy arguments still divides their result by the batch size, and the legacy
    'mean' does not give the KL 'mean' warning."""
    rng = np.random.default_rng(4)
    x, y = -rng.uniform(0.1, 2.0, size=(3, 4)), rng.uniform(size=(3, 4))
    kwargs = {"size_average": size_average, "reduce": reduce, "reduction": reduction}
    ours, theirs = getattr(xent, fn), getattr(torch.nn.functional, fn)
    try:
        want, their_warnings = no_warnings_of(theirs, torch.tensor(x), torch.tensor(y), **kwargs)
    except ValueError:
        with pytest.raises(ValueError, match="is not a valid value for reduction"):
            no_warnings_of(ours, x, y, **kwargs)
        return
    got, our_warnings = no_warnings_of(ours, x, y, **kwargs)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-14)
    assert our_warnings == their_warnings


def test_kl_div_mean_warning_is_torchs(torch):
    x, t = np.log(np.full((2, 2), 0.5)), np.full((2, 2), 0.5)
    with pytest.warns(UserWarning) as theirs:
        torch.nn.functional.kl_div(torch.tensor(x), torch.tensor(t))
    with pytest.warns(UserWarning) as ours:
        xent.kl_div(x, t)
    assert [str(w.message) for w in ours] == [str(w.message) for w in theirs]
    assert "'batchmean' divides only by the batch size" in str(ours[0].message)


@pytest.mark.parametrize("fn", ["kl_div", "soft_margin_loss", "multilabel_soft_margin_loss"])
def test_elementwise_mean(torch, fn):
    """'mean' with a warning for kl_div and soft_margin_loss; refused by
    multilabel_soft_margin_loss, whose own check knows only three reductions."""
    x, y = np.full((2, 3), -0.5), np.full((2, 3), 0.25)
    theirs = getattr(torch.nn.functional, fn)
    if fn == "multilabel_soft_margin_loss":
        with pytest.raises(ValueError):
            theirs(torch.tensor(x), torch.tensor(y), reduction="elementwise_mean")
        with pytest.raises(ValueError, match="'elementwise_mean' is not a valid value"):
            xent.multilabel_soft_margin_loss(x, y, reduction="elementwise_mean")
        return
    want, their_warnings = no_warnings_of(
        theirs, torch.tensor(x), torch.tensor(y), reduction="elementwise_mean"
    )
    got, our_warnings = no_warnings_of(getattr(xent, fn), x, y, reduction="elementwise_mean")
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-15)
    assert (
        our_warnings
        == their_warnings
        == ["reduction='elementwise_mean' is deprecated. Please use reduction='mean' instead."]
    )


@pytest.mark.parametrize(
    ("fn", "shape", "reduction"),
    [
        ("kl_div", (0, 3), "batchmean"),
        ("kl_div", (3, 0), "batchmean"),
        ("kl_div", (0, 3), "mean"),
        ("kl_div", (0,), "sum"),
        ("kl_div", (), "batchmean"),  # 0-d: the sum, not divided
        ("kl_div", (), "mean"),
        ("soft_margin_loss", (0, 4), "mean"),
        ("soft_margin_loss", (0, 4), "sum"),
        ("soft_margin_loss", (), "none"),
        ("multilabel_soft_margin_loss", (0, 4), "mean"),
        ("multilabel_soft_margin_loss", (3, 0), "none"),  # 0 / 0 per sample
        ("multilabel_soft_margin_loss", (3, 0), "sum"),
        ("multilabel_soft_margin_loss", (4,), "none"),  # one sample: a 0-d result
        ("multilabel_soft_margin_loss", (0,), "mean"),
    ],
    ids=str,
)
def test_edge_shapes_match_torch(torch, fn, shape, reduction):
    rng = np.random.default_rng(5)
    x, y = -rng.uniform(0.1, 2.0, size=shape), rng.uniform(size=shape)
    want, want_grad = quiet(torch_value_and_grad)(torch, fn, x, y, reduction=reduction)
    loss, grad = quiet(xent.value_and_grad(getattr(xent, fn)))(x, y, reduction=reduction)
    assert loss.shape == want.shape
    np.testing.assert_allclose(loss, want, rtol=1e-14)  # nan where torch has nan
    np.testing.assert_allclose(grad, want_grad, rtol=1e-14)


# --------------------------------------------------------------------------- bad input


def t_(torch, *arrays):
    return [to_torch(torch, a) for a in arrays]


BAD = [
    # (function, input, target, kwargs, xent's error, match)
    ("multilabel_soft_margin_loss", np.array(1.0), np.array(1.0), {}, ValueError, "0-d"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4)), np.zeros((2, 4)), {}, ValueError,
     r"input \(3, 4\), target \(2, 4\) do not broadcast"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4)), np.zeros((3, 4)),
     {"weight": np.ones(3)}, ValueError, "do not broadcast"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4)), np.zeros((3, 4), bool), {}, TypeError,
     "target has dtype bool"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4), np.int64), np.zeros((3, 4)), {},
     TypeError, "input must be a floating-point array"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4)), np.zeros((3, 4)),
     {"reduction": "batchmean"}, ValueError, "'batchmean' is not a valid value for reduction"),
    ("multilabel_soft_margin_loss", np.zeros((3, 4)), np.zeros((3, 4)),
     {"reduction": "avg"}, ValueError, "'avg' is not a valid value for reduction"),
    ("soft_margin_loss", np.zeros((3, 4)), np.zeros((2, 4)), {}, ValueError,
     r"target of shape \(2, 4\) does not broadcast to the input's shape \(3, 4\)"),
    ("soft_margin_loss", np.zeros(3, np.int64), np.zeros(3), {}, TypeError,
     "input must be a floating-point array"),
    ("soft_margin_loss", np.zeros(3), np.zeros(3), {"reduction": "batchmean"}, ValueError,
     "'batchmean' is not a valid value for reduction"),
    ("soft_margin_loss", np.zeros(3), np.zeros(3), {"reduction": None}, ValueError,
     "None is not a valid value for reduction"),
    ("kl_div", np.zeros((3, 4)), np.zeros((2, 4)), {}, ValueError, "do not broadcast"),
    ("kl_div", np.zeros(3, np.int64), np.zeros(3), {}, TypeError,
     "input must be a floating-point array"),
    ("kl_div", np.zeros(3), np.zeros(3, np.int64), {}, TypeError, "target has dtype int64"),
    ("kl_div", np.zeros(3), np.zeros(3, bool), {}, TypeError, "target has dtype bool"),
    ("kl_div", np.zeros(3), np.zeros(3), {"reduction": "avg"}, ValueError,
     "'avg' is not a valid value for reduction; pass one of 'none', 'batchmean'"),
    ("kl_div", np.zeros(3), np.zeros(3), {"reduction": None}, ValueError,
     "None is not a valid value for reduction"),
    ("kl_div", np.zeros(3), np.zeros(3), {"log_target": 1}, TypeError,
     "log_target must be a bool"),
]  # fmt: skip


@pytest.mark.parametrize(("fn", "x", "y", "kwargs", "error", "match"), BAD, ids=repr)
def test_bad_input_raises_where_torch_raises(torch, fn, x, y, kwargs, error, match):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises((RuntimeError, ValueError, TypeError, IndexError, NotImplementedError)):
            tkwargs = {k: to_torch(torch, v) for k, v in kwargs.items()}
            getattr(torch.nn.functional, fn)(*t_(torch, x, y), **tkwargs)
        with pytest.raises(error, match=match):
            getattr(xent, fn)(x, y, **kwargs)


# --------------------------------------------------------------------------- extreme values


def mp_softplus(z) -> mpmath.mpf:
    return mpmath.log1p(mpmath.exp(z))


def mp_sigmoid(z) -> mpmath.mpf:
    return 1 / (1 + mpmath.exp(-z))


EXTREME = [0.0, 1e-3, 1.0, 17.0, 40.0, 88.0, 100.0, 710.0, 1e4, np.inf]
EXTREME = sorted({s * v for v in EXTREME for s in (1.0, -1.0)})


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_soft_margin_extremes_against_mpmath(torch, dtype):
    """Exact at |x| up to 1e4 (torch overflows to inf, its gradient to nan, from |y x| =
    88 in float32 and 710 in float64), sensible at +-inf; where torch is finite, it agrees."""
    x = np.array(EXTREME * 3, dtype=dtype)
    y = np.repeat(np.array([1.0, -1.0, 0.5], dtype=dtype), len(EXTREME))
    loss, grad = xent.value_and_grad(xent.soft_margin_loss)(x, y, reduction="none")
    z = [-mpmath.mpf(float(a)) * mpmath.mpf(float(b)) for a, b in zip(x, y, strict=True)]
    want = np.array([float(mp_softplus(v)) if mpmath.isfinite(v) else max(float(v), 0) for v in z])
    want_grad = np.array(
        [float(-b * mp_sigmoid(v)) for v, b in zip(z, y.astype(float), strict=True)]
    )
    # -y x = 0.5 * 1e4 ... is exact in binary: the loss is within a few ulp
    assert_close(loss, want.astype(dtype), dtype, ulps=4)
    assert_close(grad, want_grad.astype(dtype), dtype, ulps=4)
    theirs, their_grad = torch_value_and_grad(torch, "soft_margin_loss", x, y, reduction="none")
    finite = np.isfinite(theirs) & np.isfinite(their_grad) & np.isfinite(x)
    assert finite.sum() > len(EXTREME)
    # torch's exp(-100) in float32 is one subnormal off (ours is correctly rounded)
    close = {"rtol": 4 * np.finfo(dtype).eps, "atol": 2 * np.finfo(dtype).smallest_subnormal}
    np.testing.assert_allclose(loss[finite], theirs[finite], **close)
    np.testing.assert_allclose(grad[finite], their_grad[finite], **close)


def test_soft_margin_zero_target_at_infinity():
    """y x is 0 where y = 0, even at x = +-inf (torch gives nan): the loss is log 2."""
    x = np.array([np.inf, -np.inf, np.nan])
    loss, grad = xent.value_and_grad(xent.soft_margin_loss)(x, np.zeros(3), reduction="none")
    np.testing.assert_array_equal(loss, [math.log(2), math.log(2), np.nan])
    np.testing.assert_array_equal(grad, [0.0, 0.0, np.nan])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_multilabel_extremes_against_mpmath(torch, dtype):
    """Per-sample means of stable softplus terms: at +-inf with the matching label the
    term is 0 (torch: nan), with the other one inf; at +-1e4 exact."""
    values = np.array(EXTREME, dtype=dtype)
    x = np.resize(np.concatenate([values, values[::-1]]), (10, 4))
    y = (np.arange(x.size).reshape(x.shape) % 3 == 0).astype(dtype)
    w = np.array([1.0, 0.5, 2.0, 1e-3], dtype=dtype)
    loss, grad = xent.value_and_grad(xent.multilabel_soft_margin_loss)(x, y, w, reduction="none")

    def term(a, b):
        a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
        if mpmath.isinf(a):
            wrong = b if a < 0 else 1 - b  # the coefficient of the infinite softplus
            return mpmath.inf if wrong else mpmath.mpf(0)
        return (1 - b) * mp_softplus(a) + b * mp_softplus(-a)

    def row(r, s):
        return sum(mpmath.mpf(float(wc)) * term(a, b) for a, b, wc in zip(r, s, w, strict=True))

    want = np.array([float(row(r, s) / 4) for r, s in zip(x, y, strict=True)])

    def dterm(a, b):  # (1 - b) sigmoid(a) - b sigmoid(-a): sigmoid(a) - b without cancelling
        a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
        return (1 - b) * mp_sigmoid(a) - b * mp_sigmoid(-a)

    dwant = np.array(
        [
            [float(float(wc) * dterm(a, b) / 4) for a, b, wc in zip(r, s, w, strict=True)]
            for r, s in zip(x, y, strict=True)
        ]
    )
    assert_close(loss, want.astype(dtype), dtype, ulps=8)
    assert_close(grad, dwant.astype(dtype), dtype, ulps=8)
    theirs, their_grad = torch_value_and_grad(
        torch, "multilabel_soft_margin_loss", x, y, w, reduction="none"
    )
    finite = np.isfinite(theirs)
    assert finite.sum() >= 2
    np.testing.assert_allclose(loss[finite], theirs[finite], rtol=64 * np.finfo(dtype).eps)
    finite = np.isfinite(their_grad)
    close = {"rtol": 64 * np.finfo(dtype).eps, "atol": 2 * np.finfo(dtype).smallest_subnormal}
    np.testing.assert_allclose(grad[finite], their_grad[finite], **close)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("log_target", [False, True], ids=["probs", "log_target"])
def test_kl_div_extremes_against_mpmath(torch, dtype, log_target):
    """log q from -1e4 to 0 and -inf, targets 0, tiny, 1: within a few ulp of mpmath;
    a zero target against log q = -inf gives 0 (torch: nan)."""
    logq = np.array([-1e4, -710.0, -100.0, -1.0, 0.0, -np.inf], dtype=dtype)
    probs = np.array([0.0, 1e-30, 0.5, 1.0], dtype=dtype)
    x, p = (a.ravel() for a in np.meshgrid(logq, probs))
    with np.errstate(divide="ignore"):
        t = np.log(p) if log_target else p
    loss, grad = xent.value_and_grad(xent.kl_div)(x, t, reduction="none", log_target=log_target)

    def reference(a, b):
        a, b = mpmath.mpf(float(a)), mpmath.mpf(float(b))
        pb = mpmath.exp(b) if log_target else b
        if pb == 0:
            return 0.0
        logp = b if log_target else mpmath.log(b)
        return float(pb * (logp - a)) if mpmath.isfinite(a) else math.inf

    want = np.array([reference(a, b) for a, b in zip(x, t, strict=True)])
    with np.errstate(invalid="ignore"):  # 0 * inf
        scale = np.nan_to_num(np.abs(p * x))
    assert_close(loss, want.astype(dtype), dtype, ulps=8, scale=scale)
    want_grad = -np.exp(t.astype(float)) if log_target else -t.astype(float)
    assert_close(grad, want_grad.astype(dtype), dtype, ulps=4)
    theirs, _ = torch_value_and_grad(torch, "kl_div", x, t, reduction="none", log_target=log_target)
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(loss[finite], theirs[finite], rtol=8 * np.finfo(dtype).eps)
    assert np.all(loss[np.isnan(theirs)] == 0)  # 0 * -inf: torch's nan, the family's 0


# --------------------------------------------------------------------------- autograd


@pytest.mark.parametrize(
    "fn, reduction",
    [
        (fn, reduction)
        for fn in ["multilabel_soft_margin_loss", "soft_margin_loss", "kl_div"]
        for reduction in ["mean", "sum", "batchmean"]
        if reduction != "batchmean" or fn == "kl_div"  # batchmean is kl_div's only
    ],
)
def test_torch_autograd_through_xent_double_backward(torch, fn, reduction):
    """Gradients and second derivatives (torch.autograd.grad with create_graph) of xent
    on tensors equal torch's own."""
    rng = np.random.default_rng(6)
    x, y = -rng.uniform(0.1, 3.0, size=(3, 4)), rng.uniform(-1, 1, size=(3, 4))
    if fn == "kl_div":
        y = np.abs(y)
    w = rng.uniform(0.5, 2.0, size=4)
    extra = (torch.from_numpy(w),) if fn == "multilabel_soft_margin_loss" else ()

    def derivatives(loss_fn):
        tx = torch.from_numpy(x).requires_grad_()
        loss = quiet(loss_fn)(tx, torch.from_numpy(y), *extra, reduction=reduction)
        (g,) = torch.autograd.grad(loss, tx, create_graph=True)
        if not g.requires_grad:  # kl_div: the gradient -t does not depend on x
            return loss, g, torch.zeros_like(tx)
        (gg,) = torch.autograd.grad((g * torch.arange(12.0).reshape(3, 4)).sum(), tx)
        return loss, g, gg

    ours = derivatives(getattr(xent, fn))
    theirs = derivatives(getattr(torch.nn.functional, fn))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-12, atol=1e-15)


def test_jax_grad_through_kl_div():
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    rng = np.random.default_rng(7)
    x = jnp.asarray(np.log(rng.dirichlet(np.ones(4), size=3)), dtype=jnp.float32)
    t = jnp.asarray(rng.dirichlet(np.ones(4), size=3), dtype=jnp.float32)
    rtol = 4 * np.finfo(np.float32).eps
    for reduction, denominator in [("sum", 1), ("batchmean", 3), ("mean", 12), ("none", 1)]:

        def f(a, r=reduction):
            return jnp.sum(quiet(xent.kl_div)(a, t, reduction=r))

        np.testing.assert_allclose(jax.grad(f)(x), -t / denominator, rtol=rtol)
        want = quiet(xent.kl_div)(np.asarray(x), np.asarray(t), reduction=reduction)
        np.testing.assert_allclose(jax.jit(f)(x), np.sum(want), rtol=rtol)
    g = jax.grad(lambda a: xent.kl_div(a, jnp.log(t), reduction="sum", log_target=True))(x)
    np.testing.assert_allclose(g, -t, rtol=rtol)


# --------------------------------------------------------------------------- xent.nn


def module_pairs(torch):
    import xent.nn

    w = torch.tensor([0.5, 1.0, 2.0, 1.5], dtype=torch.float64)
    return [
        (xent.nn.KLDivLoss(), torch.nn.KLDivLoss()),
        (xent.nn.KLDivLoss(reduction="batchmean"), torch.nn.KLDivLoss(reduction="batchmean")),
        (
            xent.nn.KLDivLoss(reduction="sum", log_target=True),
            torch.nn.KLDivLoss(reduction="sum", log_target=True),
        ),
        (xent.nn.SoftMarginLoss(), torch.nn.SoftMarginLoss()),
        (xent.nn.SoftMarginLoss(reduction="none"), torch.nn.SoftMarginLoss(reduction="none")),
        (xent.nn.MultiLabelSoftMarginLoss(), torch.nn.MultiLabelSoftMarginLoss()),
        (
            xent.nn.MultiLabelSoftMarginLoss(weight=w, reduction="sum"),
            torch.nn.MultiLabelSoftMarginLoss(weight=w, reduction="sum"),
        ),
    ]


def test_modules_match_torch(torch):
    rng = np.random.default_rng(8)
    x, y = -rng.uniform(0.1, 3.0, size=(3, 4)), rng.uniform(size=(3, 4))
    for ours, theirs in module_pairs(torch):
        assert repr(ours) == repr(theirs)
        assert ours.reduction == theirs.reduction
        assert getattr(ours, "log_target", None) == getattr(theirs, "log_target", None)
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        target = np.log(y) if getattr(ours, "log_target", False) else y
        results = []
        for module in (ours, theirs):
            tx = torch.from_numpy(x).requires_grad_()
            loss = quiet(module)(tx, torch.from_numpy(target))
            loss.sum().backward()
            results.append((loss.detach().numpy(), tx.grad.numpy()))
        (a, ga), (b, gb) = results
        np.testing.assert_allclose(a, b, rtol=1e-13)
        np.testing.assert_allclose(ga, gb, rtol=1e-13)


def test_module_weight_is_a_buffer(torch):
    import xent.nn

    m = xent.nn.MultiLabelSoftMarginLoss(weight=torch.ones(4))
    assert set(m.state_dict()) == {"weight"} and set(dict(m.named_buffers())) == {"weight"}
    assert m.to(torch.float64).weight.dtype == torch.float64
    clone = pickle.loads(pickle.dumps(m))
    torch.testing.assert_close(clone.weight, m.weight)
    fresh = xent.nn.MultiLabelSoftMarginLoss(weight=torch.zeros(4, dtype=torch.float64))
    fresh.load_state_dict(torch.nn.MultiLabelSoftMarginLoss(weight=torch.ones(4)).state_dict())
    torch.testing.assert_close(fresh.weight, torch.ones(4, dtype=torch.float64))


@pytest.mark.parametrize(("size_average", "reduce"), LEGACY[1:], ids=str)
@pytest.mark.parametrize("name", ["KLDivLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss"])
def test_module_legacy_arguments_match_torch(torch, name, size_average, reduce):
    import xent.nn

    legacy = {"size_average": size_average, "reduce": reduce}
    ours, our_warnings = no_warnings_of(getattr(xent.nn, name), **legacy)
    theirs, their_warnings = no_warnings_of(getattr(torch.nn, name), **legacy)
    assert ours.reduction == theirs.reduction
    assert our_warnings == their_warnings
    x, y = torch.full((2, 3), -0.5), torch.full((2, 3), 0.25)
    a, our_call = no_warnings_of(ours, x, y)
    b, their_call = no_warnings_of(theirs, x, y)
    torch.testing.assert_close(a, b)
    assert our_call == their_call  # the KL 'mean' warning at each call, as torch


@pytest.mark.parametrize("name", ["KLDivLoss", "SoftMarginLoss", "MultiLabelSoftMarginLoss"])
def test_module_bad_reduction_is_refused_at_construction(torch, name):
    """torch refuses it at the first call; xent.nn already at construction."""
    import xent.nn

    with pytest.raises(ValueError):
        getattr(torch.nn, name)(reduction="avg")(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        getattr(xent.nn, name)(reduction="avg")
