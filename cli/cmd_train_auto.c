/*
 * cmd_train_auto: `neurond train --auto` — runs model_auto_train_csv with its candidate-folds
 * on --workers threads (started here: model/ starts none), prints a progress line per
 * candidate on stderr and the leaderboard as a table at the end.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "model/auto.h"
#include "nn/alloc.h"

struct pool_run {
    model_auto_unit_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
};

/* Takes units until none is left. */
static void *drain(void *arg)
{
    struct pool_run *r = arg;

    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);

        if (i >= r->n) {
            return NULL;
        }
        r->fn(r->ctx, i);
    }
}

/* The executor: ud points at the worker count; this thread is one of them. */
static void exec_threads(void *ud, size_t n, model_auto_unit_fn fn, void *ctx)
{
    int workers = *(const int *)ud, started = 0;
    pthread_t th[64];
    struct pool_run r = {fn, ctx, n, 0};

    for (int t = 1; t < workers && t < 64 && (size_t)t < n; t++) {
        if (pthread_create(&th[started], NULL, drain, &r) != 0) {
            break; /* fewer threads: this one still drains every unit */
        }
        started++;
    }
    drain(&r);
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
    }
}

static double num(const cJSON *row, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, key);

    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* "64,32" or "none" into buf; "defaults 64" for the defaults' training. */
static const char *widths(const cJSON *row, char *buf, size_t cap)
{
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(row, "hidden"), *w;
    char list[48] = "";
    size_t at = 0;

    cJSON_ArrayForEach(w, h)
    {
        at += (size_t)snprintf(list + at, at < sizeof(list) ? sizeof(list) - at : 0, "%s%d",
                               at ? "," : "", (int)w->valuedouble);
        if (at >= sizeof(list)) {
            break;
        }
    }
    snprintf(buf, cap, "%s%s",
             cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "defaults")) ? "defaults " : "",
             at > 0 ? list : "none");
    return buf;
}

/* The row's l2 ("%.3g"), or "chosen" when each training chooses it (the defaults'). */
static const char *l2_text(const cJSON *row, char *buf, size_t cap)
{
    double v = num(row, "l2");

    snprintf(buf, cap, isnan(v) ? "chosen" : "%.3g", v);
    return buf;
}

static void print_row(FILE *out, const cJSON *row, const char *side)
{
    char w[64], l2[32];

    fprintf(out, "%4d %9d  %-12s %10s %10.3g %10.5g %9.4g %9.4g %8.2f\n", (int)num(row, "rank"),
            (int)num(row, "candidate"), widths(row, w, sizeof(w)), l2_text(row, l2, sizeof(l2)),
            num(row, "learning_rate"), num(row, "mean"), num(row, "sd"), num(row, side),
            num(row, "seconds"));
}

struct auto_progress {
    int quiet;
};

static int on_candidate(const cJSON *row, const cJSON *board, void *ud)
{
    const struct auto_progress *pr = ud;
    char w[64], l2[32];
    const cJSON *metric = cJSON_GetObjectItemCaseSensitive(row, "metric");

    (void)board;
    if (!pr->quiet) {
        fprintf(stderr, "candidate %d: hidden %s l2 %s lr %g  %s %.5g (sd %.3g)  rank %d  %.2fs\n",
                (int)num(row, "candidate"), widths(row, w, sizeof(w)), l2_text(row, l2, sizeof(l2)),
                num(row, "learning_rate"), cJSON_IsString(metric) ? metric->valuestring : "",
                num(row, "mean"), num(row, "sd"), (int)num(row, "rank"), num(row, "seconds"));
    }
    return 0;
}

/* One line after the table: the search's time and why it stopped, the final training's time
   (and its estimate) and the networks of the model. */
static void print_summary(const struct model *m)
{
    cJSON *card = model_card(m);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(card, "auto");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(a, "ensemble");
    const cJSON *why = cJSON_GetObjectItemCaseSensitive(a, "stopped");
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(e, "model");
    double nets = num(cJSON_GetObjectItemCaseSensitive(card, "ensemble"), "k");

    nets = isnan(nets) ? 1 : nets;
    if (a != NULL) {
        fprintf(stderr,
                "search %.2fs (%d candidates, stopped: %s); final training %.2fs (estimated "
                "%.2fs), %d network%s%s\n",
                num(a, "seconds"), (int)num(a, "candidates"),
                cJSON_IsString(why) ? why->valuestring : "?", num(a, "final_seconds"),
                num(a, "final_estimate"), (int)nets, nets == 1 ? "" : "s",
                cJSON_IsString(kind) && strcmp(kind->valuestring, "defaults") == 0
                    ? " (the defaults' training won)"
                    : "");
    }
    cJSON_Delete(card);
}

int cli_train_auto(const char *data, const struct model_params *p, const struct model_limits *lim,
                   int workers, int quiet, struct model **out, struct nn_err *err)
{
    struct auto_progress pr = {quiet};
    struct model_auto_hooks h = {exec_threads, &workers, on_candidate, &pr, NULL, NULL, workers};
    cJSON *board = NULL, *row;
    int rc = model_auto_train_csv(data, p, lim, &h, NULL, out, &board, err);

    if (board != NULL && !quiet) {
        const cJSON *first = cJSON_GetArrayItem(board, 0);
        const cJSON *metric = cJSON_GetObjectItemCaseSensitive(first, "metric");
        const char *side = cJSON_GetObjectItemCaseSensitive(first, "rmse") ? "rmse" : "accuracy";

        fprintf(stderr, "%4s %9s  %-12s %10s %10s %10s %9s %9s %8s\n", "rank", "candidate",
                "hidden", "l2", "lr", cJSON_IsString(metric) ? metric->valuestring : "metric", "sd",
                side, "seconds");
        cJSON_ArrayForEach(row, board)
        {
            print_row(stderr, row, side);
        }
    }
    if (rc == 0 && !quiet) {
        print_summary(*out);
    }
    cJSON_Delete(board);
    return rc;
}
