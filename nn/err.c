/*
 * err: the one place that writes struct nn_err records (vsnprintf into a bounded buffer).
 */
#include "nn/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void nn_err_clear(struct nn_err *err)
{
    if (err == NULL) {
        return;
    }
    memset(err, 0, sizeof(*err));
}

static void vset(struct nn_err *err, int code, long line, long col, const char *field,
                 const char *fmt, va_list ap)
{
    err->code = code;
    err->line = line;
    err->col = col;
    err->field[0] = '\0';
    if (field != NULL) {
        snprintf(err->field, sizeof(err->field), "%s", field);
    }
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
}

int nn_err_set(struct nn_err *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }
    va_start(ap, fmt);
    vset(err, code, 0, 0, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int nn_err_set_at(struct nn_err *err, int code, long line, long col, const char *field,
                  const char *fmt, ...)
{
    va_list ap;

    if (err == NULL) {
        return code;
    }
    va_start(ap, fmt);
    vset(err, code, line, col, field, fmt, ap);
    va_end(ap);
    return code;
}

const char *nn_strerror(int code)
{
    switch (code) {
    case NN_OK:
        return "ok";
    case NN_EINVAL:
        return "invalid argument";
    case NN_ENOMEM:
        return "out of memory";
    case NN_EIO:
        return "input/output error";
    case NN_EFORMAT:
        return "malformed input";
    case NN_ERANGE:
        return "out of range";
    case NN_ENOTFOUND:
        return "not found";
    case NN_ECANCELED:
        return "cancelled";
    case NN_EDIVERGED:
        return "training diverged";
    case NN_ENOSPC:
        return "no space left";
    default:
        return "unknown error";
    }
}
