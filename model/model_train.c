/*
 * model_train: from a CSV file to a trained model, in phases: read the schema, split the rows
 * (stratified), fit the features on the training split, choose L2 and train the net with the
 * validation split deciding early stopping, compute the validation metrics (and the binary
 * threshold), refit on all rows.
 */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_priv.h"
#include "model/model_select.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/metrics.h"
#include "tab/csv.h"
#include "tab/schema.h"

int model_on_epoch(const struct nn_epoch_stats *st, void *ud)
{
    struct model_progress *c = ud;
    struct nn_epoch_stats s = *st;

    if (c->m->feat->task == NN_TASK_REGRESSION) {
        s.regression = 1;
        s.val_metric *= c->m->feat->y_sd; /* RMSE in label units */
    }
    if (c->m->n_history == c->cap) {
        struct nn_epoch_stats *h = nn_grow(c->m->history, &c->cap, 64, sizeof(*h));

        if (h == NULL) {
            return 1; /* stops training; reported as out of memory by the caller */
        }
        c->m->history = h;
    }
    c->m->history[c->m->n_history++] = s;
    return c->cb != NULL ? c->cb(&s, c->ud) : 0;
}

static int cmp_desc(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;

    return x < y ? 1 : (x > y ? -1 : 0);
}

/*
 * Sets the decision threshold of a binary model: the threshold= parameter, or for
 * target_fpr= the smallest threshold whose false-positive rate on the validation rows (rows of
 * the negative class scored >= threshold) is at most the target. out[i] = P(classes[1]).
 */
static int choose_threshold(struct model *m, const float *out, const struct nn_dataset *ds)
{
    int pos = model_positive_class(m);
    size_t n_neg = 0, i, allowed;
    float *neg;

    if (m->params.threshold >= 0) {
        m->metrics.threshold = m->params.threshold;
        m->metrics.threshold_source = MODEL_THRESHOLD_PARAM;
    }
    if (m->params.target_fpr < 0 || pos < 0) {
        return 0;
    }
    neg = nn_malloc(sizeof(float) * (ds->rows + 1));
    if (neg == NULL) {
        return NN_ENOMEM;
    }
    for (i = 0; i < ds->rows; i++) {
        if ((int)ds->y[i] != pos) {
            neg[n_neg++] = pos == 1 ? out[i] : 1.0f - out[i];
        }
    }
    if (n_neg > 0) {
        qsort(neg, n_neg, sizeof(float), cmp_desc);
        allowed = (size_t)floor(m->params.target_fpr * (double)n_neg);
        m->metrics.threshold = allowed >= n_neg ? 0.0 : (double)nextafterf(neg[allowed], 2.0f);
        if (m->metrics.threshold > 1.0) {
            m->metrics.threshold = 1.0;
        }
        m->metrics.threshold_source = MODEL_THRESHOLD_FPR;
    }
    nn_free(neg);
    return 0;
}

int model_compute_metrics(struct model *m, const struct nn_dataset *ds, struct nn_err *err)
{
    struct tab_features *f = m->feat;
    int k = nn_net_outputs(m->nets[0]);
    float *out = NULL;
    float *tmp = NULL;
    size_t i;
    int rc = 0;

    if (ds->rows == 0) {
        return 0;
    }
    out = nn_calloc(ds->rows * (size_t)k, sizeof(float));
    tmp = nn_calloc(ds->rows * 2, sizeof(float));
    if (out == NULL || tmp == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory computing validation metrics");
        goto fail;
    }
    if (model_nets_predict(m, ds, out) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory computing validation metrics");
        goto fail;
    }
    if (f->task == NN_TASK_REGRESSION) {
        float *pred = tmp;
        float *truth = tmp + ds->rows;
        double sd = 0, mean = 0;

        for (i = 0; i < ds->rows; i++) {
            pred[i] = (float)tab_features_unscale(f, out[i]);
            truth[i] = (float)tab_features_unscale(f, ds->y[i]);
            mean += pred[i];
        }
        m->metrics.rmse = nn_metrics_rmse(pred, truth, ds->rows);
        m->metrics.mae = nn_metrics_mae(pred, truth, ds->rows);
        mean /= (double)ds->rows;
        for (i = 0; i < ds->rows; i++) {
            sd += (pred[i] - mean) * (pred[i] - mean);
        }
        if (ds->rows > 1 && sqrt(sd / (double)ds->rows) < 1e-6 * (fabs(mean) + 1.0)) {
            rc = nn_err_set(err, NN_EINVAL,
                            "quality gate: the model predicts the same value (%g) for every "
                            "validation row; try more epochs, another learning rate or more data",
                            mean);
            goto fail;
        }
    } else {
        int first = -1, same = 1, truth_same = 1;

        m->metrics.accuracy = nn_metrics_accuracy(out, k, ds->y, ds->rows);
        m->metrics.log_loss = nn_metrics_log_loss(out, k, ds->y, ds->rows);
        if (k == 1) {
            m->metrics.auc = nn_metrics_auc(out, ds->y, ds->rows);
            rc = choose_threshold(m, out, ds);
            if (rc != 0) {
                rc = nn_err_set(err, NN_ENOMEM, "out of memory choosing the threshold");
                goto fail;
            }
        }
        for (i = 0; i < ds->rows; i++) {
            int lab = 0;

            if (k == 1) {
                lab = out[i] >= 0.5f;
            } else {
                int j;

                for (j = 1; j < k; j++) {
                    if (out[i * (size_t)k + (size_t)j] > out[i * (size_t)k + (size_t)lab]) {
                        lab = j;
                    }
                }
            }
            if (first < 0) {
                first = lab;
            } else if (lab != first) {
                same = 0;
            }
            if (ds->y[i] != ds->y[0]) {
                truth_same = 0;
            }
        }
        if (same && !truth_same && ds->rows > 1) {
            rc = nn_err_set(err, NN_EINVAL,
                            "quality gate: the model answers '%s' for every validation row; "
                            "try more epochs, another learning rate or more data",
                            f->classes[first]);
            goto fail;
        }
    }
fail:
    nn_free(out);
    nn_free(tmp);
    return rc;
}

/* Names listed in ignore_columns that exist, kept for the resolved parameters. */
static int keep_ignored(struct model *m, const struct tab_schema *s)
{
    size_t i, n = 0;

    for (i = 0; i < s->n_cols; i++) {
        n += s->cols[i].type == TAB_COL_IGNORED && i != s->label;
    }
    if (n == 0) {
        return 0;
    }
    m->ignored = nn_calloc(n, sizeof(char *));
    if (m->ignored == NULL) {
        return NN_ENOMEM;
    }
    for (i = 0; i < s->n_cols; i++) {
        if (s->cols[i].type == TAB_COL_IGNORED && i != s->label) {
            m->ignored[m->n_ignored] = nn_strdup(s->cols[i].name);
            if (m->ignored[m->n_ignored] == NULL) {
                return NN_ENOMEM;
            }
            m->n_ignored++;
        }
    }
    return 0;
}

int model_batch_size(const struct model_params *p, size_t n_tr)
{
    size_t b = (n_tr + 9) / 10;

    if (!p->batch_auto) {
        return p->train.batch_size;
    }
    return b < 1 ? 1 : (b < (size_t)p->train.batch_size ? (int)b : p->train.batch_size);
}

int model_read_schema(const char *path, const struct model_params *p,
                      const struct model_limits *lim, FILE **fp, struct tab_csv **r,
                      struct tab_schema **s, struct nn_err *err)
{
    struct tab_schema_opts so;
    struct tab_na na;
    int rc;

    *fp = NULL;
    *r = NULL;
    *s = NULL;
    rc = model_csv_open(path, p->delimiter, lim, fp, r, err);
    if (rc != 0) {
        return rc;
    }
    memset(&so, 0, sizeof(so));
    so.label = p->label;
    so.task = p->task < 0 ? -1 : (p->task == NN_TASK_REGRESSION ? NN_TASK_REGRESSION : 0);
    so.text_columns = p->text_columns;
    so.categorical_columns = p->categorical_columns;
    so.ignore_columns = p->ignore_columns;
    rc = tab_na_parse(p->na_values, &na, err);
    if (rc == 0) {
        so.na = &na;
        rc = tab_schema_infer(*r, &so, s, err);
    }
    if (rc == 0 && (*s)->rows < 2) {
        rc = nn_err_set_at(err, NN_EINVAL, 2, 0, NULL, "the CSV needs at least two data rows");
    }
    if (rc != 0) {
        tab_schema_free(*s);
        tab_csv_close(*r);
        fclose(*fp);
        *s = NULL;
        *r = NULL;
        *fp = NULL;
    }
    return rc;
}

/* Copies p into m with what the schema resolved (label, task) and the columns it saw. */
static int keep_params(struct model *m, const struct model_params *p, const struct tab_schema *s,
                       struct nn_err *err)
{
    int rc = model_params_copy(&m->params, p);

    if (rc == 0) {
        rc = keep_ignored(m, s);
    }
    if (rc == 0) {
        rc = model_columns_keep(m, s);
    }
    if (rc == 0) {
        nn_free(m->params.label);
        m->params.label = nn_strdup(s->cols[s->label].name);
        rc = m->params.label == NULL ? NN_ENOMEM : 0;
    }
    if (rc != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    m->params.task = s->task;
    return 0;
}

/* The network's output for the schema's task: one identity unit, one sigmoid or a softmax. */
static void output_spec(const struct tab_schema *s, struct model_fit_spec *spec)
{
    memset(spec, 0, sizeof(*spec));
    spec->task = s->task;
    spec->n_classes = s->task == NN_TASK_REGRESSION ? 0 : s->n_classes;
    if (s->task == NN_TASK_REGRESSION) {
        spec->n_out = 1;
        spec->out_act = NN_ACT_IDENTITY;
    } else if (s->n_classes == 2) {
        spec->n_out = 1;
        spec->out_act = NN_ACT_SIGMOID;
    } else {
        spec->n_out = s->n_classes;
        spec->out_act = NN_ACT_SOFTMAX;
    }
}

/*
 * Splits the rows (stratified, seeded from rng), fits m's features on the training rows and
 * encodes all rows into *all, the training rows into *tr and the validation rows into *va; sets
 * m's baseline. The caller frees the three datasets, also on failure.
 */
static int split_and_encode(struct model *m, struct tab_csv *r, const struct tab_schema *s,
                            const struct model_params *p, struct nn_rng *rng,
                            struct nn_dataset *all, struct nn_dataset *tr, struct nn_dataset *va,
                            struct nn_err *err)
{
    struct tab_feat_opts fo = {model_text_decoder_default(), p->impute};
    unsigned char *is_train = nn_calloc(s->rows, 1);
    size_t *tr_idx = nn_calloc(s->rows, sizeof(size_t));
    size_t *va_idx = nn_calloc(s->rows, sizeof(size_t));
    size_t n_tr = 0, n_va = 0, i;
    int rc;

    if (tr_idx == NULL || va_idx == NULL || is_train == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    rc = nn_train_split_stratified(s->labels, s->rows,
                                   s->task == NN_TASK_REGRESSION ? 0 : s->n_classes,
                                   p->validation_split, rng, tr_idx, &n_tr, va_idx, &n_va, err);
    if (rc != 0) {
        goto fail;
    }
    for (i = 0; i < n_tr; i++) {
        is_train[tr_idx[i]] = 1;
    }
    rc = tab_features_fit_opts(r, s, is_train, &fo, &m->feat, all, err);
    if (rc != 0) {
        goto fail;
    }
    if (nn_dataset_take_rows(tr, all, tr_idx, n_tr) != 0 ||
        nn_dataset_take_rows(va, all, va_idx, n_va) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory splitting the data");
        goto fail;
    }
    if (model_baseline_fit(m, tr) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
fail:
    nn_free(tr_idx);
    nn_free(va_idx);
    nn_free(is_train);
    return rc;
}

/*
 * The defaults' ensemble: m (its net refitted on every row) gains the nets trained on the
 * holdouts while the decay was chosen, every decay's (takes them: h is empty after). Their
 * mean is served: nets fitted on different rows and decays vary less together than any one.
 * Only when the refit ran (so not with target_fpr, whose threshold was chosen on the main
 * net's scores), with ensemble=true, for a model of one net, and when all of them hold at
 * most MODEL_DEFAULTS_ENSEMBLE_PARAMS weights (the model's size and a prediction's cost grow with
 * them). @return 0 or NN_ENOMEM.
 */
static int adopt_holdouts(struct model *m, struct model_holdouts *h, int refitted)
{
    const struct nn_train_params *tp = &m->params.train;
    float lr = model_params_learning_rate(&m->params);
    char origin[MODEL_ORIGIN], why[320];
    int rc = 0;

    if (h->n == 0 || !m->params.ensemble || !refitted || m->n_nets > 1 ||
        m->nets[0]->n_params * (size_t)(h->n + 1) > MODEL_DEFAULTS_ENSEMBLE_PARAMS) {
        model_holdouts_free(h);
        return 0;
    }
    m->member[0].l2 = tp->l2;
    m->member[0].learning_rate = lr;
    snprintf(m->member[0].origin, sizeof(m->member[0].origin), "refit on all rows");
    for (int i = 0; i < h->n && rc == 0; i++) {
        snprintf(origin, sizeof(origin), "holdout %d of %d, l2 %g", i % MODEL_SELECT_REPEATS + 1,
                 MODEL_SELECT_REPEATS, (double)h->l2[i]);
        rc = model_add_net(m, h->nets[i], h->l2[i], lr, h->epochs[i], origin);
        h->nets[i] = NULL;
    }
    snprintf(why, sizeof(why),
             "the defaults: the mean of the network refitted on all rows with l2 %g (the decay "
             "of the lowest mean holdout loss) and the %d networks trained while choosing it "
             "(%d seeded holdouts for each of the decays of the lowest mean loss, each "
             "early-stopped on its own holdout)",
             (double)tp->l2, h->n, MODEL_SELECT_REPEATS);
    h->n = 0;
    m->why = nn_strdup(why);
    return rc != 0 || m->why == NULL ? NN_ENOMEM : 0;
}

/* Member i's training parameters and spec: m's, with the member's layers, l2 and rate. */
static void member_setup(const struct model *m, const struct model_fit_spec *spec,
                         const struct model_member_spec *mb, struct model_fit_spec *ms,
                         struct nn_train_params *tp)
{
    *ms = *spec;
    *tp = m->params.train;
    if (mb != NULL) {
        ms->hidden = mb->hidden;
        ms->n_hidden = mb->n_hidden;
        tp->l2 = mb->l2;
        tp->learning_rate = mb->learning_rate;
    }
}

void model_exec_run(const struct model_exec *x, size_t n, model_auto_unit_fn fn, void *ctx)
{
    if (x != NULL && x->exec != NULL) {
        x->exec(x->ud, n, fn, ctx);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        fn(ctx, i);
    }
}

/* The members' trainings on the training split, one unit each (model_exec_run): unit 0 is
   the first net (the main random stream, the progress callback), unit j the member j. */
struct fit_units {
    struct model *m;
    const struct model_fit_spec *spec;
    const struct model_member_spec *more;
    const struct nn_dataset *tr, *va, *all;
    struct nn_rng *rng; /* the first net's */
    nn_progress_fn cb;
    void *ud;
    atomic_int *cancel;
    int refit_epochs;                    /* the refit: the first net's epochs */
    struct nn_net *nets[MODEL_MAX_NETS]; /* the split's nets */
    struct nn_train_result res[MODEL_MAX_NETS];
    int rc[MODEL_MAX_NETS];
    struct nn_err err[MODEL_MAX_NETS];
};

static void fit_unit(void *ctx, size_t i)
{
    struct fit_units *u = ctx;
    struct model_fit_spec ms;
    struct nn_train_params tp;
    struct nn_rng own, *rng = u->rng;

    member_setup(u->m, u->spec, i == 0 ? NULL : &u->more[i - 1], &ms, &tp);
    if (i > 0) {
        nn_rng_seed(&own, u->m->params.seed ^ (0xC2B2AE3D27D4EB4Full * (uint64_t)i));
        rng = &own;
    }
    u->rc[i] = model_fit_net(u->m, &ms, &tp, u->tr, u->va, rng, i == 0 ? u->cb : NULL,
                             i == 0 ? u->ud : NULL, u->cancel, &u->nets[i], &u->res[i], &u->err[i]);
}

/* Refits net i of m on all rows: the first for refit_epochs (0: its best epoch), the others
   for their best epochs. */
static void refit_unit(void *ctx, size_t i)
{
    struct fit_units *u = ctx;
    struct model_fit_spec ms;
    struct nn_train_params tp;
    int epochs = i == 0 ? u->refit_epochs : u->m->member[i].epochs;

    member_setup(u->m, u->spec, i == 0 ? NULL : &u->more[i - 1], &ms, &tp);
    u->rc[i] = model_refit(u->m, &ms, u->all, (int)i, &tp, epochs, u->cancel, &u->err[i]);
    if (u->rc[i] == 0) {
        u->m->member[i].epochs = epochs < 1 ? 1 : epochs;
    }
}

/* The first failure of units [0, n) into err (in unit order: the same whatever ran first). */
static int units_rc(struct fit_units *u, int n, struct nn_err *err)
{
    for (int i = 0; i < n; i++) {
        if (u->rc[i] != 0) {
            if (err != NULL) {
                *err = u->err[i];
            }
            return u->rc[i];
        }
    }
    return 0;
}

/* Trains the first net and the n_more members on the training split (early stopping on the
   validation split), through x: m gains them in order, each with its best epoch. */
static int fit_members(struct model *m, struct fit_units *u, int n_more, const struct model_exec *x,
                       struct nn_err *err)
{
    int rc;

    model_exec_run(x, (size_t)n_more + 1, fit_unit, u);
    rc = units_rc(u, n_more + 1, err);
    if (rc == 0) {
        m->nets[0] = u->nets[0];
        u->nets[0] = NULL;
    }
    for (int j = 1; rc == 0 && j <= n_more; j++) {
        rc = model_add_net(m, u->nets[j], u->more[j - 1].l2, u->more[j - 1].learning_rate,
                           u->res[j].best_epoch, u->more[j - 1].origin);
        u->nets[j] = NULL;
        if (rc != 0) {
            rc = nn_err_set(err, rc, "an ensemble holds at most %d networks", MODEL_MAX_NETS);
        }
    }
    for (int j = 0; j <= n_more; j++) {
        nn_net_free(u->nets[j]);
        u->nets[j] = NULL;
    }
    return rc;
}

/* Refits every net of m on all rows through x; *done says whether it ran. */
static int refit_all(struct model *m, struct fit_units *u, const struct model_exec *x, int *done,
                     struct nn_err *err)
{
    int rc;

    *done = 0;
    if (!model_refit_applies(m, u->all)) {
        return 0;
    }
    if (u->refit_epochs < 1) {
        u->refit_epochs = m->metrics.best_epoch;
    }
    memset(u->rc, 0, sizeof(u->rc));
    model_exec_run(x, (size_t)m->n_nets, refit_unit, u);
    rc = units_rc(u, m->n_nets, err);
    *done = rc == 0;
    return rc;
}

int model_train_members_csv(const char *path, const struct model_params *p,
                            const struct model_member_spec *more, int n_more, const char *why,
                            const struct model_limits *lim, const struct model_exec *x,
                            nn_progress_fn cb, void *ud, atomic_int *cancel, struct model **out,
                            struct nn_err *err)
{
    struct tab_schema *s = NULL;
    struct tab_csv *r = NULL;
    struct model *m = NULL;
    struct nn_dataset all, tr, va;
    struct nn_rng rng;
    struct model_progress pc;
    struct model_fit_spec spec;
    struct model_holdouts holdouts = {{NULL}, {0}, {0}, 0};
    struct fit_units *u;
    FILE *f = NULL;
    int refitted = 0, rc;

    *out = NULL;
    memset(&all, 0, sizeof(all));
    memset(&tr, 0, sizeof(tr));
    memset(&va, 0, sizeof(va));
    if (n_more < 0 || n_more >= MODEL_MAX_NETS) {
        return nn_err_set(err, NN_EINVAL, "an ensemble holds at most %d networks", MODEL_MAX_NETS);
    }
    u = nn_calloc(1, sizeof(*u));
    if (u == NULL) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    rc = model_read_schema(path, p, lim, &f, &r, &s, err);
    if (rc != 0) {
        nn_free(u);
        return rc;
    }
    m = model_alloc();
    rc = m != NULL ? keep_params(m, p, s, err) : nn_err_set(err, NN_ENOMEM, "out of memory");
    if (rc != 0) {
        goto fail;
    }
    nn_rng_seed(&rng, p->seed);
    rc = split_and_encode(m, r, s, p, &rng, &all, &tr, &va, err);
    if (rc != 0) {
        goto fail;
    }
    m->params.train.batch_size = model_batch_size(p, tr.rows);
    m->params.batch_auto = 0;

    output_spec(s, &spec);
    rc = model_select_l2(m, &spec, &all, cancel, &u->refit_epochs, &holdouts, err);
    if (rc != 0) {
        goto fail;
    }
    pc.m = m;
    pc.cap = 0;
    pc.cb = cb;
    pc.ud = ud;
    u->m = m;
    u->spec = &spec;
    u->more = more;
    u->tr = &tr;
    u->va = &va;
    u->all = &all;
    u->rng = &rng;
    u->cb = model_on_epoch;
    u->ud = &pc;
    u->cancel = cancel;
    rc = fit_members(m, u, n_more, x, err);
    if (rc != 0) {
        goto fail;
    }
    m->metrics.best_epoch = u->res[0].best_epoch;
    m->metrics.epochs_run = u->res[0].epochs_run;
    m->metrics.loss = va.rows > 0 ? u->res[0].best_val_loss : u->res[0].final_train_loss;
    m->metrics.train_rows = tr.rows;
    m->metrics.val_rows = va.rows;
    m->member[0].l2 = m->params.train.l2;
    m->member[0].learning_rate = model_params_learning_rate(&m->params);
    m->member[0].epochs = u->res[0].best_epoch;
    snprintf(m->member[0].origin, sizeof(m->member[0].origin), "%s",
             n_more > 0 ? "candidate 1" : "the training split");
    /* the members' validation figures together: the ensemble's */
    rc = model_compute_metrics(m, va.rows > 0 ? &va : &tr, err);
    if (rc == 0) {
        rc = model_importance_fit(m, &va, p->seed, err);
    }
    if (rc == 0) {
        rc = refit_all(m, u, x, &refitted, err);
    }
    if (rc == 0 && n_more > 0 && why != NULL) {
        m->why = nn_strdup(why);
        rc = m->why == NULL ? nn_err_set(err, NN_ENOMEM, "out of memory") : 0;
    }
    if (rc == 0 && adopt_holdouts(m, &holdouts, refitted) != 0) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (rc != 0) {
        goto fail;
    }
    *out = m;
    m = NULL;
fail:
    nn_free(u);
    model_holdouts_free(&holdouts);
    nn_dataset_free(&all);
    nn_dataset_free(&tr);
    nn_dataset_free(&va);
    model_free(m);
    tab_schema_free(s);
    tab_csv_close(r);
    fclose(f);
    return rc;
}

int model_train_csv(const char *path, const struct model_params *p, const struct model_limits *lim,
                    nn_progress_fn cb, void *ud, atomic_int *cancel, struct model **out,
                    struct nn_err *err)
{
    return model_train_members_csv(path, p, NULL, 0, NULL, lim, NULL, cb, ud, cancel, out, err);
}
