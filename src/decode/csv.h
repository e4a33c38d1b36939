/* RFC 4180 CSV / TSV reader over an in-memory buffer (lexical only: it splits records
 * and fields; header handling, field-count checks and typing are the caller's job).
 *
 * Rules:
 * - A UTF-8 BOM at the very start is skipped; offsets and columns still count its bytes.
 * - Records end at "\n", "\r\n" or a lone "\r"; the last record may lack a terminator.
 *   Blank lines (a terminator with no bytes before it) are skipped and are not records.
 * - A field starting with the quote byte is quoted: it may hold delimiters and line breaks
 *   (kept as they are), and a doubled quote stands for one quote. After the closing quote
 *   only a delimiter or the end of the record may follow. A quote byte inside an unquoted
 *   field is an ordinary byte. A delimiter at the end of a record gives an empty last field.
 * - Line numbers count "\n", "\r\n" and a lone "\r" as one line break each, including
 *   those inside quoted fields. Columns are 1-based byte counts within the line.
 *
 * Errors (dl_csv_next returns non-zero and fills err with message, offset, line, column):
 * - DL_ERR_PARSE "unexpected character 'x' after closing quote": the reader skips to the
 *   end of that record (a later quoted field on the same record is still honoured when
 *   finding the end), so the next call returns the next record.
 * - DL_ERR_PARSE "unterminated quoted field starting at line L column C", positioned at
 *   the opening quote; the record runs to the end of input, the next call reports end.
 * - DL_ERR_TOO_LARGE "record larger than N bytes", positioned at the record's start, or
 *   "record has more than N fields", positioned at the first byte of field N+1; the record
 *   is skipped.
 * - DL_ERR_PARSE with a UTF-8 message (see dl_utf8_describe) at the offending byte when
 *   opts.check_utf8 is set (checked only for records that are otherwise fine); the record
 *   is skipped.
 * - DL_ERR_NOMEM: scratch allocation failed; the record is skipped.
 * If a record has an unterminated quote, that is what is reported; otherwise the first
 * problem met scanning left to right (a record becomes too large at its byte
 * max_record + 1).
 * On every error row->line/offset/record/raw describe the bad record (raw is the record's
 * text, for a dead-letter file), and row->nfields is 0. */
#ifndef DL_DECODE_CSV_H
#define DL_DECODE_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define DL_CSV_DEFAULT_MAX_RECORD ((size_t)64 << 20) /* 64 MiB */
#define DL_CSV_DEFAULT_MAX_FIELDS ((size_t)1 << 20)

struct dl_csv_opts {
    uint8_t delim;     /* ',' or '\t' (any byte except the quote, '\r', '\n'); 0 = ',' */
    uint8_t quote;     /* 0 = '"' */
    bool no_quote;     /* quoting off: every byte is literal (IANA-style TSV) */
    size_t max_record; /* largest record in bytes, terminator excluded; 0 = 64 MiB */
    size_t max_fields; /* most fields in one record; 0 = 1 Mi (bounds the field array) */
    bool check_utf8;   /* reject records that are not valid UTF-8 (position of the bad byte) */
};

struct dl_csv;

struct dl_csv_row {
    bool end;                       /* true: no more records (nfields == 0, nothing else set) */
    size_t nfields;                 /* >= 1 for a record; 0 on end or error */
    const struct dl_cursor *fields; /* nfields unquoted field values. Fields that needed
                                       unescaping point into reader-owned scratch, the others
                                       into the input; the array and scratch stay valid until
                                       the next dl_csv_next or dl_csv_destroy. */
    uint64_t record;                /* 1-based record index (errors count as records) */
    uint64_t line;                  /* 1-based line where the record starts */
    uint64_t offset;                /* byte offset of the record's first byte in the input */
    struct dl_cursor raw;           /* the record's raw text, terminator excluded (borrowed) */
};

/* Start reading p[0..len) (borrowed: must outlive the reader). opts may be NULL for CSV
 * defaults; zero fields of opts mean the defaults too (so { .delim = '\t' } is TSV). DL_ERR_INVALID for a bad delimiter/quote combination, DL_ERR_NOMEM. */
enum dl_err dl_csv_new(const uint8_t *p, size_t len, const struct dl_csv_opts *opts,
                       struct dl_csv **out);

/* Next record. Returns DL_OK with row->end == false and the record, DL_OK with
 * row->end == true when the input is exhausted (and on every later call), or an error
 * code with err filled as described above (the caller may keep calling after an error). */
enum dl_err dl_csv_next(struct dl_csv *r, struct dl_csv_row *row, struct dl_pos_err *err);

void dl_csv_destroy(struct dl_csv *r);

#endif
