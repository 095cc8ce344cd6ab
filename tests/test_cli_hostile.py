"""`xent eval` against hostile outputs and environments (issue 16): --per-row and --plot
paths that are inputs or not regular files, signals, closed or full standard streams,
out-of-range --batch-rows, internal errors. Each runs the command in a subprocess and
checks its exit status, that stderr is one line, and that the inputs are unchanged."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

from xent import cli  # noqa: E402  (after the importorskip of its dependencies)
from xent.cli import _report  # noqa: E402

SRC = str(Path(cli.__file__).resolve().parents[2])
N = 2000


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": SRC, **extra}


def xent(*argv: object, cwd: Path | None = None, shell: str = "") -> subprocess.CompletedProcess:
    """`python -m xent.cli ARGV` (with `shell`, e.g. '2>&-', applied to it by sh)."""
    command = [sys.executable, "-m", "xent.cli", *map(str, argv)]
    if shell:
        command = ["sh", "-c", f'exec "$0" "$@" {shell}', *command]
    return subprocess.run(command, capture_output=True, text=True, env=_env(), cwd=cwd, timeout=120)


def script(code: str, *argv: object) -> subprocess.CompletedProcess:
    """`python -c CODE ARGV`: the command with something patched first."""
    return subprocess.run(
        [sys.executable, "-c", code, *map(str, argv)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )


def one_line(err: str, message: str) -> None:
    assert err.count("\n") == 1 and err.endswith("\n"), err
    assert "Traceback" not in err and message in err, err


def snapshot(*paths: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def unchanged(before: dict[Path, bytes]) -> None:
    for path, data in before.items():
        assert path.read_bytes() == data, path


def no_temporary_files(directory: Path) -> None:
    assert [n for n in os.listdir(directory) if n.endswith(".tmp")] == []


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    p = rng.random(N)
    y = (rng.random(N) < p).astype(np.int8)
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"p": p, "y": y, "w": np.zeros(N)}), path, row_group_size=500)
    return path


ARGS = ["--input", "p", "--target", "y"]


# --------------------------------------------------------------------------- --per-row


def _refused_output(case: str, tmp_path: Path, parquet: Path) -> tuple[list, object, Any, str]:
    """(files, --per-row path, cwd, the message expected) of a refused output."""
    if case == "same-path":
        return [parquet], parquet, None, "is the input file"
    if case == "dot-path":
        return ["p.parquet"], "./p.parquet", tmp_path, "is the input file p.parquet"
    if case == "symlink":
        (tmp_path / "link.parquet").symlink_to(parquet)
        return [parquet], tmp_path / "link.parquet", None, "is the input file"
    if case == "hard-link":
        os.link(parquet, tmp_path / "hard.parquet")
        return [tmp_path / "hard.parquet"], parquet, None, "is the input file"
    if case == "glob":
        return [tmp_path / "*.parquet"], parquet, None, "is the input file"
    if case == "inside-input-directory":
        (tmp_path / "ds").mkdir()
        os.replace(parquet, tmp_path / "ds" / "part-0.parquet")
        out = tmp_path / "ds" / "sub" / "losses.parquet"
        out.parent.mkdir()
        return [tmp_path / "ds"], out, None, "is inside the input directory"
    if case == "dev-null":
        return [parquet], "/dev/null", None, "exists and is a character device, not a regular"
    if case == "directory":
        (tmp_path / "out").mkdir()
        return [parquet], tmp_path / "out", None, "exists and is a directory, not a regular"
    if case == "fifo":
        os.mkfifo(tmp_path / "out.parquet")
        return [parquet], tmp_path / "out.parquet", None, "exists and is a FIFO, not a regular"
    raise AssertionError(case)


REFUSED = [
    "same-path",
    "dot-path",
    "symlink",
    "hard-link",
    "glob",
    "inside-input-directory",
    "dev-null",
    "directory",
    "fifo",
]


@pytest.mark.parametrize("case", REFUSED)
def test_per_row_refuses_an_input_or_a_file_that_is_not_regular(tmp_path, parquet, case):
    files, out, cwd, message = _refused_output(case, tmp_path, parquet)
    inputs = [p for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()]
    before = snapshot(*inputs)
    listing = sorted(str(p) for p in tmp_path.rglob("*"))
    done = xent("eval", *files, *ARGS, "--per-row", out, cwd=cwd)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--per-row {out}: {message}")
    unchanged(before)
    assert sorted(str(p) for p in tmp_path.rglob("*")) == listing  # nothing made, nothing moved
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_per_row_is_checked_before_any_file_is_read(tmp_path):
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not a parquet file")
    done = xent("eval", corrupt, *ARGS, "--per-row", tmp_path)
    assert done.returncode == 2
    one_line(done.stderr, f"--per-row {tmp_path}: exists and is a directory")


def test_per_row_replaces_a_previous_output_without_force(tmp_path, parquet):
    out = tmp_path / "losses.parquet"
    out.write_bytes(b"the previous run's output")
    before = snapshot(parquet)
    done = xent("eval", parquet, *ARGS, "--per-row", out)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert pq.read_table(out).num_rows == N
    unchanged(before)
    assert sorted(os.listdir(tmp_path)) == ["losses.parquet", "p.parquet"]


def test_per_row_temporary_file_does_not_follow_a_planted_symlink(tmp_path, parquet, capsys):
    """The temporary file was `.{name}.{pid}.tmp`, opened through any symlink found there;
    it is now made by mkstemp (a fresh name, created exclusively)."""
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"not yours")
    out = tmp_path / "losses.parquet"
    planted = tmp_path / f".losses.parquet.{os.getpid()}.tmp"
    planted.symlink_to(victim)
    assert cli.main(["eval", str(parquet), *ARGS, "--per-row", str(out)]) == 0
    assert victim.read_bytes() == b"not yours"
    assert out.is_file() and not out.is_symlink() and pq.read_table(out).num_rows == N
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() makes it, not 0600
    assert planted.is_symlink()  # left alone
    capsys.readouterr()


def test_per_row_temporary_file_is_removed_on_bad_input(tmp_path):
    p = np.full(N, 0.5)
    p[1500] = 7.0  # in the third batch of 512 rows, after some were written
    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"p": p, "y": np.zeros(N)}), path)
    done = xent("eval", path, *ARGS, "--batch-rows", 512, "--per-row", tmp_path / "o.parquet")
    assert done.returncode == 2
    one_line(done.stderr, "row 1500")
    assert os.listdir(tmp_path) == ["p.parquet"]


# --------------------------------------------------------------------------- signals

# The command with each --per-row write followed by a long sleep, once a file named by
# XENT_TEST_READY says the temporary file holds rows.
SLOW = """
import os, signal, sys, time
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # not ignored, even if this test's is
from xent.cli import _engines, main
write = _engines.PerRowWriter.write
def slow(self, losses):
    write(self, losses)
    open(os.environ["XENT_TEST_READY"], "w").close()
    time.sleep(120)
_engines.PerRowWriter.write = slow
sys.exit(main())
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signals_remove_the_temporary_file_and_exit_128_plus_the_signal(tmp_path, signum):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "p.parquet"
    pq.write_table(pa.table({"p": np.full(N, 0.5), "y": np.zeros(N)}), path)
    out = work / "losses.parquet"
    out.write_bytes(b"the previous run's output")
    before = snapshot(path, out)
    ready = tmp_path / "ready"
    argv = ["eval", path, *ARGS, "--batch-rows", 256, "--per-row", out]
    with subprocess.Popen(
        [sys.executable, "-c", SLOW, *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(XENT_TEST_READY=str(ready)),
    ) as proc:
        deadline = time.monotonic() + 100
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), proc.communicate(timeout=10)
        assert len([n for n in os.listdir(work) if n.endswith(".tmp")]) == 1
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    assert (proc.returncode, stdout) == (128 + signum, "")
    word = "interrupted" if signum == signal.SIGINT else f"terminated by {signum.name}"
    one_line(stderr, f"xent eval: {word}")
    unchanged(before)
    assert sorted(os.listdir(work)) == ["losses.parquet", "p.parquet"]


# --------------------------------------------------------------------------- --plot


@pytest.mark.parametrize("case", ["directory", "no-extension", "txt", "directory-named-png"])
def test_plot_needs_a_file_with_an_image_extension(tmp_path, case):
    pytest.importorskip("matplotlib")
    path = tmp_path / "p.parquet"
    p = np.full(N, 0.5)
    p[0] = 1.5  # a bad first row: the --plot path is refused before any row is scored
    pq.write_table(pa.table({"p": p, "y": np.zeros(N)}), path)
    plot, message = {
        "directory": (tmp_path / "plots", "has no extension; name a file ending in one of .png"),
        "no-extension": (tmp_path / "name", "has no extension"),
        "txt": (tmp_path / "plot.txt", "has '.txt'"),
        "directory-named-png": (tmp_path / "plot.png", "exists and is a directory"),
    }[case]
    if case.startswith("directory"):
        plot.mkdir()
    listing = sorted(os.listdir(tmp_path))
    before = snapshot(path)
    done = xent("eval", path, *ARGS, "--plot", plot)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--plot {plot}: {message}")
    unchanged(before)
    assert sorted(os.listdir(tmp_path)) == listing  # no plots.png, name.png


def test_plot_writes_exactly_the_path_given(tmp_path, parquet):
    pytest.importorskip("matplotlib")
    before = snapshot(parquet)
    plot = tmp_path / "reliability.PDF"
    done = xent("eval", parquet, *ARGS, "--plot", plot)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert plot.read_bytes().startswith(b"%PDF")
    assert sorted(os.listdir(tmp_path)) == ["p.parquet", "reliability.PDF"]
    unchanged(before)


def test_plot_with_all_weights_zero_is_one_line(tmp_path, parquet):
    pytest.importorskip("matplotlib")
    before = snapshot(parquet)
    plot = tmp_path / "r.png"
    done = xent("eval", parquet, *ARGS, "--weight-col", "w", "--plot", plot)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--plot {plot}: the {N:,} rows scored have a total weight of 0")
    assert not plot.exists()
    unchanged(before)


def test_plot_formats_are_matplotlibs():
    backend_bases = pytest.importorskip("matplotlib.backend_bases")
    supported = backend_bases.FigureCanvasBase.get_supported_filetypes()
    assert set(_report.PLOT_FORMATS) <= set(supported)


# --------------------------------------------------------------------------- standard streams


def test_stderr_closed_is_not_an_error(tmp_path, parquet):
    before = snapshot(parquet)
    out = tmp_path / "losses.parquet"
    done = xent("eval", parquet, *ARGS, "--per-row", out, shell="2>&-")
    assert done.returncode == 0 and done.stdout.startswith("loss (mean)"), done
    assert pq.read_table(out).num_rows == N  # no stray write of fd 2 went into it
    done = xent("eval", parquet, "--input", "nope", "--target", "y", shell="2>&-")
    assert (done.returncode, done.stdout) == (2, "")  # the message is lost, not on stdout
    unchanged(before)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stdout_closed_is_an_error(parquet, fmt):
    before = snapshot(parquet)
    done = xent("eval", parquet, *ARGS, "--format", fmt, shell=">&-")
    assert done.returncode == 1
    one_line(done.stderr, "xent eval: error: cannot write the report to stdout (stdout is closed)")
    unchanged(before)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_stdout_full_is_an_error(parquet, fmt):
    before = snapshot(parquet)
    done = xent("eval", parquet, *ARGS, "--format", fmt, shell=">/dev/full")
    assert done.returncode == 1
    one_line(done.stderr, "xent eval: error: cannot write the report to stdout (No space left")
    unchanged(before)


# --------------------------------------------------------------------------- arguments


@pytest.mark.parametrize("rows", ["99999999999999999999", "0", "-3", "abc", str(2**30 + 1)])
def test_batch_rows_out_of_range_is_one_line(parquet, rows):
    before = snapshot(parquet)
    done = xent("eval", parquet, *ARGS, "--batch-rows", rows)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--batch-rows must be an integer from 1 to 1,073,741,824, got {rows}")
    unchanged(before)


# --------------------------------------------------------------------------- internal errors

BUG = """
import sys
import xent.cli as cli
def report(*args, **kwargs):
    raise RuntimeError("boom\\nsecond line")
cli.report = report
sys.exit(cli.main())
"""


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_internal_error_is_one_line_and_status_1(tmp_path, parquet, debug):
    before = snapshot(parquet)
    flags = ["--debug"] if debug else []
    done = script(BUG, "eval", parquet, *ARGS, "--per-row", tmp_path / "o.parquet", *flags)
    assert (done.returncode, done.stdout) == (1, "")
    line = "xent eval: internal error: RuntimeError: boom second line; please report it"
    if debug:
        assert done.stderr.startswith("Traceback") and "in report" in done.stderr
        assert done.stderr.splitlines()[-1].startswith(line)
    else:
        one_line(done.stderr, line)
    assert sorted(os.listdir(tmp_path)) == ["p.parquet"]
    unchanged(before)


# --------------------------------------------------------------------------- columns, options


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_duplicated_columns_are_refused(tmp_path, kind):
    path = tmp_path / f"dup.{kind}"
    if kind == "csv":
        path.write_bytes(b"p,p,y\n0.5,0.6,1\n")
    else:
        arrays = [pa.array([0.5]), pa.array([0.6]), pa.array([1])]
        pq.write_table(pa.Table.from_arrays(arrays, names=["p", "p", "y"]), path)
    before = snapshot(path)
    done = xent("eval", path, *ARGS)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"{path}: 2 columns are named 'p', so which one is meant is ambiguous")
    unchanged(before)


def test_csv_header_that_is_not_utf8_is_one_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(b"\xff\xfe,y\n0.5,1\n")
    before = snapshot(path)
    done = xent("eval", path, *ARGS)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"{path}: no column 'p' (it has '\ufffd\ufffd', 'y')")
    unchanged(before)


@pytest.mark.parametrize("weight", ["1e39", "-1e300"])
def test_pos_weight_beyond_float32_is_refused(parquet, weight):
    done = xent("eval", parquet, *ARGS, "--from-logits", f"--pos-weight={weight}")
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, "--pos-weight must be at most 3.403e+38 in magnitude")


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--connect-timeout", "5"], "--connect-timeout needs --scheduler"),
        (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "0"], "must be more than 0"),
        (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "nan"], "must be more than 0"),
        (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1e9"], "at most 86400"),
        (["--scheduler", "tcp://127.0.0.1:9", "--connect-timeout", "1"], "cannot connect"),
    ],
    ids=["no-scheduler", "zero", "nan", "huge", "unreachable"],
)
def test_connect_timeout(parquet, flags, message):
    if message == "cannot connect":
        pytest.importorskip("distributed")
        pytest.importorskip("dask.dataframe")
    start = time.monotonic()
    done = xent("eval", parquet, *ARGS, "--engine", "dask", *flags)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, message)
    assert time.monotonic() - start < 60  # not the 20 s default, nor hanging


@pytest.mark.parametrize("alpha", ["1e300", "2", "1.0000001", "inf", "nan"])
def test_focal_alpha_outside_torchvisions_range_is_refused(parquet, alpha):
    done = xent(
        "eval", parquet, *ARGS, "--from-logits", "--focal-gamma", "2", f"--focal-alpha={alpha}"
    )
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, "--focal-alpha must be")


@pytest.mark.parametrize("seconds", ["0", "-1", "nan", "1e9"])
def test_timeout_out_of_range_is_refused(parquet, seconds):
    done = xent("eval", parquet, *ARGS, f"--timeout={seconds}")
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, "--timeout must be")


# --------------------------------------------------------------------------- --scheduler


@pytest.fixture
def dask_client() -> None:
    pytest.importorskip("distributed")
    pytest.importorskip("dask.dataframe")


@pytest.mark.parametrize("address", ["not a url", "tcp://127.0.0.1", "tcp://:"])
def test_scheduler_that_is_not_an_address_is_one_line(parquet, dask_client, address):
    done = xent("eval", parquet, *ARGS, "--engine", "dask", "--scheduler", address)
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--scheduler {address!r} is not a scheduler address")


class Server:
    """A TCP server on 127.0.0.1 that accepts every connection, holds it open and, by
    `mode`, never answers ('silent'), answers as an HTTP server would ('http') or sends
    bytes that are no protocol ('garbage')."""

    def __init__(self, mode: str) -> None:
        self.mode, self.held = mode, []
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.address = f"tcp://127.0.0.1:{self.socket.getsockname()[1]}"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        with contextlib.suppress(OSError):  # the socket closed at the test's end
            while True:
                connection, _ = self.socket.accept()
                self.held.append(connection)
                if self.mode == "http":
                    connection.recv(65536)
                    connection.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                elif self.mode == "garbage":
                    connection.sendall(bytes(range(256)) * 4)

    def close(self) -> None:
        self.socket.close()
        for connection in self.held:
            connection.close()


@pytest.fixture
def server(request, dask_client) -> Iterator[Server]:
    s = Server(request.param)
    yield s
    s.close()


@pytest.mark.parametrize(
    "server, message",
    [
        ("silent", "cannot connect: no Dask scheduler answered within 2 s (--connect-timeout)"),
        ("http", "the server there is not a Dask scheduler"),
        ("garbage", "the server there is not a Dask scheduler"),
    ],
    indirect=["server"],
)
def test_scheduler_that_never_answers_or_is_not_dask_is_one_line(parquet, server, message):
    before = snapshot(parquet)
    start = time.monotonic()
    done = xent(
        "eval",
        parquet,
        *ARGS,
        "--engine",
        "dask",
        "--scheduler",
        server.address,
        "--connect-timeout",
        "2",
    )
    elapsed = time.monotonic() - start
    assert (done.returncode, done.stdout) == (2, "")
    one_line(done.stderr, f"--scheduler {server.address}: {message}")
    assert elapsed < 30  # 2 s and the start-up: before, minutes
    unchanged(before)


@pytest.mark.parametrize("server", ["silent"], indirect=True)
def test_timeout_ends_the_whole_run_with_status_124(parquet, server):
    start = time.monotonic()
    done = xent(
        "eval",
        parquet,
        *ARGS,
        "--engine",
        "dask",
        "--scheduler",
        server.address,
        "--connect-timeout",
        "600",
        "--timeout",
        "2",
    )
    elapsed = time.monotonic() - start
    assert (done.returncode, done.stdout) == (124, "")
    one_line(done.stderr, "xent eval: error: --timeout 2 s passed; nothing was reported")
    assert elapsed < 30


def test_timeout_on_the_local_engine_removes_the_temporary_file(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = work / "p.parquet"
    pq.write_table(pa.table({"p": np.full(N, 0.5), "y": np.zeros(N)}), path)
    out = work / "losses.parquet"
    out.write_bytes(b"the previous run's output")
    before = snapshot(path, out)
    argv = ["eval", path, *ARGS, "--batch-rows", 256, "--per-row", out, "--timeout", "3"]
    done = subprocess.run(
        [sys.executable, "-c", SLOW, *map(str, argv)],
        capture_output=True,
        text=True,
        env=_env(XENT_TEST_READY=str(tmp_path / "ready")),
        timeout=100,
    )
    assert (tmp_path / "ready").exists()  # it was stopped while writing rows
    assert (done.returncode, done.stdout) == (124, "")
    one_line(done.stderr, f"--timeout 3 s passed; nothing was reported and --per-row {out} was")
    unchanged(before)
    assert sorted(os.listdir(work)) == ["losses.parquet", "p.parquet"]


# --------------------------------------------------------------------------- Ctrl-C


def _group_gone(pgid: int, seconds: float) -> bool:
    """Whether every process of the group `pgid` has exited within `seconds`."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("delay", [0.5, 1.5, 3.0])
def test_ctrl_c_during_dask_start_up_is_one_line(parquet, dask_client, delay):
    """A terminal's Ctrl-C reaches the whole foreground group: xent and the local
    cluster's worker processes. It ends in one line and status 130, or, if the run
    was done first, in its report; no process of the group is left behind."""
    before = snapshot(parquet)
    with subprocess.Popen(
        [sys.executable, "-m", "xent.cli", "eval", parquet, *ARGS, "--engine", "dask"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        start_new_session=True,
    ) as proc:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            stdout, stderr = proc.communicate(timeout=60)
        finally:
            gone = _group_gone(proc.pid, 30)
            if not gone:
                os.killpg(proc.pid, signal.SIGKILL)
    assert gone, "processes of the run were left behind"
    if proc.returncode == 0:
        assert "loss" in stdout and stderr == "", (stdout, stderr)
    else:
        assert (proc.returncode, stdout) == (130, "")
        one_line(stderr, "xent eval: interrupted")
    unchanged(before)


# xent.cli's imports, each interrupted as it starts (an import hook sends the SIGINT):
# the console script's entry point turns it into one line.
INTERRUPT_IMPORT = """
import importlib.abc, os, signal, sys
MODULE = sys.argv.pop(1)
class Interrupt(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == MODULE:
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
import _xent_cli
sys.exit(_xent_cli.main())
"""


@pytest.mark.parametrize(
    "module", ["numpy", "numpy._core._multiarray_umath", "xent._kernels", "xent.cli._engines"]
)
def test_ctrl_c_during_imports_is_one_line(parquet, module):
    done = script(INTERRUPT_IMPORT, module, "eval", parquet, *ARGS)
    assert (done.returncode, done.stdout) == (130, "")
    one_line(done.stderr, "xent eval: interrupted")
