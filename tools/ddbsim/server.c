/* The HTTP/1.1 side: one epoll loop, non-blocking sockets, keep-alive, pipelining, and the
 * fault injection that has to happen on the wire (latency, stalls, resets).
 *
 * A connection handles one request at a time: while a response is held back (latency) or
 * never coming (stall) the connection stops reading, so pipelined requests are answered in
 * order and the kernel's buffers give the client back-pressure. Reading resumes when the
 * response is out. EPOLLRDHUP stays armed so a client that gives up on a stalled request
 * is noticed and its connection freed. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "server.h"
#include "sim.h"

#define HEAD_MAX ((size_t)64 << 10)
#define READ_CHUNK ((size_t)64 << 10)

uint64_t g_conn_open, g_conn_accepted;

enum conn_state {
    ST_READ,    /* parsing and answering requests */
    ST_WAIT,    /* a response is held back until c->due (--latency-ms) */
    ST_STALL,   /* a request that will never be answered (--stall-rate) */
    ST_CLOSING, /* write what is queued, then close */
};

struct conn {
    int fd;
    enum conn_state state;
    struct dl_buf in;
    size_t scan;          /* where the search for the end of the head resumes */
    bool continue_sent;   /* "100 Continue" already sent for the current request */
    struct dl_buf out;
    size_t out_off;
    bool peer_eof;
    bool rst;             /* close with a TCP reset */
    uint32_t events;      /* the epoll interest currently registered */
    struct dl_buf held;   /* the held-back response (ST_WAIT) */
    size_t held_cut;      /* SIZE_MAX: send whole; else send this many bytes, then close */
    bool held_close;      /* close once the held response is out (Connection: close) */
    double due;
    size_t heap_idx;      /* position in the timer heap, SIZE_MAX if none */
};

static int epfd = -1, listen_fd = -1, sig_fd = -1;
static char listen_tag, signal_tag; /* epoll data pointers for the two non-connection fds */
static struct dl_buf resp_body;     /* body of the response being built */
static struct dl_buf scratch;       /* a whole response when it is held or cut */

/* ---- timer heap (one held response per connection at most) ---- */

static struct conn **heap;
static size_t heap_n, heap_alloc;

static void heap_swap(size_t a, size_t b)
{
    struct conn *t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
    heap[a]->heap_idx = a;
    heap[b]->heap_idx = b;
}

static void heap_up(size_t i)
{
    while (i > 0 && heap[(i - 1) / 2]->due > heap[i]->due) {
        heap_swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_down(size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < heap_n && heap[l]->due < heap[m]->due)
            m = l;
        if (r < heap_n && heap[r]->due < heap[m]->due)
            m = r;
        if (m == i)
            return;
        heap_swap(i, m);
        i = m;
    }
}

static bool heap_push(struct conn *c)
{
    if (heap_n == heap_alloc) {
        size_t na = heap_alloc ? heap_alloc * 2 : 64;
        struct conn **nh = realloc(heap, na * sizeof *nh);
        if (!nh)
            return false;
        heap = nh;
        heap_alloc = na;
    }
    heap[heap_n] = c;
    c->heap_idx = heap_n++;
    heap_up(c->heap_idx);
    return true;
}

static void heap_remove(struct conn *c)
{
    size_t i = c->heap_idx;
    if (i == SIZE_MAX)
        return;
    c->heap_idx = SIZE_MAX;
    heap_n--;
    if (i == heap_n)
        return;
    heap[i] = heap[heap_n];
    heap[i]->heap_idx = i;
    heap_up(i);
    heap_down(heap[i]->heap_idx);
}

/* ---- connections ---- */

static void set_events(struct conn *c)
{
    uint32_t want = 0;
    if (!c->peer_eof) {
        want |= EPOLLRDHUP;
        if (c->state == ST_READ)
            want |= EPOLLIN;
    }
    if (c->out.len > c->out_off)
        want |= EPOLLOUT;
    if (want == c->events)
        return;
    struct epoll_event ev = { .events = want, .data.ptr = c };
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = want;
}

static void conn_close(struct conn *c)
{
    heap_remove(c);
    if (c->rst) {
        struct linger lg = { 1, 0 };
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c->fd);
    dl_buf_free(&c->in);
    dl_buf_free(&c->out);
    dl_buf_free(&c->held);
    free(c);
    g_conn_open--;
}

/* Write what is queued. false if the connection was closed. */
static bool conn_flush(struct conn *c)
{
    while (c->out.len > c->out_off) {
        ssize_t n = send(c->fd, c->out.data + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n < 0 && errno == EINTR)
            continue;
        conn_close(c);
        return false;
    }
    if (c->out_off == c->out.len) {
        dl_buf_reset(&c->out);
        c->out_off = 0;
        if (c->state == ST_CLOSING || (c->peer_eof && c->state == ST_READ)) {
            conn_close(c);
            return false;
        }
    }
    set_events(c);
    return true;
}

/* ---- responses ---- */

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Request Entity Too Large";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

static const char *http_date(void)
{
    static char buf[64];
    static time_t cached = -1;
    time_t now = time(NULL);
    if (now != cached) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        cached = now;
    }
    return buf;
}

/* Append a whole response to dst. The DynamoDB headers are always sent: a request id and
 * the CRC32 of the body, which SDKs check. */
static void build_response(struct dl_buf *dst, int status, const char *ctype,
                           const uint8_t *body, size_t len, bool close)
{
    char rid[53];
    sim_request_id(rid);
    unsigned long crc = crc32(0L, body, (uInt)len);
    dl_buf_printf(dst, "HTTP/1.1 %d %s\r\nx-amzn-RequestId: %s\r\nx-amz-crc32: %lu\r\n"
                  "Content-Type: %s\r\nContent-Length: %zu\r\nDate: %s\r\n%s\r\n",
                  status, reason(status), rid, crc, ctype, len, http_date(),
                  close ? "Connection: close\r\n" : "");
    dl_buf_append(dst, body, len);
}

/* Queue a complete response; close afterwards when asked. */
static void respond(struct conn *c, int status, const char *ctype, const struct dl_buf *body,
                    bool close)
{
    build_response(&c->out, status, ctype, body->data ? body->data : (const uint8_t *)"",
                   body->len, close);
    if (close)
        c->state = ST_CLOSING;
}

static void respond_text(struct conn *c, int status, const char *ctype, const char *text, bool close)
{
    build_response(&c->out, status, ctype, (const uint8_t *)text, strlen(text), close);
    if (close)
        c->state = ST_CLOSING;
}

/* Send bytes[0..len) now, or their first `cut` bytes followed by a close (a reset fault). */
static void emit(struct conn *c, const uint8_t *bytes, size_t len, size_t cut)
{
    if (cut == SIZE_MAX) {
        dl_buf_append(&c->out, bytes, len);
        return;
    }
    dl_buf_append(&c->out, bytes, cut);
    c->state = ST_CLOSING;
    /* Cut inside the head: end with a TCP reset, since an EOF there can pass for the end of
     * the headers with some HTTP clients. Cut inside the body: a plain EOF, which every
     * client sees as short of Content-Length. */
    const uint8_t *head_end = memmem(bytes, len, "\r\n\r\n", 4);
    c->rst = !head_end || cut < (size_t)(head_end - bytes) + 4;
}

/* Deliver a complete response (in `scratch`) now or after `delay` seconds. */
static void deliver(struct conn *c, double delay, size_t cut, bool close)
{
    if (delay <= 0) {
        emit(c, scratch.data, scratch.len, cut);
        if (close)
            c->state = ST_CLOSING;
        return;
    }
    c->held_close = close;
    dl_buf_reset(&c->held);
    dl_buf_append(&c->held, scratch.data, scratch.len);
    c->held_cut = cut;
    c->due = sim_now() + delay;
    c->state = ST_WAIT;
    if (!heap_push(c))
        c->due = 0;
}

/* ---- requests ---- */

struct request {
    const char *method;
    size_t method_len;
    const char *path, *query;
    size_t path_len, query_len;
    struct dl_cursor target, ctype, auth;
    bool has_auth, keep_alive;
    const uint8_t *body;
    size_t body_len;
};

static bool ci_eq(struct dl_cursor a, const char *s)
{
    size_t n = strlen(s);
    return a.len == n && strncasecmp((const char *)a.ptr, s, n) == 0;
}

static struct dl_cursor trim(const uint8_t *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    return dl_cursor_of(p, n);
}

static bool fault_applies(enum sim_op op)
{
    return op >= 0 && (g_cfg.fault_ops >> op & 1);
}

static void handle_api(struct conn *c, const struct request *rq)
{
    if (!ci_eq(dl_cursor_of(rq->method, rq->method_len), "POST")) {
        respond_text(c, 404, "application/x-amz-json-1.0", "<UnknownOperationException/>\n", !rq->keep_alive);
        return;
    }
    struct dl_cursor ct = rq->ctype;
    for (size_t i = 0; i < ct.len; i++)
        if (ct.ptr[i] == ';')
            ct = trim(ct.ptr, i);
    if (rq->body_len && !ci_eq(ct, "application/x-amz-json-1.0") && !ci_eq(ct, "application/json")) {
        respond_text(c, 404, "application/x-amz-json-1.0", "<UnknownOperationException/>\n", !rq->keep_alive);
        return;
    }
    const char *out_ct = ci_eq(ct, "application/json") ? "application/json" : "application/x-amz-json-1.0";
    enum sim_op op = sim_op_parse((const char *)rq->target.ptr, rq->target.len);
    if (op == OP_UNKNOWN) {
        sim_error_body(&resp_body, "com.amazon.coral.service#UnknownOperationException", NULL);
        respond(c, 400, out_ct, &resp_body, !rq->keep_alive);
        return;
    }
    if (!rq->has_auth) {
        sim_error_body(&resp_body, "com.amazon.coral.service#MissingAuthenticationTokenException",
                       "Request is missing Authentication Token");
        respond(c, 400, out_ct, &resp_body, !rq->keep_alive);
        return;
    }
    g_stats.requests++;
    g_stats.by_op[op]++;

    /* Faults are drawn before anything is applied, so a faulted request wrote nothing
     * (except a reset configured to come after the write, --reset-after-apply). */
    enum { F_NONE, F_500, F_503, F_RESET, F_STALL } fault = F_NONE;
    double delay = 0;
    if (fault_applies(op)) {
        double r = sim_rand01();
        if (r < g_cfg.fail_rate)
            fault = sim_rand01() < 0.5 ? F_500 : F_503;
        else if (r < g_cfg.fail_rate + g_cfg.reset_rate)
            fault = F_RESET;
        else if (r < g_cfg.fail_rate + g_cfg.reset_rate + g_cfg.stall_rate)
            fault = F_STALL;
        if (g_cfg.latency_ms > 0 || g_cfg.latency_jitter_ms > 0)
            delay = (g_cfg.latency_ms + g_cfg.latency_jitter_ms * sim_rand01()) / 1000.0;
    }
    int status;
    size_t cut = SIZE_MAX;
    dl_buf_reset(&scratch);
    switch (fault) {
    case F_STALL:
        g_stats.fault_stall++;
        c->state = ST_STALL;
        return;
    case F_500:
        g_stats.fault_500++;
        sim_error_body(&resp_body, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error");
        build_response(&scratch, 500, out_ct, resp_body.data, resp_body.len, !rq->keep_alive);
        break;
    case F_503:
        g_stats.fault_503++;
        sim_error_body(&resp_body, "com.amazonaws.dynamodb.v20120810#ServiceUnavailableException", "Service Unavailable");
        build_response(&scratch, 503, out_ct, resp_body.data, resp_body.len, !rq->keep_alive);
        break;
    case F_RESET:
        g_stats.fault_reset++;
        if (g_cfg.reset_after_apply) {
            status = sim_api_handle(op, rq->body, rq->body_len, &resp_body);
            build_response(&scratch, status, out_ct, resp_body.data, resp_body.len, false);
            cut = (size_t)(sim_rand() % scratch.len);
        } else {
            /* Not applied: cut inside the head of a would-be answer, never into a body a
             * client could take for a real one. */
            build_response(&scratch, 200, out_ct, (const uint8_t *)"{}", 2, false);
            cut = (size_t)(sim_rand() % (scratch.len - 2));
        }
        break;
    case F_NONE:
        status = sim_api_handle(op, rq->body, rq->body_len, &resp_body);
        if (delay <= 0) { /* the common path: straight into the output buffer */
            build_response(&c->out, status, out_ct, resp_body.data, resp_body.len, !rq->keep_alive);
            if (!rq->keep_alive)
                c->state = ST_CLOSING;
            goto logged;
        }
        build_response(&scratch, status, out_ct, resp_body.data, resp_body.len, !rq->keep_alive);
        break;
    }
    deliver(c, delay, cut, !rq->keep_alive);
logged:
    if (g_cfg.verbose > 1)
        fprintf(stderr, "ddbsim: %s fault=%d delay=%.3f\n", sim_op_name(op), (int)fault, delay);
}

static void handle_request(struct conn *c, const struct request *rq)
{
    dl_buf_reset(&resp_body);
    if (rq->path_len >= 6 && memcmp(rq->path, "/_sim/", 6) == 0) {
        char method[16];
        size_t ml = rq->method_len < sizeof method - 1 ? rq->method_len : sizeof method - 1;
        memcpy(method, rq->method, ml);
        method[ml] = 0;
        int status = 200;
        const char *ctype = "application/json";
        sim_side_handle(method, rq->path, rq->path_len, rq->query, rq->query_len, &status,
                        &resp_body, &ctype);
        respond(c, status, ctype, &resp_body, !rq->keep_alive);
        return;
    }
    if (rq->method_len == 3 && memcmp(rq->method, "GET", 3) == 0 && rq->target.len == 0) {
        /* DynamoDB's health answer (trailing space included) */
        respond_text(c, 200, "text/plain", "healthy: dynamodb.us-east-1.amazonaws.com ", !rq->keep_alive);
        return;
    }
    handle_api(c, rq);
}

/* Parse and answer every complete request in the input buffer while the connection is in
 * ST_READ. Returns false if the connection was closed. */
static bool process(struct conn *c)
{
    size_t off = 0;
    while (c->state == ST_READ && off < c->in.len) {
        const uint8_t *p = c->in.data + off;
        size_t avail = c->in.len - off;
        size_t from = c->scan > off ? c->scan - off : 0;
        from = from >= 3 ? from - 3 : 0;
        const uint8_t *end = NULL;
        if (avail >= 4)
            end = memmem(p + from, avail - from, "\r\n\r\n", 4);
        if (!end) {
            c->scan = c->in.len;
            if (avail > HEAD_MAX)
                respond_text(c, 431, "text/plain", "request head too large\n", true);
            break;
        }
        size_t head_len = (size_t)(end - p) + 4;
        /* request line */
        const uint8_t *line_end = memmem(p, head_len, "\r\n", 2);
        const uint8_t *sp1 = memchr(p, ' ', (size_t)(line_end - p));
        const uint8_t *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line_end - sp1 - 1)) : NULL;
        if (!sp1 || !sp2) {
            respond_text(c, 400, "text/plain", "bad request line\n", true);
            break;
        }
        struct request rq;
        memset(&rq, 0, sizeof rq);
        rq.method = (const char *)p;
        rq.method_len = (size_t)(sp1 - p);
        rq.path = (const char *)sp1 + 1;
        rq.path_len = (size_t)(sp2 - sp1 - 1);
        struct dl_cursor version = dl_cursor_of(sp2 + 1, (size_t)(line_end - sp2 - 1));
        const char *qm = memchr(rq.path, '?', rq.path_len);
        if (qm) {
            rq.query = qm + 1;
            rq.query_len = rq.path_len - (size_t)(qm + 1 - rq.path);
            rq.path_len = (size_t)(qm - rq.path);
        }
        bool http10 = dl_cursor_eq_str(version, "HTTP/1.0");
        if (!http10 && !dl_cursor_eq_str(version, "HTTP/1.1")) {
            respond_text(c, 505, "text/plain", "HTTP/1.1 only\n", true);
            break;
        }
        rq.keep_alive = !http10;
        /* headers */
        size_t content_length = 0;
        bool has_cl = false, chunked = false, expect = false, bad = false;
        const uint8_t *h = line_end + 2;
        while (h < p + head_len - 2) {
            const uint8_t *e = memmem(h, (size_t)(p + head_len - h), "\r\n", 2);
            const uint8_t *colon = memchr(h, ':', (size_t)(e - h));
            if (!colon) {
                bad = true;
                break;
            }
            struct dl_cursor name = dl_cursor_of(h, (size_t)(colon - h));
            struct dl_cursor val = trim(colon + 1, (size_t)(e - colon - 1));
            if (ci_eq(name, "content-length")) {
                size_t v = 0;
                for (size_t i = 0; i < val.len; i++) {
                    if (val.ptr[i] < '0' || val.ptr[i] > '9' || v > SIM_MAX_BODY * 16) {
                        bad = true;
                        break;
                    }
                    v = v * 10 + (size_t)(val.ptr[i] - '0');
                }
                if (val.len == 0 || (has_cl && v != content_length))
                    bad = true;
                content_length = v;
                has_cl = true;
            } else if (ci_eq(name, "transfer-encoding")) {
                chunked = true;
            } else if (ci_eq(name, "connection")) {
                if (ci_eq(val, "close"))
                    rq.keep_alive = false;
                else if (ci_eq(val, "keep-alive"))
                    rq.keep_alive = true;
            } else if (ci_eq(name, "expect")) {
                expect = ci_eq(val, "100-continue");
            } else if (ci_eq(name, "x-amz-target")) {
                rq.target = val;
            } else if (ci_eq(name, "content-type")) {
                rq.ctype = val;
            } else if (ci_eq(name, "authorization")) {
                rq.has_auth = val.len > 0;
            }
            h = e + 2;
        }
        if (bad) {
            respond_text(c, 400, "text/plain", "malformed header\n", true);
            break;
        }
        if (chunked) {
            respond_text(c, 400, "text/plain", "chunked request bodies are not supported; send Content-Length\n", true);
            break;
        }
        if (content_length > SIM_MAX_BODY) {
            /* like DynamoDB's front end: refuse without reading the body */
            respond_text(c, 413, "text/plain", "", true);
            break;
        }
        if (avail < head_len + content_length) {
            if (expect && !c->continue_sent) {
                dl_buf_append_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                c->continue_sent = true;
            }
            dl_buf_reserve(&c->in, head_len + content_length - avail);
            c->scan = off + head_len - 4; /* find the same head again next time */
            break;
        }
        rq.body = p + head_len;
        rq.body_len = content_length;
        handle_request(c, &rq);
        off += head_len + content_length;
        c->scan = off;
        c->continue_sent = false;
    }
    if (off) {
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
        c->scan = c->scan > off ? c->scan - off : 0;
    }
    return conn_flush(c);
}

static void on_readable(struct conn *c, uint32_t ev)
{
    if (c->state == ST_STALL || c->state == ST_WAIT) {
        /* only EPOLLRDHUP/HUP/ERR are armed now: the client gave up */
        conn_close(c);
        return;
    }
    if (c->state == ST_CLOSING)
        return;
    size_t got = 0;
    bool full = false;
    while (got < ((size_t)1 << 20)) {
        if (dl_buf_reserve(&c->in, READ_CHUNK) != DL_OK) {
            full = true; /* answer what is complete first; pipelined bytes can wait */
            break;
        }
        ssize_t n = recv(c->fd, c->in.data + c->in.len, c->in.alloc - c->in.len - 1, 0);
        if (n > 0) {
            c->in.len += (size_t)n;
            got += (size_t)n;
            continue;
        }
        if (n == 0) {
            c->peer_eof = true;
            break;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            break;
        conn_close(c);
        return;
    }
    if (!process(c))
        return;
    if (full && c->state == ST_READ && c->in.len + READ_CHUNK > c->in.cap)
        conn_close(c); /* no complete request fits: the client breaks our limits */
}

static void on_timer(struct conn *c)
{
    heap_remove(c);
    c->state = ST_READ;
    emit(c, c->held.data, c->held.len, c->held_cut);
    if (c->held_close)
        c->state = ST_CLOSING;
    dl_buf_free(&c->held);
    process(c);
}

static void on_accept(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            return; /* EAGAIN, or out of fds (then retried on the next event) */
        }
        if (g_conn_open >= (uint64_t)g_cfg.max_connections) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = ST_READ;
        c->heap_idx = SIZE_MAX;
        c->held_cut = SIZE_MAX;
        dl_buf_init(&c->in, SIM_MAX_BODY + HEAD_MAX + READ_CHUNK);
        dl_buf_init(&c->out, 0);
        dl_buf_init(&c->held, 0);
        c->events = EPOLLIN | EPOLLRDHUP;
        struct epoll_event ev = { .events = c->events, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            free(c);
            continue;
        }
        g_conn_open++;
        g_conn_accepted++;
    }
}

int sim_server_init(int fd)
{
    listen_fd = fd;
    dl_buf_init(&resp_body, 0);
    dl_buf_init(&scratch, 0);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return -1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, listen_fd, &ev) != 0)
        return -1;
    ev.data.ptr = &signal_tag;
    if (sig_fd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sig_fd, &ev) != 0)
        return -1;
    return 0;
}

int sim_server_run(double deadline)
{
    struct epoll_event evs[256];
    for (;;) {
        double now = sim_now();
        if (deadline > 0 && now >= deadline)
            return 0;
        int timeout = -1;
        double next = deadline > 0 ? deadline : 0;
        if (heap_n && (next == 0 || heap[0]->due < next))
            next = heap[0]->due;
        if (next > 0) {
            double ms = (next - now) * 1000.0;
            timeout = ms <= 0 ? 0 : (int)ms + 1;
        }
        int n = epoll_wait(epfd, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            return -1;
        for (int i = 0; i < n; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &listen_tag) {
                on_accept();
            } else if (tag == &signal_tag) {
                return 0;
            } else {
                struct conn *c = tag;
                uint32_t e = evs[i].events;
                if (e & EPOLLERR) {
                    conn_close(c);
                    continue;
                }
                if (e & EPOLLOUT) {
                    if (!conn_flush(c))
                        continue;
                }
                if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))
                    on_readable(c, e);
            }
        }
        now = sim_now();
        while (heap_n && heap[0]->due <= now)
            on_timer(heap[0]);
    }
}
