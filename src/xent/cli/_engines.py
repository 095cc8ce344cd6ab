"""The engines: local (batches scored on a thread pool, merged in row order, with
--per-row) and Dask (one partition per piece); the progress bar and the per-row
Parquet writer."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from ._batches import BadInput, Where, check_batch, from_numpy
from ._job import MALFORMED, Job, Totals, combine, combine_all, score
from ._report import si
from ._sources import READERS, Piece

# --------------------------------------------------------------------------- deadlines


class TimedOut(BaseException):
    """A wall-clock deadline passed (:func:`deadline`). A BaseException, raised in the
    main thread by SIGALRM's handler, so that no ``except Exception`` of a library on
    the way (Dask's connection retries) takes it for an ordinary failure."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@contextlib.contextmanager
def deadline(seconds: float | None, message: str) -> Any:
    """Raise :class:`TimedOut` (message) in the main thread if the block still runs
    after `seconds` of wall-clock time: a SIGALRM timer, so it interrupts waits that
    never time out themselves (a peer that accepts a connection and never answers).

    Deadlines nest: an inner one that would end after the outer one is not set, and
    when an inner one ends the outer one's timer and handler are restored with the
    time left. None, or a call outside the main thread (no signals there), sets no
    deadline."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]  # 0.0: no timer running
    if outer_left and outer_left <= seconds:
        yield  # the outer deadline comes first and keeps its handler
        return

    def expire(signum: int, frame: object) -> None:
        raise TimedOut(message)

    start = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:  # the outer deadline resumes with what is left of it
            left = outer_left - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6))


# --------------------------------------------------------------------------- engines


def _score_batch(job: Job, where: Where, columns: dict[str, Any]) -> tuple[Totals, Any]:
    """Totals of one batch and, for --per-row, its losses (null where a row was skipped)."""
    malformed = columns.pop("malformed", 0)
    if "input" not in columns:  # only a count of malformed CSV lines
        totals = Totals()
        totals.skipped[MALFORMED] += malformed
        return totals, None
    clean = check_batch(job, where, columns)
    totals, loss = score(job, clean.x, clean.y, clean.w)
    totals.skipped += clean.skipped
    totals.skipped[MALFORMED] += malformed
    if loss is None or clean.keep is None:
        return totals, loss
    full = np.zeros(len(clean.keep), dtype=loss.dtype)
    full[clean.keep] = loss
    return totals, (full, ~clean.keep)


def score_piece(piece: Piece, job: Job) -> Totals:
    """The totals of one piece (a Dask partition), batch after batch."""
    total = Totals()
    for where, columns in READERS[piece.kind](piece, job):
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
        line += f"  {si(rate)} rows/s"
        if self.total and rate > 0:
            line += f"  ETA {_clock(max(self.total - self.rows, 0) / rate)}"
        sys.stderr.write("\r" + line + "\x1b[K")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.last > self.start:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class PerRowWriter:
    """Each row's loss to Parquet, streamed into a temporary file renamed at the end;
    removed if the run fails (or is interrupted), so no partial output is left behind.

    The temporary file is made by :func:`tempfile.mkstemp` next to the output
    (created exclusively, never through a symlink) and written through that descriptor.
    The output's path is checked first (:func:`_sources.check_output`)."""

    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path = path
        self.schema = pa.schema([pa.field("loss", pa.float64())])
        self.file: Any = None
        self.writer: Any = None
        directory, name = os.path.split(os.path.abspath(path))
        try:
            fd, self.tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
        except OSError as e:
            raise BadInput(f"--per-row {path}: cannot write ({e.strerror or e})") from None
        try:
            self.file = os.fdopen(fd, "wb")
        except BaseException:
            os.close(fd)
            self.discard()
            raise
        try:
            if hasattr(os, "fchmod"):  # the permissions of a file made by open(), not 0600
                umask = os.umask(0o022)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)
            # Losses are all distinct: a dictionary would only cost time (6x).
            self.writer = pq.ParquetWriter(self.file, self.schema, use_dictionary=False)
        except OSError as e:
            self.discard()
            raise BadInput(f"--per-row {path}: cannot write ({e.strerror or e})") from None
        except BaseException:
            self.discard()
            raise

    def write(self, losses: Any) -> None:
        import pyarrow as pa

        values, mask = losses if isinstance(losses, tuple) else (losses, None)
        array = from_numpy(values, mask)
        try:
            self.writer.write_batch(pa.record_batch([array], schema=self.schema))
        except OSError as e:
            raise BadInput(f"--per-row {self.path}: cannot write ({e.strerror or e})") from None

    def commit(self) -> None:
        try:
            self.writer.close()
            self.file.close()  # the writer does not close a file object it was given
            os.replace(self.tmp, self.path)
        except OSError as e:
            raise BadInput(f"--per-row {self.path}: cannot write ({e.strerror or e})") from None

    def discard(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):
                self.writer.close()
        if self.file is not None:
            with contextlib.suppress(Exception):
                self.file.close()
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
                for where, columns in READERS[piece.kind](piece, job):
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


def _connect(client_class: Any, scheduler: str, timeout: float) -> Any:
    """A Client of the scheduler at `scheduler`, or one line (BadInput) naming it: not an
    address, nothing listening, no Dask scheduler answering within `timeout` seconds of
    wall-clock time (a server that accepts connections and never answers, an HTTP
    server), or something that answers and is not a Dask scheduler."""
    from distributed.comm import get_address_host_port, parse_address

    try:
        if parse_address(scheduler, strict=True)[0] in ("tcp", "tls"):
            get_address_host_port(scheduler)  # a host and a port
    except (ValueError, TypeError) as e:
        raise BadInput(
            f"--scheduler {scheduler!r} is not a scheduler address ({e}); "
            "pass one such as tcp://HOST:8786"
        ) from None
    waited = f"cannot connect: no Dask scheduler answered within {timeout:g} s (--connect-timeout)"
    try:
        # Dask's own timeout as well: it ends the retries of a refused connection.
        with deadline(timeout, waited):
            return client_class(scheduler, timeout=f"{timeout}s")
    except TimedOut as e:
        if e.message != waited:  # the whole run's --timeout, not this one
            raise
        reason = waited
    except (OSError, TimeoutError) as e:
        reason = "cannot connect (" + (" ".join(str(e).split()) or type(e).__name__) + ")"
    except Exception as e:  # an answer that is not a scheduler's: an HTTP server's, say
        # (its first bytes read as a frame size make Dask allocate exbibytes): the
        # error's own text would only mislead
        reason = (
            "the server there is not a Dask scheduler "
            f"(its reply is not Dask's protocol: {type(e).__name__} reading it)"
        )
    raise BadInput(f"--scheduler {scheduler}: {reason}"[:400]) from None


@contextlib.contextmanager
def _quiet_descriptor_2() -> Any:
    """File descriptor 2 goes to /dev/null while Dask runs, and sys.stderr (the progress
    bar, xent's messages) to a duplicate of the real one. Dask's worker processes
    inherit descriptor 2, and Dask's logging handlers hold the stream on it: a Ctrl-C
    reaches every process of the terminal's group, and without this each worker, and
    Dask's own shutdown in this process, print tracebacks. Failures on a worker still
    reach xent through its futures."""
    if sys.stderr is None:  # 2>&-: descriptor 2 is /dev/null already
        yield
        return
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    real, saved = sys.stderr, os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    sys.stderr = open(saved, "w", buffering=1, encoding="utf-8", errors="backslashreplace")
    try:
        yield
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.close()  # closes `saved`
        sys.stderr = real


def run_dask(
    pieces: Sequence[Piece],
    job: Job,
    progress: Progress,
    scheduler: str | None,
    timeout: float = 20.0,
    quiet: bool = True,
) -> Totals:
    """One dask.dataframe partition per piece, each reduced to its Totals on a worker,
    merged here in piece order by the same :func:`combine` as the local engine.
    `quiet` (no --debug): nothing Dask's processes print reaches stderr
    (:func:`_quiet_descriptor_2`)."""
    if not pieces:
        return Totals()
    with _quiet_descriptor_2() if quiet else contextlib.nullcontext():
        try:
            return _dask_totals(pieces, job, progress, scheduler, timeout)
        except BaseException as e:
            if not isinstance(e, Exception):  # Ctrl-C, SIGTERM, --timeout: the run ends here
                # Dask's tasks cut short are reported by asyncio when collected, later.
                logging.getLogger("asyncio").disabled = True
                if quiet:  # and distributed's loggers in this process, shutting down
                    _silence_loggers("distributed")
            if scheduler is None:
                _close_leftover_clusters()
            raise


def _silence_loggers(prefix: str) -> None:
    """Disable the logger `prefix` and every logger under it (a disabled parent does not
    stop its children's records from reaching its handlers)."""
    for name in [prefix, *logging.root.manager.loggerDict]:
        if name == prefix or name.startswith(prefix + "."):
            logging.getLogger(name).disabled = True


def _close_leftover_clusters() -> None:
    """A LocalCluster interrupted (Ctrl-C, SIGTERM, --timeout) while it starts was never
    entered in a ``with``: Dask's exit handler would close it at exit and print a
    traceback after xent's message. Run that handler now, quietly, in its place."""
    import atexit

    from distributed.deploy import spec

    close = getattr(spec, "close_clusters", None)
    if close is not None:
        with contextlib.suppress(BaseException):  # already failing: a second error adds nothing
            close()
        atexit.unregister(close)


def _dask_totals(
    pieces: Sequence[Piece], job: Job, progress: Progress, scheduler: str | None, timeout: float
) -> Totals:
    import dask.dataframe as dd
    import pandas as pd
    from distributed import Client, LocalCluster, as_completed

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
            client = stack.enter_context(_connect(Client, scheduler, timeout))
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
