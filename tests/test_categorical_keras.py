"""Multi-class cross-entropy, Keras convention: xent.keras against keras.losses
(KERAS_BACKEND=torch), functions and loss classes, plus consistency with the
PyTorch convention where the definitions coincide."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xent
import xent.keras as xk
from helpers import as_numpy, conditioned_tol, eps, tol

FLOATS = [np.float32, np.float64]
KERAS_REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None, "none"]
RNG = np.random.default_rng(31337)


# --------------------------------------------------------------------------- helpers


def tolerances(y_pred, per_sample_terms, n_summed=1, ulps=64, clipped=False):
    """k eps relative; absolute k eps times the size of a per-sample loss (the number
    of classes times the largest -log: |logit| + log C, or -log(1e-7) = 16.1 for
    clipped probabilities) and the number of losses summed.

    ``clipped``: Keras' torch backend clips probabilities to float32(1e-7) and
    float32(1 - 1e-7) (ops.clip makes float32 tensors of the bounds) where xent uses
    1e-7 and 1 - 1e-7 as Keras' other backends do; in float64 each clipped log then
    differs by up to 2e-8 < float32 eps, which the absolute tolerance allows per class.
    """
    t = conditioned_tol(
        y_pred.dtype, y_pred, classes=per_sample_terms, offset=17.0, summed=n_summed, ulps=ulps
    )
    if clipped:
        t["atol"] += eps(np.float32) * per_sample_terms * max(1, n_summed)
    return t


def assert_close(actual, expected, **tolerance):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, equal_nan=True, **tolerance)


# --------------------------------------------------------------------------- strategies


@st.composite
def predictions(draw, from_logits, dtype=None, min_classes=2):
    """(y_pred, axis): shape (C,), (N, C), (N, d, C) with axis -1, or (N, C, d) with axis 1."""
    dtype = draw(st.sampled_from(FLOATS)) if dtype is None else dtype
    n, c, d = draw(st.integers(1, 4)), draw(st.integers(min_classes, 6)), draw(st.integers(1, 3))
    shape, axis = draw(st.sampled_from([((c,), -1), ((n, c), -1), ((n, d, c), -1), ((n, c, d), 1)]))
    elements = st.floats(-20, 20, width=32) if from_logits else st.floats(0, 1, width=32)
    return draw(hnp.arrays(dtype, shape, elements=elements)), axis


def soft_targets(draw, y_pred):
    return draw(hnp.arrays(y_pred.dtype, y_pred.shape, elements=st.floats(0, 1, width=32)))


@st.composite
def sparse_labels(draw, y_pred, axis):
    """(labels, ignore_class): integer (or whole float) labels of y_pred's shape without
    the class axis; ignore_class None, -1 (then some labels are -1) or a real class."""
    c = y_pred.shape[axis]
    shape = tuple(s for i, s in enumerate(y_pred.shape) if i != axis % y_pred.ndim)
    labels = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, c - 1)))
    ignore_class = draw(st.sampled_from([None, -1, draw(st.integers(0, c - 1))]))
    if ignore_class == -1:
        labels = np.where(draw(hnp.arrays(np.bool_, shape)), -1, labels)
    if draw(st.booleans()):
        labels = labels.astype(np.float32)
    return labels, ignore_class


smoothing = st.one_of(st.just(0.0), st.floats(0.0, 1.0))


# --------------------------------------------------------------------------- functions


@pytest.mark.filterwarnings("ignore:In loss categorical:SyntaxWarning")  # C = 1 on the last axis
@given(from_logits=st.booleans(), data=st.data())
def test_categorical_crossentropy_matches_keras(keras, from_logits, data):
    y_pred, axis = data.draw(predictions(from_logits))
    y_true = soft_targets(data.draw, y_pred)
    kwargs = {"from_logits": from_logits, "label_smoothing": data.draw(smoothing), "axis": axis}
    expected = as_numpy(keras.losses.categorical_crossentropy(y_true, y_pred, **kwargs))
    actual = xk.categorical_crossentropy(y_true, y_pred, **kwargs)
    assert actual.dtype == y_pred.dtype
    clipped = not from_logits
    assert_close(actual, expected, **tolerances(y_pred, y_pred.shape[axis], clipped=clipped))


@pytest.mark.filterwarnings("ignore:In loss categorical:SyntaxWarning")  # C = 1 on the last axis
@given(from_logits=st.booleans(), data=st.data())
def test_categorical_focal_crossentropy_matches_keras(keras, from_logits, data):
    y_pred, axis = data.draw(predictions(from_logits))
    y_true = soft_targets(data.draw, y_pred)
    c = y_pred.shape[axis]
    # Keras takes a Python alpha (and gamma) as float32 tensors: draw float32 values
    alpha = data.draw(
        st.one_of(
            st.floats(0, 1, width=32),
            hnp.arrays(y_pred.dtype, (c,), elements=st.floats(0, 1, width=32))
            if axis == -1
            else st.just(0.25),
        )
    )
    kwargs = {
        "alpha": alpha,
        "gamma": data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.75])),
        "from_logits": from_logits,
        "label_smoothing": data.draw(smoothing),
        "axis": axis,
    }
    expected = keras.losses.categorical_focal_crossentropy(y_true, y_pred, **kwargs)
    actual = xk.categorical_focal_crossentropy(y_true, y_pred, **kwargs)
    assert actual.dtype == y_pred.dtype
    assert_close(actual, as_numpy(expected), **tolerances(y_pred, c, clipped=True))


@given(from_logits=st.booleans(), data=st.data())
def test_sparse_categorical_crossentropy_matches_keras(keras, from_logits, data):
    y_pred, axis = data.draw(predictions(from_logits))
    labels, ignore_class = data.draw(sparse_labels(y_pred, axis))
    kwargs = {"from_logits": from_logits, "ignore_class": ignore_class, "axis": axis}
    expected = keras.losses.sparse_categorical_crossentropy(labels, y_pred, **kwargs)
    actual = xk.sparse_categorical_crossentropy(labels, y_pred, **kwargs)
    assert actual.dtype == y_pred.dtype
    clipped = not from_logits
    assert_close(actual, as_numpy(expected), **tolerances(y_pred, 1, clipped=clipped))


@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probabilities"])
def test_sparse_labels_with_a_trailing_axis_of_one_are_squeezed_like_keras(keras, from_logits):
    y_pred = RNG.uniform(size=(4, 3, 5)).astype(np.float32)
    labels = RNG.integers(0, 5, size=(4, 3, 1))
    expected = keras.losses.sparse_categorical_crossentropy(labels, y_pred, from_logits)
    actual = xk.sparse_categorical_crossentropy(labels, y_pred, from_logits)
    assert_close(actual, as_numpy(expected), **tolerances(y_pred, 1))


def test_label_smoothing_counts_classes_on_the_last_axis_like_keras(keras):
    """Keras smooths with C = y_true.shape[-1] even when the classes are on another axis."""
    y_pred = RNG.normal(size=(2, 3, 7)).astype(np.float64)  # classes on axis 1: C = 3
    y_true = RNG.uniform(size=y_pred.shape)
    kwargs = {"from_logits": True, "label_smoothing": 0.3, "axis": 1}
    expected = as_numpy(keras.losses.categorical_crossentropy(y_true, y_pred, **kwargs))
    assert_close(xk.categorical_crossentropy(y_true, y_pred, **kwargs), expected, **tol(np.float64))
    smoothed = y_true * 0.7 + 0.3 / 7  # ... by 7, not 3
    exact = xk.categorical_crossentropy(smoothed, y_pred, from_logits=True, axis=1)
    assert_close(expected, exact, **tol(np.float64))


@pytest.mark.parametrize(
    "fn", ["categorical_crossentropy", "categorical_focal_crossentropy"], ids=lambda f: f
)
def test_one_class_warns_like_keras(keras, fn):
    y_true, y_pred = np.ones((3, 1), np.float32), RNG.uniform(size=(3, 1)).astype(np.float32)
    with pytest.warns(SyntaxWarning, match="num_classes > 1"):
        expected = as_numpy(getattr(keras.losses, fn)(y_true, y_pred))
    with pytest.warns(SyntaxWarning, match="num_classes > 1"):
        actual = getattr(xk, fn)(y_true, y_pred)
    assert_close(actual, expected, **tolerances(y_pred, 1))


def test_python_lists_compute_in_float32(keras):
    y_true, y_pred = [[0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[0.05, 0.95, 0.0], [0.1, 0.8, 0.1]]
    actual = xk.categorical_crossentropy(y_true, y_pred)
    assert actual.dtype == np.float32
    expected = as_numpy(keras.losses.categorical_crossentropy(y_true, y_pred))
    assert_close(actual, expected, **tol(np.float32, 4))
    assert_close(actual, [-math.log(0.95), -math.log(0.1)], **tol(np.float32, 4))


# --------------------------------------------------------------------------- classes

CLASSES = {
    "CategoricalCrossentropy logits": ("CategoricalCrossentropy", True, {"label_smoothing": 0.2}),
    "CategoricalCrossentropy probabilities": ("CategoricalCrossentropy", False, {}),
    "CategoricalFocalCrossentropy logits": (
        "CategoricalFocalCrossentropy",
        True,
        {"alpha": 0.4, "gamma": 1.5, "label_smoothing": 0.1},
    ),
    "CategoricalFocalCrossentropy probabilities": ("CategoricalFocalCrossentropy", False, {}),
    "SparseCategoricalCrossentropy logits": ("SparseCategoricalCrossentropy", True, {}),
    "SparseCategoricalCrossentropy probabilities ignore_class": (
        "SparseCategoricalCrossentropy",
        False,
        {"ignore_class": 1},
    ),
    "SparseCategoricalCrossentropy logits ignore_class -1": (
        "SparseCategoricalCrossentropy",
        True,
        {"ignore_class": -1},
    ),
}


def class_inputs(name, from_logits, kwargs, shape):
    """(y_true, y_pred) for a loss class; classes on the last axis."""
    y_pred = RNG.normal(scale=3.0, size=shape) if from_logits else RNG.uniform(size=shape)
    if name.startswith("Sparse"):
        y_true = RNG.integers(0, shape[-1], size=shape[:-1])
        if kwargs.get("ignore_class") is not None:
            y_true.flat[::3] = kwargs["ignore_class"]
    else:
        y_true = RNG.uniform(size=shape)
    return y_true, y_pred.astype(np.float32)


SAMPLE_WEIGHTS = {
    "no sample_weight": lambda losses_shape: None,
    "one per loss": lambda losses_shape: RNG.uniform(0.0, 2.0, size=losses_shape),
    "scalar": lambda losses_shape: np.float32(0.7),
    "trailing 1": lambda losses_shape: RNG.uniform(size=(*losses_shape, 1)),
    "one per sample": lambda losses_shape: RNG.uniform(size=(*losses_shape[:1], 1)),
}


SHAPES_WEIGHTS = [  # for (N, C), "one per sample" (N, 1) is "trailing 1"
    pytest.param(shape, weights, id=f"{name}-{weights}")
    for shape, name in (((6, 4), "(N, C)"), ((3, 2, 5), "(N, d, C)"))
    for weights in SAMPLE_WEIGHTS
    if not (weights == "one per sample" and len(shape) == 2)
]


@pytest.mark.parametrize(("shape", "weights"), SHAPES_WEIGHTS)
@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
@pytest.mark.parametrize("case", list(CLASSES), ids=list(CLASSES))
def test_loss_classes_match_keras(keras, case, shape, reduction, weights):
    name, from_logits, kwargs = CLASSES[case]
    losses_shape = shape[:-1]
    y_true, y_pred = class_inputs(name, from_logits, kwargs, shape)
    sample_weight = SAMPLE_WEIGHTS[weights](losses_shape)
    keras_weight = sample_weight
    if kwargs.get("ignore_class") is not None and weights in ("scalar", "one per sample"):
        # Keras' torch backend multiplies the mask into a smaller weight in place and
        # fails; xent broadcasts: it must equal Keras given the broadcast weight.
        keras_weight = np.broadcast_to(sample_weight, losses_shape).copy()
    ours = getattr(xk, name)(from_logits=from_logits, reduction=reduction, **kwargs)
    theirs = getattr(keras.losses, name)(from_logits=from_logits, reduction=reduction, **kwargs)
    expected = as_numpy(theirs(y_true, y_pred, sample_weight=keras_weight))
    actual = ours(y_true, y_pred, sample_weight=sample_weight)
    assert actual.dtype == np.float32
    n_summed = math.prod(losses_shape) if reduction == "sum" else 1
    assert_close(actual, expected, **tolerances(y_pred, shape[-1], n_summed * 2))


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
def test_all_ignored_gives_zero_like_keras(keras, reduction):
    y_pred = RNG.normal(size=(3, 4)).astype(np.float32)
    labels = np.full(3, 2)
    loss = xk.SparseCategoricalCrossentropy(True, ignore_class=2, reduction=reduction)
    theirs = keras.losses.SparseCategoricalCrossentropy(True, ignore_class=2, reduction=reduction)
    expected = as_numpy(theirs(labels, y_pred))
    assert_close(loss(labels, y_pred), expected, atol=0, rtol=0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64], ids=lambda d: d.__name__)
def test_sparse_labels_of_any_integer_dtype_with_ignore_class(keras, dtype):
    """uint8 labels with ignore_class=255 (an unsigned dtype cannot hold the -1 that
    marks ignored labels inside xent): the same as Keras with int64 labels."""
    y_pred = RNG.normal(size=(6, 4)).astype(np.float32)
    labels = np.array([0, 3, 255, 1, 255, 2])
    expected = as_numpy(
        keras.losses.sparse_categorical_crossentropy(labels, y_pred, True, ignore_class=255)
    )
    ignore = 255 if dtype is np.uint8 else -1
    ours_labels = np.where(labels == 255, ignore, labels).astype(dtype)
    actual = xk.sparse_categorical_crossentropy(ours_labels, y_pred, True, ignore_class=ignore)
    assert_close(actual, expected, **tolerances(y_pred, 4, 2))


@pytest.mark.parametrize("reduction", KERAS_REDUCTIONS, ids=str)
def test_float64_loss_class_computes_in_float64(keras, reduction):
    """Keras' torch backend returns its averaging reductions in float32 even for
    dtype='float64' (torch.where(x == 0, 0, 0-d float64 tensor) is float32): compare
    those values after that one rounding; xent keeps float64."""
    y_true, y_pred = class_inputs("CategoricalCrossentropy", True, {}, (4, 3))
    y_pred = y_pred.astype(np.float64)
    ours = xk.CategoricalCrossentropy(from_logits=True, reduction=reduction, dtype="float64")
    theirs = keras.losses.CategoricalCrossentropy(
        from_logits=True, reduction=reduction, dtype="float64"
    )
    actual = ours(y_true, y_pred)
    expected = as_numpy(theirs(y_true, y_pred))
    assert actual.dtype == np.float64
    if expected.dtype == np.float32:
        assert reduction in ("sum_over_batch_size", "mean", "mean_with_sample_weight")
        assert_close(actual.astype(np.float32), expected, **tol(np.float32, 1))
    else:
        assert_close(actual, expected, **tol(np.float64, 16))


def test_get_config_round_trips():
    for loss in (
        xk.CategoricalCrossentropy(True, 0.1, axis=1, reduction="sum"),
        xk.CategoricalFocalCrossentropy(alpha=0.3, gamma=1.0, from_logits=True),
        xk.SparseCategoricalCrossentropy(True, ignore_class=3, axis=-1, name="s"),
    ):
        clone = type(loss)(**loss.get_config())
        assert clone.get_config() == loss.get_config()


# --------------------------------------------------------------------------- consistency


@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probabilities"])
def test_sparse_labels_equal_one_hot_targets(from_logits):
    y_pred = RNG.uniform(size=(5, 3, 4)) if not from_logits else RNG.normal(size=(5, 3, 4))
    labels = RNG.integers(0, 4, size=(5, 3))
    one_hot = np.eye(4)[labels]
    assert_close(
        xk.sparse_categorical_crossentropy(labels, y_pred, from_logits),
        xk.categorical_crossentropy(one_hot, y_pred, from_logits),
        **tol(np.float64, 8),
    )


def test_focal_with_gamma_0_and_alpha_1_is_categorical_crossentropy():
    y_pred, y_true = RNG.uniform(size=(5, 4)), RNG.uniform(size=(5, 4))
    assert_close(
        xk.categorical_focal_crossentropy(y_true, y_pred, alpha=1.0, gamma=0.0),
        xk.categorical_crossentropy(y_true, y_pred),
        **tol(np.float64, 8),
    )


@given(x=hnp.arrays(np.float64, (5, 4), elements=st.floats(-20, 20)), data=st.data())
def test_keras_and_pytorch_conventions_agree_on_logits(x, data):
    """Where the definitions coincide: classes on the last axis of an (N, C) input."""
    y = data.draw(hnp.arrays(np.int64, (5,), elements=st.integers(0, 3)))
    t = data.draw(hnp.arrays(np.float64, (5, 4), elements=st.floats(0, 1)))
    ls = data.draw(smoothing)
    k = data.draw(st.integers(0, 3))
    close = tol(np.float64, 64)
    assert_close(
        xk.sparse_categorical_crossentropy(y, x, from_logits=True),
        xent.cross_entropy(x, y, reduction="none"),
        **close,
    )
    assert_close(
        xk.categorical_crossentropy(t, x, from_logits=True, label_smoothing=ls),
        xent.cross_entropy(x, t, label_smoothing=ls, reduction="none"),
        **close,
    )
    # 'sum_over_batch_size' with ignore_class and 'mean' with ignore_index both divide
    # by the number of kept labels (0 kept: Keras gives 0, PyTorch nan)
    keras_mean = xk.SparseCategoricalCrossentropy(True, ignore_class=k, dtype="float64")(y, x)
    torch_mean = xent.cross_entropy(x, y, ignore_index=k)
    if np.all(y == k):
        assert keras_mean == 0 and np.isnan(torch_mean)
    else:
        assert_close(keras_mean, torch_mean, **close)
    assert_close(
        xk.CategoricalCrossentropy(True, ls, reduction="sum", dtype="float64")(t, x),
        xent.cross_entropy(x, t, label_smoothing=ls, reduction="sum"),
        **close,
    )


# --------------------------------------------------------------------------- extremes


@pytest.mark.parametrize("dtype", FLOATS, ids=["float32", "float64"])
def test_logits_of_1e4_match_keras(keras, dtype):
    y_pred = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4]], dtype=dtype)
    y_true = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]], dtype=dtype)
    labels = np.array([1, 2])
    pairs = [
        ("categorical_crossentropy", (y_true, y_pred), {"from_logits": True}),
        ("categorical_focal_crossentropy", (y_true, y_pred), {"from_logits": True}),
        ("sparse_categorical_crossentropy", (labels, y_pred), {"from_logits": True}),
    ]
    for fn, args, kwargs in pairs:
        expected = as_numpy(getattr(keras.losses, fn)(*args, **kwargs))
        clipped = fn == "categorical_focal_crossentropy"  # clips softmax(logits)
        actual = getattr(xk, fn)(*args, **kwargs)
        assert_close(actual, expected, **tolerances(y_pred, 3, clipped=clipped))


def test_minus_inf_logit_with_zero_target_contributes_zero(keras):
    """Keras gives nan (0 * -inf); xent gives the limit, which Keras computes exactly at
    logit -1e30."""
    y_pred = np.array([[-np.inf, 0.0, 1.0], [2.0, -np.inf, -np.inf]])
    y_true = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    stand_in = np.where(np.isinf(y_pred), -1e30, y_pred)
    for fn in ("categorical_crossentropy", "categorical_focal_crossentropy"):
        expected = as_numpy(getattr(keras.losses, fn)(y_true, stand_in, from_logits=True))
        actual = getattr(xk, fn)(y_true, y_pred, from_logits=True)
        assert np.all(np.isfinite(actual))
        assert_close(actual, expected, **tol(np.float64, 16))


def test_probability_rows_summing_to_zero_give_nan_like_keras(keras):
    y_pred = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.5]])
    y_true = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    expected = as_numpy(keras.losses.categorical_crossentropy(y_true, y_pred))
    actual = xk.categorical_crossentropy(y_true, y_pred)  # no RuntimeWarning (an error here)
    assert np.isnan(expected[0]) and np.isnan(actual[0])
    assert_close(actual, expected, **tol(np.float64, 8))


@pytest.mark.parametrize("from_logits", [True, False], ids=["logits", "probabilities"])
def test_float16_is_computed_in_float32(keras, from_logits):
    """Keras computes float16 in float16; xent in float32, rounded once: compare with
    Keras in float64."""
    y_pred = RNG.normal(scale=3.0, size=(6, 5)) if from_logits else RNG.uniform(size=(6, 5))
    y_pred = y_pred.astype(np.float16)
    y_true = RNG.uniform(size=(6, 5)).astype(np.float16)
    labels = RNG.integers(0, 5, size=6)
    for fn, args in (
        ("categorical_crossentropy", (y_true, y_pred)),
        ("categorical_focal_crossentropy", (y_true, y_pred)),
        ("sparse_categorical_crossentropy", (labels, y_pred)),
    ):
        actual = getattr(xk, fn)(*args, from_logits=from_logits)
        assert actual.dtype == np.float16
        exact_args = [a.astype(np.float64) if a.dtype == np.float16 else a for a in args]
        exact = as_numpy(getattr(keras.losses, fn)(*exact_args, from_logits=from_logits))
        assert_close(actual, exact, rtol=float(np.finfo(np.float16).eps), atol=0)


BFLOAT16_CLASSES = {
    "BinaryCrossentropy": lambda: (RNG.uniform(size=(6, 5)) > 0.5, RNG.uniform(size=(6, 5))),
    "CategoricalCrossentropy": lambda: (RNG.uniform(size=(6, 5)), RNG.uniform(size=(6, 5))),
    "SparseCategoricalCrossentropy": lambda: (RNG.integers(0, 5, 6), RNG.uniform(size=(6, 5))),
}


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "none"])
@pytest.mark.parametrize("name", list(BFLOAT16_CLASSES))
def test_bfloat16_loss_classes_on_numpy(keras, name, reduction):
    """dtype="bfloat16" on NumPy inputs raised (NumPy has no bfloat16) where Keras
    returns bfloat16 (issue 16): ml_dtypes.bfloat16 arrays now, the inputs rounded to
    bfloat16 as Keras does, computed in float32: against Keras in float64 on the rounded
    inputs, within one bfloat16 rounding."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    bf16 = np.dtype(ml_dtypes.bfloat16)
    y_true, y_pred = BFLOAT16_CLASSES[name]()
    weight = RNG.uniform(0.5, 2.0, size=6)
    actual = getattr(xk, name)(dtype="bfloat16", reduction=reduction)(y_true, y_pred, weight)
    assert actual.dtype == bf16
    rounded = [a.astype(bf16).astype(np.float64) for a in (y_true, y_pred, weight)]
    exact = as_numpy(getattr(keras.losses, name)(dtype="float64", reduction=reduction)(*rounded))
    assert_close(actual.astype(np.float64), exact, rtol=float(np.finfo(bf16).eps), atol=0)
    theirs = getattr(keras.losses, name)(dtype="bfloat16", reduction=reduction)(
        y_true, y_pred, weight
    )
    assert "bfloat16" in str(theirs.dtype)


def test_bfloat16_without_ml_dtypes_says_what_to_install(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "ml_dtypes", None)  # import fails
    with pytest.raises(ValueError, match="needs the ml_dtypes package"):
        xk.CategoricalCrossentropy(dtype="bfloat16")(T, X)


# --------------------------------------------------------------------------- bad input

X = RNG.normal(size=(4, 5)).astype(np.float32)
T = RNG.uniform(size=(4, 5)).astype(np.float32)
LABELS = np.array([0, 2, 1, 4])
CCE, FOCAL, SPARSE = (
    "categorical_crossentropy",
    "categorical_focal_crossentropy",
    "sparse_categorical_crossentropy",
)


def bad(fn, y_true, y_pred, error, match, keras_raises=True, **kwargs):
    return fn, y_true, y_pred, kwargs, error, match, keras_raises


BAD = {
    "shape mismatch": bad(CCE, T[:, :4], X, ValueError, "must have the same shape"),
    "rank 0": bad(CCE, np.float32(1), np.float32(1), ValueError, "out of range"),
    "axis bool": bad(CCE, T, X, ValueError, "`axis` must be of type `int`", axis=True),
    "axis out of range": bad(CCE, T, X, ValueError, "axis=2 is out of range", axis=2),
    "focal axis out of range": bad(FOCAL, T, X, ValueError, "axis=-3 is out of range", axis=-3),
    # Keras takes integer predictions
    "integer y_pred": bad(CCE, T, X.astype(np.int64), TypeError, "y_pred must be a float", False),
    # Keras does not check label_smoothing or gamma
    "label_smoothing above 1": bad(
        CCE, T, X, ValueError, "between 0.0 and 1.0", False, label_smoothing=2
    ),
    "gamma negative": bad(FOCAL, T, X, ValueError, "gamma must be non-negative", False, gamma=-1.0),
    "alpha of another size": bad(FOCAL, T, X, ValueError, "alpha of shape", alpha=[0.1, 0.2, 0.3]),
    "label out of range": bad(SPARSE, [0, 7, 1, 2], X, IndexError, "Target 7 is out of bounds"),
    "label -1": bad(SPARSE, [0, -1, 1, 2], X, IndexError, "Target -1 is out of bounds"),
    # Keras' torch backend gives 0 for -100 (PyTorch's default ignore_index)
    "label -100": bad(SPARSE, [0, -100, 1, 2], X, IndexError, "Target -100 is out of", False),
    "label out of range with ignore_class": bad(
        SPARSE, [0, 7, 2, 2], X, IndexError, r"Target 7 .* or 2 \(ignore_class\)", ignore_class=2
    ),
    # Keras truncates a fractional label
    "fractional label": bad(SPARSE, [0.0, 1.5, 1.0, 2.0], X, ValueError, "whole numbers", False),
    "labels shape": bad(SPARSE, [0, 1, 2], X, ValueError, "same shape up until the last"),
    "sparse rank 0": bad(SPARSE, np.int64(0), np.float32(1), ValueError, "at least rank 1"),
    "float ignore_class": bad(
        SPARSE, LABELS, X, TypeError, "ignore_class must be an int", False, ignore_class=2.0
    ),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_raises_with_what_to_pass(keras, case):
    fn, y_true, y_pred, kwargs, error, match, keras_raises = BAD[case]
    with pytest.raises(error, match=match), warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        getattr(xk, fn)(y_true, y_pred, **kwargs)
    if keras_raises:
        with pytest.raises((ValueError, IndexError, TypeError, RuntimeError)):
            getattr(keras.losses, fn)(np.asarray(y_true), y_pred, **kwargs)


CLASS_BAD = {
    "unknown reduction": (
        lambda: xk.CategoricalCrossentropy(reduction="avg"),
        ValueError,
        "'avg' is not a valid value for reduction",
    ),
    "sample_weight of another size": (
        lambda: xk.CategoricalCrossentropy()(T, X, sample_weight=np.ones(3)),
        ValueError,
        "sample_weight of shape",
    ),
    "focal gamma negative": (
        lambda: xk.CategoricalFocalCrossentropy(gamma=-0.5),
        ValueError,
        "gamma must be non-negative",
    ),
    "sparse float ignore_class": (
        lambda: xk.SparseCategoricalCrossentropy(ignore_class=1.0),
        TypeError,
        "ignore_class must be an int",
    ),
    "class label out of range": (
        lambda: xk.SparseCategoricalCrossentropy(True)(np.array([0, 5, 1, 2]), X),
        IndexError,
        "Target 5.0 is out of bounds for 5 classes",
    ),
}


@pytest.mark.parametrize("case", list(CLASS_BAD), ids=list(CLASS_BAD))
def test_bad_class_input_raises(case):
    call, error, match = CLASS_BAD[case]
    with pytest.raises(error, match=match):
        call()
