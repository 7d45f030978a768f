/*
 * features: the fitted feature pipeline — turns the cells of a row into the network's input
 * [dense | sparse] and the label into its target.
 *
 * A cell is missing by the markers the pipeline stores (tab/na.h; JSON null, an absent cell).
 * Numeric: standardised with mean and scale fitted on the non-missing training cells; a
 * missing cell takes the fill value (the training median, or mean: TAB_FEAT_IMPUTE_*).
 * Categorical: one-hot over the categories seen in training; unseen = all zeros. An input
 * with missing cells in training also gets one 0/1 column, 1 when the cell is missing (for a
 * categorical input: missing is its own category). Text: the cell after the input's text decoder
 * (chosen at fit, stored; none = as it is), then lowercased word tokens, unigrams + bigrams hashed
 * (fixed seeded hash) into 2^18 buckets, log(1 + count), L2-normalised, sparse; plus dense shape
 * features (share of capitals, longest capital run, counts of '!' and '$', URLs; log-scaled).
 * Regression targets are standardised for training and mapped back at prediction. Does not: read
 * files itself (it reads a struct tab_csv), train, or know about HTTP. Thread-safety: a fitted
 * pipeline is immutable; encoding a row is reentrant.
 */
#ifndef NEUROND_TAB_FEATURES_H
#define NEUROND_TAB_FEATURES_H

#include <stddef.h>
#include <stdint.h>

#include "nn/err.h"
#include "nn/mat.h"
#include "tab/buf.h"
#include "tab/csv.h"
#include "tab/na.h"
#include "tab/schema.h"

#define TAB_FEAT_HASH_BITS 18
#define TAB_FEAT_N_SHAPE                                                                           \
    5 /* text shape features: capitals share, longest capital run, '!', '$',                       \
         URLs */
#define TAB_FEAT_HASH_SEED 0x6e657572u /* the default hash_seed */

/*
 * A text decoder: what the cells of a text input go through before they are tokenised (a raw
 * e-mail to its text, say). It is chosen when the pipeline is fitted, stored in it by name and
 * called through `decode`, never guessed at prediction. tab/ defines the interface and knows
 * no decoder: the caller passes one to tab_features_fit and a look-up to tab_features_load
 * (model/ wires mail/'s, named "mail").
 * decode: returns 0 with *out a new NUL-terminated text (freed with nn_free; *out_len its
 * length) or *out NULL (the cell is read as it is); a negative code on failure, *out NULL,
 * and then too the cell is read as it is. It must be thread-safe and need no set-up.
 */
typedef int (*tab_text_decode_fn)(const char *cell, size_t len, char **out, size_t *out_len);
struct tab_text_decoder {
    const char *name; /* stored in the model; 1..TAB_FEAT_MAX_DECODER_NAME bytes */
    tab_text_decode_fn decode;
};
/** Finds a decoder by its stored name; NULL when there is none of that name. */
typedef const struct tab_text_decoder *(*tab_text_decoder_find_fn)(const char *name);
#define TAB_FEAT_MAX_DECODER_NAME 64
/* Version-1 pipelines (before the decoder was stored) decoded every text input with this one. */
#define TAB_FEAT_V1_DECODER "mail"

/* One input of the pipeline (a CSV column that is not the label and not ignored). */
struct tab_feat_input {
    char *name;
    enum tab_col_type type;
    int scale;           /* numeric: 1 standardise (default), 0 use as is (imported models) */
    double mean, sd;     /* numeric */
    double fill;         /* numeric: the value of a missing cell (before scaling) */
    int missing_col;     /* numeric, categorical: 1 when a 0/1 "missing" column follows the
                            input's other columns (the input had missing training cells) */
    size_t n_categories; /* categorical: one-hot width */
    char **categories;   /* sorted; one-hot order */
    int offset;          /* first dense column this input writes (numeric, categorical, text
                            shape features) */
    double shape_mean[TAB_FEAT_N_SHAPE]; /* text: shape feature scaling (when scale) */
    double shape_sd[TAB_FEAT_N_SHAPE];
    size_t *cat_order; /* categorical: indices of categories in byte order (for look-ups) */
    const struct tab_text_decoder *decoder; /* text: borrowed (static); NULL = cells as they are */
};

struct tab_features {
    size_t n_inputs;
    struct tab_feat_input *inputs; /* in CSV order */
    char *label;                   /* label column name */
    int task;                      /* NN_TASK_* */
    int n_classes;
    char **classes;
    double y_mean, y_sd; /* regression target scaling (0, 1 when unscaled) */
    int dense_dim;
    int sparse_dim; /* 2^18 when a text input exists, else 0 */
    uint32_t hash_seed;
    struct tab_na na; /* the missing-value markers cells are read with */
};

#define TAB_FEAT_IMPUTE_MEDIAN 0
#define TAB_FEAT_IMPUTE_MEAN   1

/* How a pipeline is fitted. */
struct tab_feat_opts {
    const struct tab_text_decoder *text_decoder; /* every text input's decoder (stored); NULL
                                                    none. Borrowed: a static table entry */
    int impute; /* TAB_FEAT_IMPUTE_*: a numeric input's fill value */
};

/**
 * Pass 2: rewinds r, encodes every row into ds (y = class index, or the standardised target)
 * and fits the pipeline on the rows with is_train[i] != 0 only.
 * @param text_decoder [in] the decoder every text input uses (stored in the pipeline); NULL
 *        for none. Borrowed: it must outlive the pipeline (a static table entry).
 * @return 0 or an error (line/column of a bad cell). Ownership: *out new (tab_features_free),
 *         ds filled (nn_dataset_free). Nothing is allocated on failure.
 */
int tab_features_fit(struct tab_csv *r, const struct tab_schema *s, const unsigned char *is_train,
                     const struct tab_text_decoder *text_decoder, struct tab_features **out,
                     struct nn_dataset *ds, struct nn_err *err);
/** As tab_features_fit, with the options of fo (NULL: no decoder, the median). The markers
 *  are the schema's (s->na). */
int tab_features_fit_opts(struct tab_csv *r, const struct tab_schema *s,
                          const unsigned char *is_train, const struct tab_feat_opts *fo,
                          struct tab_features **out, struct nn_dataset *ds, struct nn_err *err);

/** Frees a pipeline. NULL-safe. */
void tab_features_free(struct tab_features *f);

/**
 * Encodes one row given as cells in input order (cells[i] NULL, empty or a marker = missing).
 * @param dense [out] dense_dim floats. @param ind, val [out] room for max_nnz entries;
 * @param nnz [out] entries written (sorted by index). Extra entries past max_nnz are dropped
 * (the smallest ones) — callers pass TAB_FEAT_MAX_NNZ.
 * @return 0 or NN_EINVAL (err->field = the input) for a non-numeric numeric cell.
 */
int tab_features_encode(const struct tab_features *f, const char *const *cells, float *dense,
                        int32_t *ind, float *val, size_t max_nnz, size_t *nnz, struct nn_err *err);
#define TAB_FEAT_MAX_NNZ 65536

/**
 * As tab_features_encode, with numbers given as numbers: for a numeric input i, nums[i] is used
 * as the value unless it is NaN (then cells[i] is read as usual: NULL = missing). Saves the text
 * round trip on the JSON prediction path. nums may be NULL.
 */
int tab_features_encode_num(const struct tab_features *f, const char *const *cells,
                            const double *nums, float *dense, int32_t *ind, float *val,
                            size_t max_nnz, size_t *nnz, struct nn_err *err);

/**
 * Receives one word (w2 NULL) or bigram (w1 w2) of a text input, as the encoder hashes it into
 * sparse column `bucket`. The words are borrowed (valid during the call), as they appear in the
 * decoded text (not lowercased). @return 0 to go on, anything else stops and is returned.
 */
typedef int (*tab_token_fn)(void *ud, size_t input, int32_t bucket, const char *w1, size_t n1,
                            const char *w2, size_t n2);
/**
 * Walks the words and bigrams of the row's text inputs in the order the encoder hashes them,
 * each with its sparse column: what explanations name a text feature by (the hash is one-way).
 * A missing text cell has none.
 * @return 0, NN_ENOMEM, or what fn returned.
 */
int tab_features_tokens(const struct tab_features *f, const char *const *cells, tab_token_fn fn,
                        void *ud);

/** Maps a standardised regression output back to label units. */
double tab_features_unscale(const struct tab_features *f, double y);

/** Appends the pipeline to b (binary model format section). */
int tab_features_save(const struct tab_features *f, struct tab_buf *b);
/**
 * Reads what tab_features_save wrote; every count checked before allocating. Each text
 * input's decoder is looked up by its stored name with find (version-1 sections: the decoder
 * TAB_FEAT_V1_DECODER); a name find does not know is NN_EFORMAT. find may be NULL when no
 * decoder is known.
 */
int tab_features_load(struct tab_rd *rd, tab_text_decoder_find_fn find, struct tab_features **out,
                      struct nn_err *err);

#endif
