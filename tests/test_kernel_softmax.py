"""The softmax cross-entropy kernel (class-index targets) against
torch.nn.functional.cross_entropy: values, and gradients from torch autograd."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernel_helpers as kh
from helpers import assert_close
from kernel_helpers import extension
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
    assert softmax_cross_entropy(x.astype(np.float16), t) is DECLINED  # the caller converts
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
