/* --format names, detection by extension and by content, inner names of compressed objects. */
#include "decode/format.h"

#include "test.h"

static enum dl_format det(const char *name, const char *head)
{
    return dl_format_detect(dl_cursor_str(name), dl_cursor_str(head));
}
/* for heads holding NUL bytes */
static enum dl_format detn(const char *name, const char *head, size_t n)
{
    return dl_format_detect(dl_cursor_str(name), dl_cursor_of(head, n));
}

static void test_parse_and_names(void)
{
    static const char *names[] = { "auto", "csv", "tsv", "json", "ndjson", "ddb-json",
                                   "ddb-export", "js" };
    static const enum dl_format fmts[] = { DL_FMT_AUTO, DL_FMT_CSV, DL_FMT_TSV, DL_FMT_JSON,
                                           DL_FMT_NDJSON, DL_FMT_DDB_JSON, DL_FMT_DDB_EXPORT,
                                           DL_FMT_JS };
    for (size_t i = 0; i < 8; i++) {
        enum dl_format f = DL_FMT_UNKNOWN;
        CHECK_INT(dl_format_parse(names[i], &f), DL_OK);
        CHECK_INT(f, fmts[i]);
        CHECK_STR(dl_format_name(fmts[i]), names[i]);
    }
    enum dl_format f = DL_FMT_CSV;
    CHECK_INT(dl_format_parse("NDJSON", &f), DL_OK);
    CHECK_INT(f, DL_FMT_NDJSON);
    f = DL_FMT_CSV;
    CHECK_INT(dl_format_parse("zip", &f), DL_ERR_INVALID);
    CHECK_INT(dl_format_parse("", &f), DL_ERR_INVALID);
    CHECK_INT(dl_format_parse("ddb_json", &f), DL_ERR_INVALID);
    CHECK_INT(dl_format_parse("csv ", &f), DL_ERR_INVALID);
    CHECK_INT(dl_format_parse(NULL, &f), DL_ERR_INVALID);
    CHECK_INT(f, DL_FMT_CSV); /* untouched on error */
    CHECK_STR(dl_format_name(DL_FMT_ZIP), "zip");
    CHECK_STR(dl_format_name(DL_FMT_GZIP), "gzip");
    CHECK_STR(dl_format_name(DL_FMT_ZSTD), "zstd");
    CHECK_STR(dl_format_name(DL_FMT_UNKNOWN), "unknown");
    CHECK_STR(dl_format_name((enum dl_format)99), "unknown");
    CHECK(dl_format_is_container(DL_FMT_ZIP) && dl_format_is_container(DL_FMT_GZIP) &&
          dl_format_is_container(DL_FMT_ZSTD));
    CHECK(!dl_format_is_container(DL_FMT_CSV) && !dl_format_is_container(DL_FMT_UNKNOWN));
}

static void test_extension(void)
{
    CHECK_INT(det("a.csv", ""), DL_FMT_CSV);
    CHECK_INT(det("s3/prefix.v2/ORDERS.CSV", ""), DL_FMT_CSV);
    CHECK_INT(det("x.tsv", ""), DL_FMT_TSV);
    CHECK_INT(det("x.Tab", ""), DL_FMT_TSV);
    CHECK_INT(det("x.json", ""), DL_FMT_JSON);
    CHECK_INT(det("x.ndjson", ""), DL_FMT_NDJSON);
    CHECK_INT(det("x.jsonl", ""), DL_FMT_NDJSON);
    CHECK_INT(det("test.js", ""), DL_FMT_JS);
    CHECK_INT(det("x.mjs", ""), DL_FMT_JS);
    CHECK_INT(det("x.cjs", ""), DL_FMT_JS);
    CHECK_INT(det("bundle.zip", ""), DL_FMT_ZIP);
    CHECK_INT(det("a.csv.gz", ""), DL_FMT_GZIP);
    CHECK_INT(det("a.json.GZIP", ""), DL_FMT_GZIP);
    CHECK_INT(det("a.csv.zst", ""), DL_FMT_ZSTD);
    CHECK_INT(det("a.zstd", ""), DL_FMT_ZSTD);
    /* the extension wins over a different-looking text body */
    CHECK_INT(det("a.csv", "{\"a\":1}\n{\"a\":2}\n"), DL_FMT_CSV);
    CHECK_INT(det("a.json", "{\"a\":1}\n{\"a\":2}\n"), DL_FMT_JSON);
    CHECK_INT(det("a.tsv", "a,b\n"), DL_FMT_TSV);
    /* a dot in a folder name, or a leading dot, is not an extension */
    CHECK_INT(det("data.csv/part-0000", ""), DL_FMT_UNKNOWN);
    CHECK_INT(det("data.csv/part-0000", "a,b\n1,2\n"), DL_FMT_CSV);
    CHECK_INT(det(".json", "a\tb\n"), DL_FMT_TSV);
    CHECK_INT(det("trailingdot.", "a\tb\n"), DL_FMT_TSV);
    CHECK_INT(dl_format_detect(dl_cursor_of(NULL, 0), dl_cursor_of(NULL, 0)), DL_FMT_UNKNOWN);
}

static void test_magic(void)
{
    CHECK_INT(detn("x", "PK\x03\x04\x14\0", 6), DL_FMT_ZIP);
    CHECK_INT(detn("x.txt", "PK\x05\x06\0\0", 6), DL_FMT_ZIP);
    CHECK_INT(detn("x.dat", "\x1f\x8b\x08\0", 4), DL_FMT_GZIP);
    CHECK_INT(detn("x", "\x28\xb5\x2f\xfd\x04", 5), DL_FMT_ZSTD);
    CHECK_INT(detn("x", "\x5a\x2a\x4d\x18\x04", 5), DL_FMT_ZSTD); /* skippable frame */
    /* magic bytes win over the extension: a gzip body behind a .csv name */
    CHECK_INT(detn("orders.csv", "\x1f\x8b\x08\0", 4), DL_FMT_GZIP);
    CHECK_INT(detn("orders.json.gz", "\x28\xb5\x2f\xfd", 4), DL_FMT_ZSTD);
    /* a container extension on plain text: trust the bytes */
    CHECK_INT(det("orders.csv.gz", "uuid,name\n1,a\n"), DL_FMT_CSV);
    CHECK_INT(det("x.zip", "{\"a\":1}"), DL_FMT_JSON);
    /* too short to be magic (and a control byte: binary) */
    CHECK_INT(detn("x", "PK\x03", 3), DL_FMT_UNKNOWN);
    CHECK_INT(det("x", "PKG,name\n"), DL_FMT_CSV);
}

static void test_sniff_json(void)
{
    CHECK_INT(det("x", "{\"a\":1}"), DL_FMT_JSON);
    CHECK_INT(det("x.txt", "\xef\xbb\xbf \r\n\t[{\"a\":1},{\"a\":2}]"), DL_FMT_JSON);
    CHECK_INT(det("x", "[\n{\"a\":1}\n,{\"a\":2}\n]\n"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\n  \"userID\": \"u1\",\n  \"data\": {}\n}\n"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\"a\":1}\n{\"a\":2}\n"), DL_FMT_NDJSON);
    CHECK_INT(det("x.dat", "\xef\xbb\xbf{\"a\":1}\r\n{\"a\":2}\r\n"), DL_FMT_NDJSON);
    CHECK_INT(det("x", "{\"a\":1}  \n\n   {\"a\""), DL_FMT_NDJSON); /* head cut mid-line */
    CHECK_INT(det("x", "{\"Item\":{\"pk\":{\"S\":\"a\"}}}\n{\"Item\":{}}\n"), DL_FMT_NDJSON);
    /* braces and quotes inside strings do not count */
    CHECK_INT(det("x", "{\"a\":\"}\\\"{\", \"b\":[1,{\"c\":\"]\"}]}\n{\"a\":2}\n"), DL_FMT_NDJSON);
    CHECK_INT(det("x", "{\"a\":\"}\"\n{\"a\":2}\n"), DL_FMT_JSON); /* unterminated line */
    /* one line only, concatenated objects, or an unfinished first line: JSON */
    CHECK_INT(det("x", "{\"a\":1}\n"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\"a\":1}{\"a\":2}\n{\"a\":3}\n"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\"a\":1}\n[1]\n"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\"a\":[1,2,3"), DL_FMT_JSON);
    CHECK_INT(det("x", "{\"a\":1}}\n{\"a\":2}\n"), DL_FMT_JSON);
}

static void test_sniff_js(void)
{
    CHECK_INT(det("test.txt", "module.exports = [\n  {Name: \"X\", Year: 2018},\n]\n"), DL_FMT_JS);
    CHECK_INT(det("x", "\n\nconst items = [{a: 'b'}];"), DL_FMT_JS);
    CHECK_INT(det("x", "var $data=[]"), DL_FMT_JS);
    CHECK_INT(det("x", "export default [ {a: 1} ]"), DL_FMT_JS);
    CHECK_INT(det("x", "exports.items = []"), DL_FMT_JS);
    CHECK_INT(det("x", "// movies\n[ {title: 'A'} ]"), DL_FMT_JS);
    CHECK_INT(det("x", "/* movies */ [ ]"), DL_FMT_JS);
    /* CSV headers that merely start like a keyword */
    CHECK_INT(det("x", "constant,value\n1,2\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "var,x\n1,2\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "let it be\n"), DL_FMT_CSV);
}

static void test_sniff_csv_tsv(void)
{
    CHECK_INT(det("x.txt", "a\tb\tc\n1\t2\t3\n"), DL_FMT_TSV);
    CHECK_INT(det("x", "\tb\tc\n1\t2\t3\n"), DL_FMT_TSV); /* empty first cell */
    CHECK_INT(det("x", "\n\n  \nname\tprice\n"), DL_FMT_TSV);
    CHECK_INT(det("x", "single\tline, with comma\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "a,b\tc\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "a,b\n1\t2\n"), DL_FMT_CSV); /* only the first line counts */
    CHECK_INT(det("x", "uuid\nabc\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "\xef\xbb\xbfuuid,name\r\n1,\"a, b\"\r\n"), DL_FMT_CSV);
    CHECK_INT(det("x", "name\tcity\nJos\xc3"), DL_FMT_TSV);  /* head cut inside a character */
    CHECK_INT(det("x", "caf\xe9,na\xefve\nx,y\n"), DL_FMT_CSV); /* Latin-1 text */
    CHECK_INT(det("x", "a,b\n1,2\x1a"), DL_FMT_CSV);          /* DOS end-of-file mark */
}

static void test_sniff_binary(void)
{
    CHECK_INT(det("x", ""), DL_FMT_UNKNOWN);
    CHECK_INT(det("x.txt", " \r\n\t"), DL_FMT_UNKNOWN);
    CHECK_INT(det("x", "\xef\xbb\xbf"), DL_FMT_UNKNOWN);
    CHECK_INT(detn("poster.png", "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), DL_FMT_UNKNOWN);
    CHECK_INT(detn("x", "a\0,\0b\0\n\0", 8), DL_FMT_UNKNOWN); /* UTF-16LE */
    CHECK_INT(det("x", "\x01\x02\x03\x04\x05hello"), DL_FMT_UNKNOWN);
    CHECK_INT(det("x", "\xff\xd8\xff\xe0\x90\xa1\xb2\xc3\xd4\xe5\xf6"), DL_FMT_UNKNOWN);
    CHECK_INT(det("movie.mp4", "\x93\x81\xfe\xfe\xfe"), DL_FMT_UNKNOWN);
}

static void test_inner_name(void)
{
    struct {
        const char *in, *out;
    } cases[] = {
        { "a.csv.gz", "a.csv" },       { "p/a.JSON.GZ", "p/a.JSON" },
        { "a.ndjson.zst", "a.ndjson" }, { "a.csv.zstd", "a.csv" },
        { "a.json.gzip", "a.json" },    { "a.gz", "a" },
        { "a.csv", "a.csv" },           { "a.zip", "a.zip" },
        { ".gz", ".gz" },               { "dir.gz/file", "dir.gz/file" },
        { "a.csv.gz.gz", "a.csv.gz" },  { "", "" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct dl_cursor in = dl_cursor_str(cases[i].in);
        struct dl_cursor r = dl_format_inner_name(in);
        CHECK(r.ptr == in.ptr);
        CHECK_MEM_STR(r.ptr, r.len, cases[i].out);
    }
    /* the usual two-step: container from the name, then the inner format */
    CHECK_INT(dl_format_detect(dl_format_inner_name(dl_cursor_str("exp/data/x.json.gz")),
                               dl_cursor_str("{\"Item\":{}}\n{\"Item\":{}}\n")),
              DL_FMT_JSON);
}

int main(void)
{
    TEST_RUN(test_parse_and_names);
    TEST_RUN(test_extension);
    TEST_RUN(test_magic);
    TEST_RUN(test_sniff_json);
    TEST_RUN(test_sniff_js);
    TEST_RUN(test_sniff_csv_tsv);
    TEST_RUN(test_sniff_binary);
    TEST_RUN(test_inner_name);
    return test_summary();
}
