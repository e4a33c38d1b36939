/* DynamoDB numbers: validation, canonical form and stored size.
 *
 * We accept the JSON number grammar (RFC 8259: optional '-', no leading zeros except a
 * lone "0", optional fraction with at least one digit, optional exponent with an optional
 * sign). DynamoDB itself parses a wider syntax ("+1", ".5"); we stay strict because this
 * is what JSON input and CSV key/type conversion should accept.
 * DynamoDB's limits: at most 38 significant digits (leading and trailing zeros do not
 * count), and a magnitude of zero or within 1E-130 .. 9.9999999999999999999999999999999999999E+125.
 * See docs/mapping.md for the sources. */
#ifndef DL_ITEM_NUMBER_H
#define DL_ITEM_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define DL_NUM_MAX_DIGITS 38
#define DL_NUM_MIN_EXP (-130) /* smallest power of ten of a non-zero magnitude: 1E-130 */
#define DL_NUM_MAX_EXP 125    /* largest: 9.99...E+125 */
/* Longest canonical string: '-' + 38 digits + 'E' + "-168" (+ NUL). */
#define DL_NUM_CANON_MAX 48

struct dl_num_info {
    bool zero;          /* the value is 0 (including "-0", "0.000", "0e7") */
    bool negative;      /* false for zero */
    size_t sig_digits;  /* significant digits, leading/trailing zeros excluded (0 for zero);
                           set whenever the syntax is valid, even past 38 */
    int64_t exp10;      /* value = digits x 10^exp10 (digits read as an integer); 0 for zero */
    int64_t sci_exp;    /* value = d.ddd x 10^sci_exp, the exponent the range limit is about */
    char digits[DL_NUM_MAX_DIGITS + 1]; /* the significant digits, NUL-terminated; "" for zero
                                           or when there are more than 38 */
};

/* Validate text as a DynamoDB number. Returns DL_OK, or DL_ERR_INVALID and writes a reason
 * (NUL-terminated, truncated to whylen; why may be NULL) such as
 *   "'01' is not a valid number: leading zeros are not allowed"
 *   "number has 41 significant digits; DynamoDB allows 38"
 *   "number 1e400 is out of DynamoDB's range (1E-130 to 9.99E+125)".
 * out (may be NULL) is filled as far as the text could be analysed. */
enum dl_err dl_num_check(struct dl_cursor text, struct dl_num_info *out, char *why, size_t whylen);

/* Append the canonical form of a valid number to out: "0" for zero, otherwise
 * [-]DIGITSEexp with DIGITS the significant digits read as an integer, e.g. "1E0" for
 * "1", "1.0", "10e-1" and "0.1E1"; "-12E-3" for "-0.012". Equal values give equal strings.
 * DL_ERR_INVALID if text is not a valid DynamoDB number (nothing appended);
 * DL_ERR_TOO_LARGE/DL_ERR_NOMEM from the buffer. */
enum dl_err dl_num_canonical(struct dl_cursor text, struct dl_buf *out);

/* The same from an already checked number; writes at most DL_NUM_CANON_MAX bytes including
 * the NUL into dst and returns the length (without the NUL). */
size_t dl_num_format_canonical(const struct dl_num_info *n, char dst[DL_NUM_CANON_MAX]);

/* Bytes the value takes in DynamoDB's item size: 1 byte per two significant digits,
 * rounded up, plus 1 (AWS's "DynamoDB item sizes and formats" rule); zero takes 1 byte. */
size_t dl_num_size(const struct dl_num_info *n);

#endif
