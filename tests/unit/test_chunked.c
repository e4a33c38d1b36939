/* Chunk plans and the ordered parallel map: cuts never split a record (quoted newlines, ""
 * pairs and malformed quotes at chunk edges, chunk sizes down to 1 byte), chunk lines equal a
 * sequential count, results come out in order with 0, 1, 2 and 4 threads within the slot
 * bound, errors stop the run in order, and rows read chunk by chunk (dl_csv per chunk, and
 * dl_csvfast_new_range) equal a sequential read, for many random inputs and chunk sizes; the
 * same with chunks planned on demand (dl_chunked_run_planner). */
#include "decode/chunked.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cpu.h"
#include "decode/csv.h"
#include "decode/csvfast.h"
#include "test.h"

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static int scale = 1; /* DL_TEST_QUICK=1 (under emulation): fewer generated inputs */
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

/* ---------------------------------------------------------------- row transcripts */

/* One line per call: what a consumer would see, with positions in the whole input. */
static void ser(struct dl_buf *o, enum dl_err rc, const struct dl_csv_row *row, const struct dl_pos_err *e,
                uint64_t rec_add, uint64_t line_add, uint64_t off_add, bool fix_msg)
{
    if (!rc && row->end)
        return;
    dl_buf_printf(o, "rec %llu line %llu off %llu raw %zu:", (unsigned long long)(row->record + rec_add),
                  (unsigned long long)(row->line + line_add), (unsigned long long)(row->offset + off_add),
                  row->raw.len);
    dl_buf_append(o, row->raw.ptr, row->raw.len);
    for (size_t i = 0; i < row->nfields; i++) {
        dl_buf_append_str(o, " |");
        dl_buf_append(o, row->fields[i].ptr, row->fields[i].len);
    }
    if (rc) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s", e->msg);
        /* dl_csv on p + off names its own line in this one message */
        if (fix_msg && strncmp(msg, "unterminated", 12) == 0)
            snprintf(msg, sizeof msg, "unterminated quoted field starting at line %llu column %llu",
                     (unsigned long long)(e->line + line_add), (unsigned long long)e->column);
        dl_buf_printf(o, " ERR %d @%llu %llu:%llu %s", rc, (unsigned long long)(e->offset + off_add),
                      (unsigned long long)(e->line + line_add), (unsigned long long)e->column, msg);
    }
    dl_buf_append_byte(o, '\n');
}

/* The whole input read by dl_csv in one go. */
static void sequential(const uint8_t *p, size_t len, const struct dl_csv_opts *opts, struct dl_buf *o)
{
    struct dl_csv *r;
    struct dl_csv_row row;
    struct dl_pos_err e;
    CHECK_INT(dl_csv_new(p, len, opts, &r), DL_OK);
    for (;;) {
        dl_pos_err_clear(&e);
        enum dl_err rc = dl_csv_next(r, &row, &e);
        ser(o, rc, &row, &e, 0, 0, 0, false);
        if (!rc && row.end)
            break;
    }
    dl_csv_destroy(r);
}

/* One chunk, read by dl_csv on p + off (fast = false) or by dl_csvfast_new_range. Returns the
 * number of records. */
static uint64_t read_chunk(const uint8_t *p, const struct dl_chunk *c, const struct dl_csv_opts *opts, bool fast,
                           uint64_t rec_base, struct dl_buf *o)
{
    struct dl_csv *r = NULL;
    struct dl_csvfast *f = NULL;
    struct dl_csv_row row;
    struct dl_pos_err e;
    uint64_t n = 0;
    if (fast)
        CHECK_INT(dl_csvfast_new_range(p, c->off, c->off + c->len, c->line, opts, &f), DL_OK);
    else
        CHECK_INT(dl_csv_new(p + c->off, c->len, opts, &r), DL_OK);
    for (;;) {
        dl_pos_err_clear(&e);
        enum dl_err rc = fast ? dl_csvfast_next(f, &row, &e) : dl_csv_next(r, &row, &e);
        if (!rc && row.end)
            break;
        n++;
        if (fast)
            ser(o, rc, &row, &e, rec_base, 0, 0, false);
        else
            ser(o, rc, &row, &e, rec_base, c->line - 1, c->off, true);
    }
    dl_csv_destroy(r);
    dl_csvfast_destroy(f);
    return n;
}

/* Lines before p[at], counted as dl_csv counts them. */
static uint64_t line_at(const uint8_t *p, size_t len, size_t at)
{
    uint64_t line = 1;
    for (size_t i = 0; i < at; i++)
        if (p[i] == '\n' || (p[i] == '\r' && !(i + 1 < len && p[i + 1] == '\n')))
            line++;
    return line;
}

/* The plan covers p[start..len) in order, each chunk's line is right, no chunk starts with a
 * BOM, and reading chunk by chunk gives the sequential transcript. */
static bool check_csv_plan(const uint8_t *p, size_t len, const struct dl_csv_opts *opts, size_t chunk_size)
{
    struct dl_chunk_plan plan;
    struct dl_buf want, got, got_fast;
    bool ok = true;
    dl_buf_init(&want, 0);
    dl_buf_init(&got, 0);
    dl_buf_init(&got_fast, 0);
    CHECK_INT(dl_chunk_plan_csv(p, len, 0, 1, opts, chunk_size, &plan), DL_OK);
    size_t at = 0;
    for (size_t i = 0; i < plan.n; i++) {
        const struct dl_chunk *c = &plan.chunks[i];
        ok &= c->index == i && c->off == at && c->len > 0;
        ok &= c->line == line_at(p, len, c->off);
        ok &= i == 0 || !(c->len >= 3 && p[c->off] == 0xEF && p[c->off + 1] == 0xBB && p[c->off + 2] == 0xBF);
        ok &= i + 1 == plan.n || c->len >= chunk_size;
        at += c->len;
    }
    ok &= at == len;
    CHECK(ok);
    sequential(p, len, opts, &want);
    uint64_t base = 0, base_fast = 0;
    for (size_t i = 0; i < plan.n; i++) {
        base += read_chunk(p, &plan.chunks[i], opts, false, base, &got);
        base_fast += read_chunk(p, &plan.chunks[i], opts, true, base_fast, &got_fast);
    }
    bool same = want.len == got.len && (!want.len || memcmp(want.data, got.data, want.len) == 0);
    bool same_fast = want.len == got_fast.len && (!want.len || memcmp(want.data, got_fast.data, want.len) == 0);
    CHECK(same);
    CHECK(same_fast);
    if (!ok || !same || !same_fast) {
        fprintf(stderr, "  chunk size %zu, %zu chunks:", chunk_size, plan.n);
        for (size_t i = 0; i < plan.n && i < 40; i++)
            fprintf(stderr, " [%zu+%zu L%llu]", plan.chunks[i].off, plan.chunks[i].len,
                    (unsigned long long)plan.chunks[i].line);
        fprintf(stderr, "\n--- sequential\n%.*s--- chunks (dl_csv)\n%.*s--- chunks (csvfast)\n%.*s", (int)want.len,
                (const char *)want.data, (int)got.len, (const char *)got.data, (int)got_fast.len,
                (const char *)got_fast.data);
    }
    dl_chunk_plan_free(&plan);
    dl_buf_free(&want);
    dl_buf_free(&got);
    dl_buf_free(&got_fast);
    return ok && same && same_fast;
}

/* ---------------------------------------------------------------- plans */

static void test_plan_basics(void)
{
    struct dl_chunk_plan plan;
    const char *in = "a,b\n1,2\n3,4\n5,6\n";
    CHECK_INT(dl_chunk_plan_csv((const uint8_t *)in, strlen(in), 0, 1, NULL, 5, &plan), DL_OK);
    CHECK_INT(plan.n, 2); /* cuts at the first record boundary >= 5 bytes on */
    CHECK_INT(plan.chunks[0].off, 0);
    CHECK_INT(plan.chunks[0].len, 8);
    CHECK_INT(plan.chunks[1].off, 8);
    CHECK_INT(plan.chunks[1].len, 8);
    CHECK_INT(plan.chunks[1].line, 3);
    dl_chunk_plan_free(&plan);
    /* from after a header row */
    CHECK_INT(dl_chunk_plan_csv((const uint8_t *)in, strlen(in), 4, 2, NULL, 1, &plan), DL_OK);
    CHECK_INT(plan.n, 3);
    CHECK_INT(plan.chunks[0].off, 4);
    CHECK_INT(plan.chunks[0].line, 2);
    CHECK_INT(plan.chunks[2].line, 4);
    dl_chunk_plan_free(&plan);
    /* a quoted newline is never a cut */
    const char *q = "\"x\ny\nz\",1\n2\n";
    CHECK_INT(dl_chunk_plan_csv((const uint8_t *)q, strlen(q), 0, 1, NULL, 1, &plan), DL_OK);
    CHECK_INT(plan.n, 2);
    CHECK_INT(plan.chunks[1].off, 10);
    CHECK_INT(plan.chunks[1].line, 4);
    dl_chunk_plan_free(&plan);
    /* empty input: no chunks; bad options */
    CHECK_INT(dl_chunk_plan_csv((const uint8_t *)"", 0, 0, 1, NULL, 1, &plan), DL_OK);
    CHECK_INT(plan.n, 0);
    struct dl_csv_opts bad = { .delim = '\n' };
    CHECK_INT(dl_chunk_plan_csv((const uint8_t *)in, 3, 0, 1, &bad, 1, &plan), DL_ERR_INVALID);
}

/* Many quoted newlines, "" pairs, CRLF and lone CR around every possible cut, with tiny chunks. */
static void test_plan_adversarial(void)
{
    static uint8_t buf[8192];
    static const char *const recs[] = {
        "\"a\nb\",\"\"\"\"\n", "\"\r\n\",x\r\n", "\"\"\"\n\"\"\"\r", "plain,row\n", "\"x\"\"\ny\"\"\",\"\n\n\"\n",
        "\r\n", "\"q\"\"\"\"\n\"\n", "a,\"\n\",\"\r\"\r\n",
    };
    size_t nrec = sizeof recs / sizeof recs[0];
    for (int round = 0; round < 60 / scale; round++) {
        size_t n = 0;
        while (n < 3000) {
            const char *r = recs[rnd() % nrec];
            size_t l = strlen(r);
            memcpy(buf + n, r, l);
            n += l;
        }
        size_t sizes[] = { 1, 2, 3, 7, 63, 64, 65, 100, 128, 1000 };
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
            CHECK(check_csv_plan(buf, n, NULL, sizes[i]));
    }
}

/* Malformed quotes (which the prefix-XOR reading gets wrong), BOM bytes at line starts,
 * unterminated quotes: the plan stays exact. */
static void test_plan_malformed(void)
{
    static const char *const cases[] = {
        "ab\"c\nd,e\nf\"g\nh\n",
        "\"abc\"def\ng,h\n\"i\nj\"\n",
        "x,\"y\"z,\"w\nv\"\nnext\n",
        "a\n\xEF\xBB\xBF" "b\n\xEF\xBB\xBF\n\xEF\xBB\xBF\"c\nd\"\n",
        "a,b\n\"never\nclosed\n,\n",
        "\xEF\xBB\xBF\"h\nh\",x\ny\n",
        "5\" screen,x\n6\" screen,y\n\"ok\",z\n",
        /* an odd number of quotes: the parity is wrong for everything after */
        "ab\"c\nd\ne\n",
        "\"x\"y\"\nz\n",
        "q,\"r\"\"s\"t\n\"u\nv\"\n",
        /* the parity says "outside" at a newline that is inside a quoted field */
        "ab\"c,\"d\ne\"\nf\n",
    };
    static uint8_t buf[4096];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t l = strlen(cases[i]);
        for (size_t cs = 1; cs < 24; cs++)
            CHECK(check_csv_plan((const uint8_t *)cases[i], l, NULL, cs));
        /* the case over and over, after fillers that move it across block boundaries, so
         * that cuts are wanted after each malformed record */
        for (size_t pad = 0; pad < 70; pad += 3) {
            size_t n = 0;
            for (int rep = 0; rep < 12; rep++) {
                memset(buf + n, 'f', pad);
                n += pad;
                buf[n++] = '\n';
                memcpy(buf + n, cases[i], l);
                n += l;
            }
            size_t sizes[] = { 1, 5, 40, 64, 150 };
            for (size_t k = 0; k < 5; k++)
                CHECK(check_csv_plan(buf, n, NULL, sizes[k]));
        }
    }
}

/* Random inputs and chunk sizes, every kernel. */
static void test_plan_random(void)
{
    static const char *const atoms[] = { "a", ",", "\"", "\r", "\n", "\"\"", "\r\n", "bc", "\xEF\xBB\xBF", "\t" };
    static uint8_t buf[20000];
    int prev = (int)dl_cpu_level();
    for (int l = DL_SIMD_SCALAR; l < DL_SIMD_COUNT; l++) {
        if (dl_cpu_force((enum dl_simd_level)l) < 0)
            continue;
        for (int it = 0; it < 400 / scale; it++) {
            size_t n = 0, want = rnd() % (it % 20 == 0 ? 20000 : 1500);
            uint32_t bias = rnd() % 3;
            while (n + 4 < want) {
                const char *a = bias == 0 ? atoms[rnd() % 10] : (rnd() % 5 ? (rnd() % 4 ? "a" : ",") : atoms[rnd() % 10]);
                if (bias == 2 && rnd() % 6 == 0)
                    a = rnd() % 2 ? "\n" : "\"";
                size_t al = strlen(a);
                memcpy(buf + n, a, al);
                n += al;
            }
            struct dl_csv_opts o = { 0 };
            if (rnd() % 4 == 0)
                o.delim = '\t';
            if (rnd() % 8 == 0)
                o.max_fields = 3;
            if (rnd() % 8 == 0)
                o.check_utf8 = true;
            size_t cs = 1 + rnd() % (rnd() % 2 ? 64 : 4096);
            bool ok = check_csv_plan(buf, n, &o, cs);
            CHECK(ok);
            if (!ok)
                return;
        }
    }
    dl_cpu_force((enum dl_simd_level)prev);
}

static void test_plan_ndjson(void)
{
    static uint8_t buf[10000];
    for (int it = 0; it < 200; it++) {
        size_t n = 0, want = rnd() % 10000;
        while (n < want) {
            uint32_t k = rnd() % 8;
            const char *a = k == 0 ? "\n" : k == 1 ? "\r\n" : k == 2 ? "\xEF\xBB\xBF" : k == 3 ? "{\"a\":1}" : "xy";
            size_t al = strlen(a);
            if (n + al > sizeof buf)
                break;
            memcpy(buf + n, a, al);
            n += al;
        }
        size_t cs = 1 + rnd() % 700;
        size_t start = 0;
        uint64_t line = 1;
        if (it % 2) { /* start after the first line */
            const uint8_t *nl = memchr(buf, '\n', n);
            if (nl) {
                start = (size_t)(nl - buf) + 1;
                line = 2;
            }
        }
        struct dl_chunk_plan plan;
        CHECK_INT(dl_chunk_plan_ndjson(buf, n, start, line, cs, &plan), DL_OK);
        size_t at = start;
        bool ok = true;
        for (size_t i = 0; i < plan.n; i++) {
            const struct dl_chunk *c = &plan.chunks[i];
            uint64_t l = 1;
            for (size_t j = 0; j < c->off; j++)
                l += buf[j] == '\n';
            ok &= c->index == i && c->off == at && c->len > 0 && c->line == l;
            ok &= c->off == start || buf[c->off - 1] == '\n';
            ok &= c->off == start || !(c->len >= 3 && buf[c->off] == 0xEF && buf[c->off + 1] == 0xBB);
            ok &= i + 1 == plan.n || c->len >= cs;
            at += c->len;
        }
        ok &= at == n;
        CHECK(ok);
        dl_chunk_plan_free(&plan);
    }
}

/* ---------------------------------------------------------------- the ordered map */

struct order_ctx {
    pthread_mutex_t mu;
    size_t live, max_live; /* decoded-or-decoding but not consumed */
    size_t next_expected;
    size_t fail_work_at, fail_consume_at; /* SIZE_MAX: never */
    size_t consumed;
    size_t slots_made;
    bool bad_order, bad_value;
};

struct order_slot {
    size_t chunk;
    uint64_t value;
};

static void *o_slot_new(void *ctx)
{
    struct order_ctx *c = ctx;
    c->slots_made++;
    return calloc(1, sizeof(struct order_slot));
}

static void o_slot_free(void *ctx, void *slot)
{
    free(slot);
}

static enum dl_err o_work(void *ctx, const uint8_t *p, const struct dl_chunk *ch, void *slot)
{
    struct order_ctx *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->live++;
    if (c->live > c->max_live)
        c->max_live = c->live;
    pthread_mutex_unlock(&c->mu);
    /* uneven work so that chunks finish out of order */
    uint64_t v = 0;
    size_t spins = (ch->index * 7919) % 13 * 2000;
    for (size_t i = 0; i < spins; i++)
        v += i ^ ch->index;
    if (ch->index % 3 == 0)
        sched_yield();
    struct order_slot *s = slot;
    s->chunk = ch->index;
    s->value = ch->index * 31 + p[ch->off];
    (void)v;
    return ch->index == c->fail_work_at ? DL_ERR_PARSE : DL_OK;
}

static enum dl_err o_consume(void *ctx, const struct dl_chunk *ch, void *slot)
{
    struct order_ctx *c = ctx;
    struct order_slot *s = slot;
    if (ch->index != c->next_expected || s->chunk != ch->index)
        c->bad_order = true;
    if (s->value != ch->index * 31 + (uint8_t)('a' + ch->index % 26))
        c->bad_value = true;
    c->next_expected++;
    c->consumed++;
    pthread_mutex_lock(&c->mu);
    c->live--;
    pthread_mutex_unlock(&c->mu);
    return ch->index == c->fail_consume_at ? DL_ERR_CANCELLED : DL_OK;
}

static void test_run_order(void)
{
    static uint8_t buf[500];
    struct dl_chunk_plan plan = { calloc(500, sizeof(struct dl_chunk)), 500 };
    for (size_t i = 0; i < 500; i++) {
        buf[i] = (uint8_t)('a' + i % 26);
        plan.chunks[i] = (struct dl_chunk){ i, i, 1, i + 1 };
    }
    struct dl_chunk_fns fns = { o_slot_new, o_slot_free, o_work, o_consume };
    int threads[] = { 0, 1, 2, 4 };
    for (size_t t = 0; t < 4; t++) {
        for (size_t max_slots = 0; max_slots < 4; max_slots += 3) {
            struct order_ctx c = { .fail_work_at = SIZE_MAX, .fail_consume_at = SIZE_MAX };
            pthread_mutex_init(&c.mu, NULL);
            CHECK_INT(dl_chunked_run(buf, sizeof buf, &plan, threads[t], max_slots, &fns, &c), DL_OK);
            size_t bound = max_slots ? max_slots : threads[t] ? 2 * (size_t)threads[t] : 1;
            CHECK(!c.bad_order);
            CHECK(!c.bad_value);
            CHECK_INT(c.consumed, 500);
            CHECK(c.max_live <= bound);
            CHECK(c.slots_made <= bound);
            CHECK(c.max_live >= 1);

            /* a work error stops the run in order: chunks before it are consumed, none after */
            struct order_ctx f = { .fail_work_at = 123, .fail_consume_at = SIZE_MAX };
            pthread_mutex_init(&f.mu, NULL);
            CHECK_INT(dl_chunked_run(buf, sizeof buf, &plan, threads[t], max_slots, &fns, &f), DL_ERR_PARSE);
            CHECK_INT(f.consumed, 123);
            CHECK(!f.bad_order);

            struct order_ctx g = { .fail_work_at = SIZE_MAX, .fail_consume_at = 77 };
            pthread_mutex_init(&g.mu, NULL);
            CHECK_INT(dl_chunked_run(buf, sizeof buf, &plan, threads[t], max_slots, &fns, &g), DL_ERR_CANCELLED);
            CHECK_INT(g.consumed, 78);
            pthread_mutex_destroy(&c.mu);
            pthread_mutex_destroy(&f.mu);
            pthread_mutex_destroy(&g.mu);
        }
    }
    free(plan.chunks);
}

/* A planner's run: chunks come out in order within the slot bound, the end is found by whichever
 * thread asks first, and a stop in consume ends it. */
static void test_run_planner(void)
{
    static uint8_t buf[3000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = i % 6 == 5 ? '\n' : (uint8_t)('a' + (i / 6) % 26);
    struct dl_chunk_fns fns = { o_slot_new, o_slot_free, o_work, o_consume };
    int threads[] = { 0, 1, 2, 4 };
    for (size_t t = 0; t < 4; t++) {
        for (size_t cs = 1; cs < 40; cs += 13) {
            struct dl_chunk_plan plan;
            CHECK_INT(dl_chunk_plan_ndjson(buf, sizeof buf, 0, 1, cs, &plan), DL_OK);
            struct dl_chunk_planner *pl;
            CHECK_INT(dl_chunk_planner_new_ndjson(buf, sizeof buf, 0, 1, cs, &pl), DL_OK);
            /* o_consume checks values made from the chunk's first byte: 'a' + index % 26 */
            for (size_t i = 0; i < plan.n; i++)
                buf[plan.chunks[i].off] = (uint8_t)('a' + i % 26);
            struct order_ctx c = { .fail_work_at = SIZE_MAX, .fail_consume_at = SIZE_MAX };
            pthread_mutex_init(&c.mu, NULL);
            CHECK_INT(dl_chunked_run_planner(buf, pl, threads[t], 0, &fns, &c), DL_OK);
            CHECK(!c.bad_order);
            CHECK(!c.bad_value);
            CHECK_INT(c.consumed, plan.n);
            CHECK(c.max_live <= (threads[t] ? 2 * (size_t)threads[t] : 1));
            dl_chunk_planner_destroy(pl);
            struct order_ctx g = { .fail_work_at = SIZE_MAX, .fail_consume_at = 40 };
            pthread_mutex_init(&g.mu, NULL);
            CHECK_INT(dl_chunk_planner_new_ndjson(buf, sizeof buf, 0, 1, cs, &pl), DL_OK);
            CHECK_INT(dl_chunked_run_planner(buf, pl, threads[t], 0, &fns, &g), DL_ERR_CANCELLED);
            CHECK_INT(g.consumed, 41);
            CHECK(!g.bad_order);
            dl_chunk_planner_destroy(pl);
            pthread_mutex_destroy(&c.mu);
            pthread_mutex_destroy(&g.mu);
            dl_chunk_plan_free(&plan);
        }
    }
    /* nothing to plan */
    struct dl_chunk_planner *pl;
    struct order_ctx e = { .fail_work_at = SIZE_MAX, .fail_consume_at = SIZE_MAX };
    pthread_mutex_init(&e.mu, NULL);
    CHECK_INT(dl_chunk_planner_new_csv(buf, 0, 0, 1, NULL, 10, &pl), DL_OK);
    CHECK_INT(dl_chunked_run_planner(buf, pl, 2, 0, &fns, &e), DL_OK);
    CHECK_INT(e.consumed, 0);
    dl_chunk_planner_destroy(pl);
    pthread_mutex_destroy(&e.mu);
}

/* ---------------------------------------------------------------- decode through the map */

struct rows_slot {
    struct dl_buf text;    /* each row's transcript line, written with record 0 */
    size_t *ends;          /* where each row's line ends in text */
    size_t alloc;
    uint64_t records;      /* rows in the chunk: row k is the chunk's record k + 1 */
};

struct rows_ctx {
    const struct dl_csv_opts *opts;
    struct dl_buf out;
    uint64_t records; /* running base */
};

static void *r_slot_new(void *ctx)
{
    struct rows_slot *s = calloc(1, sizeof *s);
    if (s)
        dl_buf_init(&s->text, 0);
    return s;
}

static void r_slot_free(void *ctx, void *slot)
{
    struct rows_slot *s = slot;
    dl_buf_free(&s->text);
    free(s->ends);
    free(s);
}

/* Rows with chunk-local record numbers; the consumer rebases them with its running count. */
static enum dl_err r_work(void *ctx, const uint8_t *p, const struct dl_chunk *c, void *slot)
{
    struct rows_ctx *x = ctx;
    struct rows_slot *s = slot;
    struct dl_csvfast *r;
    struct dl_csv_row row;
    struct dl_pos_err e;
    dl_buf_reset(&s->text);
    s->records = 0;
    if (dl_csvfast_new_range(p, c->off, c->off + c->len, c->line, x->opts, &r))
        return DL_ERR_NOMEM;
    for (;;) {
        dl_pos_err_clear(&e);
        enum dl_err rc = dl_csvfast_next(r, &row, &e);
        if (!rc && row.end)
            break;
        if (row.record != s->records + 1)
            return DL_ERR_INVALID;
        row.record = 0;
        ser(&s->text, rc, &row, &e, 0, 0, 0, false);
        if (s->records == s->alloc) {
            s->alloc = s->alloc ? 2 * s->alloc : 64;
            s->ends = realloc(s->ends, s->alloc * sizeof *s->ends);
        }
        s->ends[s->records++] = s->text.len;
    }
    dl_csvfast_destroy(r);
    return DL_OK;
}

static enum dl_err r_consume(void *ctx, const struct dl_chunk *c, void *slot)
{
    struct rows_ctx *x = ctx;
    struct rows_slot *s = slot;
    size_t at = 0;
    for (uint64_t k = 0; k < s->records; k++) {
        /* "rec 0 line ..." -> "rec <records before + k + 1> line ..." */
        dl_buf_printf(&x->out, "rec %llu", (unsigned long long)(x->records + k + 1));
        dl_buf_append(&x->out, s->text.data + at + 5, s->ends[k] - at - 5);
        at = s->ends[k];
    }
    x->records += s->records;
    return DL_OK;
}

static void test_run_decode(void)
{
    static uint8_t buf[200000];
    static const char *const recs[] = { "id,name,\"quoted, with comma\"\n", "\"multi\nline\",\"a\"\"b\",c\r\n",
                                        "1,2,3\n", "\n", "x,\"y\"z,w\n", "\"\"\"\",,\n", "p\"q,r,s\r" };
    for (int round = 0; round < 12; round++) {
        size_t n = 0, want = 1000 + rnd() % (sizeof buf - 1000);
        while (n + 40 < want) {
            const char *r = recs[rnd() % 7];
            size_t l = strlen(r);
            memcpy(buf + n, r, l);
            n += l;
        }
        struct dl_csv_opts opts = { .check_utf8 = true, .max_fields = 5 };
        struct dl_buf want_t;
        dl_buf_init(&want_t, 0);
        sequential(buf, n, &opts, &want_t);
        size_t cs = 64 << (rnd() % 10);
        struct dl_chunk_plan plan;
        CHECK_INT(dl_chunk_plan_csv(buf, n, 0, 1, &opts, cs, &plan), DL_OK);
        int threads[] = { 0, 1, 2, 4 };
        for (int t = 0; t < 4; t++) {
            struct rows_ctx x = { &opts, { 0 }, 0 };
            dl_buf_init(&x.out, 0);
            struct dl_chunk_fns fns = { r_slot_new, r_slot_free, r_work, r_consume };
            CHECK_INT(dl_chunked_run(buf, n, &plan, threads[t], 0, &fns, &x), DL_OK);
            bool same = x.out.len == want_t.len && memcmp(x.out.data, want_t.data, want_t.len) == 0;
            CHECK(same);
            if (!same)
                fprintf(stderr, "  %zu bytes, chunk size %zu, %d threads: transcripts differ\n", n, cs, threads[t]);
            dl_buf_free(&x.out);
            /* the same with chunks planned on demand, as workers ask for them */
            struct dl_chunk_planner *pl;
            struct rows_ctx y = { &opts, { 0 }, 0 };
            dl_buf_init(&y.out, 0);
            CHECK_INT(dl_chunk_planner_new_csv(buf, n, 0, 1, &opts, cs, &pl), DL_OK);
            CHECK_INT(dl_chunked_run_planner(buf, pl, threads[t], (size_t)t, &fns, &y), DL_OK);
            dl_chunk_planner_destroy(pl);
            same = y.out.len == want_t.len && memcmp(y.out.data, want_t.data, want_t.len) == 0;
            CHECK(same);
            if (!same)
                fprintf(stderr, "  %zu bytes, chunk size %zu, %d threads, planner: transcripts differ\n", n, cs,
                        threads[t]);
            dl_buf_free(&y.out);
        }
        dl_chunk_plan_free(&plan);
        dl_buf_free(&want_t);
    }
}

int main(void)
{
    const char *quick = getenv("DL_TEST_QUICK");
    if (quick && *quick && *quick != '0')
        scale = 10;
    TEST_RUN(test_plan_basics);
    TEST_RUN(test_plan_adversarial);
    TEST_RUN(test_plan_malformed);
    TEST_RUN(test_plan_random);
    TEST_RUN(test_plan_ndjson);
    TEST_RUN(test_run_order);
    TEST_RUN(test_run_planner);
    TEST_RUN(test_run_decode);
    return test_summary();
}
