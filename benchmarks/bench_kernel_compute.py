"""Benchmark: what one thread of the binary kernel computes when memory is not the limit.

    python benchmarks/bench_kernel_compute.py [--size 65536] [--rounds 15]

Loss ('mean') and gradient of BCE with logits, float32, on arrays small enough to
stay in the L2 cache, in one thread, through the extension's own entry point (no
Python dispatch: at this size it would be a third of the time). For each
instruction set the CPU has, prints M elem/s (median and best of the rounds). The
gap between this and the two-thread figure of bench_bce_with_logits.py at 2^24
tells whether the kernel is bound by its arithmetic or by memory.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from _harness import machine

from xent._kernels import _ops, _state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1 << 16, help="elements (default 2^16)")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    ext = _state.extension()
    if ext is None:
        raise SystemExit("the compiled kernels are not available (not built, or disabled)")
    n = args.size
    rng = np.random.default_rng(0)
    x = rng.normal(size=n).astype(np.float32)
    y = (rng.uniform(size=n) < 0.5).astype(np.float32)
    grad = _ops._empty(ext, x.shape, x.dtype, x)
    op = ext.BINARY_OPS["bce_with_logits"]
    call_args = (op, x, y, None, 0, None, 0, None, grad, False, 0.0, 0.0, 0.25, 2.0, True, 1)
    reps = max(1, (1 << 24) // n)
    print(f"# BCE with logits, float32, loss ('mean') and gradient, {n} elements, one thread")
    print(f"# {machine()}")
    before = ext.isa()
    try:
        for isa in ext.supported_isas():
            try:
                ext.set_isa(isa)
            except ValueError:
                continue  # the CPU does not have it
            calls = reps if isa != "baseline" else max(1, reps // 4)  # ~4.5x slower
            ext.binary(*call_args)
            per_call = []
            for _ in range(args.rounds):
                t0 = time.perf_counter()
                for _ in range(calls):
                    ext.binary(*call_args)
                per_call.append((time.perf_counter() - t0) / calls)
            print(
                f"{isa:9s} median {n / statistics.median(per_call) / 1e6:7,.0f} M elem/s"
                f"   best {n / min(per_call) / 1e6:7,.0f} M elem/s"
            )
    finally:
        ext.set_isa(before)


if __name__ == "__main__":
    main()
