/* ddbsim: a loopback DynamoDB endpoint that enforces write capacity and injects faults.
 * Usage and the model: docs/capacity-simulator.md, or ddbsim --help. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server.h"
#include "sim.h"

struct sim_config g_cfg;

static uint64_t rng_state;

double sim_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double sim_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

uint64_t sim_rand(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

double sim_rand01(void)
{
    return (double)(sim_rand() >> 11) * (1.0 / 9007199254740992.0);
}

void sim_request_id(char out[53])
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    uint64_t r = 0;
    for (int i = 0; i < 52; i++) {
        if (i % 10 == 0)
            r = sim_rand();
        out[i] = alphabet[r % 36];
        r /= 36;
    }
    out[52] = 0;
}

static void usage(FILE *f)
{
    fputs("usage: ddbsim --port N [options]\n"
          "  --host ADDR            loopback address to bind (127.0.0.1; ::1 and localhost too)\n"
          "  --table NAME:pk:T[:sk:T]  create a table at start (T is S, N or B); repeatable\n"
          "  --wcu N / --rcu N      provisioned capacity of --table tables (1000 / same as wcu)\n"
          "  --on-demand            --table tables are PAY_PER_REQUEST\n"
          "  --burst-seconds S      unused capacity kept, in seconds of WCU (300)\n"
          "  --initial-burst S      seconds of WCU in a new table's bucket (= burst-seconds)\n"
          "  --no-burst             --burst-seconds 0 --initial-burst 0\n"
          "  --partitions N         partitions per table (0 = max(1, ceil(WCU / partition-wcu)))\n"
          "  --partition-wcu N      per-partition write limit per second (1000)\n"
          "  --ondemand-initial N   a new on-demand table's instant limit, WRU/s (4000)\n"
          "  --ondemand-max N       on-demand table quota, WRU/s (40000)\n"
          "  --fail-rate F          share of requests answered 500/503 (0)\n"
          "  --reset-rate F         share of requests whose connection is cut mid-response (0)\n"
          "  --stall-rate F         share of requests never answered (0)\n"
          "  --reset-after-apply    a reset happens after the request was applied\n"
          "  --latency-ms N         delay before each answer (0); --latency-jitter-ms N adds U(0,N)\n"
          "  --fault-ops LIST       operations faults and latency apply to (all), e.g. BatchWriteItem,PutItem\n"
          "  --seed N               random seed for faults (default: from the clock)\n"
          "  --max-lifetime S       exit after S seconds\n"
          "  --series-seconds N     length of the per-second series in /_sim/stats (60)\n"
          "  --max-connections N    (4096)\n"
          "  --no-history           do not keep overwritten item versions for /_sim/writes\n"
          "  --verbose              log to stderr (twice: every request)\n",
          f);
}

static bool parse_double(const char *s, double *out, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

struct table_spec {
    char name[256];
    struct sim_key_attr keys[2];
    char keybuf[2][256];
    int nkeys;
};

/* NAME:pk:S[:sk:N] */
static bool parse_table(const char *s, struct table_spec *ts)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    char *parts[6];
    int n = 0;
    for (char *p = buf, *tok; n < 6 && (tok = strsep(&p, ":")); )
        parts[n++] = tok;
    if (n != 3 && n != 5)
        return false;
    if (strlen(parts[0]) < 3 || strlen(parts[0]) > 255)
        return false;
    strcpy(ts->name, parts[0]);
    ts->nkeys = (n - 1) / 2;
    for (int k = 0; k < ts->nkeys; k++) {
        const char *name = parts[1 + 2 * k], *type = parts[2 + 2 * k];
        if (!*name || strlen(name) > 255 || strlen(type) != 1 || !strchr("SNB", type[0]))
            return false;
        strcpy(ts->keybuf[k], name);
        ts->keys[k].name = ts->keybuf[k];
        ts->keys[k].len = strlen(name);
        ts->keys[k].type = type[0];
    }
    return true;
}

static bool parse_ops(const char *s, uint32_t *mask)
{
    if (strcmp(s, "all") == 0) {
        *mask = (1u << OP_COUNT) - 1;
        return true;
    }
    *mask = 0;
    char buf[512];
    if (strlen(s) >= sizeof buf)
        return false;
    strcpy(buf, s);
    for (char *p = buf, *tok; (tok = strsep(&p, ",")); ) {
        char target[128];
        snprintf(target, sizeof target, "DynamoDB_20120810.%s", tok);
        enum sim_op op = sim_op_parse(target, strlen(target));
        if (op == OP_UNKNOWN)
            return false;
        *mask |= 1u << op;
    }
    return true;
}

/* Bind to a loopback address only: the simulator ignores signatures and must never be
 * reachable from elsewhere. */
static int bind_loopback(const char *host, int port, char *shown, size_t shown_len)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        if ((ntohl(a4->sin_addr.s_addr) >> 24) != 127)
            return -2;
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sl = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr))
            return -2;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sl = sizeof *a6;
    } else {
        return -2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
        close(fd);
        return -1;
    }
    sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    int real_port = ss.ss_family == AF_INET ? ntohs(a4->sin_port) : ntohs(a6->sin6_port);
    snprintf(shown, shown_len, ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, real_port);
    return fd;
}

enum {
    O_PORT = 256, O_HOST, O_TABLE, O_WCU, O_RCU, O_ON_DEMAND, O_BURST, O_INITIAL_BURST,
    O_NO_BURST, O_PARTITIONS, O_PARTITION_WCU, O_OD_INITIAL, O_OD_MAX, O_FAIL, O_RESET,
    O_STALL, O_RESET_AFTER, O_LATENCY, O_JITTER, O_FAULT_OPS, O_SEED, O_LIFETIME, O_SERIES,
    O_MAXCONN, O_NO_HISTORY, O_VERBOSE, O_HELP,
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "port", required_argument, 0, O_PORT },
        { "host", required_argument, 0, O_HOST },
        { "table", required_argument, 0, O_TABLE },
        { "wcu", required_argument, 0, O_WCU },
        { "rcu", required_argument, 0, O_RCU },
        { "on-demand", no_argument, 0, O_ON_DEMAND },
        { "burst-seconds", required_argument, 0, O_BURST },
        { "initial-burst", required_argument, 0, O_INITIAL_BURST },
        { "no-burst", no_argument, 0, O_NO_BURST },
        { "partitions", required_argument, 0, O_PARTITIONS },
        { "partition-wcu", required_argument, 0, O_PARTITION_WCU },
        { "ondemand-initial", required_argument, 0, O_OD_INITIAL },
        { "ondemand-max", required_argument, 0, O_OD_MAX },
        { "fail-rate", required_argument, 0, O_FAIL },
        { "reset-rate", required_argument, 0, O_RESET },
        { "stall-rate", required_argument, 0, O_STALL },
        { "reset-after-apply", no_argument, 0, O_RESET_AFTER },
        { "latency-ms", required_argument, 0, O_LATENCY },
        { "latency-jitter-ms", required_argument, 0, O_JITTER },
        { "fault-ops", required_argument, 0, O_FAULT_OPS },
        { "seed", required_argument, 0, O_SEED },
        { "max-lifetime", required_argument, 0, O_LIFETIME },
        { "series-seconds", required_argument, 0, O_SERIES },
        { "max-connections", required_argument, 0, O_MAXCONN },
        { "no-history", no_argument, 0, O_NO_HISTORY },
        { "verbose", no_argument, 0, O_VERBOSE },
        { "help", no_argument, 0, O_HELP },
        { 0, 0, 0, 0 },
    };
    struct sim_config *c = &g_cfg;
    snprintf(c->host, sizeof c->host, "127.0.0.1");
    c->port = -1;
    c->wcu = 1000;
    c->rcu = -1;
    c->burst_seconds = 300;
    c->initial_burst = -1;
    c->partition_wcu = 1000;
    c->ondemand_initial = 4000;
    c->ondemand_max = 40000;
    c->fault_ops = (1u << OP_COUNT) - 1;
    c->seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    c->series_seconds = 60;
    c->max_connections = 4096;
    c->history = true;

    struct table_spec *specs = NULL;
    int nspecs = 0;
    double d;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (o) {
        case O_PORT: ok = parse_double(optarg, &d, 0, 65535) && d == floor(d); c->port = (int)d; break;
        case O_HOST: ok = strlen(optarg) < sizeof c->host; if (ok) snprintf(c->host, sizeof c->host, "%s", optarg); break;
        case O_TABLE:
            specs = realloc(specs, (size_t)(nspecs + 1) * sizeof *specs);
            ok = specs && parse_table(optarg, &specs[nspecs]);
            nspecs += ok;
            break;
        case O_WCU: ok = parse_double(optarg, &c->wcu, 1, 1e9); break;
        case O_RCU: ok = parse_double(optarg, &c->rcu, 1, 1e9); break;
        case O_ON_DEMAND: c->on_demand = true; break;
        case O_BURST: ok = parse_double(optarg, &c->burst_seconds, 0, 1e6); break;
        case O_INITIAL_BURST: ok = parse_double(optarg, &c->initial_burst, 0, 1e6); break;
        case O_NO_BURST: c->burst_seconds = 0; c->initial_burst = 0; break;
        case O_PARTITIONS: ok = parse_double(optarg, &d, 0, 100000) && d == floor(d); c->partitions = (int)d; break;
        case O_PARTITION_WCU: ok = parse_double(optarg, &c->partition_wcu, 1, 1e9); break;
        case O_OD_INITIAL: ok = parse_double(optarg, &c->ondemand_initial, 1, 1e9); break;
        case O_OD_MAX: ok = parse_double(optarg, &c->ondemand_max, 1, 1e9); break;
        case O_FAIL: ok = parse_double(optarg, &c->fail_rate, 0, 1); break;
        case O_RESET: ok = parse_double(optarg, &c->reset_rate, 0, 1); break;
        case O_STALL: ok = parse_double(optarg, &c->stall_rate, 0, 1); break;
        case O_RESET_AFTER: c->reset_after_apply = true; break;
        case O_LATENCY: ok = parse_double(optarg, &c->latency_ms, 0, 3600e3); break;
        case O_JITTER: ok = parse_double(optarg, &c->latency_jitter_ms, 0, 3600e3); break;
        case O_FAULT_OPS: ok = parse_ops(optarg, &c->fault_ops); break;
        case O_SEED: ok = parse_double(optarg, &d, 0, 1.8e19); c->seed = strtoull(optarg, NULL, 10); break;
        case O_LIFETIME: ok = parse_double(optarg, &c->max_lifetime, 0, 1e9); break;
        case O_SERIES: ok = parse_double(optarg, &d, 1, 86400) && d == floor(d); c->series_seconds = (int)d; break;
        case O_MAXCONN: ok = parse_double(optarg, &d, 1, 1e6) && d == floor(d); c->max_connections = (int)d; break;
        case O_NO_HISTORY: c->history = false; break;
        case O_VERBOSE: c->verbose++; break;
        case 'h':
        case O_HELP: usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        if (!ok) {
            fprintf(stderr, "ddbsim: invalid value for --%s: %s\n", opts[o - O_PORT].name, optarg);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ddbsim: unexpected argument: %s\n", argv[optind]);
        return 2;
    }
    if (c->port < 0) {
        fprintf(stderr, "ddbsim: --port is required (0 picks a free port)\n");
        usage(stderr);
        return 2;
    }
    if (c->fail_rate + c->reset_rate + c->stall_rate > 1.0 + 1e-9) {
        fprintf(stderr, "ddbsim: --fail-rate + --reset-rate + --stall-rate must not exceed 1\n");
        return 2;
    }
    if (c->rcu < 0)
        c->rcu = c->wcu;
    rng_state = c->seed ? c->seed : 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 8; i++)
        sim_rand();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)c->max_connections + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)c->max_connections + 64 ? rl.rlim_max
                                                                    : (rlim_t)c->max_connections + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    char shown[128];
    int fd = bind_loopback(c->host, c->port, shown, sizeof shown);
    if (fd == -2) {
        fprintf(stderr, "ddbsim: refusing to listen on %s: only loopback addresses are allowed\n", c->host);
        return 2;
    }
    if (fd < 0) {
        fprintf(stderr, "ddbsim: cannot listen on %s:%d: %s\n", c->host, c->port, strerror(errno));
        return 1;
    }
    sim_stats_init();
    for (int i = 0; i < nspecs; i++) {
        struct table_spec *ts = &specs[i];
        if (!sim_table_new((const uint8_t *)ts->name, strlen(ts->name), ts->nkeys, ts->keys,
                           c->on_demand, c->rcu, c->wcu, -1, -1)) {
            fprintf(stderr, "ddbsim: cannot create table %s (duplicate?)\n", ts->name);
            return 2;
        }
    }
    free(specs);
    if (sim_server_init(fd) != 0) {
        fprintf(stderr, "ddbsim: cannot start the event loop: %s\n", strerror(errno));
        return 1;
    }
    printf("ddbsim listening on %s\n", shown);
    fflush(stdout);
    if (c->verbose)
        fprintf(stderr, "ddbsim: seed %llu\n", (unsigned long long)c->seed);
    double deadline = c->max_lifetime > 0 ? sim_now() + c->max_lifetime : 0;
    int rc = sim_server_run(deadline);
    if (c->verbose)
        fprintf(stderr, "ddbsim: stopping\n");
    return rc == 0 ? 0 : 1;
}
