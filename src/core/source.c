#include "core/source.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

/* stat's errno as a dl_err, with the message the CLI shows. */
static enum dl_err stat_error(int e, const char *path, char *err, size_t errlen)
{
    if (e == ENOENT || e == ENOTDIR) {
        seterr(err, errlen, "no such file or directory: %s", path);
        return DL_ERR_NOT_FOUND;
    }
    seterr(err, errlen, "cannot access %s: %s", path, strerror(e));
    return DL_ERR_IO;
}

/* Bucket names: today's rules are [a-z0-9.-]; legacy us-east-1 buckets may also hold
 * upper case and '_', up to 255 characters. Anything else cannot be a bucket. */
static bool valid_bucket(const char *b, size_t n)
{
    if (n == 0 || n > 255)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '_'))
            return false;
    }
    return true;
}

void dl_source_free(struct dl_source *s)
{
    if (!s)
        return;
    free(s->bucket);
    free(s->prefix);
    free(s->path);
    memset(s, 0, sizeof *s);
}

enum dl_err dl_source_parse(const char *arg, struct dl_source *out, char *err, size_t errlen)
{
    enum dl_err rc = DL_OK;
    struct dl_source s = { 0 };

    if (!out) {
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "dl_source_parse: invalid argument");
        goto out;
    }
    memset(out, 0, sizeof *out);
    if (!arg || !*arg) {
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "empty SOURCE: expected s3://bucket/prefix, a file or a directory");
        goto out;
    }
    if (strncasecmp(arg, "s3://", 5) == 0) {
        const char *b = arg + 5;
        const char *slash = strchr(b, '/');
        size_t blen = slash ? (size_t)(slash - b) : strlen(b);
        if (blen == 0) {
            rc = DL_ERR_INVALID;
            seterr(err, errlen, "missing bucket name in '%s': expected s3://bucket/prefix", arg);
            goto out;
        }
        if (!valid_bucket(b, blen)) {
            rc = DL_ERR_INVALID;
            seterr(err, errlen, "invalid bucket name '%.*s' in '%s'", (int)blen, b, arg);
            goto out;
        }
        s.kind = DL_SOURCE_S3;
        s.bucket = dup_n(b, blen);
        s.prefix = slash ? strdup(slash + 1) : strdup("");
        if (!s.bucket || !s.prefix) {
            rc = DL_ERR_NOMEM;
            seterr(err, errlen, "out of memory");
            goto out;
        }
    } else if (strncasecmp(arg, "s3:", 3) == 0) {
        /* "s3:/bucket", "s3:bucket": a typo, not a local file */
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "malformed S3 URL '%s': expected s3://bucket/prefix", arg);
        goto out;
    } else {
        struct stat st;
        if (stat(arg, &st) != 0) {
            rc = stat_error(errno, arg, err, errlen);
            goto out;
        }
        if (S_ISREG(st.st_mode))
            s.kind = DL_SOURCE_FILE;
        else if (S_ISDIR(st.st_mode))
            s.kind = DL_SOURCE_DIR;
        else {
            rc = DL_ERR_INVALID;
            seterr(err, errlen, "not a regular file or directory: %s", arg);
            goto out;
        }
        s.path = strdup(arg);
        if (!s.path) {
            rc = DL_ERR_NOMEM;
            seterr(err, errlen, "out of memory");
            goto out;
        }
    }
    *out = s;
    memset(&s, 0, sizeof s);

out:
    dl_source_free(&s);
    return rc;
}

/* ---- listing ---- */

struct walk {
    const char *root; /* the given directory, without trailing slashes ("" for "/") */
    size_t rootlen;
    struct dl_source_entry *items;
    size_t count, cap;
    char **dirs; /* pending folders, as keys relative to root */
    size_t ndirs, dcap;
};

static enum dl_err grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return DL_OK;
    size_t nc = *cap ? *cap * 2 : 64;
    if (nc < need || nc > SIZE_MAX / elem)
        return DL_ERR_NOMEM;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return DL_ERR_NOMEM;
    *p = q;
    *cap = nc;
    return DL_OK;
}

static enum dl_err add_entry(struct walk *w, char *path, size_t keyoff, const struct stat *st)
{
    enum dl_err rc = grow((void **)&w->items, &w->cap, w->count + 1, sizeof *w->items);
    if (rc)
        return rc;
    struct dl_source_entry *e = &w->items[w->count++];
    e->path = path;
    e->key = path + keyoff;
    e->size = (uint64_t)st->st_size;
    e->mtime_sec = (int64_t)st->st_mtim.tv_sec;
    e->mtime_nsec = (int32_t)st->st_mtim.tv_nsec;
    return DL_OK;
}

/* root + "/" + rel + ("/" + name); rel and name may be empty. */
static char *join(const struct walk *w, const char *rel, const char *name)
{
    size_t rl = strlen(rel), nl = name ? strlen(name) : 0;
    char *p = malloc(w->rootlen + 1 + rl + 1 + nl + 1);
    if (!p)
        return NULL;
    char *o = p;
    memcpy(o, w->root, w->rootlen);
    o += w->rootlen;
    if (rl) {
        *o++ = '/';
        memcpy(o, rel, rl);
        o += rl;
    }
    if (name) {
        *o++ = '/';
        memcpy(o, name, nl);
        o += nl;
    }
    *o = 0;
    if (w->rootlen == 0 && p[0] == 0) {
        /* listing "/" itself */
        p[0] = '/';
        p[1] = 0;
    }
    return p;
}

/* Read one folder: files become entries, sub-folders are queued. */
static enum dl_err walk_dir(struct walk *w, const char *rel, char *err, size_t errlen)
{
    enum dl_err rc = DL_OK;
    char *dirpath = join(w, rel, NULL);
    DIR *d = NULL;
    char *path = NULL;

    if (!dirpath) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    d = opendir(dirpath);
    if (!d) {
        if (errno == ENOENT && *rel)
            goto out; /* removed while we were listing */
        rc = errno == ENOENT ? DL_ERR_NOT_FOUND : DL_ERR_IO;
        seterr(err, errlen, "cannot read directory %s: %s", dirpath, strerror(errno));
        goto out;
    }
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) {
                rc = DL_ERR_IO;
                seterr(err, errlen, "cannot read directory %s: %s", dirpath, strerror(errno));
            }
            break;
        }
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and hidden files and folders */
        path = join(w, rel, de->d_name);
        if (!path) {
            rc = DL_ERR_NOMEM;
            goto out;
        }
        struct stat st;
        if (lstat(path, &st) != 0) {
            if (errno == ENOENT)
                goto next;
            rc = DL_ERR_IO;
            seterr(err, errlen, "cannot access %s: %s", path, strerror(errno));
            goto out;
        }
        bool link = S_ISLNK(st.st_mode);
        if (link && stat(path, &st) != 0)
            goto next; /* dangling (or looping) symlink */
        size_t keyoff = w->rootlen + 1;
        if (S_ISDIR(st.st_mode)) {
            if (link)
                goto next; /* never follow a symlink to a folder: no loops, no escapes */
            rc = grow((void **)&w->dirs, &w->dcap, w->ndirs + 1, sizeof *w->dirs);
            if (rc)
                goto out;
            char *sub = strdup(path + keyoff);
            if (!sub) {
                rc = DL_ERR_NOMEM;
                goto out;
            }
            w->dirs[w->ndirs++] = sub;
        } else if (S_ISREG(st.st_mode)) {
            rc = add_entry(w, path, keyoff, &st);
            if (rc)
                goto out;
            path = NULL;
        }
    next:
        free(path);
        path = NULL;
    }

out:
    if (rc == DL_ERR_NOMEM)
        seterr(err, errlen, "out of memory listing %s", w->root);
    free(path);
    if (d)
        closedir(d);
    free(dirpath);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    const struct dl_source_entry *x = a, *y = b;
    return strcmp(x->key, y->key); /* compares as unsigned char: UTF-8 byte order, like S3 */
}

void dl_source_list_free(struct dl_source_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i].path);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

enum dl_err dl_source_list_local(const char *path, struct dl_source_list *out, char *err,
                                 size_t errlen)
{
    enum dl_err rc = DL_OK;
    struct walk w = { 0 };
    char *root = NULL;

    if (!out || !path || !*path) {
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "dl_source_list_local: invalid argument");
        goto out;
    }
    out->items = NULL;
    out->count = 0;
    struct stat st;
    if (stat(path, &st) != 0) {
        rc = stat_error(errno, path, err, errlen);
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        char *p = strdup(path);
        if (!p) {
            rc = DL_ERR_NOMEM;
            seterr(err, errlen, "out of memory");
            goto out;
        }
        const char *base = strrchr(p, '/');
        size_t keyoff = base ? (size_t)(base + 1 - p) : 0;
        rc = add_entry(&w, p, keyoff, &st);
        if (rc) {
            free(p);
            seterr(err, errlen, "out of memory");
            goto out;
        }
    } else if (S_ISDIR(st.st_mode)) {
        size_t n = strlen(path);
        while (n > 0 && path[n - 1] == '/')
            n--;
        root = dup_n(path, n);
        if (!root) {
            rc = DL_ERR_NOMEM;
            seterr(err, errlen, "out of memory");
            goto out;
        }
        w.root = root;
        w.rootlen = n;
        /* a work list of folders, one open DIR at a time: deep trees cannot exhaust descriptors;
         * the order does not matter, the result is sorted */
        rc = walk_dir(&w, "", err, errlen);
        while (!rc && w.ndirs > 0) {
            char *rel = w.dirs[--w.ndirs];
            rc = walk_dir(&w, rel, err, errlen);
            free(rel);
        }
    } else {
        rc = DL_ERR_INVALID;
        seterr(err, errlen, "not a regular file or directory: %s", path);
        goto out;
    }
    if (rc)
        goto out;
    if (w.count > 1)
        qsort(w.items, w.count, sizeof *w.items, by_key);
    out->items = w.items;
    out->count = w.count;
    w.items = NULL;
    w.count = 0;

out:
    for (size_t i = 0; i < w.count; i++)
        free(w.items[i].path);
    free(w.items);
    for (size_t i = 0; i < w.ndirs; i++)
        free(w.dirs[i]);
    free(w.dirs);
    free(root);
    return rc;
}
