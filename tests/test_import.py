"""Importing xent imports no framework."""

from __future__ import annotations

import subprocess
import sys

FRAMEWORKS = [
    "torch",
    "jax",
    "optax",
    "keras",
    "dask",
    "tensorflow",
    "pyarrow",
    "matplotlib",
    "sklearn",
    "scipy",
]


def test_import_xent_imports_no_framework():
    code = (
        "import sys, xent, xent.keras, xent.keras.metrics, xent.metrics, xent.optax, xent.tf\n"
        "import xent.tf.compat.v1.losses\n"
        "import numpy as np\n"
        "xent.binary_cross_entropy_with_logits(np.zeros(3), np.zeros(3))\n"
        f"loaded = [m for m in {FRAMEWORKS!r} if m in sys.modules]\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing xent loaded: {out.stdout.strip()}"
