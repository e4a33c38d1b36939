/* SIMD CSV / TSV reader: a drop-in for dl_csv (decode/csv.h) with the same options, the same
 * struct dl_csv_row and, on every input, the same rows, fields, record/line/offset/raw and the
 * same errors (code, message, offset, line, column) and recovery. All of dl_csv's rules
 * (csv.h's header comment) apply word for word.
 *
 * How: stage 1 (src/decode/arch/csv_*.c, chosen from dl_cpu_level() when the reader is made)
 * classifies 64-byte blocks into delimiter / line-break / quote masks, quoted regions by the
 * prefix XOR of the quote mask; stage 2 walks the separator bits with count-trailing-zeros to
 * cut fields, unescaping "" only in quoted fields that hold one, and skips UTF-8 validation
 * for records without bytes >= 0x80. A record the masks cannot describe exactly (a quote
 * inside an unquoted field, text after a closing quote, an unterminated quote, a record over
 * max_record or max_fields, invalid UTF-8) is re-read by the scalar reader, so its result and
 * its error are dl_csv's by construction.
 *
 * The input needs no padding: the reader copies the last partial block. */
#ifndef DL_DECODE_CSVFAST_H
#define DL_DECODE_CSVFAST_H

#include <stdint.h>

#include "core/cpu.h"
#include "decode/csv.h"
#include "item/item.h"

struct dl_csvfast;

/* As dl_csv_new: read p[0..len) (borrowed), opts may be NULL. DL_ERR_INVALID, DL_ERR_NOMEM. */
enum dl_err dl_csvfast_new(const uint8_t *p, size_t len, const struct dl_csv_opts *opts,
                           struct dl_csvfast **out);

/* Read the records of p[start..end), one chunk of a larger input (see decode/chunked.h).
 * start must be where a sequential read of the whole input could stand between records: 0,
 * just after a line break outside quotes, or the terminator of the record before; line is
 * the line number of p[start]. end must be such a place too, or the end of the input (the
 * reader never looks at bytes past end). Rows and errors report offsets, lines and messages
 * of the whole input; records are numbered from 1 within the chunk (add the number of
 * records before it). A BOM is only skipped when start is 0. Errors as dl_csvfast_new. */
enum dl_err dl_csvfast_new_range(const uint8_t *p, size_t start, size_t end, uint64_t line,
                                 const struct dl_csv_opts *opts, struct dl_csvfast **out);

/* As dl_csv_next (row->fields valid until the next call or destroy). */
enum dl_err dl_csvfast_next(struct dl_csvfast *r, struct dl_csv_row *row, struct dl_pos_err *err);

/* As dl_csvfast_next, with the item built when the record allows: a record of h's column
 * count whose masks show no quote and no byte >= 0x80, within one window, is built into it
 * by dl_item_from_csv_plain and comes back with *built true and row as dl_csvfast_next would
 * give it but for fields (NULL). Otherwise *built is false and row (fields included) is
 * dl_csvfast_next's: the caller builds the item (dl_item_from_csv_prepared) or reports the
 * error. Either way the records, their numbers, lines, offsets and errors are exactly
 * dl_csvfast_next's. */
enum dl_err dl_csvfast_next_item(struct dl_csvfast *r, const struct dl_item_csv_header *h, struct dl_item *it,
                                 struct dl_csv_row *row, struct dl_pos_err *err, bool *built);

void dl_csvfast_destroy(struct dl_csvfast *r);

/* The SIMD level the reader's stage 1 runs at (dl_cpu_level() when it was made). */
enum dl_simd_level dl_csvfast_level(const struct dl_csvfast *r);

#endif
