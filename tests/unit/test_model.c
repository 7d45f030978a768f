/*
 * test_model: a whole model — trained from a CSV file, saved, loaded, exported, imported.
 *
 * What: API.md's hand-written one-neuron model predicts 0.9933; train -> save -> load gives
 * identical predictions and a blob that saves back to the same bytes; every truncation and
 * 1,000 random byte flips of a valid blob are rejected with an error (run under ASan in CI);
 * export -> import predicts the same; same seed = bit-identical weights, another seed
 * differs; bad parameters name the parameter; the quality gate refuses a model that cannot
 * tell the classes apart; the numeric fast path (model_predict_num, the server's) gives
 * the same bits as the JSON path, NaN meaning missing, and refuses a model with a text input.
 * Why: the blob is what the daemon stores and loads from strangers' uploads; the JSON is
 * what users hand-write; determinism is a promise of the API.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cJSON.h>
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/model.h"
#include "model/model_priv.h"
#include "nn/alloc.h"
#include "nn/rng.h"

static const char one_neuron[] =
    "{\"task\": \"classification\", \"inputs\": [{\"name\": \"caps\", \"type\": \"numeric\", "
    "\"scale\": false}, {\"name\": \"viagra\", \"type\": \"numeric\", \"scale\": false}],"
    " \"label\": {\"name\": \"spam\", \"classes\": [\"ham\", \"spam\"]},"
    " \"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}";

static struct model *import_text(const char *text, struct nn_err *err)
{
    cJSON *doc = cJSON_Parse(text);
    struct model *m = NULL;

    assert_non_null(doc);
    model_import(doc, &m, err);
    cJSON_Delete(doc);
    return m;
}

static void test_one_neuron(void **state)
{
    struct nn_err err;
    struct model *m;
    cJSON *inst;
    float out[2];

    (void)state;
    m = import_text(one_neuron, &err);
    assert_non_null(m);
    assert_int_equal(model_task(m), NN_TASK_BINARY);
    assert_string_equal(model_class(m, 1), "spam");
    inst = cJSON_Parse("{\"caps\": 1, \"viagra\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), 0);
    assert_float_equal(out[1], 0.9933, 5e-5);
    assert_float_equal(out[0] + out[1], 1.0, 1e-6);
    cJSON_Delete(inst);
    /* arrays in input order give the same */
    inst = cJSON_Parse("[1, 0]");
    assert_int_equal(model_predict_json(m, inst, out, &err), 0);
    assert_float_equal(out[1], 0.9933071, 1e-5);
    cJSON_Delete(inst);
    /* an unknown input is named */
    inst = cJSON_Parse("{\"caps\": 1, \"viagar\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), NN_EINVAL);
    assert_string_equal(err.field, "viagar");
    cJSON_Delete(inst);
    /* a string in a numeric input is named */
    inst = cJSON_Parse("{\"caps\": \"lots\", \"viagra\": 0}");
    assert_int_equal(model_predict_json(m, inst, out, &err), NN_EINVAL);
    assert_string_equal(err.field, "caps");
    cJSON_Delete(inst);
    model_free(m);
}

static void test_import_errors(void **state)
{
    struct nn_err err;

    (void)state;
    /* wrong number of weights for the inputs */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[7, 3]], \"bias\": [-2], \"activation\": \"sigmoid\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].weights[0]");
    /* a non-number weight */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[\"x\"]], \"bias\": [0], \"activation\": \"sigmoid\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].weights[0][0]");
    /* an unknown activation */
    assert_null(import_text(
        "{\"task\": \"classification\", \"inputs\": [{\"name\": \"a\", \"type\": \"numeric\"}],"
        " \"label\": {\"name\": \"y\", \"classes\": [\"0\", \"1\"]},"
        " \"layers\": [{\"weights\": [[1]], \"bias\": [0], \"activation\": \"swish\"}]}",
        &err));
    assert_string_equal(err.field, "layers[0].activation");
    /* no layers */
    assert_null(import_text("{\"task\": \"regression\", \"inputs\": []}", &err));
    assert_string_equal(err.field, "layers");
}

/* Trains iris with small settings; the shared fixture of the blob tests. */
static struct model *train_iris(unsigned long long seed, const char *hidden)
{
    struct model_params p;
    struct model_limits lim;
    struct model *m = NULL;
    struct nn_err err;
    char s[32];

    model_params_default(&p);
    model_limits_default(&lim);
    snprintf(s, sizeof(s), "%llu", seed);
    assert_int_equal(model_params_set(&p, "seed", s, &err), 0);
    assert_int_equal(model_params_set(&p, "hidden", hidden, &err), 0);
    assert_int_equal(model_params_set(&p, "epochs", "40", &err), 0);
    if (model_train_csv("tests/data/iris_train.csv", &p, &lim, NULL, NULL, NULL, &m, &err) != 0) {
        fail_msg("training iris failed: %s", err.msg);
    }
    model_params_fini(&p);
    return m;
}

static void test_blob_round_trip(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    unsigned char *blob = NULL, *blob2 = NULL;
    size_t len, len2;
    struct nn_err err;
    FILE *in, *o1, *o2;
    char *t1 = NULL, *t2 = NULL;
    size_t n1 = 0, n2 = 0;

    (void)state;
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_int_equal(model_save(m2, &blob2, &len2, &err), 0);
    assert_int_equal(len, len2);
    assert_memory_equal(blob, blob2, len);
    /* predictions of the test file are identical, byte for byte */
    o1 = open_memstream(&t1, &n1);
    o2 = open_memstream(&t2, &n2);
    in = fopen("tests/data/iris_test.csv", "rb");
    assert_int_equal(model_predict_csv(m, in, o1, ',', 0, NULL, &err), 0);
    rewind(in);
    assert_int_equal(model_predict_csv(m2, in, o2, ',', 0, NULL, &err), 0);
    fclose(in);
    fclose(o1);
    fclose(o2);
    assert_int_equal(n1, n2);
    assert_true(n1 > 100);
    assert_memory_equal(t1, t2, n1);
    assert_non_null(strstr(t1, "prediction,p_setosa,p_versicolor,p_virginica"));
    free(t1);
    free(t2);
    nn_free(blob);
    nn_free(blob2);
    model_free(m);
    model_free(m2);
}

static void test_blob_hostile(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    unsigned char *blob = NULL, *copy;
    struct nn_rng rng;
    struct nn_err err;
    size_t len, i;
    int flips;

    (void)state;
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    copy = nn_malloc(len);
    /* every truncation */
    for (i = 0; i < len; i++) {
        memcpy(copy, blob, i);
        m2 = (struct model *)1;
        assert_true(model_load(copy, i, &m2, &err) < 0);
        assert_null(m2);
        assert_true(strlen(err.msg) > 0);
    }
    /* 1,000 random byte flips: every one rejected (the checksum), none crashes */
    nn_rng_seed(&rng, 7);
    for (flips = 0; flips < 1000; flips++) {
        size_t at = (size_t)nn_rng_below(&rng, len);
        unsigned char x = (unsigned char)(1 + nn_rng_below(&rng, 255));

        memcpy(copy, blob, len);
        copy[at] ^= x;
        assert_true(model_load(copy, len, &m2, &err) < 0);
        assert_null(m2);
    }
    nn_free(copy);
    nn_free(blob);
    model_free(m);
}

static void test_export_import(void **state)
{
    struct model *m = train_iris(42, "8"), *m2 = NULL;
    struct nn_err err;
    cJSON *doc, *inst;
    char *text;
    float a[3], b[3];

    (void)state;
    doc = model_export(m);
    assert_non_null(doc);
    text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    doc = cJSON_Parse(text);
    cJSON_free(text);
    assert_int_equal(model_import(doc, &m2, &err), 0);
    cJSON_Delete(doc);
    inst =
        cJSON_Parse("{\"sepal_length_cm\": 6.7, \"sepal_width_cm\": 3.0, \"petal_length_cm\": 5.2, "
                    "\"petal_width_cm\": 2.3}");
    assert_int_equal(model_predict_json(m, inst, a, &err), 0);
    assert_int_equal(model_predict_json(m2, inst, b, &err), 0);
    assert_memory_equal(a, b, sizeof(a));
    assert_true(b[2] > 0.5f); /* virginica */
    cJSON_Delete(inst);
    model_free(m);
    model_free(m2);
}

static void test_determinism(void **state)
{
    struct model *a = train_iris(42, "16"), *b = train_iris(42, "16"), *c = train_iris(43, "16");

    (void)state;
    assert_int_equal(a->net->n_params, b->net->n_params);
    assert_memory_equal(a->net->params, b->net->params, a->net->n_params * sizeof(float));
    assert_memory_not_equal(a->net->params, c->net->params, a->net->n_params * sizeof(float));
    model_free(a);
    model_free(b);
    model_free(c);
}

static void test_params(void **state)
{
    struct model_params p;
    struct nn_err err;

    (void)state;
    model_params_default(&p);
    assert_int_equal(p.n_hidden, 1);
    assert_int_equal(p.hidden[0], 64);
    assert_int_equal(p.train.epochs, 300);
    assert_int_equal(p.train.patience, 20);
    assert_true(p.train.l2 < 0); /* not given: chosen on the data */
    assert_int_equal(model_params_set(&p, "l2", "0", &err), 0);
    assert_true(p.train.l2 == 0.0f);
    assert_int_equal(model_params_set(&p, "hidden", "16,32", &err), 0);
    assert_int_equal(p.n_hidden, 2);
    assert_int_equal(p.hidden[1], 32);
    assert_int_equal(p.hidden[0], 16);
    assert_int_equal(model_params_set(&p, "hidden", "", &err), 0);
    assert_int_equal(p.n_hidden, 0);
    assert_int_equal(model_params_set(&p, "hidden", "64,,2", &err), NN_EINVAL);
    assert_string_equal(err.field, "hidden");
    assert_int_equal(model_params_set(&p, "epochs", "0", &err), NN_EINVAL);
    assert_string_equal(err.field, "epochs");
    assert_int_equal(model_params_set(&p, "learning_rate", "abc", &err), NN_EINVAL);
    assert_int_equal(model_params_set(&p, "optimizer", "rmsprop", &err), NN_EINVAL);
    assert_int_equal(model_params_set(&p, "colour", "red", &err), NN_ENOTFOUND);
    assert_string_equal(err.field, "colour");
    assert_int_equal(model_params_set(&p, "delimiter", "tab", &err), 0);
    assert_int_equal(p.delimiter, '\t');
    model_params_fini(&p);
}

/* A label that the features cannot predict at all: the quality gate refuses the model. */
static void test_quality_gate(void **state)
{
    const char *path = "build/test_gate.csv";
    struct model_params p;
    struct model *m = NULL;
    struct nn_err err;
    FILE *f = fopen(path, "w");
    int i;

    (void)state;
    assert_non_null(f);
    fprintf(f, "x,label\n");
    for (i = 0; i < 200; i++) {
        fprintf(f, "1,%s\n", i % 3 == 0 ? "a" : "b"); /* constant feature */
    }
    fclose(f);
    model_params_default(&p);
    model_params_set(&p, "epochs", "5", &err);
    /* a constant column is ignored by default: no input is left */
    assert_int_equal(model_train_csv(path, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "no input columns"));
    /* named as an input, it gives the network nothing: the gate refuses the model */
    model_params_set(&p, "categorical_columns", "x", &err);
    assert_int_equal(model_train_csv(path, &p, NULL, NULL, NULL, NULL, &m, &err), NN_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "every validation row"));
    model_params_fini(&p);
    remove(path);
}

/* threshold= and target_fpr= set the decision threshold; it survives save and load. */
static void test_threshold(void **state)
{
    struct model_params p;
    struct model *m = NULL, *m2 = NULL;
    unsigned char *blob = NULL;
    const char *src = NULL;
    struct nn_err err;
    size_t len;
    double t;

    (void)state;
    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "target_fpr", "0.01", &err), 0);
    assert_int_equal(model_params_set(&p, "threshold", "1.5", &err), NN_EINVAL);
    assert_int_equal(
        model_train_csv("tests/data/breast_cancer_train.csv", &p, NULL, NULL, NULL, NULL, &m, &err),
        0);
    assert_int_equal(model_positive_class(m), 1); /* benign, malignant */
    t = model_threshold(m, &src);
    assert_string_equal(src, "target_fpr");
    assert_true(t > 0.0 && t <= 1.0);
    assert_int_equal(model_save(m, &blob, &len, &err), 0);
    assert_int_equal(model_load(blob, len, &m2, &err), 0);
    assert_true(model_threshold(m2, &src) == t);
    assert_string_equal(src, "target_fpr");
    nn_free(blob);
    model_free(m);
    model_free(m2);
    model_params_fini(&p);

    model_params_default(&p);
    assert_int_equal(model_params_set(&p, "threshold", "0.8", &err), 0);
    assert_int_equal(model_params_set(&p, "epochs", "5", &err), 0);
    assert_int_equal(
        model_train_csv("tests/data/breast_cancer_train.csv", &p, NULL, NULL, NULL, NULL, &m, &err),
        0);
    assert_true(model_threshold(m, &src) == 0.8);
    assert_string_equal(src, "threshold");
    model_free(m);
    model_params_fini(&p);
    /* the one-neuron model: spam is the positive class, default threshold */
    m = import_text(one_neuron, &err);
    assert_int_equal(model_positive_class(m), 1);
    assert_true(model_threshold(m, &src) == 0.5);
    assert_string_equal(src, "default");
    model_free(m);
}

/* The server's fast path and the JSON path must not disagree by one bit. */
static void test_predict_num(void **state)
{
    struct model *m = train_iris(42, "8");
    struct nn_err err;
    double x[3 * 4] = {6.7, 3.0, 5.2, 2.3, 5.1, 3.5, 1.4, 0.2, 5.9, 3.0, NAN, 1.8};
    float fast[9], slow[3];
    char text[200];

    (void)state;
    assert_int_equal(model_predict_num(m, x, 3, fast, &err), 0);
    for (int row = 0; row < 3; row++) {
        const double *v = x + 4 * row;
        if (isnan(v[2])) {
            snprintf(text, sizeof(text), "[%.17g, %.17g, null, %.17g]", v[0], v[1], v[3]);
        } else {
            snprintf(text, sizeof(text), "[%.17g, %.17g, %.17g, %.17g]", v[0], v[1], v[2], v[3]);
        }
        cJSON *inst = cJSON_Parse(text);
        assert_non_null(inst);
        assert_int_equal(model_predict_json(m, inst, slow, &err), 0);
        assert_memory_equal(fast + 3 * row, slow, sizeof(slow));
        cJSON_Delete(inst);
    }
    assert_true(fast[2] > 0.5f); /* virginica */
    assert_true(fast[3] > 0.5f); /* setosa */
    model_free(m);
    /* a model with a text input is not for this path */
    struct model_params p;
    struct model_limits lim;
    model_params_default(&p);
    model_limits_default(&lim);
    assert_int_equal(model_params_set(&p, "epochs", "2", &err), 0);
    char path[] = "/tmp/neurond-test-num-text-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs("n,words,label\n", f);
    for (int i = 0; i < 40; i++) {
        fprintf(f, "%d,%s,%s\n", i, i % 2 ? "cheap pills now" : "meeting at noon",
                i % 2 ? "a" : "b");
    }
    fclose(f);
    assert_int_equal(model_params_set(&p, "text_columns", "words", &err), 0);
    m = NULL;
    int trained = model_train_csv(path, &p, &lim, NULL, NULL, NULL, &m, &err);
    unlink(path);
    if (trained != 0) {
        fail_msg("training the text model failed: %s", err.msg);
    }
    double y[2] = {1, 2};
    nn_err_clear(&err);
    assert_int_equal(model_predict_num(m, y, 1, fast, &err), NN_EINVAL);
    assert_string_equal(err.field, "words");
    model_free(m);
    model_params_fini(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_neuron),   cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_params),       cmocka_unit_test(test_blob_round_trip),
        cmocka_unit_test(test_blob_hostile), cmocka_unit_test(test_export_import),
        cmocka_unit_test(test_determinism),  cmocka_unit_test(test_quality_gate),
        cmocka_unit_test(test_threshold),    cmocka_unit_test(test_predict_num),
    };

    openblas_set_num_threads(1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
