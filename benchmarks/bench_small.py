"""Benchmark: the time of one call on small inputs (a training step's loss), in us.

    python benchmarks/bench_small.py [--batch 64] [--classes 10] [--cases bce,ce,vg]
        [--rounds 15] [--batch-time 0.05] [--threads 1] [--markdown]

A training loop calls its loss once per step, often on a small batch, so what counts
there is the time per call, not the element rate. Cases, float32, mean reduction:

* ``bce``: ``xent.nn.BCEWithLogitsLoss`` against ``torch.nn.BCEWithLogitsLoss`` on an
  input of shape (batch,) that requires grad: forward and ``backward()``;
* ``ce``: ``xent.nn.CrossEntropyLoss`` against ``torch.nn.CrossEntropyLoss`` on
  (batch, classes) logits and int64 class indices, forward and ``backward()``;
* ``vg``: ``xent.value_and_grad(xent.binary_cross_entropy_with_logits)`` on NumPy
  arrays of batch elements (no torch: its row has no torch column).

Each xent case runs with the kernels and with ``XENT_DISABLE_KERNELS=1`` (the
reference path; the variable is set around each timed batch of calls, not each
call). Providers take turns in rounds (the harness's ``time_rounds``), so the load of
other processes falls on all alike; the table gives the median time of one call over
the rounds and the ratio xent / torch, the median of the ratios of the same rounds
(paired), with their range. The goal of issue 13 (item 5) is a ratio <= 1.2 for the
Modules, kernels on and off, and <= 10 us for ``vg`` with the kernels.

Threads default to 1 for torch and xent: inputs this small are never split between
threads (both cut work in blocks of 32768 elements or more), and on a busy machine an
idle torch thread pool waiting for work made torch's calls 10-100x slower in these runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys

import numpy as np
from _harness import Load, machine, time_rounds

import xent

CASES = ("bce", "ce", "vg")
GOAL_RATIO, GOAL_VG_US = 1.2, 10.0
STEPS = 20  # calls per timed unit: the switch of the kernels-off rows is set once per unit


def module_step(torch, module, x, target):
    """One training step's loss: forward and backward, the gradient left in x.grad."""

    def step():
        x.grad = None
        module(x, target).backward()

    return step


def cases(args):
    """{case: (label, {provider: step})}, providers 'xent', 'xent reference', 'torch'."""
    rng = np.random.default_rng(0)
    n, c = args.batch, args.classes
    logits = rng.normal(size=n).astype(np.float32)
    labels = (rng.uniform(size=n) < 0.5).astype(np.float32)
    made = {}
    if "vg" in args.cases:
        vg = xent.value_and_grad(xent.binary_cross_entropy_with_logits)
        step = lambda: vg(logits, labels)  # noqa: E731
        made["vg"] = (f"value_and_grad(BCE with logits), NumPy ({n},)", {"xent": step})
    if {"bce", "ce"} & set(args.cases):
        import torch

        import xent.nn as xnn

        torch.set_num_threads(args.threads)
    if "bce" in args.cases:
        x = torch.from_numpy(logits).clone().requires_grad_(True)
        y = torch.from_numpy(labels)
        made["bce"] = (
            f"BCEWithLogitsLoss ({n},)",
            {
                "xent": module_step(torch, xnn.BCEWithLogitsLoss(), x, y),
                "torch": module_step(torch, torch.nn.BCEWithLogitsLoss(), x, y),
            },
        )
    if "ce" in args.cases:
        x = torch.from_numpy(rng.normal(size=(n, c)).astype(np.float32)).requires_grad_(True)
        t = torch.from_numpy(rng.integers(0, c, size=n))
        made["ce"] = (
            f"CrossEntropyLoss ({n}, {c})",
            {
                "xent": module_step(torch, xnn.CrossEntropyLoss(), x, t),
                "torch": module_step(torch, torch.nn.CrossEntropyLoss(), x, t),
            },
        )
    for _, steps in made.values():
        steps["xent reference"] = steps["xent"]  # the same step with the kernels off
    return made


def unit(step, kernels_off):
    """STEPS calls of `step` (the timed unit), with the kernels off if asked."""

    def calls():
        for _ in range(STEPS):
            step()

    if not kernels_off:
        return calls

    def disabled():
        os.environ["XENT_DISABLE_KERNELS"] = "1"
        try:
            calls()
        finally:
            del os.environ["XENT_DISABLE_KERNELS"]

    return disabled


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64, help="elements, or rows for ce")
    parser.add_argument("--classes", type=int, default=10, help="classes of ce")
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: bce,ce,vg")
    parser.add_argument("--threads", type=int, default=1, help="torch's and xent's (default 1)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds per provider")
    parser.add_argument("--batch-time", type=float, default=0.05, help="seconds per round")
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = parser.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    args.rounds = args.rounds
    return args


def main():
    args = parse_args()
    xent.set_num_threads(args.threads)
    print(f"# {__doc__.splitlines()[0]}")
    print(f"# {machine()}; threads: {args.threads}; {' '.join(sys.argv[1:])}")
    print(f"# xent {xent.__version__} from {os.path.dirname(xent.__file__)}")
    load = Load()
    rows = []
    for case, (label, steps) in cases(args).items():
        for step in steps.values():
            step()  # warm up (and make sure it runs) before timing
        calls = {name: unit(step, name == "xent reference") for name, step in steps.items()}
        times = time_rounds(calls, args.rounds, args.batch_time)
        us = {name: [t / STEPS * 1e6 for t in ts] for name, ts in times.items()}
        for name, kernels in (("xent", "on"), ("xent reference", "off")):
            rows.append(row(case, label, kernels, us[name], us.get("torch")))
    head = ["case", "kernels", "xent us", "torch us", "xent / torch", "range", "goal", "met"]
    print(f"\n## us per call (median of {args.rounds} rounds of {STEPS}-call units)\n")
    table(head, rows, args.markdown)
    print(f"\n# {load.report()}")


def row(case, label, kernels, ours, torch_us):
    """A table row: medians, the paired ratio (median and range), the goal and whether met."""
    cells = [label, kernels, f"{statistics.median(ours):.1f}"]
    if torch_us is None:  # value_and_grad on NumPy: an absolute goal, with the kernels
        cells += ["-", "-", "-"]
        goal = f"<= {GOAL_VG_US:.0f} us" if kernels == "on" else "-"
        met = statistics.median(ours) <= GOAL_VG_US if kernels == "on" else None
    else:
        ratios = sorted(a / b for a, b in zip(ours, torch_us, strict=True))
        cells += [
            f"{statistics.median(torch_us):.1f}",
            f"{statistics.median(ratios):.2f}x",
            f"{ratios[0]:.2f}-{ratios[-1]:.2f}x",
        ]
        goal, met = f"<= {GOAL_RATIO}x", statistics.median(ratios) <= GOAL_RATIO
    return [*cells, goal, "-" if met is None else "yes" if met else "no"]


def table(head, rows, markdown):
    if markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "|".join("---" for _ in head) + "|")
        for cells in rows:
            print("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for cells in [head, *rows]:
        print(
            "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(cells, widths, strict=True))
            )
        )


if __name__ == "__main__":
    main()
