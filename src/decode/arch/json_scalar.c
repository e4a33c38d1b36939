/* Stage 1, plain C: the reference every SIMD kernel is diffed against, and the kernel used
 * where no SIMD kernel is available. Bytes are classified through a 256-entry table, eight
 * at a time gathered into bit masks with a multiply; the in-string mask is a prefix XOR by
 * shifts; UTF-8 is checked byte by byte in blocks that hold a byte >= 0x80. */
#include <string.h>

#include "decode/arch/json_kernels.h"

enum { C_QUOTE = 1, C_BS = 2, C_WS = 4, C_OP = 8, C_CTRL = 16, C_HIGH = 32, C_NL = 64 };

static uint8_t cls[256];
static int cls_ready; /* a benign race: every thread writes the same bytes */

static void cls_init(void)
{
    for (int c = 0; c < 256; c++) {
        uint8_t k = 0;
        if (c == '"')
            k |= C_QUOTE;
        if (c == '\\')
            k |= C_BS;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
            k |= C_WS;
        if (c == '{' || c == '}' || c == '[' || c == ']' || c == ':' || c == ',')
            k |= C_OP;
        if (c < 0x20)
            k |= C_CTRL;
        if (c >= 0x80)
            k |= C_HIGH;
        if (c == '\n')
            k |= C_NL;
        cls[c] = k;
    }
    __atomic_store_n(&cls_ready, 1, __ATOMIC_RELEASE);
}

/* Bit j of the result = bit `bit` of byte j of w. */
static inline uint64_t gather(uint64_t w, int bit)
{
    return (((w >> bit) & 0x0101010101010101ULL) * 0x0102040810204080ULL) >> 56;
}

/* UTF-8 over one block: returns the offset of the first bad byte, or 64 (none). */
static size_t utf8_block(const uint8_t *b, struct dl_json_s1 *st)
{
    uint32_t need = st->u8_need;
    uint8_t lo = st->u8_lo, hi = st->u8_hi;
    size_t bad = 64;
    for (size_t i = 0; i < 64; i++) {
        uint8_t c = b[i];
        if (need) {
            if (c < lo || c > hi) {
                bad = i;
                need = 0;
                break;
            }
            need--;
            lo = 0x80;
            hi = 0xBF;
            continue;
        }
        if (c < 0x80)
            continue;
        lo = 0x80;
        hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            bad = i;
            break;
        }
    }
    st->u8_need = need;
    st->u8_lo = lo;
    st->u8_hi = hi;
    return bad;
}

static size_t stage1_scalar(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st, uint32_t *idx,
                            uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask, size_t *err)
{
    if (!__atomic_load_n(&cls_ready, __ATOMIC_ACQUIRE))
        cls_init();
    uint32_t *out = idx;
    /* the state in locals: the byte stores below could alias *st */
    uint64_t in_string = st->in_string, escaped = st->escaped, scalar = st->scalar, incomplete = st->incomplete;
    for (size_t b = 0; b < nblocks; b++) {
        const uint8_t *blk = p + 64 * b;
        uint64_t quote = 0, bs = 0, ws = 0, op = 0, ctrl = 0, high = 0, nl = 0;
        for (int w = 0; w < 8; w++) {
            uint64_t k = 0;
            for (int j = 0; j < 8; j++)
                k |= (uint64_t)cls[blk[8 * w + j]] << (8 * j);
            if (!k)
                continue;
            int sh = 8 * w;
            quote |= gather(k, 0) << sh;
            bs |= gather(k, 1) << sh;
            ws |= gather(k, 2) << sh;
            op |= gather(k, 3) << sh;
            ctrl |= gather(k, 4) << sh;
            high |= gather(k, 5) << sh;
            nl |= gather(k, 6) << sh;
        }
        uint64_t u8bad = 0;
        if ((high || st->u8_need) && *err == SIZE_MAX) {
            size_t bad = utf8_block(blk, st);
            if (bad < 64)
                u8bad = 1ULL << bad;
        }
        uint64_t esc = dl_json_escaped(bs, &escaped);
        quote &= ~esc;
        uint64_t instr = dl_json_prefix_xor_c(quote) ^ in_string;
        in_string = (uint64_t)((int64_t)instr >> 63);
        uint64_t errbits;
        uint64_t bits = dl_json_index_bits(quote, instr, ws, op, ctrl, &scalar, &errbits);
        errbits |= u8bad; /* the first error of the block, whichever kind */
        if (errbits && *err == SIZE_MAX)
            *err = 64 * b + (size_t)__builtin_ctzll(errbits);
        bsflag[b] = bs != 0;
        nlmask[b] = nl;
        out = dl_json_flatten(out, pos0 + (uint32_t)(64 * b), bits);
    }
    dl_json_s1_save(st, in_string, escaped, scalar, incomplete, p, nblocks);
    return (size_t)(out - idx);
}

const struct dl_json_kernel dl_json_kernel_scalar = { DL_SIMD_SCALAR, "scalar", stage1_scalar };

const struct dl_json_kernel *dl_json_kernel_for(enum dl_simd_level level)
{
    if (!dl_cpu_has(level))
        return &dl_json_kernel_scalar;
#if defined(__x86_64__)
    if (level == DL_SIMD_AVX512)
        return &dl_json_kernel_avx512;
    if (level == DL_SIMD_AVX2)
        return &dl_json_kernel_avx2;
    if (level == DL_SIMD_SSE42)
        return &dl_json_kernel_sse42;
#elif defined(__aarch64__)
    if (level == DL_SIMD_NEON)
        return &dl_json_kernel_neon;
#endif
    (void)level;
    return &dl_json_kernel_scalar;
}
