/* The checkpoint journal: which objects, and which records inside objects, are durably in the
 * table, so that rerunning the same command after a crash (kill -9 at any moment) skips done
 * work and redoes the rest. The format and the caller's obligations are in docs/journal.md.
 *
 * Unit of work: an "object" is a (source, version) pair. source is the caller's name for it
 * ("s3://bucket/key", a local path, ...); version is opaque ("\"<etag>\"" for S3, size and mtime
 * for a local file). Records inside an object are numbered 1..N in source order, identically on
 * every run (records the decoder rejects count too). A source has at most one live version: work
 * on another version drops what the journal knew about the old one.
 *
 * State lives in memory and reaches the file only through dl_journal_flush: one batch of
 * append-only lines, each with a CRC32, ending with a commit line, fsync'ed. A batch counts whole
 * or not at all, so after a crash at any moment the journal holds exactly the state of a completed
 * flush: it loses at most what changed since the last one, and never claims a record that was not
 * acknowledged.
 *
 * Thread safety: every function may be called from any thread (one internal mutex; flush and
 * compaction write the file outside it, so acks are not held up by fsync). */
#ifndef DL_JOURNAL_JOURNAL_H
#define DL_JOURNAL_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

#define DL_JOURNAL_FORMAT 1            /* the "format" in the header line */
#define DL_JOURNAL_DEFAULT_DIR ".ddbload"
#define DL_JOURNAL_MAX_IDENTITY (1u << 20) /* bytes */
#define DL_JOURNAL_MAX_NAME (1u << 14)     /* source, version, meta key: bytes each */
#define DL_JOURNAL_MAX_META_VALUE (1u << 20)

enum dl_journal_state {
    DL_JOURNAL_NEW = 0,  /* nothing acknowledged for this source: process it all */
    DL_JOURNAL_PARTIAL,  /* some records acknowledged: re-read it, send only the others */
    DL_JOURNAL_DONE,     /* every record acknowledged (or dead-lettered): skip it, don't download */
    DL_JOURNAL_CHANGED,  /* the journal knew this source with another version: process it all, as
                            NEW. The old state is dropped (and a "new" line logged) on the first
                            ack/complete for the new version. */
};

struct dl_journal;

/* Default journal path for a command: "<dir>/<16 hex digits>.journal", the digits being the start
 * of SHA-256(identity). dir NULL = DL_JOURNAL_DEFAULT_DIR (relative to the current directory).
 * identity is the caller's canonical text of what changes the items written: table name, the
 * sources in order, format and mapping options. out is reset first. DL_ERR_NOMEM/TOO_LARGE. */
enum dl_err dl_journal_path_for(const char *dir, const char *identity, struct dl_buf *out);

/* Open (creating it and missing parent directories) the journal at path for identity, load its
 * state, cut off a torn last write, and take an exclusive lock (flock on "<path>.lock") for the
 * life of the handle. restart = true discards what the file holds (atomically: a new file replaces
 * it). On success *out owns the journal (dl_journal_close). On failure *out is NULL, err gets a
 * message for the user, and the result is:
 *   DL_ERR_INVALID      the file belongs to another identity, is not a journal, or is locked by
 *                       another process (the message says to pass --restart or --journal PATH);
 *   DL_ERR_UNSUPPORTED  written by a newer ddbload (format > DL_JOURNAL_FORMAT);
 *   DL_ERR_IO           a file system error; DL_ERR_NOMEM; DL_ERR_TOO_LARGE (identity too long). */
enum dl_err dl_journal_open(const char *path, const char *identity, bool restart,
                            struct dl_journal **out, char *err, size_t errlen);

/* Flush (as dl_journal_flush), release the lock and free everything. Returns the flush result;
 * j is freed whatever it is, so dl_journal_error cannot be called after it: to report the
 * message, call dl_journal_flush (and dl_journal_error if it fails) first. NULL: DL_OK. */
enum dl_err dl_journal_close(struct dl_journal *j);

/* What the journal knows of (source, version). Pure query. */
enum dl_journal_state dl_journal_object_state(struct dl_journal *j, const char *source,
                                              const char *version);

/* Is record record_no of (source, version) acknowledged? true for every record of a DONE object,
 * false for any record of a NEW or CHANGED one. O(log ranges). For re-reading a large object,
 * dl_journal_acked_ranges + dl_journal_ranges_has is cheaper (no lock, no hashing per record). */
bool dl_journal_record_done(struct dl_journal *j, const char *source, const char *version,
                            uint64_t record_no);

/* A snapshot of the acknowledged records of one object. */
struct dl_journal_range {
    uint64_t first, last; /* inclusive, 1-based */
};
struct dl_journal_ranges {
    struct dl_journal_range *v; /* sorted, disjoint, never adjacent (coalesced); owned */
    size_t n;
    bool all;       /* DONE: every record counts as acknowledged (v is empty) */
    uint64_t total; /* records in the object if dl_journal_object_complete was called, else 0 */
    size_t hint;    /* cursor of dl_journal_ranges_has; 0 initially */
};
/* Copy what is acknowledged of (source, version) into out (freed with dl_journal_ranges_free;
 * out is overwritten, not freed, first). NEW/CHANGED objects give n = 0, all = false.
 * DL_ERR_NOMEM. */
enum dl_err dl_journal_acked_ranges(struct dl_journal *j, const char *source, const char *version,
                                    struct dl_journal_ranges *out);
/* Is record_no in the snapshot? Amortised O(1) when asked in ascending order, O(log n) otherwise. */
bool dl_journal_ranges_has(struct dl_journal_ranges *r, uint64_t record_no);
/* Append "1-1000000,1000105-1000210" ("all" for a DONE object, "" when empty) to out. */
enum dl_err dl_journal_ranges_format(const struct dl_journal_ranges *r, struct dl_buf *out);
void dl_journal_ranges_free(struct dl_journal_ranges *r);

/* Records first..last (inclusive, 1 <= first <= last < UINT64_MAX) of (source, version) are
 * durably handled: acknowledged by DynamoDB, superseded by a later write for the same key, or
 * written to the dead-letter file. Call in any order (ranges are coalesced in memory); acks for
 * a DONE object are ignored; an ack for another version than the journal's restarts the object
 * under that version. In memory until the next dl_journal_flush.
 * DL_ERR_INVALID (bad range or names too long), DL_ERR_NOMEM. */
enum dl_err dl_journal_ack(struct dl_journal *j, const char *source, const char *version,
                           uint64_t first_record, uint64_t last_record);

/* Every record of (source, version) has been read: there were total_records (0 is allowed). Once
 * 1..total are all acknowledged (already, or by later acks) the object is DONE, which the next
 * flush records in one line and which frees its ranges. DL_ERR_NOMEM / DL_ERR_INVALID. */
enum dl_err dl_journal_object_complete(struct dl_journal *j, const char *source,
                                       const char *version, uint64_t total_records);

/* A small persistent string map for other features (e.g. key-sequence assignments). value NULL
 * deletes key. Persisted by the next flush; survives compaction; discarded by restart.
 * DL_ERR_INVALID (too long), DL_ERR_NOMEM. */
enum dl_err dl_journal_put_meta(struct dl_journal *j, const char *key, const char *value);
/* Copy key's value into out (reset first). DL_ERR_NOT_FOUND if absent, DL_ERR_NOMEM. */
enum dl_err dl_journal_get_meta(struct dl_journal *j, const char *key, struct dl_buf *out);

/* Append what changed since the last flush as one batch in one write, then fsync the file; then
 * compact when the file has grown past ratio x its live content (dl_journal_set_compaction).
 * No-op when nothing changed. When it returns DL_OK, everything acked before the call is durable.
 * DL_ERR_IO (message via dl_journal_error): nothing is lost from memory; the next flush rewrites
 * the whole file instead of appending. */
enum dl_err dl_journal_flush(struct dl_journal *j);

/* Rewrite the file from the live state now (temp file, fsync, rename, fsync the directory). */
enum dl_err dl_journal_compact(struct dl_journal *j);

/* Compaction policy: a flush compacts when the file exceeds min_bytes AND ratio x the live
 * state's size. Defaults 1 MiB and 4. ratio < 2 is taken as 2. */
void dl_journal_set_compaction(struct dl_journal *j, size_t min_bytes, unsigned ratio);

/* Copy the message of the last failed flush/compaction into buf (NUL-terminated); false if none. */
bool dl_journal_error(struct dl_journal *j, char *buf, size_t n);

struct dl_journal_stats {
    uint64_t objects_done;    /* sources whose current version is DONE */
    uint64_t objects_partial; /* sources with some state that are not DONE */
    uint64_t meta_keys;
    uint64_t file_bytes;      /* size of the journal file now */
    uint64_t loaded_lines;    /* lines read at open (header included) */
    uint64_t torn_bytes;      /* bytes cut off at open (a torn or uncommitted last write), 0 normally */
    uint64_t flushes;         /* flushes that wrote something */
    uint64_t compactions;
};
void dl_journal_stats_get(struct dl_journal *j, struct dl_journal_stats *out);

/* The path given to dl_journal_open (owned by the journal). */
const char *dl_journal_path(const struct dl_journal *j);

#endif
