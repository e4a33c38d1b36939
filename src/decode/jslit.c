/* JavaScript item files: a reader for the literal subset, never an evaluator.
 *
 * The file is lexed directly, byte by byte; the only "tokens" are the few words of the
 * export statement around the array. Each element of the array is parsed into the same DOM
 * the JSON parser builds (struct dl_json), iteratively on a fixed stack of
 * DL_JSON_MAX_DEPTH frames held in the reader, so hostile nesting costs no recursion.
 * Where JavaScript and JSON disagree on a value's text the text is rewritten into JSON's:
 * numbers become JSON number text (0x1F -> 31, .5 -> 0.5, 5. -> 5), strings are unescaped
 * into UTF-8, numeric keys get the name JavaScript would give them (1.50 -> "1.5").
 * Decimal number values keep their digits as written rather than going through a double,
 * so DynamoDB stores what the file says, not what Node would have rounded it to. */
#include "decode/jslit.h"

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#define MAX_RADIX_DIGITS 256 /* digits of one 0x/0o/0b literal (the conversion is quadratic) */
#define SNIPPET_MAX 40       /* bytes of source quoted in a message */

enum phase { PH_START, PH_ARRAY, PH_TAIL, PH_DONE };

struct frame {
    struct dl_json *node;
    struct dl_json *last; /* last child appended so far */
    bool undef;           /* an object holding `name: undefined` markers */
};

/* `name: undefined` is kept as a marker member until its object closes: in JavaScript it
 * makes the property undefined, so it also hides an earlier member of the same name. */
static const uint8_t undef_mark[1];

struct dl_jslit {
    const uint8_t *p;
    size_t len;
    size_t pos;            /* where reading goes on */
    enum phase ph;
    bool need_sep;         /* an element was read: ',' or ']' comes next */
    bool wrapped;          /* the array sits in `{ KEY: [...] }` */
    bool declared;         /* `const|let|var NAME = ...`: NAME may be exported afterwards */
    struct dl_cursor name; /* that NAME */
    uint64_t record;       /* records handed out so far */
    uint64_t nelem;        /* elements read so far */

    /* forward-only line cursor: lc_line is the line of offset lc_off, which starts at lc_ls */
    size_t lc_off;
    uint64_t lc_line;
    size_t lc_ls;

    struct frame stack[DL_JSON_MAX_DEPTH];
};

/* What parsing one element needs. */
struct vp {
    struct dl_jslit *r;
    struct dl_arena *a;
    struct dl_pos_err *err;
    size_t base; /* the element's first byte: node offsets are relative to it */
};

/* ---- positions and messages -------------------------------------------------------------- */

static void locate(struct dl_jslit *r, size_t off, uint64_t *line, uint64_t *col)
{
    if (off < r->lc_off) {
        r->lc_off = 0;
        r->lc_line = 1;
        r->lc_ls = 0;
    }
    const uint8_t *q = r->p + r->lc_off, *end = r->p + off;
    while (q < end) {
        const uint8_t *nl = memchr(q, '\n', (size_t)(end - q));
        if (!nl)
            break;
        r->lc_line++;
        q = nl + 1;
        r->lc_ls = (size_t)(q - r->p);
    }
    r->lc_off = off;
    *line = r->lc_line;
    *col = off - r->lc_ls + 1;
}

static enum dl_err fail(struct dl_jslit *r, struct dl_pos_err *err, enum dl_err code, size_t at,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static enum dl_err fail(struct dl_jslit *r, struct dl_pos_err *err, enum dl_err code, size_t at,
                        const char *fmt, ...)
{
    uint64_t line, col;
    char msg[sizeof err->msg];
    va_list ap;
    locate(r, at, &line, &col);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dl_pos_err_set(err, code, at, line, col, "%s", msg);
    return code;
}

#define FAIL(v, at, ...) fail((v)->r, (v)->err, DL_ERR_PARSE, (at), __VA_ARGS__)

/* Length of the well-formed UTF-8 sequence at p[i], or 0. */
static size_t u8len(const uint8_t *p, size_t len, size_t i)
{
    uint8_t c = p[i];
    size_t n = c < 0x80 ? 1 : c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
    if (n == 0 || n > len - i)
        return 0;
    return n == 1 || dl_utf8_valid(p + i, n, NULL) ? n : 0;
}

static enum dl_err fail_utf8(struct dl_jslit *r, struct dl_pos_err *err, size_t at)
{
    char msg[128];
    dl_utf8_describe(r->p, r->len, at, msg, sizeof msg);
    return fail(r, err, DL_ERR_PARSE, at, "%s", msg);
}

static enum dl_err fail_nomem(struct vp *v, size_t at)
{
    return fail(v->r, v->err, DL_ERR_TOO_LARGE, at, "item does not fit in memory (arena cap reached)");
}

/* ---- lexing -------------------------------------------------------------------------------- */

/* Length of the JavaScript whitespace or line terminator at p[i], or 0: the ASCII ones,
 * U+00A0, U+FEFF, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000. */
static size_t ws_len_slow(const uint8_t *p, size_t len, size_t i)
{
    uint8_t c = p[i];
    if (c == 0xC2)
        return i + 1 < len && p[i + 1] == 0xA0 ? 2 : 0;
    if (i + 2 >= len)
        return 0;
    uint8_t c1 = p[i + 1], c2 = p[i + 2];
    if ((c == 0xEF && c1 == 0xBB && c2 == 0xBF) || (c == 0xE1 && c1 == 0x9A && c2 == 0x80) ||
        (c == 0xE2 && c1 == 0x80 && ((c2 >= 0x80 && c2 <= 0x8A) || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF)) ||
        (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) || (c == 0xE3 && c1 == 0x80 && c2 == 0x80))
        return 3;
    return 0;
}

static inline size_t ws_len(const uint8_t *p, size_t len, size_t i)
{
    uint8_t c = p[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f')
        return 1;
    return c < 0x80 ? 0 : ws_len_slow(p, len, i);
}

/* Length of the line terminator at p[i] (LF, CR, U+2028, U+2029; CR LF counts as one), or 0. */
static size_t lt_len(const uint8_t *p, size_t len, size_t i)
{
    if (p[i] == '\n')
        return 1;
    if (p[i] == '\r')
        return i + 1 < len && p[i + 1] == '\n' ? 2 : 1;
    if (p[i] == 0xE2 && i + 2 < len && p[i + 1] == 0x80 && (p[i + 2] == 0xA8 || p[i + 2] == 0xA9))
        return 3;
    return 0;
}

/* Skip whitespace and comments from *pi. false, with *pi at the comment, when a block comment
 * is not closed. Bytes inside comments are not checked. */
static bool skip(const struct dl_jslit *r, size_t *pi)
{
    size_t i = *pi;
    while (i < r->len) {
        size_t w = ws_len(r->p, r->len, i);
        if (w) {
            i += w;
            continue;
        }
        if (r->p[i] != '/' || i + 1 >= r->len)
            break;
        if (r->p[i + 1] == '/') {
            i += 2;
            while (i < r->len && !lt_len(r->p, r->len, i))
                i++;
            continue;
        }
        if (r->p[i + 1] != '*')
            break;
        const uint8_t *e = memmem(r->p + i + 2, r->len - i - 2, "*/", 2);
        if (!e) {
            *pi = i;
            return false;
        }
        i = (size_t)(e - r->p) + 2;
    }
    *pi = i;
    return true;
}

static enum dl_err skip_v(struct vp *v, size_t *pi)
{
    if (skip(v->r, pi))
        return DL_OK;
    return FAIL(v, *pi, "unterminated /* comment");
}

static inline bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

static inline bool is_ascii_ident(uint8_t c, bool start)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '$' || c == '_' ||
           (!start && is_digit(c));
}

/* Length of an identifier character at p[i]: ASCII letters, '$', '_', digits (not first),
 * and any non-ASCII character that is not whitespace (Unicode's ID_Start tables are not
 * consulted: a name is data here, never looked up). 0 if none, or if the bytes are not
 * UTF-8. */
static size_t ident_char(const uint8_t *p, size_t len, size_t i, bool start)
{
    if (p[i] < 0x80)
        return is_ascii_ident(p[i], start) ? 1 : 0;
    if (ws_len(p, len, i))
        return 0;
    return u8len(p, len, i);
}

/* End of the identifier starting at s (s itself when there is none). */
static size_t ident_end(const struct dl_jslit *r, size_t s)
{
    size_t i = s;
    while (i < r->len) {
        size_t k = ident_char(r->p, r->len, i, i == s);
        if (!k)
            break;
        i += k;
    }
    return i;
}

static bool word_is(const struct dl_jslit *r, size_t s, size_t e, const char *w)
{
    size_t n = strlen(w);
    return e - s == n && memcmp(r->p + s, w, n) == 0;
}

/* Bytes s..e quoted for a message, cut at SNIPPET_MAX on a character boundary. */
static void snippet_x(const struct dl_jslit *r, size_t s, size_t e, const char *suffix, char *buf, size_t n)
{
    bool cut = false;
    if (e - s > SNIPPET_MAX) {
        e = s + SNIPPET_MAX;
        while (e > s && (r->p[e] & 0xC0) == 0x80)
            e--;
        cut = true;
    }
    snprintf(buf, n, "'%.*s%s%s'", (int)(e - s), (const char *)r->p + s, cut ? "..." : "", suffix);
}

static void snippet(const struct dl_jslit *r, size_t s, size_t e, char *buf, size_t n)
{
    snippet_x(r, s, e, "", buf, n);
}

/* What is at i, for "found ..." in messages: a word, a character, a byte or the end. */
static void describe(const struct dl_jslit *r, size_t i, char *buf, size_t n)
{
    if (i >= r->len) {
        snprintf(buf, n, "end of input");
        return;
    }
    uint8_t c = r->p[i];
    size_t e = ident_end(r, i);
    if (e > i)
        snippet(r, i, e, buf, n);
    else if (c == '"' || c == '\'' || c == '`')
        snprintf(buf, n, "a string");
    else if (c > 0x20 && c < 0x7F)
        snprintf(buf, n, "'%c'", c);
    else if (c >= 0x80 && u8len(r->p, r->len, i))
        snippet(r, i, i + u8len(r->p, r->len, i), buf, n);
    else
        snprintf(buf, n, "byte 0x%02X", c);
}

/* "<what>, found X" (or the UTF-8 or end-of-input message). */
static enum dl_err fail_unexpected(struct vp *v, size_t i, const char *what)
{
    char found[64];
    if (i >= v->r->len)
        return FAIL(v, i, "unexpected end of input (%s)", what);
    if (v->r->p[i] >= 0x80 && !u8len(v->r->p, v->r->len, i))
        return fail_utf8(v->r, v->err, i);
    describe(v->r, i, found, sizeof found);
    return FAIL(v, i, "%s, found %s", what, found);
}

/* ---- strings --------------------------------------------------------------------------------- */

/* A \u escape at i (p[i] == '\\', p[i+1] == 'u'): \uHHHH or \u{H...}. */
static enum dl_err u_escape(struct vp *v, size_t q, size_t i, uint32_t *cp, size_t *next)
{
    const uint8_t *p = v->r->p;
    size_t len = v->r->len, k = i + 2;
    uint32_t val = 0;
    if (k < len && p[k] == '{') {
        size_t nd = 0;
        for (k++; k < len && dl_hex_digit(p[k]) >= 0; k++, nd++) {
            val = (val << 4) | (uint32_t)dl_hex_digit(p[k]);
            if (val > 0x10FFFF)
                return FAIL(v, i, "\\u{...} escape above U+10FFFF");
        }
        if (k >= len)
            return FAIL(v, q, "unterminated string");
        if (nd == 0 || p[k] != '}')
            return FAIL(v, i, "invalid \\u{...} escape (expected hex digits and '}')");
        *next = k + 1;
    } else {
        for (size_t n = 0; n < 4; n++, k++) {
            if (k >= len)
                return FAIL(v, q, "unterminated string");
            if (dl_hex_digit(p[k]) < 0)
                return FAIL(v, i, "invalid \\u escape (expected 4 hex digits or \\u{...})");
            val = (val << 4) | (uint32_t)dl_hex_digit(p[k]);
        }
        *next = k;
    }
    *cp = val;
    return DL_OK;
}

/* ASCII bytes a string body copies as they are: not a quote, backslash, '$' or line break. */
static inline bool str_plain(uint8_t c)
{
    return c < 0x80 && c != '\'' && c != '"' && c != '`' && c != '\\' && c != '$' && c != '\n' && c != '\r';
}

/* Scan (o == NULL) or decode (o != NULL, after a successful scan) the string or template
 * literal whose opening quote is at q. *end = just past the closing quote; *copy = whether
 * the value differs from the raw body (escapes, or CR in a template); *on = decoded length.
 * Decoded output is never longer than the body. */
static enum dl_err lex_string(struct vp *v, size_t q, uint8_t *o, size_t *on, size_t *end, bool *copy)
{
    const uint8_t *p = v->r->p;
    size_t len = v->r->len;
    uint8_t quote = p[q];
    bool tmpl = quote == '`';
    const char *unterminated = tmpl ? "unterminated template literal" : "unterminated string";
    size_t i = q + 1, n = 0;
    bool cp_ = false;
    enum dl_err rc;

    for (;;) {
        size_t run = i;
        while (run < len && str_plain(p[run]))
            run++;
        if (o)
            memcpy(o + n, p + i, run - i);
        n += run - i;
        i = run;
        if (i >= len)
            return FAIL(v, q, "%s", unterminated);
        uint8_t c = p[i];
        if (c == quote)
            break;
        if (c == '\\') {
            cp_ = true;
            if (i + 1 >= len)
                return FAIL(v, q, "%s", unterminated);
            uint8_t e = p[i + 1];
            uint32_t cp;
            size_t next;
            switch (e) {
            case 'n': cp = '\n'; next = i + 2; break;
            case 't': cp = '\t'; next = i + 2; break;
            case 'r': cp = '\r'; next = i + 2; break;
            case 'b': cp = '\b'; next = i + 2; break;
            case 'f': cp = '\f'; next = i + 2; break;
            case 'v': cp = '\v'; next = i + 2; break;
            case '0':
                if (i + 2 < len && is_digit(p[i + 2]))
                    return FAIL(v, i, "octal escape sequences are not allowed (found '\\0%c'); use \\x or \\u",
                                p[i + 2]);
                cp = 0;
                next = i + 2;
                break;
            case '1': case '2': case '3': case '4': case '5': case '6': case '7': case '8': case '9':
                return FAIL(v, i, "octal escape sequences are not allowed (found '\\%c'); use \\x or \\u", e);
            case 'x':
                if (i + 3 >= len)
                    return FAIL(v, q, "%s", unterminated);
                if (dl_hex_digit(p[i + 2]) < 0 || dl_hex_digit(p[i + 3]) < 0)
                    return FAIL(v, i, "invalid \\x escape (expected 2 hex digits)");
                cp = (uint32_t)(dl_hex_digit(p[i + 2]) << 4 | dl_hex_digit(p[i + 3]));
                next = i + 4;
                break;
            case 'u':
                if ((rc = u_escape(v, q, i, &cp, &next)))
                    return rc;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return FAIL(v, i, "lone surrogate escape (U+%04X without a high surrogate before it) "
                                      "cannot be stored as UTF-8", (unsigned)cp);
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    uint32_t lo = 0;
                    size_t after = next;
                    if (next + 1 < len && p[next] == '\\' && p[next + 1] == 'u') {
                        if ((rc = u_escape(v, q, next, &lo, &after)))
                            return rc;
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return FAIL(v, i, "lone surrogate escape (U+%04X without a low surrogate after it) "
                                          "cannot be stored as UTF-8", (unsigned)cp);
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    next = after;
                }
                break;
            default: {
                size_t lt = lt_len(p, len, i + 1);
                if (lt) { /* line continuation: the backslash and the line break vanish */
                    i += 1 + lt;
                    continue;
                }
                /* any other character stands for itself (\' \" \\ \` \$ \/ ...) */
                size_t k = u8len(p, len, i + 1);
                if (!k)
                    return fail_utf8(v->r, v->err, i + 1);
                if (o)
                    memcpy(o + n, p + i + 1, k);
                n += k;
                i += 1 + k;
                continue;
            }
            }
            if (o)
                n += dl_utf8_put(o + n, cp);
            else
                n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            i = next;
            continue;
        }
        if (tmpl && c == '$' && i + 1 < len && p[i + 1] == '{')
            return FAIL(v, i, "template literal substitutions ('${...}') are not allowed in item files: "
                              "nothing is evaluated");
        if (c == '\n' || c == '\r') {
            if (!tmpl)
                return FAIL(v, q, "unterminated string: a quoted string cannot span lines "
                                  "(use \\n, a backslash before the line break, or a template literal)");
            if (c == '\r') { /* a template's CR and CR LF read as LF */
                cp_ = true;
                if (o)
                    o[n] = '\n';
                n++;
                i += i + 1 < len && p[i + 1] == '\n' ? 2 : 1;
                continue;
            }
        }
        if (c >= 0x80) {
            size_t k = u8len(p, len, i);
            if (!k)
                return fail_utf8(v->r, v->err, i);
            if (o)
                memcpy(o + n, p + i, k);
            n += k;
            i += k;
            continue;
        }
        if (o)
            o[n] = c;
        n++;
        i++;
    }
    *end = i + 1;
    if (copy)
        *copy = cp_;
    if (on)
        *on = n;
    return DL_OK;
}

/* The string at q as a cursor: borrowed from the input when it needs no decoding. */
static enum dl_err parse_string(struct vp *v, size_t q, size_t *end, struct dl_cursor *out)
{
    bool copy = false;
    size_t n = 0;
    enum dl_err rc = lex_string(v, q, NULL, &n, end, &copy);
    if (rc)
        return rc;
    if (!copy) {
        *out = dl_cursor_of(v->r->p + q + 1, *end - q - 2);
        return DL_OK;
    }
    uint8_t *o = dl_arena_alloc(v->a, *end - q - 2);
    if (!o)
        return fail_nomem(v, q);
    rc = lex_string(v, q, o, &n, end, NULL);
    if (rc)
        return rc;
    *out = dl_cursor_of(o, n);
    return DL_OK;
}

/* ---- numbers ------------------------------------------------------------------------------------ */

static bool is_base_digit(uint8_t c, int base)
{
    int d = dl_hex_digit(c);
    return d >= 0 && d < base && (base == 16 || is_digit(c));
}

/* Digits of the given base from *pi, with '_' separators only between two digits.
 * *count = digits (separators not counted); *seps = whether any separator was seen. */
static enum dl_err scan_digits(struct vp *v, size_t *pi, int base, size_t *count, bool *seps)
{
    const uint8_t *p = v->r->p;
    size_t len = v->r->len, i = *pi, n = 0;
    for (;;) {
        if (i < len && is_base_digit(p[i], base)) {
            n++;
            i++;
        } else if (i < len && p[i] == '_') {
            if (n == 0 || p[i - 1] == '_' || i + 1 >= len || !is_base_digit(p[i + 1], base))
                return FAIL(v, i, "numeric separator '_' must stand between two digits");
            *seps = true;
            i++;
        } else {
            break;
        }
    }
    *pi = i;
    *count = n;
    return DL_OK;
}

/* A number may not run into an identifier or digit ("5px", "0o19", "1.5n"). */
static enum dl_err check_after_number(struct vp *v, size_t s, size_t i)
{
    const struct dl_jslit *r = v->r;
    if (i < r->len && (is_digit(r->p[i]) || ident_char(r->p, r->len, i, false) || r->p[i] == '\\')) {
        char sn[64];
        size_t e = i;
        while (e < r->len) {
            size_t k = ident_char(r->p, r->len, e, false);
            if (!k && r->p[e] != '.')
                break;
            e += k ? k : 1;
        }
        snippet(r, s, e > i ? e : i + 1, sn, sizeof sn);
        return FAIL(v, s, "invalid number %s", sn);
    }
    return DL_OK;
}

/* Decimal digits of the base-b digits at p[s..e) ('_' skipped) into dst, which has room for
 * 2 * (e - s) + 2 bytes; returns their count ("0" for zero). */
static size_t radix_to_dec(const uint8_t *p, size_t s, size_t e, int base, char *dst)
{
    uint32_t limb[MAX_RADIX_DIGITS / 7 + 2]; /* base 1e9, least significant first */
    size_t nl = 0, n = 0;
    for (size_t k = s; k < e; k++) {
        if (p[k] == '_')
            continue;
        uint64_t carry = (uint64_t)dl_hex_digit(p[k]);
        for (size_t j = 0; j < nl; j++) {
            uint64_t x = (uint64_t)limb[j] * (uint64_t)base + carry;
            limb[j] = (uint32_t)(x % 1000000000u);
            carry = x / 1000000000u;
        }
        if (carry)
            limb[nl++] = (uint32_t)carry;
    }
    if (nl == 0) {
        dst[0] = '0';
        return 1;
    }
    n = (size_t)sprintf(dst, "%u", (unsigned)limb[nl - 1]);
    for (size_t j = nl - 1; j-- > 0;)
        n += (size_t)sprintf(dst + n, "%09u", (unsigned)limb[j]);
    return n;
}

/* JavaScript's Number::toString for a finite non-negative double (property names):
 * the shortest digits that read back as d, then plain or exponent notation by JS's rules. */
static size_t js_number_name(double d, char *o /* >= 40 bytes */)
{
    if (d == 0)
        return (size_t)sprintf(o, "0");
    if (isinf(d))
        return (size_t)sprintf(o, "Infinity");
    char buf[48], dig[24];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) /* same locale both ways */
            break;
    }
    int k = 0;
    const char *q = buf;
    for (; *q && *q != 'e'; q++) {
        if (is_digit((uint8_t)*q) && k < 20)
            dig[k++] = *q;
    }
    int n = (*q ? atoi(q + 1) : 0) + 1;
    while (k > 1 && dig[k - 1] == '0')
        k--;
    size_t w = 0;
    if (k <= n && n <= 21) {
        memcpy(o, dig, (size_t)k);
        w = (size_t)k;
        for (int z = 0; z < n - k; z++)
            o[w++] = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, dig, (size_t)n);
        w = (size_t)n;
        o[w++] = '.';
        memcpy(o + w, dig + n, (size_t)(k - n));
        w += (size_t)(k - n);
    } else if (-6 < n && n <= 0) {
        o[w++] = '0';
        o[w++] = '.';
        for (int z = 0; z < -n; z++)
            o[w++] = '0';
        memcpy(o + w, dig, (size_t)k);
        w += (size_t)k;
    } else {
        o[w++] = dig[0];
        if (k > 1) {
            o[w++] = '.';
            memcpy(o + w, dig + 1, (size_t)(k - 1));
            w += (size_t)(k - 1);
        }
        w += (size_t)sprintf(o + w, "e%c%d", n - 1 >= 0 ? '+' : '-', abs(n - 1));
    }
    o[w] = 0;
    return w;
}

static size_t copy_digits(const uint8_t *p, size_t s, size_t e, char *dst)
{
    size_t n = 0;
    for (size_t k = s; k < e; k++) {
        if (p[k] != '_')
            dst[n++] = (char)p[k];
    }
    return n;
}

/* The numeric literal at i (a digit, or '.' before a digit). sp is the offset of a leading
 * '+' or '-' (SIZE_MAX if none). For a value, *text is JSON number text; for a key, the
 * property name JavaScript gives it. */
static enum dl_err lex_number(struct vp *v, size_t sp, size_t i, bool key, size_t *end,
                              struct dl_cursor *text)
{
    const uint8_t *p = v->r->p;
    size_t len = v->r->len, s = i;
    size_t from = sp == SIZE_MAX ? s : sp;
    bool neg = sp != SIZE_MAX && p[sp] == '-';
    bool plain = sp == SIZE_MAX || (p[sp] == '-' && sp + 1 == s);
    bool seps = false, big = false;
    enum dl_err rc;
    char *o;
    size_t n = 0;

    uint8_t x = p[i] == '0' && i + 1 < len ? (uint8_t)(p[i + 1] | 0x20) : 0;
    if (x == 'x' || x == 'o' || x == 'b') {
        int base = x == 'x' ? 16 : x == 'o' ? 8 : 2;
        size_t ds = i + 2, nd = 0;
        i = ds;
        if ((rc = scan_digits(v, &i, base, &nd, &seps)))
            return rc;
        if (nd == 0) {
            if ((rc = check_after_number(v, s, i)))
                return rc;
            return FAIL(v, s, "expected %s digits after '0%c'",
                        base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary", p[s + 1]);
        }
        if (nd > MAX_RADIX_DIGITS)
            return FAIL(v, s, "number literal with more than %d digits", MAX_RADIX_DIGITS);
        size_t de = i;
        if (i < len && p[i] == 'n') {
            big = true;
            i++;
        }
        if ((rc = check_after_number(v, from, i)))
            return rc;
        if (big && sp != SIZE_MAX && p[sp] == '+')
            return FAIL(v, sp, "a '+' sign cannot stand before a BigInt (JavaScript throws a TypeError)");
        o = dl_arena_alloc(v->a, 2 * (de - ds) + 48);
        if (!o)
            return fail_nomem(v, s);
        if (neg)
            o[n++] = '-';
        n += radix_to_dec(p, ds, de, base, o + n);
        if (key && !big) {
            o[n] = 0;
            n = js_number_name(strtod(o, NULL), o); /* digits only: locale-independent */
        }
        *end = i;
        *text = dl_cursor_of(o, n);
        return DL_OK;
    }

    size_t is = i, ni = 0, fs = 0, nf = 0, es = 0, ne = 0;
    bool dot = false, exp = false;
    if ((rc = scan_digits(v, &i, 10, &ni, &seps)))
        return rc;
    if (ni > 0 && p[is] == '0' && i - is > 1) {
        char sn[64];
        snippet(v->r, is, i, sn, sizeof sn);
        return FAIL(v, is, "numbers cannot start with 0 (found %s); legacy octal literals are not "
                           "allowed: write 0o17 for octal or drop the zeros", sn);
    }
    size_t ie = i;
    if (i < len && p[i] == '.') {
        dot = true;
        i++;
        fs = i;
        if (i < len && p[i] == '_')
            return FAIL(v, i, "numeric separator '_' must stand between two digits");
        if ((rc = scan_digits(v, &i, 10, &nf, &seps)))
            return rc;
    }
    size_t fe = i;
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        exp = true;
        es = i;
        i++;
        if (i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        size_t eds = i;
        if ((rc = scan_digits(v, &i, 10, &ne, &seps)))
            return rc;
        if (ne == 0) {
            if ((rc = check_after_number(v, from, eds)))
                return rc;
            return fail_unexpected(v, eds, "expected digits in the exponent");
        }
    }
    if (!dot && !exp && ni > 0 && i < len && p[i] == 'n') {
        big = true;
        i++;
    }
    if (big && sp != SIZE_MAX && p[sp] == '+')
        return FAIL(v, sp, "a '+' sign cannot stand before a BigInt (JavaScript throws a TypeError)");
    if ((rc = check_after_number(v, from, i)))
        return rc;
    *end = i;
    if (!key && plain && ni > 0 && !(dot && nf == 0) && !seps && !big) {
        *text = dl_cursor_of(p + from, i - from);
        return DL_OK;
    }
    o = dl_arena_alloc(v->a, (i - from) + 48);
    if (!o)
        return fail_nomem(v, from);
    if (key && big) { /* a BigInt names its exact integer (no leading zeros: rejected above) */
        n = copy_digits(p, is, ie, o);
    } else if (key) {
        /* digits, then "e" and the exponent minus the fraction's length, for strtod */
        n = copy_digits(p, is, ie, o);
        if (dot)
            n += copy_digits(p, fs, fe, o + n);
        long long e10 = 0;
        if (exp) {
            size_t k = es + 1;
            bool eneg = p[k] == '-';
            if (p[k] == '+' || p[k] == '-')
                k++;
            for (; k < i; k++) {
                if (is_digit(p[k]) && e10 < 1000000000)
                    e10 = e10 * 10 + (p[k] - '0');
            }
            if (eneg)
                e10 = -e10;
        }
        e10 -= (long long)nf;
        n += (size_t)sprintf(o + n, "e%lld", e10);
        n = js_number_name(strtod(o, NULL), o);
    } else {
        if (neg)
            o[n++] = '-';
        if (ni)
            n += copy_digits(p, is, ie, o + n);
        else
            o[n++] = '0';
        if (nf) {
            o[n++] = '.';
            n += copy_digits(p, fs, fe, o + n);
        }
        if (exp)
            n += copy_digits(p, es, i, o + n);
    }
    *text = dl_cursor_of(o, n);
    return DL_OK;
}

/* ---- values ------------------------------------------------------------------------------------- */

struct scalar {
    enum dl_json_type type;
    struct dl_cursor str;
    bool undef;
};

/* A word in value position that is not a literal: say what it is. */
static enum dl_err fail_word(struct vp *v, size_t s, size_t e)
{
    const struct dl_jslit *r = v->r;
    char sn[64];
    snippet(r, s, e, sn, sizeof sn);
    if (word_is(r, s, e, "NaN") || word_is(r, s, e, "Infinity"))
        return FAIL(v, s, "NaN and Infinity are not allowed: DynamoDB numbers are finite (found %s)", sn);
    if (word_is(r, s, e, "new")) {
        size_t k = e;
        skip(r, &k);
        size_t ke = ident_end(r, k);
        if (ke > k)
            snprintf(sn, sizeof sn, "'new %.*s'", (int)(ke - k > SNIPPET_MAX ? SNIPPET_MAX : ke - k),
                     (const char *)r->p + k);
        return FAIL(v, s, "'new' expressions are not allowed in item files: nothing is evaluated "
                          "(found %s); write the value as a string or number", sn);
    }
    if (word_is(r, s, e, "function") || word_is(r, s, e, "class") || word_is(r, s, e, "async"))
        return FAIL(v, s, "functions and classes are not allowed in item files (found %s)", sn);
    if (word_is(r, s, e, "typeof") || word_is(r, s, e, "void") || word_is(r, s, e, "delete") ||
        word_is(r, s, e, "await") || word_is(r, s, e, "yield"))
        return FAIL(v, s, "operators are not allowed in item files (found %s)", sn);
    /* look past a dotted name (Math.PI, process.env.X) at what follows */
    size_t k = e, ne = e;
    for (;;) {
        size_t t = k;
        skip(r, &t);
        if (t < r->len && r->p[t] == '.' && !(t + 1 < r->len && r->p[t + 1] == '.')) {
            size_t u = t + 1;
            skip(r, &u);
            size_t ue = ident_end(r, u);
            if (ue > u) {
                k = ne = ue;
                continue;
            }
        }
        k = t;
        break;
    }
    if (k < r->len && r->p[k] == '(') {
        snippet_x(r, s, ne, "(", sn, sizeof sn);
        return FAIL(v, s, "function calls are not allowed in item files (found %s)", sn);
    }
    if (k + 1 < r->len && r->p[k] == '=' && r->p[k + 1] == '>') {
        snippet_x(r, s, ne, " =>", sn, sizeof sn);
        return FAIL(v, s, "arrow functions are not allowed in item files (found %s)", sn);
    }
    if (k < r->len && r->p[k] == '`') {
        snippet_x(r, s, ne, "`", sn, sizeof sn);
        return FAIL(v, s, "tagged templates are not allowed in item files (found %s)", sn);
    }
    snippet(r, s, ne, sn, sizeof sn);
    return FAIL(v, s, "identifiers are not allowed as values in item files (found %s); "
                      "quote it to make it a string", sn);
}

/* A value that is not an object or array, starting at i. *end = just past it. */
static enum dl_err parse_scalar(struct vp *v, size_t i, size_t *end, struct scalar *sc)
{
    const struct dl_jslit *r = v->r;
    const uint8_t *p = r->p;
    size_t len = r->len;
    uint8_t c = p[i];
    enum dl_err rc;

    memset(sc, 0, sizeof *sc);
    if (c == '"' || c == '\'' || c == '`') {
        sc->type = DL_JSON_STRING;
        return parse_string(v, i, end, &sc->str);
    }
    if (is_digit(c) || (c == '.' && i + 1 < len && is_digit(p[i + 1]))) {
        sc->type = DL_JSON_NUMBER;
        return lex_number(v, SIZE_MAX, i, false, end, &sc->str);
    }
    if (c == '+' || c == '-') {
        size_t k = i + 1;
        if ((rc = skip_v(v, &k)))
            return rc;
        if (k < len && (is_digit(p[k]) || (p[k] == '.' && k + 1 < len && is_digit(p[k + 1])))) {
            sc->type = DL_JSON_NUMBER;
            return lex_number(v, i, k, false, end, &sc->str);
        }
        size_t ke = ident_end(r, k);
        if (word_is(r, k, ke, "Infinity") || word_is(r, k, ke, "NaN"))
            return fail_word(v, k, ke);
        if (k < len && (p[k] == '+' || p[k] == '-'))
            return FAIL(v, i, "only one sign may stand before a number (found '%c%c')", c, p[k]);
        char found[64];
        describe(r, k, found, sizeof found);
        return FAIL(v, i, "a '%c' sign is only allowed before a number (found '%c' before %s)", c, c, found);
    }
    if (c == '.') {
        if (i + 2 < len && p[i + 1] == '.' && p[i + 2] == '.')
            return FAIL(v, i, "spread ('...') is not allowed in item files");
        return fail_unexpected(v, i, "expected a value");
    }
    if (c == '/')
        return FAIL(v, i, "regular expression literals are not allowed in item files");
    if (c == '(')
        return FAIL(v, i, "parentheses are not allowed in item files: grouped expressions and arrow "
                          "functions are code (found '(')");
    if (c == '!' || c == '~')
        return FAIL(v, i, "operators are not allowed in item files (found '%c')", c);
    if (c == '\\')
        return FAIL(v, i, "escape sequences in identifiers are not supported (found '\\')");
    size_t e = ident_end(r, i);
    if (e == i)
        return fail_unexpected(v, i, "expected a value");
    if (e < len && p[e] == '\\')
        return FAIL(v, e, "escape sequences in identifiers are not supported (found '\\')");
    static const struct { const char *w; enum dl_json_type t; } lits[] = {
        { "true", DL_JSON_TRUE }, { "false", DL_JSON_FALSE }, { "null", DL_JSON_NULL },
    };
    for (size_t k = 0; k < 3; k++) {
        if (word_is(r, i, e, lits[k].w)) {
            sc->type = lits[k].t;
            *end = e;
            return DL_OK;
        }
    }
    if (word_is(r, i, e, "undefined")) {
        sc->undef = true;
        *end = e;
        return DL_OK;
    }
    return fail_word(v, i, e);
}

/* After a value inside an object or array (or the top-level array): neither ',' nor the
 * closing bracket came. */
static enum dl_err fail_after(struct vp *v, size_t i, bool obj)
{
    const uint8_t *p = v->r->p;
    size_t len = v->r->len;
    const char *what = obj ? "expected ',' or '}' after object member" : "expected ',' or ']' after array element";
    if (i >= len)
        return fail_unexpected(v, i, what);
    uint8_t c = p[i];
    if (c == '(')
        return FAIL(v, i, "function calls are not allowed in item files (found '(' after a value)");
    if (c == '.' || (c == '?' && i + 1 < len && p[i + 1] == '.'))
        return FAIL(v, i, "property access and method calls are not allowed in item files (found '%c' after a value)", c);
    if (c == '`')
        return FAIL(v, i, "tagged templates are not allowed in item files");
    if (c == '[')
        return FAIL(v, i, "indexing is not allowed in item files (found '[' after a value)");
    if (c && strchr("+-*/%&|^?<>=!", c))
        return FAIL(v, i, "operators and expressions are not allowed in item files (found '%c'); "
                          "write each value out in full", c);
    return fail_unexpected(v, i, what);
}

/* A member name at i (whitespace skipped) and its ':'. *pi ends just past the ':'. */
static enum dl_err parse_key(struct vp *v, size_t *pi, struct dl_cursor *key)
{
    const struct dl_jslit *r = v->r;
    const uint8_t *p = r->p;
    size_t len = r->len, i = *pi, e = i;
    bool ident = false;
    enum dl_err rc;
    char sn[64];

    if (i >= len)
        return fail_unexpected(v, i, "expected a property name");
    uint8_t c = p[i];
    if (c == '"' || c == '\'') {
        if ((rc = parse_string(v, i, &e, key)))
            return rc;
    } else if (is_digit(c) || (c == '.' && i + 1 < len && is_digit(p[i + 1]))) {
        if ((rc = lex_number(v, SIZE_MAX, i, true, &e, key)))
            return rc;
    } else if (c == '[') {
        return FAIL(v, i, "computed property names ('[...]:') are not allowed in item files");
    } else if (c == '.' && i + 2 < len && p[i + 1] == '.' && p[i + 2] == '.') {
        return FAIL(v, i, "spread ('...') is not allowed in item files");
    } else if (c == '*') {
        return FAIL(v, i, "generator methods are not allowed in item files (found '*')");
    } else if (c == '`') {
        return FAIL(v, i, "template literals cannot be property names; use '...' or \"...\"");
    } else if (c == '-' || c == '+') {
        return FAIL(v, i, "signed numbers cannot be property names; quote the name");
    } else if (c == '\\') {
        return FAIL(v, i, "escape sequences in identifiers are not supported; quote the name");
    } else {
        e = ident_end(r, i);
        if (e == i)
            return fail_unexpected(v, i, "expected a property name");
        if (e < len && p[e] == '\\')
            return FAIL(v, e, "escape sequences in identifiers are not supported; quote the name");
        ident = true;
        *key = dl_cursor_of(p + i, e - i);
    }
    if (dl_cursor_eq_str(*key, "__proto__"))
        return FAIL(v, i, "'__proto__' sets an object's prototype in JavaScript and is not an "
                          "attribute; rename it");
    size_t k = e;
    if ((rc = skip_v(v, &k)))
        return rc;
    if (k < len && p[k] == ':') {
        *pi = k + 1;
        return DL_OK;
    }
    snippet(r, i, e, sn, sizeof sn);
    int nl = (int)(e - i > SNIPPET_MAX ? SNIPPET_MAX : e - i);
    if (ident && k < len && (p[k] == ',' || p[k] == '}'))
        return FAIL(v, i, "shorthand properties are not allowed in item files (found %s without "
                          "':'); write %.*s: value", sn, nl, (const char *)p + i);
    if (k < len && p[k] == '(') {
        snippet_x(r, i, e, "(", sn, sizeof sn);
        return FAIL(v, i, "methods are not allowed in item files (found %s)", sn);
    }
    if (ident && (word_is(r, i, e, "get") || word_is(r, i, e, "set") || word_is(r, i, e, "async")) &&
        k < len && (ident_end(r, k) > k || p[k] == '"' || p[k] == '\'' || p[k] == '[' ||
                    p[k] == '*' || is_digit(p[k]))) {
        size_t ke = ident_end(r, k);
        snippet(r, i, ke > k ? ke : k + 1, sn, sizeof sn);
        return FAIL(v, i, "getters, setters and methods are not allowed in item files (found %s)", sn);
    }
    if (k < len && p[k] == '=')
        return FAIL(v, k, "'=' is not allowed in an object literal; write %.*s: value", nl,
                    (const char *)p + i);
    return fail_unexpected(v, k, "expected ':' after property name");
}

struct member_ref {
    struct dl_json *m;
    size_t pos;
};

static int cmp_member(const void *x, const void *y)
{
    const struct member_ref *a = x, *b = y;
    size_t n = a->m->key.len < b->m->key.len ? a->m->key.len : b->m->key.len;
    int c = n ? memcmp(a->m->key.ptr, b->m->key.ptr, n) : 0;
    if (c)
        return c;
    if (a->m->key.len != b->m->key.len)
        return a->m->key.len < b->m->key.len ? -1 : 1;
    return a->pos < b->pos ? -1 : a->pos > b->pos;
}

static bool is_undef(const struct dl_json *m)
{
    return m->type == DL_JSON_NULL && m->str.ptr == undef_mark;
}

/* The object in f closed holding undefined markers: drop each marker and every member of
 * the same name before it (sorting by name keeps this O(n log n) on hostile input). */
static enum dl_err drop_undefined(struct vp *v, struct frame *f)
{
    struct dl_json *obj = f->node;
    size_t n = obj->n;
    struct member_ref *refs = dl_arena_alloc(v->a, n * sizeof *refs);
    struct dl_json **order = dl_arena_alloc(v->a, n * sizeof *order);
    if (!refs || !order)
        return fail_nomem(v, v->base + obj->offset);
    size_t k = 0;
    for (struct dl_json *m = obj->child; m; m = m->next, k++) {
        refs[k].m = m;
        refs[k].pos = k;
        order[k] = m;
    }
    qsort(refs, n, sizeof *refs, cmp_member);
    for (size_t g = 0; g < n;) {
        size_t h = g + 1;
        while (h < n && dl_cursor_eq(refs[h].m->key, refs[g].m->key))
            h++;
        size_t last = SIZE_MAX; /* index in refs of the group's last marker */
        for (size_t j = g; j < h; j++) {
            if (is_undef(refs[j].m))
                last = j;
        }
        if (last != SIZE_MAX) {
            for (size_t j = g; j <= last; j++)
                order[refs[j].pos] = NULL;
        }
        g = h;
    }
    struct dl_json *prev = NULL;
    obj->child = NULL;
    obj->n = 0;
    for (k = 0; k < n; k++) {
        if (!order[k])
            continue;
        if (prev)
            prev->next = order[k];
        else
            obj->child = order[k];
        prev = order[k];
        obj->n++;
    }
    if (prev)
        prev->next = NULL;
    f->last = prev;
    f->undef = false;
    return DL_OK;
}

/* Close the container on top of the stack. */
static enum dl_err pop(struct vp *v, size_t *depth)
{
    struct frame *f = &v->r->stack[*depth - 1];
    enum dl_err rc = f->undef ? drop_undefined(v, f) : DL_OK;
    (*depth)--;
    return rc;
}

static struct dl_json *new_node(struct vp *v, enum dl_json_type t, size_t at)
{
    struct dl_json *n = dl_arena_alloc(v->a, sizeof *n);
    if (!n)
        return NULL;
    memset(n, 0, sizeof *n);
    n->type = t;
    n->offset = at - v->base;
    return n;
}

enum vstate { V_VALUE, V_MEMBER, V_AFTER };

/* Parse one value at start (whitespace skipped). *out is NULL for `undefined`. *endp = just
 * past the value. */
static enum dl_err parse_value(struct vp *v, size_t start, size_t *endp, struct dl_json **out)
{
    struct dl_jslit *r = v->r;
    const uint8_t *p = r->p;
    size_t len = r->len;
    struct frame *stack = r->stack;
    size_t depth = 0, i = start, vend = start;
    struct dl_json *root = NULL;
    struct dl_cursor key = { 0 };
    enum vstate st = V_VALUE;
    enum dl_err rc = DL_OK;

    for (;;) {
        switch (st) {
        case V_VALUE: {
            if ((rc = skip_v(v, &i)))
                goto out;
            if (i >= len) {
                rc = fail_unexpected(v, i, "expected a value");
                goto out;
            }
            uint8_t c = p[i];
            bool container = c == '{' || c == '[';
            struct scalar sc = { 0 };
            size_t e = i;
            if (container && depth == DL_JSON_MAX_DEPTH) {
                rc = FAIL(v, i, "nesting deeper than %d", DL_JSON_MAX_DEPTH);
                goto out;
            }
            if (!container) {
                if ((rc = parse_scalar(v, i, &e, &sc)))
                    goto out;
            }
            struct dl_json *n = NULL;
            bool in_obj = depth && stack[depth - 1].node->type == DL_JSON_OBJECT;
            if (sc.undef && in_obj) {
                sc.type = DL_JSON_NULL;
                sc.str = dl_cursor_of(undef_mark, 0);
                stack[depth - 1].undef = true;
            }
            if (!sc.undef || in_obj) {
                n = new_node(v, container ? (c == '{' ? DL_JSON_OBJECT : DL_JSON_ARRAY) : sc.type, i);
                if (!n) {
                    rc = fail_nomem(v, i);
                    goto out;
                }
                n->str = sc.str;
                if (depth) {
                    struct frame *f = &stack[depth - 1];
                    if (f->node->n == UINT32_MAX) {
                        rc = fail(r, v->err, DL_ERR_TOO_LARGE, i, "more than %u elements in one container",
                                  (unsigned)UINT32_MAX);
                        goto out;
                    }
                    if (f->node->type == DL_JSON_OBJECT)
                        n->key = key;
                    if (f->last)
                        f->last->next = n;
                    else
                        f->node->child = n;
                    f->last = n;
                    f->node->n++;
                } else {
                    root = n;
                }
            }
            if (!container) {
                i = vend = e;
                st = V_AFTER;
                continue;
            }
            stack[depth].node = n;
            stack[depth].last = NULL;
            stack[depth].undef = false;
            depth++;
            i++;
            if ((rc = skip_v(v, &i)))
                goto out;
            if (i < len && p[i] == (c == '{' ? '}' : ']')) {
                depth--;
                vend = ++i;
                st = V_AFTER;
            } else if (c == '[' && i < len && p[i] == ',') {
                rc = FAIL(v, i, "empty array elements (holes) are not allowed in item files");
                goto out;
            } else {
                st = c == '{' ? V_MEMBER : V_VALUE;
            }
            continue;
        }
        case V_MEMBER:
            if ((rc = parse_key(v, &i, &key)))
                goto out;
            st = V_VALUE;
            continue;
        case V_AFTER: {
            if (depth == 0) {
                *endp = vend;
                *out = root;
                goto out;
            }
            struct frame *f = &stack[depth - 1];
            bool obj = f->node->type == DL_JSON_OBJECT;
            uint8_t close = obj ? '}' : ']';
            if ((rc = skip_v(v, &i)))
                goto out;
            if (i < len && p[i] == ',') {
                i++;
                if ((rc = skip_v(v, &i)))
                    goto out;
                if (i < len && p[i] == close) { /* trailing comma */
                    if ((rc = pop(v, &depth)))
                        goto out;
                    vend = ++i;
                    continue;
                }
                if (!obj && i < len && p[i] == ',') {
                    rc = FAIL(v, i, "empty array elements (holes) are not allowed in item files");
                    goto out;
                }
                st = obj ? V_MEMBER : V_VALUE;
                continue;
            }
            if (i < len && p[i] == close) {
                if ((rc = pop(v, &depth)))
                    goto out;
                vend = ++i;
                continue;
            }
            rc = fail_after(v, i, obj);
            goto out;
        }
        }
    }
out:
    return rc;
}

/* ---- the reader ------------------------------------------------------------------------------------ */

enum dl_err dl_jslit_new(const uint8_t *p, size_t len, struct dl_jslit **out)
{
    enum dl_err rc = DL_OK;
    struct dl_jslit *r = calloc(1, sizeof *r);
    *out = NULL;
    if (!r) {
        rc = DL_ERR_NOMEM;
        goto out;
    }
    r->p = p;
    r->len = p ? len : 0;
    r->lc_line = 1;
    if (r->len >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        r->pos = 3;
    *out = r;
out:
    return rc;
}

void dl_jslit_destroy(struct dl_jslit *r)
{
    free(r);
}

static void begin(struct dl_jslit *r, struct dl_jsonrec_out *out, size_t s, size_t e)
{
    out->record = ++r->record;
    out->offset = s;
    locate(r, s, &out->line, &out->column);
    out->raw = dl_cursor_of(r->p + s, e - s);
}

/* Give up: FATAL with err already set; out->raw runs from s to the end. */
static enum dl_jsonrec_status fatal(struct dl_jslit *r, struct dl_jsonrec_out *out, size_t s)
{
    begin(r, out, s, r->len);
    r->ph = PH_DONE;
    return DL_JSONREC_FATAL;
}

#define SHAPES "accepted: module.exports = [...], export default [...], const|let|var NAME = [...], " \
               "or { NAME: [...] } in place of the array"

static enum dl_err fail_shape(struct dl_jslit *r, struct dl_pos_err *err, size_t at, const char *what)
{
    char found[64];
    if (at < r->len && r->p[at] >= 0x80 && !u8len(r->p, r->len, at))
        return fail_utf8(r, err, at);
    describe(r, at, found, sizeof found);
    size_t e = ident_end(r, at);
    if (e > at && e < r->len && r->p[e] == '(')
        snprintf(found, sizeof found, "'%.*s('", (int)(e - at > SNIPPET_MAX ? SNIPPET_MAX : e - at),
                 (const char *)r->p + at);
    return fail(r, err, DL_ERR_PARSE, at, "%s (found %s); %s", what, found, SHAPES);
}

/* Skip whitespace/comments, then take the word w (true) or not (false, nothing consumed). */
static bool take_word(struct dl_jslit *r, size_t *pi, const char *w)
{
    size_t i = *pi;
    skip(r, &i);
    size_t e = ident_end(r, i);
    if (!word_is(r, i, e, w))
        return false;
    *pi = e;
    return true;
}

static bool take_char(struct dl_jslit *r, size_t *pi, uint8_t c)
{
    size_t i = *pi;
    skip(r, &i);
    if (i >= r->len || r->p[i] != c)
        return false;
    *pi = i + 1;
    return true;
}

/* Skip, then an identifier: its range in *s..*e (false if there is none). */
static bool take_ident(struct dl_jslit *r, size_t *pi, size_t *s, size_t *e)
{
    size_t i = *pi;
    skip(r, &i);
    size_t k = ident_end(r, i);
    if (k == i || is_digit(r->p[i]))
        return false;
    *s = i;
    *e = k;
    *pi = k;
    return true;
}

/* Skip, then a member name: an identifier or a simple quoted string. */
static bool take_key(struct dl_jslit *r, size_t *pi)
{
    size_t s, e, i = *pi;
    if (take_ident(r, &i, &s, &e)) {
        *pi = i;
        return true;
    }
    skip(r, &i);
    if (i < r->len && (r->p[i] == '"' || r->p[i] == '\'')) {
        const uint8_t *q = memchr(r->p + i + 1, r->p[i], r->len - i - 1);
        const uint8_t *nl = memchr(r->p + i + 1, '\n', r->len - i - 1);
        if (q && (!nl || nl > q)) {
            *pi = (size_t)(q - r->p) + 1;
            return true;
        }
    }
    return false;
}

/* Where the first non-blank, non-comment byte from i is (for error positions). */
static size_t at_next(struct dl_jslit *r, size_t i)
{
    skip(r, &i);
    return i;
}

/* The export statement up to the array's '['. */
static enum dl_err read_head(struct dl_jslit *r, struct dl_pos_err *err, size_t *stmt)
{
    size_t i = r->pos, s, e;
    const uint8_t *p = r->p;
    size_t len = r->len;
    bool dflt = false;

    if (i + 1 < len && p[i] == '#' && p[i + 1] == '!') {
        while (i < len && !lt_len(p, len, i))
            i++;
    }
    for (;;) { /* directives and empty statements */
        if (!skip(r, &i))
            return fail(r, err, DL_ERR_PARSE, i, "unterminated /* comment");
        *stmt = i;
        if (i < len && p[i] == ';') {
            i++;
            continue;
        }
        if (i + 12 <= len && (p[i] == '\'' || p[i] == '"') && p[i + 11] == p[i] &&
            memcmp(p + i + 1, "use strict", 10) == 0) {
            i += 12;
            continue;
        }
        break;
    }
    if (i >= len)
        return fail(r, err, DL_ERR_PARSE, i, "no item array in this file; %s", SHAPES);
    if (p[i] != '[') {
        if (take_word(r, &i, "module")) {
            if (!take_char(r, &i, '.') || !take_word(r, &i, "exports"))
                return fail_shape(r, err, at_next(r, i), "expected module.exports");
            if (take_char(r, &i, '.') && !take_ident(r, &i, &s, &e))
                return fail_shape(r, err, at_next(r, i), "expected a name after 'module.exports.'");
        } else if (take_word(r, &i, "exports")) {
            if (!take_char(r, &i, '.') || !take_ident(r, &i, &s, &e))
                return fail_shape(r, err, at_next(r, i), "expected exports.NAME");
        } else {
            bool exp = take_word(r, &i, "export");
            if (exp && take_word(r, &i, "default")) {
                dflt = true;
            } else if (take_word(r, &i, "const") || take_word(r, &i, "let") || take_word(r, &i, "var")) {
                if (!take_ident(r, &i, &s, &e))
                    return fail_shape(r, err, at_next(r, i), "expected a variable name");
                r->declared = true;
                r->name = dl_cursor_of(p + s, e - s);
            } else {
                return fail_shape(r, err, at_next(r, i),
                                  exp ? "expected 'default', 'const', 'let' or 'var' after 'export'"
                                      : "not a JavaScript item file");
            }
        }
        if (!dflt && !take_char(r, &i, '='))
            return fail_shape(r, err, at_next(r, i), "expected '='");
        if (take_char(r, &i, '{')) {
            if (!take_key(r, &i) || !take_char(r, &i, ':'))
                return fail_shape(r, err, at_next(r, i), "expected NAME: [...] inside { ... }");
            r->wrapped = true;
        }
        if (!skip(r, &i))
            return fail(r, err, DL_ERR_PARSE, i, "unterminated /* comment");
        if (i >= len || p[i] != '[')
            return fail_shape(r, err, i, r->wrapped ? "the object around the items must hold an array "
                                                      "literal of items"
                                                    : "the exported value must be an array literal of items");
    }
    r->pos = i + 1;
    return DL_OK;
}

/* The declared name, exported again: NAME, or { NAME } / { KEY: NAME }. */
static bool take_ref(struct dl_jslit *r, size_t *pi)
{
    size_t s, e, i = *pi;
    if (take_char(r, &i, '{')) {
        size_t k = i;
        if (take_key(r, &k) && take_char(r, &k, ':'))
            i = k;
        if (!take_ident(r, &i, &s, &e))
            return false;
        take_char(r, &i, ',');
        if (!take_char(r, &i, '}'))
            return false;
    } else if (!take_ident(r, &i, &s, &e)) {
        return false;
    }
    if (!dl_cursor_eq(dl_cursor_of(r->p + s, e - s), r->name))
        return false;
    *pi = i;
    return true;
}

/* One statement after a declaration that exports NAME. */
static bool take_trailer(struct dl_jslit *r, size_t *pi)
{
    size_t s, e, i = *pi;
    if (take_word(r, &i, "module")) {
        if (!take_char(r, &i, '.') || !take_word(r, &i, "exports"))
            return false;
        if (take_char(r, &i, '.') && !take_ident(r, &i, &s, &e))
            return false;
        if (!take_char(r, &i, '=') || !take_ref(r, &i))
            return false;
    } else if (take_word(r, &i, "exports")) {
        if (!take_char(r, &i, '.') || !take_ident(r, &i, &s, &e) || !take_char(r, &i, '=') ||
            !take_ref(r, &i))
            return false;
    } else if (take_word(r, &i, "export")) {
        if (take_word(r, &i, "default")) {
            if (!take_ident(r, &i, &s, &e) || !dl_cursor_eq(dl_cursor_of(r->p + s, e - s), r->name))
                return false;
        } else {
            if (!take_char(r, &i, '{') || !take_ident(r, &i, &s, &e) ||
                !dl_cursor_eq(dl_cursor_of(r->p + s, e - s), r->name))
                return false;
            if (take_word(r, &i, "as") && !take_ident(r, &i, &s, &e))
                return false;
            take_char(r, &i, ',');
            if (!take_char(r, &i, '}'))
                return false;
        }
    } else {
        return false;
    }
    take_char(r, &i, ';');
    *pi = i;
    return true;
}

/* After the array's ']': the wrapper's '}', ';', exports of the declared name, the end. */
static enum dl_err read_tail(struct dl_jslit *r, struct dl_pos_err *err, size_t *at)
{
    size_t i = r->pos;
    char found[64];
    if (r->wrapped) {
        take_char(r, &i, ',');
        if (!take_char(r, &i, '}')) {
            *at = at_next(r, i);
            if (*at < r->len && r->p[*at] >= 0x80 && !u8len(r->p, r->len, *at))
                return fail_utf8(r, err, *at);
            describe(r, *at, found, sizeof found);
            return fail(r, err, DL_ERR_PARSE, *at,
                        "the object around the item array may hold only that array (expected '}', found %s)",
                        found);
        }
    }
    for (;;) {
        *at = i;
        if (!skip(r, at))
            return fail(r, err, DL_ERR_PARSE, *at, "unterminated /* comment");
        i = *at;
        if (i >= r->len)
            return DL_OK;
        if (r->p[i] == ';') {
            i++;
            continue;
        }
        if (r->declared && take_trailer(r, &i))
            continue;
        if (r->p[i] >= 0x80 && !u8len(r->p, r->len, i))
            return fail_utf8(r, err, i);
        describe(r, i, found, sizeof found);
        if (r->declared)
            return fail(r, err, DL_ERR_PARSE, i,
                        "only comments and an export of '%.*s' may follow the item array (found %s)",
                        (int)(r->name.len > SNIPPET_MAX ? SNIPPET_MAX : r->name.len),
                        (const char *)r->name.ptr, found);
        return fail(r, err, DL_ERR_PARSE, i, "only comments may follow the item array (found %s)", found);
    }
}

/* One step in the array. true with *st set when a result is ready; false when the array
 * closed. */
static bool array_step(struct dl_jslit *r, struct dl_arena *a, struct dl_jsonrec_out *out,
                       struct dl_pos_err *err, enum dl_jsonrec_status *st)
{
    struct vp v = { r, a, err, 0 };
    size_t i = r->pos;
    const uint8_t *p = r->p;
    size_t len = r->len;

    if (skip_v(&v, &i))
        goto fatal;
    if (r->need_sep) {
        if (i < len && p[i] == ',') {
            i++;
            if (skip_v(&v, &i))
                goto fatal;
            if (i < len && p[i] == ',') {
                FAIL(&v, i, "empty array elements (holes) are not allowed in item files");
                goto fatal;
            }
        } else if (i < len && p[i] != ']') {
            fail_after(&v, i, false);
            goto fatal;
        }
    } else if (i < len && p[i] == ',') {
        FAIL(&v, i, "empty array elements (holes) are not allowed in item files");
        goto fatal;
    }
    if (i < len && p[i] == ']') {
        r->pos = i + 1;
        r->ph = PH_TAIL;
        return false;
    }
    if (i >= len) {
        FAIL(&v, i, "unexpected end of input (the item array is not closed)");
        goto fatal;
    }
    {
        uint64_t line, col;
        size_t end = i;
        struct dl_json *val = NULL;
        locate(r, i, &line, &col);
        v.base = i;
        if (parse_value(&v, i, &end, &val) != DL_OK)
            goto fatal;
        r->nelem++;
        r->need_sep = true;
        r->pos = end;
        begin(r, out, i, end);
        if (val && val->type == DL_JSON_OBJECT) {
            out->value = val;
            dl_pos_err_clear(err);
            *st = DL_JSONREC_ITEM;
        } else {
            dl_pos_err_set(err, DL_ERR_PARSE, i, line, col, "array element %llu is not an object (found %s)",
                           (unsigned long long)r->nelem, val ? dl_json_type_name(val->type) : "undefined");
            *st = DL_JSONREC_ERROR;
        }
        return true;
    }
fatal:
    *st = fatal(r, out, i);
    return true;
}

enum dl_jsonrec_status dl_jslit_next(struct dl_jslit *r, struct dl_arena *a,
                                     struct dl_jsonrec_out *out, struct dl_pos_err *err)
{
    enum dl_jsonrec_status st = DL_JSONREC_END;
    struct dl_pos_err dummy;
    size_t at = 0;
    if (!err)
        err = &dummy;
    memset(out, 0, sizeof *out);
    dl_pos_err_clear(err);

    for (;;) {
        switch (r->ph) {
        case PH_START:
            if (read_head(r, err, &at) != DL_OK) {
                st = fatal(r, out, at);
                goto out;
            }
            r->ph = PH_ARRAY;
            continue;
        case PH_ARRAY:
            if (array_step(r, a, out, err, &st))
                goto out;
            continue;
        case PH_TAIL:
            if (read_tail(r, err, &at) != DL_OK) {
                st = fatal(r, out, at);
                goto out;
            }
            r->ph = PH_DONE;
            continue;
        case PH_DONE:
            st = DL_JSONREC_END;
            goto out;
        }
    }
out:
    return st;
}
