/* Stage 1 with SSE4.2 + PCLMULQDQ: four 16-byte vectors per block. Whitespace and structural
 * bytes are found with one PSHUFB lookup each on the low nibble; the in-string mask is a
 * carry-less multiply by all ones; UTF-8 by the three-table lookup. */
#include <immintrin.h>
#include <string.h>

#include "decode/arch/json_kernels.h"

static inline uint64_t mask4(__m128i a, __m128i b, __m128i c, __m128i d)
{
    return (uint64_t)(uint16_t)_mm_movemask_epi8(a) | (uint64_t)(uint16_t)_mm_movemask_epi8(b) << 16 |
           (uint64_t)(uint16_t)_mm_movemask_epi8(c) << 32 | (uint64_t)(uint16_t)_mm_movemask_epi8(d) << 48;
}

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i v = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(v);
}

struct classes {
    __m128i ws_tab, op_tab, quote, bs, nl, bit5, ctrl_max, lo_nib;
    __m128i u8_p1h, u8_p1l, u8_ch, third, fourth, top;
};

static inline __m128i utf8_check(const struct classes *k, __m128i cur, __m128i prev)
{
    __m128i prev1 = _mm_alignr_epi8(cur, prev, 15);
    __m128i prev2 = _mm_alignr_epi8(cur, prev, 14);
    __m128i prev3 = _mm_alignr_epi8(cur, prev, 13);
    __m128i p1h = _mm_shuffle_epi8(k->u8_p1h, _mm_and_si128(_mm_srli_epi16(prev1, 4), k->lo_nib));
    __m128i p1l = _mm_shuffle_epi8(k->u8_p1l, _mm_and_si128(prev1, k->lo_nib));
    __m128i ch = _mm_shuffle_epi8(k->u8_ch, _mm_and_si128(_mm_srli_epi16(cur, 4), k->lo_nib));
    __m128i special = _mm_and_si128(_mm_and_si128(p1h, p1l), ch);
    __m128i must23 = _mm_or_si128(_mm_subs_epu8(prev2, k->third), _mm_subs_epu8(prev3, k->fourth));
    must23 = _mm_and_si128(must23, k->top);
    return _mm_xor_si128(special, must23);
}

static size_t stage1_sse42(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st, uint32_t *idx,
                           uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask, size_t *err)
{
    const struct classes k = {
        .ws_tab = _mm_load_si128((const __m128i *)dl_json_ws_tab),
        .op_tab = _mm_load_si128((const __m128i *)dl_json_op_tab),
        .quote = _mm_set1_epi8('"'),
        .bs = _mm_set1_epi8('\\'),
        .nl = _mm_set1_epi8('\n'),
        .bit5 = _mm_set1_epi8(0x20),
        .ctrl_max = _mm_set1_epi8(0x1F),
        .lo_nib = _mm_set1_epi8(0x0F),
        .u8_p1h = _mm_load_si128((const __m128i *)dl_u8_prev1_high),
        .u8_p1l = _mm_load_si128((const __m128i *)dl_u8_prev1_low),
        .u8_ch = _mm_load_si128((const __m128i *)dl_u8_cur_high),
        .third = _mm_set1_epi8((char)(0xE0 - 0x80)),
        .fourth = _mm_set1_epi8((char)(0xF0 - 0x80)),
        .top = _mm_set1_epi8((char)0x80),
    };
    uint32_t *out = idx;
    /* the state in locals: the byte stores below could alias *st */
    uint64_t in_string = st->in_string, escaped = st->escaped, scalar = st->scalar, incomplete = st->incomplete;
    __m128i prev = _mm_loadu_si128((const __m128i *)(st->prev + 16));
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = p + 64 * b;
        __m128i v[4];
        for (int i = 0; i < 4; i++)
            v[i] = _mm_loadu_si128((const __m128i *)(blk + 16 * i));
        __m128i q[4], s[4], w[4], o[4], c[4];
        for (int i = 0; i < 4; i++) {
            q[i] = _mm_cmpeq_epi8(v[i], k.quote);
            s[i] = _mm_cmpeq_epi8(v[i], k.bs);
            w[i] = _mm_cmpeq_epi8(_mm_shuffle_epi8(k.ws_tab, v[i]), v[i]);
            o[i] = _mm_cmpeq_epi8(_mm_shuffle_epi8(k.op_tab, v[i]), _mm_or_si128(v[i], k.bit5));
            c[i] = _mm_cmpeq_epi8(_mm_max_epu8(v[i], k.ctrl_max), k.ctrl_max);
        }
        uint64_t quote = mask4(q[0], q[1], q[2], q[3]);
        uint64_t bs = mask4(s[0], s[1], s[2], s[3]);
        uint64_t ws = mask4(w[0], w[1], w[2], w[3]);
        uint64_t ctrl = mask4(c[0], c[1], c[2], c[3]);
        uint64_t op = mask4(o[0], o[1], o[2], o[3]) & ~ctrl; /* 0x0C, 0x1A also match the table */

        uint64_t u8bad = 0;
        __m128i any = _mm_or_si128(_mm_or_si128(v[0], v[1]), _mm_or_si128(v[2], v[3]));
        if (_mm_movemask_epi8(any)) {
            __m128i e0 = utf8_check(&k, v[0], prev);
            __m128i e1 = utf8_check(&k, v[1], v[0]);
            __m128i e2 = utf8_check(&k, v[2], v[1]);
            __m128i e3 = utf8_check(&k, v[3], v[2]);
            __m128i z = _mm_setzero_si128();
            uint64_t bad = ~mask4(_mm_cmpeq_epi8(e0, z), _mm_cmpeq_epi8(e1, z), _mm_cmpeq_epi8(e2, z),
                                  _mm_cmpeq_epi8(e3, z));
            u8bad = bad;
        } else if (incomplete) {
            u8bad = 1;
        }
        incomplete = dl_json_utf8_incomplete(blk + 61);
        prev = v[3];

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
        nlmask[b] = mask4(_mm_cmpeq_epi8(v[0], k.nl), _mm_cmpeq_epi8(v[1], k.nl), _mm_cmpeq_epi8(v[2], k.nl),
                          _mm_cmpeq_epi8(v[3], k.nl));
        out = dl_json_flatten(out, pos0 + (uint32_t)(64 * b), bits);
    }
    dl_json_s1_save(st, in_string, escaped, scalar, incomplete, p, nblocks);
    return (size_t)(out - idx);
}

const struct dl_json_kernel dl_json_kernel_sse42 = { DL_SIMD_SSE42, "sse42", stage1_sse42 };
