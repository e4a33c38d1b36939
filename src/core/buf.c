#include "core/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dl_cursor dl_cursor_str(const char *s)
{
    return dl_cursor_of(s, s ? strlen(s) : 0);
}

bool dl_cursor_eq(struct dl_cursor a, struct dl_cursor b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

bool dl_cursor_eq_str(struct dl_cursor a, const char *s)
{
    return dl_cursor_eq(a, dl_cursor_str(s));
}

void dl_buf_init(struct dl_buf *b, size_t cap)
{
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
    b->cap = cap ? cap : DL_BUF_DEFAULT_CAP;
}

void dl_buf_free(struct dl_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->alloc = 0;
}

enum dl_err dl_buf_reserve(struct dl_buf *b, size_t n)
{
    if (n > b->cap || b->len > b->cap - n)
        return DL_ERR_TOO_LARGE;
    size_t need = b->len + n + 1; /* +1 keeps room for the NUL terminator */
    if (need <= b->alloc)
        return DL_OK;
    size_t na = b->alloc ? b->alloc : 64;
    while (na < need)
        na = na > SIZE_MAX / 2 ? need : na * 2;
    if (na > b->cap + 1)
        na = b->cap + 1;
    uint8_t *p = realloc(b->data, na);
    if (!p)
        return DL_ERR_NOMEM;
    b->data = p;
    b->alloc = na;
    return DL_OK;
}

enum dl_err dl_buf_append_slow(struct dl_buf *b, const void *p, size_t n)
{
    enum dl_err e = dl_buf_reserve(b, n);
    if (e)
        return e;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
    return DL_OK;
}

enum dl_err dl_buf_append_str(struct dl_buf *b, const char *s)
{
    return dl_buf_append(b, s, strlen(s));
}

enum dl_err dl_buf_printf(struct dl_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return DL_ERR_INVALID;
    enum dl_err e = dl_buf_reserve(b, (size_t)n);
    if (e)
        return e;
    va_start(ap, fmt);
    vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return DL_OK;
}

enum dl_err dl_buf_append_json_str(struct dl_buf *b, const void *pv, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const uint8_t *p = pv;
    enum dl_err e = dl_buf_reserve(b, n + 2);
    if (e)
        return e;
    size_t start = b->len;
    e = dl_buf_append_byte(b, '"');
    for (size_t i = 0; !e && i < n; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            uint8_t esc[2] = { '\\', c };
            e = dl_buf_append(b, esc, 2);
        } else if (c < 0x20) {
            uint8_t esc[6] = { '\\', 'u', '0', '0', (uint8_t)hex[c >> 4], (uint8_t)hex[c & 15] };
            switch (c) {
            case '\n': e = dl_buf_append(b, "\\n", 2); break;
            case '\r': e = dl_buf_append(b, "\\r", 2); break;
            case '\t': e = dl_buf_append(b, "\\t", 2); break;
            case '\b': e = dl_buf_append(b, "\\b", 2); break;
            case '\f': e = dl_buf_append(b, "\\f", 2); break;
            default: e = dl_buf_append(b, esc, 6); break;
            }
        } else {
            /* copy the run of plain bytes in one go */
            size_t j = i + 1;
            while (j < n && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\')
                j++;
            e = dl_buf_append(b, p + i, j - i);
            i = j - 1;
        }
    }
    if (!e)
        e = dl_buf_append_byte(b, '"');
    if (e) {
        b->len = start;
        if (b->data)
            b->data[start] = 0;
    }
    return e;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

enum dl_err dl_buf_append_base64(struct dl_buf *b, const void *pv, size_t n)
{
    const uint8_t *p = pv;
    enum dl_err e = dl_buf_reserve(b, (n + 2) / 3 * 4);
    if (e)
        return e;
    uint8_t *o = b->data + b->len;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = (uint8_t)b64[v >> 18];
        *o++ = (uint8_t)b64[(v >> 12) & 63];
        *o++ = (uint8_t)b64[(v >> 6) & 63];
        *o++ = (uint8_t)b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = (uint8_t)b64[v >> 18];
        *o++ = (uint8_t)b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = (uint8_t)b64[v >> 18];
        *o++ = (uint8_t)b64[(v >> 12) & 63];
        *o++ = (uint8_t)b64[(v >> 6) & 63];
        *o++ = '=';
    }
    b->len = (size_t)(o - b->data);
    b->data[b->len] = 0;
    return DL_OK;
}

static int b64val(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

enum dl_err dl_base64_decode(struct dl_cursor in, struct dl_buf *out)
{
    size_t n = in.len;
    while (n > 0 && in.ptr[n - 1] == '=' && in.len - n < 2)
        n--;
    if (n % 4 == 1)
        return DL_ERR_PARSE;
    if (in.len != n && in.len % 4 != 0)
        return DL_ERR_PARSE;
    enum dl_err e = dl_buf_reserve(out, n / 4 * 3 + 2);
    if (e)
        return e;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64val(in.ptr[i]);
        if (v < 0)
            return DL_ERR_PARSE;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out->data[out->len++] = (uint8_t)(acc >> bits);
        }
    }
    /* leftover bits must be zero for a canonical encoding */
    if (bits && (acc & ((1u << bits) - 1)))
        return DL_ERR_PARSE;
    out->data[out->len] = 0;
    return DL_OK;
}

enum dl_err dl_buf_read_file(struct dl_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? DL_ERR_NOT_FOUND : DL_ERR_IO;
    enum dl_err e = DL_OK;
    for (;;) {
        e = dl_buf_reserve(b, 1 << 16);
        if (e)
            break;
        size_t got = fread(b->data + b->len, 1, (1 << 16), f);
        b->len += got;
        b->data[b->len] = 0;
        if (got < (1 << 16)) {
            if (ferror(f))
                e = DL_ERR_IO;
            break;
        }
    }
    fclose(f);
    return e;
}
