"""Write the example predictions of the README: ``examples/data/clicks.parquet``
(logit, prediction, clicked, weight) and ``examples/data/clicks.csv`` (prediction,
clicked), 4,000 rows from a fixed seed.

A click model, slightly over-confident and over-predicting: the true log-odds z of a
click are N(-1.8, 1.2); the model predicts 1.15 z + 0.1 plus noise. Run it again to
get the same files::

    python examples/make_example_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROWS = 4_000
SEED = 20240601
HERE = Path(__file__).resolve().parent / "data"


def make(rows: int = ROWS, seed: int = SEED) -> pa.Table:
    rng = np.random.default_rng(seed)
    z = rng.normal(-1.8, 1.2, rows)
    clicked = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.int8)
    logit = (1.15 * z + 0.1 + rng.normal(0.0, 0.4, rows)).astype(np.float32)
    prediction = (1.0 / (1.0 + np.exp(-logit.astype(np.float64)))).astype(np.float32)
    weight = rng.choice(np.array([1.0, 2.0, 5.0], dtype=np.float32), rows)  # e.g. sampling
    columns = {"logit": logit, "prediction": prediction, "clicked": clicked, "weight": weight}
    return pa.table(columns)


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    table = make()
    pq.write_table(table, HERE / "clicks.parquet", compression="zstd", row_group_size=1_000)
    pacsv.write_csv(table.select(["prediction", "clicked"]), HERE / "clicks.csv")
    for path in sorted(HERE.iterdir()):
        print(f"{path} ({path.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
