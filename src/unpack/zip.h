/* Zip archives held in memory (libzip underneath; zstd entries through libzstd): list the
 * data entries, read one entry into a capped buffer, with zip-bomb guards.
 *
 * Listing skips what is never data: directories, anything under a `__MACOSX/` folder,
 * AppleDouble `._*` files, `.DS_Store` and `Thumbs.db`. The rest is listed in central
 * directory order, which is the order "later record wins" uses inside an archive.
 *
 * A struct dl_zip is not thread-safe (libzip keeps per-archive state while reading).
 * To read entries of one archive from several threads, open the same bytes once per thread:
 * opening only parses the central directory and copies nothing. */
#ifndef DL_UNPACK_ZIP_H
#define DL_UNPACK_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Compression methods as recorded in the zip (APPNOTE 4.4.5). */
#define DL_ZIP_METHOD_STORE 0
#define DL_ZIP_METHOD_DEFLATE 8
#define DL_ZIP_METHOD_ZSTD 93
#define DL_ZIP_METHOD_ZSTD_OLD 20 /* APPNOTE's deprecated id for zstd; read like 93 */

struct dl_zip;

struct dl_zip_entry {
    const char *name;   /* as stored (UTF-8; CP437 names are converted); owned by the dl_zip,
                         * valid until dl_zip_close */
    uint64_t size;      /* declared uncompressed size (from the central directory: may lie) */
    uint64_t comp_size; /* declared compressed size */
    uint16_t method;    /* DL_ZIP_METHOD_* or any other APPNOTE method number */
    uint64_t index;     /* libzip's index (position in the central directory) */
    bool encrypted;
    bool unsafe_name;   /* absolute path, drive letter or a ".." component: callers should log it
                         * (entries are never written to disk, so it is not an error) */
};

/* Zip-bomb guards. A zero field means "use the default". Pass NULL for all defaults. */
struct dl_zip_limits {
    uint64_t max_entry_size;   /* default DL_ZIP_DEFAULT_MAX_ENTRY (4 GiB) */
    uint64_t max_ratio;        /* expanded / compressed; default 1000 */
    uint64_t ratio_min_size;   /* the ratio is only checked for entries expanding past this;
                                * default 1 MiB */
    uint64_t max_total;        /* bytes expanded from one archive over all dl_zip_read calls;
                                * default DL_ZIP_DEFAULT_MAX_TOTAL (16 GiB) */
};
#define DL_ZIP_DEFAULT_MAX_ENTRY ((uint64_t)4 << 30)
#define DL_ZIP_DEFAULT_MAX_RATIO 1000
#define DL_ZIP_DEFAULT_RATIO_MIN_SIZE ((uint64_t)1 << 20)
#define DL_ZIP_DEFAULT_MAX_TOTAL ((uint64_t)16 << 30)

/* Open the zip in p[0..len) read-only. p is borrowed: keep it alive and unchanged until
 * dl_zip_close. On success *out is a new archive to close with dl_zip_close.
 * Errors: DL_ERR_PARSE (not a zip, truncated or corrupt; err holds libzip's message),
 * DL_ERR_UNSUPPORTED (multi-disk), DL_ERR_NOMEM. err may be NULL. */
enum dl_err dl_zip_open_mem(const uint8_t *p, size_t len, struct dl_zip **out, char *err,
                            size_t errlen);

enum dl_err dl_zip_open_fd(int fd, uint64_t len, struct dl_zip **out, char *err, size_t errlen);

/* Free the archive (NULL is fine). Names returned by dl_zip_entry become invalid. */
void dl_zip_close(struct dl_zip *z);

/* Number of listed (data) entries. */
size_t dl_zip_count(const struct dl_zip *z);

/* Describe listed entry i (0 <= i < dl_zip_count). DL_ERR_INVALID if i is out of range. */
enum dl_err dl_zip_entry(const struct dl_zip *z, size_t i, struct dl_zip_entry *out);

/* Read listed entry i, replacing the contents of out (out's cap applies too).
 * Methods: stored, deflate (and whatever else the system libzip decodes), and zstd (93, or
 * the deprecated 20), which this file decodes itself with libzstd from the raw entry bytes.
 * Declared sizes are checked against lim before anything is inflated, and the bytes are
 * counted while inflating: an entry is never allowed to expand past its declared size. The
 * CRC-32 is checked for every method.
 * Errors (err gets a message naming the entry; out is left empty):
 *   DL_ERR_TOO_LARGE   a guard tripped ("zip bomb guard: entry 'x' expands 2,000× (limit
 *                      1000×)"), or out's cap was reached
 *   DL_ERR_UNSUPPORTED encrypted entry, or a method neither libzip nor libzstd decodes
 *                      ("uses compression method 98 (PPMd), which is not supported ...")
 *   DL_ERR_PARSE       corrupt data (deflate or zstd), truncated zstd frame, CRC mismatch, or
 *                      a size that differs from the declared one
 *   DL_ERR_INVALID     i out of range;  DL_ERR_NOMEM */
enum dl_err dl_zip_read(struct dl_zip *z, size_t i, struct dl_buf *out,
                        const struct dl_zip_limits *lim, char *err, size_t errlen);

/* dl_zip_read into a spill buffer (see core/spill.h): the entry is moved there 4 MiB at a time,
 * so a large entry goes to a temporary file instead of memory. Same guards and errors. */
struct dl_spill;
enum dl_err dl_zip_read_spill(struct dl_zip *z, size_t i, struct dl_spill *out,
                              const struct dl_zip_limits *lim, char *err, size_t errlen);

#endif
