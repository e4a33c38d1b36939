#include "pump/pump.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"
#include "core/log.h"
#include "pump/ddb.h"
#include "pump/rate.h"

#define HOT_SLOTS 65536 /* partition-key pacing buckets (keys hashed; a collision paces both) */

#define BATCH_MAX_ITEMS 25
#define BATCH_MAX_BYTES ((size_t)16 * 1024 * 1024)

/* One write waiting in the pump. The WriteRequest JSON and the canonical key live in data[]. */
struct pitem {
    struct pitem *next;     /* input FIFO link */
    uint64_t hash;
    uint64_t pk_hash;       /* of the partition key alone (hot-key pacing) */
    enum dl_write_kind kind;
    uint32_t wcu;
    const char *source;     /* interned, owned by the pump */
    const char *entry;
    uint64_t record, line, tag;
    size_t key_len, req_len, bytes;
    uint8_t *key;
    uint8_t *req;
    uint8_t data[];
};

/* Per-key state: at most one write in flight (cur) and at most one waiting behind it (pending). */
struct kentry {
    struct kentry *hnext;   /* hash chain */
    struct kentry *rnext;   /* ready FIFO link */
    struct pitem *cur;
    struct pitem *pending;
    uint64_t hash;          /* of the key (cur and pending share it): chains compare it without touching cur */
    uint64_t due_ms;
    int attempts;
    bool inflight;
    bool paced;             /* waiting for its partition key's reserved send time */
    char last_reason[160];
};

struct batch {
    struct batch *next;     /* done list link */
    struct dl_pump *p;
    struct dl_http_req *req;
    int n;
    struct kentry *e[BATCH_MAX_ITEMS];
};

struct hot_slot {
    uint64_t tat_ns;     /* GCRA "theoretical arrival time": when this key's schedule is next free */
};

struct interned {
    struct interned *next;
    char s[];
};

struct dl_pump {
    struct dl_net *net;
    const struct dl_aws_config *cfg;
    const struct dl_key_schema *ks;
    struct dl_deadletter *dlq;
    struct dl_pump_opts o;
    struct dl_buf table_json;   /* the table name as a JSON string */

    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t wake;        /* the pump thread waits on this */
    pthread_cond_t space;       /* producers wait for memory budget */
    pthread_cond_t idle;        /* dl_pump_finish waits on this */

    struct pitem *in_head, *in_tail;
    size_t nin;                 /* items in the input FIFO */
    size_t queued_bytes;
    bool closed, cancelled, stop;
    bool sleeping;              /* the pump thread is waiting on `wake` */
    int space_waiters;          /* producers waiting on `space` */

    struct kentry **tab;
    size_t tab_size, nentries;
    struct kentry *ready_head, *ready_tail;
    size_t nready;
    uint64_t ready_since_ns;    /* when the ready queue last became non-empty */
    struct kentry **heap;       /* retries, min-heap by due_ms */
    size_t nheap, heap_cap;

    struct batch *done_head;    /* finished requests handed back by the network thread */
    int inflight;

    struct interned *strings;
    const char *last_source, *last_entry;

    uint64_t rng;
    struct dl_rate rate;
    struct hot_slot *hot;       /* HOT_SLOTS buckets, or NULL when pacing is off */
    uint64_t start_ns;
    struct dl_pump_second *timeline;
    size_t nsec, asec;
    float *lat;                 /* request latencies, seconds */
    size_t nlat, alat;
    struct dl_pump_stats st;
    uint64_t abandoned;
    char fatal[512];
    struct dl_arena *arena;
    struct dl_buf keybuf;
};

void dl_pump_opts_default(struct dl_pump_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_inflight = 32;
    o->max_attempts = 50;
    o->backoff_base_ms = 25;
    o->backoff_cap_ms = 5000;
    o->max_queued_bytes = (size_t)64 << 20;
    o->hot_key_wcu = 1000;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The timeline row for now (grown on demand; NULL only when out of memory). */
static struct dl_pump_second *second(struct dl_pump *p)
{
    size_t i = (size_t)((now_ns() - p->start_ns) / 1000000000ull);
    if (i >= p->asec) {
        size_t na = p->asec ? p->asec * 2 : 64;
        while (na <= i)
            na *= 2;
        struct dl_pump_second *n = realloc(p->timeline, na * sizeof *n);
        if (!n)
            return NULL;
        memset(n + p->asec, 0, (na - p->asec) * sizeof *n);
        p->timeline = n;
        p->asec = na;
    }
    if (i >= p->nsec)
        p->nsec = i + 1;
    p->timeline[i].target = dl_rate_limited(&p->rate) ? p->rate.rate : 0;
    return &p->timeline[i];
}

static void record_latency(struct dl_pump *p, double s)
{
    if (p->nlat == p->alat) {
        size_t na = p->alat ? p->alat * 2 : 1024;
        float *n = realloc(p->lat, na * sizeof *n);
        if (!n)
            return;
        p->lat = n;
        p->alat = na;
    }
    p->lat[p->nlat++] = (float)s;
}

/* Bytes of the partition key inside the canonical key: type, 4-byte length, value. */
static size_t pk_len(const struct pitem *it)
{
    if (it->key_len < 5)
        return it->key_len;
    size_t n = (size_t)it->key[1] << 24 | (size_t)it->key[2] << 16 | (size_t)it->key[3] << 8 | it->key[4];
    return 5 + n <= it->key_len ? 5 + n : it->key_len;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t rng_next(struct dl_pump *p)
{
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t hash_bytes(const uint8_t *k, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ k[i]) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

/* ---------- strings ---------- */

static void copy_trunc(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n)
        k = n - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
}

static const char *intern(struct dl_pump *p, const char *s, const char **last)
{
    if (!s)
        return NULL;
    if (*last && !strcmp(*last, s))
        return *last;
    size_t n = strlen(s);
    struct interned *in = malloc(sizeof *in + n + 1);
    if (!in)
        return NULL;
    memcpy(in->s, s, n + 1);
    in->next = p->strings;
    p->strings = in;
    *last = in->s;
    return in->s;
}

/* ---------- key table ---------- */

static struct kentry **slot_of(struct dl_pump *p, const uint8_t *key, size_t len, uint64_t h)
{
    struct kentry **s = &p->tab[h & (p->tab_size - 1)];
    while (*s) {
        if ((*s)->hash == h) {
            struct pitem *c = (*s)->cur;
            if (c->key_len == len && !memcmp(c->key, key, len))
                break;
        }
        s = &(*s)->hnext;
    }
    return s;
}

static bool tab_grow(struct dl_pump *p)
{
    size_t ns = p->tab_size * 2;
    struct kentry **nt = calloc(ns, sizeof *nt);
    if (!nt)
        return false;
    for (size_t i = 0; i < p->tab_size; i++) {
        struct kentry *e = p->tab[i];
        while (e) {
            struct kentry *n = e->hnext;
            struct kentry **s = &nt[e->hash & (ns - 1)];
            e->hnext = *s;
            *s = e;
            e = n;
        }
    }
    free(p->tab);
    p->tab = nt;
    p->tab_size = ns;
    return true;
}

#define LINGER_NS 20000000ull /* a partial batch waits at most this long for company */

static void ready_push(struct dl_pump *p, struct kentry *e)
{
    if (!p->ready_head)
        p->ready_since_ns = now_ns();
    e->rnext = NULL;
    if (p->ready_tail)
        p->ready_tail->rnext = e;
    else
        p->ready_head = e;
    p->ready_tail = e;
    p->nready++;
}

static struct kentry *ready_pop(struct dl_pump *p)
{
    struct kentry *e = p->ready_head;
    if (e) {
        p->ready_head = e->rnext;
        if (!p->ready_head) {
            p->ready_tail = NULL;
            p->ready_since_ns = 0;
        }
        p->nready--;
    }
    return e;
}

static bool heap_push(struct dl_pump *p, struct kentry *e)
{
    if (p->nheap == p->heap_cap) {
        size_t nc = p->heap_cap ? p->heap_cap * 2 : 256;
        struct kentry **nh = realloc(p->heap, nc * sizeof *nh);
        if (!nh)
            return false;
        p->heap = nh;
        p->heap_cap = nc;
    }
    size_t i = p->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (p->heap[parent]->due_ms <= e->due_ms)
            break;
        p->heap[i] = p->heap[parent];
        i = parent;
    }
    p->heap[i] = e;
    return true;
}

static struct kentry *heap_pop(struct dl_pump *p)
{
    struct kentry *top = p->heap[0];
    struct kentry *last = p->heap[--p->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->nheap)
            break;
        if (c + 1 < p->nheap && p->heap[c + 1]->due_ms < p->heap[c]->due_ms)
            c++;
        if (last->due_ms <= p->heap[c]->due_ms)
            break;
        p->heap[i] = p->heap[c];
        i = c;
    }
    if (p->nheap)
        p->heap[i] = last;
    return top;
}

static void resolved(struct dl_pump *p, const struct pitem *it)
{
    if (p->o.on_resolved)
        p->o.on_resolved(p->o.resolved_ctx, it->tag);
}

static void item_free(struct dl_pump *p, struct pitem *it)
{
    if (!it)
        return;
    p->queued_bytes -= it->bytes;
    free(it);
    /* A waiting producer is woken once an eighth of the budget is free, not on every item: waking
     * it for each freed item makes it and the pump thread hand the CPU back and forth per item. */
    if (p->space_waiters &&
        (p->queued_bytes <= p->o.max_queued_bytes - p->o.max_queued_bytes / 8 || p->fatal[0] || p->cancelled))
        pthread_cond_broadcast(&p->space);
}

static void entry_remove(struct dl_pump *p, struct kentry *e)
{
    struct pitem *c = e->cur;
    struct kentry **s = &p->tab[e->hash & (p->tab_size - 1)];
    while (*s != e)
        s = &(*s)->hnext;
    *s = e->hnext;
    p->nentries--;
    item_free(p, c);
    free(e);
}

static void deadletter(struct dl_pump *p, struct pitem *it, const char *reason)
{
    struct dl_origin o = { it->source, it->entry, it->record, it->line, 0, NULL, 0 };
    if (dl_deadletter_add(p->dlq, &o, reason, dl_cursor_of(it->req, it->req_len), dl_cursor_of(NULL, 0)) &&
        !p->fatal[0])
        copy_trunc(p->fatal, sizeof p->fatal,
                   dl_deadletter_error(p->dlq) ? dl_deadletter_error(p->dlq) : "cannot write the dead-letter file");
    p->st.deadlettered++;
}

enum outcome { WRITTEN, UNPROCESSED, DEAD, ABANDONED };


/* A send of e->cur has ended with the given outcome: apply the ordering rule and retries. */
static void entry_after_send(struct dl_pump *p, struct kentry *e, enum outcome oc, const char *reason)
{
    e->inflight = false;
    if (oc == UNPROCESSED && p->fatal[0]) {
        oc = DEAD;
        reason = p->fatal;
    }
    if (oc == UNPROCESSED && p->cancelled)
        oc = ABANDONED;
    switch (oc) {
    case WRITTEN:
        p->st.written++;
        resolved(p, e->cur);
        break;
    case DEAD:
        deadletter(p, e->cur, reason);
        resolved(p, e->cur);
        break;
    case ABANDONED:
        p->abandoned++;
        break;
    case UNPROCESSED:
        if (e->pending) {
            p->st.superseded++; /* a later write for this key replaces the one that failed */
            resolved(p, e->cur);
            break;
        }
        e->attempts++;
        if (reason)
            copy_trunc(e->last_reason, sizeof e->last_reason, reason);
        if (e->attempts >= p->o.max_attempts) {
            char why[512];
            snprintf(why, sizeof why, "not written after %d attempts (last: %s)", e->attempts,
                     e->last_reason[0] ? e->last_reason : "unprocessed");
            deadletter(p, e->cur, why);
            resolved(p, e->cur);
            break;
        }
        {
            uint64_t ceil = (uint64_t)p->o.backoff_base_ms << (e->attempts < 20 ? e->attempts : 20);
            if (ceil > (uint64_t)p->o.backoff_cap_ms)
                ceil = (uint64_t)p->o.backoff_cap_ms;
            e->due_ms = now_ms() + (ceil ? rng_next(p) % (ceil + 1) : 0);
            if (heap_push(p, e))
                return;
            ready_push(p, e); /* out of memory for the heap: retry at once rather than lose it */
            return;
        }
    }
    e->attempts = 0;
    e->last_reason[0] = 0;
    if (e->pending) {
        struct pitem *old = e->cur;
        e->cur = e->pending;
        e->pending = NULL;
        item_free(p, old);
        ready_push(p, e);
    } else {
        entry_remove(p, e);
    }
}

/* Move submitted items into the key table, applying "later record wins". */
static void take_input(struct dl_pump *p)
{
    while (p->in_head) {
        struct pitem *it = p->in_head;
        p->in_head = it->next;
        if (!p->in_head)
            p->in_tail = NULL;
        p->nin--;
        if (p->nentries >= p->tab_size && !tab_grow(p)) {
            /* cannot index it: keep it in the input until memory frees up */
            it->next = p->in_head;
            p->in_head = it;
            if (!p->in_tail)
                p->in_tail = it;
            p->nin++;
            return;
        }
        struct kentry **s = slot_of(p, it->key, it->key_len, it->hash);
        struct kentry *e = *s;
        if (!e) {
            e = calloc(1, sizeof *e);
            if (!e) {
                it->next = p->in_head;
                p->in_head = it;
                if (!p->in_tail)
                    p->in_tail = it;
                p->nin++;
                return;
            }
            e->cur = it;
            e->hash = it->hash;
            *s = e;
            p->nentries++;
            ready_push(p, e);
        } else if (!e->inflight) {
            /* waiting to be sent (ready or backing off): the newer record simply replaces it */
            struct pitem *old = e->cur;
            e->cur = it;
            e->attempts = 0;
            resolved(p, old);
            item_free(p, old);
            p->st.superseded++;
        } else {
            if (e->pending) {
                resolved(p, e->pending);
                item_free(p, e->pending);
                p->st.superseded++;
            }
            e->pending = it;
        }
    }
}

static void on_done(struct dl_http_req *r, void *ctx)
{
    struct batch *b = ctx;
    struct dl_pump *p = b->p;
    pthread_mutex_lock(&p->mu);
    b->next = p->done_head;
    p->done_head = b;
    if (p->sleeping)
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

static void batch_free(struct batch *b)
{
    dl_http_req_destroy(b->req);
    free(b);
}

/* Build the request body for b and prepare its HTTP request. */
static enum dl_err batch_prepare(struct dl_pump *p, struct batch *b)
{
    enum dl_err e;
    b->req = dl_http_req_new();
    if (!b->req)
        return DL_ERR_NOMEM;
    b->req->resp.cap = 64 << 20;
    e = dl_ddb_prepare(b->req, p->cfg, "BatchWriteItem");
    struct dl_buf *body = &b->req->body;
    size_t need = 64 + p->table_json.len;
    for (int i = 0; i < b->n; i++)
        need += b->e[i]->cur->req_len + 1;
    if (!e)
        e = dl_buf_reserve(body, need); /* one allocation, not a doubling series of copies */
    if (!e)
        e = dl_buf_append_str(body, "{\"RequestItems\":{");
    if (!e)
        e = dl_buf_append_cur(body, dl_buf_cur(&p->table_json));
    if (!e)
        e = dl_buf_append_str(body, ":[");
    for (int i = 0; !e && i < b->n; i++) {
        struct pitem *it = b->e[i]->cur;
        if (i)
            e = dl_buf_append_byte(body, ',');
        if (!e)
            e = dl_buf_append(body, it->req, it->req_len);
    }
    if (!e)
        e = dl_buf_append_str(body, "]},\"ReturnConsumedCapacity\":\"TOTAL\"}");
    b->req->done = on_done;
    b->req->ctx = b;
    return e;
}

static struct hot_slot *hot_slot_of(struct dl_pump *p, const struct pitem *it)
{
    return &p->hot[it->pk_hash & (HOT_SLOTS - 1)];
}

/* Pace writes that share a partition key (DynamoDB serves one partition key at most 1,000 WCU/s,
 * whatever the table has) with GCRA: each write is scheduled cost/rate after the key's previous
 * one, with up to 100 ms of burst. A write whose time has not come waits in the retry heap until
 * exactly its reserved time (without losing an attempt), and is then sent without a second check;
 * other keys go ahead meanwhile. Returns true if e may go now. */
static bool hot_key_admit(struct dl_pump *p, struct kentry *e, uint64_t now)
{
    if (!p->hot)
        return true;
    if (e->paced) {
        e->paced = false; /* it waited for its reservation */
        return true;
    }
    struct pitem *it = e->cur;
    struct hot_slot *h = hot_slot_of(p, it);
    uint64_t burst_ns = 100000000ull;
    uint64_t cost_ns = (uint64_t)((double)it->wcu / p->o.hot_key_wcu * 1e9);
    uint64_t t = h->tat_ns > now ? h->tat_ns : now;
    h->tat_ns = t + cost_ns;
    if (t <= now + burst_ns)
        return true;
    e->paced = true;
    e->due_ms = (t - burst_ns) / 1000000 + 1;
    p->st.hot_key_waits++;
    if (!heap_push(p, e)) {
        e->paced = false;
        return true; /* no memory to hold it back: send it and let DynamoDB decide */
    }
    return false;
}

/* Take entries from the ready queue into at most one new batch. */
static struct batch *batch_take(struct dl_pump *p)
{
    struct batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->p = p;
    size_t bytes = 64 + p->table_json.len;
    uint64_t now = now_ns();
    double wcu = 0;
    while (b->n < BATCH_MAX_ITEMS && p->ready_head) {
        struct pitem *it = p->ready_head->cur;
        if (b->n && bytes + it->req_len + 1 > BATCH_MAX_BYTES)
            break;
        struct kentry *e = ready_pop(p);
        if (!hot_key_admit(p, e, now))
            continue;
        e->inflight = true;
        if (e->attempts)
            p->st.retries++;
        p->st.wcu_sent += it->wcu;
        wcu += it->wcu;
        bytes += it->req_len + 1;
        b->e[b->n++] = e;
    }
    if (b->n == 0) {
        free(b);
        return NULL;
    }
    dl_rate_take(&p->rate, wcu);
    return b;
}

/* A batch whose request could not even be built: the items go back to the ready queue once. */
static void batch_unsend(struct dl_pump *p, struct batch *b, const char *why)
{
    for (int i = 0; i < b->n; i++)
        entry_after_send(p, b->e[i], UNPROCESSED, why);
}

static bool key_in(const struct dl_buf *keys, size_t nkeys, const size_t *off, const size_t *len,
                   const struct pitem *it)
{
    for (size_t i = 0; i < nkeys; i++)
        if (len[i] == it->key_len && !memcmp(keys->data + off[i], it->key, it->key_len))
            return true;
    return false;
}

/* HTTP 200: everything was written except what UnprocessedItems lists. */
static void handle_ok(struct dl_pump *p, struct batch *b)
{
    struct dl_json *doc = NULL;
    struct dl_pos_err pe;
    dl_arena_reset(p->arena);
    if (dl_json_parse_doc(p->arena, b->req->resp.data, b->req->resp.len, &doc, &pe) || doc->type != DL_JSON_OBJECT) {
        /* Unreadable success: we cannot know what was written, so resend (puts are idempotent). */
        for (int i = 0; i < b->n; i++)
            entry_after_send(p, b->e[i], UNPROCESSED, "unreadable BatchWriteItem response");
        return;
    }
    double consumed = -1;
    const struct dl_json *cc = dl_json_get(doc, "ConsumedCapacity");
    if (cc && cc->type == DL_JSON_ARRAY)
        for (const struct dl_json *c = cc->child; c; c = c->next) {
            const struct dl_json *u = dl_json_get(c, "CapacityUnits");
            if (u && u->type == DL_JSON_NUMBER)
                consumed = (consumed < 0 ? 0 : consumed) + strtod((const char *)u->str.ptr, NULL);
        }
    if (consumed > 0)
        p->st.consumed_wcu += consumed;
    size_t off[BATCH_MAX_ITEMS], len[BATCH_MAX_ITEMS], nkeys = 0;
    dl_buf_reset(&p->keybuf);
    const struct dl_json *un = dl_json_get(doc, "UnprocessedItems");
    const struct dl_json *list = NULL;
    if (un && un->type == DL_JSON_OBJECT)
        for (const struct dl_json *t = un->child; t; t = t->next)
            if (t->type == DL_JSON_ARRAY)
                list = t; /* one table per request */
    for (const struct dl_json *w = list ? list->child : NULL; w && nkeys < BATCH_MAX_ITEMS; w = w->next) {
        const struct dl_json *req = dl_json_get(w, "PutRequest");
        const struct dl_json *m = req ? dl_json_get(req, "Item") : NULL;
        if (!m) {
            req = dl_json_get(w, "DeleteRequest");
            m = req ? dl_json_get(req, "Key") : NULL;
        }
        size_t start = p->keybuf.len;
        if (!m || dl_item_key_from_ddb_json(m, p->ks, &p->keybuf))
            continue;
        off[nkeys] = start;
        len[nkeys] = p->keybuf.len - start;
        nkeys++;
    }
    p->st.unprocessed += nkeys;
    double est_written = 0;
    uint64_t written = 0, table_unprocessed = 0, now = now_ns();
    for (int i = 0; i < b->n; i++) {
        struct kentry *e = b->e[i];
        bool again = key_in(&p->keybuf, nkeys, off, len, e->cur);
        if (!again) {
            est_written += e->cur->wcu;
            written++;
        } else {
            table_unprocessed++;
        }
        entry_after_send(p, e, again ? UNPROCESSED : WRITTEN, again ? "returned in UnprocessedItems" : NULL);
    }
    dl_rate_on_response(&p->rate, now, (uint64_t)b->n, table_unprocessed, false, est_written, consumed);
    struct dl_pump_second *sec = second(p);
    if (sec) {
        sec->written += written;
        sec->wcu += consumed >= 0 ? consumed : est_written;
        sec->unprocessed += nkeys;
    }
}

static void submit_batches(struct dl_pump *p, struct batch **list, int n);

/* A ValidationException rejects the whole batch: split it until the bad item is alone. */
static void split(struct dl_pump *p, struct batch *b, struct batch **out, int *nout)
{
    p->st.splits++;
    int half = b->n / 2;
    for (int part = 0; part < 2; part++) {
        struct batch *nb = calloc(1, sizeof *nb);
        int from = part ? half : 0, to = part ? b->n : half;
        if (!nb) {
            for (int i = from; i < to; i++)
                entry_after_send(p, b->e[i], UNPROCESSED, "out of memory while splitting a batch");
            continue;
        }
        nb->p = p;
        for (int i = from; i < to; i++)
            nb->e[nb->n++] = b->e[i];
        if (batch_prepare(p, nb)) {
            batch_unsend(p, nb, "out of memory while building a request");
            batch_free(nb);
            continue;
        }
        out[(*nout)++] = nb;
    }
}

static void handle_done(struct dl_pump *p, struct batch *b, struct batch **resend, int *nresend)
{
    struct dl_http_req *r = b->req;
    char type[128], msg[512], why[700];
    p->inflight--;
    if (r->result == DL_ERR_CANCELLED) {
        for (int i = 0; i < b->n; i++)
            entry_after_send(p, b->e[i], ABANDONED, NULL);
        return;
    }
    if (r->result != DL_OK) {
        snprintf(why, sizeof why, "network: %s", r->errmsg[0] ? r->errmsg : dl_err_str(r->result));
        for (int i = 0; i < b->n; i++)
            entry_after_send(p, b->e[i], UNPROCESSED, why);
        return;
    }
    p->st.requests++;
    record_latency(p, r->elapsed_s);
    struct dl_pump_second *sec = second(p);
    if (sec)
        sec->requests++;
    if (r->status == 200) {
        handle_ok(p, b);
        return;
    }
    bool typed = dl_ddb_error(r, type, sizeof type, msg, sizeof msg);
    if (r->status >= 500 || (typed && dl_ddb_is_throttle(type))) {
        if (typed && dl_ddb_is_throttle(type)) {
            p->st.throttled++;
            if (sec)
                sec->throttled++;
            dl_rate_on_response(&p->rate, now_ns(), (uint64_t)b->n, (uint64_t)b->n, true, 0, -1);
        }
        snprintf(why, sizeof why, "%s (HTTP %ld)", typed ? type : "server error", r->status);
        for (int i = 0; i < b->n; i++)
            entry_after_send(p, b->e[i], UNPROCESSED, why);
        return;
    }
    if (typed && !strcmp(type, "ValidationException")) {
        if (b->n == 1) {
            snprintf(why, sizeof why, "DynamoDB rejected the item: ValidationException: %s", msg);
            entry_after_send(p, b->e[0], DEAD, why);
        } else {
            split(p, b, resend, nresend);
        }
        return;
    }
    /* Any other client error will fail every request the same way: stop the run. */
    char err[512];
    dl_ddb_explain(r, p->cfg, "BatchWriteItem", err, sizeof err);
    if (!p->fatal[0])
        copy_trunc(p->fatal, sizeof p->fatal, err);
    for (int i = 0; i < b->n; i++)
        entry_after_send(p, b->e[i], DEAD, p->fatal);
}

static void submit_batches(struct dl_pump *p, struct batch **list, int n)
{
    /* called with the lock held; submits without it (the network thread takes our lock in on_done) */
    p->inflight += n;
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++) {
        if (dl_net_submit(p->net, list[i]->req) != DL_OK) {
            list[i]->req->result = DL_ERR_CANCELLED;
            on_done(list[i]->req, list[i]);
        }
    }
    pthread_mutex_lock(&p->mu);
}

/* Build the batches' requests and submit them. The bodies are built without the lock: until they
 * are submitted the batches' entries are touched by this thread alone (only take_input, on this
 * thread, changes an entry's cur), and copying a batch's items into its body while holding the
 * lock would keep producers waiting on it. Called with the lock held. */
static void prepare_and_submit(struct dl_pump *p, struct batch **list, int n)
{
    bool ok[64];
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++)
        ok[i] = batch_prepare(p, list[i]) == DL_OK;
    pthread_mutex_lock(&p->mu);
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (ok[i]) {
            list[k++] = list[i];
        } else {
            batch_unsend(p, list[i], "out of memory while building a request");
            batch_free(list[i]);
        }
    }
    if (k)
        submit_batches(p, list, k);
}

static bool drained(const struct dl_pump *p)
{
    return !p->in_head && p->nentries == 0 && p->inflight == 0 && !p->done_head;
}

static void *pump_main(void *arg)
{
    struct dl_pump *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        take_input(p);
        struct batch *resend[2 * BATCH_MAX_ITEMS + 2];
        int nresend = 0;
        while (p->done_head) {
            struct batch *b = p->done_head;
            p->done_head = b->next;
            handle_done(p, b, resend, &nresend);
            batch_free(b);
            if (nresend > (int)(sizeof resend / sizeof *resend) - 2) {
                submit_batches(p, resend, nresend);
                nresend = 0;
            }
        }
        if (nresend)
            submit_batches(p, resend, nresend);
        uint64_t now = now_ms();
        while (p->nheap && p->heap[0]->due_ms <= now)
            ready_push(p, heap_pop(p));
        if (p->fatal[0] || p->cancelled) {
            /* nothing more is sent: dead-letter (fatal) or abandon (cancel) what is waiting */
            while (p->nheap)
                ready_push(p, heap_pop(p));
            struct kentry *e;
            while ((e = ready_pop(p)))
                entry_after_send(p, e, p->fatal[0] ? DEAD : ABANDONED, p->fatal);
        }
        /* Send full batches; send a partial one only when nothing is in flight or its oldest item
         * has lingered LINGER_NS, so that a trickle (a slow producer, paced hot keys, retries)
         * does not turn into many tiny requests. */
        struct batch *send[64];
        int nsend = 0;
        uint64_t rate_wait_ns = 0, linger_wait_ns = 0;
        while (p->nready && p->inflight + nsend < p->o.max_inflight && nsend < 64) {
            /* nothing in flight and nothing coming back from the heap: no company will come */
            bool alone = p->inflight + nsend == 0 && (p->nheap == 0 || p->closed == false);
            if (p->nready < BATCH_MAX_ITEMS && !alone) {
                uint64_t age = now_ns() - p->ready_since_ns;
                if (age < LINGER_NS) {
                    linger_wait_ns = LINGER_NS - age;
                    break;
                }
            }
            if (dl_rate_limited(&p->rate) && dl_rate_refill(&p->rate, now_ns()) <= 0) {
                rate_wait_ns = dl_rate_wait_ns(&p->rate, 1);
                break; /* over the rate: wait for tokens */
            }
            struct batch *b = batch_take(p);
            if (!b)
                break;
            send[nsend++] = b;
        }
        if (nsend) {
            prepare_and_submit(p, send, nsend);
            continue; /* responses or input may have arrived meanwhile */
        }
        if (p->closed && drained(p))
            pthread_cond_broadcast(&p->idle);
        if (p->in_head || p->done_head)
            continue;
        if (p->nheap || rate_wait_ns || linger_wait_ns) {
            uint64_t due = p->nheap ? p->heap[0]->due_ms : UINT64_MAX;
            if (rate_wait_ns && now + rate_wait_ns / 1000000 + 1 < due)
                due = now + rate_wait_ns / 1000000 + 1;
            if (linger_wait_ns && now + linger_wait_ns / 1000000 + 1 < due)
                due = now + linger_wait_ns / 1000000 + 1;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            uint64_t wait = due > now ? due - now : 0;
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            p->sleeping = true;
            pthread_cond_timedwait(&p->wake, &p->mu, &ts);
        } else {
            p->sleeping = true;
            pthread_cond_wait(&p->wake, &p->mu);
        }
        p->sleeping = false;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct dl_pump *dl_pump_new(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                            const struct dl_key_schema *ks, const struct dl_pump_opts *o,
                            struct dl_deadletter *dlq)
{
    struct dl_pump *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->net = net;
    p->cfg = cfg;
    p->ks = ks;
    p->dlq = dlq;
    if (o)
        p->o = *o;
    else
        dl_pump_opts_default(&p->o);
    if (p->o.max_inflight < 1)
        p->o.max_inflight = 1;
    if (p->o.max_attempts < 1)
        p->o.max_attempts = 1;
    dl_buf_init(&p->table_json, 0);
    dl_buf_init(&p->keybuf, 0);
    p->tab_size = 1024;
    p->tab = calloc(p->tab_size, sizeof *p->tab);
    p->arena = dl_arena_new(0, 0);
    p->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)p << 16) ^ 0x9E3779B97F4A7C15ULL;
    p->start_ns = now_ns();
    dl_rate_init(&p->rate, p->o.max_wcu, p->o.start_wcu, p->start_ns);
    if (p->o.hot_key_wcu > 0 && !(p->hot = calloc(HOT_SLOTS, sizeof *p->hot)))
        goto fail;
    if (!p->tab || !p->arena || dl_buf_append_json_str(&p->table_json, table, strlen(table)))
        goto fail;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->space, NULL);
    pthread_cond_init(&p->idle, NULL);
    if (pthread_create(&p->thread, NULL, pump_main, p)) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake);
        pthread_cond_destroy(&p->space);
        pthread_cond_destroy(&p->idle);
        goto fail;
    }
    return p;
fail:
    free(p->hot);
    dl_buf_free(&p->table_json);
    dl_buf_free(&p->keybuf);
    dl_arena_destroy(p->arena);
    free(p->tab);
    free(p);
    return NULL;
}

static enum dl_err stopped_err(const struct dl_pump *p)
{
    return p->fatal[0] ? DL_ERR_AWS : DL_ERR_CANCELLED;
}

enum dl_err dl_pump_submit(struct dl_pump *p, enum dl_write_kind kind, const struct dl_item *it,
                           const struct dl_origin *origin)
{
    const struct dl_buf *payload = kind == DL_WRITE_PUT ? &it->wire : &it->key_wire;
    static const char put_pre[] = "{\"PutRequest\":{\"Item\":", del_pre[] = "{\"DeleteRequest\":{\"Key\":";
    const char *pre = kind == DL_WRITE_PUT ? put_pre : del_pre;
    size_t prelen = strlen(pre);
    if (!it->key.len)
        return DL_ERR_INVALID;
    size_t req_len = prelen + payload->len + 2;
    size_t bytes = sizeof(struct pitem) + it->key.len + req_len + sizeof(struct kentry);
    struct pitem *pi = malloc(sizeof *pi + it->key.len + req_len);
    if (!pi)
        return DL_ERR_NOMEM;
    pi->next = NULL;
    pi->kind = kind;
    pi->wcu = (uint32_t)dl_item_wcu(kind == DL_WRITE_PUT ? it->size : 1);
    pi->record = origin ? origin->record : 0;
    pi->line = origin ? origin->line : 0;
    pi->tag = origin ? origin->tag : 0;
    pi->key_len = it->key.len;
    pi->key = pi->data;
    memcpy(pi->key, it->key.data, it->key.len);
    pi->hash = hash_bytes(pi->key, pi->key_len);
    /* hashed here, while the key is in this core's cache, rather than on the pump thread */
    size_t pkl = pk_len(pi);
    pi->pk_hash = pkl == pi->key_len ? pi->hash : hash_bytes(pi->key, pkl);
    pi->req = pi->data + it->key.len;
    pi->req_len = req_len;
    memcpy(pi->req, pre, prelen);
    memcpy(pi->req + prelen, payload->data, payload->len);
    memcpy(pi->req + prelen + payload->len, "}}", 2);
    pi->bytes = bytes;

    pthread_mutex_lock(&p->mu);
    while (!p->cancelled && !p->fatal[0] && p->queued_bytes > p->o.max_queued_bytes) {
        if (p->sleeping)
            pthread_cond_signal(&p->wake);
        p->space_waiters++;
        pthread_cond_wait(&p->space, &p->mu);
        p->space_waiters--;
    }
    if (p->cancelled || p->fatal[0]) {
        enum dl_err e = stopped_err(p);
        pthread_mutex_unlock(&p->mu);
        free(pi);
        return e;
    }
    pi->source = intern(p, origin ? origin->source : NULL, &p->last_source);
    pi->entry = intern(p, origin ? origin->entry : NULL, &p->last_entry);
    p->queued_bytes += bytes;
    p->st.submitted++;
    if (p->in_tail)
        p->in_tail->next = pi;
    else
        p->in_head = pi;
    p->in_tail = pi;
    p->nin++;
    /* Wake the pump thread only when this item lets it do something it could not do before: with
     * nothing in flight (no response will wake it), with room to send and either a full batch's
     * worth waiting or this the first item with no linger timer running (so a partial batch still
     * goes after LINGER_NS), or when the memory budget is used up. Otherwise a response or the
     * linger timeout wakes it, and one wake-up takes many items. */
    if (p->sleeping &&
        (p->inflight == 0 || p->queued_bytes > p->o.max_queued_bytes ||
         (p->inflight < p->o.max_inflight && (p->nin + p->nready >= BATCH_MAX_ITEMS || (p->nin == 1 && !p->nready)))))
        pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    return DL_OK;
}

enum dl_err dl_pump_finish(struct dl_pump *p)
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_signal(&p->wake);
    while (!drained(p))
        pthread_cond_wait(&p->idle, &p->mu);
    enum dl_err e = p->fatal[0] ? DL_ERR_AWS : p->cancelled ? DL_ERR_CANCELLED : DL_OK;
    pthread_mutex_unlock(&p->mu);
    return e;
}

enum dl_err dl_pump_finish_or_stop(struct dl_pump *p, bool (*stop)(void))
{
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    pthread_cond_signal(&p->wake);
    while (!drained(p)) {
        if (!p->cancelled && stop && stop()) {
            p->cancelled = true;
            pthread_cond_broadcast(&p->space);
            pthread_cond_signal(&p->wake);
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->idle, &p->mu, &ts);
    }
    enum dl_err e = p->fatal[0] ? DL_ERR_AWS : p->cancelled ? DL_ERR_CANCELLED : DL_OK;
    pthread_mutex_unlock(&p->mu);
    return e;
}

void dl_pump_cancel(struct dl_pump *p)
{
    pthread_mutex_lock(&p->mu);
    p->cancelled = true;
    pthread_cond_broadcast(&p->space);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

void dl_pump_stats_get(struct dl_pump *p, struct dl_pump_stats *out)
{
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    out->abandoned = p->abandoned;
    out->rate_cuts = p->rate.cuts;
    out->rate = dl_rate_limited(&p->rate) ? p->rate.rate : 0;
    pthread_mutex_unlock(&p->mu);
}

size_t dl_pump_timeline(struct dl_pump *p, struct dl_pump_second *out, size_t max)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->nsec < max ? p->nsec : max;
    if (n)
        memcpy(out, p->timeline, n * sizeof *out);
    size_t total = p->nsec;
    pthread_mutex_unlock(&p->mu);
    return total;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}

double dl_pump_latency(struct dl_pump *p, double q)
{
    pthread_mutex_lock(&p->mu);
    double v = 0;
    if (p->nlat) {
        qsort(p->lat, p->nlat, sizeof *p->lat, cmp_float);
        size_t i = (size_t)(q * (double)(p->nlat - 1) + 0.5);
        v = p->lat[i < p->nlat ? i : p->nlat - 1];
    }
    pthread_mutex_unlock(&p->mu);
    return v;
}

const char *dl_pump_error(struct dl_pump *p)
{
    return p->fatal[0] ? p->fatal : NULL;
}

void dl_pump_destroy(struct dl_pump *p)
{
    if (!p)
        return;
    /* Requests still on the network thread hold pointers to us: let them come back first. */
    pthread_mutex_lock(&p->mu);
    p->closed = true;
    if (!drained(p)) {
        p->cancelled = true;
        pthread_cond_signal(&p->wake);
        while (!drained(p))
            pthread_cond_wait(&p->idle, &p->mu);
    }
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->space);
    pthread_cond_destroy(&p->idle);
    while (p->strings) {
        struct interned *n = p->strings->next;
        free(p->strings);
        p->strings = n;
    }
    free(p->tab);
    free(p->heap);
    free(p->hot);
    free(p->timeline);
    free(p->lat);
    dl_arena_destroy(p->arena);
    dl_buf_free(&p->table_json);
    dl_buf_free(&p->keybuf);
    free(p);
}
