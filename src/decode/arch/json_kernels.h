/* Stage 1 of the fast JSON decoder (src/decode/jsonfast.c): per 64-byte block, classify the
 * bytes, find the backslash-escaped bytes and the string regions (prefix XOR of the unescaped
 * quotes, by carry-less multiply where the ISA has one), validate UTF-8 and flag control bytes
 * inside strings, and append the positions of the structural bytes to an index.
 *
 * One kernel per instruction set, each in its own file compiled with its own flags:
 * json_scalar.c (always built, plain C, the reference), json_sse42.c (SSE4.2 + PCLMUL),
 * json_avx2.c (AVX2 + PCLMUL), json_avx512.c (AVX-512 BW + VBMI/VBMI2 + PCLMUL), json_neon.c
 * (NEON + PMULL). Every kernel must produce exactly the same index and the same per-block
 * backslash flags; the error position may differ (it only decides whether stage 2 tries the
 * fast path, never what the output is).
 *
 * The index holds, in increasing order:
 *   - the structural characters { } [ ] : , outside strings,
 *   - the opening quote of every string,
 *   - the first byte of every run of "scalar" bytes outside strings (bytes that are neither
 *     whitespace, nor structural, nor part of a string): numbers, true/false/null, garbage.
 * Closing quotes are not indexed: stage 2 finds them by stepping back over whitespace from
 * the next index entry.
 *
 * The helpers below are static inline so each kernel compiles them with its own flags. */
#ifndef DL_DECODE_ARCH_JSON_KERNELS_H
#define DL_DECODE_ARCH_JSON_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/cpu.h"

/* State carried from one block to the next (and from one kernel call to the next). A fresh,
 * zeroed state means "outside any string, nothing escaped, after whitespace". */
struct dl_json_s1 {
    uint64_t in_string;  /* all ones when the next block starts inside a string */
    uint64_t escaped;    /* 1 when the next block's first byte is escaped by a backslash */
    uint64_t scalar;     /* 1 when the previous block ended with a scalar byte */
    uint64_t incomplete; /* the previous block ended inside a multi-byte UTF-8 sequence */
    _Alignas(32) uint8_t prev[32]; /* the previous block's last 32 bytes (zeros at the start) */
    uint32_t u8_need;    /* scalar kernel: continuation bytes still expected */
    uint8_t u8_lo, u8_hi; /* scalar kernel: range of the next continuation byte */
};

/* Index nblocks full 64-byte blocks at p. Entry positions are pos0 + the byte's offset from p.
 * Writes the entries at idx[0..] and returns how many; idx needs room for 64 * nblocks + 16
 * entries (the writer stores a few past the last one). bsflag[i] is 1 when block i holds a
 * backslash, else 0; nlmask[i] has bit k set when byte k of block i is '\n'. If *err == SIZE_MAX
 * and a block holds an error (invalid UTF-8, or a
 * byte below 0x20 inside a string), *err is set to the offset from p where it was detected:
 * at or after the offending byte, at most 3 bytes after it. */
typedef size_t (*dl_json_stage1_fn)(const uint8_t *p, size_t nblocks, struct dl_json_s1 *st,
                                    uint32_t *idx, uint32_t pos0, uint8_t *bsflag, uint64_t *nlmask,
                                    size_t *err);

struct dl_json_kernel {
    enum dl_simd_level level;
    const char *name;
    dl_json_stage1_fn stage1;
};

extern const struct dl_json_kernel dl_json_kernel_scalar;
#if defined(__x86_64__)
extern const struct dl_json_kernel dl_json_kernel_sse42;
extern const struct dl_json_kernel dl_json_kernel_avx2;
extern const struct dl_json_kernel dl_json_kernel_avx512;
#elif defined(__aarch64__)
extern const struct dl_json_kernel dl_json_kernel_neon;
#endif

/* The kernel for a SIMD level; the scalar kernel for a level this build has no kernel for or
 * this CPU lacks (dl_cpu_has). */
const struct dl_json_kernel *dl_json_kernel_for(enum dl_simd_level level);

/* ---- shared bit logic ---------------------------------------------------------------------- */

#define DL_JSON_EVEN_BITS 0x5555555555555555ULL

/* Leave the state for the block after p's nblocks blocks (the kernels keep it in locals while
 * they run: their stores to the index could otherwise alias *st). */
static inline void dl_json_s1_save(struct dl_json_s1 *st, uint64_t in_string, uint64_t escaped, uint64_t scalar,
                                   uint64_t incomplete, const uint8_t *p, size_t nblocks)
{
    st->in_string = in_string;
    st->escaped = escaped;
    st->scalar = scalar;
    st->incomplete = incomplete;
    if (nblocks)
        memcpy(st->prev, p + 64 * nblocks - 32, 32);
}

/* Bytes of a block that a backslash escapes. bs is the block's backslash mask; *carry says
 * whether the block's first byte is escaped (and is updated for the next block).
 * A run of backslashes escapes the byte after it when the run is odd; the runs are split by
 * the parity of their start and an addition carries each start to the end of its run. */
static inline uint64_t dl_json_escaped(uint64_t bs, uint64_t *carry)
{
    uint64_t in = *carry;
    bs &= ~in; /* an escaped backslash escapes nothing */
    uint64_t starts = bs & ~(bs << 1);
    uint64_t even_starts = starts & DL_JSON_EVEN_BITS;
    uint64_t odd_starts = starts & ~DL_JSON_EVEN_BITS;
    uint64_t even_ends = (bs + even_starts) & ~bs;
    uint64_t odd_sum;
    /* a run that started on an odd bit and reaches bit 63 is odd: it escapes the next block's
     * first byte (an even-started run reaching bit 63 is even) */
    uint64_t out = __builtin_add_overflow(bs, odd_starts, &odd_sum);
    uint64_t odd_ends = odd_sum & ~bs;
    *carry = out;
    return (even_ends & ~DL_JSON_EVEN_BITS) | (odd_ends & DL_JSON_EVEN_BITS) | in;
}

/* Plain-C prefix XOR (bit i = XOR of bits 0..i); the SIMD kernels use carry-less multiply. */
static inline uint64_t dl_json_prefix_xor_c(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

/* From the block's masks and its in-string mask (opening quote included, closing quote
 * excluded), the index bits; *err_bits gets the control bytes inside strings. *scalar_carry
 * is the previous block's "ended with a scalar byte" bit, updated for the next block. */
static inline uint64_t dl_json_index_bits(uint64_t quote, uint64_t instr, uint64_t ws, uint64_t op,
                                          uint64_t ctrl, uint64_t *scalar_carry, uint64_t *err_bits)
{
    uint64_t region = instr | quote; /* string bytes, both quotes included */
    op &= ~region;
    uint64_t scalar = ~(region | op | (ws & ~region));
    uint64_t starts = scalar & ~((scalar << 1) | *scalar_carry);
    *scalar_carry = scalar >> 63;
    *err_bits = ctrl & instr;
    return op | (quote & instr) | starts;
}

/* Append pos + (position of every set bit of bits) at out; returns the new end. Writes up to
 * 16 entries past the end when the block has few entries, so the buffer needs that slack. */
#ifndef DL_JSON_CTZ_ANY
/* ctz that may be given 0 (the result is then junk, never used): kernels with BMI1 define it as
 * tzcnt, which is defined for 0 and saves an OR per entry */
#define DL_JSON_CTZ_ANY(x) __builtin_ctzll((x) | (1ULL << 63))
#endif

static inline uint32_t *dl_json_flatten(uint32_t *out, uint32_t pos, uint64_t bits)
{
    if (!bits)
        return out;
    int cnt = __builtin_popcountll(bits);
    /* 16 unconditional stores: a typical block has 8..16 entries, and a branch on the count
     * would be mispredicted about half the time */
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) {
        out[i] = pos + (uint32_t)DL_JSON_CTZ_ANY(bits);
        bits &= bits - 1;
    }
    for (int i = 16; i < cnt; i++) {
        out[i] = pos + (uint32_t)__builtin_ctzll(bits);
        bits &= bits - 1;
    }
    return out + cnt;
}

/* Does a block ending with these three bytes end inside a multi-byte UTF-8 sequence? */
static inline uint64_t dl_json_utf8_incomplete(const uint8_t *last3)
{
    return last3[0] >= 0xF0 || last3[1] >= 0xE0 || last3[2] >= 0xC0;
}

/* The UTF-8 "lookup" tables (Keiser & Lemire's method): a byte pair (prev1, cur) is looked up
 * by prev1's high nibble, prev1's low nibble and cur's high nibble; the AND of the three is
 * non-zero for an invalid pair, except TWO_CONTS which must match exactly the bytes that are
 * the 3rd or 4th of a sequence (prev2 >= 0xE0 or prev3 >= 0xF0). */
#define DL_U8_TOO_SHORT 0x01   /* lead byte not followed by a continuation */
#define DL_U8_TOO_LONG 0x02    /* ASCII followed by a continuation */
#define DL_U8_OVERLONG_3 0x04  /* E0 80..9F */
#define DL_U8_TOO_LARGE 0x08   /* F4 90..BF, F5..FF 90..BF */
#define DL_U8_SURROGATE 0x10   /* ED A0..BF */
#define DL_U8_OVERLONG_2 0x20  /* C0/C1 + continuation */
#define DL_U8_LARGE_OR_OL4 0x40 /* F0 80..8F (overlong), F5..FF 80..8F (too large) */
#define DL_U8_TWO_CONTS 0x80   /* continuation followed by continuation */
#define DL_U8_CARRY (DL_U8_TOO_SHORT | DL_U8_TOO_LONG | DL_U8_TWO_CONTS)

__attribute__((unused)) _Alignas(16) static const uint8_t dl_u8_prev1_high[16] = {
    DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, /* 0x00..0x3F */
    DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, /* 0x40..0x7F */
    DL_U8_TWO_CONTS, DL_U8_TWO_CONTS, DL_U8_TWO_CONTS, DL_U8_TWO_CONTS, /* continuations */
    DL_U8_TOO_SHORT | DL_U8_OVERLONG_2,                            /* 0xC0..0xCF */
    DL_U8_TOO_SHORT,                                               /* 0xD0..0xDF */
    DL_U8_TOO_SHORT | DL_U8_OVERLONG_3 | DL_U8_SURROGATE,          /* 0xE0..0xEF */
    DL_U8_TOO_SHORT | DL_U8_TOO_LARGE | DL_U8_LARGE_OR_OL4,        /* 0xF0..0xFF */
};

#define DL_U8_HI_LOW (DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_LARGE_OR_OL4)
__attribute__((unused)) _Alignas(16) static const uint8_t dl_u8_prev1_low[16] = {
    DL_U8_CARRY | DL_U8_OVERLONG_3 | DL_U8_OVERLONG_2 | DL_U8_LARGE_OR_OL4, /* x0: E0 C0 F0 */
    DL_U8_CARRY | DL_U8_OVERLONG_2,                                      /* x1: C1 */
    DL_U8_CARRY, DL_U8_CARRY,                                            /* x2 x3 */
    DL_U8_CARRY | DL_U8_TOO_LARGE,                                       /* x4: F4 */
    DL_U8_HI_LOW, DL_U8_HI_LOW, DL_U8_HI_LOW, DL_U8_HI_LOW,              /* x5..x8: F5..F8 */
    DL_U8_HI_LOW, DL_U8_HI_LOW, DL_U8_HI_LOW, DL_U8_HI_LOW,              /* x9..xC */
    DL_U8_HI_LOW | DL_U8_SURROGATE,                                      /* xD: ED */
    DL_U8_HI_LOW, DL_U8_HI_LOW,                                          /* xE xF */
};

#define DL_U8_CONT_ANY (DL_U8_TOO_LONG | DL_U8_OVERLONG_2 | DL_U8_TWO_CONTS)
__attribute__((unused)) _Alignas(16) static const uint8_t dl_u8_cur_high[16] = {
    DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, /* ASCII */
    DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT,
    DL_U8_CONT_ANY | DL_U8_OVERLONG_3 | DL_U8_LARGE_OR_OL4,             /* 0x80..0x8F */
    DL_U8_CONT_ANY | DL_U8_OVERLONG_3 | DL_U8_TOO_LARGE,                /* 0x90..0x9F */
    DL_U8_CONT_ANY | DL_U8_SURROGATE | DL_U8_TOO_LARGE,                 /* 0xA0..0xAF */
    DL_U8_CONT_ANY | DL_U8_SURROGATE | DL_U8_TOO_LARGE,                 /* 0xB0..0xBF */
    DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, /* leads */
};

/* Lookup tables for whitespace and structural bytes by low nibble: a byte is whitespace when
 * ws_tab[c & 15] == c, structural when op_tab[c & 15] == (c | 0x20) and c >= 0x20 ('[' and ']'
 * are '{' and '}' without bit 5; 0x0C and 0x1A also match and are removed as control bytes). */
__attribute__((unused)) _Alignas(16) static const uint8_t dl_json_ws_tab[16] = {
    ' ', 0, 0, 0, 0, 0, 0, 0, 0, '\t', '\n', 0, 0, '\r', 0, 0,
};
__attribute__((unused)) _Alignas(16) static const uint8_t dl_json_op_tab[16] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, ':', '{', ',', '}', 0, 0,
};

#endif
