/* Decode one object (or file) into items: detect the format, unpack containers (zip, gzip,
 * zstd), read records (CSV/TSV, JSON, NDJSON, DynamoDB JSON), map each to a DynamoDB item,
 * and hand items and rejected records to a sink, in source order.
 *
 * A record that cannot become an item is rejected with a message that names the object
 * (and zip entry), the line and the column, and its raw text; the rest of the object still
 * decodes. An object (or zip entry) that cannot be read at all is reported once through
 * sink->skip with its reason. */
#ifndef DL_DECODE_DECODE_H
#define DL_DECODE_DECODE_H

#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "decode/format.h"
#include "item/item.h"
#include "item/transform.h"
#include "pump/deadletter.h"
#include "unpack/zip.h"

struct dl_decode_opts {
    enum dl_format format;             /* DL_FMT_AUTO: by name, then by content */
    const struct dl_key_schema *ks;    /* key schema applied to items (n == 0: none) */
    char delimiter;                    /* CSV field separator override (0 = by format) */
    struct dl_zip_limits zip;          /* zip-bomb guards (zeros = defaults) */
    uint64_t max_expanded;             /* cap for a decompressed .gz/.zst object (0 = 64 GiB) */
    size_t spill_mem;                  /* decompressed data past this goes to a temp file (0 = 64 MiB) */
    char quote;                        /* CSV quote character (0 = '"') */
    bool no_quote;                     /* CSV: quoting off, every byte literal */
    const struct dl_cursor *columns;   /* header-less CSV: the attribute names (ncolumns; NULL = */
    size_t ncolumns;                   /* the first row is the header) */
    /* Per-record transforms (NULL = none): records are built without a key schema, then
     * dl_transform_apply makes the final item under ks (or the table a manifest routes to). */
    const struct dl_transform *xform;
    /* --key-seq numbers, handed to the transform (see struct dl_transform_ctx) */
    enum dl_err (*next_seq)(void *seq_ctx, uint64_t *out);
    void *seq_ctx;
    /* Parallel decoding: a CSV/TSV object (its rows after the header) or an NDJSON object at
     * least parallel_min bytes long is cut into chunks at record boundaries, decoded on
     * `threads` threads and handed to the sink in source order, exactly as one thread would
     * (the same items, rejects, record numbers, lines and messages; transforms and --key-seq
     * run on the calling thread, in record order). docs/architecture.md. */
    int threads;                       /* 0 = auto (online CPUs, at most 8); 1 (or < 0) = off */
    size_t parallel_min;               /* 0 = 16 MiB */
    size_t chunk_size;                 /* bytes per chunk (0 = 4 MiB) */
};

struct dl_manifest_entry;

struct dl_decode_sink {
    /* An item ready to write. Returning non-OK stops decoding of this object. */
    enum dl_err (*item)(void *ctx, const struct dl_item *it, const struct dl_origin *o);
    /* A record rejected: reason is a full message ("orders.csv line 3 column 7: ..."). */
    enum dl_err (*reject)(void *ctx, const struct dl_origin *o, const char *reason, struct dl_cursor raw);
    /* An object or zip entry that could not be decoded at all. */
    enum dl_err (*skip)(void *ctx, const struct dl_origin *o, const char *reason);
    /* Optional: a zip's manifest names a table for a data entry. Return the key schema to map
     * it with (the table's own, after creating it if needed), or NULL with a reason in err to
     * skip the entry. Items of the entry then carry origin->table = me->table. Without this
     * callback, manifests are ignored and everything goes to the default table. */
    const struct dl_key_schema *(*route)(void *ctx, const struct dl_manifest_entry *me, char *err, size_t errlen);
    /* Optional media side-load. media_rule tells whether a zip entry is a media file (its rule,
     * >= 0) or not (-1); top is the zip's single top folder with its '/' ("" if none). A zip's
     * media files are handed to media, one by one, before any of its records is decoded (bytes
     * are borrowed for the call), then media_done is called once; media_end is called once all
     * of the zip's records are decoded. An error from media/media_done stops this object. */
    int (*media_rule)(void *ctx, const char *entry, const char *top);
    enum dl_err (*media)(void *ctx, const struct dl_origin *o, int rule, struct dl_cursor bytes);
    enum dl_err (*media_done)(void *ctx, const struct dl_origin *o);
    void (*media_end)(void *ctx, const struct dl_origin *o);
    /* Optional, with media_rule: the zip's records are first decoded once only to show each
     * item (after transforms) to media_note, so that every name is known before any media file
     * is handed over; nothing else of that pass reaches the sink (no rejects, skips or --key-seq
     * numbers). */
    enum dl_err (*media_note)(void *ctx, const struct dl_item *it);
    void *ctx;
};

struct dl_decode_stats {
    uint64_t records;   /* records seen (items + rejects) */
    uint64_t items;     /* items handed to the sink */
    uint64_t rejected;  /* records rejected */
    uint64_t skipped;   /* objects/entries skipped */
    uint64_t entries;   /* zip entries decoded */
};

struct dl_decoder;

struct dl_spill;

struct dl_decoder *dl_decoder_new(const struct dl_decode_opts *o);
/* The next object's bytes are the view of this spill (a mapped file, maybe): pages the decoder
 * has finished with are given back as it goes. NULL for plain memory. */
void dl_decoder_set_spill(struct dl_decoder *d, struct dl_spill *s);
/* The next object's identity for --set templates ({bucket}, {key}, {etag}); strings are copied.
 * NULL = "". */
enum dl_err dl_decoder_set_object(struct dl_decoder *d, const char *bucket, const char *key, const char *etag);
void dl_decoder_destroy(struct dl_decoder *d);

/* Decode `bytes` of the object called `source` (used in messages and origins; its last path
 * component also drives format detection). Statistics are added to st. Returns DL_OK when the
 * object was processed (even if records were rejected or it was skipped), or the sink's error. */
enum dl_err dl_decode_object(struct dl_decoder *d, const char *source, struct dl_cursor bytes,
                             const struct dl_decode_sink *sink, struct dl_decode_stats *st);
/* The same with a format for this object only (DL_FMT_AUTO: the decoder's own option). */
enum dl_err dl_decode_object_as(struct dl_decoder *d, const char *source, struct dl_cursor bytes,
                                enum dl_format format, const struct dl_decode_sink *sink,
                                struct dl_decode_stats *st);

#endif
