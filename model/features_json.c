/*
 * features_json: the feature pipeline as the JSON of API.md's export, which also accepts a
 * hand-written model (numeric inputs with "scale": false are used as they are; errors name
 * the field, "inputs[1].type"). It lives in model/ because cJSON does: tab/ knows no JSON.
 */
#include "model/features_json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/train.h"
#include "tab/features_priv.h"

/* ==========================================================================================
 * JSON
 */
static cJSON *num_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a != NULL && i < n; i++) {
        a = model_json_push(a, cJSON_CreateNumber(v[i]));
    }
    return a;
}

static cJSON *str_array(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a != NULL && i < n; i++) {
        a = model_json_push(a, cJSON_CreateString(v[i]));
    }
    return a;
}

/* Adds item to obj under key, replacing a member of that name; frees item on failure. */
static int put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL) {
        return NN_ENOMEM;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(obj, key);
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return NN_ENOMEM;
    }
    return 0;
}

static cJSON *input_json(const struct tab_feat_input *in)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }
    int rc = put(o, "name", cJSON_CreateString(in->name));
    if (rc == 0) {
        rc = put(o, "type", cJSON_CreateString(tab_col_type_name(in->type)));
    }
    if (rc == 0 && in->type == TAB_COL_NUMERIC) {
        if (in->scale) {
            rc = put(o, "mean", cJSON_CreateNumber(in->mean));
            if (rc == 0) {
                rc = put(o, "scale", cJSON_CreateNumber(in->sd));
            }
        } else {
            rc = put(o, "scale", cJSON_CreateFalse());
        }
        if (rc == 0) {
            rc = put(o, "fill", cJSON_CreateNumber(in->fill));
        }
    } else if (rc == 0 && in->type == TAB_COL_CATEGORICAL) {
        rc = put(o, "categories", str_array(in->categories, in->n_categories));
    } else if (rc == 0 && in->type == TAB_COL_TEXT) {
        if (in->scale) {
            rc = put(o, "shape_mean", num_array(in->shape_mean, TAB_FEAT_N_SHAPE));
            if (rc == 0) {
                rc = put(o, "shape_scale", num_array(in->shape_sd, TAB_FEAT_N_SHAPE));
            }
        } else {
            rc = put(o, "scale", cJSON_CreateFalse());
        }
        /* only a decoder other than the default is named: older exports stay as they were */
        if (rc == 0 && in->decoder == NULL) {
            rc = put(o, "decoder", cJSON_CreateNull());
        } else if (rc == 0 && strcmp(in->decoder->name, TAB_FEAT_V1_DECODER) != 0) {
            rc = put(o, "decoder", cJSON_CreateString(in->decoder->name));
        }
    }
    if (rc == 0 && in->missing_col) {
        rc = put(o, "missing_indicator", cJSON_CreateTrue());
    }
    if (rc != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* The markers as an array of strings. */
static cJSON *na_json(const struct tab_na *na)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a != NULL && i < na->n; i++) {
        a = model_json_push(a, cJSON_CreateString(na->items[i]));
    }
    return a;
}

/* Reads "na_values" (an array of strings; absent: the default markers). */
static int na_from_json(const cJSON *doc, struct tab_na *na, struct nn_err *err)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "na_values");
    char spec[TAB_NA_MAX_SPEC];
    size_t o = 0;
    const cJSON *x;

    if (a == NULL) {
        *na = *tab_na_default();
        return 0;
    }
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > TAB_NA_MAX) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "na_values",
                             "na_values must be an array of at most %d strings", TAB_NA_MAX);
    }
    spec[0] = '\0';
    cJSON_ArrayForEach(x, a)
    {
        size_t n = cJSON_IsString(x) ? strlen(x->valuestring) : 0;
        if (!cJSON_IsString(x) || n == 0 || n > TAB_NA_MAX_LEN || strchr(x->valuestring, ',')) {
            return nn_err_set_at(err, NN_EFORMAT, 0, 0, "na_values",
                                 "na_values: each marker is a string of 1 to %d bytes, no comma",
                                 TAB_NA_MAX_LEN);
        }
        o += (size_t)snprintf(spec + o, sizeof(spec) - o, "%s%s", o ? "," : "", x->valuestring);
    }
    if (tab_na_parse(spec, na, NULL) != 0) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "na_values", "na_values: a bad marker");
    }
    return 0;
}

int model_features_to_json(const struct tab_features *f, cJSON *obj)
{
    cJSON *inputs = cJSON_CreateArray();
    if (inputs == NULL) {
        return NN_ENOMEM;
    }
    for (size_t i = 0; inputs != NULL && i < f->n_inputs; i++) {
        inputs = model_json_push(inputs, input_json(&f->inputs[i]));
    }
    if (inputs == NULL) {
        return NN_ENOMEM;
    }
    if (put(obj, "inputs", inputs) != 0) {
        return NN_ENOMEM;
    }
    cJSON *label = cJSON_CreateObject();
    if (put(obj, "label", label) != 0) {
        return NN_ENOMEM;
    }
    int rc = put(label, "name", cJSON_CreateString(f->label ? f->label : ""));
    if (rc == 0 && f->task == NN_TASK_REGRESSION) {
        rc = put(label, "mean", cJSON_CreateNumber(f->y_mean));
        if (rc == 0) {
            rc = put(label, "scale", cJSON_CreateNumber(f->y_sd));
        }
    } else if (rc == 0) {
        rc = put(label, "classes", str_array(f->classes, (size_t)f->n_classes));
    }
    if (rc == 0) {
        rc = put(
            obj, "task",
            cJSON_CreateString(f->task == NN_TASK_REGRESSION ? "regression" : "classification"));
    }
    cJSON *text = rc == 0 ? cJSON_CreateObject() : NULL;
    if (rc == 0) {
        rc = put(obj, "text", text);
    }
    if (rc == 0) {
        rc = put(text, "hash_bits", cJSON_CreateNumber(TAB_FEAT_HASH_BITS));
    }
    if (rc == 0) {
        rc = put(text, "hash_seed", cJSON_CreateNumber((double)f->hash_seed));
    }
    if (rc == 0) {
        rc = put(text, "ngrams", cJSON_CreateNumber(2));
    }
    if (rc == 0) {
        rc = put(obj, "na_values", na_json(&f->na));
    }
    return rc;
}

/* Reads an optional finite number member; @return 1 read, 0 absent, -1 wrong type. */
static int get_num(const cJSON *o, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (x == NULL) {
        return 0;
    }
    if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
        return -1;
    }
    *v = x->valuedouble;
    return 1;
}

/* Reads an array of distinct strings into *out (n of them). */
static int get_strs(const cJSON *a, size_t max, char ***out, size_t *n, const char *path,
                    struct nn_err *err)
{
    if (!cJSON_IsArray(a)) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s must be an array of strings", path);
    }
    size_t cnt = (size_t)cJSON_GetArraySize(a);
    if (cnt > max) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s has more than %zu entries", path,
                             max);
    }
    char **v = nn_calloc(cnt ? cnt : 1, sizeof(char *));
    if (v == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory reading %s", path);
    }
    size_t k = 0;
    const cJSON *x;
    int rc = 0;
    cJSON_ArrayForEach(x, a)
    {
        if (!cJSON_IsString(x) || x->valuestring[0] == '\0' ||
            strlen(x->valuestring) > FEAT_MAX_CAT) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s[%zu] must be a non-empty string",
                               path, k);
            break;
        }
        for (size_t j = 0; j < k; j++) {
            if (strcmp(v[j], x->valuestring) == 0) {
                rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s: '%.64s' is repeated", path,
                                   x->valuestring);
                break;
            }
        }
        if (rc != 0) {
            break;
        }
        v[k] = nn_strdup(x->valuestring);
        if (v[k] == NULL) {
            rc = nn_err_set(err, NN_ENOMEM, "out of memory reading %s", path);
            break;
        }
        k++;
    }
    if (rc != 0) {
        nn_free_strv(v, k);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* A text input's "decoder": absent = the default one, null or "" = none, else its name. */
static int decoder_from_json(const cJSON *x, size_t i, struct tab_feat_input *in,
                             struct nn_err *err)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(x, "decoder");
    char path[64];

    in->decoder = NULL;
    if (d == NULL) {
        in->decoder = model_text_decoder_find(TAB_FEAT_V1_DECODER);
        return 0;
    }
    if (cJSON_IsNull(d) || (cJSON_IsString(d) && d->valuestring[0] == '\0')) {
        return 0;
    }
    snprintf(path, sizeof(path), "inputs[%zu].decoder", i);
    if (cJSON_IsString(d)) {
        in->decoder = model_text_decoder_find(d->valuestring);
    }
    if (in->decoder == NULL) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                             "%s must be null or a known decoder (\"%s\")", path,
                             TAB_FEAT_V1_DECODER);
    }
    return 0;
}

static int input_from_json(const cJSON *x, size_t i, struct tab_feat_input *in, struct nn_err *err)
{
    char path[64];
    if (!cJSON_IsObject(x)) {
        snprintf(path, sizeof(path), "inputs[%zu]", i);
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s must be an object", path);
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(x, "name");
    snprintf(path, sizeof(path), "inputs[%zu].name", i);
    if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
        strlen(name->valuestring) > FEAT_MAX_NAME) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s must be a non-empty string", path);
    }
    in->name = nn_strdup(name->valuestring);
    if (in->name == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory reading inputs");
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(x, "type");
    snprintf(path, sizeof(path), "inputs[%zu].type", i);
    if (!cJSON_IsString(type)) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                             "%s must be \"numeric\", \"categorical\" or \"text\"", path);
    }
    const cJSON *scale = cJSON_GetObjectItemCaseSensitive(x, "scale");
    in->sd = 1;
    for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
        in->shape_sd[j] = 1;
    }
    if (strcmp(type->valuestring, "numeric") == 0) {
        in->type = TAB_COL_NUMERIC;
        snprintf(path, sizeof(path), "inputs[%zu].scale", i);
        if (scale == NULL || cJSON_IsFalse(scale)) {
            in->scale = 0;
            in->mean = 0;
        } else if (cJSON_IsNumber(scale) && tab_feat_good_scale(scale->valuedouble)) {
            in->scale = 1;
            in->sd = scale->valuedouble;
            snprintf(path, sizeof(path), "inputs[%zu].mean", i);
            if (get_num(x, "mean", &in->mean) != 1) {
                return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                                     "%s must be a number when scale is given", path);
            }
        } else {
            return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                                 "%s must be a positive number or false", path);
        }
        in->fill = in->mean;
        snprintf(path, sizeof(path), "inputs[%zu].fill", i);
        if (get_num(x, "fill", &in->fill) < 0) {
            return nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s must be a number", path);
        }
    } else if (strcmp(type->valuestring, "categorical") == 0) {
        in->type = TAB_COL_CATEGORICAL;
        snprintf(path, sizeof(path), "inputs[%zu].categories", i);
        int rc = get_strs(cJSON_GetObjectItemCaseSensitive(x, "categories"), FEAT_MAX_CATS,
                          &in->categories, &in->n_categories, path, err);
        if (rc != 0) {
            return rc;
        }
        if (tab_feat_build_order(in) != 0) {
            return nn_err_set(err, NN_ENOMEM, "out of memory reading inputs");
        }
    } else if (strcmp(type->valuestring, "text") == 0) {
        in->type = TAB_COL_TEXT;
        int rc = decoder_from_json(x, i, in, err);
        if (rc != 0) {
            return rc;
        }
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, "shape_mean");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(x, "shape_scale");
        if (m == NULL && s == NULL) {
            in->scale = 0;
        } else {
            in->scale = 1;
            for (int pass = 0; pass < 2; pass++) {
                const cJSON *a = pass ? s : m;
                snprintf(path, sizeof(path), "inputs[%zu].%s", i,
                         pass ? "shape_scale" : "shape_mean");
                if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != TAB_FEAT_N_SHAPE) {
                    return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                                         "%s must be an array of %d numbers", path,
                                         TAB_FEAT_N_SHAPE);
                }
                for (int j = 0; j < TAB_FEAT_N_SHAPE; j++) {
                    const cJSON *v = cJSON_GetArrayItem(a, j);
                    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) ||
                        (pass && !tab_feat_good_scale(v->valuedouble))) {
                        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                                             "%s[%d] must be a %snumber", path, j,
                                             pass ? "positive " : "");
                    }
                    if (pass) {
                        in->shape_sd[j] = v->valuedouble;
                    } else {
                        in->shape_mean[j] = v->valuedouble;
                    }
                }
            }
        }
    } else {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                             "%s must be \"numeric\", \"categorical\" or \"text\"", path);
    }
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(x, "missing_indicator");
    snprintf(path, sizeof(path), "inputs[%zu].missing_indicator", i);
    if (mi != NULL && (!cJSON_IsBool(mi) || (cJSON_IsTrue(mi) && in->type == TAB_COL_TEXT))) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, path,
                             "%s must be true or false (false for a text input)", path);
    }
    in->missing_col = cJSON_IsTrue(mi);
    if (in->cat_order == NULL && tab_feat_build_order(in) != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory reading inputs");
    }
    return 0;
}

int model_features_from_json(const cJSON *doc, struct tab_features **out, struct nn_err *err)
{
    struct tab_features *f = NULL;
    int rc;
    *out = NULL;
    if (!cJSON_IsObject(doc)) {
        return nn_err_set(err, NN_EFORMAT, "the model must be a JSON object");
    }
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(doc, "inputs");
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1 ||
        (size_t)cJSON_GetArraySize(inputs) > FEAT_MAX_INPUTS) {
        return nn_err_set_at(err, NN_EFORMAT, 0, 0, "inputs",
                             "inputs must be a non-empty array of inputs");
    }
    size_t n = (size_t)cJSON_GetArraySize(inputs);
    f = nn_calloc(1, sizeof(*f));
    if (f != NULL) {
        f->inputs = nn_calloc(n, sizeof(*f->inputs));
    }
    if (f == NULL || f->inputs == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the model");
        goto fail;
    }
    f->n_inputs = n;
    f->y_sd = 1;
    f->hash_seed = TAB_FEAT_HASH_SEED;
    size_t i = 0;
    const cJSON *x;
    cJSON_ArrayForEach(x, inputs)
    {
        rc = input_from_json(x, i, &f->inputs[i], err);
        if (rc != 0) {
            goto fail;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(f->inputs[j].name, f->inputs[i].name) == 0) {
                char path[64];
                snprintf(path, sizeof(path), "inputs[%zu].name", i);
                rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, path, "%s: '%.64s' is repeated", path,
                                   f->inputs[i].name);
                goto fail;
            }
        }
        i++;
    }
    const cJSON *label = cJSON_GetObjectItemCaseSensitive(doc, "label");
    if (!cJSON_IsObject(label)) {
        rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "label", "label must be an object");
        goto fail;
    }
    const cJSON *lname = cJSON_GetObjectItemCaseSensitive(label, "name");
    if (!cJSON_IsString(lname) || lname->valuestring[0] == '\0' ||
        strlen(lname->valuestring) > FEAT_MAX_NAME) {
        rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "label.name",
                           "label.name must be a non-empty string");
        goto fail;
    }
    f->label = nn_strdup(lname->valuestring);
    if (f->label == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory reading the model");
        goto fail;
    }
    const cJSON *classes = cJSON_GetObjectItemCaseSensitive(label, "classes");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(doc, "task");
    int regression;
    if (task == NULL) {
        regression = classes == NULL;
    } else if (cJSON_IsString(task) && strcmp(task->valuestring, "regression") == 0) {
        regression = 1;
    } else if (cJSON_IsString(task) && (strcmp(task->valuestring, "classification") == 0 ||
                                        strcmp(task->valuestring, "binary") == 0 ||
                                        strcmp(task->valuestring, "multiclass") == 0)) {
        regression = 0;
    } else {
        rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "task",
                           "task must be \"classification\" or \"regression\"");
        goto fail;
    }
    if (regression) {
        f->task = NN_TASK_REGRESSION;
        int a = get_num(label, "mean", &f->y_mean);
        int b = get_num(label, "scale", &f->y_sd);
        if (a < 0 || b < 0 || !tab_feat_good_scale(f->y_sd)) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, a < 0 ? "label.mean" : "label.scale",
                               "label.mean and label.scale must be numbers (scale > 0)");
            goto fail;
        }
    } else {
        char **cl = NULL;
        size_t nc = 0;
        rc = get_strs(classes, FEAT_MAX_CLASSES, &cl, &nc, "label.classes", err);
        if (rc != 0) {
            goto fail;
        }
        f->classes = cl;
        f->n_classes = (int)nc;
        if (nc < 2) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "label.classes",
                               "label.classes needs at least two classes");
            goto fail;
        }
        f->task = nc == 2 ? NN_TASK_BINARY : NN_TASK_MULTICLASS;
    }
    const cJSON *text = cJSON_GetObjectItemCaseSensitive(doc, "text");
    if (text != NULL) {
        double v;
        if (!cJSON_IsObject(text)) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "text", "text must be an object");
            goto fail;
        }
        int k = get_num(text, "hash_bits", &v);
        if (k < 0 || (k == 1 && v != TAB_FEAT_HASH_BITS)) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "text.hash_bits", "text.hash_bits must be %d",
                               TAB_FEAT_HASH_BITS);
            goto fail;
        }
        k = get_num(text, "ngrams", &v);
        if (k < 0 || (k == 1 && v != 2)) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "text.ngrams", "text.ngrams must be 2");
            goto fail;
        }
        k = get_num(text, "hash_seed", &v);
        if (k < 0 || (k == 1 && (v < 0 || v > 4294967295.0 || v != floor(v)))) {
            rc = nn_err_set_at(err, NN_EFORMAT, 0, 0, "text.hash_seed",
                               "text.hash_seed must be an integer in [0, 2^32)");
            goto fail;
        }
        if (k == 1) {
            f->hash_seed = (uint32_t)v;
        }
    }
    rc = na_from_json(doc, &f->na, err);
    if (rc != 0) {
        goto fail;
    }
    if (tab_feat_layout(f) != 0) {
        rc = nn_err_set_at(err, NN_ERANGE, 0, 0, "inputs", "too many dense features");
        goto fail;
    }
    *out = f;
    return 0;
fail:
    tab_features_free(f);
    return rc;
}
