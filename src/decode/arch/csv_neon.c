/* CSV stage 1 for AArch64 Advanced SIMD + PMULL: four 16-byte compares (CMEQ) per byte
 * class; NEON has no PMOVMSKB, so each compare result is ANDed with per-lane bit weights and
 * folded by three pairwise adds into one 64-bit mask; quoted regions by a polynomial multiply
 * (PMULL) of the quote mask by all ones. */
#include "decode/arch/csv_kernels.h"

#include <arm_neon.h>
#include <string.h>

static inline uint64_t movemask4(uint8x16_t a, uint8x16_t b, uint8x16_t c, uint8x16_t d)
{
    static const uint8_t w[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
    const uint8x16_t wv = vld1q_u8(w);
    uint8x16_t s0 = vpaddq_u8(vandq_u8(a, wv), vandq_u8(b, wv));
    uint8x16_t s1 = vpaddq_u8(vandq_u8(c, wv), vandq_u8(d, wv));
    s0 = vpaddq_u8(s0, s1);
    s0 = vpaddq_u8(s0, s0);
    return vgetq_lane_u64(vreinterpretq_u64_u8(s0), 0);
}

static inline uint64_t eq(const uint8x16_t v[4], uint8x16_t k)
{
    return movemask4(vceqq_u8(v[0], k), vceqq_u8(v[1], k), vceqq_u8(v[2], k), vceqq_u8(v[3], k));
}

static inline uint64_t prefix_xor(uint64_t x)
{
    return (uint64_t)vgetq_lane_u64(vreinterpretq_u64_p128(vmull_p64((poly64_t)x, (poly64_t)~(uint64_t)0)), 0);
}

static void classify(const uint8_t *p, size_t nblocks, int next, const struct dl_csv_kparams *kp,
                     struct dl_csv_kstate *st, struct dl_csv_masks *out)
{
    const uint8x16_t vd = vdupq_n_u8(kp->delim), vq = vdupq_n_u8(kp->quote);
    const uint8x16_t vcr = vdupq_n_u8('\r'), vlf = vdupq_n_u8('\n'), v80 = vdupq_n_u8(0x80);
    for (size_t b = 0; b < nblocks; b++, p += 64) {
        uint8x16_t v[4];
        for (int i = 0; i < 4; i++)
            v[i] = vld1q_u8(p + 16 * i);
        uint64_t q = kp->has_quote ? eq(v, vq) : 0;
        uint64_t high = movemask4(vcgeq_u8(v[0], v80), vcgeq_u8(v[1], v80), vcgeq_u8(v[2], v80),
                                  vcgeq_u8(v[3], v80));
        int nx = b + 1 < nblocks ? p[64] : next;
        dl_csv_finish_block(eq(v, vd), q, eq(v, vcr), eq(v, vlf), prefix_xor(q), high, nx, kp, st, &out[b]);
    }
}

/* UTF-8 by table lookups (see csv_kernels.h), 16 bytes at a time (TBL for the lookups). */
static bool utf8_valid(const uint8_t *p, size_t n, size_t readable)
{
    const uint8x16_t t_prev_high = vld1q_u8(dl_u8_prev_high), t_prev_low = vld1q_u8(dl_u8_prev_low);
    const uint8x16_t t_cur_high = vld1q_u8(dl_u8_cur_high), incomplete = vld1q_u8(dl_u8_incomplete);
    const uint8x16_t nib = vdupq_n_u8(0x0F), x80 = vdupq_n_u8(0x80);
    const uint8x16_t third = vdupq_n_u8(0xE0 - 0x80), fourth = vdupq_n_u8(0xF0 - 0x80);
    uint8x16_t prev = vdupq_n_u8(0), err = vdupq_n_u8(0), prev_inc = vdupq_n_u8(0);
    uint8_t tail[16];
    for (size_t i = 0;; i += 16) {
        uint8x16_t in;
        bool last = i + 16 > n;
        if (!last) {
            in = vld1q_u8(p + i);
        } else if (i + 16 <= readable) { /* zeros after the end: ASCII, which ends any open sequence */
            in = vandq_u8(vld1q_u8(p + i), vld1q_u8(dl_u8_keep + 32 - (n - i)));
        } else {
            memset(tail, 0, sizeof tail);
            memcpy(tail, p + i, n - i);
            in = vld1q_u8(tail);
        }
        if (vmaxvq_u8(in) < 0x80) {
            err = vorrq_u8(err, prev_inc);
            prev_inc = vdupq_n_u8(0);
        } else {
            uint8x16_t prev1 = vextq_u8(prev, in, 15), prev2 = vextq_u8(prev, in, 14);
            uint8x16_t prev3 = vextq_u8(prev, in, 13);
            uint8x16_t sc = vandq_u8(vandq_u8(vqtbl1q_u8(t_prev_high, vshrq_n_u8(prev1, 4)),
                                              vqtbl1q_u8(t_prev_low, vandq_u8(prev1, nib))),
                                     vqtbl1q_u8(t_cur_high, vshrq_n_u8(in, 4)));
            uint8x16_t must23 = vorrq_u8(vqsubq_u8(prev2, third), vqsubq_u8(prev3, fourth));
            err = vorrq_u8(err, veorq_u8(vandq_u8(must23, x80), sc));
            prev_inc = vqsubq_u8(in, incomplete);
        }
        prev = in;
        if (last)
            break;
    }
    err = vorrq_u8(err, prev_inc);
    return vmaxvq_u8(err) == 0;
}

static uint64_t count_byte(const uint8_t *p, size_t n, uint8_t c)
{
    const uint8x16_t k = vdupq_n_u8(c);
    uint64_t count = 0;
    size_t i = 0;
    while (i + 16 <= n) {
        /* a match is 0xFF, i.e. -1: subtract to count, up to 255 vectors per lane sum */
        uint8x16_t acc = vdupq_n_u8(0);
        for (int j = 0; j < 255 && i + 16 <= n; j++, i += 16)
            acc = vsubq_u8(acc, vceqq_u8(vld1q_u8(p + i), k));
        count += vaddlvq_u8(acc);
    }
    for (; i < n; i++)
        count += p[i] == c;
    return count;
}

const struct dl_csv_kernel dl_csv_kernel_neon = { DL_SIMD_NEON, classify, utf8_valid, count_byte };
