/* Stage 1 with AVX2 + PCLMULQDQ: two 32-byte vectors per block, otherwise the same steps as
 * the SSE4.2 kernel (nibble lookups, carry-less multiply, three-table UTF-8 check). */
#include <immintrin.h>
#include <string.h>

#define DL_JSON_CTZ_ANY(x) _tzcnt_u64(x) /* BMI1: 64 for 0 */
#include "decode/arch/json_kernels.h"

static inline uint64_t mask2(__m256i a, __m256i b)
{
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(a) | (uint64_t)(uint32_t)_mm256_movemask_epi8(b) << 32;
}

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i v = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(v);
}

static inline __m256i dup16(const uint8_t *t)
{
    return _mm256_broadcastsi128_si256(_mm_load_si128((const __m128i *)t));
}

struct classes {
    __m256i ws_tab, op_tab, quote, bs, nl, bit5, ctrl_max, lo_nib;
    __m256i u8_p1h, u8_p1l, u8_ch, third, fourth, top;
};

static inline __m256i utf8_check(const struct classes *k, __m256i cur, __m256i prev)
{
    /* the 16 bytes before cur's upper lane are its lower lane; before the lower lane, prev's upper */
    __m256i before = _mm256_permute2x128_si256(prev, cur, 0x21);
    __m256i prev1 = _mm256_alignr_epi8(cur, before, 15);
    __m256i prev2 = _mm256_alignr_epi8(cur, before, 14);
    __m256i prev3 = _mm256_alignr_epi8(cur, before, 13);
    __m256i p1h = _mm256_shuffle_epi8(k->u8_p1h, _mm256_and_si256(_mm256_srli_epi16(prev1, 4), k->lo_nib));
    __m256i p1l = _mm256_shuffle_epi8(k->u8_p1l, _mm256_and_si256(prev1, k->lo_nib));
    __m256i ch = _mm256_shuffle_epi8(k->u8_ch, _mm256_and_si256(_mm256_srli_epi16(cur, 4), k->lo_nib));
    __m256i special = _mm256_and_si256(_mm256_and_si256(p1h, p1l), ch);
    __m256i must23 = _mm256_or_si256(_mm256_subs_epu8(prev2, k->third), _mm256_subs_epu8(prev3, k->fourth));
    must23 = _mm256_and_si256(must23, k->top);
    return _mm256_xor_si256(special, must23);
}

static size_t stage1_avx2(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st, uint32_t *idx,
                          uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask, size_t *err)
{
    const struct classes k = {
        .ws_tab = dup16(dl_json_ws_tab),
        .op_tab = dup16(dl_json_op_tab),
        .quote = _mm256_set1_epi8('"'),
        .bs = _mm256_set1_epi8('\\'),
        .nl = _mm256_set1_epi8('\n'),
        .bit5 = _mm256_set1_epi8(0x20),
        .ctrl_max = _mm256_set1_epi8(0x1F),
        .lo_nib = _mm256_set1_epi8(0x0F),
        .u8_p1h = dup16(dl_u8_prev1_high),
        .u8_p1l = dup16(dl_u8_prev1_low),
        .u8_ch = dup16(dl_u8_cur_high),
        .third = _mm256_set1_epi8((char)(0xE0 - 0x80)),
        .fourth = _mm256_set1_epi8((char)(0xF0 - 0x80)),
        .top = _mm256_set1_epi8((char)0x80),
    };
    uint32_t *out = idx;
    /* the state in locals: the byte stores below could alias *st */
    uint64_t in_string = st->in_string, escaped = st->escaped, scalar = st->scalar, incomplete = st->incomplete;
    __m256i prev = _mm256_loadu_si256((const __m256i *)st->prev);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = p + 64 * b;
        __m256i v0 = _mm256_loadu_si256((const __m256i *)blk);
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(blk + 32));
        uint64_t quote = mask2(_mm256_cmpeq_epi8(v0, k.quote), _mm256_cmpeq_epi8(v1, k.quote));
        uint64_t bs = mask2(_mm256_cmpeq_epi8(v0, k.bs), _mm256_cmpeq_epi8(v1, k.bs));
        uint64_t ws = mask2(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(k.ws_tab, v0), v0),
                            _mm256_cmpeq_epi8(_mm256_shuffle_epi8(k.ws_tab, v1), v1));
        uint64_t ctrl = mask2(_mm256_cmpeq_epi8(_mm256_max_epu8(v0, k.ctrl_max), k.ctrl_max),
                              _mm256_cmpeq_epi8(_mm256_max_epu8(v1, k.ctrl_max), k.ctrl_max));
        uint64_t op = mask2(_mm256_cmpeq_epi8(_mm256_shuffle_epi8(k.op_tab, v0), _mm256_or_si256(v0, k.bit5)),
                            _mm256_cmpeq_epi8(_mm256_shuffle_epi8(k.op_tab, v1), _mm256_or_si256(v1, k.bit5))) &
                      ~ctrl;

        uint64_t u8bad = 0;
        if (_mm256_movemask_epi8(_mm256_or_si256(v0, v1))) {
            __m256i e0 = utf8_check(&k, v0, prev);
            __m256i e1 = utf8_check(&k, v1, v0);
            __m256i z = _mm256_setzero_si256();
            uint64_t bad = ~mask2(_mm256_cmpeq_epi8(e0, z), _mm256_cmpeq_epi8(e1, z));
            u8bad = bad;
        } else if (incomplete) {
            u8bad = 1;
        }
        incomplete = dl_json_utf8_incomplete(blk + 61);
        prev = v1;

        uint64_t esc = dl_json_escaped(bs, &escaped);
        quote &= ~esc;
        uint64_t instr = prefix_xor(quote) ^ in_string;
        in_string = (uint64_t)((int64_t)instr >> 63);
        uint64_t errbits;
        uint64_t bits = dl_json_index_bits(quote, instr, ws, op, ctrl, &scalar, &errbits);
        errbits |= u8bad; /* the first error of the block, whichever kind */
        if (errbits && *err == SIZE_MAX)
            *err = 64 * b + (size_t)__builtin_ctzll(errbits);
        bsflag[b] = bs != 0;
        nlmask[b] = mask2(_mm256_cmpeq_epi8(v0, k.nl), _mm256_cmpeq_epi8(v1, k.nl));
        out = dl_json_flatten(out, pos0 + (uint32_t)(64 * b), bits);
    }
    dl_json_s1_save(st, in_string, escaped, scalar, incomplete, p, nblocks);
    return (size_t)(out - idx);
}

const struct dl_json_kernel dl_json_kernel_avx2 = { DL_SIMD_AVX2, "avx2", stage1_avx2 };
