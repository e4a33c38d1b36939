/* Logging through a sink the CLI installs. The library never writes to stdout/stderr
 * itself; without a sink, messages are discarded. Thread-safe. */
#ifndef DL_CORE_LOG_H
#define DL_CORE_LOG_H

enum dl_log_level { DL_LOG_DEBUG = 0, DL_LOG_INFO, DL_LOG_WARN, DL_LOG_ERROR };

typedef void (*dl_log_sink)(enum dl_log_level level, const char *msg, void *ctx);

void dl_log_set_sink(dl_log_sink sink, void *ctx, enum dl_log_level min_level);
void dl_log(enum dl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dl_log_enabled(enum dl_log_level level);

#define dl_debug(...) dl_log(DL_LOG_DEBUG, __VA_ARGS__)
#define dl_info(...) dl_log(DL_LOG_INFO, __VA_ARGS__)
#define dl_warn(...) dl_log(DL_LOG_WARN, __VA_ARGS__)
#define dl_error(...) dl_log(DL_LOG_ERROR, __VA_ARGS__)

#endif
