/* Error codes and positioned errors shared by every module.
 * Functions return enum dl_err (0 = ok). Parsers also fill a struct dl_pos_err
 * so a user can be told "file line L column C: what went wrong". */
#ifndef DL_CORE_ERR_H
#define DL_CORE_ERR_H

#include <stddef.h>
#include <stdint.h>

enum dl_err {
    DL_OK = 0,
    DL_ERR_NOMEM,       /* allocation failed */
    DL_ERR_TOO_LARGE,   /* a capped buffer or a DynamoDB limit would be exceeded */
    DL_ERR_IO,          /* local file system error */
    DL_ERR_PARSE,       /* malformed input (see the dl_pos_err for where) */
    DL_ERR_INVALID,     /* bad argument, option or configuration */
    DL_ERR_NET,         /* transport error: connect, reset, timeout */
    DL_ERR_HTTP,        /* unexpected HTTP status without a service error body */
    DL_ERR_AWS,         /* the service answered with an error document */
    DL_ERR_NOT_FOUND,   /* table, bucket, object, file or profile not found */
    DL_ERR_UNSUPPORTED, /* a format or feature this build cannot handle */
    DL_ERR_CANCELLED,   /* stopped by the user or by shutdown */
    DL_ERR_CREDENTIALS, /* no usable AWS credentials */
};

/* Static, human-readable name of a code ("malformed input", ...). Never NULL. */
const char *dl_err_str(enum dl_err e);

/* A positioned error: offset is a byte offset into the parsed input (0-based),
 * line and column are 1-based (column counts bytes). line == 0 means "no position". */
struct dl_pos_err {
    enum dl_err code;
    uint64_t offset;
    uint64_t line;
    uint64_t column;
    char msg[256];
};

/* Fill e with code, position and a printf-style message; returns code. */
enum dl_err dl_pos_err_set(struct dl_pos_err *e, enum dl_err code, uint64_t offset,
                           uint64_t line, uint64_t column, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Clear e to DL_OK with no position. */
void dl_pos_err_clear(struct dl_pos_err *e);

#endif
