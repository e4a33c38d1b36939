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
    int max_inflight;          /* concurrent BatchWriteItem requests (default 32) */
    int max_attempts;          /* sends of one item before it is dead-lettered (default 50) */
    long backoff_base_ms;      /* full jitter: rand(0, min(cap, base * 2^attempt)) (default 25) */
    long backoff_cap_ms;       /* default 5000 */
    size_t max_queued_bytes;   /* back-pressure threshold (default 64 MiB) */
    double max_wcu;            /* write-rate ceiling in WCU/s (see pump/rate.h); 0 = unlimited */
    double start_wcu;          /* first rate (0 = max_wcu); on-demand tables start below their max */
    double hot_key_wcu;        /* pace writes sharing one partition key to this many WCU/s
                                  (DynamoDB's per-partition limit: default 1000; 0 = off) */
    /* Optional: called on the pump thread when a submitted write is settled for good: written,
     * superseded by a later write of the same key (which will be sent after it), or
     * dead-lettered (durably). Never for writes abandoned by a stop. tag = origin->tag. */
    void (*on_resolved)(void *ctx, uint64_t tag);
    void *resolved_ctx;
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
    uint64_t hot_key_waits;    /* items held back to keep one partition key under hot_key_wcu */
    uint64_t rate_cuts;        /* times the adaptive rate was lowered */
    uint64_t abandoned;        /* left unwritten because the run was stopped */
    double rate;               /* the rate target now, WCU/s (0 = unlimited) */
};

/* One second of the run (second 0 starts at dl_pump_new). */
struct dl_pump_second {
    uint64_t written;          /* items acknowledged */
    double wcu;                /* consumed WCU (ConsumedCapacity, or our estimate when absent) */
    uint64_t requests;         /* BatchWriteItem responses */
    uint64_t throttled;        /* requests throttled whole */
    uint64_t unprocessed;      /* items returned unprocessed */
    double target;             /* the rate target at the end of the second, WCU/s (0 = unlimited) */
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

/* dl_pump_finish, checking stop() every 200 ms: when it returns true the pump is cancelled
 * (queued writes abandoned, requests in flight finish) and the wait ends when those are back. */
enum dl_err dl_pump_finish_or_stop(struct dl_pump *p, bool (*stop)(void));

/* Stop taking work; items not yet acknowledged are left unwritten (for shutdown). */
void dl_pump_cancel(struct dl_pump *p);

void dl_pump_stats_get(struct dl_pump *p, struct dl_pump_stats *out);
/* Copy up to max seconds of the timeline into out; returns the number of seconds recorded. */
size_t dl_pump_timeline(struct dl_pump *p, struct dl_pump_second *out, size_t max);
/* Latency quantile (0..1) of BatchWriteItem requests, in seconds (0 if none). */
double dl_pump_latency(struct dl_pump *p, double q);

/* The message of a fatal error (credentials refused, table gone, dead-letter file unwritable), or NULL. */
const char *dl_pump_error(struct dl_pump *p);

/* Stop the thread and free everything. */
void dl_pump_destroy(struct dl_pump *p);

#endif
