/* CPU features and the SIMD level the decoders use. The level is chosen once, at first use,
 * from what the CPU offers; DDBLOAD_SIMD=scalar|sse42|avx2|avx512|neon forces one (an
 * unavailable level falls back to the best available one below it, and dl_cpu_level_note says
 * so). */
#ifndef DL_CORE_CPU_H
#define DL_CORE_CPU_H

#include <stdbool.h>

enum dl_simd_level {
    DL_SIMD_SCALAR = 0,
    DL_SIMD_SSE42,  /* x86-64: SSE4.2 + PCLMULQDQ */
    DL_SIMD_AVX2,   /* x86-64: AVX2 + PCLMULQDQ */
    DL_SIMD_NEON,   /* aarch64: Advanced SIMD (+ PMULL) */
    DL_SIMD_AVX512, /* x86-64: AVX-512 F/BW/VL/VBMI/VBMI2 + PCLMULQDQ + BMI1/2 (Ice Lake, Zen 4, later) */
};
/* Levels are 0 .. DL_SIMD_COUNT - 1 (not in order of preference: NEON came before AVX512). */
#define DL_SIMD_COUNT 5

/* What this CPU supports (cpuid on x86-64, always NEON on aarch64). */
bool dl_cpu_has(enum dl_simd_level level);
/* The level in use: the best supported one, or DDBLOAD_SIMD's choice. Thread-safe. */
enum dl_simd_level dl_cpu_level(void);
/* Override for tests (not thread-safe against concurrent decoding): returns the previous level,
 * or -1 (and changes nothing) if the CPU lacks it. */
int dl_cpu_force(enum dl_simd_level level);
/* "scalar", "sse42", "avx2", "neon", "avx512". */
const char *dl_simd_name(enum dl_simd_level level);
/* Non-NULL when DDBLOAD_SIMD asked for something unavailable or unknown: a one-line note. */
const char *dl_cpu_level_note(void);

#endif
