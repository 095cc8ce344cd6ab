"""Logistic regression on the breast cancer data with NumPy only, through xent.value_and_grad.

Run: python examples/train_numpy.py
"""

import numpy as np
from _data import breast_cancer

import xent

x_train, y_train, x_test, y_test = breast_cancer()
weights, bias = np.zeros(x_train.shape[1]), 0.0
loss_and_grad = xent.value_and_grad(xent.binary_cross_entropy_with_logits)
for _ in range(300):
    logits = x_train @ weights + bias
    loss, dlogits = loss_and_grad(logits, y_train, label_smoothing=0.05)
    weights -= 0.5 * (x_train.T @ dlogits)  # chain rule through the linear model
    bias -= 0.5 * float(dlogits.sum())
accuracy = float(np.mean(((x_test @ weights + bias) > 0) == (y_test == 1)))
print(f"numpy: final loss {float(loss):.4f}, test accuracy {accuracy:.3f}")
