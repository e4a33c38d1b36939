/* The pump's write-rate controller: a token bucket counted in write capacity units (not
 * requests) whose refill rate follows an AIMD law.
 *
 * - Tokens: each batch takes the estimated WCU of its items before it is sent; when DynamoDB
 *   reports ConsumedCapacity, the difference between the estimate for the items it wrote and what
 *   it says they consumed is given back or taken, so a wrong size estimate does not skew the
 *   rate. Tokens spent on items that came back unprocessed stay spent: resending is not free.
 * - Multiplicative decrease: a request throttled whole cuts the rate by 30%; otherwise, at the end
 *   of each 200 ms window, an unprocessed share s > 2% of the items answered in that window cuts
 *   it by s (at most by half). At most one cut per window: responses still in flight were sent at
 *   the old rate and say nothing new.
 * - Additive increase: a window with no cut adds 5% of the ceiling per second, up to the ceiling.
 * The ceiling is the provisioned WCU x --write-percent, --max-wcu, or an on-demand table's maximum.
 * With no ceiling (max == 0) the controller never limits. All times are monotonic nanoseconds. */
#ifndef DL_PUMP_RATE_H
#define DL_PUMP_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define DL_RATE_WINDOW_NS 200000000ull

struct dl_rate {
    double max;        /* ceiling, WCU/s; 0 = unlimited */
    double rate;       /* current target, WCU/s */
    double min;        /* floor of the decrease */
    double tokens;     /* may go negative (debt) after a batch larger than what was available */
    double burst;      /* most tokens kept */
    uint64_t last_ns;  /* last refill */
    uint64_t win_start_ns;
    uint64_t win_items, win_unprocessed;
    bool win_cut;      /* a cut already happened in this window */
    uint64_t cuts;     /* decreases so far (for reports) */
};

/* max = ceiling (0 = unlimited); start = first rate (0 = max). The bucket starts empty, so
 * the first second sends at most `start`: a table with no burst credit is not overrun at once. */
void dl_rate_init(struct dl_rate *r, double max, double start, uint64_t now_ns);
static inline bool dl_rate_limited(const struct dl_rate *r)
{
    return r->max > 0;
}
/* Refill to now; returns the tokens available (may be negative). */
double dl_rate_refill(struct dl_rate *r, uint64_t now_ns);
/* Nanoseconds until at least `need` tokens (0 if already there). */
uint64_t dl_rate_wait_ns(const struct dl_rate *r, double need);
/* Take tokens for a batch about to be sent. */
void dl_rate_take(struct dl_rate *r, double wcu);
/* A response: items answered, how many came back unprocessed, whether the whole request was
 * throttled, and the estimated vs consumed WCU of the items written (consumed < 0 = not reported). */
void dl_rate_on_response(struct dl_rate *r, uint64_t now_ns, uint64_t items, uint64_t unprocessed,
                         bool throttled, double estimated, double consumed);

#endif
