"""The breast cancer data set shipped with scikit-learn (no download), standardized and split."""

from __future__ import annotations

import numpy as np


def breast_cancer(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(labels))
    features, labels = features[order], labels[order].astype(np.float64)
    split = int(0.8 * len(labels))
    mean, std = features[:split].mean(axis=0), features[:split].std(axis=0)
    features = (features - mean) / std
    return features[:split], labels[:split], features[split:], labels[split:]
