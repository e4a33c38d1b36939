#include "core/spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages are given back in steps of at least this much, to keep madvise calls rare. */
#define RELEASE_STEP ((size_t)8 << 20)

const char *dl_spill_tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

void dl_spill_init(struct dl_spill *s, size_t mem_max, uint64_t max_total)
{
    memset(s, 0, sizeof *s);
    dl_buf_init(&s->mem, 0);
    s->mem_max = mem_max;
    s->max_total = max_total;
    s->fd = -1;
}

static enum dl_err write_all(struct dl_spill *s, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(s->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            snprintf(s->err, sizeof s->err, "cannot write a temporary file in %s: %s", dl_spill_tmpdir(),
                     strerror(errno));
            return DL_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return DL_OK;
}

/* Move to an unlinked temporary file (nothing to clean up after a crash). */
static enum dl_err to_disk(struct dl_spill *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ddbload-spill-XXXXXX", dl_spill_tmpdir());
    s->fd = mkstemp(path);
    if (s->fd < 0) {
        snprintf(s->err, sizeof s->err, "cannot create a temporary file in %s: %s", dl_spill_tmpdir(),
                 strerror(errno));
        return DL_ERR_IO;
    }
    unlink(path);
    enum dl_err e = write_all(s, s->mem.data ? s->mem.data : (const uint8_t *)"", s->mem.len);
    dl_buf_free(&s->mem);
    return e;
}

enum dl_err dl_spill_write(struct dl_spill *s, const void *p, size_t n)
{
    if (s->max_total && s->len + n > s->max_total) {
        snprintf(s->err, sizeof s->err, "more than %llu bytes", (unsigned long long)s->max_total);
        return DL_ERR_TOO_LARGE;
    }
    enum dl_err e;
    if (s->fd < 0 && s->mem.len + n > s->mem_max && (e = to_disk(s)))
        return e;
    e = s->fd >= 0 ? write_all(s, p, n) : dl_buf_append(&s->mem, p, n);
    if (!e)
        s->len += n;
    return e;
}

static enum dl_err map_fd(struct dl_spill *s, struct dl_cursor *out)
{
    if (s->len == 0) {
        *out = dl_cursor_of(NULL, 0);
        return DL_OK;
    }
    /* one extra zero page after the data keeps SIMD readers' 64-byte overreads in bounds only if
     * the length is not a page multiple; readers must not rely on padding past a mapped view. */
    void *m = mmap(NULL, (size_t)s->len, PROT_READ, MAP_PRIVATE, s->fd, 0);
    if (m == MAP_FAILED) {
        snprintf(s->err, sizeof s->err, "cannot map a %llu-byte file: %s", (unsigned long long)s->len,
                 strerror(errno));
        return DL_ERR_IO;
    }
    madvise(m, (size_t)s->len, MADV_SEQUENTIAL);
    s->map = m;
    s->map_len = (size_t)s->len;
    *out = dl_cursor_of(s->map, s->map_len);
    return DL_OK;
}

enum dl_err dl_spill_view(struct dl_spill *s, struct dl_cursor *out)
{
    if (s->map) {
        *out = dl_cursor_of(s->map, s->map_len);
        return DL_OK;
    }
    if (s->fd < 0) {
        *out = dl_buf_cur(&s->mem);
        return DL_OK;
    }
    return map_fd(s, out);
}

enum dl_err dl_spill_map_file(struct dl_spill *s, const char *path, struct dl_cursor *out)
{
    dl_spill_free(s);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        snprintf(s->err, sizeof s->err, "%s", strerror(errno));
        return errno == ENOENT ? DL_ERR_NOT_FOUND : DL_ERR_IO;
    }
    struct stat st;
    if (fstat(s->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(s->err, sizeof s->err, "not a regular file");
        return DL_ERR_IO;
    }
    s->len = (uint64_t)st.st_size;
    return map_fd(s, out);
}

void dl_spill_release(struct dl_spill *s, const uint8_t *upto)
{
    if (!s->map || upto < s->map || upto > s->map + s->map_len)
        return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t end = (size_t)(upto - s->map) / page * page;
    if (end < s->released + RELEASE_STEP)
        return;
    madvise(s->map + s->released, end - s->released, MADV_DONTNEED);
    s->released = end;
}

void dl_spill_free(struct dl_spill *s)
{
    if (s->map)
        munmap(s->map, s->map_len);
    if (s->fd >= 0)
        close(s->fd);
    dl_buf_free(&s->mem);
    size_t mem_max = s->mem_max;
    uint64_t max_total = s->max_total;
    dl_spill_init(s, mem_max, max_total);
}
