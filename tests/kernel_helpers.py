"""Shared by the kernel tests: the extension (or a skip), instruction sets, tolerances.

The kernel tests skip when the extension is not built, unless XENT_REQUIRE_KERNELS=1
(set it in CI jobs that build it, so a failed build cannot pass as skipped tests).
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from xent._kernels import _state


def extension():
    ext = _state.extension()
    if ext is None:
        if os.environ.get("XENT_REQUIRE_KERNELS") == "1":
            pytest.fail("XENT_REQUIRE_KERNELS=1 but the compiled kernels are not available")
        pytest.skip("compiled kernels not built or disabled (XENT_DISABLE_KERNELS)")
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


def eps(dtype) -> float:
    return float(np.finfo(dtype).eps)


def assert_close(actual, expected, dtype, ulps: float, scale=None) -> None:
    """|actual - expected| <= ulps * eps(dtype) * (|expected| + scale), elementwise,
    with nan where the other has nan. `scale` bounds the magnitude of the terms the
    value is a difference of (0 when none cancels)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    nan = np.isnan(expected)
    np.testing.assert_array_equal(np.isnan(actual), nan, err_msg="nan positions differ")
    same = (actual == expected) | nan  # infinities included
    bound = np.abs(expected) + (0.0 if scale is None else np.abs(np.asarray(scale, np.float64)))
    with np.errstate(invalid="ignore"):
        error = np.where(same, 0.0, np.abs(actual - expected))
        ok = same | (error <= ulps * eps(dtype) * bound + np.finfo(dtype).smallest_subnormal)
    if not np.all(ok):
        i = np.unravel_index(np.argmax(~ok), ok.shape) if ok.ndim else ()
        raise AssertionError(
            f"{np.count_nonzero(~ok)} of {ok.size} elements differ by more than {ulps} ulp; "
            f"first at {i}: actual {actual[i]!r}, expected {expected[i]!r}"
        )
