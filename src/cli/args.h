/* Command-line parsing for every ddbload command. The parser never prints and never exits:
 * it fills struct dl_args or returns an error message for the CLI to show. */
#ifndef DL_CLI_ARGS_H
#define DL_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws/config.h"
#include "decode/format.h"

enum dl_cmd { DL_CMD_NONE, DL_CMD_RUN, DL_CMD_CONVERT, DL_CMD_REPLAY, DL_CMD_BENCH, DL_CMD_HELP, DL_CMD_VERSION };

#define DL_MAX_SOURCES 64

struct dl_args {
    enum dl_cmd cmd;
    const char *sources[DL_MAX_SOURCES];
    int nsources;
    const char *table;
    enum dl_format format;
    const char *key_spec;         /* convert: "pk[:S|N|B][,sk[:S|N|B]]" */
    struct dl_aws_opts aws;       /* --profile, --region, --endpoint-url */
    const char *dead_letter;      /* --dead-letter FILE (default: timestamped file in the cwd) */
    int transfers;                /* --transfers: concurrent HTTP transfers */
    int downloads;                /* --downloads: objects downloading ahead of decoding */
    int max_inflight;             /* --max-inflight: BatchWriteItem requests at once */
    int max_attempts;             /* --max-attempts: sends of one item before dead-lettering */
    double connect_timeout_s;     /* --connect-timeout */
    double timeout_s;             /* --timeout: one HTTP attempt */
    char delimiter;               /* --delimiter: CSV field separator (0 = by format) */
    double write_percent;         /* --write-percent: share of the table's write capacity (default 100) */
    double max_wcu;               /* --max-wcu: rate ceiling in WCU/s (0 = from the table) */
    double hot_key_wcu;           /* --hot-key-wcu: pacing per partition key (default 1000, 0 = off) */
    /* bench */
    long long bench_items;        /* --items N */
    int item_size;                /* --item-size BYTES */
    bool keys_hot;                /* --keys hot (default uniform) */
    const char *timeline;         /* --timeline FILE.csv */
    bool json;                    /* --json */
    bool delete_after;            /* --delete-after */
    const char *report;           /* --report FILE.json */
    unsigned long long memory;    /* --memory: budget in bytes (default 1 GiB) */
    const char *include[32];      /* --include GLOB (repeatable): only keys that match one */
    int ninclude;
    const char *exclude[32];      /* --exclude GLOB (repeatable): never keys that match one */
    int nexclude;
    const char *start_after;      /* --start-after KEY: only keys after KEY (byte order) */
    const char *journal;          /* --journal PATH (default .ddbload/<hash of the command>.journal) */
    bool restart;                 /* --restart: ignore (and reset) the journal */
    bool no_journal;              /* --no-journal */
    bool no_create;               /* --no-create: never create a table a manifest names */
    bool log_json;                /* --log-format json */
    bool quiet, verbose;
    const char *help_topic;       /* "run", "convert", ... for `ddbload help run` / `run --help` */
};

/* Parse argv (argv[0] is the program). On error returns false with a message in err. */
bool dl_args_parse(int argc, char **argv, struct dl_args *a, char *err, size_t errlen);

/* The --help text for a command (NULL or unknown = the overview). Static string. */
const char *dl_args_help(const char *topic);

#endif
