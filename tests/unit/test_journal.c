/* The checkpoint journal: format round trips, range coalescing, partial -> done, version changes,
 * torn writes, identity checks, locking, compaction, restart, threads, 100,000 objects, and a
 * child process killed with SIGKILL at random moments while it acks and flushes. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "core/buf.h"
#include "journal/journal.h"

static char tmpdir[256];

static const char *P(const char *name)
{
    static char bufs[4][512];
    static int k;
    char *b = bufs[k++ & 3];
    snprintf(b, 512, "%s/%s", tmpdir, name);
    return b;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    return remove(path);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static off_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static char *slurp(const char *path)
{
    struct dl_buf b;
    dl_buf_init(&b, 0);
    if (dl_buf_read_file(&b, path) != DL_OK) {
        dl_buf_free(&b);
        return NULL;
    }
    if (!b.data)
        return calloc(1, 1);
    return (char *)b.data; /* NUL-terminated by dl_buf */
}

static void append_bytes(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(fd >= 0);
    CHECK(write(fd, p, n) == (ssize_t)n);
    close(fd);
}

/* A checksummed line as the journal writes it. */
static void make_line(char *out, size_t n, const char *json)
{
    snprintf(out, n, "%08lx %s\n", (unsigned long)crc32(0L, (const Bytef *)json, (uInt)strlen(json)), json);
}

static struct dl_journal *open_ok(const char *path, const char *identity, bool restart)
{
    struct dl_journal *j = NULL;
    char err[512];
    enum dl_err e = dl_journal_open(path, identity, restart, &j, err, sizeof err);
    if (e)
        fprintf(stderr, "open %s: %s\n", path, err);
    CHECK_INT(e, DL_OK);
    return j;
}

static void ranges_str(struct dl_journal *j, const char *src, const char *ver, char *out, size_t n)
{
    struct dl_journal_ranges r;
    struct dl_buf b;
    dl_buf_init(&b, 0);
    CHECK_INT(dl_journal_acked_ranges(j, src, ver, &r), DL_OK);
    CHECK_INT(dl_journal_ranges_format(&r, &b), DL_OK);
    snprintf(out, n, "%s", b.data ? (char *)b.data : "");
    dl_buf_free(&b);
    dl_journal_ranges_free(&r);
}

static const char *ID = "table=Orders\nsrc=s3://archive/2024/\nformat=auto";

/* ------------------------------------------------------------------ simple cases */

static void test_path_for(void)
{
    struct dl_buf a, b;
    dl_buf_init(&a, 0);
    dl_buf_init(&b, 0);
    CHECK_INT(dl_journal_path_for(NULL, "x", &a), DL_OK);
    CHECK(strncmp((char *)a.data, ".ddbload/", 9) == 0);
    CHECK_INT(a.len, 9 + 16 + 8);
    CHECK(strcmp((char *)a.data + a.len - 8, ".journal") == 0);
    CHECK_INT(dl_journal_path_for(NULL, "x", &b), DL_OK);
    CHECK_STR((char *)a.data, (char *)b.data); /* deterministic */
    CHECK_INT(dl_journal_path_for("/var/j", "y", &b), DL_OK);
    CHECK(strncmp((char *)b.data, "/var/j/", 7) == 0);
    CHECK(strcmp((char *)a.data + 9, (char *)b.data + 7) != 0); /* another identity, another file */
    /* SHA-256("x") starts 2d711642b726b044 */
    CHECK_STR((char *)a.data, ".ddbload/2d711642b726b044.journal");
    dl_buf_free(&a);
    dl_buf_free(&b);
}

static void test_roundtrip_and_dirs(void)
{
    const char *path = P("nested/dirs/run.journal");
    struct dl_journal *j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(file_size(path) > 0); /* header written at creation */
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "\"e1\""), DL_JOURNAL_NEW);
    CHECK_INT(dl_journal_ack(j, "s3://b/a", "\"e1\"", 1, 10), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, "s3://b/a", "\"e1\"", 10), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/big", "\"e2\"", 1, 500), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/big", "\"e2\"", 600, 700), DL_OK);
    CHECK_INT(dl_journal_put_meta(j, "seq", "42"), DL_OK);
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "\"e1\""), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_object_state(j, "s3://b/big", "\"e2\""), DL_JOURNAL_PARTIAL);
    /* invalid arguments */
    CHECK_INT(dl_journal_ack(j, "s3://b/x", "v", 0, 3), DL_ERR_INVALID);
    CHECK_INT(dl_journal_ack(j, "s3://b/x", "v", 5, 4), DL_ERR_INVALID);
    CHECK_INT(dl_journal_ack(j, "s3://b/x", "v", 5, UINT64_MAX), DL_ERR_INVALID);
    CHECK_INT(dl_journal_object_state(j, "s3://b/x", "v"), DL_JOURNAL_NEW);
    CHECK_INT(dl_journal_close(j), DL_OK);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "\"e1\""), DL_JOURNAL_DONE);
    CHECK(dl_journal_record_done(j, "s3://b/a", "\"e1\"", 7));
    CHECK_INT(dl_journal_object_state(j, "s3://b/big", "\"e2\""), DL_JOURNAL_PARTIAL);
    CHECK(dl_journal_record_done(j, "s3://b/big", "\"e2\"", 500));
    CHECK(!dl_journal_record_done(j, "s3://b/big", "\"e2\"", 501));
    CHECK(dl_journal_record_done(j, "s3://b/big", "\"e2\"", 650));
    CHECK(!dl_journal_record_done(j, "s3://b/big", "\"e2\"", 701));
    char s[128];
    ranges_str(j, "s3://b/big", "\"e2\"", s, sizeof s);
    CHECK_STR(s, "1-500,600-700");
    ranges_str(j, "s3://b/a", "\"e1\"", s, sizeof s);
    CHECK_STR(s, "all");
    struct dl_buf v;
    dl_buf_init(&v, 0);
    CHECK_INT(dl_journal_get_meta(j, "seq", &v), DL_OK);
    CHECK_STR((char *)v.data, "42");
    CHECK_INT(dl_journal_get_meta(j, "nope", &v), DL_ERR_NOT_FOUND);
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.objects_done, 1);
    CHECK_INT(st.objects_partial, 1);
    CHECK_INT(st.meta_keys, 1);
    CHECK_INT(st.torn_bytes, 0);
    /* nothing changed: a flush writes nothing */
    off_t before = file_size(path);
    CHECK_INT(dl_journal_flush(j), DL_OK);
    CHECK_INT(file_size(path), before);
    dl_buf_free(&v);
    CHECK_INT(dl_journal_close(j), DL_OK);

    /* the file is readable text: one header, then lines */
    char *text = slurp(path);
    CHECK(text && strstr(text, "\"t\":\"ddbload-journal\",\"format\":1"));
    CHECK(text && strstr(text, "{\"t\":\"done\",\"src\":\"s3://b/a\",\"ver\":\"\\\"e1\\\"\"}"));
    CHECK(text && strstr(text, "\"r\":[[1,500],[600,700]]"));
    free(text);
}

static void test_coalescing(void)
{
    const char *path = P("coalesce.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    const char *S = "s3://b/k", *V = "etag";
    uint64_t acks[][2] = { { 21, 30 }, { 1, 10 }, { 41, 50 }, { 11, 20 }, { 61, 61 }, { 45, 55 }, { 31, 40 } };
    for (size_t i = 0; i < sizeof acks / sizeof acks[0]; i++)
        CHECK_INT(dl_journal_ack(j, S, V, acks[i][0], acks[i][1]), DL_OK);
    char s[256];
    ranges_str(j, S, V, s, sizeof s);
    CHECK_STR(s, "1-55,61");
    CHECK_INT(dl_journal_ack(j, S, V, 56, 60), DL_OK); /* fills the gap: adjacent ranges merge */
    ranges_str(j, S, V, s, sizeof s);
    CHECK_STR(s, "1-61");
    CHECK_INT(dl_journal_ack(j, S, V, 100, 200), DL_OK);
    CHECK_INT(dl_journal_ack(j, S, V, 300, 300), DL_OK);
    CHECK_INT(dl_journal_ack(j, S, V, 150, 160), DL_OK); /* inside an existing range */
    CHECK_INT(dl_journal_ack(j, S, V, 90, 310), DL_OK);  /* swallows two ranges */
    ranges_str(j, S, V, s, sizeof s);
    CHECK_STR(s, "1-61,90-310");
    CHECK_INT(dl_journal_flush(j), DL_OK);
    CHECK_INT(dl_journal_ack(j, S, V, 62, 89), DL_OK);
    CHECK_INT(dl_journal_ack(j, S, V, 1000, 1000), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    ranges_str(j, S, V, s, sizeof s);
    CHECK_STR(s, "1-310,1000");
    /* sequential and random lookups through a snapshot */
    struct dl_journal_ranges r;
    CHECK_INT(dl_journal_acked_ranges(j, S, V, &r), DL_OK);
    int bad = 0;
    for (uint64_t x = 0; x <= 1200; x++) {
        bool want = (x >= 1 && x <= 310) || x == 1000;
        bad += dl_journal_ranges_has(&r, x) != want;
    }
    for (int64_t x = 1200; x > 0; x -= 7) {
        bool want = (x >= 1 && x <= 310) || x == 1000;
        bad += dl_journal_ranges_has(&r, (uint64_t)x) != want;
    }
    CHECK_INT(bad, 0);
    CHECK_INT(r.all, 0);
    dl_journal_ranges_free(&r);

    /* many interleaved single-record acks (the pump's out-of-order pattern) coalesce to one range */
    const char *S2 = "s3://b/shuffled";
    uint64_t n = 5000;
    for (uint64_t w = 0; w < n; w += 100) /* each window of 100 acked in reverse */
        for (uint64_t k = 100; k > 0; k--)
            CHECK_INT(dl_journal_ack(j, S2, V, w + k, w + k), DL_OK);
    ranges_str(j, S2, V, s, sizeof s);
    CHECK_STR(s, "1-5000");
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_partial_to_done(void)
{
    const char *path = P("done.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    const char *A = "s3://b/a", *B = "s3://b/b", *C = "/data/empty.csv", *V = "v";
    /* complete first, acks after (out of order) */
    CHECK_INT(dl_journal_ack(j, A, V, 1, 40), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, A, V, 100), DL_OK);
    CHECK_INT(dl_journal_object_state(j, A, V), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_ack(j, A, V, 61, 100), DL_OK);
    CHECK_INT(dl_journal_object_state(j, A, V), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_flush(j), DL_OK);
    CHECK_INT(dl_journal_ack(j, A, V, 41, 60), DL_OK);
    CHECK_INT(dl_journal_object_state(j, A, V), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_ack(j, A, V, 41, 60), DL_OK); /* late duplicate: ignored */
    CHECK_INT(dl_journal_object_state(j, A, V), DL_JOURNAL_DONE);
    /* all acked, then complete */
    CHECK_INT(dl_journal_ack(j, B, V, 1, 5), DL_OK);
    CHECK_INT(dl_journal_object_state(j, B, V), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_object_complete(j, B, V, 5), DL_OK);
    CHECK_INT(dl_journal_object_state(j, B, V), DL_JOURNAL_DONE);
    /* an object without records */
    CHECK_INT(dl_journal_object_complete(j, C, V, 0), DL_OK);
    CHECK_INT(dl_journal_object_state(j, C, V), DL_JOURNAL_DONE);
    /* a partial object that stays partial, with its total known */
    CHECK_INT(dl_journal_ack(j, "s3://b/d", V, 2, 3), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, "s3://b/d", V, 3), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, A, V), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_object_state(j, B, V), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_object_state(j, C, V), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_object_state(j, "s3://b/d", V), DL_JOURNAL_PARTIAL);
    struct dl_journal_ranges r;
    CHECK_INT(dl_journal_acked_ranges(j, "s3://b/d", V, &r), DL_OK);
    CHECK_INT(r.total, 3);
    CHECK_INT(r.n, 1);
    dl_journal_ranges_free(&r);
    CHECK_INT(dl_journal_ack(j, "s3://b/d", V, 1, 1), DL_OK); /* total survived the reopen */
    CHECK_INT(dl_journal_object_state(j, "s3://b/d", V), DL_JOURNAL_DONE);
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.objects_done, 4);
    CHECK_INT(st.objects_partial, 0);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_version_change(void)
{
    const char *path = P("version.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    const char *S = "s3://b/obj", *P2 = "/local/file.csv";
    CHECK_INT(dl_journal_ack(j, S, "\"etag1\"", 1, 10), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, S, "\"etag1\"", 10), DL_OK);
    CHECK_INT(dl_journal_ack(j, P2, "size=100 mtime=1", 1, 7), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    /* the done object changed */
    CHECK_INT(dl_journal_object_state(j, S, "\"etag1\""), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_object_state(j, S, "\"etag2\""), DL_JOURNAL_CHANGED);
    CHECK(!dl_journal_record_done(j, S, "\"etag2\"", 1));
    /* the partial local file changed (size/mtime) */
    CHECK_INT(dl_journal_object_state(j, P2, "size=120 mtime=2"), DL_JOURNAL_CHANGED);
    CHECK(!dl_journal_record_done(j, P2, "size=120 mtime=2", 1));
    CHECK(dl_journal_record_done(j, P2, "size=100 mtime=1", 1)); /* until new work starts */
    CHECK_INT(dl_journal_ack(j, S, "\"etag2\"", 3, 4), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, P2, "size=120 mtime=2", 2), DL_OK);
    CHECK_INT(dl_journal_object_state(j, S, "\"etag2\""), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_object_state(j, S, "\"etag1\""), DL_JOURNAL_CHANGED);
    CHECK_INT(dl_journal_object_state(j, P2, "size=120 mtime=2"), DL_JOURNAL_NEW); /* nothing acked yet */
    CHECK(!dl_journal_record_done(j, P2, "size=100 mtime=1", 1));
    CHECK(!dl_journal_record_done(j, S, "\"etag2\"", 1));
    CHECK(dl_journal_record_done(j, S, "\"etag2\"", 3));
    CHECK_INT(dl_journal_close(j), DL_OK);

    char *text = slurp(path);
    CHECK(text && strstr(text, "{\"t\":\"new\",\"src\":\"s3://b/obj\",\"ver\":\"\\\"etag2\\\"\"}"));
    CHECK(text && strstr(text, "{\"t\":\"new\",\"src\":\"/local/file.csv\",\"ver\":\"size=120 mtime=2\"}"));
    free(text);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, S, "\"etag2\""), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_object_state(j, S, "\"etag1\""), DL_JOURNAL_CHANGED);
    CHECK(!dl_journal_record_done(j, S, "\"etag2\"", 1));
    CHECK(dl_journal_record_done(j, S, "\"etag2\"", 4));
    CHECK_INT(dl_journal_object_state(j, P2, "size=100 mtime=1"), DL_JOURNAL_CHANGED);
    CHECK_INT(dl_journal_ack(j, P2, "size=120 mtime=2", 1, 2), DL_OK);
    CHECK_INT(dl_journal_object_state(j, P2, "size=120 mtime=2"), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_torn_last_line(void)
{
    const char *path = P("torn.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_ack(j, "s3://b/a", "v", 1, 100), DL_OK);
    CHECK_INT(dl_journal_put_meta(j, "m", "1"), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    off_t good = file_size(path);

    /* 1. a torn append: the first half of a valid line (as a crash mid-write leaves it) */
    char line[512];
    make_line(line, sizeof line, "{\"t\":\"ack\",\"src\":\"s3://b/a\",\"ver\":\"v\",\"r\":[[101,200]]}");
    append_bytes(path, line, strlen(line) / 2);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.torn_bytes, strlen(line) / 2);
    CHECK_INT(file_size(path), good); /* cut off at open */
    CHECK(dl_journal_record_done(j, "s3://b/a", "v", 100));
    CHECK(!dl_journal_record_done(j, "s3://b/a", "v", 101));
    /* appending after the cut works: the next line is not glued to garbage */
    CHECK_INT(dl_journal_ack(j, "s3://b/a", "v", 150, 160), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.torn_bytes, 0);
    char s[128];
    ranges_str(j, "s3://b/a", "v", s, sizeof s);
    CHECK_STR(s, "1-100,150-160");
    CHECK_INT(dl_journal_close(j), DL_OK);
    good = file_size(path);

    /* 2. a whole last line whose checksum does not match (a sector of garbage) */
    char bad[512], commit[128];
    snprintf(bad, sizeof bad, "%s", line);
    bad[20] ^= 1; /* flip a bit in the payload: "src" changes, the CRC no longer matches */
    append_bytes(path, bad, strlen(bad));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(!dl_journal_record_done(j, "s3://b/a", "v", 101));
    CHECK_INT(file_size(path), good);
    CHECK_INT(dl_journal_close(j), DL_OK);

    /* 3. nothing after a bad line is read, even a valid one: the tail is one torn write */
    append_bytes(path, "garbage without newline", 23);
    append_bytes(path, "\n", 1);
    append_bytes(path, line, strlen(line));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(!dl_journal_record_done(j, "s3://b/a", "v", 101));
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.torn_bytes, 24 + strlen(line));
    CHECK_INT(file_size(path), good);
    /* a valid line appended by hand is read once its batch is committed: the format is what the
     * docs say */
    CHECK_INT(dl_journal_close(j), DL_OK);
    append_bytes(path, line, strlen(line));
    make_line(commit, sizeof commit, "{\"t\":\"commit\",\"seq\":1000}");
    append_bytes(path, commit, strlen(commit));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(dl_journal_record_done(j, "s3://b/a", "v", 101));
    CHECK(dl_journal_record_done(j, "s3://b/a", "v", 200));
    struct dl_buf v;
    dl_buf_init(&v, 0);
    CHECK_INT(dl_journal_get_meta(j, "m", &v), DL_OK);
    CHECK_STR((char *)v.data, "1");
    dl_buf_free(&v);
    CHECK_INT(dl_journal_close(j), DL_OK);

    /* 4. acks that survived a torn tail that lost the "done" line: derived at load */
    make_line(line, sizeof line, "{\"t\":\"total\",\"src\":\"s3://b/a\",\"ver\":\"v\",\"n\":200}");
    append_bytes(path, line, strlen(line));
    append_bytes(path, commit, strlen(commit));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "v"), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_close(j), DL_OK);
    char *text = slurp(path);
    CHECK(text && strstr(text, "{\"t\":\"done\",\"src\":\"s3://b/a\",\"ver\":\"v\"}"));
    free(text);
}

/* A flush is all or nothing: lines count only when their batch's commit line is there. Acks of
 * different objects can depend on each other (an older write of a key in one object, the newer
 * write in another), so a torn batch must not keep some of its lines. */
static void test_batch_atomicity(void)
{
    const char *path = P("atomic.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_ack(j, "s3://b/x", "v", 1, 5), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    off_t good = file_size(path);
    char *text = slurp(path);
    CHECK(text && strstr(text, "{\"t\":\"commit\",\"seq\":1}\n"));
    free(text);

    char l1[256], l2[256], c[128];
    make_line(l1, sizeof l1, "{\"t\":\"ack\",\"src\":\"s3://b/x\",\"ver\":\"v\",\"r\":[[6,6]]}");
    make_line(l2, sizeof l2, "{\"t\":\"ack\",\"src\":\"s3://b/y\",\"ver\":\"v\",\"r\":[[1,1]]}");
    make_line(c, sizeof c, "{\"t\":\"commit\",\"seq\":2}");
    /* two complete, valid lines without their commit: a write cut between lines */
    append_bytes(path, l1, strlen(l1));
    append_bytes(path, l2, strlen(l2));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(!dl_journal_record_done(j, "s3://b/x", "v", 6));
    CHECK(!dl_journal_record_done(j, "s3://b/y", "v", 1));
    CHECK_INT(file_size(path), good); /* cut, so a later commit cannot adopt them */
    CHECK_INT(dl_journal_ack(j, "s3://b/z", "v", 1, 1), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(dl_journal_record_done(j, "s3://b/z", "v", 1));
    CHECK(!dl_journal_record_done(j, "s3://b/x", "v", 6));
    CHECK(!dl_journal_record_done(j, "s3://b/y", "v", 1));
    CHECK_INT(dl_journal_close(j), DL_OK);
    good = file_size(path);

    /* a committed batch, then an uncommitted one: only the first counts */
    append_bytes(path, l1, strlen(l1));
    append_bytes(path, c, strlen(c));
    off_t committed = file_size(path);
    append_bytes(path, l2, strlen(l2));
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(dl_journal_record_done(j, "s3://b/x", "v", 6));
    CHECK(!dl_journal_record_done(j, "s3://b/y", "v", 1));
    CHECK_INT(file_size(path), committed);
    CHECK(committed > good);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_identity_and_header(void)
{
    const char *path = P("ident.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_ack(j, "s3://b/a", "v", 1, 1), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);

    char err[512] = "";
    j = (struct dl_journal *)1;
    CHECK_INT(dl_journal_open(path, "table=Other", false, &j, err, sizeof err), DL_ERR_INVALID);
    CHECK(j == NULL);
    CHECK(strstr(err, "another command") != NULL);
    CHECK(strstr(err, "--restart") != NULL);
    CHECK(strstr(err, "--journal") != NULL);
    /* the refused open did not touch the file */
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK(dl_journal_record_done(j, "s3://b/a", "v", 1));
    CHECK_INT(dl_journal_close(j), DL_OK);

    /* a file that is not a journal is not overwritten without --restart */
    const char *other = P("not-a-journal.txt");
    FILE *f = fopen(other, "w");
    fputs("precious data\n", f);
    fclose(f);
    CHECK_INT(dl_journal_open(other, ID, false, &j, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "not a ddbload journal") != NULL);
    char *text = slurp(other);
    CHECK_STR(text, "precious data\n");
    free(text);

    /* a newer format */
    const char *newer = P("newer.journal");
    char line[512];
    make_line(line, sizeof line, "{\"t\":\"ddbload-journal\",\"format\":99,\"identity\":\"x\"}");
    f = fopen(newer, "w");
    fputs(line, f);
    fclose(f);
    CHECK_INT(dl_journal_open(newer, "x", false, &j, err, sizeof err), DL_ERR_UNSUPPORTED);
    CHECK(strstr(err, "format 99") != NULL);

    /* an empty file (crash right after creating it by hand) is started afresh */
    const char *empty = P("empty.journal");
    f = fopen(empty, "w");
    fclose(f);
    j = open_ok(empty, ID, false);
    if (j)
        CHECK_INT(dl_journal_close(j), DL_OK);
    CHECK(file_size(empty) > 0);

    /* identities that are not UTF-8 and contain newlines round-trip */
    const char *odd = "table=T\nsrc=/data/\xff\xfe.csv";
    j = open_ok(P("odd.journal"), odd, true);
    if (j)
        CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(P("odd.journal"), odd, false);
    if (j)
        CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_lock(void)
{
    const char *path = P("lock.journal");
    struct dl_journal *j = open_ok(path, ID, true), *j2 = NULL;
    if (!j)
        return;
    char err[512];
    CHECK_INT(dl_journal_open(path, ID, false, &j2, err, sizeof err), DL_ERR_INVALID);
    CHECK(strstr(err, "in use") != NULL);
    CHECK_INT(dl_journal_open(path, ID, true, &j2, err, sizeof err), DL_ERR_INVALID); /* not even --restart */
    CHECK_INT(dl_journal_close(j), DL_OK);
    j2 = open_ok(path, ID, false);
    if (j2)
        CHECK_INT(dl_journal_close(j2), DL_OK);
}

static void test_restart(void)
{
    const char *path = P("restart.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_ack(j, "s3://b/a", "v", 1, 10), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, "s3://b/a", "v", 10), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/b", "v", 1, 10), DL_OK);
    CHECK_INT(dl_journal_put_meta(j, "k", "v"), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);

    j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "v"), DL_JOURNAL_NEW);
    CHECK_INT(dl_journal_object_state(j, "s3://b/b", "v"), DL_JOURNAL_NEW);
    struct dl_buf v;
    dl_buf_init(&v, 0);
    CHECK_INT(dl_journal_get_meta(j, "k", &v), DL_ERR_NOT_FOUND);
    dl_buf_free(&v);
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    CHECK_INT(dl_journal_object_state(j, "s3://b/a", "v"), DL_JOURNAL_NEW);
    /* restart also takes a journal of another identity */
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, "another", true);
    if (j)
        CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_compaction(void)
{
    const char *path = P("compact.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    dl_journal_set_compaction(j, SIZE_MAX, 4); /* manual only for the first part */
    char src[64];
    /* 50 done objects, one partial object acked one record per flush, meta churn */
    for (int i = 0; i < 50; i++) {
        snprintf(src, sizeof src, "s3://b/done-%d", i);
        CHECK_INT(dl_journal_ack(j, src, "v", 1, 3), DL_OK);
        CHECK_INT(dl_journal_object_complete(j, src, "v", 3), DL_OK);
    }
    for (uint64_t r = 1; r <= 400; r++) {
        CHECK_INT(dl_journal_ack(j, "s3://b/big", "v", r * 2, r * 2), DL_OK); /* even records only */
        if (r % 10 == 0) {
            char val[32];
            snprintf(val, sizeof val, "%llu", (unsigned long long)r);
            CHECK_INT(dl_journal_put_meta(j, "last", val), DL_OK);
        }
        CHECK_INT(dl_journal_flush(j), DL_OK);
    }
    CHECK_INT(dl_journal_put_meta(j, "gone", "x"), DL_OK);
    CHECK_INT(dl_journal_flush(j), DL_OK);
    CHECK_INT(dl_journal_put_meta(j, "gone", NULL), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, "s3://b/big", "v", 800), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/changed", "v1", 1, 5), DL_OK);
    CHECK_INT(dl_journal_flush(j), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/changed", "v2", 1, 2), DL_OK);
    CHECK_INT(dl_journal_flush(j), DL_OK);
    off_t big = file_size(path);
    CHECK_INT(dl_journal_compact(j), DL_OK);
    off_t small = file_size(path);
    CHECK(small < big / 2);
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.compactions, 1);
    CHECK_INT(st.file_bytes, small);
    /* appends continue on the compacted file */
    CHECK_INT(dl_journal_ack(j, "s3://b/big", "v", 1, 1), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    CHECK(file_size(P("compact.journal.tmp")) < 0); /* renamed away */

    char *text = slurp(path);
    CHECK(text && strstr(text, "\"sh\":") != NULL); /* done objects as digests */
    free(text);

    j = open_ok(path, ID, false);
    if (!j)
        return;
    for (int i = 0; i < 50; i++) {
        snprintf(src, sizeof src, "s3://b/done-%d", i);
        CHECK_INT(dl_journal_object_state(j, src, "v"), DL_JOURNAL_DONE);
        CHECK_INT(dl_journal_object_state(j, src, "v2"), DL_JOURNAL_CHANGED); /* digests keep versions */
    }
    CHECK_INT(dl_journal_object_state(j, "s3://b/big", "v"), DL_JOURNAL_PARTIAL);
    int bad = 0;
    for (uint64_t r = 1; r <= 800; r++)
        bad += dl_journal_record_done(j, "s3://b/big", "v", r) != (r % 2 == 0 || r == 1);
    CHECK_INT(bad, 0);
    struct dl_journal_ranges rr;
    CHECK_INT(dl_journal_acked_ranges(j, "s3://b/big", "v", &rr), DL_OK);
    CHECK_INT(rr.total, 800);
    CHECK_INT(rr.n, 400); /* 1-2, then 4, 6, ..., 800 */
    dl_journal_ranges_free(&rr);
    CHECK_INT(dl_journal_object_state(j, "s3://b/changed", "v2"), DL_JOURNAL_PARTIAL);
    CHECK_INT(dl_journal_object_state(j, "s3://b/changed", "v1"), DL_JOURNAL_CHANGED);
    CHECK(!dl_journal_record_done(j, "s3://b/changed", "v2", 3));
    struct dl_buf v;
    dl_buf_init(&v, 0);
    CHECK_INT(dl_journal_get_meta(j, "last", &v), DL_OK);
    CHECK_STR((char *)v.data, "400");
    CHECK_INT(dl_journal_get_meta(j, "gone", &v), DL_ERR_NOT_FOUND);
    dl_buf_free(&v);

    /* automatic compaction: the file stays within a few times its live content */
    dl_journal_set_compaction(j, 4096, 3);
    for (uint64_t r = 1000; r < 3000; r++) {
        CHECK_INT(dl_journal_ack(j, "s3://b/auto", "v", r, r), DL_OK);
        CHECK_INT(dl_journal_flush(j), DL_OK);
    }
    dl_journal_stats_get(j, &st);
    CHECK(st.compactions >= 3);
    CHECK(st.file_bytes < 64 * 1024); /* 2,000 appended lines would be ~200 KB */
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    char s[64];
    ranges_str(j, "s3://b/auto", "v", s, sizeof s);
    CHECK_STR(s, "1000-2999");
    CHECK_INT(dl_journal_object_state(j, "s3://b/done-7", "v"), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_non_utf8_names(void)
{
    const char *path = P("bytes.journal");
    const char *S = "/data/caf\xe9-\"quoted\"\n.csv", *V = "size=1 mtime=\xff";
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    CHECK_INT(dl_journal_ack(j, S, V, 1, 9), DL_OK);
    CHECK_INT(dl_journal_ack(j, "s3://b/\xe2\x82\xac-\x01", "\"e\"", 1, 1), DL_OK);
    CHECK_INT(dl_journal_object_complete(j, "s3://b/\xe2\x82\xac-\x01", "\"e\"", 1), DL_OK);
    CHECK_INT(dl_journal_put_meta(j, "k\xff", "v\xfe\n"), DL_OK);
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    char s[64];
    ranges_str(j, S, V, s, sizeof s);
    CHECK_STR(s, "1-9");
    CHECK_INT(dl_journal_object_state(j, "s3://b/\xe2\x82\xac-\x01", "\"e\""), DL_JOURNAL_DONE);
    struct dl_buf v;
    dl_buf_init(&v, 0);
    CHECK_INT(dl_journal_get_meta(j, "k\xff", &v), DL_OK);
    CHECK_STR((char *)v.data, "v\xfe\n");
    dl_buf_free(&v);
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.torn_bytes, 0);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

struct thr {
    struct dl_journal *j;
    int t;
};

static void *ack_thread(void *arg)
{
    struct thr *a = arg;
    /* thread t acks records r with r % 4 == t, in shuffled windows */
    for (uint64_t w = 0; w < 20000; w += 400)
        for (uint64_t k = 400; k > 0; k--)
            if ((w + k) % 4 == (uint64_t)a->t)
                dl_journal_ack(a->j, "s3://b/threads", "v", w + k, w + k);
    return NULL;
}

static void test_threads(void)
{
    const char *path = P("threads.journal");
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    pthread_t th[4];
    struct thr args[4];
    for (int t = 0; t < 4; t++) {
        args[t] = (struct thr){ j, t };
        pthread_create(&th[t], NULL, ack_thread, &args[t]);
    }
    for (int i = 0; i < 20; i++)
        CHECK_INT(dl_journal_flush(j), DL_OK);
    for (int t = 0; t < 4; t++)
        pthread_join(th[t], NULL);
    char s[64];
    ranges_str(j, "s3://b/threads", "v", s, sizeof s);
    CHECK_STR(s, "1-20000");
    CHECK_INT(dl_journal_close(j), DL_OK);
    j = open_ok(path, ID, false);
    if (!j)
        return;
    ranges_str(j, "s3://b/threads", "v", s, sizeof s);
    CHECK_STR(s, "1-20000");
    CHECK_INT(dl_journal_object_complete(j, "s3://b/threads", "v", 20000), DL_OK);
    CHECK_INT(dl_journal_object_state(j, "s3://b/threads", "v"), DL_JOURNAL_DONE);
    CHECK_INT(dl_journal_close(j), DL_OK);
}

static void test_many_objects(void)
{
    const char *path = P("many.journal");
    enum { N = 100000 };
    struct dl_journal *j = open_ok(path, ID, true);
    if (!j)
        return;
    char src[128], ver[64];
    double t0 = now_s();
    for (int i = 0; i < N; i++) {
        snprintf(src, sizeof src, "s3://archive-bucket/2024/%02d/orders-%06d.json.gz", i % 12, i);
        snprintf(ver, sizeof ver, "\"%032x\"", i * 2654435761u);
        dl_journal_ack(j, src, ver, 1, 1000);
        dl_journal_object_complete(j, src, ver, i % 10 == 0 ? 2000 : 1000); /* 10% stay partial */
        if (i % 10000 == 9999)
            CHECK_INT(dl_journal_flush(j), DL_OK);
    }
    double t1 = now_s();
    CHECK_INT(dl_journal_close(j), DL_OK);
    off_t size1 = file_size(path);

    double t2 = now_s();
    j = open_ok(path, ID, false);
    double t3 = now_s();
    if (!j)
        return;
    struct dl_journal_stats st;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.objects_done, N - N / 10);
    CHECK_INT(st.objects_partial, N / 10);
    CHECK_INT(dl_journal_compact(j), DL_OK);
    off_t size2 = file_size(path);
    CHECK_INT(dl_journal_close(j), DL_OK);
    double t4 = now_s();
    j = open_ok(path, ID, false);
    double t5 = now_s();
    if (!j)
        return;
    dl_journal_stats_get(j, &st);
    CHECK_INT(st.objects_done, N - N / 10);
    CHECK_INT(st.objects_partial, N / 10);
    int bad = 0;
    for (int i = 0; i < N; i += 97) {
        snprintf(src, sizeof src, "s3://archive-bucket/2024/%02d/orders-%06d.json.gz", i % 12, i);
        snprintf(ver, sizeof ver, "\"%032x\"", i * 2654435761u);
        enum dl_journal_state want = i % 10 == 0 ? DL_JOURNAL_PARTIAL : DL_JOURNAL_DONE;
        bad += dl_journal_object_state(j, src, ver) != want;
        bad += dl_journal_object_state(j, src, "\"other\"") != DL_JOURNAL_CHANGED;
        bad += !dl_journal_record_done(j, src, ver, 1000);
        bad += dl_journal_record_done(j, src, ver, 1001) != (want == DL_JOURNAL_DONE);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(dl_journal_close(j), DL_OK);
    fprintf(stderr,
            "  100k objects: record %.2fs; file %lld bytes, load %.3fs; compacted %lld bytes, load %.3fs\n",
            t1 - t0, (long long)size1, t3 - t2, (long long)size2, t5 - t4);
}

/* ------------------------------------------------------------------ kill -9 at random moments */

#define CM 6             /* objects */
#define CN 400           /* records per object */
#define CB 10            /* records per batch (one ack) */
#define CNB (CN / CB)
#define CHANGE_STEP 20   /* object 5 changes version at this step */
#define CHANGE_OBJ 5

struct gen {
    uint64_t rng;
    int order[CM][CNB];
    int next[CM];
    bool completed[CM];
    int ver[CM];
};

enum ev_type { EV_ACK, EV_COMPLETE, EV_META };

struct ev {
    enum ev_type type;
    int o, v;
    uint64_t a, b;
    char key[16], val[16]; /* val "" = delete */
};

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void crash_src(int o, char *out, size_t n)
{
    if (o == 3)
        snprintf(out, n, "/data/\xff-local-%d.csv", o); /* not UTF-8: hex form in the file */
    else
        snprintf(out, n, "s3://bucket/objects/%d.ndjson", o);
}

static void crash_ver(int o, int v, char *out, size_t n)
{
    snprintf(out, n, "\"etag-%d-v%d\"", o, v);
}

static void gen_shuffle(struct gen *g, int o)
{
    for (int b = 0; b < CNB; b++)
        g->order[o][b] = b;
    for (int w = 0; w < CNB; w += 8) { /* acks come back out of order within a window */
        int n = CNB - w < 8 ? CNB - w : 8;
        for (int i = n - 1; i > 0; i--) {
            int k = (int)(rnd(&g->rng) % (uint64_t)(i + 1));
            int t = g->order[o][w + i];
            g->order[o][w + i] = g->order[o][w + k];
            g->order[o][w + k] = t;
        }
    }
    g->next[o] = 0;
    g->completed[o] = false;
}

static void gen_init(struct gen *g, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->rng = seed | 1;
    for (int o = 0; o < CM; o++)
        gen_shuffle(g, o);
}

/* The events of step s (deterministic from the seed). Returns how many. */
static int gen_step(struct gen *g, int s, struct ev *ev)
{
    int n = 0;
    if (s == CHANGE_STEP) { /* the object is replaced under us: new ETag, all records again */
        g->ver[CHANGE_OBJ] = 1;
        gen_shuffle(g, CHANGE_OBJ);
    }
    int acks = 1 + (int)(rnd(&g->rng) % 4);
    for (int i = 0; i < acks; i++) {
        int o = s == CHANGE_STEP && i == 0 ? CHANGE_OBJ : (int)(rnd(&g->rng) % CM);
        for (int k = 0; k < CM && g->next[o] >= CNB; k++)
            o = (o + 1) % CM;
        if (g->next[o] >= CNB)
            break;
        int b = g->order[o][g->next[o]++];
        ev[n++] = (struct ev){ .type = EV_ACK, .o = o, .v = g->ver[o], .a = (uint64_t)b * CB + 1,
                               .b = (uint64_t)b * CB + CB };
        if (g->next[o] >= CNB / 2 && !g->completed[o]) {
            g->completed[o] = true;
            ev[n++] = (struct ev){ .type = EV_COMPLETE, .o = o, .v = g->ver[o], .a = CN };
        }
    }
    ev[n] = (struct ev){ .type = EV_META };
    snprintf(ev[n].key, sizeof ev[n].key, "step");
    snprintf(ev[n].val, sizeof ev[n].val, "%d", s);
    n++;
    ev[n] = (struct ev){ .type = EV_META };
    snprintf(ev[n].key, sizeof ev[n].key, "k%d", s % 3);
    if (s % 7 != 6)
        snprintf(ev[n].val, sizeof ev[n].val, "v%d", s);
    n++;
    return n;
}

struct model {
    bool bits[CM][2][CN + 1];
    bool has_total[CM][2];
    int cur[CM]; /* version of the last ack/complete, -1 = none */
    char meta[4][16]; /* step, k0, k1, k2; "" = absent */
};

static void model_apply(struct model *m, const struct ev *e)
{
    if (e->type == EV_META) {
        int idx = strcmp(e->key, "step") == 0 ? 0 : 1 + (e->key[1] - '0');
        snprintf(m->meta[idx], sizeof m->meta[idx], "%s", e->val);
        return;
    }
    if (m->cur[e->o] != e->v) { /* the journal restarts the object under the new version */
        memset(m->bits[e->o][e->v], 0, sizeof m->bits[e->o][e->v]);
        m->has_total[e->o][e->v] = false;
        m->cur[e->o] = e->v;
    }
    if (e->type == EV_ACK)
        for (uint64_t r = e->a; r <= e->b; r++)
            m->bits[e->o][e->v][r] = true;
    else
        m->has_total[e->o][e->v] = true;
}

static bool model_done(const struct model *m, int o, int v)
{
    if (!m->has_total[o][v])
        return false;
    for (int r = 1; r <= CN; r++)
        if (!m->bits[o][v][r])
            return false;
    return true;
}

/* State after steps 0..upto (upto = -1: nothing). */
static void model_build(struct model *m, uint64_t seed, int upto)
{
    memset(m, 0, sizeof *m);
    for (int o = 0; o < CM; o++)
        m->cur[o] = -1;
    struct gen g;
    gen_init(&g, seed);
    struct ev ev[16];
    for (int s = 0; s <= upto; s++) {
        int n = gen_step(&g, s, ev);
        for (int i = 0; i < n; i++)
            model_apply(m, &ev[i]);
    }
}

/* lo = state at the last flush the child reported, hi = one step later (a flush that completed
 * but was not reported yet). The journal must hold everything of lo (durability) and nothing
 * beyond hi (no misread, no invented acks); a torn write can leave it in between. */
static bool check_sandwich(struct dl_journal *j, const struct model *lo, const struct model *hi,
                           char *why, size_t whyn)
{
    char src[64], ver[2][64];
    for (int o = 0; o < CM; o++) {
        crash_src(o, src, sizeof src);
        crash_ver(o, 0, ver[0], sizeof ver[0]);
        crash_ver(o, 1, ver[1], sizeof ver[1]);
        enum dl_journal_state st[2] = { dl_journal_object_state(j, src, ver[0]),
                                        dl_journal_object_state(j, src, ver[1]) };
        int jv = -1; /* the version the journal holds */
        if (st[0] != DL_JOURNAL_CHANGED && st[0] != DL_JOURNAL_NEW)
            jv = 0;
        if (st[1] != DL_JOURNAL_CHANGED && st[1] != DL_JOURNAL_NEW)
            jv = jv == 0 ? 2 : 1;
        if (jv == 2) {
            snprintf(why, whyn, "object %d: both versions live", o);
            return false;
        }
        if (jv < 0) { /* nothing acked under any version: lo must have nothing either */
            if (lo->cur[o] >= 0) {
                for (int r = 1; r <= CN; r++)
                    if (lo->bits[o][lo->cur[o]][r]) {
                        snprintf(why, whyn, "object %d: durable record %d lost (journal: none)", o, r);
                        return false;
                    }
            }
            continue;
        }
        if (lo->cur[o] > jv || hi->cur[o] < jv) {
            snprintf(why, whyn, "object %d: journal version %d outside [%d, %d]", o, jv, lo->cur[o], hi->cur[o]);
            return false;
        }
        struct dl_journal_ranges rr;
        if (dl_journal_acked_ranges(j, src, ver[jv], &rr) != DL_OK)
            return false;
        bool jdone = st[jv] == DL_JOURNAL_DONE;
        if (jdone != rr.all) {
            snprintf(why, whyn, "object %d: DONE state and ranges disagree", o);
            dl_journal_ranges_free(&rr);
            return false;
        }
        for (int r = 1; r <= CN; r++) {
            bool has = dl_journal_ranges_has(&rr, (uint64_t)r);
            bool rd = dl_journal_record_done(j, src, ver[jv], (uint64_t)r);
            bool need = lo->cur[o] == jv && lo->bits[o][jv][r];
            bool may = hi->bits[o][jv][r];
            if (has != rd || (need && !has) || (has && !may)) {
                snprintf(why, whyn, "object %d v%d record %d: journal %d, durable %d, acked-by-hi %d", o, jv, r,
                         has, need, may);
                dl_journal_ranges_free(&rr);
                return false;
            }
        }
        dl_journal_ranges_free(&rr);
        if (jdone && !model_done(hi, o, jv)) {
            snprintf(why, whyn, "object %d: DONE but not complete+acked", o);
            return false;
        }
        if (lo->cur[o] == jv && model_done(lo, o, jv) && !jdone) {
            snprintf(why, whyn, "object %d: durable DONE lost", o);
            return false;
        }
    }
    const char *keys[4] = { "step", "k0", "k1", "k2" };
    struct dl_buf v;
    dl_buf_init(&v, 0);
    for (int k = 0; k < 4; k++) {
        enum dl_err e = dl_journal_get_meta(j, keys[k], &v);
        const char *got = e == DL_OK ? (const char *)v.data : "";
        if (strcmp(got, lo->meta[k]) != 0 && strcmp(got, hi->meta[k]) != 0) {
            snprintf(why, whyn, "meta %s = '%s', expected '%s' or '%s'", keys[k], got, lo->meta[k], hi->meta[k]);
            dl_buf_free(&v);
            return false;
        }
    }
    dl_buf_free(&v);
    return true;
}

static bool model_equal_journal(struct dl_journal *j, const struct model *m)
{
    char why[256];
    return check_sandwich(j, m, m, why, sizeof why);
}

/* What the child tells the parent after each completed flush (smaller than PIPE_BUF: atomic). */
struct report {
    int32_t step;  /* the flush after this step returned DL_OK; REPORT_FAIL / REPORT_FINISHED */
    uint32_t compactions; /* so far, as the journal's stats say */
    uint64_t ino;  /* the journal file then (compaction replaces it) */
    uint64_t size;
};
#define REPORT_FAIL (-2)
#define REPORT_FINISHED (-3)

static void report(int wfd, struct dl_journal *j, const char *path, int32_t step)
{
    struct report r = { .step = step };
    struct stat sb;
    if (j) {
        struct dl_journal_stats st;
        dl_journal_stats_get(j, &st);
        r.compactions = (uint32_t)st.compactions;
    }
    if (step >= 0 && stat(path, &sb) == 0) {
        r.ino = (uint64_t)sb.st_ino;
        r.size = (uint64_t)sb.st_size;
    }
    (void)!write(wfd, &r, sizeof r);
    if (step == REPORT_FAIL)
        _exit(1);
}

/* The child: run the steps, flushing after each, and report each completed flush. */
static void crash_child(const char *path, uint64_t seed, int wfd)
{
    struct dl_journal *j = NULL;
    char err[256], src[64], ver[64];
    if (dl_journal_open(path, "crash-test", false, &j, err, sizeof err) != DL_OK)
        report(wfd, NULL, path, REPORT_FAIL);
    dl_journal_set_compaction(j, 2048, 2); /* compact often, so kills land inside compactions too */
    struct gen g;
    gen_init(&g, seed);
    struct ev ev[16];
    for (int s = 0;; s++) {
        int n = gen_step(&g, s, ev);
        bool any = false;
        for (int i = 0; i < n; i++) {
            enum dl_err e;
            if (ev[i].type == EV_META) {
                e = dl_journal_put_meta(j, ev[i].key, ev[i].val[0] ? ev[i].val : NULL);
            } else {
                any = true;
                crash_src(ev[i].o, src, sizeof src);
                crash_ver(ev[i].o, ev[i].v, ver, sizeof ver);
                if (ev[i].type == EV_ACK)
                    e = dl_journal_ack(j, src, ver, ev[i].a, ev[i].b);
                else
                    e = dl_journal_object_complete(j, src, ver, ev[i].a);
            }
            if (e)
                report(wfd, j, path, REPORT_FAIL);
        }
        if (dl_journal_flush(j) != DL_OK)
            report(wfd, j, path, REPORT_FAIL);
        report(wfd, j, path, s);
        if (!any) { /* every object finished: say so, and wait to be killed */
            report(wfd, j, path, REPORT_FINISHED);
            for (;;)
                pause();
        }
    }
}

static void test_kill9_loop(void)
{
    const char *path = P("crash/run.journal");
    const int iterations = 60;
    uint64_t rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)time(NULL);
    int failures = 0, at_hi = 0, at_lo = 0, between = 0, torn = 0, none = 0, max_step = 0, cuts = 0;
    uint64_t compactions = 0;
    double t0 = now_s();
    fprintf(stderr, "  kill -9 loop: seed base %llu\n", (unsigned long long)rng);
    for (int it = 0; it < iterations && failures < 3; it++) {
        uint64_t seed = rnd(&rng);
        unlink(path);
        int pfd[2];
        if (pipe(pfd) != 0) {
            CHECK(0);
            return;
        }
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            close(pfd[0]);
            crash_child(path, seed, pfd[1]);
            _exit(0);
        }
        close(pfd[1]);
        /* kill after a random number of reported flushes plus a random delay */
        int want = (int)(rnd(&rng) % 110), got = 0;
        int32_t last = -1;
        struct report lastr = { .step = -1 }, r;
        bool child_failed = false, finished = false;
        while (!finished && got < want && read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r) {
            if (r.step == REPORT_FAIL)
                child_failed = finished = true;
            else if (r.step == REPORT_FINISHED)
                finished = true;
            else {
                lastr = r;
                got++;
            }
        }
        usleep((useconds_t)(rnd(&rng) % 3000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        while (read(pfd[0], &r, sizeof r) == (ssize_t)sizeof r) { /* reports written before the kill */
            if (r.step == REPORT_FAIL)
                child_failed = true;
            else if (r.step >= 0)
                lastr = r;
        }
        close(pfd[0]);
        last = lastr.step;
        compactions += lastr.compactions;
        CHECK(!child_failed);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        if (last > max_step)
            max_step = last;

        /* Every other iteration, also simulate a power cut: bytes appended after the last
         * reported (fsync'ed) flush are partly lost - cut at a random point, sometimes followed
         * by zeros (the size was updated but the data never reached the disk). kill -9 alone
         * rarely tears a line, because each flush is one small write(). */
        struct stat sb;
        if (it % 2 == 1 && last >= 0 && stat(path, &sb) == 0 && (uint64_t)sb.st_ino == lastr.ino &&
            (uint64_t)sb.st_size > lastr.size) {
            uint64_t extra = (uint64_t)sb.st_size - lastr.size;
            off_t cut = (off_t)(lastr.size + rnd(&rng) % extra);
            CHECK(truncate(path, cut) == 0);
            if (rnd(&rng) & 1) {
                static const char zeros[64];
                append_bytes(path, zeros, 1 + rnd(&rng) % sizeof zeros);
            }
            cuts++;
        }

        struct model lo, hi;
        model_build(&lo, seed, last);
        model_build(&hi, seed, last + 1);
        struct dl_journal *j = NULL;
        char err[256], why[256] = "";
        enum dl_err e = dl_journal_open(path, "crash-test", false, &j, err, sizeof err);
        if (e) {
            fprintf(stderr, "  iteration %d: reopen failed: %s\n", it, err);
            CHECK_INT(e, DL_OK);
            failures++;
            continue;
        }
        struct dl_journal_stats st;
        dl_journal_stats_get(j, &st);
        torn += st.torn_bytes > 0;
        bool ok = check_sandwich(j, &lo, &hi, why, sizeof why);
        if (!ok) {
            fprintf(stderr, "  iteration %d (seed %llu, last reported step %d): %s\n", it,
                    (unsigned long long)seed, last, why);
            failures++;
        }
        CHECK(ok);
        if (last < 0)
            none++;
        /* a flush is atomic: exactly the state after the last reported flush, or after the one
         * that completed without being reported */
        if (model_equal_journal(j, &lo))
            at_lo++;
        else if (model_equal_journal(j, &hi))
            at_hi++;
        else
            between++;

        /* the run resumes after the crash: new work is appended and read back with the old */
        CHECK_INT(dl_journal_ack(j, "s3://bucket/after-crash", "v", 1, 7), DL_OK);
        CHECK_INT(dl_journal_close(j), DL_OK);
        j = open_ok(path, "crash-test", false);
        if (!j) {
            failures++;
            continue;
        }
        CHECK(dl_journal_record_done(j, "s3://bucket/after-crash", "v", 7));
        CHECK(!dl_journal_record_done(j, "s3://bucket/after-crash", "v", 8));
        ok = check_sandwich(j, &lo, &hi, why, sizeof why);
        if (!ok)
            fprintf(stderr, "  iteration %d after resume: %s\n", it, why);
        CHECK(ok);
        dl_journal_stats_get(j, &st);
        CHECK_INT(st.torn_bytes, 0);
        CHECK_INT(dl_journal_close(j), DL_OK);
    }
    fprintf(stderr,
            "  kill -9 loop: %d iterations in %.1fs; state = last reported flush %d, one unreported "
            "flush later %d, in between %d; simulated power cuts %d; torn tails cut at open %d; "
            "killed before any flush %d; furthest step %d; compactions in the children %llu\n",
            iterations, now_s() - t0, at_lo, at_hi, between, cuts, torn, none, max_step,
            (unsigned long long)compactions);
    CHECK_INT(failures, 0);
    CHECK_INT(between, 0);
}

int main(void)
{
    char tmpl[] = "/tmp/dl_journal_test_XXXXXX";
    if (!mkdtemp(tmpl)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(tmpdir, sizeof tmpdir, "%s", tmpl);
    TEST_RUN(test_path_for);
    TEST_RUN(test_roundtrip_and_dirs);
    TEST_RUN(test_coalescing);
    TEST_RUN(test_partial_to_done);
    TEST_RUN(test_version_change);
    TEST_RUN(test_torn_last_line);
    TEST_RUN(test_batch_atomicity);
    TEST_RUN(test_identity_and_header);
    TEST_RUN(test_lock);
    TEST_RUN(test_restart);
    TEST_RUN(test_compaction);
    TEST_RUN(test_non_utf8_names);
    TEST_RUN(test_threads);
    TEST_RUN(test_many_objects);
    TEST_RUN(test_kill9_loop);
    nftw(tmpdir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    return test_summary();
}
