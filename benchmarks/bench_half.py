"""Benchmark: half precision through the kernels under autograd (loss + gradient).

    python benchmarks/bench_half.py [--half bfloat16|float16] [--ce-shape 4096x32768]
        [--bce-size 24] [--threads 2] [--rounds 9] [--markdown]

For cross_entropy (class-index targets, mean) on (N, C) logits and
binary_cross_entropy_with_logits (mean) on 2^k elements, one run times, in turns
within each round:

* ``xent half``: xent.nn's Module on a bfloat16 (or float16) tensor that requires
  grad, then ``loss.backward()``: the kernel reads and writes the half dtype;
* ``xent float32``: the same Module and shape in float32 (the kernel's float32 rate);
* ``torch half``: torch.nn.functional's op, eager, on the same half tensors.

It prints element rates (median of rounds, and the best round), and per round the
ratios of xent half's speed to the two others (paired: the same round's times),
as median [min - max] over the rounds. The goal of issue 13 (item 3): xent half
>= 0.95x xent float32 and >= 4x torch half.
"""

from __future__ import annotations

import statistics

from _harness import Load, _table, machine, parse_args, time_rounds

import xent
import xent.nn

PROVIDERS = ["xent half", "xent float32", "torch half"]


def ce_data(torch, dtype):
    n, c = ARGS.shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, c, generator=g).to(dtype)
    t = torch.randint(0, c, (n,), generator=g)
    return x, t


def bce_data(torch, dtype):
    g = torch.Generator().manual_seed(0)
    n = 1 << ARGS.bce_size
    x = (3 * torch.randn(n, generator=g)).to(dtype)
    y = torch.rand(n, generator=g).to(dtype)
    return x, y


def provider(fn, x, other):
    """fn(x, other).backward() on a leaf copy of x that requires grad."""
    xg = x.clone().requires_grad_(True)

    def both():
        xg.grad = None
        out = fn(xg, other)
        out.backward()
        return out, xg.grad

    both()
    return both


def calls(op: str, torch) -> dict:
    half = getattr(torch, ARGS.half)
    data, module, functional = {
        "cross_entropy": (ce_data, xent.nn.CrossEntropyLoss, torch.nn.functional.cross_entropy),
        "bce_with_logits": (
            bce_data,
            xent.nn.BCEWithLogitsLoss,
            torch.nn.functional.binary_cross_entropy_with_logits,
        ),
    }[op]
    x, other = data(torch, half)
    x32 = x.float()
    other32 = other.float() if other.is_floating_point() else other
    made = {
        "xent half": lambda: provider(module(), x, other),
        "xent float32": lambda: provider(module(), x32, other32),
        "torch half": lambda: provider(functional, x, other),
    }
    return {name: made[name]() for name in ARGS.providers if name in made}


def report(title: str, n: int, times: dict) -> None:
    print(f"\n## {title}: M elem/s (median of rounds; best round)\n")
    head = ["provider", "median", "best"]
    rows = [
        [name, f"{n / statistics.median(t) / 1e6:,.0f}", f"{n / min(t) / 1e6:,.0f}"]
        for name, t in times.items()
    ]
    _table(head, rows, ARGS.markdown)
    ours = times.get("xent half")
    peers = [name for name in times if name != "xent half"]
    if ours is None or not peers:
        return
    print(f"\n## {title}: xent half's speed over each (paired rounds)\n")
    rows = []
    for name in peers:
        ratios = sorted(t / o for t, o in zip(times[name], ours, strict=True))
        spread = f"{ratios[0]:.2f}x - {ratios[-1]:.2f}x"
        rows.append([f"vs {name}", f"{statistics.median(ratios):.2f}x", spread])
    _table(["ratio", "median", "range"], rows, ARGS.markdown)


def main() -> None:
    import torch

    torch.set_num_threads(ARGS.threads)
    xent.set_num_threads(ARGS.threads)
    n, c = ARGS.shape
    print(f"# half precision ({ARGS.half}) under autograd, loss + gradient, mean")
    print(f"# {machine()}; threads: {ARGS.threads}; kernels ISA: {xent._kernels.isa()}")
    load = Load()
    sizes = {"cross_entropy": n * c, "bce_with_logits": 1 << ARGS.bce_size}
    labels = {
        "cross_entropy": f"cross_entropy {n}x{c}, class indices",
        "bce_with_logits": f"binary_cross_entropy_with_logits 2^{ARGS.bce_size}",
    }
    for op in ARGS.ops:
        made = calls(op, torch)
        times = time_rounds(made, ARGS.rounds, ARGS.batch_time)
        report(labels[op], sizes[op], times)
        del made
    print(f"\n# {load.report()}")


if __name__ == "__main__":
    ARGS = parse_args(
        __doc__.splitlines()[0],
        PROVIDERS,
        "0",
        extra=[
            ("--half", {"choices": ["bfloat16", "float16"], "default": "bfloat16"}),
            ("--ce-shape", {"default": "4096x32768", "help": "NxC"}),
            ("--bce-size", {"type": int, "default": 24, "help": "2^k elements"}),
            ("--ops", {"default": "cross_entropy,bce_with_logits", "help": "comma-separated"}),
        ],
    )
    ARGS.shape = tuple(int(v) for v in ARGS.ce_shape.split("x"))
    ARGS.ops = [op for op in ARGS.ops.split(",") if op]
    main()
