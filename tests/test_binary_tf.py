"""tf.nn convention against a float64 NumPy transcription of TensorFlow's documented formulas
(TensorFlow itself is not installable here)."""

from __future__ import annotations

import numpy as np
import pytest

from xent import tf as xtf


def tf_sigmoid_formula(z, x):
    return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))


def tf_weighted_formula(z, x, q):
    return (1 - z) * x + (1 + (q - 1) * z) * (np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: np.dtype(d).name)
def test_sigmoid_cross_entropy_with_logits(dtype):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(5, 4)) * 5).astype(dtype)
    z = rng.uniform(-0.5, 1.5, size=(5, 4)).astype(dtype)  # tf does not range-check labels
    got = xtf.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    assert got.dtype == dtype
    eps = np.finfo(dtype).eps
    want = tf_sigmoid_formula(z.astype(float), x.astype(float))
    np.testing.assert_allclose(got, want, rtol=16 * eps, atol=16 * eps * np.abs(x).max())


@pytest.mark.parametrize("q_shape", [(), (4,), (1, 4)], ids=str)
def test_weighted_cross_entropy_with_logits(q_shape):
    rng = np.random.default_rng(1)
    x, z = rng.normal(size=(5, 4)) * 5, rng.uniform(size=(5, 4))
    q = rng.uniform(0.1, 4, size=q_shape)
    got = xtf.weighted_cross_entropy_with_logits(z, x, q)
    np.testing.assert_allclose(got, tf_weighted_formula(z, x, q), rtol=1e-13, atol=1e-13)


def test_labels_are_cast_to_the_logits_dtype():
    got = xtf.sigmoid_cross_entropy_with_logits(
        labels=np.array([1, 0]), logits=np.array([2.0, 2.0], np.float32)
    )
    assert got.dtype == np.float32


def test_shape_mismatch():
    with pytest.raises(
        ValueError, match=r"logits and labels must have the same shape \(\(2,\) vs \(3,\)\)"
    ):
        xtf.sigmoid_cross_entropy_with_logits(labels=np.zeros(3), logits=np.zeros(2))


def test_both_arguments_required():
    with pytest.raises(ValueError, match="Both labels= and logits= must be provided"):
        xtf.sigmoid_cross_entropy_with_logits(logits=np.zeros(2))


def test_pos_weight_that_does_not_broadcast():
    with pytest.raises(ValueError, match="pos_weight of shape"):
        xtf.weighted_cross_entropy_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), np.ones(4))
