#include "core/glob.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/json.h"

/* The matcher runs the pattern as an NFA over the key, one code point at a time: a state is
 * the byte offset in the pattern where the next token starts. That is O(pattern × key) in
 * the worst case ("*a*a*a*a*b" against "aaaa...") where backtracking would be exponential,
 * and needs only two small bitsets on the stack. */

#define WORDS ((DL_GLOB_MAX_PATTERN + 1 + 63) / 64)
#define BAD_BYTE 0x110000u /* + byte: a code point for a byte that is not valid UTF-8 */

enum tok_kind { T_END, T_LIT, T_ANY, T_CLASS, T_STAR, T_DSTAR, T_DIRS };

struct tok {
    enum tok_kind kind;
    uint32_t cp;   /* T_LIT */
    size_t next;   /* offset just past the token */
};

/* The code point at s[i] (s has n bytes); *len gets its length in bytes. A byte that does not
 * start a well-formed sequence is returned on its own as BAD_BYTE + byte, so it still equals
 * itself in pattern and key. */
static uint32_t cp_at(const uint8_t *s, size_t n, size_t i, size_t *len)
{
    uint8_t c = s[i];
    *len = 1;
    if (c < 0x80)
        return c;
    size_t need = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
    if (need == 0 || c > 0xf4 || i + need > n)
        return BAD_BYTE + c;
    uint32_t v = need == 2 ? c & 0x1fu : need == 3 ? c & 0x0fu : c & 0x07u;
    for (size_t k = 1; k < need; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
            return BAD_BYTE + c;
        v = v << 6 | (s[i + k] & 0x3fu);
    }
    if ((need == 3 && v < 0x800) || (need == 4 && (v < 0x10000 || v > 0x10ffff)))
        return BAD_BYTE + c;
    *len = need;
    return v;
}

/* One class member at p[j]: an escaped or a plain code point. */
static uint32_t member_at(const uint8_t *p, size_t n, size_t j, size_t *next)
{
    size_t l;
    if (p[j] == '\\' && j + 1 < n) {
        uint32_t v = cp_at(p, n, j + 1, &l);
        *next = j + 1 + l;
        return v;
    }
    uint32_t v = cp_at(p, n, j, &l);
    *next = j + l;
    return v;
}

/* Scan the class starting at p[i] == '['. Returns false when it has no closing ']'. Otherwise
 * *end is the offset past ']' and *hit whether code point c is in the class (c is never '/'). */
static bool class_scan(const uint8_t *p, size_t n, size_t i, uint32_t c, bool *hit, size_t *end)
{
    size_t j = i + 1;
    bool neg = false, in = false, first = true;
    if (j < n && (p[j] == '!' || p[j] == '^')) {
        neg = true;
        j++;
    }
    for (;;) {
        if (j >= n)
            return false;
        if (p[j] == ']' && !first)
            break;
        first = false;
        size_t k;
        uint32_t lo = member_at(p, n, j, &k), hi = lo;
        if (k + 1 < n && p[k] == '-' && p[k + 1] != ']')
            hi = member_at(p, n, k + 1, &k);
        if (c >= lo && c <= hi)
            in = true;
        j = k;
    }
    *end = j + 1;
    *hit = in != neg;
    return true;
}

/* The token at p[i] (i < n). start is where the pattern proper begins (for "**" segments). */
static struct tok tok_at(const uint8_t *p, size_t n, size_t start, size_t i)
{
    struct tok t = { T_LIT, 0, i + 1 };
    size_t l;
    bool hit;
    switch (p[i]) {
    case '*': {
        size_t j = i;
        while (j < n && p[j] == '*')
            j++;
        if (j - i == 1) {
            t.kind = T_STAR;
        } else if ((i == start || p[i - 1] == '/') && j < n && p[j] == '/') {
            t.kind = T_DIRS;
            j++;
        } else {
            t.kind = T_DSTAR;
        }
        t.next = j;
        return t;
    }
    case '?':
        t.kind = T_ANY;
        return t;
    case '[':
        if (class_scan(p, n, i, 0, &hit, &t.next))
            t.kind = T_CLASS;
        else
            t.cp = '[', t.next = i + 1;
        return t;
    case '\\':
        if (i + 1 < n) {
            t.cp = cp_at(p, n, i + 1, &l);
            t.next = i + 1 + l;
        } else {
            t.cp = '\\';
        }
        return t;
    default:
        t.cp = cp_at(p, n, i, &l);
        t.next = i + l;
        return t;
    }
}

struct set {
    uint64_t on[WORDS];  /* active states */
    uint64_t eps[WORDS]; /* states whose epsilon closure is already in on */
};

static bool has(const uint64_t *w, size_t i)
{
    return (w[i / 64] >> (i % 64)) & 1;
}
static void put(uint64_t *w, size_t i)
{
    w[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Enter state j and follow epsilon moves: a star may match nothing, and so may a whole "**"
 * segment. */
static void add_eps(struct set *s, const uint8_t *p, size_t n, size_t start, size_t j)
{
    while (!has(s->eps, j)) {
        put(s->on, j);
        put(s->eps, j);
        if (j == n)
            return;
        struct tok t = tok_at(p, n, start, j);
        if (t.kind != T_STAR && t.kind != T_DSTAR && t.kind != T_DIRS)
            return;
        j = t.next;
    }
}

bool dl_glob_match(const char *pattern, const char *key)
{
    if (!pattern || !key)
        return false;
    const uint8_t *p = (const uint8_t *)pattern;
    size_t n = strlen(pattern);
    if (n > DL_GLOB_MAX_PATTERN)
        return false;
    size_t start = 0;
    if (memchr(p, '/', n)) {
        if (p[0] == '/')
            start = 1;
    } else {
        const char *slash = strrchr(key, '/');
        if (slash)
            key = slash + 1;
    }
    const uint8_t *k = (const uint8_t *)key;
    size_t kn = strlen(key);
    size_t words = (n + 1 + 63) / 64;

    struct set a, b, *cur = &a, *nxt = &b;
    memset(cur, 0, sizeof *cur);
    add_eps(cur, p, n, start, start);
    for (size_t i = 0; i < kn;) {
        size_t l;
        uint32_t c = cp_at(k, kn, i, &l);
        i += l;
        memset(nxt->on, 0, words * sizeof(uint64_t));
        memset(nxt->eps, 0, words * sizeof(uint64_t));
        bool any = false;
        for (size_t w = 0; w < words; w++) {
            for (uint64_t bits = cur->on[w]; bits; bits &= bits - 1) {
                size_t j = w * 64 + (size_t)__builtin_ctzll(bits);
                if (j >= n)
                    continue; /* the accepting state consumes nothing */
                struct tok t = tok_at(p, n, start, j);
                bool hit = false;
                size_t end;
                switch (t.kind) {
                case T_LIT:
                    if (c == t.cp)
                        add_eps(nxt, p, n, start, t.next), any = true;
                    break;
                case T_ANY:
                    if (c != '/')
                        add_eps(nxt, p, n, start, t.next), any = true;
                    break;
                case T_CLASS:
                    if (c != '/' && class_scan(p, n, j, c, &hit, &end) && hit)
                        add_eps(nxt, p, n, start, t.next), any = true;
                    break;
                case T_STAR:
                    if (c != '/')
                        add_eps(nxt, p, n, start, j), any = true;
                    break;
                case T_DSTAR:
                    add_eps(nxt, p, n, start, j), any = true;
                    break;
                case T_DIRS:
                    /* inside the run of segments: stay, without the epsilon move (the run may
                     * only end right after a '/') */
                    put(nxt->on, j), any = true;
                    if (c == '/')
                        add_eps(nxt, p, n, start, t.next);
                    break;
                case T_END:
                    break;
                }
            }
        }
        if (!any)
            return false;
        struct set *t = cur;
        cur = nxt;
        nxt = t;
    }
    return has(cur->on, n);
}

static void seterr(char *err, size_t errlen, const char *fmt, size_t at)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, at);
}

enum dl_err dl_glob_check(const char *pattern, char *err, size_t errlen)
{
    if (!pattern || !*pattern) {
        if (err && errlen)
            snprintf(err, errlen, "empty pattern");
        return DL_ERR_INVALID;
    }
    const uint8_t *p = (const uint8_t *)pattern;
    size_t n = strlen(pattern), bad;
    if (n > DL_GLOB_MAX_PATTERN) {
        if (err && errlen)
            snprintf(err, errlen, "pattern longer than %d bytes", DL_GLOB_MAX_PATTERN);
        return DL_ERR_INVALID;
    }
    if (!dl_utf8_valid(p, n, &bad)) {
        seterr(err, errlen, "pattern is not valid UTF-8 (byte %zu)", bad + 1);
        return DL_ERR_INVALID;
    }
    for (size_t i = 0; i < n;) {
        if (p[i] == '\\') {
            if (i + 1 == n) {
                seterr(err, errlen, "trailing '\\' at byte %zu (write \\\\ for a literal '\\')",
                       i + 1);
                return DL_ERR_INVALID;
            }
            i += 2;
            continue;
        }
        if (p[i] != '[') {
            i++;
            continue;
        }
        bool hit;
        size_t end;
        if (!class_scan(p, n, i, 0, &hit, &end)) {
            seterr(err, errlen, "unterminated '[' at byte %zu (write \\[ for a literal '[')",
                   i + 1);
            return DL_ERR_INVALID;
        }
        size_t j = i + 1;
        if (j < end && (p[j] == '!' || p[j] == '^'))
            j++;
        if (j + 1 < end && p[j] == '[' && p[j + 1] == ':') {
            seterr(err, errlen,
                   "character class names such as [[:alpha:]] are not supported (byte %zu)",
                   i + 1);
            return DL_ERR_INVALID;
        }
        /* ranges that hold nothing, such as [z-a] */
        bool first = true;
        while (j < end - 1) {
            if (p[j] == ']' && !first)
                break;
            first = false;
            size_t k, k2;
            uint32_t lo = member_at(p, n, j, &k);
            if (k + 1 < end - 1 && p[k] == '-' && p[k + 1] != ']') {
                uint32_t hi = member_at(p, n, k + 1, &k2);
                if (hi < lo) {
                    seterr(err, errlen,
                           "empty range in '[' at byte %zu (its end is below its start)", i + 1);
                    return DL_ERR_INVALID;
                }
                k = k2;
            }
            j = k;
        }
        i = end;
    }
    return DL_OK;
}

bool dl_glob_is_pattern(const char *s)
{
    return s && strpbrk(s, "*?[\\") != NULL;
}
