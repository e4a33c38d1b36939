/* Items: wire bytes, sizes, keys and rejection reasons (src/item/item.c). */
#include <stdlib.h>

#include "core/arena.h"
#include "core/json.h"
#include "item/item.h"
#include "test.h"
#include "test_keys.h"

static struct dl_arena *arena;

static char *xmalloc(size_t n)
{
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* Parse a JSON document for a test; NULL (and a failed check) if it does not parse. */
static const struct dl_json *J(const char *s)
{
    struct dl_json *out = NULL;
    struct dl_pos_err err;
    enum dl_err e = dl_json_parse_doc(arena, (const uint8_t *)s, strlen(s), &out, &err);
    CHECK_INT(e, DL_OK);
    if (e)
        fprintf(stderr, "  test JSON does not parse: %s\n", err.msg);
    return e ? NULL : out;
}

static struct dl_item it;
static struct dl_pos_err why;

#define WIRE_IS(s) CHECK_MEM_STR(it.wire.data, it.wire.len, s)
#define KEY_WIRE_IS(s) CHECK_MEM_STR(it.key_wire.data, it.key_wire.len, s)

static enum dl_err from_json(const char *doc, const struct dl_key_schema *ks)
{
    const struct dl_json *j = J(doc);
    return j ? dl_item_from_json(&it, j, ks, &why) : DL_ERR_PARSE;
}

static enum dl_err from_ddb(const char *doc, const struct dl_key_schema *ks)
{
    const struct dl_json *j = J(doc);
    return j ? dl_item_from_ddb_json(&it, j, ks, &why) : DL_ERR_PARSE;
}

/* CSV row from two comma-separated lists (no quoting needed in tests; "" cells allowed). */
static enum dl_err from_csv(const char *names, const char *values, const struct dl_key_schema *ks)
{
    struct dl_cursor n[16], v[16];
    size_t nn = 0, nv = 0;
    for (const char *p = names;; nn++) {
        const char *c = strchr(p, ',');
        n[nn] = dl_cursor_of(p, c ? (size_t)(c - p) : strlen(p));
        if (!c) { nn++; break; }
        p = c + 1;
    }
    for (const char *p = values;; nv++) {
        const char *c = strchr(p, ',');
        v[nv] = dl_cursor_of(p, c ? (size_t)(c - p) : strlen(p));
        if (!c) { nv++; break; }
        p = c + 1;
    }
    CHECK_INT(nn, nv);
    return dl_item_from_csv(&it, n, v, nn, ks, &why);
}

/* Key bytes as printable text: type, length and value, e.g. "N3:1E0". */
static const char *key_text(const struct dl_buf *key)
{
    static char out[4][512];
    static int next;
    char *o = out[next++ % 4];
    size_t len = 0, i = 0;
    o[0] = 0;
    while (i + 5 <= key->len) {
        size_t n = (size_t)key->data[i + 1] << 24 | (size_t)key->data[i + 2] << 16 |
                   (size_t)key->data[i + 3] << 8 | key->data[i + 4];
        len += (size_t)snprintf(o + len, 512 - len, "%s%c%zu:%.*s", i ? "|" : "", key->data[i], n, (int)n,
                                (const char *)key->data + i + 5);
        i += 5 + n;
    }
    if (i != key->len)
        snprintf(o + len, 512 - len, "(trailing bytes)");
    return o;
}

/* ------------------------------------------------------------------ wire and size */

static void test_scalars(void)
{
    struct dl_key_schema ks = schema0();
    CHECK_INT(from_json("{\"a\":\"x\",\"n\":1,\"t\":true,\"f\":false,\"z\":null}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1\"},\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},"
            "\"z\":{\"NULL\":true}}");
    /* a: 1+1; n: 1 + (ceil(1/2)+1 = 2); t: 1+1; f: 1+1; z: 1+1  => 2+3+2+2+2 = 11 */
    CHECK_INT(it.size, 11);
    CHECK_INT(it.key.len, 0);
    CHECK_INT(it.key_wire.len, 0);

    /* numbers keep their text */
    CHECK_INT(from_json("{\"p\":1.50,\"q\":-0,\"r\":1E+2,\"s\":-12345.678e-3}", &ks), DL_OK);
    WIRE_IS("{\"p\":{\"N\":\"1.50\"},\"q\":{\"N\":\"-0\"},\"r\":{\"N\":\"1E+2\"},\"s\":{\"N\":\"-12345.678e-3\"}}");
    /* p: 1 + (2 digits "15" -> 2); q: 1 + (zero -> 1); r: 1 + (1 digit -> 2);
     * s: 1 + (8 digits -> 4+1 = 5)  => 3+2+3+6 = 14 */
    CHECK_INT(it.size, 14);

    /* an empty object is an empty item when no key is required */
    CHECK_INT(from_json("{}", &ks), DL_OK);
    WIRE_IS("{}");
    CHECK_INT(it.size, 0);
    CHECK_INT(dl_item_wcu(it.size), 1);
}

static void test_nested(void)
{
    struct dl_key_schema ks = schema0();
    CHECK_INT(from_json("{\"m\":{\"k\":[1,\"s\",{\"x\":[]}],\"e\":{}},\"l\":[]}", &ks), DL_OK);
    WIRE_IS("{\"m\":{\"M\":{\"k\":{\"L\":[{\"N\":\"1\"},{\"S\":\"s\"},{\"M\":{\"x\":{\"L\":[]}}}]},"
            "\"e\":{\"M\":{}}}},\"l\":{\"L\":[]}}");
    /* m: name 1 + M(3 + k + e)
     *    k: 1 (element) + 1 (name) + L(3 + [1 + 2] + [1 + 1] + [1 + M(3 + 1 + 1 + L(3))])
     *       = 2 + (3 + 3 + 2 + (1 + 8)) = 2 + 17 = 19
     *    e: 1 + 1 + M(3) = 5
     *    M = 3 + 19 + 5 = 27 -> m = 28
     * l: 1 + L(3) = 4  => 32 */
    CHECK_INT(it.size, 32);

    /* lists of lists and maps in lists */
    CHECK_INT(from_json("{\"a\":[[true],[[null]],{\"b\":[\"\"]}]}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"L\":[{\"L\":[{\"BOOL\":true}]},{\"L\":[{\"L\":[{\"NULL\":true}]}]},"
            "{\"M\":{\"b\":{\"L\":[{\"S\":\"\"}]}}}]}}");
    /* a: 1 + L(3 + [1 + L(3 + 1 + 1)] + [1 + L(3 + 1 + L(3 + 1 + 1))] + [1 + M(3 + 1 + 1 + L(3 + 1 + 0))])
     *    = 1 + (3 + 6 + 10 + 10) = 30 */
    CHECK_INT(it.size, 30);
}

static void test_strings_and_names(void)
{
    struct dl_key_schema ks = schema0();
    /* unicode names, escapes, control characters, NUL, DEL, empty string/list/map */
    CHECK_INT(from_json("{\"na\\u00efve \\u2603\":\"line\\nbreak \\\"q\\\" back\\\\slash \\u0001\\u001f tab\\t\","
                        "\"$ x\":\"\",\"\\ud83d\\ude00\":[],\"e\":{},\"nul\":\"a\\u0000b\\u007f\"}",
                        &ks),
             DL_OK);
    WIRE_IS("{\"na\xc3\xafve \xe2\x98\x83\":{\"S\":\"line\\nbreak \\\"q\\\" back\\\\slash \\u0001\\u001f tab\\t\"},"
            "\"$ x\":{\"S\":\"\"},\"\xf0\x9f\x98\x80\":{\"L\":[]},\"e\":{\"M\":{}},"
            "\"nul\":{\"S\":\"a\\u0000b\x7f\"}}");
    /* "naïve ☃" = 1+1+2+1+1+1+3 = 10 bytes; its value "line\nbreak "q" back\slash \x01\x1f tab\t"
     * = 4+1+6+3+5+1+6+2+4+1 = 33 bytes  -> 43
     * "$ x" 3 + "" 0 -> 3;  U+1F600 is 4 bytes + L 3 -> 7;  "e" 1 + M 3 -> 4;
     * "nul" 3 + "a\0b\x7f" 4 -> 7   => 43+3+7+4+7 = 64 */
    CHECK_INT(it.size, 64);
}

static void test_size_limit(void)
{
    struct dl_key_schema ks = schema0();
    /* {"a": "xxx..."}: size = 1 (name) + string bytes */
    size_t n = 409599;
    char *doc = xmalloc(n + 32);
    memcpy(doc, "{\"a\":\"", 6);
    memset(doc + 6, 'x', n);
    memcpy(doc + 6 + n, "\"}", 3);
    CHECK_INT(from_json(doc, &ks), DL_OK);
    CHECK_INT(it.size, 409600);
    CHECK_INT(it.wire.len, 409599 + 14); /* {"a":{"S":"..."}} */
    CHECK_INT(dl_item_wcu(it.size), 400);
    free(doc);

    n = 409600;
    doc = xmalloc(n + 32);
    memcpy(doc, "{\"a\":\"", 6);
    memset(doc + 6, 'x', n);
    memcpy(doc + 6 + n, "\"}", 3);
    CHECK_INT(from_json(doc, &ks), DL_ERR_TOO_LARGE);
    CHECK_INT(why.code, DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 409,601 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    free(doc);

    /* the size is exact even when the excess comes early: 412,345 = 1 + 412,344 */
    n = 412344;
    doc = xmalloc(n + 64);
    memcpy(doc, "{\"a\":\"", 6);
    memset(doc + 6, 'x', n);
    memcpy(doc + 6 + n, "\",\"b\":[1,2]}", 13);
    /* + b: 1 + L(3 + 3 + 3) = 10 */
    CHECK_INT(from_json(doc, &ks), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 412,355 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    memcpy(doc + 6 + n, "\"}", 3);
    CHECK_INT(from_json(doc, &ks), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 412,345 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    free(doc);

    /* the same boundary through many small values in a list: a + L(3 + k * (1 + 1)) */
    size_t k = (409600 - 1 - 3) / 2; /* 204,798 elements "x" -> 1 + 3 + 409,596 = 409,600 */
    doc = xmalloc(k * 4 + 32);
    size_t o = 0;
    o += (size_t)sprintf(doc, "{\"a\":[");
    for (size_t i = 0; i < k; i++)
        o += (size_t)sprintf(doc + o, "%s\"x\"", i ? "," : "");
    strcpy(doc + o, "]}");
    CHECK_INT(from_json(doc, &ks), DL_OK);
    CHECK_INT(it.size, 409600);
    strcpy(doc + o, ",1]}"); /* one more element: + 1 + 2 */
    CHECK_INT(from_json(doc, &ks), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 409,603 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    free(doc);

    /* CSV: a + value */
    n = 409599;
    char *cell = xmalloc(n + 2);
    memset(cell, 'y', n + 1);
    struct dl_cursor names[1] = { dl_cursor_str("a") }, values[1] = { dl_cursor_of(cell, n) };
    CHECK_INT(dl_item_from_csv(&it, names, values, 1, &ks, &why), DL_OK);
    CHECK_INT(it.size, 409600);
    values[0].len = n + 1;
    CHECK_INT(dl_item_from_csv(&it, names, values, 1, &ks, &why), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 409,601 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    free(cell);

    /* DynamoDB JSON: a binary value counts its decoded bytes; 306,000 raw bytes in base64 */
    size_t raw = 306000, b64 = raw / 3 * 4;
    char *dd = xmalloc(b64 + 103600 + 64);
    size_t w = (size_t)sprintf(dd, "{\"b\":{\"B\":\"");
    for (size_t i = 0; i < b64; i++)
        dd[w++] = 'A';
    w += (size_t)sprintf(dd + w, "\"},\"s\":{\"S\":\"");
    for (size_t i = 0; i < 103598; i++)
        dd[w++] = 'z';
    strcpy(dd + w, "\"}}");
    /* b: 1 + 306,000; s: 1 + 103,598  => 409,600 */
    CHECK_INT(from_ddb(dd, &ks), DL_OK);
    CHECK_INT(it.size, 409600);
    strcpy(dd + w, "z\"}}");
    CHECK_INT(from_ddb(dd, &ks), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "item is 409,601 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
    free(dd);

    CHECK_INT(dl_item_wcu(0), 1);
    CHECK_INT(dl_item_wcu(1), 1);
    CHECK_INT(dl_item_wcu(1024), 1);
    CHECK_INT(dl_item_wcu(1025), 2);
    CHECK_INT(dl_item_wcu(409600), 400);
}

static void test_depth(void)
{
    struct dl_key_schema ks = schema0();
    /* 31 nested lists around a scalar: the scalar is at level 32 */
    char doc[256];
    int o = sprintf(doc, "{\"x\":");
    for (int i = 0; i < 31; i++)
        doc[o++] = '[';
    doc[o++] = '1';
    for (int i = 0; i < 31; i++)
        doc[o++] = ']';
    strcpy(doc + o, "}");
    CHECK_INT(from_json(doc, &ks), DL_OK);
    /* x: 1 + 31 lists of one element: 31 * (3 + 1) + number 2 = 126 -> 127 */
    CHECK_INT(it.size, 127);

    /* 32 nested lists around a scalar: the scalar is at level 33 */
    o = sprintf(doc, "{\"x\":");
    for (int i = 0; i < 32; i++)
        doc[o++] = '[';
    doc[o++] = '1';
    for (int i = 0; i < 32; i++)
        doc[o++] = ']';
    strcpy(doc + o, "}");
    CHECK_INT(from_json(doc, &ks), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'x': nesting deeper than 32 levels");
    CHECK_INT(why.offset, 5 + 32); /* the value at level 33 */

    /* 32 nested maps with an empty innermost map: nothing at level 33 */
    o = sprintf(doc, "{\"x\":");
    for (int i = 0; i < 31; i++)
        o += sprintf(doc + o, "{\"a\":");
    o += sprintf(doc + o, "{}");
    for (int i = 0; i < 31; i++)
        doc[o++] = '}';
    strcpy(doc + o, "}");
    CHECK_INT(from_json(doc, &ks), DL_OK);
}

/* ------------------------------------------------------------------ rejections */

static void test_rejections(void)
{
    struct dl_key_schema none = schema0();
    struct dl_key_schema uuid = schema1("uuid", 'S');
    struct dl_key_schema idn = schema1("id", 'N');
    struct dl_key_schema two = schema2("uuid", 'S', "ts", 'N');

    CHECK_INT(from_json("{\"name\":\"x\"}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "missing partition key 'uuid'");
    CHECK_INT(why.code, DL_ERR_INVALID);
    CHECK_INT(from_json("{\"uuid\":\"u\"}", &two), DL_ERR_INVALID);
    CHECK_STR(why.msg, "missing sort key 'ts'");
    CHECK_INT(from_json("{\"uuid\":\"\"}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "partition key 'uuid' is empty");
    CHECK_INT(from_json("{\"uuid\":\"u\",\"ts\":\"\"}", &two), DL_ERR_INVALID);
    CHECK_STR(why.msg, "sort key 'ts' is empty");
    CHECK_INT(from_json("{\"id\":\"abc\"}", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but is the string 'abc'");
    CHECK_INT(from_json("{\"id\":\"042\"}", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but '042' is not a valid number: leading zeros are not allowed");
    CHECK_INT(from_json("{\"id\":1e200}", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id': number 1e200 is out of DynamoDB's range (1E-130 to 9.99E+125)");
    CHECK_INT(from_json("{\"uuid\":[\"a\"]}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'uuid' must be a string (S) but is a list");
    CHECK_INT(from_json("{\"uuid\":{}}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'uuid' must be a string (S) but is a map");
    CHECK_INT(from_json("{\"uuid\":true}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'uuid' must be a string (S) but is a boolean (true)");
    CHECK_INT(from_json("{\"uuid\":null}", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'uuid' must be a string (S) but is null");
    struct dl_key_schema bin = schema1("b", 'B');
    CHECK_INT(from_json("{\"b\":5}", &bin), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'b' must be binary (B) but is the number 5");

    /* key sizes: partition 2,048 bytes, sort 1,024 bytes */
    static char doc[4096];
    sprintf(doc, "{\"uuid\":\"%0*d\"}", 2048, 0);
    CHECK_INT(from_json(doc, &uuid), DL_OK);
    sprintf(doc, "{\"uuid\":\"%0*d\"}", 2100, 0);
    CHECK_INT(from_json(doc, &uuid), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "partition key 'uuid' is 2,100 bytes; limit 2,048");
    struct dl_key_schema ss = schema2("uuid", 'S', "sk", 'S');
    sprintf(doc, "{\"uuid\":\"u\",\"sk\":\"%0*d\"}", 1024, 0);
    CHECK_INT(from_json(doc, &ss), DL_OK);
    sprintf(doc, "{\"uuid\":\"u\",\"sk\":\"%0*d\"}", 1025, 0);
    CHECK_INT(from_json(doc, &ss), DL_ERR_TOO_LARGE);
    CHECK_STR(why.msg, "sort key 'sk' is 1,025 bytes; limit 1,024");

    /* numbers */
    CHECK_INT(from_json("{\"price\":10000000000000000000000000000000000000001}", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'price': number has 41 significant digits; DynamoDB allows 38");
    CHECK_INT(why.offset, 9);
    CHECK_INT(from_json("{\"m\":{\"deep\":[1,2,1e-200]}}", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'm.deep[2]': number 1e-200 is out of DynamoDB's range (1E-130 to 9.99E+125)");

    /* names */
    CHECK_INT(from_json("{\"\":1}", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "an attribute name is empty");
    /* an empty name inside a map is passed on (see docs/mapping.md) */
    CHECK_INT(from_json("{\"m\":{\"\":1}}", &none), DL_OK);
    WIRE_IS("{\"m\":{\"M\":{\"\":{\"N\":\"1\"}}}}");

    /* names: at most 65,535 bytes at any level */
    char *big = xmalloc(65536 + 64);
    memcpy(big, "{\"", 2);
    memset(big + 2, 'n', 65535);
    strcpy(big + 2 + 65535, "\":1}");
    CHECK_INT(from_json(big, &none), DL_OK);
    CHECK_INT(it.size, 65535 + 2);
    memset(big + 2, 'n', 65536);
    strcpy(big + 2 + 65536, "\":1}");
    CHECK_INT(from_json(big, &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute name 'nnnnnnnnnnnnnnnn...' is 65,536 bytes; limit 65,535");
    memcpy(big, "{\"m\":{\"", 7);
    memset(big + 7, 'n', 65536);
    strcpy(big + 7 + 65536, "\":1}}");
    CHECK_INT(from_json(big, &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'm': a map member name is 65,536 bytes; limit 65,535");
    free(big);

    /* not an object */
    CHECK_INT(from_json("[1]", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "a record must be a JSON object to become an item, not an array");
    CHECK_INT(dl_item_from_json(&it, NULL, &none, &why), DL_ERR_INVALID);

    /* why may be NULL */
    const struct dl_json *j = J("{\"\":1}");
    CHECK_INT(dl_item_from_json(&it, j, &none, NULL), DL_ERR_INVALID);
}

/* ------------------------------------------------------------------ keys */

static void test_keys_json(void)
{
    /* S key from a number: its text */
    struct dl_key_schema s = schema1("id", 'S');
    CHECK_INT(from_json("{\"x\":1,\"id\":1.0}", &s), DL_OK);
    WIRE_IS("{\"x\":{\"N\":\"1\"},\"id\":{\"S\":\"1.0\"}}");
    KEY_WIRE_IS("{\"id\":{\"S\":\"1.0\"}}");
    CHECK_STR(key_text(&it.key), "S3:1.0");
    /* x: 1 + 2; id: 2 + 3  => 8 */
    CHECK_INT(it.size, 8);

    /* N key from a string holding a number: text kept on the wire, canonical key */
    struct dl_key_schema n = schema1("id", 'N');
    CHECK_INT(from_json("{\"id\":\"1.50\"}", &n), DL_OK);
    WIRE_IS("{\"id\":{\"N\":\"1.50\"}}");
    KEY_WIRE_IS("{\"id\":{\"N\":\"1.50\"}}");
    CHECK_STR(key_text(&it.key), "N5:15E-1");
    CHECK_INT(it.size, 4); /* 2 + (2 digits -> 2) */

    /* B key from a string: its bytes, base64 on the wire */
    struct dl_key_schema b = schema1("k", 'B');
    CHECK_INT(from_json("{\"k\":\"hi\",\"v\":\"hi\"}", &b), DL_OK);
    WIRE_IS("{\"k\":{\"B\":\"aGk=\"},\"v\":{\"S\":\"hi\"}}");
    KEY_WIRE_IS("{\"k\":{\"B\":\"aGk=\"}}");
    CHECK_STR(key_text(&it.key), "B2:hi");
    CHECK_INT(it.size, 6);

    /* two keys: key and key_wire in schema order, wire in source order */
    struct dl_key_schema two = schema2("uuid", 'S', "ts", 'N');
    CHECK_INT(from_json("{\"ts\":5,\"data\":{},\"uuid\":\"u-1\"}", &two), DL_OK);
    WIRE_IS("{\"ts\":{\"N\":\"5\"},\"data\":{\"M\":{}},\"uuid\":{\"S\":\"u-1\"}}");
    KEY_WIRE_IS("{\"uuid\":{\"S\":\"u-1\"},\"ts\":{\"N\":\"5\"}}");
    CHECK_STR(key_text(&it.key), "S3:u-1|N3:5E0");
    /* ts: 2 + 2; data: 4 + 3; uuid: 4 + 3  => 18 */
    CHECK_INT(it.size, 18);

    /* key names with characters to escape */
    struct dl_key_schema q = schema1("a\"b", 'S');
    CHECK_INT(from_json("{\"a\\\"b\":\"v\"}", &q), DL_OK);
    KEY_WIRE_IS("{\"a\\\"b\":{\"S\":\"v\"}}");

    /* no schema: no key */
    struct dl_key_schema none = schema0();
    CHECK_INT(from_json("{\"id\":1}", &none), DL_OK);
    CHECK_INT(it.key.len, 0);
    CHECK_INT(it.key_wire.len, 0);
    CHECK_INT(dl_item_from_json(&it, J("{\"id\":1}"), NULL, &why), DL_OK);
}

static void test_keys_csv(void)
{
    struct dl_key_schema uuid = schema1("uuid", 'S');
    CHECK_INT(from_csv("uuid,name,note", "u1,Ann,", &uuid), DL_OK);
    WIRE_IS("{\"uuid\":{\"S\":\"u1\"},\"name\":{\"S\":\"Ann\"}}");
    KEY_WIRE_IS("{\"uuid\":{\"S\":\"u1\"}}");
    CHECK_STR(key_text(&it.key), "S2:u1");
    CHECK_INT(it.size, 4 + 2 + 4 + 3);

    /* everything is S, numbers included */
    struct dl_key_schema none = schema0();
    CHECK_INT(from_csv("zip,price", "00501,1.50", &none), DL_OK);
    WIRE_IS("{\"zip\":{\"S\":\"00501\"},\"price\":{\"S\":\"1.50\"}}");

    CHECK_INT(from_csv("uuid,name", ",Ann", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "partition key 'uuid' is empty");
    CHECK_INT(why.column, 1);
    CHECK_INT(from_csv("id,name", "u,Ann", &uuid), DL_ERR_INVALID);
    CHECK_STR(why.msg, "missing partition key 'uuid'");

    struct dl_key_schema idn = schema1("id", 'N');
    CHECK_INT(from_csv("name,id", "x,42", &idn), DL_OK);
    WIRE_IS("{\"name\":{\"S\":\"x\"},\"id\":{\"N\":\"42\"}}");
    CHECK_STR(key_text(&it.key), "N4:42E0");
    CHECK_INT(from_csv("name,id", "x,042", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but '042' is not a valid number: leading zeros are not allowed");
    CHECK_INT(why.column, 2);
    CHECK_INT(from_csv("name,id", "x,abc", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but is the string 'abc'");
    CHECK_INT(from_csv("name,id", "x, 42", &idn), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but ' 42' is not a valid number: it must start with a digit or '-'");

    struct dl_key_schema b = schema1("bin", 'B');
    CHECK_INT(from_csv("bin", "\xff\x01", &b), DL_OK); /* B cells are bytes, not text */
    WIRE_IS("{\"bin\":{\"B\":\"/wE=\"}}");
    CHECK_INT(it.size, 3 + 2);

    /* invalid UTF-8 names the column */
    CHECK_INT(from_csv("a,name", "x,ab\xc3", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'name' (column 2): the value is not valid UTF-8 (byte 3)");
    CHECK_INT(why.column, 2);
    CHECK_INT(from_csv("a,n\xff", "x,y", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "the name of column 2 is not valid UTF-8 (byte 2)");
    CHECK_INT(from_csv("a,", "x,y", &none), DL_ERR_INVALID);
    CHECK_STR(why.msg, "column 2 has a value but no name");
    CHECK_INT(from_csv("a,", "x,", &none), DL_OK); /* an unnamed empty column is nothing */
    WIRE_IS("{\"a\":{\"S\":\"x\"}}");

    /* a row of empty cells is an empty item */
    CHECK_INT(from_csv("a,b", ",", &none), DL_OK);
    WIRE_IS("{}");
    CHECK_INT(it.size, 0);
}

static void test_keys_ddb(void)
{
    struct dl_key_schema n = schema1("id", 'N');
    CHECK_INT(from_ddb("{\"id\":{\"S\":\"1\"}}", &n), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id' must be a number (N) but is a string (S)");
    CHECK_INT(from_ddb("{\"id\":{\"N\":\"01\"}}", &n), DL_ERR_INVALID);
    CHECK_STR(why.msg, "key 'id': '01' is not a valid number: leading zeros are not allowed");
    CHECK_INT(from_ddb("{\"x\":{\"N\":\"1\"}}", &n), DL_ERR_INVALID);
    CHECK_STR(why.msg, "missing partition key 'id'");
    CHECK_INT(from_ddb("{\"id\":{\"N\":\"1\",\"S\":\"1\"}}", &n), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'id': value has 2 type keys; exactly one is allowed");

    struct dl_key_schema s = schema1("id", 'S');
    CHECK_INT(from_ddb("{\"id\":{\"S\":\"\"}}", &s), DL_ERR_INVALID);
    CHECK_STR(why.msg, "partition key 'id' is empty");
    struct dl_key_schema b = schema1("id", 'B');
    CHECK_INT(from_ddb("{\"id\":{\"B\":\"\"}}", &b), DL_ERR_INVALID);
    CHECK_STR(why.msg, "partition key 'id' is empty");
    CHECK_INT(from_ddb("{\"id\":{\"B\":\"a\"}}", &b), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'id': B value 'a' is not valid base64");
    CHECK_INT(from_ddb("{\"id\":{\"B\":\"aGk\"}}", &b), DL_OK);
    WIRE_IS("{\"id\":{\"B\":\"aGk=\"}}"); /* re-encoded with padding */
    KEY_WIRE_IS("{\"id\":{\"B\":\"aGk=\"}}");
    CHECK_STR(key_text(&it.key), "B2:hi");
}

/* The same item through every builder gives the same key bytes. */
static void test_key_equality_across_builders(void)
{
    struct dl_buf k1, k2;
    dl_buf_init(&k1, 0);
    dl_buf_init(&k2, 0);

    struct dl_key_schema n = schema1("id", 'N');
    CHECK_INT(from_json("{\"id\":1.0,\"v\":\"x\"}", &n), DL_OK);
    dl_buf_append_cur(&k1, dl_buf_cur(&it.key));
    CHECK_STR(key_text(&k1), "N3:1E0");
    CHECK_INT(from_csv("v,id", "y,1", &n), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));
    CHECK_INT(from_ddb("{\"id\":{\"N\":\"1\"}}", &n), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));
    CHECK_INT(from_json("{\"id\":\"10e-1\"}", &n), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"id\":{\"N\":\"0.1E1\"}}"), &n, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&k2)));
    /* a different number is a different key */
    CHECK_INT(from_csv("id", "2", &n), DL_OK);
    CHECK(!dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));

    /* S keys: bytes as they are ("1.0" and "1" differ) */
    struct dl_key_schema s2 = schema2("pk", 'S', "sk", 'S');
    CHECK_INT(from_json("{\"sk\":\"b\",\"pk\":\"a\"}", &s2), DL_OK);
    dl_buf_reset(&k1);
    dl_buf_append_cur(&k1, dl_buf_cur(&it.key));
    CHECK_INT(from_csv("pk,sk", "a,b", &s2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));
    CHECK_INT(from_ddb("{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"b\"},\"x\":{\"N\":\"1\"}}", &s2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));
    /* ...from a DeleteRequest-style key map with the members the other way round */
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"sk\":{\"S\":\"b\"},\"pk\":{\"S\":\"a\"}}"), &s2, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&k2)));
    /* "ab"+"" is not "a"+"b": lengths are part of the key */
    CHECK_INT(from_json("{\"pk\":\"ab\",\"sk\":\"\\u0000\"}", &s2), DL_OK);
    CHECK(!dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));

    /* B keys: JSON string bytes = DynamoDB JSON base64, padded or not */
    struct dl_key_schema b = schema1("b", 'B');
    CHECK_INT(from_json("{\"b\":\"hi\"}", &b), DL_OK);
    dl_buf_reset(&k1);
    dl_buf_append_cur(&k1, dl_buf_cur(&it.key));
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"aGk=\"}}"), &b, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&k2)));
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"aGk\"}}"), &b, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&k2)));
    CHECK_INT(from_csv("b", "hi", &b), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&k1), dl_buf_cur(&it.key)));

    /* the key of an item's own wire and key_wire match its key */
    struct dl_key_schema two = schema2("uuid", 'S', "ts", 'N');
    CHECK_INT(from_json("{\"ts\":1.50,\"uuid\":\"u\"}", &two), DL_OK);
    const struct dl_json *w = NULL;
    struct dl_pos_err perr;
    CHECK_INT(dl_json_parse_doc(arena, it.wire.data, it.wire.len, (struct dl_json **)&w, &perr), DL_OK);
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(w, &two, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&it.key), dl_buf_cur(&k2)));
    CHECK_INT(dl_json_parse_doc(arena, it.key_wire.data, it.key_wire.len, (struct dl_json **)&w, &perr), DL_OK);
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(w, &two, &k2), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&it.key), dl_buf_cur(&k2)));

    /* keys are appended, so many can share one buffer; a failure leaves the buffer as it was */
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"aGk=\"}}"), &b, &k2), DL_OK);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"aGVsbG8=\"}}"), &b, &k2), DL_OK);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"S\":\"x\"}}"), &b, &k2), DL_ERR_INVALID);
    CHECK_STR(key_text(&k2), "B2:hi|B5:hello");
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"uuid\":{\"S\":\"u\"},\"ts\":{\"N\":\"x\"}}"), &two, &k2),
              DL_ERR_INVALID); /* the partition key part is taken back too */
    CHECK_STR(key_text(&k2), "B2:hi|B5:hello");

    /* key_from_ddb_json failures */
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"uuid\":{\"S\":\"u\"}}"), &two, &k2), DL_ERR_INVALID);
    CHECK_INT(k2.len, 0); /* nothing appended */
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"uuid\":{\"S\":\"u\"},\"ts\":{\"S\":\"1\"}}"), &two, &k2),
              DL_ERR_INVALID);
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"uuid\":{\"S\":\"u\"},\"ts\":{\"N\":\"01\"}}"), &two, &k2),
              DL_ERR_INVALID);
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"uuid\":{\"S\":\"\"},\"ts\":{\"N\":\"1\"}}"), &two, &k2),
              DL_ERR_INVALID);
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"a\"}}"), &b, &k2), DL_ERR_INVALID);
    struct dl_key_schema none = schema0();
    dl_buf_reset(&k2);
    CHECK_INT(dl_item_key_from_ddb_json(J("{\"b\":{\"B\":\"aGk=\"}}"), &none, &k2), DL_ERR_INVALID);

    dl_buf_free(&k1);
    dl_buf_free(&k2);
}

/* ------------------------------------------------------------------ duplicates */

static void test_duplicates(void)
{
    struct dl_key_schema none = schema0();
    /* the last one wins, at the position of its last occurrence */
    CHECK_INT(from_json("{\"a\":1,\"b\":2,\"a\":\"three\"}", &none), DL_OK);
    WIRE_IS("{\"b\":{\"N\":\"2\"},\"a\":{\"S\":\"three\"}}");
    CHECK_INT(it.size, 3 + 6); /* the superseded a:1 does not count */
    CHECK_INT(from_json("{\"m\":{\"x\":1,\"y\":[],\"x\":{\"x\":1,\"x\":2}}}", &none), DL_OK);
    WIRE_IS("{\"m\":{\"M\":{\"y\":{\"L\":[]},\"x\":{\"M\":{\"x\":{\"N\":\"2\"}}}}}}");
    /* an invalid value that is superseded does not matter */
    CHECK_INT(from_json("{\"n\":1e999,\"n\":1}", &none), DL_OK);
    WIRE_IS("{\"n\":{\"N\":\"1\"}}");
    /* many members: still the last wins */
    char doc[4096];
    int o = sprintf(doc, "{");
    for (int i = 0; i < 100; i++)
        o += sprintf(doc + o, "%s\"k%d\":%d", i ? "," : "", i % 10, i);
    strcpy(doc + o, "}");
    CHECK_INT(from_json(doc, &none), DL_OK);
    WIRE_IS("{\"k0\":{\"N\":\"90\"},\"k1\":{\"N\":\"91\"},\"k2\":{\"N\":\"92\"},\"k3\":{\"N\":\"93\"},"
            "\"k4\":{\"N\":\"94\"},\"k5\":{\"N\":\"95\"},\"k6\":{\"N\":\"96\"},\"k7\":{\"N\":\"97\"},"
            "\"k8\":{\"N\":\"98\"},\"k9\":{\"N\":\"99\"}}");

    /* key attribute given twice: the last one is the key */
    struct dl_key_schema s = schema1("id", 'S');
    CHECK_INT(from_json("{\"id\":\"first\",\"v\":1,\"id\":\"second\"}", &s), DL_OK);
    WIRE_IS("{\"v\":{\"N\":\"1\"},\"id\":{\"S\":\"second\"}}");
    CHECK_STR(key_text(&it.key), "S6:second");

    /* CSV: the last non-empty cell wins */
    CHECK_INT(from_csv("a,b,a", "1,2,3", &none), DL_OK);
    WIRE_IS("{\"b\":{\"S\":\"2\"},\"a\":{\"S\":\"3\"}}");
    CHECK_INT(from_csv("a,b,a", "1,2,", &none), DL_OK);
    WIRE_IS("{\"a\":{\"S\":\"1\"},\"b\":{\"S\":\"2\"}}");
    CHECK_INT(from_csv("id,id", ",k", &s), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"k\"}}");

    /* DynamoDB JSON follows the same rule */
    CHECK_INT(from_ddb("{\"a\":{\"N\":\"1\"},\"b\":{\"M\":{\"c\":{\"S\":\"x\"},\"c\":{\"S\":\"y\"}}},\"a\":{\"S\":\"z\"}}",
                       &none),
              DL_OK);
    WIRE_IS("{\"b\":{\"M\":{\"c\":{\"S\":\"y\"}}},\"a\":{\"S\":\"z\"}}");
}

/* ------------------------------------------------------------------ DynamoDB JSON */

static void test_ddb_json(void)
{
    struct dl_key_schema pk = schema1("pk", 'S');
    const char *doc =
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"5\"},\"b\":{\"B\":\"aGVsbG8=\"},\"ss\":{\"SS\":[\"a\",\"bc\"]},"
        "\"ns\":{\"NS\":[\"1\",\"-2.50\"]},\"bs\":{\"BS\":[\"AQ==\",\"AgM\"]},"
        "\"l\":{\"L\":[{\"S\":\"x\"},{\"NULL\":true},{\"L\":[]}]},"
        "\"m\":{\"M\":{\"k\":{\"BOOL\":false},\"e\":{\"M\":{}}}},\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
        "\"es\":{\"S\":\"\"},\"eb\":{\"B\":\"\"}}";
    CHECK_INT(from_ddb(doc, &pk), DL_OK);
    /* same as the input except base64 re-encoded with padding ("AgM" -> "AgM=") */
    const char *expect =
        "{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":\"5\"},\"b\":{\"B\":\"aGVsbG8=\"},\"ss\":{\"SS\":[\"a\",\"bc\"]},"
        "\"ns\":{\"NS\":[\"1\",\"-2.50\"]},\"bs\":{\"BS\":[\"AQ==\",\"AgM=\"]},"
        "\"l\":{\"L\":[{\"S\":\"x\"},{\"NULL\":true},{\"L\":[]}]},"
        "\"m\":{\"M\":{\"k\":{\"BOOL\":false},\"e\":{\"M\":{}}}},\"t\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
        "\"es\":{\"S\":\"\"},\"eb\":{\"B\":\"\"}}";
    WIRE_IS(expect);
    KEY_WIRE_IS("{\"pk\":{\"S\":\"a\"}}");
    /* pk 2+1=3; n 1+2=3; b 1+5=6 ("hello"); ss 2+(1+2)=5; ns 2+(2 + (2 digits "25" -> 2))=6;
     * bs 2+(1+2)=5; l 1 + L(3 + (1+1) + (1+1) + (1+3)) = 1+11 = 12;
     * m 1 + M(3 + (1+1+1) + (1+1+3)) = 1+11 = 12; t 1+1=2; z 1+1=2; es 2+0=2; eb 2+0=2
     * => 3+3+6+5+6+5+12+12+2+2+2+2 = 60 */
    CHECK_INT(it.size, 60);

    /* round trip: the wire parsed again gives the same wire and size */
    struct dl_buf wire1;
    dl_buf_init(&wire1, 0);
    dl_buf_append_cur(&wire1, dl_buf_cur(&it.wire));
    size_t size1 = it.size;
    CHECK_INT(from_ddb((const char *)wire1.data, &pk), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&wire1), dl_buf_cur(&it.wire)));
    CHECK_INT(it.size, size1);

    /* plain JSON -> wire -> DynamoDB JSON builder: the same wire, size and key */
    struct dl_key_schema idn = schema1("id", 'N');
    CHECK_INT(from_json("{\"id\":\"7\",\"s\":\"x\\n\\u0002\",\"l\":[1,{\"a\":null}],\"u\":\"\\u00e9\"}", &idn), DL_OK);
    dl_buf_reset(&wire1);
    dl_buf_append_cur(&wire1, dl_buf_cur(&it.wire));
    size1 = it.size;
    struct dl_buf key1;
    dl_buf_init(&key1, 0);
    dl_buf_append_cur(&key1, dl_buf_cur(&it.key));
    CHECK_INT(from_ddb((const char *)wire1.data, &idn), DL_OK);
    CHECK(dl_cursor_eq(dl_buf_cur(&wire1), dl_buf_cur(&it.wire)));
    CHECK_INT(it.size, size1);
    CHECK(dl_cursor_eq(dl_buf_cur(&key1), dl_buf_cur(&it.key)));
    dl_buf_free(&key1);
    dl_buf_free(&wire1);

    /* depth counts AttributeValues, not JSON objects: 31 L around a scalar is fine */
    char deep[1024];
    int o = sprintf(deep, "{\"x\":");
    for (int i = 0; i < 31; i++)
        o += sprintf(deep + o, "{\"L\":[");
    o += sprintf(deep + o, "{\"N\":\"1\"}");
    for (int i = 0; i < 31; i++)
        o += sprintf(deep + o, "]}");
    strcpy(deep + o, "}");
    CHECK_INT(from_ddb(deep, NULL), DL_OK);
    o = sprintf(deep, "{\"x\":");
    for (int i = 0; i < 32; i++)
        o += sprintf(deep + o, "{\"M\":{\"a\":");
    o += sprintf(deep + o, "{\"N\":\"1\"}");
    for (int i = 0; i < 32; i++)
        o += sprintf(deep + o, "}}");
    strcpy(deep + o, "}");
    CHECK_INT(from_ddb(deep, NULL), DL_ERR_INVALID);
    CHECK_STR(why.msg, "attribute 'x': nesting deeper than 32 levels");
}

static void test_ddb_json_rejections(void)
{
    struct dl_key_schema none = schema0();
    struct { const char *doc, *msg; } cases[] = {
        { "{\"a\":\"x\"}", "attribute 'a': value must be a DynamoDB JSON object such as {\"S\":\"...\"}, not a string" },
        { "{\"a\":{}}", "attribute 'a': value has no type (expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)" },
        { "{\"a\":{\"S\":\"x\",\"N\":\"1\"}}", "attribute 'a': value has 2 type keys; exactly one is allowed" },
        { "{\"a\":{\"X\":\"x\"}}", "attribute 'a': unknown type 'X' (expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)" },
        { "{\"a\":{\"s\":\"x\"}}", "attribute 'a': unknown type 's' (expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)" },
        { "{\"n\":{\"N\":5}}", "attribute 'n': N value must be a string, not a number" },
        { "{\"n\":{\"N\":\"1e400\"}}", "attribute 'n': number 1e400 is out of DynamoDB's range (1E-130 to 9.99E+125)" },
        { "{\"n\":{\"N\":\"12345678901234567890123456789012345678901\"}}",
          "attribute 'n': number has 41 significant digits; DynamoDB allows 38" },
        { "{\"n\":{\"N\":\"+1\"}}", "attribute 'n': '+1' is not a valid number: it must start with a digit or '-'" },
        { "{\"b\":{\"B\":\"!!!!\"}}", "attribute 'b': B value '!!!!' is not valid base64" },
        { "{\"b\":{\"B\":1}}", "attribute 'b': B value must be a base64 string, not a number" },
        { "{\"t\":{\"BOOL\":\"true\"}}", "attribute 't': BOOL value must be true or false, not a string" },
        { "{\"z\":{\"NULL\":false}}", "attribute 'z': NULL value must be true" },
        { "{\"z\":{\"NULL\":null}}", "attribute 'z': NULL value must be true, not null" },
        { "{\"s\":{\"SS\":[]}}", "attribute 's': SS must not be empty" },
        { "{\"s\":{\"NS\":[]}}", "attribute 's': NS must not be empty" },
        { "{\"s\":{\"BS\":[]}}", "attribute 's': BS must not be empty" },
        { "{\"s\":{\"SS\":\"a\"}}", "attribute 's': SS value must be an array of strings, not a string" },
        { "{\"s\":{\"SS\":[\"a\",1]}}", "attribute 's[1]': SS elements must be strings, not a number" },
        { "{\"s\":{\"SS\":[\"a\",\"b\",\"a\"]}}", "attribute 's': SS contains 'a' twice" },
        { "{\"s\":{\"NS\":[\"1\",\"2\",\"1.0\"]}}", "attribute 's': NS contains duplicate values '1' and '1.0'" },
        { "{\"s\":{\"NS\":[\"1\",\"01\"]}}", "attribute 's[1]': '01' is not a valid number: leading zeros are not allowed" },
        { "{\"s\":{\"BS\":[\"aGk=\",\"aGk\"]}}", "attribute 's': BS contains duplicate values 'aGk=' and 'aGk'" },
        { "{\"s\":{\"BS\":[\"aGk=\",\"a\"]}}", "attribute 's[1]': BS value 'a' is not valid base64" },
        { "{\"l\":{\"L\":{}}}", "attribute 'l': L value must be an array, not an object" },
        { "{\"m\":{\"M\":[]}}", "attribute 'm': M value must be an object, not an array" },
        { "{\"m\":{\"M\":{\"in\":{\"L\":[{\"S\":\"ok\"},{\"N\":\"01\"}]}}}}",
          "attribute 'm.in[1]': '01' is not a valid number: leading zeros are not allowed" },
        { "{\"\":{\"S\":\"x\"}}", "an attribute name is empty" },
        { "[]", "a record must be a JSON object to become an item, not an array" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK_INT(from_ddb(cases[i].doc, &none), DL_ERR_INVALID);
        CHECK_STR(why.msg, cases[i].msg);
    }
    /* empty strings inside sets are allowed; distinct sets pass */
    CHECK_INT(from_ddb("{\"s\":{\"SS\":[\"\",\"a\"]},\"n\":{\"NS\":[\"1\",\"-1\",\"10\"]}}", &none), DL_OK);
    WIRE_IS("{\"s\":{\"SS\":[\"\",\"a\"]},\"n\":{\"NS\":[\"1\",\"-1\",\"10\"]}}");
    /* s 1 + (0 + 1); n 1 + (2 + 2 + 2)  => 2 + 7 = 9 */
    CHECK_INT(it.size, 9);
}

/* One dl_item serves record after record. */
static void test_reuse(void)
{
    struct dl_key_schema s = schema1("id", 'S');
    CHECK_INT(from_json("{\"id\":\"a\",\"big\":\"0123456789012345678901234567890123456789\"}", &s), DL_OK);
    uint8_t *wire = it.wire.data;
    CHECK_INT(from_json("{\"id\":\"b\"}", &s), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"b\"}}");
    KEY_WIRE_IS("{\"id\":{\"S\":\"b\"}}");
    CHECK_STR(key_text(&it.key), "S1:b");
    CHECK_INT(it.size, 3);
    CHECK(it.wire.data == wire); /* no reallocation */
    /* a failed build followed by a good one */
    CHECK_INT(from_json("{\"x\":1}", &s), DL_ERR_INVALID);
    CHECK_INT(from_csv("id", "c", &s), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"c\"}}");
    CHECK_INT(why.code, DL_OK);
    CHECK_STR(why.msg, "");
    dl_item_reset(&it);
    CHECK_INT(it.wire.len, 0);
    CHECK_INT(it.size, 0);
}

/* ------------------------------------------------------------------ CSV, prepared header */

/* DL_TEST_QUICK=1 (tools/cross-test.sh, under emulation): fewer generated rows. */
static int quick;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
}

static size_t rndn(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static struct dl_item ref_it, fast_it;
static struct dl_pos_err ref_why, fast_why;
static long prepared_rows, prepared_ok;

/* Build the row both ways and compare everything the API promises. */
static void csv_same(const struct dl_item_csv_header *h, const struct dl_cursor *names,
                     const struct dl_cursor *values, size_t n, const struct dl_key_schema *ks, const char *what)
{
    enum dl_err a = dl_item_from_csv(&ref_it, names, values, n, ks, &ref_why);
    memset(&fast_why, 0x5a, sizeof fast_why); /* no stale state may show through */
    enum dl_err b = dl_item_from_csv_prepared(&fast_it, h, values, n, &fast_why);
    int before = test_failures;
    prepared_rows++;
    CHECK_INT(b, a);
    CHECK_INT(fast_why.code, ref_why.code);
    CHECK_INT(fast_why.offset, ref_why.offset);
    CHECK_INT(fast_why.line, ref_why.line);
    CHECK_INT(fast_why.column, ref_why.column);
    CHECK_STR(fast_why.msg, ref_why.msg);
    if (a == DL_OK && b == DL_OK) {
        prepared_ok++;
        CHECK_MEM_STR(fast_it.wire.data, fast_it.wire.len, (const char *)ref_it.wire.data);
        CHECK_INT(fast_it.wire.len, ref_it.wire.len);
        CHECK_INT(fast_it.key.len, ref_it.key.len);
        CHECK(fast_it.key.len == ref_it.key.len && memcmp(fast_it.key.data, ref_it.key.data, ref_it.key.len) == 0);
        CHECK_INT(fast_it.key_wire.len, ref_it.key_wire.len);
        CHECK(fast_it.key_wire.len == ref_it.key_wire.len &&
              memcmp(fast_it.key_wire.data, ref_it.key_wire.data, ref_it.key_wire.len) == 0);
        CHECK_INT(fast_it.size, ref_it.size);
        CHECK(!fast_it.del);
        /* the buffers keep their NUL-terminated contract */
        CHECK(fast_it.wire.data[fast_it.wire.len] == 0);
        CHECK(!fast_it.key.data || fast_it.key.data[fast_it.key.len] == 0);
        CHECK(!fast_it.key_wire.data || fast_it.key_wire.data[fast_it.key_wire.len] == 0);
    }
    if (test_failures != before && test_failures < before + 40) {
        fprintf(stderr, "  (%s) row:", what);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, " [%.*s]=[%.*s]", (int)names[i].len, (const char *)names[i].ptr, (int)values[i].len,
                    (const char *)values[i].ptr);
        fprintf(stderr, "\n  keys:");
        for (int k = 0; ks && k < ks->n; k++)
            fprintf(stderr, " %.*s:%c", (int)ks->k[k].name_len, ks->k[k].name, ks->k[k].type);
        fprintf(stderr, "\n");
    }
}

/* Names, values and key schemas from lists ("" cells allowed), compared both ways. */
static void csv_same_lists(const char *const *names, const char *const *values, size_t n,
                           const struct dl_key_schema *ks)
{
    struct dl_cursor nc[32], vc[32];
    for (size_t i = 0; i < n; i++) {
        nc[i] = dl_cursor_str(names[i]);
        vc[i] = dl_cursor_str(values[i]);
    }
    struct dl_item_csv_header *h = NULL;
    CHECK_INT(dl_item_csv_header_new(nc, n, ks, &h), DL_OK);
    if (h)
        csv_same(h, nc, vc, n, ks, values[0]);
    dl_item_csv_header_destroy(h);
}

static void test_csv_prepared_cases(void)
{
    struct dl_key_schema none = schema0(), s = schema1("id", 'S'), nk = schema1("id", 'N'), b = schema1("id", 'B');
    struct dl_key_schema sn = schema2("id", 'S', "seq", 'N'), nb = schema2("seq", 'N', "id", 'B');

    /* the wire form the decoder hands the pump */
    const char *n3[] = { "id", "seq", "name" };
    const char *v3[] = { "u1", "42", "Ann" };
    struct dl_cursor nc[3] = { dl_cursor_str("id"), dl_cursor_str("seq"), dl_cursor_str("name") };
    struct dl_cursor vc[3] = { dl_cursor_str("u1"), dl_cursor_str("42"), dl_cursor_str("Ann") };
    struct dl_item_csv_header *h = NULL;
    CHECK_INT(dl_item_csv_header_new(nc, 3, &sn, &h), DL_OK);
    CHECK_INT(dl_item_from_csv_prepared(&it, h, vc, 3, &why), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"u1\"},\"seq\":{\"N\":\"42\"},\"name\":{\"S\":\"Ann\"}}");
    KEY_WIRE_IS("{\"id\":{\"S\":\"u1\"},\"seq\":{\"N\":\"42\"}}");
    CHECK_STR(key_text(&it.key), "S2:u1|N4:42E0");
    CHECK_INT(it.size, 2 + 2 + 3 + 2 + 4 + 3);
    CHECK_INT(why.code, DL_OK);
    CHECK_STR(why.msg, "");
    /* a row of the wrong width */
    CHECK_INT(dl_item_from_csv_prepared(&it, h, vc, 2, &why), DL_ERR_INVALID);
    CHECK_STR(why.msg, "row has 2 fields, the header has 3");
    CHECK_INT(it.wire.len, 0);
    dl_item_csv_header_destroy(h);
    /* a key schema with more than two keys */
    struct dl_key_schema bad = sn;
    bad.n = 3;
    h = (struct dl_item_csv_header *)&bad;
    CHECK_INT(dl_item_csv_header_new(nc, 3, &bad, &h), DL_ERR_INVALID);
    CHECK(h == NULL);
    dl_item_csv_header_destroy(NULL);

    /* hand cases: each compared with dl_item_from_csv */
    csv_same_lists(n3, v3, 3, &sn);
    csv_same_lists(n3, v3, 3, &none);
    csv_same_lists(n3, v3, 3, NULL);
    const char *rows[][3] = {
        { "u1", "", "" },                 /* empty cells omit attributes */
        { "", "1", "x" },                 /* empty key */
        { "u1", "", "x" },                /* empty sort key */
        { "u1", "042", "x" },             /* leading zero */
        { "u1", "-0", "x" },              /* zero */
        { "u1", "0", "x" },
        { "u1", "1000", "x" },            /* trailing zeros */
        { "u1", "10000000000", "x" },
        { "u1", "-1200", "x" },
        { "u1", "1.50", "x" },            /* not an integer: the general number check */
        { "u1", "1e5", "x" },
        { "u1", "-0.0e-0", "x" },
        { "u1", "12345678901234567890123456789012345678", "x" },   /* 38 digits */
        { "u1", "123456789012345678901234567890123456789", "x" },  /* 39 */
        { "u1", "123456789012345678901234567890123456780", "x" },  /* 39, one trailing zero */
        { "u1", "1e126", "x" },
        { "u1", "abc", "x" },
        { "u1", " 42", "x" },
        { "u1", "-", "x" },
        { "u\"1", "1", "q\"uote" },       /* escapes */
        { "u\\1", "1", "back\\slash" },
        { "tab\t", "1", "line\nbreak\r\x01\x1f\x7f" },
        { "\xc3\xa9t\xc3\xa9", "1", "\xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x98\x80" }, /* unicode */
        { "u1", "1", "\xff" },            /* invalid UTF-8 */
        { "\xc3", "1", "x" },
        { "u1", "1", "ab\xc0\x80" },
        { "u1", "1", "\xed\xa0\x80" },
        { "u1", "1", "\xf4\x90\x80\x80" },
        { "u1", "1", "\xe0\x9f\xbf" },
        { "u1", "1", "\xe6\x9d" },
    };
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        csv_same_lists(n3, rows[r], 3, &sn);
        csv_same_lists(n3, rows[r], 3, &none);
        csv_same_lists(n3, rows[r], 3, &s);
        csv_same_lists(n3, rows[r], 3, &nk);
        csv_same_lists(n3, rows[r], 3, &b);
        csv_same_lists(n3, rows[r], 3, &nb);
    }
    /* headers dl_item_from_csv takes apart: repeated, empty and invalid names */
    const char *dup[] = { "id", "x", "x" }, *empty[] = { "id", "", "x" }, *inval[] = { "id", "\xff", "x" };
    const char *dv[][3] = { { "a", "b", "c" }, { "a", "b", "" }, { "a", "", "c" }, { "", "b", "c" } };
    for (size_t r = 0; r < 4; r++) {
        csv_same_lists(dup, dv[r], 3, &s);
        csv_same_lists(empty, dv[r], 3, &s);
        csv_same_lists(inval, dv[r], 3, &none);
    }
    /* a key column named twice, a key that is no column, a key type that does not exist */
    const char *kk[] = { "id", "id", "x" };
    csv_same_lists(kk, dv[0], 3, &s);
    csv_same_lists(kk, dv[2], 3, &s);
    struct dl_key_schema other = schema1("pk", 'S'), odd = schema1("id", 'X');
    csv_same_lists(n3, v3, 3, &other);
    csv_same_lists(n3, v3, 3, &odd);
    /* no columns at all */
    CHECK_INT(dl_item_csv_header_new(NULL, 0, &none, &h), DL_OK);
    csv_same(h, NULL, NULL, 0, &none, "no columns");
    dl_item_csv_header_destroy(h);
    CHECK_INT(dl_item_csv_header_new(NULL, 0, &s, &h), DL_OK);
    csv_same(h, NULL, NULL, 0, &s, "no columns, a key");
    dl_item_csv_header_destroy(h);
}

/* Every byte pair after a high byte, and the boundary cases of 3- and 4-byte sequences, at
 * shifting offsets in short and long cells; every ASCII byte at every offset of a 20-byte cell:
 * the fast path's UTF-8 and escape verdicts against dl_item_from_csv's. */
static void test_csv_prepared_bytes(void)
{
    struct dl_key_schema none = schema0();
    struct dl_cursor names[2] = { dl_cursor_str("id"), dl_cursor_str("v") };
    struct dl_item_csv_header *h = NULL;
    CHECK_INT(dl_item_csv_header_new(names, 2, &none, &h), DL_OK);
    if (!h)
        return;
    uint8_t cell[32];
    struct dl_cursor values[2] = { dl_cursor_str("x"), dl_cursor_of(cell, 0) };
    size_t step = quick ? 7 : 1, rows = 0;
    for (unsigned b0 = 0x80; b0 < 0x100; b0++) {
        for (unsigned b1 = 0; b1 < 0x100; b1 += step, rows++) {
            size_t len = rows % 3 == 0 ? 5 : rows % 3 == 1 ? 11 : 23, at = rows % (len - 1);
            memset(cell, 'a', sizeof cell);
            cell[at] = (uint8_t)b0;
            cell[at + 1] = (uint8_t)b1;
            values[1] = dl_cursor_of(cell, len);
            csv_same(h, names, values, 2, &none, "byte pairs");
        }
    }
    static const uint8_t second[] = { 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0 };
    static const uint8_t cont[] = { 0x7F, 0x80, 0xBF, 0xC0 };
    for (unsigned lead = 0xE0; lead < 0xF8; lead++)
        for (size_t a = 0; a < sizeof second; a++)
            for (size_t b = 0; b < sizeof cont; b++)
                for (size_t c = 0; c < sizeof cont; c++, rows++) {
                    size_t len = 4 + rows % 21, at = rows % (len - 3);
                    memset(cell, 'b', sizeof cell);
                    cell[at] = (uint8_t)lead;
                    cell[at + 1] = second[a];
                    cell[at + 2] = cont[b];
                    cell[at + 3] = cont[c];
                    values[1] = dl_cursor_of(cell, len);
                    csv_same(h, names, values, 2, &none, "3- and 4-byte sequences");
                    values[1] = dl_cursor_of(cell + at, 3); /* cut short at the end */
                    csv_same(h, names, values, 2, &none, "cut sequences");
                }
    for (unsigned c = 0; c < 0x80; c++)
        for (size_t at = 0; at < 20; at++) {
            memset(cell, 'c', sizeof cell);
            cell[at] = (uint8_t)c;
            cell[(at + 7) % 20] = (uint8_t)(c ^ 0x20);
            values[1] = dl_cursor_of(cell, 20);
            csv_same(h, names, values, 2, &none, "ASCII bytes");
            values[1] = dl_cursor_of(cell, at + 1);
            csv_same(h, names, values, 2, &none, "ASCII bytes, short");
        }
    dl_item_csv_header_destroy(h);
}

/* Random cells of every kind the fast path distinguishes; kind 'N' makes mostly numbers,
 * kind 'S' mostly valid text (for key columns), 0 anything. */
static bool gen_plain; /* this header's rows: only plain text and integers */

static size_t gen_cell(uint8_t *o, size_t room, char kind)
{
    static const char *const pieces[] = {
        "a", "Zq", "hello", "x-y", "2023-01-05", "1234.56", "0", "-0", "7", "42", "-17", "1000", "007",
        "1.50", "1e5", "-2.5E-3", "1e999", "12345678901234567890123456789012345678",
        "123456789012345678901234567890123456789", "\"", "\\", "\n", "\r", "\t", "\x01", "\x1f", "\x7f",
        " ", ",", "\xc3\xa9", "\xe6\x9d\xb1", "\xf0\x9f\x98\x80", "\xc3\xa9t\xc3\xa9",
    };
    static const char *const invalid[] = {
        "\xff", "\x80", "\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe0\x80\x80", "\xe6\x9d", "\xc3",
    };
    size_t k = rndn(100), len = 0;
    if (gen_plain)
        k = rndn(65);
    if (kind == 'N' && rndn(10))
        k = 45 + rndn(20); /* an integer */
    else if (kind == 'S' && rndn(10))
        k = 12 + rndn(33); /* plain text */
    if (k < 12)
        return 0; /* empty */
    if (k < 45) { /* plain ASCII of any length up to 40 */
        len = 1 + rndn(40);
        for (size_t i = 0; i < len; i++)
            o[i] = (uint8_t)("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 -_.:/"[rndn(52)]);
        return len;
    }
    if (k < 65) { /* integers, usual and odd */
        size_t digits = 1 + rndn(k < 60 ? 12 : 45);
        if (rndn(4) == 0)
            o[len++] = '-';
        for (size_t i = 0; i < digits; i++)
            o[len++] = (uint8_t)('0' + (i == 0 && rndn(10) ? 1 + rndn(9) : rndn(10)));
        size_t zeros = rndn(4) == 0 ? rndn(15) : 0;
        for (size_t i = 0; i < zeros && len < 60; i++)
            o[len++] = '0';
        return len;
    }
    if (k < 97) { /* pieces stuck together: escapes, unicode, numbers; now and then invalid UTF-8 */
        size_t m = 1 + rndn(5);
        for (size_t j = 0; j < m; j++) {
            const char *p = rndn(12) ? pieces[rndn(sizeof pieces / sizeof pieces[0])]
                                     : invalid[rndn(sizeof invalid / sizeof invalid[0])];
            size_t pl = strlen(p);
            if (len + pl > 120)
                break;
            memcpy(o + len, p, pl);
            len += pl;
        }
        return len;
    }
    /* long: past the key limits, sometimes past the item limit */
    len = k < 99 || rndn(4) ? 17 + rndn(3000) : rndn(3) ? 100000 + rndn(150000) : 300000 + rndn(150000);
    if (len > room)
        len = room;
    uint8_t c = (uint8_t)"abcXYZ01\"\xc3"[rndn(10)];
    for (size_t i = 0; i < len; i++)
        o[i] = (uint8_t)('a' + i % 26);
    if (rndn(3) == 0)
        o[rndn(len)] = c;
    if (c == 0xc3 && len > 1) { /* a valid 2-byte character, or a cut one at the end */
        o[len - 2] = 0xc3;
        o[len - 1] = rndn(2) ? 0xa9 : 'x';
    }
    return len;
}

static void test_csv_prepared_random(void)
{
    static const char *const pool[] = {
        "id", "seq", "pk", "sk", "a", "name", "na\"me", "back\\slash", "tab\tname", "\xc3\xa9", "\xe6\x9d\xb1",
        "ctl\x01", "col with spaces", "a_rather_long_column_name_that_takes_more_than_thirty_two_bytes",
        "", "\xff",
    };
    const size_t npool = sizeof pool / sizeof pool[0];
    size_t headers = quick ? 30 : 240, rows_per = quick ? 100 : 500;
    size_t cap = 1000000;
    uint8_t *cells = malloc(cap);
    CHECK(cells != NULL);
    for (size_t hi = 0; hi < headers && cells; hi++) {
        /* the header: names from the pool, numbered so they rarely repeat by accident */
        size_t n = 1 + rndn(hi % 3 ? 14 : 40);
        struct dl_cursor names[40];
        char namebuf[40][96];
        for (size_t i = 0; i < n; i++) {
            const char *p = pool[rndn(npool)];
            size_t r = rndn(20);
            if (hi % 8 == 7 && r < 2 && i > 0) /* some headers dl_item_from_csv takes apart */
                snprintf(namebuf[i], sizeof namebuf[i], "%s", rndn(2) ? namebuf[rndn(i)] : p); /* a repeat */
            else if (r < 17 || !*p || strcmp(p, "\xff") == 0)
                snprintf(namebuf[i], sizeof namebuf[i], "%s%zu", *p && strcmp(p, "\xff") ? p : "c", i);
            else
                snprintf(namebuf[i], sizeof namebuf[i], "%s", p);
            names[i] = dl_cursor_str(namebuf[i]);
        }
        /* the key schema: usually columns of this header, of any type */
        struct dl_key_schema ks = schema0();
        int nk = (int)rndn(3);
        char kn[2][96];
        for (int k = 0; k < nk; k++) {
            if (rndn(12))
                snprintf(kn[k], sizeof kn[k], "%s", namebuf[rndn(n)]);
            else
                snprintf(kn[k], sizeof kn[k], "absent%d", k);
            ks.k[k].name = kn[k];
            ks.k[k].name_len = strlen(kn[k]);
            ks.k[k].type = "SSNNB"[rndn(5)];
        }
        ks.n = nk;
        if (nk == 2 && ks.k[0].name_len == ks.k[1].name_len &&
            memcmp(ks.k[0].name, ks.k[1].name, ks.k[0].name_len) == 0)
            ks.n = 1;
        struct dl_key_schema *ksp = nk == 0 && rndn(2) ? NULL : &ks;
        struct dl_item_csv_header *h = NULL;
        CHECK_INT(dl_item_csv_header_new(names, n, ksp, &h), DL_OK);
        if (!h)
            continue;
        gen_plain = hi % 3 == 1;
        for (size_t ri = 0; ri < rows_per; ri++) {
            /* the row: one buffer, delimiter-separated (the reader's unquoted records), or each
             * value in an allocation of its own (quoted fields, reader scratch); exactly sized,
             * so reading past a value's end is caught under ASan */
            struct dl_cursor values[40];
            size_t lens[40], total = 0;
            for (size_t i = 0; i < n; i++) {
                size_t room = cap - total; /* gen_cell writes up to 200 bytes, or a long cell of up to room */
                char kind = 0;
                for (int k = 0; k < ks.n; k++)
                    if (names[i].len == ks.k[k].name_len && memcmp(names[i].ptr, ks.k[k].name, names[i].len) == 0)
                        kind = ks.k[k].type == 'N' ? 'N' : 'S';
                room = room < 1200 ? 0 : room - 1000 > 450000 ? 450000 : room - 1000;
                lens[i] = room ? gen_cell(cells + total, room, kind) : 0;
                total += lens[i];
            }
            uint8_t delim = (uint8_t)",,,,\t;\"\xc3"[rndn(8)];
            int layout = (int)rndn(4); /* 0, 1: one buffer; 2: own allocations; 3: mixed */
            uint8_t *one = malloc(total + n);
            uint8_t *own[40] = { 0 };
            size_t at = 0, src = 0;
            for (size_t i = 0; i < n; i++) {
                if (layout >= 2 && (layout == 2 || rndn(3) == 0)) {
                    own[i] = malloc(lens[i] ? lens[i] : 1);
                    memcpy(own[i], cells + src, lens[i]);
                    values[i] = dl_cursor_of(own[i], lens[i]);
                } else {
                    memcpy(one + at, cells + src, lens[i]);
                    values[i] = dl_cursor_of(one + at, lens[i]);
                    at += lens[i];
                    if (i + 1 < n)
                        one[at++] = delim;
                }
                src += lens[i];
            }
            /* the last value ends the buffer: a copy exactly that long, values moved into it */
            uint8_t *exact = malloc(at ? at : 1);
            memcpy(exact, one, at);
            for (size_t i = 0; i < n; i++)
                if (!own[i])
                    values[i].ptr = exact + (values[i].ptr - one);
            free(one);
            csv_same(h, names, values, n, ksp, "random");
            for (size_t i = 0; i < n; i++)
                free(own[i]);
            free(exact);
        }
        dl_item_csv_header_destroy(h);
    }
    free(cells);
    /* enough of the rows became items for the comparison to mean something */
    CHECK(prepared_ok > prepared_rows / 5);
    fprintf(stderr, "prepared CSV rows compared: %ld (%ld items, %ld rejected)\n", prepared_rows, prepared_ok,
            prepared_rows - prepared_ok);
}

int main(void)
{
    const char *q = getenv("DL_TEST_QUICK");
    quick = q && *q && strcmp(q, "0") != 0;
    arena = dl_arena_new(0, 0);
    dl_item_init(&it);
    dl_item_init(&ref_it);
    dl_item_init(&fast_it);
    TEST_RUN(test_scalars);
    TEST_RUN(test_nested);
    TEST_RUN(test_strings_and_names);
    TEST_RUN(test_size_limit);
    TEST_RUN(test_depth);
    TEST_RUN(test_rejections);
    TEST_RUN(test_keys_json);
    TEST_RUN(test_keys_csv);
    TEST_RUN(test_keys_ddb);
    TEST_RUN(test_key_equality_across_builders);
    TEST_RUN(test_duplicates);
    TEST_RUN(test_ddb_json);
    TEST_RUN(test_ddb_json_rejections);
    TEST_RUN(test_reuse);
    TEST_RUN(test_csv_prepared_cases);
    TEST_RUN(test_csv_prepared_bytes);
    TEST_RUN(test_csv_prepared_random);
    dl_item_free(&ref_it);
    dl_item_free(&fast_it);
    dl_item_free(&it);
    dl_arena_destroy(arena);
    return test_summary();
}
