/* What `run` and `convert` do to records besides decoding them: the transforms (--set, --types,
 * --rename, --drop, --op-field), header-less CSV (--columns), --key-seq numbering with its
 * journal bookkeeping, and the media side-load (--media-*). run.c calls in at set-up, at each
 * object's start and end, and from its sinks. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_impl.h"
#include "cli/progress.h"
#include "core/log.h"

#define SEQ_BLOCK 4096 /* numbers reserved in the journal at a time */

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* "a,b,c" -> cursors into a copy (names may not be empty) */
static bool parse_columns(struct loader *L, const char *spec, char *err, size_t errlen)
{
    L->columns_store = strdup(spec);
    size_t n = 1;
    for (const char *p = spec; *p; p++)
        n += *p == ',';
    L->columns = calloc(n, sizeof *L->columns);
    if (!L->columns_store || !L->columns) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    char *p = L->columns_store;
    for (size_t i = 0; i < n; i++) {
        char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!len) {
            snprintf(err, errlen, "--columns %s: column %zu has no name", spec, i + 1);
            return false;
        }
        L->columns[i] = dl_cursor_of((const uint8_t *)p, len);
        for (size_t j = 0; j < i; j++)
            if (dl_cursor_eq(L->columns[j], L->columns[i])) {
                snprintf(err, errlen, "--columns %s: '%.*s' is named twice (columns %zu and %zu)", spec, (int)len, p,
                         j + 1, i + 1);
                return false;
            }
        p += len + 1;
    }
    L->ncolumns = n;
    return true;
}

static bool media_setup(struct loader *L, char *err, size_t errlen)
{
    const struct dl_args *a = L->a;
    L->media_rules = calloc((size_t)a->nmedia, sizeof *L->media_rules);
    L->media_store = calloc((size_t)a->nmedia, sizeof *L->media_store);
    if (!L->media_rules || !L->media_store) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (int i = 0; i < a->nmedia; i++) {
        char *s = L->media_store[i] = strdup(a->media[i]);
        char *eq = s ? strchr(s, '=') : NULL;
        if (!s || !eq) {
            snprintf(err, errlen, s ? "--media %s: expected FOLDER=ATTR" : "out of memory", a->media[i]);
            return false;
        }
        *eq = 0;
        /* "Poster_Images/" and "Poster_Images" name the same folder */
        size_t fl = strlen(s);
        while (fl && s[fl - 1] == '/')
            s[--fl] = 0;
        L->media_rules[i].folder = s;
        L->media_rules[i].attr = eq + 1;
    }
    struct dl_media_opts mo = {
        .dest = a->media_bucket, .match_attr = a->media_match, .rules = L->media_rules,
        .nrules = (size_t)a->nmedia, .cfg = &L->cfg, .net = L->net, .log = NULL, .log_ctx = L,
    };
    mo.log = dl_cli_media_log;
    mo.dry_run = !L->cmd_run; /* convert shows the lists, uploads nothing */
    return dl_media_new(&mo, &L->media, err, errlen) == DL_OK;
}

void dl_cli_media_log(void *ctx, int level, const char *msg)
{
    struct loader *L = ctx;
    if (level > 0)
        dl_warn("%s", msg);
    else if (!L->a->quiet)
        dl_info("%s", msg);
}

/* --key-seq and the journal. A number must never go to two records, and a rerun must give a
 * record the number it had. Numbers are handed out from ranges; each object's ranges are
 * recorded in the journal, and a range is on disk before its first number is used:
 *   key-seq/start           the first number (from --key-seq-start or the Scan): reruns never rescan
 *   key-seq/free            no range has been handed out at or above it
 *   key-seq/obj/SRC<TAB>VER "s-e,s-e,...": the ranges the object's numbers came from, in order
 * An object read again (after a crash, a stop, or with records left to write) takes its numbers
 * from its recorded ranges in the same order, so every record gets the same number; past them,
 * and for new objects, ranges come from `free`. A range is taken SEQ_BLOCK numbers at a time and
 * cut back to what was used when its object is read to the end (if nothing was handed out after
 * it), so an uninterrupted run numbers its records without gaps; a crash leaves gaps, never an
 * overlap - whatever the listing holds on the rerun (objects added, removed, failed, changed). */

static bool put_u64(struct loader *L, const char *key, uint64_t v, bool flush)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return dl_journal_put_meta(L->journal, key, buf) == DL_OK && (!flush || dl_journal_flush(L->journal) == DL_OK);
}

static bool get_u64(struct loader *L, const char *key, uint64_t *v)
{
    struct dl_buf b;
    dl_buf_init(&b, 64);
    bool ok = dl_journal_get_meta(L->journal, key, &b) == DL_OK;
    if (ok)
        *v = strtoull((const char *)b.data, NULL, 10);
    dl_buf_free(&b);
    return ok;
}

static bool put_ranges(struct loader *L, bool flush)
{
    struct dl_buf v;
    dl_buf_init(&v, 0);
    bool ok = true;
    for (size_t i = 0; ok && i < L->seq_nr; i++)
        ok = dl_buf_printf(&v, "%s%" PRIu64 "-%" PRIu64, i ? "," : "", L->seq_r[i].start, L->seq_r[i].end) == DL_OK;
    ok = ok && dl_buf_append_byte(&v, 0) == DL_OK &&
         dl_journal_put_meta(L->journal, (const char *)L->seq_key.data, (const char *)v.data) == DL_OK &&
         put_u64(L, "key-seq/free", L->seq_free, flush);
    dl_buf_free(&v);
    return ok;
}

static bool add_range(struct loader *L, uint64_t start, uint64_t end)
{
    if (L->seq_nr == L->seq_ra) {
        size_t n = L->seq_ra ? 2 * L->seq_ra : 8;
        void *p = realloc(L->seq_r, n * sizeof *L->seq_r);
        if (!p)
            return false;
        L->seq_r = p;
        L->seq_ra = n;
    }
    L->seq_r[L->seq_nr].start = start;
    L->seq_r[L->seq_nr].end = end;
    L->seq_nr++;
    return true;
}

/* Where numbering starts: the journal's record wins (a rerun must reuse numbers); then
 * --key-seq-start; then one past the table's largest value (a parallel Scan). */
static bool seq_setup(struct loader *L, const char *table, char *err, size_t errlen)
{
    const struct dl_args *a = L->a;
    uint64_t start = 0;
    if (L->journal && get_u64(L, "key-seq/start", &start)) {
        L->seq_free = start;
        get_u64(L, "key-seq/free", &L->seq_free);
        if (a->key_seq_start && strtoull(a->key_seq_start, NULL, 10) != start) {
            snprintf(err, errlen, "--key-seq-start %s: the journal %s numbered this load from %" PRIu64
                     " (run the command without --key-seq-start to go on, or pass --restart)",
                     a->key_seq_start, dl_journal_path(L->journal), start);
            return false;
        }
        if (!a->quiet)
            dl_info("--key-seq %s: continuing the numbering the journal recorded (it started at %" PRIu64 ")",
                    a->key_seq, start);
        return true;
    }
    if (a->key_seq_start) {
        start = strtoull(a->key_seq_start, NULL, 10);
    } else if (table) {
        struct dl_scan_max sm;
        double t0 = dl_cli_now_s();
        if (dl_ddb_scan_max(L->net, &L->cfg, table, a->key_seq, 8, &sm, err, errlen))
            return false;
        start = sm.found ? sm.max + 1 : 1;
        if (!a->quiet)
            dl_info("--key-seq %s: the table's largest is %s%" PRIu64 " (parallel Scan of %" PRIu64
                    " items in 8 segments, %.1f s); new numbers start at %" PRIu64,
                    a->key_seq, sm.found ? "" : "none, ", sm.found ? sm.max : 0, sm.items, dl_cli_now_s() - t0, start);
        if (sm.not_integer)
            dl_warn("--key-seq %s: %" PRIu64 " items hold a value that is not a non-negative integer; ignored",
                    a->key_seq, sm.not_integer);
    } else {
        start = 1;
    }
    L->seq_free = start;
    if (L->journal) {
        if (a->restart && !a->quiet)
            dl_warn("--key-seq with --restart: records loaded by earlier runs get new numbers (items under "
                    "their old numbers stay in the table)");
        /* on disk before anything is written, so a rerun never rescans a table we wrote to */
        if (!put_u64(L, "key-seq/free", start, false) || !put_u64(L, "key-seq/start", start, true)) {
            snprintf(err, errlen, "cannot record the key sequence in the journal");
            return false;
        }
    } else if (L->cmd_run && !a->quiet) {
        dl_warn("--key-seq without a journal: a rerun would number the records again");
    }
    return true;
}

/* decoder callback: the next number for an item that lacks the attribute */
static enum dl_err next_seq(void *ctx, uint64_t *out)
{
    struct loader *L = ctx;
    if (!L->journal) {
        *out = L->seq_free++;
        L->seq_given++;
        return DL_OK;
    }
    while (L->seq_i < L->seq_nr && L->seq_pos >= L->seq_r[L->seq_i].end)
        if (++L->seq_i < L->seq_nr)
            L->seq_pos = L->seq_r[L->seq_i].start;
    if (L->seq_i == L->seq_nr) {
        /* a new range, durably recorded before its first number is used */
        uint64_t start = L->seq_free;
        if (!add_range(L, start, start + SEQ_BLOCK))
            return DL_ERR_NOMEM;
        L->seq_free = start + SEQ_BLOCK;
        if (!put_ranges(L, true)) {
            L->seq_nr--;
            L->seq_free = start;
            return DL_ERR_IO;
        }
        L->seq_pos = start;
    }
    *out = L->seq_pos++;
    L->seq_given++;
    return DL_OK;
}

bool dl_cli_enrich_setup(struct loader *L, const char *table, struct dl_decode_opts *o, char *err, size_t errlen)
{
    const struct dl_args *a = L->a;
    o->quote = a->quote;
    o->no_quote = a->no_quote;
    if (a->columns) {
        if (!parse_columns(L, a->columns, err, errlen))
            return false;
        o->columns = L->columns;
        o->ncolumns = L->ncolumns;
    }
    struct dl_transform_spec spec = {
        .set = a->set, .nset = (size_t)a->nset, .rename = a->rename, .nrename = (size_t)a->nrename,
        .drop = a->drop, .ndrop = (size_t)a->ndrop, .types = a->types, .ntypes = (size_t)a->ntypes,
        .infer_types = a->infer_types, .list_sep = a->list_sep, .op_field = a->op_field,
        .op_map = a->op_map, .key_seq = a->key_seq,
    };
    if (dl_transform_new(&spec, &L->xform, err, errlen))
        return false;
    o->xform = L->xform;
    if (a->key_seq) {
        if (!seq_setup(L, table, err, errlen))
            return false;
        o->next_seq = next_seq;
        o->seq_ctx = L;
    }
    if (a->media_bucket && !media_setup(L, err, errlen))
        return false;
    return true;
}

/* Lines for the journal's identity: options that change what is written. */
void dl_cli_enrich_identity(const struct dl_args *a, struct dl_buf *id)
{
    for (int i = 0; i < a->nset; i++)
        dl_buf_printf(id, "set=%s\n", a->set[i]);
    for (int i = 0; i < a->nrename; i++)
        dl_buf_printf(id, "rename=%s\n", a->rename[i]);
    for (int i = 0; i < a->ndrop; i++)
        dl_buf_printf(id, "drop=%s\n", a->drop[i]);
    for (int i = 0; i < a->ntypes; i++)
        dl_buf_printf(id, "types=%s\n", a->types[i]);
    for (int i = 0; i < a->nmedia; i++)
        dl_buf_printf(id, "media=%s\n", a->media[i]);
    if (a->infer_types)
        dl_buf_printf(id, "infer-types\n");
    if (a->list_sep)
        dl_buf_printf(id, "list-separator=%d\n", a->list_sep);
    if (a->op_field)
        dl_buf_printf(id, "op-field=%s\nop-map=%s\n", a->op_field, a->op_map ? a->op_map : "");
    if (a->key_seq)
        dl_buf_printf(id, "key-seq=%s\n", a->key_seq);
    if (a->columns)
        dl_buf_printf(id, "columns=%s\n", a->columns);
    if (a->quote || a->no_quote)
        dl_buf_printf(id, "quote=%d\n", a->no_quote ? -1 : a->quote);
    if (a->media_bucket)
        dl_buf_printf(id, "media-bucket=%s\nmedia-match=%s\n", a->media_bucket, a->media_match);
}

bool dl_cli_enrich_object_begin(struct loader *L, struct dl_decoder *dec, const struct obj *o)
{
    char *key = o->bucket ? dup_or_null(o->key) : dup_or_null(o->path ? o->path : o->name);
    enum dl_err e = dl_decoder_set_object(dec, o->bucket, key, o->bucket ? o->etag : NULL);
    free(key);
    if (e)
        return false;
    L->seq_nr = L->seq_i = 0;
    L->seq_pos = 0;
    if (!L->a->key_seq || !L->journal)
        return true;
    /* the ranges an earlier run numbered this object from: the same numbers again */
    struct dl_buf v;
    dl_buf_init(&v, 0);
    dl_buf_reset(&L->seq_key);
    bool ok = dl_buf_printf(&L->seq_key, "key-seq/obj/%s\t%s", o->name, o->version) == DL_OK &&
              dl_buf_append_byte(&L->seq_key, 0) == DL_OK;
    if (ok && dl_journal_get_meta(L->journal, (const char *)L->seq_key.data, &v) == DL_OK) {
        const char *p = (const char *)v.data;
        while (ok && *p) {
            char *q;
            uint64_t st = strtoull(p, &q, 10), en = *q == '-' ? strtoull(q + 1, &q, 10) : 0;
            ok = en > st && add_range(L, st, en);
            p = *q == ',' ? q + 1 : q;
        }
    }
    if (L->seq_nr)
        L->seq_pos = L->seq_r[0].start;
    dl_buf_free(&v);
    return ok;
}

void dl_cli_enrich_object_end(struct loader *L, const struct obj *o, bool complete)
{
    if (!L->a->key_seq || !L->journal || !complete || !L->seq_nr)
        return; /* an object not read to its end keeps its ranges whole: a rerun finds out */
    /* give back the unused end of the last range, unless a range was handed out after it */
    struct dl_seq_range *last = &L->seq_r[L->seq_nr - 1];
    if (L->seq_i == L->seq_nr - 1 && last->end == L->seq_free && L->seq_pos > last->start && L->seq_pos < last->end) {
        last->end = L->seq_pos;
        L->seq_free = L->seq_pos;
        if (!put_ranges(L, false))
            dl_warn("%s: cannot record its key-sequence numbers in the journal", o->name);
    }
}

/* ---- media: decoder sink callbacks ---- */

int dl_cli_media_rule(void *ctx, const char *entry, const char *top)
{
    struct loader *L = ctx;
    return dl_media_rule_for(L->media, entry, top);
}

static void media_dead_letter(struct loader *L, const struct dl_origin *o, const char *msg)
{
    dl_error("%s", msg);
    L->media_failed = true;
    if (L->dlq && dl_deadletter_add(L->dlq, o, msg, dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0)))
        dl_error("cannot write the dead-letter file");
}

enum dl_err dl_cli_media_add(void *ctx, const struct dl_origin *o, int rule, struct dl_cursor bytes)
{
    struct loader *L = ctx;
    if (dl_stop_requested())
        return DL_ERR_CANCELLED;
    char err[1024], msg[1400];
    enum dl_err e = dl_media_add(L->media, o->source, rule, o->entry, bytes, err, sizeof err);
    if (e == DL_ERR_NOMEM)
        return e;
    if (e) {
        snprintf(msg, sizeof msg, "media file not uploaded: %s", err);
        media_dead_letter(L, o, msg);
    }
    return DL_OK;
}

enum dl_err dl_cli_media_done(void *ctx, const struct dl_origin *o)
{
    struct loader *L = ctx;
    char err[1024], msg[1400];
    enum dl_err e = dl_media_wait(L->media, err, sizeof err);
    if (e == DL_ERR_NOMEM)
        return e;
    if (e) {
        /* the files that failed are left out of the items' lists (and listed by the module) */
        snprintf(msg, sizeof msg, "media upload failed: %s", err);
        media_dead_letter(L, o, msg);
    }
    return DL_OK;
}

enum dl_err dl_cli_media_note(void *ctx, const struct dl_item *it)
{
    struct loader *L = ctx;
    if (dl_stop_requested())
        return DL_ERR_CANCELLED;
    return dl_media_note(L->media, it);
}

void dl_cli_media_end(void *ctx, const struct dl_origin *o)
{
    struct loader *L = ctx;
    (void)o;
    dl_media_end_zip(L->media);
}

/* The item as it must be written: with its media lists when a side-load is on. *out is it, or
 * L's scratch item. Returns DL_OK, or an error with a reason in why (reject the record). */
enum dl_err dl_cli_media_attach(struct loader *L, const struct dl_item *it, const struct dl_key_schema *ks,
                                const struct dl_item **out, struct dl_pos_err *why)
{
    *out = it;
    if (!L->media || it->del)
        return DL_OK;
    struct dl_item *m = &L->media_item;
    dl_item_reset(m);
    enum dl_err e = dl_buf_append(&m->wire, it->wire.data, it->wire.len);
    if (!e)
        e = dl_buf_append(&m->key, it->key.data, it->key.len);
    if (!e)
        e = dl_buf_append(&m->key_wire, it->key_wire.data, it->key_wire.len);
    m->size = it->size;
    if (!e)
        e = dl_media_attach(L->media, m, ks, why);
    if (!e)
        *out = m;
    return e;
}

bool dl_cli_media_failed(struct loader *L)
{
    if (!L->media)
        return false;
    struct dl_media_stats ms;
    dl_media_stats_get(L->media, &ms);
    return L->media_failed || ms.failed > 0;
}

void dl_cli_enrich_report(struct loader *L)
{
    if (L->a->key_seq && !L->a->quiet && L->seq_given)
        dl_info("--key-seq %s: %" PRIu64 " items numbered", L->a->key_seq, L->seq_given);
    if (!L->media)
        return;
    struct dl_media_stats ms;
    dl_media_stats_get(L->media, &ms);
    char c1[32];
    dl_info("media: %" PRIu64 " files, %" PRIu64 " uploaded (%s bytes), %" PRIu64 " already at the destination, "
            "%" PRIu64 " failed, %" PRIu64 " matched no item; %" PRIu64 " items with media, %" PRIu64 " without",
            ms.files, ms.uploaded, dl_cli_commas(ms.upload_bytes, c1, sizeof c1), ms.already_present, ms.failed,
            ms.unmatched_files, ms.items_with_media, ms.items_without_media);
}

void dl_cli_enrich_report_json(struct loader *L, FILE *f)
{
    if (L->a->key_seq) {
        fprintf(f, ",\"key_seq\":{\"attribute\":");
        struct dl_buf b;
        dl_buf_init(&b, 0);
        dl_buf_append_json_str(&b, L->a->key_seq, strlen(L->a->key_seq));
        fwrite(b.data, 1, b.len, f);
        dl_buf_free(&b);
        fprintf(f, ",\"numbered\":%" PRIu64 ",\"next_free\":%" PRIu64 "}", L->seq_given, L->seq_free);
    }
    if (!L->media)
        return;
    struct dl_media_stats ms;
    dl_media_stats_get(L->media, &ms);
    fprintf(f, ",\"media\":{\"files\":%" PRIu64 ",\"uploaded\":%" PRIu64 ",\"upload_bytes\":%" PRIu64
               ",\"already_present\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"unmatched_files\":%" PRIu64
               ",\"items_with_media\":%" PRIu64 ",\"items_without_media\":%" PRIu64 "}",
            ms.files, ms.uploaded, ms.upload_bytes, ms.already_present, ms.failed, ms.unmatched_files,
            ms.items_with_media, ms.items_without_media);
}

void dl_cli_enrich_free(struct loader *L)
{
    dl_transform_free(L->xform);
    L->xform = NULL;
    free(L->columns);
    free(L->columns_store);
    dl_media_destroy(L->media);
    L->media = NULL;
    for (int i = 0; L->media_store && i < L->a->nmedia; i++)
        free(L->media_store[i]);
    free(L->media_store);
    free(L->media_rules);
    dl_item_free(&L->media_item);
    free(L->seq_r);
    dl_buf_free(&L->seq_key);
}
