"""Shared test setup: the oracles (PyTorch, Keras on its torch backend) and tolerances."""

from __future__ import annotations

import os

# Keras 3 must be told its backend before it is first imported; its numpy
# backend clips logits and is not the reference.
os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def tol(dtype, ulps: float = 64) -> dict[str, float]:
    """Tolerances tied to the dtype: `ulps` machine epsilons, relative and absolute."""
    eps = float(np.finfo(dtype).eps)
    return {"rtol": ulps * eps, "atol": ulps * eps}


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the oracle of the PyTorch convention (skips only where it is not installed:
    CI runs one job without the optional frameworks)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    return torch


@pytest.fixture(scope="session")
def keras():
    pytest.importorskip("torch")
    keras = pytest.importorskip("keras")
    assert keras.backend.backend() == "torch", "the Keras oracle runs on its torch backend"
    return keras
