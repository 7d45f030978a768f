/*
 * main: `neurond serve` — reads the configuration, starts the HTTP front, opens and
 * migrates the store, starts the job pool (re-queueing jobs a previous run left behind),
 * then waits for SIGTERM or SIGINT and stops gracefully: finish the requests in flight
 * (their connections close), put running jobs back to queued, close the store.
 * Thread-safety: call once, from the main thread, before any other thread exists.
 */
#ifndef NEUROND_SERVER_MAIN_H
#define NEUROND_SERVER_MAIN_H

/**
 * Runs the daemon until a stop signal.
 * @param argc, argv [in] argv[0] is "serve"; the flags follow (see --help).
 * @return the process exit status: 0 after a clean stop or --help, 1 when it cannot start
 *         (port in use, store refused, ...), 2 for a bad flag.
 */
int srv_main(int argc, char **argv);

#endif
