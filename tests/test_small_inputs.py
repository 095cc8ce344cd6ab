"""The per-call fast paths of small inputs (issue 13, item 5) are taken, and change nothing.

Value checks of NumPy arrays and CPU tensors run on the host through NumPy (a CPU
tensor's zero-copy view), with the ignore mask computed only when a value fails; the
errors are those of the generic (device) path. Speed is shown by
benchmarks/bench_small.py, not here.
"""

from __future__ import annotations

import numpy as np
import pytest

import xent
from xent import _array, _checks

torch = pytest.importorskip("torch")


def _compat(module):
    return _array.namespace(module.zeros(1))


@pytest.mark.parametrize("library", ["numpy", "torch"])
def test_class_index_check_evaluates_the_mask_only_when_a_target_fails(library):
    module = np if library == "numpy" else torch
    xp = _compat(module)
    asked = []

    def valid(m, t):
        asked.append(m)
        return t != -100

    target = module.asarray(np.array([0, 2, 1, 2]))
    assert _checks.check_class_indices(xp, target, 3, valid, -100) is target
    assert asked == []  # every target in range: no mask
    ignored = module.asarray(np.array([0, -100, 1, 2]))
    assert _checks.check_class_indices(xp, ignored, 3, valid, -100) is ignored
    assert asked == [np]  # one out of range: the mask, computed by NumPy on the host


@pytest.mark.parametrize("bad", [[0, 3, -100, 1], [0, -1, -100, 1], [-7, -100, 0, 0]])
def test_host_check_raises_what_the_device_path_raises(bad, monkeypatch):
    """The host path (NumPy views) against the generic one (torch operations, as for
    CUDA tensors, forced here by making host_view decline): the same IndexError."""
    x = torch.zeros(4, 3)
    target = torch.tensor(bad)
    messages = []
    for host in (True, False):
        if not host:
            monkeypatch.setattr(_checks, "host_view", lambda array: None)
        with pytest.raises(IndexError) as raised:
            xent.cross_entropy(x, target)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    first_bad = next(b for b in bad if b != -100 and not 0 <= b < 3)
    assert f"Target {first_bad} " in messages[0]


def test_unit_interval_check_on_host_and_device_agree(monkeypatch):
    p = torch.tensor([0.5, 1.5, 0.2])
    y = torch.tensor([1.0, 0.0, 1.0])
    messages = []
    for host in (True, False):
        if not host:
            monkeypatch.setattr(_checks, "host_view", lambda array: None)
        with pytest.raises(ValueError) as raised:
            xent.binary_cross_entropy(p, y)
        messages.append(str(raised.value))
    assert messages[0] == messages[1]
    assert "found 1.5" in messages[0]


def test_host_view_shares_memory_and_declines_what_numpy_cannot_view():
    t = torch.arange(4)
    view = _array.host_view(t)
    assert isinstance(view, np.ndarray) and np.shares_memory(view, t.numpy())
    assert _array.host_view(torch.zeros(2, dtype=torch.bfloat16)) is None
    assert _array.host_view(torch.zeros(2, requires_grad=True)) is None
    assert _array.host_view(torch.zeros(2, device="meta")) is None
    assert _array.host_view([1, 2]) is None


@pytest.mark.parametrize(
    ("module", "args"),
    [
        ("BCEWithLogitsLoss", (torch.randn(64), (torch.rand(64) < 0.5).float())),
        ("CrossEntropyLoss", (torch.randn(64, 10), torch.randint(0, 10, (64,)))),
    ],
    ids=["bce", "ce"],
)
def test_small_module_calls_agree_with_torch(module, args):
    """The benchmark's cases: loss and gradient as torch's (kernels on or off)."""
    import xent.nn

    x, target = args
    grads = []
    for loss in (getattr(xent.nn, module)(), getattr(torch.nn, module)()):
        xg = x.clone().requires_grad_(True)
        value = loss(xg, target)
        value.backward()
        grads.append((value.detach(), xg.grad))
    (ours, our_grad), (theirs, their_grad) = grads
    torch.testing.assert_close(ours, theirs, rtol=4 * 1.2e-7, atol=0)
    torch.testing.assert_close(our_grad, their_grad, rtol=1e-6, atol=1e-8)
