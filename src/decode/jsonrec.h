/* JSON record reader: turns one object's bytes (a single JSON document, a top-level array
 * of objects, NDJSON, or pretty-printed objects one after another) into records one at a
 * time, without building a DOM of the whole input.
 *
 * The input is a sequence of top-level values separated by JSON whitespace; a UTF-8 BOM at
 * the very start is skipped (offsets and columns still count its bytes). Lines are counted
 * at '\n' (as dl_json_line_col does); columns are 1-based byte counts.
 * - A top-level object is one record (ITEM).
 * - A top-level array is read element by element; each object element is an ITEM, any
 *   other element an ERROR "array element N is not an object (found number)" (N 1-based
 *   within the array) after which reading continues. A syntax error inside an array is
 *   FATAL, except in NDJSON mode where it is an ERROR for the rest of that line.
 * - A top-level scalar is an ERROR "top-level value is not an object or array".
 * - A syntax error in a top-level value (outside an array):
 *   NDJSON mode: every top-level value must lie within one line (the parser only sees up to
 *     the end of the line it starts on); a syntax error is an ERROR whose raw text runs from
 *     the value's start to the end of that line (without "\r\n"), and reading resumes on the
 *     next line. Several values on one line are allowed.
 *   AUTO mode: values may span lines. On a syntax error the input is taken to be line-
 *     delimited if (a) it was already found to be, or (b) the first top-level value sat on
 *     a single line and this is not the first value, or (c) the failing value starts at
 *     column 1 and an earlier top-level value ended on an earlier line, or (d) the failing
 *     value starts at column 1 and the next non-blank line starts with '{' or '[' and ends
 *     with '}' or ']'. Then the value is re-parsed up to the end of its line, the error is
 *     reported as in NDJSON mode, and reading resumes on the next line (the decision sticks
 *     for the rest of the input). Otherwise the error is FATAL.
 *   JSON mode: FATAL.
 * - JSON mode expects a single document: if anything but whitespace follows the first
 *   top-level value, one ERROR "more than one top-level JSON value" covers everything from
 *   the next value's start to the end of input (trailing whitespace excluded); then END.
 * Error messages and positions inside a value are the parser's (see core/json.h), moved to
 * positions in the whole input. Arena exhaustion while parsing a record is handled like a
 * syntax error with code DL_ERR_TOO_LARGE. */
#ifndef DL_DECODE_JSONREC_H
#define DL_DECODE_JSONREC_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

enum dl_jsonrec_mode {
    DL_JSONREC_AUTO,   /* whatever the input looks like (see above) */
    DL_JSONREC_JSON,   /* one document: an object, or an array of objects */
    DL_JSONREC_NDJSON, /* one value per line */
};

enum dl_jsonrec_status {
    DL_JSONREC_ITEM,  /* out->value is the record (an OBJECT), allocated in the arena */
    DL_JSONREC_ERROR, /* a bad record: err says why and where, out->raw is its text; go on */
    DL_JSONREC_END,   /* no more records (also returned by every call after END or FATAL) */
    DL_JSONREC_FATAL, /* the rest cannot be read: err set, out->raw is all remaining bytes */
};

struct dl_jsonrec_out {
    struct dl_json *value; /* ITEM only. Node offsets are relative to out->offset. */
    uint64_t record;       /* 1-based record number within this input (ITEM, ERROR, FATAL) */
    uint64_t line;         /* line (1-based) where the record starts */
    uint64_t column;       /* column (1-based) where the record starts */
    uint64_t offset;       /* byte offset of the record's first byte in the input */
    struct dl_cursor raw;  /* the record's bytes (borrowed from the input) */
};

struct dl_jsonrec;

/* Start reading p[0..len) (borrowed: must outlive the reader and every DOM it returns,
 * since strings without escapes point into it). DL_ERR_NOMEM or DL_ERR_INVALID (mode). */
enum dl_err dl_jsonrec_new(const uint8_t *p, size_t len, enum dl_jsonrec_mode mode,
                           struct dl_jsonrec **out);

/* Next record. ITEM values are allocated in a (the caller resets it between records when
 * it likes). err is filled for ERROR and FATAL (code DL_ERR_PARSE or DL_ERR_TOO_LARGE,
 * message, offset, line, column, all relative to the whole input). */
enum dl_jsonrec_status dl_jsonrec_next(struct dl_jsonrec *r, struct dl_arena *a,
                                       struct dl_jsonrec_out *out, struct dl_pos_err *err);

void dl_jsonrec_destroy(struct dl_jsonrec *r);

#endif
