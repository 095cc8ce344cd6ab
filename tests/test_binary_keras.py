"""Binary family, Keras convention: functions and loss classes against keras.losses
(KERAS_BACKEND=torch), with sample weights and every reduction."""

from __future__ import annotations

import hypothesis.extra.numpy as hnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from helpers import as_numpy, conditioned_tol, eps
from xent import keras as xk

DTYPES = [np.float32, np.float64]
KERAS_REDUCTIONS = ["sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None]


@st.composite
def keras_case(draw, focal=False):
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    from_logits = draw(st.booleans())
    x = rng.normal(size=shape) * draw(st.sampled_from([1.0, 5.0, 30.0]))
    if not from_logits:
        x = 1.0 / (1.0 + np.exp(-x))
        x = np.where(rng.uniform(size=shape) < 0.1, np.round(x), x)  # exact 0 and 1: clipped
    y = rng.integers(0, 2, size=shape).astype(dtype)
    if draw(st.booleans()):
        y = rng.uniform(size=shape).astype(dtype)
    kwargs = {
        "from_logits": from_logits,
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.5])),
        "axis": draw(st.integers(-len(shape), len(shape) - 1)),
    }
    if focal:
        kwargs.update(
            apply_class_balancing=draw(st.booleans()),
            alpha=draw(st.sampled_from([0.25, 0.6])),
            gamma=draw(st.sampled_from([0.0, 0.5, 2.0, 3.0])),
        )
    return y, x.astype(dtype), kwargs


def keras_tolerance(dtype, x, kwargs):
    # Keras' 1 - p_t and clipped logs are rounded in the input dtype; |log| <= ~16 after clipping
    if kwargs["from_logits"]:
        t = conditioned_tol(dtype, x)
    else:
        t = conditioned_tol(dtype, None, offset=17.0)
    # keras.ops.mean promotes float64 with "float32" to float32 (Keras' promotion rule), so
    # Keras averages float64 losses in float32; xent keeps float64. Allow that rounding.
    if dtype == np.float64:
        t["rtol"] += 4 * eps(np.float32)
    return t


@pytest.mark.parametrize("from_logits", [False, True], ids=["probs", "logits"])
@given(data=st.data())
def test_elementwise_matches_keras_backend_op_in_float64(keras, from_logits, data):
    """The elementwise loss, before Keras' float32 mean, to float64 precision."""
    y, x, kwargs = data.draw(keras_case())
    x, y = x.astype(np.float64), y.astype(np.float64)
    if from_logits != kwargs["from_logits"]:
        return
    want = as_numpy(keras.ops.binary_crossentropy(y, x, from_logits=from_logits))
    got = xk.binary_crossentropy(y[..., None], x[..., None], from_logits=from_logits)
    # PyTorch's form, which Keras calls, cancels to an absolute error ~ eps |x| (ours does not)
    eps = float(np.finfo(np.float64).eps)
    np.testing.assert_allclose(got, want, rtol=64 * eps, atol=64 * eps * (1 + np.max(np.abs(x))))


@pytest.mark.parametrize("focal", [False, True], ids=["bce", "focal"])
@given(data=st.data())
def test_functions_match_keras(keras, focal, data):
    y, x, kwargs = data.draw(keras_case(focal=focal))
    name = "binary_focal_crossentropy" if focal else "binary_crossentropy"
    want = as_numpy(getattr(keras.losses, name)(y, x, **kwargs))
    got = getattr(xk, name)(y, x, **kwargs)
    assert got.dtype == x.dtype and np.shape(got) == want.shape
    np.testing.assert_allclose(got, want, **keras_tolerance(x.dtype, x, kwargs))


@st.composite
def sample_weight_for(draw, shape):
    """None, one weight per sample (rank of the per-sample loss or with a trailing 1)."""
    choice = draw(st.sampled_from(["none", "same", "trailing1", "scalar"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if choice == "none":
        return None
    if choice == "scalar":
        return np.float64(rng.uniform(0.1, 2.0))
    w = rng.uniform(0.0, 2.0, size=shape)
    return w[..., None] if choice == "trailing1" else w


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
@pytest.mark.parametrize("cls", ["BinaryCrossentropy", "BinaryFocalCrossentropy"])
@given(data=st.data())
def test_classes_match_keras(keras, cls, reduction, data):
    y, x, kwargs = data.draw(keras_case(focal=cls == "BinaryFocalCrossentropy"))
    per_sample_shape = tuple(np.delete(np.array(x.shape), kwargs["axis"]))
    sw = data.draw(sample_weight_for(per_sample_shape))
    want = as_numpy(
        getattr(keras.losses, cls)(reduction=reduction, **kwargs)(y, x, sample_weight=sw)
    )
    got = getattr(xk, cls)(reduction=reduction, **kwargs)(y, x, sample_weight=sw)
    assert got.dtype == want.dtype == np.float32  # Keras computes in floatx
    assert np.shape(got) == want.shape
    tol = keras_tolerance(np.float32, x, kwargs)
    if reduction in ("sum", "none", None) or sw is not None:
        tol["atol"] *= max(1, x.size) * 2
    np.testing.assert_allclose(got, want, **tol)


@pytest.mark.parametrize(
    ("y_shape", "x_shape"), [((4,), (4, 1)), ((4, 1), (4,)), ((3, 2, 1), (3, 2))], ids=str
)
@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
def test_classes_squeeze_or_expand_like_keras(keras, y_shape, x_shape, reduction):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=y_shape).astype(np.float32)
    x = rng.uniform(size=x_shape).astype(np.float32)
    sw = rng.uniform(size=y_shape[:1])
    want = as_numpy(keras.losses.BinaryCrossentropy(reduction=reduction)(y, x, sample_weight=sw))
    got = xk.BinaryCrossentropy(reduction=reduction)(y, x, sample_weight=sw)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_one_dimensional_input_is_one_sample(keras):
    y, x = np.array([0.0, 1.0, 1.0, 0.0]), np.array([0.1, 0.8, 0.6, 0.3])
    got = xk.binary_crossentropy(y, x)
    assert np.shape(got) == ()
    # Keras averages float64 in float32 (see keras_tolerance)
    np.testing.assert_allclose(got, as_numpy(keras.losses.binary_crossentropy(y, x)), rtol=1e-6)


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
def test_dtype_argument(keras, reduction):
    rng = np.random.default_rng(1)
    y, x = rng.integers(0, 2, size=(5, 3)), rng.uniform(size=(5, 3))
    got = xk.BinaryCrossentropy(dtype="float64", reduction=reduction)(y, x)
    want = as_numpy(keras.losses.BinaryCrossentropy(dtype="float64", reduction=reduction)(y, x))
    # Keras' torch backend returns float32 from divide_no_nan (its jax backend keeps
    # float64) and averages per sample in float32: xent stays in float64 throughout.
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_worked_example_from_the_issue():
    y_true = [[1, 0, 1, 1, 0, 0], [1, 1, 0, 1, 0, 0], [1, 0, 1, 1, 0, 0]]
    y_pred = [
        [0.2, 0.1, 0.8, 0.7, 0.1, 0.2],
        [0.3, 0.4, 0.5, 0.6, 0.7, 0.7],
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
    ]
    np.testing.assert_allclose(xk.BinaryCrossentropy()(y_true, y_pred), 0.81171, atol=5e-6)


def test_keras_and_torch_conventions_agree_on_logits():
    import xent

    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 4)) * 4, rng.uniform(size=(6, 4))
    np.testing.assert_allclose(
        xk.binary_crossentropy(y, x, from_logits=True),
        np.mean(xent.binary_cross_entropy_with_logits(x, y, reduction="none"), axis=-1),
        rtol=1e-14,
    )
    np.testing.assert_allclose(
        xk.BinaryCrossentropy(from_logits=True, label_smoothing=0.2, dtype="float64")(y, x),
        xent.binary_cross_entropy_with_logits(x, y, label_smoothing=0.2),
        rtol=1e-14,
    )


# --------------------------------------------------------------------------- bad input


def test_shape_mismatch(keras):
    with pytest.raises(ValueError):
        keras.losses.binary_crossentropy(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="must have the same shape"):
        xk.binary_crossentropy(np.zeros((3, 2)), np.zeros((3, 3)))


def test_unknown_reduction(keras):
    with pytest.raises(ValueError):
        keras.losses.BinaryCrossentropy(reduction="avg")
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        xk.BinaryCrossentropy(reduction="avg")


@pytest.mark.parametrize("ls", [-0.5, 1.5])
def test_label_smoothing_out_of_range(ls):
    with pytest.raises(ValueError, match=r"label_smoothing must be between 0\.0 and 1\.0"):
        xk.binary_crossentropy(np.zeros(2), np.full(2, 0.5), label_smoothing=ls)
    with pytest.raises(ValueError, match=r"label_smoothing must be between 0\.0 and 1\.0"):
        xk.BinaryFocalCrossentropy(label_smoothing=ls)


def test_negative_gamma():
    with pytest.raises(ValueError, match="gamma must be non-negative"):
        xk.binary_focal_crossentropy(np.zeros(2), np.full(2, 0.5), gamma=-1.0)
    with pytest.raises(ValueError, match="gamma must be non-negative"):
        xk.BinaryFocalCrossentropy(gamma=-1.0)


def test_axis_out_of_range():
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        xk.binary_crossentropy(np.zeros((2, 2)), np.full((2, 2), 0.5), axis=2)


def test_sample_weight_that_does_not_broadcast():
    with pytest.raises(ValueError, match="sample_weight of shape"):
        xk.BinaryCrossentropy()(np.zeros((4, 2)), np.full((4, 2), 0.5), sample_weight=np.ones(3))


def test_non_floating_y_pred():
    with pytest.raises(TypeError, match="y_pred must be a floating-point array"):
        xk.binary_crossentropy(np.zeros(2), np.zeros(2, dtype=np.int64))
