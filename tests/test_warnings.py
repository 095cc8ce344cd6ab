"""xent's warnings (PyTorch's deprecations and its kl_div 'mean' warning, Keras' and
scikit-learn's) name the user's line, not a line inside xent, however many of xent's
frames (and torch's Module machinery) lie between."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import xent

X = np.log(np.full((2, 3), 1 / 3))
T = np.full((2, 3), 1 / 3)
PROBS = np.array([[0.5, 0.6], [0.5, 0.5]])

CASES = {
    "kl_div mean": lambda: xent.kl_div(X, T),
    "kl_div elementwise_mean": lambda: xent.kl_div(X, T, reduction="elementwise_mean"),
    "kl_div legacy": lambda: xent.kl_div(X, T, reduce=False),
    "bce legacy": lambda: xent.binary_cross_entropy_with_logits(X, T, reduce=False),
    "cross_entropy legacy": lambda: xent.cross_entropy(X, np.array([0, 1]), size_average=False),
    "multilabel legacy": lambda: xent.multilabel_soft_margin_loss(X, T, reduce=False),
    "keras one class": lambda: xent.keras.categorical_crossentropy(
        np.ones((2, 1)), np.ones((2, 1))
    ),
    "log_loss rows": lambda: xent.metrics.log_loss([0, 1], PROBS),
    "log_loss y_pred": lambda: xent.metrics.log_loss([0, 1], y_pred=np.array([0.4, 0.6])),
    "log_loss labels": lambda: xent.metrics.log_loss([0, 1], PROBS[[1, 1]], labels=[1, 0]),
}


def _module_cases(torch):
    import xent.nn

    return {
        "module legacy": lambda: xent.nn.BCEWithLogitsLoss(reduce=False),
        "module kl_div mean": lambda: xent.nn.KLDivLoss()(torch.tensor(X), torch.tensor(T)),
    }


def assert_warns_here(call) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    assert caught, "no warning"
    for w in caught:
        assert w.filename == __file__, (w.filename, w.lineno, str(w.message))


@pytest.mark.parametrize("case", list(CASES))
def test_warning_names_the_callers_line(case):
    assert_warns_here(CASES[case])


@pytest.mark.parametrize("case", ["module legacy", "module kl_div mean"])
def test_module_warning_names_the_callers_line(torch, case):
    assert_warns_here(_module_cases(torch)[case])
