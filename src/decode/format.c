#include "decode/format.h"

#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    enum dl_format fmt;
} cli_names[] = {
    { "auto", DL_FMT_AUTO },         { "csv", DL_FMT_CSV },
    { "tsv", DL_FMT_TSV },           { "json", DL_FMT_JSON },
    { "ndjson", DL_FMT_NDJSON },     { "ddb-json", DL_FMT_DDB_JSON },
    { "ddb-export", DL_FMT_DDB_EXPORT }, { "js", DL_FMT_JS },
};

enum dl_err dl_format_parse(const char *name, enum dl_format *out)
{
    if (!name || !out)
        return DL_ERR_INVALID;
    for (size_t i = 0; i < sizeof cli_names / sizeof cli_names[0]; i++) {
        if (strcasecmp(name, cli_names[i].name) == 0) {
            *out = cli_names[i].fmt;
            return DL_OK;
        }
    }
    return DL_ERR_INVALID;
}

const char *dl_format_name(enum dl_format f)
{
    for (size_t i = 0; i < sizeof cli_names / sizeof cli_names[0]; i++)
        if (cli_names[i].fmt == f)
            return cli_names[i].name;
    switch (f) {
    case DL_FMT_ZIP: return "zip";
    case DL_FMT_GZIP: return "gzip";
    case DL_FMT_ZSTD: return "zstd";
    default: return "unknown";
    }
}

bool dl_format_is_container(enum dl_format f)
{
    return f == DL_FMT_ZIP || f == DL_FMT_GZIP || f == DL_FMT_ZSTD;
}

/* ---- names ---- */

static const struct {
    const char *ext;
    enum dl_format fmt;
} extensions[] = {
    { "csv", DL_FMT_CSV },     { "tsv", DL_FMT_TSV },       { "tab", DL_FMT_TSV },
    { "json", DL_FMT_JSON },   { "ndjson", DL_FMT_NDJSON }, { "jsonl", DL_FMT_NDJSON },
    { "js", DL_FMT_JS },       { "mjs", DL_FMT_JS },        { "cjs", DL_FMT_JS },
    { "zip", DL_FMT_ZIP },     { "gz", DL_FMT_GZIP },       { "gzip", DL_FMT_GZIP },
    { "zst", DL_FMT_ZSTD },    { "zstd", DL_FMT_ZSTD },
};

/* The extension of the last path component, without its dot; empty if none. A leading dot
 * (".profile") names a hidden file, not an extension. */
static struct dl_cursor extension_of(struct dl_cursor name)
{
    size_t base = name.len;
    while (base > 0 && name.ptr[base - 1] != '/')
        base--;
    for (size_t i = name.len; i > base + 1; i--)
        if (name.ptr[i - 1] == '.')
            return dl_cursor_of(name.ptr + i, name.len - i);
    return dl_cursor_of(name.ptr + name.len, 0);
}

static enum dl_format format_of_extension(struct dl_cursor ext)
{
    for (size_t i = 0; i < sizeof extensions / sizeof extensions[0]; i++) {
        const char *e = extensions[i].ext;
        if (strlen(e) == ext.len && strncasecmp((const char *)ext.ptr, e, ext.len) == 0)
            return extensions[i].fmt;
    }
    return DL_FMT_UNKNOWN;
}

struct dl_cursor dl_format_inner_name(struct dl_cursor name)
{
    struct dl_cursor ext = extension_of(name);
    enum dl_format f = format_of_extension(ext);
    if (f == DL_FMT_GZIP || f == DL_FMT_ZSTD)
        name.len -= ext.len + 1;
    return name;
}

/* ---- content ---- */

static bool has_magic(struct dl_cursor h, const char *m, size_t n)
{
    return h.len >= n && memcmp(h.ptr, m, n) == 0;
}

static enum dl_format sniff_magic(struct dl_cursor h)
{
    if (has_magic(h, "PK\x03\x04", 4) || has_magic(h, "PK\x05\x06", 4) ||
        has_magic(h, "PK\x07\x08", 4))
        return DL_FMT_ZIP;
    if (has_magic(h, "\x1f\x8b", 2))
        return DL_FMT_GZIP;
    if (has_magic(h, "\x28\xb5\x2f\xfd", 4))
        return DL_FMT_ZSTD;
    /* a zstd skippable frame (0x184D2A50..5F little-endian) may precede the first frame */
    if (h.len >= 4 && (h.ptr[0] & 0xf0) == 0x50 && h.ptr[1] == 0x2a && h.ptr[2] == 0x4d &&
        h.ptr[3] == 0x18)
        return DL_FMT_ZSTD;
    return DL_FMT_UNKNOWN;
}

static bool is_ws(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Length of the valid UTF-8 sequence at p[0..n), 0 if invalid, n if cut short by the end. */
static size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    else if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0;
        if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        if (c == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n)
            return n; /* the head ends mid-character: fine */
        if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
            return 0;
    }
    return len;
}

/* Text or binary? Binary: any NUL, more than 1% other control bytes, or invalid UTF-8 with
 * more than 30% high bytes (legacy 8-bit text such as Latin-1 stays "text"). */
static bool looks_like_text(struct dl_cursor h)
{
    size_t ctrl = 0, high = 0;
    bool utf8 = true;
    for (size_t i = 0; i < h.len;) {
        uint8_t c = h.ptr[i];
        if (c == 0)
            return false;
        if ((c < 0x20 && !is_ws(c) && c != '\f' && c != '\v' && c != 0x1b && c != 0x1a) ||
            c == 0x7f)
            ctrl++;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n = utf8_seq(h.ptr + i, h.len - i);
        if (n == 0) {
            utf8 = false;
            n = 1;
        }
        high += n;
        i += n;
    }
    if (ctrl * 100 > h.len)
        return false;
    return utf8 || high * 10 <= h.len * 3;
}

/* p[0] == '{': does the line end right after a complete object (whitespace aside)?
 * Returns the offset just past that line's '\n', or 0 if not. */
static size_t complete_object_line(const uint8_t *p, size_t n)
{
    size_t depth = 0;
    bool str = false, esc = false;
    size_t i = 0;
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                str = false;
            else if (c == '\n')
                return 0;
            continue;
        }
        if (c == '\n')
            return 0;
        if (c == '"')
            str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (depth == 0)
                return 0;
            if (--depth == 0)
                break;
        }
    }
    if (i == n)
        return 0;
    for (i++; i < n && p[i] != '\n'; i++)
        if (!is_ws(p[i]))
            return 0;
    return i < n ? i + 1 : 0;
}

static bool is_ident(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$';
}

static bool starts_with(const uint8_t *p, size_t n, const char *s)
{
    size_t k = strlen(s);
    return n >= k && memcmp(p, s, k) == 0;
}

/* module.exports = ..., exports.x = ..., export default ..., const items = ..., a comment. */
static bool looks_like_js(const uint8_t *p, size_t n)
{
    if (starts_with(p, n, "//") || starts_with(p, n, "/*") || starts_with(p, n, "module.exports") ||
        starts_with(p, n, "exports.") || starts_with(p, n, "export "))
        return true;
    static const char *decl[] = { "const", "let", "var" };
    for (size_t d = 0; d < 3; d++) {
        size_t k = strlen(decl[d]);
        if (!starts_with(p, n, decl[d]) || k >= n || !is_ws(p[k]))
            continue;
        size_t i = k;
        while (i < n && is_ws(p[i]))
            i++;
        size_t id = i;
        while (i < n && is_ident(p[i]))
            i++;
        if (i == id)
            return false;
        while (i < n && is_ws(p[i]))
            i++;
        return i < n && p[i] == '=';
    }
    return false;
}

static enum dl_format sniff_text(struct dl_cursor h)
{
    const uint8_t *p = h.ptr;
    size_t n = h.len;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf) {
        p += 3;
        n -= 3;
    }
    size_t i = 0;
    while (i < n && is_ws(p[i]))
        i++;
    if (i == n || !looks_like_text(dl_cursor_of(p, n)))
        return DL_FMT_UNKNOWN;

    if (p[i] == '[')
        return DL_FMT_JSON;
    if (p[i] == '{') {
        size_t next = complete_object_line(p + i, n - i);
        if (next) {
            size_t j = i + next;
            while (j < n && is_ws(p[j]))
                j++;
            if (j < n && p[j] == '{')
                return DL_FMT_NDJSON;
        }
        return DL_FMT_JSON;
    }
    if (looks_like_js(p + i, n - i))
        return DL_FMT_JS;

    /* the first non-blank line, whole: a TSV may start with an empty (tab) cell */
    size_t ls = i;
    while (ls > 0 && p[ls - 1] != '\n')
        ls--;
    const uint8_t *nl = memchr(p + ls, '\n', n - ls);
    size_t le = nl ? (size_t)(nl - p) : n;
    bool tab = memchr(p + ls, '\t', le - ls) != NULL;
    bool comma = memchr(p + ls, ',', le - ls) != NULL;
    return tab && !comma ? DL_FMT_TSV : DL_FMT_CSV;
}

enum dl_format dl_format_detect(struct dl_cursor name, struct dl_cursor head)
{
    if (!head.ptr)
        head.len = 0;
    if (!name.ptr)
        name.len = 0;
    enum dl_format f = sniff_magic(head);
    if (f != DL_FMT_UNKNOWN)
        return f;
    f = format_of_extension(extension_of(name));
    if (f != DL_FMT_UNKNOWN && (!dl_format_is_container(f) || head.len == 0))
        return f;
    return sniff_text(head);
}
