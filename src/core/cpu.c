#include "core/cpu.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum dl_simd_level level;
static char note[160];

static bool probe(enum dl_simd_level l);

/* cpuid is slow in some VMs (tens of microseconds): ask once per level */
bool dl_cpu_has(enum dl_simd_level l)
{
    static int cache[DL_SIMD_COUNT]; /* 0 unknown, 1 no, 2 yes */
    if ((unsigned)l >= DL_SIMD_COUNT)
        return false;
    int c = __atomic_load_n(&cache[l], __ATOMIC_RELAXED);
    if (!c) {
        c = probe(l) ? 2 : 1;
        __atomic_store_n(&cache[l], c, __ATOMIC_RELAXED);
    }
    return c == 2;
}

static bool probe(enum dl_simd_level l)
{
    if (l == DL_SIMD_SCALAR)
        return true;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return false;
    bool pclmul = c & bit_PCLMUL, sse42 = c & bit_SSE4_2, popcnt = c & bit_POPCNT;
    bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX;
    if (l == DL_SIMD_SSE42)
        return sse42 && pclmul;
    if (l != DL_SIMD_AVX2 && l != DL_SIMD_AVX512)
        return false;
    if (!(sse42 && pclmul && osxsave && avx))
        return false;
    /* the OS must save the YMM state (XCR0 bits 1 and 2), and for AVX-512 the opmask and ZMM
     * state too (bits 5, 6 and 7): a CPU can have AVX-512 that the kernel does not enable */
    unsigned lo, hi, os_state = l == DL_SIMD_AVX512 ? 0xE6 : 0x06;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    if ((lo & os_state) != os_state)
        return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return false;
    if (l == DL_SIMD_AVX2)
        return b & bit_AVX2;
    /* VBMI and VBMI2 (byte permutes across the vector, byte compress) leave out Skylake-SP and
     * Cascade Lake, whose clock drops under 512-bit code; AVX2 serves them as well */
    const unsigned need_b = bit_AVX2 | bit_BMI | bit_BMI2 | bit_AVX512F | bit_AVX512BW | bit_AVX512VL;
    const unsigned need_c = bit_AVX512VBMI | bit_AVX512VBMI2;
    return popcnt && (b & need_b) == need_b && (c & need_c) == need_c;
#elif defined(__aarch64__)
    return l == DL_SIMD_NEON;
#else
    return false;
#endif
}

const char *dl_simd_name(enum dl_simd_level l)
{
    switch (l) {
    case DL_SIMD_SCALAR: return "scalar";
    case DL_SIMD_SSE42: return "sse42";
    case DL_SIMD_AVX2: return "avx2";
    case DL_SIMD_NEON: return "neon";
    case DL_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

/* The next level down: avx512 > avx2 > sse42 > scalar, neon > scalar. */
static enum dl_simd_level below(enum dl_simd_level l)
{
    switch (l) {
    case DL_SIMD_AVX512: return DL_SIMD_AVX2;
    case DL_SIMD_AVX2: return DL_SIMD_SSE42;
    default: return DL_SIMD_SCALAR;
    }
}

static enum dl_simd_level best(void)
{
    if (dl_cpu_has(DL_SIMD_AVX512))
        return DL_SIMD_AVX512;
    if (dl_cpu_has(DL_SIMD_AVX2))
        return DL_SIMD_AVX2;
    if (dl_cpu_has(DL_SIMD_SSE42))
        return DL_SIMD_SSE42;
    if (dl_cpu_has(DL_SIMD_NEON))
        return DL_SIMD_NEON;
    return DL_SIMD_SCALAR;
}

static void init(void)
{
    level = best();
    const char *env = getenv("DDBLOAD_SIMD");
    if (!env || !*env)
        return;
    for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++) {
        if (strcmp(env, dl_simd_name((enum dl_simd_level)l)) != 0)
            continue;
        if (dl_cpu_has((enum dl_simd_level)l)) {
            level = (enum dl_simd_level)l;
        } else {
            /* fall back to the best level below the requested one (scalar is always there) */
            enum dl_simd_level f = below((enum dl_simd_level)l);
            while (!dl_cpu_has(f))
                f = below(f);
            level = f;
            snprintf(note, sizeof note, "DDBLOAD_SIMD=%s is not supported by this CPU; using %s", env,
                     dl_simd_name(f));
        }
        return;
    }
    snprintf(note, sizeof note, "DDBLOAD_SIMD=%s is unknown (scalar, sse42, avx2, avx512, neon); using %s", env,
             dl_simd_name(level));
}

enum dl_simd_level dl_cpu_level(void)
{
    pthread_once(&once, init);
    return level;
}

int dl_cpu_force(enum dl_simd_level l)
{
    pthread_once(&once, init);
    if (!dl_cpu_has(l))
        return -1;
    int prev = (int)level;
    level = l;
    return prev;
}

const char *dl_cpu_level_note(void)
{
    pthread_once(&once, init);
    return note[0] ? note : NULL;
}
