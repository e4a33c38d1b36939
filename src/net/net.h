/* The network thread: one curl multi handle drives every HTTP transfer (S3 LIST/GET/PUT,
 * DynamoDB POSTs) with keep-alive connection reuse. Other threads hand it requests with
 * dl_net_submit(); it signs them (SigV4, re-signed on every attempt), runs them, retries
 * transport errors and 5xx with full-jitter backoff, and calls each request's done()
 * callback on the network thread when the request has finished for good. */
#ifndef DL_NET_NET_H
#define DL_NET_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "aws/config.h"
#include "core/buf.h"
#include "core/spill.h"
#include "core/err.h"

struct dl_net_opts {
    int max_transfers;          /* concurrent transfers (default 64) */
    long connect_timeout_ms;    /* default 5000 */
    long total_timeout_ms;      /* per attempt, default 300000; 0 = none */
    long low_speed_bytes;       /* abort an attempt slower than this many bytes/s ... (default 1) */
    long low_speed_secs;        /* ... for this many seconds (default 30) */
    int max_attempts;           /* attempts for retryable failures (default 8) */
    long backoff_base_ms;       /* full jitter: sleep rand(0, min(cap, base * 2^attempt)) (default 50) */
    long backoff_cap_ms;        /* default 5000 */
};
void dl_net_opts_default(struct dl_net_opts *o);

#define DL_HTTP_MAX_HEADERS 16

struct dl_http_req;
typedef void (*dl_http_done_fn)(struct dl_http_req *req, void *ctx);
/* Optional: decide whether a finished attempt with an HTTP status should be retried
 * (called on the network thread; the default retries 500-599 only). */
typedef bool (*dl_http_retry_fn)(const struct dl_http_req *req, void *ctx);

struct dl_http_req {
    /* ---- filled by the submitter ---- */
    const char *method;                 /* "GET", "POST", "PUT", "HEAD", "DELETE" (static string) */
    struct dl_buf url;                  /* full URL, already percent-encoded as it goes on the wire */
    struct dl_buf body;                 /* request body (may be empty) */
    char *headers[DL_HTTP_MAX_HEADERS]; /* "Name: value" strings owned by the request */
    int nheaders;
    const struct dl_aws_config *aws;    /* credentials/region for SigV4; NULL = do not sign */
    const char *service;                /* "s3" or "dynamodb" (signing name) */
    uint64_t range_start;               /* GET: if range_set, send "Range: bytes=range_start-" */
    bool range_set;
    dl_http_done_fn done;               /* required for dl_net_submit */
    dl_http_retry_fn retryable;         /* optional */
    void *ctx;
    /* ---- filled by the network thread ---- */
    long status;                        /* final HTTP status (0 if none) */
    struct dl_buf resp;                 /* response body; set resp.cap before submitting to bound it */
    struct dl_spill *spill;             /* optional: a 2xx body goes here instead of resp (memory up
                                           to its threshold, then a temp file); error bodies still go
                                           to resp. Emptied at the start of every attempt, unless: */
    bool resume;                        /* GET into a spill: an attempt that fails after part of the
                                           body arrived is resumed with "Range: bytes=N-" and
                                           "If-Match: <ETag of the first answer>" (a changed object
                                           answers 412); a server that ignores Range restarts it */
    int resumes;                        /* attempts that resumed a partial body */
    char resume_etag[128];
    bool if_match_sent;
    char etag[128];                     /* response ETag header, quotes kept, "" if none */
    char request_id[128];               /* x-amzn-RequestId / x-amz-request-id, "" if none */
    enum dl_err result;                 /* DL_OK if an HTTP response was received (any status);
                                           DL_ERR_NET after transport failures; DL_ERR_TOO_LARGE if
                                           the body passed resp.cap; DL_ERR_CANCELLED at shutdown */
    char errmsg[256];                   /* transport error text for result != DL_OK (no secrets) */
    int attempts;                       /* attempts made */
    double elapsed_s;                   /* wall time of the last attempt */
    /* ---- private to the network thread ---- */
    struct dl_http_req *qnext;
    uint64_t due_ms;
    void *priv;
};

/* Allocate a zeroed request with empty url/body/resp (resp.cap = 256 MiB). NULL on OOM. */
struct dl_http_req *dl_http_req_new(void);
/* Free the request and everything it owns. Must not be called while it is submitted. */
void dl_http_req_destroy(struct dl_http_req *r);
/* Clear the response fields so the same request can be submitted again. */
void dl_http_req_reset_response(struct dl_http_req *r);
/* Add a "name: value" header (copied). DL_ERR_TOO_LARGE past DL_HTTP_MAX_HEADERS. */
enum dl_err dl_http_req_add_header(struct dl_http_req *r, const char *name, const char *value);

struct dl_net;

/* Start the network thread. NULL on failure (curl init or thread creation). */
struct dl_net *dl_net_new(const struct dl_net_opts *o);
/* Stop the thread; requests still queued or running finish with DL_ERR_CANCELLED (their
 * done() is called). Safe with NULL. */
void dl_net_destroy(struct dl_net *n);

/* Queue a request (thread-safe, never blocks on the network). done() will be called exactly
 * once, on the network thread; it must be quick and must not call dl_net_do(). It may call
 * dl_net_submit() (including to resubmit the same request after dl_http_req_reset_response). */
enum dl_err dl_net_submit(struct dl_net *n, struct dl_http_req *r);

/* Submit and wait for the result (not from the network thread). r->done/ctx are overwritten. */
enum dl_err dl_net_do(struct dl_net *n, struct dl_http_req *r);

/* Counters since start (thread-safe snapshot). */
struct dl_net_stats {
    uint64_t requests;      /* requests finished */
    uint64_t attempts;      /* attempts started */
    uint64_t retries;       /* attempts that were retries */
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t connects;      /* new connections opened (keep-alive reuse shows as connects << attempts) */
};
void dl_net_stats_get(struct dl_net *n, struct dl_net_stats *out);

#endif
