"""Doctest collection: modules that import an optional framework are skipped where it is absent
(the CI job without optional dependencies); everything else always runs.

XENT_REQUIRE_KERNELS=1 (CI's main run) stops the whole run before collection when the
compiled kernels cannot be imported, so that a failed build of the optional extension
cannot pass as skipped kernel tests; with XENT_DISABLE_KERNELS set too it is a
contradiction, and the run stops saying so.
"""

import importlib.util
import os

import pytest

collect_ignore = [
    path
    for path, module in [("src/xent/nn.py", "torch"), ("src/xent/_kernels/_jax.py", "jax")]
    if importlib.util.find_spec(module) is None
]

# how src/xent/_kernels/_state.py reads XENT_DISABLE_KERNELS (any other value disables)
_FALSY = ("", "0", "false", "no", "off")


def pytest_configure(config):
    if os.environ.get("XENT_REQUIRE_KERNELS", "").strip() != "1":
        return
    disable = os.environ.get("XENT_DISABLE_KERNELS", "")
    if disable.strip().lower() not in _FALSY:
        raise pytest.UsageError(
            f"XENT_REQUIRE_KERNELS=1 and XENT_DISABLE_KERNELS={disable!r} contradict each other: "
            "unset XENT_DISABLE_KERNELS to test the kernels, or unset XENT_REQUIRE_KERNELS "
            "to test the reference path"
        )
    try:
        from xent._kernels import _xentc
    except ImportError as error:
        raise pytest.UsageError(
            "XENT_REQUIRE_KERNELS=1 but the compiled kernels (xent._kernels._xentc) cannot be "
            f"imported: {error}. Build them (pip install -e . with a C compiler, or "
            "python setup.py build_ext --inplace) or unset XENT_REQUIRE_KERNELS."
        ) from None
    from xent._kernels import _state

    if _state.extension() is not _xentc:
        raise pytest.UsageError(
            f"XENT_REQUIRE_KERNELS=1 but xent does not use its compiled kernels ({_xentc.__file__})"
        )
