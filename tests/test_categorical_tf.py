"""tf.nn convention: xent.tf.softmax_cross_entropy_with_logits and
sparse_softmax_cross_entropy_with_logits. TensorFlow is not installed: the oracle is
the float64 NumPy definition, -sum labels * log_softmax(logits)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xent
import xent.tf as xtf
from helpers import conditioned_tol, tol

FLOATS = [np.float32, np.float64]
RNG = np.random.default_rng(4242)


def oracle(labels, logits, axis=-1):
    """float64 -sum z log_softmax(x); a term with z = 0 is 0 (its limit) even at x = -inf."""
    x = np.asarray(logits, dtype=np.float64)
    z = np.asarray(labels, dtype=np.float64)
    top = np.max(x, axis=axis, keepdims=True)
    logp = x - top - np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True))
    terms = np.where(z == 0, 0.0, z * np.where(z == 0, 0.0, logp))
    return -np.sum(terms, axis=axis)


@st.composite
def logits_and_axis(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return draw(hnp.arrays(dtype, shape, elements=st.floats(-30, 30, width=32))), axis


@given(case=logits_and_axis(), data=st.data())
def test_softmax_cross_entropy_matches_float64_definition(case, data):
    logits, axis = case
    labels = data.draw(hnp.arrays(logits.dtype, logits.shape, elements=st.floats(0, 1, width=32)))
    actual = xtf.softmax_cross_entropy_with_logits(labels=labels, logits=logits, axis=axis)
    expected = oracle(labels, logits, axis)
    assert actual.dtype == logits.dtype and actual.shape == expected.shape
    np.testing.assert_allclose(
        actual, expected, **conditioned_tol(logits.dtype, logits, classes=logits.shape[axis])
    )


@given(case=logits_and_axis(), data=st.data())
def test_sparse_softmax_cross_entropy_matches_float64_definition(case, data):
    logits, _ = case
    c = logits.shape[-1]
    dtype = data.draw(st.sampled_from([np.int32, np.int64]))
    labels = data.draw(hnp.arrays(dtype, logits.shape[:-1], elements=st.integers(0, c - 1)))
    actual = xtf.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    expected = oracle(np.eye(c)[labels], logits)
    assert actual.dtype == logits.dtype and actual.shape == labels.shape
    np.testing.assert_allclose(actual, expected, **conditioned_tol(logits.dtype, logits, classes=1))


def test_labels_are_cast_to_the_logits_dtype():
    logits = RNG.normal(size=(3, 4)).astype(np.float32)
    labels = RNG.dirichlet(np.ones(4), size=3)  # float64
    actual = xtf.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert actual.dtype == np.float32
    np.testing.assert_allclose(
        actual, oracle(labels, logits), **conditioned_tol(logits.dtype, logits, classes=4)
    )


def test_agrees_with_the_pytorch_convention():
    logits = RNG.normal(scale=4.0, size=(5, 6))
    labels = RNG.uniform(size=(5, 6))
    index = RNG.integers(0, 6, size=5)
    np.testing.assert_allclose(
        xtf.softmax_cross_entropy_with_logits(labels=labels, logits=logits),
        xent.cross_entropy(logits, labels, reduction="none"),
        **tol(np.float64, 16),
    )
    np.testing.assert_allclose(
        xtf.sparse_softmax_cross_entropy_with_logits(labels=index, logits=logits),
        xent.cross_entropy(logits, index, reduction="none"),
        **tol(np.float64, 16),
    )


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_extreme_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]], dtype)
    labels = np.array([[0.2, 0.3, 0.5], [0.0, 0.5, 0.5], [1.0, 0.0, 0.0]], dtype)
    actual = xtf.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert np.all(np.isfinite(actual))
    np.testing.assert_allclose(
        actual, oracle(labels, logits), **conditioned_tol(logits.dtype, logits[:1], classes=3)
    )
    sparse = xtf.sparse_softmax_cross_entropy_with_logits(np.array([1, 2, 0]), logits)
    np.testing.assert_allclose(sparse, oracle(np.eye(3)[[1, 2, 0]], logits), **tol(dtype, 64))
    assert sparse[0] == pytest.approx(2e4, rel=float(np.finfo(dtype).eps))


def test_float16_is_computed_in_float32():
    logits = RNG.normal(scale=3.0, size=(6, 5)).astype(np.float16)
    labels = RNG.dirichlet(np.ones(5), size=6).astype(np.float16)
    actual = xtf.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
    assert actual.dtype == np.float16
    eps16 = float(np.finfo(np.float16).eps)
    np.testing.assert_allclose(actual, oracle(labels, logits), rtol=eps16, atol=0)


def test_unbatched_logits_take_a_scalar_label():
    logits = np.array([1.0, 2.0, 3.0])
    actual = xtf.sparse_softmax_cross_entropy_with_logits(labels=np.int64(2), logits=logits)
    assert actual.shape == ()
    np.testing.assert_allclose(actual, oracle([0.0, 0.0, 1.0], logits), **tol(np.float64, 4))


X = RNG.normal(size=(4, 5))
BAD = {
    "labels missing": (xtf.softmax_cross_entropy_with_logits, {"logits": X}, ValueError, "Both"),
    "shape mismatch": (
        xtf.softmax_cross_entropy_with_logits,
        {"labels": X[:, :4], "logits": X},
        ValueError,
        "must have the same shape",
    ),
    "axis out of range": (
        xtf.softmax_cross_entropy_with_logits,
        {"labels": X, "logits": X, "axis": 2},
        ValueError,
        "axis=2 is out of range for logits",
    ),
    "integer logits": (
        xtf.softmax_cross_entropy_with_logits,
        {"labels": X, "logits": X.astype(np.int64)},
        TypeError,
        "logits must be a floating",
    ),
    "sparse labels missing": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        {"labels": None, "logits": X},
        ValueError,
        "Both",
    ),
    "sparse rank mismatch": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        {"labels": np.zeros((4, 5), np.int64), "logits": X},
        ValueError,
        "rank of labels should equal the rank of logits minus 1",
    ),
    "sparse float labels": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        {"labels": np.array([0.0, 1.0, 2.0, 3.0]), "logits": X},
        TypeError,
        "integer class indices",
    ),
    "sparse label out of range": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        {"labels": np.array([0, 5, 1, 2]), "logits": X},
        IndexError,
        r"Target 5 is out of bounds for 5 classes; pass class indices in \[0, 5\)",
    ),
    "sparse negative label": (
        xtf.sparse_softmax_cross_entropy_with_logits,
        {"labels": np.array([0, -1, 1, 2]), "logits": X},
        IndexError,
        "Target -1 is out of bounds",
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_raises(case):
    fn, kwargs, error, match = BAD[case]
    with pytest.raises(error, match=match):
        fn(**kwargs)
