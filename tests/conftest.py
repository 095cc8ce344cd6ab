"""Shared test setup: the hypothesis profiles and the oracles (PyTorch, Keras on its torch
backend) as fixtures. Shared functions (tolerances, central differences...) are in
helpers.py; the kernel tests' own in kernel_helpers.py."""

from __future__ import annotations

import os

# Keras 3 must be told its backend before it is first imported; its numpy
# backend clips logits and is not the reference.
os.environ.setdefault("KERAS_BACKEND", "torch")

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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


@pytest.fixture
def restore_threads():
    """Restore xent's thread count after the test."""
    import xent

    before = xent.get_num_threads()
    yield
    xent.set_num_threads(before)
