#include "cli/args.h"
#include "core/glob.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help_main[] =
    "ddbload - bulk-load an archive of records from Amazon S3 (or local files) into DynamoDB\n"
    "\n"
    "usage:\n"
    "  ddbload run SOURCE... --table NAME [options]   load every object under SOURCE into NAME\n"
    "  ddbload convert SOURCE... [options]           print the items as DynamoDB JSON, write nothing\n"
    "  ddbload replay DEAD_LETTER_FILE --table NAME  resend the writable records of a dead-letter file\n"
    "  ddbload bench --table NAME --items N --item-size BYTES   measure a table's write throughput\n"
    "  ddbload help COMMAND | --version\n"
    "\n"
    "SOURCE is s3://bucket/prefix (every object under the prefix, in key order), a local file,\n"
    "or a local directory (every file under it, in path order).\n"
    "\n"
    "Run `ddbload help run` for the options. Exit status: 0 everything loaded; 2 finished but some\n"
    "records were dead-lettered; 1 could not run or was stopped.\n";

static const char help_run[] =
    "usage: ddbload run SOURCE... --table NAME [options]\n"
    "\n"
    "Lists every SOURCE, downloads the objects concurrently, unpacks zip/gzip/zstd, decodes CSV,\n"
    "TSV, JSON and NDJSON records, maps them to DynamoDB items using the table's key schema (read\n"
    "with DescribeTable), and writes them with BatchWriteItem. Records that cannot be written go\n"
    "to the dead-letter file with their reason; everything else still loads.\n"
    "\n"
    "input:\n"
    "  --format F           auto (default: by extension, then by content), csv, tsv, json, ndjson,\n"
    "                       ddb-json (typed items, {\"pk\":{\"S\":\"a\"}}), ddb-export ({\"Item\":{...}}\n"
    "                       lines), js (module.exports = [...] item files: docs/js-items.md)\n"
    "  --delimiter C        CSV field separator (default ',' for csv, tab for tsv; '\\t' accepted)\n"
    "  --quote C            CSV quote character (default '\"');  --no-quote  quotes are plain text\n"
    "  --columns a,b,c      the CSV files have no header row: these are the attribute names\n"
    "  --include GLOB       only objects whose key (relative to the SOURCE prefix or directory)\n"
    "                       matches; repeatable. '*' stays within a folder, '**' crosses them, '?',\n"
    "                       [a-z]; a pattern without '/' matches the base name ('*.zip')\n"
    "  --exclude GLOB       never objects whose key matches (applied after --include); repeatable\n"
    "  --start-after KEY    only objects whose key sorts after KEY (the full S3 key, or the path\n"
    "                       relative to a directory source)\n"
    "transforms, in this order for every record (docs/transforms.md):\n"
    "  --op-field NAME      the record's NAME field picks Put or Delete (and is not written);\n"
    "  --op-map MAP         MAP like 'I,U=put D=delete' (default: I U INSERT UPDATE MODIFY PUT UPSERT\n"
    "                       = put, D DELETE REMOVE = delete, any case). The last operation on a key wins\n"
    "  --types N=T[,N=T]    convert attributes: T is S N BOOL NULL B SS NS BS L M (repeatable);\n"
    "                       a value that does not convert rejects the record with its column\n"
    "  --infer-types        CSV cells that are plain numbers become N (never with leading zeros or\n"
    "                       beyond DynamoDB's range), true/false become BOOL\n"
    "  --list-separator C   separator inside SS/NS/BS cells (default ',')\n"
    "  --rename OLD=NEW     rename an attribute (repeatable)\n"
    "  --drop A[,B]         leave attributes out (repeatable)\n"
    "  --set NAME=TEMPLATE[:TYPE]  add an attribute (repeatable; TYPE S, N or BOOL, default S) from\n"
    "                       text and {bucket} {key} {etag} {line} {record} {now_ms} {now_iso} {uuid}\n"
    "  --key-seq ATTR       give items without ATTR ascending integers, after the table's largest\n"
    "                       ATTR (found with a parallel Scan) or from --key-seq-start N; a rerun\n"
    "                       gives the same records the same numbers (kept in the journal)\n"
    "media side-load (zips with media folders; docs/media.md):\n"
    "  --media-bucket s3://BUCKET/PREFIX  where media files go, as PREFIX/<match>/<folder>/<file>\n"
    "  --media-match ATTR   the item attribute a file name starts with (spaces as '_')\n"
    "  --media FOLDER=ATTR  files in FOLDER/ go to the item's ATTR as a list of s3:// URIs\n"
    "                       (repeatable); files already uploaded with the same content are kept\n"
    "output:\n"
    "  --table NAME         destination table (required; must exist). A zip holding a manifest\n"
    "                       (manifest.json, or a sidecar .json per data file: docs/manifests.md)\n"
    "                       sends its files to the tables it names, created on-demand from the\n"
    "                       manifest's keys when missing\n"
    "  --no-create          never create a table a manifest names (its files are skipped)\n"
    "  --dead-letter FILE   where rejected records go, one JSON object per line with the reason,\n"
    "                       source object, record number and line; zstd-compressed when FILE ends\n"
    "                       in .zst (default: ./ddbload-dead-letter-YYYYMMDD-HHMMSS.ndjson.zst,\n"
    "                       created only if needed; read it with zstdcat)\n"
    "AWS:\n"
    "  --region R           default: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, us-east-1\n"
    "  --profile P          credentials/config profile (default: AWS_PROFILE, then 'default')\n"
    "  --endpoint-url URL   one endpoint for S3 and DynamoDB (else AWS_ENDPOINT_URL_S3,\n"
    "                       AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL); custom endpoints use\n"
    "                       path-style S3 addressing\n"
    "tuning:\n"
    "  --transfers N        concurrent HTTP transfers on the network thread (default 64)\n"
    "  --downloads N        objects downloaded ahead of decoding (default 8)\n"
    "  --memory SIZE        memory budget, e.g. 512M or 2G (default 1G, at least 64M): a quarter\n"
    "                       for queued writes, a quarter for objects held in memory; objects and\n"
    "                       decompressed data larger than 1/32 of it go to temporary files\n"
    "  --max-inflight N     BatchWriteItem requests in flight (default 32)\n"
    "  --decode-threads N   threads that decode one large CSV/TSV or NDJSON object (16 MiB or\n"
    "                       more) in parallel, results kept in order (default 0 = one per CPU,\n"
    "                       at most 8; 1 = off)\n"
    "  --max-attempts N     sends of one item before it is dead-lettered (default 50)\n"
    "write rate (tokens are write capacity units, not requests):\n"
    "  --write-percent P    use P% of a provisioned table's WCU (default 100); for on-demand tables,\n"
    "                       P% of their maximum (OnDemandThroughput, else 40,000 WRU/s), starting\n"
    "                       at 4,000/s and growing while DynamoDB keeps up\n"
    "  --max-wcu N          rate ceiling in WCU/s instead (either way the rate backs off on\n"
    "                       throttles and UnprocessedItems and grows back: see docs/pump.md)\n"
    "  --hot-key-wcu N      pace writes that share one partition key to N WCU/s (default 1000,\n"
    "                       DynamoDB's per-partition limit; 0 = off)\n"
    "  --connect-timeout S  seconds to connect (default 5)\n"
    "  --timeout S          seconds for one HTTP attempt (default 300)\n"
    "resume:\n"
    "  --journal PATH       the journal of acknowledged objects and records (default:\n"
    "                       .ddbload/<hash of table, format and sources>.journal). Running the\n"
    "                       same command again after a crash or a stop skips what is done\n"
    "  --restart            ignore the journal and start over;  --no-journal  keep none\n"
    "progress and reports:\n"
    "  (on a terminal one live status line; otherwise a status line every 5 s, see README)\n"
    "  --quiet              only errors;  --verbose  also per-object messages\n"
    "  --log-format json    every message and status line as one JSON object per line\n"
    "  --report FILE.json   totals, rates, time and dead letters by reason, written at the end\n"
    "  --timeline FILE.csv  one row per second: items, WCU, requests, throttled, unprocessed,\n"
    "                       target (plot it with tools/plot-timeline FILE.csv out.png)\n"
    "stopping: SIGINT/SIGTERM stops taking new work, lets requests in flight finish, reports\n"
    "where the run stands and exits 1; a second signal exits at once.\n"
    "\n"
    "Exit status: 0 everything loaded; 2 finished, some records dead-lettered; 1 could not run.\n";

static const char help_convert[] =
    "usage: ddbload convert SOURCE... [--format F] [--key PK[:T][,SK[:T]] | --table NAME] [options]\n"
    "\n"
    "Decodes and maps records exactly as `run` does and prints each item as one line of DynamoDB\n"
    "JSON on stdout ({\"attr\":{\"S\":\"v\"},...}); nothing is written to DynamoDB. Rejected records\n"
    "are reported on stderr (and to --dead-letter FILE when given); exit status 2 if any.\n"
    "\n"
    "  --key PK[:T][,SK[:T]]  key schema to apply (T is S, N or B; default S), as a table would\n"
    "  --table NAME           read the key schema from this table with DescribeTable instead\n"
    "  --format, --delimiter, --quote, --no-quote, --columns, --region, --profile, --endpoint-url,\n"
    "  --dead-letter, and the transforms (--set, --types, --rename, --drop, --op-field, --key-seq\n"
    "  with --key-seq-start N, default 1 without --table): as for `run`\n";

static const char help_replay[] =
    "usage: ddbload replay DEAD_LETTER_FILE --table NAME [options]\n"
    "\n"
    "Resends every record of a dead-letter file that holds a write request, through the same\n"
    "pump as `run` (batching, retries, ordering). Records that still fail, and records that never\n"
    "became items (malformed input), go to a new dead-letter file with their reason.\n"
    "Options: --dead-letter, --region, --profile, --endpoint-url, --max-inflight, --max-attempts.\n";

static const char help_bench[] =
    "usage: ddbload bench --table NAME --items N --item-size BYTES [options]\n"
    "\n"
    "Writes N synthetic items of about BYTES bytes each (DynamoDB's size rules) to an existing\n"
    "table through the same pump as `run`, and reports the sustained items/s and WCU/s, the\n"
    "p50/p99/max BatchWriteItem latency, and the throttled-request and unprocessed-item rates.\n"
    "Keys are 'ddbload-bench-<run>-<n>' strings (numbers for an N key).\n"
    "\n"
    "  --keys uniform|hot   uniform (default): every item its own partition key; hot: half the\n"
    "                       items share one partition key (the table needs a sort key)\n"
    "  --write-percent P, --max-wcu N, --hot-key-wcu N, --max-inflight N: as for `run`\n"
    "  --timeline FILE.csv  one row per second: items, WCU, requests, throttled, unprocessed, target\n"
    "  --json               print the report as one JSON object on stdout\n"
    "  --delete-after       delete the items it wrote when done (otherwise they stay)\n"
    "  --region, --profile, --endpoint-url: as for `run`\n";

const char *dl_args_help(const char *topic)
{
    if (topic && !strcmp(topic, "bench"))
        return help_bench;
    if (topic && !strcmp(topic, "run"))
        return help_run;
    if (topic && !strcmp(topic, "convert"))
        return help_convert;
    if (topic && !strcmp(topic, "replay"))
        return help_replay;
    return help_main;
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_num(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo) || !(v <= hi))
        return false;
    *out = v;
    return true;
}

/* "512M", "2G", "1048576" (K, M, G, T: powers of 1024) */
static bool parse_size(const char *s, unsigned long long *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || v <= 0)
        return false;
    unsigned long long mul = 1;
    switch (*end) {
    case 'k': case 'K': mul = 1ull << 10; end++; break;
    case 'm': case 'M': mul = 1ull << 20; end++; break;
    case 'g': case 'G': mul = 1ull << 30; end++; break;
    case 't': case 'T': mul = 1ull << 40; end++; break;
    default: break;
    }
    if (*end == 'B' || *end == 'b')
        end++;
    if (*end)
        return false;
    *out = (unsigned long long)(v * (double)mul);
    return true;
}

static bool parse_secs(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v > 0) || v > 86400)
        return false;
    *out = v;
    return true;
}

bool dl_args_parse(int argc, char **argv, struct dl_args *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->format = DL_FMT_AUTO;
    a->transfers = 64;
    a->downloads = 8;
    a->max_inflight = 32;
    a->max_attempts = 50;
    a->write_percent = 100;
    a->memory = 1ull << 30;
    a->hot_key_wcu = 1000;
    a->connect_timeout_s = 5;
    a->timeout_s = 300;
    if (argc < 2) {
        a->cmd = DL_CMD_HELP;
        return true;
    }
    const char *c = argv[1];
    if (!strcmp(c, "run"))
        a->cmd = DL_CMD_RUN;
    else if (!strcmp(c, "convert"))
        a->cmd = DL_CMD_CONVERT;
    else if (!strcmp(c, "replay"))
        a->cmd = DL_CMD_REPLAY;
    else if (!strcmp(c, "bench"))
        a->cmd = DL_CMD_BENCH;
    else if (!strcmp(c, "help") || !strcmp(c, "--help") || !strcmp(c, "-h")) {
        a->cmd = DL_CMD_HELP;
        a->help_topic = argc > 2 ? argv[2] : NULL;
        return true;
    } else if (!strcmp(c, "--version") || !strcmp(c, "version")) {
        a->cmd = DL_CMD_VERSION;
        return true;
    } else {
        snprintf(err, errlen, "unknown command '%s' (expected run, convert, replay, bench or help)", c);
        return false;
    }
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            a->help_topic = c;
            a->cmd = DL_CMD_HELP;
            return true;
        }
        if (o[0] != '-' || !strcmp(o, "-")) {
            if (a->nsources == DL_MAX_SOURCES) {
                snprintf(err, errlen, "too many sources (at most %d)", DL_MAX_SOURCES);
                return false;
            }
            a->sources[a->nsources++] = o;
            continue;
        }
        if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) {
            a->quiet = true;
            continue;
        }
        if (!strcmp(o, "--verbose") || !strcmp(o, "-v")) {
            a->verbose = true;
            continue;
        }
        if (!strcmp(o, "--json")) {
            a->json = true;
            continue;
        }
        if (!strcmp(o, "--delete-after")) {
            a->delete_after = true;
            continue;
        }
        if (!strcmp(o, "--restart")) {
            a->restart = true;
            continue;
        }
        if (!strcmp(o, "--no-journal")) {
            a->no_journal = true;
            continue;
        }
        if (!strcmp(o, "--no-create")) {
            a->no_create = true;
            continue;
        }
        if (!strcmp(o, "--no-quote")) {
            a->no_quote = true;
            continue;
        }
        if (!strcmp(o, "--infer-types")) {
            a->infer_types = true;
            continue;
        }
        if (!v) {
            snprintf(err, errlen, "option %s needs a value", o);
            return false;
        }
        i++;
        bool ok = true;
        if (!strcmp(o, "--table"))
            a->table = v;
        else if (!strcmp(o, "--format")) {
            if (dl_format_parse(v, &a->format)) {
                snprintf(err, errlen, "--format %s: expected auto, csv, tsv, json, ndjson, ddb-json, ddb-export or js", v);
                return false;
            }
        } else if (!strcmp(o, "--key"))
            a->key_spec = v;
        else if (!strcmp(o, "--region"))
            a->aws.region = v;
        else if (!strcmp(o, "--profile"))
            a->aws.profile = v;
        else if (!strcmp(o, "--endpoint-url"))
            a->aws.endpoint_url = v;
        else if (!strcmp(o, "--dead-letter"))
            a->dead_letter = v;
        else if (!strcmp(o, "--transfers"))
            ok = parse_int(v, 1, 4096, &a->transfers);
        else if (!strcmp(o, "--downloads"))
            ok = parse_int(v, 1, 1024, &a->downloads);
        else if (!strcmp(o, "--max-inflight"))
            ok = parse_int(v, 1, 1024, &a->max_inflight);
        else if (!strcmp(o, "--max-attempts"))
            ok = parse_int(v, 1, 1000000, &a->max_attempts);
        else if (!strcmp(o, "--write-percent"))
            ok = parse_num(v, 0.1, 1000, &a->write_percent);
        else if (!strcmp(o, "--max-wcu"))
            ok = parse_num(v, 1, 1e9, &a->max_wcu);
        else if (!strcmp(o, "--hot-key-wcu"))
            ok = parse_num(v, 0, 1e9, &a->hot_key_wcu);
        else if (!strcmp(o, "--items")) {
            double n;
            ok = parse_num(v, 1, 1e12, &n);
            a->bench_items = (long long)n;
        } else if (!strcmp(o, "--item-size"))
            ok = parse_int(v, 1, 409600, &a->item_size);
        else if (!strcmp(o, "--keys")) {
            ok = !strcmp(v, "uniform") || !strcmp(v, "hot");
            a->keys_hot = !strcmp(v, "hot");
        } else if (!strcmp(o, "--timeline"))
            a->timeline = v;
        else if (!strcmp(o, "--report"))
            a->report = v;
        else if (!strcmp(o, "--journal"))
            a->journal = v;
        else if (!strcmp(o, "--include") || !strcmp(o, "--exclude")) {
            bool inc = !strcmp(o, "--include");
            int *n = inc ? &a->ninclude : &a->nexclude;
            char gerr[200];
            if (*n == 32) {
                snprintf(err, errlen, "at most 32 %s patterns", o);
                return false;
            }
            if (dl_glob_check(v, gerr, sizeof gerr)) {
                snprintf(err, errlen, "%s '%s': %s", o, v, gerr);
                return false;
            }
            (inc ? a->include : a->exclude)[(*n)++] = v;
        } else if (!strcmp(o, "--start-after"))
            a->start_after = v;
        else if (!strcmp(o, "--memory"))
            ok = parse_size(v, &a->memory) && a->memory >= (64ull << 20);
        else if (!strcmp(o, "--log-format")) {
            ok = !strcmp(v, "text") || !strcmp(v, "json");
            a->log_json = !strcmp(v, "json");
        }
        else if (!strcmp(o, "--connect-timeout"))
            ok = parse_secs(v, &a->connect_timeout_s);
        else if (!strcmp(o, "--timeout"))
            ok = parse_secs(v, &a->timeout_s);
        else if (!strcmp(o, "--decode-threads"))
            ok = parse_int(v, 0, 64, &a->decode_threads);
        else if (!strcmp(o, "--quote")) {
            ok = strlen(v) == 1 && v[0] != '\n' && v[0] != '\r';
            a->quote = v[0];
        } else if (!strcmp(o, "--columns"))
            a->columns = v;
        else if (!strcmp(o, "--set") || !strcmp(o, "--rename") || !strcmp(o, "--drop") ||
                 !strcmp(o, "--types") || !strcmp(o, "--media")) {
            const char **list = !strcmp(o, "--set") ? a->set : !strcmp(o, "--rename") ? a->rename
                              : !strcmp(o, "--drop") ? a->drop : !strcmp(o, "--types") ? a->types : a->media;
            int *n = !strcmp(o, "--set") ? &a->nset : !strcmp(o, "--rename") ? &a->nrename
                   : !strcmp(o, "--drop") ? &a->ndrop : !strcmp(o, "--types") ? &a->ntypes : &a->nmedia;
            if (*n == DL_MAX_XFORM) {
                snprintf(err, errlen, "at most %d %s options", DL_MAX_XFORM, o);
                return false;
            }
            if (!*v || (strcmp(o, "--drop") && !strchr(v, '='))) {
                snprintf(err, errlen, "%s '%s': expected %s", o, v,
                         !strcmp(o, "--set") ? "NAME=TEMPLATE[:TYPE]" : !strcmp(o, "--rename") ? "OLD=NEW"
                         : !strcmp(o, "--types") ? "NAME=TYPE[,NAME=TYPE]" : !strcmp(o, "--media") ? "FOLDER=ATTR"
                         : "ATTR[,ATTR]");
                return false;
            }
            list[(*n)++] = v;
        } else if (!strcmp(o, "--list-separator")) {
            ok = strlen(v) == 1;
            a->list_sep = v[0];
        } else if (!strcmp(o, "--op-field"))
            ok = *(a->op_field = v) != 0;
        else if (!strcmp(o, "--op-map"))
            ok = *(a->op_map = v) != 0;
        else if (!strcmp(o, "--key-seq"))
            ok = *(a->key_seq = v) != 0;
        else if (!strcmp(o, "--key-seq-start")) {
            a->key_seq_start = v;
            ok = *v && strlen(v) <= 19 && strspn(v, "0123456789") == strlen(v);
        } else if (!strcmp(o, "--media-bucket")) {
            ok = !strncmp(v, "s3://", 5) && v[5] && v[5] != '/';
            a->media_bucket = v;
        } else if (!strcmp(o, "--media-match"))
            ok = *(a->media_match = v) != 0;
        else if (!strcmp(o, "--delimiter")) {
            if (!strcmp(v, "\\t") || !strcmp(v, "tab"))
                a->delimiter = '\t';
            else if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n' && v[0] != '\r')
                a->delimiter = v[0];
            else
                ok = false;
        } else {
            snprintf(err, errlen, "unknown option %s (see `ddbload help %s`)", o, c);
            return false;
        }
        if (!ok) {
            snprintf(err, errlen, "invalid value for %s: '%s'", o, v);
            return false;
        }
    }
    if ((a->cmd == DL_CMD_REPLAY || a->cmd == DL_CMD_BENCH) &&
        (a->nset || a->nrename || a->ndrop || a->ntypes || a->infer_types || a->op_field || a->key_seq ||
         a->media_bucket || a->columns || a->quote || a->no_quote || a->list_sep)) {
        snprintf(err, errlen, "%s: transforms, media and CSV options apply to run and convert only", c);
        return false;
    }
    if (a->cmd == DL_CMD_BENCH) {
        if (!a->table || !a->bench_items || !a->item_size) {
            snprintf(err, errlen, "bench: --table, --items and --item-size are required");
            return false;
        }
        if (a->nsources) {
            snprintf(err, errlen, "bench: unexpected argument '%s'", a->sources[0]);
            return false;
        }
        return true;
    }
    if (a->nsources == 0) {
        snprintf(err, errlen, "%s: no SOURCE given (s3://bucket/prefix, a file or a directory)", c);
        return false;
    }
    if ((a->cmd == DL_CMD_RUN || a->cmd == DL_CMD_REPLAY) && !a->table) {
        snprintf(err, errlen, "%s: --table NAME is required", c);
        return false;
    }
    if (a->cmd == DL_CMD_REPLAY && a->nsources != 1) {
        snprintf(err, errlen, "replay: give exactly one dead-letter file");
        return false;
    }
    if ((a->media_bucket != NULL) != (a->media_match != NULL) || (a->media_bucket && !a->nmedia) ||
        (a->nmedia && !a->media_bucket)) {
        snprintf(err, errlen, "%s: media side-load needs --media-bucket, --media-match and at least one --media FOLDER=ATTR", c);
        return false;
    }
    if (a->key_seq_start && !a->key_seq) {
        snprintf(err, errlen, "%s: --key-seq-start needs --key-seq ATTR", c);
        return false;
    }
    if (a->op_map && !a->op_field) {
        snprintf(err, errlen, "%s: --op-map needs --op-field NAME", c);
        return false;
    }
    if (a->quote && a->quote == (a->delimiter ? a->delimiter : a->format == DL_FMT_TSV ? '\t' : ',')) {
        snprintf(err, errlen, "%s: --quote '%c' is also the field separator (use --delimiter to pick another)", c,
                 a->quote);
        return false;
    }
    if (a->cmd == DL_CMD_CONVERT && a->key_spec && a->table) {
        snprintf(err, errlen, "convert: give --key or --table, not both");
        return false;
    }
    return true;
}
