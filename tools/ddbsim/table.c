/* Tables, their items, and their write capacity.
 *
 * Capacity is a token bucket per table and one per partition (see
 * docs/capacity-simulator.md for the model and why each number is what it is). Items live
 * in an open-addressing hash table keyed by canonical key bytes; an insertion-order array
 * gives Scan a stable order and paging position. Deleted keys stay as tombstones so their
 * write counts survive for /_sim/writes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim.h"

static struct sim_table **tables;
static size_t ntables, tables_alloc;

size_t sim_table_count(void)
{
    return ntables;
}

struct sim_table *sim_table_at(size_t i)
{
    return i < ntables ? tables[i] : NULL;
}

static int name_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(a, b, n);
    return c ? c : (alen > blen) - (alen < blen);
}

struct sim_table *sim_table_find(const uint8_t *name, size_t len)
{
    size_t lo = 0, hi = ntables;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = name_cmp((const uint8_t *)tables[mid]->name, tables[mid]->name_len, name, len);
        if (c == 0)
            return tables[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static double item_wcu(size_t size)
{
    return (double)dl_item_wcu(size);
}

static double od_max(const struct sim_table *t)
{
    return t->od_max_write > 0 ? t->od_max_write : g_cfg.ondemand_max;
}

static double od_limit(const struct sim_table *t)
{
    double lim = 2 * t->od_peak, max = od_max(t);
    return lim < max ? lim : max;
}

double sim_table_limit(const struct sim_table *t, double now)
{
    return t->on_demand ? od_limit(t) : t->wcu;
}

static void bucket_set(struct sim_bucket *b, double rate, double cap, double tokens, double now)
{
    b->rate = rate;
    b->cap = cap;
    b->tokens = tokens < cap ? tokens : cap;
    b->last = now;
}

static void bucket_refill(struct sim_bucket *b, double now)
{
    if (now > b->last) {
        b->tokens += (now - b->last) * b->rate;
        if (b->tokens > b->cap)
            b->tokens = b->cap;
        b->last = now;
    }
}

/* A write fits if the bucket holds its cost, or if the bucket is full: an item bigger than
 * the whole bucket (a 400 KB item on a 100 WCU table) still goes through, into debt, as it
 * does on DynamoDB, instead of never being writable. */
static bool bucket_fits(const struct sim_bucket *b, double cost)
{
    return b->tokens + 1e-9 >= cost || b->tokens + 1e-9 >= b->cap;
}

void sim_table_configure(struct sim_table *t, bool keep_tokens)
{
    double now = sim_now();
    double burst = g_cfg.burst_seconds > 1 ? g_cfg.burst_seconds : 1;
    double initial = g_cfg.initial_burst < 0 ? g_cfg.burst_seconds : g_cfg.initial_burst;
    double rate, cap, tokens;
    if (t->on_demand) {
        if (!keep_tokens || t->od_peak <= 0) {
            t->od_peak = g_cfg.ondemand_initial / 2;
            t->od_sec = (int64_t)floor(now);
            t->od_sec_used = 0;
        }
        rate = od_limit(t);
        cap = rate; /* one second of the instant limit */
        tokens = cap;
    } else {
        rate = t->wcu;
        cap = t->wcu * burst;
        tokens = t->wcu * (initial < burst ? initial : burst);
    }
    if (keep_tokens) {
        bucket_refill(&t->bucket, now);
        tokens = t->bucket.tokens;
    }
    bucket_set(&t->bucket, rate, cap, tokens, now);

    int n = g_cfg.partitions;
    if (n <= 0) {
        double span = t->on_demand ? od_max(t) : t->wcu;
        n = (int)ceil(span / g_cfg.partition_wcu);
        if (n < 1)
            n = 1;
    }
    if (n != t->nparts || !t->parts) {
        free(t->parts);
        t->parts = calloc((size_t)n, sizeof *t->parts);
        t->nparts = t->parts ? n : 0;
        double pinit = t->on_demand ? 1 : (initial < 1 ? initial : 1);
        for (int i = 0; i < t->nparts; i++)
            bucket_set(&t->parts[i], g_cfg.partition_wcu, g_cfg.partition_wcu,
                       g_cfg.partition_wcu * pinit, now);
    }
}

/* On-demand: at each new second, last second's consumption becomes the peak if higher,
 * and the instant limit (2 x peak, capped) is applied to the table bucket. */
static void od_tick(struct sim_table *t, double now)
{
    int64_t sec = (int64_t)floor(now);
    if (sec == t->od_sec)
        return;
    if (t->od_sec_used > t->od_peak)
        t->od_peak = t->od_sec_used;
    t->od_sec = sec;
    t->od_sec_used = 0;
    bucket_refill(&t->bucket, now);
    double lim = od_limit(t);
    t->bucket.rate = lim;
    t->bucket.cap = lim;
}

int sim_capacity_take(struct sim_table *t, uint64_t pk_hash, double cost, double now)
{
    if (t->on_demand)
        od_tick(t, now);
    bucket_refill(&t->bucket, now);
    struct sim_bucket *p = &t->parts[pk_hash % (uint64_t)t->nparts];
    bucket_refill(p, now);
    if (!bucket_fits(&t->bucket, cost))
        return SIM_THROTTLE_TABLE;
    if (!bucket_fits(p, cost))
        return SIM_THROTTLE_PARTITION;
    t->bucket.tokens -= cost;
    p->tokens -= cost;
    t->od_sec_used += cost;
    return SIM_TAKEN;
}

struct sim_table *sim_table_new(const uint8_t *name, size_t len, int nkeys,
                                const struct sim_key_attr *keys, bool on_demand, double rcu,
                                double wcu, double od_max_read, double od_max_write)
{
    if (sim_table_find(name, len))
        return NULL;
    if (ntables == tables_alloc) {
        size_t na = tables_alloc ? tables_alloc * 2 : 8;
        struct sim_table **nt = realloc(tables, na * sizeof *nt);
        if (!nt)
            return NULL;
        tables = nt;
        tables_alloc = na;
    }
    struct sim_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->name = malloc(len + 1);
    memcpy(t->name, name, len);
    t->name[len] = 0;
    t->name_len = len;
    t->nkeys = nkeys;
    for (int i = 0; i < nkeys; i++) {
        t->key[i].name = malloc(keys[i].len + 1);
        memcpy(t->key[i].name, keys[i].name, keys[i].len);
        t->key[i].name[keys[i].len] = 0;
        t->key[i].len = keys[i].len;
        t->key[i].type = keys[i].type;
        t->ks.k[i].name = t->key[i].name;
        t->ks.k[i].name_len = t->key[i].len;
        t->ks.k[i].type = t->key[i].type;
    }
    t->ks.n = nkeys;
    t->on_demand = on_demand;
    t->rcu = rcu;
    t->wcu = wcu;
    t->od_max_read = od_max_read;
    t->od_max_write = od_max_write;
    t->created = sim_wall();
    t->id = sim_rand();
    t->nslots = 1024;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    sim_table_configure(t, false);

    size_t pos = 0;
    while (pos < ntables && name_cmp((const uint8_t *)tables[pos]->name, tables[pos]->name_len,
                                     name, len) < 0)
        pos++;
    memmove(tables + pos + 1, tables + pos, (ntables - pos) * sizeof *tables);
    tables[pos] = t;
    ntables++;
    return t;
}

void sim_table_delete(struct sim_table *t)
{
    for (size_t i = 0; i < ntables; i++) {
        if (tables[i] == t) {
            memmove(tables + i, tables + i + 1, (ntables - i - 1) * sizeof *tables);
            ntables--;
            break;
        }
    }
    for (size_t i = 0; i < t->norder; i++) {
        struct sim_entry *e = t->order[i];
        struct sim_version *v = e->hist;
        while (v) {
            struct sim_version *n = v->next;
            free(v->raw);
            free(v);
            v = n;
        }
        free(e->raw);
        free(e);
    }
    free(t->order);
    free(t->slots);
    free(t->parts);
    for (int i = 0; i < t->nkeys; i++)
        free(t->key[i].name);
    free(t->name);
    free(t);
}

struct sim_entry *sim_store_find(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h)
{
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct sim_slot *s = &t->slots[i];
        if (!s->e)
            return NULL;
        if (s->hash == h && s->e->key_len == key_len && memcmp(s->e->data, key, key_len) == 0)
            return s->e;
    }
}

void sim_store_prefetch(const struct sim_table *t, uint64_t h, uint64_t pk_hash)
{
    __builtin_prefetch(&t->slots[h & (t->nslots - 1)]);
    if (t->nparts > 0)
        __builtin_prefetch(&t->parts[pk_hash % (uint64_t)t->nparts]);
}

static bool grow(struct sim_table *t)
{
    size_t n = t->nslots * 2;
    struct sim_slot *s = calloc(n, sizeof *s);
    if (!s)
        return false;
    for (size_t i = 0; i < t->nslots; i++) {
        if (!t->slots[i].e)
            continue;
        size_t j = t->slots[i].hash & (n - 1);
        while (s[j].e)
            j = (j + 1) & (n - 1);
        s[j] = t->slots[i];
    }
    free(t->slots);
    t->slots = s;
    t->nslots = n;
    return true;
}

/* A bulk load grows the heap by about an item's size per write. Fault each new stretch of
 * the heap in with one madvise rather than one page fault per 4 KB: under virtualisation
 * the faults were a fifth of ddbsim's CPU at 1 KB items. Best effort: errors are ignored. */
static void populate_heap(void)
{
    static uintptr_t done;
    uintptr_t top = (uintptr_t)sbrk(0);
    if (top <= done || top == (uintptr_t)-1)
        return;
    if (done) {
        uintptr_t from = done & ~((uintptr_t)sysconf(_SC_PAGESIZE) - 1);
        (void)madvise((void *)from, top - from, MADV_POPULATE_WRITE);
    }
    done = top;
}

bool sim_store_write(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h,
                     const uint8_t *key_json, size_t key_json_len, const uint8_t *raw,
                     size_t raw_len, size_t size)
{
    struct sim_entry *e = sim_store_find(t, key, key_len, h);
    uint8_t *copy = NULL;
    if (raw) {
        copy = malloc(raw_len ? raw_len : 1);
        if (!copy)
            return false;
        memcpy(copy, raw, raw_len);
    }
    populate_heap();
    if (!e) {
        if ((t->nused + 1) * 10 >= t->nslots * 7 && !grow(t))
            goto nomem;
        if (t->norder == t->order_alloc) {
            size_t na = t->order_alloc ? t->order_alloc * 2 : 1024;
            struct sim_entry **no = realloc(t->order, na * sizeof *no);
            if (!no)
                goto nomem;
            t->order = no;
            t->order_alloc = na;
        }
        e = calloc(1, sizeof *e + key_len + key_json_len);
        if (!e)
            goto nomem;
        e->hash = h;
        e->key_len = (uint32_t)key_len;
        e->key_json_len = (uint32_t)key_json_len;
        memcpy(e->data, key, key_len);
        memcpy(e->data + key_len, key_json, key_json_len);
        e->order = (uint32_t)t->norder;
        t->order[t->norder++] = e;
        size_t mask = t->nslots - 1, i = h & mask;
        while (t->slots[i].e)
            i = (i + 1) & mask;
        t->slots[i] = (struct sim_slot){ h, e };
        t->nused++;
    } else {
        if (e->live) {
            t->item_count--;
            t->size_bytes -= e->size;
        }
        struct sim_version *v = g_cfg.history ? malloc(sizeof *v) : NULL;
        if (v) {
            v->seq = e->last_seq;
            v->op = e->last_op;
            v->raw = e->raw;
            v->len = e->raw_len;
            v->next = NULL;
            if (e->hist_tail)
                e->hist_tail->next = v;
            else
                e->hist = v;
            e->hist_tail = v;
        } else {
            free(e->raw);
        }
    }
    e->raw = copy;
    e->raw_len = (uint32_t)raw_len;
    e->size = (uint32_t)size;
    e->live = raw != NULL;
    e->writes++;
    e->last_seq = ++g_write_seq;
    e->last_op = raw ? 'P' : 'D';
    if (e->live) {
        t->item_count++;
        t->size_bytes += size;
    }
    return true;
nomem:
    free(copy);
    return false;
}

double sim_write_cost(struct sim_table *t, const uint8_t *key, size_t key_len, uint64_t h,
                      size_t new_size, bool is_delete)
{
    struct sim_entry *e = sim_store_find(t, key, key_len, h);
    double old = e && e->live ? item_wcu(e->size) : 0;
    if (is_delete)
        return old > 0 ? old : 1;
    double c = item_wcu(new_size);
    return c > old ? c : old;
}
