"""Shared benchmark harness: providers x modes x sizes, medians, ratios, peak memory.

Each op script defines its providers as factories ``make(n, mode) -> call`` (setup,
conversion and compilation happen in ``make``, outside the timing) and calls
``main``. Throughput is elements / median time of one call; "peak MB" is the
largest resident-memory growth during one call (VmHWM after a reset, minus VmRSS
before), i.e. outputs plus temporaries not served from memory already mapped.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

MODES = ("forward", "forward+backward")


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
    parser.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement")
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


def measure(call: Callable[[], object], min_time: float) -> tuple[float, float | None]:
    """(median seconds per call, peak MB of one call or None)."""
    call()  # warm
    gc.collect()
    peak = None
    if _reset_peak():
        before = _status("VmRSS:")
        call()
        peak = max(0, _status("VmHWM:") - before) / 1024
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < 5 or (time.perf_counter() - start < min_time and len(times) < 200):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), peak


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {len(os.sched_getaffinity(0))} CPUs, Python {platform.python_version()}"


def run(
    title: str,
    args: argparse.Namespace,
    factories: dict[str, Callable[[int, str], Callable[[], object] | None]],
    reference_provider: str,
    streaming: Callable[[int], Callable[[], object]] | None = None,
    size_label: Callable[[int], str] = lambda n: f"2^{n.bit_length() - 1}",
) -> None:
    print(f"# {title}")
    print(f"# {machine()}; threads: {args.threads}; {' '.join(sys.argv[1:])}")
    for mode in args.modes:
        rows = []
        for exp in args.exponents:
            n = 1 << exp
            results: dict[str, tuple[float, float | None]] = {}
            for name in args.providers:
                factory = factories.get(name)
                if factory is None:
                    continue
                try:
                    call = factory(n, mode)
                except Exception as error:  # a provider missing here is reported, not fatal
                    print(f"#   {name} unavailable at n={n} ({mode}): {error!r:.200}")
                    factories[name] = None  # type: ignore[assignment]
                    continue
                if call is None:
                    continue
                results[name] = measure(call, args.min_time)
                del call
                gc.collect()
            if streaming is not None:
                results["streaming (numpy add)"] = measure(streaming(n), args.min_time)
            rows.append((n, results))
        _print(mode, rows, reference_provider, size_label, args.markdown)


def _print(mode, rows, ours, size_label, markdown):
    names = []
    for _, results in rows:
        names += [k for k in results if k not in names]
    head = ["size", *(f"{k} M/s" for k in names), *(f"{ours} vs {k}" for k in names if k != ours)]
    head.append("peak MB " + " / ".join(names))
    table = []
    for n, results in rows:
        cells = [size_label(n)]
        for k in names:
            cells.append(f"{n / results[k][0] / 1e6:,.0f}" if k in results else "-")
        for k in names:
            if k == ours:
                continue
            ok = k in results and ours in results
            cells.append(f"{results[k][0] / results[ours][0]:.2f}x" if ok else "-")
        peaks = []
        for k in names:
            peak = results.get(k, (0, None))[1]
            peaks.append("-" if peak is None else f"{peak:,.0f}")
        cells.append(" / ".join(peaks))
        table.append(cells)
    print(f"\n## {mode}\n")
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for cells in table:
            print("| " + " | ".join(cells) + " |")
    else:
        widths = [max(len(r[i]) for r in [head, *table]) for i in range(len(head))]
        for cells in [head, *table]:
            print("  ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)))
    sys.stdout.flush()
