"""TensorFlow 1's losses (xent.tf.compat.v1.losses) without TensorFlow: against a float64
transcription of TensorFlow's definitions (the elementwise formulas, then
compute_weighted_loss: weights broadcast by TensorFlow's rule, the five reductions,
div_no_nan), and by torch autograd against central differences of that transcription.
tests/test_tf_oracle.py compares them with TensorFlow itself, where it is installed."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xent
from helpers import central_difference, conditioned_tol
from xent.tf.compat.v1 import losses as L

R = L.Reduction
REDUCTIONS = [R.NONE, R.SUM, R.MEAN, R.SUM_OVER_BATCH_SIZE, R.SUM_BY_NONZERO_WEIGHTS]
FLOATS = [np.float32, np.float64]
LOSSES = ["sigmoid", "softmax", "sparse", "log_loss"]


# --------------------------------------------------------------------------- the oracle


def weighted(losses, weights, reduction):
    """compute_weighted_loss in float64: w l, then reduced; a zero divisor gives 0."""
    losses = np.asarray(losses, np.float64)
    w = np.broadcast_to(np.asarray(weights, np.float64), losses.shape)
    total = np.sum(losses * w)
    if reduction == R.NONE:
        return losses * w
    if reduction == R.SUM:
        return total
    divisor = {
        R.MEAN: np.sum(w),
        R.SUM_OVER_BATCH_SIZE: losses.size,
        R.SUM_BY_NONZERO_WEIGHTS: np.count_nonzero(w),
    }[reduction]
    return 0.0 if divisor == 0 else total / divisor


def log_softmax(x):
    top = np.max(x, axis=-1, keepdims=True)
    return x - top - np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True))


def elementwise(name, labels, x, label_smoothing=0.0, epsilon=1e-7, cast=True):
    """The unreduced loss, float64 (log_loss's inputs first rounded to float32 when
    `cast`, as TensorFlow does)."""
    x = np.asarray(x, np.float64)
    if name == "sigmoid":
        z = np.asarray(labels, np.float64)
        if label_smoothing > 0:
            z = z * (1 - label_smoothing) + 0.5 * label_smoothing
        return np.maximum(x, 0) - x * z + np.log1p(np.exp(-np.abs(x)))
    if name == "softmax":
        t = np.asarray(labels, np.float64)
        if label_smoothing > 0:
            t = t * (1 - label_smoothing) + label_smoothing / x.shape[-1]
        return -np.sum(t * log_softmax(x), axis=-1)
    if name == "sparse":
        return -np.take_along_axis(log_softmax(x), labels[..., None], axis=-1)[..., 0]
    # log_loss: TensorFlow casts both to float32 first
    p = x.astype(np.float32).astype(np.float64) if cast else x
    y = np.asarray(labels, np.float32).astype(np.float64)
    return -y * np.log(p + epsilon) - (1 - y) * np.log(1 - p + epsilon)


def call(name, labels, x, **kwargs):
    fn = {
        "sigmoid": L.sigmoid_cross_entropy,
        "softmax": L.softmax_cross_entropy,
        "sparse": L.sparse_softmax_cross_entropy,
        "log_loss": L.log_loss,
    }[name]
    return fn(labels, x, **kwargs)


# --------------------------------------------------------------------------- strategies


def losses_shape(name, shape):
    return shape[:-1] if name in ("softmax", "sparse") else shape


@st.composite
def weights_for(draw, shape):
    """A weight TensorFlow takes for losses of `shape`: a Python number, a 0-d array, or
    an array of the losses' rank, each dimension 1 or the losses'."""
    kind = draw(st.sampled_from(["number", "0-d", "array"]))
    values = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])
    if kind == "number":
        return draw(st.sampled_from([1.0, 0.0, 2.5, 3]))
    if kind == "0-d":
        return np.asarray(draw(values))
    wshape = tuple(draw(st.sampled_from([1, d])) for d in shape)
    return draw(hnp.arrays(np.float64, wshape, elements=values))


@st.composite
def cases(draw, names=LOSSES):
    name = draw(st.sampled_from(names))
    dtype = draw(st.sampled_from(FLOATS))
    min_dims = 2 if name == "sparse" else 1
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=4))
    if name == "log_loss":
        x = draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
        labels = draw(hnp.arrays(dtype, shape, elements=st.sampled_from([0.0, 1.0, 0.25])))
    else:
        x = draw(hnp.arrays(dtype, shape, elements=st.floats(-20, 20, width=32)))
    if name == "sigmoid":
        labels = draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    elif name == "softmax":
        labels = draw(hnp.arrays(dtype, shape, elements=st.floats(0, 1, width=32)))
    elif name == "sparse":
        labels = draw(hnp.arrays(np.int64, shape[:-1], elements=st.integers(0, shape[-1] - 1)))
    weights = draw(weights_for(losses_shape(name, shape)))
    reduction = draw(st.sampled_from(REDUCTIONS))
    kwargs = {"weights": weights, "reduction": reduction}
    if name in ("sigmoid", "softmax"):
        kwargs["label_smoothing"] = draw(st.sampled_from([0, 0.1, 0.5, 1.0, -0.3, 1.5]))
    return name, labels, x, kwargs


def expected(name, labels, x, kwargs, cast=True):
    extra = {k: kwargs[k] for k in ("label_smoothing", "epsilon") if k in kwargs}
    losses = elementwise(name, labels, x, cast=cast, **extra)
    return weighted(losses, kwargs["weights"], kwargs["reduction"])


def tolerance(name, x, kwargs):
    dtype = np.float32 if name == "log_loss" else x.dtype
    scale = 20.0 if name == "log_loss" else x  # log_loss: |log(1e-7)| ~ 16
    return conditioned_tol(
        dtype, scale, kwargs["weights"], classes=x.shape[-1], summed=max(1, x.size)
    )


# --------------------------------------------------------------------------- values


@given(case=cases())
def test_matches_float64_transcription(case):
    name, labels, x, kwargs = case
    actual = call(name, labels, x, **kwargs)
    want = expected(name, labels, x, kwargs)
    dtype = np.float32 if name == "log_loss" else x.dtype
    assert actual.dtype == dtype
    assert actual.shape == np.shape(want)
    np.testing.assert_allclose(actual, want, **tolerance(name, x, kwargs))


@pytest.mark.parametrize("reduction", REDUCTIONS, ids=str)
def test_every_reduction_by_hand(reduction):
    """losses [[1, 2], [3, 4]] (as sigmoid_cross_entropy with labels chosen so), weights
    (2, 1) = [[0], [2]]: the divisors are 4 elements, sum(w) = 4, nonzero w = 2."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    # labels z with max(x, 0) - x z + log1p(exp(-x)) = l: z = (x + log1p(exp(-x)) - l) / x
    z = (x + np.log1p(np.exp(-x)) - np.array([[1.0, 2.0], [3.0, 4.0]])) / x
    w = np.array([[0.0], [2.0]])
    got = L.sigmoid_cross_entropy(z, x, weights=w, reduction=reduction)
    want = {
        R.NONE: np.array([[0.0, 0.0], [6.0, 8.0]]),
        R.SUM: 14.0,
        R.MEAN: 14.0 / 4,
        R.SUM_OVER_BATCH_SIZE: 14.0 / 4,
        R.SUM_BY_NONZERO_WEIGHTS: 14.0 / 2,
    }[reduction]
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_zero_divisors_give_zero():
    x, z = np.array([[1.0, -2.0]]), np.array([[1.0, 0.0]])
    for reduction in (R.MEAN, R.SUM_BY_NONZERO_WEIGHTS):
        assert L.sigmoid_cross_entropy(z, x, weights=0.0, reduction=reduction) == 0.0
    # weights summing to 0: MEAN divides by 0 (gives 0), the nonzero count is 2
    w = np.array([[1.0, -1.0]])
    assert L.sigmoid_cross_entropy(z, x, weights=w, reduction=R.MEAN) == 0.0
    each = elementwise("sigmoid", z, x)
    np.testing.assert_allclose(
        L.sigmoid_cross_entropy(z, x, weights=w), (each[0, 0] - each[0, 1]) / 2, rtol=1e-14
    )
    # empty losses: every divisor is 0
    for reduction in REDUCTIONS[1:]:
        assert L.sigmoid_cross_entropy(np.zeros((0, 3)), np.zeros((0, 3)), reduction=reduction) == 0


def test_default_is_sum_by_nonzero_weights_and_the_alias():
    assert (
        R.SUM_OVER_NONZERO_WEIGHTS == R.SUM_BY_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
    )
    assert R.all() == (
        "none",
        "weighted_sum",
        "weighted_mean",
        "weighted_sum_over_batch_size",
        "weighted_sum_by_nonzero_weights",
        "weighted_sum_by_nonzero_weights",
    )
    x, z = np.array([[1.0, -2.0], [0.5, 3.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])
    w = np.array([[0.0], [3.0]])
    a = L.sigmoid_cross_entropy(z, x, weights=w)
    b = L.sigmoid_cross_entropy(z, x, weights=w, reduction=R.SUM_OVER_NONZERO_WEIGHTS)
    assert a == b
    np.testing.assert_allclose(
        a, weighted(elementwise("sigmoid", z, x), w, R.SUM_BY_NONZERO_WEIGHTS)
    )


def test_module_is_reachable_as_tf_losses():
    assert xent.tf.losses is xent.tf.compat.v1.losses is L
    assert callable(xent.tf.sigmoid_cross_entropy_with_logits)


def test_signatures_keep_tensorflows_argument_order():
    import inspect

    def names(fn):
        return list(inspect.signature(fn).parameters)

    common = ["scope", "loss_collection", "reduction"]
    assert names(L.sigmoid_cross_entropy) == [
        "multi_class_labels",
        "logits",
        "weights",
        "label_smoothing",
        *common,
    ]
    assert names(L.softmax_cross_entropy) == [
        "onehot_labels",
        "logits",
        "weights",
        "label_smoothing",
        *common,
    ]
    assert names(L.sparse_softmax_cross_entropy) == ["labels", "logits", "weights", *common]
    assert names(L.log_loss) == ["labels", "predictions", "weights", "epsilon", *common]
    # positional, as TensorFlow: weights, label_smoothing, scope, loss_collection, reduction
    x, z = np.array([[1.0, -2.0]]), np.array([[1.0, 0.0]])
    got = L.sigmoid_cross_entropy(z, x, 1.0, 0.2, "a scope", ["a collection"], R.SUM)
    np.testing.assert_allclose(got, weighted(elementwise("sigmoid", z, x, 0.2), 1.0, R.SUM))


# --------------------------------------------------------------------------- shapes, dtypes


def test_sparse_labels_of_shape_n_1_and_logits_n_c_1():
    x = np.array([[1.0, 2.0, -1.0], [0.0, 3.0, 0.5]])
    y = np.array([2, 1])
    want = elementwise("sparse", y, x)
    kw = {"reduction": R.NONE}
    np.testing.assert_allclose(L.sparse_softmax_cross_entropy(y[:, None], x, **kw), want)
    np.testing.assert_allclose(L.sparse_softmax_cross_entropy(y, x[..., None], **kw), want)
    # weights of the labels' rank + 1, last dimension 1: squeezed
    w = np.array([[2.0], [0.0]])
    np.testing.assert_allclose(L.sparse_softmax_cross_entropy(y, x, w, **kw), want * [2.0, 0.0])
    np.testing.assert_allclose(
        L.sparse_softmax_cross_entropy(y[:, None], x, w, **kw), want * [2, 0]
    )


def test_softmax_of_one_row_gives_a_scalar():
    x, t = np.array([1.0, 2.0, 0.5]), np.array([0.2, 0.5, 0.3])
    got = L.softmax_cross_entropy(t, x, reduction=R.NONE)
    assert got.shape == ()
    np.testing.assert_allclose(got, elementwise("softmax", t, x))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64], ids=lambda d: d.__name__)
def test_result_dtypes(dtype):
    x = np.array([[1.0, -2.0], [0.5, 3.0]], dtype)
    z = np.array([[1, 0], [0, 1]])  # integer labels: cast to the logits' dtype
    assert L.sigmoid_cross_entropy(z, x).dtype == dtype
    assert L.softmax_cross_entropy(z, x).dtype == dtype
    assert L.sparse_softmax_cross_entropy(np.array([0, 1]), x).dtype == dtype
    assert L.log_loss(z, np.abs(x) / 4).dtype == np.float32  # always float32
    np.testing.assert_allclose(
        L.sigmoid_cross_entropy(z, x, weights=np.array([[1.0], [2.0]], np.float64)),
        weighted(elementwise("sigmoid", z, x), [[1.0], [2.0]], R.SUM_BY_NONZERO_WEIGHTS),
        rtol=4 * np.finfo(dtype).eps,
    )


def test_lists_are_float32_and_log_loss_takes_integers():
    assert L.sigmoid_cross_entropy([[1.0, 0.0]], [[1.0, 2.0]]).dtype == np.float32
    got = L.log_loss(np.array([1, 0]), np.array([1, 0]))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, -np.log(np.float32(1) + np.float32(1e-7)), rtol=1e-6)


def test_log_loss_is_unclipped():
    labels = np.array([1.0, 0.0, 1.0])
    got = L.log_loss(labels, np.array([2.0, 0.3, -1.0]), reduction=R.NONE)
    assert np.isnan(got[0]) and np.isnan(got[2])  # log of a negative number
    np.testing.assert_allclose(got[1], -np.log(0.7 + 1e-7), rtol=1e-6)
    # epsilon 0: -log(0) = inf; a zero coefficient times log 0 is 0 (TensorFlow: nan)
    got = L.log_loss(labels, np.array([0.0, 0.3, 1.0]), epsilon=0.0, reduction=R.NONE)
    assert got[0] == np.inf and got[2] == 0.0


def test_label_smoothing_applies_only_when_positive():
    x, z = np.array([[1.0, -2.0, 0.5]]), np.array([[1.0, 0.0, 0.0]])
    for fn, name in ((L.sigmoid_cross_entropy, "sigmoid"), (L.softmax_cross_entropy, "softmax")):
        plain = fn(z, x, reduction=R.NONE)
        np.testing.assert_array_equal(fn(z, x, label_smoothing=-0.5, reduction=R.NONE), plain)
        np.testing.assert_array_equal(
            fn(z, x, label_smoothing=float("nan"), reduction=R.NONE), plain
        )
        np.testing.assert_allclose(
            fn(z, x, label_smoothing=1.5, reduction=R.NONE), elementwise(name, z, x, 1.5)
        )


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("name", LOSSES)
def test_none_arguments(name):
    a = np.zeros((2, 3))
    labels = np.zeros(2, np.int64) if name == "sparse" else a
    with pytest.raises(ValueError, match="must not be None"):
        call(name, None, a)
    with pytest.raises(ValueError, match="must not be None"):
        call(name, labels, None)
    with pytest.raises(ValueError, match="weights must not be None"):
        call(name, labels, a, weights=None)


@pytest.mark.parametrize("name", LOSSES)
def test_unknown_reduction(name):
    a = np.zeros((2, 3))
    labels = np.zeros(2, np.int64) if name == "sparse" else a
    with pytest.raises(ValueError, match="Invalid Reduction Key mean"):
        call(name, labels, a, reduction="mean")


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "log_loss"])
def test_shape_mismatch(name):
    with pytest.raises(ValueError, match=r"Shapes \(2, 3\) and \(2, 2\) are incompatible"):
        call(name, np.zeros((2, 2)), np.zeros((2, 3)))


@pytest.mark.parametrize(
    "name, shape, weights_shape, message",
    [
        ("sigmoid", (2, 3), (2,), "values.rank=2. weights.rank=1"),
        ("sigmoid", (2, 3), (3,), "values.rank=2. weights.rank=1"),
        ("sigmoid", (2, 3), (1,), "values.rank=2. weights.rank=1"),
        ("sigmoid", (2, 3), (1, 2, 3), "values.rank=2. weights.rank=3"),
        ("sigmoid", (2, 3), (3, 2), "Mismatch at dim 0"),
        ("log_loss", (2, 3), (2, 2), "Mismatch at dim 1"),
        ("softmax", (2, 3), (2, 1), "values.rank=1. weights.rank=2"),
        ("softmax", (2, 3), (3,), "Mismatch at dim 0"),
        ("sparse", (2, 3), (1, 2, 1), "values.rank=1. weights.rank=3"),
    ],
)
def test_weights_that_do_not_broadcast(name, shape, weights_shape, message):
    labels = np.zeros(shape[:-1], np.int64) if name == "sparse" else np.zeros(shape)
    with pytest.raises(ValueError, match="weights can not be broadcast to values. " + message):
        call(name, labels, np.full(shape, 0.5), weights=np.ones(weights_shape))


def test_sparse_weights_whose_extra_dimension_is_not_1():
    with pytest.raises(ValueError, match=r"Can not squeeze dim\[1\], expected a dimension of 1"):
        L.sparse_softmax_cross_entropy(np.array([0, 1]), np.zeros((2, 3)), weights=np.ones((2, 3)))


def test_sparse_bad_labels():
    with pytest.raises(IndexError, match="Target 3 is out of bounds"):
        L.sparse_softmax_cross_entropy(np.array([0, 3]), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="labels of shape"):
        L.sparse_softmax_cross_entropy(np.array([0, 1, 2]), np.zeros((2, 3)))
    with pytest.raises(TypeError, match="integer class indices"):
        L.sparse_softmax_cross_entropy(np.array([0.0, 1.0]), np.zeros((2, 3)))


def test_softmax_of_a_scalar():
    with pytest.raises(ValueError, match="at least one dimension"):
        L.softmax_cross_entropy(1.0, 2.0)


def test_integer_logits():
    with pytest.raises(TypeError, match="floating-point"):
        L.sigmoid_cross_entropy(np.array([[1.0]]), np.array([[1]]))


# --------------------------------------------------------------------------- torch, autograd


@given(case=cases())
def test_torch_values_and_autograd(torch, case):
    """Torch tensors in, tensors out; the autograd gradient in the logits (predictions) is
    the central difference of the float64 transcription."""
    name, labels, x, kwargs = case
    x64 = x.astype(np.float64)
    if name == "log_loss":  # away from 0 and 1, where log(p + eps) bends sharply
        x64 = np.clip(x64, 0.05, 0.95).astype(np.float32).astype(np.float64)
    tx = torch.from_numpy(x64).requires_grad_(True)
    tw = kwargs["weights"]
    tw = torch.from_numpy(tw) if isinstance(tw, np.ndarray) else tw
    out = call(name, torch.from_numpy(np.asarray(labels)), tx, **{**kwargs, "weights": tw})
    assert isinstance(out, torch.Tensor)
    want = expected(name, labels, x64, kwargs)
    tol = tolerance(name, x64, kwargs)
    np.testing.assert_allclose(out.detach().numpy(), want, **tol)
    out.sum().backward()

    def f(v):
        return expected(name, labels, v, kwargs, cast=False)

    np.testing.assert_allclose(tx.grad.numpy(), central_difference(f, x64), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", LOSSES)
def test_jax_jit_and_grad(name):
    """Under jax.jit the values are NumPy's; jax.grad is the central difference of the
    float64 transcription."""
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    rng = np.random.default_rng(7)
    x = rng.uniform(0.1, 0.9, (3, 4)) if name == "log_loss" else rng.normal(size=(3, 4)) * 3
    x = x.astype(np.float32)
    labels = rng.integers(0, 4, 3) if name == "sparse" else rng.uniform(size=(3, 4))
    labels = labels if name == "sparse" else labels.astype(np.float32)
    w = np.array([1.0, 0.0, 2.0], np.float32)
    w = w if name in ("softmax", "sparse") else w[:, None]
    kwargs = {"weights": w, "reduction": R.SUM_BY_NONZERO_WEIGHTS}

    def f(v):
        return call(name, jnp.asarray(labels), v, **{**kwargs, "weights": jnp.asarray(w)})

    value = jax.jit(f)(jnp.asarray(x))
    np.testing.assert_allclose(np.asarray(value), call(name, labels, x, **kwargs), rtol=1e-6)
    grad = np.asarray(jax.grad(f)(jnp.asarray(x)), np.float64)
    x64 = x.astype(np.float64)
    want = central_difference(lambda v: expected(name, labels, v, kwargs, cast=False), x64)
    np.testing.assert_allclose(grad, want, rtol=1e-4, atol=1e-5)
