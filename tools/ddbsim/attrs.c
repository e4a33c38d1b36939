/* AttributeValue validation, DynamoDB item sizes and canonical keys.
 *
 * Messages are DynamoDB's own texts (as captured by dynalite and other emulators against
 * the real service), since clients and the pump's tests match on them. Sizes follow AWS's
 * "Item sizes and formats": names and values in UTF-8 bytes, binary decoded, numbers one
 * byte per two significant digits plus one (src/item/number.c does the arithmetic),
 * BOOL/NULL one byte, lists and maps 3 bytes plus 1 per element. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "item/number.h"
#include "sim.h"

void sim_fail_set(struct sim_fail *f, enum sim_fail_kind kind, const char *fmt, ...)
{
    va_list ap;
    f->kind = kind;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
}

uint64_t sim_hash(const uint8_t *p, size_t n)
{
    /* FNV-1a with a final avalanche: keys are short, this is plenty. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* Index of the quote closing the string whose content starts at p[i] (len if none). A quote
 * is escaped when an odd run of backslashes precedes it; memchr jumps over the long string
 * values most items are made of, byte by byte this was ddbsim's top cost. */
static size_t string_close(const uint8_t *p, size_t len, size_t i)
{
    while (i < len) {
        const uint8_t *q = memchr(p + i, '"', len - i);
        if (!q)
            return len;
        size_t j = (size_t)(q - p), bs = 0;
        while (j - bs > i && p[j - bs - 1] == '\\')
            bs++;
        if ((bs & 1) == 0)
            return j;
        i = j + 1;
    }
    return len;
}

size_t sim_json_end(const uint8_t *p, size_t len, size_t i)
{
    /* The value was validated by the parser: only strings and nesting need care. */
    int depth = 0;
    while (i < len) {
        uint8_t c = p[i];
        if (c == '"') {
            i = string_close(p, len, i + 1) + 1;
            if (depth == 0)
                return i;
            continue;
        }
        if (depth == 0 && (c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' ||
                           c == '\n' || c == '\r' || c == ':'))
            return i; /* end of a scalar (number or literal) */
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
        i++;
    }
    return i;
}

/* DynamoDB's (Jackson's) wording when a JSON value has the wrong type for a String field. */
static void not_string(struct sim_fail *f, const struct dl_json *v)
{
    switch (v->type) {
    case DL_JSON_TRUE: sim_fail_set(f, FAIL_SERIALIZATION, "TRUE_VALUE cannot be converted to String"); break;
    case DL_JSON_FALSE: sim_fail_set(f, FAIL_SERIALIZATION, "FALSE_VALUE cannot be converted to String"); break;
    case DL_JSON_NUMBER:
        sim_fail_set(f, FAIL_SERIALIZATION, "%s cannot be converted to String",
                     memchr(v->str.ptr, '.', v->str.len) ? "DECIMAL_VALUE" : "NUMBER_VALUE");
        break;
    case DL_JSON_ARRAY: sim_fail_set(f, FAIL_SERIALIZATION, "Unrecognized collection type class java.lang.String"); break;
    case DL_JSON_OBJECT: sim_fail_set(f, FAIL_SERIALIZATION, "Start of structure or map found where not expected"); break;
    default: sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected token received from parser"); break;
    }
}

static bool check_number(struct dl_cursor text, size_t *size, struct dl_num_info *info,
                         struct sim_fail *f)
{
    struct dl_num_info tmp;
    struct dl_num_info *n = info ? info : &tmp;
    if (dl_num_check(text, n, NULL, 0) == DL_OK) {
        *size = dl_num_size(n);
        return true;
    }
    if (n->sig_digits > DL_NUM_MAX_DIGITS)
        sim_fail_set(f, FAIL_VALIDATION, "Attempting to store more than 38 significant digits in a Number");
    else if (n->sig_digits > 0 && n->sci_exp > DL_NUM_MAX_EXP)
        sim_fail_set(f, FAIL_VALIDATION, "Number overflow. Attempting to store a number with magnitude larger than supported range");
    else if (n->sig_digits > 0 && n->sci_exp < DL_NUM_MIN_EXP)
        sim_fail_set(f, FAIL_VALIDATION, "Number underflow. Attempting to store a number with magnitude smaller than supported range");
    else if (text.len == 0)
        sim_fail_set(f, FAIL_VALIDATION, "The parameter cannot be converted to a numeric value");
    else
        sim_fail_set(f, FAIL_VALIDATION, "The parameter cannot be converted to a numeric value: %.*s",
                     (int)(text.len > 200 ? 200 : text.len), (const char *)text.ptr);
    return false;
}

static int b64v(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decoded length of base64 text, or false if it is not base64. */
static bool b64_len(struct dl_cursor s, size_t *out)
{
    size_t n = s.len;
    size_t pad = 0;
    while (n > 0 && s.ptr[n - 1] == '=' && pad < 2) {
        n--;
        pad++;
    }
    for (size_t i = 0; i < n; i++)
        if (b64v(s.ptr[i]) < 0)
            return false;
    if (n % 4 == 1 || (pad && s.len % 4))
        return false;
    *out = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    return true;
}

static int cmp_cursor(const void *a, const void *b)
{
    const struct dl_cursor *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = n ? memcmp(x->ptr, y->ptr, n) : 0;
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* true if the set's members (already canonical where needed) hold a duplicate. */
static bool has_dup(struct dl_cursor *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_cursor);
    for (size_t i = 1; i < n; i++)
        if (cmp_cursor(&v[i - 1], &v[i]) == 0)
            return true;
    return false;
}

static bool set_size(const struct dl_json *arr, char type, size_t *size, struct dl_arena *a,
                     struct sim_fail *f)
{
    if (arr->type != DL_JSON_ARRAY) {
        if (arr->type == DL_JSON_OBJECT)
            sim_fail_set(f, FAIL_SERIALIZATION, "Start of structure or map found where not expected");
        else
            sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return false;
    }
    if (arr->n == 0) {
        if (type == 'S')
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: An string set  may not be empty");
        else if (type == 'N')
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: An number set  may not be empty");
        else
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Binary sets should not be empty");
        return false;
    }
    struct dl_cursor *vals = dl_arena_alloc(a, arr->n * sizeof *vals);
    if (!vals) {
        sim_fail_set(f, FAIL_VALIDATION, "Request too large");
        return false;
    }
    size_t total = 0, i = 0;
    for (const struct dl_json *v = arr->child; v; v = v->next, i++) {
        if (v->type != DL_JSON_STRING) {
            not_string(f, v);
            return false;
        }
        size_t s = 0;
        if (type == 'S') {
            s = v->str.len;
            vals[i] = v->str;
        } else if (type == 'N') {
            struct dl_num_info info;
            if (!check_number(v->str, &s, &info, f))
                return false;
            char *c = dl_arena_alloc(a, DL_NUM_CANON_MAX);
            if (!c) {
                sim_fail_set(f, FAIL_VALIDATION, "Request too large");
                return false;
            }
            vals[i] = dl_cursor_of(c, dl_num_format_canonical(&info, c));
        } else {
            if (!b64_len(v->str, &s)) {
                sim_fail_set(f, FAIL_SERIALIZATION, "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", v->str.len);
                return false;
            }
            vals[i] = v->str;
        }
        total += s;
    }
    if (has_dup(vals, arr->n)) {
        if (type == 'N')
            sim_fail_set(f, FAIL_VALIDATION, "Input collection contains duplicates");
        else if (type == 'S')
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Input collection contains duplicates.");
        else
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Input collection of type BS contains duplicates.");
        return false;
    }
    *size = total;
    return true;
}

static bool value_size(const struct dl_json *av, int depth, size_t *size, struct dl_arena *a,
                       struct sim_fail *f);

static bool map_size(const struct dl_json *obj, int depth, size_t *size, struct dl_arena *a,
                     struct sim_fail *f, bool top)
{
    size_t total = 0;
    for (const struct dl_json *m = obj->child; m; m = m->next) {
        size_t s = 0;
        if (!value_size(m, depth, &s, a, f))
            return false;
        total += m->key.len + s + (top ? 0 : 1);
    }
    *size = total;
    return true;
}

static bool value_size(const struct dl_json *av, int depth, size_t *size, struct dl_arena *a,
                       struct sim_fail *f)
{
    if (av->type != DL_JSON_OBJECT) {
        if (av->type == DL_JSON_ARRAY)
            sim_fail_set(f, FAIL_SERIALIZATION, "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue");
        else
            sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return false;
    }
    if (av->n == 0) {
        sim_fail_set(f, FAIL_VALIDATION, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
        return false;
    }
    if (av->n > 1) {
        sim_fail_set(f, FAIL_VALIDATION, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
        return false;
    }
    const struct dl_json *v = av->child;
    struct dl_cursor t = v->key;
    if (dl_cursor_eq_str(t, "S")) {
        if (v->type != DL_JSON_STRING) {
            not_string(f, v);
            return false;
        }
        *size = v->str.len;
        return true;
    }
    if (dl_cursor_eq_str(t, "N")) {
        if (v->type != DL_JSON_STRING) {
            not_string(f, v);
            return false;
        }
        return check_number(v->str, size, NULL, f);
    }
    if (dl_cursor_eq_str(t, "B")) {
        if (v->type != DL_JSON_STRING) {
            not_string(f, v);
            return false;
        }
        if (!b64_len(v->str, size)) {
            sim_fail_set(f, FAIL_SERIALIZATION, "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", v->str.len);
            return false;
        }
        return true;
    }
    if (dl_cursor_eq_str(t, "BOOL")) {
        if (v->type != DL_JSON_TRUE && v->type != DL_JSON_FALSE) {
            sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected token received from parser");
            return false;
        }
        *size = 1;
        return true;
    }
    if (dl_cursor_eq_str(t, "NULL")) {
        if (v->type == DL_JSON_FALSE) {
            sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Null attribute value types must have the value of true");
            return false;
        }
        if (v->type != DL_JSON_TRUE) {
            sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected token received from parser");
            return false;
        }
        *size = 1;
        return true;
    }
    if (dl_cursor_eq_str(t, "SS"))
        return set_size(v, 'S', size, a, f);
    if (dl_cursor_eq_str(t, "NS"))
        return set_size(v, 'N', size, a, f);
    if (dl_cursor_eq_str(t, "BS"))
        return set_size(v, 'B', size, a, f);
    if (dl_cursor_eq_str(t, "L") || dl_cursor_eq_str(t, "M")) {
        bool is_list = t.ptr[0] == 'L';
        if (depth + 1 > SIM_MAX_DEPTH) {
            sim_fail_set(f, FAIL_VALIDATION, "Nesting Levels have exceeded supported limits");
            return false;
        }
        if (is_list && v->type != DL_JSON_ARRAY) {
            sim_fail_set(f, FAIL_SERIALIZATION, v->type == DL_JSON_OBJECT
                         ? "Start of structure or map found where not expected"
                         : "Unexpected value type in payload");
            return false;
        }
        if (!is_list && v->type != DL_JSON_OBJECT) {
            sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected value type in payload");
            return false;
        }
        size_t total = 3;
        if (is_list) {
            for (const struct dl_json *e = v->child; e; e = e->next) {
                size_t s = 0;
                if (!value_size(e, depth + 1, &s, a, f))
                    return false;
                total += 1 + s;
            }
        } else {
            size_t s = 0;
            if (!map_size(v, depth + 1, &s, a, f, false))
                return false;
            total += s;
        }
        *size = total;
        return true;
    }
    /* Unknown members are ignored by DynamoDB's deserializer, leaving no type set. */
    sim_fail_set(f, FAIL_VALIDATION, "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    return false;
}

bool sim_item_size(const struct dl_json *item, size_t *size, struct dl_arena *a, struct sim_fail *f)
{
    if (item->type != DL_JSON_OBJECT) {
        sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return false;
    }
    return map_size(item, 1, size, a, f, true);
}

static const struct dl_json *member(const struct dl_json *obj, const char *name, size_t len)
{
    const struct dl_json *found = NULL;
    for (const struct dl_json *m = obj->child; m; m = m->next)
        if (m->key.len == len && memcmp(m->key.ptr, name, len) == 0)
            found = m;
    return found;
}

static const char *type_of(const struct dl_json *av)
{
    static char buf[8];
    if (av->type != DL_JSON_OBJECT || !av->child)
        return "null";
    size_t n = av->child->key.len < 7 ? av->child->key.len : 7;
    memcpy(buf, av->child->key.ptr, n);
    buf[n] = 0;
    return buf;
}

bool sim_item_key(const struct sim_table *t, const struct dl_json *obj, enum sim_key_ctx ctx,
                  const uint8_t *wire, size_t wire_len, struct dl_buf *key, size_t *pk_len,
                  struct dl_buf *key_json, struct sim_fail *f)
{
    static const char mismatch[] = "The provided key element does not match the schema";
    if (obj->type != DL_JSON_OBJECT) {
        sim_fail_set(f, FAIL_SERIALIZATION, "Unexpected value type in payload");
        return false;
    }
    if (ctx == KEYCTX_KEY && obj->n != (uint32_t)t->nkeys) {
        sim_fail_set(f, FAIL_VALIDATION, "%s", mismatch);
        return false;
    }
    if (key_json)
        dl_buf_append_byte(key_json, '{');
    for (int k = 0; k < t->nkeys; k++) {
        const struct sim_key_attr *ka = &t->key[k];
        const struct dl_json *av = member(obj, ka->name, ka->len);
        if (!av) {
            if (ctx == KEYCTX_ITEM_PUT)
                sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Missing the key %.*s in the item",
                             (int)ka->len, ka->name);
            else
                sim_fail_set(f, FAIL_VALIDATION, "%s", mismatch);
            return false;
        }
        char want[2] = { ka->type, 0 };
        const struct dl_json *v = av->type == DL_JSON_OBJECT && av->n == 1 ? av->child : NULL;
        if (!v || !dl_cursor_eq_str(v->key, want) || v->type != DL_JSON_STRING) {
            if (ctx == KEYCTX_ITEM_PUT)
                sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Type mismatch for key %.*s expected: %c actual: %s",
                             (int)ka->len, ka->name, ka->type, type_of(av));
            else
                sim_fail_set(f, FAIL_VALIDATION, "%s", mismatch);
            return false;
        }
        size_t start = key->len;
        uint8_t hdr[5] = { (uint8_t)ka->type, 0, 0, 0, 0 };
        dl_buf_append(key, hdr, sizeof hdr);
        size_t vlen = 0;
        if (ka->type == 'N') {
            struct dl_num_info info;
            size_t s;
            if (!check_number(v->str, &s, &info, f))
                return false;
            char c[DL_NUM_CANON_MAX];
            vlen = dl_num_format_canonical(&info, c);
            dl_buf_append(key, c, vlen);
        } else {
            if (v->str.len == 0) {
                sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty %s value. Key: %.*s",
                             ka->type == 'S' ? "string" : "binary", (int)ka->len, ka->name);
                return false;
            }
            if (ka->type == 'S') {
                vlen = v->str.len;
                dl_buf_append(key, v->str.ptr, vlen);
            } else {
                size_t before = key->len;
                if (dl_base64_decode(v->str, key) != DL_OK) {
                    sim_fail_set(f, FAIL_SERIALIZATION, "Base64 encoded length is expected a multiple of 4 bytes but found: %zu", v->str.len);
                    return false;
                }
                vlen = key->len - before;
            }
            if (k == 0 && vlen > SIM_HASH_KEY_MAX) {
                sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes");
                return false;
            }
            if (k == 1 && vlen > SIM_RANGE_KEY_MAX) {
                sim_fail_set(f, FAIL_VALIDATION, "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes");
                return false;
            }
        }
        key->data[start + 1] = (uint8_t)(vlen >> 24);
        key->data[start + 2] = (uint8_t)(vlen >> 16);
        key->data[start + 3] = (uint8_t)(vlen >> 8);
        key->data[start + 4] = (uint8_t)vlen;
        if (k == 0)
            *pk_len = key->len;
        if (key_json) {
            if (k)
                dl_buf_append_byte(key_json, ',');
            dl_buf_append_json_str(key_json, ka->name, ka->len);
            dl_buf_append_byte(key_json, ':');
            size_t end = sim_json_end(wire, wire_len, av->offset);
            dl_buf_append(key_json, wire + av->offset, end - av->offset);
        }
    }
    if (key_json)
        dl_buf_append_byte(key_json, '}');
    return true;
}
