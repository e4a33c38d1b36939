#include "decode/jsonrec.h"

#include <stdlib.h>
#include <string.h>

#include "test.h"

static struct dl_arena *arena;

static struct dl_jsonrec *open_rd(const char *in, enum dl_jsonrec_mode mode)
{
    struct dl_jsonrec *r = NULL;
    CHECK_INT(dl_jsonrec_new((const uint8_t *)in, strlen(in), mode, &r), DL_OK);
    return r;
}

static const char *raw(const struct dl_jsonrec_out *o)
{
    static char buf[4096];
    memcpy(buf, o->raw.ptr, o->raw.len);
    buf[o->raw.len] = 0;
    return buf;
}

/* An ITEM whose raw text, record number and start position are as given. */
#define EXPECT_ITEM(r, want_raw, want_rec, want_line, want_col, want_off)                \
    do {                                                                                 \
        struct dl_jsonrec_out o_;                                                        \
        struct dl_pos_err e_;                                                            \
        dl_arena_reset(arena);                                                           \
        enum dl_jsonrec_status st_ = dl_jsonrec_next(r, arena, &o_, &e_);                \
        CHECK_INT(st_, DL_JSONREC_ITEM);                                                 \
        if (st_ != DL_JSONREC_ITEM)                                                      \
            fprintf(stderr, "  got status %d: %s (line %" PRIu64 " col %" PRIu64 ")\n",  \
                    (int)st_, e_.msg, e_.line, e_.column);                               \
        CHECK(o_.value != NULL && o_.value->type == DL_JSON_OBJECT);                     \
        CHECK_STR(raw(&o_), want_raw);                                                   \
        CHECK_INT(o_.record, want_rec);                                                  \
        CHECK_INT(o_.line, want_line);                                                   \
        CHECK_INT(o_.column, want_col);                                                  \
        CHECK_INT(o_.offset, want_off);                                                  \
    } while (0)

#define EXPECT_BAD(r, want_st, want_msg, want_line, want_col, want_off, want_raw, want_rec) \
    do {                                                                                 \
        struct dl_jsonrec_out o_;                                                        \
        struct dl_pos_err e_;                                                            \
        dl_arena_reset(arena);                                                           \
        CHECK_INT(dl_jsonrec_next(r, arena, &o_, &e_), want_st);                         \
        CHECK_INT(e_.code, DL_ERR_PARSE);                                                \
        CHECK_STR(e_.msg, want_msg);                                                     \
        CHECK_INT(e_.line, want_line);                                                   \
        CHECK_INT(e_.column, want_col);                                                  \
        CHECK_INT(e_.offset, want_off);                                                  \
        CHECK_STR(raw(&o_), want_raw);                                                   \
        CHECK_INT(o_.record, want_rec);                                                  \
        CHECK(o_.value == NULL);                                                         \
    } while (0)

#define EXPECT_END(r)                                                                    \
    do {                                                                                 \
        struct dl_jsonrec_out o_;                                                        \
        struct dl_pos_err e_;                                                            \
        CHECK_INT(dl_jsonrec_next(r, arena, &o_, &e_), DL_JSONREC_END);                  \
        CHECK_INT(dl_jsonrec_next(r, arena, &o_, &e_), DL_JSONREC_END);                  \
        CHECK_INT(o_.raw.len, 0);                                                        \
    } while (0)

static void test_single_object(void)
{
    const enum dl_jsonrec_mode modes[] = { DL_JSONREC_AUTO, DL_JSONREC_JSON, DL_JSONREC_NDJSON };
    for (int m = 0; m < 3; m++) {
        const char *in = "{\"userID\": \"u1\", \"data\": {\"x\": [1, 2]}}\n";
        struct dl_jsonrec *r = open_rd(in, modes[m]);
        struct dl_jsonrec_out o;
        struct dl_pos_err e;
        CHECK_INT(dl_jsonrec_next(r, arena, &o, &e), DL_JSONREC_ITEM);
        CHECK_INT(o.record, 1);
        CHECK_INT(o.line, 1);
        CHECK_INT(o.offset, 0);
        CHECK_INT(o.raw.len, strlen(in) - 1);
        struct dl_cursor c;
        CHECK(dl_json_get_str(o.value, "userID", &c) && dl_cursor_eq_str(c, "u1"));
        const struct dl_json *d = dl_json_get(o.value, "data");
        CHECK(d && d->offset == 25); /* relative to the record's start */
        EXPECT_END(r);
        dl_jsonrec_destroy(r);
    }
}

static void test_array(void)
{
    struct dl_jsonrec *r = open_rd("[{\"a\":1},\n {\"b\":2} ]\n", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_ITEM(r, "{\"b\":2}", 2, 2, 2, 11);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("[]", DL_JSONREC_AUTO);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
    r = open_rd(" [\n ]\n", DL_JSONREC_JSON);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* non-object elements are errors, reading goes on */
    r = open_rd("[{\"a\":1}, 2.5, \"x\", [], {\"b\":2}]", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "array element 2 is not an object (found number)", 1, 11, 10,
               "2.5", 2);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "array element 3 is not an object (found string)", 1, 16, 15,
               "\"x\"", 3);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "array element 4 is not an object (found array)", 1, 21, 20,
               "[]", 4);
    EXPECT_ITEM(r, "{\"b\":2}", 5, 1, 25, 24);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* two arrays one after the other (AUTO) */
    r = open_rd("[{\"a\":1}]\n[{\"b\":2}]\n", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_ITEM(r, "{\"b\":2}", 2, 2, 2, 11);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
}

static void test_array_fatal(void)
{
    const char *in = "[{\"a\":1},\n {\"b\":";
    struct dl_jsonrec *r = open_rd(in, DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "unexpected end of input", 2, 7, 16, "{\"b\":", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("[{\"a\":1} {\"b\":2}]", DL_JSONREC_JSON);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "expected ',' or ']' after array element, found '{'", 1, 10, 9,
               "{\"b\":2}]", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("[{\"a\":1},]", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "trailing comma in array", 1, 10, 9, "]", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* unclosed array: end of input where ',' or ']' was due */
    r = open_rd("[{\"a\":1}\n", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 2, 1);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "unexpected end of input", 2, 1, 9, "", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* a syntax error inside an element, on a later line */
    r = open_rd("[\n{\"a\":\n  tru}]", DL_JSONREC_AUTO);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "invalid literal 'tru'", 3, 3, 10, "{\"a\":\n  tru}]", 1);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
}

static void test_ndjson_bad_line(void)
{
    const char *in = "{\"id\":1}\n{\"id\":2,}\n{\"id\":3}\n";
    const enum dl_jsonrec_mode modes[] = { DL_JSONREC_AUTO, DL_JSONREC_NDJSON };
    for (int m = 0; m < 2; m++) {
        struct dl_jsonrec *r = open_rd(in, modes[m]);
        EXPECT_ITEM(r, "{\"id\":1}", 1, 1, 1, 0);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "trailing comma in object", 2, 9, 17, "{\"id\":2,}", 2);
        EXPECT_ITEM(r, "{\"id\":3}", 3, 3, 1, 19);
        EXPECT_END(r);
        dl_jsonrec_destroy(r);
    }

    /* truncated middle line, CRLF: the error is at the end of line 2, not on line 3 */
    in = "{\"id\":1}\r\n{\"id\":2, \"s\": [1\r\n{\"id\":3}\r\n";
    for (int m = 0; m < 2; m++) {
        struct dl_jsonrec *r = open_rd(in, modes[m]);
        EXPECT_ITEM(r, "{\"id\":1}", 1, 1, 1, 0);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "unexpected end of input", 2, 18, 27, "{\"id\":2, \"s\": [1", 2);
        EXPECT_ITEM(r, "{\"id\":3}", 3, 3, 1, 28);
        EXPECT_END(r);
        dl_jsonrec_destroy(r);
    }

    /* bad first line, then two bad lines in a row, a scalar line, a blank line */
    in = "{\"id\":1,}\n{\"id\":2}\nnope\n{\"x\n42\n\n{\"id\":3}";
    for (int m = 0; m < 2; m++) {
        struct dl_jsonrec *r = open_rd(in, modes[m]);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "trailing comma in object", 1, 9, 8, "{\"id\":1,}", 1);
        EXPECT_ITEM(r, "{\"id\":2}", 2, 2, 1, 10);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "invalid literal 'nope'", 3, 1, 19, "nope", 3);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "unterminated string", 4, 2, 25, "{\"x", 4);
        EXPECT_BAD(r, DL_JSONREC_ERROR, "top-level value is not an object or array", 5, 1, 28, "42", 5);
        EXPECT_ITEM(r, "{\"id\":3}", 6, 7, 1, 32);
        EXPECT_END(r);
        dl_jsonrec_destroy(r);
    }

    /* NDJSON mode: a value must fit on its line; an array line with a bad element is an
       error for the rest of that line only */
    in = "{\n\"a\":1}\n[{\"a\":1}, {\"b\":]\n{\"c\":3} {\"d\":4}\n";
    struct dl_jsonrec *r = open_rd(in, DL_JSONREC_NDJSON);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "unexpected end of input", 1, 2, 1, "{", 1);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "top-level value is not an object or array", 2, 1, 2, "\"a\"", 2);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "expected a value, found ':'", 2, 4, 5, ":1}", 3);
    EXPECT_ITEM(r, "{\"a\":1}", 4, 3, 2, 10);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "expected a value, found ']'", 3, 16, 24, "{\"b\":]", 5);
    EXPECT_ITEM(r, "{\"c\":3}", 6, 4, 1, 26);
    EXPECT_ITEM(r, "{\"d\":4}", 7, 4, 9, 34);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* the same input in AUTO mode reads the first object across lines */
    r = open_rd(in, DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\n\"a\":1}", 1, 1, 1, 0);
    EXPECT_ITEM(r, "{\"a\":1}", 2, 3, 2, 10);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "expected a value, found ']'", 3, 16, 24, "{\"b\":]\n{\"c\":3} {\"d\":4}\n", 3);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
}

static void test_pretty_concatenated(void)
{
    const char *in = "{\n  \"a\": 1\n}\n{\n  \"b\": [1,\n        2]\n}\n\n{\"c\": {}}";
    struct dl_jsonrec *r = open_rd(in, DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\n  \"a\": 1\n}", 1, 1, 1, 0);
    EXPECT_ITEM(r, "{\n  \"b\": [1,\n        2]\n}", 2, 4, 1, 13);
    EXPECT_ITEM(r, "{\"c\": {}}", 3, 9, 1, 40);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* a broken pretty-printed first document is FATAL in AUTO mode */
    in = "{\n  \"a\": 1,\n}\n{\"b\":2}\n";
    r = open_rd(in, DL_JSONREC_AUTO);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "trailing comma in object", 3, 1, 12, in, 1);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* a broken value that does not start a line, after a multi-line one: FATAL */
    in = "{\n\"a\":1\n} {\"b\":}\n";
    r = open_rd(in, DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\n\"a\":1\n}", 1, 1, 1, 0);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "expected a value, found '}'", 3, 8, 15, "{\"b\":}\n", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
}

static void test_json_mode(void)
{
    struct dl_jsonrec *r = open_rd("{\"a\":1} {\"b\":2}\n [3] \n", DL_JSONREC_JSON);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 1, 0);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "more than one top-level JSON value", 1, 9, 8, "{\"b\":2}\n [3]", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* a syntax error in NDJSON-looking input is FATAL in JSON mode */
    const char *in = "{\"id\":1}\n{\"id\":2,}\n{\"id\":3}\n";
    r = open_rd(in, DL_JSONREC_JSON);
    EXPECT_ITEM(r, "{\"id\":1}", 1, 1, 1, 0);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "more than one top-level JSON value", 2, 1, 9,
               "{\"id\":2,}\n{\"id\":3}", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("{\"id\":1,}\n{\"id\":3}\n", DL_JSONREC_JSON);
    EXPECT_BAD(r, DL_JSONREC_FATAL, "trailing comma in object", 1, 9, 8, "{\"id\":1,}\n{\"id\":3}\n", 1);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("  \"just a string\"  ", DL_JSONREC_JSON);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "top-level value is not an object or array", 1, 3, 2,
               "\"just a string\"", 1);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    struct dl_jsonrec *bad = NULL;
    CHECK_INT(dl_jsonrec_new((const uint8_t *)"", 0, (enum dl_jsonrec_mode)7, &bad), DL_ERR_INVALID);
    CHECK(bad == NULL);
}

static void test_bom_empty(void)
{
    struct dl_jsonrec *r = open_rd("\xEF\xBB\xBF{\"a\":1}\n{\"b\":2,}\n", DL_JSONREC_AUTO);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 4, 3);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "trailing comma in object", 2, 8, 18, "{\"b\":2,}", 2);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    /* bad first line right after the BOM still counts as starting its line */
    r = open_rd("\xEF\xBB\xBF{\"a\":}\n{\"b\":2}\n", DL_JSONREC_AUTO);
    EXPECT_BAD(r, DL_JSONREC_ERROR, "expected a value, found '}'", 1, 9, 8, "{\"a\":}", 1);
    EXPECT_ITEM(r, "{\"b\":2}", 2, 2, 1, 10);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    r = open_rd("\xEF\xBB\xBF[{\"a\":1}]", DL_JSONREC_JSON);
    EXPECT_ITEM(r, "{\"a\":1}", 1, 1, 5, 4);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);

    const char *empties[] = { "", "   ", " \n\r\n\t ", "\xEF\xBB\xBF", "\xEF\xBB\xBF \n" };
    for (int k = 0; k < 5; k++) {
        for (int m = 0; m < 3; m++) {
            r = open_rd(empties[k], (enum dl_jsonrec_mode)m);
            EXPECT_END(r);
            dl_jsonrec_destroy(r);
        }
    }
    CHECK_INT(dl_jsonrec_new(NULL, 0, DL_JSONREC_AUTO, &r), DL_OK);
    EXPECT_END(r);
    dl_jsonrec_destroy(r);
}

/* Many NDJSON lines, every 10th bad: all reported, counted and positioned, in linear time. */
static void test_many_lines(void)
{
    size_t n = 50000;
    char *in = malloc(n * 32);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)sprintf(in + k, i % 10 == 5 ? "{\"id\":%zu,\n" : "{\"id\":%zu}\n", i);
    in[k] = 0;
    struct dl_jsonrec *r = open_rd(in, DL_JSONREC_AUTO);
    size_t items = 0, errors = 0, wrong = 0;
    for (;;) {
        struct dl_jsonrec_out o;
        struct dl_pos_err e;
        dl_arena_reset(arena);
        enum dl_jsonrec_status st = dl_jsonrec_next(r, arena, &o, &e);
        if (st == DL_JSONREC_END)
            break;
        if (st == DL_JSONREC_ITEM)
            items++;
        else if (st == DL_JSONREC_ERROR) {
            errors++;
            if (o.line % 10 != 6 || e.line != o.line || o.record != o.line)
                wrong++;
        } else {
            wrong++;
            break;
        }
    }
    CHECK_INT(items, n - n / 10);
    CHECK_INT(errors, n / 10);
    CHECK_INT(wrong, 0);
    dl_jsonrec_destroy(r);
    free(in);
}

int main(void)
{
    arena = dl_arena_new(0, 0);
    TEST_RUN(test_single_object);
    TEST_RUN(test_array);
    TEST_RUN(test_array_fatal);
    TEST_RUN(test_ndjson_bad_line);
    TEST_RUN(test_pretty_concatenated);
    TEST_RUN(test_json_mode);
    TEST_RUN(test_bom_empty);
    TEST_RUN(test_many_lines);
    dl_arena_destroy(arena);
    return test_summary();
}
