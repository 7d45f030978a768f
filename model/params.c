/*
 * params: the table of training parameters and the generic code that reads, defaults and
 * writes a parameter from its row (by type, at the row's offset in struct model_params).
 * A parameter needing more than its type says gets an after_set / to_json hook in its row;
 * the rest of the code never names a parameter.
 */
#include "model/params.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/alloc.h"
#include "tab/features.h"

/* ------------------------------------------------------------------------------------------
 * The table
 * ---------------------------------------------------------------------------------------- */

#define AT(f)                                                                                      \
    .offset = offsetof(struct model_params, f), .size = sizeof(((struct model_params *)0)->f)

static const struct model_param_choice task_choices[] = {
    {"classification", NN_TASK_BINARY},
    {"regression", NN_TASK_REGRESSION},
    {"classification", NN_TASK_MULTICLASS},
    {"auto", -1},
    {NULL, 0},
};
static const struct model_param_choice act_choices[] = {
    {"relu", NN_ACT_RELU},
    {"tanh", NN_ACT_TANH},
    {"sigmoid", NN_ACT_SIGMOID},
    {"leaky_relu", NN_ACT_LEAKY_RELU},
    {NULL, 0},
};
static const struct model_param_choice optim_choices[] = {
    {"adam", NN_OPTIM_ADAM},
    {"sgd", NN_OPTIM_SGD},
    {"momentum", NN_OPTIM_MOMENTUM},
    {NULL, 0},
};
static const struct model_param_choice delim_choices[] = {
    {",", ','}, {";", ';'}, {"\t", '\t'}, {"tab", '\t'}, {"\\t", '\t'}, {NULL, 0},
};

static const struct model_param_choice impute_choices[] = {
    {"median", TAB_FEAT_IMPUTE_MEDIAN},
    {"mean", TAB_FEAT_IMPUTE_MEAN},
    {NULL, 0},
};

static const struct model_param_choice bool_choices[] = {
    {"false", 0}, {"true", 1}, {"0", 0}, {"1", 1}, {"no", 0}, {"yes", 1}, {NULL, 0},
};

static const struct model_param_choice metric_choices[] = {
    {"auto", MODEL_METRIC_DEFAULT},
    {"log_loss", MODEL_METRIC_LOG_LOSS},
    {"rmse", MODEL_METRIC_RMSE},
    {"accuracy", MODEL_METRIC_ACCURACY},
    {"auc", MODEL_METRIC_AUC},
    {"mae", MODEL_METRIC_MAE},
    {NULL, 0},
};

static void batch_size_given(struct model_params *p)
{
    p->batch_auto = 0;
}

static void epochs_given(struct model_params *p)
{
    p->epochs_auto = 0;
}

static void patience_given(struct model_params *p)
{
    p->patience_auto = 0;
}

double model_float_json(float v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.7g", (double)v);
    return strtod(buf, NULL);
}

float model_params_learning_rate(const struct model_params *p)
{
    float lr = p->train.learning_rate;

    return lr > 0 ? lr : (p->train.optimizer == NN_OPTIM_ADAM ? 0.001f : 0.01f);
}

/* learning_rate: not given means the optimiser's own. */
static cJSON *learning_rate_json(const struct model_params *p)
{
    float lr = model_params_learning_rate(p);
    return cJSON_CreateNumber(model_float_json(lr));
}

static const struct model_param table[] = {
    {.name = "label",
     .type = MODEL_PARAM_STRING,
     AT(label),
     .unset = "the last column",
     .metavar = "COL",
     .help = "column to predict"},
    {.name = "task",
     .type = MODEL_PARAM_CHOICE,
     AT(task),
     .unset = "inferred",
     .unset_value = -1,
     .choices = task_choices,
     .help = "classification (string labels, or few distinct integers) or regression"},
    {.name = "hidden",
     .type = MODEL_PARAM_WIDTHS,
     .offset = offsetof(struct model_params, hidden),
     .size = sizeof(int),
     .def = "64",
     .min = 1,
     .max = 4096,
     .metavar = "W,W",
     .help = "hidden layer widths, comma separated (64,32); empty: no hidden layer (logistic "
             "/ linear regression)"},
    {.name = "activation",
     .type = MODEL_PARAM_CHOICE,
     AT(activation),
     .def = "relu",
     .choices = act_choices,
     .help = "activation of the hidden layers"},
    {.name = "optimizer",
     .type = MODEL_PARAM_CHOICE,
     AT(train.optimizer),
     .def = "adam",
     .choices = optim_choices,
     .help = "optimiser"},
    {.name = "learning_rate",
     .type = MODEL_PARAM_NUMBER,
     AT(train.learning_rate),
     .unset = "0.001 for adam, 0.01 for the others",
     .min = 0,
     .max = 10,
     .flags = MODEL_PARAM_EXCL_MIN,
     .help = "step size (a warm start: half of that when not given)",
     .to_json = learning_rate_json},
    {.name = "epochs",
     .type = MODEL_PARAM_INT,
     AT(train.epochs),
     .def = "300",
     .min = 1,
     .max = 100000,
     .after_set = epochs_given,
     .help = "maximum epochs (a warm start: 10 when not given)"},
    {.name = "batch_size",
     .type = MODEL_PARAM_INT,
     AT(train.batch_size),
     .def = "32",
     .min = 1,
     .max = 65536,
     .after_set = batch_size_given,
     .help = "mini-batch size; not given: min(32, training rows / 10)"},
    {.name = "l2",
     .type = MODEL_PARAM_NUMBER,
     AT(train.l2),
     .unset = "chosen on the data: the best of 1e-4, 1e-3, 1e-2, 1e-1 on 5 seeded holdouts for "
              "tables up to 5,000 rows without text, else 1e-4",
     .unset_value = -1,
     .min = 0,
     .max = 10,
     .help = "L2 weight decay"},
    {.name = "validation_split",
     .type = MODEL_PARAM_NUMBER,
     AT(validation_split),
     .def = "0.2",
     .min = 0,
     .max = 0.9,
     .help = "fraction held out, stratified for classification; early stopping watches it"},
    {.name = "patience",
     .type = MODEL_PARAM_INT,
     AT(train.patience),
     .def = "20",
     .min = 0,
     .max = 100000,
     .after_set = patience_given,
     .help = "epochs without validation improvement before stopping; the best epoch's "
             "weights are kept (a warm start: 5 when not given)"},
    {.name = "seed",
     .type = MODEL_PARAM_UINT64,
     AT(seed),
     .def = "42",
     .help = "same data + same parameters + same seed = the same model, bit for bit"},
    {.name = "delimiter",
     .type = MODEL_PARAM_CHOICE,
     AT(delimiter),
     .def = ",",
     .choices = delim_choices,
     .metavar = ",|;|tab",
     .help = "CSV delimiter"},
    {.name = "threshold",
     .type = MODEL_PARAM_NUMBER,
     AT(threshold),
     .unset = "0.5",
     .unset_value = -1,
     .min = 0,
     .max = 1,
     .flags = MODEL_PARAM_OMIT,
     .help = "binary: the decision threshold on the positive class's probability"},
    {.name = "target_fpr",
     .type = MODEL_PARAM_NUMBER,
     AT(target_fpr),
     .unset = "none",
     .unset_value = -1,
     .min = 0,
     .max = 1,
     .flags = MODEL_PARAM_EXCL_MIN | MODEL_PARAM_EXCL_MAX | MODEL_PARAM_OMIT,
     .help = "binary: choose the threshold that keeps the validation false-positive rate at "
             "or under this"},
    {.name = "text_columns",
     .type = MODEL_PARAM_LIST,
     AT(text_columns),
     .unset = "inferred",
     .help = "columns to treat as text"},
    {.name = "categorical_columns",
     .type = MODEL_PARAM_LIST,
     AT(categorical_columns),
     .unset = "inferred",
     .help = "columns to treat as categorical"},
    {.name = "ignore_columns",
     .type = MODEL_PARAM_LIST,
     AT(ignore_columns),
     .unset = "none",
     .help = "columns to leave out"},
    {.name = "na_values",
     .type = MODEL_PARAM_LIST,
     AT(na_values),
     .unset =
         "the default markers (empty, NA, NaN, nan, <NA>, N/A, null, NULL, None, ?, #N/A, ...)",
     .help = "the cells that mean a missing value, replacing the default list"},
    {.name = "impute",
     .type = MODEL_PARAM_CHOICE,
     AT(impute),
     .def = "median",
     .choices = impute_choices,
     .help = "what a missing numeric cell becomes (a missing-indicator feature is added too)"},
    {.name = "auto",
     .type = MODEL_PARAM_BOOL,
     AT(auto_search),
     .def = "false",
     .choices = bool_choices,
     .help = "search hidden, l2 and learning_rate by cross-validation within max_seconds / "
             "max_models; the other parameters given are fixed"},
    {.name = "max_seconds",
     .type = MODEL_PARAM_NUMBER,
     AT(max_seconds),
     .def = "60",
     .min = 0,
     .max = 604800,
     .help = "auto: time limit of the search and the final training (0: none; max_models then "
             "bounds it)"},
    {.name = "max_models",
     .type = MODEL_PARAM_INT,
     AT(max_models),
     .def = "0",
     .min = 0,
     .max = 100000,
     .help = "auto: candidates to try at most (0: until max_seconds)"},
    {.name = "stopping_rounds",
     .type = MODEL_PARAM_INT,
     AT(stopping_rounds),
     .def = "8",
     .min = 0,
     .max = 100000,
     .help = "auto: after the fixed plan, stop when the best mean fold metric has not improved "
             "by more than stopping_tolerance over this many candidates (0: off)"},
    {.name = "stopping_tolerance",
     .type = MODEL_PARAM_NUMBER,
     AT(stopping_tolerance),
     .unset = "from the rows, as H2O AutoML: min(0.05, max(0.001, 1/sqrt(rows)))",
     .unset_value = -1,
     .min = 0,
     .max = 1,
     .help = "auto: the relative improvement of the best that counts for stopping_rounds"},
    {.name = "folds",
     .type = MODEL_PARAM_INT,
     AT(folds),
     .unset = "5; 3 above 50,000 rows; a holdout split above 500,000",
     .unset_value = 0,
     .min = 1,
     .max = 20,
     .help = "auto: cross-validation folds (1: one holdout split of a fifth of the rows)"},
    {.name = "metric",
     .type = MODEL_PARAM_CHOICE,
     AT(metric),
     .def = "auto",
     .choices = metric_choices,
     .help = "auto: what ranks the candidates (auto: log_loss for classification, rmse for "
             "regression)"},
    {.name = "ensemble",
     .type = MODEL_PARAM_BOOL,
     AT(ensemble),
     .def = "true",
     .choices = bool_choices,
     .help = "average networks behind one pipeline: auto's top candidates when better on the "
             "folds (k chosen on them); the defaults' refitted net with the nets trained while "
             "choosing l2"},
    {.name = "base",
     .type = MODEL_PARAM_STRING,
     AT(base),
     .unset = "none: a new network",
     .flags = MODEL_PARAM_OMIT,
     .metavar = "MODEL",
     .help = "warm start: begin from this model's weights and feature pipeline (HTTP: a model "
             "name, name@version; CLI: a model file); the CSV must fit its inputs and classes"},
};

#define N_PARAMS (sizeof(table) / sizeof(table[0]))

const struct model_param *model_param_table(size_t *n)
{
    *n = N_PARAMS;
    return table;
}

const struct model_param *model_param_find(const char *name)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (strcmp(table[i].name, name) == 0) {
            return &table[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * Descriptions: option, placeholder, what is accepted
 * ---------------------------------------------------------------------------------------- */

char *model_param_option(const struct model_param *d, char *buf, size_t cap)
{
    size_t i = 0, j;

    if (cap < 3) {
        return buf;
    }
    buf[i++] = '-';
    buf[i++] = '-';
    for (j = 0; d->name[j] != '\0' && i + 1 < cap; j++) {
        buf[i++] = d->name[j] == '_' ? '-' : d->name[j];
    }
    buf[i] = '\0';
    return buf;
}

/* Is c a word to list in help and errors? Not a repeated word, not one holding a control
   character (the tab itself: "tab" says it), not the "not given" word of a row without a
   default. Every word is accepted all the same. */
static int advertised(const struct model_param *d, const struct model_param_choice *c)
{
    for (const char *s = c->name; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20) {
            return 0;
        }
    }
    for (const struct model_param_choice *o = d->choices; o != c; o++) {
        if (strcmp(o->name, c->name) == 0) {
            return 0;
        }
    }
    return d->def != NULL || c->value != (int)d->unset_value;
}

/* The advertised words of a choice row, each between quote marks, joined by sep. */
static char *choice_words(const struct model_param *d, const char *quote, const char *sep,
                          char *buf, size_t cap)
{
    size_t len = 0;

    buf[0] = '\0';
    for (const struct model_param_choice *c = d->choices; c->name != NULL; c++) {
        if (!advertised(d, c)) {
            continue;
        }
        int n =
            snprintf(buf + len, cap - len, "%s%s%s%s", len > 0 ? sep : "", quote, c->name, quote);
        if (n < 0 || (size_t)n >= cap - len) {
            break;
        }
        len += (size_t)n;
    }
    return buf;
}

const char *model_param_metavar(const struct model_param *d, char *buf, size_t cap)
{
    if (d->metavar != NULL) {
        return d->metavar;
    }
    switch (d->type) {
    case MODEL_PARAM_STRING:
        return "TEXT";
    case MODEL_PARAM_LIST:
        return "A,B";
    case MODEL_PARAM_INT:
    case MODEL_PARAM_UINT64:
        return "N";
    case MODEL_PARAM_NUMBER:
        return "X";
    case MODEL_PARAM_CHOICE:
    case MODEL_PARAM_BOOL:
        return choice_words(d, "", "|", buf, cap);
    case MODEL_PARAM_WIDTHS:
        return "W,W";
    }
    return "VALUE";
}

char *model_param_accepts(const struct model_param *d, char *buf, size_t cap)
{
    char words[256];

    switch (d->type) {
    case MODEL_PARAM_STRING:
        snprintf(buf, cap, "a column name");
        break;
    case MODEL_PARAM_LIST:
        snprintf(buf, cap, "a comma-separated list of column names");
        break;
    case MODEL_PARAM_INT:
        snprintf(buf, cap, "an integer from %.10g to %.10g", d->min, d->max);
        break;
    case MODEL_PARAM_UINT64:
        snprintf(buf, cap, "a non-negative integer");
        break;
    case MODEL_PARAM_NUMBER:
        if ((d->flags & (MODEL_PARAM_EXCL_MIN | MODEL_PARAM_EXCL_MAX)) == 0) {
            snprintf(buf, cap, "a number from %.10g to %.10g", d->min, d->max);
        } else {
            snprintf(buf, cap, "a number in %c%.10g, %.10g%c",
                     d->flags & MODEL_PARAM_EXCL_MIN ? '(' : '[', d->min, d->max,
                     d->flags & MODEL_PARAM_EXCL_MAX ? ')' : ']');
        }
        break;
    case MODEL_PARAM_CHOICE:
    case MODEL_PARAM_BOOL:
        snprintf(buf, cap, "one of %s", choice_words(d, "'", ", ", words, sizeof(words)));
        break;
    case MODEL_PARAM_WIDTHS:
        snprintf(buf, cap, "a comma-separated list of at most %d layer widths from %.10g to %.10g",
                 MODEL_MAX_HIDDEN, d->min, d->max);
        break;
    }
    return buf;
}

static const char *type_name(enum model_param_type t)
{
    static const char *const names[] = {"string", "list",   "integer", "integer",
                                        "number", "choice", "boolean", "widths"};

    return names[t];
}

cJSON *model_param_table_json(void)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON *arr = doc != NULL ? cJSON_AddArrayToObject(doc, "parameters") : NULL;
    char buf[256];

    if (arr == NULL) {
        cJSON_Delete(doc);
        return NULL;
    }
    for (size_t i = 0; i < N_PARAMS; i++) {
        const struct model_param *d = &table[i];
        cJSON *o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(doc);
            return NULL;
        }
        cJSON_AddStringToObject(o, "name", d->name);
        cJSON_AddStringToObject(o, "option", model_param_option(d, buf, sizeof(buf)));
        cJSON_AddStringToObject(o, "type", type_name(d->type));
        if (d->def != NULL) {
            cJSON_AddStringToObject(o, "default", d->def);
        } else {
            cJSON_AddNullToObject(o, "default");
        }
        cJSON_AddStringToObject(o, "default_text", d->def != NULL ? d->def : d->unset);
        if (d->type == MODEL_PARAM_INT || d->type == MODEL_PARAM_NUMBER ||
            d->type == MODEL_PARAM_WIDTHS) {
            cJSON_AddNumberToObject(o, "minimum", d->min);
            cJSON_AddNumberToObject(o, "maximum", d->max);
            cJSON_AddBoolToObject(o, "exclusive_minimum", (d->flags & MODEL_PARAM_EXCL_MIN) != 0);
            cJSON_AddBoolToObject(o, "exclusive_maximum", (d->flags & MODEL_PARAM_EXCL_MAX) != 0);
        } else if (d->type == MODEL_PARAM_UINT64) {
            cJSON_AddNumberToObject(o, "minimum", 0);
        }
        if (d->type == MODEL_PARAM_CHOICE || d->type == MODEL_PARAM_BOOL) {
            cJSON *c = cJSON_AddArrayToObject(o, "choices");
            for (const struct model_param_choice *ch = d->choices; c != NULL && ch->name != NULL;
                 ch++) {
                int seen = 0;
                for (const struct model_param_choice *o2 = d->choices; o2 != ch; o2++) {
                    seen |= strcmp(o2->name, ch->name) == 0;
                }
                if (!seen) {
                    cJSON_AddItemToArray(c, cJSON_CreateString(ch->name));
                }
            }
        }
        cJSON_AddStringToObject(o, "metavar", model_param_metavar(d, buf, sizeof(buf)));
        cJSON_AddStringToObject(o, "accepts", model_param_accepts(d, buf, sizeof(buf)));
        cJSON_AddStringToObject(o, "help", d->help);
    }
    return doc;
}

/* ------------------------------------------------------------------------------------------
 * Reading a value
 * ---------------------------------------------------------------------------------------- */

static void *field(struct model_params *p, const struct model_param *d)
{
    return (char *)p + d->offset;
}

static const void *cfield(const struct model_params *p, const struct model_param *d)
{
    return (const char *)p + d->offset;
}

static int bad_param(const struct model_param *d, const char *value, struct nn_err *err)
{
    char what[256];

    return nn_err_set_at(err, NN_EINVAL, 0, 0, d->name, "parameter '%s': '%.64s' is not %s",
                         d->name, value, model_param_accepts(d, what, sizeof(what)));
}

static int in_range(const struct model_param *d, double v)
{
    if (d->flags & MODEL_PARAM_EXCL_MIN ? v <= d->min : v < d->min) {
        return 0;
    }
    return d->flags & MODEL_PARAM_EXCL_MAX ? v < d->max : v <= d->max;
}

/* A whole decimal integer, optional sign, nothing after it. */
static int parse_long(const char *s, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

static void skip_spaces(const char **s)
{
    while (**s == ' ') {
        (*s)++;
    }
}

/* Comma-separated widths (spaces allowed around commas); "" is no hidden layer. */
static int parse_widths(const struct model_param *d, struct model_params *p, const char *value,
                        struct nn_err *err)
{
    int widths[MODEL_MAX_HIDDEN];
    int n = 0;
    const char *s = value;

    skip_spaces(&s);
    while (*s != '\0') {
        char *end;
        long w;

        errno = 0;
        w = strtol(s, &end, 10);
        if (end == s || errno != 0 || !in_range(d, (double)w)) {
            return bad_param(d, value, err);
        }
        if (n == MODEL_MAX_HIDDEN) {
            return nn_err_set_at(err, NN_EINVAL, 0, 0, d->name,
                                 "parameter '%s': at most %d hidden layers", d->name,
                                 MODEL_MAX_HIDDEN);
        }
        widths[n++] = (int)w;
        s = end;
        skip_spaces(&s);
        if (*s == ',') {
            s++;
            skip_spaces(&s);
            if (*s == '\0') {
                return bad_param(d, value, err);
            }
        } else if (*s != '\0') {
            return bad_param(d, value, err);
        }
    }
    memcpy(p->hidden, widths, sizeof(int) * (size_t)n);
    p->n_hidden = n;
    return 0;
}

static void store_int(void *at, size_t size, long v)
{
    if (size == sizeof(char)) {
        *(char *)at = (char)v;
    } else {
        *(int *)at = (int)v;
    }
}

static long load_int(const void *at, size_t size)
{
    return size == sizeof(char) ? (long)*(const char *)at : (long)*(const int *)at;
}

static void store_number(void *at, size_t size, double v)
{
    if (size == sizeof(float)) {
        *(float *)at = (float)v;
    } else {
        *(double *)at = v;
    }
}

static double load_number(const void *at, size_t size)
{
    return size == sizeof(float) ? (double)*(const float *)at : *(const double *)at;
}

/* Parses value into the row's field by its type; on error the field is unchanged. */
static int parse_value(const struct model_param *d, struct model_params *p, const char *value,
                       struct nn_err *err)
{
    void *at = field(p, d);
    char *end;
    long l;
    double v;

    switch (d->type) {
    case MODEL_PARAM_STRING:
    case MODEL_PARAM_LIST: {
        char *s = nn_strdup(value);
        if (s == NULL) {
            return nn_err_set_at(err, NN_ENOMEM, 0, 0, d->name, "out of memory");
        }
        nn_free(*(char **)at);
        *(char **)at = s;
        return 0;
    }
    case MODEL_PARAM_INT:
        if (parse_long(value, &l) != 0 || !in_range(d, (double)l)) {
            return bad_param(d, value, err);
        }
        *(int *)at = (int)l;
        return 0;
    case MODEL_PARAM_UINT64: {
        unsigned long long u;
        errno = 0;
        u = strtoull(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || value[0] == '-') {
            return bad_param(d, value, err);
        }
        *(unsigned long long *)at = u;
        return 0;
    }
    case MODEL_PARAM_NUMBER:
        errno = 0;
        v = strtod(value, &end);
        if (errno != 0 || end == value || *end != '\0' || !isfinite(v) || !in_range(d, v)) {
            return bad_param(d, value, err);
        }
        store_number(at, d->size, v);
        return 0;
    case MODEL_PARAM_CHOICE:
    case MODEL_PARAM_BOOL:
        for (const struct model_param_choice *c = d->choices; c->name != NULL; c++) {
            if (strcmp(c->name, value) == 0) {
                store_int(at, d->size, c->value);
                return 0;
            }
        }
        return bad_param(d, value, err);
    case MODEL_PARAM_WIDTHS:
        return parse_widths(d, p, value, err);
    }
    return bad_param(d, value, err);
}

/* Puts the row's field back to "not given" (rows without a default). */
static void set_unset(const struct model_param *d, struct model_params *p)
{
    void *at = field(p, d);

    switch (d->type) {
    case MODEL_PARAM_STRING:
    case MODEL_PARAM_LIST:
        nn_free(*(char **)at);
        *(char **)at = NULL;
        break;
    case MODEL_PARAM_INT:
    case MODEL_PARAM_CHOICE:
    case MODEL_PARAM_BOOL:
        store_int(at, d->size, (long)d->unset_value);
        break;
    case MODEL_PARAM_UINT64:
        *(unsigned long long *)at = (unsigned long long)d->unset_value;
        break;
    case MODEL_PARAM_NUMBER:
        store_number(at, d->size, d->unset_value);
        break;
    case MODEL_PARAM_WIDTHS:
        p->n_hidden = 0;
        break;
    }
}

int model_params_set(struct model_params *p, const char *key, const char *value, struct nn_err *err)
{
    const struct model_param *d = model_param_find(key);
    int rc;

    if (d == NULL) {
        return nn_err_set_at(err, NN_ENOTFOUND, 0, 0, key, "unknown parameter '%.64s'", key);
    }
    if (d->def == NULL && value[0] == '\0') {
        set_unset(d, p);
        return 0;
    }
    rc = parse_value(d, p, value, err);
    if (rc == 0 && d->after_set != NULL) {
        d->after_set(p);
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Defaults, copies
 * ---------------------------------------------------------------------------------------- */

void model_params_default(struct model_params *p)
{
    memset(p, 0, sizeof(*p));
    nn_train_params_default(&p->train);
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (table[i].def == NULL) {
            set_unset(&table[i], p);
        } else {
            int rc = parse_value(&table[i], p, table[i].def, NULL);
            (void)rc; /* the defaults are parsed by tests/unit/test_params.c */
        }
    }
    p->batch_auto = 1;
    p->epochs_auto = 1;
    p->patience_auto = 1;
}

void model_params_fini(struct model_params *p)
{
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (table[i].type == MODEL_PARAM_STRING || table[i].type == MODEL_PARAM_LIST) {
            char **s = field(p, &table[i]);
            nn_free(*s);
            *s = NULL;
        }
    }
}

int model_params_copy(struct model_params *dst, const struct model_params *src)
{
    *dst = *src;
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (table[i].type == MODEL_PARAM_STRING || table[i].type == MODEL_PARAM_LIST) {
            *(char **)field(dst, &table[i]) = NULL;
        }
    }
    for (size_t i = 0; i < N_PARAMS; i++) {
        if (table[i].type == MODEL_PARAM_STRING || table[i].type == MODEL_PARAM_LIST) {
            const char *s = *(char *const *)cfield(src, &table[i]);
            char **to = field(dst, &table[i]);
            if (s != NULL && (*to = nn_strdup(s)) == NULL) {
                model_params_fini(dst);
                return NN_ENOMEM;
            }
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Writing JSON
 * ---------------------------------------------------------------------------------------- */

/* A comma-separated list as a JSON array of its non-empty items. */
static cJSON *list_json(const char *list)
{
    cJSON *arr = cJSON_CreateArray();
    const char *s = list;

    while (arr != NULL && *s != '\0') {
        size_t n = strcspn(s, ",");
        cJSON *item = n > 0 ? cJSON_CreateString("") : NULL;

        if (item != NULL) {
            char *text = nn_strndup(s, n);
            if (text == NULL || !cJSON_SetValuestring(item, text) ||
                !cJSON_AddItemToArray(arr, item)) {
                cJSON_Delete(item);
                nn_free(text);
                cJSON_Delete(arr);
                return NULL;
            }
            nn_free(text);
        }
        s += n;
        s += *s == ',';
    }
    return arr;
}

static int is_unset(const struct model_param *d, const struct model_params *p)
{
    const void *at = cfield(p, d);

    if (d->def != NULL) {
        return 0;
    }
    switch (d->type) {
    case MODEL_PARAM_STRING:
    case MODEL_PARAM_LIST:
        return *(char *const *)at == NULL;
    case MODEL_PARAM_INT:
    case MODEL_PARAM_CHOICE:
    case MODEL_PARAM_BOOL:
        return load_int(at, d->size) == (long)d->unset_value;
    case MODEL_PARAM_NUMBER:
        return load_number(at, d->size) == d->unset_value;
    default:
        return 0;
    }
}

/* The JSON value of one row, by its type (NULL when out of memory). */
static cJSON *value_json(const struct model_param *d, const struct model_params *p)
{
    const void *at = cfield(p, d);

    if (d->to_json != NULL) {
        return d->to_json(p);
    }
    if (is_unset(d, p)) {
        return cJSON_CreateNull();
    }
    switch (d->type) {
    case MODEL_PARAM_STRING:
        return cJSON_CreateString(*(char *const *)at);
    case MODEL_PARAM_LIST:
        return list_json(*(char *const *)at);
    case MODEL_PARAM_INT:
        return cJSON_CreateNumber((double)*(const int *)at);
    case MODEL_PARAM_UINT64:
        return cJSON_CreateNumber((double)*(const unsigned long long *)at);
    case MODEL_PARAM_NUMBER:
        return cJSON_CreateNumber(d->size == sizeof(float) ? model_float_json(*(const float *)at)
                                                           : *(const double *)at);
    case MODEL_PARAM_CHOICE: {
        long v = load_int(at, d->size);
        for (const struct model_param_choice *c = d->choices; c->name != NULL; c++) {
            if (c->value == v) {
                return cJSON_CreateString(c->name);
            }
        }
        return cJSON_CreateNull();
    }
    case MODEL_PARAM_BOOL:
        return cJSON_CreateBool(load_int(at, d->size) != 0);
    case MODEL_PARAM_WIDTHS:
        return cJSON_CreateIntArray(p->hidden, p->n_hidden);
    }
    return cJSON_CreateNull();
}

cJSON *model_params_to_json(const struct model_params *p)
{
    cJSON *o = cJSON_CreateObject();

    for (size_t i = 0; o != NULL && i < N_PARAMS; i++) {
        cJSON *v;

        if ((table[i].flags & MODEL_PARAM_OMIT) && is_unset(&table[i], p)) {
            continue;
        }
        v = value_json(&table[i], p);
        if (v == NULL || !cJSON_AddItemToObject(o, table[i].name, v)) {
            cJSON_Delete(v);
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}
