/* Per-record transforms (src/item/transform.c): spec compilation and its errors, every option,
 * the order of operations, key conversion, Deletes, --key-seq and the errors' columns. Every
 * check compares the exact wire bytes or the exact message. */
#include <regex.h>
#include <stdlib.h>
#include <time.h>

#include "core/arena.h"
#include "core/json.h"
#include "item/item.h"
#include "item/transform.h"
#include "test.h"
#include "test_keys.h"

static struct dl_arena *arena;
static struct dl_item it;
static struct dl_pos_err why;
static struct dl_transform *xf;
static char xerr[256];

#define WIRE_IS(s) CHECK_MEM_STR(it.wire.data, it.wire.len, s)
#define KEY_WIRE_IS(s) CHECK_MEM_STR(it.key_wire.data, it.key_wire.len, s)

/* Option lists inside a designated initializer: { SET("a=b", "c=d"), TYPES("x=N") } */
#define NARGS(...) (sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *))
#define SET(...) .set = (const char *const[]){ __VA_ARGS__ }, .nset = NARGS(__VA_ARGS__)
#define RENAME(...) .rename = (const char *const[]){ __VA_ARGS__ }, .nrename = NARGS(__VA_ARGS__)
#define DROP(...) .drop = (const char *const[]){ __VA_ARGS__ }, .ndrop = NARGS(__VA_ARGS__)
#define TYPES(...) .types = (const char *const[]){ __VA_ARGS__ }, .ntypes = NARGS(__VA_ARGS__)

static enum dl_err compile(struct dl_transform_spec sp)
{
    dl_transform_free(xf);
    xf = NULL;
    xerr[0] = 0;
    return dl_transform_new(&sp, &xf, xerr, sizeof xerr);
}

#define SPEC_OK(...)                                                                      \
    do {                                                                                  \
        enum dl_err e_ = compile((struct dl_transform_spec){ __VA_ARGS__ });              \
        CHECK_INT(e_, DL_OK);                                                             \
        if (e_)                                                                           \
            fprintf(stderr, "  spec error: %s\n", xerr);                                  \
    } while (0)

#define SPEC_ERR(text, ...)                                                               \
    do {                                                                                  \
        CHECK_INT(compile((struct dl_transform_spec){ __VA_ARGS__ }), DL_ERR_INVALID);    \
        CHECK(xf == NULL);                                                                \
        CHECK_STR(xerr, text);                                                            \
    } while (0)

/* --key-seq: a counter and how often it was asked */
static uint64_t seq_next;
static int seq_calls;
static enum dl_err seq_fail;

static enum dl_err next_seq(void *ctx, uint64_t *out)
{
    (void)ctx;
    if (seq_fail)
        return seq_fail;
    seq_calls++;
    *out = seq_next++;
    return DL_OK;
}

static struct dl_cursor names[4096], values[4096];
static size_t ncols;

static struct dl_transform_ctx ctx_for(bool csv)
{
    struct dl_transform_ctx c = {
        .bucket = "archive", .key = "2024/orders.csv", .etag = "9b2cf535f27731c974343645a3985328",
        .line = 18204, .record = 18203, .csv = csv,
        .columns = csv ? names : NULL, .ncolumns = csv ? ncols : 0,
        .next_seq = next_seq, .seq_ctx = NULL,
    };
    return c;
}

/* Split s on '|' into out (cells may hold ','). */
static size_t split(const char *s, struct dl_cursor *out)
{
    size_t n = 0;
    for (const char *p = s;;) {
        const char *c = strchr(p, '|');
        out[n++] = dl_cursor_of(p, c ? (size_t)(c - p) : strlen(p));
        if (!c)
            break;
        p = c + 1;
    }
    return n;
}

/* A CSV row ("a|b|c" header, "1||3" cells) built as the decoder builds it (no key schema),
 * then transformed under ks. */
static enum dl_err run_csv(const char *hdr, const char *row, const struct dl_key_schema *ks)
{
    static const struct dl_key_schema none;
    ncols = split(hdr, names);
    size_t nv = split(row, values);
    CHECK_INT(nv, ncols);
    enum dl_err e = dl_item_from_csv(&it, names, values, ncols, &none, &why);
    CHECK_INT(e, DL_OK);
    if (e)
        return e;
    struct dl_transform_ctx c = ctx_for(true);
    return dl_transform_apply(xf, &it, ks, &c, &why);
}

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

static enum dl_err run_json(const char *doc, const struct dl_key_schema *ks)
{
    static const struct dl_key_schema none;
    const struct dl_json *j = J(doc);
    if (!j)
        return DL_ERR_PARSE;
    enum dl_err e = dl_item_from_json(&it, j, &none, &why);
    CHECK_INT(e, DL_OK);
    if (e)
        return e;
    struct dl_transform_ctx c = ctx_for(false);
    return dl_transform_apply(xf, &it, ks, &c, &why);
}

static enum dl_err run_ddb(const char *doc, const struct dl_key_schema *ks)
{
    static const struct dl_key_schema none;
    const struct dl_json *j = J(doc);
    if (!j)
        return DL_ERR_PARSE;
    enum dl_err e = dl_item_from_ddb_json(&it, j, &none, &why);
    CHECK_INT(e, DL_OK);
    if (e)
        return e;
    struct dl_transform_ctx c = ctx_for(false);
    return dl_transform_apply(xf, &it, ks, &c, &why);
}

/* An expected rejection: code, message and column. */
#define REJECTED(call, code, text, col)                                                   \
    do {                                                                                  \
        CHECK_INT(call, code);                                                            \
        CHECK_STR(why.msg, text);                                                         \
        CHECK_INT(why.column, col);                                                       \
    } while (0)

/* ------------------------------------------------------------------ the spec */

static void test_spec_errors(void)
{
    SPEC_ERR("--set 'x': expected NAME=TEMPLATE[:TYPE]", SET("x"));
    SPEC_ERR("--set '=abc': an attribute name is empty", SET("=abc"));
    SPEC_ERR("--set 'ts={now}:N': unknown placeholder '{now}' (use {bucket}, {key}, {etag}, {line}, {record}, "
             "{now_ms}, {now_iso}, {uuid}; {{ and }} for literal braces)", SET("ts={now}:N"));
    SPEC_ERR("--set 'x={key': '{' without a matching '}' (write {{ for a literal brace)", SET("x={key"));
    SPEC_ERR("--set 'x=a}b': '}' without a '{' (write }} for a literal brace)", SET("x=a}b"));
    SPEC_ERR("--set 'x={}': unknown placeholder '{}' (use {bucket}, {key}, {etag}, {line}, {record}, {now_ms}, "
             "{now_iso}, {uuid}; {{ and }} for literal braces)", SET("x={}"));
    SPEC_ERR("--set: attribute 'x' is set twice", SET("x=1", "x=2"));
    SPEC_ERR("--set 'n=abc:N': 'abc' is not a number", SET("n=abc:N"));
    SPEC_ERR("--set 'n=007:N': '007' is not a valid number: leading zeros are not allowed", SET("n=007:N"));
    SPEC_ERR("--set 'n=:N': '' is not a number", SET("n=:N"));
    SPEC_ERR("--set 'b=maybe:BOOL': 'maybe' is not a boolean (true, false, 1 or 0)", SET("b=maybe:BOOL"));
    SPEC_ERR("--set 's=?': the template is not valid UTF-8", SET("s=\xff"));
    SPEC_ERR("--types 'price': 'price' is not NAME=TYPE", TYPES("price"));
    SPEC_ERR("--types 'price=NUM': unknown type 'NUM' (use S, N, BOOL, NULL, B, SS, NS, BS, L or M)",
             TYPES("price=NUM"));
    SPEC_ERR("--types 'a=N,,b=S': '' is not NAME=TYPE", TYPES("a=N,,b=S"));
    SPEC_ERR("--types '=N': an attribute name is empty", TYPES("=N"));
    SPEC_ERR("--types: attribute 'a' is given a type twice", TYPES("a=N", "b=S,a=BOOL"));
    SPEC_ERR("--rename 'ab': expected OLD=NEW", RENAME("ab"));
    SPEC_ERR("--rename 'a=': an attribute name is empty", RENAME("a="));
    SPEC_ERR("--rename: attribute 'a' is renamed twice", RENAME("a=b", "a=c"));
    SPEC_ERR("--rename: 'a' and 'b' are both renamed to 'c'", RENAME("a=c", "b=c"));
    SPEC_ERR("--drop 'a,,b': an attribute name is empty", DROP("a,,b"));
    SPEC_ERR("--drop '': an attribute name is empty", DROP(""));
    SPEC_ERR("--op-map needs --op-field NAME", .op_map = "I=put");
    SPEC_ERR("--op-field '': an attribute name is empty", .op_field = "");
    SPEC_ERR("--op-map 'I,U=upsert D=delete': 'upsert' is not an operation (use put or delete)", .op_field = "op",
             .op_map = "I,U=upsert D=delete");
    SPEC_ERR("--op-map 'I,U D=delete': 'I,U' is not VALUE[,VALUE]=put|delete", .op_field = "op",
             .op_map = "I,U D=delete");
    SPEC_ERR("--op-map 'I,,U=put': an empty value in 'I,,U=put'", .op_field = "op", .op_map = "I,,U=put");
    SPEC_ERR("--op-map 'I=put i=delete': 'i' is mapped to both put and delete", .op_field = "op",
             .op_map = "I=put i=delete");
    SPEC_ERR("--op-map '  ' maps no value to an operation", .op_field = "op", .op_map = "  ");
    SPEC_ERR("--key-seq '': an attribute name is empty", .key_seq = "");
    SPEC_ERR("--list-separator must be an ASCII character", .list_sep = (char)0xC3, TYPES("a=SS"));
}

static void test_spec_ok(void)
{
    SPEC_OK(0);
    CHECK(dl_transform_is_empty(xf));
    SPEC_OK(.list_sep = ';');
    CHECK(dl_transform_is_empty(xf));
    CHECK(dl_transform_is_empty(NULL));
    SPEC_OK(.infer_types = true);
    CHECK(!dl_transform_is_empty(xf));
    SPEC_OK(SET("a=b"));
    CHECK(!dl_transform_is_empty(xf));
    SPEC_OK(DROP("a"));
    CHECK(!dl_transform_is_empty(xf));
    SPEC_OK(.op_field = "op");
    CHECK(!dl_transform_is_empty(xf));
    SPEC_OK(.key_seq = "id");
    CHECK(!dl_transform_is_empty(xf));
    /* the type names of --types in any case; a name may hold '=' (the last one splits) */
    SPEC_OK(TYPES("a=n,b=bool", "c=Ss", "x=y=N"));
    SPEC_OK(SET("n=42:N", "b=TRUE:BOOL", "z=0:BOOL", "s=12:S"));
    SPEC_OK(.op_field = "op", .op_map = "  I,U=PUT\tD=Delete  i=put ");
}

/* ------------------------------------------------------------------ --set */

static void test_set_templates(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(SET("src=s3://{bucket}/{key}", "tag={etag}", "ln={line}:N", "rec={record}:N", "lit={{x}}:{{{key}}}",
                "colon=a:b:c", "typed=12:S", "ok=true:BOOL", "no=0:BOOL", "empty="));
    CHECK_INT(run_json("{\"a\":1}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"N\":\"1\"},\"src\":{\"S\":\"s3://archive/2024/orders.csv\"},"
            "\"tag\":{\"S\":\"9b2cf535f27731c974343645a3985328\"},\"ln\":{\"N\":\"18204\"},"
            "\"rec\":{\"N\":\"18203\"},\"lit\":{\"S\":\"{x}:{2024/orders.csv}\"},\"colon\":{\"S\":\"a:b:c\"},"
            "\"typed\":{\"S\":\"12\"},\"ok\":{\"BOOL\":true},\"no\":{\"BOOL\":false},\"empty\":{\"S\":\"\"}}");
    CHECK_STR(why.msg, "");
    CHECK(!it.del);

    /* --set on an existing attribute replaces its value where it stands */
    SPEC_OK(SET("b=new"));
    CHECK_INT(run_json("{\"a\":1,\"b\":[1,2],\"c\":3}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"N\":\"1\"},\"b\":{\"S\":\"new\"},\"c\":{\"N\":\"3\"}}");

    /* a value that does not fit its type is found per record */
    SPEC_OK(SET("n={key}:N"));
    REJECTED(run_json("{\"a\":1}", &ks), DL_ERR_INVALID, "attribute 'n': --set value: '2024/orders.csv' is not a valid number: unexpected '/'", 0);
    SPEC_OK(SET("flag={bucket}:BOOL"));
    REJECTED(run_json("{\"a\":1}", &ks), DL_ERR_INVALID,
             "attribute 'flag': --set value 'archive' is not a boolean (true, false, 1 or 0)", 0);

    /* NULL context strings are taken as "" */
    SPEC_OK(SET("k=[{bucket}|{key}|{etag}]"));
    {
        const struct dl_json *j = J("{\"a\":1}");
        static const struct dl_key_schema none;
        CHECK_INT(dl_item_from_json(&it, j, &none, &why), DL_OK);
        struct dl_transform_ctx c = { 0 };
        CHECK_INT(dl_transform_apply(xf, &it, &ks, &c, &why), DL_OK);
        WIRE_IS("{\"a\":{\"N\":\"1\"},\"k\":{\"S\":\"[||]\"}}");
    }
    /* a key that is not UTF-8 (a local path) cannot go into an S */
    {
        const struct dl_json *j = J("{\"a\":1}");
        static const struct dl_key_schema none;
        CHECK_INT(dl_item_from_json(&it, j, &none, &why), DL_OK);
        struct dl_transform_ctx c = ctx_for(false);
        c.key = "bad\xff";
        REJECTED(dl_transform_apply(xf, &it, &ks, &c, &why), DL_ERR_INVALID,
                 "attribute 'k': the --set value is not valid UTF-8 (byte 13)", 0);
    }
}

static void test_set_clock_and_uuid(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(SET("ms={now_ms}:N", "iso={now_iso}", "id={uuid}", "id2={uuid}"));
    struct timespec t0, t1;
    clock_gettime(CLOCK_REALTIME, &t0);
    CHECK_INT(run_json("{}", &ks), DL_OK);
    clock_gettime(CLOCK_REALTIME, &t1);
    const struct dl_json *w = J((const char *)it.wire.data);
    if (!w)
        return;
    struct dl_cursor ms, iso, id, id2;
    CHECK(dl_json_get_str(dl_json_get(w, "ms"), "N", &ms));
    CHECK(dl_json_get_str(dl_json_get(w, "iso"), "S", &iso));
    CHECK(dl_json_get_str(dl_json_get(w, "id"), "S", &id));
    CHECK(dl_json_get_str(dl_json_get(w, "id2"), "S", &id2));
    char buf[64];
    snprintf(buf, sizeof buf, "%.*s", (int)ms.len, (const char *)ms.ptr);
    long long v = strtoll(buf, NULL, 10);
    long long lo = (long long)t0.tv_sec * 1000 + t0.tv_nsec / 1000000;
    long long hi = (long long)t1.tv_sec * 1000 + t1.tv_nsec / 1000000;
    CHECK(v >= lo && v <= hi);
    /* {now_iso} is the same instant as {now_ms}, in UTC with milliseconds */
    time_t sec = (time_t)(v / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    char want[64];
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, v % 1000);
    CHECK_MEM_STR(iso.ptr, iso.len, want);
    /* {uuid}: a random version 4 UUID, one per record */
    regex_t re;
    CHECK_INT(regcomp(&re, "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$", REG_EXTENDED), 0);
    snprintf(buf, sizeof buf, "%.*s", (int)id.len, (const char *)id.ptr);
    CHECK_INT(regexec(&re, buf, 0, NULL, 0), 0);
    regfree(&re);
    CHECK(dl_cursor_eq(id, id2));
    char first[64];
    snprintf(first, sizeof first, "%s", buf);
    CHECK_INT(run_json("{}", &ks), DL_OK);
    w = J((const char *)it.wire.data);
    CHECK(w && dl_json_get_str(dl_json_get(w, "id"), "S", &id));
    CHECK(!dl_cursor_eq_str(id, first));
}

/* ------------------------------------------------------------------ --rename, --drop */

static void test_rename_drop(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(RENAME("old=new"));
    CHECK_INT(run_json("{\"a\":1,\"old\":\"x\",\"z\":2}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"N\":\"1\"},\"new\":{\"S\":\"x\"},\"z\":{\"N\":\"2\"}}");
    /* nothing to rename: nothing happens */
    CHECK_INT(run_json("{\"a\":1}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"N\":\"1\"}}");
    /* onto an existing attribute: the renamed one wins, at its own place */
    CHECK_INT(run_json("{\"new\":\"was here\",\"old\":\"x\",\"z\":2}", &ks), DL_OK);
    WIRE_IS("{\"new\":{\"S\":\"x\"},\"z\":{\"N\":\"2\"}}");
    /* renames apply together: a swap works, a chain does not cascade */
    SPEC_OK(RENAME("a=b", "b=a"));
    CHECK_INT(run_json("{\"a\":1,\"b\":2}", &ks), DL_OK);
    WIRE_IS("{\"b\":{\"N\":\"1\"},\"a\":{\"N\":\"2\"}}");
    SPEC_OK(RENAME("a=b", "b=c"));
    CHECK_INT(run_json("{\"a\":1,\"b\":2}", &ks), DL_OK);
    WIRE_IS("{\"b\":{\"N\":\"1\"},\"c\":{\"N\":\"2\"}}");
    /* names with spaces, unicode, commas */
    SPEC_OK(RENAME("first name=given, name", "Größe=size"));
    CHECK_INT(run_json("{\"first name\":\"Ada\",\"Größe\":3}", &ks), DL_OK);
    WIRE_IS("{\"given, name\":{\"S\":\"Ada\"},\"size\":{\"N\":\"3\"}}");

    SPEC_OK(DROP("junk", "a,b"));
    CHECK_INT(run_json("{\"a\":1,\"keep\":2,\"b\":3,\"junk\":{\"x\":1}}", &ks), DL_OK);
    WIRE_IS("{\"keep\":{\"N\":\"2\"}}");
    /* dropping what is not there is fine; dropping everything leaves an empty item */
    CHECK_INT(run_json("{\"keep\":2}", &ks), DL_OK);
    WIRE_IS("{\"keep\":{\"N\":\"2\"}}");
    CHECK_INT(run_json("{\"a\":1}", &ks), DL_OK);
    WIRE_IS("{}");
    CHECK_INT(it.size, 0);
}

/* ------------------------------------------------------------------ --types */

static void test_types_scalars(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(TYPES("price=N,active=BOOL", "gone=NULL,blob=B", "s=S"));
    CHECK_INT(run_csv("id|price|active|gone|blob|s", "a1|12.50|TRUE|null|aGk=|x", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"a1\"},\"price\":{\"N\":\"12.50\"},\"active\":{\"BOOL\":true},"
            "\"gone\":{\"NULL\":true},\"blob\":{\"B\":\"aGk=\"},\"s\":{\"S\":\"x\"}}");
    CHECK_INT(it.size, 2 + 2 + 5 + 3 + 6 + 1 + 4 + 1 + 4 + 2 + 1 + 1);
    /* BOOL spellings; base64 without padding is written back with it; an empty NULL cell
     * gives NULL (an empty cell would otherwise leave the attribute out) */
    CHECK_INT(run_csv("id|price|active|gone|blob|s", "a1|-1e5|0||aGk|", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"a1\"},\"price\":{\"N\":\"-1e5\"},\"active\":{\"BOOL\":false},"
            "\"blob\":{\"B\":\"aGk=\"},\"gone\":{\"NULL\":true}}");
    CHECK_INT(run_csv("id|price|active|gone|blob|s", "a1|0|False|NULL||", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"a1\"},\"price\":{\"N\":\"0\"},\"active\":{\"BOOL\":false},\"gone\":{\"NULL\":true}}");
    CHECK_INT(run_csv("id|price|active|gone|blob|s", "a1||1|||", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"a1\"},\"active\":{\"BOOL\":true},\"gone\":{\"NULL\":true}}");

    /* values that do not convert: the record is rejected, naming attribute and column */
    REJECTED(run_csv("id|price|active", "a1|abc|true", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 2): 'abc' is not a number", 2);
    REJECTED(run_csv("id|price|active", "a1|007|true", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 2): '007' is not a valid number: leading zeros are not allowed", 2);
    REJECTED(run_csv("id|price|active", "a1| 5|true", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 2): ' 5' is not a valid number: it must start with a digit or '-'", 2);
    REJECTED(run_csv("id|price|active", "a1|1e400|true", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 2): number 1e400 is out of DynamoDB's range (1E-130 to 9.99E+125)", 2);
    REJECTED(run_csv("id|price|active", "a1|123456789012345678901234567890123456789|true", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 2): number has 39 significant digits; DynamoDB allows 38", 2);
    REJECTED(run_csv("id|price|active", "a1|1|yes", &ks), DL_ERR_INVALID,
             "attribute 'active' (column 3): 'yes' is not a boolean (true, false, 1 or 0)", 3);
    REJECTED(run_csv("id|gone", "a1|none", &ks), DL_ERR_INVALID,
             "attribute 'gone' (column 2): 'none' is not null (NULL takes an empty value or null)", 2);
    REJECTED(run_csv("id|blob", "a1|a*b=", &ks), DL_ERR_INVALID,
             "attribute 'blob' (column 2): 'a*b=' is not valid base64", 2);
    /* the column is the cell's, with empty cells and repeated header names before it */
    REJECTED(run_csv("id|x|x|note|price", "a1||2|n|zz", &ks), DL_ERR_INVALID,
             "attribute 'price' (column 5): 'zz' is not a number", 5);

    /* values that are not S to begin with (JSON input) */
    SPEC_OK(TYPES("n=S,b=S,s=N,nb=BOOL,sb=BOOL,z=NULL,l=S"));
    CHECK_INT(run_json("{\"n\":1.50,\"b\":true,\"s\":\"42\",\"nb\":1,\"sb\":\"false\",\"z\":null}", &ks), DL_OK);
    WIRE_IS("{\"n\":{\"S\":\"1.50\"},\"b\":{\"S\":\"true\"},\"s\":{\"N\":\"42\"},\"nb\":{\"BOOL\":true},"
            "\"sb\":{\"BOOL\":false},\"z\":{\"NULL\":true}}");
    CHECK_INT(run_json("{\"z\":\"\"}", &ks), DL_OK);
    WIRE_IS("{\"z\":{\"NULL\":true}}");
    REJECTED(run_json("{\"l\":[1]}", &ks), DL_ERR_INVALID, "attribute 'l': a list (L) cannot be converted to S", 0);
    REJECTED(run_json("{\"nb\":2}", &ks), DL_ERR_INVALID,
             "attribute 'nb': '2' is not a boolean (true, false, 1 or 0)", 0);
    REJECTED(run_json("{\"z\":0}", &ks), DL_ERR_INVALID, "attribute 'z': a number (N) cannot be converted to NULL", 0);
    SPEC_OK(TYPES("x=N"));
    REJECTED(run_json("{\"x\":true}", &ks), DL_ERR_INVALID, "attribute 'x': a boolean (BOOL) cannot be converted to N", 0);
    REJECTED(run_json("{\"x\":null}", &ks), DL_ERR_INVALID, "attribute 'x': null (NULL) cannot be converted to N", 0);
    /* DynamoDB JSON input: B stays B, S of base64 becomes B */
    SPEC_OK(TYPES("b=B,c=B"));
    CHECK_INT(run_ddb("{\"b\":{\"B\":\"aGk=\"},\"c\":{\"S\":\"\"}}", &ks), DL_OK);
    WIRE_IS("{\"b\":{\"B\":\"aGk=\"},\"c\":{\"B\":\"\"}}");
    REJECTED(run_ddb("{\"b\":{\"N\":\"5\"}}", &ks), DL_ERR_INVALID, "attribute 'b': a number (N) cannot be converted to B", 0);
    /* --types for an attribute the record does not have: nothing */
    CHECK_INT(run_json("{\"other\":1}", &ks), DL_OK);
    WIRE_IS("{\"other\":{\"N\":\"1\"}}");
}

static void test_types_sets(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(TYPES("tags=SS,nums=NS,bins=BS"));
    CHECK_INT(run_csv("id|tags|nums|bins", "1|red,green, blue|1,2.5,-3e2|aGk=,aGVsbG8", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"1\"},\"tags\":{\"SS\":[\"red\",\"green\",\" blue\"]},"
            "\"nums\":{\"NS\":[\"1\",\"2.5\",\"-3e2\"]},\"bins\":{\"BS\":[\"aGk=\",\"aGVsbG8=\"]}}");
    CHECK_INT(run_csv("id|tags|nums|bins", "1|one|7|", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"1\"},\"tags\":{\"SS\":[\"one\"]},\"nums\":{\"NS\":[\"7\"]}}");
    REJECTED(run_csv("id|tags", "1|a,,b", &ks), DL_ERR_INVALID, "attribute 'tags' (column 2): SS element 2 of 'a,,b' is empty", 2);
    REJECTED(run_csv("id|tags", "1|a,", &ks), DL_ERR_INVALID, "attribute 'tags' (column 2): SS element 2 of 'a,' is empty", 2);
    REJECTED(run_csv("id|tags", "1|a,b,a", &ks), DL_ERR_INVALID,
             "attribute 'tags' (column 2): SS elements 1 and 3 are both 'a' (set elements must be unique)", 2);
    REJECTED(run_csv("id|nums", "1|1,x", &ks), DL_ERR_INVALID, "attribute 'nums' (column 2): NS element 2: 'x' is not a number", 2);
    REJECTED(run_csv("id|nums", "1|5,1,1.0", &ks), DL_ERR_INVALID,
             "attribute 'nums' (column 2): NS elements 2 '1' and 3 '1.0' are the same number (set elements must be unique)", 2);
    REJECTED(run_csv("id|bins", "1|aGk=,aGk", &ks), DL_ERR_INVALID,
             "attribute 'bins' (column 2): BS elements 1 'aGk=' and 2 'aGk' are the same bytes (set elements must be unique)", 2);
    REJECTED(run_csv("id|bins", "1|aGk=,!!", &ks), DL_ERR_INVALID,
             "attribute 'bins' (column 2): BS element 2: '!!' is not valid base64", 2);
    /* another separator; commas are then plain text */
    SPEC_OK(TYPES("tags=SS"), .list_sep = ';');
    CHECK_INT(run_csv("tags", "a,b;c", &ks), DL_OK);
    WIRE_IS("{\"tags\":{\"SS\":[\"a,b\",\"c\"]}}");
    /* from JSON: an empty string is an empty set; a list becomes a set */
    SPEC_OK(TYPES("tags=SS,nums=NS,bins=BS"));
    REJECTED(run_json("{\"tags\":\"\"}", &ks), DL_ERR_INVALID,
             "attribute 'tags': an empty value cannot be SS (a set needs at least one element)", 0);
    CHECK_INT(run_json("{\"tags\":[\"x\",\"\"],\"nums\":[1,\"2\"],\"bins\":[\"aGk=\"]}", &ks), DL_OK);
    WIRE_IS("{\"tags\":{\"SS\":[\"x\",\"\"]},\"nums\":{\"NS\":[\"1\",\"2\"]},\"bins\":{\"BS\":[\"aGk=\"]}}");
    REJECTED(run_json("{\"tags\":[]}", &ks), DL_ERR_INVALID,
             "attribute 'tags': an empty list cannot be SS (a set needs at least one element)", 0);
    REJECTED(run_json("{\"tags\":[\"a\",1]}", &ks), DL_ERR_INVALID,
             "attribute 'tags': list element 2 is a number (N), which cannot be in a string set (SS)", 0);
    REJECTED(run_json("{\"nums\":[1,1e0]}", &ks), DL_ERR_INVALID,
             "attribute 'nums': NS elements 1 '1' and 2 '1e0' are the same number (set elements must be unique)", 0);
    REJECTED(run_json("{\"tags\":{\"a\":1}}", &ks), DL_ERR_INVALID, "attribute 'tags': a map (M) cannot be converted to SS", 0);
    /* DynamoDB JSON sets stay as they are; B elements count for a BS */
    CHECK_INT(run_ddb("{\"tags\":{\"SS\":[\"a\"]},\"bins\":{\"L\":[{\"B\":\"aGk=\"},{\"S\":\"aA==\"}]}}", &ks), DL_OK);
    WIRE_IS("{\"tags\":{\"SS\":[\"a\"]},\"bins\":{\"BS\":[\"aGk=\",\"aA==\"]}}");
}

static void test_types_json_cells(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(TYPES("l=L,m=M"));
    CHECK_INT(run_csv("id|l|m", "1|[1,\"a\",true,null,[],{\"x\":1.50}]|{\"k\":{\"deep\":[false]},\"k\":2}", &ks), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"1\"},\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"},{\"BOOL\":true},{\"NULL\":true},"
            "{\"L\":[]},{\"M\":{\"x\":{\"N\":\"1.50\"}}}]},\"m\":{\"M\":{\"k\":{\"N\":\"2\"}}}}");
    REJECTED(run_csv("id|l", "1|{\"a\":1}", &ks), DL_ERR_INVALID, "attribute 'l' (column 2): L needs a JSON array, not object", 2);
    REJECTED(run_csv("id|m", "1|[1]", &ks), DL_ERR_INVALID, "attribute 'm' (column 2): M needs a JSON object, not array", 2);
    REJECTED(run_csv("id|l", "1|[1,", &ks), DL_ERR_INVALID,
             "attribute 'l' (column 2): '[1,' is not valid JSON (unexpected end of input at byte 4)", 2);
    /* what the builder rejects inside keeps the builder's message, with the column */
    REJECTED(run_csv("id|note|m", "1|x|{\"a\":[1,1e999]}", &ks), DL_ERR_INVALID,
             "attribute 'm.a[1]': number 1e999 is out of DynamoDB's range (1E-130 to 9.99E+125)", 3);
    /* L/M from JSON input stay as they are */
    CHECK_INT(run_json("{\"l\":[1],\"m\":{}}", &ks), DL_OK);
    WIRE_IS("{\"l\":{\"L\":[{\"N\":\"1\"}]},\"m\":{\"M\":{}}}");
}

/* ------------------------------------------------------------------ --infer-types */

static void test_infer(void)
{
    struct dl_key_schema ks = schema0();
    SPEC_OK(.infer_types = true, TYPES("zip=N,code=S"));
    CHECK_INT(run_csv("a|b|c|d|e|f|g|h|i|j|k|l",
                      "42|-0.5|1e3|007|+1|1.|.5|true|True|false|1e400|123456789012345678901234567890123456789", &ks),
              DL_OK);
    WIRE_IS("{\"a\":{\"N\":\"42\"},\"b\":{\"N\":\"-0.5\"},\"c\":{\"N\":\"1e3\"},\"d\":{\"S\":\"007\"},"
            "\"e\":{\"S\":\"+1\"},\"f\":{\"S\":\"1.\"},\"g\":{\"S\":\".5\"},\"h\":{\"BOOL\":true},"
            "\"i\":{\"S\":\"True\"},\"j\":{\"BOOL\":false},\"k\":{\"S\":\"1e400\"},"
            "\"l\":{\"S\":\"123456789012345678901234567890123456789\"}}");
    /* explicit --types win over inference */
    CHECK_INT(run_csv("code|zip|x", "42|501|0", &ks), DL_OK);
    WIRE_IS("{\"code\":{\"S\":\"42\"},\"zip\":{\"N\":\"501\"},\"x\":{\"N\":\"0\"}}");
    /* not for JSON input: its values are typed already */
    CHECK_INT(run_json("{\"a\":\"42\",\"b\":\"true\"}", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"S\":\"42\"},\"b\":{\"S\":\"true\"}}");
    /* keys keep their cell's text and take the schema's type as without inference */
    struct dl_key_schema s = schema2("id", 'S', "ts", 'N');
    CHECK_INT(run_csv("id|ts|n", "42|1.50|7", &s), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"42\"},\"ts\":{\"N\":\"1.50\"},\"n\":{\"N\":\"7\"}}");
    KEY_WIRE_IS("{\"id\":{\"S\":\"42\"},\"ts\":{\"N\":\"1.50\"}}");
    struct dl_key_schema sb = schema1("id", 'B');
    CHECK_INT(run_csv("id|flag", "123|true", &sb), DL_OK);
    WIRE_IS("{\"id\":{\"B\":\"MTIz\"},\"flag\":{\"BOOL\":true}}");
    struct dl_key_schema s2 = schema1("id", 'S');
    CHECK_INT(run_csv("id", "true", &s2), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"true\"}}");
}

/* ------------------------------------------------------------------ keys (step 7) */

static void test_keys(void)
{
    struct dl_key_schema sn = schema1("id", 'N');
    SPEC_OK(DROP("x"));
    /* N from a string holding a number, text kept; canonical key */
    CHECK_INT(run_json("{\"id\":\"1.0\",\"x\":1}", &sn), DL_OK);
    WIRE_IS("{\"id\":{\"N\":\"1.0\"}}");
    KEY_WIRE_IS("{\"id\":{\"N\":\"1.0\"}}");
    CHECK_MEM_STR(it.key.data + 5, it.key.len - 5, "1E0");
    CHECK_INT(run_csv("x|id", "1|7", &sn), DL_OK);
    WIRE_IS("{\"id\":{\"N\":\"7\"}}");
    REJECTED(run_csv("x|id", "1|abc", &sn), DL_ERR_INVALID, "key 'id' must be a number (N) but is the string 'abc'", 2);
    REJECTED(run_csv("x|id", "1|042", &sn), DL_ERR_INVALID,
             "key 'id' must be a number (N) but '042' is not a valid number: leading zeros are not allowed", 2);
    REJECTED(run_csv("x|id", "1|1e400", &sn), DL_ERR_INVALID,
             "key 'id': number 1e400 is out of DynamoDB's range (1E-130 to 9.99E+125)", 2);
    REJECTED(run_json("{\"id\":\"\"}", &sn), DL_ERR_INVALID, "partition key 'id' is empty", 0);
    REJECTED(run_json("{\"id\":true}", &sn), DL_ERR_INVALID, "key 'id' must be a number (N) but is a boolean (BOOL)", 0);
    /* an empty key cell, as the CSV builder says it; a key the options removed is missing */
    REJECTED(run_csv("x|id", "1|", &sn), DL_ERR_INVALID, "partition key 'id' is empty", 2);
    REJECTED(run_csv("x|id", "1|1", &sn), DL_OK, "", 0);
    SPEC_OK(DROP("id"));
    REJECTED(run_csv("x|id", "1|1", &sn), DL_ERR_INVALID, "missing partition key 'id'", 0);
    SPEC_OK(RENAME("id=other"));
    REJECTED(run_csv("x|id", "1|1", &sn), DL_ERR_INVALID, "missing partition key 'id'", 0);
    SPEC_OK(RENAME("uuid=id"));
    REJECTED(run_csv("uuid|x", "|1", &sn), DL_ERR_INVALID, "partition key 'id' is empty", 1);
    REJECTED(run_csv("x|y", "1|1", &sn), DL_ERR_INVALID, "missing partition key 'id'", 0);
    SPEC_OK(DROP("x"));
    REJECTED(run_json("{\"x\":1}", &sn), DL_ERR_INVALID, "missing partition key 'id'", 0);
    /* S from a number's text; B from a string's bytes */
    struct dl_key_schema ssb = schema2("pk", 'S', "sk", 'B');
    CHECK_INT(run_json("{\"sk\":\"hi\",\"pk\":1.50}", &ssb), DL_OK);
    WIRE_IS("{\"sk\":{\"B\":\"aGk=\"},\"pk\":{\"S\":\"1.50\"}}");
    KEY_WIRE_IS("{\"pk\":{\"S\":\"1.50\"},\"sk\":{\"B\":\"aGk=\"}}");
    REJECTED(run_json("{\"pk\":\"a\",\"sk\":\"\"}", &ssb), DL_ERR_INVALID, "sort key 'sk' is empty", 0);
    REJECTED(run_json("{\"pk\":[1],\"sk\":\"a\"}", &ssb), DL_ERR_INVALID, "key 'pk' must be a string (S) but is a list (L)", 0);
    /* the key after renaming, and a key made by --set */
    SPEC_OK(RENAME("uuid=pk"), SET("sk=file:{key}"));
    CHECK_INT(run_csv("uuid|v", "u-1|3", &ssb), DL_OK);
    WIRE_IS("{\"pk\":{\"S\":\"u-1\"},\"v\":{\"S\":\"3\"},\"sk\":{\"B\":\"ZmlsZToyMDI0L29yZGVycy5jc3Y=\"}}");
    KEY_WIRE_IS("{\"pk\":{\"S\":\"u-1\"},\"sk\":{\"B\":\"ZmlsZToyMDI0L29yZGVycy5jc3Y=\"}}");
    /* key errors from the builder name the column the key came from */
    struct dl_key_schema big = schema1("pk", 'S');
    {
        char row[2200];
        memset(row, 'k', 2049);
        snprintf(row + 2049, sizeof row - 2049, "|3");
        REJECTED(run_csv("uuid|v", row, &big), DL_ERR_TOO_LARGE, "partition key 'pk' is 2,049 bytes; limit 2,048", 1);
    }
    /* a --types conversion of a key is then converted to the schema's type */
    SPEC_OK(TYPES("id=N"));
    struct dl_key_schema ss = schema1("id", 'S');
    CHECK_INT(run_csv("id", "12", &ss), DL_OK);
    WIRE_IS("{\"id\":{\"S\":\"12\"}}");
    /* no key schema: no key handling */
    struct dl_key_schema none = schema0();
    CHECK_INT(run_csv("id", "12", &none), DL_OK);
    WIRE_IS("{\"id\":{\"N\":\"12\"}}");
    CHECK_INT(it.key.len, 0);
    CHECK_INT(it.key_wire.len, 0);
}

/* ------------------------------------------------------------------ --op-field */

static void test_ops(void)
{
    struct dl_key_schema ks = schema2("pk", 'S', "sk", 'N');
    SPEC_OK(.op_field = "op", TYPES("price=N"));
    static const char *const puts[] = { "I", "u", "INSERT", "update", "Modify", "PUT", "upsert" };
    for (size_t i = 0; i < sizeof puts / sizeof puts[0]; i++) {
        char row[64];
        snprintf(row, sizeof row, "%s|a|1|9.5", puts[i]);
        CHECK_INT(run_csv("op|pk|sk|price", row, &ks), DL_OK);
        CHECK(!it.del);
        WIRE_IS("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"price\":{\"N\":\"9.5\"}}");
        KEY_WIRE_IS("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
    }
    static const char *const dels[] = { "D", "d", "DELETE", "Remove" };
    for (size_t i = 0; i < sizeof dels / sizeof dels[0]; i++) {
        char row[64];
        /* a Delete writes only the key: other attributes are not converted or checked */
        snprintf(row, sizeof row, "a|%s|1|not a number", dels[i]);
        CHECK_INT(run_csv("pk|op|sk|price", row, &ks), DL_OK);
        CHECK(it.del);
        WIRE_IS("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
        KEY_WIRE_IS("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}");
        CHECK_INT(it.size, 2 + 1 + 2 + 2);
    }
    /* the item is reused: the next Put is a Put */
    CHECK_INT(run_csv("op|pk|sk", "I|a|1", &ks), DL_OK);
    CHECK(!it.del);
    REJECTED(run_csv("pk|sk|op", "a|1|X", &ks), DL_ERR_INVALID,
             "attribute 'op' (column 3): unknown operation 'X' (put: I, U, INSERT, UPDATE, MODIFY, PUT, UPSERT; "
             "delete: D, DELETE, REMOVE)", 3);
    REJECTED(run_csv("pk|sk|op", "a|1|", &ks), DL_ERR_INVALID, "the operation field 'op' (column 3) is empty", 3);
    REJECTED(run_json("{\"pk\":\"a\",\"sk\":1}", &ks), DL_ERR_INVALID, "the record has no operation field 'op'", 0);
    REJECTED(run_json("{\"pk\":\"a\",\"sk\":1,\"op\":[\"D\"]}", &ks), DL_ERR_INVALID,
             "attribute 'op': the operation must be a string, not a list (L)", 0);
    /* a Delete still needs a valid key */
    REJECTED(run_csv("pk|op|sk", "a|D|", &ks), DL_ERR_INVALID, "sort key 'sk' is empty", 3);
    REJECTED(run_json("{\"pk\":\"a\",\"op\":\"D\"}", &ks), DL_ERR_INVALID, "missing sort key 'sk'", 0);
    REJECTED(run_csv("pk|op|sk", "a|D|x", &ks), DL_ERR_INVALID, "key 'sk' must be a number (N) but is the string 'x'", 3);
    struct dl_key_schema none = schema0();
    REJECTED(run_csv("pk|op", "a|D", &none), DL_ERR_INVALID,
             "the record is a Delete, which needs the table's key schema (none is known)", 0);

    /* a map of one's own; numbers as op codes (JSON); renames and --set reach the key */
    SPEC_OK(.op_field = "kind", .op_map = "I,U=put D=delete 1=put 2=delete", RENAME("id=pk"),
            SET("sk=5:N", "note=x"), .key_seq = "seq");
    seq_calls = 0;
    CHECK_INT(run_json("{\"id\":\"k\",\"kind\":2,\"other\":1}", &ks), DL_OK);
    CHECK(it.del);
    WIRE_IS("{\"pk\":{\"S\":\"k\"},\"sk\":{\"N\":\"5\"}}");
    CHECK_INT(seq_calls, 0); /* a Delete takes no number */
    CHECK_INT(run_json("{\"id\":\"k\",\"kind\":\"u\"}", &ks), DL_OK);
    CHECK(!it.del);
    CHECK_INT(seq_calls, 1);
    REJECTED(run_json("{\"id\":\"k\",\"kind\":\"INSERT\"}", &ks), DL_ERR_INVALID,
             "attribute 'kind': operation 'INSERT' is not in --op-map 'I,U=put D=delete 1=put 2=delete'", 0);
}

/* ------------------------------------------------------------------ --key-seq */

static void test_key_seq(void)
{
    struct dl_key_schema ks = schema1("id", 'S');
    SPEC_OK(.key_seq = "id");
    seq_next = 1000;
    seq_calls = 0;
    CHECK_INT(run_csv("id|v", "|a", &ks), DL_OK);
    WIRE_IS("{\"v\":{\"S\":\"a\"},\"id\":{\"S\":\"1000\"}}");
    KEY_WIRE_IS("{\"id\":{\"S\":\"1000\"}}");
    CHECK_INT(run_csv("id|v", "x7|b", &ks), DL_OK); /* has one: keeps it, takes no number */
    WIRE_IS("{\"id\":{\"S\":\"x7\"},\"v\":{\"S\":\"b\"}}");
    CHECK_INT(run_json("{\"v\":\"c\"}", &ks), DL_OK);
    WIRE_IS("{\"v\":{\"S\":\"c\"},\"id\":{\"S\":\"1001\"}}");
    CHECK_INT(seq_calls, 2);
    /* an N key takes it as a number; a non-key attribute stays N */
    struct dl_key_schema kn = schema1("id", 'N');
    CHECK_INT(run_json("{\"v\":1}", &kn), DL_OK);
    WIRE_IS("{\"v\":{\"N\":\"1\"},\"id\":{\"N\":\"1002\"}}");
    struct dl_key_schema other = schema1("pk", 'S');
    CHECK_INT(run_json("{\"pk\":\"a\"}", &other), DL_OK);
    WIRE_IS("{\"pk\":{\"S\":\"a\"},\"id\":{\"N\":\"1003\"}}");
    /* the sequence's error rejects the record */
    seq_fail = DL_ERR_IO;
    REJECTED(run_json("{\"v\":1}", &kn), DL_ERR_IO, "--key-seq 'id': cannot take the next number: i/o error", 0);
    seq_fail = DL_OK;
    CHECK_INT(seq_calls, 4);
    /* no sequence given */
    {
        const struct dl_json *j = J("{\"v\":1}");
        static const struct dl_key_schema none;
        CHECK_INT(dl_item_from_json(&it, j, &none, &why), DL_OK);
        struct dl_transform_ctx c = ctx_for(false);
        c.next_seq = NULL;
        REJECTED(dl_transform_apply(xf, &it, &kn, &c, &why), DL_ERR_INVALID,
                 "--key-seq 'id': no sequence to take numbers from", 0);
    }
}

/* ------------------------------------------------------------------ order of operations */

static void test_order(void)
{
    struct dl_key_schema ks = schema0();
    /* 2 --types use the names in the record, 3 --rename, 4 --drop uses the new names, 5 --set
     * can add back a dropped name, 6 --key-seq sees what --set made */
    SPEC_OK(TYPES("price=N,cost=S"), RENAME("price=cost", "junk=trash"), DROP("trash,price"),
            SET("price={record}:N", "id=given"), .key_seq = "id");
    seq_calls = 0;
    CHECK_INT(run_csv("price|junk|cost", "3.5|x|old", &ks), DL_OK);
    WIRE_IS("{\"cost\":{\"N\":\"3.5\"},\"price\":{\"N\":\"18203\"},\"id\":{\"S\":\"given\"}}");
    CHECK_INT(seq_calls, 0);
    /* 1 the op field goes first: --types and --set do not see it */
    SPEC_OK(.op_field = "op", TYPES("op=N"), SET("op2=x"));
    CHECK_INT(run_csv("op|a", "I|1", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"S\":\"1\"},\"op2\":{\"S\":\"x\"}}");
    /* a NULL column renamed */
    SPEC_OK(TYPES("g=NULL"), RENAME("g=h"));
    CHECK_INT(run_csv("a|g", "1|", &ks), DL_OK);
    WIRE_IS("{\"a\":{\"S\":\"1\"},\"h\":{\"NULL\":true}}");
}

/* ------------------------------------------------------------------ big items, reuse */

static void test_many_attributes(void)
{
    /* 4,000 columns: linear work (the builder's duplicate check sorts), and the column of an
     * error near the end is still right */
    static char hdr[4000 * 8], row[4000 * 8];
    size_t h = 0, r = 0;
    for (int i = 0; i < 4000; i++) {
        h += (size_t)snprintf(hdr + h, sizeof hdr - h, "%sc%d", i ? "|" : "", i);
        r += (size_t)snprintf(row + r, sizeof row - r, "%s%s", i ? "|" : "", i == 3998 ? "x" : i % 3 ? "7" : "");
    }
    struct dl_key_schema ks = schema1("c1", 'N');
    SPEC_OK(.infer_types = true, TYPES("c3998=N"), RENAME("c5=five"), DROP("c7"), SET("c1={line}"));
    clock_t t0 = clock();
    REJECTED(run_csv(hdr, row, &ks), DL_ERR_INVALID, "attribute 'c3998' (column 3999): 'x' is not a number", 3999);
    r = 0;
    for (int i = 0; i < 4000; i++)
        r += (size_t)snprintf(row + r, sizeof row - r, "%s%s", i ? "|" : "", i % 3 ? "7" : "");
    CHECK_INT(run_csv(hdr, row, &ks), DL_OK);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    CHECK(secs < 2.0);
    CHECK(strstr((const char *)it.wire.data, "\"c1\":{\"N\":\"18204\"}") != NULL);
    CHECK(strstr((const char *)it.wire.data, "\"five\":{\"N\":\"7\"}") != NULL);
    CHECK(strstr((const char *)it.wire.data, "\"c7\"") == NULL);
    CHECK(strstr((const char *)it.wire.data, "\"c3998\":{\"N\":\"7\"}") != NULL);
    KEY_WIRE_IS("{\"c1\":{\"N\":\"18204\"}}");
}

static void test_too_large(void)
{
    /* the item's size limit is the builder's, after the transform */
    static char big[409600];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    struct dl_key_schema ks = schema0();
    SPEC_OK(SET("more={key}"));
    char hdr[] = "x";
    REJECTED(run_csv(hdr, big + 10, &ks), DL_ERR_TOO_LARGE,
             "item is 409,609 bytes; DynamoDB's limit is 400 KB (409,600 bytes)", 0);
}

int main(void)
{
    arena = dl_arena_new(0, 0);
    dl_item_init(&it);
    TEST_RUN(test_spec_errors);
    TEST_RUN(test_spec_ok);
    TEST_RUN(test_set_templates);
    TEST_RUN(test_set_clock_and_uuid);
    TEST_RUN(test_rename_drop);
    TEST_RUN(test_types_scalars);
    TEST_RUN(test_types_sets);
    TEST_RUN(test_types_json_cells);
    TEST_RUN(test_infer);
    TEST_RUN(test_keys);
    TEST_RUN(test_ops);
    TEST_RUN(test_key_seq);
    TEST_RUN(test_order);
    TEST_RUN(test_many_attributes);
    TEST_RUN(test_too_large);
    dl_transform_free(xf);
    dl_item_free(&it);
    dl_arena_destroy(arena);
    return test_summary();
}
