/* CSV stage 1 for SSE4.2 + PCLMULQDQ: four 16-byte compares per byte class, PMOVMSKB to
 * 64-bit masks, quoted regions by a carry-less multiply of the quote mask by all ones. */
#include "decode/arch/csv_kernels.h"

#include <immintrin.h>

static inline uint64_t movemask4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return (uint64_t)(uint32_t)_mm_movemask_epi8(a) | (uint64_t)(uint32_t)_mm_movemask_epi8(b) << 16 |
           (uint64_t)(uint32_t)_mm_movemask_epi8(c) << 32 | (uint64_t)(uint32_t)_mm_movemask_epi8(d) << 48;
}

static inline uint64_t eq(const __m128i v[4], __m128i k)
{
    return movemask4(_mm_cmpeq_epi8(v[0], k), _mm_cmpeq_epi8(v[1], k), _mm_cmpeq_epi8(v[2], k),
                     _mm_cmpeq_epi8(v[3], k));
}

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i r = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(r);
}

static void classify(const uint8_t *p, size_t nblocks, int next, const struct dl_csv_kparams *kp,
                     struct dl_csv_kstate *st, struct dl_csv_masks *out)
{
    const __m128i vd = _mm_set1_epi8((char)kp->delim), vq = _mm_set1_epi8((char)kp->quote);
    const __m128i vcr = _mm_set1_epi8('\r'), vlf = _mm_set1_epi8('\n');
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        __m128i v[4];
        for (int i = 0; i < 4; i++)
            v[i] = _mm_loadu_si128((const __m128i *)(p + 16 * i));
        uint64_t q = kp->has_quote ? eq(v, vq) : 0;
        uint64_t high = movemask4(v[0], v[1], v[2], v[3]);
        int nx = b + 1 < nblocks ? p[64] : next;
        dl_csv_finish_block(eq(v, vd), q, eq(v, vcr), eq(v, vlf), prefix_xor(q), high, nx, kp, st, &out[b]);
    }
}

const struct dl_csv_kernel dl_csv_kernel_sse42 = { DL_SIMD_SSE42, classify };
