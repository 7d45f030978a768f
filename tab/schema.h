/*
 * schema: decides what each CSV column is — numeric, categorical or text (or ignored) — and
 * what the task is, from one pass over the data, with caller overrides.
 *
 * Numeric: every non-empty cell parses as a finite number (empty = missing). Categorical:
 * strings with few distinct values (<= 64 and short). Text: long or many-valued strings.
 * The label decides the task: strings, or integers with few distinct values (<= 20) =
 * classification, classes kept sorted (byte order; numeric labels in numeric order), always
 * as written in the CSV; otherwise regression. Rows with an empty label are an error.
 * Does not: fit anything (see features).
 * Thread-safety: a schema is immutable once made.
 */
#ifndef NEUROND_TAB_SCHEMA_H
#define NEUROND_TAB_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"
#include "tab/csv.h"

#define TAB_SCHEMA_MAX_CATEGORIES  64    /* inferred categorical: at most this many values */
#define TAB_SCHEMA_MAX_CAT_LEN     64    /* ... each at most this many bytes */
#define TAB_SCHEMA_MAX_FORCED_CATS 10000 /* a column forced categorical */
#define TAB_SCHEMA_MAX_INT_CLASSES 20    /* integer labels with more values: regression */
#define TAB_SCHEMA_MAX_CLASSES     1000  /* classification labels */

enum tab_col_type {
    TAB_COL_NUMERIC = 0,
    TAB_COL_CATEGORICAL = 1,
    TAB_COL_TEXT = 2,
    TAB_COL_IGNORED = 3
};

struct tab_schema_opts {
    const char *label;        /* NULL: the last column */
    int task;                 /* -1 infer; 0 binary/multiclass ("classification");
                                 2 regression (NN_TASK_REGRESSION) */
    const char *text_columns; /* comma-separated names, NULL for none */
    const char *categorical_columns;
    const char *ignore_columns;
};

struct tab_column {
    char *name;
    enum tab_col_type type;
    size_t n_categories; /* categorical: distinct values seen (sorted byte order) */
    char **categories;
};

struct tab_schema {
    size_t n_cols;
    struct tab_column *cols; /* in CSV order, the label included */
    size_t label;            /* index of the label column */
    int task;                /* NN_TASK_BINARY, NN_TASK_MULTICLASS or NN_TASK_REGRESSION */
    int n_classes;           /* 0 for regression */
    char **classes;          /* sorted class names */
    size_t rows;             /* data rows */
    float *labels;           /* rows entries: class index, or the raw target (regression) */
};

/** Name of a column type ("numeric", ...). */
const char *tab_col_type_name(enum tab_col_type t);

/**
 * Reads every record of r (from its current position to the end) and infers the schema.
 * Errors: unknown column named in an override or label (err->field), empty label cell
 * (line), a label with one class only, a non-numeric cell in a forced-regression label.
 * @return 0 or an error. Ownership: *out new; tab_schema_free. NULL on failure.
 */
int tab_schema_infer(struct tab_csv *r, const struct tab_schema_opts *o, struct tab_schema **out,
                     struct nn_err *err);

/** Frees a schema. NULL-safe. */
void tab_schema_free(struct tab_schema *s);

/**
 * Parses a cell as a number the way schema and features both do: surrounding blanks are
 * ignored, the rest must be a whole decimal strtod number within float range (|v| <= FLT_MAX:
 * features and labels are float32); "nan", "inf" and hex are not numbers.
 * @param v [out] the value, written when the cell is a number.
 * @return 1 a number, 0 missing (empty or blank), -1 not a number.
 */
int tab_schema_parse_number(const char *s, double *v);
/**
 * The value of the decimal m / 10^frac (negated when negative), correctly rounded — strtod's
 * result for the same digits — when the decimal has at most 15 digits (m < 10^15, frac <= 15).
 */
double tab_schema_exact_decimal(uint64_t m, int frac, int negative);

/** Class index of a label text, or -1. */
int tab_schema_class_index(const struct tab_schema *s, const char *text);

#endif
