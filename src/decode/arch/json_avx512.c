/* Stage 1 with AVX-512 (F, BW, VBMI, VBMI2) + PCLMULQDQ: a block is one 64-byte vector and
 * every byte class is one compare straight into a mask register, where AVX2 needs two compares
 * and two VPMOVMSKBs. The steps are the AVX2 kernel's (nibble lookups, carry-less multiply, the
 * three-table UTF-8 check); the UTF-8 check takes the bytes 1, 2 and 3 places back with VBMI's
 * two-source byte permute, which crosses the 128-bit lanes and reaches into the previous block
 * in one instruction; the index entries are written by a byte compress instead of a bit loop.
 * Only run when dl_cpu_has(DL_SIMD_AVX512). */
#include <immintrin.h>
#include <string.h>

#include "decode/arch/json_kernels.h"

static inline uint64_t prefix_xor(uint64_t x)
{
    __m128i v = _mm_clmulepi64_si128(_mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0);
    return (uint64_t)_mm_cvtsi128_si64(v);
}

/* VPSHUFB looks up within each 128-bit lane: the 16-entry table in all four */
static inline __m512i dup16(const uint8_t *t)
{
    return _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)t));
}

/* Byte i = i */
static inline __m512i iota8(void)
{
    return _mm512_set_epi64(0x3F3E3D3C3B3A3938, 0x3736353433323130, 0x2F2E2D2C2B2A2928, 0x2726252423222120,
                            0x1F1E1D1C1B1A1918, 0x1716151413121110, 0x0F0E0D0C0B0A0908, 0x0706050403020100);
}

/* Indexes for _mm512_permutex2var_epi8(prev, back(k), cur): byte i gets cur[i - k], or
 * prev[64 + i - k] for i < k (index bit 6 picks cur). */
static inline __m512i back(int k)
{
    return _mm512_add_epi8(iota8(), _mm512_set1_epi8((char)(64 - k)));
}

/* dl_json_flatten without the bit loop: VBMI2's byte compress packs the offsets of the set
 * bits, which are widened to 32 bits 16 at a time. The first 32 are stored unconditionally (a
 * typical block has 8..16 entries; a branch on the count would be mispredicted), so this writes
 * up to 31 entries past the end, but never past 64 per block: idx + 64 * nblocks. */
static inline uint32_t *flatten(uint32_t *out, uint32_t pos, uint64_t bits)
{
    if (!bits)
        return out;
    __m512i off = _mm512_maskz_compress_epi8(bits, iota8());
    __m512i vpos = _mm512_set1_epi32((int)pos);
    _mm512_storeu_si512((void *)out, _mm512_add_epi32(vpos, _mm512_cvtepu8_epi32(_mm512_castsi512_si128(off))));
    _mm512_storeu_si512((void *)(out + 16),
                        _mm512_add_epi32(vpos, _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(off, 1))));
    uint64_t cnt = (uint64_t)_mm_popcnt_u64(bits);
    if (cnt > 32) {
        _mm512_storeu_si512((void *)(out + 32),
                            _mm512_add_epi32(vpos, _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(off, 2))));
        _mm512_storeu_si512((void *)(out + 48),
                            _mm512_add_epi32(vpos, _mm512_cvtepu8_epi32(_mm512_extracti32x4_epi32(off, 3))));
    }
    return out + cnt;
}

struct classes {
    __m512i ws_tab, op_tab, quote, bs, nl, bit5, ctrl_max, lo_nib;
    __m512i u8_p1h, u8_p1l, u8_ch, third, fourth, top, back1, back2, back3;
};

/* The bytes of cur that hold a UTF-8 error (prev: the previous block) */
static inline uint64_t utf8_check(const struct classes *k, __m512i cur, __m512i prev)
{
    __m512i prev1 = _mm512_permutex2var_epi8(prev, k->back1, cur);
    __m512i prev2 = _mm512_permutex2var_epi8(prev, k->back2, cur);
    __m512i prev3 = _mm512_permutex2var_epi8(prev, k->back3, cur);
    __m512i p1h = _mm512_shuffle_epi8(k->u8_p1h, _mm512_and_si512(_mm512_srli_epi16(prev1, 4), k->lo_nib));
    __m512i p1l = _mm512_shuffle_epi8(k->u8_p1l, _mm512_and_si512(prev1, k->lo_nib));
    __m512i ch = _mm512_shuffle_epi8(k->u8_ch, _mm512_and_si512(_mm512_srli_epi16(cur, 4), k->lo_nib));
    /* VPTERNLOG immediates are the truth table over a = 0xF0, b = 0xCC, c = 0xAA */
    __m512i special = _mm512_ternarylogic_epi32(p1h, p1l, ch, 0x80);                 /* a & b & c */
    __m512i must23 = _mm512_ternarylogic_epi32(_mm512_subs_epu8(prev2, k->third),
                                               _mm512_subs_epu8(prev3, k->fourth), k->top, 0xA8); /* (a | b) & c */
    __m512i e = _mm512_xor_si512(special, must23);
    return _mm512_test_epi8_mask(e, e);
}

static size_t stage1_avx512(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st, uint32_t *idx,
                            uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask, size_t *err)
{
    const struct classes k = {
        .ws_tab = dup16(dl_json_ws_tab),
        .op_tab = dup16(dl_json_op_tab),
        .quote = _mm512_set1_epi8('"'),
        .bs = _mm512_set1_epi8('\\'),
        .nl = _mm512_set1_epi8('\n'),
        .bit5 = _mm512_set1_epi8(0x20),
        .ctrl_max = _mm512_set1_epi8(0x1F),
        .lo_nib = _mm512_set1_epi8(0x0F),
        .u8_p1h = dup16(dl_u8_prev1_high),
        .u8_p1l = dup16(dl_u8_prev1_low),
        .u8_ch = dup16(dl_u8_cur_high),
        .third = _mm512_set1_epi8((char)(0xE0 - 0x80)),
        .fourth = _mm512_set1_epi8((char)(0xF0 - 0x80)),
        .top = _mm512_set1_epi8((char)0x80),
        .back1 = back(1),
        .back2 = back(2),
        .back3 = back(3),
    };
    uint32_t *out = idx;
    /* the state in locals: the byte stores below could alias *st */
    uint64_t in_string = st->in_string, escaped = st->escaped, scalar = st->scalar, incomplete = st->incomplete;
    /* st->prev is the previous block's last 32 bytes: the upper half of its vector */
    __m512i prev = _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_loadu_si256((const __m256i *)st->prev), 1);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = p + 64 * b;
        __m512i v = _mm512_loadu_si512((const void *)blk);
        uint64_t quote = _mm512_cmpeq_epi8_mask(v, k.quote);
        uint64_t bs = _mm512_cmpeq_epi8_mask(v, k.bs);
        uint64_t ws = _mm512_cmpeq_epi8_mask(_mm512_shuffle_epi8(k.ws_tab, v), v);
        uint64_t ctrl = _mm512_cmple_epu8_mask(v, k.ctrl_max);
        uint64_t op = _mm512_mask_cmpeq_epi8_mask(~ctrl, _mm512_shuffle_epi8(k.op_tab, v), _mm512_or_si512(v, k.bit5));

        uint64_t u8bad = 0;
        if (_mm512_movepi8_mask(v)) {
            u8bad = utf8_check(&k, v, prev);
            incomplete = dl_json_utf8_incomplete(blk + 61);
        } else {
            u8bad = incomplete;
            incomplete = 0;
        }
        prev = v;

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
        nlmask[b] = _mm512_cmpeq_epi8_mask(v, k.nl);
        out = flatten(out, pos0 + (uint32_t)(64 * b), bits);
    }
    dl_json_s1_save(st, in_string, escaped, scalar, incomplete, p, nblocks);
    return (size_t)(out - idx);
}

const struct dl_json_kernel dl_json_kernel_avx512 = { DL_SIMD_AVX512, "avx512", stage1_avx512 };
