/* Strict RFC 8259 JSON parser (the scalar reference) producing a small DOM in an arena.
 * Used for input records, AWS JSON responses and manifests. Strings are validated as UTF-8
 * and unescaped; numbers keep their source text. Nesting deeper than DL_JSON_MAX_DEPTH is
 * rejected (no recursion blow-up on hostile input). */
#ifndef DL_CORE_JSON_H
#define DL_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"

#define DL_JSON_MAX_DEPTH 512

enum dl_json_type {
    DL_JSON_NULL,
    DL_JSON_FALSE,
    DL_JSON_TRUE,
    DL_JSON_NUMBER,
    DL_JSON_STRING,
    DL_JSON_ARRAY,
    DL_JSON_OBJECT,
};

struct dl_json {
    enum dl_json_type type;
    uint32_t n;             /* ARRAY/OBJECT: number of children */
    struct dl_cursor str;   /* STRING: unescaped UTF-8 bytes (may contain NUL);
                               NUMBER: the number's text exactly as in the input */
    struct dl_cursor key;   /* member name (unescaped) when the parent is an OBJECT */
    struct dl_json *child;  /* ARRAY/OBJECT: first child, in source order */
    struct dl_json *next;   /* next sibling */
    uint64_t offset;        /* byte offset of the value's first byte in the parsed input */
};

/* Parse one JSON value from p[0..len), skipping leading whitespace. Nodes and unescaped
 * strings live in arena a (borrowed cursors may also point into p, so p must outlive the DOM).
 * On success *out is the value and *consumed is the offset just past it (trailing whitespace
 * is NOT consumed). On failure returns DL_ERR_PARSE (or DL_ERR_NOMEM/DL_ERR_TOO_LARGE when the
 * arena is exhausted) and fills err with offset/line/column relative to p (line/column 1-based).
 * Empty input (only whitespace) is DL_ERR_PARSE with msg "unexpected end of input". */
enum dl_err dl_json_parse_value(struct dl_arena *a, const uint8_t *p, size_t len,
                                size_t *consumed, struct dl_json **out, struct dl_pos_err *err);

/* Parse a whole document: exactly one value, optionally surrounded by whitespace. */
enum dl_err dl_json_parse_doc(struct dl_arena *a, const uint8_t *p, size_t len,
                              struct dl_json **out, struct dl_pos_err *err);

/* Member of an object by name, or NULL (the LAST member with that name, per "later wins"). */
const struct dl_json *dl_json_get(const struct dl_json *obj, const char *name);
/* Convenience: string member as a cursor; false if absent or not a string. */
bool dl_json_get_str(const struct dl_json *obj, const char *name, struct dl_cursor *out);

/* Compute line/column (1-based, column in bytes) of offset within p. */
void dl_json_line_col(const uint8_t *p, size_t offset, uint64_t *line, uint64_t *col);

/* Check that p[0..len) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
 * Returns true if valid, else false and *bad = offset of the first invalid byte.
 * (Precisely: the first byte of the first ill-formed sequence; for a bad lead byte such
 * as 0xC0 or a stray continuation byte that is the byte itself. bad may be NULL.) */
bool dl_utf8_valid(const uint8_t *p, size_t len, size_t *bad);

/* --- additions (not in the first version of this header) --- */

/* Write a short reason for the ill-formed UTF-8 sequence starting at p[bad] (as reported by
 * dl_utf8_valid) into msg[0..n), NUL-terminated: "invalid UTF-8 byte 0xC0",
 * "truncated UTF-8 sequence starting with byte 0xE2", "overlong UTF-8 sequence 0xE0 0x80",
 * "UTF-8 encoded surrogate ...", "... above U+10FFFF". The JSON parser uses the same texts. */
void dl_utf8_describe(const uint8_t *p, size_t len, size_t bad, char *msg, size_t n);

/* Value of one hex digit (0-9, a-f, A-F), or -1. Shared by the JSON and JS-literal readers. */
static inline int dl_hex_digit(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Write code point cp (<= U+10FFFF; surrogates are the caller's business) as UTF-8 at o, which
 * has room for 4 bytes; returns the bytes written. */
static inline size_t dl_utf8_put(uint8_t *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xC0 | (cp >> 6));
        o[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (cp >> 12));
        o[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (cp >> 18));
    o[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Static name of a type for messages: "null", "boolean", "number", "string", "array", "object". */
const char *dl_json_type_name(enum dl_json_type t);

#endif
