/*
 * security: the daemon's start-up security checks and the small, MHD-free checks the request
 * path uses to bound what strangers send.
 *
 * At start-up it reads keys from key files (so they stay out of `ps` and the environment),
 * refuses a non-loopback --bind without an API key unless --insecure is given, refuses half a
 * TLS set-up, reads the TLS certificate and key into memory for libmicrohttpd, and logs one
 * line saying whether the API is authenticated (never the key itself). On the request path
 * it compares keys in constant time and measures JSON nesting before cJSON recurses into it.
 * Does not: speak HTTP or TLS itself (http.c hands the PEM text to libmicrohttpd/GnuTLS).
 * Thread-safety: srv_security_prepare before threads start; the rest is pure.
 */
#ifndef NEUROND_SERVER_SECURITY_H
#define NEUROND_SERVER_SECURITY_H

#include <stddef.h>

#include "config.h"
#include "nn/err.h"

/**
 * Completes and checks the security settings: reads --api-key-file / --predict-key-file into
 * api_key / predict_key (first line, trailing CR/LF and blanks dropped), then checks that a
 * predict key comes with an API key, that --tls-cert and --tls-key come together, and that a
 * non-loopback bind has an API key or --insecure.
 * @param cfg [in,out] the loaded configuration; key fields filled from the files.
 * @return 0, or NN_EINVAL / NN_EIO with err->field naming the flag at fault (the message
 *         never contains a key).
 * Thread-safety: call before threads start.
 */
int srv_security_prepare(struct srv_config *cfg, struct nn_err *err);

/**
 * Logs the start-up security line: authenticated or not, TLS or not (never a key).
 * @param cfg [in] the prepared configuration. @param port [in] the port listened on.
 */
void srv_security_banner(const struct srv_config *cfg, int port);

/** 1 when addr (text) is a loopback address (127.0.0.0/8 or ::1), else 0. */
int srv_security_is_loopback(const char *addr);

/**
 * Compares a presented key with a configured one in time that depends only on the length
 * of the configured key. @return 1 when equal, else 0.
 */
int srv_security_key_equal(const char *given, const char *want);

/**
 * Reads a whole small file (a PEM certificate or key) into memory, NUL-terminated.
 * @param max [in] largest size accepted (bytes).
 * @param out [out] a new buffer (nn_free), NULL on failure.
 * @return 0, NN_EIO (cannot read) or NN_ERANGE (larger than max or empty).
 */
int srv_security_read_file(const char *path, size_t max, char **out, struct nn_err *err);

/**
 * Measures the nesting of a JSON text without parsing it (strings and escapes skipped), and
 * stops as soon as max_depth is passed, so a hostile "[[[[..." costs no recursion.
 * @param depth [out] the deepest nesting seen (up to max_depth + 1).
 * @return 0 when the depth is at most max_depth, else NN_ERANGE with err->col the byte
 *         offset (from 1) where the limit was passed.
 */
int srv_security_json_depth(const char *text, size_t len, long max_depth, long *depth,
                            struct nn_err *err);

#endif
