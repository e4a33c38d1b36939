/* Helpers shared by number.c and item.c; not part of the public API. */
#ifndef DL_ITEM_IMPL_H
#define DL_ITEM_IMPL_H

#include <stddef.h>

#include "core/buf.h"

/* Longest piece of user text (a value or a name) quoted in an error message, in bytes. */
#define DL_ITEM_QUOTE_MAX 40

/* Copy s into dst (capacity cap >= 8) for use inside an error message: control bytes,
 * DEL and bytes that are not part of valid UTF-8 become '?', and text longer than max
 * bytes is cut at a character boundary and ends with "...". Always NUL-terminates. */
void dl_item_quote(char *dst, size_t cap, struct dl_cursor s, size_t max);

/* Format v with thousands separators ("409,600") into dst (>= 32 bytes); returns dst. */
const char *dl_item_thousands(size_t v, char *dst);

#endif
