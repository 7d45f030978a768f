/*
 * conns: the connection guard — deadlines for slow clients and the connection limit, as
 * nginx's client_header_timeout / client_body_timeout and Apache's mod_reqtimeout do.
 *
 * libmicrohttpd closes a connection only after --conn-timeout seconds of silence, so a client
 * sending a header byte a second holds its connection for ever, and at the connection limit
 * it refuses everyone else. The guard tracks each connection's phase: waiting for a request's
 * headers (from the accept, or from the end of the previous request), reading its body, or
 * busy (handler and reply: never cut here). A watchdog thread closes a connection whose
 * headers are not complete within the header deadline, or whose body stalls for the body
 * timeout or falls below the minimum rate (after a grace of the body timeout, as mod_reqtimeout's
 * MinRate). At the connection limit a new connection evicts the oldest one waiting for
 * headers (an idle keep-alive or a slow one) or sending its body below the minimum rate, or
 * is itself closed when there is none.
 * A connection is closed by shutdown(2) on its socket: libmicrohttpd sees the end of the stream
 * and closes and frees it in its own thread, as for a client that went away.
 * Does not: speak HTTP or call libmicrohttpd (http.c wires the callbacks).
 * Thread-safety: every function may be called from any thread; one mutex guards the table.
 */
#ifndef NEUROND_SERVER_CONNS_H
#define NEUROND_SERVER_CONNS_H

#include <stddef.h>

#include "nn/err.h"

struct srv_conns;
struct srv_conn;

struct srv_conns_config {
    int limit;          /* connections at once; past it the longest waiting is evicted */
    int capacity;       /* slots: limit plus room for connections being closed */
    long header_ms;     /* a request's headers must be complete within this */
    long body_ms;       /* no body byte for this long closes; also the rate's grace */
    long body_min_rate; /* bytes per second a body must average after the grace; 0 = off */
    long tick_ms;       /* how often the watchdog looks (100) */
};

/**
 * Makes the table and starts the watchdog thread.
 * @return 0, NN_ENOMEM, or NN_EIO (no thread). Ownership: *out is new; srv_conns_free.
 */
int srv_conns_new(const struct srv_conns_config *cfg, struct srv_conns **out, struct nn_err *err);

/** Stops the watchdog and frees the table. Call after the HTTP daemon stopped. NULL-safe. */
void srv_conns_free(struct srv_conns *t);

/**
 * Registers a new connection on socket fd, waiting for its first request's headers. At the
 * limit, evicts the oldest connection waiting for headers or sending a body below the
 * minimum rate, or shuts fd's own when there is none.
 * @return the connection's slot (borrowed until srv_conns_close), or NULL when the table is
 *         full (fd has then been shut down).
 */
struct srv_conn *srv_conns_open(struct srv_conns *t, int fd);

/** Unregisters c before its socket is closed. NULL-safe. */
void srv_conns_close(struct srv_conns *t, struct srv_conn *c);

/** The headers of a request on c are complete; has_body: its body is to be read next. */
void srv_conns_request(struct srv_conns *t, struct srv_conn *c, int has_body);

/** n more body bytes arrived on c. */
void srv_conns_body(struct srv_conns *t, struct srv_conn *c, size_t n);

/** c's body is read: the handler runs and replies (no deadline here). */
void srv_conns_busy(struct srv_conns *t, struct srv_conn *c);

/** c's request is complete: c waits for the next request's headers from now. */
void srv_conns_idle(struct srv_conns *t, struct srv_conn *c);

/** Counters since start: connections closed for a deadline, evicted at the limit, refused. */
void srv_conns_counts(struct srv_conns *t, unsigned long *timed_out, unsigned long *evicted,
                      unsigned long *refused);

#endif
