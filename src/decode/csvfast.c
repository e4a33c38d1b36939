/* SIMD CSV reader, stage 2 (stage 1 is in arch/csv_*.c).
 *
 * The reader keeps a window of classified blocks and walks the separator bits (delimiters
 * and line breaks outside quotes) in order. Each bit ends a field; a line break also ends
 * the record, or is a blank line when nothing came before it. A field that starts with the
 * quote is a quoted field: its value lies between that quote and the one just before the
 * separator (the `bad` mask guarantees it is there), with "" pairs collapsed into scratch
 * when the body holds a quote at all.
 *
 * Line numbers need no state machine: the scalar reader counts "\n", "\r\n" and lone "\r"
 * as one break each wherever they are, so the line of a byte is one plus the line-break bits
 * before it, counted per block with popcount.
 *
 * Exactness: when a record holds a `bad` quote, ends inside quotes, is too long or too wide,
 * or fails UTF-8 validation, the masks may disagree with RFC 4180 or an error must be
 * reported - the record is handed to dl_csv, started at the line break just before the
 * record so that it sees the same record, and its row and error are moved to our offsets
 * and lines. The window then restarts after that record with fresh quote state. */
#include "decode/csvfast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "decode/arch/csv_kernels.h"

#define WIN 32 /* blocks classified per refill (fewer right after a restart) */

struct esc {
    size_t field; /* index of a field whose value is in scratch */
    size_t off;   /* its offset there (scratch may move while the record is read) */
};

struct dl_csvfast {
    const uint8_t *p;
    size_t len; /* end of the bytes we may read */
    struct dl_csv_opts opts; /* as given, for the scalar reader */
    int quote;               /* -1: quoting off */
    uint8_t delim;
    size_t max_record;
    size_t max_fields;
    bool check_utf8;
    bool bom; /* the input starts with a BOM, skipped */
    const struct dl_csv_kernel *k;
    struct dl_csv_kparams kp;

    /* stage 1 window: masks of blocks m[0..nb), m[0] starting at wbase; bi is the current one */
    struct dl_csv_kstate ks;
    struct dl_csv_masks m[WIN];
    size_t nb, bi, wbase;
    size_t scan;       /* where classification goes on */
    size_t grow;       /* blocks for the next refill */
    uint64_t sep;      /* separator bits of block bi not yet walked */
    uint64_t blk_line; /* line number of block bi's first byte */

    /* stage 2 */
    size_t pos;    /* where the next record, or blank lines before it, starts */
    uint64_t line; /* line number of pos */
    uint64_t record;
    bool done;

    struct dl_cursor *cur;
    size_t cur_alloc;
    struct esc *esc;
    size_t nesc, esc_alloc;
    struct dl_buf scratch;
    struct dl_csv *fb; /* the scalar reader behind the last row, when it came from there */
    /* dl_csvfast_next_item */
    uint32_t *ends; /* field ends of a plain record */
    size_t ends_alloc;
    const struct dl_item_csv_header *plain_h; /* the header it was last called with */
    size_t plain_n;                           /* and its column count */
    bool blk_stale; /* blk_line is to be worked out again from line (it skips the popcounts) */
    uint8_t tail[64];
};

static void restart(struct dl_csvfast *r, size_t at, uint64_t line)
{
    r->nb = r->bi = 0;
    r->scan = at;
    r->grow = 1;
    r->sep = 0;
    r->ks.inside = 0;
    r->ks.prev_s = 1;
    r->blk_line = line;
    r->blk_stale = false;
    r->pos = at;
    r->line = line;
}

enum dl_err dl_csvfast_new_range(const uint8_t *p, size_t start, size_t end, uint64_t line,
                                 const struct dl_csv_opts *opts, struct dl_csvfast **out)
{
    enum dl_err rc = DL_OK;
    struct dl_csvfast *r = NULL;
    uint8_t delim = opts && opts->delim ? opts->delim : ',';
    int quote = opts && opts->no_quote ? -1 : opts && opts->quote ? opts->quote : '"';

    *out = NULL;
    if (delim == '\r' || delim == '\n' || delim == quote || quote == '\r' || quote == '\n') {
        rc = DL_ERR_INVALID;
        goto out;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    if (opts)
        r->opts = *opts;
    r->p = p;
    r->len = p ? end : 0;
    if (start > r->len)
        start = r->len;
    r->delim = delim;
    r->quote = quote;
    r->max_record = opts && opts->max_record ? opts->max_record : DL_CSV_DEFAULT_MAX_RECORD;
    r->max_fields = opts && opts->max_fields ? opts->max_fields : DL_CSV_DEFAULT_MAX_FIELDS;
    r->check_utf8 = opts ? opts->check_utf8 : false;
    r->k = dl_csv_kernel(dl_cpu_level());
    r->kp.delim = delim;
    r->kp.quote = quote < 0 ? 0 : (uint8_t)quote;
    r->kp.has_quote = quote >= 0;
    if (start == 0 && r->len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
        r->bom = true;
        start = 3;
    }
    dl_buf_init(&r->scratch, r->max_record);
    restart(r, start, line ? line : 1);
    *out = r;
out:
    return rc;
}

enum dl_err dl_csvfast_new(const uint8_t *p, size_t len, const struct dl_csv_opts *opts,
                           struct dl_csvfast **out)
{
    return dl_csvfast_new_range(p, 0, len, 1, opts, out);
}

void dl_csvfast_destroy(struct dl_csvfast *r)
{
    if (!r)
        return;
    dl_csv_destroy(r->fb);
    free(r->cur);
    free(r->ends);
    free(r->esc);
    dl_buf_free(&r->scratch);
    free(r);
}

enum dl_simd_level dl_csvfast_level(const struct dl_csvfast *r)
{
    return r->k->level;
}

/* Classify the tail of the input, fewer than 64 bytes, into m[i]. */
static void classify_tail(struct dl_csvfast *r, size_t i)
{
    size_t avail = r->len - r->scan;
    /* padded with delimiters: to the masks the end of input then looks like a delimiter,
     * which is how a closing quote or a CR may stand last */
    memset(r->tail, r->delim, sizeof r->tail);
    memcpy(r->tail, r->p + r->scan, avail);
    r->k->classify(r->tail, 1, -1, &r->kp, &r->ks, &r->m[i]);
    uint64_t keep = ((uint64_t)1 << avail) - 1;
    r->m[i].sep &= keep;
    r->m[i].eol &= keep;
    r->m[i].quote &= keep;
    r->m[i].lb &= keep;
    r->m[i].bad &= keep;
    r->m[i].high &= keep;
    r->scan = r->len;
}

/* Classify the next blocks (the input's tail too when the window has room for it); false at
 * the end of input. */
static bool refill(struct dl_csvfast *r)
{
    size_t avail = r->len - r->scan;
    if (avail == 0)
        return false;
    size_t n = avail / 64, grow = r->grow;
    if (n > grow)
        n = grow;
    if (r->grow < WIN)
        r->grow *= 2;
    r->wbase = r->scan;
    r->bi = 0;
    if (n) {
        size_t end = r->scan + 64 * n;
        r->k->classify(r->p + r->scan, n, end < r->len ? r->p[end] : -1, &r->kp, &r->ks, r->m);
        r->scan = end;
    }
    if (n < grow && r->scan < r->len && r->len - r->scan < 64)
        classify_tail(r, n++);
    r->nb = n;
    r->sep = r->m[0].sep;
    return true;
}

/* Line breaks in p[a..e) as the scalar reader counts them. */
static uint64_t count_breaks(const struct dl_csvfast *r, size_t a, size_t e)
{
    uint64_t n = 0;
    for (size_t i = a; i < e; i++) {
        uint8_t c = r->p[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < r->len && r->p[i + 1] == '\n')))
            n++;
    }
    return n;
}

/* The record starting at s (line sline) read by dl_csv; the window restarts after it. */
static enum dl_err fallback(struct dl_csvfast *r, struct dl_csv_row *row, struct dl_pos_err *err, size_t s,
                            uint64_t sline)
{
    static const char unterminated[] = "unterminated quoted field starting at line ";
    const uint8_t *p = r->p;
    /* dl_csv starts at the line break before the record (a blank line to it, which moves it to
     * line 2 with the record's first byte at column 1), or at the very start when the record is
     * the input's first: then it is exactly the sequential reader */
    size_t b = s == 0 || (r->bom && s == 3) ? 0 : s - 1;
    uint64_t adj = b ? sline - 2 : 0; /* add to its line numbers (mod 2^64: its lines are >= 2) */
    enum dl_err rc;

    memset(row, 0, sizeof *row);
    rc = dl_csv_new(p + b, r->len - b, &r->opts, &r->fb);
    if (rc) {
        r->done = true;
        rc = dl_pos_err_set(err, rc, s, sline, 1, "out of memory");
        goto out;
    }
    rc = dl_csv_next(r->fb, row, err);
    if (row->end) { /* cannot happen: there is a record at s */
        r->done = true;
        goto out;
    }
    row->record = ++r->record;
    row->line += adj;
    row->offset += b;
    if (rc) {
        err->offset += b;
        err->line += adj;
        /* the one message that names a line */
        if (b && rc == DL_ERR_PARSE && strncmp(err->msg, unterminated, sizeof unterminated - 1) == 0)
            snprintf(err->msg, sizeof err->msg, "%s%llu column %llu", unterminated,
                     (unsigned long long)err->line, (unsigned long long)err->column);
    }
    size_t e = (size_t)(row->raw.ptr - p) + row->raw.len;
    restart(r, e, sline + count_breaks(r, s, e));
out:
    return rc;
}

static bool grow_fields(struct dl_csvfast *r)
{
    if (r->cur_alloc >= r->max_fields)
        return false;
    size_t na = r->cur_alloc ? r->cur_alloc * 2 : 16;
    if (na > r->max_fields)
        na = r->max_fields;
    struct dl_cursor *c = realloc(r->cur, na * sizeof *c);
    if (!c)
        return false;
    r->cur = c;
    r->cur_alloc = na;
    return true;
}

/* A quoted field's body p[b..e) holds "" pairs: collapse them into scratch. */
static bool unescape(struct dl_csvfast *r, size_t field, const uint8_t *b, size_t n)
{
    if (r->nesc == r->esc_alloc) {
        size_t na = r->esc_alloc ? r->esc_alloc * 2 : 8;
        struct esc *x = realloc(r->esc, na * sizeof *x);
        if (!x)
            return false;
        r->esc = x;
        r->esc_alloc = na;
    }
    if (dl_buf_reserve(&r->scratch, n))
        return false;
    size_t off = r->scratch.len;
    uint8_t *o = r->scratch.data + off;
    const uint8_t q = (uint8_t)r->quote;
    size_t k = 0;
    for (size_t i = 0; i < n;) {
        const uint8_t *at = memchr(b + i, q, n - i);
        size_t run = at ? (size_t)(at - (b + i)) + 1 : n - i; /* up to the first quote of a pair */
        memcpy(o + k, b + i, run);
        k += run;
        i += run + (at != NULL); /* and past the second */
    }
    r->scratch.len += k;
    r->esc[r->nesc].field = field;
    r->esc[r->nesc].off = off;
    r->nesc++;
    r->cur[field].len = k;
    return true;
}

/* Field p[fs..g) of a record the masks describe exactly; quote is the quote mask of the
 * block holding g, which starts at base. cur/cap are the caller's copies of r->cur/r->cur_alloc (kept in registers:
 * stores to a field's length could otherwise alias r->cur_alloc). False: fall back. */
static inline __attribute__((always_inline)) bool add_field(struct dl_csvfast *r, struct dl_cursor **cur,
                                                            size_t *cap, size_t *nf, size_t fs, size_t g,
                                                            uint64_t quote, size_t base)
{
    if (*nf == *cap) {
        if (!grow_fields(r))
            return false;
        *cur = r->cur;
        *cap = r->cur_alloc;
    }
    const uint8_t *fp = r->p + fs;
    size_t n = g - fs;
    struct dl_cursor *c = &(*cur)[*nf];
    size_t off = fs - base; /* huge when the field began in an earlier block */
    if (off < 64 && !quote) {
        c->ptr = fp;
        c->len = n;
    } else if (off < 64) {
        /* branch-free: a quoted field drops its quotes (the closing one is p[g-1]); quote bits
         * strictly inside a field can only be "" pairs of a quoted one */
        uint64_t q = n ? (quote >> off) & 1 : 0;
        c->ptr = fp + q;
        c->len = n - 2 * q;
        if (n >= 2 && (quote & ((((uint64_t)1 << (g - 1 - base)) - 1) & ~(((uint64_t)2 << off) - 1))) &&
            !unescape(r, *nf, fp + 1, n - 2))
            return false;
    } else if (n && (int)*fp == r->quote) {
        fp++;
        n -= 2;
        c->ptr = fp;
        c->len = n;
        if (n && memchr(fp, r->quote, n) && !unescape(r, *nf, fp, n))
            return false;
    } else {
        c->ptr = fp;
        c->len = n;
    }
    (*nf)++;
    return true;
}

static inline uint64_t bits_from(size_t lo)
{
    return lo >= 64 ? 0 : ~(uint64_t)0 << lo;
}

/* The record p[s..e) with nf fields is complete and its masks were clean. */
static enum dl_err finish(struct dl_csvfast *r, struct dl_csv_row *row, struct dl_pos_err *err, size_t s,
                          size_t e, uint64_t sline, size_t nf, bool high)
{
    if (e - s > r->max_record || (high && r->check_utf8 && !r->k->utf8_valid(r->p + s, e - s, r->len - s)))
        return fallback(r, row, err, s, sline);
    for (size_t i = 0; i < r->nesc; i++)
        r->cur[r->esc[i].field].ptr = r->scratch.data + r->esc[i].off;
    row->nfields = nf;
    row->fields = r->cur;
    row->record = ++r->record;
    row->line = sline;
    row->offset = s;
    row->raw = dl_cursor_of(r->p + s, e - s);
    return DL_OK;
}

enum dl_err dl_csvfast_next(struct dl_csvfast *r, struct dl_csv_row *row, struct dl_pos_err *err)
{
    size_t s, fs, nf = 0;
    uint64_t sline;
    bool high = false;
    struct dl_cursor *cur = r->cur;
    size_t cap = r->cur_alloc;

    memset(row, 0, sizeof *row);
    if (r->fb) {
        dl_csv_destroy(r->fb);
        r->fb = NULL;
    }
    if (r->done) {
        row->end = true;
        return DL_OK;
    }
    if (r->blk_stale && r->bi < r->nb) {
        /* dl_csvfast_next_item left the reader at pos, in block bi, with line right */
        size_t base = r->wbase + 64 * r->bi;
        r->blk_line = r->line - dl_popcount64(r->m[r->bi].lb & ~bits_from(r->pos - base));
    }
    r->blk_stale = false;
    s = fs = r->pos;
    sline = r->line;
    r->nesc = 0;
    dl_buf_reset(&r->scratch);

    for (;;) {
        if (r->bi == r->nb && !refill(r))
            break;
        const struct dl_csv_masks *m = &r->m[r->bi];
        const size_t base = r->wbase + 64 * r->bi;
        const uint64_t quote = m->quote, eolm = m->eol;
        uint64_t sep = r->sep;
        /* the masks are exact up to the first bad quote: the record that holds it (the one
         * open when the separators before it run out) goes to the scalar reader */
        if (m->bad)
            sep &= ((uint64_t)1 << __builtin_ctzll(m->bad)) - 1;
        while (sep) {
            unsigned t = (unsigned)__builtin_ctzll(sep);
            sep &= sep - 1;
            size_t g = base + t;
            if (!((eolm >> t) & 1)) { /* a delimiter */
                if (!add_field(r, &cur, &cap, &nf, fs, g, quote, base))
                    return fallback(r, row, err, s, sline);
                fs = g + 1;
                continue;
            }
            uint64_t upto = ((uint64_t)2 << t) - 1; /* bits 0..t */
            if (g == s) { /* a blank line */
                s = fs = g + 1;
                sline = r->blk_line + dl_popcount64(m->lb & upto);
                continue;
            }
            if (!add_field(r, &cur, &cap, &nf, fs, g, quote, base))
                return fallback(r, row, err, s, sline);
            /* the record ends at the line break g */
            if (r->check_utf8 && !high) {
                size_t lo = s > base ? s - base : 0;
                high = (m->high & bits_from(lo) & (((uint64_t)1 << t) - 1)) != 0;
            }
            r->sep &= ~upto;
            r->pos = g + 1;
            r->line = r->blk_line + dl_popcount64(m->lb & upto);
            return finish(r, row, err, s, g, sline, nf, high);
        }
        /* off the end of the block with a record open (or none begun yet) */
        size_t blk_end = base + 64 < r->len ? base + 64 : r->len;
        if (s < blk_end) {
            if (m->bad || blk_end - s > r->max_record)
                return fallback(r, row, err, s, sline);
            if (r->check_utf8 && !high)
                high = (m->high & bits_from(s > base ? s - base : 0)) != 0;
        }
        r->blk_line += dl_popcount64(m->lb);
        r->bi++;
        if (r->bi < r->nb)
            r->sep = r->m[r->bi].sep;
    }

    /* end of input */
    if (s >= r->len) {
        r->done = true;
        r->pos = r->len;
        row->end = true;
        return DL_OK;
    }
    if (r->ks.inside) /* unterminated quoted field */
        return fallback(r, row, err, s, sline);
    if (!add_field(r, &cur, &cap, &nf, fs, r->len, r->m[r->nb - 1].quote, r->wbase + 64 * (r->nb - 1)))
        return fallback(r, row, err, s, sline);
    r->pos = r->len;
    return finish(r, row, err, s, r->len, sline, nf, high);
}

/* ---- records straight to items
 * A record whose bytes the window's masks show without a quote or a byte >= 0x80, ending
 * in a line break inside the window, is exactly its delimiter bits: no field needs
 * unquoting, no UTF-8 needs validating, and dl_csv would read the same fields. Its field
 * ends go to dl_item_from_csv_plain without making a row. The walk works on copies of the
 * reader's position and commits only when the record is complete, so a record that turns
 * out otherwise is read by dl_csvfast_next from where it began. A record that runs past the
 * window's end has the window moved to its first byte (a record start is outside quotes
 * and after a line break, so classifying can start there) and is tried once more. */

static bool grow_ends(struct dl_csvfast *r, size_t n)
{
    uint32_t *e = realloc(r->ends, n * sizeof *e);
    if (!e)
        return false;
    r->ends = e;
    r->ends_alloc = n;
    return true;
}

/* The row of a plain record the builder did not take: its fields from the ends. */
static enum dl_err plain_row(struct dl_csvfast *r, struct dl_csv_row *row, const uint8_t *rec, size_t n)
{
    while (r->cur_alloc < n)
        if (!grow_fields(r))
            return DL_ERR_NOMEM;
    for (size_t i = 0, start = 0; i < n; i++) {
        r->cur[i] = dl_cursor_of(rec + start, r->ends[i] - start);
        start = r->ends[i] + 1;
    }
    row->fields = r->cur;
    return DL_OK;
}

enum dl_err dl_csvfast_next_item(struct dl_csvfast *r, const struct dl_item_csv_header *h, struct dl_item *it,
                                 struct dl_csv_row *row, struct dl_pos_err *err, bool *built)
{
    *built = false;
    if (h != r->plain_h) {
        r->plain_h = h;
        r->plain_n = dl_item_csv_header_columns(h);
    }
    const size_t n = r->plain_n;
    if (r->fb || r->done || n == 0 || n > r->max_fields || (n > r->ends_alloc && !grow_ends(r, n)))
        return dl_csvfast_next(r, row, err);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (r->bi == r->nb && !refill(r))
            break;
        size_t s = r->pos, bi = r->bi, nf = 0;
        uint64_t sline = r->line, sep = r->sep;
        uint32_t *ends = r->ends;
        for (;;) {
            const struct dl_csv_masks *m = &r->m[bi];
            const size_t base = r->wbase + 64 * bi;
            const uint64_t eol = sep & m->eol;
            const unsigned t = eol ? (unsigned)__builtin_ctzll(eol) : 64;
            const uint64_t before = t < 64 ? ((uint64_t)1 << t) - 1 : ~(uint64_t)0; /* bits below the end */
            if ((m->quote | m->high) & bits_from(s > base ? s - base : 0) & before)
                goto slow; /* a quote or a byte >= 0x80 in the record */
            if (t < 64 && base + t == s) { /* a blank line (or the LF of a CRLF) before the record */
                s++;
                sline += (m->lb >> t) & 1;
                sep &= sep - 1;
                continue;
            }
            for (uint64_t d = sep & before; d; d &= d - 1) {
                if (nf == n)
                    goto slow; /* too many fields: the row path reports it */
                ends[nf++] = (uint32_t)(base + (size_t)__builtin_ctzll(d) - s);
            }
            if (t < 64) {
                const size_t g = base + t;
                if (nf + 1 != n || g - s > r->max_record)
                    goto slow;
                ends[nf] = (uint32_t)(g - s);
                /* no line break inside the record (it has no quotes): the next line is one on
                 * when its terminator counts as a break (not the CR of a CRLF) */
                r->bi = bi;
                r->sep = sep & ~(((uint64_t)2 << t) - 1); /* the bits after the end */
                r->pos = g + 1;
                r->line = sline + ((m->lb >> t) & 1);
                r->blk_stale = true;
                row->end = false;
                row->nfields = n;
                row->fields = NULL;
                row->record = ++r->record;
                row->line = sline;
                row->offset = s;
                row->raw = dl_cursor_of(r->p + s, g - s);
                if (dl_item_from_csv_plain(it, h, r->p + s, g - s, ends, r->delim, r->len - s)) {
                    *built = true;
                    return DL_OK;
                }
                return plain_row(r, row, r->p + s, n);
            }
            /* the record goes on in the next block */
            if (++bi == r->nb)
                break;
            sep = r->m[bi].sep;
        }
        /* off the window's end: move the window to the record (blank lines passed), once;
         * the input's last record, without a line break, is the row path's */
        if (attempt || r->scan >= r->len || s >= r->len)
            break;
        restart(r, s, sline);
        r->grow = WIN;
    }
slow:
    return dl_csvfast_next(r, row, err);
}
