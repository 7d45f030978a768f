/*
 * test_srv_metrics: the daemon's counters rendered as Prometheus text — predictions counted
 * by model (one series per model, the slots past the 256th counted as "_other", names added
 * from several threads at once counted exactly once each), store errors; and the files
 * embedded for GET /openapi.json and the dashboard (server/assets.h).
 */
#include "server/assets.h"
#include "server/metrics.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nn/alloc.h"

static const char *const route_names[] = {"GET /a", "POST /b"};

/* The value of the sample line that starts with `series ` in text; -1 when absent. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);

    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
        p = strchr(p, '\n');
        if (p != NULL) {
            p++;
        }
    }
    return -1;
}

static char *render(struct srv_metrics *m)
{
    struct srv_metrics_gauges g = {{0}, 0, 0, 0, 0};
    char *text = NULL;
    size_t len = 0;

    assert_int_equal(srv_metrics_render(m, &g, &text, &len, NULL), 0);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_by_model(void **state)
{
    struct srv_metrics *m = NULL;

    (void)state;
    assert_int_equal(srv_metrics_new(route_names, 2, &m, NULL), 0);
    srv_metrics_predictions_model(m, "iris", 3);
    srv_metrics_predictions_model(m, "spam", 1);
    srv_metrics_predictions_model(m, "iris", 4);
    srv_metrics_predictions(m, 10); /* the total only */
    srv_metrics_store_error(m);
    srv_metrics_store_error(m);
    char *t = render(m);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"iris\"}") == 7);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"spam\"}") == 1);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"_other\"}") == -1);
    assert_true(sample(t, "neurond_predictions_total") == 18);
    assert_true(sample(t, "neurond_store_errors_total") == 2);
    assert_non_null(strstr(t, "# TYPE neurond_model_predictions_total counter\n"));
    nn_free(t);
    /* past the slots: "_other" */
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof(name), "m%d", i);
        srv_metrics_predictions_model(m, name, 1);
    }
    t = render(m);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"m0\"}") == 1);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"m253\"}") == 1);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"m254\"}") == -1);
    assert_true(sample(t, "neurond_model_predictions_total{model=\"_other\"}") == 300 - 254);
    assert_true(sample(t, "neurond_predictions_total") == 318);
    nn_free(t);
    srv_metrics_free(m);
}

struct worker {
    struct srv_metrics *m;
    int id;
};

static void *count_many(void *arg)
{
    struct worker *w = arg;
    char name[16];

    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof(name), "model-%d", (i + w->id) % 8);
        srv_metrics_predictions_model(w->m, name, 1);
    }
    return NULL;
}

static void test_threads(void **state)
{
    struct srv_metrics *m = NULL;
    pthread_t th[4];
    struct worker w[4];

    (void)state;
    assert_int_equal(srv_metrics_new(route_names, 2, &m, NULL), 0);
    for (int i = 0; i < 4; i++) {
        w[i].m = m;
        w[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, count_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
    }
    char *t = render(m);
    double sum = 0;
    for (int k = 0; k < 8; k++) {
        char series[96];
        snprintf(series, sizeof(series), "neurond_model_predictions_total{model=\"model-%d\"}", k);
        double v = sample(t, series);
        assert_true(v == 10000); /* 4 threads x 20000 / 8 names, each name on one line */
        sum += v;
        const char *first = strstr(t, series);
        assert_null(strstr(first + 1, series));
    }
    assert_true(sum == 80000);
    assert_true(sample(t, "neurond_predictions_total") == 80000);
    nn_free(t);
    srv_metrics_free(m);
}

static void test_assets(void **state)
{
    (void)state;
    const struct srv_asset *a = srv_assets_find("docs/openapi.json");
    assert_non_null(a);
    assert_string_equal(a->content_type, "application/json; charset=utf-8");
    assert_true(a->len > 1000 && a->data[0] == '{' && a->data[a->len] == '\0');
    a = srv_assets_find("web/index.html");
    assert_non_null(a);
    assert_non_null(strstr((const char *)a->data, "/ui/app.js"));
    assert_string_equal(srv_assets_find("web/app.js")->content_type,
                        "text/javascript; charset=utf-8");
    assert_string_equal(srv_assets_find("web/style.css")->content_type, "text/css; charset=utf-8");
    assert_null(srv_assets_find("web/"));
    assert_null(srv_assets_find("../web/index.html"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_model),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_assets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
