/* Decoder benchmarks: one measurement per invocation, printed as one line
 *
 *   RESULT <name> <kernel> <file> min <MB/s> median <MB/s> runs <n> records <n> check <n>
 *          threads <n> cpu <MB/s> best <MB/s>
 *
 * (MB = 10^6 bytes of input. min, median and best are wall-clock MB/s of the slowest, middle
 * and fastest of the timed runs, after one untimed warm-up run; cpu is MB per CPU-second of
 * the whole process in the median run. bench/run-decoders.sh turns these lines into a table.)
 *
 *   bench_decoders MODE FILE [--level scalar|sse42|avx2|avx512|neon] [--threads N] [--runs N]
 *                            [--chunk BYTES] [--key pk[:T][,sk[:T]]]
 *   bench_decoders levels    (prints the SIMD levels this CPU runs)
 *
 * Modes (ddbload):
 *   csv-items      dl_csvfast_next_item with a header prepared by dl_item_csv_header_new, as
 *                  decode.c reads CSV: plain records straight to items, the others as rows
 *                  -> dl_item_from_csv_prepared
 *   csv-items-rows dl_csvfast rows -> dl_item_from_csv_prepared (every record as a row)
 *   csv-items-call dl_csvfast rows -> dl_item_from_csv (the per-call builder the prepared one
 *                  is checked against, with its per-thread header cache)
 *   csv-items-ref  csv-items through the scalar reader dl_csv
 *   csv-rows       dl_csvfast rows only (every field touched)
 *   json-items     NDJSON -> items: dl_jsonfast when this build has it, else json-items-ref
 *   json-items-ref dl_jsonrec_next + dl_item_from_json (the scalar composition)
 *   chunked-csv    CSV -> items through dl_chunk_plan_csv + dl_chunked_run on --threads workers
 *   chunked-ndjson NDJSON -> items through dl_chunk_plan_ndjson + dl_chunked_run
 * Modes (peers, on the same bytes):
 *   jansson        json_loadb + json_dumps(JSON_COMPACT) of each line
 *   json-c         json_tokener_parse_ex + json_object_to_json_string_ext(PLAIN) of each line
 *   libcsv         csv_parse with field and row callbacks that touch every field
 * Items are built with the key schema from --key (default: id:S). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/cpu.h"
#include "decode/chunked.h"
#include "decode/csv.h"
#include "decode/csvfast.h"
#include "decode/jsonrec.h"
#include "item/item.h"
#if DL_BENCH_HAVE_JSONFAST
#include "decode/jsonfast.h"
#endif
#include "peers.h"

#define PAD 64

static const uint8_t *data;
static size_t size;
static struct dl_key_schema ks;
static uint64_t records, check; /* what the last run saw (keeps the work observable) */

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(const char *what)
{
    fprintf(stderr, "bench_decoders: %s\n", what);
    exit(1);
}

static void load(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "bench_decoders: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = calloc(1, (size_t)n + PAD);
    if (!p || fread(p, 1, (size_t)n, f) != (size_t)n)
        die("cannot read the input");
    fclose(f);
    data = p;
    size = (size_t)n;
}

static void parse_key(const char *spec)
{
    static char names[2][64];
    ks.n = 0;
    while (*spec && ks.n < 2) {
        const char *end = strchr(spec, ',');
        size_t l = end ? (size_t)(end - spec) : strlen(spec);
        char type = 'S';
        const char *colon = memchr(spec, ':', l);
        size_t nl = colon ? (size_t)(colon - spec) : l;
        if (colon)
            type = colon[1];
        if (nl >= sizeof names[0])
            die("key name too long");
        memcpy(names[ks.n], spec, nl);
        ks.k[ks.n].name = names[ks.n];
        ks.k[ks.n].name_len = nl;
        ks.k[ks.n].type = type;
        ks.n++;
        spec += l + (end ? 1 : 0);
    }
}

/* ---------------------------------------------------------------- CSV */

/* The header row (the first clean record), copied. */
struct header {
    struct dl_cursor *names;
    size_t n;
    char *store;
    size_t end; /* where the data records start (the header's terminator) */
    uint64_t line;
};

static void header_free(struct header *h)
{
    free(h->names);
    free(h->store);
}

static void read_header(struct header *h, const struct dl_csv_opts *o)
{
    struct dl_csv *r;
    struct dl_csv_row row;
    struct dl_pos_err e;
    if (dl_csv_new(data, size, o, &r) || dl_csv_next(r, &row, &e) || row.end)
        die("no header row");
    h->n = row.nfields;
    h->names = malloc(h->n * sizeof *h->names);
    size_t total = 0;
    for (size_t i = 0; i < h->n; i++)
        total += row.fields[i].len;
    h->store = malloc(total + 1);
    for (size_t i = 0, off = 0; i < h->n; i++) {
        memcpy(h->store + off, row.fields[i].ptr, row.fields[i].len);
        h->names[i] = dl_cursor_of(h->store + off, row.fields[i].len);
        off += row.fields[i].len;
    }
    h->end = (size_t)(row.raw.ptr - data) + row.raw.len;
    h->line = row.line;
    for (size_t i = 0; i < row.raw.len; i++) /* a header with a quoted line break */
        if (row.raw.ptr[i] == '\n' || (row.raw.ptr[i] == '\r' && row.raw.ptr[i + 1] != '\n'))
            h->line++;
    dl_csv_destroy(r);
}

enum csv_how { CSV_FAST_ITEMS, CSV_ROW_ITEMS, CSV_CALL_ITEMS, CSV_REF_ITEMS, CSV_FAST_ROWS };

static void run_csv(enum csv_how how)
{
    struct dl_csv_opts o = { .check_utf8 = true };
    struct dl_csv *slow = NULL;
    struct dl_csvfast *fast = NULL;
    struct dl_csv_row row;
    struct dl_pos_err e;
    struct dl_item it;
    struct header h = { 0 };
    struct dl_item_csv_header *ph = NULL;
    bool have_header = false;
    uint64_t n = 0, sum = 0;
    dl_item_init(&it);
    if (how == CSV_REF_ITEMS ? dl_csv_new(data, size, &o, &slow) : dl_csvfast_new(data, size, &o, &fast))
        die("cannot start the reader");
    for (;;) {
        bool built = false;
        enum dl_err rc = slow                             ? dl_csv_next(slow, &row, &e)
                         : ph && how == CSV_FAST_ITEMS ? dl_csvfast_next_item(fast, ph, &it, &row, &e, &built)
                                                         : dl_csvfast_next(fast, &row, &e);
        if (!rc && row.end)
            break;
        n++;
        if (rc)
            continue;
        if (built) {
            sum += it.wire.len + it.key.len;
            continue;
        }
        if (how == CSV_FAST_ROWS) {
            for (size_t i = 0; i < row.nfields; i++)
                sum += row.fields[i].len + (row.fields[i].len ? row.fields[i].ptr[0] : 0);
            continue;
        }
        if (!have_header) {
            have_header = true;
            h.n = row.nfields;
            h.names = malloc(h.n * sizeof *h.names);
            size_t total = 0;
            for (size_t i = 0; i < h.n; i++)
                total += row.fields[i].len;
            h.store = malloc(total + 1);
            for (size_t i = 0, off = 0; i < h.n; i++) {
                memcpy(h.store + off, row.fields[i].ptr, row.fields[i].len);
                h.names[i] = dl_cursor_of(h.store + off, row.fields[i].len);
                off += row.fields[i].len;
            }
            if (how != CSV_CALL_ITEMS && dl_item_csv_header_new(h.names, h.n, &ks, &ph))
                die("cannot prepare the header");
            continue;
        }
        if (row.nfields != h.n)
            continue;
        enum dl_err ie = ph ? dl_item_from_csv_prepared(&it, ph, row.fields, h.n, &e)
                            : dl_item_from_csv(&it, h.names, row.fields, h.n, &ks, &e);
        if (ie == DL_OK)
            sum += it.wire.len + it.key.len;
    }
    dl_item_csv_header_destroy(ph);
    dl_csv_destroy(slow);
    dl_csvfast_destroy(fast);
    dl_item_free(&it);
    header_free(&h);
    records = n;
    check = sum;
}

/* ---------------------------------------------------------------- JSON (ddbload) */

static void run_json_ref(void)
{
    struct dl_jsonrec *r;
    struct dl_arena *a = dl_arena_new(0, (size_t)512 << 20);
    struct dl_jsonrec_out out;
    struct dl_pos_err e;
    struct dl_item it;
    uint64_t n = 0, sum = 0;
    dl_item_init(&it);
    if (!a || dl_jsonrec_new(data, size, DL_JSONREC_NDJSON, &r))
        die("cannot start the JSON reader");
    for (;;) {
        dl_arena_reset(a);
        enum dl_jsonrec_status s = dl_jsonrec_next(r, a, &out, &e);
        if (s == DL_JSONREC_END || s == DL_JSONREC_FATAL)
            break;
        n++;
        if (s == DL_JSONREC_ITEM && dl_item_from_json(&it, out.value, &ks, &e) == DL_OK)
            sum += it.wire.len + it.key.len;
    }
    dl_jsonrec_destroy(r);
    dl_arena_destroy(a);
    dl_item_free(&it);
    records = n;
    check = sum;
}

#if DL_BENCH_HAVE_JSONFAST
static void run_json_fast(void)
{
    struct dl_jsonfast *r;
    struct dl_jsonrec_out info;
    struct dl_pos_err e;
    struct dl_item it;
    uint64_t n = 0, sum = 0;
    dl_item_init(&it);
    if (dl_jsonfast_new(data, size, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN, &ks, &r))
        die("cannot start the JSON reader");
    for (;;) {
        enum dl_jsonrec_status s = dl_jsonfast_next(r, &it, &info, &e);
        if (s == DL_JSONREC_END || s == DL_JSONREC_FATAL)
            break;
        n++;
        if (s == DL_JSONREC_ITEM)
            sum += it.wire.len + it.key.len;
    }
    dl_jsonfast_destroy(r);
    dl_item_free(&it);
    records = n;
    check = sum;
}
#endif

/* ---------------------------------------------------------------- chunked */

/* A chunk's results as decode.c would buffer them: the items' wire bytes, one after another. */
struct slot {
    struct dl_buf wire;
    struct dl_item it;
    uint64_t records;
};

struct chunk_ctx {
    struct header h;
    struct dl_item_csv_header *ph; /* shared by the workers (read only) */
    struct dl_csv_opts o;
    uint64_t records, sum;
};

static void *slot_new(void *ctx)
{
    struct slot *s = calloc(1, sizeof *s);
    if (s) {
        dl_buf_init(&s->wire, 0);
        dl_item_init(&s->it);
    }
    return s;
}

static void slot_free(void *ctx, void *slot)
{
    struct slot *s = slot;
    dl_buf_free(&s->wire);
    dl_item_free(&s->it);
    free(s);
}

static enum dl_err work_csv(void *ctx, const uint8_t *p, const struct dl_chunk *c, void *slot)
{
    struct chunk_ctx *x = ctx;
    struct slot *s = slot;
    struct dl_csvfast *r;
    struct dl_csv_row row;
    struct dl_pos_err e;
    dl_buf_reset(&s->wire);
    s->records = 0;
    enum dl_err rc = dl_csvfast_new_range(p, c->off, c->off + c->len, c->line, &x->o, &r);
    if (rc)
        return rc;
    for (;;) {
        bool built;
        rc = dl_csvfast_next_item(r, x->ph, &s->it, &row, &e, &built);
        if (!rc && row.end)
            break;
        s->records++;
        if (rc || (!built && row.nfields != x->h.n))
            continue;
        if (built || dl_item_from_csv_prepared(&s->it, x->ph, row.fields, x->h.n, &e) == DL_OK)
            dl_buf_append(&s->wire, s->it.wire.data, s->it.wire.len);
    }
    dl_csvfast_destroy(r);
    return DL_OK;
}

static enum dl_err work_ndjson(void *ctx, const uint8_t *p, const struct dl_chunk *c, void *slot)
{
    struct slot *s = slot;
    struct dl_pos_err e;
    dl_buf_reset(&s->wire);
    s->records = 0;
#if DL_BENCH_HAVE_JSONFAST
    struct dl_jsonfast *r;
    struct dl_jsonrec_out info;
    if (dl_jsonfast_new(p + c->off, c->len, DL_JSONREC_NDJSON, DL_JSONFAST_PLAIN, &ks, &r))
        return DL_ERR_NOMEM;
    for (;;) {
        enum dl_jsonrec_status st = dl_jsonfast_next(r, &s->it, &info, &e);
        if (st == DL_JSONREC_END || st == DL_JSONREC_FATAL)
            break;
        s->records++;
        if (st == DL_JSONREC_ITEM)
            dl_buf_append(&s->wire, s->it.wire.data, s->it.wire.len);
    }
    dl_jsonfast_destroy(r);
#else
    struct dl_jsonrec *r;
    struct dl_jsonrec_out out;
    struct dl_arena *a = dl_arena_new(0, (size_t)512 << 20);
    if (!a || dl_jsonrec_new(p + c->off, c->len, DL_JSONREC_NDJSON, &r))
        return DL_ERR_NOMEM;
    for (;;) {
        dl_arena_reset(a);
        enum dl_jsonrec_status st = dl_jsonrec_next(r, a, &out, &e);
        if (st == DL_JSONREC_END || st == DL_JSONREC_FATAL)
            break;
        s->records++;
        if (st == DL_JSONREC_ITEM && dl_item_from_json(&s->it, out.value, &ks, &e) == DL_OK)
            dl_buf_append(&s->wire, s->it.wire.data, s->it.wire.len);
    }
    dl_jsonrec_destroy(r);
    dl_arena_destroy(a);
#endif
    return DL_OK;
}

static enum dl_err consume(void *ctx, const struct dl_chunk *c, void *slot)
{
    struct chunk_ctx *x = ctx;
    struct slot *s = slot;
    x->records += s->records;
    x->sum += s->wire.len;
    return DL_OK;
}

static int threads = 1;
static size_t chunk_size = (size_t)4 << 20;

static void run_chunked(bool csv)
{
    struct chunk_ctx x = { .o = { .check_utf8 = true } };
    struct dl_chunk_plan plan;
    struct dl_chunk_fns fns = { slot_new, slot_free, csv ? work_csv : work_ndjson, consume };
    enum dl_err rc;
    if (csv) {
        read_header(&x.h, &x.o);
        if (dl_item_csv_header_new(x.h.names, x.h.n, &ks, &x.ph))
            die("cannot prepare the header");
        rc = dl_chunk_plan_csv(data, size, x.h.end, x.h.line, &x.o, chunk_size, &plan);
    } else {
        rc = dl_chunk_plan_ndjson(data, size, 0, 1, chunk_size, &plan);
    }
    if (rc || dl_chunked_run(data, size, &plan, threads, 0, &fns, &x))
        die("chunked run failed");
    dl_chunk_plan_free(&plan);
    dl_item_csv_header_destroy(x.ph);
    header_free(&x.h);
    records = x.records;
    check = x.sum;
}

/* ---------------------------------------------------------------- peers */

static void run_jansson(void)
{
    if (peer_jansson(data, size, &records, &check))
        die("jansson rejected a line");
}

static void run_jsonc(void)
{
    if (peer_jsonc(data, size, &records, &check))
        die("json-c rejected a line");
}

struct csvcb {
    uint64_t rows, sum;
};

static void on_field(void *s, size_t len, void *ctx)
{
    struct csvcb *c = ctx;
    c->sum += len + (len ? ((const uint8_t *)s)[0] : 0);
}

static void on_row(int term, void *ctx)
{
    struct csvcb *c = ctx;
    c->rows++;
}

static void run_libcsv(void)
{
    struct csv_parser p;
    struct csvcb c = { 0, 0 };
    if (csv_init(&p, 0) != 0)
        die("csv_init failed");
    if (csv_parse(&p, data, size, on_field, on_row, &c) != size)
        die("libcsv failed");
    csv_fini(&p, on_field, on_row, &c);
    csv_free(&p);
    records = c.rows;
    check = c.sum;
}

/* ---------------------------------------------------------------- main */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "levels")) { /* the SIMD levels this CPU runs */
        for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++)
            if (dl_cpu_has((enum dl_simd_level)l))
                printf("%s%s", l ? " " : "", dl_simd_name((enum dl_simd_level)l));
        printf("\n");
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: bench_decoders MODE FILE [--level L] [--threads N] [--runs N] [--chunk BYTES] "
                        "[--key pk[:T][,sk[:T]]]\n");
        return 2;
    }
    const char *mode = argv[1], *file = argv[2], *level = NULL;
    int runs = 5;
    parse_key("id:S");
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--level"))
            level = argv[i + 1];
        else if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--runs"))
            runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--chunk"))
            chunk_size = (size_t)strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--key"))
            parse_key(argv[i + 1]);
        else
            die("unknown option");
    }
    if (runs < 1 || runs > 100)
        die("--runs must be 1..100");
    if (level) {
        int l;
        for (l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++)
            if (!strcmp(level, dl_simd_name((enum dl_simd_level)l)))
                break;
        if (l >= DL_SIMD_COUNT || dl_cpu_force((enum dl_simd_level)l) < 0) {
            printf("SKIP %s %s: this CPU has no %s\n", mode, level, level);
            return 0;
        }
    }
    void (*fn)(void) = NULL;
    void (*csv_fn)(enum csv_how) = NULL;
    void (*chunk_fn)(bool) = NULL;
    int arg = 0;
    const char *kernel = dl_simd_name(dl_cpu_level());
    if (!strcmp(mode, "csv-items"))
        csv_fn = run_csv, arg = CSV_FAST_ITEMS;
    else if (!strcmp(mode, "csv-items-rows"))
        csv_fn = run_csv, arg = CSV_ROW_ITEMS;
    else if (!strcmp(mode, "csv-items-call"))
        csv_fn = run_csv, arg = CSV_CALL_ITEMS;
    else if (!strcmp(mode, "csv-items-ref"))
        csv_fn = run_csv, arg = CSV_REF_ITEMS, kernel = "-";
    else if (!strcmp(mode, "csv-rows"))
        csv_fn = run_csv, arg = CSV_FAST_ROWS;
    else if (!strcmp(mode, "json-items"))
#if DL_BENCH_HAVE_JSONFAST
        fn = run_json_fast;
#else
        fn = run_json_ref, kernel = "-";
#endif
    else if (!strcmp(mode, "json-items-ref"))
        fn = run_json_ref, kernel = "-";
    else if (!strcmp(mode, "chunked-csv"))
        chunk_fn = run_chunked, arg = 1;
    else if (!strcmp(mode, "chunked-ndjson"))
        chunk_fn = run_chunked, arg = 0;
    else if (!strcmp(mode, "jansson"))
        fn = run_jansson, kernel = "-";
    else if (!strcmp(mode, "json-c"))
        fn = run_jsonc, kernel = "-";
    else if (!strcmp(mode, "libcsv"))
        fn = run_libcsv, kernel = "-";
    else
        die("unknown mode");
    load(file);
    double t[101], cpu[101];
    for (int i = -1; i < runs; i++) { /* run -1 warms caches and allocators up */
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (fn)
            fn();
        else if (csv_fn)
            csv_fn((enum csv_how)arg);
        else
            chunk_fn(arg != 0);
        double dt = clock_s(CLOCK_MONOTONIC) - t0, dc = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        if (i >= 0) {
            t[i] = dt;
            cpu[i] = dc;
        }
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)runs, sizeof cpu[0], cmp_double);
    double mb = (double)size / 1e6;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    /* min time = best MB/s; "min" below is the slowest run's MB/s, median the middle one */
    /* cpu: MB per CPU-second of the whole process (all threads), median run */
    printf("RESULT %s %s %s min %.1f median %.1f runs %d records %llu check %llu threads %d cpu %.1f best %.1f\n",
           mode, kernel, base, mb / t[runs - 1], mb / t[runs / 2], runs, (unsigned long long)records,
           (unsigned long long)check, chunk_fn ? threads : 1, mb / cpu[runs / 2], mb / t[0]);
    free((void *)data);
    return 0;
}
