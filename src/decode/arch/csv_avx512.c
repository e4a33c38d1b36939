/* CSV stage 1 for AVX-512 (F, BW, VBMI) + PCLMULQDQ: a block is one 64-byte vector and each
 * byte class one compare straight into a 64-bit mask register (AVX2: two compares and two
 * VPMOVMSKBs); quoted regions by a carry-less multiply of the quote mask by all ones. UTF-8
 * 64 bytes at a time, with the bytes 1, 2 and 3 places back taken across the 128-bit lanes and
 * from the previous vector by VBMI's two-source byte permute; the last, partial vector is a
 * masked load, which reads nothing past the end. Only run when dl_cpu_has(DL_SIMD_AVX512). */
#include "decode/arch/csv_kernels.h"

#include <immintrin.h>

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i r = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(r);
}

static void classify(const uint8_t *p, size_t nblocks, int next, const struct dl_csv_kparams *kp,
                     struct dl_csv_kstate *st, struct dl_csv_masks *out)
{
    const __m512i vd = _mm512_set1_epi8((char)kp->delim), vq = _mm512_set1_epi8((char)kp->quote);
    const __m512i vcr = _mm512_set1_epi8('\r'), vlf = _mm512_set1_epi8('\n');
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        __m512i v = _mm512_loadu_si512((const void *)p);
        uint64_t q = kp->has_quote ? _mm512_cmpeq_epi8_mask(v, vq) : 0;
        int nx = b + 1 < nblocks ? p[64] : next;
        dl_csv_finish_block(_mm512_cmpeq_epi8_mask(v, vd), q, _mm512_cmpeq_epi8_mask(v, vcr),
                            _mm512_cmpeq_epi8_mask(v, vlf), prefix_xor(q), _mm512_movepi8_mask(v), nx, kp, st,
                            &out[b]);
    }
}

/* VPSHUFB looks up within each 128-bit lane: the 16-entry table in all four */
static inline __m512i table(const uint8_t t[16])
{
    return _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)t));
}

/* Indexes for _mm512_permutex2var_epi8(prev, back(k), cur): byte i gets cur[i - k], or
 * prev[64 + i - k] for i < k (index bit 6 picks cur). */
static inline __m512i back(int k)
{
    const __m512i iota = _mm512_set_epi64(0x3F3E3D3C3B3A3938, 0x3736353433323130, 0x2F2E2D2C2B2A2928,
                                          0x2726252423222120, 0x1F1E1D1C1B1A1918, 0x1716151413121110,
                                          0x0F0E0D0C0B0A0908, 0x0706050403020100);
    return _mm512_add_epi8(iota, _mm512_set1_epi8((char)(64 - k)));
}

/* UTF-8 by table lookups (see csv_kernels.h), 64 bytes at a time. */
static bool utf8_valid(const uint8_t *p, size_t n, size_t readable)
{
    (void)readable; /* the masked load of the last vector never touches the bytes it leaves out */
    const __m512i t_prev_high = table(dl_u8_prev_high), t_prev_low = table(dl_u8_prev_low);
    const __m512i t_cur_high = table(dl_u8_cur_high);
    /* dl_u8_incomplete's lookahead applies to the last 16 bytes; before them nothing is cut off */
    const __m512i incomplete = _mm512_inserti32x4(_mm512_set1_epi8((char)0xFF),
                                                  _mm_loadu_si128((const __m128i *)dl_u8_incomplete), 3);
    const __m512i nib = _mm512_set1_epi8(0x0F), x80 = _mm512_set1_epi8((char)0x80);
    const __m512i third = _mm512_set1_epi8((char)(0xE0 - 0x80)), fourth = _mm512_set1_epi8((char)(0xF0 - 0x80));
    const __m512i back1 = back(1), back2 = back(2), back3 = back(3);
    __m512i prev = _mm512_setzero_si512(), err = _mm512_setzero_si512(), prev_inc = _mm512_setzero_si512();
    for (size_t i = 0;; i += 64) {
        bool last = i + 64 > n;
        /* zeros after the end: ASCII, which ends any open sequence */
        __m512i in = last ? _mm512_maskz_loadu_epi8(_bzhi_u64(~0ULL, (unsigned)(n - i)), p + i)
                          : _mm512_loadu_si512((const void *)(p + i));
        if (!_mm512_movepi8_mask(in)) {
            err = _mm512_or_si512(err, prev_inc);
            prev_inc = _mm512_setzero_si512();
        } else {
            __m512i prev1 = _mm512_permutex2var_epi8(prev, back1, in);
            __m512i prev2 = _mm512_permutex2var_epi8(prev, back2, in);
            __m512i prev3 = _mm512_permutex2var_epi8(prev, back3, in);
            /* VPTERNLOG immediates are the truth table over a = 0xF0, b = 0xCC, c = 0xAA */
            __m512i sc = _mm512_ternarylogic_epi32(
                _mm512_shuffle_epi8(t_prev_high, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), nib)),
                _mm512_shuffle_epi8(t_prev_low, _mm512_and_si512(prev1, nib)),
                _mm512_shuffle_epi8(t_cur_high, _mm512_and_si512(_mm512_srli_epi16(in, 4), nib)), 0x80); /* a & b & c */
            __m512i must23 = _mm512_ternarylogic_epi32(_mm512_subs_epu8(prev2, third), _mm512_subs_epu8(prev3, fourth),
                                                       x80, 0xA8); /* (a | b) & c */
            err = _mm512_ternarylogic_epi32(err, must23, sc, 0xF6); /* a | (b ^ c) */
            prev_inc = _mm512_subs_epu8(in, incomplete);
        }
        prev = in;
        if (last)
            break;
    }
    err = _mm512_or_si512(err, prev_inc);
    return _mm512_test_epi8_mask(err, err) == 0;
}

static uint64_t count_byte(const uint8_t *p, size_t n, uint8_t c)
{
    const __m512i k = _mm512_set1_epi8((char)c);
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        count += (uint64_t)_mm_popcnt_u64(_mm512_cmpeq_epi8_mask(_mm512_loadu_si512((const void *)(p + i)), k));
    if (i < n) {
        __mmask64 m = _bzhi_u64(~0ULL, (unsigned)(n - i));
        count += (uint64_t)_mm_popcnt_u64(_mm512_mask_cmpeq_epi8_mask(m, _mm512_maskz_loadu_epi8(m, p + i), k));
    }
    return count;
}

const struct dl_csv_kernel dl_csv_kernel_avx512 = { DL_SIMD_AVX512, classify, utf8_valid, count_byte };
