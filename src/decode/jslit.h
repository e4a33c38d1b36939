/* JavaScript item files (`test.js`-style seeding data): reads the literal subset of JavaScript
 * that such files use and hands out one record per element of the exported array, as the
 * JSON record reader does (same statuses, same struct dl_jsonrec_out, same DOM), so the
 * mapping (dl_item_from_json) turns each object into an item unchanged. Nothing is evaluated:
 * anything beyond literals is rejected with its position. The accepted language is in
 * docs/js-items.md; in short:
 *
 *   file   := [BOM] [#! line] ('use strict' directive | ';')* export [';'] trailer* EOF
 *   export := 'module.exports' ['.' NAME] '=' source  |  'exports.' NAME '=' source
 *           | 'export default' source  |  ['export'] ('const'|'let'|'var') NAME '=' source
 *           | array
 *   source := array  |  '{' KEY ':' array [','] '}'      (one member holding the array)
 *   trailer (only after a declaration of NAME, each optionally ending in ';'):
 *             'module.exports' ['.' KEY] '=' REF | 'exports.' KEY '=' REF
 *           | 'export default' NAME | 'export {' NAME ['as' KEY] [','] '}'
 *     with REF := NAME | '{' NAME [','] '}' | '{' KEY ':' NAME [','] '}'
 *
 * Values: object and array literals (trailing commas allowed, no holes), strings in '', ""
 * or `` (no ${...}) with JS escapes, numbers (decimal, .5, 5., exponents, 0x/0o/0b, numeric
 * separators, BigInt n, one leading + or -) converted to JSON number text, true, false, null,
 * and undefined (the member or list element is omitted). Keys: identifiers, quoted strings,
 * or numbers (named by JS's own number-to-string rule). Comments go wherever whitespace may.
 *
 * Statuses:
 * - ITEM: out->value is an OBJECT DOM in the arena; node offsets are relative to out->offset;
 *   out->raw is the element's text. Strings borrow from the input when they need no decoding,
 *   so the input must outlive the DOM.
 * - ERROR: an element that is not an object ("array element 3 is not an object (found
 *   string)"); reading goes on.
 * - FATAL: a syntax error inside an element or after the array, a construct that is code,
 *   or a file without an exported array (the message lists the accepted shapes). err has
 *   code DL_ERR_PARSE (DL_ERR_TOO_LARGE when the arena runs out), the message and the
 *   position (offset, line, column; lines counted at '\n', columns in bytes, 1-based);
 *   out->raw runs from the failing element (or position) to the end of input.
 * - END: after the array and whatever may follow it; every later call (also after FATAL).
 * out->record numbers ITEM, ERROR and FATAL results from 1. */
#ifndef DL_DECODE_JSLIT_H
#define DL_DECODE_JSLIT_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/err.h"
#include "core/json.h"
#include "decode/jsonrec.h"

struct dl_jslit;

/* Start reading p[0..len) (borrowed: it must outlive the reader and every DOM it returns).
 * DL_ERR_NOMEM only; shape and syntax problems are reported by dl_jslit_next. */
enum dl_err dl_jslit_new(const uint8_t *p, size_t len, struct dl_jslit **out);

/* Next record (see the statuses above). ITEM values live in a, which the caller may reset
 * between calls. err may be NULL; it is cleared for ITEM and END. */
enum dl_jsonrec_status dl_jslit_next(struct dl_jslit *r, struct dl_arena *a,
                                     struct dl_jsonrec_out *out, struct dl_pos_err *err);

void dl_jslit_destroy(struct dl_jslit *r);

#endif
