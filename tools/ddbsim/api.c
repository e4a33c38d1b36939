/* The DynamoDB operations: request validation with DynamoDB's messages, capacity
 * decisions, and response bodies in the service's shapes (what boto3 and the pump parse).
 * Every request body is parsed into a DOM in one arena that is reset per request; items
 * are stored as the exact bytes the client sent. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

#define T_VALIDATION "com.amazon.coral.validate#ValidationException"
#define T_SERIALIZATION "com.amazon.coral.service#SerializationException"
#define T_NOT_FOUND "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
#define T_IN_USE "com.amazonaws.dynamodb.v20120810#ResourceInUseException"
#define T_PTEE "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"
#define T_THROTTLING "com.amazon.coral.availability#ThrottlingException"

#define MSG_PTEE "The level of configured provisioned throughput for the table was exceeded. " \
    "Consider increasing your provisioning level with the UpdateTable API."
#define MSG_THROTTLING "Throughput exceeds the current capacity of your table or index. DynamoDB is " \
    "automatically scaling your table or index so please try again shortly. If exceptions " \
    "persist, check if you have a hot key: " \
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html"

static const char *const op_names[OP_COUNT] = {
    [OP_BATCH_WRITE_ITEM] = "BatchWriteItem", [OP_PUT_ITEM] = "PutItem",
    [OP_GET_ITEM] = "GetItem",                [OP_DELETE_ITEM] = "DeleteItem",
    [OP_SCAN] = "Scan",                       [OP_CREATE_TABLE] = "CreateTable",
    [OP_DESCRIBE_TABLE] = "DescribeTable",    [OP_UPDATE_TABLE] = "UpdateTable",
    [OP_DELETE_TABLE] = "DeleteTable",        [OP_LIST_TABLES] = "ListTables",
};

const char *sim_op_name(enum sim_op op)
{
    return op >= 0 && op < OP_COUNT ? op_names[op] : "Unknown";
}

enum sim_op sim_op_parse(const char *target, size_t len)
{
    static const char prefix[] = "DynamoDB_20120810.";
    size_t pl = sizeof prefix - 1;
    if (len <= pl || memcmp(target, prefix, pl) != 0)
        return OP_UNKNOWN;
    for (int i = 0; i < OP_COUNT; i++)
        if (strlen(op_names[i]) == len - pl && memcmp(target + pl, op_names[i], len - pl) == 0)
            return (enum sim_op)i;
    return OP_UNKNOWN;
}

/* ---- small output helpers ---- */

void sim_json_double(struct dl_buf *b, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        dl_buf_printf(b, "%.1f", v);
    else
        dl_buf_printf(b, "%.17g", v);
}

static void json_int(struct dl_buf *b, double v)
{
    dl_buf_printf(b, "%.0f", v);
}

static void json_str(struct dl_buf *b, const void *p, size_t n)
{
    dl_buf_append_json_str(b, p, n);
}

static void json_cstr(struct dl_buf *b, const char *s)
{
    dl_buf_append_json_str(b, s, strlen(s));
}

void sim_error_body(struct dl_buf *out, const char *type, const char *msg)
{
    dl_buf_reset(out);
    dl_buf_append_str(out, "{\"__type\":");
    json_cstr(out, type);
    if (msg) {
        /* SerializationException spells it "Message", the others "message". */
        dl_buf_append_str(out, strstr(type, "Serialization") ? ",\"Message\":" : ",\"message\":");
        json_cstr(out, msg);
    }
    dl_buf_append_byte(out, '}');
}

static int fail_response(struct dl_buf *out, const struct sim_fail *f)
{
    sim_error_body(out, f->kind == FAIL_SERIALIZATION ? T_SERIALIZATION : T_VALIDATION, f->msg);
    g_stats.validation_errors++;
    return 400;
}

static int validation(struct dl_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int validation(struct dl_buf *out, const char *fmt, ...)
{
    struct sim_fail f;
    va_list ap;
    va_start(ap, fmt);
    f.kind = FAIL_VALIDATION;
    vsnprintf(f.msg, sizeof f.msg, fmt, ap);
    va_end(ap);
    return fail_response(out, &f);
}

static int not_found(struct dl_buf *out, const struct dl_cursor *name, bool with_name)
{
    char msg[400];
    if (with_name)
        snprintf(msg, sizeof msg, "Requested resource not found: Table: %.*s not found",
                 (int)(name->len > 255 ? 255 : name->len), (const char *)name->ptr);
    else
        snprintf(msg, sizeof msg, "Requested resource not found");
    sim_error_body(out, T_NOT_FOUND, msg);
    g_stats.other_errors++;
    return 400;
}

static void table_arn(struct dl_buf *b, const struct sim_table *t)
{
    dl_buf_append_str(b, "\"arn:aws:dynamodb:us-east-1:000000000000:table/");
    dl_buf_append(b, t->name, t->name_len); /* table names are [a-zA-Z0-9_.-] only */
    dl_buf_append_byte(b, '"');
}

static int throttle_response(struct dl_buf *out, const struct sim_table *t, int why)
{
    /* ThrottlingReasons as DynamoDB gives them since 2025; a throttle below an on-demand
     * table's maximum (its 2 x peak ramp) has no documented reason, so none is given. */
    const char *reason = NULL;
    double lim = sim_table_limit(t, 0);
    if (why == SIM_THROTTLE_PARTITION)
        reason = "TableWriteKeyRangeThroughputExceeded";
    else if (!t->on_demand)
        reason = "TableWriteProvisionedThroughputExceeded";
    else if (t->od_max_write > 0 && lim >= t->od_max_write)
        reason = "TableWriteMaxOnDemandThroughputExceeded";
    else if (lim >= g_cfg.ondemand_max)
        reason = "TableWriteAccountLimitExceeded";
    dl_buf_reset(out);
    dl_buf_append_str(out, "{\"__type\":");
    json_cstr(out, t->on_demand ? T_THROTTLING : T_PTEE);
    dl_buf_append_str(out, ",\"message\":");
    json_cstr(out, t->on_demand ? MSG_THROTTLING : MSG_PTEE);
    if (reason) {
        dl_buf_append_str(out, ",\"ThrottlingReasons\":[{\"reason\":");
        json_cstr(out, reason);
        dl_buf_append_str(out, ",\"resource\":");
        table_arn(out, t);
        dl_buf_append_str(out, "}]");
    }
    dl_buf_append_byte(out, '}');
    return 400;
}

/* ---- request context ---- */

static struct dl_arena *arena;
static struct dl_buf scratch_key, scratch_kj;
static struct dl_item item_scratch;
static const uint8_t *wire; /* the body being handled */
static size_t wire_len;

static const struct dl_json *get(const struct dl_json *obj, const char *name)
{
    return obj && obj->type == DL_JSON_OBJECT ? dl_json_get(obj, name) : NULL;
}

static bool get_double(const struct dl_json *obj, const char *name, double *out)
{
    const struct dl_json *v = get(obj, name);
    if (!v || v->type != DL_JSON_NUMBER)
        return false;
    char tmp[64];
    size_t n = v->str.len < sizeof tmp - 1 ? v->str.len : sizeof tmp - 1;
    memcpy(tmp, v->str.ptr, n);
    tmp[n] = 0;
    *out = strtod(tmp, NULL);
    return true;
}

static size_t raw_end(const struct dl_json *v)
{
    return sim_json_end(wire, wire_len, v->offset);
}

static void append_raw(struct dl_buf *b, const struct dl_json *v)
{
    dl_buf_append(b, wire + v->offset, raw_end(v) - v->offset);
}

static bool valid_table_name(struct dl_cursor n)
{
    if (n.len < 3 || n.len > 255)
        return false;
    for (size_t i = 0; i < n.len; i++) {
        uint8_t c = n.ptr[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

/* TableName member: present, a string, a valid name. 0 if fine, else the HTTP status
 * with the body written. */
static int table_name(const struct dl_json *root, struct dl_cursor *name, struct dl_buf *out)
{
    const struct dl_json *v = get(root, "TableName");
    if (!v)
        return validation(out, "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null");
    if (v->type != DL_JSON_STRING) {
        struct sim_fail f;
        sim_fail_set(&f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return fail_response(out, &f);
    }
    *name = v->str;
    if (v->str.len < 3 || v->str.len > 255)
        return validation(out, "1 validation error detected: Value '%.*s' at 'tableName' failed to satisfy constraint: Member must have length %s",
                          (int)(v->str.len > 300 ? 300 : v->str.len), (const char *)v->str.ptr,
                          v->str.len < 3 ? "greater than or equal to 3" : "less than or equal to 255");
    if (!valid_table_name(v->str))
        return validation(out, "1 validation error detected: Value '%.*s' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
                          (int)v->str.len, (const char *)v->str.ptr);
    return 0;
}

/* ReturnConsumedCapacity: 0 NONE, 1 TOTAL, 2 INDEXES; -1 invalid (body written). */
static int rcc_of(const struct dl_json *root, struct dl_buf *out)
{
    const struct dl_json *v = get(root, "ReturnConsumedCapacity");
    if (!v)
        return 0;
    if (v->type == DL_JSON_STRING) {
        if (dl_cursor_eq_str(v->str, "NONE"))
            return 0;
        if (dl_cursor_eq_str(v->str, "TOTAL"))
            return 1;
        if (dl_cursor_eq_str(v->str, "INDEXES"))
            return 2;
    }
    validation(out, "1 validation error detected: Value '%.*s' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]",
               v->type == DL_JSON_STRING ? (int)(v->str.len > 100 ? 100 : v->str.len) : 4,
               v->type == DL_JSON_STRING ? (const char *)v->str.ptr : "null");
    return -1;
}

static void consumed_one(struct dl_buf *b, const struct sim_table *t, double units, int rcc)
{
    dl_buf_append_str(b, "{\"TableName\":");
    json_str(b, t->name, t->name_len);
    dl_buf_append_str(b, ",\"CapacityUnits\":");
    sim_json_double(b, units);
    if (rcc == 2) {
        dl_buf_append_str(b, ",\"Table\":{\"CapacityUnits\":");
        sim_json_double(b, units);
        dl_buf_append_byte(b, '}');
    }
    dl_buf_append_byte(b, '}');
}

/* Account a successful write of `cost` units to table t. */
static void account_write(struct sim_table *t, double cost, bool del, double now)
{
    t->st_wcu += cost;
    g_stats.wcu_consumed += cost;
    if (del) {
        t->st_items_deleted++;
        g_stats.items_deleted++;
    } else {
        t->st_items_written++;
        g_stats.items_written++;
    }
    sim_series_add(now, cost, del ? 0 : 1, 0);
}

/* ---- table description ---- */

static void describe(struct dl_buf *b, const struct sim_table *t, const char *status)
{
    dl_buf_append_str(b, "{\"AttributeDefinitions\":[");
    for (int i = 0; i < t->nkeys; i++) {
        dl_buf_append_str(b, i ? ",{\"AttributeName\":" : "{\"AttributeName\":");
        json_str(b, t->key[i].name, t->key[i].len);
        dl_buf_printf(b, ",\"AttributeType\":\"%c\"}", t->key[i].type);
    }
    dl_buf_append_str(b, "],\"TableName\":");
    json_str(b, t->name, t->name_len);
    dl_buf_append_str(b, ",\"KeySchema\":[");
    for (int i = 0; i < t->nkeys; i++) {
        dl_buf_append_str(b, i ? ",{\"AttributeName\":" : "{\"AttributeName\":");
        json_str(b, t->key[i].name, t->key[i].len);
        dl_buf_append_str(b, i ? ",\"KeyType\":\"RANGE\"}" : ",\"KeyType\":\"HASH\"}");
    }
    dl_buf_printf(b, "],\"TableStatus\":\"%s\",\"CreationDateTime\":%.3f", status, t->created);
    dl_buf_append_str(b, ",\"ProvisionedThroughput\":{\"NumberOfDecreasesToday\":0,\"ReadCapacityUnits\":");
    json_int(b, t->on_demand ? 0 : t->rcu);
    dl_buf_append_str(b, ",\"WriteCapacityUnits\":");
    json_int(b, t->on_demand ? 0 : t->wcu);
    dl_buf_printf(b, "},\"TableSizeBytes\":%llu,\"ItemCount\":%llu,\"TableArn\":",
                  (unsigned long long)t->size_bytes, (unsigned long long)t->item_count);
    table_arn(b, t);
    uint64_t id = t->id;
    dl_buf_printf(b, ",\"TableId\":\"%08x-%04x-4%03x-8%03x-%012llx\"", (unsigned)(id >> 32),
                  (unsigned)(id >> 16) & 0xffff, (unsigned)id & 0xfff, (unsigned)(id >> 20) & 0xfff,
                  (unsigned long long)(id * 0x9e3779b97f4a7c15ULL) & 0xffffffffffffULL);
    if (t->on_demand)
        dl_buf_printf(b, ",\"BillingModeSummary\":{\"BillingMode\":\"PAY_PER_REQUEST\",\"LastUpdateToPayPerRequestDateTime\":%.3f}",
                      t->created);
    else
        dl_buf_append_str(b, ",\"BillingModeSummary\":{\"BillingMode\":\"PROVISIONED\"}");
    if (t->od_max_read > 0 || t->od_max_write > 0) {
        dl_buf_append_str(b, ",\"OnDemandThroughput\":{\"MaxReadRequestUnits\":");
        json_int(b, t->od_max_read > 0 ? t->od_max_read : -1);
        dl_buf_append_str(b, ",\"MaxWriteRequestUnits\":");
        json_int(b, t->od_max_write > 0 ? t->od_max_write : -1);
        dl_buf_append_byte(b, '}');
    }
    dl_buf_append_str(b, ",\"DeletionProtectionEnabled\":false}");
}

/* ---- CreateTable / UpdateTable / DescribeTable / DeleteTable / ListTables ---- */

/* Billing settings shared by CreateTable and UpdateTable. */
static int billing(const struct dl_json *root, bool *on_demand, double *rcu, double *wcu,
                   double *odr, double *odw, bool create, struct dl_buf *out)
{
    const struct dl_json *bm = get(root, "BillingMode");
    if (bm) {
        if (bm->type == DL_JSON_STRING && dl_cursor_eq_str(bm->str, "PAY_PER_REQUEST"))
            *on_demand = true;
        else if (bm->type == DL_JSON_STRING && dl_cursor_eq_str(bm->str, "PROVISIONED"))
            *on_demand = false;
        else
            return validation(out, "1 validation error detected: Value '%.*s' at 'billingMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]",
                              bm->type == DL_JSON_STRING ? (int)(bm->str.len > 100 ? 100 : bm->str.len) : 4,
                              bm->type == DL_JSON_STRING ? (const char *)bm->str.ptr : "null");
    }
    const struct dl_json *pt = get(root, "ProvisionedThroughput");
    if (pt) {
        double r = 0, w = 0;
        bool hr = get_double(pt, "ReadCapacityUnits", &r), hw = get_double(pt, "WriteCapacityUnits", &w);
        if (*on_demand)
            return validation(out, "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
        if (!hr || !hw)
            return validation(out, "1 validation error detected: Value null at 'provisionedThroughput.%s' failed to satisfy constraint: Member must not be null",
                              hr ? "writeCapacityUnits" : "readCapacityUnits");
        if (r < 1 || w < 1)
            return validation(out, "1 validation error detected: Value '%.0f' at 'provisionedThroughput.%s' failed to satisfy constraint: Member must have value greater than or equal to 1",
                              r < 1 ? r : w, r < 1 ? "readCapacityUnits" : "writeCapacityUnits");
        *rcu = r;
        *wcu = w;
    } else if (!*on_demand && (create || (bm && *wcu <= 0))) {
        return validation(out, "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED");
    }
    const struct dl_json *od = get(root, "OnDemandThroughput");
    if (od) {
        double v;
        if (get_double(od, "MaxReadRequestUnits", &v))
            *odr = v;
        if (get_double(od, "MaxWriteRequestUnits", &v))
            *odw = v;
    }
    return 0;
}

static int op_create_table(const struct dl_json *root, struct dl_buf *out)
{
    struct dl_cursor name;
    int st = table_name(root, &name, out);
    if (st)
        return st;
    const struct dl_json *ks = get(root, "KeySchema"), *ad = get(root, "AttributeDefinitions");
    if (!ad || ad->type != DL_JSON_ARRAY)
        return validation(out, "1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null");
    if (!ks || ks->type != DL_JSON_ARRAY)
        return validation(out, "1 validation error detected: Value null at 'keySchema' failed to satisfy constraint: Member must not be null");
    if (ks->n < 1 || ks->n > 2)
        return validation(out, "1 validation error detected: Value '[...]' at 'keySchema' failed to satisfy constraint: Member must have length %s",
                          ks->n < 1 ? "greater than or equal to 1" : "less than or equal to 2");
    struct sim_key_attr keys[2];
    int nkeys = 0;
    for (const struct dl_json *k = ks->child; k; k = k->next, nkeys++) {
        struct dl_cursor an, kt;
        if (!dl_json_get_str(k, "AttributeName", &an) || !dl_json_get_str(k, "KeyType", &kt))
            return validation(out, "1 validation error detected: Value null at 'keySchema.%d.member.%s' failed to satisfy constraint: Member must not be null",
                              nkeys + 1, get(k, "AttributeName") ? "keyType" : "attributeName");
        if (!dl_cursor_eq_str(kt, "HASH") && !dl_cursor_eq_str(kt, "RANGE"))
            return validation(out, "1 validation error detected: Value '%.*s' at 'keySchema.%d.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]",
                              (int)(kt.len > 50 ? 50 : kt.len), (const char *)kt.ptr, nkeys + 1);
        if (nkeys == 0 && !dl_cursor_eq_str(kt, "HASH"))
            return validation(out, "Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
        if (nkeys == 1 && !dl_cursor_eq_str(kt, "RANGE"))
            return validation(out, "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
        if (an.len == 0 || an.len > 255)
            return validation(out, "1 validation error detected: Value '%.*s' at 'keySchema.%d.member.attributeName' failed to satisfy constraint: Member must have length %s",
                              (int)(an.len > 300 ? 300 : an.len), (const char *)an.ptr, nkeys + 1,
                              an.len ? "less than or equal to 255" : "greater than or equal to 1");
        keys[nkeys].name = (char *)an.ptr;
        keys[nkeys].len = an.len;
        keys[nkeys].type = 0;
    }
    if (nkeys == 2 && keys[0].len == keys[1].len && memcmp(keys[0].name, keys[1].name, keys[0].len) == 0)
        return validation(out, "Both the Hash Key and the Range Key element in the KeySchema have the same name");
    bool indexes = get(root, "GlobalSecondaryIndexes") || get(root, "LocalSecondaryIndexes");
    for (const struct dl_json *d = ad->child; d; d = d->next) {
        struct dl_cursor an, at;
        if (!dl_json_get_str(d, "AttributeName", &an) || !dl_json_get_str(d, "AttributeType", &at))
            return validation(out, "1 validation error detected: Value null at 'attributeDefinitions.member.%s' failed to satisfy constraint: Member must not be null",
                              get(d, "AttributeName") ? "attributeType" : "attributeName");
        if (at.len != 1 || (at.ptr[0] != 'S' && at.ptr[0] != 'N' && at.ptr[0] != 'B'))
            return validation(out, "1 validation error detected: Value '%.*s' at 'attributeDefinitions.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]",
                              (int)(at.len > 50 ? 50 : at.len), (const char *)at.ptr);
        for (int i = 0; i < nkeys; i++)
            if (keys[i].len == an.len && memcmp(keys[i].name, an.ptr, an.len) == 0)
                keys[i].type = (char)at.ptr[0];
    }
    for (int i = 0; i < nkeys; i++)
        if (!keys[i].type)
            return validation(out, "One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [%.*s], AttributeDefinitions: [...]",
                              (int)keys[i].len, keys[i].name);
    if (!indexes && ad->n != (uint32_t)nkeys)
        return validation(out, "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions");

    bool on_demand = false;
    double rcu = 0, wcu = 0, odr = -1, odw = -1;
    st = billing(root, &on_demand, &rcu, &wcu, &odr, &odw, true, out);
    if (st)
        return st;
    if (sim_table_find(name.ptr, name.len)) {
        char msg[300];
        snprintf(msg, sizeof msg, "Table already exists: %.*s", (int)name.len, (const char *)name.ptr);
        sim_error_body(out, T_IN_USE, msg);
        g_stats.other_errors++;
        return 400;
    }
    struct sim_table *t = sim_table_new(name.ptr, name.len, nkeys, keys, on_demand, rcu, wcu, odr, odw);
    if (!t) {
        sim_error_body(out, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error");
        return 500;
    }
    dl_buf_append_str(out, "{\"TableDescription\":");
    describe(out, t, "ACTIVE");
    dl_buf_append_byte(out, '}');
    return 200;
}

static int lookup(const struct dl_json *root, struct sim_table **t, struct dl_buf *out)
{
    struct dl_cursor name;
    int st = table_name(root, &name, out);
    if (st)
        return st;
    *t = sim_table_find(name.ptr, name.len);
    if (!*t)
        return not_found(out, &name, false);
    return 0;
}

static int op_describe_table(const struct dl_json *root, struct dl_buf *out)
{
    struct dl_cursor name;
    int st = table_name(root, &name, out);
    if (st)
        return st;
    struct sim_table *t = sim_table_find(name.ptr, name.len);
    if (!t)
        return not_found(out, &name, true);
    dl_buf_append_str(out, "{\"Table\":");
    describe(out, t, "ACTIVE");
    dl_buf_append_byte(out, '}');
    return 200;
}

static int op_update_table(const struct dl_json *root, struct dl_buf *out)
{
    struct sim_table *t;
    int st = lookup(root, &t, out);
    if (st)
        return st;
    bool on_demand = t->on_demand;
    double rcu = t->rcu, wcu = t->wcu, odr = t->od_max_read, odw = t->od_max_write;
    st = billing(root, &on_demand, &rcu, &wcu, &odr, &odw, false, out);
    if (st)
        return st;
    t->on_demand = on_demand;
    t->rcu = rcu;
    t->wcu = wcu;
    t->od_max_read = odr;
    t->od_max_write = odw;
    sim_table_configure(t, true);
    dl_buf_append_str(out, "{\"TableDescription\":");
    describe(out, t, "ACTIVE");
    dl_buf_append_byte(out, '}');
    return 200;
}

static int op_delete_table(const struct dl_json *root, struct dl_buf *out)
{
    struct sim_table *t;
    int st = lookup(root, &t, out);
    if (st)
        return st;
    dl_buf_append_str(out, "{\"TableDescription\":");
    describe(out, t, "DELETING");
    dl_buf_append_byte(out, '}');
    sim_table_delete(t);
    return 200;
}

static int op_list_tables(const struct dl_json *root, struct dl_buf *out)
{
    double limit = 100;
    if (get_double(root, "Limit", &limit) && (limit < 1 || limit > 100))
        return validation(out, "1 validation error detected: Value '%.0f' at 'limit' failed to satisfy constraint: Member must have value %s",
                          limit, limit < 1 ? "greater than or equal to 1" : "less than or equal to 100");
    struct dl_cursor start = { NULL, 0 };
    dl_json_get_str(root, "ExclusiveStartTableName", &start);
    dl_buf_append_str(out, "{\"TableNames\":[");
    size_t n = 0, i = 0, count = sim_table_count();
    if (start.ptr) {
        while (i < count) {
            struct sim_table *t = sim_table_at(i);
            size_t m = t->name_len < start.len ? t->name_len : start.len;
            int c = memcmp(t->name, start.ptr, m);
            if (c > 0 || (c == 0 && t->name_len > start.len))
                break;
            i++;
        }
    }
    struct sim_table *last = NULL;
    for (; i < count && n < (size_t)limit; i++, n++) {
        last = sim_table_at(i);
        if (n)
            dl_buf_append_byte(out, ',');
        json_str(out, last->name, last->name_len);
    }
    dl_buf_append_byte(out, ']');
    if (i < count && last) {
        dl_buf_append_str(out, ",\"LastEvaluatedTableName\":");
        json_str(out, last->name, last->name_len);
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

/* ---- items ---- */

static int unsupported(const struct dl_json *root, const char *const *names, struct dl_buf *out)
{
    for (; *names; names++)
        if (get(root, *names))
            return validation(out, "ddbsim does not support %s", *names);
    return 0;
}

/* Canonical key of an item or key map into the scratch buffers. 0 or an HTTP status. */
static int key_of(const struct sim_table *t, const struct dl_json *obj, enum sim_key_ctx ctx,
                  size_t *pk_len, struct dl_buf *out)
{
    struct sim_fail f;
    dl_buf_reset(&scratch_key);
    dl_buf_reset(&scratch_kj);
    if (!sim_item_key(t, obj, ctx, wire, wire_len, &scratch_key, pk_len, &scratch_kj, &f))
        return fail_response(out, &f);
    return 0;
}

/* The item's DynamoDB size by src/item (the code the pump sizes its writes with), after
 * our own checks passed with DynamoDB's messages. 0 or an HTTP status. */
static int authoritative_size(const struct sim_table *t, const struct dl_json *item,
                              size_t walker_size, size_t *size, struct dl_buf *out)
{
    struct dl_pos_err why;
    dl_item_reset(&item_scratch);
    enum dl_err e = dl_item_from_ddb_json(&item_scratch, item, &t->ks, &why);
    if (e == DL_ERR_TOO_LARGE)
        return validation(out, "Item size has exceeded the maximum allowed size");
    if (e)
        return validation(out, "One or more parameter values were invalid: %s", why.msg);
    *size = item_scratch.size;
    if (*size != walker_size && g_cfg.verbose)
        fprintf(stderr, "ddbsim: size mismatch: src/item %zu, ddbsim %zu\n", *size, walker_size);
    return 0;
}

static int op_put_item(const struct dl_json *root, struct dl_buf *out, double now)
{
    static const char *const unsup[] = { "Expected", "ConditionExpression", "ConditionalOperator", NULL };
    struct dl_cursor name;
    int st = table_name(root, &name, out);
    if (st)
        return st;
    int rcc = rcc_of(root, out);
    if (rcc < 0)
        return 400;
    if ((st = unsupported(root, unsup, out)))
        return st;
    const struct dl_json *item = get(root, "Item");
    if (!item)
        return validation(out, "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must not be null");
    struct sim_fail f;
    size_t size = 0;
    if (!sim_item_size(item, &size, arena, &f))
        return fail_response(out, &f);
    if (size > SIM_MAX_ITEM)
        return validation(out, "Item size has exceeded the maximum allowed size");
    struct sim_table *t = sim_table_find(name.ptr, name.len);
    if (!t)
        return not_found(out, &name, false);
    size_t pk_len = 0;
    if ((st = key_of(t, item, KEYCTX_ITEM_PUT, &pk_len, out)))
        return st;
    if ((st = authoritative_size(t, item, size, &size, out)))
        return st;
    const struct dl_json *rv = get(root, "ReturnValues");
    bool all_old = rv && rv->type == DL_JSON_STRING && dl_cursor_eq_str(rv->str, "ALL_OLD");
    uint64_t h = sim_hash(scratch_key.data, scratch_key.len);
    double cost = sim_write_cost(t, scratch_key.data, scratch_key.len, h, size, false);
    int why = sim_capacity_take(t, sim_hash(scratch_key.data, pk_len), cost, now);
    if (why != SIM_TAKEN) {
        t->st_throttled_requests++;
        g_stats.throttled_requests++;
        g_stats.throttled_items++;
        sim_series_add(now, 0, 0, 1);
        return throttle_response(out, t, why);
    }
    dl_buf_append_byte(out, '{');
    bool comma = false;
    if (all_old) {
        struct sim_entry *e = sim_store_find(t, scratch_key.data, scratch_key.len, h);
        if (e && e->live) {
            dl_buf_append_str(out, "\"Attributes\":");
            dl_buf_append(out, e->raw, e->raw_len);
            comma = true;
        }
    }
    size_t end = raw_end(item);
    if (!sim_store_write(t, scratch_key.data, scratch_key.len, h, scratch_kj.data, scratch_kj.len,
                         wire + item->offset, end - item->offset, size)) {
        sim_error_body(out, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error");
        return 500;
    }
    account_write(t, cost, false, now);
    if (rcc) {
        dl_buf_append_str(out, comma ? ",\"ConsumedCapacity\":" : "\"ConsumedCapacity\":");
        consumed_one(out, t, cost, rcc);
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

static int op_delete_item(const struct dl_json *root, struct dl_buf *out, double now)
{
    static const char *const unsup[] = { "Expected", "ConditionExpression", "ConditionalOperator", NULL };
    struct sim_table *t;
    int st = lookup(root, &t, out);
    if (st)
        return st;
    int rcc = rcc_of(root, out);
    if (rcc < 0)
        return 400;
    if ((st = unsupported(root, unsup, out)))
        return st;
    const struct dl_json *key = get(root, "Key");
    if (!key)
        return validation(out, "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null");
    size_t pk_len = 0;
    if ((st = key_of(t, key, KEYCTX_KEY, &pk_len, out)))
        return st;
    uint64_t h = sim_hash(scratch_key.data, scratch_key.len);
    double cost = sim_write_cost(t, scratch_key.data, scratch_key.len, h, 0, true);
    int why = sim_capacity_take(t, sim_hash(scratch_key.data, pk_len), cost, now);
    if (why != SIM_TAKEN) {
        t->st_throttled_requests++;
        g_stats.throttled_requests++;
        g_stats.throttled_items++;
        sim_series_add(now, 0, 0, 1);
        return throttle_response(out, t, why);
    }
    const struct dl_json *rv = get(root, "ReturnValues");
    bool all_old = rv && rv->type == DL_JSON_STRING && dl_cursor_eq_str(rv->str, "ALL_OLD");
    dl_buf_append_byte(out, '{');
    bool comma = false;
    struct sim_entry *e = sim_store_find(t, scratch_key.data, scratch_key.len, h);
    if (all_old && e && e->live) {
        dl_buf_append_str(out, "\"Attributes\":");
        dl_buf_append(out, e->raw, e->raw_len);
        comma = true;
    }
    sim_store_write(t, scratch_key.data, scratch_key.len, h, scratch_kj.data, scratch_kj.len, NULL, 0, 0);
    account_write(t, cost, true, now);
    if (rcc) {
        dl_buf_append_str(out, comma ? ",\"ConsumedCapacity\":" : "\"ConsumedCapacity\":");
        consumed_one(out, t, cost, rcc);
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

static int op_get_item(const struct dl_json *root, struct dl_buf *out)
{
    struct sim_table *t;
    int st = lookup(root, &t, out);
    if (st)
        return st;
    const struct dl_json *key = get(root, "Key");
    if (!key)
        return validation(out, "1 validation error detected: Value null at 'key' failed to satisfy constraint: Member must not be null");
    size_t pk_len = 0;
    if ((st = key_of(t, key, KEYCTX_KEY, &pk_len, out)))
        return st;
    struct sim_entry *e = sim_store_find(t, scratch_key.data, scratch_key.len,
                                         sim_hash(scratch_key.data, scratch_key.len));
    dl_buf_append_byte(out, '{');
    if (e && e->live) {
        dl_buf_append_str(out, "\"Item\":");
        dl_buf_append(out, e->raw, e->raw_len);
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

static int op_scan(const struct dl_json *root, struct dl_buf *out)
{
    static const char *const unsup[] = { "ScanFilter", "FilterExpression", "ConditionalOperator", NULL };
    struct sim_table *t;
    int st = lookup(root, &t, out);
    if (st)
        return st;
    if ((st = unsupported(root, unsup, out)))
        return st;
    double limit = 0, seg = 0, nseg = 1;
    if (get_double(root, "Limit", &limit) && limit < 1)
        return validation(out, "1 validation error detected: Value '%.0f' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1", limit);
    bool has_seg = get_double(root, "Segment", &seg), has_nseg = get_double(root, "TotalSegments", &nseg);
    if (has_seg != has_nseg || nseg < 1 || nseg > 1000000 || seg < 0 || seg >= nseg)
        return validation(out, "The Segment parameter is required but was not present in the request when parameter TotalSegments is present");
    size_t start = 0;
    const struct dl_json *esk = get(root, "ExclusiveStartKey");
    if (esk) {
        size_t pk_len = 0;
        struct sim_fail f;
        dl_buf_reset(&scratch_key);
        if (!sim_item_key(t, esk, KEYCTX_KEY, wire, wire_len, &scratch_key, &pk_len, NULL, &f)) {
            char msg[600];
            snprintf(msg, sizeof msg, "The provided starting key is invalid: %s", f.msg);
            return validation(out, "%s", msg);
        }
        struct sim_entry *e = sim_store_find(t, scratch_key.data, scratch_key.len,
                                             sim_hash(scratch_key.data, scratch_key.len));
        if (e)
            start = e->order + 1;
    }
    dl_buf_append_str(out, "{\"Items\":[");
    size_t n = 0, bytes = 0, i = start;
    struct sim_entry *last = NULL;
    for (; i < t->norder; i++) {
        struct sim_entry *e = t->order[i];
        if (!e->live || (nseg > 1 && e->order % (uint32_t)nseg != (uint32_t)seg))
            continue;
        if ((limit > 0 && n >= (size_t)limit) || bytes >= SIM_SCAN_PAGE_BYTES)
            break;
        if (n)
            dl_buf_append_byte(out, ',');
        dl_buf_append(out, e->raw, e->raw_len);
        bytes += e->size;
        n++;
        last = e;
    }
    dl_buf_printf(out, "],\"Count\":%zu,\"ScannedCount\":%zu", n, n);
    /* More live items after the page? DynamoDB may also return a key when there are none;
     * we only do when there are, so a client's loop ends one request sooner. */
    bool more = false;
    for (size_t j = i; j < t->norder && !more; j++)
        more = t->order[j]->live && (nseg <= 1 || t->order[j]->order % (uint32_t)nseg == (uint32_t)seg);
    if (more && last) {
        dl_buf_append_str(out, ",\"LastEvaluatedKey\":");
        dl_buf_append(out, sim_entry_key_json(last), last->key_json_len);
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

/* ---- BatchWriteItem ---- */

struct wreq {
    struct sim_table *t;
    const struct dl_json *req;  /* the WriteRequest object, echoed in UnprocessedItems */
    const struct dl_json *item; /* PutRequest.Item or DeleteRequest.Key */
    const struct dl_json *table_member;
    bool del;
    size_t size;
    uint8_t *key, *kj;
    size_t key_len, kj_len, pk_len;
    uint64_t h, pk_hash;
};

static int op_batch_write(const struct dl_json *root, struct dl_buf *out, double now)
{
    g_stats.batch_requests++;
    const struct dl_json *ri = get(root, "RequestItems");
    if (!ri || ri->type == DL_JSON_NULL)
        return validation(out, "1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
    if (ri->type != DL_JSON_OBJECT) {
        struct sim_fail f;
        sim_fail_set(&f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return fail_response(out, &f);
    }
    if (ri->n == 0)
        return validation(out, "1 validation error detected: Value '{}' at 'requestItems' failed to satisfy constraint: Member must have length greater than or equal to 1");
    int rcc = rcc_of(root, out);
    if (rcc < 0)
        return 400;

    /* Shape: table names, list lengths (1..25 per table, 25 in all). */
    size_t total = 0;
    for (const struct dl_json *tm = ri->child; tm; tm = tm->next) {
        if (!valid_table_name(tm->key))
            return validation(out, "1 validation error detected: Value '{%.*s=[...]}' at 'requestItems' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+]",
                              (int)(tm->key.len > 300 ? 300 : tm->key.len), (const char *)tm->key.ptr);
        if (tm->type != DL_JSON_ARRAY) {
            struct sim_fail f;
            sim_fail_set(&f, FAIL_SERIALIZATION, "Unexpected value type in payload");
            return fail_response(out, &f);
        }
        if (tm->n < 1 || tm->n > SIM_MAX_BATCH) {
            /* DynamoDB prints the map with Java's toString of each WriteRequest. */
            char list[400];
            size_t o = 0;
            uint32_t shown = tm->n < 3 ? tm->n : 3;
            for (uint32_t i = 0; i < shown; i++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%scom.amazonaws.dynamodb.v20120810.WriteRequest@%08x",
                                      i ? ", " : "", (unsigned)sim_rand());
            if (tm->n > shown)
                snprintf(list + o, sizeof list - o, ", ...");
            return validation(out, "1 validation error detected: Value '{%.*s=[%s]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]",
                              (int)tm->key.len, (const char *)tm->key.ptr, list);
        }
        total += tm->n;
    }
    if (total > SIM_MAX_BATCH)
        return validation(out, "Too many items requested for the BatchWriteItem call");

    struct wreq *reqs = dl_arena_alloc(arena, total * sizeof *reqs);
    if (!reqs)
        return validation(out, "Request too large");
    memset(reqs, 0, total * sizeof *reqs);

    /* Values and sizes (no table needed yet), as DynamoDB checks them first. */
    size_t n = 0;
    for (const struct dl_json *tm = ri->child; tm; tm = tm->next) {
        int idx = 1;
        for (const struct dl_json *r = tm->child; r; r = r->next, idx++, n++) {
            struct wreq *w = &reqs[n];
            w->req = r;
            w->table_member = tm;
            const struct dl_json *put = get(r, "PutRequest"), *del = get(r, "DeleteRequest");
            if (r->type != DL_JSON_OBJECT || (!put && !del) || (put && del))
                return validation(out, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
            w->del = del != NULL;
            w->item = put ? get(put, "Item") : get(del, "Key");
            if (!w->item || w->item->type == DL_JSON_NULL)
                return validation(out, "1 validation error detected: Value null at 'requestItems.%.*s.member.%d.member.%s' failed to satisfy constraint: Member must not be null",
                                  (int)tm->key.len, (const char *)tm->key.ptr, idx,
                                  put ? "putRequest.item" : "deleteRequest.key");
            struct sim_fail f;
            if (!sim_item_size(w->item, &w->size, arena, &f))
                return fail_response(out, &f);
            if (!w->del && w->size > SIM_MAX_ITEM)
                return validation(out, "Item size has exceeded the maximum allowed size");
        }
    }
    /* Tables, keys, duplicates. */
    n = 0;
    for (const struct dl_json *tm = ri->child; tm; tm = tm->next) {
        struct sim_table *t = sim_table_find(tm->key.ptr, tm->key.len);
        if (!t)
            return not_found(out, &tm->key, false);
        size_t first = n;
        for (const struct dl_json *r = tm->child; r; r = r->next, n++) {
            struct wreq *w = &reqs[n];
            w->t = t;
            int st = key_of(t, w->item, w->del ? KEYCTX_KEY : KEYCTX_ITEM_BATCH, &w->pk_len, out);
            if (st)
                return st;
            if (!w->del && (st = authoritative_size(t, w->item, w->size, &w->size, out)))
                return st;
            w->key_len = scratch_key.len;
            w->kj_len = scratch_kj.len;
            w->key = dl_arena_alloc(arena, w->key_len + w->kj_len);
            if (!w->key)
                return validation(out, "Request too large");
            memcpy(w->key, scratch_key.data, w->key_len);
            w->kj = w->key + w->key_len;
            memcpy(w->kj, scratch_kj.data, w->kj_len);
            w->h = sim_hash(w->key, w->key_len);
            w->pk_hash = w->pk_len == w->key_len ? w->h : sim_hash(w->key, w->pk_len);
            for (size_t j = first; j < n; j++)
                if (reqs[j].key_len == w->key_len && memcmp(reqs[j].key, w->key, w->key_len) == 0)
                    return validation(out, "Provided list of item keys contains duplicates");
        }
    }

    /* Apply in order; what finds no capacity goes back in UnprocessedItems. */
    size_t written = 0, unprocessed = 0;
    int first_why = SIM_TAKEN;
    struct sim_table *first_throttled = NULL;
    bool *done = dl_arena_alloc(arena, total * sizeof *done);
    double *costs = dl_arena_alloc(arena, total * sizeof *costs);
    if (!done || !costs)
        return validation(out, "Request too large");
    for (size_t i = 0; i < total; i++)
        sim_store_prefetch(reqs[i].t, reqs[i].h, reqs[i].pk_hash);
    for (size_t i = 0; i < total; i++) {
        struct wreq *w = &reqs[i];
        double cost = sim_write_cost(w->t, w->key, w->key_len, w->h, w->size, w->del);
        int why = sim_capacity_take(w->t, w->pk_hash, cost, now);
        done[i] = why == SIM_TAKEN;
        costs[i] = done[i] ? cost : 0;
        if (!done[i]) {
            unprocessed++;
            if (!first_throttled) {
                first_throttled = w->t;
                first_why = why;
            }
            continue;
        }
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        if (!w->del) {
            raw = wire + w->item->offset;
            raw_len = raw_end(w->item) - w->item->offset;
        }
        if (!sim_store_write(w->t, w->key, w->key_len, w->h, w->kj, w->kj_len, raw, raw_len, w->size)) {
            sim_error_body(out, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error");
            return 500;
        }
        account_write(w->t, cost, w->del, now);
        written++;
    }
    if (written == 0) {
        first_throttled->st_throttled_requests++;
        g_stats.throttled_requests++;
        g_stats.throttled_items += total;
        sim_series_add(now, 0, 0, total);
        return throttle_response(out, first_throttled, first_why);
    }
    g_stats.unprocessed_items += unprocessed;
    if (unprocessed)
        sim_series_add(now, 0, 0, unprocessed);

    dl_buf_append_str(out, "{\"UnprocessedItems\":{");
    bool first_table = true;
    for (size_t i = 0; i < total;) {
        size_t j = i;
        bool any = false;
        while (j < total && reqs[j].table_member == reqs[i].table_member) {
            any |= !done[j];
            j++;
        }
        if (any) {
            if (!first_table)
                dl_buf_append_byte(out, ',');
            first_table = false;
            json_str(out, reqs[i].t->name, reqs[i].t->name_len);
            dl_buf_append_str(out, ":[");
            bool first = true;
            for (size_t k = i; k < j; k++) {
                if (done[k])
                    continue;
                reqs[k].t->st_unprocessed++;
                if (!first)
                    dl_buf_append_byte(out, ',');
                first = false;
                append_raw(out, reqs[k].req);
            }
            dl_buf_append_byte(out, ']');
        }
        i = j;
    }
    dl_buf_append_byte(out, '}');
    if (rcc) {
        dl_buf_append_str(out, ",\"ConsumedCapacity\":[");
        for (size_t i = 0; i < total;) {
            size_t j = i;
            double units = 0;
            while (j < total && reqs[j].table_member == reqs[i].table_member)
                units += costs[j++];
            if (i)
                dl_buf_append_byte(out, ',');
            consumed_one(out, reqs[i].t, units, rcc);
            i = j;
        }
        dl_buf_append_byte(out, ']');
    }
    dl_buf_append_byte(out, '}');
    return 200;
}

/* ---- dispatch ---- */

int sim_api_handle(enum sim_op op, const uint8_t *body, size_t len, struct dl_buf *out)
{
    if (!arena) {
        arena = dl_arena_new(1 << 20, (size_t)1 << 31);
        dl_item_init(&item_scratch);
        dl_buf_init(&scratch_key, 0);
        dl_buf_init(&scratch_kj, 0);
    }
    dl_arena_reset(arena);
    dl_buf_reset(out);
    double now = sim_now();
    wire = body;
    wire_len = len;
    struct dl_json *root = NULL;
    struct dl_pos_err perr;
    if (len == 0) {
        sim_error_body(out, T_SERIALIZATION, NULL);
        g_stats.validation_errors++;
        return 400;
    }
    if (dl_json_parse_doc(arena, body, len, &root, &perr) != DL_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "Could not parse request body into json: %s (line %llu, column %llu)",
                 perr.msg, (unsigned long long)perr.line, (unsigned long long)perr.column);
        sim_error_body(out, T_SERIALIZATION, msg);
        g_stats.validation_errors++;
        return 400;
    }
    if (root->type != DL_JSON_OBJECT) {
        sim_error_body(out, T_SERIALIZATION, "Start of list found where not expected");
        g_stats.validation_errors++;
        return 400;
    }
    switch (op) {
    case OP_BATCH_WRITE_ITEM: return op_batch_write(root, out, now);
    case OP_PUT_ITEM: return op_put_item(root, out, now);
    case OP_GET_ITEM: return op_get_item(root, out);
    case OP_DELETE_ITEM: return op_delete_item(root, out, now);
    case OP_SCAN: return op_scan(root, out);
    case OP_CREATE_TABLE: return op_create_table(root, out);
    case OP_DESCRIBE_TABLE: return op_describe_table(root, out);
    case OP_UPDATE_TABLE: return op_update_table(root, out);
    case OP_DELETE_TABLE: return op_delete_table(root, out);
    case OP_LIST_TABLES: return op_list_tables(root, out);
    default: break;
    }
    sim_error_body(out, "com.amazon.coral.service#UnknownOperationException", NULL);
    return 400;
}
