/* ddbsim's HTTP server loop (server.c). */
#ifndef DDBSIM_SERVER_H
#define DDBSIM_SERVER_H

/* Take over the listening socket fd (non-blocking); block SIGINT/SIGTERM into a signalfd.
 * 0 on success, -1 with errno on failure. */
int sim_server_init(int fd);
/* Serve until SIGINT/SIGTERM or until sim_now() reaches deadline (0: no deadline).
 * 0 on a clean stop, -1 on an epoll failure. */
int sim_server_run(double deadline);

#endif
