/* The write pump: turns a stream of items into BatchWriteItem requests on the network thread.
 *
 * It owns batching (<= 25 requests, <= 16 MB, never two requests for one key in a batch),
 * the ordering rule (the later record for a key wins; never two writes for one key in flight;
 * an unwritten earlier write superseded by a later one is dropped, not resent), retries of
 * UnprocessedItems, throttles, 5xx and network failures with full-jitter backoff, isolation of
 * items DynamoDB rejects (a ValidationException splits the batch until the bad item is alone),
 * and the dead-letter file for everything that cannot be written. Producers block when the
 * pump holds more than max_queued_bytes (back-pressure to decoding and downloads). */
#ifndef DL_PUMP_PUMP_H
#define DL_PUMP_PUMP_H

#include <stdint.h>

#include "aws/config.h"
#include "item/item.h"
#include "net/net.h"
#include "pump/deadletter.h"

struct dl_pump_opts {
    int max_inflight;          /* concurrent BatchWriteItem requests (default 8) */
    int max_attempts;          /* sends of one item before it is dead-lettered (default 50) */
    long backoff_base_ms;      /* full jitter: rand(0, min(cap, base * 2^attempt)) (default 25) */
    long backoff_cap_ms;       /* default 5000 */
    size_t max_queued_bytes;   /* back-pressure threshold (default 64 MiB) */
};
void dl_pump_opts_default(struct dl_pump_opts *o);

enum dl_write_kind { DL_WRITE_PUT = 0, DL_WRITE_DELETE = 1 };

struct dl_pump_stats {
    uint64_t submitted;        /* items handed to the pump */
    uint64_t written;          /* acknowledged by DynamoDB */
    uint64_t superseded;       /* dropped because a later record for the same key replaced them */
    uint64_t deadlettered;     /* given up and written to the dead-letter file */
    uint64_t requests;         /* BatchWriteItem responses received */
    uint64_t throttled;        /* requests rejected whole for capacity */
    uint64_t unprocessed;      /* items returned in UnprocessedItems */
    uint64_t retries;          /* items re-sent */
    uint64_t splits;           /* batches split after a ValidationException */
    double consumed_wcu;       /* from ReturnConsumedCapacity */
    uint64_t wcu_sent;         /* our own estimate: sum of ceil(size/1KB) of items sent */
};

struct dl_pump;

/* Start the pump thread. All pointers are borrowed and must outlive the pump. NULL on failure. */
struct dl_pump *dl_pump_new(struct dl_net *net, const struct dl_aws_config *cfg, const char *table,
                            const struct dl_key_schema *ks, const struct dl_pump_opts *o,
                            struct dl_deadletter *dlq);

/* Hand one write to the pump (copied; the item can be reused at once). it->key must be set.
 * Blocks while the pump is over its memory budget. The origin strings are copied too.
 * Returns DL_ERR_CANCELLED after dl_pump_cancel, or the fatal error that stopped the pump. */
enum dl_err dl_pump_submit(struct dl_pump *p, enum dl_write_kind kind, const struct dl_item *it,
                           const struct dl_origin *origin);

/* No more submissions: wait until every item is written or dead-lettered. Returns DL_OK, or
 * the fatal error that stopped the pump (its message via dl_pump_error). */
enum dl_err dl_pump_finish(struct dl_pump *p);

/* Stop taking work; items not yet acknowledged are left unwritten (for shutdown). */
void dl_pump_cancel(struct dl_pump *p);

void dl_pump_stats_get(struct dl_pump *p, struct dl_pump_stats *out);
/* The message of a fatal error (credentials refused, table gone, dead-letter file unwritable), or NULL. */
const char *dl_pump_error(struct dl_pump *p);

/* Stop the thread and free everything. */
void dl_pump_destroy(struct dl_pump *p);

#endif
