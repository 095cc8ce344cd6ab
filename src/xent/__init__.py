"""xent: cross-entropy losses exactly as PyTorch, Keras and tf.nn compute them.

PyTorch names and argument orders at the top level; Keras' in ``xent.keras``;
tf.nn's and TensorFlow 1's in ``xent.tf``; optax's in ``xent.optax``; scikit-learn's
``log_loss`` in ``xent.metrics``. Any array-API array in, the same kind out.
Importing xent imports no framework.
"""

from . import keras, metrics, optax, tf
from ._autodiff import value_and_grad
from ._kernels import get_num_threads, set_num_threads
from ._version import __version__
from .functional import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    kl_div,
    multilabel_soft_margin_loss,
    nll_loss,
    sigmoid_focal_loss,
    soft_margin_loss,
)

__all__ = [
    "__version__",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "get_num_threads",
    "keras",
    "kl_div",
    "metrics",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "optax",
    "set_num_threads",
    "sigmoid_focal_loss",
    "soft_margin_loss",
    "tf",
    "value_and_grad",
]
