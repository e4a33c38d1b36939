/* Text helpers for error messages (see item_impl.h). */
#include <stdio.h>
#include <string.h>

#include "item/item_impl.h"

/* Length of the valid UTF-8 sequence starting at p[0..n), or 0 if it is not one
 * (overlongs, surrogates and code points past U+10FFFF are not valid). */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2; cp = c & 0x1f; min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3; cp = c & 0x0f; min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4; cp = c & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void dl_item_quote(char *dst, size_t cap, struct dl_cursor s, size_t max)
{
    size_t o = 0, i = 0;
    if (max > cap - 4)
        max = cap - 4;
    while (i < s.len) {
        size_t n = utf8_seq(s.ptr + i, s.len - i);
        size_t out = n ? n : 1;
        if (o + out > max) {
            memcpy(dst + o, "...", 3);
            o += 3;
            break;
        }
        if (n == 1 && (s.ptr[i] < 0x20 || s.ptr[i] == 0x7f))
            dst[o] = '?';
        else if (n == 0)
            dst[o] = '?';
        else
            memcpy(dst + o, s.ptr + i, n);
        o += out;
        i += out;
    }
    dst[o] = 0;
}

const char *dl_item_thousands(size_t v, char *dst)
{
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%zu", v);
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            dst[o++] = ',';
        dst[o++] = digits[i];
    }
    dst[o] = 0;
    return dst;
}
