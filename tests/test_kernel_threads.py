"""Threads and switches of the compiled kernels: bitwise determinism for any
thread count, concurrent calls, xent.set_num_threads / XENT_NUM_THREADS, and the
reference path under XENT_DISABLE_KERNELS=1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import array_api_compat.numpy as xp
import numpy as np
import pytest

import kernel_helpers as kh
import xent
from kernel_helpers import extension
from xent import _binary
from xent._kernels import _ops

isa = kh.isa_fixture

N = 3 * 8192 * 7 + 13  # many blocks, and a ragged end


def data(dtype, seed=0, n=N):
    rng = np.random.default_rng(seed)
    x = rng.normal(scale=5, size=n).astype(dtype)
    y = rng.uniform(size=n).astype(dtype)
    y[rng.uniform(size=n) < 0.1] = -1.0
    w = rng.uniform(0.5, 2, size=97).astype(dtype)
    return x, y, w


def run_all(dtype, threads, seed=0):
    """Every fused pass with reductions; returned as raw bytes for bitwise comparison."""
    xent.set_num_threads(threads)
    x, y, w = (a.reshape(-1, 97) for a in data(dtype, seed, N - N % 97))
    w = w.reshape(-1)
    p = 1 / (1 + np.exp(-x.astype(np.float64)))
    p = p.astype(dtype)
    out = []
    for reduction in ("sum", "mean"):
        options = {"weight": w, "pos_weight": w, "ignore_index": -1.0, "label_smoothing": 0.1}
        out += _ops.binary("bce_with_logits", x, y, reduction=reduction, need_grad=True, **options)
        out += _ops.binary("bce_probs", p, np.abs(y), reduction=reduction, need_grad=True)
        out += _ops.binary("sigmoid_focal", x, np.abs(y), reduction=reduction, need_grad=True)
    x = x.reshape(-1)
    logits = x[: 60 * 301].reshape(60, 301)
    target = np.random.default_rng(seed).integers(-1, 301, size=60)
    out += _ops.softmax_cross_entropy(logits, target, ignore_index=-1, need_grad=True)
    spatial = x[: 4 * 7 * 333].reshape(4, 7, 333)
    target = np.random.default_rng(seed).integers(0, 7, size=(4, 333))
    out += _ops.softmax_cross_entropy(spatial, target, label_smoothing=0.2, need_grad=True)
    return [np.asarray(a).tobytes() for a in out]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bitwise_identical_for_any_thread_count(isa, dtype, restore_threads):
    one = run_all(dtype, 1)
    for threads in (2, 3, 8):
        assert run_all(dtype, threads) == one, f"{threads} threads differ from 1"
    assert run_all(dtype, 2) == one, "a second run differs"


def at_offset(a, offset):
    """A copy of `a` starting `offset` bytes past a 64-byte boundary."""
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = raw[start : start + a.nbytes].view(a.dtype).reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("reduction", ["sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bitwise_identical_for_any_input_address(isa, dtype, reduction):
    """The binary kernels read unaligned inputs through aligned loads put back in
    lane order (and place outputs by the input's address): the results are the same
    bytes wherever the arrays start. Also the output arrays hold exactly the result."""
    extension()
    x, y, _ = data(dtype)
    y = np.abs(y)
    want = None
    for offset in range(0, 64, np.dtype(dtype).itemsize):
        xs, ys = at_offset(x, offset), at_offset(y, (3 * offset) % 64)
        got = []
        for op in ("bce_with_logits", "sigmoid_focal"):
            got += _ops.binary(op, xs, ys, reduction=reduction, need_grad=True)
        got = [np.asarray(a).tobytes() for a in got]
        if want is None:
            want = got
        assert got == want, f"inputs at byte offset {offset} give other results"


def test_concurrent_calls_from_python_threads(restore_threads):
    """Several Python threads calling at once (the GIL is released, the pool is
    shared): each gets the same bytes as when run alone."""
    extension()
    xent.set_num_threads(2)
    seeds = list(range(6))
    alone = {seed: run_all(np.float32, 2, seed) for seed in seeds}
    with ThreadPoolExecutor(max_workers=4) as pool:
        together = dict(
            zip(seeds, pool.map(lambda s: run_all(np.float32, 2, s), seeds * 1), strict=True)
        )
    assert together == alone


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match=r"integer in \[1, 2147483647\]"):
        xent.set_num_threads(0)
    with pytest.raises(TypeError, match="integer"):
        xent.set_num_threads(1.5)
    with pytest.raises(ValueError, match=r"integer in \[1, 2147483647\]"):
        xent.set_num_threads(True)


@pytest.mark.parametrize("n", [2**31, 2**40])
def test_set_num_threads_refuses_counts_the_kernels_cannot_take(n, restore_threads):
    """Accepted before, then every kernel call raised OverflowError (a C int)."""
    before = xent.get_num_threads()
    with pytest.raises(ValueError, match=r"integer in \[1, 2147483647\]"):
        xent.set_num_threads(n)
    assert xent.get_num_threads() == before
    xent.set_num_threads(2**31 - 1)  # the largest a C int holds: calls still work
    x = np.linspace(-3, 3, 101)
    assert np.isfinite(xent.binary_cross_entropy_with_logits(x, np.zeros_like(x)))


def test_set_num_threads_roundtrip(restore_threads):
    xent.set_num_threads(np.int64(3))
    assert xent.get_num_threads() == 3
    assert isinstance(xent.get_num_threads(), int)


def _python(code: str, **env: str) -> str:
    """Run code in a fresh interpreter with extra environment; its stdout."""
    full = {k: v for k, v in os.environ.items() if not k.startswith("XENT_")}
    full.update(env)
    result = subprocess.run(
        [sys.executable, "-c", code], env=full, capture_output=True, text=True, check=True
    )
    return result.stdout


PROBE = """
import json, sys
import numpy as np, xent
from xent import _binary, _kernels
import array_api_compat.numpy as xp
x = np.linspace(-5, 5, 1001, dtype=np.float32); y = (x > 0.3).astype(np.float32)
got = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(x, y)
ref = _binary.binary_cross_entropy_with_logits.reference(xp, x, y, reduction="mean", need_grad=True)
print(json.dumps({
    "loaded": "xent._kernels._xentc" in sys.modules,
    "available": _kernels.available(),
    "threads": xent.get_num_threads(),
    "isa": _kernels.isa(),
    "same_as_reference": bool(got[0] == ref[0] and np.array_equal(got[1], ref[1])),
}))
"""


def test_disabled_kernels_run_the_reference_in_a_fresh_process():
    out = json.loads(_python(PROBE, XENT_DISABLE_KERNELS="1"))
    assert out == {**out, "loaded": False, "available": False, "same_as_reference": True}


def test_environment_sets_threads_and_isa():
    extension()
    out = json.loads(_python(PROBE, XENT_NUM_THREADS="3", XENT_KERNEL_ISA="baseline"))
    assert out["threads"] == 3
    assert out["isa"] == "baseline"
    assert out["available"]


def test_default_is_all_cpus_and_the_best_isa():
    ext = extension()
    out = json.loads(_python(PROBE))
    assert out["threads"] == len(os.sched_getaffinity(0))
    assert out["isa"] == ext.supported_isas()[0]


def test_bad_environment_warns_and_falls_back():
    extension()
    code = "import warnings; warnings.simplefilter('error')\n" + PROBE
    with pytest.raises(subprocess.CalledProcessError) as info:
        _python(code, XENT_NUM_THREADS="zero")
    assert "XENT_NUM_THREADS" in info.value.stderr
    out = json.loads(_python(PROBE, XENT_NUM_THREADS="zero"))
    assert out["threads"] == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("name", "value"), [("XENT_NUM_THREADS", str(2**31)), ("XENT_BUFFER_CACHE_MB", str(2**43))]
)
def test_out_of_range_environment_warns_and_falls_back(name, value):
    """XENT_NUM_THREADS >= 2**31 made every kernel call raise OverflowError, and
    XENT_BUFFER_CACHE_MB >= 2**43 made `import xent` fail: now a warning naming the
    variable, and the default."""
    extension()
    code = "import warnings; warnings.simplefilter('error')\n" + PROBE
    with pytest.raises(subprocess.CalledProcessError) as info:
        _python(code, **{name: value})
    assert name in info.value.stderr
    assert "OverflowError" not in info.value.stderr
    out = json.loads(_python(PROBE, **{name: value}))
    assert out["threads"] == len(os.sched_getaffinity(0))
    assert out["available"]


def test_unknown_isa_is_rejected():
    ext = extension()
    with pytest.raises(ValueError, match="not available"):
        ext.set_isa("sse9")


def test_fork_after_threads_started():
    """A child forked after the pool started must not wait for workers it lacks."""
    extension()
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = """
import os, numpy as np, xent
from xent._kernels import _ops
xent.set_num_threads(2)
x = np.linspace(-3, 3, 1 << 18, dtype=np.float32); y = np.zeros_like(x)
parent = _ops.binary("bce_with_logits", x, y, reduction="sum")[0]
pid = os.fork()
if pid == 0:
    child = _ops.binary("bce_with_logits", x, y, reduction="sum")[0]
    os._exit(0 if child == parent else 3)
_, status = os.waitpid(pid, 0)
print(os.waitstatus_to_exitcode(status))
"""
    assert _python(code).strip() == "0"


def test_reference_is_kept_when_kernels_disabled_in_process(monkeypatch):
    monkeypatch.setenv("XENT_DISABLE_KERNELS", "1")
    x, y, _ = data(np.float32, n=1000)
    y = np.abs(y)
    got = _binary.binary_cross_entropy_with_logits(xp, x, y, reduction="sum")
    ref = _binary.binary_cross_entropy_with_logits.reference(xp, x, y, reduction="sum")
    assert got[0] == ref[0]


def test_recycled_output_memory_is_fully_overwritten():
    """Large outputs reuse cached blocks: poison one and check no element survives."""
    ext = extension()
    n = 3 * (1 << 18) + 5  # > 1 MB of float32
    size = n * 4 + _ops.PAGE  # an output's block: its bytes and room to place it
    poisoned = np.frombuffer(ext.empty(size), np.float32)
    poisoned[:] = np.nan
    start = poisoned.ctypes.data
    del poisoned  # back to the cache
    x, y, _ = data(np.float32, n=n)
    y = np.abs(y)
    loss, grad = _ops.binary("bce_with_logits", x, y, reduction="none", need_grad=True)
    inside = [start <= a.ctypes.data < start + size for a in (loss, grad)]
    assert any(inside), "the cached block was not reused"
    assert not np.isnan(loss).any() and not np.isnan(grad).any()
    logits = np.frombuffer(ext.empty(size), np.float32)
    logits[:] = np.nan
    start = logits.ctypes.data
    del logits
    x = x[: (n // 1000) * 1000].reshape(-1, 10, 100)
    t = np.random.default_rng(0).integers(-1, 10, size=(x.shape[0], 100))
    _, grad = _ops.softmax_cross_entropy(x, t, ignore_index=-1, need_grad=True)
    assert start <= grad.ctypes.data < start + size, "the cached block was not reused"
    assert not np.isnan(grad).any()


CACHE_PROBE = """
import numpy as np; from xent._kernels import _ops, _state
x = np.zeros(1 << 20, np.float32)
g = _ops.binary('bce_with_logits', x, x, need_grad=True)[1]
del g
print(_state.extension().cache_bytes())
"""


@pytest.mark.parametrize(("setting", "kept"), [("0", 0), ("", (4 << 20) + _ops.PAGE), ("3", 0)])
def test_output_cache_limit(setting, kept):
    """XENT_BUFFER_CACHE_MB: 0 keeps nothing; the default keeps the 4 MB gradient's block
    (and the page it is placed in); a block larger than the limit is freed."""
    extension()
    assert int(_python(CACHE_PROBE, XENT_BUFFER_CACHE_MB=setting)) == kept


CACHE_TURNS_PROBE = """
import numpy as np; from xent._kernels import _ops, _state
ext = _state.extension()
small, other = ext.empty(2 << 20), ext.empty(2 << 20)
del small, other  # two blocks of a size no longer used fill the cache
a = ext.empty(8 << 20)  # the current size: none fits, a fresh block
del a
a, b = ext.empty(8 << 20), ext.empty(8 << 20)  # two arrays of it alive at once
address = {np.frombuffer(a, np.uint8).ctypes.data, np.frombuffer(b, np.uint8).ctypes.data}
del a, b  # both back: the old small blocks make room, not each other
a, b = ext.empty(8 << 20), ext.empty(8 << 20)
again = {np.frombuffer(a, np.uint8).ctypes.data, np.frombuffer(b, np.uint8).ctypes.data}
print(ext.cache_bytes(), int(again == address))
"""


def test_output_cache_evicts_the_block_returned_longest_ago():
    """With the slots full of blocks of an old size, two arrays of the current size
    alive at once (a gradient kept by autograd, the next call's) both come back
    from the cache: dropping slot 0 instead evicted one of them every time, so every
    call faulted in a fresh block (a third of BCE's time at 2^24 in a benchmark
    sweep)."""
    extension()
    held, reused = _python(CACHE_TURNS_PROBE).split()
    assert int(held) == 0 and reused == "1"
