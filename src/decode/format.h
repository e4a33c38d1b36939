/* Input formats: the --format names, and detection of an object's format from its name
 * and its first bytes. Pure functions, no allocation, safe from any thread. */
#ifndef DL_DECODE_FORMAT_H
#define DL_DECODE_FORMAT_H

#include <stdbool.h>

#include "core/buf.h"
#include "core/err.h"

enum dl_format {
    DL_FMT_AUTO,       /* detect per object (the --format default) */
    DL_FMT_CSV,
    DL_FMT_TSV,
    DL_FMT_JSON,       /* one object, or a top-level array of objects */
    DL_FMT_NDJSON,     /* one object per line */
    DL_FMT_DDB_JSON,   /* typed items, {"pk":{"S":"a"}} */
    DL_FMT_DDB_EXPORT, /* DynamoDB export to S3: {"Item":{...}} per line */
    DL_FMT_JS,         /* JavaScript literal: module.exports = [ {Name: 'X'}, ] */
    DL_FMT_ZIP,        /* containers and compression: unpack, then detect again inside */
    DL_FMT_GZIP,
    DL_FMT_ZSTD,
    DL_FMT_UNKNOWN,
};

/* Parse a --format value: auto|csv|tsv|json|ndjson|ddb-json|ddb-export|js (ASCII case
 * ignored). Container formats are not accepted: they are always detected.
 * DL_ERR_INVALID for anything else (including NULL); *out is then left unchanged. */
enum dl_err dl_format_parse(const char *name, enum dl_format *out);

/* Static name of a format: the --format spelling for the data formats, "zip", "gzip", "zstd",
 * "unknown" for the others. Never NULL. */
const char *dl_format_name(enum dl_format f);

/* True for DL_FMT_ZIP, DL_FMT_GZIP and DL_FMT_ZSTD. */
bool dl_format_is_container(enum dl_format f);

/* Detect the format of an object named `name` (a key or path; only the last component
 * matters) whose first bytes are `head` (give a few KiB when you can; may be empty).
 *  1. Magic bytes of zip, gzip or zstd in head win: they cannot start a text file.
 *  2. Then the extension, ASCII case ignored: .csv; .tsv .tab; .json; .ndjson .jsonl;
 *     .js .mjs .cjs; .zip; .gz .gzip; .zst .zstd (a container extension whose head lacks the
 *     magic is sniffed as below, unless head is empty).
 *  3. Otherwise (no extension, .txt, .dat, anything else) sniff head after a UTF-8 BOM and
 *     whitespace: '{' or '[' -> JSON, or NDJSON when the first line is a complete object and
 *     the next non-blank line starts with '{'; `module.exports`, `export ...`, `const|let|var
 *     x =`, or a leading comment -> JS; a first line with a tab and no comma -> TSV; other
 *     text -> CSV; binary or empty -> UNKNOWN.
 * Never returns DL_FMT_AUTO, DDB_JSON or DDB_EXPORT: typed JSON is recognised by the JSON
 * decoder or chosen with --format. */
enum dl_format dl_format_detect(struct dl_cursor name, struct dl_cursor head);

/* The name without one trailing compression extension (.gz .gzip .zst .zstd, case ignored),
 * for detecting the format inside: "a.csv.gz" -> "a.csv". Returns name unchanged otherwise.
 * The result is a prefix of name (same pointer). */
struct dl_cursor dl_format_inner_name(struct dl_cursor name);

#endif
