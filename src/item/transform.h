/* Per-record transforms between reading a record and writing it: typed CSV cells (--types,
 * --infer-types), --rename, --drop, --set templates, --op-field (Put or Delete), and --key-seq
 * (fill a missing partition key from a sequence). The user-facing rules are in
 * docs/transforms.md.
 *
 * The decoder builds each record with an EMPTY key schema (so a key may still be missing, misnamed
 * or of the wrong type), then dl_transform_apply edits it and rebuilds the final item under the
 * table's key schema, with every check the builders make (key presence/type/size, 400 KB, ...).
 *
 * Order, for every record: 1 read --op-field (and remove it), 2 --types / --infer-types, 3 --rename,
 * 4 --drop, 5 --set, 6 --key-seq, 7 key attributes converted to the schema's types (as the builders
 * do: S from a number's text, N from a string holding a valid number), final checks. */
#ifndef DL_ITEM_TRANSFORM_H
#define DL_ITEM_TRANSFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"
#include "item/item.h"

/* What the user asked for, as given on the command line (strings are borrowed; they must outlive
 * the transform). */
struct dl_transform_spec {
    const char *const *set;      /* "NAME=TEMPLATE[:TYPE]" (TYPE S, N or BOOL; default S) */
    size_t nset;
    const char *const *rename;   /* "OLD=NEW" */
    size_t nrename;
    const char *const *drop;     /* "ATTR" or "a,b,c" */
    size_t ndrop;
    const char *const *types;    /* "NAME=TYPE[,NAME=TYPE...]": S N BOOL NULL B SS NS BS L M */
    size_t ntypes;
    bool infer_types;            /* CSV cells: numbers -> N, true/false -> BOOL (see docs) */
    char list_sep;               /* separator inside SS/NS/BS cells; 0 = ',' */
    const char *op_field;        /* NULL: every record is a Put */
    const char *op_map;          /* "I,U=put D=delete"; NULL: the default mapping (see docs) */
    const char *key_seq;         /* attribute filled from the sequence when missing; NULL: off */
};

struct dl_transform;

/* Compile a spec. A bad spec (unknown type, "=" missing, empty name, unknown placeholder, a
 * mapping that gives no op, ...) gives DL_ERR_INVALID with a message naming the option in err.
 * DL_ERR_NOMEM. On success *out is owned by the caller (dl_transform_free). */
enum dl_err dl_transform_new(const struct dl_transform_spec *spec, struct dl_transform **out,
                             char *err, size_t errlen);
void dl_transform_free(struct dl_transform *t);

/* True when the spec asks for nothing (the decoder then skips the transform entirely). */
bool dl_transform_is_empty(const struct dl_transform *t);

/* Where the record came from, for --set templates and error messages. Strings are borrowed for
 * the call; NULL is taken as "". */
struct dl_transform_ctx {
    const char *bucket;          /* {bucket}: S3 bucket, "" for local files */
    const char *key;             /* {key}: S3 key, or the local path */
    const char *etag;            /* {etag}: without quotes; "" for local files */
    uint64_t line;               /* {line}: 1-based line of the record's start (0 if unknown) */
    uint64_t record;             /* {record}: 1-based record number within the object */
    bool csv;                    /* the record is a CSV row (cells are S): --infer-types applies */
    const struct dl_cursor *columns; /* CSV header names (ncolumns of them), so an error in a cell */
    size_t ncolumns;                 /* can name its 1-based column; NULL/0 otherwise */
    /* --key-seq: gives the next number of the sequence; called once for each item that lacks the
     * attribute, in record order. Non-OK aborts the record with that error. */
    enum dl_err (*next_seq)(void *seq_ctx, uint64_t *out);
    void *seq_ctx;
};

/* Transform it (built by a dl_item builder with an empty key schema) and rebuild it as the final
 * item under ks. On success it->del tells Put (false) or Delete (true); for a Delete, it->key_wire
 * holds the key. On failure the record must be rejected: DL_ERR_INVALID / DL_ERR_TOO_LARGE with
 * why->msg naming the attribute and the problem ("attribute 'price': 'abc' is not a number") and
 * why->column set to the CSV column when ctx->columns names it; DL_ERR_NOMEM; or next_seq's error.
 * {now_ms}/{now_iso} are read from the clock per call, {uuid} is a random v4 UUID per call.
 * Reentrant: may run on several threads at once for different items. */
enum dl_err dl_transform_apply(const struct dl_transform *t, struct dl_item *it,
                               const struct dl_key_schema *ks, const struct dl_transform_ctx *ctx,
                               struct dl_pos_err *why);

#endif
