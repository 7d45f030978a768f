/*
 * log: logfmt lines on stderr, formatted whole into a bounded buffer, then one fwrite
 * (stdio locks the stream per call, so concurrent lines stay whole).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define LINE_MAX_BYTES 2048

/* Appends src to buf[*len..cap) as a logfmt value: quoted when it holds spaces or quotes,
 * control bytes as \xNN. Truncates silently at cap. */
static void put_value(char *buf, size_t *len, size_t cap, const char *src)
{
    int quote = src[0] == '\0' || strpbrk(src, " \"=\\") != NULL;
    size_t n = *len;

    if (quote && n + 1 < cap) {
        buf[n++] = '"';
    }
    for (const unsigned char *p = (const unsigned char *)src; *p != '\0' && n + 5 < cap; p++) {
        if (*p == '"' || *p == '\\') {
            buf[n++] = '\\';
            buf[n++] = (char)*p;
        } else if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", *p);
        } else {
            buf[n++] = (char)*p;
        }
    }
    if (quote && n + 1 < cap) {
        buf[n++] = '"';
    }
    *len = n;
}

static size_t put_time(char *buf, size_t cap)
{
    struct timespec ts;
    struct tm tm;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

void srv_log(const char *level, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = put_time(line, sizeof(line));
    n += (size_t)snprintf(line + n, sizeof(line) - n, " level=%s msg=", level);
    put_value(line, &n, sizeof(line) - 1, msg);
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}

void srv_log_request(const char *method, const char *path, unsigned status, size_t bytes,
                     long long us, const char *id)
{
    char line[LINE_MAX_BYTES];
    size_t n = put_time(line, sizeof(line));

    n += (size_t)snprintf(line + n, sizeof(line) - n, " level=info msg=request method=");
    put_value(line, &n, sizeof(line) - 1, method != NULL ? method : "-");
    n += (size_t)snprintf(line + n, sizeof(line) - n, " path=");
    put_value(line, &n, sizeof(line) - 100, path != NULL ? path : "-");
    n += (size_t)snprintf(line + n, sizeof(line) - n, " status=%u bytes=%zu us=%lld id=", status,
                          bytes, us);
    put_value(line, &n, sizeof(line) - 1, id != NULL ? id : "-");
    line[n++] = '\n';
    fwrite(line, 1, n, stderr);
}
