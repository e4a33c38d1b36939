/* The write pump against a real DynamoDB API (dynalite, from the services fixture):
 * the ordering rule under heavy key duplication, batching, and a poisoned batch split until
 * only the bad item is dead-lettered. Skips (77) without DDBLOAD_TEST_DYNAMODB_ENDPOINT. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aws/config.h"
#include "core/json.h"
#include "net/net.h"
#include "pump/ddb.h"
#include "pump/pump.h"
#include "test.h"

static struct dl_net *net;
static struct dl_aws_config cfg;
static char dir[] = "/tmp/test_pump_XXXXXX";

static const char *fake_env(const char *name, void *ctx)
{
    if (!strcmp(name, "AWS_ACCESS_KEY_ID")) return "AKIDTEST";
    if (!strcmp(name, "AWS_SECRET_ACCESS_KEY")) return "secret";
    if (!strcmp(name, "AWS_REGION")) return "us-east-1";
    if (!strcmp(name, "AWS_ENDPOINT_URL_DYNAMODB")) return getenv("DDBLOAD_TEST_DYNAMODB_ENDPOINT");
    if (!strcmp(name, "AWS_SHARED_CREDENTIALS_FILE") || !strcmp(name, "AWS_CONFIG_FILE")) return "/nonexistent";
    return NULL;
}

/* One synchronous DynamoDB call; returns the HTTP status, body in *resp (caller frees). */
static long call(const char *op, const char *body, struct dl_buf *resp)
{
    struct dl_http_req *r = dl_http_req_new();
    CHECK(dl_ddb_prepare(r, &cfg, op) == DL_OK);
    dl_buf_append_str(&r->body, body);
    dl_net_do(net, r);
    long st = r->result == DL_OK ? r->status : -1;
    if (resp) {
        dl_buf_reset(resp);
        dl_buf_append(resp, r->resp.data, r->resp.len);
    }
    dl_http_req_destroy(r);
    return st;
}

static char tname[64];

/* A table name unique to this process (dynalite keeps tables between runs of the test). */
static const char *unique_table(const char *base)
{
    snprintf(tname, sizeof tname, "%s-%d", base, (int)getpid());
    return tname;
}

static void create_table(const char *name)
{
    char body[512];
    snprintf(body, sizeof body,
             "{\"TableName\":\"%s\",\"KeySchema\":[{\"AttributeName\":\"pk\",\"KeyType\":\"HASH\"}],"
             "\"AttributeDefinitions\":[{\"AttributeName\":\"pk\",\"AttributeType\":\"S\"}],"
             "\"BillingMode\":\"PAY_PER_REQUEST\"}", name);
    CHECK_INT(call("CreateTable", body, NULL), 200);
    /* writes to a CREATING table fail with ResourceNotFoundException: wait for ACTIVE */
    struct dl_table_info ti;
    char err[512];
    for (int i = 0; i < 100; i++) {
        CHECK(dl_ddb_describe_table(net, &cfg, name, &ti, err, sizeof err) == DL_OK);
        bool active = !strcmp(ti.status, "ACTIVE");
        dl_table_info_free(&ti);
        if (active)
            return;
        usleep(50000);
    }
    CHECK(!"table never became ACTIVE");
}

/* Every item of the table: calls fn(item DOM) for each. Returns the count. */
static int scan(const char *table, void (*fn)(const struct dl_json *, void *), void *ctx)
{
    struct dl_buf resp, body;
    dl_buf_init(&resp, 0);
    dl_buf_init(&body, 0);
    struct dl_arena *a = dl_arena_new(0, 0);
    int n = 0;
    char start[1024] = "";
    for (int page = 0; page < 1000; page++) {
        dl_buf_reset(&body);
        dl_buf_printf(&body, "{\"TableName\":\"%s\"%s%s}", table, start[0] ? ",\"ExclusiveStartKey\":" : "", start);
        CHECK_INT(call("Scan", (const char *)body.data, &resp), 200);
        struct dl_json *doc;
        struct dl_pos_err pe;
        dl_arena_reset(a);
        if (dl_json_parse_doc(a, resp.data, resp.len, &doc, &pe))
            break;
        const struct dl_json *items = dl_json_get(doc, "Items");
        for (const struct dl_json *it = items ? items->child : NULL; it; it = it->next, n++)
            fn(it, ctx);
        const struct dl_json *lek = dl_json_get(doc, "LastEvaluatedKey");
        if (!lek)
            break;
        const struct dl_json *pk = dl_json_get(lek, "pk");
        struct dl_cursor s;
        dl_json_get_str(pk, "S", &s);
        snprintf(start, sizeof start, "{\"pk\":{\"S\":\"%.*s\"}}", (int)s.len, (const char *)s.ptr);
    }
    dl_arena_destroy(a);
    dl_buf_free(&resp);
    dl_buf_free(&body);
    return n;
}

static struct dl_key_schema ks = { 1, { { "pk", 2, 'S' } } };

static void make_item(struct dl_item *it, const char *json)
{
    struct dl_arena *a = dl_arena_new(0, 0);
    struct dl_json *doc;
    struct dl_pos_err pe;
    CHECK(dl_json_parse_doc(a, (const uint8_t *)json, strlen(json), &doc, &pe) == DL_OK);
    CHECK(dl_item_from_json(it, doc, &ks, &pe) == DL_OK);
    dl_arena_destroy(a);
}

struct versions {
    int n;
    int wrong;
};

static void check_last_version(const struct dl_json *item, void *ctx)
{
    struct versions *v = ctx;
    const struct dl_json *ver = dl_json_get(item, "v");
    struct dl_cursor num;
    v->n++;
    if (!ver || !dl_json_get_str(ver, "N", &num) || !dl_cursor_eq_str(num, "9"))
        v->wrong++;
}

/* 200 keys, each written 10 times in order: the table must hold version 9 of every key,
 * and dynalite (which rejects a batch with a duplicate key) must never have refused one. */
static void test_later_record_wins(void)
{
    const char *table = unique_table("pump-order");
    create_table(table);
    char dlpath[300];
    snprintf(dlpath, sizeof dlpath, "%s/dl-order.ndjson", dir);
    struct dl_deadletter *dlq = dl_deadletter_new(dlpath);
    struct dl_pump_opts po;
    dl_pump_opts_default(&po);
    po.max_inflight = 4;
    struct dl_pump *p = dl_pump_new(net, &cfg, table, &ks, &po, dlq);
    struct dl_item it;
    dl_item_init(&it);
    for (int v = 0; v < 10; v++)
        for (int k = 0; k < 200; k++) {
            char json[128];
            snprintf(json, sizeof json, "{\"pk\":\"key-%03d\",\"v\":%d}", k, v);
            make_item(&it, json);
            struct dl_origin o = { "test", NULL, (uint64_t)(v * 200 + k + 1), 0, 0, NULL, 0 };
            CHECK(dl_pump_submit(p, DL_WRITE_PUT, &it, &o) == DL_OK);
        }
    CHECK(dl_pump_finish(p) == DL_OK);
    struct dl_pump_stats st;
    dl_pump_stats_get(p, &st);
    CHECK_INT(st.submitted, 2000);
    CHECK_INT(st.written + st.superseded, 2000);
    CHECK_INT(st.deadlettered, 0);
    CHECK_INT(dl_deadletter_count(dlq), 0);
    struct versions vs = { 0, 0 };
    CHECK_INT(scan(table, check_last_version, &vs), 200);
    CHECK_INT(vs.wrong, 0);
    dl_item_free(&it);
    dl_pump_destroy(p);
    dl_deadletter_destroy(dlq);
}

static void count_item(const struct dl_json *item, void *ctx)
{
    (*(int *)ctx)++;
}

/* 1,000 distinct keys go out in full batches of 25 (not one request per item). */
static void test_batches_are_full(void)
{
    const char *table = unique_table("pump-batches");
    create_table(table);
    char dlpath[300];
    snprintf(dlpath, sizeof dlpath, "%s/dl-batches.ndjson", dir);
    struct dl_deadletter *dlq = dl_deadletter_new(dlpath);
    struct dl_pump *p = dl_pump_new(net, &cfg, table, &ks, NULL, dlq);
    struct dl_item it;
    dl_item_init(&it);
    for (int k = 0; k < 1000; k++) {
        char json[256];
        snprintf(json, sizeof json, "{\"pk\":\"b-%04d\",\"payload\":\"%0100d\"}", k, k);
        make_item(&it, json);
        CHECK(dl_pump_submit(p, DL_WRITE_PUT, &it, NULL) == DL_OK);
    }
    CHECK(dl_pump_finish(p) == DL_OK);
    struct dl_pump_stats st;
    dl_pump_stats_get(p, &st);
    CHECK_INT(st.written, 1000);
    CHECK(st.requests >= 40);
    CHECK(st.requests <= 60); /* 40 full batches, plus a few partial ones while the producer starts */
    int n = 0;
    CHECK_INT(scan(table, count_item, &n), 1000);
    dl_item_free(&it);
    dl_pump_destroy(p);
    dl_deadletter_destroy(dlq);
}

/* One item DynamoDB refuses (a number it cannot parse, sent past our own validation) in a
 * run of 60: the batch is split until that item is alone; only it is dead-lettered, with
 * DynamoDB's message, and the other 59 are written. */
static void test_poisoned_batch_loses_only_the_bad_item(void)
{
    const char *table = unique_table("pump-poison");
    create_table(table);
    char dlpath[300];
    snprintf(dlpath, sizeof dlpath, "%s/dl-poison.ndjson", dir);
    struct dl_deadletter *dlq = dl_deadletter_new(dlpath);
    struct dl_pump *p = dl_pump_new(net, &cfg, table, &ks, NULL, dlq);
    struct dl_item it;
    dl_item_init(&it);
    for (int k = 0; k < 60; k++) {
        char json[128];
        snprintf(json, sizeof json, "{\"pk\":\"p-%02d\",\"n\":%d}", k, k);
        make_item(&it, json);
        if (k == 37) {
            dl_buf_reset(&it.wire);
            dl_buf_append_str(&it.wire, "{\"pk\":{\"S\":\"p-37\"},\"n\":{\"N\":\"not-a-number\"}}");
        }
        struct dl_origin o = { "poison.json", NULL, (uint64_t)k + 1, (uint64_t)k + 1, 0, NULL, 0 };
        CHECK(dl_pump_submit(p, DL_WRITE_PUT, &it, &o) == DL_OK);
    }
    CHECK(dl_pump_finish(p) == DL_OK);
    if (dl_pump_error(p))
        fprintf(stderr, "pump error: %s\n", dl_pump_error(p));
    struct dl_pump_stats st;
    dl_pump_stats_get(p, &st);
    CHECK_INT(st.written, 59);
    CHECK_INT(st.deadlettered, 1);
    CHECK(st.splits >= 1);
    int n = 0;
    CHECK_INT(scan(table, count_item, &n), 59);
    dl_deadletter_destroy(dlq);
    struct dl_buf f;
    dl_buf_init(&f, 0);
    CHECK(dl_buf_read_file(&f, dlpath) == DL_OK);
    CHECK(f.len && strstr((const char *)f.data, "ValidationException") != NULL);
    CHECK(f.len && strstr((const char *)f.data, "\"record\":38") != NULL);
    CHECK(f.len && strstr((const char *)f.data, "\"source\":\"poison.json\"") != NULL);
    CHECK(f.len && strstr((const char *)f.data, "not-a-number") != NULL);
    CHECK_INT(memchr(f.data, '\n', f.len) == f.data + f.len - 1, 1); /* exactly one line */
    dl_buf_free(&f);
    dl_item_free(&it);
    dl_pump_destroy(p);
}

int main(void)
{
    if (!getenv("DDBLOAD_TEST_DYNAMODB_ENDPOINT")) {
        /* ctest passes the services' endpoints through the fixture's env file */
        fprintf(stderr, "SKIP: DDBLOAD_TEST_DYNAMODB_ENDPOINT not set\n");
        return 77;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CHECK(mkdtemp(dir) != NULL);
    char err[512];
    CHECK(dl_aws_config_load(&cfg, &(struct dl_aws_opts){ 0 }, fake_env, NULL, err, sizeof err) == DL_OK);
    struct dl_net_opts no;
    dl_net_opts_default(&no);
    net = dl_net_new(&no);
    TEST_RUN(test_later_record_wins);
    TEST_RUN(test_batches_are_full);
    TEST_RUN(test_poisoned_batch_loses_only_the_bad_item);
    dl_net_destroy(net);
    dl_aws_config_free(&cfg);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK_INT(system(cmd), 0);
    curl_global_cleanup();
    return test_summary();
}
