/* Fast JSON records -> DynamoDB items (see jsonfast.h and docs/simd-json.md).
 *
 * Three layers:
 * - framing: a line-for-line port of jsonrec.c's reader (top-level values, arrays streamed
 *   element by element, NDJSON lines, AUTO's line-delimited guess, positions). Where jsonrec
 *   calls the DOM parser on a value, this file first tries stage 2 and only calls the DOM
 *   parser (then item.c's builder) when stage 2 declines the record.
 * - stage 1: a window of the input is indexed by a kernel from arch/. The index is trusted
 *   from the window start as long as every byte before the record being read was part of a
 *   record that stage 2 or the DOM parser accepted (or whitespace/commas/brackets between
 *   them); after a syntax error the window is rebuilt at the next record, from a clean state.
 * - stage 2: walks the index of one record and writes the item. It validates everything the
 *   DOM parser and item.c check and declines (returns BAIL) on anything it does not handle
 *   or any error, leaving the message to the scalar reference. */
#include "decode/jsonfast.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/json.h"
#include "decode/arch/json_kernels.h"
#include "item/number.h"

#define WIN_MIN ((size_t)2 << 10)      /* first window after a syntax error */
#define WIN_NORMAL ((size_t)192 << 10) /* steady state: index + input stay in L2 */
#define WIN_MAX ((size_t)8 << 20)      /* a record longer than this goes to the scalar path */
#define NAMES_MAX ((size_t)1 << 20)    /* member names tracked per record (duplicates) */
#define EXP_CLAMP 1000000000000000LL   /* as in number.c */
/* Output bytes per input byte, at most: a lone digit becomes {"N":"1"} (9 bytes); everything
 * else expands less (a string by 8 bytes around its own, a bracket to {"L":[ or ]}, ...). */
#define OUT_PER_BYTE 9
/* Largest reservation made so that the walk can skip its per-write room checks. */
#define OUT_UNCHECKED_MAX ((size_t)4 << 20)

struct name {
    const uint8_t *p;
    size_t len;
    uint64_t h;
};

struct fkey {
    bool found;
    const uint8_t *raw;
    size_t len;
    char canon[DL_NUM_CANON_MAX];
    size_t canon_len;
};

struct dl_jsonfast {
    /* ---- framing (fields and meaning as in jsonrec.c) ---- */
    const uint8_t *p;
    size_t len;
    size_t pos;
    enum dl_jsonrec_mode mode;
    bool bom;
    bool done;
    uint64_t record;
    uint64_t nvalues;
    bool in_array;
    bool need_sep;
    size_t arr_start;
    uint64_t arr_line, arr_col;
    size_t arr_lim;
    uint64_t nelem;
    bool ld;
    bool first_done;
    bool first_single_line;
    uint64_t prev_end_line;
    size_t lc_off;
    uint64_t lc_line;
    size_t lc_ls;
    struct dl_arena *scratch;

    /* ---- mapping ---- */
    enum dl_jsonfast_kind kind;
    const struct dl_key_schema *ks;
    struct dl_arena *arena; /* the scalar fallback's DOM, reset per record */

    /* ---- stage 1 window [ws, we) ---- */
    const struct dl_json_kernel *kern;
    bool have_win;
    size_t ws, we;
    uint32_t *idx; /* entry positions relative to ws */
    size_t nidx, idx_cap, cur;
    uint8_t *blk;    /* per 64-byte block of the window: holds a backslash */
    uint64_t *nlm;   /* per 64-byte block of the window: its '\n' bytes */
    size_t bs_cap;
    size_t poison;   /* absolute offset where stage 1 saw bad UTF-8 / control bytes */
    size_t nlfree_lo, nlfree_hi; /* the last fast record: known to hold no '\n' */
    size_t wsize;   /* size of the next window */
    size_t wnormal; /* steady-state window size */
    size_t wmin;    /* window size after a syntax error */
    size_t unchecked_max; /* largest output reservation that lets stage 2 skip room checks */
    size_t out_bound;     /* the reservation for the record being walked unchecked */

    /* ---- stage 2 scratch ---- */
    struct name *names;
    size_t names_cap;
    uint32_t *htab;
    size_t htab_cap;
    uint8_t *tmp;
    size_t tmp_cap;
    struct fkey kv[2];
    struct dl_buf kwpre[2]; /* per key attribute: its JSON name and ':{"T":', for key_wire */
    size_t klen[2];         /* key attribute name lengths (SIZE_MAX: no such key) */
    const char *kname[2];

    struct dl_jsonfast_stats stats;
};

enum dl_err dl_jsonfast_new(const uint8_t *p, size_t len, enum dl_jsonrec_mode mode,
                            enum dl_jsonfast_kind kind, const struct dl_key_schema *ks,
                            struct dl_jsonfast **out)
{
    enum dl_err rc = DL_OK;
    struct dl_jsonfast *r = NULL;
    *out = NULL;
    if ((mode != DL_JSONREC_AUTO && mode != DL_JSONREC_JSON && mode != DL_JSONREC_NDJSON) ||
        (kind != DL_JSONFAST_PLAIN && kind != DL_JSONFAST_DDB)) {
        rc = DL_ERR_INVALID;
        goto out;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    r->p = p;
    r->len = p ? len : 0;
    r->mode = mode;
    r->lc_line = 1;
    if (r->len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        r->bom = true;
        r->pos = 3;
    }
    r->kind = kind;
    r->ks = ks;
    r->kern = dl_json_kernel_for(dl_cpu_level());
    r->wsize = r->wnormal = WIN_NORMAL;
    r->wmin = WIN_MIN;
    r->unchecked_max = OUT_UNCHECKED_MAX;
    r->poison = SIZE_MAX;
    dl_buf_init(&r->kwpre[0], 0);
    dl_buf_init(&r->kwpre[1], 0);
    r->names = malloc(256 * sizeof *r->names);
    r->names_cap = 256;
    r->arena = dl_arena_new(0, DL_JSONFAST_ARENA_CAP);
    if (!r->arena || !r->names) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    r->klen[0] = r->klen[1] = SIZE_MAX;
    for (int k = 0; ks && k < ks->n && k < 2; k++) {
        r->klen[k] = ks->k[k].name_len;
        r->kname[k] = ks->k[k].name;
        const uint8_t sep[6] = { ':', '{', '"', (uint8_t)ks->k[k].type, '"', ':' };
        if (dl_buf_append_json_str(&r->kwpre[k], ks->k[k].name, ks->k[k].name_len) ||
            dl_buf_append(&r->kwpre[k], sep, sizeof sep)) {
            rc = DL_ERR_NOMEM;
            goto out;
        }
    }
    *out = r;
    r = NULL;
out:
    dl_jsonfast_destroy(r);
    return rc;
}

void dl_jsonfast_destroy(struct dl_jsonfast *r)
{
    if (!r)
        return;
    dl_arena_destroy(r->scratch);
    dl_arena_destroy(r->arena);
    dl_buf_free(&r->kwpre[0]);
    dl_buf_free(&r->kwpre[1]);
    free(r->idx);
    free(r->blk);
    free(r->nlm);
    free(r->names);
    free(r->htab);
    free(r->tmp);
    free(r);
}

void dl_jsonfast_stats(const struct dl_jsonfast *r, struct dl_jsonfast_stats *out)
{
    *out = r->stats;
}

void dl_jsonfast_tune(struct dl_jsonfast *r, size_t window)
{
    window &= ~(size_t)63;
    r->wsize = r->wnormal = window < 64 ? 64 : window;
    r->wmin = r->wnormal < WIN_MIN ? r->wnormal : WIN_MIN;
    r->unchecked_max = window < 4096 ? 0 : OUT_UNCHECKED_MAX;
}

int dl_jsonfast_use_level(struct dl_jsonfast *r, enum dl_simd_level level)
{
    const struct dl_json_kernel *k = dl_json_kernel_for(level);
    if (k->level != level)
        return -1;
    r->kern = k;
    r->have_win = false;
    return 0;
}

const char *dl_jsonfast_kernel(const struct dl_jsonfast *r)
{
    return r->kern->name;
}

/* =========================================================================== stage 1 window */

/* Index [s, s + size) (to the end of input if that is nearer), from a clean state. */
static bool build_window(struct dl_jsonfast *r, size_t s, size_t size)
{
    size_t we = s + size < s || s + size > r->len ? r->len : s + size;
    size_t nfull = (we - s) / 64, tail = 0;
    if (we == r->len)
        tail = (we - s) % 64;
    else
        we = s + 64 * nfull;
    size_t span = we - s;
    size_t need_idx = span + 64 + 32;
    size_t need_bs = nfull + 2;
    if (need_idx > r->idx_cap) {
        uint32_t *n = realloc(r->idx, need_idx * sizeof *n);
        if (!n)
            return false;
        r->idx = n;
        r->idx_cap = need_idx;
    }
    if (need_bs > r->bs_cap) {
        uint8_t *n = realloc(r->blk, need_bs);
        if (!n)
            return false;
        r->blk = n;
        uint64_t *m = realloc(r->nlm, need_bs * sizeof *m);
        if (!m)
            return false;
        r->nlm = m;
        r->bs_cap = need_bs;
    }
    struct dl_json_s1 st;
    memset(&st, 0, sizeof st);
    size_t err = SIZE_MAX;
    size_t n = r->kern->stage1(r->p + s, nfull, &st, r->idx, 0, r->blk, r->nlm, &err);
    if (tail) {
        uint8_t blk[64];
        memset(blk, ' ', sizeof blk);
        memcpy(blk, r->p + s + 64 * nfull, tail);
        size_t e2 = SIZE_MAX;
        n += r->kern->stage1(blk, 1, &st, r->idx + n, (uint32_t)(64 * nfull), r->blk + nfull, r->nlm + nfull,
                             &e2);
        if (err == SIZE_MAX && e2 != SIZE_MAX)
            err = 64 * nfull + e2;
    }
    r->idx[n] = (uint32_t)span; /* sentinel, never read as an entry */
    r->nidx = n;
    r->cur = 0;
    r->ws = s;
    r->we = we;
    r->poison = err == SIZE_MAX ? SIZE_MAX : s + err;
    r->have_win = true;
    r->stats.windows++;
    r->stats.indexed_bytes += span;
    return true;
}

/* =========================================================================== stage 2 helpers */

enum walk_rc { W_OK, W_BAIL, W_MORE };

#define SWAR_30 0x3030303030303030ULL
#define SWAR_7F 0x7F7F7F7F7F7F7F7FULL
#define SWAR_80 0x8080808080808080ULL

static inline bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Does p[from..to) hold a backslash? Blocks without one are known from stage 1 (bsf is the
 * window's per-block flags, base the window start). */
static inline __attribute__((always_inline)) bool has_backslash(const uint8_t *p, const uint8_t *bsf, size_t base,
                                                                size_t from, size_t to)
{
    if (to <= from)
        return false;
    size_t b0 = (from - base) >> 6, b1 = (to - 1 - base) >> 6;
    if (!(bsf[b0] | bsf[b1]))
        for (size_t b = b0 + 1;; b++) {
            if (b >= b1)
                return false;
            if (bsf[b])
                break;
        }
    return memchr(p + from, '\\', to - from) != NULL;
}

/* The '\n' bytes of window block b that lie in [s, e) (absolute offsets). */
static inline uint64_t nl_bits(const struct dl_jsonfast *r, size_t b, size_t s, size_t e)
{
    size_t lo = r->ws + 64 * b;
    uint64_t m = r->nlm[b];
    if (s > lo)
        m &= ~0ULL << (s - lo);
    if (e < lo + 64)
        m &= (1ULL << (e - lo)) - 1;
    return m;
}

/* Is p[s..e) (inside the window) free of '\n'? */
static bool nl_free(const struct dl_jsonfast *r, size_t s, size_t e)
{
    if (e <= s)
        return true;
    size_t b0 = (s - r->ws) >> 6, b1 = (e - 1 - r->ws) >> 6;
    for (size_t b = b0; b <= b1; b++)
        if (nl_bits(r, b, s, e))
            return false;
    return true;
}

/* A cheap hash of a member name s[0..n): its first 8 bytes and its length (enough for the
 * Bloom filter of small objects; names_dup rehashes fully). wide: 8 bytes may be read at s. */
static inline uint64_t name_hash(const uint8_t *s, size_t n, bool wide)
{
    uint64_t a = 0;
    if (wide) {
        memcpy(&a, s, 8);
        if (n < 8)
            a &= (1ULL << (8 * n)) - 1;
    } else {
        for (size_t i = 0; i < n && i < 8; i++)
            a |= (uint64_t)s[i] << (8 * i);
    }
    return (a ^ (uint64_t)n << 56 ^ (uint64_t)n) * 0x9E3779B97F4A7C15ULL;
}

static inline uint64_t name_hash_full(const uint8_t *s, size_t n)
{
    uint64_t h = 0xCBF29CE484222325ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    for (; i < n; i++)
        h = (h ^ s[i]) * 0x100000001B3ULL;
    return h ^ (h >> 29);
}

static inline bool name_eq(const struct name *x, const struct name *y)
{
    return x->h == y->h && x->len == y->len && memcmp(x->p, y->p, x->len) == 0;
}

/* Any two members of one object with the same name? (item.c keeps the last one at its
 * position; the scalar path reproduces that, stage 2 only has to notice.) */
static bool names_dup(struct dl_jsonfast *r, const struct name *v, size_t m)
{
    if (m < 2)
        return false;
    if (m <= 12) {
        for (size_t i = 0; i + 1 < m; i++)
            for (size_t j = i + 1; j < m; j++)
                if (name_eq(&v[i], &v[j]))
                    return true;
        return false;
    }
    size_t cap = 32;
    while (cap < 2 * m)
        cap *= 2;
    if (cap > r->htab_cap) {
        uint32_t *t = realloc(r->htab, cap * sizeof *t);
        if (!t)
            return true; /* let the scalar path deal with it */
        r->htab = t;
        r->htab_cap = cap;
    }
    memset(r->htab, 0, cap * sizeof *r->htab);
    for (size_t i = 0; i < m; i++) {
        size_t s = (size_t)name_hash_full(v[i].p, v[i].len) & (cap - 1);
        while (r->htab[s]) {
            if (name_eq(&v[r->htab[s] - 1], &v[i]))
                return true;
            s = (s + 1) & (cap - 1);
        }
        r->htab[s] = (uint32_t)(i + 1);
    }
    return false;
}

static inline int hex4(const uint8_t *s, uint32_t *cp)
{
    int a = dl_hex_digit(s[0]), b = dl_hex_digit(s[1]), c = dl_hex_digit(s[2]), d = dl_hex_digit(s[3]);
    if ((a | b | c | d) < 0)
        return 0;
    *cp = (uint32_t)(a << 12 | b << 8 | c << 4 | d);
    return 1;
}

/* Bytes of the 8 at q that are '"', '\\' or below 0x20 (high bit of each such byte). */
static inline uint64_t swar_special(const uint8_t *q)
{
    uint64_t v;
    memcpy(&v, q, 8);
    uint64_t a = v ^ 0x2222222222222222ULL, b = v ^ 0x5C5C5C5C5C5C5C5CULL;
    /* zero bytes of a or b, and bytes < 0x20, exactly (no borrow between bytes) */
    uint64_t za = ~(((a & SWAR_7F) + SWAR_7F) | a) & SWAR_80;
    uint64_t zb = ~(((b & SWAR_7F) + SWAR_7F) | b) & SWAR_80;
    uint64_t lt = ~(((v & SWAR_7F) + 0x6060606060606060ULL) | v) & SWAR_80;
    return za | zb | lt;
}

/* Decode the escaped string body s[0..n) into r->tmp, accepting exactly what json.c's
 * scan_string accepts (stage 1 already checked control bytes and UTF-8). -1: decline. */
static ptrdiff_t unescape(struct dl_jsonfast *r, const uint8_t *s, size_t n)
{
    if (n + 4 > r->tmp_cap) {
        size_t cap = r->tmp_cap ? r->tmp_cap : 256;
        while (cap < n + 4)
            cap *= 2;
        uint8_t *t = realloc(r->tmp, cap);
        if (!t)
            return -1;
        r->tmp = t;
        r->tmp_cap = cap;
    }
    uint8_t *o = r->tmp;
    size_t i = 0;
    while (i < n) {
        /* copy up to the next backslash ('"' and control bytes cannot occur: see above) */
        while (i + 8 <= n) {
            uint64_t m = swar_special(s + i);
            if (m) {
                size_t k = (size_t)__builtin_ctzll(m) >> 3;
                memcpy(o, s + i, k);
                o += k;
                i += k;
                break;
            }
            memcpy(o, s + i, 8);
            o += 8;
            i += 8;
        }
        while (i < n && s[i] != '\\') {
            if (s[i] == '"')
                return -1;
            *o++ = s[i++];
        }
        if (i >= n)
            break;
        if (i + 1 >= n)
            return -1;
        uint8_t c = s[i + 1];
        switch (c) {
        case '"': case '\\': case '/': *o++ = c; i += 2; break;
        case 'b': *o++ = '\b'; i += 2; break;
        case 'f': *o++ = '\f'; i += 2; break;
        case 'n': *o++ = '\n'; i += 2; break;
        case 'r': *o++ = '\r'; i += 2; break;
        case 't': *o++ = '\t'; i += 2; break;
        case 'u': {
            uint32_t cp, lo;
            if (i + 6 > n || !hex4(s + i + 2, &cp))
                return -1;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return -1;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u' || !hex4(s + i + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 12;
            } else {
                i += 6;
            }
            o += dl_utf8_put(o, cp);
            break;
        }
        default:
            return -1;
        }
    }
    return o - r->tmp;
}

/* s[0..n) as a JSON string literal, as dl_buf_append_json_str writes it; o has 6n+2 bytes. */
static uint8_t *put_json_str(uint8_t *o, const uint8_t *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t m = swar_special(s + i);
            if (!m) {
                memcpy(o, s + i, 8);
                o += 8;
                i += 8;
                continue;
            }
            size_t k = (size_t)__builtin_ctzll(m) >> 3;
            memcpy(o, s + i, k);
            o += k;
            i += k;
        }
        uint8_t c = s[i++];
        if (c == '"' || c == '\\') {
            *o++ = '\\';
            *o++ = c;
        } else if (c < 0x20) {
            *o++ = '\\';
            switch (c) {
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default:
                *o++ = 'u';
                *o++ = '0';
                *o++ = '0';
                *o++ = (uint8_t)hex[c >> 4];
                *o++ = (uint8_t)hex[c & 15];
                break;
            }
        } else {
            *o++ = c;
        }
    }
    *o++ = '"';
    return o;
}

/* Copy n bytes; may read and write up to 31 bytes past the end (the caller checks both). */
static inline void copy16(uint8_t *d, const uint8_t *s, size_t n)
{
    memcpy(d, s, 16);
    memcpy(d + 16, s + 16, 16);
    for (size_t i = 32; i < n; i += 16)
        memcpy(d + i, s + i, 16);
}

/* A JSON number at p[v..bound): syntax as json.c's parse_number, then (dyn) DynamoDB's rules
 * as number.c's dl_num_check. *end is just past the number, which must be followed by
 * bound or whitespace (the whole scalar run). *size is the number's DynamoDB size. */
struct numscan {
    size_t end;
    size_t size;
    bool dyn_ok;
};

/* The run of ASCII digits at p[i..] (stopping at bound, reading at most to len): returns its
 * end; k counts digits across calls, *first / *last get the positions (in k) of the first and
 * last non-zero digits. Eight bytes at a time: a byte is a digit when (c ^ '0') < 10. */
static inline __attribute__((always_inline)) size_t digit_run(const uint8_t *p, size_t i, size_t bound, size_t len,
                                                              size_t *k, size_t *first, size_t *last)
{
    while (i + 8 <= len) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        uint64_t t = x ^ SWAR_30;
        uint64_t nd = (((t & SWAR_7F) + 0x7676767676767676ULL) | t) & SWAR_80; /* not a digit */
        uint64_t in = nd ? ((nd & (0 - nd)) >> 7) - 1 : ~0ULL;                  /* bytes of the run */
        uint64_t nz = (((t & SWAR_7F) + SWAR_7F) | t) & SWAR_80 & in;             /* non-zero digits */
        size_t run = nd ? (size_t)__builtin_ctzll(nd) >> 3 : 8;
        if (nz) {
            if (*first == SIZE_MAX)
                *first = *k + ((size_t)__builtin_ctzll(nz) >> 3);
            *last = *k + ((size_t)(63 - __builtin_clzll(nz)) >> 3);
        }
        i += run;
        *k += run;
        if (run < 8)
            return i;
    }
    while (i < bound && is_digit(p[i])) {
        if (p[i] != '0') {
            if (*first == SIZE_MAX)
                *first = *k;
            *last = *k;
        }
        i++;
        (*k)++;
    }
    return i;
}

static inline __attribute__((always_inline)) bool scan_number(const uint8_t *p, size_t v, size_t bound, size_t len,
                                                              struct numscan *ns)
{
    size_t i = v;
    if (p[i] == '-')
        i++;
    size_t is = i, k = 0, first = SIZE_MAX, last = 0;
    i = digit_run(p, i, bound, len, &k, &first, &last);
    size_t nint = k;
    if (nint == 0 || (p[is] == '0' && nint > 1))
        return false; /* no digit, or a leading zero */
    if (i < bound && p[i] == '.') {
        size_t fs = ++i;
        i = digit_run(p, i, bound, len, &k, &first, &last);
        if (i == fs)
            return false;
    }
    int64_t x = 0;
    if (i < bound && (p[i] | 0x20) == 'e') {
        i++;
        bool xneg = false;
        if (i < bound && (p[i] == '+' || p[i] == '-')) {
            xneg = p[i] == '-';
            i++;
        }
        size_t xs = i;
        while (i < bound && is_digit(p[i])) {
            if (x < EXP_CLAMP)
                x = x * 10 + (p[i] - '0');
            i++;
        }
        if (i == xs)
            return false;
        if (xneg)
            x = -x;
    }
    if (i > bound || (i != bound && !is_ws(p[i])))
        return false;
    ns->end = i;
    if (first == SIZE_MAX) { /* zero */
        ns->size = 1;
        ns->dyn_ok = true;
        return true;
    }
    size_t sig = last - first + 1;
    int64_t sci = (int64_t)nint - 1 - (int64_t)first + x;
    ns->dyn_ok = sig <= DL_NUM_MAX_DIGITS && sci >= DL_NUM_MIN_EXP && sci <= DL_NUM_MAX_EXP;
    ns->size = (sig + 1) / 2 + 1;
    return true;
}

/* The closing quote of the string opened at a, given the next index entry at c: only
 * whitespace can sit between them. 0 when that is not a quote after a. */
static inline __attribute__((always_inline)) size_t closing_quote(const uint8_t *p, size_t a, size_t c)
{
    size_t z = c - 1;
    if (p[z] == '"')
        return z > a ? z : 0;
    while (z > a && is_ws(p[z]))
        z--;
    return z > a && p[z] == '"' ? z : 0;
}

/* Room for need more bytes after the first used bytes of the wire buffer. */
static bool out_grow(struct dl_buf *b, size_t used, size_t need, size_t size)
{
    if (size > DL_ITEM_MAX_SIZE) /* the record fails anyway: stop writing */
        return false;
    b->len = used;
    return dl_buf_reserve(b, need + 4096) == DL_OK;
}


/* it->key and it->key_wire as item.c's finish_keys builds them. In the fast path every key
 * text is free of bytes that JSON escapes (an escape-free string body, or a number). */
static bool finish_keys(struct dl_jsonfast *r, struct dl_item *it)
{
    const struct dl_key_schema *ks = r->ks;
    if (!ks || ks->n == 0)
        return true;
    size_t klen = 0, wlen = 2;
    for (int k = 0; k < ks->n; k++) {
        const struct fkey *kv = &r->kv[k];
        if (!kv->found)
            return false;
        char t = ks->k[k].type;
        klen += 5 + (t == 'N' ? kv->canon_len : kv->len);
        wlen += 1 + r->kwpre[k].len + 3 + (t == 'B' ? (kv->len + 2) / 3 * 4 : kv->len);
    }
    if (dl_buf_reserve(&it->key, klen) || dl_buf_reserve(&it->key_wire, wlen))
        return false;
    uint8_t *kp = it->key.data + it->key.len, *wp = it->key_wire.data + it->key_wire.len;
    *wp++ = '{';
    for (int k = 0; k < ks->n; k++) {
        const struct fkey *kv = &r->kv[k];
        char t = ks->k[k].type;
        const uint8_t *kb = t == 'N' ? (const uint8_t *)kv->canon : kv->raw;
        size_t kl = t == 'N' ? kv->canon_len : kv->len;
        kp[0] = (uint8_t)t;
        kp[1] = (uint8_t)(kl >> 24);
        kp[2] = (uint8_t)(kl >> 16);
        kp[3] = (uint8_t)(kl >> 8);
        kp[4] = (uint8_t)kl;
        memcpy(kp + 5, kb, kl);
        kp += 5 + kl;
        if (k > 0)
            *wp++ = ',';
        memcpy(wp, r->kwpre[k].data, r->kwpre[k].len);
        wp += r->kwpre[k].len;
        *wp++ = '"';
        if (t == 'B') {
            it->key_wire.len = (size_t)(wp - it->key_wire.data);
            if (dl_buf_append_base64(&it->key_wire, kv->raw, kv->len))
                return false;
            wp = it->key_wire.data + it->key_wire.len;
        } else {
            memcpy(wp, kv->raw, kv->len);
            wp += kv->len;
        }
        *wp++ = '"';
        *wp++ = '}';
    }
    *wp++ = '}';
    it->key.len = (size_t)(kp - it->key.data);
    it->key.data[it->key.len] = 0;
    it->key_wire.len = (size_t)(wp - it->key_wire.data);
    it->key_wire.data[it->key_wire.len] = 0;
    return true;
}

/* ======================================================================== stage 2: the walk */

struct frame {
    struct name *names0; /* objects: the first of their member names on the names stack */
    uint64_t seen;       /* objects: a one-hash Bloom filter of the member names so far */
    bool arr;
};

/* Objects with more members than this are checked for duplicates when they close (hash table);
 * smaller ones as each name comes (Bloom bit, then a scan of the few names with that bit). */
#define DUP_SCAN_MAX 32

/* Write the item for the object whose '{' is at s_abs (the index's entry r->cur or later).
 * W_OK: it holds the item, *endp is just past the closing '}'. W_BAIL: the scalar path must
 * decide. W_MORE: the record runs past the window.
 * Written for the register allocator: positions are relative to the window start (p[x] is input
 * byte ws + x), the index is walked by pointer, and the open container's state is in locals. */
static inline __attribute__((always_inline)) enum walk_rc walk(struct dl_jsonfast *r, size_t s_abs,
                                                               struct dl_item *it, size_t *endp, const bool ddb,
                                                               const bool checked)
{
    const uint8_t *const p = r->p + r->ws;
    const uint8_t *const bsf = r->blk;
    const size_t len = r->len - r->ws, s = s_abs - r->ws;
    const uint32_t *jp = r->idx + r->cur;
    const uint32_t *const jend = r->idx + r->nidx;
    while (jp < jend && *jp < s)
        jp++;
    r->cur = (size_t)(jp - r->idx);
    if (jp >= jend || *jp != s)
        return r->we == r->len ? W_BAIL : W_MORE;

#define AT(k) ((size_t)jp[k])
#define NEED(k)                                                                                \
    do {                                                                                       \
        if (jp + (k) >= jend)                                                                  \
            goto more;                                                                         \
    } while (0)
/* room for k more output bytes (unchecked: the caller reserved OUT_PER_BYTE per input byte) */
#define ENSURE(k)                                                                              \
    do {                                                                                       \
        if (checked && (size_t)(oe - o) < (size_t)(k)) {                                       \
            size_t used_ = (size_t)(o - it->wire.data);                                        \
            if (!out_grow(&it->wire, used_, (k), size))                                        \
                goto bail;                                                                     \
            o = it->wire.data + used_;                                                         \
            oe = it->wire.data + it->wire.alloc - 1;                                           \
        }                                                                                      \
    } while (0)
#define PUT(lit)                                                                               \
    do {                                                                                       \
        memcpy(o, lit, sizeof lit - 1);                                                        \
        o += sizeof lit - 1;                                                                   \
    } while (0)
#ifdef DL_JSONFAST_DEBUG
/* fuzz and sanitizer builds: the unchecked writes stayed within the reservation (with the
 * 31 bytes a copy may write past its end) */
#define OUT_CHECK()                                                                            \
    do {                                                                                       \
        if (!checked && (size_t)(o - it->wire.data) + 32 > r->out_bound)                       \
            abort();                                                                           \
    } while (0)
#else
#define OUT_CHECK() ((void)0)
#endif
/* the bound of the scalar run at jp[0]: the next entry, or the end of input */
#define ATOM_BOUND(b)                                                                          \
    do {                                                                                       \
        if (jp + 1 < jend)                                                                     \
            (b) = AT(1);                                                                       \
        else if (r->we == r->len)                                                              \
            (b) = len;                                                                         \
        else                                                                                   \
            goto more;                                                                         \
    } while (0)

    dl_item_reset(it);
    r->kv[0].found = r->kv[1].found = false;
    if (!it->wire.data && dl_buf_reserve(&it->wire, 4096) != DL_OK)
        return W_BAIL;
    uint8_t *o = it->wire.data, *oe = it->wire.data + it->wire.alloc - 1;
    size_t size = 0;
    struct name *np = r->names, *nend = r->names + r->names_cap;
    struct frame fr[DL_ITEM_MAX_DEPTH + 2];
    int d = 0, keyk;
    /* the open container, in locals; fr[] keeps the enclosing ones */
    bool c_arr = false;
    struct name *c_names0 = np;
    uint64_t c_seen = 0;
    ENSURE(64);
    *o++ = '{';
    jp++;
    NEED(0);
    if (p[AT(0)] == '}') {
        jp++;
        goto obj_close;
    }

member: {
    /* jp[0]: the member name's opening quote; jp[1]: the ':' */
    NEED(1);
    size_t a = AT(0), c = AT(1);
    if (p[a] != '"' || p[c] != ':')
        goto bail;
    size_t z = closing_quote(p, a, c);
    if (!z)
        goto bail;
    size_t nlen = z - a - 1;
    uint64_t h;
    if (nlen <= 8 && a + 9 <= len) {
        /* short names (most): one load gives the hash and the backslash check */
        uint64_t w, in = nlen == 8 ? ~0ULL : (1ULL << (8 * nlen)) - 1;
        memcpy(&w, p + a + 1, 8);
        w &= in;
        uint64_t x = w ^ 0x5C5C5C5C5C5C5C5CULL;
        if (~(((x & SWAR_7F) + SWAR_7F) | x) & SWAR_80 & in)
            goto bail; /* escaped names: compare and quote them the scalar way */
        h = (w ^ (uint64_t)nlen << 56 ^ (uint64_t)nlen) * 0x9E3779B97F4A7C15ULL;
    } else {
        if (has_backslash(p, bsf, 0, a + 1, z))
            goto bail;
        h = name_hash(p + a + 1, nlen, z + 8 <= len);
    }
    if (np == nend) {
        size_t used = (size_t)(np - r->names), cap = r->names_cap ? 2 * r->names_cap : 256;
        struct name *nv = cap <= NAMES_MAX ? realloc(r->names, cap * sizeof *nv) : NULL;
        if (!nv)
            goto bail;
        for (int k = 0; k < d; k++)
            fr[k].names0 = nv + (fr[k].names0 - r->names);
        c_names0 = nv + (c_names0 - r->names);
        r->names = nv;
        r->names_cap = cap;
        np = nv + used;
        nend = nv + cap;
    }
    if (np - c_names0 < DUP_SCAN_MAX) {
        uint64_t bit = 1ULL << (h >> 58);
        if (c_seen & bit) {
            for (const struct name *q = c_names0; q < np; q++)
                if (q->h == h && q->len == nlen && memcmp(q->p, p + a + 1, nlen) == 0)
                    goto bail; /* a duplicate name: item.c's "last one wins" is the scalar path's */
        }
        c_seen |= bit;
    }
    np->p = p + a + 1;
    np->len = nlen;
    np->h = h;
    np++;
    keyk = -1;
    if (d == 0) {
        if (nlen == 0 || nlen > DL_ATTR_NAME_MAX)
            goto bail;
        size += nlen;
        if (nlen == r->klen[0] && memcmp(r->kname[0], p + a + 1, nlen) == 0)
            keyk = 0;
        else if (nlen == r->klen[1] && memcmp(r->kname[1], p + a + 1, nlen) == 0)
            keyk = 1;
    } else {
        if (nlen > DL_ATTR_NAME_MAX)
            goto bail;
        size += 1 + nlen;
    }
    ENSURE(nlen + 40);
    if (o[-1] != '{') /* not the first member: the previous value ended with '}' */
        *o++ = ',';
    if (z + 32 <= len)
        copy16(o, p + a, nlen + 2);
    else
        memcpy(o, p + a, nlen + 2);
    o += nlen + 2;
    *o++ = ':';
    jp += 2;
    if (keyk >= 0)
        goto key_value;
    goto value;
}

value: {
    /* jp[0]: the first entry of a value at level d + 1 (<= 32: checked when containers open) */
    NEED(0);
    size_t v = AT(0);
    uint8_t ch = p[v];
    if (ddb) {
        /* {"T": payload}: the wrapper's name must be a bare type name */
        NEED(2);
        size_t a = AT(1), c = AT(2);
        if (ch != '{' || p[a] != '"' || p[c] != ':')
            goto bail;
        size_t z = closing_quote(p, a, c);
        if (!z)
            goto bail;
        size_t tl = z - a - 1;
        const uint8_t *t = p + a + 1;
        jp += 3;
        NEED(0);
        v = AT(0);
        ch = p[v];
        if (tl == 1 && t[0] == 'S') {
            if (ch != '"')
                goto bail;
            goto string_value;
        }
        if (tl == 1 && t[0] == 'N') {
            if (ch != '"')
                goto bail;
            NEED(1);
            size_t zz = closing_quote(p, v, AT(1));
            if (!zz || has_backslash(p, bsf, 0, v + 1, zz))
                goto bail;
            struct numscan ns;
            if (!scan_number(p, v + 1, zz, len, &ns) || ns.end != zz || !ns.dyn_ok)
                goto bail;
            size_t tlen = zz - v - 1;
            size += ns.size;
            ENSURE(tlen + 48);
            PUT("{\"N\":");
            if (zz + 32 <= len)
                copy16(o, p + v, tlen + 2);
            else
                memcpy(o, p + v, tlen + 2);
            o += tlen + 2;
            *o++ = '}';
            jp++;
            goto ddb_close;
        }
        if (tl == 4 && memcmp(t, "BOOL", 4) == 0) {
            if (ch != 't' && ch != 'f')
                goto bail;
            goto literal;
        }
        if (tl == 4 && memcmp(t, "NULL", 4) == 0) {
            if (ch != 't')
                goto bail;
            size_t bound;
            ATOM_BOUND(bound);
            if (bound - v < 4 || memcmp(p + v, "true", 4) != 0 || (v + 4 != bound && !is_ws(p[v + 4])))
                goto bail;
            size += 1;
            ENSURE(16);
            PUT("{\"NULL\":true}");
            jp++;
            goto ddb_close;
        }
        if (tl == 1 && t[0] == 'L') {
            if (ch != '[')
                goto bail;
            goto open_array;
        }
        if (tl == 1 && t[0] == 'M') {
            if (ch != '{')
                goto bail;
            goto open_object;
        }
        goto bail; /* B, SS, NS, BS, unknown types: the scalar path */
    }
    if (ch == '"')
        goto string_value;
    if (ch == '-' || is_digit(ch)) {
        size_t bound;
        ATOM_BOUND(bound);
        struct numscan ns;
        if (!scan_number(p, v, bound, len, &ns) || !ns.dyn_ok)
            goto bail;
        size_t tlen = ns.end - v;
        size += ns.size;
        ENSURE(tlen + 48);
        PUT("{\"N\":\"");
        if (ns.end + 32 <= len)
            copy16(o, p + v, tlen);
        else
            memcpy(o, p + v, tlen);
        o += tlen;
        PUT("\"}");
        jp++;
        goto after_value;
    }
    if (ch == '{')
        goto open_object;
    if (ch == '[')
        goto open_array;
    if (ch == 't' || ch == 'f')
        goto literal;
    if (ch == 'n') {
        size_t bound;
        ATOM_BOUND(bound);
        if (bound - v < 4 || memcmp(p + v, "null", 4) != 0 || (v + 4 != bound && !is_ws(p[v + 4])))
            goto bail;
        size += 1;
        ENSURE(16);
        PUT("{\"NULL\":true}");
        jp++;
        goto after_value;
    }
    goto bail;
}

string_value: {
    /* jp[0]: a string's opening quote */
    NEED(1);
    size_t v = AT(0);
    size_t z = closing_quote(p, v, AT(1));
    if (!z)
        goto bail;
    size_t slen = z - v - 1;
    if (!has_backslash(p, bsf, 0, v + 1, z)) {
        size += slen;
        ENSURE(slen + 48);
        PUT("{\"S\":");
        if (z + 32 <= len)
            copy16(o, p + v, slen + 2);
        else
            memcpy(o, p + v, slen + 2);
        o += slen + 2;
        *o++ = '}';
    } else {
        ptrdiff_t ul = unescape(r, p + v + 1, slen);
        if (ul < 0)
            goto bail;
        size += (size_t)ul;
        ENSURE(6 * (size_t)ul + 48);
        PUT("{\"S\":");
        o = put_json_str(o, r->tmp, (size_t)ul);
        *o++ = '}';
    }
    jp++;
    if (ddb)
        goto ddb_close;
    goto after_value;
}

literal: {
    /* jp[0]: true or false */
    size_t v = AT(0), bound;
    ATOM_BOUND(bound);
    bool t;
    if (bound - v >= 4 && memcmp(p + v, "true", 4) == 0 && (v + 4 == bound || is_ws(p[v + 4])))
        t = true;
    else if (bound - v >= 5 && memcmp(p + v, "false", 5) == 0 && (v + 5 == bound || is_ws(p[v + 5])))
        t = false;
    else
        goto bail;
    size += 1;
    ENSURE(16);
    if (t)
        PUT("{\"BOOL\":true}");
    else
        PUT("{\"BOOL\":false}");
    jp++;
    if (ddb)
        goto ddb_close;
    goto after_value;
}

open_object:
    size += 3;
    ENSURE(16);
    PUT("{\"M\":{");
    fr[d].arr = c_arr;
    fr[d].names0 = c_names0;
    fr[d].seen = c_seen;
    d++;
    c_arr = false;
    c_names0 = np;
    c_seen = 0;
    jp++;
    NEED(0);
    if (p[AT(0)] == '}') {
        jp++;
        goto obj_close;
    }
    if (d >= DL_ITEM_MAX_DEPTH)
        goto bail; /* members at level d + 1 > 32: item.c's depth error */
    goto member;

open_array:
    size += 3;
    ENSURE(16);
    PUT("{\"L\":[");
    fr[d].arr = c_arr;
    fr[d].names0 = c_names0;
    fr[d].seen = c_seen;
    d++;
    c_arr = true;
    jp++;
    NEED(0);
    if (p[AT(0)] == ']') {
        jp++;
        goto arr_close;
    }
    if (d >= DL_ITEM_MAX_DEPTH)
        goto bail; /* elements at level d + 1 > 32: item.c's depth error */
    size += 1;
    goto value;

ddb_close:
    /* the wrapper object holds exactly one member */
    NEED(0);
    if (p[AT(0)] != '}')
        goto bail;
    jp++;
    goto after_value;

after_value: {
    OUT_CHECK();
    NEED(0);
    uint8_t c = p[AT(0)];
    jp++;
    if (c_arr) {
        if (c == ',') {
            size += 1;
            ENSURE(8);
            *o++ = ',';
            goto value;
        }
        if (c == ']')
            goto arr_close;
        goto bail;
    }
    if (c == ',')
        goto member;
    if (c == '}')
        goto obj_close;
    goto bail;
}

arr_close:
    ENSURE(8);
    PUT("]}");
    d--;
    c_arr = fr[d].arr;
    c_names0 = fr[d].names0;
    c_seen = fr[d].seen;
    if (ddb)
        goto ddb_close;
    goto after_value;

obj_close:
    if (np - c_names0 > DUP_SCAN_MAX && names_dup(r, c_names0, (size_t)(np - c_names0)))
        goto bail;
    np = c_names0;
    ENSURE(8);
    if (d == 0) {
        *o++ = '}';
        goto done;
    }
    PUT("}}");
    d--;
    c_arr = fr[d].arr;
    c_names0 = fr[d].names0;
    c_seen = fr[d].seen;
    if (ddb)
        goto ddb_close;
    goto after_value;

key_value: {
    /* jp[0]: the value of the top-level member that is key attribute keyk */
    NEED(0);
    size_t v = AT(0);
    uint8_t ch = p[v];
    char type = r->ks->k[keyk].type;
    const uint8_t *text;
    size_t tlen;
    if (ddb) {
        NEED(2);
        size_t a = AT(1), c = AT(2);
        if (ch != '{' || p[a] != '"' || p[c] != ':')
            goto bail;
        size_t z = closing_quote(p, a, c);
        if (!z || z - a - 1 != 1 || p[a + 1] != (uint8_t)type || (type != 'S' && type != 'N'))
            goto bail;
        jp += 3;
        NEED(0);
        v = AT(0);
        ch = p[v];
        if (ch != '"')
            goto bail;
    }
    if (ch == '"') {
        NEED(1);
        size_t z = closing_quote(p, v, AT(1));
        if (!z || has_backslash(p, bsf, 0, v + 1, z))
            goto bail;
        text = p + v + 1;
        tlen = z - v - 1;
    } else if (ch == '-' || is_digit(ch)) {
        if (type != 'S' && type != 'N')
            goto bail;
        size_t bound;
        ATOM_BOUND(bound);
        struct numscan ns;
        if (!scan_number(p, v, bound, len, &ns))
            goto bail;
        text = p + v;
        tlen = ns.end - v;
    } else {
        goto bail; /* true/false/null/containers as keys: item.c's error */
    }
    /* a bad number text and a bad string both go to the scalar path, whose messages differ */
    struct fkey *kv = &r->kv[keyk];
    if (type == 'N') {
        struct dl_num_info ni;
        if (tlen == 0 || dl_num_check(dl_cursor_of(text, tlen), &ni, NULL, 0) != DL_OK)
            goto bail;
        kv->canon_len = dl_num_format_canonical(&ni, kv->canon);
        size += dl_num_size(&ni);
        ENSURE(tlen + 48);
        PUT("{\"N\":\"");
        memcpy(o, text, tlen); /* a valid number: nothing to escape */
        o += tlen;
        PUT("\"}");
    } else if (type == 'S' || type == 'B') {
        if (tlen == 0 || tlen > (keyk == 0 ? DL_KEY_HASH_MAX : DL_KEY_RANGE_MAX))
            goto bail;
        size += tlen;
        if (type == 'S') {
            ENSURE(tlen + 48);
            PUT("{\"S\":\"");
            memcpy(o, text, tlen); /* an escape-free string body or a number */
            o += tlen;
            PUT("\"}");
        } else {
            struct dl_buf *wb = &it->wire;
            ENSURE(tlen / 3 * 4 + 48);
            wb->len = (size_t)(o - wb->data);
            if (dl_buf_append(wb, "{\"B\":\"", 6) || dl_buf_append_base64(wb, text, tlen) ||
                dl_buf_append(wb, "\"}", 2))
                goto bail;
            o = wb->data + wb->len;
            oe = wb->data + wb->alloc - 1;
        }
    } else {
        goto bail;
    }
    kv->found = true;
    kv->raw = text;
    kv->len = tlen;
    jp++;
    if (ddb)
        goto ddb_close;
    goto after_value;
}

done:
    OUT_CHECK();
    if (size > DL_ITEM_MAX_SIZE)
        goto bail;
    it->wire.len = (size_t)(o - it->wire.data);
    it->wire.data[it->wire.len] = 0;
    if (!finish_keys(r, it))
        goto bail;
    it->size = size;
    r->cur = (size_t)(jp - r->idx);
    *endp = r->ws + (size_t)jp[-1] + 1;
    return W_OK;

more:
    it->wire.len = (size_t)(o - it->wire.data);
    return r->we == r->len ? W_BAIL : W_MORE;

bail:
    it->wire.len = (size_t)(o - it->wire.data);
    return W_BAIL;

#undef AT
#undef NEED
#undef ENSURE
#undef PUT
#undef ATOM_BOUND
#undef OUT_CHECK
}


static __attribute__((noinline)) enum walk_rc walk_plain(struct dl_jsonfast *r, size_t s, struct dl_item *it,
                                                          size_t *endp)
{
    return walk(r, s, it, endp, false, true);
}

static __attribute__((noinline)) enum walk_rc walk_ddb(struct dl_jsonfast *r, size_t s, struct dl_item *it,
                                                        size_t *endp)
{
    return walk(r, s, it, endp, true, true);
}

static __attribute__((noinline)) enum walk_rc walk_plain_u(struct dl_jsonfast *r, size_t s, struct dl_item *it,
                                                            size_t *endp)
{
    return walk(r, s, it, endp, false, false);
}

static __attribute__((noinline)) enum walk_rc walk_ddb_u(struct dl_jsonfast *r, size_t s, struct dl_item *it,
                                                          size_t *endp)
{
    return walk(r, s, it, endp, true, false);
}

/* Stage 2 on the record at s: without room checks when the output for everything up to the
 * window end fits in a reservation of OUT_UNCHECKED_MAX or less. */
static enum walk_rc walk_any(struct dl_jsonfast *r, size_t s, struct dl_item *it, size_t *endp)
{
    size_t bound = OUT_PER_BYTE * (r->we - s) + 128;
    bool ddb = r->kind == DL_JSONFAST_DDB;
    if (bound <= r->unchecked_max && dl_buf_reserve(&it->wire, bound) == DL_OK) {
        r->out_bound = bound;
        return ddb ? walk_ddb_u(r, s, it, endp) : walk_plain_u(r, s, it, endp);
    }
    return ddb ? walk_ddb(r, s, it, endp) : walk_plain(r, s, it, endp);
}

/* lim value meaning "the end of the line the value starts on" (NDJSON), found only if needed */
#define LIM_LINE SIZE_MAX

/* Stage 2 on the object at s whose value must end by lim. true: it is the item and *used its
 * length; false: the scalar path decides. */
static bool fast_record(struct dl_jsonfast *r, struct dl_item *it, size_t s, size_t lim, size_t *used)
{
    if (r->p[s] != '{')
        return false;
    for (;;) {
        if (!r->have_win || s < r->ws || s >= r->we || r->poison < s) {
            if (!build_window(r, s, r->wsize))
                return false;
        }
        size_t end = 0;
        enum walk_rc rc = walk_any(r, s, it, &end);
        if (rc == W_OK) {
            bool nlf = nl_free(r, s, end);
            if (lim == LIM_LINE ? !nlf : end > lim)
                return false;
            if (r->poison < end + 4)
                return false;
            if (nlf) {
                r->nlfree_lo = s;
                r->nlfree_hi = end;
            }
            *used = end - s;
            return true;
        }
        if (rc == W_BAIL)
            return false;
        /* W_MORE: the record runs past the window (and so past lim if the window does) */
        if (lim == LIM_LINE ? !nl_free(r, s, r->we) : r->we > lim)
            return false;
        size_t size = r->wsize;
        if (r->ws == s) {
            size = 2 * (r->we - r->ws);
            if (size > WIN_MAX)
                return false;
        } else if (r->wsize < r->wnormal) {
            r->wsize = r->wsize * 2 < r->wnormal ? r->wsize * 2 : r->wnormal;
            size = r->wsize;
        }
        if (!build_window(r, s, size))
            return false;
    }
}

/* ===================================================================== framing (jsonrec.c) */

static void locate(struct dl_jsonfast *r, size_t off, uint64_t *line, uint64_t *col)
{
    if (off < r->lc_off) {
        r->lc_off = 0;
        r->lc_line = 1;
        r->lc_ls = 0;
    }
    if (r->lc_off >= r->nlfree_lo && off <= r->nlfree_hi) {
        /* inside the record stage 2 just read: no line break to count */
        r->lc_off = off;
        *line = r->lc_line;
        *col = off - r->lc_ls + 1;
        return;
    }
    if (r->nlm && r->lc_off >= r->ws && off <= r->we && off > r->lc_off) {
        /* stage 1's newline masks */
        size_t b0 = (r->lc_off - r->ws) >> 6, b1 = (off - 1 - r->ws) >> 6;
        for (size_t b = b0; b <= b1; b++) {
            uint64_t m = nl_bits(r, b, r->lc_off, off);
            if (m) {
                r->lc_ls = r->ws + 64 * b + 64 - (size_t)__builtin_clzll(m);
                for (; m; m &= m - 1) /* few newlines per block: cheaper than a popcount call */
                    r->lc_line++;
            }
        }
        r->lc_off = off;
        *line = r->lc_line;
        *col = off - r->lc_ls + 1;
        return;
    }
    const uint8_t *q = r->p + r->lc_off, *end = r->p + off;
    while (q < end) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            break;
        r->lc_line++;
        q = nl + 1;
        r->lc_ls = (size_t)(q - r->p);
    }
    r->lc_off = off;
    *line = r->lc_line;
    *col = off - r->lc_ls + 1;
}

static size_t eol(const struct dl_jsonfast *r, size_t off)
{
    if (off >= r->len)
        return r->len;
    const uint8_t *nl = memchr(r->p + off, '\n', r->len - off);
    return nl ? (size_t)(nl - r->p) : r->len;
}

static size_t after_eol(const struct dl_jsonfast *r, size_t e)
{
    return e < r->len ? e + 1 : r->len;
}

static size_t trim_cr(const struct dl_jsonfast *r, size_t s, size_t e)
{
    if (e > s && r->p[e - 1] == '\r')
        e--;
    return e;
}

static size_t skip_ws(const struct dl_jsonfast *r, size_t i, size_t lim)
{
    while (i < lim && is_ws(r->p[i]))
        i++;
    return i;
}

static bool at_line_start(const struct dl_jsonfast *r, size_t s, uint64_t col)
{
    return col == 1 || (r->bom && s == 3);
}

static void move_err(struct dl_pos_err *err, size_t base, uint64_t bl, uint64_t bc)
{
    if (err->line == 1)
        err->column += bc - 1;
    err->line += bl - 1;
    err->offset += base;
}

static void set_err(struct dl_jsonfast *r, struct dl_pos_err *err, enum dl_err code, size_t at,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_err(struct dl_jsonfast *r, struct dl_pos_err *err, enum dl_err code, size_t at,
                    const char *fmt, ...)
{
    uint64_t line, col;
    char msg[sizeof err->msg];
    va_list ap;
    locate(r, at, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dl_pos_err_set(err, code, at, line, col, "%s", msg);
}

static void describe(const struct dl_jsonfast *r, size_t i, char *buf, size_t n)
{
    if (i >= r->len)
        snprintf(buf, n, "end of input");
    else if (r->p[i] > 0x20 && r->p[i] < 0x7F)
        snprintf(buf, n, "'%c'", r->p[i]);
    else
        snprintf(buf, n, "byte 0x%02X", r->p[i]);
}

static void begin(struct dl_jsonfast *r, struct dl_jsonrec_out *out, size_t s, size_t e)
{
    out->record = ++r->record;
    out->offset = s;
    locate(r, s, &out->line, &out->column);
    out->raw = dl_cursor_of(r->p + s, e - s);
}

static bool line_delimited(struct dl_jsonfast *r, size_t s, uint64_t line, uint64_t col)
{
    if (r->mode == DL_JSONREC_NDJSON || r->ld)
        return true;
    if (r->mode != DL_JSONREC_AUTO)
        return false;
    bool ld = false;
    if (r->first_done && r->first_single_line && r->nvalues > 1)
        ld = true;
    else if (at_line_start(r, s, col) && r->prev_end_line && r->prev_end_line < line)
        ld = true;
    else if (at_line_start(r, s, col)) {
        size_t b = after_eol(r, eol(r, s));
        for (;;) {
            size_t e = eol(r, b);
            size_t t = b;
            while (t < e && is_ws(r->p[t]))
                t++;
            if (b >= r->len)
                break;
            if (t < e) {
                size_t z = e;
                while (z > b && is_ws(r->p[z - 1]))
                    z--;
                uint8_t first = r->p[b], last = r->p[z - 1];
                ld = z - b >= 2 && ((first == '{' && last == '}') || (first == '[' && last == ']'));
                break;
            }
            b = after_eol(r, e);
        }
    }
    if (ld)
        r->ld = true;
    return ld;
}

static enum dl_jsonrec_status value_failed(struct dl_jsonfast *r, struct dl_jsonrec_out *out,
                                           struct dl_pos_err *err, size_t s, size_t lim, bool ld)
{
    if (!ld) {
        begin(r, out, s, r->len);
        r->done = true;
        return DL_JSONREC_FATAL;
    }
    size_t e = eol(r, s);
    if (lim > e) {
        uint64_t bl, bc;
        locate(r, s, &bl, &bc);
        if (!r->scratch)
            r->scratch = dl_arena_new(0, 0);
        if (r->scratch) {
            struct dl_pos_err e2;
            struct dl_json *v = NULL;
            size_t used = 0;
            dl_pos_err_clear(&e2);
            if (dl_json_parse_value(r->scratch, r->p + s, e - s, &used, &v, &e2) != DL_OK) {
                move_err(&e2, s, bl, bc);
                *err = e2;
            } else if (err->offset > e) {
                e = eol(r, (size_t)err->offset);
            }
            dl_arena_reset(r->scratch);
        }
    }
    begin(r, out, s, trim_cr(r, s, e));
    r->pos = after_eol(r, e);
    return DL_JSONREC_ERROR;
}

static void note_completed(struct dl_jsonfast *r, size_t s, uint64_t sl, uint64_t sc, size_t end)
{
    uint64_t el, ec;
    locate(r, end - 1, &el, &ec);
    if (!r->first_done) {
        r->first_done = true;
        r->first_single_line = sl == el && at_line_start(r, s, sc);
    }
    r->prev_end_line = el;
}

/* What parsing the value at s (up to lim) gave. */
enum vres {
    V_FAIL,   /* syntax error: err holds the parser's error, relative to s */
    V_ITEM,   /* an object, and it became the item */
    V_MAPERR, /* an object the builder rejected: *why */
    V_OTHER,  /* not an object: *type */
};

static size_t eol(const struct dl_jsonfast *r, size_t off);

/* *limp may be LIM_LINE, and is then set to the end of the line if the scalar path needs it. */
static enum vres parse_value(struct dl_jsonfast *r, struct dl_item *it, size_t s, size_t *limp, size_t *used,
                             enum dl_json_type *type, struct dl_pos_err *err, struct dl_pos_err *why)
{
    if (fast_record(r, it, s, *limp, used)) {
        r->stats.fast++;
        return V_ITEM;
    }
    if (*limp == LIM_LINE)
        *limp = eol(r, s);
    size_t lim = *limp;
    struct dl_json *v = NULL;
    dl_arena_reset(r->arena);
    if (dl_json_parse_value(r->arena, r->p + s, lim - s, used, &v, err) != DL_OK) {
        r->have_win = false; /* the index past this point was built on a broken value */
        r->wsize = r->wmin;
        return V_FAIL;
    }
    if (v->type != DL_JSON_OBJECT) {
        *type = v->type;
        return V_OTHER;
    }
    r->stats.fallback++;
    dl_pos_err_clear(why);
    enum dl_err e = r->kind == DL_JSONFAST_DDB ? dl_item_from_ddb_json(it, v, r->ks, why)
                                               : dl_item_from_json(it, v, r->ks, why);
    return e ? V_MAPERR : V_ITEM;
}

/* A builder's error, positioned as decode.c positions it. */
static void map_error(const struct dl_jsonfast *r, const struct dl_jsonrec_out *out, const struct dl_pos_err *why,
                      struct dl_pos_err *err)
{
    uint64_t line = out->line, col = 0;
    size_t at = out->offset + why->offset;
    if (why->offset) {
        /* dl_json_line_col(p, at) counted from the record's start, whose position is known */
        size_t ls = out->offset - (out->column - 1);
        const uint8_t *q = r->p + out->offset, *end = r->p + at;
        while (q < end) {
            const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
            if (!nl)
                break;
            line++;
            q = nl + 1;
            ls = (size_t)(q - r->p);
        }
        col = at - ls + 1;
    }
    dl_pos_err_set(err, why->code, at, line, col, "%s", why->msg);
}

static bool array_step(struct dl_jsonfast *r, struct dl_item *it, struct dl_jsonrec_out *out,
                       struct dl_pos_err *err, enum dl_jsonrec_status *st)
{
    size_t lim = r->arr_lim;
    size_t i = skip_ws(r, r->pos, lim);
    bool ndjson = r->mode == DL_JSONREC_NDJSON;
    char found[32];

    if (i < lim && r->p[i] == ']') {
        r->in_array = false;
        r->pos = i + 1;
        note_completed(r, r->arr_start, r->arr_line, r->arr_col, i + 1);
        return false;
    }
    if (r->need_sep) {
        if (i < lim && r->p[i] == ',') {
            i = skip_ws(r, i + 1, lim);
            if (i < lim && r->p[i] == ']') {
                set_err(r, err, DL_ERR_PARSE, i, "trailing comma in array");
                goto syntax;
            }
        } else {
            if (i >= lim) {
                set_err(r, err, DL_ERR_PARSE, i, "unexpected end of %s",
                        ndjson && lim < r->len ? "line" : "input");
            } else {
                describe(r, i, found, sizeof found);
                set_err(r, err, DL_ERR_PARSE, i, "expected ',' or ']' after array element, found %s",
                        found);
            }
            goto syntax;
        }
    }
    if (i >= lim) {
        set_err(r, err, DL_ERR_PARSE, i, "unexpected end of %s", ndjson && lim < r->len ? "line" : "input");
        goto syntax;
    }

    {
        uint64_t bl, bc;
        size_t used = 0;
        enum dl_json_type type = DL_JSON_NULL;
        struct dl_pos_err why;
        locate(r, i, &bl, &bc);
        enum vres vr = parse_value(r, it, i, &lim, &used, &type, err, &why);
        if (vr == V_FAIL) {
            move_err(err, i, bl, bc);
            goto syntax;
        }
        r->nelem++;
        r->need_sep = true;
        r->pos = i + used;
        begin(r, out, i, i + used);
        if (vr == V_ITEM) {
            *st = DL_JSONREC_ITEM;
        } else if (vr == V_MAPERR) {
            map_error(r, out, &why, err);
            *st = DL_JSONREC_ERROR;
        } else {
            dl_pos_err_set(err, DL_ERR_PARSE, i, bl, bc, "array element %llu is not an object (found %s)",
                           (unsigned long long)r->nelem, dl_json_type_name(type));
            *st = DL_JSONREC_ERROR;
        }
        return true;
    }

syntax:
    r->in_array = false;
    r->have_win = false;
    if (ndjson) {
        size_t e = eol(r, i);
        begin(r, out, i, trim_cr(r, i, e));
        r->pos = after_eol(r, e);
        *st = DL_JSONREC_ERROR;
    } else {
        begin(r, out, i, r->len);
        r->done = true;
        *st = DL_JSONREC_FATAL;
    }
    return true;
}

enum dl_jsonrec_status dl_jsonfast_next(struct dl_jsonfast *r, struct dl_item *it,
                                        struct dl_jsonrec_out *out, struct dl_pos_err *err)
{
    enum dl_jsonrec_status st = DL_JSONREC_END;
    struct dl_pos_err dummy;
    if (!err)
        err = &dummy;
    memset(out, 0, sizeof *out);
    /* dl_pos_err_clear without writing all of msg */
    err->code = DL_OK;
    err->offset = err->line = err->column = 0;
    err->msg[0] = 0;

    while (!r->done) {
        if (r->in_array) {
            if (array_step(r, it, out, err, &st))
                goto out;
            continue;
        }
        size_t s = skip_ws(r, r->pos, r->len);
        if (s >= r->len) {
            r->pos = r->len;
            break;
        }
        if (r->mode == DL_JSONREC_JSON && r->nvalues >= 1) {
            size_t e = r->len;
            while (e > s && is_ws(r->p[e - 1]))
                e--;
            begin(r, out, s, e);
            set_err(r, err, DL_ERR_PARSE, s, "more than one top-level JSON value");
            r->done = true;
            st = DL_JSONREC_ERROR;
            goto out;
        }
        r->nvalues++;
        size_t lim = r->mode == DL_JSONREC_NDJSON ? LIM_LINE : r->len;
        if (r->p[s] == '[') {
            if (lim == LIM_LINE)
                lim = eol(r, s);
            r->in_array = true;
            r->need_sep = false;
            r->arr_start = s;
            locate(r, s, &r->arr_line, &r->arr_col);
            r->arr_lim = lim;
            r->nelem = 0;
            r->pos = s + 1;
            continue;
        }
        uint64_t line, col;
        size_t used = 0;
        enum dl_json_type type = DL_JSON_NULL;
        struct dl_pos_err why;
        locate(r, s, &line, &col);
        enum vres vr = parse_value(r, it, s, &lim, &used, &type, err, &why);
        if (vr == V_FAIL) {
            move_err(err, s, line, col);
            st = value_failed(r, out, err, s, lim, line_delimited(r, s, line, col));
            goto out;
        }
        r->pos = s + used;
        begin(r, out, s, s + used);
        note_completed(r, s, line, col, s + used);
        if (vr == V_ITEM) {
            st = DL_JSONREC_ITEM;
        } else if (vr == V_MAPERR) {
            map_error(r, out, &why, err);
            st = DL_JSONREC_ERROR;
        } else {
            dl_pos_err_set(err, DL_ERR_PARSE, s, line, col, "top-level value is not an object or array");
            st = DL_JSONREC_ERROR;
        }
        goto out;
    }
    r->done = true;
    st = DL_JSONREC_END;
out:
    return st;
}
