"""Benchmark ``xent eval`` end to end against pandas.read_parquet + sklearn log_loss.

Writes a Parquet file of ROWS rows (float32 logit, int8 label; pyarrow's defaults:
snappy, row groups of 1Mi rows) to a temporary directory, then runs, each in its own
process so that its peak RSS is its own (``os.wait4``):

- ``xent eval FILE --input logit --target label --from-logits --format json``;
- ``pandas.read_parquet`` + ``scipy.special.expit`` + ``sklearn.metrics.log_loss``.

and prints wall time (process start to exit: imports included), rows/s, peak RSS,
the two losses and the speed ratio, best of ``--repeat`` runs.

Python's bytecode is cached, as after ``pip install`` (which compiles it), in a
directory of the run (PYTHONPYCACHEPREFIX; PYTHONDONTWRITEBYTECODE is dropped) that one
untimed warm-up run of each command fills; ``--no-bytecode-cache`` keeps the caller's
environment instead (with PYTHONDONTWRITEBYTECODE=1 and an editable install, every run
then compiles xent's modules anew: about 0.03 s more).

    python benchmarks/bench_eval.py                   # 40M rows
    python benchmarks/bench_eval.py --rows 10_000_000 --repeat 3

Goals (issue 6): >= 50M rows/s, peak RSS < 512 MiB, >= 10x pandas + sklearn.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

PANDAS_SKLEARN = """
import sys, numpy as np, pandas as pd
from scipy.special import expit
from sklearn.metrics import log_loss
frame = pd.read_parquet(sys.argv[1])
p = expit(frame["logit"].to_numpy(np.float64))
print(log_loss(frame["label"].to_numpy(), p, labels=[0, 1]))
"""


def write_file(path: Path, rows: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    schema = pa.schema([("logit", pa.float32()), ("label", pa.int8())])
    chunk = 1 << 22
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            logit = rng.standard_normal(n, dtype=np.float32) * 2 - 1
            label = (rng.random(n, dtype=np.float32) < 1 / (1 + np.exp(-logit))).astype(np.int8)
            writer.write_table(pa.table({"logit": logit, "label": label}, schema=schema))


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, stdout) of one process.

    Linux counts in a child's peak RSS what it held between fork and exec, a copy of
    this process: so this process stays small (it imports neither NumPy nor pyarrow,
    and writes the file in a child of its own).
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.PIPE, env=env, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        stderr = process.stderr.read() if process.stderr else ""
        if process.returncode != 0:
            raise SystemExit(f"{argv[:4]} failed ({process.returncode}):\n{stderr}")
        out.seek(0)
        return seconds, usage.ru_maxrss / 1024, out.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=lambda s: int(s.replace("_", "")), default=40_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs of each")
    parser.add_argument("--batch-rows", type=int, default=None, help="xent eval --batch-rows")
    parser.add_argument("--skip-pandas", action="store_true", help="time xent eval only")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file")
    parser.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="no warm-up run, no bytecode cache of the run's own (the caller's environment)",
    )
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # the file writer's job
    args = parser.parse_args()
    if args.write is not None:
        write_file(args.write, args.rows)
        return

    path_entries = [str(SRC), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path_entries)}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "predictions.parquet"
        start = time.perf_counter()
        writer = [sys.executable, __file__, "--write", str(path), "--rows", str(args.rows)]
        subprocess.run(writer, check=True, env=env)
        size = path.stat().st_size / 2**20
        print(f"wrote {args.rows:,} rows ({size:.0f} MiB) in {time.perf_counter() - start:.1f} s")

        if not args.no_bytecode_cache:
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        warmups = 0 if args.no_bytecode_cache else 1

        xent = [sys.executable, "-m", "xent.cli", "eval", str(path), "--input", "logit"]
        xent += ["--target", "label", "--from-logits", "--format", "json"]
        if args.batch_rows:
            xent += ["--batch-rows", str(args.batch_rows)]
        runs = [timed(xent, env) for _ in range(warmups + args.repeat)][warmups:]
        seconds, rss, out = min(runs)
        report = json.loads(out)
        inside = report["seconds"]
        print(
            f"xent eval:        {seconds:6.2f} s  {args.rows / seconds / 1e6:6.1f}M rows/s  "
            f"peak RSS {rss:4.0f} MiB  loss {report['loss']:.12f}  "
            f"(in-process {inside:.2f} s, {args.rows / inside / 1e6:.1f}M rows/s)"
        )
        if args.skip_pandas:
            return
        reference = [sys.executable, "-c", PANDAS_SKLEARN, str(path)]
        runs = [timed(reference, env) for _ in range(warmups + args.repeat)][warmups:]
        ref_seconds, ref_rss, ref_out = min(runs)
        ref_loss = float(ref_out)
        ref_rate = args.rows / ref_seconds / 1e6
        print(
            f"pandas + sklearn: {ref_seconds:6.2f} s  {ref_rate:6.1f}M rows/s  "
            f"peak RSS {ref_rss:4.0f} MiB  loss {ref_loss:.12f}"
        )
        print(
            f"xent is {ref_seconds / seconds:.1f}x faster, uses {ref_rss / rss:.1f}x less memory; "
            f"losses differ by {abs(report['loss'] - ref_loss) / ref_loss:.1e} (relative)"
        )


if __name__ == "__main__":
    main()
