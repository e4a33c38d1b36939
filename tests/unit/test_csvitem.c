/* dl_csvfast_next_item (records straight to items) against dl_csvfast_next +
 * dl_item_from_csv_prepared, for every SIMD kernel this CPU has: every call must give the
 * same return code, row (record, line, offset, raw; fields when no item was built), error
 * and item (wire, key, key_wire, size) or item error. Calls to the two functions are mixed
 * on one reader, so the reader's state after either is checked too. */
#include "decode/csvfast.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "decode/csv.h"
#include "item/item.h"
#include "test.h"
#include "test_keys.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

static const char *kernel_name = "";
static uint64_t built_total, rows_total;

static void show(const uint8_t *p, size_t n)
{
    char tag[32];
    snprintf(tag, sizeof tag, "[%s] ", kernel_name);
    test_show_input(tag, p, n);
}

static bool same_buf(const struct dl_buf *a, const struct dl_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static bool same_err(const struct dl_pos_err *a, const struct dl_pos_err *b)
{
    return a->code == b->code && a->offset == b->offset && a->line == b->line && a->column == b->column &&
           strcmp(a->msg, b->msg) == 0;
}

/* Read p[start..len) (line `line` at start) both ways; true if every call agreed. */
static bool same(const uint8_t *p, size_t start, size_t len, uint64_t line, const struct dl_csv_opts *o,
                 const struct dl_item_csv_header *h, size_t ncols)
{
    struct dl_csvfast *a = NULL, *b = NULL;
    struct dl_item ia, ib;
    dl_item_init(&ia);
    dl_item_init(&ib);
    enum dl_err ra = dl_csvfast_new_range(p, start, len, line, o, &a);
    enum dl_err rb = dl_csvfast_new_range(p, start, len, line, o, &b);
    const char *why = "new";
    bool ok = ra == rb;
    for (int calls = 0; ok && a && calls < 100000; calls++) {
        struct dl_csv_row x, y;
        struct dl_pos_err ex, ey, ix, iy;
        bool built = false, item_x = false, item_y = false;
        enum dl_err bx = DL_OK, by = DL_OK;
        dl_pos_err_clear(&ex);
        dl_pos_err_clear(&ey);
        dl_pos_err_clear(&ix);
        dl_pos_err_clear(&iy);
        ra = dl_csvfast_next(a, &x, &ex);
        rb = rnd() % 8 ? dl_csvfast_next_item(b, h, &ib, &y, &ey, &built) : dl_csvfast_next(b, &y, &ey);
        why = "return code";
        if (ra != rb)
            break;
        why = "row";
        if (x.end != y.end || x.record != y.record || x.line != y.line || x.offset != y.offset ||
            x.raw.ptr != y.raw.ptr || x.raw.len != y.raw.len || x.nfields != y.nfields)
            break;
        why = "error";
        if (ra && !same_err(&ex, &ey))
            break;
        why = NULL;
        if (x.end)
            break;
        if (ra)
            continue;
        why = "fields";
        if (!built && y.fields == NULL)
            break;
        for (size_t i = 0; !built && i < x.nfields; i++)
            if (!dl_cursor_eq(x.fields[i], y.fields[i]))
                goto out;
        rows_total++;
        if (x.nfields == ncols) {
            bx = dl_item_from_csv_prepared(&ia, h, x.fields, ncols, &ix);
            item_x = true;
        }
        if (built) {
            built_total++;
            item_y = true;
        } else if (y.nfields == ncols) {
            by = dl_item_from_csv_prepared(&ib, h, y.fields, ncols, &iy);
            item_y = true;
        }
        why = "built without an item";
        if (item_x != item_y)
            break;
        why = "item result";
        if (bx != by || (bx && !same_err(&ix, &iy)))
            break;
        why = "item";
        if (item_x && !bx &&
            (!same_buf(&ia.wire, &ib.wire) || !same_buf(&ia.key, &ib.key) || !same_buf(&ia.key_wire, &ib.key_wire) ||
             ia.size != ib.size || ia.del != ib.del))
            break;
        why = NULL;
    }
out:
    ok = ok && why == NULL;
    if (!ok) {
        fprintf(stderr, "  first difference: %s\n", why);
        show(p + start, len - start);
    }
    dl_csvfast_destroy(a);
    dl_csvfast_destroy(b);
    dl_item_free(&ia);
    dl_item_free(&ib);
    return ok;
}

#define FOR_EACH_KERNEL                                                                   \
    for (int l_ = DL_SIMD_SCALAR; l_ < DL_SIMD_COUNT; l_++)                               \
        if (dl_cpu_force((enum dl_simd_level)l_) >= 0 &&                                  \
            (kernel_name = dl_simd_name((enum dl_simd_level)l_)) != NULL)

/* A field value: mostly what plain records hold, with every kind of byte the fast path must
 * leave to the row path. */
static size_t gen_field(uint8_t *o, uint8_t delim, uint8_t quote, bool numeric)
{
    static const char *const odd[] = { "\"a,b\"", "\"x\"\"y\"", "caf\xC3\xA9", "back\\slash", "ta\tb",
                                       "c\x01tl", "un\"quoted", "\"multi\nline\"", "\xFF", "'q'", "\"\"", "\"ab\"c",
                                       "a\rb" };
    uint32_t k = rnd() % 100;
    size_t n = 0;
    if (k < 8)
        return 0; /* empty */
    if (k < 14) {
        const char *s = odd[rnd() % (sizeof odd / sizeof odd[0])];
        n = strlen(s);
        memcpy(o, s, n);
        for (size_t i = 0; i < n; i++)
            if (o[i] == '"' && quote != '"')
                o[i] = quote;
        return n;
    }
    if (k < 16) { /* long: past a window of classified blocks */
        n = 40 + rnd() % 700;
        for (size_t i = 0; i < n; i++)
            o[i] = (uint8_t)('a' + rnd() % 26);
        return n;
    }
    if (numeric || k < 60) {
        if (rnd() % 4 == 0)
            o[n++] = '-';
        size_t d = 1 + rnd() % (rnd() % 8 ? 12 : 45);
        for (size_t i = 0; i < d; i++)
            o[n++] = (uint8_t)('0' + rnd() % 10);
        if (rnd() % 3 == 0) {
            o[n++] = '.';
            o[n++] = (uint8_t)('0' + rnd() % 10);
        }
        return n;
    }
    n = 1 + rnd() % 20;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = (uint8_t)(' ' + rnd() % 95);
        if (c == delim || c == '"' || c == quote || c == '\\')
            c = 'x';
        o[i] = c;
    }
    return n;
}

static void test_random(void)
{
    static uint8_t buf[1 << 16];
    static const char *const names[] = { "id", "seq", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j" };
    int inputs = getenv("DL_TEST_QUICK") ? 400 : 2500;
    FOR_EACH_KERNEL {
        uint64_t seed = rng;
        for (int it = 0; it < inputs; it++) {
            struct dl_csv_opts o = { .check_utf8 = rnd() % 4 != 0 };
            uint32_t v = rnd();
            o.delim = v & 1 ? ',' : v & 2 ? '\t' : ';';
            if ((v & 12) == 12)
                o.no_quote = true;
            if ((v & 48) == 48)
                o.quote = '\'';
            if ((v & 192) == 192)
                o.max_record = 20 + rnd() % 400;
            uint8_t quote = o.quote ? o.quote : '"';
            size_t ncols = 1 + rnd() % 12;
            struct dl_cursor cols[12];
            for (size_t i = 0; i < ncols; i++)
                cols[i] = dl_cursor_of((const uint8_t *)names[i], strlen(names[i]));
            if (rnd() % 20 == 0)
                cols[ncols - 1] = cols[0]; /* a repeated name: the header takes the general path */
            struct dl_key_schema ks;
            uint32_t kk = rnd() % 6;
            const char types[] = "SNB";
            if (kk == 0)
                ks = schema0();
            else if (kk < 4 || ncols < 2)
                ks = schema1("id", types[rnd() % 3]);
            else
                ks = schema2("id", types[rnd() % 3], "seq", types[rnd() % 2]);
            struct dl_item_csv_header *h = NULL;
            CHECK(dl_item_csv_header_new(cols, ncols, &ks, &h) == DL_OK);
            bool numeric = rnd() % 2;
            const char *eol = rnd() % 3 ? "\n" : rnd() % 2 ? "\r\n" : "\r";
            size_t n = 0, rows = rnd() % (it % 10 == 0 ? 200 : 30);
            if (rnd() % 10 == 0) {
                memcpy(buf, "\xEF\xBB\xBF", 3);
                n = 3;
            }
            for (size_t r = 0; r < rows && n < sizeof buf - 16000; r++) {
                size_t nf = rnd() % 15 ? ncols : 1 + rnd() % 14;
                if (rnd() % 25 == 0)
                    nf = 0; /* a blank line */
                for (size_t f = 0; f < nf; f++) {
                    if (f)
                        buf[n++] = o.delim;
                    n += gen_field(buf + n, o.delim, quote, numeric);
                }
                if (r + 1 < rows || rnd() % 2) {
                    memcpy(buf + n, eol, strlen(eol));
                    n += strlen(eol);
                }
            }
            /* the whole input, then from a record start in it (as a chunk reader starts) */
            bool ok = same(buf, 0, n, 1, &o, h, ncols);
            if (ok && n) {
                struct dl_csvfast *r = NULL;
                struct dl_csv_row row;
                struct dl_pos_err e;
                uint32_t skip = rnd() % 8;
                size_t at = 0;
                uint64_t line = 1;
                if (dl_csvfast_new(buf, n, &o, &r) == DL_OK) {
                    for (uint32_t i = 0; i <= skip; i++) {
                        enum dl_err rc = dl_csvfast_next(r, &row, &e);
                        if (rc || row.end)
                            break;
                        at = row.offset;
                        line = row.line;
                    }
                    dl_csvfast_destroy(r);
                }
                if (at > 0 && !(buf[0] == 0xEF && at == 3))
                    ok = same(buf, at, n, line, &o, h, ncols);
            }
            CHECK(ok);
            dl_item_csv_header_destroy(h);
            if (!ok) {
                fprintf(stderr, "  seed before the kernel's inputs: %llu, input %d\n", (unsigned long long)seed, it);
                break;
            }
        }
    }
    /* the fast path must have been taken, or the test proves nothing about it */
    CHECK(built_total > rows_total / 4);
    fprintf(stderr, "  %llu rows compared, %llu built straight to items\n", (unsigned long long)rows_total,
            (unsigned long long)built_total);
}

/* What a built record holds, checked by hand, and a file of the benchmark's shape (records
 * crossing windows, CRLF) built straight through. */
static void test_hand(void)
{
    FOR_EACH_KERNEL {
        struct dl_cursor cols[2] = { dl_cursor_of((const uint8_t *)"id", 2), dl_cursor_of((const uint8_t *)"a", 1) };
        struct dl_key_schema ks = schema1("id", 'N');
        struct dl_item_csv_header *h = NULL;
        CHECK(dl_item_csv_header_new(cols, 2, &ks, &h) == DL_OK);
        static const char in[] = "100,x y\r\n\r\n2,\n3,\"q\"\n-0,z";
        struct dl_csvfast *r = NULL;
        struct dl_csv_row row;
        struct dl_pos_err e;
        struct dl_item it;
        bool built;
        dl_item_init(&it);
        CHECK(dl_csvfast_new((const uint8_t *)in, sizeof in - 1, NULL, &r) == DL_OK);
        CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK);
        CHECK(built && row.record == 1 && row.line == 1 && row.offset == 0 && row.raw.len == 7);
        CHECK_MEM_STR(it.wire.data, it.wire.len, "{\"id\":{\"N\":\"100\"},\"a\":{\"S\":\"x y\"}}");
        CHECK_INT(it.size, 2 + 2 + 1 + 3);
        CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK);
        CHECK(built && row.record == 2 && row.line == 3);
        CHECK_MEM_STR(it.wire.data, it.wire.len, "{\"id\":{\"N\":\"2\"}}"); /* the empty value is left out */
        CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK);
        CHECK(!built && row.record == 3 && row.line == 4 && row.nfields == 2); /* quoted: a row */
        CHECK_MEM_STR(row.fields[1].ptr, row.fields[1].len, "q");
        CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK);
        CHECK(!built && row.record == 4 && row.line == 5); /* the last record has no line break */
        CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK && row.end);
        dl_csvfast_destroy(r);
        dl_item_csv_header_destroy(h);

        /* 2,000 rows of 12 numeric columns, CRLF: every record built, lines counted */
        struct dl_cursor many[12];
        static const char *const nm[] = { "id", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10", "n11" };
        for (int i = 0; i < 12; i++)
            many[i] = dl_cursor_of((const uint8_t *)nm[i], strlen(nm[i]));
        CHECK(dl_item_csv_header_new(many, 12, &ks, &h) == DL_OK);
        static char big[2000 * 120];
        size_t n = 0;
        for (int i = 0; i < 2000; i++) {
            n += (size_t)snprintf(big + n, sizeof big - n, "%d", i + 1);
            for (int c = 1; c < 12; c++)
                n += (size_t)snprintf(big + n, sizeof big - n, ",%u", rnd() % 1000000);
            n += (size_t)snprintf(big + n, sizeof big - n, "\r\n");
        }
        CHECK(dl_csvfast_new((const uint8_t *)big, n, NULL, &r) == DL_OK);
        int nbuilt = 0, nrec = 0;
        uint64_t last_line = 0;
        for (;;) {
            CHECK(dl_csvfast_next_item(r, h, &it, &row, &e, &built) == DL_OK);
            if (row.end)
                break;
            nrec++;
            nbuilt += built;
            if (!built)
                fprintf(stderr, "  record %d (line %llu) came back as a row\n", nrec, (unsigned long long)row.line);
            last_line = row.line;
        }
        CHECK_INT(nrec, 2000);
        CHECK_INT(nbuilt, 2000);
        CHECK_INT(last_line, 2000);
        dl_csvfast_destroy(r);
        dl_item_csv_header_destroy(h);
        dl_item_free(&it);
    }
}

int main(void)
{
    int prev = (int)dl_cpu_level();
    TEST_RUN(test_hand);
    TEST_RUN(test_random);
    dl_cpu_force((enum dl_simd_level)prev);
    return test_summary();
}
