"""The README's Python examples run as written (the framework one only where its frameworks
are installed)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    namespace: dict = {}
    for previous in BLOCKS[:index]:  # later blocks use the names of earlier ones
        needs = re.findall(r"^import (\w+)", previous, re.M)
        if all(importlib.util.find_spec(m) for m in needs):
            exec(previous, namespace)
    block = BLOCKS[index]
    for module in re.findall(r"^import ([\w, .]+)", block, re.M):
        for name in module.split(","):
            pytest.importorskip(name.strip().split(" ")[0])
    exec(block, namespace)
