"""Shared benchmark harness: providers x modes x sizes, medians, ratios, peak memory.

Each op script defines its providers as factories ``make(n, mode) -> call`` (setup,
conversion and compilation happen in ``make``, outside the timing) and calls
``main``. Providers take turns in rounds (so that load from other processes falls on all
of them alike); throughput is elements / median time of one call over the
rounds (the best round is printed too). "peak MB" is the resident-memory growth
during one call (VmHWM after a reset, minus VmRSS before): outputs plus
temporaries not served from memory already mapped. The peak-MB column lists the
providers in the order of the speed columns.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

MODES = ("forward", "forward+backward")


# the providers of the loss benchmarks, in the order of their tables
PROVIDERS = [
    "xent",
    "xent reference",
    "xent.nn",
    "numpy",
    "torch",
    "torch.compile",
    "jax.jit",
    "np.add",
    "np.add out=",
]


def parse_args(
    description: str,
    providers: list[str],
    default_sizes: str,
    extra: list[tuple[str, dict]] = (),
) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    for flag, options in extra:
        parser.add_argument(flag, **options)
    parser.add_argument("--sizes", default=default_sizes, help="exponents: 16:26:2 or 16,20,24")
    parser.add_argument("--max-exp", type=int, default=None, help="drop sizes above 2^MAX_EXP")
    parser.add_argument("--providers", default=",".join(providers), help="comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help="forward,forward+backward")
    parser.add_argument("--threads", type=int, default=None, help="default: all CPUs")
    parser.add_argument("--rounds", type=int, default=9, help="timed rounds per provider")
    parser.add_argument("--batch-time", type=float, default=0.05, help="seconds per batch")
    parser.add_argument("--markdown", action="store_true", help="print markdown tables")
    args = parser.parse_args()
    if ":" in args.sizes:
        lo, hi, *step = (int(v) for v in args.sizes.split(":"))
        args.exponents = list(range(lo, hi + 1, step[0] if step else 1))
    else:
        args.exponents = [int(v) for v in args.sizes.split(",")]
    if args.max_exp is not None:
        args.exponents = [e for e in args.exponents if e <= args.max_exp]
    args.providers = [p for p in args.providers.split(",") if p]
    args.modes = [m for m in args.modes.split(",") if m]
    args.threads = args.threads or len(os.sched_getaffinity(0))
    return args


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])  # kB
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb(call: Callable[[], object]) -> float | None:
    """Resident-memory growth during one call, after a warm-up call (None where it
    cannot be measured)."""
    call()
    gc.collect()
    if not _reset_peak():
        return None
    before = _status("VmRSS:")
    call()
    return max(0, _status("VmHWM:") - before) / 1024


def time_rounds(calls: dict[str, Callable[[], object]], rounds: int, batch_time: float):
    """Per provider, the time of one call in each of `rounds` rounds. Providers take
    turns within a round (in a rotating order), so load from other processes falls
    on all of them alike; a round times a batch of about `batch_time` seconds."""
    per_call: dict[str, list[float]] = {name: [] for name in calls}
    batch: dict[str, int] = {}
    for name, call in calls.items():
        t0 = time.perf_counter()
        call()
        batch[name] = max(1, min(1000, round(batch_time / max(time.perf_counter() - t0, 1e-7))))
    names = list(calls)
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            call, k = calls[name], batch[name]
            t0 = time.perf_counter()
            for _ in range(k):
                call()
            per_call[name].append((time.perf_counter() - t0) / k)
    return per_call


def _busy_seconds() -> float:
    """CPU seconds all processes have used (from /proc/stat), 0 where unknown."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Load:
    """CPUs used by other processes on average between start and report(): the
    benchmark shares the machine with them."""

    def __init__(self) -> None:
        self.wall, self.busy, self.own = time.perf_counter(), _busy_seconds(), _own_seconds()

    def report(self) -> str:
        wall = time.perf_counter() - self.wall
        others = (_busy_seconds() - self.busy) - (_own_seconds() - self.own)
        return f"other processes used {max(0.0, others) / wall:.2f} CPUs on average meanwhile"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}"


def torch_provider(
    loss: Callable[[Any], Callable[..., object]],
    arrays: tuple[Any, ...],
    mode: str,
    threads: int,
    compiled: bool = False,
) -> Callable[[], object]:
    """A provider calling a torch loss on tensors sharing `arrays`' memory.

    ``loss(torch)`` returns the loss callable (torch.nn.functional's, an xent.nn
    Module...), applied to (input, *others). 'forward' runs it under no_grad;
    'forward+backward' on an input that requires grad, then ``backward()``, so the
    gradient is the one autograd hands to a training loop. With `compiled`, the loss
    goes through ``torch.compile`` (compiled outside the timing, by a first call).
    """
    import torch

    torch.set_num_threads(threads)
    x, *others = (torch.from_numpy(a) for a in arrays)
    fn = loss(torch)
    if compiled:
        torch._dynamo.reset()  # one compilation per size and mode (no recompile limit)
        fn = torch.compile(fn, dynamic=False)
    if mode == "forward":

        def forward():
            with torch.no_grad():
                return fn(x, *others)

        forward()
        return forward
    xg = x.clone().requires_grad_(True)

    def both():
        xg.grad = None
        out = fn(xg, *others)
        out.backward()
        return out, xg.grad

    both()
    return both


def xent_factories(
    loss: Callable[..., object], data: Callable[[int], tuple[Any, ...]]
) -> dict[str, Callable[[int, str], Callable[[], object]]]:
    """xent's providers of a benchmark, on ``data(n)`` (NumPy arrays): the public
    ``loss`` ('forward') or ``xent.value_and_grad(loss)`` ('forward+backward'), with
    the kernels ("xent") and with XENT_DISABLE_KERNELS=1 ("xent reference")."""
    import xent

    def kernels(n: int, mode: str) -> Callable[[], object]:
        arrays = data(n)
        fn = loss if mode == "forward" else xent.value_and_grad(loss)
        return lambda: fn(*arrays)

    def reference(n: int, mode: str) -> Callable[[], object]:
        call = kernels(n, mode)

        def disabled() -> object:
            os.environ["XENT_DISABLE_KERNELS"] = "1"
            try:
                return call()
            finally:
                del os.environ["XENT_DISABLE_KERNELS"]

        return disabled

    return {"xent": kernels, "xent reference": reference}


def torch_factories(
    functional: str, module: Callable[[], Any], data: Callable[[int], tuple[Any, ...]], threads: int
) -> dict[str, Callable[[int, str], Callable[[], object]]]:
    """The torch providers of a benchmark, on ``data(n)``: xent.nn's ``module()`` (the
    kernels under autograd), ``torch.nn.functional.<functional>`` eager and compiled."""

    def loss(torch: Any) -> Callable[..., object]:
        return getattr(torch.nn.functional, functional)

    return {
        "xent.nn": lambda n, mode: torch_provider(lambda _: module(), data(n), mode, threads),
        "torch": lambda n, mode: torch_provider(loss, data(n), mode, threads),
        "torch.compile": lambda n, mode: torch_provider(
            loss, data(n), mode, threads, compiled=True
        ),
    }


def run(
    title: str,
    args: argparse.Namespace,
    factories: dict[str, Callable[[int, str], Callable[[], object] | None]],
    reference_provider: str,
    size_label: Callable[[int], str] = lambda n: f"2^{n.bit_length() - 1}",
) -> None:
    print(f"# {title}")
    print(f"# {machine()}; threads: {args.threads}; {' '.join(sys.argv[1:])}")
    load = Load()
    for mode in args.modes:
        rows = []
        for exp in args.exponents:
            n = 1 << exp
            calls: dict[str, Callable[[], object]] = {}
            for name in args.providers:
                factory = factories.get(name)
                if factory is None:
                    continue
                try:
                    call = factory(n, mode)
                except Exception as error:  # a provider missing here is reported, not fatal
                    print(f"#   {name} unavailable ({mode}): {error!r:.200}")
                    factories[name] = None  # type: ignore[assignment]
                    continue
                if call is not None:
                    calls[name] = call
            peaks = {name: peak_mb(call) for name, call in calls.items()}
            times = time_rounds(calls, args.rounds, args.batch_time)
            summary = {k: (statistics.median(v), min(v), peaks[k]) for k, v in times.items()}
            rows.append((n, summary))
            del calls
            gc.collect()
        _print(mode, rows, reference_provider, size_label, args.markdown)
    print(f"\n# {load.report()}")


def _print(mode, rows, ours, size_label, markdown):
    names = []
    for _, results in rows:
        names += [k for k in results if k not in names]
    peers = [k for k in names if k != ours]
    head = ["size", *names, *(f"vs {k}" for k in peers), "peak MB"]
    median_rows, best_rows = [], []
    for n, results in rows:
        speed = {k: n / results[k][0] / 1e6 for k in results}
        best = {k: n / results[k][1] / 1e6 for k in results}
        ratio = [
            f"{results[k][0] / results[ours][0]:.2f}x" if k in results and ours in results else "-"
            for k in peers
        ]
        peak = " / ".join(
            "-" if k not in results or results[k][2] is None else f"{results[k][2]:,.0f}"
            for k in names
        )
        speeds = [f"{speed[k]:,.0f}" if k in speed else "-" for k in names]
        median_rows.append([size_label(n), *speeds, *ratio, peak])
        best_rows.append([size_label(n), *(f"{best[k]:,.0f}" if k in best else "-" for k in names)])
    print(f"\n## {mode}: M elem/s (median of rounds), {ours}'s speed-up, peak MB per call\n")
    _table(head, median_rows, markdown)
    print(f"\n## {mode}: M elem/s, best round\n")
    _table(["size", *names], best_rows, markdown)
    sys.stdout.flush()


def _table(head, rows, markdown):
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for cells in [head, *rows]:
        print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
