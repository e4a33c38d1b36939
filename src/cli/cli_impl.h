/* Plumbing shared by the CLI commands (run, convert, replay, bench). Private to src/cli. */
#ifndef DL_CLI_IMPL_H
#define DL_CLI_IMPL_H

#include <pthread.h>
#include <stdio.h>

#include "aws/config.h"
#include "journal/journal.h"
#include "cli/args.h"
#include "decode/decode.h"
#include "item/transform.h"
#include "media/media.h"
#include "net/net.h"
#include "pump/ddb.h"
#include "pump/deadletter.h"
#include "pump/pump.h"

/* A table a zip manifest routes records to (besides --table), with its own pump. */
struct route {
    char *table;
    struct dl_table_info info;
    struct dl_pump *pump;          /* NULL: the table cannot be used (err says why) */
    char err[300];
};
#define DL_MAX_ROUTES 64

struct dl_seq_range {
    uint64_t start, end;           /* numbers start..end-1 */
};

/* One object to load, local or in S3, with its download state. */
struct obj {
    char *name;          /* "s3://bucket/key" or the local path: used in every message */
    char *bucket;        /* S3 only */
    char *key;           /* S3 only */
    size_t key_len;
    char *path;          /* local only */
    uint64_t size;
    char etag[128];          /* S3: the ETag the listing gave */
    char version[160];       /* for the journal: the ETag, or "size:mtime" of a local file */
    int jstate;              /* enum dl_journal_state */
    int format;              /* enum dl_format for this object (DL_FMT_AUTO = --format) */
    struct dl_journal_ranges *done; /* PARTIAL: records acknowledged by an earlier run */
    struct dl_http_req *req; /* S3 download, from submit until decoded */
    struct dl_spill *spill;  /* its body: memory up to SPILL_MEM, else an unlinked temp file */
    int state;           /* 0 waiting, 1 downloading, 2 downloaded */
};

struct loader {
    const struct dl_args *a;
    struct dl_aws_config cfg;
    bool cfg_loaded;
    struct dl_net *net;
    struct dl_table_info table;
    struct dl_key_schema cli_ks;   /* convert --key */
    char *cli_ks_names;
    struct dl_deadletter *dlq;
    struct dl_pump *pump;
    FILE *out;                     /* convert: items go here */
    struct obj *objs;
    size_t nobjs, aobjs;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t logged_rejects;
    uint64_t failed_objects;
    uint64_t bytes;
    uint64_t total_bytes;          /* listed sizes of all objects */
    size_t objs_done;
    const char *stopped_in;        /* the object being decoded when a stop was asked */
    struct dl_journal *journal;    /* NULL with --no-journal (and for convert) */
    struct route routes[DL_MAX_ROUTES];
    int nroutes;
    struct dl_pump_opts pump_opts; /* for the pumps of routed tables */
    size_t cur_obj;                /* the object being decoded */
    uint64_t cur_seq;              /* records of it seen so far (its journal record numbers) */
    uint64_t resumed_done, resumed_partial, skipped_records;
    pthread_t flusher;
    bool flusher_running, flusher_stop;
    double started;
    double last_t, last_wcu, last_ips, last_wps;   /* status line rates */
    uint64_t last_written;
    struct dl_decode_stats st;
    bool cmd_run;                  /* run (journal, pump) rather than convert */
    /* transforms, header-less CSV, --key-seq, media (enrich.c) */
    struct dl_transform *xform;
    struct dl_cursor *columns;
    size_t ncolumns;
    char *columns_store;
    uint64_t seq_free;             /* --key-seq: no range handed out at or above it */
    struct dl_seq_range *seq_r;    /* the current object's ranges (from the journal, then new) */
    size_t seq_nr, seq_ra, seq_i;  /* ranges, allocated, the one in use */
    uint64_t seq_pos;              /* the next number in range seq_i */
    struct dl_buf seq_key;         /* "key-seq/obj/SRC\tVER" of the current object */
    uint64_t seq_given;
    struct dl_media *media;
    struct dl_media_rule *media_rules;
    char **media_store;
    bool media_failed;
    struct dl_item media_item;     /* an item with its media lists added */
};

void dl_cli_loader_init(struct loader *L, const struct dl_args *a);
void dl_cli_loader_free(struct loader *L);
/* Load the AWS configuration and start the network thread (once). */
bool dl_cli_ensure_net(struct loader *L, char *err, size_t errlen);
/* DescribeTable into L->table, waiting while the table is CREATING. */
bool dl_cli_describe_active(struct loader *L, const char *table, char *err, size_t errlen);
/* "ddbload-dead-letter-YYYYMMDD-HHMMSS.ndjson" (malloc'd). */
char *dl_cli_default_dead_letter(void);
const char *dl_cli_commas(uint64_t v, char *buf, size_t n);
/* The pump's per-second timeline as CSV. */
bool dl_cli_write_timeline(struct dl_pump *p, const char *path, char *err, size_t errlen);
double dl_cli_now_s(void);

/* enrich.c: transforms, --columns, --key-seq and the media side-load around the decoder */
bool dl_cli_enrich_setup(struct loader *L, const char *table, struct dl_decode_opts *o, char *err, size_t errlen);
void dl_cli_enrich_identity(const struct dl_args *a, struct dl_buf *id);
bool dl_cli_enrich_object_begin(struct loader *L, struct dl_decoder *dec, const struct obj *o);
void dl_cli_enrich_object_end(struct loader *L, const struct obj *o, bool complete);
void dl_cli_enrich_report(struct loader *L);
/* Some media file could not be uploaded (the run then exits 2). */
bool dl_cli_media_failed(struct loader *L);
void dl_cli_enrich_report_json(struct loader *L, FILE *f);
void dl_cli_enrich_free(struct loader *L);
void dl_cli_media_log(void *ctx, int level, const char *msg);
int dl_cli_media_rule(void *ctx, const char *entry, const char *top);
enum dl_err dl_cli_media_add(void *ctx, const struct dl_origin *o, int rule, struct dl_cursor bytes);
enum dl_err dl_cli_media_done(void *ctx, const struct dl_origin *o);
void dl_cli_media_end(void *ctx, const struct dl_origin *o);
enum dl_err dl_cli_media_note(void *ctx, const struct dl_item *it);
enum dl_err dl_cli_media_attach(struct loader *L, const struct dl_item *it, const struct dl_key_schema *ks,
                                const struct dl_item **out, struct dl_pos_err *why);

#endif
