"""Dask arrays of NumPy chunks through the compiled kernels (xent._kernels._dask).

Oracles: the same call on the computed NumPy arrays, through the array-API reference
(kernels off) and through the NumPy kernel; every chunking (uneven, one chunk, one
element per chunk) gives their values and gradients to float rounding. The results
are Dask arrays and nothing is computed at call time: the kernel runs once per chunk
when the result is computed (counted through the KERNELS table), and the front ends'
value checks still raise then. Arguments the kernels do not take run the reference.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

import xent
from kernel_helpers import extension
from xent import _kernels
from xent import keras as xk

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")


@pytest.fixture(autouse=True)
def _kernels_built():
    extension()


RNG = np.random.default_rng(7)
SHAPE = (11, 7)
X = RNG.normal(scale=4.0, size=SHAPE)
P = 1 / (1 + np.exp(-X))
Y = RNG.uniform(size=SHAPE)
Y_IGNORED = np.where(Y > 0.8, -1.0, (Y > 0.4).astype(float))
W = RNG.uniform(0.5, 2.0, size=SHAPE[-1:])
W_FULL = RNG.uniform(0.5, 2.0, size=SHAPE)
CHUNKINGS = {"uneven": (4, 3), "one": -1, "many": 1}

Z = RNG.normal(scale=3.0, size=(9, 5, 4))  # (N, C, d), classes on axis 1
T = RNG.integers(0, 5, size=(9, 4))
T[0, :2] = -100  # ignored
CW = RNG.uniform(0.5, 2.0, size=5)
Z_CHUNKINGS = {"uneven": (4, 2, 3), "one": -1, "many": (1, 1, 1)}

# name -> (loss, input, target, keywords)
BINARY = {
    "logits": (xent.binary_cross_entropy_with_logits, X, Y, {}),
    "logits_weights": (
        xent.binary_cross_entropy_with_logits,
        X,
        Y,
        {"weight": W_FULL, "pos_weight": W},
    ),
    "logits_ignore_smoothing": (
        xent.binary_cross_entropy_with_logits,
        X,
        Y_IGNORED,
        {"ignore_index": -1.0, "label_smoothing": 0.1, "weight": W},
    ),
    "probs_weight": (xent.binary_cross_entropy, P, Y, {"weight": W}),
    "probs_ignore": (xent.binary_cross_entropy, P, Y_IGNORED, {"ignore_index": -1.0}),
    "focal": (xent.sigmoid_focal_loss, X, (Y > 0.5).astype(float), {"alpha": 0.3, "gamma": 1.5}),
}
# name -> (target, keywords)
CATEGORICAL = {
    "plain": (T, {}),
    "weights_smoothing": (T, {"weight": CW, "label_smoothing": 0.2}),
    "ignore_other": (np.where(T < 0, 3, T), {"ignore_index": 3, "weight": CW}),
}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]
REDUCTIONS = ["none", "sum", "mean"]


def rtol(dtype) -> float:
    return 2e-5 if dtype == np.float32 else 1e-12


def dask_of(a, chunks):
    """`a` as a Dask array; a tuple of chunk sizes is that of the trailing axes."""
    a = np.asarray(a)
    if isinstance(chunks, tuple):
        chunks = chunks[len(chunks) - a.ndim :]
    return da.from_array(a, chunks=chunks)


def reference(monkeypatch, call):
    """`call()` with the kernels off: the array-API reference."""
    with monkeypatch.context() as m:
        m.setenv("XENT_DISABLE_KERNELS", "1")
        return call()


def assert_matches(got, want, dtype, scale=1.0):
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=rtol(dtype), atol=rtol(dtype) * scale)


@pytest.fixture
def kernel_calls(monkeypatch):
    """The number of calls of each family function's NumPy kernel."""
    calls = {name: 0 for name in _kernels.KERNELS}
    for name, kernel in _kernels.KERNELS.items():

        def counting(*args, _run=kernel.run, _name=name, **kwargs):
            calls[_name] += 1
            return _run(*args, **kwargs)

        monkeypatch.setitem(_kernels.KERNELS, name, replace(kernel, run=counting))
    return calls


# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("chunks", list(CHUNKINGS.values()), ids=list(CHUNKINGS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(BINARY))
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_values_and_gradients(monkeypatch, kernel_calls, case, reduction, chunks, dtype):
    loss_fn, x, y, keywords = BINARY[case]
    x, y = x.astype(dtype), y.astype(dtype)
    keywords = {k: v.astype(dtype) if hasattr(v, "astype") else v for k, v in keywords.items()}
    lazy = {k: dask_of(v, chunks) if hasattr(v, "shape") else v for k, v in keywords.items()}
    args = (dask_of(x, chunks), dask_of(y, chunks))
    loss = loss_fn(*args, **lazy, reduction=reduction)
    value, grad = xent.value_and_grad(loss_fn)(*args, **lazy, reduction=reduction)
    for result in (loss, value, grad):
        assert isinstance(result, da.Array)
    assert sum(kernel_calls.values()) == 0  # lazy: nothing ran yet
    loss, value, grad = dask.compute(loss, value, grad)
    n_chunks = math.prod(args[0].numblocks)
    # the kernel path: one call per chunk for the loss, one for value and gradient together
    assert sum(kernel_calls.values()) == 2 * n_chunks

    want = reference(monkeypatch, lambda: loss_fn(x, y, **keywords, reduction=reduction))
    want_value, want_grad = reference(
        monkeypatch, lambda: xent.value_and_grad(loss_fn)(x, y, **keywords, reduction=reduction)
    )
    kernel_value, kernel_grad = xent.value_and_grad(loss_fn)(x, y, **keywords, reduction=reduction)
    scale = x.size if reduction == "sum" else 1.0
    assert_matches(loss, want, dtype, scale)
    assert_matches(value, want_value, dtype, scale)
    assert_matches(value, kernel_value, dtype, scale)
    assert_matches(grad, want_grad, dtype)
    assert_matches(grad, kernel_grad, dtype)


@pytest.mark.parametrize("chunks", list(Z_CHUNKINGS.values()), ids=list(Z_CHUNKINGS))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", list(CATEGORICAL))
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_values_and_gradients(
    monkeypatch, kernel_calls, case, reduction, chunks, dtype
):
    t, keywords = CATEGORICAL[case]
    keywords = {k: v.astype(dtype) if hasattr(v, "astype") else v for k, v in keywords.items()}
    z = Z.astype(dtype)
    lazy_z = dask_of(z, chunks)  # chunked along the classes too: rechunked to hold them all
    lazy_t = dask_of(t, chunks if chunks == -1 else (chunks[0], chunks[2]))
    lazy = {k: dask_of(v, 2) if hasattr(v, "shape") else v for k, v in keywords.items()}
    value, grad = xent.value_and_grad(xent.cross_entropy)(
        lazy_z, lazy_t, **lazy, reduction=reduction
    )
    assert isinstance(value, da.Array) and isinstance(grad, da.Array)
    assert grad.chunks[1] == (5,)
    assert kernel_calls["index_targets"] == 0
    value, grad = dask.compute(value, grad)
    blocks = lazy_z.numblocks
    assert kernel_calls["index_targets"] == blocks[0] * blocks[2]  # one call per chunk of rows

    def numpy_call():
        return xent.value_and_grad(xent.cross_entropy)(z, t, **keywords, reduction=reduction)

    want_value, want_grad = reference(monkeypatch, numpy_call)
    kernel_value, kernel_grad = numpy_call()
    scale = T.size if reduction == "sum" else 1.0
    assert_matches(value, want_value, dtype, scale)
    assert_matches(value, kernel_value, dtype, scale)
    assert_matches(grad, want_grad, dtype)
    assert_matches(grad, kernel_grad, dtype)


def test_keras_sparse_classes_last(monkeypatch, kernel_calls):
    z = np.moveaxis(Z, 1, -1).reshape(-1, 5)  # (positions, C)
    t = np.where(T.reshape(-1) < 0, 0, T.reshape(-1))
    got = xk.sparse_categorical_crossentropy(dask_of(t, 7), dask_of(z, (7, 2)), from_logits=True)
    assert isinstance(got, da.Array)
    got = got.compute()
    assert kernel_calls["index_targets"] == 6  # 36 positions in chunks of 7 (and 1)
    want = reference(
        monkeypatch, lambda: xk.sparse_categorical_crossentropy(t, z, from_logits=True)
    )
    assert_matches(got, want, np.float64)


# --------------------------------------------------------------------------- edges


def test_zero_denominators(monkeypatch):
    """'mean' over nothing: nan; the gradient 0 (binary: all ignored) or, PyTorch's, nan
    on the non-ignored positions of a cross-entropy whose target weights are all 0."""
    y = np.full(SHAPE, -1.0)
    lazy = dask_of(X, (4, 3)), dask_of(y, (4, 3))
    value, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(
        *lazy, ignore_index=-1.0
    )
    value, grad = value.compute(), grad.compute()
    assert math.isnan(value) and (grad == 0).all()

    weight = np.where(np.arange(5) == 2, 1.0, 0.0)
    t = np.where(T == 2, 0, T)  # no target of class 2: sum of w_y is 0
    got = xent.value_and_grad(xent.cross_entropy)(
        dask_of(Z, (4, 5, 3)), dask_of(t, (4, 3)), weight=dask_of(weight, 5), label_smoothing=0.1
    )
    got = [a.compute() for a in got]
    want = reference(
        monkeypatch,
        lambda: xent.value_and_grad(xent.cross_entropy)(Z, t, weight=weight, label_smoothing=0.1),
    )
    assert math.isnan(got[0]) and math.isnan(want[0])
    np.testing.assert_array_equal(np.isnan(got[1]), np.isnan(want[1]))
    assert np.isnan(got[1]).any() and not np.isnan(got[1][0, :, :2]).any()  # ignored: 0


def test_value_checks_stay_lazy(kernel_calls):
    bad = np.where(P > 0.5, 2.0, P)
    loss = xent.binary_cross_entropy(dask_of(bad, 3), dask_of(Y, 3))  # no error yet: lazy
    with pytest.raises(ValueError, match="all elements of input should be between 0 and 1"):
        loss.compute()
    out_of_range = np.where(T == 2, 7, T)
    loss = xent.cross_entropy(dask_of(Z, 3), dask_of(out_of_range, 3))
    assert isinstance(loss, da.Array)
    with pytest.raises(IndexError, match="7"):
        loss.compute()


# --------------------------------------------------------------------------- fall-backs


def test_broadcasts_the_kernels_do_not_take_run_the_reference(monkeypatch, kernel_calls):
    x = RNG.normal(size=(4, 3, 5))
    y = RNG.uniform(size=(4, 3, 5))
    w = RNG.uniform(0.5, 2.0, size=(3, 1))  # not a trailing broadcast
    got = xent.binary_cross_entropy_with_logits(dask_of(x, 2), dask_of(y, 2), weight=dask_of(w, 2))
    assert isinstance(got, da.Array)
    got = got.compute()
    assert kernel_calls["binary_cross_entropy_with_logits"] == 0
    want = reference(monkeypatch, lambda: xent.binary_cross_entropy_with_logits(x, y, weight=w))
    assert_matches(got, want, np.float64)


def test_non_numpy_chunks_run_the_reference(monkeypatch, kernel_calls):
    masked = da.ma.masked_array(dask_of(X, 4), mask=np.zeros(SHAPE, bool))
    got = xent.binary_cross_entropy_with_logits(masked, dask_of(Y, 4))
    assert isinstance(got, da.Array)
    got = got.compute()
    assert kernel_calls["binary_cross_entropy_with_logits"] == 0
    want = reference(monkeypatch, lambda: xent.binary_cross_entropy_with_logits(X, Y))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-12)


def test_infinite_class_weight_runs_the_reference_on_the_chunk(monkeypatch):
    """A value the kernel declines, seen only in the chunks: the reference on them."""
    weight = CW.copy()
    weight[1] = math.inf
    got = xent.cross_entropy(
        dask_of(Z, 3), dask_of(T, 3), weight=dask_of(weight, 5), reduction="none"
    )
    want = reference(monkeypatch, lambda: xent.cross_entropy(Z, T, weight=weight, reduction="none"))
    np.testing.assert_allclose(got.compute(), want, rtol=1e-12)
    got = xent.cross_entropy(dask_of(Z, 3), dask_of(T, 3), weight=dask_of(weight, 5))
    want = reference(monkeypatch, lambda: xent.cross_entropy(Z, T, weight=weight))
    np.testing.assert_allclose(got.compute(), want, rtol=1e-12)
