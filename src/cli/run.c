#include "cli/run.h"
#include "cli/cli_impl.h"
#include "cli/progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/glob.h"
#include "core/log.h"
#include "core/source.h"
#include "decode/decode.h"
#include "decode/manifest.h"
#include "pump/ddb.h"
#include "pump/deadletter.h"
#include "pump/pump.h"
#include "s3/s3.h"

#define MAX_LOGGED_REJECTS 20
#define MAX_OBJECT_BYTES ((uint64_t)1 << 40)     /* 1 TiB: objects past it are refused */
/* The --memory budget: a quarter for the pump's queue, a quarter for objects held in memory
 * (downloaded ahead, or being decoded); anything larger than 1/32 of it goes to a temp file. */
#define SPILL_MEM(L) ((size_t)((L)->a->memory / 32))
#define PREFETCH_BYTES(L) ((uint64_t)((L)->a->memory / 4))

double dl_cli_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "1234567" -> "1,234,567" */
const char *dl_cli_commas(uint64_t v, char *buf, size_t n)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof tmp, "%" PRIu64, v);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = tmp[i];
    }
    buf[o] = 0;
    return buf;
}

/* ---------- listing ---------- */

static struct obj *obj_add(struct loader *L)
{
    if (L->nobjs == L->aobjs) {
        size_t na = L->aobjs ? L->aobjs * 2 : 64;
        struct obj *n = realloc(L->objs, na * sizeof *n);
        if (!n)
            return NULL;
        L->objs = n;
        L->aobjs = na;
    }
    struct obj *o = &L->objs[L->nobjs++];
    memset(o, 0, sizeof *o);
    return o;
}

/* Free an object's download (request and body). */
static void obj_release(struct obj *o)
{
    if (o->done) {
        dl_journal_ranges_free(o->done);
        free(o->done);
        o->done = NULL;
    }
    dl_http_req_destroy(o->req);
    o->req = NULL;
    if (o->spill) {
        dl_spill_free(o->spill);
        free(o->spill);
        o->spill = NULL;
    }
}

static void objs_free(struct loader *L)
{
    for (size_t i = 0; i < L->nobjs; i++) {
        free(L->objs[i].name);
        free(L->objs[i].bucket);
        free(L->objs[i].key);
        free(L->objs[i].path);
        obj_release(&L->objs[i]);
    }
    free(L->objs);
    L->objs = NULL;
    L->nobjs = L->aobjs = 0;
}

bool dl_cli_ensure_net(struct loader *L, char *err, size_t errlen)
{
    if (!L->cfg_loaded) {
        if (dl_aws_config_load(&L->cfg, &L->a->aws, NULL, NULL, err, errlen))
            return false;
        L->cfg_loaded = true;
    }
    if (!L->net) {
        struct dl_net_opts no;
        dl_net_opts_default(&no);
        no.max_transfers = L->a->transfers;
        no.connect_timeout_ms = (long)(L->a->connect_timeout_s * 1000);
        no.total_timeout_ms = (long)(L->a->timeout_s * 1000);
        L->net = dl_net_new(&no);
        if (!L->net) {
            snprintf(err, errlen, "cannot start the network thread");
            return false;
        }
    }
    return true;
}

/* --include / --exclude / --start-after; rel is the key relative to the source's prefix. */
static bool wanted(const struct dl_args *a, const char *key, const char *rel)
{
    if (a->start_after && strcmp(key, a->start_after) <= 0)
        return false;
    bool in = a->ninclude == 0;
    for (int i = 0; !in && i < a->ninclude; i++)
        in = dl_glob_match(a->include[i], rel);
    for (int i = 0; in && i < a->nexclude; i++)
        in = !dl_glob_match(a->exclude[i], rel);
    return in;
}

/* A DynamoDB "export to S3" under a listed prefix: <dir>/manifest-summary.json, manifest-files.json
 * and the .json.gz objects under <dir>/data/ holding {"Item":{...}} lines. Its data objects are read as exports and
 * its bookkeeping files are not data. Returns the number of exports found. */
static size_t mark_exports(struct loader *L, size_t first)
{
    size_t found = 0;
    for (size_t i = first; i < L->nobjs; i++) {
        const char *n = L->objs[i].name;
        size_t len = strlen(n);
        static const char summary[] = "manifest-summary.json";
        if (len < sizeof summary - 1 || strcmp(n + len - (sizeof summary - 1), summary) != 0)
            continue;
        if (len > sizeof summary - 1 && n[len - sizeof summary] != '/')
            continue;
        found++;
        size_t dir = len - (sizeof summary - 1); /* prefix length, with its '/' */
        for (size_t k = first; k < L->nobjs; k++) {
            struct obj *o = &L->objs[k];
            if (strncmp(o->name, n, dir) != 0)
                continue;
            const char *rest = o->name + dir;
            if (!strncmp(rest, "data/", 5))
                o->format = DL_FMT_DDB_EXPORT;
            else if (!strncmp(rest, "manifest-", 9) || !strcmp(rest, "_started"))
                o->jstate = -1; /* not data: skipped */
        }
    }
    return found;
}

static bool list_sources(struct loader *L, char *err, size_t errlen)
{
    for (int i = 0; i < L->a->nsources; i++) {
        struct dl_source src;
        size_t first = L->nobjs;
        if (dl_source_parse(L->a->sources[i], &src, err, errlen))
            return false;
        bool ok = true;
        if (src.kind == DL_SOURCE_S3) {
            struct dl_s3_objects list = { 0 };
            struct dl_s3_list *lister = NULL;
            ok = dl_cli_ensure_net(L, err, errlen);
            if (ok && !(lister = dl_s3_list_new(&L->cfg, src.bucket, src.prefix, L->a->start_after, 1000))) {
                snprintf(err, errlen, "out of memory while listing");
                ok = false;
            }
            while (ok && !dl_s3_list_done(lister))
                ok = dl_s3_list_next(lister, L->net, &list, err, errlen) == DL_OK;
            dl_s3_list_destroy(lister);
            size_t plen = strlen(src.prefix);
            for (size_t k = 0; ok && k < list.count; k++) {
                struct dl_s3_object *so = &list.items[k];
                /* "folder" placeholder objects hold no data */
                if (so->key_len && so->key[so->key_len - 1] == '/' && so->size == 0)
                    continue;
                const char *rel = so->key + (plen <= so->key_len ? plen : 0);
                while (*rel == '/')
                    rel++;
                if (!wanted(L->a, so->key, rel))
                    continue;
                struct obj *o = obj_add(L);
                size_t nlen = strlen(src.bucket) + so->key_len + 7;
                if (!o || !(o->name = malloc(nlen)) || !(o->bucket = strdup(src.bucket)) ||
                    !(o->key = strndup(so->key, so->key_len))) {
                    snprintf(err, errlen, "out of memory while listing");
                    ok = false;
                    break;
                }
                snprintf(o->name, nlen, "s3://%s/%s", src.bucket, o->key);
                o->key_len = so->key_len;
                o->size = so->size;
                snprintf(o->etag, sizeof o->etag, "%s", so->etag);
                snprintf(o->version, sizeof o->version, "etag:%s", so->etag);
                L->total_bytes += so->size;
            }
            dl_s3_objects_free(&list);
            if (ok && L->a->verbose)
                dl_info("listed %s", L->a->sources[i]);
        } else {
            struct dl_source_list list = { 0 };
            ok = dl_source_list_local(src.path, &list, err, errlen) == DL_OK;
            for (size_t k = 0; ok && k < list.count; k++) {
                if (!wanted(L->a, list.items[k].key, list.items[k].key))
                    continue;
                struct obj *o = obj_add(L);
                if (!o || !(o->name = strdup(list.items[k].path)) || !(o->path = strdup(list.items[k].path))) {
                    snprintf(err, errlen, "out of memory while listing");
                    ok = false;
                    break;
                }
                o->size = list.items[k].size;
                snprintf(o->version, sizeof o->version, "size:%llu mtime:%lld.%09d", (unsigned long long)o->size,
                         (long long)list.items[k].mtime_sec, (int)list.items[k].mtime_nsec);
                L->total_bytes += o->size;
            }
            dl_source_list_free(&list);
        }
        dl_source_free(&src);
        if (!ok)
            return false;
        size_t exports = mark_exports(L, first);
        if (exports)
            dl_info("%s holds %zu DynamoDB export%s: reading its data files as export items", L->a->sources[i],
                    exports, exports == 1 ? "" : "s");
    }
    return true;
}

/* ---------- downloads (prefetched on the network thread, consumed in order) ---------- */

static void on_download(struct dl_http_req *r, void *ctx)
{
    struct loader *L = ctx;
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->nobjs; i++)
        if (L->objs[i].req == r) {
            L->objs[i].state = 2;
            break;
        }
    pthread_cond_broadcast(&L->cv);
    pthread_mutex_unlock(&L->mu);
}

/* Start downloads ahead of object `cur`: at most --downloads at once, and no more than
 * PREFETCH_BYTES held in memory ahead (objects that go to temp files do not count; the next
 * object always starts, whatever its size). */
static void prefetch(struct loader *L, size_t cur)
{
    int active = 0;
    uint64_t ahead = 0;
    for (size_t i = cur; i < L->nobjs; i++) {
        struct obj *o = &L->objs[i];
        if (!o->bucket)
            continue;
        if (o->jstate == DL_JOURNAL_DONE || o->jstate < 0)
            continue;
        uint64_t in_mem = o->size > SPILL_MEM(L) ? 0 : o->size;
        if (o->state == 1 || o->state == 2) {
            active++;
            ahead += in_mem;
            continue;
        }
        if (active >= L->a->downloads || (i > cur && ahead + in_mem > PREFETCH_BYTES(L)))
            break;
        o->req = dl_http_req_new();
        if (!o->req || dl_s3_get_prepare(o->req, &L->cfg, o->bucket, dl_cursor_of(o->key, o->key_len))) {
            dl_http_req_destroy(o->req);
            o->req = NULL;
            break; /* out of memory: try again when something is freed */
        }
        o->req->resp.cap = 1 << 20; /* error documents only: the body goes to the spill */
        o->spill = malloc(sizeof *o->spill);
        if (!o->spill) {
            dl_http_req_destroy(o->req);
            o->req = NULL;
            break;
        }
        /* an object the listing shows is large goes straight to a temporary file */
        dl_spill_init(o->spill, o->size > SPILL_MEM(L) ? 0 : SPILL_MEM(L), MAX_OBJECT_BYTES);
        o->req->spill = o->spill;
        o->req->resume = true; /* a body cut off mid-way continues with a Range GET */
        o->req->done = on_download;
        o->req->ctx = L;
        o->state = 1;
        active++;
        ahead += in_mem;
        if (dl_net_submit(L->net, o->req) != DL_OK) {
            o->req->result = DL_ERR_CANCELLED;
            o->state = 2;
        }
    }
}

/* ---------- sinks ---------- */

static void log_reject(struct loader *L, const char *reason)
{
    uint64_t n = __atomic_add_fetch(&L->logged_rejects, 1, __ATOMIC_RELAXED);
    if (n <= MAX_LOGGED_REJECTS)
        dl_warn("%s", reason);
    else if (n == MAX_LOGGED_REJECTS + 1)
        dl_warn("more rejected records: see the dead-letter file");
}

/* Every record of an object (item or reject) gets the next journal record number; true if an
 * earlier run already settled it (then it is neither sent nor dead-lettered again). */
static bool already_done(struct loader *L, uint64_t *seq)
{
    *seq = ++L->cur_seq;
    struct obj *o = L->nobjs ? &L->objs[L->cur_obj] : NULL;
    if (o && o->done && dl_journal_ranges_has(o->done, *seq)) {
        L->skipped_records++;
        return true;
    }
    return false;
}

#define TAG(obj, seq) ((uint64_t)(obj) << 40 | (seq))

static void journal_ack(struct loader *L, size_t obj, uint64_t seq)
{
    if (L->journal && obj < L->nobjs && seq)
        dl_journal_ack(L->journal, L->objs[obj].name, L->objs[obj].version, seq, seq);
}

/* pump thread: a write is settled (written, superseded or dead-lettered) */
static void on_resolved(void *ctx, uint64_t tag)
{
    journal_ack(ctx, (size_t)(tag >> 40), tag & ((1ull << 40) - 1));
}

static enum dl_err sink_reject(void *ctx, const struct dl_origin *o, const char *reason, struct dl_cursor raw)
{
    struct loader *L = ctx;
    uint64_t seq;
    if (already_done(L, &seq))
        return DL_OK;
    log_reject(L, reason);
    if (!L->dlq)
        return DL_OK;
    enum dl_err e = dl_deadletter_add(L->dlq, o, reason, dl_cursor_of(NULL, 0), raw);
    if (e)
        dl_error("%s", dl_deadletter_error(L->dlq) ? dl_deadletter_error(L->dlq) : "cannot write the dead-letter file");
    else
        journal_ack(L, L->cur_obj, seq); /* durably in the dead-letter file: settled */
    return e;
}

static enum dl_err sink_skip(void *ctx, const struct dl_origin *o, const char *reason)
{
    struct loader *L = ctx;
    char msg[1200];
    snprintf(msg, sizeof msg, "skipped: %s", reason);
    dl_error("%s", msg);
    if (!L->dlq)
        return DL_OK;
    enum dl_err e = dl_deadletter_add(L->dlq, o, msg, dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0));
    if (e)
        dl_error("%s", dl_deadletter_error(L->dlq) ? dl_deadletter_error(L->dlq) : "cannot write the dead-letter file");
    return e;
}

/* The pump for a record: its manifest's table, or --table. */
static struct dl_pump *pump_for(struct loader *L, const struct dl_origin *o)
{
    if (o->table && strcmp(o->table, L->a->table) != 0)
        for (int i = 0; i < L->nroutes; i++)
            if (!strcmp(L->routes[i].table, o->table))
                return L->routes[i].pump;
    return L->pump;
}

/* A route that cannot be used keeps its reason for the files that come to it later. */
static const struct dl_key_schema *route_failed(struct route *r, const char *err)
{
    snprintf(r->err, sizeof r->err, "%s", err);
    return NULL;
}

/* A zip manifest names a table: use it (creating it when missing), with its own pump. */
static const struct dl_key_schema *route_table(void *ctx, const struct dl_manifest_entry *me, char *err,
                                               size_t errlen)
{
    struct loader *L = ctx;
    if (!strcmp(me->table, L->a->table))
        return &L->table.ks;
    if (L->a->key_seq) {
        /* the sequence starts after --table's largest value: another table's could collide */
        snprintf(err, errlen, "--key-seq numbers items of '%s' only; this file goes to another table",
                 L->a->table);
        return NULL;
    }
    for (int i = 0; i < L->nroutes; i++)
        if (!strcmp(L->routes[i].table, me->table)) {
            if (!L->routes[i].pump)
                snprintf(err, errlen, "%s", L->routes[i].err);
            return L->routes[i].pump ? &L->routes[i].info.ks : NULL;
        }
    if (L->nroutes == DL_MAX_ROUTES) {
        snprintf(err, errlen, "more than %d tables in one run", DL_MAX_ROUTES);
        return NULL;
    }
    struct route *r = &L->routes[L->nroutes++];
    memset(r, 0, sizeof *r);
    r->table = strdup(me->table);
    if (!r->table) {
        snprintf(err, errlen, "out of memory");
        return route_failed(r, err);
    }
    char derr[600];
    enum dl_err e = dl_ddb_describe_table(L->net, &L->cfg, me->table, &r->info, derr, sizeof derr);
    if (e == DL_ERR_NOT_FOUND) {
        if (L->a->no_create) {
            snprintf(err, errlen, "the table does not exist (and --no-create was given)");
            return route_failed(r, err);
        }
        struct dl_key_schema ks = { me->sk.name ? 2 : 1,
                                    { { (char *)me->pk.name, strlen(me->pk.name), me->pk.type },
                                      { (char *)me->sk.name, me->sk.name ? strlen(me->sk.name) : 0, me->sk.type } } };
        dl_info("creating table '%s' (on-demand, key %s %s%s%s%s%s) as %s asks", me->table, me->pk.name,
                dl_manifest_type_name(me->pk.type), me->sk.name ? ", " : "", me->sk.name ? me->sk.name : "",
                me->sk.name ? " " : "", me->sk.name ? dl_manifest_type_name(me->sk.type) : "", me->source);
        if ((e = dl_ddb_create_table(L->net, &L->cfg, me->table, &ks, derr, sizeof derr))) {
            snprintf(err, errlen, "%s", derr);
            return route_failed(r, err);
        }
    } else if (e) {
        snprintf(err, errlen, "%s", derr);
        return route_failed(r, err);
    }
    /* wait until it is ACTIVE (a new table is CREATING for a while) */
    for (int i = 0; i < 600; i++) {
        dl_table_info_free(&r->info);
        if (dl_ddb_describe_table(L->net, &L->cfg, me->table, &r->info, derr, sizeof derr)) {
            snprintf(err, errlen, "%s", derr);
            return route_failed(r, err);
        }
        if (strcmp(r->info.status, "CREATING") != 0)
            break;
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
    const struct dl_key_schema *ks = &r->info.ks;
    if (strcmp(ks->k[0].name, me->pk.name) != 0 || ks->k[0].type != me->pk.type)
        dl_warn("table '%s': the manifest (%s) says partition key %s %c, the table has %s %c: using the table's",
                me->table, me->source, me->pk.name, me->pk.type, ks->k[0].name, ks->k[0].type);
    struct dl_pump_opts po;
    dl_cli_pump_opts(L->a, &r->info, &po);
    po.on_resolved = L->pump_opts.on_resolved;
    po.resolved_ctx = L->pump_opts.resolved_ctx;
    r->pump = dl_pump_new(L->net, &L->cfg, r->table, ks, &po, L->dlq);
    if (!r->pump) {
        snprintf(err, errlen, "out of memory");
        return route_failed(r, err);
    }
    return ks;
}

/* The key schema a record is mapped with: its manifest's table's, or the command's. */
static const struct dl_key_schema *ks_for(struct loader *L, const struct dl_origin *o)
{
    if (o->table && L->a->table && strcmp(o->table, L->a->table) != 0)
        for (int i = 0; i < L->nroutes; i++)
            if (!strcmp(L->routes[i].table, o->table) && L->routes[i].pump)
                return &L->routes[i].info.ks;
    return L->cmd_run || L->a->table ? &L->table.ks : &L->cli_ks;
}

/* An item that cannot be written after decoding (its media lists break a rule): dead-letter it
 * with the item as it was, as a settled record. */
static enum dl_err dead_item(struct loader *L, const struct dl_origin *o, uint64_t seq, const struct dl_item *it,
                             const char *why)
{
    char reason[1400], at[900];
    snprintf(at, sizeof at, "%s%s%s", o->source, o->entry ? " entry " : "", o->entry ? o->entry : "");
    if (o->line)
        snprintf(at + strlen(at), sizeof at - strlen(at), " line %llu", (unsigned long long)o->line);
    snprintf(reason, sizeof reason, "%s: %s", at, why);
    L->st.items--; /* the decoder counted it as an item */
    L->st.rejected++;
    log_reject(L, reason);
    if (!L->dlq)
        return DL_OK;
    enum dl_err e = dl_deadletter_add(L->dlq, o, reason, dl_cursor_of(NULL, 0), dl_cursor_of(it->wire.data, it->wire.len));
    if (e)
        dl_error("%s", dl_deadletter_error(L->dlq) ? dl_deadletter_error(L->dlq) : "cannot write the dead-letter file");
    else if (seq)
        journal_ack(L, L->cur_obj, seq);
    return e;
}

/* The item to write, with its media lists when a side-load is on (*w). An item they would make
 * unwritable is dead-lettered instead: *w = NULL. */
static enum dl_err with_media(struct loader *L, const struct dl_item *it, const struct dl_origin *o, uint64_t seq,
                              const struct dl_item **w)
{
    struct dl_pos_err why;
    dl_pos_err_clear(&why);
    enum dl_err e = dl_cli_media_attach(L, it, ks_for(L, o), w, &why);
    if (e == DL_ERR_NOMEM)
        return e;
    if (e) {
        *w = NULL;
        return dead_item(L, o, seq, it, why.msg);
    }
    return DL_OK;
}

static enum dl_err sink_pump(void *ctx, const struct dl_item *it, const struct dl_origin *o)
{
    struct loader *L = ctx;
    if (dl_stop_requested())
        return DL_ERR_CANCELLED;
    uint64_t seq;
    if (already_done(L, &seq))
        return DL_OK;
    struct dl_origin tagged = *o;
    tagged.tag = TAG(L->cur_obj, seq);
    const struct dl_item *w;
    enum dl_err e = with_media(L, it, o, seq, &w);
    if (e || !w)
        return e;
    return dl_pump_submit(pump_for(L, o), w->del ? DL_WRITE_DELETE : DL_WRITE_PUT, w, &tagged);
}

/* convert: one line per item; a Delete (--op-field) as {"DeleteRequest":{"Key":{...}}} */
static enum dl_err sink_print(void *ctx, const struct dl_item *it, const struct dl_origin *o)
{
    struct loader *L = ctx;
    const struct dl_item *w;
    enum dl_err e = with_media(L, it, o, 0, &w);
    if (e || !w)
        return e;
    bool ok;
    if (w->del)
        ok = fputs("{\"DeleteRequest\":{\"Key\":", L->out) != EOF &&
             fwrite(w->key_wire.data, 1, w->key_wire.len, L->out) == w->key_wire.len && fputs("}}\n", L->out) != EOF;
    else
        ok = fwrite(w->wire.data, 1, w->wire.len, L->out) == w->wire.len && fputc('\n', L->out) != EOF;
    return ok ? DL_OK : DL_ERR_IO;
}

/* ---------- the object loop ---------- */

/* Decode every object in order through sink. Returns false on a fatal error (message logged). */
static bool load_objects(struct loader *L, struct dl_decoder *dec, const struct dl_decode_sink *sink)
{
    struct dl_spill local;
    dl_spill_init(&local, 0, 0);
    bool ok = true;
    for (size_t i = 0; i < L->nobjs && ok; i++, L->objs_done = i) {
        struct obj *o = &L->objs[i];
        if (dl_stop_requested())
            break;
        if (o->jstate == DL_JOURNAL_DONE || o->jstate < 0)
            continue; /* loaded by an earlier run (not even downloaded), or not data */
        L->cur_obj = i;
        L->cur_seq = 0;
        struct dl_cursor bytes;
        char err[1024];
        if (o->bucket) {
            pthread_mutex_lock(&L->mu);
            prefetch(L, i);
            while (o->state != 2)
                pthread_cond_wait(&L->cv, &L->mu);
            pthread_mutex_unlock(&L->mu);
            enum dl_err e = dl_s3_error_message(o->req, o->bucket, o->key, err, sizeof err);
            if (e == DL_ERR_CREDENTIALS) {
                dl_error("%s", err);
                ok = false;
                break;
            }
            if (e) {
                L->failed_objects++;
                struct dl_origin org = { o->name, NULL, 0, 0, 0, NULL, 0 };
                char msg[1200];
                snprintf(msg, sizeof msg, "object could not be downloaded: %s", err);
                dl_error("%s", msg);
                if (L->dlq && dl_deadletter_add(L->dlq, &org, msg, dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0)))
                    ok = false;
                obj_release(o);
                continue;
            }
            if (o->etag[0] && o->req->resume_etag[0] && strcmp(o->etag, o->req->resume_etag) != 0)
                dl_warn("%s changed after it was listed (ETag %s, now %s): loading what was downloaded", o->name,
                        o->etag, o->req->resume_etag);
            if (o->req->resumes)
                dl_info("%s: the download was cut off and resumed %d time%s from where it stopped", o->name,
                        o->req->resumes, o->req->resumes == 1 ? "" : "s");
            if (dl_spill_view(o->spill, &bytes)) {
                L->failed_objects++;
                struct dl_origin org = { o->name, NULL, 0, 0, 0, NULL, 0 };
                snprintf(err, sizeof err, "%s: %s", o->name, o->spill->err);
                dl_error("%s", err);
                if (L->dlq && dl_deadletter_add(L->dlq, &org, err, dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0)))
                    ok = false;
                obj_release(o);
                continue;
            }
            dl_decoder_set_spill(dec, o->spill);
        } else {
            enum dl_err e = dl_spill_map_file(&local, o->path, &bytes);
            if (e) {
                L->failed_objects++;
                struct dl_origin org = { o->name, NULL, 0, 0, 0, NULL, 0 };
                snprintf(err, sizeof err, "%s: cannot read the file: %s", o->name, local.err);
                dl_error("%s", err);
                if (L->dlq && dl_deadletter_add(L->dlq, &org, err, dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0)))
                    ok = false;
                continue;
            }
            dl_decoder_set_spill(dec, &local);
        }
        L->bytes += bytes.len;
        if (L->a->verbose)
            dl_info("decoding %s (%zu bytes)", o->name, bytes.len);
        if (!dl_cli_enrich_object_begin(L, dec, o)) {
            dl_error("%s: cannot record the key sequence in the journal (or out of memory)", o->name);
            ok = false;
            dl_decoder_set_spill(dec, NULL);
            obj_release(o);
            dl_spill_free(&local);
            break;
        }
        enum dl_err e = dl_decode_object_as(dec, o->name, bytes, (enum dl_format)o->format, sink, &L->st);
        dl_cli_enrich_object_end(L, o, e == DL_OK);
        if (!e && L->journal)
            dl_journal_object_complete(L->journal, o->name, o->version, L->cur_seq);
        if (e == DL_ERR_CANCELLED && dl_stop_requested()) {
            L->stopped_in = o->name;
        } else if (e) {
            const char *why = L->pump && dl_pump_error(L->pump) ? dl_pump_error(L->pump)
                              : L->dlq && dl_deadletter_error(L->dlq) ? dl_deadletter_error(L->dlq)
                              : e == DL_ERR_IO ? "cannot write the output" : dl_err_str(e);
            dl_error("stopped while loading %s: %s", o->name, why);
            ok = false;
        }
        dl_decoder_set_spill(dec, NULL);
        obj_release(o);
        dl_spill_free(&local);
    }
    /* leave no download running behind us */
    pthread_mutex_lock(&L->mu);
    for (size_t i = 0; i < L->nobjs; i++)
        while (L->objs[i].state == 1)
            pthread_cond_wait(&L->cv, &L->mu);
    pthread_mutex_unlock(&L->mu);
    dl_spill_free(&local);
    return ok;
}

void dl_cli_loader_init(struct loader *L, const struct dl_args *a)
{
    memset(L, 0, sizeof *L);
    L->a = a;
    dl_item_init(&L->media_item);
    dl_buf_init(&L->seq_key, 0);
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->cv, NULL);
}

static void *flusher_main(void *arg)
{
    struct loader *L = arg;
    pthread_mutex_lock(&L->mu);
    while (!L->flusher_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&L->cv, &L->mu, &ts);
        pthread_mutex_unlock(&L->mu);
        if (L->dlq)
            dl_deadletter_sync(L->dlq);
        dl_journal_flush(L->journal);
        pthread_mutex_lock(&L->mu);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

/* Open the journal and read every object's state (before any download). */
static bool journal_start(struct loader *L, char *err, size_t errlen)
{
    const struct dl_args *a = L->a;
    if (a->no_journal)
        return true;
    struct dl_buf id, path;
    dl_buf_init(&id, 0);
    dl_buf_init(&path, 0);
    dl_buf_printf(&id, "ddbload run\ntable=%s\nregion=%s\nendpoint=%s\nformat=%s\ndelimiter=%d\n", a->table,
                  L->cfg.region ? L->cfg.region : "", L->cfg.endpoint_dynamodb ? L->cfg.endpoint_dynamodb : "aws",
                  dl_format_name(a->format), a->delimiter);
    for (int i = 0; i < a->nsources; i++)
        dl_buf_printf(&id, "source=%s\n", a->sources[i]);
    for (int i = 0; i < a->ninclude; i++)
        dl_buf_printf(&id, "include=%s\n", a->include[i]);
    for (int i = 0; i < a->nexclude; i++)
        dl_buf_printf(&id, "exclude=%s\n", a->exclude[i]);
    dl_cli_enrich_identity(a, &id);
    bool ok = true;
    if (a->journal)
        dl_buf_append_str(&path, a->journal);
    else if (dl_journal_path_for(DL_JOURNAL_DEFAULT_DIR, (const char *)id.data, &path))
        ok = false;
    if (ok && dl_journal_open((const char *)path.data, (const char *)id.data, a->restart, &L->journal, err, errlen))
        ok = false;
    for (size_t i = 0; ok && i < L->nobjs; i++) {
        struct obj *o = &L->objs[i];
        if (o->jstate < 0)
            continue;
        o->jstate = dl_journal_object_state(L->journal, o->name, o->version);
        if (o->jstate == DL_JOURNAL_DONE) {
            L->resumed_done++;
        } else if (o->jstate == DL_JOURNAL_PARTIAL) {
            L->resumed_partial++;
            o->done = calloc(1, sizeof *o->done);
            if (!o->done || dl_journal_acked_ranges(L->journal, o->name, o->version, o->done)) {
                free(o->done);
                o->done = NULL;
            }
        } else if (o->jstate == DL_JOURNAL_CHANGED) {
            dl_info("%s changed since the journal saw it: loading it again in full", o->name);
        }
    }
    if (ok && (L->resumed_done || L->resumed_partial))
        dl_info("resuming from %s: %llu object%s already loaded, %llu partly", (const char *)path.data,
                (unsigned long long)L->resumed_done, L->resumed_done == 1 ? "" : "s",
                (unsigned long long)L->resumed_partial);
    if (ok && !(L->flusher_running = pthread_create(&L->flusher, NULL, flusher_main, L) == 0))
        ok = false;
    dl_buf_free(&id);
    dl_buf_free(&path);
    return ok;
}

static void journal_stop(struct loader *L)
{
    if (L->flusher_running) {
        pthread_mutex_lock(&L->mu);
        L->flusher_stop = true;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->flusher, NULL);
        L->flusher_running = false;
    }
    if (L->journal) {
        char err[256];
        if (L->dlq)
            dl_deadletter_sync(L->dlq); /* dead letters count as settled: durable first */
        if (dl_journal_flush(L->journal) && dl_journal_error(L->journal, err, sizeof err))
            dl_error("journal: %s", err);
        dl_journal_close(L->journal);
        L->journal = NULL;
    }
}

void dl_cli_loader_free(struct loader *L)
{
    if (L->pump)
        dl_pump_destroy(L->pump);
    for (int i = 0; i < L->nroutes; i++) {
        dl_pump_destroy(L->routes[i].pump);
        dl_table_info_free(&L->routes[i].info);
        free(L->routes[i].table);
    }
    journal_stop(L); /* after the pumps: they acknowledge into the journal */
    dl_cli_enrich_free(L); /* media uploads run on the network thread: before it goes */
    dl_net_destroy(L->net);
    objs_free(L);
    dl_table_info_free(&L->table);
    free(L->cli_ks_names);
    dl_deadletter_destroy(L->dlq);
    if (L->cfg_loaded)
        dl_aws_config_free(&L->cfg);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->cv);
}

char *dl_cli_default_dead_letter(void)
{
    char name[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(name, sizeof name, "ddbload-dead-letter-%Y%m%d-%H%M%S.ndjson.zst", &tm);
    return strdup(name);
}

void dl_cli_pump_opts(const struct dl_args *a, const struct dl_table_info *t, struct dl_pump_opts *po)
{
    dl_pump_opts_default(po);
    po->max_queued_bytes = (size_t)(a->memory / 4);
    po->max_inflight = a->max_inflight;
    po->max_attempts = a->max_attempts;
    po->hot_key_wcu = a->hot_key_wcu;
    double share = a->write_percent / 100;
    if (a->max_wcu > 0) {
        po->max_wcu = a->max_wcu;
    } else if (!t->on_demand && t->wcu > 0) {
        po->max_wcu = (double)t->wcu * share;
    } else if (t->on_demand) {
        /* DynamoDB: a new on-demand table takes ~4,000 writes/s at once and up to twice its
         * previous peak; the account default maximum is 40,000 WRU/s. */
        po->max_wcu = (t->max_wru ? (double)t->max_wru : 40000.0) * share;
        po->start_wcu = po->max_wcu < 4000 ? po->max_wcu : 4000;
    }
}

void dl_cli_log_rate(const struct dl_table_info *t, const struct dl_pump_opts *po)
{
    if (po->max_wcu <= 0)
        dl_info("write rate: not limited (the table reports no capacity)");
    else if (t->on_demand)
        dl_info("write rate: on-demand table, starting at %.0f WCU/s, growing up to %.0f WCU/s while DynamoDB keeps up",
                po->start_wcu, po->max_wcu);
    else
        dl_info("write rate: up to %.0f WCU/s (table: %llu WCU provisioned), lowered on throttling",
                po->max_wcu, (unsigned long long)t->wcu);
}

/* DescribeTable, waiting (up to 5 minutes) while the table is being created: writes to a
 * CREATING table fail with ResourceNotFoundException. */
bool dl_cli_describe_active(struct loader *L, const char *table, char *err, size_t errlen)
{
    for (int i = 0; i < 600; i++) {
        dl_table_info_free(&L->table);
        if (dl_ddb_describe_table(L->net, &L->cfg, table, &L->table, err, errlen))
            return false;
        if (strcmp(L->table.status, "CREATING") != 0)
            return true;
        if (i == 0)
            dl_info("table '%s' is being created; waiting until it is ACTIVE", table);
        struct timespec ts = { 0, 500 * 1000000L };
        nanosleep(&ts, NULL);
    }
    snprintf(err, errlen, "table '%s' is still CREATING after 5 minutes", table);
    return false;
}

static void decode_opts(const struct loader *L, const struct dl_key_schema *ks, struct dl_decode_opts *o)
{
    memset(o, 0, sizeof *o);
    o->spill_mem = (size_t)(L->a->memory / 32);
    o->format = L->a->format;
    o->ks = ks;
    o->delimiter = L->a->delimiter;
    o->threads = L->a->decode_threads;
    /* chunks in flight are about (threads + 3) x chunk_size of input plus their items: keep
     * that a small share of a small budget */
    if (L->a->memory < (256ull << 20))
        o->chunk_size = (size_t)1 << 20;
}

static void json_str(FILE *f, const char *v)
{
    struct dl_buf b;
    dl_buf_init(&b, 0);
    dl_buf_append_json_str(&b, v ? v : "", v ? strlen(v) : 0);
    fputs(v ? (const char *)b.data : "null", f);
    dl_buf_free(&b);
}

static void json_field_str(FILE *f, const char *name, const char *v, bool comma)
{
    fprintf(f, "%s\"%s\":", comma ? "," : "", name);
    json_str(f, v);
}

/* --report FILE.json: totals, rates, time and dead letters by reason. */
static bool write_report(struct loader *L, const struct dl_args *a, const struct dl_pump_stats *ps, double dt,
                         const char *dlpath, int status, char *err, size_t errlen)
{
    FILE *f = fopen(a->report, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write the report %s", a->report);
        return false;
    }
    uint64_t kinds[DL_DEAD_KINDS];
    dl_deadletter_counts(L->dlq, kinds);
    uint64_t dead = dl_deadletter_count(L->dlq);
    fprintf(f, "{\"command\":\"run\"");
    json_field_str(f, "table", a->table, true);
    fprintf(f, ",\"sources\":[");
    for (int i = 0; i < a->nsources; i++)
    {
        if (i)
            fputc(',', f);
        json_str(f, a->sources[i]);
    }
    fprintf(f, "],\"exit_status\":%d,\"stopped\":%s,\"seconds\":%.3f", status, dl_stop_requested() ? "true" : "false", dt);
    fprintf(f, ",\"objects\":{\"total\":%zu,\"read\":%zu,\"failed\":%" PRIu64 ",\"zip_entries\":%" PRIu64
               ",\"skipped_objects_or_entries\":%" PRIu64 "},\"bytes\":%" PRIu64,
            L->nobjs, L->objs_done, L->failed_objects, L->st.entries, L->st.skipped, L->bytes);
    fprintf(f, ",\"records\":%" PRIu64 ",\"items\":{\"submitted\":%" PRIu64 ",\"written\":%" PRIu64
               ",\"superseded\":%" PRIu64 ",\"dead_lettered_by_pump\":%" PRIu64 ",\"rejected_while_decoding\":%" PRIu64
               ",\"abandoned\":%" PRIu64 "}",
            L->st.records, ps->submitted, ps->written, ps->superseded, ps->deadlettered, L->st.rejected, ps->abandoned);
    double wcu = ps->consumed_wcu > 0 ? ps->consumed_wcu : (double)ps->wcu_sent;
    fprintf(f, ",\"rates\":{\"items_per_s\":%.1f,\"wcu_per_s\":%.1f,\"target_wcu_per_s\":%.1f}",
            dt > 0 ? (double)ps->written / dt : 0, dt > 0 ? wcu / dt : 0, ps->rate);
    fprintf(f, ",\"requests\":{\"batch_write_item\":%" PRIu64 ",\"throttled\":%" PRIu64 ",\"unprocessed_items\":%" PRIu64
               ",\"item_retries\":%" PRIu64 ",\"splits\":%" PRIu64 ",\"hot_key_waits\":%" PRIu64 ",\"rate_cuts\":%" PRIu64 "}",
            ps->requests, ps->throttled, ps->unprocessed, ps->retries, ps->splits, ps->hot_key_waits, ps->rate_cuts);
    fprintf(f, ",\"dead_letters\":{\"count\":%" PRIu64, dead);
    json_field_str(f, "file", dead ? dlpath : NULL, true);
    fprintf(f, ",\"by_reason\":{");
    for (int k = 0; k < DL_DEAD_KINDS; k++)
        fprintf(f, "%s\"%s\":%" PRIu64, k ? "," : "", dl_dead_kind_name((enum dl_dead_kind)k), kinds[k]);
    fprintf(f, "}}");
    dl_cli_enrich_report_json(L, f);
    fprintf(f, "}\n");
    bool ok = fflush(f) == 0 && !ferror(f);
    fclose(f);
    if (!ok)
        snprintf(err, errlen, "cannot write the report %s", a->report);
    return ok;
}

int dl_cmd_run(const struct dl_args *a)
{
    struct loader L;
    struct dl_decoder *dec = NULL;
    char err[1024];
    char *dlpath = NULL;
    int status = 1;
    double t0 = dl_cli_now_s();
    dl_cli_loader_init(&L, a);
    if (!dl_cli_ensure_net(&L, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (!dl_cli_describe_active(&L, a->table, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (!list_sources(&L, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (L.nobjs == 0) {
        dl_error("nothing to load: no objects under %s%s", a->sources[0], a->nsources > 1 ? " (or the other sources)" : "");
        goto out;
    }
    L.cmd_run = true;
    if (!journal_start(&L, err, sizeof err)) {
        dl_error("journal: %s", err);
        goto out;
    }
    dlpath = a->dead_letter ? strdup(a->dead_letter) : dl_cli_default_dead_letter();
    L.dlq = dlpath ? dl_deadletter_new(dlpath) : NULL;
    struct dl_pump_opts po;
    dl_cli_pump_opts(a, &L.table, &po);
    po.on_resolved = L.journal ? on_resolved : NULL;
    po.resolved_ctx = &L;
    L.pump_opts = po;
    if (!a->quiet)
        dl_cli_log_rate(&L.table, &po);
    L.pump = L.dlq ? dl_pump_new(L.net, &L.cfg, a->table, &L.table.ks, &po, L.dlq) : NULL;
    struct dl_decode_opts dopt;
    decode_opts(&L, &L.table.ks, &dopt);
    if (!dl_cli_enrich_setup(&L, a->table, &dopt, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    dec = L.pump ? dl_decoder_new(&dopt) : NULL;
    if (!dec) {
        dl_error("out of memory");
        goto out;
    }
    if (!a->quiet)
        dl_info("loading %zu object%s into table '%s' (key %s%s%s)", L.nobjs, L.nobjs == 1 ? "" : "s", a->table,
                L.table.ks.k[0].name, L.table.ks.n > 1 ? ", " : "", L.table.ks.n > 1 ? L.table.ks.k[1].name : "");
    struct dl_decode_sink sink = { .item = sink_pump, .reject = sink_reject, .skip = sink_skip, .route = route_table,
                                   .ctx = &L };
    if (L.media) {
        sink.media_rule = dl_cli_media_rule;
        sink.media = dl_cli_media_add;
        sink.media_done = dl_cli_media_done;
        sink.media_end = dl_cli_media_end;
        sink.media_note = dl_cli_media_note;
    }
    L.started = t0;
    if (!a->quiet)
        dl_progress_start(&L, isatty(2), a->log_json);
    bool ok = load_objects(&L, dec, &sink);
    /* on a stop, queued writes are abandoned and requests in flight finish */
    enum dl_err pe = dl_pump_finish_or_stop(L.pump, dl_stop_requested);
    for (int i = 0; i < L.nroutes; i++)
        if (L.routes[i].pump && dl_pump_finish_or_stop(L.routes[i].pump, dl_stop_requested) && !pe)
            pe = DL_ERR_AWS;
    dl_progress_stop();
    journal_stop(&L); /* flushed: everything acknowledged so far is on disk */
    if (pe && dl_pump_error(L.pump)) {
        dl_error("%s", dl_pump_error(L.pump));
        ok = false;
    }
    struct dl_pump_stats ps;
    dl_pump_stats_get(L.pump, &ps);
    for (int i = 0; i < L.nroutes; i++) {
        struct dl_pump_stats rs;
        if (!L.routes[i].pump)
            continue;
        dl_pump_stats_get(L.routes[i].pump, &rs);
        if (dl_pump_error(L.routes[i].pump)) {
            dl_error("%s", dl_pump_error(L.routes[i].pump));
            ok = false;
        }
        dl_info("%" PRIu64 " items written to '%s' (routed by a manifest)", rs.written, L.routes[i].table);
        ps.submitted += rs.submitted;
        ps.written += rs.written;
        ps.superseded += rs.superseded;
        ps.deadlettered += rs.deadlettered;
        ps.requests += rs.requests;
        ps.throttled += rs.throttled;
        ps.unprocessed += rs.unprocessed;
        ps.retries += rs.retries;
        ps.consumed_wcu += rs.consumed_wcu;
        ps.wcu_sent += rs.wcu_sent;
        ps.abandoned += rs.abandoned;
    }
    uint64_t dead = dl_deadletter_count(L.dlq);
    double dt = dl_cli_now_s() - t0;
    if (dl_stop_requested()) {
        char c1[32];
        char c2[32];
        dl_warn("stopped by signal %d after %.1f s: %s items written, %s queued writes abandoned; %zu of %zu "
                "objects fully read%s%s; run the same command again to load the rest",
                dl_stop_signal(), dt, dl_cli_commas(ps.written, c1, sizeof c1),
                dl_cli_commas(ps.abandoned, c2, sizeof c2), L.objs_done, L.nobjs,
                L.stopped_in ? ", stopped inside " : "", L.stopped_in ? L.stopped_in : "");
        ok = false;
    }
    char c1[32], c2[32], c3[32], c4[32];
    if (!a->quiet || dead) {
        dl_info("%s items written to '%s' from %zu objects (%s records, %.1f MB) in %.1f s (%.0f items/s)",
                dl_cli_commas(ps.written, c1, sizeof c1), a->table, L.nobjs, dl_cli_commas(L.st.records, c2, sizeof c2),
                (double)L.bytes / 1e6, dt, dt > 0 ? (double)ps.written / dt : 0.0);
        if (ps.superseded)
            dl_info("%s records replaced by a later record with the same key (the later one is in the table)",
                    dl_cli_commas(ps.superseded, c3, sizeof c3));
        if (ps.unprocessed || ps.throttled)
            dl_info("%s items came back unprocessed and %" PRIu64 " requests were throttled; all were retried",
                    dl_cli_commas(ps.unprocessed, c4, sizeof c4), ps.throttled);
    }
    if (dead)
        dl_warn("%s record%s dead-lettered (%" PRIu64 " rejected while decoding, %" PRIu64
                " not written, %" PRIu64 " objects or entries skipped): %s",
                dl_cli_commas(dead, c1, sizeof c1), dead == 1 ? "" : "s", L.st.rejected, ps.deadlettered,
                L.st.skipped + L.failed_objects, dlpath);
    dl_cli_enrich_report(&L);
    status = !ok ? 1 : dead || dl_cli_media_failed(&L) ? 2 : 0;
    if (a->timeline && !dl_cli_write_timeline(L.pump, a->timeline, err, sizeof err)) {
        dl_error("%s", err);
        status = 1;
    }
    if (a->report && !write_report(&L, a, &ps, dt, dlpath, status, err, sizeof err)) {
        dl_error("%s", err);
        status = 1;
    }
out:
    dl_decoder_destroy(dec);
    dl_cli_loader_free(&L);
    free(dlpath);
    return status;
}

/* "pk[:S|N|B][,sk[:S|N|B]]" */
static bool parse_key_spec(struct loader *L, const char *spec, char *err, size_t errlen)
{
    L->cli_ks_names = strdup(spec);
    if (!L->cli_ks_names)
        return false;
    char *save = NULL;
    int n = 0;
    for (char *part = strtok_r(L->cli_ks_names, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
        if (n == 2) {
            snprintf(err, errlen, "--key %s: at most a partition key and a sort key", spec);
            return false;
        }
        char *colon = strrchr(part, ':');
        char type = 'S';
        if (colon) {
            *colon = 0;
            if (strlen(colon + 1) != 1 || !strchr("SNB", colon[1])) {
                snprintf(err, errlen, "--key %s: type must be S, N or B", spec);
                return false;
            }
            type = colon[1];
        }
        if (!*part) {
            snprintf(err, errlen, "--key %s: empty attribute name", spec);
            return false;
        }
        L->cli_ks.k[n].name = part;
        L->cli_ks.k[n].name_len = strlen(part);
        L->cli_ks.k[n].type = type;
        n++;
    }
    L->cli_ks.n = n;
    if (!n) {
        snprintf(err, errlen, "--key: no attribute given");
        return false;
    }
    return true;
}

int dl_cmd_convert(const struct dl_args *a)
{
    struct loader L;
    struct dl_decoder *dec = NULL;
    char err[1024];
    int status = 1;
    dl_cli_loader_init(&L, a);
    L.out = stdout;
    const struct dl_key_schema *ks = &L.cli_ks;
    if (a->key_spec && !parse_key_spec(&L, a->key_spec, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (a->table) {
        if (!dl_cli_ensure_net(&L, err, sizeof err) ||
            dl_ddb_describe_table(L.net, &L.cfg, a->table, &L.table, err, sizeof err)) {
            dl_error("%s", err);
            goto out;
        }
        ks = &L.table.ks;
    }
    if (!list_sources(&L, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (a->dead_letter && !(L.dlq = dl_deadletter_new(a->dead_letter))) {
        dl_error("out of memory");
        goto out;
    }
    struct dl_decode_opts dopt;
    decode_opts(&L, ks, &dopt);
    if ((a->media_bucket || (a->key_seq && a->table && !a->key_seq_start)) && !dl_cli_ensure_net(&L, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    if (!dl_cli_enrich_setup(&L, a->table, &dopt, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    dec = dl_decoder_new(&dopt);
    if (!dec) {
        dl_error("out of memory");
        goto out;
    }
    struct dl_decode_sink sink = { .item = sink_print, .reject = sink_reject, .skip = sink_skip, .ctx = &L };
    if (L.media) {
        sink.media_rule = dl_cli_media_rule;
        sink.media = dl_cli_media_add;
        sink.media_done = dl_cli_media_done;
        sink.media_end = dl_cli_media_end;
        sink.media_note = dl_cli_media_note;
    }
    bool ok = load_objects(&L, dec, &sink);
    if (fflush(stdout) != 0)
        ok = false;
    uint64_t bad = L.st.rejected + L.st.skipped + L.failed_objects;
    if (!a->quiet)
        dl_info("%" PRIu64 " items from %zu objects; %" PRIu64 " records rejected, %" PRIu64 " objects or entries skipped",
                L.st.items, L.nobjs, L.st.rejected, L.st.skipped + L.failed_objects);
    status = !ok ? 1 : bad ? 2 : 0;
out:
    dl_decoder_destroy(dec);
    dl_cli_loader_free(&L);
    return status;
}

/* ---------- replay ---------- */

static const char *json_str_or(const struct dl_json *o, const char *name, char *buf, size_t n)
{
    struct dl_cursor c;
    if (!dl_json_get_str(o, name, &c))
        return NULL;
    size_t k = c.len < n - 1 ? c.len : n - 1;
    memcpy(buf, c.ptr, k);
    buf[k] = 0;
    return buf;
}

static uint64_t json_u64_or0(const struct dl_json *o, const char *name)
{
    const struct dl_json *v = dl_json_get(o, name);
    return v && v->type == DL_JSON_NUMBER ? strtoull((const char *)v->str.ptr, NULL, 10) : 0;
}

int dl_cmd_replay(const struct dl_args *a)
{
    struct loader L;
    char err[1024];
    char *dlpath = NULL;
    int status = 1;
    struct dl_buf file;
    struct dl_arena *arena = dl_arena_new(0, 0);
    struct dl_item item;
    uint64_t lines = 0, resent = 0, unreplayable = 0;
    dl_buf_init(&file, (size_t)16 << 30);
    dl_item_init(&item);
    dl_cli_loader_init(&L, a);
    const char *path = a->sources[0];
    err[0] = 0;
    enum dl_err e = dl_deadletter_read(path, &file, err, sizeof err);
    if (e) {
        dl_error("%s", err);
        goto out;
    }
    if (err[0])
        dl_warn("%s", err);
    if (!arena || !dl_cli_ensure_net(&L, err, sizeof err)) {
        dl_error("%s", arena ? err : "out of memory");
        goto out;
    }
    if (!dl_cli_describe_active(&L, a->table, err, sizeof err)) {
        dl_error("%s", err);
        goto out;
    }
    dlpath = a->dead_letter ? strdup(a->dead_letter) : dl_cli_default_dead_letter();
    if (dlpath && !strcmp(dlpath, path)) {
        dl_error("--dead-letter must differ from the file being replayed");
        goto out;
    }
    L.dlq = dlpath ? dl_deadletter_new(dlpath) : NULL;
    struct dl_pump_opts po;
    dl_cli_pump_opts(a, &L.table, &po);
    L.pump = L.dlq ? dl_pump_new(L.net, &L.cfg, a->table, &L.table.ks, &po, L.dlq) : NULL;
    if (!L.pump) {
        dl_error("out of memory");
        goto out;
    }
    bool ok = true;
    const uint8_t *p = file.data, *end = file.data + file.len;
    while (p < end && ok) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *le = nl ? nl : end;
        struct dl_cursor line = dl_cursor_of(p, (size_t)(le - p));
        p = nl ? nl + 1 : end;
        if (line.len == 0)
            continue;
        lines++;
        dl_arena_reset(arena);
        struct dl_json *doc;
        struct dl_pos_err pe;
        struct dl_origin org = { path, NULL, 0, lines, 0, NULL, 0 };
        char source[1024], entry[1024], reason[1024], why[2400];
        if (dl_json_parse_doc(arena, line.ptr, line.len, &doc, &pe) || doc->type != DL_JSON_OBJECT) {
            snprintf(why, sizeof why, "%s line %" PRIu64 ": not a dead-letter record: %s", path, lines,
                     pe.msg[0] ? pe.msg : "not a JSON object");
            unreplayable++;
            log_reject(&L, why);
            ok = dl_deadletter_add(L.dlq, &org, why, dl_cursor_of(NULL, 0), line) == DL_OK;
            continue;
        }
        org.source = json_str_or(doc, "source", source, sizeof source);
        org.entry = json_str_or(doc, "entry", entry, sizeof entry);
        org.record = json_u64_or0(doc, "record");
        org.line = json_u64_or0(doc, "line");
        org.column = json_u64_or0(doc, "column");
        const char *orig = json_str_or(doc, "reason", reason, sizeof reason);
        const struct dl_json *req = dl_json_get(doc, "request");
        const struct dl_json *put = req ? dl_json_get(req, "PutRequest") : NULL;
        const struct dl_json *del = req ? dl_json_get(req, "DeleteRequest") : NULL;
        const struct dl_json *m = put ? dl_json_get(put, "Item") : del ? dl_json_get(del, "Key") : NULL;
        if (!m) {
            /* malformed input or a skipped object: nothing to resend, keep it with its reason */
            unreplayable++;
            struct dl_cursor raw = { 0 };
            const struct dl_json *rv = dl_json_get(doc, "raw");
            if (rv && rv->type == DL_JSON_STRING)
                raw = rv->str;
            snprintf(why, sizeof why, "not replayable (no write request): %s", orig ? orig : "no reason recorded");
            ok = dl_deadletter_add(L.dlq, &org, why, dl_cursor_of(NULL, 0), raw) == DL_OK;
            continue;
        }
        dl_pos_err_clear(&pe);
        e = dl_item_from_ddb_json(&item, m, &L.table.ks, &pe);
        if (e) {
            snprintf(why, sizeof why, "%s line %" PRIu64 ": the write request does not fit table '%s': %s", path,
                     lines, a->table, pe.msg);
            log_reject(&L, why);
            ok = dl_deadletter_add(L.dlq, &org, why, dl_cursor_of(NULL, 0), line) == DL_OK;
            continue;
        }
        resent++;
        e = dl_pump_submit(L.pump, del ? DL_WRITE_DELETE : DL_WRITE_PUT, &item, &org);
        if (e) {
            ok = false;
            dl_error("stopped: %s", dl_pump_error(L.pump) ? dl_pump_error(L.pump) : dl_err_str(e));
        }
    }
    if (dl_pump_finish(L.pump) && dl_pump_error(L.pump)) {
        dl_error("%s", dl_pump_error(L.pump));
        ok = false;
    }
    struct dl_pump_stats ps;
    dl_pump_stats_get(L.pump, &ps);
    uint64_t dead = dl_deadletter_count(L.dlq);
    dl_info("replayed %s: %" PRIu64 " records, %" PRIu64 " resent, %" PRIu64 " written, %" PRIu64
            " superseded by a later record for the same key, %" PRIu64 " failed again, %" PRIu64
            " not replayable (no write request)",
            path, lines, resent, ps.written, ps.superseded, dead - unreplayable, unreplayable);
    if (dead)
        dl_warn("%" PRIu64 " records are in the new dead-letter file %s", dead, dlpath);
    status = !ok ? 1 : dead ? 2 : 0;
out:
    dl_item_free(&item);
    dl_arena_destroy(arena);
    dl_buf_free(&file);
    dl_cli_loader_free(&L);
    free(dlpath);
    return status;
}
