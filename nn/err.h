/*
 * err: error codes and the error record every fallible nn/ and server/ call fills.
 *
 * Functions that can fail return int: 0 on success, a negative NN_E* code on failure, and
 * write details into an optional `struct nn_err *err` (NULL allowed), as anet's err buffer.
 * Parsers fill line/col/field so a user is told where the fault is.
 * Thread-safety: a struct nn_err belongs to one thread; the functions keep no state.
 */
#ifndef NEUROND_NN_ERR_H
#define NEUROND_NN_ERR_H

#define NN_OK        0
#define NN_EINVAL    (-1) /* bad argument or input data */
#define NN_ENOMEM    (-2) /* allocation failed or a size limit would be passed */
#define NN_EIO       (-3) /* read or write failed */
#define NN_EFORMAT   (-4) /* malformed input: CSV, JSON, model blob */
#define NN_ERANGE    (-5) /* a value or size out of the allowed range */
#define NN_ENOTFOUND (-6) /* no such item */
#define NN_ECANCELED (-7) /* stopped by the caller's cancel flag */
#define NN_EDIVERGED (-8) /* training produced NaN or infinite loss */
#define NN_ENOSPC    (-9) /* no space left to write (disk or database file full) */

/* Details of the last error. line/col are 1-based, 0 when not applicable; field is "" then. */
struct nn_err {
    int code;
    char msg[256];
    long line;
    long col;
    char field[128];
};

/**
 * Clears an error record to "no error".
 * @param err [out] record to clear; NULL is a no-op.
 */
void nn_err_clear(struct nn_err *err);

/**
 * Records an error code and a printf-style message; line, col and field are cleared.
 * @param err  [out] record to fill; NULL is allowed (then only the code is returned).
 * @param code [in] a negative NN_E* code.
 * @return code, so callers can write `return nn_err_set(err, NN_EINVAL, "...")`.
 */
int nn_err_set(struct nn_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Records an error with its location in the input (CSV line and column, JSON field).
 * @param line  [in] 1-based physical line, 0 if unknown.
 * @param col   [in] 1-based column (field index for CSV), 0 if unknown.
 * @param field [in] name of the field or column at fault; NULL for none.
 * @return code.
 */
int nn_err_set_at(struct nn_err *err, int code, long line, long col, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/**
 * A short constant name for a code ("invalid argument", "out of memory", ...).
 * @return a static string; never NULL.
 */
const char *nn_strerror(int code);

#endif
