"""Logistic regression on the breast cancer data in JAX: jax.jit(jax.grad(...)) over an xent loss.

Run: python examples/train_jax.py
"""

import jax
import jax.numpy as jnp
from _data import breast_cancer

import xent

x_train, y_train, x_test, y_test = (jnp.asarray(a, dtype=jnp.float32) for a in breast_cancer())


def loss_fn(params, x, y):
    weights, bias = params
    return xent.sigmoid_focal_loss(x @ weights + bias, y, alpha=-1.0, gamma=1.0, reduction="mean")


step = jax.jit(jax.value_and_grad(loss_fn))
params = (jnp.zeros(x_train.shape[1]), jnp.zeros(()))
for _ in range(300):
    loss, grads = step(params, x_train, y_train)
    params = tuple(p - 1.0 * g for p, g in zip(params, grads, strict=True))
weights, bias = params
accuracy = float(jnp.mean(((x_test @ weights + bias) > 0) == (y_test == 1)))
print(f"jax: final loss {float(loss):.4f}, test accuracy {accuracy:.3f}")
