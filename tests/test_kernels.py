"""The compiled binary-family kernels against their oracles.

Oracles: the array-API reference in xent._binary (reached as ``fn.reference``,
never through the kernels), mpmath for the elementwise accuracy, and the kernels
themselves only for what must be bitwise stable (thread counts, layouts, runs).
Each comparison runs on every instruction set this CPU offers (baseline, AVX2,
AVX-512).
"""

from __future__ import annotations

import math
from dataclasses import replace

import array_api_compat.numpy as xp
import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import kernel_helpers as kh
import xent
from helpers import assert_close, eps, largest
from kernel_helpers import extension
from xent import _binary, _kernels
from xent._kernels import DECLINED, _ops, _state

isa = kh.isa_fixture

FAMILY = {
    "bce_with_logits": _binary.binary_cross_entropy_with_logits,
    "bce_probs": _binary.binary_cross_entropy,
    "sigmoid_focal": _binary.sigmoid_focal_loss,
}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
REDUCTIONS = ["none", "sum", "mean"]
SHAPE = (7, 37)  # 259 elements: not a multiple of any vector width


# --------------------------------------------------------------------------- data


def logits(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=6.0, size=shape)
    flat = x.reshape(-1)
    extremes = [100.0, -100.0, 40.0, -40.0, 0.0, -0.0, 1e-30, -17.0, 88.0, -104.0]
    flat[: min(len(extremes), flat.size)] = extremes[: flat.size]
    return x.astype(dtype)


def probabilities(dtype, shape=SHAPE, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=shape)
    flat = p.reshape(-1)
    special = [0.0, 1.0, 1e-30, 1e-7, 1.0 - 1e-7, 0.5, 1e-45, 3e-44, 1e-300]
    flat[: min(len(special), flat.size)] = special[: flat.size]
    return p.astype(dtype)


def targets(dtype, shape=SHAPE, seed=1, soft=True):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=shape).astype(np.float64)
    if soft:
        y = np.where(rng.uniform(size=shape) < 0.3, rng.uniform(size=shape), y)
    return y.astype(dtype)


def with_ignored(y, value, seed=2):
    y = y.copy()
    y[np.random.default_rng(seed).uniform(size=y.shape) < 0.25] = value
    return y


# --------------------------------------------------------------------------- scales


def _effective_target(y, label_smoothing, ignore_index):
    y = y.astype(np.float64)
    valid = np.ones(y.shape, bool) if ignore_index is None else y != ignore_index
    y = np.where(valid, y, 0.0)
    return y * (1 - label_smoothing) + 0.5 * label_smoothing, valid


def _denominator(reduction, valid):
    return np.count_nonzero(valid) if reduction == "mean" else 1


def logits_scales(
    x, y, reduction, weight=None, pos_weight=None, label_smoothing=0.0, ignore_index=None
):
    """Bounds on the magnitude of the terms each loss and gradient element adds up."""
    y, valid = _effective_target(y, label_smoothing, ignore_index)
    w = 1.0 if weight is None else np.abs(np.broadcast_to(weight, x.shape).astype(np.float64))
    p = 1.0 if pos_weight is None else np.abs(np.broadcast_to(pos_weight, x.shape))
    terms = w * (np.abs(1 - y) + np.abs(p * y)) * valid
    return terms * (np.abs(x.astype(np.float64)) + 1), terms / max(
        _denominator(reduction, valid), 1
    )


def probs_scales(p, y, reduction, weight=None, label_smoothing=0.0, ignore_index=None):
    y, valid = _effective_target(y, label_smoothing, ignore_index)
    w = 1.0 if weight is None else np.abs(np.broadcast_to(weight, p.shape).astype(np.float64))
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p.astype(np.float64)), -100)
        log_q = np.maximum(np.log1p(-p.astype(np.float64)), -100)
    return w * (np.abs(y * log_p) + np.abs((1 - y) * log_q)) * valid, 0.0


def focal_scales(x, y, reduction, alpha=0.25, gamma=2.0):
    return 0.0, None  # products of non-negative factors; the gradient: see compare()


SCALES = {
    "bce_with_logits": logits_scales,
    "bce_probs": probs_scales,
    "sigmoid_focal": focal_scales,
}


def compare(op, x, y, reduction, need_grad, ulps=8.0, **options):
    """Kernel against the reference: loss and gradient, dtype and shape."""
    dtype = x.dtype
    kernel = _ops.binary(op, x, y, reduction=reduction, need_grad=need_grad, **options)
    assert kernel is not None, "the kernel declined arguments it supports"
    ref = FAMILY[op].reference(xp, x, y, reduction=reduction, need_grad=need_grad, **options)
    loss_scale, grad_scale = SCALES[op](x, y, reduction, **options)
    loss = np.asarray(kernel[0])
    assert loss.dtype == dtype
    if reduction == "none":
        assert loss.shape == x.shape
        assert_close(loss, ref[0], dtype, ulps, loss_scale)
    else:
        assert loss.shape == ()
        # the reference sums in the input dtype (pairwise); the kernel in float64
        assert_close(loss, ref[0], dtype, ulps + math.log2(x.size + 2), np.sum(loss_scale))
    if not need_grad:
        assert kernel[1] is None
        return kernel
    assert kernel[1].dtype == dtype
    assert kernel[1].shape == x.shape
    if grad_scale is None:  # focal: relative to the largest element
        grad_scale = np.max(np.abs(ref[1]), initial=0.0)
    assert_close(kernel[1], ref[1], dtype, ulps, grad_scale)
    return kernel


# --------------------------------------------------------------------------- against the reference

LOGITS_OPTIONS = {
    "plain": {},
    "weight_full": {"weight": "full"},
    "weight_last_axis": {"weight": "last"},
    "weight_scalar": {"weight": "scalar"},
    "pos_weight_last_axis": {"pos_weight": "last"},
    "pos_weight_full": {"pos_weight": "full"},
    "both_weights": {"weight": "last", "pos_weight": "last"},
    "smoothing": {"label_smoothing": 0.1},
    "ignore": {"ignore_index": -1.0},
    "ignore_present_value": {"ignore_index": 1.0},
    "everything": {
        "weight": "full",
        "pos_weight": "last",
        "label_smoothing": 0.2,
        "ignore_index": -1.0,
    },
}


def operand(kind, dtype, shape, seed):
    rng = np.random.default_rng(seed)
    sizes = {"full": shape, "last": shape[-1:], "scalar": ()}
    return rng.uniform(0.2, 3.0, size=sizes[kind]).astype(dtype)


def resolve(options, dtype, shape=SHAPE):
    out = {}
    for name, value in options.items():
        if name in ("weight", "pos_weight"):
            value = operand(value, dtype, shape, seed=len(name))
        out[name] = value
    return out


@pytest.mark.parametrize("need_grad", [False, True], ids=["loss", "loss_and_grad"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(LOGITS_OPTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_with_logits_matches_reference(isa, dtype, case, reduction, need_grad):
    options = resolve(LOGITS_OPTIONS[case], dtype)
    y = targets(dtype)
    if "ignore_index" in options:
        y = with_ignored(y, options["ignore_index"])
    compare("bce_with_logits", logits(dtype), y, reduction, need_grad, **options)


PROBS_OPTIONS = {
    "plain": {},
    "weight_full": {"weight": "full"},
    "weight_last_axis": {"weight": "last"},
    "smoothing": {"label_smoothing": 0.3},
    "ignore": {"ignore_index": -100.0},
    "everything": {"weight": "last", "label_smoothing": 0.1, "ignore_index": -100.0},
}


@pytest.mark.parametrize("need_grad", [False, True], ids=["loss", "loss_and_grad"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(PROBS_OPTIONS))
@pytest.mark.parametrize("dtype", DTYPES)
def test_bce_on_probabilities_matches_reference(isa, dtype, case, reduction, need_grad):
    options = resolve(PROBS_OPTIONS[case], dtype)
    y = targets(dtype)
    if "ignore_index" in options:
        y = with_ignored(y, options["ignore_index"])
    compare("bce_probs", probabilities(dtype), y, reduction, need_grad, **options)


@pytest.mark.parametrize("need_grad", [False, True], ids=["loss", "loss_and_grad"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("alpha", [0.25, -1.0], ids=["alpha", "no_alpha"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.0, 2.0, 2.5, 3.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_focal_matches_reference(isa, dtype, gamma, alpha, reduction, need_grad):
    x = np.clip(logits(dtype), -60, 60)  # beyond, 1 - p_t underflows and pow differs in ulps
    options = {"alpha": alpha, "gamma": gamma}
    compare("sigmoid_focal", x, targets(dtype), reduction, need_grad, ulps=8 + 4 * gamma, **options)


@pytest.mark.parametrize("gamma", [0.0, 0.5, 1.5, 2.0])
@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_focal_gradient_in_the_tails(isa, dtype, gamma):
    """Where 1 - p_t underflows to a subnormal or 0 (|x| of 60 to 800), the gradient
    stays finite and follows the reference: m^(gamma - 1) overflowed there at gamma < 1
    (0 * inf = nan at gamma = 0; found by hypothesis)."""
    x = np.concatenate([np.linspace(60, 800, 40), -np.linspace(60, 800, 40)]).astype(dtype)
    y = np.tile(np.array([1.0, 0.0], dtype), 40)
    ref_loss, ref_grad = _binary.sigmoid_focal_loss.reference(
        xp, x, y, gamma=gamma, reduction="none", need_grad=True
    )
    loss, grad = _ops.binary("sigmoid_focal", x, y, gamma=gamma, reduction="none", need_grad=True)
    assert np.all(np.isfinite(grad))
    tiny = float(np.finfo(dtype).tiny)  # below the normal range, compare absolutely
    np.testing.assert_allclose(loss, ref_loss, rtol=64 * eps(dtype), atol=tiny)
    np.testing.assert_allclose(grad, ref_grad, rtol=64 * eps(dtype), atol=tiny)


@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_targets_outside_unit_interval(isa, dtype):
    """PyTorch accepts y = 2 or y = -1 for logits; the formula is used as is."""
    y = np.random.default_rng(3).choice([-1.0, 2.0, 0.5, 3.0], size=SHAPE).astype(dtype)
    compare(
        "bce_with_logits",
        logits(dtype),
        y,
        "none",
        True,
        pos_weight=operand("last", dtype, SHAPE, 4),
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["bce_with_logits", "sigmoid_focal"])
def test_nonfinite_logits_match_reference(isa, op, dtype):
    x = np.array([np.inf, -np.inf, np.nan, np.inf, -np.inf, 0.0, 5.0], dtype)
    y = np.array([0.0, 1.0, 0.5, 1.0, 0.0, 1.0, np.nan], dtype)
    with np.errstate(invalid="ignore"):
        compare(op, x, y, "none", True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_pos_weight_at_very_negative_logits(isa, torch, dtype, reduction):
    """pos_weight = inf, x <= -1e4 (or -inf) and y > 0: the loss p y softplus(-x) is inf,
    as the reference and torch give; the kernel's (1 - y + p y) log1p(e^x) took
    inf * 0 = nan where e^x underflows (issue 16)."""
    x = np.array([-1e4, -1e30, -np.inf, -200.0, -50.0, -1e4, 3.0], dtype)
    y = np.array([1.0, 0.5, 0.5, 1.0, 1.0, 0.25, 1.0], dtype)
    pw = np.full(x.shape, np.inf, dtype)
    kernel = compare("bce_with_logits", x, y, reduction, True, pos_weight=pw)
    assert np.all(np.isposinf(kernel[0]))
    finite = np.isfinite(x)  # torch's (1 + (p - 1) y) softplus(-x) - ...: nan at x = -inf
    want = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(x[finite]),
        torch.from_numpy(y[finite]),
        pos_weight=torch.from_numpy(pw[finite]),
        reduction="none",
    )
    assert np.all(np.isposinf(want.numpy()))
    elementwise = _ops.binary("bce_with_logits", x, y, pos_weight=pw, reduction="none")[0]
    np.testing.assert_array_equal(elementwise[finite], want.numpy())


@pytest.mark.parametrize("size", [7, 300_001], ids=["one-block", "many-blocks"])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("op", ["bce_with_logits", "sigmoid_focal"])
def test_infinite_losses_reduce_to_infinity(isa, op, dtype, reduction, size):
    """An infinite elementwise loss makes the sum infinite, not nan: the compensated
    sums must not turn inf - inf into nan (a bug found in review)."""
    x = logits(dtype, (size,))
    y = np.zeros(size, dtype)
    x[size // 2] = np.inf  # y = 0: loss softplus(inf) = inf
    kernel = _ops.binary(op, x, y, reduction=reduction, need_grad=True)
    reference = FAMILY[op].reference(xp, x, y, reduction=reduction, need_grad=True)
    assert np.isposinf(reference[0]) and np.isposinf(kernel[0])
    assert np.all(np.isfinite(kernel[1])) and np.all(np.isfinite(reference[1]))


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("y", [0.0, 1.0, 0.3])
@pytest.mark.parametrize("dtype", DTYPES)
def test_logits_loss_within_4_ulp_of_mpmath(isa, dtype, y):
    """The elementwise loss on [-100, 100] (both tails included)."""
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.uniform(-100, 100, 600), rng.uniform(-2, 2, 200), [-100.0, 100.0]])
    x = x.astype(dtype)
    loss, _ = _ops.binary("bce_with_logits", x, np.full_like(x, y), reduction="none")
    mpmath.mp.prec = 200
    yy = mpmath.mpf(float(dtype(y)))
    for xi, li in zip(x.tolist(), loss.tolist(), strict=True):
        xm = mpmath.mpf(xi)
        exact = (1 - yy) * mpmath.log1p(mpmath.exp(xm)) + yy * mpmath.log1p(mpmath.exp(-xm))
        ulp = float(np.spacing(dtype(abs(float(exact)))))
        assert abs(li - float(exact)) <= 4 * ulp, (xi, li, float(exact))


# --------------------------------------------------------------------------- reductions


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_is_the_exact_sum_of_the_elementwise_losses(isa, dtype):
    """The kernel accumulates in float64 (compensated for float64): its sum is the
    elementwise losses' sum rounded once."""
    x, y = logits(dtype, (301, 257), 7), targets(dtype, (301, 257), 8)
    elementwise = _ops.binary("bce_with_logits", x, y, reduction="none")[0]
    total = _ops.binary("bce_with_logits", x, y, reduction="sum")[0]
    exact = math.fsum(elementwise.astype(np.float64).reshape(-1).tolist())
    assert_close(total, exact, dtype, 1.0)


@pytest.mark.parametrize("op", ["bce_with_logits", "bce_probs"])
def test_mean_of_all_ignored_is_nan_with_zero_gradient(op):
    extension()
    x = np.full(SHAPE, 0.25, np.float32)
    y = np.full(SHAPE, -1.0, np.float32)
    loss, grad = _ops.binary(op, x, y, ignore_index=-1.0, reduction="mean", need_grad=True)
    assert np.isnan(loss)
    assert np.all(grad == 0)
    ref = FAMILY[op].reference(xp, x, y, ignore_index=-1.0, reduction="mean", need_grad=True)
    assert np.isnan(ref[0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (1,), (1, 1), ()], ids=str)
@pytest.mark.parametrize("op", list(FAMILY))
def test_empty_and_single_element(isa, op, shape, reduction):
    dtype = np.float32
    x = (probabilities if op == "bce_probs" else logits)(dtype, shape)
    y = targets(dtype, shape)
    compare(op, x, y, reduction, True)


# --------------------------------------------------------------------------- dispatch


@pytest.mark.parametrize("op", list(FAMILY))
def test_family_functions_dispatch_to_the_kernel(op, monkeypatch):
    extension()
    calls = []
    original = _kernels.KERNELS[FAMILY[op].__name__]

    def spy(*args, **kwargs):
        calls.append(args)
        return original.run(*args, **kwargs)

    monkeypatch.setitem(_kernels.KERNELS, FAMILY[op].__name__, replace(original, run=spy))
    x = (probabilities if op == "bce_probs" else logits)(np.float32)
    FAMILY[op](xp, x, targets(np.float32), reduction="sum")
    assert len(calls) == 1
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    FAMILY[op](xp, x, targets(np.float32), reduction="sum")
    assert len(calls) == 1, "XENT_DISABLE_KERNELS=1 must bypass the kernels"


def test_public_value_and_grad_uses_the_kernel_and_agrees(monkeypatch):
    extension()
    x, y = logits(np.float32), targets(np.float32)
    w = operand("last", np.float32, SHAPE, 9)
    vg = xent.value_and_grad(xent.binary_cross_entropy_with_logits)
    loss, grad = vg(x, y, weight=w, reduction="mean")
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    ref_loss, ref_grad = vg(x, y, weight=w, reduction="mean")
    assert_close(loss, ref_loss, np.float32, 16, None)
    assert_close(grad, ref_grad, np.float32, 8, np.abs(w) / x.size)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: d.__name__)
def test_public_function_keeps_dtypes(dtype):
    extension()
    x, y = logits(np.float64).astype(dtype), targets(np.float64).astype(dtype)
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(x, y)
    assert loss.dtype == dtype
    assert grad.dtype == dtype


def test_unsupported_broadcast_goes_to_the_reference():
    """A weight of shape (C, 1) for input (N, C, L) is not periodic in the flat index."""
    extension()
    x, y = logits(np.float32, (4, 3, 5)), targets(np.float32, (4, 3, 5))
    w = np.arange(1, 4, dtype=np.float32).reshape(3, 1)
    assert _ops.binary("bce_with_logits", x, y, weight=w, reduction="sum") is DECLINED
    result = _binary.binary_cross_entropy_with_logits(xp, x, y, weight=w, reduction="sum")
    ref = _binary.binary_cross_entropy_with_logits.reference(xp, x, y, weight=w, reduction="sum")
    assert result == ref


def test_torch_cpu_tensors_zero_copy(torch):
    extension()
    x, y = logits(np.float32), targets(np.float32)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(tx, ty, reduction="sum")
    assert isinstance(loss, torch.Tensor) and isinstance(grad, torch.Tensor)
    np_loss, np_grad = _ops.binary("bce_with_logits", x, y, reduction="sum", need_grad=True)
    assert loss.item() == np_loss
    np.testing.assert_array_equal(grad.numpy(), np_grad)
    # a tensor that needs autograd takes the kernel too, whose gradient is its backward
    tx.requires_grad_(True)
    out = xent.binary_cross_entropy_with_logits(tx, ty, reduction="sum")
    out.backward()
    assert out.item() == np_loss
    np.testing.assert_array_equal(tx.grad.numpy(), np_grad)


# --------------------------------------------------------------------------- layouts (hypothesis)

shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=40)


@st.composite
def layouts(draw):
    """An input shape, a view of it (strided, transposed or contiguous), and a weight
    shape: full, a suffix, with leading ones, or a non-periodic broadcast."""
    shape = draw(shapes)
    view = draw(st.sampled_from(["contiguous", "strided", "transposed"]))
    k = draw(st.integers(0, len(shape)))
    suffix = shape[len(shape) - k :]
    choices = [None, shape, suffix, (*shape[:-1], 1)]
    if k < len(shape):
        choices.append((1, *suffix))  # leading ones, still no more dimensions than the input
    weight_shape = draw(st.sampled_from(choices))
    seed = draw(st.integers(0, 2**16))
    return shape, view, weight_shape, seed


def make_view(a, view):
    if view == "strided":
        big = np.repeat(a, 2, axis=-1)
        return big[..., ::2]
    if view == "transposed":
        return np.ascontiguousarray(a.T).T
    return a


@given(
    layouts(), st.sampled_from(["none", "sum", "mean"]), st.sampled_from([np.float32, np.float64])
)
def test_any_layout_matches_reference(layout, reduction, dtype):
    extension()
    shape, view, weight_shape, seed = layout
    x = make_view(logits(dtype, shape, seed), view)
    y = make_view(targets(dtype, shape, seed + 1), view)
    w = None if weight_shape is None else operand("full", dtype, weight_shape, seed + 2)
    fn = _binary.binary_cross_entropy_with_logits
    got = fn(xp, x, y, weight=w, pos_weight=w, reduction=reduction, need_grad=True)
    ref = fn.reference(xp, x, y, weight=w, pos_weight=w, reduction=reduction, need_grad=True)
    loss_scale, grad_scale = logits_scales(x, y, reduction, weight=w, pos_weight=w)
    assert_close(got[0], ref[0], dtype, 8 + math.log2(x.size + 2), np.sum(loss_scale))
    assert_close(got[1], ref[1], dtype, 8, grad_scale)


@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(max_dims=2, max_side=50),
        elements=st.floats(-200, 200, allow_subnormal=True),
    ),
    st.sampled_from(["bce_with_logits", "sigmoid_focal", "bce_probs"]),
)
def test_any_values_match_reference(values, op):
    extension()
    x = np.clip(np.abs(values) / 200, 0, 1) if op == "bce_probs" else values
    y = targets(np.float64, values.shape)
    compare(op, x, y, "none", True, ulps=24 if op == "sigmoid_focal" else 8)


# --------------------------------------------------------------------------- front ends


def _front_end_calls():
    from xent import keras as xk
    from xent import tf as xtf

    rng = np.random.default_rng(3)
    x2, y2 = rng.normal(size=(6, 5)) * 3, rng.uniform(size=(6, 5))
    p2 = 1 / (1 + np.exp(-x2))
    x3 = rng.normal(size=(3, 4, 5)) * 3
    labels2, labels3 = rng.integers(0, 5, 6), rng.integers(0, 5, (3, 4))
    return {
        "keras.binary_crossentropy logits": (
            "binary_cross_entropy_with_logits",
            lambda: xk.binary_crossentropy(y2, x2, from_logits=True, label_smoothing=0.1),
        ),
        "keras.BinaryCrossentropy probabilities": (
            "binary_cross_entropy",
            lambda: xk.BinaryCrossentropy()(y2, p2, sample_weight=np.arange(6.0)),
        ),
        "keras.sparse_categorical_crossentropy logits": (
            "index_targets",
            lambda: xk.sparse_categorical_crossentropy(
                labels3, x3, from_logits=True, ignore_class=2
            ),
        ),
        "tf.sigmoid_cross_entropy_with_logits": (
            "binary_cross_entropy_with_logits",
            lambda: xtf.sigmoid_cross_entropy_with_logits(labels=y2, logits=x2),
        ),
        "tf.weighted_cross_entropy_with_logits": (
            "binary_cross_entropy_with_logits",
            lambda: xtf.weighted_cross_entropy_with_logits(y2, x2, np.arange(1.0, 6.0)),
        ),
        "tf.sparse_softmax_cross_entropy_with_logits": (
            "index_targets",
            lambda: xtf.sparse_softmax_cross_entropy_with_logits(labels=labels2, logits=x2),
        ),
    }


@pytest.mark.parametrize("name", list(_front_end_calls()))
def test_keras_and_tf_front_ends_reach_the_kernels(monkeypatch, name):
    """The Keras and tf.nn conventions call the same family functions, so the same
    kernels serve them (their values are checked against Keras in the convention
    tests); here: the kernel ran, and the reference gives the same result."""
    extension()
    op, call = _front_end_calls()[name]
    kernel, calls = _kernels.KERNELS[op], []
    run = kernel.run

    def recording(*args, **kwargs):
        result = run(*args, **kwargs)
        calls.append(result is not DECLINED)
        return result

    monkeypatch.setitem(_kernels.KERNELS, op, replace(kernel, run=recording))
    fast = call()
    assert calls and all(calls), f"{op} kernel not used (or declined) by {name}"
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    assert_close(fast, call(), np.float64, 16, 1.0)


# --------------------------------------------------------------------------- extreme values


def _extremes(dtype, op):
    tiny = float(np.finfo(dtype).smallest_subnormal)
    if op == "bce_probs":  # probabilities: the ends of [0, 1] and the clamp at log = -100
        values = [0.0, 1.0, tiny, 1.0 - float(np.finfo(dtype).epsneg), 1e-30, 1e-44, 0.5]
        return st.sampled_from([float(dtype(v)) for v in values]) | st.floats(0, 1, width=32)
    values = [np.inf, -np.inf, 1e4, -1e4, 88.0, -88.0, 89.0, -89.0, 709.0, -745.0, 0.0, -0.0]
    values = [float(dtype(v)) for v in [*values, tiny, -tiny, 1.0, -3.0]]
    return st.sampled_from(values) | st.floats(-50, 50, width=32)


@st.composite
def extreme_binary_cases(draw):
    op = draw(st.sampled_from(sorted(FAMILY)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    shape = draw(st.sampled_from([(1,), (5,), (3, 7), (2, 33)]))
    size = int(np.prod(shape))

    def array(elements):
        return np.array(draw(st.lists(elements, min_size=size, max_size=size)), dtype).reshape(
            shape
        )

    tiny = float(np.finfo(dtype).smallest_subnormal)
    x = array(_extremes(dtype, op))
    y = array(st.sampled_from([0.0, 1.0, 0.5, 0.25, 1e-30]))
    factors = st.sampled_from([0.0, 1.0, 2.5, 1e-30, tiny, 1e30, np.inf])
    options = {}
    if op == "sigmoid_focal":
        options["alpha"] = draw(st.sampled_from([0.25, -1.0, 0.0, 1.0]))
        options["gamma"] = draw(st.sampled_from([0.0, 0.5, 2.0, 5.0]))
    else:
        if draw(st.booleans()):
            options["weight"] = array(factors)
        if op == "bce_with_logits" and draw(st.booleans()):
            options["pos_weight"] = array(factors)
        if draw(st.booleans()):
            options["label_smoothing"] = draw(st.sampled_from([0.1, 0.5]))
        if draw(st.booleans()):
            y[0 if y.ndim == 1 else (0, 0)] = -1.0
            options["ignore_index"] = -1.0
    return op, x, y, options


@given(extreme_binary_cases(), st.sampled_from(REDUCTIONS), st.booleans())
def test_extreme_values_match_reference(case, reduction, need_grad):
    """Every binary kernel and option against the reference (the XENT_DISABLE_KERNELS
    path) at infinities, +-1e4, the exp edges (+-88/89, 709, -745), subnormals and the
    ends of [0, 1], with zero, tiny, huge and infinite weights and pos_weights: the
    same nan and infinity positions, values within a few ulp of the terms' size."""
    kh.extension()
    op, x, y, options = case
    with np.errstate(all="ignore"):
        kernel = _ops.binary(op, x, y, reduction=reduction, need_grad=need_grad, **options)
        ref = FAMILY[op].reference(xp, x, y, reduction=reduction, need_grad=need_grad, **options)
    assert kernel is not DECLINED, "the kernel declined arguments it supports"
    pairs = [(np.asarray(kernel[0]), np.asarray(ref[0]))]
    if need_grad:
        pairs.append((np.asarray(kernel[1]), np.asarray(ref[1])))
    for a, b in pairs:
        assert a.dtype == b.dtype == x.dtype and a.shape == b.shape
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), "nan positions differ")
        np.testing.assert_array_equal(np.isposinf(a), np.isposinf(b), "+inf positions differ")
        np.testing.assert_array_equal(np.isneginf(a), np.isneginf(b), "-inf positions differ")
    w = max(largest(options.get("weight")), 1.0) * max(largest(options.get("pos_weight")), 1.0)
    scale = w * (largest(x) + 101.0)  # the size of the terms (log clamps at -100)
    if reduction != "none":
        scale *= x.size
    assert_close(pairs[0][0], pairs[0][1], x.dtype, 64, scale)
    if need_grad:
        grad_scale = w * (largest(x) + 1.0) * max(largest(pairs[1][1]), 1.0)
        assert_close(pairs[1][0], pairs[1][1], x.dtype, 64, grad_scale)


@pytest.mark.parametrize(
    ("value", "disabled"),
    [("1", True), ("yes", True), (" ON ", True), ("0", False), ("off", False), ("", False)],
)
def test_the_switch_is_read_at_each_call(value, disabled, monkeypatch):
    """XENT_DISABLE_KERNELS takes effect at the next call however it is set: through
    monkeypatch, a plain assignment to os.environ and its deletion (_state reads the dict
    behind os.environ), or with os.environ replaced by a mapping without one."""
    import os

    extension()
    assert _state.extension() is not None
    monkeypatch.setenv("XENT_DISABLE_KERNELS", value)
    assert (_state.extension() is None) == disabled
    monkeypatch.delenv("XENT_DISABLE_KERNELS")
    assert _state.extension() is not None
    os.environ["XENT_DISABLE_KERNELS"] = value
    try:
        assert (_state.extension() is None) == disabled
    finally:
        del os.environ["XENT_DISABLE_KERNELS"]
    assert _state.extension() is not None
    monkeypatch.setattr(os, "environ", {"XENT_DISABLE_KERNELS": value})
    assert (_state.extension() is None) == disabled
