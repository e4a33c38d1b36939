/* CSV stage 1, scalar reference: a byte loop builds the masks, a shift ladder computes the
 * prefix XOR. Always built; the other kernels must give exactly its output. Also holds the
 * kernel selector, since this is the one arch/ file every build has. */
#include "decode/arch/csv_kernels.h"

#include <pthread.h>
#include <string.h>

#include "core/json.h" /* dl_utf8_valid */

/* Bit i of the result is the XOR of bits 0..i of x (what a carry-less multiply by all ones
 * gives the SIMD kernels). */
static uint64_t prefix_xor(uint64_t x)
{
    for (int k = 1; k < 64; k <<= 1)
        x ^= x << k;
    return x;
}

static void classify(const uint8_t *p, size_t nblocks, int next, const struct dl_csv_kparams *kp,
                     struct dl_csv_kstate *st, struct dl_csv_masks *out)
{
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        uint64_t d = 0, q = 0, cr = 0, lf = 0, high = 0;
        for (int i = 0; i < 64; i++) {
            uint64_t bit = (uint64_t)1 << i;
            uint8_t c = p[i];
            if (c == kp->delim)
                d |= bit;
            if (kp->has_quote && c == kp->quote)
                q |= bit;
            if (c == '\r')
                cr |= bit;
            if (c == '\n')
                lf |= bit;
            if (c >= 0x80)
                high |= bit;
        }
        int nx = b + 1 < nblocks ? p[64] : next;
        dl_csv_finish_block(d, q, cr, lf, prefix_xor(q), high, nx, kp, st, &out[b]);
    }
}

static bool utf8_valid(const uint8_t *p, size_t n, size_t readable)
{
    (void)readable;
    return dl_utf8_valid(p, n, NULL);
}

/* Eight bytes at a time: the high bit of each byte of ((w & 7F..) + 7F..) | w is set unless
 * the byte is zero (exact: no carry crosses a byte), so XOR with c and count the zero bytes. */
static uint64_t count_byte(const uint8_t *p, size_t n, uint8_t c)
{
    const uint64_t lo7 = 0x7F7F7F7F7F7F7F7Full, rep = 0x0101010101010101ull * c;
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        w ^= rep;
        count += dl_popcount64(~(((w & lo7) + lo7) | w) & ~lo7);
    }
    for (; i < n; i++)
        count += p[i] == c;
    return count;
}

const struct dl_csv_kernel dl_csv_kernel_scalar = { DL_SIMD_SCALAR, classify, utf8_valid, count_byte };

/* dl_cpu_has runs CPUID, which a virtual machine may trap: ask once, not per reader. */
static bool has[DL_SIMD_COUNT];
static pthread_once_t has_once = PTHREAD_ONCE_INIT;

static void find_has(void)
{
    for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++)
        has[l] = dl_cpu_has((enum dl_simd_level)l);
}

const struct dl_csv_kernel *dl_csv_kernel(enum dl_simd_level level)
{
    pthread_once(&has_once, find_has);
    if ((unsigned)level >= DL_SIMD_COUNT || !has[level])
        return &dl_csv_kernel_scalar;
    switch (level) {
#if defined(__x86_64__)
    case DL_SIMD_SSE42: return &dl_csv_kernel_sse42;
    case DL_SIMD_AVX2: return &dl_csv_kernel_avx2;
    case DL_SIMD_AVX512: return &dl_csv_kernel_avx512;
#elif defined(__aarch64__)
    case DL_SIMD_NEON: return &dl_csv_kernel_neon;
#endif
    default: return &dl_csv_kernel_scalar;
    }
}
