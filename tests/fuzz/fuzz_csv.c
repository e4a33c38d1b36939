/* Differential fuzz target: the same bytes through dl_csv (the scalar reference) and through
 * dl_csvfast with every SIMD kernel this CPU has must give identical rows and errors (also when
 * dl_csvfast_next_item builds the records it can straight to items); CSV ->
 * items (first clean record as the header, dl_item_from_csv on every row as decode.c does it)
 * must give identical items and rejections on both paths; and reading the input in chunks
 * (dl_chunk_plan_csv + dl_csvfast_new_range with the default kernel, a small chunk size taken
 * from the input) must give the sequential transcript. Any difference abort()s.
 *
 * Options vary with the input (its length picks one of several), so a corpus file is plain
 * CSV bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cpu.h"
#include "decode/chunked.h"
#include "decode/csv.h"
#include "decode/csvfast.h"
#include "item/item.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A reader of either kind behind one interface. */
struct rd {
    struct dl_csv *slow;
    struct dl_csvfast *fast;
    bool items;    /* fast: records through dl_csvfast_next_item once the header is known */
    uint8_t delim; /* items: the delimiter, to split the records it builds */
};

static enum dl_err rd_next(struct rd *r, struct dl_csv_row *row, struct dl_pos_err *e)
{
    dl_pos_err_clear(e);
    return r->slow ? dl_csv_next(r->slow, row, e) : dl_csvfast_next(r->fast, row, e);
}

static void rd_close(struct rd *r)
{
    dl_csv_destroy(r->slow);
    dl_csvfast_destroy(r->fast);
}

/* Append one call's outcome to a transcript: everything a caller can see. */
static void note_row(struct dl_buf *o, const uint8_t *base, enum dl_err rc, const struct dl_csv_row *row,
                     const struct dl_pos_err *e, uint64_t rec_add)
{
    dl_buf_printf(o, "%d end %d rec %llu line %llu off %llu raw %lld+%zu nf %zu", rc, row->end,
                  (unsigned long long)(row->record + rec_add), (unsigned long long)row->line,
                  (unsigned long long)row->offset, row->raw.ptr ? (long long)(row->raw.ptr - base) : -1LL,
                  row->raw.len, row->nfields);
    for (size_t i = 0; i < row->nfields; i++) {
        dl_buf_printf(o, " [%zu]", row->fields[i].len);
        dl_buf_append(o, row->fields[i].ptr, row->fields[i].len);
    }
    if (rc)
        dl_buf_printf(o, " ERR %d @%llu %llu:%llu %s", e->code, (unsigned long long)e->offset,
                      (unsigned long long)e->line, (unsigned long long)e->column, e->msg);
    dl_buf_append_byte(o, '\n');
}

/* Rows, then items: the header is the first record read cleanly; each later record with as
 * many fields becomes an item (wire, key, size) or a rejection (message, column). */
static bool same(const struct dl_buf *a, const struct dl_buf *b);

static void transcript(struct rd *r, const uint8_t *base, const struct dl_key_schema *ks, struct dl_item *it,
                       struct dl_buf *o)
{
    struct dl_csv_row row;
    struct dl_pos_err e;
    struct dl_cursor names[8];
    uint8_t store[256];
    size_t nnames = 0;
    bool have_header = false;
    struct dl_item_csv_header *ph = NULL; /* the prepared builder, checked against the reference */
    struct dl_item it2, it3;
    struct dl_cursor split[8];
    dl_item_init(&it2);
    dl_item_init(&it3);
    for (int calls = 0; calls < 1000000; calls++) {
        bool built = false;
        enum dl_err rc;
        if (r->items && ph) {
            dl_pos_err_clear(&e);
            rc = dl_csvfast_next_item(r->fast, ph, &it3, &row, &e, &built);
        } else {
            rc = rd_next(r, &row, &e);
        }
        if (built) {
            /* a record built straight to an item is unquoted: its fields are its raw text
             * cut at every delimiter, and the row must have been that many fields */
            size_t nf = 0, start = 0;
            for (size_t i = 0; i <= row.raw.len; i++)
                if (i == row.raw.len || row.raw.ptr[i] == r->delim) {
                    if (nf == 8 || row.fields)
                        abort();
                    split[nf++] = dl_cursor_of(row.raw.ptr + start, i - start);
                    start = i + 1;
                }
            if (nf != row.nfields)
                abort();
            row.fields = split;
        }
        note_row(o, base, rc, &row, &e, 0);
        if (!rc && row.end)
            break;
        if (rc)
            continue;
        if (!have_header) {
            /* copy the names: the row's scratch is reused by the next call */
            size_t at = 0;
            have_header = true;
            for (size_t i = 0; i < row.nfields && i < 8; i++) {
                size_t l = row.fields[i].len < 32 ? row.fields[i].len : 32;
                memcpy(store + at, row.fields[i].ptr, l);
                names[i] = dl_cursor_of(store + at, l);
                at += l;
                nnames = i + 1;
            }
            if (dl_item_csv_header_new(names, nnames, ks, &ph))
                abort();
            continue;
        }
        if (row.nfields != nnames)
            continue;
        struct dl_pos_err why;
        enum dl_err ie = dl_item_from_csv(it, names, row.fields, nnames, ks, &why);
        struct dl_pos_err why2;
        enum dl_err ie2 = dl_item_from_csv_prepared(&it2, ph, row.fields, nnames, &why2);
        if (ie != ie2 || (ie && (why.column != why2.column || strcmp(why.msg, why2.msg))) ||
            (!ie && (it->size != it2.size || !same(&it->wire, &it2.wire) || !same(&it->key, &it2.key) ||
                     !same(&it->key_wire, &it2.key_wire)))) {
            fprintf(stderr, "fuzz_csv: dl_item_from_csv_prepared differs from dl_item_from_csv (%d/%d: %s / %s)\n",
                    ie, ie2, ie ? why.msg : "", ie2 ? why2.msg : "");
            abort();
        }
        if (built && (ie || it->size != it3.size || !same(&it->wire, &it3.wire) || !same(&it->key, &it3.key) ||
                      !same(&it->key_wire, &it3.key_wire))) {
            fprintf(stderr, "fuzz_csv: dl_csvfast_next_item built an item dl_item_from_csv does not (%d: %s)\n", ie,
                    ie ? why.msg : "");
            abort();
        }
        if (ie)
            dl_buf_printf(o, "  reject %d col %llu %s\n", ie, (unsigned long long)why.column, why.msg);
        else {
            dl_buf_printf(o, "  item %zu ", it->size);
            dl_buf_append(o, it->wire.data, it->wire.len);
            dl_buf_append_byte(o, ' ');
            dl_buf_append(o, it->key.data, it->key.len);
            dl_buf_append_byte(o, '\n');
        }
    }
    dl_item_csv_header_destroy(ph);
    dl_item_free(&it2);
    dl_item_free(&it3);
}

static void differ(const char *what, const struct dl_buf *a, const struct dl_buf *b)
{
    fprintf(stderr, "fuzz_csv: %s differs\n--- reference\n%.*s--- other\n%.*s", what, (int)a->len,
            a->data ? (const char *)a->data : "", (int)b->len, b->data ? (const char *)b->data : "");
    abort();
}

static bool same(const struct dl_buf *a, const struct dl_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct dl_csv_opts variants[] = {
        { .check_utf8 = true },
        { 0 },
        { .delim = '\t', .check_utf8 = true },
        { .no_quote = true },
        { .max_record = 40, .check_utf8 = true },
        { .max_fields = 3 },
        { .quote = '\'', .delim = ';' },
    };
    const struct dl_csv_opts *opts = &variants[size % (sizeof variants / sizeof variants[0])];
    static char pk[] = "id", sk[] = "n";
    struct dl_key_schema ks = { 2, { { pk, 2, 'S' }, { sk, 1, 'N' } } };
    struct dl_item it;
    struct dl_buf want, got;
    struct rd r;

    /* an exact-size copy so that a sanitizer catches any read past the end */
    uint8_t *p = malloc(size ? size : 1);
    if (!p)
        return 0;
    memcpy(p, data, size);
    dl_item_init(&it);
    dl_buf_init(&want, 0);
    dl_buf_init(&got, 0);

    memset(&r, 0, sizeof r);
    if (dl_csv_new(p, size, opts, &r.slow) != DL_OK)
        abort();
    transcript(&r, p, &ks, &it, &want);
    rd_close(&r);

    int prev = (int)dl_cpu_level();
    for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++) {
        if (dl_cpu_force((enum dl_simd_level)l) < 0)
            continue;
        memset(&r, 0, sizeof r);
        dl_buf_reset(&got);
        if (dl_csvfast_new(p, size, opts, &r.fast) != DL_OK)
            abort();
        transcript(&r, p, &ks, &it, &got);
        rd_close(&r);
        if (!same(&want, &got))
            differ(dl_simd_name((enum dl_simd_level)l), &want, &got);
        /* the same with records built straight to items where the reader can */
        memset(&r, 0, sizeof r);
        dl_buf_reset(&got);
        if (dl_csvfast_new(p, size, opts, &r.fast) != DL_OK)
            abort();
        r.items = true;
        r.delim = opts->delim ? opts->delim : ',';
        transcript(&r, p, &ks, &it, &got);
        rd_close(&r);
        if (!same(&want, &got))
            differ("dl_csvfast_next_item", &want, &got);
        if (l != prev)
            continue; /* the chunked read with the kernel the CPU would pick */

        /* the rows alone, read chunk by chunk with a running record count */
        struct dl_chunk_plan plan;
        struct dl_buf seq;
        dl_buf_init(&seq, 0);
        dl_buf_reset(&got);
        memset(&r, 0, sizeof r);
        if (dl_csv_new(p, size, opts, &r.slow) != DL_OK)
            abort();
        for (;;) {
            struct dl_csv_row row;
            struct dl_pos_err e;
            enum dl_err rc = rd_next(&r, &row, &e);
            if (!rc && row.end)
                break;
            note_row(&seq, p, rc, &row, &e, 0);
        }
        rd_close(&r);
        if (dl_chunk_plan_csv(p, size, 0, 1, opts, 1 + size % 89, &plan) != DL_OK)
            abort();
        uint64_t base = 0;
        for (size_t i = 0; i < plan.n; i++) {
            const struct dl_chunk *c = &plan.chunks[i];
            memset(&r, 0, sizeof r);
            if (dl_csvfast_new_range(p, c->off, c->off + c->len, c->line, opts, &r.fast) != DL_OK)
                abort();
            uint64_t n = 0;
            for (;;) {
                struct dl_csv_row row;
                struct dl_pos_err e;
                enum dl_err rc = rd_next(&r, &row, &e);
                if (!rc && row.end)
                    break;
                n++;
                note_row(&got, p, rc, &row, &e, base);
            }
            base += n;
            rd_close(&r);
        }
        dl_chunk_plan_free(&plan);
        if (!same(&seq, &got))
            differ("chunked read", &seq, &got);
        dl_buf_free(&seq);
    }
    dl_cpu_force((enum dl_simd_level)prev);

    dl_buf_free(&want);
    dl_buf_free(&got);
    dl_item_free(&it);
    free(p);
    return 0;
}
