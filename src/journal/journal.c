/* The checkpoint journal. File format and guarantees: docs/journal.md.
 *
 * In memory: an open-addressed table keyed by the first 128 bits of SHA-256(source) holding,
 * per source, a 64-bit digest of its current version and whether it is DONE. A source that is
 * not DONE (or whose DONE line is not written yet) also has a "part": its names, the coalesced
 * set of acknowledged ranges, the ranges acknowledged since the last flush ("pending"), and the
 * record count once known. DONE sources cost one table slot (40 bytes), so 100,000 finished
 * objects take a few MB.
 *
 * Locks: mu guards the state; fmu serialises writers of the file (flush, compaction). A flush
 * takes fmu, snapshots what changed under mu, and writes + fsyncs after releasing mu, so the
 * pump's acks never wait for the disk. Lock order: fmu, then mu. */
#include "journal/journal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "core/arena.h"
#include "core/json.h"

#define HEADER_TYPE "ddbload-journal"
#define LINE_MAX_BYTES ((size_t)8 << 20) /* longest line accepted when loading */
#define ACK_CHUNK 2048                   /* ranges per "ack" line: keeps lines short */
#define MAX_RANGES ((size_t)1 << 24)     /* per object: an ack pattern this fragmented is a bug */
#define READ_CHUNK ((size_t)1 << 20)
#define DONE_LINE_EST 80                 /* bytes of a compacted "done" line, for the live estimate */

struct rset {
    struct dl_journal_range *v;
    size_t n, cap;
};

struct part {
    uint8_t sh[16];
    uint64_t vh;
    char *src, *ver;
    struct rset acked;   /* everything acknowledged for this version */
    struct rset pending; /* acknowledged since the last flush snapshot */
    uint64_t total;
    bool has_total, total_dirty, reset_dirty, done, dirty;
    struct part *dirty_next;
    struct part *prev, *next; /* all parts */
};

struct ent {
    uint8_t sh[16];
    uint64_t vh;
    bool used, done;
    struct part *p;
};

struct meta {
    char *k, *v; /* v NULL: deleted (tombstone until flushed, then kept: it is tiny) */
    bool dirty;
    struct meta *next, *dirty_next;
};

struct dl_journal {
    char *path, *tmp_path, *dir;
    char *identity;
    int fd, lock_fd;

    pthread_mutex_t mu;  /* state below */
    struct ent *tab;
    size_t tab_cap, tab_used;
    struct part *parts, *dirty, *cache;
    struct meta **meta_tab;
    size_t meta_cap, meta_count;
    struct meta *meta_dirty;
    uint64_t n_done, n_partial, n_meta;
    size_t header_len;
    uint64_t seq;        /* of the last commit line */
    bool pending_lost;   /* an ack could not be recorded as pending: rewrite the file next flush */
    struct dl_journal_stats st;
    char errmsg[512];
    bool has_err;

    pthread_mutex_t fmu; /* the file: fd, file_bytes, need_rewrite, wbuf */
    uint64_t file_bytes;
    uint64_t compacted_bytes; /* size of the file right after the last rewrite */
    bool need_rewrite;
    size_t compact_min;
    unsigned compact_ratio;
    struct dl_buf wbuf;
};

/* ------------------------------------------------------------------ small helpers */

static void fmt_err(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fmt_err(char *err, size_t n, const char *fmt, ...)
{
    if (!err || !n)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static void set_err(struct dl_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct dl_journal *j, const char *fmt, ...)
{
    char msg[sizeof j->errmsg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&j->mu);
    memcpy(j->errmsg, msg, sizeof msg);
    j->has_err = true;
    pthread_mutex_unlock(&j->mu);
}

static void sha256(const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;
    if (EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) != 1)
        memset(out, 0, 32); /* cannot happen with the default provider; stay deterministic */
}

struct key {
    uint8_t sh[16];
    uint64_t vh;
};

static void key_of(const char *src, const char *ver, struct key *k)
{
    uint8_t d[32];
    sha256(src, strlen(src), d);
    memcpy(k->sh, d, 16);
    sha256(ver, strlen(ver), d);
    memcpy(&k->vh, d, 8);
}

static uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static const char hexd[] = "0123456789abcdef";

static enum dl_err append_hex(struct dl_buf *b, const uint8_t *p, size_t n)
{
    enum dl_err e = dl_buf_reserve(b, 2 * n);
    if (e)
        return e;
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = (uint8_t)hexd[p[i] >> 4];
        b->data[b->len++] = (uint8_t)hexd[p[i] & 15];
    }
    b->data[b->len] = 0;
    return DL_OK;
}

static int hexval(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode lowercase hex of exactly 2*n digits into out. */
static bool unhex(struct dl_cursor c, uint8_t *out, size_t n)
{
    if (c.len != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(c.ptr[2 * i]), lo = hexval(c.ptr[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

static enum dl_err write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return DL_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return DL_OK;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

/* mkdir -p dir; fsync the parent of every directory created so the new entry is durable. */
static int mkdirs(const char *dir)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p)
        return -1;
    memcpy(p, dir, n + 1);
    int r = 0;
    for (size_t i = 1; i <= n && r == 0; i++) {
        if (p[i] != '/' && p[i] != 0)
            continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0777) == 0) {
            char *slash = strrchr(p, '/');
            if (slash == p)
                fsync_dir("/");
            else if (slash) {
                *slash = 0;
                fsync_dir(p);
                *slash = '/';
            } else
                fsync_dir(".");
        } else if (errno != EEXIST) {
            r = -1;
        }
        p[i] = c;
    }
    free(p);
    return r;
}

/* ------------------------------------------------------------------ range sets */

static void rs_free(struct rset *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

/* Index of the first range whose first > x, within [lo, hi). */
static size_t rs_upper(const struct dl_journal_range *v, size_t lo, size_t hi, uint64_t x)
{
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v[mid].first <= x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool rs_has(const struct rset *s, uint64_t x)
{
    size_t i = rs_upper(s->v, 0, s->n, x);
    return i > 0 && x <= s->v[i - 1].last;
}

/* Add [a, b] (a >= 1, b < UINT64_MAX), merging with overlapping and adjacent ranges. */
static enum dl_err rs_add(struct rset *s, uint64_t a, uint64_t b)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) { /* first range that ends at or after a - 1 */
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].last + 1 < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t i = lo, k = lo;
    while (k < s->n && s->v[k].first <= b + 1) {
        if (s->v[k].first < a)
            a = s->v[k].first;
        if (s->v[k].last > b)
            b = s->v[k].last;
        k++;
    }
    if (k == i) {
        if (s->n == s->cap) {
            if (s->n >= MAX_RANGES)
                return DL_ERR_TOO_LARGE;
            size_t nc = s->cap ? s->cap * 2 : 4;
            struct dl_journal_range *nv = realloc(s->v, nc * sizeof *nv);
            if (!nv)
                return DL_ERR_NOMEM;
            s->v = nv;
            s->cap = nc;
        }
        memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
        s->n++;
    } else if (k > i + 1) {
        memmove(s->v + i + 1, s->v + k, (s->n - k) * sizeof *s->v);
        s->n -= k - i - 1;
    }
    s->v[i].first = a;
    s->v[i].last = b;
    return DL_OK;
}

/* ------------------------------------------------------------------ the source table */

static struct ent *ent_find(struct dl_journal *j, const uint8_t sh[16])
{
    if (!j->tab_cap)
        return NULL;
    size_t mask = j->tab_cap - 1;
    for (size_t i = (size_t)load64(sh) & mask;; i = (i + 1) & mask) {
        struct ent *e = &j->tab[i];
        if (!e->used)
            return NULL;
        if (memcmp(e->sh, sh, 16) == 0)
            return e;
    }
}

static enum dl_err tab_grow(struct dl_journal *j)
{
    size_t nc = j->tab_cap ? j->tab_cap * 2 : 1024;
    struct ent *nt = calloc(nc, sizeof *nt);
    if (!nt)
        return DL_ERR_NOMEM;
    for (size_t k = 0; k < j->tab_cap; k++) {
        struct ent *e = &j->tab[k];
        if (!e->used)
            continue;
        size_t i = (size_t)load64(e->sh) & (nc - 1);
        while (nt[i].used)
            i = (i + 1) & (nc - 1);
        nt[i] = *e;
    }
    free(j->tab);
    j->tab = nt;
    j->tab_cap = nc;
    return DL_OK;
}

/* The slot for sh, inserted (not done, no part, vh 0) if absent. NULL on OOM. The pointer is
 * valid until the next insert. */
static struct ent *ent_get(struct dl_journal *j, const uint8_t sh[16])
{
    struct ent *e = ent_find(j, sh);
    if (e)
        return e;
    if ((j->tab_used + 1) * 10 > j->tab_cap * 7 && tab_grow(j) != DL_OK)
        return NULL;
    size_t mask = j->tab_cap - 1;
    size_t i = (size_t)load64(sh) & mask;
    while (j->tab[i].used)
        i = (i + 1) & mask;
    e = &j->tab[i];
    memset(e, 0, sizeof *e);
    e->used = true;
    memcpy(e->sh, sh, 16);
    j->tab_used++;
    j->n_partial++;
    return e;
}

static void mark_dirty(struct dl_journal *j, struct part *p)
{
    if (!p->dirty) {
        p->dirty = true;
        p->dirty_next = j->dirty;
        j->dirty = p;
    }
}

static void part_free(struct dl_journal *j, struct part *p)
{
    struct ent *e = ent_find(j, p->sh);
    if (e && e->p == p)
        e->p = NULL;
    if (p->prev)
        p->prev->next = p->next;
    else
        j->parts = p->next;
    if (p->next)
        p->next->prev = p->prev;
    if (j->cache == p)
        j->cache = NULL;
    rs_free(&p->acked);
    rs_free(&p->pending);
    free(p->src);
    free(p->ver);
    free(p);
}

static void part_clear(struct part *p)
{
    rs_free(&p->acked);
    rs_free(&p->pending);
    p->total = 0;
    p->has_total = p->total_dirty = false;
}

/* The part to update for (src, ver) under mu: created, or reset when the journal held another
 * version (logged as a "new" line when log). *out NULL with DL_OK means the object is DONE. */
static enum dl_err part_for_update(struct dl_journal *j, const char *src, const char *ver, bool log,
                                   struct part **out)
{
    *out = NULL;
    struct part *c = j->cache;
    if (c && strcmp(c->src, src) == 0 && strcmp(c->ver, ver) == 0) {
        *out = c->done ? NULL : c;
        return DL_OK;
    }
    struct key k;
    key_of(src, ver, &k);
    struct ent *e = ent_find(j, k.sh);
    if (e && e->vh == k.vh) {
        if (e->done)
            return DL_OK;
        if (e->p) {
            j->cache = e->p;
            *out = e->p;
            return DL_OK;
        }
    }
    if (e && e->p) { /* same source, another version: start over */
        struct part *p = e->p;
        char *nv = xstrdup(ver);
        if (!nv)
            return DL_ERR_NOMEM;
        free(p->ver);
        p->ver = nv;
        part_clear(p);
        rs_free(&p->pending);
        p->vh = k.vh;
        if (p->done) {
            p->done = false;
            j->n_done--;
            j->n_partial++;
        }
        e->vh = k.vh;
        e->done = false;
        if (log) {
            p->reset_dirty = true;
            mark_dirty(j, p);
        }
        j->cache = p;
        *out = p;
        return DL_OK;
    }
    struct part *p = calloc(1, sizeof *p);
    if (!p)
        return DL_ERR_NOMEM;
    p->src = xstrdup(src);
    p->ver = xstrdup(ver);
    if (!p->src || !p->ver) {
        free(p->src);
        free(p->ver);
        free(p);
        return DL_ERR_NOMEM;
    }
    bool existed = e != NULL;
    e = ent_get(j, k.sh);
    if (!e) {
        free(p->src);
        free(p->ver);
        free(p);
        return DL_ERR_NOMEM;
    }
    if (existed && e->done) { /* DONE under another version */
        e->done = false;
        j->n_done--;
        j->n_partial++;
    }
    memcpy(p->sh, k.sh, 16);
    p->vh = k.vh;
    e->vh = k.vh;
    e->p = p;
    p->next = j->parts;
    if (j->parts)
        j->parts->prev = p;
    j->parts = p;
    if (log && existed) {
        p->reset_dirty = true;
        mark_dirty(j, p);
    }
    j->cache = p;
    *out = p;
    return DL_OK;
}

/* Mark p's object DONE. With log the part stays until the next flush writes its "done" line;
 * without (loading) it is freed at once. */
static void mark_done(struct dl_journal *j, struct part *p, bool log)
{
    struct ent *e = ent_find(j, p->sh);
    if (e) {
        e->done = true;
        e->vh = p->vh;
    }
    j->n_done++;
    j->n_partial--;
    if (!log) {
        part_free(j, p);
        return;
    }
    p->done = true;
    part_clear(p);
    rs_free(&p->pending);
    mark_dirty(j, p);
}

static bool covers_total(const struct part *p)
{
    return p->has_total &&
           (p->total == 0 || (p->acked.n > 0 && p->acked.v[0].first == 1 && p->acked.v[0].last >= p->total));
}

/* Set a DONE entry directly (a "done" line), dropping any part. */
static enum dl_err set_done_hashed(struct dl_journal *j, const uint8_t sh[16], uint64_t vh)
{
    struct ent *e = ent_get(j, sh);
    if (!e)
        return DL_ERR_NOMEM;
    if (e->p)
        part_free(j, e->p);
    e = ent_find(j, sh);
    if (!e->done) {
        e->done = true;
        j->n_done++;
        j->n_partial--;
    }
    e->vh = vh;
    return DL_OK;
}

/* ------------------------------------------------------------------ meta map */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
    return h;
}

static struct meta *meta_find(struct dl_journal *j, const char *k)
{
    if (!j->meta_cap)
        return NULL;
    for (struct meta *m = j->meta_tab[fnv1a(k) & (j->meta_cap - 1)]; m; m = m->next)
        if (strcmp(m->k, k) == 0)
            return m;
    return NULL;
}

static enum dl_err meta_set(struct dl_journal *j, const char *k, const char *v, bool log)
{
    struct meta *m = meta_find(j, k);
    char *nv = NULL;
    if (v && !(nv = xstrdup(v)))
        return DL_ERR_NOMEM;
    if (!m) {
        if (!v)
            return DL_OK; /* deleting an absent key: nothing to record */
        if (j->meta_count + 1 > j->meta_cap * 2) {
            size_t nc = j->meta_cap ? j->meta_cap * 4 : 64;
            struct meta **nt = calloc(nc, sizeof *nt);
            if (!nt) {
                free(nv);
                return DL_ERR_NOMEM;
            }
            for (size_t i = 0; i < j->meta_cap; i++) {
                for (struct meta *x = j->meta_tab[i], *nx; x; x = nx) {
                    nx = x->next;
                    size_t b = fnv1a(x->k) & (nc - 1);
                    x->next = nt[b];
                    nt[b] = x;
                }
            }
            free(j->meta_tab);
            j->meta_tab = nt;
            j->meta_cap = nc;
        }
        m = calloc(1, sizeof *m);
        if (!m || !(m->k = xstrdup(k))) {
            free(m);
            free(nv);
            return DL_ERR_NOMEM;
        }
        size_t b = fnv1a(k) & (j->meta_cap - 1);
        m->next = j->meta_tab[b];
        j->meta_tab[b] = m;
        j->meta_count++;
    }
    if (m->v && !nv)
        j->n_meta--;
    else if (!m->v && nv)
        j->n_meta++;
    free(m->v);
    m->v = nv;
    if (log && !m->dirty) {
        m->dirty = true;
        m->dirty_next = j->meta_dirty;
        j->meta_dirty = m;
    }
    return DL_OK;
}

/* ------------------------------------------------------------------ writing lines */

/* Each line: 8 lowercase hex digits of CRC32(payload), a space, the JSON payload, "\n". */
static enum dl_err line_begin(struct dl_buf *b, size_t *start)
{
    enum dl_err e = dl_buf_append(b, "00000000 ", 9);
    *start = b->len;
    return e;
}

static enum dl_err line_end(struct dl_buf *b, size_t start)
{
    uLong crc = crc32(0L, b->data + start, (uInt)(b->len - start));
    for (int i = 0; i < 8; i++)
        b->data[start - 9 + i] = (uint8_t)hexd[(crc >> (28 - 4 * i)) & 15];
    return dl_buf_append_byte(b, '\n');
}

/* ,"field":"text" — or ,"field_hex":"..." when the text is not UTF-8 (local paths are bytes),
 * so every line stays valid JSON. */
static enum dl_err put_name(struct dl_buf *b, const char *field, const char *s)
{
    size_t n = strlen(s);
    enum dl_err e;
    if (dl_utf8_valid((const uint8_t *)s, n, NULL)) {
        if ((e = dl_buf_printf(b, ",\"%s\":", field)))
            return e;
        return dl_buf_append_json_str(b, s, n);
    }
    if ((e = dl_buf_printf(b, ",\"%s_hex\":\"", field)) || (e = append_hex(b, (const uint8_t *)s, n)))
        return e;
    return dl_buf_append_byte(b, '"');
}

static enum dl_err put_obj_line(struct dl_buf *b, const char *type, const struct part *p,
                                const char *extra_fmt, uint64_t extra)
{
    size_t st;
    enum dl_err e;
    if ((e = line_begin(b, &st)) || (e = dl_buf_printf(b, "{\"t\":\"%s\"", type)) ||
        (e = put_name(b, "src", p->src)) || (e = put_name(b, "ver", p->ver)))
        return e;
    if (extra_fmt && (e = dl_buf_printf(b, extra_fmt, (unsigned long long)extra)))
        return e;
    if ((e = dl_buf_append_byte(b, '}')))
        return e;
    return line_end(b, st);
}

static enum dl_err put_ack_lines(struct dl_buf *b, const struct part *p, const struct rset *s)
{
    enum dl_err e = DL_OK;
    for (size_t i = 0; i < s->n && !e; i += ACK_CHUNK) {
        size_t end = i + ACK_CHUNK < s->n ? i + ACK_CHUNK : s->n, st;
        if ((e = line_begin(b, &st)) || (e = dl_buf_append_str(b, "{\"t\":\"ack\"")) ||
            (e = put_name(b, "src", p->src)) || (e = put_name(b, "ver", p->ver)) ||
            (e = dl_buf_append_str(b, ",\"r\":[")))
            return e;
        for (size_t k = i; k < end && !e; k++)
            e = dl_buf_printf(b, "%s[%llu,%llu]", k > i ? "," : "", (unsigned long long)s->v[k].first,
                              (unsigned long long)s->v[k].last);
        if (!e && !(e = dl_buf_append_str(b, "]}")))
            e = line_end(b, st);
    }
    return e;
}

static enum dl_err put_meta_line(struct dl_buf *b, const struct meta *m)
{
    size_t st;
    enum dl_err e;
    if ((e = line_begin(b, &st)) || (e = dl_buf_append_str(b, "{\"t\":\"meta\"")) ||
        (e = put_name(b, "k", m->k)))
        return e;
    e = m->v ? put_name(b, "v", m->v) : dl_buf_append_str(b, ",\"v\":null");
    if (e || (e = dl_buf_append_byte(b, '}')))
        return e;
    return line_end(b, st);
}

static enum dl_err put_header(struct dl_buf *b, const char *identity)
{
    size_t st;
    enum dl_err e;
    if ((e = line_begin(b, &st)) ||
        (e = dl_buf_printf(b, "{\"t\":\"%s\",\"format\":%d", HEADER_TYPE, DL_JOURNAL_FORMAT)) ||
        (e = put_name(b, "identity", identity)) || (e = dl_buf_append_byte(b, '}')))
        return e;
    return line_end(b, st);
}

/* The end of a batch: its lines count only if this line is there too (see load). */
static enum dl_err put_commit(struct dl_journal *j, struct dl_buf *b)
{
    size_t st;
    enum dl_err e;
    if ((e = line_begin(b, &st)) ||
        (e = dl_buf_printf(b, "{\"t\":\"commit\",\"seq\":%llu}", (unsigned long long)++j->seq)))
        return e;
    return line_end(b, st);
}

/* What changed since the last snapshot, as lines ending with a commit line; clears the dirty
 * state (under mu). DONE parts are freed once their line is in b. On failure the state stays in
 * memory and the caller rewrites the whole file instead. */
static enum dl_err serialize_delta(struct dl_journal *j, struct dl_buf *b)
{
    enum dl_err e = DL_OK;
    size_t start = b->len;
    while (j->dirty) {
        struct part *p = j->dirty;
        j->dirty = p->dirty_next;
        p->dirty = false;
        p->dirty_next = NULL;
        if (e)
            continue; /* keep unlinking so the list stays consistent */
        if (p->done) {
            e = put_obj_line(b, "done", p, NULL, 0);
            part_free(j, p);
            continue;
        }
        if (p->reset_dirty)
            e = put_obj_line(b, "new", p, NULL, 0);
        if (!e && p->pending.n)
            e = put_ack_lines(b, p, &p->pending);
        if (!e && p->total_dirty)
            e = put_obj_line(b, "total", p, ",\"n\":%llu", p->total);
        p->reset_dirty = p->total_dirty = false;
        rs_free(&p->pending);
    }
    while (j->meta_dirty) {
        struct meta *m = j->meta_dirty;
        j->meta_dirty = m->dirty_next;
        m->dirty = false;
        m->dirty_next = NULL;
        if (!e)
            e = put_meta_line(b, m);
    }
    if (!e && b->len > start)
        e = put_commit(j, b);
    return e;
}

/* The whole live state (under mu), and everything marked clean. */
static enum dl_err serialize_full(struct dl_journal *j, struct dl_buf *b)
{
    enum dl_err e = put_header(b, j->identity);
    for (size_t i = 0; !e && i < j->meta_cap; i++)
        for (struct meta *m = j->meta_tab[i]; !e && m; m = m->next)
            if (m->v)
                e = put_meta_line(b, m);
    for (size_t i = 0; !e && i < j->tab_cap; i++) {
        struct ent *en = &j->tab[i];
        if (!en->used)
            continue;
        struct part *p = en->p;
        if (en->done) {
            if (p) {
                e = put_obj_line(b, "done", p, NULL, 0);
            } else { /* only the digests are left: the compact form */
                size_t st;
                if (!(e = line_begin(b, &st)) && !(e = dl_buf_append_str(b, "{\"t\":\"done\",\"sh\":\"")) &&
                    !(e = append_hex(b, en->sh, 16)) && !(e = dl_buf_append_str(b, "\",\"vh\":\"")) &&
                    !(e = append_hex(b, (const uint8_t *)&en->vh, 8)) && !(e = dl_buf_append_str(b, "\"}")))
                    e = line_end(b, st);
            }
            continue;
        }
        if (!p)
            continue;
        if (!p->acked.n && !p->has_total)
            e = put_obj_line(b, "new", p, NULL, 0);
        if (!e)
            e = put_ack_lines(b, p, &p->acked);
        if (!e && p->has_total)
            e = put_obj_line(b, "total", p, ",\"n\":%llu", p->total);
    }
    if (!e)
        e = put_commit(j, b);
    if (e)
        return e;
    /* everything is in b: nothing is dirty any more, and DONE parts are not needed */
    j->dirty = NULL;
    j->pending_lost = false;
    for (struct part *p = j->parts, *nx; p; p = nx) {
        nx = p->next;
        p->dirty = false;
        p->dirty_next = NULL;
        p->reset_dirty = p->total_dirty = false;
        rs_free(&p->pending);
        if (p->done)
            part_free(j, p);
    }
    while (j->meta_dirty) {
        struct meta *m = j->meta_dirty;
        j->meta_dirty = m->dirty_next;
        m->dirty = false;
        m->dirty_next = NULL;
    }
    return DL_OK;
}

/* Roughly how many bytes serialize_full would write (under mu). */
static uint64_t live_estimate(struct dl_journal *j)
{
    uint64_t n = j->header_len + j->n_done * DONE_LINE_EST;
    for (struct part *p = j->parts; p; p = p->next) {
        uint64_t names = strlen(p->src) + strlen(p->ver) + 48;
        n += (p->acked.n + ACK_CHUNK - 1) / ACK_CHUNK * names + p->acked.n * 20;
        n += p->has_total || !p->acked.n ? names + 16 : 0;
    }
    for (size_t i = 0; i < j->meta_cap; i++)
        for (struct meta *m = j->meta_tab[i]; m; m = m->next)
            if (m->v)
                n += strlen(m->k) + strlen(m->v) + 32;
    return n;
}

/* Replace the journal with content atomically: write "<path>.tmp", fsync, rename, fsync the
 * directory. On success *newfd is the new file, open for appending. */
static enum dl_err replace_file(struct dl_journal *j, const struct dl_buf *content, int *newfd,
                                char *err, size_t errlen)
{
    *newfd = -1;
    int fd = open(j->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
        fmt_err(err, errlen, "journal %s: cannot create %s: %s", j->path, j->tmp_path, strerror(errno));
        return DL_ERR_IO;
    }
    if (write_all(fd, content->data, content->len) || fsync(fd) != 0) {
        fmt_err(err, errlen, "journal %s: cannot write %s: %s", j->path, j->tmp_path, strerror(errno));
        close(fd);
        unlink(j->tmp_path);
        return DL_ERR_IO;
    }
    if (rename(j->tmp_path, j->path) != 0) {
        fmt_err(err, errlen, "journal %s: cannot rename %s over it: %s", j->path, j->tmp_path,
                strerror(errno));
        close(fd);
        unlink(j->tmp_path);
        return DL_ERR_IO;
    }
    if (fsync_dir(j->dir) != 0) {
        fmt_err(err, errlen, "journal %s: cannot sync directory %s: %s", j->path, j->dir, strerror(errno));
        close(fd);
        return DL_ERR_IO;
    }
    *newfd = fd;
    return DL_OK;
}

/* Rewrite the file from the live state; fmu held. */
static enum dl_err compact_locked(struct dl_journal *j)
{
    struct dl_buf b;
    dl_buf_init(&b, 0);
    pthread_mutex_lock(&j->mu);
    enum dl_err e = serialize_full(j, &b);
    pthread_mutex_unlock(&j->mu);
    if (e) {
        j->need_rewrite = true;
        set_err(j, "journal %s: cannot compact: %s", j->path, dl_err_str(e));
        goto out;
    }
    char msg[sizeof j->errmsg];
    int fd;
    e = replace_file(j, &b, &fd, msg, sizeof msg);
    if (e) {
        j->need_rewrite = true;
        set_err(j, "%s", msg);
        goto out;
    }
    if (j->fd >= 0)
        close(j->fd);
    j->fd = fd;
    j->file_bytes = j->compacted_bytes = b.len;
    j->need_rewrite = false;
    pthread_mutex_lock(&j->mu);
    j->st.compactions++;
    j->st.file_bytes = j->file_bytes;
    pthread_mutex_unlock(&j->mu);
out:
    dl_buf_free(&b);
    return e;
}

/* ------------------------------------------------------------------ loading */

/* Lines are parsed into ops as they are read and applied only when their batch's "commit" line
 * is read: a flush is all or nothing, whatever part of its write() reached the disk. */
enum op_type { OP_META, OP_DONE, OP_DONE_HASHED, OP_NEW, OP_ACK, OP_TOTAL };

struct op {
    struct op *next;
    enum op_type type;
    const char *a, *b; /* src + ver, or meta key + value (NULL: delete) */
    struct key k;      /* OP_DONE_HASHED */
    uint64_t n;        /* OP_TOTAL */
    struct dl_journal_range *r;
    size_t nr;
};

struct loader {
    struct dl_journal *j;
    struct dl_arena *line;  /* the JSON DOM of one line */
    struct dl_arena *batch; /* the ops of the batch being read */
    struct op *head, **tail;
    bool header_seen;
    char *err;
    size_t errlen;
    enum dl_err fatal; /* set for errors that stop the open (identity, format, memory) */
};

/* A name field: "field" (a JSON string) or "field_hex"; a NUL-terminated copy in the batch arena. */
static bool get_name(struct loader *L, const struct dl_json *obj, const char *field, size_t max,
                     const char **out)
{
    struct dl_cursor c;
    char hexname[32];
    if (dl_json_get_str(obj, field, &c)) {
        if (c.len > max || memchr(c.ptr, 0, c.len))
            return false;
        char *s = dl_arena_alloc(L->batch, c.len + 1);
        if (!s)
            return false;
        memcpy(s, c.ptr, c.len);
        s[c.len] = 0;
        *out = s;
        return true;
    }
    snprintf(hexname, sizeof hexname, "%s_hex", field);
    if (!dl_json_get_str(obj, hexname, &c) || c.len % 2 || c.len / 2 > max)
        return false;
    char *s = dl_arena_alloc(L->batch, c.len / 2 + 1);
    if (!s || !unhex(c, (uint8_t *)s, c.len / 2) || memchr(s, 0, c.len / 2))
        return false;
    s[c.len / 2] = 0;
    *out = s;
    return true;
}

static bool parse_u64(const struct dl_json *v, uint64_t *out)
{
    if (!v || v->type != DL_JSON_NUMBER || v->str.len == 0 || v->str.len > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v->str.len; i++) {
        uint8_t c = v->str.ptr[i];
        if (c < '0' || c > '9')
            return false;
        uint64_t d = (uint64_t)(c - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    *out = x;
    return true;
}

/* Printable excerpt of an identity for a message: control bytes become spaces. */
static void excerpt(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 4 < n && i < 200; i++)
        out[i] = (unsigned char)s[i] < 0x20 ? ' ' : s[i];
    if (s[i] && i + 4 <= n) {
        memcpy(out + i, "...", 3);
        i += 3;
    }
    out[i] = 0;
}

static bool check_header(struct loader *L, const struct dl_json *o, size_t len)
{
    struct dl_journal *j = L->j;
    struct dl_cursor t;
    uint64_t fmt;
    const char *id;
    if (!dl_json_get_str(o, "t", &t) || !dl_cursor_eq_str(t, HEADER_TYPE) ||
        !parse_u64(dl_json_get(o, "format"), &fmt))
        return false;
    L->header_seen = true;
    if (fmt > DL_JOURNAL_FORMAT || fmt == 0) {
        fmt_err(L->err, L->errlen,
                "journal %s has format %llu, this ddbload reads format %d: pass --restart to "
                "discard it, or --journal PATH to use another file", j->path,
                (unsigned long long)fmt, DL_JOURNAL_FORMAT);
        L->fatal = DL_ERR_UNSUPPORTED;
        return false;
    }
    if (!get_name(L, o, "identity", DL_JOURNAL_MAX_IDENTITY, &id))
        return false;
    if (strcmp(id, j->identity) != 0) {
        char ex[208];
        excerpt(id, ex, sizeof ex);
        fmt_err(L->err, L->errlen,
                "journal %s belongs to another command (%s): pass --restart to discard it, or "
                "--journal PATH to keep it and use another file", j->path, ex);
        L->fatal = DL_ERR_INVALID;
        return false;
    }
    j->header_len = len + 1;
    return true;
}

/* Apply one op to the state (no logging: it is already in the file). */
static enum dl_err op_apply(struct dl_journal *j, const struct op *op)
{
    struct part *pt;
    enum dl_err e;
    switch (op->type) {
    case OP_META:
        return meta_set(j, op->a, op->b, false);
    case OP_DONE_HASHED:
        return set_done_hashed(j, op->k.sh, op->k.vh);
    case OP_DONE: {
        struct key k;
        key_of(op->a, op->b, &k);
        return set_done_hashed(j, k.sh, k.vh);
    }
    default:
        break;
    }
    if ((e = part_for_update(j, op->a, op->b, false, &pt)) || !pt)
        return e; /* !pt: DONE already, an older line adds nothing */
    switch (op->type) {
    case OP_NEW:
        part_clear(pt);
        break;
    case OP_TOTAL:
        pt->total = op->n;
        pt->has_total = true;
        break;
    default:
        for (size_t i = 0; i < op->nr && !e; i++)
            e = rs_add(&pt->acked, op->r[i].first, op->r[i].last);
        break;
    }
    return e;
}

/* Parse one line into an op of the current batch, or apply the batch at a "commit" line.
 * false: the line is not valid (loading stops before it). */
static bool read_line(struct loader *L, const uint8_t *p, size_t len, bool *committed)
{
    *committed = false;
    if (len < 10 || p[8] != ' ')
        return false;
    uint32_t crc = 0;
    for (int i = 0; i < 8; i++) {
        int v = hexval(p[i]);
        if (v < 0)
            return false;
        crc = crc << 4 | (uint32_t)v;
    }
    if (crc32(0L, p + 9, (uInt)(len - 9)) != crc)
        return false;
    dl_arena_reset(L->line);
    struct dl_json *o;
    struct dl_pos_err pe;
    if (dl_json_parse_doc(L->line, p + 9, len - 9, &o, &pe) || o->type != DL_JSON_OBJECT)
        return false;
    if (!L->header_seen)
        return check_header(L, o, len);

    struct dl_cursor t;
    if (!dl_json_get_str(o, "t", &t))
        return false;
    if (dl_cursor_eq_str(t, "commit")) {
        for (struct op *op = L->head; op; op = op->next) {
            enum dl_err e = op_apply(L->j, op);
            if (e) {
                fmt_err(L->err, L->errlen, "journal %s: %s while loading", L->j->path, dl_err_str(e));
                L->fatal = e;
                return false;
            }
        }
        L->head = NULL;
        L->tail = &L->head;
        dl_arena_reset(L->batch);
        uint64_t seq;
        if (parse_u64(dl_json_get(o, "seq"), &seq) && seq > L->j->seq)
            L->j->seq = seq;
        *committed = true;
        return true;
    }
    struct op *op = dl_arena_alloc(L->batch, sizeof *op);
    if (!op)
        return false;
    memset(op, 0, sizeof *op);
    if (dl_cursor_eq_str(t, "meta")) {
        op->type = OP_META;
        const struct dl_json *vj = dl_json_get(o, "v");
        if (!get_name(L, o, "k", DL_JOURNAL_MAX_NAME, &op->a) ||
            (!(vj && vj->type == DL_JSON_NULL) && !get_name(L, o, "v", DL_JOURNAL_MAX_META_VALUE, &op->b)))
            return false;
    } else if (dl_cursor_eq_str(t, "done") && !dl_json_get(o, "src") && !dl_json_get(o, "src_hex")) {
        struct dl_cursor sh, vh;
        uint8_t v8[8];
        op->type = OP_DONE_HASHED;
        if (!dl_json_get_str(o, "sh", &sh) || !dl_json_get_str(o, "vh", &vh) || !unhex(sh, op->k.sh, 16) ||
            !unhex(vh, v8, 8))
            return false;
        memcpy(&op->k.vh, v8, 8);
    } else {
        if (dl_cursor_eq_str(t, "done"))
            op->type = OP_DONE;
        else if (dl_cursor_eq_str(t, "new"))
            op->type = OP_NEW;
        else if (dl_cursor_eq_str(t, "total"))
            op->type = OP_TOTAL;
        else if (dl_cursor_eq_str(t, "ack"))
            op->type = OP_ACK;
        else
            return false; /* a new line type needs a new format number */
        if (!get_name(L, o, "src", DL_JOURNAL_MAX_NAME, &op->a) ||
            !get_name(L, o, "ver", DL_JOURNAL_MAX_NAME, &op->b))
            return false;
        if (op->type == OP_TOTAL && (!parse_u64(dl_json_get(o, "n"), &op->n) || op->n == UINT64_MAX))
            return false;
        if (op->type == OP_ACK) {
            const struct dl_json *r = dl_json_get(o, "r");
            if (!r || r->type != DL_JSON_ARRAY || r->n == 0 || r->n > ACK_CHUNK)
                return false;
            op->r = dl_arena_alloc(L->batch, r->n * sizeof *op->r);
            if (!op->r)
                return false;
            for (const struct dl_json *x = r->child; x; x = x->next) {
                uint64_t a, b;
                if (x->type != DL_JSON_ARRAY || x->n != 2 || !parse_u64(x->child, &a) ||
                    !parse_u64(x->child->next, &b) || a == 0 || a > b || b == UINT64_MAX)
                    return false;
                op->r[op->nr].first = a;
                op->r[op->nr].last = b;
                op->nr++;
            }
        }
    }
    *L->tail = op;
    L->tail = &op->next;
    return true;
}

/* Read the journal from fd. *good_end is set to the end of the header or of the last commit line
 * before the first invalid line: what follows is a torn or uncommitted write. A missing or bad
 * header is an error unless the file is empty (*good_end = 0). */
static enum dl_err load(struct dl_journal *j, int fd, uint64_t *good_end, char *err, size_t errlen)
{
    struct loader L = { .j = j, .err = err, .errlen = errlen };
    L.tail = &L.head;
    struct dl_buf rb;
    dl_buf_init(&rb, LINE_MAX_BYTES + READ_CHUNK);
    enum dl_err e = DL_OK;
    uint64_t base = 0; /* file offset of rb.data[0] */
    bool stop = false, eof = false;
    *good_end = 0;
    L.line = dl_arena_new(0, 0);
    L.batch = dl_arena_new(0, 0);
    if (!L.line || !L.batch) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    while (!stop && !eof) {
        if ((e = dl_buf_reserve(&rb, READ_CHUNK)))
            goto out;
        ssize_t r = read(fd, rb.data + rb.len, READ_CHUNK);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fmt_err(err, errlen, "journal %s: cannot read: %s", j->path, strerror(errno));
            e = DL_ERR_IO;
            goto out;
        }
        if (r == 0)
            eof = true;
        rb.len += (size_t)r;
        size_t pos = 0;
        while (!stop) {
            uint8_t *nl = memchr(rb.data + pos, '\n', rb.len - pos);
            if (!nl)
                break;
            size_t ll = (size_t)(nl - (rb.data + pos));
            bool header = !L.header_seen, committed;
            if (read_line(&L, rb.data + pos, ll, &committed)) {
                j->st.loaded_lines++;
                pos += ll + 1;
                if (header || committed)
                    *good_end = base + pos;
            } else {
                stop = true;
            }
        }
        if (L.fatal) {
            e = L.fatal;
            goto out;
        }
        memmove(rb.data, rb.data + pos, rb.len - pos);
        rb.len -= pos;
        base += pos;
        if (rb.len > LINE_MAX_BYTES)
            stop = true; /* no line we write is this long */
    }
    if (!L.header_seen && (base + rb.len > 0 || stop)) {
        fmt_err(err, errlen,
                "%s is not a ddbload journal (or its header is damaged): pass --restart to overwrite "
                "it, or --journal PATH to use another file", j->path);
        e = DL_ERR_INVALID;
        goto out;
    }
out:
    if (L.line)
        dl_arena_destroy(L.line);
    if (L.batch)
        dl_arena_destroy(L.batch);
    dl_buf_free(&rb);
    return e;
}

/* ------------------------------------------------------------------ public API */

enum dl_err dl_journal_path_for(const char *dir, const char *identity, struct dl_buf *out)
{
    uint8_t d[32];
    sha256(identity, strlen(identity), d);
    dl_buf_reset(out);
    enum dl_err e = dl_buf_printf(out, "%s/", dir && *dir ? dir : DL_JOURNAL_DEFAULT_DIR);
    if (!e)
        e = append_hex(out, d, 8);
    if (!e)
        e = dl_buf_append_str(out, ".journal");
    return e;
}

static void journal_free(struct dl_journal *j)
{
    if (!j)
        return;
    while (j->parts)
        part_free(j, j->parts);
    free(j->tab);
    for (size_t i = 0; i < j->meta_cap; i++) {
        for (struct meta *m = j->meta_tab[i], *nx; m; m = nx) {
            nx = m->next;
            free(m->k);
            free(m->v);
            free(m);
        }
    }
    free(j->meta_tab);
    if (j->fd >= 0)
        close(j->fd);
    if (j->lock_fd >= 0)
        close(j->lock_fd); /* releases the flock */
    dl_buf_free(&j->wbuf);
    pthread_mutex_destroy(&j->mu);
    pthread_mutex_destroy(&j->fmu);
    free(j->path);
    free(j->tmp_path);
    free(j->dir);
    free(j->identity);
    free(j);
}

enum dl_err dl_journal_open(const char *path, const char *identity, bool restart,
                            struct dl_journal **out, char *err, size_t errlen)
{
    enum dl_err e = DL_OK;
    struct dl_journal *j = NULL;
    char *lock_path = NULL;
    struct dl_buf hb;
    dl_buf_init(&hb, 0);
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    if (!path || !*path || !identity) {
        fmt_err(err, errlen, "journal: no path or identity");
        return DL_ERR_INVALID;
    }
    if (strlen(identity) > DL_JOURNAL_MAX_IDENTITY) {
        fmt_err(err, errlen, "journal: the command's identity is longer than %u bytes", DL_JOURNAL_MAX_IDENTITY);
        return DL_ERR_TOO_LARGE;
    }
    j = calloc(1, sizeof *j);
    if (!j)
        return DL_ERR_NOMEM;
    j->fd = j->lock_fd = -1;
    pthread_mutex_init(&j->mu, NULL);
    pthread_mutex_init(&j->fmu, NULL);
    dl_buf_init(&j->wbuf, 0);
    j->compact_min = (size_t)1 << 20;
    j->compact_ratio = 4;
    size_t pl = strlen(path);
    j->path = xstrdup(path);
    j->identity = xstrdup(identity);
    j->tmp_path = malloc(pl + 5);
    lock_path = malloc(pl + 6);
    j->dir = xstrdup(path);
    if (!j->path || !j->identity || !j->tmp_path || !lock_path || !j->dir) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    memcpy(j->tmp_path, path, pl);
    memcpy(j->tmp_path + pl, ".tmp", 5);
    memcpy(lock_path, path, pl);
    memcpy(lock_path + pl, ".lock", 6);
    char *slash = strrchr(j->dir, '/');
    if (!slash)
        strcpy(j->dir, ".");
    else if (slash == j->dir)
        j->dir[1] = 0;
    else
        *slash = 0;

    if (mkdirs(j->dir) != 0) {
        fmt_err(err, errlen, "journal %s: cannot create directory %s: %s", path, j->dir, strerror(errno));
        e = DL_ERR_IO;
        goto out;
    }
    j->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (j->lock_fd < 0) {
        fmt_err(err, errlen, "journal %s: cannot open %s: %s", path, lock_path, strerror(errno));
        e = DL_ERR_IO;
        goto out;
    }
    if (flock(j->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            fmt_err(err, errlen, "journal %s is in use by another ddbload process: wait for it, or "
                    "pass --journal PATH to use another file", path);
        else
            fmt_err(err, errlen, "journal %s: cannot lock %s: %s", path, lock_path, strerror(errno));
        e = errno == EWOULDBLOCK ? DL_ERR_INVALID : DL_ERR_IO;
        goto out;
    }

    struct stat sb;
    bool fresh = restart;
    if (!fresh && stat(path, &sb) != 0) {
        if (errno != ENOENT) {
            fmt_err(err, errlen, "journal %s: %s", path, strerror(errno));
            e = DL_ERR_IO;
            goto out;
        }
        fresh = true;
    }
    if (!fresh) {
        j->fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
        if (j->fd < 0) {
            fmt_err(err, errlen, "journal %s: cannot open: %s", path, strerror(errno));
            e = DL_ERR_IO;
            goto out;
        }
        uint64_t good_end;
        if ((e = load(j, j->fd, &good_end, err, errlen)))
            goto out;
        if (fstat(j->fd, &sb) != 0) {
            fmt_err(err, errlen, "journal %s: %s", path, strerror(errno));
            e = DL_ERR_IO;
            goto out;
        }
        if (good_end == 0) { /* an empty file: start it */
            close(j->fd);
            j->fd = -1;
            fresh = true;
        } else {
            if ((uint64_t)sb.st_size > good_end) {
                /* A torn (or damaged) tail: cut it off, so that the next append does not glue a
                 * valid line onto garbage. Everything before it is intact and consistent. */
                if (ftruncate(j->fd, (off_t)good_end) != 0 || fsync(j->fd) != 0) {
                    fmt_err(err, errlen, "journal %s: cannot cut off a torn last write: %s", path,
                            strerror(errno));
                    e = DL_ERR_IO;
                    goto out;
                }
                j->st.torn_bytes = (uint64_t)sb.st_size - good_end;
            }
            j->file_bytes = good_end;
            /* A torn tail may have lost a "done" line whose acks survived. */
            for (struct part *p = j->parts, *nx; p; p = nx) {
                nx = p->next;
                if (covers_total(p))
                    mark_done(j, p, true);
            }
        }
    }
    if (fresh) {
        while (j->parts)
            part_free(j, j->parts);
        if ((e = put_header(&hb, identity)))
            goto out;
        if ((e = replace_file(j, &hb, &j->fd, err, errlen)))
            goto out;
        j->header_len = hb.len;
        j->file_bytes = j->compacted_bytes = hb.len;
    }
    j->st.file_bytes = j->file_bytes;
    *out = j;
    j = NULL;
out:
    dl_buf_free(&hb);
    free(lock_path);
    journal_free(j);
    return e;
}

enum dl_journal_state dl_journal_object_state(struct dl_journal *j, const char *source, const char *version)
{
    struct key k;
    key_of(source, version, &k);
    enum dl_journal_state s = DL_JOURNAL_NEW;
    pthread_mutex_lock(&j->mu);
    struct ent *e = ent_find(j, k.sh);
    if (e) {
        if (e->vh != k.vh)
            s = DL_JOURNAL_CHANGED;
        else if (e->done)
            s = DL_JOURNAL_DONE;
        else if (e->p && e->p->acked.n)
            s = DL_JOURNAL_PARTIAL;
    }
    pthread_mutex_unlock(&j->mu);
    return s;
}

/* The entry for (source, version) if the journal holds that version; under mu. */
static struct ent *lookup_exact(struct dl_journal *j, const char *source, const char *version)
{
    struct part *c = j->cache;
    struct key k;
    if (c && strcmp(c->src, source) == 0 && strcmp(c->ver, version) == 0) {
        memcpy(k.sh, c->sh, 16);
        k.vh = c->vh;
    } else {
        key_of(source, version, &k);
    }
    struct ent *e = ent_find(j, k.sh);
    return e && e->vh == k.vh ? e : NULL;
}

bool dl_journal_record_done(struct dl_journal *j, const char *source, const char *version, uint64_t record_no)
{
    bool r = false;
    pthread_mutex_lock(&j->mu);
    struct ent *e = lookup_exact(j, source, version);
    if (e) {
        if (e->done)
            r = true;
        else if (e->p) {
            r = rs_has(&e->p->acked, record_no);
            j->cache = e->p;
        }
    }
    pthread_mutex_unlock(&j->mu);
    return r;
}

enum dl_err dl_journal_acked_ranges(struct dl_journal *j, const char *source, const char *version,
                                    struct dl_journal_ranges *out)
{
    enum dl_err err = DL_OK;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&j->mu);
    struct ent *e = lookup_exact(j, source, version);
    if (e && e->done) {
        out->all = true;
    } else if (e && e->p) {
        struct part *p = e->p;
        out->total = p->has_total ? p->total : 0;
        if (p->acked.n) {
            out->v = malloc(p->acked.n * sizeof *out->v);
            if (!out->v)
                err = DL_ERR_NOMEM;
            else {
                memcpy(out->v, p->acked.v, p->acked.n * sizeof *out->v);
                out->n = p->acked.n;
            }
        }
    }
    pthread_mutex_unlock(&j->mu);
    return err;
}

bool dl_journal_ranges_has(struct dl_journal_ranges *r, uint64_t x)
{
    if (r->all)
        return true;
    if (!r->n)
        return false;
    size_t h = r->hint < r->n ? r->hint : 0;
    size_t i;
    if (r->v[h].first <= x) {
        if (x <= r->v[h].last)
            return true;
        if (h + 1 == r->n || x < r->v[h + 1].first)
            return false;
        i = rs_upper(r->v, h + 1, r->n, x); /* x >= v[h+1].first, so i >= h + 2 */
    } else {
        i = rs_upper(r->v, 0, h, x);
        if (i == 0) {
            r->hint = 0;
            return false;
        }
    }
    r->hint = i - 1;
    return x <= r->v[i - 1].last;
}

enum dl_err dl_journal_ranges_format(const struct dl_journal_ranges *r, struct dl_buf *out)
{
    if (r->all)
        return dl_buf_append_str(out, "all");
    enum dl_err e = DL_OK;
    for (size_t i = 0; i < r->n && !e; i++) {
        if (r->v[i].first == r->v[i].last)
            e = dl_buf_printf(out, "%s%llu", i ? "," : "", (unsigned long long)r->v[i].first);
        else
            e = dl_buf_printf(out, "%s%llu-%llu", i ? "," : "", (unsigned long long)r->v[i].first,
                              (unsigned long long)r->v[i].last);
    }
    return e;
}

void dl_journal_ranges_free(struct dl_journal_ranges *r)
{
    free(r->v);
    memset(r, 0, sizeof *r);
}

static bool names_ok(const char *source, const char *version)
{
    return source && version && strlen(source) <= DL_JOURNAL_MAX_NAME && strlen(version) <= DL_JOURNAL_MAX_NAME;
}

enum dl_err dl_journal_ack(struct dl_journal *j, const char *source, const char *version,
                           uint64_t first_record, uint64_t last_record)
{
    if (!names_ok(source, version) || first_record == 0 || first_record > last_record ||
        last_record == UINT64_MAX)
        return DL_ERR_INVALID;
    pthread_mutex_lock(&j->mu);
    struct part *p;
    enum dl_err e = part_for_update(j, source, version, true, &p);
    if (e || !p)
        goto out;
    if ((e = rs_add(&p->acked, first_record, last_record)))
        goto out;
    /* pending mirrors acked: if it cannot grow, the next flush rewrites everything instead */
    if (rs_add(&p->pending, first_record, last_record) != DL_OK) {
        rs_free(&p->pending);
        j->pending_lost = true;
    }
    mark_dirty(j, p);
    if (covers_total(p))
        mark_done(j, p, true);
out:
    pthread_mutex_unlock(&j->mu);
    return e;
}

enum dl_err dl_journal_object_complete(struct dl_journal *j, const char *source, const char *version,
                                       uint64_t total_records)
{
    if (!names_ok(source, version) || total_records == UINT64_MAX)
        return DL_ERR_INVALID;
    pthread_mutex_lock(&j->mu);
    struct part *p;
    enum dl_err e = part_for_update(j, source, version, true, &p);
    if (!e && p) {
        if (!p->has_total || p->total != total_records) {
            p->total = total_records;
            p->has_total = true;
            p->total_dirty = true;
            mark_dirty(j, p);
        }
        if (covers_total(p))
            mark_done(j, p, true);
    }
    pthread_mutex_unlock(&j->mu);
    return e;
}

enum dl_err dl_journal_put_meta(struct dl_journal *j, const char *key, const char *value)
{
    if (!key || strlen(key) > DL_JOURNAL_MAX_NAME || (value && strlen(value) > DL_JOURNAL_MAX_META_VALUE))
        return DL_ERR_INVALID;
    pthread_mutex_lock(&j->mu);
    enum dl_err e = meta_set(j, key, value, true);
    pthread_mutex_unlock(&j->mu);
    return e;
}

enum dl_err dl_journal_get_meta(struct dl_journal *j, const char *key, struct dl_buf *out)
{
    dl_buf_reset(out);
    pthread_mutex_lock(&j->mu);
    struct meta *m = meta_find(j, key);
    enum dl_err e = m && m->v ? dl_buf_append_str(out, m->v) : DL_ERR_NOT_FOUND;
    pthread_mutex_unlock(&j->mu);
    return e;
}

enum dl_err dl_journal_flush(struct dl_journal *j)
{
    enum dl_err e = DL_OK;
    pthread_mutex_lock(&j->fmu);
    if (j->need_rewrite) {
        e = compact_locked(j);
        goto out;
    }
    pthread_mutex_lock(&j->mu);
    if (j->pending_lost) {
        pthread_mutex_unlock(&j->mu);
        e = compact_locked(j);
        goto out;
    }
    if (!j->dirty && !j->meta_dirty) {
        pthread_mutex_unlock(&j->mu);
        goto out;
    }
    dl_buf_reset(&j->wbuf);
    e = serialize_delta(j, &j->wbuf);
    pthread_mutex_unlock(&j->mu);
    if (e) {
        e = compact_locked(j); /* the state is whole in memory: write all of it */
        goto out;
    }
    if (write_all(j->fd, j->wbuf.data, j->wbuf.len) != DL_OK || fsync(j->fd) != 0) {
        int en = errno;
        /* Cut off what may have been half written; either way the next flush replaces the file
         * from memory rather than appending after a possibly torn line. */
        if (ftruncate(j->fd, (off_t)j->file_bytes) != 0) {
            /* nothing more to do: need_rewrite covers it */
        }
        j->need_rewrite = true;
        set_err(j, "journal %s: cannot write: %s", j->path, strerror(en));
        e = DL_ERR_IO;
        goto out;
    }
    j->file_bytes += j->wbuf.len;
    if (j->wbuf.alloc > ((size_t)4 << 20))
        dl_buf_free(&j->wbuf); /* don't keep a big buffer from a burst */
    pthread_mutex_lock(&j->mu);
    j->st.flushes++;
    j->st.file_bytes = j->file_bytes;
    /* Past ratio x the live state, and at least as many bytes appended since the last rewrite as
     * it wrote (so rewriting costs O(1) per appended byte even if the estimate is off). */
    bool compact = j->file_bytes > j->compact_min && j->file_bytes > j->compact_ratio * live_estimate(j) &&
                   j->file_bytes >= 2 * j->compacted_bytes;
    pthread_mutex_unlock(&j->mu);
    if (compact)
        e = compact_locked(j);
out:
    pthread_mutex_unlock(&j->fmu);
    return e;
}

enum dl_err dl_journal_compact(struct dl_journal *j)
{
    pthread_mutex_lock(&j->fmu);
    enum dl_err e = compact_locked(j);
    pthread_mutex_unlock(&j->fmu);
    return e;
}

void dl_journal_set_compaction(struct dl_journal *j, size_t min_bytes, unsigned ratio)
{
    pthread_mutex_lock(&j->fmu);
    j->compact_min = min_bytes;
    j->compact_ratio = ratio < 2 ? 2 : ratio;
    pthread_mutex_unlock(&j->fmu);
}

bool dl_journal_error(struct dl_journal *j, char *buf, size_t n)
{
    pthread_mutex_lock(&j->mu);
    bool has = j->has_err;
    if (n)
        snprintf(buf, n, "%s", has ? j->errmsg : "");
    pthread_mutex_unlock(&j->mu);
    return has;
}

void dl_journal_stats_get(struct dl_journal *j, struct dl_journal_stats *out)
{
    pthread_mutex_lock(&j->mu);
    *out = j->st;
    out->objects_done = j->n_done;
    out->objects_partial = j->n_partial;
    out->meta_keys = j->n_meta;
    pthread_mutex_unlock(&j->mu);
}

const char *dl_journal_path(const struct dl_journal *j)
{
    return j->path;
}

enum dl_err dl_journal_close(struct dl_journal *j)
{
    if (!j)
        return DL_OK;
    enum dl_err e = dl_journal_flush(j);
    journal_free(j);
    return e;
}
