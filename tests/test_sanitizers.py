"""The kernel tests against a build with AddressSanitizer and UBSan (tools/asan_check.py).

About a minute and a half on 2 cores (most of it compiling), so it runs when
XENT_SANITIZE=1 (the CI kernel job sets it); without that it is skipped, saying so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(
    os.environ.get("XENT_SANITIZE") != "1",
    reason="set XENT_SANITIZE=1 to run the kernel tests on a -fsanitize=address,undefined build",
)
def test_kernel_tests_pass_under_asan_and_ubsan():
    cc = os.environ.get("CC", "gcc")
    if shutil.which(cc) is None:
        pytest.fail(f"XENT_SANITIZE=1 needs a C compiler ({cc}) with libasan")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "asan_check.py")],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    report = result.stdout + result.stderr
    assert "ERROR: AddressSanitizer" not in report, report[-5000:]
    assert "runtime error:" not in report, report[-5000:]
    assert result.returncode == 0, report[-5000:]
