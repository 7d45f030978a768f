/*
 * test_auto: the auto search (model/auto.c) run in process, its units and its final training
 * on real threads.
 *
 * What: a fixed search (seed, max_models, no time limit) on wine gives the same model bytes
 * run one unit after the other and on four threads (the final training's networks run on
 * the threads too); that model is the ensemble the card says (k networks, the first the
 * best network candidate, each naming a candidate of the leaderboard, never the defaults'
 * training, the plan's 14th, which does not beat the ensemble here); the leaderboard is
 * ranked by its metric; a time limit covers the final training (the search ends early
 * enough to leave it the time it estimated, give or take one candidate-fold).
 * Why: the daemon runs these units and the final networks on its worker pool; CI runs this
 * file under ThreadSanitizer and AddressSanitizer, which the HTTP tests do not.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/auto.h"
#include "model/model.h"
#include "nn/alloc.h"

#define THREADS 4

/* The executor: THREADS threads take the units from a shared counter. */
struct pool_run {
    model_auto_unit_fn fn;
    void *ctx;
    size_t n;
    atomic_size_t next;
};

static void *drain(void *arg)
{
    struct pool_run *r = arg;

    for (size_t i = atomic_fetch_add(&r->next, 1); i < r->n; i = atomic_fetch_add(&r->next, 1)) {
        r->fn(r->ctx, i);
    }
    return NULL;
}

static void exec_threads(void *ud, size_t n, model_auto_unit_fn fn, void *ctx)
{
    struct pool_run r = {fn, ctx, n, 0};
    pthread_t th[THREADS];

    (void)ud;
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_create(&th[t], NULL, drain, &r), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
    }
}

static struct model *search(const char *file, const char *models, const char *seconds, int threaded)
{
    struct model_params p;
    struct model_limits lim;
    struct model_auto_hooks h = {exec_threads, NULL, NULL, NULL, NULL, NULL, THREADS};
    struct model *m = NULL;
    struct nn_err err;

    model_params_default(&p);
    model_limits_default(&lim);
    assert_int_equal(model_params_set(&p, "seed", "3", &err), 0);
    assert_int_equal(model_params_set(&p, "max_models", models, &err), 0);
    assert_int_equal(model_params_set(&p, "max_seconds", seconds, &err), 0);
    if (model_auto_train_csv(file, &p, &lim, threaded ? &h : NULL, NULL, &m, NULL, &err) != 0) {
        fail_msg("auto: %s", err.msg);
    }
    model_params_fini(&p);
    return m;
}

static char *export_text(const struct model *m)
{
    cJSON *doc = model_export(m);
    char *text;

    assert_non_null(doc);
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    assert_non_null(text);
    return text;
}

static const cJSON *member(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

    assert_non_null(v);
    return v;
}

static void test_threads_same_model_and_card(void **state)
{
    struct model *a = search("tests/data/wine_train.csv", "17", "0", 0);
    struct model *b = search("tests/data/wine_train.csv", "17", "0", 1);
    char *ta = export_text(a), *tb = export_text(b);
    cJSON *card = model_card(b);
    const cJSON *au = member(card, "auto"), *board = member(au, "leaderboard");
    const cJSON *ens = member(au, "ensemble"), *row;
    int k = member(ens, "k")->valueint, n = 0, best_net = 0, dflt = 0;
    double prev = -1.0;

    (void)state;
    assert_string_equal(ta, tb);
    /* ranked by log loss, lowest first */
    cJSON_ArrayForEach(row, board)
    {
        double mean = member(row, "mean")->valuedouble;

        assert_true(mean >= prev);
        prev = mean;
        n++;
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(row, "defaults"))) {
            dflt = member(row, "candidate")->valueint; /* the 14th: the defaults' training */
        } else if (best_net == 0) {
            best_net = member(row, "candidate")->valueint;
        }
    }
    assert_int_equal(n, 17);
    assert_int_equal(dflt, 14);
    assert_string_equal(member(ens, "model")->valuestring, "ensemble");
    /* the ensemble the card names: k networks, the first the best candidate */
    assert_true(k > 1 && k <= 16); /* wine, seed 3: averaging beats the best alone */
    {
        const cJSON *members = member(member(card, "ensemble"), "members"), *mb;
        int i = 0;

        assert_int_equal(cJSON_GetArraySize(members), k);
        cJSON_ArrayForEach(mb, members)
        {
            int cand = 0;

            assert_int_equal(sscanf(member(mb, "origin")->valuestring, "candidate %d", &cand), 1);
            if (i++ == 0) {
                assert_int_equal(cand, best_net);
            }
            assert_true(cand >= 1 && cand <= 17 && cand != dflt); /* never mixed in */
        }
    }
    cJSON_Delete(card);
    free(ta);
    free(tb);
    model_free(a);
    model_free(b);
}

static void test_time_limit_covers_the_final(void **state)
{
    struct model *m = search("tests/data/digits_train.csv", "0", "4", 1);
    cJSON *card = model_card(m);
    const cJSON *au = member(card, "auto"), *row;
    double searched = member(au, "seconds")->valuedouble;
    double est = member(au, "final_estimate")->valuedouble, unit = 0;
    int folds = member(member(au, "limits"), "folds")->valueint;

    (void)state;
    cJSON_ArrayForEach(row, member(au, "leaderboard"))
    {
        double u = member(row, "seconds")->valuedouble / folds;

        unit = u > unit ? u : unit;
    }
    /* the search left the final training its estimate, give or take one candidate-fold (and
       a sanitizer's slack: it slows what runs around the units) */
    assert_true(est > 0);
    assert_true(searched + est <= 4.0 + 3 * unit + 1.0);
    cJSON_Delete(card);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_same_model_and_card),
        cmocka_unit_test(test_time_limit_covers_the_final),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
