/* Chunked parallel decode: split one large CSV/TSV or NDJSON buffer into chunks at record
 * boundaries, decode the chunks on N threads, and hand the results on in source order.
 *
 * 1. A plan (dl_chunk_plan_csv / dl_chunk_plan_ndjson) cuts p[start..len) into chunks of
 *    about chunk_size bytes. Every cut is just after a line break that ends a record in a
 *    sequential read of the whole input, so each chunk holds whole records, and every chunk
 *    knows the line number of its first byte:
 *    - NDJSON: after any '\n' (a JSON string cannot hold a raw newline, and in NDJSON mode
 *      every value lies within one line); lines count '\n' as dl_jsonrec does.
 *    - CSV: after a line break outside quotes. A stage-1 pre-pass (the SIMD kernels of
 *      dl_csvfast) carries the quote parity through the input, so a quoted line break never
 *      splits a record; a record whose quotes the parity cannot describe (a quote inside an
 *      unquoted field, text after a closing quote) is read by the scalar reader to find where
 *      it really ends. Lines count "\n", "\r\n" and a lone "\r" as dl_csv does.
 *    No chunk starts with the bytes of a UTF-8 BOM (the cut moves to the next line break), so
 *    a reader started on p + off skips nothing a sequential reader keeps.
 *    Record numbers depend on how records parse, so a plan does not know them: the consumer
 *    keeps a running count (records of chunk i = records before it + its own 1-based index).
 *
 * 2. dl_chunked_run maps a worker over the chunks on nthreads threads and calls the consumer
 *    on the calling thread in chunk order. Results live in caller-made slots, at most
 *    max_slots of them (2 * nthreads by default): a worker waits before decoding chunk i
 *    until chunk i - max_slots has been consumed, so memory stays bounded whatever the sizes.
 *
 * Decoding a CSV chunk: dl_csvfast_new_range(p, c->off, c->off + c->len, c->line, ...) gives
 * rows with offsets, lines, errors and messages of the whole input (dl_csv on p + c->off
 * gives the same fields and raws; add c->off to offsets and c->line - 1 to lines).
 * Decoding an NDJSON chunk: a reader on p + off, with c->line - 1 added to its lines. */
#ifndef DL_DECODE_CHUNKED_H
#define DL_DECODE_CHUNKED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "decode/csv.h"

#define DL_CHUNK_DEFAULT_SIZE ((size_t)8 << 20)

struct dl_chunk {
    size_t index;  /* 0-based position in source order */
    size_t off;    /* the chunk is p[off .. off + len) */
    size_t len;
    uint64_t line; /* line number (1-based) of p[off] in the whole input */
};

struct dl_chunk_plan {
    struct dl_chunk *chunks; /* owned; free with dl_chunk_plan_free */
    size_t n;
};

/* Plan CSV/TSV chunks of p[start..len). start must be a record boundary (0, just after a line
 * break outside quotes, or the terminator of the record before) and line the line of p[start]
 * (e.g. the end of the header row and its line). opts as for dl_csv (NULL: defaults); only
 * the delimiter and quote matter. chunk_size 0 = DL_CHUNK_DEFAULT_SIZE. The chunks cover
 * p[start..len) exactly, in order; an empty range gives no chunk. DL_ERR_INVALID (options),
 * DL_ERR_NOMEM. */
enum dl_err dl_chunk_plan_csv(const uint8_t *p, size_t len, size_t start, uint64_t line,
                              const struct dl_csv_opts *opts, size_t chunk_size,
                              struct dl_chunk_plan *plan);

/* Plan NDJSON chunks of p[start..len); start 0 or just after a '\n', line its line number. */
enum dl_err dl_chunk_plan_ndjson(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                 size_t chunk_size, struct dl_chunk_plan *plan);

void dl_chunk_plan_free(struct dl_chunk_plan *plan);

/* The same cuts made on demand, one chunk at a time, so that planning reads the input only a
 * little ahead of the decoding (a consumer that gives pages of a mapped file back behind it
 * keeps few of them resident). Arguments and errors as for the plans above; the planner
 * borrows p and copies opts. *out belongs to the caller (dl_chunk_planner_destroy). */
struct dl_chunk_planner;
enum dl_err dl_chunk_planner_new_csv(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                     const struct dl_csv_opts *opts, size_t chunk_size,
                                     struct dl_chunk_planner **out);
enum dl_err dl_chunk_planner_new_ndjson(const uint8_t *p, size_t len, size_t start, uint64_t line,
                                        size_t chunk_size, struct dl_chunk_planner **out);
/* The next chunk (index 0, 1, 2, ...): DL_OK with *end false and *c set, DL_OK with *end true
 * when there are no more, or DL_ERR_NOMEM. */
enum dl_err dl_chunk_planner_next(struct dl_chunk_planner *pl, struct dl_chunk *c, bool *end);
void dl_chunk_planner_destroy(struct dl_chunk_planner *pl);

struct dl_chunk_fns {
    /* Make the storage for one chunk's results (reused for chunk after chunk); NULL = out of
     * memory. Called on the calling thread. */
    void *(*slot_new)(void *ctx);
    void (*slot_free)(void *ctx, void *slot);
    /* Decode chunk c of p into slot (left as the previous chunk's consumer left it). Runs on
     * a worker thread, concurrently with other chunks' work and with consume. A non-OK result
     * is reported, in order, instead of consuming this chunk. */
    enum dl_err (*work)(void *ctx, const uint8_t *p, const struct dl_chunk *c, void *slot);
    /* Take chunk c's results: called on the calling thread, for chunk 0, 1, 2, ... in order. */
    enum dl_err (*consume)(void *ctx, const struct dl_chunk *c, void *slot);
};

/* Run the plan: nthreads worker threads (0: everything on the calling thread, one chunk at a
 * time), at most max_slots chunks decoded but not yet consumed (0: 2 * nthreads, at least 1).
 * Returns DL_OK after every chunk was consumed, or the first error in chunk order (from work
 * or consume; later chunks are then neither consumed nor, once noticed, decoded), DL_ERR_NOMEM
 * if slots or threads cannot be made. */
enum dl_err dl_chunked_run(const uint8_t *p, size_t len, const struct dl_chunk_plan *plan, int nthreads,
                           size_t max_slots, const struct dl_chunk_fns *fns, void *ctx);

/* The same over a planner's chunks, made as workers ask for them (under the run's lock, at
 * most max_slots + 1 chunks ahead of the consumer). A planner error is reported in order, as
 * chunk i's. The planner is used up, not destroyed. */
enum dl_err dl_chunked_run_planner(const uint8_t *p, struct dl_chunk_planner *planner, int nthreads,
                                   size_t max_slots, const struct dl_chunk_fns *fns, void *ctx);

#endif
