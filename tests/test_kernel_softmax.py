"""The softmax cross-entropy kernel (class-index targets) against
torch.nn.functional.cross_entropy: values, and gradients from torch autograd."""

from __future__ import annotations

import array_api_compat.numpy as xp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernel_helpers as kh
import xent
from helpers import assert_close, largest
from kernel_helpers import extension
from xent._categorical import index_targets
from xent._kernels import DECLINED, softmax_cross_entropy

isa = kh.isa_fixture

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
SHAPES = {
    "N_C": (64, 37),
    "N_C_wide": (5, 1000),
    "C": (11,),
    "N_C_d": (4, 5, 21),
    "N_C_d1_d2": (3, 7, 5, 9),
    "N_C_d_long": (2, 3, 600),
    "N_C_single_class": (9, 1),
}


def case(shape, dtype, ignore_index=-100, seed=0, scale=4.0):
    rng = np.random.default_rng(seed)
    x = (rng.normal(size=shape) * scale).astype(dtype)
    c = shape[0] if len(shape) == 1 else shape[1]
    target_shape = () if len(shape) == 1 else (shape[0], *shape[2:])
    t = rng.integers(0, c, size=target_shape)
    if t.ndim:
        t[rng.uniform(size=target_shape) < 0.2] = ignore_index
    w = rng.uniform(0.3, 2.0, size=c).astype(dtype)
    return x, t, w


def torch_reference(torch, x, t, reduction, **options):
    """(loss, d loss / d x) from torch; for 'none' the gradient of the sum."""
    tx = torch.tensor(x, requires_grad=True)
    kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}
    loss = torch.nn.functional.cross_entropy(tx, torch.tensor(t), reduction=reduction, **kw)
    loss.sum().backward()
    return loss.detach().numpy(), tx.grad.numpy()


def loss_scale(x, t, reduction):
    """torch rounds log_softmax = x - max - lse in the dtype: errors of a few eps of
    the logits' magnitude per term."""
    return 4 * np.max(np.abs(x), initial=1.0) * (t.size if reduction == "sum" else 1)


def grad_scale(x, ref_grad, options, reduction):
    """torch's softmax is exp(log_softmax): relative error ~ |log p| eps, so a few
    eps of |grad| times the logits' range, plus the smoothing and target terms
    (weights over the 'mean' denominator)."""
    w = options.get("weight")
    terms = 1.0 if w is None else float(np.max(w))
    if reduction == "mean":
        terms /= max(1, x.size // (x.shape[0] if x.ndim == 1 else x.shape[1]))
    return np.abs(ref_grad) * 4 * np.max(np.abs(x), initial=1.0) + terms


OPTIONS = {
    "plain": {},
    "weight": {"weight": True},
    "smoothing": {"label_smoothing": 0.15},
    "weight_smoothing": {"weight": True, "label_smoothing": 0.3},
    "ignore_0": {"ignore_index": 0},
    "everything": {"weight": True, "label_smoothing": 0.1, "ignore_index": 2},
}


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("options", list(OPTIONS))
@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_torch(isa, torch, dtype, shape, options, reduction):
    opts = dict(OPTIONS[options])
    x, t, w = case(SHAPES[shape], dtype, opts.get("ignore_index", -100))
    if opts.pop("weight", False):
        opts["weight"] = w
    loss, grad = softmax_cross_entropy(x, t, reduction=reduction, need_grad=True, **opts)
    ref_loss, ref_grad = torch_reference(torch, x, t, reduction, **opts)
    assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
    assert np.shape(loss) == ref_loss.shape and grad.shape == x.shape
    assert_close(loss, ref_loss, dtype, 16, loss_scale(x, t, reduction))
    assert_close(grad, ref_grad, dtype, 16, grad_scale(x, ref_grad, opts, reduction))
    forward, none_grad = softmax_cross_entropy(x, t, reduction=reduction, **opts)
    assert none_grad is None
    assert np.array_equal(forward, loss, equal_nan=True), "loss without the gradient differs"


def test_int32_targets_and_float64_oracle(isa):
    """Against a float64 log-softmax written here (NumPy), int32 targets."""
    extension()
    x, t, w = case((50, 13), np.float64)
    t = np.where(t < 0, 3, t).astype(np.int32)
    loss, grad = softmax_cross_entropy(x, t, weight=w, reduction="sum", need_grad=True)
    logp = x - x.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    expected = -np.sum(w[t] * logp[np.arange(50), t])
    onehot = np.eye(13)[t]
    expected_grad = w[t][:, None] * (np.exp(logp) - onehot)
    assert_close(loss, expected, np.float64, 8, 0.0)
    assert_close(grad, expected_grad, np.float64, 8, 1.0)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("shape", ["N_C", "N_C_d_long"])
def test_float64_within_a_few_ulp_of_extended_precision(isa, shape, smoothing):
    """Tighter than torch (whose float64 softmax is exp(log_softmax)): against a
    log-softmax in NumPy's extended precision (80-bit on x86)."""
    extension()
    if np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps:
        pytest.skip("no extended precision long double on this platform")
    x, t, w = case(SHAPES[shape], np.float64)
    t = np.where(t < 0, 0, t)
    loss, grad = softmax_cross_entropy(
        x, t, weight=w, label_smoothing=smoothing, reduction="none", need_grad=True
    )
    xl = np.moveaxis(x.astype(np.longdouble), 1, -1)
    d = xl - xl.max(-1, keepdims=True)
    # log1p of the sum without the maximum's 1: no cancellation when it dominates
    below = np.where(d < 0, np.exp(d), 0).sum(-1, keepdims=True)
    logp = d - np.log1p(below + (np.sum(d == 0, -1, keepdims=True) - 1))
    c = x.shape[1]
    wl = w.astype(np.longdouble)
    onehot = np.eye(c, dtype=np.longdouble)[t]
    nll = -(onehot * logp).sum(-1) * wl[t]
    smooth = -(wl * logp).sum(-1)
    expected = (1 - smoothing) * nll + smoothing / c * smooth
    coef = (1 - smoothing) * wl[t][..., None] + smoothing / c * wl.sum()
    expected_grad = np.exp(logp) * coef - (1 - smoothing) * wl[t][..., None] * onehot
    expected_grad -= smoothing / c * wl
    expected_grad = np.moveaxis(expected_grad, -1, 1)
    assert_close(loss, expected.astype(np.float64), np.float64, 4, 0.0)
    assert_close(grad, expected_grad.astype(np.float64), np.float64, 4, np.max(w))


def test_all_ignored_mean_is_nan(torch):
    extension()
    x, t, _ = case((6, 4), np.float32)
    t[:] = -100
    loss, grad = softmax_cross_entropy(x, t, need_grad=True)
    assert np.isnan(loss)
    assert np.all(grad == 0)
    assert np.isnan(torch_reference(torch, x, t, "mean")[0])
    loss, _ = softmax_cross_entropy(x, t, reduction="sum")
    assert loss == 0


@pytest.mark.parametrize("bad", [7, -1, 2**40])
def test_out_of_range_target_raises_like_torch(torch, bad):
    extension()
    x, t, _ = case((6, 7), np.float32)
    t[3] = bad
    with pytest.raises(IndexError, match=f"Target {bad} is out of bounds."):
        softmax_cross_entropy(x, t)
    with pytest.raises(IndexError, match="out of bounds"):
        torch.nn.functional.cross_entropy(torch.tensor(x), torch.tensor(t))


def test_extreme_logits(isa, torch):
    extension()
    x = np.array([[1e4, -1e4, 0.0], [-1e30, 5.0, 5.0], [88.0, 89.0, -104.0]], np.float32)
    t = np.array([1, 0, 2])
    loss, grad = softmax_cross_entropy(x, t, reduction="none", need_grad=True)
    ref_loss, ref_grad = torch_reference(torch, x, t, "none")
    assert_close(loss, ref_loss, np.float32, 4, 0.0)
    assert_close(grad, ref_grad, np.float32, 4, 1.0)


def float64_oracle(x, t, w, smoothing):
    """Loss and gradient per row in float64 of (N, C) logits, with the rule that a zero
    target coefficient times an infinite log-probability counts as 0."""
    x = x.astype(np.float64)
    c = x.shape[1]
    finite = np.where(np.isfinite(x), x, -np.inf)
    logp = x - finite.max(1, keepdims=True)
    logp -= np.log(np.exp(logp).sum(1, keepdims=True))
    q = (1 - smoothing) * w[t][:, None] * np.eye(c)[t] + smoothing / c * w
    with np.errstate(invalid="ignore"):
        terms = np.where(q == 0, 0.0, q * logp)
    loss = -terms.sum(1)
    grad = q.sum(1, keepdims=True) * np.exp(logp) - q
    return loss, grad


@pytest.mark.parametrize("target", [0, 1], ids=["target_finite", "target_minus_inf"])
@pytest.mark.parametrize("smoothing", [0.0, 0.5])
@pytest.mark.parametrize("layout", ["rows", "positions"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_weight_times_minus_inf_logit_is_zero(isa, torch, dtype, layout, smoothing, target):
    """cross_entropy([[0, -inf, 1]], [t], weight=[1, 0, 1], label_smoothing=0.5): the class
    of weight 0 and logit -inf adds 0, as in the reference (0.9277 for t = 0); the
    kernel gave nan (issue 16). torch gives nan (0 * -inf), so the oracle is float64
    math with that rule."""
    extension()
    x = np.array([[0.0, -np.inf, 1.0], [2.0, -np.inf, -1.0]], dtype)
    t = np.array([target, 2])
    w = np.array([1.0, 0.0, 1.0], dtype)
    want, want_grad = float64_oracle(x, t, w, smoothing)
    assert np.all(np.isfinite(want))
    kx, kt = (x, t) if layout == "rows" else (x.T[None], t[None])  # (1, C, N): positions
    loss, grad = softmax_cross_entropy(
        kx, kt, weight=w, label_smoothing=smoothing, reduction="none", need_grad=True
    )
    grad = grad if layout == "rows" else grad[0].T
    assert_close(np.reshape(loss, -1), want, dtype, 8, 1.0)
    assert_close(grad, want_grad, dtype, 8, 1.0)
    ref = index_targets.reference(
        xp, x, t, class_axis=1, weight=w, label_smoothing=smoothing, reduction="none"
    )[0]
    assert_close(ref, want, dtype, 8, 1.0)
    if smoothing or target == 1:  # torch: nan wherever 0 * -inf is taken
        torch_loss = torch_reference(torch, x, t, "none", weight=w, label_smoothing=smoothing)[0]
        assert np.isnan(torch_loss[0])


def test_issue_example_with_and_without_kernels(monkeypatch):
    extension()
    args = (np.array([[0.0, -np.inf, 1.0]]), np.array([0]))
    options = {"weight": np.array([1.0, 0.0, 1.0]), "label_smoothing": 0.5}
    fast = xent.cross_entropy(*args, **options)
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    slow = xent.cross_entropy(*args, **options)
    assert_close(fast, slow, np.float64, 4, 1.0)
    assert round(float(slow), 4) == 0.9277


def _softmax_extremes(dtype):
    tiny = float(np.finfo(dtype).smallest_subnormal)
    values = [np.inf, -np.inf, 1e4, -1e4, 88.0, -88.0, 89.0, -89.0, 709.0, -745.0]
    return [float(dtype(v)) for v in [*values, tiny, -tiny, 0.0, -0.0, 1.0, -3.0]]


@st.composite
def extreme_softmax_cases(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n, c = draw(st.integers(1, 5)), draw(st.integers(1, 8))
    spatial = draw(st.sampled_from([(), (3,), (9,)]))
    values = st.sampled_from(_softmax_extremes(dtype)) | st.floats(-50, 50, width=32)
    size = n * c * int(np.prod(spatial))
    x = np.array(draw(st.lists(values, min_size=size, max_size=size)), dtype)
    x = x.reshape(n, c, *spatial)
    t = np.array(draw(st.lists(st.integers(-1, c - 1), min_size=n * int(np.prod(spatial)))))
    t = t[: n * int(np.prod(spatial))].reshape(n, *spatial)
    w = None
    if draw(st.booleans()):
        factors = st.sampled_from([0.0, 1.0, 2.5, 1e-30, np.inf])  # inf: declined
        w = np.array(draw(st.lists(factors, min_size=c, max_size=c)), dtype)
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.5]))
    return x, t, w, smoothing


@given(extreme_softmax_cases(), st.sampled_from(["none", "sum", "mean"]))
def test_extreme_values_match_reference(case, reduction):
    """The softmax kernel against the reference (the XENT_DISABLE_KERNELS path) at
    infinities, +-1e4, the exp edges, subnormals, with zero and infinite class weights:
    the same nan positions and infinities, values within a few ulp of the logits."""
    extension()
    x, t, w, smoothing = case
    options = {"weight": w, "ignore_index": -1, "label_smoothing": smoothing}
    with np.errstate(all="ignore"):
        result = softmax_cross_entropy(x, t, reduction=reduction, need_grad=True, **options)
        loss, grad = (result, None) if result is DECLINED else result
        ref_loss, ref_grad = index_targets.reference(
            xp, x, t, class_axis=1, reduction=reduction, need_grad=True, **options
        )
    if loss is DECLINED:  # an infinite weight: the reference runs
        assert w is not None and not np.isfinite(w).all()
        return
    for a, b in ((loss, ref_loss), (grad, ref_grad)):  # assert_close lets inf ~ finite pass
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b), "+inf positions differ")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), "-inf positions differ")
    magnitude = 4 * largest(x) * max(1.0, largest(w))
    scale = magnitude * (t.size if reduction == "sum" else 1)
    assert_close(loss, ref_loss, x.dtype, 16, scale)
    assert_close(grad, ref_grad, x.dtype, 16, magnitude * largest(ref_grad) + largest(w) + 1)


def test_nan_logit_poisons_its_row_only(torch):
    extension()
    x, t, _ = case((4, 9), np.float32)
    t[:] = 1
    x[2, 5] = np.nan
    loss, grad = softmax_cross_entropy(x, t, reduction="none", need_grad=True)
    ref_loss, _ = torch_reference(torch, x, t, "none")
    np.testing.assert_array_equal(np.isnan(loss), np.isnan(ref_loss))
    assert np.isnan(grad[2]).all() and not np.isnan(np.delete(grad, 2, 0)).any()


def test_unsupported_inputs_decline():
    extension()
    x, t, _ = case((4, 3), np.float32)
    assert softmax_cross_entropy(x.astype(np.int32), t) is DECLINED  # not floating
    # float16 is read as it is (tests/test_kernel_half.py)
    assert softmax_cross_entropy(x.astype(np.float16), t) is not DECLINED
    assert softmax_cross_entropy(x, t.astype(np.float32)) is DECLINED  # probability targets
    assert softmax_cross_entropy(x, t[:2]) is DECLINED  # shape mismatch: the front end's job


@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.lists(st.integers(1, 5), max_size=2),
    st.sampled_from(["none", "sum", "mean"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_any_shape_matches_torch(torch, n, c, spatial, reduction, strided, seed):
    extension()
    x, t, w = case((n, c, *spatial), np.float32, seed=seed)
    if strided:  # non-contiguous logits are copied
        x = np.repeat(x, 2, axis=1)[:, ::2]
    loss, grad = softmax_cross_entropy(x, t, weight=w, reduction=reduction, need_grad=True)
    ref_loss, ref_grad = torch_reference(torch, x, t, reduction, weight=w)
    assert_close(loss, ref_loss, np.float32, 16, loss_scale(x, t, reduction))
    assert_close(grad, ref_grad, np.float32, 16, grad_scale(x, ref_grad, {"weight": w}, reduction))
