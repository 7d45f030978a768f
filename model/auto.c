/*
 * auto: the search of model/auto.h. Folds are fitted once (a pipeline and three data sets
 * each: the fold's training rows less an early-stopping share, that share, the held-out
 * rows); candidates are scored round by round, each round's candidate-folds run through the
 * caller's executor and write only their own result slot; the driver then combines the slots
 * in candidate order, ranks, reports and draws the next round from the best so far.
 * Over 1,000 lines on purpose: folds, rounds, stopping and the ensemble choice share the one
 * private struct search; split, they would need a header of their own for it.
 */
#include "model/auto.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/model_priv.h"
#include "model/model_select.h"
#include "model/text_decoder.h"
#include "nn/alloc.h"
#include "nn/metrics.h"
#include "nn/rng.h"
#include "nn/train.h"
#include "tab/csv.h"

#define HOLDOUT_ROWS   500000 /* above: one holdout split (a fifth of the rows) */
#define FEW_FOLD_ROWS  50000  /* above: 3 folds */
#define MAX_WIDTH      1024
#define MIN_WIDTH      4
#define ENSEMBLE_POOL  16 /* candidates the ensemble picks from (memory: their held-out outputs) */
#define ENSEMBLE_MAX_K MODEL_MAX_NETS /* networks averaged at most */
#define FINAL_MARGIN   1.2            /* final_seconds' margin over what it counts */
/* above: no defaults' candidate. A fold of it trains some 21 nets: measured with make quality,
   it added 0.4 to 1.5 s to auto at 120 to 800 rows (it won on breast cancer), but 9.4 s at
   1,437 (digits: 23.9 s against 14.5 s without, the grid 26 s), where it never won */
#define DEFAULTS_MAX_ROWS 1000

/* ------------------------------------------------------------------------------------------
 * State
 * ---------------------------------------------------------------------------------------- */

struct cand {
    int hidden[MODEL_MAX_HIDDEN];
    int n_hidden;
    float l2;
    float lr;
    int plan;     /* 1: from the fixed plan */
    int defaults; /* 1: not one net but the defaults' training (model_train_csv's: the L2 decay
                     chosen on 5 holdouts, the mean of the refitted net and the holdout nets);
                     l2 then NAN */
};

struct fold {
    struct tab_features *feat;
    struct nn_dataset tr, es, va;
    struct nn_dataset fit; /* tr and es together: the defaults' candidate's (empty without it) */
};

#define UNIT_SKIPPED 0 /* not run: the deadline or cancel came first */
#define UNIT_OK      1
#define UNIT_FAILED  2 /* diverged, or out of memory */

struct unit_res {
    int state;
    double metric;  /* the ranking metric on the fold's held-out rows */
    double side;    /* accuracy (classification) or RMSE (regression) */
    double seconds; /* training time */
    float *out;     /* the net's outputs on the held-out rows (kept for the ensemble) */
};

struct scored {
    size_t cand;
    int failed;
    double mean, sd, side, seconds;
};

struct search {
    const struct model_params *p;
    int task, n_out, metric;
    enum nn_act out_act;
    struct fold *folds;
    int n_folds;
    struct cand *cands;
    size_t n_cands, cap;
    size_t n_plan;        /* the fixed plan's candidates (the first ones) */
    double *best_key;     /* per candidate: the board's best rank key once it was combined */
    double *best_se;      /* and the standard error of that best's mean (sd / sqrt(folds)) */
    const char *stopped;  /* why the search stopped: "max_seconds", "max_models", ... */
    size_t stopped_at;    /* no_improvement: the candidate (0-based) that decided it */
    size_t first;         /* first candidate of the running round */
    struct unit_res *res; /* the running round's units: (c - first) * n_folds + f */
    size_t n_res;
    double start, limit;  /* monotonic seconds; limit (start + max_seconds) 0 = none */
    double deadline;      /* no unit starts after it: limit less the final's estimate */
    double searched;      /* when the search (and the ensemble's choice) ended */
    struct model_exec x;  /* the caller's executor */
    int width;            /* units it runs at once */
    int kf;               /* the k of the k-fold split (5 for a holdout) */
    int refit;            /* the final training refits on every row (model_refit_would) */
    double prep;          /* seconds to read the CSV and fit a pipeline, measured */
    double tol;           /* stopping_tolerance, resolved (stopping_tol) */
    atomic_llong unit_us; /* the slowest unit so far, microseconds (written by units) */
    atomic_int *cancel;
    struct scored *board; /* scored candidates, n_board, kept sorted best first */
    size_t n_board;
    float **oof; /* per candidate and fold (c * n_folds + f): its held-out outputs, kept while
                    the candidate is in the board's top ENSEMBLE_POOL; oof_cap candidates */
    size_t oof_cap;
    int ens_k;                    /* the ensemble chosen on the folds (1: the best alone) */
    int ens_pick[ENSEMBLE_MAX_K]; /* its networks: board ranks, in the order picked */
    int ens_free_k;               /* the k the folds chose before the time left cut it */
    int with_defaults;            /* the plan ends with the defaults' candidate */
    int defaults_won;     /* the model is the defaults' candidate's training, not the ensemble */
    size_t defaults_rank; /* its board rank, when it won */
    double ens_by_k[ENSEMBLE_MAX_K]; /* mean metric over the folds of the first k picks */
    int n_ens_by_k;
};

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *model_auto_metric_name(int metric, int task)
{
    static const char *const names[] = {"log_loss", "rmse", "accuracy", "auc", "mae"};

    if (metric == MODEL_METRIC_DEFAULT) {
        metric = task == NN_TASK_REGRESSION ? MODEL_METRIC_RMSE : MODEL_METRIC_LOG_LOSS;
    }
    return metric >= 0 && metric <= MODEL_METRIC_MAE ? names[metric] : "unknown";
}

/* Lower is better: the metric, negated for accuracy and AUC; NaN is the worst. */
static double rank_key(int metric, double v)
{
    if (isnan(v)) {
        return INFINITY;
    }
    return metric == MODEL_METRIC_ACCURACY || metric == MODEL_METRIC_AUC ? -v : v;
}

/* ------------------------------------------------------------------------------------------
 * Folds
 * ---------------------------------------------------------------------------------------- */

/* Deals the rows into k folds, stratified by class (regression: plain shuffle), seeded. */
static void assign_folds(const struct tab_schema *s, int k, struct nn_rng *rng, size_t *order,
                         int *fold_of)
{
    size_t i, n = 0, deal = 0;
    int c, n_cls = s->task == NN_TASK_REGRESSION ? 1 : s->n_classes;

    for (c = 0; c < n_cls; c++) {
        size_t start = n;

        for (i = 0; i < s->rows; i++) {
            if (n_cls == 1 || (int)s->labels[i] == c) {
                order[n++] = i;
            }
        }
        nn_rng_shuffle(rng, order + start, n - start);
        for (i = start; i < n; i++) {
            fold_of[order[i]] = (int)(deal++ % (size_t)k);
        }
    }
}

static void folds_free(struct fold *fo, int n)
{
    if (fo == NULL) {
        return;
    }
    for (int f = 0; f < n; f++) {
        tab_features_free(fo[f].feat);
        nn_dataset_free(&fo[f].tr);
        nn_dataset_free(&fo[f].es);
        nn_dataset_free(&fo[f].va);
        nn_dataset_free(&fo[f].fit);
    }
    nn_free(fo);
}

/* Fits fold f's pipeline on the rows outside it and cuts its three data sets (and, with
   keep_fit, the fourth: its training rows whole). */
static int fit_fold(struct tab_csv *r, const struct tab_schema *s, const struct model_params *p,
                    const int *fold_of, int f, int keep_fit, struct nn_rng *rng, struct fold *out,
                    struct nn_err *err)
{
    struct tab_feat_opts fo = {model_text_decoder_default(), p->impute};
    struct nn_dataset all;
    size_t n = s->rows, n_tr = 0, n_va = 0, n_a = 0, n_b = 0, i;
    size_t *tr = nn_calloc(n, sizeof(size_t)), *va = nn_calloc(n, sizeof(size_t));
    size_t *a = nn_calloc(n, sizeof(size_t)), *b = nn_calloc(n, sizeof(size_t));
    unsigned char *is_train = nn_calloc(n, 1);
    float *lab = nn_calloc(n, sizeof(float));
    int rc;

    memset(&all, 0, sizeof(all));
    if (tr == NULL || va == NULL || a == NULL || b == NULL || is_train == NULL || lab == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory cutting the folds");
        goto fail;
    }
    for (i = 0; i < n; i++) {
        if (fold_of[i] == f) {
            va[n_va++] = i;
        } else {
            is_train[i] = 1;
            lab[n_tr] = s->labels[i];
            tr[n_tr++] = i;
        }
    }
    rc = tab_features_fit_opts(r, s, is_train, &fo, &out->feat, &all, err);
    if (rc != 0) {
        goto fail;
    }
    rc = nn_train_split_stratified(lab, n_tr, s->task == NN_TASK_REGRESSION ? 0 : s->n_classes,
                                   p->validation_split, rng, a, &n_a, b, &n_b, err);
    if (rc != 0) {
        goto fail;
    }
    for (i = 0; i < n_a; i++) {
        a[i] = tr[a[i]];
    }
    for (i = 0; i < n_b; i++) {
        b[i] = tr[b[i]];
    }
    if (nn_dataset_take_rows(&out->tr, &all, a, n_a) != 0 ||
        nn_dataset_take_rows(&out->es, &all, b, n_b) != 0 ||
        nn_dataset_take_rows(&out->va, &all, va, n_va) != 0 ||
        (keep_fit && nn_dataset_take_rows(&out->fit, &all, tr, n_tr) != 0)) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory cutting the folds");
    }
fail:
    nn_dataset_free(&all);
    nn_free(tr);
    nn_free(va);
    nn_free(a);
    nn_free(b);
    nn_free(is_train);
    nn_free(lab);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * Candidates
 * ---------------------------------------------------------------------------------------- */

static int add_cand(struct search *S, const struct cand *c)
{
    if (S->n_cands == S->cap) {
        struct cand *x = nn_grow(S->cands, &S->cap, 32, sizeof(*x));

        if (x == NULL) {
            return NN_ENOMEM;
        }
        S->cands = x;
    }
    S->cands[S->n_cands++] = *c;
    return 0;
}

/* The fixed plan: what usually wins, from logistic / linear regression up. */
static int add_plan(struct search *S, float lr)
{
    static const struct {
        int n, w0, w1;
        float l2, lr_x;
    } plan[] = {
        {0, 0, 0, 0.0f, 1.0f},   {1, 16, 0, 0.0f, 1.0f},  {1, 64, 0, 0.0f, 1.0f},
        {1, 256, 0, 0.0f, 1.0f}, {2, 64, 64, 0.0f, 1.0f}, {1, 64, 0, 1e-4f, 1.0f},
        {1, 64, 0, 1e-2f, 1.0f}, {1, 64, 0, 0.0f, 10.0f}, {1, 256, 0, 1e-3f, 3.0f},
        {0, 0, 0, 0.0f, 10.0f},  {1, 64, 0, 1e-3f, 1.0f}, {1, 64, 0, 1e-1f, 1.0f},
        {0, 0, 0, 1e-2f, 1.0f},
    };
    size_t i, n = sizeof(plan) / sizeof(plan[0]);

    for (i = 0; i < n; i++) {
        struct cand c;

        memset(&c, 0, sizeof(c));
        c.n_hidden = plan[i].n;
        c.hidden[0] = plan[i].w0;
        c.hidden[1] = plan[i].w1;
        c.l2 = plan[i].l2;
        c.lr = lr * plan[i].lr_x;
        c.plan = 1;
        if (S->p->max_models > 0 && S->n_cands >= (size_t)S->p->max_models) {
            break;
        }
        if (add_cand(S, &c) != 0) {
            return NN_ENOMEM;
        }
        S->n_plan++;
    }
    if (S->with_defaults && !(S->p->max_models > 0 && S->n_cands >= (size_t)S->p->max_models)) {
        struct cand c;

        memset(&c, 0, sizeof(c));
        memcpy(c.hidden, S->p->hidden, sizeof(c.hidden));
        c.n_hidden = S->p->n_hidden;
        c.l2 = NAN;
        c.lr = lr;
        c.plan = 1;
        c.defaults = 1;
        if (add_cand(S, &c) != 0) {
            return NN_ENOMEM;
        }
        S->n_plan++;
    }
    return 0;
}

static double log_uniform(struct nn_rng *rng, double lo, double hi)
{
    return pow(10.0, lo + (hi - lo) * nn_rng_uniform(rng));
}

/* A candidate drawn around best: widths, depth, l2 and learning rate nudged. */
static struct cand perturb(const struct cand *best, struct nn_rng *rng)
{
    struct cand c = *best;
    int i;

    c.plan = 0;
    if (c.defaults) { /* around it: one net at the middle of the decays it chooses from */
        c.defaults = 0;
        c.l2 = 1e-3f;
    }
    if (c.n_hidden == 0 || nn_rng_uniform(rng) < 0.5) {
        for (i = 0; i < c.n_hidden; i++) {
            double w = c.hidden[i] * pow(2.0, 2.0 * nn_rng_uniform(rng) - 1.0);

            c.hidden[i] = w < MIN_WIDTH ? MIN_WIDTH : (w > MAX_WIDTH ? MAX_WIDTH : (int)w);
        }
        double u = nn_rng_uniform(rng);
        if (u < 0.2 && c.n_hidden < 3) {
            c.hidden[c.n_hidden] = c.n_hidden > 0 ? c.hidden[c.n_hidden - 1] : 64;
            c.n_hidden++;
        } else if (u > 0.85 && c.n_hidden > 0) {
            c.n_hidden--;
        }
    }
    if (c.l2 == 0.0f) {
        c.l2 = nn_rng_uniform(rng) < 0.5 ? 0.0f : (float)log_uniform(rng, -5, -2);
    } else {
        c.l2 = (float)(c.l2 * log_uniform(rng, -1, 1));
    }
    c.lr = (float)(c.lr * log_uniform(rng, -0.5, 0.5));
    c.lr = c.lr < 1e-5f ? 1e-5f : (c.lr > 1.0f ? 1.0f : c.lr);
    return c;
}

/* ------------------------------------------------------------------------------------------
 * One candidate-fold
 * ---------------------------------------------------------------------------------------- */

/* Scores out (the net's outputs on va) by the metric; *side = accuracy or RMSE. */
static double score(const struct search *S, const struct fold *fo, const float *out, float *tmp,
                    double *side)
{
    const struct nn_dataset *va = &fo->va;
    size_t i, n = va->rows;
    int k = S->n_out;

    if (S->task == NN_TASK_REGRESSION) {
        float *pred = tmp, *truth = tmp + n;

        for (i = 0; i < n; i++) {
            pred[i] = (float)tab_features_unscale(fo->feat, out[i]);
            truth[i] = (float)tab_features_unscale(fo->feat, va->y[i]);
        }
        *side = nn_metrics_rmse(pred, truth, n);
        return S->metric == MODEL_METRIC_MAE ? nn_metrics_mae(pred, truth, n) : *side;
    }
    *side = nn_metrics_accuracy(out, k, va->y, n);
    switch (S->metric) {
    case MODEL_METRIC_ACCURACY:
        return *side;
    case MODEL_METRIC_AUC:
        return nn_metrics_auc(out, va->y, n);
    default:
        return nn_metrics_log_loss(out, k, va->y, n);
    }
}

/* A final member's training time over one of its fold units': trained on the training split
   (a fold's training rows times kf / (kf - 1)) and, when the refit applies, again on every row
   (1 / (1 - validation_split) times more again). */
static double final_factor(const struct search *S)
{
    double split = S->kf / (S->kf - 1.0);

    return split + (S->refit ? split / (1.0 - S->p->validation_split) : 0.0);
}

/* When units stop starting: the deadline set between rounds, or sooner when the slowest unit
   of this round says that even one net's final training would not fit after it. */
static double unit_deadline(const struct search *S)
{
    double one =
        FINAL_MARGIN * (S->prep + final_factor(S) * (double)atomic_load(&S->unit_us) * 1e-6);

    return S->limit - one < S->deadline ? S->limit - one : S->deadline;
}

/* A unit's epoch callback (past the first candidate, with a time limit): stops the unit once
   the deadline has passed, so that a long candidate-fold (a wide net on text) does not eat the
   final training's time; nn_train then returns NN_ECANCELED and the candidate is dropped. */
static int unit_epoch(const struct nn_epoch_stats *st, void *ud)
{
    const struct search *S = ud;

    (void)st;
    return now_seconds() >= unit_deadline(S);
}

/* One net of candidate c (cd) trained on fold f (fo): its outputs on the held-out rows into
 *out (the caller frees). @return 0, NN_ECANCELED (cancel, or the deadline) or an error. */
static int net_outputs(struct search *S, size_t c, size_t f, const struct cand *cd,
                       const struct fold *fo, float **out)
{
    struct nn_train_params tp = S->p->train;
    struct nn_train_result tres;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    int rc;

    tp.l2 = cd->l2;
    tp.learning_rate = cd->lr;
    tp.batch_size = model_batch_size(S->p, fo->tr.rows);
    nn_rng_seed(&rng,
                S->p->seed ^ (0x9E3779B97F4A7C15ull * (c + 1)) ^ (0xC2B2AE3D27D4EB4Full * (f + 1)));
    rc = nn_net_new(fo->feat->dense_dim, fo->feat->sparse_dim, cd->hidden, cd->n_hidden,
                    S->p->activation, S->n_out, S->out_act,
                    tp.batch_size < 256 ? 256 : tp.batch_size, &net, NULL);
    if (rc != 0) {
        return rc;
    }
    nn_net_init(net, &rng);
    rc = nn_train(net, S->task, &fo->tr, fo->es.rows > 0 ? &fo->es : NULL, &tp,
                  c > 0 && S->deadline > 0 ? unit_epoch : NULL, S, S->cancel, &rng, &tres, NULL);
    if (rc == 0) {
        *out = nn_calloc(fo->va.rows * (size_t)S->n_out, sizeof(float));
        rc = *out == NULL ? NN_ENOMEM : nn_net_predict(net, &fo->va, *out);
    }
    nn_net_free(net);
    return rc;
}

/* Adds net's outputs on va to sum (tmp: room for them). */
static int add_outputs(struct nn_net *net, const struct nn_dataset *va, size_t m, float *sum,
                       float *tmp)
{
    int rc = nn_net_predict(net, va, tmp);

    for (size_t i = 0; rc == 0 && i < m; i++) {
        sum[i] += tmp[i];
    }
    return rc;
}

/* The defaults' training on fold fo's training rows, as model_train_members_csv does it on all
   the rows: the decay chosen on 5 holdouts (model_select_l2), a net refitted on every row for
   the chosen decay's mean best epoch, and the served mean of it and the holdout nets kept
   (when they fit MODEL_DEFAULTS_ENSEMBLE_PARAMS, as adopt_holdouts). Its outputs on the
   held-out rows into *out (the caller frees). @return 0, NN_ECANCELED or an error. */
static int defaults_outputs(struct search *S, const struct fold *fo, float **out)
{
    struct model m;
    struct model_fit_spec spec = {S->task, S->n_out, S->out_act, 0, NULL, 0};
    struct model_holdouts h = {{NULL}, {0}, {0}, 0};
    struct nn_train_params tp;
    struct nn_train_result tres;
    struct nn_net *net = NULL;
    struct nn_rng rng;
    size_t n = fo->va.rows * (size_t)S->n_out;
    float *tmp = nn_calloc(n, sizeof(float));
    int epochs = 0, rc;

    *out = nn_calloc(n, sizeof(float));
    if (*out == NULL || tmp == NULL) {
        nn_free(tmp);
        return NN_ENOMEM;
    }
    spec.n_classes = S->task == NN_TASK_REGRESSION ? 0 : (S->n_out > 1 ? S->n_out : 2);
    memset(&m, 0, sizeof(m));
    m.feat = fo->feat; /* borrowed: m is only read by the calls below, never freed */
    m.params = *S->p;
    m.params.train.l2 = -1;
    m.params.train.batch_size =
        model_batch_size(S->p, (size_t)((double)fo->fit.rows * (1.0 - S->p->validation_split)));
    rc = model_select_l2(&m, &spec, &fo->fit, S->cancel, &epochs, &h, NULL);
    if (rc == 0) {
        tp = m.params.train;
        tp.epochs = epochs < 1 ? 1 : epochs;
        nn_rng_seed(&rng, S->p->seed ^ 0x7265u);
        rc = model_fit_net(&m, &spec, &tp, &fo->fit, NULL, &rng, NULL, NULL, S->cancel, &net, &tres,
                           NULL);
    }
    if (rc == 0) {
        int keep = h.n > 0 && S->p->ensemble &&
                   net->n_params * (size_t)(h.n + 1) <= MODEL_DEFAULTS_ENSEMBLE_PARAMS;

        rc = add_outputs(net, &fo->va, n, *out, tmp);
        for (int j = 0; keep && rc == 0 && j < h.n; j++) {
            rc = add_outputs(h.nets[j], &fo->va, n, *out, tmp);
        }
        for (size_t i = 0; keep && i < n; i++) {
            (*out)[i] /= (float)(h.n + 1);
        }
    }
    model_holdouts_free(&h);
    nn_net_free(net);
    nn_free(tmp);
    return rc;
}

/* The unit: trains candidate first + i / n_folds on fold i % n_folds and scores it. */
static void run_unit(void *ctx, size_t i)
{
    struct search *S = ctx;
    size_t c = S->first + i / (size_t)S->n_folds, f = i % (size_t)S->n_folds;
    const struct fold *fo = &S->folds[f];
    const struct cand *cd = &S->cands[c];
    struct unit_res *r = &S->res[i];
    float *out = NULL, *tmp = NULL;
    double t0 = now_seconds();
    int rc;

    r->state = UNIT_SKIPPED;
    if ((S->cancel != NULL && atomic_load(S->cancel) != 0) ||
        (c > 0 && S->deadline > 0 && t0 >= unit_deadline(S))) {
        return; /* the first candidate always runs: there is always a model */
    }
    r->state = UNIT_FAILED;
    r->metric = NAN;
    r->side = NAN;
    rc = cd->defaults ? defaults_outputs(S, fo, &out) : net_outputs(S, c, f, cd, fo, &out);
    if (rc == NN_ECANCELED) {
        r->state = UNIT_SKIPPED;
        goto out;
    }
    if (rc != 0 || fo->va.rows == 0) {
        goto out;
    }
    tmp = nn_calloc(fo->va.rows * 2, sizeof(float));
    if (tmp == NULL) {
        goto out;
    }
    r->metric = score(S, fo, out, tmp, &r->side);
    r->state = isnan(r->metric) ? UNIT_FAILED : UNIT_OK;
    if (r->state == UNIT_OK && S->p->ensemble) {
        r->out = out; /* the driver takes it */
        out = NULL;
    }
out:
    r->seconds = now_seconds() - t0;
    long long us = (long long)(r->seconds * 1e6), was = atomic_load(&S->unit_us);
    while (us > was && !atomic_compare_exchange_weak(&S->unit_us, &was, us)) {
    }
    nn_free(out);
    nn_free(tmp);
}

/* ------------------------------------------------------------------------------------------
 * The leaderboard
 * ---------------------------------------------------------------------------------------- */

static int board_cmp(const struct search *S, const struct scored *a, const struct scored *b)
{
    double ka = a->failed ? INFINITY : rank_key(S->metric, a->mean);
    double kb = b->failed ? INFINITY : rank_key(S->metric, b->mean);

    if (ka != kb) {
        return ka < kb ? -1 : 1;
    }
    return a->cand < b->cand ? -1 : (a->cand > b->cand);
}

/* Inserts x keeping the board sorted (stable: ties keep the earlier candidate first). */
static size_t board_insert(struct search *S, const struct scored *x)
{
    size_t at = S->n_board;

    while (at > 0 && board_cmp(S, x, &S->board[at - 1]) < 0) {
        S->board[at] = S->board[at - 1];
        at--;
    }
    S->board[at] = *x;
    S->n_board++;
    return at;
}

static cJSON *num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static cJSON *cand_json(const struct cand *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *h = cJSON_AddArrayToObject(o, "hidden");

    for (int i = 0; i < c->n_hidden; i++) {
        cJSON_AddItemToArray(h, cJSON_CreateNumber(c->hidden[i]));
    }
    if (c->defaults) { /* its decay is chosen on each training's holdouts */
        cJSON_AddNullToObject(o, "l2");
        cJSON_AddTrueToObject(o, "defaults");
    } else {
        cJSON_AddNumberToObject(o, "l2", model_float_json(c->l2));
    }
    cJSON_AddNumberToObject(o, "learning_rate", model_float_json(c->lr));
    return o;
}

static cJSON *row_json(const struct search *S, size_t rank)
{
    const struct scored *x = &S->board[rank];
    cJSON *o = cand_json(&S->cands[x->cand]);

    cJSON_AddNumberToObject(o, "rank", (double)(rank + 1));
    cJSON_AddNumberToObject(o, "candidate", (double)(x->cand + 1));
    cJSON_AddStringToObject(o, "metric", model_auto_metric_name(S->metric, S->task));
    cJSON_AddItemToObject(o, "mean", num_or_null(x->failed ? NAN : x->mean));
    cJSON_AddItemToObject(o, "sd", num_or_null(x->failed ? NAN : x->sd));
    cJSON_AddItemToObject(o, S->task == NN_TASK_REGRESSION ? "rmse" : "accuracy",
                          num_or_null(x->side));
    cJSON_AddNumberToObject(o, "seconds", x->seconds);
    if (x->failed) {
        cJSON_AddStringToObject(o, "error", "diverged or failed on a fold");
    }
    return o;
}

static cJSON *board_json(const struct search *S)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a != NULL && i < S->n_board; i++) {
        cJSON_AddItemToArray(a, row_json(S, i));
    }
    return a;
}

/* Frees the held-out outputs of the candidates past the board's top ENSEMBLE_POOL: they
   can no longer be averaged. */
static void oof_prune(struct search *S)
{
    for (size_t r = ENSEMBLE_POOL; r < S->n_board; r++) {
        float **o = S->oof + S->board[r].cand * (size_t)S->n_folds;

        for (int f = 0; f < S->n_folds; f++) {
            nn_free(o[f]);
            o[f] = NULL;
        }
    }
}

/* Frees the running round's slots (and held-out outputs no round combined: cancel). */
static void res_free(struct search *S)
{
    for (size_t i = 0; S->res != NULL && i < S->n_res; i++) {
        nn_free(S->res[i].out);
    }
    nn_free(S->res);
    S->res = NULL;
    S->n_res = 0;
}

static void oof_free(struct search *S)
{
    for (size_t i = 0; S->oof != NULL && i < S->oof_cap * (size_t)S->n_folds; i++) {
        nn_free(S->oof[i]);
    }
    nn_free(S->oof);
    S->oof = NULL;
}

/* Room for the held-out outputs of n candidates (new slots NULL). */
static int oof_grow(struct search *S, size_t n)
{
    size_t per = (size_t)S->n_folds;
    float **o;

    if (n <= S->oof_cap) {
        return 0;
    }
    o = nn_reallocarray(S->oof, n * per, sizeof(*o));
    if (o == NULL) {
        return NN_ENOMEM;
    }
    memset(o + S->oof_cap * per, 0, (n - S->oof_cap) * per * sizeof(*o));
    S->oof = o;
    S->oof_cap = n;
    return 0;
}

/*
 * The seconds the final training of the board's top k will take, from their fold units' times:
 * the CSV read and encoded again (S->prep), then final_factor times a unit for each member,
 * the members of each stage running S->width at a time (ceil(k / width) waves of the mean
 * member, at least the slowest one); FINAL_MARGIN more for what this leaves out (the
 * validation metrics, the permutation importance).
 */
static double final_seconds(const struct search *S, int k)
{
    double sum = 0, most = 0, waves;
    int n = 0;

    for (int j = 0; j < k && (size_t)j < S->n_board; j++, n++) {
        double u = S->board[S->ens_pick[j]].seconds / S->n_folds;

        sum += u;
        most = u > most ? u : most;
    }
    waves = n > 0 ? ceil((double)n / S->width) * sum / n : 0.0;
    return FINAL_MARGIN * (S->prep + final_factor(S) * (waves > most ? waves : most));
}

/* The mean over the folds of the metric of (sum + the held-out outputs of board rank r) / n;
   sum holds each fold's outputs one after the other (fold f at off[f]). */
static double pick_score(const struct search *S, const float *sum, const size_t *off, size_t r,
                         int n, float *avg, float *tmp)
{
    double mean = 0, side;

    for (int f = 0; f < S->n_folds; f++) {
        const float *o = S->oof[S->board[r].cand * (size_t)S->n_folds + (size_t)f];
        size_t m = S->folds[f].va.rows * (size_t)S->n_out;

        for (size_t i = 0; i < m; i++) {
            avg[i] = (sum[off[f] + i] + o[i]) / (float)n;
        }
        mean += score(S, &S->folds[f], avg, tmp, &side) / S->n_folds;
    }
    return mean;
}

/*
 * Chooses the ensemble on the folds by greedy forward selection with replacement (Caruana et
 * al., "Ensemble selection from libraries of models", 2004): from the board's best
 * ENSEMBLE_POOL candidates that kept their held-out outputs, ENSEMBLE_MAX_K times the one whose
 * outputs, added to the mean of those picked so far, give the best mean fold metric (the
 * better-ranked on a tie; a candidate picked twice is two networks of other seeds). The first
 * pick is the best candidate. k (the first k picks) is the best mean, the smallest on a tie,
 * among those whose final training fits in `left` seconds (final_seconds; INFINITY: no
 * limit). Sets S->ens_k, S->ens_pick, S->ens_free_k and S->ens_by_k. @return 0 or NN_ENOMEM.
 */
static int choose_ensemble(struct search *S, double left)
{
    size_t most = 0, pool = 0, rows = 0, total = 0, off[64]; /* folds: at most 20 (params.c) */
    float *sum = NULL, *avg = NULL, *tmp = NULL;
    int k, best = 1, free_best = 1;

    S->ens_k = 1;
    S->ens_free_k = 1;
    S->ens_pick[0] = 0;
    S->n_ens_by_k = 0;
    /* the defaults' candidate is not a net to mix: its nets are all or none (choose_defaults) */
    while ((size_t)S->ens_pick[0] + 1 < S->n_board &&
           S->cands[S->board[S->ens_pick[0]].cand].defaults) {
        S->ens_pick[0]++;
    }
    for (int f = 0; f < S->n_folds; f++) {
        off[f] = total;
        total += S->folds[f].va.rows * (size_t)S->n_out;
        rows = S->folds[f].va.rows > rows ? S->folds[f].va.rows : rows;
    }
    while (most < ENSEMBLE_POOL && most < S->n_board && !S->board[most].failed &&
           S->oof[S->board[most].cand * (size_t)S->n_folds] != NULL) {
        pool += !S->cands[S->board[most].cand].defaults;
        most++;
    }
    if (!S->p->ensemble || pool < 2 || rows == 0) {
        return 0;
    }
    sum = nn_calloc(total, sizeof(float));
    avg = nn_calloc(rows * (size_t)S->n_out, sizeof(float));
    tmp = nn_calloc(rows * 2, sizeof(float));
    if (sum == NULL || avg == NULL || tmp == NULL) {
        NN_FREE_ALL(sum, avg, tmp);
        return NN_ENOMEM;
    }
    for (k = 1; k <= ENSEMBLE_MAX_K; k++) {
        size_t pick = (size_t)S->ens_pick[0];
        double mean = pick_score(S, sum, off, pick, k, avg, tmp);

        for (size_t r = pick + 1; r < most; r++) {
            if (S->cands[S->board[r].cand].defaults) {
                continue;
            }
            double v = pick_score(S, sum, off, r, k, avg, tmp);

            if (rank_key(S->metric, v) < rank_key(S->metric, mean)) {
                mean = v;
                pick = r;
            }
        }
        for (int f = 0; f < S->n_folds; f++) {
            const float *o = S->oof[S->board[pick].cand * (size_t)S->n_folds + (size_t)f];
            size_t m = S->folds[f].va.rows * (size_t)S->n_out;

            for (size_t i = 0; i < m; i++) {
                sum[off[f] + i] += o[i];
            }
        }
        S->ens_pick[k - 1] = (int)pick;
        S->ens_by_k[S->n_ens_by_k++] = mean;
        if (rank_key(S->metric, mean) < rank_key(S->metric, S->ens_by_k[free_best - 1])) {
            free_best = k;
        }
        if (rank_key(S->metric, mean) < rank_key(S->metric, S->ens_by_k[best - 1]) &&
            final_seconds(S, k) <= left) {
            best = k;
        }
    }
    S->ens_k = best;
    S->ens_free_k = free_best;
    NN_FREE_ALL(sum, avg, tmp);
    return 0;
}

/*
 * Combines the running round's slots in candidate order: a candidate with every fold run is
 * scored and put on the board (then reported), one with a skipped fold is dropped.
 * @return 0, NN_ECANCELED (the callback asked to stop) or NN_ENOMEM.
 */
static int combine_round(struct search *S, const struct model_auto_hooks *h)
{
    for (size_t c = S->first; c < S->n_cands; c++) {
        struct unit_res *u = &S->res[(c - S->first) * (size_t)S->n_folds];
        struct scored x;
        int f, skipped = 0;

        memset(&x, 0, sizeof(x));
        x.cand = c;
        for (f = 0; f < S->n_folds; f++) {
            skipped |= u[f].state == UNIT_SKIPPED;
            x.failed |= u[f].state == UNIT_FAILED;
            x.mean += u[f].metric;
            x.side += u[f].side;
            x.seconds += u[f].seconds;
        }
        for (f = 0; f < S->n_folds; f++) { /* the held-out outputs: kept or dropped */
            S->oof[c * (size_t)S->n_folds + (size_t)f] = skipped || x.failed ? NULL : u[f].out;
            if (skipped || x.failed) {
                nn_free(u[f].out);
            }
            u[f].out = NULL;
        }
        if (skipped) {
            continue;
        }
        x.mean /= S->n_folds;
        x.side /= S->n_folds;
        for (f = 0; f < S->n_folds; f++) {
            x.sd += (u[f].metric - x.mean) * (u[f].metric - x.mean);
        }
        x.sd = S->n_folds > 1 ? sqrt(x.sd / (S->n_folds - 1)) : 0.0;
        size_t rank = board_insert(S, &x);
        S->best_key[c] = S->board[0].failed ? INFINITY : rank_key(S->metric, S->board[0].mean);
        S->best_se[c] = S->board[0].failed ? 0.0 : S->board[0].sd / sqrt((double)S->n_folds);
        oof_prune(S);
        if (h != NULL && h->on_candidate != NULL) {
            cJSON *board = board_json(S);
            int stop;

            if (board == NULL) {
                return NN_ENOMEM;
            }
            stop = h->on_candidate(cJSON_GetArrayItem(board, (int)rank), board, h->candidate_ud);
            cJSON_Delete(board);
            if (stop) {
                return NN_ECANCELED;
            }
        }
    }
    return 0;
}

/* The seconds the defaults' candidate's final training will take: its fold units' mean time
   (the whole training on a fold's rows) times kf / (kf - 1) rows, after the CSV read again. */
static double defaults_seconds(const struct search *S, const struct scored *d)
{
    return FINAL_MARGIN * (S->prep + d->seconds / S->n_folds * S->kf / (S->kf - 1.0));
}

/* The mean fold metric of choose_ensemble's choice: its ensemble's, or the best net's alone. */
static double choice_score(const struct search *S)
{
    return S->n_ens_by_k > 0 ? S->ens_by_k[S->ens_k - 1] : S->board[S->ens_pick[0]].mean;
}

/*
 * Whether the model is the defaults' candidate's training rather than choose_ensemble's
 * choice: when its mean fold metric is the better (the choice's is the ensemble's mean over
 * the folds, or the best net's alone) and its final training fits in `left` seconds; or when
 * nothing else was scored. Sets S->defaults_won and S->defaults_rank.
 */
static void choose_defaults(struct search *S, double left)
{
    const struct scored *e = &S->board[S->ens_pick[0]];

    S->defaults_won = 0;
    for (size_t r = 0; r < S->n_board; r++) {
        const struct scored *d = &S->board[r];

        if (!S->cands[d->cand].defaults || d->failed) {
            continue;
        }
        S->defaults_rank = r;
        S->defaults_won = S->cands[e->cand].defaults || e->failed ||
                          (rank_key(S->metric, d->mean) < rank_key(S->metric, choice_score(S)) &&
                           defaults_seconds(S, d) <= left);
        return;
    }
}

/* The board rank of the model's first network: the defaults' candidate, or the ensemble's
   first pick (the best net). */
static size_t winner_rank(const struct search *S)
{
    return S->defaults_won ? S->defaults_rank : (size_t)S->ens_pick[0];
}

/* The picks' candidates in words: "3 x2, 7, 1" (candidate numbers, a count when repeated). */
static void picks_text(const struct search *S, char *out, size_t len)
{
    size_t at = 0;

    out[0] = '\0';
    for (int j = 0; j < S->ens_k && at < len; j++) {
        int r = S->ens_pick[j], n = 0, seen = 0;

        for (int i = 0; i < S->ens_k; i++) {
            n += S->ens_pick[i] == r;
            seen |= i < j && S->ens_pick[i] == r;
        }
        if (!seen) {
            int w = snprintf(out + at, len - at, "%s%zu", at > 0 ? ", " : "", S->board[r].cand + 1);
            at += w > 0 ? (size_t)w : 0;
            if (n > 1 && at < len) {
                w = snprintf(out + at, len - at, " x%d", n);
                at += w > 0 ? (size_t)w : 0;
            }
        }
    }
}

/* Why the ensemble is what it is (k, its picks and the fold scores that chose it). */
static void ensemble_why(const struct search *S, char *why, size_t len)
{
    const char *mname = model_auto_metric_name(S->metric, S->task);
    char picks[160];

    picks_text(S, picks, sizeof(picks));
    if (S->defaults_won) {
        const struct scored *d = &S->board[S->defaults_rank];

        snprintf(why, len,
                 "the defaults' training (candidate %zu: the L2 decay chosen on 5 holdouts, the "
                 "mean of the refitted network and the holdout networks) scored mean %s %.6g "
                 "over the folds against %.6g for %s: the model is that training on all the rows",
                 d->cand + 1, mname, d->mean, choice_score(S),
                 S->ens_k > 1 ? "the greedy ensemble" : "the best network alone");
    } else if (!S->p->ensemble) {
        snprintf(why, len, "ensemble=false: the best candidate alone");
    } else if (S->n_ens_by_k < 2) {
        snprintf(why, len, "one candidate with held-out outputs: the best candidate alone");
    } else if (S->ens_k == 1 && S->ens_free_k > 1) {
        snprintf(why, len,
                 "the greedy ensemble of %d picks scored better on the folds (mean %s %.6g "
                 "against %.6g alone), but its final training would not fit in the time left: "
                 "the best candidate alone",
                 S->ens_free_k, mname, S->ens_by_k[S->ens_free_k - 1], S->ens_by_k[0]);
    } else if (S->ens_k == 1) {
        snprintf(why, len,
                 "no greedy ensemble of 2 to %d picks beat the best alone on the folds (mean %s "
                 "%.6g alone, %.6g for 2 picks)",
                 S->n_ens_by_k, mname, S->ens_by_k[0], S->ens_by_k[1]);
    } else {
        snprintf(why, len,
                 "greedy ensemble selection on the folds: the mean of %d networks' %s (candidates "
                 "%s) scored mean %s %.6g over the folds against %.6g for the best alone (k "
                 "chosen from 1 to %d%s); each trained as the winner is, refitted on all the rows",
                 S->ens_k, S->task == NN_TASK_REGRESSION ? "values" : "probabilities", picks, mname,
                 S->ens_by_k[S->ens_k - 1], S->ens_by_k[0], S->n_ens_by_k,
                 S->ens_free_k > S->ens_k ? ", the most whose final training fits in the time left"
                                          : "");
    }
}

/* The least improvement of the best at candidate c over old that counts: stopping_tolerance
   relative to old, and when that was not given, at least the standard error of the best's
   mean over the folds (a smaller gain is within the folds' noise: the best of many noisy
   means keeps drifting down by itself; digits in make quality). */
static double noise_floor(const struct search *S, size_t c, double old)
{
    double t = S->tol * fabs(old);

    return S->p->stopping_tolerance < 0 && S->best_se[c] > t ? S->best_se[c] : t;
}

/* Why the search stopped, in words (S->stopped is the short reason). */
static void stop_why(const struct search *S, char *why, size_t len)
{
    const char *mname = model_auto_metric_name(S->metric, S->task);
    size_t c = S->stopped_at, n = (size_t)S->p->stopping_rounds;

    if (strcmp(S->stopped, "max_seconds") == 0) {
        snprintf(why, len,
                 "the time limit: max_seconds %g, less the %.3g s the final training was "
                 "estimated to take",
                 S->p->max_seconds, S->limit - S->deadline);
    } else if (strcmp(S->stopped, "max_models") == 0) {
        snprintf(why, len, "the candidate limit: max_models %d", S->p->max_models);
    } else {
        snprintf(why, len,
                 "no improvement: after candidate %zu the best mean %s was %.6g against %.6g "
                 "%zu candidates before, not better by more than %.3g (stopping_tolerance %g "
                 "relative%s)",
                 c + 1, mname, rank_key(S->metric, S->best_key[c]),
                 rank_key(S->metric, S->best_key[c - n]), n, noise_floor(S, c, S->best_key[c - n]),
                 S->tol,
                 S->p->stopping_tolerance < 0
                     ? ", at least the best's standard error over the folds"
                     : "");
    }
}

/* The card's "auto": plan, limits, validation, leaderboard, winner and why it won. */
static cJSON *search_json(const struct search *S, size_t rows, int holdout)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *plan = cJSON_AddArrayToObject(o, "plan");
    cJSON *lim = cJSON_AddObjectToObject(o, "limits");
    const char *mname = model_auto_metric_name(S->metric, S->task);
    size_t i, wr = winner_rank(S), ru = wr == 0 ? 1 : 0; /* the winner and the runner-up */
    const struct scored *w = &S->board[wr];
    char why[512];

    for (i = 0; i < S->n_cands && S->cands[i].plan; i++) {
        cJSON_AddItemToArray(plan, cand_json(&S->cands[i]));
    }
    cJSON_AddNumberToObject(lim, "max_seconds", S->p->max_seconds);
    cJSON_AddNumberToObject(lim, "max_models", S->p->max_models);
    cJSON_AddNumberToObject(lim, "stopping_rounds", S->p->stopping_rounds);
    cJSON_AddNumberToObject(lim, "stopping_tolerance", S->tol);
    cJSON_AddStringToObject(lim, "metric", mname);
    cJSON_AddNumberToObject(lim, "folds", S->n_folds);
    cJSON_AddStringToObject(o, "validation", holdout ? "holdout" : "k-fold");
    cJSON_AddNumberToObject(o, "rows", (double)rows);
    cJSON_AddNumberToObject(o, "candidates", (double)S->n_board);
    cJSON_AddStringToObject(o, "stopped", S->stopped);
    stop_why(S, why, sizeof(why));
    cJSON_AddStringToObject(o, "stopped_why", why);
    cJSON_AddNumberToObject(o, "seconds", S->searched - S->start);
    cJSON_AddNumberToObject(o, "final_seconds", now_seconds() - S->searched);
    cJSON_AddNumberToObject(o, "final_estimate",
                            S->defaults_won ? defaults_seconds(S, w) : final_seconds(S, S->ens_k));
    cJSON_AddItemToObject(o, "leaderboard", board_json(S));
    cJSON_AddItemToObject(o, "winner", cand_json(&S->cands[w->cand]));
    if (S->n_board > 1 && !S->board[ru].failed) {
        snprintf(why, sizeof(why),
                 "%s mean %s over %d %s: %.6g (sd %.3g) against %.6g (sd %.3g) for %s, "
                 "candidate %zu; refitted on all the rows",
                 wr == 0 ? "best" : "the model's first network's", mname, S->n_folds,
                 holdout ? "holdout split" : "folds", w->mean, w->sd, S->board[ru].mean,
                 S->board[ru].sd, ru == 0 ? "the best" : "the runner-up", S->board[ru].cand + 1);
    } else {
        snprintf(why, sizeof(why),
                 "the only candidate scored: mean %s %.6g over %d folds; refitted on all the "
                 "rows",
                 mname, w->mean, S->n_folds);
    }
    cJSON_AddStringToObject(o, "why", why);
    cJSON *e = cJSON_AddObjectToObject(o, "ensemble");
    cJSON *by = cJSON_AddArrayToObject(e, "by_k");
    cJSON_AddBoolToObject(e, "enabled", S->p->ensemble);
    cJSON_AddNumberToObject(e, "k", S->ens_k);
    cJSON_AddStringToObject(e, "model",
                            S->defaults_won ? "defaults" : (S->ens_k > 1 ? "ensemble" : "best"));
    for (int k = 0; k < S->n_ens_by_k; k++) {
        cJSON_AddItemToArray(by, num_or_null(S->ens_by_k[k]));
    }
    ensemble_why(S, why, sizeof(why));
    cJSON_AddStringToObject(e, "why", why);
    return o;
}

/* ------------------------------------------------------------------------------------------
 * The search
 * ---------------------------------------------------------------------------------------- */

/* stopping_tolerance, or when not given H2O AutoML's default from the rows: min(0.05,
   max(0.001, 1/sqrt(rows))). Small sets are noisy, so a small gain there is no gain; and their
   search ends sooner (make quality: the search's time against GridSearchCV's). */
static double stopping_tol(const struct model_params *p, size_t rows)
{
    double t = rows > 0 ? 1.0 / sqrt((double)rows) : 0.05;

    if (p->stopping_tolerance >= 0) {
        return p->stopping_tolerance;
    }
    return t < 0.001 ? 0.001 : (t > 0.05 ? 0.05 : t);
}

/* Checks the metric against the task. */
static int check_metric(int metric, const struct tab_schema *s, struct nn_err *err)
{
    int reg = s->task == NN_TASK_REGRESSION;

    if ((reg && (metric == MODEL_METRIC_LOG_LOSS || metric == MODEL_METRIC_ACCURACY ||
                 metric == MODEL_METRIC_AUC)) ||
        (!reg && (metric == MODEL_METRIC_RMSE || metric == MODEL_METRIC_MAE))) {
        return nn_err_set_at(
            err, NN_EINVAL, 0, 0, "metric", "metric %s does not apply to a %s label",
            model_auto_metric_name(metric, s->task), reg ? "regression" : "classification");
    }
    if (metric == MODEL_METRIC_AUC && s->n_classes != 2) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "metric", "metric auc needs a binary label");
    }
    return 0;
}

/*
 * The early stop (H2O AutoML's stopping_rounds / stopping_tolerance), decided on the board in
 * candidate order, never on timing: after the plan, the search stops at the first candidate c
 * of the round for which the best of candidates 0..c is not better by more than
 * stopping_tolerance (relative) than the best of 0..c-stopping_rounds, with those
 * stopping_rounds candidates all past the plan. Sets S->stopped_at.
 * @return 1 to stop, 0 to go on.
 */
static int no_improvement(struct search *S)
{
    size_t n = S->p->stopping_rounds > 0 ? (size_t)S->p->stopping_rounds : 0;

    if (n == 0) {
        return 0;
    }
    for (size_t c = S->first; c < S->n_cands; c++) {
        double old, now;

        if (c < n || c - n + 1 < S->n_plan) {
            continue;
        }
        old = S->best_key[c - n];
        now = S->best_key[c];
        if (!(old - now > noise_floor(S, c, old))) {
            S->stopped_at = c;
            return 1;
        }
    }
    return 0;
}

/* Runs rounds until a limit; leaves the board filled. */
static int run_rounds(struct search *S, const struct model_auto_hooks *h, struct nn_rng *rng)
{
    size_t max = S->p->max_models > 0 ? (size_t)S->p->max_models : (size_t)-1;
    int rc = 0;

    for (;;) {
        size_t units = (S->n_cands - S->first) * (size_t)S->n_folds;

        struct scored *b = nn_reallocarray(S->board, S->n_cands, sizeof(*b));
        double *bk;

        if (b == NULL) {
            return NN_ENOMEM;
        }
        S->board = b;
        bk = nn_reallocarray(S->best_key, S->n_cands, sizeof(*bk));
        if (bk == NULL) {
            return NN_ENOMEM;
        }
        S->best_key = bk;
        bk = nn_reallocarray(S->best_se, S->n_cands, sizeof(*bk));
        if (bk == NULL) {
            return NN_ENOMEM;
        }
        S->best_se = bk;
        res_free(S);
        S->res = nn_calloc(units, sizeof(*S->res));
        S->n_res = S->res != NULL ? units : 0;
        if (S->res == NULL || oof_grow(S, S->n_cands) != 0) {
            return NN_ENOMEM;
        }
        model_exec_run(&S->x, units, run_unit, S);
        if (S->cancel != NULL && atomic_load(S->cancel) != 0) {
            return NN_ECANCELED;
        }
        rc = combine_round(S, h);
        if (rc != 0) {
            return rc;
        }
        if (S->limit > 0) { /* keep the time the final training of today's choice needs */
            rc = choose_ensemble(S, INFINITY);
            if (rc != 0) {
                return rc;
            }
            S->deadline = S->limit - final_seconds(S, S->ens_k);
        }
        if (S->deadline > 0 && now_seconds() >= S->deadline) {
            S->stopped = "max_seconds";
            return 0;
        }
        if (S->n_cands >= max) {
            S->stopped = "max_models";
            return 0;
        }
        if (no_improvement(S)) {
            S->stopped = "no_improvement";
            return 0;
        }
        /* the next round, around the best so far */
        S->first = S->n_cands;
        const struct cand best = S->cands[S->board[0].cand];
        for (int i = 0; i < MODEL_AUTO_ROUND && S->n_cands < max; i++) {
            struct cand c = perturb(&best, rng);

            if (add_cand(S, &c) != 0) {
                return NN_ENOMEM;
            }
        }
    }
}

/* The board's winner refitted on all the rows with the search's parameters (q, filled here;
 * the caller finis it), and the ensemble's other members beside it. */
static int refit_winner(const struct search *S, const char *path, const struct model_params *p,
                        const struct model_limits *lim, const struct model_auto_hooks *hooks,
                        atomic_int *cancel, struct model_params *q, struct model **m,
                        struct nn_err *err)
{
    const struct cand *w = &S->cands[S->board[S->ens_pick[0]].cand];
    struct model_member_spec more[ENSEMBLE_MAX_K];
    char why[512];
    int rc = model_params_copy(q, p);

    if (rc != 0) {
        return nn_err_set(err, NN_ENOMEM, "out of memory");
    }
    if (S->defaults_won) { /* model_train_csv's training, the executor's workers beside it */
        q->train.l2 = -1;
        return model_train_members_csv(path, q, NULL, 0, NULL, lim, &S->x,
                                       hooks != NULL ? hooks->on_epoch : NULL,
                                       hooks != NULL ? hooks->epoch_ud : NULL, cancel, m, err);
    }
    memcpy(q->hidden, w->hidden, sizeof(q->hidden));
    q->n_hidden = w->n_hidden;
    q->train.l2 = w->l2;
    q->train.learning_rate = w->lr;
    for (int j = 1; j < S->ens_k; j++) {
        int r = S->ens_pick[j], copy = 1;
        const struct cand *c = &S->cands[S->board[r].cand];

        for (int i = 0; i < j; i++) {
            copy += S->ens_pick[i] == r;
        }
        memset(&more[j - 1], 0, sizeof(more[j - 1]));
        memcpy(more[j - 1].hidden, c->hidden, sizeof(c->hidden));
        more[j - 1].n_hidden = c->n_hidden;
        more[j - 1].l2 = c->l2;
        more[j - 1].learning_rate = c->lr;
        snprintf(more[j - 1].origin, sizeof(more[j - 1].origin), "candidate %zu, rank %d%s%.0d",
                 S->board[r].cand + 1, r + 1, copy > 1 ? ", copy " : "", copy > 1 ? copy : 0);
    }
    ensemble_why(S, why, sizeof(why));
    rc = model_train_members_csv(path, q, more, S->ens_k - 1, why, lim, &S->x,
                                 hooks != NULL ? hooks->on_epoch : NULL,
                                 hooks != NULL ? hooks->epoch_ud : NULL, cancel, m, err);
    if (rc == 0 && (*m)->n_nets > 1) {
        snprintf((*m)->member[0].origin, sizeof((*m)->member[0].origin), "candidate %zu, rank %d",
                 S->board[S->ens_pick[0]].cand + 1, S->ens_pick[0] + 1);
    }
    return rc;
}

int model_auto_train_csv(const char *path, const struct model_params *p,
                         const struct model_limits *lim, const struct model_auto_hooks *hooks,
                         atomic_int *cancel, struct model **out, cJSON **board, struct nn_err *err)
{
    struct search S;
    struct model_params q;
    struct tab_schema *s = NULL;
    struct tab_csv *r = NULL;
    struct model *m = NULL;
    struct nn_rng rng;
    size_t *order = NULL;
    int *fold_of = NULL;
    FILE *f = NULL;
    int rc, k, holdout = 0, n_fit = 0;
    double t_schema;
    float lr;

    *out = NULL;
    if (board != NULL) {
        *board = NULL;
    }
    memset(&S, 0, sizeof(S));
    atomic_init(&S.unit_us, 0);
    memset(&q, 0, sizeof(q));
    if (p->max_seconds <= 0 && p->max_models <= 0) {
        return nn_err_set_at(err, NN_EINVAL, 0, 0, "max_seconds",
                             "auto needs a limit: max_seconds or max_models");
    }
    S.p = p;
    S.cancel = cancel;
    S.start = now_seconds();
    S.limit = p->max_seconds > 0 ? S.start + p->max_seconds : 0;
    S.deadline = S.limit;
    S.x.exec = hooks != NULL ? hooks->exec : NULL;
    S.x.ud = hooks != NULL ? hooks->exec_ud : NULL;
    S.width = S.x.exec != NULL && hooks->width > 1 ? hooks->width : 1;
    rc = model_read_schema(path, p, lim, &f, &r, &s, err);
    if (rc != 0) {
        return rc;
    }
    t_schema = now_seconds() - S.start;
    S.task = s->task;
    S.metric = p->metric == MODEL_METRIC_DEFAULT
                   ? (s->task == NN_TASK_REGRESSION ? MODEL_METRIC_RMSE : MODEL_METRIC_LOG_LOSS)
                   : p->metric;
    rc = check_metric(S.metric, s, err);
    if (rc != 0) {
        goto fail;
    }
    S.n_out = s->task == NN_TASK_MULTICLASS ? s->n_classes : 1;
    S.out_act = s->task == NN_TASK_REGRESSION
                    ? NN_ACT_IDENTITY
                    : (s->task == NN_TASK_MULTICLASS ? NN_ACT_SOFTMAX : NN_ACT_SIGMOID);

    /* the folds: k-fold, or one holdout split (a fifth) on big data */
    k = p->folds > 0 ? p->folds : (s->rows > FEW_FOLD_ROWS ? 3 : 5);
    if (p->folds == 1 || (p->folds <= 0 && s->rows > HOLDOUT_ROWS)) {
        k = 5;
        holdout = 1;
    }
    if ((size_t)k > s->rows / 2) {
        k = (int)(s->rows / 2) < 2 ? 2 : (int)(s->rows / 2);
    }
    S.n_folds = holdout ? 1 : k;
    S.tol = stopping_tol(p, s->rows);
    S.kf = k;
    order = nn_calloc(s->rows, sizeof(size_t));
    fold_of = nn_calloc(s->rows, sizeof(int));
    S.folds = nn_calloc((size_t)S.n_folds, sizeof(*S.folds));
    if (order == NULL || fold_of == NULL || S.folds == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    nn_rng_seed(&rng, p->seed);
    assign_folds(s, k, &rng, order, fold_of);
    S.with_defaults = s->rows <= DEFAULTS_MAX_ROWS && model_select_would(s->rows, 0, p) &&
                      model_refit_would(s->rows, 0, p);
    for (n_fit = 0; n_fit < S.n_folds; n_fit++) {
        if (cancel != NULL && atomic_load(cancel) != 0) {
            rc = nn_err_set(err, NN_ECANCELED, "cancelled");
            goto fail;
        }
        rc = fit_fold(r, s, p, fold_of, n_fit, S.with_defaults, &rng, &S.folds[n_fit], err);
        if (rc != 0) {
            n_fit++;
            goto fail;
        }
    }

    /* the final training reads the CSV and fits one pipeline again, as a fold did */
    S.prep = t_schema + (now_seconds() - S.start - t_schema) / S.n_folds;
    S.refit = model_refit_would(s->rows, S.folds[0].feat->sparse_dim, p);
    if (S.folds[0].feat->sparse_dim > 0) { /* text: the defaults choose no decay */
        S.with_defaults = 0;
        for (int j = 0; j < S.n_folds; j++) {
            nn_dataset_free(&S.folds[j].fit);
        }
    }

    /* the plan, then rounds around the best */
    lr = model_params_learning_rate(p);
    rc = add_plan(&S, lr);
    if (rc == 0) {
        rc = run_rounds(&S, hooks, &rng);
    }
    if (board != NULL && S.n_board > 0) {
        *board = board_json(&S);
    }
    if (rc == NN_ECANCELED) {
        rc = nn_err_set(err, NN_ECANCELED, "cancelled");
        goto fail;
    }
    if (rc != 0) {
        rc = nn_err_set(err, rc, "out of memory during the search");
        goto fail;
    }
    if (S.n_board == 0 || S.board[0].failed) {
        rc = nn_err_set(err, NN_EINVAL,
                        "auto: every candidate failed (diverged); try another learning_rate");
        goto fail;
    }
    rc = choose_ensemble(&S, S.limit > 0 ? S.limit - now_seconds() : INFINITY);
    if (rc != 0) {
        rc = nn_err_set(err, rc, "out of memory choosing the ensemble");
        goto fail;
    }
    choose_defaults(&S, S.limit > 0 ? S.limit - now_seconds() : INFINITY);
    S.searched = now_seconds();
    folds_free(S.folds, S.n_folds);
    S.folds = NULL;
    oof_free(&S);

    /* the winner (and the ensemble's other members), refitted on all the rows */
    rc = refit_winner(&S, path, p, lim, hooks, cancel, &q, &m, err);
    if (rc != 0) {
        goto fail;
    }
    m->search = search_json(&S, s->rows, holdout);
    if (m->search == NULL) {
        rc = nn_err_set(err, NN_ENOMEM, "out of memory");
        goto fail;
    }
    *out = m;
    m = NULL;
fail:
    model_free(m);
    model_params_fini(&q);
    folds_free(S.folds, n_fit);
    oof_free(&S);
    nn_free(S.cands);
    res_free(&S);
    nn_free(S.board);
    nn_free(S.best_key);
    nn_free(S.best_se);
    nn_free(order);
    nn_free(fold_of);
    tab_schema_free(s);
    tab_csv_close(r);
    if (f != NULL) {
        fclose(f);
    }
    return rc;
}
