/*
 * model_card: the JSON a trained model describes itself with: metrics, the epoch history, the
 * parameters as resolved at training, and the card (inputs, label, network, columns).
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "nn/alloc.h"

cJSON *model_json_push(cJSON *a, cJSON *item)
{
    if (item == NULL || !cJSON_AddItemToArray(a, item)) {
        cJSON_Delete(item);
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

/* Adds a number, or null when it is not finite (JSON has no NaN). */
static void add_num(cJSON *o, const char *k, double v)
{
    if (isfinite(v)) {
        cJSON_AddNumberToObject(o, k, v);
    } else {
        cJSON_AddNullToObject(o, k);
    }
}

cJSON *model_metrics(const struct model *m)
{
    cJSON *o = cJSON_CreateObject();

    if (o == NULL) {
        return NULL;
    }
    if (m->feat->task == NN_TASK_REGRESSION) {
        add_num(o, "val_rmse", m->metrics.rmse);
        add_num(o, "val_mae", m->metrics.mae);
        add_num(o, "val_loss", m->metrics.loss);
    } else {
        add_num(o, "val_accuracy", m->metrics.accuracy);
        add_num(o, "val_loss", m->metrics.log_loss);
        if (m->feat->n_classes == 2) {
            const char *src;

            add_num(o, "val_auc", m->metrics.auc);
            cJSON_AddNumberToObject(o, "threshold", model_threshold(m, &src));
            cJSON_AddStringToObject(o, "threshold_source", src);
        }
    }
    if (m->metrics.epochs_run > 0) {
        cJSON_AddNumberToObject(o, "best_epoch", m->metrics.best_epoch);
        cJSON_AddNumberToObject(o, "epochs_run", m->metrics.epochs_run);
        cJSON_AddNumberToObject(o, "train_rows", (double)m->metrics.train_rows);
        cJSON_AddNumberToObject(o, "val_rows", (double)m->metrics.val_rows);
    }
    return o;
}

cJSON *model_history(const struct model *m)
{
    int reg = m->feat->task == NN_TASK_REGRESSION;
    cJSON *a = cJSON_CreateArray();
    size_t i;

    if (a == NULL) {
        return NULL;
    }
    for (i = 0; i < m->n_history; i++) {
        const struct nn_epoch_stats *h = &m->history[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(a, o);
        cJSON_AddNumberToObject(o, "epoch", h->epoch);
        add_num(o, "train_loss", h->train_loss);
        add_num(o, "val_loss", h->val_loss);
        add_num(o, reg ? "val_rmse" : "val_accuracy", h->val_metric);
        cJSON_AddNumberToObject(o, "seconds", h->seconds);
    }
    return a;
}

/* Comma-separated list -> JSON array of names; the resolved list when names is NULL. */
static cJSON *names_of_type(const struct model *m, enum tab_col_type t)
{
    cJSON *a = cJSON_CreateArray();
    size_t i;

    for (i = 0; i < m->feat->n_inputs; i++) {
        if (m->feat->inputs[i].type == t) {
            cJSON_AddItemToArray(a, cJSON_CreateString(m->feat->inputs[i].name));
        }
    }
    return a;
}

/* Replaces o's key by v (which may be NULL: out of memory). Takes v, even on failure. */
static int replace(cJSON *o, const char *key, cJSON *v)
{
    if (v != NULL && cJSON_ReplaceItemInObjectCaseSensitive(o, key, v)) {
        return 1;
    }
    cJSON_Delete(v);
    return 0;
}

cJSON *model_params_json(const struct model *m)
{
    cJSON *o = model_params_to_json(&m->params);
    cJSON *ign = cJSON_CreateArray();
    int ok = o != NULL && ign != NULL;

    for (size_t i = 0; ok && i < m->n_ignored; i++) {
        ok = cJSON_AddItemToArray(ign, cJSON_CreateString(m->ignored[i]));
    }
    if (!ok) {
        cJSON_Delete(ign);
        cJSON_Delete(o);
        return NULL;
    }
    /* the values inferred at training replace the ones given */
    ok = replace(o, "label", cJSON_CreateString(m->feat->label));
    ok = replace(o, "task", cJSON_CreateString(model_task_name(m->feat->task))) && ok;
    ok = replace(o, "text_columns", names_of_type(m, TAB_COL_TEXT)) && ok;
    ok = replace(o, "categorical_columns", names_of_type(m, TAB_COL_CATEGORICAL)) && ok;
    ok = replace(o, "ignore_columns", ign) && ok;
    cJSON *na = cJSON_CreateArray(); /* the markers the model reads with */
    for (int i = 0; na != NULL && i < m->feat->na.n; i++) {
        cJSON_AddItemToArray(na, cJSON_CreateString(m->feat->na.items[i]));
    }
    ok = replace(o, "na_values", na) && ok;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* A net's hidden widths, activation and parameter count (the card's architecture terms). */
static void net_shape_json(cJSON *o, const struct nn_net *net)
{
    cJSON *h = cJSON_AddArrayToObject(o, "hidden");

    for (int l = 0; l + 1 < net->n_layers; l++) {
        cJSON_AddItemToArray(h, cJSON_CreateNumber(net->layers[l].out));
    }
    cJSON_AddStringToObject(o, "activation",
                            net->n_layers > 1 ? nn_act_name(net->layers[0].act) : "none");
    cJSON_AddNumberToObject(o, "parameters", (double)net->n_params);
}

/* The card's "ensemble": {k, why, members: [{hidden, activation, parameters, l2,
   learning_rate, epochs, origin}]}. */
static cJSON *ensemble_json(const struct model *m)
{
    cJSON *e = cJSON_CreateObject();
    cJSON *mb = cJSON_AddArrayToObject(e, "members");

    cJSON_AddNumberToObject(e, "k", m->n_nets);
    if (m->why != NULL) {
        cJSON_AddStringToObject(e, "why", m->why);
    } else {
        cJSON_AddNullToObject(e, "why");
    }
    for (int i = 0; i < m->n_nets; i++) {
        const struct model_member *x = &m->member[i];
        cJSON *o = cJSON_CreateObject();

        cJSON_AddItemToArray(mb, o);
        net_shape_json(o, m->nets[i]);
        cJSON_AddNumberToObject(o, "l2", model_float_json(x->l2));
        cJSON_AddNumberToObject(o, "learning_rate", model_float_json(x->learning_rate));
        cJSON_AddNumberToObject(o, "epochs", x->epochs);
        cJSON_AddStringToObject(o, "origin", x->origin);
    }
    return e;
}


cJSON *model_card(const struct model *m)
{
    const struct tab_features *f = m->feat;
    cJSON *card = cJSON_CreateObject();
    cJSON *inputs, *label, *cls, *arch, *layers;
    size_t i;
    int l;

    if (card == NULL) {
        return NULL;
    }
    cJSON_AddStringToObject(card, "task", model_task_name(f->task));
    inputs = cJSON_AddArrayToObject(card, "inputs");
    for (i = 0; i < f->n_inputs; i++) {
        cJSON *in = cJSON_CreateObject();

        cJSON_AddItemToArray(inputs, in);
        cJSON_AddStringToObject(in, "name", f->inputs[i].name);
        cJSON_AddStringToObject(in, "type", tab_col_type_name(f->inputs[i].type));
        if (f->inputs[i].type == TAB_COL_CATEGORICAL) {
            cJSON *c = cJSON_AddArrayToObject(in, "categories");
            size_t j;

            for (j = 0; j < f->inputs[i].n_categories; j++) {
                cJSON_AddItemToArray(c, cJSON_CreateString(f->inputs[i].categories[j]));
            }
        }
    }
    label = cJSON_AddObjectToObject(card, "label");
    cJSON_AddStringToObject(label, "name", f->label);
    if (f->task != NN_TASK_REGRESSION) {
        cls = cJSON_AddArrayToObject(label, "classes");
        for (l = 0; l < f->n_classes; l++) {
            cJSON_AddItemToArray(cls, cJSON_CreateString(f->classes[l]));
        }
    }
    arch = cJSON_AddObjectToObject(card, "architecture");
    layers = cJSON_AddArrayToObject(arch, "layers");
    cJSON_AddItemToArray(layers, cJSON_CreateNumber(m->nets[0]->dense_in + m->nets[0]->sparse_in));
    for (l = 0; l < m->nets[0]->n_layers; l++) {
        cJSON_AddItemToArray(layers, cJSON_CreateNumber(m->nets[0]->layers[l].out));
    }
    cJSON_AddStringToObject(arch, "activation",
                            m->nets[0]->n_layers > 1 ? nn_act_name(m->nets[0]->layers[0].act)
                                                     : "none");
    cJSON_AddStringToObject(arch, "output",
                            nn_act_name(m->nets[0]->layers[m->nets[0]->n_layers - 1].act));
    cJSON_AddNumberToObject(arch, "parameters", (double)m->nets[0]->n_params);
    cJSON_AddItemToObject(card, "metrics", model_metrics(m));
    cJSON_AddItemToObject(card, "params", model_params_json(m));
    cJSON_AddItemToObject(card, "columns", model_columns_json(m));
    if (m->warm != NULL) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(m->warm, "base");

        if (cJSON_IsString(b)) {
            cJSON_AddStringToObject(card, "base", b->valuestring); /* the lineage */
        }
        cJSON_AddItemToObject(card, "warm_start", cJSON_Duplicate(m->warm, 1));
    }
    cJSON_AddItemToObject(card, "importance", model_importance_json(m));
    if (m->search != NULL) {
        cJSON_AddItemToObject(card, "auto", cJSON_Duplicate(m->search, 1));
    }
    if (m->n_nets > 1) {
        cJSON_AddItemToObject(card, "ensemble", ensemble_json(m));
    }
    return card;
}
