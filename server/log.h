/*
 * log: the daemon's structured log — one logfmt line per event on stderr
 * (`ts=... level=info msg=request method=GET path=/jobs status=200 bytes=81 us=412 id=...`).
 *
 * Each line is formatted into a bounded stack buffer and written with one fwrite, so lines
 * from different threads never interleave. Values are escaped (quotes, control bytes).
 * Does not: rotate files or filter by level. Thread-safety: every function is thread-safe.
 */
#ifndef NEUROND_SERVER_LOG_H
#define NEUROND_SERVER_LOG_H

#include <stddef.h>

/**
 * Logs one free-form event.
 * @param level [in] "info", "warn" or "error".
 * @param fmt   [in] printf format of the message (quoted and escaped in the line).
 */
void srv_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/**
 * Logs one finished HTTP request.
 * @param method, path [in] as received (path without the query string).
 * @param status [in] the HTTP status sent (0 when the connection died first).
 * @param bytes  [in] body bytes sent. @param us [in] microseconds from first byte to done.
 * @param id     [in] the request id (X-Request-Id).
 */
void srv_log_request(const char *method, const char *path, unsigned status, size_t bytes,
                     long long us, const char *id);

#endif
