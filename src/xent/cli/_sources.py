"""The files: their kinds, the pieces to read (:func:`plan`, every file opened and its
columns checked first) and one streaming reader per format, each yielding batches as
(:class:`Where`, columns)."""

from __future__ import annotations

import contextlib
import glob
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, BinaryIO

import numpy as np

from ._batches import BadInput, Where
from ._job import Job

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


def _file_type(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_output(flag: str, path: str, inputs: Sequence[str]) -> None:
    """Refuse, before anything is read, an output `path` (of `flag`) that exists and is
    not a regular file, whose directory does not exist, that is one of the `inputs` (the
    same file by any path: compared by device and inode) or that lies inside an input
    directory. A regular file that is none of the inputs may be replaced."""
    try:
        out = os.stat(path)  # follows symlinks: a link to an input is that input
    except FileNotFoundError:
        out = None  # also a dangling symlink: os.replace replaces the link
    except OSError as e:
        raise BadInput(f"{flag} {path}: cannot use it ({e.strerror or e})") from None
    if out is not None and not stat.S_ISREG(out.st_mode):
        kind = _file_type(out.st_mode)
        raise BadInput(f"{flag} {path}: exists and is {kind}, not a regular file; pass a file path")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise BadInput(f"{flag} {path}: the directory {directory} does not exist")
    above: set[tuple[int, int]] = set()  # the output's directory and every one above it
    here = os.path.realpath(directory)
    while True:
        with contextlib.suppress(OSError):
            st = os.stat(here)
            above.add((st.st_dev, st.st_ino))
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    for arg in inputs:
        if os.path.exists(arg):
            matches = [arg]
        elif glob.has_magic(arg):
            matches = sorted(glob.glob(arg, recursive=True))
        else:
            continue  # reported by plan
        for match in matches:
            try:
                st = os.stat(match)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                if (st.st_dev, st.st_ino) in above:
                    raise BadInput(
                        f"{flag} {path}: is inside the input directory {match}, whose files "
                        "are read as data; write it outside"
                    )
            elif out is not None and (st.st_dev, st.st_ino) == (out.st_dev, out.st_ino):
                raise BadInput(f"{flag} {path}: is the input file {match}; write to another file")


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
    available = list(available)
    for role, name in job.columns.items():
        if name not in available:
            raise _missing_column(path, role, name, available)
    _check_duplicates(path, job, available)


def _check_duplicates(path: str, job: Job, available: list[str]) -> None:
    for name in job.columns.values():
        if available.count(name) > 1:
            raise BadInput(
                f"{path}: {available.count(name)} columns are named {name!r}, so which one "
                "is meant is ambiguous; rename all but one"
            )


def _schema_names(path: str, schema: Any) -> list[str]:
    try:
        return list(schema.names)
    except UnicodeDecodeError as e:
        raise BadInput(
            f"{path}: a column name is not UTF-8 text ({e.reason}); rename the columns"
        ) from None


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
    _check_columns(path, job, _schema_names(path, pf.schema_arrow))
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
        _check_columns(path, job, _csv_header(path) or [])
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


def _csv_header(path: str) -> list[str] | None:
    """The names of a CSV file's header line, not UTF-8 bytes replaced (pyarrow's own
    would raise UnicodeDecodeError); None if it cannot be read."""
    import csv

    import pyarrow as pa

    try:
        with pa.input_stream(path, compression="detect") as f:
            head = f.read(1 << 20)
    except (pa.ArrowException, OSError):
        return None
    line = head.split(b"\n", 1)[0].rstrip(b"\r").removeprefix(b"\xef\xbb\xbf")
    delimiter = "\t" if ".tsv" in path.lower() else ","
    return next(csv.reader([line.decode("utf-8", errors="replace")], delimiter=delimiter), [])


def _plan_csv(path: str, job: Job, split: bool) -> list[Piece]:
    # Opening reads the first block: this checks the header (the rows are _read_csv's).
    skipping = replace(job, skip_bad_rows=True)
    _open_csv(path, skipping, list(dict.fromkeys(job.columns.values())), [])
    # pyarrow reads the first of duplicated columns: refuse them as other formats do.
    header = _csv_header(path)
    if header is not None:
        _check_duplicates(path, job, header)
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
        _check_columns(path, job, _schema_names(path, reader.schema))
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
        schema = _schema_names(piece.path, reader.schema)
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
READERS: dict[str, Callable[[Piece, Job], Iterator[tuple[Where, dict[str, Any]]]]] = {
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
