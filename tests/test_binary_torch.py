"""Binary family, PyTorch convention: values and gradients against torch.nn.functional
(and torchvision's focal-loss formula written in torch), on hypothesis-generated cases."""

from __future__ import annotations

import math
import warnings

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import xent
from helpers import conditioned_tol, torch_value_and_grad

DTYPES = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


# --------------------------------------------------------------------------- strategies


@st.composite
def broadcast_operand(draw, shape, low=0.0, high=3.0):
    """None, or an array whose shape broadcasts to `shape` (a suffix with some 1s)."""
    if draw(st.booleans()):
        return None
    k = draw(st.integers(0, len(shape)))
    sub = tuple(draw(st.sampled_from([1, s])) for s in shape[len(shape) - k :])
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).uniform(low, high, size=sub)


@st.composite
def binary_case(draw, probabilities=False):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1.0, 10.0, 50.0]))
    x = rng.normal(size=shape) * scale
    if probabilities:
        x = 1.0 / (1.0 + np.exp(-x))
        # exact 0s and 1s, where the -100 clamp and the 1e-12 gradient eps act
        x = np.where(rng.uniform(size=shape) < 0.1, np.round(x), x)
    hard = draw(st.booleans())
    y = rng.integers(0, 2, size=shape).astype(float) if hard else rng.uniform(size=shape)
    weight = draw(broadcast_operand(shape))
    pos_weight = None if probabilities else draw(broadcast_operand(shape))
    reduction = draw(st.sampled_from(REDUCTIONS))
    cast = lambda a: None if a is None else np.asarray(a, dtype=dtype)  # noqa: E731
    return cast(x), cast(y), cast(weight), cast(pos_weight), reduction


# --------------------------------------------------------------------------- parity


@given(binary_case())
def test_with_logits_matches_torch(torch, case):
    x, y, weight, pos_weight, reduction = case
    F = torch.nn.functional
    want, want_grad = torch_value_and_grad(
        torch,
        lambda tx, ty, tw, tp: F.binary_cross_entropy_with_logits(
            tx, ty, tw, reduction=reduction, pos_weight=tp
        ),
        x,
        y,
        weight,
        pos_weight,
    )
    got = xent.binary_cross_entropy_with_logits(
        x, y, weight, reduction=reduction, pos_weight=pos_weight
    )
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(
        x, y, weight, reduction=reduction, pos_weight=pos_weight
    )
    tol = conditioned_tol(x.dtype, x, weight, pos_weight, reduction=reduction)
    assert got.dtype == x.dtype and np.shape(got) == np.shape(want)
    np.testing.assert_allclose(got, want, **tol)
    np.testing.assert_array_equal(loss, got)
    assert grad.dtype == x.dtype and grad.shape == x.shape
    gtol = conditioned_tol(x.dtype, np.ones(1), weight, pos_weight)
    np.testing.assert_allclose(grad, want_grad, **gtol)


@given(binary_case(probabilities=True))
def test_binary_cross_entropy_matches_torch(torch, case):
    x, y, weight, _, reduction = case
    F = torch.nn.functional
    want, want_grad = torch_value_and_grad(
        torch,
        lambda tx, ty, tw: F.binary_cross_entropy(tx, ty, tw, reduction=reduction),
        x,
        y,
        weight,
    )
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy)(x, y, weight, reduction=reduction)
    # PyTorch's log1p(-x) and ours agree to rounding; values reach 100 per element
    tol = conditioned_tol(x.dtype, np.full(1, 100.0), weight, reduction=reduction)
    assert loss.dtype == x.dtype
    np.testing.assert_allclose(loss, want, **tol)
    # the gradient reaches 1e12 where x (1 - x) is clamped: compare relatively
    np.testing.assert_allclose(grad, want_grad, rtol=64 * np.finfo(x.dtype).eps, atol=0)


@st.composite
def focal_case(draw):
    x, y, _, _, reduction = draw(binary_case())
    alpha = draw(st.sampled_from([0.25, 0.5, 0.9, -1.0]))
    gamma = draw(st.sampled_from([0.0, 1.0, 1.5, 2.0, 3.0]))
    return x, y, alpha, gamma, reduction


def torchvision_sigmoid_focal_loss(torch, inputs, targets, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss's formula (torchvision has no CPU wheel here)."""
    F = torch.nn.functional
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


@given(focal_case())
def test_sigmoid_focal_loss_matches_torchvision(torch, case):
    x, y, alpha, gamma, reduction = case
    # float64 oracle: torchvision's 1 - p_t cancels in float32 where ours does not
    want, want_grad = torch_value_and_grad(
        torch,
        lambda tx, ty: torchvision_sigmoid_focal_loss(torch, tx, ty, alpha, gamma, reduction),
        x.astype(np.float64),
        y.astype(np.float64),
    )
    loss, grad = xent.value_and_grad(xent.sigmoid_focal_loss)(x, y, alpha, gamma, reduction)
    assert loss.dtype == x.dtype
    tol = conditioned_tol(x.dtype, x, reduction=reduction)
    np.testing.assert_allclose(loss, want, **tol)
    np.testing.assert_allclose(grad, want_grad, **conditioned_tol(x.dtype, np.ones(1)))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("gamma", [0.0, 2.0], ids=lambda g: f"gamma{g}")
def test_focal_with_gamma_zero_is_bce(dtype, gamma):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 3)).astype(dtype)
    y = rng.uniform(size=(7, 3)).astype(dtype)
    focal = xent.sigmoid_focal_loss(x, y, alpha=-1, gamma=0.0, reduction="none")
    bce = xent.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(focal, bce, rtol=4 * np.finfo(dtype).eps)
    # and alpha only rescales the two classes
    if gamma:
        hard = (y > 0.5).astype(dtype)
        a = xent.sigmoid_focal_loss(x, hard, alpha=0.25, gamma=gamma)
        b = xent.sigmoid_focal_loss(x, hard, alpha=-1, gamma=gamma)
        np.testing.assert_allclose(a, b * np.where(hard == 1, 0.25, 0.75), rtol=1e-6)


# --------------------------------------------------------------------------- broadcasting


@pytest.mark.parametrize(
    ("shape", "operand_shape"),
    [
        ((4, 3), (3,)),
        ((2, 3, 4, 5), (3, 1, 1)),
        ((2, 3, 4), (1, 3, 4)),
        ((5,), ()),
        ((2, 3), (2, 1)),
    ],
    ids=str,
)
@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_operand_broadcasting_matches_torch(torch, shape, operand_shape, name):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=shape), rng.uniform(size=shape)
    operand = rng.uniform(0.5, 2.0, size=operand_shape)
    F = torch.nn.functional
    kwargs = {name: operand}
    want = F.binary_cross_entropy_with_logits(
        torch.from_numpy(x),
        torch.from_numpy(y),
        reduction="none",
        **{name: torch.from_numpy(np.asarray(operand))},
    ).numpy()
    got = xent.binary_cross_entropy_with_logits(x, y, reduction="none", **kwargs)
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
@pytest.mark.parametrize("operand_shape", [(4, 3, 2), (4,), (2, 2)], ids=str)
def test_operand_that_does_not_broadcast_raises_like_torch(torch, name, operand_shape):
    x, y = np.zeros((3, 2)), np.zeros((3, 2))
    with pytest.raises(RuntimeError):
        torch.nn.functional.binary_cross_entropy_with_logits(
            torch.from_numpy(x), torch.from_numpy(y), **{name: torch.ones(operand_shape)}
        )
    with pytest.raises(ValueError, match=f"{name} of shape .* does not broadcast"):
        xent.binary_cross_entropy_with_logits(x, y, **{name: np.ones(operand_shape)})


# --------------------------------------------------------------------------- legacy arguments


@pytest.mark.parametrize("size_average", [None, True, False])
@pytest.mark.parametrize("reduce", [None, True, False])
@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_legacy_size_average_and_reduce(torch, fn, size_average, reduce):
    rng = np.random.default_rng(3)
    x, y = rng.uniform(size=(3, 4)), rng.uniform(size=(3, 4))
    with warnings.catch_warnings(record=True) as torch_warnings:
        warnings.simplefilter("always")
        want = getattr(torch.nn.functional, fn)(
            torch.from_numpy(x),
            torch.from_numpy(y),
            size_average=size_average,
            reduce=reduce,
            reduction="sum",
        ).numpy()
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        got = getattr(xent, fn)(x, y, size_average=size_average, reduce=reduce, reduction="sum")
    np.testing.assert_allclose(got, want, rtol=1e-14)
    assert [str(w.message) for w in ours] == [str(w.message) for w in torch_warnings]
    assert all(w.category is UserWarning for w in ours)


def test_elementwise_mean_is_mean_with_a_warning(torch):
    x, y = np.full(4, 0.3), np.full(4, 0.6)
    with pytest.warns(UserWarning, match="elementwise_mean"):
        got = xent.binary_cross_entropy(x, y, reduction="elementwise_mean")
    assert got == xent.binary_cross_entropy(x, y, reduction="mean")


# --------------------------------------------------------------------------- edges


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_empty_input(torch, fn, reduction):
    x = np.zeros((0, 3))
    want = getattr(torch.nn.functional, fn)(
        torch.from_numpy(x), torch.from_numpy(x), reduction=reduction
    ).numpy()
    got = getattr(xent, fn)(x, x, reduction=reduction)
    np.testing.assert_array_equal(got, want)  # nan for mean, 0 for sum


def test_infinite_logits_give_no_nan():
    x = np.array([np.inf, -np.inf, np.inf, -np.inf])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(x, y, reduction="none")
    np.testing.assert_array_equal(loss, [0.0, 0.0, np.inf, np.inf])
    np.testing.assert_array_equal(grad, [0.0, 0.0, 1.0, -1.0])


@pytest.mark.parametrize("dtype", ["float16"] + (["bfloat16"] if False else []))
def test_half_precision_is_computed_in_float32(torch, dtype):
    rng = np.random.default_rng(4)
    x = rng.normal(size=100).astype(dtype)
    y = rng.uniform(size=100).astype(dtype)
    got = xent.binary_cross_entropy_with_logits(x, y, reduction="none")
    assert got.dtype == np.dtype(dtype)
    want = xent.binary_cross_entropy_with_logits(
        x.astype(np.float32), y.astype(np.float32), reduction="none"
    ).astype(dtype)
    np.testing.assert_array_equal(got, want)
    # PyTorch too returns float16 (and agrees to float16 rounding)
    t = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(x), torch.from_numpy(y), reduction="none"
    ).numpy()
    np.testing.assert_allclose(got.astype(float), t.astype(float), rtol=2e-3, atol=2e-3)


def test_integer_targets_are_cast(torch):
    x = np.array([0.3, -1.2, 2.0])
    y = np.array([1, 0, 1])
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(x), torch.from_numpy(y.astype(float))
    ).numpy()
    np.testing.assert_allclose(xent.binary_cross_entropy_with_logits(x, y), want, rtol=1e-15)
    np.testing.assert_allclose(
        xent.binary_cross_entropy_with_logits(x.tolist(), y.tolist()), want, rtol=1e-15
    )


# --------------------------------------------------------------------------- extensions


@pytest.mark.parametrize("ls", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_label_smoothing_is_smoothed_targets(torch, fn, ls):
    rng = np.random.default_rng(5)
    x, y = rng.uniform(size=(4, 5)), rng.integers(0, 2, size=(4, 5)).astype(float)
    F = getattr(torch.nn.functional, fn)
    tx = torch.from_numpy(x).requires_grad_()
    want = F(tx, torch.from_numpy(y * (1 - ls) + 0.5 * ls))
    want.backward()
    loss, grad = xent.value_and_grad(getattr(xent, fn))(x, y, label_smoothing=ls)
    np.testing.assert_allclose(loss, want.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-13, atol=1e-17)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_ignore_index_drops_elements_from_value_and_denominator(torch, fn, reduction):
    rng = np.random.default_rng(6)
    x = rng.uniform(size=(6, 4))
    y = rng.integers(0, 2, size=(6, 4)).astype(float)
    ignored = rng.uniform(size=(6, 4)) < 0.3
    y_ign = np.where(ignored, 255.0, y)
    w = rng.uniform(size=(4,))
    F = getattr(torch.nn.functional, fn)
    keep = torch.from_numpy(~ignored)
    tx = torch.from_numpy(x).requires_grad_()
    full = F(tx, torch.from_numpy(y), torch.from_numpy(w).expand(6, 4), reduction="none")
    kept = full[keep]
    want = {"none": torch.where(keep, full, 0.0), "sum": kept.sum(), "mean": kept.mean()}
    want[reduction].sum().backward()
    loss, grad = xent.value_and_grad(getattr(xent, fn))(
        x, y_ign, w, reduction=reduction, ignore_index=255
    )
    np.testing.assert_allclose(loss, want[reduction].detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-13, atol=1e-17)


def test_all_ignored_mean_is_nan():
    y = np.full(3, -1.0)
    assert math.isnan(xent.binary_cross_entropy_with_logits(np.zeros(3), y, ignore_index=-1))
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy)(np.full(3, 0.5), y, ignore_index=-1)
    assert math.isnan(loss)
    np.testing.assert_array_equal(grad, 0.0)


# --------------------------------------------------------------------------- bad input


def raises_both(torch, torch_call, xent_call, error, match):
    with pytest.raises((RuntimeError, ValueError, TypeError, IndexError, NotImplementedError)):
        torch_call()
    with pytest.raises(error, match=match):
        xent_call()


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan], ids=["above", "below", "nan"])
@pytest.mark.parametrize("which", ["input", "target"])
def test_binary_cross_entropy_range(torch, bad, which):
    x, y = np.full(4, 0.5), np.full(4, 0.5)
    (x if which == "input" else y)[2] = bad
    raises_both(
        torch,
        lambda: torch.nn.functional.binary_cross_entropy(torch.tensor(x), torch.tensor(y)),
        lambda: xent.binary_cross_entropy(x, y),
        ValueError,
        f"all elements of {which} should be between 0 and 1",
    )


@pytest.mark.parametrize(
    "fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits", "sigmoid_focal_loss"]
)
def test_shape_mismatch(torch, fn):
    x, y = np.full((3, 2), 0.5), np.full((2,), 0.5)
    tfn = getattr(torch.nn.functional, fn, torch.nn.functional.binary_cross_entropy_with_logits)
    raises_both(
        torch,
        lambda: tfn(torch.tensor(x), torch.tensor(y)),
        lambda: getattr(xent, fn)(x, y),
        ValueError,
        r"\(2,\).*\(3, 2\)|\(3, 2\).*\(2,\)",
    )


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_unknown_reduction(torch, fn):
    raises_both(
        torch,
        lambda: getattr(torch.nn.functional, fn)(torch.zeros(2), torch.zeros(2), reduction="avg"),
        lambda: getattr(xent, fn)(np.zeros(2), np.zeros(2), reduction="avg"),
        ValueError,
        "'avg' is not a valid value for reduction; pass one of 'none', 'mean', 'sum'",
    )


def test_focal_unknown_reduction():
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        xent.sigmoid_focal_loss(np.zeros(2), np.zeros(2), reduction="avg")


@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_non_floating_input(torch, fn):
    raises_both(
        torch,
        lambda: getattr(torch.nn.functional, fn)(torch.zeros(2, dtype=torch.long), torch.zeros(2)),
        lambda: getattr(xent, fn)(np.zeros(2, dtype=np.int64), np.zeros(2)),
        TypeError,
        "input must be a floating-point array, got dtype int64",
    )


@pytest.mark.parametrize("ls", [-0.1, 1.5, float("nan")])
@pytest.mark.parametrize("fn", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_label_smoothing_out_of_range(fn, ls):
    with pytest.raises(ValueError, match=r"label_smoothing must be between 0\.0 and 1\.0"):
        getattr(xent, fn)(np.full(2, 0.5), np.full(2, 0.5), label_smoothing=ls)


@pytest.mark.parametrize("gamma", [-1.0, float("nan")])
def test_negative_gamma(gamma):
    with pytest.raises(ValueError, match="gamma must be non-negative"):
        xent.sigmoid_focal_loss(np.zeros(2), np.zeros(2), gamma=gamma)


def test_value_and_grad_rejects_foreign_functions():
    with pytest.raises(TypeError, match="value_and_grad needs one of xent's top-level losses"):
        xent.value_and_grad(np.sum)
