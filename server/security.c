/*
 * security: key files, the bind/TLS start-up rules, constant-time key comparison and the
 * JSON nesting probe (see security.h).
 *
 * The rule for binds is the one Redis's protected mode made familiar: a daemon without a key
 * only listens on loopback unless its operator says --insecure in so many words. Key text is
 * never put in a message or a log line; only its length and origin are.
 */
#include "security.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "nn/alloc.h"

#define KEY_FILE_MAX 4096

int srv_security_read_file(const char *path, size_t max, char **out, struct nn_err *err)
{
    FILE *f = NULL;
    char *buf = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        return nn_err_set(err, NN_EIO, "cannot read %s: %s", path, strerror(errno));
    }
    buf = nn_malloc(max + 1);
    if (buf == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f)) {
        rc = nn_err_set(err, NN_EIO, "cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    if (n == 0 || n > max) {
        rc = nn_err_set(err, NN_ERANGE, "%s is empty or larger than %zu bytes", path, max);
        goto fail;
    }
    buf[n] = '\0';
    fclose(f);
    *out = buf;
    return 0;
fail:
    if (f != NULL) {
        fclose(f);
    }
    nn_free(buf);
    return rc;
}

/* Reads the first line of a key file into dst (cap bytes). */
static int load_key(const char *path, char *dst, size_t cap, const char *flag, struct nn_err *err)
{
    char *text = NULL;
    int rc = srv_security_read_file(path, KEY_FILE_MAX, &text, err);

    if (rc != 0) {
        char why[sizeof(err->msg)]; /* err->msg is both source and target: copy it first */
        snprintf(why, sizeof(why), "%s", err != NULL ? err->msg : "");
        return nn_err_set_at(err, rc, 0, 0, flag, "%s: %s", flag, why);
    }
    size_t n = strcspn(text, "\r\n");
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t')) {
        n--;
    }
    if (n == 0 || n >= cap) {
        rc = nn_err_set_at(err, NN_EINVAL, 0, 0, flag,
                           "%s: the first line must hold a key of 1 to %zu bytes", flag, cap - 1);
    } else {
        memcpy(dst, text, n);
        dst[n] = '\0';
    }
    memset(text, 0, strlen(text)); /* do not leave the key in freed memory */
    nn_free(text);
    return rc;
}

int srv_security_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, addr, &a6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6);
    }
    return 0;
}

/* A key may hold printable ASCII only (it travels in a header). */
static int key_ok(const char *k)
{
    for (; *k != '\0'; k++) {
        if (*k < 0x21 || *k > 0x7e) {
            return 0;
        }
    }
    return 1;
}

int srv_security_prepare(struct srv_config *cfg, struct nn_err *err)
{
    int rc;

    if (cfg->api_key_file[0] != '\0') {
        rc = load_key(cfg->api_key_file, cfg->api_key, sizeof(cfg->api_key), "--api-key-file", err);
        if (rc != 0) {
            return rc;
        }
    }
    if (cfg->predict_key_file[0] != '\0') {
        rc = load_key(cfg->predict_key_file, cfg->predict_key, sizeof(cfg->predict_key),
                      "--predict-key-file", err);
        if (rc != 0) {
            return rc;
        }
    }
    if (!key_ok(cfg->api_key)) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--api-key",
                             "--api-key: the key must be printable ASCII without spaces");
    }
    if (!key_ok(cfg->predict_key)) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--predict-key",
                             "--predict-key: the key must be printable ASCII without spaces");
    }
    if (cfg->predict_key[0] != '\0' && cfg->api_key[0] == '\0') {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--predict-key",
                             "--predict-key needs --api-key (without an API key nothing is "
                             "protected, so a predict-only key means nothing)");
    }
    if (cfg->predict_key[0] != '\0' && strcmp(cfg->predict_key, cfg->api_key) == 0) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--predict-key",
                             "--predict-key must differ from --api-key");
    }
    if ((cfg->tls_cert[0] != '\0') != (cfg->tls_key[0] != '\0')) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0,
                             cfg->tls_cert[0] != '\0' ? "--tls-key" : "--tls-cert",
                             "--tls-cert and --tls-key go together");
    }
    if (cfg->api_key[0] == '\0' && !cfg->insecure && !srv_security_is_loopback(cfg->bind)) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "--bind",
                             "refusing to listen on %s without an API key: set --api-key "
                             "(or --api-key-file), or say --insecure to serve anyone who can "
                             "reach it",
                             cfg->bind);
    }
    return 0;
}

void srv_security_banner(const struct srv_config *cfg, int port)
{
    const char *scheme = cfg->tls_cert[0] != '\0' ? "https" : "http";

    if (cfg->api_key[0] == '\0') {
        srv_log("warn",
                "UNAUTHENTICATED: no API key is set, so anyone who can reach %s://%s:%d may "
                "train, import and delete models (set --api-key or --api-key-file)",
                scheme, cfg->bind, port);
    } else {
        srv_log("info", "API key required (%zu bytes)%s; health and metrics stay open",
                strlen(cfg->api_key),
                cfg->predict_key[0] != '\0' ? ", plus a predict-only key" : "");
    }
    if (cfg->tls_cert[0] == '\0' && !srv_security_is_loopback(cfg->bind)) {
        srv_log("warn",
                "serving plain HTTP on %s: keys and data cross the network in clear "
                "(use --tls-cert/--tls-key or a TLS proxy)",
                cfg->bind);
    }
}

int srv_security_key_equal(const char *given, const char *want)
{
    size_t gl = strlen(given), wl = strlen(want);
    volatile unsigned char diff = (unsigned char)(gl != wl);

    for (size_t i = 0; i < wl; i++) {
        /* index given by i % (gl + 1): always in bounds, no branch on the secret */
        diff |= (unsigned char)(want[i] ^ given[i % (gl + 1)]);
    }
    return diff == 0;
}

int srv_security_json_depth(const char *text, size_t len, long max_depth, long *depth,
                            struct nn_err *err)
{
    long d = 0, deepest = 0;
    int in_str = 0;

    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\') {
                i++;
            } else if (c == '"') {
                in_str = 0;
            }
            continue;
        }
        if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            d++;
            if (d > deepest) {
                deepest = d;
            }
            if (d > max_depth) {
                return nn_err_set_at(err, NN_ERANGE, 1, (long)i + 1, "",
                                     "the JSON body nests deeper than %ld levels", max_depth);
            }
        } else if ((c == ']' || c == '}') && d > 0) {
            d--;
        }
    }
    *depth = deepest;
    return 0;
}
