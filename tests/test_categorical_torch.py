"""Multi-class cross-entropy, PyTorch convention: xent.cross_entropy and xent.nll_loss.

Oracles: torch.nn.functional (values, and gradients by autograd), float64 finite
differences, and the documented formulas/denominators checked numerically.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xent
from helpers import central_difference, conditioned_tol, to_torch, tol, torch_value_and_grad
from kernel_helpers import extension
from xent import _array

FLOATS = [np.float32, np.float64]
REDUCTIONS = ["none", "mean", "sum"]


# --------------------------------------------------------------------------- helpers


def xent_value_and_grad(name, x, target, **kwargs):
    return xent.value_and_grad(getattr(xent, name))(x, target, **kwargs)


def tolerances(x, weight=None, reduction="mean", ulps=64):
    """k eps relative; absolute k eps times the size of the terms (logit range, weights,
    classes) and, for 'sum', the number of positions: rounding in log-sum-exp is
    relative to the logits, not to a loss that may be tiny."""
    classes = x.shape[class_axis(x)]
    return conditioned_tol(x.dtype, x, weight, reduction=reduction, classes=classes, ulps=ulps)


def grad_tolerances(x, weight=None, ulps=64):
    return conditioned_tol(x.dtype, None, weight, ulps=ulps)


def assert_matches_torch(torch, name, x, target, **kwargs):
    expected, expected_grad = torch_value_and_grad(torch, name, x, target, **kwargs)
    loss, grad = xent_value_and_grad(name, x, target, **kwargs)
    weight, reduction = kwargs.get("weight"), kwargs.get("reduction", "mean")
    assert loss.dtype == expected.dtype and loss.shape == expected.shape
    assert grad.dtype == x.dtype and grad.shape == x.shape
    np.testing.assert_allclose(loss, expected, equal_nan=True, **tolerances(x, weight, reduction))
    np.testing.assert_allclose(grad, expected_grad, equal_nan=True, **grad_tolerances(x, weight))


def class_axis(x):
    return 0 if x.ndim == 1 else 1


def index_shape(shape):
    return shape[1:] if len(shape) == 1 else shape[:1] + shape[2:]


def one_hot(y, n_classes, axis):
    return np.moveaxis(np.eye(n_classes)[y], -1, axis)


# --------------------------------------------------------------------------- strategies

LAYOUTS = {  # name -> shape of the input from (N, C, d1, d2)
    "unbatched (C,)": lambda n, c, d1, d2: (c,),
    "(N, C)": lambda n, c, d1, d2: (n, c),
    "(N, C, d1)": lambda n, c, d1, d2: (n, c, d1),
    "(N, C, d1, d2)": lambda n, c, d1, d2: (n, c, d1, d2),
}


@st.composite
def logits(draw, dtype=None, max_classes=6):
    dtype = draw(st.sampled_from(FLOATS)) if dtype is None else dtype
    layout = draw(st.sampled_from(sorted(LAYOUTS)))
    sizes = [draw(st.integers(1, 4)), draw(st.integers(1, max_classes))]
    sizes += [draw(st.integers(1, 3)), draw(st.integers(1, 3))]
    shape = LAYOUTS[layout](*sizes)
    return draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=32)))


@st.composite
def class_weights(draw, x):
    if draw(st.booleans()):
        return None
    c = x.shape[class_axis(x)]
    return draw(hnp.arrays(x.dtype, (c,), elements=st.floats(0.125, 4.0, width=32)))


@st.composite
def index_targets(draw, x):
    """(target, ignore_index): indices in range, some set to ignore_index, which is
    -100 or a real class."""
    c = x.shape[class_axis(x)]
    shape = index_shape(x.shape)
    y = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, c - 1)))
    ignore_index = draw(st.sampled_from([-100, draw(st.integers(0, c - 1))]))
    ignored = draw(hnp.arrays(np.bool_, shape))
    return np.where(ignored, ignore_index, y), ignore_index


smoothing = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0))


# --------------------------------------------------------------------------- parity


@given(x=logits(), data=st.data())
def test_cross_entropy_index_targets_match_torch(torch, x, data):
    y, ignore_index = data.draw(index_targets(x))
    assert_matches_torch(
        torch,
        "cross_entropy",
        x,
        y,
        weight=data.draw(class_weights(x)),
        ignore_index=ignore_index,
        reduction=data.draw(st.sampled_from(REDUCTIONS)),
        label_smoothing=data.draw(smoothing),
    )


@given(x=logits(), data=st.data())
def test_cross_entropy_probability_targets_match_torch(torch, x, data):
    t = data.draw(hnp.arrays(x.dtype, x.shape, elements=st.floats(0.0, 1.0, width=32)))
    assert_matches_torch(
        torch,
        "cross_entropy",
        x,
        t,
        weight=data.draw(class_weights(x)),
        reduction=data.draw(st.sampled_from(REDUCTIONS)),
        label_smoothing=data.draw(smoothing),
    )


@given(x=logits(), data=st.data())
def test_nll_loss_matches_torch(torch, x, data):
    y, ignore_index = data.draw(index_targets(x))
    assert_matches_torch(
        torch,
        "nll_loss",
        x,
        y,
        weight=data.draw(class_weights(x)),
        ignore_index=ignore_index,
        reduction=data.draw(st.sampled_from(REDUCTIONS)),
    )


RNG = np.random.default_rng(20240603)
X4 = RNG.normal(scale=3.0, size=(4, 5, 3, 2))
Y4 = RNG.integers(0, 5, size=(4, 3, 2))
Y4[0, 0, 0], Y4[2, 1, 1] = -100, -100
W5 = RNG.uniform(0.2, 3.0, size=5)
NAMED = {
    "index": (X4[:, :, 0, 0], Y4[:, 0, 0] % 5, {}),
    "index weight": (X4[:, :, 0, 0], Y4[:, 1, 0], {"weight": W5}),
    "index ignore -100": (X4[:, :, 0, 0], Y4[:, 0, 0], {}),
    "index ignore real class 2": (X4[:, :, 0, 0], Y4[:, 1, 0], {"ignore_index": 2}),
    "index weight ignore smoothing": (
        X4[:, :, 0, 0], Y4[:, 0, 0], {"weight": W5, "label_smoothing": 0.3}
    ),
    "index K=2 (N, C, d1, d2)": (X4, Y4, {"weight": W5, "label_smoothing": 0.1}),
    "index K=1 ignore real class": (X4[..., 0], np.abs(Y4[..., 0]) % 5, {"ignore_index": 0}),
    "index unbatched (C,)": (X4[0, :, 0, 0], np.int64(3), {"weight": W5}),
    "index unbatched ignored": (X4[0, :, 0, 0], np.int64(-100), {}),
    "probabilities": (X4[:, :, 0, 0], RNG.dirichlet(np.ones(5), size=4), {}),
    "probabilities weight smoothing": (
        X4[:, :, 0, 0], RNG.uniform(size=(4, 5)), {"weight": W5, "label_smoothing": 0.2}
    ),
    "probabilities K=2": (X4, RNG.uniform(size=X4.shape), {"weight": W5}),
    "probabilities unbatched (C,)": (X4[0, :, 0, 0], RNG.dirichlet(np.ones(5)), {"weight": W5}),
    "probabilities ignore_index -1 allowed": (
        X4[:, :, 0, 0], RNG.uniform(size=(4, 5)), {"ignore_index": -1}
    ),
}  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("case", list(NAMED), ids=list(NAMED))
def test_cross_entropy_named_cases_match_torch(torch, case, dtype, reduction):
    x, target, kwargs = NAMED[case]
    kwargs = {k: v.astype(dtype) if k == "weight" else v for k, v in kwargs.items()}
    if np.asarray(target).dtype.kind == "f":
        target = target.astype(dtype)
    assert_matches_torch(
        torch, "cross_entropy", x.astype(dtype), target, reduction=reduction, **kwargs
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "case", [c for c in NAMED if c.startswith("index") and "smoothing" not in c]
)
def test_nll_loss_named_cases_match_torch(torch, case, reduction):
    x, target, kwargs = NAMED[case]
    kwargs = {k: v for k, v in kwargs.items() if k != "label_smoothing"}
    assert_matches_torch(torch, "nll_loss", x, target, reduction=reduction, **kwargs)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_unbatched_target_of_shape_1_is_accepted_like_torch(torch, name, reduction):
    """PyTorch's forward takes a (1,) target for a (C,) input (its backward then fails
    with a size mismatch); xent takes it as the () target, gradient included."""
    x = X4[0, :, 0, 0]
    fn = getattr(torch.nn.functional, name)
    expected = fn(torch.tensor(x), torch.tensor([3]), reduction=reduction).numpy()
    loss, grad = xent_value_and_grad(name, x, np.array([3]), reduction=reduction)
    assert loss.shape == expected.shape == ()
    np.testing.assert_allclose(loss, expected, **tol(np.float64, 4))
    _, grad_0d = xent_value_and_grad(name, x, np.int64(3), reduction=reduction)
    # the two may take different paths (compiled kernel, reference): a few ulp
    np.testing.assert_allclose(grad, grad_0d, **tol(np.float64, 4))


def test_mixed_precision_probability_targets_promote_like_torch(torch):
    x = X4[:, :, 0, 0].astype(np.float32)
    t = RNG.uniform(size=x.shape)  # float64
    expected, _ = torch_value_and_grad(torch, "cross_entropy", x, t)
    loss, grad = xent_value_and_grad("cross_entropy", x, t)
    assert loss.dtype == expected.dtype == np.float64 and grad.dtype == np.float32
    np.testing.assert_allclose(loss, expected, **tol(np.float32, 64))


LEGACY = [(None, False), (False, None), (True, True), (False, True), (True, False), (None, True)]


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize(
    ("size_average", "reduce"), LEGACY, ids=[f"size_average={a}-reduce={b}" for a, b in LEGACY]
)
def test_legacy_size_average_reduce_match_torch(torch, name, size_average, reduce):
    x, y = X4[:, :, 0, 0], Y4[:, 0, 0]
    kwargs = {"weight": W5, "size_average": size_average, "reduce": reduce}
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        expected, expected_grad = torch_value_and_grad(torch, name, x, y, **kwargs)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss, grad = xent_value_and_grad(name, x, y, **kwargs)
    np.testing.assert_allclose(loss, expected, **tol(np.float64, 16))
    np.testing.assert_allclose(grad, expected_grad, **tol(np.float64, 16))


def test_elementwise_mean_is_mean_with_a_warning(torch):
    x, y = X4[:, :, 0, 0], Y4[:, 0, 0]
    with pytest.warns(UserWarning, match="elementwise_mean"):
        loss = xent.cross_entropy(x, y, reduction="elementwise_mean")
    np.testing.assert_allclose(loss, xent.cross_entropy(x, y), **tol(np.float64, 4))


def test_python_lists_become_numpy_arrays():
    loss = xent.cross_entropy([[1.0, 2.0], [1.0, 4.0]], [0, 1])
    assert isinstance(loss, np.ndarray) and loss.dtype == np.float64
    # hand computation: log(1 + e) and log(1 + e^-3), averaged
    expected = (math.log1p(math.e) + math.log1p(math.exp(-3.0))) / 2
    np.testing.assert_allclose(loss, expected, **tol(np.float64, 4))
    probs = xent.cross_entropy([[1.0, 2.0], [1.0, 4.0]], [[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(probs, expected, **tol(np.float64, 4))


# --------------------------------------------------------------------------- all ignored, empty


ALL_IGNORED = {
    "cross_entropy": ("cross_entropy", {}),
    "cross_entropy smoothing": ("cross_entropy", {"label_smoothing": 0.4}),
    "cross_entropy weight smoothing": ("cross_entropy", {"weight": W5, "label_smoothing": 0.4}),
    "nll_loss": ("nll_loss", {}),
    "nll_loss weight": ("nll_loss", {"weight": W5}),
}


@pytest.mark.parametrize("case", list(ALL_IGNORED), ids=list(ALL_IGNORED))
def test_all_ignored_mean_is_nan_with_zero_gradient_like_torch(torch, case):
    name, kwargs = ALL_IGNORED[case]
    x, y = X4[:, :, 0, 0], np.full(4, -100)
    expected, expected_grad = torch_value_and_grad(torch, name, x, y, **kwargs)
    loss, grad = xent_value_and_grad(name, x, y, **kwargs)
    assert np.isnan(expected) and np.isnan(loss)
    assert np.all(expected_grad == 0) and np.all(grad == 0)
    fn = getattr(xent, name)
    assert fn(x, y, reduction="sum", **kwargs) == 0
    np.testing.assert_array_equal(fn(x, y, reduction="none", **kwargs), np.zeros(4))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_empty_batch_matches_torch(torch, form, reduction):
    x = np.zeros((0, 5))
    target = np.zeros((0,), dtype=np.int64) if form == "index" else np.zeros((0, 5))
    expected, _ = torch_value_and_grad(torch, "cross_entropy", x, target, reduction=reduction)
    loss, grad = xent_value_and_grad("cross_entropy", x, target, reduction=reduction)
    assert loss.shape == expected.shape and grad.shape == x.shape
    np.testing.assert_array_equal(loss, expected)  # nan for 'mean', 0 for 'sum'


ZERO_TOTAL_WEIGHT = {
    "cross_entropy": ("cross_entropy", X4[:, :, 0, 0], np.array([0, 1, -100, 1]), {}),
    "cross_entropy smoothing": (
        "cross_entropy",
        X4[:, :, 0, 0],
        np.array([0, 1, -100, 1]),
        {"label_smoothing": 0.3},
    ),
    "cross_entropy K-dimensional": ("cross_entropy", X4, np.where(X4[:, 0] > 0, 1, -100), {}),
    "nll_loss": ("nll_loss", X4[:, :, 0, 0], np.array([0, 1, -100, 1]), {}),
}


@pytest.mark.parametrize("path", ["kernels", "reference"])
@pytest.mark.parametrize("case", list(ZERO_TOTAL_WEIGHT), ids=list(ZERO_TOTAL_WEIGHT))
def test_weights_summing_to_zero_give_nan_mean_and_gradient_like_torch(
    torch, monkeypatch, case, path
):
    """Non-ignored targets whose weights sum to 0: the 'mean' is 0 / 0, nan, and so is
    PyTorch's gradient on those positions (all classes through log_softmax, the target
    class for nll_loss), 0 on ignored ones. Explicit gradient and autograd alike."""
    if path == "kernels":
        extension()  # else both variants would run the reference
    else:
        monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    name, x, y, kwargs = ZERO_TOTAL_WEIGHT[case]
    w = np.array([0.0, 0.0, 1.0, 1.0, 1.0])
    expected, expected_grad = torch_value_and_grad(torch, name, x, y, weight=w, **kwargs)
    loss, grad = xent_value_and_grad(name, x, y, weight=w, **kwargs)
    assert np.isnan(expected) and np.isnan(loss)
    assert np.isnan(expected_grad).any() and not np.isnan(expected_grad).all()
    np.testing.assert_array_equal(grad, expected_grad)  # nan where torch's is, else 0
    xt = torch.tensor(x, requires_grad=True)
    getattr(xent, name)(xt, torch.from_numpy(y), weight=torch.from_numpy(w), **kwargs).backward()
    np.testing.assert_array_equal(xt.grad.numpy(), expected_grad)


# --------------------------------------------------------------------------- finite differences


FD_X = RNG.normal(scale=2.0, size=(3, 4, 2))
FD_Y = np.array([[0, 3], [-100, 2], [1, 1]])
FD_W = np.array([0.5, 2.0, 1.0, 3.0])
FD_CASES = {
    "index weight ignore smoothing": (
        "cross_entropy", FD_Y, {"weight": FD_W, "label_smoothing": 0.25}
    ),
    "index ignore real class": ("cross_entropy", np.abs(FD_Y) % 4, {"ignore_index": 1}),
    "probabilities weight smoothing": (
        "cross_entropy", RNG.uniform(size=FD_X.shape), {"weight": FD_W, "label_smoothing": 0.3}
    ),
    "nll weight ignore": ("nll_loss", FD_Y, {"weight": FD_W}),
}  # fmt: skip


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(FD_CASES), ids=list(FD_CASES))
def test_gradient_matches_finite_differences_float64(case, reduction):
    name, target, kwargs = FD_CASES[case]
    fn = getattr(xent, name)
    _, grad = xent_value_and_grad(name, FD_X, target, reduction=reduction, **kwargs)
    numeric = central_difference(lambda x: fn(x, target, reduction=reduction, **kwargs), FD_X)
    eps = float(np.finfo(np.float64).eps)
    np.testing.assert_allclose(grad, numeric, rtol=100 * eps ** (2 / 3), atol=100 * eps ** (2 / 3))


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("reduction", ["none", "sum"])
@given(x=logits(dtype=np.float64), data=st.data())
def test_index_targets_equal_one_hot_probability_targets(x, data, reduction):
    """Where the definitions coincide: no ignored target; 'none' and 'sum' (the 'mean'
    denominators differ once there are weights)."""
    c = x.shape[class_axis(x)]
    y = data.draw(hnp.arrays(np.int64, index_shape(x.shape), elements=st.integers(0, c - 1)))
    kwargs = {
        "weight": data.draw(class_weights(x)),
        "label_smoothing": data.draw(smoothing),
        "reduction": reduction,
    }
    by_index = xent_value_and_grad("cross_entropy", x, y, **kwargs)
    by_probs = xent_value_and_grad("cross_entropy", x, one_hot(y, c, class_axis(x)), **kwargs)
    for a, b in zip(by_index, by_probs, strict=True):
        np.testing.assert_allclose(a, b, **tolerances(x, kwargs["weight"], reduction, 16))


def test_index_and_one_hot_means_coincide_without_weights():
    x, y = X4, np.where(Y4 < 0, 0, Y4)
    probs = one_hot(y, 5, 1)
    np.testing.assert_allclose(
        xent.cross_entropy(x, y, label_smoothing=0.2),
        xent.cross_entropy(x, probs, label_smoothing=0.2),
        **tol(np.float64, 16),
    )


@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_mean_denominators_are_the_documented_ones(form):
    """Index targets: sum of the weights of the non-ignored targets; probability
    targets: numel / C."""
    x = X4
    if form == "index":
        target = Y4
        denominator = W5[np.where(Y4 == -100, 0, Y4)][Y4 != -100].sum()
    else:
        target = RNG.uniform(size=X4.shape)
        denominator = X4.size / X4.shape[1]
    kwargs = {"weight": W5, "label_smoothing": 0.1}
    total = xent.cross_entropy(x, target, reduction="sum", **kwargs)
    mean = xent.cross_entropy(x, target, reduction="mean", **kwargs)
    np.testing.assert_allclose(mean, total / denominator, **tol(np.float64, 8))


def test_label_smoothing_is_the_documented_mixture():
    """(1 - eps) nll + (eps / C) s, s = -sum_c w_c log_softmax_c, 0 where ignored."""
    eps, c = 0.3, X4.shape[1]
    x, y = X4, Y4
    logp = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
    valid = y != -100
    safe = np.where(valid, y, 0)
    nll = -np.take_along_axis(logp, safe[:, None], axis=1)[:, 0] * W5[safe]
    smooth = -np.sum(logp * W5[None, :, None, None], axis=1)
    expected = np.where(valid, (1 - eps) * nll + (eps / c) * smooth, 0.0)
    loss = xent.cross_entropy(x, y, weight=W5, label_smoothing=eps, reduction="none")
    np.testing.assert_allclose(loss, expected, **tol(np.float64, 32))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_of_log_softmax_is_cross_entropy(reduction):
    x, y = X4, Y4
    logp = x - np.log(np.sum(np.exp(x), axis=1, keepdims=True))
    np.testing.assert_allclose(
        xent.nll_loss(logp, y, weight=W5, reduction=reduction),
        xent.cross_entropy(x, y, weight=W5, reduction=reduction),
        **tol(np.float64, 32),
    )


# --------------------------------------------------------------------------- extremes


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_logits_of_1e4_match_torch_without_warnings(torch, dtype, form, reduction):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    if form == "index":
        target = np.array([1, 2, 0])
    else:
        target = np.array([[0.2, 0.3, 0.5], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]], dtype=dtype)
    assert_matches_torch(torch, "cross_entropy", x, target, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_minus_inf_logit_with_zero_probability_contributes_zero(torch, dtype, reduction):
    """PyTorch gives nan (0 * -inf); the limit logit -> -inf is finite: compare with
    torch at logit -1e30, where it is exact."""
    x = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]], dtype=dtype)
    t = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], dtype=dtype)
    w = np.array([1.0, 2.0, 0.5], dtype=dtype)
    stand_in = np.where(np.isinf(x), dtype(-1e30), x)
    loss, grad = xent_value_and_grad("cross_entropy", x, t, weight=w, reduction=reduction)
    expected, expected_grad = torch_value_and_grad(
        torch, "cross_entropy", stand_in, t, weight=w, reduction=reduction
    )
    assert np.all(np.isfinite(loss)) and np.all(np.isfinite(grad))
    np.testing.assert_allclose(loss, expected, **tolerances(x, w, reduction))
    np.testing.assert_allclose(grad, expected_grad, **grad_tolerances(x, w))
    nan_in_torch, _ = torch_value_and_grad(torch, "cross_entropy", x, t, reduction=reduction)
    assert np.any(np.isnan(nan_in_torch))  # the reason for the stand-in


MINUS_INF_X = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])
MINUS_INF_Y = np.array([1, 0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_minus_inf_logits_with_index_targets_match_torch(torch, reduction):
    assert_matches_torch(torch, "cross_entropy", MINUS_INF_X, MINUS_INF_Y, reduction=reduction)


def test_minus_inf_logits_with_smoothing_or_at_the_target_give_inf(torch):
    x, y = MINUS_INF_X, MINUS_INF_Y
    # with smoothing every class has probability eps / C > 0: infinite, as in torch
    expected, _ = torch_value_and_grad(torch, "cross_entropy", x, y, label_smoothing=0.1)
    assert np.isposinf(expected) and np.isposinf(xent.cross_entropy(x, y, label_smoothing=0.1))
    # a -inf logit at the target class: infinite loss
    assert np.isposinf(xent.cross_entropy(x, np.array([0, 0]), reduction="sum"))


@pytest.mark.parametrize(
    "row", [[np.inf, 0.0], [-np.inf, -np.inf], [np.nan, 0.0]], ids=["+inf", "all -inf", "nan"]
)
def test_rows_without_a_softmax_give_nan_like_torch_without_warnings(torch, row):
    x = np.array([row, [0.0, 1.0]])
    y = np.array([1, 0])
    expected, _ = torch_value_and_grad(torch, "cross_entropy", x, y, reduction="none")
    loss, grad = xent_value_and_grad("cross_entropy", x, y, reduction="none")
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(expected))
    assert np.isnan(loss[0]) and np.all(np.isnan(grad[0])) and np.all(np.isfinite(grad[1]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_float16_is_computed_in_float32(torch, form, reduction):
    x = RNG.normal(scale=4.0, size=(6, 7)).astype(np.float16)
    x[0, 0], x[1, 1] = 1e4, -1e4
    if form == "index":
        target = np.array([0, 1, 2, 3, 4, 6])
    else:
        target = RNG.dirichlet(np.ones(7), size=6).astype(np.float16)
    loss, grad = xent_value_and_grad("cross_entropy", x, target, reduction=reduction)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    t64 = target.astype(np.float64) if form == "probabilities" else target
    exact, exact_grad = torch_value_and_grad(
        torch, "cross_entropy", x.astype(np.float64), t64, reduction=reduction
    )
    # one rounding to float16 of a float32 computation
    np.testing.assert_allclose(loss, exact, rtol=float(np.finfo(np.float16).eps), atol=0)
    np.testing.assert_allclose(grad, exact_grad, **tol(np.float16, 1))
    # and PyTorch's own float16 result, within its own rounding
    half, _ = torch_value_and_grad(torch, "cross_entropy", x, target, reduction=reduction)
    np.testing.assert_allclose(loss, half, **tol(np.float16, 4))


def test_bfloat16_torch_tensors_are_computed_in_float32(torch):
    x = torch.tensor(RNG.normal(scale=3.0, size=(5, 4)), dtype=torch.bfloat16)
    y = torch.tensor([0, 1, 2, 3, 0])
    loss = xent.cross_entropy(x, y, reduction="none")
    assert loss.dtype == torch.bfloat16
    exact = torch.nn.functional.cross_entropy(x.double(), y, reduction="none")
    # one rounding to bfloat16 (8 significant bits) of the exact value
    np.testing.assert_allclose(loss.double().numpy(), exact.numpy(), rtol=2.0**-8, atol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_one_class_gives_zero(torch, form, reduction):
    x = RNG.normal(size=(4, 1))
    target = np.zeros(4, dtype=np.int64) if form == "index" else np.ones((4, 1))
    assert_matches_torch(torch, "cross_entropy", x, target, reduction=reduction)
    assert np.all(xent.cross_entropy(x, target, reduction=reduction) == 0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("form", ["index", "probabilities"])
def test_fifty_thousand_classes_match_torch_in_float64(torch, form, reduction):
    """float32 against PyTorch in float64: PyTorch's own float32 gradient is off by
    ~1e-5 here (sums over 50 000 classes), xent's by ~1e-8."""
    x = RNG.normal(scale=5.0, size=(3, 50_000)).astype(np.float32)
    if form == "index":
        target = np.array([0, 49_999, 12_345])
    else:
        target = RNG.dirichlet(np.ones(50_000), size=3).astype(np.float32)
    kwargs = {"label_smoothing": 0.1, "reduction": reduction}
    loss, grad = xent_value_and_grad("cross_entropy", x, target, **kwargs)
    t64 = target if form == "index" else target.astype(np.float64)
    exact, exact_grad = torch_value_and_grad(
        torch, "cross_entropy", x.astype(np.float64), t64, **kwargs
    )
    assert loss.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(loss, exact, **tol(np.float32, 64))
    np.testing.assert_allclose(grad, exact_grad, **tol(np.float32, 64))


# --------------------------------------------------------------------------- bad input

X = X4[:, :, 0, 0]
Y = np.array([0, 2, 1, 4])
P = RNG.uniform(size=(4, 5))
CE, NLL = "cross_entropy", "nll_loss"
OUT = "is out of bounds for 5 classes"
LS = "label_smoothing must be between 0.0 and 1.0"
W_SIZE = "weight should be defined either for all 5 classes"


def bad(name, x, target, error, match, torch_raises=True, **kwargs):
    """A bad call: xent raises `error` matching `match`; torch raises too unless told."""
    return name, x, np.asarray(target), kwargs, error, match, torch_raises


BAD = {
    "index out of range": bad(CE, X, [0, 7, 1, 2], IndexError, "Target 7 " + OUT),
    "negative index not ignored": bad(CE, X, [0, -1, 1, 2], IndexError, "Target -1 " + OUT),
    "index out of range K-dim": bad(CE, X4, np.where(Y4 < 0, 5, Y4), IndexError, "Target 5 " + OUT),
    "nll index out of range": bad(NLL, X, [0, 5, 1, 2], IndexError, "Target 5 " + OUT),
    "ignore_index with probabilities": bad(
        CE,
        X,
        P,
        ValueError,
        "ignore_index=2 is not supported with class-probability targets",
        ignore_index=2,
    ),
    "label_smoothing above 1": bad(CE, X, Y, ValueError, LS, label_smoothing=1.5),
    "label_smoothing above 1 probabilities": bad(CE, X, P, ValueError, LS, label_smoothing=1.5),
    # PyTorch silently ignores a negative or nan label_smoothing
    "label_smoothing below 0": bad(CE, X, Y, ValueError, LS, False, label_smoothing=-0.1),
    "label_smoothing nan": bad(CE, X, Y, ValueError, LS, False, label_smoothing=math.nan),
    "weight of size C - 1": bad(CE, X, Y, ValueError, W_SIZE, weight=np.ones(4)),
    "weight of shape (1, C)": bad(
        CE, X, Y, ValueError, r"pass a 1-D weight of shape \(5,\)", weight=np.ones((1, 5))
    ),
    "weight of size C - 1 probabilities": bad(CE, X, P, ValueError, W_SIZE, weight=np.ones(4)),
    "nll weight of size C - 1": bad(NLL, X, Y, ValueError, W_SIZE, weight=np.ones(3)),
    "target (N, C + 1)": bad(
        CE,
        X,
        RNG.uniform(size=(4, 6)),
        ValueError,
        r"class indices of shape \(4,\) or class probabilities of the input's shape \(4, 5\)",
    ),
    "target (N - 1,)": bad(
        CE, X, Y[:3], ValueError, r"target of shape \(3,\) does not fit an input of shape \(4, 5\)"
    ),
    "target (N, 1)": bad(CE, X, Y[:, None], ValueError, "does not fit"),
    "target K-dim wrong": bad(CE, X4, Y4[:, :2], ValueError, r"class indices of shape \(4, 3, 2\)"),
    "unbatched target (2,)": bad(CE, X[0], Y[:2], ValueError, "does not fit"),
    "nll probability target": bad(NLL, X, P, ValueError, r"pass class indices of shape \(4,\)"),
    "float index targets": bad(
        CE, X, Y.astype(np.float64), TypeError, "integer class indices, got dtype float64"
    ),
    "bool index targets": bad(CE, X, Y > 1, TypeError, "integer class indices, got dtype bool"),
    "nll float index targets": bad(NLL, X, Y.astype(np.float32), TypeError, "integer class"),
    "integer probability targets": bad(
        CE,
        X,
        (P > 0.5).astype(np.int64),
        TypeError,
        "holds class probabilities and must be floating, got dtype int64",
    ),
    "bool probability targets": bad(CE, X, P > 0.5, TypeError, "must be floating, got dtype bool"),
    "integer input": bad(CE, X.astype(np.int64), Y, TypeError, "input must be a floating-point"),
    "0-d input": bad(CE, np.float64(1.0), np.int64(0), ValueError, "Expected 1 or more dimensions"),
    "nll 0-d input": bad(NLL, np.float64(1.0), np.int64(0), ValueError, "Expected 1 or more"),
    "unknown reduction": bad(
        CE, X, Y, ValueError, "'avg' is not a valid value for reduction", reduction="avg"
    ),
    "float ignore_index": bad(
        CE, X, Y, TypeError, "ignore_index must be an int, got float", ignore_index=2.0
    ),
    "bool ignore_index": bad(
        NLL, X, Y, TypeError, "ignore_index must be an int, got bool", ignore_index=True
    ),
    # issue 16: the kernel path raised a raw OverflowError, the reference returned a value
    "ignore_index beyond int64": bad(
        CE, X, Y, ValueError, "ignore_index=1180591620717411303424 is outside", ignore_index=2**70
    ),
    "nll ignore_index below int64": bad(
        NLL, X, Y, ValueError, "outside the range of int64", ignore_index=-(2**63) - 1
    ),
    "ignore_index 2**64 - 1 for uint64 targets": bad(
        CE, X, Y.astype(np.uint64), ValueError, "outside the range of int64", ignore_index=2**64 - 1
    ),
    # issue 16: wrapped to int64 first, reported as "Target -1"
    "uint64 index above int64": bad(
        CE, X, np.array([0, 2**64 - 1, 1, 2], np.uint64), IndexError, f"Target {2**64 - 1} {OUT}"
    ),
    # issue 16: a weight of another dtype was promoted; PyTorch raises
    "float64 weight, float32 input": bad(
        CE,
        X.astype(np.float32),
        Y,
        TypeError,
        "weight has dtype float64, the input float32",
        weight=np.ones(5),
    ),
    "float16 weight, float32 input": bad(
        CE, X.astype(np.float32), Y, TypeError, "weight has dtype float16", weight=np.ones(5, "f2")
    ),
    "nll float64 weight, float32 input": bad(
        NLL, X.astype(np.float32), Y, TypeError, "weight has dtype float64", weight=np.ones(5)
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_raises_with_what_to_pass(torch, case):
    name, x, target, kwargs, error, message, torch_raises = BAD[case]
    with pytest.raises(error, match=message) as info:
        getattr(xent, name)(x, target, **kwargs)
    assert any(hint in str(info.value) for hint in ("pass", "convert", "between 0.0 and 1.0"))
    with pytest.raises(error, match=message):  # value_and_grad checks the same
        xent.value_and_grad(getattr(xent, name))(x, target, **kwargs)
    if torch_raises:  # where PyTorch raises, xent never returns a number
        fn = getattr(torch.nn.functional, name)
        args = {k: to_torch(torch, v) for k, v in kwargs.items()}
        with pytest.raises((RuntimeError, ValueError, IndexError, TypeError, NotImplementedError)):
            fn(torch.tensor(x), torch.from_numpy(np.asarray(target)), **args)


@pytest.mark.parametrize("kernels", ["kernels", "reference"])
@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_ignore_index_outside_int64_is_refused_on_every_path(torch, monkeypatch, library, kernels):
    if kernels == "reference":
        monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    x, y = (X, Y) if library == "numpy" else (torch.tensor(X), torch.tensor(Y))
    for name in (CE, NLL):
        for bad_index in (2**63, 2**70, -(2**63) - 1):
            with pytest.raises(ValueError, match="outside the range of int64"):
                getattr(xent, name)(x, y, ignore_index=bad_index)
        # the ends of int64 are fine: nothing equals them here
        want = getattr(xent, name)(x, y)
        for edge in (2**63 - 1, -(2**63)):
            assert float(getattr(xent, name)(x, y, ignore_index=edge)) == float(want)


def test_uint64_targets_name_their_value(torch):
    """uint64 indices at or above 2**63 are out of bounds under their own value (they
    were cast to int64 first); torch tensors too (no uint64 comparisons in torch)."""
    for target in (
        np.array([1, 2**63, 0, 2], np.uint64),
        torch.tensor([1, 2**63, 0, 2], dtype=torch.uint64),
    ):
        with pytest.raises(IndexError, match=f"Target {2**63} {OUT}"):
            xent.cross_entropy(torch.tensor(X) if torch.is_tensor(target) else X, target)
    small = torch.tensor(Y.astype(np.uint64))
    assert float(xent.cross_entropy(torch.tensor(X), small)) == float(xent.cross_entropy(X, Y))


def test_class_weight_of_another_dtype_is_refused_like_torch(torch):
    """PyTorch: "expected scalar type Float but found Double"; lists still convert."""
    x = torch.tensor(X, dtype=torch.float32)
    for name in (CE, NLL):
        for dtype in (torch.float64, torch.float16):
            weight = torch.tensor(W5, dtype=dtype)
            with pytest.raises(RuntimeError, match="expected scalar type"):
                getattr(torch.nn.functional, name)(x, torch.tensor(Y), weight=weight)
            with pytest.raises(TypeError, match="pass a class weight of the input's dtype"):
                getattr(xent, name)(x, torch.tensor(Y), weight=weight)
        listed = getattr(xent, name)(x, torch.tensor(Y), weight=[float(v) for v in W5])
        same = getattr(xent, name)(x, torch.tensor(Y), weight=torch.tensor(W5, dtype=x.dtype))
        assert float(listed) == float(same)
    # probability targets: PyTorch promotes instead of raising, and so does xent
    p, w64 = torch.tensor(P, dtype=torch.float32), torch.tensor(W5)
    want = torch.nn.functional.cross_entropy(x, p, weight=w64)
    np.testing.assert_allclose(float(xent.cross_entropy(x, p, weight=w64)), float(want), 1e-6)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(
    "case", ["index", "index weight smoothing", "probabilities", "K-dim", "unbatched", "nll"]
)
def test_meta_tensors_infer_shapes_like_torch(torch, case, reduction):
    """torch meta tensors hold no values: cross_entropy raised "Tensor.item() cannot be
    called on meta tensors" from its value checks (issue 16); now shapes and dtypes
    come out as torch's, and the gradient too."""
    meta = {"device": "meta"}
    x = torch.empty(4, 5, **meta)
    y = torch.empty(4, dtype=torch.long, **meta)
    name, kwargs = CE, {}
    if case == "index weight smoothing":
        kwargs = {"weight": torch.empty(5, **meta), "label_smoothing": 0.1}
    elif case == "probabilities":
        y = torch.empty(4, 5, **meta)
    elif case == "K-dim":
        x, y = torch.empty(2, 5, 3, 4, **meta), torch.empty(2, 3, 4, dtype=torch.long, **meta)
    elif case == "unbatched":
        x, y = torch.empty(5, **meta), torch.empty((), dtype=torch.long, **meta)
    elif case == "nll":
        name = NLL
    want = getattr(torch.nn.functional, name)(x, y, reduction=reduction, **kwargs)
    x.requires_grad_(True)
    got = getattr(xent, name)(x, y, reduction=reduction, **kwargs)
    assert got.device.type == "meta"
    assert (got.shape, got.dtype) == (want.shape, want.dtype)
    got.sum().backward()
    assert x.grad.shape == x.shape and x.grad.device.type == "meta"


def test_ignored_positions_may_hold_any_value():
    """ignore_index outside [0, C) is never bounds-checked where it appears."""
    y = np.array([0, 200, 1, 200])
    loss = xent.cross_entropy(X, y, ignore_index=200, reduction="none")
    assert loss[1] == 0 and loss[3] == 0 and np.all(loss[[0, 2]] > 0)


def test_any_integer_dtype_is_accepted_for_indices(torch):
    """PyTorch wants int64 or uint8; xent takes every integer dtype."""
    expected, _ = torch_value_and_grad(torch, "cross_entropy", X, Y)
    for dtype in (np.int8, np.uint8, np.int16, np.int32, np.uint64):
        np.testing.assert_allclose(
            xent.cross_entropy(X, Y.astype(dtype)), expected, **tol(np.float64, 4)
        )


# --------------------------------------------------------------------------- array API plumbing


def test_take_last_one_hot_fallback_equals_take_along_axis():
    """The fallback for namespaces without take_along_axis (dask) picks the same values,
    and an infinite value elsewhere in the row does not leak in."""
    import array_api_compat.numpy as xp

    x = RNG.normal(size=(3, 4, 5))
    x[0, 0, 1] = -np.inf
    index = RNG.integers(0, 5, size=(3, 4))
    index[0, 0] = 2
    picked = _array.take_last(xp, x, index)
    np.testing.assert_array_equal(picked, _array.take_last_one_hot(xp, x, index))
    np.testing.assert_array_equal(picked, np.take_along_axis(x, index[..., None], -1)[..., 0])


def test_runs_on_the_strict_array_api():
    """Only standard functions: array_api_strict gives NumPy's values."""
    strict = pytest.importorskip("array_api_strict")
    x, y, t = X4, Y4, RNG.uniform(size=X4.shape)
    for target, kwargs in ((y, {"weight": W5, "label_smoothing": 0.2}), (t, {"weight": W5})):
        loss, grad = xent.value_and_grad(xent.cross_entropy)(
            strict.asarray(x),
            strict.asarray(target),
            weight=strict.asarray(W5),
            **{k: v for k, v in kwargs.items() if k != "weight"},
        )
        ref_loss, ref_grad = xent_value_and_grad("cross_entropy", x, target, **kwargs)
        np.testing.assert_allclose(np.asarray(loss), ref_loss, **tol(np.float64, 4))
        np.testing.assert_allclose(np.asarray(grad), ref_grad, **tol(np.float64, 4))
