/* Tests for the network thread against tools/httpfault.py, started here on an ephemeral
 * loopback port. Every wait is bounded in count and in time. */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aws/config.h"
#include "aws/sigv4.h"
#include "test.h"

#ifndef DL_PROJECT_DIR
#define DL_PROJECT_DIR DL_TEST_DATA_DIR "/../.."
#endif

static pid_t srv_pid = -1;
static int srv_stdin = -1;
static int srv_port;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static int server_start(void)
{
    const char *script = getenv("DDBLOAD_HTTPFAULT");
    char path[1024];
    if (!script) {
        snprintf(path, sizeof path, "%s/tools/httpfault.py", DL_PROJECT_DIR);
        script = path;
    }
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execlp("python3", "python3", script, "--lifetime", "120", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    srv_pid = pid;
    srv_stdin = in[1];
    char line[32] = "";
    size_t got = 0;
    double deadline = mono_s() + 15;
    while (got < sizeof line - 1 && mono_s() < deadline) {
        struct pollfd p = { out[0], POLLIN, 0 };
        if (poll(&p, 1, 200) <= 0)
            continue;
        ssize_t k = read(out[0], line + got, 1);
        if (k <= 0)
            break;
        if (line[got] == '\n')
            break;
        got += (size_t)k;
    }
    line[got] = 0;
    close(out[0]);
    srv_port = atoi(line);
    return srv_port > 0 ? 0 : -1;
}

static void server_stop(void)
{
    if (srv_pid <= 0)
        return;
    close(srv_stdin); /* the server exits when its stdin closes */
    for (int i = 0; i < 100; i++) {
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
            srv_pid = -1;
            return;
        }
        sleep_ms(50);
    }
    kill(srv_pid, SIGKILL);
    waitpid(srv_pid, NULL, 0);
    srv_pid = -1;
}

static struct dl_http_req *req_for(const char *method, const char *fmt, const char *path)
{
    struct dl_http_req *r = dl_http_req_new();
    r->method = method;
    dl_buf_printf(&r->url, "http://127.0.0.1:%d%s", srv_port, path);
    (void)fmt;
    return r;
}

static struct dl_http_req *get(struct dl_net *n, const char *path)
{
    struct dl_http_req *r = req_for("GET", NULL, path);
    dl_net_do(n, r);
    return r;
}

static struct dl_net *net_with(int max_transfers, int max_attempts, long base_ms, long cap_ms)
{
    struct dl_net_opts o;
    dl_net_opts_default(&o);
    o.max_transfers = max_transfers;
    o.max_attempts = max_attempts;
    o.backoff_base_ms = base_ms;
    o.backoff_cap_ms = cap_ms;
    o.connect_timeout_ms = 2000;
    o.total_timeout_ms = 10000;
    return dl_net_new(&o);
}

static long json_int(const struct dl_buf *b, const char *name)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", name);
    const char *p = b->data ? strstr((const char *)b->data, pat) : NULL;
    return p ? atol(p + strlen(pat)) : -1;
}

static void stats_reset(struct dl_net *n)
{
    dl_http_req_destroy(get(n, "/stats/reset"));
}

/* ---- a completion counter shared by async tests ---- */
struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
};

struct slot {
    struct waiter *w;
    int calls;
};

static void on_done(struct dl_http_req *r, void *ctx)
{
    struct slot *s = ctx;
    pthread_mutex_lock(&s->w->mu);
    s->calls++;
    s->w->done++;
    pthread_cond_broadcast(&s->w->cv);
    pthread_mutex_unlock(&s->w->mu);
}

static bool wait_for(struct waiter *w, int count, double secs)
{
    double deadline = mono_s() + secs;
    pthread_mutex_lock(&w->mu);
    while (w->done < count && mono_s() < deadline) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 50 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    bool ok = w->done >= count;
    pthread_mutex_unlock(&w->mu);
    return ok;
}

/* ------------------------------------------------------------------------------------ */

static void test_req_basics(void)
{
    struct dl_http_req *r = dl_http_req_new();
    CHECK(r != NULL);
    CHECK_INT(r->resp.cap, (size_t)256 << 20);
    CHECK_INT(dl_http_req_add_header(r, "X-A", "1"), DL_OK);
    CHECK_STR(r->headers[0], "X-A: 1");
    CHECK_INT(dl_http_req_add_header(r, "X-B", "evil\r\nX-C: 2"), DL_ERR_INVALID);
    CHECK_INT(dl_http_req_add_header(r, "X:B", "v"), DL_ERR_INVALID);
    for (int i = 1; i < DL_HTTP_MAX_HEADERS; i++)
        CHECK_INT(dl_http_req_add_header(r, "X-N", "v"), DL_OK);
    CHECK_INT(dl_http_req_add_header(r, "X-Over", "v"), DL_ERR_TOO_LARGE);
    dl_http_req_destroy(r);
    dl_http_req_destroy(NULL);
    dl_net_destroy(NULL);
}

static void test_methods(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    CHECK(n != NULL);

    struct dl_http_req *r = get(n, "/ok");
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->status, 200);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "GET 0");
    CHECK_STR(r->etag, "\"etag-5\"");
    CHECK(strncmp(r->request_id, "req-", 4) == 0);
    CHECK_INT(r->attempts, 1);
    dl_http_req_destroy(r);

    r = req_for("POST", NULL, "/ok");
    dl_buf_append_str(&r->body, "hello world");
    dl_http_req_add_header(r, "Content-Type", "application/x-amz-json-1.0");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "POST 11");
    /* the same request object can run again */
    dl_http_req_reset_response(r);
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "POST 11");
    dl_http_req_destroy(r);

    r = req_for("PUT", NULL, "/ok");
    for (int i = 0; i < 3000; i++)
        dl_buf_append_str(&r->body, "0123456789");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_INT(r->status, 200);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "PUT 30000");
    dl_http_req_destroy(r);

    r = req_for("PUT", NULL, "/ok"); /* empty PUT body */
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "PUT 0");
    dl_http_req_destroy(r);

    r = req_for("DELETE", NULL, "/ok");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "DELETE 0");
    dl_http_req_destroy(r);

    r = req_for("HEAD", NULL, "/ok");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_INT(r->status, 200);
    CHECK_INT(r->resp.len, 0);
    dl_http_req_destroy(r);

    /* Range header, and no "Expect: 100-continue" on a large upload */
    r = req_for("PUT", NULL, "/headers");
    r->range_set = true;
    r->range_start = 12345;
    for (int i = 0; i < 200000; i++)
        dl_buf_append_str(&r->body, "0123456789");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK(r->resp.data && strstr((char *)r->resp.data, "\"Range\": \"bytes=12345-\""));
    CHECK(r->resp.data && !strstr((char *)r->resp.data, "Expect"));
    CHECK(r->resp.data && strstr((char *)r->resp.data, "\"Content-Length\": \"2000000\""));
    dl_http_req_destroy(r);

    /* bad submissions are refused without calling done() */
    r = dl_http_req_new();
    r->method = "GET";
    r->done = on_done;
    CHECK_INT(dl_net_submit(n, r), DL_ERR_INVALID); /* no URL */
    dl_http_req_destroy(r);

    struct dl_net_stats st;
    dl_net_stats_get(n, &st);
    CHECK_INT(st.requests, 8);
    CHECK_INT(st.attempts, 8);
    CHECK_INT(st.retries, 0);
    CHECK(st.bytes_out >= 2000000 + 30000 + 11 * 2);
    CHECK(st.bytes_in > 0);
    dl_net_destroy(n);
}

static void test_keepalive(void)
{
    struct dl_net *n = net_with(8, 3, 1, 10);
    struct dl_net_stats before, after;
    dl_net_stats_get(n, &before);
    stats_reset(n); /* its connection is reused by the 100 that follow */
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        struct dl_http_req *r = get(n, "/ok");
        ok += r->result == DL_OK && r->status == 200;
        dl_http_req_destroy(r);
    }
    dl_net_stats_get(n, &after);
    CHECK_INT(ok, 100);
    struct dl_http_req *r = get(n, "/count");
    long conns = r->resp.data ? atol((char *)r->resp.data) : -1;
    fprintf(stderr, "  keep-alive: 100 sequential requests on %ld server-seen connection(s), "
                    "%llu new connection(s) by curl\n",
            conns, (unsigned long long)(after.connects - before.connects));
    CHECK(conns >= 1 && conns <= 2);
    CHECK(after.connects - before.connects <= 2);
    CHECK_INT(after.attempts - before.attempts, 101);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static void test_concurrency_cap(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    stats_reset(n);
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct slot slots[16];
    struct dl_http_req *rs[16];
    double t0 = mono_s();
    for (int i = 0; i < 16; i++) {
        slots[i] = (struct slot){ &w, 0 };
        rs[i] = req_for("GET", NULL, "/slow?ms=150");
        rs[i]->done = on_done;
        rs[i]->ctx = &slots[i];
        CHECK_INT(dl_net_submit(n, rs[i]), DL_OK);
    }
    CHECK(wait_for(&w, 16, 30));
    double took = mono_s() - t0;
    int ok = 0;
    for (int i = 0; i < 16; i++) {
        ok += rs[i]->result == DL_OK && rs[i]->status == 200 && slots[i].calls == 1;
        dl_http_req_destroy(rs[i]);
    }
    CHECK_INT(ok, 16);
    struct dl_http_req *r = get(n, "/stats");
    long maxc = json_int(&r->resp, "max_concurrent");
    long conns = json_int(&r->resp, "connections");
    fprintf(stderr, "  16 x 150 ms with max_transfers=4: server saw max %ld at once on %ld "
                    "connections, %.2f s\n", maxc, conns, took);
    CHECK(maxc >= 2 && maxc <= 4);
    CHECK(conns <= 5); /* 4 transfers (+ the /stats/reset one, possibly reused) */
    CHECK(took >= 0.55); /* 4 waves of 150 ms at least */
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static void test_retry_status(void)
{
    struct dl_net *n = net_with(4, 4, 1, 10);
    char path[128];
    snprintf(path, sizeof path, "/flaky?fail=1&code=503&key=k%d", (int)getpid());
    struct dl_http_req *r = get(n, path);
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->status, 200);
    CHECK_INT(r->attempts, 2);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "ok"); /* no leftover of the 503 body */
    dl_http_req_destroy(r);

    snprintf(path, sizeof path, "/flaky?fail=3&code=500&key=j%d", (int)getpid());
    r = get(n, path);
    CHECK_INT(r->status, 200);
    CHECK_INT(r->attempts, 4);
    dl_http_req_destroy(r);

    /* a 5xx that never clears: the last response is the result */
    r = get(n, "/status/503");
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->status, 503);
    CHECK_INT(r->attempts, 4);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "status 503");
    dl_http_req_destroy(r);

    r = get(n, "/status/404");
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->status, 404);
    CHECK_INT(r->attempts, 1);
    dl_http_req_destroy(r);

    r = get(n, "/status/400");
    CHECK_INT(r->status, 400);
    CHECK_INT(r->attempts, 1);
    dl_http_req_destroy(r);

    struct dl_net_stats st;
    dl_net_stats_get(n, &st);
    CHECK_INT(st.retries, 1 + 3 + 3);
    dl_net_destroy(n);
}

static bool retry_on_400(const struct dl_http_req *r, void *ctx)
{
    int *calls = ctx;
    (*calls)++;
    return r->status == 400;
}

static void test_retry_predicate(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    int calls = 0;
    struct dl_http_req *r = req_for("GET", NULL, "/status/400");
    r->retryable = retry_on_400;
    r->ctx = &calls; /* dl_net_do hands the predicate the caller's ctx */
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_INT(r->attempts, 3);
    CHECK_INT(calls, 3);
    CHECK(r->ctx == &calls);
    dl_http_req_destroy(r);

    calls = 0;
    r = req_for("GET", NULL, "/status/503"); /* the predicate says no: not retried */
    r->retryable = retry_on_400;
    r->ctx = &calls;
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_INT(r->status, 503);
    CHECK_INT(r->attempts, 1);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static void test_reset(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    char path[128];
    snprintf(path, sizeof path, "/reset?fail=2&key=r%d", (int)getpid());
    struct dl_http_req *r = get(n, path);
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->status, 200);
    CHECK_INT(r->attempts, 3);
    CHECK_MEM_STR(r->resp.data, r->resp.len, "ok"); /* partial bodies were dropped */
    dl_http_req_destroy(r);

    r = get(n, "/reset");
    CHECK_INT(r->result, DL_ERR_NET);
    CHECK_INT(r->attempts, 3);
    CHECK_INT(r->status, 0);
    CHECK(strstr(r->errmsg, "after 3 attempts") != NULL);
    fprintf(stderr, "  reset: %s\n", r->errmsg);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static int closed_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = 0 };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(s, (struct sockaddr *)&a, sizeof a);
    getsockname(s, (struct sockaddr *)&a, &len);
    close(s); /* nothing listens there now */
    return ntohs(a.sin_port);
}

static void test_connect_refused(void)
{
    struct dl_net *n = net_with(4, 8, 1, 20);
    int port = closed_port();
    struct dl_http_req *r = dl_http_req_new();
    r->method = "GET";
    dl_buf_printf(&r->url, "http://127.0.0.1:%d/?secret=shh", port);
    double t0 = mono_s();
    CHECK_INT(dl_net_do(n, r), DL_ERR_NET);
    CHECK_INT(r->result, DL_ERR_NET);
    CHECK_INT(r->attempts, 8);
    char want[128];
    snprintf(want, sizeof want, "cannot connect to http://127.0.0.1:%d/ (", port);
    CHECK(strncmp(r->errmsg, want, strlen(want)) == 0);
    CHECK(strstr(r->errmsg, ") after 8 attempts") != NULL);
    CHECK(strstr(r->errmsg, "shh") == NULL); /* the query string is not repeated */
    CHECK(mono_s() - t0 < 5);
    fprintf(stderr, "  refused: %s\n", r->errmsg);
    dl_http_req_destroy(r);

    struct dl_net_stats st;
    dl_net_stats_get(n, &st);
    CHECK_INT(st.attempts, 8);
    CHECK_INT(st.retries, 7);
    dl_net_destroy(n);
}

static void test_timeout(void)
{
    struct dl_net_opts o;
    dl_net_opts_default(&o);
    o.total_timeout_ms = 200;
    o.max_attempts = 2;
    o.backoff_base_ms = 1;
    o.backoff_cap_ms = 5;
    struct dl_net *n = dl_net_new(&o);
    double t0 = mono_s();
    struct dl_http_req *r = get(n, "/slow?ms=3000");
    double took = mono_s() - t0;
    CHECK_INT(r->result, DL_ERR_NET);
    CHECK_INT(r->attempts, 2);
    CHECK(strncmp(r->errmsg, "timed out on http://127.0.0.1:", 30) == 0);
    CHECK(took < 2.0);
    CHECK(r->elapsed_s < 1.0);
    fprintf(stderr, "  timeout: %s (%.2f s)\n", r->errmsg, took);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static void test_too_large(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    const char *paths[] = { "/big?bytes=100000", "/big?bytes=100000&chunked=1" };
    for (int i = 0; i < 2; i++) {
        struct dl_http_req *r = req_for("GET", NULL, paths[i]);
        r->resp.cap = 1000;
        CHECK_INT(dl_net_do(n, r), DL_ERR_TOO_LARGE);
        CHECK_INT(r->attempts, 1);
        CHECK(strstr(r->errmsg, "larger than 1000 bytes") != NULL);
        dl_http_req_destroy(r);
    }
    /* exactly at the cap fits */
    struct dl_http_req *r = req_for("GET", NULL, "/big?bytes=1000&chunked=1");
    r->resp.cap = 1000;
    CHECK_INT(dl_net_do(n, r), DL_OK);
    CHECK_INT(r->resp.len, 1000);
    CHECK(r->resp.data && r->resp.data[0] == 'a' && r->resp.data[999] == 'a' + 999 % 26);
    dl_http_req_destroy(r);

    r = get(n, "/big?bytes=5000000");
    CHECK_INT(r->result, DL_OK);
    CHECK_INT(r->resp.len, 5000000);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

static void test_destroy_inflight(void)
{
    /* huge backoff: the 503 request sits on a timer when destroy comes */
    struct dl_net *n = net_with(2, 5, 60000, 60000);
    enum { N = 12 };
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct slot slots[N];
    struct dl_http_req *rs[N];
    for (int i = 0; i < N; i++) {
        slots[i] = (struct slot){ &w, 0 };
        rs[i] = req_for("GET", NULL, i == 0 ? "/status/503" : "/slow?ms=5000");
        rs[i]->done = on_done;
        rs[i]->ctx = &slots[i];
        CHECK_INT(dl_net_submit(n, rs[i]), DL_OK);
    }
    sleep_ms(400); /* 503 answered and waiting for its retry; 2 slow running; 9 queued */
    double t0 = mono_s();
    dl_net_destroy(n);
    double took = mono_s() - t0;
    CHECK(took < 2.0);
    int once = 0, cancelled = 0;
    for (int i = 0; i < N; i++) {
        once += slots[i].calls == 1;
        cancelled += rs[i]->result == DL_ERR_CANCELLED;
    }
    CHECK_INT(once, N);
    CHECK_INT(cancelled, N);
    CHECK_INT(rs[0]->attempts, 1);
    CHECK_INT(w.done, N);
    for (int i = 0; i < N; i++)
        dl_http_req_destroy(rs[i]);
}

/* done() may resubmit the request it was handed */
struct chain {
    struct dl_net *n;
    struct waiter *w;
    int remaining;
    int ok;
};

static void chain_done(struct dl_http_req *r, void *ctx)
{
    struct chain *c = ctx;
    c->ok += r->result == DL_OK && r->status == 200;
    if (--c->remaining > 0 && dl_net_submit(c->n, r) == DL_OK)
        return;
    pthread_mutex_lock(&c->w->mu);
    c->w->done++;
    pthread_cond_broadcast(&c->w->cv);
    pthread_mutex_unlock(&c->w->mu);
}

static void test_resubmit_from_done(void)
{
    struct dl_net *n = net_with(4, 3, 1, 10);
    struct waiter w = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
    struct chain c = { n, &w, 10, 0 };
    struct dl_http_req *r = req_for("GET", NULL, "/ok");
    r->done = chain_done;
    r->ctx = &c;
    CHECK_INT(dl_net_submit(n, r), DL_OK);
    CHECK(wait_for(&w, 1, 20));
    CHECK_INT(c.ok, 10);
    dl_net_destroy(n);
    dl_http_req_destroy(r);
}

struct thread_arg {
    struct dl_net *n;
    int ok;
};

static void *submitter(void *p)
{
    struct thread_arg *a = p;
    for (int i = 0; i < 25; i++) {
        struct dl_http_req *r = req_for("POST", NULL, "/ok");
        dl_buf_printf(&r->body, "%d", i);
        if (dl_net_do(a->n, r) == DL_OK && r->status == 200 &&
            r->resp.len == 6 &&
            r->resp.data[5] == (i < 10 ? '1' : '2'))
            a->ok++;
        dl_http_req_destroy(r);
    }
    return NULL;
}

static void test_threads(void)
{
    struct dl_net *n = net_with(8, 3, 1, 10);
    pthread_t t[4];
    struct thread_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct thread_arg){ n, 0 };
        pthread_create(&t[i], NULL, submitter, &a[i]);
    }
    int ok = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ok += a[i].ok;
    }
    CHECK_INT(ok, 100);
    dl_net_destroy(n);
}

static void test_signing(void)
{
    struct dl_aws_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.access_key_id = "AKIDEXAMPLE";
    cfg.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    cfg.region = "us-east-1";
    struct dl_net *n = net_with(4, 3, 1, 10);

    struct dl_http_req *r = req_for("POST", NULL, "/headers");
    r->aws = &cfg;
    r->service = "dynamodb";
    dl_http_req_add_header(r, "Content-Type", "application/x-amz-json-1.0");
    dl_http_req_add_header(r, "X-Amz-Target", "DynamoDB_20120810.ListTables");
    dl_buf_append_str(&r->body, "{}");
    CHECK_INT(dl_net_do(n, r), DL_OK);
    const char *h = r->resp.data ? (const char *)r->resp.data : "";
    CHECK(strstr(h, "\"Authorization\": \"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") != NULL);
    CHECK(strstr(h, "/us-east-1/dynamodb/aws4_request") != NULL);
    CHECK(strstr(h, "SignedHeaders=content-type;host;x-amz-date;x-amz-target") != NULL);
    CHECK(strstr(h, "\"X-Amz-Date\": \"") != NULL);
    CHECK(strstr(h, "wJalrXUtnFEMI") == NULL); /* the secret never goes on the wire */
    dl_http_req_destroy(r);

    /* S3 signs the payload hash and the Range header too; a session token is sent */
    cfg.session_token = "TOKEN123";
    r = req_for("GET", NULL, "/headers?list-type=2&prefix=a%20b");
    r->aws = &cfg;
    r->service = "s3";
    r->range_set = true;
    r->range_start = 10;
    CHECK_INT(dl_net_do(n, r), DL_OK);
    h = r->resp.data ? (const char *)r->resp.data : "";
    CHECK(strstr(h, "/us-east-1/s3/aws4_request") != NULL);
    CHECK(strstr(h, "\"X-Amz-Content-Sha256\": \"" DL_SIGV4_EMPTY_SHA256 "\"") != NULL);
    CHECK(strstr(h, "\"X-Amz-Security-Token\": \"TOKEN123\"") != NULL);
    CHECK(strstr(h, "range;") != NULL);
    dl_http_req_destroy(r);

    /* missing credentials: no request goes out */
    struct dl_aws_config none;
    memset(&none, 0, sizeof none);
    r = req_for("GET", NULL, "/headers");
    r->aws = &none;
    r->service = "s3";
    CHECK_INT(dl_net_do(n, r), DL_ERR_CREDENTIALS);
    CHECK_INT(r->attempts, 0);
    dl_http_req_destroy(r);
    dl_net_destroy(n);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    TEST_RUN(test_req_basics);
    if (server_start() != 0) {
        fprintf(stderr, "cannot start tools/httpfault.py (python3 needed)\n");
        server_stop();
        return 1;
    }
    TEST_RUN(test_methods);
    TEST_RUN(test_keepalive);
    TEST_RUN(test_concurrency_cap);
    TEST_RUN(test_retry_status);
    TEST_RUN(test_retry_predicate);
    TEST_RUN(test_reset);
    TEST_RUN(test_connect_refused);
    TEST_RUN(test_timeout);
    TEST_RUN(test_too_large);
    TEST_RUN(test_destroy_inflight);
    TEST_RUN(test_resubmit_from_done);
    TEST_RUN(test_threads);
    TEST_RUN(test_signing);
    server_stop();
    return test_summary();
}
