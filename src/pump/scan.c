/* The largest integer value of one attribute in a table, by a parallel Scan that projects only
 * that attribute (--key-seq starts after it). */
#include "pump/ddb.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/json.h"

struct segment {
    struct dl_net *net;
    const struct dl_aws_config *cfg;
    const char *table, *attr;
    int index, total;
    uint64_t max, items, not_integer, pages;
    bool found;
    enum dl_err e;
    char err[600];
};

/* A non-negative integer below 10^19 written in plain digits ("0042" included; DynamoDB
 * normalises N values, an S key may keep its zeros). */
static bool as_u64(struct dl_cursor c, uint64_t *out)
{
    if (c.len == 0 || c.len > 19)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < c.len; i++) {
        if (c.ptr[i] < '0' || c.ptr[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(c.ptr[i] - '0');
    }
    *out = v;
    return true;
}

static void take_page(struct segment *s, const struct dl_json *items)
{
    for (const struct dl_json *it = items->child; it; it = it->next) {
        s->items++;
        const struct dl_json *v = dl_json_get(it, s->attr);
        struct dl_cursor c;
        uint64_t n;
        if (!v || v->type != DL_JSON_OBJECT)
            continue;
        if (!dl_json_get_str(v, "N", &c) && !dl_json_get_str(v, "S", &c)) {
            s->not_integer++;
            continue;
        }
        if (!as_u64(c, &n)) {
            s->not_integer++;
            continue;
        }
        if (!s->found || n > s->max)
            s->max = n;
        s->found = true;
    }
}

/* One segment, page after page (ExclusiveStartKey = the previous page's LastEvaluatedKey). */
static void *scan_segment(void *arg)
{
    struct segment *s = arg;
    struct dl_buf start;
    dl_buf_init(&start, 1 << 20);
    struct dl_http_req *r = NULL;
    struct dl_arena *a = dl_arena_new(0, (size_t)256 << 20);
    char what[400];
    snprintf(what, sizeof what, "Scan of table '%s' for the largest '%s'", s->table, s->attr);
    enum dl_err e = a ? DL_OK : DL_ERR_NOMEM;
    for (int page = 0; !e; page++) {
        dl_http_req_destroy(r);
        if (!(r = dl_http_req_new())) {
            e = DL_ERR_NOMEM;
            break;
        }
        r->resp.cap = 64 << 20;
        e = dl_ddb_prepare(r, s->cfg, "Scan");
        if (!e)
            e = dl_buf_append_str(&r->body, "{\"TableName\":");
        if (!e)
            e = dl_buf_append_json_str(&r->body, s->table, strlen(s->table));
        if (!e)
            e = dl_buf_printf(&r->body, ",\"Segment\":%d,\"TotalSegments\":%d,\"ConsistentRead\":true,\"ProjectionExpression\":\"#a\","
                                        "\"ExpressionAttributeNames\":{\"#a\":", s->index, s->total);
        if (!e)
            e = dl_buf_append_json_str(&r->body, s->attr, strlen(s->attr));
        if (!e)
            e = dl_buf_append_str(&r->body, "}");
        if (!e && start.len) {
            e = dl_buf_append_str(&r->body, ",\"ExclusiveStartKey\":");
            if (!e)
                e = dl_buf_append(&r->body, start.data, start.len);
        }
        if (!e)
            e = dl_buf_append_byte(&r->body, '}');
        if (e)
            break;
        dl_net_do(s->net, r);
        if (r->result != DL_OK || r->status != 200) {
            e = dl_ddb_explain(r, s->cfg, what, s->err, sizeof s->err);
            break;
        }
        dl_arena_reset(a);
        struct dl_json *doc;
        struct dl_pos_err pe;
        const struct dl_json *items = NULL;
        if (!dl_json_parse_doc(a, r->resp.data, r->resp.len, &doc, &pe))
            items = dl_json_get(doc, "Items");
        if (!items || items->type != DL_JSON_ARRAY) {
            snprintf(s->err, sizeof s->err, "%s: unreadable response", what);
            e = DL_ERR_PARSE;
            break;
        }
        s->pages++;
        take_page(s, items);
        const struct dl_json *last = dl_json_get(doc, "LastEvaluatedKey");
        if (!last || last->type != DL_JSON_OBJECT)
            break;
        /* the key comes back as it must be sent: keep its bytes verbatim */
        size_t end = r->resp.len;
        struct dl_json *tmp;
        size_t used = 0;
        dl_buf_reset(&start);
        if (dl_json_parse_value(a, r->resp.data + last->offset, end - last->offset, &used, &tmp, &pe) ||
            dl_buf_append(&start, r->resp.data + last->offset, used)) {
            snprintf(s->err, sizeof s->err, "%s: unreadable LastEvaluatedKey", what);
            e = DL_ERR_PARSE;
        }
    }
    if (e && !s->err[0])
        snprintf(s->err, sizeof s->err, "%s: %s", what, dl_err_str(e));
    s->e = e;
    dl_http_req_destroy(r);
    dl_arena_destroy(a);
    dl_buf_free(&start);
    return NULL;
}

enum dl_err dl_ddb_scan_max(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                            const char *attr, int segments, struct dl_scan_max *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (segments < 1)
        segments = 1;
    if (segments > 64)
        segments = 64;
    struct segment *seg = calloc((size_t)segments, sizeof *seg);
    pthread_t *th = calloc((size_t)segments, sizeof *th);
    bool *started = calloc((size_t)segments, sizeof *started);
    enum dl_err e = seg && th && started ? DL_OK : DL_ERR_NOMEM;
    for (int i = 0; !e && i < segments; i++) {
        seg[i] = (struct segment){ .net = net, .cfg = cfg, .table = table, .attr = attr, .index = i, .total = segments };
        started[i] = pthread_create(&th[i], NULL, scan_segment, &seg[i]) == 0;
        if (!started[i])
            scan_segment(&seg[i]); /* no thread: do it here */
    }
    for (int i = 0; seg && th && started && i < segments; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        if (seg[i].e && !e) {
            e = seg[i].e;
            snprintf(err, errlen, "%s", seg[i].err);
        }
        out->items += seg[i].items;
        out->not_integer += seg[i].not_integer;
        out->pages += seg[i].pages;
        if (seg[i].found && (!out->found || seg[i].max > out->max))
            out->max = seg[i].max;
        out->found |= seg[i].found;
    }
    if (e == DL_ERR_NOMEM && err[0] == 0)
        snprintf(err, errlen, "out of memory");
    free(seg);
    free(th);
    free(started);
    return e;
}
