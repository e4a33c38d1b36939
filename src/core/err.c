#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *dl_err_str(enum dl_err e)
{
    switch (e) {
    case DL_OK: return "ok";
    case DL_ERR_NOMEM: return "out of memory";
    case DL_ERR_TOO_LARGE: return "too large";
    case DL_ERR_IO: return "i/o error";
    case DL_ERR_PARSE: return "malformed input";
    case DL_ERR_INVALID: return "invalid argument";
    case DL_ERR_NET: return "network error";
    case DL_ERR_HTTP: return "unexpected HTTP response";
    case DL_ERR_AWS: return "AWS service error";
    case DL_ERR_NOT_FOUND: return "not found";
    case DL_ERR_UNSUPPORTED: return "unsupported";
    case DL_ERR_CANCELLED: return "cancelled";
    case DL_ERR_CREDENTIALS: return "no usable AWS credentials";
    }
    return "unknown error";
}

enum dl_err dl_pos_err_set(struct dl_pos_err *e, enum dl_err code, uint64_t offset,
                           uint64_t line, uint64_t column, const char *fmt, ...)
{
    if (!e)
        return code;
    e->code = code;
    e->offset = offset;
    e->line = line;
    e->column = column;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

void dl_pos_err_clear(struct dl_pos_err *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}
