/* Strict RFC 8259 JSON parser, scalar reference.
 *
 * The parser is iterative: containers being filled live on a fixed stack of
 * DL_JSON_MAX_DEPTH frames, so hostile nesting costs no recursion and is rejected
 * at the first bracket past the limit. Strings are scanned once to validate them
 * (escapes, control bytes, UTF-8) and find their end; only strings holding a
 * backslash are decoded a second time, into the arena. Error positions always name
 * the offending byte (or the opening quote for "unterminated string", or the end
 * of input), so the SIMD kernels can be diffed against this file byte for byte. */
#include "core/json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct parser {
    struct dl_arena *a;
    const uint8_t *p;
    size_t len;
    struct dl_pos_err *err;
};

struct frame {
    struct dl_json *node;
    struct dl_json *last; /* last child appended so far */
};

/* ---- UTF-8 ------------------------------------------------------------------------ */

enum utf8_why { U8_OK, U8_BAD_BYTE, U8_TRUNCATED, U8_OVERLONG, U8_SURROGATE, U8_TOO_BIG };

static inline bool is_cont(uint8_t c)
{
    return (c & 0xC0) == 0x80;
}

/* Length of the well-formed sequence at p[0..n) (n >= 1), or 0 with *why set.
 * The checks are ordered so every ill-formed sequence gets exactly one reason:
 * bad lead byte, then a missing second byte, then the lead-specific range of the
 * second byte (overlong / surrogate / above U+10FFFF), then missing later bytes. */
static size_t utf8_seq(const uint8_t *p, size_t n, enum utf8_why *why)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    enum utf8_why range_why = U8_OK;

    if (c < 0x80)
        return 1;
    if (c < 0xC2) {
        *why = U8_BAD_BYTE;
        return 0;
    }
    if (c < 0xE0) {
        need = 2;
    } else if (c < 0xF0) {
        need = 3;
        if (c == 0xE0) {
            lo = 0xA0;
            range_why = U8_OVERLONG;
        } else if (c == 0xED) {
            hi = 0x9F;
            range_why = U8_SURROGATE;
        }
    } else if (c < 0xF5) {
        need = 4;
        if (c == 0xF0) {
            lo = 0x90;
            range_why = U8_OVERLONG;
        } else if (c == 0xF4) {
            hi = 0x8F;
            range_why = U8_TOO_BIG;
        }
    } else {
        *why = U8_BAD_BYTE;
        return 0;
    }
    if (n < 2 || !is_cont(p[1])) {
        *why = U8_TRUNCATED;
        return 0;
    }
    if (p[1] < lo || p[1] > hi) {
        *why = range_why;
        return 0;
    }
    for (size_t k = 2; k < need; k++) {
        if (k >= n || !is_cont(p[k])) {
            *why = U8_TRUNCATED;
            return 0;
        }
    }
    return need;
}

static uint32_t utf8_decode(const uint8_t *p, size_t n)
{
    switch (n) {
    case 1: return p[0];
    case 2: return ((uint32_t)(p[0] & 0x1F) << 6) | (p[1] & 0x3F);
    case 3: return ((uint32_t)(p[0] & 0x0F) << 12) | ((uint32_t)(p[1] & 0x3F) << 6) | (p[2] & 0x3F);
    default:
        return ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3F) << 12) |
               ((uint32_t)(p[2] & 0x3F) << 6) | (p[3] & 0x3F);
    }
}

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

bool dl_utf8_valid(const uint8_t *p, size_t len, size_t *bad)
{
    size_t i = 0;
    while (i < len) {
        while (i + 8 <= len && (load64(p + i) & HIGHS) == 0)
            i += 8;
        if (i >= len)
            break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        enum utf8_why why;
        size_t n = utf8_seq(p + i, len - i, &why);
        if (n == 0) {
            if (bad)
                *bad = i;
            return false;
        }
        i += n;
    }
    return true;
}

void dl_utf8_describe(const uint8_t *p, size_t len, size_t bad, char *msg, size_t n)
{
    enum utf8_why why = U8_OK;
    if (bad >= len || utf8_seq(p + bad, len - bad, &why) != 0) {
        snprintf(msg, n, "valid UTF-8");
        return;
    }
    uint8_t c = p[bad];
    switch (why) {
    case U8_BAD_BYTE: snprintf(msg, n, "invalid UTF-8 byte 0x%02X", c); break;
    case U8_TRUNCATED: snprintf(msg, n, "truncated UTF-8 sequence starting with byte 0x%02X", c); break;
    case U8_OVERLONG:
        snprintf(msg, n, "overlong UTF-8 sequence 0x%02X 0x%02X", c, p[bad + 1]);
        break;
    case U8_SURROGATE:
        snprintf(msg, n, "UTF-8 encoded surrogate 0x%02X 0x%02X (U+D800..U+DFFF are not characters)",
                 c, p[bad + 1]);
        break;
    case U8_TOO_BIG:
        snprintf(msg, n, "UTF-8 sequence 0x%02X 0x%02X encodes a code point above U+10FFFF", c,
                 p[bad + 1]);
        break;
    case U8_OK: snprintf(msg, n, "valid UTF-8"); break;
    }
}

/* ---- positions and errors ------------------------------------------------------------ */

void dl_json_line_col(const uint8_t *p, size_t offset, uint64_t *line, uint64_t *col)
{
    uint64_t ln = 1;
    size_t start = 0;
    const uint8_t *q = p, *end = p + offset;
    while (q < end) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            break;
        ln++;
        q = nl + 1;
        start = (size_t)(q - p);
    }
    if (line)
        *line = ln;
    if (col)
        *col = offset - start + 1;
}

static enum dl_err fail(struct parser *ps, enum dl_err code, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum dl_err fail(struct parser *ps, enum dl_err code, size_t at, const char *fmt, ...)
{
    uint64_t line, col;
    dl_json_line_col(ps->p, at, &line, &col);
    if (ps->err) {
        char msg[sizeof ps->err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        dl_pos_err_set(ps->err, code, at, line, col, "%s", msg);
    }
    return code;
}

static enum dl_err fail_utf8(struct parser *ps, size_t at)
{
    char msg[128];
    dl_utf8_describe(ps->p, ps->len, at, msg, sizeof msg);
    return fail(ps, DL_ERR_PARSE, at, "%s", msg);
}

static enum dl_err fail_nomem(struct parser *ps, size_t at)
{
    return fail(ps, DL_ERR_TOO_LARGE, at, "JSON value does not fit in memory (arena cap reached)");
}

/* "'x'", "byte 0x01", "U+00E9" or "end of input", for "found ..." messages. */
static void describe_at(const struct parser *ps, size_t i, char *buf, size_t n)
{
    if (i >= ps->len) {
        snprintf(buf, n, "end of input");
        return;
    }
    uint8_t c = ps->p[i];
    if (c > 0x20 && c < 0x7F) {
        snprintf(buf, n, "'%c'", c);
    } else if (c < 0x80) {
        snprintf(buf, n, "byte 0x%02X", c);
    } else {
        enum utf8_why why;
        size_t k = utf8_seq(ps->p + i, ps->len - i, &why);
        if (k)
            snprintf(buf, n, "U+%04X", (unsigned)utf8_decode(ps->p + i, k));
        else
            snprintf(buf, n, "byte 0x%02X", c);
    }
}

/* An unexpected byte at i: invalid UTF-8 and end of input get their own messages,
 * anything else "<what>, found <byte>". */
static enum dl_err fail_unexpected(struct parser *ps, size_t i, const char *what)
{
    if (i >= ps->len)
        return fail(ps, DL_ERR_PARSE, i, "unexpected end of input");
    if (ps->p[i] >= 0x80) {
        enum utf8_why why;
        if (utf8_seq(ps->p + i, ps->len - i, &why) == 0)
            return fail_utf8(ps, i);
    }
    char found[32];
    describe_at(ps, i, found, sizeof found);
    return fail(ps, DL_ERR_PARSE, i, "%s, found %s", what, found);
}

/* ---- lexing ---------------------------------------------------------------------------- */

static inline size_t skip_ws(const struct parser *ps, size_t i)
{
    while (i < ps->len) {
        uint8_t c = ps->p[i];
        if (c != ' ' && c != '\n' && c != '\r' && c != '\t')
            break;
        i++;
    }
    return i;
}

/* Four hex digits at p[i..]: 1 and *cp on success, 0 if a non-hex byte comes first,
 * -1 if the input ends first. */
static int hex4(const struct parser *ps, size_t i, uint32_t *cp)
{
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
        if (i + k >= ps->len)
            return -1;
        int h = dl_hex_digit(ps->p[i + k]);
        if (h < 0)
            return 0;
        v = (v << 4) | (uint32_t)h;
    }
    *cp = v;
    return 1;
}

/* Any byte that needs a closer look inside a string: '"', '\\', < 0x20, >= 0x80. */
static inline bool swar_special(uint64_t v)
{
    uint64_t q = v ^ (ONES * '"');
    uint64_t b = v ^ (ONES * '\\');
    uint64_t t = ((q - ONES) & ~q) | ((b - ONES) & ~b) | ((v - ONES * 0x20) & ~v) | v;
    return (t & HIGHS) != 0;
}

/* Validate the string whose opening quote is at q. *end = offset just past the closing
 * quote; *esc = whether it holds any escape. */
static enum dl_err scan_string(struct parser *ps, size_t q, size_t *end, bool *esc)
{
    const uint8_t *p = ps->p;
    size_t len = ps->len;
    size_t i = q + 1;
    bool has_esc = false;

    for (;;) {
        while (i + 8 <= len && !swar_special(load64(p + i)))
            i += 8;
        if (i >= len)
            return fail(ps, DL_ERR_PARSE, q, "unterminated string");
        uint8_t c = p[i];
        if (c == '"') {
            *end = i + 1;
            *esc = has_esc;
            return DL_OK;
        }
        if (c == '\\') {
            has_esc = true;
            if (i + 1 >= len)
                return fail(ps, DL_ERR_PARSE, q, "unterminated string");
            uint8_t e = p[i + 1];
            switch (e) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                i += 2;
                continue;
            case 'u': break;
            default:
                if (e > 0x20 && e < 0x7F)
                    return fail(ps, DL_ERR_PARSE, i, "invalid escape '\\%c'", e);
                return fail(ps, DL_ERR_PARSE, i, "invalid escape: backslash followed by byte 0x%02X", e);
            }
            uint32_t cp, lo;
            int h = hex4(ps, i + 2, &cp);
            if (h < 0)
                return fail(ps, DL_ERR_PARSE, q, "unterminated string");
            if (h == 0)
                return fail(ps, DL_ERR_PARSE, i, "invalid \\u escape (expected 4 hex digits)");
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(ps, DL_ERR_PARSE, i,
                            "lone surrogate escape \\u%04X (low surrogate without a high one)", cp);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (i + 7 < len && p[i + 6] == '\\' && p[i + 7] == 'u') {
                    h = hex4(ps, i + 8, &lo);
                    if (h < 0)
                        return fail(ps, DL_ERR_PARSE, q, "unterminated string");
                    if (h == 0)
                        return fail(ps, DL_ERR_PARSE, i + 6, "invalid \\u escape (expected 4 hex digits)");
                    if (lo >= 0xDC00 && lo <= 0xDFFF) {
                        i += 12;
                        continue;
                    }
                }
                return fail(ps, DL_ERR_PARSE, i,
                            "lone surrogate escape \\u%04X (not followed by a low surrogate escape)", cp);
            }
            i += 6;
            continue;
        }
        if (c < 0x20)
            return fail(ps, DL_ERR_PARSE, i, "unescaped control character 0x%02X in string", c);
        if (c >= 0x80) {
            enum utf8_why why;
            size_t n = utf8_seq(p + i, len - i, &why);
            if (n == 0)
                return fail_utf8(ps, i);
            i += n;
            continue;
        }
        i++;
    }
}

/* Decode an already validated string body p[b..e) into the arena. Every escape is at
 * least as long as its UTF-8 output, so e - b bytes are enough. */
static enum dl_err unescape(struct parser *ps, size_t b, size_t e, struct dl_cursor *out)
{
    const uint8_t *p = ps->p;
    uint8_t *o = dl_arena_alloc(ps->a, e - b);
    if (!o)
        return fail_nomem(ps, b - 1);
    size_t n = 0, i = b;
    while (i < e) {
        const uint8_t *bs = memchr(p + i, '\\', e - i);
        size_t run = bs ? (size_t)(bs - (p + i)) : e - i;
        memcpy(o + n, p + i, run);
        n += run;
        i += run;
        if (i >= e)
            break;
        uint8_t c = p[i + 1];
        i += 2;
        switch (c) {
        case 'b': o[n++] = '\b'; break;
        case 'f': o[n++] = '\f'; break;
        case 'n': o[n++] = '\n'; break;
        case 'r': o[n++] = '\r'; break;
        case 't': o[n++] = '\t'; break;
        case 'u': {
            uint32_t cp = 0, lo = 0;
            hex4(ps, i, &cp);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                hex4(ps, i + 2, &lo);
                i += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            n += dl_utf8_put(o + n, cp);
            break;
        }
        default: o[n++] = c; break; /* '"', '\\', '/' */
        }
    }
    *out = dl_cursor_of(o, n);
    return DL_OK;
}

/* The string at q: *out borrows from the input when it has no escapes. */
static enum dl_err parse_string(struct parser *ps, size_t q, size_t *end, struct dl_cursor *out)
{
    bool esc = false;
    enum dl_err rc = scan_string(ps, q, end, &esc);
    if (rc)
        return rc;
    if (!esc) {
        *out = dl_cursor_of(ps->p + q + 1, *end - q - 2);
        return DL_OK;
    }
    return unescape(ps, q + 1, *end - 1, out);
}

static inline bool is_digit(const struct parser *ps, size_t i)
{
    return i < ps->len && ps->p[i] >= '0' && ps->p[i] <= '9';
}

static enum dl_err parse_number(struct parser *ps, size_t s, size_t *end)
{
    size_t i = s;
    if (ps->p[i] == '-') {
        i++;
        if (!is_digit(ps, i))
            return fail_unexpected(ps, i, "expected digit after '-'");
    }
    if (ps->p[i] == '0') {
        if (is_digit(ps, i + 1))
            return fail(ps, DL_ERR_PARSE, i, "leading zero in number");
        i++;
    } else {
        while (is_digit(ps, i))
            i++;
    }
    if (i < ps->len && ps->p[i] == '.') {
        i++;
        if (!is_digit(ps, i))
            return fail_unexpected(ps, i, "expected digit after decimal point");
        while (is_digit(ps, i))
            i++;
    }
    if (i < ps->len && (ps->p[i] == 'e' || ps->p[i] == 'E')) {
        i++;
        if (i < ps->len && (ps->p[i] == '+' || ps->p[i] == '-'))
            i++;
        if (!is_digit(ps, i))
            return fail_unexpected(ps, i, "expected digit in exponent");
        while (is_digit(ps, i))
            i++;
    }
    *end = i;
    return DL_OK;
}

static inline bool is_word(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* true / false / null; a longer word ("nullx", "True", "NaN") is an invalid literal. */
static enum dl_err parse_literal(struct parser *ps, size_t s, size_t *end, enum dl_json_type *t)
{
    static const struct { const char *w; size_t n; enum dl_json_type t; } lits[] = {
        { "true", 4, DL_JSON_TRUE }, { "false", 5, DL_JSON_FALSE }, { "null", 4, DL_JSON_NULL },
    };
    size_t e = s;
    while (e < ps->len && e - s < 32 && is_word(ps->p[e]))
        e++;
    for (size_t k = 0; k < 3; k++) {
        if (e - s == lits[k].n && memcmp(ps->p + s, lits[k].w, lits[k].n) == 0) {
            *end = e;
            *t = lits[k].t;
            return DL_OK;
        }
    }
    bool more = e < ps->len && is_word(ps->p[e]);
    return fail(ps, DL_ERR_PARSE, s, "invalid literal '%.*s%s'", (int)(e - s),
                (const char *)ps->p + s, more ? "..." : "");
}

static enum dl_err fail_no_value(struct parser *ps, size_t i)
{
    if (i < ps->len) {
        uint8_t c = ps->p[i];
        if (c == '/')
            return fail(ps, DL_ERR_PARSE, i, "comments are not allowed in JSON");
        if (c == '\'')
            return fail(ps, DL_ERR_PARSE, i, "single-quoted strings are not allowed in JSON");
        if (is_word(c))
            return parse_literal(ps, i, &(size_t){ 0 }, &(enum dl_json_type){ 0 });
    }
    return fail_unexpected(ps, i, "expected a value");
}

/* ---- the DOM builder ------------------------------------------------------------------- */

enum state { ST_VALUE, ST_MEMBER, ST_AFTER };

static enum dl_err parse(struct parser *ps, size_t start, size_t *consumed, struct dl_json **out)
{
    struct frame stack[DL_JSON_MAX_DEPTH];
    size_t depth = 0;
    size_t i = start;
    struct dl_json *root = NULL;
    struct dl_cursor key = { 0 };
    enum state st = ST_VALUE;
    enum dl_err rc = DL_OK;

    for (;;) {
        switch (st) {
        case ST_VALUE: {
            i = skip_ws(ps, i);
            if (i >= ps->len) {
                rc = fail(ps, DL_ERR_PARSE, i, "unexpected end of input");
                goto out;
            }
            uint8_t c = ps->p[i];
            enum dl_json_type t;
            switch (c) {
            case '{': t = DL_JSON_OBJECT; break;
            case '[': t = DL_JSON_ARRAY; break;
            case '"': t = DL_JSON_STRING; break;
            case 't': case 'f': case 'n': t = DL_JSON_NULL; break; /* refined below */
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    t = DL_JSON_NUMBER;
                    break;
                }
                rc = fail_no_value(ps, i);
                goto out;
            }
            if ((t == DL_JSON_OBJECT || t == DL_JSON_ARRAY) && depth == DL_JSON_MAX_DEPTH) {
                rc = fail(ps, DL_ERR_PARSE, i, "nesting deeper than %d", DL_JSON_MAX_DEPTH);
                goto out;
            }
            struct dl_json *v = dl_arena_alloc(ps->a, sizeof *v);
            if (!v) {
                rc = fail_nomem(ps, i);
                goto out;
            }
            memset(v, 0, sizeof *v);
            v->type = t;
            v->offset = i;
            if (depth) {
                struct frame *f = &stack[depth - 1];
                if (f->node->n == UINT32_MAX) {
                    rc = fail(ps, DL_ERR_TOO_LARGE, i, "more than %u elements in one container",
                              (unsigned)UINT32_MAX);
                    goto out;
                }
                if (f->node->type == DL_JSON_OBJECT)
                    v->key = key;
                if (f->last)
                    f->last->next = v;
                else
                    f->node->child = v;
                f->last = v;
                f->node->n++;
            } else {
                root = v;
            }
            size_t end = i;
            switch (t) {
            case DL_JSON_OBJECT:
            case DL_JSON_ARRAY:
                stack[depth].node = v;
                stack[depth].last = NULL;
                depth++;
                i = skip_ws(ps, i + 1);
                if (i < ps->len && ps->p[i] == (t == DL_JSON_OBJECT ? '}' : ']')) {
                    depth--;
                    i++;
                    st = ST_AFTER;
                } else {
                    st = t == DL_JSON_OBJECT ? ST_MEMBER : ST_VALUE;
                }
                continue;
            case DL_JSON_STRING:
                rc = parse_string(ps, i, &end, &v->str);
                break;
            case DL_JSON_NUMBER:
                rc = parse_number(ps, i, &end);
                if (rc == DL_OK)
                    v->str = dl_cursor_of(ps->p + i, end - i);
                break;
            default:
                rc = parse_literal(ps, i, &end, &v->type);
                break;
            }
            if (rc)
                goto out;
            i = end;
            st = ST_AFTER;
            continue;
        }
        case ST_MEMBER: {
            /* at a member name (whitespace already skipped) */
            if (i >= ps->len || ps->p[i] != '"') {
                if (i < ps->len && ps->p[i] == '\'')
                    rc = fail(ps, DL_ERR_PARSE, i, "single-quoted strings are not allowed in JSON");
                else if (i < ps->len && ps->p[i] == '/')
                    rc = fail(ps, DL_ERR_PARSE, i, "comments are not allowed in JSON");
                else
                    rc = fail_unexpected(ps, i, "expected string for object member name");
                goto out;
            }
            size_t end = i;
            rc = parse_string(ps, i, &end, &key);
            if (rc)
                goto out;
            i = skip_ws(ps, end);
            if (i >= ps->len || ps->p[i] != ':') {
                rc = fail_unexpected(ps, i, "expected ':' after object member name");
                goto out;
            }
            i++;
            st = ST_VALUE;
            continue;
        }
        case ST_AFTER: {
            if (depth == 0) {
                *consumed = i;
                *out = root;
                goto out;
            }
            struct frame *f = &stack[depth - 1];
            bool obj = f->node->type == DL_JSON_OBJECT;
            uint8_t close = obj ? '}' : ']';
            i = skip_ws(ps, i);
            if (i < ps->len && ps->p[i] == ',') {
                i = skip_ws(ps, i + 1);
                if (i < ps->len && ps->p[i] == close) {
                    rc = fail(ps, DL_ERR_PARSE, i, obj ? "trailing comma in object" : "trailing comma in array");
                    goto out;
                }
                st = obj ? ST_MEMBER : ST_VALUE;
                continue;
            }
            if (i < ps->len && ps->p[i] == close) {
                depth--;
                i++;
                continue;
            }
            rc = fail_unexpected(ps, i, obj ? "expected ',' or '}' after object member"
                                            : "expected ',' or ']' after array element");
            goto out;
        }
        }
    }
out:
    return rc;
}

enum dl_err dl_json_parse_value(struct dl_arena *a, const uint8_t *p, size_t len,
                                size_t *consumed, struct dl_json **out, struct dl_pos_err *err)
{
    struct parser ps = { a, p, len, err };
    size_t used = 0;
    struct dl_json *v = NULL;
    enum dl_err rc = parse(&ps, 0, &used, &v);
    if (rc)
        goto out;
    if (consumed)
        *consumed = used;
    *out = v;
out:
    return rc;
}

enum dl_err dl_json_parse_doc(struct dl_arena *a, const uint8_t *p, size_t len,
                              struct dl_json **out, struct dl_pos_err *err)
{
    struct parser ps = { a, p, len, err };
    size_t used = 0;
    struct dl_json *v = NULL;
    enum dl_err rc = parse(&ps, 0, &used, &v);
    if (rc)
        goto out;
    used = skip_ws(&ps, used);
    if (used < len) {
        rc = fail(&ps, DL_ERR_PARSE, used, "trailing characters after JSON value");
        goto out;
    }
    *out = v;
out:
    return rc;
}

/* ---- access ------------------------------------------------------------------------------ */

const struct dl_json *dl_json_get(const struct dl_json *obj, const char *name)
{
    if (!obj || obj->type != DL_JSON_OBJECT || !name)
        return NULL;
    struct dl_cursor want = dl_cursor_str(name);
    const struct dl_json *found = NULL;
    for (const struct dl_json *m = obj->child; m; m = m->next) {
        if (dl_cursor_eq(m->key, want))
            found = m;
    }
    return found;
}

bool dl_json_get_str(const struct dl_json *obj, const char *name, struct dl_cursor *out)
{
    const struct dl_json *v = dl_json_get(obj, name);
    if (!v || v->type != DL_JSON_STRING)
        return false;
    if (out)
        *out = v->str;
    return true;
}

const char *dl_json_type_name(enum dl_json_type t)
{
    switch (t) {
    case DL_JSON_NULL: return "null";
    case DL_JSON_FALSE:
    case DL_JSON_TRUE: return "boolean";
    case DL_JSON_NUMBER: return "number";
    case DL_JSON_STRING: return "string";
    case DL_JSON_ARRAY: return "array";
    case DL_JSON_OBJECT: return "object";
    }
    return "unknown";
}
