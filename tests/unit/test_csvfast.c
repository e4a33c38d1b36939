/* dl_csvfast against dl_csv, for every SIMD kernel this CPU has: hand cases around 64-byte
 * block boundaries, then a bounded randomized differential (fixed seed). Every row and every
 * error must be identical: fields, record, line, offset, raw, code, message, position. */
#include "decode/csvfast.h"

#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/json.h"
#include "decode/arch/csv_kernels.h"
#include "decode/csv.h"
#include "test.h"

static const char *kernel_name = "";

/* DL_TEST_QUICK=1 (tools/cross-test.sh, under emulation): fewer generated inputs. */
static int scale = 1;

static void show(const uint8_t *p, size_t n)
{
    test_show_input("", p, n);
}

/* Read p[0..n) with both readers; true if every call gave the same answer. Reports the
 * first difference. */
static bool same(const uint8_t *p, size_t n, const struct dl_csv_opts *o)
{
    struct dl_csv *a = NULL;
    struct dl_csvfast *b = NULL;
    enum dl_err ra = dl_csv_new(p, n, o, &a), rb = dl_csvfast_new(p, n, o, &b);
    bool ok = ra == rb;
    const char *why = "new";
    for (int calls = 0; ok && a && calls < 100000; calls++) {
        struct dl_csv_row x, y;
        struct dl_pos_err ex, ey;
        dl_pos_err_clear(&ex);
        dl_pos_err_clear(&ey);
        ra = dl_csv_next(a, &x, &ex);
        rb = dl_csvfast_next(b, &y, &ey);
        why = "return code";
        if (ra != rb)
            break;
        why = "row";
        if (x.end != y.end || x.nfields != y.nfields || x.record != y.record || x.line != y.line ||
            x.offset != y.offset || x.raw.ptr != y.raw.ptr || x.raw.len != y.raw.len) {
            fprintf(stderr, "  dl_csv:     end %d nf %zu rec %llu line %llu off %llu raw %zu+%zu\n", x.end,
                    x.nfields, (unsigned long long)x.record, (unsigned long long)x.line,
                    (unsigned long long)x.offset, x.raw.ptr ? (size_t)(x.raw.ptr - p) : 0, x.raw.len);
            fprintf(stderr, "  dl_csvfast: end %d nf %zu rec %llu line %llu off %llu raw %zu+%zu\n", y.end,
                    y.nfields, (unsigned long long)y.record, (unsigned long long)y.line,
                    (unsigned long long)y.offset, y.raw.ptr ? (size_t)(y.raw.ptr - p) : 0, y.raw.len);
            ok = false;
            break;
        }
        for (size_t i = 0; i < x.nfields; i++) {
            if (x.fields[i].len != y.fields[i].len ||
                (x.fields[i].len && memcmp(x.fields[i].ptr, y.fields[i].ptr, x.fields[i].len) != 0)) {
                fprintf(stderr, "  field %zu: '%.*s' vs '%.*s'\n", i, (int)x.fields[i].len,
                        (const char *)x.fields[i].ptr, (int)y.fields[i].len, (const char *)y.fields[i].ptr);
                why = "field";
                ok = false;
            }
        }
        if (!ok)
            break;
        why = "error";
        if (ra && (ex.code != ey.code || ex.offset != ey.offset || ex.line != ey.line ||
                   ex.column != ey.column || strcmp(ex.msg, ey.msg) != 0)) {
            fprintf(stderr, "  dl_csv:     %d @%llu %llu:%llu %s\n", ex.code, (unsigned long long)ex.offset,
                    (unsigned long long)ex.line, (unsigned long long)ex.column, ex.msg);
            fprintf(stderr, "  dl_csvfast: %d @%llu %llu:%llu %s\n", ey.code, (unsigned long long)ey.offset,
                    (unsigned long long)ey.line, (unsigned long long)ey.column, ey.msg);
            ok = false;
            break;
        }
        if (!ra && x.end) {
            /* and it stays at the end */
            ra = dl_csv_next(a, &x, &ex);
            rb = dl_csvfast_next(b, &y, &ey);
            why = "after end";
            ok = ra == rb && x.end && y.end;
            break;
        }
    }
    if (!ok) {
        fprintf(stderr, "[%s] kernel %s: readers differ (%s)\n", test_current, kernel_name, why);
        show(p, n);
    }
    dl_csv_destroy(a);
    dl_csvfast_destroy(b);
    return ok;
}

static bool same_str(const char *s, const struct dl_csv_opts *o)
{
    return same((const uint8_t *)s, strlen(s), o);
}

/* The levels this CPU runs; the loop body runs once per level with it forced. */
static enum dl_simd_level levels[DL_SIMD_COUNT];
static int nlevels;

static void find_levels(void)
{
    for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++)
        if (dl_cpu_has((enum dl_simd_level)l))
            levels[nlevels++] = (enum dl_simd_level)l;
}

static bool use_level(int i)
{
    if (i >= nlevels)
        return false;
    CHECK(dl_cpu_force(levels[i]) >= 0);
    kernel_name = dl_simd_name(levels[i]);
    return true;
}

/* for (each kernel) { ... }: li_ is the index into levels */
#define FOR_EACH_KERNEL for (int li_ = 0; use_level(li_); li_++)

static const char *const hand[] = {
    "",
    "a",
    "a,b,c\n1,2,3\n",
    "a,b\r\n1,2\r\n",
    "a,b\r1,2\r",
    "\xEF\xBB\xBF" "a,b\n1,2",
    "\xEF\xBB\xBF",
    "\xEF\xBB",
    "\xEF\xBB\xBF\n\"q\",x",
    "x\n\xEF\xBB\xBF" "a,b\n",
    "\n\n\r\n\r\ra,b\n\n",
    "\"a,b\",\"c\nd\",\"e\"\"f\"\n",
    "\"\"\"\",\"\",\"\"\"\"\"\"\n",
    "\"a\"\"\n",
    "\"abc\"def,x\ny\n",
    "\"abc\"def,\"x\ny\"\nz\n",
    "ab\"c,d\n",
    "a,\"b\nc",
    "a,\"b\r\nc\"\"",
    "\"",
    "\"\"",
    "\"\"x",
    ",,,\n,\n",
    "a,\r\n",
    "a,\"\"\r\n\"\",b",
    "\"a\r\"\n\"b\r\r\"\n",
    "\"x\"\r\r\n\"y\"\n",
    "a\tb\t\"c\td\"\n",
    "caf\xC3\xA9,\"na\xC3\xAFve\"\n\xFF,b\n\xC3,x\nok,\xE2\x82\xAC\n",
    "\xED\xA0\x80,a\n\xF4\x90\x80\x80\n\xC0\xAF\n",
    "\"unterminated,\n\n\n",
    "a,b\n\"c\"x\"y,\"z\nw\"\nq\n",
};

static void test_hand_cases(void)
{
    struct dl_csv_opts opts[] = {
        { 0 },
        { .check_utf8 = true },
        { .delim = '\t' },
        { .delim = '\t', .no_quote = true },
        { .quote = '\'' },
        { .max_record = 5 },
        { .max_fields = 2 },
        { .max_record = 3, .max_fields = 1, .check_utf8 = true },
    };
    FOR_EACH_KERNEL {
        for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++)
            for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
                CHECK(same_str(hand[i], &opts[k]));
    }
}

/* Each hand case placed at every offset around one and two block boundaries, after a
 * filler that is a record of its own (so the case starts a record) or the start of a field
 * (so it continues one). */
static void test_block_boundaries(void)
{
    static uint8_t buf[1024];
    struct dl_csv_opts opts[] = { { 0 }, { .check_utf8 = true }, { .max_fields = 3, .max_record = 70 } };
    FOR_EACH_KERNEL {
        for (size_t i = 0; i < sizeof hand / sizeof hand[0]; i++) {
            size_t hl = strlen(hand[i]);
            for (size_t pad = 0; pad < 140; pad += (size_t)scale) {
                for (int kind = 0; kind < 3; kind++) {
                    size_t n = 0;
                    if (kind == 0) { /* a record of filler, then the case */
                        memset(buf, 'x', pad);
                        n = pad;
                        buf[n++] = '\n';
                    } else if (kind == 1) { /* a field of filler */
                        memset(buf, 'y', pad);
                        n = pad;
                        buf[n++] = ',';
                    } else { /* a quoted field of filler holding line breaks and pairs */
                        buf[n++] = '"';
                        for (size_t j = 0; j < pad; j++)
                            buf[n++] = "ab\"\"\r\n,\n"[j % 8];
                        buf[n++] = '"';
                        buf[n++] = ',';
                    }
                    memcpy(buf + n, hand[i], hl);
                    n += hl;
                    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
                        CHECK(same(buf, n, &opts[k]));
                }
            }
        }
    }
}

/* CRLF, quotes and "" pairs straddling the boundary between blocks, at every alignment. */
static void test_straddles(void)
{
    static const char *const pieces[] = { "\r\n", "\"\"", "\"\n\"", "\",\"", "\r\r\n", "\"\r\n\"", "\"x\"" };
    uint8_t buf[300];
    FOR_EACH_KERNEL {
        for (size_t pi = 0; pi < sizeof pieces / sizeof pieces[0]; pi++) {
            size_t pl = strlen(pieces[pi]);
            for (size_t at = 50; at < 200; at++) {
                /* a quoted field that runs over the piece */
                size_t n = 0;
                buf[n++] = '"';
                while (n < at)
                    buf[n++] = 'q';
                memcpy(buf + n, pieces[pi], pl);
                n += pl;
                memcpy(buf + n, "tail\",z\r\nnext", 13);
                n += 13;
                CHECK(same(buf, n, NULL));
                /* the same piece in unquoted text */
                memset(buf, 'u', at);
                n = at;
                memcpy(buf + n, pieces[pi], pl);
                n += pl;
                memcpy(buf + n, "w,v\n", 4);
                n += 4;
                CHECK(same(buf, n, NULL));
            }
        }
    }
}

/* Records exactly at, under and over max_record, and fields around max_fields, with the
 * excess falling in the next block. */
static void test_limits(void)
{
    uint8_t buf[600];
    FOR_EACH_KERNEL {
        for (size_t len = 60; len < 140; len++) {
            memset(buf, 'a', len);
            for (size_t j = 3; j < len; j += 7)
                buf[j] = ',';
            buf[len] = '\n';
            memcpy(buf + len + 1, "b,c\n", 4);
            for (size_t mr = 60; mr < 140; mr += 13) {
                struct dl_csv_opts o = { .max_record = mr, .max_fields = 1 + len / 9 };
                CHECK(same(buf, len + 5, &o));
                o.max_fields = 0;
                CHECK(same(buf, len + 5, &o));
            }
        }
    }
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* Bounded randomized differential over a small alphabet plus UTF-8 bytes. */
static void test_random(void)
{
    static const char *const atoms[] = { "a", ",", "\"", "\r", "\n", "\t", "b", "\"\"", "\r\n", "\xC3\xA9",
                                         "\xE2\x82\xAC", "\xFF", "\xC3", "\xEF\xBB\xBF", "'", "xyz" };
    const size_t natoms = sizeof atoms / sizeof atoms[0];
    static uint8_t buf[4096];
    int inputs = 50000 / scale;
    FOR_EACH_KERNEL {
        for (int it = 0; it < inputs; it++) {
            size_t n = 0, want = rnd() % (it % 10 == 0 ? 1500 : 200);
            /* a per-input mix: sometimes mostly plain text, sometimes quote-heavy */
            uint32_t bias = rnd() % 4;
            while (n < want) {
                const char *a = bias == 0 ? atoms[rnd() % natoms]
                                          : (rnd() % 4 ? (rnd() % 3 ? "a" : ",") : atoms[rnd() % natoms]);
                if (bias == 3 && rnd() % 5 == 0)
                    a = "\n";
                size_t l = strlen(a);
                memcpy(buf + n, a, l);
                n += l;
            }
            struct dl_csv_opts o = { 0 };
            uint32_t v = rnd();
            o.check_utf8 = v & 1;
            if (v & 2)
                o.delim = '\t';
            if ((v & 12) == 12)
                o.no_quote = true;
            if ((v & 48) == 48)
                o.max_record = 1 + rnd() % 100;
            if ((v & 192) == 192)
                o.max_fields = 1 + rnd() % 8;
            if ((v & 768) == 768)
                o.quote = '\'';
            bool ok = same(buf, n, &o);
            CHECK(ok);
            if (!ok)
                break;
        }
    }
}

/* Fields are views of the input unless unescaped; unescaped ones survive until the next call. */
static void test_values(void)
{
    FOR_EACH_KERNEL {
        const char *in = "\"say \"\"hi\"\"\",plain,\"q,uoted\"\n";
        struct dl_csvfast *r;
        struct dl_csv_row row;
        struct dl_pos_err e;
        CHECK_INT(dl_csvfast_new((const uint8_t *)in, strlen(in), NULL, &r), DL_OK);
        CHECK_INT(dl_csvfast_level(r), levels[li_]);
        CHECK_INT(dl_csvfast_next(r, &row, &e), DL_OK);
        CHECK_INT(row.nfields, 3);
        CHECK_MEM_STR(row.fields[0].ptr, row.fields[0].len, "say \"hi\"");
        CHECK_MEM_STR(row.fields[1].ptr, row.fields[1].len, "plain");
        CHECK(row.fields[1].ptr == (const uint8_t *)in + 13);
        CHECK_MEM_STR(row.fields[2].ptr, row.fields[2].len, "q,uoted");
        CHECK_INT(dl_csvfast_next(r, &row, &e), DL_OK);
        CHECK(row.end);
        dl_csvfast_destroy(r);
        struct dl_csv_opts bad = { .delim = '"' };
        CHECK_INT(dl_csvfast_new((const uint8_t *)in, 3, &bad, &r), DL_ERR_INVALID);
        CHECK(r == NULL);
    }
}

/* The error paths give the scalar reader's messages with positions in the whole input. */
static void test_errors(void)
{
    FOR_EACH_KERNEL {
        char big[400];
        size_t n = 0;
        for (int i = 0; i < 5; i++)
            n += (size_t)snprintf(big + n, sizeof big - n, "line%d,\"multi\nline\"\n", i);
        n += (size_t)snprintf(big + n, sizeof big - n, "x,\"open\nnever closed");
        struct dl_csvfast *r;
        struct dl_csv_row row;
        struct dl_pos_err e;
        CHECK_INT(dl_csvfast_new((const uint8_t *)big, n, NULL, &r), DL_OK);
        for (int i = 0; i < 5; i++) {
            CHECK_INT(dl_csvfast_next(r, &row, &e), DL_OK);
            CHECK_INT(row.line, 1 + 2 * i);
        }
        CHECK_INT(dl_csvfast_next(r, &row, &e), DL_ERR_PARSE);
        CHECK_STR(e.msg, "unterminated quoted field starting at line 11 column 3");
        CHECK_INT(e.line, 11);
        CHECK_INT(e.column, 3);
        CHECK_INT(row.record, 6);
        CHECK_INT(dl_csvfast_next(r, &row, &e), DL_OK);
        CHECK(row.end);
        dl_csvfast_destroy(r);
    }
}

static uint32_t rnd(void);
static uint32_t rnd_len(void)
{
    return rnd() % 190;
}

/* Each kernel's UTF-8 validator gives dl_utf8_valid's verdict: every 1- and 2-byte
 * sequence, every 3-byte sequence with a lead of E0..EF, 4-byte sequences over the leads
 * F0..F7 and edge continuations, each at every offset around the 16-, 32- and 64-byte steps and
 * truncated at the end; then random mixes. */
static void test_utf8_kernels(void)
{
    static uint8_t buf[200];
    static const uint8_t conts[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF };
    FOR_EACH_KERNEL {
        const struct dl_csv_kernel *k = dl_csv_kernel(levels[li_]);
        CHECK_INT(k->level, levels[li_]);
        long bad = 0;
        uint8_t seq[4];
        for (int len = 1; len <= 4; len++) {
            for (int a = 0; a < 256; a++) {
                if (len >= 3 && (a < 0xE0 || (len == 4 && a < 0xF0)) && a % 17)
                    continue;
                int nb = len == 1 ? 1 : 256, nc = len >= 3 ? (int)sizeof conts : 1, nd = len == 4 ? (int)sizeof conts : 1;
                for (int b = 0; b < nb; b++)
                    for (int c = 0; c < nc; c++)
                        for (int d = 0; d < nd; d++) {
                            seq[0] = (uint8_t)a;
                            seq[1] = (uint8_t)b;
                            seq[2] = conts[c];
                            seq[3] = conts[d];
                            /* at the start, straddling the 16-, 32- and 64-byte steps, and last */
                            static const size_t ats[] = { 0, 13, 14, 15, 29, 30, 31, 45, 61, 62, 63 };
                            for (size_t ai = 0; ai < sizeof ats / sizeof ats[0]; ai += (size_t)(scale > 1 ? 3 : 1)) {
                                size_t at = ats[ai];
                                memset(buf, 'a', at);
                                memcpy(buf + at, seq, (size_t)len);
                                for (size_t tail = 0; tail < 3; tail++) {
                                    memset(buf + at + len, 'b', tail);
                                    size_t n = at + (size_t)len + tail;
                                    if (k->utf8_valid(buf, n, n) != dl_utf8_valid(buf, n, NULL) ||
                                        k->utf8_valid(buf, n, sizeof buf) != dl_utf8_valid(buf, n, NULL))
                                        bad++;
                                }
                            }
                        }
            }
        }
        CHECK_INT(bad, 0);
        /* random mixes of valid and invalid sequences */
        static const char *const atoms[] = { "a", "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xED\x9F\xBF",
                                             "\xEF\xBF\xBF", "\xF4\x8F\xBF\xBF", "\xC3", "\x80", "\xE2\x82",
                                             "\xF0\x9F", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xC0\xAF",
                                             "\xE0\x80\xAF", "\xFF", "abcdefghijklmnop" };
        for (int it = 0; it < 20000 / scale; it++) {
            size_t n = 0, want = rnd_len();
            bool rare = it % 2;
            while (n + 16 < want) {
                const char *a = atoms[rare && rnd_len() % 8 ? rnd_len() % 7 : rnd_len() % 17];
                size_t l = strlen(a);
                memcpy(buf + n, a, l);
                n += l;
            }
            if (k->utf8_valid(buf, n, n) != dl_utf8_valid(buf, n, NULL) ||
                                        k->utf8_valid(buf, n, sizeof buf) != dl_utf8_valid(buf, n, NULL)) {
                bad++;
                show(buf, n);
                break;
            }
        }
        CHECK_INT(bad, 0);
    }
}

/* Each kernel's byte count equals a plain loop, at every length and alignment near the
 * vector steps. */
static void test_count_kernels(void)
{
    static uint8_t buf[700];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)("\n\na,\xFF\n"[rnd() % 7]);
    FOR_EACH_KERNEL {
        const struct dl_csv_kernel *k = dl_csv_kernel(levels[li_]);
        long bad = 0;
        for (size_t at = 0; at < 70; at++)
            for (size_t n = 0; at + n <= sizeof buf; n += 1 + n / 8) {
                uint64_t want = 0, want_ff = 0;
                for (size_t i = at; i < at + n; i++) {
                    want += buf[i] == '\n';
                    want_ff += buf[i] == 0xFF;
                }
                bad += k->count_byte(buf + at, n, '\n') != want;
                bad += k->count_byte(buf + at, n, 0xFF) != want_ff;
            }
        CHECK_INT(bad, 0);
    }
}

int main(void)
{
    const char *quick = getenv("DL_TEST_QUICK");
    if (quick && *quick && *quick != '0')
        scale = 10;
    find_levels();
    fprintf(stderr, "kernels:");
    for (int i = 0; i < nlevels; i++)
        fprintf(stderr, " %s", dl_simd_name(levels[i]));
    fprintf(stderr, "\n");
    TEST_RUN(test_utf8_kernels);
    TEST_RUN(test_count_kernels);
    TEST_RUN(test_values);
    TEST_RUN(test_errors);
    TEST_RUN(test_hand_cases);
    TEST_RUN(test_block_boundaries);
    TEST_RUN(test_straddles);
    TEST_RUN(test_limits);
    TEST_RUN(test_random);
    return test_summary();
}
