/*
 * schema: decides what each CSV column is — numeric, categorical or text (or ignored) — and
 * what the task is, from one pass over the data, with caller overrides.
 *
 * A cell is missing when it is empty or a missing-value marker (tab/na.h); markers never decide
 * a type. Numeric: every non-missing cell parses as a finite number. Categorical: strings with
 * few distinct values (<= 64 and short). Text: long or many-valued strings. Ignored by
 * default: a constant column, a column with no value, and an identifier — every non-missing
 * value distinct, at least TAB_SCHEMA_ID_MIN_ROWS of them, and either strings of at most two
 * words (e-mail addresses, timestamps, names) or integers forming a row id (in a column named
 * "", "id", "index", "Unnamed: N" or "*_id", or consecutive in the first column). Overrides win
 * over all of it. The label decides the task: strings, or integers with few distinct values (<= 20)
 * = classification, classes kept sorted (byte order; numeric labels in numeric order), always as
 * written in the CSV; otherwise regression. Rows with an empty label are an error. Does not: fit
 * anything (see features). Thread-safety: a schema is immutable once made.
 */
#ifndef NEUROND_TAB_SCHEMA_H
#define NEUROND_TAB_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"
#include "tab/csv.h"
#include "tab/na.h"

#define TAB_SCHEMA_MAX_CATEGORIES  64    /* inferred categorical: at most this many values */
#define TAB_SCHEMA_MAX_CAT_LEN     64    /* ... each at most this many bytes */
#define TAB_SCHEMA_MAX_FORCED_CATS 10000 /* a column forced categorical */
#define TAB_SCHEMA_MAX_INT_CLASSES 20    /* integer labels with more values: regression */
#define TAB_SCHEMA_MAX_CLASSES     1000  /* classification labels */
#define TAB_SCHEMA_ID_MIN_ROWS     10    /* fewer non-missing values: never an identifier */
#define TAB_SCHEMA_MAX_DISTINCT                                                                    \
    65536 /* distinct values counted exactly per column (more                                      \
             while no value has repeated: up to 2^20) */

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
    const struct tab_na *na; /* missing-value markers; NULL: tab_na_default() */
};

struct tab_column {
    char *name;
    enum tab_col_type type;
    size_t n_categories; /* categorical: distinct values seen (sorted byte order) */
    char **categories;
    size_t n_missing;    /* empty or marker cells */
    size_t n_distinct;   /* distinct non-missing values (a lower bound when distinct_capped) */
    int distinct_capped; /* more distinct values than were counted */
    const char *reason;  /* why this type (or why ignored); a static string */
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
    struct tab_na na;        /* the markers the cells were read with */
};

/** Name of a column type ("numeric", ...). */
const char *tab_col_type_name(enum tab_col_type t);

/**
 * Reads every record of r (from its current position to the end) and infers the schema.
 * Errors: unknown column named in an override or label (err->field), a missing label cell
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
