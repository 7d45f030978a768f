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

/** Frees a model. NULL-safe. */
void model_free(struct model *m);

/** NN_TASK_BINARY, NN_TASK_MULTICLASS or NN_TASK_REGRESSION. */
int model_task(const struct model *m);
/** Number of classes (0 for regression) and class i's name (borrowed). */
int model_n_classes(const struct model *m);
const char *model_class(const struct model *m, int i);
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
