"""Benchmark: xent on JAX arrays under jax.jit, side by side with optax, float32.

    python benchmarks/bench_jax.py [--sizes 22] [--classes 1024] [--ops bce,ce,ce_probs,focal]
        [--providers xent,xent.optax,optax] [--modes forward,forward+backward] [--rounds 9]
        [--markdown]

Four losses, each the mean over its examples, on 2^k float32 elements:

- bce: ``xent.binary_cross_entropy_with_logits(x, y)`` against
  ``optax.losses.sigmoid_binary_cross_entropy(x, y).mean()`` (0/1 labels);
- ce: ``xent.cross_entropy(x, labels)``, class indices, against
  ``optax.losses.softmax_cross_entropy_with_integer_labels(x, labels).mean()`` (x of
  shape (2^k / C, C));
- ce_probs: ``xent.cross_entropy(x, t)``, class probabilities, against
  ``optax.losses.softmax_cross_entropy(x, t).mean()``;
- focal: ``xent.sigmoid_focal_loss(x, y, reduction="mean")`` (alpha 0.25, gamma 2)
  against ``optax.losses.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0).mean()``.

Providers: "xent" (the PyTorch-convention function above), "xent.optax" (xent's optax
front end, the same call as optax's, ``.mean()``), "optax" (optax itself). forward is
``jax.jit(loss)``; forward+backward ``jax.jit(jax.value_and_grad(loss))`` (the gradient
with respect to the logits), each call ended by ``jax.block_until_ready``; compilation
happens before the timing. The ratio columns are the other provider's time over
xent's (above 1: xent is faster). XLA's CPU backend picks its own threads (all CPUs);
``--threads`` is not applied to it.
"""

from __future__ import annotations

import numpy as np
from _harness import parse_args, run

PROVIDERS = ["xent", "xent.optax", "optax"]
OPS = ("bce", "ce", "ce_probs", "focal")


def classes(n: int) -> int:
    return min(ARGS.classes, n)


def data(op: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    if op in ("bce", "focal"):
        x = rng.normal(size=n).astype(np.float32)
        return x, (rng.uniform(size=n) < 0.5).astype(np.float32)
    c = classes(n)
    x = rng.normal(size=(n // c, c)).astype(np.float32)
    if op == "ce":
        return x, rng.integers(0, c, size=n // c).astype(np.int32)
    t = rng.uniform(size=(n // c, c)).astype(np.float32)
    return x, t / t.sum(axis=1, keepdims=True)


def losses(op: str) -> dict:
    """provider -> loss(x, target), a JAX scalar."""
    import optax

    import xent
    import xent.optax as xo

    ol = optax.losses
    if op == "bce":
        return {
            "xent": xent.binary_cross_entropy_with_logits,
            "xent.optax": lambda x, y: xo.sigmoid_binary_cross_entropy(x, y).mean(),
            "optax": lambda x, y: ol.sigmoid_binary_cross_entropy(x, y).mean(),
        }
    if op == "ce":
        return {
            "xent": xent.cross_entropy,
            "xent.optax": lambda x, t: xo.softmax_cross_entropy_with_integer_labels(x, t).mean(),
            "optax": lambda x, t: ol.softmax_cross_entropy_with_integer_labels(x, t).mean(),
        }
    if op == "ce_probs":
        return {
            "xent": xent.cross_entropy,
            "xent.optax": lambda x, t: xo.softmax_cross_entropy(x, t).mean(),
            "optax": lambda x, t: ol.softmax_cross_entropy(x, t).mean(),
        }
    return {
        "xent": lambda x, y: xent.sigmoid_focal_loss(x, y, reduction="mean"),
        "xent.optax": lambda x, y: xo.sigmoid_focal_loss(x, y, alpha=0.25).mean(),
        "optax": lambda x, y: ol.sigmoid_focal_loss(x, y, alpha=0.25, gamma=2.0).mean(),
    }


def factories(op: str) -> dict:
    def factory(name: str):
        def make(n: int, mode: str):
            import jax

            loss = losses(op)[name]
            fn = jax.jit(loss if mode == "forward" else jax.value_and_grad(loss))
            x, t = (jax.device_put(a) for a in data(op, n))

            def call():
                return jax.block_until_ready(fn(x, t))

            call()  # compiled here, outside the timing
            return call

        return make

    return {name: factory(name) for name in PROVIDERS}


TITLES = {
    "bce": "binary_cross_entropy_with_logits vs sigmoid_binary_cross_entropy",
    "ce": "cross_entropy (class indices) vs softmax_cross_entropy_with_integer_labels",
    "ce_probs": "cross_entropy (class probabilities) vs softmax_cross_entropy",
    "focal": "sigmoid_focal_loss vs optax's sigmoid_focal_loss",
}

if __name__ == "__main__":
    ARGS = parse_args(
        __doc__.splitlines()[0],
        PROVIDERS,
        "22",
        extra=[
            ("--classes", {"type": int, "default": 1024, "help": "C of the softmax losses"}),
            ("--ops", {"default": ",".join(OPS), "help": "comma-separated: " + ",".join(OPS)}),
        ],
    )
    import jax

    print(f"# jax {jax.__version__} on {jax.devices()[0].platform}")
    for op in ARGS.ops.split(","):
        label = (lambda n: f"{n // classes(n)}x{classes(n)}") if op.startswith("ce") else None
        run(
            f"JAX jit, {TITLES[op]}, float32, mean",
            ARGS,
            factories(op),
            "xent",
            **({"size_label": label} if label else {}),
        )
