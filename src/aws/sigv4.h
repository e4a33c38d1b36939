/* AWS Signature Version 4, header-based (Authorization header), for S3 and DynamoDB.
 *
 * The network layer calls dl_sigv4_sign() once per attempt (the date is part of the
 * signature, so a retried request must be signed again) with the request exactly as it goes
 * on the wire, and adds the headers listed in the output to the request.
 *
 * Canonical URI rules (the difference between S3 and every other service):
 *   - S3: the path as sent on the wire, unchanged (it is already percent-encoded once).
 *   - others: the wire path is normalized (".", ".." and empty segments removed) and then
 *     URI-encoded once more ("double encoding": a wire "%20" becomes "%2520").
 * The query string is canonicalized: each name and value percent-decoded and re-encoded with
 * RFC 3986 rules, parameters sorted by name then value, "name" without '=' becomes "name=". */
#ifndef DL_AWS_SIGV4_H
#define DL_AWS_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "core/buf.h"
#include "core/err.h"

/* Hex SHA-256 of the empty string, and the payload hash S3 accepts for unhashed bodies. */
#define DL_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DL_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* Most extra headers one request may ask to sign (DL_ERR_INVALID beyond). */
#define DL_SIGV4_MAX_HEADERS 64

/* A header to sign. Names are matched case-insensitively; several entries with the same name
 * are signed as one header whose values are joined with ',' in the order given. Values are
 * signed trimmed, with runs of whitespace (including obs-fold line breaks) collapsed to one
 * space; send them as given. */
struct dl_sigv4_header {
    struct dl_cursor name;
    struct dl_cursor value;
};

enum dl_sigv4_path_mode {
    DL_SIGV4_PATH_AUTO = 0,  /* AS_IS for service "s3", NORMALIZE for every other service */
    DL_SIGV4_PATH_AS_IS,     /* canonical URI = wire path unchanged ("" becomes "/") */
    DL_SIGV4_PATH_NORMALIZE, /* remove dot segments and duplicate slashes, then URI-encode again */
};

struct dl_sigv4_input {
    const char *method;                    /* "GET", "POST", ... */
    const char *host;                      /* Host header value: "name" or "name:port" */
    struct dl_cursor path;                 /* path as on the wire (percent-encoded), "/..." */
    struct dl_cursor query;                /* query as on the wire, without '?'; may be empty */
    const struct dl_sigv4_header *headers; /* extra headers to sign (content-type, x-amz-target,
                                              range, ...); must not include host, authorization,
                                              x-amz-date, x-amz-security-token or
                                              x-amz-content-sha256 (the signer owns those) */
    size_t nheaders;
    struct dl_cursor payload;              /* request body; hashed unless payload_hash is set */
    const char *payload_hash;              /* NULL, or a precomputed lowercase hex SHA-256, or
                                              DL_SIGV4_UNSIGNED_PAYLOAD */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token;             /* NULL or "" when none */
    const char *region;                    /* "us-east-1" */
    const char *service;                   /* signing name: "s3", "dynamodb" */
    time_t now;                            /* signing time (UTC seconds since the epoch) */
    enum dl_sigv4_path_mode path_mode;     /* DL_SIGV4_PATH_AUTO unless you know better */
    bool content_sha256_header;            /* emit and sign X-Amz-Content-Sha256 even when the
                                              service is not "s3" (always on for "s3") */
    bool session_token_unsigned;           /* add X-Amz-Security-Token without signing it (a few
                                              services want that); default: signed */
};

/* A header to add to the request; strings are owned by the dl_sigv4_output (the session
 * token value points at input->session_token, so keep the credentials alive as well). */
struct dl_sigv4_out_header {
    const char *name;
    const char *value;
};

struct dl_sigv4_output {
    char amz_date[17];          /* "20150830T123600Z" */
    char payload_hash[65];      /* the hash that was signed (hex, or "UNSIGNED-PAYLOAD") */
    char signature[65];         /* lowercase hex */
    struct dl_buf canonical_request;
    struct dl_buf string_to_sign;
    struct dl_buf signed_headers; /* "host;x-amz-date" */
    struct dl_buf authorization;  /* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
    struct dl_sigv4_out_header headers[4]; /* in this order when present: X-Amz-Date,
                                              X-Amz-Security-Token, X-Amz-Content-Sha256,
                                              Authorization */
    size_t nheaders;
};

/* Prepare an output for use; it may be reused for many dl_sigv4_sign calls. */
void dl_sigv4_output_init(struct dl_sigv4_output *out);
/* Free what the output holds (safe on an initialised, never-used output). */
void dl_sigv4_output_free(struct dl_sigv4_output *out);

/* Sign one request. On success out holds the headers to add and the intermediate strings
 * (for tests and debugging; the canonical request never contains the secret, but it does
 * contain the session token when one is signed). Errors: DL_ERR_INVALID for a missing field,
 * a header the signer owns, too many headers, or a malformed payload_hash; DL_ERR_NOMEM. */
enum dl_err dl_sigv4_sign(const struct dl_sigv4_input *in, struct dl_sigv4_output *out);

/* Append the RFC 3986 percent-encoding of in to out: A-Z a-z 0-9 - . _ ~ are kept, '/' is kept
 * when encode_slash is false, every other byte becomes %XX (uppercase hex). UTF-8 text is
 * encoded byte by byte. Errors: DL_ERR_TOO_LARGE / DL_ERR_NOMEM from out. */
enum dl_err dl_sigv4_uri_encode(struct dl_buf *out, struct dl_cursor in, bool encode_slash);

/* Format t (UTC) as an ISO 8601 basic timestamp, "YYYYMMDDTHHMMSSZ" plus NUL. */
void dl_sigv4_amz_date(time_t t, char out[17]);

/* Write the lowercase hex SHA-256 of data to out (64 digits plus NUL). DL_ERR_NOMEM if
 * OpenSSL fails. Useful to precompute payload_hash for a spooled body. */
enum dl_err dl_sigv4_sha256_hex(struct dl_cursor data, char out[65]);

#endif
