/*
 * predict_read: see predict_read.h. A cursor over the bytes with one function per piece of
 * the grammar; each returns 0 at the first byte that is not the common shape. Numbers are
 * checked against RFC 8259's grammar as they are scanned; short ones convert by the same exact
 * fast path as tab_schema_parse_number (the parser of CSV cells), the rest by that function,
 * so a value reads the same from a JSON body as from a CSV file, and as cJSON reads it.
 */
#include "predict_read.h"

#include <stdint.h>
#include <string.h>

#include "nn/alloc.h"
#include "tab/schema.h"

struct cur {
    const char *p, *end;
};

static void skip_ws(struct cur *c)
{
    if (c->p < c->end && (unsigned char)*c->p > ' ') {
        return; /* the usual case, one test */
    }
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

/* Takes the character ch after optional white space. */
static int take(struct cur *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* The literal true (1) or false (0) after optional white space into *v; -1 for anything else
 * (the general way reads every other "explain"). */
static int read_bool(struct cur *c, int *v)
{
    skip_ws(c);
    if (c->end - c->p >= 4 && memcmp(c->p, "true", 4) == 0) {
        c->p += 4;
        *v = 1;
        return 1;
    }
    if (c->end - c->p >= 5 && memcmp(c->p, "false", 5) == 0) {
        c->p += 5;
        *v = 0;
        return 1;
    }
    return 0;
}

/* A string of printable bytes other than '\\' (UTF-8 passes through), copied into buf. */
static int read_str(struct cur *c, char *buf, size_t cap)
{
    size_t n = 0;

    if (!take(c, '"')) {
        return 0;
    }
    while (c->p < c->end && *c->p != '"') {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '\\' || ch < 0x20 || n + 1 >= cap) {
            return 0;
        }
        buf[n++] = (char)ch;
        c->p++;
    }
    if (c->p >= c->end) {
        return 0;
    }
    c->p++;
    buf[n] = '\0';
    return 1;
}

static int is_digit(char ch)
{
    return (unsigned char)(ch - '0') <= 9;
}

/* A number in JSON's grammar (-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?), in float range.
 * One pass: up to 15 digits and no exponent (what clients send) convert by
 * tab_schema_exact_decimal, as tab_schema_parse_number's own fast path does; the rest goes
 * through tab_schema_parse_number. */
static int read_num(struct cur *c, double *v)
{
    const char *s, *q, *end = c->end;
    uint64_t m = 0;
    long n_digits = 0, n_frac = 0;
    int exact = 1;

    skip_ws(c);
    s = q = c->p;
    if (q < end && *q == '-') {
        q++;
    }
    if (q >= end || !is_digit(*q)) {
        return 0;
    }
    if (*q == '0') { /* no leading zeros: "0", "0.5", never "01" */
        q++;
        n_digits = 1;
    } else {
        const char *i = q;
        for (; q < end && is_digit(*q); q++) {
            m = m * 10 + (uint64_t)(*q - '0'); /* wraps past 19 digits: then unused */
        }
        n_digits = q - i;
    }
    if (q < end && *q == '.') {
        const char *f = ++q;
        for (; q < end && is_digit(*q); q++) {
            m = m * 10 + (uint64_t)(*q - '0');
        }
        n_frac = q - f;
        if (n_frac == 0) {
            return 0;
        }
        n_digits += n_frac;
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < end && (*q == '+' || *q == '-')) {
            q++;
        }
        const char *e = q;
        while (q < end && is_digit(*q)) {
            q++;
        }
        if (q == e) {
            return 0;
        }
        exact = 0;
    }
    if (exact && n_digits <= 15) {
        *v = tab_schema_exact_decimal(m, (int)n_frac, *s == '-');
    } else {
        char buf[64];
        if ((size_t)(q - s) >= sizeof(buf)) {
            return 0; /* 64 characters: rare enough for the general way */
        }
        memcpy(buf, s, (size_t)(q - s));
        buf[q - s] = '\0';
        if (tab_schema_parse_number(buf, v) != 1) {
            return 0;
        }
    }
    c->p = q;
    return 1;
}

/* Room for one more value. */
static int grow(struct srv_predict_doc *d, size_t n)
{
    if (n < d->cap) {
        return 1;
    }
    size_t cap = 2 * d->cap;
    double *x = nn_malloc(cap * sizeof(double));
    if (x == NULL) {
        return 0;
    }
    memcpy(x, d->x, n * sizeof(double));
    if (d->x != d->inline_x) {
        nn_free(d->x);
    }
    d->x = x;
    d->cap = cap;
    return 1;
}

/* [[n, ...], ...]: at least one row, every row as wide as the first, none empty. */
static int read_rows(struct cur *c, struct srv_predict_doc *d)
{
    size_t n = 0;

    if (!take(c, '[')) {
        return 0;
    }
    do {
        size_t w = 0;
        if (!take(c, '[')) {
            return 0;
        }
        do {
            if (!grow(d, n) || !read_num(c, &d->x[n])) {
                return 0;
            }
            n++;
            w++;
        } while (take(c, ','));
        if (!take(c, ']') || (d->rows > 0 && w != d->width)) {
            return 0;
        }
        d->width = w;
        d->rows++;
    } while (take(c, ','));
    return take(c, ']');
}

int srv_predict_read(const char *body, size_t len, struct srv_predict_doc *d)
{
    struct cur c = {body, body + len};
    char key[16];
    double v = 0;
    int has_model = 0, has_rows = 0, has_explain = 0;

    d->model[0] = '\0';
    d->explain = 0;
    d->has_version = 0;
    d->version = 0;
    d->rows = d->width = 0;
    d->x = d->inline_x;
    d->cap = SRV_PREDICT_INLINE;
    if (body == NULL || !take(&c, '{')) {
        return 0;
    }
    do {
        if (!read_str(&c, key, sizeof(key)) || !take(&c, ':')) {
            return 0;
        }
        if (strcmp(key, "model") == 0 && !has_model) {
            has_model = read_str(&c, d->model, sizeof(d->model));
            if (!has_model) {
                return 0;
            }
        } else if (strcmp(key, "version") == 0 && !d->has_version) {
            /* the general way's rule: a whole number in [1, 1e9] */
            if (!read_num(&c, &v) || v < 1 || v > 1e9 || v != (double)(int)v) {
                return 0;
            }
            d->has_version = 1;
            d->version = (int)v;
        } else if (strcmp(key, "explain") == 0 && !has_explain) {
            has_explain = read_bool(&c, &d->explain);
            if (!has_explain) {
                return 0;
            }
        } else if (strcmp(key, "instances") == 0 && !has_rows) {
            has_rows = read_rows(&c, d);
            if (!has_rows) {
                return 0;
            }
        } else {
            return 0;
        }
    } while (take(&c, ','));
    if (!take(&c, '}')) {
        return 0;
    }
    skip_ws(&c);
    return c.p == c.end && has_rows;
}

void srv_predict_doc_fini(struct srv_predict_doc *d)
{
    if (d->x != NULL && d->x != d->inline_x) {
        nn_free(d->x);
    }
    d->x = NULL;
}
