"""The ``xent`` console script's entry point, outside the ``xent`` package.

``from xent.cli import main`` imports numpy, xent and the rest first (a few hundred
milliseconds). A Ctrl-C then would show a traceback of the import, or worse, numpy's
"the C extension failed to import" advice, as an interrupted import inside numpy's C
code becomes an ImportError. So while those imports run, SIGINT writes the same one line
as an interrupt later does and ends the process at once with exit status 130
(128 + SIGINT): nothing has been opened or written yet that would need cleaning up.
Once the imports are done, Python's own handler is back and :func:`xent.cli.main`
handles Ctrl-C itself. (The interpreter's start-up before this module runs is Python's.)
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

INTERRUPTED = 128 + signal.SIGINT  # as xent.cli.main returns on Ctrl-C


def _interrupted_while_importing(signum: int, frame: FrameType | None) -> None:
    try:
        os.write(2, b"xent eval: interrupted\n")
    except OSError:  # stderr closed or full: the exit status says it
        pass
    os._exit(INTERRUPTED)


def main() -> int:
    """Import :mod:`xent.cli` and return what its ``main()`` returns."""
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.default_int_handler:  # not ignored (as for a background job)
        signal.signal(signal.SIGINT, _interrupted_while_importing)
    try:
        from xent.cli import main as run
    finally:
        if previous is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous)
    return run()


if __name__ == "__main__":
    sys.exit(main())
