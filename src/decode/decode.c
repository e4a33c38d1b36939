#include "decode/decode.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/log.h"
#include "core/spill.h"
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
};

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

/* Where we are: the object and, inside a zip, the entry (and its manifest's table). */
struct place {
    const char *source;
    const char *entry;
    const char *table;
};

struct dl_decoder *dl_decoder_new(const struct dl_decode_opts *o)
{
    struct dl_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *o;
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

static enum dl_err emit(struct dl_decoder *d, const struct dl_decode_sink *sink, struct dl_decode_stats *st,
                        const struct place *pl, uint64_t record, uint64_t line)
{
    struct dl_origin o = { pl->source, pl->entry, record, line, 0, pl->table, 0 };
    st->records++;
    st->items++;
    return sink->item(sink->ctx, &d->item, &o);
}

/* ---------- CSV / TSV ---------- */

static enum dl_err decode_csv(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes, char delim,
                              const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct dl_csv_opts co = { .delim = (uint8_t)delim, .quote = '"', .check_utf8 = true };
    struct dl_csvfast *r = NULL; /* SIMD reader, identical to dl_csv */
    struct dl_cursor *names = NULL;
    size_t nnames = 0;
    uint64_t nrows = 0;
    struct dl_csv_row row;
    struct dl_pos_err pe;
    enum dl_err e = dl_csvfast_new(bytes.ptr, bytes.len, &co, &r);
    if (e)
        return e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot read as CSV: %s", dl_err_str(e));
    /* the header: the first record that reads cleanly names the attributes */
    for (;;) {
        dl_pos_err_clear(&pe);
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
    char *store = malloc(total + 1);
    if (!store) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0, off = 0; i < nnames; i++) {
        memcpy(store + off, names[i].ptr, names[i].len);
        names[i].ptr = (const uint8_t *)store + off;
        off += names[i].len;
    }
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
    for (;;) {
        dl_pos_err_clear(&pe);
        e = dl_csvfast_next(r, &row, &pe);
        if (e == DL_ERR_NOMEM)
            goto out_store;
        if (e) {
            e = reject(sink, st, pl, row.record - 1, pe.line, pe.column, row.raw, "%s", pe.msg);
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
        uint64_t rec = row.record - 1; /* data records are numbered from 1, after the header */
        if (row.nfields != nnames) {
            e = reject(sink, st, pl, rec, row.line, 0, row.raw, "row has %zu field%s, the header has %zu",
                       row.nfields, row.nfields == 1 ? "" : "s", nnames);
            if (e)
                goto out_store;
            continue;
        }
        dl_pos_err_clear(&pe);
        e = dl_item_from_csv(&d->item, names, row.fields, nnames, d->o.ks, &pe);
        if (e == DL_ERR_NOMEM)
            goto out_store;
        if (e) {
            /* the builder's message names the attribute; we add the field's place in the row */
            size_t f = pe.column;
            if (f >= 1 && f <= nnames)
                e = reject(sink, st, pl, rec, row.line, 0, row.raw, "field %zu: %s", f, pe.msg);
            else
                e = reject(sink, st, pl, rec, row.line, 0, row.raw, "%s", pe.msg);
        } else {
            e = emit(d, sink, st, pl, rec, row.line);
        }
        if (e)
            goto out_store;
    }
    e = DL_OK;
out_store:
    free(store);
out:
    free(names);
    dl_csvfast_destroy(r);
    return e;
}

/* ---------- JSON, NDJSON, DynamoDB JSON ---------- */

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
    enum dl_err e = dl_jsonfast_new(bytes.ptr, bytes.len, mode, fmt == DL_FMT_DDB_JSON ? DL_JSONFAST_DDB : DL_JSONFAST_PLAIN,
                                    d->o.ks, &r);
    if (e)
        return e == DL_ERR_NOMEM ? e : skip(sink, st, pl, "cannot read as JSON: %s", dl_err_str(e));
    for (;;) {
        dl_pos_err_clear(&pe);
        memset(&info, 0, sizeof info);
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &d->item, &info, &pe);
        if (s == DL_JSONREC_END)
            break;
        if (s == DL_JSONREC_ERROR || s == DL_JSONREC_FATAL) {
            if (pe.code == DL_ERR_NOMEM) {
                e = DL_ERR_NOMEM;
                goto out;
            }
            e = reject(sink, st, pl, info.record, pe.line, pe.column, info.raw, "%s", pe.msg);
            if (e || s == DL_JSONREC_FATAL)
                goto out;
            continue;
        }
        consumed(d, bytes.ptr + info.offset);
        if ((e = emit(d, sink, st, pl, info.record, info.line)))
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
        dl_pos_err_clear(&pe);
        memset(&out, 0, sizeof out);
        enum dl_jsonrec_status s = js ? dl_jslit_next(js, d->arena, &out, &pe) : dl_jsonrec_next(r, d->arena, &out, &pe);
        if (s == DL_JSONREC_END)
            break;
        if (s == DL_JSONREC_ERROR || s == DL_JSONREC_FATAL) {
            if (pe.code == DL_ERR_NOMEM) {
                e = DL_ERR_NOMEM;
                goto out;
            }
            e = reject(sink, st, pl, out.record, pe.line, pe.column, out.raw, "%s", pe.msg);
            if (e || s == DL_JSONREC_FATAL)
                goto out;
            continue;
        }
        consumed(d, bytes.ptr + out.offset);
        const struct dl_json *v = out.value;
        dl_pos_err_clear(&pe);
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
            e = dl_item_from_ddb_json(&d->item, v, d->o.ks, &pe);
        } else if (fmt == DL_FMT_DDB_JSON) {
            e = dl_item_from_ddb_json(&d->item, v, d->o.ks, &pe);
        } else {
            e = dl_item_from_json(&d->item, v, d->o.ks, &pe);
        }
        if (e == DL_ERR_NOMEM)
            goto out;
        if (e) {
            uint64_t line = out.line, col = 0;
            if (pe.offset)
                dl_json_line_col(bytes.ptr, out.offset + pe.offset, &line, &col);
            e = reject(sink, st, pl, out.record, line, col, out.raw, "%s", pe.msg);
        } else {
            e = emit(d, sink, st, pl, out.record, out.line);
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

static enum dl_err decode_zip(struct dl_decoder *d, const struct place *pl, struct dl_cursor bytes, int depth,
                              const struct dl_decode_sink *sink, struct dl_decode_stats *st)
{
    struct dl_zip *z = NULL;
    char err[1024];
    struct dl_spill buf;
    struct dl_cursor view;
    struct dl_manifest *man = NULL;
    const char **names = NULL;
    enum dl_manifest_role *roles = NULL;
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
        dl_pos_err_clear(&pe);
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
    for (size_t i = 0; i < n; i++) {
        struct dl_zip_entry ze;
        if (dl_zip_entry(z, i, &ze))
            continue;
        if (man && roles[i] != DL_MANIFEST_ROLE_DATA)
            continue; /* the manifest itself, or a sidecar: not data */
        /* entry names may be reused by the zip's own storage: keep a copy for the origins */
        char *entry = strdup(ze.name);
        if (!entry) {
            e = DL_ERR_NOMEM;
            goto out;
        }
        struct place inner = { pl->source, entry, pl->table };
        if (pl->entry) {
            /* a zip inside a zip: name the path through both */
            size_t len = strlen(pl->entry) + strlen(ze.name) + 2;
            char *both = malloc(len);
            if (!both) {
                free(entry);
                e = DL_ERR_NOMEM;
                goto out;
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
        e = dl_zip_read_spill(z, i, &buf, &d->o.zip, err, sizeof err);
        if (!e && (e = dl_spill_view(&buf, &view)))
            snprintf(err, sizeof err, "%s", buf.err);
        if (e == DL_ERR_NOMEM) {
            free(entry);
            goto out;
        }
        const struct dl_key_schema *saved_ks = d->o.ks;
        const struct dl_manifest_entry *me = man ? dl_manifest_match(man, ze.name) : NULL;
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
            d->spills[d->nspills++] = &buf;
            e = decode_bytes(d, &inner, dl_cursor_str(entry), view, depth + 1, sink, st);
            d->nspills--;
        }
        d->o.ks = saved_ks;
        dl_spill_free(&buf);
        free(entry);
        if (e)
            goto out;
    }
    e = DL_OK;
out:
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
