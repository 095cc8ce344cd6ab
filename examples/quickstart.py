"""Quick start: the same losses in the three conventions, with a gradient, on NumPy arrays.

Run: python examples/quickstart.py
"""

import numpy as np

import xent
from xent import keras as xk
from xent import tf as xtf

logits = np.array([[1.2, -0.4, 3.1], [-2.0, 0.3, 0.0]])
labels = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])

print("PyTorch convention, mean:", float(xent.binary_cross_entropy_with_logits(logits, labels)))
loss, grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)(
    logits, labels, pos_weight=np.array([1.0, 2.0, 0.5])
)
print("with pos_weight:", float(loss), "gradient:\n", grad)
print("Keras convention:", float(xk.BinaryCrossentropy(from_logits=True)(labels, logits)))
print("tf.nn convention:\n", xtf.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))
