#include "core/json.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test.h"

static struct dl_arena *arena;

static enum dl_err parse_str(const char *s, struct dl_json **out, struct dl_pos_err *err)
{
    dl_arena_reset(arena);
    dl_pos_err_clear(err);
    return dl_json_parse_doc(arena, (const uint8_t *)s, strlen(s), out, err);
}

/* Parse s (length n, may hold NULs), expect failure, check message and position. */
static void expect_err_n(int line, const char *s, size_t n, const char *msg, uint64_t off,
                         uint64_t ln, uint64_t col)
{
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    dl_arena_reset(arena);
    dl_pos_err_clear(&err);
    enum dl_err rc = dl_json_parse_doc(arena, (const uint8_t *)s, n, &v, &err);
    if (rc != DL_ERR_PARSE || strcmp(err.msg, msg) != 0 || err.offset != off || err.line != ln ||
        err.column != col) {
        fprintf(stderr, "  (case at line %d)\n", line);
    }
    CHECK_INT(rc, DL_ERR_PARSE);
    CHECK_STR(err.msg, msg);
    CHECK_INT(err.code, DL_ERR_PARSE);
    CHECK_INT(err.offset, off);
    CHECK_INT(err.line, ln);
    CHECK_INT(err.column, col);
}
#define EXPECT_ERR(s, msg, off, ln, col) expect_err_n(__LINE__, s, strlen(s), msg, off, ln, col)

static void test_dom_shape(void)
{
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    const char *doc = " {\"b\": [1, true, false, null, \"x\", {}, []], \"a\": {\"z\": -0.5}, \"c\": \"\"}\n";
    CHECK_INT(parse_str(doc, &v, &err), DL_OK);
    CHECK(v != NULL);
    if (!v)
        return;
    CHECK_INT(v->type, DL_JSON_OBJECT);
    CHECK_INT(v->n, 3);
    CHECK_INT(v->offset, 1);
    const struct dl_json *m = v->child;
    /* member order is source order */
    CHECK_MEM_STR(m->key.ptr, m->key.len, "b");
    CHECK_MEM_STR(m->next->key.ptr, m->next->key.len, "a");
    CHECK_MEM_STR(m->next->next->key.ptr, m->next->next->key.len, "c");
    CHECK(m->next->next->next == NULL);
    CHECK_INT(m->type, DL_JSON_ARRAY);
    CHECK_INT(m->n, 7);
    const struct dl_json *e = m->child;
    enum dl_json_type want[] = { DL_JSON_NUMBER, DL_JSON_TRUE, DL_JSON_FALSE, DL_JSON_NULL,
                                 DL_JSON_STRING, DL_JSON_OBJECT, DL_JSON_ARRAY };
    for (int k = 0; k < 7; k++, e = e->next) {
        CHECK(e != NULL);
        if (!e)
            return;
        CHECK_INT(e->type, want[k]);
        CHECK_INT(e->key.len, 0);
    }
    CHECK(e == NULL);
    CHECK_MEM_STR(m->child->str.ptr, m->child->str.len, "1");
    CHECK_INT(m->child->offset, 8);
    const struct dl_json *a = dl_json_get(v, "a");
    CHECK(a && a->type == DL_JSON_OBJECT && a->n == 1);
    const struct dl_json *z = dl_json_get(a, "z");
    CHECK(z && z->type == DL_JSON_NUMBER);
    if (z)
        CHECK_MEM_STR(z->str.ptr, z->str.len, "-0.5");
    struct dl_cursor c;
    CHECK(dl_json_get_str(v, "c", &c));
    CHECK_INT(c.len, 0);
    CHECK(!dl_json_get_str(v, "a", &c));
    CHECK(!dl_json_get_str(v, "nope", &c));
    CHECK(dl_json_get(v, "nope") == NULL);
    CHECK(dl_json_get(m, "b") == NULL); /* not an object */
    CHECK_STR(dl_json_type_name(DL_JSON_NUMBER), "number");
    CHECK_STR(dl_json_type_name(DL_JSON_TRUE), "boolean");

    /* scalars and empty containers at the top level */
    CHECK_INT(parse_str("  42 ", &v, &err), DL_OK);
    CHECK(v && v->type == DL_JSON_NUMBER && v->offset == 2);
    CHECK_INT(parse_str("[]", &v, &err), DL_OK);
    CHECK(v && v->type == DL_JSON_ARRAY && v->n == 0 && v->child == NULL);
    CHECK_INT(parse_str("{ }", &v, &err), DL_OK);
    CHECK(v && v->type == DL_JSON_OBJECT && v->n == 0);
}

static void test_unescape(void)
{
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    const char *doc = "[\"caf\\u00e9\", \"\\ud83d\\ude00!\", \"a\\u0000b\", \"\\\"\\\\\\/\\b\\f\\n\\r\\t\","
                      " \"plain\", \"\xc3\xa9t\xc3\xa9\", \"\\u20AC\"]";
    CHECK_INT(parse_str(doc, &v, &err), DL_OK);
    if (!v)
        return;
    const struct dl_json *e = v->child;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "caf\xc3\xa9");
    e = e->next;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "\xf0\x9f\x98\x80!");
    e = e->next;
    CHECK_INT(e->str.len, 3);
    CHECK(memcmp(e->str.ptr, "a\0b", 3) == 0);
    e = e->next;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "\"\\/\b\f\n\r\t");
    e = e->next;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "plain");
    /* a string without escapes borrows from the input */
    CHECK(e->str.ptr == (const uint8_t *)doc + e->offset + 1);
    e = e->next;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "\xc3\xa9t\xc3\xa9");
    e = e->next;
    CHECK_MEM_STR(e->str.ptr, e->str.len, "\xe2\x82\xac");

    /* escaped keys */
    CHECK_INT(parse_str("{\"k\\u0065y\": 1, \"a\\u0000\": 2}", &v, &err), DL_OK);
    CHECK(dl_json_get(v, "key") != NULL);
    CHECK_MEM_STR(v->child->key.ptr, v->child->key.len, "key");
    CHECK_INT(v->child->next->key.len, 2);
}

static void test_numbers(void)
{
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    const char *nums[] = { "1.50e+3", "-0", "0", "0.0", "1E-7", "123456789012345678901234567890123456789012",
                           "-1.0e+400", "1e0", "0e1" };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        char buf[128];
        snprintf(buf, sizeof buf, "[%s]", nums[k]);
        CHECK_INT(parse_str(buf, &v, &err), DL_OK);
        if (v && v->child)
            CHECK_MEM_STR(v->child->str.ptr, v->child->str.len, nums[k]);
    }
}

static void test_errors(void)
{
    EXPECT_ERR("", "unexpected end of input", 0, 1, 1);
    EXPECT_ERR(" \n\t ", "unexpected end of input", 4, 2, 3);
    EXPECT_ERR("{\"a\": \"abc", "unterminated string", 6, 1, 7);
    EXPECT_ERR("[\"a\\x\"]", "invalid escape '\\x'", 3, 1, 4);
    EXPECT_ERR("[\n  01]", "leading zero in number", 4, 2, 3);
    EXPECT_ERR("[-01]", "leading zero in number", 2, 1, 3);
    EXPECT_ERR("{\"a\": 1\n \"b\": 2}", "expected ',' or '}' after object member, found '\"'", 9, 2, 2);
    EXPECT_ERR("[1 2]", "expected ',' or ']' after array element, found '2'", 3, 1, 4);
    EXPECT_ERR("[\"\xc0\xaf\"]", "invalid UTF-8 byte 0xC0", 2, 1, 3);
    EXPECT_ERR("{}\n x", "trailing characters after JSON value", 4, 2, 2);
    EXPECT_ERR("[1,]", "trailing comma in array", 3, 1, 4);
    EXPECT_ERR("{\"a\":1,\n}", "trailing comma in object", 8, 2, 1);
    EXPECT_ERR("[1", "unexpected end of input", 2, 1, 3);
    EXPECT_ERR("{\"a\" 1}", "expected ':' after object member name, found '1'", 5, 1, 6);
    EXPECT_ERR("{1:2}", "expected string for object member name, found '1'", 1, 1, 2);
    EXPECT_ERR("{'a':2}", "single-quoted strings are not allowed in JSON", 1, 1, 2);
    EXPECT_ERR("[1] // c", "trailing characters after JSON value", 4, 1, 5);
    EXPECT_ERR("[/* c */ 1]", "comments are not allowed in JSON", 1, 1, 2);
    EXPECT_ERR("[NaN]", "invalid literal 'NaN'", 1, 1, 2);
    EXPECT_ERR("[tru]", "invalid literal 'tru'", 1, 1, 2);
    EXPECT_ERR("[truex]", "invalid literal 'truex'", 1, 1, 2);
    EXPECT_ERR("[1.]", "expected digit after decimal point, found ']'", 3, 1, 4);
    EXPECT_ERR("[1e+]", "expected digit in exponent, found ']'", 4, 1, 5);
    EXPECT_ERR("[-x]", "expected digit after '-', found 'x'", 2, 1, 3);
    EXPECT_ERR("[.5]", "expected a value, found '.'", 1, 1, 2);
    EXPECT_ERR("[\"a\tb\"]", "unescaped control character 0x09 in string", 3, 1, 4);
    EXPECT_ERR("[\"\\ud800\"]", "lone surrogate escape \\uD800 (not followed by a low surrogate escape)", 2, 1, 3);
    EXPECT_ERR("[\"\\ud800\\u0041\"]", "lone surrogate escape \\uD800 (not followed by a low surrogate escape)", 2, 1, 3);
    EXPECT_ERR("[\"x\\udc00\"]", "lone surrogate escape \\uDC00 (low surrogate without a high one)", 3, 1, 4);
    EXPECT_ERR("[\"\\u12G4\"]", "invalid \\u escape (expected 4 hex digits)", 2, 1, 3);
    EXPECT_ERR("[\"\\u12", "unterminated string", 1, 1, 2);
    EXPECT_ERR("\xc3\xa9", "expected a value, found U+00E9", 0, 1, 1);
    EXPECT_ERR("[\xff]", "invalid UTF-8 byte 0xFF", 1, 1, 2);
    EXPECT_ERR("[\"\xe2\x82\"]", "truncated UTF-8 sequence starting with byte 0xE2", 2, 1, 3);
    EXPECT_ERR("[\"\xe0\x80\x80\"]", "overlong UTF-8 sequence 0xE0 0x80", 2, 1, 3);
    EXPECT_ERR("[\"\xed\xa0\x80\"]",
               "UTF-8 encoded surrogate 0xED 0xA0 (U+D800..U+DFFF are not characters)", 2, 1, 3);
    EXPECT_ERR("[\"\xf4\x90\x80\x80\"]", "UTF-8 sequence 0xF4 0x90 encodes a code point above U+10FFFF", 2, 1, 3);
    EXPECT_ERR("[\f1]", "expected a value, found byte 0x0C", 1, 1, 2);
    expect_err_n(__LINE__, "[1]\0", 4, "trailing characters after JSON value", 3, 1, 4);
}

static void test_depth(void)
{
    size_t n = 100000;
    char *s = malloc(n + 1);
    memset(s, '[', n);
    s[n] = 0;
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    clock_t t0 = clock();
    CHECK_INT(parse_str(s, &v, &err), DL_ERR_PARSE);
    CHECK_STR(err.msg, "nesting deeper than 512");
    CHECK_INT(err.offset, 512);
    CHECK_INT(err.column, 513);
    CHECK((double)(clock() - t0) / CLOCKS_PER_SEC < 1.0);

    /* exactly 512 levels parse */
    size_t d = 512;
    char *t = malloc(2 * d + 1);
    memset(t, '[', d);
    memset(t + d, ']', d);
    t[2 * d] = 0;
    CHECK_INT(parse_str(t, &v, &err), DL_OK);
    size_t depth = 0;
    for (const struct dl_json *x = v; x; x = x->child)
        depth++;
    CHECK_INT(depth, 512);
    /* 512 objects deep as well, 513 not */
    free(t);
    t = malloc(7 * 513 + 1);
    size_t k = 0;
    for (size_t i = 0; i < 513; i++)
        k += (size_t)sprintf(t + k, "{\"a\":");
    t[k++] = '1';
    for (size_t i = 0; i < 513; i++)
        t[k++] = '}';
    t[k] = 0;
    CHECK_INT(parse_str(t, &v, &err), DL_ERR_PARSE);
    CHECK_STR(err.msg, "nesting deeper than 512");
    CHECK_INT(err.offset, 512 * 5);
    free(t);
    free(s);
}

static void test_parse_value_multi(void)
{
    const char *s = " {\"a\":1} [2]\n\"x\" 3 \n";
    const uint8_t *p = (const uint8_t *)s;
    size_t len = strlen(s), pos = 0, used = 0;
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    dl_arena_reset(arena);
    CHECK_INT(dl_json_parse_value(arena, p + pos, len - pos, &used, &v, &err), DL_OK);
    CHECK_INT(used, 8);
    CHECK(v && v->type == DL_JSON_OBJECT);
    pos += used;
    CHECK_INT(dl_json_parse_value(arena, p + pos, len - pos, &used, &v, &err), DL_OK);
    CHECK_INT(used, 4);
    CHECK(v && v->type == DL_JSON_ARRAY && v->offset == 1);
    pos += used;
    CHECK_INT(dl_json_parse_value(arena, p + pos, len - pos, &used, &v, &err), DL_OK);
    CHECK_INT(used, 4);
    CHECK(v && v->type == DL_JSON_STRING);
    pos += used;
    CHECK_INT(dl_json_parse_value(arena, p + pos, len - pos, &used, &v, &err), DL_OK);
    CHECK_INT(used, 2); /* a number ends at the first byte that cannot continue it */
    CHECK(v && v->type == DL_JSON_NUMBER);
    pos += used;
    CHECK_INT(dl_json_parse_value(arena, p + pos, len - pos, &used, &v, &err), DL_ERR_PARSE);
    CHECK_STR(err.msg, "unexpected end of input");
    CHECK_INT(err.offset, 2);
    CHECK_INT(err.line, 2);
    CHECK_INT(err.column, 1);
}

static void test_get_last_wins(void)
{
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    CHECK_INT(parse_str("{\"k\":1,\"j\":2,\"k\":3}", &v, &err), DL_OK);
    CHECK_INT(v->n, 3);
    const struct dl_json *k = dl_json_get(v, "k");
    CHECK(k && k->str.len == 1 && k->str.ptr[0] == '3');
    /* names with NUL never match a C string name that stops earlier */
    CHECK_INT(parse_str("{\"a\\u0000b\":1}", &v, &err), DL_OK);
    CHECK(dl_json_get(v, "a") == NULL);
}

static void test_arena_cap(void)
{
    struct dl_arena *small = dl_arena_new(1024, 1024);
    const char *s = "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]";
    struct dl_json *v = NULL;
    struct dl_pos_err err;
    enum dl_err rc = dl_json_parse_doc(small, (const uint8_t *)s, strlen(s), &v, &err);
    CHECK_INT(rc, DL_ERR_TOO_LARGE);
    CHECK_INT(err.code, DL_ERR_TOO_LARGE);
    CHECK(err.line == 1 && err.offset > 0);
    dl_arena_destroy(small);
}

static void test_utf8_valid(void)
{
    struct {
        const char *s;
        size_t n;
        bool ok;
        size_t bad;
    } cases[] = {
        { "", 0, true, 0 },
        { "plain ascii text longer than eight bytes", 40, true, 0 },
        { "\xc2\x80", 2, true, 0 },
        { "\xdf\xbf", 2, true, 0 },
        { "\xe0\xa0\x80", 3, true, 0 },
        { "\xef\xbf\xbf", 3, true, 0 },       /* U+FFFF noncharacter is valid */
        { "\xed\x9f\xbf", 3, true, 0 },       /* U+D7FF */
        { "\xee\x80\x80", 3, true, 0 },       /* U+E000 */
        { "\xf0\x90\x80\x80", 4, true, 0 },
        { "\xf4\x8f\xbf\xbf", 4, true, 0 },   /* U+10FFFF */
        { "a\0b", 3, true, 0 },               /* NUL is valid UTF-8 */
        { "\xc0\x80", 2, false, 0 },          /* overlong NUL */
        { "\xc1\xbf", 2, false, 0 },
        { "abcdefgh\xe0\x9f\xbf", 11, false, 8 }, /* overlong 3-byte */
        { "\xf0\x8f\xbf\xbf", 4, false, 0 },  /* overlong 4-byte */
        { "\xed\xa0\x80", 3, false, 0 },      /* U+D800 */
        { "\xed\xbf\xbf", 3, false, 0 },      /* U+DFFF */
        { "\xf4\x90\x80\x80", 4, false, 0 },  /* U+110000 */
        { "\xf5\x80\x80\x80", 4, false, 0 },
        { "\xff", 1, false, 0 },
        { "ab\x80", 3, false, 2 },            /* stray continuation */
        { "\xe2\x82", 2, false, 0 },          /* truncated at end */
        { "\xe2\x82x", 3, false, 0 },         /* truncated by ASCII */
        { "0123456789abcdef\xc3", 17, false, 16 },
        { "0123456789ab\xc3\xa9" "cdef\xf0\x9f\x98\x80 tail", 26, true, 0 },
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t bad = 999;
        bool ok = dl_utf8_valid((const uint8_t *)cases[k].s, cases[k].n, &bad);
        if (ok != cases[k].ok)
            fprintf(stderr, "  utf8 case %zu\n", k);
        CHECK_INT(ok, cases[k].ok);
        if (!cases[k].ok)
            CHECK_INT(bad, cases[k].bad);
    }
    CHECK(dl_utf8_valid((const uint8_t *)"x", 1, NULL));
    char msg[128];
    dl_utf8_describe((const uint8_t *)"\xc0\xaf", 2, 0, msg, sizeof msg);
    CHECK_STR(msg, "invalid UTF-8 byte 0xC0");
}

static void test_suite(void)
{
    const char *dir = DL_TESTDATA_DIR "/JSONTestSuite/test_parsing";
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int y_ok = 0, y_bad = 0, n_ok = 0, n_bad = 0, i_acc = 0, i_rej = 0;
    struct dirent *de;
    char **names = NULL;
    size_t count = 0, alloc = 0;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 512;
            names = realloc(names, alloc * sizeof *names);
        }
        names[count++] = strdup(de->d_name);
    }
    closedir(d);
    /* sorted, so the output is stable */
    for (size_t a = 1; a < count; a++)
        for (size_t b = a; b > 0 && strcmp(names[b - 1], names[b]) > 0; b--) {
            char *t = names[b];
            names[b] = names[b - 1];
            names[b - 1] = t;
        }
    for (size_t k = 0; k < count; k++) {
        const char *name = names[k];
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        struct dl_buf b;
        dl_buf_init(&b, 0);
        CHECK_INT(dl_buf_read_file(&b, path), DL_OK);
        struct dl_json *v = NULL;
        struct dl_pos_err err;
        dl_arena_reset(arena);
        dl_pos_err_clear(&err);
        enum dl_err rc = dl_json_parse_doc(arena, b.data, b.len, &v, &err);
        if (name[0] == 'y') {
            if (rc == DL_OK) {
                y_ok++;
            } else {
                y_bad++;
                fprintf(stderr, "WRONG: %s rejected: %s at %" PRIu64 "\n", name, err.msg, err.offset);
            }
        } else if (name[0] == 'n') {
            if (rc != DL_OK) {
                n_ok++;
            } else {
                n_bad++;
                fprintf(stderr, "WRONG: %s accepted\n", name);
            }
        } else {
            if (rc == DL_OK)
                i_acc++;
            else
                i_rej++;
            fprintf(stderr, "  i: %-50s %s%s\n", name, rc == DL_OK ? "accepted" : "rejected: ",
                    rc == DL_OK ? "" : err.msg);
        }
        if (rc != DL_OK) {
            CHECK(err.line >= 1 && err.column >= 1 && err.offset <= b.len);
            CHECK(err.msg[0] != 0);
        }
        dl_buf_free(&b);
        free(names[k]);
    }
    free(names);
    fprintf(stderr, "JSONTestSuite: y %d accepted / %d rejected; n %d rejected / %d accepted; "
                    "i %d accepted / %d rejected\n", y_ok, y_bad, n_ok, n_bad, i_acc, i_rej);
    CHECK_INT(y_bad, 0);
    CHECK_INT(n_bad, 0);
    CHECK(y_ok > 90 && n_ok > 170);
}

int main(void)
{
    arena = dl_arena_new(0, 0);
    TEST_RUN(test_dom_shape);
    TEST_RUN(test_unescape);
    TEST_RUN(test_numbers);
    TEST_RUN(test_errors);
    TEST_RUN(test_depth);
    TEST_RUN(test_parse_value_multi);
    TEST_RUN(test_get_last_wins);
    TEST_RUN(test_arena_cap);
    TEST_RUN(test_utf8_valid);
    TEST_RUN(test_suite);
    dl_arena_destroy(arena);
    return test_summary();
}
