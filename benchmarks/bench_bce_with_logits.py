"""Benchmark: binary cross-entropy with logits, mean reduction, float32.

    python benchmarks/bench_bce_with_logits.py [--sizes 16:26:2] [--max-exp 22]
        [--providers xent,torch] [--modes forward,forward+backward] [--threads 2]

Providers: the xent kernel (public API, NumPy arrays), the xent array-API
reference (the same call with XENT_DISABLE_KERNELS=1), xent.nn.BCEWithLogitsLoss
on torch tensors (the kernel under autograd: loss.backward()), naive NumPy, torch eager,
torch.compile, jax.jit (each skipped with a note when not installed or not
working), and the streaming limit: numpy.add of the same two arrays, allocating
its result as a gradient would (``np.add``) or into a preallocated one
(``np.add out=``). forward+backward means the loss and d loss / d input.
"""

from __future__ import annotations

import numpy as np
from _harness import PROVIDERS, parse_args, run, torch_factories, xent_factories

import xent
import xent.nn


def data(n):
    rng = np.random.default_rng(0)
    x = rng.normal(size=n).astype(np.float32)
    y = (rng.uniform(size=n) < 0.5).astype(np.float32)
    return x, y


def naive_numpy(n, mode):
    x, y = data(n)

    def forward():
        return np.mean(np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x))))

    def both():
        return forward(), (1 / (1 + np.exp(-x)) - y) / n

    return forward if mode == "forward" else both


def jax_jit(n, mode):
    import jax
    import jax.numpy as jnp

    def loss(a, b):
        return jnp.mean(-b * jax.nn.log_sigmoid(a) - (1 - b) * jax.nn.log_sigmoid(-a))

    fn = jax.jit(loss if mode == "forward" else jax.value_and_grad(loss))
    x, y = (jax.device_put(a) for a in data(n))
    call = lambda: jax.block_until_ready(fn(x, y))  # noqa: E731
    call()
    return call


def numpy_add(n, mode):
    x, y = data(n)
    return lambda: np.add(x, y)


def numpy_add_out(n, mode):
    x, y = data(n)
    out = np.empty_like(x)
    return lambda: np.add(x, y, out=out)


FACTORIES = {  # and xent's and torch's, made once the arguments are known
    "numpy": naive_numpy,
    "jax.jit": jax_jit,
    "np.add": numpy_add,
    "np.add out=": numpy_add_out,
}

if __name__ == "__main__":
    ARGS = parse_args(__doc__.splitlines()[0], PROVIDERS, "16:26:2")
    xent.set_num_threads(ARGS.threads)
    FACTORIES |= xent_factories(xent.binary_cross_entropy_with_logits, data)
    FACTORIES |= torch_factories(
        "binary_cross_entropy_with_logits", xent.nn.BCEWithLogitsLoss, data, ARGS.threads
    )
    run("binary_cross_entropy_with_logits, float32, mean", ARGS, FACTORIES, "xent")
