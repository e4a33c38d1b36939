/* JSON record reader, scalar reference. Each record is parsed by dl_json_parse_value on a
 * slice that starts at the record's first byte (so the parser's positions are moved by the
 * slice's start) and ends at the end of input, or at the end of the line in line-delimited
 * reading. Lines are located through a cursor that only moves forward, so positions cost
 * O(input) over the whole run. */
#include "decode/jsonrec.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dl_jsonrec {
    const uint8_t *p;
    size_t len;
    size_t pos;             /* where reading goes on */
    enum dl_jsonrec_mode mode;
    bool bom;
    bool done;
    uint64_t record;        /* records handed out so far */
    uint64_t nvalues;       /* top-level values started */

    /* a top-level array being read element by element */
    bool in_array;
    bool need_sep;          /* an element was read: ',' or ']' comes next */
    size_t arr_start;
    uint64_t arr_line, arr_col;
    size_t arr_lim;         /* elements are parsed up to here */
    uint64_t nelem;

    /* line-delimited detection (AUTO) */
    bool ld;
    bool first_done;        /* the first top-level value completed */
    bool first_single_line; /* ... and started and ended on one line */
    uint64_t prev_end_line; /* line where the last completed top-level value ended; 0 = none */

    /* forward-only line cursor: lc_line is the line of offset lc_off, which starts at lc_ls */
    size_t lc_off;
    uint64_t lc_line;
    size_t lc_ls;

    struct dl_arena *scratch; /* for re-parsing a failed value up to its line's end */
};

enum dl_err dl_jsonrec_new(const uint8_t *p, size_t len, enum dl_jsonrec_mode mode,
                           struct dl_jsonrec **out)
{
    enum dl_err rc = DL_OK;
    struct dl_jsonrec *r = NULL;
    *out = NULL;
    if (mode != DL_JSONREC_AUTO && mode != DL_JSONREC_JSON && mode != DL_JSONREC_NDJSON) {
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
    *out = r;
out:
    return rc;
}

void dl_jsonrec_destroy(struct dl_jsonrec *r)
{
    if (!r)
        return;
    dl_arena_destroy(r->scratch);
    free(r);
}

/* ---- positions --------------------------------------------------------------------------- */

static void locate(struct dl_jsonrec *r, size_t off, uint64_t *line, uint64_t *col)
{
    if (off < r->lc_off) { /* not expected; stay correct anyway */
        r->lc_off = 0;
        r->lc_line = 1;
        r->lc_ls = 0;
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

/* Offset of the '\n' ending the line that holds off, or len. */
static size_t eol(const struct dl_jsonrec *r, size_t off)
{
    if (off >= r->len)
        return r->len;
    const uint8_t *nl = memchr(r->p + off, '\n', r->len - off);
    return nl ? (size_t)(nl - r->p) : r->len;
}

static size_t after_eol(const struct dl_jsonrec *r, size_t e)
{
    return e < r->len ? e + 1 : r->len;
}

/* A line's text without its "\r". */
static size_t trim_cr(const struct dl_jsonrec *r, size_t s, size_t e)
{
    if (e > s && r->p[e - 1] == '\r')
        e--;
    return e;
}

static inline bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const struct dl_jsonrec *r, size_t i, size_t lim)
{
    while (i < lim && is_ws(r->p[i]))
        i++;
    return i;
}

static bool at_line_start(const struct dl_jsonrec *r, size_t s, uint64_t col)
{
    return col == 1 || (r->bom && s == 3);
}

/* The parser's error on a slice starting at base (line bl, column bc) moved to the whole input. */
static void move_err(struct dl_pos_err *err, size_t base, uint64_t bl, uint64_t bc)
{
    if (err->line == 1)
        err->column += bc - 1;
    err->line += bl - 1;
    err->offset += base;
}

static void set_err(struct dl_jsonrec *r, struct dl_pos_err *err, enum dl_err code, size_t at,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_err(struct dl_jsonrec *r, struct dl_pos_err *err, enum dl_err code, size_t at,
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

static void describe(const struct dl_jsonrec *r, size_t i, char *buf, size_t n)
{
    if (i >= r->len)
        snprintf(buf, n, "end of input");
    else if (r->p[i] > 0x20 && r->p[i] < 0x7F)
        snprintf(buf, n, "'%c'", r->p[i]);
    else
        snprintf(buf, n, "byte 0x%02X", r->p[i]);
}

/* ---- records ------------------------------------------------------------------------------ */

static void begin(struct dl_jsonrec *r, struct dl_jsonrec_out *out, size_t s, size_t e)
{
    out->record = ++r->record;
    out->offset = s;
    locate(r, s, &out->line, &out->column);
    out->raw = dl_cursor_of(r->p + s, e - s);
}

/* Line-delimited input? (AUTO's rules (a)..(d) in the header; NDJSON: always.) */
static bool line_delimited(struct dl_jsonrec *r, size_t s, uint64_t line, uint64_t col)
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
        for (;;) { /* next non-blank line */
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

/* Report a syntax error of the value starting at s, parsed with limit lim, as an ERROR
 * up to the end of s's line (line-delimited) or as FATAL. perr holds the parser's error,
 * already moved to input positions. */
static enum dl_jsonrec_status value_failed(struct dl_jsonrec *r, struct dl_jsonrec_out *out,
                                           struct dl_pos_err *err, size_t s, size_t lim,
                                           bool ld)
{
    if (!ld) {
        begin(r, out, s, r->len);
        r->done = true;
        return DL_JSONREC_FATAL;
    }
    size_t e = eol(r, s);
    if (lim > e) {
        /* parsed past the line: re-parse up to the end of the line for the error there */
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
                /* cannot happen (a prefix that parses parses the same in full); keep the
                 * original error and skip to its line instead */
                e = eol(r, (size_t)err->offset);
            }
            dl_arena_reset(r->scratch);
        }
    }
    begin(r, out, s, trim_cr(r, s, e));
    r->pos = after_eol(r, e);
    return DL_JSONREC_ERROR;
}

/* A top-level value that started at s (line sl, column sc) ended just before end. */
static void note_completed(struct dl_jsonrec *r, size_t s, uint64_t sl, uint64_t sc, size_t end)
{
    uint64_t el, ec;
    locate(r, end - 1, &el, &ec);
    if (!r->first_done) {
        r->first_done = true;
        r->first_single_line = sl == el && at_line_start(r, s, sc);
    }
    r->prev_end_line = el;
}

/* One step inside a top-level array. Returns true with *st set when a record (or END/FATAL)
 * is ready, false when the array closed and the caller should go on. */
static bool array_step(struct dl_jsonrec *r, struct dl_arena *a, struct dl_jsonrec_out *out,
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
        set_err(r, err, DL_ERR_PARSE, i, "unexpected end of %s",
                ndjson && lim < r->len ? "line" : "input");
        goto syntax;
    }

    {
        uint64_t bl, bc;
        size_t used = 0;
        struct dl_json *v = NULL;
        locate(r, i, &bl, &bc);
        if (dl_json_parse_value(a, r->p + i, lim - i, &used, &v, err) != DL_OK) {
            move_err(err, i, bl, bc);
            goto syntax;
        }
        r->nelem++;
        r->need_sep = true;
        r->pos = i + used;
        begin(r, out, i, i + used);
        if (v->type == DL_JSON_OBJECT) {
            out->value = v;
            *st = DL_JSONREC_ITEM;
        } else {
            dl_pos_err_set(err, DL_ERR_PARSE, i, bl, bc,
                           "array element %llu is not an object (found %s)",
                           (unsigned long long)r->nelem, dl_json_type_name(v->type));
            *st = DL_JSONREC_ERROR;
        }
        return true;
    }

syntax:
    r->in_array = false;
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

enum dl_jsonrec_status dl_jsonrec_next(struct dl_jsonrec *r, struct dl_arena *a,
                                       struct dl_jsonrec_out *out, struct dl_pos_err *err)
{
    enum dl_jsonrec_status st = DL_JSONREC_END;
    struct dl_pos_err dummy;
    if (!err)
        err = &dummy;
    memset(out, 0, sizeof *out);
    dl_pos_err_clear(err);

    while (!r->done) {
        if (r->in_array) {
            if (array_step(r, a, out, err, &st))
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
        size_t lim = r->mode == DL_JSONREC_NDJSON ? eol(r, s) : r->len;
        if (r->p[s] == '[') {
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
        struct dl_json *v = NULL;
        locate(r, s, &line, &col);
        if (dl_json_parse_value(a, r->p + s, lim - s, &used, &v, err) != DL_OK) {
            move_err(err, s, line, col);
            st = value_failed(r, out, err, s, lim, line_delimited(r, s, line, col));
            goto out;
        }
        r->pos = s + used;
        begin(r, out, s, s + used);
        note_completed(r, s, line, col, s + used);
        if (v->type == DL_JSON_OBJECT) {
            out->value = v;
            st = DL_JSONREC_ITEM;
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
