"""Benchmark: softmax cross-entropy with class-index targets, (N, 1024) logits,
mean reduction, float32.

    python benchmarks/bench_cross_entropy.py [--sizes 16:26:2] [--classes 1024]
        [--providers xent,torch] [--modes forward,forward+backward] [--threads 2]

Sizes count logits (N x C elements). Providers: the xent kernel
(xent._kernels.softmax_cross_entropy; xent.cross_entropy once the categorical
family is merged), the xent array-API reference (xent.cross_entropy with
XENT_DISABLE_KERNELS=1, when it exists), naive NumPy, torch eager,
torch.compile, jax.jit, and the streaming limit (numpy.add of the logits and a
same-sized array). forward+backward means the loss and d loss / d logits.
"""

from __future__ import annotations

import os

import numpy as np
from _harness import parse_args, run

import xent
from xent._kernels import softmax_cross_entropy

PROVIDERS = [
    "xent",
    "xent reference",
    "numpy",
    "torch",
    "torch.compile",
    "jax.jit",
    "np.add",
    "np.add out=",
]


def data(n):
    c = ARGS.classes
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n // c, c)).astype(np.float32)
    t = rng.integers(0, c, size=n // c)
    return x, t


def xent_kernel(n, mode):
    x, t = data(n)
    need_grad = mode != "forward"
    return lambda: softmax_cross_entropy(x, t, need_grad=need_grad)


def xent_reference(n, mode):
    if not hasattr(xent, "cross_entropy"):
        raise RuntimeError("xent.cross_entropy is not in this build (categorical family)")
    x, t = data(n)
    fn = xent.cross_entropy
    if mode != "forward":
        fn = xent.value_and_grad(fn)

    def disabled():
        os.environ["XENT_DISABLE_KERNELS"] = "1"
        try:
            return fn(x, t)
        finally:
            del os.environ["XENT_DISABLE_KERNELS"]

    return disabled


def naive_numpy(n, mode):
    x, t = data(n)
    rows = np.arange(len(t))

    def forward():
        shifted = x - x.max(axis=1, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -logp[rows, t].mean(), logp

    def both():
        loss, logp = forward()
        grad = np.exp(logp)
        grad[rows, t] -= 1
        return loss, grad / len(t)

    return (lambda: forward()[0]) if mode == "forward" else both


def _torch(n, mode, compiled):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(ARGS.threads)
    x, t = data(n)
    x, t = torch.from_numpy(x), torch.from_numpy(t)
    fn = F.cross_entropy
    if compiled:
        torch._dynamo.reset()  # one compilation per size and mode (no recompile limit)
        fn = torch.compile(fn, dynamic=False)
    if mode == "forward":

        def forward():
            with torch.no_grad():
                return fn(x, t)

        forward()
        return forward
    xg = x.clone().requires_grad_(True)

    def both():
        xg.grad = None
        loss = fn(xg, t)
        loss.backward()
        return loss, xg.grad

    both()
    return both


def jax_jit(n, mode):
    import jax
    import jax.numpy as jnp

    def loss(a, b):
        logp = jax.nn.log_softmax(a, axis=-1)
        return -jnp.mean(jnp.take_along_axis(logp, b[:, None], axis=-1))

    fn = jax.jit(loss if mode == "forward" else jax.value_and_grad(loss))
    x, t = data(n)
    x, t = jax.device_put(x), jax.device_put(t.astype(np.int32))
    call = lambda: jax.block_until_ready(fn(x, t))  # noqa: E731
    call()
    return call


def numpy_add(n, mode):
    x, _ = data(n)
    y = x.copy()
    return lambda: np.add(x, y)


def numpy_add_out(n, mode):
    x, _ = data(n)
    y, out = x.copy(), np.empty_like(x)
    return lambda: np.add(x, y, out=out)


FACTORIES = {
    "xent": xent_kernel,
    "xent reference": xent_reference,
    "numpy": naive_numpy,
    "torch": lambda n, mode: _torch(n, mode, compiled=False),
    "torch.compile": lambda n, mode: _torch(n, mode, compiled=True),
    "jax.jit": jax_jit,
    "np.add": numpy_add,
    "np.add out=": numpy_add_out,
}

if __name__ == "__main__":
    ARGS = parse_args(
        __doc__.splitlines()[0],
        PROVIDERS,
        "16:26:2",
        extra=[("--classes", {"type": int, "default": 1024, "help": "C"})],
    )
    xent.set_num_threads(ARGS.threads)
    label = f"cross_entropy, (N, {ARGS.classes}) float32 logits, class-index targets, mean"
    run(label, ARGS, FACTORIES, "xent", lambda n: f"{n // ARGS.classes}x{ARGS.classes}")
