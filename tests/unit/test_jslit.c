#include "decode/jslit.h"

#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "item/item.h"
#include "item/number.h"
#include "test.h"

static struct dl_arena *arena;

#define PREFIX "module.exports = ["
#define PREFIX_LEN 18

/* ---- helpers ------------------------------------------------------------------------------- */

/* Inputs are copied into exactly-sized heap buffers (no NUL after them), so ASan sees any
 * read past the end. They live until the end of the test program's current case. */
static uint8_t *inputs[64];
static size_t ninputs;

static const uint8_t *keep_input(const void *s, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, s, n);
    if (ninputs == sizeof inputs / sizeof inputs[0]) {
        free(inputs[0]);
        memmove(inputs, inputs + 1, (ninputs - 1) * sizeof inputs[0]);
        ninputs--;
    }
    inputs[ninputs++] = p;
    return p;
}

static void free_inputs(void)
{
    for (size_t i = 0; i < ninputs; i++)
        free(inputs[i]);
    ninputs = 0;
}

static struct dl_jslit *open_n(const char *s, size_t n)
{
    struct dl_jslit *r = NULL;
    CHECK_INT(dl_jslit_new(keep_input(s, n), n, &r), DL_OK);
    return r;
}

static struct dl_jslit *open_rd(const char *s)
{
    return open_n(s, strlen(s));
}

/* Compare two DOMs: types, member names, string bytes, number texts (exactly, or by
 * DynamoDB value when numeric is set), order. Offsets are not compared. On a difference,
 * prints where and returns false. */
static bool dom_eq(const struct dl_json *a, const struct dl_json *b, bool numeric, const char *path)
{
    char sub[512];
    if (!a || !b) {
        if (a != b)
            fprintf(stderr, "  %s: one side is missing\n", path);
        return a == b;
    }
    if (a->type != b->type) {
        fprintf(stderr, "  %s: type %s vs %s\n", path, dl_json_type_name(a->type), dl_json_type_name(b->type));
        return false;
    }
    if (a->type == DL_JSON_NUMBER && numeric) {
        struct dl_buf ca, cb;
        dl_buf_init(&ca, 0);
        dl_buf_init(&cb, 0);
        bool ok = dl_num_canonical(a->str, &ca) == DL_OK && dl_num_canonical(b->str, &cb) == DL_OK &&
                  dl_cursor_eq(dl_buf_cur(&ca), dl_buf_cur(&cb));
        if (!ok)
            fprintf(stderr, "  %s: number %.*s vs %.*s\n", path, (int)a->str.len, (const char *)a->str.ptr,
                    (int)b->str.len, (const char *)b->str.ptr);
        dl_buf_free(&ca);
        dl_buf_free(&cb);
        return ok;
    }
    if ((a->type == DL_JSON_STRING || a->type == DL_JSON_NUMBER) && !dl_cursor_eq(a->str, b->str)) {
        fprintf(stderr, "  %s: '%.*s' vs '%.*s'\n", path, (int)a->str.len, (const char *)a->str.ptr,
                (int)b->str.len, (const char *)b->str.ptr);
        return false;
    }
    if (a->n != b->n) {
        fprintf(stderr, "  %s: %u vs %u children\n", path, (unsigned)a->n, (unsigned)b->n);
        return false;
    }
    const struct dl_json *x = a->child, *y = b->child;
    for (uint32_t k = 0; k < a->n; k++, x = x->next, y = y->next) {
        if (!x || !y) {
            fprintf(stderr, "  %s: child list shorter than n\n", path);
            return false;
        }
        if (a->type == DL_JSON_OBJECT) {
            if (!dl_cursor_eq(x->key, y->key)) {
                fprintf(stderr, "  %s: member '%.*s' vs '%.*s'\n", path, (int)x->key.len,
                        (const char *)x->key.ptr, (int)y->key.len, (const char *)y->key.ptr);
                return false;
            }
            snprintf(sub, sizeof sub, "%s.%.*s", path, (int)x->key.len, (const char *)x->key.ptr);
        } else {
            snprintf(sub, sizeof sub, "%s[%u]", path, (unsigned)k);
        }
        if (!dom_eq(x, y, numeric, sub))
            return false;
    }
    return x == NULL && y == NULL;
}

/* The only record of `module.exports = [elem];` (ITEM expected). */
static struct dl_json *one_item(int line, const char *elem)
{
    char buf[4096];
    snprintf(buf, sizeof buf, PREFIX "%s];", elem);
    struct dl_jslit *r = open_rd(buf);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    dl_arena_reset(arena);
    enum dl_jsonrec_status st = dl_jslit_next(r, arena, &o, &e);
    if (st != DL_JSONREC_ITEM)
        fprintf(stderr, "  (case at line %d) status %d: line %" PRIu64 " column %" PRIu64 ": %s\n", line,
                (int)st, e.line, e.column, e.msg);
    CHECK_INT(st, DL_JSONREC_ITEM);
    struct dl_json *v = st == DL_JSONREC_ITEM ? o.value : NULL;
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);
    return v;
}

/* JS element text and the JSON text of the same object: the DOMs must be equal. */
static void same_as_json(int line, const char *js, const char *json)
{
    struct dl_json *v = one_item(line, js), *w = NULL;
    struct dl_pos_err e;
    const uint8_t *jp = keep_input(json, strlen(json));
    CHECK_INT(dl_json_parse_doc(arena, jp, strlen(json), &w, &e), DL_OK);
    bool eq = v && w && dom_eq(v, w, false, "$");
    if (!eq)
        fprintf(stderr, "  (case at line %d) %s  vs  %s\n", line, js, json);
    CHECK(eq);
}
#define SAME(js, json) same_as_json(__LINE__, js, json)

/* A whole file whose first non-ITEM result is `st` with this message and position. */
static void expect_bad(int line, const char *in, size_t n, enum dl_jsonrec_status want, const char *msg,
                       uint64_t ln, uint64_t col)
{
    struct dl_jslit *r = open_n(in, n);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    enum dl_jsonrec_status st;
    do {
        dl_arena_reset(arena);
        st = dl_jslit_next(r, arena, &o, &e);
    } while (st == DL_JSONREC_ITEM);
    if (st != want || strcmp(e.msg, msg) != 0 || e.line != ln || e.column != col)
        fprintf(stderr, "  (case at line %d) got status %d, line %" PRIu64 " column %" PRIu64 ": %s\n", line,
                (int)st, e.line, e.column, e.msg);
    CHECK_INT(st, want);
    CHECK_STR(e.msg, msg);
    CHECK_INT(e.code, DL_ERR_PARSE);
    CHECK_INT(e.line, ln);
    CHECK_INT(e.column, col);
    CHECK(o.value == NULL);
    if (want == DL_JSONREC_FATAL) {
        CHECK_INT(o.raw.len, n - o.offset);
        CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    }
    dl_jslit_destroy(r);
}
#define FILE_FATAL(in, msg, ln, col) expect_bad(__LINE__, in, strlen(in), DL_JSONREC_FATAL, msg, ln, col)
/* An element of `module.exports = [ELEM]` on line 1: col is the column within ELEM. */
#define ELEM_FATAL(elem, msg, col)                                                            \
    expect_bad(__LINE__, PREFIX elem "]", strlen(PREFIX elem "]"), DL_JSONREC_FATAL, msg, 1, \
               (col) + PREFIX_LEN)

static const struct dl_json *member(const struct dl_json *obj, const char *name)
{
    return dl_json_get(obj, name);
}

/* ---- shapes of the file ---------------------------------------------------------------------- */

/* in holds items {i: 1}, {i: 2} in some accepted shape: both come back, then END. */
static void expect_two(int line, const char *in)
{
    struct dl_jslit *r = open_rd(in);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    for (int k = 1; k <= 2; k++) {
        dl_arena_reset(arena);
        enum dl_jsonrec_status st = dl_jslit_next(r, arena, &o, &e);
        if (st != DL_JSONREC_ITEM)
            fprintf(stderr, "  (case at line %d) status %d: %s\n", line, (int)st, e.msg);
        CHECK_INT(st, DL_JSONREC_ITEM);
        const struct dl_json *i = st == DL_JSONREC_ITEM ? member(o.value, "i") : NULL;
        CHECK(i && i->type == DL_JSON_NUMBER && i->str.len == 1 && i->str.ptr[0] == '0' + k);
        CHECK_INT(o.record, k);
    }
    enum dl_jsonrec_status st = dl_jslit_next(r, arena, &o, &e);
    if (st != DL_JSONREC_END)
        fprintf(stderr, "  (case at line %d) status %d: %s\n", line, (int)st, e.msg);
    CHECK_INT(st, DL_JSONREC_END);
    CHECK_INT(e.code, DL_OK);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);
}
#define TWO(in) expect_two(__LINE__, in)

static void test_shapes(void)
{
    TWO("module.exports = [{i: 1}, {i: 2}]");
    TWO("module.exports = [{i: 1}, {i: 2}];\n");
    TWO("module.exports=[{i:1},{i:2},];");
    TWO("export default [{i: 1}, {i: 2}];");
    TWO("const items = [{i: 1}, {i: 2}];");
    TWO("let items = [{i: 1}, {i: 2}]");
    TWO("var items = [{i: 1}, {i: 2}];");
    TWO("export const items = [{i: 1}, {i: 2}];");
    TWO("module.exports.items = [{i: 1}, {i: 2}];");
    TWO("exports.items = [{i: 1}, {i: 2}];");
    TWO("[{i: 1}, {i: 2}]\n");
    /* the array inside a one-member object */
    TWO("module.exports = { items: [{i: 1}, {i: 2}] };");
    TWO("module.exports = { \"items\": [{i: 1}, {i: 2}], };");
    TWO("export default { movies: [{i: 1}, {i: 2}] }");
    TWO("const data = { 'items': [{i: 1}, {i: 2}] };\nmodule.exports = data;");
    /* a declaration exported afterwards */
    TWO("const items = [{i: 1}, {i: 2}];\nmodule.exports = items;\n");
    TWO("const items = [{i: 1}, {i: 2}];\nmodule.exports = { items };\n");
    TWO("const items = [{i: 1}, {i: 2}];\nmodule.exports = { movies: items, };\n");
    TWO("const items = [{i: 1}, {i: 2}];\nmodule.exports.movies = items\n");
    TWO("const items = [{i: 1}, {i: 2}];\nexports.movies = items;\n");
    TWO("const items = [{i: 1}, {i: 2}];\nexport default items;\n");
    TWO("const items = [{i: 1}, {i: 2}];\nexport { items };\n");
    TWO("const items = [{i: 1}, {i: 2}];\nexport { items as default };\nmodule.exports = items;");
    /* prologue: BOM, hashbang, 'use strict', comments, empty statements */
    TWO("\xEF\xBB\xBFmodule.exports = [{i: 1}, {i: 2}];");
    TWO("#!/usr/bin/env node\n'use strict';\n// seed\n/* data */ module.exports = [{i: 1}, {i: 2}];");
    TWO("\"use strict\"\n;;module /* c */ . exports // c\n = // c\n [{i: 1}, {i: 2}] // end");
    TWO("module.exports = [{i: 1}, {i: 2}]; ; // done\n/* bye */\n");
}

static void test_shape_errors(void)
{
#define SHAPES "accepted: module.exports = [...], export default [...], const|let|var NAME = [...], " \
               "or { NAME: [...] } in place of the array"
    FILE_FATAL("", "no item array in this file; " SHAPES, 1, 1);
    FILE_FATAL("// only a comment\n", "no item array in this file; " SHAPES, 2, 1);
    FILE_FATAL("console.log('hi')", "not a JavaScript item file (found 'console'); " SHAPES, 1, 1);
    FILE_FATAL("{\"a\": 1}", "not a JavaScript item file (found '{'); " SHAPES, 1, 1);
    FILE_FATAL("module.exports = require('./items.json');",
               "the exported value must be an array literal of items (found 'require('); " SHAPES, 1, 18);
    FILE_FATAL("module.exports = {Name: 'x', Year: 2014}",
               "the object around the items must hold an array literal of items (found a string); " SHAPES, 1, 25);
    FILE_FATAL("module.exports = items", "the exported value must be an array literal of items (found 'items'); " SHAPES,
               1, 18);
    FILE_FATAL("export function f() {}",
               "expected 'default', 'const', 'let' or 'var' after 'export' (found 'function'); " SHAPES, 1, 8);
    FILE_FATAL("const = [1]", "expected a variable name (found '='); " SHAPES, 1, 7);
    FILE_FATAL("module.export = []", "expected module.exports (found 'export'); " SHAPES, 1, 8);
    FILE_FATAL("/* open", "unterminated /* comment", 1, 1);
    /* after the array */
    FILE_FATAL("module.exports = [{i: 1}];\nfoo();", "only comments may follow the item array (found 'foo')", 2, 1);
    FILE_FATAL("module.exports = [{i: 1}].map(x => x);", "only comments may follow the item array (found '.')", 1, 26);
    FILE_FATAL("const a = [{i: 1}];\nmodule.exports = b;",
               "only comments and an export of 'a' may follow the item array (found 'module')", 2, 1);
    FILE_FATAL("module.exports = { items: [{i: 1}], more: [] };",
               "the object around the item array may hold only that array (expected '}', found 'more')", 1, 37);
    FILE_FATAL("module.exports = [{i: 1}] /* open", "unterminated /* comment", 1, 27);
}

/* ---- records: positions, raw text, non-object elements, fatal stops ------------------------ */

static void test_records(void)
{
    const char *in = "// seed\nmodule.exports = [\n  {a: 'x', b: [1]},\n  42,\n\t{c: undefined},\n  'str', null,\n  {d: 1}\n];\n";
    struct dl_jslit *r = open_rd(in);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;

    dl_arena_reset(arena);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(o.record, 1);
    CHECK_INT(o.line, 3);
    CHECK_INT(o.column, 3);
    CHECK_INT(o.offset, 29);
    CHECK_MEM_STR(o.raw.ptr, o.raw.len, "{a: 'x', b: [1]}");
    CHECK_INT(e.code, DL_OK);
    /* node offsets are relative to the record */
    CHECK_INT(o.value->offset, 0);
    CHECK_INT(member(o.value, "a")->offset, 4);
    CHECK_INT(member(o.value, "b")->offset, 12);
    CHECK_INT(member(o.value, "b")->child->offset, 13);
    /* strings without escapes borrow from the input */
    CHECK(member(o.value, "a")->str.ptr == o.raw.ptr + 5);

    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_INT(o.record, 2);
    CHECK_STR(e.msg, "array element 2 is not an object (found number)");
    CHECK_INT(e.line, 4);
    CHECK_INT(e.column, 3);
    CHECK_INT(e.offset, 49);
    CHECK_MEM_STR(o.raw.ptr, o.raw.len, "42");
    CHECK(o.value == NULL);

    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(o.record, 3);
    CHECK_INT(o.line, 5);
    CHECK_INT(o.column, 2);
    CHECK_INT(o.value->n, 0); /* {c: undefined} is {} */
    CHECK_MEM_STR(o.raw.ptr, o.raw.len, "{c: undefined}");

    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_STR(e.msg, "array element 4 is not an object (found string)");
    CHECK_MEM_STR(o.raw.ptr, o.raw.len, "'str'");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_STR(e.msg, "array element 5 is not an object (found null)");
    CHECK_INT(e.column, 10);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(o.record, 6);
    CHECK_INT(o.line, 7);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    CHECK_INT(dl_jslit_next(r, arena, &o, NULL), DL_JSONREC_END);
    dl_jslit_destroy(r);

    /* undefined as an element, arrays and booleans as elements */
    r = open_rd("export default [undefined, [1], true, {}]");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_STR(e.msg, "array element 1 is not an object (found undefined)");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_STR(e.msg, "array element 2 is not an object (found array)");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ERROR);
    CHECK_STR(e.msg, "array element 3 is not an object (found boolean)");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);

    /* an empty array: no records */
    r = open_rd("module.exports = [ /* none yet */ ];");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);

    /* a syntax error stops the file: FATAL at the element, raw to the end, then END */
    in = "module.exports = [\n  {a: 1},\n  {b: foo},\n  {c: 3},\n];";
    r = open_rd(in);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_FATAL);
    CHECK_INT(o.record, 2);
    CHECK_INT(o.line, 3);
    CHECK_INT(o.column, 3);
    CHECK_INT(o.offset, 31);
    CHECK_MEM_STR(o.raw.ptr, o.raw.len, "{b: foo},\n  {c: 3},\n];");
    CHECK_STR(e.msg, "identifiers are not allowed as values in item files (found 'foo'); quote it to make it a string");
    CHECK_INT(e.line, 3);
    CHECK_INT(e.column, 7);
    CHECK_INT(e.offset, 35);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);

    /* positions count a BOM's bytes; lines are counted at \n (CRLF files work) */
    r = open_rd("\xEF\xBB\xBFmodule.exports = [\r\n{a: 1},\r\n  {b: 2}]");
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(o.offset, 23);
    CHECK_INT(o.line, 2);
    CHECK_INT(o.column, 1);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(o.line, 3);
    CHECK_INT(o.column, 3);
    dl_jslit_destroy(r);

    /* the example from the docs: a call on line 12, column 9 */
    FILE_FATAL("module.exports = [\n  {\n    Name: 'a',\n  },\n  {\n    Name: 'b',\n  },\n  {\n    Name: 'c',\n"
               "    Year: 2014,\n    Genres: [],\n  when: Date('2014-05-02'),\n  },\n];\n",
               "function calls are not allowed in item files (found 'Date(')", 12, 9);
}

/* ---- values ------------------------------------------------------------------------------------- */

static void test_keys(void)
{
    SAME("{a: 1, $b: 2, _c: 3, $: 4, _: 5, a1$_: 6}", "{\"a\":1,\"$b\":2,\"_c\":3,\"$\":4,\"_\":5,\"a1$_\":6}");
    SAME("{'single': 1, \"double\": 2, 'it\\'s': 3, '': 4}", "{\"single\":1,\"double\":2,\"it's\":3,\"\":4}");
    /* reserved words and literal names are ordinary names */
    SAME("{default: 1, class: 2, new: 3, true: 4, null: 5, undefined: 6, get: 7, set: 8, async: 9}",
         "{\"default\":1,\"class\":2,\"new\":3,\"true\":4,\"null\":5,\"undefined\":6,\"get\":7,\"set\":8,\"async\":9}");
    SAME("{caf\xC3\xA9: 1, \xCF\x80: 2}", "{\"caf\xC3\xA9\":1,\"\xCF\x80\":2}");
    /* numeric names are what JavaScript calls them (String(number)) */
    SAME("{1: 'a', 0x10: 'b', 1.50: 'c', .5: 'd', 5.: 'e', 1e3: 'f', 0b11: 'g', 0o17: 'h', 1_000: 'i'}",
         "{\"1\":\"a\",\"16\":\"b\",\"1.5\":\"c\",\"0.5\":\"d\",\"5\":\"e\",\"1000\":\"f\",\"3\":\"g\",\"15\":\"h\",\"1000\":\"i\"}");
    SAME("{1e21: 1, 1e-7: 2, 0.000001: 3, 123456789012345678901: 4, 0.1: 5, 0: 6, 1e400: 7, 10n: 8}",
         "{\"1e+21\":1,\"1e-7\":2,\"0.000001\":3,\"123456789012345680000\":4,\"0.1\":5,\"0\":6,\"Infinity\":7,\"10\":8}");
    SAME("{1.2345e-10: 1, 98765.4321e3: 2, 0x1FFFFFFFFFFFFF1: 3}",
         "{\"1.2345e-10\":1,\"98765432.1\":2,\"144115188075855860\":3}");
    /* duplicates are all kept; the mapping takes the last */
    struct dl_json *v = one_item(__LINE__, "{a: 1, a: 2, 'a': 3}");
    CHECK(v && v->n == 3);
    CHECK(v && member(v, "a")->str.ptr[0] == '3');
    /* comments between the parts */
    SAME("{ /* k */ a /* before : */ : // after :\n 1 }", "{\"a\":1}");
}

static void test_strings(void)
{
    SAME("{s: 'single', d: \"double\", t: `template`}", "{\"s\":\"single\",\"d\":\"double\",\"t\":\"template\"}");
    SAME("{a: 'it\\'s \"q\"', b: \"say \\\"hi\\\" it's\", c: `back\\`tick ' \"`}",
         "{\"a\":\"it's \\\"q\\\"\",\"b\":\"say \\\"hi\\\" it's\",\"c\":\"back`tick ' \\\"\"}");
    SAME("{e: '\\n\\t\\r\\b\\f\\v\\0\\\\'}", "{\"e\":\"\\n\\t\\r\\b\\f\\u000b\\u0000\\\\\"}");
    SAME("{x: '\\x41\\xe9\\xFF', u: '\\u0041\\u00e9\\u20AC', b: '\\u{41}\\u{1F600}\\u{0000e9}\\u{10FFFF}'}",
         "{\"x\":\"A\xC3\xA9\xC3\xBF\",\"u\":\"A\xC3\xA9\xE2\x82\xAC\",\"b\":\"A\xF0\x9F\x98\x80\xC3\xA9\xF4\x8F\xBF\xBF\"}");
    /* surrogate pairs in either escape form */
    SAME("{p: '\\uD83D\\uDE00', q: '\\uD83D\\u{DE00}', r: '\\u{D83D}\\uDE00'}",
         "{\"p\":\"\\uD83D\\uDE00\",\"q\":\"\\uD83D\\uDE00\",\"r\":\"\\uD83D\\uDE00\"}");
    /* identity escapes: the character itself */
    SAME("{i: '\\a\\q\\/\\$\\`\\\xC3\xA9'}", "{\"i\":\"aq/$`\xC3\xA9\"}");
    /* line continuations vanish: LF, CRLF, CR, U+2028 */
    SAME("{c: 'one \\\ntwo \\\r\nthree \\\rfour \\\xE2\x80\xA8" "five'}", "{\"c\":\"one two three four five\"}");
    /* raw characters: UTF-8, tab, U+2028 in a quoted string; template line breaks (CR LF and CR read as LF) */
    SAME("{u: 'Am\xC3\xA9lie \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7', t: 'a\tb', l: 'x\xE2\x80\xA8y'}",
         "{\"u\":\"Am\xC3\xA9lie \xF0\x9F\x87\xAB\xF0\x9F\x87\xB7\",\"t\":\"a\\tb\",\"l\":\"x\xE2\x80\xA8y\"}");
    SAME("{m: `line 1\nline 2\r\nline 3\rend`}", "{\"m\":\"line 1\\nline 2\\nline 3\\nend\"}");
    SAME("{d: `cost: $5, {braces}, \\${not a substitution}`}", "{\"d\":\"cost: $5, {braces}, ${not a substitution}\"}");
    SAME("{e: '', f: \"\", g: ``}", "{\"e\":\"\",\"f\":\"\",\"g\":\"\"}");
    /* a NUL from \0 is kept in the bytes */
    struct dl_json *v = one_item(__LINE__, "{z: 'a\\0b'}");
    CHECK(v && member(v, "z")->str.len == 3 && member(v, "z")->str.ptr[1] == 0);
}

static void test_string_errors(void)
{
    ELEM_FATAL("{a: '\\uD800'}", "lone surrogate escape (U+D800 without a low surrogate after it) cannot be stored as UTF-8", 6);
    ELEM_FATAL("{a: 'x\\uDC00'}", "lone surrogate escape (U+DC00 without a high surrogate before it) cannot be stored as UTF-8", 7);
    ELEM_FATAL("{a: '\\u{D83D}x'}", "lone surrogate escape (U+D83D without a low surrogate after it) cannot be stored as UTF-8", 6);
    ELEM_FATAL("{a: '\\uD83D\\u0041'}", "lone surrogate escape (U+D83D without a low surrogate after it) cannot be stored as UTF-8", 6);
    ELEM_FATAL("{a: '\\u12'}", "invalid \\u escape (expected 4 hex digits or \\u{...})", 6);
    ELEM_FATAL("{a: '\\u{}'}", "invalid \\u{...} escape (expected hex digits and '}')", 6);
    ELEM_FATAL("{a: '\\u{110000}'}", "\\u{...} escape above U+10FFFF", 6);
    ELEM_FATAL("{a: '\\xG1'}", "invalid \\x escape (expected 2 hex digits)", 6);
    ELEM_FATAL("{a: '\\1'}", "octal escape sequences are not allowed (found '\\1'); use \\x or \\u", 6);
    ELEM_FATAL("{a: '\\08'}", "octal escape sequences are not allowed (found '\\08'); use \\x or \\u", 6);
    ELEM_FATAL("{a: '\\9'}", "octal escape sequences are not allowed (found '\\9'); use \\x or \\u", 6);
    ELEM_FATAL("{a: 'abc}", "unterminated string", 5);
    ELEM_FATAL("{a: `abc}", "unterminated template literal", 5);
    ELEM_FATAL("{a: 'two\nlines'}", "unterminated string: a quoted string cannot span lines (use \\n, a backslash "
                                    "before the line break, or a template literal)", 5);
    ELEM_FATAL("{a: `Hello ${name}`}", "template literal substitutions ('${...}') are not allowed in item files: "
                                       "nothing is evaluated", 12);
    ELEM_FATAL("{a: 'caf\xE9'}", "truncated UTF-8 sequence starting with byte 0xE9", 9);
    ELEM_FATAL("{a: 'x\xC0\xAF'}", "invalid UTF-8 byte 0xC0", 7);
    ELEM_FATAL("{a: '\\\xFF'}", "invalid UTF-8 byte 0xFF", 7);
    ELEM_FATAL("{'\xED\xA0\x80': 1}", "UTF-8 encoded surrogate 0xED 0xA0 (U+D800..U+DFFF are not characters)", 3);
    ELEM_FATAL("{a\xFF: 1}", "invalid UTF-8 byte 0xFF", 3);
}

/* Number values: the text the DOM holds (JSON number grammar). */
static void num_case(int line, const char *js, const char *want)
{
    char elem[256];
    snprintf(elem, sizeof elem, "{n: %s}", js);
    struct dl_json *v = one_item(line, elem);
    const struct dl_json *n = v ? member(v, "n") : NULL;
    CHECK(n && n->type == DL_JSON_NUMBER);
    if (!n || n->type != DL_JSON_NUMBER)
        return;
    char got[256];
    snprintf(got, sizeof got, "%.*s", (int)n->str.len, (const char *)n->str.ptr);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "  (case at line %d) %s\n", line, js);
    CHECK_STR(got, want);
    /* and DynamoDB's number check takes it */
    if (strlen(want) < 40)
        CHECK_INT(dl_num_check(n->str, NULL, NULL, 0), DL_OK);
}
#define NUM(js, want) num_case(__LINE__, js, want)

static void test_numbers(void)
{
    NUM("0", "0");
    NUM("-0", "-0");
    NUM("42", "42");
    NUM("-42", "-42");
    NUM("+42", "42");
    NUM("6.6", "6.6");
    NUM("0.50", "0.50");
    NUM(".5", "0.5");
    NUM("-.5", "-0.5");
    NUM("+.5", "0.5");
    NUM("5.", "5");
    NUM("-5.", "-5");
    NUM("5.e3", "5e3");
    NUM(".5E-3", "0.5E-3");
    NUM("1e10", "1e10");
    NUM("1E+5", "1E+5");
    NUM("2.5e-3", "2.5e-3");
    NUM("0x1F", "31");
    NUM("0X1f", "31");
    NUM("-0x10", "-16");
    NUM("0xBEBC200", "200000000");
    NUM("0xFFFFFFFFFFFFFFFFFFFF", "1208925819614629174706175");
    NUM("0o17", "15");
    NUM("0O777", "511");
    NUM("0b101", "5");
    NUM("0B0", "0");
    NUM("1_000_000", "1000000");
    NUM("0.000_1", "0.0001");
    NUM("1e1_0", "1e10");
    NUM("0xFF_FF", "65535");
    NUM("123n", "123");
    NUM("-123n", "-123");
    NUM("0x1Fn", "31");
    NUM("12345678901234567890123456789012345678", "12345678901234567890123456789012345678");
    NUM("- 5", "-5");
    NUM("-/* minus */5", "-5");
    NUM("+\n5", "5");
    /* the text is kept exactly when it is already JSON (no double rounding) */
    struct dl_json *v = one_item(__LINE__, "{n: 0.1000000000000000055511151231257827}");
    CHECK(v && member(v, "n")->str.len == 36);
}

static void test_number_errors(void)
{
    ELEM_FATAL("{n: NaN}", "NaN and Infinity are not allowed: DynamoDB numbers are finite (found 'NaN')", 5);
    ELEM_FATAL("{n: Infinity}", "NaN and Infinity are not allowed: DynamoDB numbers are finite (found 'Infinity')", 5);
    ELEM_FATAL("{n: -Infinity}", "NaN and Infinity are not allowed: DynamoDB numbers are finite (found 'Infinity')", 6);
    ELEM_FATAL("{n: 017}", "numbers cannot start with 0 (found '017'); legacy octal literals are not allowed: write "
                           "0o17 for octal or drop the zeros", 5);
    ELEM_FATAL("{n: 08.5}", "numbers cannot start with 0 (found '08'); legacy octal literals are not allowed: write "
                            "0o17 for octal or drop the zeros", 5);
    ELEM_FATAL("{n: 1__0}", "numeric separator '_' must stand between two digits", 6);
    ELEM_FATAL("{n: 1_}", "numeric separator '_' must stand between two digits", 6);
    ELEM_FATAL("{n: 1._5}", "numeric separator '_' must stand between two digits", 7);
    ELEM_FATAL("{n: 0x}", "expected hexadecimal digits after '0x'", 5);
    ELEM_FATAL("{n: 0b102}", "invalid number '0b102'", 5);
    ELEM_FATAL("{n: 0o8}", "invalid number '0o8'", 5);
    ELEM_FATAL("{n: 5px}", "invalid number '5px'", 5);
    ELEM_FATAL("{n: 1.5n}", "invalid number '1.5n'", 5);
    ELEM_FATAL("{n: 5.toFixed(2)}", "invalid number '5.toFixed'", 5);
    ELEM_FATAL("{n: 1e}", "expected digits in the exponent, found '}'", 7);
    ELEM_FATAL("{n: 1e+}", "expected digits in the exponent, found '}'", 8);
    ELEM_FATAL("{n: --5}", "only one sign may stand before a number (found '--')", 5);
    ELEM_FATAL("{n: +-5}", "only one sign may stand before a number (found '+-')", 5);
    ELEM_FATAL("{n: -'5'}", "a '-' sign is only allowed before a number (found '-' before a string)", 5);
    ELEM_FATAL("{n: -x}", "a '-' sign is only allowed before a number (found '-' before 'x')", 5);
    ELEM_FATAL("{n: +5n}", "a '+' sign cannot stand before a BigInt (JavaScript throws a TypeError)", 5);
    ELEM_FATAL("{n: 1 + 2}", "operators and expressions are not allowed in item files (found '+'); write each "
                             "value out in full", 7);
}

static void test_literals(void)
{
    SAME("{t: true, f: false, n: null}", "{\"t\":true,\"f\":false,\"n\":null}");
    /* undefined: the member (or list element) is left out */
    SAME("{a: 1, b: undefined, c: [undefined, 2, undefined], d: {e: undefined}}", "{\"a\":1,\"c\":[2],\"d\":{}}");
    /* ... and, as in JavaScript, hides an earlier member of the same name */
    SAME("{a: 1, b: 2, a: undefined, c: 3, b: undefined, b: 4}", "{\"c\":3,\"b\":4}");
    SAME("{x: [], y: {}, z: [[], {}], w: [1, [2, [3]]], v: {a: {b: {c: null}}}}",
         "{\"x\":[],\"y\":{},\"z\":[[],{}],\"w\":[1,[2,[3]]],\"v\":{\"a\":{\"b\":{\"c\":null}}}}");
    /* trailing commas, comments and whitespace of every kind */
    SAME("{ a: [1, 2, ], b: {c: 1, }, }", "{\"a\":[1,2],\"b\":{\"c\":1}}");
    SAME("{// line\na/*1*/:/*2*/[/*3*/1/*4*/,/*5*/2/*6*/]/*7*/,\xC2\xA0\xE2\x80\x80" "b\v:\f\xEF\xBB\xBF" "2\xE2\x80\xA8}",
         "{\"a\":[1,2],\"b\":2}");
}

static void test_rejections(void)
{
    ELEM_FATAL("{when: Date()}", "function calls are not allowed in item files (found 'Date(')", 8);
    ELEM_FATAL("{when: Date.now()}", "function calls are not allowed in item files (found 'Date.now(')", 8);
    ELEM_FATAL("{id: uuid ()}", "function calls are not allowed in item files (found 'uuid(')", 6);
    ELEM_FATAL("{when: new Date('2014-01-01')}", "'new' expressions are not allowed in item files: nothing is "
                                                 "evaluated (found 'new Date'); write the value as a string or number", 8);
    ELEM_FATAL("{a: foo}", "identifiers are not allowed as values in item files (found 'foo'); quote it to make "
                           "it a string", 5);
    ELEM_FATAL("{a: process.env.HOME}", "identifiers are not allowed as values in item files (found "
                                        "'process.env.HOME'); quote it to make it a string", 5);
    ELEM_FATAL("{a: 'x'.repeat(3)}", "property access and method calls are not allowed in item files (found '.' "
                                     "after a value)", 8);
    ELEM_FATAL("{a: [1](0)}", "function calls are not allowed in item files (found '(' after a value)", 8);
    ELEM_FATAL("{a: [1][0]}", "indexing is not allowed in item files (found '[' after a value)", 8);
    ELEM_FATAL("{...base, a: 1}", "spread ('...') is not allowed in item files", 2);
    ELEM_FATAL("{a: [...list]}", "spread ('...') is not allowed in item files", 6);
    ELEM_FATAL("{[key]: 1}", "computed property names ('[...]:') are not allowed in item files", 2);
    ELEM_FATAL("{a: /ab+c/i}", "regular expression literals are not allowed in item files", 5);
    ELEM_FATAL("{name, year: 1}", "shorthand properties are not allowed in item files (found 'name' without ':'); "
                                  "write name: value", 2);
    ELEM_FATAL("{a: 1, name}", "shorthand properties are not allowed in item files (found 'name' without ':'); "
                               "write name: value", 8);
    ELEM_FATAL("{get total() { return 1 }}", "getters, setters and methods are not allowed in item files (found "
                                             "'get total')", 2);
    ELEM_FATAL("{set x(v) {}}", "getters, setters and methods are not allowed in item files (found 'set x')", 2);
    ELEM_FATAL("{async load() {}}", "getters, setters and methods are not allowed in item files (found 'async load')", 2);
    ELEM_FATAL("{load() {}}", "methods are not allowed in item files (found 'load(')", 2);
    ELEM_FATAL("{*gen() {}}", "generator methods are not allowed in item files (found '*')", 2);
    ELEM_FATAL("{a: () => 1}", "parentheses are not allowed in item files: grouped expressions and arrow "
                               "functions are code (found '(')", 5);
    ELEM_FATAL("{a: x => x}", "arrow functions are not allowed in item files (found 'x =>')", 5);
    ELEM_FATAL("{a: function () {}}", "functions and classes are not allowed in item files (found 'function')", 5);
    ELEM_FATAL("{a: class {}}", "functions and classes are not allowed in item files (found 'class')", 5);
    ELEM_FATAL("{a: typeof x}", "operators are not allowed in item files (found 'typeof')", 5);
    ELEM_FATAL("{a: !0}", "operators are not allowed in item files (found '!')", 5);
    ELEM_FATAL("{a: 'x' + 'y'}", "operators and expressions are not allowed in item files (found '+'); write each "
                                 "value out in full", 9);
    ELEM_FATAL("{a: 1 ? 2 : 3}", "operators and expressions are not allowed in item files (found '?'); write each "
                                 "value out in full", 7);
    ELEM_FATAL("{a: html`<b>`}", "tagged templates are not allowed in item files (found 'html`')", 5);
    ELEM_FATAL("{`k`: 1}", "template literals cannot be property names; use '...' or \"...\"", 2);
    ELEM_FATAL("{-1: 1}", "signed numbers cannot be property names; quote the name", 2);
    ELEM_FATAL("{a = 1}", "'=' is not allowed in an object literal; write a: value", 4);
    ELEM_FATAL("{__proto__: {admin: true}}", "'__proto__' sets an object's prototype in JavaScript and is not an "
                                             "attribute; rename it", 2);
    ELEM_FATAL("{'__proto__': 1}", "'__proto__' sets an object's prototype in JavaScript and is not an attribute; "
                                   "rename it", 2);
    ELEM_FATAL("{\\u0061: 1}", "escape sequences in identifiers are not supported; quote the name", 2);
    ELEM_FATAL("{a: [1,,2]}", "empty array elements (holes) are not allowed in item files", 8);
    ELEM_FATAL("{a: [,1]}", "empty array elements (holes) are not allowed in item files", 6);
    ELEM_FATAL("{a: 1 b: 2}", "expected ',' or '}' after object member, found 'b'", 7);
    ELEM_FATAL("{a 1}", "expected ':' after property name, found '1'", 4);
    ELEM_FATAL("{a: }", "expected a value, found '}'", 5);
    ELEM_FATAL("{a: 1,, b: 2}", "expected a property name, found ','", 7);
    ELEM_FATAL("{a: [1 2]}", "expected ',' or ']' after array element, found '2'", 8);
    ELEM_FATAL("{a: 1 /* open }", "unterminated /* comment", 7);
    ELEM_FATAL("{a: #x}", "expected a value, found '#'", 5);
    /* at the top level */
    FILE_FATAL("module.exports = [{a: 1},, {b: 2}]", "empty array elements (holes) are not allowed in item files", 1, 26);
    FILE_FATAL("module.exports = [, {b: 2}]", "empty array elements (holes) are not allowed in item files", 1, 19);
    FILE_FATAL("module.exports = [{a: 1} {b: 2}]", "expected ',' or ']' after array element, found '{'", 1, 26);
    FILE_FATAL("module.exports = [{a: 1}, ...more]", "spread ('...') is not allowed in item files", 1, 27);
    FILE_FATAL("module.exports = [{a: 1},\n", "unexpected end of input (the item array is not closed)", 2, 1);
    FILE_FATAL("module.exports = [{a: 1}", "unexpected end of input (the item array is not closed)", 1, 25);
    FILE_FATAL("module.exports = [{a: 1", "unexpected end of input (expected ',' or '}' after object member)", 1, 24);
    FILE_FATAL("module.exports = [{a: 1}, makeItem(2)]", "function calls are not allowed in item files (found "
                                                         "'makeItem(')", 1, 27);
}

static void test_depth_and_memory(void)
{
    /* an object and 511 arrays: 512 levels, the limit; one more fails at the extra '[' */
    char buf[1200];
    size_t n = 0;
    n += (size_t)sprintf(buf, PREFIX "{a: ");
    for (int k = 0; k < 511; k++)
        buf[n++] = '[';
    for (int k = 0; k < 511; k++)
        buf[n++] = ']';
    n += (size_t)sprintf(buf + n, "}]");
    struct dl_jslit *r = open_n(buf, n);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    dl_arena_reset(arena);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_ITEM);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_END);
    dl_jslit_destroy(r);

    n = (size_t)sprintf(buf, PREFIX "{a: ");
    for (int k = 0; k < 512; k++)
        buf[n++] = '[';
    r = open_n(buf, n);
    CHECK_INT(dl_jslit_next(r, arena, &o, &e), DL_JSONREC_FATAL);
    CHECK_STR(e.msg, "nesting deeper than 512");
    CHECK_INT(e.column, PREFIX_LEN + 4 + 512);
    dl_jslit_destroy(r);

    /* an arena cap is reported as DL_ERR_TOO_LARGE, FATAL */
    struct dl_arena *small = dl_arena_new(1024, 2048);
    struct dl_buf big;
    dl_buf_init(&big, 0);
    dl_buf_append_str(&big, PREFIX "{a: [");
    for (int k = 0; k < 200; k++)
        dl_buf_append_str(&big, "'\\t', ");
    dl_buf_append_str(&big, "]}]");
    r = open_n((const char *)big.data, big.len);
    CHECK_INT(dl_jslit_next(r, small, &o, &e), DL_JSONREC_FATAL);
    CHECK_INT(e.code, DL_ERR_TOO_LARGE);
    CHECK_STR(e.msg, "item does not fit in memory (arena cap reached)");
    dl_jslit_destroy(r);
    dl_buf_free(&big);
    dl_arena_destroy(small);
}

/* ---- the realistic fixture ----------------------------------------------------------------------- */

static bool read_fixture(const char *name, struct dl_buf *b)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/js/%s", DL_TEST_DATA_DIR, name);
    dl_buf_init(b, 0);
    enum dl_err rc = dl_buf_read_file(b, path);
    if (rc)
        fprintf(stderr, "  cannot read %s\n", path);
    return rc == DL_OK;
}

/* movies.js, movies_esm.mjs and movies_decl.js hold the same five movies in three shapes;
 * movies.json is what Node's JSON.stringify(require('./movies.js')) printed. */
static void check_movies(const char *fixture)
{
    struct dl_buf js, json;
    if (!read_fixture(fixture, &js) || !read_fixture("movies.json", &json)) {
        CHECK(0);
        return;
    }
    struct dl_arena *ja = dl_arena_new(0, 0);
    struct dl_json *doc = NULL;
    struct dl_pos_err e;
    CHECK_INT(dl_json_parse_doc(ja, json.data, json.len, &doc, &e), DL_OK);
    struct dl_jslit *r = NULL;
    CHECK_INT(dl_jslit_new(js.data, js.len, &r), DL_OK);
    struct dl_jsonrec_out o;
    const struct dl_json *want = doc ? doc->child : NULL;
    int nitems = 0;
    enum dl_jsonrec_status st;
    while ((st = dl_jslit_next(r, arena, &o, &e)) == DL_JSONREC_ITEM) {
        char path[32];
        snprintf(path, sizeof path, "%s[%d]", fixture, nitems);
        CHECK(want != NULL);
        /* Node printed numbers its own way (7.23e8 as 723000000): compare those by value */
        CHECK(dom_eq(o.value, want, true, path));
        want = want ? want->next : NULL;
        nitems++;
    }
    CHECK_INT(st, DL_JSONREC_END);
    if (st != DL_JSONREC_END)
        fprintf(stderr, "  %s: line %" PRIu64 " column %" PRIu64 ": %s\n", fixture, e.line, e.column, e.msg);
    CHECK_INT(nitems, 5);
    CHECK(want == NULL);
    dl_jslit_destroy(r);
    dl_arena_destroy(ja);
    dl_buf_free(&js);
    dl_buf_free(&json);
}

static void test_movies(void)
{
    check_movies("movies.js");
    check_movies("movies_esm.mjs");
    check_movies("movies_decl.js");

    /* and through the mapping, unchanged, into DynamoDB items */
    struct dl_buf js;
    if (!read_fixture("movies.js", &js)) {
        CHECK(0);
        return;
    }
    struct dl_key_schema ks = { 2, { { "Name", 4, 'S' }, { "Year", 4, 'N' } } };
    struct dl_item it;
    dl_item_init(&it);
    struct dl_jslit *r = NULL;
    CHECK_INT(dl_jslit_new(js.data, js.len, &r), DL_OK);
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    int k = 0;
    while (dl_jslit_next(r, arena, &o, &e) == DL_JSONREC_ITEM) {
        dl_item_reset(&it);
        CHECK_INT(dl_item_from_json(&it, o.value, &ks, &e), DL_OK);
        const char *w = (const char *)it.wire.data;
        if (k == 0) {
            CHECK_INT(o.line, 7);
            CHECK_INT(o.column, 3);
            CHECK_STR(w, "{\"Name\":{\"S\":\"The Amazing Spider-Man 2\"},\"Year\":{\"N\":\"2014\"},"
                         "\"Genres\":{\"L\":[{\"S\":\"Action\"},{\"S\":\"Sci-Fi\"}]},\"Rating\":{\"N\":\"6.6\"},"
                         "\"Actors\":{\"L\":[{\"S\":\"Andrew Garfield\"},{\"S\":\"Emma Stone\"},{\"S\":\"Jamie Foxx\"}]},"
                         "\"Info\":{\"M\":{\"Directors\":{\"L\":[{\"S\":\"Marc Webb\"}]},\"RunningTimeSecs\":{\"N\":\"8520\"},"
                         "\"Plot\":{\"S\":\"Peter Parker's greatest battle begins.\"},\"Budget\":{\"N\":\"200000000\"}}}}");
        }
        if (k == 2)
            CHECK(strstr(w, "Rating") == NULL); /* Rating: undefined */
        if (k == 4) {
            CHECK(strstr(w, "\"Released\":{\"BOOL\":true},\"Sequel\":{\"NULL\":true}") != NULL);
            CHECK(strstr(w, "\"Budget\":{\"N\":\"100000000\"},\"Score\":{\"N\":\"0.79\"},\"BoxOffice\":{\"N\":\"7.23e8\"}") != NULL);
        }
        k++;
    }
    CHECK_INT(k, 5);
    dl_jslit_destroy(r);
    dl_item_free(&it);
    dl_buf_free(&js);
}

/* ---- robustness ------------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static bool json_number_text(struct dl_cursor c)
{
    struct dl_arena *na = dl_arena_new(256, 0);
    struct dl_json *v = NULL;
    struct dl_pos_err e;
    bool ok = dl_json_parse_doc(na, c.ptr, c.len, &v, &e) == DL_OK && v->type == DL_JSON_NUMBER;
    dl_arena_destroy(na);
    return ok;
}

/* Every string and name is UTF-8, every number is JSON text, offsets stay inside the record. */
static bool dom_sane(const struct dl_json *v, size_t raw_len, int depth)
{
    if (depth > DL_JSON_MAX_DEPTH || v->offset >= raw_len)
        return false;
    if (!dl_utf8_valid(v->key.ptr, v->key.len, NULL))
        return false;
    if (v->type == DL_JSON_STRING && !dl_utf8_valid(v->str.ptr, v->str.len, NULL))
        return false;
    if (v->type == DL_JSON_NUMBER && !json_number_text(v->str))
        return false;
    uint32_t n = 0;
    for (const struct dl_json *c = v->child; c; c = c->next, n++) {
        if (!dom_sane(c, raw_len, depth + 1))
            return false;
    }
    return n == v->n;
}

static const char *const fragments[] = {
    "(", ")", "+", "-", ".", "...", "[", "]", "{", "}", ",", ":", "'", "\"", "`", "\\", "${", "/", "*",
    "n", "0x", "_", "e", "=", "=>", "new ", "undefined", "NaN", ";", "\n", "0", ".5", "//", "/*", "*/",
    "\\u", "\\x", "\\u{", "\\uD83D", "a", " ", "\r", "\xE2\x80\xA8", "\xC3", "__proto__", "get ", "0o", "0b",
    "E", "Infinity", "\\0", "\\8", "module.exports = ", "export default ", "const x = ", "x;", "}]",
};

static void mutate(struct dl_buf *d)
{
    int ops = 1 + (int)(rnd() % 3);
    for (int k = 0; k < ops; k++) {
        size_t i = d->len ? (size_t)(rnd() % (d->len + 1)) : 0;
        switch (rnd() % 5) {
        case 0: { /* insert a fragment */
            const char *f = fragments[rnd() % (sizeof fragments / sizeof fragments[0])];
            size_t fl = strlen(f);
            dl_buf_reserve(d, fl);
            memmove(d->data + i + fl, d->data + i, d->len - i);
            memcpy(d->data + i, f, fl);
            d->len += fl;
            break;
        }
        case 1: { /* delete a few bytes */
            size_t m = 1 + (size_t)(rnd() % 8);
            if (i + m > d->len)
                m = d->len - i;
            memmove(d->data + i, d->data + i + m, d->len - i - m);
            d->len -= m;
            break;
        }
        case 2: /* flip a byte */
            if (i < d->len)
                d->data[i] = (uint8_t)rnd();
            break;
        case 3: /* truncate */
            d->len = i;
            break;
        default: { /* duplicate a range */
            size_t j = d->len ? (size_t)(rnd() % d->len) : 0, m = 1 + (size_t)(rnd() % 16);
            if (j + m > d->len)
                m = d->len - j;
            dl_buf_reserve(d, m);
            memmove(d->data + i + m, d->data + i, d->len - i);
            memmove(d->data + i, d->data + (j >= i ? j + m : j), m);
            d->len += m;
            break;
        }
        }
    }
}

/* Read a whole input; check the invariants of each result. Returns the number of ITEMs. */
static int read_all(const uint8_t *p, size_t len, struct dl_item *it, bool *ok)
{
    struct dl_jslit *r = NULL;
    struct dl_jsonrec_out o;
    struct dl_pos_err e;
    int items = 0;
    uint64_t rec = 0;
    if (dl_jslit_new(p, len, &r) != DL_OK) {
        *ok = false;
        return 0;
    }
    for (size_t calls = 0;; calls++) {
        dl_arena_reset(arena);
        enum dl_jsonrec_status st = dl_jslit_next(r, arena, &o, &e);
        if (st == DL_JSONREC_END || calls > len + 2) {
            *ok = *ok && st == DL_JSONREC_END;
            break;
        }
        *ok = *ok && o.record == ++rec && o.raw.ptr == p + o.offset && o.offset + o.raw.len <= len;
        uint64_t l, c;
        dl_json_line_col(p, (size_t)o.offset, &l, &c);
        *ok = *ok && o.line == l && o.column == c;
        if (st == DL_JSONREC_ITEM) {
            *ok = *ok && o.value && o.value->type == DL_JSON_OBJECT && dom_sane(o.value, o.raw.len, 1) &&
                  e.code == DL_OK;
            dl_item_reset(it);
            (void)dl_item_from_json(it, o.value, NULL, NULL);
            items++;
            continue;
        }
        /* ERROR / FATAL: a positioned, readable message */
        dl_json_line_col(p, (size_t)e.offset, &l, &c);
        *ok = *ok && e.code != DL_OK && e.offset <= len && e.line == l && e.column == c && e.msg[0] &&
              dl_utf8_valid((const uint8_t *)e.msg, strlen(e.msg), NULL);
        if (!*ok)
            fprintf(stderr, "  bad error: line %" PRIu64 " column %" PRIu64 " offset %" PRIu64 ": %s\n", e.line,
                    e.column, e.offset, e.msg);
    }
    dl_jslit_destroy(r);
    return items;
}

static void test_mutations(void)
{
    struct dl_buf js, json;
    if (!read_fixture("movies.js", &js) || !read_fixture("movies.json", &json)) {
        CHECK(0);
        return;
    }
    struct dl_item it;
    dl_item_init(&it);
    struct dl_buf d;
    dl_buf_init(&d, 0);
    int bad = 0, accepted = 0, json_ok = 0;
    for (int k = 0; k < 20000; k++) {
        bool from_json = k % 4 == 3;
        const struct dl_buf *src = from_json ? &json : &js;
        dl_buf_reset(&d);
        dl_buf_append(&d, src->data, src->len);
        mutate(&d);
        uint8_t *p = malloc(d.len ? d.len : 1); /* exactly sized: ASan catches over-reads */
        memcpy(p, d.data, d.len);
        bool ok = true;
        int items = read_all(p, d.len, &it, &ok);
        if (!ok && bad++ < 5)
            fprintf(stderr, "  mutation %d broke an invariant\n", k);
        accepted += items > 0;

        /* JSON that the JSON parser takes as an array of objects reads the same as JS */
        if (from_json) {
            struct dl_arena *ja = dl_arena_new(0, 0);
            struct dl_json *doc = NULL;
            struct dl_pos_err e;
            if (dl_json_parse_doc(ja, p, d.len, &doc, &e) == DL_OK && doc->type == DL_JSON_ARRAY) {
                bool all_obj = true;
                for (const struct dl_json *c = doc->child; c; c = c->next)
                    all_obj = all_obj && c->type == DL_JSON_OBJECT;
                if (all_obj) {
                    json_ok++;
                    struct dl_jslit *r = NULL;
                    struct dl_jsonrec_out o;
                    dl_jslit_new(p, d.len, &r);
                    bool same = true;
                    for (const struct dl_json *c = doc->child; c; c = c->next) {
                        dl_arena_reset(arena);
                        same = same && dl_jslit_next(r, arena, &o, &e) == DL_JSONREC_ITEM &&
                               dom_eq(o.value, c, false, "$");
                    }
                    same = same && dl_jslit_next(r, arena, &o, &e) == DL_JSONREC_END;
                    if (!same && bad++ < 5)
                        fprintf(stderr, "  mutation %d: JSON and JS readings differ\n", k);
                    dl_jslit_destroy(r);
                }
            }
            dl_arena_destroy(ja);
        }
        free(p);
    }
    CHECK_INT(bad, 0);
    CHECK(accepted > 1000); /* the loop does reach the parser's insides */
    CHECK(json_ok > 200);
    fprintf(stderr, "  mutations: %d of 20000 gave items; %d mutated JSON files compared\n", accepted, json_ok);
    dl_buf_free(&d);
    dl_item_free(&it);
    dl_buf_free(&js);
    dl_buf_free(&json);
}

int main(void)
{
    arena = dl_arena_new(0, 0);
    TEST_RUN(test_shapes);
    TEST_RUN(test_shape_errors);
    TEST_RUN(test_records);
    TEST_RUN(test_keys);
    TEST_RUN(test_strings);
    TEST_RUN(test_string_errors);
    TEST_RUN(test_numbers);
    TEST_RUN(test_number_errors);
    TEST_RUN(test_literals);
    TEST_RUN(test_rejections);
    TEST_RUN(test_depth_and_memory);
    TEST_RUN(test_movies);
    TEST_RUN(test_mutations);
    free_inputs();
    dl_arena_destroy(arena);
    return test_summary();
}
