/* ddbload's entry point: logging to stderr, argument parsing, dispatch to a command. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/progress.h"
#include "cli/run.h"
#include "core/buf.h"
#include "core/log.h"

static void stderr_sink(enum dl_log_level level, const char *msg, void *ctx)
{
    char line[2300];
    if (ctx) { /* --log-format json */
        static const char *names[] = { "debug", "info", "warning", "error" };
        struct dl_buf b;
        dl_buf_init(&b, 0);
        dl_buf_append_json_str(&b, msg, strlen(msg));
        snprintf(line, sizeof line, "{\"type\":\"log\",\"level\":\"%s\",\"msg\":%s}", names[level],
                 b.data ? (const char *)b.data : "\"\"");
        dl_buf_free(&b);
    } else {
        const char *tag = level >= DL_LOG_ERROR ? "error: " : level == DL_LOG_WARN ? "warning: " : "";
        snprintf(line, sizeof line, "ddbload: %s%s", tag, msg);
    }
    dl_progress_log(line);
}

int main(int argc, char **argv)
{
    struct dl_args a;
    char err[512];
    signal(SIGPIPE, SIG_IGN);
    if (!dl_args_parse(argc, argv, &a, err, sizeof err)) {
        fprintf(stderr, "ddbload: error: %s\nTry `ddbload help`.\n", err);
        return 1;
    }
    if (a.cmd == DL_CMD_HELP) {
        fputs(dl_args_help(a.help_topic), stdout);
        return 0;
    }
    if (a.cmd == DL_CMD_VERSION) {
        printf("ddbload %s (%s)\n", DDBLOAD_VERSION, curl_version());
        return 0;
    }
    dl_log_set_sink(stderr_sink, a.log_json ? (void *)1 : NULL,
                    a.verbose ? DL_LOG_DEBUG : a.quiet ? DL_LOG_ERROR : DL_LOG_INFO);
    dl_stop_install();
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "ddbload: error: cannot initialise libcurl\n");
        return 1;
    }
    int status = 1;
    switch (a.cmd) {
    case DL_CMD_RUN: status = dl_cmd_run(&a); break;
    case DL_CMD_CONVERT: status = dl_cmd_convert(&a); break;
    case DL_CMD_REPLAY: status = dl_cmd_replay(&a); break;
    case DL_CMD_BENCH: status = dl_cmd_bench(&a); break;
    default: break;
    }
    curl_global_cleanup();
    return status;
}
