/* CSV stage 1: classify 64-byte blocks into bit masks (bit i = byte i of the block).
 *
 * One kernel per instruction set (csv_scalar.c, csv_sse42.c, csv_avx2.c, csv_avx512.c,
 * csv_neon.c), each compiled with its own flags; dl_csv_kernel() picks one for a SIMD level.
 * Every kernel gives exactly the scalar kernel's masks (tests/unit/test_csvfast.c and
 * tests/fuzz/fuzz_csv.c check this through the reader). Quoted regions come from the prefix XOR of the quote mask (a
 * carry-less multiply by all ones), carried from block to block in dl_csv_kstate.
 *
 * The prefix-XOR reading of quotes agrees with RFC 4180 (and with dl_csv) as long as every
 * quote that opens a region stands at the start of a field (after a delimiter, a line break,
 * or another quote when it is the second of a "" pair) and every quote that closes one is
 * followed by a delimiter, a line break, another quote or the end of input. `bad` marks the
 * quotes that break this; a reader must not trust the other masks of a record that holds one
 * (csvfast.c re-reads such a record with the scalar reader). */
#ifndef DL_DECODE_ARCH_CSV_KERNELS_H
#define DL_DECODE_ARCH_CSV_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"

struct dl_csv_kparams {
    uint8_t delim;
    uint8_t quote;
    bool has_quote; /* false: quoting off, quote is ignored */
};

/* Carried from one block to the next; { 0, 1 } at the start of input or of a record. */
struct dl_csv_kstate {
    uint64_t inside; /* all ones when the byte before the next block is inside quotes */
    uint64_t prev_s; /* 1 when that byte is a delimiter, CR, LF or quote (or there is none) */
};

struct dl_csv_masks {
    uint64_t sep;   /* delimiter, CR and LF bytes outside quotes */
    uint64_t eol;   /* the CR and LF bytes among them (record ends and blank lines) */
    uint64_t quote; /* quote bytes */
    uint64_t lb;    /* line breaks: LF, and CR not followed by LF (inside quotes or not) */
    uint64_t bad;   /* quotes the prefix-XOR reading gets wrong (see above) */
    uint64_t high;  /* bytes >= 0x80 (records without any skip UTF-8 validation) */
};

/* Classify nblocks 64-byte blocks at p (nblocks * 64 readable bytes). `next` is the byte
 * after the last block, or -1 at the end of input (which then counts as a delimiter: a
 * closing quote may stand last, a CR last is a line break). Reads st, leaves it set for the
 * block after the last one. */
typedef void (*dl_csv_classify_fn)(const uint8_t *p, size_t nblocks, int next,
                                   const struct dl_csv_kparams *kp, struct dl_csv_kstate *st,
                                   struct dl_csv_masks *out);

/* True when p[0..n) is valid UTF-8 (the same verdict as dl_utf8_valid; no position: a
 * reader that needs one asks dl_utf8_valid). p[0..readable) may be read (readable >= n): the
 * bytes past n are then loaded and masked off, not copied out. */
typedef bool (*dl_csv_utf8_fn)(const uint8_t *p, size_t n, size_t readable);

/* How many bytes of p[0..n) equal c (the NDJSON chunk plan counts lines with it). */
typedef uint64_t (*dl_csv_count_fn)(const uint8_t *p, size_t n, uint8_t c);

struct dl_csv_kernel {
    enum dl_simd_level level;
    dl_csv_classify_fn classify;
    dl_csv_utf8_fn utf8_valid;
    dl_csv_count_fn count_byte;
};

/* The kernel for a level this build and CPU support, else the scalar one. */
const struct dl_csv_kernel *dl_csv_kernel(enum dl_simd_level level);

/* The per-ISA tables (only those of the build's architecture exist). */
extern const struct dl_csv_kernel dl_csv_kernel_scalar;
extern const struct dl_csv_kernel dl_csv_kernel_sse42;
extern const struct dl_csv_kernel dl_csv_kernel_avx2;
extern const struct dl_csv_kernel dl_csv_kernel_avx512;
extern const struct dl_csv_kernel dl_csv_kernel_neon;

/* UTF-8 validation by table lookups (the "lookup" algorithm of Keiser and Lemire,
 * "Validating UTF-8 in less than one instruction per byte", 2021, as used by simdjson): for
 * every byte, three 16-entry tables indexed by the high nibble of the previous byte, its low
 * nibble and the high nibble of this byte give bit sets of the errors each could take part
 * in; their AND is the set of errors the pair really has. A byte two or three places after
 * a 3- or 4-byte lead must be a continuation, which the tables cannot see: that is checked
 * apart (and XORed in, since the tables flag such a continuation as "two continuations").
 * The kernels pad the input's last block with zeros, which as ASCII end any sequence left
 * open. */
#define DL_U8_TOO_SHORT (1 << 0)   /* lead followed by ASCII or another lead */
#define DL_U8_TOO_LONG (1 << 1)    /* ASCII followed by a continuation */
#define DL_U8_OVERLONG_3 (1 << 2)  /* E0 80..9F */
#define DL_U8_TOO_LARGE (1 << 3)   /* F4 90..BF, F5..FF */
#define DL_U8_SURROGATE (1 << 4)   /* ED A0..BF */
#define DL_U8_OVERLONG_2 (1 << 5)  /* C0, C1 */
#define DL_U8_TOO_LARGE_1000 (1 << 6)
#define DL_U8_OVERLONG_4 (1 << 6)  /* F0 80..8F */
#define DL_U8_TWO_CONTS (1 << 7)   /* continuation after continuation (fine in 3/4-byte sequences) */
#define DL_U8_CARRY (DL_U8_TOO_SHORT | DL_U8_TOO_LONG | DL_U8_TWO_CONTS)

/* by the previous byte's high nibble */
#define DL_U8_TABLE_PREV_HIGH                                                                   \
    DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TOO_LONG, \
        DL_U8_TOO_LONG, DL_U8_TOO_LONG, DL_U8_TWO_CONTS, DL_U8_TWO_CONTS, DL_U8_TWO_CONTS,     \
        DL_U8_TWO_CONTS, DL_U8_TOO_SHORT | DL_U8_OVERLONG_2, DL_U8_TOO_SHORT,                   \
        DL_U8_TOO_SHORT | DL_U8_OVERLONG_3 | DL_U8_SURROGATE,                                   \
        DL_U8_TOO_SHORT | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000 | DL_U8_OVERLONG_4
/* by the previous byte's low nibble */
#define DL_U8_TABLE_PREV_LOW                                                                    \
    DL_U8_CARRY | DL_U8_OVERLONG_3 | DL_U8_OVERLONG_2 | DL_U8_OVERLONG_4,                       \
        DL_U8_CARRY | DL_U8_OVERLONG_2, DL_U8_CARRY, DL_U8_CARRY, DL_U8_CARRY | DL_U8_TOO_LARGE, \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000 | DL_U8_SURROGATE,                 \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000,                                   \
        DL_U8_CARRY | DL_U8_TOO_LARGE | DL_U8_TOO_LARGE_1000
/* by this byte's high nibble */
#define DL_U8_TABLE_CUR_HIGH                                                                    \
    DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT,        \
        DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT,                                      \
        DL_U8_TOO_LONG | DL_U8_OVERLONG_2 | DL_U8_TWO_CONTS | DL_U8_OVERLONG_3 | DL_U8_TOO_LARGE_1000 | \
            DL_U8_OVERLONG_4,                                                                   \
        DL_U8_TOO_LONG | DL_U8_OVERLONG_2 | DL_U8_TWO_CONTS | DL_U8_OVERLONG_3 | DL_U8_TOO_LARGE, \
        DL_U8_TOO_LONG | DL_U8_OVERLONG_2 | DL_U8_TWO_CONTS | DL_U8_SURROGATE | DL_U8_TOO_LARGE, \
        DL_U8_TOO_LONG | DL_U8_OVERLONG_2 | DL_U8_TWO_CONTS | DL_U8_SURROGATE | DL_U8_TOO_LARGE, \
        DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT, DL_U8_TOO_SHORT

/* 32 x FF then 32 x 00: loading 32 bytes at dl_u8_keep + 32 - k keeps the first k bytes */
static const uint8_t dl_u8_keep[64] = { 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
                                        255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255 };
static const uint8_t dl_u8_prev_high[16] = { DL_U8_TABLE_PREV_HIGH };
static const uint8_t dl_u8_prev_low[16] = { DL_U8_TABLE_PREV_LOW };
static const uint8_t dl_u8_cur_high[16] = { DL_U8_TABLE_CUR_HIGH };
/* saturating_sub(byte, this) is non-zero exactly where a lead byte still waits for bytes
 * beyond the end of a 16-byte vector */
static const uint8_t dl_u8_incomplete[16] = { 255, 255, 255, 255, 255, 255, 255, 255,
                                              255, 255, 255, 255, 255, 0xF0 - 1, 0xE0 - 1, 0xC0 - 1 };

/* Population count for code built for the baseline ISA (csvfast.c, chunked.c), where
 * __builtin_popcountll is a library call. */
static inline uint64_t dl_popcount64(uint64_t x)
{
    x -= (x >> 1) & 0x5555555555555555ull;
    x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
    x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (x * 0x0101010101010101ull) >> 56;
}

/* Shared by the kernels: the masks of one block from its byte-class masks. d, q, cr, lf are
 * the delimiter/quote/CR/LF masks of the block, qx the prefix XOR of q, next the byte after
 * the block (-1: end of input). */
static inline void dl_csv_finish_block(uint64_t d, uint64_t q, uint64_t cr, uint64_t lf,
                                       uint64_t qx, uint64_t high, int next,
                                       const struct dl_csv_kparams *kp, struct dl_csv_kstate *st,
                                       struct dl_csv_masks *m)
{
    uint64_t next_lf = next == '\n';
    uint64_t next_s = next < 0 || next == kp->delim || next == '\r' || next == '\n' ||
                      (kp->has_quote && next == kp->quote);
    uint64_t inside = qx ^ st->inside;
    st->inside = (uint64_t)((int64_t)inside >> 63);
    uint64_t s = d | q | cr | lf;
    uint64_t prev = (s << 1) | st->prev_s;
    st->prev_s = s >> 63;
    uint64_t after = (s >> 1) | (next_s << 63);
    m->sep = (d | cr | lf) & ~inside;
    m->eol = (cr | lf) & ~inside;
    m->quote = q;
    m->lb = lf | (cr & ~((lf >> 1) | (next_lf << 63)));
    m->bad = (q & inside & ~prev) | (q & ~inside & ~after);
    m->high = high;
}

#endif
