"""The checks of each batch: columns (Arrow or NumPy) to numbers, bad rows found and
named (:class:`Where`) or skipped; :class:`BadInput`, the one error of the command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._job import (
    LABEL,
    MISSING,
    NAN_PREDICTION,
    PREDICTION_RANGE,
    REASONS,
    UNPARSEABLE,
    WEIGHT_BAD,
    Job,
)


class BadInput(Exception):
    """Bad data or arguments: one line on stderr, exit status 2, no traceback."""


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


def from_numpy(values: np.ndarray, missing: np.ndarray | None) -> Any:
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
        for reason, slot in ((MISSING, 1), (UNPARSEABLE, 2)):
            for role, c in converted.items():
                if c[slot] is not None:
                    checks.append((reason, role, c[slot], ""))
        if x.dtype.kind == "f":
            checks.append((NAN_PREDICTION, "input", np.isnan(x), "prediction is NaN"))
        if not job.from_logits:
            hint = " (pass --from-logits if the column holds logits)"
            with np.errstate(invalid="ignore"):
                outside = (x < 0) | (x > 1)
            checks.append((PREDICTION_RANGE, "input", outside, "outside [0, 1]" + hint))
        checks.append((LABEL, "target", ~((y >= 0) & (y <= 1)), "outside [0, 1]"))
        if w is not None:
            bad_weight = ~(np.isfinite(w) & (w >= 0)) if w.dtype.kind == "f" else w < 0
            checks.append((WEIGHT_BAD, "weight", bad_weight, "negative or not finite"))
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
                raw = converted[role][3] if reason == UNPARSEABLE else converted[role][0]
                if reason == MISSING:
                    text = "missing value"
                elif reason == UNPARSEABLE:
                    text = f"cannot parse {_describe(raw, row)} as a number"
                elif reason == NAN_PREDICTION:
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
