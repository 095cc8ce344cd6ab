"""``tf.compat.v1``: TensorFlow 1's losses (``xent.tf.compat.v1.losses``)."""

from . import losses

__all__ = ["losses"]
