/* The status line of a run: objects done/total, MB, items, items/s, WCU/s against the target,
 * throttle %, retries, dead letters, ETA. On a terminal it is redrawn in place every 250 ms
 * (log messages clear it first); otherwise it is logged every 5 s. Also the run's stop flag,
 * set by SIGINT/SIGTERM. */
#ifndef DL_CLI_PROGRESS_H
#define DL_CLI_PROGRESS_H

#include <stdbool.h>
#include <stdio.h>

struct loader;

/* Start the status thread for L (nothing if quiet). */
void dl_progress_start(struct loader *L, bool tty, bool json);
/* Stop it and erase the live line. */
void dl_progress_stop(void);
/* Write one log line (stderr) without garbling the live status line. */
void dl_progress_log(const char *line);
/* Format the status into buf. */
void dl_progress_format(struct loader *L, char *buf, size_t n, bool json);

/* Signals: the first SIGINT/SIGTERM asks the run to stop; a second one exits at once. */
void dl_stop_install(void);
bool dl_stop_requested(void);
int dl_stop_signal(void);

#endif
