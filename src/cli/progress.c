#include "cli/progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli_impl.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static pthread_t thread;
static bool running, stop_thread, on_tty, as_json;
static size_t line_len;        /* characters of the live line on screen */
static struct loader *cur;

static volatile sig_atomic_t stop_sig;

static void on_signal(int sig)
{
    if (stop_sig)
        _exit(1); /* second signal: at once (journal and dead letters are append-only and flushed) */
    stop_sig = sig;
    static const char msg[] = "\nddbload: stopping: no new work is taken; requests in flight finish "
                              "(a second signal exits at once)\n";
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
}

void dl_stop_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool dl_stop_requested(void)
{
    return stop_sig != 0;
}

int dl_stop_signal(void)
{
    return stop_sig;
}

static void duration(char *b, size_t n, double s)
{
    if (s < 0 || s > 1e7)
        snprintf(b, n, "?");
    else if (s < 60)
        snprintf(b, n, "%.0fs", s);
    else if (s < 3600)
        snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else
        snprintf(b, n, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

void dl_progress_format(struct loader *L, char *buf, size_t n, bool json)
{
    struct dl_pump_stats ps = { 0 };
    if (L->pump)
        dl_pump_stats_get(L->pump, &ps);
    double now = dl_cli_now_s(), el = now - L->started;
    uint64_t dead = L->dlq ? dl_deadletter_count(L->dlq) : 0;
    /* rates over the last interval */
    double dt = now - L->last_t;
    double ips = dt > 0.2 ? (double)(ps.written - L->last_written) / dt : L->last_ips;
    double wps = dt > 0.2 ? (ps.consumed_wcu > 0 ? ps.consumed_wcu - L->last_wcu
                                                   : (double)(ps.wcu_sent) - L->last_wcu) / dt
                          : L->last_wps;
    if (dt > 0.2) {
        L->last_t = now;
        L->last_written = ps.written;
        L->last_wcu = ps.consumed_wcu > 0 ? ps.consumed_wcu : (double)ps.wcu_sent;
        L->last_ips = ips;
        L->last_wps = wps;
    }
    double thr = ps.requests ? 100.0 * (double)ps.throttled / (double)ps.requests : 0;
    double brate = el > 0 ? (double)L->bytes / el : 0;
    double eta = brate > 0 && L->total_bytes > L->bytes ? (double)(L->total_bytes - L->bytes) / brate : 0;
    char etas[16], els[16];
    duration(etas, sizeof etas, eta);
    duration(els, sizeof els, el);
    if (json) {
        snprintf(buf, n,
                 "{\"type\":\"progress\",\"elapsed_s\":%.1f,\"objects_done\":%zu,\"objects_total\":%zu,"
                 "\"mb_read\":%.1f,\"mb_total\":%.1f,\"items_written\":%" PRIu64 ",\"items_per_s\":%.0f,"
                 "\"wcu_per_s\":%.0f,\"target_wcu_per_s\":%.0f,\"throttled_pct\":%.2f,\"retries\":%" PRIu64
                 ",\"dead_letters\":%" PRIu64 ",\"eta_s\":%.0f}",
                 el, L->objs_done, L->nobjs, (double)L->bytes / 1e6, (double)L->total_bytes / 1e6, ps.written, ips,
                 wps, ps.rate, thr, ps.retries, dead, eta);
        return;
    }
    char c1[32], target[32];
    if (ps.rate > 0)
        snprintf(target, sizeof target, "/%.0f", ps.rate);
    else
        target[0] = 0;
    snprintf(buf, n,
             "%s objects %zu/%zu | %.1f/%.1f MB | %s items, %.0f/s | WCU/s %.0f%s | throttled %.1f%% | "
             "retries %" PRIu64 " | dead %" PRIu64 " | ETA %s",
             els, L->objs_done, L->nobjs, (double)L->bytes / 1e6, (double)L->total_bytes / 1e6,
             dl_cli_commas(ps.written, c1, sizeof c1), ips, wps, target, thr, ps.retries, dead,
             L->objs_done == L->nobjs ? "draining" : etas);
}

static void draw_locked(const char *line)
{
    size_t len = strlen(line);
    fprintf(stderr, "\r%s", line);
    if (len < line_len)
        fprintf(stderr, "%*s", (int)(line_len - len), "");
    fflush(stderr);
    line_len = len;
}

static void erase_locked(void)
{
    if (on_tty && line_len) {
        fprintf(stderr, "\r%*s\r", (int)line_len, "");
        line_len = 0;
    }
}

void dl_progress_log(const char *line)
{
    pthread_mutex_lock(&mu);
    erase_locked();
    fprintf(stderr, "%s\n", line);
    fflush(stderr);
    pthread_mutex_unlock(&mu);
}

static void *progress_main(void *arg)
{
    pthread_mutex_lock(&mu);
    long period_ms = on_tty ? 250 : 5000;
    while (!stop_thread) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += (period_ms % 1000) * 1000000L;
        ts.tv_sec += period_ms / 1000 + ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&cv, &mu, &ts);
        if (stop_thread)
            break;
        char line[512];
        dl_progress_format(cur, line, sizeof line, as_json);
        if (on_tty && !as_json) {
            draw_locked(line);
        } else {
            fprintf(stderr, as_json ? "%s\n" : "ddbload: %s\n", line);
            fflush(stderr);
        }
    }
    erase_locked();
    pthread_mutex_unlock(&mu);
    return NULL;
}

void dl_progress_start(struct loader *L, bool tty, bool json)
{
    pthread_mutex_lock(&mu);
    cur = L;
    on_tty = tty;
    as_json = json;
    stop_thread = false;
    L->last_t = L->started;
    running = pthread_create(&thread, NULL, progress_main, NULL) == 0;
    pthread_mutex_unlock(&mu);
}

void dl_progress_stop(void)
{
    pthread_mutex_lock(&mu);
    if (!running) {
        pthread_mutex_unlock(&mu);
        return;
    }
    stop_thread = true;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    pthread_join(thread, NULL);
    running = false;
}
