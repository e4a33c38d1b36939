/* RFC 4180 reader, scalar reference. One left-to-right pass per record: a small state
 * machine finds the record's end (quote-aware, counting line breaks inside quotes) and,
 * unless the record is already known to be bad, records where each field lies. Fields
 * with doubled quotes are copied into scratch with the pairs collapsed; every other
 * field is a view of the input. */
#include "decode/csv.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h" /* dl_utf8_valid, dl_utf8_describe */

struct fld {
    size_t off; /* into the input, or into scratch when in_scratch */
    size_t len;
    bool in_scratch;
};

struct dl_csv {
    const uint8_t *p;
    size_t len;
    size_t pos;        /* start of the next record (or of blank lines before it) */
    uint8_t delim;
    int quote;         /* -1: quoting off */
    size_t max_record;
    size_t max_fields;
    bool check_utf8;
    bool done;

    uint64_t line;     /* line number of the byte at pos */
    size_t line_start; /* offset of the first byte of that line */
    uint64_t record;

    struct fld *flds;
    size_t nflds, flds_alloc;
    struct dl_cursor *cur;
    size_t cur_alloc;
    struct dl_buf scratch;
};

enum state { ST_START, ST_UNQUOTED, ST_QUOTED, ST_AFTER_QUOTE };

/* What went wrong with the record being scanned (the first problem only). */
struct problem {
    enum dl_err code;  /* DL_OK: none */
    size_t at;
    uint64_t line;
    uint64_t col;
    char msg[160];
};

enum dl_err dl_csv_new(const uint8_t *p, size_t len, const struct dl_csv_opts *opts,
                       struct dl_csv **out)
{
    enum dl_err rc = DL_OK;
    struct dl_csv *r = NULL;
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
    r->p = p;
    r->len = p ? len : 0;
    r->delim = delim;
    r->quote = quote;
    r->max_record = opts && opts->max_record ? opts->max_record : DL_CSV_DEFAULT_MAX_RECORD;
    r->max_fields = opts && opts->max_fields ? opts->max_fields : DL_CSV_DEFAULT_MAX_FIELDS;
    r->check_utf8 = opts ? opts->check_utf8 : false;
    r->line = 1;
    if (r->len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        r->pos = 3;
    dl_buf_init(&r->scratch, r->max_record);
    *out = r;
out:
    return rc;
}

void dl_csv_destroy(struct dl_csv *r)
{
    if (!r)
        return;
    free(r->flds);
    free(r->cur);
    dl_buf_free(&r->scratch);
    free(r);
}

static void problem_set(struct problem *pb, enum dl_err code, size_t at, uint64_t line,
                        uint64_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void problem_set(struct problem *pb, enum dl_err code, size_t at, uint64_t line,
                        uint64_t col, const char *fmt, ...)
{
    pb->code = code;
    pb->at = at;
    pb->line = line;
    pb->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pb->msg, sizeof pb->msg, fmt, ap);
    va_end(ap);
}

static void describe_byte(uint8_t c, char *buf, size_t n)
{
    if (c > 0x20 && c < 0x7F && c != '\'')
        snprintf(buf, n, "'%c'", c);
    else if (c == ' ')
        snprintf(buf, n, "' '");
    else
        snprintf(buf, n, "byte 0x%02X", c);
}

/* Add a field; on failure the problem is recorded and false returned. */
static bool add_field(struct dl_csv *r, struct problem *pb, size_t off, size_t len,
                      bool in_scratch, size_t at, uint64_t line, uint64_t col)
{
    if (r->nflds == r->max_fields) {
        problem_set(pb, DL_ERR_TOO_LARGE, at, line, col, "record has more than %zu fields",
                    r->max_fields);
        return false;
    }
    if (r->nflds == r->flds_alloc) {
        size_t na = r->flds_alloc ? r->flds_alloc * 2 : 16;
        if (na > r->max_fields)
            na = r->max_fields;
        struct fld *f = realloc(r->flds, na * sizeof *f);
        if (!f) {
            problem_set(pb, DL_ERR_NOMEM, at, line, col, "out of memory");
            return false;
        }
        r->flds = f;
        r->flds_alloc = na;
    }
    r->flds[r->nflds].off = off;
    r->flds[r->nflds].len = len;
    r->flds[r->nflds].in_scratch = in_scratch;
    r->nflds++;
    return true;
}

/* The quoted field body p[b..e) with doubled quotes collapsed, into scratch. */
static bool add_unescaped(struct dl_csv *r, struct problem *pb, size_t b, size_t e, size_t at,
                          uint64_t line, uint64_t col)
{
    size_t off = r->scratch.len;
    enum dl_err rc = dl_buf_reserve(&r->scratch, e - b);
    if (rc) {
        problem_set(pb, rc, at, line, col, "%s",
                    rc == DL_ERR_NOMEM ? "out of memory" : "record too large");
        return false;
    }
    uint8_t *o = r->scratch.data + off;
    size_t n = 0;
    for (size_t i = b; i < e; i++) {
        o[n++] = r->p[i];
        if (r->p[i] == (uint8_t)r->quote)
            i++; /* the second quote of the pair */
    }
    r->scratch.len += n;
    r->scratch.data[r->scratch.len] = 0;
    return add_field(r, pb, off, n, true, at, line, col);
}

/* Line and column of p[at], counting from a known (offset, line, line_start) before it. */
static void locate(const struct dl_csv *r, size_t from, uint64_t line, size_t line_start,
                   size_t at, uint64_t *out_line, uint64_t *out_col)
{
    for (size_t i = from; i < at; i++) {
        uint8_t c = r->p[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < r->len && r->p[i + 1] == '\n'))) {
            line++;
            line_start = i + 1;
        }
    }
    *out_line = line;
    *out_col = at - line_start + 1;
}

enum dl_err dl_csv_next(struct dl_csv *r, struct dl_csv_row *row, struct dl_pos_err *err)
{
    enum dl_err rc = DL_OK;
    const uint8_t *p = r->p;
    size_t len = r->len;
    struct problem pb;

    memset(row, 0, sizeof *row);
    pb.code = DL_OK;

    /* blank lines */
    while (!r->done && r->pos < len && (p[r->pos] == '\n' || p[r->pos] == '\r')) {
        r->pos += (p[r->pos] == '\r' && r->pos + 1 < len && p[r->pos + 1] == '\n') ? 2 : 1;
        r->line++;
        r->line_start = r->pos;
    }
    if (r->done || r->pos >= len) {
        r->done = true;
        row->end = true;
        goto out;
    }

    const size_t s = r->pos;
    const uint64_t start_line = r->line;
    const size_t start_line_start = r->line_start;
    uint64_t line = r->line;
    size_t line_start = r->line_start;
    const int q = r->quote;
    const uint8_t d = r->delim;
    enum state st = ST_START;
    size_t fs = s;               /* start of the current unquoted field */
    size_t qopen = 0, qclose = 0;
    uint64_t qline = 0, qcol = 0;
    bool dq = false;             /* current quoted field holds doubled quotes */
    bool collect = true;         /* false once the record is known to be bad */
    bool unterminated = false;
    size_t i = s;

    r->nflds = 0;
    dl_buf_reset(&r->scratch);

    for (;;) {
        if (collect && i - s > r->max_record) {
            problem_set(&pb, DL_ERR_TOO_LARGE, s, start_line, s - start_line_start + 1,
                        "record larger than %zu bytes", r->max_record);
            collect = false;
        }
        if (i >= len)
            break;
        uint8_t c = p[i];
        if (st == ST_QUOTED) {
            if ((int)c == q) {
                if (i + 1 < len && (int)p[i + 1] == q) {
                    dq = true;
                    i += 2;
                } else {
                    qclose = i;
                    st = ST_AFTER_QUOTE;
                    i++;
                }
            } else if (c == '\n') {
                i++;
                line++;
                line_start = i;
            } else if (c == '\r') {
                i += (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
                line++;
                line_start = i;
            } else {
                i++;
                while (i < len && (int)p[i] != q && p[i] != '\n' && p[i] != '\r')
                    i++;
            }
            continue;
        }
        if (st == ST_UNQUOTED) {
            while (i < len && p[i] != d && p[i] != '\n' && p[i] != '\r')
                i++;
            if (i >= len)
                continue; /* size check, then end of input */
            c = p[i];
        }
        bool delim = c == d;
        bool eol = c == '\n' || c == '\r';
        if (st == ST_START) {
            if ((int)c == q) {
                st = ST_QUOTED;
                qopen = i;
                qline = line;
                qcol = i - line_start + 1;
                dq = false;
                i++;
                continue;
            }
            if (!delim && !eol) {
                st = ST_UNQUOTED;
                fs = i;
                i++;
                continue;
            }
            if (collect && !add_field(r, &pb, i, 0, false, i, line, i - line_start + 1))
                collect = false;
        } else if (st == ST_UNQUOTED) {
            if (collect && !add_field(r, &pb, fs, i - fs, false, fs, line, fs - line_start + 1))
                collect = false;
        } else { /* ST_AFTER_QUOTE */
            if (!delim && !eol) {
                if (collect) {
                    char what[16];
                    describe_byte(c, what, sizeof what);
                    problem_set(&pb, DL_ERR_PARSE, i, line, i - line_start + 1,
                                "unexpected character %s after closing quote", what);
                    collect = false;
                }
                st = ST_UNQUOTED;
                i++;
                continue;
            }
            if (collect) {
                bool ok = dq ? add_unescaped(r, &pb, qopen + 1, qclose, qopen, qline, qcol)
                             : add_field(r, &pb, qopen + 1, qclose - qopen - 1, false, qopen, qline,
                                         qcol);
                if (!ok)
                    collect = false;
            }
        }
        if (eol)
            break;
        st = ST_START;
        i++; /* past the delimiter */
    }

    /* end of input inside the record: close the last field */
    if (i >= len) {
        if (st == ST_QUOTED) {
            unterminated = true;
            problem_set(&pb, DL_ERR_PARSE, qopen, qline, qcol,
                        "unterminated quoted field starting at line %llu column %llu",
                        (unsigned long long)qline, (unsigned long long)qcol);
            collect = false;
        } else if (collect) {
            bool ok = true;
            if (st == ST_START)
                ok = add_field(r, &pb, i, 0, false, i, line, i - line_start + 1);
            else if (st == ST_UNQUOTED)
                ok = add_field(r, &pb, fs, i - fs, false, fs, line, fs - line_start + 1);
            else if (dq)
                ok = add_unescaped(r, &pb, qopen + 1, qclose, qopen, qline, qcol);
            else
                ok = add_field(r, &pb, qopen + 1, qclose - qopen - 1, false, qopen, qline, qcol);
            if (!ok)
                collect = false;
        }
    }

    size_t rec_end = i;
    if (collect && rec_end - s > r->max_record) {
        problem_set(&pb, DL_ERR_TOO_LARGE, s, start_line, s - start_line_start + 1,
                    "record larger than %zu bytes", r->max_record);
        collect = false;
    }
    r->record++;
    row->record = r->record;
    row->line = start_line;
    row->offset = s;
    row->raw = dl_cursor_of(p + s, rec_end - s);

    if (pb.code == DL_OK && r->check_utf8) {
        size_t bad;
        if (!dl_utf8_valid(p + s, rec_end - s, &bad)) {
            uint64_t bl, bc;
            char msg[128];
            locate(r, s, start_line, start_line_start, s + bad, &bl, &bc);
            dl_utf8_describe(p, len, s + bad, msg, sizeof msg);
            problem_set(&pb, DL_ERR_PARSE, s + bad, bl, bc, "%s", msg);
        }
    }

    /* step past the terminator */
    if (rec_end < len) {
        r->pos = rec_end + ((p[rec_end] == '\r' && rec_end + 1 < len && p[rec_end + 1] == '\n') ? 2 : 1);
        r->line = line + 1;
        r->line_start = r->pos;
    } else {
        r->pos = len;
        r->line = line;
        r->line_start = line_start;
    }
    if (unterminated)
        r->done = true;

    if (pb.code != DL_OK) {
        rc = dl_pos_err_set(err, pb.code, pb.at, pb.line, pb.col, "%s", pb.msg);
        goto out;
    }

    if (r->cur_alloc < r->nflds) {
        struct dl_cursor *c = realloc(r->cur, r->flds_alloc * sizeof *c);
        if (!c) {
            rc = dl_pos_err_set(err, DL_ERR_NOMEM, s, start_line, s - start_line_start + 1,
                                "out of memory");
            goto out;
        }
        r->cur = c;
        r->cur_alloc = r->flds_alloc;
    }
    for (size_t k = 0; k < r->nflds; k++) {
        const uint8_t *base = r->flds[k].in_scratch ? r->scratch.data : p;
        r->cur[k] = dl_cursor_of(base + r->flds[k].off, r->flds[k].len);
    }
    row->nfields = r->nflds;
    row->fields = r->cur;
out:
    return rc;
}
