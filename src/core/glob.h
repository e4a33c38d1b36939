/* Glob patterns for object keys and archive paths (--include / --exclude, manifest `file`).
 * docs/manifests.md ("Glob patterns") has the same table with more examples.
 *
 * Syntax (case-sensitive, like S3 keys; characters are UTF-8 code points, not bytes):
 *   *        any run of characters without '/', including none
 *   **       any run of characters, '/' included, including none; a "**" that fills a whole
 *            path segment (at the start or right after a '/', and followed by a '/') also
 *            matches zero segments, so "logs/" "**" "/x.gz" (one pattern, written without the
 *            quotes) matches logs/x.gz as well as logs/a/b/x.gz
 *   ?        exactly one character other than '/'
 *   [abc] [a-z] [!x] [^x]   one character (never '/') in / not in the set; a ']' right after
 *            '[' or '[!' is a member; '-' first or last is a member; "\]" escapes inside
 *   \c       the character c itself ("\*", "\?", "\[", "\\")
 *
 * A pattern without '/' is matched against the key's base name (what follows its last '/'),
 * so "*.zip" selects a/b/c.zip. A pattern containing '/' is matched against the whole key,
 * from its start ("2024/x-*.zip" selects 2024/x-1.zip but not old/2024/x-1.zip); one leading
 * '/' is dropped after that choice, so "/x.zip" selects only the top-level x.zip.
 * A '[' without its closing ']' and a trailing '\' stand for themselves; dl_glob_check reports
 * them (and "[[:alpha:]]"-style classes, which are not supported) so a command line can refuse
 * the pattern instead.
 * Pure functions, no allocation (about 1 KiB of stack), safe from any thread. */
#ifndef DL_CORE_GLOB_H
#define DL_CORE_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Longest pattern accepted, in bytes; dl_glob_match is false for longer ones. */
#define DL_GLOB_MAX_PATTERN 4096

/* True if key matches pattern (both NUL-terminated; NULL never matches). */
bool dl_glob_match(const char *pattern, const char *key);

/* Validate a pattern for a command line or a manifest: DL_OK, or DL_ERR_INVALID with a message
 * in err (may be NULL) such as "unterminated '[' at byte 4 (write \[ for a literal '[')". */
enum dl_err dl_glob_check(const char *pattern, char *err, size_t errlen);

/* True if s holds any of the characters that make a pattern (* ? [ \), i.e. if it is
 * worth matching as a glob rather than comparing as a plain name. */
bool dl_glob_is_pattern(const char *s);

#endif
