/* Media side-load. Threads: the decoding thread calls the public functions; the network
 * thread runs the upload callbacks. Everything the callbacks touch (the ready list, the
 * counters, a file's upload state) is under m->mu; the per-zip tables (names, files, report
 * lines) belong to the decoding thread, which reads a file's outcome only after it has waited
 * for it under the lock (dl_media_wait; attach in deferred mode).
 *
 * Files are matched to names in one of two ways (media.h): names noted first, and every upload
 * starts in dl_media_add; or deferred, the files kept in one spill per zip and uploaded by
 * dl_media_attach once their item's name is known.
 *
 * One file's uploads: HEAD (already there with the same ETag? done) -> PUT, or
 * CreateMultipartUpload -> UploadPart x N (in parallel) -> CompleteMultipartUpload, with
 * AbortMultipartUpload once a started multipart upload has failed and its parts are back. */
#include "media/media.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/json.h"
#include "core/spill.h"
#include "s3/s3.h"

#define DEFAULT_PART ((size_t)8 << 20)
#define MIN_PART ((size_t)5 << 20)           /* S3's minimum for every part but the last */
#define MAX_PART ((uint64_t)5 << 30)         /* and its maximum, also that of one PUT */
#define MAX_PARTS 10000
#define MAX_KEY 1024                         /* S3 key, bytes */
#define IN_MEMORY_MAX ((size_t)1 << 20)      /* larger files wait in a temporary file */
#define PENDING_PER_SLOT 4                   /* files waiting per parallel upload slot */
#define NAMES_CAP ((size_t)256 << 20)        /* names of one zip */
#define REPORT_LINES 20                      /* per kind and zip; the rest is counted */
#define ZIP_SPILL_MEM ((size_t)64 << 20)     /* deferred files past this go to a temp file */
#define META_SHA256 "ddbload-sha256"

enum step { ST_HEAD, ST_PUT, ST_CREATE, ST_PART, ST_COMPLETE, ST_ABORT };
enum outcome { OUT_PENDING, OUT_UPLOADED, OUT_PRESENT, OUT_FAILED, OUT_DRY };
enum phase { PH_NONE, PH_NAMES, PH_FILES, PH_ATTACH };

struct part {
    struct dl_s3_part s3;   /* number and the ETag S3 answered */
    unsigned char md5[16];
    char sha256[65];
};

struct mfile {
    int rule;
    char *entry;            /* zip entry, for messages */
    char *name;             /* file name inside its folder */
    char *key;              /* destination key */
    char *uri;              /* s3://bucket/key */
    const char *ctype;
    uint64_t size;
    char md5_hex[33];
    char mp_etag[48];       /* "<md5 of part md5s>-N" for a multipart upload, else "" */
    char sha256[65];
    char content_md5[32];   /* base64, for a single PUT */
    size_t part_size;
    int nparts;             /* 0: one PUT */
    struct part *parts;
    struct dl_spill data;   /* the copy being uploaded (empty for a deferred file's upload) */
    struct dl_cursor bytes;
    uint64_t off;           /* deferred: where the bytes are in the zip's spill */
    char *owner;            /* deferred source: the first name that took it */
    const struct mfile *src;/* deferred upload: its source */
    bool reported;
    /* ---- under m->mu ---- */
    enum step next;
    int sent_parts;
    int ok_parts;
    int out;                /* requests in flight */
    bool queued;
    bool failing;
    bool abort_sent;
    char upload_id[512];
    struct mfile *qnext;
    enum outcome outcome;
    enum dl_err code;
    char err[700];
};

struct reqctx {
    struct dl_media *m;
    struct mfile *f;
    enum step step;
    int part;
};

/* The match values of a zip's items (spaces already '_'), with the files each one takes. */
struct name_ent {
    char *k;                /* NULL: free slot */
    size_t len;
    uint64_t hash;
    struct mfile **files;
    size_t nfiles, alloc;
    bool sorted;
};

struct names {
    struct name_ent *slots;
    size_t cap, count, bytes;
};

/* Report lines of one kind for one zip: the first REPORT_LINES, then a count. */
struct lines {
    char *text[REPORT_LINES];
    size_t n;
    uint64_t total;
};

struct dl_media {
    struct dl_media_opts o;
    struct dl_media_rule *rules;
    char *bucket;
    char *prefix;           /* without a trailing '/', may be "" */
    int max_pending;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* ---- under mu ---- */
    struct mfile *ready_head, *ready_tail;
    int inflight;
    int pending;            /* files not finished */
    bool stopping;
    struct dl_media_stats st;

    /* ---- decoding thread ---- */
    enum phase phase;
    char *zip;
    struct dl_media_stats at_start; /* counters when this zip started, for its summary */
    struct names names;     /* noted names; in deferred mode, the names attached so far */
    struct mfile **files;   /* this zip's uploads (or dry runs) */
    size_t nfiles, falloc;
    /* deferred mode (no names were noted before the zip's files): the files wait in one spill
     * and each upload starts when the item that takes the file is attached */
    bool deferred;
    struct dl_spill zspill;
    struct dl_cursor zview;
    bool zviewed;
    struct mfile **srcs;    /* the files, as sources */
    size_t nsrcs, salloc;
    struct names cands;     /* every name a source could belong to -> the sources */
    struct lines unmatched, without, present, failed;
    struct dl_arena *arena;
    struct dl_buf wire;
    struct dl_buf k;
};

/* ------------------------------------------------------------------------------------ */
/* small helpers                                                                         */

static void say(struct dl_media *m, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct dl_media *m, int level, const char *fmt, ...)
{
    if (!m->o.log)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    m->o.log(m->o.log_ctx, level, msg);
}

/* The zip, for messages ("media" before any is named). */
static const char *where(const struct dl_media *m)
{
    return m->zip && *m->zip ? m->zip : "media";
}

static void lines_add(struct lines *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lines_add(struct lines *l, const char *fmt, ...)
{
    l->total++;
    if (l->n == REPORT_LINES)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char *t = strdup(msg);
    if (t)
        l->text[l->n++] = t; /* out of memory: the line is lost, the count is not */
}

/* Log the lines, then "... and N more <what>" for those not kept. */
static void lines_flush(struct dl_media *m, struct lines *l, int level, const char *what)
{
    for (size_t i = 0; i < l->n; i++) {
        say(m, level, "%s", l->text[i]);
        free(l->text[i]);
    }
    if (l->total > l->n)
        say(m, level, "%s: ... and %llu more %s", where(m),
            (unsigned long long)(l->total - l->n), what);
    memset(l, 0, sizeof *l);
}

static void lines_drop(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->text[i]);
    memset(l, 0, sizeof *l);
}

static void hex(const unsigned char *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

static const char *content_type(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { "jpg", "image/jpeg" }, { "jpeg", "image/jpeg" }, { "png", "image/png" },
        { "gif", "image/gif" }, { "webp", "image/webp" }, { "avif", "image/avif" },
        { "svg", "image/svg+xml" }, { "bmp", "image/bmp" }, { "tif", "image/tiff" },
        { "tiff", "image/tiff" }, { "heic", "image/heic" }, { "ico", "image/vnd.microsoft.icon" },
        { "mp4", "video/mp4" }, { "m4v", "video/mp4" }, { "mov", "video/quicktime" },
        { "webm", "video/webm" }, { "mkv", "video/x-matroska" }, { "avi", "video/x-msvideo" },
        { "mpg", "video/mpeg" }, { "mpeg", "video/mpeg" }, { "mp3", "audio/mpeg" },
        { "m4a", "audio/mp4" }, { "wav", "audio/wav" }, { "ogg", "audio/ogg" },
        { "flac", "audio/flac" }, { "pdf", "application/pdf" }, { "json", "application/json" },
        { "xml", "application/xml" }, { "zip", "application/zip" }, { "txt", "text/plain" },
        { "csv", "text/csv" }, { "html", "text/html" }, { "htm", "text/html" },
        { "vtt", "text/vtt" }, { "srt", "application/x-subrip" },
    };
    const char *dot = strrchr(name, '.');
    if (dot && dot != name)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

/* "x.tar.gz" -> "x.tar"; a name without '.' (or only a leading one) is its own stem. */
static size_t stem_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name ? (size_t)(dot - name) : strlen(name);
}

/* The match value as it appears in file names: every space becomes '_'. */
static enum dl_err name_key(struct dl_cursor value, struct dl_buf *out)
{
    dl_buf_reset(out);
    enum dl_err e = dl_buf_append_cur(out, value);
    for (size_t i = 0; !e && i < out->len; i++)
        if (out->data[i] == ' ')
            out->data[i] = '_';
    return e;
}

/* ------------------------------------------------------------------------------------ */
/* names                                                                                 */

static uint64_t hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static struct name_ent *names_slot(const struct names *t, const void *k, size_t len, uint64_t h)
{
    size_t mask = t->cap - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct name_ent *s = &t->slots[i];
        if (!s->k || (s->hash == h && s->len == len && memcmp(s->k, k, len) == 0))
            return s;
    }
}

static struct name_ent *names_find(const struct names *t, const void *k, size_t len)
{
    if (!t->count)
        return NULL;
    struct name_ent *s = names_slot(t, k, len, hash_bytes(k, len));
    return s->k ? s : NULL;
}

static enum dl_err names_add(struct names *t, const void *k, size_t len)
{
    uint64_t h = hash_bytes(k, len);
    if (t->cap && names_slot(t, k, len, h)->k)
        return DL_OK;
    if (t->bytes + len + sizeof(struct name_ent) * 2 > NAMES_CAP)
        return DL_ERR_TOO_LARGE;
    if ((t->count + 1) * 2 > t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        struct name_ent *ns = calloc(ncap, sizeof *ns);
        if (!ns)
            return DL_ERR_NOMEM;
        struct names grown = { ns, ncap, t->count, t->bytes };
        for (size_t i = 0; i < t->cap; i++)
            if (t->slots[i].k)
                *names_slot(&grown, t->slots[i].k, t->slots[i].len, t->slots[i].hash) =
                    t->slots[i];
        free(t->slots);
        *t = grown;
    }
    struct name_ent *s = names_slot(t, k, len, h);
    s->k = malloc(len + 1);
    if (!s->k)
        return DL_ERR_NOMEM;
    memcpy(s->k, k, len);
    s->k[len] = 0;
    s->len = len;
    s->hash = h;
    t->count++;
    t->bytes += len + sizeof(struct name_ent) * 2;
    return DL_OK;
}

static void names_free(struct names *t)
{
    for (size_t i = 0; i < t->cap; i++) {
        free(t->slots[i].k);
        free(t->slots[i].files);
    }
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static enum dl_err ent_push(struct name_ent *n, struct mfile *f)
{
    if (n->nfiles == n->alloc) {
        size_t na = n->alloc ? n->alloc * 2 : 4;
        struct mfile **p = realloc(n->files, na * sizeof *p);
        if (!p)
            return DL_ERR_NOMEM;
        n->files = p;
        n->alloc = na;
    }
    n->files[n->nfiles++] = f;
    n->sorted = false;
    return DL_OK;
}

/* The longest known name that takes a file with this stem: the stem itself, or the part of it
 * before one of its '_'. "Spider-Man_2_alt" tries "Spider-Man_2_alt", "Spider-Man_2", then
 * "Spider-Man", so "Spider-Man 2" wins over "Spider-Man" when both are items. */
static struct name_ent *owner_of(const struct names *t, const char *stem, size_t len)
{
    struct name_ent *n = names_find(t, stem, len);
    for (size_t p = len; !n && p-- > 1;)
        if (stem[p] == '_')
            n = names_find(t, stem, p);
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* set-up                                                                                */

static bool bad_component(const char *s)
{
    return !*s || strchr(s, '/') || strcmp(s, ".") == 0 || strcmp(s, "..") == 0;
}

enum dl_err dl_media_new(const struct dl_media_opts *opts, struct dl_media **out, char *err,
                         size_t errlen)
{
    enum dl_err e = DL_ERR_INVALID;
    struct dl_media *m = NULL;
    *out = NULL;
    if (errlen)
        err[0] = 0;
    const char *dest = opts->dest ? opts->dest : "";
    if (strncmp(dest, "s3://", 5) != 0 || dest[5] == 0 || dest[5] == '/') {
        snprintf(err, errlen, "--media-bucket '%s': expected s3://bucket or s3://bucket/prefix",
                 dest);
        goto out;
    }
    if (!opts->match_attr || !*opts->match_attr) {
        snprintf(err, errlen, "--media-match: the attribute that names the files is missing");
        goto out;
    }
    if (opts->nrules == 0) {
        snprintf(err, errlen, "--media: no FOLDER=ATTRIBUTE rule");
        goto out;
    }
    for (size_t i = 0; i < opts->nrules; i++) {
        const struct dl_media_rule *r = &opts->rules[i];
        if (!r->folder || bad_component(r->folder) || !r->attr || !*r->attr) {
            snprintf(err, errlen, "--media '%s=%s': expected FOLDER=ATTRIBUTE with a folder "
                     "name (no '/') and an attribute name", r->folder ? r->folder : "",
                     r->attr ? r->attr : "");
            goto out;
        }
        if (strcmp(r->attr, opts->match_attr) == 0) {
            snprintf(err, errlen, "--media '%s=%s': the attribute is the one files are matched "
                     "by (--media-match)", r->folder, r->attr);
            goto out;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(opts->rules[j].folder, r->folder) == 0 ||
                strcmp(opts->rules[j].attr, r->attr) == 0) {
                snprintf(err, errlen, "--media '%s=%s': folder or attribute given twice",
                         r->folder, r->attr);
                goto out;
            }
        }
    }
    size_t part = opts->part_size ? opts->part_size : DEFAULT_PART;
    if (part < MIN_PART || (uint64_t)part > MAX_PART) {
        snprintf(err, errlen, "media part size %zu: S3 takes parts of 5 MiB to 5 GiB", part);
        goto out;
    }
    if (!opts->dry_run && (!opts->cfg || !opts->net)) {
        snprintf(err, errlen, "media upload without AWS settings or network");
        goto out;
    }

    e = DL_ERR_NOMEM;
    if (!(m = calloc(1, sizeof *m)))
        goto out;
    dl_spill_init(&m->zspill, ZIP_SPILL_MEM, 0);
    m->o = *opts;
    m->o.part_size = part;
    m->o.max_parallel = opts->max_parallel > 0 ? opts->max_parallel : 8;
    m->max_pending = PENDING_PER_SLOT * m->o.max_parallel;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    dl_buf_init(&m->wire, DL_ITEM_WIRE_CAP);
    dl_buf_init(&m->k, DL_ITEM_MAX_SIZE);
    const char *b = dest + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    m->bucket = strndup(b, blen);
    const char *p = slash ? slash + 1 : "";
    size_t plen = strlen(p);
    while (plen && p[plen - 1] == '/')
        plen--;
    m->prefix = strndup(p, plen);
    m->o.match_attr = strdup(opts->match_attr);
    m->rules = calloc(opts->nrules, sizeof *m->rules);
    m->arena = dl_arena_new(0, (size_t)64 << 20);
    if (!m->bucket || !m->prefix || !m->o.match_attr || !m->rules || !m->arena)
        goto out;
    m->o.rules = m->rules;
    m->o.dest = NULL; /* not kept: bucket and prefix are */
    for (size_t i = 0; i < opts->nrules; i++) {
        m->rules[i].folder = strdup(opts->rules[i].folder);
        m->rules[i].attr = strdup(opts->rules[i].attr);
        if (!m->rules[i].folder || !m->rules[i].attr)
            goto out;
    }
    e = DL_OK;
    *out = m;
out:
    if (e == DL_ERR_NOMEM)
        snprintf(err, errlen, "out of memory");
    if (e && m) {
        m->o.nrules = opts->nrules;
        dl_media_destroy(m);
    }
    return e;
}

/* ------------------------------------------------------------------------------------ */
/* uploads (under m->mu; called from both threads)                                        */

static void req_done(struct dl_http_req *r, void *ctx);

static void enqueue(struct dl_media *m, struct mfile *f)
{
    if (f->queued)
        return;
    f->queued = true;
    f->qnext = NULL;
    if (m->ready_tail)
        m->ready_tail->qnext = f;
    else
        m->ready_head = f;
    m->ready_tail = f;
}

static struct mfile *dequeue(struct dl_media *m)
{
    struct mfile *f = m->ready_head;
    if (f) {
        m->ready_head = f->qnext;
        if (!m->ready_head)
            m->ready_tail = NULL;
        f->queued = false;
        f->qnext = NULL;
    }
    return f;
}

static void finish(struct dl_media *m, struct mfile *f, enum outcome oc)
{
    f->outcome = oc;
    m->pending--;
    if (oc == OUT_UPLOADED) {
        m->st.uploaded++;
        m->st.upload_bytes += f->size;
    } else if (oc == OUT_PRESENT) {
        m->st.already_present++;
    } else {
        m->st.failed++;
    }
    /* the bytes are not needed any more: give the memory (or temp file) back now */
    dl_spill_free(&f->data);
    f->bytes = dl_cursor_of(NULL, 0);
    free(f->parts);
    f->parts = NULL;
    pthread_cond_broadcast(&m->cv);
}

/* A request of f failed: remember the first reason; once nothing of f is in flight, the
 * pump aborts its multipart upload (if one was started) and finishes it. */
static void fail(struct dl_media *m, struct mfile *f, enum dl_err code, const char *msg)
{
    if (!f->failing) {
        f->failing = true;
        f->code = code ? code : DL_ERR_AWS;
        snprintf(f->err, sizeof f->err, "%s", msg);
    }
    if (f->out == 0)
        enqueue(m, f);
}

static bool etag_is(const char *etag, const char *want)
{
    size_t n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    return want[0] && n == strlen(want) && strncasecmp(etag, want, n) == 0;
}

/* What a finished request means for its file. */
static void handle(struct dl_media *m, struct mfile *f, enum step step, int part,
                   const struct dl_http_req *r)
{
    char msg[600];
    enum dl_err e;
    switch (step) {
    case ST_HEAD: {
        struct dl_s3_head h;
        e = dl_s3_head_parse(r, m->bucket, f->key, &h, msg, sizeof msg);
        if (e == DL_ERR_NET || e == DL_ERR_CANCELLED || e == DL_ERR_NOMEM) {
            fail(m, f, e, msg);
        } else if (!e && h.exists && (etag_is(h.etag, f->md5_hex) || etag_is(h.etag, f->mp_etag))) {
            finish(m, f, OUT_PRESENT);
        } else {
            /* absent, different, or not ours to look at (403): the upload will tell */
            f->next = f->nparts ? ST_CREATE : ST_PUT;
            enqueue(m, f);
        }
        break;
    }
    case ST_PUT:
        if ((e = dl_s3_error_message(r, m->bucket, f->key, msg, sizeof msg)))
            fail(m, f, e, msg);
        else
            finish(m, f, OUT_UPLOADED);
        break;
    case ST_CREATE:
        e = dl_s3_mpu_create_parse(r, m->bucket, f->key, f->upload_id, sizeof f->upload_id, msg,
                                   sizeof msg);
        if (e) {
            fail(m, f, e, msg);
        } else {
            f->next = ST_PART;
            enqueue(m, f);
        }
        break;
    case ST_PART:
        e = dl_s3_mpu_part_parse(r, m->bucket, f->key, f->parts[part - 1].s3.etag, msg,
                                 sizeof msg);
        if (e) {
            char what[700];
            snprintf(what, sizeof what, "part %d of %d: %s", part, f->nparts, msg);
            fail(m, f, e, what);
        } else if (f->failing) {
            if (f->out == 0)
                enqueue(m, f);
        } else if (++f->ok_parts == f->nparts) {
            f->next = ST_COMPLETE;
            enqueue(m, f);
        }
        break;
    case ST_COMPLETE:
        if ((e = dl_s3_mpu_complete_parse(r, m->bucket, f->key, NULL, msg, sizeof msg)))
            fail(m, f, e, msg);
        else
            finish(m, f, OUT_UPLOADED);
        break;
    case ST_ABORT:
        if ((e = dl_s3_mpu_abort_parse(r, m->bucket, f->key, msg, sizeof msg))) {
            size_t n = strlen(f->err);
            snprintf(f->err + n, sizeof f->err - n, "; the multipart upload %s was not aborted "
                     "(its parts stay billed until a lifecycle rule removes them): %s",
                     f->upload_id, msg);
        }
        finish(m, f, OUT_FAILED);
        break;
    }
}

/* Build f's request for step (part: 1-based) and hand it to the network thread. */
static void send(struct dl_media *m, struct mfile *f, enum step step, int part)
{
    enum dl_err e = DL_ERR_NOMEM;
    struct dl_cursor key = dl_cursor_str(f->key);
    const struct dl_aws_config *cfg = m->o.cfg;
    struct dl_http_req *r = dl_http_req_new();
    struct reqctx *c = malloc(sizeof *c);
    if (!r || !c)
        goto out;
    *c = (struct reqctx){ m, f, step, part };
    switch (step) {
    case ST_HEAD:
        e = dl_s3_head_prepare(r, cfg, m->bucket, key);
        break;
    case ST_PUT:
        e = dl_s3_put_prepare(r, cfg, m->bucket, key, f->bytes, f->ctype);
        if (!e)
            e = dl_http_req_add_header(r, "Content-MD5", f->content_md5);
        if (!e)
            e = dl_http_req_add_header(r, "x-amz-content-sha256", f->sha256);
        if (!e)
            e = dl_s3_add_meta(r, META_SHA256, f->sha256);
        break;
    case ST_CREATE:
        e = dl_s3_mpu_create_prepare(r, cfg, m->bucket, key, f->ctype);
        if (!e)
            e = dl_s3_add_meta(r, META_SHA256, f->sha256);
        break;
    case ST_PART: {
        struct part *p = &f->parts[part - 1];
        uint64_t off = (uint64_t)(part - 1) * f->part_size;
        size_t len = part < f->nparts ? f->part_size : (size_t)(f->size - off);
        e = dl_s3_mpu_part_prepare(r, cfg, m->bucket, key, f->upload_id, part,
                                   dl_cursor_of(f->bytes.ptr + off, len));
        char b64[32];
        struct dl_buf mb;
        dl_buf_init(&mb, sizeof b64 - 1);
        if (!e)
            e = dl_buf_append_base64(&mb, p->md5, sizeof p->md5);
        if (!e) {
            snprintf(b64, sizeof b64, "%s", (const char *)mb.data);
            e = dl_http_req_add_header(r, "Content-MD5", b64);
        }
        dl_buf_free(&mb);
        if (!e)
            e = dl_http_req_add_header(r, "x-amz-content-sha256", p->sha256);
        break;
    }
    case ST_COMPLETE: {
        struct dl_s3_part *list = malloc((size_t)f->nparts * sizeof *list);
        if (list) {
            for (int i = 0; i < f->nparts; i++)
                list[i] = f->parts[i].s3;
            e = dl_s3_mpu_complete_prepare(r, cfg, m->bucket, key, f->upload_id, list,
                                           (size_t)f->nparts);
            free(list);
        }
        break;
    }
    case ST_ABORT:
        e = dl_s3_mpu_abort_prepare(r, cfg, m->bucket, key, f->upload_id);
        break;
    }
    if (e)
        goto out;
    /* the network layer retries 5xx and transport errors; uploads also a 400 RequestTimeout
     * and a CompleteMultipartUpload that failed inside its 200 */
    if (step != ST_HEAD && step != ST_ABORT)
        r->retryable = dl_s3_upload_retryable;
    r->done = req_done;
    r->ctx = c;
    m->inflight++;
    f->out++;
    if (dl_net_submit(m->o.net, r) == DL_OK)
        return;
    /* not submitted (the network layer is stopping or broken): done() will not run */
    m->inflight--;
    f->out--;
    m->stopping = true;
    if (step == ST_ABORT) {
        handle(m, f, step, part, r);
    } else {
        char msg[600];
        snprintf(msg, sizeof msg, "s3://%s/%s: %s", m->bucket, f->key, r->errmsg);
        fail(m, f, r->result, msg);
    }
    e = DL_OK;
out:
    if (e) {
        char msg[600];
        snprintf(msg, sizeof msg, "s3://%s/%s: cannot build the request: %s", m->bucket, f->key,
                 dl_err_str(e));
        if (step == ST_ABORT)
            finish(m, f, OUT_FAILED);
        else
            fail(m, f, e, msg);
    }
    dl_http_req_destroy(r);
    free(c);
}

/* Send what is ready, up to max_parallel requests in flight. A multipart file goes back to
 * the end of the list after each part, so big files share the slots. */
static void pump(struct dl_media *m)
{
    while (m->inflight < m->o.max_parallel && m->ready_head) {
        struct mfile *f = dequeue(m);
        if (m->stopping && !f->failing) {
            /* not through fail(): f is out of the list and handled right here */
            f->failing = true;
            f->code = DL_ERR_CANCELLED;
            snprintf(f->err, sizeof f->err, "cancelled: the media uploads are shutting down");
        }
        if (f->failing) {
            if (f->out > 0)
                continue; /* back in the list when its last request returns */
            if (f->upload_id[0] && !f->abort_sent) {
                f->abort_sent = true;
                send(m, f, ST_ABORT, 0);
            } else if (f->outcome == OUT_PENDING) {
                finish(m, f, OUT_FAILED);
            }
            continue;
        }
        if (f->next != ST_PART) {
            send(m, f, f->next, 0);
            continue;
        }
        int part = ++f->sent_parts;
        if (f->sent_parts < f->nparts)
            enqueue(m, f);
        send(m, f, ST_PART, part);
    }
}

static void req_done(struct dl_http_req *r, void *ctx)
{
    struct reqctx *c = ctx;
    struct dl_media *m = c->m;
    pthread_mutex_lock(&m->mu);
    m->inflight--;
    c->f->out--;
    if (r->result == DL_ERR_CANCELLED)
        m->stopping = true; /* the network layer is going away: send nothing more */
    handle(m, c->f, c->step, c->part, r);
    pump(m);
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    dl_http_req_destroy(r);
    free(c);
}

/* ------------------------------------------------------------------------------------ */
/* zips                                                                                  */

static void free_file(struct mfile *f)
{
    free(f->owner);
    free(f->entry);
    free(f->name);
    free(f->key);
    free(f->uri);
    free(f->parts);
    dl_spill_free(&f->data);
    free(f);
}

/* Report the finished uploads not reported yet (failures, files already there); returns the
 * first failure among them, described in err. */
static enum dl_err report(struct dl_media *m, char *err, size_t errlen)
{
    enum dl_err first = DL_OK;
    for (size_t i = 0; i < m->nfiles; i++) {
        struct mfile *f = m->files[i];
        if (f->reported || f->outcome == OUT_PENDING)
            continue;
        f->reported = true;
        if (f->outcome == OUT_FAILED) {
            if (!first) {
                first = f->code;
                snprintf(err, errlen, "%s: media file %s could not be uploaded: %s", where(m),
                         f->entry, f->err);
            }
            lines_add(&m->failed, "%s: media file %s could not be uploaded: %s", where(m),
                      f->entry, f->err);
        } else if (f->outcome == OUT_PRESENT) {
            lines_add(&m->present, "%s: %s is already at %s with the same content: not "
                      "uploaded again", where(m), f->entry, f->uri);
        }
    }
    lines_flush(m, &m->failed, 1, "media files could not be uploaded");
    lines_flush(m, &m->present, 0, "media files were already at the destination");
    return first;
}

/* Block until every upload started so far has finished, and report them. Returns the first
 * failure. In deferred mode nothing has started: the zip's files become readable. */
static enum dl_err wait_all(struct dl_media *m, char *err, size_t errlen)
{
    enum dl_err e = DL_OK;
    pthread_mutex_lock(&m->mu);
    while (m->pending > 0)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    if (m->deferred && !m->zviewed) {
        m->zviewed = true;
        if ((e = dl_spill_view(&m->zspill, &m->zview))) {
            m->zview = dl_cursor_of(NULL, 0);
            snprintf(err, errlen, "%s: cannot read back the media files: %s", where(m),
                     m->zspill.err);
        }
    }
    enum dl_err first = report(m, err, errlen);
    m->phase = PH_ATTACH;
    return e ? e : first;
}

/* A zip starts with its first note, add or wait after the previous one ended. */
static void start_zip(struct dl_media *m, enum phase ph)
{
    if (m->phase == PH_NONE) {
        pthread_mutex_lock(&m->mu);
        m->at_start = m->st;
        pthread_mutex_unlock(&m->mu);
    }
    m->phase = ph;
}

static void end_zip(struct dl_media *m)
{
    char unused[8];
    if (m->phase == PH_NONE)
        return;
    if (m->phase == PH_FILES)
        wait_all(m, unused, sizeof unused);
    report(m, unused, sizeof unused); /* deferred uploads finished during attach */
    for (size_t i = 0; i < m->nsrcs; i++) {
        if (m->srcs[i]->owner)
            continue;
        pthread_mutex_lock(&m->mu);
        m->st.unmatched_files++;
        pthread_mutex_unlock(&m->mu);
        lines_add(&m->unmatched, "%s: media file %s matches no item's %s: not uploaded",
                  where(m), m->srcs[i]->entry, m->o.match_attr);
    }
    lines_flush(m, &m->without, 0, "items without media");
    lines_flush(m, &m->unmatched, 1, "media files matched no item");
    struct dl_media_stats now, *a = &m->at_start;
    dl_media_stats_get(m, &now);
    if (now.files > a->files || now.items_with_media > a->items_with_media)
        say(m, 0, "%s: media: %llu files: %llu uploaded (%llu bytes), %llu already there, "
            "%llu failed, %llu matched no item; %llu items with media, %llu without",
            where(m), (unsigned long long)(now.files - a->files),
            (unsigned long long)(now.uploaded - a->uploaded),
            (unsigned long long)(now.upload_bytes - a->upload_bytes),
            (unsigned long long)(now.already_present - a->already_present),
            (unsigned long long)(now.failed - a->failed),
            (unsigned long long)(now.unmatched_files - a->unmatched_files),
            (unsigned long long)(now.items_with_media - a->items_with_media),
            (unsigned long long)(now.items_without_media - a->items_without_media));
    for (size_t i = 0; i < m->nfiles; i++)
        free_file(m->files[i]);
    free(m->files);
    m->files = NULL;
    m->nfiles = m->falloc = 0;
    for (size_t i = 0; i < m->nsrcs; i++)
        free_file(m->srcs[i]);
    free(m->srcs);
    m->srcs = NULL;
    m->nsrcs = m->salloc = 0;
    names_free(&m->names);
    names_free(&m->cands);
    dl_spill_free(&m->zspill);
    m->zview = dl_cursor_of(NULL, 0);
    m->zviewed = false;
    m->deferred = false;
    free(m->zip);
    m->zip = NULL;
    m->phase = PH_NONE;
}

void dl_media_end_zip(struct dl_media *m)
{
    end_zip(m);
}

/* Match value of a DynamoDB JSON item (S, or the text of N), or false. */
static bool match_value(const struct dl_media *m, const struct dl_json *item,
                        struct dl_cursor *out)
{
    const struct dl_json *av = dl_json_get(item, m->o.match_attr);
    if (!av || av->type != DL_JSON_OBJECT)
        return false;
    const struct dl_json *v = dl_json_get(av, "S");
    if (!v)
        v = dl_json_get(av, "N");
    if (!v || v->type != DL_JSON_STRING)
        return false;
    *out = v->str;
    return true;
}

/* Parse a copy of the item's wire (the item is rebuilt from the DOM, over its own buffer). */
static enum dl_err parse_item(struct dl_media *m, const struct dl_item *it, struct dl_json **doc,
                              struct dl_pos_err *why)
{
    dl_arena_reset(m->arena);
    dl_buf_reset(&m->wire);
    enum dl_err e = dl_buf_append_cur(&m->wire, dl_buf_cur(&it->wire));
    if (!e)
        e = dl_json_parse_doc(m->arena, m->wire.data ? m->wire.data : (const uint8_t *)"{}",
                              m->wire.data ? m->wire.len : 2, doc, why);
    if (!e && (*doc)->type != DL_JSON_OBJECT)
        e = dl_pos_err_set(why, DL_ERR_INVALID, 0, 0, 0, "the item is not a JSON object");
    return e;
}

enum dl_err dl_media_note(struct dl_media *m, const struct dl_item *it)
{
    if (m->phase == PH_FILES || m->phase == PH_ATTACH)
        end_zip(m); /* the previous zip was not ended (its decoding stopped) */
    start_zip(m, PH_NAMES);
    struct dl_json *doc;
    struct dl_pos_err why;
    struct dl_cursor v;
    enum dl_err e = parse_item(m, it, &doc, &why);
    if (e == DL_ERR_NOMEM || e == DL_ERR_TOO_LARGE)
        return e;
    if (e || !match_value(m, doc, &v))
        return DL_OK;
    if ((e = name_key(v, &m->k)))
        return e;
    return names_add(&m->names, m->k.data ? (const char *)m->k.data : "", m->k.len);
}

/* ------------------------------------------------------------------------------------ */
/* entries and files                                                                     */

static int rule_in(const struct dl_media *m, const char *rel)
{
    for (size_t i = 0; i < m->o.nrules; i++) {
        size_t fl = strlen(m->rules[i].folder);
        if (strncmp(rel, m->rules[i].folder, fl) == 0 && rel[fl] == '/' && rel[fl + 1])
            return (int)i;
    }
    return -1;
}

int dl_media_rule_for(const struct dl_media *m, const char *entry, const char *top)
{
    size_t n = entry ? strlen(entry) : 0;
    if (!n || entry[n - 1] == '/')
        return -1;
    size_t tl = top ? strlen(top) : 0;
    int r = -1;
    if (tl && strncmp(entry, top, tl) == 0)
        r = rule_in(m, entry + tl);
    /* a zip holding a single media folder has that folder as its "top" folder */
    return r >= 0 ? r : rule_in(m, entry);
}

/* Why an entry name cannot be part of a key, or NULL. */
static const char *unsafe_entry(const char *entry)
{
    size_t n = strlen(entry);
    if (entry[0] == '/')
        return "an absolute path";
    if (!dl_utf8_valid((const uint8_t *)entry, n, NULL))
        return "not valid UTF-8";
    for (const char *p = entry; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "a control character in the name";
    for (const char *c = entry; c;) {
        const char *slash = strchr(c, '/');
        size_t len = slash ? (size_t)(slash - c) : strlen(c);
        if ((len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
            return "a '.' or '..' path component";
        c = slash ? slash + 1 : NULL;
    }
    return NULL;
}

/* Digests of f's bytes: MD5 and SHA-256 of the whole, and per part for a multipart upload
 * (the part MD5s give the ETag S3 computes for it, and go out as Content-MD5). */
static enum dl_err digest(struct mfile *f, struct dl_cursor b)
{
    enum dl_err e = DL_ERR_NOMEM;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    EVP_MD_CTX *md5 = EVP_MD_CTX_new(), *sha = EVP_MD_CTX_new(), *mp = EVP_MD_CTX_new();
    if (!md5 || !sha || !mp || !EVP_DigestInit_ex(md5, EVP_md5(), NULL) ||
        !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) || !EVP_DigestInit_ex(mp, EVP_md5(), NULL))
        goto out;
    const uint8_t *p = b.ptr ? b.ptr : (const uint8_t *)"";
    if (!f->nparts) {
        if (!EVP_DigestUpdate(md5, p, b.len) || !EVP_DigestUpdate(sha, p, b.len))
            goto out;
    }
    for (int i = 0; i < f->nparts; i++) {
        uint64_t off = (uint64_t)i * f->part_size;
        size_t len = i + 1 < f->nparts ? f->part_size : (size_t)(b.len - off);
        struct part *pt = &f->parts[i];
        pt->s3.number = i + 1;
        if (!EVP_DigestUpdate(md5, p + off, len) || !EVP_DigestUpdate(sha, p + off, len) ||
            !EVP_Digest(p + off, len, pt->md5, &dl, EVP_md5(), NULL) ||
            !EVP_Digest(p + off, len, d, &dl, EVP_sha256(), NULL) ||
            !EVP_DigestUpdate(mp, pt->md5, sizeof pt->md5))
            goto out;
        hex(d, 32, pt->sha256);
    }
    if (!EVP_DigestFinal_ex(md5, d, &dl))
        goto out;
    hex(d, 16, f->md5_hex);
    struct dl_buf b64;
    dl_buf_init(&b64, sizeof f->content_md5 - 1);
    e = dl_buf_append_base64(&b64, d, 16);
    if (!e)
        snprintf(f->content_md5, sizeof f->content_md5, "%s", (const char *)b64.data);
    dl_buf_free(&b64);
    if (e)
        goto out;
    e = DL_ERR_NOMEM;
    if (!EVP_DigestFinal_ex(sha, d, &dl))
        goto out;
    hex(d, 32, f->sha256);
    if (f->nparts) {
        if (!EVP_DigestFinal_ex(mp, d, &dl))
            goto out;
        hex(d, 16, f->mp_etag);
        snprintf(f->mp_etag + 32, sizeof f->mp_etag - 32, "-%d", f->nparts);
    }
    e = DL_OK;
out:
    EVP_MD_CTX_free(md5);
    EVP_MD_CTX_free(sha);
    EVP_MD_CTX_free(mp);
    return e;
}

static enum dl_err push(struct mfile ***arr, size_t *n, size_t *alloc, struct mfile *f)
{
    if (*n == *alloc) {
        size_t na = *alloc ? *alloc * 2 : 64;
        struct mfile **p = realloc(*arr, na * sizeof *p);
        if (!p)
            return DL_ERR_NOMEM;
        *arr = p;
        *alloc = na;
    }
    (*arr)[(*n)++] = f;
    return DL_OK;
}

/* f's destination for the item whose match value (spaces as '_') is k. DL_ERR_INVALID for a
 * key over S3's limit. */
static enum dl_err set_key(struct dl_media *m, struct mfile *f, const char *k)
{
    struct dl_buf kb;
    dl_buf_init(&kb, 0);
    enum dl_err e = dl_buf_printf(&kb, "%s%s%s/%s/%s", m->prefix, m->prefix[0] ? "/" : "", k,
                                  m->rules[f->rule].folder, f->name);
    if (!e && !(f->key = strdup((const char *)kb.data)))
        e = DL_ERR_NOMEM;
    dl_buf_free(&kb);
    if (e)
        return e;
    size_t ulen = strlen(m->bucket) + strlen(f->key) + 7;
    if (!(f->uri = malloc(ulen)))
        return DL_ERR_NOMEM;
    snprintf(f->uri, ulen, "s3://%s/%s", m->bucket, f->key);
    return strlen(f->key) > MAX_KEY ? DL_ERR_INVALID : DL_OK;
}

/* A file of the zip: its name, type and (unless a dry run) digests and part layout. */
static enum dl_err new_file(struct dl_media *m, int rule, const char *entry, const char *name,
                            struct dl_cursor bytes, struct mfile **out)
{
    enum dl_err e = DL_ERR_NOMEM;
    struct mfile *f = calloc(1, sizeof *f);
    *out = f;
    if (!f)
        goto out;
    dl_spill_init(&f->data, IN_MEMORY_MAX, 0);
    f->rule = rule;
    f->size = bytes.len;
    f->ctype = content_type(name);
    f->entry = strdup(entry);
    f->name = strdup(name);
    if (!f->entry || !f->name)
        goto out;
    if (m->o.dry_run) {
        f->outcome = OUT_DRY;
    } else {
        f->part_size = m->o.part_size;
        if (bytes.len > f->part_size) {
            /* S3 allows 10,000 parts: bigger files take bigger parts, whole MiBs */
            uint64_t min = (bytes.len + MAX_PARTS - 1) / MAX_PARTS;
            if (min > f->part_size)
                f->part_size = (size_t)((min + (1u << 20) - 1) >> 20 << 20);
            f->nparts = (int)((bytes.len + f->part_size - 1) / f->part_size);
            if (!(f->parts = calloc((size_t)f->nparts, sizeof *f->parts)))
                goto out;
        }
        if ((e = digest(f, bytes)))
            goto out;
    }
    e = DL_OK;
out:
    return e;
}

/* Hand f to the uploads (under m->mu: from here on the network thread shares it). */
static void start_upload(struct dl_media *m, struct mfile *f)
{
    pthread_mutex_lock(&m->mu);
    m->pending++;
    f->next = ST_HEAD;
    enqueue(m, f);
    pump(m);
    pthread_mutex_unlock(&m->mu);
}

enum dl_err dl_media_add(struct dl_media *m, const char *zip, int rule, const char *entry,
                         struct dl_cursor bytes, char *err, size_t errlen)
{
    enum dl_err e = DL_OK;
    struct mfile *f = NULL;
    if (errlen)
        err[0] = 0;
    zip = zip ? zip : "";
    /* a new zip whose names were not noted (or the previous one was not ended) */
    if (m->phase == PH_ATTACH || (m->phase == PH_FILES && strcmp(zip, m->zip) != 0))
        end_zip(m);
    if (!m->zip && !(m->zip = strdup(zip))) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    if (m->phase != PH_FILES)
        m->deferred = m->names.count == 0;
    start_zip(m, PH_FILES);
    if (rule < 0 || (size_t)rule >= m->o.nrules) {
        e = DL_ERR_INVALID;
        snprintf(err, errlen, "%s: %s: not a media folder entry", zip, entry);
        goto out;
    }
    const char *why = unsafe_entry(entry);
    if (why) {
        e = DL_ERR_INVALID;
        snprintf(err, errlen, "%s: media file %s: %s", zip, entry, why);
        goto out;
    }
    const char *folder = m->rules[rule].folder;
    const char *name = strrchr(entry, '/');
    name = name ? name + 1 : entry;
    if (name[0] == '.' || !name[0])
        goto out; /* .DS_Store and the like */
    size_t fl = strlen(folder);
    bool direct = (size_t)(name - entry) > fl && name[-1] == '/' &&
                  strncmp(name - 1 - fl, folder, fl) == 0 &&
                  (name - 1 - fl == entry || name[-2 - (ptrdiff_t)fl] == '/');
    pthread_mutex_lock(&m->mu);
    m->st.files++;
    pthread_mutex_unlock(&m->mu);
    struct name_ent *owner = NULL;
    if (direct && !m->deferred)
        owner = owner_of(&m->names, name, stem_len(name));
    if (!direct || (!m->deferred && !owner)) {
        pthread_mutex_lock(&m->mu);
        m->st.unmatched_files++;
        pthread_mutex_unlock(&m->mu);
        if (direct)
            lines_add(&m->unmatched, "%s: media file %s matches no item's %s: not uploaded",
                      zip, entry, m->o.match_attr);
        else
            lines_add(&m->unmatched, "%s: media file %s is in a subfolder of %s/ (files must "
                      "sit directly in it): not uploaded", zip, entry, folder);
        goto out;
    }

    if ((e = new_file(m, rule, entry, name, bytes, &f)))
        goto out;
    if (m->deferred) {
        /* kept until the item that takes it is attached */
        f->off = m->zspill.len;
        if (!m->o.dry_run)
            e = dl_spill_write(&m->zspill, bytes.ptr ? bytes.ptr : (const uint8_t *)"",
                               bytes.len);
        if (e) {
            snprintf(err, errlen, "%s: media file %s: %s", zip, entry, m->zspill.err);
            goto out;
        }
        if ((e = push(&m->srcs, &m->nsrcs, &m->salloc, f)))
            goto out;
        f = NULL;
        goto out;
    }
    if ((e = set_key(m, f, owner->k)) == DL_ERR_INVALID) {
        snprintf(err, errlen, "%s: media file %s: its destination key would be %zu bytes, "
                 "over S3's 1024", zip, entry, strlen(f->key));
        goto out;
    }
    if (e)
        goto out;
    for (size_t i = 0; i < owner->nfiles; i++) { /* the same key means the same owner */
        if (strcmp(owner->files[i]->key, f->key) == 0) {
            say(m, 1, "%s: media file %s appears twice in the zip: the first one is kept", zip,
                entry);
            goto out;
        }
    }
    if ((e = push(&m->files, &m->nfiles, &m->falloc, f)))
        goto out;
    if ((e = ent_push(owner, f))) {
        m->nfiles--;
        goto out;
    }
    struct mfile *added = f;
    f = NULL; /* owned by the zip's lists from here */
    if (m->o.dry_run)
        goto out;

    pthread_mutex_lock(&m->mu);
    while (m->pending >= m->max_pending)
        pthread_cond_wait(&m->cv, &m->mu);
    pthread_mutex_unlock(&m->mu);
    /* copied only now, so waiting files bound the memory */
    e = dl_spill_write(&added->data, bytes.ptr ? bytes.ptr : (const uint8_t *)"", bytes.len);
    if (!e)
        e = dl_spill_view(&added->data, &added->bytes);
    if (e) {
        pthread_mutex_lock(&m->mu);
        m->pending++;
        added->failing = true;
        added->code = e;
        snprintf(added->err, sizeof added->err, "cannot keep a copy for the upload: %s",
                 added->data.err);
        finish(m, added, OUT_FAILED);
        pthread_mutex_unlock(&m->mu);
        e = DL_OK; /* reported by dl_media_wait, like any failed upload */
        goto out;
    }
    start_upload(m, added);
out:
    if (e == DL_ERR_NOMEM && errlen && !err[0])
        snprintf(err, errlen, "out of memory");
    if (f)
        free_file(f);
    return e;
}

enum dl_err dl_media_wait(struct dl_media *m, char *err, size_t errlen)
{
    if (errlen)
        err[0] = 0;
    start_zip(m, m->phase);
    return wait_all(m, err, errlen);
}

/* ------------------------------------------------------------------------------------ */
/* items                                                                                 */

static int file_cmp(const void *a, const void *b)
{
    const struct mfile *x = *(struct mfile *const *)a, *y = *(struct mfile *const *)b;
    if (x->rule != y->rule)
        return x->rule < y->rule ? -1 : 1;
    return strcmp(x->name, y->name);
}

static struct dl_json *node(struct dl_arena *a, enum dl_json_type t, const char *key)
{
    struct dl_json *n = dl_arena_alloc(a, sizeof *n);
    if (n) {
        memset(n, 0, sizeof *n);
        n->type = t;
        if (key)
            n->key = dl_cursor_str(key);
    }
    return n;
}

/* {"L":[{"S":uri},...]} for files[0..n), as the member named attr. */
static struct dl_json *uri_list(struct dl_arena *a, const char *attr, struct mfile **files,
                                size_t n)
{
    struct dl_json *member = node(a, DL_JSON_OBJECT, attr);
    struct dl_json *list = node(a, DL_JSON_ARRAY, "L");
    if (!member || !list)
        return NULL;
    member->n = 1;
    member->child = list;
    struct dl_json **tail = &list->child;
    for (size_t i = 0; i < n; i++) {
        struct dl_json *av = node(a, DL_JSON_OBJECT, NULL);
        struct dl_json *s = node(a, DL_JSON_STRING, "S");
        if (!av || !s)
            return NULL;
        s->str = dl_cursor_str(files[i]->uri);
        av->n = 1;
        av->child = s;
        *tail = av;
        tail = &av->next;
        list->n++;
    }
    return member;
}

static bool attachable(const struct mfile *f)
{
    return f->outcome == OUT_UPLOADED || f->outcome == OUT_PRESENT || f->outcome == OUT_DRY;
}

static void without_media(struct dl_media *m, const struct dl_item *it, const char *what,
                          struct dl_cursor value)
{
    pthread_mutex_lock(&m->mu);
    m->st.items_without_media++;
    pthread_mutex_unlock(&m->mu);
    if (value.ptr)
        lines_add(&m->without, "%s: item with %s '%.*s' %s", where(m), m->o.match_attr,
                  (int)(value.len > 300 ? 300 : value.len), (const char *)value.ptr, what);
    else
        lines_add(&m->without, "%s: item %.*s %s", where(m),
                  (int)(it->key_wire.len ? (it->key_wire.len > 300 ? 300 : it->key_wire.len)
                                         : (it->wire.len > 300 ? 300 : it->wire.len)),
                  it->key_wire.len ? (const char *)it->key_wire.data : (const char *)it->wire.data,
                  what);
}

/* Deferred mode: every name a source could belong to (its stem, and the stem before each of
 * its '_'), so that attach finds an item's candidate files in one look-up. */
static enum dl_err build_cands(struct dl_media *m)
{
    enum dl_err e = DL_OK;
    for (size_t i = 0; i < m->nsrcs && !e; i++) {
        struct mfile *src = m->srcs[i];
        size_t len = stem_len(src->name);
        for (size_t p = len; p > 0 && !e; p--) {
            if (p < len && src->name[p] != '_')
                continue;
            if (!(e = names_add(&m->cands, src->name, p)))
                e = ent_push(names_find(&m->cands, src->name, p), src);
        }
    }
    return e;
}

/* An upload of a deferred source (a source may go to two names: see claim). */
static enum dl_err upload_of(const struct mfile *src, struct mfile **out)
{
    struct mfile *f = calloc(1, sizeof *f);
    *out = f;
    if (!f)
        return DL_ERR_NOMEM;
    dl_spill_init(&f->data, IN_MEMORY_MAX, 0);
    f->src = src;
    f->rule = src->rule;
    f->size = src->size;
    f->ctype = src->ctype;
    f->off = src->off;
    f->outcome = src->outcome; /* OUT_DRY for a dry run */
    memcpy(f->md5_hex, src->md5_hex, sizeof f->md5_hex);
    memcpy(f->mp_etag, src->mp_etag, sizeof f->mp_etag);
    memcpy(f->sha256, src->sha256, sizeof f->sha256);
    memcpy(f->content_md5, src->content_md5, sizeof f->content_md5);
    f->part_size = src->part_size;
    f->nparts = src->nparts;
    f->entry = strdup(src->entry);
    f->name = strdup(src->name);
    if (src->nparts && (f->parts = malloc((size_t)src->nparts * sizeof *f->parts)))
        memcpy(f->parts, src->parts, (size_t)src->nparts * sizeof *f->parts);
    return f->entry && f->name && (!src->nparts || f->parts) ? DL_OK : DL_ERR_NOMEM;
}

/* Deferred mode: upload the files the item named kent takes (those whose longest fitting name
 * among the names attached so far is kent's), and wait for them. A file that went to a shorter
 * name earlier in the data goes to this longer one too (it cannot be taken back), with a
 * warning. */
static enum dl_err claim(struct dl_media *m, struct name_ent *kent)
{
    enum dl_err e;
    if (!m->cands.count && m->nsrcs && (e = build_cands(m)))
        return e;
    struct name_ent *c = names_find(&m->cands, kent->k, kent->len);
    size_t first = kent->nfiles;
    for (size_t i = 0; c && i < c->nfiles; i++) {
        struct mfile *src = c->files[i];
        if (owner_of(&m->names, src->name, stem_len(src->name)) != kent)
            continue; /* a longer name attached before takes it */
        bool mine = src->owner && strcmp(src->owner, kent->k) == 0;
        bool dup = false;
        for (size_t j = 0; j < kent->nfiles && !dup; j++)
            dup = kent->files[j]->src == src || (kent->files[j]->rule == src->rule &&
                                                 strcmp(kent->files[j]->name, src->name) == 0);
        if (dup) { /* this name again (a repeated item), or an entry twice in the zip */
            if (!src->owner) {
                say(m, 1, "%s: media file %s appears twice in the zip: the first one is kept",
                    where(m), src->entry);
                if (!(src->owner = strdup(kent->k)))
                    return DL_ERR_NOMEM;
            }
            continue;
        }
        if (src->owner && !mine)
            say(m, 1, "%s: media file %s goes to the items with %s '%s' and '%s' (spaces as "
                "'_'): the longest name takes a file, but the shorter one came first in the data",
                where(m), src->entry, m->o.match_attr, src->owner, kent->k);
        if (!src->owner && !(src->owner = strdup(kent->k)))
            return DL_ERR_NOMEM;
        struct mfile *f;
        if ((e = upload_of(src, &f)) ||
            ((e = set_key(m, f, kent->k)) && e != DL_ERR_INVALID)) {
            free_file(f);
            return e;
        }
        if ((e = push(&m->files, &m->nfiles, &m->falloc, f))) {
            free_file(f);
            return e;
        }
        if ((e = ent_push(kent, f)))
            return e;
        const char *fail_why = NULL;
        if (f->key && strlen(f->key) > MAX_KEY)
            fail_why = "its destination key would be over S3's 1024 bytes";
        else if (!m->o.dry_run && !m->zview.ptr && f->size)
            fail_why = "the copy of the file could not be read back";
        if (fail_why) {
            pthread_mutex_lock(&m->mu);
            m->pending++;
            f->code = DL_ERR_INVALID;
            snprintf(f->err, sizeof f->err, "%s", fail_why);
            finish(m, f, OUT_FAILED);
            pthread_mutex_unlock(&m->mu);
            continue;
        }
        f->bytes = dl_cursor_of(m->zview.ptr ? m->zview.ptr + f->off : NULL, f->size);
        if (!m->o.dry_run)
            start_upload(m, f);
    }
    pthread_mutex_lock(&m->mu);
    for (;;) {
        bool busy = false;
        for (size_t j = first; j < kent->nfiles && !busy; j++)
            busy = kent->files[j]->outcome == OUT_PENDING;
        if (!busy)
            break;
        pthread_cond_wait(&m->cv, &m->mu);
    }
    pthread_mutex_unlock(&m->mu);
    return DL_OK;
}

enum dl_err dl_media_attach(struct dl_media *m, struct dl_item *it, const struct dl_key_schema *ks,
                            struct dl_pos_err *why)
{
    dl_pos_err_clear(why);
    if (it->del)
        return DL_OK; /* a delete carries no attributes */
    if (m->phase == PH_FILES) {
        char unused[8];
        wait_all(m, unused, sizeof unused); /* failures are reported there */
    }
    struct dl_json *doc;
    struct dl_cursor v;
    enum dl_err e = parse_item(m, it, &doc, why);
    if (e)
        return e;
    if (!match_value(m, doc, &v)) {
        char what[200];
        snprintf(what, sizeof what, "has no %s attribute (S or N): no media", m->o.match_attr);
        without_media(m, it, what, dl_cursor_of(NULL, 0));
        return DL_OK;
    }
    if ((e = name_key(v, &m->k)))
        return dl_pos_err_set(why, e, 0, 0, 0, "the %s attribute is too large", m->o.match_attr);
    const char *k = m->k.data ? (const char *)m->k.data : "";
    if (m->deferred &&
        ((e = names_add(&m->names, k, m->k.len)) || (e = claim(m, names_find(&m->names, k, m->k.len)))))
        return dl_pos_err_set(why, e, 0, 0, 0, "%s", e == DL_ERR_TOO_LARGE
                              ? "too many names in one zip for the media side-load" : "out of memory");
    struct name_ent *n = names_find(&m->names, k, m->k.len);
    size_t usable = 0, failed = 0;
    for (size_t i = 0; n && i < n->nfiles; i++) {
        usable += attachable(n->files[i]);
        failed += n->files[i]->outcome == OUT_FAILED;
    }
    if (!usable) {
        without_media(m, it, failed ? "has media files, but none could be uploaded"
                                    : "has no media file", v);
        return DL_OK;
    }
    if (!n->sorted) {
        qsort(n->files, n->nfiles, sizeof *n->files, file_cmp);
        n->sorted = true;
    }
    /* drop the attributes being set, then append one list per rule with files */
    struct dl_json *lists = NULL, **ltail = &lists;
    uint32_t nlists = 0;
    for (size_t i = 0; i < n->nfiles;) {
        size_t j = i, k = 0;
        struct mfile **run = dl_arena_alloc(m->arena, (n->nfiles - i) * sizeof *run);
        if (!run)
            return dl_pos_err_set(why, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
        for (; j < n->nfiles && n->files[j]->rule == n->files[i]->rule; j++)
            if (attachable(n->files[j]))
                run[k++] = n->files[j];
        if (k) {
            struct dl_json *member = uri_list(m->arena, m->rules[n->files[i]->rule].attr, run, k);
            if (!member)
                return dl_pos_err_set(why, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
            *ltail = member;
            ltail = &member->next;
            nlists++;
        }
        i = j;
    }
    struct dl_json **pp = &doc->child;
    while (*pp) {
        bool replaced = false;
        for (struct dl_json *l = lists; l && !replaced; l = l->next)
            replaced = dl_cursor_eq((*pp)->key, l->key);
        if (replaced) {
            *pp = (*pp)->next;
            doc->n--;
        } else {
            pp = &(*pp)->next;
        }
    }
    *pp = lists;
    doc->n += nlists;
    if ((e = dl_item_from_ddb_json(it, doc, ks, why)))
        return e;
    pthread_mutex_lock(&m->mu);
    m->st.items_with_media++;
    pthread_mutex_unlock(&m->mu);
    return DL_OK;
}

/* ------------------------------------------------------------------------------------ */

void dl_media_stats_get(const struct dl_media *m, struct dl_media_stats *out)
{
    struct dl_media *mm = (struct dl_media *)m; /* the lock, not the data, changes */
    pthread_mutex_lock(&mm->mu);
    *out = m->st;
    pthread_mutex_unlock(&mm->mu);
}

void dl_media_destroy(struct dl_media *m)
{
    if (!m)
        return;
    if (m->arena) { /* fully set up: uploads may be running */
        pthread_mutex_lock(&m->mu);
        m->stopping = true;
        pump(m);
        while (m->pending > 0 || m->inflight > 0)
            pthread_cond_wait(&m->cv, &m->mu);
        pthread_mutex_unlock(&m->mu);
        for (size_t i = 0; i < m->nfiles; i++)
            free_file(m->files[i]);
        free(m->files);
        for (size_t i = 0; i < m->nsrcs; i++)
            free_file(m->srcs[i]);
        free(m->srcs);
        names_free(&m->names);
        names_free(&m->cands);
        dl_spill_free(&m->zspill);
        lines_drop(&m->unmatched);
        lines_drop(&m->without);
        lines_drop(&m->present);
        lines_drop(&m->failed);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    if (m->rules)
        for (size_t i = 0; i < m->o.nrules; i++) {
            free((char *)m->rules[i].folder);
            free((char *)m->rules[i].attr);
        }
    free(m->rules);
    free((char *)m->o.match_attr);
    free(m->bucket);
    free(m->prefix);
    free(m->zip);
    dl_arena_destroy(m->arena);
    dl_buf_free(&m->wire);
    dl_buf_free(&m->k);
    free(m);
}
