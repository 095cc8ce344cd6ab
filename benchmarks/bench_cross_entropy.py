"""Benchmark: softmax cross-entropy with class-index targets, (N, 1024) logits,
mean reduction, float32.

    python benchmarks/bench_cross_entropy.py [--sizes 16:26:2] [--classes 1024]
        [--providers xent,torch] [--modes forward,forward+backward] [--threads 2]

Sizes count logits (N x C elements). Providers: the xent kernel (public API,
xent.cross_entropy on NumPy arrays), the xent array-API reference (the same call
with XENT_DISABLE_KERNELS=1), xent.nn.CrossEntropyLoss on torch tensors (the
kernel under autograd: loss.backward()), naive NumPy, torch eager,
torch.compile, jax.jit, and the streaming limit (numpy.add of the logits and a
same-sized array). forward+backward means the loss and d loss / d logits.
"""

from __future__ import annotations

import numpy as np
from _harness import PROVIDERS, parse_args, run, torch_factories, xent_factories

import xent
import xent.nn


def data(n):
    c = ARGS.classes
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n // c, c)).astype(np.float32)
    t = rng.integers(0, c, size=n // c)
    return x, t


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


FACTORIES = {  # and xent's and torch's, made once the arguments are known
    "numpy": naive_numpy,
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
    FACTORIES |= xent_factories(xent.cross_entropy, data)
    FACTORIES |= torch_factories("cross_entropy", xent.nn.CrossEntropyLoss, data, ARGS.threads)
    label = f"cross_entropy, (N, {ARGS.classes}) float32 logits, class-index targets, mean"
    run(label, ARGS, FACTORIES, "xent", lambda n: f"{n // ARGS.classes}x{ARGS.classes}")
