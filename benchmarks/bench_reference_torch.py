"""Benchmark: xent's reference on torch tensors (kernels off, the path of CUDA tensors)
against torch eager, loss + gradient through autograd, float32.

    python benchmarks/bench_reference_torch.py [--bce-exp 22] [--rows 4096] [--classes 1024]
        [--configs bce,ce,ce_weight,...] [--threads 2] [--rounds 9] [--markdown]

One row per loss and option: each provider computes the loss (mean reduction) of an
input that requires grad and calls ``loss.backward()`` (a training step's loss part).
Providers, taking turns in every round: "xent reference", the public xent function on
the same tensors with XENT_DISABLE_KERNELS=1 (set around each call, as the other
scripts' "xent reference"); "torch", torch.nn.functional eager (for the focal loss,
torchvision's published formula in eager torch: torchvision is not needed). The ratio
is torch's median time over xent's (above 1: xent is faster); the spread is
the same ratio in each round, lowest to highest. Sizes: binary losses on
2^bce-exp elements, cross_entropy on (rows, classes) logits with index targets (some
ignored where the config says so) or class probabilities.
"""

from __future__ import annotations

import os
import statistics
import sys

from _harness import Load, _table, machine, parse_args, time_rounds

PROVIDERS = ["xent reference", "torch"]


def focal_torchvision(torch, x, y, alpha=0.25, gamma=2.0):
    """torchvision.ops.sigmoid_focal_loss, reduction='mean', as published."""
    p = torch.sigmoid(x)
    ce = torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction="none")
    p_t = p * y + (1 - p) * (1 - y)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha >= 0:
        alpha_t = alpha * y + (1 - alpha) * (1 - y)
        loss = alpha_t * loss
    return loss.mean()


def configs(torch, args):
    """name -> (elements, input, xent loss of it, torch loss of it)."""
    import xent

    F = torch.nn.functional
    gen = torch.Generator().manual_seed(0)
    n = 1 << args.bce_exp
    x = torch.randn(n, generator=gen)
    y = (torch.rand(n, generator=gen) < 0.5).float()
    soft = torch.rand(n, generator=gen)
    p = torch.rand(n, generator=gen) * 0.98 + 0.01
    r, c = args.rows, args.classes
    logits = torch.randn(r, c, generator=gen)
    index = torch.randint(0, c, (r,), generator=gen)
    ignored = index.clone()
    ignored[::7] = -100
    probs = torch.softmax(torch.randn(r, c, generator=gen), 1)
    w = torch.rand(c, generator=gen) + 0.5
    ce = {"ce": {}, "ce_weight": {"weight": w}, "ce_smoothing": {"label_smoothing": 0.1}}
    ce["ce_ignore"] = {"target": ignored}
    ce["ce_all"] = {"weight": w, "label_smoothing": 0.1, "target": ignored}
    table = {
        "bce_logits": (
            n,
            x,
            lambda v: xent.binary_cross_entropy_with_logits(v, y),
            lambda v: F.binary_cross_entropy_with_logits(v, y),
        ),
        "bce_logits_soft": (
            n,
            x,
            lambda v: xent.binary_cross_entropy_with_logits(v, soft),
            lambda v: F.binary_cross_entropy_with_logits(v, soft),
        ),
        "bce": (
            n,
            p,
            lambda v: xent.binary_cross_entropy(v, y),
            lambda v: F.binary_cross_entropy(v, y),
        ),
        "focal": (
            n,
            x,
            lambda v: xent.sigmoid_focal_loss(v, y, reduction="mean"),
            lambda v: focal_torchvision(torch, v, y),
        ),
    }
    for name, options in ce.items():
        options = dict(options)
        target = options.pop("target", index)
        table[name] = (
            r * c,
            logits,
            lambda v, t=target, o=options: xent.cross_entropy(v, t, **o),
            lambda v, t=target, o=options: F.cross_entropy(v, t, **o),
        )
    for name, options in {"ce_probs": {}, "ce_probs_weight": {"weight": w}}.items():
        table[name] = (
            r * c,
            logits,
            lambda v, o=options: xent.cross_entropy(v, probs, **o),
            lambda v, o=options: F.cross_entropy(v, probs, **o),
        )
    table["ce_probs_smoothing"] = (
        r * c,
        logits,
        lambda v: xent.cross_entropy(v, probs, label_smoothing=0.1),
        lambda v: F.cross_entropy(v, probs, label_smoothing=0.1),
    )
    return table


def step(loss, x):
    """loss(x).backward() on a leaf copy of x: the gradient autograd hands a training loop."""
    xg = x.clone().requires_grad_(True)

    def call():
        xg.grad = None
        out = loss(xg)
        out.backward()
        return out, xg.grad

    return call


def kernels_off(call):
    def disabled():
        os.environ["XENT_DISABLE_KERNELS"] = "1"
        try:
            return call()
        finally:
            del os.environ["XENT_DISABLE_KERNELS"]

    return disabled


def main() -> None:
    import torch

    args = parse_args(
        __doc__.splitlines()[0],
        PROVIDERS,
        "22",
        extra=[
            ("--bce-exp", {"type": int, "default": 22, "help": "binary losses: 2^E elements"}),
            ("--rows", {"type": int, "default": 4096, "help": "cross_entropy's N"}),
            ("--classes", {"type": int, "default": 1024, "help": "cross_entropy's C"}),
            ("--configs", {"default": "", "help": "comma-separated (default: all)"}),
        ],
    )
    torch.set_num_threads(args.threads)
    table = configs(torch, args)
    chosen = [c for c in args.configs.split(",") if c] or list(table)
    print(f"# {__doc__.splitlines()[0]}")
    command = " ".join(sys.argv[1:])
    print(f"# {machine()}; threads: {args.threads}; torch {torch.__version__}; {command}")
    load = Load()
    head = ["config", "elements", *(f"{p} M/s" for p in args.providers), "ratio", "spread"]
    rows = []
    for name in chosen:
        n, x, mine, theirs = table[name]
        calls = {"xent reference": kernels_off(step(mine, x)), "torch": step(theirs, x)}
        calls = {p: calls[p] for p in args.providers if p in calls}
        for call in calls.values():
            call()  # warm-up (and the first backward)
        times = time_rounds(calls, args.rounds, args.batch_time)
        med = {p: statistics.median(t) for p, t in times.items()}
        speeds = [f"{n / med[p] / 1e6:,.0f}" for p in calls]
        ratio = spread = "-"
        if len(calls) == 2:
            ratio = f"{med['torch'] / med['xent reference']:.2f}x"
            rounds = sorted(
                a / b for a, b in zip(times["torch"], times["xent reference"], strict=True)
            )
            spread = f"{rounds[0]:.2f}x-{rounds[-1]:.2f}x"
        rows.append([name, f"{n:,}", *speeds, ratio, spread])
        print(f"#   {name} done", file=sys.stderr)
    print(
        "\n## loss + backward, mean, float32: M elem/s (median of rounds); ratio = torch's "
        "time / xent's, spread = the same per round\n"
    )
    _table(head, rows, args.markdown)
    print(f"\n# {load.report()}")


if __name__ == "__main__":
    main()
