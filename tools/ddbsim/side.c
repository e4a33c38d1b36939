/* Counters and the /_sim/ side endpoints tests read them through. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

struct sim_stats g_stats;
uint64_t g_write_seq;

struct slot {
    int64_t sec;
    double wcu;
    uint64_t items;
    uint64_t throttled;
};

static struct slot *series;
static int nseries;
static double started;

void sim_stats_init(void)
{
    started = sim_now();
    nseries = g_cfg.series_seconds > 0 ? g_cfg.series_seconds : 1;
    series = calloc((size_t)nseries, sizeof *series);
    sim_stats_reset();
}

void sim_stats_reset(void)
{
    memset(&g_stats, 0, sizeof g_stats);
    g_stats.since = sim_now();
    for (int i = 0; i < nseries; i++)
        series[i].sec = -1;
    for (size_t i = 0; i < sim_table_count(); i++) {
        struct sim_table *t = sim_table_at(i);
        t->st_items_written = t->st_items_deleted = t->st_unprocessed = 0;
        t->st_throttled_requests = 0;
        t->st_wcu = 0;
    }
}

static struct slot *slot_for(int64_t sec)
{
    struct slot *s = &series[sec % nseries];
    if (s->sec != sec) {
        s->sec = sec;
        s->wcu = 0;
        s->items = 0;
        s->throttled = 0;
    }
    return s;
}

void sim_series_add(double now, double wcu, uint64_t items, uint64_t throttled_items)
{
    struct slot *s = slot_for((int64_t)floor(now - started));
    s->wcu += wcu;
    s->items += items;
    s->throttled += throttled_items;
}

/* Value of parameter name in a query string, percent-decoded into out. */
static bool query_param(const char *q, size_t qlen, const char *name, struct dl_buf *out)
{
    size_t nl = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        size_t e = i;
        while (e < qlen && q[e] != '&')
            e++;
        if (e - i > nl && memcmp(q + i, name, nl) == 0 && q[i + nl] == '=') {
            dl_buf_reset(out);
            for (size_t k = i + nl + 1; k < e; k++) {
                char c = q[k];
                if (c == '+') {
                    c = ' ';
                } else if (c == '%' && k + 2 < e) {
                    char h[3] = { q[k + 1], q[k + 2], 0 };
                    c = (char)strtol(h, NULL, 16);
                    k += 2;
                }
                dl_buf_append_byte(out, (uint8_t)c);
            }
            return true;
        }
        i = e + 1;
    }
    return false;
}

static void stats_json(struct dl_buf *b)
{
    double now = sim_now();
    const struct sim_stats *s = &g_stats;
    uint64_t faults = s->fault_500 + s->fault_503 + s->fault_reset + s->fault_stall;
    dl_buf_printf(b, "{\"uptime_s\":%.3f,\"since_reset_s\":%.3f,\"requests\":%llu,\"requests_by_op\":{",
                  now - started, now - s->since, (unsigned long long)s->requests);
    for (int i = 0; i < OP_COUNT; i++)
        dl_buf_printf(b, "%s\"%s\":%llu", i ? "," : "", sim_op_name((enum sim_op)i),
                      (unsigned long long)s->by_op[i]);
    dl_buf_printf(b, "},\"batch_requests\":%llu,\"items_written\":%llu,\"items_deleted\":%llu,\"wcu_consumed\":",
                  (unsigned long long)s->batch_requests, (unsigned long long)s->items_written,
                  (unsigned long long)s->items_deleted);
    sim_json_double(b, s->wcu_consumed);
    dl_buf_printf(b, ",\"throttled_requests\":%llu,\"throttled_items\":%llu,\"unprocessed_items\":%llu,"
                  "\"validation_errors\":%llu,\"other_errors\":%llu,"
                  "\"faults\":{\"total\":%llu,\"internal_error\":%llu,\"service_unavailable\":%llu,\"reset\":%llu,\"stall\":%llu},"
                  "\"connections\":{\"open\":%llu,\"accepted\":%llu},\"write_seq\":%llu,\"tables\":{",
                  (unsigned long long)s->throttled_requests, (unsigned long long)s->throttled_items,
                  (unsigned long long)s->unprocessed_items, (unsigned long long)s->validation_errors,
                  (unsigned long long)s->other_errors, (unsigned long long)faults,
                  (unsigned long long)s->fault_500, (unsigned long long)s->fault_503,
                  (unsigned long long)s->fault_reset, (unsigned long long)s->fault_stall,
                  (unsigned long long)g_conn_open, (unsigned long long)g_conn_accepted,
                  (unsigned long long)g_write_seq);
    for (size_t i = 0; i < sim_table_count(); i++) {
        struct sim_table *t = sim_table_at(i);
        if (i)
            dl_buf_append_byte(b, ',');
        dl_buf_append_json_str(b, t->name, t->name_len);
        dl_buf_printf(b, ":{\"billing_mode\":\"%s\",\"limit_wcu\":", t->on_demand ? "PAY_PER_REQUEST" : "PROVISIONED");
        sim_json_double(b, sim_table_limit(t, now));
        dl_buf_append_str(b, ",\"tokens\":");
        sim_json_double(b, t->bucket.tokens);
        dl_buf_printf(b, ",\"partitions\":%d,\"item_count\":%llu,\"size_bytes\":%llu,\"items_written\":%llu,"
                      "\"items_deleted\":%llu,\"unprocessed_items\":%llu,\"throttled_requests\":%llu,\"wcu_consumed\":",
                      t->nparts, (unsigned long long)t->item_count, (unsigned long long)t->size_bytes,
                      (unsigned long long)t->st_items_written, (unsigned long long)t->st_items_deleted,
                      (unsigned long long)t->st_unprocessed, (unsigned long long)t->st_throttled_requests);
        sim_json_double(b, t->st_wcu);
        if (t->on_demand) {
            dl_buf_append_str(b, ",\"ondemand_peak\":");
            sim_json_double(b, t->od_peak);
        }
        dl_buf_append_byte(b, '}');
    }
    int64_t cur = (int64_t)floor(now - started);
    int n = nseries;
    dl_buf_printf(b, "},\"series\":{\"seconds\":%d,\"now_s\":%lld,\"wcu\":[", n, (long long)cur);
    for (int k = n - 1; k >= 0; k--) {
        int64_t sec = cur - k;
        const struct slot *sl = sec >= 0 ? &series[sec % nseries] : NULL;
        if (k != n - 1)
            dl_buf_append_byte(b, ',');
        sim_json_double(b, sl && sl->sec == sec ? sl->wcu : 0);
    }
    dl_buf_append_str(b, "],\"items\":[");
    for (int k = n - 1; k >= 0; k--) {
        int64_t sec = cur - k;
        const struct slot *sl = sec >= 0 ? &series[sec % nseries] : NULL;
        dl_buf_printf(b, "%s%llu", k != n - 1 ? "," : "", sl && sl->sec == sec ? (unsigned long long)sl->items : 0ULL);
    }
    dl_buf_append_str(b, "],\"throttled_items\":[");
    for (int k = n - 1; k >= 0; k--) {
        int64_t sec = cur - k;
        const struct slot *sl = sec >= 0 ? &series[sec % nseries] : NULL;
        dl_buf_printf(b, "%s%llu", k != n - 1 ? "," : "", sl && sl->sec == sec ? (unsigned long long)sl->throttled : 0ULL);
    }
    dl_buf_append_str(b, "]}}\n");
}

/* Item bytes on one NDJSON line: the bytes as received, except that line breaks (which can
 * only be whitespace between tokens in valid JSON) become spaces. */
static void append_line(struct dl_buf *b, const uint8_t *p, size_t n)
{
    size_t start = b->len;
    dl_buf_append(b, p, n);
    for (size_t i = start; i < b->len; i++)
        if (b->data[i] == '\n' || b->data[i] == '\r')
            b->data[i] = ' ';
}

static void version_json(struct dl_buf *b, uint64_t seq, char op, const uint8_t *raw, size_t len)
{
    dl_buf_printf(b, "{\"seq\":%llu,\"op\":\"%s\"", (unsigned long long)seq, op == 'P' ? "put" : "delete");
    if (raw) {
        dl_buf_append_str(b, ",\"item\":");
        append_line(b, raw, len);
    }
    dl_buf_append_byte(b, '}');
}

static void not_found(int *status, struct dl_buf *body, const char *what)
{
    *status = 404;
    dl_buf_printf(body, "{\"error\":\"%s\"}\n", what);
}

bool sim_side_handle(const char *method, const char *path, size_t path_len, const char *query,
                     size_t query_len, int *status, struct dl_buf *body, const char **ctype)
{
    struct dl_cursor p = dl_cursor_of(path, path_len);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    *ctype = "application/json";
    *status = 200;
    if (dl_cursor_eq_str(p, "/_sim/health") && get) {
        dl_buf_append_str(body, "{\"ok\":true}\n");
        return true;
    }
    if (dl_cursor_eq_str(p, "/_sim/stats") && get) {
        stats_json(body);
        return true;
    }
    if (dl_cursor_eq_str(p, "/_sim/reset-stats") && post) {
        sim_stats_reset();
        dl_buf_append_str(body, "{\"ok\":true}\n");
        return true;
    }
    bool items = dl_cursor_eq_str(p, "/_sim/items"), writes = dl_cursor_eq_str(p, "/_sim/writes");
    if ((items || writes) && get) {
        struct dl_buf name, flag;
        dl_buf_init(&name, 4096);
        dl_buf_init(&flag, 64);
        struct sim_table *t = NULL;
        if (query_param(query, query_len, "table", &name))
            t = sim_table_find(name.data, name.len);
        bool dups_only = query_param(query, query_len, "dups", &flag) && flag.len && flag.data[0] != '0';
        dl_buf_free(&name);
        dl_buf_free(&flag);
        if (!t) {
            not_found(status, body, "no such table (use ?table=NAME)");
            return true;
        }
        *ctype = "application/x-ndjson";
        for (size_t i = 0; i < t->norder; i++) {
            const struct sim_entry *e = t->order[i];
            if (items) {
                if (e->live) {
                    append_line(body, e->raw, e->raw_len);
                    dl_buf_append_byte(body, '\n');
                }
                continue;
            }
            if (dups_only && e->writes < 2)
                continue;
            dl_buf_append_str(body, "{\"key\":");
            append_line(body, sim_entry_key_json(e), e->key_json_len);
            dl_buf_printf(body, ",\"writes\":%u,\"live\":%s,\"last_seq\":%llu", e->writes,
                          e->live ? "true" : "false", (unsigned long long)e->last_seq);
            if (e->writes > 1) {
                dl_buf_append_str(body, ",\"history\":[");
                for (const struct sim_version *v = e->hist; v; v = v->next) {
                    version_json(body, v->seq, v->op, v->raw, v->len);
                    dl_buf_append_byte(body, ',');
                }
                version_json(body, e->last_seq, e->last_op, e->raw, e->raw_len);
                dl_buf_append_byte(body, ']');
            }
            dl_buf_append_str(body, "}\n");
        }
        return true;
    }
    if (path_len >= 6 && memcmp(path, "/_sim/", 6) == 0) {
        not_found(status, body, "unknown side endpoint");
        return true;
    }
    return false;
}
