/* S3 client: ListObjectsV2 paging (XML parsed with expat), GET / PUT of one object, bucket
 * creation, and S3 error documents turned into one-line messages.
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
