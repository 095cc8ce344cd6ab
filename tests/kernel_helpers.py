"""Shared by the kernel tests: the extension (or a skip) and instruction sets.

The kernel tests skip when the extension is not built, unless XENT_REQUIRE_KERNELS=1
(set it in CI jobs that build it, so a failed build cannot pass as skipped tests).
"""

from __future__ import annotations

import os

import pytest

from xent._kernels import _state


def extension():
    ext = _state.extension()
    if ext is None:
        if os.environ.get("XENT_REQUIRE_KERNELS") == "1":
            pytest.fail("XENT_REQUIRE_KERNELS=1 but the compiled kernels are not available")
        if _state._disabled():
            disabled = os.environ.get("XENT_DISABLE_KERNELS")
            pytest.skip(f"compiled kernels disabled (XENT_DISABLE_KERNELS={disabled})")
        pytest.skip("compiled kernels not built (xent._kernels._xentc cannot be imported)")
    return ext


def supported_isas() -> list[str]:
    ext = _state.extension()
    return ["baseline"] if ext is None else list(ext.supported_isas())


@pytest.fixture(params=supported_isas(), name="isa")
def isa_fixture(request):
    """Run the test on each instruction set this CPU offers, then restore the default."""
    ext = extension()
    ext.set_isa(request.param)
    yield request.param
    ext.set_isa(os.environ.get("XENT_KERNEL_ISA") or "best")
