"""``python -m xent.cli``: the ``xent`` command."""

import sys

from . import main

if __name__ == "__main__":
    sys.exit(main())
