/* The fast JSON decoder against the scalar composition (jsonrec + item builders), on every
 * stage 1 kernel this CPU has: the kernels' index, UTF-8 validation, JSONTestSuite, inputs
 * built around 64-byte block and window boundaries, the documented behaviours (fallbacks,
 * keys, limits), and a bounded randomized differential loop. The comparison itself lives in
 * tests/fuzz/fuzz_json.c (included below), shared with the libFuzzer target. */
#define DL_FUZZ_JSON_NO_MAIN
#include "../fuzz/fuzz_json.c"

#include <dirent.h>

#include "decode/arch/json_kernels.h"
#include "test.h"

static const enum dl_simd_level all_levels[] = { DL_SIMD_SCALAR, DL_SIMD_SSE42, DL_SIMD_AVX2, DL_SIMD_AVX512,
                                                 DL_SIMD_NEON };
#define NLEVELS (sizeof all_levels / sizeof all_levels[0])
static char why[8192];
/* DL_TEST_QUICK=1 (set by tools/cross-test.sh under qemu): smaller generated workloads */
static int quick;

/* ---- small helpers ------------------------------------------------------------------------ */

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static size_t rn(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

struct sb {
    char *p;
    size_t len, cap;
};

static void sb_put(struct sb *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = realloc(b->p, cap);
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_s(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_rep(struct sb *b, const char *s, size_t times)
{
    for (size_t i = 0; i < times; i++)
        sb_s(b, s);
}

/* Identical on every kernel, every mode, both kinds, with and without keys, three windows. */
#define CHECK_SAME(buf, n)                                                                     \
    do {                                                                                       \
        int bad_ = dl_fz_json_all((const uint8_t *)(buf), (n), why, sizeof why, NULL);        \
        CHECK_INT(bad_, 0);                                                                    \
        if (bad_)                                                                              \
            fprintf(stderr, "  input (%zu bytes): %.*s\n  %s\n", (size_t)(n),                 \
                    (int)((n) > 400 ? 400 : (n)), (const char *)(buf), why);                   \
    } while (0)

/* Run the fast decoder once (best kernel) and return the statuses and the last item. */
struct one {
    enum dl_jsonrec_status st[16];
    struct dl_pos_err err[16];
    struct dl_jsonrec_out info[16];
    int n;
    struct dl_jsonfast_stats stats;
    char wire[16][1024];
    char key[16][256];
    size_t keylen[16];
    char key_wire[16][256];
    size_t size[16];
};

static void run_one(const char *in, enum dl_jsonrec_mode mode, enum dl_jsonfast_kind kind,
                    const struct dl_key_schema *ks, struct one *o)
{
    struct dl_jsonfast *r = NULL;
    struct dl_item it;
    dl_item_init(&it);
    memset(o, 0, sizeof *o);
    CHECK_INT(dl_jsonfast_new((const uint8_t *)in, strlen(in), mode, kind, ks, &r), DL_OK);
    if (!r)
        return;
    for (;;) {
        struct dl_jsonrec_out info;
        struct dl_pos_err err;
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &it, &info, &err);
        if (s == DL_JSONREC_END || o->n == 16)
            break;
        o->st[o->n] = s;
        o->err[o->n] = err;
        o->info[o->n] = info;
        if (s == DL_JSONREC_ITEM) {
            snprintf(o->wire[o->n], sizeof o->wire[0], "%.*s", (int)it.wire.len, (const char *)it.wire.data);
            memcpy(o->key[o->n], it.key.data ? (const char *)it.key.data : "", it.key.len < 256 ? it.key.len : 255);
            o->keylen[o->n] = it.key.len;
            snprintf(o->key_wire[o->n], sizeof o->key_wire[0], "%.*s", (int)it.key_wire.len,
                     it.key_wire.data ? (const char *)it.key_wire.data : "");
            o->size[o->n] = it.size;
        }
        o->n++;
        if (s == DL_JSONREC_FATAL)
            break;
    }
    dl_jsonfast_stats(r, &o->stats);
    dl_jsonfast_destroy(r);
    dl_item_free(&it);
}

/* ---- stage 1 kernels ---------------------------------------------------------------------- */

struct s1out {
    uint32_t idx[4096 + 64];
    uint8_t bs[80];
    uint64_t nl[80];
    size_t n;
    size_t err;
};

static void s1_run(const struct dl_json_kernel *k, const uint8_t *p, size_t nblocks, struct s1out *o)
{
    struct dl_json_s1 st;
    memset(&st, 0, sizeof st);
    memset(o->idx, 0xA5, sizeof o->idx); /* no entries left over from the previous kernel's run */
    o->err = SIZE_MAX;
    o->n = k->stage1(p, nblocks, &st, o->idx, 0, o->bs, o->nl, &o->err);
}

/* Every kernel gives the scalar kernel's index and backslash flags, and sees an error in the
 * same inputs. */
static void test_kernels_agree(void)
{
    static const char alphabet[] = "\"\\{}[]:, \t\n\rabc01-.eE\x01\x1f\x7f\x80\xbf\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff";
    const struct dl_json_kernel *ref = &dl_json_kernel_scalar;
    static uint8_t buf[64 * 64];
    static struct s1out a, b;
    for (int iter = 0; iter < 3000; iter++) {
        size_t nblocks = 1 + rn(63);
        int style = (int)rn(5);
        uint32_t dense = (uint32_t)rn(65); /* style 4: blocks of 0..64 index entries */
        for (size_t i = 0; i < 64 * nblocks; i++) {
            if (style == 0)
                buf[i] = (uint8_t)alphabet[rn(sizeof alphabet - 1)];
            else if (style == 1)
                buf[i] = (uint8_t)rnd();
            else if (style == 2)
                buf[i] = rn(8) ? (uint8_t)("ab \"\\:,{"[rn(8)]) : (uint8_t)alphabet[rn(sizeof alphabet - 1)];
            else if (style == 3)
                buf[i] = rn(3) ? (uint8_t)'\\' : (uint8_t)("\"a"[rn(2)]);
            else
                buf[i] = rn(64) < dense ? (uint8_t)"{}[]:,\""[rn(100) ? rn(6) : 6] : (uint8_t)(rn(2) ? ' ' : '1');
        }
        s1_run(ref, buf, nblocks, &a);
        for (size_t i = 0; i < 64 * nblocks; i++) {
            if (((a.nl[i / 64] >> (i % 64)) & 1) != (buf[i] == '\n')) {
                CHECK(0);
                break;
            }
            if (i % 64 == 63 && a.bs[i / 64] != (memchr(buf + i - 63, '\\', 64) != NULL))
                CHECK(0);
        }
        for (size_t l = 1; l < NLEVELS; l++) {
            if (!dl_fz_has(all_levels[l]))
                continue;
            const struct dl_json_kernel *k = dl_json_kernel_for(all_levels[l]);
            s1_run(k, buf, nblocks, &b);
            CHECK_INT(b.n, a.n);
            CHECK(memcmp(a.idx, b.idx, a.n * sizeof a.idx[0]) == 0);
            CHECK(memcmp(a.bs, b.bs, nblocks) == 0);
            CHECK(memcmp(a.nl, b.nl, nblocks * sizeof a.nl[0]) == 0);
            CHECK_INT(a.err == SIZE_MAX, b.err == SIZE_MAX);
        }
    }
}

/* The index of a small known block. */
static void test_kernel_index_known(void)
{
    static uint8_t blk[128];
    const char *s = "{\"a\\\"b\":[1, true,\"x\\\\\"],\"c\" : -2.5e3 }";
    memset(blk, ' ', sizeof blk);
    memcpy(blk, s, strlen(s));
    /* { at 0, opening quote 1, ':' 7, '[' 8, 1 at 9, ',' 10, true 12, ',' 16, quote 17, ']' 22,
     * ',' 23, quote 24, ':' 28, atom 30, '}' 37 */
    static const uint32_t want[] = { 0, 1, 7, 8, 9, 10, 12, 16, 17, 22, 23, 24, 28, 30, 37 };
    for (size_t l = 0; l < NLEVELS; l++) {
        if (!dl_fz_has(all_levels[l]))
            continue;
        static struct s1out o;
        s1_run(dl_json_kernel_for(all_levels[l]), blk, 2, &o);
        CHECK_INT(o.n, sizeof want / sizeof want[0]);
        CHECK(memcmp(o.idx, want, sizeof want) == 0);
        CHECK_INT(o.bs[0], 1);
        CHECK_INT(o.bs[1], 0);
        CHECK(o.err == SIZE_MAX);
    }
}

/* UTF-8: a kernel flags an error exactly when dl_utf8_valid rejects, with the sequence at every
 * position around a block boundary (ASCII around it, no quotes). */
static void u8_case(const uint8_t *seq, size_t n)
{
    static uint8_t buf[192];
    size_t bad;
    bool valid = dl_utf8_valid(seq, n, &bad);
    for (size_t at = 58; at < 68; at += (n > 2 ? 3 : 1)) {
        memset(buf, 'a', sizeof buf);
        memcpy(buf + at, seq, n);
        for (size_t l = 0; l < NLEVELS; l++) {
            if (!dl_fz_has(all_levels[l]))
                continue;
            static struct s1out o;
            s1_run(dl_json_kernel_for(all_levels[l]), buf, 3, &o);
            if ((o.err == SIZE_MAX) != valid) {
                CHECK_INT(o.err == SIZE_MAX, valid);
                fprintf(stderr, "  kernel %s, sequence at %zu:", dl_simd_name(all_levels[l]), at);
                for (size_t i = 0; i < n; i++)
                    fprintf(stderr, " %02X", seq[i]);
                fprintf(stderr, "\n");
                return;
            }
            if (!valid && o.err < at + bad)
                CHECK(o.err >= at + bad); /* never before the offending byte */
        }
    }
}

static void test_utf8_exhaustive(void)
{
    static const uint8_t probe[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                     0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF };
    uint8_t s[4];
    for (int c = 0x80; c < 0x100; c++) {
        s[0] = (uint8_t)c;
        u8_case(s, 1);
    }
    for (int c = 0xC0; c < 0x100; c++)
        for (int d = 0; d < 0x100; d += (d >= 0x70 && d < 0xD0) ? 1 : 7) {
            s[0] = (uint8_t)c;
            s[1] = (uint8_t)d;
            u8_case(s, 2);
        }
    for (int c = 0xE0; c < 0x100; c++)
        for (int d = 0x70; d < 0xD0; d += 3)
            for (size_t e = 0; e < sizeof probe; e++) {
                s[0] = (uint8_t)c;
                s[1] = (uint8_t)d;
                s[2] = probe[e];
                u8_case(s, 3);
            }
    for (int c = 0xF0; c < 0x100; c += 1)
        for (size_t d = 0; d < sizeof probe; d++)
            for (size_t e = 0; e < sizeof probe; e += 2)
                for (size_t f = 0; f < sizeof probe; f += 3) {
                    s[0] = (uint8_t)c;
                    s[1] = probe[d];
                    s[2] = probe[e];
                    s[3] = probe[f];
                    u8_case(s, 4);
                }
}

/* ---- JSONTestSuite ---------------------------------------------------------------------- */

static bool only_ws(const uint8_t *p, size_t n)
{
    size_t i = n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF ? 3 : 0;
    for (; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
            return false;
    return true;
}

/* Did the decoder, in JSON mode, reject the document? A syntax error (FATAL or an ERROR other
 * than "not an object"), or nothing at all to read. */
static bool rejected(const uint8_t *p, size_t n, enum dl_simd_level level)
{
    struct dl_jsonfast *r = NULL;
    struct dl_item it;
    bool rej = only_ws(p, n);
    dl_item_init(&it);
    dl_jsonfast_new(p, n, DL_JSONREC_JSON, DL_JSONFAST_PLAIN, NULL, &r);
    dl_jsonfast_use_level(r, level);
    for (;;) {
        struct dl_jsonrec_out info;
        struct dl_pos_err err;
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &it, &info, &err);
        if (s == DL_JSONREC_END)
            break;
        if (s == DL_JSONREC_FATAL) {
            rej = true;
            break;
        }
        if (s == DL_JSONREC_ERROR && err.code == DL_ERR_PARSE && strncmp(err.msg, "array element ", 14) != 0 &&
            strcmp(err.msg, "top-level value is not an object or array") != 0)
            rej = true;
    }
    dl_jsonfast_destroy(r);
    dl_item_free(&it);
    return rej;
}

static void test_json_test_suite(void)
{
    const char *dir = DL_TESTDATA_DIR "/JSONTestSuite/test_parsing";
    DIR *d = opendir(dir);
    CHECK(d != NULL);
    if (!d)
        return;
    int files = 0, y = 0, n = 0;
    struct dirent *e;
    struct dl_buf b;
    dl_buf_init(&b, 0);
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        dl_buf_reset(&b);
        if (dl_buf_read_file(&b, path) != DL_OK)
            continue;
        files++;
        test_current = e->d_name;
        CHECK_SAME(b.data ? (const char *)b.data : "", b.len);
        for (size_t l = 0; l < NLEVELS; l++) {
            if (!dl_fz_has(all_levels[l]))
                continue;
            bool rej = rejected(b.data, b.len, all_levels[l]);
            if (e->d_name[0] == 'y') {
                CHECK(!rej);
                y += !rej;
            } else if (e->d_name[0] == 'n') {
                CHECK(rej);
                n += rej;
            }
        }
    }
    closedir(d);
    dl_buf_free(&b);
    test_current = "test_json_test_suite";
    CHECK(files >= 300);
    fprintf(stderr, "JSONTestSuite: %d files, %d y_ accepted and %d n_ rejected (summed over kernels)\n", files, y, n);
}

/* ---- block and window boundaries ------------------------------------------------------- */

/* Each template, preceded by 0..130 bytes of padding (spaces, or a filler record), so every
 * interesting byte lands on every position of a 64-byte block; NDJSON-style repetitions make
 * the small windows roll over inside records. */
static void test_block_boundaries(void)
{
    static const char *const tmpl[] = {
        "{\"k\":\"abcdefghij\\\"klmnop\\\\qrstuv\\/wx\\u00e9y\\ud83d\\ude00z\"}",
        "{\"k\":\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"}",          /* even run of backslashes */
        "{\"k\":\"\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"\"}",      /* odd run escaping a quote */
        "{\"k\":\"a\\\\\\\"b\\\\\\\\\\\"c\", \"j\": \"\\\\\"}",
        "{\"k\":\"日本語テキスト😀éèêëàáâãäåçñ\",\"l\":\"€€€€€€€€€€\"}",
        "{\"n\":-123456789.123456789e-12,\"m\":0,\"o\":1E+125,\"p\":12345678901234567890123456789012345678}",
        "{\"t\":true,\"f\":false,\"z\":null,\"a\":[true,false,null,[],{}]}",
        "{\"id\":\"key-1\",\"pk\":\"p\",\"sk\":42,\"a\":7,\"b\":\"s\",\"nested\":{\"x\":[1,{\"y\":\"z\"}]}}",
        "{\"id\":{\"S\":\"k\"},\"n\":{\"N\":\"-1.5e3\"},\"b\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
        "\"l\":{\"L\":[{\"S\":\"x\"},{\"M\":{\"q\":{\"N\":\"0\"}}}]},\"m\":{\"M\":{}}}",
        "{\"k\" : \"v\" ,\r\n \"w\"\t:\t[ 1 , 2 ]\n}",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "{\"bad\":\"\x01\"}",
        "{\"bad\":\"\xC3\"}",
        "{\"bad\":1.}",
        "{\"k\":\"unterminated}",
        "{\"k\":1e400}",
    };
    struct sb b = { 0 };
    for (size_t t = 0; t < sizeof tmpl / sizeof tmpl[0]; t++) {
        for (size_t pad = 0; pad <= 130; pad += quick ? 7 : 1) {
            b.len = 0;
            if (pad % 2 == 0) {
                sb_rep(&b, " ", pad);
            } else {
                /* a filler record whose length moves the template */
                sb_s(&b, "{\"f\":\"");
                sb_rep(&b, "x", pad);
                sb_s(&b, "\"}\n");
            }
            sb_s(&b, tmpl[t]);
            sb_s(&b, "\n");
            sb_s(&b, tmpl[t]);
            sb_s(&b, "\n{\"after\":1}\n");
            CHECK_SAME(b.p, b.len);
        }
    }
    /* the same templates inside a top-level array, pretty-printed */
    for (size_t t = 0; t < sizeof tmpl / sizeof tmpl[0]; t++)
        for (size_t pad = 0; pad <= 70; pad += 3) {
            b.len = 0;
            sb_s(&b, "[\n");
            sb_rep(&b, " ", pad);
            sb_s(&b, tmpl[t]);
            sb_s(&b, ",\n  ");
            sb_s(&b, tmpl[t]);
            sb_s(&b, "\n]\n");
            CHECK_SAME(b.p, b.len);
        }
    free(b.p);
}

/* The fast path really is taken for valid records, across windows. */
static void test_fast_path_used(void)
{
    struct sb b = { 0 };
    for (int i = 0; i < 500; i++) {
        char line[256];
        snprintf(line, sizeof line,
                 "{\"id\":\"u%d\",\"n\":%d.%d,\"s\":\"caf\\u00e9 %d\",\"tags\":[\"a\",\"b\"],\"m\":{\"x\":null}}\n",
                 i, i, i % 10, i);
        sb_s(&b, line);
    }
    for (size_t l = 0; l < NLEVELS; l++) {
        if (!dl_fz_has(all_levels[l]))
            continue;
        static const size_t windows[] = { 0, 64, 128, 4096 };
        for (size_t w = 0; w < 4; w++) {
            struct dl_jsonfast_stats st = { 0 };
            CHECK_INT(dl_fz_json_diff((const uint8_t *)b.p, b.len, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN, NULL,
                                      all_levels[l], windows[w], why, sizeof why, &st),
                      0);
            CHECK_INT(st.fast, 500);
            CHECK_INT(st.fallback, 0);
            if (windows[w] == 0)
                CHECK_INT(st.windows, 1);
        }
    }
    free(b.p);
}

/* ---- behaviours ---------------------------------------------------------------------------- */

static void test_item_bytes(void)
{
    struct one o;
    run_one("{\"a\":\"x\",\"n\":1.50,\"b\":true,\"z\":null,\"l\":[1,\"s\"],\"m\":{\"k\":\"v\"},\"e\":\"\\u00e9\\n\"}",
            DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
    CHECK_INT(o.n, 1);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[0], "{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1.50\"},\"b\":{\"BOOL\":true},\"z\":{\"NULL\":true},"
                         "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"s\"}]},\"m\":{\"M\":{\"k\":{\"S\":\"v\"}}},"
                         "\"e\":{\"S\":\"\xC3\xA9\\n\"}}");
    /* names 1+1+1+1+1+1+1, "x" 1, 1.50 -> 2 digits -> 2, true 1, null 1, list 3+1+2+1+1,
     * map 3+1+1+1 ("k" + "v"), "é\n" 3 */
    CHECK_INT(o.size[0], 7 + 1 + 2 + 1 + 1 + (3 + 1 + 2 + 1 + 1) + (3 + 1 + 1 + 1) + 3);
    CHECK_INT(o.stats.fast, 1);
    CHECK_INT(o.stats.fallback, 0);
}

static void test_keys(void)
{
    struct one o;
    const struct dl_key_schema n1 = { 1, { { (char *)"id", 2, 'N' }, { NULL, 0, 0 } } };
    run_one("{\"x\":1,\"id\":\"42\"}\n{\"id\":4.20e1}\n{\"id\":\"4x\"}\n{\"x\":1}\n", DL_JSONREC_NDJSON,
            DL_JSONFAST_PLAIN, &n1, &o);
    CHECK_INT(o.n, 4);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[0], "{\"x\":{\"N\":\"1\"},\"id\":{\"N\":\"42\"}}");
    CHECK_STR(o.key_wire[0], "{\"id\":{\"N\":\"42\"}}");
    CHECK_INT(o.keylen[0], 5 + 4);
    CHECK(memcmp(o.key[0], "N\0\0\0\004" "42E0", 9) == 0);
    CHECK_INT(o.st[1], DL_JSONREC_ITEM);
    CHECK(memcmp(o.key[1], "N\0\0\0\004" "42E0", 9) == 0); /* 4.20e1 is the same key */
    CHECK_STR(o.wire[1], "{\"id\":{\"N\":\"4.20e1\"}}");
    CHECK_INT(o.st[2], DL_JSONREC_ERROR);
    CHECK_INT(o.err[2].code, DL_ERR_INVALID);
    CHECK_INT(o.err[2].line, 3);
    CHECK_INT(o.err[2].column, 7);
    CHECK_INT(o.st[3], DL_JSONREC_ERROR);
    CHECK_STR(o.err[3].msg, "missing partition key 'id'");
    CHECK_INT(o.err[3].line, 4);
    CHECK_INT(o.err[3].column, 0);
    CHECK_INT(o.stats.fast, 2);

    const struct dl_key_schema sb2 = { 2, { { (char *)"pk", 2, 'S' }, { (char *)"sk", 2, 'B' } } };
    run_one("{\"sk\":\"hi\",\"pk\":17}", DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, &sb2, &o);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[0], "{\"sk\":{\"B\":\"aGk=\"},\"pk\":{\"S\":\"17\"}}");
    CHECK_STR(o.key_wire[0], "{\"pk\":{\"S\":\"17\"},\"sk\":{\"B\":\"aGk=\"}}");
    CHECK_INT(o.size[0], 2 + 2 + 2 + 2);
    CHECK_INT(o.stats.fast, 1);

    /* DynamoDB JSON keys */
    run_one("{\"pk\":{\"S\":\"a\"},\"sk\":{\"B\":\"aGk=\"}}", DL_JSONREC_AUTO, DL_JSONFAST_DDB, &sb2, &o);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.key_wire[0], "{\"pk\":{\"S\":\"a\"},\"sk\":{\"B\":\"aGk=\"}}");
    CHECK_INT(o.stats.fallback, 1); /* B goes the scalar way */
}

static void test_ddb_kind(void)
{
    struct one o;
    run_one("{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1.5\"},\"l\":{\"L\":[{\"BOOL\":false},{\"NULL\":true}]},"
            "\"m\":{\"M\":{\"k\":{\"S\":\"\"}}}}\n{\"a\":{\"S\":\"x\",\"N\":\"1\"}}\n{\"s\":{\"SS\":[\"a\",\"b\"]}}\n",
            DL_JSONREC_NDJSON, DL_JSONFAST_DDB, NULL, &o);
    CHECK_INT(o.n, 3);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[0], "{\"a\":{\"S\":\"x\"},\"n\":{\"N\":\"1.5\"},\"l\":{\"L\":[{\"BOOL\":false},{\"NULL\":true}]},"
                         "\"m\":{\"M\":{\"k\":{\"S\":\"\"}}}}");
    CHECK_INT(o.st[1], DL_JSONREC_ERROR);
    CHECK_STR(o.err[1].msg, "attribute 'a': value has 2 type keys; exactly one is allowed");
    CHECK_INT(o.st[2], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[2], "{\"s\":{\"SS\":[\"a\",\"b\"]}}");
    CHECK_INT(o.stats.fast, 1);
}

static void test_duplicates_fall_back(void)
{
    struct one o;
    run_one("{\"a\":1,\"b\":{\"x\":1,\"x\":2},\"a\":3}", DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_STR(o.wire[0], "{\"b\":{\"M\":{\"x\":{\"N\":\"2\"}}},\"a\":{\"N\":\"3\"}}");
    CHECK_INT(o.stats.fallback, 1);
    CHECK_INT(o.stats.fast, 0);
    /* a wide object: duplicates found through the hash table */
    struct sb b = { 0 };
    sb_s(&b, "{");
    for (int i = 0; i < 100; i++) {
        char m[32];
        snprintf(m, sizeof m, "\"m%d\":%d,", i, i);
        sb_s(&b, m);
    }
    sb_s(&b, "\"m0\":\"last\"}");
    run_one(b.p, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_INT(o.stats.fallback, 1);
    CHECK_SAME(b.p, b.len);
    b.len = 0;
    sb_s(&b, "{");
    for (int i = 0; i < 100; i++) {
        char m[32];
        snprintf(m, sizeof m, "%s\"m%d\":%d", i ? "," : "", i, i);
        sb_s(&b, m);
    }
    sb_s(&b, "}");
    run_one(b.p, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
    CHECK_INT(o.stats.fast, 1);
    free(b.p);
}

static void test_size_limit(void)
{
    /* {"a":"xxx...","b":"..."}: names 2 bytes, values to fill exactly 409,600 */
    struct sb b = { 0 };
    for (int extra = 0; extra < 2; extra++) {
        b.len = 0;
        sb_s(&b, "{\"a\":\"");
        sb_rep(&b, "x", 300000);
        sb_s(&b, "\",\"b\":\"");
        sb_rep(&b, "y", 409600 - 2 - 300000 + (size_t)extra);
        sb_s(&b, "\"}");
        struct dl_jsonfast *r = NULL;
        struct dl_item it;
        dl_item_init(&it);
        CHECK_INT(dl_jsonfast_new((const uint8_t *)b.p, b.len, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &r), DL_OK);
        struct dl_jsonrec_out info;
        struct dl_pos_err err;
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &it, &info, &err);
        if (!extra) {
            CHECK_INT(s, DL_JSONREC_ITEM);
            CHECK_INT(it.size, 409600);
        } else {
            CHECK_INT(s, DL_JSONREC_ERROR);
            CHECK_INT(err.code, DL_ERR_TOO_LARGE);
            CHECK_STR(err.msg, "item is 409,601 bytes; DynamoDB's limit is 400 KB (409,600 bytes)");
        }
        dl_jsonfast_destroy(r);
        dl_item_free(&it);
        CHECK_SAME(b.p, b.len);
    }
    free(b.p);
}

static void test_deep_nesting(void)
{
    struct sb b = { 0 };
    for (int depth = 30; depth <= 34; depth++) {
        for (int arr = 0; arr < 2; arr++) {
            b.len = 0;
            sb_s(&b, "{\"a\":");
            for (int i = 1; i < depth; i++)
                sb_s(&b, arr ? "[" : "{\"b\":");
            sb_s(&b, "1");
            for (int i = 1; i < depth; i++)
                sb_s(&b, arr ? "]" : "}");
            sb_s(&b, "}\n");
            struct one o;
            run_one(b.p, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
            /* the number sits at level `depth`: 32 is allowed */
            CHECK_INT(o.st[0], depth <= DL_ITEM_MAX_DEPTH ? DL_JSONREC_ITEM : DL_JSONREC_ERROR);
            if (depth > DL_ITEM_MAX_DEPTH)
                CHECK_STR(o.err[0].msg, "attribute 'a': nesting deeper than 32 levels");
            CHECK_SAME(b.p, b.len);
        }
    }
    /* beyond the parser's 512 levels */
    b.len = 0;
    sb_s(&b, "{\"a\":");
    sb_rep(&b, "[", 600);
    sb_rep(&b, "]", 600);
    sb_s(&b, "}");
    CHECK_SAME(b.p, b.len);
    free(b.p);
}

static void test_ndjson_bad_lines(void)
{
    const char *in = "{\"a\":1}\n{\"a\":\n{\"b\":\"\xFF\"}\r\n  {\"c\":tru}\n{\"d\":[1,2]}\n[{\"e\":1},3,{\"f\":\n{\"g\":1e999}\n";
    struct one o;
    run_one(in, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN, NULL, &o);
    CHECK_INT(o.n, 9);
    CHECK_INT(o.st[0], DL_JSONREC_ITEM);
    CHECK_INT(o.st[1], DL_JSONREC_ERROR);
    CHECK_INT(o.err[1].line, 2);
    CHECK_INT(o.st[2], DL_JSONREC_ERROR);
    CHECK_STR(o.err[2].msg, "invalid UTF-8 byte 0xFF");
    CHECK_INT(o.st[3], DL_JSONREC_ERROR);
    CHECK_INT(o.info[3].column, 3);
    CHECK_INT(o.st[4], DL_JSONREC_ITEM);
    CHECK_INT(o.st[5], DL_JSONREC_ITEM);
    CHECK_INT(o.st[6], DL_JSONREC_ERROR);
    CHECK_STR(o.err[6].msg, "array element 2 is not an object (found number)");
    CHECK_INT(o.st[7], DL_JSONREC_ERROR);
    CHECK_INT(o.st[8], DL_JSONREC_ERROR);
    CHECK_INT(o.err[8].line, 7);
    CHECK_INT(o.err[8].column, 6);
    CHECK_INT(o.err[8].code, DL_ERR_INVALID);
    CHECK_SAME(in, strlen(in));
    /* AUTO's line-delimited guess, a BOM, JSON mode's single document */
    const char *more[] = {
        "\xEF\xBB\xBF{\"a\":1}\n{\"a\":2",
        "{\"a\":1}\n{\"b\":\n 2}\n{bad}\n{\"c\":3}\n",
        "{\n \"a\": 1\n}\n{\n \"b\": x\n}\n",
        "{\"a\":1} {\"b\":2}\n[1,{\"c\":3}]",
        "[{\"a\":1},\n{\"b\":2},\n]",
        "  \n\n",
        "",
    };
    for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
        CHECK_SAME(more[i], strlen(more[i]));
}

/* A random number text from JSON's grammar (sometimes broken), biased to DynamoDB's edges:
 * 38/39 significant digits, exponents near -130 and +125, zeros around the digits. */
static void gen_number(struct sb *b)
{
    char buf[256];
    size_t n = 0;
    if (rn(3) == 0)
        buf[n++] = '-';
    size_t lead = rn(4) == 0 ? 1 : 0; /* "0" integer part */
    if (lead) {
        buf[n++] = '0';
        if (rn(40) == 0)
            buf[n++] = (char)('0' + rn(10)); /* leading zero: invalid */
    } else {
        size_t k = 1 + rn(rn(4) == 0 ? 45 : 8);
        buf[n++] = (char)('1' + rn(9));
        for (size_t i = 1; i < k; i++)
            buf[n++] = rn(3) == 0 ? '0' : (char)('0' + rn(10));
    }
    if (rn(2)) {
        buf[n++] = '.';
        size_t k = rn(40) == 0 ? 0 : 1 + rn(rn(4) == 0 ? 45 : 6);
        size_t zeros = rn(4) == 0 ? rn(140) : 0;
        for (size_t i = 0; i < zeros && n < 200; i++)
            buf[n++] = '0';
        for (size_t i = 0; i < k && n < 240; i++)
            buf[n++] = rn(3) == 0 ? '0' : (char)('0' + rn(10));
    }
    if (rn(3) == 0) {
        buf[n++] = rn(2) ? 'e' : 'E';
        if (rn(2))
            buf[n++] = rn(2) ? '+' : '-';
        static const int exps[] = { 0, 1, 7, 38, 88, 124, 125, 126, 127, 129, 130, 131, 132, 168, 999 };
        int x = rn(3) ? exps[rn(sizeof exps / sizeof exps[0])] : (int)rn(200);
        if (rn(40) == 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "000");
        else if (rn(60) != 0)
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%d", x);
    }
    sb_put(b, buf, n);
}

/* stage 2's number check (JSON grammar, then DynamoDB's digits and range in one pass) against
 * parse_number + dl_num_check, through whole records: as values, as N and S keys, and as
 * DynamoDB JSON N strings. */
static void test_numbers(void)
{
    static const struct dl_key_schema kn = { 1, { { (char *)"k", 1, 'N' }, { NULL, 0, 0 } } };
    static const struct dl_key_schema ksch = { 1, { { (char *)"k", 1, 'S' }, { NULL, 0, 0 } } };
    struct sb plain = { 0 }, ddb = { 0 };
    struct dl_jsonfast_stats st = { 0 };
    int lines = quick ? 500 : 4000;
    for (int i = 0; i < lines; i++) {
        sb_s(&plain, "{\"v\":");
        gen_number(&plain);
        sb_s(&plain, ",\"k\":");
        gen_number(&plain);
        sb_s(&plain, ",\"l\":[");
        gen_number(&plain);
        sb_s(&plain, "]}\n");
        sb_s(&ddb, "{\"k\":{\"N\":\"");
        gen_number(&ddb);
        sb_s(&ddb, "\"},\"v\":{\"N\":\"");
        gen_number(&ddb);
        sb_s(&ddb, "\"}}\n");
    }
    for (size_t l = 0; l < NLEVELS; l++) {
        if (!dl_fz_has(all_levels[l]))
            continue;
        const struct dl_key_schema *schemas[] = { NULL, &kn, &ksch };
        for (int k = 0; k < 3; k++) {
            CHECK_INT(dl_fz_json_diff((const uint8_t *)plain.p, plain.len, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN,
                                      schemas[k], all_levels[l], 0, why, sizeof why, &st),
                      0);
            CHECK_INT(dl_fz_json_diff((const uint8_t *)ddb.p, ddb.len, DL_JSONREC_NDJSON, DL_JSONFAST_DDB,
                                      schemas[k], all_levels[l], 0, why, sizeof why, &st),
                      0);
            if (why[0])
                fprintf(stderr, "  %s\n", why);
        }
    }
    CHECK(st.fast > 0 && st.fallback > 0); /* both valid and invalid numbers were generated */
    fprintf(stderr, "numbers: %llu records fast, %llu via the scalar path\n", (unsigned long long)st.fast,
            (unsigned long long)st.fallback);
    free(plain.p);
    free(ddb.p);
}

/* Records whose DynamoDB JSON is as long as it gets per input byte (stage 2 reserves
 * 9 output bytes per input byte up front and then writes unchecked; ASan builds catch an
 * overrun), each the last thing in the input so the reservation is as tight as it gets. */
static void test_output_bound(void)
{
    static const char *const unit[] = { "1", "[]", "{}", "true", "null", "0", "[1]", "\"\"", "{\"a\":1}" };
    struct sb b = { 0 };
    for (size_t u = 0; u < sizeof unit / sizeof unit[0]; u++) {
        for (int n = 1; n <= 4000; n *= 4) {
            b.len = 0;
            sb_s(&b, "{\"a\":[");
            for (int i = 0; i < n; i++) {
                if (i)
                    sb_s(&b, ",");
                sb_s(&b, unit[u]);
            }
            sb_s(&b, "]}");
            struct one o;
            run_one(b.p, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &o);
            CHECK_INT(o.st[0], DL_JSONREC_ITEM);
            CHECK_INT(o.stats.fast, 1);
            CHECK_SAME(b.p, b.len);
        }
    }
    free(b.p);
}

/* Windows: long records, a record longer than the window, many records per window. */
static void test_windows(void)
{
    struct sb b = { 0 };
    sb_s(&b, "{\"big\":\"");
    /* longer than the 192 KiB default window (natively; the 64/128-byte windows cover it under qemu) */
    sb_rep(&b, "0123456789abcdef", quick ? 2000 : 20000);
    sb_s(&b, "\",\"n\":1}\n{\"small\":2}\n[");
    int nel = quick ? 500 : 3000;
    for (int i = 0; i < nel; i++)
        sb_s(&b, i ? ",{\"k\":\"v\",\"i\":[1,2,3]}" : "{\"k\":\"v\",\"i\":[1,2,3]}");
    sb_s(&b, "]\n");
    CHECK_SAME(b.p, b.len);
    struct dl_jsonfast_stats st = { 0 };
    CHECK_INT(dl_fz_json_diff((const uint8_t *)b.p, b.len, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, dl_cpu_level(),
                              0, why, sizeof why, &st),
              0);
    CHECK_INT(st.fast, (uint64_t)nel + 2);
    CHECK_INT(st.fallback, 0);
    free(b.p);
}

/* ---- randomized differential loop ------------------------------------------------------ */

/* member names: mostly plain (the fast path), some that force the scalar path */
static const char *const rnames[] = { "id", "pk", "sk", "a", "b", "name", "n", "x y", "\xC3\xA9", "日本",
                                      "S", "N", "L", "M", "c", "d", "e", "f", "g", "h", "i", "j", "k",
                                      "longer_attribute_name", "tags", "address", "geo", "lat", "lon" };
static const char *const rnames_odd[] = { "", "k\\u0041", "q\\\"", "a" };
static const char *const rnumbers[] = {
    "0", "-0", "1", "-1", "42", "3.14", "-2.5e-3", "1E+125", "9.9999999999999999999999999999999999999E125",
    "1e-130", "10e-131", "0.000001", "12345678901234567890123456789012345678",
    "1.2345678901234567890123456789012345678", "100000000000000000000000000000000000000000000",
    "0e999999999999999999", "2E-0", "0.0e0", "-0.0", "1.000000000000000000000000000000000000000000000",
    "123456", "-98765.4321", "6.02214076e23", "1e-7", "0.5",
};
static const char *const rnumbers_odd[] = {
    "1e126", "1e-131", "123456789012345678901234567890123456789", "1e-99999999999999999999",
    "01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "1.5.3", "Infinity", "NaN", "-01",
};
static const char *const rstrings[] = {
    "", "plain", "with space", "caf\xC3\xA9", "日本語", "😀", "\\n\\t\\r\\b\\f", "\\\"q\\\"", "\\\\", "\\/",
    "\\u0041\\u00e9\\u65e5", "\\ud83d\\ude00", "\\u0000", "\\u001f", "a\\\\\\\\\\\\\"b", "\x7F",
    "42", "-7.5", "1e400", "aGk=", "2024-01-15T10:00:00Z", "M\xC3\xBCnchen",
};
static const char *const rstrings_odd[] = {
    "\\ud83d", "\\ude00", "\\u12", "\\x", "\xC3", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\x01",
};

static void gen_ws(struct sb *b, int nl)
{
    int k = (int)rn(8);
    if (k < 5)
        return;
    static const char *const w[] = { " ", "  ", "\t", "\n", "\r\n" };
    sb_s(b, w[rn(nl ? 5 : 3)]);
}

static void gen_str(struct sb *b)
{
    sb_s(b, "\"");
    int k = (int)rn(10);
    if (k < 6) {
        if (rn(25) == 0)
            sb_s(b, rstrings_odd[rn(sizeof rstrings_odd / sizeof rstrings_odd[0])]);
        else
            sb_s(b, rstrings[rn(sizeof rstrings / sizeof rstrings[0])]);
    } else if (k < 9) {
        size_t n = rn(150);
        for (size_t i = 0; i < n; i++) {
            size_t c = rn(40);
            if (c == 0)
                sb_s(b, "\\\\");
            else if (c == 1)
                sb_s(b, "\\\"");
            else if (c == 2)
                sb_s(b, "\xC3\xA9");
            else if (c == 3)
                sb_s(b, "\xE2\x82\xAC");
            else if (c == 4)
                sb_s(b, "\xF0\x9F\x98\x80");
            else {
                char ch = (char)('a' + rn(26));
                sb_put(b, &ch, 1);
            }
        }
    } else {
        sb_rep(b, "\\", rn(7));
        sb_s(b, rn(2) ? "x" : "");
    }
    sb_s(b, "\"");
}

static void gen_value(struct sb *b, int depth, bool ddb, int nl);

/* The key schema of the input being generated: top-level objects usually carry its keys. */
static const struct dl_key_schema *gen_ks;

static void gen_key(struct sb *b, int k, bool ddb)
{
    char t = gen_ks->k[k].type;
    char v[64];
    sb_s(b, "\"");
    sb_put(b, gen_ks->k[k].name, gen_ks->k[k].name_len);
    sb_s(b, "\":");
    if (t == 'N') {
        static const char *const nums[] = { "42", "-1.5e3", "0", "4.20e1", "123456789012345678901234567890" };
        const char *n = nums[rn(5)];
        if (ddb)
            snprintf(v, sizeof v, "{\"N\":\"%s\"}", n);
        else
            snprintf(v, sizeof v, rn(2) ? "%s" : "\"%s\"", n);
    } else {
        static const char *const strs[] = { "k-1", "caf\xC3\xA9", "x", "2024-01-15", "17" };
        const char *sv = strs[rn(5)];
        if (ddb)
            snprintf(v, sizeof v, "{\"%c\":\"%s\"}", t, t == 'B' ? "aGk=" : sv);
        else if (t == 'S' && rn(4) == 0)
            snprintf(v, sizeof v, "%d", (int)rn(1000));
        else
            snprintf(v, sizeof v, "\"%s\"", sv);
    }
    sb_s(b, v);
}

static void gen_object(struct sb *b, int depth, bool ddb, int nl, bool top)
{
    const size_t nnames = sizeof rnames / sizeof rnames[0];
    uint64_t used = 0;
    sb_s(b, "{");
    gen_ws(b, nl);
    size_t n = rn(top ? 10 : 5);
    bool keys = top && gen_ks && rn(10);
    size_t keyat = rn(n + 1);
    for (size_t i = 0; i <= n; i++) {
        if (keys && i == keyat) {
            if (i)
                sb_s(b, ",");
            for (int k = 0; k < gen_ks->n; k++) {
                if (k)
                    sb_s(b, ",");
                gen_key(b, k, ddb);
            }
            if (i < n)
                sb_s(b, ",");
        }
        if (i == n)
            break;
        if (i && !(keys && i == keyat)) {
            sb_s(b, ",");
            gen_ws(b, nl);
        }
        sb_s(b, "\"");
        if (rn(40) == 0) {
            sb_s(b, rnames_odd[rn(sizeof rnames_odd / sizeof rnames_odd[0])]);
        } else {
            /* distinct names, except now and then a duplicate */
            size_t k = rn(nnames);
            for (int tries = 0; tries < 8 && (used >> k & 1) && rn(30); tries++)
                k = rn(nnames);
            used |= 1ULL << k;
            sb_s(b, rnames[k]);
        }
        sb_s(b, "\"");
        gen_ws(b, nl);
        sb_s(b, ":");
        gen_ws(b, nl);
        gen_value(b, depth + 1, ddb, nl);
        gen_ws(b, nl);
    }
    sb_s(b, "}");
}

static void gen_plain(struct sb *b, int depth, bool ddb, int nl)
{
    size_t k = rn(depth > 5 ? 6 : 9);
    switch (k) {
    case 0:
    case 1:
        gen_str(b);
        break;
    case 2:
    case 3:
        sb_s(b, rn(25) ? rnumbers[rn(sizeof rnumbers / sizeof rnumbers[0])]
                       : rnumbers_odd[rn(sizeof rnumbers_odd / sizeof rnumbers_odd[0])]);
        break;
    case 4:
        sb_s(b, rn(2) ? "true" : "false");
        break;
    case 5:
        sb_s(b, "null");
        break;
    case 6:
    case 7: {
        sb_s(b, "[");
        size_t n = rn(5);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_s(b, ",");
            gen_ws(b, nl);
            gen_value(b, depth + 1, ddb, nl);
        }
        sb_s(b, "]");
        break;
    }
    default:
        gen_object(b, depth, ddb, nl, false);
        break;
    }
}

static void gen_value(struct sb *b, int depth, bool ddb, int nl)
{
    if (!ddb || rn(20) == 0) {
        gen_plain(b, depth, ddb, nl);
        return;
    }
    static const char *const types[] = { "S", "N", "BOOL", "NULL", "L", "M", "B", "SS", "NS" };
    size_t t = rn(12) ? rn(6) : rn(sizeof types / sizeof types[0]);
    sb_s(b, "{\"");
    sb_s(b, types[t]);
    sb_s(b, "\":");
    switch (t) {
    case 0: gen_str(b); break;
    case 1:
        sb_s(b, "\"");
        sb_s(b, rn(25) ? rnumbers[rn(sizeof rnumbers / sizeof rnumbers[0])]
                       : rnumbers_odd[rn(sizeof rnumbers_odd / sizeof rnumbers_odd[0])]);
        sb_s(b, "\"");
        break;
    case 2: sb_s(b, rn(2) ? "true" : "false"); break;
    case 3: sb_s(b, rn(8) ? "true" : "false"); break;
    case 4: {
        sb_s(b, "[");
        size_t n = depth > 5 ? 0 : rn(4);
        for (size_t i = 0; i < n; i++) {
            if (i)
                sb_s(b, ",");
            gen_value(b, depth + 1, ddb, nl);
        }
        sb_s(b, "]");
        break;
    }
    case 5:
        if (depth > 5)
            sb_s(b, "{}");
        else
            gen_object(b, depth, ddb, nl, false);
        break;
    case 6: sb_s(b, rn(2) ? "\"aGk=\"" : "\"aGk\""); break;
    default: sb_s(b, rn(2) ? "[\"1\",\"2\"]" : "[\"1\",\"1.0\"]"); break;
    }
    if (rn(30) == 0)
        sb_s(b, ",\"S\":\"x\"");
    sb_s(b, "}");
}

static void mutate(struct sb *b)
{
    static const char nasty[] = "\"\\{}[],: \n\t\r\x00\x1f\x80\xC3\xE2\xF0\xFF" "e-0a";
    size_t ops = 1 + rn(4);
    for (size_t k = 0; k < ops && b->len; k++) {
        size_t at = rn(b->len);
        switch (rn(5)) {
        case 0: b->p[at] = nasty[rn(sizeof nasty - 1)]; break;
        case 1:
            memmove(b->p + at, b->p + at + 1, b->len - at - 1);
            b->len--;
            break;
        case 2: {
            char c = nasty[rn(sizeof nasty - 1)];
            sb_put(b, "", 1);
            memmove(b->p + at + 1, b->p + at, b->len - at - 1);
            b->p[at] = c;
            break;
        }
        case 3: b->len = at; break;
        default: {
            size_t n = rn(b->len - at) % 64;
            char tmp[64];
            memcpy(tmp, b->p + at, n);
            sb_put(b, tmp, n);
            break;
        }
        }
    }
}

static void test_random_differential(void)
{
    static const enum dl_jsonrec_mode modes[] = { DL_JSONREC_AUTO, DL_JSONREC_JSON, DL_JSONREC_NDJSON };
    static const size_t windows[] = { 0, 64, 128, 192, 256, 4096 };
    const size_t nschemas = sizeof dl_fz_schemas / sizeof dl_fz_schemas[0];
    struct sb b = { 0 };
    struct dl_jsonfast_stats st = { 0 };
    int diffs = 0, runs = 0;
    rng = 0x243F6A8885A308D3ULL; /* fixed seed: the same 20,000 inputs every time */
    int iters = quick ? 3000 : 20000;
    for (int iter = 0; iter < iters && diffs < 5; iter++) {
        bool ddb = rn(3) == 0;
        const struct dl_key_schema *ks = rn(2) ? &dl_fz_schemas[rn(nschemas)] : NULL;
        gen_ks = ks;
        int layout = (int)rn(4); /* NDJSON lines, array, pretty objects, single object */
        int nl = layout == 0 ? 0 : 1;
        b.len = 0;
        size_t nrec = 1 + rn(layout == 3 ? 1 : 6);
        if (layout == 1)
            sb_s(&b, "[");
        for (size_t i = 0; i < nrec; i++) {
            if (layout == 1 && i)
                sb_s(&b, ",");
            gen_ws(&b, nl);
            if (rn(15) == 0)
                gen_plain(&b, 1, ddb, nl);
            else
                gen_object(&b, 0, ddb, nl, true);
            sb_s(&b, layout == 1 ? "" : "\n");
        }
        if (layout == 1)
            sb_s(&b, "]\n");
        if (rn(4) == 0)
            mutate(&b);
        enum dl_jsonrec_mode mode = modes[layout == 0 ? (rn(2) ? 2 : 0) : rn(3)];
        enum dl_jsonfast_kind kind = ddb ? DL_JSONFAST_DDB : (rn(10) ? DL_JSONFAST_PLAIN : DL_JSONFAST_DDB);
        size_t window = windows[rn(6)];
        for (size_t l = 0; l < NLEVELS; l++) {
            if (!dl_fz_has(all_levels[l]))
                continue;
            runs++;
            if (dl_fz_json_diff((const uint8_t *)b.p, b.len, mode, kind, ks, all_levels[l], window, why, sizeof why,
                                &st)) {
                diffs++;
                CHECK(0);
                fprintf(stderr, "  input #%d (%zu bytes): %.*s\n  %s\n", iter, b.len, (int)b.len, b.p, why);
                const char *dump = getenv("DL_JSONFAST_DUMP"); /* a directory for failing inputs */
                if (dump) {
                    char path[1024];
                    snprintf(path, sizeof path, "%s/jsonfast-fail-%d.json", dump, iter);
                    FILE *f = fopen(path, "wb");
                    if (f) {
                        fwrite(b.p, 1, b.len, f);
                        fclose(f);
                    }
                }
                break;
            }
        }
    }
    CHECK_INT(diffs, 0);
    fprintf(stderr, "random differential: %d runs, %llu records fast, %llu via the scalar path\n", runs,
            (unsigned long long)st.fast, (unsigned long long)st.fallback);
    CHECK(st.fast > (uint64_t)iters / 2);
    free(b.p);
}

/* The seed corpus of the fuzzer, replayed (the fuzz CMake replays it too when present). */
static void test_fuzz_corpus(void)
{
    const char *dir = DL_PROJECT_DIR "/tests/fuzz/corpus/json";
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    struct dl_buf b;
    dl_buf_init(&b, 0);
    int files = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        dl_buf_reset(&b);
        if (dl_buf_read_file(&b, path) != DL_OK)
            continue;
        files++;
        test_current = e->d_name;
        CHECK_SAME(b.data ? (const char *)b.data : "", b.len);
    }
    closedir(d);
    dl_buf_free(&b);
    test_current = "test_fuzz_corpus";
    CHECK(files > 0);
}

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define TIMED(fn)                                                                              \
    do {                                                                                       \
        double t0_ = now();                                                                    \
        TEST_RUN(fn);                                                                          \
        fprintf(stderr, "%-28s %6.2f s\n", #fn, now() - t0_);                                  \
    } while (0)

/* The reader takes its kernel from dl_cpu_level(), which dl_cpu_force (and DDBLOAD_SIMD) set. */
static void test_kernel_selection(void)
{
    int prev = -1;
    for (size_t l = 0; l < NLEVELS; l++) {
        if (!dl_fz_has(all_levels[l]))
            continue;
        int was = dl_cpu_force(all_levels[l]);
        CHECK(was >= 0);
        if (prev < 0)
            prev = was;
        struct dl_jsonfast *r = NULL;
        CHECK_INT(dl_jsonfast_new((const uint8_t *)"{}", 2, DL_JSONREC_AUTO, DL_JSONFAST_PLAIN, NULL, &r), DL_OK);
        CHECK_STR(dl_jsonfast_kernel(r), dl_simd_name(all_levels[l]));
        dl_jsonfast_destroy(r);
    }
    if (prev >= 0)
        dl_cpu_force((enum dl_simd_level)prev);
}

int main(void)
{
    quick = getenv("DL_TEST_QUICK") && atoi(getenv("DL_TEST_QUICK")) > 0;
    for (size_t l = 0; l < NLEVELS; l++)
        if (dl_fz_has(all_levels[l]))
            fprintf(stderr, "kernel available: %s\n", dl_simd_name(all_levels[l]));
    TIMED(test_kernel_selection);
    TIMED(test_kernel_index_known);
    TIMED(test_kernels_agree);
    TIMED(test_utf8_exhaustive);
    TIMED(test_item_bytes);
    TIMED(test_keys);
    TIMED(test_ddb_kind);
    TIMED(test_duplicates_fall_back);
    TIMED(test_size_limit);
    TIMED(test_deep_nesting);
    TIMED(test_ndjson_bad_lines);
    TIMED(test_numbers);
    TIMED(test_output_bound);
    TIMED(test_windows);
    TIMED(test_fast_path_used);
    TIMED(test_block_boundaries);
    TIMED(test_json_test_suite);
    TIMED(test_fuzz_corpus);
    TIMED(test_random_differential);
    return test_summary();
}
