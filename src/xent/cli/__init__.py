r"""``xent eval``: the log loss (and friends) of prediction files of any size.

::

    xent eval FILE... --input COL --target COL [--from-logits] [--pos-weight W]
        [--weight-col COL] [--label-smoothing LS] [--focal-gamma G --focal-alpha A]
        [--reduction mean|sum] [--engine local|dask] [--scheduler ADDRESS]
        [--connect-timeout SECONDS] [--timeout SECONDS]
        [--format text|json] [--per-row OUT.parquet] [--plot FILE.png]
        [--batch-rows N] [--on-bad-rows error|skip] [--debug]

The files (Parquet files, directories and globs, CSV, Arrow IPC/Feather, NPY,
NPZ) are streamed in record batches of ``--batch-rows`` rows: memory is bounded
by the batch, not by the file. Each batch is checked and reduced to a few float64
sums (:class:`_job.Totals`) in one pass of the compiled kernels
(``xent._binary.totals``), or, without them, with the binary family
of ``xent._binary`` (reduction 'none') and NumPy sums; the sums of the batches
(local engine) or of the partitions (Dask engine) are merged by one function,
:func:`_job.combine`, with compensated (Neumaier) addition, so the report does not
depend on how the rows were cut.

With weights w (``--weight-col``, else w = 1), labels y, predicted probabilities
p (sigmoid of the logits with ``--from-logits``) and per-row losses l:

- loss: sum(w l) for ``--reduction sum``; sum(w l) / sum(w) for 'mean' (the
  weighted mean of scikit-learn's log_loss, *not* PyTorch's sum(w l) / N);
- base rate r = sum(w y) / sum(w); normalized entropy = mean loss / H(r),
  H(r) = -(r log r + (1 - r) log(1 - r)); mean prediction = sum(w p) / sum(w);
  calibration = mean prediction / r.

This package is the command line only: nothing in xent imports it, and it imports
pyarrow, matplotlib and dask only when a command needs them. Its modules, each
importing only those listed before it:

- ``_job``: what to compute (:class:`_job.Job`), each row's loss, the sums;
- ``_batches``: :class:`_batches.BadInput`, :class:`_batches.Where`, each batch's checks;
- ``_sources``: file kinds, :func:`_sources.plan`, one streaming reader per format;
- ``_report``: the figures, the text and JSON formats, the reliability plot;
- ``_engines``: the local and Dask engines, the progress bar, the --per-row writer;
- this module: the arguments and :func:`main`, where a :class:`_batches.BadInput`
  becomes one line on stderr and exit status 2; a report that cannot be written,
  exit status 1; ``--timeout`` passing, exit status 124; SIGINT, SIGTERM and SIGHUP,
  128 + the signal's number (after the --per-row temporary file is removed); any
  other exception, one "internal error" line and exit status 1 (its traceback with
  ``--debug``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator, Sequence

import numpy as np

from .._checks import check_finite_number, check_gamma, check_label_smoothing
from .._version import __version__
from ._batches import BadInput
from ._engines import PerRowWriter, Progress, TimedOut, deadline, run_dask, run_local
from ._job import DEFAULT_BATCH_ROWS, Job
from ._report import (
    format_json,
    format_text,
    plot_format,
    plot_reliability,
    report,
    skipped_summary,
)
from ._sources import check_output, plan

__all__ = ["main"]

PROG = "xent eval"
BAD_INPUT = 2  # exit status for bad input and bad arguments (argparse's own)
FAILED = 1  # exit status when the report cannot be written, and for internal errors
TIMED_OUT = 124  # exit status when --timeout passes (as timeout(1)'s)
MAX_BATCH_ROWS = 1 << 30
CONNECT_TIMEOUT = 20.0  # seconds, --connect-timeout's default
MAX_CONNECT_TIMEOUT = 86400.0
MAX_TIMEOUT = 1e7  # seconds (116 days), --timeout's largest
MAX_POS_WEIGHT = float(np.finfo(np.float32).max)  # float32 columns are scored in float32


class ReportNotWritten(Exception):
    """stdout is closed or a write to it fails (a full disk): one line, exit status 1."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised in the main thread as KeyboardInterrupt is for SIGINT,
    so that the same clean-up runs (a BaseException: ``except Exception`` lets it by)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


# --------------------------------------------------------------------------- command line


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None


def _batch_rows(text: str | int) -> int:
    """--batch-rows as an int in [1, MAX_BATCH_ROWS]; BadInput (one line) otherwise."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_BATCH_ROWS:
        raise BadInput(f"--batch-rows must be an integer from 1 to {MAX_BATCH_ROWS:,}, got {text}")
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
        help="focal balance of positives, in [0, 1] (default 0.25; negative disables it)",
    )
    ev.add_argument("--reduction", choices=("mean", "sum"), default="mean")
    ev.add_argument("--engine", choices=("local", "dask"), default="local")
    ev.add_argument(
        "--scheduler", metavar="ADDRESS", help="Dask scheduler (default: a LocalCluster)"
    )
    ev.add_argument(
        "--connect-timeout",
        type=_float,
        metavar="SECONDS",
        help=f"how long to try to reach --scheduler (default {CONNECT_TIMEOUT:g})",
    )
    ev.add_argument(
        "--timeout",
        type=_float,
        metavar="SECONDS",
        help="stop the whole run after SECONDS of wall-clock time (exit status 124)",
    )
    ev.add_argument("--format", choices=("text", "json"), default="text")
    ev.add_argument("--per-row", metavar="OUT.parquet", help="write each row's loss to Parquet")
    ev.add_argument(
        "--plot", metavar="FILE.png", help="write a reliability diagram (.png, .pdf, .svg, ...)"
    )
    ev.add_argument(
        "--batch-rows",
        default=DEFAULT_BATCH_ROWS,
        metavar="N",
        help=f"rows per batch, 1 to {MAX_BATCH_ROWS} (default {DEFAULT_BATCH_ROWS})",
    )
    ev.add_argument("--on-bad-rows", choices=("error", "skip"), default="error")
    ev.add_argument("--debug", action="store_true", help="print the traceback of an internal error")
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
    if pos_weight is not None and abs(pos_weight) > MAX_POS_WEIGHT:
        raise BadInput(
            f"--pos-weight must be at most {MAX_POS_WEIGHT:.4g} in magnitude (float32 "
            f"columns are scored in float32), got {args.pos_weight}"
        )
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
    if args.connect_timeout is not None:
        if args.scheduler is None:
            raise BadInput("--connect-timeout needs --scheduler (and --engine dask)")
        if not 0 < args.connect_timeout <= MAX_CONNECT_TIMEOUT:  # False on nan
            raise BadInput(
                f"--connect-timeout must be more than 0 and at most {MAX_CONNECT_TIMEOUT:g} "
                f"seconds, got {args.connect_timeout}"
            )
    if args.per_row is not None and args.engine == "dask":
        raise BadInput(
            "--per-row is written by the local engine (one file, in row order); "
            "drop --engine dask, or --per-row"
        )
    batch_rows = _batch_rows(args.batch_rows)
    alpha = 0.25 if args.focal_alpha is None else args.focal_alpha
    if not (math.isfinite(alpha) and alpha <= 1):  # beyond 1: negatives weigh 1 - alpha < 0
        raise BadInput(
            f"--focal-alpha must be in [0, 1] (torchvision's range), or negative to turn "
            f"the balance off, got {args.focal_alpha}"
        )
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
        batch_rows=batch_rows,
        bins=args.plot is not None,
        per_row=args.per_row is not None,
    )


def _require(module: str, extra: str) -> None:
    import importlib.util

    if importlib.util.find_spec(module) is None:
        raise BadInput(f"this needs {module}; install it with pip install 'xent[{extra}]'")


def _import_readers() -> None:
    """Import what most runs need (the rest, e.g. pyarrow.compute for CSV, when needed)."""
    import pyarrow.parquet  # noqa: F401


def check_outputs(args: argparse.Namespace) -> None:
    """The --per-row and --plot paths, before anything is read (see check_output)."""
    if args.plot is not None:
        plot_format(args.plot)
    for flag, path in (("--per-row", args.per_row), ("--plot", args.plot)):
        if path is not None:
            check_output(flag, path, args.files)
    if args.per_row is not None and args.plot is not None:
        if os.path.realpath(args.per_row) == os.path.realpath(args.plot):
            raise BadInput(f"--per-row and --plot name the same file {args.plot}; pass two")


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError, OSError):  # None (stderr closed), a closed file
        return False


def _stderr(line: str) -> None:
    """One line on stderr, if there is one (``2>&-`` leaves sys.stderr None, and
    print(file=None) would write to stdout)."""
    if sys.stderr is not None:
        with contextlib.suppress(OSError, ValueError):
            print(line, file=sys.stderr, flush=True)


def _stdout(text: str) -> None:
    """The report on stdout, flushed now: a failure (``>&-``, ``> /dev/full``) is an
    error, not an exit status 0 (nor Python's 120 at exit)."""
    stream = sys.stdout
    if stream is None:
        raise ReportNotWritten("stdout is closed")
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        raise
    except (OSError, ValueError) as e:
        with contextlib.suppress(Exception):  # closed: no second failure at exit
            stream.close()
        raise ReportNotWritten(getattr(e, "strerror", None) or str(e)) from None


def evaluate(args: argparse.Namespace) -> int:
    if sys.stdout is None:  # found out now, not after scoring every row
        raise ReportNotWritten("stdout is closed")
    job = make_job(args)
    check_outputs(args)
    _require("pyarrow", "cli")
    if args.plot is not None:
        _require("matplotlib", "cli")
    if args.engine == "dask":
        _require("distributed", "dask")
        _require("dask.dataframe", "dask")
    _import_readers()  # before the clock starts
    progress = Progress(None, enabled=_isatty(sys.stderr))
    pieces = plan(args.files, job, split=args.engine == "dask")
    files = len({p.path for p in pieces})
    known = [p.rows for p in pieces]
    progress.total = None if None in known else sum(r or 0 for r in known)
    writer = None
    try:
        if args.per_row is not None:
            writer = PerRowWriter(args.per_row)
        if args.engine == "dask":
            timeout = CONNECT_TIMEOUT if args.connect_timeout is None else args.connect_timeout
            total = run_dask(pieces, job, progress, args.scheduler, timeout, not args.debug)
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
        _stdout(format_json(values))
        if summary is not None:
            _stderr(f"{PROG}: {summary}")
    else:
        _stdout(format_text(values, total, job, files))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``xent`` command line and return its exit status: 0; 2 for bad input
    (argparse's own usage errors, such as a missing --input, exit with status 2); 1 when
    the report cannot be written or for an internal error; 124 when --timeout passes;
    128 + N for signal N (SIGINT, SIGTERM, SIGHUP; the console script's entry point,
    ``_xent_cli``, also turns a SIGINT during the imports into 130).

    Without `argv` (the console script, ``python -m xent.cli``) the arguments are
    sys.argv's and the process exits next: the objects it holds are then frozen
    (``gc.freeze``), so that the garbage collector's final pass at exit skips everything
    numpy, pyarrow and the rest allocated (about 35 ms of a run). Nothing is left to
    collect: the --per-row writer, the thread pools and a Dask cluster are closed.
    """
    status = _main(argv)
    if argv is None:
        gc.freeze()
    return status


def _on_signal(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _signals() -> Iterator[None]:
    """SIGTERM and SIGHUP raise :class:`Terminated` while the command runs (unless they
    are ignored, as under nohup); the previous handlers are restored after."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for name in ("SIGTERM", "SIGHUP"):
            signum = getattr(signal, name, None)
            if signum is None or signal.getsignal(signum) is signal.SIG_IGN:
                continue
            previous[signum] = signal.signal(signum, _on_signal)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _open_standard_fds() -> None:
    """A closed descriptor 0, 1 or 2 (``2>&-``) gets /dev/null, so that no file the
    command opens (the --per-row temporary file) takes its number, where a library
    writing to stderr would write into it."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            with contextlib.suppress(OSError):
                null = os.open(os.devnull, os.O_RDWR)
                if null != fd:
                    os.dup2(null, fd)
                    os.close(null)


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _main(argv: Sequence[str] | None) -> int:
    _open_standard_fds()
    parser = build_parser()
    args = parser.parse_args(argv)  # exits with status 2 on bad arguments, as argparse does
    try:
        with _signals():
            if args.timeout is None:
                return evaluate(args)
            if not 0 < args.timeout <= MAX_TIMEOUT:  # False on nan; checked before the timer
                raise BadInput(
                    f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, "
                    f"got {args.timeout}"
                )
            limit = f"--timeout {args.timeout:g} s passed; nothing was reported"
            if args.per_row is not None:
                limit += f" and --per-row {args.per_row} was not written"
            with deadline(args.timeout, limit):
                return evaluate(args)
    except BadInput as e:
        _stderr(f"{PROG}: error: {e}")
        return BAD_INPUT
    except ReportNotWritten as e:
        _stderr(f"{PROG}: error: cannot write the report to stdout ({e})")
        return FAILED
    except KeyboardInterrupt:
        _stderr(f"{PROG}: interrupted")
        return 128 + signal.SIGINT
    except TimedOut as e:
        _stderr(f"{PROG}: error: {e.message}")
        return TIMED_OUT
    except Terminated as e:
        _stderr(f"{PROG}: terminated by {signal.Signals(e.signum).name}")
        return 128 + e.signum
    except BrokenPipeError:  # e.g. piped into head: no report, no message
        with contextlib.suppress(Exception):
            sys.stdout.close()  # so that the exit's flush of stdout does not fail again
        return FAILED
    except Exception as e:  # a bug: one line, the traceback with --debug
        if args.debug and sys.stderr is not None:
            with contextlib.suppress(Exception):
                traceback.print_exc(file=sys.stderr)
        _stderr(
            f"{PROG}: internal error: {_one_line(e)}; please report it "
            "(--debug prints the traceback)"
        )
        return FAILED
