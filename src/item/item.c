#include "item/item.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item/item_impl.h"
#include "item/number.h"

#define KEY_BUF_CAP ((size_t)1 << 20)

/* One step of the path to a failing value: a map member name or a list/set index. */
struct seg {
    struct dl_cursor name;
    size_t index;
    bool is_index;
};

/* What was found for one key attribute, kept until the whole record is seen so the key
 * comes out in key schema order whatever the source order. */
struct keyval {
    bool found;
    bool seen_empty;        /* CSV: a cell for this key existed but was empty */
    uint64_t empty_column;
    struct dl_cursor raw;   /* S: the bytes; B: the bytes, or base64 text when b64; N: text as written */
    bool b64;
    char canon[DL_NUM_CANON_MAX]; /* N: canonical form */
    size_t canon_len;
};

/* Encoder state for one record. Sizes are summed as values are seen; once the running
 * size passes the limit, wire output stops (emit = false) but the walk goes on so the
 * error can give the item's exact size and any other problem. */
struct enc {
    struct dl_item *it;
    const struct dl_key_schema *ks;
    bool emit;
    size_t size;
    struct keyval kv[2];
    /* the error, composed into why at the end */
    enum dl_err code;
    bool value_err; /* reason is about a value: prefix "attribute '<path>': " */
    bool path_top;  /* ...naming only the top-level attribute (the full path adds nothing) */
    char reason[224];
    uint64_t offset;
    uint64_t column;
    int nsegs;
    struct seg segs[DL_ITEM_MAX_DEPTH + 4];
};

/* ---------------------------------------------------------------- errors */

static enum dl_err vfail(struct enc *st, enum dl_err code, bool value_err, uint64_t offset,
                         const char *fmt, va_list ap)
{
    st->code = code;
    st->value_err = value_err;
    st->path_top = false;
    st->offset = offset;
    st->nsegs = 0;
    vsnprintf(st->reason, sizeof st->reason, fmt, ap);
    return code;
}

/* A problem with one value: the message gets the attribute path in front. */
__attribute__((format(printf, 4, 5)))
static enum dl_err fail_value(struct enc *st, enum dl_err code, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(st, code, true, offset, fmt, ap);
    va_end(ap);
    return code;
}

/* A problem with the record (keys, size, names): the message stands alone. */
__attribute__((format(printf, 4, 5)))
static enum dl_err fail_item(struct enc *st, enum dl_err code, uint64_t offset, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(st, code, false, offset, fmt, ap);
    va_end(ap);
    return code;
}

static enum dl_err fail_depth(struct enc *st, const struct dl_json *v)
{
    fail_value(st, DL_ERR_INVALID, v->offset, "nesting deeper than %d levels", DL_ITEM_MAX_DEPTH);
    st->path_top = true;
    return DL_ERR_INVALID;
}

static enum dl_err buf_fail(struct enc *st, enum dl_err e)
{
    if (e == DL_ERR_TOO_LARGE)
        return fail_item(st, e, 0, "the item's DynamoDB JSON form is larger than 16 MB");
    return fail_item(st, e, 0, "out of memory");
}

static void push_seg_name(struct enc *st, struct dl_cursor name)
{
    if (st->nsegs < (int)(sizeof st->segs / sizeof st->segs[0])) {
        struct seg s = { name, 0, false };
        st->segs[st->nsegs++] = s;
    }
}

static void push_seg_index(struct enc *st, size_t index)
{
    if (st->nsegs < (int)(sizeof st->segs / sizeof st->segs[0])) {
        struct seg s = { { NULL, 0 }, index, true };
        st->segs[st->nsegs++] = s;
    }
}

/* Render the path outermost first: top.name[3].inner */
static void render_path(const struct enc *st, char *dst, size_t cap)
{
    size_t len = 0;
    dst[0] = 0;
    int stop = st->path_top ? st->nsegs - 1 : 0;
    for (int i = st->nsegs - 1; i >= stop; i--) {
        char piece[DL_ITEM_QUOTE_MAX + 32];
        if (st->segs[i].is_index) {
            snprintf(piece, sizeof piece, "[%zu]", st->segs[i].index);
        } else {
            char q[DL_ITEM_QUOTE_MAX + 8];
            dl_item_quote(q, sizeof q, st->segs[i].name, DL_ITEM_QUOTE_MAX);
            snprintf(piece, sizeof piece, "%s%s", i == st->nsegs - 1 ? "" : ".", q);
        }
        size_t pl = strlen(piece);
        if (len + pl + 4 > cap) {
            memcpy(dst + len, "...", 4);
            return;
        }
        memcpy(dst + len, piece, pl + 1);
        len += pl;
    }
}

/* Drop a UTF-8 sequence cut short at the end of s (vsnprintf truncates bytewise). */
static void trim_utf8_tail(char *s)
{
    size_t n = strlen(s);
    size_t i = n;
    while (i > 0 && ((uint8_t)s[i - 1] & 0xc0) == 0x80 && n - i < 3)
        i--;
    if (i == 0)
        return;
    uint8_t lead = (uint8_t)s[i - 1];
    size_t want = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
    if (want > 1 && n - (i - 1) < want)
        s[i - 1] = 0;
}

static enum dl_err report(struct enc *st, enum dl_err e, struct dl_pos_err *why)
{
    if (!why)
        return e;
    if (st->code != e) /* an error no helper described */
        fail_item(st, e, st->offset, "%s", dl_err_str(e));
    if (st->value_err && st->nsegs > 0) {
        char path[160];
        render_path(st, path, sizeof path);
        dl_pos_err_set(why, e, st->offset, 0, st->column, "attribute '%s': %s", path, st->reason);
    } else {
        dl_pos_err_set(why, e, st->offset, 0, st->column, "%s", st->reason);
    }
    trim_utf8_tail(why->msg);
    return e;
}

/* ---------------------------------------------------------------- output */

/* True when p[0..n) needs neither JSON escaping nor UTF-8 validation: no byte below 0x20,
 * no '"', no '\\', none above 0x7F. Eight bytes at a time (exact "any byte" tests). */
static inline uint64_t load64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static inline uint64_t load32(const uint8_t *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

static inline bool plain_ascii(const uint8_t *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t acc = 0, w;
    size_t i = 0;
    /* overlapping loads cover the tail (a byte looked at twice does no harm to an "any" test);
     * assembling it byte by byte through memory would stall the load that follows */
    if (n >= 8) {
        for (; i + 8 < n; i += 8) {
            w = load64(p + i);
            uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
            acc |= w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
        }
        w = load64(p + n - 8);
    } else if (n >= 4) {
        w = load32(p) | load32(p + n - 4) << 32;
    } else {
        w = ones * 'a';
        if (n)
            w = (w & ~0xFFFFFFull) | p[0] | (uint64_t)p[n / 2] << 8 | (uint64_t)p[n - 1] << 16;
    }
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    acc |= w | ((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b);
    return (acc & highs) == 0;
}

/* dl_utf8_valid's verdict (no position) for the short texts of CSV cells, without a call
 * per character: well-formed sequences only, no overlongs, surrogates or code points above
 * U+10FFFF. */
static bool utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n && (load64(p + i) & 0x8080808080808080ull) == 0) {
            i += 8;
            continue;
        }
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c < 0xC2)
            return false;
        if (c < 0xE0) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
            continue;
        }
        uint8_t lo = 0x80, hi = 0xBF;
        size_t len;
        if (c < 0xF0) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c < 0xF5) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80 ||
            (len == 4 && (p[i + 3] & 0xC0) != 0x80))
            return false;
        i += len;
    }
    return true;
}

/* memcpy for the short pieces of a CSV item, without a call for the common sizes. */
static inline void copy_small(uint8_t *o, const uint8_t *p, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a = load64(p), b = load64(p + n - 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            o[i] = p[i];
    } else {
        memcpy(o, p, n);
    }
}

/* Bits at the bytes of w that JSON must escape (the lowest one is exact; bits above a hit
 * may be spurious). */
static inline uint64_t escape_bits(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs;
}

/* p[0..n), valid UTF-8, as the body of a JSON string at o, exactly as
 * dl_buf_append_json_str writes it; o needs 6 * n bytes. Returns the bytes written. */
static size_t escape_into(uint8_t *o, const uint8_t *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t *start = o;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        for (;;) {
            if (j + 8 <= n) {
                uint64_t m = escape_bits(load64(p + j));
                if (m) {
                    j += (size_t)__builtin_ctzll(m) / 8;
                    break;
                }
                j += 8;
                continue;
            }
            while (j < n && p[j] >= 0x20 && p[j] != '"' && p[j] != '\\')
                j++;
            break;
        }
        memcpy(o, p + i, j - i);
        o += j - i;
        if (j >= n)
            break;
        uint8_t c = p[j];
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            o[0] = 'u';
            o[1] = '0';
            o[2] = '0';
            o[3] = (uint8_t)hex[c >> 4];
            o[4] = (uint8_t)hex[c & 15];
            o += 5;
        }
        i = j + 1;
    }
    return (size_t)(o - start);
}

/* dl_buf_append_json_str, with the common case (nothing to escape) in one copy. */
static enum dl_err append_json_str(struct dl_buf *b, const uint8_t *p, size_t n)
{
    if (!plain_ascii(p, n)) {
        /* the worst case (6 bytes a byte) may not fit under the cap when the text does */
        if (n > (b->cap - b->len) / 6)
            return dl_buf_append_json_str(b, p, n);
        enum dl_err e = dl_buf_reserve(b, 6 * n + 2);
        if (e)
            return e == DL_ERR_TOO_LARGE ? dl_buf_append_json_str(b, p, n) : e;
        uint8_t *o = b->data + b->len;
        o[0] = '"';
        size_t k = escape_into(o + 1, p, n);
        o[k + 1] = '"';
        o[k + 2] = 0;
        b->len += k + 2;
        return DL_OK;
    }
    enum dl_err e = dl_buf_reserve(b, n + 2);
    if (e)
        return e;
    uint8_t *o = b->data + b->len;
    o[0] = '"';
    if (n)
        memcpy(o + 1, p, n);
    o[n + 1] = '"';
    o[n + 2] = 0;
    b->len += n + 2;
    return DL_OK;
}


static void grow(struct enc *st, size_t n)
{
    st->size += n;
    if (st->size > DL_ITEM_MAX_SIZE)
        st->emit = false;
}

static enum dl_err put(struct enc *st, const void *p, size_t n)
{
    if (!st->emit)
        return DL_OK;
    enum dl_err e = dl_buf_append(&st->it->wire, p, n);
    return e ? buf_fail(st, e) : DL_OK;
}

static inline __attribute__((always_inline)) enum dl_err put_s(struct enc *st, const char *s)
{
    return put(st, s, strlen(s));
}

static enum dl_err put_json_str(struct enc *st, struct dl_cursor c)
{
    if (!st->emit)
        return DL_OK;
    enum dl_err e = append_json_str(&st->it->wire, c.ptr, c.len);
    return e ? buf_fail(st, e) : DL_OK;
}

static enum dl_err put_b64(struct enc *st, const void *p, size_t n)
{
    if (!st->emit)
        return DL_OK;
    struct dl_buf *w = &st->it->wire;
    enum dl_err e = dl_buf_append_byte(w, '"');
    if (!e)
        e = dl_buf_append_base64(w, p, n);
    if (!e)
        e = dl_buf_append_byte(w, '"');
    return e ? buf_fail(st, e) : DL_OK;
}

/* ---------------------------------------------------------------- duplicate names */

struct name_ref {
    const uint8_t *p;
    size_t len;
    size_t idx;
};

static int cmp_name_ref(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = m ? memcmp(x->p, y->p, m) : 0;
    if (c)
        return c;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Push n flag bytes on the scratch stack and return their offset in *off, plus room for
 * n name_refs just past them (not counted in len: valid until the next append). */
static enum dl_err dup_begin(struct enc *st, size_t n, size_t *off, struct name_ref **refs)
{
    struct dl_buf *s = &st->it->scratch;
    size_t need = n + 16 + n * sizeof(struct name_ref);
    enum dl_err e = dl_buf_reserve(s, need);
    if (e)
        return buf_fail(st, e == DL_ERR_TOO_LARGE ? DL_ERR_NOMEM : e);
    *off = s->len;
    memset(s->data + s->len, 0, n);
    s->len += n;
    uintptr_t at = (uintptr_t)(s->data + s->len);
    at = (at + 15) & ~(uintptr_t)15;
    *refs = (struct name_ref *)at;
    return DL_OK;
}

/* Sort refs[0..m) and flag every member that a later member with the same name supersedes. */
static void dup_mark(struct enc *st, size_t off, struct name_ref *refs, size_t m)
{
    uint8_t *flags = st->it->scratch.data + off;
    if (m < 2)
        return;
    if (m <= 16) { /* typical records: comparing pairs beats sorting */
        for (size_t i = 0; i + 1 < m; i++)
            for (size_t j = i + 1; j < m; j++)
                if (refs[i].len == refs[j].len &&
                    (refs[i].len == 0 || memcmp(refs[i].p, refs[j].p, refs[i].len) == 0)) {
                    flags[refs[i].idx] = 1; /* refs are in source order: j is later */
                    break;
                }
        return;
    }
    qsort(refs, m, sizeof *refs, cmp_name_ref);
    for (size_t i = 0; i + 1 < m; i++) {
        if (refs[i].len == refs[i + 1].len &&
            (refs[i].len == 0 || memcmp(refs[i].p, refs[i + 1].p, refs[i].len) == 0))
            flags[refs[i].idx] = 1; /* sorted by index within a name: i+1 is later */
    }
}

static enum dl_err dup_flags_json(struct enc *st, const struct dl_json *obj, size_t *off)
{
    struct name_ref *refs = NULL;
    enum dl_err e = dup_begin(st, obj->n, off, &refs);
    if (e)
        return e;
    size_t m = 0;
    for (const struct dl_json *c = obj->child; c && m < obj->n; c = c->next, m++) {
        refs[m].p = c->key.ptr;
        refs[m].len = c->key.len;
        refs[m].idx = m;
    }
    dup_mark(st, *off, refs, m);
    return DL_OK;
}

static bool superseded(const struct enc *st, size_t off, size_t i)
{
    return st->it->scratch.data[off + i] != 0;
}

/* ---------------------------------------------------------------- keys */

static int key_index(const struct dl_key_schema *ks, struct dl_cursor name)
{
    for (int k = 0; ks && k < ks->n; k++) {
        if (ks->k[k].name_len == name.len &&
            (name.len == 0 || memcmp(ks->k[k].name, name.ptr, name.len) == 0))
            return k;
    }
    return -1;
}

static const char *key_role(int k)
{
    return k == 0 ? "partition key" : "sort key";
}

static const char *type_desc(char t)
{
    switch (t) {
    case 'S': return "a string (S)";
    case 'N': return "a number (N)";
    case 'B': return "binary (B)";
    }
    return "of an unknown type";
}

static void key_name(const struct dl_key_schema *ks, int k, char *dst, size_t cap)
{
    dl_item_quote(dst, cap, dl_cursor_of(ks->k[k].name, ks->k[k].name_len), DL_ITEM_QUOTE_MAX);
}

static enum dl_err key_empty(struct enc *st, int k, uint64_t off)
{
    char kn[DL_ITEM_QUOTE_MAX + 8];
    key_name(st->ks, k, kn, sizeof kn);
    return fail_item(st, DL_ERR_INVALID, off, "%s '%s' is empty", key_role(k), kn);
}

static enum dl_err key_too_big(struct enc *st, int k, size_t len, uint64_t off)
{
    char kn[DL_ITEM_QUOTE_MAX + 8], a[32], b[32];
    key_name(st->ks, k, kn, sizeof kn);
    return fail_item(st, DL_ERR_TOO_LARGE, off, "%s '%s' is %s bytes; limit %s", key_role(k), kn,
                     dl_item_thousands(len, a),
                     dl_item_thousands(k == 0 ? DL_KEY_HASH_MAX : DL_KEY_RANGE_MAX, b));
}

static enum dl_err check_key_len(struct enc *st, int k, size_t len, uint64_t off)
{
    if (len == 0)
        return key_empty(st, k, off);
    if (len > (k == 0 ? DL_KEY_HASH_MAX : DL_KEY_RANGE_MAX))
        return key_too_big(st, k, len, off);
    return DL_OK;
}

static bool has_digit(struct dl_cursor c)
{
    for (size_t i = 0; i < c.len; i++)
        if (c.ptr[i] >= '0' && c.ptr[i] <= '9')
            return true;
    return false;
}

/* dl_num_format_canonical's text ([-]DIGITSEexp, "0" for zero) without going through printf:
 * it is built for every N key. */
static size_t canon_format(const struct dl_num_info *n, char dst[DL_NUM_CANON_MAX])
{
    if (n->zero) {
        dst[0] = '0';
        dst[1] = 0;
        return 1;
    }
    size_t k = 0, dl = strlen(n->digits);
    if (n->negative)
        dst[k++] = '-';
    memcpy(dst + k, n->digits, dl);
    k += dl;
    dst[k++] = 'E';
    unsigned long long u = n->exp10 < 0 ? 0ull - (unsigned long long)n->exp10 : (unsigned long long)n->exp10;
    char tmp[24];
    size_t t = 0;
    do
        tmp[t++] = (char)('0' + u % 10);
    while (u /= 10);
    if (n->exp10 < 0)
        dst[k++] = '-';
    while (t)
        dst[k++] = tmp[--t];
    dst[k] = 0;
    return k;
}

/* A key from text: a JSON string or number, a DynamoDB JSON S/N, or a CSV cell. from_number
 * says the text is meant as a number (a JSON number or an N value): an invalid one is then
 * reported as a bad number rather than as "a string where a number was wanted". */
static enum dl_err key_from_text(struct enc *st, int k, struct dl_cursor text, bool from_number,
                                 uint64_t off)
{
    struct keyval *kv = &st->kv[k];
    char type = st->ks->k[k].type;
    char kn[DL_ITEM_QUOTE_MAX + 8];
    enum dl_err e = DL_OK;
    if (type == 'N') {
        if (text.len == 0)
            return key_empty(st, k, off);
        struct dl_num_info ni;
        char why[200];
        if (dl_num_check(text, &ni, why, sizeof why) != DL_OK) {
            key_name(st->ks, k, kn, sizeof kn);
            if (from_number || ni.sig_digits > 0)
                return fail_item(st, DL_ERR_INVALID, off, "key '%s': %s", kn, why);
            if (!has_digit(text)) {
                char q[DL_ITEM_QUOTE_MAX + 8];
                dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
                return fail_item(st, DL_ERR_INVALID, off,
                                 "key '%s' must be a number (N) but is the string '%s'", kn, q);
            }
            return fail_item(st, DL_ERR_INVALID, off, "key '%s' must be a number (N) but %s", kn, why);
        }
        kv->canon_len = canon_format(&ni, kv->canon);
        grow(st, dl_num_size(&ni));
        if ((e = put_s(st, "{\"N\":")) || (e = put_json_str(st, text)) || (e = put_s(st, "}")))
            return e;
    } else if (type == 'S' || type == 'B') {
        if ((e = check_key_len(st, k, text.len, off)))
            return e;
        grow(st, text.len);
        if (type == 'S')
            e = put_s(st, "{\"S\":");
        else
            e = put_s(st, "{\"B\":");
        if (!e)
            e = type == 'S' ? put_json_str(st, text) : put_b64(st, text.ptr, text.len);
        if (!e)
            e = put_s(st, "}");
        if (e)
            return e;
    } else {
        key_name(st->ks, k, kn, sizeof kn);
        return fail_item(st, DL_ERR_INVALID, off, "key '%s' has an unsupported type '%c' in the key schema",
                         kn, type);
    }
    kv->found = true;
    kv->raw = text;
    kv->b64 = false;
    return DL_OK;
}

static void append_key_part(struct dl_buf *key, char type, const void *p, size_t len, enum dl_err *e)
{
    uint8_t hdr[5] = { (uint8_t)type, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                       (uint8_t)len };
    if (!*e)
        *e = dl_buf_append(key, hdr, 5);
    if (!*e)
        *e = dl_buf_append(key, p, len);
}

/* Every key is S or N and its name and value need no JSON escaping. */
static bool keys_plain(const struct enc *st)
{
    const struct dl_key_schema *ks = st->ks;
    for (int k = 0; k < ks->n; k++) {
        char t = ks->k[k].type;
        if ((t != 'S' && t != 'N') || !plain_ascii((const uint8_t *)ks->k[k].name, ks->k[k].name_len) ||
            !plain_ascii(st->kv[k].raw.ptr, st->kv[k].raw.len))
            return false;
    }
    return true;
}

/* After the whole record: every key attribute must be there; build key and key_wire. */
static enum dl_err finish_keys(struct enc *st, uint64_t off)
{
    const struct dl_key_schema *ks = st->ks;
    struct dl_item *it = st->it;
    enum dl_err e = DL_OK;
    for (int k = 0; ks && k < ks->n; k++) {
        if (!st->kv[k].found) {
            char kn[DL_ITEM_QUOTE_MAX + 8];
            key_name(ks, k, kn, sizeof kn);
            if (st->kv[k].seen_empty) {
                st->column = st->kv[k].empty_column;
                return key_empty(st, k, off);
            }
            return fail_item(st, DL_ERR_INVALID, off, "missing %s '%s'", key_role(k), kn);
        }
    }
    if (!ks || ks->n == 0)
        return DL_OK;
    if (keys_plain(st)) {
        /* S and N keys with names and values that need no escaping: one reservation each,
         * then direct writes of what the general loop below would append */
        size_t wneed = 2, kneed = 0;
        for (int k = 0; k < ks->n; k++) {
            const struct keyval *kv = &st->kv[k];
            wneed += ks->k[k].name_len + kv->raw.len + 12;
            kneed += 5 + (ks->k[k].type == 'N' ? kv->canon_len : kv->raw.len);
        }
        if ((e = dl_buf_reserve(&it->key_wire, wneed)) || (e = dl_buf_reserve(&it->key, kneed)))
            return buf_fail(st, e);
        uint8_t *w = it->key_wire.data + it->key_wire.len, *kb = it->key.data + it->key.len;
        *w++ = '{';
        for (int k = 0; k < ks->n; k++) {
            const struct keyval *kv = &st->kv[k];
            char t = ks->k[k].type;
            const void *kp = t == 'N' ? (const void *)kv->canon : (const void *)kv->raw.ptr;
            size_t kl = t == 'N' ? kv->canon_len : kv->raw.len;
            kb[0] = (uint8_t)t;
            kb[1] = (uint8_t)(kl >> 24);
            kb[2] = (uint8_t)(kl >> 16);
            kb[3] = (uint8_t)(kl >> 8);
            kb[4] = (uint8_t)kl;
            memcpy(kb + 5, kp, kl);
            kb += 5 + kl;
            if (k > 0)
                *w++ = ',';
            *w++ = '"';
            memcpy(w, ks->k[k].name, ks->k[k].name_len);
            w += ks->k[k].name_len;
            memcpy(w, "\":{\"?\":\"", 8);
            w[4] = (uint8_t)t;
            w += 8;
            memcpy(w, kv->raw.ptr, kv->raw.len);
            w += kv->raw.len;
            *w++ = '"';
            *w++ = '}';
        }
        *w++ = '}';
        *w = 0;
        *kb = 0;
        it->key_wire.len = (size_t)(w - it->key_wire.data);
        it->key.len = (size_t)(kb - it->key.data);
        return DL_OK;
    }
    e = dl_buf_append_byte(&it->key_wire, '{');
    for (int k = 0; !e && k < ks->n; k++) {
        struct keyval *kv = &st->kv[k];
        char t = ks->k[k].type;
        if (k > 0)
            e = dl_buf_append_byte(&it->key_wire, ',');
        if (!e)
            e = append_json_str(&it->key_wire, (const uint8_t *)ks->k[k].name, ks->k[k].name_len);
        if (!e) {
            char open[] = ":{\"?\":";
            open[3] = t;
            e = dl_buf_append(&it->key_wire, open, sizeof open - 1);
        }
        if (e)
            break;
        if (t == 'N') {
            append_key_part(&it->key, t, kv->canon, kv->canon_len, &e);
            if (!e)
                e = append_json_str(&it->key_wire, kv->raw.ptr, kv->raw.len);
        } else if (t == 'S') {
            append_key_part(&it->key, t, kv->raw.ptr, kv->raw.len, &e);
            if (!e)
                e = append_json_str(&it->key_wire, kv->raw.ptr, kv->raw.len);
        } else {
            /* B: decode base64 text straight into key, then encode from there */
            size_t hdr_at = it->key.len;
            append_key_part(&it->key, t, "", 0, &e);
            size_t at = it->key.len;
            if (!e && kv->b64) {
                e = dl_base64_decode(kv->raw, &it->key);
            } else if (!e) {
                e = dl_buf_append(&it->key, kv->raw.ptr, kv->raw.len);
            }
            if (e)
                break;
            size_t len = it->key.len - at;
            it->key.data[hdr_at + 1] = (uint8_t)(len >> 24);
            it->key.data[hdr_at + 2] = (uint8_t)(len >> 16);
            it->key.data[hdr_at + 3] = (uint8_t)(len >> 8);
            it->key.data[hdr_at + 4] = (uint8_t)len;
            e = dl_buf_append_byte(&it->key_wire, '"');
            if (!e)
                e = dl_buf_append_base64(&it->key_wire, it->key.data + at, len);
            if (!e)
                e = dl_buf_append_byte(&it->key_wire, '"');
        }
        if (!e)
            e = dl_buf_append_byte(&it->key_wire, '}');
    }
    if (!e)
        e = dl_buf_append_byte(&it->key_wire, '}');
    return e ? buf_fail(st, e == DL_ERR_PARSE ? DL_ERR_NOMEM : e) : DL_OK;
}

/* ---------------------------------------------------------------- plain JSON */

static const char *json_desc(const struct dl_json *v, char *buf, size_t cap)
{
    char q[DL_ITEM_QUOTE_MAX + 8];
    switch (v->type) {
    case DL_JSON_NULL: return "null";
    case DL_JSON_TRUE: return "a boolean (true)";
    case DL_JSON_FALSE: return "a boolean (false)";
    case DL_JSON_ARRAY: return "a list";
    case DL_JSON_OBJECT: return "a map";
    case DL_JSON_NUMBER:
        dl_item_quote(q, sizeof q, v->str, DL_ITEM_QUOTE_MAX);
        snprintf(buf, cap, "the number %s", q);
        return buf;
    case DL_JSON_STRING:
        dl_item_quote(q, sizeof q, v->str, DL_ITEM_QUOTE_MAX);
        snprintf(buf, cap, "the string '%s'", q);
        return buf;
    }
    return "unknown";
}

static enum dl_err json_key(struct enc *st, int k, const struct dl_json *v)
{
    char t = st->ks->k[k].type;
    if (v->type == DL_JSON_STRING)
        return key_from_text(st, k, v->str, false, v->offset);
    if (v->type == DL_JSON_NUMBER && (t == 'S' || t == 'N'))
        return key_from_text(st, k, v->str, true, v->offset);
    char kn[DL_ITEM_QUOTE_MAX + 8], d[DL_ITEM_QUOTE_MAX + 32];
    key_name(st->ks, k, kn, sizeof kn);
    return fail_item(st, DL_ERR_INVALID, v->offset, "key '%s' must be %s but is %s", kn, type_desc(t),
                     json_desc(v, d, sizeof d));
}

static enum dl_err check_nested_name(struct enc *st, const struct dl_json *c)
{
    if (c->key.len > DL_ATTR_NAME_MAX) {
        char a[32];
        return fail_value(st, DL_ERR_INVALID, c->offset, "a map member name is %s bytes; limit 65,535",
                          dl_item_thousands(c->key.len, a));
    }
    return DL_OK;
}

static enum dl_err json_value(struct enc *st, const struct dl_json *v, int level)
{
    enum dl_err e = DL_OK;
    if (level > DL_ITEM_MAX_DEPTH)
        return fail_depth(st, v);
    switch (v->type) {
    case DL_JSON_STRING:
        grow(st, v->str.len);
        if ((e = put_s(st, "{\"S\":")) || (e = put_json_str(st, v->str)) || (e = put_s(st, "}")))
            return e;
        return DL_OK;
    case DL_JSON_NUMBER: {
        struct dl_num_info ni;
        char why[200];
        if (dl_num_check(v->str, &ni, why, sizeof why) != DL_OK)
            return fail_value(st, DL_ERR_INVALID, v->offset, "%s", why);
        grow(st, dl_num_size(&ni));
        if ((e = put_s(st, "{\"N\":")) || (e = put_json_str(st, v->str)) || (e = put_s(st, "}")))
            return e;
        return DL_OK;
    }
    case DL_JSON_TRUE:
    case DL_JSON_FALSE:
        grow(st, 1);
        return put_s(st, v->type == DL_JSON_TRUE ? "{\"BOOL\":true}" : "{\"BOOL\":false}");
    case DL_JSON_NULL:
        grow(st, 1);
        return put_s(st, "{\"NULL\":true}");
    case DL_JSON_ARRAY: {
        grow(st, 3);
        if ((e = put_s(st, "{\"L\":[")))
            return e;
        size_t i = 0;
        for (const struct dl_json *c = v->child; c; c = c->next, i++) {
            grow(st, 1);
            if (i > 0 && (e = put_s(st, ",")))
                return e;
            if ((e = json_value(st, c, level + 1))) {
                push_seg_index(st, i);
                return e;
            }
        }
        return put_s(st, "]}");
    }
    case DL_JSON_OBJECT: {
        grow(st, 3);
        size_t off;
        if ((e = put_s(st, "{\"M\":{")) || (e = dup_flags_json(st, v, &off)))
            return e;
        size_t i = 0;
        bool first = true;
        for (const struct dl_json *c = v->child; c; c = c->next, i++) {
            if (superseded(st, off, i))
                continue;
            if ((e = check_nested_name(st, c)))
                return e;
            grow(st, 1 + c->key.len);
            if (!first && (e = put_s(st, ",")))
                return e;
            first = false;
            if ((e = put_json_str(st, c->key)) || (e = put_s(st, ":")))
                return e;
            if ((e = json_value(st, c, level + 1))) {
                push_seg_name(st, c->key);
                return e;
            }
        }
        st->it->scratch.len = off;
        return put_s(st, "}}");
    }
    }
    return fail_value(st, DL_ERR_INVALID, v->offset, "unknown JSON value type");
}

/* ---------------------------------------------------------------- DynamoDB JSON */

enum ddb_type { T_S, T_N, T_B, T_BOOL, T_NULL, T_SS, T_NS, T_BS, T_L, T_M, T_UNKNOWN };

static const char *const ddb_names[] = { "S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M" };

static enum ddb_type ddb_type_of(struct dl_cursor k)
{
    for (int t = 0; t < T_UNKNOWN; t++)
        if (dl_cursor_eq_str(k, ddb_names[t]))
            return (enum ddb_type)t;
    return T_UNKNOWN;
}

static const char *ddb_desc(enum ddb_type t)
{
    static const char *const d[] = { "a string (S)", "a number (N)", "binary (B)", "a boolean (BOOL)",
                                     "null (NULL)", "a string set (SS)", "a number set (NS)",
                                     "a binary set (BS)", "a list (L)", "a map (M)" };
    return t < T_UNKNOWN ? d[t] : "unknown";
}

static const char *json_type_name(const struct dl_json *v)
{
    switch (v->type) {
    case DL_JSON_NULL: return "null";
    case DL_JSON_TRUE:
    case DL_JSON_FALSE: return "a boolean";
    case DL_JSON_NUMBER: return "a number";
    case DL_JSON_STRING: return "a string";
    case DL_JSON_ARRAY: return "an array";
    case DL_JSON_OBJECT: return "an object";
    }
    return "unknown";
}

/* Check the {"T": payload} wrapper; on success *type and *payload are set. */
static enum dl_err ddb_unwrap(struct enc *st, const struct dl_json *v, enum ddb_type *type,
                              const struct dl_json **payload)
{
    if (v->type != DL_JSON_OBJECT)
        return fail_value(st, DL_ERR_INVALID, v->offset,
                          "value must be a DynamoDB JSON object such as {\"S\":\"...\"}, not %s",
                          json_type_name(v));
    if (v->n == 0)
        return fail_value(st, DL_ERR_INVALID, v->offset,
                          "value has no type (expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)");
    if (v->n != 1)
        return fail_value(st, DL_ERR_INVALID, v->offset, "value has %u type keys; exactly one is allowed",
                          (unsigned)v->n);
    const struct dl_json *c = v->child;
    *type = ddb_type_of(c->key);
    if (*type == T_UNKNOWN) {
        char q[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(q, sizeof q, c->key, DL_ITEM_QUOTE_MAX);
        return fail_value(st, DL_ERR_INVALID, c->offset,
                          "unknown type '%s' (expected one of S, N, B, BOOL, NULL, SS, NS, BS, L, M)", q);
    }
    static const enum dl_json_type want[] = { DL_JSON_STRING, DL_JSON_STRING, DL_JSON_STRING,
                                              DL_JSON_TRUE, DL_JSON_TRUE, DL_JSON_ARRAY,
                                              DL_JSON_ARRAY, DL_JSON_ARRAY, DL_JSON_ARRAY,
                                              DL_JSON_OBJECT };
    enum dl_json_type got = c->type == DL_JSON_FALSE ? DL_JSON_TRUE : c->type;
    if (got != want[*type]) {
        static const char *const wname[] = { "a string", "a string", "a base64 string", "true or false",
                                             "true", "an array of strings", "an array of number strings",
                                             "an array of base64 strings", "an array", "an object" };
        return fail_value(st, DL_ERR_INVALID, c->offset, "%s value must be %s, not %s", ddb_names[*type],
                          wname[*type], json_type_name(c));
    }
    if (*type == T_NULL && c->type != DL_JSON_TRUE)
        return fail_value(st, DL_ERR_INVALID, c->offset, "NULL value must be true");
    *payload = c;
    return DL_OK;
}

/* Decode base64 onto the scratch stack; the bytes are at *at, *len long (until the next append). */
static enum dl_err b64_scratch(struct enc *st, const struct dl_json *s, const char *what, size_t *at,
                               size_t *len)
{
    struct dl_buf *sc = &st->it->scratch;
    *at = sc->len;
    enum dl_err e = dl_base64_decode(s->str, sc);
    if (e == DL_ERR_PARSE) {
        sc->len = *at;
        char q[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(q, sizeof q, s->str, DL_ITEM_QUOTE_MAX);
        return fail_value(st, DL_ERR_INVALID, s->offset, "%s value '%s' is not valid base64", what, q);
    }
    if (e)
        return buf_fail(st, e == DL_ERR_TOO_LARGE ? DL_ERR_NOMEM : e);
    *len = sc->len - *at;
    return DL_OK;
}

/* Set element representations for duplicate detection, stacked as [size_t len][bytes]. */
static enum dl_err set_elem_push(struct enc *st, const void *p, size_t len)
{
    struct dl_buf *sc = &st->it->scratch;
    enum dl_err e = dl_buf_append(sc, &len, sizeof len);
    if (!e)
        e = dl_buf_append(sc, p, len);
    return e ? buf_fail(st, e == DL_ERR_TOO_LARGE ? DL_ERR_NOMEM : e) : DL_OK;
}

static enum dl_err ddb_set(struct enc *st, enum ddb_type t, const struct dl_json *arr)
{
    enum dl_err e = DL_OK;
    struct dl_buf *sc = &st->it->scratch;
    size_t base = sc->len;
    if (arr->n == 0)
        return fail_value(st, DL_ERR_INVALID, arr->offset, "%s must not be empty", ddb_names[t]);
    if ((e = put_s(st, t == T_SS ? "{\"SS\":[" : t == T_NS ? "{\"NS\":[" : "{\"BS\":[")))
        return e;
    size_t i = 0;
    for (const struct dl_json *c = arr->child; c; c = c->next, i++) {
        if (c->type != DL_JSON_STRING) {
            e = fail_value(st, DL_ERR_INVALID, c->offset, "%s elements must be strings, not %s",
                           ddb_names[t], json_type_name(c));
            push_seg_index(st, i);
            return e;
        }
        if (i > 0 && (e = put_s(st, ",")))
            return e;
        if (t == T_SS) {
            grow(st, c->str.len);
            if ((e = put_json_str(st, c->str)) || (e = set_elem_push(st, c->str.ptr, c->str.len)))
                return e;
        } else if (t == T_NS) {
            struct dl_num_info ni;
            char why[200], canon[DL_NUM_CANON_MAX];
            if (dl_num_check(c->str, &ni, why, sizeof why) != DL_OK) {
                e = fail_value(st, DL_ERR_INVALID, c->offset, "%s", why);
                push_seg_index(st, i);
                return e;
            }
            grow(st, dl_num_size(&ni));
            size_t cl = dl_num_format_canonical(&ni, canon);
            if ((e = put_json_str(st, c->str)) || (e = set_elem_push(st, canon, cl)))
                return e;
        } else {
            size_t at = 0, len = 0; /* set by b64_scratch (GCC -O3 cannot tell) */
            /* decode after a length slot so the element is stacked in place */
            size_t slot = sc->len;
            if ((e = set_elem_push(st, "", 0)))
                return e;
            if ((e = b64_scratch(st, c, "BS", &at, &len))) {
                push_seg_index(st, i);
                return e;
            }
            memcpy(sc->data + slot, &len, sizeof len);
            grow(st, len);
            if ((e = put_b64(st, sc->data + at, len)))
                return e;
        }
    }
    /* Find duplicates: index the stacked elements, sort, compare neighbours. */
    size_t n = i;
    size_t end = sc->len;
    struct name_ref *refs = NULL;
    size_t flags_off;
    if ((e = dup_begin(st, n, &flags_off, &refs)))
        return e;
    size_t pos = base, k = 0;
    while (pos < end) {
        size_t len;
        memcpy(&len, sc->data + pos, sizeof len);
        refs[k].p = sc->data + pos + sizeof len;
        refs[k].len = len;
        refs[k].idx = k;
        k++;
        pos += sizeof len + len;
    }
    qsort(refs, n, sizeof *refs, cmp_name_ref);
    for (size_t j = 0; j + 1 < n; j++) {
        if (refs[j].len == refs[j + 1].len &&
            (refs[j].len == 0 || memcmp(refs[j].p, refs[j + 1].p, refs[j].len) == 0)) {
            const struct dl_json *a = arr->child, *b;
            for (size_t x = 0; x < refs[j].idx; x++)
                a = a->next;
            b = a;
            for (size_t x = refs[j].idx; x < refs[j + 1].idx; x++)
                b = b->next;
            char qa[DL_ITEM_QUOTE_MAX + 8], qb[DL_ITEM_QUOTE_MAX + 8];
            dl_item_quote(qa, sizeof qa, a->str, DL_ITEM_QUOTE_MAX);
            dl_item_quote(qb, sizeof qb, b->str, DL_ITEM_QUOTE_MAX);
            if (dl_cursor_eq(a->str, b->str))
                return fail_value(st, DL_ERR_INVALID, b->offset, "%s contains '%s' twice", ddb_names[t], qa);
            return fail_value(st, DL_ERR_INVALID, b->offset, "%s contains duplicate values '%s' and '%s'",
                              ddb_names[t], qa, qb);
        }
    }
    sc->len = base;
    return put_s(st, "]}");
}

static enum dl_err ddb_value(struct enc *st, const struct dl_json *v, int level)
{
    enum dl_err e = DL_OK;
    enum ddb_type t;
    const struct dl_json *p;
    if (level > DL_ITEM_MAX_DEPTH)
        return fail_depth(st, v);
    if ((e = ddb_unwrap(st, v, &t, &p)))
        return e;
    switch (t) {
    case T_S:
        grow(st, p->str.len);
        if ((e = put_s(st, "{\"S\":")) || (e = put_json_str(st, p->str)) || (e = put_s(st, "}")))
            return e;
        return DL_OK;
    case T_N: {
        struct dl_num_info ni;
        char why[200];
        if (dl_num_check(p->str, &ni, why, sizeof why) != DL_OK)
            return fail_value(st, DL_ERR_INVALID, p->offset, "%s", why);
        grow(st, dl_num_size(&ni));
        if ((e = put_s(st, "{\"N\":")) || (e = put_json_str(st, p->str)) || (e = put_s(st, "}")))
            return e;
        return DL_OK;
    }
    case T_B: {
        size_t at, len;
        if ((e = b64_scratch(st, p, "B", &at, &len)))
            return e;
        grow(st, len);
        if ((e = put_s(st, "{\"B\":")) || (e = put_b64(st, st->it->scratch.data + at, len)) ||
            (e = put_s(st, "}")))
            return e;
        st->it->scratch.len = at;
        return DL_OK;
    }
    case T_BOOL:
        grow(st, 1);
        return put_s(st, p->type == DL_JSON_TRUE ? "{\"BOOL\":true}" : "{\"BOOL\":false}");
    case T_NULL:
        grow(st, 1);
        return put_s(st, "{\"NULL\":true}");
    case T_SS:
    case T_NS:
    case T_BS:
        return ddb_set(st, t, p);
    case T_L: {
        grow(st, 3);
        if ((e = put_s(st, "{\"L\":[")))
            return e;
        size_t i = 0;
        for (const struct dl_json *c = p->child; c; c = c->next, i++) {
            grow(st, 1);
            if (i > 0 && (e = put_s(st, ",")))
                return e;
            if ((e = ddb_value(st, c, level + 1))) {
                push_seg_index(st, i);
                return e;
            }
        }
        return put_s(st, "]}");
    }
    case T_M: {
        grow(st, 3);
        size_t off;
        if ((e = put_s(st, "{\"M\":{")) || (e = dup_flags_json(st, p, &off)))
            return e;
        size_t i = 0;
        bool first = true;
        for (const struct dl_json *c = p->child; c; c = c->next, i++) {
            if (superseded(st, off, i))
                continue;
            if ((e = check_nested_name(st, c)))
                return e;
            grow(st, 1 + c->key.len);
            if (!first && (e = put_s(st, ",")))
                return e;
            first = false;
            if ((e = put_json_str(st, c->key)) || (e = put_s(st, ":")))
                return e;
            if ((e = ddb_value(st, c, level + 1))) {
                push_seg_name(st, c->key);
                return e;
            }
        }
        st->it->scratch.len = off;
        return put_s(st, "}}");
    }
    case T_UNKNOWN:
        break;
    }
    return fail_value(st, DL_ERR_INVALID, v->offset, "unknown type");
}

/* A key attribute in DynamoDB JSON: the wrapper's type must be the schema's. A malformed
 * wrapper is reported like any value ("attribute 'id': ..."). */
static enum dl_err ddb_key(struct enc *st, int k, const struct dl_json *v)
{
    enum dl_err e;
    enum ddb_type t;
    const struct dl_json *p;
    if ((e = ddb_unwrap(st, v, &t, &p)))
        return e;
    char want = st->ks->k[k].type;
    bool ok = (want == 'S' && t == T_S) || (want == 'N' && t == T_N) || (want == 'B' && t == T_B);
    if (!ok) {
        char kn[DL_ITEM_QUOTE_MAX + 8];
        key_name(st->ks, k, kn, sizeof kn);
        return fail_item(st, DL_ERR_INVALID, v->offset, "key '%s' must be %s but is %s", kn,
                         type_desc(want), ddb_desc(t));
    }
    if (t == T_S || t == T_N)
        return key_from_text(st, k, p->str, t == T_N, p->offset);
    size_t at, len;
    if ((e = b64_scratch(st, p, "B", &at, &len)))
        return e;
    if ((e = check_key_len(st, k, len, p->offset)))
        return e;
    grow(st, len);
    if ((e = put_s(st, "{\"B\":")) || (e = put_b64(st, st->it->scratch.data + at, len)) ||
        (e = put_s(st, "}")))
        return e;
    st->it->scratch.len = at;
    st->kv[k].found = true;
    st->kv[k].raw = p->str;
    st->kv[k].b64 = true;
    return DL_OK;
}

/* ---------------------------------------------------------------- builders */

static void enc_start(struct enc *st, struct dl_item *it, const struct dl_key_schema *ks,
                      struct dl_pos_err *why)
{
    /* not a memset of the whole state: segs and reason (1.4 KB) are written before they
     * are read, and clearing them cost more than building a short CSV item */
    st->it = it;
    st->ks = ks;
    st->emit = true;
    st->size = 0;
    for (int k = 0; k < 2; k++) /* the rest of a keyval is written before it is read */
        st->kv[k].found = st->kv[k].seen_empty = false;
    st->code = DL_OK;
    st->value_err = false;
    st->path_top = false;
    st->reason[0] = 0;
    st->offset = 0;
    st->column = 0;
    st->nsegs = 0;
    dl_item_reset(it);
    dl_pos_err_clear(why);
}

static enum dl_err check_top_name(struct enc *st, struct dl_cursor name, uint64_t off)
{
    if (name.len == 0)
        return fail_item(st, DL_ERR_INVALID, off, "an attribute name is empty");
    if (name.len > DL_ATTR_NAME_MAX) {
        char q[DL_ITEM_QUOTE_MAX + 8], a[32];
        dl_item_quote(q, sizeof q, name, 16);
        return fail_item(st, DL_ERR_INVALID, off, "attribute name '%s' is %s bytes; limit 65,535", q,
                         dl_item_thousands(name.len, a));
    }
    return DL_OK;
}

static enum dl_err check_size(struct enc *st, uint64_t off)
{
    if (st->size <= DL_ITEM_MAX_SIZE)
        return DL_OK;
    char a[32];
    return fail_item(st, DL_ERR_TOO_LARGE, off, "item is %s bytes; DynamoDB's limit is 400 KB (409,600 bytes)",
                     dl_item_thousands(st->size, a));
}

static enum dl_err from_object(struct enc *st, const struct dl_json *obj, bool ddb)
{
    enum dl_err e = DL_OK;
    if (!obj || obj->type != DL_JSON_OBJECT)
        return fail_item(st, DL_ERR_INVALID, obj ? obj->offset : 0,
                         "a record must be a JSON object to become an item, not %s",
                         obj ? json_type_name(obj) : "nothing");
    size_t off;
    if ((e = put_s(st, "{")) || (e = dup_flags_json(st, obj, &off)))
        return e;
    size_t i = 0;
    bool first = true;
    for (const struct dl_json *c = obj->child; c; c = c->next, i++) {
        if (superseded(st, off, i))
            continue;
        if ((e = check_top_name(st, c->key, c->offset)))
            return e;
        grow(st, c->key.len);
        if (!first && (e = put_s(st, ",")))
            return e;
        first = false;
        if ((e = put_json_str(st, c->key)) || (e = put_s(st, ":")))
            return e;
        int k = key_index(st->ks, c->key);
        if (k >= 0)
            e = ddb ? ddb_key(st, k, c) : json_key(st, k, c);
        else
            e = ddb ? ddb_value(st, c, 1) : json_value(st, c, 1);
        if (e) {
            push_seg_name(st, c->key);
            return e;
        }
    }
    st->it->scratch.len = off;
    if ((e = put_s(st, "}")))
        return e;
    if ((e = finish_keys(st, obj->offset)))
        return e;
    return check_size(st, obj->offset);
}

static enum dl_err finish(struct enc *st, enum dl_err e, struct dl_pos_err *why)
{
    if (e)
        return report(st, e, why);
    st->it->size = st->size;
    return DL_OK;
}

enum dl_err dl_item_from_json(struct dl_item *it, const struct dl_json *obj,
                              const struct dl_key_schema *ks, struct dl_pos_err *why)
{
    struct enc st;
    enc_start(&st, it, ks, why);
    return finish(&st, from_object(&st, obj, false), why);
}

enum dl_err dl_item_from_ddb_json(struct dl_item *it, const struct dl_json *obj,
                                  const struct dl_key_schema *ks, struct dl_pos_err *why)
{
    struct enc st;
    enc_start(&st, it, ks, why);
    return finish(&st, from_object(&st, obj, true), why);
}

/* One non-empty, not superseded CSV cell: name checks, value checks, wire output. */
static enum dl_err csv_cell(struct enc *st, struct dl_cursor name, struct dl_cursor value, int k, size_t i,
                            bool *first)
{
    enum dl_err e;
    size_t bad;
    if (name.len == 0)
        return fail_item(st, DL_ERR_INVALID, 0, "column %zu has a value but no name", i + 1);
    if (!dl_utf8_valid(name.ptr, name.len, &bad))
        return fail_item(st, DL_ERR_INVALID, 0, "the name of column %zu is not valid UTF-8 (byte %zu)", i + 1,
                         bad + 1);
    if ((e = check_top_name(st, name, 0)))
        return e;
    bool binary = k >= 0 && st->ks->k[k].type == 'B';
    if (!binary && !dl_utf8_valid(value.ptr, value.len, &bad)) {
        char q[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(q, sizeof q, name, DL_ITEM_QUOTE_MAX);
        return fail_item(st, DL_ERR_INVALID, 0, "attribute '%s' (column %zu): the value is not valid UTF-8 (byte %zu)",
                         q, i + 1, bad + 1);
    }
    grow(st, name.len);
    if (!*first && (e = put_s(st, ",")))
        return e;
    *first = false;
    if ((e = put_json_str(st, name)) || (e = put_s(st, ":")))
        return e;
    if (k >= 0)
        return key_from_text(st, k, value, false, 0);
    grow(st, value.len);
    if ((e = put_s(st, "{\"S\":")) || (e = put_json_str(st, value)) || (e = put_s(st, "}")))
        return e;
    return DL_OK;
}

static void csv_empty_cell(struct enc *st, int k, size_t i)
{
    if (k >= 0 && !st->kv[k].seen_empty) {
        st->kv[k].seen_empty = true;
        st->kv[k].empty_column = i + 1;
    }
}

static enum dl_err csv_finish(struct enc *st)
{
    enum dl_err e;
    st->column = 0;
    if ((e = put_s(st, "}")))
        return e;
    if ((e = finish_keys(st, 0)))
        return e;
    return check_size(st, 0);
}

/* Any row, any header: duplicate names resolved per row. */
static enum dl_err csv_row_generic(struct enc *st, const struct dl_cursor *names, const struct dl_cursor *values,
                                   size_t n)
{
    enum dl_err e = DL_OK;
    /* duplicates among the non-empty cells: the last one wins */
    size_t off;
    struct name_ref *refs = NULL;
    if ((e = dup_begin(st, n, &off, &refs)))
        return e;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (values[i].len == 0)
            continue;
        refs[m].p = names[i].ptr;
        refs[m].len = names[i].len;
        refs[m].idx = i;
        m++;
    }
    dup_mark(st, off, refs, m);
    if ((e = put_s(st, "{")))
        return e;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        int k = key_index(st->ks, names[i]);
        st->column = i + 1;
        if (values[i].len == 0) {
            csv_empty_cell(st, k, i);
            continue;
        }
        if (superseded(st, off, i))
            continue;
        if ((e = csv_cell(st, names[i], values[i], k, i, &first)))
            return e;
    }
    st->it->scratch.len = off;
    return csv_finish(st);
}

/* ---- the header cache
 * A CSV input gives every row the same header, so what depends only on the names is worked
 * out once per thread and reused while the names (their bytes, not just their addresses)
 * and the key schema stay the same: whether any name repeats or is unusable, which column
 * is a key, and each column's `"name":{"S":"` prefix ready to copy. */

struct csv_col {
    int key;         /* key index, or -1 */
    size_t pre_off;  /* `"name":{"S":"` (key columns: `"name":`) in hdr->pre */
    size_t pre_len;
};

struct csv_hdr {
    size_t n;
    struct dl_cursor *cur; /* the names as last seen (addresses and lengths) */
    uint8_t *bytes;        /* their bytes, one after another */
    size_t nbytes, bytes_alloc;
    bool contiguous;       /* cur[i + 1].ptr == cur[i].ptr + cur[i].len */
    struct dl_key_schema ks;
    uint8_t ksnames[2][64];
    bool usable;           /* no repeated, empty, over-long or non-UTF-8 name */
    struct csv_col *cols;
    size_t cols_alloc;
    struct dl_buf pre;
};

static pthread_key_t hdr_key;
static pthread_once_t hdr_once = PTHREAD_ONCE_INIT;
static bool hdr_key_ok;

static void hdr_free(void *p)
{
    struct csv_hdr *h = p;
    if (!h)
        return;
    free(h->cur);
    free(h->bytes);
    free(h->cols);
    dl_buf_free(&h->pre);
    free(h);
}

static void hdr_key_make(void)
{
    hdr_key_ok = pthread_key_create(&hdr_key, hdr_free) == 0;
}

static bool ks_same(const struct dl_key_schema *a, const struct dl_key_schema *b)
{
    int an = a ? a->n : 0, bn = b ? b->n : 0;
    if (an != bn)
        return false;
    for (int k = 0; k < an; k++)
        if (a->k[k].type != b->k[k].type || a->k[k].name_len != b->k[k].name_len ||
            (a->k[k].name_len && memcmp(a->k[k].name, b->k[k].name, a->k[k].name_len) != 0))
            return false;
    return true;
}

static bool hdr_matches(struct csv_hdr *h, const struct dl_cursor *names, size_t n, const struct dl_key_schema *ks)
{
    if (h->n != n || !ks_same(&h->ks, ks))
        return false;
    if (n && memcmp(names, h->cur, n * sizeof *names) == 0) {
        /* the same addresses and lengths: are the bytes there still the same? */
        if (h->contiguous)
            return h->nbytes == 0 || memcmp(names[0].ptr, h->bytes, h->nbytes) == 0;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (names[i].len != h->cur[i].len || (names[i].len && memcmp(names[i].ptr, h->bytes + at, names[i].len)))
            return false;
        at += names[i].len;
    }
    /* same names at new addresses: remember these */
    memcpy(h->cur, names, n * sizeof *names);
    h->contiguous = true;
    for (size_t i = 0; i + 1 < n; i++)
        if (names[i + 1].ptr != names[i].ptr + names[i].len)
            h->contiguous = false;
    return true;
}

static bool hdr_build(struct csv_hdr *h, const struct dl_cursor *names, size_t n, const struct dl_key_schema *ks)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += names[i].len;
    if (n > h->cols_alloc) {
        struct dl_cursor *c = realloc(h->cur, n * sizeof *c);
        if (c)
            h->cur = c;
        struct csv_col *cl = realloc(h->cols, n * sizeof *cl);
        if (cl)
            h->cols = cl;
        if (!c || !cl)
            return false;
        h->cols_alloc = n;
    }
    if (total > h->bytes_alloc) {
        uint8_t *b = realloc(h->bytes, total);
        if (!b)
            return false;
        h->bytes = b;
        h->bytes_alloc = total;
    }
    h->n = 0; /* invalid until complete */
    h->ks.n = 0;
    for (int k = 0; ks && k < ks->n; k++) {
        if (ks->k[k].name_len > sizeof h->ksnames[k])
            return false;
        memcpy(h->ksnames[k], ks->k[k].name, ks->k[k].name_len);
        h->ks.k[k].name = (char *)h->ksnames[k];
        h->ks.k[k].name_len = ks->k[k].name_len;
        h->ks.k[k].type = ks->k[k].type;
    }
    size_t at = 0;
    h->usable = true;
    h->contiguous = true;
    dl_buf_reset(&h->pre);
    for (size_t i = 0; i < n; i++) {
        memcpy(h->bytes + at, names[i].ptr, names[i].len);
        at += names[i].len;
        if (i + 1 < n && names[i + 1].ptr != names[i].ptr + names[i].len)
            h->contiguous = false;
        struct csv_col *c = &h->cols[i];
        c->key = key_index(ks, names[i]);
        c->pre_off = h->pre.len;
        if (names[i].len == 0 || names[i].len > DL_ATTR_NAME_MAX || !dl_utf8_valid(names[i].ptr, names[i].len, NULL))
            h->usable = false;
        for (size_t j = 0; j < i && h->usable; j++)
            if (names[j].len == names[i].len && memcmp(names[j].ptr, names[i].ptr, names[i].len) == 0)
                h->usable = false;
        if (dl_buf_append_json_str(&h->pre, names[i].ptr, names[i].len) ||
            dl_buf_append_str(&h->pre, c->key >= 0 ? ":" : ":{\"S\":\""))
            return false;
        c->pre_len = h->pre.len - c->pre_off;
    }
    memcpy(h->cur, names, n * sizeof *names);
    h->nbytes = total;
    h->ks.n = ks ? ks->n : 0;
    h->n = n;
    return true;
}

/* The cache entry for these names, or NULL (no cache: use the generic path). */
static struct csv_hdr *hdr_get(const struct dl_cursor *names, size_t n, const struct dl_key_schema *ks)
{
    pthread_once(&hdr_once, hdr_key_make);
    if (!hdr_key_ok || n < 2 || (ks && ks->n > 2))
        return NULL;
    struct csv_hdr *h = pthread_getspecific(hdr_key);
    if (!h) {
        h = calloc(1, sizeof *h);
        if (!h)
            return NULL;
        dl_buf_init(&h->pre, 0);
        if (pthread_setspecific(hdr_key, h) != 0) {
            hdr_free(h);
            return NULL;
        }
    }
    if (h->n == n && hdr_matches(h, names, n, ks))
        return h;
    return hdr_build(h, names, n, ks) ? h : NULL;
}

/* The row with a cached, usable header: no duplicate names, names known valid, prefixes
 * ready. Cells with plain ASCII values are copied straight to the wire; key cells and cells
 * that need escaping or UTF-8 validation take csv_cell, as in the generic path. */
static enum dl_err csv_row_cached(struct enc *st, const struct csv_hdr *h, const struct dl_cursor *names,
                                  const struct dl_cursor *values, size_t n)
{
    enum dl_err e;
    struct dl_buf *w = &st->it->wire;
    /* room for every cell copied as is, reserved once (cells that take csv_cell make their
     * own room; its growth is not counted on) */
    size_t room = h->pre.len + 3 * n + 2;
    for (size_t i = 0; i < n; i++)
        room += values[i].len;
    (void)dl_buf_reserve(w, room); /* a hint: failures show up where the generic path has them */
    if ((e = put_s(st, "{")))
        return e;
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct csv_col *c = &h->cols[i];
        struct dl_cursor v = values[i];
        if (v.len == 0) {
            csv_empty_cell(st, c->key, i);
            continue;
        }
        if (c->key >= 0 && st->emit &&
            (st->ks->k[c->key].type == 'B' || plain_ascii(v.ptr, v.len) || utf8_ok(v.ptr, v.len))) {
            /* a key cell: csv_cell's work, with the name known good and its JSON ready */
            st->column = i + 1;
            grow(st, names[i].len);
            if (st->emit) {
                if ((e = dl_buf_reserve(w, 1 + c->pre_len)))
                    return buf_fail(st, e);
                uint8_t *o = w->data + w->len;
                if (!first)
                    *o++ = ',';
                memcpy(o, h->pre.data + c->pre_off, c->pre_len);
                o[c->pre_len] = 0;
                w->len = (size_t)(o + c->pre_len - w->data);
            }
            first = false;
            if ((e = key_from_text(st, c->key, v, false, 0)))
                return e;
            continue;
        }
        bool plain = true;
        if (c->key >= 0 || !st->emit || st->size + names[i].len + v.len > DL_ITEM_MAX_SIZE ||
            (!(plain = plain_ascii(v.ptr, v.len)) && !utf8_ok(v.ptr, v.len))) {
            st->column = i + 1;
            if ((e = csv_cell(st, names[i], v, c->key, i, &first)))
                return e;
            continue;
        }
        grow(st, names[i].len + v.len);
        /* [,]"name":{"S":"value"} */
        size_t need = 1 + c->pre_len + (plain ? v.len : 6 * v.len) + 2;
        if ((w->len + need >= w->alloc || w->len + need > w->cap) && (e = dl_buf_reserve(w, need))) {
            st->column = i + 1;
            return buf_fail(st, e);
        }
        uint8_t *o = w->data + w->len;
        if (!first)
            *o++ = ',';
        first = false;
        copy_small(o, h->pre.data + c->pre_off, c->pre_len);
        o += c->pre_len;
        if (plain) {
            copy_small(o, v.ptr, v.len);
            o += v.len;
        } else {
            o += escape_into(o, v.ptr, v.len);
        }
        o[0] = '"';
        o[1] = '}';
        o[2] = 0;
        w->len = (size_t)(o + 2 - w->data);
    }
    return csv_finish(st);
}

static enum dl_err csv_row(struct enc *st, const struct dl_cursor *names, const struct dl_cursor *values,
                           size_t n)
{
    struct csv_hdr *h = hdr_get(names, n, st->ks);
    if (h && h->usable)
        return csv_row_cached(st, h, names, values, n);
    return csv_row_generic(st, names, values, n);
}

enum dl_err dl_item_from_csv(struct dl_item *it, const struct dl_cursor *names,
                             const struct dl_cursor *values, size_t n,
                             const struct dl_key_schema *ks, struct dl_pos_err *why)
{
    struct enc st;
    enc_start(&st, it, ks, why);
    return finish(&st, csv_row(&st, names, values, n), why);
}

/* ---------------------------------------------------------------- CSV, prepared header
 * The fast path takes the rows that become items without any error. Per cell it copies the
 * column's ready `,"name":{"T":"` and the value, with the "needs no escaping, no UTF-8
 * validation" test done on the words it copies; the size is added up from the header's
 * name lengths and the values' lengths; keys are written directly. When a row's values lie
 * one after another in one buffer, one delimiter apart (an unquoted CSV record), the test
 * runs once over the whole record instead, and short values are copied as 16 bytes from
 * the record. Any row it cannot finish (a missing, empty or invalid key, invalid UTF-8, an
 * item over 400 KB, a buffer that cannot grow) is built again from scratch by
 * dl_item_from_csv, so errors are that function's by construction. */

/* GCC's generic vectors: SSE2 on x86-64, NEON on aarch64, plain words elsewhere; no -m
 * flags and no dispatch (so not under decode/arch/). Byte positions come from the low end
 * of loaded words, as in escape_into. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the CSV fast path reads words little-endian");
typedef int8_t v16i8 __attribute__((vector_size(16)));
typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef uint64_t v2u64 __attribute__((vector_size(16)));

#define V16(c) { (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c), (c) }

#define PRE_PAD 32    /* a column's prefix is copied as 32 bytes when it fits (over-copy) */
#define WIRE_SLACK 64 /* room past the bound for those over-copies and the NUL */

/* What the row loops read for every cell (8 bytes), and what only the rarer cases need. */
struct pcol {
    uint32_t pre_off; /* `,"name":{"T":"` in h->pre (T = S, or the key's type) */
    uint32_t pre_len; /* its length, | PCOL_SLOW for a key column or a prefix over PRE_PAD */
};
#define PCOL_SLOW 0x80000000u

struct pcold {
    uint32_t name_len;
    int8_t key;       /* key index, or -1 */
    char type;        /* 'S' for a plain column, else the key's type */
};

struct dl_item_csv_header {
    size_t n;
    struct dl_cursor *names; /* copies, in bytes */
    uint8_t *bytes;
    struct dl_key_schema ks; /* copy, names in ksbytes */
    bool has_ks;             /* ks was not NULL */
    char *ksbytes;
    bool fast;               /* rows may take the fast path */
    struct pcol *cols;
    struct pcold *cold;
    uint8_t *pre;            /* the prefixes, then PRE_PAD bytes */
    size_t pre_total;        /* sum of the prefixes' lengths */
    size_t names_total;      /* sum of the names' lengths */
    bool pre16;              /* every prefix but the slow ones' fits in 16 bytes */
    size_t kw_off[2], kw_len[2]; /* key_wire's `{"name":{"T":"` (second key: `"},"name":{"T":"`), in pre */
};

void dl_item_csv_header_destroy(struct dl_item_csv_header *h)
{
    if (!h)
        return;
    free(h->names);
    free(h->bytes);
    free(h->ksbytes);
    free(h->cols);
    free(h->cold);
    free(h->pre);
    free(h);
}

/* Whether rows of this header can take the fast path: the names are what csv_row_cached
 * calls usable (non-empty, UTF-8, not too long, no repeats) and the keys are S, N or B. */
static bool header_fast(const struct dl_item_csv_header *h)
{
    for (int k = 0; k < h->ks.n; k++) {
        char t = h->ks.k[k].type;
        if (t != 'S' && t != 'N' && t != 'B')
            return false;
    }
    for (size_t i = 0; i < h->n; i++) {
        struct dl_cursor a = h->names[i];
        if (a.len == 0 || a.len > DL_ATTR_NAME_MAX || !dl_utf8_valid(a.ptr, a.len, NULL))
            return false;
    }
    /* repeated names: sorted, neighbours compared (a header may have thousands of columns) */
    bool ok = true;
    struct name_ref *refs = h->n ? malloc(h->n * sizeof *refs) : NULL;
    if (h->n && !refs)
        return false;
    for (size_t i = 0; i < h->n; i++) {
        refs[i].p = h->names[i].ptr;
        refs[i].len = h->names[i].len;
        refs[i].idx = i;
    }
    if (h->n > 1)
        qsort(refs, h->n, sizeof *refs, cmp_name_ref);
    for (size_t i = 0; i + 1 < h->n && ok; i++)
        if (refs[i].len == refs[i + 1].len && memcmp(refs[i].p, refs[i + 1].p, refs[i].len) == 0)
            ok = false;
    free(refs);
    return ok;
}

enum dl_err dl_item_csv_header_new(const struct dl_cursor *names, size_t n, const struct dl_key_schema *ks,
                                   struct dl_item_csv_header **out)
{
    enum dl_err e = DL_OK;
    struct dl_buf pre;
    dl_buf_init(&pre, UINT32_MAX);
    *out = NULL;
    if (ks && (ks->n < 0 || ks->n > 2))
        return DL_ERR_INVALID;
    struct dl_item_csv_header *h = calloc(1, sizeof *h);
    if (!h)
        return DL_ERR_NOMEM;
    size_t total = 0, kstotal = 0;
    for (size_t i = 0; i < n; i++)
        total += names[i].len;
    for (int k = 0; ks && k < ks->n; k++)
        kstotal += ks->k[k].name_len;
    h->n = n;
    h->names = malloc((n ? n : 1) * sizeof *h->names);
    h->bytes = malloc(total + 1);
    h->ksbytes = malloc(kstotal + 1);
    h->cols = calloc(n ? n : 1, sizeof *h->cols);
    h->cold = calloc(n ? n : 1, sizeof *h->cold);
    if (!h->names || !h->bytes || !h->ksbytes || !h->cols || !h->cold) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0, at = 0; i < n; i++) {
        if (names[i].len)
            memcpy(h->bytes + at, names[i].ptr, names[i].len);
        h->names[i] = dl_cursor_of(h->bytes + at, names[i].len);
        at += names[i].len;
    }
    h->names_total = total;
    h->has_ks = ks != NULL;
    h->ks.n = ks ? ks->n : 0;
    size_t at = 0;
    for (int k = 0; k < h->ks.n; k++) {
        if (ks->k[k].name_len)
            memcpy(h->ksbytes + at, ks->k[k].name, ks->k[k].name_len);
        h->ks.k[k].name = h->ksbytes + at;
        h->ks.k[k].name_len = ks->k[k].name_len;
        h->ks.k[k].type = ks->k[k].type;
        at += ks->k[k].name_len;
    }
    h->fast = header_fast(h);
    bool wide_pre = false;
    for (size_t i = 0; h->fast && i < n; i++) {
        struct pcol *c = &h->cols[i];
        struct pcold *d = &h->cold[i];
        int k = key_index(&h->ks, h->names[i]);
        char open[] = ":{\"S\":\"";
        d->key = (int8_t)k;
        d->type = k >= 0 ? h->ks.k[k].type : 'S';
        d->name_len = (uint32_t)h->names[i].len;
        c->pre_off = (uint32_t)pre.len;
        open[3] = d->type;
        if ((e = dl_buf_append_byte(&pre, ',')) || (e = append_json_str(&pre, h->names[i].ptr, h->names[i].len)) ||
            (e = dl_buf_append_str(&pre, open)))
            break;
        c->pre_len = (uint32_t)(pre.len - c->pre_off);
        h->pre_total += c->pre_len;
        if (k >= 0 || c->pre_len > PRE_PAD)
            c->pre_len |= PCOL_SLOW;
        else if (c->pre_len > 16)
            wide_pre = true;
    }
    h->pre16 = !wide_pre;
    for (int k = 0; h->fast && !e && k < h->ks.n; k++) {
        char open[] = ":{\"S\":\"";
        open[3] = h->ks.k[k].type;
        h->kw_off[k] = pre.len;
        if ((e = dl_buf_append_str(&pre, k == 0 ? "{" : "\"},")) ||
            (e = append_json_str(&pre, (const uint8_t *)h->ks.k[k].name, h->ks.k[k].name_len)) ||
            (e = dl_buf_append_str(&pre, open)))
            break;
        h->kw_len[k] = pre.len - h->kw_off[k];
    }
    if (e == DL_ERR_TOO_LARGE) { /* prefixes past 4 GB: such a header takes the general path */
        e = DL_OK;
        h->fast = false;
    }
    if (e || (e = dl_buf_reserve(&pre, PRE_PAD)))
        goto out;
    memset(pre.data + pre.len, 0, PRE_PAD);
    h->pre = pre.data; /* the buffer's storage is the header's now */
    pre.data = NULL;
out:
    dl_buf_free(&pre);
    if (e) {
        dl_item_csv_header_destroy(h);
        return DL_ERR_NOMEM;
    }
    *out = h;
    return DL_OK;
}

/* All-ones bytes where p[0..16) needs escaping or is not ASCII (a signed byte below 0x20 is
 * a control byte or one of 0x80..0xFF). */
static inline v2u64 special16(const uint8_t *p)
{
    const v16i8 ctl = V16(0x20), quo = V16('"'), bsl = V16('\\');
    v16i8 v;
    memcpy(&v, p, 16);
    /* cast before OR-ing: GCC 12 ORs comparison masks as booleans (extra instructions) */
    return (v2u64)(ctl > v) | (v2u64)(v == quo) | (v2u64)(v == bsl);
}

/* Whether p[0..n) is plain (as plain_ascii), 16 bytes a step. */
static inline bool span_plain(const uint8_t *p, size_t n)
{
    if (n < 16)
        return plain_ascii(p, n);
    v2u64 acc = { 0, 0 };
    for (size_t i = 0; i + 16 <= n; i += 16)
        acc |= special16(p + i);
    acc |= special16(p + n - 16); /* the tail, overlapping */
    return (acc[0] | acc[1]) == 0;
}

#define CLS_HIGH 1u /* a byte >= 0x80: the value needs UTF-8 validation */
#define CLS_ESC 2u  /* a byte JSON escapes: the value needs escape_into */

/* Copy p[0..n) to o and classify it (0: plain, as plain_ascii), in one pass without calls.
 * Never reads past p[n-1]; may write up to o[15]. */
static inline __attribute__((always_inline)) unsigned copy_class(uint8_t *o, const uint8_t *p, size_t n)
{
    const uint64_t highs = 0x8080808080808080ull;
    uint64_t hi, esc;
    if (n >= 16) {
        const v16i8 zero = { 0 };
        v2u64 h = { 0, 0 }, e = { 0, 0 };
        size_t i = 0;
        for (;; i += 16) {
            if (i + 16 > n)
                i = n - 16; /* the tail, overlapping */
            v16i8 v;
            memcpy(&v, p + i, 16);
            memcpy(o + i, &v, 16);
            h |= (v2u64)(v < zero);
            e |= special16(p + i) & ~(v2u64)(v < zero);
            if (i + 16 == n)
                break;
        }
        hi = h[0] | h[1];
        esc = e[0] | e[1];
    } else if (n >= 8) { /* the first and the last 8 bytes, tested as one vector */
        const v16i8 zero = { 0 };
        uint64_t a = load64(p), b = load64(p + n - 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
        v2u64 ab = { a, b };
        v16i8 v = (v16i8)ab;
        v2u64 e = special16((const uint8_t *)&v) & ~(v2u64)(v < zero);
        hi = (a | b) & highs;
        esc = e[0] | e[1];
    } else {
        uint64_t w;
        if (n >= 4)
            w = load32(p) | load32(p + n - 4) << (8 * (n - 4));
        else if (n)
            w = (uint64_t)p[0] | (uint64_t)p[n >> 1] << (8 * (n >> 1)) | (uint64_t)p[n - 1] << (8 * (n - 1));
        else
            w = 0;
        memcpy(o, &w, 8);
        hi = w & highs;
        esc = n ? escape_bits(w | (0x6161616161616161ull << (8 * n))) : 0; /* 'a' past the end is plain */
    }
    return (hi ? CLS_HIGH : 0) | (esc ? CLS_ESC : 0);
}

/* Canonical form and item size of an N key written as a plain integer ("0", "-12", "3000",
 * at most 38 digits): what dl_num_check + canon_format give, without them. False for any
 * other text (the general check then decides). */
static bool int_key(const uint8_t *p, size_t n, char canon[DL_NUM_CANON_MAX], size_t *clen, size_t *nsize)
{
    size_t i = n && p[0] == '-';
    size_t nd = n - i;
    if (nd == 0 || nd > DL_NUM_MAX_DIGITS)
        return false;
    if (p[i] == '0') {
        if (nd != 1)
            return false;
        canon[0] = '0';
        canon[1] = 0;
        *clen = 1;
        *nsize = 1;
        return true;
    }
    for (size_t j = i; j < n; j++)
        if (p[j] < '0' || p[j] > '9')
            return false;
    size_t end = n;
    while (p[end - 1] == '0')
        end--;
    size_t k = 0, sig = end - i, zeros = n - end;
    if (i)
        canon[k++] = '-';
    memcpy(canon + k, p + i, sig);
    k += sig;
    canon[k++] = 'E';
    if (zeros >= 10)
        canon[k++] = (char)('0' + zeros / 10);
    canon[k++] = (char)('0' + zeros % 10);
    canon[k] = 0;
    *clen = k;
    *nsize = (sig + 1) / 2 + 1;
    return true;
}

/* 16 x FF then 16 x 00: the 16 bytes at keep_first + 16 - n keep the first n bytes */
static const uint8_t keep_first[32] = { [0 ... 15] = 255 };

/* int_key for 1..16 bytes with 16 readable at p: the digit test on one vector. */
static inline bool int_key16(const uint8_t *p, size_t n, char *canon, size_t *clen, size_t *nsize)
{
    v16u8 v, keep;
    memcpy(&v, p, 16);
    memcpy(&keep, keep_first + 16 - n, 16);
    v2u64 bad = (v2u64)((v16u8)(v - (uint8_t)'0') > (uint8_t)9) & (v2u64)keep;
    if ((bad[0] | bad[1]) || (p[0] == '0' && n > 1))
        return int_key(p, n, canon, clen, nsize); /* '-', or not an integer: the general test */
    if (p[0] == '0') {
        canon[0] = '0';
        canon[1] = 0;
        *clen = 1;
        *nsize = 1;
        return true;
    }
    size_t end = n;
    while (p[end - 1] == '0')
        end--;
    size_t zeros = n - end, k = end;
    memcpy(canon, &v, 16);
    canon[k++] = 'E';
    if (zeros >= 10)
        canon[k++] = '1';
    canon[k++] = (char)('0' + zeros % 10);
    canon[k] = 0;
    *clen = k;
    *nsize = (end + 1) / 2 + 1;
    return true;
}

/* p[0..n) in base64 at o, as dl_buf_append_base64 writes it; returns the bytes written. */
static size_t b64_into(uint8_t *o, const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t *start = o;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        o[0] = (uint8_t)t[v >> 18];
        o[1] = (uint8_t)t[(v >> 12) & 63];
        o[2] = (uint8_t)t[(v >> 6) & 63];
        o[3] = (uint8_t)t[v & 63];
        o += 4;
    }
    if (n - i) {
        uint32_t v = (uint32_t)p[i] << 16 | (n - i == 2 ? (uint32_t)p[i + 1] << 8 : 0);
        o[0] = (uint8_t)t[v >> 18];
        o[1] = (uint8_t)t[(v >> 12) & 63];
        o[2] = n - i == 2 ? (uint8_t)t[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return (size_t)(o - start);
}

/* A key cell as found by the fast path. */
struct pkey {
    struct dl_cursor v;
    bool plain;                   /* S: needs no escaping */
    bool wide;                    /* 16 bytes may be read at v.ptr (v.len <= 16) */
    size_t canon_len;             /* N */
    char canon[DL_NUM_CANON_MAX + 16]; /* N (+ room for 16-byte copies) */
};

/* The state of one fast row: the wire buffer, its bound, the keys. */
struct prow {
    struct dl_buf *w;
    size_t bound;    /* the row's wire bytes when every value is copied as is, + WIRE_SLACK */
    size_t size;
    unsigned found;  /* bit k: key k seen */
    struct pkey pk[2];
};

/* Make room for extra bytes at o plus a whole row's bound; returns the new o, or NULL. */
static uint8_t *wire_room(struct prow *r, uint8_t *o, size_t extra)
{
    r->w->len = (size_t)(o - r->w->data);
    if (extra > r->w->cap || dl_buf_reserve(r->w, extra + r->bound))
        return NULL;
    return r->w->data + r->w->len;
}

/* utf8_ok's verdict, stepping over ASCII to the next byte >= 0x80 a word at a time (a CSV
 * cell is mostly ASCII around a few accented letters). Its own code, not utf8_ok's: the
 * prepared path is checked against dl_item_from_csv, which uses that one. */
static bool utf8_cell(const uint8_t *p, size_t n)
{
    const uint64_t highs = 0x8080808080808080ull;
    uint64_t small = 0; /* n < 8: the bytes, in a word */
    if (n < 8 && n >= 4)
        small = load32(p) | load32(p + n - 4) << (8 * (n - 4));
    else if (n < 4 && n)
        small = (uint64_t)p[0] | (uint64_t)p[n >> 1] << (8 * (n >> 1)) | (uint64_t)p[n - 1] << (8 * (n - 1));
    size_t i = 0;
    while (i < n) {
        uint64_t m;
        if (i + 8 <= n)
            m = load64(p + i) & highs;
        else if (n >= 8) /* the last n - i bytes, moved to the bottom of the word */
            m = (load64(p + n - 8) & highs) >> (8 * (8 - (n - i)));
        else
            m = (small & highs) >> (8 * i);
        if (!m) {
            i += 8;
            continue;
        }
        i += (size_t)__builtin_ctzll(m) >> 3;
        uint8_t c = p[i];
        if (c < 0xC2)
            return false; /* a continuation byte without a lead, or an overlong lead */
        if (c < 0xE0) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80)
                return false;
            i += 2;
            continue;
        }
        uint8_t lo = 0x80, hi = 0xBF;
        size_t len = 3;
        if (c < 0xF0) {
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c < 0xF5) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return false;
        }
        if (i + len > n || p[i + 1] < lo || p[i + 1] > hi || (p[i + 2] & 0xC0) != 0x80 ||
            (len == 4 && (p[i + 3] & 0xC0) != 0x80))
            return false;
        i += len;
    }
    return true;
}

/* One byte JSON escapes, as dl_buf_append_json_str writes it. */
static inline uint8_t *escape_byte(uint8_t *o, uint8_t c)
{
    static const char hex[] = "0123456789abcdef";
    o[0] = '\\';
    switch (c) {
    case '"': o[1] = '"'; return o + 2;
    case '\\': o[1] = '\\'; return o + 2;
    case '\n': o[1] = 'n'; return o + 2;
    case '\r': o[1] = 'r'; return o + 2;
    case '\t': o[1] = 't'; return o + 2;
    case '\b': o[1] = 'b'; return o + 2;
    case '\f': o[1] = 'f'; return o + 2;
    }
    o[1] = 'u';
    o[2] = '0';
    o[3] = '0';
    o[4] = (uint8_t)hex[c >> 4];
    o[5] = (uint8_t)hex[c & 15];
    return o + 6;
}

/* escape_into's output, 16 bytes a step: each block is stored whole, then the output moves
 * on to the first byte that needs escaping. o needs 6 * n + 16 bytes. Its own code, like
 * utf8_cell. */
static size_t escape_cell(uint8_t *o, const uint8_t *p, size_t n)
{
    const v16i8 zero = { 0 };
    uint8_t *start = o;
    size_t i = 0;
    while (i + 16 <= n) {
        v16i8 v;
        memcpy(&v, p + i, 16);
        memcpy(o, &v, 16);
        v2u64 m = special16(p + i) & ~(v2u64)(v < zero);
        if (!(m[0] | m[1])) {
            i += 16;
            o += 16;
            continue;
        }
        size_t k = m[0] ? (size_t)__builtin_ctzll(m[0]) >> 3 : 8 + ((size_t)__builtin_ctzll(m[1]) >> 3);
        o = escape_byte(o + k, p[i + k]);
        i += k + 1;
    }
    for (; i < n; i++) {
        uint8_t c = p[i];
        if (c < 0x20 || c == '"' || c == '\\')
            o = escape_byte(o, c);
        else
            *o++ = c;
    }
    return (size_t)(o - start);
}

/* The rest of copy_class's work for a value that is not plain, copied at o: validate, escape.
 * Returns the end of the value's JSON text, or NULL (take dl_item_from_csv). */
static inline uint8_t *odd_value(struct prow *r, uint8_t *o, struct dl_cursor v, unsigned cls)
{
    if ((cls & CLS_HIGH) && !utf8_cell(v.ptr, v.len))
        return NULL;
    if (!(cls & CLS_ESC))
        return o + v.len; /* the copy stands */
    if (!(o = wire_room(r, o, 6 * v.len)))
        return NULL;
    return o + escape_cell(o, v.ptr, v.len);
}

/* A key cell's value at o (after its prefix); returns the new o, or NULL when the row must
 * take dl_item_from_csv. */
static uint8_t *key_cell(struct prow *r, const struct pcold *c, struct dl_cursor v, bool known_plain, bool wide,
                         uint8_t *o)
{
    struct pkey *x = &r->pk[c->key];
    x->v = v;
    x->plain = true;
    x->wide = wide;
    r->found |= 1u << c->key;
    if (c->type == 'N') {
        size_t nsize;
        if (!(wide ? int_key16(v.ptr, v.len, x->canon, &x->canon_len, &nsize)
                   : int_key(v.ptr, v.len, x->canon, &x->canon_len, &nsize))) {
            struct dl_num_info ni;
            if (dl_num_check(v, &ni, NULL, 0) != DL_OK)
                return NULL;
            x->canon_len = canon_format(&ni, x->canon);
            nsize = dl_num_size(&ni);
        }
        r->size += nsize - v.len; /* the caller counted v.len */
        if (wide) /* a valid number needs no escaping */
            memcpy(o, v.ptr, 16);
        else
            copy_small(o, v.ptr, v.len);
        return o + v.len;
    }
    if (v.len > (c->key == 0 ? DL_KEY_HASH_MAX : DL_KEY_RANGE_MAX))
        return NULL;
    if (c->type == 'B') {
        if (!(o = wire_room(r, o, (v.len + 2) / 3 * 4)))
            return NULL;
        return o + b64_into(o, v.ptr, v.len);
    }
    if (wide) {
        memcpy(o, v.ptr, 16);
        return o + v.len;
    }
    if (known_plain) {
        memcpy(o, v.ptr, v.len);
        return o + v.len;
    }
    unsigned cls = copy_class(o, v.ptr, v.len);
    if (!cls)
        return o + v.len;
    x->plain = !(cls & CLS_ESC);
    return odd_value(r, o, v, cls);
}

/* A column's prefix at o; returns the new o. */
static inline uint8_t *put_prefix(uint8_t *o, const uint8_t *pre, struct pcol c)
{
    size_t len = c.pre_len & ~PCOL_SLOW;
    if (len <= PRE_PAD)
        memcpy(o, pre + c.pre_off, PRE_PAD);
    else
        memcpy(o, pre + c.pre_off, len);
    return o + len;
}

/* Close the wire form at o: `}` over nothing or after the last cell, and the `{` over the
 * first cell's ','. */
static void close_wire(struct dl_buf *w, uint8_t *o)
{
    if (o == w->data)
        *o++ = '{';
    else
        w->data[0] = '{';
    o[0] = '}';
    o[1] = 0;
    w->len = (size_t)(o + 1 - w->data);
}

/* A cell that is empty, a key, or has a long prefix, at o; returns the new o, or NULL
 * (take dl_item_from_csv). plain: the value is known to need no escaping or validation. */
static inline __attribute__((always_inline)) uint8_t *odd_cell(struct prow *r, const struct dl_item_csv_header *h,
                                                                size_t i, struct dl_cursor v, bool plain, bool wide,
                                                                uint8_t *o)
{
    const struct pcold *d = &h->cold[i];
    if (v.len == 0) {
        if (d->key >= 0)
            return NULL;
        r->size -= d->name_len;
        return o;
    }
    o = put_prefix(o, h->pre, h->cols[i]);
    if (d->key >= 0) {
        if (!(o = key_cell(r, d, v, plain, wide, o)))
            return NULL;
    } else if (plain) {
        memcpy(o, v.ptr, v.len);
        o += v.len;
    } else {
        unsigned cls = copy_class(o, v.ptr, v.len);
        if (!cls)
            o += v.len;
        else if (!(o = odd_value(r, o, v, cls)))
            return NULL;
    }
    o[0] = '"';
    o[1] = '}';
    return o + 2;
}

/* The wire form of a row whose values lie one after another in [start, end), one plain
 * delimiter apart, with no byte that needs escaping or validation: a value of up to 16
 * bytes is copied as the 16 bytes at its start when they lie before end. False: take
 * dl_item_from_csv. */
static bool row_contiguous(struct prow *r, const struct dl_item_csv_header *h, const struct dl_cursor *values,
                           size_t n, const uint8_t *end)
{
    const struct pcol *cols = h->cols;
    const uint8_t *pre = h->pre;
    const uint16_t close = '"' | '}' << 8; /* `"}`, little-endian */
    uint8_t *o = r->w->data;
    size_t i = 0, nsafe = n; /* values[0..nsafe) have 16 bytes before end (they are in order) */
    while (nsafe > 0 && (uintptr_t)end - (uintptr_t)values[nsafe - 1].ptr < 16)
        nsafe--;
    for (;;) {
        /* the common cells: 1..16 bytes, not a key, a short prefix, 16 bytes readable (only
         * i and o live across it, so nothing is kept aside for the other cases) */
        for (; i < nsafe; i++) {
            const struct pcol c = cols[i];
            const struct dl_cursor v = values[i];
            if (__builtin_expect(((v.len - 1) | (c.pre_len & PCOL_SLOW)) >= 16, 0))
                break;
            memcpy(o, pre + c.pre_off, PRE_PAD);
            o += c.pre_len;
            memcpy(o, v.ptr, 16);
            o += v.len;
            memcpy(o, &close, 2);
            o += 2;
        }
        if (i == n)
            break;
        const struct pcol c = cols[i];
        const struct dl_cursor v = values[i];
        if (v.len == 0 || (c.pre_len & PCOL_SLOW)) {
            if (!(o = odd_cell(r, h, i, v, true, v.len <= 16 && i < nsafe, o)))
                return false;
        } else {
            o = put_prefix(o, pre, c);
            if (v.len <= 16)
                copy_small(o, v.ptr, v.len);
            else
                memcpy(o, v.ptr, v.len);
            o += v.len;
            memcpy(o, &close, 2);
            o += 2;
        }
        i++;
    }
    close_wire(r->w, o);
    return true;
}

/* The wire form of any row, each value checked as it is copied. */
static bool row_cells(struct prow *r, const struct dl_item_csv_header *h, const struct dl_cursor *values, size_t n)
{
    const struct pcol *cols = h->cols;
    const uint8_t *pre = h->pre;
    const uint16_t close = '"' | '}' << 8;
    uint8_t *o = r->w->data;
    size_t i = 0;
    for (;;) {
        for (; i < n; i++) {
            const struct pcol c = cols[i];
            const struct dl_cursor v = values[i];
            if (__builtin_expect(v.len == 0 || (c.pre_len & PCOL_SLOW), 0))
                break;
            memcpy(o, pre + c.pre_off, PRE_PAD);
            o += c.pre_len;
            unsigned cls = copy_class(o, v.ptr, v.len);
            if (__builtin_expect(cls != 0, 0)) {
                if (!(o = odd_value(r, o, v, cls)))
                    return false;
            } else {
                o += v.len;
            }
            memcpy(o, &close, 2);
            o += 2;
        }
        if (i == n)
            break;
        if (!(o = odd_cell(r, h, i, values[i], false, false, o)))
            return false;
        i++;
    }
    close_wire(r->w, o);
    return true;
}

/* key and key_wire from the key cells (all found, all valid). */
static bool prepared_keys(struct dl_item *it, const struct dl_item_csv_header *h, const struct pkey *pk)
{
    size_t kneed = 32, wneed = 2 * PRE_PAD + 16; /* + room for the fixed-size copies */
    for (int k = 0; k < h->ks.n; k++) {
        char t = h->ks.k[k].type;
        size_t l = pk[k].v.len;
        kneed += 5 + (t == 'N' ? pk[k].canon_len : l);
        wneed += h->kw_len[k] + (t == 'B' ? (l + 2) / 3 * 4 : pk[k].plain ? l : 6 * l);
    }
    if ((kneed >= it->key.alloc && dl_buf_reserve(&it->key, kneed)) ||
        (wneed >= it->key_wire.alloc && dl_buf_reserve(&it->key_wire, wneed)))
        return false;
    uint8_t *kb = it->key.data, *w = it->key_wire.data;
    for (int k = 0; k < h->ks.n; k++) {
        char t = h->ks.k[k].type;
        const struct pkey *x = &pk[k];
        const void *kp = t == 'N' ? (const void *)x->canon : (const void *)x->v.ptr;
        size_t kl = t == 'N' ? x->canon_len : x->v.len;
        /* type, length (4 bytes, big-endian), bytes */
        uint64_t head = (uint64_t)(uint8_t)t | (uint64_t)__builtin_bswap32((uint32_t)kl) << 8;
        memcpy(kb, &head, 8);
        if (kl <= 16 && (t == 'N' || x->wide))
            memcpy(kb + 5, kp, 16);
        else
            memcpy(kb + 5, kp, kl);
        kb += 5 + kl;
        /* {"name":{"T":"value"}[,...]} */
        if (h->kw_len[k] <= PRE_PAD)
            memcpy(w, h->pre + h->kw_off[k], PRE_PAD);
        else
            memcpy(w, h->pre + h->kw_off[k], h->kw_len[k]);
        w += h->kw_len[k];
        if (t == 'B') {
            w += b64_into(w, x->v.ptr, x->v.len);
        } else if (!x->plain) {
            w += escape_cell(w, x->v.ptr, x->v.len);
        } else {
            if (x->wide)
                memcpy(w, x->v.ptr, 16);
            else
                memcpy(w, x->v.ptr, x->v.len);
            w += x->v.len;
        }
    }
    memcpy(w, "\"}}", 4); /* with the NUL */
    *kb = 0;
    it->key.len = (size_t)(kb - it->key.data);
    it->key_wire.len = (size_t)(w + 3 - it->key_wire.data);
    return true;
}

/* The rest of a fast row once its wire form is written: every key found, the size within
 * the limit, key and key_wire. False: take dl_item_from_csv. */
static bool prepared_done(struct dl_item *it, const struct dl_item_csv_header *h, struct prow *r)
{
    if (r->found != (1u << h->ks.n) - 1 || r->size > DL_ITEM_MAX_SIZE)
        return false;
    if (h->ks.n) {
        if (!prepared_keys(it, h, r->pk))
            return false;
    } else {
        dl_buf_reset(&it->key);
        dl_buf_reset(&it->key_wire);
    }
    dl_buf_reset(&it->scratch);
    it->size = r->size;
    it->del = false;
    return true;
}

/* Start a fast row of n values totalling vsum bytes: the wire buffer big enough for it. */
static bool prepared_begin(struct prow *r, struct dl_item *it, const struct dl_item_csv_header *h, size_t n,
                           size_t vsum)
{
    r->w = &it->wire;
    r->bound = h->pre_total + vsum + 2 * n + WIRE_SLACK; /* `,"name":{"T":"` value `"}` each */
    r->size = h->names_total + vsum;
    r->found = 0;
    r->w->len = 0;
    return (r->bound < r->w->alloc && r->bound <= r->w->cap) || dl_buf_reserve(r->w, r->bound) == DL_OK;
}

enum dl_err dl_item_from_csv_prepared(struct dl_item *it, const struct dl_item_csv_header *h,
                                      const struct dl_cursor *values, size_t n, struct dl_pos_err *why)
{
    if (n != h->n) {
        dl_item_reset(it);
        if (why)
            dl_pos_err_set(why, DL_ERR_INVALID, 0, 0, 0, "row has %zu field%s, the header has %zu", n,
                           n == 1 ? "" : "s", h->n);
        return DL_ERR_INVALID;
    }
    if (!h->fast || n == 0)
        goto ref;
    /* the values' total length, and whether they lie one delimiter apart */
    size_t vsum = values[0].len, i = 1;
    uintptr_t apart = 0, next = (uintptr_t)values[0].ptr + values[0].len + 1;
    for (; i + 2 <= n; i += 2) { /* two a step: half the loop's own work */
        vsum += values[i].len + values[i + 1].len;
        apart |= ((uintptr_t)values[i].ptr ^ next) |
                 ((uintptr_t)values[i + 1].ptr ^ ((uintptr_t)values[i].ptr + values[i].len + 1));
        next = (uintptr_t)values[i + 1].ptr + values[i + 1].len + 1;
    }
    if (i < n) {
        vsum += values[i].len;
        apart |= (uintptr_t)values[i].ptr ^ next;
    }
    if (vsum > DL_ITEM_MAX_SIZE)
        goto ref; /* its size would be too: names are not empty */
    struct prow r;
    if (!prepared_begin(&r, it, h, n, vsum))
        goto ref;
    const uint8_t *end = values[n - 1].ptr + values[n - 1].len;
    bool ok;
    if (!apart && values[0].ptr && span_plain(values[0].ptr, (size_t)(end - values[0].ptr)))
        ok = row_contiguous(&r, h, values, n, end);
    else
        ok = row_cells(&r, h, values, n);
    if (!ok || !prepared_done(it, h, &r))
        goto ref;
    if (why) {
        why->code = DL_OK;
        why->offset = why->line = why->column = 0;
        why->msg[0] = 0;
    }
    return DL_OK;
ref:
    return dl_item_from_csv(it, h->names, values, n, h->has_ks ? &h->ks : NULL, why);
}

size_t dl_item_csv_header_columns(const struct dl_item_csv_header *h)
{
    return h->n;
}

/* Whether p[0..n) holds no byte that needs escaping or UTF-8 validation, delimiters aside
 * (a tab delimiter is a control byte). */
static bool record_plain(const uint8_t *p, size_t n, uint8_t delim)
{
    if (n < 16) {
        for (size_t i = 0; i < n; i++) {
            uint8_t c = p[i];
            if ((c < 0x20 && c != delim) || c >= 0x80 || c == '"' || c == '\\')
                return false;
        }
        return true;
    }
    const v16i8 ctl = V16(0x20), quo = V16('"'), bsl = V16('\\'), dl = V16((int8_t)delim);
    v2u64 acc = { 0, 0 };
    for (size_t i = 0;; i += 16) {
        if (i + 16 > n)
            i = n - 16; /* the tail, overlapping */
        v16i8 v;
        memcpy(&v, p + i, 16);
        acc |= ((v2u64)(ctl > v) & ~(v2u64)(v == dl)) | (v2u64)(v == quo) | (v2u64)(v == bsl);
        if (i + 16 == n)
            break;
    }
    return (acc[0] | acc[1]) == 0;
}

/* dl_item_from_csv_plain's cells, copying each common prefix as pcopy bytes (16 when every
 * one fits: half the stores of PRE_PAD). */
static inline __attribute__((always_inline)) bool plain_cells(struct prow *r, const struct dl_item_csv_header *h,
                                                              const uint8_t *rec, const uint32_t *ends,
                                                              size_t readable, size_t pcopy)
{
    const struct pcol *cols = h->cols;
    const uint8_t *pre = h->pre;
    const uint16_t close = '"' | '}' << 8; /* `"}`, little-endian */
    const size_t wide_lim = readable >= 16 ? readable - 15 : 0; /* a value starting before it has 16 readable bytes */
    uint8_t *o = r->w->data;
    size_t start = 0;
    for (size_t i = 0; i < h->n; i++) {
        const struct pcol c = cols[i];
        const size_t end = ends[i], vlen = end - start;
        const uint8_t *vp = rec + start;
        if (__builtin_expect((((vlen - 1) | (c.pre_len & PCOL_SLOW)) < 16) & (start < wide_lim), 1)) {
            memcpy(o, pre + c.pre_off, pcopy);
            o += c.pre_len;
            memcpy(o, vp, 16);
            o += vlen;
            memcpy(o, &close, 2);
            o += 2;
        } else if (vlen == 0 || (c.pre_len & PCOL_SLOW)) {
            if (!(o = odd_cell(r, h, i, dl_cursor_of(vp, vlen), true, vlen <= 16 && start < wide_lim, o)))
                return false;
        } else {
            o = put_prefix(o, pre, c);
            if (vlen <= 16)
                copy_small(o, vp, vlen);
            else
                memcpy(o, vp, vlen);
            o += vlen;
            memcpy(o, &close, 2);
            o += 2;
        }
        start = end + 1;
    }
    close_wire(r->w, o);
    return true;
}

bool dl_item_from_csv_plain(struct dl_item *it, const struct dl_item_csv_header *h, const uint8_t *rec, size_t len,
                            const uint32_t *ends, uint8_t delim, size_t readable)
{
    const size_t n = h->n;
    if (!h->fast || n == 0 || len + 1 < n || !record_plain(rec, len, delim))
        return false;
    size_t vsum = len + 1 - n; /* every byte but the n - 1 delimiters */
    struct prow r;
    if (vsum > DL_ITEM_MAX_SIZE || !prepared_begin(&r, it, h, n, vsum))
        return false;
    if (!(h->pre16 ? plain_cells(&r, h, rec, ends, readable, 16) : plain_cells(&r, h, rec, ends, readable, PRE_PAD)))
        return false;
    return prepared_done(it, h, &r);
}

/* ---------------------------------------------------------------- key extraction */

enum dl_err dl_item_key_from_ddb_json(const struct dl_json *obj, const struct dl_key_schema *ks,
                                      struct dl_buf *key)
{
    enum dl_err e = DL_OK;
    size_t start = key->len; /* appends: the writer collects many keys in one buffer */
    if (!ks || ks->n < 1 || ks->n > 2 || !obj || obj->type != DL_JSON_OBJECT) {
        e = DL_ERR_INVALID;
        goto out;
    }
    for (int k = 0; !e && k < ks->n; k++) {
        const struct dl_json *v = NULL;
        struct dl_cursor name = dl_cursor_of(ks->k[k].name, ks->k[k].name_len);
        for (const struct dl_json *c = obj->child; c; c = c->next)
            if (dl_cursor_eq(c->key, name))
                v = c; /* the last one, as everywhere */
        char t = ks->k[k].type;
        const struct dl_json *p = v && v->type == DL_JSON_OBJECT && v->n == 1 ? v->child : NULL;
        if (!p || p->type != DL_JSON_STRING || p->key.len != 1 || p->key.ptr[0] != (uint8_t)t ||
            p->str.len == 0) {
            e = DL_ERR_INVALID;
            break;
        }
        if (t == 'S') {
            append_key_part(key, t, p->str.ptr, p->str.len, &e);
        } else if (t == 'N') {
            struct dl_num_info ni;
            char canon[DL_NUM_CANON_MAX];
            if (dl_num_check(p->str, &ni, NULL, 0) != DL_OK) {
                e = DL_ERR_INVALID;
                break;
            }
            size_t cl = dl_num_format_canonical(&ni, canon);
            append_key_part(key, t, canon, cl, &e);
        } else if (t == 'B') {
            size_t hdr_at = key->len;
            append_key_part(key, t, "", 0, &e);
            size_t at = key->len;
            if (!e)
                e = dl_base64_decode(p->str, key);
            if (e == DL_ERR_PARSE)
                e = DL_ERR_INVALID;
            if (e)
                break;
            size_t len = key->len - at;
            key->data[hdr_at + 1] = (uint8_t)(len >> 24);
            key->data[hdr_at + 2] = (uint8_t)(len >> 16);
            key->data[hdr_at + 3] = (uint8_t)(len >> 8);
            key->data[hdr_at + 4] = (uint8_t)len;
            if (len == 0)
                e = DL_ERR_INVALID; /* "==" decodes to nothing: an empty key */
        } else {
            e = DL_ERR_INVALID;
        }
    }
out:
    if (e) {
        key->len = start;
        if (key->data)
            key->data[start] = 0;
    }
    return e;
}

/* ---------------------------------------------------------------- lifecycle */

void dl_item_init(struct dl_item *it)
{
    dl_buf_init(&it->wire, DL_ITEM_WIRE_CAP);
    dl_buf_init(&it->key, KEY_BUF_CAP);
    dl_buf_init(&it->key_wire, KEY_BUF_CAP);
    dl_buf_init(&it->scratch, 0);
    it->size = 0;
    it->del = false;
}

void dl_item_reset(struct dl_item *it)
{
    dl_buf_reset(&it->wire);
    dl_buf_reset(&it->key);
    dl_buf_reset(&it->key_wire);
    dl_buf_reset(&it->scratch);
    it->size = 0;
    it->del = false;
}

void dl_item_free(struct dl_item *it)
{
    dl_buf_free(&it->wire);
    dl_buf_free(&it->key);
    dl_buf_free(&it->key_wire);
    dl_buf_free(&it->scratch);
    it->size = 0;
}

size_t dl_item_wcu(size_t size)
{
    size_t w = size / 1024 + (size % 1024 != 0);
    return w ? w : 1;
}
