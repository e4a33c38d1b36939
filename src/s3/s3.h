/* S3 client: ListObjectsV2 paging (XML parsed with expat), GET / PUT / HEAD of one object,
 * multipart upload, bucket creation, and S3 error documents turned into one-line messages.
 *
 * Requests go through the network thread (net/net.h): the *_prepare functions fill a
 * struct dl_http_req for dl_net_submit() (asynchronous) or dl_net_do(); the *_sync functions
 * do both and interpret the answer. Messages never contain credentials; they name the object
 * as "s3://bucket/key". */
#ifndef DL_S3_S3_H
#define DL_S3_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "aws/config.h"
#include "core/buf.h"
#include "core/err.h"
#include "net/net.h"

/* One object of a listing. */
struct dl_s3_object {
    char *key;              /* the key, entity-decoded UTF-8, NUL-terminated; owned by the list */
    size_t key_len;
    uint64_t size;
    char etag[128];         /* as S3 sends it, quotes kept ("\"9b2c...\"" or "\"...-12\"") */
    char last_modified[40]; /* ISO 8601 as S3 sends it, "2024-01-02T03:04:05.000Z" */
};

/* A growable array of objects, in the order S3 returned them (UTF-8 byte order). */
struct dl_s3_objects {
    struct dl_s3_object *items;
    size_t count;
    size_t alloc;
};
/* Drop the objects but keep the array's storage. */
void dl_s3_objects_clear(struct dl_s3_objects *l);
/* Free everything; the list is left empty and reusable. */
void dl_s3_objects_free(struct dl_s3_objects *l);

/* ---- listing ---- */

struct dl_s3_list;

/* A listing of bucket/prefix (prefix NULL or "" = whole bucket), starting after start_after
 * (NULL = from the start), max_keys objects per page (0 = S3's default, 1000). cfg, bucket and
 * prefix are copied except cfg, which must outlive the list. NULL on OOM. */
struct dl_s3_list *dl_s3_list_new(const struct dl_aws_config *cfg, const char *bucket,
                                  const char *prefix, const char *start_after, int max_keys);
void dl_s3_list_destroy(struct dl_s3_list *l);
/* True once the last page has been parsed. */
bool dl_s3_list_done(const struct dl_s3_list *l);

/* Fetch the next page with dl_net_do() and append its objects to out (a page may hold none).
 * After the last page dl_s3_list_done() is true; calling again then returns DL_OK and adds
 * nothing. Errors: those of dl_s3_error_message() (with errmsg filled), DL_ERR_PARSE for a
 * malformed listing, DL_ERR_TOO_LARGE / DL_ERR_NOMEM. Not from the network thread. */
enum dl_err dl_s3_list_next(struct dl_s3_list *l, struct dl_net *n, struct dl_s3_objects *out,
                            char *errmsg, size_t errlen);

/* The two halves of dl_s3_list_next, for callers that submit asynchronously:
 * prepare fills r (method, URL, signing) for the next page (the caller sets done/ctx);
 * parse reads the finished r, appends the page's objects to out and advances the list. */
enum dl_err dl_s3_list_prepare(struct dl_s3_list *l, struct dl_http_req *r);
enum dl_err dl_s3_list_parse(struct dl_s3_list *l, const struct dl_http_req *r,
                             struct dl_s3_objects *out, char *errmsg, size_t errlen);

/* Every object of bucket/prefix, appended to out in S3's order. max_keys as above; max_objects
 * bounds the result (0 = no bound; DL_ERR_TOO_LARGE past it). Errors as dl_s3_list_next. */
enum dl_err dl_s3_list_all(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           const char *prefix, int max_keys, size_t max_objects,
                           struct dl_s3_objects *out, char *errmsg, size_t errlen);

/* Parse one ListObjectsV2 response body (exposed for tests and fuzzing): objects are appended
 * to out; *truncated and next_token (replaced) tell about the next page. DL_ERR_PARSE with a
 * message for malformed XML; DL_ERR_TOO_LARGE for a field over 64 KiB. */
enum dl_err dl_s3_parse_list_xml(struct dl_cursor xml, struct dl_s3_objects *out, bool *truncated,
                                 struct dl_buf *next_token, char *errmsg, size_t errlen);

/* ---- objects ---- */

/* Fill r to GET bucket/key (URL from dl_aws_s3_url, signed for "s3" with cfg). Replaces r's
 * method, URL, aws and service; keeps its headers, range, resp.cap, done and ctx. */
enum dl_err dl_s3_get_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                              const char *bucket, struct dl_cursor key);

/* GET bucket/key into out (its content replaced; out->cap bounds the body, DL_ERR_TOO_LARGE
 * past it). etag (NULL or 128 bytes) receives the ETag. Errors as dl_s3_error_message. */
enum dl_err dl_s3_get_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           struct dl_cursor key, struct dl_buf *out, char *etag, char *errmsg,
                           size_t errlen);

/* Fill r to PUT body (copied into r->body) at bucket/key; content_type NULL = none. */
enum dl_err dl_s3_put_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                              const char *bucket, struct dl_cursor key, struct dl_cursor body,
                              const char *content_type);

/* PUT one small object. etag (NULL or 128 bytes) receives the new object's ETag. */
enum dl_err dl_s3_put_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                           struct dl_cursor key, struct dl_cursor body, const char *content_type,
                           char *etag, char *errmsg, size_t errlen);

/* ---- HEAD, user metadata, multipart upload ----
 * Each request has a *_prepare that fills r (method, URL, signing, headers; body copied) for
 * dl_net_submit() or dl_net_do(), and a *_parse that reads the finished r. prepare keeps r's
 * other headers, done, ctx and retryable; parse never changes r. key in parse is only for
 * messages. Parse errors are those of dl_s3_error_message(), plus DL_ERR_PARSE for a 2xx
 * answer without what it should hold. */

/* What a HEAD tells through the network layer, which keeps the ETag of a response and none
 * of its other headers (no Content-Length, no x-amz-meta-*). */
struct dl_s3_head {
    bool exists;
    char etag[128];  /* quotes kept, as S3 sends it */
};

enum dl_err dl_s3_head_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                               const char *bucket, struct dl_cursor key);
/* 200: exists, with the ETag. 404 (no such key): DL_OK with exists false. Other statuses,
 * 403 included (S3's answer for a missing key without s3:ListBucket), are errors. */
enum dl_err dl_s3_head_parse(const struct dl_http_req *r, const char *bucket, const char *key,
                             struct dl_s3_head *out, char *errmsg, size_t errlen);
enum dl_err dl_s3_head_sync(struct dl_net *n, const struct dl_aws_config *cfg, const char *bucket,
                            struct dl_cursor key, struct dl_s3_head *out, char *errmsg,
                            size_t errlen);

/* Add user metadata "x-amz-meta-<name>: value" to a PUT or CreateMultipartUpload request.
 * name: lowercase a-z, 0-9 and '-'; value: printable ASCII. DL_ERR_INVALID otherwise;
 * DL_ERR_TOO_LARGE past DL_HTTP_MAX_HEADERS. */
enum dl_err dl_s3_add_meta(struct dl_http_req *r, const char *name, const char *value);

/* Retry predicate for uploads (set r->retryable): 5xx, a 400 RequestTimeout (S3 gave up
 * waiting for the body), and a 200 whose body is an <Error> document with a transient code
 * (CompleteMultipartUpload answers 200 first and may fail while it assembles the parts). */
bool dl_s3_upload_retryable(const struct dl_http_req *r, void *ctx);

/* CreateMultipartUpload: POST key?uploads. content_type NULL = none; user metadata goes on
 * this request (dl_s3_add_meta). parse copies the UploadId into upload_id (idlen bytes);
 * DL_ERR_TOO_LARGE when it does not fit. */
enum dl_err dl_s3_mpu_create_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                     const char *bucket, struct dl_cursor key,
                                     const char *content_type);
enum dl_err dl_s3_mpu_create_parse(const struct dl_http_req *r, const char *bucket,
                                   const char *key, char *upload_id, size_t idlen, char *errmsg,
                                   size_t errlen);

/* One part that has been uploaded: its number (1..10000) and the ETag S3 gave it. */
struct dl_s3_part {
    int number;
    char etag[128];
};

/* UploadPart: PUT key?partNumber=N&uploadId=ID with body (copied). Every part but the last
 * must be at least 5 MiB. parse copies the part's ETag into etag (128 bytes). */
enum dl_err dl_s3_mpu_part_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                   const char *bucket, struct dl_cursor key,
                                   const char *upload_id, int part_number,
                                   struct dl_cursor body);
enum dl_err dl_s3_mpu_part_parse(const struct dl_http_req *r, const char *bucket, const char *key,
                                 char *etag, char *errmsg, size_t errlen);

/* CompleteMultipartUpload: POST key?uploadId=ID with the parts (ascending numbers) as XML.
 * parse treats a 200 whose body is an <Error> document as the error it holds; etag (NULL or
 * 128 bytes) receives the object's ETag. */
enum dl_err dl_s3_mpu_complete_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                       const char *bucket, struct dl_cursor key,
                                       const char *upload_id, const struct dl_s3_part *parts,
                                       size_t nparts);
enum dl_err dl_s3_mpu_complete_parse(const struct dl_http_req *r, const char *bucket,
                                     const char *key, char *etag, char *errmsg, size_t errlen);

/* AbortMultipartUpload: DELETE key?uploadId=ID (frees the parts S3 keeps, and bills for,
 * until then). parse: 2xx, or NoSuchUpload (already gone), is DL_OK. */
enum dl_err dl_s3_mpu_abort_prepare(struct dl_http_req *r, const struct dl_aws_config *cfg,
                                    const char *bucket, struct dl_cursor key,
                                    const char *upload_id);
enum dl_err dl_s3_mpu_abort_parse(const struct dl_http_req *r, const char *bucket,
                                  const char *key, char *errmsg, size_t errlen);

/* Create a bucket (with a LocationConstraint outside us-east-1). A bucket that already exists
 * and is ours (BucketAlreadyOwnedByYou) counts as success. */
enum dl_err dl_s3_create_bucket(struct dl_net *n, const struct dl_aws_config *cfg,
                                const char *bucket, char *errmsg, size_t errlen);

/* ---- errors ---- */

/* Explain a finished S3 request that did not succeed, as one line in out:
 *   "s3://bucket/key: NoSuchKey: The specified key does not exist. (HTTP 404, request id X)"
 * plus a hint for credential errors and "after N attempts" for 5xx. key NULL or "" names the
 * bucket alone. Returns DL_OK (out = "") for a 2xx response, else: r->result for transport
 * failures (DL_ERR_NET, DL_ERR_TOO_LARGE, DL_ERR_CANCELLED, ...); DL_ERR_NOT_FOUND for
 * NoSuchKey / NoSuchBucket / a bare 404; DL_ERR_CREDENTIALS for InvalidAccessKeyId,
 * SignatureDoesNotMatch, ExpiredToken and the like; DL_ERR_AWS for other error documents
 * (AccessDenied included: the keys may be fine and the policy not); DL_ERR_HTTP for a status
 * without an error document (HEAD, empty or non-XML body). */
enum dl_err dl_s3_error_message(const struct dl_http_req *r, const char *bucket, const char *key,
                                char *out, size_t outlen);

#endif
