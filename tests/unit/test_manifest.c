/* Archive manifests: both shapes, every spelling, key objects and types, sub-folders, matching,
 * sidecar detection, errors with field paths and positions, and a whole zip through dl_zip. */
#include "decode/manifest.h"

#include <stdlib.h>
#include <string.h>

#include <zip.h>

#include "test.h"
#include "unpack/zip.h"

/* Parse text as manifest `name` into a fresh manifest; returns the result code. */
static enum dl_err parse(struct dl_manifest **m, const char *name, const char *text,
                         struct dl_pos_err *err)
{
    dl_manifest_destroy(*m);
    *m = NULL;
    CHECK_INT(dl_manifest_new(m), DL_OK);
    return dl_manifest_parse(*m, name, (const uint8_t *)text, strlen(text), err);
}

static void check_entry(const struct dl_manifest_entry *e, const char *file, const char *table,
                        const char *pk, char pkt, const char *sk, char skt)
{
    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_STR(e->file, file);
    CHECK_STR(e->table, table);
    CHECK_STR(e->pk.name, pk);
    CHECK_INT(e->pk.type, pkt);
    if (sk) {
        CHECK_STR(e->sk.name, sk);
        CHECK_INT(e->sk.type, skt);
    } else {
        CHECK(e->sk.name == NULL);
    }
}

static void test_issue_example(void)
{
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    const char *text =
        "{\"files\": [{\"file\": \"orders.csv\", \"table\": \"Orders\", \"partition_key\": "
        "\"order_id\", \"sort_key\": \"line_no\", \"key_types\": {\"order_id\": \"S\", "
        "\"line_no\": \"N\"}},\n"
        "  {\"file\": \"customers.ndjson\", \"table\": \"Customers\", \"partition_key\": \"id\"}]}";
    CHECK_INT(parse(&m, "manifest.json", text, &err), DL_OK);
    CHECK_INT(dl_manifest_count(m), 2);
    check_entry(dl_manifest_get(m, 0), "orders.csv", "Orders", "order_id", 'S', "line_no", 'N');
    check_entry(dl_manifest_get(m, 1), "customers.ndjson", "Customers", "id", 'S', NULL, 0);
    CHECK_STR(dl_manifest_get(m, 0)->source, "manifest.json files[0]");
    CHECK_STR(dl_manifest_get(m, 1)->source, "manifest.json files[1]");
    CHECK(dl_manifest_get(m, 2) == NULL);
    CHECK(dl_manifest_match(m, "orders.csv") == dl_manifest_get(m, 0));
    CHECK(dl_manifest_match(m, "customers.ndjson") == dl_manifest_get(m, 1));
    CHECK(dl_manifest_match(m, "other.csv") == NULL);
    CHECK(dl_manifest_match(m, "Orders.csv") == NULL); /* names are case-sensitive */
    CHECK(dl_manifest_match(NULL, "orders.csv") == NULL);
    CHECK_INT(dl_manifest_count(NULL), 0);
    dl_manifest_destroy(m);
}

static void test_spellings(void)
{
    static const char *const tables[] = { "table", "tablename", "table_name", "tableName",
                                          "TableName", "Table", "TABLE_NAME", "table-name" };
    static const char *const pks[] = { "partition_key", "pk", "hash_key", "hashKey",
                                       "partitionKey", "PartitionKey", "PK", "HashKey",
                                       "partition key" };
    static const char *const sks[] = { "sort_key", "sk", "range_key", "rangeKey", "sortKey",
                                       "SortKey", "SK", "RangeKey" };
    static const char *const files[] = { "file", "filename", "file_name", "fileName", "path",
                                         "FileName", "data_file" };
    static const char *const types[] = { "key_types", "keyTypes", "KeyTypes" };
    static const char *const lists[] = { "files", "tables", "items", "Files" };
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    char text[600];
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (size_t p = 0; p < sizeof pks / sizeof *pks; p++)
            for (size_t s = 0; s < sizeof sks / sizeof *sks; s++) {
                size_t f = (t + p + s) % (sizeof files / sizeof *files);
                size_t y = (t + s) % (sizeof types / sizeof *types);
                size_t l = (p + s) % (sizeof lists / sizeof *lists);
                snprintf(text, sizeof text,
                         "{\"%s\": [{\"%s\": \"a.csv\", \"%s\": \"T_1.x-y\", \"%s\": \"id\", "
                         "\"%s\": \"ts\", \"%s\": {\"ts\": \"N\"}}]}",
                         lists[l], files[f], tables[t], pks[p], sks[s], types[y]);
                enum dl_err rc = parse(&m, "manifest.json", text, &err);
                if (rc)
                    fprintf(stderr, "  %s\n  -> %s\n", text, err.msg);
                CHECK_INT(rc, DL_OK);
                check_entry(dl_manifest_get(m, 0), "a.csv", "T_1.x-y", "id", 'S', "ts", 'N');
            }
    dl_manifest_destroy(m);
}

static void test_key_objects_and_types(void)
{
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    /* {"name","type"}; {"AttributeName","AttributeType"}; type words and case */
    CHECK_INT(parse(&m, "manifest.json",
                    "[{\"file\": \"a.csv\", \"table\": \"Aaa\", "
                    "  \"pk\": {\"name\": \"id\", \"type\": \"N\"},"
                    "  \"sk\": {\"AttributeName\": \"blob\", \"AttributeType\": \"B\"}},"
                    " {\"file\": \"b.csv\", \"table\": \"Bbb\", "
                    "  \"hash_key\": {\"attribute_name\": \"k\", \"attribute_type\": \"number\"},"
                    "  \"range_key\": {\"name\": \"r\"}},"
                    " {\"file\": \"c.csv\", \"table\": \"Ccc\", "
                    "  \"partitionKey\": {\"Name\": \"p\", \"Type\": \"string\"}, "
                    "  \"keyTypes\": {\"p\": \"s\"}},"
                    " {\"file\": \"d.csv\", \"table\": \"Ddd\", \"pk\": \"p\", \"sk\": null},"
                    " {\"file\": \"e.csv\", \"table\": \"Eee\", \"pk\": \"p\", \"sk\": \"\", "
                    "  \"key_types\": {\"p\": \"Binary\"}}]",
                    &err),
              DL_OK);
    CHECK_INT(dl_manifest_count(m), 5);
    check_entry(dl_manifest_get(m, 0), "a.csv", "Aaa", "id", 'N', "blob", 'B');
    check_entry(dl_manifest_get(m, 1), "b.csv", "Bbb", "k", 'N', "r", 'S'); /* default S */
    check_entry(dl_manifest_get(m, 2), "c.csv", "Ccc", "p", 'S', NULL, 0);
    check_entry(dl_manifest_get(m, 3), "d.csv", "Ddd", "p", 'S', NULL, 0);
    check_entry(dl_manifest_get(m, 4), "e.csv", "Eee", "p", 'B', NULL, 0);

    /* DynamoDB's own CreateTable shape */
    CHECK_INT(parse(&m, "manifest.json",
                    "{\"tables\": [{\"file\": \"o.csv\", \"TableName\": \"Orders\","
                    " \"KeySchema\": [{\"AttributeName\": \"line\", \"KeyType\": \"RANGE\"},"
                    "                 {\"AttributeName\": \"order\", \"KeyType\": \"HASH\"}],"
                    " \"AttributeDefinitions\": [{\"AttributeName\": \"order\", \"AttributeType\": \"S\"},"
                    "   {\"AttributeName\": \"line\", \"AttributeType\": \"N\"},"
                    "   {\"AttributeName\": \"gsi_pk\", \"AttributeType\": \"N\"}],"
                    " \"BillingMode\": \"PAY_PER_REQUEST\"}]}",
                    &err),
              DL_OK);
    check_entry(dl_manifest_get(m, 0), "o.csv", "Orders", "order", 'S', "line", 'N');

    /* unknown members are ignored; a key attribute name may hold anything but NUL */
    CHECK_INT(parse(&m, "manifest.json",
                    "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"user id \\u00e9$\","
                    " \"description\": \"x\", \"format\": \"csv\", \"types\": {\"x\": 1}}]",
                    &err),
              DL_OK);
    check_entry(dl_manifest_get(m, 0), "a.csv", "Aaa", "user id \xc3\xa9$", 'S', NULL, 0);
    dl_manifest_destroy(m);
}

static void test_list_shapes(void)
{
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    /* keyed by file name */
    CHECK_INT(parse(&m, "manifest.json",
                    "{\"files\": {\"a.csv\": {\"table\": \"Aaa\", \"pk\": \"id\"},"
                    "             \"sub/b.csv\": {\"table\": \"Bbb\", \"pk\": \"id\", \"file\": \"sub/b.csv\"}}}",
                    &err),
              DL_OK);
    CHECK_INT(dl_manifest_count(m), 2);
    check_entry(dl_manifest_get(m, 0), "a.csv", "Aaa", "id", 'S', NULL, 0);
    check_entry(dl_manifest_get(m, 1), "sub/b.csv", "Bbb", "id", 'S', NULL, 0);
    CHECK_STR(dl_manifest_get(m, 0)->source, "manifest.json files[\"a.csv\"]");
    /* one file described by the whole document */
    CHECK_INT(parse(&m, "manifest.json",
                    "{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\"}", &err),
              DL_OK);
    CHECK_INT(dl_manifest_count(m), 1);
    CHECK_STR(dl_manifest_get(m, 0)->source, "manifest.json");
    /* an empty list is a manifest that routes nothing */
    CHECK_INT(parse(&m, "manifest.json", "{\"files\": []}", &err), DL_OK);
    CHECK_INT(dl_manifest_count(m), 0);
    CHECK_INT(parse(&m, "manifest.json", " [ ] ", &err), DL_OK);
    CHECK_INT(dl_manifest_count(m), 0);
    CHECK(dl_manifest_match(m, "a.csv") == NULL);
    dl_manifest_destroy(m);
}

static void test_paths_and_matching(void)
{
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    CHECK_INT(parse(&m, "manifest.json",
                    "[{\"file\": \"data/2024/orders.csv\", \"table\": \"Orders\", \"pk\": \"id\"},"
                    " {\"file\": \"./users.json\", \"table\": \"Users\", \"pk\": \"userID\"},"
                    " {\"file\": \"win\\\\dir\\\\items.csv\", \"table\": \"Items\", \"pk\": \"id\"},"
                    " {\"file\": \"parts/part-*.csv\", \"table\": \"Parts\", \"pk\": \"id\"},"
                    " {\"file\": \"*.tsv\", \"table\": \"Tabs\", \"pk\": \"id\"},"
                    " {\"file\": \"a/dup.csv\", \"table\": \"Dup1\", \"pk\": \"id\"},"
                    " {\"file\": \"b/dup.csv\", \"table\": \"Dup2\", \"pk\": \"id\"},"
                    " {\"file\": \"caf\\u00e9 menu.csv\", \"table\": \"Menu\", \"pk\": \"id\"}]",
                    &err),
              DL_OK);
    CHECK_INT(dl_manifest_count(m), 8);
    CHECK_STR(dl_manifest_get(m, 1)->file, "users.json");
    CHECK_STR(dl_manifest_get(m, 2)->file, "win/dir/items.csv");
    const struct dl_manifest_entry *e;
    /* exact, in sub-folders, with either separator */
    e = dl_manifest_match(m, "data/2024/orders.csv");
    CHECK(e && strcmp(e->table, "Orders") == 0);
    e = dl_manifest_match(m, "data\\2024\\orders.csv");
    CHECK(e && strcmp(e->table, "Orders") == 0);
    e = dl_manifest_match(m, "./users.json");
    CHECK(e && strcmp(e->table, "Users") == 0);
    e = dl_manifest_match(m, "win/dir/items.csv");
    CHECK(e && strcmp(e->table, "Items") == 0);
    e = dl_manifest_match(m, "caf\xc3\xa9 menu.csv");
    CHECK(e && strcmp(e->table, "Menu") == 0);
    /* patterns */
    e = dl_manifest_match(m, "parts/part-0001.csv");
    CHECK(e && strcmp(e->table, "Parts") == 0);
    CHECK(dl_manifest_match(m, "parts/sub/part-0001.csv") == NULL); /* '*' stops at '/' */
    e = dl_manifest_match(m, "deep/down/x.tsv"); /* no '/' in the pattern: base name */
    CHECK(e && strcmp(e->table, "Tabs") == 0);
    /* base name, when unique */
    e = dl_manifest_match(m, "export-2024/orders.csv");
    CHECK(e && strcmp(e->table, "Orders") == 0);
    e = dl_manifest_match(m, "users.json");
    CHECK(e && strcmp(e->table, "Users") == 0);
    CHECK(dl_manifest_match(m, "c/dup.csv") == NULL); /* two entries named dup.csv */
    e = dl_manifest_match(m, "b/dup.csv");
    CHECK(e && strcmp(e->table, "Dup2") == 0);
    CHECK(dl_manifest_match(m, "orders.csv.gz") == NULL);

    /* a manifest in a folder: its relative paths are from that folder */
    CHECK_INT(parse(&m, "export/manifest.json",
                    "[{\"file\": \"orders.csv\", \"table\": \"Orders\", \"pk\": \"id\"},"
                    " {\"file\": \"sub/x.csv\", \"table\": \"Xxx\", \"pk\": \"id\"},"
                    " {\"file\": \"p-*.csv\", \"table\": \"Ppp\", \"pk\": \"id\"}]",
                    &err),
              DL_OK);
    CHECK_STR(dl_manifest_get(m, 0)->file, "export/orders.csv");
    CHECK_STR(dl_manifest_get(m, 1)->file, "export/sub/x.csv");
    CHECK_STR(dl_manifest_get(m, 2)->file, "export/p-*.csv");
    e = dl_manifest_match(m, "export/p-1.csv");
    CHECK(e && strcmp(e->table, "Ppp") == 0);
    CHECK(dl_manifest_match(m, "other/p-1.csv") == NULL);
    /* glob characters in the folder name are escaped */
    CHECK_INT(parse(&m, "ex[1]/manifest.json",
                    "[{\"file\": \"p-*.csv\", \"table\": \"Ppp\", \"pk\": \"id\"}]", &err),
              DL_OK);
    CHECK_STR(dl_manifest_get(m, 0)->file, "ex\\[1]/p-*.csv");
    CHECK(dl_manifest_match(m, "ex[1]/p-2.csv") != NULL);
    CHECK(dl_manifest_match(m, "ex1/p-2.csv") == NULL);

    /* many entries: the index grows */
    struct dl_buf big;
    dl_buf_init(&big, 0);
    dl_buf_append_str(&big, "[");
    for (int i = 0; i < 5000; i++)
        dl_buf_printf(&big, "%s{\"file\": \"d%d/f%d.csv\", \"table\": \"T%04d\", \"pk\": \"id\"}",
                      i ? "," : "", i % 7, i, i);
    dl_buf_append_str(&big, "]");
    CHECK_INT(parse(&m, "manifest.json", (const char *)big.data, &err), DL_OK);
    CHECK_INT(dl_manifest_count(m), 5000);
    e = dl_manifest_match(m, "d1/f4999.csv"); /* exact */
    CHECK(e && strcmp(e->table, "T4999") == 0);
    e = dl_manifest_match(m, "elsewhere/f4998.csv"); /* by its unique base name */
    CHECK(e && strcmp(e->table, "T4998") == 0);
    e = dl_manifest_match(m, "d0/f0.csv");
    CHECK(e && strcmp(e->table, "T0000") == 0);
    dl_buf_free(&big);
    dl_manifest_destroy(m);
}

struct ecase {
    const char *name;
    const char *text;
    const char *msg;
    int line, col; /* 0: not checked */
};

static void test_errors(void)
{
    static const struct ecase c[] = {
        { "manifest.json",
          "{\"files\": [\n"
          "  {\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\"},\n"
          "  {\"file\": \"b.csv\", \"table\": \"Bbb\", \"pk\": \"id\"},\n"
          "  {\"file\": \"c.csv\", \"pk\": \"id\"}]}",
          "manifest.json files[2]: no table name (expected one of table, tablename, table_name, "
          "tableName, TableName)",
          4, 3 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\"}]",
          "manifest.json [0]: no partition key (expected one of partition_key, pk, hash_key, "
          "hashKey, partitionKey, PartitionKey)",
          1, 2 },
        { "manifest.json", "{\"items\": [{\"table\": \"Aaa\", \"pk\": \"id\"}]}",
          "manifest.json items[0]: no file name (expected one of file, filename, file_name, "
          "fileName, path)",
          0, 0 },
        { "manifest.json",
          "{\"files\": [{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\", \"sk\": \"n\","
          " \"key_types\": {\"n\": \"X\"}}]}",
          "manifest.json files[0].key_types.n: unknown key type \"X\" (expected S, N or B)",
          1, 88 },
        { "manifest.json",
          "{\"files\": [{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\","
          " \"key_types\": {\"idd\": \"N\"}}]}",
          "manifest.json files[0].key_types: \"idd\" is not a key attribute (the keys are \"id\")",
          0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": {\"name\": \"id\", \"type\": \"S\"},"
          " \"key_types\": {\"id\": \"N\"}}]",
          "manifest.json [0].key_types.id: \"id\" is N here but S in [0].pk.type",
          0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"My Table\", \"pk\": \"id\"}]",
          "manifest.json [0].table: \"My Table\" is not a valid DynamoDB table name (3 to 255 "
          "characters among a-z A-Z 0-9 _ . -)",
          1, 29 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"T\", \"pk\": \"id\"}]",
          "manifest.json [0].table: \"T\" is not a valid DynamoDB table name (3 to 255 "
          "characters among a-z A-Z 0-9 _ . -)",
          0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"TableName\": \"Bbb\", \"pk\": \"id\"}]",
          "manifest.json [0]: both \"table\" and \"TableName\" are given; keep one", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"table\": \"Aaa\", \"pk\": \"i\"}]",
          "manifest.json [0]: \"table\" is given twice", 0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\"},"
          " {\"file\": \"./a.csv\", \"table\": \"Bbb\", \"pk\": \"id\"}]",
          "manifest.json [1].file: \"a.csv\" is already described by manifest.json [0]", 0, 0 },
        { "manifest.json", "{\"files\": [{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\",}]}",
          "manifest.json: ", 1, 0 },
        { "manifest.json", "\"hello\"",
          "manifest.json: expected an object with a \"files\" array, or an array, found string", 1, 1 },
        { "manifest.json", "{\"version\": 2}",
          "manifest.json: no list of files (expected \"files\", \"tables\" or \"items\" holding an "
          "array, or a top-level array)",
          0, 0 },
        { "manifest.json", "{\"files\": \"a.csv\"}",
          "manifest.json files: expected an array of files, found string", 0, 0 },
        { "manifest.json", "{\"files\": [\"a.csv\"]}",
          "manifest.json files[0]: expected an object describing a file, found string", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": {\"type\": \"N\"}}]",
          "manifest.json [0].pk: no attribute name (expected name or AttributeName)", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": 5}]",
          "manifest.json [0].pk: expected an attribute name or an object {\"name\": ..., "
          "\"type\": ...}, found number",
          0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"\"}]",
          "manifest.json [0].pk: the attribute name is empty", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\", \"sk\": \"id\"}]",
          "manifest.json [0]: the partition key and the sort key are both \"id\"", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": {\"name\": \"id\", \"type\": \"HASH\"}}]",
          "manifest.json [0].pk.type: unknown key type \"HASH\" (expected S, N or B)", 0, 0 },
        { "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": {\"name\": \"id\", \"type\": 1}}]",
          "manifest.json [0].pk.type: a key type must be a string \"S\", \"N\" or \"B\", not number", 0, 0 },
        { "manifest.json", "[{\"file\": \"data/\", \"table\": \"Aaa\", \"pk\": \"id\"}]",
          "manifest.json [0].file: \"data/\" is a folder; name a file, or a pattern such as "
          "\"data/*.csv\"",
          0, 0 },
        { "manifest.json", "[{\"file\": 3, \"table\": \"Aaa\", \"pk\": \"id\"}]",
          "manifest.json [0].file: expected a path string, found number", 0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"KeySchema\": [{\"AttributeName\": \"id\", "
          "\"KeyType\": \"PRIMARY\"}]}]",
          "manifest.json [0].KeySchema[0]: KeyType is \"PRIMARY\" (expected HASH or RANGE)", 0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"KeySchema\": [{\"AttributeName\": \"id\", "
          "\"KeyType\": \"RANGE\"}]}]",
          "manifest.json [0].KeySchema: no HASH key", 0, 0 },
        { "manifest.json",
          "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\", \"KeySchema\": []}]",
          "manifest.json [0]: both \"pk\" and \"KeySchema\" are given; keep one", 0, 0 },
        { "manifest.json",
          "{\"files\": {\"a.csv\": {\"file\": \"b.csv\", \"table\": \"Aaa\", \"pk\": \"id\"}}}",
          "manifest.json files[\"a.csv\"].file: names \"b.csv\", but the entry is listed under "
          "\"a.csv\"",
          0, 0 },
    };
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        dl_pos_err_clear(&err);
        enum dl_err rc = parse(&m, c[i].name, c[i].text, &err);
        CHECK_INT(rc, DL_ERR_PARSE);
        CHECK_INT(err.code, DL_ERR_PARSE);
        bool ok = strncmp(err.msg, c[i].msg, strlen(c[i].msg)) == 0 &&
                  (c[i].msg[strlen(c[i].msg) - 1] == ' ' || strlen(err.msg) == strlen(c[i].msg));
        if (!ok)
            fprintf(stderr, "  case %zu:\n    got:      %s\n    expected: %s\n", i, err.msg,
                    c[i].msg);
        CHECK(ok);
        if (c[i].line) {
            CHECK_INT(err.line, c[i].line);
            if (c[i].col)
                CHECK_INT(err.column, c[i].col);
        }
        CHECK_INT(dl_manifest_count(m), 0); /* nothing half-added */
    }

    /* a failed parse leaves earlier entries alone */
    CHECK_INT(parse(&m, "manifest.json", "[{\"file\": \"a.csv\", \"table\": \"Aaa\", \"pk\": \"id\"}]",
                    &err),
              DL_OK);
    const char *bad = "[{\"file\": \"b.csv\", \"table\": \"Bbb\", \"pk\": \"id\"}, {\"file\": \"c.csv\"}]";
    CHECK_INT(dl_manifest_parse(m, "second.json", (const uint8_t *)bad, strlen(bad), &err),
              DL_ERR_PARSE);
    CHECK_INT(dl_manifest_count(m), 1);
    CHECK(dl_manifest_match(m, "b.csv") == NULL);
    CHECK(dl_manifest_match(m, "a.csv") != NULL);
    CHECK_INT(dl_manifest_parse(NULL, "x", NULL, 0, &err), DL_ERR_INVALID);
    dl_manifest_destroy(m);
}

static void test_sidecar_parse(void)
{
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    CHECK_INT(dl_manifest_new(&m), DL_OK);
    bool is = true;
    const char *side = "{\"TableName\": \"Orders\", \"hashKey\": \"order_id\", \"rangeKey\": "
                       "{\"name\": \"line_no\", \"type\": \"N\"}}";
    CHECK_INT(dl_manifest_parse_sidecar(m, "exp/orders.json", "exp/orders.csv",
                                        (const uint8_t *)side, strlen(side), &is, &err),
              DL_OK);
    CHECK(is);
    check_entry(dl_manifest_get(m, 0), "exp/orders.csv", "Orders", "order_id", 'S', "line_no", 'N');
    CHECK_STR(dl_manifest_get(m, 0)->source, "exp/orders.json");
    CHECK(dl_manifest_match(m, "exp/orders.csv") == dl_manifest_get(m, 0));

    /* data, not sidecars: records, arrays, invalid JSON, objects without table + key */
    static const char *const data[] = {
        "{\"userID\": \"u1\", \"data\": {\"x\": 1}}",
        "[{\"table\": \"Aaa\", \"pk\": \"id\"}]",
        "{\"table\": \"kitchen\", \"price\": 3}",
        "{\"pk\": \"USER#1\", \"sk\": \"PROFILE\"}",
        "{\"a\": 1}\n{\"a\": 2}\n",
        "",
    };
    for (size_t i = 0; i < sizeof data / sizeof *data; i++) {
        is = true;
        CHECK_INT(dl_manifest_parse_sidecar(m, "u.json", "u.csv", (const uint8_t *)data[i],
                                            strlen(data[i]), &is, &err),
                  DL_OK);
        CHECK(!is);
    }
    CHECK_INT(dl_manifest_count(m), 1);

    /* a sidecar, but a bad one: an error with the sidecar's name */
    const char *bad = "{\"table\": \"Users\", \"pk\": {\"name\": \"id\", \"type\": \"Q\"}}";
    CHECK_INT(dl_manifest_parse_sidecar(m, "u.json", "u.csv", (const uint8_t *)bad, strlen(bad),
                                        &is, &err),
              DL_ERR_PARSE);
    CHECK(is);
    CHECK_STR(err.msg, "u.json pk.type: unknown key type \"Q\" (expected S, N or B)");
    const char *other = "{\"file\": \"x.csv\", \"table\": \"Users\", \"pk\": \"id\"}";
    CHECK_INT(dl_manifest_parse_sidecar(m, "u.json", "d/u.csv", (const uint8_t *)other,
                                        strlen(other), &is, &err),
              DL_ERR_PARSE);
    CHECK_STR(err.msg, "u.json file: names \"x.csv\", but this sidecar sits beside d/u.csv");
    const char *same = "{\"file\": \"u.csv\", \"table\": \"Users\", \"pk\": \"id\"}";
    CHECK_INT(dl_manifest_parse_sidecar(m, "d/u.json", "d/u.csv", (const uint8_t *)same,
                                        strlen(same), &is, &err),
              DL_OK);
    CHECK(is);
    /* the same data file twice */
    CHECK_INT(dl_manifest_parse_sidecar(m, "d/u.csv.json", "d/u.csv", (const uint8_t *)same,
                                        strlen(same), &is, &err),
              DL_ERR_PARSE);
    CHECK_STR(err.msg, "d/u.csv.json file: \"d/u.csv\" is already described by d/u.json");
    CHECK_INT(dl_manifest_count(m), 2);
    dl_manifest_destroy(m);
}

static void test_find_and_pair(void)
{
    const char *a[] = { "orders.csv", "MANIFEST.JSON", "x/manifest.json" };
    CHECK_INT(dl_manifest_find(a, 3), 1);
    const char *b[] = { "exp/orders.csv", "exp/sub/a.csv", "exp/manifest.json" };
    CHECK_INT(dl_manifest_find(b, 3), 2);
    const char *c[] = { "exp/orders.csv", "other/a.csv", "exp/manifest.json" };
    CHECK_INT(dl_manifest_find(c, 3), -1); /* two top-level folders: no root */
    const char *d[] = { "exp/orders.csv", "exp/sub/manifest.json" };
    CHECK_INT(dl_manifest_find(d, 2), -1);
    const char *e[] = { "manifest-summary.json", "manifest-files.json", "data/x.json.gz" };
    CHECK_INT(dl_manifest_find(e, 3), -1); /* a DynamoDB export is not one of ours */
    CHECK_INT(dl_manifest_find(NULL, 0), -1);

    const char *names[] = {
        "orders.csv",           /* 0 -> 1 */
        "orders.json",          /* 1 */
        "sub/orders.csv",       /* 2: other folder, no sidecar */
        "users.ndjson.gz",      /* 3 -> 5 (users.ndjson.json beats users.json) */
        "users.json",           /* 4 */
        "users.ndjson.json",    /* 5 */
        "items.csv",            /* 6 -> 8 */
        "items.tsv",            /* 7 -> 8: both share it */
        "items.JSON",           /* 8 */
        "README",               /* 9 -> 10 */
        "README.json",          /* 10 */
        "lonely.json",          /* 11 */
        "media/The_Movie.jpg",  /* 12 -> 13 */
        "media/The_Movie.json", /* 13 */
        ".json",                /* 14 */
        "x.tar.gz",             /* 15 -> 16: x.tar.json */
        "x.tar.json",           /* 16 */
        "dir\\a.csv",           /* 17 -> 18 */
        "dir/a.json",           /* 18 */
    };
    size_t n = sizeof names / sizeof *names;
    ptrdiff_t side[sizeof names / sizeof *names];
    static const ptrdiff_t want[] = { 1, -1, -1, 5, -1, -1, 8, 8, -1, 10, -1, -1, 13, -1, -1, 16, -1, 18, -1 };
    CHECK_INT(dl_manifest_sidecars(names, n, side), DL_OK);
    for (size_t i = 0; i < n; i++) {
        if (side[i] != want[i])
            fprintf(stderr, "  %s: got %td, want %td\n", names[i], side[i], want[i]);
        CHECK_INT(side[i], want[i]);
    }
}

/* ---- dl_manifest_scan over an in-memory archive ---- */

struct fake {
    const char *const *names;
    const char *const *data;
    int reads[32];
};

static enum dl_err fake_read(void *ctx, size_t i, struct dl_buf *out, char *err, size_t errlen)
{
    struct fake *f = ctx;
    f->reads[i]++;
    dl_buf_reset(out);
    if (!f->data[i]) {
        snprintf(err, errlen, "CRC error");
        return DL_ERR_PARSE;
    }
    enum dl_err rc = dl_buf_append(out, f->data[i], strlen(f->data[i]));
    if (rc)
        snprintf(err, errlen, "does not fit");
    return rc;
}

static void test_scan(void)
{
    static const char *const names[] = {
        "exp/manifest.json", "exp/orders.csv", "exp/orders.json", "exp/users.csv",
        "exp/users.json",    "exp/notes.csv",  "exp/notes.json",  "exp/a.csv",
        "exp/a.ndjson",      "exp/a.json",
    };
    static const char *const data[] = {
        "{\"files\": [{\"file\": \"orders.csv\", \"table\": \"Orders\", \"pk\": \"id\"},"
        "             {\"file\": \"orders.json\", \"table\": \"OrdersJson\", \"pk\": \"id\"}]}",
        "id\n1\n",
        "{\"id\": \"1\", \"table\": \"x\", \"pk\": \"y\"}", /* listed by the manifest: data */
        "id\n2\n",
        "{\"table_name\": \"Users\", \"partition_key\": {\"name\": \"uid\", \"type\": \"N\"}}",
        "n\nx\n",
        "{\"note\": \"a record that happens to sit beside notes.csv\"}",
        "k\n1\n",
        "{\"k\": 1}\n",
        "{\"table\": \"Aaa\", \"pk\": \"k\"}",
    };
    size_t n = sizeof names / sizeof *names;
    struct fake f = { names, data, { 0 } };
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    enum dl_manifest_role roles[10];
    CHECK_INT(dl_manifest_new(&m), DL_OK);
    enum dl_err rc = dl_manifest_scan(m, names, n, fake_read, &f, roles, &err);
    if (rc)
        fprintf(stderr, "  scan: %s\n", err.msg);
    CHECK_INT(rc, DL_OK);
    static const enum dl_manifest_role want[] = {
        DL_MANIFEST_ROLE_MANIFEST, DL_MANIFEST_ROLE_DATA, DL_MANIFEST_ROLE_DATA,
        DL_MANIFEST_ROLE_DATA,     DL_MANIFEST_ROLE_SIDECAR, DL_MANIFEST_ROLE_DATA,
        DL_MANIFEST_ROLE_DATA,     DL_MANIFEST_ROLE_DATA, DL_MANIFEST_ROLE_DATA,
        DL_MANIFEST_ROLE_SIDECAR,
    };
    for (size_t i = 0; i < n; i++) {
        if (roles[i] != want[i])
            fprintf(stderr, "  %s: role %d, want %d\n", names[i], roles[i], want[i]);
        CHECK_INT(roles[i], want[i]);
    }
    CHECK_INT(f.reads[2], 0); /* listed as data by the manifest: never read as a candidate */
    CHECK_INT(f.reads[6], 1);
    const struct dl_manifest_entry *e;
    e = dl_manifest_match(m, "exp/orders.csv");
    CHECK(e && !strcmp(e->table, "Orders") && !strcmp(e->source, "exp/manifest.json files[0]"));
    e = dl_manifest_match(m, "exp/orders.json");
    CHECK(e && !strcmp(e->table, "OrdersJson"));
    check_entry(dl_manifest_match(m, "exp/users.csv"), "exp/users.csv", "Users", "uid", 'N', NULL, 0);
    CHECK(dl_manifest_match(m, "exp/notes.csv") == NULL);
    /* one sidecar for two data files of the same stem */
    e = dl_manifest_match(m, "exp/a.csv");
    CHECK(e && !strcmp(e->table, "Aaa") && !strcmp(e->source, "exp/a.json"));
    e = dl_manifest_match(m, "exp/a.ndjson");
    CHECK(e && !strcmp(e->table, "Aaa"));
    CHECK_INT(dl_manifest_count(m), 5);
    dl_manifest_destroy(m);

    /* a file described twice: by the manifest and by a sidecar */
    static const char *const n2[] = { "manifest.json", "orders.csv", "orders.json" };
    static const char *const d2[] = {
        "[{\"file\": \"orders.csv\", \"table\": \"Orders\", \"pk\": \"id\"}]",
        "id\n1\n",
        "{\"table\": \"Other\", \"pk\": \"id\"}",
    };
    struct fake f2 = { n2, d2, { 0 } };
    CHECK_INT(dl_manifest_new(&m), DL_OK);
    CHECK_INT(dl_manifest_scan(m, n2, 3, fake_read, &f2, roles, &err), DL_ERR_PARSE);
    CHECK_STR(err.msg, "orders.json: \"orders.csv\" is already described by manifest.json [0]");
    CHECK_INT(dl_manifest_count(m), 0);

    /* a manifest that cannot be read, and a bad manifest */
    static const char *const d3[] = { NULL, "id\n1\n", "{}" };
    struct fake f3 = { n2, d3, { 0 } };
    CHECK_INT(dl_manifest_scan(m, n2, 3, fake_read, &f3, roles, &err), DL_ERR_PARSE);
    CHECK_STR(err.msg, "reading manifest.json: CRC error");
    static const char *const d4[] = { "[{\"file\": \"orders.csv\"}]", "id\n1\n", "{}" };
    struct fake f4 = { n2, d4, { 0 } };
    CHECK_INT(dl_manifest_scan(m, n2, 3, fake_read, &f4, roles, &err), DL_ERR_PARSE);
    CHECK(strncmp(err.msg, "manifest.json [0]: no table name", 32) == 0);
    CHECK_INT(roles[0], DL_MANIFEST_ROLE_MANIFEST);

    /* no manifest, no sidecar: everything is data and nothing is described */
    static const char *const n5[] = { "a.csv", "b.json" };
    static const char *const d5[] = { "x\n", "{}" };
    struct fake f5 = { n5, d5, { 0 } };
    CHECK_INT(dl_manifest_scan(m, n5, 2, fake_read, &f5, roles, &err), DL_OK);
    CHECK_INT(roles[0], DL_MANIFEST_ROLE_DATA);
    CHECK_INT(roles[1], DL_MANIFEST_ROLE_DATA);
    CHECK_INT(f5.reads[1], 0);
    CHECK_INT(dl_manifest_count(m), 0);
    CHECK_INT(dl_manifest_scan(m, NULL, 0, fake_read, &f5, NULL, &err), DL_OK);
    dl_manifest_destroy(m);
}

/* ---- the same through a real zip and dl_zip_read ---- */

static uint8_t *make_zip(const char *const *names, const char *const *data, size_t n, size_t *len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    uint8_t *res = NULL;
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, data[i], strlen(data[i]), 0);
        zip_file_add(za, names[i], s, ZIP_FL_ENC_UTF_8);
    }
    zip_stat_t st;
    if (zip_close(za) == 0 && zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        res = malloc(st.size);
        zip_source_read(src, res, st.size);
        *len = st.size;
        zip_source_close(src);
    }
    zip_source_free(src);
    zip_error_fini(&ze);
    return res;
}

static enum dl_err zip_reader(void *ctx, size_t i, struct dl_buf *out, char *err, size_t errlen)
{
    return dl_zip_read(ctx, i, out, NULL, err, errlen);
}

static void test_scan_zip(void)
{
    static const char *const names[] = { "dump/manifest.json", "dump/orders.csv",
                                         "dump/lines/2024.csv", "dump/big.csv", "dump/big.json" };
    char *big = malloc(DL_MANIFEST_SIDECAR_MAX + 100);
    memset(big, ' ', DL_MANIFEST_SIDECAR_MAX + 99);
    const char *head = "{\"table\": \"Big\", \"pk\": \"id\"}";
    memcpy(big, head, strlen(head)); /* then 1 MiB of spaces: valid JSON, a sidecar's fields */
    big[DL_MANIFEST_SIDECAR_MAX + 99] = 0;
    const char *data[] = {
        "{\"files\": [{\"file\": \"orders.csv\", \"table\": \"Orders\", \"partition_key\": "
        "\"order_id\"}, {\"file\": \"lines/*.csv\", \"table\": \"Lines\", \"pk\": \"order_id\", "
        "\"sk\": {\"name\": \"line_no\", \"type\": \"N\"}}]}",
        "order_id\nA\n",
        "order_id,line_no\nA,1\n",
        "id\n1\n",
        big, /* too big to be a sidecar: data */
    };
    size_t len = 0;
    uint8_t *zb = make_zip(names, data, 5, &len);
    CHECK(zb != NULL);
    struct dl_zip *z = NULL;
    char zerr[256];
    CHECK_INT(dl_zip_open_mem(zb, len, &z, zerr, sizeof zerr), DL_OK);
    size_t n = dl_zip_count(z);
    CHECK_INT(n, 5);
    const char *zn[5];
    for (size_t i = 0; i < n && i < 5; i++) {
        struct dl_zip_entry e;
        dl_zip_entry(z, i, &e);
        zn[i] = e.name;
    }
    struct dl_manifest *m = NULL;
    struct dl_pos_err err;
    enum dl_manifest_role roles[5];
    CHECK_INT(dl_manifest_new(&m), DL_OK);
    enum dl_err rc = dl_manifest_scan(m, zn, n, zip_reader, z, roles, &err);
    if (rc)
        fprintf(stderr, "  scan: %s\n", err.msg);
    CHECK_INT(rc, DL_OK);
    CHECK_INT(roles[0], DL_MANIFEST_ROLE_MANIFEST);
    CHECK_INT(roles[1], DL_MANIFEST_ROLE_DATA);
    CHECK_INT(roles[4], DL_MANIFEST_ROLE_DATA);
    check_entry(dl_manifest_match(m, zn[1]), "dump/orders.csv", "Orders", "order_id", 'S', NULL, 0);
    check_entry(dl_manifest_match(m, zn[2]), "dump/lines/*.csv", "Lines", "order_id", 'S', "line_no", 'N');
    CHECK(dl_manifest_match(m, zn[3]) == NULL);
    dl_manifest_destroy(m);
    dl_zip_close(z);
    free(zb);
    free(big);
}

int main(void)
{
    TEST_RUN(test_issue_example);
    TEST_RUN(test_spellings);
    TEST_RUN(test_key_objects_and_types);
    TEST_RUN(test_list_shapes);
    TEST_RUN(test_paths_and_matching);
    TEST_RUN(test_errors);
    TEST_RUN(test_sidecar_parse);
    TEST_RUN(test_find_and_pair);
    TEST_RUN(test_scan);
    TEST_RUN(test_scan_zip);
    return test_summary();
}
