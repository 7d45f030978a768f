/*
 * model: one struct that owns a whole trained model — the fitted feature pipeline, the
 * network, the label's classes and the training metrics — and the calls the CLI and the
 * daemon make on it: train from a CSV file, predict, evaluate, describe (card), save/load
 * (binary blob, see model_io) and export/import as the JSON of API.md.
 *
 * Training parameters (struct model_params) are model/params.h's: one table, one parser
 * (model_params_set) so the CLI and the HTTP API accept exactly the same things.
 * Does not: talk HTTP or SQL, start threads, print.
 * Thread-safety: a trained/loaded model is immutable; any number of threads may predict with
 * it at once (each call uses its own scratch memory).
 */
#ifndef NEUROND_MODEL_MODEL_H
#define NEUROND_MODEL_MODEL_H

#include <cJSON.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>

#include "model/params.h"
#include "nn/err.h"
#include "nn/train.h"

struct model;

/* Limits for reading training / prediction CSV files (flags of the CLI and the daemon). */
struct model_limits {
    size_t max_rows;
    size_t max_cols;
    size_t max_field;
};
/** The default limits: 10,000,000 rows, 10,000 columns, 1 MiB per field. */
void model_limits_default(struct model_limits *lim);

/**
 * Checks a CSV file before a job is accepted: structure, header, the label column exists,
 * at least two rows. @param rows, cols [out] counts (data rows, columns).
 * @return 0 or an error whose err->line / err->field point at the fault.
 */
int model_check_csv(const char *path, const struct model_params *p, const struct model_limits *lim,
                    size_t *rows, size_t *cols, struct nn_err *err);

/**
 * Trains a model on a CSV file: read, type columns, split (stratified), fit features on the
 * training split (text inputs get the "mail" text decoder, model/text_decoder.h: raw e-mails
 * are decoded, at training and at every prediction), train with early stopping, compute
 * validation metrics, apply the quality
 * gate (a model answering the same for every validation row is refused with NN_EINVAL).
 * @param cancel [in] optional; non-zero stops within one batch (NN_ECANCELED).
 * @return 0 or an error. Ownership: *out is a new model; model_free. NULL on failure.
 */
int model_train_csv(const char *path, const struct model_params *p, const struct model_limits *lim,
                    nn_progress_fn cb, void *ud, atomic_int *cancel, struct model **out,
                    struct nn_err *err);

/**
 * Warm start: trains a new model that begins as a copy of base — its feature pipeline
 * (inputs, types, scaling, categories, text hashing, classes) and its network's weights —
 * on a CSV whose every column is one the base knows (an input, its label or a column its
 * training CSV had) and whose labels are the base's classes. The rows are split as
 * model_train_csv splits them (p's validation_split and seed); training keeps the epoch with
 * the lowest validation loss, or the base's weights when no epoch beat them. p's label, task,
 * layers and column lists are ignored (the base's); epochs, patience and learning_rate not
 * given (p->epochs_auto, p->patience_auto, 0) are MODEL_WARM_*; l2, threshold and
 * target_fpr not given are the base's. The card gains "warm_start": {"base" (p->base),
 * "initial_val_loss" (the validation loss before any update: the base's own on those rows),
 * "initial_val_accuracy", "rows", "kept_base_weights"}.
 * @return 0, NN_EINVAL (err->field names the column or the class that does not fit;
 *         err->line its line), NN_ECANCELED, or another error.
 * Ownership: *out is a new model; model_free. NULL on failure.
 */
int model_train_warm(const char *path, const struct model *base, const struct model_params *p,
                     const struct model_limits *lim, nn_progress_fn cb, void *ud,
                     atomic_int *cancel, struct model **out, struct nn_err *err);

/**
 * Checks, before a warm start is accepted, that a CSV fits base: every column is one base
 * knows, every input and the label are there, every label is one of its classes (a number,
 * for regression). Reads the whole file, encodes nothing.
 * @return 0 or NN_EINVAL with err->field the column at fault (the label column for a class
 *         the base does not know, named in the message) and err->line its line.
 */
int model_warm_check(const struct model *base, const char *path, char delim,
                     const struct model_limits *lim, struct nn_err *err);

/**
 * The champion/challenger gate: evaluates both models (model_eval_csv) on a labelled holdout
 * CSV that neither trained on and decides whether the challenger may serve: its accuracy
 * above the champion's, or the same with a log loss no higher (regression: its RMSE at most
 * the champion's).
 * @param verdict [out] {"metric", "champion", "challenger" (the metric's values),
 *        "champion_log_loss", "challenger_log_loss" (classification), "holdout_rows",
 *        "promoted"};
 *        new, cJSON_Delete. NULL on failure.
 * @return 0 or model_eval_csv's error.
 */
int model_gate(const struct model *champion, const struct model *challenger, const char *holdout,
               char delim, const struct model_limits *lim, cJSON **verdict, struct nn_err *err);

/* ------------------------------------------------------------------------------------------
 * Feedback data (model/model_feedback.c)
 * ---------------------------------------------------------------------------------------- */

/**
 * An instance (JSON object by input name, or array in input order) in canonical form: an
 * object with every input in input order (null where absent), checked first as
 * model_predict_json checks it. Its printed form is what a content hash is taken of.
 * @return 0 or model_predict_json's error. Ownership: *out new (cJSON_Delete); NULL on failure.
 */
int model_instance_canonical(const struct model *m, const cJSON *instance, cJSON **out,
                             struct nn_err *err);

/**
 * Reads a labelled CSV that fits m (model_warm_check's rules) as JSON: *instances an array of
 * objects keyed by input name (a numeric input's numbers as numbers, empty cells null, the
 * rest strings), *labels the labels as strings.
 * @return 0, NN_EINVAL (the column or class at fault), NN_ERANGE (more than max_rows rows).
 * Ownership: both new (cJSON_Delete); NULL on failure.
 */
int model_feedback_csv(const struct model *m, const char *path, char delim,
                       const struct model_limits *lim, size_t max_rows, cJSON **instances,
                       cJSON **labels, struct nn_err *err);

/** Writes the header of m's rows as CSV: its inputs in order, then its label. */
void model_rows_header(const struct model *m, FILE *out);
/** Writes one row under model_rows_header: instance's inputs (an object by input name: strings,
 *  numbers; null or absent as an empty cell), then label. */
void model_row_write(const struct model *m, FILE *out, const cJSON *instance, const char *label);

/**
 * The rows kept with a trained version, from the CSV it trained on: the rows are split as
 * training split them (seed, the share frac, stratified by m's classes); up to max training
 * rows (a reservoir sample seeded from seed) go to replay and up to max validation rows to
 * holdout, each under model_rows_header.
 * @param n_replay, n_holdout [out] the rows written.
 * @return 0, NN_EINVAL (the CSV does not fit m), NN_EIO (a write failed).
 */
int model_samples_csv(const struct model *m, const char *path, char delim,
                      const struct model_limits *lim, unsigned long long seed, double frac,
                      size_t max, FILE *replay, FILE *holdout, size_t *n_replay, size_t *n_holdout,
                      struct nn_err *err);

/* The replay of a retraining: a sample of the rows kept with the serving version, of
   model_replay_rows(feedback rows) rows — enough old rows that the new ones do not make it
   forget, few enough that a retraining costs a fraction of a training. */
#define MODEL_REPLAY_MIN     500
#define MODEL_REPLAY_PER_ROW 4

/** How many replayed rows a retraining on feedback_rows new rows uses: max(MODEL_REPLAY_MIN,
 *  MODEL_REPLAY_PER_ROW x feedback_rows). */
size_t model_replay_rows(size_t feedback_rows);

/**
 * Writes a seeded sample (reservoir, Algorithm R) of up to max rows of a CSV that fits m to
 * out as m's rows (model_rows_header's columns, no header), in file order.
 * @param written [out] the rows written.
 * @return 0, NN_EINVAL (the CSV does not fit m), NN_EIO.
 */
int model_rows_sample(const struct model *m, const char *path, char delim,
                      const struct model_limits *lim, size_t max, unsigned long long seed,
                      FILE *out, size_t *written, struct nn_err *err);

/* One part of a gate's holdout: a labelled CSV and its data rows (0: skipped). */
struct model_gate_part {
    const char *name; /* its key in the verdict ("feedback", "validation") */
    const char *path;
    long long rows;
};

/**
 * The champion/challenger gate over a holdout in parts (each one that neither trained on):
 * model_gate on each part with rows; the challenger is promoted when it is promoted on every
 * part (no part: promoted, "why" says so).
 * @param verdict [out] {"metric", "<part name>": {"champion", "challenger",
 *        "champion_log_loss", "challenger_log_loss", "promoted", "rows"}, ..., "champion",
 *        "challenger" (over all the parts' rows), "holdout_rows", "promoted"}; new.
 * @return 0 or model_eval_csv's error.
 */
int model_gate_parts(const struct model *champion, const struct model *challenger,
                     const struct model_gate_part *parts, int n, char delim,
                     const struct model_limits *lim, cJSON **verdict, struct nn_err *err);

/** Frees a model. NULL-safe. */
void model_free(struct model *m);

/** NN_TASK_BINARY, NN_TASK_MULTICLASS or NN_TASK_REGRESSION. */
int model_task(const struct model *m);
/** Number of classes (0 for regression) and class i's name (borrowed). */
int model_n_classes(const struct model *m);
const char *model_class(const struct model *m, int i);
/** The label column's name (borrowed). */
const char *model_label_name(const struct model *m);
/** Number of inputs (CSV columns used, label excluded), input i's name and type name
 *  ("numeric", "categorical", "text"); borrowed. */
int model_n_inputs(const struct model *m);
const char *model_input_name(const struct model *m, int i);
const char *model_input_type(const struct model *m, int i);
/**
 * The positive class of a binary model, whose probability is its score (API.md's spam rule):
 * the class named "spam" (any case), else "1", "true" or "yes", else classes[1].
 * @return the class index, or -1 when the model is not a binary classifier.
 */
int model_positive_class(const struct model *m);

/**
 * The decision threshold on the positive class's probability (binary models; 0.5 otherwise).
 * @param source [out] optional: "default", "threshold" (set at training) or "target_fpr"
 *               (chosen on the validation split); a static string.
 */
double model_threshold(const struct model *m, const char **source);

/**
 * The decision rule, the one every output uses (/predict JSON and CSV, KServe's label,
 * /spam-score, the CLI's predict and eval): for a binary model the positive class when its
 * probability is at or above model_threshold, else the other class; for more classes the most
 * probable one (the first on a tie).
 * @param out [in] n_classes probabilities, as model_predict_* write them.
 * @return the class index, or -1 for a regression model.
 */
int model_decide(const struct model *m, const float *out);

/** Index of the first text input, -1 if none (the spam scorer feeds it). */
int model_text_input(const struct model *m);

/**
 * Predicts one instance given as JSON: an object keyed by input name or an array in input
 * order. null is a missing value (imputed as in training); an object lacking an input is
 * NN_EINVAL with err->field naming the input (a typo must not predict confidently).
 * @param out [out] n_classes probabilities, or 1 value (regression, in label units).
 * @return 0 or NN_EINVAL with err->field naming the input at fault.
 */
int model_predict_json(const struct model *m, const cJSON *instance, float *out,
                       struct nn_err *err);
/**
 * Predicts rows of an all-numeric model given as numbers in input order (the server's fast
 * path for JSON arrays of numbers). Same arithmetic as model_predict_json with JSON numbers;
 * a NaN is a missing value. Allocates nothing for models whose row scratch fits on the stack.
 * @param x [in] rows * n_inputs values, row-major, each finite within float range or NaN.
 * @param out [out] rows * max(n_classes, 1) values, each row as model_predict_json writes.
 * @return 0, NN_EINVAL (an input is not numeric; err->field names it) or NN_ENOMEM.
 * Thread-safety: as model_predict_json (a shared model is only read).
 */
int model_predict_num(const struct model *m, const double *x, size_t rows, float *out,
                      struct nn_err *err);
/**
 * Predicts one instance given as strings in input order (NULL = missing / empty).
 * @param out as for model_predict_json.
 */
int model_predict_cells(const struct model *m, const char *const *cells, float *out,
                        struct nn_err *err);

/* ------------------------------------------------------------------------------------------
 * Explanations (model/explain.c)
 * ---------------------------------------------------------------------------------------- */

struct model_expl;

/**
 * Explains one instance: integrated gradients (nn/ig.h) from the model's baseline (the mean
 * encoded training row; an encoded row of zeros for a model without one: standardised numeric
 * inputs at their training mean, no category, no words) to the instance, of the logit of the
 * predicted class (binary: the logit of the class predicted, -z for the negative one), or of
 * the regression value in label units; summed back to the inputs (a categorical input's
 * one-hot group and missing column, a text input's shape features and words).
 * @param cls [in] the class whose logit to explain; -1 for the class predicted (regression:
 *            ignored).
 * @param out [out] as model_predict_json writes.
 * @return 0 or an error as model_predict_json. Ownership: *ex new; model_expl_free.
 * Thread-safety: as model_predict_json.
 */
int model_explain_json(const struct model *m, const cJSON *instance, int cls, float *out,
                       struct model_expl **ex, struct nn_err *err);
/**
 * As model_explain_json, for one row of an all-numeric model given as numbers in input order
 * (model_predict_num's rows; NaN = missing): the server's fast path.
 * @return 0, NN_EINVAL (an input is not numeric; err->field names it) or NN_ENOMEM.
 */
int model_explain_num(const struct model *m, const double *x, int cls, float *out,
                      struct model_expl **ex, struct nn_err *err);
/** As model_explain_json, with the instance as cells in input order (NULL = missing). */
int model_explain_cells(const struct model *m, const char *const *cells, int cls, float *out,
                        struct model_expl **ex, struct nn_err *err);
/** Attribution of input i (model_n_inputs order). */
double model_expl_input(const struct model_expl *ex, int i);
/**
 * The explanation object of API.md: class, output, baseline, baseline_source, attributions
 * (input -> value, largest magnitude first), words (text input -> its `top` words and bigrams,
 * largest magnitude first), shape (text input -> its shape features), completeness.
 * Ownership: new; cJSON_Delete. NULL when out of memory. The keys of "attributions" are
 * borrowed from m (cJSON_AddItemToObjectCS): delete the tree before m is freed.
 */
cJSON *model_expl_to_json(const struct model *m, const struct model_expl *ex, int top);
/** The scalar figures of an explanation, for a writer that prints it without a cJSON tree. */
struct model_expl_info {
    int cls;                     /* the class explained (model_class); -1 for a regression */
    const char *baseline_source; /* "training_means" or "zeros" (static) */
    double output, baseline;     /* as in model_expl_to_json */
    double sum, error; /* completeness: the attributions' sum, sum - (output - baseline) */
    int steps, converged;
};
/** Fills info from ex. */
void model_expl_info(const struct model_expl *ex, struct model_expl_info *info);
/** The inputs in the order of model_expl_to_json's attributions (largest magnitude first).
 *  @param ord [out] model_n_inputs(m) indices. */
void model_expl_order(const struct model *m, const struct model_expl *ex, size_t *ord);
/** Frees an explanation. NULL-safe. */
void model_expl_free(struct model_expl *ex);

/**
 * Reads a CSV with a header holding the model's inputs and writes the CSV of API.md: the
 * input columns, `prediction`, one `p_<class>` per class (regression: `prediction` only).
 * @param explain [in] non-zero adds one `attr_<input>` column per model input (model order):
 *                the attributions of model_explain_cells for the class predicted.
 * @return 0 or an error naming the line/column (missing input column: NN_EINVAL).
 */
int model_predict_csv(const struct model *m, FILE *in, FILE *out, char delimiter, int explain,
                      const struct model_limits *lim, struct nn_err *err);

/**
 * Evaluates on a labelled CSV. Returns a new cJSON object: {"rows", "accuracy", "log_loss",
 * "auc" (binary only), "confusion" (k x k, rows = true class)} or {"rows", "rmse", "mae"}.
 * Ownership: caller frees *out with cJSON_Delete.
 */
int model_eval_csv(const struct model *m, const char *path, char delimiter,
                   const struct model_limits *lim, cJSON **out, struct nn_err *err);

/**
 * The model card of API.md without the server's fields (name, version, versions, job_id,
 * created_at): task, inputs, label, architecture, metrics, params.
 * Ownership: a new cJSON object; caller frees with cJSON_Delete. NULL when out of memory.
 */
cJSON *model_card(const struct model *m);

/** The metrics object alone ("val_accuracy", "val_loss", "val_auc" / "val_rmse", "val_mae"). */
cJSON *model_metrics(const struct model *m);

/** The training history (array of per-epoch objects as in API.md's job history). */
cJSON *model_history(const struct model *m);

/** Resolved training parameters as JSON (API.md's job "params"): model_params_to_json with
 *  the values inferred at training (label, task, column lists) filled in. */
cJSON *model_params_json(const struct model *m);

/**
 * Serialises to the binary format of docs/file-format.md.
 * Ownership: *buf is new; caller frees with nn_free.
 */
int model_save(const struct model *m, unsigned char **buf, size_t *len, struct nn_err *err);
/**
 * Writes the payload length and the CRC-32 of a blob in place (len >= 20 bytes; the blob's
 * header and checksum fields are overwritten). model_save calls it; fuzzers use it to get
 * past the checksum into the parsers behind it.
 */
void model_blob_seal(unsigned char *buf, size_t len);
/** Loads a blob; every count and length is checked before use. NULL *out on failure. */
int model_load(const unsigned char *buf, size_t len, struct model **out, struct nn_err *err);
/** Export JSON of API.md (card + pipeline + weights). New cJSON; caller frees. */
cJSON *model_export(const struct model *m);
/** Import from export JSON or a hand-written model; errors name the field. */
int model_import(const cJSON *doc, struct model **out, struct nn_err *err);

#endif
