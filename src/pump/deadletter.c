#include "pump/deadletter.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

struct dl_deadletter {
    pthread_mutex_t mu;
    char *path;
    FILE *f;
    uint64_t count;
    struct dl_buf line;
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
    free(d->path);
    free(d);
}

/* Raw input may be any bytes: keep valid UTF-8 as is, otherwise store it base64-encoded. */
static enum dl_err append_raw(struct dl_buf *b, struct dl_cursor raw)
{
    size_t bad;
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
    if (fwrite(b->data, 1, b->len, d->f) != b->len || fflush(d->f) != 0) {
        snprintf(d->error, sizeof d->error, "cannot write dead-letter file %s: %s", d->path,
                 strerror(errno));
        e = DL_ERR_IO;
        goto out;
    }
    d->count++;
out:
    pthread_mutex_unlock(&d->mu);
    return e;
}

uint64_t dl_deadletter_count(struct dl_deadletter *d)
{
    pthread_mutex_lock(&d->mu);
    uint64_t n = d->count;
    pthread_mutex_unlock(&d->mu);
    return n;
}

const char *dl_deadletter_path(const struct dl_deadletter *d)
{
    return d->path;
}

const char *dl_deadletter_error(struct dl_deadletter *d)
{
    return d->error[0] ? d->error : NULL;
}
