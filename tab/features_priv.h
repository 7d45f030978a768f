/*
 * features_priv: what features.c (fitting, encoding), features_io.c (the binary form) and
 * model/features_json.c (the JSON form, kept with cJSON in model/) share. Not for other
 * modules: they use features.h.
 */
#ifndef NEUROND_TAB_FEATURES_PRIV_H
#define NEUROND_TAB_FEATURES_PRIV_H

#include "tab/features.h"

#define FEAT_MAGIC       0x5446454eu /* "NEFT" */
#define FEAT_VERSION     1u          /* every text input decoded with TAB_FEAT_V1_DECODER */
#define FEAT_VERSION_DEC 2u          /* + a decoder name per text input, written when one differs */
#define FEAT_VERSION_NA                                                                            \
    3u /* + per input a fill value and a missing column flag, a decoder name                       \
          per text input, and the missing-value markers at the end */
#define FEAT_MAX_INPUTS  100000u
#define FEAT_MAX_NAME    4096u
#define FEAT_MAX_CAT     65536u
#define FEAT_MAX_CATS    10000u
#define FEAT_MAX_CLASSES 1000u

/**
 * Builds in->cat_order, the category indices in byte order, for look-ups by binary search.
 * @param in [in,out] a categorical (or any) input; its old cat_order is freed.
 * @return 0 or NN_ENOMEM.
 */
int tab_feat_build_order(struct tab_feat_input *in);

/**
 * Assigns each input's dense offset (numeric 1 column, categorical one per category, text
 * TAB_FEAT_N_SHAPE) and sets f->dense_dim and f->sparse_dim (2^18 when a text input exists).
 * @return 0, NN_EINVAL (an input of no known type) or NN_ERANGE (too wide).
 */
int tab_feat_layout(struct tab_features *f);

/** A usable standard deviation / scale: finite and positive. */
int tab_feat_good_scale(double sd);

#endif
