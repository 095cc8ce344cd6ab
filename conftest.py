"""Doctest collection: modules that import an optional framework are skipped where it is absent
(the CI job without optional dependencies); everything else always runs."""

import importlib.util

collect_ignore = [
    path
    for path, module in [("src/xent/nn.py", "torch")]
    if importlib.util.find_spec(module) is None
]
