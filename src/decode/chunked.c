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

struct cutter {
    struct dl_chunk_plan *plan;
    size_t alloc;
    size_t cut;      /* start of the chunk being built */
    uint64_t line;   /* its line */
    size_t target;   /* cut again at the first boundary >= target */
    size_t size;
    enum dl_err err;
};

static void cutter_init(struct cutter *c, struct dl_chunk_plan *plan, size_t start, uint64_t line, size_t size)
{
    memset(c, 0, sizeof *c);
    plan->chunks = NULL;
    plan->n = 0;
    c->plan = plan;
    c->cut = start;
    c->line = line ? line : 1;
    c->size = size ? size : DL_CHUNK_DEFAULT_SIZE;
    c->target = start + c->size < start ? SIZE_MAX : start + c->size;
}

/* End the current chunk at `at` (the next one starts there, on line `line`). */
static void cutter_cut(struct cutter *c, size_t at, uint64_t line)
{
    struct dl_chunk_plan *pl = c->plan;
    if (c->err || at <= c->cut)
        return;
    if (pl->n == c->alloc) {
        size_t na = c->alloc ? c->alloc * 2 : 16;
        struct dl_chunk *v = realloc(pl->chunks, na * sizeof *v);
        if (!v) {
            c->err = DL_ERR_NOMEM;
            return;
        }
        pl->chunks = v;
        c->alloc = na;
    }
    struct dl_chunk *k = &pl->chunks[pl->n];
    k->index = pl->n;
    k->off = c->cut;
    k->len = at - c->cut;
    k->line = c->line;
    pl->n++;
    c->cut = at;
    c->line = line;
    c->target = at + c->size < at ? SIZE_MAX : at + c->size;
}

static bool bom_at(const uint8_t *p, size_t len, size_t at)
{
    return at + 3 <= len && p[at] == 0xEF && p[at + 1] == 0xBB && p[at + 2] == 0xBF;
}

static enum dl_err cutter_done(struct cutter *c, size_t len)
{
    cutter_cut(c, len, 0);
    if (c->err)
        dl_chunk_plan_free(c->plan);
    return c->err;
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
    struct cutter c;
    const struct dl_csv_kernel *k = dl_csv_kernel(dl_cpu_level());
    cutter_init(&c, plan, start, line, chunk_size);
    size_t counted = start; /* lines are counted up to here */
    uint64_t cline = c.line;
    while (!c.err && c.target < len) {
        /* the first '\n' at or after target - 1 ends the chunk */
        size_t from = c.target - 1;
        const uint8_t *nl = memchr(p + from, '\n', len - from);
        while (nl && bom_at(p, len, (size_t)(nl - p) + 1))
            nl = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - p));
        if (!nl || (size_t)(nl - p) + 1 >= len)
            break;
        size_t at = (size_t)(nl - p) + 1;
        cline += k->count_byte(p + counted, at - counted, '\n');
        counted = at;
        cutter_cut(&c, at, cline);
    }
    return cutter_done(&c, len);
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

enum dl_err dl_chunk_plan_csv(const uint8_t *p, size_t len, size_t start, uint64_t line,
                              const struct dl_csv_opts *opts, size_t chunk_size,
                              struct dl_chunk_plan *plan)
{
    uint8_t delim = opts && opts->delim ? opts->delim : ',';
    int quote = opts && opts->no_quote ? -1 : opts && opts->quote ? opts->quote : '"';
    if (delim == '\r' || delim == '\n' || delim == quote || quote == '\r' || quote == '\n') {
        plan->chunks = NULL;
        plan->n = 0;
        return DL_ERR_INVALID;
    }
    const struct dl_csv_kernel *k = dl_csv_kernel(dl_cpu_level());
    struct dl_csv_kparams kp = { delim, quote < 0 ? 0 : (uint8_t)quote, quote >= 0 };
    struct dl_csv_kstate ks = { 0, 1 };
    struct dl_csv_masks m[PLAN_WIN];
    uint8_t tail[64];
    struct cutter c;
    cutter_init(&c, plan, start, line, chunk_size);
    size_t pos = start;           /* classification goes on here */
    uint64_t bline = c.line;      /* line of the block being looked at */
    size_t last = start;          /* the latest record boundary seen, and its line */
    uint64_t last_line = c.line;

    while (!c.err && pos < len) {
        size_t avail = len - pos, n = avail / 64, nbytes;
        if (n > PLAN_WIN)
            n = PLAN_WIN;
        if (n) {
            nbytes = 64 * n;
            k->classify(p + pos, n, pos + nbytes < len ? p[pos + nbytes] : -1, &kp, &ks, m);
        } else {
            memset(tail, delim, sizeof tail);
            memcpy(tail, p + pos, avail);
            k->classify(tail, 1, -1, &kp, &ks, m);
            uint64_t keep = ((uint64_t)1 << avail) - 1;
            m[0].sep &= keep;
            m[0].lb &= keep;
            m[0].bad &= keep;
            n = 1;
            nbytes = avail;
        }
        bool resync = false;
        for (size_t bi = 0; bi < n && !c.err; bi++) {
            const size_t base = pos + 64 * bi;
            const struct dl_csv_masks *mm = &m[bi];
            uint64_t ends = mm->sep & mm->lb; /* line breaks outside quotes end records */
            if (mm->bad) /* the masks are exact only before the first bad quote */
                ends &= ((uint64_t)1 << __builtin_ctzll(mm->bad)) - 1;
            while (ends && !c.err) {
                unsigned t = (unsigned)__builtin_ctzll(ends);
                ends &= ends - 1;
                size_t at = base + t + 1;
                last = at;
                last_line = bline + dl_popcount64(mm->lb & (((uint64_t)2 << t) - 1));
                if (at >= c.target && at < len && !bom_at(p, len, at))
                    cutter_cut(&c, at, last_line);
            }
            if (mm->bad) {
                /* read the record holding the bad quote as dl_csv does, then carry on after it */
                size_t e;
                enum dl_err rc = record_end(p, len, last, last_line, opts, &e);
                if (rc) {
                    c.err = rc;
                    break;
                }
                bline = last_line + count_breaks(p, len, last, e);
                pos = e;
                ks.inside = 0;
                ks.prev_s = 1;
                resync = true;
                break;
            }
            bline += dl_popcount64(mm->lb);
        }
        if (!resync)
            pos += nbytes;
    }
    return cutter_done(&c, len);
}

/* ---------------------------------------------------------------- the ordered map */

struct slot_state {
    size_t chunk; /* the chunk whose result the slot holds (when done) */
    bool done;
    enum dl_err rc;
};

struct run {
    pthread_mutex_t mu;
    pthread_cond_t space; /* workers: a slot became free, or stop */
    pthread_cond_t ready; /* consumer: a chunk was decoded */
    const uint8_t *p;
    const struct dl_chunk_plan *plan;
    const struct dl_chunk_fns *fns;
    void *ctx;
    size_t nslots;
    void **slots;
    struct slot_state *st;
    size_t next;     /* next chunk to hand to a worker */
    size_t consumed; /* chunks consumed */
    bool stop;
};

static void *worker(void *arg)
{
    struct run *r = arg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->stop && r->next < r->plan->n && r->next - r->consumed >= r->nslots)
            pthread_cond_wait(&r->space, &r->mu);
        if (r->stop || r->next >= r->plan->n)
            break;
        size_t i = r->next++;
        size_t s = i % r->nslots;
        pthread_mutex_unlock(&r->mu);
        enum dl_err rc = r->fns->work(r->ctx, r->p, &r->plan->chunks[i], r->slots[s]);
        pthread_mutex_lock(&r->mu);
        r->st[s].chunk = i;
        r->st[s].rc = rc;
        r->st[s].done = true;
        pthread_cond_signal(&r->ready);
    }
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

enum dl_err dl_chunked_run(const uint8_t *p, size_t len, const struct dl_chunk_plan *plan, int nthreads,
                           size_t max_slots, const struct dl_chunk_fns *fns, void *ctx)
{
    enum dl_err rc = DL_OK;
    struct run r;
    pthread_t *th = NULL;
    int started = 0;
    (void)len;

    memset(&r, 0, sizeof r);
    if (plan->n == 0)
        return DL_OK;
    if (nthreads < 0)
        nthreads = 0;
    r.p = p;
    r.plan = plan;
    r.fns = fns;
    r.ctx = ctx;
    r.nslots = max_slots ? max_slots : nthreads ? 2 * (size_t)nthreads : 1;
    if (r.nslots > plan->n)
        r.nslots = plan->n;
    r.slots = calloc(r.nslots, sizeof *r.slots);
    r.st = calloc(r.nslots, sizeof *r.st);
    if (!r.slots || !r.st) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    for (size_t s = 0; s < r.nslots; s++)
        if (!(r.slots[s] = fns->slot_new(ctx))) {
            rc = DL_ERR_NOMEM;
            goto out;
        }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.space, NULL);
    pthread_cond_init(&r.ready, NULL);
    if (nthreads > 0) {
        th = calloc((size_t)nthreads, sizeof *th);
        for (int t = 0; th && t < nthreads; t++) {
            if (pthread_create(&th[t], NULL, worker, &r) != 0)
                break;
            started++;
        }
    }

    for (size_t i = 0; i < plan->n; i++) {
        size_t s = i % r.nslots;
        enum dl_err e;
        if (!started) { /* no threads: decode here */
            e = fns->work(ctx, p, &plan->chunks[i], r.slots[s]);
        } else {
            pthread_mutex_lock(&r.mu);
            while (!(r.st[s].done && r.st[s].chunk == i))
                pthread_cond_wait(&r.ready, &r.mu);
            e = r.st[s].rc;
            pthread_mutex_unlock(&r.mu);
        }
        if (!e)
            e = fns->consume(ctx, &plan->chunks[i], r.slots[s]);
        pthread_mutex_lock(&r.mu);
        r.st[s].done = false;
        r.consumed++;
        if (e)
            r.stop = true;
        pthread_cond_broadcast(&r.space);
        pthread_mutex_unlock(&r.mu);
        if (e) {
            rc = e;
            break;
        }
    }

    pthread_mutex_lock(&r.mu);
    r.stop = true;
    pthread_cond_broadcast(&r.space);
    pthread_mutex_unlock(&r.mu);
    for (int t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    pthread_cond_destroy(&r.ready);
    pthread_cond_destroy(&r.space);
    pthread_mutex_destroy(&r.mu);
out:
    free(th);
    for (size_t s = 0; r.slots && s < r.nslots; s++)
        if (r.slots[s])
            fns->slot_free(ctx, r.slots[s]);
    free(r.slots);
    free(r.st);
    return rc;
}
