"""`xent eval`: reports against a float64 NumPy reference on generated files of every
format, batch-size independence, the Dask engine, bad input, --per-row and --plot."""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pytest.importorskip("pyarrow.csv")

from kernel_helpers import extension  # noqa: E402
from xent import cli  # noqa: E402  (after the importorskip of its dependencies)
from xent.cli import _batches, _engines, _job, _report, _sources  # noqa: E402

SRC = str(Path(cli.__file__).resolve().parents[2])
EPS32 = float(np.finfo(np.float32).eps)
EPS64 = float(np.finfo(np.float64).eps)
N = 3000


# --------------------------------------------------------------------------- data


def make_data(n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    logit = (rng.standard_normal(n) * 3 - 1).astype(np.float32)
    logit[:4] = [-40.0, 40.0, 0.0, -1e-3]  # both tails and the middle
    p64 = 1.0 / (1.0 + np.exp(-logit.astype(np.float64)))
    prob = p64.astype(np.float32)
    prob[4:8] = [0.0, 1.0, 0.0, 1.0]  # PyTorch's clamp at -100 when the label disagrees
    label = (rng.random(n) < p64).astype(np.int8)
    label[4:8] = [0, 1, 1, 0]
    soft = rng.random(n)  # float64 soft labels
    weight = (rng.random(n) * 2).astype(np.float32)
    weight[8] = 0.0
    return {"logit": logit, "prob": prob, "label": label, "soft": soft, "weight": weight}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return make_data()


def write(path: Path, kind: str, columns: dict[str, np.ndarray], row_group: int = 700) -> Path:
    """`columns` written as a file of `kind`; returns its path."""
    if kind == "parquet":
        pq.write_table(pa.table(columns), path, row_group_size=row_group)
    elif kind == "csv":
        names = list(columns)
        with open(path, "w") as f:
            f.write(",".join(names) + "\n")
            for row in zip(*(columns[c].tolist() for c in names), strict=True):
                f.write(",".join(repr(v) for v in row) + "\n")
    elif kind == "feather":
        import pyarrow.feather as feather

        feather.write_feather(pa.table(columns), path, chunksize=row_group)
    elif kind == "arrows":  # an IPC stream
        table = pa.table(columns)
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_stream(sink, table.schema) as w:
            for batch in table.to_batches(max_chunksize=row_group):
                w.write_batch(batch)
    elif kind == "npy":  # a structured array: one field per column
        n = len(next(iter(columns.values())))
        records = np.empty(n, dtype=[(c, v.dtype) for c, v in columns.items()])
        for c, v in columns.items():
            records[c] = v
        np.save(path, records)
    elif kind == "npz":
        np.savez_compressed(path, **columns)
    else:
        raise AssertionError(kind)
    return path


FORMATS = ["parquet", "csv", "feather", "arrows", "npy", "npz"]


# --------------------------------------------------------------------------- reference


def reference(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None = None,
    *,
    from_logits: bool = False,
    pos_weight: float | None = None,
    label_smoothing: float = 0.0,
    focal: tuple[float, float] | None = None,  # (gamma, alpha)
    reduction: str = "mean",
) -> tuple[dict[str, float], np.ndarray]:
    """The report and the per-row (weighted) losses, in float64 from the definitions."""
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    w = np.ones_like(x) if w is None else w.astype(np.float64)
    ys = y * (1 - label_smoothing) + 0.5 * label_smoothing
    if from_logits:
        p = 1.0 / (1.0 + np.exp(-x))
        softplus, softplus_neg = np.logaddexp(0.0, x), np.logaddexp(0.0, -x)
        ce = (1 - ys) * softplus + (1.0 if pos_weight is None else pos_weight) * ys * softplus_neg
        if focal is not None:
            gamma, alpha = focal
            ce = ((1 - ys) * softplus + ys * softplus_neg) * (p * (1 - ys) + (1 - p) * ys) ** gamma
            if alpha >= 0:
                ce = ce * (alpha * ys + (1 - alpha) * (1 - ys))
        loss = ce
    else:
        p = x
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), -100.0)
            log_q = np.maximum(np.log1p(-p), -100.0)
        loss = -(ys * log_p + (1 - ys) * log_q)
    loss = w * loss
    total = w.sum()
    mean = loss.sum() / total
    rate = (w * y).sum() / total
    entropy = -(rate * np.log(rate) + (1 - rate) * np.log1p(-rate))
    mean_prediction = (w * p).sum() / total
    return {
        "loss": loss.sum() if reduction == "sum" else mean,
        "count": len(x),
        "positives": y.sum(),
        "base_rate": rate,
        "normalized_entropy": mean / entropy,
        "mean_prediction": mean_prediction,
        "calibration": mean_prediction / rate,
    }, loss


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    status = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def run_json(argv: list, capsys: pytest.CaptureFixture[str]) -> dict:
    status, out, err = run(["eval", *argv, "--format", "json"], capsys)
    assert status == 0, err
    assert err == ""  # no progress bar when stderr is not a terminal, no skipped rows
    return json.loads(out)


def assert_report(got: dict, want: dict, rtol: float) -> None:
    assert list(got) == list(_report.REPORT_KEYS)
    assert got["count"] == want["count"]
    assert got["positives"] == pytest.approx(want["positives"], rel=rtol)
    for key in ("loss", "base_rate", "normalized_entropy", "mean_prediction", "calibration"):
        assert got[key] == pytest.approx(want[key], rel=rtol, abs=0), key
    assert got["seconds"] >= 0


# Tolerance of a report computed in float32 (Parquet/IPC/NPY float32 columns) or in
# float64 (CSV values parse as float64): a few eps of the compute dtype per row.
def rtol_of(kind: str) -> float:
    return 16 * (EPS64 if kind == "csv" else EPS32)


# --------------------------------------------------------------------------- reports

CASES = {
    "logits": (["--from-logits"], {"from_logits": True}, ("logit", "label", None)),
    "probabilities-weighted": (["--weight-col", "weight"], {}, ("prob", "label", "weight")),
    "logits-posweight-smoothing-sum": (
        ["--from-logits", "--pos-weight", "2.5", "--label-smoothing", "0.1", "--reduction", "sum"],
        {"from_logits": True, "pos_weight": 2.5, "label_smoothing": 0.1, "reduction": "sum"},
        ("logit", "label", None),
    ),
    "focal-weighted-soft-labels": (
        ["--from-logits", "--focal-gamma", "2", "--focal-alpha", "0.25", "--weight-col", "weight"],
        {"from_logits": True, "focal": (2.0, 0.25)},
        ("logit", "soft", "weight"),
    ),
}


@pytest.mark.parametrize("kind", FORMATS)
@pytest.mark.parametrize("case", list(CASES))
def test_report_matches_float64_reference(tmp_path, capsys, data, kind, case):
    flags, options, (x, y, w) = CASES[case]
    names = [c for c in (x, y, w) if c is not None]
    path = write(tmp_path / f"preds.{kind}", kind, {c: data[c] for c in names})
    got = run_json([path, "--input", x, "--target", y, *flags], capsys)
    want, _ = reference(data[x], data[y], None if w is None else data[w], **options)
    assert_report(got, want, rtol_of(kind))


@pytest.mark.parametrize("case", list(CASES))
def test_report_is_the_same_without_the_kernels(tmp_path, capsys, data, case, monkeypatch):
    """The compiled sums (one fused pass) and the reference path (XENT_DISABLE_KERNELS)
    give the same report and per-row losses, to the compute dtype's rounding."""
    extension()  # without the kernels both runs would be the reference
    flags, _, (x, y, w) = CASES[case]
    names = [c for c in (x, y, w) if c is not None]
    path = write(tmp_path / "preds.parquet", "parquet", {c: data[c] for c in names})
    reports, losses = [], []
    for disabled in ("0", "1"):
        monkeypatch.setenv("XENT_DISABLE_KERNELS", disabled)
        out = tmp_path / f"losses-{disabled}.parquet"
        reports.append(
            run_json([path, "--input", x, "--target", y, *flags, "--per-row", out], capsys)
        )
        losses.append(pq.read_table(out).column("loss").to_numpy())
    assert reports[1]["count"] == reports[0]["count"]
    assert reports[1]["positives"] == reports[0]["positives"]
    for key in ("loss", "base_rate", "normalized_entropy", "mean_prediction", "calibration"):
        assert reports[1][key] == pytest.approx(reports[0][key], rel=rtol_of("parquet")), key
    # a few float32 ulps of each loss, or of the terms of a logits loss (~ |x| (1 + pos_weight))
    weight = 1.0 if w is None else data[w].astype(np.float64)
    terms = weight * (np.abs(data[x].astype(np.float64)) + 1) * 3.5
    bound = 16 * EPS32 * (np.abs(losses[1]) + terms) + 1e-300
    np.testing.assert_array_less(np.abs(losses[1] - losses[0]), bound)


def test_float64_columns_are_scored_in_float64(tmp_path, capsys, data):
    x = data["logit"].astype(np.float64) + 1e-9  # not representable in float32
    path = write(tmp_path / "f64.parquet", "parquet", {"x": x, "y": data["soft"]})
    got = run_json([path, "--input", "x", "--target", "y", "--from-logits"], capsys)
    want, _ = reference(x, data["soft"], from_logits=True)
    assert_report(got, want, 16 * EPS64)


def test_directories_and_globs_read_as_one_dataset(tmp_path, capsys, data):
    folder = tmp_path / "dataset"
    folder.mkdir()
    cols = {"p": data["prob"], "y": data["label"]}
    for i, part in enumerate(np.array_split(np.arange(N), 3)):
        write(folder / f"part-{i}.parquet", "parquet", {k: v[part] for k, v in cols.items()})
    (folder / "_SUCCESS").write_text("")  # ignored, as pyarrow.dataset does
    want, _ = reference(data["prob"], data["label"])
    for source in (folder, folder / "part-*.parquet"):
        got = run_json([source, "--input", "p", "--target", "y"], capsys)
        assert_report(got, want, rtol_of("parquet"))


def test_npy_2d_array_columns_by_index(tmp_path, capsys, data):
    table = np.stack([data["logit"], data["label"].astype(np.float32)], axis=1)
    for order in ("C", "F"):
        path = tmp_path / f"table-{order}.npy"
        np.save(path, np.asarray(table, order=order))
        got = run_json([path, "--input", "0", "--target", "1", "--from-logits"], capsys)
        want, _ = reference(data["logit"], data["label"], from_logits=True)
        assert_report(got, want, rtol_of("npy"))


@pytest.mark.parametrize("kind", ["parquet", "csv", "npy"])
def test_report_does_not_depend_on_the_batch_size(tmp_path, capsys, data, kind):
    path = write(tmp_path / f"p.{kind}", kind, {"x": data["logit"], "y": data["soft"]})
    reports = [
        run_json(
            [path, "--input", "x", "--target", "y", "--from-logits", "--batch-rows", b], capsys
        )
        for b in (1, 7, 1000, N)
    ]
    for other in reports[1:]:
        for key in _report.REPORT_KEYS[:-1]:  # all but seconds
            assert other[key] == pytest.approx(reports[0][key], rel=4 * EPS64, abs=0), key


def test_compensated_sums_do_not_depend_on_grouping():
    rng = np.random.default_rng(3)
    values = rng.standard_normal(1000) * 10.0 ** rng.integers(-8, 8, 1000)
    parts = []
    for v in values:
        t = _job.Totals(count=1)
        t.sums[:] = v
        parts.append(t)
    exact = math.fsum(values)  # correctly rounded
    forward = _job.combine_all(parts).value(_job.LOSS)
    backward = _job.combine_all(parts[::-1]).value(_job.LOSS)
    halves = _job.combine(_job.combine_all(parts[:500]), _job.combine_all(parts[500:]))
    for got in (forward, backward, halves.value(_job.LOSS)):
        assert got == pytest.approx(exact, rel=2 * EPS64, abs=0)


def test_empty_file_reports_nan_as_null(tmp_path, capsys):
    path = write(tmp_path / "empty.parquet", "parquet", {"p": np.zeros(0, np.float32), "y": []})
    got = run_json([path, "--input", "p", "--target", "y"], capsys)
    assert got["count"] == 0 and got["loss"] is None and got["base_rate"] is None


def test_text_report_names_every_figure(tmp_path, capsys, data):
    path = write(tmp_path / "p.parquet", "parquet", {"p": data["prob"], "y": data["label"]})
    status, out, err = run(["eval", path, "--input", "p", "--target", "y"], capsys)
    assert status == 0 and err == ""
    want, _ = reference(data["prob"], data["label"])
    labels = [line[:23].strip() for line in out.splitlines()]
    assert labels == [
        "loss (mean)",
        "count",
        "positives",
        "base rate",
        "normalized entropy",
        "mean prediction",
        "calibration",
        "rows/s",
    ]
    assert float(out.splitlines()[0][23:]) == pytest.approx(want["loss"], rel=1e-5)


# --------------------------------------------------------------------------- Dask


def test_dask_engine_on_a_local_cluster_agrees_with_local(tmp_path, capsys, data):
    pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")
    cols = {"x": data["logit"], "y": data["label"], "w": data["weight"]}
    halves = np.array_split(np.arange(N), 2)
    write(tmp_path / "a.parquet", "parquet", {k: v[halves[0]] for k, v in cols.items()}, 400)
    write(tmp_path / "b.npy", "npy", {k: v[halves[1]] for k, v in cols.items()})
    args = [tmp_path / "a.parquet", tmp_path / "b.npy", "--input", "x", "--target", "y"]
    args += ["--from-logits", "--weight-col", "w", "--batch-rows", "300"]
    local = run_json(args, capsys)
    dask = run_json([*args, "--engine", "dask"], capsys)
    for key in _report.REPORT_KEYS[:-1]:
        assert dask[key] == pytest.approx(local[key], rel=1e-9, abs=0), key
    want, _ = reference(data["logit"], data["label"], data["weight"], from_logits=True)
    assert_report(dask, want, rtol_of("parquet"))
    # a bad row found on a worker: the same one line as the local engine, status 2
    bad = dict(cols, x=cols["x"].copy())
    bad["x"][2345] = np.nan
    write(tmp_path / "b.npy", "npy", {k: v[halves[1]] for k, v in bad.items()})
    status, out, err = run(["eval", *args, "--engine", "dask"], capsys)
    assert (status, out) == (2, "")
    assert err == (
        f"xent eval: error: {tmp_path / 'b.npy'}: column 'x', row {2345 - 1500}: prediction is "
        "NaN; fix the data or pass --on-bad-rows skip to leave such rows out\n"
    )


def test_dask_pieces_cover_every_row_once(tmp_path, data):
    path = write(tmp_path / "a.parquet", "parquet", {"x": data["logit"], "y": data["label"]}, 400)
    job = _job.Job(input="x", target="y", from_logits=True, batch_rows=128)
    pieces = _sources.plan([str(path)], job, split=True)
    assert len(pieces) == 8  # one per row group
    totals = _job.combine_all([_engines.score_piece(p, job) for p in pieces])
    assert totals.count == N
    want, _ = reference(data["logit"], data["label"], from_logits=True)
    got = _report.report(totals, job, 0.0)
    assert got["loss"] == pytest.approx(want["loss"], rel=rtol_of("parquet"))


# --------------------------------------------------------------------------- bad input


def _corrupt_parquet_page(path: Path) -> None:
    """Overwrite the first data page of the second row group (its header is Thrift)."""
    meta = pq.ParquetFile(path).metadata
    column = meta.row_group(1).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    raw = bytearray(path.read_bytes())
    raw[start : start + 64] = b"\xff" * 64
    path.write_bytes(bytes(raw))


def _truncate(path: Path, keep: float = 0.6) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[: int(len(raw) * keep)])


def _bad(kind: str, tmp_path: Path, data: dict) -> tuple[Path, list[str]]:
    """A bad file (or path) of each sort; the flags to pass."""
    p, y, w = data["prob"].copy(), data["label"].copy(), data["weight"].copy()
    cols = {"p": p, "y": y}
    flags = ["--input", "p", "--target", "y"]
    if kind == "missing-file":
        return tmp_path / "nowhere.parquet", flags
    if kind == "glob-matches-nothing":
        return tmp_path / "nothing-*.parquet", flags
    if kind == "missing-column":
        return write(tmp_path / "c.parquet", "parquet", cols), ["--input", "q", "--target", "y"]
    if kind == "missing-column-csv":
        return write(tmp_path / "c.csv", "csv", cols), ["--input", "p", "--target", "label"]
    if kind == "missing-column-npz":
        return write(tmp_path / "c.npz", "npz", cols), ["--input", "p", "--target", "label"]
    if kind == "unparseable-csv":
        path = write(tmp_path / "u.csv", "csv", cols)
        lines = path.read_text().splitlines()
        lines[1 + 1234] = "abc," + lines[1 + 1234].split(",")[1]
        path.write_text("\n".join(lines) + "\n")
        return path, flags
    if kind == "malformed-csv-line":
        path = write(tmp_path / "m.csv", "csv", cols)
        lines = path.read_text().splitlines()
        lines[1 + 1234] = "0.5"
        path.write_text("\n".join(lines) + "\n")
        return path, flags
    if kind == "nan-probability":
        p[1234] = np.nan
    elif kind == "probability-above-one":
        p[1234] = 1.5
    elif kind == "negative-probability-npy":
        p[1234] = -0.25
        return write(tmp_path / "n.npy", "npy", cols), flags
    elif kind == "label-outside":
        y[1234] = 2
    elif kind == "nan-label-csv":
        cols["y"] = y.astype(np.float64)
        cols["y"][1234] = np.nan
        return write(tmp_path / "l.csv", "csv", cols), flags
    elif kind == "missing-value":
        table = pa.table(cols)
        table = table.set_column(0, "p", pa.array(p, mask=np.arange(N) == 1234))
        pq.write_table(table, tmp_path / "null.parquet", row_group_size=700)
        return tmp_path / "null.parquet", flags
    elif kind == "negative-weight":
        w[1234] = -1.0
        cols["w"] = w
        flags = [*flags, "--weight-col", "w"]
    elif kind == "text-column":
        cols["p"] = np.array([f"{v!r}x" for v in p.tolist()])
        return write(tmp_path / "t.parquet", "parquet", cols), flags
    elif kind == "truncated-parquet":
        path = write(tmp_path / "t.parquet", "parquet", cols)
        _truncate(path)
        return path, flags
    elif kind == "corrupt-parquet-page":
        path = write(tmp_path / "c.parquet", "parquet", cols)
        _corrupt_parquet_page(path)
        return path, flags
    elif kind == "truncated-feather":
        path = write(tmp_path / "t.feather", "feather", cols)
        _truncate(path)
        return path, flags
    elif kind == "truncated-arrow-stream":
        path = write(tmp_path / "t.arrows", "arrows", cols)
        _truncate(path)
        return path, flags
    elif kind == "truncated-npy":
        path = write(tmp_path / "t.npy", "npy", cols)
        _truncate(path)
        return path, flags
    elif kind == "truncated-npz":
        path = write(tmp_path / "t.npz", "npz", cols)
        _truncate(path)
        return path, flags
    elif kind == "corrupt-npz-member":  # deflated data of the first array overwritten
        path = write(tmp_path / "c.npz", "npz", cols)
        raw = bytearray(path.read_bytes())
        raw[200:400] = bytes(200)
        path.write_bytes(bytes(raw))
        return path, flags
    elif kind == "corrupt-npz-header":  # stored (not deflated): the header is plain text
        path = tmp_path / "h.npz"
        np.savez(path, **cols)
        raw = path.read_bytes()
        start = raw.index(b"{'descr'")
        path.write_bytes(raw[:start] + b"}}}}}}}}" + raw[start + 8 :])
        return path, flags
    elif kind == "corrupt-feather-body":  # the first record batch's data overwritten
        path = write(tmp_path / "c.feather", "feather", cols)
        raw = bytearray(path.read_bytes())
        raw[8:2000] = b"\xff" * 1992
        path.write_bytes(bytes(raw))
        return path, flags
    else:
        raise AssertionError(kind)
    return write(tmp_path / f"{kind}.parquet", "parquet", cols), flags


# kind -> what the one line must name (besides the file): column, row, the problem
BAD = {
    "missing-file": ["no such file"],
    "glob-matches-nothing": ["no file matches"],
    "missing-column": ["no column 'q'", "'p', 'y'", "--input"],
    "missing-column-csv": ["no column 'label'", "--target"],
    "missing-column-npz": ["no column 'label'", "--target"],
    "unparseable-csv": ["column 'p', row 1234", "cannot parse 'abc'"],
    "malformed-csv-line": ["line 1236", "malformed CSV line"],
    "nan-probability": ["column 'p', row 1234 (row group 1)", "NaN"],
    "probability-above-one": ["column 'p', row 1234 (row group 1)", "1.5 is outside [0, 1]"],
    "negative-probability-npy": ["column 'p', row 1234", "-0.25 is outside [0, 1]"],
    "label-outside": ["column 'y', row 1234 (row group 1)", "label 2 is outside [0, 1]"],
    "nan-label-csv": ["column 'y', row 1234", "label nan is outside [0, 1]"],
    "missing-value": ["column 'p', row 1234 (row group 1)", "missing value"],
    "negative-weight": ["column 'w', row 1234 (row group 1)", "weight -1.0 is negative"],
    "text-column": ["column 'p', row 0", "cannot parse"],
    "truncated-parquet": ["truncated or corrupt"],
    "corrupt-parquet-page": ["row group 1 (rows from 700)", "truncated or corrupt"],
    "truncated-feather": ["truncated or corrupt"],
    "truncated-arrow-stream": ["record batch", "truncated or corrupt"],
    "truncated-npy": ["ends at row", "truncated"],
    "truncated-npz": ["truncated or corrupt"],
    "corrupt-npz-member": ["truncated or corrupt"],
    "corrupt-npz-header": ["truncated or corrupt"],
    "corrupt-feather-body": ["truncated or corrupt"],
}


@pytest.mark.parametrize("kind", list(BAD))
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, data, kind):
    path, flags = _bad(kind, tmp_path, data)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    per_row = out_dir / "losses.parquet"
    status, out, err = run(["eval", path, *flags, "--per-row", per_row], capsys)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("xent eval: error: "), err
    assert "Traceback" not in err
    assert str(path) in err, err
    for fragment in BAD[kind]:
        assert fragment in err, err
    assert list(out_dir.iterdir()) == []  # no partial --per-row output, no temporary file


ROW_LEVEL = {  # bad-row kinds that --on-bad-rows skip drops and counts
    "unparseable-csv": "unparseable value",
    "malformed-csv-line": "malformed CSV line",
    "nan-probability": "NaN prediction",
    "probability-above-one": "prediction outside [0, 1]",
    "negative-probability-npy": "prediction outside [0, 1]",
    "label-outside": "label outside [0, 1]",
    "nan-label-csv": "label outside [0, 1]",
    "missing-value": "missing value",
    "negative-weight": "invalid weight",
}


@pytest.mark.parametrize("kind", list(ROW_LEVEL))
def test_skip_drops_bad_rows_and_counts_them_by_reason(tmp_path, capsys, data, kind):
    path, flags = _bad(kind, tmp_path, data)
    status, out, err = run(
        ["eval", path, *flags, "--on-bad-rows", "skip", "--format", "json"], capsys
    )
    assert status == 0, err
    assert err == f"xent eval: skipped 1 rows: 1 {ROW_LEVEL[kind]}\n"
    got = json.loads(out)
    keep = np.arange(N) != 1234
    w = data["weight"][keep] if "--weight-col" in flags else None
    want, _ = reference(data["prob"][keep], data["label"][keep], w)
    assert_report(got, want, rtol_of("csv" if "csv" in kind else "parquet"))
    status, out, err = run(["eval", path, *flags, "--on-bad-rows", "skip"], capsys)
    assert f"{'skipped':<23}1 rows: 1 {ROW_LEVEL[kind]}" in out.splitlines()


def test_skip_counts_each_row_once_by_its_first_reason(tmp_path, capsys, data):
    p, y = data["prob"].copy(), data["label"].astype(np.float64)
    p[[10, 11, 12]] = [np.nan, 2.0, 0.5]
    y[[10, 11, 12, 13]] = [5.0, 5.0, -1.0, np.nan]
    path = write(tmp_path / "p.parquet", "parquet", {"p": p, "y": y})
    status, out, err = run(
        ["eval", path, "--input", "p", "--target", "y", "--on-bad-rows", "skip"], capsys
    )
    assert status == 0, err
    assert "4 rows: 1 NaN prediction, 1 prediction outside [0, 1], 2 label outside [0, 1]" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--pos-weight", "2"], "--pos-weight needs logits"),
        (["--focal-gamma", "2"], "--focal-gamma needs logits"),
        (["--from-logits", "--focal-alpha", "0.5"], "--focal-alpha needs --focal-gamma"),
        (["--from-logits", "--focal-gamma", "-1"], "--focal-gamma must be >= 0"),
        (["--label-smoothing", "1.5"], "--label-smoothing must be in [0, 1]"),
        (["--scheduler", "tcp://x:1"], "--scheduler needs --engine dask"),
        (["--engine", "dask", "--per-row", "o.parquet"], "--per-row is written by the local"),
        (["--plot", "/nowhere/at/all/p.png"], "the directory /nowhere/at/all does not exist"),
        (["--per-row", "/nowhere/at/all/o.parquet"], "the directory /nowhere/at/all does not"),
    ],
    ids=[
        "pos-weight-probs",
        "focal-probs",
        "alpha-alone",
        "gamma<0",
        "ls>1",
        "scheduler",
        "dask",
        "plot-dir",
        "per-row-dir",
    ],
)
def test_bad_option_combinations(tmp_path, capsys, data, argv, message):
    path = write(tmp_path / "p.parquet", "parquet", {"p": data["prob"], "y": data["label"]})
    status, out, err = run(["eval", path, "--input", "p", "--target", "y", *argv], capsys)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and message in err


def test_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["eval", "file.parquet", "--target", "y"])
    assert exc.value.code == 2
    assert "--input" in capsys.readouterr().err


# --------------------------------------------------------------------------- outputs


@pytest.mark.parametrize("skip", [False, True], ids=["clean", "with-skipped-rows"])
def test_per_row_writes_each_rows_weighted_loss(tmp_path, capsys, data, skip):
    p = data["prob"].copy()
    if skip:
        p[[5, 2500]] = np.nan
    cols = {"p": p, "y": data["label"], "w": data["weight"]}
    path = write(tmp_path / "p.parquet", "parquet", cols)
    out = tmp_path / "losses.parquet"
    flags = ["--input", "p", "--target", "y", "--weight-col", "w", "--batch-rows", "512"]
    status, _, err = run(["eval", path, *flags, "--per-row", out, "--on-bad-rows", "skip"], capsys)
    assert status == 0, err
    written = pq.read_table(out)
    assert written.schema.names == ["loss"] and written.num_rows == N
    losses = written.column("loss")
    _, want = reference(np.nan_to_num(p), data["label"], data["weight"])
    valid = ~np.isnan(p)
    assert np.array_equal(losses.is_null().to_numpy(zero_copy_only=False), ~valid)
    got = losses.to_numpy(zero_copy_only=False)[valid]
    np.testing.assert_allclose(got, want[valid], rtol=8 * EPS32, atol=8 * EPS32)
    assert sorted(os.listdir(tmp_path)) == ["losses.parquet", "p.parquet"]


def _png_size(path: Path) -> tuple[int, int]:
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    length, chunk = struct.unpack(">I4s", raw[8:16])
    assert (length, chunk) == (13, b"IHDR")
    crc = struct.unpack(">I", raw[29:33])[0]
    assert crc == zlib.crc32(raw[12:29])  # a well-formed header chunk
    assert raw[-12:] == b"\x00\x00\x00\x00IEND\xaeB`\x82"
    return struct.unpack(">II", raw[16:24])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_plot_is_a_png_of_the_expected_size(tmp_path, capsys, data, weighted):
    pytest.importorskip("matplotlib")
    cols = {"x": data["logit"], "y": data["label"], "w": data["weight"]}
    path = write(tmp_path / "p.parquet", "parquet", cols)
    png = tmp_path / "reliability.png"
    flags = ["--weight-col", "w"] if weighted else []
    status, _, err = run(
        ["eval", path, "--input", "x", "--target", "y", "--from-logits", "--plot", png, *flags],
        capsys,
    )
    assert status == 0, err
    width, height = _report.PLOT_SIZE
    assert _png_size(png) == (round(width * _report.PLOT_DPI), round(height * _report.PLOT_DPI))


def test_reliability_bins_hold_the_weighted_rates(data):
    x, y, w = data["logit"], data["label"], data["weight"]
    job = _job.Job(input="x", target="y", weight="w", from_logits=True, bins=True)
    clean = _batches.check_batch(
        job, _batches.Where("f", 0), {"input": x, "target": y, "weight": w}
    )
    totals, _ = _job.score(job, clean.x, clean.y, clean.w)
    bins = _report.reliability_bins(totals.bins)
    assert sum(b["rows"] for b in bins) == N
    p = 1.0 / (1.0 + np.exp(-x.astype(np.float64)))
    for b in bins:  # each bin: weighted mean prediction and label of the rows in it
        inside = (p >= b["low"]) & (p < b["high"]) if b["high"] < 1 else p >= b["low"]
        assert inside.sum() == b["rows"]
        ws = w[inside].astype(np.float64)
        assert b["predicted"] == pytest.approx((ws * p[inside]).sum() / ws.sum(), rel=1e-6)
        assert b["observed"] == pytest.approx((ws * y[inside]).sum() / ws.sum(), rel=1e-6)


# --------------------------------------------------------------------------- the program


def _subprocess(*argv: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-m", "xent.cli", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_subprocess_report_and_bad_input(tmp_path, data):
    path = write(tmp_path / "p.csv", "csv", {"x": data["logit"], "y": data["label"]})
    done = _subprocess("eval", path, "--input", "x", "--target", "y", "--from-logits")
    assert done.returncode == 0 and done.stderr == ""  # stderr is not a terminal: no bar
    assert done.stdout.startswith("loss (mean)")
    path.write_text(path.read_text().replace("\n-", "\n?", 1))
    done = _subprocess("eval", path, "--input", "x", "--target", "y", "--from-logits")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"{path}: column 'x', row " in done.stderr and "cannot parse '?" in done.stderr


def test_progress_bar_draws_rows_rate_and_eta(capsys, monkeypatch):
    clock = iter([0.0, 1.0, 2.0])
    monkeypatch.setattr(_engines.time, "perf_counter", lambda: next(clock))
    progress = _engines.Progress(total=4_000_000, enabled=True)
    progress.update(1_000_000)
    progress.close()
    err = capsys.readouterr().err
    assert "1,000,000/4,000,000 rows (25%)" in err and "1.0M rows/s" in err
    assert "ETA 0:00:03" in err


def test_importing_xent_imports_no_cli_dependency():
    code = (
        "import sys, xent; "
        "print(sorted(m for m in ('xent.cli', 'pyarrow', 'dask', 'distributed', 'matplotlib', "
        "'pandas') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_entry_point_is_declared():
    import tomllib

    pyproject = Path(SRC).parent / "pyproject.toml"
    meta = tomllib.loads(pyproject.read_text())["project"]
    # the entry point outside the package that runs xent.cli.main (issue 16: Ctrl-C
    # during the imports), and setuptools installs it
    assert meta["scripts"] == {"xent": "_xent_cli:main"}
    setuptools = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]
    assert "_xent_cli" in setuptools["py-modules"]
    assert (Path(SRC) / "_xent_cli.py").is_file()
    assert any(d.startswith("pyarrow") for d in meta["optional-dependencies"]["cli"])
    assert any(d.startswith("matplotlib") for d in meta["optional-dependencies"]["cli"])
    assert any(d.startswith("dask[dataframe]") for d in meta["optional-dependencies"]["dask"])


def test_example_data_is_what_its_script_makes(capsys):
    import runpy

    examples = Path(SRC).parent / "examples"
    script = runpy.run_path(str(examples / "make_example_data.py"))
    committed = pq.read_table(examples / "data" / "clicks.parquet")
    assert committed.equals(script["make"]())
    assert (examples / "data" / "clicks.parquet").stat().st_size < 200_000
    # the README's first command, checked against the float64 reference
    got = run_json(
        [examples / "data" / "clicks.parquet", "--input", "prediction", "--target", "clicked"],
        capsys,
    )
    want, _ = reference(committed["prediction"].to_numpy(), committed["clicked"].to_numpy())
    assert_report(got, want, rtol_of("parquet"))


def test_local_engine_never_imports_pandas(tmp_path, data):
    """pyarrow's to_numpy and pa.array(ndarray) import pandas: a third of a second."""
    p = data["prob"].copy()
    table = pa.table({"p": pa.array(p, mask=np.arange(N) == 7), "y": data["label"]})
    pq.write_table(table, tmp_path / "p.parquet")
    write(tmp_path / "p.csv", "csv", {"p": p, "y": data["label"]})
    code = (
        "import sys; from xent import cli; "
        f"a = ['--input', 'p', '--target', 'y', '--on-bad-rows', 'skip', '--format', 'json']; "
        f"cli.main(['eval', {str(tmp_path / 'p.parquet')!r}, *a, '--per-row', "
        f"{str(tmp_path / 'o.parquet')!r}]); "
        f"cli.main(['eval', {str(tmp_path / 'p.csv')!r}, *a]); "
        "print('pandas' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "False"
    assert pq.read_table(tmp_path / "o.parquet").column("loss").null_count == 1
