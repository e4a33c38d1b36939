/* Per-record transforms (transform.h; user rules in docs/transforms.md).
 *
 * The record's item arrives in it->wire as DynamoDB JSON, built without a key schema. It is
 * parsed into a DOM in an arena of its own (one per call: the transform is shared by the
 * decode workers), edited as an array of top-level attributes, and the edited DOM goes to
 * dl_item_from_ddb_json, which makes every check DynamoDB would and computes key, key_wire and
 * size. New values are built as DOM nodes directly rather than printed and parsed again, so
 * each new string is checked for UTF-8 here; strings that came from the wire were checked by
 * the parser.
 *
 * Work per record is linear in the number of attributes times the number of options; nothing
 * compares every attribute with every other (the builder finds duplicate names by sorting). */
#include "item/transform.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "core/arena.h"
#include "core/json.h"
#include "item/item_impl.h"
#include "item/number.h"

/* ---------------------------------------------------------------- the compiled spec */

/* DynamoDB types, in the order of the --types names. */
enum vt { VT_S, VT_N, VT_B, VT_BOOL, VT_NULL, VT_SS, VT_NS, VT_BS, VT_L, VT_M, VT_NONE };

static const char *const vt_names[] = { "S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M" };
static const char *const vt_desc[] = { "a string (S)", "a number (N)", "binary (B)", "a boolean (BOOL)",
                                       "null (NULL)", "a string set (SS)", "a number set (NS)",
                                       "a binary set (BS)", "a list (L)", "a map (M)", "of no known type" };

enum ph { PH_TEXT, PH_BUCKET, PH_KEY, PH_ETAG, PH_LINE, PH_RECORD, PH_NOW_MS, PH_NOW_ISO, PH_UUID };

static const char *const ph_names[] = { "", "bucket", "key", "etag", "line", "record", "now_ms", "now_iso", "uuid" };

#define PH_LIST "{bucket}, {key}, {etag}, {line}, {record}, {now_ms}, {now_iso}, {uuid}"

/* A piece of a --set template: literal text (a view into the option string) or a placeholder. */
struct piece {
    enum ph kind;
    struct dl_cursor text;
};

struct set_rule {
    struct dl_cursor name;
    enum vt type;            /* VT_S, VT_N or VT_BOOL */
    struct piece *pieces;
    size_t npieces;
};

struct type_rule {
    struct dl_cursor name;
    enum vt type;
};

struct rename_rule {
    struct dl_cursor from, to;
};

struct op_rule {
    struct dl_cursor value;  /* compared without regard to ASCII case */
    bool del;
};

struct dl_transform {
    struct type_rule *types;
    size_t ntypes;
    struct rename_rule *renames;
    size_t nrenames;
    struct dl_cursor *drops;
    size_t ndrops;
    struct set_rule *sets;
    size_t nsets;
    bool infer;
    uint8_t sep;
    bool has_op;
    struct dl_cursor op_field;
    struct op_rule *ops;     /* the --op-map, or the default table */
    size_t nops;
    bool ops_owned;
    const char *op_map;      /* for messages; NULL with the default table */
    bool has_seq;
    struct dl_cursor key_seq;
};

#define OP(s, d) { { (const uint8_t *)(s), sizeof(s) - 1 }, d }
static const struct op_rule default_ops[] = {
    OP("I", false), OP("U", false), OP("INSERT", false), OP("UPDATE", false), OP("MODIFY", false),
    OP("PUT", false), OP("UPSERT", false), OP("D", true), OP("DELETE", true), OP("REMOVE", true),
};
#undef OP

/* ---------------------------------------------------------------- small helpers */

static bool eq_ci(struct dl_cursor a, struct dl_cursor b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++) {
        uint8_t x = a.ptr[i], y = b.ptr[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

static enum vt vt_of(struct dl_cursor c, bool any_case)
{
    for (int t = 0; t < VT_NONE; t++)
        if (any_case ? eq_ci(c, dl_cursor_str(vt_names[t])) : dl_cursor_eq_str(c, vt_names[t]))
            return (enum vt)t;
    return VT_NONE;
}

static bool has_digit(struct dl_cursor c)
{
    for (size_t i = 0; i < c.len; i++)
        if (c.ptr[i] >= '0' && c.ptr[i] <= '9')
            return true;
    return false;
}

/* BOOL spellings: true/false in any case, 1 and 0. Returns 1, 0, or -1 for anything else. */
static int parse_bool(struct dl_cursor s)
{
    if (eq_ci(s, dl_cursor_str("true")) || dl_cursor_eq_str(s, "1"))
        return 1;
    if (eq_ci(s, dl_cursor_str("false")) || dl_cursor_eq_str(s, "0"))
        return 0;
    return -1;
}

/* NULL spellings: the empty string and null in any case. */
static bool is_null_text(struct dl_cursor s)
{
    return s.len == 0 || eq_ci(s, dl_cursor_str("null"));
}

/* A number's check reason for the user: "'abc' is not a number" when the text has no digit
 * at all (the grammar's reason would only confuse), otherwise dl_num_check's reason. */
static void number_reason(struct dl_cursor text, const char *num_why, char *dst, size_t cap)
{
    if (!has_digit(text)) {
        char q[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
        snprintf(dst, cap, "'%s' is not a number", q);
    } else {
        snprintf(dst, cap, "%s", num_why);
    }
}

/* ---------------------------------------------------------------- compiling the spec */

__attribute__((format(printf, 3, 4)))
static enum dl_err spec_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return DL_ERR_INVALID;
}

/* The option's text for a message, made safe and cut short. */
struct qopt {
    char s[72];
};

static struct qopt qopt(struct dl_cursor c)
{
    struct qopt q;
    dl_item_quote(q.s, sizeof q.s, c, 64);
    return q;
}

static struct qopt qopt_str(const char *s)
{
    return qopt(dl_cursor_str(s));
}

/* An attribute name given in an option: what DynamoDB allows for a top-level name. */
static enum dl_err check_name(const char *opt, const char *given, struct dl_cursor name, char *err, size_t errlen)
{
    if (name.len == 0)
        return spec_fail(err, errlen, "%s '%s': an attribute name is empty", opt, qopt_str(given).s);
    if (name.len > DL_ATTR_NAME_MAX)
        return spec_fail(err, errlen, "%s: an attribute name is %zu bytes; limit 65,535", opt, name.len);
    if (!dl_utf8_valid(name.ptr, name.len, NULL))
        return spec_fail(err, errlen, "%s '%s': the attribute name is not valid UTF-8", opt, qopt_str(given).s);
    return DL_OK;
}

/* Split s at the separator; *rest is what follows (NULL after the last piece). */
static struct dl_cursor next_item(const char **rest, char sep)
{
    const char *s = *rest;
    const char *e = strchr(s, sep);
    struct dl_cursor c = dl_cursor_of(s, e ? (size_t)(e - s) : strlen(s));
    *rest = e ? e + 1 : NULL;
    return c;
}

static size_t count_char(const char *s, char c)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static const struct type_rule *find_type(const struct dl_transform *t, struct dl_cursor name)
{
    for (size_t i = 0; i < t->ntypes; i++)
        if (dl_cursor_eq(t->types[i].name, name))
            return &t->types[i];
    return NULL;
}

static enum dl_err compile_types(struct dl_transform *t, const struct dl_transform_spec *spec, char *err,
                                 size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < spec->ntypes; i++)
        total += count_char(spec->types[i], ',') + 1;
    if (!total)
        return DL_OK;
    t->types = calloc(total, sizeof *t->types);
    if (!t->types)
        return DL_ERR_NOMEM;
    for (size_t i = 0; i < spec->ntypes; i++) {
        const char *opt = spec->types[i], *rest = opt;
        while (rest) {
            struct dl_cursor item = next_item(&rest, ',');
            /* NAME=TYPE: the type never holds '=', so the last one splits (names may hold '=') */
            const uint8_t *eq = NULL;
            for (size_t k = 0; k < item.len; k++)
                if (item.ptr[k] == '=')
                    eq = item.ptr + k;
            if (!eq)
                return spec_fail(err, errlen, "--types '%s': '%s' is not NAME=TYPE", qopt_str(opt).s,
                                 qopt(item).s);
            struct dl_cursor name = dl_cursor_of(item.ptr, (size_t)(eq - item.ptr));
            struct dl_cursor type = dl_cursor_of(eq + 1, item.len - name.len - 1);
            enum dl_err e = check_name("--types", opt, name, err, errlen);
            if (e)
                return e;
            enum vt vt = vt_of(type, true);
            if (vt == VT_NONE)
                return spec_fail(err, errlen,
                                 "--types '%s': unknown type '%s' (use S, N, BOOL, NULL, B, SS, NS, BS, L or M)",
                                 qopt_str(opt).s, qopt(type).s);
            if (find_type(t, name))
                return spec_fail(err, errlen, "--types: attribute '%s' is given a type twice", qopt(name).s);
            t->types[t->ntypes].name = name;
            t->types[t->ntypes].type = vt;
            t->ntypes++;
        }
    }
    return DL_OK;
}

static enum dl_err compile_renames(struct dl_transform *t, const struct dl_transform_spec *spec, char *err,
                                   size_t errlen)
{
    if (!spec->nrename)
        return DL_OK;
    t->renames = calloc(spec->nrename, sizeof *t->renames);
    if (!t->renames)
        return DL_ERR_NOMEM;
    for (size_t i = 0; i < spec->nrename; i++) {
        const char *opt = spec->rename[i];
        const char *eq = strchr(opt, '=');
        if (!eq)
            return spec_fail(err, errlen, "--rename '%s': expected OLD=NEW", qopt_str(opt).s);
        struct dl_cursor from = dl_cursor_of(opt, (size_t)(eq - opt)), to = dl_cursor_str(eq + 1);
        enum dl_err e = check_name("--rename", opt, from, err, errlen);
        if (!e)
            e = check_name("--rename", opt, to, err, errlen);
        if (e)
            return e;
        for (size_t k = 0; k < t->nrenames; k++) {
            if (dl_cursor_eq(t->renames[k].from, from))
                return spec_fail(err, errlen, "--rename: attribute '%s' is renamed twice", qopt(from).s);
            if (dl_cursor_eq(t->renames[k].to, to))
                return spec_fail(err, errlen, "--rename: '%s' and '%s' are both renamed to '%s'",
                                 qopt(t->renames[k].from).s, qopt(from).s, qopt(to).s);
        }
        t->renames[t->nrenames].from = from;
        t->renames[t->nrenames].to = to;
        t->nrenames++;
    }
    return DL_OK;
}

static enum dl_err compile_drops(struct dl_transform *t, const struct dl_transform_spec *spec, char *err,
                                 size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; i < spec->ndrop; i++)
        total += count_char(spec->drop[i], ',') + 1;
    if (!total)
        return DL_OK;
    t->drops = calloc(total, sizeof *t->drops);
    if (!t->drops)
        return DL_ERR_NOMEM;
    for (size_t i = 0; i < spec->ndrop; i++) {
        const char *rest = spec->drop[i];
        while (rest) {
            struct dl_cursor name = next_item(&rest, ',');
            enum dl_err e = check_name("--drop", spec->drop[i], name, err, errlen);
            if (e)
                return e;
            t->drops[t->ndrops++] = name;
        }
    }
    return DL_OK;
}

static enum ph ph_of(struct dl_cursor name)
{
    for (int k = PH_BUCKET; k <= PH_UUID; k++)
        if (dl_cursor_eq_str(name, ph_names[k]))
            return (enum ph)k;
    return PH_TEXT;
}

static void add_text(struct set_rule *s, const uint8_t *p, size_t from, size_t to)
{
    if (to > from) {
        s->pieces[s->npieces].kind = PH_TEXT;
        s->pieces[s->npieces].text = dl_cursor_of(p + from, to - from);
        s->npieces++;
    }
}

/* Template text -> pieces. "{{" and "}}" are literal braces; "{name}" a placeholder. Literal
 * pieces are views into the option string (for "{{", the first brace). */
static enum dl_err compile_template(struct set_rule *s, const char *opt, struct dl_cursor body, char *err,
                                    size_t errlen)
{
    /* at most one piece per byte */
    s->pieces = calloc(body.len ? body.len : 1, sizeof *s->pieces);
    if (!s->pieces)
        return DL_ERR_NOMEM;
    const uint8_t *p = body.ptr;
    size_t i = 0, lit = 0; /* lit: start of the pending literal run */
    while (i < body.len) {
        bool pair = i + 1 < body.len && p[i + 1] == p[i];
        if ((p[i] == '{' || p[i] == '}') && pair) {
            add_text(s, p, lit, i + 1); /* the run through the first brace */
            i += 2;
            lit = i;
        } else if (p[i] == '{') {
            size_t j = i + 1;
            while (j < body.len && p[j] != '}' && p[j] != '{')
                j++;
            if (j == body.len || p[j] != '}')
                return spec_fail(err, errlen, "--set '%s': '{' without a matching '}' (write {{ for a literal brace)",
                                 qopt_str(opt).s);
            struct dl_cursor name = dl_cursor_of(p + i + 1, j - i - 1);
            enum ph k = ph_of(name);
            if (k == PH_TEXT)
                return spec_fail(err, errlen, "--set '%s': unknown placeholder '{%s}' (use " PH_LIST
                                 "; {{ and }} for literal braces)", qopt_str(opt).s, qopt(name).s);
            add_text(s, p, lit, i);
            s->pieces[s->npieces].kind = k;
            s->npieces++;
            i = j + 1;
            lit = i;
        } else if (p[i] == '}') {
            return spec_fail(err, errlen, "--set '%s': '}' without a '{' (write }} for a literal brace)",
                             qopt_str(opt).s);
        } else {
            i++;
        }
    }
    add_text(s, p, lit, body.len);
    return DL_OK;
}

static enum dl_err compile_sets(struct dl_transform *t, const struct dl_transform_spec *spec, char *err,
                                size_t errlen)
{
    if (!spec->nset)
        return DL_OK;
    t->sets = calloc(spec->nset, sizeof *t->sets);
    if (!t->sets)
        return DL_ERR_NOMEM;
    for (size_t i = 0; i < spec->nset; i++) {
        const char *opt = spec->set[i];
        const char *eq = strchr(opt, '=');
        if (!eq)
            return spec_fail(err, errlen, "--set '%s': expected NAME=TEMPLATE[:TYPE]", qopt_str(opt).s);
        struct set_rule *s = &t->sets[i];
        t->nsets = i + 1; /* so dl_transform_free releases the pieces */
        s->name = dl_cursor_of(opt, (size_t)(eq - opt));
        enum dl_err e = check_name("--set", opt, s->name, err, errlen);
        if (e)
            return e;
        for (size_t k = 0; k < i; k++)
            if (dl_cursor_eq(t->sets[k].name, s->name))
                return spec_fail(err, errlen, "--set: attribute '%s' is set twice", qopt(s->name).s);
        struct dl_cursor body = dl_cursor_str(eq + 1);
        /* only a final :S, :N or :BOOL is a type; any other colon is template text */
        s->type = VT_S;
        static const struct { const char *suffix; enum vt type; } sfx[] = {
            { ":BOOL", VT_BOOL }, { ":S", VT_S }, { ":N", VT_N },
        };
        for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; k++) {
            size_t sl = strlen(sfx[k].suffix);
            if (body.len >= sl && memcmp(body.ptr + body.len - sl, sfx[k].suffix, sl) == 0) {
                s->type = sfx[k].type;
                body.len -= sl;
                break;
            }
        }
        if (!dl_utf8_valid(body.ptr, body.len, NULL))
            return spec_fail(err, errlen, "--set '%s': the template is not valid UTF-8", qopt_str(opt).s);
        if ((e = compile_template(s, opt, body, err, errlen)))
            return e;
        /* a template without placeholders gives one value: check it now rather than per record */
        bool constant = true;
        size_t len = 0;
        for (size_t k = 0; k < s->npieces; k++) {
            constant = constant && s->pieces[k].kind == PH_TEXT;
            len += s->pieces[k].text.len;
        }
        if (constant && s->type != VT_S) {
            char *text = malloc(len + 1);
            if (!text)
                return DL_ERR_NOMEM;
            size_t o = 0;
            for (size_t k = 0; k < s->npieces; k++) {
                memcpy(text + o, s->pieces[k].text.ptr, s->pieces[k].text.len);
                o += s->pieces[k].text.len;
            }
            struct dl_cursor v = dl_cursor_of(text, o);
            char why[200], reason[240];
            e = DL_OK;
            if (s->type == VT_N && dl_num_check(v, NULL, why, sizeof why) != DL_OK) {
                number_reason(v, why, reason, sizeof reason);
                e = spec_fail(err, errlen, "--set '%s': %s", qopt_str(opt).s, reason);
            } else if (s->type == VT_BOOL && parse_bool(v) < 0) {
                e = spec_fail(err, errlen, "--set '%s': '%s' is not a boolean (true, false, 1 or 0)",
                              qopt_str(opt).s, qopt(v).s);
            }
            free(text);
            if (e)
                return e;
        }
    }
    return DL_OK;
}

static enum dl_err compile_ops(struct dl_transform *t, const struct dl_transform_spec *spec, char *err,
                               size_t errlen)
{
    if (!spec->op_field) {
        if (spec->op_map)
            return spec_fail(err, errlen, "--op-map needs --op-field NAME");
        return DL_OK;
    }
    t->has_op = true;
    t->op_field = dl_cursor_str(spec->op_field);
    enum dl_err e = check_name("--op-field", spec->op_field, t->op_field, err, errlen);
    if (e)
        return e;
    if (!spec->op_map) {
        t->ops = (struct op_rule *)default_ops;
        t->nops = sizeof default_ops / sizeof default_ops[0];
        return DL_OK;
    }
    const char *map = spec->op_map;
    t->op_map = map;
    /* "I,U=put D=delete": groups separated by spaces; VALUE[,VALUE...]=put|delete */
    t->ops = calloc(strlen(map) + 1, sizeof *t->ops);
    if (!t->ops)
        return DL_ERR_NOMEM;
    t->ops_owned = true;
    const char *p = map;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *g = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        struct dl_cursor group = dl_cursor_of(g, (size_t)(p - g));
        const uint8_t *eq = memchr(group.ptr, '=', group.len);
        if (!eq)
            return spec_fail(err, errlen, "--op-map '%s': '%s' is not VALUE[,VALUE]=put|delete",
                             qopt_str(map).s, qopt(group).s);
        struct dl_cursor values = dl_cursor_of(group.ptr, (size_t)(eq - group.ptr));
        struct dl_cursor op = dl_cursor_of(eq + 1, group.len - values.len - 1);
        bool del;
        if (eq_ci(op, dl_cursor_str("put")))
            del = false;
        else if (eq_ci(op, dl_cursor_str("delete")))
            del = true;
        else
            return spec_fail(err, errlen, "--op-map '%s': '%s' is not an operation (use put or delete)",
                             qopt_str(map).s, qopt(op).s);
        size_t at = 0;
        while (at <= values.len) {
            const uint8_t *c = memchr(values.ptr + at, ',', values.len - at);
            size_t end = c ? (size_t)(c - values.ptr) : values.len;
            struct dl_cursor v = dl_cursor_of(values.ptr + at, end - at);
            if (v.len == 0)
                return spec_fail(err, errlen, "--op-map '%s': an empty value in '%s'", qopt_str(map).s,
                                 qopt(group).s);
            for (size_t k = 0; k < t->nops; k++)
                if (eq_ci(t->ops[k].value, v) && t->ops[k].del != del)
                    return spec_fail(err, errlen, "--op-map '%s': '%s' is mapped to both put and delete",
                                     qopt_str(map).s, qopt(v).s);
            t->ops[t->nops].value = v;
            t->ops[t->nops].del = del;
            t->nops++;
            at = end + 1;
        }
    }
    if (!t->nops)
        return spec_fail(err, errlen, "--op-map '%s' maps no value to an operation", qopt_str(map).s);
    return DL_OK;
}

enum dl_err dl_transform_new(const struct dl_transform_spec *spec, struct dl_transform **out, char *err,
                             size_t errlen)
{
    enum dl_err e = DL_OK;
    struct dl_transform *t = NULL;
    *out = NULL;
    if (err && errlen)
        err[0] = 0;
    t = calloc(1, sizeof *t);
    if (!t) {
        e = DL_ERR_NOMEM;
        goto out;
    }
    t->infer = spec->infer_types;
    t->sep = spec->list_sep ? (uint8_t)spec->list_sep : ',';
    if (t->sep >= 0x80) {
        e = spec_fail(err, errlen, "--list-separator must be an ASCII character");
        goto out;
    }
    if ((e = compile_types(t, spec, err, errlen)) || (e = compile_renames(t, spec, err, errlen)) ||
        (e = compile_drops(t, spec, err, errlen)) || (e = compile_sets(t, spec, err, errlen)) ||
        (e = compile_ops(t, spec, err, errlen)))
        goto out;
    if (spec->key_seq) {
        t->has_seq = true;
        t->key_seq = dl_cursor_str(spec->key_seq);
        if ((e = check_name("--key-seq", spec->key_seq, t->key_seq, err, errlen)))
            goto out;
    }
out:
    if (e) {
        if (e == DL_ERR_NOMEM && err && errlen)
            snprintf(err, errlen, "out of memory");
        dl_transform_free(t);
        return e;
    }
    *out = t;
    return DL_OK;
}

void dl_transform_free(struct dl_transform *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsets; i++)
        free(t->sets[i].pieces);
    free(t->sets);
    free(t->types);
    free(t->renames);
    free(t->drops);
    if (t->ops_owned)
        free(t->ops);
    free(t);
}

bool dl_transform_is_empty(const struct dl_transform *t)
{
    return !t || (!t->ntypes && !t->nrenames && !t->ndrops && !t->nsets && !t->infer && !t->has_op &&
                  !t->has_seq);
}

/* ---------------------------------------------------------------- one record */

/* One top-level attribute of the record being transformed. */
struct attr {
    struct dl_cursor name;   /* the current name */
    struct dl_cursor orig;   /* the name in the record (--types and --op-field look this up) */
    struct dl_cursor final;  /* the name after --rename */
    struct dl_json *val;     /* the value as DynamoDB JSON: an object {"T": payload} */
    size_t wire_idx;         /* position among the record's attributes; SIZE_MAX when added */
    uint64_t wire_off;       /* the value's offset in the parsed wire (record's attributes) */
    uint64_t column;         /* a known CSV column (NULL from an empty cell); else found on demand */
    struct dl_cursor cell;   /* inferred: the cell's text as it was */
    bool gone;               /* removed (op field, --drop, rename collision, not a key in a Delete) */
    bool renamed;
    bool inferred;
    bool replaced;           /* --set gave it a new value: no longer the cell's */
};

struct run {
    const struct dl_transform *t;
    const struct dl_transform_ctx *ctx;
    const struct dl_key_schema *ks;
    struct dl_pos_err *why;
    struct dl_arena *a;
    size_t arena_cap;
    enum dl_err alloc_err;   /* what the last failed allocation means: NOMEM or TOO_LARGE */
    struct attr *at;
    size_t n, cap;
    size_t nwire;
    uint64_t base;           /* offsets of nodes made here: base + index of their attribute */
    struct dl_buf tmp;
    bool del;
    bool have_now, have_uuid;
    char now_ms[32], now_iso[96], uuid[40];
};

/* An allocation of n bytes failed: was it the arena's cap (the record is too big to work on:
 * reject it) or memory (stop)? */
static void note_alloc_fail(struct run *r, size_t n)
{
    r->alloc_err = dl_arena_used(r->a) + n + 65536 > r->arena_cap ? DL_ERR_TOO_LARGE : DL_ERR_NOMEM;
}

static void *alloc(struct run *r, size_t n)
{
    void *p = dl_arena_alloc(r->a, n);
    if (!p)
        note_alloc_fail(r, n);
    return p;
}

static enum dl_err alloc_fail(struct run *r)
{
    if (r->alloc_err == DL_ERR_TOO_LARGE)
        return dl_pos_err_set(r->why, DL_ERR_TOO_LARGE, 0, 0, 0, "the item is too large to transform");
    return dl_pos_err_set(r->why, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
}

static enum dl_err buf_fail(struct run *r, enum dl_err e)
{
    if (e == DL_ERR_TOO_LARGE)
        return dl_pos_err_set(r->why, e, 0, 0, 0, "a value made by the transform is larger than DynamoDB's 400 KB item limit");
    return dl_pos_err_set(r->why, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
}

static struct dl_cursor dup_bytes(struct run *r, const void *p, size_t n)
{
    uint8_t *d = alloc(r, n + 1);
    if (!d)
        return dl_cursor_of(NULL, 0);
    if (n)
        memcpy(d, p, n);
    d[n] = 0;
    return dl_cursor_of(d, n);
}

static struct dl_json *node(struct run *r, enum dl_json_type type, uint64_t off)
{
    struct dl_json *j = alloc(r, sizeof *j);
    if (j) {
        memset(j, 0, sizeof *j);
        j->type = type;
        j->offset = off;
    }
    return j;
}

static struct dl_json *str_node(struct run *r, struct dl_cursor s, uint64_t off)
{
    struct dl_json *j = node(r, DL_JSON_STRING, off);
    if (j)
        j->str = s;
    return j;
}

/* {"T": payload} */
static struct dl_json *wrap(struct run *r, enum vt type, struct dl_json *payload, uint64_t off)
{
    if (!payload)
        return NULL;
    struct dl_json *w = node(r, DL_JSON_OBJECT, off);
    if (!w)
        return NULL;
    payload->key = dl_cursor_str(vt_names[type]);
    payload->next = NULL;
    w->n = 1;
    w->child = payload;
    return w;
}

static struct dl_json *wrap_str(struct run *r, enum vt type, struct dl_cursor s, uint64_t off)
{
    return wrap(r, type, str_node(r, s, off), off);
}

static struct dl_json *wrap_bool(struct run *r, bool v, uint64_t off)
{
    return wrap(r, VT_BOOL, node(r, v ? DL_JSON_TRUE : DL_JSON_FALSE, off), off);
}

static enum vt val_type(const struct dl_json *v)
{
    if (!v || v->type != DL_JSON_OBJECT || v->n != 1 || !v->child)
        return VT_NONE;
    return vt_of(v->child->key, false);
}

static uint64_t off_of(const struct run *r, const struct attr *a)
{
    return r->base + (uint64_t)(a - r->at);
}

static struct attr *find(struct run *r, struct dl_cursor name)
{
    for (size_t i = 0; i < r->n; i++)
        if (!r->at[i].gone && dl_cursor_eq(r->at[i].name, name))
            return &r->at[i];
    return NULL;
}

static int key_index(const struct dl_key_schema *ks, struct dl_cursor name)
{
    for (int k = 0; ks && k < ks->n; k++)
        if (dl_cursor_eq(dl_cursor_of(ks->k[k].name, ks->k[k].name_len), name))
            return k;
    return -1;
}

/* 1-based CSV column of the header name, the last one when names repeat; 0 if none. */
static uint64_t column_of_name(const struct run *r, struct dl_cursor name)
{
    const struct dl_transform_ctx *c = r->ctx;
    for (size_t j = c->ncolumns; c->columns && j-- > 0;)
        if (dl_cursor_eq(c->columns[j], name))
            return j + 1;
    return 0;
}

/* The CSV column an attribute came from. Only asked for an error, so it is worked out here:
 * the builder writes cells in column order, so walking the record's attributes and the header
 * together finds each one's column in one pass. */
static uint64_t column_of(const struct run *r, const struct attr *a)
{
    const struct dl_transform_ctx *c = r->ctx;
    if (a->column || !c->columns || a->wire_idx == SIZE_MAX || a->replaced)
        return a->column;
    size_t j = 0;
    for (size_t w = 0; w <= a->wire_idx; w++, j++) {
        while (j < c->ncolumns && !dl_cursor_eq(c->columns[j], r->at[w].orig))
            j++;
        if (j == c->ncolumns) /* not in header order after all */
            return column_of_name(r, a->orig);
    }
    return j; /* the loop's j++ made it 1-based */
}

/* "attribute 'price' (column 3): <reason>" */
__attribute__((format(printf, 4, 5)))
static enum dl_err attr_fail(struct run *r, const struct attr *a, enum dl_err code, const char *fmt, ...)
{
    char q[DL_ITEM_QUOTE_MAX + 8], reason[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    dl_item_quote(q, sizeof q, a->name, DL_ITEM_QUOTE_MAX);
    uint64_t col = column_of(r, a);
    if (col)
        return dl_pos_err_set(r->why, code, 0, 0, col, "attribute '%s' (column %" PRIu64 "): %s", q, col, reason);
    return dl_pos_err_set(r->why, code, 0, 0, 0, "attribute '%s': %s", q, reason);
}

static struct attr *append(struct run *r, struct dl_cursor name, struct dl_json *val)
{
    if (r->n == r->cap)
        return NULL; /* sized for every attribute the options can add: cannot happen */
    struct attr *a = &r->at[r->n++];
    memset(a, 0, sizeof *a);
    a->name = a->orig = a->final = name;
    a->val = val;
    a->wire_idx = SIZE_MAX;
    return a;
}

/* ---------------------------------------------------------------- loading the record */

static enum dl_err load(struct run *r, const struct dl_item *it)
{
    const struct dl_transform *t = r->t;
    struct dl_pos_err pe;
    if (it->wire.len == 0)
        return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, 0, "the record has no item to transform");
    /* the DOM may point into the text it was parsed from, and the builder rewrites it->wire:
     * parse a copy */
    struct dl_cursor copy = dup_bytes(r, it->wire.data, it->wire.len);
    if (!copy.ptr)
        return alloc_fail(r);
    struct dl_json *dom = NULL;
    enum dl_err e = dl_json_parse_doc(r->a, copy.ptr, copy.len, &dom, &pe);
    if (e == DL_ERR_NOMEM || e == DL_ERR_TOO_LARGE) {
        note_alloc_fail(r, 0);
        return alloc_fail(r);
    }
    if (e || dom->type != DL_JSON_OBJECT)
        return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, 0,
                              "the record's item is not a DynamoDB JSON map (%s)", e ? pe.msg : "not an object");
    r->base = copy.len + 1;
    r->nwire = dom->n;
    r->cap = dom->n + t->nsets + t->ntypes + 1;
    r->at = alloc(r, r->cap * sizeof *r->at);
    if (!r->at)
        return alloc_fail(r);
    for (struct dl_json *c = dom->child; c; c = c->next) {
        struct attr *a = append(r, c->key, c);
        a->wire_idx = r->n - 1;
        a->wire_off = c->offset;
    }
    return DL_OK;
}

/* ---------------------------------------------------------------- step 1: --op-field */

static enum dl_err read_op(struct run *r)
{
    const struct dl_transform *t = r->t;
    char q[DL_ITEM_QUOTE_MAX + 8], v[DL_ITEM_QUOTE_MAX + 8];
    struct attr *a = find(r, t->op_field);
    if (!a) {
        dl_item_quote(q, sizeof q, t->op_field, DL_ITEM_QUOTE_MAX);
        uint64_t col = r->ctx->csv ? column_of_name(r, t->op_field) : 0;
        if (col) /* the builder leaves out empty cells */
            return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col,
                                  "the operation field '%s' (column %" PRIu64 ") is empty", q, col);
        return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, 0, "the record has no operation field '%s'", q);
    }
    enum vt vt = val_type(a->val);
    if (vt != VT_S && vt != VT_N)
        return attr_fail(r, a, DL_ERR_INVALID, "the operation must be a string, not %s", vt_desc[vt]);
    struct dl_cursor op = a->val->child->str;
    for (size_t i = 0; i < t->nops; i++) {
        if (eq_ci(t->ops[i].value, op)) {
            r->del = t->ops[i].del;
            a->gone = true;
            return DL_OK;
        }
    }
    dl_item_quote(v, sizeof v, op, DL_ITEM_QUOTE_MAX);
    if (t->op_map) {
        char m[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(m, sizeof m, dl_cursor_str(t->op_map), DL_ITEM_QUOTE_MAX);
        return attr_fail(r, a, DL_ERR_INVALID, "operation '%s' is not in --op-map '%s'", v, m);
    }
    return attr_fail(r, a, DL_ERR_INVALID,
                     "unknown operation '%s' (put: I, U, INSERT, UPDATE, MODIFY, PUT, UPSERT; delete: D, DELETE, REMOVE)", v);
}

/* ---------------------------------------------------------------- step 2: --types, --infer-types */

/* text -> N, with the reason when it is not a DynamoDB number. */
static enum dl_err to_number(struct run *r, struct attr *a, struct dl_cursor text)
{
    char why[200], reason[240];
    if (dl_num_check(text, NULL, why, sizeof why) != DL_OK) {
        number_reason(text, why, reason, sizeof reason);
        return attr_fail(r, a, DL_ERR_INVALID, "%s", reason);
    }
    if (!(a->val = wrap_str(r, VT_N, text, off_of(r, a))))
        return alloc_fail(r);
    return DL_OK;
}

struct elem {
    struct dl_cursor text;   /* as given */
    struct dl_cursor cmp;    /* what makes two elements the same: bytes, canonical number, decoded bytes */
    size_t idx;
};

static int cmp_elem(const void *x, const void *y)
{
    const struct elem *a = x, *b = y;
    size_t m = a->cmp.len < b->cmp.len ? a->cmp.len : b->cmp.len;
    int c = m ? memcmp(a->cmp.ptr, b->cmp.ptr, m) : 0;
    if (c)
        return c;
    if (a->cmp.len != b->cmp.len)
        return a->cmp.len < b->cmp.len ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* One set element (1-based i): checked and given its comparison bytes. */
static enum dl_err set_elem(struct run *r, struct attr *a, enum vt to, struct dl_cursor text, size_t i,
                            struct elem *el)
{
    char q[DL_ITEM_QUOTE_MAX + 8];
    el->text = text;
    el->idx = i;
    if (to == VT_SS) {
        el->cmp = text;
    } else if (to == VT_NS) {
        struct dl_num_info ni;
        char why[200], reason[240], canon[DL_NUM_CANON_MAX];
        if (dl_num_check(text, &ni, why, sizeof why) != DL_OK) {
            number_reason(text, why, reason, sizeof reason);
            return attr_fail(r, a, DL_ERR_INVALID, "NS element %zu: %s", i, reason);
        }
        size_t cl = dl_num_format_canonical(&ni, canon);
        el->cmp = dup_bytes(r, canon, cl);
        if (!el->cmp.ptr)
            return alloc_fail(r);
    } else {
        dl_buf_reset(&r->tmp);
        enum dl_err e = dl_base64_decode(text, &r->tmp);
        if (e == DL_ERR_PARSE) {
            dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
            return attr_fail(r, a, DL_ERR_INVALID, "BS element %zu: '%s' is not valid base64", i, q);
        }
        if (e)
            return buf_fail(r, e);
        el->cmp = dup_bytes(r, r->tmp.data, r->tmp.len);
        if (!el->cmp.ptr)
            return alloc_fail(r);
    }
    return DL_OK;
}

/* Sets must not repeat an element (DynamoDB rejects the write): sort, compare neighbours. */
static enum dl_err set_unique(struct run *r, struct attr *a, enum vt to, struct elem *els, size_t n)
{
    qsort(els, n, sizeof *els, cmp_elem);
    for (size_t i = 0; i + 1 < n; i++) {
        if (!dl_cursor_eq(els[i].cmp, els[i + 1].cmp))
            continue;
        char qa[DL_ITEM_QUOTE_MAX + 8], qb[DL_ITEM_QUOTE_MAX + 8];
        dl_item_quote(qa, sizeof qa, els[i].text, DL_ITEM_QUOTE_MAX);
        dl_item_quote(qb, sizeof qb, els[i + 1].text, DL_ITEM_QUOTE_MAX);
        if (dl_cursor_eq(els[i].text, els[i + 1].text))
            return attr_fail(r, a, DL_ERR_INVALID, "%s elements %zu and %zu are both '%s' (set elements must be unique)",
                             vt_names[to], els[i].idx, els[i + 1].idx, qa);
        return attr_fail(r, a, DL_ERR_INVALID, "%s elements %zu '%s' and %zu '%s' are the same %s (set elements must be unique)",
                         vt_names[to], els[i].idx, qa, els[i + 1].idx, qb, to == VT_NS ? "number" : "bytes");
    }
    return DL_OK;
}

/* A set from a cell: split on the separator, no trimming, no empty elements. */
static enum dl_err set_from_text(struct run *r, struct attr *a, enum vt to, struct dl_cursor text)
{
    enum dl_err e;
    uint64_t off = off_of(r, a);
    if (text.len == 0)
        return attr_fail(r, a, DL_ERR_INVALID, "an empty value cannot be %s (a set needs at least one element)",
                         vt_names[to]);
    size_t n = 1;
    for (size_t i = 0; i < text.len; i++)
        n += text.ptr[i] == r->t->sep;
    struct elem *els = alloc(r, n * sizeof *els);
    struct dl_json *arr = node(r, DL_JSON_ARRAY, off);
    if (!els || !arr)
        return alloc_fail(r);
    struct dl_json **tail = &arr->child;
    size_t start = 0, k = 0;
    for (size_t i = 0; i <= text.len; i++) {
        if (i < text.len && text.ptr[i] != r->t->sep)
            continue;
        struct dl_cursor el = dl_cursor_of(text.ptr + start, i - start);
        start = i + 1;
        k++;
        if (el.len == 0) {
            char q[DL_ITEM_QUOTE_MAX + 8];
            dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
            return attr_fail(r, a, DL_ERR_INVALID, "%s element %zu of '%s' is empty", vt_names[to], k, q);
        }
        if ((e = set_elem(r, a, to, el, k, &els[k - 1])))
            return e;
        struct dl_json *s = str_node(r, el, off);
        if (!s)
            return alloc_fail(r);
        *tail = s;
        tail = &s->next;
        arr->n++;
    }
    if ((e = set_unique(r, a, to, els, n)))
        return e;
    if (!(a->val = wrap(r, to, arr, off)))
        return alloc_fail(r);
    return DL_OK;
}

/* A set from a list (JSON input): SS from S elements, NS from N (or S holding a number), BS
 * from B (or S holding base64). Empty strings are allowed in a set, as DynamoDB allows them. */
static enum dl_err set_from_list(struct run *r, struct attr *a, enum vt to, const struct dl_json *list)
{
    enum dl_err e;
    uint64_t off = off_of(r, a);
    if (list->n == 0)
        return attr_fail(r, a, DL_ERR_INVALID, "an empty list cannot be %s (a set needs at least one element)",
                         vt_names[to]);
    struct elem *els = alloc(r, list->n * sizeof *els);
    struct dl_json *arr = node(r, DL_JSON_ARRAY, off);
    if (!els || !arr)
        return alloc_fail(r);
    struct dl_json **tail = &arr->child;
    size_t k = 0;
    for (const struct dl_json *c = list->child; c && k < list->n; c = c->next) {
        k++;
        enum vt et = val_type(c);
        bool ok = et == VT_S || (to == VT_NS && et == VT_N) || (to == VT_BS && et == VT_B);
        if (!ok)
            return attr_fail(r, a, DL_ERR_INVALID, "list element %zu is %s, which cannot be in %s", k, vt_desc[et],
                             vt_desc[to]);
        struct dl_cursor text = c->child->str;
        if ((e = set_elem(r, a, to, text, k, &els[k - 1])))
            return e;
        struct dl_json *s = str_node(r, text, off);
        if (!s)
            return alloc_fail(r);
        *tail = s;
        tail = &s->next;
        arr->n++;
    }
    if ((e = set_unique(r, a, to, els, k)))
        return e;
    if (!(a->val = wrap(r, to, arr, off)))
        return alloc_fail(r);
    return DL_OK;
}

/* Plain JSON value -> DynamoDB JSON, as dl_item_from_json maps it (the builder checks numbers,
 * names and nesting afterwards, and names the failing path). */
static struct dl_json *plain_to_ddb(struct run *r, const struct dl_json *j, uint64_t off)
{
    switch (j->type) {
    case DL_JSON_STRING:
        return wrap_str(r, VT_S, j->str, off);
    case DL_JSON_NUMBER:
        return wrap_str(r, VT_N, j->str, off);
    case DL_JSON_TRUE:
    case DL_JSON_FALSE:
        return wrap_bool(r, j->type == DL_JSON_TRUE, off);
    case DL_JSON_NULL:
        return wrap(r, VT_NULL, node(r, DL_JSON_TRUE, off), off);
    case DL_JSON_ARRAY:
    case DL_JSON_OBJECT: {
        struct dl_json *c = node(r, j->type, off);
        if (!c)
            return NULL;
        struct dl_json **tail = &c->child;
        for (const struct dl_json *m = j->child; m; m = m->next) {
            struct dl_json *v = plain_to_ddb(r, m, off);
            if (!v)
                return NULL;
            v->key = m->key;
            *tail = v;
            tail = &v->next;
            c->n++;
        }
        return wrap(r, j->type == DL_JSON_ARRAY ? VT_L : VT_M, c, off);
    }
    }
    return NULL;
}

static enum dl_err json_from_text(struct run *r, struct attr *a, enum vt to, struct dl_cursor text)
{
    char q[DL_ITEM_QUOTE_MAX + 8];
    struct dl_json *dom = NULL;
    struct dl_pos_err pe;
    enum dl_err e = dl_json_parse_doc(r->a, text.ptr, text.len, &dom, &pe);
    if (e == DL_ERR_NOMEM || e == DL_ERR_TOO_LARGE) {
        note_alloc_fail(r, 0);
        return alloc_fail(r);
    }
    dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
    if (e)
        return attr_fail(r, a, DL_ERR_INVALID, "'%s' is not valid JSON (%s at byte %" PRIu64 ")", q, pe.msg,
                         pe.offset + 1);
    enum dl_json_type want = to == VT_L ? DL_JSON_ARRAY : DL_JSON_OBJECT;
    if (dom->type != want)
        return attr_fail(r, a, DL_ERR_INVALID, "%s needs a JSON %s, not %s", vt_names[to],
                         to == VT_L ? "array" : "object", dl_json_type_name(dom->type));
    struct dl_json *v = plain_to_ddb(r, dom, off_of(r, a));
    if (!v)
        return alloc_fail(r);
    a->val = v;
    return DL_OK;
}

/* --types NAME=TO: the conversions of docs/transforms.md, and an error for the rest. */
static enum dl_err convert(struct run *r, struct attr *a, enum vt to)
{
    enum vt from = val_type(a->val);
    if (from == to)
        return DL_OK;
    const struct dl_json *p = from == VT_NONE ? NULL : a->val->child;
    uint64_t off = off_of(r, a);
    char q[DL_ITEM_QUOTE_MAX + 8];
    struct dl_json *v = NULL;
    switch (to) {
    case VT_S:
        if (from == VT_N)
            v = wrap_str(r, VT_S, p->str, off);
        else if (from == VT_BOOL)
            v = wrap_str(r, VT_S, dl_cursor_str(p->type == DL_JSON_TRUE ? "true" : "false"), off);
        else
            break;
        goto done;
    case VT_N:
        if (from == VT_S)
            return to_number(r, a, p->str);
        break;
    case VT_BOOL:
        if (from == VT_S || from == VT_N) {
            int b = parse_bool(p->str);
            if (b < 0) {
                dl_item_quote(q, sizeof q, p->str, DL_ITEM_QUOTE_MAX);
                return attr_fail(r, a, DL_ERR_INVALID, "'%s' is not a boolean (true, false, 1 or 0)", q);
            }
            v = wrap_bool(r, b == 1, off);
            goto done;
        }
        break;
    case VT_NULL:
        if (from == VT_S) {
            if (!is_null_text(p->str)) {
                dl_item_quote(q, sizeof q, p->str, DL_ITEM_QUOTE_MAX);
                return attr_fail(r, a, DL_ERR_INVALID, "'%s' is not null (NULL takes an empty value or null)", q);
            }
            v = wrap(r, VT_NULL, node(r, DL_JSON_TRUE, off), off);
            goto done;
        }
        break;
    case VT_B:
        if (from == VT_S) {
            dl_buf_reset(&r->tmp);
            enum dl_err e = dl_base64_decode(p->str, &r->tmp);
            if (e == DL_ERR_PARSE) {
                dl_item_quote(q, sizeof q, p->str, DL_ITEM_QUOTE_MAX);
                return attr_fail(r, a, DL_ERR_INVALID, "'%s' is not valid base64", q);
            }
            if (e)
                return buf_fail(r, e);
            v = wrap_str(r, VT_B, p->str, off); /* the builder writes it again canonically */
            goto done;
        }
        break;
    case VT_SS:
    case VT_NS:
    case VT_BS:
        if (from == VT_S)
            return set_from_text(r, a, to, p->str);
        if (from == VT_L)
            return set_from_list(r, a, to, p);
        break;
    case VT_L:
    case VT_M:
        if (from == VT_S)
            return json_from_text(r, a, to, p->str);
        break;
    case VT_NONE:
        break;
    }
    return attr_fail(r, a, DL_ERR_INVALID, "%s cannot be converted to %s", vt_desc[from], vt_names[to]);
done:
    if (!v)
        return alloc_fail(r);
    a->val = v;
    return DL_OK;
}

/* --infer-types: a CSV cell that is a JSON-grammar number DynamoDB can hold becomes N, exactly
 * true or false becomes BOOL. The grammar already refuses "007", "+1", "1." and ".5", so
 * identifiers with leading zeros keep their text. The cell is kept in case the attribute
 * turns out to be a key (step 7 then uses it as it was). */
static enum dl_err infer(struct run *r, struct attr *a)
{
    if (val_type(a->val) != VT_S)
        return DL_OK;
    struct dl_cursor s = a->val->child->str;
    struct dl_json *v = NULL;
    uint64_t off = off_of(r, a);
    if (dl_cursor_eq_str(s, "true") || dl_cursor_eq_str(s, "false"))
        v = wrap_bool(r, s.len == 4, off);
    else if (s.len && (s.ptr[0] == '-' || (s.ptr[0] >= '0' && s.ptr[0] <= '9')) &&
             dl_num_check(s, NULL, NULL, 0) == DL_OK)
        v = wrap_str(r, VT_N, s, off);
    else
        return DL_OK;
    if (!v)
        return alloc_fail(r);
    a->cell = s;
    a->inferred = true;
    a->val = v;
    return DL_OK;
}

static enum dl_err apply_types(struct run *r)
{
    const struct dl_transform *t = r->t;
    enum dl_err e;
    bool infer_on = t->infer && r->ctx->csv;
    for (size_t i = 0; i < r->nwire; i++) {
        struct attr *a = &r->at[i];
        if (a->gone)
            continue;
        const struct type_rule *tr = t->ntypes ? find_type(t, a->orig) : NULL;
        if (tr)
            e = convert(r, a, tr->type);
        else if (infer_on)
            e = infer(r, a);
        else
            e = DL_OK;
        if (e)
            return e;
    }
    /* NULL for an empty CSV cell: the builder leaves empty cells out, so a NULL column would
     * otherwise never give NULL */
    if (!r->ctx->csv || !r->ctx->columns || r->del)
        return DL_OK;
    for (size_t k = 0; k < t->ntypes; k++) {
        if (t->types[k].type != VT_NULL)
            continue;
        uint64_t col = column_of_name(r, t->types[k].name);
        if (!col)
            continue;
        bool present = false;
        for (size_t i = 0; i < r->nwire && !present; i++)
            present = dl_cursor_eq(r->at[i].orig, t->types[k].name);
        if (present)
            continue;
        struct attr *a = append(r, t->types[k].name, NULL);
        if (!a)
            return alloc_fail(r);
        a->column = col;
        for (size_t j = 0; j < t->nrenames; j++)
            if (dl_cursor_eq(t->renames[j].from, a->orig)) {
                a->final = t->renames[j].to;
                a->renamed = true;
            }
        if (!(a->val = wrap(r, VT_NULL, node(r, DL_JSON_TRUE, off_of(r, a)), off_of(r, a))))
            return alloc_fail(r);
    }
    return DL_OK;
}

/* ---------------------------------------------------------------- steps 3 and 4: --rename, --drop */

/* Renames apply together, to the names in the record: a=b with b=a swaps. A renamed attribute
 * replaces one that already had the new name. */
static void final_names(struct run *r)
{
    const struct dl_transform *t = r->t;
    for (size_t i = 0; i < r->n; i++) {
        struct attr *a = &r->at[i];
        for (size_t j = 0; j < t->nrenames; j++)
            if (dl_cursor_eq(t->renames[j].from, a->orig)) {
                a->final = t->renames[j].to;
                a->renamed = true;
                break;
            }
    }
}

static void apply_renames(struct run *r)
{
    const struct dl_transform *t = r->t;
    if (!t->nrenames)
        return;
    for (size_t j = 0; j < t->nrenames; j++) {
        bool used = false;
        for (size_t i = 0; i < r->n && !used; i++)
            used = !r->at[i].gone && r->at[i].renamed && dl_cursor_eq(r->at[i].final, t->renames[j].to);
        if (!used)
            continue;
        for (size_t i = 0; i < r->n; i++)
            if (!r->at[i].gone && !r->at[i].renamed && dl_cursor_eq(r->at[i].name, t->renames[j].to))
                r->at[i].gone = true;
    }
    for (size_t i = 0; i < r->n; i++)
        if (r->at[i].renamed)
            r->at[i].name = r->at[i].final;
}

static void apply_drops(struct run *r)
{
    const struct dl_transform *t = r->t;
    for (size_t j = 0; j < t->ndrops; j++)
        for (size_t i = 0; i < r->n; i++)
            if (!r->at[i].gone && dl_cursor_eq(r->at[i].name, t->drops[j]))
                r->at[i].gone = true;
}

/* ---------------------------------------------------------------- step 5: --set */

static enum dl_err clock_values(struct run *r)
{
    if (r->have_now)
        return DL_OK;
    struct timespec ts;
    struct tm tm;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || !gmtime_r(&ts.tv_sec, &tm))
        return dl_pos_err_set(r->why, DL_ERR_IO, 0, 0, 0, "cannot read the clock for {now_ms}/{now_iso}");
    long ms = ts.tv_nsec / 1000000;
    snprintf(r->now_ms, sizeof r->now_ms, "%lld%03ld", (long long)ts.tv_sec, ms);
    snprintf(r->now_iso, sizeof r->now_iso, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    r->have_now = true;
    return DL_OK;
}

static enum dl_err uuid_value(struct run *r)
{
    if (r->have_uuid)
        return DL_OK;
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return dl_pos_err_set(r->why, DL_ERR_IO, 0, 0, 0, "cannot get random bytes for {uuid} (errno %d)",
                                  n < 0 ? errno : 0);
        got += (size_t)n;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            r->uuid[o++] = '-';
        r->uuid[o++] = hex[b[i] >> 4];
        r->uuid[o++] = hex[b[i] & 15];
    }
    r->uuid[o] = 0;
    r->have_uuid = true;
    return DL_OK;
}

static enum dl_err render(struct run *r, const struct set_rule *s)
{
    const struct dl_transform_ctx *c = r->ctx;
    struct dl_buf *b = &r->tmp;
    enum dl_err e = DL_OK;
    dl_buf_reset(b);
    for (size_t i = 0; i < s->npieces && !e; i++) {
        const struct piece *p = &s->pieces[i];
        switch (p->kind) {
        case PH_TEXT: e = dl_buf_append_cur(b, p->text); break;
        case PH_BUCKET: e = dl_buf_append_str(b, c->bucket ? c->bucket : ""); break;
        case PH_KEY: e = dl_buf_append_str(b, c->key ? c->key : ""); break;
        case PH_ETAG: e = dl_buf_append_str(b, c->etag ? c->etag : ""); break;
        case PH_LINE: e = dl_buf_printf(b, "%" PRIu64, c->line); break;
        case PH_RECORD: e = dl_buf_printf(b, "%" PRIu64, c->record); break;
        case PH_NOW_MS:
        case PH_NOW_ISO:
            if ((e = clock_values(r)))
                return e;
            e = dl_buf_append_str(b, p->kind == PH_NOW_MS ? r->now_ms : r->now_iso);
            break;
        case PH_UUID:
            if ((e = uuid_value(r)))
                return e;
            e = dl_buf_append_str(b, r->uuid);
            break;
        }
    }
    return e ? buf_fail(r, e) : DL_OK;
}

static enum dl_err apply_sets(struct run *r)
{
    const struct dl_transform *t = r->t;
    enum dl_err e;
    for (size_t i = 0; i < t->nsets; i++) {
        const struct set_rule *s = &t->sets[i];
        if (r->del && key_index(r->ks, s->name) < 0)
            continue; /* a Delete writes only the key */
        if ((e = render(r, s)))
            return e;
        struct attr *a = find(r, s->name);
        if (a) {
            a->replaced = true;
            a->inferred = false;
            a->column = 0;
        } else if (!(a = append(r, s->name, NULL))) {
            return alloc_fail(r);
        }
        size_t bad;
        if (!dl_utf8_valid(r->tmp.data, r->tmp.len, &bad))
            return attr_fail(r, a, DL_ERR_INVALID, "the --set value is not valid UTF-8 (byte %zu)", bad + 1);
        struct dl_cursor text = dup_bytes(r, r->tmp.data, r->tmp.len);
        if (!text.ptr)
            return alloc_fail(r);
        uint64_t off = off_of(r, a);
        char q[DL_ITEM_QUOTE_MAX + 8];
        if (s->type == VT_N) {
            char why[200], reason[240];
            if (dl_num_check(text, NULL, why, sizeof why) != DL_OK) {
                number_reason(text, why, reason, sizeof reason);
                return attr_fail(r, a, DL_ERR_INVALID, "--set value: %s", reason);
            }
            a->val = wrap_str(r, VT_N, text, off);
        } else if (s->type == VT_BOOL) {
            int b = parse_bool(text);
            if (b < 0) {
                dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
                return attr_fail(r, a, DL_ERR_INVALID, "--set value '%s' is not a boolean (true, false, 1 or 0)", q);
            }
            a->val = wrap_bool(r, b == 1, off);
        } else {
            a->val = wrap_str(r, VT_S, text, off);
        }
        if (!a->val)
            return alloc_fail(r);
    }
    return DL_OK;
}

/* ---------------------------------------------------------------- step 6: --key-seq */

static enum dl_err apply_key_seq(struct run *r)
{
    const struct dl_transform *t = r->t;
    if (!t->has_seq || r->del || find(r, t->key_seq))
        return DL_OK;
    const struct dl_transform_ctx *c = r->ctx;
    char q[DL_ITEM_QUOTE_MAX + 8];
    dl_item_quote(q, sizeof q, t->key_seq, DL_ITEM_QUOTE_MAX);
    if (!c->next_seq)
        return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, 0, "--key-seq '%s': no sequence to take numbers from", q);
    uint64_t v = 0;
    enum dl_err e = c->next_seq(c->seq_ctx, &v);
    if (e)
        return dl_pos_err_set(r->why, e, 0, 0, 0, "--key-seq '%s': cannot take the next number: %s", q, dl_err_str(e));
    char num[24];
    int len = snprintf(num, sizeof num, "%" PRIu64, v);
    struct attr *a = append(r, t->key_seq, NULL);
    struct dl_cursor text = dup_bytes(r, num, (size_t)len);
    if (!a || !text.ptr || !(a->val = wrap_str(r, VT_N, text, off_of(r, a))))
        return alloc_fail(r);
    return DL_OK;
}

/* ---------------------------------------------------------------- step 7: keys, final item */

/* Key attributes take the schema's type as the builders convert them: S from a number's text,
 * N from a string holding a valid number, B from a string's bytes. Anything else is left for
 * dl_item_from_ddb_json to reject with its own reason. */
/* A key missing from a CSV row whose cell for it was empty: the column, so the reason can say
 * "is empty" there as the CSV builder does; 0 when the key is missing for another reason. */
static uint64_t empty_key_column(const struct run *r, struct dl_cursor key)
{
    const struct dl_transform *t = r->t;
    if (!r->ctx->csv || !r->ctx->columns)
        return 0;
    for (size_t j = 0; j < t->ndrops; j++)
        if (dl_cursor_eq(t->drops[j], key))
            return 0;
    struct dl_cursor src = key;
    for (size_t j = 0; j < t->nrenames; j++) {
        if (dl_cursor_eq(t->renames[j].to, key)) {
            src = t->renames[j].from;
            break;
        }
        if (dl_cursor_eq(t->renames[j].from, key))
            src = dl_cursor_of(NULL, 0); /* renamed away: unless another rename brings it back */
    }
    if (!src.ptr || (t->has_op && dl_cursor_eq(src, t->op_field)))
        return 0;
    for (size_t i = 0; i < r->nwire; i++)
        if (dl_cursor_eq(r->at[i].orig, src))
            return 0;
    return column_of_name(r, src);
}

static enum dl_err convert_keys(struct run *r)
{
    const struct dl_key_schema *ks = r->ks;
    for (int k = 0; ks && k < ks->n; k++) {
        struct dl_cursor key = dl_cursor_of(ks->k[k].name, ks->k[k].name_len);
        struct attr *a = find(r, key);
        if (!a) {
            uint64_t col = empty_key_column(r, key);
            if (col) {
                char kn[DL_ITEM_QUOTE_MAX + 8];
                dl_item_quote(kn, sizeof kn, key, DL_ITEM_QUOTE_MAX);
                return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col, "%s '%s' is empty",
                                      k == 0 ? "partition key" : "sort key", kn);
            }
            continue; /* the builder says "missing partition key ..." */
        }
        uint64_t off = off_of(r, a);
        if (a->inferred) { /* inference never changes a key: back to the cell's text */
            if (!(a->val = wrap_str(r, VT_S, a->cell, off)))
                return alloc_fail(r);
            a->inferred = false;
        }
        enum vt from = val_type(a->val);
        char want = ks->k[k].type;
        struct dl_json *v = NULL;
        if (want == 'S' && from == VT_N) {
            v = wrap_str(r, VT_S, a->val->child->str, off);
        } else if (want == 'N' && from == VT_S) {
            struct dl_cursor text = a->val->child->str;
            char kn[DL_ITEM_QUOTE_MAX + 8], why[200];
            struct dl_num_info ni;
            dl_item_quote(kn, sizeof kn, a->name, DL_ITEM_QUOTE_MAX);
            uint64_t col = column_of(r, a);
            if (text.len == 0)
                return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col, "%s '%s' is empty",
                                      k == 0 ? "partition key" : "sort key", kn);
            if (dl_num_check(text, &ni, why, sizeof why) != DL_OK) {
                if (ni.sig_digits > 0)
                    return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col, "key '%s': %s", kn, why);
                if (!has_digit(text)) {
                    char q[DL_ITEM_QUOTE_MAX + 8];
                    dl_item_quote(q, sizeof q, text, DL_ITEM_QUOTE_MAX);
                    return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col,
                                          "key '%s' must be a number (N) but is the string '%s'", kn, q);
                }
                return dl_pos_err_set(r->why, DL_ERR_INVALID, 0, 0, col, "key '%s' must be a number (N) but %s",
                                      kn, why);
            }
            v = wrap_str(r, VT_N, text, off);
        } else if (want == 'B' && from == VT_S) {
            struct dl_cursor text = a->val->child->str;
            dl_buf_reset(&r->tmp);
            enum dl_err e = dl_buf_append_base64(&r->tmp, text.ptr, text.len);
            if (e)
                return buf_fail(r, e);
            struct dl_cursor b64 = dup_bytes(r, r->tmp.data, r->tmp.len);
            if (!b64.ptr)
                return alloc_fail(r);
            v = wrap_str(r, VT_B, b64, off);
        } else {
            continue;
        }
        if (!v)
            return alloc_fail(r);
        a->val = v;
    }
    return DL_OK;
}

/* The attribute a builder error's offset points into: a node made here carries base + its
 * attribute's index; a node from the wire lies after its attribute's value offset. */
static const struct attr *attr_at(const struct run *r, uint64_t off)
{
    if (off >= r->base)
        return off - r->base < r->n ? &r->at[off - r->base] : NULL;
    const struct attr *hit = NULL;
    for (size_t i = 0; i < r->nwire; i++)
        if (r->at[i].wire_off <= off)
            hit = &r->at[i];
    return hit;
}

static enum dl_err build(struct run *r, struct dl_item *it)
{
    struct dl_json *obj = node(r, DL_JSON_OBJECT, UINT64_MAX); /* item-level errors map to no attribute */
    if (!obj)
        return alloc_fail(r);
    struct dl_json **tail = &obj->child;
    for (size_t i = 0; i < r->n; i++) {
        struct attr *a = &r->at[i];
        if (a->gone || (r->del && key_index(r->ks, a->name) < 0))
            continue;
        a->val->key = a->name;
        *tail = a->val;
        tail = &a->val->next;
        obj->n++;
    }
    *tail = NULL;
    enum dl_err e = dl_item_from_ddb_json(it, obj, r->ks, r->why);
    if (e && r->why) {
        const struct attr *a = attr_at(r, r->why->offset);
        r->why->column = a ? column_of(r, a) : 0;
        r->why->offset = 0;
    }
    return e;
}

enum dl_err dl_transform_apply(const struct dl_transform *t, struct dl_item *it, const struct dl_key_schema *ks,
                               const struct dl_transform_ctx *ctx, struct dl_pos_err *why)
{
    static const struct dl_transform_ctx no_ctx;
    static const struct dl_key_schema no_keys;
    struct dl_pos_err local;
    struct run r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.ctx = ctx ? ctx : &no_ctx;
    r.ks = ks ? ks : &no_keys;
    r.why = why ? why : &local;
    dl_pos_err_clear(r.why);
    dl_buf_init(&r.tmp, DL_ITEM_MAX_SIZE);
    /* the DOM of an item takes a few times its text; a cell holding JSON (L/M) a few more */
    r.arena_cap = 128 * it->wire.len + ((size_t)1 << 20);
    r.a = dl_arena_new(it->wire.len < 8192 ? 16384 : 2 * it->wire.len, r.arena_cap);
    enum dl_err e = DL_OK;
    if (!r.a) {
        e = dl_pos_err_set(r.why, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
        goto out;
    }
    if ((e = load(&r, it)))
        goto out;
    if (t->has_op && (e = read_op(&r)))
        goto out;
    final_names(&r);
    if (r.del) {
        if (r.ks->n == 0) {
            e = dl_pos_err_set(r.why, DL_ERR_INVALID, 0, 0, 0,
                               "the record is a Delete, which needs the table's key schema (none is known)");
            goto out;
        }
        for (size_t i = 0; i < r.n; i++) /* a Delete needs only the key */
            if (key_index(r.ks, r.at[i].final) < 0)
                r.at[i].gone = true;
    }
    if ((e = apply_types(&r)))
        goto out;
    apply_renames(&r);
    apply_drops(&r);
    if ((e = apply_sets(&r)) || (e = apply_key_seq(&r)) || (e = convert_keys(&r)))
        goto out;
    if ((e = build(&r, it)))
        goto out;
    it->del = r.del;
out:
    dl_arena_destroy(r.a);
    dl_buf_free(&r.tmp);
    return e;
}
