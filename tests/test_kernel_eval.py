"""The compiled evaluation sums (``_ops.binary_totals``, what ``xent eval`` reports)
against a float64 NumPy computation from the definitions: every loss option, weighted
and unweighted, both dtypes, every instruction set; bitwise the same for any thread
count; ragged and empty sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest

import kernel_helpers as kh
import xent
from helpers import assert_close, eps
from kernel_helpers import extension
from xent._kernels import DECLINED, _ops, _state

isa = kh.isa_fixture

DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
N = 1037  # not a multiple of any vector width (16, 8, 4) nor of two of them
ULPS = 16  # per element; each sum is of non-negative terms, so also relative to it

# (op, options) of every kind the command line asks for
CASES = {
    "logits": ("bce_with_logits", {}),
    "logits_pos_weight": ("bce_with_logits", {"pos_weight": 2.5}),
    "logits_smoothing": ("bce_with_logits", {"label_smoothing": 0.1}),
    "logits_pos_weight_smoothing": (
        "bce_with_logits",
        {"pos_weight": 0.4, "label_smoothing": 0.3},
    ),
    "probs": ("bce_probs", {}),
    "probs_smoothing": ("bce_probs", {"label_smoothing": 0.2}),
    "focal": ("sigmoid_focal", {"alpha": 0.25, "gamma": 2.0}),
    "focal_no_alpha": ("sigmoid_focal", {"alpha": -1.0, "gamma": 2.0}),
    "focal_gamma_0": ("sigmoid_focal", {"alpha": 0.25, "gamma": 0.0}),
    "focal_gamma_2.5": ("sigmoid_focal", {"alpha": 0.6, "gamma": 2.5}),
    "focal_smoothing": ("sigmoid_focal", {"alpha": 0.25, "gamma": 1.0, "label_smoothing": 0.1}),
}


# --------------------------------------------------------------------------- data


def make(op, dtype, n=N, seed=0, hard=False):
    """(x, y, w): logits or probabilities with their extremes, labels (hard 0/1 or some
    soft), non-negative weights with zeros."""
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=4.0, size=n)
    if op == "bce_probs":
        x = 1.0 / (1.0 + np.exp(-x))
        special = [0.0, 1.0, 1e-30, 1e-7, 1.0 - 1e-7, 0.5, 1e-45, 0.0, 1.0]
    else:
        special = [100.0, -100.0, 40.0, -40.0, 0.0, -0.0, 1e-30, -17.0, 88.0, -104.0]
    x[: min(len(special), n)] = special[:n]
    y = rng.integers(0, 2, size=n).astype(np.float64)
    if not hard:
        y = np.where(rng.uniform(size=n) < 0.3, rng.uniform(size=n), y)
    w = rng.uniform(0.0, 3.0, size=n)
    w[rng.uniform(size=n) < 0.05] = 0.0
    return x.astype(dtype), y.astype(dtype), w.astype(dtype)


# --------------------------------------------------------------------------- float64 reference


def _times_or_zero(coef, value):
    """coef * value with 0 * inf = 0, as PyTorch and xent compute these terms."""
    return np.where(coef == 0, 0.0, coef * np.where(coef == 0, 1.0, value))


def reference(op, x, y, w=None, *, pos_weight=None, label_smoothing=0.0, alpha=0.25, gamma=2.0):
    """Each row's loss l and probability p, in float64 from the definitions."""
    x, y = x.astype(np.float64), y.astype(np.float64)
    ys = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if op == "bce_probs":
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(x), -100.0)
            log_q = np.maximum(np.log1p(-x), -100.0)
        return -(ys * log_p + (1 - ys) * log_q), x
    e = np.exp(-np.abs(x))  # sigmoid(x) and sigmoid(-x), neither as 1 - the other
    big, small = 1.0 / (1.0 + e), e / (1.0 + e)
    p, q = np.where(x >= 0, big, small), np.where(x >= 0, small, big)
    softplus, softplus_neg = np.logaddexp(0.0, x), np.logaddexp(0.0, -x)
    if op == "bce_with_logits":
        pw = 1.0 if pos_weight is None else pos_weight
        return _times_or_zero(1 - ys, softplus) + _times_or_zero(pw * ys, softplus_neg), p
    ce = _times_or_zero(1 - ys, softplus) + _times_or_zero(ys, softplus_neg)
    loss = ce * (ys * q + (1 - ys) * p) ** gamma
    if alpha >= 0:
        loss = (alpha * ys + (1 - alpha) * (1 - ys)) * loss
    return loss, p


def reference_sums(op, x, y, w, **options):
    loss, p = reference(op, x, y, **options)
    ones = np.ones_like(loss)
    w = ones if w is None else w.astype(np.float64)
    y = y.astype(np.float64)

    def fsum(a):
        return math.fsum(a.tolist())

    return _ops.BinaryTotals(
        loss=fsum(w * loss),
        weight=fsum(w),
        weighted_labels=fsum(w * y),
        labels=fsum(y),
        weighted_predictions=fsum(w * p),
    ), w * loss


def assert_sums_close(got, expected, dtype, ulps=ULPS):
    for name in _ops.BinaryTotals._fields:
        a, b = getattr(got, name), getattr(expected, name)
        if math.isinf(b):
            assert a == b, name
            continue
        bound = ulps * eps(dtype) * abs(b) + 1e-300
        assert abs(a - b) <= bound, f"{name}: {a!r} vs {b!r}"


# --------------------------------------------------------------------------- against the reference


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_sums_and_rows_match_the_float64_reference(isa, dtype, case, weighted):
    op, options = CASES[case]
    x, y, w = make(op, dtype)
    w = w if weighted else None
    result = _ops.binary_totals(op, x, y, weight=w, per_row=True, **options)
    assert result is not None, "the kernel declined arguments it supports"
    sums, per_row = result
    expected, rows = reference_sums(op, x, y, w, **options)
    assert_sums_close(sums, expected, dtype)
    assert per_row.dtype == dtype and per_row.shape == x.shape
    # logits: softplus(x) ~ |x| carries |x| ulps of x's rounding in the exp argument
    scale = (
        None
        if op == "bce_probs"
        else (np.abs(x.astype(np.float64)) + 1)
        * (1.0 if w is None else w.astype(np.float64))
        * (1 + options.get("pos_weight", 1.0))
    )
    assert_close(per_row, rows, dtype, ULPS, 0.0 if op == "sigmoid_focal" else scale)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["logits", "probs", "focal"])
def test_hard_labels_count_positives_exactly(isa, dtype, case):
    op, options = CASES[case]
    x, y, _ = make(op, dtype, hard=True)
    sums, per_row = _ops.binary_totals(op, x, y, **options)
    assert per_row is None  # only with per_row
    assert sums.labels == sums.weighted_labels == np.count_nonzero(y)
    assert sums.weight == N


# float64 values are added with compensation (TwoSum per lane): the exact sum rounded
# about once; float32 values are widened and added in plain float64 lanes of at most one
# block (32768 values) before the compensated combination of the blocks.
SUM_ERROR = {np.float32: 32768 * eps(np.float64), np.float64: 4 * eps(np.float64)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sums_are_float64_sums_of_the_rows(isa, dtype, weighted):
    """Each product is rounded to the dtype, then added in float64: a sum is the exact
    sum of the per-row values up to float64 rounding (not float32's)."""
    x, y, w = make("bce_with_logits", dtype, n=150_003, seed=3)
    w = w if weighted else None
    sums, per_row = _ops.binary_totals("bce_with_logits", x, y, weight=w, per_row=True)

    def exact(a):
        return math.fsum(a.astype(np.float64).tolist())

    ones = np.ones_like(x)
    wp = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))  # only checked to float32 accuracy
    expected = {
        "loss": exact(per_row),
        "labels": exact(y),
        "weight": exact(ones if w is None else w),
        "weighted_labels": exact(y if w is None else w * y),
    }
    for name, value in expected.items():
        assert abs(getattr(sums, name) - value) <= SUM_ERROR[dtype] * value, name
    reference_wp = exact(wp * (1.0 if w is None else w))
    assert sums.weighted_predictions == pytest.approx(reference_wp, rel=ULPS * eps(dtype))


@pytest.mark.parametrize("size", [0, 1, 3, 4, 7, 8, 15, 16, 17, 31, 33], ids=lambda n: f"n{n}")
@pytest.mark.parametrize("dtype", DTYPES)
def test_ragged_and_empty_sizes(isa, dtype, size):
    op, options = CASES["logits_pos_weight_smoothing"]
    x, y, w = make(op, dtype, n=size, seed=size)
    for weight in (None, w):
        sums, per_row = _ops.binary_totals(op, x, y, weight=weight, per_row=True, **options)
        expected, rows = reference_sums(op, x, y, weight, **options)
        assert_sums_close(sums, expected, dtype)
        assert per_row.shape == (size,)
        scale = (np.abs(x.astype(np.float64)) + 1) * 2 * (1.0 if weight is None else w)
        assert_close(per_row, rows, dtype, ULPS, scale)
    if size == 0:
        assert sums == (0.0, 0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_infinite_logits(isa, dtype):
    """+-inf logits (the command line lets them through): p is 0 or 1, the loss of a
    wrong certain prediction is inf, that of a right one 0 (no inf * 0 = nan)."""
    x = np.array([np.inf, -np.inf, np.inf, -np.inf, 0.5] * 7, dtype)
    y = np.array([1, 0, 0, 1, 1] * 7, dtype)
    sums, per_row = _ops.binary_totals("bce_with_logits", x, y, per_row=True)
    assert per_row[:4].tolist() == [0.0, 0.0, math.inf, math.inf]
    assert sums.loss == math.inf
    assert sums.weighted_predictions == pytest.approx(7 * (2 + 1 / (1 + math.exp(-0.5))))
    right = x.copy()
    right[2::5], right[3::5] = -np.inf, np.inf
    sums, _ = _ops.binary_totals("bce_with_logits", right, y)
    assert math.isfinite(sums.loss)


# --------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("case", ["logits_pos_weight_smoothing", "probs", "focal_gamma_2.5"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_bitwise_identical_for_any_thread_count(isa, dtype, case, weighted, restore_threads):
    op, options = CASES[case]
    x, y, w = make(op, dtype, n=5 * 32768 + 77, seed=5)  # several blocks and a ragged end
    w = w if weighted else None
    runs = {}
    for threads in (1, 2, 3, 1):
        xent.set_num_threads(threads)
        sums, per_row = _ops.binary_totals(op, x, y, weight=w, per_row=True, **options)
        runs.setdefault(threads, []).append((tuple(sums), per_row.tobytes()))
    one = runs[1][0]
    assert runs[1][1] == one, "a second run differs"
    assert runs[2][0] == one, "2 threads differ from 1"
    assert runs[3][0] == one, "3 threads differ from 1"


@pytest.mark.parametrize("dtype", DTYPES)
def test_batches_add_up_to_the_whole(dtype):
    """Sums over parts add up to the sums over the whole (to float64 rounding): what makes
    the command's report independent of its batch size."""
    extension()
    x, y, w = make("bce_with_logits", dtype, n=200_001, seed=9)
    whole, _ = _ops.binary_totals("bce_with_logits", x, y, weight=w)
    parts = [slice(0, 7), slice(7, 65_543), slice(65_543, 200_001)]
    pieces = [_ops.binary_totals("bce_with_logits", x[s], y[s], weight=w[s])[0] for s in parts]
    for i, name in enumerate(_ops.BinaryTotals._fields):
        total = math.fsum(p[i] for p in pieces)
        assert total == pytest.approx(whole[i], rel=1e-12, abs=0), name


# --------------------------------------------------------------------------- declines


def test_declines_when_it_cannot_take_the_arguments(monkeypatch):
    extension()
    x, y, w = make("bce_with_logits", np.float32, n=10)
    assert (
        _ops.binary_totals("bce_with_logits", x.astype(np.float16), y.astype(np.float16))
        is DECLINED
    )
    assert _ops.binary_totals("bce_with_logits", x, y.astype(np.float64)) is DECLINED
    assert _ops.binary_totals("bce_with_logits", x, y, weight=w[:5]) is DECLINED
    assert _ops.binary_totals("bce_with_logits", x, y, weight=w.astype(np.float64)) is DECLINED
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    assert _state.extension() is None
    assert _ops.binary_totals("bce_with_logits", x, y) is DECLINED
