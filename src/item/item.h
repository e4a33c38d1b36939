/* Items: records mapped to DynamoDB's AttributeValue JSON, with their key and size.
 *
 * Three builders turn one record into a struct dl_item: plain JSON objects, CSV rows and
 * items already in DynamoDB JSON. All three validate against DynamoDB's rules before
 * anything is sent (types, numbers, key presence/type/size, 400 KB item size, 32 levels
 * of nesting) and compute the same canonical key bytes for the same item, so the writer
 * can dedupe keys and match UnprocessedItems back to what it sent. The rules and their
 * sources are in docs/mapping.md.
 *
 * Errors: a record that cannot become an item gives DL_ERR_INVALID (bad type, number,
 * key, name, nesting) or DL_ERR_TOO_LARGE (item over 400 KB, key over its limit), with a
 * reason in why->msg that names the attribute ("attribute 'a.b[2]': ..." for a value
 * inside maps/lists). why->line is left 0: the builders do not know where the record
 * came from. why->offset is the offending DOM node's offset (JSON builders; the record's own
 * offset when the problem is the record as a whole; 0 for CSV) and why->column the 1-based
 * field index of the failing cell (CSV; 0 otherwise).
 * DL_ERR_NOMEM is returned when memory runs out. After any error the item's buffers hold
 * unspecified partial content; reset or rebuild it. */
#ifndef DL_ITEM_ITEM_H
#define DL_ITEM_ITEM_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/json.h"

#define DL_ITEM_MAX_SIZE ((size_t)409600)     /* 400 KB, DynamoDB's item size limit */
#define DL_ITEM_MAX_DEPTH 32                  /* levels of L/M nesting; top-level value = 1 */
#define DL_KEY_HASH_MAX 2048                  /* partition key value, bytes */
#define DL_KEY_RANGE_MAX 1024                 /* sort key value, bytes */
#define DL_ATTR_NAME_MAX 65535                /* attribute name, bytes ("less than 64 KB") */
#define DL_ITEM_WIRE_CAP ((size_t)16 << 20)   /* a wire form past BatchWriteItem's 16 MB can't be sent */

struct dl_key_attr {
    char *name;      /* owned by whoever built the schema; need not be NUL-terminated */
    size_t name_len;
    char type;       /* 'S', 'N' or 'B' */
};

struct dl_key_schema {
    int n;                   /* 0 (no table known), 1 or 2 */
    struct dl_key_attr k[2]; /* k[0] HASH (partition key), k[1] RANGE (sort key) */
};

struct dl_item {
    struct dl_buf wire;     /* the Item map in DynamoDB JSON: {"a":{"S":"x"},"n":{"N":"1"}},
                               members in source order, no whitespace */
    struct dl_buf key;      /* canonical key bytes: equal iff DynamoDB would address the same
                               item (types included; N keys canonicalised); empty if ks->n == 0 */
    struct dl_buf key_wire; /* DynamoDB JSON map of just the key attributes, in key schema
                               order (for DeleteRequest and matching); empty if ks->n == 0 */
    size_t size;            /* DynamoDB item size in bytes */
    bool del;               /* write a DeleteRequest for key_wire instead of a PutRequest (set by
                               --op-field through dl_transform_apply; false from every builder) */
    /* private: scratch space reused from record to record */
    struct dl_buf scratch;
};

/* Prepare an empty item (allocates nothing). Every init needs a dl_item_free. */
void dl_item_init(struct dl_item *it);
/* Empty the item, keeping its storage for the next record. */
void dl_item_reset(struct dl_item *it);
/* Release the storage; the item is left empty and may be reused. */
void dl_item_free(struct dl_item *it);

/* Write capacity units for one write of an item of this size: ceil(size / 1024), at least 1. */
size_t dl_item_wcu(size_t size);

/* Plain JSON object -> item. string->S, number->N (validated, text kept as written),
 * true/false->BOOL, null->NULL, array->L, object->M. Empty strings, lists and maps are
 * kept. Duplicate member names (at any level): the last one wins and is emitted at the
 * position of its last occurrence. Key attributes (by ks) take the schema type: S from a
 * string, or from a number's text; N from a number or a string holding a valid number;
 * B from a string's bytes (base64 on the wire). Other key sources, empty S/B keys and
 * oversized keys are rejected. With ks->n == 0 there is no key handling. The DOM is only
 * read; the item does not point into it. */
enum dl_err dl_item_from_json(struct dl_item *it, const struct dl_json *obj,
                              const struct dl_key_schema *ks, struct dl_pos_err *why);

/* CSV row -> item: names[i]/values[i] for i < n. Every cell becomes S; an empty cell omits
 * the attribute, except an empty key cell, which rejects the row. Key columns convert as
 * in dl_item_from_json (an N key needs a valid JSON-grammar number: "042" is rejected).
 * Duplicate column names: the last non-empty cell wins, at its position. Names and S
 * values must be valid UTF-8 (B key cells may hold any bytes); a failing cell sets
 * why->column to its 1-based field index. */
enum dl_err dl_item_from_csv(struct dl_item *it, const struct dl_cursor *names,
                             const struct dl_cursor *values, size_t n,
                             const struct dl_key_schema *ks, struct dl_pos_err *why);

/* Item already in DynamoDB JSON ({"pk":{"S":"a"},"n":{"N":"5"},...}) -> item. Every value
 * must have exactly one type key among S N B BOOL NULL SS NS BS L M with a value of the
 * right JSON type; numbers are checked, base64 is checked (and re-encoded canonically,
 * with padding, on the wire), NULL must be true, sets must be non-empty and without
 * duplicates (NS by numeric value, BS by decoded bytes), key attributes must have the
 * schema's type. The wire output re-parsed by this function gives the same wire and size. */
enum dl_err dl_item_from_ddb_json(struct dl_item *it, const struct dl_json *obj,
                                  const struct dl_key_schema *ks, struct dl_pos_err *why);

/* Canonical key bytes (as in dl_item.key) from a DynamoDB JSON item or key map, e.g. an
 * UnprocessedItems PutRequest.Item or DeleteRequest.Key, APPENDED to key (reset it first
 * for a single key). Only the key attributes are looked at. DL_ERR_INVALID, with key back
 * at its length on entry, if ks has no keys, or a key attribute is missing, not of the
 * schema's type, empty or invalid; DL_ERR_NOMEM/DL_ERR_TOO_LARGE from the buffer. */
enum dl_err dl_item_key_from_ddb_json(const struct dl_json *keymap_or_item,
                                      const struct dl_key_schema *ks, struct dl_buf *key);

/* ---- CSV rows against a prepared header
 * Every row of a CSV file has the same names and key schema, so what depends only on them
 * (each column's `"name":{"S":"` JSON, which columns are keys, whether the names are usable)
 * is worked out once by dl_item_csv_header_new; dl_item_from_csv_prepared then builds each
 * row with exactly the wire, key, key_wire, size, return code and why->code/offset/line/
 * column/msg that dl_item_from_csv(it, names, values, n, ks, why) gives, several times
 * faster. Rows the fast path does not take (errors, oversized items, headers with repeated,
 * empty or non-UTF-8 names) are built by dl_item_from_csv itself. */
struct dl_item_csv_header;

/* Prepare names[0..n) and ks (ks may be NULL: no key). Both are copied: the caller may free
 * them at once. *out belongs to the caller (dl_item_csv_header_destroy); it is only read
 * afterwards, so threads may share one. DL_ERR_INVALID if ks->n is not 0, 1 or 2;
 * DL_ERR_NOMEM. Names dl_item_from_csv would reject are accepted here: rows then fail (or
 * resolve duplicates) exactly as there. */
enum dl_err dl_item_csv_header_new(const struct dl_cursor *names, size_t n, const struct dl_key_schema *ks,
                                   struct dl_item_csv_header **out);
void dl_item_csv_header_destroy(struct dl_item_csv_header *h);

/* CSV row values[0..n) -> item, as dl_item_from_csv with the header's names and key schema.
 * n must be the header's column count (DL_ERR_INVALID otherwise, why says so). The values
 * are only read, and not past their ends. On success why (may be NULL) has code DL_OK, no
 * position and an empty msg, but unlike dl_item_from_csv the rest of its msg array is not
 * zeroed. */
enum dl_err dl_item_from_csv_prepared(struct dl_item *it, const struct dl_item_csv_header *h,
                                      const struct dl_cursor *values, size_t n, struct dl_pos_err *why);

/* The header's column count. */
size_t dl_item_csv_header_columns(const struct dl_item_csv_header *h);

/* A plain CSV record -> item: what dl_item_from_csv_prepared builds from its fields, without
 * them. rec[0..len) holds the header's n fields one `delim` byte apart, unquoted: field i is
 * rec[ends[i-1] + 1 .. ends[i]) (ends[-1] taken as -1, ends[n-1] == len). rec[0..readable)
 * may be read (readable >= len). True when built. False, with the item in no particular
 * state, when the record is not for this path (a byte that needs JSON escaping or UTF-8
 * validation, a missing, empty or invalid key, an item over the size limit, a header the
 * fast path does not take, no memory): the caller then makes the fields and asks
 * dl_item_from_csv_prepared, which builds the item or says what is wrong. */
bool dl_item_from_csv_plain(struct dl_item *it, const struct dl_item_csv_header *h, const uint8_t *rec, size_t len,
                            const uint32_t *ends, uint8_t delim, size_t readable);

#endif
