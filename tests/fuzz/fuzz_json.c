/* Differential fuzz target: the fast JSON decoder (src/decode/jsonfast.c) with every stage 1
 * kernel this CPU has, against the scalar composition it must equal byte for byte:
 * dl_jsonrec_next + dl_item_from_json / dl_item_from_ddb_json, with a mapping failure turned
 * into an ERROR the way decode.c does it. Every input is run in AUTO, JSON and NDJSON modes,
 * for plain and DynamoDB JSON, without and with a key schema, with the default window and with
 * 64/128-byte windows (so window ends fall inside records). Any difference abort()s.
 *
 * tests/unit/test_jsonfast.c includes this file for its differential checks, so the
 * reference composition and the comparison exist once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/cpu.h"
#include "core/json.h"
#include "decode/jsonfast.h"
#include "decode/jsonrec.h"
#include "item/item.h"

/* ---- the reference composition -------------------------------------------------------- */

struct dl_ref_json {
    const uint8_t *p;
    struct dl_jsonrec *rd;
    struct dl_arena *arena;
    enum dl_jsonfast_kind kind;
    const struct dl_key_schema *ks;
};

static int dl_ref_json_open(struct dl_ref_json *ref, const uint8_t *p, size_t len, enum dl_jsonrec_mode mode,
                            enum dl_jsonfast_kind kind, const struct dl_key_schema *ks)
{
    memset(ref, 0, sizeof *ref);
    ref->p = p;
    ref->kind = kind;
    ref->ks = ks;
    ref->arena = dl_arena_new(0, DL_JSONFAST_ARENA_CAP); /* decode.c's cap */
    if (!ref->arena || dl_jsonrec_new(p, len, mode, &ref->rd) != DL_OK)
        return -1;
    return 0;
}

static void dl_ref_json_close(struct dl_ref_json *ref)
{
    dl_jsonrec_destroy(ref->rd);
    dl_arena_destroy(ref->arena);
}

/* One record the scalar way, reported as dl_jsonfast_next reports it. */
static enum dl_jsonrec_status dl_ref_json_next(struct dl_ref_json *ref, struct dl_item *it,
                                               struct dl_jsonrec_out *info, struct dl_pos_err *err)
{
    dl_arena_reset(ref->arena);
    enum dl_jsonrec_status st = dl_jsonrec_next(ref->rd, ref->arena, info, err);
    if (st == DL_JSONREC_ITEM) {
        struct dl_pos_err why;
        dl_pos_err_clear(&why);
        enum dl_err e = ref->kind == DL_JSONFAST_DDB ? dl_item_from_ddb_json(it, info->value, ref->ks, &why)
                                                     : dl_item_from_json(it, info->value, ref->ks, &why);
        if (e) {
            /* decode.c: the builder's DOM offset becomes a line/column in the input */
            uint64_t line = info->line, col = 0;
            if (why.offset)
                dl_json_line_col(ref->p, info->offset + why.offset, &line, &col);
            dl_pos_err_set(err, why.code, info->offset + why.offset, line, col, "%s", why.msg);
            st = DL_JSONREC_ERROR;
        }
    }
    info->value = NULL;
    return st;
}

/* ---- the comparison --------------------------------------------------------------------- */

static const char *dl_fz_status(enum dl_jsonrec_status s)
{
    switch (s) {
    case DL_JSONREC_ITEM: return "ITEM";
    case DL_JSONREC_ERROR: return "ERROR";
    case DL_JSONREC_END: return "END";
    case DL_JSONREC_FATAL: return "FATAL";
    }
    return "?";
}

static bool dl_fz_buf_eq(const struct dl_buf *a, const struct dl_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Run the fast decoder (with the kernel for level, window size `window`, 0 = default) and the
 * reference on p[0..len). Returns 0 when identical, else 1 with a description in why. Also
 * adds the fast decoder's counters to *stats when stats is not NULL. */
/* Kernels this CPU runs (cpuid is slow in VMs: ask once). */
static bool dl_fz_has(enum dl_simd_level level)
{
    static int known[DL_SIMD_COUNT];
    if (!known[level])
        known[level] = dl_cpu_has(level) ? 1 : 2;
    return known[level] == 1;
}

static int dl_fz_json_diff(const uint8_t *p, size_t len, enum dl_jsonrec_mode mode, enum dl_jsonfast_kind kind,
                           const struct dl_key_schema *ks, enum dl_simd_level level, size_t window,
                           char *why, size_t whylen, struct dl_jsonfast_stats *stats)
{
    int bad = 0;
    struct dl_jsonfast *fr = NULL;
    struct dl_ref_json ref;
    struct dl_item fi, ri;
    dl_item_init(&fi);
    dl_item_init(&ri);
    why[0] = 0;
    if (dl_ref_json_open(&ref, p, len, mode, kind, ks) != 0 ||
        dl_jsonfast_new(p, len, mode, kind, ks, &fr) != DL_OK) {
        snprintf(why, whylen, "cannot open readers");
        bad = 1;
        goto out;
    }
    if (!dl_fz_has(level) || dl_jsonfast_use_level(fr, level) != 0) {
        snprintf(why, whylen, "kernel %s unavailable", dl_simd_name(level));
        bad = 1;
        goto out;
    }
    if (window)
        dl_jsonfast_tune(fr, window);
    for (uint64_t step = 1;; step++) {
        struct dl_jsonrec_out fo, ro;
        struct dl_pos_err fe, re;
        memset(&fo, 0xA5, sizeof fo);
        memset(&fe, 0x5A, sizeof fe);
        enum dl_jsonrec_status fs = dl_jsonfast_next(fr, &fi, &fo, &fe);
        enum dl_jsonrec_status rs = dl_ref_json_next(&ref, &ri, &ro, &re);
        const char *what = NULL;
        if (fs != rs)
            what = "status";
        else if (fo.record != ro.record || fo.line != ro.line || fo.column != ro.column || fo.offset != ro.offset)
            what = "record/line/column/offset";
        else if (fo.raw.ptr != ro.raw.ptr || fo.raw.len != ro.raw.len)
            what = "raw";
        else if (fo.value != NULL)
            what = "value";
        else if (fe.code != re.code || fe.offset != re.offset || fe.line != re.line || fe.column != re.column)
            what = "error position/code";
        else if (strcmp(fe.msg, re.msg) != 0)
            what = "error message";
        else if (fs == DL_JSONREC_ITEM &&
                 (!dl_fz_buf_eq(&fi.wire, &ri.wire) || !dl_fz_buf_eq(&fi.key, &ri.key) ||
                  !dl_fz_buf_eq(&fi.key_wire, &ri.key_wire) || fi.size != ri.size))
            what = "item";
        if (what) {
            snprintf(why, whylen,
                     "step %" PRIu64 " (%s, mode %d, kind %d, keys %d, window %zu): %s differs\n"
                     "  fast: %s rec %" PRIu64 " line %" PRIu64 " col %" PRIu64 " off %" PRIu64
                     " raw %zu err %d@%" PRIu64 ":%" PRIu64 " '%s' size %zu wire %.*s\n"
                     "  ref:  %s rec %" PRIu64 " line %" PRIu64 " col %" PRIu64 " off %" PRIu64
                     " raw %zu err %d@%" PRIu64 ":%" PRIu64 " '%s' size %zu wire %.*s",
                     step, dl_simd_name(level), (int)mode, (int)kind, ks ? ks->n : 0, window, what,
                     dl_fz_status(fs), fo.record, fo.line, fo.column, fo.offset, fo.raw.len, (int)fe.code,
                     fe.line, fe.column, fe.msg, fi.size, fs == DL_JSONREC_ITEM ? (int)(fi.wire.len > 300 ? 300 : fi.wire.len) : 0,
                     fi.wire.data ? (const char *)fi.wire.data : "",
                     dl_fz_status(rs), ro.record, ro.line, ro.column, ro.offset, ro.raw.len, (int)re.code,
                     re.line, re.column, re.msg, ri.size, rs == DL_JSONREC_ITEM ? (int)(ri.wire.len > 300 ? 300 : ri.wire.len) : 0,
                     ri.wire.data ? (const char *)ri.wire.data : "");
            bad = 1;
            goto out;
        }
        if (fs == DL_JSONREC_END || fs == DL_JSONREC_FATAL) {
            if (dl_jsonfast_next(fr, &fi, &fo, &fe) != DL_JSONREC_END) {
                snprintf(why, whylen, "not END after %s", dl_fz_status(fs));
                bad = 1;
            }
            break;
        }
    }
    if (stats) {
        struct dl_jsonfast_stats s;
        dl_jsonfast_stats(fr, &s);
        stats->fast += s.fast;
        stats->fallback += s.fallback;
        stats->windows += s.windows;
        stats->indexed_bytes += s.indexed_bytes;
    }
out:
    dl_jsonfast_destroy(fr);
    dl_ref_json_close(&ref);
    dl_item_free(&fi);
    dl_item_free(&ri);
    return bad;
}

/* Key schemas the fuzzer tries: names that seeds and mutations are likely to contain. */
static const struct dl_key_schema dl_fz_schemas[] = {
    { 1, { { (char *)"id", 2, 'S' }, { NULL, 0, 0 } } },
    { 1, { { (char *)"id", 2, 'N' }, { NULL, 0, 0 } } },
    { 2, { { (char *)"pk", 2, 'S' }, { (char *)"sk", 2, 'N' } } },
    { 1, { { (char *)"id", 2, 'B' }, { NULL, 0, 0 } } },
    { 2, { { (char *)"a", 1, 'N' }, { (char *)"b", 1, 'S' } } },
};

/* Every kernel, mode, kind, a schema or none, three window sizes. Returns the number of
 * differences (the first one described in why). */
static int dl_fz_json_all(const uint8_t *data, size_t size, char *why, size_t whylen,
                          struct dl_jsonfast_stats *stats)
{
    static const enum dl_simd_level levels[] = { DL_SIMD_SCALAR, DL_SIMD_SSE42, DL_SIMD_AVX2, DL_SIMD_AVX512,
                                                 DL_SIMD_NEON };
    static const enum dl_jsonrec_mode modes[] = { DL_JSONREC_AUTO, DL_JSONREC_JSON, DL_JSONREC_NDJSON };
    static const size_t windows[] = { 0, 64, 128 };
    const size_t nschemas = sizeof dl_fz_schemas / sizeof dl_fz_schemas[0];
    const struct dl_key_schema *schema = &dl_fz_schemas[size % nschemas];
    int bad = 0;
    for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
        if (!dl_fz_has(levels[l]))
            continue;
        for (size_t m = 0; m < 3; m++)
            for (int kind = 0; kind < 2; kind++)
                for (int withks = 0; withks < 2; withks++) {
                    /* small windows only matter for the kernels' window logic: one mode is enough */
                    for (size_t w = 0; w < (m == 0 ? 3u : 1u); w++) {
                        if (dl_fz_json_diff(data, size, modes[m], (enum dl_jsonfast_kind)kind,
                                            withks ? schema : NULL, levels[l], windows[w], why, whylen, stats)) {
                            bad++;
                            return bad;
                        }
                    }
                }
    }
    return bad;
}

#ifndef DL_FUZZ_JSON_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char why[4096];
    /* an exact-size copy, so ASan catches any read past the end */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    if (dl_fz_json_all(copy, size, why, sizeof why, NULL)) {
        fprintf(stderr, "fuzz_json: fast decoder differs from the scalar reference\n%s\n", why);
        abort();
    }
    free(copy);
    return 0;
}
#endif
