/*
 * model_priv: the layout of struct model, shared by the model module's files only (model.c,
 * model_train.c, model_predict.c, model_card.c, model_io.c ...). Not installed, not for
 * server/ or cli/: they use the accessors of model.h.
 */
#ifndef NEUROND_MODEL_MODEL_PRIV_H
#define NEUROND_MODEL_MODEL_PRIV_H

#include <stdio.h>

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
    float *baseline; /* explanations' baseline: the training rows' mean encoded dense row
                        (feat->dense_dim floats); NULL when the model has none (blobs before
                        v3, imports without "baseline") */
    cJSON *search;   /* auto: the search (plan, limits, leaderboard, why); NULL otherwise.
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

/**
 * model_train_csv with n_more networks beyond the first (0 to MODEL_MAX_NETS - 1) behind the
 * same pipeline: each trained on the training split with early stopping as the first is, the
 * validation metrics (and threshold) those of their mean, then each refitted on every row for
 * its best epoch when the first is. why (NULL: none) is the card's ensemble.why.
 * @return as model_train_csv.
 */
int model_train_members_csv(const char *path, const struct model_params *p,
                            const struct model_member_spec *more, int n_more, const char *why,
                            const struct model_limits *lim, nn_progress_fn cb, void *ud,
                            atomic_int *cancel, struct model **out, struct nn_err *err);

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
