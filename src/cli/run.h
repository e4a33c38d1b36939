/* The commands: run (load sources into a table), convert (print items), replay (resend a
 * dead-letter file). Each returns the process exit status: 0 everything loaded, 2 finished
 * with dead-lettered records, 1 could not run. Messages go through core/log. */
#ifndef DL_CLI_RUN_H
#define DL_CLI_RUN_H

#include "cli/args.h"
#include "pump/ddb.h"
#include "pump/pump.h"

int dl_cmd_run(const struct dl_args *a);
int dl_cmd_bench(const struct dl_args *a);

/* Pump options from the command line and the table: in-flight requests, attempts, and the rate
 * ceiling (--max-wcu; else provisioned WCU x --write-percent; else an on-demand table's maximum
 * x --write-percent, starting at 4,000 WCU/s). */
void dl_cli_pump_opts(const struct dl_args *a, const struct dl_table_info *t, struct dl_pump_opts *po);
/* Log how the rate was chosen (one line). */
void dl_cli_log_rate(const struct dl_table_info *t, const struct dl_pump_opts *po);
int dl_cmd_convert(const struct dl_args *a);
int dl_cmd_replay(const struct dl_args *a);

#endif
