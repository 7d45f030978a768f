/*
 * model_priv: the layout of struct model, shared by the model module's files only (model.c,
 * model_train.c, model_predict.c, model_card.c, model_io.c ...). Not installed, not for
 * server/ or cli/: they use the accessors of model.h.
 */
#ifndef NEUROND_MODEL_MODEL_PRIV_H
#define NEUROND_MODEL_MODEL_PRIV_H

#include <stdio.h>

#include "model/auto.h"
#include "model/model.h"
#include "nn/net.h"
#include "tab/buf.h"
#include "tab/csv.h"
#include "tab/features.h"
#include "tab/schema.h"

struct model_metrics {
    double accuracy; /* classification; NaN otherwise */
    double log_loss; /* classification: validation log loss */
    double auc;      /* binary only; NaN otherwise */
    double rmse;     /* regression, label units */
    double mae;
    double loss; /* validation loss in training units (the early-stopping criterion) */
    int best_epoch;
    int epochs_run;
    size_t train_rows;
    size_t val_rows;
    double threshold;     /* decision threshold on P(positive class) */
    int threshold_source; /* MODEL_THRESHOLD_* */
};

#define MODEL_THRESHOLD_DEFAULT 0 /* 0.5 */
#define MODEL_THRESHOLD_PARAM   1 /* the threshold= parameter */
#define MODEL_THRESHOLD_FPR     2 /* chosen for target_fpr= on the validation split */

/* One CSV column as the schema saw it at training (the card's "columns"). */
struct model_column {
    char *name;
    int type; /* enum tab_col_type, or MODEL_COLUMN_LABEL */
    size_t n_missing, n_distinct;
    int distinct_capped;
    char *reason;
};
#define MODEL_COLUMN_LABEL 4

#define MODEL_MAX_NETS 16 /* networks of one ensemble, at most */
#define MODEL_ORIGIN   48 /* bytes of a member's origin, with its NUL */

/* How one network of the model was trained (the card's ensemble members). */
struct model_member {
    float l2;
    float learning_rate;
    int epochs;                /* epochs trained (the refit's count, or the best epoch) */
    char origin[MODEL_ORIGIN]; /* "refit on all rows", "holdout 2 of 5", "candidate 4" */
};

struct model {
    struct tab_features *feat;
    /* the networks behind the one pipeline; the served output is the mean of their outputs
       (probabilities or values). n_nets >= 1; n_nets == 1 is the ordinary model, and then
       member[0] and why are not stored. */
    struct nn_net *nets[MODEL_MAX_NETS];
    int n_nets;
    struct model_member member[MODEL_MAX_NETS];
    char *why;                  /* why these networks (NULL: none given) */
    struct model_params params; /* as used (label resolved) */
    struct model_metrics metrics;
    struct nn_epoch_stats *history;
    size_t n_history;
    char **ignored; /* columns ignored at training (resolved), n_ignored of them */
    size_t n_ignored;
    struct model_column *columns; /* every CSV column, n_columns (0 for blobs before v2) */
    size_t n_columns;
    float *baseline;   /* explanations' baseline: the training rows' mean encoded dense row
                          (feat->dense_dim floats); NULL when the model has none (blobs before
                          v3, imports without "baseline") */
    float *importance; /* permutation importance on the validation split (importance.c):
                          n_inputs x (mean drop, sd over MODEL_IMP_SHUFFLES shuffles); NULL
                          when not measured (blobs before v4, imports, no validation rows) */
    cJSON *warm;       /* a warm start: {base, initial_val_loss, rows}; NULL otherwise. In the
                          card only ("warm_start"), not in the blob. */
    cJSON *search;     /* auto: the search (plan, limits, leaderboard, why); NULL otherwise.
                          In the card only, not in the blob. */
};

/* A network of an ensemble beyond the first (whose layers and training are the params'). */
struct model_member_spec {
    int hidden[MODEL_MAX_HIDDEN];
    int n_hidden;
    float l2;
    float learning_rate;
    char origin[MODEL_ORIGIN];
};

/* Where a training runs its independent networks: exec (auto's executor: threads, the
   daemon's pool) with ud, or one after the other when exec is NULL. */
struct model_exec {
    model_auto_exec_fn exec;
    void *ud;
};

/** Runs fn(ctx, i) for every i in [0, n) through x (NULL or x->exec NULL: in order, here). */
void model_exec_run(const struct model_exec *x, size_t n, model_auto_unit_fn fn, void *ctx);

/**
 * model_train_csv with n_more networks beyond the first (0 to MODEL_MAX_NETS - 1) behind the
 * same pipeline: each trained on the training split with early stopping as the first is, the
 * validation metrics (and threshold) those of their mean, then each refitted on every row for
 * its best epoch when the first is. The networks of each stage train at once through x
 * (NULL: one after the other; the model is the same either way: each net has its own seed).
 * why (NULL: none) is the card's ensemble.why. cb is called from whichever thread trains the
 * first network. @return as model_train_csv.
 */
int model_train_members_csv(const char *path, const struct model_params *p,
                            const struct model_member_spec *more, int n_more, const char *why,
                            const struct model_limits *lim, const struct model_exec *x,
                            nn_progress_fn cb, void *ud, atomic_int *cancel, struct model **out,
                            struct nn_err *err);

/** The CSV reader options for delim and lim (lim NULL: the reader's defaults). */
void model_csv_opts(struct tab_csv_opts *o, char delim, const struct model_limits *lim);

/**
 * Opens path for reading as CSV with model_csv_opts. @return 0 or an error (NN_EIO when the file
 * cannot be opened); on success the caller closes *r (tab_csv_close) and then *fp (fclose).
 */
int model_csv_open(const char *path, char delim, const struct model_limits *lim, FILE **fp,
                   struct tab_csv **r, struct nn_err *err);

/**
 * Opens a training CSV and infers its schema with p's label, task, column lists and markers.
 * At least two data rows. @return 0 or an error; on success the caller closes *s
 * (tab_schema_free), *r (tab_csv_close) and *fp (fclose); all NULL on failure.
 */
int model_read_schema(const char *path, const struct model_params *p,
                      const struct model_limits *lim, FILE **fp, struct tab_csv **r,
                      struct tab_schema **s, struct nn_err *err);

/** The mini-batch for n_tr training rows: p's batch_size, or when not given
 *  min(batch_size, ceil(n_tr / 10)), at least 1. */
int model_batch_size(const struct model_params *p, size_t n_tr);

/** Allocates an empty model (all pointers NULL, metrics NaN). NULL when out of memory. */
struct model *model_alloc(void);

/** Task name for cards: "classification" or "regression". */
const char *model_task_name(int task);

/** Keeps every column of the schema (name, type, counts, reason) in m->columns.
 *  @return 0 or NN_ENOMEM. */
int model_columns_keep(struct model *m, const struct tab_schema *s);
/** Frees m->columns. */
void model_columns_free(struct model *m);
/** The card's "columns": [{name, type, missing, distinct, reason}]. New; NULL when OOM. */
cJSON *model_columns_json(const struct model *m);
/** Appends m->columns to b (blob version 2). */
void model_columns_put(struct tab_buf *b, const struct model *m);
/** Reads what model_columns_put wrote; every count checked first. */
int model_columns_get(struct tab_rd *rd, struct model *m, struct nn_err *err);

/**
 * Sets m->baseline to the mean of the dense block of ds (the training split after encoding).
 * @return 0 or NN_ENOMEM (m unchanged).
 */
int model_baseline_fit(struct model *m, const struct nn_dataset *ds);

#define MODEL_IMP_SHUFFLES 5 /* shuffles of each input for permutation importance */

/**
 * Measures permutation importance on the validation rows va with m's network (importance.c)
 * and keeps it in m->importance: per input, the mean drop of accuracy (classification) or rise
 * of RMSE in label units (regression) over MODEL_IMP_SHUFFLES shuffles, and its sd.
 * @param seed [in] the training seed (the shuffles draw from their own generator).
 * @return 0 (nothing measured with fewer than 2 rows) or NN_ENOMEM.
 */
int model_importance_fit(struct model *m, const struct nn_dataset *va, uint64_t seed,
                         struct nn_err *err);

/**
 * The card's "importance": {"method": "permutation", "metric": "accuracy" | "rmse", "split":
 * "validation", "shuffles", "inputs": [{"name", "mean", "sd"}] largest mean first}, or JSON
 * null when the model has none. Ownership: new; cJSON_Delete. NULL when out of memory.
 */
cJSON *model_importance_json(const struct model *m);

/**
 * Appends item to the JSON array a. @return a; NULL when item is NULL or cannot be added, and
 * then both a and item are freed (so a loop can run while the array is not NULL).
 */
cJSON *model_json_push(cJSON *a, cJSON *item);

/**
 * Runs every network of m on one encoded row and writes the mean of their outputs to raw
 * (nn_net_outputs floats). scratch holds model_net_scratch_len(m) floats.
 */
void model_nets_predict_row(const struct model *m, const float *dense, const int32_t *ind,
                            const float *val, size_t nnz, float *scratch, float *raw);

/** Floats of scratch model_nets_predict_row needs. */
size_t model_net_scratch_len(const struct model *m);

/**
 * The mean of the networks' outputs on every row of ds into out (rows x outputs floats).
 * @return 0 or NN_ENOMEM.
 */
int model_nets_predict(const struct model *m, const struct nn_dataset *ds, float *out);

/** Adds net to m as one more member (takes ownership of net, even on failure).
 *  @return 0 or NN_ERANGE when m holds MODEL_MAX_NETS already. */
int model_add_net(struct model *m, struct nn_net *net, float l2, float learning_rate, int epochs,
                  const char *origin);

/* What model_on_epoch needs: the model whose history grows (cap: its room) and the
   caller's own callback (may be NULL). */
struct model_progress {
    struct model *m;
    size_t cap;
    nn_progress_fn cb;
    void *ud;
};

/** An nn_progress_fn (ud: struct model_progress): records the epoch in m's history (an RMSE in
 *  label units for regression), then calls the caller's callback. Non-zero stops training
 *  (out of memory, or the callback's answer). */
int model_on_epoch(const struct nn_epoch_stats *st, void *ud);

/**
 * Sets m->metrics from m->net's outputs on ds (the validation rows; the training rows when
 * none are held out), chooses a binary threshold (threshold= / target_fpr=) and applies the
 * quality gate (a model answering the same for every row: NN_EINVAL). @return 0 or an error.
 */
int model_compute_metrics(struct model *m, const struct nn_dataset *ds, struct nn_err *err);

/* A labelled CSV being read in m's terms: the reader and the column of each input (col[i])
 * and of the label (col[n_inputs]). */
struct model_rows {
    FILE *fp;
    struct tab_csv *r;
    long *col;
};

/**
 * Opens the CSV at path and maps its columns for m (model_map_columns: every column one m
 * knows). @return 0 or an error; on failure rows holds nothing. model_rows_close either way.
 */
int model_rows_open(const struct model *m, const char *path, char delim,
                    const struct model_limits *lim, struct model_rows *rows, struct nn_err *err);
/** Closes what model_rows_open opened. NULL-safe parts; idempotent. */
void model_rows_close(struct model_rows *rows);

/**
 * Maps m's inputs and label to r's columns: col[i] for input i, col[n_inputs] the label.
 * Every column of r must be one m knows (an input, the label, a column of its training CSV).
 * @return 0 or NN_EINVAL with err->field the column at fault (line 1).
 */
int model_map_columns(const struct model *m, const struct tab_csv *r, long *col,
                      struct nn_err *err);

/**
 * The target of r's current row (label column `label`) in training units: a class index of
 * m, or the standardised value. @return 0 or NN_EINVAL naming the label column, the line and
 * (in the message) the class.
 */
int model_row_target(const struct model *m, const struct tab_csv *r, long label, float *y,
                     struct nn_err *err);

/** The user-facing outputs (model_predict_json's) from the net's outputs raw. */
void model_outputs(const struct model *m, const float *raw, float *out);

/**
 * Reads one JSON instance (object keyed by input name, or array in input order) into what the
 * pipeline reads: cells[i] (borrowed from the instance or written into text, 32 bytes per
 * input) and nums[i] (NaN when the cell is to be read). Errors as model_predict_json.
 */
int model_json_cells(const struct model *m, const cJSON *instance, const char **cells, double *nums,
                     char *text, struct nn_err *err);

#endif
