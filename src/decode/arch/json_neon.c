/* Stage 1 with AArch64 NEON + PMULL: four 16-byte vectors per block. NEON has no movemask:
 * comparison results are ANDed with per-lane bit weights and folded with pairwise adds. The
 * in-string mask is a polynomial (carry-less) multiply by all ones. */
#include <arm_neon.h>
#include <string.h>

#include "decode/arch/json_kernels.h"

static inline uint64_t mask4(uint8x16_t a, uint8x16_t b, uint8x16_t c, uint8x16_t d)
{
    static const uint8_t w[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
    uint8x16_t bw = vld1q_u8(w);
    uint8x16_t s0 = vpaddq_u8(vandq_u8(a, bw), vandq_u8(b, bw));
    uint8x16_t s1 = vpaddq_u8(vandq_u8(c, bw), vandq_u8(d, bw));
    s0 = vpaddq_u8(s0, s1);
    s0 = vpaddq_u8(s0, s0);
    return vgetq_lane_u64(vreinterpretq_u64_u8(s0), 0);
}

static inline uint64_t prefix_xor(uint64_t x)
{
    poly128_t r = vmull_p64((poly64_t)x, (poly64_t)~0ULL);
    return vgetq_lane_u64(vreinterpretq_u64_p128(r), 0);
}

struct classes {
    uint8x16_t ws_tab, op_tab, quote, bs, nl, bit5, ctrl_lim, lo_nib;
    uint8x16_t u8_p1h, u8_p1l, u8_ch, third, fourth, top;
};

static inline uint8x16_t utf8_check(const struct classes *k, uint8x16_t cur, uint8x16_t prev)
{
    uint8x16_t prev1 = vextq_u8(prev, cur, 15);
    uint8x16_t prev2 = vextq_u8(prev, cur, 14);
    uint8x16_t prev3 = vextq_u8(prev, cur, 13);
    uint8x16_t p1h = vqtbl1q_u8(k->u8_p1h, vshrq_n_u8(prev1, 4));
    uint8x16_t p1l = vqtbl1q_u8(k->u8_p1l, vandq_u8(prev1, k->lo_nib));
    uint8x16_t ch = vqtbl1q_u8(k->u8_ch, vshrq_n_u8(cur, 4));
    uint8x16_t special = vandq_u8(vandq_u8(p1h, p1l), ch);
    uint8x16_t must23 = vorrq_u8(vqsubq_u8(prev2, k->third), vqsubq_u8(prev3, k->fourth));
    must23 = vandq_u8(must23, k->top);
    return veorq_u8(special, must23);
}

static size_t stage1_neon(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st, uint32_t *idx,
                          uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask, size_t *err)
{
    const struct classes k = {
        .ws_tab = vld1q_u8(dl_json_ws_tab),
        .op_tab = vld1q_u8(dl_json_op_tab),
        .quote = vdupq_n_u8('"'),
        .bs = vdupq_n_u8('\\'),
        .nl = vdupq_n_u8('\n'),
        .bit5 = vdupq_n_u8(0x20),
        .ctrl_lim = vdupq_n_u8(0x20),
        .lo_nib = vdupq_n_u8(0x0F),
        .u8_p1h = vld1q_u8(dl_u8_prev1_high),
        .u8_p1l = vld1q_u8(dl_u8_prev1_low),
        .u8_ch = vld1q_u8(dl_u8_cur_high),
        .third = vdupq_n_u8(0xE0 - 0x80),
        .fourth = vdupq_n_u8(0xF0 - 0x80),
        .top = vdupq_n_u8(0x80),
    };
    uint32_t *out = idx;
    /* the state in locals: the byte stores below could alias *st */
    uint64_t in_string = st->in_string, escaped = st->escaped, scalar = st->scalar, incomplete = st->incomplete;
    uint8x16_t prev = vld1q_u8(st->prev + 16);
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = p + 64 * b;
        uint8x16_t v[4], q[4], s[4], w[4], o[4], c[4];
        for (int i = 0; i < 4; i++) {
            v[i] = vld1q_u8(blk + 16 * i);
            uint8x16_t lo = vandq_u8(v[i], k.lo_nib);
            q[i] = vceqq_u8(v[i], k.quote);
            s[i] = vceqq_u8(v[i], k.bs);
            w[i] = vceqq_u8(vqtbl1q_u8(k.ws_tab, lo), v[i]);
            o[i] = vceqq_u8(vqtbl1q_u8(k.op_tab, lo), vorrq_u8(v[i], k.bit5));
            c[i] = vcltq_u8(v[i], k.ctrl_lim);
        }
        uint64_t quote = mask4(q[0], q[1], q[2], q[3]);
        uint64_t bs = mask4(s[0], s[1], s[2], s[3]);
        uint64_t ws = mask4(w[0], w[1], w[2], w[3]);
        uint64_t ctrl = mask4(c[0], c[1], c[2], c[3]);
        uint64_t op = mask4(o[0], o[1], o[2], o[3]) & ~ctrl;

        uint64_t u8bad = 0;
        uint8x16_t any = vorrq_u8(vorrq_u8(v[0], v[1]), vorrq_u8(v[2], v[3]));
        if (vmaxvq_u8(any) >= 0x80) {
            uint8x16_t e0 = utf8_check(&k, v[0], prev);
            uint8x16_t e1 = utf8_check(&k, v[1], v[0]);
            uint8x16_t e2 = utf8_check(&k, v[2], v[1]);
            uint8x16_t e3 = utf8_check(&k, v[3], v[2]);
            uint64_t bad = mask4(vtstq_u8(e0, e0), vtstq_u8(e1, e1), vtstq_u8(e2, e2), vtstq_u8(e3, e3));
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
        nlmask[b] = mask4(vceqq_u8(v[0], k.nl), vceqq_u8(v[1], k.nl), vceqq_u8(v[2], k.nl), vceqq_u8(v[3], k.nl));
        out = dl_json_flatten(out, pos0 + (uint32_t)(64 * b), bits);
    }
    dl_json_s1_save(st, in_string, escaped, scalar, incomplete, p, nblocks);
    return (size_t)(out - idx);
}

const struct dl_json_kernel dl_json_kernel_neon = { DL_SIMD_NEON, "neon", stage1_neon };
