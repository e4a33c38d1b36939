#include "pump/deadletter.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "core/json.h"

struct dl_deadletter {
    pthread_mutex_t mu;
    char *path;
    FILE *f;
    uint64_t count;
    bool zst;               /* path ends in .zst: one zstd frame per record */
    uint64_t kinds[DL_DEAD_KINDS];
    struct dl_buf line;
    struct dl_buf frame;
    char error[512];
};

struct dl_deadletter *dl_deadletter_new(const char *path)
{
    struct dl_deadletter *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->path = strdup(path);
    if (!d->path) {
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    dl_buf_init(&d->line, 0);
    dl_buf_init(&d->frame, 0);
    size_t n = strlen(path);
    d->zst = n > 4 && !strcmp(path + n - 4, ".zst");
    return d;
}

void dl_deadletter_destroy(struct dl_deadletter *d)
{
    if (!d)
        return;
    if (d->f)
        fclose(d->f);
    pthread_mutex_destroy(&d->mu);
    dl_buf_free(&d->line);
    dl_buf_free(&d->frame);
    free(d->path);
    free(d);
}

#define RAW_KEEP ((size_t)64 << 10) /* a rejected record's text is kept up to this size */

/* Raw input may be any bytes: keep valid UTF-8 as is, otherwise store it base64-encoded. A huge
 * record (a 2 GB line) keeps only its first 64 KiB, marked as truncated with its real length. */
static enum dl_err append_raw(struct dl_buf *b, struct dl_cursor raw)
{
    size_t bad;
    if (raw.len > RAW_KEEP) {
        enum dl_err e = dl_buf_printf(b, ",\"raw_truncated\":true,\"raw_bytes\":%zu", raw.len);
        if (e)
            return e;
        size_t keep = RAW_KEEP;
        while (keep > 0 && (raw.ptr[keep] & 0xC0) == 0x80) /* do not cut a UTF-8 sequence */
            keep--;
        raw.len = keep;
    }
    if (dl_utf8_valid(raw.ptr, raw.len, &bad)) {
        enum dl_err e = dl_buf_append_str(b, ",\"raw\":");
        return e ? e : dl_buf_append_json_str(b, raw.ptr, raw.len);
    }
    enum dl_err e = dl_buf_append_str(b, ",\"raw_base64\":\"");
    if (!e)
        e = dl_buf_append_base64(b, raw.ptr, raw.len);
    return e ? e : dl_buf_append_byte(b, '"');
}

enum dl_err dl_deadletter_add(struct dl_deadletter *d, const struct dl_origin *o, const char *reason,
                              struct dl_cursor request_wire, struct dl_cursor raw)
{
    enum dl_err e = DL_OK;
    pthread_mutex_lock(&d->mu);
    if (d->error[0]) {
        e = DL_ERR_IO;
        goto out;
    }
    if (!d->f) {
        d->f = fopen(d->path, "w");
        if (!d->f) {
            snprintf(d->error, sizeof d->error, "cannot create dead-letter file %s: %s", d->path,
                     strerror(errno));
            e = DL_ERR_IO;
            goto out;
        }
    }
    struct dl_buf *b = &d->line;
    dl_buf_reset(b);
    e = dl_buf_append_str(b, "{\"reason\":");
    if (!e)
        e = dl_buf_append_json_str(b, reason, strlen(reason));
    if (!e && o && o->source) {
        e = dl_buf_append_str(b, ",\"source\":");
        if (!e)
            e = dl_buf_append_json_str(b, o->source, strlen(o->source));
    }
    if (!e && o && o->entry) {
        e = dl_buf_append_str(b, ",\"entry\":");
        if (!e)
            e = dl_buf_append_json_str(b, o->entry, strlen(o->entry));
    }
    if (!e && o && o->record)
        e = dl_buf_printf(b, ",\"record\":%llu", (unsigned long long)o->record);
    if (!e && o && o->line)
        e = dl_buf_printf(b, ",\"line\":%llu", (unsigned long long)o->line);
    if (!e && o && o->column)
        e = dl_buf_printf(b, ",\"column\":%llu", (unsigned long long)o->column);
    if (!e && request_wire.len) {
        e = dl_buf_append_str(b, ",\"request\":");
        if (!e)
            e = dl_buf_append_cur(b, request_wire);
    }
    if (!e && raw.len)
        e = append_raw(b, raw);
    if (!e)
        e = dl_buf_append_str(b, "}\n");
    if (e)
        goto out;
    const uint8_t *out = b->data;
    size_t outlen = b->len;
    if (d->zst) {
        /* one complete frame per record: the file is always a valid zstd stream up to the last
         * record written, whatever happens to the process after that */
        size_t bound = ZSTD_compressBound(b->len);
        dl_buf_reset(&d->frame);
        if ((e = dl_buf_reserve(&d->frame, bound)))
            goto out;
        size_t z = ZSTD_compress(d->frame.data, bound, b->data, b->len, 3);
        if (ZSTD_isError(z)) {
            snprintf(d->error, sizeof d->error, "cannot compress a dead-letter record: %s", ZSTD_getErrorName(z));
            e = DL_ERR_IO;
            goto out;
        }
        out = d->frame.data;
        outlen = z;
    }
    if (fwrite(out, 1, outlen, d->f) != outlen || fflush(d->f) != 0) {
        snprintf(d->error, sizeof d->error, "cannot write dead-letter file %s: %s", d->path,
                 strerror(errno));
        e = DL_ERR_IO;
        goto out;
    }
    d->count++;
    enum dl_dead_kind k = raw.len ? DL_DEAD_BAD_RECORD
                          : !request_wire.len ? DL_DEAD_SKIPPED
                          : strstr(reason, "ValidationException") ? DL_DEAD_REJECTED
                          : !strncmp(reason, "not written after", 17) ? DL_DEAD_RETRIES
                                                                       : DL_DEAD_STOPPED;
    d->kinds[k]++;
out:
    pthread_mutex_unlock(&d->mu);
    return e;
}

void dl_deadletter_sync(struct dl_deadletter *d)
{
    pthread_mutex_lock(&d->mu);
    if (d->f)
        fsync(fileno(d->f));
    pthread_mutex_unlock(&d->mu);
}

uint64_t dl_deadletter_count(struct dl_deadletter *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

const char *dl_dead_kind_name(enum dl_dead_kind k)
{
    static const char *names[DL_DEAD_KINDS] = { "bad_record", "object_skipped", "rejected_by_dynamodb",
                                                 "retries_exhausted", "run_stopped" };
    return k < DL_DEAD_KINDS ? names[k] : "other";
}

void dl_deadletter_counts(struct dl_deadletter *d, uint64_t out[DL_DEAD_KINDS])
{
    pthread_mutex_lock(&d->mu);
    memcpy(out, d->kinds, sizeof d->kinds);
    pthread_mutex_unlock(&d->mu);
}

const char *dl_deadletter_path(const struct dl_deadletter *d)
{
    return d->path;
}

const char *dl_deadletter_error(struct dl_deadletter *d)
{
    return d->error[0] ? d->error : NULL;
}

enum dl_err dl_deadletter_read(const char *path, struct dl_buf *out, char *err, size_t errlen)
{
    struct dl_buf raw;
    dl_buf_init(&raw, out->cap);
    enum dl_err e = dl_buf_read_file(&raw, path);
    if (e) {
        snprintf(err, errlen, "%s: cannot read the dead-letter file: %s", path, dl_err_str(e));
        goto out;
    }
    static const uint8_t magic[4] = { 0x28, 0xb5, 0x2f, 0xfd };
    if (raw.len < 4 || memcmp(raw.data, magic, 4) != 0) {
        e = dl_buf_append(out, raw.data, raw.len);
        goto out;
    }
    ZSTD_DStream *z = ZSTD_createDStream();
    if (!z) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    ZSTD_inBuffer ib = { raw.data, raw.len, 0 };
    size_t rc = 0;
    while (ib.pos < ib.size) {
        if ((e = dl_buf_reserve(out, 1 << 17)))
            break;
        ZSTD_outBuffer ob = { out->data + out->len, out->alloc - out->len - 1, 0 };
        rc = ZSTD_decompressStream(z, &ob, &ib);
        out->len += ob.pos;
        out->data[out->len] = 0;
        if (ZSTD_isError(rc)) {
            snprintf(err, errlen, "%s: corrupt zstd data: %s", path, ZSTD_getErrorName(rc));
            e = DL_ERR_PARSE;
            break;
        }
    }
    if (!e && rc != 0)
        snprintf(err, errlen, "%s: the last record is truncated (ignored)", path);
    ZSTD_freeDStream(z);
out:
    dl_buf_free(&raw);
    return e;
}
