#include "pump/ddb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

enum dl_err dl_ddb_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg, const char *op)
{
    char target[96];
    enum dl_err e;
    dl_buf_reset(&r->url);
    e = dl_aws_dynamodb_url(cfg, &r->url);
    if (e)
        return e;
    snprintf(target, sizeof target, "DynamoDB_20120810.%s", op);
    r->method = "POST";
    r->aws = cfg;
    r->service = "dynamodb";
    e = dl_http_req_add_header(r, "Content-Type", "application/x-amz-json-1.0");
    if (!e)
        e = dl_http_req_add_header(r, "X-Amz-Target", target);
    return e;
}

static void copy_cur(char *dst, size_t n, struct dl_cursor c)
{
    size_t k = c.len < n - 1 ? c.len : n - 1;
    memcpy(dst, c.ptr, k);
    dst[k] = 0;
}

bool dl_ddb_error(const struct dl_http_req *r, char *type, size_t typelen, char *msg, size_t msglen)
{
    bool ok = false;
    type[0] = msg[0] = 0;
    if (!r->resp.len)
        return false;
    struct dl_arena *a = dl_arena_new(0, 1 << 20);
    struct dl_json *doc = NULL;
    struct dl_pos_err pe;
    if (!a || dl_json_parse_doc(a, r->resp.data, r->resp.len, &doc, &pe) || doc->type != DL_JSON_OBJECT)
        goto out;
    struct dl_cursor t, m;
    if (!dl_json_get_str(doc, "__type", &t))
        goto out;
    /* "com.amazonaws.dynamodb.v20120810#ValidationException" -> "ValidationException" */
    for (size_t i = t.len; i > 0; i--) {
        if (t.ptr[i - 1] == '#') {
            t.ptr += i;
            t.len -= i;
            break;
        }
    }
    copy_cur(type, typelen, t);
    if (dl_json_get_str(doc, "message", &m) || dl_json_get_str(doc, "Message", &m))
        copy_cur(msg, msglen, m);
    ok = true;
out:
    dl_arena_destroy(a);
    return ok;
}

bool dl_ddb_is_throttle(const char *type)
{
    return !strcmp(type, "ProvisionedThroughputExceededException") || !strcmp(type, "ThrottlingException") ||
           !strcmp(type, "RequestLimitExceeded");
}

enum dl_err dl_ddb_explain(const struct dl_http_req *r, const struct dl_aws_config *cfg, const char *what,
                           char *err, size_t errlen)
{
    const char *ep = cfg->endpoint_dynamodb ? cfg->endpoint_dynamodb : "AWS";
    char type[128], msg[512];
    if (r->result != DL_OK) {
        snprintf(err, errlen, "%s: cannot reach DynamoDB at %s (region %s): %s", what, ep, cfg->region,
                 r->errmsg[0] ? r->errmsg : dl_err_str(r->result));
        return r->result;
    }
    if (!dl_ddb_error(r, type, sizeof type, msg, sizeof msg)) {
        snprintf(err, errlen, "%s: DynamoDB at %s answered HTTP %ld without an error document", what, ep,
                 r->status);
        return DL_ERR_HTTP;
    }
    if (!strcmp(type, "ResourceNotFoundException")) {
        snprintf(err, errlen, "%s: not found at %s (region %s): %s", what, ep, cfg->region, msg);
        return DL_ERR_NOT_FOUND;
    }
    if (!strcmp(type, "UnrecognizedClientException") || !strcmp(type, "InvalidSignatureException") ||
        !strcmp(type, "MissingAuthenticationTokenException") || !strcmp(type, "AccessDeniedException") ||
        !strcmp(type, "ExpiredTokenException")) {
        snprintf(err, errlen, "%s: DynamoDB refused the credentials from %s: %s: %s", what,
                 cfg->credential_source ? cfg->credential_source : "the configuration", type, msg);
        return DL_ERR_CREDENTIALS;
    }
    snprintf(err, errlen, "%s: DynamoDB error %s (HTTP %ld): %s", what, type, r->status, msg);
    return DL_ERR_AWS;
}

static uint64_t json_u64(const struct dl_json *o, const char *name)
{
    const struct dl_json *v = o ? dl_json_get(o, name) : NULL;
    if (!v || v->type != DL_JSON_NUMBER)
        return 0;
    return strtoull((const char *)v->str.ptr, NULL, 10);
}

void dl_table_info_free(struct dl_table_info *t)
{
    for (int i = 0; i < 2; i++) {
        free(t->ks.k[i].name);
        t->ks.k[i].name = NULL;
    }
    t->ks.n = 0;
}

static enum dl_err parse_table(const struct dl_json *tbl, struct dl_table_info *out, char *err, size_t errlen)
{
    const struct dl_json *ks = dl_json_get(tbl, "KeySchema");
    const struct dl_json *defs = dl_json_get(tbl, "AttributeDefinitions");
    if (!ks || ks->type != DL_JSON_ARRAY || !defs || defs->type != DL_JSON_ARRAY) {
        snprintf(err, errlen, "DescribeTable response has no KeySchema/AttributeDefinitions");
        return DL_ERR_PARSE;
    }
    for (const struct dl_json *k = ks->child; k; k = k->next) {
        struct dl_cursor name, role;
        if (!dl_json_get_str(k, "AttributeName", &name) || !dl_json_get_str(k, "KeyType", &role))
            continue;
        int slot = dl_cursor_eq_str(role, "HASH") ? 0 : dl_cursor_eq_str(role, "RANGE") ? 1 : -1;
        if (slot < 0)
            continue;
        char type = 0;
        for (const struct dl_json *d = defs->child; d; d = d->next) {
            struct dl_cursor dn, dt;
            if (dl_json_get_str(d, "AttributeName", &dn) && dl_json_get_str(d, "AttributeType", &dt) &&
                dl_cursor_eq(dn, name) && dt.len == 1)
                type = (char)dt.ptr[0];
        }
        if (type != 'S' && type != 'N' && type != 'B') {
            snprintf(err, errlen, "DescribeTable: key attribute %.*s has no S/N/B type", (int)name.len,
                     (const char *)name.ptr);
            return DL_ERR_PARSE;
        }
        out->ks.k[slot].name = strndup((const char *)name.ptr, name.len);
        if (!out->ks.k[slot].name)
            return DL_ERR_NOMEM;
        out->ks.k[slot].name_len = name.len;
        out->ks.k[slot].type = type;
    }
    if (!out->ks.k[0].name) {
        snprintf(err, errlen, "DescribeTable: the table has no HASH key");
        return DL_ERR_PARSE;
    }
    out->ks.n = out->ks.k[1].name ? 2 : 1;
    struct dl_cursor st, mode;
    if (dl_json_get_str(tbl, "TableStatus", &st))
        copy_cur(out->status, sizeof out->status, st);
    const struct dl_json *bms = dl_json_get(tbl, "BillingModeSummary");
    out->on_demand = bms && dl_json_get_str(bms, "BillingMode", &mode) && dl_cursor_eq_str(mode, "PAY_PER_REQUEST");
    out->wcu = json_u64(dl_json_get(tbl, "ProvisionedThroughput"), "WriteCapacityUnits");
    if (out->on_demand)
        out->wcu = 0;
    out->max_wru = json_u64(dl_json_get(tbl, "OnDemandThroughput"), "MaxWriteRequestUnits");
    out->item_count = json_u64(tbl, "ItemCount");
    return DL_OK;
}

enum dl_err dl_ddb_describe_table(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                                  struct dl_table_info *out, char *err, size_t errlen)
{
    enum dl_err e;
    struct dl_arena *a = NULL;
    struct dl_http_req *r = dl_http_req_new();
    char what[400];
    memset(out, 0, sizeof *out);
    snprintf(what, sizeof what, "table '%s'", table);
    if (!r) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    r->resp.cap = 16 << 20;
    e = dl_ddb_prepare(r, cfg, "DescribeTable");
    if (!e)
        e = dl_buf_append_str(&r->body, "{\"TableName\":");
    if (!e)
        e = dl_buf_append_json_str(&r->body, table, strlen(table));
    if (!e)
        e = dl_buf_append_byte(&r->body, '}');
    if (e)
        goto out;
    dl_net_do(net, r);
    if (r->result != DL_OK || r->status != 200) {
        e = dl_ddb_explain(r, cfg, what, err, errlen);
        goto out;
    }
    a = dl_arena_new(0, 64 << 20);
    struct dl_json *doc;
    struct dl_pos_err pe;
    if (!a) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    e = dl_json_parse_doc(a, r->resp.data, r->resp.len, &doc, &pe);
    const struct dl_json *tbl = e ? NULL : dl_json_get(doc, "Table");
    if (!tbl) {
        snprintf(err, errlen, "%s: DescribeTable returned an unreadable response", what);
        e = DL_ERR_PARSE;
        goto out;
    }
    e = parse_table(tbl, out, err, errlen);
out:
    if (e)
        dl_table_info_free(out);
    dl_arena_destroy(a);
    dl_http_req_destroy(r);
    return e;
}

enum dl_err dl_ddb_create_table(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                                const struct dl_key_schema *ks, char *err, size_t errlen)
{
    enum dl_err e;
    struct dl_http_req *r = dl_http_req_new();
    char what[400];
    snprintf(what, sizeof what, "creating table '%s'", table);
    if (!r)
        return DL_ERR_NOMEM;
    e = dl_ddb_prepare(r, cfg, "CreateTable");
    struct dl_buf *b = &r->body;
    if (!e)
        e = dl_buf_append_str(b, "{\"TableName\":");
    if (!e)
        e = dl_buf_append_json_str(b, table, strlen(table));
    if (!e)
        e = dl_buf_append_str(b, ",\"BillingMode\":\"PAY_PER_REQUEST\",\"KeySchema\":[");
    for (int i = 0; !e && i < ks->n; i++) {
        e = dl_buf_append_str(b, i ? ",{\"AttributeName\":" : "{\"AttributeName\":");
        if (!e)
            e = dl_buf_append_json_str(b, ks->k[i].name, ks->k[i].name_len);
        if (!e)
            e = dl_buf_append_str(b, i ? ",\"KeyType\":\"RANGE\"}" : ",\"KeyType\":\"HASH\"}");
    }
    if (!e)
        e = dl_buf_append_str(b, "],\"AttributeDefinitions\":[");
    for (int i = 0; !e && i < ks->n; i++) {
        e = dl_buf_append_str(b, i ? ",{\"AttributeName\":" : "{\"AttributeName\":");
        if (!e)
            e = dl_buf_append_json_str(b, ks->k[i].name, ks->k[i].name_len);
        if (!e)
            e = dl_buf_printf(b, ",\"AttributeType\":\"%c\"}", ks->k[i].type);
    }
    if (!e)
        e = dl_buf_append_str(b, "]}");
    if (e)
        goto out;
    dl_net_do(net, r);
    if (r->result != DL_OK || r->status != 200)
        e = dl_ddb_explain(r, cfg, what, err, errlen);
out:
    dl_http_req_destroy(r);
    return e;
}
