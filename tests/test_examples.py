"""The runnable examples train a real classifier (scikit-learn's breast cancer data, no
download) and must reach a sensible accuracy: a wrong gradient would not."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NEEDS = {"train_numpy": [], "train_torch": ["torch"], "train_jax": ["jax"], "quickstart": []}


@pytest.mark.parametrize("name", list(NEEDS))
def test_example_runs_and_learns(name):
    pytest.importorskip("sklearn")
    for module in NEEDS[name]:
        pytest.importorskip(module)
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=EXAMPLES,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    match = re.search(r"test accuracy ([0-9.]+)", out.stdout)
    if name == "quickstart":
        assert "PyTorch convention" in out.stdout
        return
    assert match, out.stdout
    assert float(match.group(1)) > 0.9, out.stdout
