/* The object decoder's parallel path gives exactly what one thread gives: every input is decoded
 * with threads = 1 and with 2, 3 and 4 threads over tiny chunks (and tiny per-slot output caps,
 * so chunks are also finished on the calling thread), and the sink must see the same calls in
 * the same order: items (wire, key, key_wire, size, delete flag, origin), rejects (message, raw
 * text, record, line, column), skips, the same statistics and the same return code. Inputs:
 * CSV/TSV with quoted line breaks, CRLF and lone CR, BOMs, bad quotes, invalid UTF-8, ragged
 * rows, blank lines, an unterminated quote, header-less --columns, quoting off; NDJSON with bad,
 * blank and whitespace-led lines, several values on a line, arrays, BOMs; key schemas;
 * transforms with --key-seq; zip entries, a gzip object and a mapped file (pages given back
 * behind the decoder while workers read ahead); sinks that stop at every position; and random
 * inputs. The parallel path is seen to run (its debug log line). */
#include "decode/decode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zip.h>
#include <zlib.h>

#include "core/log.h"
#include "core/spill.h"
#include "item/transform.h"
#include "test.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static int scale = 1; /* DL_TEST_QUICK=1: fewer generated inputs */
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* ---------------------------------------------------------------- the transcript sink */

struct tr {
    struct dl_buf out;
    uint64_t calls;
    uint64_t stop_at;   /* item/reject call number that returns DL_ERR_CANCELLED (0: never) */
    bool after_stop;    /* a call came after the stop */
};

static void put_cur(struct dl_buf *o, const char *tag, const void *p, size_t n)
{
    dl_buf_printf(o, " %s%zu:", tag, n);
    if (n)
        dl_buf_append(o, p, n);
}

static void put_origin(struct dl_buf *o, const struct dl_origin *g)
{
    dl_buf_printf(o, " [%s|%s|%s rec %llu line %llu col %llu]", g->source, g->entry ? g->entry : "-",
                  g->table ? g->table : "-", (unsigned long long)g->record, (unsigned long long)g->line,
                  (unsigned long long)g->column);
}

static enum dl_err counted(struct tr *t)
{
    if (t->stop_at && t->calls > t->stop_at)
        t->after_stop = true;
    return t->stop_at && t->calls >= t->stop_at ? DL_ERR_CANCELLED : DL_OK;
}

static enum dl_err t_item(void *ctx, const struct dl_item *it, const struct dl_origin *o)
{
    struct tr *t = ctx;
    t->calls++;
    dl_buf_append_str(&t->out, "I");
    put_origin(&t->out, o);
    dl_buf_printf(&t->out, " size %zu del %d", it->size, it->del);
    put_cur(&t->out, "w", it->wire.data, it->wire.len);
    put_cur(&t->out, "k", it->key.data, it->key.len);
    put_cur(&t->out, "kw", it->key_wire.data, it->key_wire.len);
    dl_buf_append_byte(&t->out, '\n');
    return counted(t);
}

static enum dl_err t_reject(void *ctx, const struct dl_origin *o, const char *reason, struct dl_cursor raw)
{
    struct tr *t = ctx;
    t->calls++;
    dl_buf_append_str(&t->out, "R");
    put_origin(&t->out, o);
    put_cur(&t->out, "msg", reason, strlen(reason));
    put_cur(&t->out, "raw", raw.ptr, raw.len);
    dl_buf_append_byte(&t->out, '\n');
    return counted(t);
}

static enum dl_err t_skip(void *ctx, const struct dl_origin *o, const char *reason)
{
    struct tr *t = ctx;
    dl_buf_append_str(&t->out, "S");
    put_origin(&t->out, o);
    put_cur(&t->out, "msg", reason, strlen(reason));
    dl_buf_append_byte(&t->out, '\n');
    return DL_OK;
}

/* ---------------------------------------------------------------- runs */

static int par_runs; /* debug lines of the parallel path */
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(enum dl_log_level level, const char *msg, void *ctx)
{
    if (level == DL_LOG_DEBUG && strstr(msg, " records on ")) {
        pthread_mutex_lock(&log_mu);
        par_runs++;
        pthread_mutex_unlock(&log_mu);
    }
}

struct seqc {
    uint64_t n;
};

static enum dl_err next_seq(void *ctx, uint64_t *out)
{
    struct seqc *c = ctx;
    *out = ++c->n;
    return DL_OK;
}

struct result {
    struct tr t;
    struct dl_decode_stats st;
    enum dl_err rc;
    uint64_t seq; /* --key-seq numbers handed out */
};

struct input {
    const char *name;          /* the object's name (drives detection) */
    const uint8_t *p;
    size_t len;
    enum dl_format format;
    const struct dl_key_schema *ks;
    char delimiter;
    bool no_quote;
    const struct dl_cursor *columns;
    size_t ncolumns;
    const struct dl_transform *xf;
    struct dl_spill *spill;    /* the bytes are this spill's view */
    size_t spill_mem;
};

static void run(const struct input *in, int threads, size_t chunk, uint64_t stop_at, struct result *r)
{
    struct seqc sc = { 0 };
    struct dl_decode_opts o;
    memset(&o, 0, sizeof o);
    o.format = in->format;
    o.ks = in->ks;
    o.delimiter = in->delimiter;
    o.no_quote = in->no_quote;
    o.columns = in->columns;
    o.ncolumns = in->ncolumns;
    o.xform = in->xf;
    o.next_seq = next_seq;
    o.seq_ctx = &sc;
    o.spill_mem = in->spill_mem;
    o.threads = threads;
    o.parallel_min = 1;
    o.chunk_size = chunk;
    memset(r, 0, sizeof *r);
    dl_buf_init(&r->t.out, 0);
    r->t.stop_at = stop_at;
    struct dl_decoder *d = dl_decoder_new(&o);
    CHECK(d != NULL);
    if (!d)
        return;
    dl_decoder_set_spill(d, in->spill);
    struct dl_decode_sink sink = { .item = t_item, .reject = t_reject, .skip = t_skip, .ctx = &r->t };
    r->rc = dl_decode_object(d, in->name, dl_cursor_of(in->p, in->len), &sink, &r->st);
    r->seq = sc.n;
    dl_decoder_destroy(d);
}

static void result_free(struct result *r)
{
    dl_buf_free(&r->t.out);
}

static bool same_result(const struct result *a, const struct result *b)
{
    return a->rc == b->rc && a->t.out.len == b->t.out.len &&
           (!a->t.out.len || memcmp(a->t.out.data, b->t.out.data, a->t.out.len) == 0) &&
           a->st.records == b->st.records && a->st.items == b->st.items && a->st.rejected == b->st.rejected &&
           a->st.skipped == b->st.skipped && a->st.entries == b->st.entries && a->seq == b->seq &&
           a->t.calls == b->t.calls && !b->t.after_stop;
}

static void show_diff(const char *what, const struct result *a, const struct result *b)
{
    size_t i = 0;
    while (i < a->t.out.len && i < b->t.out.len && a->t.out.data[i] == b->t.out.data[i])
        i++;
    size_t ls = i;
    while (ls > 0 && a->t.out.data[ls - 1] != '\n')
        ls--;
    fprintf(stderr, "  %s: rc %d/%d, records %llu/%llu, items %llu/%llu, calls %llu/%llu, seq %llu/%llu\n", what,
            a->rc, b->rc, (unsigned long long)a->st.records, (unsigned long long)b->st.records,
            (unsigned long long)a->st.items, (unsigned long long)b->st.items, (unsigned long long)a->t.calls,
            (unsigned long long)b->t.calls, (unsigned long long)a->seq, (unsigned long long)b->seq);
    fprintf(stderr, "  first difference at byte %zu:\n  one thread: %.300s\n  parallel:   %.300s\n", i,
            ls < a->t.out.len ? (const char *)a->t.out.data + ls : "(end)",
            ls < b->t.out.len ? (const char *)b->t.out.data + ls : "(end)");
}

/* Decode in with one thread, then with 2..4 threads and each chunk size: the same transcript.
 * Returns the one-thread run's sink calls. */
static uint64_t check_same(const char *what, const struct input *in, const size_t *chunks, size_t nchunks,
                           bool expect_par)
{
    struct result want, got;
    run(in, 1, 0, 0, &want);
    uint64_t calls = want.t.calls;
    bool ok = true;
    for (int th = 2; th <= 4 && ok; th++)
        for (size_t c = 0; c < nchunks && ok; c++) {
            int before = par_runs;
            run(in, th, chunks[c], 0, &got);
            ok = same_result(&want, &got);
            CHECK(ok);
            if (!ok) {
                fprintf(stderr, "  %s, %d threads, chunk size %zu\n", what, th, chunks[c]);
                show_diff(what, &want, &got);
            }
            if (expect_par && par_runs == before) {
                fprintf(stderr, "  %s: the parallel path did not run\n", what);
                CHECK(par_runs > before);
                ok = false;
            }
            result_free(&got);
        }
    result_free(&want);
    return calls;
}

/* A sink that stops at call k: the same calls up to k, none after, the same code. */
static void check_stops(const char *what, const struct input *in, uint64_t calls, size_t chunk, int every)
{
    for (uint64_t k = 1; k <= calls; k += (uint64_t)every) {
        struct result want, got;
        run(in, 1, 0, k, &want);
        CHECK_INT(want.rc, DL_ERR_CANCELLED);
        run(in, 2 + (int)(k % 3), chunk, k, &got);
        bool ok = same_result(&want, &got);
        CHECK(ok);
        if (!ok) {
            fprintf(stderr, "  %s, stop at call %llu\n", what, (unsigned long long)k);
            show_diff(what, &want, &got);
        }
        result_free(&want);
        result_free(&got);
        if (!ok)
            return;
    }
}

/* ---------------------------------------------------------------- key schemas */

static char n_id[] = "id", n_n[] = "n";
static const struct dl_key_schema ks_none = { 0, { { 0 } } };
static const struct dl_key_schema ks_id_s = { 1, { { n_id, 2, 'S' } } };
static const struct dl_key_schema ks_id_n_n_s = { 2, { { n_id, 2, 'N' }, { n_n, 1, 'S' } } };
static const struct dl_key_schema *const schemas[] = { &ks_none, &ks_id_s, &ks_id_n_n_s };

static const size_t small_chunks[] = { 1, 7, 64, 333, 4096 };
#define NSMALL (sizeof small_chunks / sizeof small_chunks[0])

static struct input csv_input(const char *name, const char *text)
{
    struct input in = { name, (const uint8_t *)text, strlen(text), DL_FMT_AUTO, NULL, 0, false, NULL, 0, NULL, NULL, 0 };
    return in;
}

/* ---------------------------------------------------------------- CSV */

static const char *const csv_cases[] = {
    /* BOM, CRLF, a quoted line break, a blank line, a bad quote, invalid UTF-8, ragged rows,
     * an empty key cell, "" pairs, a lone CR, a BOM at a line start, an unterminated quote */
    "\xEF\xBB\xBFid,name,n\r\n1,alice,5\r\n2,\"bob\nsmith\",6\r\n\r\n3,\"x\"y,7\r\n4,\xff\xfe,8\r\n5,only two\r\n"
    "6,a,b,c\r\n,empty key,9\r\n7,\"q\"\"uote\",10\r11,lone cr,12\n\xEF\xBB\xBF" "8,bom,13\n9,\"unterminated\n10,z,11\n",
    "id,name,n\n1,a,1\n2,b,2\n3,c,3\n4,d,4\n5,e,5\n6,f,6\n7,g,7\n8,h,8\n9,i,9\n10,j,10\n",
    "id,name,n\n\"1\",\"multi\nline\nvalue\",\"x\"\n2,\"a,b\",\"c\"\"d\"\n3,\"\",\n\n\n4,tail,no newline",
    /* quotes the SIMD masks cannot describe */
    "id,name,n\n1,5\" screen,x\n2,6\" screen,y\n3,\"ok\",z\n4,ab\"c,d\n5,\"x\"y\"\n6,q,\"r\"\"s\"t\n7,\"u\nv\",w\n",
    /* keys: N keys that are not numbers, a long key, empty names */
    "id,n,other\n042,x,1\n1.5,y,2\nabc,z,3\n7,,4\n8,w,\n9,v,5\n",
    /* only a header, and a header with a quoted line break */
    "id,name,n\n",
    "\"i\nd\",name,n\n1,2,3\n4,5,6\n",
    /* a bad header: skipped */
    "id,\"name,n\n1,2,3\n",
    "id,id,n\n1,2,3\n",
};

static void test_csv_cases(void)
{
    for (size_t i = 0; i < sizeof csv_cases / sizeof csv_cases[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            struct input in = csv_input("data/x.csv", csv_cases[i]);
            in.ks = schemas[k];
            char what[64];
            snprintf(what, sizeof what, "csv case %zu schema %zu", i, k);
            bool body = i != 5 && i < 7; /* rows after a good header */
            check_same(what, &in, small_chunks, NSMALL, body);
        }
}

static void test_tsv_columns_noquote(void)
{
    const char *tsv = "id\tname\tn\n1\ta,b\t\"q\"\n2\t\"x\ty\"\tz\n3\tonly\n\n4\t\xc3\xa9\t\xc3\n5\t\t\n";
    struct input in = csv_input("t.tsv", tsv);
    in.ks = &ks_id_s;
    check_same("tsv", &in, small_chunks, NSMALL, true);
    in.no_quote = true;
    check_same("tsv no quote", &in, small_chunks, NSMALL, true);
    /* --format csv with --delimiter ';' */
    struct input sc = csv_input("s.txt", "id;v\n1;\"a;b\"\n2;c\n3;\"d\ne\";x\n");
    sc.format = DL_FMT_CSV;
    sc.delimiter = ';';
    check_same("semicolon", &sc, small_chunks, NSMALL, true);
    /* header-less: every row is data, from byte 0 (BOM included) */
    static const struct dl_cursor cols[] = { { (const uint8_t *)"id", 2 }, { (const uint8_t *)"name", 4 },
                                             { (const uint8_t *)"n", 1 } };
    struct input hl = csv_input("h.csv", "\xEF\xBB\xBF" "1,a,2\n2,\"b\nc\",3\n3,d\n4,e,5\r\n\r\n5,f,6");
    hl.columns = cols;
    hl.ncolumns = 3;
    for (size_t k = 0; k < 3; k++) {
        hl.ks = schemas[k];
        check_same("columns", &hl, small_chunks, NSMALL, true);
    }
}

/* ---------------------------------------------------------------- NDJSON */

static const char *const nd_cases[] = {
    "{\"id\":\"1\",\"a\":1}\n"
    "\n"
    "{\"id\":\"2\",\"a\":[1,2,{\"b\":null}]}\r\n"
    "{\"id\":3 bad json\n"
    "  {\"id\":\"4\"} {\"id\":\"5\"}\n"
    "[{\"id\":\"6\"},{\"id\":\"7\"},3]\n"
    "\"scalar\"\n"
    "{\"id\":\"\xff\"}\n"
    "\xEF\xBB\xBF{\"id\":\"8\"}\n"
    "{\"id\":\"9\",\"n\":1e999}\n"
    "{\"a\":\"missing key\"}\n"
    "{\"id\":\"10\",\"dup\":1,\"dup\":2}\n"
    "{\"id\":\"11\",\"s\":\"esc \\u00e9 \\n \\\" x\"}\n"
    "{\"id\":\"12\"",
    "\xEF\xBB\xBF{\"id\":\"1\"}\n{\"id\":\"2\"}\n\n\n{\"id\":\"3\",\"deep\":[[[[[[1]]]]]]}\n{\"id\":4}\n{\"id\":true}\n",
    "[{\"id\":\"a\"},\n{\"id\":\"b\"}]\n{\"id\":\"c\"}\n{\n\"id\":\"d\"}\n",
    "{\"id\":\"1\"}\r\n{\"id\":\"2\"}\r\n{bad}\r\n{\"id\":\"3\"}\r\n",
};

static void test_ndjson_cases(void)
{
    for (size_t i = 0; i < sizeof nd_cases / sizeof nd_cases[0]; i++)
        for (size_t k = 0; k < 3; k++) {
            struct input in = csv_input("logs/x.ndjson", nd_cases[i]);
            in.ks = schemas[k];
            char what[64];
            snprintf(what, sizeof what, "ndjson case %zu schema %zu", i, k);
            check_same(what, &in, small_chunks, NSMALL, true);
            /* by --format, whatever the name */
            in.name = "x.json";
            in.format = DL_FMT_NDJSON;
            check_same(what, &in, small_chunks, 2, true);
        }
    /* .jsonl, and content detected as NDJSON */
    struct input j = csv_input("a.jsonl", nd_cases[1]);
    check_same("jsonl", &j, small_chunks, NSMALL, true);
    struct input c = csv_input("noext", "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\"}\n");
    check_same("sniffed", &c, small_chunks, NSMALL, true);
}

/* ---------------------------------------------------------------- transforms */

static void test_transforms(void)
{
    static const char *const set[] = { "src={line}:{record}" };
    struct dl_transform_spec spec = { .set = set, .nset = 1, .key_seq = "id" };
    struct dl_transform *xf = NULL;
    char err[256];
    CHECK_INT(dl_transform_new(&spec, &xf, err, sizeof err), DL_OK);
    if (!xf)
        return;
    struct input in = csv_input("k.csv", "id,name,n\n,a,1\n5,b,2\n,c,3\nx,\"d\ne\",4\n,f\n,g,5\n");
    in.xf = xf;
    for (size_t k = 0; k < 3; k++) {
        in.ks = schemas[k];
        check_same("csv transforms", &in, small_chunks, NSMALL, true);
    }
    struct input nd = csv_input("k.ndjson", "{\"name\":\"a\"}\n{\"id\":\"7\"}\nbad\n{\"name\":\"b\"}\n{\"id\":\"x\"}\n");
    nd.xf = xf;
    for (size_t k = 0; k < 3; k++) {
        nd.ks = schemas[k];
        check_same("ndjson transforms", &nd, small_chunks, NSMALL, true);
    }
    dl_transform_free(xf);
}

/* ---------------------------------------------------------------- random inputs */

static void gen_csv(struct dl_buf *b, int style)
{
    static const char *const fields[] = { "1", "abc", "\"q,\"\"x\"", "\"multi\nline\"", "", "\xff", "\xc3\xa9",
                                          "x\"y", "\"bad\"z", "\"\"", "42", "-1.5e3", "\"a\r\nb\"" };
    static const char *const ends[] = { "\n", "\r\n", "\r", "\n\n", "\n\xEF\xBB\xBF" };
    static const char *const atoms[] = { "a", ",", "\"", "\r", "\n", "\"\"", "\r\n", "bc", "\xEF\xBB\xBF", "\t" };
    dl_buf_reset(b);
    if (rnd() % 4 == 0)
        dl_buf_append_str(b, "\xEF\xBB\xBF");
    dl_buf_append_str(b, rnd() % 3 ? "id,name,n\n" : "id,\"na\nme\",n\r\n");
    size_t big = rnd() % 8 == 0 ? 20000 : 2000;
    size_t want = 10 + rnd() % big;
    while (b->len < want) {
        if (style == 0) {
            const char *a = rnd() % 3 ? (rnd() % 2 ? "a" : ",") : atoms[rnd() % 10];
            if (rnd() % 6 == 0)
                a = rnd() % 2 ? "\n" : "\"";
            dl_buf_append_str(b, a);
            continue;
        }
        int nf = rnd() % 8 == 0 ? 1 + (int)(rnd() % 5) : 3;
        for (int f = 0; f < nf; f++) {
            if (f)
                dl_buf_append_byte(b, ',');
            dl_buf_append_str(b, rnd() % 3 ? fields[rnd() % 2 + (f == 0 ? 9 : 0)] : fields[rnd() % 13]);
        }
        dl_buf_append_str(b, rnd() % 5 ? "\n" : ends[rnd() % 5]);
    }
    if (rnd() % 10 == 0)
        dl_buf_append_str(b, "9,\"never closed\n8,x,y\n");
}

static void gen_ndjson(struct dl_buf *b)
{
    static const char *const lines[] = {
        "{\"id\":\"%u\",\"v\":%u}", "{\"id\":\"%u\",\"s\":\"a\\u00e9b\",\"l\":[1,{\"x\":null}]}", "{\"id\":%u}",
        "{\"id\":\"%u\" oops", "", "   ", "[{\"id\":\"%u\"},{\"id\":\"x\"},7]", "{\"id\":\"%u\"} {\"id\":\"y\"}",
        "\"just a string %u\"", "{\"v\":%u}", "{\"id\":\"\xc3\x28%u\"}", "\xEF\xBB\xBF{\"id\":\"%u\"}",
        "  {\"id\":\"%u\",\"n\":1e400}", "{\"id\":\"%u\",\"d\":1,\"d\":2}", "[1,2", "{\"id\":\"%u\",\"b\":true}",
    };
    dl_buf_reset(b);
    size_t big = rnd() % 8 == 0 ? 30000 : 3000;
    size_t want = rnd() % big;
    unsigned n = 0;
    while (b->len < want) {
        const char *l = rnd() % 2 ? lines[0] : lines[rnd() % 16];
        n++;
        dl_buf_printf(b, l, n, n * 7); /* formats take up to two numbers */
        dl_buf_append_str(b, rnd() % 6 ? "\n" : "\r\n");
    }
    if (b->len && rnd() % 4 == 0)
        b->len--; /* no final newline (or a lone '\r') */
}

static void test_random(void)
{
    struct dl_buf b;
    dl_buf_init(&b, 0);
    for (int it = 0; it < 300 / scale; it++) {
        bool csv = it % 2 == 0;
        if (csv)
            gen_csv(&b, (int)(rnd() % 3));
        else
            gen_ndjson(&b);
        struct input in = csv_input(csv ? "r.csv" : "r.ndjson", "");
        in.p = b.data;
        in.len = b.len;
        in.ks = schemas[rnd() % 3];
        size_t chunks[2];
        chunks[0] = 1 + rnd() % 16;
        chunks[1] = 16 + rnd() % 2000;
        char what[64];
        snprintf(what, sizeof what, "random %d (%s, %zu bytes)", it, csv ? "csv" : "ndjson", b.len);
        uint64_t calls = check_same(what, &in, chunks, 2, false);
        if (it % 10 == 0 && calls)
            check_stops(what, &in, calls, chunks[rnd() % 2], 1 + (int)(calls / 7));
        if (test_failures)
            break;
    }
    dl_buf_free(&b);
}

/* ---------------------------------------------------------------- stops */

static void test_stops(void)
{
    struct input c = csv_input("s.csv", csv_cases[0]);
    c.ks = &ks_id_s;
    uint64_t calls = check_same("stop csv", &c, small_chunks, 1, true);
    CHECK(calls > 5);
    for (size_t k = 0; k < NSMALL; k++)
        check_stops("stop csv", &c, calls, small_chunks[k], 1);
    struct input n = csv_input("s.ndjson", nd_cases[0]);
    n.ks = &ks_id_s;
    calls = check_same("stop ndjson", &n, small_chunks, 1, true);
    CHECK(calls > 5);
    for (size_t k = 0; k < NSMALL; k++)
        check_stops("stop ndjson", &n, calls, small_chunks[k], 1);
}

/* ---------------------------------------------------------------- containers, mapped files */

static uint8_t *build_zip(const char *const *names, const char *const *data, size_t n, size_t *outlen)
{
    zip_error_t ze;
    zip_error_init(&ze);
    uint8_t *res = NULL;
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_TRUNCATE, &ze) : NULL;
    if (!za) {
        if (src)
            zip_source_free(src);
        goto out;
    }
    zip_source_keep(src);
    for (size_t i = 0; i < n; i++) {
        zip_source_t *s = zip_source_buffer(za, data[i], strlen(data[i]), 0);
        if (!s || zip_file_add(za, names[i], s, ZIP_FL_ENC_UTF_8) < 0) {
            if (s)
                zip_source_free(s);
        }
    }
    if (zip_close(za) < 0) {
        zip_discard(za);
        zip_source_free(src);
        goto out;
    }
    zip_stat_t st;
    if (zip_source_stat(src, &st) == 0 && zip_source_open(src) == 0) {
        res = malloc(st.size ? st.size : 1);
        if (res && zip_source_read(src, res, st.size) != (zip_int64_t)st.size) {
            free(res);
            res = NULL;
        }
        *outlen = st.size;
        zip_source_close(src);
    }
    zip_source_free(src);
out:
    zip_error_fini(&ze);
    return res;
}

static uint8_t *gzip(const uint8_t *p, size_t n, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    int rc = out ? deflate(&z, Z_FINISH) : Z_MEM_ERROR;
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_containers(void)
{
    struct dl_buf big;
    dl_buf_init(&big, 0);
    dl_buf_append_str(&big, "id,name,n\n");
    for (unsigned i = 0; i < 3000; i++)
        dl_buf_printf(&big, i % 97 == 0 ? "%u,\"x\ny\",%u,extra\n" : "%u,\"n%u\",%u\n", i, i, i);
    static const char *const names[] = { "d/a.csv", "d/b.ndjson", "d/c.csv" };
    const char *data[] = { (const char *)big.data, nd_cases[0], csv_cases[0] };
    size_t zlen = 0;
    uint8_t *z = build_zip(names, data, 3, &zlen);
    CHECK(z != NULL);
    if (z) {
        struct input in = csv_input("arch.zip", "");
        in.p = z;
        in.len = zlen;
        in.ks = &ks_id_s;
        size_t chunks[] = { 100, 5000 };
        uint64_t calls = check_same("zip", &in, chunks, 2, true);
        check_stops("zip", &in, calls, 700, 211);
        free(z);
    }
    /* a gzip object, decompressed into a temporary file (spill_mem 1) and mapped */
    size_t glen = 0;
    uint8_t *g = gzip(big.data, big.len, &glen);
    CHECK(g != NULL);
    if (g) {
        struct input in = csv_input("x.csv.gz", "");
        in.p = g;
        in.len = glen;
        in.spill_mem = 1;
        size_t chunks[] = { 50, 4096 };
        check_same("gzip", &in, chunks, 2, true);
        free(g);
    }
    dl_buf_free(&big);
}

/* A mapped local file bigger than the release step (8 MiB): pages behind the consumer are given
 * back while workers read chunks ahead of it. */
static void test_mapped_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/ddbload-test-decode-XXXXXX", dl_spill_tmpdir());
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    struct dl_buf b;
    dl_buf_init(&b, 0);
    const size_t target = (size_t)(scale > 1 ? 10 : 20) << 20;
    dl_buf_append_str(&b, "id,name,n,note\n");
    for (unsigned i = 0; b.len < target; i++)
        dl_buf_printf(&b, i % 1013 == 0 ? "%u,\"multi\nline %u\",%u,bad\"quote\n" : "%u,name %u,%u,\"a, b\"\n", i, i,
                      i * 7);
    CHECK(write(fd, b.data, b.len) == (ssize_t)b.len);
    close(fd);
    struct dl_spill sp;
    dl_spill_init(&sp, 0, 0);
    struct dl_cursor view;
    CHECK_INT(dl_spill_map_file(&sp, path, &view), DL_OK);
    struct input in = csv_input(path, "");
    in.p = view.ptr;
    in.len = view.len;
    in.spill = &sp;
    in.ks = &ks_id_n_n_s;
    struct result want, got;
    run(&in, 1, 0, 0, &want);
    dl_spill_free(&sp);
    CHECK_INT(dl_spill_map_file(&sp, path, &view), DL_OK);
    in.p = view.ptr;
    int before = par_runs;
    run(&in, 2, (size_t)256 << 10, 0, &got);
    CHECK(par_runs > before);
    CHECK(sp.released > 0); /* pages were given back during the parallel decode */
    CHECK(same_result(&want, &got));
    CHECK(want.st.items > 100000);
    result_free(&want);
    result_free(&got);
    dl_spill_free(&sp);
    unlink(path);
    dl_buf_free(&b);
}

/* threads = 0 (auto) and a threshold that is not reached: results are the same either way. */
static void test_options(void)
{
    struct input in = csv_input("o.csv", csv_cases[1]);
    struct result want, got;
    run(&in, 1, 0, 0, &want);
    int before = par_runs;
    run(&in, 0, 5, 0, &got);
    CHECK(same_result(&want, &got));
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1)
        CHECK(par_runs > before);
    result_free(&got);
    /* parallel_min above the object's size: one thread */
    struct dl_decode_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 4;
    o.parallel_min = in.len + 1;
    struct dl_decoder *d = dl_decoder_new(&o);
    struct tr t;
    memset(&t, 0, sizeof t);
    dl_buf_init(&t.out, 0);
    struct dl_decode_sink sink = { .item = t_item, .reject = t_reject, .skip = t_skip, .ctx = &t };
    struct dl_decode_stats st;
    memset(&st, 0, sizeof st);
    before = par_runs;
    CHECK_INT(dl_decode_object(d, in.name, dl_cursor_of(in.p, in.len), &sink, &st), DL_OK);
    CHECK_INT(par_runs, before);
    CHECK(t.out.len == want.t.out.len && memcmp(t.out.data, want.t.out.data, t.out.len) == 0);
    CHECK_INT(st.items, 10);
    dl_buf_free(&t.out);
    dl_decoder_destroy(d);
    result_free(&want);
}

int main(void)
{
    const char *quick = getenv("DL_TEST_QUICK");
    if (quick && *quick && *quick != '0')
        scale = 10;
    dl_log_set_sink(log_sink, NULL, DL_LOG_DEBUG);
    TEST_RUN(test_csv_cases);
    TEST_RUN(test_tsv_columns_noquote);
    TEST_RUN(test_ndjson_cases);
    TEST_RUN(test_transforms);
    TEST_RUN(test_stops);
    TEST_RUN(test_options);
    TEST_RUN(test_containers);
    TEST_RUN(test_mapped_file);
    TEST_RUN(test_random);
    dl_log_set_sink(NULL, NULL, DL_LOG_ERROR);
    return test_summary();
}
