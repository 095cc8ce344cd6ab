"""Process-wide kernel state: the extension (if built), threads, the off switch.

Environment:
  XENT_DISABLE_KERNELS=1  never use the compiled kernels (read at import and at
                          each call; set at import, the extension is not even loaded)
  XENT_NUM_THREADS=n      threads per kernel call (default: the CPUs this process
                          may run on); xent.set_num_threads(n) changes it later
  XENT_KERNEL_ISA=name    force an instruction set: avx512, avx2 or baseline
                          (default: the best this CPU offers)
  XENT_BUFFER_CACHE_MB=m  megabytes of large output arrays (>= 1 MB) kept for reuse
                          after the arrays are gone, at most two (default 1024; 0: none)
"""

from __future__ import annotations

import operator
import os
import warnings
from types import ModuleType

_FALSY = ("", "0", "false", "no", "off")


def _disabled() -> bool:
    return os.environ.get("XENT_DISABLE_KERNELS", "").strip().lower() not in _FALSY


def _load() -> ModuleType | None:
    if _disabled():
        return None
    try:
        from . import _xentc
    except ImportError:  # built without a compiler: the reference path runs
        return None
    isa = os.environ.get("XENT_KERNEL_ISA", "").strip()
    if isa:
        try:
            _xentc.set_isa(isa)
        except ValueError as error:
            warnings.warn(f"XENT_KERNEL_ISA ignored: {error}", UserWarning, stacklevel=2)
    cache = os.environ.get("XENT_BUFFER_CACHE_MB", "").strip()
    if cache:
        try:
            _xentc.set_cache_limit(max(0, int(cache)) << 20)
        except ValueError:
            warnings.warn(
                f"XENT_BUFFER_CACHE_MB={cache!r} is not an integer; keeping the default "
                "(set it to e.g. 0 to keep no output memory)",
                UserWarning,
                stacklevel=2,
            )
    return _xentc


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _threads_from_env() -> int:
    value = os.environ.get("XENT_NUM_THREADS", "").strip()
    if not value:
        return _cpus()
    try:
        threads = int(value)
        if threads < 1:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"XENT_NUM_THREADS={value!r} is not a positive integer; using {_cpus()} threads "
            "(set it to e.g. 2, or unset it)",
            UserWarning,
            stacklevel=2,
        )
        return _cpus()
    return threads


_EXTENSION = _load()
_num_threads = _threads_from_env()


def extension() -> ModuleType | None:
    """The compiled module, or None when it is not built or kernels are disabled."""
    return None if _EXTENSION is None or _disabled() else _EXTENSION


def set_num_threads(n: int) -> None:
    """Use `n` threads (>= 1) in each compiled-kernel call.

    Results do not depend on it: the work is split into the same blocks and their
    partial sums combined in the same order for any number of threads. The
    array-API reference path is not affected.

    >>> import xent
    >>> before = xent.get_num_threads()
    >>> xent.set_num_threads(1)
    >>> xent.get_num_threads()
    1
    >>> xent.set_num_threads(before)
    """
    global _num_threads
    try:
        threads = operator.index(n)
    except TypeError:
        raise TypeError(
            f"set_num_threads needs an integer, got {type(n).__name__}; pass e.g. 2"
        ) from None
    if isinstance(n, bool) or threads < 1:
        raise ValueError(f"set_num_threads needs a positive integer, got {n!r}; pass e.g. 2")
    _num_threads = threads


def get_num_threads() -> int:
    """Threads each compiled-kernel call uses (XENT_NUM_THREADS, else all CPUs available)."""
    return _num_threads
