#include "decode/manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/arena.h"
#include "core/glob.h"
#include "core/json.h"

#define MAX_ENTRIES 1000000
#define KEY_NAME_MAX 255 /* DynamoDB: key attribute names are 1-255 bytes */

/* Spellings listed in messages (any spelling with the same letters also works). */
#define TABLE_SPELLINGS "table, tablename, table_name, tableName, TableName"
#define PK_SPELLINGS "partition_key, pk, hash_key, hashKey, partitionKey, PartitionKey"
#define SK_SPELLINGS "sort_key, sk, range_key, rangeKey, sortKey, SortKey"
#define FILE_SPELLINGS "file, filename, file_name, fileName, path"

struct priv {
    bool pattern;        /* file is a glob pattern */
    bool base_ambiguous; /* another literal entry has the same base name */
};

struct dl_manifest {
    struct dl_arena *arena;
    struct dl_manifest_entry *ents;
    struct priv *priv;
    size_t n, alloc;
    /* open addressing, values are entry index + 1 (0 = empty); size is a power of two */
    size_t *by_file, *by_base;
    size_t nslots;
};

/* ---- names: '\\' is '/', and a leading "./" or "/" is not part of the name ---- */

static const char *skip_lead(const char *s)
{
    for (;;) {
        if (s[0] == '/' || s[0] == '\\')
            s++;
        else if (s[0] == '.' && (s[1] == '/' || s[1] == '\\'))
            s += 2;
        else
            return s;
    }
}

static char fold_sep(char c)
{
    return c == '\\' ? '/' : c;
}

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (uint8_t)fold_sep(*s)) * 1099511628211ull;
    return h;
}

static bool same_name(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (fold_sep(*a) != fold_sep(*b))
            return false;
    return *a == *b;
}

static const char *base_of(const char *s)
{
    const char *b = s;
    for (; *s; s++)
        if (*s == '/' || *s == '\\')
            b = s + 1;
    return b;
}

/* ---- the two hash tables ---- */

static size_t *slot_find(size_t *tab, size_t nslots, const struct dl_manifest_entry *ents,
                         const char *key, bool base)
{
    size_t mask = nslots - 1;
    for (size_t i = (size_t)hash_name(key) & mask;; i = (i + 1) & mask) {
        if (tab[i] == 0)
            return &tab[i];
        const char *f = ents[tab[i] - 1].file;
        if (same_name(base ? base_of(f) : f, key))
            return &tab[i];
    }
}

static enum dl_err rehash(struct dl_manifest *m, size_t want)
{
    size_t ns = 64;
    while (ns < want * 2)
        ns *= 2;
    size_t *f = calloc(ns, sizeof *f), *b = calloc(ns, sizeof *b);
    if (!f || !b) {
        free(f);
        free(b);
        return DL_ERR_NOMEM;
    }
    free(m->by_file);
    free(m->by_base);
    m->by_file = f;
    m->by_base = b;
    m->nslots = ns;
    for (size_t i = 0; i < m->n; i++) {
        m->priv[i].base_ambiguous = false; /* set again below by a later namesake */
        *slot_find(f, ns, m->ents, m->ents[i].file, false) = i + 1;
        if (!m->priv[i].pattern) {
            size_t *s = slot_find(b, ns, m->ents, base_of(m->ents[i].file), true);
            if (*s)
                m->priv[*s - 1].base_ambiguous = m->priv[i].base_ambiguous = true;
            else
                *s = i + 1;
        }
    }
    return DL_OK;
}

enum dl_err dl_manifest_new(struct dl_manifest **out)
{
    struct dl_manifest *m = calloc(1, sizeof *m);
    if (m)
        m->arena = dl_arena_new(0, 0);
    if (!m || !m->arena || rehash(m, 0)) {
        dl_manifest_destroy(m);
        *out = NULL;
        return DL_ERR_NOMEM;
    }
    *out = m;
    return DL_OK;
}

void dl_manifest_destroy(struct dl_manifest *m)
{
    if (!m)
        return;
    dl_arena_destroy(m->arena);
    free(m->ents);
    free(m->priv);
    free(m->by_file);
    free(m->by_base);
    free(m);
}

size_t dl_manifest_count(const struct dl_manifest *m)
{
    return m ? m->n : 0;
}

const struct dl_manifest_entry *dl_manifest_get(const struct dl_manifest *m, size_t i)
{
    return m && i < m->n ? &m->ents[i] : NULL;
}

const char *dl_manifest_type_name(char type)
{
    return type == 'N' ? "N" : type == 'B' ? "B" : "S";
}

const struct dl_manifest_entry *dl_manifest_match(const struct dl_manifest *m, const char *name)
{
    if (!m || !name || m->n == 0)
        return NULL;
    name = skip_lead(name);
    size_t s = *slot_find(m->by_file, m->nslots, m->ents, name, false);
    if (s)
        return &m->ents[s - 1];
    for (size_t i = 0; i < m->n; i++)
        if (m->priv[i].pattern && dl_glob_match(m->ents[i].file, name))
            return &m->ents[i];
    s = *slot_find(m->by_base, m->nslots, m->ents, base_of(name), true);
    if (s && !m->priv[s - 1].base_ambiguous)
        return &m->ents[s - 1];
    return NULL;
}

/* ---- parsing ---- */

struct ctx {
    struct dl_manifest *m;
    const char *source; /* the manifest's name, for messages */
    const char *folder; /* its folder with a trailing '/', or "" */
    size_t folder_len;
    const uint8_t *p;
    size_t len;
    struct dl_pos_err *err;
};

static enum dl_err fail(struct ctx *c, const struct dl_json *at, const char *path,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum dl_err fail(struct ctx *c, const struct dl_json *at, const char *path,
                        const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    uint64_t off = at ? at->offset : 0, line = 0, col = 0;
    if (at && c->p)
        dl_json_line_col(c->p, (size_t)off, &line, &col);
    return dl_pos_err_set(c->err, DL_ERR_PARSE, off, line, col, "%s%s%s: %s", c->source,
                          path[0] ? " " : "", path, what);
}

/* Field paths for messages ("files[2].partition_key"): cut, never overflowing, when deep. */
static void pathf(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, n, fmt, ap);
    va_end(ap);
}

/* A JSON string or member name for a message: quoted, control bytes as '?', cut at 60 bytes. */
static const char *quoted(struct dl_cursor s, char buf[80])
{
    size_t j = 0;
    buf[j++] = '"';
    for (size_t i = 0; i < s.len && j < 64; i++)
        buf[j++] = s.ptr[i] < 0x20 ? '?' : (char)s.ptr[i];
    if (j >= 64 && s.len > 62) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j++] = '"';
    buf[j] = 0;
    return buf;
}

enum field {
    F_NONE,
    F_FILE,
    F_TABLE,
    F_PK,
    F_SK,
    F_KEYTYPES,
    F_KEYSCHEMA,
    F_ATTRDEFS,
    F_LIST,   /* files / tables / items (top level only) */
    F_NAME,   /* inside a key object */
    F_TYPE,   /* inside a key object */
    F_KEYTYPE /* inside a KeySchema element */
};

/* A member name with ASCII case, '_', '-' and ' ' dropped; false when too long to be ours. */
static bool norm(struct dl_cursor k, char out[40])
{
    size_t j = 0;
    for (size_t i = 0; i < k.len; i++) {
        uint8_t ch = k.ptr[i];
        if (ch == '_' || ch == '-' || ch == ' ')
            continue;
        if (j + 1 >= 40)
            return false;
        out[j++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    out[j] = 0;
    return true;
}

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return true;
    return false;
}

static enum field classify(struct dl_cursor key, bool top, bool keyobj)
{
    static const char *const file[] = { "file", "filename", "path", "datafile", NULL };
    static const char *const table[] = { "table", "tablename", NULL };
    static const char *const pk[] = { "partitionkey", "pk", "hashkey", NULL };
    static const char *const sk[] = { "sortkey", "sk", "rangekey", NULL };
    static const char *const list[] = { "files", "tables", "items", NULL };
    static const char *const name[] = { "name", "attributename", "attribute", "attr", NULL };
    static const char *const type[] = { "type", "attributetype", NULL };
    char n[40];
    if (!norm(key, n))
        return F_NONE;
    if (keyobj)
        return in_list(n, name) ? F_NAME : in_list(n, type) ? F_TYPE : F_NONE;
    if (top && in_list(n, list))
        return F_LIST;
    if (in_list(n, file))
        return F_FILE;
    if (in_list(n, table))
        return F_TABLE;
    if (in_list(n, pk))
        return F_PK;
    if (in_list(n, sk))
        return F_SK;
    if (strcmp(n, "keytypes") == 0)
        return F_KEYTYPES;
    if (strcmp(n, "keyschema") == 0)
        return F_KEYSCHEMA;
    if (strcmp(n, "attributedefinitions") == 0)
        return F_ATTRDEFS;
    return F_NONE;
}

#define NFIELDS 12

/* The members of obj that we know, one per field; two spellings of one field are an error. */
static enum dl_err collect(struct ctx *c, const struct dl_json *obj, const char *path, bool top,
                           bool keyobj, const struct dl_json *f[NFIELDS])
{
    memset(f, 0, NFIELDS * sizeof *f);
    for (const struct dl_json *m = obj->child; m; m = m->next) {
        enum field k = classify(m->key, top, keyobj);
        if (k == F_NONE)
            continue;
        if (f[k]) {
            char a[80], b[80];
            if (dl_cursor_eq(f[k]->key, m->key))
                return fail(c, m, path, "%s is given twice", quoted(m->key, a));
            return fail(c, m, path, "both %s and %s are given; keep one", quoted(f[k]->key, a),
                        quoted(m->key, b));
        }
        f[k] = m;
    }
    return DL_OK;
}

static void sub(char *out, size_t n, const char *path, struct dl_cursor member)
{
    pathf(out, n, "%s%s%.*s", path, path[0] ? "." : "", (int)(member.len > 60 ? 60 : member.len),
             (const char *)member.ptr);
}

/* "S" "N" "B" (any case) or string / number / binary */
static enum dl_err parse_type(struct ctx *c, const struct dl_json *v, const char *path, char *out)
{
    char buf[80];
    if (v->type != DL_JSON_STRING)
        return fail(c, v, path, "a key type must be a string \"S\", \"N\" or \"B\", not %s",
                    dl_json_type_name(v->type));
    struct dl_cursor s = v->str;
    char n[40];
    if (norm(s, n)) {
        if (!strcmp(n, "s") || !strcmp(n, "string")) {
            *out = 'S';
            return DL_OK;
        }
        if (!strcmp(n, "n") || !strcmp(n, "number")) {
            *out = 'N';
            return DL_OK;
        }
        if (!strcmp(n, "b") || !strcmp(n, "binary")) {
            *out = 'B';
            return DL_OK;
        }
    }
    return fail(c, v, path, "unknown key type %s (expected S, N or B)", quoted(s, buf));
}

struct key {
    struct dl_cursor name; /* len 0: none */
    const struct dl_json *at;
    char type;              /* 0 until known */
    const struct dl_json *type_at;
    char type_from[80];     /* where the type was given, for conflicts */
};

static enum dl_err set_type(struct ctx *c, struct key *k, char t, const struct dl_json *at,
                            const char *path)
{
    if (k->type && k->type != t) {
        char b[80];
        return fail(c, at, path, "%s is %s here but %s in %s", quoted(k->name, b),
                    dl_manifest_type_name(t), dl_manifest_type_name(k->type), k->type_from);
    }
    k->type = t;
    k->type_at = at;
    pathf(k->type_from, sizeof k->type_from, "%s", path);
    return DL_OK;
}

static enum dl_err check_attr_name(struct ctx *c, const struct dl_json *at, const char *path,
                                   struct dl_cursor name)
{
    if (name.len == 0)
        return fail(c, at, path, "the attribute name is empty");
    if (name.len > KEY_NAME_MAX)
        return fail(c, at, path,
                    "the attribute name is %zu bytes long (a key's name is at most %d)",
                    name.len, KEY_NAME_MAX);
    if (memchr(name.ptr, 0, name.len))
        return fail(c, at, path, "the attribute name contains a NUL character");
    return DL_OK;
}

/* A key given as a name or as {"name": ..., "type": ...}. A null, or an empty string for the
 * sort key, means "none". */
static enum dl_err parse_key(struct ctx *c, const struct dl_json *v, const char *path, bool sort,
                             struct key *k)
{
    enum dl_err rc;
    k->at = v;
    if (v->type == DL_JSON_NULL || (sort && v->type == DL_JSON_STRING && v->str.len == 0))
        return DL_OK;
    if (v->type == DL_JSON_STRING) {
        if ((rc = check_attr_name(c, v, path, v->str)))
            return rc;
        k->name = v->str;
        return DL_OK;
    }
    if (v->type != DL_JSON_OBJECT)
        return fail(c, v, path,
                    "expected an attribute name or an object {\"name\": ..., \"type\": ...}, "
                    "found %s",
                    dl_json_type_name(v->type));
    const struct dl_json *f[NFIELDS];
    if ((rc = collect(c, v, path, false, true, f)))
        return rc;
    char p2[200];
    if (!f[F_NAME])
        return fail(c, v, path, "no attribute name (expected name or AttributeName)");
    sub(p2, sizeof p2, path, f[F_NAME]->key);
    if (f[F_NAME]->type != DL_JSON_STRING)
        return fail(c, f[F_NAME], p2, "expected a string, found %s",
                    dl_json_type_name(f[F_NAME]->type));
    if ((rc = check_attr_name(c, f[F_NAME], p2, f[F_NAME]->str)))
        return rc;
    k->name = f[F_NAME]->str;
    if (f[F_TYPE]) {
        sub(p2, sizeof p2, path, f[F_TYPE]->key);
        char t;
        if ((rc = parse_type(c, f[F_TYPE], p2, &t)) || (rc = set_type(c, k, t, f[F_TYPE], p2)))
            return rc;
    }
    return DL_OK;
}

/* DynamoDB's CreateTable shape: KeySchema [{AttributeName, KeyType: HASH|RANGE}] */
static enum dl_err parse_key_schema(struct ctx *c, const struct dl_json *v, const char *path,
                                    struct key *pk, struct key *sk)
{
    enum dl_err rc;
    if (v->type != DL_JSON_ARRAY)
        return fail(c, v, path, "expected an array of {\"AttributeName\", \"KeyType\"}, found %s",
                    dl_json_type_name(v->type));
    size_t i = 0;
    for (const struct dl_json *e = v->child; e; e = e->next, i++) {
        char p2[200], p3[240], b[80];
        pathf(p2, sizeof p2, "%s[%zu]", path, i);
        if (e->type != DL_JSON_OBJECT)
            return fail(c, e, p2, "expected an object, found %s", dl_json_type_name(e->type));
        const struct dl_json *name = NULL, *kt = NULL;
        for (const struct dl_json *m = e->child; m; m = m->next) {
            char n[40];
            if (!norm(m->key, n))
                continue;
            if (!strcmp(n, "attributename") || !strcmp(n, "name"))
                name = m;
            else if (!strcmp(n, "keytype"))
                kt = m;
        }
        if (!name || name->type != DL_JSON_STRING)
            return fail(c, name ? name : e, p2, "no AttributeName string");
        if (!kt || kt->type != DL_JSON_STRING)
            return fail(c, kt ? kt : e, p2, "no KeyType string (HASH or RANGE)");
        pathf(p3, sizeof p3, "%s.AttributeName", p2);
        if ((rc = check_attr_name(c, name, p3, name->str)))
            return rc;
        struct key *k;
        if (kt->str.len == 4 && strncasecmp((const char *)kt->str.ptr, "HASH", 4) == 0)
            k = pk;
        else if (kt->str.len == 5 && strncasecmp((const char *)kt->str.ptr, "RANGE", 5) == 0)
            k = sk;
        else
            return fail(c, kt, p2, "KeyType is %s (expected HASH or RANGE)", quoted(kt->str, b));
        if (k->name.len)
            return fail(c, e, p2, "a second %s key", k == pk ? "HASH" : "RANGE");
        k->name = name->str;
        k->at = name;
    }
    return DL_OK;
}

/* key_types {"attr": "N"} (every member must name a key), or AttributeDefinitions
 * [{AttributeName, AttributeType}] (members naming other attributes, e.g. index keys, are
 * ignored). */
static enum dl_err apply_types(struct ctx *c, const struct dl_json *v, const char *path,
                               bool defs, struct key *pk, struct key *sk)
{
    enum dl_err rc;
    char p2[200], b[80];
    if (!defs) {
        if (v->type != DL_JSON_OBJECT)
            return fail(c, v, path, "expected an object {\"attribute\": \"S|N|B\"}, found %s",
                        dl_json_type_name(v->type));
        for (const struct dl_json *m = v->child; m; m = m->next) {
            sub(p2, sizeof p2, path, m->key);
            struct key *k = dl_cursor_eq(m->key, pk->name) ? pk
                            : sk->name.len && dl_cursor_eq(m->key, sk->name) ? sk
                                                                            : NULL;
            if (!k) {
                char kn[80], sn[80];
                return fail(c, m, path, "%s is not a key attribute (the keys are %s%s%s)",
                            quoted(m->key, b), quoted(pk->name, kn), sk->name.len ? " and " : "",
                            sk->name.len ? quoted(sk->name, sn) : "");
            }
            char t = 0; /* set by parse_type; GCC 12 -O3 cannot see it (maybe-uninitialized) */
            if ((rc = parse_type(c, m, p2, &t)) || (rc = set_type(c, k, t, m, p2)))
                return rc;
        }
        return DL_OK;
    }
    if (v->type != DL_JSON_ARRAY)
        return fail(c, v, path,
                    "expected an array of {\"AttributeName\", \"AttributeType\"}, found %s",
                    dl_json_type_name(v->type));
    size_t i = 0;
    for (const struct dl_json *e = v->child; e; e = e->next, i++) {
        pathf(p2, sizeof p2, "%s[%zu]", path, i);
        if (e->type != DL_JSON_OBJECT)
            return fail(c, e, p2, "expected an object, found %s", dl_json_type_name(e->type));
        const struct dl_json *f[NFIELDS];
        if ((rc = collect(c, e, p2, false, true, f)))
            return rc;
        if (!f[F_NAME] || f[F_NAME]->type != DL_JSON_STRING)
            return fail(c, f[F_NAME] ? f[F_NAME] : e, p2, "no AttributeName string");
        if (!f[F_TYPE])
            return fail(c, e, p2, "no AttributeType");
        struct key *k = dl_cursor_eq(f[F_NAME]->str, pk->name) ? pk
                        : sk->name.len && dl_cursor_eq(f[F_NAME]->str, sk->name) ? sk
                                                                                : NULL;
        if (!k)
            continue;
        char t, p3[240];
        pathf(p3, sizeof p3, "%s.AttributeType", p2);
        if ((rc = parse_type(c, f[F_TYPE], p3, &t)) || (rc = set_type(c, k, t, f[F_TYPE], p3)))
            return rc;
    }
    return DL_OK;
}

/* DynamoDB table names: 3-255 characters of a-z A-Z 0-9 _ . - */
static bool valid_table(struct dl_cursor s)
{
    if (s.len < 3 || s.len > 255)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        uint8_t ch = s.ptr[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '.' || ch == '-'))
            return false;
    }
    return true;
}

static char *arena_str(struct dl_arena *a, const void *p, size_t n)
{
    char *s = dl_arena_alloc(a, n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = 0;
    }
    return s;
}

/* A file as written in a manifest -> its path from the archive's root. In a manifest '\\' is
 * a path separator (Windows paths), never a glob escape; a name with * ? or [ is a pattern. */
static char *resolve_file(struct ctx *c, struct dl_cursor f, bool *pattern)
{
    struct dl_buf b;
    dl_buf_init(&b, 0);
    char *out = NULL;
    char *tmp = arena_str(c->m->arena, f.ptr, f.len);
    if (!tmp)
        goto out;
    for (char *q = tmp; *q; q++)
        if (*q == '\\')
            *q = '/';
    const char *rest = skip_lead(tmp);
    *pattern = dl_glob_is_pattern(rest) && dl_glob_check(rest, NULL, 0) == DL_OK;
    /* the manifest's folder, escaped when it is the prefix of a pattern */
    for (size_t k = 0; k < c->folder_len; k++) {
        char ch = fold_sep(c->folder[k]);
        if (*pattern && strchr("*?[\\", ch))
            dl_buf_append_byte(&b, '\\');
        dl_buf_append_byte(&b, (uint8_t)ch);
    }
    if (dl_buf_append_str(&b, rest) == DL_OK)
        out = arena_str(c->m->arena, b.data, b.len);
out:
    dl_buf_free(&b);
    return out;
}

/* at / at_path: the file's value, for messages; path: the entry's path, for its source. */
static enum dl_err add_entry(struct ctx *c, const struct dl_json *at, const char *at_path,
                             const char *path, const char *file, bool pattern,
                             struct dl_cursor table,
                             const struct key *pk, const struct key *sk)
{
    struct dl_manifest *m = c->m;
    size_t *s = slot_find(m->by_file, m->nslots, m->ents, file, false);
    if (*s) {
        char b[80];
        return fail(c, at, at_path, "%s is already described by %s",
                    quoted(dl_cursor_str(file), b), m->ents[*s - 1].source);
    }
    if (m->n >= MAX_ENTRIES)
        return dl_pos_err_set(c->err, DL_ERR_TOO_LARGE, 0, 0, 0,
                              "%s: more than %d files described", c->source, MAX_ENTRIES);
    if (m->n == m->alloc) {
        size_t na = m->alloc ? m->alloc * 2 : 16;
        struct dl_manifest_entry *e = realloc(m->ents, na * sizeof *e);
        if (e)
            m->ents = e;
        struct priv *p = realloc(m->priv, na * sizeof *p);
        if (p)
            m->priv = p;
        if (!e || !p)
            goto nomem;
        m->alloc = na;
    }
    struct dl_manifest_entry *e = &m->ents[m->n];
    memset(e, 0, sizeof *e);
    char src[300];
    pathf(src, sizeof src, "%s%s%s", c->source, path[0] ? " " : "", path);
    e->file = file;
    e->table = arena_str(m->arena, table.ptr, table.len);
    e->pk.name = arena_str(m->arena, pk->name.ptr, pk->name.len);
    e->pk.type = pk->type ? pk->type : 'S';
    if (sk->name.len) {
        e->sk.name = arena_str(m->arena, sk->name.ptr, sk->name.len);
        e->sk.type = sk->type ? sk->type : 'S';
    }
    e->source = arena_str(m->arena, src, strlen(src));
    if (!e->table || !e->pk.name || (sk->name.len && !e->sk.name) || !e->source)
        goto nomem;
    m->priv[m->n].pattern = pattern;
    m->priv[m->n].base_ambiguous = false;
    m->n++;
    if (m->n * 2 > m->nslots) {
        if (rehash(m, m->n)) {
            m->n--;
            goto nomem;
        }
        return DL_OK;
    }
    *s = m->n;
    if (!pattern) {
        size_t *bs = slot_find(m->by_base, m->nslots, m->ents, base_of(file), true);
        if (*bs)
            m->priv[*bs - 1].base_ambiguous = m->priv[m->n - 1].base_ambiguous = true;
        else
            *bs = m->n;
    }
    return DL_OK;
nomem:
    return dl_pos_err_set(c->err, DL_ERR_NOMEM, 0, 0, 0, "%s: out of memory", c->source);
}

/* One entry object. data_file: the file it describes (sidecars), else NULL and the object (or,
 * in the keyed form, map_key) names it. */
static enum dl_err parse_entry(struct ctx *c, const struct dl_json *obj, const char *path,
                               const char *data_file, const struct dl_json *map_key)
{
    enum dl_err rc;
    char b[80], p2[200];
    if (obj->type != DL_JSON_OBJECT)
        return fail(c, obj, path, "expected an object describing a file, found %s",
                    dl_json_type_name(obj->type));
    const struct dl_json *f[NFIELDS];
    if ((rc = collect(c, obj, path, false, false, f)))
        return rc;

    /* which file */
    struct dl_cursor file = { 0 };
    const struct dl_json *file_at = obj;
    char file_path[200];
    pathf(file_path, sizeof file_path, "%s", path);
    if (f[F_FILE]) {
        sub(p2, sizeof p2, path, f[F_FILE]->key);
        pathf(file_path, sizeof file_path, "%s", p2);
        if (f[F_FILE]->type != DL_JSON_STRING)
            return fail(c, f[F_FILE], p2, "expected a path string, found %s",
                        dl_json_type_name(f[F_FILE]->type));
        file = f[F_FILE]->str;
        file_at = f[F_FILE];
        if (file.len == 0 || memchr(file.ptr, 0, file.len))
            return fail(c, f[F_FILE], p2, "the file name is empty or holds a NUL character");
        if (file.ptr[file.len - 1] == '/' || file.ptr[file.len - 1] == '\\')
            return fail(c, f[F_FILE], p2,
                        "%s is a folder; name a file, or a pattern such as \"%.*s*.csv\"",
                        quoted(file, b), (int)(file.len > 60 ? 60 : file.len),
                        (const char *)file.ptr);
    }
    if (data_file) {
        if (file.len) {
            struct dl_cursor want = dl_cursor_str(data_file);
            struct dl_cursor wbase = dl_cursor_str(base_of(data_file));
            if (!dl_cursor_eq(file, want) && !dl_cursor_eq(file, wbase))
                return fail(c, f[F_FILE], p2, "names %s, but this sidecar sits beside %s",
                            quoted(file, b), data_file);
        }
    } else if (map_key) {
        char b2[80];
        if (file.len && !dl_cursor_eq(file, map_key->key))
            return fail(c, f[F_FILE], p2, "names %s, but the entry is listed under %s",
                        quoted(file, b), quoted(map_key->key, b2));
        file = map_key->key;
        file_at = obj;
        if (file.len == 0 || memchr(file.ptr, 0, file.len))
            return fail(c, obj, path, "the file name is empty or holds a NUL character");
    } else if (!file.len) {
        return fail(c, obj, path, "no file name (expected one of " FILE_SPELLINGS ")");
    }

    /* table */
    if (!f[F_TABLE])
        return fail(c, obj, path, "no table name (expected one of " TABLE_SPELLINGS ")");
    sub(p2, sizeof p2, path, f[F_TABLE]->key);
    if (f[F_TABLE]->type != DL_JSON_STRING)
        return fail(c, f[F_TABLE], p2, "expected a table name string, found %s",
                    dl_json_type_name(f[F_TABLE]->type));
    struct dl_cursor table = f[F_TABLE]->str;
    if (!valid_table(table))
        return fail(c, f[F_TABLE], p2,
                    "%s is not a valid DynamoDB table name (3 to 255 characters among a-z A-Z "
                    "0-9 _ . -)",
                    quoted(table, b));

    /* keys */
    struct key pk, sk;
    memset(&pk, 0, sizeof pk);
    memset(&sk, 0, sizeof sk);
    if (f[F_KEYSCHEMA] && (f[F_PK] || f[F_SK])) {
        char a2[80];
        return fail(c, f[F_KEYSCHEMA], path, "both %s and %s are given; keep one",
                    quoted((f[F_PK] ? f[F_PK] : f[F_SK])->key, a2), quoted(f[F_KEYSCHEMA]->key, b));
    }
    if (f[F_KEYSCHEMA]) {
        sub(p2, sizeof p2, path, f[F_KEYSCHEMA]->key);
        if ((rc = parse_key_schema(c, f[F_KEYSCHEMA], p2, &pk, &sk)))
            return rc;
        if (!pk.name.len)
            return fail(c, f[F_KEYSCHEMA], p2, "no HASH key");
    } else {
        if (!f[F_PK])
            return fail(c, obj, path, "no partition key (expected one of " PK_SPELLINGS ")");
        sub(p2, sizeof p2, path, f[F_PK]->key);
        if ((rc = parse_key(c, f[F_PK], p2, false, &pk)))
            return rc;
        if (!pk.name.len)
            return fail(c, f[F_PK], p2, "no partition key name");
        if (f[F_SK]) {
            sub(p2, sizeof p2, path, f[F_SK]->key);
            if ((rc = parse_key(c, f[F_SK], p2, true, &sk)))
                return rc;
        }
    }
    if (sk.name.len && dl_cursor_eq(pk.name, sk.name))
        return fail(c, sk.at, path, "the partition key and the sort key are both %s",
                    quoted(pk.name, b));
    if (f[F_KEYTYPES]) {
        sub(p2, sizeof p2, path, f[F_KEYTYPES]->key);
        if ((rc = apply_types(c, f[F_KEYTYPES], p2, false, &pk, &sk)))
            return rc;
    }
    if (f[F_ATTRDEFS]) {
        sub(p2, sizeof p2, path, f[F_ATTRDEFS]->key);
        if ((rc = apply_types(c, f[F_ATTRDEFS], p2, true, &pk, &sk)))
            return rc;
    }

    const char *resolved;
    bool pattern = false;
    if (data_file)
        resolved = arena_str(c->m->arena, skip_lead(data_file), strlen(skip_lead(data_file)));
    else
        resolved = resolve_file(c, file, &pattern);
    if (!resolved)
        return dl_pos_err_set(c->err, DL_ERR_NOMEM, 0, 0, 0, "%s: out of memory", c->source);
    return add_entry(c, file_at, file_path, path, resolved, pattern, table, &pk, &sk);
}

static void ctx_init(struct ctx *c, struct dl_manifest *m, const char *name, const uint8_t *p,
                     size_t len, struct dl_pos_err *err)
{
    c->m = m;
    c->source = name && *name ? name : "manifest";
    const char *b = base_of(c->source);
    c->folder = skip_lead(c->source);
    c->folder_len = b > c->folder ? (size_t)(b - c->folder) : 0;
    c->p = p;
    c->len = len;
    c->err = err;
}

/* Undo the entries added since `from` (a failed parse adds nothing). */
static void truncate_to(struct dl_manifest *m, size_t from)
{
    if (m->n == from)
        return;
    m->n = from;
    if (rehash(m, m->n)) {
        /* cannot rebuild the index: leave the manifest empty rather than inconsistent */
        m->n = 0;
        memset(m->by_file, 0, m->nslots * sizeof *m->by_file);
        memset(m->by_base, 0, m->nslots * sizeof *m->by_base);
    }
}

static enum dl_err parse_doc(struct ctx *c, struct dl_arena *a, struct dl_json **root)
{
    struct dl_pos_err je;
    dl_pos_err_clear(&je);
    enum dl_err rc = dl_json_parse_doc(a, c->p, c->len, root, &je);
    if (rc)
        dl_pos_err_set(c->err, rc, je.offset, je.line, je.column, "%s: %s", c->source, je.msg);
    return rc;
}

enum dl_err dl_manifest_parse(struct dl_manifest *m, const char *name, const uint8_t *p,
                              size_t len, struct dl_pos_err *err)
{
    enum dl_err rc = DL_OK;
    struct dl_pos_err dummy;
    if (!err)
        err = &dummy;
    dl_pos_err_clear(err);
    if (!m || (!p && len))
        return dl_pos_err_set(err, DL_ERR_INVALID, 0, 0, 0, "dl_manifest_parse: invalid argument");
    struct ctx c;
    ctx_init(&c, m, name, p, len, err);
    size_t from = m->n;
    struct dl_arena *a = dl_arena_new(0, 0);
    struct dl_json *root = NULL;
    if (!a) {
        rc = dl_pos_err_set(err, DL_ERR_NOMEM, 0, 0, 0, "%s: out of memory", c.source);
        goto out;
    }
    if ((rc = parse_doc(&c, a, &root)))
        goto out;

    const struct dl_json *list = root;
    char path[200] = "";
    if (root->type == DL_JSON_OBJECT) {
        const struct dl_json *f[NFIELDS];
        if ((rc = collect(&c, root, "", true, false, f)))
            goto out;
        if (f[F_LIST]) {
            list = f[F_LIST];
            pathf(path, sizeof path, "%.*s", (int)(list->key.len > 60 ? 60 : list->key.len),
                     (const char *)list->key.ptr);
        } else if (f[F_FILE] || f[F_TABLE]) {
            rc = parse_entry(&c, root, "", NULL, NULL); /* one file, described at the top */
            goto out;
        } else {
            rc = fail(&c, root, "",
                      "no list of files (expected \"files\", \"tables\" or \"items\" holding an "
                      "array, or a top-level array)");
            goto out;
        }
    } else if (root->type != DL_JSON_ARRAY) {
        rc = fail(&c, root, "",
                  "expected an object with a \"files\" array, or an array, found %s",
                  dl_json_type_name(root->type));
        goto out;
    }

    if (list->type == DL_JSON_ARRAY) {
        size_t i = 0;
        for (const struct dl_json *e = list->child; e; e = e->next, i++) {
            char ep[220];
            pathf(ep, sizeof ep, "%s[%zu]", path, i);
            if ((rc = parse_entry(&c, e, ep, NULL, NULL)))
                goto out;
        }
    } else if (list->type == DL_JSON_OBJECT && list != root) {
        for (const struct dl_json *e = list->child; e; e = e->next) {
            char ep[220], b[80];
            pathf(ep, sizeof ep, "%s[%s]", path, quoted(e->key, b));
            if ((rc = parse_entry(&c, e, ep, NULL, e)))
                goto out;
        }
    } else {
        rc = fail(&c, list, path, "expected an array of files, found %s",
                  dl_json_type_name(list->type));
    }

out:
    if (rc)
        truncate_to(m, from);
    dl_arena_destroy(a);
    return rc;
}

/* A sidecar is an object holding a table and a partition key, in any spelling. */
static bool looks_like_sidecar(const struct dl_json *root)
{
    if (!root || root->type != DL_JSON_OBJECT)
        return false;
    bool table = false, key = false;
    for (const struct dl_json *m = root->child; m; m = m->next) {
        enum field k = classify(m->key, false, false);
        table |= k == F_TABLE;
        key |= k == F_PK || k == F_KEYSCHEMA;
    }
    return table && key;
}

enum dl_err dl_manifest_parse_sidecar(struct dl_manifest *m, const char *name,
                                      const char *data_file, const uint8_t *p, size_t len,
                                      bool *is_sidecar, struct dl_pos_err *err)
{
    enum dl_err rc = DL_OK;
    struct dl_pos_err dummy;
    if (!err)
        err = &dummy;
    dl_pos_err_clear(err);
    *is_sidecar = false;
    if (!m || !data_file || !*data_file || (!p && len))
        return dl_pos_err_set(err, DL_ERR_INVALID, 0, 0, 0,
                              "dl_manifest_parse_sidecar: invalid argument");
    struct ctx c;
    ctx_init(&c, m, name, p, len, err);
    c.folder = "";
    c.folder_len = 0;
    struct dl_arena *a = dl_arena_new(0, 0);
    struct dl_json *root = NULL;
    if (!a) {
        rc = dl_pos_err_set(err, DL_ERR_NOMEM, 0, 0, 0, "%s: out of memory", c.source);
        goto out;
    }
    if (parse_doc(&c, a, &root) != DL_OK || !looks_like_sidecar(root)) {
        dl_pos_err_clear(err); /* not JSON, or not ours: data */
        goto out;
    }
    *is_sidecar = true;
    size_t from = m->n;
    rc = parse_entry(&c, root, "", data_file, NULL);
    if (rc)
        truncate_to(m, from);
out:
    dl_arena_destroy(a);
    return rc;
}

/* ---- finding the manifest and the sidecars in a list of names ---- */

ptrdiff_t dl_manifest_find(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && strcasecmp(skip_lead(names[i]), "manifest.json") == 0)
            return (ptrdiff_t)i;
    /* everything under one top-level folder D/: look for D/manifest.json */
    const char *top = NULL;
    size_t toplen = 0;
    for (size_t i = 0; i < n; i++) {
        if (!names[i])
            continue;
        const char *s = skip_lead(names[i]);
        size_t l = strcspn(s, "/\\");
        if (s[l] == 0)
            return -1; /* a file at the root */
        if (!top) {
            top = s;
            toplen = l;
        } else if (l != toplen || memcmp(s, top, l) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; top && i < n; i++) {
        if (!names[i])
            continue;
        const char *s = skip_lead(names[i]);
        if (strcasecmp(s + toplen + 1, "manifest.json") == 0)
            return (ptrdiff_t)i;
    }
    return -1;
}

static bool ends_ci(const char *s, size_t n, const char *suf)
{
    size_t l = strlen(suf);
    return n >= l && strncasecmp(s + n - l, suf, l) == 0;
}

static bool is_json_name(const char *s)
{
    size_t n = strlen(s);
    return n > 5 && ends_ci(s, n, ".json") && s[n - 6] != '/' && s[n - 6] != '\\';
}

/* For qsort/bsearch: the .json names by their stem (the name without ".json"). */
struct stem {
    const char *s;
    size_t len;
    size_t idx;
};

static int stem_cmp(const void *a, const void *b)
{
    const struct stem *x = a, *y = b;
    size_t l = x->len < y->len ? x->len : y->len;
    for (size_t i = 0; i < l; i++) {
        char cx = fold_sep(x->s[i]), cy = fold_sep(y->s[i]);
        if (cx != cy)
            return (unsigned char)cx < (unsigned char)cy ? -1 : 1;
    }
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx; /* the first listed wins among equals */
}

static int stem_key_cmp(const void *k, const void *e)
{
    struct stem key = *(const struct stem *)k;
    key.idx = 0;
    struct stem el = *(const struct stem *)e;
    el.idx = 0;
    return stem_cmp(&key, &el);
}

enum dl_err dl_manifest_sidecars(const char *const *names, size_t n, ptrdiff_t *sidecar_of)
{
    size_t nj = 0;
    for (size_t i = 0; i < n; i++) {
        sidecar_of[i] = -1;
        nj += names[i] && is_json_name(names[i]);
    }
    if (nj == 0)
        return DL_OK;
    struct stem *js = malloc(nj * sizeof *js);
    if (!js)
        return DL_ERR_NOMEM;
    nj = 0;
    for (size_t i = 0; i < n; i++)
        if (names[i] && is_json_name(names[i]))
            js[nj++] = (struct stem){ names[i], strlen(names[i]) - 5, i };
    qsort(js, nj, sizeof *js, stem_cmp);

    for (size_t i = 0; i < n; i++) {
        const char *d = names[i];
        if (!d || is_json_name(d))
            continue;
        size_t dl = strlen(d), base = (size_t)(base_of(d) - d);
        if (dl == base)
            continue; /* a folder */
        /* candidate stems, most specific first: the whole name, without a compression
         * extension, then without its format extension too */
        size_t cand[3], nc = 0;
        cand[nc++] = dl;
        size_t inner = dl;
        static const char *const comp[] = { ".gz", ".gzip", ".zst", ".zstd" };
        for (size_t k = 0; k < 4; k++)
            if (ends_ci(d, dl, comp[k]) && dl - strlen(comp[k]) > base) {
                inner = dl - strlen(comp[k]);
                cand[nc++] = inner;
                break;
            }
        for (size_t k = inner; k > base + 1; k--)
            if (d[k - 1] == '.') {
                cand[nc++] = k - 1;
                break;
            }
        for (size_t k = 0; k < nc; k++) {
            struct stem key = { d, cand[k], 0 };
            const struct stem *hit = bsearch(&key, js, nj, sizeof *js, stem_key_cmp);
            if (hit) {
                /* bsearch may land on any of several equal stems: take the first listed */
                while (hit > js && stem_key_cmp(&key, hit - 1) == 0)
                    hit--;
                sidecar_of[i] = (ptrdiff_t)hit->idx;
                break;
            }
        }
    }
    free(js);
    return DL_OK;
}

/* ---- all of it for one archive ---- */

enum dl_err dl_manifest_scan(struct dl_manifest *m, const char *const *names, size_t n,
                             dl_manifest_read_fn read, void *ctx, enum dl_manifest_role *roles,
                             struct dl_pos_err *err)
{
    enum dl_err rc = DL_OK;
    struct dl_pos_err dummy;
    if (!err)
        err = &dummy;
    dl_pos_err_clear(err);
    ptrdiff_t *side = NULL;
    uint8_t *done = NULL;
    struct dl_buf buf;
    dl_buf_init(&buf, DL_MANIFEST_MAX_SIZE);
    char rerr[256] = "";
    if (!m || (!names && n) || !read || (!roles && n))
        return dl_pos_err_set(err, DL_ERR_INVALID, 0, 0, 0, "dl_manifest_scan: invalid argument");
    for (size_t i = 0; i < n; i++)
        roles[i] = DL_MANIFEST_ROLE_DATA;
    size_t first = m->n;

    ptrdiff_t mi = dl_manifest_find(names, n);
    if (mi >= 0) {
        roles[mi] = DL_MANIFEST_ROLE_MANIFEST;
        rc = read(ctx, (size_t)mi, &buf, rerr, sizeof rerr);
        if (rc == DL_ERR_TOO_LARGE) {
            rc = dl_pos_err_set(err, rc, 0, 0, 0, "%s is larger than %zu MiB: %s", names[mi],
                                DL_MANIFEST_MAX_SIZE >> 20, rerr);
            goto out;
        }
        if (rc) {
            rc = dl_pos_err_set(err, rc, 0, 0, 0, "reading %s: %s", names[mi], rerr);
            goto out;
        }
        if ((rc = dl_manifest_parse(m, names[mi], buf.data, buf.len, err)))
            goto out;
    }
    size_t from_manifest = m->n;

    side = malloc((n ? n : 1) * sizeof *side);
    done = calloc(n ? n : 1, 1);
    if (!side || !done || dl_manifest_sidecars(names, n, side)) {
        rc = dl_pos_err_set(err, DL_ERR_NOMEM, 0, 0, 0, "out of memory");
        goto out;
    }
    buf.cap = DL_MANIFEST_SIDECAR_MAX;
    for (size_t i = 0; i < n; i++) {
        if (side[i] < 0 || (ptrdiff_t)i == mi)
            continue;
        size_t s = (size_t)side[i];
        if ((ptrdiff_t)s == mi || done[s] == 2)
            continue; /* the manifest itself, or already known to be data */
        /* a .json that the manifest file lists (by name or by pattern) is data */
        const struct dl_manifest_entry *listed = dl_manifest_match(m, names[s]);
        if (listed && (size_t)(listed - m->ents) >= first &&
            (size_t)(listed - m->ents) < from_manifest) {
            done[s] = 2;
            continue;
        }
        if (done[s] == 0) {
            rc = read(ctx, s, &buf, rerr, sizeof rerr);
            if (rc == DL_ERR_TOO_LARGE) {
                done[s] = 2; /* far too big for a sidecar: data */
                rc = DL_OK;
                continue;
            }
            if (rc) {
                rc = dl_pos_err_set(err, rc, 0, 0, 0, "reading %s: %s", names[s], rerr);
                goto out;
            }
            done[s] = 1;
        } else {
            /* a second data file beside the same sidecar: read it again */
            rc = read(ctx, s, &buf, rerr, sizeof rerr);
            if (rc) {
                rc = dl_pos_err_set(err, rc, 0, 0, 0, "reading %s: %s", names[s], rerr);
                goto out;
            }
        }
        bool is = false;
        rc = dl_manifest_parse_sidecar(m, names[s], names[i], buf.data, buf.len, &is, err);
        if (rc)
            goto out;
        if (is)
            roles[s] = DL_MANIFEST_ROLE_SIDECAR;
        else
            done[s] = 2;
    }

out:
    if (rc)
        truncate_to(m, first);
    free(side);
    free(done);
    dl_buf_free(&buf);
    return rc;
}
