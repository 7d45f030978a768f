/*
 * test_importance: permutation importance at training time (model/importance.c).
 *
 * What: on rows whose label is decided by one column, with a second column of pure noise,
 * shuffling the signal column costs much accuracy and shuffling the noise almost none; the
 * card lists both, largest first, with a spread; the figures survive save/load; a regression
 * reports RMSE's rise; a model without importance (an import) says null.
 * Why: the card's importance is only worth reading if it singles out what the model uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "nn/alloc.h"
#include "nn/rng.h"
#include "unit_train.h"

/* Writes rows of (signal, noise, label): label = signal > 0.5 (classification) or 3 x signal
 * (regression). Returns the path (static buffer). */
static const char *write_rows(int regression)
{
    static char path[64];
    struct nn_rng rng;
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "/tmp/test_importance_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    f = fdopen(fd, "w");
    assert_non_null(f);
    nn_rng_seed(&rng, 3);
    fprintf(f, "signal,noise,label\n");
    for (int i = 0; i < 400; i++) {
        double s = nn_rng_uniform(&rng), n = nn_rng_uniform(&rng);

        if (regression) {
            fprintf(f, "%.4f,%.4f,%.4f\n", s, n, 3.0 * s);
        } else {
            fprintf(f, "%.4f,%.4f,%s\n", s, n, s > 0.5 ? "yes" : "no");
        }
    }
    fclose(f);
    return path;
}

static struct model *train(const char *path)
{
    const char *const kv[] = {"epochs", "60", NULL};

    return unit_train(path, kv);
}

/* The card's importance entry of input `name`. */
static const cJSON *entry(const cJSON *imp, const char *name)
{
    const cJSON *it;

    cJSON_ArrayForEach(it, cJSON_GetObjectItem(imp, "inputs"))
    {
        if (strcmp(cJSON_GetObjectItem(it, "name")->valuestring, name) == 0) {
            return it;
        }
    }
    fail_msg("no importance for %s", name);
    return NULL;
}

static void check(int regression)
{
    const char *path = write_rows(regression);
    struct model *m = train(path), *m2 = NULL;
    unsigned char *blob = NULL;
    size_t len = 0;
    cJSON *card = model_card(m), *card2, *imp;
    const cJSON *sig, *noise;

    unlink(path);
    imp = cJSON_GetObjectItem(card, "importance");
    assert_true(cJSON_IsObject(imp));
    assert_string_equal(cJSON_GetObjectItem(imp, "metric")->valuestring,
                        regression ? "rmse" : "accuracy");
    assert_int_equal(cJSON_GetObjectItem(imp, "shuffles")->valueint, 5);
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(imp, "inputs")), 2);
    sig = entry(imp, "signal");
    noise = entry(imp, "noise");
    /* largest first */
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(imp, "inputs"), 0), "name")
            ->valuestring,
        "signal");
    if (regression) {
        assert_true(cJSON_GetObjectItem(sig, "mean")->valuedouble > 0.5); /* RMSE rises */
    } else {
        assert_true(cJSON_GetObjectItem(sig, "mean")->valuedouble > 0.25); /* accuracy drops */
    }
    assert_true(fabs(cJSON_GetObjectItem(noise, "mean")->valuedouble) <
                0.2 * cJSON_GetObjectItem(sig, "mean")->valuedouble);
    assert_true(cJSON_GetObjectItem(sig, "sd")->valuedouble > 0.0);
    /* kept by save/load */
    assert_int_equal(model_save(m, &blob, &len, NULL), 0);
    assert_int_equal(model_load(blob, len, &m2, NULL), 0);
    card2 = model_card(m2);
    assert_true(cJSON_Compare(imp, cJSON_GetObjectItem(card2, "importance"), 1));
    cJSON_Delete(card);
    cJSON_Delete(card2);
    nn_free(blob);
    model_free(m);
    model_free(m2);
}

static void test_classification(void **state)
{
    (void)state;
    check(0);
}

static void test_regression(void **state)
{
    (void)state;
    check(1);
}

static void test_import_has_none(void **state)
{
    cJSON *doc = cJSON_Parse(
        "{\"task\": \"regression\", \"inputs\": [{\"name\": \"x\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\"}, \"layers\": [{\"weights\": [[2]], \"bias\": [1],"
        " \"activation\": \"identity\"}]}");
    struct model *m = NULL;
    cJSON *card;

    (void)state;
    assert_int_equal(model_import(doc, &m, NULL), 0);
    card = model_card(m);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(card, "importance")));
    cJSON_Delete(card);
    cJSON_Delete(doc);
    model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classification),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_import_has_none),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
