r"""``xent eval``: the log loss (and friends) of prediction files of any size.

::

    xent eval FILE... --input COL --target COL [--from-logits] [--pos-weight W]
        [--weight-col COL] [--label-smoothing LS] [--focal-gamma G --focal-alpha A]
        [--reduction mean|sum] [--engine local|dask] [--scheduler ADDRESS]
        [--format text|json] [--per-row OUT.parquet] [--plot FILE.png]
        [--batch-rows N] [--on-bad-rows error|skip]

The files (Parquet files, directories and globs, CSV, Arrow IPC/Feather, NPY,
NPZ) are streamed in record batches of ``--batch-rows`` rows: memory is bounded
by the batch, not by the file. Each batch is checked, scored with the binary
family of ``xent._binary`` (reduction 'none'), and reduced to a few float64 sums
(:class:`Totals`); the sums of the batches (local engine) or of the partitions
(Dask engine) are merged by one function, :func:`combine`, with compensated
(Neumaier) addition, so the report does not depend on how the rows were cut.

With weights w (``--weight-col``, else w = 1), labels y, predicted probabilities
p (sigmoid of the logits with ``--from-logits``) and per-row losses l:

- loss: sum(w l) for ``--reduction sum``; sum(w l) / sum(w) for 'mean' (the
  weighted mean of scikit-learn's log_loss, *not* PyTorch's sum(w l) / N);
- base rate r = sum(w y) / sum(w); normalized entropy = mean loss / H(r),
  H(r) = -(r log r + (1 - r) log(1 - r)); mean prediction = sum(w p) / sum(w);
  calibration = mean prediction / r.

This module is the command line only: nothing in xent imports it, and it imports
pyarrow, matplotlib and dask only when a command needs them.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import math
import os
import sys
import time
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, BinaryIO

import numpy as np

from . import _binary
from ._array import namespace, sigmoid
from ._checks import check_finite_number, check_gamma, check_label_smoothing
from ._version import __version__

PROG = "xent eval"
BAD_INPUT = 2  # exit status for bad input and bad arguments (argparse's own)
DEFAULT_BATCH_ROWS = 1 << 18
SUB_BATCH_ROWS = 1 << 16  # rows scored at a time: the temporaries stay in cache
PLOT_SIZE = (8.0, 6.0)  # inches, at PLOT_DPI: an 800 x 600 PNG
PLOT_DPI = 100


class BadInput(Exception):
    """Bad data or arguments: one line on stderr, exit status 2, no traceback."""


# --------------------------------------------------------------------------- the job


@dataclass(frozen=True)
class Job:
    """What to compute: the columns and the loss, as the command line asked."""

    input: str
    target: str
    weight: str | None = None
    from_logits: bool = False
    pos_weight: float | None = None
    label_smoothing: float = 0.0
    focal_gamma: float | None = None
    focal_alpha: float = 0.25
    reduction: str = "mean"
    skip_bad_rows: bool = False
    batch_rows: int = DEFAULT_BATCH_ROWS
    bins: bool = False  # collect the reliability histogram (for --plot)

    @property
    def columns(self) -> dict[str, str]:
        """Role -> column name, in the order the checks report them."""
        roles = {"input": self.input, "target": self.target}
        if self.weight is not None:
            roles["weight"] = self.weight
        return roles


def elementwise_loss(job: Job, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each row's loss (unweighted) from the binary family of xent, in x's dtype."""
    xp = namespace(x)
    if job.focal_gamma is not None:
        y = _binary.smooth_targets(y, job.label_smoothing)
        loss, _ = _binary.sigmoid_focal_loss(
            xp, x, y, alpha=job.focal_alpha, gamma=job.focal_gamma, reduction="none"
        )
    elif job.from_logits:
        pos_weight = None if job.pos_weight is None else xp.asarray(job.pos_weight, dtype=x.dtype)
        loss, _ = _binary.binary_cross_entropy_with_logits(
            xp, x, y, pos_weight=pos_weight, label_smoothing=job.label_smoothing, reduction="none"
        )
    else:
        loss, _ = _binary.binary_cross_entropy(
            xp, x, y, label_smoothing=job.label_smoothing, reduction="none"
        )
    return loss


# --------------------------------------------------------------------------- sums

# The float64 sums each batch contributes; "weight" is the row count when unweighted.
SUMS = ("positives", "weight", "weighted_labels", "weighted_predictions", "loss")
_POSITIVES, _WEIGHT, _WLABELS, _WPREDS, _LOSS = range(len(SUMS))

# Why a row can be bad, in the order a row with several problems is counted.
REASONS = (
    "missing value",
    "unparseable value",
    "NaN prediction",
    "prediction outside [0, 1]",
    "label outside [0, 1]",
    "invalid weight",
    "malformed CSV line",
)
_MISSING, _UNPARSEABLE, _NAN_PREDICTION, _PREDICTION_RANGE, _LABEL, _WEIGHT_BAD, _MALFORMED = range(
    len(REASONS)
)

# Reliability histogram: fine bins, uniform in log-odds over [-10, 10] plus two open
# tails; the plot merges them into about PLOT_BINS bins of equal weight.
BIN_LOGITS = np.linspace(-10.0, 10.0, 201)
BIN_EDGES = 1.0 / (1.0 + np.exp(-BIN_LOGITS))  # in probability, float64
N_BINS = len(BIN_EDGES) + 1
PLOT_BINS = 20
_BIN_ROWS, _BIN_WEIGHT, _BIN_WPREDS, _BIN_WLABELS = range(4)


@dataclass
class Totals:
    """Mergeable partial results: row count, compensated float64 sums, skipped rows.

    ``sums + compensation`` is the running value of each of :data:`SUMS`.
    """

    count: int = 0
    sums: np.ndarray = field(default_factory=lambda: np.zeros(len(SUMS)))
    compensation: np.ndarray = field(default_factory=lambda: np.zeros(len(SUMS)))
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(len(REASONS), dtype=np.int64))
    bins: np.ndarray | None = None  # (4, N_BINS): rows, sum w, sum w p, sum w y

    def to_vector(self) -> np.ndarray:
        """Everything as one float64 vector (exact: counts stay below 2**53)."""
        bins = [] if self.bins is None else [self.bins.ravel()]
        head = [[self.count], self.sums, self.compensation, self.skipped]
        return np.concatenate([np.asarray(a, dtype=np.float64) for a in head + bins])

    @classmethod
    def from_vector(cls, vector: np.ndarray) -> Totals:
        k, r = len(SUMS), len(REASONS)
        bins = vector[1 + 2 * k + r :]
        return cls(
            count=int(vector[0]),
            sums=vector[1 : 1 + k].copy(),
            compensation=vector[1 + k : 1 + 2 * k].copy(),
            skipped=vector[1 + 2 * k : 1 + 2 * k + r].astype(np.int64),
            bins=bins.reshape(4, N_BINS).copy() if len(bins) else None,
        )

    def value(self, i: int) -> float:
        s, c = float(self.sums[i]), float(self.compensation[i])
        return s + c if math.isfinite(s) else s


def combine(a: Totals, b: Totals) -> Totals:
    """a + b, the one merge of both engines (batches and Dask partitions alike).

    Neumaier's compensated addition: the rounding error of each float64 addition is
    kept in ``compensation``, so the totals do not depend on how rows were grouped.
    """
    with np.errstate(invalid="ignore"):  # inf - inf in the error term of infinite sums
        total = a.sums + b.sums
        error = np.where(
            np.abs(a.sums) >= np.abs(b.sums), (a.sums - total) + b.sums, (b.sums - total) + a.sums
        )
        error = np.where(np.isfinite(error), error, 0.0)
    bins = a.bins if b.bins is None else b.bins if a.bins is None else a.bins + b.bins
    return Totals(
        a.count + b.count,
        total,
        a.compensation + b.compensation + error,
        a.skipped + b.skipped,
        bins,
    )


def combine_all(parts: Sequence[Totals]) -> Totals:
    total = Totals()
    for part in parts:
        total = combine(total, part)
    return total


def _sum64(a: np.ndarray) -> float:
    return float(np.sum(a, dtype=np.float64))


def score(
    job: Job, x: np.ndarray, y: np.ndarray, w: np.ndarray | None
) -> tuple[Totals, np.ndarray]:
    """Totals of clean rows, and each row's loss (times its weight)."""
    n = len(x)
    loss = np.empty(n, dtype=x.dtype)
    sums = np.zeros(len(SUMS))
    bins = np.zeros((4, N_BINS)) if job.bins else None
    for start in range(0, n, SUB_BATCH_ROWS):
        part = slice(start, start + SUB_BATCH_ROWS)
        xs, ys = x[part], y[part]
        ls = elementwise_loss(job, xs, ys)
        p = sigmoid(namespace(xs), xs) if job.from_logits else xs
        positives = _sum64(ys)
        sums[_POSITIVES] += positives
        if w is None:
            sums[_WEIGHT] += len(xs)
            sums[_WLABELS] += positives
            sums[_WPREDS] += _sum64(p)
        else:
            ws = w[part]
            ls = ls * ws
            sums[_WEIGHT] += _sum64(ws)
            sums[_WLABELS] += _sum64(ws * ys)
            sums[_WPREDS] += _sum64(ws * p)
        sums[_LOSS] += _sum64(ls)
        loss[part] = ls
        if bins is not None:
            index = np.searchsorted(BIN_EDGES, p, side="right")
            rows = np.bincount(index, minlength=N_BINS)
            bins[_BIN_ROWS] += rows
            if w is None:
                bins[_BIN_WEIGHT] += rows
                bins[_BIN_WPREDS] += np.bincount(index, weights=p, minlength=N_BINS)
                bins[_BIN_WLABELS] += np.bincount(index, weights=ys, minlength=N_BINS)
            else:
                ws = w[part]
                bins[_BIN_WEIGHT] += np.bincount(index, weights=ws, minlength=N_BINS)
                bins[_BIN_WPREDS] += np.bincount(index, weights=ws * p, minlength=N_BINS)
                bins[_BIN_WLABELS] += np.bincount(index, weights=ws * ys, minlength=N_BINS)
    return Totals(count=n, sums=sums, bins=bins), loss


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Where:
    """Where a batch comes from, to name the bad row in a message."""

    path: str
    row: int  # the batch's first row in the file (0-based, CSV header not counted)
    detail: str = ""  # e.g. "row group 3"

    def at(self, column: str | None, index: int) -> str:
        col = "" if column is None else f"column {column!r}, "
        detail = f" ({self.detail})" if self.detail else ""
        return f"{self.path}: {col}row {self.row + index}{detail}"


def _dtype_error(where: Where, column: str, kind: Any) -> BadInput:
    return BadInput(
        f"{where.path}: column {column!r} holds {kind}, not numbers; "
        "pass a numeric column (probabilities or logits, labels in [0, 1], weights)"
    )


# Arrow's fixed-width number types -> NumPy's (the Arrow types are made on first use).
_NUMPY_DTYPES = (
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)


def _bits(buffer: Any, offset: int, n: int) -> np.ndarray:
    """n bits of an Arrow bitmap (least significant bit first) as a bool array."""
    packed = np.frombuffer(buffer, dtype=np.uint8)
    return np.unpackbits(packed, count=offset + n, bitorder="little")[offset:].view(bool)


def _to_numpy(array: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """A number or boolean Arrow array as (NumPy values, mask of nulls or None), read
    from its buffers (zero-copy for numbers): Arrow's own to_numpy imports pandas, which
    costs a third of a second. Null slots hold 0."""
    import pyarrow as pa
    import pyarrow.types as pt

    n, offset = len(array), array.offset
    validity, data = array.buffers()[:2]
    missing = None if validity is None or array.null_count == 0 else ~_bits(validity, offset, n)
    if pt.is_boolean(array.type):
        values = _bits(data, offset, n)
    else:
        dtype = None
        for name in _NUMPY_DTYPES:
            if array.type == getattr(pa, name)():
                dtype = np.dtype(name)
                break
        if dtype is None:
            raise TypeError(f"not a fixed-width number type: {array.type}")
        values = np.frombuffer(data, dtype=dtype, count=n, offset=offset * dtype.itemsize)
    if missing is not None:
        values = np.where(missing, np.zeros((), values.dtype), values)
    return values, missing


def _from_numpy(values: np.ndarray, missing: np.ndarray | None) -> Any:
    """A float64 Arrow array of `values`, null where `missing` (without pandas)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.float64)
    validity = None
    if missing is not None and missing.any():
        validity = pa.py_buffer(np.packbits(~missing, bitorder="little"))
    return pa.Array.from_buffers(pa.float64(), len(values), [validity, pa.py_buffer(values)])


def _parse_strings(strings: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Strings parsed as float64 (nan where null), and the mask of those that do not parse."""
    import pyarrow as pa
    import pyarrow.compute as pc

    strings = pc.utf8_trim_whitespace(strings)
    try:
        return _to_numpy(pc.cast(strings, pa.float64()))[0], None
    except pa.ArrowInvalid:
        pass
    # Some value does not parse: find which by bisection (cheap when few are bad).
    values = np.zeros(len(strings))
    bad = np.zeros(len(strings), dtype=bool)
    stack = [(0, len(strings))]
    while stack:
        lo, hi = stack.pop()
        try:
            values[lo:hi] = _to_numpy(pc.cast(strings.slice(lo, hi - lo), pa.float64()))[0]
        except pa.ArrowInvalid:
            if hi - lo == 1:
                bad[lo] = True
            else:
                mid = (lo + hi) // 2
                stack += [(mid, hi), (lo, mid)]
    return values, bad


def _numbers(
    values: Any, where: Where, column: str
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, Any]:
    """A column as a NumPy array of numbers, with the masks of its missing (null) and
    unparseable entries (None when there are none) and the raw column (for messages)."""
    if isinstance(values, np.ndarray):
        if values.dtype.kind not in "biuf":
            raise _dtype_error(where, column, f"dtype {values.dtype}")
        return values, None, None, values
    import pyarrow as pa
    import pyarrow.types as pt

    raw = values
    if pt.is_dictionary(values.type):
        values = values.dictionary_decode()
    kind = values.type
    if pt.is_null(kind):
        return np.zeros(len(values)), np.ones(len(values), dtype=bool), None, raw
    if pt.is_string(kind) or pt.is_large_string(kind) or getattr(pt, "is_string_view", bool)(kind):
        missing = _to_numpy(values.is_null())[0] if values.null_count else None
        array, unparseable = _parse_strings(values)  # nulls parse as 0
        return array, missing, unparseable, raw
    numeric = pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind)
    if not (numeric or pt.is_decimal(kind)):
        raise _dtype_error(where, column, f"type {kind}")
    if pt.is_decimal(kind):
        values = values.cast(pa.float64())
    array, missing = _to_numpy(values)
    return array, missing, None, raw


def _describe(raw: Any, index: int) -> str:
    value = raw[index]
    value = value.as_py() if hasattr(value, "as_py") else value.item()
    return repr(value) if isinstance(value, str) else str(value)


@dataclass
class Clean:
    """A batch's rows that pass the checks, as NumPy arrays in the compute dtype."""

    x: np.ndarray
    y: np.ndarray
    w: np.ndarray | None
    keep: np.ndarray | None  # mask of the kept rows, None when all are kept
    skipped: np.ndarray  # counts by reason


def _in_unit_interval(a: np.ndarray) -> bool:
    return bool(a.min() >= 0 and a.max() <= 1)  # False on nan (min/max propagate it)


def _has_nan(a: np.ndarray) -> bool:
    return a.dtype.kind == "f" and bool(np.isnan(a.min()) or np.isnan(a.max()))


def _compute_dtype(x: np.ndarray, y: np.ndarray) -> Any:
    """float64 stays float64, every other float (and integers) computes in float32,
    as in the library (``xent._array.compute_dtype``)."""
    floats = [a.dtype for a in (x, y) if a.dtype.kind == "f"]
    return np.float64 if floats and np.result_type(*floats) == np.float64 else np.float32


def check_batch(job: Job, where: Where, columns: dict[str, Any]) -> Clean:
    """Convert the batch's columns to numbers and check every row.

    A bad row raises :class:`BadInput` naming the first one, or, with
    ``--on-bad-rows skip``, is dropped and counted by reason.
    """
    names = job.columns
    converted = {role: _numbers(columns[role], where, names[role]) for role in names}
    x, y = converted["input"][0], converted["target"][0]
    w = converted["weight"][0] if "weight" in converted else None
    n = len(x)
    skipped = np.zeros(len(REASONS), dtype=np.int64)

    fast = n == 0 or (
        all(c[1] is None and c[2] is None for c in converted.values())
        and (_in_unit_interval(x) if not job.from_logits else not _has_nan(x))
        and _in_unit_interval(y)
        and (w is None or bool(w.min() >= 0 and w.max() < np.inf))
    )
    keep = None
    if not fast:
        checks: list[tuple[int, str, np.ndarray, str]] = []  # reason, role, mask, message
        for reason, slot in ((_MISSING, 1), (_UNPARSEABLE, 2)):
            for role, c in converted.items():
                if c[slot] is not None:
                    checks.append((reason, role, c[slot], ""))
        if x.dtype.kind == "f":
            checks.append((_NAN_PREDICTION, "input", np.isnan(x), "prediction is NaN"))
        if not job.from_logits:
            hint = " (pass --from-logits if the column holds logits)"
            with np.errstate(invalid="ignore"):
                outside = (x < 0) | (x > 1)
            checks.append((_PREDICTION_RANGE, "input", outside, "outside [0, 1]" + hint))
        checks.append((_LABEL, "target", ~((y >= 0) & (y <= 1)), "outside [0, 1]"))
        if w is not None:
            bad_weight = ~(np.isfinite(w) & (w >= 0)) if w.dtype.kind == "f" else w < 0
            checks.append((_WEIGHT_BAD, "weight", bad_weight, "negative or not finite"))
        bad = np.zeros(n, dtype=bool)
        for reason, _, mask, _ in checks:
            skipped[reason] += np.count_nonzero(mask & ~bad)
            bad |= mask
        if bad.any():
            if not job.skip_bad_rows:
                raise _first_bad_row(job, where, converted, checks)
            keep = ~bad
            x, y = x[keep], y[keep]
            w = None if w is None else w[keep]
    dtype = _compute_dtype(x, y)
    return Clean(
        x.astype(dtype, copy=False),
        y.astype(dtype, copy=False),
        None if w is None else w.astype(dtype, copy=False),
        keep,
        skipped,
    )


def _first_bad_row(
    job: Job, where: Where, converted: dict[str, Any], checks: list[tuple[int, str, Any, str]]
) -> BadInput:
    best: tuple[int, int, str, str] | None = None  # row, order, role, message
    for order, (reason, role, mask, message) in enumerate(checks):
        if mask.any():
            row = int(np.argmax(mask))
            if best is None or (row, order) < best[:2]:
                raw = converted[role][3] if reason == _UNPARSEABLE else converted[role][0]
                if reason == _MISSING:
                    text = "missing value"
                elif reason == _UNPARSEABLE:
                    text = f"cannot parse {_describe(raw, row)} as a number"
                elif reason == _NAN_PREDICTION:
                    text = message
                else:
                    noun = {"input": "prediction", "target": "label", "weight": "weight"}[role]
                    text = f"{noun} {_describe(raw, row)} is {message}"
                best = (row, order, role, text)
    assert best is not None  # called only when some mask is set
    row, _, role, text = best
    return BadInput(
        f"{where.at(job.columns[role], row)}: {text}; "
        "fix the data or pass --on-bad-rows skip to leave such rows out"
    )


# --------------------------------------------------------------------------- files

PARQUET, CSV, IPC, NPY, NPZ = "parquet", "csv", "ipc", "npy", "npz"
_EXTENSIONS = {
    ".parquet": PARQUET,
    ".parq": PARQUET,
    ".pq": PARQUET,
    ".csv": CSV,
    ".tsv": CSV,
    ".txt": CSV,
    ".arrow": IPC,
    ".arrows": IPC,
    ".feather": IPC,
    ".ipc": IPC,
    ".npy": NPY,
    ".npz": NPZ,
}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
_MAGIC = ((b"PAR1", PARQUET), (b"ARROW1", IPC), (b"\x93NUMPY", NPY), (b"PK\x03\x04", NPZ))


def file_kind(path: str) -> str:
    """The format of a file, from its extension, else from its first bytes (else CSV)."""
    name = path.lower()
    for ext in _COMPRESSED:
        if name.endswith(ext):
            name = name[: -len(ext)]
    kind = _EXTENSIONS.get(os.path.splitext(name)[1])
    if kind is not None:
        return kind
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise BadInput(f"{path}: cannot open ({e.strerror})") from None
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return IPC if head.startswith(b"\xff\xff\xff\xff") else CSV


def expand_paths(args: Sequence[str]) -> list[str]:
    """Files named, matched by globs, or found in directories (as Parquet datasets)."""
    files: list[str] = []
    for arg in args:
        if os.path.exists(arg):
            matches = [arg]
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
            if not matches:
                raise BadInput(f"{arg}: no file matches this pattern; check the path")
        else:
            raise BadInput(f"{arg}: no such file or directory; check the path")
        for match in matches:
            if os.path.isdir(match):
                found = _dataset_files(match)
                if not found:
                    raise BadInput(f"{match}: the directory holds no data file")
                files += found
            else:
                files.append(match)
    return files


def _dataset_files(directory: str) -> list[str]:
    """The files of a directory read as a Parquet dataset (names starting with . or _,
    such as _SUCCESS, are left out, as pyarrow.dataset does)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    # An explicit (empty) schema: discover the files without opening any of them.
    dataset = ds.dataset(directory, format="parquet", schema=pa.schema([]))
    return sorted(dataset.files)


@dataclass(frozen=True)
class Piece:
    """A part of one file read as a unit: a Dask partition, or a whole file locally."""

    path: str
    kind: str
    row: int  # first row of the piece in the file
    rows: int | None  # number of rows, None when unknown before reading (CSV)
    parts: tuple[int, ...] = ()  # Parquet: row groups; NPY: (start, stop)


def _missing_column(path: str, role: str, name: str, available: Sequence[str]) -> BadInput:
    flag = {"input": "--input", "target": "--target", "weight": "--weight-col"}[role]
    shown = ", ".join(repr(a) for a in available[:20])
    more = ", ..." if len(available) > 20 else ""
    return BadInput(
        f"{path}: no column {name!r} (it has {shown}{more}); pass {flag} with one of them"
    )


def _check_columns(path: str, job: Job, available: Sequence[str]) -> None:
    for role, name in job.columns.items():
        if name not in available:
            raise _missing_column(path, role, name, list(available))


def _corrupt(path: str, where: str, error: BaseException) -> BadInput:
    message = " ".join(str(error).split()) or type(error).__name__
    if len(message) > 200:
        message = message[:197] + "..."
    return BadInput(f"{path}: {where}cannot be read ({message}); the file is truncated or corrupt")


# ----- Parquet


def _parquet_file(path: str) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        # No pre-buffering: the column chunks are streamed in buffer_size reads, so
        # memory does not grow with the row-group size.
        return pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except (pa.ArrowException, OSError) as e:
        raise _corrupt(path, "", e) from None


def _plan_parquet(path: str, job: Job, split: bool) -> list[Piece]:
    pf = _parquet_file(path)
    _check_columns(path, job, pf.schema_arrow.names)
    meta = pf.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int).tolist()
    if not split:
        return [Piece(path, PARQUET, 0, meta.num_rows, tuple(range(len(sizes))))]
    return [Piece(path, PARQUET, starts[i], sizes[i], (i,)) for i in range(len(sizes))]


def _read_parquet(piece: Piece, job: Job) -> Iterator[tuple[Where, dict[str, Any]]]:
    import pyarrow as pa

    pf = _parquet_file(piece.path)
    names = job.columns
    row = piece.row
    for group in piece.parts:
        detail = f"row group {group}"
        batches = pf.iter_batches(
            batch_size=job.batch_rows,
            row_groups=[group],
            columns=list(dict.fromkeys(names.values())),
            use_threads=False,
        )
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as e:
                raise _corrupt(piece.path, f"{detail} (rows from {row}) ", e) from None
            if batch is None:
                break
            yield Where(piece.path, row, detail), {r: batch.column(c) for r, c in names.items()}
            row += batch.num_rows


# ----- CSV


def _csv_options(path: str, job: Job, columns: list[str] | None, on_invalid: Any) -> dict:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter = "\t" if ".tsv" in path.lower() else ","
    convert = pacsv.ConvertOptions()
    if columns is not None:
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in columns},  # parsed by us, row by row
            include_columns=columns,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        )
    block = min(max(job.batch_rows * 16, 1 << 20), 64 << 20)
    return {
        # Single-threaded parsing numbers the lines of malformed rows.
        "read_options": pacsv.ReadOptions(use_threads=False, block_size=block),
        "parse_options": pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
        "convert_options": convert,
    }


def _open_csv(path: str, job: Job, columns: list[str] | None, malformed: list[Any]) -> Any:
    """A streaming CSV reader; malformed lines (wrong number of fields) are appended to
    `malformed` and skipped, or fail the read (error mode)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    def on_invalid(row: Any) -> str:
        malformed.append(row)
        return "skip" if job.skip_bad_rows or columns is None else "error"

    try:
        return pacsv.open_csv(path, **_csv_options(path, job, columns, on_invalid))
    except pa.ArrowKeyError as e:  # a column missing from include_columns
        _check_columns(path, job, _open_csv(path, job, None, []).schema.names)
        raise _corrupt(path, "", e) from None
    except (pa.ArrowException, OSError) as e:
        raise _csv_failure(path, job, malformed, e, "") from None


def _csv_failure(path: str, job: Job, malformed: list[Any], error: Exception, where: str) -> Any:
    if malformed and not job.skip_bad_rows:
        bad = malformed[-1]
        return BadInput(
            f"{path}: line {bad.number}: malformed CSV line "
            f"(expected {bad.expected_columns} fields, found {bad.actual_columns}); "
            "fix the data or pass --on-bad-rows skip to leave such rows out"
        )
    return _corrupt(path, where, error)


def _plan_csv(path: str, job: Job, split: bool) -> list[Piece]:
    # Opening reads the first block: this checks the header (the rows are _read_csv's).
    skipping = replace(job, skip_bad_rows=True)
    _open_csv(path, skipping, list(dict.fromkeys(job.columns.values())), [])
    return [Piece(path, CSV, 0, None)]


def _read_csv(piece: Piece, job: Job) -> Iterator[tuple[Where, dict[str, Any]]]:
    import pyarrow as pa

    malformed: list[Any] = []
    names = job.columns
    reader = _open_csv(piece.path, job, list(dict.fromkeys(names.values())), malformed)
    row = 0
    reported = 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            batch = None
        except (pa.ArrowException, OSError) as e:
            raise _csv_failure(piece.path, job, malformed, e, f"after row {row} ") from None
        if batch is None:
            if len(malformed) > reported:
                yield Where(piece.path, row), {"malformed": len(malformed) - reported}
            return
        columns: dict[str, Any] = {r: batch.column(c) for r, c in names.items()}
        if len(malformed) > reported:
            columns["malformed"] = len(malformed) - reported
            reported = len(malformed)
        yield Where(piece.path, row), columns
        row += batch.num_rows


# ----- Arrow IPC (Feather V2) files and streams


def _open_ipc(path: str, fields: list[int] | None = None) -> tuple[Any, Any]:
    """(reader, its file) for an Arrow IPC file, else an IPC stream; only `fields` are
    read from a file (all of a stream)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        source = pa.OSFile(path)
    except (pa.ArrowException, OSError) as e:
        raise _corrupt(path, "", e) from None
    try:
        options = ipc.IpcReadOptions(included_fields=fields)
        return ipc.open_file(source, options=options), source
    except (pa.ArrowException, OSError):
        pass
    try:
        source.seek(0)
        return ipc.open_stream(source), source
    except (pa.ArrowException, OSError) as e:
        source.close()
        raise _corrupt(path, "", e) from None


def _plan_ipc(path: str, job: Job, split: bool) -> list[Piece]:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    reader, source = _open_ipc(path)
    with source:
        _check_columns(path, job, reader.schema.names)
        rows = None
        if isinstance(reader, ipc.RecordBatchFileReader):
            try:
                rows = reader.count_rows()
            except (pa.ArrowException, OSError) as e:
                raise _corrupt(path, "", e) from None
    return [Piece(path, IPC, 0, rows)]


def _read_ipc(piece: Piece, job: Job) -> Iterator[tuple[Where, dict[str, Any]]]:
    import pyarrow as pa
    import pyarrow.ipc as ipc

    names = job.columns
    reader, source = _open_ipc(piece.path)
    if isinstance(reader, ipc.RecordBatchFileReader):  # read the needed columns only
        schema = reader.schema.names
        source.close()
        wanted = sorted({schema.index(c) for c in names.values()})
        reader, source = _open_ipc(piece.path, wanted)
    with source:
        if isinstance(reader, ipc.RecordBatchFileReader):
            count = reader.num_record_batches
            batches: Iterator[Any] = (reader.get_batch(i) for i in range(count))
        else:
            batches = iter(reader)
        row = 0
        index = 0
        while True:
            try:
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as e:
                where = f"record batch {index} (rows from {row}) "
                raise _corrupt(piece.path, where, e) from None
            if batch is None:
                return
            for start in range(0, batch.num_rows, job.batch_rows):
                part = batch.slice(start, job.batch_rows)
                where = Where(piece.path, row + start, f"record batch {index}")
                yield where, {r: part.column(c) for r, c in names.items()}
            row += batch.num_rows
            index += 1


# ----- NPY and NPZ


# What reading an .npy payload (or an .npz member) raises when it is truncated or corrupt.
_NPY_ERRORS = (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error)


@dataclass(frozen=True)
class _NpyLayout:
    """Where the rows of an .npy payload are: header parsed, nothing read yet."""

    offset: int  # payload start in the stream
    rows: int
    dtype: Any  # of one row: a structured dtype, or the element dtype of a 2-D array
    width: int  # elements per row (1 for 1-D and structured arrays)
    fortran: bool

    @property
    def row_bytes(self) -> int:
        return self.dtype.itemsize * self.width


def _npy_layout(f: BinaryIO, path: str) -> _NpyLayout:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = fmt.read_array_header_2_0(f)
    except Exception as e:  # numpy's header parser raises many kinds (SyntaxError, ...)
        raise _corrupt(path, "", e) from None
    if dtype.hasobject:
        raise BadInput(f"{path}: holds Python objects; save numeric arrays (np.save)")
    if len(shape) not in (1, 2):
        raise BadInput(
            f"{path}: holds an array of shape {shape}; pass a 1-D structured array "
            "(named fields) or a 2-D array (columns by index)"
        )
    width = shape[1] if len(shape) == 2 else 1
    return _NpyLayout(f.tell(), shape[0], dtype, width, bool(fortran) and len(shape) == 2)


def _npy_column_names(layout: _NpyLayout) -> list[str]:
    if layout.dtype.names is not None:
        return list(layout.dtype.names)
    return [str(i) for i in range(layout.width)]


def _plan_npy(path: str, job: Job, split: bool) -> list[Piece]:
    try:
        with open(path, "rb") as f:
            layout = _npy_layout(f, path)
    except OSError as e:
        raise BadInput(f"{path}: cannot open ({e.strerror})") from None
    if layout.dtype.names is None and layout.width == 1:
        raise BadInput(
            f"{path}: holds one 1-D array, but --input and --target need two columns; "
            "save a structured array (named fields) or a 2-D array, or several arrays in "
            "an .npz"
        )
    _check_columns(path, job, _npy_column_names(layout))
    step = max(job.batch_rows, 1 << 22) if split else max(layout.rows, 1)
    return [
        Piece(path, NPY, lo, min(step, layout.rows - lo), (lo, min(lo + step, layout.rows)))
        for lo in range(0, max(layout.rows, 1), step)
    ]


def _npy_rows(f: BinaryIO, layout: _NpyLayout, lo: int, hi: int, path: str, name: str) -> Any:
    """Rows [lo, hi) of an .npy payload as a structured or 2-D array (C order)."""
    n = hi - lo
    if layout.fortran:  # column after column: read each column's slice
        size = layout.dtype.itemsize
        out = np.empty((n, layout.width), dtype=layout.dtype)
        for c in range(layout.width):
            f.seek(layout.offset + (c * layout.rows + lo) * size)
            out[:, c] = _read_exactly(f, n * size, layout.dtype, lo, path, name)
        return out
    data = _read_exactly(f, n * layout.row_bytes, layout.dtype, lo, path, name, layout)
    return data if layout.width == 1 else data.reshape(n, layout.width)


def _read_exactly(
    f: BinaryIO,
    size: int,
    dtype: Any,
    lo: int,
    path: str,
    name: str,
    layout: _NpyLayout | None = None,
) -> np.ndarray:
    try:
        data = f.read(size)
    except _NPY_ERRORS as e:
        raise _corrupt(path, f"{name}rows from {lo} ", e) from None
    row_bytes = layout.row_bytes if layout is not None else dtype.itemsize
    if len(data) < size:
        ends = lo + len(data) // row_bytes
        raise BadInput(
            f"{path}: {name}the data ends at row {ends} but the header announces more rows; "
            "the file is truncated"
        )
    return np.frombuffer(data, dtype=dtype)


def _npy_column(block: Any, layout: _NpyLayout, name: str) -> np.ndarray:
    if layout.dtype.names is not None:
        column = block[name]
    else:
        column = block[:, int(name)]
    return np.ascontiguousarray(column)


def _read_npy(piece: Piece, job: Job) -> Iterator[tuple[Where, dict[str, Any]]]:
    lo, hi = piece.parts
    with open(piece.path, "rb") as f:
        layout = _npy_layout(f, piece.path)
        if not layout.fortran:
            f.seek(layout.offset + lo * layout.row_bytes)
        for start in range(lo, hi, job.batch_rows):
            stop = min(start + job.batch_rows, hi)
            block = _npy_rows(f, layout, start, stop, piece.path, "")
            columns = {r: _npy_column(block, layout, c) for r, c in job.columns.items()}
            yield Where(piece.path, start), columns


def _npz_members(zf: zipfile.ZipFile) -> dict[str, str]:
    """Array name -> member name."""
    return {m.removesuffix(".npy"): m for m in zf.namelist()}


def _open_npz(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise _corrupt(path, "", e) from None


def _plan_npz(path: str, job: Job, split: bool) -> list[Piece]:
    with _open_npz(path) as zf:
        members = _npz_members(zf)
        _check_columns(path, job, list(members))
        rows = {}
        for name in dict.fromkeys(job.columns.values()):
            try:
                with zf.open(members[name]) as f:
                    layout = _npy_layout(f, f"{path}[{name}]")
            except _NPY_ERRORS as e:
                raise _corrupt(path, f"array {name!r} ", e) from None
            if layout.width != 1 or layout.dtype.names is not None:
                raise BadInput(
                    f"{path}: array {name!r} is not 1-D; save one 1-D array per column "
                    "(np.savez(path, p=..., y=...))"
                )
            rows[name] = layout.rows
    if len(set(rows.values())) > 1:
        shown = ", ".join(f"{k!r} has {v}" for k, v in rows.items())
        raise BadInput(f"{path}: the arrays differ in length ({shown}); pass arrays of one length")
    return [Piece(path, NPZ, 0, next(iter(rows.values())))]


def _read_npz(piece: Piece, job: Job) -> Iterator[tuple[Where, dict[str, Any]]]:
    names = list(dict.fromkeys(job.columns.values()))
    with contextlib.ExitStack() as stack:
        zf = stack.enter_context(_open_npz(piece.path))
        members = _npz_members(zf)
        streams = {}
        for name in names:
            try:
                f = stack.enter_context(zf.open(members[name]))
            except _NPY_ERRORS as e:
                raise _corrupt(piece.path, f"array {name!r} ", e) from None
            streams[name] = (f, _npy_layout(f, f"{piece.path}[{name}]"))
        rows = piece.rows or 0
        for start in range(0, rows, job.batch_rows):
            n = min(job.batch_rows, rows - start)
            arrays = {
                name: _read_exactly(
                    f, n * layout.row_bytes, layout.dtype, start, piece.path, f"array {name!r}, "
                )
                for name, (f, layout) in streams.items()
            }
            yield Where(piece.path, start), {r: arrays[c] for r, c in job.columns.items()}


_PLANNERS: dict[str, Callable[[str, Job, bool], list[Piece]]] = {
    PARQUET: _plan_parquet,
    CSV: _plan_csv,
    IPC: _plan_ipc,
    NPY: _plan_npy,
    NPZ: _plan_npz,
}
_READERS: dict[str, Callable[[Piece, Job], Iterator[tuple[Where, dict[str, Any]]]]] = {
    PARQUET: _read_parquet,
    CSV: _read_csv,
    IPC: _read_ipc,
    NPY: _read_npy,
    NPZ: _read_npz,
}


def plan(paths: Sequence[str], job: Job, *, split: bool = False) -> list[Piece]:
    """The pieces to read, every file opened and its columns checked before any row is
    scored. With ``split``, files are cut where they can be (Parquet row groups, NPY
    row ranges) into Dask partitions."""
    pieces: list[Piece] = []
    for path in expand_paths(paths):
        pieces += _PLANNERS[file_kind(path)](path, job, split)
    return pieces


# --------------------------------------------------------------------------- engines


def _score_batch(job: Job, where: Where, columns: dict[str, Any]) -> tuple[Totals, Any]:
    """Totals of one batch and, for --per-row, its losses (null where a row was skipped)."""
    malformed = columns.pop("malformed", 0)
    if "input" not in columns:  # only a count of malformed CSV lines
        totals = Totals()
        totals.skipped[_MALFORMED] += malformed
        return totals, None
    clean = check_batch(job, where, columns)
    totals, loss = score(job, clean.x, clean.y, clean.w)
    totals.skipped += clean.skipped
    totals.skipped[_MALFORMED] += malformed
    if clean.keep is None:
        return totals, loss
    full = np.zeros(len(clean.keep), dtype=loss.dtype)
    full[clean.keep] = loss
    return totals, (full, ~clean.keep)


def score_piece(piece: Piece, job: Job) -> Totals:
    """The totals of one piece (a Dask partition), batch after batch."""
    total = Totals()
    for where, columns in _READERS[piece.kind](piece, job):
        total = combine(total, _score_batch(job, where, columns)[0])
    return total


class Progress:
    """rows, rows/s and ETA on one stderr line, redrawn at most 10 times a second."""

    def __init__(self, total: int | None, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.rows = 0
        self.start = self.last = time.perf_counter()

    def restart(self) -> None:
        """Start the clock again (after a Dask cluster has started)."""
        self.start = self.last = time.perf_counter()

    def update(self, rows: int) -> None:
        self.rows += rows
        now = time.perf_counter()
        if not self.enabled or now - self.last < 0.1:
            return
        self.last = now
        rate = self.rows / max(now - self.start, 1e-9)
        line = f"{self.rows:,} rows"
        if self.total:
            line = f"{self.rows:,}/{self.total:,} rows ({100 * self.rows / self.total:.0f}%)"
        line += f"  {_si(rate)} rows/s"
        if self.total and rate > 0:
            line += f"  ETA {_clock(max(self.total - self.rows, 0) / rate)}"
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last > self.start:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _si(value: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:.1f}{suffix}"
    return f"{value:.0f}"


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PerRowWriter:
    """Each row's loss to Parquet, streamed into a temporary file renamed at the end;
    removed if the run fails, so no partial output is left behind."""

    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        directory, name = os.path.split(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise BadInput(f"--per-row {path}: the directory {directory} does not exist")
        self.tmp = os.path.join(directory, f".{name}.{os.getpid()}.tmp")
        self.schema = pa.schema([pa.field("loss", pa.float64())])
        try:
            # Losses are all distinct: a dictionary would only cost time (6x).
            self.writer = pq.ParquetWriter(self.tmp, self.schema, use_dictionary=False)
        except OSError as e:
            raise BadInput(f"--per-row {path}: cannot write ({e})") from None

    def write(self, losses: Any) -> None:
        import pyarrow as pa

        values, mask = losses if isinstance(losses, tuple) else (losses, None)
        array = _from_numpy(values, mask)
        try:
            self.writer.write_batch(pa.record_batch([array], schema=self.schema))
        except OSError as e:
            raise BadInput(f"--per-row {self.path}: cannot write ({e})") from None

    def commit(self) -> None:
        try:
            self.writer.close()
            os.replace(self.tmp, self.path)
        except OSError as e:
            raise BadInput(f"--per-row {self.path}: cannot write ({e})") from None

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()
        with contextlib.suppress(OSError):
            os.remove(self.tmp)


def _threads() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def run_local(
    pieces: Sequence[Piece], job: Job, progress: Progress, writer: PerRowWriter | None
) -> Totals:
    """Read in this thread, score batches on a thread pool (NumPy releases the GIL),
    and merge the batch totals in row order."""
    threads = _threads()
    total = Totals()
    pending: deque[Any] = deque()

    def finish(future: Any) -> None:
        nonlocal total
        totals, losses = future.result()
        if writer is not None and losses is not None:
            writer.write(losses)
        total = combine(total, totals)
        progress.update(totals.count + int(totals.skipped.sum()))

    with ThreadPoolExecutor(threads, thread_name_prefix="xent-eval") as pool:
        try:
            for piece in pieces:
                for where, columns in _READERS[piece.kind](piece, job):
                    pending.append(pool.submit(_score_batch, job, where, columns))
                    while len(pending) > threads + 1:
                        finish(pending.popleft())
            while pending:
                finish(pending.popleft())
        finally:
            for future in pending:
                future.cancel()
    return total


def _partial_frame(piece: Piece, job: Job) -> Any:
    """A Dask partition: the piece's Totals as one float64 column."""
    import pandas as pd

    return pd.DataFrame({"totals": score_piece(piece, job).to_vector()})


def run_dask(
    pieces: Sequence[Piece], job: Job, progress: Progress, scheduler: str | None
) -> Totals:
    """One dask.dataframe partition per piece, each reduced to its Totals on a worker,
    merged here in piece order by the same :func:`combine` as the local engine."""
    import logging

    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster, as_completed

    if not pieces:
        return Totals()
    with contextlib.ExitStack() as stack:
        if scheduler is None:  # the cluster's start-up is not counted in the report's seconds
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=2,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    # A failing task (a bad row) must not print the workers' tracebacks.
                    silence_logs=logging.CRITICAL,
                )
            )
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout="20s"))
            except (OSError, TimeoutError) as e:
                raise BadInput(f"--scheduler {scheduler}: cannot connect ({e})") from None
        progress.restart()
        frame = dd.from_map(
            _partial_frame,
            list(pieces),
            job=job,
            meta=pd.DataFrame({"totals": pd.Series([], dtype=np.float64)}),
            enforce_metadata=False,
        )
        futures = client.compute(frame.to_delayed())
        index = {future.key: i for i, future in enumerate(futures)}
        try:
            for future in as_completed(futures):
                progress.update(pieces[index[future.key]].rows or 0)
                future.result()  # raises the first failure (a BadInput from a worker)
            parts = [Totals.from_vector(f.result()["totals"].to_numpy()) for f in futures]
        finally:
            client.cancel(futures)
    return combine_all(parts)


# --------------------------------------------------------------------------- report

REPORT_KEYS = (
    "loss",
    "count",
    "positives",
    "base_rate",
    "normalized_entropy",
    "mean_prediction",
    "calibration",
    "seconds",
)


def _divide(a: float, b: float) -> float:
    return a / b if b != 0 else math.nan


def entropy(rate: float) -> float:
    """-(r log r + (1 - r) log(1 - r)) in nats, 0 log 0 = 0; nan outside [0, 1]."""
    if not 0.0 <= rate <= 1.0:
        return math.nan
    return -sum(q * math.log(q) for q in (rate, 1.0 - rate) if q > 0)


def report(total: Totals, job: Job, seconds: float) -> dict[str, Any]:
    """The figures of the report, under the keys of ``--format json``."""
    weight = total.value(_WEIGHT)
    loss_sum = total.value(_LOSS)
    mean_loss = _divide(loss_sum, weight)
    base_rate = _divide(total.value(_WLABELS), weight)
    mean_prediction = _divide(total.value(_WPREDS), weight)
    positives = total.value(_POSITIVES)
    return {
        "loss": loss_sum if job.reduction == "sum" else mean_loss,
        "count": total.count,
        "positives": int(positives) if float(positives).is_integer() else positives,
        "base_rate": base_rate,
        "normalized_entropy": _divide(mean_loss, entropy(base_rate)),
        "mean_prediction": mean_prediction,
        "calibration": _divide(mean_prediction, base_rate),
        "seconds": seconds,
    }


def skipped_summary(total: Totals) -> str | None:
    counts = [(int(n), reason) for n, reason in zip(total.skipped, REASONS, strict=True) if n]
    if not counts:
        return None
    listed = ", ".join(f"{n:,} {reason}" for n, reason in counts)
    return f"skipped {sum(n for n, _ in counts):,} rows: {listed}"


def format_json(values: dict[str, Any]) -> str:
    """Exactly the report keys; nan and infinities (not JSON) become null."""
    clean = {
        k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()
    }
    return json.dumps(clean, allow_nan=False)


def format_text(values: dict[str, Any], total: Totals, job: Job, files: int) -> str:
    def number(v: Any) -> str:
        if isinstance(v, int):
            return f"{v:,}"
        return "nan" if math.isnan(v) else f"{v:.6g}"

    weighted = ", weighted" if job.weight else ""
    rate = _divide(values["count"] + int(total.skipped.sum()), values["seconds"])
    lines = [
        (f"loss ({job.reduction}{weighted})", number(values["loss"])),
        ("count", number(values["count"])),
        ("positives", number(values["positives"])),
        ("base rate", number(values["base_rate"])),
        ("normalized entropy", number(values["normalized_entropy"])),
        ("mean prediction", number(values["mean_prediction"])),
        ("calibration", number(values["calibration"])),
        ("rows/s", f"{_si(rate)} ({values['seconds']:.3g} s, {files} file{'s' * (files != 1)})"),
    ]
    summary = skipped_summary(total)
    if summary is not None:
        lines.append(("skipped", summary.removeprefix("skipped ")))
    return "\n".join(f"{k:<23}{v}" for k, v in lines)


def reliability_bins(bins: np.ndarray, target: int = PLOT_BINS) -> list[dict[str, float]]:
    """The fine histogram merged into about `target` bins of equal weight (quantile-like,
    so rare positives still get several points): predicted and observed rate, rows."""
    total = bins[_BIN_WEIGHT].sum()
    groups: list[tuple[int, int, np.ndarray]] = []  # fine bins [lo, hi), their sums
    lo = 0
    for hi in range(1, N_BINS + 1):
        acc = bins[:, lo:hi].sum(axis=1)
        if acc[_BIN_ROWS] and (acc[_BIN_WEIGHT] >= total / target or hi == N_BINS):
            groups.append((lo, hi, acc))
            lo = hi
    if len(groups) > 1 and groups[-1][2][_BIN_WEIGHT] < total / target / 2:
        (first, _, a), (_, last, b) = groups[-2:]  # a small remainder joins its neighbour
        groups[-2:] = [(first, last, a + b)]
    edges = np.concatenate([[0.0], BIN_EDGES, [1.0]])
    return [
        {
            "low": float(edges[lo]),
            "high": float(edges[hi]),
            "predicted": _divide(acc[_BIN_WPREDS], acc[_BIN_WEIGHT]),
            "observed": _divide(acc[_BIN_WLABELS], acc[_BIN_WEIGHT]),
            "rows": float(acc[_BIN_ROWS]),
        }
        for lo, hi, acc in groups
    ]


def plot_reliability(path: str, total: Totals, values: dict[str, Any]) -> None:
    """Reliability diagram: observed vs predicted rate per bin, and rows per bin."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = reliability_bins(total.bins if total.bins is not None else np.zeros((4, N_BINS)))
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=PLOT_SIZE, dpi=PLOT_DPI, sharex=True, height_ratios=(3, 1)
    )
    try:
        predicted = [b["predicted"] for b in points]
        observed = [b["observed"] for b in points]
        high = max([*predicted, *observed, 1e-3]) * 1.05
        high = min(high, 1.0)
        top.plot([0, high], [0, high], color="0.6", linestyle="--", label="perfectly calibrated")
        top.plot(predicted, observed, marker="o", label="observed rate per bin")
        top.set_xlim(0, high)
        top.set_ylim(0, high)
        top.set_ylabel("observed positive rate")
        top.legend(loc="upper left")
        top.set_title(
            f"{values['count']:,} rows   loss {values['loss']:.4g}   "
            f"NE {values['normalized_entropy']:.4g}   calibration {values['calibration']:.4g}"
        )
        lows = [b["low"] for b in points]
        widths = [min(b["high"], high) - b["low"] for b in points]
        bottom.bar(lows, [b["rows"] for b in points], width=widths, align="edge", edgecolor="white")
        bottom.set_xlabel("mean predicted probability")
        bottom.set_ylabel("rows")
        fig.savefig(path, dpi=PLOT_DPI)
    except OSError as e:
        raise BadInput(f"--plot {path}: cannot write ({e.strerror or e})") from None
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- command line


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xent", description="Cross-entropy losses, exactly as PyTorch and Keras compute them."
    )
    parser.add_argument("--version", action="version", version=f"xent {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    ev = commands.add_parser(
        "eval",
        help="score prediction files (log loss, normalized entropy, calibration)",
        description=(
            "Score prediction files of any size: loss, count, positives, base rate, "
            "normalized entropy, mean prediction, calibration. Files: Parquet (files, "
            "directories, globs), CSV, Arrow IPC/Feather, NPY, NPZ; streamed in batches."
        ),
    )
    ev.add_argument("files", nargs="+", metavar="FILE", help="prediction files, directories, globs")
    ev.add_argument("--input", required=True, metavar="COL", help="predictions column")
    ev.add_argument("--target", required=True, metavar="COL", help="labels column, in [0, 1]")
    ev.add_argument(
        "--from-logits", action="store_true", help="the predictions are logits, not probabilities"
    )
    ev.add_argument(
        "--pos-weight", type=_float, metavar="W", help="weight of the positive term (logits only)"
    )
    ev.add_argument(
        "--weight-col", metavar="COL", help="per-row weights: weighted sums and weighted means"
    )
    ev.add_argument(
        "--label-smoothing", type=_float, default=0.0, metavar="LS", help="targets y(1-LS)+LS/2"
    )
    ev.add_argument(
        "--focal-gamma",
        type=_float,
        metavar="G",
        help="sigmoid focal loss (torchvision), on logits",
    )
    ev.add_argument(
        "--focal-alpha",
        type=_float,
        metavar="A",
        help="focal balance of positives (default 0.25; negative disables it)",
    )
    ev.add_argument("--reduction", choices=("mean", "sum"), default="mean")
    ev.add_argument("--engine", choices=("local", "dask"), default="local")
    ev.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler (default: a LocalCluster)"
    )
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--per-row", metavar="OUT.parquet", help="write each row's loss to Parquet")
    ev.add_argument("--plot", metavar="FILE.png", help="write a reliability diagram (PNG)")
    ev.add_argument(
        "--batch-rows",
        type=_positive_int,
        default=DEFAULT_BATCH_ROWS,
        metavar="N",
        help=f"rows per batch (default {DEFAULT_BATCH_ROWS})",
    )
    ev.add_argument("--on-bad-rows", choices=("error", "skip"), default="error")
    return parser


def make_job(args: argparse.Namespace) -> Job:
    """The Job of the parsed arguments; BadInput for combinations that make no sense."""
    focal = args.focal_gamma is not None
    try:
        label_smoothing = check_label_smoothing(args.label_smoothing)
    except ValueError:
        raise BadInput(f"--label-smoothing must be in [0, 1], got {args.label_smoothing}") from None
    try:
        gamma = check_gamma(args.focal_gamma) if focal else None
    except ValueError:
        raise BadInput(f"--focal-gamma must be >= 0, got {args.focal_gamma}") from None
    try:
        pos_weight = None
        if args.pos_weight is not None:
            pos_weight = check_finite_number(args.pos_weight, "pos_weight")
    except ValueError:
        raise BadInput(f"--pos-weight must be a finite number, got {args.pos_weight}") from None
    if args.focal_alpha is not None and not focal:
        raise BadInput("--focal-alpha needs --focal-gamma (pass both for the focal loss)")
    if (focal or pos_weight is not None) and not args.from_logits:
        flag = "--focal-gamma" if focal else "--pos-weight"
        raise BadInput(
            f"{flag} needs logits (torchvision's focal loss and PyTorch's pos_weight are "
            "defined on logits); pass --from-logits with a logits column"
        )
    if focal and pos_weight is not None:
        raise BadInput("--pos-weight does not apply to the focal loss; pass one of them")
    if args.scheduler is not None and args.engine != "dask":
        raise BadInput("--scheduler needs --engine dask")
    if args.per_row is not None and args.engine == "dask":
        raise BadInput(
            "--per-row is written by the local engine (one file, in row order); "
            "drop --engine dask, or --per-row"
        )
    alpha = 0.25 if args.focal_alpha is None else args.focal_alpha
    if not math.isfinite(alpha):
        raise BadInput(f"--focal-alpha must be a finite number, got {alpha}")
    return Job(
        input=args.input,
        target=args.target,
        weight=args.weight_col,
        from_logits=args.from_logits,
        pos_weight=pos_weight,
        label_smoothing=label_smoothing,
        focal_gamma=gamma,
        focal_alpha=alpha,
        reduction=args.reduction,
        skip_bad_rows=args.on_bad_rows == "skip",
        batch_rows=args.batch_rows,
        bins=args.plot is not None,
    )


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BadInput(f"this needs {module}; install it with pip install 'xent[{extra}]'")


def _import_readers() -> None:
    """Import what most runs need (the rest, e.g. pyarrow.compute for CSV, when needed)."""
    import pyarrow.parquet  # noqa: F401


def evaluate(args: argparse.Namespace) -> int:
    job = make_job(args)
    _require("pyarrow", "cli")
    if args.plot is not None:
        _require("matplotlib", "cli")
        directory = os.path.dirname(os.path.abspath(args.plot))
        if not os.path.isdir(directory):  # found out now, not after scoring every row
            raise BadInput(f"--plot {args.plot}: the directory {directory} does not exist")
    if args.engine == "dask":
        _require("distributed", "dask")
        _require("dask.dataframe", "dask")
    _import_readers()  # before the clock starts
    progress = Progress(None, enabled=sys.stderr.isatty())
    pieces = plan(args.files, job, split=args.engine == "dask")
    files = len({p.path for p in pieces})
    known = [p.rows for p in pieces]
    progress.total = None if None in known else sum(r or 0 for r in known)
    writer = PerRowWriter(args.per_row) if args.per_row is not None else None
    try:
        if args.engine == "dask":
            total = run_dask(pieces, job, progress, args.scheduler)
        else:
            total = run_local(pieces, job, progress, writer)
        seconds = time.perf_counter() - progress.start
        values = report(total, job, seconds)
        if args.plot is not None:
            plot_reliability(args.plot, total, values)
        if writer is not None:
            writer.commit()
            writer = None
    finally:
        progress.close()
        if writer is not None:
            writer.discard()
    summary = skipped_summary(total)
    if args.format == "json":
        print(format_json(values))
        if summary is not None:
            print(f"{PROG}: {summary}", file=sys.stderr)
    else:
        print(format_text(values, total, job, files))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xent`` command line and return its exit status: 0, or 2 for bad input
    (argparse's own usage errors, such as a missing --input, exit with status 2)."""
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on bad arguments, as argparse does
    try:
        return evaluate(args)
    except BadInput as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return BAD_INPUT
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        with contextlib.suppress(OSError):
            sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
