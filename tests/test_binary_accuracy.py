"""Accuracy of the binary family against mpmath, and gradients against finite differences."""

from __future__ import annotations

import warnings

import mpmath
import numpy as np
import pytest

import xent
from helpers import central_difference
from xent import tf as xtf

mpmath.mp.dps = 50
DTYPES = [np.float32, np.float64]


def ulp_distance(got, want, dtype):
    """|got - want| in units of the spacing of `want` in `dtype`."""
    want_rounded = np.asarray(want, dtype=dtype)
    spacing = np.spacing(np.abs(want_rounded).astype(dtype)).astype(np.float64)
    return np.abs(np.asarray(got, dtype=np.float64) - np.asarray(want, dtype=np.float64)) / spacing


def mp_logits_loss(x, y, p=1.0):
    """(1 - y) log(1 + e^x) + p y log(1 + e^-x) in 50 digits, x and y taken exactly."""
    x, y, p = mpmath.mpf(float(x)), mpmath.mpf(float(y)), mpmath.mpf(float(p))
    return float((1 - y) * mpmath.log1p(mpmath.exp(x)) + p * y * mpmath.log1p(mpmath.exp(-x)))


def mp_probs_loss(x, y):
    x, y = mpmath.mpf(float(x)), mpmath.mpf(float(y))
    log_x = max(mpmath.log(x), -100) if x > 0 else mpmath.mpf(-100)
    log_1mx = max(mpmath.log1p(-x), -100) if x < 1 else mpmath.mpf(-100)
    return float(-(y * log_x + (1 - y) * log_1mx))


LOGIT_GRID = np.concatenate([np.linspace(-100, 100, 801), [-40.0, -1e-8, 0.0, 1e-8, 40.0]])


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("y", [0.0, 1.0, 0.25, 0.5, 0.9])
def test_logits_loss_within_4_ulp_of_mpmath(dtype, y):
    x = LOGIT_GRID.astype(dtype)
    target = np.full_like(x, y)
    got = xent.binary_cross_entropy_with_logits(x, target, reduction="none")
    want = np.array([mp_logits_loss(xi, ti) for xi, ti in zip(x, target, strict=True)])
    dist = ulp_distance(got, want, dtype)
    assert dist.max() <= 4, f"worst {dist.max():.1f} ulp at x={x[dist.argmax()]}"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_logits_loss_with_pos_weight_within_4_ulp(dtype):
    x = LOGIT_GRID.astype(dtype)
    y = np.tile(np.array([0.0, 1.0, 0.3], dtype=dtype), len(x) // 3 + 1)[: len(x)]
    p = np.asarray(2.5, dtype=dtype)
    got = xtf.weighted_cross_entropy_with_logits(y, x, p)
    want = np.array([mp_logits_loss(a, b, p) for a, b in zip(x, y, strict=True)])
    assert ulp_distance(got, want, dtype).max() <= 4


def test_negative_tail_beats_pytorch(torch):
    """float64 x = -40, y = 0: the loss is 4.25e-18; PyTorch's form returns 0."""
    got = xent.binary_cross_entropy_with_logits(
        np.array([-40.0]), np.array([0.0]), reduction="none"
    )
    want = mp_logits_loss(-40.0, 0.0)
    assert want == pytest.approx(4.248354255291589e-18, rel=1e-15)
    assert ulp_distance(got, [want], np.float64).max() <= 1


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
def test_probs_loss_within_4_ulp_of_mpmath(dtype, y):
    x = np.concatenate(
        [np.linspace(0, 1, 401), np.logspace(-45, -1, 60), 1 - np.logspace(-16, -1, 40)]
    )
    x = np.clip(x, 0, 1).astype(dtype)
    target = np.full_like(x, y)
    got = xent.binary_cross_entropy(x, target, reduction="none")
    want = np.array([mp_probs_loss(a, b) for a, b in zip(x, target, strict=True)])
    assert ulp_distance(got, want, dtype).max() <= 4


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_no_warnings_and_finite_at_extremes(dtype):
    x = np.array([-1e4, -1e4, 1e4, 1e4, -np.inf, np.inf], dtype=dtype)
    y = np.array([0.0, 1.0, 0.0, 1.0, 0.0, 1.0], dtype=dtype)
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5, 0.5], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for fn, first in [
            (xent.binary_cross_entropy_with_logits, x),
            (xent.sigmoid_focal_loss, x),
            (xent.binary_cross_entropy, p),
        ]:
            loss, grad = xent.value_and_grad(fn)(first, y, reduction="none")
            assert np.all(np.isfinite(grad)), fn.__name__
            assert not np.any(np.isnan(loss)), fn.__name__
    loss = xent.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_array_equal(loss[[0, 3, 4, 5]], 0.0)
    np.testing.assert_allclose(loss[[1, 2]], 1e4, rtol=np.finfo(dtype).eps)


# --------------------------------------------------------------------------- finite differences


CASES = {
    "with_logits": (
        xent.binary_cross_entropy_with_logits,
        {"pos_weight": np.array([0.5, 2.0, 1.0])},
    ),
    "with_logits_weight_ls": (
        xent.binary_cross_entropy_with_logits,
        {"weight": np.array([1.0, 0.2, 3.0]), "label_smoothing": 0.1},
    ),
    "probs": (xent.binary_cross_entropy, {"weight": np.array([1.0, 0.2, 3.0])}),
    "focal": (xent.sigmoid_focal_loss, {"gamma": 2.0, "alpha": 0.3}),
    "focal_gamma_half": (xent.sigmoid_focal_loss, {"gamma": 0.5, "alpha": -1}),
}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("case", list(CASES))
def test_gradient_matches_finite_differences(case, reduction):
    fn, kwargs = CASES[case]
    rng = np.random.default_rng(7)
    x = rng.normal(size=(4, 3)) * 2
    if fn is xent.binary_cross_entropy:
        x = 1 / (1 + np.exp(-x))
    y = rng.uniform(size=(4, 3))
    kwargs = {**kwargs, "reduction": reduction}
    _, grad = xent.value_and_grad(fn)(x, y, **kwargs)
    fd = central_difference(lambda v: fn(v, y, **kwargs), x, h=1e-6, relative=True)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


def test_focal_gradient_is_finite_where_torch_gives_nan(torch):
    """gamma < 1 at a saturated prediction: the limit of the gradient is finite."""
    x, y = np.array([40.0, -40.0]), np.array([1.0, 0.0])
    tx = torch.tensor(x, requires_grad=True)
    ty = torch.tensor(y)
    p = torch.sigmoid(tx)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(tx, ty, reduction="none")
    (ce * (1 - (p * ty + (1 - p) * (1 - ty))) ** 0.5).sum().backward()
    assert torch.isnan(tx.grad).all()  # the problem being solved
    _, grad = xent.value_and_grad(xent.sigmoid_focal_loss)(x, y, alpha=-1, gamma=0.5)
    assert np.all(np.isfinite(grad))
    # the exact derivative there is of order e^{-1.5 |x|}: finite differences confirm
    fd = central_difference(
        lambda v: xent.sigmoid_focal_loss(v, y, alpha=-1, gamma=0.5), x, h=1e-4, relative=True
    )
    np.testing.assert_allclose(grad, fd, rtol=1e-4, atol=1e-40)
