"""Benchmark: xent on Dask arrays, the kernels on each chunk against the reference graph.

    python benchmarks/bench_dask.py [--sizes 26] [--chunk-exp 22] [--classes 1024]
        [--ops bce,ce] [--modes forward,forward+backward] [--threads 2] [--rounds 9]

Two losses, float32, mean reduction: binary_cross_entropy_with_logits on 2^k logits
(one axis, chunks of 2^chunk-exp), and cross_entropy with class-index targets on
2^k logits as (2^k / C, C) (chunks of 2^chunk-exp / C rows, every class in a chunk).
Providers: "xent dask", the public function on Dask arrays (from_array of NumPy
arrays in memory), computed (a graph of one kernel call per chunk); "xent dask
reference", the same call and compute with XENT_DISABLE_KERNELS=1 (the array-API
reference on Dask, lazily); "xent numpy", the NumPy kernel on the whole NumPy arrays,
for scale. forward is the loss; forward+backward ``xent.value_and_grad`` and one
``dask.compute`` of loss and gradient (the gradient concatenated into one NumPy
array, for both Dask providers). Dask's scheduler is its default for arrays (the
threaded one) with as many workers as CPUs, stated in the output; each kernel call
may use ``--threads`` threads (a busy pool leaves the caller computing alone).
"""

from __future__ import annotations

import os

import dask
import dask.array as da
import numpy as np
from _harness import parse_args, run

import xent

PROVIDERS = ["xent dask", "xent dask reference", "xent numpy"]


def bce_data(n):
    rng = np.random.default_rng(0)
    x = rng.normal(size=n).astype(np.float32)
    y = (rng.uniform(size=n) < 0.5).astype(np.float32)
    return (x, y), ((1 << ARGS.chunk_exp,), (1 << ARGS.chunk_exp,))


def ce_data(n):
    c = min(ARGS.classes, n)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n // c, c)).astype(np.float32)
    t = rng.integers(0, c, size=n // c)
    rows = max(1, (1 << ARGS.chunk_exp) // c)
    return (x, t), ((rows, c), (rows,))


def factories(loss, data):
    def numpy_kernels(n, mode):
        arrays, _ = data(n)
        fn = loss if mode == "forward" else xent.value_and_grad(loss)
        return lambda: fn(*arrays)

    def dask_kernels(n, mode):
        arrays, chunks = data(n)
        lazy = [da.from_array(a, chunks=c) for a, c in zip(arrays, chunks, strict=True)]
        fn = loss if mode == "forward" else xent.value_and_grad(loss)
        return lambda: dask.compute(fn(*lazy))

    def dask_reference(n, mode):
        call = dask_kernels(n, mode)

        def disabled():
            os.environ["XENT_DISABLE_KERNELS"] = "1"  # read at each call: the graph and its tasks
            try:
                return call()
            finally:
                del os.environ["XENT_DISABLE_KERNELS"]

        return disabled

    return {
        "xent dask": dask_kernels,
        "xent dask reference": dask_reference,
        "xent numpy": numpy_kernels,
    }


if __name__ == "__main__":
    ARGS = parse_args(
        __doc__.splitlines()[0],
        PROVIDERS,
        "26",
        extra=[
            ("--chunk-exp", {"type": int, "default": 22, "help": "elements per chunk: 2^E"}),
            ("--classes", {"type": int, "default": 1024, "help": "cross_entropy's C"}),
            ("--ops", {"default": "bce,ce", "help": "bce (with logits), ce (index targets)"}),
        ],
    )
    xent.set_num_threads(ARGS.threads)
    scheduler = dask.config.get("scheduler", None) or "threads (dask.array's default)"
    print(f"# dask {dask.__version__}, scheduler: {scheduler}, {os.cpu_count()} workers")
    ops = ARGS.ops.split(",")
    if "bce" in ops:
        run(
            "binary_cross_entropy_with_logits on Dask, float32, mean, "
            f"chunks of 2^{ARGS.chunk_exp}",
            ARGS,
            factories(xent.binary_cross_entropy_with_logits, bce_data),
            "xent dask",
        )
    if "ce" in ops:
        run(
            f"cross_entropy on Dask, (N, {ARGS.classes}) float32 logits, index targets, mean, "
            f"chunks of 2^{ARGS.chunk_exp} logits",
            ARGS,
            factories(xent.cross_entropy, ce_data),
            "xent dask",
            size_label=lambda n: f"{n // min(ARGS.classes, n)}x{min(ARGS.classes, n)}",
        )
