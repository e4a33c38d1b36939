/* CSV stage 1 for SSE4.2 + PCLMULQDQ: four 16-byte compares per byte class, PMOVMSKB to
 * 64-bit masks, quoted regions by a carry-less multiply of the quote mask by all ones. */
#include "decode/arch/csv_kernels.h"

#include <immintrin.h>
#include <string.h>

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

/* UTF-8 by table lookups (see csv_kernels.h), 16 bytes at a time. */
static bool utf8_valid(const uint8_t *p, size_t n, size_t readable)
{
    const __m128i t_prev_high = _mm_loadu_si128((const __m128i *)dl_u8_prev_high);
    const __m128i t_prev_low = _mm_loadu_si128((const __m128i *)dl_u8_prev_low);
    const __m128i t_cur_high = _mm_loadu_si128((const __m128i *)dl_u8_cur_high);
    const __m128i incomplete = _mm_loadu_si128((const __m128i *)dl_u8_incomplete);
    const __m128i nib = _mm_set1_epi8(0x0F), x80 = _mm_set1_epi8((char)0x80);
    const __m128i third = _mm_set1_epi8((char)(0xE0 - 0x80)), fourth = _mm_set1_epi8((char)(0xF0 - 0x80));
    __m128i prev = _mm_setzero_si128(), err = _mm_setzero_si128(), prev_inc = _mm_setzero_si128();
    uint8_t tail[16];
    for (size_t i = 0;; i += 16) {
        __m128i in;
        bool last = i + 16 > n;
        if (!last) {
            in = _mm_loadu_si128((const __m128i *)(p + i));
        } else if (i + 16 <= readable) { /* zeros after the end: ASCII, which ends any open sequence */
            in = _mm_and_si128(_mm_loadu_si128((const __m128i *)(p + i)),
                               _mm_loadu_si128((const __m128i *)(dl_u8_keep + 32 - (n - i))));
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, p + i, n - i);
            in = _mm_loadu_si128((const __m128i *)tail);
        }
        if (_mm_movemask_epi8(in) == 0) {
            err = _mm_or_si128(err, prev_inc);
            prev_inc = _mm_setzero_si128();
        } else {
            __m128i prev1 = _mm_alignr_epi8(in, prev, 15), prev2 = _mm_alignr_epi8(in, prev, 14);
            __m128i prev3 = _mm_alignr_epi8(in, prev, 13);
            __m128i sc = _mm_and_si128(
                _mm_and_si128(_mm_shuffle_epi8(t_prev_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nib)),
                              _mm_shuffle_epi8(t_prev_low, _mm_and_si128(prev1, nib))),
                _mm_shuffle_epi8(t_cur_high, _mm_and_si128(_mm_srli_epi16(in, 4), nib)));
            __m128i must23 = _mm_or_si128(_mm_subs_epu8(prev2, third), _mm_subs_epu8(prev3, fourth));
            err = _mm_or_si128(err, _mm_xor_si128(_mm_and_si128(must23, x80), sc));
            prev_inc = _mm_subs_epu8(in, incomplete);
        }
        prev = in;
        if (last)
            break;
    }
    err = _mm_or_si128(err, prev_inc);
    return _mm_testz_si128(err, err);
}

static uint64_t count_byte(const uint8_t *p, size_t n, uint8_t c)
{
    const __m128i k = _mm_set1_epi8((char)c);
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m128i v[4];
        for (int j = 0; j < 4; j++)
            v[j] = _mm_loadu_si128((const __m128i *)(p + i + 16 * j));
        count += (uint64_t)_mm_popcnt_u64(eq(v, k));
    }
    for (; i < n; i++)
        count += p[i] == c;
    return count;
}

const struct dl_csv_kernel dl_csv_kernel_sse42 = { DL_SIMD_SSE42, classify, utf8_valid, count_byte };
