/*
 * fuzz_csv: libFuzzer target for the CSV reader, then schema inference and feature fitting
 * over whatever the reader accepted. The first input byte picks the delimiter and the limits
 * (so small limits are reached too), and whether the first line is a na_values list (the
 * missing-value markers, tab/na.h) and the mean imputes; the rest is the file, read through
 * fmemopen as the daemon reads an upload. Any crash, leak, sanitizer report or broken invariant is
 * a bug. Build: make build/fuzz/fuzz_csv (make fuzz-build builds every target); run:
 *   build/fuzz/fuzz_csv -max_total_time=60 build/fuzz_corpus tests/fuzz/corpus_csv
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/train.h"
#include "tab/csv.h"
#include "tab/features.h"
#include "tab/na.h"
#include "tab/schema.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Text inputs get the daemon's decoder (model/text_decoder.h): raw e-mail goes through mail/
   (GMime), which sets itself up. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    data++;
    size--;
    /* mode & 64: the first line is a na_values list; one the parser refuses ends the run */
    struct tab_na na = *tab_na_default();
    if (mode & 64) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t n = nl != NULL ? (size_t)(nl - data) : size;
        char spec[TAB_NA_MAX_SPEC + 1];
        if (n > TAB_NA_MAX_SPEC) {
            return 0;
        }
        memcpy(spec, data, n);
        spec[n] = '\0';
        if (tab_na_parse(spec, &na, NULL) != 0) {
            return 0;
        }
        for (int i = 0; i < na.n; i++) {
            if (!tab_na_is(&na, na.items[i])) {
                abort(); /* every marker of a list is missing by that list */
            }
        }
        data += nl != NULL ? n + 1 : n;
        size -= nl != NULL ? n + 1 : n;
    }
    struct tab_csv_opts o;
    tab_csv_opts_default(&o);
    o.delim = (mode & 3) == 1 ? ';' : (mode & 3) == 2 ? '\t' : ',';
    if (mode & 4) {
        o.max_field = 8;
        o.max_cols = 4;
        o.max_rows = 8;
    }
    o.allow_no_rows = (mode & 8) != 0;
    /* fmemopen needs a non-empty buffer it may not write to */
    char *copy = malloc(size + 1);
    if (copy == NULL) {
        return 0;
    }
    memcpy(copy, data, size);
    copy[size] = '\0';
    FILE *f = fmemopen(copy, size ? size : 1, "r");
    if (f == NULL) {
        free(copy);
        return 0;
    }
    if (size == 0) {
        fgetc(f); /* an empty stream */
    }
    struct tab_csv *r = NULL;
    struct tab_schema *s = NULL;
    struct tab_features *feat = NULL;
    struct nn_dataset ds;
    memset(&ds, 0, sizeof(ds));
    struct nn_err err;
    if (tab_csv_open(f, &o, &r, &err) != 0) {
        if (r != NULL || err.line < 0 || err.code >= 0) {
            abort();
        }
        goto done;
    }
    struct tab_schema_opts so = {NULL, (mode & 16) ? NN_TASK_REGRESSION : -1, NULL, NULL, NULL,
                                 &na};
    if (tab_schema_infer(r, &so, &s, &err) != 0) {
        if (s != NULL) {
            abort();
        }
        goto done;
    }
    if (s->rows != tab_csv_rows(r) || s->n_cols != tab_csv_ncols(r)) {
        abort();
    }
    for (size_t i = 0; i < s->rows; i++) {
        if (s->task != NN_TASK_REGRESSION &&
            (s->labels[i] < 0 || s->labels[i] >= (float)s->n_classes)) {
            abort();
        }
    }
    unsigned char *tr = malloc(s->rows + 1);
    if (tr == NULL) {
        goto done;
    }
    for (size_t i = 0; i < s->rows; i++) {
        tr[i] = (unsigned char)(i % 3 != 2 || (mode & 32));
    }
    struct tab_feat_opts fo = {model_text_decoder_default(),
                               (mode & 128) ? TAB_FEAT_IMPUTE_MEAN : TAB_FEAT_IMPUTE_MEDIAN};
    if (tab_features_fit_opts(r, s, tr, &fo, &feat, &ds, &err) == 0) {
        for (size_t i = 0; i < ds.rows * (size_t)ds.dense_cols; i++) {
            if (!isfinite(ds.dense[i])) {
                abort(); /* a missing cell is filled, never NaN */
            }
        }
        if (ds.rows != s->rows) {
            abort();
        }
        for (size_t i = 0; ds.sparse_cols > 0 && i < ds.rows; i++) {
            for (size_t k = ds.indptr[i]; k < ds.indptr[i + 1]; k++) {
                if (ds.indices[k] < 0 || ds.indices[k] >= ds.sparse_cols ||
                    (k > ds.indptr[i] && ds.indices[k] <= ds.indices[k - 1])) {
                    abort();
                }
            }
        }
        /* the binary form must load back */
        struct tab_buf b;
        tab_buf_init(&b, 1 << 24);
        if (tab_features_save(feat, &b) == 0) {
            struct tab_rd rd;
            struct tab_features *g = NULL;
            tab_rd_init(&rd, b.data, b.len);
            if (tab_features_load(&rd, model_text_decoder_find, &g, &err) != 0) {
                fprintf(stderr, "saved pipeline does not load: %s\n", err.msg);
                abort();
            }
            tab_features_free(g);
        }
        tab_buf_fini(&b);
    }
    free(tr);
done:
    tab_features_free(feat);
    nn_dataset_free(&ds);
    tab_schema_free(s);
    tab_csv_close(r);
    fclose(f);
    free(copy);
    return 0;
}
