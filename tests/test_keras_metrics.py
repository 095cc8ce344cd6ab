"""Keras metric classes (xent.keras.metrics) against keras.metrics (KERAS_BACKEND=torch):
the streaming state after sequences of updates, with every sample_weight form Keras
accepts; and the KL divergence (xent.keras.kl_divergence, KLDivergence) against
keras.losses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xent
import xent.keras as xk
import xent.keras.metrics as xm
from helpers import as_numpy, eps

FLOATS = [np.float32, np.float64]
METRICS = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]
KERAS_REDUCTIONS = ["sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", None, "none"]


def tolerance(dtypes, classes, magnitude, updates=1):
    """64 eps of the coarsest dtype involved, relative; absolute, times the size of a
    per-sample loss (classes times the largest -log: 17 for clipped probabilities, or
    17 + |logit|) and the updates added. Keras' torch backend clips with float32 bounds
    (see test_categorical_keras.tolerances): float32 eps per class more."""
    e = max(eps(d) for d in dtypes)
    scale = classes * (17.0 + magnitude) * updates
    return {"rtol": 64 * e, "atol": 64 * e * scale + eps(np.float32) * classes * updates}


def close(actual, expected, **tol):
    actual, expected = np.asarray(as_numpy(actual)), np.asarray(as_numpy(expected))
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    np.testing.assert_allclose(actual, expected, equal_nan=True, **tol)


# --------------------------------------------------------------------------- strategies


@st.composite
def batch(draw, kind, n_classes, inner, dtype, from_logits):
    """(y_true, y_pred, sample_weight) of one update: N samples of shape (N, C) or
    (N, inner, C), sample_weight None, a Python number, or an array Keras accepts."""
    n = draw(st.integers(1, 5))
    lead = (n,) if inner is None else (n, inner)
    elements = st.floats(-20, 20, width=32) if from_logits else st.floats(0, 1, width=32)
    y_pred = draw(hnp.arrays(dtype, (*lead, n_classes), elements=elements))
    if kind == "SparseCategoricalCrossentropy":
        y_true = draw(hnp.arrays(np.int64, lead, elements=st.integers(0, n_classes - 1)))
    else:
        y_true = draw(hnp.arrays(dtype, y_pred.shape, elements=st.floats(0, 1, width=32)))
        if kind == "CategoricalCrossentropy" and draw(st.booleans()):
            y_true = np.eye(n_classes, dtype=dtype)[np.argmax(y_true, axis=-1)]
    # the per-sample losses have shape `lead`; the weights Keras takes for them
    shapes = [None, "scalar", lead, (1,), (*lead, 1)]
    if inner is not None:
        shapes += [(n,), (n, 1), (1, inner)]
    shape = draw(st.sampled_from(shapes))
    weights = st.floats(0, 4, width=32)
    if shape is None:
        sample_weight = None
    elif shape == "scalar":
        sample_weight = draw(weights)
    else:
        sample_weight = draw(hnp.arrays(np.float64, shape, elements=weights))
    return y_true, y_pred, sample_weight


@st.composite
def metric_case(draw):
    kind = draw(st.sampled_from(METRICS))
    from_logits = draw(st.booleans())
    kwargs = {"from_logits": from_logits}
    if kind != "SparseCategoricalCrossentropy":
        kwargs["label_smoothing"] = draw(st.sampled_from([0, 0.1, 0.5]))
    metric_dtype = draw(st.sampled_from([None, "float64"]))
    dtype = draw(st.sampled_from(FLOATS))
    n_classes = draw(st.integers(2, 4))
    inner = draw(st.sampled_from([None, 2]))
    updates = draw(
        st.lists(batch(kind, n_classes, inner, dtype, from_logits), min_size=1, max_size=4)
    )
    return kind, kwargs, metric_dtype, dtype, n_classes, updates


def run_keras(keras, kind, kwargs, metric_dtype, updates):
    m = getattr(keras.metrics, kind)(dtype=metric_dtype, **kwargs)
    for y_true, y_pred, sample_weight in updates:
        m.update_state(y_true, y_pred, sample_weight=sample_weight)
    return m


def run_xent(kind, kwargs, metric_dtype, updates, convert=lambda a: a):
    m = getattr(xm, kind)(dtype=metric_dtype, **kwargs)
    for y_true, y_pred, sample_weight in updates:
        sample_weight = (
            convert(sample_weight) if isinstance(sample_weight, np.ndarray) else sample_weight
        )
        m.update_state(convert(y_true), convert(y_pred), sample_weight=sample_weight)
    return m


# --------------------------------------------------------------------------- metrics


@given(metric_case())
def test_metric_state_matches_keras_after_any_updates(keras, case):
    kind, kwargs, metric_dtype, dtype, n_classes, updates = case
    expected = run_keras(keras, kind, kwargs, metric_dtype, updates)
    actual = run_xent(kind, kwargs, metric_dtype, updates)
    magnitude = 20.0 if kwargs["from_logits"] else 0.0
    # float32 always: Keras' torch backend takes a float64 metric's means in float32
    tol = tolerance([dtype, np.float32], n_classes, magnitude, len(updates))
    result = actual.result()
    assert result.dtype == np.float32  # Keras' result is float32 for float64 metrics too
    assert result.dtype == as_numpy(expected.result()).dtype
    assert actual.total.dtype == actual.count.dtype == np.dtype(metric_dtype or "float32")
    close(result, expected.result(), **tol)
    total, count = expected.variables
    weights = sum(np.sum(np.abs(w)) if w is not None else 25 for *_, w in updates)
    close(actual.total, total, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, float(weights)))
    close(actual.count, count, rtol=64 * eps(np.float32), atol=0)


@pytest.mark.parametrize("ignore_class", [0, -1])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_sparse_ignore_class_counts_as_keras(keras, ignore_class, weighted):
    """Keras applies the ignore mask to the weights only: without weights an ignored
    sample still counts 1."""
    y_pred = np.array([[0.2, 0.3, 0.5], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]], np.float32)
    labels = np.array([ignore_class, 1, 2])
    sample_weight = np.array([1.0, 2.0, 3.0]) if weighted else None
    expected = keras.metrics.SparseCategoricalCrossentropy(ignore_class=ignore_class)
    actual = xm.SparseCategoricalCrossentropy(ignore_class=ignore_class)
    for m in (expected, actual):
        m.update_state(labels, y_pred, sample_weight=sample_weight)
        m.update_state(labels[1:], y_pred[1:])
    tol = tolerance([np.float32], 3, 0.0, 2)
    close(actual.result(), expected.result(), **tol)
    close(actual.count, expected.variables[1], rtol=0, atol=0)


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_metrics_on_torch_and_jax_arrays_stay_there(keras, library):
    lib = pytest.importorskip(library)
    convert = (
        (lambda a: lib.from_numpy(a)) if library == "torch" else (lambda a: lib.numpy.asarray(a))
    )
    rng = np.random.default_rng(5)
    updates = [
        (rng.random((n, 3)), rng.random((n, 3)), w)
        for n, w in [(4, None), (2, rng.random(2)), (3, 1.5)]
    ]
    for kind in ("BinaryCrossentropy", "CategoricalCrossentropy"):
        expected = run_keras(keras, kind, {}, None, updates)
        actual = run_xent(kind, {}, None, updates, convert)
        result = actual.result()
        assert type(result).__module__.partition(".")[0] in (library, "jaxlib")
        close(result, expected.result(), **tolerance([np.float32], 3, 0.0, 3))


def test_numpy_updates_join_a_torch_state_and_other_libraries_are_refused(torch):
    jnp = pytest.importorskip("jax.numpy")
    m = xm.BinaryCrossentropy()
    m.update_state(torch.tensor([[0.0, 1.0]]), torch.tensor([[0.3, 0.6]]))
    m.update_state(np.array([[1.0, 1.0]]), np.array([[0.4, 0.9]]))
    assert isinstance(m.result(), torch.Tensor)
    reference = xm.BinaryCrossentropy()
    reference.update_state(np.array([[0.0, 1.0], [1.0, 1.0]]), np.array([[0.3, 0.6], [0.4, 0.9]]))
    close(m.result(), reference.result(), rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="reset_state"):
        m.update_state(jnp.asarray([[0.0, 1.0]]), jnp.asarray([[0.3, 0.6]]))
    m.reset_state()
    m.update_state(jnp.asarray([[0.0, 1.0]]), jnp.asarray([[0.3, 0.6]]))
    assert not isinstance(m.result(), torch.Tensor)


def test_gradients_do_not_reach_the_state(torch):
    y_pred = torch.tensor([[0.3, 0.6]], requires_grad=True)
    m = xm.BinaryCrossentropy()
    result = m(torch.tensor([[0.0, 1.0]]), y_pred)
    assert not result.requires_grad


@pytest.mark.parametrize("kind", METRICS)
def test_result_before_updates_and_after_reset_is_zero_like_keras(keras, kind):
    expected, actual = getattr(keras.metrics, kind)(), getattr(xm, kind)()
    close(actual.result(), expected.result(), rtol=0, atol=0)
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    y_true = (
        np.array([1, 0]) if kind.startswith("Sparse") else np.array([[0, 1], [1, 0]], np.float32)
    )
    for m in (expected, actual):
        m.update_state(y_true, y_pred, sample_weight=np.zeros(2))  # count 0: divide_no_nan
    close(actual.result(), expected.result(), rtol=0, atol=0)
    for m in (expected, actual):
        m.update_state(y_true, y_pred)
    close(actual(y_true, y_pred), expected(y_true, y_pred), rtol=1e-6, atol=1e-7)
    actual.reset_state()
    assert float(actual.result()) == 0.0
    assert [float(v) for v in actual.variables] == [0.0, 0.0]


@pytest.mark.parametrize("kind", METRICS)
def test_config_and_repr_are_keras(keras, kind):
    options = {"name": "m", "dtype": "float64", "from_logits": True}
    if kind == "SparseCategoricalCrossentropy":
        options["ignore_class"] = 1
    else:
        options["label_smoothing"] = 0.25
    expected, actual = getattr(keras.metrics, kind)(**options), getattr(xm, kind)(**options)
    assert actual.get_config() == expected.get_config()
    assert getattr(xm, kind)().get_config() == getattr(keras.metrics, kind)().get_config()
    assert repr(actual) == repr(expected)
    again = getattr(xm, kind).from_config(actual.get_config())
    assert again.get_config() == actual.get_config()


def test_a_weight_that_does_not_broadcast_is_refused():
    m = xm.BinaryCrossentropy()
    with pytest.raises(ValueError, match="sample_weight of shape"):
        m.update_state(np.ones((3, 2)), np.full((3, 2), 0.5), sample_weight=np.ones((3, 2)))
    with pytest.raises(ValueError, match="label_smoothing"):
        xm.CategoricalCrossentropy(label_smoothing=2)


def test_metrics_import_no_framework_and_are_reachable():
    assert xent.keras.metrics is xm
    assert set(xm.__all__) == set(METRICS)


# --------------------------------------------------------------------------- KL divergence


@st.composite
def kl_case(draw):
    dtype = draw(st.sampled_from(FLOATS))
    shape = draw(st.sampled_from([(3,), (2, 4), (3, 2, 2)]))
    y_pred = draw(hnp.arrays(dtype, shape, elements=st.floats(-0.5, 1.5, width=32)))
    y_true = draw(hnp.arrays(dtype, shape, elements=st.floats(-0.5, 1.5, width=32)))
    if draw(st.booleans()):  # a y_pred that broadcasts against y_true
        y_pred = y_pred.reshape(-1, shape[-1])[:1].reshape((1,) * (len(shape) - 1) + shape[-1:])
    return y_true, y_pred


def kl_tol(dtype, classes, summed=1):
    return tolerance([dtype], classes, 0.0, summed)


@given(kl_case())
def test_kl_divergence_matches_keras(keras, case):
    y_true, y_pred = case
    expected = as_numpy(keras.losses.kl_divergence(y_true, y_pred))
    actual = xk.kl_divergence(y_true, y_pred)
    assert actual.dtype == y_pred.dtype
    close(actual, expected, **kl_tol(y_pred.dtype, y_true.shape[-1]))


@given(
    kl_case(),
    st.sampled_from(KERAS_REDUCTIONS),
    st.sampled_from([None, "per-sample", "scalar"]),
    st.sampled_from([None, "float64"]),
)
def test_kl_divergence_class_matches_keras(keras, case, reduction, weight_kind, dtype):
    y_true, y_pred = case
    y_pred = np.broadcast_to(y_pred, y_true.shape).copy()
    per_sample = y_true.shape[:-1]
    sample_weight = {
        None: None,
        "scalar": 2.5,
        "per-sample": np.linspace(0.0, 2.0, int(np.prod(per_sample))).reshape(per_sample),
    }[weight_kind]
    options = {"reduction": reduction, "dtype": dtype}
    expected = as_numpy(keras.losses.KLDivergence(**options)(y_true, y_pred, sample_weight))
    actual = xk.KLDivergence(**options)(y_true, y_pred, sample_weight)
    assert actual.dtype == np.dtype(dtype or "float32")
    classes = y_true.shape[-1]
    n = int(np.prod(per_sample)) or 1
    # the oracle's own precision bounds the comparison: Keras (torch backend) may return,
    # and compute, float32 for float32 inputs even with dtype="float64"
    close(actual, expected, **kl_tol(np.asarray(expected).dtype, classes * 3, n))


def test_kl_divergence_config_is_keras(keras):
    assert xk.KLDivergence().get_config() == keras.losses.KLDivergence().get_config()
    options = {"reduction": "sum", "name": "kl"}
    assert (
        xk.KLDivergence(**options).get_config() == keras.losses.KLDivergence(**options).get_config()
    )


def test_kl_divergence_refuses_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="do not broadcast"):
        xk.kl_divergence(np.ones((2, 3)), np.ones((2, 4)))


def test_variables_are_0d_copies(torch):
    """total, count and variables are 0-d arrays of the state's library, and copies:
    writing into one (torch's in-place ops) leaves the metric's result alone."""
    from xent.keras import metrics as xm

    for convert in (np.asarray, torch.tensor):
        m = xm.BinaryCrossentropy()
        m.update_state(convert(np.array([[1.0, 0.0]])), convert(np.array([[0.7, 0.2]])))
        before = float(m.result())
        total, count = m.variables
        assert type(total) is type(count) is type(convert(np.zeros(1)))
        assert total.shape == count.shape == ()
        if convert is torch.tensor:
            total.zero_()
            m.count.zero_()
        else:
            total[...] = 0
        assert float(m.result()) == before
        assert float(m.count) == 1.0


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_kl_divergence_gradients_match_keras(keras, torch, reduction):
    """torch autograd through xent's KLDivergence equals autograd through Keras' (its
    torch backend), for y_pred and y_true, the clipped entries (gradient 0) included."""
    rng = np.random.default_rng(3)
    y_true = rng.dirichlet(np.ones(4), size=5)
    y_pred = rng.dirichlet(np.ones(4), size=5)
    y_true[0, 0], y_pred[1, 1] = 0.0, 1e-9  # below the clip at 1e-7
    weight = rng.uniform(0.5, 2.0, size=5)

    def grads(loss):
        t = torch.tensor(y_true, requires_grad=True)
        p = torch.tensor(y_pred, requires_grad=True)
        value = loss(t, p, sample_weight=torch.tensor(weight))
        return [g.numpy() for g in torch.autograd.grad(value, (t, p))]

    options = {"reduction": reduction, "dtype": "float64"}
    ours = grads(xk.KLDivergence(**options))
    theirs = grads(keras.losses.KLDivergence(**options))
    # at a clipped y_pred, d/dt = w (1 + log(t / q)) with Keras' q = 1e-7 rounded to
    # float32 on its torch backend (1e-8 relative); and Keras' torch backend divides a
    # float64 sum by the batch size in float32 (README: xent keeps float64)
    rtol = 1e-8 if reduction == "sum" else 2 * float(np.finfo(np.float32).eps)
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-12)
