"""Build script for xent's optional C extension (metadata lives in pyproject.toml).

The kernels are compiled once per instruction set and dtype: the rows of
src/xent/_kernels/csrc/xent_isas.h (read here with a regular expression) name
each instruction set, the architecture it needs and its target features, and
isa_kernels.c is compiled for every row of this machine's architecture and every
storage dtype (float32, float64, bfloat16, float16; the halves compute in float32), with
-DXENT_ISA_NAME=<name> -DXENT_ISA_<name>=1 -DXENT_F64=<0|1> -DXENT_HALF=<0|1|2> and
-m<feature> for each feature (never -march=native). The instruction set is chosen at import from
the CPU that runs xent. The extension is optional: without a compiler
`pip install .` still succeeds and xent runs its array-API reference path.
tools/asan_check.py builds the same objects from build_plan().
"""

from __future__ import annotations

import os
import platform
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CSRC = Path("src/xent/_kernels/csrc")
# compiled once, with the Python headers
SOURCES = ["module.c", "xent_pool.c"]
# compiled once per (instruction set, dtype), without them
ISA_SOURCE = "isa_kernels.c"
ISA_TABLE = "xent_isas.h"
# a row of XENT_ISAS in xent_isas.h: X(name, ARCH, "target features", cpu check)
ISA_ROW = re.compile(r'^\s*X\((\w+),\s*(\w+),\s*"([^"]*)"', re.M)
# the machines (platform.machine(), lowercased) each ARCH of the table builds on
ARCHES = {"ANY": None, "X86_64": {"x86_64", "amd64"}}

# GCC and Clang: optimise, keep IEEE semantics (no fast-math, no silent fused
# multiply-adds: the kernels write the ones they want), no host-specific flags.
UNIX_FLAGS = ["-O3", "-g0", "-std=c11", "-ffp-contract=off", "-fno-math-errno", "-pthread"]


# the storage dtypes of the kernels: (XENT_F64, XENT_HALF); halves compute in float32
DTYPES = {"f32": ("0", "0"), "f64": ("1", "0"), "bf16": ("0", "1"), "f16": ("0", "2")}


@dataclass(frozen=True)
class Variant:
    """One compilation of ISA_SOURCE: an instruction set (a table row) and a storage
    dtype (a key of DTYPES)."""

    isa: str
    dtype: str
    flags: tuple[str, ...]  # -m<feature> for each target feature of the row

    @property
    def name(self) -> str:  # also the folder of its object file
        return f"isa_{self.isa}_{self.dtype}"

    @property
    def macros(self) -> list[tuple[str, str]]:
        f64, half = DTYPES[self.dtype]
        return [
            ("XENT_ISA_NAME", self.isa),
            (f"XENT_ISA_{self.isa}", "1"),
            ("XENT_F64", f64),
            ("XENT_HALF", half),
        ]


def build_plan(csrc: Path = CSRC, machine: str | None = None, unix: bool = True) -> list[Variant]:
    """The variants to build on this machine: every row of the ISA table whose
    architecture is the machine's, and that needs no target flags unless the
    compiler takes GCC-style ones (unix), times the storage dtypes (DTYPES)."""
    machine = (machine or platform.machine()).lower()
    rows = ISA_ROW.findall((csrc / ISA_TABLE).read_text())
    if not rows:
        raise RuntimeError(f"no rows found in {csrc / ISA_TABLE}")
    plan = []
    for isa, arch, target in rows:
        machines = ARCHES[arch]
        if machines is not None and machine not in machines:
            continue
        flags = tuple(f"-m{feature.strip()}" for feature in target.split(",") if feature.strip())
        if flags and not unix:
            continue
        plan += [Variant(isa, dtype, flags) for dtype in DTYPES]
    return plan


class BuildExt(build_ext):
    def build_extensions(self) -> None:
        unix = self.compiler.compiler_type == "unix"
        if unix:
            for ext in self.extensions:
                ext.extra_compile_args = [*UNIX_FLAGS, *ext.extra_compile_args]
                ext.extra_link_args = ["-pthread", *ext.extra_link_args]
        self.plan = build_plan(unix=unix)
        compile_one = self.compiler.compile

        def compile_parallel(sources: list[str], *args: object, **kwargs: object) -> list[str]:
            """One compiler process per source file (they are independent)."""
            with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
                jobs = pool.map(lambda source: compile_one([source], *args, **kwargs), sources)
                return [obj for objects in jobs for obj in objects]

        self.compile_one = compile_one
        self.compiler.compile = compile_parallel
        super().build_extensions()

    def build_extension(self, ext: Extension) -> None:
        """The variants of ISA_SOURCE first (in parallel, each into its own folder
        of build_temp), as extra objects of the extension; then the rest."""
        source = str(CSRC / ISA_SOURCE)

        def compile_variant(variant: Variant) -> list[str]:
            return self.compile_one(
                [source],
                output_dir=os.path.join(self.build_temp, variant.name),
                macros=[*ext.define_macros, *variant.macros],
                include_dirs=ext.include_dirs,
                debug=self.debug,
                extra_postargs=[*ext.extra_compile_args, *variant.flags],
                depends=ext.depends,
            )

        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            objects = [obj for objs in pool.map(compile_variant, self.plan) for obj in objs]
        ext.extra_objects = [*objects, *ext.extra_objects]
        super().build_extension(ext)


if __name__ == "__main__":  # setuptools runs this file as __main__; asan_check imports it
    setup(
        ext_modules=[
            Extension(
                "xent._kernels._xentc",
                sources=[str(CSRC / s) for s in SOURCES],
                depends=[str(p) for p in sorted(CSRC.glob("*.[ch]"))],
                optional=True,
            )
        ],
        cmdclass={"build_ext": BuildExt},
    )
