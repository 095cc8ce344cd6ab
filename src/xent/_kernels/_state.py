"""Process-wide kernel state: the extension (if built), threads, the off switch.

Environment:
  XENT_DISABLE_KERNELS=1  never use the compiled kernels (read at import and at
                          each call; set at import, the extension is not even loaded)
  XENT_NUM_THREADS=n      threads per kernel call, 1 <= n <= 2**31 - 1 (default: the
                          CPUs this process may run on); xent.set_num_threads(n)
                          changes it later
  XENT_KERNEL_ISA=name    force an instruction set: avx512bf16, avx512, avx2 or baseline
                          (default: the best this CPU offers)
  XENT_BUFFER_CACHE_MB=m  megabytes of large output arrays (>= 1 MB) kept for reuse
                          after the arrays are gone, at most two (default 1024; 0: none;
                          at most 2**43 - 1)

A value that is not an integer in its range warns and the default is used.
"""

from __future__ import annotations

import operator
import os
import warnings
from types import ModuleType

_FALSY = ("", "0", "false", "no", "off")

# the extension takes the thread count as a C int and the cache size in bytes as a
# Py_ssize_t: larger values would make every kernel call (or the import) overflow
MAX_THREADS = 2**31 - 1
MAX_CACHE_MB = 2**43 - 1  # (MAX_CACHE_MB + 1) << 20 == 2**63


_SWITCH = "XENT_DISABLE_KERNELS"
_SWITCH_KEY = os.environ.encodekey(_SWITCH)  # the key of os.environ's own dict


def _disabled() -> bool:
    """Whether XENT_DISABLE_KERNELS, as os.environ holds it now, turns the kernels off.

    Read at every kernel call, so that setting or deleting it in os.environ (tests'
    monkeypatch.setenv too) takes effect at once. It looks in the dict behind os.environ
    (0.05 us) rather than calling os.environ.get (about 1 us when the variable is unset:
    a KeyError raised and caught), and through .get where os.environ has no such dict
    (replaced by another mapping)."""
    environ = os.environ
    data = getattr(environ, "_data", None)
    if isinstance(data, dict):
        raw = data.get(_SWITCH_KEY)
        if raw is None:
            return False
        value = environ.decodevalue(raw)
    else:
        value = environ.get(_SWITCH, "")
    return value.strip().lower() not in _FALSY


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
            megabytes = int(cache)
            if megabytes > MAX_CACHE_MB:
                raise ValueError
            _xentc.set_cache_limit(max(0, megabytes) << 20)
        except ValueError:
            warnings.warn(
                f"XENT_BUFFER_CACHE_MB={cache!r} is not an integer of at most {MAX_CACHE_MB}; "
                "keeping the default (set it to e.g. 0 to keep no output memory)",
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
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError
    except ValueError:
        warnings.warn(
            f"XENT_NUM_THREADS={value!r} is not an integer in [1, {MAX_THREADS}]; using "
            f"{_cpus()} threads "
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
    """Use `n` threads (1 <= n <= 2**31 - 1) in each compiled-kernel call.

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
    if isinstance(n, bool) or not 1 <= threads <= MAX_THREADS:
        raise ValueError(
            f"set_num_threads needs an integer in [1, {MAX_THREADS}], got {n!r}; pass e.g. 2"
        )
    _num_threads = threads


def get_num_threads() -> int:
    """Threads each compiled-kernel call uses (XENT_NUM_THREADS, else all CPUs available)."""
    return _num_threads
