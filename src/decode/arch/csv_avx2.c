/* CSV stage 1 for AVX2 + PCLMULQDQ: two 32-byte compares per byte class, VPMOVMSKB to
 * 64-bit masks, quoted regions by a carry-less multiply of the quote mask by all ones. */
#include "decode/arch/csv_kernels.h"

#include <immintrin.h>

static inline uint64_t movemask2(__m256i a, __m256i b)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(a) | (uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32;
}

static inline uint64_t eq(__m256i lo, __m256i hi, __m256i k)
{
    return movemask2(_mm256_cmpeq_epi8(lo, k), _mm256_cmpeq_epi8(hi, k));
}

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i r = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(r);
}

static void classify(const uint8_t *p, size_t nblocks, int next, const struct dl_csv_kparams *kp,
                     struct dl_csv_kstate *st, struct dl_csv_masks *out)
{
    const __m256i vd = _mm256_set1_epi8((char)kp->delim), vq = _mm256_set1_epi8((char)kp->quote);
    const __m256i vcr = _mm256_set1_epi8('\r'), vlf = _mm256_set1_epi8('\n');
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        __m256i lo = _mm256_loadu_si256((const __m256i *)p);
        __m256i hi = _mm256_loadu_si256((const __m256i *)(p + 32));
        uint64_t q = kp->has_quote ? eq(lo, hi, vq) : 0;
        uint64_t high = movemask2(lo, hi);
        int nx = b + 1 < nblocks ? p[64] : next;
        dl_csv_finish_block(eq(lo, hi, vd), q, eq(lo, hi, vcr), eq(lo, hi, vlf), prefix_xor(q), high, nx, kp,
                            st, &out[b]);
    }
}

const struct dl_csv_kernel dl_csv_kernel_avx2 = { DL_SIMD_AVX2, classify };
