"""Build the kernels with AddressSanitizer and UndefinedBehaviorSanitizer and run
the kernel tests against that build.

    python tools/asan_check.py [pytest arguments]

Needs gcc (or clang: CC=clang) with libasan and libubsan. The package sources
are copied to a temporary directory, the extension is compiled there with
-fsanitize=address,undefined (any UB report aborts), and pytest runs the kernel
tests in a fresh interpreter with that copy first on PYTHONPATH and the ASan
runtime preloaded (Python itself is not instrumented). Exit status 0 means the
tests passed without a sanitizer report.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CSRC = ROOT / "src" / "xent" / "_kernels" / "csrc"
KERNEL_TESTS = [
    "tests/test_kernels.py",
    "tests/test_kernel_softmax.py",
    "tests/test_kernel_threads.py",
    "tests/test_kernel_eval.py",
    "tests/test_kernel_autograd.py",
]
FLAGS = [
    "-fPIC",
    "-O1",
    "-g",
    "-std=c11",
    "-ffp-contract=off",
    "-fno-math-errno",
    "-pthread",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
]


def load_setup() -> ModuleType:
    """setup.py as a module (its setup() call only runs as __main__): its build plan."""
    spec = importlib.util.spec_from_file_location("xent_setup", ROOT / "setup.py")
    if spec is None or spec.loader is None:
        raise RuntimeError("cannot load setup.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def compile_jobs(objects: Path) -> list[tuple[Path, Path, list[str]]]:
    """(source, object, extra flags) for every object file setup.py builds: its
    SOURCES once, and ISA_SOURCE once per variant of build_plan()."""
    plan = load_setup()
    jobs = [(CSRC / s, objects / (Path(s).stem + ".o"), []) for s in plan.SOURCES]
    for variant in plan.build_plan(CSRC):
        defines = [f"-D{name}={value}" for name, value in variant.macros]
        obj = objects / f"{variant.name}.o"
        jobs.append((CSRC / plan.ISA_SOURCE, obj, [*defines, *variant.flags]))
    return jobs


def runtime(cc: str, name: str) -> str:
    path = subprocess.run(
        [cc, f"-print-file-name={name}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        raise FileNotFoundError(f"{cc} has no {name}; install the sanitizer runtime (libasan)")
    return path


def build(destination: Path, cc: str) -> Path:
    """Copy src/xent to destination and compile the sanitized extension into it."""
    package = destination / "xent"
    shutil.copytree(
        ROOT / "src" / "xent", package, ignore=shutil.ignore_patterns("*.so", "__pycache__")
    )
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    target = package / "_kernels" / f"_xentc{suffix}"
    include = sysconfig.get_paths()["include"]
    jobs = compile_jobs(destination)

    def compile_one(job: tuple[Path, Path, list[str]]) -> None:
        source, obj, extra = job
        command = [cc, *FLAGS, *extra, f"-I{include}", "-c", str(source), "-o", str(obj)]
        subprocess.run(command, check=True)

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(compile_one, jobs))
    objects = [obj for _, obj, _ in jobs]
    link = [cc, "-shared", *FLAGS, *map(str, objects), "-o", str(target)]
    subprocess.run(link, check=True)
    return target


def main(argv: list[str]) -> int:
    cc = os.environ.get("CC", "gcc")
    preload = [runtime(cc, "libasan.so")]
    if "clang" not in cc:
        preload.append(runtime(cc, "libubsan.so"))
    with tempfile.TemporaryDirectory(prefix="xent-asan-") as tmp:
        build(Path(tmp), cc)
        env = dict(os.environ)
        env.update(
            PYTHONPATH=os.pathsep.join([tmp, env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            LD_PRELOAD=" ".join(preload),
            # Python and the frameworks are not instrumented: their "leaks" and
            # new/free pairs are not ours to report
            ASAN_OPTIONS="detect_leaks=0:alloc_dealloc_mismatch=0:abort_on_error=1",
            UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1",
            XENT_REQUIRE_KERNELS="1",
            HYPOTHESIS_PROFILE=env.get("HYPOTHESIS_PROFILE", "dev"),
        )
        env.pop("XENT_DISABLE_KERNELS", None)
        check = (
            "import xent._kernels._xentc as m; print(m.__file__); "
            "print(any('libasan' in line for line in open('/proc/self/maps')))"
        )
        where, asan = subprocess.run(
            [sys.executable, "-c", check], env=env, capture_output=True, text=True, check=True
        ).stdout.split()
        if not where.startswith(tmp) or asan != "True":
            raise RuntimeError(f"the sanitized build is not in use: {where}, ASan loaded: {asan}")
        args = argv or KERNEL_TESTS
        # --capture=sys: a sanitizer report (written to fd 2 before the abort) stays visible
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--capture=sys"]
        command += args
        return subprocess.run(command, env=env, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
