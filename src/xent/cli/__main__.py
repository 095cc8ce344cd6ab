"""``python -m xent.cli``: the ``xent`` command."""

from . import console

if __name__ == "__main__":
    console()
