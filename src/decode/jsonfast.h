/* Fast JSON records -> DynamoDB items, in the simdjson manner (docs/simd-json.md).
 *
 * Stage 1 (a SIMD kernel from src/decode/arch/, chosen once from dl_cpu_level()) indexes a
 * window of the input: structural bytes, string starts and scalar starts, with UTF-8 and
 * control bytes checked in the same pass. Stage 2 walks the index and writes each record's
 * DynamoDB JSON straight into the item (no DOM), summing the item size and taking the key
 * attributes as it goes. Windows are a few hundred KB, so NDJSON and top-level arrays stream.
 *
 * Contract: byte-identical to the scalar composition dl_jsonrec_next + dl_item_from_json (or
 * dl_item_from_ddb_json for DL_JSONFAST_DDB) on every input: the same statuses in the same
 * order; for ITEM the same it->wire, it->key, it->key_wire and it->size; for ERROR/FATAL the
 * same err->code, msg, offset, line, column and the same info fields (value is always NULL).
 * A record that parses but cannot become an item is an ERROR carrying the builder's message,
 * code (DL_ERR_INVALID, DL_ERR_TOO_LARGE, or DL_ERR_NOMEM: stop then), offset = record offset +
 * the builder's offset, and line/column of that offset (column 0 and the record's line when
 * the builder's offset is 0), exactly as decode.c reports it.
 * Any record the fast path does not fully handle (syntax or mapping errors, duplicate member
 * names, escaped member names, B/SS/NS/BS values, records over 8 MiB, ...) is decoded by the
 * scalar reference itself, so identity never rests on re-implemented error messages. */
#ifndef DL_DECODE_JSONFAST_H
#define DL_DECODE_JSONFAST_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "core/err.h"
#include "decode/jsonrec.h"
#include "item/item.h"

/* Cap of the arena the scalar fallback parses one record into: the same as decode.c's, so
 * "does not fit in memory" errors happen exactly where the scalar composition has them. */
#define DL_JSONFAST_ARENA_CAP ((size_t)512 << 20)

enum dl_jsonfast_kind {
    DL_JSONFAST_PLAIN, /* plain JSON objects, like dl_item_from_json */
    DL_JSONFAST_DDB,   /* typed items {"pk":{"S":"a"}}, like dl_item_from_ddb_json */
};

struct dl_jsonfast;

/* Start reading p[0..len) (borrowed, as is ks: both must outlive the reader). No padding past
 * len is needed (the last partial block is copied). mode as for dl_jsonrec_new; ks may be NULL
 * (no key handling). DL_ERR_INVALID for a bad mode or kind, DL_ERR_NOMEM. */
enum dl_err dl_jsonfast_new(const uint8_t *p, size_t len, enum dl_jsonrec_mode mode,
                            enum dl_jsonfast_kind kind, const struct dl_key_schema *ks,
                            struct dl_jsonfast **out);

/* Next record. ITEM: it holds the item (it must be dl_item_init'ed; it is reset first).
 * ERROR/FATAL: err says why and where (see above), info->raw is the record's text. info gets
 * record, line, column, offset and raw for ITEM, ERROR and FATAL. END: nothing more. */
enum dl_jsonrec_status dl_jsonfast_next(struct dl_jsonfast *r, struct dl_item *it,
                                        struct dl_jsonrec_out *info, struct dl_pos_err *err);

void dl_jsonfast_destroy(struct dl_jsonfast *r);

/* Counters, for tests and benchmarks: records built by stage 2, records handed to the scalar
 * path, and stage 1 windows indexed. */
struct dl_jsonfast_stats {
    uint64_t fast;
    uint64_t fallback;
    uint64_t windows;
    uint64_t indexed_bytes;
};
void dl_jsonfast_stats(const struct dl_jsonfast *r, struct dl_jsonfast_stats *out);

/* For tests: index windows of about this many bytes (rounded down to 64, at least 64) instead
 * of the default, so window boundaries fall inside small inputs. Windows under 4 KiB also make
 * stage 2 check for room before every write (normally it reserves the worst case once), so
 * both output code paths are exercised. */
void dl_jsonfast_tune(struct dl_jsonfast *r, size_t window);

/* For tests and benchmarks: use the stage 1 kernel for level instead of dl_cpu_level()'s
 * (call before the first dl_jsonfast_next). -1 (and nothing changes) if this build has no
 * kernel for level or the CPU lacks it (dl_cpu_has). */
int dl_jsonfast_use_level(struct dl_jsonfast *r, enum dl_simd_level level);

/* Name of the stage 1 kernel the reader uses ("scalar", "sse42", "avx2", "avx512", "neon"). */
const char *dl_jsonfast_kernel(const struct dl_jsonfast *r);

#endif
