#include "pump/rate.h"

void dl_rate_init(struct dl_rate *r, double max, double start, uint64_t now_ns)
{
    r->max = max > 0 ? max : 0;
    r->rate = start > 0 && (r->max == 0 || start < r->max) ? start : r->max;
    r->min = r->max > 0 ? (r->max / 100 > 1 ? r->max / 100 : 1) : 0;
    r->tokens = 0;
    /* enough for two full batches of 1-KB items, and 100 ms of traffic at the ceiling */
    r->burst = r->max / 10 > 50 ? r->max / 10 : 50;
    r->last_ns = now_ns;
    r->win_start_ns = now_ns;
    r->win_items = r->win_unprocessed = 0;
    r->win_cut = false;
    r->cuts = 0;
}

double dl_rate_refill(struct dl_rate *r, uint64_t now_ns)
{
    if (now_ns > r->last_ns) {
        r->tokens += r->rate * (double)(now_ns - r->last_ns) / 1e9;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
        r->last_ns = now_ns;
    }
    return r->tokens;
}

uint64_t dl_rate_wait_ns(const struct dl_rate *r, double need)
{
    if (r->tokens >= need || r->rate <= 0)
        return 0;
    return (uint64_t)((need - r->tokens) / r->rate * 1e9) + 1;
}

void dl_rate_take(struct dl_rate *r, double wcu)
{
    r->tokens -= wcu;
}

static void cut(struct dl_rate *r, double factor)
{
    if (r->win_cut)
        return;
    r->rate *= factor;
    if (r->rate < r->min)
        r->rate = r->min;
    r->win_cut = true;
    r->cuts++;
}

void dl_rate_on_response(struct dl_rate *r, uint64_t now_ns, uint64_t items, uint64_t unprocessed,
                         bool throttled, double estimated, double consumed)
{
    if (!dl_rate_limited(r))
        return;
    dl_rate_refill(r, now_ns);
    if (consumed >= 0 && estimated > 0) {
        /* the table spent `consumed`, we had reserved `estimated`: settle the difference */
        r->tokens += estimated - consumed;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
    }
    if (throttled)
        cut(r, 0.7);
    r->win_items += items;
    r->win_unprocessed += unprocessed;
    uint64_t elapsed = now_ns - r->win_start_ns;
    if (elapsed < DL_RATE_WINDOW_NS)
        return;
    double share = r->win_items ? (double)r->win_unprocessed / (double)r->win_items : 0;
    if (share > 0.02)
        cut(r, share > 0.5 ? 0.5 : 1 - share);
    if (!r->win_cut) {
        r->rate += r->max * 0.05 * (double)elapsed / 1e9;
        if (r->rate > r->max)
            r->rate = r->max;
    }
    r->win_start_ns = now_ns;
    r->win_items = r->win_unprocessed = 0;
    r->win_cut = false;
}
