/* The commands: run (load sources into a table), convert (print items), replay (resend a
 * dead-letter file). Each returns the process exit status: 0 everything loaded, 2 finished
 * with dead-lettered records, 1 could not run. Messages go through core/log. */
#ifndef DL_CLI_RUN_H
#define DL_CLI_RUN_H

#include "cli/args.h"

int dl_cmd_run(const struct dl_args *a);
int dl_cmd_convert(const struct dl_args *a);
int dl_cmd_replay(const struct dl_args *a);

#endif
