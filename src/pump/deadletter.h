/* The dead-letter file: one NDJSON line per record that could not be written, with why,
 * where it came from, and what would have been sent (or the raw input text when the record
 * never became an item). Thread-safe. Created lazily on the first record, so a clean run
 * leaves no file behind. A path ending in ".zst" is written zstd-compressed, one frame per
 * record (read it with zstdcat; `ddbload replay` reads both forms); every record is flushed
 * to the file before dl_deadletter_add returns. */
#ifndef DL_PUMP_DEADLETTER_H
#define DL_PUMP_DEADLETTER_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* Where a record came from. Strings are borrowed (they must outlive the call). */
struct dl_origin {
    const char *source;  /* "s3://bucket/key" or a local path */
    const char *entry;   /* zip entry name, or NULL */
    uint64_t record;     /* 1-based record number within the object (or entry); 0 = n/a */
    uint64_t line;       /* 1-based line where the record starts; 0 = n/a */
    uint64_t column;     /* 1-based column of a parse error; 0 = n/a */
    const char *table;   /* the destination when a manifest routes the record (NULL = --table) */
    uint64_t tag;        /* the caller's own number for the record (the pump hands it back in
                            on_resolved; the journal uses it); not written to dead letters */
};

struct dl_deadletter;

/* path: the file to create on first use. NULL on OOM. */
struct dl_deadletter *dl_deadletter_new(const char *path);
/* Flush and close; safe with NULL. */
void dl_deadletter_destroy(struct dl_deadletter *d);

/* Record a rejected write. request_wire is the WriteRequest as DynamoDB JSON
 * ({"PutRequest":{"Item":{...}}}) or empty; raw is the input text of a record that never
 * became an item, or empty. reason is a one-line message. */
enum dl_err dl_deadletter_add(struct dl_deadletter *d, const struct dl_origin *o, const char *reason,
                              struct dl_cursor request_wire, struct dl_cursor raw);

/* Records written so far. */
uint64_t dl_deadletter_count(struct dl_deadletter *d);

/* Counts by kind of reason, for reports. */
enum dl_dead_kind {
    DL_DEAD_BAD_RECORD,      /* malformed input or a record that cannot be an item (has raw text) */
    DL_DEAD_SKIPPED,         /* an object or zip entry that could not be read at all */
    DL_DEAD_REJECTED,        /* DynamoDB refused the item (ValidationException) */
    DL_DEAD_RETRIES,         /* not written after --max-attempts sends */
    DL_DEAD_STOPPED,         /* not written because the run stopped on a fatal error */
    DL_DEAD_KINDS
};
const char *dl_dead_kind_name(enum dl_dead_kind k);
void dl_deadletter_counts(struct dl_deadletter *d, uint64_t out[DL_DEAD_KINDS]);
const char *dl_deadletter_path(const struct dl_deadletter *d);
/* The last I/O error text, or NULL: a dead-letter file that cannot be written is fatal to the
 * run, because records would otherwise be lost. */
const char *dl_deadletter_error(struct dl_deadletter *d);

/* fsync the file (if it exists), so what it holds survives a power cut. */
void dl_deadletter_sync(struct dl_deadletter *d);

/* Read a dead-letter file (plain or zstd) into out as NDJSON text. */
enum dl_err dl_deadletter_read(const char *path, struct dl_buf *out, char *err, size_t errlen);

#endif
