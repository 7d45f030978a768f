/*
 * cmd_split: `neurond split DATA.csv TRAIN.csv TEST.csv [--test 0.2] [--seed 42]
 * [--label COL]` — a reproducible train/test split, stratified by the label when it has few
 * distinct values (classification), plain random otherwise. Two streaming passes over the
 * input; rows are written back byte-compatible (RFC 4180 quoting where needed).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "nn/alloc.h"
#include "nn/rng.h"
#include "nn/train.h"
#include "tab/csv.h"

#define MAX_STRATA 256

struct split {
    char **names; /* distinct label values, up to MAX_STRATA */
    int n_names;
    float *cls; /* per row: stratum index */
    size_t rows, cap;
    int many; /* more than MAX_STRATA distinct values: no stratification */
};

static int stratum(struct split *s, const char *v)
{
    int i;

    for (i = 0; i < s->n_names; i++) {
        if (strcmp(s->names[i], v) == 0) {
            return i;
        }
    }
    if (s->n_names == MAX_STRATA) {
        s->many = 1;
        return 0;
    }
    s->names[s->n_names] = nn_strdup(v);
    if (s->names[s->n_names] == NULL) {
        return -1;
    }
    return s->n_names++;
}

static int write_row(FILE *out, const struct tab_csv *r, char delim)
{
    size_t i, n = tab_csv_ncols(r), len;

    for (i = 0; i < n; i++) {
        const char *v = tab_csv_field(r, i, &len);

        if ((i > 0 && fputc(delim, out) == EOF) || tab_csv_write_field(out, v, len, delim) != 0) {
            return -1;
        }
    }
    return fputc('\n', out) == EOF ? -1 : 0;
}

static int write_header(FILE *out, const struct tab_csv *r, char delim)
{
    size_t i, n = tab_csv_ncols(r);

    for (i = 0; i < n; i++) {
        const char *v = tab_csv_colname(r, i);

        if ((i > 0 && fputc(delim, out) == EOF) ||
            tab_csv_write_field(out, v, strlen(v), delim) != 0) {
            return -1;
        }
    }
    return fputc('\n', out) == EOF ? -1 : 0;
}

/* The command line of `neurond split`. */
struct split_args {
    const char *files[3]; /* DATA, TRAIN, TEST */
    const char *label;
    double test;
    unsigned long long seed;
    struct tab_csv_opts o;
};

/* Parses the command line into a; 0, or -1 after the usage or the bad option was printed. */
static int parse_args(int argc, char **argv, struct split_args *a)
{
    int nf = 0;

    memset(a, 0, sizeof(*a));
    a->test = 0.2;
    a->seed = 42;
    tab_csv_opts_default(&a->o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--test") == 0 && i + 1 < argc) {
            char *end;

            a->test = strtod(argv[++i], &end);
            if (*end != '\0' || !(a->test > 0 && a->test < 1)) {
                fputs("neurond: --test takes a fraction between 0 and 1\n", stderr);
                return -1;
            }
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            a->seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc) {
            a->label = argv[++i];
        } else if (strcmp(argv[i], "--delimiter") == 0 && i + 1 < argc) {
            int d = cli_delimiter(argv[++i]);

            if (d < 0) {
                return -1;
            }
            a->o.delim = (char)d;
        } else if (argv[i][0] != '-' && nf < 3) {
            a->files[nf++] = argv[i];
        } else {
            nf = 4;
            break;
        }
    }
    if (nf != 3) {
        fputs("usage: neurond split DATA.csv TRAIN.csv TEST.csv [--test 0.2] [--seed 42] "
              "[--label COL]\n",
              stderr);
        return -1;
    }
    return 0;
}

int cli_split(int argc, char **argv)
{
    struct split_args a;
    struct tab_csv *r = NULL;
    struct split s;
    struct nn_err err;
    struct nn_rng rng;
    size_t *tr = NULL, *te = NULL, n_tr = 0, n_te = 0, i;
    unsigned char *is_test = NULL;
    FILE *in = NULL, *out_tr = NULL, *out_te = NULL;
    long col;
    int rc = CLI_OK, got;

    memset(&s, 0, sizeof(s));
    nn_err_clear(&err);
    if (parse_args(argc, argv, &a) != 0) {
        return CLI_USAGE;
    }
    in = fopen(a.files[0], "rb");
    if (in == NULL) {
        nn_err_set(&err, NN_EIO, "cannot open: %s", strerror(errno));
        return cli_fail(&err, a.files[0]);
    }
    if (tab_csv_open(in, &a.o, &r, &err) != 0) {
        rc = cli_fail(&err, a.files[0]);
        goto done;
    }
    col = a.label != NULL ? tab_csv_find(r, a.label) : (long)tab_csv_ncols(r) - 1;
    if (col < 0) {
        nn_err_set_at(&err, NN_EINVAL, 1, 0, a.label, "no column '%s'", a.label);
        rc = cli_fail(&err, a.files[0]);
        goto done;
    }
    s.names = nn_calloc(MAX_STRATA, sizeof(char *));
    if (s.names == NULL) {
        goto oom;
    }
    while ((got = tab_csv_next(r, &err)) == 1) {
        size_t len;
        int k = stratum(&s, tab_csv_field(r, (size_t)col, &len));

        if (k < 0) {
            goto oom;
        }
        if (s.rows == s.cap) {
            size_t nc = s.cap ? s.cap * 2 : 4096;
            float *c = nn_reallocarray(s.cls, nc, sizeof(float));

            if (c == NULL) {
                goto oom;
            }
            s.cls = c;
            s.cap = nc;
        }
        s.cls[s.rows++] = (float)k;
    }
    if (got < 0) {
        rc = cli_fail(&err, a.files[0]);
        goto done;
    }
    tr = nn_calloc(s.rows, sizeof(size_t));
    te = nn_calloc(s.rows, sizeof(size_t));
    is_test = nn_calloc(s.rows, 1);
    if (tr == NULL || te == NULL || is_test == NULL) {
        goto oom;
    }
    nn_rng_seed(&rng, a.seed);
    if (nn_train_split_stratified(s.cls, s.rows, s.many ? 0 : s.n_names, a.test, &rng, tr, &n_tr,
                                  te, &n_te, &err) != 0) {
        rc = cli_fail(&err, a.files[0]);
        goto done;
    }
    for (i = 0; i < n_te; i++) {
        is_test[te[i]] = 1;
    }
    out_tr = fopen(a.files[1], "wb");
    out_te = fopen(a.files[2], "wb");
    if (out_tr == NULL || out_te == NULL || tab_csv_rewind(r, &err) != 0) {
        nn_err_set(&err, NN_EIO, "cannot write the output files");
        rc = cli_fail(&err, out_tr == NULL ? a.files[1] : a.files[2]);
        goto done;
    }
    if (write_header(out_tr, r, a.o.delim) != 0 || write_header(out_te, r, a.o.delim) != 0) {
        goto wfail;
    }
    for (i = 0; (got = tab_csv_next(r, &err)) == 1; i++) {
        if (write_row(is_test[i] ? out_te : out_tr, r, a.o.delim) != 0) {
            goto wfail;
        }
    }
    if (fclose(out_tr) != 0) {
        out_tr = NULL;
        goto wfail;
    }
    out_tr = NULL;
    if (fclose(out_te) != 0) {
        out_te = NULL;
        goto wfail;
    }
    out_te = NULL;
    fprintf(stderr, "%zu rows: %zu train, %zu test%s\n", s.rows, n_tr, n_te,
            s.many ? " (not stratified: many label values)" : " (stratified by label)");
    goto done;
oom:
    nn_err_set(&err, NN_ENOMEM, "out of memory");
    rc = cli_fail(&err, a.files[0]);
    goto done;
wfail:
    nn_err_set(&err, NN_EIO, "write error");
    rc = cli_fail(&err, a.files[1]);
done:
    if (out_tr != NULL) {
        fclose(out_tr);
    }
    if (out_te != NULL) {
        fclose(out_te);
    }
    nn_free_strv(s.names, (size_t)s.n_names);
    nn_free(s.cls);
    nn_free(tr);
    nn_free(te);
    nn_free(is_test);
    tab_csv_close(r);
    fclose(in);
    return rc;
}
