#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static dl_log_sink log_sink;
static void *log_ctx;
static enum dl_log_level log_min = DL_LOG_INFO;

void dl_log_set_sink(dl_log_sink sink, void *ctx, enum dl_log_level min_level)
{
    pthread_mutex_lock(&log_mu);
    log_sink = sink;
    log_ctx = ctx;
    log_min = min_level;
    pthread_mutex_unlock(&log_mu);
}

int dl_log_enabled(enum dl_log_level level)
{
    return log_sink && level >= log_min;
}

void dl_log(enum dl_log_level level, const char *fmt, ...)
{
    if (!dl_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_mu);
    if (log_sink)
        log_sink(level, msg, log_ctx);
    pthread_mutex_unlock(&log_mu);
}
