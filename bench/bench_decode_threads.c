/* Parallel decoding, end to end: each FILE goes through dl_decode_object (format by name, the
 * key schema of --key) with a sink that only counts, once per thread count; prints the median
 * and best wall-clock MB/s (MB = 10^6 bytes of input) and CPU seconds per run.
 *
 *   bench_decode_threads [--runs N] [--threads 1,2] [--chunk BYTES] [--key id:S[,seq:N]] FILE...
 *
 * One untimed warm-up run per file, then N (default 3) timed runs per thread count, the
 * thread counts alternating run by run so that other load on a shared machine spreads evenly.
 * The counts (items, rejects, sum of item sizes, and a hash of every item's wire bytes and key
 * in order) must be the same for every thread count, or the program says so and exits 1.
 * Inputs: e.g. bench/gen_inputs.py DIR --mb 200 (records.ndjson, wide.csv). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "decode/decode.h"

struct count {
    uint64_t items, rejects, skips, bytes;
    uint64_t hash;
};

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static bool hashing;

static enum dl_err c_item(void *ctx, const struct dl_item *it, const struct dl_origin *o)
{
    struct count *c = ctx;
    c->items++;
    c->bytes += it->size;
    if (hashing) {
        c->hash = fnv(c->hash, it->wire.data, it->wire.len);
        c->hash = fnv(c->hash, it->key.data, it->key.len);
        c->hash = fnv(c->hash, (const uint8_t *)&o->record, sizeof o->record);
    }
    return DL_OK;
}

static enum dl_err c_reject(void *ctx, const struct dl_origin *o, const char *reason, struct dl_cursor raw)
{
    struct count *c = ctx;
    c->rejects++;
    if (hashing)
        c->hash = fnv(c->hash, (const uint8_t *)reason, strlen(reason));
    return DL_OK;
}

static enum dl_err c_skip(void *ctx, const struct dl_origin *o, const char *reason)
{
    struct count *c = ctx;
    c->skips++;
    return DL_OK;
}

static double now(clockid_t clk)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* "id:S,seq:N" */
static bool parse_key(char *spec, struct dl_key_schema *ks)
{
    memset(ks, 0, sizeof *ks);
    for (char *tok = strtok(spec, ","); tok && ks->n < 2; tok = strtok(NULL, ",")) {
        char *colon = strchr(tok, ':');
        char type = 'S';
        if (colon) {
            *colon = 0;
            type = colon[1];
        }
        if (!*tok || (type != 'S' && type != 'N' && type != 'B'))
            return false;
        ks->k[ks->n].name = tok;
        ks->k[ks->n].name_len = strlen(tok);
        ks->k[ks->n].type = type;
        ks->n++;
    }
    return true;
}

static bool run_once(const char *path, const uint8_t *p, size_t len, const struct dl_key_schema *ks, int threads,
                     size_t chunk, struct count *c, double *wall, double *cpu)
{
    struct dl_decode_opts o;
    memset(&o, 0, sizeof o);
    o.ks = ks;
    o.threads = threads;
    o.chunk_size = chunk;
    struct dl_decoder *d = dl_decoder_new(&o);
    if (!d)
        return false;
    memset(c, 0, sizeof *c);
    c->hash = 0xcbf29ce484222325ull;
    struct dl_decode_sink sink = { .item = c_item, .reject = c_reject, .skip = c_skip, .ctx = c };
    struct dl_decode_stats st;
    memset(&st, 0, sizeof st);
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    enum dl_err e = dl_decode_object(d, path, dl_cursor_of(p, len), &sink, &st);
    *wall = now(CLOCK_MONOTONIC) - w0;
    *cpu = now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    dl_decoder_destroy(d);
    return e == DL_OK;
}

int main(int argc, char **argv)
{
    int runs = 3, nthreads = 0, threads[16];
    size_t chunk = 0;
    char keyspec[256] = "id:S";
    const char *list = "1,2";
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            list = argv[++i];
        else if (!strcmp(argv[i], "--chunk") && i + 1 < argc)
            chunk = (size_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--key") && i + 1 < argc)
            snprintf(keyspec, sizeof keyspec, "%s", argv[++i]);
        else if (!strcmp(argv[i], "--hash"))
            hashing = true;
        else
            break;
    }
    char tl[256];
    snprintf(tl, sizeof tl, "%s", list);
    for (char *t = strtok(tl, ","); t && nthreads < 16; t = strtok(NULL, ","))
        threads[nthreads++] = atoi(t);
    struct dl_key_schema ks;
    if (i >= argc || runs < 1 || runs > 99 || !nthreads || !parse_key(keyspec, &ks)) {
        fprintf(stderr, "usage: bench_decode_threads [--runs N] [--threads 1,2] [--chunk BYTES] [--key id:S[,seq:N]] "
                        "[--hash] FILE...\n");
        return 2;
    }
    int status = 0;
    printf("%-16s %7s %7s %10s %10s %10s %8s %12s\n", "file", "MB", "threads", "median MB/s", "best MB/s",
           "CPU s/run", "speedup", "items");
    for (; i < argc; i++) {
        size_t len;
        uint8_t *p = load(argv[i], &len);
        if (!p) {
            fprintf(stderr, "%s: cannot read\n", argv[i]);
            status = 1;
            continue;
        }
        const char *base = strrchr(argv[i], '/') ? strrchr(argv[i], '/') + 1 : argv[i];
        double wall[16][100], cpu[16][100], med1 = 0;
        struct count c, first;
        double w, u;
        bool ok = run_once(argv[i], p, len, &ks, 1, chunk, &first, &w, &u); /* warm-up */
        for (int r = 0; r < runs && ok; r++)
            for (int t = 0; t < nthreads && ok; t++) {
                ok = run_once(argv[i], p, len, &ks, threads[t], chunk, &c, &wall[t][r], &cpu[t][r]);
                if (c.items != first.items || c.rejects != first.rejects || c.bytes != first.bytes ||
                    c.hash != first.hash) {
                    fprintf(stderr, "%s: %d threads gave other results (%llu items, %llu rejects)\n", base,
                            threads[t], (unsigned long long)c.items, (unsigned long long)c.rejects);
                    status = 1;
                }
            }
        if (!ok) {
            fprintf(stderr, "%s: decoding failed\n", base);
            status = 1;
        }
        for (int t = 0; t < nthreads && ok; t++) {
            double cpus = 0;
            for (int r = 0; r < runs; r++)
                cpus += cpu[t][r];
            qsort(wall[t], (size_t)runs, sizeof(double), cmp_double);
            double med = wall[t][runs / 2], best = wall[t][0];
            if (t == 0)
                med1 = med;
            printf("%-16s %7.1f %7d %10.1f %10.1f %10.2f %7.2fx %12llu\n", base, (double)len / 1e6, threads[t],
                   (double)len / 1e6 / med, (double)len / 1e6 / best, cpus / runs, med1 / med,
                   (unsigned long long)first.items);
        }
        if (ok && first.rejects)
            printf("%-16s (%llu records rejected in every run)\n", base, (unsigned long long)first.rejects);
        free(p);
    }
    return status;
}
