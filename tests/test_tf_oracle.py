"""xent.tf against TensorFlow itself: the tf.nn functions and tf.compat.v1.losses.

Runs where TensorFlow is installed (CI's own virtualenv, the `tf` extra: see .ci/run);
skips elsewhere. Values are compared with TensorFlow's, gradients (TensorFlow's by
tf.GradientTape) with the central differences of xent's float64 losses (xent.tf's
functions take labels first: xent.value_and_grad does not apply; its torch and JAX
arrays differentiate by autograd, checked in tests/test_tf_v1_losses.py), and for every
argument that TensorFlow refuses (shapes, weights, reductions), xent must refuse it too,
and accept what TensorFlow accepts.

TensorFlow reduces in float32 (compute_weighted_loss casts the losses and weights to
float32), so the reduced losses are compared at float32's precision even for float64
inputs; xent reduces in float64 there (see xent.tf.compat.v1.losses).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

tf = pytest.importorskip("tensorflow")

import xent.tf as xtf  # noqa: E402
from helpers import central_difference, conditioned_tol  # noqa: E402
from test_tf_v1_losses import REDUCTIONS, call, cases, losses_shape  # noqa: E402
from xent.tf.compat.v1 import losses as L  # noqa: E402

TF_ERRORS = (ValueError, TypeError, tf.errors.InvalidArgumentError)
XENT_ERRORS = (ValueError, TypeError, IndexError)
TFL = tf.compat.v1.losses
TF_CALLS = {
    "sigmoid": TFL.sigmoid_cross_entropy,
    "softmax": TFL.softmax_cross_entropy,
    "sparse": TFL.sparse_softmax_cross_entropy,
    "log_loss": TFL.log_loss,
}


def tf_call(name, labels, x, **kwargs):
    return TF_CALLS[name](labels, x, **kwargs)


def tf_value_and_grad(fn, x):
    """(fn(x), d sum(fn(x)) / dx) by tf.GradientTape, as NumPy arrays."""
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        out = fn(tx)
        total = tf.reduce_sum(out)
    return out.numpy(), tape.gradient(total, tx).numpy()


def grad_tol(dtype, x, *weights):
    """TensorFlow's gradient (computed in x's dtype, reduced in float32) against central
    differences of the float64 loss (error ~ eps64^(2/3) ~ 4e-11 relative)."""
    ref = np.float32 if dtype in (np.float32, np.float64) else dtype
    t = conditioned_tol(ref, x, *weights, ulps=64)
    return {"rtol": max(t["rtol"], 1e-8), "atol": max(t["atol"], 1e-8)}


# --------------------------------------------------------------------------- tf.nn


NN_FLOATS = [np.float16, np.float32, np.float64]


@st.composite
def nn_cases(draw):
    dtype = draw(st.sampled_from(NN_FLOATS))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    bound = 8 if dtype == np.float16 else 30
    x = draw(hnp.arrays(dtype, shape, elements=st.floats(-bound, bound, width=16)))
    return dtype, shape, x


def nn_tol(dtype, x, *weights, classes=1):
    return conditioned_tol(
        dtype, x, *weights, classes=classes, ulps=64 if dtype != np.float16 else 8
    )


@given(case=nn_cases(), data=st.data())
def test_sigmoid_cross_entropy_with_logits(case, data):
    dtype, shape, x = case
    z = data.draw(hnp.arrays(dtype, shape, elements=st.floats(-0.5, 1.5, width=16)))
    got = xtf.sigmoid_cross_entropy_with_logits(labels=z, logits=x)
    want = tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=x).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(float), want.astype(float), **nn_tol(dtype, x))


@given(case=nn_cases(), data=st.data())
def test_weighted_cross_entropy_with_logits(case, data):
    dtype, shape, x = case
    z = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=16)))
    q_shape = data.draw(st.sampled_from([(), shape[-1:], (1,) * (len(shape) - 1) + shape[-1:]]))
    q = data.draw(hnp.arrays(dtype, q_shape, elements=st.floats(0.125, 4, width=16)))
    got = xtf.weighted_cross_entropy_with_logits(z, x, q)
    want = tf.nn.weighted_cross_entropy_with_logits(z, x, q).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(float), want.astype(float), **nn_tol(dtype, x, q))


@given(case=nn_cases(), data=st.data())
def test_softmax_cross_entropy_with_logits(case, data):
    dtype, shape, x = case
    # TensorFlow refuses negative axes other than -1 (InvalidArgumentError from a Range
    # op); xent takes them, as the positive axis they count to
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    tf_axis = axis if axis == -1 else axis % len(shape)
    t = data.draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=16)))
    got = xtf.softmax_cross_entropy_with_logits(labels=t, logits=x, axis=axis)
    want = tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=x, axis=tf_axis).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    tol = nn_tol(dtype, x, classes=shape[axis])
    np.testing.assert_allclose(got.astype(float), want.astype(float), **tol)


@given(case=nn_cases(), data=st.data())
def test_sparse_softmax_cross_entropy_with_logits(case, data):
    dtype, shape, x = case
    itype = data.draw(st.sampled_from([np.int32, np.int64]))
    y = data.draw(hnp.arrays(itype, shape[:-1], elements=st.integers(0, shape[-1] - 1)))
    got = xtf.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)
    want = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got.astype(float), want.astype(float), **nn_tol(dtype, x))


def away_from_kinks(x):
    """Logits with no element within 1e-3 of 0: TensorFlow differentiates
    weighted_cross_entropy_with_logits's expression (1 - z) x + (1 + (q - 1) z)
    (log1p(exp(-|x|)) + max(-x, 0)) by parts, and at x = 0 the subgradients of max and
    |x| it picks do not add up to the derivative (xent's)."""
    return np.where(np.abs(x) < 1e-3, 0.5, x)


def rows_summing_to_1(t):
    """TensorFlow's softmax cross-entropy gradient is softmax(x) - t (its fused kernel's),
    the derivative of the loss only where each row of t sums to 1; xent's, through
    autodiff, is the derivative (sum t) softmax(x) - t. Compared on such rows only."""
    total = np.sum(t, axis=-1, keepdims=True)
    return np.where(total > 0, t / np.where(total > 0, total, 1.0), 1.0 / t.shape[-1])


@given(data=st.data())
def test_nn_gradients(data):
    """TensorFlow's gradient in the logits equals the derivative of xent's loss."""
    name = data.draw(st.sampled_from(["sigmoid", "weighted", "softmax", "sparse"]))
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = away_from_kinks(data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-20, 20))))
    unit = st.floats(0, 1, width=32)
    q = 1.0
    if name == "sparse":
        y = data.draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, shape[-1] - 1)))
        fns = (
            lambda v: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=v),
            lambda v: xtf.sparse_softmax_cross_entropy_with_logits(labels=y, logits=v),
        )
    else:
        z = data.draw(hnp.arrays(np.float64, shape, elements=unit))
        if name == "softmax":
            z = rows_summing_to_1(z)
        q = data.draw(st.floats(0.25, 4))
        fns = {
            "sigmoid": (
                lambda v: tf.nn.sigmoid_cross_entropy_with_logits(labels=z, logits=v),
                lambda v: xtf.sigmoid_cross_entropy_with_logits(labels=z, logits=v),
            ),
            "weighted": (
                lambda v: tf.nn.weighted_cross_entropy_with_logits(z, v, q),
                lambda v: xtf.weighted_cross_entropy_with_logits(z, v, q),
            ),
            "softmax": (
                lambda v: tf.nn.softmax_cross_entropy_with_logits(labels=z, logits=v),
                lambda v: xtf.softmax_cross_entropy_with_logits(labels=z, logits=v),
            ),
        }[name]
    want_value, want_grad = tf_value_and_grad(fns[0], x)
    np.testing.assert_allclose(fns[1](x), want_value, **conditioned_tol(np.float64, x, 4))
    got_grad = central_difference(fns[1], x)
    np.testing.assert_allclose(got_grad, want_grad, rtol=1e-7, atol=1e-7 * max(1.0, q * 4))


# --------------------------------------------------------------------------- compat.v1


def v1_tol(name, x, kwargs):
    """float32's precision (TensorFlow reduces in float32), scaled as the losses are."""
    scale = 20.0 if name == "log_loss" else x
    classes = x.shape[-1] if name == "softmax" else 1
    return conditioned_tol(
        np.float32, scale, kwargs["weights"], classes=classes, summed=max(1, x.size)
    )


@given(case=cases())
def test_v1_losses_match_tensorflow(case):
    name, labels, x, kwargs = case
    got = call(name, labels, x, **kwargs)
    want = tf_call(name, labels, x, **kwargs).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, **v1_tol(name, x, kwargs))


@given(case=cases(names=["sigmoid", "softmax", "sparse"]))
def test_v1_gradients(case):
    """TensorFlow's gradient in the logits equals the derivative of xent's float64 loss
    (log_loss rounds its inputs to float32: no smooth float64 function to differentiate;
    its gradient is checked by torch autograd in test_tf_v1_losses.py)."""
    name, labels, x, kwargs = case
    x = away_from_kinks(x.astype(np.float64))
    if name == "softmax":
        labels = rows_summing_to_1(labels.astype(np.float64))
    _, want = tf_value_and_grad(lambda v: tf_call(name, labels, v, **kwargs), x)
    got = central_difference(lambda v: call(name, labels, v, **kwargs), x)
    np.testing.assert_allclose(got, want, **grad_tol(np.float64, x, kwargs["weights"]))


@st.composite
def weight_shapes(draw, shape):
    """Any weight shape near the losses' (ranks 0 to rank + 1, dimensions 1, the losses',
    or another): TensorFlow accepts some and refuses the others."""
    rank = draw(st.integers(0, len(shape) + 1))
    dims = [draw(st.sampled_from([1, 2, 3])) for _ in range(rank)]
    for i in range(min(rank, len(shape))):
        dims[i] = draw(st.sampled_from([1, shape[i], shape[i] + 1]))
    return tuple(dims)


@given(data=st.data())
def test_v1_accepts_and_refuses_the_weights_tensorflow_does(data):
    name = data.draw(st.sampled_from(["sigmoid", "softmax", "sparse", "log_loss"]))
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16)))
    x = rng.uniform(0.05, 0.95, shape) if name == "log_loss" else rng.normal(size=shape)
    if name == "sparse":
        labels_shape = data.draw(st.sampled_from([shape[:-1], (*shape[:-1], 1)]))
        labels = rng.integers(0, shape[-1], labels_shape)
        reference = labels_shape
    else:
        labels = rng.uniform(size=shape)
        reference = losses_shape(name, shape)
    w = rng.uniform(0.5, 2, data.draw(weight_shapes(reference)))
    reduction = data.draw(st.sampled_from(REDUCTIONS))
    kwargs = {"weights": w, "reduction": reduction}
    try:
        want = tf_call(name, labels, x, **kwargs).numpy()
    except TF_ERRORS:
        with pytest.raises(XENT_ERRORS):
            call(name, labels, x, **kwargs)
        return
    got = call(name, labels, x, **kwargs)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, **v1_tol(name, x, kwargs))


@given(data=st.data())
def test_v1_sparse_accepts_and_refuses_the_shapes_tensorflow_does(data):
    """Labels and logits of nearby ranks and shapes: TensorFlow's squeezes of a trailing 1
    (labels (N, 1), logits (N, C, 1)) and its refusals, xent's too."""
    x_shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3))
    y_shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3))
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=x_shape), rng.integers(0, 1, y_shape)
    try:
        want = TFL.sparse_softmax_cross_entropy(y, x, reduction=L.Reduction.NONE).numpy()
    except TF_ERRORS:
        with pytest.raises(XENT_ERRORS):
            L.sparse_softmax_cross_entropy(y, x, reduction=L.Reduction.NONE)
        return
    got = L.sparse_softmax_cross_entropy(y, x, reduction=L.Reduction.NONE)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "log_loss"])
@pytest.mark.parametrize("shapes", [((2, 3), (2, 2)), ((2, 3), (3, 2)), ((3,), (2, 3))], ids=str)
def test_v1_shape_mismatch_both_refuse(name, shapes):
    x_shape, y_shape = shapes
    x, y = np.full(x_shape, 0.5), np.zeros(y_shape)
    with pytest.raises(ValueError, match="are incompatible") as tf_error:
        tf_call(name, y, x)
    with pytest.raises(ValueError, match="are incompatible") as xent_error:
        call(name, y, x)
    assert str(xent_error.value).startswith(str(tf_error.value))


def test_v1_messages_begin_as_tensorflows():
    x, z = np.zeros((2, 3)), np.zeros((2, 3))
    for kwargs in ({"weights": np.ones(2)}, {"weights": np.ones((3, 2))}):
        with pytest.raises(ValueError) as tf_error:
            TFL.sigmoid_cross_entropy(z, x, **kwargs)
        with pytest.raises(ValueError) as xent_error:
            L.sigmoid_cross_entropy(z, x, **kwargs)
        head = str(tf_error.value).split(". values.shape")[0].split(" values.shape")[0]
        assert str(xent_error.value).startswith(head)
    with pytest.raises(ValueError) as tf_error:
        TFL.sigmoid_cross_entropy(z, x, reduction="mean")
    with pytest.raises(ValueError) as xent_error:
        L.sigmoid_cross_entropy(z, x, reduction="mean")
    assert str(xent_error.value).startswith(str(tf_error.value)[:-1])  # up to the final "."
    for fn, xfn, arg in (
        (TFL.sigmoid_cross_entropy, L.sigmoid_cross_entropy, "multi_class_labels"),
        (TFL.log_loss, L.log_loss, "labels"),
    ):
        with pytest.raises(ValueError, match=f"Argument `{arg}` must not be None."):
            fn(None, x)
        with pytest.raises(ValueError, match=f"Argument `{arg}` must not be None."):
            xfn(None, x)


def test_v1_reduction_constants_are_tensorflows():
    for key in ("NONE", "SUM", "MEAN", "SUM_OVER_BATCH_SIZE", "SUM_OVER_NONZERO_WEIGHTS"):
        assert getattr(L.Reduction, key) == getattr(TFL.Reduction, key)
    assert L.Reduction.SUM_BY_NONZERO_WEIGHTS == TFL.Reduction.SUM_BY_NONZERO_WEIGHTS
    assert L.Reduction.all() == TFL.Reduction.all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: d.__name__)
def test_v1_dtypes_are_tensorflows(dtype):
    x = np.array([[1.0, -2.0], [0.5, 3.0]], dtype)
    z = np.array([[1, 0], [0, 1]])
    y = np.array([0, 1])
    p = (np.abs(x) / 4).astype(dtype)
    for xent_result, tf_result in (
        (L.sigmoid_cross_entropy(z, x), TFL.sigmoid_cross_entropy(z, x)),
        (L.softmax_cross_entropy(z, x), TFL.softmax_cross_entropy(z, x)),
        (L.sparse_softmax_cross_entropy(y, x), TFL.sparse_softmax_cross_entropy(y, x)),
        (L.log_loss(z, p), TFL.log_loss(z, p)),
        (L.log_loss(z, z), TFL.log_loss(z, z)),  # integers: float32
        (
            L.sigmoid_cross_entropy([[1.0, 0.0]], [[1.0, 2.0]]),
            TFL.sigmoid_cross_entropy([[1.0, 0.0]], [[1.0, 2.0]]),
        ),  # lists: float32
    ):
        assert xent_result.dtype == tf_result.numpy().dtype
        rtol = 1e-2 if dtype == np.float16 else 1e-6
        np.testing.assert_allclose(xent_result.astype(float), tf_result.numpy(), rtol=rtol)


def test_gradients_where_tensorflow_is_not_the_derivative():
    """The two cases above, pinned: xent's value is TensorFlow's; TensorFlow's gradient is
    not the derivative of that value there, xent's (the central difference) is."""
    x, z = np.array([0.0]), np.array([0.0])
    _, tf_grad = tf_value_and_grad(lambda v: tf.nn.weighted_cross_entropy_with_logits(z, v, 1.0), x)
    want = central_difference(lambda v: xtf.weighted_cross_entropy_with_logits(z, v, 1.0), x)
    np.testing.assert_allclose(want, [0.5], rtol=1e-8)  # sigmoid(0) - 0
    assert tf_grad[0] != 0.5
    x, t = np.array([[1.0, 2.0]]), np.array([[0.5, 0.0]])  # a row summing to 0.5
    tf_loss, tf_grad = tf_value_and_grad(
        lambda v: tf.nn.softmax_cross_entropy_with_logits(labels=t, logits=v), x
    )
    np.testing.assert_allclose(xtf.softmax_cross_entropy_with_logits(t, x), tf_loss, rtol=1e-12)
    softmax = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(tf_grad, softmax - t, rtol=1e-12)
    f = lambda v: xtf.softmax_cross_entropy_with_logits(labels=t, logits=v)  # noqa: E731
    np.testing.assert_allclose(central_difference(f, x), 0.5 * softmax - t, rtol=1e-8)


def test_v1_label_smoothing_outside_0_1_as_tensorflow():
    x, z = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 0.0]])
    for ls in (-0.5, 0.0, 0.3, 1.0, 1.5, 2.0):
        for name in ("sigmoid", "softmax"):
            got = call(name, z, x, label_smoothing=ls, reduction=L.Reduction.NONE)
            want = tf_call(name, z, x, label_smoothing=ls, reduction=L.Reduction.NONE).numpy()
            np.testing.assert_allclose(got, want, rtol=1e-6)


def test_v1_log_loss_outside_0_1_and_zero_epsilon():
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    p = np.array([2.0, 0.3, -1.0, 0.0])
    np.testing.assert_allclose(
        L.log_loss(labels, p, reduction=L.Reduction.NONE),
        TFL.log_loss(labels, p, reduction=L.Reduction.NONE).numpy(),
        rtol=1e-6,
    )  # nan where TensorFlow has nan
    p = np.array([0.0, 0.3, 0.5, 0.2])
    got = L.log_loss(labels, p, epsilon=0.0, reduction=L.Reduction.NONE)
    want = TFL.log_loss(labels, p, epsilon=0.0, reduction=L.Reduction.NONE).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-6)  # inf at p = 0 for the label 1
    # the documented difference: 0 * log(0) is 0 in xent, nan in TensorFlow
    one = np.array([1.0])
    assert np.isnan(TFL.log_loss(one, one, epsilon=0.0).numpy())
    assert L.log_loss(one, one, epsilon=0.0) == 0.0
