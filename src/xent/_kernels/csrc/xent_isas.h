/* The instruction sets: one row each, best first, from which the module's ISA
 * table (isa(), supported_isas(), set_isa(), the choice at import) and setup.py's
 * build plan (tools/asan_check.py's too) are generated.
 *
 *   X(name, ARCH, "target", cpu check)
 *
 * name: the ISA's name in Python (XENT_KERNEL_ISA) and in the kernels' symbols;
 * its vector vocabulary is the XENT_ISA_<name> block of xent_simd.h.
 * ARCH: the architecture the row needs, ANY or X86_64; XENT_IF_<ARCH>(...) keeps
 * the row where the compiler targets that architecture (and can build it), and
 * setup.py skips the row on other machines (see ARCHES there).
 * target: GCC/Clang target features, comma-separated; setup.py compiles the row
 * with -m<feature> for each ("" for none).
 * cpu check: a C expression, true when the running CPU can execute the row's code.
 *
 * avx512bf16 is avx512 (the same vector vocabulary) with AVX512-BF16's float32 -> bfloat16
 * conversion (vcvtneps2bf16); the other rows round to bfloat16 with integer operations.
 * Every x86 row converts float16 with vcvtph2ps / vcvtps2ph (F16C, AVX-512F).
 *
 * setup.py reads the rows with a regular expression: keep each on one line,
 * starting with X( and with the target as a string literal. */
#ifndef XENT_ISAS_H
#define XENT_ISAS_H

#define XENT_ISAS(X)                                                                            \
    X(avx512bf16, X86_64, "avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c,bmi2,popcnt", XENT_X86_HAS("avx512f") && XENT_X86_HAS("avx512dq") && XENT_X86_HAS("avx512bw") && XENT_X86_HAS("avx512vl") && XENT_X86_HAS("avx512bf16") && XENT_X86_HAS("avx2") && XENT_X86_HAS("fma") && XENT_X86_HAS("f16c") && XENT_X86_HAS("bmi2") && XENT_X86_HAS("popcnt")) \
    X(avx512, X86_64, "avx512f,avx512dq,avx2,fma,bmi2,popcnt", XENT_X86_HAS("avx512f") && XENT_X86_HAS("avx512dq") && XENT_X86_HAS("avx2") && XENT_X86_HAS("fma") && XENT_X86_HAS("bmi2") && XENT_X86_HAS("popcnt")) \
    X(avx2, X86_64, "avx2,fma,f16c,popcnt", XENT_X86_HAS("avx2") && XENT_X86_HAS("fma") && XENT_X86_HAS("f16c") && XENT_X86_HAS("popcnt")) \
    X(baseline, ANY, "", 1)

#define XENT_IF_ANY(...) __VA_ARGS__
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__))
#define XENT_IF_X86_64(...) __VA_ARGS__
#define XENT_X86_HAS(feature) (__builtin_cpu_init(), __builtin_cpu_supports(feature))
#else
#define XENT_IF_X86_64(...)
#endif

#endif
