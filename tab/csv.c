/*
 * csv: a streaming RFC 4180 reader.
 *
 * The FILE is read through one fixed 64 KiB buffer of our own (no per-byte stdio calls) and
 * the current record is assembled in one growable byte buffer whose fields are NUL-separated;
 * a field may never pass opts->max_field bytes, so memory is bounded by the record, never by
 * the file. Unquoted runs are scanned with a per-reader 256-entry stop table, so numeric data
 * moves at memcpy-like speed. Line numbers are physical lines (newlines inside quotes count);
 * every error names the line where the bad record starts and the 1-based field index.
 * A second pass is an fseek back to the byte offset just after the header.
 */
#include "tab/csv.h"

#include <stdint.h>
#include <string.h>

#include "nn/alloc.h"
#include "nn/utf8.h"

#define CSV_BUFSZ (64 * 1024)

struct tab_csv {
    FILE *f;
    struct tab_csv_opts o;
    unsigned char stop[256]; /* 1 for bytes that end an unquoted run */
    unsigned char *buf;
    size_t pos, end;
    int eof;
    long long base_off; /* file offset of buf[0]; -1 when the stream cannot tell */
    long line;          /* physical line of the next byte */
    long rec_line;      /* line where the current record starts */
    char **names;
    size_t ncols;
    char *rec; /* current record: fields separated by NULs */
    size_t rec_len, rec_cap;
    size_t *foff, *flen;
    size_t fcap, nf;
    size_t rows;
    long long data_off; /* offset of the first data record */
    long data_line;
    int failed; /* sticky error code */
};

void tab_csv_opts_default(struct tab_csv_opts *o)
{
    o->delim = ',';
    o->max_cols = 10000;
    o->max_field = 1024 * 1024;
    o->max_rows = 10000000;
    o->allow_no_rows = 0;
}

/* ==========================================================================================
 * The read buffer and the record buffer
 */
/* Refills the read buffer. @return 1 when bytes are there, 0 at end of file, NN_EIO. */
static int fill(struct tab_csv *r)
{
    if (r->pos < r->end) {
        return 1;
    }
    if (r->eof) {
        return 0;
    }
    if (r->base_off >= 0) {
        r->base_off += (long long)r->end;
    }
    r->pos = 0;
    r->end = fread(r->buf, 1, CSV_BUFSZ, r->f);
    if (r->end == 0) {
        r->eof = 1;
        return ferror(r->f) ? NN_EIO : 0;
    }
    return 1;
}

/* Next byte without consuming it, -1 at end of file, or -2 on a read error. */
static int peek(struct tab_csv *r)
{
    int rc = fill(r);
    if (rc == 1) {
        return r->buf[r->pos];
    }
    return rc == 0 ? -1 : -2;
}

static const char *colname_or_null(const struct tab_csv *r, size_t col)
{
    if (r->names != NULL && col < r->ncols) {
        return r->names[col];
    }
    return NULL;
}

static int rec_reserve(struct tab_csv *r, size_t n, struct nn_err *err)
{
    if (r->rec_len + n + 1 <= r->rec_cap) {
        return 0;
    }
    size_t cap = r->rec_cap ? r->rec_cap : 256;
    while (cap < r->rec_len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            return nn_err_set(err, NN_ENOMEM, "csv record too large");
        }
        cap *= 2;
    }
    char *p = nn_realloc(r->rec, cap);
    if (p == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory reading a csv record");
    }
    r->rec = p;
    r->rec_cap = cap;
    return 0;
}

/* Appends n bytes to the field being built (which started at foff[nf]). */
static int field_put(struct tab_csv *r, const unsigned char *p, size_t n, struct nn_err *err)
{
    size_t cur = r->rec_len - r->foff[r->nf];
    if (n > r->o.max_field || cur > r->o.max_field - n) {
        return nn_err_set_at(err, NN_ERANGE, r->rec_line, (long)r->nf + 1,
                             colname_or_null(r, r->nf),
                             "line %ld, column %zu: field longer than %zu bytes", r->rec_line,
                             r->nf + 1, r->o.max_field);
    }
    if (rec_reserve(r, n, err) != 0) {
        return NN_ENOMEM;
    }
    memcpy(r->rec + r->rec_len, p, n);
    r->rec_len += n;
    return 0;
}

/* Starts field number nf. limit: the most fields a record may have. */
static int field_start(struct tab_csv *r, size_t limit, int header, struct nn_err *err)
{
    if (r->nf >= limit) {
        if (header) {
            return nn_err_set_at(err, NN_ERANGE, r->rec_line, (long)r->nf + 1, NULL,
                                 "line %ld: more than %zu columns", r->rec_line, limit);
        }
        return nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)r->nf + 1, NULL,
                             "line %ld: too many fields (expected %zu)", r->rec_line, limit);
    }
    if (r->nf >= r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 16;
        if (cap > limit + 1) {
            cap = limit + 1;
        }
        size_t *a = nn_reallocarray(r->foff, cap, sizeof(size_t));
        if (a == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory reading a csv record");
        }
        r->foff = a;
        a = nn_reallocarray(r->flen, cap, sizeof(size_t));
        if (a == NULL) {
            return nn_err_set(err, NN_ENOMEM, "out of memory reading a csv record");
        }
        r->flen = a;
        r->fcap = cap;
    }
    r->foff[r->nf] = r->rec_len;
    return 0;
}

static int field_end(struct tab_csv *r, struct nn_err *err)
{
    if (rec_reserve(r, 0, err) != 0) {
        return NN_ENOMEM;
    }
    r->flen[r->nf] = r->rec_len - r->foff[r->nf];
    r->rec[r->rec_len++] = '\0';
    r->nf++;
    return 0;
}

/*
 * Refuses the field just ended (number nf - 1) when it holds a NUL byte (C strings would cut
 * it there: "set\0osa" read as "set") or bytes that are not UTF-8 (names and classes end up in
 * the store and in JSON replies, which hold UTF-8 only). One pass, ASCII on the fast path.
 */
static int field_check(struct tab_csv *r, struct nn_err *err)
{
    size_t f = r->nf - 1;
    const char *p = r->rec + r->foff[f];
    size_t n = r->flen[f], bad = 0;

    if (memchr(p, '\0', n) != NULL) {
        return nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)f + 1, colname_or_null(r, f),
                             "line %ld, column %zu: NUL byte in a field", r->rec_line, f + 1);
    }
    if (!nn_utf8_valid(p, n, &bad)) {
        return nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)f + 1, colname_or_null(r, f),
                             "line %ld, column %zu: not UTF-8 (byte 0x%02x at offset %zu of the "
                             "field): the CSV must be UTF-8 text",
                             r->rec_line, f + 1, (unsigned)(unsigned char)p[bad], bad);
    }
    return 0;
}

/* ==========================================================================================
 * Fields and records
 */
/* What ended a field. */
enum { END_NONE = -1, END_DELIM = 0, END_LINE = 1, END_EOF = 2 };

/* After a '\r': a line end when '\n' follows (consumed), the end of the file when nothing
 * does, else END_NONE. */
static int after_cr(struct tab_csv *r)
{
    int n = peek(r);

    if (n == '\n') {
        r->pos++;
        r->line++;
        return END_LINE;
    }
    return n == -1 ? END_EOF : END_NONE;
}

/* What the byte c (consumed) after a field makes: END_DELIM, END_LINE ("\n", "\r\n"),
 * END_EOF (a last "\r"), or END_NONE. */
static int end_of(struct tab_csv *r, int c)
{
    if (c == (unsigned char)r->o.delim) {
        return END_DELIM;
    }
    if (c == '\n') {
        r->line++;
        return END_LINE;
    }
    return c == '\r' ? after_cr(r) : END_NONE;
}

/* The error of a failed read inside the current field. */
static int read_error(const struct tab_csv *r, struct nn_err *err)
{
    return nn_err_set_at(err, NN_EIO, r->rec_line, (long)r->nf + 1, NULL, "read error on line %ld",
                         r->line);
}

/* Reads an unquoted field's bytes up to its terminator. @return END_* or an error. */
static int read_unquoted(struct tab_csv *r, struct nn_err *err)
{
    for (;;) {
        int rc = fill(r);
        if (rc < 0) {
            return read_error(r, err);
        }
        if (rc == 0) {
            return END_EOF;
        }
        const unsigned char *p = r->buf + r->pos;
        const unsigned char *e = r->buf + r->end;
        const unsigned char *q = p;
        while (q < e && !r->stop[*q]) {
            q++;
        }
        if (q > p) {
            int prc = field_put(r, p, (size_t)(q - p), err);
            if (prc != 0) {
                return prc;
            }
        }
        r->pos = (size_t)(q - r->buf);
        if (q == e) {
            continue;
        }
        unsigned char c = *q;
        r->pos++;
        int end = end_of(r, c);
        if (end != END_NONE) {
            return end;
        }
        /* a '\r' neither before '\n' nor at the end of the file is a plain byte */
        int prc = field_put(r, &c, 1, err);
        if (prc != 0) {
            return prc;
        }
    }
}

/* Reads a quoted field; the opening quote is consumed. @return END_* or an error. */
static int read_quoted(struct tab_csv *r, struct nn_err *err)
{
    long open_line = r->line;
    for (;;) {
        int rc = fill(r);
        if (rc < 0) {
            return read_error(r, err);
        }
        if (rc == 0) {
            return nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)r->nf + 1,
                                 colname_or_null(r, r->nf),
                                 "line %ld, column %zu: unclosed quote (opened on line %ld) at "
                                 "end of file",
                                 r->rec_line, r->nf + 1, open_line);
        }
        const unsigned char *p = r->buf + r->pos;
        const unsigned char *e = r->buf + r->end;
        const unsigned char *q = p;
        int nl = 0;
        while (q < e && *q != '"' && *q != '\n') {
            q++;
        }
        if (q < e && *q == '\n') {
            q++; /* keep the newline in the field */
            r->line++;
            nl = 1;
        }
        if (q > p) {
            int prc = field_put(r, p, (size_t)(q - p), err);
            if (prc != 0) {
                return prc;
            }
        }
        r->pos = (size_t)(q - r->buf);
        if (q == e || nl) {
            continue;
        }
        r->pos++; /* the quote */
        int n = peek(r);
        if (n == '"') {
            r->pos++;
            unsigned char dq = '"';
            int prc = field_put(r, &dq, 1, err);
            if (prc != 0) {
                return prc;
            }
            continue;
        }
        if (n == -1) {
            return END_EOF;
        }
        if (n == -2) {
            return nn_err_set(err, NN_EIO, "read error on line %ld", r->line);
        }
        r->pos++;
        int end = end_of(r, n);
        if (end != END_NONE) {
            return end;
        }
        return nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)r->nf + 1,
                             colname_or_null(r, r->nf),
                             "line %ld, column %zu: unexpected character after a closing quote",
                             r->rec_line, r->nf + 1);
    }
}

/* Consumes one line end at the read position if there is one. @return 1 if it did. */
static int eat_newline(struct tab_csv *r)
{
    int c = peek(r);
    if (c == '\n') {
        r->pos++;
        r->line++;
        return 1;
    }
    if (c == '\r') {
        /* CRLF, or a lone CR at the start of a line (counted as a line end) */
        r->pos++;
        if (peek(r) == '\n') {
            r->pos++;
        }
        r->line++;
        return 1;
    }
    return 0;
}

/*
 * Reads one record into r->rec. Blank lines followed only by blank lines up to the end of
 * file are not records; a blank line anywhere else is an error.
 * @return 1 a record, 0 end of file, or an error.
 */
static int read_record(struct tab_csv *r, size_t limit, int header, struct nn_err *err)
{
    r->nf = 0;
    r->rec_len = 0;
    r->rec_line = r->line;
    int c = peek(r);
    if (c == -2) {
        return nn_err_set_at(err, NN_EIO, r->line, 0, NULL, "read error on line %ld", r->line);
    }
    if (c == -1) {
        return 0;
    }
    long blank_line = r->line;
    int blanks = 0;
    while (eat_newline(r)) {
        blanks++;
    }
    if (blanks > 0) {
        c = peek(r);
        if (c == -1) {
            return 0;
        }
        return nn_err_set_at(err, NN_EFORMAT, blank_line, 1, NULL,
                             "line %ld: blank line (a record needs %zu field%s)", blank_line,
                             header ? (size_t)1 : r->ncols, r->ncols == 1 ? "" : "s");
    }
    for (;;) {
        int rc2;
        int rc = field_start(r, limit, header, err);
        if (rc != 0) {
            return rc;
        }
        c = peek(r);
        if (c == '"') {
            r->pos++;
            rc = read_quoted(r, err);
        } else {
            rc = read_unquoted(r, err);
        }
        if (rc < 0) {
            return rc;
        }
        if (field_end(r, err) != 0) {
            return NN_ENOMEM;
        }
        rc2 = field_check(r, err);
        if (rc2 != 0) {
            return rc2;
        }
        if (rc != END_DELIM) {
            return 1;
        }
    }
}

/* ==========================================================================================
 * Public interface
 */
int tab_csv_open(FILE *f, const struct tab_csv_opts *o, struct tab_csv **out, struct nn_err *err)
{
    struct tab_csv *r = NULL;
    int rc;
    *out = NULL;
    struct tab_csv_opts d;
    if (o == NULL) {
        tab_csv_opts_default(&d);
        o = &d;
    }
    if (f == NULL) {
        return nn_err_set(err, NN_EINVAL, "no input stream");
    }
    if (o->delim != ',' && o->delim != ';' && o->delim != '\t') {
        return nn_err_set(err, NN_EINVAL, "delimiter must be ',', ';' or tab");
    }
    if (o->max_cols == 0 || o->max_field == 0 || o->max_cols > SIZE_MAX / 4) {
        return nn_err_set(err, NN_EINVAL, "csv limits must be positive");
    }
    r = nn_calloc(1, sizeof(*r));
    if (r == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory opening csv");
    }
    r->f = f;
    r->o = *o;
    r->line = 1;
    r->stop[(unsigned char)o->delim] = 1;
    r->stop['\n'] = 1;
    r->stop['\r'] = 1;
    r->buf = nn_malloc(CSV_BUFSZ);
    if (r->buf == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory opening csv");
        goto fail;
    }
    long start = ftell(f);
    r->base_off = start >= 0 ? (long long)start : -1;
    /* a UTF-8 byte order mark */
    rc = fill(r);
    if (rc < 0) {
        rc = nn_err_set_at(err, NN_EIO, 1, 0, NULL, "read error on line 1");
        goto fail;
    }
    if (r->end - r->pos >= 3 && r->buf[0] == 0xEF && r->buf[1] == 0xBB && r->buf[2] == 0xBF) {
        r->pos = 3;
    }
    rc = read_record(r, o->max_cols, 1, err);
    if (rc < 0) {
        goto fail;
    }
    if (rc == 0) {
        rc = nn_err_set_at(err, NN_EFORMAT, 1, 1, NULL, "empty file: no header row");
        goto fail;
    }
    r->ncols = r->nf;
    r->names = nn_calloc(r->ncols, sizeof(char *));
    if (r->names == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the csv header");
        goto fail;
    }
    for (size_t i = 0; i < r->ncols; i++) {
        const char *name = r->rec + r->foff[i];
        /* the first column may be unnamed: R's write.csv and pandas' to_csv write the row
           names / index there under an empty header */
        if (r->flen[i] == 0 && (i > 0 || r->ncols == 1)) {
            rc = nn_err_set_at(err, NN_EFORMAT, 1, (long)i + 1, NULL,
                               "line 1, column %zu: empty header name", i + 1);
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(r->names[j], name) == 0) {
                rc = nn_err_set_at(err, NN_EFORMAT, 1, (long)i + 1, name,
                                   "line 1, column %zu: duplicate header name '%.64s' (also "
                                   "column %zu)",
                                   i + 1, name, j + 1);
                goto fail;
            }
        }
        r->names[i] = nn_strdup(name);
        if (r->names[i] == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the csv header");
            goto fail;
        }
    }
    r->data_off = r->base_off >= 0 ? r->base_off + (long long)r->pos : -1;
    r->data_line = r->line;
    *out = r;
    return 0;
fail:
    tab_csv_close(r);
    return rc;
}

void tab_csv_close(struct tab_csv *r)
{
    if (r == NULL) {
        return;
    }
    nn_free_strv(r->names, r->ncols);
    nn_free(r->buf);
    nn_free(r->rec);
    nn_free(r->foff);
    nn_free(r->flen);
    nn_free(r);
}

size_t tab_csv_ncols(const struct tab_csv *r)
{
    return r->ncols;
}

const char *tab_csv_colname(const struct tab_csv *r, size_t i)
{
    return i < r->ncols ? r->names[i] : NULL;
}

long tab_csv_find(const struct tab_csv *r, const char *name)
{
    for (size_t i = 0; i < r->ncols; i++) {
        if (strcmp(r->names[i], name) == 0) {
            return (long)i;
        }
    }
    return -1;
}

int tab_csv_next(struct tab_csv *r, struct nn_err *err)
{
    if (r->failed != 0) {
        return nn_err_set(err, r->failed, "csv reader stopped at an earlier error");
    }
    int rc = read_record(r, r->ncols, 0, err);
    if (rc == 0) {
        if (r->rows == 0 && !r->o.allow_no_rows) {
            rc = nn_err_set_at(err, NN_EFORMAT, r->line, 1, NULL,
                               "line %ld: no data rows after the header", r->line);
            r->failed = rc;
        }
        return rc;
    }
    if (rc < 0) {
        r->failed = rc;
        return rc;
    }
    if (r->nf < r->ncols) {
        rc = nn_err_set_at(err, NN_EFORMAT, r->rec_line, (long)r->nf + 1, r->names[r->nf],
                           "line %ld: too few fields (%zu of %zu; '%.64s' is missing)", r->rec_line,
                           r->nf, r->ncols, r->names[r->nf]);
        r->failed = rc;
        return rc;
    }
    if (r->rows >= r->o.max_rows) {
        rc = nn_err_set_at(err, NN_ERANGE, r->rec_line, 1, NULL,
                           "line %ld: more than %zu data rows", r->rec_line, r->o.max_rows);
        r->failed = rc;
        return rc;
    }
    r->rows++;
    return 1;
}

const char *tab_csv_field(const struct tab_csv *r, size_t i, size_t *len)
{
    if (i >= r->nf) {
        if (len != NULL) {
            *len = 0;
        }
        return NULL;
    }
    if (len != NULL) {
        *len = r->flen[i];
    }
    return r->rec + r->foff[i];
}

long tab_csv_line(const struct tab_csv *r)
{
    return r->rec_line;
}

size_t tab_csv_rows(const struct tab_csv *r)
{
    return r->rows;
}

int tab_csv_rewind(struct tab_csv *r, struct nn_err *err)
{
    if (r->data_off < 0 || fseeko(r->f, (off_t)r->data_off, SEEK_SET) != 0) {
        return nn_err_set(err, NN_EIO, "the csv stream cannot be rewound");
    }
    clearerr(r->f);
    r->base_off = r->data_off;
    r->pos = r->end = 0;
    r->eof = 0;
    r->line = r->data_line;
    r->rec_line = r->data_line;
    r->rows = 0;
    r->nf = 0;
    r->failed = 0;
    return 0;
}
