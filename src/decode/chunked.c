/* Chunk plans (where to cut) and the ordered parallel map (who decodes what, in which order
 * results come out). See chunked.h. */
#include "decode/chunked.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "decode/arch/csv_kernels.h"
#include "decode/csvfast.h"

/* ---------------------------------------------------------------- plans */

struct dl_chunk_planner {
    const uint8_t *p;
    size_t len;
    bool csv;
    const struct dl_csv_kernel *k;
    /* the chunk being built */
    size_t cut;      /* its start */
    uint64_t line;   /* its line */
    size_t target;   /* cut again at the first boundary >= target */
    size_t size;
    size_t index;    /* index of the next chunk made */
    /* chunks made but not yet taken: q[qhead..qn) */
    struct dl_chunk *q;
    size_t qhead, qn, qalloc;
    bool done;       /* the last chunk has been made */
    enum dl_err err;
    /* NDJSON: lines are counted up to `counted`, which is on line cline */
    size_t counted;
    uint64_t cline;
    /* CSV: classification goes on at pos (block line bline), carrying ks; `last` is the latest
     * record boundary seen, on line last_line */
    struct dl_csv_opts opts;
    struct dl_csv_kparams kp;
    struct dl_csv_kstate ks;
    size_t pos;
    uint64_t bline;
    size_t last;
    uint64_t last_line;
};

static struct dl_chunk_planner *planner_alloc(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                              size_t size)
{
    struct dl_chunk_planner *pl = calloc(1, sizeof *pl);
    if (!pl)
        return NULL;
    pl->p = p;
    pl->len = len;
    pl->k = dl_csv_kernel(dl_cpu_level());
    pl->cut = start;
    pl->line = line ? line : 1;
    pl->size = size ? size : DL_CHUNK_DEFAULT_SIZE;
    pl->target = start + pl->size < start ? SIZE_MAX : start + pl->size;
    return pl;
}

/* End the current chunk at `at` (the next one starts there, on line `line`). */
static void cut(struct dl_chunk_planner *pl, size_t at, uint64_t line)
{
    if (pl->err || at <= pl->cut)
        return;
    if (pl->qn == pl->qalloc && pl->qhead) {
        memmove(pl->q, pl->q + pl->qhead, (pl->qn - pl->qhead) * sizeof *pl->q);
        pl->qn -= pl->qhead;
        pl->qhead = 0;
    }
    if (pl->qn == pl->qalloc) {
        size_t na = pl->qalloc ? pl->qalloc * 2 : 16;
        struct dl_chunk *v = realloc(pl->q, na * sizeof *v);
        if (!v) {
            pl->err = DL_ERR_NOMEM;
            return;
        }
        pl->q = v;
        pl->qalloc = na;
    }
    struct dl_chunk *k = &pl->q[pl->qn++];
    k->index = pl->index++;
    k->off = pl->cut;
    k->len = at - pl->cut;
    k->line = pl->line;
    pl->cut = at;
    pl->line = line;
    pl->target = at + pl->size < at ? SIZE_MAX : at + pl->size;
}

static void finish(struct dl_chunk_planner *pl)
{
    cut(pl, pl->len, 0);
    pl->done = true;
}

static bool bom_at(const uint8_t *p, size_t len, size_t at)
{
    return at + 3 <= len && p[at] == 0xEF && p[at + 1] == 0xBB && p[at + 2] == 0xBF;
}

/* NDJSON: the next cut, or the end. */
static void ndjson_step(struct dl_chunk_planner *pl)
{
    const uint8_t *p = pl->p;
    size_t len = pl->len;
    if (pl->target >= len) {
        finish(pl);
        return;
    }
    /* the first '\n' at or after target - 1 ends the chunk */
    size_t from = pl->target - 1;
    const uint8_t *nl = memchr(p + from, '\n', len - from);
    while (nl && bom_at(p, len, (size_t)(nl - p) + 1))
        nl = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - p));
    if (!nl || (size_t)(nl - p) + 1 >= len) {
        finish(pl);
        return;
    }
    size_t at = (size_t)(nl - p) + 1;
    pl->cline += pl->k->count_byte(p + pl->counted, at - pl->counted, '\n');
    pl->counted = at;
    cut(pl, at, pl->cline);
}

/* Line breaks in p[a..e) as dl_csv counts them ("\n", "\r\n", lone "\r"). */
static uint64_t count_breaks(const uint8_t *p, size_t len, size_t a, size_t e)
{
    uint64_t n = 0;
    for (size_t i = a; i < e; i++)
        if (p[i] == '\n' || (p[i] == '\r' && !(i + 1 < len && p[i + 1] == '\n')))
            n++;
    return n;
}

/* Where the record after the boundary `from` (line `line`) really ends, by the reader that
 * handles quotes the masks cannot describe. */
static enum dl_err record_end(const uint8_t *p, size_t len, size_t from, uint64_t line,
                              const struct dl_csv_opts *opts, size_t *end)
{
    struct dl_csvfast *r = NULL;
    struct dl_csv_row row;
    struct dl_pos_err err;
    enum dl_err e = dl_csvfast_new_range(p, from, len, line, opts, &r);
    if (e)
        goto out;
    e = dl_csvfast_next(r, &row, &err);
    if (e == DL_ERR_NOMEM)
        goto out;
    e = DL_OK;
    *end = row.end ? len : (size_t)(row.raw.ptr - p) + row.raw.len;
out:
    dl_csvfast_destroy(r);
    return e;
}

#define PLAN_WIN 8

/* CSV: classify up to PLAN_WIN blocks and cut where they allow. */
static void csv_step(struct dl_chunk_planner *pl)
{
    const uint8_t *p = pl->p;
    size_t len = pl->len, pos = pl->pos;
    struct dl_csv_masks m[PLAN_WIN];
    uint8_t tail[64];
    if (pos >= len) {
        finish(pl);
        return;
    }
    size_t avail = len - pos, n = avail / 64, nbytes;
    if (n > PLAN_WIN)
        n = PLAN_WIN;
    if (n) {
        nbytes = 64 * n;
        pl->k->classify(p + pos, n, pos + nbytes < len ? p[pos + nbytes] : -1, &pl->kp, &pl->ks, m);
    } else {
        memset(tail, pl->kp.delim, sizeof tail);
        memcpy(tail, p + pos, avail);
        pl->k->classify(tail, 1, -1, &pl->kp, &pl->ks, m);
        uint64_t keep = ((uint64_t)1 << avail) - 1;
        m[0].sep &= keep;
        m[0].lb &= keep;
        m[0].bad &= keep;
        n = 1;
        nbytes = avail;
    }
    for (size_t bi = 0; bi < n && !pl->err; bi++) {
        const size_t base = pos + 64 * bi;
        const struct dl_csv_masks *mm = &m[bi];
        uint64_t ends = mm->sep & mm->lb; /* line breaks outside quotes end records */
        if (mm->bad) /* the masks are exact only before the first bad quote */
            ends &= ((uint64_t)1 << __builtin_ctzll(mm->bad)) - 1;
        if (ends && base + 64 < pl->target) {
            /* no cut can fall in this block: only the last record end matters */
            unsigned t = 63 - (unsigned)__builtin_clzll(ends);
            pl->last = base + t + 1;
            pl->last_line = pl->bline + dl_popcount64(mm->lb & (((uint64_t)2 << t) - 1));
            ends = 0;
        }
        while (ends && !pl->err) {
            unsigned t = (unsigned)__builtin_ctzll(ends);
            ends &= ends - 1;
            size_t at = base + t + 1;
            pl->last = at;
            pl->last_line = pl->bline + dl_popcount64(mm->lb & (((uint64_t)2 << t) - 1));
            if (at >= pl->target && at < len && !bom_at(p, len, at))
                cut(pl, at, pl->last_line);
        }
        if (mm->bad) {
            /* read the record holding the bad quote as dl_csv does, then carry on after it */
            size_t e;
            enum dl_err rc = record_end(p, len, pl->last, pl->last_line, &pl->opts, &e);
            if (rc) {
                pl->err = rc;
                return;
            }
            pl->bline = pl->last_line + count_breaks(p, len, pl->last, e);
            pl->pos = e;
            pl->ks.inside = 0;
            pl->ks.prev_s = 1;
            return;
        }
        pl->bline += dl_popcount64(mm->lb);
    }
    pl->pos = pos + nbytes;
}

enum dl_err dl_chunk_planner_new_csv(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                     const struct dl_csv_opts *opts, size_t chunk_size,
                                     struct dl_chunk_planner **out)
{
    *out = NULL;
    uint8_t delim = opts && opts->delim ? opts->delim : ',';
    int quote = opts && opts->no_quote ? -1 : opts && opts->quote ? opts->quote : '"';
    if (delim == '\r' || delim == '\n' || delim == quote || quote == '\r' || quote == '\n')
        return DL_ERR_INVALID;
    struct dl_chunk_planner *pl = planner_alloc(p, len, start, line, chunk_size);
    if (!pl)
        return DL_ERR_NOMEM;
    pl->csv = true;
    if (opts)
        pl->opts = *opts;
    pl->kp = (struct dl_csv_kparams){ delim, quote < 0 ? 0 : (uint8_t)quote, quote >= 0 };
    pl->ks = (struct dl_csv_kstate){ 0, 1 };
    pl->pos = start;
    pl->bline = pl->line;
    pl->last = start;
    pl->last_line = pl->line;
    *out = pl;
    return DL_OK;
}

enum dl_err dl_chunk_planner_new_ndjson(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                        size_t chunk_size, struct dl_chunk_planner **out)
{
    struct dl_chunk_planner *pl = planner_alloc(p, len, start, line, chunk_size);
    *out = pl;
    if (!pl)
        return DL_ERR_NOMEM;
    pl->counted = start;
    pl->cline = pl->line;
    return DL_OK;
}

enum dl_err dl_chunk_planner_next(struct dl_chunk_planner *pl, struct dl_chunk *c, bool *end)
{
    while (pl->qhead == pl->qn && !pl->done && !pl->err) {
        if (pl->csv)
            csv_step(pl);
        else
            ndjson_step(pl);
    }
    *end = false;
    if (pl->qhead < pl->qn) {
        *c = pl->q[pl->qhead++];
        return DL_OK;
    }
    if (pl->err)
        return pl->err;
    *end = true;
    return DL_OK;
}

void dl_chunk_planner_destroy(struct dl_chunk_planner *pl)
{
    if (!pl)
        return;
    free(pl->q);
    free(pl);
}

/* The whole plan at once: every chunk the planner makes. */
static enum dl_err plan_all(struct dl_chunk_planner *pl, enum dl_err made, struct dl_chunk_plan *plan)
{
    size_t alloc = 0;
    enum dl_err e = made;
    plan->chunks = NULL;
    plan->n = 0;
    while (!e) {
        struct dl_chunk c;
        bool end;
        if ((e = dl_chunk_planner_next(pl, &c, &end)) || end)
            break;
        if (plan->n == alloc) {
            size_t na = alloc ? alloc * 2 : 16;
            struct dl_chunk *v = realloc(plan->chunks, na * sizeof *v);
            if (!v) {
                e = DL_ERR_NOMEM;
                break;
            }
            plan->chunks = v;
            alloc = na;
        }
        plan->chunks[plan->n++] = c;
    }
    if (e)
        dl_chunk_plan_free(plan);
    dl_chunk_planner_destroy(pl);
    return e;
}

void dl_chunk_plan_free(struct dl_chunk_plan *plan)
{
    if (!plan)
        return;
    free(plan->chunks);
    plan->chunks = NULL;
    plan->n = 0;
}

enum dl_err dl_chunk_plan_ndjson(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                 size_t chunk_size, struct dl_chunk_plan *plan)
{
    struct dl_chunk_planner *pl;
    enum dl_err e = dl_chunk_planner_new_ndjson(p, len, start, line, chunk_size, &pl);
    return plan_all(pl, e, plan);
}

enum dl_err dl_chunk_plan_csv(const uint8_t *p, size_t len, size_t start, uint64_t line,
                              const struct dl_csv_opts *opts, size_t chunk_size,
                              struct dl_chunk_plan *plan)
{
    struct dl_chunk_planner *pl;
    enum dl_err e = dl_chunk_planner_new_csv(p, len, start, line, opts, chunk_size, &pl);
    return plan_all(pl, e, plan);
}

/* ---------------------------------------------------------------- the ordered map */

struct slot_state {
    size_t chunk;      /* the chunk whose result the slot holds (when done) */
    struct dl_chunk c; /* a copy: a planner's chunks are not kept */
    bool done;
    enum dl_err rc;
};

struct run {
    pthread_mutex_t mu;
    pthread_cond_t space; /* workers: a slot became free, or stop */
    pthread_cond_t ready; /* consumer: a chunk was decoded, or the end is known */
    const uint8_t *p;
    const struct dl_chunk_plan *plan;   /* the chunks, or */
    struct dl_chunk_planner *planner;   /* chunks made on demand (under mu) */
    size_t total;    /* number of chunks, SIZE_MAX while the planner has not said */
    const struct dl_chunk_fns *fns;
    void *ctx;
    size_t nslots;
    void **slots;
    struct slot_state *st;
    size_t next;     /* next chunk to hand to a worker */
    size_t consumed; /* chunks consumed */
    bool stop;
};

/* Chunk i, the next one not yet handed out (under mu when threads run). False when there is
 * none; true with *c set, and *err set if the planner failed (chunk i then stands for the
 * error, and is the last). */
static bool take(struct run *r, size_t i, struct dl_chunk *c, enum dl_err *err)
{
    *err = DL_OK;
    if (i >= r->total)
        return false;
    if (r->plan) {
        *c = r->plan->chunks[i];
        return true;
    }
    bool end;
    enum dl_err e = dl_chunk_planner_next(r->planner, c, &end);
    if (e) {
        memset(c, 0, sizeof *c);
        c->index = i;
        *err = e;
        r->total = i + 1;
        return true;
    }
    if (end) {
        r->total = i;
        return false;
    }
    return true;
}

static void *worker(void *arg)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->next < r->total && r->next - r->consumed >= r->nslots)
            pthread_cond_wait(&r->space, &r->mu);
        if (r->stop || r->next >= r->total)
            break;
        size_t i = r->next;
        struct dl_chunk c;
        enum dl_err rc;
        if (!take(r, i, &c, &rc)) {
            /* the end: wake whoever waits for a chunk that will not come */
            pthread_cond_broadcast(&r->ready);
            pthread_cond_broadcast(&r->space);
            break;
        }
        r->next++;
        size_t s = i % r->nslots;
        if (!rc) {
            pthread_mutex_unlock(&r->mu);
            rc = r->fns->work(r->ctx, r->p, &c, r->slots[s]);
            pthread_mutex_lock(&r->mu);
        }
        r->st[s].chunk = i;
        r->st[s].c = c;
        r->st[s].rc = rc;
        r->st[s].done = true;
        pthread_cond_signal(&r->ready);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static enum dl_err run(struct run *r, int nthreads, size_t max_slots)
{
    enum dl_err rc = DL_OK;
    const struct dl_chunk_fns *fns = r->fns;
    pthread_t *th = NULL;
    int started = 0;

    if (nthreads < 0)
        nthreads = 0;
    r->nslots = max_slots ? max_slots : nthreads ? 2 * (size_t)nthreads : 1;
    if (r->nslots > r->total)
        r->nslots = r->total;
    r->slots = calloc(r->nslots, sizeof *r->slots);
    r->st = calloc(r->nslots, sizeof *r->st);
    if (!r->slots || !r->st) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    for (size_t s = 0; s < r->nslots; s++)
        if (!(r->slots[s] = fns->slot_new(r->ctx))) {
            rc = DL_ERR_NOMEM;
            goto out;
        }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->space, NULL);
    pthread_cond_init(&r->ready, NULL);
    if (nthreads > 0) {
        th = calloc((size_t)nthreads, sizeof *th);
        for (int t = 0; th && t < nthreads; t++) {
            if (pthread_create(&th[t], NULL, worker, r) != 0)
                break;
            started++;
        }
    }

    for (size_t i = 0;; i++) {
        size_t s = i % r->nslots;
        struct dl_chunk c;
        enum dl_err e;
        if (!started) { /* no threads: decode here */
            if (!take(r, i, &c, &e))
                break;
            if (!e)
                e = fns->work(r->ctx, r->p, &c, r->slots[s]);
        } else {
            pthread_mutex_lock(&r->mu);
            while (!(r->st[s].done && r->st[s].chunk == i) && i < r->total)
                pthread_cond_wait(&r->ready, &r->mu);
            bool have = r->st[s].done && r->st[s].chunk == i;
            e = r->st[s].rc;
            c = r->st[s].c;
            pthread_mutex_unlock(&r->mu);
            if (!have)
                break;
        }
        if (!e)
            e = fns->consume(r->ctx, &c, r->slots[s]);
        pthread_mutex_lock(&r->mu);
        r->st[s].done = false;
        r->consumed++;
        if (e)
            r->stop = true;
        pthread_cond_broadcast(&r->space);
        pthread_mutex_unlock(&r->mu);
        if (e) {
            rc = e;
            break;
        }
    }

    pthread_mutex_lock(&r->mu);
    r->stop = true;
    pthread_cond_broadcast(&r->space);
    pthread_mutex_unlock(&r->mu);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_cond_destroy(&r->ready);
    pthread_cond_destroy(&r->space);
    pthread_mutex_destroy(&r->mu);
out:
    free(th);
    for (size_t s = 0; r->slots && s < r->nslots; s++)
        if (r->slots[s])
            fns->slot_free(r->ctx, r->slots[s]);
    free(r->slots);
    free(r->st);
    return rc;
}

enum dl_err dl_chunked_run(const uint8_t *p, size_t len, const struct dl_chunk_plan *plan, int nthreads,
                           size_t max_slots, const struct dl_chunk_fns *fns, void *ctx)
{
    struct run r;
    (void)len;
    if (plan->n == 0)
        return DL_OK;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.plan = plan;
    r.total = plan->n;
    r.fns = fns;
    r.ctx = ctx;
    return run(&r, nthreads, max_slots);
}

enum dl_err dl_chunked_run_planner(const uint8_t *p, struct dl_chunk_planner *planner, int nthreads,
                                   size_t max_slots, const struct dl_chunk_fns *fns, void *ctx)
{
    struct run r;
    memset(&r, 0, sizeof r);
    r.p = p;
    r.planner = planner;
    r.total = SIZE_MAX;
    r.fns = fns;
    r.ctx = ctx;
    return run(&r, nthreads, max_slots);
}
