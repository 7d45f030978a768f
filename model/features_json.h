/*
 * features_json: the fitted feature pipeline (tab/features.h) as the JSON of API.md's
 * export, and a pipeline built from such JSON or a hand-written model. Kept in model/ with
 * cJSON so that tab/ needs no JSON library.
 * Thread-safety: reentrant; a pipeline is only read when written out.
 */
#ifndef NEUROND_MODEL_FEATURES_JSON_H
#define NEUROND_MODEL_FEATURES_JSON_H

#include <cJSON.h>

#include "nn/err.h"
#include "tab/features.h"

/** JSON of API.md's export: "inputs" (with mean/scale or categories), "label", "text" settings.
 *  Adds its members to obj. @return 0 or NN_ENOMEM. */
int model_features_to_json(const struct tab_features *f, cJSON *obj);
/** Builds a pipeline from export JSON / a hand-written model ("inputs", "label", "task").
 *  Errors name the field ("inputs[1].type"). */
int model_features_from_json(const cJSON *doc, struct tab_features **out, struct nn_err *err);

#endif
