/* The network thread. One thread owns one CURLM and drives it with curl_multi_poll();
 * other threads only touch the submission queue (under n->mu) and wake the loop with
 * curl_multi_wakeup(). Everything else (pool, waiting list, backoff timers) belongs to the
 * network thread alone.
 *
 * Life of a request: submitted -> n->incoming (locked) -> n->waiting (FIFO, thread-local)
 * -> running on a pooled easy handle -> finished (done() called), or back to waiting
 * through the backoff heap when the attempt failed in a retryable way.
 *
 * Semantics callers rely on (beyond net.h):
 * - dl_net_submit clears the response fields itself. When it returns an error (DL_ERR_INVALID
 *   for a request without method/URL/done, DL_ERR_CANCELLED once dl_net_destroy has begun,
 *   DL_ERR_NET after the multi handle failed) done() is NOT called.
 * - Every method is retried, POST included: the bodies we send (S3 PUT, DynamoDB writes) are
 *   idempotent. Transport errors other than configuration ones (bad URL, TLS certificate,
 *   callback aborts) are retried; an HTTP status is retried when 500-599, or when
 *   req->retryable says so (it gets the submitter's ctx, also under dl_net_do).
 * - A retried attempt starts from an empty response: a GET cut off mid-body is downloaded
 *   again from byte 0 (a caller that wants to resume sets range_set/range_start itself).
 * - When 5xx retries run out the request still finishes with result DL_OK and that status.
 * - done() runs on the network thread and must not call dl_net_do or dl_net_destroy. */
#include "net/net.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aws/sigv4.h"
#include "core/log.h"

#define RESP_DEFAULT_CAP ((size_t)256 << 20)

struct xfer {
    CURL *easy;
    struct curl_slist *hdrs;
    struct dl_http_req *req; /* NULL while the slot is free */
    size_t up_off;           /* PUT body read position */
    uint64_t start_ms;
    bool too_large;
    bool resumed;        /* this attempt asked for the rest of a partial body */
    bool resume_checked; /* the first body bytes of this attempt have been seen */
    bool nomem;
    char errbuf[CURL_ERROR_SIZE];
};

struct dl_net {
    struct dl_net_opts o;
    CURLM *multi;
    pthread_t thread;
    bool thread_started;

    /* ---- shared, under mu ---- */
    pthread_mutex_t mu;
    struct dl_http_req *in_head, *in_tail; /* submitted, not yet seen by the thread */
    bool stop;
    bool broken;                           /* the multi handle failed; nothing more runs */
    struct dl_net_stats stats;

    /* ---- network thread only ---- */
    struct xfer *xfers;  /* max_transfers slots */
    int *free_slots;     /* stack of free slot indexes */
    int nfree;
    int running;
    struct dl_http_req *wait_head, *wait_tail; /* ready to start, FIFO */
    struct dl_http_req **heap;                 /* backoff timers: min-heap on due_ms */
    size_t nheap, heap_alloc;
    uint64_t rng;
    struct dl_sigv4_output sig;
};

/* ------------------------------------------------------------------------------------ */
/* requests                                                                              */

struct dl_http_req *dl_http_req_new(void)
{
    struct dl_http_req *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    dl_buf_init(&r->url, 0);
    dl_buf_init(&r->body, 0);
    dl_buf_init(&r->resp, RESP_DEFAULT_CAP);
    return r;
}

void dl_http_req_destroy(struct dl_http_req *r)
{
    if (!r)
        return;
    dl_buf_free(&r->url);
    dl_buf_free(&r->body);
    dl_buf_free(&r->resp);
    for (int i = 0; i < r->nheaders; i++)
        free(r->headers[i]);
    free(r);
}

void dl_http_req_reset_response(struct dl_http_req *r)
{
    r->status = 0;
    dl_buf_reset(&r->resp);
    r->etag[0] = 0;
    r->request_id[0] = 0;
    r->result = DL_OK;
    r->errmsg[0] = 0;
    r->attempts = 0;
    r->elapsed_s = 0;
}

enum dl_err dl_http_req_add_header(struct dl_http_req *r, const char *name, const char *value)
{
    if (r->nheaders >= DL_HTTP_MAX_HEADERS)
        return DL_ERR_TOO_LARGE;
    /* a CR or LF would let a value inject headers of its own */
    if (!*name || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return DL_ERR_INVALID;
    size_t len = strlen(name) + strlen(value) + 3;
    char *h = malloc(len);
    if (!h)
        return DL_ERR_NOMEM;
    snprintf(h, len, "%s: %s", name, value);
    r->headers[r->nheaders++] = h;
    return DL_OK;
}

/* ------------------------------------------------------------------------------------ */
/* small helpers                                                                         */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t rng_next(struct dl_net *n)
{
    /* xorshift64*: backoff jitter needs spread, not cryptographic quality */
    uint64_t x = n->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    n->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t backoff_ms(struct dl_net *n, int attempts)
{
    uint64_t cap = n->o.backoff_cap_ms > 0 ? (uint64_t)n->o.backoff_cap_ms : 0;
    uint64_t base = n->o.backoff_base_ms > 0 ? (uint64_t)n->o.backoff_base_ms : 0;
    uint64_t max = base;
    for (int i = 0; i < attempts && max < cap; i++)
        max *= 2;
    if (max > cap)
        max = cap;
    return max ? rng_next(n) % (max + 1) : 0;
}

/* The URL as it may appear in a message: no user:password@, no query string (a presigned
 * URL carries its signature there). */
static void safe_url(const struct dl_http_req *r, char *out, size_t outlen)
{
    const char *u = r->url.data ? (const char *)r->url.data : "";
    const char *scheme_end = strstr(u, "://");
    const char *auth = scheme_end ? scheme_end + 3 : u;
    size_t auth_len = strcspn(auth, "/?#");
    const char *at = memchr(auth, '@', auth_len);
    size_t scheme_len = (size_t)(auth - u);
    const char *rest = at ? at + 1 : auth;
    size_t rest_len = strcspn(rest, "?#");
    snprintf(out, outlen, "%.*s%.*s", (int)scheme_len, u, (int)rest_len, rest);
}

static bool name_is(const char *h, size_t namelen, const char *name)
{
    return namelen == strlen(name) && strncasecmp(h, name, namelen) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* curl callbacks                                                                        */

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * nmemb;
    enum dl_err e;
    long code = 0;
    if (x->req->spill && curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK && code >= 200 &&
        code < 300) {
        struct dl_http_req *r = x->req;
        if (!x->resume_checked) {
            x->resume_checked = true;
            if (x->resumed && code != 206)
                dl_spill_free(r->spill); /* the Range was ignored: this is the whole body again */
            if (!r->resume_etag[0])
                snprintf(r->resume_etag, sizeof r->resume_etag, "%s", r->etag);
        }
        e = dl_spill_write(r->spill, ptr, len);
    } else
        e = dl_buf_append(&x->req->resp, ptr, len);
    if (e == DL_ERR_TOO_LARGE)
        x->too_large = true;
    else if (e)
        x->nomem = true;
    return e ? 0 : len; /* a short count makes curl abort with CURLE_WRITE_ERROR */
}

static void copy_value(char *dst, size_t dstlen, const char *v, size_t vlen)
{
    while (vlen && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t' || v[vlen - 1] == '\r' ||
                    v[vlen - 1] == '\n'))
        vlen--;
    if (vlen >= dstlen)
        vlen = dstlen - 1;
    memcpy(dst, v, vlen);
    dst[vlen] = 0;
}

static size_t header_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct dl_http_req *r = x->req;
    size_t len = size * nitems;
    if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
        /* a new response (after a 100 Continue or similar): forget the previous one's */
        r->etag[0] = 0;
        r->request_id[0] = 0;
        return len;
    }
    const char *colon = memchr(buf, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = len - nlen - 1;
    if (name_is(buf, nlen, "etag")) {
        copy_value(r->etag, sizeof r->etag, v, vlen);
    } else if (name_is(buf, nlen, "x-amzn-requestid") || name_is(buf, nlen, "x-amz-request-id")) {
        copy_value(r->request_id, sizeof r->request_id, v, vlen);
    } else if (name_is(buf, nlen, "content-length") && strcmp(r->method, "HEAD") != 0) {
        char num[32];
        copy_value(num, sizeof num, v, vlen);
        char *end;
        unsigned long long cl = strtoull(num, &end, 10);
        if (end != num && *end == 0 && !r->spill) {
            /* refuse a body that cannot fit before reading any of it; else size it once */
            if (cl > r->resp.cap - r->resp.len) {
                x->too_large = true;
                return 0;
            }
            if (dl_buf_reserve(&r->resp, (size_t)cl) != DL_OK) {
                x->nomem = true;
                return 0;
            }
        }
    }
    return len;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    const struct dl_buf *b = &x->req->body;
    size_t want = size * nitems;
    size_t left = b->len - x->up_off;
    if (want > left)
        want = left;
    if (want)
        memcpy(buf, b->data + x->up_off, want);
    x->up_off += want;
    return want;
}

static int seek_cb(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req->body.len)
        return CURL_SEEKFUNC_FAIL;
    x->up_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* ------------------------------------------------------------------------------------ */
/* waiting list and timers (network thread only)                                         */

static void wait_push(struct dl_net *n, struct dl_http_req *r)
{
    r->qnext = NULL;
    if (n->wait_tail)
        n->wait_tail->qnext = r;
    else
        n->wait_head = r;
    n->wait_tail = r;
}

static struct dl_http_req *wait_pop(struct dl_net *n)
{
    struct dl_http_req *r = n->wait_head;
    if (r) {
        n->wait_head = r->qnext;
        if (!n->wait_head)
            n->wait_tail = NULL;
        r->qnext = NULL;
    }
    return r;
}

static enum dl_err heap_push(struct dl_net *n, struct dl_http_req *r)
{
    if (n->nheap == n->heap_alloc) {
        size_t na = n->heap_alloc ? n->heap_alloc * 2 : 64;
        struct dl_http_req **h = realloc(n->heap, na * sizeof *h);
        if (!h)
            return DL_ERR_NOMEM;
        n->heap = h;
        n->heap_alloc = na;
    }
    size_t i = n->nheap++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (n->heap[parent]->due_ms <= r->due_ms)
            break;
        n->heap[i] = n->heap[parent];
        i = parent;
    }
    n->heap[i] = r;
    return DL_OK;
}

static struct dl_http_req *heap_pop(struct dl_net *n)
{
    struct dl_http_req *top = n->heap[0];
    struct dl_http_req *last = n->heap[--n->nheap];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n->nheap)
            break;
        if (c + 1 < n->nheap && n->heap[c + 1]->due_ms < n->heap[c]->due_ms)
            c++;
        if (last->due_ms <= n->heap[c]->due_ms)
            break;
        n->heap[i] = n->heap[c];
        i = c;
    }
    if (n->nheap)
        n->heap[i] = last;
    return top;
}

/* ------------------------------------------------------------------------------------ */
/* finishing                                                                             */

static void finish(struct dl_net *n, struct dl_http_req *r, enum dl_err result)
{
    r->result = result;
    r->priv = NULL;
    r->qnext = NULL;
    pthread_mutex_lock(&n->mu);
    n->stats.requests++;
    pthread_mutex_unlock(&n->mu);
    /* done() may free or resubmit r: do not touch it afterwards */
    r->done(r, r->ctx);
}

static void finish_err(struct dl_net *n, struct dl_http_req *r, enum dl_err result,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void finish_err(struct dl_net *n, struct dl_http_req *r, enum dl_err result,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->errmsg, sizeof r->errmsg, fmt, ap);
    va_end(ap);
    finish(n, r, result);
}

/* ------------------------------------------------------------------------------------ */
/* starting an attempt                                                                   */

static enum dl_err slist_add(struct curl_slist **list, const char *h)
{
    struct curl_slist *l = curl_slist_append(*list, h);
    if (!l)
        return DL_ERR_NOMEM;
    *list = l;
    return DL_OK;
}

static enum dl_err slist_add2(struct curl_slist **list, const char *name, const char *value)
{
    char stack[512];
    size_t nl = strlen(name), vl = strlen(value);
    size_t len = nl + vl + 3;
    char *h = len <= sizeof stack ? stack : malloc(len);
    if (!h)
        return DL_ERR_NOMEM;
    memcpy(h, name, nl);
    memcpy(h + nl, ": ", 2);
    memcpy(h + nl + 2, value, vl + 1);
    enum dl_err e = slist_add(list, h);
    if (h != stack)
        free(h);
    return e;
}

/* Build the attempt's header list: the request's own headers, Range, the SigV4 headers
 * (signed now, so every attempt carries a fresh X-Amz-Date), and "Expect:" to stop curl
 * waiting for a 100 Continue that S3 and DynamoDB never need. */
static enum dl_err build_headers(struct dl_net *n, struct dl_http_req *r, struct curl_slist **list,
                                 char *why, size_t whylen)
{
    enum dl_err e = DL_OK;
    char range[64] = "";
    struct dl_sigv4_header sh[DL_HTTP_MAX_HEADERS + 1];
    size_t nsh = 0;
    const char *payload_hash = NULL;

    if (r->range_set)
        snprintf(range, sizeof range, "bytes=%llu-", (unsigned long long)r->range_start);

    for (int i = 0; i < r->nheaders; i++) {
        const char *h = r->headers[i];
        const char *colon = strchr(h, ':');
        size_t nlen = colon ? (size_t)(colon - h) : strlen(h);
        const char *v = colon ? colon + 1 : "";
        while (*v == ' ' || *v == '\t')
            v++;
        if (r->aws && name_is(h, nlen, "x-amz-content-sha256")) {
            payload_hash = v; /* the signer emits this header itself */
            continue;
        }
        if (r->aws && (name_is(h, nlen, "host") || name_is(h, nlen, "authorization") ||
                       name_is(h, nlen, "x-amz-date") || name_is(h, nlen, "x-amz-security-token")))
            continue; /* owned by the signer */
        if ((e = slist_add(list, h)))
            goto out;
        if (r->aws && !name_is(h, nlen, "expect"))
            sh[nsh++] = (struct dl_sigv4_header){ dl_cursor_of(h, nlen), dl_cursor_str(v) };
    }
    if (r->range_set) {
        if ((e = slist_add2(list, "Range", range)))
            goto out;
        if (r->aws)
            sh[nsh++] = (struct dl_sigv4_header){ dl_cursor_str("Range"), dl_cursor_str(range) };
    }
    if (r->aws) {
        struct dl_url_parts u;
        if (dl_url_split((const char *)r->url.data, &u) != DL_OK) {
            snprintf(why, whylen, "cannot sign a request for a malformed URL");
            e = DL_ERR_INVALID;
            goto out;
        }
        const struct dl_aws_config *c = r->aws;
        if (!c->access_key_id || !*c->access_key_id || !c->secret_access_key ||
            !*c->secret_access_key) {
            snprintf(why, whylen, "no AWS credentials to sign the request with");
            e = DL_ERR_CREDENTIALS;
            goto out;
        }
        struct dl_sigv4_input in = {
            .method = r->method,
            .host = u.host,
            .path = u.path,
            .query = u.query,
            .headers = sh,
            .nheaders = nsh,
            .payload = dl_buf_cur(&r->body),
            .payload_hash = payload_hash,
            .access_key_id = c->access_key_id,
            .secret_access_key = c->secret_access_key,
            .session_token = c->session_token,
            .region = c->region,
            .service = r->service ? r->service : "s3",
            .now = time(NULL),
        };
        e = dl_sigv4_sign(&in, &n->sig);
        if (e) {
            snprintf(why, whylen, "cannot sign the request: %s", dl_err_str(e));
            goto out;
        }
        /* send exactly the Host that was signed (curl would drop a default port) */
        if ((e = slist_add2(list, "Host", u.host)))
            goto out;
        for (size_t i = 0; i < n->sig.nheaders; i++)
            if ((e = slist_add2(list, n->sig.headers[i].name, n->sig.headers[i].value)))
                goto out;
    }
    e = slist_add(list, "Expect:");
out:
    if (e == DL_ERR_NOMEM && !why[0])
        snprintf(why, whylen, "out of memory");
    return e;
}

static void start_attempt(struct dl_net *n, struct dl_http_req *r)
{
    char why[160] = "";
    int slot = n->free_slots[--n->nfree];
    struct xfer *x = &n->xfers[slot];
    enum dl_err e = DL_OK;

    if (!x->easy) {
        x->easy = curl_easy_init();
        if (!x->easy) {
            e = DL_ERR_NOMEM;
            snprintf(why, sizeof why, "cannot create a curl handle");
            goto out;
        }
    } else {
        curl_easy_reset(x->easy); /* keeps the handle; connections live in the multi's cache */
    }
    x->req = r;
    x->hdrs = NULL;
    x->up_off = 0;
    x->too_large = false;
    x->nomem = false;
    x->errbuf[0] = 0;
    /* an attempt starts from an empty response: a GET retried after a partial body is
     * downloaded again from the start (callers that want to resume set range_set) */
    r->status = 0;
    dl_buf_reset(&r->resp);
    x->resumed = false;
    x->resume_checked = false;
    if (r->spill && r->resume && r->spill->len > 0 && r->resume_etag[0]) {
        /* S3 GET cut off mid-body: ask only for the rest, of the same version of the object */
        x->resumed = true;
        r->resumes++;
        r->range_set = true;
        r->range_start = r->spill->len;
        if (!r->if_match_sent && (e = dl_http_req_add_header(r, "If-Match", r->resume_etag)) == DL_OK)
            r->if_match_sent = true;
        e = DL_OK;
    } else if (r->spill) {
        dl_spill_free(r->spill);
        if (r->resume) {
            r->range_set = false;
            r->resume_etag[0] = 0;
        }
    }
    r->etag[0] = 0;
    r->request_id[0] = 0;

    if ((e = build_headers(n, r, &x->hdrs, why, sizeof why)))
        goto out;

    CURL *c = x->easy;
    CURLcode ce = CURLE_OK;
#define SET(opt, val) \
    if (ce == CURLE_OK) \
    ce = curl_easy_setopt(c, opt, val)
    SET(CURLOPT_URL, (const char *)r->url.data);
    /* the path was signed as sent: keep curl from squashing "/./" or "/../" in S3 keys */
    SET(CURLOPT_PATH_AS_IS, 1L);
    SET(CURLOPT_PRIVATE, (void *)x);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_ERRORBUFFER, x->errbuf);
    SET(CURLOPT_WRITEFUNCTION, write_cb);
    SET(CURLOPT_WRITEDATA, (void *)x);
    SET(CURLOPT_HEADERFUNCTION, header_cb);
    SET(CURLOPT_HEADERDATA, (void *)x);
    SET(CURLOPT_HTTPHEADER, x->hdrs);
    SET(CURLOPT_CONNECTTIMEOUT_MS, n->o.connect_timeout_ms);
    SET(CURLOPT_TIMEOUT_MS, n->o.total_timeout_ms);
    SET(CURLOPT_LOW_SPEED_LIMIT, n->o.low_speed_bytes);
    SET(CURLOPT_LOW_SPEED_TIME, n->o.low_speed_secs);
    SET(CURLOPT_TCP_KEEPALIVE, 1L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_BUFFERSIZE, 128L * 1024);
    if (strcmp(r->method, "GET") == 0) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(r->method, "HEAD") == 0) {
        SET(CURLOPT_NOBODY, 1L);
    } else if (strcmp(r->method, "PUT") == 0) {
        SET(CURLOPT_UPLOAD, 1L);
        SET(CURLOPT_READFUNCTION, read_cb);
        SET(CURLOPT_READDATA, (void *)x);
        SET(CURLOPT_SEEKFUNCTION, seek_cb);
        SET(CURLOPT_SEEKDATA, (void *)x);
        SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->body.len);
    } else {
        /* POST, DELETE, ...: the body (possibly empty) goes as is, without a copy */
        if (strcmp(r->method, "POST") != 0)
            SET(CURLOPT_CUSTOMREQUEST, r->method);
        if (r->body.len || strcmp(r->method, "POST") == 0) {
            SET(CURLOPT_POSTFIELDS, r->body.data ? (const char *)r->body.data : "");
            SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body.len);
        }
    }
#undef SET
    if (ce != CURLE_OK) {
        e = DL_ERR_INVALID;
        snprintf(why, sizeof why, "cannot set up the transfer: %s", curl_easy_strerror(ce));
        goto out;
    }
    CURLMcode mc = curl_multi_add_handle(n->multi, c);
    if (mc != CURLM_OK) {
        e = DL_ERR_NET;
        snprintf(why, sizeof why, "cannot start the transfer: %s", curl_multi_strerror(mc));
        goto out;
    }
    r->priv = x;
    r->attempts++;
    x->start_ms = now_ms();
    n->running++;
    pthread_mutex_lock(&n->mu);
    n->stats.attempts++;
    if (r->attempts > 1)
        n->stats.retries++;
    pthread_mutex_unlock(&n->mu);
out:
    if (e) {
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        x->req = NULL;
        n->free_slots[n->nfree++] = slot;
        char u[160];
        safe_url(r, u, sizeof u);
        finish_err(n, r, e, "%s %s: %s", r->method, u, why);
    }
}

static void start_ready(struct dl_net *n)
{
    while (n->nfree > 0 && n->wait_head)
        start_attempt(n, wait_pop(n));
}

/* ------------------------------------------------------------------------------------ */
/* finishing an attempt                                                                  */

static bool curl_retryable(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_WRITE_ERROR:
    case CURLE_READ_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_TOO_MANY_REDIRECTS:
        return false;
    default:
        return true;
    }
}

static const char *failure_verb(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_CONNECT: return "cannot connect to";
    case CURLE_COULDNT_RESOLVE_HOST: return "cannot resolve the host of";
    case CURLE_OPERATION_TIMEDOUT: return "timed out on";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION: return "TLS failed with";
    default: return "transfer failed for";
    }
}

/* Whether r should run again; calls the request's own predicate with the ctx the
 * submitter gave (dl_net_do keeps the caller's ctx aside). */
static void *user_ctx(struct dl_http_req *r);

static void attempt_done(struct dl_net *n, struct xfer *x, CURLcode rc)
{
    struct dl_http_req *r = x->req;
    CURL *c = x->easy;
    long status = 0, connects = 0;
    curl_off_t down = 0, up = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
    curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
    CURLMcode mc = curl_multi_remove_handle(n->multi, c);
    if (mc != CURLM_OK)
        dl_warn("net: curl_multi_remove_handle: %s", curl_multi_strerror(mc));
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
    bool too_large = x->too_large, nomem = x->nomem;
    char detail[CURL_ERROR_SIZE];
    snprintf(detail, sizeof detail, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    r->elapsed_s = (double)(now_ms() - x->start_ms) / 1000.0;
    x->req = NULL;
    n->free_slots[n->nfree++] = (int)(x - n->xfers);
    n->running--;
    r->priv = NULL;

    pthread_mutex_lock(&n->mu);
    n->stats.connects += (uint64_t)(connects > 0 ? connects : 0);
    n->stats.bytes_in += (uint64_t)(down > 0 ? down : 0);
    n->stats.bytes_out += (uint64_t)(up > 0 ? up : 0);
    pthread_mutex_unlock(&n->mu);

    char u[160];
    safe_url(r, u, sizeof u);
    if (rc == CURLE_OK) {
        r->status = status;
        bool again;
        if (r->retryable)
            again = r->retryable(r, user_ctx(r));
        else
            again = status >= 500 && status <= 599;
        if (!again || r->attempts >= n->o.max_attempts) {
            finish(n, r, DL_OK);
            return;
        }
        dl_debug("net: %s %s: HTTP %ld, retrying (attempt %d)", r->method, u, status,
                 r->attempts);
    } else if (too_large) {
        finish_err(n, r, DL_ERR_TOO_LARGE, "response from %s is larger than %zu bytes", u,
                   r->resp.cap);
        return;
    } else if (nomem) {
        finish_err(n, r, DL_ERR_NOMEM, "out of memory reading the response from %s", u);
        return;
    } else if (!curl_retryable(rc) || r->attempts >= n->o.max_attempts) {
        r->status = 0;
        finish_err(n, r, DL_ERR_NET, "%s %s (%s) after %d attempt%s", failure_verb(rc), u, detail,
                   r->attempts, r->attempts == 1 ? "" : "s");
        return;
    } else {
        dl_debug("net: %s %s: %s, retrying (attempt %d)", r->method, u, detail, r->attempts);
    }
    r->due_ms = now_ms() + backoff_ms(n, r->attempts);
    if (heap_push(n, r) != DL_OK)
        finish_err(n, r, DL_ERR_NOMEM, "out of memory scheduling a retry of %s", u);
}

static void drain_messages(struct dl_net *n)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(n->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct xfer *x = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        /* read the result before remove_handle invalidates m */
        CURLcode rc = m->data.result;
        if (x && x->req)
            attempt_done(n, x, rc);
    }
}

/* ------------------------------------------------------------------------------------ */
/* the loop                                                                              */

static void cancel_all(struct dl_net *n, enum dl_err code, const char *why)
{
    for (int i = 0; i < n->o.max_transfers; i++) {
        struct xfer *x = &n->xfers[i];
        if (!x->req)
            continue;
        struct dl_http_req *r = x->req;
        curl_multi_remove_handle(n->multi, x->easy);
        curl_slist_free_all(x->hdrs);
        x->hdrs = NULL;
        x->req = NULL;
        n->free_slots[n->nfree++] = i;
        n->running--;
        finish_err(n, r, code, "%s", why);
    }
    while (n->nheap)
        finish_err(n, heap_pop(n), code, "%s", why);
    struct dl_http_req *r;
    while ((r = wait_pop(n)))
        finish_err(n, r, code, "%s", why);
    /* submissions made before stop was set (done() callbacks above cannot add more:
     * dl_net_submit refuses once stop or broken is set) */
    pthread_mutex_lock(&n->mu);
    struct dl_http_req *q = n->in_head;
    n->in_head = n->in_tail = NULL;
    pthread_mutex_unlock(&n->mu);
    while (q) {
        struct dl_http_req *next = q->qnext;
        finish_err(n, q, code, "%s", why);
        q = next;
    }
}

static void *net_main(void *arg)
{
    struct dl_net *n = arg;
    char fatal[160] = "";
    for (;;) {
        pthread_mutex_lock(&n->mu);
        bool stop = n->stop;
        struct dl_http_req *q = n->in_head;
        n->in_head = n->in_tail = NULL;
        pthread_mutex_unlock(&n->mu);
        while (q) {
            struct dl_http_req *next = q->qnext;
            wait_push(n, q);
            q = next;
        }
        if (stop)
            break;

        uint64_t now = now_ms();
        while (n->nheap && n->heap[0]->due_ms <= now)
            wait_push(n, heap_pop(n));
        start_ready(n);

        int still = 0;
        CURLMcode mc = curl_multi_perform(n->multi, &still);
        if (mc != CURLM_OK) {
            snprintf(fatal, sizeof fatal, "network loop failed: %s", curl_multi_strerror(mc));
            break;
        }
        drain_messages(n);

        long timeout = 1000;
        if (n->nfree > 0 && n->wait_head) {
            timeout = 0; /* slots freed up: start the next ones right away */
        } else if (n->nheap) {
            now = now_ms();
            uint64_t due = n->heap[0]->due_ms;
            long until = due > now ? (long)(due - now) : 0;
            if (until < timeout)
                timeout = until;
        }
        if (timeout > 0) {
            /* curl_multi_poll returns early for socket activity, curl's own timers,
             * and curl_multi_wakeup() from dl_net_submit / dl_net_destroy */
            mc = curl_multi_poll(n->multi, NULL, 0, (int)timeout, NULL);
            if (mc != CURLM_OK) {
                snprintf(fatal, sizeof fatal, "network loop failed: %s",
                         curl_multi_strerror(mc));
                break;
            }
        }
    }
    if (fatal[0]) {
        dl_error("net: %s", fatal);
        pthread_mutex_lock(&n->mu);
        n->broken = true;
        pthread_mutex_unlock(&n->mu);
        cancel_all(n, DL_ERR_NET, fatal);
    } else {
        cancel_all(n, DL_ERR_CANCELLED, "cancelled: the network layer is shutting down");
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------ */
/* public API                                                                            */

void dl_net_opts_default(struct dl_net_opts *o)
{
    o->max_transfers = 64;
    o->connect_timeout_ms = 5000;
    o->total_timeout_ms = 300000;
    o->low_speed_bytes = 1;
    o->low_speed_secs = 30;
    o->max_attempts = 8;
    o->backoff_base_ms = 50;
    o->backoff_cap_ms = 5000;
}

static pthread_mutex_t global_mu = PTHREAD_MUTEX_INITIALIZER;

struct dl_net *dl_net_new(const struct dl_net_opts *o)
{
    struct dl_net *n = calloc(1, sizeof *n);
    bool global = false, mu = false;
    if (!n)
        return NULL;
    if (o)
        n->o = *o;
    else
        dl_net_opts_default(&n->o);
    if (n->o.max_transfers <= 0)
        n->o.max_transfers = 64;
    if (n->o.max_attempts <= 0)
        n->o.max_attempts = 1;

    /* curl_global_init is not thread-safe in every libcurl build; serialise our calls */
    pthread_mutex_lock(&global_mu);
    CURLcode gc = curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_mutex_unlock(&global_mu);
    if (gc != CURLE_OK)
        goto fail;
    global = true;
    if (pthread_mutex_init(&n->mu, NULL) != 0)
        goto fail;
    mu = true;
    dl_sigv4_output_init(&n->sig);
    n->xfers = calloc((size_t)n->o.max_transfers, sizeof *n->xfers);
    n->free_slots = calloc((size_t)n->o.max_transfers, sizeof *n->free_slots);
    n->multi = curl_multi_init();
    if (!n->xfers || !n->free_slots || !n->multi)
        goto fail;
    for (int i = n->o.max_transfers - 1; i >= 0; i--)
        n->free_slots[n->nfree++] = i;
    long mt = n->o.max_transfers;
    if (curl_multi_setopt(n->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, mt) != CURLM_OK ||
        curl_multi_setopt(n->multi, CURLMOPT_MAX_HOST_CONNECTIONS, mt) != CURLM_OK ||
        curl_multi_setopt(n->multi, CURLMOPT_MAXCONNECTS, mt) != CURLM_OK)
        goto fail;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    n->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)n;
    if (!n->rng)
        n->rng = 0x9E3779B97F4A7C15ULL;
    if (pthread_create(&n->thread, NULL, net_main, n) != 0)
        goto fail;
    n->thread_started = true;
    return n;
fail:
    if (n->multi)
        curl_multi_cleanup(n->multi);
    free(n->xfers);
    free(n->free_slots);
    if (mu) {
        dl_sigv4_output_free(&n->sig);
        pthread_mutex_destroy(&n->mu);
    }
    if (global) {
        pthread_mutex_lock(&global_mu);
        curl_global_cleanup();
        pthread_mutex_unlock(&global_mu);
    }
    free(n);
    return NULL;
}

void dl_net_destroy(struct dl_net *n)
{
    if (!n)
        return;
    pthread_mutex_lock(&n->mu);
    n->stop = true;
    curl_multi_wakeup(n->multi);
    pthread_mutex_unlock(&n->mu);
    if (n->thread_started)
        pthread_join(n->thread, NULL);
    for (int i = 0; i < n->o.max_transfers; i++)
        if (n->xfers[i].easy)
            curl_easy_cleanup(n->xfers[i].easy);
    curl_multi_cleanup(n->multi);
    free(n->xfers);
    free(n->free_slots);
    free(n->heap);
    dl_sigv4_output_free(&n->sig);
    pthread_mutex_destroy(&n->mu);
    pthread_mutex_lock(&global_mu);
    curl_global_cleanup();
    pthread_mutex_unlock(&global_mu);
    free(n);
}

enum dl_err dl_net_submit(struct dl_net *n, struct dl_http_req *r)
{
    if (!n || !r || !r->method || !r->done || !r->url.data || r->url.len == 0)
        return DL_ERR_INVALID;
    dl_http_req_reset_response(r);
    r->qnext = NULL;
    r->priv = NULL;
    r->due_ms = 0;
    enum dl_err e = DL_OK;
    pthread_mutex_lock(&n->mu);
    if (n->broken) {
        e = DL_ERR_NET;
    } else if (n->stop) {
        e = DL_ERR_CANCELLED;
    } else {
        if (n->in_tail)
            n->in_tail->qnext = r;
        else
            n->in_head = r;
        n->in_tail = r;
        /* under the lock: dl_net_destroy cannot free the multi handle meanwhile */
        curl_multi_wakeup(n->multi);
    }
    pthread_mutex_unlock(&n->mu);
    if (e) {
        r->result = e;
        snprintf(r->errmsg, sizeof r->errmsg, "%s",
                 e == DL_ERR_NET ? "the network layer has failed" : "the network layer is stopping");
    }
    return e;
}

struct sync_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    dl_http_done_fn user_done;
    void *user_ctx;
};

static void sync_done(struct dl_http_req *r, void *ctx)
{
    struct sync_call *s = ctx;
    pthread_mutex_lock(&s->mu);
    s->done = true;
    /* signalled under the lock: the waiter may free s as soon as it owns the mutex */
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *user_ctx(struct dl_http_req *r)
{
    if (r->done == sync_done)
        return ((struct sync_call *)r->ctx)->user_ctx;
    return r->ctx;
}

enum dl_err dl_net_do(struct dl_net *n, struct dl_http_req *r)
{
    struct sync_call s = { .done = false, .user_done = r->done, .user_ctx = r->ctx };
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    r->done = sync_done;
    r->ctx = &s;
    enum dl_err e = dl_net_submit(n, r);
    if (e == DL_OK) {
        pthread_mutex_lock(&s.mu);
        while (!s.done)
            pthread_cond_wait(&s.cv, &s.mu);
        pthread_mutex_unlock(&s.mu);
        e = r->result;
    }
    r->done = s.user_done;
    r->ctx = s.user_ctx;
    pthread_cond_destroy(&s.cv);
    pthread_mutex_destroy(&s.mu);
    return e;
}

void dl_net_stats_get(struct dl_net *n, struct dl_net_stats *out)
{
    pthread_mutex_lock(&n->mu);
    *out = n->stats;
    pthread_mutex_unlock(&n->mu);
}
