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
#define DL_MAX_XFORM 32   /* each repeatable transform/media option */

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
    int decode_threads;           /* --decode-threads N (0 = auto, 1 = off) */
    /* CSV reading */
    char quote;                   /* --quote C (0 = '"') */
    bool no_quote;                /* --no-quote: quoting off */
    const char *columns;          /* --columns a,b,c: header-less CSV, these are the names */
    /* transforms (src/item/transform.h, docs/transforms.md); repeatable options */
    const char *set[DL_MAX_XFORM];      /* --set NAME=TEMPLATE[:TYPE] */
    int nset;
    const char *rename[DL_MAX_XFORM];   /* --rename OLD=NEW */
    int nrename;
    const char *drop[DL_MAX_XFORM];     /* --drop ATTR[,ATTR] */
    int ndrop;
    const char *types[DL_MAX_XFORM];    /* --types NAME=TYPE[,NAME=TYPE] */
    int ntypes;
    bool infer_types;             /* --infer-types */
    char list_sep;                /* --list-separator C (SS/NS/BS cells; 0 = ',') */
    const char *op_field;         /* --op-field NAME */
    const char *op_map;           /* --op-map "I,U=put D=delete" */
    const char *key_seq;          /* --key-seq ATTR */
    const char *key_seq_start;    /* --key-seq-start N (digits; NULL = after the table's maximum) */
    /* media side-load (src/media/media.h, docs/media.md) */
    const char *media_bucket;     /* --media-bucket s3://bucket/prefix */
    const char *media_match;      /* --media-match ATTR */
    const char *media[DL_MAX_XFORM];    /* --media FOLDER=ATTR */
    int nmedia;
    bool quiet, verbose;
    const char *help_topic;       /* "run", "convert", ... for `ddbload help run` / `run --help` */
};

/* Parse argv (argv[0] is the program). On error returns false with a message in err. */
bool dl_args_parse(int argc, char **argv, struct dl_args *a, char *err, size_t errlen);

/* The --help text for a command (NULL or unknown = the overview). Static string. */
const char *dl_args_help(const char *topic);

#endif
