"""Build script for xent's optional C extension (metadata lives in pyproject.toml).

The kernels are compiled for the portable baseline plus AVX2 and AVX-512 variants
(per-translation-unit target pragmas, never -march=native); the instruction set is
chosen at import from the CPU that runs xent. The extension is optional: without a
compiler `pip install .` still succeeds and xent runs its array-API reference path.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CSRC = Path("src/xent/_kernels/csrc")
SOURCES = [
    "module.c",
    "xent_pool.c",
    "isa_baseline_f32.c",
    "isa_baseline_f64.c",
    "isa_avx2_f32.c",
    "isa_avx2_f64.c",
    "isa_avx512_f32.c",
    "isa_avx512_f64.c",
]

# GCC and Clang: optimise, keep IEEE semantics (no fast-math, no silent fused
# multiply-adds: the kernels write the ones they want), no host-specific flags.
UNIX_FLAGS = ["-O3", "-g0", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-pthread"]


class BuildExt(build_ext):
    def build_extensions(self) -> None:
        if self.compiler.compiler_type == "unix":
            for ext in self.extensions:
                ext.extra_compile_args = [*UNIX_FLAGS, *ext.extra_compile_args]
                ext.extra_link_args = ["-pthread", *ext.extra_link_args]
        compile_one = self.compiler.compile

        def compile_parallel(sources: list[str], *args: object, **kwargs: object) -> list[str]:
            """One compiler process per source file (they are independent)."""
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                jobs = pool.map(lambda source: compile_one([source], *args, **kwargs), sources)
                return [obj for objects in jobs for obj in objects]

        self.compiler.compile = compile_parallel
        super().build_extensions()


setup(
    ext_modules=[
        Extension(
            "xent._kernels._xentc",
            sources=[str(CSRC / s) for s in SOURCES],
            depends=[str(p) for p in sorted(CSRC.glob("*.h"))],
            optional=True,
        )
    ],
    cmdclass={"build_ext": BuildExt},
)
