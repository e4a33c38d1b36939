/* CSV stage 1 for AVX2 + PCLMULQDQ: two 32-byte compares per byte class, VPMOVMSKB to
 * 64-bit masks, quoted regions by a carry-less multiply of the quote mask by all ones. */
#include "decode/arch/csv_kernels.h"

#include <immintrin.h>
#include <string.h>

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

static inline __m256i table(const uint8_t t[16])
{
    return _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)t));
}

/* UTF-8 by table lookups (see csv_kernels.h), 32 bytes at a time. */
static bool utf8_valid(const uint8_t *p, size_t n, size_t readable)
{
    const __m256i t_prev_high = table(dl_u8_prev_high), t_prev_low = table(dl_u8_prev_low);
    const __m256i t_cur_high = table(dl_u8_cur_high);
    const __m256i incomplete = _mm256_inserti128_si256(_mm256_set1_epi8((char)0xFF),
                                                       _mm_loadu_si128((const __m128i *)dl_u8_incomplete), 1);
    const __m256i nib = _mm256_set1_epi8(0x0F), x80 = _mm256_set1_epi8((char)0x80);
    const __m256i third = _mm256_set1_epi8((char)(0xE0 - 0x80)), fourth = _mm256_set1_epi8((char)(0xF0 - 0x80));
    __m256i prev = _mm256_setzero_si256(), err = _mm256_setzero_si256(), prev_inc = _mm256_setzero_si256();
    uint8_t tail[32];
    for (size_t i = 0;; i += 32) {
        __m256i in;
        bool last = i + 32 > n;
        if (!last) {
            in = _mm256_loadu_si256((const __m256i *)(p + i));
        } else if (i + 32 <= readable) { /* zeros after the end: ASCII, which ends any open sequence */
            in = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(p + i)),
                                  _mm256_loadu_si256((const __m256i *)(dl_u8_keep + 32 - (n - i))));
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, p + i, n - i);
            in = _mm256_loadu_si256((const __m256i *)tail);
        }
        if (_mm256_movemask_epi8(in) == 0) {
            err = _mm256_or_si256(err, prev_inc);
            prev_inc = _mm256_setzero_si256();
        } else {
            /* the bytes 1, 2 and 3 places back, across the two 128-bit lanes and the vectors */
            __m256i cross = _mm256_permute2x128_si256(prev, in, 0x21);
            __m256i prev1 = _mm256_alignr_epi8(in, cross, 15), prev2 = _mm256_alignr_epi8(in, cross, 14);
            __m256i prev3 = _mm256_alignr_epi8(in, cross, 13);
            __m256i sc = _mm256_and_si256(
                _mm256_and_si256(_mm256_shuffle_epi8(t_prev_high, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), nib)),
                                 _mm256_shuffle_epi8(t_prev_low, _mm256_and_si256(prev1, nib))),
                _mm256_shuffle_epi8(t_cur_high, _mm256_and_si256(_mm256_srli_epi16(in, 4), nib)));
            __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, third), _mm256_subs_epu8(prev3, fourth));
            err = _mm256_or_si256(err, _mm256_xor_si256(_mm256_and_si256(must23, x80), sc));
            prev_inc = _mm256_subs_epu8(in, incomplete);
        }
        prev = in;
        if (last)
            break;
    }
    err = _mm256_or_si256(err, prev_inc);
    return _mm256_testz_si256(err, err);
}

static uint64_t count_byte(const uint8_t *p, size_t n, uint8_t c)
{
    const __m256i k = _mm256_set1_epi8((char)c);
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        count += (uint64_t)_mm_popcnt_u64(eq(_mm256_loadu_si256((const __m256i *)(p + i)),
                                             _mm256_loadu_si256((const __m256i *)(p + i + 32)), k));
    for (; i < n; i++)
        count += p[i] == c;
    return count;
}

const struct dl_csv_kernel dl_csv_kernel_avx2 = { DL_SIMD_AVX2, classify, utf8_valid, count_byte };
