"""The benchmark scripts run (so that they cannot rot): each benchmarks/bench_*.py in a
fresh interpreter on the smallest sizes its options allow, exit status 0, its tables
with every provider it has (or the note it prints where a framework is missing).

Where a script cannot run at all (bench_bce_with_logits and bench_cross_entropy import
xent.nn, which needs torch; bench_eval writes Parquet with pyarrow; bench_kernel_compute
times the compiled kernels) it is skipped, saying why.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import xent
from kernel_helpers import extension

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
ALWAYS = ["xent", "xent reference", "numpy", "np.add", "np.add out="]  # NumPy and xent only
TORCH = ["xent.nn", "torch", "torch.compile"]
PROVIDERS = [*ALWAYS, *TORCH, "jax.jit"]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def run_script(name: str, *args: str) -> str:
    """stdout of benchmarks/`name` run with `args`, the xent under test first on the path."""
    env = dict(os.environ)
    package_root = str(Path(xent.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [package_root, env.get("PYTHONPATH")] if p)
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / name), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, f"{name} {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def table_heads(out: str, markdown: bool) -> list[list[str]]:
    """The column names of each table printed (text tables: columns 2+ spaces apart)."""
    lines = out.splitlines()
    heads = []
    for i, line in enumerate(lines):
        if line.startswith("## ") and "M elem/s" in line:
            head = lines[i + 2]  # a blank line, then the head
            cells = head.strip("| ").split(" | ") if markdown else re.split(r"\s{2,}", head.strip())
            heads.append(cells)
    return heads


def check_loss_benchmark(out: str, title: str, markdown: bool, providers=PROVIDERS) -> None:
    assert out.startswith(f"# {title}"), out[:500]
    heads = table_heads(out, markdown)
    # two tables (median with ratios and peak memory; best round) per mode
    assert len(heads) == 4, out
    assert [h[0] for h in heads] == ["size"] * 4
    for provider in providers:
        missing = f"#   {provider} unavailable"
        if provider in ALWAYS or provider in TORCH:  # the script imports torch: all run
            assert all(provider in head for head in heads), (provider, out)
        elif missing not in out:  # jax.jit: in the tables, or a note saying why not
            assert all(provider in head for head in heads), (provider, out)
    assert heads[0][-1] == "peak MB"
    assert "other processes used" in out.splitlines()[-1]


def need_torch() -> None:
    if not installed("torch"):
        pytest.skip("the script imports xent.nn, which needs torch (not installed)")


def test_every_benchmark_script_is_smoke_tested():
    scripts = sorted(p.name for p in BENCHMARKS.glob("bench_*.py"))
    tested = sorted(
        name.removeprefix("test_") + ".py" for name in globals() if name.startswith("test_bench_")
    )
    assert scripts == tested, "a benchmark script without a smoke test here (or a stale one)"


def test_bench_bce_with_logits():
    need_torch()
    args = ["--sizes", "4", "--rounds", "1", "--batch-time", "0.001", "--threads", "1"]
    out = run_script("bench_bce_with_logits.py", *args)
    check_loss_benchmark(out, "binary_cross_entropy_with_logits, float32, mean", markdown=False)
    assert re.search(r"^\s*2\^4\s", out, re.M), out  # the size row


def test_bench_cross_entropy():
    """All providers but torch.compile, whose compilation takes most of a run (6 s here);
    test_bench_bce_with_logits covers it (the same _harness.torch_factories)."""
    need_torch()
    providers = [p for p in PROVIDERS if p != "torch.compile"]
    args = ["--sizes", "4", "--classes", "4", "--rounds", "1", "--batch-time", "0.001"]
    args += ["--providers", ",".join(providers), "--markdown"]
    out = run_script("bench_cross_entropy.py", *args)
    check_loss_benchmark(out, "cross_entropy, (N, 4) float32 logits", True, providers)
    assert "torch.compile" not in out, out
    assert "| 4x4 |" in out, out  # the size row: 16 logits, 4 rows of 4 classes


def test_bench_half():
    need_torch()
    args = ["--ce-shape", "4x40", "--bce-size", "5", "--rounds", "2", "--batch-time", "0.001"]
    out = run_script("bench_half.py", *args, "--markdown")
    assert out.startswith("# half precision (bfloat16) under autograd"), out
    for title in ("cross_entropy 4x40, class indices", "binary_cross_entropy_with_logits 2^5"):
        assert f"## {title}: M elem/s" in out, out
        assert f"## {title}: xent half's speed over each (paired rounds)" in out, out
    for provider in ("xent half", "xent float32", "torch half"):
        assert len(re.findall(rf"^\| {provider} \| [\d,]+ \| [\d,]+ \|$", out, re.M)) == 2, out
    for peer in ("xent float32", "torch half"):
        row = rf"^\| vs {peer} \| [\d.]+x \| [\d.]+x - [\d.]+x \|$"
        assert len(re.findall(row, out, re.M)) == 2, out
    assert "other processes used" in out.splitlines()[-1]


def test_bench_reference_torch():
    """One row per loss and option, both providers, a ratio and a spread each."""
    need_torch()
    args = ["--bce-exp", "4", "--rows", "4", "--classes", "4", "--rounds", "1"]
    out = run_script("bench_reference_torch.py", *args, "--batch-time", "0.001", "--markdown")
    assert out.startswith("# Benchmark: xent's reference on torch tensors"), out
    heads = table_heads(out, markdown=True)
    assert heads == [
        ["config", "elements", "xent reference M/s", "torch M/s", "ratio", "spread"]
    ], out
    names = ["bce_logits", "bce", "focal", "ce", "ce_weight", "ce_smoothing", "ce_ignore"]
    names += ["ce_probs", "ce_probs_weight", "ce_probs_smoothing"]
    for name in names:
        assert re.search(rf"^\| {name} \| 16 \| [\d,]+ \| [\d,]+ \| [\d.]+x \|", out, re.M), out
    assert "other processes used" in out.splitlines()[-1]


def test_bench_eval():
    if not installed("pyarrow"):
        pytest.skip("the script writes its Parquet file with pyarrow (not installed)")
    args = ["--rows", "1000", "--repeat", "1"]
    comparison = all(installed(m) for m in ("pandas", "scipy", "sklearn"))
    out = run_script("bench_eval.py", *args, *([] if comparison else ["--skip-pandas"]))
    assert "wrote 1,000 rows" in out, out
    assert re.search(r"^xent eval: .*M rows/s .*loss \d", out, re.M), out
    if comparison:
        assert "pandas + sklearn:" in out, out
        differ = re.search(r"losses differ by (\S+) \(relative\)", out)
        assert differ is not None, out
        assert float(differ.group(1)) < 1e-6, out  # the same loss of the same file


def test_bench_kernel_compute():
    ext = extension()  # it times the compiled kernels: skipped (or failed) without them
    out = run_script("bench_kernel_compute.py", "--size", "1024", "--rounds", "1")
    assert out.startswith("# BCE with logits, float32"), out
    timed = re.findall(r"^(\w+)\s+median\s+[\d,]+ M elem/s\s+best\s+[\d,]+ M elem/s$", out, re.M)
    assert timed == list(ext.supported_isas()), out  # one line per instruction set, best first


def test_bench_dask():
    extension()  # it compares the kernels with the reference on Dask
    if not installed("dask"):
        pytest.skip("the script runs xent on Dask arrays (dask not installed)")
    args = ["--sizes", "8", "--chunk-exp", "5", "--classes", "4", "--rounds", "1"]
    out = run_script("bench_dask.py", *args, "--batch-time", "0.001")
    assert "scheduler: threads" in out.splitlines()[0], out
    providers = ["xent dask", "xent dask reference", "xent numpy"]
    for title in ("binary_cross_entropy_with_logits on Dask", "cross_entropy on Dask"):
        part = out[out.index(f"# {title}") :]
        part = part[: part.index("other processes used") + 60]
        heads = table_heads(part, markdown=False)
        assert len(heads) == 4 and all(p in h for h in heads for p in providers), out
    assert "| 64x4 |" in out or re.search(r"^\s*64x4\s", out, re.M), out


def test_bench_small():
    need_torch()
    args = ["--batch", "8", "--classes", "3", "--rounds", "1", "--batch-time", "0.001"]
    out = run_script("bench_small.py", *args, "--markdown")
    assert out.startswith("# Benchmark: the time of one call on small inputs"), out
    head = "| case | kernels | xent us | torch us | xent / torch | range | goal | met |"
    assert head in out, out
    rows = [line for line in out.splitlines() if line.startswith("| ") and line != head]
    cases = ["value_and_grad(BCE with logits), NumPy (8,)", "BCEWithLogitsLoss (8,)"]
    cases.append("CrossEntropyLoss (8, 3)")
    assert [r.split(" | ")[:2] for r in rows] == [
        [f"| {case}", kernels] for case in cases for kernels in ("on", "off")
    ], out
    for row in rows[2:]:  # the Modules: a torch time and a ratio
        assert re.search(r"\| [\d.]+ \| [\d.]+ \| [\d.]+x \| [\d.]+-[\d.]+x \|", row), row
    assert "other processes used" in out.splitlines()[-1]


def test_bench_jax():
    """All four losses, value_and_grad only (the forward mode runs the same factories)."""
    if not (installed("jax") and installed("optax")):
        pytest.skip("the script compares xent on JAX arrays with optax (jax or optax missing)")
    args = ["--sizes", "4", "--classes", "4", "--rounds", "1", "--batch-time", "0.001"]
    out = run_script("bench_jax.py", *args, "--modes", "forward+backward", "--markdown")
    assert out.startswith("# jax "), out[:200]
    titles = re.findall(r"^# JAX jit, (.*), float32, mean$", out, re.M)
    assert len(titles) == 4, out
    for title in titles:
        part = out[out.index(f"# JAX jit, {title}") :]
        part = part[: part.index("other processes used") + 60]
        heads = table_heads(part, markdown=True)
        assert len(heads) == 2, part  # median with ratios, best round
        assert all(p in h for h in heads for p in ["xent", "xent.optax", "optax"]), part
        assert "vs optax" in heads[0] and "unavailable" not in part, part
    assert "| 2^4 |" in out, out  # the binary losses: 16 elements
    assert "| 4x4 |" in out, out  # the softmax losses: 4 rows of 4 classes
