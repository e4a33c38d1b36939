/* AWS settings: credentials, region and endpoints, resolved the way the AWS SDKs and CLI do
 * (environment variables, ~/.aws/credentials, ~/.aws/config, and the --profile, --region and
 * --endpoint-url flags), plus the URL helpers the S3 and DynamoDB clients use.
 * See docs/aws.md for the resolution order. Only static keys (with an optional session token)
 * are supported: no assume-role, SSO, credential_process or instance metadata. */
#ifndef DL_AWS_CONFIG_H
#define DL_AWS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Command-line flags; any member may be NULL (flag not given). Borrowed during load only. */
struct dl_aws_opts {
    const char *profile;      /* --profile */
    const char *region;       /* --region */
    const char *endpoint_url; /* --endpoint-url: both S3 and DynamoDB */
};

/* Resolved settings. Every string is owned by the struct (freed by dl_aws_config_free).
 * Immutable after load, so one instance can be shared by threads. */
struct dl_aws_config {
    char *access_key_id;
    char *secret_access_key;
    char *session_token;     /* NULL if none */
    char *region;            /* never NULL after a successful load */
    char *endpoint_s3;       /* base URL without trailing '/', e.g. "http://127.0.0.1:4568";
                                NULL = AWS's own endpoint */
    char *endpoint_dynamodb; /* same, for DynamoDB */
    bool s3_path_style;      /* true with a custom S3 endpoint (dl_aws_s3_url also uses path
                                style for bucket names that are not DNS-safe, e.g. with '.') */
    char *credential_source; /* for messages, never a secret: "environment variables",
                                "profile 'dev' in /root/.aws/credentials" */
    char *profile;           /* the profile in effect (--profile, AWS_PROFILE or "default"),
                                used for the region even when keys came from the environment */
};

/* Looks up an environment variable; NULL when unset. */
typedef const char *(*dl_getenv_fn)(const char *name, void *ctx);

/* Resolve the settings into out (which need not be initialised; on failure it is left empty
 * and needs no free). getenv_fn NULL means the process environment. Empty variables count as
 * unset. On failure errmsg (if errlen > 0) holds a one-line explanation without secrets.
 * Errors:
 *   DL_ERR_NOT_FOUND    the profile named by --profile or AWS_PROFILE is in neither file
 *   DL_ERR_CREDENTIALS  no credentials anywhere, only one of the two keys, or a profile
 *                       without static keys
 *   DL_ERR_INVALID      an endpoint URL that is not http(s)://host[:port][/path], or a
 *                       malformed region
 *   DL_ERR_IO           a credentials/config file exists but cannot be read
 *   DL_ERR_TOO_LARGE    such a file is larger than 1 MiB
 *   DL_ERR_NOMEM */
enum dl_err dl_aws_config_load(struct dl_aws_config *out, const struct dl_aws_opts *opts,
                               dl_getenv_fn getenv_fn, void *env_ctx, char *errmsg,
                               size_t errlen);

/* Free every string (the secret is wiped first) and zero the struct. Safe on a zeroed struct. */
void dl_aws_config_free(struct dl_aws_config *cfg);

/* Replace out's content with the DynamoDB endpoint URL, ending in '/':
 * the custom endpoint, or https://dynamodb.<region>.amazonaws.com/ (".amazonaws.com.cn" for
 * cn-* regions). Errors: DL_ERR_TOO_LARGE / DL_ERR_NOMEM from out. */
enum dl_err dl_aws_dynamodb_url(const struct dl_aws_config *cfg, struct dl_buf *out);

/* Replace out's content with the URL of an object (or of the bucket when key is empty):
 *   path style:     <endpoint>/<bucket>/<key>   (custom endpoint, or a bucket name that is not
 *                   a DNS label: '.', '_' or uppercase; AWS base https://s3.<region>.amazonaws.com)
 *   virtual-hosted: https://<bucket>.s3.<region>.amazonaws.com/<key>
 * The key is percent-encoded with dl_sigv4_uri_encode ('/' kept); query (already encoded,
 * without '?', NULL or "" for none) is appended after '?'. With an empty key the path-style
 * URL ends in the bucket name, the virtual-hosted one in '/'.
 * Errors: DL_ERR_INVALID for an empty bucket; DL_ERR_TOO_LARGE / DL_ERR_NOMEM from out. */
enum dl_err dl_aws_s3_url(const struct dl_aws_config *cfg, const char *bucket,
                          struct dl_cursor key, const char *query, struct dl_buf *out);

/* The parts of an http(s) URL a signer needs. path and query point into the URL string. */
struct dl_url_parts {
    bool https;
    char host[320];         /* Host header value: the URL's host, plus ":port" when the URL has
                               a port other than the scheme's default (curl's rule) */
    struct dl_cursor path;  /* "/..." as in the URL; "/" when the URL has no path */
    struct dl_cursor query; /* after '?', before any '#'; empty when none */
};

/* Split url. Errors: DL_ERR_INVALID if the scheme is not http/https, the host is empty or the
 * URL has user info; DL_ERR_TOO_LARGE if the host does not fit. */
enum dl_err dl_url_split(const char *url, struct dl_url_parts *out);

#endif
