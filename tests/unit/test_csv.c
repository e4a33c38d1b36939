#include "decode/csv.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

/* Fields joined with '|' (a NUL-terminated copy, for CHECK_STR). */
static const char *joined(const struct dl_csv_row *row)
{
    static char buf[4096];
    size_t n = 0;
    for (size_t k = 0; k < row->nfields; k++) {
        if (k)
            buf[n++] = '|';
        memcpy(buf + n, row->fields[k].ptr, row->fields[k].len);
        n += row->fields[k].len;
    }
    buf[n] = 0;
    return buf;
}

static const char *raw(const struct dl_csv_row *row)
{
    static char buf[4096];
    memcpy(buf, row->raw.ptr, row->raw.len);
    buf[row->raw.len] = 0;
    return buf;
}

struct rd {
    struct dl_csv *r;
    const char *in;
};

static struct rd open_opts(const char *in, size_t len, const struct dl_csv_opts *o)
{
    struct rd rd = { NULL, in };
    CHECK_INT(dl_csv_new((const uint8_t *)in, len, o, &rd.r), DL_OK);
    return rd;
}
static struct rd open_csv(const char *in)
{
    return open_opts(in, strlen(in), NULL);
}

/* Expect a good record with the given fields, record index and line. */
#define EXPECT_ROW(rd, want, rec, ln)                                                    \
    do {                                                                                 \
        struct dl_csv_row row_;                                                          \
        struct dl_pos_err e_;                                                            \
        dl_pos_err_clear(&e_);                                                           \
        enum dl_err rc_ = dl_csv_next((rd).r, &row_, &e_);                               \
        CHECK_INT(rc_, DL_OK);                                                           \
        if (rc_)                                                                         \
            fprintf(stderr, "  error: %s\n", e_.msg);                                    \
        CHECK(!row_.end);                                                                \
        CHECK_STR(joined(&row_), want);                                                  \
        CHECK_INT(row_.record, rec);                                                     \
        CHECK_INT(row_.line, ln);                                                        \
    } while (0)

#define EXPECT_END(rd)                                                                   \
    do {                                                                                 \
        struct dl_csv_row row_;                                                          \
        struct dl_pos_err e_;                                                            \
        CHECK_INT(dl_csv_next((rd).r, &row_, &e_), DL_OK);                               \
        CHECK(row_.end);                                                                 \
        CHECK_INT(row_.nfields, 0);                                                      \
        CHECK_INT(dl_csv_next((rd).r, &row_, &e_), DL_OK);                               \
        CHECK(row_.end);                                                                 \
    } while (0)

#define EXPECT_ERR(rd, want_code, want_msg, want_off, want_line, want_col, want_raw, want_rec) \
    do {                                                                                 \
        struct dl_csv_row row_;                                                          \
        struct dl_pos_err e_;                                                            \
        dl_pos_err_clear(&e_);                                                           \
        CHECK_INT(dl_csv_next((rd).r, &row_, &e_), want_code);                           \
        CHECK_INT(e_.code, want_code);                                                   \
        CHECK_STR(e_.msg, want_msg);                                                     \
        CHECK_INT(e_.offset, want_off);                                                  \
        CHECK_INT(e_.line, want_line);                                                   \
        CHECK_INT(e_.column, want_col);                                                  \
        CHECK_STR(raw(&row_), want_raw);                                                 \
        CHECK_INT(row_.record, want_rec);                                                \
        CHECK_INT(row_.nfields, 0);                                                      \
        CHECK(!row_.end);                                                                \
    } while (0)

static void test_basic(void)
{
    const char *in = "id,name,qty\n1,apple,3\n2,pear,5\n";
    struct rd rd = open_csv(in);
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 3);
    CHECK_STR(joined(&row), "id|name|qty");
    CHECK_INT(row.offset, 0);
    CHECK_STR(raw(&row), "id,name,qty");
    /* unquoted fields borrow from the input */
    CHECK(row.fields[1].ptr == (const uint8_t *)in + 3);
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_STR(joined(&row), "1|apple|3");
    CHECK_INT(row.offset, 12);
    CHECK_INT(row.line, 2);
    CHECK_INT(row.record, 2);
    CHECK_STR(raw(&row), "1,apple,3");
    EXPECT_ROW(rd, "2|pear|5", 3, 3);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_quotes(void)
{
    const char *in = "\"a \"\"q\"\" b\",\"x,y\",plain,\"\"\n\"a\"\"\",\"\"\"\",\"\"\"\"\"\"\n";
    struct rd rd = open_csv(in);
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 4);
    CHECK_STR(joined(&row), "a \"q\" b|x,y|plain|");
    const uint8_t *lo = (const uint8_t *)in, *hi = lo + strlen(in);
    CHECK(row.fields[0].ptr < lo || row.fields[0].ptr >= hi); /* unescaped copy */
    CHECK(row.fields[1].ptr == lo + 13);                       /* borrowed */
    CHECK_INT(row.fields[3].len, 0);
    EXPECT_ROW(rd, "a\"|\"|\"\"", 2, 2);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* a quote inside an unquoted field is literal */
    rd = open_csv("ab\"c,d\"\"e,x\"\n");
    EXPECT_ROW(rd, "ab\"c|d\"\"e|x\"", 1, 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* quoted field with escapes as the last bytes of the input */
    rd = open_csv("x,\"a\"\"b\"");
    EXPECT_ROW(rd, "x|a\"b", 1, 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* quoting off */
    struct dl_csv_opts o = { .delim = ',', .no_quote = true };
    rd = open_opts("\"a\",b\"\n", 7, &o);
    EXPECT_ROW(rd, "\"a\"|b\"", 1, 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_newlines(void)
{
    /* CRLF file with CRLF inside a quoted field */
    const char *in = "id,text\r\n1,\"line1\r\nline2\"\r\n2,x\r\n";
    struct rd rd = open_csv(in);
    EXPECT_ROW(rd, "id|text", 1, 1);
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.line, 2);
    CHECK_INT(row.nfields, 2);
    CHECK_MEM_STR(row.fields[1].ptr, row.fields[1].len, "line1\r\nline2");
    CHECK_STR(raw(&row), "1,\"line1\r\nline2\"");
    EXPECT_ROW(rd, "2|x", 3, 4);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* lone CR ends records, also counts as a line break inside quotes */
    rd = open_csv("a,b\rc,d\r\"x\ry\",z\rw");
    EXPECT_ROW(rd, "a|b", 1, 1);
    EXPECT_ROW(rd, "c|d", 2, 2);
    EXPECT_ROW(rd, "x\ry|z", 3, 3);
    EXPECT_ROW(rd, "w", 4, 5);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* blank lines of every kind are skipped but counted */
    rd = open_csv("\n\na\n\n\r\n\rb\n\n");
    EXPECT_ROW(rd, "a", 1, 3);
    EXPECT_ROW(rd, "b", 2, 7);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* final record without newline */
    rd = open_csv("a,b\nc,d");
    EXPECT_ROW(rd, "a|b", 1, 1);
    EXPECT_ROW(rd, "c|d", 2, 2);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_empty_fields(void)
{
    struct rd rd = open_csv(",,\na,,b\na,b,\n\"\"\n \nx,");
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 3);
    CHECK_STR(joined(&row), "||");
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 3);
    CHECK_STR(joined(&row), "a||b");
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 3); /* trailing delimiter: empty last field */
    CHECK_STR(joined(&row), "a|b|");
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 1);
    CHECK_INT(row.fields[0].len, 0);
    EXPECT_ROW(rd, " ", 5, 5); /* a line of spaces is a record */
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 2); /* trailing delimiter at end of input */
    CHECK_STR(joined(&row), "x|");
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* empty input, BOM only, newlines only */
    rd = open_csv("");
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
    rd = open_csv("\xEF\xBB\xBF");
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
    rd = open_csv("\r\n\n");
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
    struct dl_csv *r = NULL;
    CHECK_INT(dl_csv_new(NULL, 0, NULL, &r), DL_OK);
    CHECK_INT(dl_csv_next(r, &row, &err), DL_OK);
    CHECK(row.end);
    dl_csv_destroy(r);
}

static void test_bom_tsv(void)
{
    const char *in = "\xEF\xBB\xBFuuid,name\nu1,x\n";
    struct rd rd = open_csv(in);
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_STR(joined(&row), "uuid|name");
    CHECK_INT(row.offset, 3);
    CHECK_INT(row.line, 1);
    EXPECT_ROW(rd, "u1|x", 2, 2);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* a BOM later in the input is data; columns count the leading BOM's bytes */
    rd = open_csv("\xEF\xBB\xBF\"a\"x\n");
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character 'x' after closing quote", 6, 1, 7,
               "\"a\"x", 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    struct dl_csv_opts o = { .delim = '\t' };
    const char *tsv = "a\tb,c\t\"d\te\"\t\n";
    rd = open_opts(tsv, strlen(tsv), &o);
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, 4);
    CHECK_STR(joined(&row), "a|b,c|d\te|");
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    struct dl_csv *r = NULL;
    struct dl_csv_opts bad = { .delim = '\n' };
    CHECK_INT(dl_csv_new((const uint8_t *)"a", 1, &bad, &r), DL_ERR_INVALID);
    CHECK(r == NULL);
    struct dl_csv_opts bad2 = { .delim = '"' };
    CHECK_INT(dl_csv_new((const uint8_t *)"a", 1, &bad2, &r), DL_ERR_INVALID);
}

static void test_after_quote_error(void)
{
    struct rd rd = open_csv("h1,h2,h3\na,\"b\"x,c\nd,e,f\n");
    EXPECT_ROW(rd, "h1|h2|h3", 1, 1);
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character 'x' after closing quote", 14, 2, 6,
               "a,\"b\"x,c", 2);
    EXPECT_ROW(rd, "d|e|f", 3, 3);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* recovery still honours a later quoted field with a line break in it */
    rd = open_csv("\"a\" ,\"multi\nline\",z\nnext\n");
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character ' ' after closing quote", 3, 1, 4,
               "\"a\" ,\"multi\nline\",z", 1);
    EXPECT_ROW(rd, "next", 2, 3);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* the error on a line after an embedded newline has that line's column */
    rd = open_csv("1,\"x\ny\"\"z\"q\n2\n");
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character 'q' after closing quote", 10, 2, 6,
               "1,\"x\ny\"\"z\"q", 1);
    EXPECT_ROW(rd, "2", 2, 3);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* at the very end of input */
    rd = open_csv("\"a\"\x01");
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character byte 0x01 after closing quote", 3, 1, 4,
               "\"a\"\x01", 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_unterminated(void)
{
    struct rd rd = open_csv("a,b\nc,\"unterminated\nmore,\"\"x\n\n");
    EXPECT_ROW(rd, "a|b", 1, 1);
    EXPECT_ERR(rd, DL_ERR_PARSE, "unterminated quoted field starting at line 2 column 3", 6, 2, 3,
               "c,\"unterminated\nmore,\"\"x\n\n", 2);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* an unterminated quote wins over an earlier after-quote problem in the same record */
    rd = open_csv("\"a\"b,\"c");
    EXPECT_ERR(rd, DL_ERR_PARSE, "unterminated quoted field starting at line 1 column 6", 5, 1, 6,
               "\"a\"b,\"c", 1);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_caps(void)
{
    struct dl_csv_opts o = { .max_record = 10 };
    const char *in = "short\nthis record is too long\nok\n\"aaaaaaaa\nbbbbbbbbbbbb\"\nlast";
    struct rd rd = open_opts(in, strlen(in), &o);
    EXPECT_ROW(rd, "short", 1, 1);
    EXPECT_ERR(rd, DL_ERR_TOO_LARGE, "record larger than 10 bytes", 6, 2, 1,
               "this record is too long", 2);
    EXPECT_ROW(rd, "ok", 3, 3);
    EXPECT_ERR(rd, DL_ERR_TOO_LARGE, "record larger than 10 bytes", 33, 4, 1,
               "\"aaaaaaaa\nbbbbbbbbbbbb\"", 4);
    EXPECT_ROW(rd, "last", 5, 6);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* exactly max_record bytes is fine, also with escapes */
    in = "\"a\"\"bcd\"\"\"\n0123456789\n";
    rd = open_opts(in, strlen(in), &o);
    EXPECT_ROW(rd, "a\"bcd\"", 1, 1);
    EXPECT_ROW(rd, "0123456789", 2, 2);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* the first problem in byte order wins: the bad quote in record 1, the size (met at
       byte 11, before the 'x') in record 2 */
    in = "\"ab\"x0123456789\n\"0123456789\"x\nz";
    struct dl_csv_opts o2 = { .max_record = 10 };
    rd = open_opts(in, strlen(in), &o2);
    EXPECT_ERR(rd, DL_ERR_PARSE, "unexpected character 'x' after closing quote", 4, 1, 5,
               "\"ab\"x0123456789", 1);
    EXPECT_ERR(rd, DL_ERR_TOO_LARGE, "record larger than 10 bytes", 16, 2, 1, "\"0123456789\"x", 2);
    EXPECT_ROW(rd, "z", 3, 3);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    struct dl_csv_opts f = { .max_fields = 3 };
    in = "a,b,c\na,b,c,d\n,,,\nx\n";
    rd = open_opts(in, strlen(in), &f);
    EXPECT_ROW(rd, "a|b|c", 1, 1);
    EXPECT_ERR(rd, DL_ERR_TOO_LARGE, "record has more than 3 fields", 12, 2, 7, "a,b,c,d", 2);
    EXPECT_ERR(rd, DL_ERR_TOO_LARGE, "record has more than 3 fields", 17, 3, 4, ",,,", 3);
    EXPECT_ROW(rd, "x", 4, 4);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
}

static void test_utf8(void)
{
    struct dl_csv_opts o = { .check_utf8 = true };
    const char *in = "ok,\xc3\xa9\nab\xc0x\n\"x\ny\xff\"\nlast\n";
    struct rd rd = open_opts(in, strlen(in), &o);
    EXPECT_ROW(rd, "ok|\xc3\xa9", 1, 1);
    EXPECT_ERR(rd, DL_ERR_PARSE, "invalid UTF-8 byte 0xC0", 8, 2, 3, "ab\xc0x", 2);
    EXPECT_ERR(rd, DL_ERR_PARSE, "invalid UTF-8 byte 0xFF", 15, 4, 2, "\"x\ny\xff\"", 3);
    EXPECT_ROW(rd, "last", 4, 5);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);

    /* without the option the reader is byte-transparent */
    rd = open_csv("ab\xc0x\n");
    EXPECT_ROW(rd, "ab\xc0x", 1, 1);
    dl_csv_destroy(rd.r);
}

/* Many fields and escapes: the scratch and field arrays grow and stay consistent. */
static void test_many_fields(void)
{
    size_t n = 5000;
    char *in = malloc(n * 8 + 2);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(in + k, i % 2 ? "\"\"\"%zu\"," : "%zu,", i % 10);
    in[k - 1] = '\n';
    in[k] = 0;
    struct rd rd = open_csv(in);
    struct dl_csv_row row;
    struct dl_pos_err err;
    CHECK_INT(dl_csv_next(rd.r, &row, &err), DL_OK);
    CHECK_INT(row.nfields, n);
    int bad = 0;
    for (size_t i = 0; i < row.nfields; i++) {
        char want[8];
        snprintf(want, sizeof want, i % 2 ? "\"%zu" : "%zu", i % 10);
        if (row.fields[i].len != strlen(want) || memcmp(row.fields[i].ptr, want, strlen(want)))
            bad++;
    }
    CHECK_INT(bad, 0);
    EXPECT_END(rd);
    dl_csv_destroy(rd.r);
    free(in);
}

int main(void)
{
    TEST_RUN(test_basic);
    TEST_RUN(test_quotes);
    TEST_RUN(test_newlines);
    TEST_RUN(test_empty_fields);
    TEST_RUN(test_bom_tsv);
    TEST_RUN(test_after_quote_error);
    TEST_RUN(test_unterminated);
    TEST_RUN(test_caps);
    TEST_RUN(test_utf8);
    TEST_RUN(test_many_fields);
    return test_summary();
}
