#include "decode/decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/log.h"
#include "core/spill.h"
#include "decode/chunked.h"
#include "decode/csv.h"
#include "decode/csvfast.h"
#include "decode/jsonfast.h"
#include "decode/jslit.h"
#include "decode/jsonrec.h"
#include "decode/manifest.h"

#define MAX_NESTING 4 /* zip in gzip in zip ... deeper than this is refused */

struct dl_decoder {
    struct dl_decode_opts o;
    struct dl_arena *arena;
    struct dl_item item;
    /* views that may be mapped files: the object's own (set by the caller) and those of
     * decompressed contents; pages behind the decoding position are given back */
    struct dl_spill *spills[MAX_NESTING + 2];
    int nspills;
    const struct dl_transform *xf;    /* NULL: no transforms (items are built under ks directly) */
    char *bucket, *key, *etag;        /* the object, for the transforms' templates */
    const struct dl_cursor *names;    /* the current CSV header (for errors that name a column) */
    size_t nnames;
    int threads;                      /* decoding threads for large objects (1: none) */
};

/* Builders run without a key schema when transforms follow: the transform makes the final item. */
static const struct dl_key_schema no_keys;

static const struct dl_key_schema *build_ks(const struct dl_decoder *d)
{
    return d->xf ? &no_keys : d->o.ks;
}

enum dl_err dl_decoder_set_object(struct dl_decoder *d, const char *bucket, const char *key, const char *etag)
{
    char *b = strdup(bucket ? bucket : ""), *k = strdup(key ? key : "");
    const char *t = etag ? etag : "";
    size_t tl = strlen(t);
    if (tl >= 2 && t[0] == '"' && t[tl - 1] == '"') /* S3 sends ETags quoted; {etag} is the bare value */
        t++, tl -= 2;
    char *e = strndup(t, tl);
    if (!b || !k || !e) {
        free(b), free(k), free(e);
        return DL_ERR_NOMEM;
    }
    free(d->bucket), free(d->key), free(d->etag);
    d->bucket = b, d->key = k, d->etag = e;
    return DL_OK;
}

void dl_decoder_set_spill(struct dl_decoder *d, struct dl_spill *s)
{
    d->spills[0] = s;
    d->nspills = s ? 1 : 0;
}

/* Everything before p has been decoded. */
static void consumed(struct dl_decoder *d, const uint8_t *p)
{
    for (int i = 0; i < d->nspills; i++)
        if (d->spills[i])
            dl_spill_release(d->spills[i], p);
}

/* dl_pos_err_clear without zeroing all of msg (a record costs less than clearing 280 bytes
 * three times): everything here reads msg as a string. */
static inline void pe_reset(struct dl_pos_err *e)
{
    e->code = DL_OK;
    e->offset = e->line = e->column = 0;
    e->msg[0] = 0;
}

/* Where we are: the object and, inside a zip, the entry (and its manifest's table). */
struct place {
    const char *source;
    const char *entry;
    const char *table;
};

/* Threads for large objects: 0 = the online CPUs, at most 8; negative = 1 (none). */
static int par_threads(const struct dl_decode_opts *o)
{
    if (o->threads > 0)
        return o->threads < 64 ? o->threads : 64;
    if (o->threads < 0)
        return 1;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 8 ? 8 : (int)n;
}

struct dl_decoder *dl_decoder_new(const struct dl_decode_opts *o)
{
    struct dl_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *o;
    d->xf = o->xform && !dl_transform_is_empty(o->xform) ? o->xform : NULL;
    d->threads = par_threads(o);
    if (!d->o.max_expanded)
        d->o.max_expanded = (uint64_t)64 << 30;
    if (!d->o.spill_mem)
        d->o.spill_mem = (size_t)64 << 20;
    d->arena = dl_arena_new(0, (size_t)512 << 20);
    if (!d->arena) {
        free(d);
        return NULL;
    }
    dl_item_init(&d->item);
    return d;
}

void dl_decoder_destroy(struct dl_decoder *d)
{
    if (!d)
        return;
    dl_arena_destroy(d->arena);
    dl_item_free(&d->item);
    free(d->bucket), free(d->key), free(d->etag);
    free(d);
}

/* "s3://b/k.zip entry data/x.csv line 3 column 7: " */
static void where(char *out, size_t n, const struct place *pl, uint64_t line, uint64_t col)
{
    int k = snprintf(out, n, "%s", pl->source);
    if (pl->entry && k >= 0 && (size_t)k < n)
        k += snprintf(out + k, n - (size_t)k, " entry %s", pl->entry);
    if (line && k >= 0 && (size_t)k < n)
        k += snprintf(out + k, n - (size_t)k, " line %llu", (unsigned long long)line);
    if (col && k >= 0 && (size_t)k < n)
        snprintf(out + k, n - (size_t)k, " column %llu", (unsigned long long)col);
}

static enum dl_err reject(const struct dl_decode_sink *sink, struct dl_decode_stats *st, const struct place *pl,
                          uint64_t record, uint64_t line, uint64_t col, struct dl_cursor raw, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static enum dl_err reject(const struct dl_decode_sink *sink, struct dl_decode_stats *st, const struct place *pl,
                          uint64_t record, uint64_t line, uint64_t col, struct dl_cursor raw, const char *fmt, ...)
{
    char msg[1024], at[600];
    where(at, sizeof at, pl, line, col);
    int k = snprintf(msg, sizeof msg, "%s: ", at);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < sizeof msg)
        vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    struct dl_origin o = { pl->source, pl->entry, record, line, col, pl->table, 0 };
    st->records++;
    st->rejected++;
    return sink->reject(sink->ctx, &o, msg, raw);
}

static enum dl_err skip(const struct dl_decode_sink *sink, struct dl_decode_stats *st, const struct place *pl,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum dl_err skip(const struct dl_decode_sink *sink, struct dl_decode_stats *st, const struct place *pl,
                        const char *fmt, ...)
{
    char msg[1024], at[600];
    where(at, sizeof at, pl, 0, 0);
    int k = snprintf(msg, sizeof msg, "%s: ", at);
    va_list ap;
    va_start(ap, fmt);
    if (k >= 0 && (size_t)k < sizeof msg)
        vsnprintf(msg + k, sizeof msg - (size_t)k, fmt, ap);
    va_end(ap);
    struct dl_origin o = { pl->source, pl->entry, 0, 0, 0, pl->table, 0 };
    st->skipped++;
    return sink->skip(sink->ctx, &o, msg);
}

/* it (d->item, or a view of built bytes when there are no transforms) holds the record's item:
 * transform it (when asked) and hand it to the sink. raw is the record's text, for the
 * dead-letter file when the transform rejects it. */
static enum dl_err emit_item(struct dl_decoder *d, struct dl_item *it, const struct dl_decode_sink *sink,
                             struct dl_decode_stats *st, const struct place *pl, uint64_t record, uint64_t line,
                             struct dl_cursor raw)
{
    if (d->xf) {
        struct dl_transform_ctx c = {
            .bucket = d->bucket, .key = d->key ? d->key : pl->source, .etag = d->etag,
            .line = line, .record = record, .csv = d->names != NULL,
            .columns = d->names, .ncolumns = d->nnames,
            .next_seq = d->o.next_seq, .seq_ctx = d->o.seq_ctx,
        };
        struct dl_pos_err pe;
        pe_reset(&pe);
        enum dl_err e = dl_transform_apply(d->xf, it, d->o.ks, &c, &pe);
        if (e == DL_ERR_NOMEM || e == DL_ERR_IO || e == DL_ERR_CANCELLED)
            return e; /* not the record's fault (e.g. --key-seq could not record its numbers) */
        if (e) /* the message names the attribute, and its CSV column */
            return reject(sink, st, pl, record, line, 0, raw, "%s", pe.msg[0] ? pe.msg : dl_err_str(e));
    }
    struct dl_origin o = { pl->source, pl->entry, record, line, 0, pl->table, 0 };
    st->records++;
    st->items++;
    return sink->item(sink->ctx, it, &o);
}

static enum dl_err emit(struct dl_decoder *d, const struct dl_decode_sink *sink, struct dl_decode_stats *st,
                        const struct place *pl, uint64_t record, uint64_t line, struct dl_cursor raw)
{
    return emit_item(d, &d->item, sink, st, pl, record, line, raw);
}

/* One CSV row -> item: every row of every path is built here (one place to switch builders). */
/* One CSV row to an item, with the header prepared once per object (identical results to
 * dl_item_from_csv, which stays the reference). */
static enum dl_err csv_build(struct dl_item *it, const struct dl_item_csv_header *ph, const struct dl_cursor *fields,
                             size_t n, struct dl_pos_err *pe)
{
    return dl_item_from_csv_prepared(it, ph, fields, n, pe);
}

/* ---------- parallel decoding of large CSV/TSV and NDJSON objects ----------
 * Chunks (decode/chunked.h) are read and built into items on worker threads, each into a slot
 * of results; the calling thread hands the results to the sink in chunk order, through the
 * same reject() and emit() as the loops below, so the sink sees what one thread would give:
 * record numbers are a running count across chunks, and transforms (so --key-seq numbers) run
 * here, in record order. */

#define PAR_MIN_DEFAULT ((size_t)16 << 20)
#define PAR_CHUNK_DEFAULT ((size_t)1 << 20) /* 4 MiB chunks took the 1 GB convert to 62 MB peak RSS, 1 MiB to 31 */

/* A record's result: an item (its bytes in the slot: wire, key, key_wire, each NUL-ended) or
 * a reject (its message in the slot). */
struct pres {
    bool item;
    uint64_t record; /* within the chunk, 1-based */
    uint64_t line, column;
    size_t offset;   /* the record's first byte in the object */
    struct dl_cursor raw;
    size_t size;
    size_t at, wire_len, key_len, kw_len; /* msg: at, wire_len */
};

struct pslot {
    struct pres *v;
    size_t n, alloc;
    struct dl_buf bytes;
    size_t cap;        /* a range stops taking records past this many bytes (one always fits) */
    struct dl_item item;
    uint64_t records;  /* records of the chunk read so far */
    uint64_t rows;     /* CSV rows that read cleanly */
    /* the chunk was cut short (the slot is full): the calling thread reads on from rest */
    bool more;
    size_t rest;
    uint64_t rest_line;
    bool fatal;        /* a FATAL record: nothing follows it */
    enum dl_err err;   /* DL_ERR_NOMEM after the results */
};

struct par {
    struct dl_decoder *d;
    const struct place *pl;
    const struct dl_decode_sink *sink;
    struct dl_decode_stats *st;
    const uint8_t *p;
    size_t len;
    bool csv;
    struct dl_csv_opts co;             /* CSV */
    const struct dl_cursor *names;
    size_t nnames;
    uint64_t header_rows;
    const struct dl_key_schema *ks;    /* what the builders map with */
    const struct dl_item_csv_header *ph; /* CSV: the header prepared for the item builder */
    uint64_t base;                     /* records of the chunks consumed */
    uint64_t rows;
    bool fatal;
};

static void *par_slot_new(void *ctx)
{
    struct par *x = ctx;
    struct pslot *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    size_t chunk = x->d->o.chunk_size ? x->d->o.chunk_size : PAR_CHUNK_DEFAULT;
    s->cap = chunk > (SIZE_MAX >> 4) ? (SIZE_MAX >> 4) : chunk * 8;
    /* past cap a range stops before the next record; one item is at most DL_ITEM_WIRE_CAP */
    dl_buf_init(&s->bytes, s->cap + 2 * DL_ITEM_WIRE_CAP + ((size_t)1 << 20));
    dl_item_init(&s->item);
    return s;
}

static void par_slot_free(void *ctx, void *slot)
{
    struct pslot *s = slot;
    free(s->v);
    dl_buf_free(&s->bytes);
    dl_item_free(&s->item);
    free(s);
}

static void slot_clear(struct pslot *s)
{
    s->n = 0;
    dl_buf_reset(&s->bytes);
    s->more = false;
}

/* Room for one more result (filled by the caller, which then counts it). */
static struct pres *slot_add(struct pslot *s)
{
    if (s->n == s->alloc) {
        size_t na = s->alloc ? 2 * s->alloc : 256;
        struct pres *v = realloc(s->v, na * sizeof *v);
        if (!v)
            return NULL;
        s->v = v;
        s->alloc = na;
    }
    return &s->v[s->n];
}

/* Append the parts one after another, each followed by a NUL (so a view of one is a valid dl_buf). */
static enum dl_err slot_bytes(struct pslot *s, const void *const *part, const size_t *len, int n)
{
    size_t need = 0;
    for (int i = 0; i < n; i++)
        need += len[i] + 1;
    enum dl_err e = dl_buf_reserve(&s->bytes, need);
    if (e)
        return e;
    uint8_t *w = s->bytes.data + s->bytes.len;
    for (int i = 0; i < n; i++) {
        if (len[i])
            memcpy(w, part[i], len[i]);
        w[len[i]] = 0;
        w += len[i] + 1;
    }
    s->bytes.len += need;
    return DL_OK;
}

static enum dl_err put_reject(struct pslot *s, uint64_t rec, uint64_t line, uint64_t col, size_t off,
                              struct dl_cursor raw, const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static enum dl_err put_reject(struct pslot *s, uint64_t rec, uint64_t line, uint64_t col, size_t off,
                              struct dl_cursor raw, const char *fmt, ...)
{
    char msg[1024];
    struct pres *r = slot_add(s);
    if (!r)
        return DL_ERR_NOMEM;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t ml = k < 0 ? 0 : (size_t)k < sizeof msg ? (size_t)k : sizeof msg - 1;
    *r = (struct pres){ .item = false, .record = rec, .line = line, .column = col, .offset = off, .raw = raw,
                        .at = s->bytes.len, .wire_len = ml };
    const void *part[1] = { msg };
    enum dl_err e = slot_bytes(s, part, &ml, 1);
    if (!e)
        s->n++;
    return e;
}

static enum dl_err put_item(struct pslot *s, uint64_t rec, uint64_t line, size_t off, struct dl_cursor raw)
{
    const struct dl_item *it = &s->item;
    struct pres *r = slot_add(s);
    if (!r)
        return DL_ERR_NOMEM;
    *r = (struct pres){ .item = true, .record = rec, .line = line, .offset = off, .raw = raw, .size = it->size,
                        .at = s->bytes.len, .wire_len = it->wire.len, .key_len = it->key.len,
                        .kw_len = it->key_wire.len };
    const void *part[3] = { it->wire.data, it->key.data, it->key_wire.data };
    const size_t len[3] = { it->wire.len, it->key.len, it->key_wire.len };
    enum dl_err e = slot_bytes(s, part, len, 3);
    if (!e)
        s->n++;
    return e;
}

/* CSV rows of p[from..end) (a record boundary on line `line`) into s, numbered after the
 * s->records before them: the loop of decode_csv, with results kept instead of sent. */
static enum dl_err par_csv(struct par *x, struct pslot *s, size_t from, size_t end, uint64_t line)
{
    struct dl_csvfast *r = NULL;
    struct dl_csv_row row;
    struct dl_pos_err pe;
    uint64_t rec0 = s->records;
    size_t taken = 0;
    enum dl_err e = dl_csvfast_new_range(x->p, from, end, line, &x->co, &r);
    if (e)
        goto out;
    for (;;) {
        bool built;
        pe_reset(&pe);
        e = dl_csvfast_next_item(r, x->ph, &s->item, &row, &pe, &built);
        if (e == DL_ERR_NOMEM)
            goto out;
        if (!e && row.end)
            break;
        if (taken && s->bytes.len >= s->cap) {
            /* every record starts just after a line break outside quotes: a reader may start there */
            s->more = true;
            s->rest = row.offset;
            s->rest_line = row.line;
            break;
        }
        taken++;
        uint64_t rec = rec0 + row.record;
        s->records = rec;
        s->rows += !e;
        if (e) {
            e = put_reject(s, rec, pe.line, pe.column, row.offset, row.raw, "%s", pe.msg);
        } else if (built) {
            e = put_item(s, rec, row.line, row.offset, row.raw);
        } else if (row.nfields != x->nnames) {
            e = put_reject(s, rec, row.line, 0, row.offset, row.raw, "row has %zu field%s, the %s has %zu",
                           row.nfields, row.nfields == 1 ? "" : "s", x->header_rows ? "header" : "--columns list",
                           x->nnames);
        } else {
            pe_reset(&pe);
            e = csv_build(&s->item, x->ph, row.fields, x->nnames, &pe);
            if (e == DL_ERR_NOMEM)
                goto out;
            if (e && pe.column >= 1 && pe.column <= x->nnames)
                e = put_reject(s, rec, row.line, 0, row.offset, row.raw, "field %zu: %s", (size_t)pe.column, pe.msg);
            else if (e)
                e = put_reject(s, rec, row.line, 0, row.offset, row.raw, "%s", pe.msg);
            else
                e = put_item(s, rec, row.line, row.offset, row.raw);
        }
        if (e)
            goto out;
    }
    e = DL_OK;
out:
    dl_csvfast_destroy(r);
    return e;
}

static bool bom_at(const uint8_t *p, size_t len, size_t at)
{
    return at + 3 <= len && p[at] == 0xEF && p[at + 1] == 0xBB && p[at + 2] == 0xBF;
}

/* NDJSON records of p[from..end) (a line start, line `line`) into s: decode_json_fast's loop. A
 * reader on p + from counts lines from 1: its lines are moved by line - 1, offsets by from. */
static enum dl_err par_json(struct par *x, struct pslot *s, size_t from, size_t end, uint64_t line)
{
    struct dl_jsonfast *r = NULL;
    struct dl_jsonrec_out info;
    struct dl_pos_err pe;
    uint64_t rec0 = s->records, add = line - 1, prev = 0;
    size_t taken = 0;
    enum dl_err e = dl_jsonfast_new(x->p + from, end - from, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN, x->ks, &r);
    if (e)
        goto out;
    for (;;) {
        pe_reset(&pe);
        memset(&info, 0, sizeof info);
        enum dl_jsonrec_status st = dl_jsonfast_next(r, &s->item, &info, &pe);
        if (st == DL_JSONREC_END)
            break;
        uint64_t rline = info.line + add;
        size_t off = from + info.offset;
        if (taken && s->bytes.len >= s->cap && rline > prev && info.column >= 1) {
            /* the first value on its line: a reader may start at the line's start (not on a
             * BOM, which a new reader would skip) */
            size_t at = off - (info.column - 1);
            if (!bom_at(x->p, x->len, at)) {
                s->more = true;
                s->rest = at;
                s->rest_line = rline;
                break;
            }
        }
        taken++;
        prev = rline;
        uint64_t rec = rec0 + info.record;
        s->records = rec;
        if (st == DL_JSONREC_ERROR || st == DL_JSONREC_FATAL) {
            if (pe.code == DL_ERR_NOMEM) {
                e = DL_ERR_NOMEM;
                goto out;
            }
            struct dl_cursor raw = info.raw;
            if (st == DL_JSONREC_FATAL) /* "all remaining bytes": of the object, not the chunk */
                raw.len = x->len - (size_t)(raw.ptr - x->p);
            e = put_reject(s, rec, pe.line ? pe.line + add : 0, pe.column, off, raw, "%s", pe.msg);
            if (!e && st == DL_JSONREC_FATAL) {
                s->fatal = true;
                break;
            }
        } else {
            e = put_item(s, rec, rline, off, info.raw);
        }
        if (e)
            goto out;
    }
    e = DL_OK;
out:
    dl_jsonfast_destroy(r);
    return e;
}

static enum dl_err par_range(struct par *x, struct pslot *s, size_t from, size_t end, uint64_t line)
{
    return x->csv ? par_csv(x, s, from, end, line) : par_json(x, s, from, end, line);
}

/* On a worker. Errors travel in the slot, so that the results before them are still sent. */
static enum dl_err par_work(void *ctx, const uint8_t *p, const struct dl_chunk *c, void *slot)
{
    struct par *x = ctx;
    struct pslot *s = slot;
    slot_clear(s);
    s->records = 0;
    s->rows = 0;
    s->fatal = false;
    s->err = par_range(x, s, c->off, c->off + c->len, c->line);
    return DL_OK;
}

/* On the calling thread, chunk after chunk. */
static enum dl_err par_consume(void *ctx, const struct dl_chunk *c, void *slot)
{
    struct par *x = ctx;
    struct pslot *s = slot;
    struct dl_decoder *d = x->d;
    enum dl_err e = DL_OK;
    for (;;) {
        /* items are handed on as views of their bytes in the slot (each part NUL-ended, as a
         * dl_buf is); transforms edit the item, so they get a copy */
        struct dl_item view;
        struct dl_buf *part[3] = { &view.wire, &view.key, &view.key_wire };
        memset(&view, 0, sizeof view);
        if (s->n) /* pages before the first record are done with (workers only read ahead of it) */
            consumed(d, x->p + s->v[0].offset);
        for (size_t i = 0; i < s->n && !e; i++) {
            const struct pres *r = &s->v[i];
            const uint8_t *b = s->bytes.data + r->at;
            uint64_t rec = x->base + r->record;
            if (!r->item) {
                e = reject(x->sink, x->st, x->pl, rec, r->line, r->column, r->raw, "%s", (const char *)b);
                continue;
            }
            struct dl_item *it = &view;
            const size_t len[3] = { r->wire_len, r->key_len, r->kw_len };
            for (int k = 0; k < 3; k++) {
                part[k]->data = (uint8_t *)b;
                part[k]->len = part[k]->cap = len[k];
                part[k]->alloc = len[k] + 1;
                b += len[k] + 1;
            }
            view.size = r->size;
            if (d->xf) {
                it = &d->item;
                dl_item_reset(it);
                for (int k = 0; k < 3 && !e; k++)
                    if (len[k])
                        e = dl_buf_append(k == 0 ? &it->wire : k == 1 ? &it->key : &it->key_wire, part[k]->data,
                                          len[k]);
                it->size = r->size;
                if (e)
                    break;
            }
            if (x->csv)
                d->names = x->names, d->nnames = x->nnames;
            e = emit_item(d, it, x->sink, x->st, x->pl, rec, r->line, r->raw);
            d->names = NULL, d->nnames = 0;
        }
        if (e)
            return e;
        if (s->err)
            return s->err;
        if (s->fatal) {
            x->fatal = true;
            return DL_ERR_CANCELLED; /* ends the run; the object itself is done (DL_OK) */
        }
        if (!s->more)
            break;
        /* the slot filled up before the chunk's end: read the rest here */
        size_t from = s->rest;
        uint64_t line = s->rest_line;
        slot_clear(s);
        s->err = par_range(x, s, from, c->off + c->len, line);
    }
    x->base += s->records;
    x->rows += s->rows;
    return DL_OK;
}

/* Whether `n` bytes of records go parallel. */
static bool par_wanted(const struct dl_decoder *d, size_t n)
{
    return d->threads > 1 && n > 0 && n >= (d->o.parallel_min ? d->o.parallel_min : PAR_MIN_DEFAULT);
}

/* Decode the records of p[start..len) (CSV when x->csv, else NDJSON) on d->threads threads. */
static enum dl_err par_run(struct par *x, size_t start, uint64_t line)
{
    struct dl_decoder *d = x->d;
    struct dl_chunk_planner *planner = NULL;
    size_t chunk = d->o.chunk_size ? d->o.chunk_size : PAR_CHUNK_DEFAULT;
    enum dl_err e = x->csv ? dl_chunk_planner_new_csv(x->p, x->len, start, line, &x->co, chunk, &planner)
                           : dl_chunk_planner_new_ndjson(x->p, x->len, start, line, chunk, &planner);
    if (e)
        return e;
    dl_debug("%s%s%s: %zu bytes of %s records on %d threads (%zu-byte chunks)", x->pl->source,
             x->pl->entry ? " entry " : "", x->pl->entry ? x->pl->entry : "", x->len - start,
             x->csv ? "CSV" : "NDJSON", d->threads, chunk);
    struct dl_chunk_fns fns = { par_slot_new, par_slot_free, par_work, par_consume };
    /* slots bound the memory: a slot holds one chunk's items (about 2-3 times its bytes) */
    e = dl_chunked_run_planner(x->p, planner, d->threads, (size_t)d->threads + 2, &fns, x);
    dl_chunk_planner_destroy(planner);
    if (e == DL_ERR_CANCELLED && x->fatal)
        e = DL_OK;
    return e;
}

/* ---------- CSV / TSV ---------- */

static enum dl_err decode_csv(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes, char delim,
                              const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct dl_csv_opts co = { .delim = (uint8_t)delim, .quote = d->o.quote ? (uint8_t)d->o.quote : '"',
                              .no_quote = d->o.no_quote, .check_utf8 = true };
    struct dl_csvfast *r = NULL; /* SIMD reader, identical to dl_csv */
    struct dl_cursor *names = NULL;
    size_t nnames = 0;
    uint64_t nrows = 0;
    struct dl_csv_row row;
    struct dl_pos_err pe;
    char *store = NULL;
    struct dl_item_csv_header *ph = NULL;
    uint64_t header_rows = 1;
    enum dl_err e = dl_csvfast_new(bytes.ptr, bytes.len, &co, &r);
    if (e)
        return e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot read as CSV: %s", dl_err_str(e));
    if (d->o.columns) {
        /* header-less (--columns): every row is data */
        header_rows = 0;
        nnames = d->o.ncolumns;
        names = malloc((nnames ? nnames : 1) * sizeof *names);
        if (!names) {
            e = DL_ERR_NOMEM;
            goto out;
        }
        memcpy(names, d->o.columns, nnames * sizeof *names);
        row.line = 0;
        goto check_names;
    }
    /* the header: the first record that reads cleanly names the attributes */
    for (;;) {
        pe_reset(&pe);
        e = dl_csvfast_next(r, &row, &pe);
        if (e == DL_ERR_NOMEM)
            goto out;
        if (e) {
            e = skip(sink, st, pl, "line %llu column %llu: cannot read the header row: %s",
                     (unsigned long long)pe.line, (unsigned long long)pe.column, pe.msg);
            goto out;
        }
        if (row.end) {
            dl_info("%s%s%s: no records (empty CSV)", pl->source, pl->entry ? " entry " : "",
                    pl->entry ? pl->entry : "");
            goto out;
        }
        break;
    }
    nnames = row.nfields;
    names = malloc(nnames * sizeof *names);
    if (!names) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    memcpy(names, row.fields, nnames * sizeof *names);
    /* header fields may point into reader scratch that the next call reuses: copy them */
    size_t total = 0;
    for (size_t i = 0; i < nnames; i++)
        total += names[i].len;
    store = malloc(total + 1);
    if (!store) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0, off = 0; i < nnames; i++) {
        memcpy(store + off, names[i].ptr, names[i].len);
        names[i].ptr = (const uint8_t *)store + off;
        off += names[i].len;
    }
check_names:
    for (size_t i = 0; i < nnames; i++) {
        if (!names[i].len) {
            e = skip(sink, st, pl, "line %llu: header column %zu has no name (every column needs an attribute name)",
                     (unsigned long long)row.line, i + 1);
            goto out_store;
        }
        for (size_t j = 0; j < i; j++)
            if (dl_cursor_eq(names[i], names[j])) {
                e = skip(sink, st, pl, "line %llu: duplicate header name '%.*s' (columns %zu and %zu)",
                         (unsigned long long)row.line, (int)names[i].len, (const char *)names[i].ptr, j + 1, i + 1);
                goto out_store;
            }
    }
    if ((e = dl_item_csv_header_new(names, nnames, build_ks(d), &ph)))
        goto out_store;
    if (par_wanted(d, bytes.len)) {
        /* the rows after the header (all of them with --columns), from the header's terminator */
        size_t start = 0;
        uint64_t line = 1;
        if (header_rows) {
            start = (size_t)(row.raw.ptr - bytes.ptr) + row.raw.len;
            line = row.line;
            for (size_t i = start - row.raw.len; i < start; i++)
                if (bytes.ptr[i] == '\n' || (bytes.ptr[i] == '\r' && !(i + 1 < bytes.len && bytes.ptr[i + 1] == '\n')))
                    line++;
        }
        if (par_wanted(d, bytes.len - start)) {
            struct par x = { .d = d, .pl = pl, .sink = sink, .st = st, .p = bytes.ptr, .len = bytes.len, .csv = true,
                             .co = co, .names = names, .nnames = nnames, .header_rows = header_rows,
                             .ks = build_ks(d), .ph = ph };
            e = par_run(&x, start, line);
            if (!e && x.rows == 0)
                dl_info("%s%s%s: no records (only a header row)", pl->source, pl->entry ? " entry " : "",
                        pl->entry ? pl->entry : "");
            goto out_store;
        }
    }
    for (;;) {
        bool built;
        pe_reset(&pe);
        e = dl_csvfast_next_item(r, ph, &d->item, &row, &pe, &built);
        if (e == DL_ERR_NOMEM)
            goto out_store;
        if (e) {
            e = reject(sink, st, pl, row.record - header_rows, pe.line, pe.column, row.raw, "%s", pe.msg);
            if (e)
                goto out_store;
            continue;
        }
        if (row.end) {
            if (nrows == 0)
                dl_info("%s%s%s: no records (only a header row)", pl->source, pl->entry ? " entry " : "",
                        pl->entry ? pl->entry : "");
            break;
        }
        consumed(d, bytes.ptr + row.offset);
        nrows++;
        uint64_t rec = row.record - header_rows; /* data records are numbered from 1, after the header */
        if (!built && row.nfields != nnames) {
            e = reject(sink, st, pl, rec, row.line, 0, row.raw, "row has %zu field%s, the %s has %zu",
                       row.nfields, row.nfields == 1 ? "" : "s", header_rows ? "header" : "--columns list", nnames);
            if (e)
                goto out_store;
            continue;
        }
        if (!built) {
            pe_reset(&pe);
            e = csv_build(&d->item, ph, row.fields, nnames, &pe);
            if (e == DL_ERR_NOMEM)
                goto out_store;
        }
        if (e) {
            /* the builder's message names the attribute; we add the field's place in the row */
            size_t f = pe.column;
            if (f >= 1 && f <= nnames)
                e = reject(sink, st, pl, rec, row.line, 0, row.raw, "field %zu: %s", f, pe.msg);
            else
                e = reject(sink, st, pl, rec, row.line, 0, row.raw, "%s", pe.msg);
        } else {
            d->names = names, d->nnames = nnames;
            e = emit(d, sink, st, pl, rec, row.line, row.raw);
            d->names = NULL, d->nnames = 0;
        }
        if (e)
            goto out_store;
    }
    e = DL_OK;
out_store:
    dl_item_csv_header_destroy(ph);
    free(store);
out:
    free(names);
    dl_csvfast_destroy(r);
    return e;
}

/* ---------- JSON, NDJSON, DynamoDB JSON ---------- */

/* A JSON record the reader could not read (ERROR, or FATAL: the rest is unreadable): rejected
 * with the reader's position and message. DL_ERR_NOMEM is passed on, not rejected. */
static enum dl_err bad_json_record(const struct dl_decode_sink *sink, struct dl_decode_stats *st,
                                   const struct place *pl, const struct dl_jsonrec_out *o,
                                   const struct dl_pos_err *pe)
{
    if (pe->code == DL_ERR_NOMEM)
        return DL_ERR_NOMEM;
    return reject(sink, st, pl, o->record, pe->line, pe->column, o->raw, "%s", pe->msg);
}

/* Plain JSON, NDJSON and typed DynamoDB JSON: the SIMD decoder builds items without a DOM, with
 * results identical to the scalar readers below (docs/simd-json.md). */
static enum dl_err decode_json_fast(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes,
                                    enum dl_format fmt, const struct dl_decode_sink *sink,
                                    struct dl_decode_stats *st)
{
    enum dl_jsonrec_mode mode = fmt == DL_FMT_NDJSON ? DL_JSONREC_NDJSON
                                : fmt == DL_FMT_JSON ? DL_JSONREC_JSON : DL_JSONREC_AUTO;
    struct dl_jsonfast *r = NULL;
    struct dl_jsonrec_out info;
    struct dl_pos_err pe;
    if (fmt == DL_FMT_NDJSON && par_wanted(d, bytes.len)) {
        /* one value per line: chunks cut after any '\n' hold whole records (AUTO content is
         * not cut: its values may span lines) */
        struct par x = { .d = d, .pl = pl, .sink = sink, .st = st, .p = bytes.ptr, .len = bytes.len,
                         .ks = build_ks(d) };
        return par_run(&x, 0, 1);
    }
    enum dl_err e = dl_jsonfast_new(bytes.ptr, bytes.len, mode, fmt == DL_FMT_DDB_JSON ? DL_JSONFAST_DDB : DL_JSONFAST_PLAIN,
                                    build_ks(d), &r);
    if (e)
        return e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot read as JSON: %s", dl_err_str(e));
    for (;;) {
        pe_reset(&pe);
        memset(&info, 0, sizeof info);
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &d->item, &info, &pe);
        if (s == DL_JSONREC_END)
            break;
        if (s == DL_JSONREC_ERROR || s == DL_JSONREC_FATAL) {
            if ((e = bad_json_record(sink, st, pl, &info, &pe)) || s == DL_JSONREC_FATAL)
                goto out;
            continue;
        }
        consumed(d, bytes.ptr + info.offset);
        if ((e = emit(d, sink, st, pl, info.record, info.line, info.raw)))
            goto out;
    }
    e = DL_OK;
out:
    dl_jsonfast_destroy(r);
    return e;
}

static enum dl_err decode_json(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes,
                               enum dl_format fmt, const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    if (fmt == DL_FMT_JSON || fmt == DL_FMT_NDJSON || fmt == DL_FMT_DDB_JSON || fmt == DL_FMT_AUTO)
        return decode_json_fast(d, pl, bytes, fmt, sink, st);
    enum dl_jsonrec_mode mode = fmt == DL_FMT_NDJSON || fmt == DL_FMT_DDB_EXPORT ? DL_JSONREC_NDJSON
                                : fmt == DL_FMT_JSON ? DL_JSONREC_JSON : DL_JSONREC_AUTO;
    struct dl_jsonrec *r = NULL;
    struct dl_jslit *js = NULL; /* JavaScript item files: the same records, another reader */
    struct dl_jsonrec_out out;
    struct dl_pos_err pe;
    enum dl_err e = fmt == DL_FMT_JS ? dl_jslit_new(bytes.ptr, bytes.len, &js)
                                     : dl_jsonrec_new(bytes.ptr, bytes.len, mode, &r);
    if (e)
        return e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot read as JSON: %s", dl_err_str(e));
    for (;;) {
        dl_arena_reset(d->arena);
        pe_reset(&pe);
        memset(&out, 0, sizeof out);
        enum dl_jsonrec_status s = js ? dl_jslit_next(js, d->arena, &out, &pe) : dl_jsonrec_next(r, d->arena, &out, &pe);
        if (s == DL_JSONREC_END)
            break;
        if (s == DL_JSONREC_ERROR || s == DL_JSONREC_FATAL) {
            if ((e = bad_json_record(sink, st, pl, &out, &pe)) || s == DL_JSONREC_FATAL)
                goto out;
            continue;
        }
        consumed(d, bytes.ptr + out.offset);
        const struct dl_json *v = out.value;
        pe_reset(&pe);
        if (fmt == DL_FMT_DDB_EXPORT) {
            const struct dl_json *inner = dl_json_get(v, "Item");
            if (!inner || inner->type != DL_JSON_OBJECT) {
                e = reject(sink, st, pl, out.record, out.line, 0, out.raw,
                           "expected an export line {\"Item\":{...}}");
                if (e)
                    goto out;
                continue;
            }
            v = inner;
            e = dl_item_from_ddb_json(&d->item, v, build_ks(d), &pe);
        } else if (fmt == DL_FMT_DDB_JSON) {
            e = dl_item_from_ddb_json(&d->item, v, build_ks(d), &pe);
        } else {
            e = dl_item_from_json(&d->item, v, build_ks(d), &pe);
        }
        if (e == DL_ERR_NOMEM)
            goto out;
        if (e) {
            uint64_t line = out.line, col = 0;
            if (pe.offset)
                dl_json_line_col(bytes.ptr, out.offset + pe.offset, &line, &col);
            e = reject(sink, st, pl, out.record, line, col, out.raw, "%s", pe.msg);
        } else {
            e = emit(d, sink, st, pl, out.record, out.line, out.raw);
        }
        if (e)
            goto out;
    }
    e = DL_OK;
out:
    dl_jsonrec_destroy(r);
    dl_jslit_destroy(js);
    return e;
}

/* ---------- containers ---------- */

/* "Top/" when every entry of the zip lives under one folder Top/, else "" (out has n bytes). */
static void zip_top_folder(struct dl_zip *z, size_t n, char *out, size_t cap)
{
    out[0] = 0;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        struct dl_zip_entry ze;
        if (dl_zip_entry(z, i, &ze))
            continue;
        const char *slash = strchr(ze.name, '/');
        if (!slash) {
            out[0] = 0;
            return;
        }
        size_t l = (size_t)(slash - ze.name) + 1;
        if (!len) {
            if (l >= cap)
                return;
            memcpy(out, ze.name, l);
            out[l] = 0;
            len = l;
        } else if (l != len || memcmp(out, ze.name, l)) {
            out[0] = 0;
            return;
        }
    }
}

/* Media side-load: which entries are media files (media[i] = rule + 1, 0 for the others, which
 * the record passes read). */
static void zip_media_mark(struct dl_zip *z, size_t n, int *media, const struct dl_decode_sink *sink)
{
    char top[512];
    zip_top_folder(z, n, top, sizeof top);
    for (size_t i = 0; i < n; i++) {
        struct dl_zip_entry ze;
        if (!dl_zip_entry(z, i, &ze))
            media[i] = sink->media_rule(sink->ctx, ze.name, top) + 1;
    }
}

/* Hand the zip's media files to the sink, before its records (which name them) are written. */
static enum dl_err zip_media(struct dl_decoder *d, const struct place *pl, struct dl_zip *z, size_t n,
                             const int *media, struct dl_spill *buf, const struct dl_decode_sink *sink,
                             struct dl_decode_stats *st)
{
    char err[1024];
    struct dl_cursor view;
    enum dl_err e = DL_OK;
    for (size_t i = 0; i < n && !e; i++) {
        struct dl_zip_entry ze;
        if (!media[i] || dl_zip_entry(z, i, &ze))
            continue;
        int rule = media[i] - 1;
        struct place inner = { pl->source, ze.name, pl->table };
        e = dl_zip_read_spill(z, i, buf, &d->o.zip, err, sizeof err);
        if (!e && (e = dl_spill_view(buf, &view)))
            snprintf(err, sizeof err, "%s", buf->err);
        if (e == DL_ERR_NOMEM)
            break;
        if (e) {
            e = skip(sink, st, &inner, "cannot read the media file: %s", err);
        } else {
            struct dl_origin o = { pl->source, ze.name, 0, 0, 0, pl->table, 0 };
            e = sink->media(sink->ctx, &o, rule, view);
        }
        dl_spill_free(buf);
    }
    if (!e) {
        struct dl_origin o = { pl->source, pl->entry, 0, 0, 0, pl->table, 0 };
        e = sink->media_done(sink->ctx, &o);
    }
    return e;
}

static enum dl_err decode_bytes(struct dl_decoder *d, const struct place *pl, struct dl_cursor name,
                                struct dl_cursor bytes, int depth, const struct dl_decode_sink *sink,
                                struct dl_decode_stats *st);

#define INFLATE_CHUNK (1 << 17)

static enum dl_err gunzip(struct dl_cursor in, struct dl_spill *out, char *err, size_t errlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, 15 + 32) != Z_OK)
        return DL_ERR_NOMEM;
    uint8_t *buf = malloc(INFLATE_CHUNK);
    enum dl_err e = buf ? DL_OK : DL_ERR_NOMEM;
    z.next_in = (Bytef *)in.ptr;
    size_t left = in.len;
    while (!e) {
        if (z.avail_in == 0 && left) {
            z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
            left -= z.avail_in;
        }
        z.next_out = buf;
        z.avail_out = INFLATE_CHUNK;
        int rc = inflate(&z, Z_NO_FLUSH);
        size_t got = INFLATE_CHUNK - z.avail_out;
        if (got && (e = dl_spill_write(out, buf, got))) {
            snprintf(err, errlen, "%s", out->err);
            break;
        }
        if (rc == Z_STREAM_END) {
            /* concatenated gzip members are one stream */
            if (z.avail_in == 0 && left == 0)
                break;
            if (inflateReset(&z) != Z_OK) {
                e = DL_ERR_PARSE;
                snprintf(err, errlen, "corrupt gzip data");
            }
            continue;
        }
        if (rc == Z_BUF_ERROR && z.avail_in == 0 && left == 0) {
            e = DL_ERR_PARSE;
            snprintf(err, errlen, "truncated gzip data");
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            e = DL_ERR_PARSE;
            snprintf(err, errlen, "corrupt gzip data: %s", z.msg ? z.msg : "inflate failed");
        }
    }
    free(buf);
    inflateEnd(&z);
    return e;
}

static enum dl_err unzstd(struct dl_cursor in, struct dl_spill *out, char *err, size_t errlen)
{
    ZSTD_DStream *z = ZSTD_createDStream();
    uint8_t *buf = malloc(INFLATE_CHUNK);
    enum dl_err e = z && buf ? DL_OK : DL_ERR_NOMEM;
    ZSTD_inBuffer ib = { in.ptr, in.len, 0 };
    size_t rc = 1;
    while (!e && (ib.pos < ib.size || rc != 0)) {
        ZSTD_outBuffer ob = { buf, INFLATE_CHUNK, 0 };
        size_t before = ib.pos;
        rc = ZSTD_decompressStream(z, &ob, &ib);
        if (ZSTD_isError(rc)) {
            e = DL_ERR_PARSE;
            snprintf(err, errlen, "corrupt zstd data: %s", ZSTD_getErrorName(rc));
            break;
        }
        if (ob.pos && (e = dl_spill_write(out, buf, ob.pos))) {
            snprintf(err, errlen, "%s", out->err);
            break;
        }
        if (ib.pos == ib.size && rc != 0 && ob.pos == 0 && before == ib.pos) {
            e = DL_ERR_PARSE;
            snprintf(err, errlen, "truncated zstd data");
        }
    }
    free(buf);
    ZSTD_freeDStream(z);
    return e;
}

static enum dl_err decode_compressed(struct dl_decoder *d, const struct place *pl, struct dl_cursor name,
                                     struct dl_cursor bytes, enum dl_format kind, int depth,
                                     const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct dl_spill out;
    struct dl_cursor view;
    char err[256] = "";
    dl_spill_init(&out, d->o.spill_mem, d->o.max_expanded);
    enum dl_err e = kind == DL_FMT_GZIP ? gunzip(bytes, &out, err, sizeof err) : unzstd(bytes, &out, err, sizeof err);
    if (e == DL_ERR_NOMEM)
        goto out;
    if (!e && (e = dl_spill_view(&out, &view)))
        snprintf(err, sizeof err, "%s", out.err);
    if (e) {
        e = skip(sink, st, pl, "cannot decompress (%s): %s", dl_format_name(kind), err);
        goto out;
    }
    d->spills[d->nspills++] = &out;
    e = decode_bytes(d, pl, dl_format_inner_name(name), view, depth + 1, sink, st);
    d->nspills--;
out:
    dl_spill_free(&out);
    return e;
}

struct zip_reader {
    struct dl_zip *z;
    const struct dl_zip_limits *lim;
};

static enum dl_err read_entry(void *ctx, size_t i, struct dl_buf *out, char *err, size_t errlen)
{
    struct zip_reader *zr = ctx;
    return dl_zip_read(zr->z, i, out, zr->lim, err, errlen);
}

struct zip_pass {
    struct dl_zip *z;
    size_t n;
    struct dl_manifest *man;          /* NULL: no manifest, every entry is data */
    enum dl_manifest_role *roles;
};

/* Decode the zip's data entries (not the manifest, sidecars or media files) through sink. */
static enum dl_err zip_records(struct dl_decoder *d, const struct place *pl, const struct zip_pass *zp,
                               const int *media, struct dl_spill *buf, int depth,
                               const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    char err[1024];
    struct dl_cursor view;
    enum dl_err e = DL_OK;
    for (size_t i = 0; i < zp->n; i++) {
        struct dl_zip_entry ze;
        if (dl_zip_entry(zp->z, i, &ze))
            continue;
        if (zp->man && zp->roles[i] != DL_MANIFEST_ROLE_DATA)
            continue; /* the manifest itself, or a sidecar: not data */
        if (media && media[i])
            continue; /* a media file: handed over by zip_media */
        /* entry names may be reused by the zip's own storage: keep a copy for the origins */
        char *entry = strdup(ze.name);
        if (!entry) {
            e = DL_ERR_NOMEM;
            return e;
        }
        struct place inner = { pl->source, entry, pl->table };
        if (pl->entry) {
            /* a zip inside a zip: name the path through both */
            size_t len = strlen(pl->entry) + strlen(ze.name) + 2;
            char *both = malloc(len);
            if (!both) {
                free(entry);
                e = DL_ERR_NOMEM;
                return e;
            }
            snprintf(both, len, "%s/%s", pl->entry, ze.name);
            free(entry);
            entry = both;
            inner.entry = entry;
        }
        if (ze.unsafe_name)
            dl_warn("%s: zip entry '%s' has an unsafe path (absolute or '..'); it is only read, never extracted",
                    pl->source, entry);
        st->entries++;
        e = dl_zip_read_spill(zp->z, i, buf, &d->o.zip, err, sizeof err);
        if (!e && (e = dl_spill_view(buf, &view)))
            snprintf(err, sizeof err, "%s", buf->err);
        if (e == DL_ERR_NOMEM) {
            free(entry);
            return e;
        }
        const struct dl_key_schema *saved_ks = d->o.ks;
        const struct dl_manifest_entry *me = zp->man ? dl_manifest_match(zp->man, ze.name) : NULL;
        char rerr[300] = "";
        if (!e && me) {
            const struct dl_key_schema *ks = sink->route(sink->ctx, me, rerr, sizeof rerr);
            if (!ks) {
                e = DL_ERR_INVALID;
                snprintf(err, sizeof err, "table '%s' (from %s): %s", me->table, me->source, rerr);
            } else {
                d->o.ks = ks;
                inner.table = me->table;
            }
        }
        if (e) {
            e = skip(sink, st, &inner, "cannot read the zip entry: %s", err);
        } else {
            d->spills[d->nspills++] = buf;
            e = decode_bytes(d, &inner, dl_cursor_str(entry), view, depth + 1, sink, st);
            d->nspills--;
        }
        d->o.ks = saved_ks;
        dl_spill_free(buf);
        free(entry);
        if (e)
            return e;
    }
    return DL_OK;
}

/* The first of two passes over a zip with media files: every item's name, for the media module
 * to place files before any is uploaded. Nothing is written or dead-lettered, and --key-seq
 * numbers are not used up (the second pass hands them out). */
struct names_pass {
    const struct dl_decode_sink *real;
};

static enum dl_err note_item(void *ctx, const struct dl_item *it, const struct dl_origin *o)
{
    (void)o;
    const struct names_pass *np = ctx;
    return np->real->media_note(np->real->ctx, it);
}

static enum dl_err note_reject(void *ctx, const struct dl_origin *o, const char *reason, struct dl_cursor raw)
{
    (void)ctx, (void)o, (void)reason, (void)raw;
    return DL_OK;
}

static enum dl_err note_skip(void *ctx, const struct dl_origin *o, const char *reason)
{
    (void)ctx, (void)o, (void)reason;
    return DL_OK;
}

static const struct dl_key_schema *note_route(void *ctx, const struct dl_manifest_entry *me, char *err, size_t errlen)
{
    const struct names_pass *np = ctx;
    return np->real->route(np->real->ctx, me, err, errlen);
}

static enum dl_err no_seq(void *ctx, uint64_t *out)
{
    (void)ctx;
    *out = 0;
    return DL_OK;
}

static enum dl_err zip_names(struct dl_decoder *d, const struct place *pl, const struct zip_pass *zp,
                             const int *media, struct dl_spill *buf, int depth, const struct dl_decode_sink *sink)
{
    struct names_pass np = { sink };
    struct dl_decode_sink names = { .item = note_item, .reject = note_reject, .skip = note_skip,
                                    .route = sink->route ? note_route : NULL, .ctx = &np };
    struct dl_decode_stats scratch;
    memset(&scratch, 0, sizeof scratch);
    enum dl_err (*seq)(void *, uint64_t *) = d->o.next_seq;
    if (seq)
        d->o.next_seq = no_seq;
    enum dl_err e = zip_records(d, pl, zp, media, buf, depth, &names, &scratch);
    d->o.next_seq = seq;
    return e;
}

static enum dl_err decode_zip(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes, int depth,
                              const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct dl_zip *z = NULL;
    char err[1024];
    struct dl_spill buf;
    struct dl_manifest *man = NULL;
    const char **names = NULL;
    enum dl_manifest_role *roles = NULL;
    int *media = NULL;
    dl_spill_init(&buf, d->o.spill_mem, 0);
    /* a zip whose bytes are a mapped temp (or local) file is read from the file, not through
     * the mapping: libzip reads it in no order we could release pages behind */
    const struct dl_spill *from = NULL;
    for (int i = 0; i < d->nspills; i++)
        if (d->spills[i] && d->spills[i]->map && d->spills[i]->fd >= 0 && bytes.ptr == d->spills[i]->map &&
            bytes.len == d->spills[i]->map_len)
            from = d->spills[i];
    enum dl_err e = from ? dl_zip_open_fd(from->fd, bytes.len, &z, err, sizeof err)
                         : dl_zip_open_mem(bytes.ptr, bytes.len, &z, err, sizeof err);
    if (e) {
        e = e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot open the zip archive: %s", err);
        goto out;
    }
    size_t n = dl_zip_count(z);
    if (sink->route) {
        /* a manifest (manifest.json or sidecars) routes data files to tables */
        names = calloc(n ? n : 1, sizeof *names);
        roles = calloc(n ? n : 1, sizeof *roles);
        if (!names || !roles || dl_manifest_new(&man)) {
            e = DL_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            struct dl_zip_entry ze;
            names[i] = dl_zip_entry(z, i, &ze) ? "" : ze.name;
        }
        struct zip_reader zr = { z, &d->o.zip };
        struct dl_pos_err pe;
        pe_reset(&pe);
        e = dl_manifest_scan(man, names, n, read_entry, &zr, roles, &pe);
        if (e == DL_ERR_NOMEM)
            goto out;
        if (e) {
            e = skip(sink, st, pl, "bad manifest: %s", pe.msg);
            goto out;
        }
        if (dl_manifest_count(man) == 0) {
            dl_manifest_destroy(man);
            man = NULL;
        }
    }
    struct zip_pass zr = { z, n, man, roles };
    if (sink->media_rule && !pl->entry) { /* media folders of the object's own zip, not of zips inside it */
        if (!(media = calloc(n ? n : 1, sizeof *media))) {
            e = DL_ERR_NOMEM;
            goto out;
        }
        zip_media_mark(z, n, media, sink);
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = media[i] > 0;
        if (any && sink->media_note && (e = zip_names(d, pl, &zr, media, &buf, depth, sink)))
            goto out;
        if ((e = zip_media(d, pl, z, n, media, &buf, sink, st)))
            goto out;
    }
    if ((e = zip_records(d, pl, &zr, media, &buf, depth, sink, st)))
        goto out;
    e = DL_OK;
out:
    if (media) {
        struct dl_origin o = { pl->source, pl->entry, 0, 0, 0, pl->table, 0 };
        sink->media_end(sink->ctx, &o);
    }
    free(media);
    dl_spill_free(&buf);
    dl_manifest_destroy(man);
    free(names);
    free(roles);
    dl_zip_close(z);
    return e;
}

static enum dl_err decode_bytes(struct dl_decoder *d, const struct place *pl, struct dl_cursor name,
                                struct dl_cursor bytes, int depth, const struct dl_decode_sink *sink,
                                struct dl_decode_stats *st)
{
    if (depth > MAX_NESTING)
        return skip(sink, st, pl, "archives nested more than %d deep", MAX_NESTING);
    if (bytes.len == 0) {
        dl_info("%s%s%s: empty, nothing to load", pl->source, pl->entry ? " entry " : "", pl->entry ? pl->entry : "");
        return DL_OK;
    }
    struct dl_cursor head = dl_cursor_of(bytes.ptr, bytes.len < 4096 ? bytes.len : 4096);
    enum dl_format detected = dl_format_detect(name, head);
    /* containers are recognised whatever --format says: --format names the data inside */
    if (dl_format_is_container(detected)) {
        if (detected == DL_FMT_ZIP)
            return decode_zip(d, pl, bytes, depth, sink, st);
        return decode_compressed(d, pl, name, bytes, detected, depth, sink, st);
    }
    enum dl_format fmt = d->o.format != DL_FMT_AUTO ? d->o.format : detected;
    switch (fmt) {
    case DL_FMT_CSV:
        return decode_csv(d, pl, bytes, d->o.delimiter ? d->o.delimiter : ',', sink, st);
    case DL_FMT_TSV:
        return decode_csv(d, pl, bytes, d->o.delimiter ? d->o.delimiter : '\t', sink, st);
    case DL_FMT_JSON:
    case DL_FMT_NDJSON:
    case DL_FMT_DDB_JSON:
    case DL_FMT_DDB_EXPORT:
        return decode_json(d, pl, bytes, fmt, sink, st);
    case DL_FMT_JS:
        return decode_json(d, pl, bytes, fmt, sink, st);
    default:
        return skip(sink, st, pl, "cannot tell the format from the name or the content (use --format)");
    }
}

enum dl_err dl_decode_object(struct dl_decoder *d, const char *source, struct dl_cursor bytes,
                             const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct place pl = { source, NULL, NULL };
    return decode_bytes(d, &pl, dl_cursor_str(source), bytes, 0, sink, st);
}

enum dl_err dl_decode_object_as(struct dl_decoder *d, const char *source, struct dl_cursor bytes,
                                enum dl_format format, const struct dl_decode_sink *sink,
                                struct dl_decode_stats *st)
{
    enum dl_format saved = d->o.format;
    if (format != DL_FMT_AUTO)
        d->o.format = format;
    enum dl_err e = dl_decode_object(d, source, bytes, sink, st);
    d->o.format = saved;
    return e;
}
