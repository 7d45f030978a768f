/*
 * csv: a streaming RFC 4180 reader — quoted fields, "" escapes, delimiters and newlines
 * inside quotes, CRLF or LF, a UTF-8 BOM, a header row; ',' by default, ';' or tab on request.
 *
 * It reads through a caller's FILE one record at a time with bounded buffers: a file is never
 * held in memory, and a second pass is a rewind. Every error names the physical line (the
 * header is line 1; newlines inside quotes count; the line where the bad record starts) and
 * the 1-based column, with the column's header name in err->field when known.
 * Limits (columns, field length, rows) are parameters.
 * Thread-safety: one reader per thread.
 */
#ifndef NEUROND_TAB_CSV_H
#define NEUROND_TAB_CSV_H

#include <stddef.h>
#include <stdio.h>

#include "nn/err.h"

struct tab_csv_opts {
    char delim;        /* ',' (default), ';' or '\t' */
    size_t max_cols;   /* default 10,000 */
    size_t max_field;  /* bytes per field, default 1 MiB */
    size_t max_rows;   /* data rows, default 10,000,000 */
    int allow_no_rows; /* 0 (default): a header alone is an error */
};

struct tab_csv;

/** Fills o with the defaults. */
void tab_csv_opts_default(struct tab_csv_opts *o);

/**
 * Starts reading f (borrowed: the caller closes it after tab_csv_close) and reads the header.
 * Errors: empty file (line 1), empty or duplicate header name (line 1, its column; the first
 * of two or more columns may be unnamed, as R and pandas write a row-name column), too many
 * columns, a bad delimiter.
 * @return 0 or an error. Ownership: *out is new; tab_csv_close. NULL on failure.
 */
int tab_csv_open(FILE *f, const struct tab_csv_opts *o, struct tab_csv **out, struct nn_err *err);

/** Frees the reader (does not close the FILE). NULL-safe. */
void tab_csv_close(struct tab_csv *r);

/** Number of columns (from the header) and the name of column i (borrowed). */
size_t tab_csv_ncols(const struct tab_csv *r);
const char *tab_csv_colname(const struct tab_csv *r, size_t i);
/** Index of the column named `name`, or -1. */
long tab_csv_find(const struct tab_csv *r, const char *name);

/**
 * Reads the next record. Fields are valid until the next call.
 * Errors (with line and column): too many or too few fields, an unclosed quote at end of
 * file, a NUL byte or bytes that are not UTF-8 in a field (the header's too), a character after a
 * closing quote, a field longer than max_field, more than max_rows rows, no data row after the
 * header (unless allow_no_rows). A blank last line is not a record.
 * @return 1 when a record was read, 0 at end of file, or a negative error.
 */
int tab_csv_next(struct tab_csv *r, struct nn_err *err);

/** Field i of the current record (NUL-terminated UTF-8: a field holding a NUL byte or bytes
 *  that are not UTF-8 is an error of tab_csv_next); borrowed until the next tab_csv_next. */
const char *tab_csv_field(const struct tab_csv *r, size_t i, size_t *len);

/** Physical line where the current record starts (1 = header). */
long tab_csv_line(const struct tab_csv *r);
/** Data records read so far. */
size_t tab_csv_rows(const struct tab_csv *r);

/**
 * Goes back to the first data record (fseek on the FILE) for another pass.
 * @return 0, or NN_EIO when the stream cannot seek.
 */
int tab_csv_rewind(struct tab_csv *r, struct nn_err *err);

/**
 * Writes one field (len bytes of s) to out, quoted with "" escapes when it holds the
 * delimiter, a quote or a line break. The caller writes delimiters and line ends.
 * @return 0, or -1 on a write error.
 */
int tab_csv_write_field(FILE *out, const char *s, size_t len, char delim);

#endif
