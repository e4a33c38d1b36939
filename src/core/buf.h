/* Byte cursors (borrowed views) and capped growable byte buffers.
 * A dl_buf never grows past its cap: appends fail with DL_ERR_TOO_LARGE instead,
 * so malformed input cannot make the process allocate without bound. */
#ifndef DL_CORE_BUF_H
#define DL_CORE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

/* A borrowed view of bytes; never owns, never NUL-terminated by contract. */
struct dl_cursor {
    const uint8_t *ptr;
    size_t len;
};

static inline struct dl_cursor dl_cursor_of(const void *p, size_t n)
{
    struct dl_cursor c = { (const uint8_t *)p, n };
    return c;
}
struct dl_cursor dl_cursor_str(const char *s); /* view of a C string, without its NUL */
bool dl_cursor_eq(struct dl_cursor a, struct dl_cursor b);
bool dl_cursor_eq_str(struct dl_cursor a, const char *s);

#define DL_BUF_DEFAULT_CAP ((size_t)1 << 34) /* 16 GiB: effectively "only memory limits" */

struct dl_buf {
    uint8_t *data; /* always NUL-terminated after any successful append (data[len] == 0) */
    size_t len;
    size_t alloc;
    size_t cap;    /* maximum len; appends past it fail with DL_ERR_TOO_LARGE */
};

/* Initialise an empty buffer with the given cap (0 = DL_BUF_DEFAULT_CAP). Allocates nothing. */
void dl_buf_init(struct dl_buf *b, size_t cap);
/* Free the storage; the buffer is left empty and reusable. */
void dl_buf_free(struct dl_buf *b);
/* Forget the contents, keep the storage. */
static inline void dl_buf_reset(struct dl_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = 0;
}
/* Make room for n more bytes. */
enum dl_err dl_buf_reserve(struct dl_buf *b, size_t n);
enum dl_err dl_buf_append_slow(struct dl_buf *b, const void *p, size_t n);
/* Append n bytes (inline when they fit in the current allocation). */
static inline enum dl_err dl_buf_append(struct dl_buf *b, const void *p, size_t n)
{
    if (b->data && n < b->alloc - b->len && b->len + n <= b->cap) {
        __builtin_memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return DL_OK;
    }
    return dl_buf_append_slow(b, p, n);
}
static inline enum dl_err dl_buf_append_byte(struct dl_buf *b, uint8_t c)
{
    if (b->data && b->len + 1 < b->alloc && b->len < b->cap) {
        b->data[b->len++] = c;
        b->data[b->len] = 0;
        return DL_OK;
    }
    return dl_buf_append_slow(b, &c, 1);
}
enum dl_err dl_buf_append_str(struct dl_buf *b, const char *s);
static inline enum dl_err dl_buf_append_cur(struct dl_buf *b, struct dl_cursor c)
{
    return dl_buf_append(b, c.ptr, c.len);
}
enum dl_err dl_buf_printf(struct dl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append p[0..n) as a JSON string literal with quotes, escaping '"', '\\' and control bytes.
 * The input must already be valid UTF-8 (it is copied byte for byte otherwise). */
enum dl_err dl_buf_append_json_str(struct dl_buf *b, const void *p, size_t n);
/* Append the standard base64 (RFC 4648, with padding) encoding of p[0..n). */
enum dl_err dl_buf_append_base64(struct dl_buf *b, const void *p, size_t n);
static inline struct dl_cursor dl_buf_cur(const struct dl_buf *b)
{
    return dl_cursor_of(b->data, b->len);
}

/* Decode standard base64 (padding optional, no whitespace) into out. DL_ERR_PARSE if invalid. */
enum dl_err dl_base64_decode(struct dl_cursor in, struct dl_buf *out);

/* Read a whole local file into b (b's cap applies). DL_ERR_NOT_FOUND / DL_ERR_IO on failure. */
enum dl_err dl_buf_read_file(struct dl_buf *b, const char *path);

#endif
