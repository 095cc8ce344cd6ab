"""scikit-learn's log_loss (xent.metrics.log_loss) against sklearn.metrics.log_loss: values
over labels, shapes, dtypes, weights and normalize (hypothesis), every error and warning,
and torch/JAX probabilities against NumPy's."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from helpers import eps
from xent.metrics import log_loss

sklearn_metrics = pytest.importorskip("sklearn.metrics")


def outcome(fn, *args, **kwargs):
    """(value or None, (exception type, message) or None, [(category, message)])."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value, error = fn(*args, **kwargs), None
        except Exception as e:
            value, error = None, e
    seen = [(w.category, str(w.message)) for w in caught if w.category is not RuntimeWarning]
    return value, error, seen


def assert_same(args, kwargs, dtype=np.float64, terms=1.0):
    expected, expected_error, expected_warnings = outcome(sklearn_metrics.log_loss, *args, **kwargs)
    actual, actual_error, actual_warnings = outcome(log_loss, *args, **kwargs)
    assert actual_warnings == expected_warnings
    if expected_error is not None:
        assert actual_error is not None, f"expected {expected_error!r}, got {actual!r}"
        assert isinstance(actual_error, ValueError | ZeroDivisionError)
        assert isinstance(expected_error, type(actual_error)), (expected_error, actual_error)
        assert re.search(re.escape(str(expected_error)), str(actual_error)), (
            expected_error,
            actual_error,
        )
        return
    assert actual_error is None, actual_error
    assert isinstance(actual, float)
    e = 64 * eps(dtype)
    np.testing.assert_allclose(actual, expected, rtol=e, atol=e * terms)


# --------------------------------------------------------------------------- values


@st.composite
def case(draw):
    n = draw(st.integers(1, 6))
    c = draw(st.integers(2, 4))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    raw = draw(hnp.arrays(np.float64, (n, c), elements=st.floats(0, 1)))
    raw = raw + 1e-3
    proba = (raw / raw.sum(axis=1, keepdims=True)).astype(dtype)
    if draw(st.booleans()):  # extreme probabilities: the clipping at the dtype's eps
        proba[0] = 0
        proba[0, 0] = 1
    form = draw(st.sampled_from(["index", "strings", "labels", "binary-1d", "binary-col"]))
    kwargs = {}
    names = np.array(["ant", "bee", "cat", "dog"])
    if form.startswith("binary"):
        p = proba[:, 0] / proba[:, :2].sum(axis=1) if c > 2 else proba[:, 1]
        p = p.astype(dtype)
        proba = p if form == "binary-1d" else p[:, None]
        y_true = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 1)))
        if np.unique(y_true).size < 2:
            kwargs["labels"] = [0, 1]
    else:
        y_true = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
        if form == "strings":
            y_true = names[y_true]
        if form == "labels" or np.unique(y_true).size < c:
            kwargs["labels"] = list(names[:c]) if form == "strings" else list(range(c))
    if draw(st.booleans()):
        kwargs["sample_weight"] = draw(hnp.arrays(np.float64, (n,), elements=st.floats(0.5, 3)))
    kwargs["normalize"] = draw(st.booleans())
    return y_true, proba, kwargs, dtype


@given(case())
def test_log_loss_matches_sklearn(case):
    y_true, proba, kwargs, dtype = case
    terms = 40.0 * len(y_true) * 3  # -log eps per sample, summed, times the weights
    assert_same((y_true, proba), kwargs, dtype, terms)


def test_docstring_example_and_multilabel_and_dtypes():
    assert_same(
        (["spam", "ham", "ham", "spam"], [[0.1, 0.9], [0.9, 0.1], [0.8, 0.2], [0.35, 0.65]]), {}
    )
    assert_same((np.array([[0, 1, 1], [1, 1, 0]]), [[0.2, 0.3, 0.5], [0.5, 0.4, 0.1]]), {})
    assert_same((np.array([[0, 1], [0, 1]]), [[0.5, 0.5], [0.2, 0.8]]), {})
    assert_same((np.array([[0], [1]]), [[0.2, 0.8], [0.5, 0.5]]), {})
    assert_same(([True, False], [[0.5, 0.5], [0.2, 0.8]]), {})
    assert_same(([1.0, 0.0], [[0.5, 0.5], [0.2, 0.8]]), {})
    assert_same(([0, 1], [[0, 1], [1, 0]]), {})  # integers: float64, clipped at its eps
    assert_same(([0, 1], np.array([[0, 1], [1, 0]], bool)), {})
    assert_same(([0, 1], np.array([[0, 1], [1, 0]], np.float32)), {}, np.float32, 40)
    assert_same(([0, 1], np.array([[0, 1], [1, 0]], np.float16)), {}, np.float16, 40)
    assert_same(([0, 1], [[0.2, 0.8], [0.5, 0.5]]), {"sample_weight": [1, 2]})
    assert_same(([0, 1], [[0.2, 0.8], [0.5, 0.5]]), {"sample_weight": np.array([-1.0, 2])})
    w = {"sample_weight": np.array([1.0, -1]), "normalize": False}
    assert_same(([0, 1], [[0.5, 0.5], [0.5, 0.5]]), w)


# --------------------------------------------------------------------------- errors, warnings

P2 = [[0.5, 0.5], [0.5, 0.5]]
ERROR_CASES = {
    "nan": (([0, 1], [[0.5, 0.5], [np.nan, 0.5]]), {}),
    "inf": (([0, 1], [[0.5, 0.5], [np.inf, 0.5]]), {}),
    "dim 3": (([0, 1], np.full((2, 2, 1), 0.5)), {}),
    "no samples": (([], np.zeros((0, 2))), {}),
    "no classes": (([0, 1], np.zeros((2, 0))), {}),
    "above 1": (([0, 1], [[0.5, 1.5], [0.5, 0.5]]), {}),
    "below 0": (([0, 1], [[0.5, -0.5], [0.5, 0.5]]), {}),
    "lengths": (([0, 1, 1], P2), {}),
    "2-D weights": (([0, 1], P2), {"sample_weight": np.ones((2, 1))}),
    "weight length": (([0, 1], P2), {"sample_weight": np.ones(3)}),
    "scalar weight": (([0, 1], P2), {"sample_weight": 2.0}),
    "zero weights": (([0, 1], P2), {"sample_weight": np.zeros(2)}),
    "cancelling weights": (([0, 1], P2), {"sample_weight": np.array([1.0, -1])}),
    "nan weight": (([0, 1], P2), {"sample_weight": np.array([1, np.nan])}),
    "inf weight": (([0, 1], P2), {"sample_weight": np.array([1, np.inf])}),
    "one label": (([1, 1], P2), {}),
    "one label in labels": (([1, 1], P2), {"labels": [1]}),
    "classes": (([0, 1, 2], [[0.5, 0.5]] * 3), {}),
    "classes 1-D": (([0, 1, 2], [0.2, 0.8, 0.6]), {}),
    "labels classes": (([0, 1], P2), {"labels": [0, 1, 2]}),
    "string labels classes": ((["b", "a"], P2), {"labels": ["a", "b", "c"]}),
    "not in labels": (([0, 3], P2), {"labels": [0, 1]}),
    "not in labels array": ((np.array([0, 3]), P2), {"labels": np.array([0, 1])}),
    "unordered labels": (([0, 1], [[0.2, 0.8], [0.5, 0.5]]), {"labels": [1, 0]}),
    "rows not summing to 1": (([0, 1], [[0.2, 0.7], [0.5, 0.5]]), {}),
    "continuous": (([0.5, 1.5], P2), {}),
    "multioutput": ((np.array([[0, 2], [1, 1]]), P2), {}),
    "multilabel with labels": (
        (np.array([[0, 1, 1], [1, 1, 0]]), [[0.2, 0.3, 0.5]] * 2),
        {"labels": [0, 1, 2]},
    ),
    "multilabel classes": ((np.array([[0, 1, 1], [0, 1, 0]]), P2), {}),
    "mixed labels": ((["a", 1], P2), {}),
    "y_pred": (([0, 1],), {"y_pred": [[0.2, 0.8], [0.5, 0.5]]}),
    "y_pred and y_proba": (([0, 1], P2), {"y_pred": P2}),
    "no y_proba": (([0, 1],), {}),
    "normalize": (([0, 1], P2), {"normalize": 1}),
    "scalar y_true": ((1, [[0.2, 0.8]]), {}),
    "scalar y_proba": (([0], 0.5), {}),
}


@pytest.mark.parametrize("name", list(ERROR_CASES))
def test_errors_and_warnings_are_sklearn(name):
    args, kwargs = ERROR_CASES[name]
    assert_same(args, kwargs)


# --------------------------------------------------------------------------- other arrays


@pytest.mark.parametrize("library", ["torch", "jax"])
def test_torch_and_jax_probabilities_give_numpy_values(library):
    lib = pytest.importorskip(library)
    convert = lib.from_numpy if library == "torch" else lib.numpy.asarray
    rng = np.random.default_rng(0)
    raw = rng.random((7, 3)) + 0.01
    proba = raw / raw.sum(axis=1, keepdims=True)
    y_true = np.array(["a", "b", "c", "a", "b", "c", "c"])
    w = rng.random(7)
    for kwargs in ({}, {"sample_weight": w}, {"sample_weight": convert(w), "normalize": False}):
        expected = sklearn_metrics.log_loss(y_true, proba, **kwargs)
        actual = log_loss(y_true, convert(proba), **kwargs)
        dtype = np.float64 if library == "torch" else np.asarray(convert(proba)).dtype
        np.testing.assert_allclose(actual, expected, rtol=64 * eps(dtype))
    binary = log_loss(convert(np.array([0, 1, 1])), convert(np.array([0.2, 0.8, 0.6])))
    np.testing.assert_allclose(binary, sklearn_metrics.log_loss([0, 1, 1], [0.2, 0.8, 0.6]))


@pytest.mark.parametrize("weighted", [False, True])
def test_xent_eval_binary_loss_equals_log_loss(tmp_path, capsys, weighted):
    """`xent eval`'s mean loss (PyTorch's binary cross-entropy, weighted as
    scikit-learn's sum(w l) / sum(w)) equals log_loss where the two are defined alike:
    probabilities away from 0 and 1, where neither scikit-learn's clip to eps nor
    PyTorch's clamp of the log at -100 acts; both checked against sklearn's own."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    import json

    from xent import cli

    rng = np.random.default_rng(7)
    p = rng.uniform(1e-6, 1 - 1e-6, size=5000)
    y = (rng.random(5000) < p).astype(np.int8)
    w = rng.uniform(0, 3, size=5000)
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"p": p, "y": y, "w": w}), path)
    argv = ["eval", str(path), "--input", "p", "--target", "y", "--format", "json"]
    assert cli.main(argv + (["--weight-col", "w"] if weighted else [])) == 0
    report = json.loads(capsys.readouterr().out)
    weights = w if weighted else None
    ours = log_loss(y, p, sample_weight=weights)
    assert report["loss"] == pytest.approx(ours, rel=1e-12)
    assert ours == pytest.approx(sklearn_metrics.log_loss(y, p, sample_weight=weights), rel=1e-12)
