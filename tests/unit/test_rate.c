/* The rate controller with simulated time: token arithmetic, ConsumedCapacity settlement, and the
 * AIMD law against a toy table that serves exactly C WCU/s. */
#include <math.h>

#include "pump/rate.h"
#include "test.h"

#define S 1000000000ull

static void test_bucket_starts_empty_and_refills(void)
{
    struct dl_rate r;
    dl_rate_init(&r, 1000, 0, 0);
    CHECK(dl_rate_refill(&r, 0) == 0);
    CHECK(fabs(dl_rate_refill(&r, S / 20) - 50) < 1e-6); /* 50 ms at 1,000 WCU/s */
    dl_rate_take(&r, 75);
    CHECK(fabs(r.tokens + 25) < 1e-6);
    CHECK_INT(dl_rate_wait_ns(&r, 25), 50 * 1000000 + 1);
    dl_rate_refill(&r, 10 * S);
    CHECK(r.tokens <= r.burst); /* unused capacity is not hoarded beyond the burst */
}

static void test_consumed_capacity_settles_the_estimate(void)
{
    struct dl_rate r;
    dl_rate_init(&r, 1000, 0, 0);
    dl_rate_refill(&r, S / 10); /* 100 tokens */
    dl_rate_take(&r, 25);
    dl_rate_on_response(&r, S / 10, 25, 0, false, 25, 50); /* items were twice as big as estimated */
    CHECK(fabs(r.tokens - 50) < 1e-6);
    dl_rate_take(&r, 25);
    dl_rate_on_response(&r, S / 10, 25, 10, false, 15, 15); /* 10 unprocessed: their tokens stay spent */
    CHECK(fabs(r.tokens - 25) < 1e-6);
}

static void test_unlimited_never_waits(void)
{
    struct dl_rate r;
    dl_rate_init(&r, 0, 0, 0);
    CHECK(!dl_rate_limited(&r));
    dl_rate_on_response(&r, S, 25, 25, true, 25, 0);
    CHECK(r.rate == 0 && r.cuts == 0);
}

/* A sender driven by the controller against a table serving exactly `cap` WCU/s (no burst): the
 * controller must settle near the capacity with few unprocessed items. */
static void converge(double ceiling, double cap, double *served_share, double *unprocessed_share)
{
    struct dl_rate r;
    dl_rate_init(&r, ceiling, 0, 0);
    double table = 0, sent = 0, unproc = 0, served = 0;
    uint64_t t = 0, dt = S / 100; /* 10 ms steps, 60 s */
    for (int i = 0; i < 6000; i++, t += dt) {
        table += cap * (double)dt / 1e9;
        if (table > cap)
            table = cap; /* the toy table keeps at most 1 s of credit */
        dl_rate_refill(&r, t);
        while (r.tokens >= 25) {
            dl_rate_take(&r, 25);
            double ok = table >= 25 ? 25 : floor(table);
            table -= ok;
            sent += 25;
            served += ok;
            unproc += 25 - ok;
            dl_rate_on_response(&r, t, 25, (uint64_t)(25 - ok), ok == 0, ok, ok);
        }
    }
    *served_share = served / (cap * 60);
    *unprocessed_share = unproc / sent;
}

static void test_aimd_settles_at_capacity(void)
{
    double served, unproc;
    converge(1000, 1000, &served, &unproc); /* ceiling == capacity */
    CHECK(served > 0.95);
    CHECK(unproc < 0.05);
    converge(2000, 1000, &served, &unproc); /* ceiling above the real capacity: AIMD finds it */
    fprintf(stderr, "ceiling 2x capacity: served %.3f of capacity, %.3f unprocessed\n", served, unproc);
    CHECK(served > 0.85);
    CHECK(unproc < 0.2);
}

int main(void)
{
    TEST_RUN(test_bucket_starts_empty_and_refills);
    TEST_RUN(test_consumed_capacity_settles_the_estimate);
    TEST_RUN(test_unlimited_never_waits);
    TEST_RUN(test_aimd_settles_at_capacity);
    return test_summary();
}
