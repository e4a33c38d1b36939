/* `ddbload bench`: synthetic items through the same pump as `run`, and a report of what the
 * table sustained (items/s, WCU/s, latency, throttles, unprocessed items, a per-second timeline). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_impl.h"
#include "cli/run.h"
#include "core/json.h"
#include "core/log.h"

struct gen {
    const struct dl_key_schema *ks;
    bool hot;
    char run_id[16];
    uint64_t num_base;     /* N keys: a per-run offset so reruns do not overwrite each other */
    size_t filler;         /* bytes of the "data" attribute that bring an item to --item-size */
    struct dl_buf json;
    struct dl_buf noise;   /* pseudo-random text the fillers are cut from */
    struct dl_arena *arena;
};

/* Decimal digits of v (no printf: this runs once per generated item). */
static enum dl_err append_u64(struct dl_buf *b, uint64_t v)
{
    char d[20];
    size_t i = sizeof d;
    do {
        d[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return dl_buf_append(b, d + i, sizeof d - i);
}

static enum dl_err key_value(struct gen *g, struct dl_buf *b, char type, uint64_t n, bool hot)
{
    if (type == 'N')
        return append_u64(b, hot ? g->num_base : g->num_base + 1 + n);
    enum dl_err e = dl_buf_append_str(b, "\"ddbload-bench-");
    if (!e)
        e = dl_buf_append_str(b, g->run_id);
    if (!e)
        e = dl_buf_append_byte(b, '-');
    if (!e)
        e = hot ? dl_buf_append_str(b, "hot") : append_u64(b, n);
    if (!e)
        e = dl_buf_append_byte(b, '"');
    return e;
}

/* Item n as JSON text, then mapped by the same code as `run` (keys converted to the schema). */
static enum dl_err make(struct gen *g, uint64_t n, size_t filler, bool key_only, struct dl_item *it,
                        struct dl_pos_err *why)
{
    struct dl_buf *b = &g->json;
    dl_buf_reset(b);
    bool hot = g->hot && n % 2 == 0;
    enum dl_err e = dl_buf_append_byte(b, '{');
    for (int k = 0; !e && k < g->ks->n; k++) {
        const struct dl_key_attr *ka = &g->ks->k[k];
        if (k)
            e = dl_buf_append_byte(b, ',');
        if (!e)
            e = dl_buf_append_json_str(b, ka->name, ka->name_len);
        if (!e)
            e = dl_buf_append_byte(b, ':');
        /* the partition key is hot; a sort key keeps every item distinct */
        if (!e)
            e = key_value(g, b, ka->type, n, k == 0 && hot);
    }
    if (!e && !key_only) {
        /* the filler: a window of a pseudo-random text made once, starting at a place that
         * depends on n (items differ, and generating them costs little next to the pump) */
        e = dl_buf_append_str(b, ",\"data\":\"");
        if (!e && filler) {
            size_t start = (size_t)((n * 0x9E3779B97F4A7C15ULL) >> 40) % (g->noise.len - filler + 1);
            e = dl_buf_append(b, g->noise.data + start, filler);
        }
        if (!e)
            e = dl_buf_append_str(b, "\"");
    }
    if (!e)
        e = dl_buf_append_byte(b, '}');
    if (e)
        return e;
    struct dl_json *doc;
    dl_arena_reset(g->arena);
    e = dl_json_parse_doc(g->arena, b->data, b->len, &doc, why);
    return e ? e : dl_item_from_json(it, doc, g->ks, why);
}

bool dl_cli_write_timeline(struct dl_pump *p, const char *path, char *err, size_t errlen)
{
    size_t n = dl_pump_timeline(p, NULL, 0);
    struct dl_pump_second *t = calloc(n ? n : 1, sizeof *t);
    FILE *f = fopen(path, "w");
    bool ok = t && f;
    if (ok) {
        dl_pump_timeline(p, t, n);
        fprintf(f, "second,items,wcu,requests,throttled,unprocessed,target_wcu\n");
        for (size_t i = 0; i < n; i++)
            fprintf(f, "%zu,%" PRIu64 ",%.1f,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%.1f\n", i, t[i].written, t[i].wcu,
                    t[i].requests, t[i].throttled, t[i].unprocessed, t[i].target);
        ok = fflush(f) == 0 && !ferror(f);
    }
    if (!ok)
        snprintf(err, errlen, "cannot write the timeline %s", path);
    if (f)
        fclose(f);
    free(t);
    return ok;
}

int dl_cmd_bench(const struct dl_args *a)
{
    struct loader L;
    struct gen g = { 0 };
    struct dl_item it;
    char err[1024];
    char *dlpath = NULL;
    int status = 1;
    dl_cli_loader_init(&L, a);
    dl_item_init(&it);
    dl_buf_init(&g.json, 0);
    dl_buf_init(&g.noise, 0);
    g.arena = dl_arena_new(0, 0);
    if (!g.arena || !dl_cli_ensure_net(&L, err, sizeof err) || !dl_cli_describe_active(&L, a->table, err, sizeof err)) {
        dl_error("%s", g.arena ? err : "out of memory");
        goto out;
    }
    g.ks = &L.table.ks;
    g.hot = a->keys_hot;
    if (g.hot && g.ks->n < 2) {
        dl_error("--keys hot needs a table with a sort key: with a partition key alone the hot items "
                 "would all be one item");
        goto out;
    }
    snprintf(g.run_id, sizeof g.run_id, "%08x", (unsigned)(time(NULL) ^ (getpid() << 16)));
    g.num_base = ((uint64_t)time(NULL) % 100000) * 10000000000ull;
    /* size the filler so the item is --item-size bytes by DynamoDB's rules (at least its keys) */
    struct dl_pos_err why;
    if (make(&g, 0, 0, false, &it, &why)) {
        dl_error("cannot build a bench item for this table: %s", why.msg);
        goto out;
    }
    size_t base = it.size;
    g.filler = (size_t)a->item_size > base ? (size_t)a->item_size - base : 0;
    {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        uint64_t x = 0x9E3779B97F4A7C15ULL;
        for (size_t i = 0; i < g.filler + 65536; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if (dl_buf_append_byte(&g.noise, (uint8_t)alphabet[x % 36])) {
                dl_error("out of memory");
                goto out;
            }
        }
    }
    if (make(&g, 0, g.filler, false, &it, &why)) {
        dl_error("cannot build a bench item for this table: %s", why.msg);
        goto out;
    }
    size_t item_bytes = it.size;
    size_t item_wcu = dl_item_wcu(item_bytes);

    dlpath = a->dead_letter ? strdup(a->dead_letter) : dl_cli_default_dead_letter();
    L.dlq = dlpath ? dl_deadletter_new(dlpath) : NULL;
    struct dl_pump_opts po;
    dl_cli_pump_opts(a, &L.table, &po);
    L.pump = L.dlq ? dl_pump_new(L.net, &L.cfg, a->table, g.ks, &po, L.dlq) : NULL;
    if (!L.pump) {
        dl_error("out of memory");
        goto out;
    }
    if (!a->quiet && !a->json) {
        dl_info("bench: %lld items of %zu bytes (%zu WCU each) into '%s', keys %s", a->bench_items, item_bytes,
                item_wcu, a->table, g.hot ? "hot (half share one partition key)" : "uniform");
        dl_cli_log_rate(&L.table, &po);
    }
    double t0 = dl_cli_now_s();
    bool ok = true;
    for (long long n = 0; n < a->bench_items && ok; n++) {
        if (make(&g, (uint64_t)n, g.filler, false, &it, &why)) {
            dl_error("cannot build item %lld: %s", n, why.msg);
            ok = false;
            break;
        }
        struct dl_origin o = { "bench", NULL, (uint64_t)n + 1, 0, 0, NULL, 0 };
        if (dl_pump_submit(L.pump, DL_WRITE_PUT, &it, &o))
            ok = false;
    }
    if (dl_pump_finish(L.pump) && dl_pump_error(L.pump)) {
        dl_error("%s", dl_pump_error(L.pump));
        ok = false;
    }
    double dt = dl_cli_now_s() - t0;
    struct dl_pump_stats st;
    dl_pump_stats_get(L.pump, &st);
    double wcu = st.consumed_wcu > 0 ? st.consumed_wcu : (double)(st.written * item_wcu);
    double p50 = dl_pump_latency(L.pump, 0.5) * 1000, p99 = dl_pump_latency(L.pump, 0.99) * 1000;
    double pmax = dl_pump_latency(L.pump, 1.0) * 1000;
    double thr = st.requests ? (double)st.throttled / (double)st.requests : 0;
    uint64_t sent = st.written + st.unprocessed;
    double unp = sent ? (double)st.unprocessed / (double)sent : 0;
    if (a->timeline && !dl_cli_write_timeline(L.pump, a->timeline, err, sizeof err)) {
        dl_error("%s", err);
        ok = false;
    }
    uint64_t dead = dl_deadletter_count(L.dlq);
    if (a->json) {
        printf("{\"table\":");
        struct dl_buf tn;
        dl_buf_init(&tn, 0);
        dl_buf_append_json_str(&tn, a->table, strlen(a->table));
        printf("%s,\"items\":%lld,\"item_bytes\":%zu,\"item_wcu\":%zu,\"keys\":\"%s\",\"seconds\":%.3f,"
               "\"written\":%" PRIu64 ",\"items_per_s\":%.1f,\"wcu\":%.1f,\"wcu_per_s\":%.1f,"
               "\"latency_ms\":{\"p50\":%.2f,\"p99\":%.2f,\"max\":%.2f},\"requests\":%" PRIu64
               ",\"throttled_requests\":%" PRIu64 ",\"throttled_share\":%.4f,\"unprocessed_items\":%" PRIu64
               ",\"unprocessed_share\":%.4f,\"retries\":%" PRIu64 ",\"hot_key_waits\":%" PRIu64
               ",\"rate_cuts\":%" PRIu64 ",\"target_wcu_per_s\":%.1f,\"dead_lettered\":%" PRIu64 "}\n",
               (const char *)tn.data, a->bench_items, item_bytes, item_wcu, g.hot ? "hot" : "uniform", dt,
               st.written, dt > 0 ? (double)st.written / dt : 0, wcu, dt > 0 ? wcu / dt : 0, p50, p99, pmax,
               st.requests, st.throttled, thr, st.unprocessed, unp, st.retries, st.hot_key_waits, st.rate_cuts,
               po.max_wcu, dead);
        dl_buf_free(&tn);
    } else if (!a->quiet) {
        char c1[32];
        printf("items written      %s of %lld in %.2f s\n", dl_cli_commas(st.written, c1, sizeof c1),
               a->bench_items, dt);
        printf("throughput         %.0f items/s, %.0f WCU/s\n", dt > 0 ? (double)st.written / dt : 0,
               dt > 0 ? wcu / dt : 0);
        if (po.max_wcu > 0)
            printf("rate ceiling       %.0f WCU/s (%.0f%% of it used)\n", po.max_wcu,
                   dt > 0 ? 100 * wcu / dt / po.max_wcu : 0);
        else
            printf("rate ceiling       none\n");
        printf("latency            p50 %.1f ms, p99 %.1f ms, max %.1f ms (%" PRIu64 " BatchWriteItem requests)\n",
               p50, p99, pmax, st.requests);
        printf("throttled          %" PRIu64 " requests (%.2f%%), %" PRIu64 " items unprocessed (%.2f%%)\n",
               st.throttled, 100 * thr, st.unprocessed, 100 * unp);
        printf("retries            %" PRIu64 " item re-sends, %" PRIu64 " hot-key waits, %" PRIu64 " rate cuts\n",
               st.retries, st.hot_key_waits, st.rate_cuts);
        if (dead)
            printf("dead-lettered      %" PRIu64 " (%s)\n", dead, dlpath);
    }
    fflush(stdout);
    if (ok && a->delete_after) {
        /* the same keys again, as DeleteRequests */
        dl_pump_destroy(L.pump);
        L.pump = dl_pump_new(L.net, &L.cfg, a->table, g.ks, &po, L.dlq);
        for (long long n = 0; L.pump && n < a->bench_items && ok; n++) {
            if (make(&g, (uint64_t)n, 0, true, &it, &why) || dl_pump_submit(L.pump, DL_WRITE_DELETE, &it, NULL))
                ok = false;
        }
        if (!L.pump || dl_pump_finish(L.pump)) {
            dl_error("cleaning up: %s", L.pump && dl_pump_error(L.pump) ? dl_pump_error(L.pump) : "failed");
            ok = false;
        } else if (!a->quiet && !a->json) {
            printf("deleted            the %lld bench items\n", a->bench_items);
        }
    }
    status = !ok ? 1 : dl_deadletter_count(L.dlq) ? 2 : 0;
out:
    dl_item_free(&it);
    dl_buf_free(&g.json);
    dl_buf_free(&g.noise);
    dl_arena_destroy(g.arena);
    dl_cli_loader_free(&L);
    free(dlpath);
    return status;
}
