/* Archive manifests: which table (and key schema) each data file of a zip goes to.
 *
 * Two shapes (docs/manifests.md has the full format, every accepted spelling and examples):
 *  (a) one manifest file, `manifest.json` at the archive's root (or inside the single top-level
 *      folder that holds everything), listing the files:
 *        {"files": [{"file": "orders.csv", "table": "Orders", "partition_key": "order_id",
 *                    "sort_key": "line_no", "key_types": {"order_id": "S", "line_no": "N"}}]}
 *      The list may also sit under "tables" or "items", be the whole document (a top-level
 *      array), or be an object keyed by file name ({"files": {"orders.csv": {...}}}); a
 *      manifest that is one such object with a "file" describes that one file.
 *  (b) a sidecar per data file: orders.csv + orders.json (or orders.csv.json) in the same folder,
 *      holding the same fields without "file".
 * Field names are matched with ASCII case, '_', '-' and ' ' ignored, so table / tablename /
 * table_name / tableName / TableName are one field; likewise partition_key / pk / hash_key /
 * hashKey / partitionKey / PartitionKey and sort_key / sk / range_key / rangeKey / sortKey /
 * SortKey. A key is a name string or an object {"name": "id", "type": "N"} (or
 * {"AttributeName": ..., "AttributeType": ...}); types come from the key object, from
 * "key_types" / "keyTypes", or from DynamoDB's own KeySchema + AttributeDefinitions; they
 * default to S. Unknown members are ignored.
 *
 * Errors are DL_ERR_PARSE with the manifest's name and the field's path in the message, and
 * the position of the offending value (its first byte) in the dl_pos_err:
 *   "manifest.json files[2]: no table name (expected one of table, tablename, table_name, ...)"
 * A struct dl_manifest is built by one thread; once built, dl_manifest_match and the getters
 * may be called from any number of threads at once. */
#ifndef DL_DECODE_MANIFEST_H
#define DL_DECODE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* a manifest.json larger than this is refused */
#define DL_MANIFEST_MAX_SIZE ((size_t)16 << 20)
/* a .json larger than this is data, never a sidecar */
#define DL_MANIFEST_SIDECAR_MAX ((size_t)1 << 20)

struct dl_manifest_key {
    const char *name; /* NUL-terminated UTF-8 attribute name, owned by the manifest; NULL if
                       * there is no such key (sort key only) */
    char type;        /* 'S' (the default), 'N' or 'B' */
};

struct dl_manifest_entry {
    const char *file;   /* path inside the archive, '/'-separated, from the archive's root (a
                         * manifest's relative paths are resolved against its folder); may be a
                         * glob pattern (core/glob.h) such as "orders/part-*.csv" */
    const char *table;  /* a valid DynamoDB table name (3-255 of a-z A-Z 0-9 _ . -) */
    struct dl_manifest_key pk;
    struct dl_manifest_key sk;
    const char *source; /* where it was declared, for messages: "manifest.json files[2]",
                         * "orders.json" */
};

struct dl_manifest;

/* A new, empty manifest (*out), to free with dl_manifest_destroy. DL_ERR_NOMEM. */
enum dl_err dl_manifest_new(struct dl_manifest **out);
void dl_manifest_destroy(struct dl_manifest *m); /* NULL is fine */

size_t dl_manifest_count(const struct dl_manifest *m);
/* Entry i (0 <= i < count) in declaration order, or NULL. Valid until dl_manifest_destroy. */
const struct dl_manifest_entry *dl_manifest_get(const struct dl_manifest *m, size_t i);

/* Parse a manifest file of shape (a) and add its entries. name is its path inside the archive
 * ("manifest.json", "export/manifest.json"): it prefixes messages, and relative file paths are
 * resolved against its folder. p[0..len) need not outlive the call.
 * Errors: DL_ERR_PARSE (invalid JSON, a missing or malformed field, a file listed twice — here
 * or by an earlier call), DL_ERR_TOO_LARGE (more than 1,000,000 entries), DL_ERR_NOMEM.
 * On error the entries added by this call are removed again. */
enum dl_err dl_manifest_parse(struct dl_manifest *m, const char *name, const uint8_t *p,
                              size_t len, struct dl_pos_err *err);

/* Look at a .json file that sits beside data_file (see dl_manifest_sidecars) and, if it is a
 * sidecar — a JSON object with a table field and a partition key field (any spelling) — add its
 * entry for data_file and set *is_sidecar. Anything else (invalid JSON, an array, an object
 * without those fields) is data: *is_sidecar = false and DL_OK, nothing added.
 * Errors (*is_sidecar is then true: it is a sidecar, but a bad one): DL_ERR_PARSE for a
 * malformed field, for a "file" member that does not name data_file, or when data_file is
 * already described; DL_ERR_NOMEM. */
enum dl_err dl_manifest_parse_sidecar(struct dl_manifest *m, const char *name,
                                      const char *data_file, const uint8_t *p, size_t len,
                                      bool *is_sidecar, struct dl_pos_err *err);

/* The entry that routes the archive entry `name`, or NULL:
 *   1. an entry whose file is exactly name ('\\' and '/' are the same; a leading "./" or "/"
 *      is ignored on both sides);
 *   2. else the first entry, in declaration order, whose file is a glob pattern matching name;
 *   3. else the one entry whose file has the same base name as name, if exactly one does
 *      (a manifest listing "orders.csv" still routes "export-2024/orders.csv"). */
const struct dl_manifest_entry *dl_manifest_match(const struct dl_manifest *m, const char *name);

/* The index in names[0..n) of the archive's manifest file, or -1: "manifest.json" at the root
 * (ASCII case ignored), else "<folder>/manifest.json" when every name lies in that one
 * top-level folder (an archive made by zipping a folder). */
ptrdiff_t dl_manifest_find(const char *const *names, size_t n);

/* Pair data files with their possible sidecars, by name only: for each i, sidecar_of[i] is the
 * index of the .json file (ASCII case ignored in ".json") in the same folder named after
 * names[i] — in this order of preference "orders.csv.gz.json", "orders.csv.json", "orders.json"
 * for "orders.csv.gz" — or -1. .json files themselves get -1 (they are never paired as data).
 * Several data files may share one candidate ("orders.csv" and "orders.ndjson" with
 * "orders.json"). Whether a candidate is a sidecar depends on its content
 * (dl_manifest_parse_sidecar). DL_ERR_NOMEM. */
enum dl_err dl_manifest_sidecars(const char *const *names, size_t n, ptrdiff_t *sidecar_of);

/* What an archive entry is, as decided by dl_manifest_scan. */
enum dl_manifest_role {
    DL_MANIFEST_ROLE_DATA = 0, /* load it (the manifest may or may not describe it) */
    DL_MANIFEST_ROLE_MANIFEST, /* the manifest file: not data */
    DL_MANIFEST_ROLE_SIDECAR,  /* a sidecar: not data */
};

/* Reads entry i of the archive into out (reset it first; out's cap must be respected, failing
 * with DL_ERR_TOO_LARGE). err gets a message on failure. dl_zip_read fits in a line of glue. */
typedef enum dl_err (*dl_manifest_read_fn)(void *ctx, size_t i, struct dl_buf *out, char *err,
                                           size_t errlen);

/* Everything for one archive whose entries are names[0..n): find and parse its manifest file,
 * find its sidecars (reading each candidate once through read), add their entries to m, and
 * set roles[i] for every entry. A .json that the manifest file lists is data, never a sidecar.
 * A file described both by the manifest file and by a sidecar is an error. Use a fresh m for
 * each archive: paths (and base-name matches) only mean something within one archive.
 * Errors: those of dl_manifest_parse / dl_manifest_parse_sidecar, those of read (message
 * "reading manifest.json: ..."; a sidecar candidate too large for DL_MANIFEST_SIDECAR_MAX is
 * simply data), DL_ERR_TOO_LARGE for a manifest file over DL_MANIFEST_MAX_SIZE, DL_ERR_NOMEM. */
enum dl_err dl_manifest_scan(struct dl_manifest *m, const char *const *names, size_t n,
                             dl_manifest_read_fn read, void *ctx, enum dl_manifest_role *roles,
                             struct dl_pos_err *err);

/* 'S' 'N' 'B' as a name for messages and tables: "S", "N", "B". */
const char *dl_manifest_type_name(char type);

#endif
