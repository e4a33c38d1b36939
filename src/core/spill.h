/* Bytes that may not fit in memory: a spill buffer keeps what is written in memory up to a
 * threshold, then moves everything to an unlinked temporary file. When writing is done it gives
 * one contiguous read-only view (the memory buffer, or an mmap of the file), and pages of a
 * mapped view that the reader has finished with can be released, so decoding a 1 GB object
 * costs the process a few megabytes of resident memory, not a gigabyte.
 * A view of an existing local file is available too (dl_spill_map_file). Not thread-safe. */
#ifndef DL_CORE_SPILL_H
#define DL_CORE_SPILL_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

struct dl_spill {
    struct dl_buf mem;      /* contents while they fit under mem_max */
    size_t mem_max;         /* spill to a file past this many bytes */
    uint64_t max_total;     /* DL_ERR_TOO_LARGE past this */
    uint64_t len;           /* bytes written (or mapped) */
    int fd;                 /* temp file (or mapped local file), -1 if none */
    uint8_t *map;           /* mmap of fd after dl_spill_view, or NULL */
    size_t map_len;
    size_t released;        /* bytes at the start of the map already given back */
    char err[160];
};

/* mem_max: bytes kept in memory before spilling (0 = always spill); max_total: cap (0 = none). */
void dl_spill_init(struct dl_spill *s, size_t mem_max, uint64_t max_total);
/* Append. DL_ERR_TOO_LARGE past max_total; DL_ERR_IO if the temp file cannot be written
 * (message in s->err). */
enum dl_err dl_spill_write(struct dl_spill *s, const void *p, size_t n);
/* Finish writing and get the whole contents as one view (valid until dl_spill_free). */
enum dl_err dl_spill_view(struct dl_spill *s, struct dl_cursor *out);
/* Map an existing file read-only as the view (no copy). DL_ERR_NOT_FOUND / DL_ERR_IO. */
enum dl_err dl_spill_map_file(struct dl_spill *s, const char *path, struct dl_cursor *out);
/* The reader is done with every byte before `upto` (a pointer into the view): give the whole
 * pages before it back to the kernel. A no-op for an in-memory view. */
void dl_spill_release(struct dl_spill *s, const uint8_t *upto);
/* True when the contents live in a (temporary or mapped) file. */
static inline bool dl_spill_on_disk(const struct dl_spill *s)
{
    return s->fd >= 0;
}
/* Drop everything; the spill can be initialised again. */
void dl_spill_free(struct dl_spill *s);
/* Directory for temporary files: $TMPDIR or /tmp. */
const char *dl_spill_tmpdir(void);

#endif
